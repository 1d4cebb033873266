/* openai.c - the OpenAI-compatible upstream: the canonical request as a Chat Completions body
 * (POST {base}/chat/completions, always streamed, usage asked for), and its SSE chunks read
 * back into canonical events, tool-call deltas and usage included.
 *
 * Covers every server that speaks the OpenAI wire format (OpenAI, xAI, DeepSeek, OpenRouter,
 * Groq, Together, vLLM, llama.cpp's server, LM Studio, Ollama's /v1).  No I/O here.
 */
#include <math.h>
#include <string.h>

#include "osr/json.h"
#include "provider_internal.h"

static int url(const struct osr_provider *p, const char *model, struct osr_buf *out)
{
    (void)p;
    (void)model;
    return osr_buf_puts(out, "/chat/completions");
}

static struct json_object *message_content(const struct osr_message *m)
{
    bool only_text = true;
    for (size_t i = 0; i < m->n_parts; i++)
        if (m->parts[i].kind == OSR_PART_IMAGE)
            only_text = false;
    if (only_text) {
        struct osr_buf t;
        osr_buf_init(&t, (size_t)512 * 1024 * 1024);
        up_message_text(m, &t);
        struct json_object *s = osr_json_new_string(osr_buf_str(&t), t.len);
        osr_buf_release(&t);
        return s;
    }
    struct json_object *arr = json_object_new_array();
    for (size_t i = 0; i < m->n_parts; i++) {
        const struct osr_part *pt = &m->parts[i];
        struct json_object *o = NULL;
        if (pt->kind == OSR_PART_TEXT) {
            o = json_object_new_object();
            json_object_object_add(o, "type", json_object_new_string("text"));
            json_object_object_add(o, "text", osr_json_new_string(pt->text.p, pt->text.n));
        } else if (pt->kind == OSR_PART_IMAGE) {
            struct json_object *u = up_image_url(&pt->image);
            if (!u)
                continue;
            struct json_object *iu = json_object_new_object();
            json_object_object_add(iu, "url", u);
            if (pt->image.detail)
                json_object_object_add(iu, "detail", json_object_new_string(pt->image.detail));
            o = json_object_new_object();
            json_object_object_add(o, "type", json_object_new_string("image_url"));
            json_object_object_add(o, "image_url", iu);
        }
        if (o)
            json_object_array_add(arr, o);
    }
    return arr;
}

/* "developer" goes out as "system": OpenAI treats them alike, and many compatible servers
 * (vLLM, llama.cpp, LM Studio) know only "system". */
static const char *role_name(enum osr_role r)
{
    return r == OSR_ROLE_DEVELOPER ? "system" : osr_chat_role_name(r);
}

