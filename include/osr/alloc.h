/* alloc.h - allocation helpers.
 *
 * Small allocations abort on out-of-memory (as redis' zmalloc and git's xmalloc do): there is
 * nothing useful to do when a few bytes cannot be had.  Allocations whose size comes from input
 * must use the checked size helpers first and the plain libc calls, handling NULL.
 *
 * Thread rules: all functions are thread-safe.
 */
#ifndef OSR_ALLOC_H
#define OSR_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

void *osr_xmalloc(size_t n);
void *osr_xcalloc(size_t count, size_t size);
void *osr_xrealloc(void *p, size_t n);
/* Returns a copy of s; the caller frees it with free(). */
char *osr_xstrdup(const char *s);
/* Returns a NUL-terminated copy of the n bytes at s; the caller frees it with free(). */
char *osr_xstrndup(const char *s, size_t n);

/* Returns true and stores a*b (or a+b) in *out when it does not overflow. */
static inline bool osr_size_mul(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

static inline bool osr_size_add(size_t a, size_t b, size_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

#endif
