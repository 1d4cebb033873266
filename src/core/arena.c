/* arena.c - block arena with a hard cap.
 *
 * Blocks start at 4 KiB and double up to 64 KiB; a request larger than a quarter of that gets a
 * block of its own, linked behind the current block so the rest of that block stays in use.
 * The cap counts the usable bytes of all blocks (not malloc's headers).  There is no free of a
 * single allocation: everything goes at osr_arena_release.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osr/alloc.h"
#include "osr/arena.h"

#define ARENA_ALIGN 16
#define ARENA_MIN_BLOCK 4096
#define ARENA_MAX_GROW (64 * 1024)
#define ARENA_LARGE (ARENA_MAX_GROW / 4) /* larger requests get a block of their own */

struct osr_arena_block {
    struct osr_arena_block *next;
    size_t size; /* usable bytes in data */
    size_t used;
    _Alignas(ARENA_ALIGN) unsigned char data[];
};

void osr_arena_init(struct osr_arena *a, size_t max)
{
    a->head = NULL;
    a->used = 0;
    a->max = max;
    a->total = 0;
}

void osr_arena_release(struct osr_arena *a)
{
    struct osr_arena_block *b = a->head;
    while (b) {
        struct osr_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->used = 0;
    a->total = 0;
}

/* Allocates a block with room for size bytes and links it in.  A block for one large
 * allocation goes behind the current head, so the space left in the head is not lost. */
static struct osr_arena_block *new_block(struct osr_arena *a, size_t size, int behind_head)
{
    size_t bytes;
    if (!osr_size_add(sizeof(struct osr_arena_block), size, &bytes))
        return NULL;
    struct osr_arena_block *b = malloc(bytes);
    if (!b)
        return NULL;
    b->size = size;
    b->used = 0;
    if (behind_head && a->head) {
        b->next = a->head->next;
        a->head->next = b;
    } else {
        b->next = a->head;
        a->head = b;
    }
    a->total += size;
    return b;
}

void *osr_arena_alloc(struct osr_arena *a, size_t n)
{
    if (n > SIZE_MAX - ARENA_ALIGN)
        return NULL;
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need == 0)
        need = ARENA_ALIGN;
    struct osr_arena_block *b = a->head;
    if (!b || b->size - b->used < need) {
        if (a->total > a->max || need > a->max - a->total)
            return NULL;
        if (need > ARENA_LARGE) {
            b = new_block(a, need, 1);
        } else {
            /* Grow geometrically while requests stay small, up to ARENA_MAX_GROW blocks. */
            size_t size = ARENA_MIN_BLOCK;
            if (b)
                size = b->size >= ARENA_MAX_GROW / 2 ? ARENA_MAX_GROW : b->size * 2;
            if (size > a->max - a->total)
                size = a->max - a->total; /* the last block fills up to the cap */
            if (size < need)
                size = need;
            b = new_block(a, size, 0);
        }
        if (!b)
            return NULL;
    }
    void *p = b->data + b->used;
    b->used += need;
    a->used += need;
    return p;
}

void *osr_arena_calloc(struct osr_arena *a, size_t count, size_t size)
{
    size_t n;
    if (!osr_size_mul(count, size, &n))
        return NULL;
    void *p = osr_arena_alloc(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

char *osr_arena_strndup(struct osr_arena *a, const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *p = osr_arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *osr_arena_strdup(struct osr_arena *a, const char *s)
{
    return osr_arena_strndup(a, s, strlen(s));
}

char *osr_arena_printf(struct osr_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = osr_arena_alloc(a, (size_t)n + 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}
