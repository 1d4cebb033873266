/* ollama.c - the Ollama upstream: the canonical request as an /api/chat body (images as
 * base64, tool-call arguments as objects, sampling in "options"), and Ollama's NDJSON lines
 * read back into canonical events, its final statistics included.  No I/O here.
 */
#include <math.h>
#include <string.h>

#include "osr/json.h"
#include "provider_internal.h"

static int url(const struct osr_provider *p, const char *model, struct osr_buf *out)
{
    (void)model;
    size_t n = strlen(p->base_path);
    bool api = n >= 4 && strcmp(p->base_path + n - 4, "/api") == 0;
    return osr_buf_puts(out, api ? "/chat" : "/api/chat");
}

static int encode(const struct osr_chat_request *req, const char *model, struct osr_buf *out)
{
    struct json_object *o = json_object_new_object();
    const struct osr_sampling *s = &req->sampling;
    struct json_object *msgs = json_object_new_array();
    for (size_t i = 0; i < req->n_messages; i++) {
        const struct osr_message *m = &req->messages[i];
        if (m->role == OSR_ROLE_TOOL) {
            for (size_t k = 0; k < m->n_parts; k++) {
                const struct osr_part *pt = &m->parts[k];
                if (pt->kind != OSR_PART_TOOL_RESULT)
                    continue;
                struct json_object *t = json_object_new_object();
                json_object_object_add(t, "role", json_object_new_string("tool"));
                json_object_object_add(t, "content", osr_json_new_string(pt->text.p, pt->text.n));
                if (pt->result.name)
                    json_object_object_add(t, "tool_name",
                                           json_object_new_string(pt->result.name));
                json_object_array_add(msgs, t);
            }
            continue;
        }
        struct json_object *mo = json_object_new_object();
        const char *role = m->role == OSR_ROLE_DEVELOPER ? "system" : osr_chat_role_name(m->role);
        json_object_object_add(mo, "role", json_object_new_string(role));
        struct osr_buf t;
        osr_buf_init(&t, (size_t)512 * 1024 * 1024);
        up_message_text(m, &t);
        json_object_object_add(mo, "content", osr_json_new_string(osr_buf_str(&t), t.len));
        osr_buf_release(&t);
        struct json_object *images = json_object_new_array(), *calls = json_object_new_array();
        for (size_t k = 0; k < m->n_parts; k++) {
            const struct osr_part *pt = &m->parts[k];
            if (pt->kind == OSR_PART_IMAGE && pt->image.data) {
                struct json_object *b = up_image_base64(&pt->image);
                if (b)
                    json_object_array_add(images, b);
            } else if (pt->kind == OSR_PART_TOOL_CALL) {
                struct json_object *c = json_object_new_object(), *f = json_object_new_object();
                json_object_object_add(f, "name", json_object_new_string(pt->call.name));
                json_object_object_add(f, "arguments", up_args_object(pt->call.arguments));
                json_object_object_add(c, "function", f);
                json_object_array_add(calls, c);
            } else if (pt->kind == OSR_PART_REASONING) {
                json_object_object_add(mo, "thinking", osr_json_new_string(pt->text.p, pt->text.n));
            }
        }
        if (json_object_array_length(images))
            json_object_object_add(mo, "images", images);
        else
            json_object_put(images);
        if (json_object_array_length(calls))
            json_object_object_add(mo, "tool_calls", calls);
        else
            json_object_put(calls);
        json_object_array_add(msgs, mo);
    }
    json_object_object_add(o, "model", json_object_new_string(model));
    json_object_object_add(o, "messages", msgs);
    json_object_object_add(o, "stream", json_object_new_boolean(1));
    if (req->n_tools && req->tool_choice != OSR_TOOL_CHOICE_NONE) {
        struct json_object *tools = json_object_new_array();
        for (size_t i = 0; i < req->n_tools; i++) {
            const struct osr_tool *tl = &req->tools[i];
            struct json_object *f = json_object_new_object(), *to = json_object_new_object();
            json_object_object_add(f, "name", json_object_new_string(tl->name));
            if (tl->description)
                json_object_object_add(f, "description", json_object_new_string(tl->description));
            json_object_object_add(f, "parameters", tl->parameters ? json_object_get(tl->parameters)
                                                                   : json_object_new_object());
            json_object_object_add(to, "type", json_object_new_string("function"));
            json_object_object_add(to, "function", f);
            json_object_array_add(tools, to);
        }
        json_object_object_add(o, "tools", tools);
    }
    if (req->format.kind == OSR_FORMAT_JSON_OBJECT)
        json_object_object_add(o, "format", json_object_new_string("json"));
    else if (req->format.kind == OSR_FORMAT_JSON_SCHEMA && req->format.schema)
        json_object_object_add(o, "format", json_object_get(req->format.schema));
    if (req->x.think >= 0)
        json_object_object_add(o, "think", json_object_new_boolean(req->x.think));
    if (req->x.keep_alive)
        json_object_object_add(o, "keep_alive", json_object_new_string(req->x.keep_alive));
    struct json_object *opt = json_object_new_object();
    if (!isnan(s->temperature))
        json_object_object_add(opt, "temperature", json_object_new_double(s->temperature));
    if (!isnan(s->top_p))
        json_object_object_add(opt, "top_p", json_object_new_double(s->top_p));
    if (!isnan(s->min_p))
        json_object_object_add(opt, "min_p", json_object_new_double(s->min_p));
    if (!isnan(s->repeat_penalty))
        json_object_object_add(opt, "repeat_penalty", json_object_new_double(s->repeat_penalty));
    if (!isnan(s->presence_penalty))
        json_object_object_add(opt, "presence_penalty",
                               json_object_new_double(s->presence_penalty));
    if (!isnan(s->frequency_penalty))
        json_object_object_add(opt, "frequency_penalty",
                               json_object_new_double(s->frequency_penalty));
    if (s->top_k > 0)
        json_object_object_add(opt, "top_k", json_object_new_int64(s->top_k));
    if (s->max_tokens > 0)
        json_object_object_add(opt, "num_predict", json_object_new_int64(s->max_tokens));
    if (s->has_seed)
        json_object_object_add(opt, "seed", json_object_new_int64(s->seed));
    if (req->x.num_ctx > 0)
        json_object_object_add(opt, "num_ctx", json_object_new_int64(req->x.num_ctx));
    if (s->n_stop) {
        struct json_object *st = json_object_new_array();
        for (size_t i = 0; i < s->n_stop; i++)
            json_object_array_add(st, json_object_new_string(s->stop[i]));
        json_object_object_add(opt, "stop", st);
    }
    if (json_object_object_length(opt))
        json_object_object_add(o, "options", opt);
    else
        json_object_put(opt);
    return up_emit_json(o, out);
}

