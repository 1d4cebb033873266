/* sse.h - incremental parsers for the two streaming formats upstream model servers speak:
 * Server-Sent Events (text/event-stream) and newline-delimited JSON (application/x-ndjson).
 *
 * Both are fed arbitrary slices of the byte stream as they arrive (a network read may end in
 * the middle of a line, or of a CRLF) and call back once per complete event or line.  Every
 * buffer has a cap: a line or an event larger than max_event bytes stops the parser with
 * OSR_ETOOBIG, so a hostile upstream cannot grow memory without bound.
 *
 * SSE follows the WHATWG rules that matter to API streams: lines end in LF, CR or CRLF; a
 * blank line dispatches the event; "data" lines are joined with LF; a leading space after the
 * colon is dropped; lines starting with ':' are comments; an event without data lines is not
 * dispatched; "retry" is ignored; a trailing event without its blank line at end of stream is
 * dropped (osr_sse_finish reports whether one was pending).
 *
 * Thread rules: a parser belongs to one thread.  Callback views are valid during the call only.
 */
#ifndef OSR_SSE_H
#define OSR_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "osr/buf.h"
#include "osr/str.h"

#define OSR_SSE_DEFAULT_MAX ((size_t)16 * 1024 * 1024)

struct osr_sse_event {
    struct osr_str event; /* the "event" field, or "" (the spec's default type "message") */
    struct osr_str data;  /* data lines joined with '\n', NUL-terminated */
    struct osr_str id;    /* the "id" field, or "" */
};

/* Returns 0 to go on, anything else to stop the parser (osr_sse_feed returns that value). */
typedef int (*osr_sse_fn)(void *ctx, const struct osr_sse_event *ev);

struct osr_sse_parser {
    struct osr_buf line;  /* the line being read */
    struct osr_buf event; /* current event name */
    struct osr_buf data;  /* current data */
    struct osr_buf id;
    bool has_data;
    bool after_cr; /* the previous byte was a CR: a following LF belongs to it */
    bool pending;  /* fields seen since the last dispatch */
    int stopped;   /* first non-zero result: every later feed returns it */
    osr_sse_fn fn;
    void *ctx;
};

/* Initializes p; lines and events may hold at most max_event bytes (0: OSR_SSE_DEFAULT_MAX). */
void osr_sse_init(struct osr_sse_parser *p, size_t max_event, osr_sse_fn fn, void *ctx);
/* Feeds n bytes.  Returns OSR_OK, OSR_ETOOBIG, or the callback's non-zero result. */
int osr_sse_feed(struct osr_sse_parser *p, const char *data, size_t n);
/* Ends the stream.  Returns true when an incomplete event (no blank line yet) was dropped. */
bool osr_sse_finish(struct osr_sse_parser *p);
void osr_sse_release(struct osr_sse_parser *p);

/* ---------------------------------------------------------------- NDJSON */

/* Called once per non-blank line (without its line end; surrounding whitespace trimmed, and
 * the view NUL-terminated).  Returns 0 to go on. */
typedef int (*osr_ndjson_fn)(void *ctx, const char *line, size_t n);

struct osr_ndjson_parser {
    struct osr_buf line;
    int stopped;
    osr_ndjson_fn fn;
    void *ctx;
};

void osr_ndjson_init(struct osr_ndjson_parser *p, size_t max_line, osr_ndjson_fn fn, void *ctx);
int osr_ndjson_feed(struct osr_ndjson_parser *p, const char *data, size_t n);
/* Ends the stream: a last line without '\n' is still delivered.  Returns what feed would. */
int osr_ndjson_finish(struct osr_ndjson_parser *p);
void osr_ndjson_release(struct osr_ndjson_parser *p);

#endif
