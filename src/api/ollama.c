/* ollama.c - Ollama's own /api/chat and /api/generate bodies and NDJSON answers.
 *
 * Decoding takes what real Ollama clients send: messages with images (base64), thinking,
 * tool_calls whose arguments are JSON objects and tool results with tool_name; function tools;
 * format "json" or a JSON Schema; options {temperature, top_p, top_k, min_p, num_predict, stop,
 * seed, num_ctx, repeat_penalty, repeat_last_n, presence_penalty, frequency_penalty} (other
 * runner options are accepted and ignored, as Ollama ignores what a runner cannot use);
 * stream (true unless false), keep_alive, think; for generate also prompt, system, suffix,
 * template, raw and images.  An empty message list or prompt is valid (Ollama uses it to load
 * a model); the route handler decides what to do with it.
 *
 * Encoding: one JSON object per line while streaming - text in message.content (chat) or
 * response (generate), reasoning in thinking, tool calls in one line with object arguments -
 * and a final line with done:true, done_reason and the statistics (total_duration,
 * load_duration, prompt_eval_count, prompt_eval_duration, eval_count, eval_duration, in
 * nanoseconds).  A failure mid-stream is an {"error":"..."} line.  No I/O here.
 */
#include <stdio.h>
#include <string.h>

#include "api_internal.h"
#include "osr/api_ollama.h"
#include "osr/clock.h"
#include "osr/json.h"

/* ---------------------------------------------------------------- decoding */

static int decode_images(struct osr_chat_request *req, struct osr_api_error *err,
                         struct osr_message *m, struct json_object *images, const char *path)
{
    size_t n = json_object_array_length(images);
    for (size_t i = 0; i < n; i++) {
        char ipath[API_PATH_MAX];
        osr_api_path_index(ipath, path, i);
        struct json_object *v = json_object_array_get_idx(images, i);
        if (!v || !json_object_is_type(v, json_type_string))
            return osr_api_fail(err, 400, ipath, "'%s' must be a base64 string", ipath);
        struct osr_part *p = osr_chat_message_add_part(req, m, OSR_PART_IMAGE);
        if (!p)
            return osr_api_fail(err, 413, path, "too many images in '%s'", path);
        const char *s = json_object_get_string(v);
        size_t sn = (size_t)json_object_get_string_len(v);
        /* Clients built for the OpenAI API sometimes send a data URL here. */
        int rc = strncmp(s, "data:", 5) == 0
                     ? osr_api_image_url(req, err, s, sn, ipath, &p->image)
                     : osr_api_image_base64(req, err, s, sn, NULL, ipath, &p->image);
        if (rc)
            return rc;
    }
    return OSR_OK;
}

static int decode_tool_calls(struct osr_chat_request *req, struct osr_api_error *err,
                             struct osr_message *m, struct json_object *calls, const char *path)
{
    size_t n = json_object_array_length(calls);
    for (size_t i = 0; i < n; i++) {
        char ipath[API_PATH_MAX], fpath[API_PATH_MAX], apath[API_PATH_MAX];
        osr_api_path_index(ipath, path, i);
        struct json_object *tc = json_object_array_get_idx(calls, i), *fn = NULL;
        if (!tc || !json_object_is_type(tc, json_type_object))
            return osr_api_fail(err, 400, ipath, "'%s' must be an object", ipath);
        struct osr_part *p = osr_chat_message_add_part(req, m, OSR_PART_TOOL_CALL);
        if (!p)
            return osr_api_fail(err, 413, path, "too many tool calls in '%s'", path);
        int rc = osr_api_get_str(req, err, tc, ipath, "id", false, &p->call.id, NULL);
        rc = rc ? rc : osr_api_get_typed(err, tc, ipath, "function", json_type_object, true, &fn);
        osr_api_path(fpath, ipath, "function");
        rc = rc ? rc : osr_api_get_str(req, err, fn, fpath, "name", true, &p->call.name, NULL);
        if (rc)
            return rc;
        struct json_object *args = osr_api_field(fn, "arguments");
        osr_api_path(apath, fpath, "arguments");
        if (!args)
            p->call.arguments = OSR_STR_LIT("{}");
        else if (json_object_is_type(args, json_type_object))
            rc = osr_api_json_text(req, err, args, &p->call.arguments);
        else if (json_object_is_type(args, json_type_string))
            rc = osr_api_string_value(req, err, args, apath, &p->call.arguments);
        else
            rc = osr_api_fail(err, 400, apath, "'%s' must be an object", apath);
        if (rc)
            return rc;
    }
    return OSR_OK;
}

