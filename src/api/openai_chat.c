/* openai_chat.c - OpenAI Chat Completions: body -> canonical request, events -> chunks/body.
 *
 * Decoding follows the public API reference: every message role (system, developer, user,
 * assistant, tool), string or part-array content (text, image_url with data URLs decoded),
 * assistant tool_calls, function tools and tool_choice, response_format, stop as a string or a
 * list, max_tokens / max_completion_tokens, the sampling knobs, n (only 1), logprobs and
 * top_logprobs (0..20, only with logprobs), stream and
 * stream_options, plus Osaurus' session_id, cache_hint and modelOptions.  Anything malformed is
 * a 400 naming the field.
 *
 * Encoding writes the SSE chunks the SDKs expect (role chunk first, content and tool-call
 * deltas, one finish chunk, a usage chunk with "choices":[] only when asked, "data: [DONE]")
 * or, from the same events, the chat.completion body.  LOGPROBS events become the choice's
 * logprobs.content entries: all of them in the body, while streaming those gathered since the
 * previous chunk on the next chunk.  No I/O here.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <utf8proc.h>

#include "api_internal.h"
#include "osr/api_openai_chat.h"

#define P OSR_API_OPENAI_CHAT

/* ---------------------------------------------------------------- decoding */

static int decode_text_parts(struct osr_chat_request *req, struct osr_api_error *err,
                             struct osr_message *m, struct json_object *content, const char *where,
                             bool allow_images, bool join_as_result, struct osr_str *joined)
{
    size_t n = json_object_array_length(content);
    struct osr_buf acc;
    int rc = OSR_OK;
    osr_buf_init(&acc, req->arena.max);
    for (size_t i = 0; i < n && !rc; i++) {
        char ipath[API_PATH_MAX], tpath[API_PATH_MAX];
        osr_api_path_index(ipath, where, i);
        struct json_object *part = json_object_array_get_idx(content, i);
        if (!part || !json_object_is_type(part, json_type_object)) {
            rc = osr_api_fail(err, 400, ipath, "'%s' must be an object", ipath);
            break;
        }
        const char *type = NULL;
        rc = osr_api_get_str(req, err, part, ipath, "type", true, &type, NULL);
        if (rc)
            break;
        if (strcmp(type, "text") == 0 || strcmp(type, "input_text") == 0 ||
            strcmp(type, "refusal") == 0) {
            const char *key = strcmp(type, "refusal") == 0 ? "refusal" : "text";
            osr_api_path(tpath, ipath, key);
            struct osr_str text;
            struct json_object *tv = osr_api_field(part, key);
            if (!tv) {
                rc = osr_api_fail(err, 400, tpath, "missing required parameter: '%s'", tpath);
                break;
            }
            rc = osr_api_string_value(req, err, tv, tpath, &text);
            if (rc)
                break;
            if (join_as_result) {
                rc = osr_buf_append(&acc, text.p, text.n);
                if (rc)
                    rc = osr_api_fail(err, 413, NULL, "request is too large");
            } else {
                struct osr_part *p = osr_chat_message_add_part(req, m, OSR_PART_TEXT);
                if (!p)
                    rc = osr_api_fail(err, 413, where, "too many content parts in '%s'", where);
                else
                    p->text = text;
            }
        } else if (strcmp(type, "image_url") == 0 && allow_images) {
            osr_api_path(tpath, ipath, "image_url");
            struct json_object *iu = osr_api_field(part, "image_url");
            const char *url = NULL, *detail = NULL;
            size_t url_len = 0;
            if (iu && json_object_is_type(iu, json_type_string)) {
                url = json_object_get_string(iu);
                url_len = (size_t)json_object_get_string_len(iu);
            } else if (iu && json_object_is_type(iu, json_type_object)) {
                rc = osr_api_get_str(req, err, iu, tpath, "url", true, &url, &url_len);
                if (!rc)
                    rc = osr_api_get_str(req, err, iu, tpath, "detail", false, &detail, NULL);
                if (rc)
                    break;
            } else {
                rc = osr_api_fail(err, 400, tpath, "'%s' must be an object with a 'url'", tpath);
                break;
            }
            struct osr_part *p = osr_chat_message_add_part(req, m, OSR_PART_IMAGE);
            if (!p) {
                rc = osr_api_fail(err, 413, where, "too many content parts in '%s'", where);
                break;
            }
            char upath[API_PATH_MAX];
            osr_api_path(upath, tpath, "url");
            rc = osr_api_image_url(req, err, url, url_len, upath, &p->image);
            p->image.detail = detail;
        } else {
            osr_api_path(tpath, ipath, "type");
            rc =
                osr_api_fail(err, 400, tpath, "content part type '%s' is not supported here", type);
        }
    }
    if (!rc && join_as_result) {
        const char *p;
        rc = osr_api_copy(req, err, osr_buf_str(&acc), acc.len, &p);
        if (!rc)
            *joined = osr_str_make(p, acc.len);
    }
    osr_buf_release(&acc);
    return rc;
}

