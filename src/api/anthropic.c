/* anthropic.c - Anthropic Messages: body -> canonical request, events -> SSE/body.
 *
 * Decoding: model, max_tokens (required, except for count_tokens), system as a string or text
 * blocks, user/assistant messages whose content is a string or blocks (text, image with a
 * base64 or url source, tool_use, tool_result, thinking), tools with input_schema, tool_choice
 * (auto, any, tool, none, with disable_parallel_tool_use), stop_sequences, temperature, top_p,
 * top_k, metadata.user_id, thinking.  A user turn's tool_result blocks become canonical tool
 * messages placed before the rest of that turn, which is where Anthropic requires them.
 *
 * Encoding: the documented event order - message_start (with usage), ping, then per content
 * block content_block_start / content_block_delta* / content_block_stop (text_delta,
 * thinking_delta, input_json_delta), message_delta (stop_reason, stop_sequence, usage) and
 * message_stop; an "event: error" frame for a failure mid-stream.  Or the Message body.
 * No I/O here.
 */
#include <stdio.h>
#include <string.h>

#include "api_internal.h"
#include "osr/api_anthropic.h"

#define P OSR_API_ANTHROPIC

/* ---------------------------------------------------------------- decoding */

/* tool_result content: a string or an array of text (and image, which we drop) blocks. */
static int tool_result_text(struct osr_chat_request *req, struct osr_api_error *err,
                            struct json_object *c, const char *path, struct osr_str *out)
{
    if (!c) {
        *out = OSR_STR_LIT("");
        return OSR_OK;
    }
    if (json_object_is_type(c, json_type_string))
        return osr_api_string_value(req, err, c, path, out);
    if (!json_object_is_type(c, json_type_array))
        return osr_api_fail(err, 400, path, "'%s' must be a string or an array of blocks", path);
    struct osr_buf acc;
    int rc = OSR_OK;
    osr_buf_init(&acc, req->arena.max);
    size_t n = json_object_array_length(c);
    for (size_t i = 0; i < n && !rc; i++) {
        char ipath[API_PATH_MAX];
        osr_api_path_index(ipath, path, i);
        struct json_object *b = json_object_array_get_idx(c, i);
        const char *type = NULL, *text = NULL;
        size_t tn = 0;
        if (!b || !json_object_is_type(b, json_type_object)) {
            rc = osr_api_fail(err, 400, ipath, "'%s' must be an object", ipath);
            break;
        }
        rc = osr_api_get_str(req, err, b, ipath, "type", true, &type, NULL);
        if (rc)
            break;
        if (strcmp(type, "text") == 0) {
            rc = osr_api_get_str(req, err, b, ipath, "text", true, &text, &tn);
            if (!rc && acc.len)
                rc = osr_buf_putc(&acc, '\n') ? osr_api_fail(err, 413, NULL, "too large") : 0;
            if (!rc && osr_buf_append(&acc, text, tn))
                rc = osr_api_fail(err, 413, NULL, "request is too large");
        } else if (strcmp(type, "image") != 0) {
            char tpath[API_PATH_MAX];
            osr_api_path(tpath, ipath, "type");
            rc = osr_api_fail(err, 400, tpath, "block type '%s' is not allowed in a tool_result",
                              type);
        }
    }
    if (!rc) {
        const char *p = NULL;
        rc = osr_api_copy(req, err, osr_buf_str(&acc), acc.len, &p);
        if (!rc)
            *out = osr_str_make(p, acc.len);
    }
    osr_buf_release(&acc);
    return rc;
}

