/* buf.h - a growable byte buffer with a hard cap.
 *
 * Modelled on curl's dynbuf: every buffer is created with the largest size it may ever grow
 * to, and an append that would pass it fails with OSR_ETOOBIG and leaves the buffer as it was.
 * The contents are always NUL-terminated (the NUL is not counted in len and does not count
 * against the cap).
 *
 * Thread rules: a buffer belongs to one thread.
 */
#ifndef OSR_BUF_H
#define OSR_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct osr_buf {
    char *data; /* NUL-terminated when non-NULL; NULL until the first append */
    size_t len;
    size_t cap; /* bytes allocated, including room for the NUL */
    size_t max; /* hard cap on len */
};

/* Initializes an empty buffer that may hold at most max bytes. */
void osr_buf_init(struct osr_buf *b, size_t max);

/* Frees the contents; the buffer may be initialized again. */
void osr_buf_release(struct osr_buf *b);

/* Empties the buffer but keeps its allocation. */
void osr_buf_reset(struct osr_buf *b);

/* Appends n bytes.  Returns OSR_OK, or OSR_ETOOBIG when len + n > max (nothing appended). */
int osr_buf_append(struct osr_buf *b, const void *p, size_t n);
int osr_buf_puts(struct osr_buf *b, const char *s);
int osr_buf_putc(struct osr_buf *b, char c);
int osr_buf_appendf(struct osr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int osr_buf_vappendf(struct osr_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Returns the contents (never NULL: "" for an empty buffer). */
const char *osr_buf_str(const struct osr_buf *b);

/* Takes the contents out: returns a NUL-terminated heap string the caller frees with free(),
 * stores its length in *len when len is non-NULL, and leaves the buffer empty. */
char *osr_buf_detach(struct osr_buf *b, size_t *len);

#endif