static int decode_tool_calls(struct osr_chat_request *req, struct osr_api_error *err,
                             struct osr_message *m, struct json_object *calls, const char *where)
{
    size_t n = json_object_array_length(calls);
    for (size_t i = 0; i < n; i++) {
        char ipath[API_PATH_MAX], fpath[API_PATH_MAX], apath[API_PATH_MAX];
        osr_api_path_index(ipath, where, i);
        struct json_object *tc = json_object_array_get_idx(calls, i);
        if (!tc || !json_object_is_type(tc, json_type_object))
            return osr_api_fail(err, 400, ipath, "'%s' must be an object", ipath);
        const char *id = "", *type = NULL, *name = NULL;
        struct json_object *fn = NULL;
        int rc = osr_api_get_str(req, err, tc, ipath, "id", true, &id, NULL);
        rc = rc ? rc : osr_api_get_str(req, err, tc, ipath, "type", false, &type, NULL);
        if (!rc && type && strcmp(type, "function") != 0) {
            osr_api_path(fpath, ipath, "type");
            rc = osr_api_fail(err, 400, fpath, "'%s' must be \"function\"", fpath);
        }
        rc = rc ? rc : osr_api_get_typed(err, tc, ipath, "function", json_type_object, true, &fn);
        osr_api_path(fpath, ipath, "function");
        rc = rc ? rc : osr_api_get_str(req, err, fn, fpath, "name", true, &name, NULL);
        if (rc)
            return rc;
        struct osr_part *p = osr_chat_message_add_part(req, m, OSR_PART_TOOL_CALL);
        if (!p)
            return osr_api_fail(err, 413, where, "too many tool calls in '%s'", where);
        p->call.id = id;
        p->call.name = name;
        struct json_object *args = osr_api_field(fn, "arguments");
        osr_api_path(apath, fpath, "arguments");
        if (!args) {
            p->call.arguments = OSR_STR_LIT("{}");
        } else if (json_object_is_type(args, json_type_string)) {
            rc = osr_api_string_value(req, err, args, apath, &p->call.arguments);
        } else if (json_object_is_type(args, json_type_object)) {
            /* Not the documented shape, but several clients send an object; keep its text. */
            rc = osr_api_json_text(req, err, args, &p->call.arguments);
        } else {
            rc = osr_api_fail(err, 400, apath, "'%s' must be a string of JSON", apath);
        }
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
    const char *role_s = NULL;
    int rc = osr_api_get_str(req, err, msg, where, "role", true, &role_s, NULL);
    if (rc)
        return rc;
    enum osr_role role;
    if (strcmp(role_s, "system") == 0)
        role = OSR_ROLE_SYSTEM;
    else if (strcmp(role_s, "developer") == 0)
        role = OSR_ROLE_DEVELOPER;
    else if (strcmp(role_s, "user") == 0)
        role = OSR_ROLE_USER;
    else if (strcmp(role_s, "assistant") == 0)
        role = OSR_ROLE_ASSISTANT;
    else if (strcmp(role_s, "tool") == 0)
        role = OSR_ROLE_TOOL;
    else {
        osr_api_path(path, where, "role");
        return osr_api_fail(err, 400, path,
                            "'%s' must be one of system, developer, user, assistant, tool "
                            "(got '%s')",
                            path, role_s);
    }
    struct osr_message *m = osr_chat_request_add_message(req, role);
    if (!m)
        return osr_api_fail(err, 413, "messages", "too many messages");
    rc = osr_api_get_str(req, err, msg, where, "name", false, &m->name, NULL);
    if (rc)
        return rc;

    struct json_object *content = osr_api_field(msg, "content");
    osr_api_path(path, where, "content");
    bool is_str = content && json_object_is_type(content, json_type_string);
    bool is_arr = content && json_object_is_type(content, json_type_array);
    if (content && !is_str && !is_arr)
        return osr_api_fail(err, 400, path, "'%s' must be a string or an array of parts", path);

    if (role == OSR_ROLE_TOOL) {
        const char *call_id = NULL;
        rc = osr_api_get_str(req, err, msg, where, "tool_call_id", true, &call_id, NULL);
        if (rc)
            return rc;
        if (!content)
            return osr_api_fail(err, 400, path, "missing required parameter: '%s'", path);
        struct osr_part *p = osr_chat_message_add_part(req, m, OSR_PART_TOOL_RESULT);
        if (!p)
            return osr_api_fail(err, 413, NULL, "request is too large");
        p->result.call_id = call_id;
        if (is_str)
            return osr_api_string_value(req, err, content, path, &p->text);
        return decode_text_parts(req, err, m, content, path, false, true, &p->text);
    }

    if (role == OSR_ROLE_ASSISTANT) {
        struct json_object *rc_v = osr_api_field(msg, "reasoning_content");
        if (rc_v) {
            struct osr_part *p = osr_chat_message_add_part(req, m, OSR_PART_REASONING);
            char rpath[API_PATH_MAX];
            osr_api_path(rpath, where, "reasoning_content");
            if (!p)
                return osr_api_fail(err, 413, NULL, "request is too large");
            rc = osr_api_string_value(req, err, rc_v, rpath, &p->text);
            if (rc)
                return rc;
        }
    }

    if (!content) {
        if (role != OSR_ROLE_ASSISTANT)
            return osr_api_fail(err, 400, path, "missing required parameter: '%s'", path);
    } else if (is_str) {
        struct osr_str text;
        rc = osr_api_string_value(req, err, content, path, &text);
        if (rc)
            return rc;
        /* An assistant turn that only calls tools often carries "" as content. */
        if (text.n || role != OSR_ROLE_ASSISTANT) {
            struct osr_part *p = osr_chat_message_add_part(req, m, OSR_PART_TEXT);
            if (!p)
                return osr_api_fail(err, 413, NULL, "request is too large");
            p->text = text;
        }
    } else {
        rc = decode_text_parts(req, err, m, content, path, role == OSR_ROLE_USER, false, NULL);
        if (rc)
            return rc;
    }

    struct json_object *calls = NULL;
    rc = osr_api_get_typed(err, msg, where, "tool_calls", json_type_array, false, &calls);
    if (rc)
        return rc;
    if (calls) {
        osr_api_path(path, where, "tool_calls");
        if (role != OSR_ROLE_ASSISTANT)
            return osr_api_fail(err, 400, path, "'%s' is only allowed on assistant messages", path);
        rc = decode_tool_calls(req, err, m, calls, path);
        if (rc)
            return rc;
    }
    if (osr_api_field(msg, "function_call"))
        return osr_api_fail(err, 400, "function_call",
                            "'function_call' is deprecated and not supported; use 'tool_calls'");
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
        char ipath[API_PATH_MAX], fpath[API_PATH_MAX];
        osr_api_path_index(ipath, "tools", i);
        struct json_object *t = json_object_array_get_idx(tools, i);
        if (!t || !json_object_is_type(t, json_type_object))
            return osr_api_fail(err, 400, ipath, "'%s' must be an object", ipath);
        int rc = osr_api_check_function_type(req, err, t, ipath);
        struct json_object *fn = NULL;
        rc = rc ? rc : osr_api_get_typed(err, t, ipath, "function", json_type_object, true, &fn);
        if (rc)
            return rc;
        osr_api_path(fpath, ipath, "function");
        rc = osr_api_decode_function(req, err, fn, fpath);
        if (rc)
            return rc;
    }
    return OSR_OK;
}