static int decode_image(struct osr_chat_request *req, struct osr_api_error *err,
                        struct json_object *b, const char *where, struct osr_image *img)
{
    struct json_object *src = NULL;
    char spath[API_PATH_MAX], path[API_PATH_MAX];
    int rc = osr_api_get_typed(err, b, where, "source", json_type_object, true, &src);
    if (rc)
        return rc;
    osr_api_path(spath, where, "source");
    const char *type = NULL, *media = NULL, *data = NULL, *url = NULL;
    size_t dn = 0, un = 0;
    rc = osr_api_get_str(req, err, src, spath, "type", true, &type, NULL);
    if (rc)
        return rc;
    if (strcmp(type, "base64") == 0) {
        rc = osr_api_get_str(req, err, src, spath, "media_type", true, &media, NULL);
        rc = rc ? rc : osr_api_get_str(req, err, src, spath, "data", true, &data, &dn);
        if (rc)
            return rc;
        osr_api_path(path, spath, "media_type");
        if (strncmp(media, "image/", 6) != 0)
            return osr_api_fail(err, 400, path, "'%s' must be an image type (got '%s')", path,
                                media);
        osr_api_path(path, spath, "data");
        return osr_api_image_base64(req, err, data, dn, media, path, img);
    }
    if (strcmp(type, "url") == 0) {
        rc = osr_api_get_str(req, err, src, spath, "url", true, &url, &un);
        osr_api_path(path, spath, "url");
        return rc ? rc : osr_api_image_url(req, err, url, un, path, img);
    }
    osr_api_path(path, spath, "type");
    return osr_api_fail(err, 400, path, "'%s' must be \"base64\" or \"url\" (got '%s')", path,
                        type);
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
    osr_api_path(path, where, "role");
    bool user = strcmp(role_s, "user") == 0;
    if (!user && strcmp(role_s, "assistant") != 0)
        return osr_api_fail(err, 400, path, "'%s' must be \"user\" or \"assistant\" (got '%s')",
                            path, role_s);
    struct json_object *content = osr_api_field(msg, "content");
    osr_api_path(path, where, "content");
    if (!content)
        return osr_api_fail(err, 400, path, "missing required parameter: '%s'", path);
    if (json_object_is_type(content, json_type_string)) {
        struct osr_message *m =
            osr_chat_request_add_message(req, user ? OSR_ROLE_USER : OSR_ROLE_ASSISTANT);
        struct osr_part *p = m ? osr_chat_message_add_part(req, m, OSR_PART_TEXT) : NULL;
        if (!p)
            return osr_api_fail(err, 413, NULL, "request is too large");
        return osr_api_string_value(req, err, content, path, &p->text);
    }
    if (!json_object_is_type(content, json_type_array))
        return osr_api_fail(err, 400, path, "'%s' must be a string or an array of blocks", path);

