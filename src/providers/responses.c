/* responses.c - the Open Responses upstream: the canonical request as a /responses body
 * (input items, flat tools, instructions), and the semantic SSE events of the answer
 * (output_item.added, output_text.delta, function_call_arguments.delta, completed,
 * incomplete, failed, error) read back into canonical events.  No I/O here.
 */
#include <math.h>
#include <string.h>

#include "osr/json.h"
#include "provider_internal.h"

static int url(const struct osr_provider *p, const char *model, struct osr_buf *out)
{
    (void)p;
    (void)model;
    return osr_buf_puts(out, "/responses");
}

static struct json_object *content_part(const char *type, const char *key, struct json_object *v)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string(type));
    json_object_object_add(o, key, v);
    return o;
}

static int encode(const struct osr_chat_request *req, const char *model, struct osr_buf *out)
{
    struct json_object *o = json_object_new_object();
    const struct osr_sampling *s = &req->sampling;
    struct osr_buf sys;
    osr_buf_init(&sys, (size_t)512 * 1024 * 1024);
    struct json_object *input = json_object_new_array();
    for (size_t i = 0; i < req->n_messages; i++) {
        const struct osr_message *m = &req->messages[i];
        if (m->role == OSR_ROLE_SYSTEM || m->role == OSR_ROLE_DEVELOPER) {
            if (sys.len)
                osr_buf_puts(&sys, "\n\n");
            up_message_text(m, &sys);
            continue;
        }
        bool asst = m->role == OSR_ROLE_ASSISTANT;
        struct json_object *content = json_object_new_array();
        for (size_t k = 0; k < m->n_parts; k++) {
            const struct osr_part *pt = &m->parts[k];
            if (pt->kind == OSR_PART_TEXT && pt->text.n) {
                json_object_array_add(content,
                                      content_part(asst ? "output_text" : "input_text", "text",
                                                   osr_json_new_string(pt->text.p, pt->text.n)));
            } else if (pt->kind == OSR_PART_IMAGE && !asst) {
                struct json_object *u = up_image_url(&pt->image);
                if (u)
                    json_object_array_add(content, content_part("input_image", "image_url", u));
            } else if (pt->kind == OSR_PART_TOOL_CALL) {
                struct json_object *fc = json_object_new_object();
                json_object_object_add(fc, "type", json_object_new_string("function_call"));
                json_object_object_add(fc, "call_id", json_object_new_string(pt->call.id));
                json_object_object_add(fc, "name", json_object_new_string(pt->call.name));
                json_object_object_add(fc, "arguments",
                                       osr_json_new_string(pt->call.arguments.p,
                                                           pt->call.arguments.n));
                json_object_array_add(input, fc);
            } else if (pt->kind == OSR_PART_TOOL_RESULT) {
                struct json_object *fo = json_object_new_object();
                json_object_object_add(fo, "type", json_object_new_string("function_call_output"));
                json_object_object_add(fo, "call_id", json_object_new_string(pt->result.call_id));
                json_object_object_add(fo, "output", osr_json_new_string(pt->text.p, pt->text.n));
                json_object_array_add(input, fo);
            }
        }
        if (json_object_array_length(content) == 0) {
            json_object_put(content);
            continue;
        }
        struct json_object *msg = json_object_new_object();
        json_object_object_add(msg, "type", json_object_new_string("message"));
        json_object_object_add(msg, "role", json_object_new_string(asst ? "assistant" : "user"));
        json_object_object_add(msg, "content", content);
        json_object_array_add(input, msg);
    }
    json_object_object_add(o, "model", json_object_new_string(model));
    json_object_object_add(o, "input", input);
    if (sys.len)
        json_object_object_add(o, "instructions",
                               osr_json_new_string(osr_buf_str(&sys), sys.len));
    osr_buf_release(&sys);
    json_object_object_add(o, "stream", json_object_new_boolean(1));
    json_object_object_add(o, "store", json_object_new_boolean(0));
    if (req->n_tools) {
        struct json_object *tools = json_object_new_array();
        for (size_t i = 0; i < req->n_tools; i++) {
            const struct osr_tool *t = &req->tools[i];
            struct json_object *to = json_object_new_object();
            json_object_object_add(to, "type", json_object_new_string("function"));
            json_object_object_add(to, "name", json_object_new_string(t->name));
            if (t->description)
                json_object_object_add(to, "description", json_object_new_string(t->description));
            json_object_object_add(to, "parameters", t->parameters ? json_object_get(t->parameters)
                                                                   : json_object_new_object());
            if (t->strict)
                json_object_object_add(to, "strict", json_object_new_boolean(1));
            json_object_array_add(tools, to);
        }
        json_object_object_add(o, "tools", tools);
        if (req->tool_choice == OSR_TOOL_CHOICE_NONE)
            json_object_object_add(o, "tool_choice", json_object_new_string("none"));
        else if (req->tool_choice == OSR_TOOL_CHOICE_REQUIRED)
            json_object_object_add(o, "tool_choice", json_object_new_string("required"));
        else if (req->tool_choice == OSR_TOOL_CHOICE_NAMED) {
            struct json_object *tc = json_object_new_object();
            json_object_object_add(tc, "type", json_object_new_string("function"));
            json_object_object_add(tc, "name", json_object_new_string(req->tool_choice_name));
            json_object_object_add(o, "tool_choice", tc);
        }
    }
    if (!isnan(s->temperature))
        json_object_object_add(o, "temperature", json_object_new_double(s->temperature));
    if (!isnan(s->top_p))
        json_object_object_add(o, "top_p", json_object_new_double(s->top_p));
    if (s->max_tokens > 0)
        json_object_object_add(o, "max_output_tokens", json_object_new_int64(s->max_tokens));
    if (req->x.reasoning_effort) {
        struct json_object *r = json_object_new_object();
        json_object_object_add(r, "effort", json_object_new_string(req->x.reasoning_effort));
        json_object_object_add(o, "reasoning", r);
    }
    return up_emit_json(o, out);
}