static int decode_tool_choice(struct osr_chat_request *req, struct osr_api_error *err,
                              struct json_object *v)
{
    if (!v)
        return OSR_OK;
    if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        if (strcmp(s, "auto") == 0)
            req->tool_choice = OSR_TOOL_CHOICE_AUTO;
        else if (strcmp(s, "none") == 0)
            req->tool_choice = OSR_TOOL_CHOICE_NONE;
        else if (strcmp(s, "required") == 0)
            req->tool_choice = OSR_TOOL_CHOICE_REQUIRED;
        else
            return osr_api_fail(err, 400, "tool_choice",
                                "'tool_choice' must be \"auto\", \"none\", \"required\" or "
                                "{\"type\":\"function\",\"function\":{\"name\":...}}");
    } else if (json_object_is_type(v, json_type_object)) {
        const char *type = NULL, *name = NULL;
        struct json_object *fn = NULL;
        int rc = osr_api_get_str(req, err, v, "tool_choice", "type", true, &type, NULL);
        if (rc)
            return rc;
        if (strcmp(type, "function") != 0)
            return osr_api_fail(err, 400, "tool_choice.type",
                                "'tool_choice.type' must be \"function\"");
        rc = osr_api_get_typed(err, v, "tool_choice", "function", json_type_object, true, &fn);
        rc = rc ? rc
                : osr_api_get_str(req, err, fn, "tool_choice.function", "name", true, &name, NULL);
        if (rc)
            return rc;
        if (req->n_tools == 0)
            return osr_api_fail(err, 400, "tool_choice",
                                "'tool_choice' names a tool but no 'tools' were given");
        return osr_api_named_choice(req, err, name, "tool_choice.function.name");
    } else {
        return osr_api_fail(err, 400, "tool_choice",
                            "'tool_choice' must be a string or an "
                            "object");
    }
    if (req->tool_choice == OSR_TOOL_CHOICE_REQUIRED && req->n_tools == 0)
        return osr_api_fail(err, 400, "tool_choice",
                            "'tool_choice' is \"required\" but no 'tools' were given");
    return OSR_OK;
}

