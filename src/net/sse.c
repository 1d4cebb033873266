/* sse.c - incremental Server-Sent Events and NDJSON parsers (see sse.h).
 *
 * The parsers only split bytes into events and lines; they know nothing about JSON or about
 * which events a provider sends.  They never allocate past their caps and never read past the
 * slice they are fed.  They do no I/O.
 */
#include <string.h>

#include "osr/err.h"
#include "osr/sse.h"

void osr_sse_init(struct osr_sse_parser *p, size_t max_event, osr_sse_fn fn, void *ctx)
{
    memset(p, 0, sizeof(*p));
    if (max_event == 0)
        max_event = OSR_SSE_DEFAULT_MAX;
    osr_buf_init(&p->line, max_event);
    osr_buf_init(&p->event, 256);
    osr_buf_init(&p->data, max_event);
    osr_buf_init(&p->id, 256);
    p->fn = fn;
    p->ctx = ctx;
}

void osr_sse_release(struct osr_sse_parser *p)
{
    osr_buf_release(&p->line);
    osr_buf_release(&p->event);
    osr_buf_release(&p->data);
    osr_buf_release(&p->id);
}

static void reset_event(struct osr_sse_parser *p)
{
    osr_buf_reset(&p->event);
    osr_buf_reset(&p->data);
    p->has_data = false;
    p->pending = false;
}

static int dispatch(struct osr_sse_parser *p)
{
    int rc = 0;
    if (p->has_data) {
        struct osr_sse_event ev = {
            .event = osr_str_make(osr_buf_str(&p->event), p->event.len),
            .data = osr_str_make(osr_buf_str(&p->data), p->data.len),
            .id = osr_str_make(osr_buf_str(&p->id), p->id.len),
        };
        rc = p->fn(p->ctx, &ev);
    }
    reset_event(p); /* the last event id persists, as the spec says */
    return rc;
}

/* Handles one complete line (without its end). */
static int process_line(struct osr_sse_parser *p, const char *s, size_t n)
{
    if (n == 0)
        return dispatch(p);
    if (s[0] == ':')
        return 0; /* comment */
    const char *colon = memchr(s, ':', n);
    size_t name_len = colon ? (size_t)(colon - s) : n;
    const char *value = colon ? colon + 1 : s + n;
    size_t value_len = colon ? n - name_len - 1 : 0;
    if (value_len && value[0] == ' ') {
        value++;
        value_len--;
    }
    struct osr_str name = osr_str_make(s, name_len);
    int rc = OSR_OK;
    if (osr_str_eq_cstr(name, "data")) {
        if (p->has_data)
            rc = osr_buf_putc(&p->data, '\n');
        if (rc == OSR_OK)
            rc = osr_buf_append(&p->data, value, value_len);
        p->has_data = true;
        p->pending = true;
    } else if (osr_str_eq_cstr(name, "event")) {
        osr_buf_reset(&p->event);
        rc = osr_buf_append(&p->event, value, value_len);
        p->pending = true;
    } else if (osr_str_eq_cstr(name, "id")) {
        if (!memchr(value, '\0', value_len)) {
            osr_buf_reset(&p->id);
            rc = osr_buf_append(&p->id, value, value_len);
        }
    }
    return rc; /* "retry" and unknown fields are ignored */
}

int osr_sse_feed(struct osr_sse_parser *p, const char *data, size_t n)
{
    if (p->stopped)
        return p->stopped;
    size_t i = 0;
    while (i < n) {
        if (p->after_cr) {
            p->after_cr = false;
            if (data[i] == '\n') {
                i++;
                continue;
            }
        }
        /* Find the next line end in the slice. */
        size_t j = i;
        while (j < n && data[j] != '\n' && data[j] != '\r')
            j++;
        int rc;
        if (j == n) {
            rc = osr_buf_append(&p->line, data + i, n - i);
            if (rc) {
                p->stopped = rc;
                return rc;
            }
            break;
        }
        if (p->line.len) {
            rc = osr_buf_append(&p->line, data + i, j - i);
            if (rc == OSR_OK)
                rc = process_line(p, osr_buf_str(&p->line), p->line.len);
            osr_buf_reset(&p->line);
        } else {
            /* A whole line in this slice skips the copy, but not the cap. */
            rc = j - i > p->line.max ? OSR_ETOOBIG : process_line(p, data + i, j - i);
        }
        if (rc) {
            p->stopped = rc;
            return rc;
        }
        if (data[j] == '\r')
            p->after_cr = true;
        i = j + 1;
    }
    return OSR_OK;
}

bool osr_sse_finish(struct osr_sse_parser *p)
{
    bool dropped = p->pending || p->line.len > 0;
    osr_buf_reset(&p->line);
    reset_event(p);
    return dropped;
}

/* ---------------------------------------------------------------- NDJSON */

void osr_ndjson_init(struct osr_ndjson_parser *p, size_t max_line, osr_ndjson_fn fn, void *ctx)
{
    memset(p, 0, sizeof(*p));
    osr_buf_init(&p->line, max_line ? max_line : OSR_SSE_DEFAULT_MAX);
    p->fn = fn;
    p->ctx = ctx;
}

void osr_ndjson_release(struct osr_ndjson_parser *p)
{
    osr_buf_release(&p->line);
}

static int deliver(struct osr_ndjson_parser *p)
{
    struct osr_str t = osr_str_trim(osr_str_make(osr_buf_str(&p->line), p->line.len));
    int rc = 0;
    if (t.n) {
        /* t lies inside the buffer; terminate it in place. */
        ((char *)t.p)[t.n] = '\0';
        rc = p->fn(p->ctx, t.p, t.n);
    }
    osr_buf_reset(&p->line);
    return rc;
}

int osr_ndjson_feed(struct osr_ndjson_parser *p, const char *data, size_t n)
{
    if (p->stopped)
        return p->stopped;
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(data + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - data) : n;
        int rc = osr_buf_append(&p->line, data + i, end - i);
        if (rc == OSR_OK && nl)
            rc = deliver(p);
        if (rc) {
            p->stopped = rc;
            return rc;
        }
        i = end + (nl ? 1 : 0);
    }
    return OSR_OK;
}

int osr_ndjson_finish(struct osr_ndjson_parser *p)
{
    if (p->stopped)
        return p->stopped;
    int rc = deliver(p);
    if (rc)
        p->stopped = rc;
    return rc;
}