static void take_usage(struct up_state *st, struct json_object *resp)
{
    struct json_object *u = jget(resp, "usage");
    if (!u)
        return;
    int64_t in = -1, outt = -1;
    jint(u, "input_tokens", &in);
    jint(u, "output_tokens", &outt);
    up_set_usage(st, in, outt);
}

static int on_event(struct up_state *st, const struct osr_sse_event *ev)
{
    if (osr_str_eq_cstr(ev->data, "[DONE]"))
        return 0;
    struct json_object *o = jparse(ev->data.p, ev->data.n);
    int rc = 0;
    if (!o) {
        rc = up_error(st, 502, "provider '%s' sent an event that is not JSON", st->provider_id);
        goto out;
    }
    const char *type = jstr(o, "type");
    if (!type)
        goto out;
    int64_t oi = 0;
    jint(o, "output_index", &oi);
    const char *s;
    if (strcmp(type, "response.created") == 0 || strcmp(type, "response.in_progress") == 0) {
        rc = up_role(st);
    } else if (strcmp(type, "response.output_item.added") == 0) {
        struct json_object *item = jget(o, "item");
        const char *it = jstr(item, "type");
        if (it && strcmp(it, "function_call") == 0) {
            int idx;
            rc = up_call_start(st, (long)oi, jstr(item, "call_id"), jstr(item, "name"), &idx);
            const char *args = jstr(item, "arguments");
            if (!rc && args && *args)
                rc = up_call_args(st, idx, args, strlen(args));
        }
    } else if (strcmp(type, "response.output_item.done") == 0) {
        /* A server that sent the arguments only with the finished item. */
        struct json_object *item = jget(o, "item");
        const char *it = jstr(item, "type"), *args = jstr(item, "arguments");
        int idx = up_call_index(st, (long)oi);
        if (it && strcmp(it, "function_call") == 0 && idx >= 0 && !st->args_seen[idx] && args &&
            *args)
            rc = up_call_args(st, idx, args, strlen(args));
    } else if (strcmp(type, "response.output_text.delta") == 0 && (s = jstr(o, "delta"))) {
        rc = up_text(st, s, strlen(s));
    } else if ((strcmp(type, "response.reasoning_text.delta") == 0 ||
                strcmp(type, "response.reasoning_summary_text.delta") == 0) &&
               (s = jstr(o, "delta"))) {
        rc = up_reasoning(st, s, strlen(s));
    } else if (strcmp(type, "response.function_call_arguments.delta") == 0 &&
               (s = jstr(o, "delta"))) {
        rc = up_call_args(st, up_call_index(st, (long)oi), s, strlen(s));
    } else if (strcmp(type, "response.completed") == 0) {
        take_usage(st, jget(o, "response"));
        up_set_finish(st, OSR_FINISH_STOP, NULL);
        rc = up_finish(st);
    } else if (strcmp(type, "response.incomplete") == 0) {
        take_usage(st, jget(o, "response"));
        up_set_finish(st, OSR_FINISH_LENGTH, NULL);
        rc = up_finish(st);
    } else if (strcmp(type, "response.failed") == 0) {
        const char *msg = jstr(jget(jget(o, "response"), "error"), "message");
        rc = up_error(st, 502, "provider '%s' failed: %s", st->provider_id,
                      msg ? msg : "unknown error");
    } else if (strcmp(type, "error") == 0) {
        const char *msg = jstr(o, "message");
        if (!msg)
            msg = jstr(jget(o, "error"), "message");
        rc = up_error(st, 502, "provider '%s' failed: %s", st->provider_id,
                      msg ? msg : "unknown error");
    }
out:
    json_object_put(o);
    return rc;
}

const struct upstream_proto osr_up_responses = {
    .ndjson = false,
    .url = url,
    .encode = encode,
    .on_event = on_event,
    .at_end = NULL,
};