static int decode_response_format(struct osr_chat_request *req, struct osr_api_error *err,
                                  struct json_object *root)
{
    struct json_object *rf = NULL, *js = NULL, *schema = NULL;
    int rc = osr_api_get_typed(err, root, "", "response_format", json_type_object, false, &rf);
    if (rc || !rf)
        return rc;
    const char *type = NULL;
    rc = osr_api_get_str(req, err, rf, "response_format", "type", true, &type, NULL);
    if (rc)
        return rc;
    if (strcmp(type, "text") == 0) {
        req->format.kind = OSR_FORMAT_TEXT;
    } else if (strcmp(type, "json_object") == 0) {
        req->format.kind = OSR_FORMAT_JSON_OBJECT;
    } else if (strcmp(type, "json_schema") == 0) {
        req->format.kind = OSR_FORMAT_JSON_SCHEMA;
        rc = osr_api_get_typed(err, rf, "response_format", "json_schema", json_type_object, true,
                               &js);
        rc = rc ? rc
                : osr_api_get_str(req, err, js, "response_format.json_schema", "name", true,
                                  &req->format.name, NULL);
        rc = rc ? rc
                : osr_api_get_typed(err, js, "response_format.json_schema", "schema",
                                    json_type_object, false, &schema);
        rc = rc ? rc
                : osr_api_get_bool(err, js, "response_format.json_schema", "strict",
                                   &req->format.strict, NULL);
        if (rc)
            return rc;
        req->format.schema = osr_api_hold(req, schema);
    } else {
        return osr_api_fail(err, 400, "response_format.type",
                            "'response_format.type' must be \"text\", \"json_object\" or "
                            "\"json_schema\" (got '%s')",
                            type);
    }
    return OSR_OK;
}

static int decode_sampling(struct osr_chat_request *req, struct osr_api_error *err,
                           struct json_object *root)
{
    struct osr_sampling *s = &req->sampling;
    int64_t max_tokens = 0, max_completion = 0, n = 1, top_k = 0, top_lp = 0;
    bool has_mt = false, has_mct = false, has_seed = false, logprobs = false, has_top = false;
    int rc = osr_api_get_double(err, root, "", "temperature", 0, 2, &s->temperature);
    rc = rc ? rc : osr_api_get_double(err, root, "", "top_p", 0, 1, &s->top_p);
    rc = rc ? rc : osr_api_get_double(err, root, "", "min_p", 0, 1, &s->min_p);
    rc = rc ? rc
            : osr_api_get_double(err, root, "", "presence_penalty", -2, 2, &s->presence_penalty);
    rc = rc ? rc
            : osr_api_get_double(err, root, "", "frequency_penalty", -2, 2, &s->frequency_penalty);
    rc = rc ? rc
            : osr_api_get_double(err, root, "", "repetition_penalty", 0, 10, &s->repeat_penalty);
    rc = rc ? rc : osr_api_get_int(err, root, "", "top_k", 0, 100000, &top_k, NULL);
    rc =
        rc ? rc : osr_api_get_int(err, root, "", "seed", INT64_MIN, INT64_MAX, &s->seed, &has_seed);
    rc = rc ? rc : osr_api_get_int(err, root, "", "max_tokens", 1, INT32_MAX, &max_tokens, &has_mt);
    rc = rc ? rc
            : osr_api_get_int(err, root, "", "max_completion_tokens", 1, INT32_MAX, &max_completion,
                              &has_mct);
    rc = rc ? rc : osr_api_get_int(err, root, "", "n", 1, 128, &n, NULL);
    rc = rc ? rc : osr_api_get_bool(err, root, "", "logprobs", &logprobs, NULL);
    rc = rc ? rc
            : osr_api_get_int(err, root, "", "top_logprobs", 0, OSR_LOGPROBS_TOP_MAX, &top_lp,
                              &has_top);
    if (rc)
        return rc;
    if (n != 1)
        return osr_api_fail(err, 400, "n",
                            "'n' must be 1: only one choice per request is "
                            "supported");
    if (has_top && !logprobs)
        return osr_api_fail(err, 400, "top_logprobs",
                            "'top_logprobs' requires 'logprobs' to be true");
    req->logprobs = logprobs;
    req->top_logprobs = (int)top_lp;
    s->top_k = top_k;
    s->has_seed = has_seed;
    /* max_completion_tokens supersedes the deprecated max_tokens; with both, the smaller
     * budget is the one the client can rely on. */
    if (has_mt && has_mct)
        s->max_tokens = max_tokens < max_completion ? max_tokens : max_completion;
    else if (has_mct)
        s->max_tokens = max_completion;
    else if (has_mt)
        s->max_tokens = max_tokens;
    return osr_api_stop(req, err, osr_api_field(root, "stop"), "stop");
}

