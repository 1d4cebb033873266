/* fuzz_upstream.c - the upstream translators (OpenAI, Anthropic, Responses, Gemini, Ollama) on
 * arbitrary answers: the first byte picks the translator and whether the rest is a stream
 * (SSE or NDJSON) or one JSON body; a checking sink verifies the event grammar of chat.h.
 *
 * Invariants checked: ROLE comes first and once; tool-call indexes start at 0 and grow by one;
 * argument fragments name a call already started; nothing follows FINISH or ERROR; an ERROR
 * status is an HTTP error status; the stream always ends with exactly one FINISH or ERROR once
 * the translator is told the stream ended.  With client stop strings (picked by the first byte
 * too): no run of consecutive text deltas ever holds one, whatever the translator. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osr/err.h"
#include "osr/sse.h"
#include "providers/provider_internal.h"

static const char *const stops[] = {"lo", " w", "\\", "\xc3\xa9t"};
#define N_STOPS (sizeof(stops) / sizeof(stops[0]))

struct checker {
    struct osr_sink sink;
    bool role, ended;
    int calls;
    bool stopping;
    struct osr_buf run; /* the text since the last event of another kind */
};

static int check_emit(struct osr_sink *s, const struct osr_event *ev)
{
    struct checker *c = s->ctx;
    OSR_ASSERT(!c->ended);
    if (ev->kind == OSR_EV_ERROR) {
        OSR_ASSERT(ev->status >= 400 && ev->status <= 599);
        c->ended = true;
        return 0;
    }
    if (ev->kind == OSR_EV_ROLE) {
        OSR_ASSERT(!c->role);
        c->role = true;
        return 0;
    }
    OSR_ASSERT(c->role);
    if (ev->kind == OSR_EV_TEXT_DELTA) {
        if (osr_buf_append(&c->run, ev->text.p, ev->text.n) == OSR_OK && c->stopping)
            for (size_t i = 0; i < N_STOPS; i++)
                OSR_ASSERT(!memmem(c->run.data, c->run.len, stops[i], strlen(stops[i])));
    } else if (ev->kind != OSR_EV_USAGE) {
        osr_buf_reset(&c->run);
    }
    switch (ev->kind) {
    case OSR_EV_TOOL_CALL_START:
        OSR_ASSERT(ev->index == c->calls);
        c->calls++;
        break;
    case OSR_EV_TOOL_CALL_ARGS_DELTA:
        OSR_ASSERT(ev->index >= 0 && ev->index < c->calls && ev->text.n > 0);
        break;
    case OSR_EV_FINISH:
        c->ended = true;
        break;
    default:
        break;
    }
    return 0;
}

static const struct upstream_proto *const protos[] = {&osr_up_openai, &osr_up_anthropic,
                                                      &osr_up_responses, &osr_up_gemini,
                                                      &osr_up_ollama};

struct run {
    const struct upstream_proto *up;
    struct up_state st;
};

static int on_event(void *ctx, const struct osr_sse_event *ev)
{
    struct run *r = ctx;
    return r->up->on_event(&r->st, ev) || r->st.done;
}

static int on_line(void *ctx, const char *line, size_t n)
{
    struct run *r = ctx;
    return r->up->on_line(&r->st, line, n) || r->st.done;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct run r;
    r.up = protos[data[0] % 5];
    bool as_body = (data[0] / 5) % 2 == 1 && r.up->on_body;
    struct checker c = {.sink = {.emit = check_emit}};
    c.sink.ctx = &c;
    osr_buf_init(&c.run, 1u << 20);
    c.stopping = (data[0] / 10) % 2 == 1;
    up_state_init(&r.st, &c.sink, "fuzz");
    if (c.stopping)
        up_state_stops(&r.st, stops, N_STOPS);
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    if (as_body) {
        r.up->on_body(&r.st, p, n);
    } else if (r.up->ndjson) {
        struct osr_ndjson_parser q;
        osr_ndjson_init(&q, 1 << 16, on_line, &r);
        if (osr_ndjson_feed(&q, p, n) == OSR_OK)
            osr_ndjson_finish(&q);
        osr_ndjson_release(&q);
    } else {
        struct osr_sse_parser q;
        osr_sse_init(&q, 1 << 16, on_event, &r);
        osr_sse_feed(&q, p, n);
        osr_sse_finish(&q);
        osr_sse_release(&q);
    }
    /* The end of the stream, as provider.c handles it. */
    if (!r.st.done) {
        if (r.up->at_end)
            r.up->at_end(&r.st);
        else if (r.st.finish_seen)
            up_finish(&r.st);
        else
            up_error(&r.st, 502, "ended early");
    }
    OSR_ASSERT(c.ended);
    up_state_release(&r.st);
    osr_buf_release(&c.run);
    return 0;
}