    /* Tool results first (as canonical tool messages), then the turn's other blocks. */
    size_t n = json_object_array_length(content);
    struct osr_message *m = NULL;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            char ipath[API_PATH_MAX], tpath[API_PATH_MAX];
            osr_api_path_index(ipath, path, i);
            struct json_object *b = json_object_array_get_idx(content, i);
            if (!b || !json_object_is_type(b, json_type_object))
                return osr_api_fail(err, 400, ipath, "'%s' must be an object", ipath);
            const char *type = NULL;
            rc = osr_api_get_str(req, err, b, ipath, "type", true, &type, NULL);
            if (rc)
                return rc;
            osr_api_path(tpath, ipath, "type");
            bool is_result = strcmp(type, "tool_result") == 0;
            if (is_result != (pass == 0))
                continue;
            if (is_result) {
                if (!user)
                    return osr_api_fail(err, 400, tpath,
                                        "tool_result blocks are only allowed in user turns");
                struct osr_message *tm = osr_chat_request_add_message(req, OSR_ROLE_TOOL);
                struct osr_part *p =
                    tm ? osr_chat_message_add_part(req, tm, OSR_PART_TOOL_RESULT) : NULL;
                if (!p)
                    return osr_api_fail(err, 413, NULL, "request is too large");
                char cpath[API_PATH_MAX];
                osr_api_path(cpath, ipath, "content");
                rc = osr_api_get_str(req, err, b, ipath, "tool_use_id", true, &p->result.call_id,
                                     NULL);
                rc = rc ? rc
                        : osr_api_get_bool(err, b, ipath, "is_error", &p->result.is_error, NULL);
                rc = rc ? rc
                        : tool_result_text(req, err, osr_api_field(b, "content"), cpath, &p->text);
                if (rc)
                    return rc;
                continue;
            }
            if (strcmp(type, "redacted_thinking") == 0)
                continue; /* opaque to us; nothing a local model can use */
            if (!m) {
                m = osr_chat_request_add_message(req, user ? OSR_ROLE_USER : OSR_ROLE_ASSISTANT);
                if (!m)
                    return osr_api_fail(err, 413, "messages", "too many messages");
            }
            struct osr_part *p;
            if (strcmp(type, "text") == 0) {
                p = osr_chat_message_add_part(req, m, OSR_PART_TEXT);
                if (!p)
                    return osr_api_fail(err, 413, NULL, "request is too large");
                const char *t = NULL;
                size_t tn = 0;
                rc = osr_api_get_str(req, err, b, ipath, "text", true, &t, &tn);
                p->text = osr_str_make(t, tn);
            } else if (strcmp(type, "image") == 0) {
                if (!user)
                    return osr_api_fail(err, 400, tpath,
                                        "image blocks are only allowed in user "
                                        "turns");
                p = osr_chat_message_add_part(req, m, OSR_PART_IMAGE);
                if (!p)
                    return osr_api_fail(err, 413, NULL, "request is too large");
                rc = decode_image(req, err, b, ipath, &p->image);
            } else if (strcmp(type, "tool_use") == 0) {
                if (user)
                    return osr_api_fail(err, 400, tpath,
                                        "tool_use blocks are only allowed in assistant turns");
                p = osr_chat_message_add_part(req, m, OSR_PART_TOOL_CALL);
                if (!p)
                    return osr_api_fail(err, 413, NULL, "request is too large");
                struct json_object *input = NULL;
                rc = osr_api_get_str(req, err, b, ipath, "id", true, &p->call.id, NULL);
                rc = rc ? rc
                        : osr_api_get_str(req, err, b, ipath, "name", true, &p->call.name, NULL);
                rc = rc ? rc
                        : osr_api_get_typed(err, b, ipath, "input", json_type_object, true, &input);
                rc = rc ? rc : osr_api_json_text(req, err, input, &p->call.arguments);
            } else if (strcmp(type, "thinking") == 0) {
                if (user)
                    return osr_api_fail(err, 400, tpath,
                                        "thinking blocks are only allowed in assistant turns");
                p = osr_chat_message_add_part(req, m, OSR_PART_REASONING);
                if (!p)
                    return osr_api_fail(err, 413, NULL, "request is too large");
                const char *t = NULL;
                size_t tn = 0;
                rc = osr_api_get_str(req, err, b, ipath, "thinking", true, &t, &tn);
                p->text = osr_str_make(t, tn);
            } else {
                return osr_api_fail(err, 400, tpath, "content block type '%s' is not supported",
                                    type);
            }
            if (rc)
                return rc;
        }
    }
    if (!m && n == 0) {
        /* An empty turn still takes its place in the conversation. */
        if (!osr_chat_request_add_message(req, user ? OSR_ROLE_USER : OSR_ROLE_ASSISTANT))
            return osr_api_fail(err, 413, "messages", "too many messages");
    }
    return OSR_OK;
}

