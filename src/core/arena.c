/* arena.c - block arena with a hard cap.  Blocks are at least 4 KiB; a large request gets a
 * block of its own so a big allocation does not waste the rest of a small block. */
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
        /* Grow geometrically while requests stay small, up to 64 KiB blocks. */
        size_t size = ARENA_MIN_BLOCK;
        if (b && b->size < ARENA_MAX_GROW)
            size = b->size * 2;
        if (size < need)
            size = need;
        if (size > a->max - a->total)
            size = need;
        b = malloc(sizeof(*b) + size);
        if (!b)
            return NULL;
        b->size = size;
        b->used = 0;
        b->next = a->head;
        a->head = b;
        a->total += size;
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