static int on_line(struct up_state *st, const char *line, size_t n)
{
    struct json_object *o = jparse(line, n);
    int rc = 0;
    if (!o) {
        rc = up_error(st, 502, "provider '%s' sent a line that is not JSON", st->provider_id);
        goto out;
    }
    const char *err = jstr(o, "error");
    if (err) {
        rc = up_error(st, 502, "provider '%s' failed: %s", st->provider_id, err);
        goto out;
    }
    if ((rc = up_role(st)))
        goto out;
    struct json_object *msg = jget(o, "message");
    const char *s;
    if ((s = jstr(msg, "thinking")) && (rc = up_reasoning(st, s, strlen(s))))
        goto out;
    if ((s = jstr(msg, "content")) && (rc = up_text(st, s, strlen(s))))
        goto out;
    if ((s = jstr(o, "response")) && (rc = up_text(st, s, strlen(s))))
        goto out;
    struct json_object *calls = jget(msg, "tool_calls");
    for (size_t i = 0; calls && json_object_is_type(calls, json_type_array) &&
                       i < json_object_array_length(calls);
         i++) {
        struct json_object *c = json_object_array_get_idx(calls, i);
        struct json_object *f = jget(c, "function");
        int idx;
        if ((rc = up_call_start(st, (long)st->n_calls, jstr(c, "id"), jstr(f, "name"), &idx)))
            goto out;
        struct json_object *args = jget(f, "arguments");
        struct osr_buf a;
        osr_buf_init(&a, (size_t)8 * 1024 * 1024);
        if (args && json_object_is_type(args, json_type_string))
            osr_buf_puts(&a, json_object_get_string(args));
        else if (args)
            osr_json_append(&a, args);
        else
            osr_buf_puts(&a, "{}");
        rc = up_call_args(st, idx, osr_buf_str(&a), a.len);
        osr_buf_release(&a);
        if (rc)
            goto out;
    }
    struct json_object *done = jget(o, "done");
    if (done && json_object_get_boolean(done)) {
        const char *dr = jstr(o, "done_reason");
        up_set_finish(st, dr && strcmp(dr, "length") == 0 ? OSR_FINISH_LENGTH : OSR_FINISH_STOP,
                      NULL);
        int64_t pt = -1, et = -1, v;
        jint(o, "prompt_eval_count", &pt);
        jint(o, "eval_count", &et);
        up_set_usage(st, pt, et);
        if (jint(o, "total_duration", &v))
            st->usage.total_ns = v;
        if (jint(o, "load_duration", &v))
            st->usage.load_ns = v;
        if (jint(o, "prompt_eval_duration", &v))
            st->usage.prompt_ns = v;
        if (jint(o, "eval_duration", &v))
            st->usage.eval_ns = v;
        rc = up_finish(st);
    }
out:
    json_object_put(o);
    return rc;
}

const struct upstream_proto osr_up_ollama = {
    .ndjson = true,
    .url = url,
    .encode = encode,
    .on_line = on_line,
    .at_end = NULL,
};
