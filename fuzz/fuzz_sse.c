/* fuzz_sse.c - the SSE and NDJSON parsers on arbitrary bytes, fed in pieces whose sizes come
 * from the input itself.
 *
 * Invariants checked: every event's data and every line are NUL-terminated at their length
 * and within the cap; an NDJSON line holds no '\n' and no surrounding whitespace; feeding the
 * input whole or in pieces gives the same events. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osr/buf.h"
#include "osr/err.h"
#include "osr/sse.h"

#define CAP 4096

struct acc {
    struct osr_buf out;
};

static int on_event(void *ctx, const struct osr_sse_event *ev)
{
    struct acc *a = ctx;
    OSR_ASSERT(ev->data.p[ev->data.n] == '\0');
    OSR_ASSERT(ev->data.n <= CAP && ev->event.n <= 256 && ev->id.n <= 256);
    osr_buf_append(&a->out, ev->event.p, ev->event.n);
    osr_buf_putc(&a->out, 0);
    osr_buf_append(&a->out, ev->data.p, ev->data.n);
    osr_buf_putc(&a->out, 0);
    return 0;
}

static int on_line(void *ctx, const char *line, size_t n)
{
    struct acc *a = ctx;
    OSR_ASSERT(line[n] == '\0' && n > 0 && n <= CAP);
    OSR_ASSERT(memchr(line, '\n', n) == NULL);
    OSR_ASSERT(line[0] != ' ' && line[n - 1] != ' ');
    osr_buf_append(&a->out, line, n);
    osr_buf_putc(&a->out, 0);
    return 0;
}

static void run(const uint8_t *data, size_t size, bool pieces, struct acc *sse, struct acc *nd,
                int *rc_sse, int *rc_nd)
{
    struct osr_sse_parser p;
    struct osr_ndjson_parser q;
    osr_sse_init(&p, CAP, on_event, sse);
    osr_ndjson_init(&q, CAP, on_line, nd);
    size_t i = 0;
    *rc_sse = *rc_nd = OSR_OK;
    while (i < size) {
        size_t step = pieces ? (size_t)(1 + data[i] % 13) : size;
        if (step > size - i)
            step = size - i;
        int a = osr_sse_feed(&p, (const char *)data + i, step);
        int b = osr_ndjson_feed(&q, (const char *)data + i, step);
        if (a && !*rc_sse)
            *rc_sse = a;
        if (b && !*rc_nd)
            *rc_nd = b;
        i += step;
    }
    osr_sse_finish(&p);
    if (!*rc_nd)
        *rc_nd = osr_ndjson_finish(&q);
    osr_sse_release(&p);
    osr_ndjson_release(&q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct acc s1, n1, s2, n2;
    osr_buf_init(&s1.out, 1 << 22);
    osr_buf_init(&n1.out, 1 << 22);
    osr_buf_init(&s2.out, 1 << 22);
    osr_buf_init(&n2.out, 1 << 22);
    int a1, b1, a2, b2;
    run(data, size, false, &s1, &n1, &a1, &b1);
    run(data, size, true, &s2, &n2, &a2, &b2);
    OSR_ASSERT(a1 == a2 && b1 == b2);
    if (a1 == OSR_OK)
        OSR_ASSERT(s1.out.len == s2.out.len && memcmp(osr_buf_str(&s1.out), osr_buf_str(&s2.out),
                                                      s1.out.len) == 0);
    if (b1 == OSR_OK)
        OSR_ASSERT(n1.out.len == n2.out.len && memcmp(osr_buf_str(&n1.out), osr_buf_str(&n2.out),
                                                      n1.out.len) == 0);
    osr_buf_release(&s1.out);
    osr_buf_release(&n1.out);
    osr_buf_release(&s2.out);
    osr_buf_release(&n2.out);
    return 0;
}