static int decode_system(struct osr_chat_request *req, struct osr_api_error *err,
                         struct json_object *sys)
{
    if (!sys)
        return OSR_OK;
    struct osr_message *m = osr_chat_request_add_message(req, OSR_ROLE_SYSTEM);
    if (!m)
        return osr_api_fail(err, 413, NULL, "request is too large");
    if (json_object_is_type(sys, json_type_string)) {
        struct osr_part *p = osr_chat_message_add_part(req, m, OSR_PART_TEXT);
        if (!p)
            return osr_api_fail(err, 413, NULL, "request is too large");
        return osr_api_string_value(req, err, sys, "system", &p->text);
    }
    if (!json_object_is_type(sys, json_type_array))
        return osr_api_fail(err, 400, "system",
                            "'system' must be a string or an array of text "
                            "blocks");
    size_t n = json_object_array_length(sys);
    for (size_t i = 0; i < n; i++) {
        char ipath[API_PATH_MAX], tpath[API_PATH_MAX];
        osr_api_path_index(ipath, "system", i);
        struct json_object *b = json_object_array_get_idx(sys, i);
        if (!b || !json_object_is_type(b, json_type_object))
            return osr_api_fail(err, 400, ipath, "'%s' must be an object", ipath);
        const char *type = NULL, *t = NULL;
        size_t tn = 0;
        int rc = osr_api_get_str(req, err, b, ipath, "type", true, &type, NULL);
        if (rc)
            return rc;
        osr_api_path(tpath, ipath, "type");
        if (strcmp(type, "text") != 0)
            return osr_api_fail(err, 400, tpath, "'%s' must be \"text\"", tpath);
        rc = osr_api_get_str(req, err, b, ipath, "text", true, &t, &tn);
        if (rc)
            return rc;
        struct osr_part *p = osr_chat_message_add_part(req, m, OSR_PART_TEXT);
        if (!p)
            return osr_api_fail(err, 413, NULL, "request is too large");
        p->text = osr_str_make(t, tn);
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
        char ipath[API_PATH_MAX], tpath[API_PATH_MAX];
        osr_api_path_index(ipath, "tools", i);
        struct json_object *t = json_object_array_get_idx(tools, i);
        if (!t || !json_object_is_type(t, json_type_object))
            return osr_api_fail(err, 400, ipath, "'%s' must be an object", ipath);
        const char *type = NULL;
        int rc = osr_api_get_str(req, err, t, ipath, "type", false, &type, NULL);
        if (rc)
            return rc;
        osr_api_path(tpath, ipath, "type");
        if (type && strcmp(type, "custom") != 0)
            return osr_api_fail(err, 400, tpath,
                                "server tool '%s' is not supported; define a client tool with "
                                "name and input_schema",
                                type);
        struct osr_tool *tool = osr_chat_request_add_tool(req);
        struct json_object *schema = NULL;
        if (!tool)
            return osr_api_fail(err, 413, NULL, "request is too large");
        rc = osr_api_get_str(req, err, t, ipath, "name", true, &tool->name, NULL);
        rc = rc ? rc
                : osr_api_get_str(req, err, t, ipath, "description", false, &tool->description,
                                  NULL);
        rc = rc ? rc
                : osr_api_get_typed(err, t, ipath, "input_schema", json_type_object, true, &schema);
        if (rc)
            return rc;
        if (!osr_api_valid_tool_name(tool->name)) {
            osr_api_path(tpath, ipath, "name");
            return osr_api_fail(err, 400, tpath,
                                "'%s' must be 1-64 letters, digits, '_' or '-' (got '%s')", tpath,
                                tool->name);
        }
        tool->parameters = osr_api_hold(req, schema);
    }
    return OSR_OK;
}

static int decode_tool_choice(struct osr_chat_request *req, struct osr_api_error *err,
                              struct json_object *root)
{
    struct json_object *tc = NULL;
    int rc = osr_api_get_typed(err, root, "", "tool_choice", json_type_object, false, &tc);
    if (rc || !tc)
        return rc;
    const char *type = NULL, *name = NULL;
    bool no_parallel = false;
    rc = osr_api_get_str(req, err, tc, "tool_choice", "type", true, &type, NULL);
    rc = rc ? rc
            : osr_api_get_bool(err, tc, "tool_choice", "disable_parallel_tool_use", &no_parallel,
                               NULL);
    if (rc)
        return rc;
    req->parallel_tool_calls = !no_parallel;
    if (strcmp(type, "auto") == 0) {
        req->tool_choice = OSR_TOOL_CHOICE_AUTO;
    } else if (strcmp(type, "none") == 0) {
        req->tool_choice = OSR_TOOL_CHOICE_NONE;
    } else if (strcmp(type, "any") == 0) {
        if (req->n_tools == 0)
            return osr_api_fail(err, 400, "tool_choice",
                                "'tool_choice' is \"any\" but no 'tools' were given");
        req->tool_choice = OSR_TOOL_CHOICE_REQUIRED;
    } else if (strcmp(type, "tool") == 0) {
        rc = osr_api_get_str(req, err, tc, "tool_choice", "name", true, &name, NULL);
        return rc ? rc : osr_api_named_choice(req, err, name, "tool_choice.name");
    } else {
        return osr_api_fail(err, 400, "tool_choice.type",
                            "'tool_choice.type' must be \"auto\", \"any\", \"tool\" or \"none\" "
                            "(got '%s')",
                            type);
    }
    return OSR_OK;
}

