/* arena.h - a per-request memory arena.
 *
 * A request's temporary data lives here and is freed at once when the request ends (h2o's
 * memory pool).  Allocations are 16-byte aligned; the arena grows in blocks up to a hard cap,
 * past which an allocation returns NULL.
 *
 * Thread rules: an arena belongs to one thread.
 */
#ifndef OSR_ARENA_H
#define OSR_ARENA_H

#include <stddef.h>

struct osr_arena_block;

struct osr_arena {
    struct osr_arena_block *head;
    size_t used;  /* bytes handed out, all blocks */
    size_t max;   /* cap on the total size of all blocks */
    size_t total; /* bytes allocated in blocks */
};

void osr_arena_init(struct osr_arena *a, size_t max);
/* Frees every block; pointers handed out become invalid. */
void osr_arena_release(struct osr_arena *a);

/* Returns n bytes valid until osr_arena_release, or NULL when the cap would be passed. */
void *osr_arena_alloc(struct osr_arena *a, size_t n);
void *osr_arena_calloc(struct osr_arena *a, size_t count, size_t size);
/* Returns a NUL-terminated copy of the n bytes at s in the arena, or NULL past the cap. */
char *osr_arena_strndup(struct osr_arena *a, const char *s, size_t n);
char *osr_arena_strdup(struct osr_arena *a, const char *s);
char *osr_arena_printf(struct osr_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