static struct json_object *encode_messages(const struct osr_chat_request *req)
{
    struct json_object *arr = json_object_new_array();
    for (size_t i = 0; i < req->n_messages; i++) {
        const struct osr_message *m = &req->messages[i];
        if (m->role == OSR_ROLE_TOOL) {
            /* One OpenAI tool message per result. */
            for (size_t k = 0; k < m->n_parts; k++) {
                const struct osr_part *pt = &m->parts[k];
                if (pt->kind != OSR_PART_TOOL_RESULT)
                    continue;
                struct json_object *o = json_object_new_object();
                json_object_object_add(o, "role", json_object_new_string("tool"));
                json_object_object_add(o, "tool_call_id",
                                       json_object_new_string(pt->result.call_id));
                json_object_object_add(o, "content", osr_json_new_string(pt->text.p, pt->text.n));
                json_object_array_add(arr, o);
            }
            continue;
        }
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "role", json_object_new_string(role_name(m->role)));
        if (m->name)
            json_object_object_add(o, "name", json_object_new_string(m->name));
        if (m->role == OSR_ROLE_ASSISTANT) {
            struct json_object *calls = json_object_new_array();
            struct osr_buf t;
            osr_buf_init(&t, (size_t)512 * 1024 * 1024);
            up_message_text(m, &t);
            for (size_t k = 0; k < m->n_parts; k++) {
                const struct osr_part *pt = &m->parts[k];
                if (pt->kind != OSR_PART_TOOL_CALL)
                    continue;
                struct json_object *c = json_object_new_object();
                struct json_object *f = json_object_new_object();
                json_object_object_add(c, "id", json_object_new_string(pt->call.id));
                json_object_object_add(c, "type", json_object_new_string("function"));
                json_object_object_add(f, "name", json_object_new_string(pt->call.name));
                json_object_object_add(f, "arguments",
                                       osr_json_new_string(pt->call.arguments.n
                                                               ? pt->call.arguments.p
                                                               : "{}",
                                                           pt->call.arguments.n
                                                               ? pt->call.arguments.n
                                                               : 2));
                json_object_object_add(c, "function", f);
                json_object_array_add(calls, c);
            }
            bool has_calls = json_object_array_length(calls) > 0;
            json_object_object_add(o, "content",
                                   t.len || !has_calls ? osr_json_new_string(osr_buf_str(&t), t.len)
                                                       : NULL);
            osr_buf_release(&t);
            if (has_calls)
                json_object_object_add(o, "tool_calls", calls);
            else
                json_object_put(calls);
        } else {
            json_object_object_add(o, "content", message_content(m));
        }
        json_object_array_add(arr, o);
    }
    return arr;
}

static struct json_object *encode_tools(const struct osr_chat_request *req)
{
    struct json_object *arr = json_object_new_array();
    for (size_t i = 0; i < req->n_tools; i++) {
        const struct osr_tool *t = &req->tools[i];
        struct json_object *f = json_object_new_object();
        json_object_object_add(f, "name", json_object_new_string(t->name));
        if (t->description)
            json_object_object_add(f, "description", json_object_new_string(t->description));
        json_object_object_add(f, "parameters", t->parameters ? json_object_get(t->parameters)
                                                              : json_object_new_object());
        if (t->strict)
            json_object_object_add(f, "strict", json_object_new_boolean(1));
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "type", json_object_new_string("function"));
        json_object_object_add(o, "function", f);
        json_object_array_add(arr, o);
    }
    return arr;
}