static int decode(struct osr_chat_request *req, const char *body, size_t n,
                  struct osr_api_error *err, bool count_only)
{
    struct json_object *root, *messages = NULL, *tools = NULL, *meta = NULL, *thinking = NULL;
    int rc = osr_api_parse_body(req, body, n, &root, err);
    if (rc)
        return rc;
    rc = osr_api_get_str(req, err, root, "", "model", true, &req->model, NULL);
    if (rc)
        return rc;
    if (!req->model[0])
        return osr_api_fail(err, 400, "model", "'model' must not be empty");
    bool has_max = false;
    rc = osr_api_get_int(err, root, "", "max_tokens", 1, INT32_MAX, &req->sampling.max_tokens,
                         &has_max);
    if (rc)
        return rc;
    if (!has_max && !count_only)
        return osr_api_fail(err, 400, "max_tokens", "max_tokens: Field required");
    rc = osr_api_get_typed(err, root, "", "messages", json_type_array, true, &messages);
    if (rc)
        return rc;
    size_t nm = json_object_array_length(messages);
    if (nm == 0)
        return osr_api_fail(err, 400, "messages", "'messages' must hold at least one message");
    if (nm > OSR_CHAT_MAX_MESSAGES)
        return osr_api_fail(err, 413, "messages", "too many messages");
    rc = osr_api_get_typed(err, root, "", "tools", json_type_array, false, &tools);
    if (!rc && tools)
        rc = decode_tools(req, err, tools);
    rc = rc ? rc : decode_system(req, err, osr_api_field(root, "system"));
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
    rc = decode_tool_choice(req, err, root);
    rc = rc ? rc
            : osr_api_get_double(err, root, "", "temperature", 0, 1, &req->sampling.temperature);
    rc = rc ? rc : osr_api_get_double(err, root, "", "top_p", 0, 1, &req->sampling.top_p);
    rc = rc ? rc : osr_api_get_int(err, root, "", "top_k", 0, 100000, &req->sampling.top_k, NULL);
    rc = rc ? rc : osr_api_stop(req, err, osr_api_field(root, "stop_sequences"), "stop_sequences");
    rc = rc ? rc : osr_api_get_bool(err, root, "", "stream", &req->stream, NULL);
    rc = rc ? rc : osr_api_get_typed(err, root, "", "metadata", json_type_object, false, &meta);
    rc = rc ? rc : osr_api_get_str(req, err, meta, "metadata", "user_id", false, &req->user, NULL);
    rc = rc ? rc : osr_api_get_typed(err, root, "", "thinking", json_type_object, false, &thinking);
    if (rc)
        return rc;
    if (osr_api_field(root, "stop_sequences") &&
        !json_object_is_type(osr_api_field(root, "stop_sequences"), json_type_array))
        return osr_api_fail(err, 400, "stop_sequences",
                            "'stop_sequences' must be an array of strings");
    if (thinking) {
        const char *type = NULL;
        rc = osr_api_get_str(req, err, thinking, "thinking", "type", true, &type, NULL);
        if (rc)
            return rc;
        if (strcmp(type, "enabled") == 0)
            req->x.think = 1;
        else if (strcmp(type, "disabled") == 0)
            req->x.think = 0;
        else
            return osr_api_fail(err, 400, "thinking.type",
                                "'thinking.type' must be \"enabled\" or \"disabled\"");
    }
    req->metadata = osr_api_hold(req, meta);
    return OSR_OK;
}