int osr_openai_chat_decode(struct osr_chat_request *req, const char *body, size_t n,
                           struct osr_api_error *err)
{
    struct json_object *root, *messages = NULL, *tools = NULL, *so = NULL, *meta = NULL,
                              *mopts = NULL;
    int rc = osr_api_parse_body(req, body, n, &root, err);
    if (rc)
        return rc;
    rc = osr_api_get_str(req, err, root, "", "model", true, &req->model, NULL);
    if (rc)
        return rc;
    if (!req->model[0])
        return osr_api_fail(err, 400, "model", "'model' must not be empty");
    rc = osr_api_get_typed(err, root, "", "messages", json_type_array, true, &messages);
    if (rc)
        return rc;
    size_t nm = json_object_array_length(messages);
    if (nm == 0)
        return osr_api_fail(err, 400, "messages", "'messages' must hold at least one message");
    if (nm > OSR_CHAT_MAX_MESSAGES)
        return osr_api_fail(err, 413, "messages", "too many messages");
    /* Tools first: a tool_choice and the messages may refer to them. */
    rc = osr_api_get_typed(err, root, "", "tools", json_type_array, false, &tools);
    if (!rc && tools)
        rc = decode_tools(req, err, tools);
    if (rc)
        return rc;
    for (size_t i = 0; i < nm; i++) {
        char where[API_PATH_MAX];
        osr_api_path_index(where, "messages", i);
        struct json_object *m = json_object_array_get_idx(messages, i);
        if (!m)
            return osr_api_fail(err, 400, where, "'%s' must be an object", where);
        rc = decode_message(req, err, m, where);
        if (rc)
            return rc;
    }
    rc = decode_tool_choice(req, err, osr_api_field(root, "tool_choice"));
    rc = rc ? rc
            : osr_api_get_bool(err, root, "", "parallel_tool_calls", &req->parallel_tool_calls,
                               NULL);
    rc = rc ? rc : decode_response_format(req, err, root);
    rc = rc ? rc : decode_sampling(req, err, root);
    rc = rc ? rc : osr_api_get_bool(err, root, "", "stream", &req->stream, NULL);
    rc = rc ? rc : osr_api_get_typed(err, root, "", "stream_options", json_type_object, false, &so);
    rc = rc ? rc
            : osr_api_get_bool(err, so, "stream_options", "include_usage", &req->include_usage,
                               NULL);
    rc = rc ? rc : osr_api_get_str(req, err, root, "", "user", false, &req->user, NULL);
    rc = rc ? rc : osr_api_get_typed(err, root, "", "metadata", json_type_object, false, &meta);
    rc = rc ? rc : osr_api_get_str(req, err, root, "", "session_id", false, &req->session_id, NULL);
    rc = rc ? rc : osr_api_get_str(req, err, root, "", "cache_hint", false, &req->cache_hint, NULL);
    rc =
        rc ? rc : osr_api_get_typed(err, root, "", "modelOptions", json_type_object, false, &mopts);
    rc = rc ? rc
            : osr_api_get_str(req, err, root, "", "reasoning_effort", false,
                              &req->x.reasoning_effort, NULL);
    if (rc)
        return rc;
    if (!req->stream)
        req->include_usage = false; /* stream_options only means something when streaming */
    req->metadata = osr_api_hold(req, meta);
    req->x.model_options = osr_api_hold(req, mopts);
    return OSR_OK;
}

/* ---------------------------------------------------------------- encoding */

static const char *finish_reason(enum osr_finish f)
{
    switch (f) {
    case OSR_FINISH_LENGTH:
        return "length";
    case OSR_FINISH_TOOL_CALLS:
        return "tool_calls";
    case OSR_FINISH_STOP:
    case OSR_FINISH_STOP_SEQUENCE:
    case OSR_FINISH_CANCELLED:
    case OSR_FINISH_ERROR:
        return "stop";
    }
    return "stop";
}