static int decode_message(struct osr_chat_request *req, struct osr_api_error *err,
                          struct json_object *msg, const char *where)
{
    char path[API_PATH_MAX];
    if (!json_object_is_type(msg, json_type_object))
        return osr_api_fail(err, 400, where, "'%s' must be an object", where);
    const char *role_s = NULL, *content = "", *thinking = NULL;
    size_t cn = 0, tn = 0;
    int rc = osr_api_get_str(req, err, msg, where, "role", true, &role_s, NULL);
    if (rc)
        return rc;
    enum osr_role role;
    if (strcmp(role_s, "system") == 0)
        role = OSR_ROLE_SYSTEM;
    else if (strcmp(role_s, "user") == 0)
        role = OSR_ROLE_USER;
    else if (strcmp(role_s, "assistant") == 0)
        role = OSR_ROLE_ASSISTANT;
    else if (strcmp(role_s, "tool") == 0)
        role = OSR_ROLE_TOOL;
    else {
        osr_api_path(path, where, "role");
        return osr_api_fail(err, 400, path,
                            "'%s' must be one of system, user, assistant, tool (got '%s')", path,
                            role_s);
    }
    struct osr_message *m = osr_chat_request_add_message(req, role);
    if (!m)
        return osr_api_fail(err, 413, "messages", "too many messages");
    rc = osr_api_get_str(req, err, msg, where, "content", false, &content, &cn);
    rc = rc ? rc : osr_api_get_str(req, err, msg, where, "thinking", false, &thinking, &tn);
    if (rc)
        return rc;
    if (role == OSR_ROLE_TOOL) {
        struct osr_part *p = osr_chat_message_add_part(req, m, OSR_PART_TOOL_RESULT);
        if (!p)
            return osr_api_fail(err, 413, NULL, "request is too large");
        rc = osr_api_get_str(req, err, msg, where, "tool_name", false, &p->result.name, NULL);
        rc = rc ? rc
                : osr_api_get_str(req, err, msg, where, "tool_call_id", false, &p->result.call_id,
                                  NULL);
        p->text = osr_str_make(content, cn);
        return rc;
    }
    if (thinking && tn) {
        struct osr_part *p = osr_chat_message_add_part(req, m, OSR_PART_REASONING);
        if (!p)
            return osr_api_fail(err, 413, NULL, "request is too large");
        p->text = osr_str_make(thinking, tn);
    }
    if (cn || role != OSR_ROLE_ASSISTANT) {
        struct osr_part *p = osr_chat_message_add_part(req, m, OSR_PART_TEXT);
        if (!p)
            return osr_api_fail(err, 413, NULL, "request is too large");
        p->text = osr_str_make(content, cn);
    }
    struct json_object *images = NULL, *calls = NULL;
    rc = osr_api_get_typed(err, msg, where, "images", json_type_array, false, &images);
    rc = rc ? rc : osr_api_get_typed(err, msg, where, "tool_calls", json_type_array, false, &calls);
    if (rc)
        return rc;
    if (images) {
        osr_api_path(path, where, "images");
        rc = decode_images(req, err, m, images, path);
        if (rc)
            return rc;
    }
    if (calls) {
        osr_api_path(path, where, "tool_calls");
        if (role != OSR_ROLE_ASSISTANT)
            return osr_api_fail(err, 400, path, "'%s' is only allowed on assistant messages", path);
        return decode_tool_calls(req, err, m, calls, path);
    }
    return OSR_OK;
}

