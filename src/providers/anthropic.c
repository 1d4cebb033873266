/* anthropic.c - the Anthropic Messages upstream: the canonical request as a /messages body
 * (system apart, tool results as user tool_result blocks, tool calls as tool_use blocks,
 * max_tokens always set), and Anthropic's SSE (message_start, content_block_*, message_delta,
 * message_stop, error) read back into canonical events.  No I/O here.
 */
#include <math.h>
#include <string.h>

#include "osr/json.h"
#include "provider_internal.h"

#define DEFAULT_MAX_TOKENS 4096

enum { BLOCK_OTHER, BLOCK_TEXT, BLOCK_TOOL, BLOCK_THINKING };

static int url(const struct osr_provider *p, const char *model, struct osr_buf *out)
{
    (void)p;
    (void)model;
    return osr_buf_puts(out, "/messages");
}

static struct json_object *text_block(const char *s, size_t n)
{
    struct json_object *b = json_object_new_object();
    json_object_object_add(b, "type", json_object_new_string("text"));
    json_object_object_add(b, "text", osr_json_new_string(s, n));
    return b;
}

static struct json_object *image_block(const struct osr_image *img)
{
    struct json_object *src = json_object_new_object();
    if (img->url) {
        json_object_object_add(src, "type", json_object_new_string("url"));
        json_object_object_add(src, "url", json_object_new_string(img->url));
    } else {
        struct json_object *data = up_image_base64(img);
        if (!data) {
            json_object_put(src);
            return NULL;
        }
        json_object_object_add(src, "type", json_object_new_string("base64"));
        json_object_object_add(src, "media_type",
                               json_object_new_string(img->mime ? img->mime : "image/png"));
        json_object_object_add(src, "data", data);
    }
    struct json_object *b = json_object_new_object();
    json_object_object_add(b, "type", json_object_new_string("image"));
    json_object_object_add(b, "source", src);
    return b;
}

/* Appends blocks to the last message when it has role, else starts a new one. */
static struct json_object *turn(struct json_object *msgs, const char *role)
{
    size_t n = json_object_array_length(msgs);
    if (n) {
        struct json_object *last = json_object_array_get_idx(msgs, n - 1);
        const char *r = jstr(last, "role");
        if (r && strcmp(r, role) == 0)
            return jget(last, "content");
    }
    struct json_object *m = json_object_new_object();
    struct json_object *content = json_object_new_array();
    json_object_object_add(m, "role", json_object_new_string(role));
    json_object_object_add(m, "content", content);
    json_object_array_add(msgs, m);
    return content;
}