/* Appends the bytes of a token as a JSON string: valid UTF-8 as it is, every byte that is
 * not part of a valid character as the text \xNN (as OpenAI writes partial characters). */
static int put_token(struct osr_buf *out, const struct osr_str *tok)
{
    const unsigned char *p = (const unsigned char *)(tok->p ? tok->p : "");
    size_t n = tok->p ? tok->n : 0;
    struct osr_buf t; /* each byte grows to at most 4 characters */
    osr_buf_init(&t, 4 * n + 16);
    int rc = OSR_OK;
    for (size_t i = 0; i < n && !rc;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k > 0) {
            rc = osr_buf_append(&t, (const char *)p + i, (size_t)k);
            i += (size_t)k;
        } else {
            rc = osr_buf_appendf(&t, "\\x%02x", p[i]);
            i++;
        }
    }
    rc = rc ? rc : osr_api_put_str(out, osr_buf_str(&t), t.len);
    osr_buf_release(&t);
    return rc;
}

/* Appends ,"logprob":<v>,"bytes":[...] for one token. */
static int put_logprob_bytes(struct osr_buf *out, const struct osr_token_logprob *t)
{
    double v = t->logprob;
    if (!isfinite(v) || v < -9999.0)
        v = -9999.0; /* what OpenAI reports for vanishing probabilities; JSON has no -inf */
    int rc = osr_buf_appendf(out, ",\"logprob\":%.9g,\"bytes\":[", v);
    for (size_t i = 0; i < t->token.n && !rc; i++)
        rc = osr_buf_appendf(out, i ? ",%u" : "%u", (unsigned)(unsigned char)t->token.p[i]);
    return rc ? rc : osr_buf_putc(out, ']');
}

int osr_api_openai_logprob_entry(struct osr_buf *out, const struct osr_logprobs *lp, int max_top)
{
    int rc = osr_buf_puts(out, "{\"token\":");
    rc = rc ? rc : put_token(out, &lp->chosen.token);
    rc = rc ? rc : put_logprob_bytes(out, &lp->chosen);
    rc = rc ? rc : osr_buf_puts(out, ",\"top_logprobs\":[");
    int n_top = lp->n_top < max_top ? lp->n_top : max_top;
    for (int i = 0; i < n_top && !rc; i++) {
        rc = osr_buf_puts(out, i ? ",{\"token\":" : "{\"token\":");
        rc = rc ? rc : put_token(out, &lp->top[i].token);
        rc = rc ? rc : put_logprob_bytes(out, &lp->top[i]);
        rc = rc ? rc : osr_buf_putc(out, '}');
    }
    return rc ? rc : osr_buf_puts(out, "]}");
}

/* Whether the answer carries a logprobs object rather than null. */
static bool want_logprobs(const struct osr_api_encoder *enc)
{
    return (enc->req && enc->req->logprobs) || enc->logprobs.len;
}

/* Appends "logprobs":{"content":[...],"refusal":null} with the entries gathered so far. */
static int put_logprobs(struct osr_api_encoder *enc, struct osr_buf *out)
{
    int rc = osr_buf_puts(out, "\"logprobs\":{\"content\":[");
    rc = rc ? rc : osr_buf_append(out, enc->logprobs.data, enc->logprobs.len);
    return rc ? rc : osr_buf_puts(out, "],\"refusal\":null}");
}

/* Opens a chunk up to the inside of choices[0]: ...,"choices":[{"index":0,"delta": */
static int chunk_open(struct osr_api_encoder *enc, struct osr_buf *out)
{
    int rc = osr_buf_puts(out, "data: {\"id\":");
    rc = rc ? rc : osr_api_put_cstr(out, enc->id);
    rc = rc ? rc
            : osr_buf_appendf(out,
                              ",\"object\":\"chat.completion.chunk\",\"created\":%lld,"
                              "\"model\":",
                              (long long)(enc->now_ms / 1000));
    rc = rc ? rc : osr_api_put_cstr(out, enc->model);
    return rc ? rc : osr_buf_puts(out, ",\"choices\":[{\"index\":0,\"delta\":");
}

/* Closes a chunk.  Log-probabilities gathered since the previous chunk go into this one (the
 * tokens whose text it carries, or text a stop string later cut, in the finish chunk). */
