/* openai_responses.c - OpenAI Responses: body -> canonical request, events -> SSE/body.
 *
 * Decoding: input as a string or a list of items (messages with input_text / output_text /
 * input_image parts, function_call, function_call_output; reasoning items are accepted and
 * skipped), instructions (a leading system message), flat function tools, tool_choice,
 * parallel_tool_calls, max_output_tokens, temperature, top_p, text.format, reasoning.effort,
 * store, metadata, user and previous_response_id (decoded only: storing and chaining belong
 * to the route handler).
 *
 * Encoding: the semantic event stream with increasing sequence_number - response.created,
 * response.in_progress, then per output item output_item.added, content_part.added,
 * output_text.delta* / reasoning_text.delta* / function_call_arguments.delta*, their .done
 * events and output_item.done, and one terminal response.completed, response.incomplete (the
 * token budget ran out) or response.failed.  Items are tracked in the order they open, so the
 * final Response lists them exactly as they streamed; the non-stream body is built the same
 * way.  No I/O here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "osr/alloc.h"
#include "osr/api_responses.h"
#include "osr/json.h"

#define P OSR_API_RESPONSES
#define MAX_ITEMS (API_MAX_TOOL_CALLS + 64)

/* ---------------------------------------------------------------- decoding */

static int parse_role(const char *s, enum osr_role *role)
{
    if (strcmp(s, "user") == 0)
        *role = OSR_ROLE_USER;
    else if (strcmp(s, "assistant") == 0)
        *role = OSR_ROLE_ASSISTANT;
    else if (strcmp(s, "system") == 0)
        *role = OSR_ROLE_SYSTEM;
    else if (strcmp(s, "developer") == 0)
        *role = OSR_ROLE_DEVELOPER;
    else
        return -1;
    return 0;
}

static int decode_parts(struct osr_chat_request *req, struct osr_api_error *err,
                        struct osr_message *m, struct json_object *content, const char *path)
{
    size_t n = json_object_array_length(content);
    for (size_t i = 0; i < n; i++) {
        char ipath[API_PATH_MAX], tpath[API_PATH_MAX];
        osr_api_path_index(ipath, path, i);
        struct json_object *part = json_object_array_get_idx(content, i);
        if (!part || !json_object_is_type(part, json_type_object))
            return osr_api_fail(err, 400, ipath, "'%s' must be an object", ipath);
        const char *type = NULL;
        int rc = osr_api_get_str(req, err, part, ipath, "type", true, &type, NULL);
        if (rc)
            return rc;
        osr_api_path(tpath, ipath, "type");
        struct osr_part *p;
        if (strcmp(type, "input_text") == 0 || strcmp(type, "output_text") == 0 ||
            strcmp(type, "text") == 0 || strcmp(type, "refusal") == 0) {
            const char *key = strcmp(type, "refusal") == 0 ? "refusal" : "text";
            const char *t = NULL;
            size_t tn = 0;
            rc = osr_api_get_str(req, err, part, ipath, key, true, &t, &tn);
            if (rc)
                return rc;
            p = osr_chat_message_add_part(req, m, OSR_PART_TEXT);
            if (!p)
                return osr_api_fail(err, 413, path, "too many content parts in '%s'", path);
            p->text = osr_str_make(t, tn);
        } else if (strcmp(type, "input_image") == 0) {
            if (m->role != OSR_ROLE_USER)
                return osr_api_fail(err, 400, tpath, "input_image is only allowed in user input");
            const char *url = NULL, *detail = NULL;
            size_t un = 0;
            rc = osr_api_get_str(req, err, part, ipath, "image_url", false, &url, &un);
            rc = rc ? rc : osr_api_get_str(req, err, part, ipath, "detail", false, &detail, NULL);
            if (rc)
                return rc;
            osr_api_path(tpath, ipath, "image_url");
            if (!url)
                return osr_api_fail(err, 400, tpath,
                                    "'%s' is required (file_id images are not supported)", tpath);
            p = osr_chat_message_add_part(req, m, OSR_PART_IMAGE);
            if (!p)
                return osr_api_fail(err, 413, path, "too many content parts in '%s'", path);
            rc = osr_api_image_url(req, err, url, un, tpath, &p->image);
            if (rc)
                return rc;
            p->image.detail = detail;
        } else {
            return osr_api_fail(err, 400, tpath, "content part type '%s' is not supported", type);
        }
    }
    return OSR_OK;
}

/* The assistant message that function_call items join: the last message when it is an
 * assistant turn, else a new one. */
static struct osr_message *assistant_turn(struct osr_chat_request *req)
{
    if (req->n_messages && req->messages[req->n_messages - 1].role == OSR_ROLE_ASSISTANT)
        return &req->messages[req->n_messages - 1];
    return osr_chat_request_add_message(req, OSR_ROLE_ASSISTANT);
}