static int encode(const struct osr_chat_request *req, const char *model, struct osr_buf *out)
{
    struct json_object *o = json_object_new_object();
    const struct osr_sampling *s = &req->sampling;
    struct osr_buf sys;
    osr_buf_init(&sys, (size_t)512 * 1024 * 1024);
    struct json_object *msgs = json_object_new_array();
    for (size_t i = 0; i < req->n_messages; i++) {
        const struct osr_message *m = &req->messages[i];
        if (m->role == OSR_ROLE_SYSTEM || m->role == OSR_ROLE_DEVELOPER) {
            if (sys.len)
                osr_buf_puts(&sys, "\n\n");
            up_message_text(m, &sys);
            continue;
        }
        const char *role = m->role == OSR_ROLE_ASSISTANT ? "assistant" : "user";
        struct json_object *content = json_object_new_array();
        for (size_t k = 0; k < m->n_parts; k++) {
            const struct osr_part *pt = &m->parts[k];
            struct json_object *b = NULL;
            switch (pt->kind) {
            case OSR_PART_TEXT:
                if (pt->text.n)
                    b = text_block(pt->text.p, pt->text.n);
                break;
            case OSR_PART_IMAGE:
                b = image_block(&pt->image);
                break;
            case OSR_PART_TOOL_CALL:
                b = json_object_new_object();
                json_object_object_add(b, "type", json_object_new_string("tool_use"));
                json_object_object_add(b, "id", json_object_new_string(pt->call.id));
                json_object_object_add(b, "name", json_object_new_string(pt->call.name));
                json_object_object_add(b, "input", up_args_object(pt->call.arguments));
                break;
            case OSR_PART_TOOL_RESULT:
                b = json_object_new_object();
                json_object_object_add(b, "type", json_object_new_string("tool_result"));
                json_object_object_add(b, "tool_use_id",
                                       json_object_new_string(pt->result.call_id));
                json_object_object_add(b, "content", osr_json_new_string(pt->text.p, pt->text.n));
                if (pt->result.is_error)
                    json_object_object_add(b, "is_error", json_object_new_boolean(1));
                break;
            case OSR_PART_REASONING:
                break; /* earlier thinking needs its signature upstream; not sent back */
            }
            if (b)
                json_object_array_add(content, b);
        }
        /* Anthropic refuses empty turns and empty text blocks: a turn with nothing to say
         * (only earlier reasoning, say) is left out. */
        if (json_object_array_length(content) > 0) {
            struct json_object *dst = turn(msgs, role);
            for (size_t k = 0; k < json_object_array_length(content); k++)
                json_object_array_add(dst,
                                      json_object_get(json_object_array_get_idx(content, k)));
        }
        json_object_put(content);
    }
    json_object_object_add(o, "model", json_object_new_string(model));
    if (sys.len)
        json_object_object_add(o, "system", osr_json_new_string(osr_buf_str(&sys), sys.len));
    osr_buf_release(&sys);
    json_object_object_add(o, "messages", msgs);
    int64_t max_tokens = s->max_tokens > 0 ? s->max_tokens : DEFAULT_MAX_TOKENS;
    /* Extended thinking when the client asked for reasoning (Ollama think, OpenAI
     * reasoning_effort).  Anthropic wants a budget of at least 1024 tokens below max_tokens. */
    int64_t budget = up_reasoning_budget(req);
    if (budget) {
        struct json_object *th = json_object_new_object();
        json_object_object_add(th, "type", json_object_new_string("enabled"));
        json_object_object_add(th, "budget_tokens", json_object_new_int64(budget));
        json_object_object_add(o, "thinking", th);
        if (max_tokens <= budget)
            max_tokens = budget + max_tokens;
    }
    json_object_object_add(o, "max_tokens", json_object_new_int64(max_tokens));
    json_object_object_add(o, "stream", json_object_new_boolean(1));
    if (!isnan(s->temperature))
        json_object_object_add(o, "temperature", json_object_new_double(s->temperature));
    if (!isnan(s->top_p))
        json_object_object_add(o, "top_p", json_object_new_double(s->top_p));
    if (s->top_k > 0)
        json_object_object_add(o, "top_k", json_object_new_int64(s->top_k));
    if (s->n_stop) {
        struct json_object *st = json_object_new_array();
        for (size_t i = 0; i < s->n_stop; i++)
            json_object_array_add(st, json_object_new_string(s->stop[i]));
        json_object_object_add(o, "stop_sequences", st);
    }
    if (req->n_tools && req->tool_choice != OSR_TOOL_CHOICE_NONE) {
        struct json_object *tools = json_object_new_array();
        for (size_t i = 0; i < req->n_tools; i++) {
            const struct osr_tool *t = &req->tools[i];
            struct json_object *to = json_object_new_object();
            json_object_object_add(to, "name", json_object_new_string(t->name));
            if (t->description)
                json_object_object_add(to, "description", json_object_new_string(t->description));
            struct json_object *schema = t->parameters ? json_object_get(t->parameters) : NULL;
            if (!schema) {
                schema = json_object_new_object();
                json_object_object_add(schema, "type", json_object_new_string("object"));
            }
            json_object_object_add(to, "input_schema", schema);
            json_object_array_add(tools, to);
        }
        json_object_object_add(o, "tools", tools);
        struct json_object *tc = NULL;
        if (req->tool_choice == OSR_TOOL_CHOICE_REQUIRED) {
            tc = json_object_new_object();
            json_object_object_add(tc, "type", json_object_new_string("any"));
        } else if (req->tool_choice == OSR_TOOL_CHOICE_NAMED) {
            tc = json_object_new_object();
            json_object_object_add(tc, "type", json_object_new_string("tool"));
            json_object_object_add(tc, "name", json_object_new_string(req->tool_choice_name));
        } else if (!req->parallel_tool_calls) {
            tc = json_object_new_object();
            json_object_object_add(tc, "type", json_object_new_string("auto"));
        }
        if (tc && !req->parallel_tool_calls)
            json_object_object_add(tc, "disable_parallel_tool_use", json_object_new_boolean(1));
        if (tc)
            json_object_object_add(o, "tool_choice", tc);
    }
    if (req->user) {
        struct json_object *md = json_object_new_object();
        json_object_object_add(md, "user_id", json_object_new_string(req->user));
        json_object_object_add(o, "metadata", md);
    }
    return up_emit_json(o, out);
}