static int chunk_close(struct osr_api_encoder *enc, struct osr_buf *out, const char *finish)
{
    int rc;
    if (enc->logprobs.len) {
        rc = osr_buf_putc(out, ',');
        rc = rc ? rc : put_logprobs(enc, out);
        osr_buf_reset(&enc->logprobs);
    } else {
        rc = osr_buf_puts(out, ",\"logprobs\":null");
    }
    rc = rc ? rc : osr_buf_puts(out, ",\"finish_reason\":");
    if (finish) {
        rc = rc ? rc : osr_buf_putc(out, '"');
        rc = rc ? rc : osr_buf_puts(out, finish);
        rc = rc ? rc : osr_buf_putc(out, '"');
    } else {
        rc = rc ? rc : osr_buf_puts(out, "null");
    }
    return rc ? rc : osr_buf_puts(out, "}]}\n\n");
}

static int role_chunk(struct osr_api_encoder *enc, struct osr_buf *out)
{
    if (enc->started)
        return OSR_OK;
    enc->started = true;
    int rc = chunk_open(enc, out);
    rc = rc ? rc : osr_buf_puts(out, "{\"role\":\"assistant\",\"content\":\"\"}");
    return rc ? rc : chunk_close(enc, out, NULL);
}

static int usage_object(struct osr_api_encoder *enc, struct osr_buf *out)
{
    int64_t p = osr_api_prompt_tokens(enc), c = osr_api_completion_tokens(enc);
    int rc = osr_buf_appendf(out,
                             "{\"prompt_tokens\":%lld,\"completion_tokens\":%lld,"
                             "\"total_tokens\":%lld",
                             (long long)p, (long long)c, (long long)(p + c));
    if (!rc && enc->have_usage && enc->usage.cached_tokens > 0)
        rc = osr_buf_appendf(out, ",\"prompt_tokens_details\":{\"cached_tokens\":%lld}",
                             (long long)enc->usage.cached_tokens);
    if (!rc && enc->have_usage && enc->usage.reasoning_tokens > 0)
        rc = osr_buf_appendf(out, ",\"completion_tokens_details\":{\"reasoning_tokens\":%lld}",
                             (long long)enc->usage.reasoning_tokens);
    return rc ? rc : osr_buf_putc(out, '}');
}

static int error_frame(struct osr_api_encoder *enc, struct osr_buf *out)
{
    int rc = osr_buf_puts(out, "data: {\"error\":{\"message\":");
    rc = rc ? rc : osr_api_put_cstr(out, enc->error_msg);
    rc = rc ? rc : osr_buf_puts(out, ",\"type\":");
    rc = rc ? rc : osr_api_put_cstr(out, osr_api_error_type(P, enc->status));
    return rc ? rc : osr_buf_puts(out, ",\"param\":null,\"code\":null}}\n\n");
}

static int stream_event(struct osr_api_encoder *enc, const struct osr_event *ev,
                        struct osr_buf *out)
{
    int rc = OSR_OK;
    if (ev->kind == OSR_EV_USAGE)
        return OSR_OK; /* written at the end, when asked for */
    if (ev->kind == OSR_EV_ERROR)
        return error_frame(enc, out);
    rc = role_chunk(enc, out);
    if (rc)
        return rc;
    switch (ev->kind) {
    case OSR_EV_TEXT_DELTA:
    case OSR_EV_REASONING_DELTA:
        if (ev->text.n == 0)
            return OSR_OK;
        rc = chunk_open(enc, out);
        rc = rc ? rc
                : osr_buf_puts(out, ev->kind == OSR_EV_TEXT_DELTA ? "{\"content\":"
                                                                  : "{\"reasoning_content\":");
        rc = rc ? rc : osr_api_put_str(out, ev->text.p, ev->text.n);
        rc = rc ? rc : osr_buf_putc(out, '}');
        return rc ? rc : chunk_close(enc, out, NULL);
    case OSR_EV_TOOL_CALL_START: {
        struct api_tool_acc *t = osr_api_tool_find(enc, ev->index);
        rc = chunk_open(enc, out);
        rc = rc ? rc
                : osr_buf_appendf(out,
                                  "{\"tool_calls\":[{\"index\":%d,\"id\":", (int)(t - enc->tools));
        rc = rc ? rc : osr_api_put_cstr(out, t->id);
        rc = rc ? rc : osr_buf_puts(out, ",\"type\":\"function\",\"function\":{\"name\":");
        rc = rc ? rc : osr_api_put_cstr(out, t->name);
        rc = rc ? rc : osr_buf_puts(out, ",\"arguments\":\"\"}}]}");
        return rc ? rc : chunk_close(enc, out, NULL);
    }
    case OSR_EV_TOOL_CALL_ARGS_DELTA: {
        struct api_tool_acc *t = osr_api_tool_find(enc, ev->index);
        if (ev->text.n == 0)
            return OSR_OK;
        rc = chunk_open(enc, out);
        rc = rc ? rc
                : osr_buf_appendf(out,
                                  "{\"tool_calls\":[{\"index\":%d,\"function\":"
                                  "{\"arguments\":",
                                  (int)(t - enc->tools));
        rc = rc ? rc : osr_api_put_str(out, ev->text.p, ev->text.n);
        rc = rc ? rc : osr_buf_puts(out, "}}]}");
        return rc ? rc : chunk_close(enc, out, NULL);
    }
    case OSR_EV_FINISH: {
        /* A model that called tools finished with tool_calls, whatever the backend said. */
        enum osr_finish f = enc->n_tools ? OSR_FINISH_TOOL_CALLS : enc->finish;
        rc = chunk_open(enc, out);
        rc = rc ? rc : osr_buf_puts(out, "{}");
        return rc ? rc : chunk_close(enc, out, finish_reason(f));
    }
    default:
        return OSR_OK;
    }
}