static int decode_item(struct osr_chat_request *req, struct osr_api_error *err,
                       struct json_object *item, const char *where)
{
    char path[API_PATH_MAX];
    if (!json_object_is_type(item, json_type_object))
        return osr_api_fail(err, 400, where, "'%s' must be an object", where);
    const char *type = "message", *role_s = NULL;
    int rc = osr_api_get_str(req, err, item, where, "type", false, &type, NULL);
    if (rc)
        return rc;
    osr_api_path(path, where, "type");
    if (strcmp(type, "message") == 0) {
        rc = osr_api_get_str(req, err, item, where, "role", true, &role_s, NULL);
        if (rc)
            return rc;
        enum osr_role role;
        if (parse_role(role_s, &role)) {
            osr_api_path(path, where, "role");
            return osr_api_fail(err, 400, path,
                                "'%s' must be one of user, assistant, system, developer "
                                "(got '%s')",
                                path, role_s);
        }
        struct osr_message *m = osr_chat_request_add_message(req, role);
        if (!m)
            return osr_api_fail(err, 413, "input", "too many input items");
        struct json_object *content = osr_api_field(item, "content");
        osr_api_path(path, where, "content");
        if (content && json_object_is_type(content, json_type_string)) {
            struct osr_part *p = osr_chat_message_add_part(req, m, OSR_PART_TEXT);
            if (!p)
                return osr_api_fail(err, 413, NULL, "request is too large");
            return osr_api_string_value(req, err, content, path, &p->text);
        }
        if (content && json_object_is_type(content, json_type_array))
            return decode_parts(req, err, m, content, path);
        if (!content)
            return osr_api_fail(err, 400, path, "missing required parameter: '%s'", path);
        return osr_api_fail(err, 400, path, "'%s' must be a string or an array of parts", path);
    }
    if (strcmp(type, "function_call") == 0) {
        struct osr_message *m = assistant_turn(req);
        struct osr_part *p = m ? osr_chat_message_add_part(req, m, OSR_PART_TOOL_CALL) : NULL;
        const char *args = NULL;
        size_t an = 0;
        if (!p)
            return osr_api_fail(err, 413, NULL, "request is too large");
        rc = osr_api_get_str(req, err, item, where, "call_id", true, &p->call.id, NULL);
        rc = rc ? rc : osr_api_get_str(req, err, item, where, "name", true, &p->call.name, NULL);
        rc = rc ? rc : osr_api_get_str(req, err, item, where, "arguments", true, &args, &an);
        p->call.arguments = osr_str_make(args ? args : "", args ? an : 0);
        return rc;
    }
    if (strcmp(type, "function_call_output") == 0) {
        struct osr_message *m = osr_chat_request_add_message(req, OSR_ROLE_TOOL);
        struct osr_part *p = m ? osr_chat_message_add_part(req, m, OSR_PART_TOOL_RESULT) : NULL;
        if (!p)
            return osr_api_fail(err, 413, NULL, "request is too large");
        rc = osr_api_get_str(req, err, item, where, "call_id", true, &p->result.call_id, NULL);
        if (rc)
            return rc;
        struct json_object *output = osr_api_field(item, "output");
        osr_api_path(path, where, "output");
        if (!output)
            return osr_api_fail(err, 400, path, "missing required parameter: '%s'", path);
        if (json_object_is_type(output, json_type_string))
            return osr_api_string_value(req, err, output, path, &p->text);
        if (!json_object_is_type(output, json_type_array))
            return osr_api_fail(err, 400, path, "'%s' must be a string or an array of parts", path);
        /* Parts: keep the text ones, joined. */
        struct osr_buf acc;
        osr_buf_init(&acc, req->arena.max);
        size_t n = json_object_array_length(output);
        for (size_t i = 0; i < n && !rc; i++) {
            struct json_object *part = json_object_array_get_idx(output, i);
            struct json_object *t = osr_api_field(part, "text");
            if (t && json_object_is_type(t, json_type_string) &&
                osr_buf_append(&acc, json_object_get_string(t),
                               (size_t)json_object_get_string_len(t)))
                rc = osr_api_fail(err, 413, NULL, "request is too large");
        }
        const char *s = NULL;
        rc = rc ? rc : osr_api_copy(req, err, osr_buf_str(&acc), acc.len, &s);
        if (!rc)
            p->text = osr_str_make(s, acc.len);
        osr_buf_release(&acc);
        return rc;
    }
    if (strcmp(type, "reasoning") == 0)
        return OSR_OK; /* an earlier turn's reasoning: nothing a chat template takes */
    return osr_api_fail(err, 400, path, "input item type '%s' is not supported", type);
}