static int decode_tools(struct osr_chat_request *req, struct osr_api_error *err,
                        struct json_object *tools)
{
    size_t n = json_object_array_length(tools);
    if (n > OSR_CHAT_MAX_TOOLS)
        return osr_api_fail(err, 400, "tools", "'tools' may hold at most %d tools",
                            OSR_CHAT_MAX_TOOLS);
    for (size_t i = 0; i < n; i++) {
        char ipath[API_PATH_MAX], fpath[API_PATH_MAX], tpath[API_PATH_MAX];
        osr_api_path_index(ipath, "tools", i);
        struct json_object *t = json_object_array_get_idx(tools, i), *fn = NULL, *params = NULL;
        if (!t || !json_object_is_type(t, json_type_object))
            return osr_api_fail(err, 400, ipath, "'%s' must be an object", ipath);
        const char *type = NULL;
        int rc = osr_api_get_str(req, err, t, ipath, "type", false, &type, NULL);
        if (rc)
            return rc;
        osr_api_path(tpath, ipath, "type");
        if (type && strcmp(type, "function") != 0)
            return osr_api_fail(err, 400, tpath,
                                "tool type '%s' is not supported; use "
                                "\"function\"",
                                type);
        struct osr_tool *tool = osr_chat_request_add_tool(req);
        if (!tool)
            return osr_api_fail(err, 413, NULL, "request is too large");
        rc = osr_api_get_typed(err, t, ipath, "function", json_type_object, true, &fn);
        osr_api_path(fpath, ipath, "function");
        rc = rc ? rc : osr_api_get_str(req, err, fn, fpath, "name", true, &tool->name, NULL);
        rc = rc ? rc
                : osr_api_get_str(req, err, fn, fpath, "description", false, &tool->description,
                                  NULL);
        rc = rc ? rc
                : osr_api_get_typed(err, fn, fpath, "parameters", json_type_object, false, &params);
        if (rc)
            return rc;
        if (!osr_api_valid_tool_name(tool->name)) {
            osr_api_path(tpath, fpath, "name");
            return osr_api_fail(err, 400, tpath,
                                "'%s' must be 1-64 letters, digits, '_' or '-' (got '%s')", tpath,
                                tool->name);
        }
        tool->parameters = osr_api_hold(req, params);
    }
    return OSR_OK;
}

static int decode_options(struct osr_chat_request *req, struct osr_api_error *err,
                          struct json_object *root)
{
    struct json_object *o = NULL;
    int rc = osr_api_get_typed(err, root, "", "options", json_type_object, false, &o);
    if (rc || !o)
        return rc;
    struct osr_sampling *s = &req->sampling;
    int64_t num_predict = 0;
    bool has_np = false;
    rc = osr_api_get_double(err, o, "options", "temperature", 0, 100, &s->temperature);
    rc = rc ? rc : osr_api_get_double(err, o, "options", "top_p", 0, 1, &s->top_p);
    rc = rc ? rc : osr_api_get_double(err, o, "options", "min_p", 0, 1, &s->min_p);
    rc = rc ? rc : osr_api_get_int(err, o, "options", "top_k", 0, 100000, &s->top_k, NULL);
    rc = rc ? rc
            : osr_api_get_double(err, o, "options", "repeat_penalty", 0, 100, &s->repeat_penalty);
    rc = rc ? rc
            : osr_api_get_int(err, o, "options", "repeat_last_n", -1, 1 << 24, &s->repeat_last_n,
                              NULL);
    rc = rc ? rc
            : osr_api_get_double(err, o, "options", "presence_penalty", -100, 100,
                                 &s->presence_penalty);
    rc = rc ? rc
            : osr_api_get_double(err, o, "options", "frequency_penalty", -100, 100,
                                 &s->frequency_penalty);
    rc = rc ? rc
            : osr_api_get_int(err, o, "options", "seed", INT64_MIN, INT64_MAX, &s->seed,
                              &s->has_seed);
    rc = rc ? rc
            : osr_api_get_int(err, o, "options", "num_predict", -2, INT32_MAX, &num_predict,
                              &has_np);
    rc = rc ? rc : osr_api_get_int(err, o, "options", "num_ctx", 0, 1 << 24, &req->x.num_ctx, NULL);
    rc = rc ? rc : osr_api_stop(req, err, osr_api_field(o, "stop"), "options.stop");
    if (rc)
        return rc;
    /* -1 is "no limit" and -2 "fill the context" in Ollama: both leave the budget unset. */
    if (has_np && num_predict > 0)
        s->max_tokens = num_predict;
    if (has_np && num_predict == 0)
        return osr_api_fail(err, 400, "options.num_predict",
                            "'options.num_predict' must be positive, -1 or -2");
    return OSR_OK;
}

