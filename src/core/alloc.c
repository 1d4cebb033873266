/* alloc.c - allocation that aborts on out-of-memory, for small sizes we control. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osr/alloc.h"

static _Noreturn void oom(size_t n)
{
    fprintf(stderr, "osaurus: out of memory allocating %zu bytes\n", n);
    abort();
}

void *osr_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *osr_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        oom(count * size);
    return p;
}

void *osr_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *osr_xstrdup(const char *s)
{
    return osr_xstrndup(s, strlen(s));
}

char *osr_xstrndup(const char *s, size_t n)
{
    char *p = osr_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