static int decode_tools(struct osr_chat_request *req, struct osr_api_error *err,
                        struct json_object *tools)
{
    size_t n = json_object_array_length(tools);
    if (n > OSR_CHAT_MAX_TOOLS)
        return osr_api_fail(err, 400, "tools", "'tools' may hold at most %d tools",
                            OSR_CHAT_MAX_TOOLS);
    for (size_t i = 0; i < n; i++) {
        char ipath[API_PATH_MAX];
        osr_api_path_index(ipath, "tools", i);
        struct json_object *t = json_object_array_get_idx(tools, i);
        if (!t || !json_object_is_type(t, json_type_object))
            return osr_api_fail(err, 400, ipath, "'%s' must be an object", ipath);
        int rc = osr_api_check_function_type(req, err, t, ipath);
        rc = rc ? rc : osr_api_decode_function(req, err, t, ipath);
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
                                "{\"type\":\"function\",\"name\":...}");
        if (req->tool_choice == OSR_TOOL_CHOICE_REQUIRED && req->n_tools == 0)
            return osr_api_fail(err, 400, "tool_choice",
                                "'tool_choice' is \"required\" but no 'tools' were given");
        return OSR_OK;
    }
    if (!json_object_is_type(v, json_type_object))
        return osr_api_fail(err, 400, "tool_choice",
                            "'tool_choice' must be a string or an "
                            "object");
    const char *type = NULL, *name = NULL;
    int rc = osr_api_get_str(req, err, v, "tool_choice", "type", true, &type, NULL);
    if (rc)
        return rc;
    if (strcmp(type, "function") != 0)
        return osr_api_fail(err, 400, "tool_choice.type",
                            "'tool_choice.type' must be "
                            "\"function\"");
    rc = osr_api_get_str(req, err, v, "tool_choice", "name", true, &name, NULL);
    return rc ? rc : osr_api_named_choice(req, err, name, "tool_choice.name");
}

static int decode_text_format(struct osr_chat_request *req, struct osr_api_error *err,
                              struct json_object *root)
{
    struct json_object *text = NULL, *fmt = NULL, *schema = NULL;
    int rc = osr_api_get_typed(err, root, "", "text", json_type_object, false, &text);
    rc = rc ? rc : osr_api_get_typed(err, text, "text", "format", json_type_object, false, &fmt);
    if (rc || !fmt)
        return rc;
    const char *type = NULL;
    rc = osr_api_get_str(req, err, fmt, "text.format", "type", true, &type, NULL);
    if (rc)
        return rc;
    if (strcmp(type, "text") == 0)
        return OSR_OK;
    if (strcmp(type, "json_object") == 0) {
        req->format.kind = OSR_FORMAT_JSON_OBJECT;
        return OSR_OK;
    }
    if (strcmp(type, "json_schema") != 0)
        return osr_api_fail(err, 400, "text.format.type",
                            "'text.format.type' must be \"text\", \"json_object\" or "
                            "\"json_schema\" (got '%s')",
                            type);
    req->format.kind = OSR_FORMAT_JSON_SCHEMA;
    rc = osr_api_get_str(req, err, fmt, "text.format", "name", true, &req->format.name, NULL);
    rc = rc ? rc
            : osr_api_get_typed(err, fmt, "text.format", "schema", json_type_object, true, &schema);
    rc = rc ? rc : osr_api_get_bool(err, fmt, "text.format", "strict", &req->format.strict, NULL);
    if (!rc)
        req->format.schema = osr_api_hold(req, schema);
    return rc;
}