static int decode_common(struct osr_chat_request *req, struct osr_api_error *err,
                         struct json_object *root)
{
    struct json_object *format = osr_api_field(root, "format");
    struct json_object *ka = osr_api_field(root, "keep_alive");
    struct json_object *think = osr_api_field(root, "think");
    req->stream = true; /* Ollama streams unless told not to */
    int rc = osr_api_get_bool(err, root, "", "stream", &req->stream, NULL);
    rc = rc ? rc : decode_options(req, err, root);
    if (rc)
        return rc;
    if (format) {
        if (json_object_is_type(format, json_type_string)) {
            const char *f = json_object_get_string(format);
            if (strcmp(f, "json") == 0)
                req->format.kind = OSR_FORMAT_JSON_OBJECT;
            else if (f[0])
                return osr_api_fail(err, 400, "format",
                                    "'format' must be \"json\" or a JSON Schema object (got "
                                    "'%s')",
                                    f);
        } else if (json_object_is_type(format, json_type_object)) {
            req->format.kind = OSR_FORMAT_JSON_SCHEMA;
            req->format.schema = osr_api_hold(req, format);
        } else {
            return osr_api_fail(err, 400, "format",
                                "'format' must be \"json\" or a JSON Schema object");
        }
    }
    if (ka) {
        if (json_object_is_type(ka, json_type_string)) {
            rc = osr_api_get_str(req, err, root, "", "keep_alive", false, &req->x.keep_alive, NULL);
        } else if (json_object_is_type(ka, json_type_int) ||
                   json_object_is_type(ka, json_type_double)) {
            /* A number is seconds; keep it in Ollama's duration spelling. */
            char buf[48];
            snprintf(buf, sizeof(buf), "%.0fs", json_object_get_double(ka));
            rc = osr_api_copy(req, err, buf, strlen(buf), &req->x.keep_alive);
        } else {
            rc = osr_api_fail(err, 400, "keep_alive",
                              "'keep_alive' must be a duration string or a number of seconds");
        }
        if (rc)
            return rc;
    }
    if (think) {
        if (json_object_is_type(think, json_type_boolean)) {
            req->x.think = json_object_get_boolean(think);
        } else if (json_object_is_type(think, json_type_string)) {
            const char *t = json_object_get_string(think);
            if (strcmp(t, "low") && strcmp(t, "medium") && strcmp(t, "high"))
                return osr_api_fail(err, 400, "think",
                                    "'think' must be a boolean or \"low\", \"medium\", \"high\"");
            req->x.think = 1;
            rc = osr_api_copy(req, err, t, strlen(t), &req->x.reasoning_effort);
        } else {
            return osr_api_fail(err, 400, "think", "'think' must be a boolean or a level");
        }
    }
    return rc;
}

static int decode_model(struct osr_chat_request *req, struct osr_api_error *err,
                        struct json_object *root)
{
    int rc = osr_api_get_str(req, err, root, "", "model", true, &req->model, NULL);
    if (!rc && !req->model[0])
        rc = osr_api_fail(err, 400, "model", "model is required");
    return rc;
}

int osr_ollama_chat_decode(struct osr_chat_request *req, const char *body, size_t n,
                           struct osr_api_error *err)
{
    struct json_object *root, *messages = NULL, *tools = NULL;
    int rc = osr_api_parse_body(req, body, n, &root, err);
    rc = rc ? rc : decode_model(req, err, root);
    rc = rc ? rc : osr_api_get_typed(err, root, "", "tools", json_type_array, false, &tools);
    if (!rc && tools)
        rc = decode_tools(req, err, tools);
    rc = rc ? rc : osr_api_get_typed(err, root, "", "messages", json_type_array, false, &messages);
    if (rc)
        return rc;
    size_t nm = messages ? json_object_array_length(messages) : 0;
    if (nm > OSR_CHAT_MAX_MESSAGES)
        return osr_api_fail(err, 413, "messages", "too many messages");
    for (size_t i = 0; i < nm; i++) {
        char where[API_PATH_MAX];
        osr_api_path_index(where, "messages", i);
        struct json_object *m = json_object_array_get_idx(messages, i);
        rc = m ? decode_message(req, err, m, where)
               : osr_api_fail(err, 400, where, "'%s' must be an object", where);
        if (rc)
            return rc;
    }
    return decode_common(req, err, root);
}

