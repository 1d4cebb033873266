/* gemini.c - the Google Gemini upstream: the canonical request as a generateContent body
 * (contents with user/model roles and parts, systemInstruction, functionDeclarations with the
 * JSON Schema keywords Gemini refuses removed, generationConfig), streamed from
 * /models/{model}:streamGenerateContent?alt=sse, and its candidate chunks read back into
 * canonical events (text, thought parts as reasoning, functionCall as a whole tool call).
 * No I/O here.
 */
#include <math.h>
#include <string.h>

#include "osr/json.h"
#include "provider_internal.h"

static int url(const struct osr_provider *p, const char *model, struct osr_buf *out)
{
    (void)p;
    for (const char *c = model; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '.' || *c == '_'))
            return OSR_EINVAL;
    return osr_buf_appendf(out, "/models/%s:streamGenerateContent?alt=sse", model);
}

/* A copy of a JSON Schema without the keywords Gemini's OpenAPI subset rejects. */
static struct json_object *clean_schema(struct json_object *s, int depth)
{
    if (!s || depth > 32)
        return NULL;
    if (json_object_is_type(s, json_type_array)) {
        struct json_object *a = json_object_new_array();
        for (size_t i = 0; i < json_object_array_length(s); i++) {
            struct json_object *c = clean_schema(json_object_array_get_idx(s, i), depth + 1);
            json_object_array_add(a, c ? c : json_object_new_object());
        }
        return a;
    }
    if (!json_object_is_type(s, json_type_object))
        return json_object_get(s);
    struct json_object *o = json_object_new_object();
    json_object_object_foreach(s, k, v)
    {
        if (strcmp(k, "$schema") == 0 || strcmp(k, "additionalProperties") == 0 ||
            strcmp(k, "strict") == 0 || strcmp(k, "$id") == 0)
            continue;
        json_object_object_add(o, k, clean_schema(v, depth + 1));
    }
    return o;
}

/* The name of the tool call id in the request's assistant turns, or "". */
static const char *call_name(const struct osr_chat_request *req, const char *id)
{
    for (size_t i = 0; i < req->n_messages; i++)
        for (size_t k = 0; k < req->messages[i].n_parts; k++) {
            const struct osr_part *pt = &req->messages[i].parts[k];
            if (pt->kind == OSR_PART_TOOL_CALL && *id && strcmp(pt->call.id, id) == 0)
                return pt->call.name;
        }
    return "";
}