int osr_responses_decode(struct osr_chat_request *req, const char *body, size_t n,
                         struct osr_api_error *err)
{
    struct json_object *root, *input, *tools = NULL, *meta = NULL, *reasoning = NULL;
    bool store = false, has_store = false, background = false;
    int rc = osr_api_parse_body(req, body, n, &root, err);
    if (rc)
        return rc;
    rc = osr_api_get_str(req, err, root, "", "model", true, &req->model, NULL);
    if (rc)
        return rc;
    if (!req->model[0])
        return osr_api_fail(err, 400, "model", "'model' must not be empty");
    rc = osr_api_get_typed(err, root, "", "tools", json_type_array, false, &tools);
    if (!rc && tools)
        rc = decode_tools(req, err, tools);
    size_t iln = 0;
    rc =
        rc ? rc
           : osr_api_get_str(req, err, root, "", "instructions", false, &req->x.instructions, &iln);
    if (rc)
        return rc;
    if (req->x.instructions) {
        struct osr_message *m = osr_chat_request_add_message(req, OSR_ROLE_SYSTEM);
        struct osr_part *p = m ? osr_chat_message_add_part(req, m, OSR_PART_TEXT) : NULL;
        if (!p)
            return osr_api_fail(err, 413, NULL, "request is too large");
        p->text = osr_str_make(req->x.instructions, iln);
    }
    input = osr_api_field(root, "input");
    if (!input)
        return osr_api_fail(err, 400, "input", "missing required parameter: 'input'");
    if (json_object_is_type(input, json_type_string)) {
        struct osr_message *m = osr_chat_request_add_message(req, OSR_ROLE_USER);
        struct osr_part *p = m ? osr_chat_message_add_part(req, m, OSR_PART_TEXT) : NULL;
        if (!p)
            return osr_api_fail(err, 413, NULL, "request is too large");
        rc = osr_api_string_value(req, err, input, "input", &p->text);
    } else if (json_object_is_type(input, json_type_array)) {
        size_t ni = json_object_array_length(input);
        if (ni > OSR_CHAT_MAX_MESSAGES)
            return osr_api_fail(err, 413, "input", "too many input items");
        for (size_t i = 0; i < ni && !rc; i++) {
            char where[API_PATH_MAX];
            osr_api_path_index(where, "input", i);
            struct json_object *it = json_object_array_get_idx(input, i);
            rc = it ? decode_item(req, err, it, where)
                    : osr_api_fail(err, 400, where, "'%s' must be an object", where);
        }
    } else {
        return osr_api_fail(err, 400, "input",
                            "'input' must be a string or an array of input items");
    }
    if (rc)
        return rc;
    if (req->n_messages == 0 && !osr_api_field(root, "previous_response_id"))
        return osr_api_fail(err, 400, "input", "'input' must not be empty");
    rc = decode_tool_choice(req, err, osr_api_field(root, "tool_choice"));
    rc = rc ? rc
            : osr_api_get_bool(err, root, "", "parallel_tool_calls", &req->parallel_tool_calls,
                               NULL);
    rc = rc ? rc
            : osr_api_get_int(err, root, "", "max_output_tokens", 1, INT32_MAX,
                              &req->sampling.max_tokens, NULL);
    rc = rc ? rc
            : osr_api_get_double(err, root, "", "temperature", 0, 2, &req->sampling.temperature);
    rc = rc ? rc : osr_api_get_double(err, root, "", "top_p", 0, 1, &req->sampling.top_p);
    rc = rc ? rc : osr_api_get_bool(err, root, "", "stream", &req->stream, NULL);
    rc = rc ? rc
            : osr_api_get_str(req, err, root, "", "previous_response_id", false,
                              &req->x.previous_response_id, NULL);
    rc = rc ? rc : osr_api_get_bool(err, root, "", "store", &store, &has_store);
    rc = rc ? rc : osr_api_get_bool(err, root, "", "background", &background, NULL);
    rc = rc ? rc : osr_api_get_typed(err, root, "", "metadata", json_type_object, false, &meta);
    rc = rc ? rc : osr_api_get_str(req, err, root, "", "user", false, &req->user, NULL);
    rc = rc ? rc
            : osr_api_get_typed(err, root, "", "reasoning", json_type_object, false, &reasoning);
    rc = rc ? rc
            : osr_api_get_str(req, err, reasoning, "reasoning", "effort", false,
                              &req->x.reasoning_effort, NULL);
    rc = rc ? rc : decode_text_format(req, err, root);
    if (rc)
        return rc;
    if (background)
        return osr_api_fail(err, 400, "background", "'background' responses are not supported");
    if (has_store)
        req->x.store = store;
    req->metadata = osr_api_hold(req, meta);
    return OSR_OK;
}

/* ---------------------------------------------------------------- encoding */

static struct api_item *item_add(struct osr_api_encoder *enc, enum api_item_kind kind, int tool)
{
    if (enc->n_items >= MAX_ITEMS)
        return NULL;
    if (enc->n_items == enc->cap_items) {
        size_t ncap = enc->cap_items ? enc->cap_items * 2 : 4;
        enc->items = osr_xrealloc(enc->items, ncap * sizeof(*enc->items));
        enc->cap_items = ncap;
    }
    struct api_item *it = &enc->items[enc->n_items++];
    memset(it, 0, sizeof(*it));
    it->kind = kind;
    it->tool = tool;
    osr_buf_init(&it->text, enc->max_text);
    if (kind == API_ITEM_MESSAGE)
        osr_api_new_id(enc, "msg_", 24, false, it->id, sizeof(it->id));
    else if (kind == API_ITEM_REASONING)
        osr_api_new_id(enc, "rs_", 24, false, it->id, sizeof(it->id));
    else
        snprintf(it->id, sizeof(it->id), "%s", enc->tools[tool].item_id);
    return it;
}