int osr_ollama_generate_decode(struct osr_chat_request *req, const char *body, size_t n,
                               struct osr_api_error *err)
{
    struct json_object *root, *images = NULL;
    const char *system = NULL, *prompt = NULL;
    size_t sn = 0, pn = 0;
    int rc = osr_api_parse_body(req, body, n, &root, err);
    rc = rc ? rc : decode_model(req, err, root);
    rc = rc ? rc : osr_api_get_str(req, err, root, "", "system", false, &system, &sn);
    rc = rc ? rc : osr_api_get_str(req, err, root, "", "prompt", false, &prompt, &pn);
    rc = rc ? rc : osr_api_get_str(req, err, root, "", "suffix", false, &req->x.suffix, NULL);
    rc = rc ? rc
            : osr_api_get_str(req, err, root, "", "template", false, &req->x.template_override,
                              NULL);
    rc = rc ? rc : osr_api_get_bool(err, root, "", "raw", &req->x.raw, NULL);
    rc = rc ? rc : osr_api_get_typed(err, root, "", "images", json_type_array, false, &images);
    if (rc)
        return rc;
    if (system && sn) {
        struct osr_message *m = osr_chat_request_add_message(req, OSR_ROLE_SYSTEM);
        struct osr_part *p = m ? osr_chat_message_add_part(req, m, OSR_PART_TEXT) : NULL;
        if (!p)
            return osr_api_fail(err, 413, NULL, "request is too large");
        p->text = osr_str_make(system, sn);
    }
    if (prompt || images) {
        struct osr_message *m = osr_chat_request_add_message(req, OSR_ROLE_USER);
        struct osr_part *p = m ? osr_chat_message_add_part(req, m, OSR_PART_TEXT) : NULL;
        if (!p)
            return osr_api_fail(err, 413, NULL, "request is too large");
        p->text = osr_str_make(prompt ? prompt : "", prompt ? pn : 0);
        if (images) {
            rc = decode_images(req, err, m, images, "images");
            if (rc)
                return rc;
        }
    }
    return decode_common(req, err, root);
}

/* ---------------------------------------------------------------- encoding */

static bool is_chat(const struct osr_api_encoder *enc)
{
    return enc->proto == OSR_API_OLLAMA_CHAT;
}

/* {"model":..,"created_at":.. */
static int line_open(struct osr_api_encoder *enc, struct osr_buf *out)
{
    char when[OSR_ISO8601_MAX];
    osr_time_iso8601(when, enc->now_ms, 1);
    int rc = osr_buf_puts(out, "{\"model\":");
    rc = rc ? rc : osr_api_put_cstr(out, enc->model);
    rc = rc ? rc : osr_buf_puts(out, ",\"created_at\":");
    return rc ? rc : osr_api_put_cstr(out, when);
}

static int put_tool_calls(struct osr_api_encoder *enc, struct osr_buf *out)
{
    int rc = osr_buf_puts(out, ",\"tool_calls\":[");
    for (size_t i = 0; i < enc->n_tools && !rc; i++) {
        const struct api_tool_acc *t = &enc->tools[i];
        rc = osr_buf_puts(out, i ? ",{\"id\":" : "{\"id\":");
        rc = rc ? rc : osr_api_put_cstr(out, t->id);
        rc = rc ? rc : osr_buf_appendf(out, ",\"function\":{\"index\":%zu,\"name\":", i);
        rc = rc ? rc : osr_api_put_cstr(out, t->name);
        rc = rc ? rc : osr_buf_puts(out, ",\"arguments\":");
        rc = rc ? rc : osr_api_put_args_object(out, &t->args);
        rc = rc ? rc : osr_buf_puts(out, "}}");
    }
    return rc ? rc : osr_buf_putc(out, ']');
}