static int encode(const struct osr_chat_request *req, const char *model, struct osr_buf *out)
{
    (void)model;
    struct json_object *o = json_object_new_object();
    const struct osr_sampling *s = &req->sampling;
    struct osr_buf sys;
    osr_buf_init(&sys, (size_t)512 * 1024 * 1024);
    struct json_object *contents = json_object_new_array();
    for (size_t i = 0; i < req->n_messages; i++) {
        const struct osr_message *m = &req->messages[i];
        if (m->role == OSR_ROLE_SYSTEM || m->role == OSR_ROLE_DEVELOPER) {
            if (sys.len)
                osr_buf_puts(&sys, "\n\n");
            up_message_text(m, &sys);
            continue;
        }
        struct json_object *parts = json_object_new_array();
        for (size_t k = 0; k < m->n_parts; k++) {
            const struct osr_part *pt = &m->parts[k];
            struct json_object *p = json_object_new_object();
            if (pt->kind == OSR_PART_TEXT) {
                json_object_object_add(p, "text", osr_json_new_string(pt->text.p, pt->text.n));
            } else if (pt->kind == OSR_PART_IMAGE) {
                if (pt->image.data) {
                    struct json_object *d = up_image_base64(&pt->image), *id;
                    if (!d) {
                        json_object_put(p);
                        continue;
                    }
                    id = json_object_new_object();
                    json_object_object_add(id, "mimeType",
                                           json_object_new_string(pt->image.mime ? pt->image.mime
                                                                                 : "image/png"));
                    json_object_object_add(id, "data", d);
                    json_object_object_add(p, "inlineData", id);
                } else {
                    struct json_object *fd = json_object_new_object();
                    json_object_object_add(fd, "fileUri", json_object_new_string(pt->image.url));
                    if (pt->image.mime)
                        json_object_object_add(fd, "mimeType",
                                               json_object_new_string(pt->image.mime));
                    json_object_object_add(p, "fileData", fd);
                }
            } else if (pt->kind == OSR_PART_TOOL_CALL) {
                struct json_object *fc = json_object_new_object();
                json_object_object_add(fc, "name", json_object_new_string(pt->call.name));
                json_object_object_add(fc, "args", up_args_object(pt->call.arguments));
                json_object_object_add(p, "functionCall", fc);
            } else if (pt->kind == OSR_PART_TOOL_RESULT) {
                const char *name = pt->result.name ? pt->result.name
                                                   : call_name(req, pt->result.call_id);
                struct json_object *fr = json_object_new_object(), *resp;
                resp = json_object_new_object();
                json_object_object_add(resp, "content",
                                       osr_json_new_string(pt->text.p, pt->text.n));
                json_object_object_add(fr, "name", json_object_new_string(name));
                json_object_object_add(fr, "response", resp);
                json_object_object_add(p, "functionResponse", fr);
            } else {
                json_object_put(p);
                continue;
            }
            json_object_array_add(parts, p);
        }
        if (json_object_array_length(parts) == 0) {
            json_object_put(parts);
            continue;
        }
        struct json_object *c = json_object_new_object();
        json_object_object_add(c, "role",
                               json_object_new_string(m->role == OSR_ROLE_ASSISTANT ? "model"
                                                                                    : "user"));
        json_object_object_add(c, "parts", parts);
        json_object_array_add(contents, c);
    }
    json_object_object_add(o, "contents", contents);
    if (sys.len) {
        struct json_object *si = json_object_new_object(), *parts = json_object_new_array();
        struct json_object *p = json_object_new_object();
        json_object_object_add(p, "text", osr_json_new_string(osr_buf_str(&sys), sys.len));
        json_object_array_add(parts, p);
        json_object_object_add(si, "parts", parts);
        json_object_object_add(o, "systemInstruction", si);
    }
    osr_buf_release(&sys);
    if (req->n_tools) {
        struct json_object *decls = json_object_new_array();
        for (size_t i = 0; i < req->n_tools; i++) {
            const struct osr_tool *t = &req->tools[i];
            struct json_object *d = json_object_new_object();
            json_object_object_add(d, "name", json_object_new_string(t->name));
            if (t->description)
                json_object_object_add(d, "description", json_object_new_string(t->description));
            struct json_object *ps = clean_schema(t->parameters, 0);
            if (ps)
                json_object_object_add(d, "parameters", ps);
            json_object_array_add(decls, d);
        }
        struct json_object *tools = json_object_new_array(), *fd = json_object_new_object();
        json_object_object_add(fd, "functionDeclarations", decls);
        json_object_array_add(tools, fd);
        json_object_object_add(o, "tools", tools);
        const char *mode = req->tool_choice == OSR_TOOL_CHOICE_NONE ? "NONE"
                           : req->tool_choice == OSR_TOOL_CHOICE_AUTO ? "AUTO"
                                                                      : "ANY";
        struct json_object *fcc = json_object_new_object(), *tc = json_object_new_object();
        json_object_object_add(fcc, "mode", json_object_new_string(mode));
        if (req->tool_choice == OSR_TOOL_CHOICE_NAMED) {
            struct json_object *names = json_object_new_array();
            json_object_array_add(names, json_object_new_string(req->tool_choice_name));
            json_object_object_add(fcc, "allowedFunctionNames", names);
        }
        json_object_object_add(tc, "functionCallingConfig", fcc);
        json_object_object_add(o, "toolConfig", tc);
    }
    struct json_object *gc = json_object_new_object();
    if (!isnan(s->temperature))
        json_object_object_add(gc, "temperature", json_object_new_double(s->temperature));
    if (!isnan(s->top_p))
        json_object_object_add(gc, "topP", json_object_new_double(s->top_p));
    if (s->top_k > 0)
        json_object_object_add(gc, "topK", json_object_new_int64(s->top_k));
    if (s->max_tokens > 0)
        json_object_object_add(gc, "maxOutputTokens", json_object_new_int64(s->max_tokens));
    if (s->has_seed)
        json_object_object_add(gc, "seed", json_object_new_int64(s->seed));
    if (s->n_stop) {
        struct json_object *st = json_object_new_array();
        for (size_t i = 0; i < s->n_stop; i++)
            json_object_array_add(st, json_object_new_string(s->stop[i]));
        json_object_object_add(gc, "stopSequences", st);
    }
    if (req->format.kind != OSR_FORMAT_TEXT) {
        json_object_object_add(gc, "responseMimeType", json_object_new_string("application/json"));
        struct json_object *rs = clean_schema(req->format.schema, 0);
        if (rs)
            json_object_object_add(gc, "responseSchema", rs);
    }
    int64_t budget = up_reasoning_budget(req);
    if (budget) {
        struct json_object *tc = json_object_new_object();
        json_object_object_add(tc, "thinkingBudget", json_object_new_int64(budget));
        json_object_object_add(tc, "includeThoughts", json_object_new_boolean(1));
        json_object_object_add(gc, "thinkingConfig", tc);
    }
    if (json_object_object_length(gc))
        json_object_object_add(o, "generationConfig", gc);
    else
        json_object_put(gc);
    return up_emit_json(o, out);
}