static bool incomplete(const struct osr_api_encoder *enc)
{
    return enc->finished && enc->finish == OSR_FINISH_LENGTH && enc->n_tools == 0;
}

/* Starts a frame: event line and {"type":..,"sequence_number":N */
static int frame(struct osr_api_encoder *enc, struct osr_buf *out, const char *type)
{
    int rc = osr_api_sse_event(out, type);
    rc = rc ? rc
            : osr_buf_appendf(out, "{\"type\":\"%s\",\"sequence_number\":%lld", type,
                              (long long)enc->seq++);
    return rc;
}

static int put_part(struct osr_buf *out, const struct api_item *it)
{
    int rc;
    if (it->kind == API_ITEM_REASONING) {
        rc = osr_buf_puts(out, "{\"type\":\"reasoning_text\",\"text\":");
    } else {
        rc = osr_buf_puts(out, "{\"type\":\"output_text\",\"annotations\":[],\"text\":");
    }
    rc = rc ? rc : osr_api_put_str(out, it->text.data, it->text.len);
    return rc ? rc : osr_buf_putc(out, '}');
}

/* Writes an item as it stands: done (complete) or just opened. */
static int put_item(struct osr_api_encoder *enc, struct osr_buf *out, const struct api_item *it,
                    bool done)
{
    int rc = osr_buf_puts(out, "{\"id\":");
    rc = rc ? rc : osr_api_put_cstr(out, it->id);
    const char *status = !done                            ? "in_progress"
                         : incomplete(enc) || enc->failed ? "incomplete"
                                                          : "completed";
    switch (it->kind) {
    case API_ITEM_MESSAGE:
        rc = rc ? rc
                : osr_buf_appendf(out,
                                  ",\"type\":\"message\",\"status\":\"%s\","
                                  "\"role\":\"assistant\",\"content\":[",
                                  status);
        if (done)
            rc = rc ? rc : put_part(out, it);
        return rc ? rc : osr_buf_puts(out, "]}");
    case API_ITEM_REASONING:
        rc = rc ? rc : osr_buf_puts(out, ",\"type\":\"reasoning\",\"summary\":[],\"content\":[");
        if (done)
            rc = rc ? rc : put_part(out, it);
        return rc ? rc : osr_buf_puts(out, "]}");
    case API_ITEM_FUNCTION_CALL: {
        const struct api_tool_acc *t = &enc->tools[it->tool];
        rc = rc ? rc
                : osr_buf_appendf(out,
                                  ",\"type\":\"function_call\",\"status\":\"%s\","
                                  "\"call_id\":",
                                  status);
        rc = rc ? rc : osr_api_put_cstr(out, t->id);
        rc = rc ? rc : osr_buf_puts(out, ",\"name\":");
        rc = rc ? rc : osr_api_put_cstr(out, t->name);
        rc = rc ? rc : osr_buf_puts(out, ",\"arguments\":");
        if (done)
            rc = rc ? rc : osr_api_put_str(out, t->args.data, t->args.len);
        else
            rc = rc ? rc : osr_buf_puts(out, "\"\"");
        return rc ? rc : osr_buf_putc(out, '}');
    }
    }
    return rc;
}

static int put_tools(struct osr_api_encoder *enc, struct osr_buf *out)
{
    const struct osr_chat_request *req = enc->req;
    int rc = osr_buf_puts(out, ",\"tool_choice\":");
    enum osr_tool_choice tc = req ? req->tool_choice : OSR_TOOL_CHOICE_AUTO;
    if (tc == OSR_TOOL_CHOICE_NAMED) {
        rc = rc ? rc : osr_buf_puts(out, "{\"type\":\"function\",\"name\":");
        rc = rc ? rc : osr_api_put_cstr(out, req->tool_choice_name);
        rc = rc ? rc : osr_buf_putc(out, '}');
    } else {
        rc = rc ? rc
                : osr_buf_puts(out, tc == OSR_TOOL_CHOICE_NONE       ? "\"none\""
                                    : tc == OSR_TOOL_CHOICE_REQUIRED ? "\"required\""
                                                                     : "\"auto\"");
    }
    rc = rc ? rc : osr_buf_puts(out, ",\"tools\":[");
    for (size_t i = 0; req && i < req->n_tools && !rc; i++) {
        const struct osr_tool *t = &req->tools[i];
        rc = osr_buf_puts(out, i ? ",{\"type\":\"function\",\"name\":"
                                 : "{\"type\":\"function\",\"name\":");
        rc = rc ? rc : osr_api_put_cstr(out, t->name);
        rc = rc ? rc : osr_buf_puts(out, ",\"description\":");
        rc = rc ? rc
                : (t->description ? osr_api_put_cstr(out, t->description)
                                  : osr_buf_puts(out, "null"));
        rc = rc ? rc : osr_buf_puts(out, ",\"parameters\":");
        rc = rc ? rc
                : (t->parameters ? osr_json_append(out, t->parameters) : osr_buf_puts(out, "null"));
        rc = rc ? rc : osr_buf_appendf(out, ",\"strict\":%s}", t->strict ? "true" : "false");
    }
    return rc ? rc : osr_buf_putc(out, ']');
}