int osr_anthropic_decode(struct osr_chat_request *req, const char *body, size_t n,
                         struct osr_api_error *err)
{
    return decode(req, body, n, err, false);
}

int osr_anthropic_decode_count_tokens(struct osr_chat_request *req, const char *body, size_t n,
                                      struct osr_api_error *err)
{
    return decode(req, body, n, err, true);
}

int osr_anthropic_count_tokens_body(int64_t input_tokens, struct osr_buf *out)
{
    return osr_buf_appendf(out, "{\"input_tokens\":%lld}", (long long)input_tokens);
}

/* ---------------------------------------------------------------- encoding */

static const char *stop_reason(const struct osr_api_encoder *enc)
{
    if (enc->n_tools)
        return "tool_use";
    switch (enc->finish) {
    case OSR_FINISH_LENGTH:
        return "max_tokens";
    case OSR_FINISH_TOOL_CALLS:
        return "tool_use";
    case OSR_FINISH_STOP_SEQUENCE:
        return enc->stop_seq ? "stop_sequence" : "end_turn";
    case OSR_FINISH_STOP:
    case OSR_FINISH_CANCELLED:
    case OSR_FINISH_ERROR:
        return "end_turn";
    }
    return "end_turn";
}

static int put_stop_sequence(const struct osr_api_encoder *enc, struct osr_buf *out)
{
    int rc = osr_buf_puts(out, ",\"stop_sequence\":");
    if (strcmp(stop_reason(enc), "stop_sequence") == 0)
        return rc ? rc : osr_api_put_cstr(out, enc->stop_seq);
    return rc ? rc : osr_buf_puts(out, "null");
}

static int message_start(struct osr_api_encoder *enc, struct osr_buf *out)
{
    if (enc->started)
        return OSR_OK;
    enc->started = true;
    int rc = osr_api_sse_event(out, "message_start");
    rc = rc ? rc : osr_buf_puts(out, "{\"type\":\"message_start\",\"message\":{\"id\":");
    rc = rc ? rc : osr_api_put_cstr(out, enc->id);
    rc = rc ? rc
            : osr_buf_puts(out, ",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],"
                                "\"model\":");
    rc = rc ? rc : osr_api_put_cstr(out, enc->model);
    rc = rc ? rc
            : osr_buf_appendf(out,
                              ",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":"
                              "{\"input_tokens\":%lld,\"output_tokens\":0}}}\n\n",
                              (long long)osr_api_prompt_tokens(enc));
    rc = rc ? rc : osr_api_sse_event(out, "ping");
    return rc ? rc : osr_buf_puts(out, "{\"type\":\"ping\"}\n\n");
}

static int block_stop(struct osr_api_encoder *enc, struct osr_buf *out)
{
    if (enc->open == API_BLOCK_NONE)
        return OSR_OK;
    int rc = osr_api_sse_event(out, "content_block_stop");
    rc = rc ? rc
            : osr_buf_appendf(out, "{\"type\":\"content_block_stop\",\"index\":%d}\n\n",
                              enc->block_index);
    enc->open = API_BLOCK_NONE;
    enc->open_tool = -1;
    return rc;
}

/* Closes the open block and opens one of kind; content_block is its JSON, written by caller. */
static int block_start(struct osr_api_encoder *enc, enum api_block kind, struct osr_buf *out)
{
    int rc = block_stop(enc, out);
    enc->open = kind;
    enc->block_index = enc->next_block++;
    rc = rc ? rc : osr_api_sse_event(out, "content_block_start");
    return rc ? rc
              : osr_buf_appendf(out,
                                "{\"type\":\"content_block_start\",\"index\":%d,"
                                "\"content_block\":",
                                enc->block_index);
}