static enum osr_finish finish_of(const char *sr);

static int on_event(struct up_state *st, const struct osr_sse_event *ev)
{
    struct json_object *o = jparse(ev->data.p, ev->data.n);
    int rc = 0;
    if (!o) {
        rc = up_error(st, 502, "provider '%s' sent an event that is not JSON", st->provider_id);
        goto out;
    }
    const char *type = jstr(o, "type");
    if (!type)
        goto out;
    if (strcmp(type, "message_start") == 0) {
        int64_t in = -1, outt = -1;
        struct json_object *u = jget(jget(o, "message"), "usage");
        jint(u, "input_tokens", &in);
        jint(u, "output_tokens", &outt);
        int64_t cached;
        if (jint(u, "cache_read_input_tokens", &cached))
            st->usage.cached_tokens = cached;
        up_set_usage(st, in, -1);
        /* The prompt size is known now: pass it on at once, so a client's own message_start
         * (Anthropic front) carries it, as the API's does. */
        rc = up_role(st);
        if (!rc && in >= 0)
            rc = up_usage_now(st);
    } else if (strcmp(type, "content_block_start") == 0) {
        int64_t idx = 0;
        jint(o, "index", &idx);
        struct json_object *cb = jget(o, "content_block");
        const char *bt = jstr(cb, "type");
        int kind = BLOCK_OTHER;
        if (bt && strcmp(bt, "text") == 0) {
            kind = BLOCK_TEXT;
            const char *t = jstr(cb, "text");
            if (t && *t)
                rc = up_text(st, t, strlen(t));
        } else if (bt && strcmp(bt, "thinking") == 0) {
            kind = BLOCK_THINKING;
        } else if (bt && strcmp(bt, "tool_use") == 0) {
            kind = BLOCK_TOOL;
            int call;
            rc = up_call_start(st, (long)idx, jstr(cb, "id"), jstr(cb, "name"), &call);
            if (idx >= 0 && idx < UP_MAX_CALLS)
                st->block_call[idx] = call;
        }
        if (idx >= 0 && idx < UP_MAX_CALLS)
            st->block_kind[idx] = kind;
    } else if (strcmp(type, "content_block_delta") == 0) {
        int64_t idx = 0;
        jint(o, "index", &idx);
        struct json_object *d = jget(o, "delta");
        const char *dt = jstr(d, "type");
        const char *s;
        if (!dt)
            goto out;
        if (strcmp(dt, "text_delta") == 0 && (s = jstr(d, "text")))
            rc = up_text(st, s, strlen(s));
        else if (strcmp(dt, "thinking_delta") == 0 && (s = jstr(d, "thinking")))
            rc = up_reasoning(st, s, strlen(s));
        else if (strcmp(dt, "input_json_delta") == 0 && (s = jstr(d, "partial_json")) &&
                 idx >= 0 && idx < UP_MAX_CALLS && st->block_kind[idx] == BLOCK_TOOL)
            rc = up_call_args(st, st->block_call[idx], s, strlen(s));
    } else if (strcmp(type, "message_delta") == 0) {
        const char *sr = jstr(jget(o, "delta"), "stop_reason");
        if (sr)
            up_set_finish(st, finish_of(sr), jstr(jget(o, "delta"), "stop_sequence"));
        int64_t outt;
        if (jint(jget(o, "usage"), "output_tokens", &outt))
            up_set_usage(st, -1, outt);
    } else if (strcmp(type, "message_stop") == 0) {
        rc = up_finish(st);
    } else if (strcmp(type, "error") == 0) {
        struct json_object *e = jget(o, "error");
        const char *et = jstr(e, "type");
        const char *msg = jstr(e, "message");
        int status = 502;
        if (et && strcmp(et, "overloaded_error") == 0)
            status = 529;
        else if (et && strcmp(et, "rate_limit_error") == 0)
            status = 429;
        rc = up_error(st, status, "provider '%s' failed: %s", st->provider_id,
                      msg ? msg : "unknown error");
    }
out:
    json_object_put(o);
    return rc;
}