/* The Response object.  status: in_progress, completed, incomplete or failed. */
static int put_response(struct osr_api_encoder *enc, struct osr_buf *out, const char *status)
{
    const struct osr_chat_request *req = enc->req;
    bool final = strcmp(status, "in_progress") != 0;
    int rc = osr_buf_puts(out, "{\"id\":");
    rc = rc ? rc : osr_api_put_cstr(out, enc->id);
    rc = rc ? rc
            : osr_buf_appendf(out, ",\"object\":\"response\",\"created_at\":%lld,\"status\":\"%s\"",
                              (long long)(enc->now_ms / 1000), status);
    rc = rc ? rc : osr_buf_puts(out, ",\"error\":");
    if (strcmp(status, "failed") == 0) {
        rc = rc ? rc : osr_buf_puts(out, "{\"code\":\"server_error\",\"message\":");
        rc = rc ? rc : osr_api_put_cstr(out, enc->error_msg);
        rc = rc ? rc : osr_buf_putc(out, '}');
    } else {
        rc = rc ? rc : osr_buf_puts(out, "null");
    }
    rc = rc ? rc
            : osr_buf_puts(out, strcmp(status, "incomplete") == 0
                                    ? ",\"incomplete_details\":{\"reason\":\"max_output_tokens\"}"
                                    : ",\"incomplete_details\":null");
    rc = rc ? rc : osr_buf_puts(out, ",\"instructions\":");
    rc = rc ? rc
            : (req && req->x.instructions ? osr_api_put_cstr(out, req->x.instructions)
                                          : osr_buf_puts(out, "null"));
    if (req && req->sampling.max_tokens)
        rc = rc ? rc
                : osr_buf_appendf(out, ",\"max_output_tokens\":%lld",
                                  (long long)req->sampling.max_tokens);
    else
        rc = rc ? rc : osr_buf_puts(out, ",\"max_output_tokens\":null");
    rc = rc ? rc : osr_buf_puts(out, ",\"model\":");
    rc = rc ? rc : osr_api_put_cstr(out, enc->model);
    rc = rc ? rc : osr_buf_puts(out, ",\"output\":[");
    for (size_t i = 0; final && i < enc->n_items && !rc; i++) {
        if (i)
            rc = osr_buf_putc(out, ',');
        rc = rc ? rc : put_item(enc, out, &enc->items[i], true);
    }
    rc = rc ? rc : osr_buf_putc(out, ']');
    rc = rc ? rc
            : osr_buf_appendf(out, ",\"parallel_tool_calls\":%s",
                              !req || req->parallel_tool_calls ? "true" : "false");
    rc = rc ? rc : osr_buf_puts(out, ",\"previous_response_id\":");
    rc = rc ? rc
            : (req && req->x.previous_response_id
                   ? osr_api_put_cstr(out, req->x.previous_response_id)
                   : osr_buf_puts(out, "null"));
    rc = rc ? rc : put_tools(enc, out);
    rc = rc ? rc : osr_buf_puts(out, ",\"usage\":");
    if (final && strcmp(status, "failed") != 0) {
        int64_t p = osr_api_prompt_tokens(enc), c = osr_api_completion_tokens(enc);
        int64_t cached = enc->have_usage ? enc->usage.cached_tokens : 0;
        int64_t reasoning = enc->have_usage ? enc->usage.reasoning_tokens : 0;
        rc = rc ? rc
                : osr_buf_appendf(out,
                                  "{\"input_tokens\":%lld,\"input_tokens_details\":"
                                  "{\"cached_tokens\":%lld},\"output_tokens\":%lld,"
                                  "\"output_tokens_details\":{\"reasoning_tokens\":%lld},"
                                  "\"total_tokens\":%lld}",
                                  (long long)p, (long long)cached, (long long)c,
                                  (long long)reasoning, (long long)(p + c));
    } else {
        rc = rc ? rc : osr_buf_puts(out, "null");
    }
    rc = rc ? rc : osr_buf_puts(out, ",\"metadata\":");
    rc =
        rc ? rc
           : (req && req->metadata ? osr_json_append(out, req->metadata) : osr_buf_puts(out, "{}"));
    return rc ? rc : osr_buf_putc(out, '}');
}