static int block_delta(struct osr_api_encoder *enc, const char *type, const char *key,
                       struct osr_str s, struct osr_buf *out)
{
    int rc = osr_api_sse_event(out, "content_block_delta");
    rc = rc ? rc
            : osr_buf_appendf(out,
                              "{\"type\":\"content_block_delta\",\"index\":%d,\"delta\":"
                              "{\"type\":\"%s\",\"%s\":",
                              enc->block_index, type, key);
    rc = rc ? rc : osr_api_put_str(out, s.p, s.n);
    return rc ? rc : osr_buf_puts(out, "}}\n\n");
}

static int stream_event(struct osr_api_encoder *enc, const struct osr_event *ev,
                        struct osr_buf *out)
{
    int rc = OSR_OK;
    switch (ev->kind) {
    case OSR_EV_ROLE:
    case OSR_EV_USAGE:
        return OSR_OK; /* message_start waits for the first content, to carry the usage */
    case OSR_EV_ERROR:
        rc = osr_api_sse_event(out, "error");
        rc = rc ? rc : osr_buf_puts(out, "{\"type\":\"error\",\"error\":{\"type\":");
        rc = rc ? rc : osr_api_put_cstr(out, osr_api_error_type(P, enc->status));
        rc = rc ? rc : osr_buf_puts(out, ",\"message\":");
        rc = rc ? rc : osr_api_put_cstr(out, enc->error_msg);
        return rc ? rc : osr_buf_puts(out, "}}\n\n");
    default:
        break;
    }
    rc = message_start(enc, out);
    if (rc)
        return rc;
    switch (ev->kind) {
    case OSR_EV_TEXT_DELTA:
        if (ev->text.n == 0)
            return OSR_OK;
        if (enc->open != API_BLOCK_TEXT) {
            rc = block_start(enc, API_BLOCK_TEXT, out);
            rc = rc ? rc : osr_buf_puts(out, "{\"type\":\"text\",\"text\":\"\"}}\n\n");
        }
        return rc ? rc : block_delta(enc, "text_delta", "text", ev->text, out);
    case OSR_EV_REASONING_DELTA:
        if (ev->text.n == 0)
            return OSR_OK;
        if (enc->open != API_BLOCK_REASONING) {
            rc = block_start(enc, API_BLOCK_REASONING, out);
            rc = rc ? rc
                    : osr_buf_puts(out, "{\"type\":\"thinking\",\"thinking\":\"\","
                                        "\"signature\":\"\"}}\n\n");
        }
        return rc ? rc : block_delta(enc, "thinking_delta", "thinking", ev->text, out);
    case OSR_EV_TOOL_CALL_START: {
        struct api_tool_acc *t = osr_api_tool_find(enc, ev->index);
        rc = block_start(enc, API_BLOCK_TOOL, out);
        enc->open_tool = (int)(t - enc->tools);
        rc = rc ? rc : osr_buf_puts(out, "{\"type\":\"tool_use\",\"id\":");
        rc = rc ? rc : osr_api_put_cstr(out, t->id);
        rc = rc ? rc : osr_buf_puts(out, ",\"name\":");
        rc = rc ? rc : osr_api_put_cstr(out, t->name);
        return rc ? rc : osr_buf_puts(out, ",\"input\":{}}}\n\n");
    }
    case OSR_EV_TOOL_CALL_ARGS_DELTA: {
        struct api_tool_acc *t = osr_api_tool_find(enc, ev->index);
        if (ev->text.n == 0 || enc->open != API_BLOCK_TOOL || enc->open_tool != t - enc->tools)
            return OSR_OK; /* see the ordering rule in chat.h */
        return block_delta(enc, "input_json_delta", "partial_json", ev->text, out);
    }
    case OSR_EV_FINISH:
        return block_stop(enc, out);
    default:
        return OSR_OK;
    }
}

