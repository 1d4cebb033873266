/* openai_completions.c - OpenAI legacy Completions: body -> canonical request, events -> SSE
 * chunks or the text_completion body.
 *
 * One prompt per request (a string, or a list holding one string); token-id prompts, n or
 * best_of above 1, echo and logprobs are refused with a 400 naming the field.  max_tokens
 * defaults to 16 as OpenAI documents.  Reasoning and tool-call events have no place in this
 * format and are left out; a finish for tool calls reads "stop".  No I/O here.
 */
#include <stdio.h>
#include <string.h>

#include "api_internal.h"
#include "osr/api_openai_completions.h"

#define P OSR_API_OPENAI_COMPLETIONS

/* ---------------------------------------------------------------- decoding */

static int decode_prompt(struct osr_chat_request *req, struct osr_api_error *err,
                         struct json_object *root)
{
    struct json_object *v = osr_api_field(root, "prompt");
    if (!v)
        return osr_api_fail(err, 400, "prompt", "missing required parameter: 'prompt'");
    if (json_object_is_type(v, json_type_array)) {
        if (json_object_array_length(v) != 1)
            return osr_api_fail(err, 400, "prompt",
                                "'prompt' must hold exactly one string: one prompt per request");
        v = json_object_array_get_idx(v, 0);
        if (v && (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_array)))
            return osr_api_fail(err, 400, "prompt",
                                "'prompt': token-id prompts are not supported; send text");
        if (!v || !json_object_is_type(v, json_type_string))
            return osr_api_fail(err, 400, "prompt[0]", "'prompt[0]' must be a string");
    } else if (!json_object_is_type(v, json_type_string)) {
        return osr_api_fail(err, 400, "prompt",
                            "'prompt' must be a string or an array of one "
                            "string");
    }
    struct osr_message *m = osr_chat_request_add_message(req, OSR_ROLE_USER);
    struct osr_part *p = m ? osr_chat_message_add_part(req, m, OSR_PART_TEXT) : NULL;
    if (!p)
        return osr_api_fail(err, 413, NULL, "request is too large");
    return osr_api_string_value(req, err, v, "prompt", &p->text);
}

int osr_openai_completions_decode(struct osr_chat_request *req, const char *body, size_t n,
                                  struct osr_api_error *err)
{
    struct json_object *root, *so = NULL, *lp;
    struct osr_sampling *s = &req->sampling;
    int64_t count = 1, best_of = 1;
    bool echo = false, has_max = false;
    int rc = osr_api_parse_body(req, body, n, &root, err);
    rc = rc ? rc : osr_api_get_str(req, err, root, "", "model", true, &req->model, NULL);
    if (!rc && !req->model[0])
        rc = osr_api_fail(err, 400, "model", "'model' must not be empty");
    rc = rc ? rc : decode_prompt(req, err, root);
    rc = rc ? rc : osr_api_get_str(req, err, root, "", "suffix", false, &req->x.suffix, NULL);
    rc = rc ? rc
            : osr_api_get_int(err, root, "", "max_tokens", 1, INT32_MAX, &s->max_tokens, &has_max);
    rc = rc ? rc : osr_api_get_double(err, root, "", "temperature", 0, 2, &s->temperature);
    rc = rc ? rc : osr_api_get_double(err, root, "", "top_p", 0, 1, &s->top_p);
    rc = rc ? rc
            : osr_api_get_double(err, root, "", "presence_penalty", -2, 2, &s->presence_penalty);
    rc = rc ? rc
            : osr_api_get_double(err, root, "", "frequency_penalty", -2, 2, &s->frequency_penalty);
    rc = rc ? rc
            : osr_api_get_int(err, root, "", "seed", INT64_MIN, INT64_MAX, &s->seed, &s->has_seed);
    rc = rc ? rc : osr_api_get_int(err, root, "", "n", 1, 128, &count, NULL);
    rc = rc ? rc : osr_api_get_int(err, root, "", "best_of", 1, 128, &best_of, NULL);
    rc = rc ? rc : osr_api_get_bool(err, root, "", "echo", &echo, NULL);
    rc = rc ? rc : osr_api_stop(req, err, osr_api_field(root, "stop"), "stop");
    rc = rc ? rc : osr_api_get_bool(err, root, "", "stream", &req->stream, NULL);
    rc = rc ? rc : osr_api_get_typed(err, root, "", "stream_options", json_type_object, false, &so);
    rc = rc ? rc
            : osr_api_get_bool(err, so, "stream_options", "include_usage", &req->include_usage,
                               NULL);
    rc = rc ? rc : osr_api_get_str(req, err, root, "", "user", false, &req->user, NULL);
    if (rc)
        return rc;
    if (count != 1)
        return osr_api_fail(err, 400, "n",
                            "'n' must be 1: only one choice per request is "
                            "supported");
    if (best_of != 1)
        return osr_api_fail(err, 400, "best_of", "'best_of' must be 1");
    if (echo)
        return osr_api_fail(err, 400, "echo", "'echo' is not supported");
    lp = osr_api_field(root, "logprobs");
    if (lp && !(json_object_is_type(lp, json_type_int) && json_object_get_int64(lp) == 0))
        return osr_api_fail(err, 400, "logprobs", "'logprobs' is not supported");
    if (!has_max)
        s->max_tokens = OSR_COMPLETIONS_DEFAULT_MAX_TOKENS;
    if (!req->stream)
        req->include_usage = false;
    req->x.raw = true;
    return OSR_OK;
}