static int start(struct osr_api_encoder *enc, struct osr_buf *out)
{
    if (enc->started)
        return OSR_OK;
    enc->started = true;
    if (!out)
        return OSR_OK;
    int rc = frame(enc, out, "response.created");
    rc = rc ? rc : osr_buf_puts(out, ",\"response\":");
    rc = rc ? rc : put_response(enc, out, "in_progress");
    rc = rc ? rc : osr_buf_puts(out, "}\n\n");
    rc = rc ? rc : frame(enc, out, "response.in_progress");
    rc = rc ? rc : osr_buf_puts(out, ",\"response\":");
    rc = rc ? rc : put_response(enc, out, "in_progress");
    return rc ? rc : osr_buf_puts(out, "}\n\n");
}

/* item_id, output_index and content_index fields of a frame about item i. */
static int item_ref(struct osr_api_encoder *enc, struct osr_buf *out, size_t i, bool content)
{
    int rc = osr_buf_puts(out, ",\"item_id\":");
    rc = rc ? rc : osr_api_put_cstr(out, enc->items[i].id);
    rc = rc ? rc : osr_buf_appendf(out, ",\"output_index\":%zu", i);
    if (content)
        rc = rc ? rc : osr_buf_puts(out, ",\"content_index\":0");
    return rc;
}

static int close_item(struct osr_api_encoder *enc, struct osr_buf *out)
{
    if (enc->block_index < 0)
        return OSR_OK;
    size_t i = (size_t)enc->block_index;
    struct api_item *it = &enc->items[i];
    enc->block_index = -1;
    it->done = true;
    if (!out)
        return OSR_OK;
    int rc = OSR_OK;
    if (it->kind == API_ITEM_FUNCTION_CALL) {
        const struct api_tool_acc *t = &enc->tools[it->tool];
        rc = frame(enc, out, "response.function_call_arguments.done");
        rc = rc ? rc : item_ref(enc, out, i, false);
        rc = rc ? rc : osr_buf_puts(out, ",\"name\":");
        rc = rc ? rc : osr_api_put_cstr(out, t->name);
        rc = rc ? rc : osr_buf_puts(out, ",\"arguments\":");
        rc = rc ? rc : osr_api_put_str(out, t->args.data, t->args.len);
        rc = rc ? rc : osr_buf_puts(out, "}\n\n");
    } else {
        bool msg = it->kind == API_ITEM_MESSAGE;
        rc = frame(enc, out, msg ? "response.output_text.done" : "response.reasoning_text.done");
        rc = rc ? rc : item_ref(enc, out, i, true);
        rc = rc ? rc : osr_buf_puts(out, ",\"text\":");
        rc = rc ? rc : osr_api_put_str(out, it->text.data, it->text.len);
        rc = rc ? rc : osr_buf_puts(out, "}\n\n");
        rc = rc ? rc : frame(enc, out, "response.content_part.done");
        rc = rc ? rc : item_ref(enc, out, i, true);
        rc = rc ? rc : osr_buf_puts(out, ",\"part\":");
        rc = rc ? rc : put_part(out, it);
        rc = rc ? rc : osr_buf_puts(out, "}\n\n");
    }
    rc = rc ? rc : frame(enc, out, "response.output_item.done");
    rc = rc ? rc : osr_buf_appendf(out, ",\"output_index\":%zu,\"item\":", i);
    rc = rc ? rc : put_item(enc, out, it, true);
    return rc ? rc : osr_buf_puts(out, "}\n\n");
}

static int open_item(struct osr_api_encoder *enc, struct osr_buf *out, enum api_item_kind kind,
                     int tool)
{
    int rc = close_item(enc, out);
    if (rc)
        return rc;
    struct api_item *it = item_add(enc, kind, tool);
    if (!it)
        return OSR_ETOOBIG;
    size_t i = enc->n_items - 1;
    enc->block_index = (int)i;
    if (!out)
        return OSR_OK;
    rc = frame(enc, out, "response.output_item.added");
    rc = rc ? rc : osr_buf_appendf(out, ",\"output_index\":%zu,\"item\":", i);
    rc = rc ? rc : put_item(enc, out, it, false);
    rc = rc ? rc : osr_buf_puts(out, "}\n\n");
    if (kind != API_ITEM_FUNCTION_CALL) {
        rc = rc ? rc : frame(enc, out, "response.content_part.added");
        rc = rc ? rc : item_ref(enc, out, i, true);
        rc = rc ? rc : osr_buf_puts(out, ",\"part\":");
        rc = rc ? rc : put_part(out, it);
        rc = rc ? rc : osr_buf_puts(out, "}\n\n");
    }
    return rc;
}

static struct api_item *open_of(struct osr_api_encoder *enc)
{
    return enc->block_index >= 0 ? &enc->items[enc->block_index] : NULL;
}