static int stream_end(struct osr_api_encoder *enc, struct osr_buf *out)
{
    if (enc->failed)
        return OSR_OK; /* the error event was the last word, as Anthropic's own streams do */
    int rc = message_start(enc, out);
    if (!rc && enc->next_block == 0) {
        /* An empty answer is still one (empty) text block, as the API returns it. */
        rc = block_start(enc, API_BLOCK_TEXT, out);
        rc = rc ? rc : osr_buf_puts(out, "{\"type\":\"text\",\"text\":\"\"}}\n\n");
    }
    rc = rc ? rc : block_stop(enc, out);
    rc = rc ? rc : osr_api_sse_event(out, "message_delta");
    rc = rc ? rc : osr_buf_puts(out, "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"");
    rc = rc ? rc : osr_buf_puts(out, stop_reason(enc));
    rc = rc ? rc : osr_buf_putc(out, '"');
    rc = rc ? rc : put_stop_sequence(enc, out);
    rc = rc ? rc
            : osr_buf_appendf(out, "},\"usage\":{\"output_tokens\":%lld}}\n\n",
                              (long long)osr_api_completion_tokens(enc));
    rc = rc ? rc : osr_api_sse_event(out, "message_stop");
    return rc ? rc : osr_buf_puts(out, "{\"type\":\"message_stop\"}\n\n");
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
    rc = rc ? rc : osr_buf_puts(out, ",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
    rc = rc ? rc : osr_api_put_cstr(out, enc->model);
    rc = rc ? rc : osr_buf_puts(out, ",\"content\":[");
    bool any = false;
    if (enc->reasoning.len) {
        rc = rc ? rc : osr_buf_puts(out, "{\"type\":\"thinking\",\"thinking\":");
        rc = rc ? rc : osr_api_put_str(out, enc->reasoning.data, enc->reasoning.len);
        rc = rc ? rc : osr_buf_puts(out, ",\"signature\":\"\"}");
        any = true;
    }
    if (enc->text.len || (!enc->n_tools && !any)) {
        rc = rc ? rc
                : osr_buf_puts(out, any ? ",{\"type\":\"text\",\"text\":"
                                        : "{\"type\":\"text\",\"text\":");
        rc = rc ? rc : osr_api_put_str(out, enc->text.data, enc->text.len);
        rc = rc ? rc : osr_buf_putc(out, '}');
        any = true;
    }
    for (size_t i = 0; i < enc->n_tools && !rc; i++) {
        const struct api_tool_acc *t = &enc->tools[i];
        rc = osr_buf_puts(out, any ? ",{\"type\":\"tool_use\",\"id\":"
                                   : "{\"type\":\"tool_use\",\"id\":");
        any = true;
        rc = rc ? rc : osr_api_put_cstr(out, t->id);
        rc = rc ? rc : osr_buf_puts(out, ",\"name\":");
        rc = rc ? rc : osr_api_put_cstr(out, t->name);
        rc = rc ? rc : osr_buf_puts(out, ",\"input\":");
        rc = rc ? rc : osr_api_put_args_object(out, &t->args);
        rc = rc ? rc : osr_buf_putc(out, '}');
    }
    rc = rc ? rc : osr_buf_puts(out, "],\"stop_reason\":\"");
    rc = rc ? rc : osr_buf_puts(out, stop_reason(enc));
    rc = rc ? rc : osr_buf_putc(out, '"');
    rc = rc ? rc : put_stop_sequence(enc, out);
    rc = rc ? rc
            : osr_buf_appendf(out, ",\"usage\":{\"input_tokens\":%lld,\"output_tokens\":%lld}}",
                              (long long)osr_api_prompt_tokens(enc),
                              (long long)osr_api_completion_tokens(enc));
    return rc;
}

const struct api_encoder_ops osr_api_anthropic_ops = {
    .stream_type = "text/event-stream",
    .body_type = OSR_API_JSON_CONTENT_TYPE,
    .event = stream_event,
    .stream_end = stream_end,
    .body = body,
};