static int encode(const struct osr_chat_request *req, const char *model, struct osr_buf *out)
{
    struct json_object *o = json_object_new_object();
    const struct osr_sampling *s = &req->sampling;
    json_object_object_add(o, "model", json_object_new_string(model));
    json_object_object_add(o, "messages", encode_messages(req));
    json_object_object_add(o, "stream", json_object_new_boolean(1));
    struct json_object *so = json_object_new_object();
    json_object_object_add(so, "include_usage", json_object_new_boolean(1));
    json_object_object_add(o, "stream_options", so);
    if (req->n_tools) {
        json_object_object_add(o, "tools", encode_tools(req));
        switch (req->tool_choice) {
        case OSR_TOOL_CHOICE_AUTO:
            break;
        case OSR_TOOL_CHOICE_NONE:
            json_object_object_add(o, "tool_choice", json_object_new_string("none"));
            break;
        case OSR_TOOL_CHOICE_REQUIRED:
            json_object_object_add(o, "tool_choice", json_object_new_string("required"));
            break;
        case OSR_TOOL_CHOICE_NAMED: {
            struct json_object *tc = json_object_new_object(), *f = json_object_new_object();
            json_object_object_add(f, "name", json_object_new_string(req->tool_choice_name));
            json_object_object_add(tc, "type", json_object_new_string("function"));
            json_object_object_add(tc, "function", f);
            json_object_object_add(o, "tool_choice", tc);
            break;
        }
        }
        if (!req->parallel_tool_calls)
            json_object_object_add(o, "parallel_tool_calls", json_object_new_boolean(0));
    }
    if (!isnan(s->temperature))
        json_object_object_add(o, "temperature", json_object_new_double(s->temperature));
    if (!isnan(s->top_p))
        json_object_object_add(o, "top_p", json_object_new_double(s->top_p));
    if (!isnan(s->presence_penalty))
        json_object_object_add(o, "presence_penalty", json_object_new_double(s->presence_penalty));
    if (!isnan(s->frequency_penalty))
        json_object_object_add(o, "frequency_penalty",
                               json_object_new_double(s->frequency_penalty));
    if (s->max_tokens > 0)
        json_object_object_add(o, "max_tokens", json_object_new_int64(s->max_tokens));
    if (s->has_seed)
        json_object_object_add(o, "seed", json_object_new_int64(s->seed));
    if (s->n_stop) {
        struct json_object *st = json_object_new_array();
        for (size_t i = 0; i < s->n_stop; i++)
            json_object_array_add(st, json_object_new_string(s->stop[i]));
        json_object_object_add(o, "stop", st);
    }
    if (req->format.kind != OSR_FORMAT_TEXT) {
        struct json_object *rf = json_object_new_object();
        if (req->format.kind == OSR_FORMAT_JSON_OBJECT) {
            json_object_object_add(rf, "type", json_object_new_string("json_object"));
        } else {
            struct json_object *js = json_object_new_object();
            json_object_object_add(js, "name",
                                   json_object_new_string(req->format.name ? req->format.name
                                                                           : "response"));
            if (req->format.schema)
                json_object_object_add(js, "schema", json_object_get(req->format.schema));
            if (req->format.strict)
                json_object_object_add(js, "strict", json_object_new_boolean(1));
            json_object_object_add(rf, "type", json_object_new_string("json_schema"));
            json_object_object_add(rf, "json_schema", js);
        }
        json_object_object_add(o, "response_format", rf);
    }
    if (req->user)
        json_object_object_add(o, "user", json_object_new_string(req->user));
    if (req->x.reasoning_effort)
        json_object_object_add(o, "reasoning_effort",
                               json_object_new_string(req->x.reasoning_effort));
    return up_emit_json(o, out);
}

static enum osr_finish finish_of(const char *r)
{
    if (strcmp(r, "length") == 0)
        return OSR_FINISH_LENGTH;
    if (strcmp(r, "tool_calls") == 0 || strcmp(r, "function_call") == 0)
        return OSR_FINISH_TOOL_CALLS;
    return OSR_FINISH_STOP;
}

static int on_event(struct up_state *st, const struct osr_sse_event *ev)
{
    if (osr_str_eq_cstr(ev->data, "[DONE]"))
        return up_finish(st);
    struct json_object *o = jparse(ev->data.p, ev->data.n);
    int rc = 0;
    if (!o) {
        rc = up_error(st, 502, "provider '%s' sent a chunk that is not JSON", st->provider_id);
        goto out;
    }
    struct json_object *err = jget(o, "error");
    if (err) {
        const char *msg = jstr(err, "message");
        if (!msg)
            msg = json_object_is_type(err, json_type_string) ? json_object_get_string(err)
                                                              : "unknown error";
        rc = up_error(st, 502, "provider '%s' failed: %s", st->provider_id, msg);
        goto out;
    }
    struct json_object *usage = jget(o, "usage");
    if (usage && json_object_is_type(usage, json_type_object)) {
        int64_t pt = -1, ct = -1;
        jint(usage, "prompt_tokens", &pt);
        jint(usage, "completion_tokens", &ct);
        up_set_usage(st, pt, ct);
        int64_t cached;
        if (jint(jget(usage, "prompt_tokens_details"), "cached_tokens", &cached))
            st->usage.cached_tokens = cached;
    }
    struct json_object *choices = jget(o, "choices");
    if (!choices || !json_object_is_type(choices, json_type_array) ||
        json_object_array_length(choices) == 0) {
        if (up_role(st))
            rc = 1;
        goto out;
    }
    struct json_object *c0 = json_object_array_get_idx(choices, 0);
    struct json_object *delta = jget(c0, "delta");
    if (up_role(st)) {
        rc = 1;
        goto out;
    }
    const char *r = jstr(delta, "reasoning_content");
    if (!r)
        r = jstr(delta, "reasoning");
    if (r && (rc = up_reasoning(st, r, strlen(r))))
        goto out;
    struct json_object *content = jget(delta, "content");
    if (content && json_object_is_type(content, json_type_string) &&
        (rc = up_text(st, json_object_get_string(content),
                      (size_t)json_object_get_string_len(content))))
        goto out;
    struct json_object *calls = jget(delta, "tool_calls");
    for (size_t i = 0; calls && json_object_is_type(calls, json_type_array) &&
                       i < json_object_array_length(calls);
         i++) {
        struct json_object *tc = json_object_array_get_idx(calls, i);
        int64_t key = (int64_t)i;
        jint(tc, "index", &key);
        struct json_object *fn = jget(tc, "function");
        int idx = up_call_index(st, (long)key);
        if (idx < 0 && (rc = up_call_start(st, (long)key, jstr(tc, "id"), jstr(fn, "name"), &idx)))
            goto out;
        struct json_object *args = jget(fn, "arguments");
        if (args && json_object_is_type(args, json_type_string) &&
            (rc = up_call_args(st, idx, json_object_get_string(args),
                               (size_t)json_object_get_string_len(args))))
            goto out;
    }
    const char *fr = jstr(c0, "finish_reason");
    if (fr)
        up_set_finish(st, finish_of(fr), NULL);
out:
    json_object_put(o);
    return rc;
}