/* ---------------------------------------------------------------- encoding */

static const char *finish_reason(const struct osr_api_encoder *enc)
{
    return enc->finish == OSR_FINISH_LENGTH ? "length" : "stop";
}

static int chunk_head(struct osr_api_encoder *enc, struct osr_buf *out)
{
    int rc = osr_buf_puts(out, "data: {\"id\":");
    rc = rc ? rc : osr_api_put_cstr(out, enc->id);
    rc = rc ? rc
            : osr_buf_appendf(out, ",\"object\":\"text_completion\",\"created\":%lld,\"model\":",
                              (long long)(enc->now_ms / 1000));
    return rc ? rc : osr_api_put_cstr(out, enc->model);
}

/* A chunk with one choice carrying text and, at the end, the finish reason. */
static int text_chunk(struct osr_api_encoder *enc, struct osr_buf *out, struct osr_str text,
                      const char *finish)
{
    int rc = chunk_head(enc, out);
    rc = rc ? rc : osr_buf_puts(out, ",\"choices\":[{\"text\":");
    rc = rc ? rc : osr_api_put_str(out, text.p, text.n);
    rc = rc ? rc : osr_buf_puts(out, ",\"index\":0,\"logprobs\":null,\"finish_reason\":");
    if (finish)
        rc = rc ? rc : osr_buf_appendf(out, "\"%s\"", finish);
    else
        rc = rc ? rc : osr_buf_puts(out, "null");
    return rc ? rc : osr_buf_puts(out, "}]}\n\n");
}

static int usage_object(struct osr_api_encoder *enc, struct osr_buf *out)
{
    int64_t p = osr_api_prompt_tokens(enc), c = osr_api_completion_tokens(enc);
    return osr_buf_appendf(out,
                           "{\"prompt_tokens\":%lld,\"completion_tokens\":%lld,\"total_tokens\":"
                           "%lld}",
                           (long long)p, (long long)c, (long long)(p + c));
}

static int stream_event(struct osr_api_encoder *enc, const struct osr_event *ev,
                        struct osr_buf *out)
{
    int rc;
    switch (ev->kind) {
    case OSR_EV_TEXT_DELTA:
        return ev->text.n ? text_chunk(enc, out, ev->text, NULL) : OSR_OK;
    case OSR_EV_FINISH:
        return text_chunk(enc, out, OSR_STR_LIT(""), finish_reason(enc));
    case OSR_EV_ERROR:
        rc = osr_buf_puts(out, "data: {\"error\":{\"message\":");
        rc = rc ? rc : osr_api_put_cstr(out, enc->error_msg);
        rc = rc ? rc : osr_buf_puts(out, ",\"type\":");
        rc = rc ? rc : osr_api_put_cstr(out, osr_api_error_type(P, enc->status));
        return rc ? rc : osr_buf_puts(out, ",\"param\":null,\"code\":null}}\n\n");
    default:
        return OSR_OK;
    }
}

static int stream_end(struct osr_api_encoder *enc, struct osr_buf *out)
{
    int rc = OSR_OK;
    if (!enc->failed && enc->include_usage) {
        rc = chunk_head(enc, out);
        rc = rc ? rc : osr_buf_puts(out, ",\"choices\":[],\"usage\":");
        rc = rc ? rc : usage_object(enc, out);
        rc = rc ? rc : osr_buf_puts(out, "}\n\n");
    }
    return rc ? rc : osr_buf_puts(out, "data: [DONE]\n\n");
}

static int body(struct osr_api_encoder *enc, struct osr_buf *out)
{
    if (enc->failed) {
        struct osr_api_error e = {0};
        osr_api_error_set(&e, enc->status, NULL, "%s", enc->error_msg);
        return osr_api_error_body(P, &e, out);
    }
    int rc = osr_buf_puts(out, "{\"id\":");
    rc = rc ? rc : osr_api_put_cstr(out, enc->id);
    rc = rc ? rc
            : osr_buf_appendf(out, ",\"object\":\"text_completion\",\"created\":%lld,\"model\":",
                              (long long)(enc->now_ms / 1000));
    rc = rc ? rc : osr_api_put_cstr(out, enc->model);
    rc = rc ? rc : osr_buf_puts(out, ",\"choices\":[{\"text\":");
    rc = rc ? rc : osr_api_put_str(out, enc->text.data, enc->text.len);
    rc = rc ? rc
            : osr_buf_appendf(out,
                              ",\"index\":0,\"logprobs\":null,\"finish_reason\":\"%s\"}],"
                              "\"usage\":",
                              finish_reason(enc));
    rc = rc ? rc : usage_object(enc, out);
    return rc ? rc : osr_buf_putc(out, '}');
}

const struct api_encoder_ops osr_api_openai_completions_ops = {
    .stream_type = "text/event-stream",
    .body_type = OSR_API_JSON_CONTENT_TYPE,
    .event = stream_event,
    .stream_end = stream_end,
    .body = body,
};
