/* buf.c - the capped growable buffer.
 *
 * Growth doubles from 64 bytes but never allocates past max + 1 bytes (the cap plus the NUL).
 * A failed append of any kind leaves the contents exactly as they were.  This module does not
 * know about encodings: bytes in, bytes out.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osr/alloc.h"
#include "osr/buf.h"
#include "osr/err.h"

void osr_buf_init(struct osr_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void osr_buf_release(struct osr_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void osr_buf_reset(struct osr_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static int reserve(struct osr_buf *b, size_t extra)
{
    if (b->len > b->max || extra > b->max - b->len)
        return OSR_ETOOBIG;
    /* len + extra <= max here, so need only overflows when max is SIZE_MAX. */
    size_t need;
    if (!osr_size_add(b->len + extra, 1, &need))
        return OSR_ETOOBIG;
    if (need <= b->cap)
        return OSR_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    /* Never allocate more than the cap allows (max + 1 for the NUL). */
    if (b->max < SIZE_MAX && cap > b->max + 1)
        cap = b->max + 1;
    char *p = realloc(b->data, cap);
    if (!p)
        return OSR_ENOMEM;
    b->data = p;
    b->cap = cap;
    return OSR_OK;
}

int osr_buf_append(struct osr_buf *b, const void *p, size_t n)
{
    int rc = reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return OSR_OK;
}

int osr_buf_puts(struct osr_buf *b, const char *s)
{
    return osr_buf_append(b, s, strlen(s));
}

int osr_buf_putc(struct osr_buf *b, char c)
{
    return osr_buf_append(b, &c, 1);
}

int osr_buf_vappendf(struct osr_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return OSR_EINVAL;
    if ((size_t)n < sizeof(small))
        return osr_buf_append(b, small, (size_t)n);
    int rc = reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return OSR_OK;
}

int osr_buf_appendf(struct osr_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = osr_buf_vappendf(b, fmt, ap);
    va_end(ap);
    return rc;
}

const char *osr_buf_str(const struct osr_buf *b)
{
    return b->data ? b->data : "";
}

char *osr_buf_detach(struct osr_buf *b, size_t *len)
{
    char *p = b->data ? b->data : osr_xstrdup("");
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