/* A chat.completion body. */
static int on_body(struct up_state *st, const char *body, size_t n)
{
    struct json_object *o = jparse(body, n);
    int rc = 0;
    struct json_object *c0 = NULL, *choices = jget(o, "choices");
    if (choices && json_object_is_type(choices, json_type_array) &&
        json_object_array_length(choices) > 0)
        c0 = json_object_array_get_idx(choices, 0);
    struct json_object *msg = jget(c0, "message");
    if (!msg) {
        rc = up_error(st, 502, "provider '%s' answered without a message", st->provider_id);
        goto out;
    }
    if ((rc = up_role(st)))
        goto out;
    const char *r = jstr(msg, "reasoning_content");
    if (!r)
        r = jstr(msg, "reasoning");
    const char *t = jstr(msg, "content");
    if ((r && (rc = up_reasoning(st, r, strlen(r)))) || (t && (rc = up_text(st, t, strlen(t)))))
        goto out;
    struct json_object *calls = jget(msg, "tool_calls");
    for (size_t i = 0; calls && json_object_is_type(calls, json_type_array) &&
                       i < json_object_array_length(calls);
         i++) {
        struct json_object *tc = json_object_array_get_idx(calls, i), *fn = jget(tc, "function");
        int idx;
        const char *args = jstr(fn, "arguments");
        if ((rc = up_call_start(st, (long)i, jstr(tc, "id"), jstr(fn, "name"), &idx)) ||
            (args && (rc = up_call_args(st, idx, args, strlen(args)))))
            goto out;
    }
    struct json_object *usage = jget(o, "usage");
    if (usage) {
        int64_t pt = -1, ct = -1;
        jint(usage, "prompt_tokens", &pt);
        jint(usage, "completion_tokens", &ct);
        up_set_usage(st, pt, ct);
    }
    const char *fr = jstr(c0, "finish_reason");
    up_set_finish(st, fr ? finish_of(fr) : OSR_FINISH_STOP, NULL);
    rc = up_finish(st);
out:
    json_object_put(o);
    return rc;
}

static int at_end(struct up_state *st)
{
    /* Some compatible servers close the stream after the finish chunk without [DONE]. */
    if (st->finish_seen)
        return up_finish(st);
    return up_error(st, 502, "provider '%s' ended its stream before finishing", st->provider_id);
}

const struct upstream_proto osr_up_openai = {
    .ndjson = false,
    .url = url,
    .encode = encode,
    .on_event = on_event,
    .on_body = on_body,
    .at_end = at_end,
};