static enum osr_finish finish_of(const char *sr)
{
    if (strcmp(sr, "max_tokens") == 0)
        return OSR_FINISH_LENGTH;
    if (strcmp(sr, "tool_use") == 0)
        return OSR_FINISH_TOOL_CALLS;
    if (strcmp(sr, "stop_sequence") == 0)
        return OSR_FINISH_STOP_SEQUENCE;
    return OSR_FINISH_STOP;
}

/* A whole message body (a server that ignored "stream": true). */
static int on_body(struct up_state *st, const char *body, size_t n)
{
    struct json_object *o = jparse(body, n);
    struct json_object *content = jget(o, "content");
    int rc = 0;
    if (!content || !json_object_is_type(content, json_type_array)) {
        rc = up_error(st, 502, "provider '%s' answered without content", st->provider_id);
        goto out;
    }
    struct json_object *u = jget(o, "usage");
    int64_t in = -1, outt = -1;
    jint(u, "input_tokens", &in);
    jint(u, "output_tokens", &outt);
    up_set_usage(st, in, outt);
    if ((rc = up_role(st)))
        goto out;
    for (size_t i = 0; i < json_object_array_length(content); i++) {
        struct json_object *b = json_object_array_get_idx(content, i);
        const char *t = jstr(b, "type"), *s;
        if (!t)
            continue;
        if (strcmp(t, "text") == 0 && (s = jstr(b, "text"))) {
            rc = up_text(st, s, strlen(s));
        } else if (strcmp(t, "thinking") == 0 && (s = jstr(b, "thinking"))) {
            rc = up_reasoning(st, s, strlen(s));
        } else if (strcmp(t, "tool_use") == 0) {
            int idx;
            rc = up_call_start(st, (long)i, jstr(b, "id"), jstr(b, "name"), &idx);
            struct json_object *input = jget(b, "input");
            const char *args = input ? json_object_to_json_string_ext(input, JSON_C_TO_STRING_PLAIN)
                                     : "{}";
            if (!rc)
                rc = up_call_args(st, idx, args, strlen(args));
        }
        if (rc)
            goto out;
    }
    const char *sr = jstr(o, "stop_reason");
    up_set_finish(st, sr ? finish_of(sr) : OSR_FINISH_STOP, jstr(o, "stop_sequence"));
    rc = up_finish(st);
out:
    json_object_put(o);
    return rc;
}

const struct upstream_proto osr_up_anthropic = {
    .ndjson = false,
    .url = url,
    .encode = encode,
    .on_event = on_event,
    .on_body = on_body,
    .at_end = NULL,
    .reports_stop_sequence = true,
    .early_usage = true,
};