static int text_delta(struct osr_api_encoder *enc, struct osr_buf *out, enum api_item_kind kind,
                      struct osr_str s)
{
    if (s.n == 0)
        return OSR_OK;
    struct api_item *it = open_of(enc);
    int rc = OSR_OK;
    if (!it || it->kind != kind) {
        rc = open_item(enc, out, kind, -1);
        if (rc)
            return rc;
        it = open_of(enc);
    }
    rc = osr_buf_append(&it->text, s.p, s.n);
    if (rc || !out)
        return rc;
    rc = frame(enc, out,
               kind == API_ITEM_MESSAGE ? "response.output_text.delta"
                                        : "response.reasoning_text.delta");
    rc = rc ? rc : item_ref(enc, out, (size_t)enc->block_index, true);
    rc = rc ? rc : osr_buf_puts(out, ",\"delta\":");
    rc = rc ? rc : osr_api_put_str(out, s.p, s.n);
    return rc ? rc : osr_buf_puts(out, "}\n\n");
}

static int terminal(struct osr_api_encoder *enc, struct osr_buf *out, const char *type,
                    const char *status)
{
    int rc = frame(enc, out, type);
    rc = rc ? rc : osr_buf_puts(out, ",\"response\":");
    rc = rc ? rc : put_response(enc, out, status);
    return rc ? rc : osr_buf_puts(out, "}\n\n");
}

static int event(struct osr_api_encoder *enc, const struct osr_event *ev, struct osr_buf *out)
{
    int rc = start(enc, out);
    if (rc)
        return rc;
    switch (ev->kind) {
    case OSR_EV_TEXT_DELTA:
        return text_delta(enc, out, API_ITEM_MESSAGE, ev->text);
    case OSR_EV_REASONING_DELTA:
        return text_delta(enc, out, API_ITEM_REASONING, ev->text);
    case OSR_EV_TOOL_CALL_START: {
        struct api_tool_acc *t = osr_api_tool_find(enc, ev->index);
        return open_item(enc, out, API_ITEM_FUNCTION_CALL, (int)(t - enc->tools));
    }
    case OSR_EV_TOOL_CALL_ARGS_DELTA: {
        struct api_tool_acc *t = osr_api_tool_find(enc, ev->index);
        struct api_item *it = open_of(enc);
        if (!out || ev->text.n == 0 || !it || it->kind != API_ITEM_FUNCTION_CALL ||
            it->tool != t - enc->tools)
            return OSR_OK; /* see the ordering rule in chat.h */
        rc = frame(enc, out, "response.function_call_arguments.delta");
        rc = rc ? rc : item_ref(enc, out, (size_t)enc->block_index, false);
        rc = rc ? rc : osr_buf_puts(out, ",\"delta\":");
        rc = rc ? rc : osr_api_put_str(out, ev->text.p, ev->text.n);
        return rc ? rc : osr_buf_puts(out, "}\n\n");
    }
    case OSR_EV_FINISH:
        return close_item(enc, out);
    case OSR_EV_ERROR:
        return out ? terminal(enc, out, "response.failed", "failed") : OSR_OK;
    default:
        return OSR_OK;
    }
}

/* A finished response always holds at least one item: an empty answer is an empty message. */
static int empty_answer(struct osr_api_encoder *enc, struct osr_buf *out)
{
    if (enc->n_items)
        return OSR_OK;
    int rc = open_item(enc, out, API_ITEM_MESSAGE, -1);
    return rc ? rc : close_item(enc, out);
}

static int stream_end(struct osr_api_encoder *enc, struct osr_buf *out)
{
    if (enc->failed)
        return OSR_OK; /* response.failed was the terminal event */
    int rc = start(enc, out);
    rc = rc ? rc : close_item(enc, out);
    rc = rc ? rc : empty_answer(enc, out);
    if (incomplete(enc))
        return rc ? rc : terminal(enc, out, "response.incomplete", "incomplete");
    return rc ? rc : terminal(enc, out, "response.completed", "completed");
}

static int body(struct osr_api_encoder *enc, struct osr_buf *out)
{
    if (enc->failed) {
        struct osr_api_error e = {0};
        osr_api_error_set(&e, enc->status, NULL, "%s", enc->error_msg);
        return osr_api_error_body(P, &e, out);
    }
    int rc = close_item(enc, NULL);
    rc = rc ? rc : empty_answer(enc, NULL);
    return rc ? rc : put_response(enc, out, incomplete(enc) ? "incomplete" : "completed");
}

const struct api_encoder_ops osr_api_responses_ops = {
    .stream_type = "text/event-stream",
    .body_type = OSR_API_JSON_CONTENT_TYPE,
    .event = event,
    .stream_end = stream_end,
    .body = body,
    .track = true,
};