static int on_event(struct up_state *st, const struct osr_sse_event *ev)
{
    struct json_object *o = jparse(ev->data.p, ev->data.n);
    int rc = 0;
    if (!o) {
        rc = up_error(st, 502, "provider '%s' sent a chunk that is not JSON", st->provider_id);
        goto out;
    }
    struct json_object *err = jget(o, "error");
    if (err) {
        const char *msg = jstr(err, "message");
        rc = up_error(st, 502, "provider '%s' failed: %s", st->provider_id,
                      msg ? msg : "unknown error");
        goto out;
    }
    if ((rc = up_role(st)))
        goto out;
    struct json_object *um = jget(o, "usageMetadata");
    if (um) {
        int64_t pt = -1, ct = -1;
        jint(um, "promptTokenCount", &pt);
        jint(um, "candidatesTokenCount", &ct);
        up_set_usage(st, pt, ct);
    }
    struct json_object *cands = jget(o, "candidates");
    if (!cands || !json_object_is_type(cands, json_type_array) ||
        json_object_array_length(cands) == 0)
        goto out;
    struct json_object *c0 = json_object_array_get_idx(cands, 0);
    struct json_object *parts = jget(jget(c0, "content"), "parts");
    for (size_t i = 0; parts && json_object_is_type(parts, json_type_array) &&
                       i < json_object_array_length(parts);
         i++) {
        struct json_object *p = json_object_array_get_idx(parts, i);
        const char *t = jstr(p, "text");
        struct json_object *thought = jget(p, "thought");
        struct json_object *fc = jget(p, "functionCall");
        if (t) {
            bool is_thought = thought && json_object_get_boolean(thought);
            rc = is_thought ? up_reasoning(st, t, strlen(t)) : up_text(st, t, strlen(t));
        } else if (fc) {
            int idx;
            rc = up_call_start(st, (long)st->n_calls, jstr(fc, "id"), jstr(fc, "name"), &idx);
            if (rc)
                goto out;
            struct osr_buf a;
            osr_buf_init(&a, (size_t)8 * 1024 * 1024);
            struct json_object *args = jget(fc, "args");
            if (args)
                osr_json_append(&a, args);
            else
                osr_buf_puts(&a, "{}");
            rc = up_call_args(st, idx, osr_buf_str(&a), a.len);
            osr_buf_release(&a);
        }
        if (rc)
            goto out;
    }
    const char *fr = jstr(c0, "finishReason");
    if (fr)
        up_set_finish(st, strcmp(fr, "MAX_TOKENS") == 0 ? OSR_FINISH_LENGTH : OSR_FINISH_STOP,
                      NULL);
out:
    json_object_put(o);
    return rc;
}

const struct upstream_proto osr_up_gemini = {
    .ndjson = false,
    .url = url,
    .encode = encode,
    .on_event = on_event,
    .at_end = NULL,
};
