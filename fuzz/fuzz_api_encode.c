/* fuzz_api_encode.c - every protocol encoder over an arbitrary sequence of events.
 *
 * The input is a little program: each step takes one byte for the event kind and then, as
 * needed, a byte for a tool index or finish reason and a length-prefixed slice of the input as
 * the event's text.  Producers are supposed to follow the order documented in chat.h; this
 * target checks that an encoder stays well-formed even when they do not.  Every body must be
 * valid JSON, every SSE "data:" payload (but "[DONE]") and every NDJSON line too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osr/api.h"
#include "osr/json.h"

static void must_be_json(const char *p, size_t n, const char *what)
{
    struct json_object *o = NULL;
    if (osr_json_parse(p, n, &o, NULL) != OSR_OK) {
        fprintf(stderr, "%s is not valid JSON: %.*s\n", what, (int)n, p);
        abort();
    }
    json_object_put(o);
}

/* Checks each line of a stream: SSE data payloads or NDJSON objects. */
static void check_stream(const struct osr_buf *b, bool ndjson)
{
    const char *p = b->data ? b->data : "";
    const char *end = p + b->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (ndjson && n)
            must_be_json(p, n, "NDJSON line");
        if (!ndjson && n > 6 && memcmp(p, "data: ", 6) == 0 &&
            !(n == 12 && memcmp(p + 6, "[DONE]", 6) == 0))
            must_be_json(p + 6, n - 6, "SSE data");
        p += n + 1;
    }
}

struct reader {
    const uint8_t *p;
    size_t n;
};

static uint8_t take(struct reader *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

static struct osr_str slice(struct reader *r)
{
    size_t len = take(r) % 24;
    if (len > r->n)
        len = r->n;
    struct osr_str s = osr_str_make((const char *)r->p, len);
    r->p += len;
    r->n -= len;
    return s;
}

static void run(enum osr_api_proto proto, bool stream, const uint8_t *data, size_t size)
{
    struct osr_api_encode_opts o = {
        .model = "m", .stream = stream, .include_usage = true, .now_ms = 1, .max_text = 1 << 16};
    struct osr_api_encoder *enc = osr_api_encoder_new(proto, &o);
    struct osr_buf out;
    osr_buf_init(&out, 8u << 20);
    struct reader r = {data, size};
    while (r.n) {
        struct osr_event ev = {0};
        uint8_t op = take(&r);
        ev.kind = (enum osr_event_kind)(op % 13);
        switch (ev.kind) {
        case OSR_EV_TOOL_CALL_START:
            ev.index = take(&r) % 4;
            ev.id = slice(&r);
            ev.name = slice(&r);
            break;
        case OSR_EV_TOOL_CALL_ARGS_DELTA:
            ev.index = take(&r) % 4;
            ev.text = slice(&r);
            break;
        case OSR_EV_FINISH:
            ev.finish = (enum osr_finish)(take(&r) % 6);
            ev.text = slice(&r);
            break;
        case OSR_EV_USAGE:
            ev.usage = osr_usage_unknown();
            ev.usage.prompt_tokens = take(&r) - 1;
            ev.usage.completion_tokens = take(&r) - 1;
            break;
        case OSR_EV_ERROR:
            ev.status = 400 + take(&r) % 200;
            ev.text = slice(&r);
            break;
        default:
            ev.text = slice(&r);
            break;
        }
        if (osr_api_encoder_event(enc, &ev, &out) != OSR_OK)
            break;
    }
    if (osr_api_encoder_end(enc, &out) == OSR_OK) {
        if (!stream)
            must_be_json(out.data ? out.data : "", out.len, "body");
        else
            check_stream(&out, proto == OSR_API_OLLAMA_CHAT || proto == OSR_API_OLLAMA_GENERATE);
        int status = osr_api_encoder_status(enc);
        if (status < 200 || status > 599)
            abort();
    }
    osr_buf_release(&out);
    osr_api_encoder_free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int proto = OSR_API_OPENAI_CHAT; proto <= OSR_API_OPENAI_COMPLETIONS; proto++) {
        run((enum osr_api_proto)proto, false, data, size);
        run((enum osr_api_proto)proto, true, data, size);
    }
    return 0;
}
