/* fuzz_api_decode.c - every protocol decoder (chat and embeddings) over the same bytes.
 *
 * For each decoder: a rejected body must produce an error body that is valid JSON with a 4xx
 * or 5xx status; an accepted one is dumped, then answered through its protocol's encoder (as a
 * body and as a stream) with events that echo the request's text, and every body produced must
 * be valid JSON.  A violation aborts, which libFuzzer reports as a crash.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osr/api.h"
#include "osr/api_anthropic.h"
#include "osr/api_embed.h"
#include "osr/api_ollama.h"
#include "osr/api_openai_chat.h"
#include "osr/api_openai_completions.h"
#include "osr/api_responses.h"
#include "osr/json.h"

typedef int (*decode_fn)(struct osr_chat_request *, const char *, size_t, struct osr_api_error *);

static void must_be_json(const struct osr_buf *b, const char *what)
{
    struct json_object *o = NULL;
    if (osr_json_parse(b->data ? b->data : "", b->len, &o, NULL) != OSR_OK) {
        fprintf(stderr, "%s is not valid JSON: %s\n", what, osr_buf_str(b));
        abort();
    }
    json_object_put(o);
}

static void make_id(void *ctx, const char *prefix, char *out, size_t cap)
{
    int *n = ctx;
    snprintf(out, cap, "%s%d", prefix, ++*n);
}

/* Answers req with events built from its own text, so odd bytes reach the encoders. */
static void answer(enum osr_api_proto proto, const struct osr_chat_request *req, bool stream)
{
    int ids = 0;
    struct osr_api_encode_opts o = {.model = req->model,
                                    .stream = stream,
                                    .include_usage = true,
                                    .now_ms = 1,
                                    .make_id = make_id,
                                    .id_ctx = &ids,
                                    .req = req,
                                    .max_text = 1 << 20};
    struct osr_api_encoder *enc = osr_api_encoder_new(proto, &o);
    struct osr_buf out;
    osr_buf_init(&out, 8u << 20);
    struct osr_event ev = {.kind = OSR_EV_ROLE};
    osr_api_encoder_event(enc, &ev, &out);
    for (size_t i = 0; i < req->n_messages && i < 8; i++) {
        const struct osr_message *m = &req->messages[i];
        for (size_t j = 0; j < m->n_parts && j < 4; j++) {
            const struct osr_part *p = &m->parts[j];
            memset(&ev, 0, sizeof(ev));
            if (p->kind == OSR_PART_TOOL_CALL) {
                ev.kind = OSR_EV_TOOL_CALL_START;
                ev.index = (int)(i * 4 + j);
                ev.id = osr_str_cstr(p->call.id);
                ev.name = osr_str_cstr(p->call.name);
                osr_api_encoder_event(enc, &ev, &out);
                ev.kind = OSR_EV_TOOL_CALL_ARGS_DELTA;
                ev.text = p->call.arguments;
            } else {
                /* The text's bytes as a token (odd bytes, partial characters), its halves and
                 * a -inf as alternatives. */
                struct osr_logprobs lp = {0};
                lp.chosen.token = p->text;
                lp.chosen.logprob = -0.5;
                lp.top[0] = lp.chosen;
                lp.top[1].token = osr_str_make(p->text.p, p->text.n / 2);
                lp.top[1].logprob = -INFINITY;
                lp.n_top = 2;
                ev.kind = OSR_EV_LOGPROBS;
                ev.logprobs = &lp;
                osr_api_encoder_event(enc, &ev, &out);
                memset(&ev, 0, sizeof(ev));
                ev.kind =
                    p->kind == OSR_PART_REASONING ? OSR_EV_REASONING_DELTA : OSR_EV_TEXT_DELTA;
                ev.text = p->text;
            }
            osr_api_encoder_event(enc, &ev, &out);
        }
    }
    memset(&ev, 0, sizeof(ev));
    ev.kind = OSR_EV_FINISH;
    ev.finish = req->sampling.n_stop ? OSR_FINISH_STOP_SEQUENCE : OSR_FINISH_LENGTH;
    ev.text = osr_str_cstr(req->sampling.n_stop ? req->sampling.stop[0] : "");
    osr_api_encoder_event(enc, &ev, &out);
    if (osr_api_encoder_end(enc, &out) == OSR_OK && !stream)
        must_be_json(&out, "encoded body");
    osr_buf_release(&out);
    osr_api_encoder_free(enc);
}

/* The embedding decoders, answered with a small vector per input. */
static void embed(const uint8_t *data, size_t size)
{
    static const float vec[3] = {0.25f, -1.0f, 3.5f};
    for (int api = OSR_EMBED_OPENAI; api <= OSR_EMBED_OLLAMA_LEGACY; api++) {
        struct osr_embed_request req;
        struct osr_api_error err = {0};
        struct osr_buf out;
        osr_embed_request_init(&req);
        osr_buf_init(&out, 16u << 20);
        if (osr_embed_decode((enum osr_embed_api)api, &req, (const char *)data, size, &err)) {
            if (osr_api_error_body(osr_embed_error_proto((enum osr_embed_api)api), &err, &out) ==
                OSR_OK)
                must_be_json(&out, "embedding error body");
        } else if (req.n_inputs <= 64) {
            float vectors[64 * 3];
            for (size_t i = 0; i < req.n_inputs; i++)
                memcpy(vectors + 3 * i, vec, sizeof(vec));
            if (osr_embed_encode(&req, vectors, req.n_inputs, 3, 1, NULL, &out) == OSR_OK)
                must_be_json(&out, "embedding body");
        }
        osr_buf_release(&out);
        osr_embed_request_release(&req);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct {
        enum osr_api_proto proto;
        decode_fn decode;
    } decoders[] = {
        {OSR_API_OPENAI_CHAT, osr_openai_chat_decode},
        {OSR_API_ANTHROPIC, osr_anthropic_decode},
        {OSR_API_ANTHROPIC, osr_anthropic_decode_count_tokens},
        {OSR_API_RESPONSES, osr_responses_decode},
        {OSR_API_OLLAMA_CHAT, osr_ollama_chat_decode},
        {OSR_API_OLLAMA_GENERATE, osr_ollama_generate_decode},
        {OSR_API_OPENAI_COMPLETIONS, osr_openai_completions_decode},
    };
    for (size_t k = 0; k < sizeof(decoders) / sizeof(decoders[0]); k++) {
        struct osr_chat_request req;
        struct osr_api_error err = {0};
        struct osr_buf out;
        osr_chat_request_init(&req, 16u << 20);
        osr_buf_init(&out, 16u << 20);
        int rc = decoders[k].decode(&req, (const char *)data, size, &err);
        if (rc) {
            if (err.status < 400 || err.status > 599)
                abort();
            if (osr_api_error_body(decoders[k].proto, &err, &out) == OSR_OK)
                must_be_json(&out, "error body");
        } else {
            if (!req.model)
                abort();
            if (osr_chat_request_dump(&req, &out) == OSR_OK)
                must_be_json(&out, "request dump");
            answer(decoders[k].proto, &req, false);
            answer(decoders[k].proto, &req, true);
        }
        osr_buf_release(&out);
        osr_chat_request_release(&req);
    }
    embed(data, size);
    return 0;
}