/* A line (or the body) carrying text, thinking and, when calls is set, the tool calls. */
static int content_line(struct osr_api_encoder *enc, struct osr_buf *out, struct osr_str text,
                        struct osr_str thinking, bool calls, bool done)
{
    int rc = line_open(enc, out);
    if (is_chat(enc)) {
        rc = rc ? rc : osr_buf_puts(out, ",\"message\":{\"role\":\"assistant\",\"content\":");
        rc = rc ? rc : osr_api_put_str(out, text.p, text.n);
        if (thinking.n) {
            rc = rc ? rc : osr_buf_puts(out, ",\"thinking\":");
            rc = rc ? rc : osr_api_put_str(out, thinking.p, thinking.n);
        }
        if (calls && enc->n_tools)
            rc = rc ? rc : put_tool_calls(enc, out);
        rc = rc ? rc : osr_buf_putc(out, '}');
    } else {
        rc = rc ? rc : osr_buf_puts(out, ",\"response\":");
        rc = rc ? rc : osr_api_put_str(out, text.p, text.n);
        if (thinking.n) {
            rc = rc ? rc : osr_buf_puts(out, ",\"thinking\":");
            rc = rc ? rc : osr_api_put_str(out, thinking.p, thinking.n);
        }
    }
    if (!done)
        return rc ? rc : osr_buf_puts(out, ",\"done\":false}\n");
    const char *reason =
        enc->finished && enc->finish == OSR_FINISH_LENGTH && !enc->n_tools ? "length" : "stop";
    const struct osr_usage *u = &enc->usage;
    bool known = enc->have_usage;
    rc = rc ? rc
            : osr_buf_appendf(
                  out,
                  ",\"done\":true,\"done_reason\":\"%s\",\"total_duration\":%lld,"
                  "\"load_duration\":%lld,\"prompt_eval_count\":%lld,"
                  "\"prompt_eval_duration\":%lld,\"eval_count\":%lld,"
                  "\"eval_duration\":%lld}",
                  reason, (long long)(known ? u->total_ns : 0), (long long)(known ? u->load_ns : 0),
                  (long long)osr_api_prompt_tokens(enc), (long long)(known ? u->prompt_ns : 0),
                  (long long)osr_api_completion_tokens(enc), (long long)(known ? u->eval_ns : 0));
    return rc;
}

static int stream_event(struct osr_api_encoder *enc, const struct osr_event *ev,
                        struct osr_buf *out)
{
    switch (ev->kind) {
    case OSR_EV_TEXT_DELTA:
        if (ev->text.n == 0)
            return OSR_OK;
        return content_line(enc, out, ev->text, OSR_STR_LIT(""), false, false);
    case OSR_EV_REASONING_DELTA:
        if (ev->text.n == 0)
            return OSR_OK;
        return content_line(enc, out, OSR_STR_LIT(""), ev->text, false, false);
    case OSR_EV_FINISH:
        /* Ollama hands out tool calls whole, so they go out once the model is done. */
        if (enc->n_tools && is_chat(enc))
            return content_line(enc, out, OSR_STR_LIT(""), OSR_STR_LIT(""), true, false);
        return OSR_OK;
    case OSR_EV_ERROR: {
        int rc = osr_buf_puts(out, "{\"error\":");
        rc = rc ? rc : osr_api_put_cstr(out, enc->error_msg);
        return rc ? rc : osr_buf_puts(out, "}\n");
    }
    default:
        return OSR_OK;
    }
}

static int stream_end(struct osr_api_encoder *enc, struct osr_buf *out)
{
    if (enc->failed)
        return OSR_OK;
    int rc = content_line(enc, out, OSR_STR_LIT(""), OSR_STR_LIT(""), false, true);
    return rc ? rc : osr_buf_putc(out, '\n');
}

static int body(struct osr_api_encoder *enc, struct osr_buf *out)
{
    if (enc->failed) {
        struct osr_api_error e = {0};
        osr_api_error_set(&e, enc->status, NULL, "%s", enc->error_msg);
        return osr_api_error_body(enc->proto, &e, out);
    }
    return content_line(enc, out, osr_str_make(osr_buf_str(&enc->text), enc->text.len),
                        osr_str_make(osr_buf_str(&enc->reasoning), enc->reasoning.len), true, true);
}

const struct api_encoder_ops osr_api_ollama_chat_ops = {
    .stream_type = "application/x-ndjson",
    .body_type = OSR_API_JSON_CONTENT_TYPE,
    .event = stream_event,
    .stream_end = stream_end,
    .body = body,
};

const struct api_encoder_ops osr_api_ollama_generate_ops = {
    .stream_type = "application/x-ndjson",
    .body_type = OSR_API_JSON_CONTENT_TYPE,
    .event = stream_event,
    .stream_end = stream_end,
    .body = body,
};