static int stream_end(struct osr_api_encoder *enc, struct osr_buf *out)
{
    int rc = OSR_OK;
    if (!enc->failed && enc->include_usage) {
        rc = osr_buf_puts(out, "data: {\"id\":");
        rc = rc ? rc : osr_api_put_cstr(out, enc->id);
        rc = rc ? rc
                : osr_buf_appendf(out,
                                  ",\"object\":\"chat.completion.chunk\",\"created\":%lld,"
                                  "\"model\":",
                                  (long long)(enc->now_ms / 1000));
        rc = rc ? rc : osr_api_put_cstr(out, enc->model);
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
    enum osr_finish f = enc->n_tools ? OSR_FINISH_TOOL_CALLS : enc->finish;
    int rc = osr_buf_puts(out, "{\"id\":");
    rc = rc ? rc : osr_api_put_cstr(out, enc->id);
    rc = rc ? rc
            : osr_buf_appendf(out, ",\"object\":\"chat.completion\",\"created\":%lld,\"model\":",
                              (long long)(enc->now_ms / 1000));
    rc = rc ? rc : osr_api_put_cstr(out, enc->model);
    rc = rc ? rc
            : osr_buf_puts(out, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                                "\"content\":");
    if (enc->n_tools && enc->text.len == 0)
        rc = rc ? rc : osr_buf_puts(out, "null");
    else
        rc = rc ? rc : osr_api_put_str(out, enc->text.data, enc->text.len);
    if (enc->reasoning.len) {
        rc = rc ? rc : osr_buf_puts(out, ",\"reasoning_content\":");
        rc = rc ? rc : osr_api_put_str(out, enc->reasoning.data, enc->reasoning.len);
    }
    if (enc->n_tools) {
        rc = rc ? rc : osr_buf_puts(out, ",\"tool_calls\":[");
        for (size_t i = 0; i < enc->n_tools && !rc; i++) {
            const struct api_tool_acc *t = &enc->tools[i];
            rc = osr_buf_puts(out, i ? ",{\"id\":" : "{\"id\":");
            rc = rc ? rc : osr_api_put_cstr(out, t->id);
            rc = rc ? rc : osr_buf_puts(out, ",\"type\":\"function\",\"function\":{\"name\":");
            rc = rc ? rc : osr_api_put_cstr(out, t->name);
            rc = rc ? rc : osr_buf_puts(out, ",\"arguments\":");
            rc = rc ? rc : osr_api_put_str(out, t->args.data, t->args.len);
            rc = rc ? rc : osr_buf_puts(out, "}}");
        }
        rc = rc ? rc : osr_buf_putc(out, ']');
    }
    rc = rc ? rc : osr_buf_puts(out, "},");
    if (want_logprobs(enc))
        rc = rc ? rc : put_logprobs(enc, out);
    else
        rc = rc ? rc : osr_buf_puts(out, "\"logprobs\":null");
    rc = rc ? rc : osr_buf_puts(out, ",\"finish_reason\":\"");
    rc = rc ? rc : osr_buf_puts(out, finish_reason(f));
    rc = rc ? rc : osr_buf_puts(out, "\"}],\"usage\":");
    rc = rc ? rc : usage_object(enc, out);
    return rc ? rc : osr_buf_putc(out, '}');
}

const struct api_encoder_ops osr_api_openai_chat_ops = {
    .stream_type = "text/event-stream",
    .body_type = OSR_API_JSON_CONTENT_TYPE,
    .event = stream_event,
    .stream_end = stream_end,
    .body = body,
};
