/* mcp_server.c - the MCP method dispatcher shared by every transport.
 *
 * Turns JSON-RPC messages into MCP answers: version negotiation on initialize, ping,
 * tools/list and tools/call over a backend, batches where the negotiated version allows them.
 * It holds no state of its own (the caller's osr_mcp_session does) and knows nothing of HTTP
 * or stdio; mcp_http.c and cmd_mcp.c carry the bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osr/json.h"
#include "osr/jsonrpc.h"
#include "osr/mcp.h"

static const char *const versions[] = {"2025-06-18", "2025-03-26", "2024-11-05"};

bool osr_mcp_version_supported(const char *version)
{
    for (size_t i = 0; version && i < sizeof(versions) / sizeof(versions[0]); i++)
        if (strcmp(version, versions[i]) == 0)
            return true;
    return false;
}

/* The version rules apply as: before initialize, 2025-03-26 (what Streamable HTTP assumes
 * when a client sends no version header). */
static const char *effective_version(const struct osr_mcp_session *s)
{
    return s->protocol[0] ? s->protocol : "2025-03-26";
}

struct json_object *osr_mcp_call_result(struct json_object *envelope, bool structured)
{
    struct json_object *res = json_object_new_object();
    struct json_object *content = json_object_new_array();
    struct json_object *item = json_object_new_object();
    size_t len = 0;
    const char *text = json_object_to_json_string_length(
        envelope, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    json_object_object_add(item, "type", json_object_new_string("text"));
    json_object_object_add(item, "text", osr_json_new_string(text ? text : "", text ? len : 0));
    json_object_array_add(content, item);
    json_object_object_add(res, "content", content);
    json_object_object_add(res, "isError",
                           json_object_new_boolean(!osr_tool_envelope_is_ok(envelope)));
    struct json_object *copy = NULL;
    if (structured && json_object_deep_copy(envelope, &copy, NULL) == 0)
        json_object_object_add(res, "structuredContent", copy);
    return res;
}

static struct json_object *do_initialize(const struct osr_mcp_info *info, struct osr_mcp_session *s,
                                         const struct osr_jsonrpc_msg *m)
{
    struct json_object *pv = NULL;
    if (!m->params || !json_object_is_type(m->params, json_type_object) ||
        !json_object_object_get_ex(m->params, "protocolVersion", &pv) ||
        !json_object_is_type(pv, json_type_string))
        return osr_jsonrpc_error(m->id, OSR_JSONRPC_INVALID_PARAMS,
                                 "initialize: 'params.protocolVersion' must be a string", NULL);
    const char *want = json_object_get_string(pv);
    const char *chosen = osr_mcp_version_supported(want) ? want : OSR_MCP_LATEST_VERSION;
    snprintf(s->protocol, sizeof(s->protocol), "%s", chosen);
    s->initialized = false;

    struct json_object *res = json_object_new_object();
    json_object_object_add(res, "protocolVersion", json_object_new_string(chosen));
    struct json_object *caps = json_object_new_object();
    struct json_object *tools = json_object_new_object();
    json_object_object_add(tools, "listChanged", json_object_new_boolean(0));
    json_object_object_add(caps, "tools", tools);
    json_object_object_add(res, "capabilities", caps);
    struct json_object *si = json_object_new_object();
    json_object_object_add(si, "name", json_object_new_string(info->name));
    json_object_object_add(si, "version", json_object_new_string(info->version));
    json_object_object_add(res, "serverInfo", si);
    if (info->instructions)
        json_object_object_add(res, "instructions", json_object_new_string(info->instructions));
    return osr_jsonrpc_result(m->id, res);
}

static struct json_object *do_call(const struct osr_mcp_backend *be, struct osr_mcp_session *s,
                                   const struct osr_jsonrpc_msg *m)
{
    struct json_object *name = NULL, *args = NULL;
    if (!m->params || !json_object_is_type(m->params, json_type_object) ||
        !json_object_object_get_ex(m->params, "name", &name) ||
        !json_object_is_type(name, json_type_string))
        return osr_jsonrpc_error(m->id, OSR_JSONRPC_INVALID_PARAMS,
                                 "tools/call: 'params.name' must be a string", NULL);
    if (json_object_object_get_ex(m->params, "arguments", &args) && args &&
        !json_object_is_type(args, json_type_object))
        return osr_jsonrpc_error(m->id, OSR_JSONRPC_INVALID_PARAMS,
                                 "tools/call: 'params.arguments' must be an object", NULL);
    const char *tool = json_object_get_string(name);
    if (be->has && !be->has(be->ctx, tool)) {
        char msg[160];
        snprintf(msg, sizeof(msg), "Unknown tool: %.100s", tool);
        return osr_jsonrpc_error(m->id, OSR_JSONRPC_INVALID_PARAMS, msg, NULL);
    }
    struct json_object *empty = NULL;
    if (!args)
        args = empty = json_object_new_object();
    struct json_object *env = be->call(be->ctx, tool, args);
    json_object_put(empty);
    if (!env)
        return osr_jsonrpc_error(m->id, OSR_JSONRPC_INTERNAL_ERROR, "the tool returned nothing",
                                 NULL);
    bool structured = strcmp(effective_version(s), "2025-06-18") >= 0;
    struct json_object *res = osr_mcp_call_result(env, structured);
    json_object_put(env);
    return osr_jsonrpc_result(m->id, res);
}

static struct json_object *handle_one(const struct osr_mcp_info *info,
                                      const struct osr_mcp_backend *be, struct osr_mcp_session *s,
                                      struct json_object *msg, bool in_batch)
{
    struct osr_jsonrpc_msg m;
    struct osr_diag d;
    osr_diag_clear(&d);
    if (osr_jsonrpc_classify(msg, &m, &d) != OSR_OK)
        return osr_jsonrpc_error(m.id, OSR_JSONRPC_INVALID_REQUEST, d.msg, NULL);
    if (m.kind == OSR_JSONRPC_RESPONSE)
        return NULL; /* we send no requests, so answers to them are dropped */
    if (m.kind == OSR_JSONRPC_NOTIFICATION) {
        if (strcmp(m.method, "notifications/initialized") == 0)
            s->initialized = true;
        return NULL; /* notifications/cancelled etc.: our calls finish before the reply anyway */
    }
    if (strcmp(m.method, "initialize") == 0) {
        if (in_batch)
            return osr_jsonrpc_error(m.id, OSR_JSONRPC_INVALID_REQUEST,
                                     "initialize must not be part of a batch", NULL);
        return do_initialize(info, s, &m);
    }
    if (strcmp(m.method, "ping") == 0)
        return osr_jsonrpc_result(m.id, NULL);
    if (strcmp(m.method, "tools/list") == 0) {
        struct json_object *res = json_object_new_object();
        json_object_object_add(res, "tools", be->list(be->ctx));
        return osr_jsonrpc_result(m.id, res);
    }
    if (strcmp(m.method, "tools/call") == 0)
        return do_call(be, s, &m);
    char msg_text[160];
    snprintf(msg_text, sizeof(msg_text), "Method not found: %.100s", m.method);
    return osr_jsonrpc_error(m.id, OSR_JSONRPC_METHOD_NOT_FOUND, msg_text, NULL);
}

struct json_object *osr_mcp_handle(const struct osr_mcp_info *info,
                                   const struct osr_mcp_backend *be, struct osr_mcp_session *s,
                                   struct json_object *msg)
{
    if (!msg || !json_object_is_type(msg, json_type_array))
        return handle_one(info, be, s, msg, false);
    size_t n = json_object_array_length(msg);
    if (strcmp(effective_version(s), "2025-06-18") >= 0)
        return osr_jsonrpc_error(NULL, OSR_JSONRPC_INVALID_REQUEST,
                                 "batches are not supported in protocol version 2025-06-18", NULL);
    if (n == 0)
        return osr_jsonrpc_error(NULL, OSR_JSONRPC_INVALID_REQUEST, "empty batch", NULL);
    if (n > OSR_MCP_MAX_BATCH)
        return osr_jsonrpc_error(NULL, OSR_JSONRPC_INVALID_REQUEST, "batch too large (limit 64)",
                                 NULL);
    struct json_object *out = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        struct json_object *r = handle_one(info, be, s, json_object_array_get_idx(msg, i), true);
        if (r)
            json_object_array_add(out, r);
    }
    if (json_object_array_length(out) == 0) {
        json_object_put(out);
        return NULL;
    }
    return out;
}

char *osr_mcp_handle_text(const struct osr_mcp_info *info, const struct osr_mcp_backend *be,
                          struct osr_mcp_session *s, const char *text, size_t n)
{
    struct json_object *msg = NULL, *reply = NULL;
    struct osr_diag d;
    osr_diag_clear(&d);
    if (osr_json_parse(text, n, &msg, &d) != OSR_OK) {
        char m[OSR_DIAG_MAX + 32];
        snprintf(m, sizeof(m), "Parse error: %s", d.msg);
        reply = osr_jsonrpc_error(NULL, OSR_JSONRPC_PARSE_ERROR, m, NULL);
    } else {
        reply = osr_mcp_handle(info, be, s, msg);
    }
    json_object_put(msg);
    if (!reply)
        return NULL;
    struct osr_buf b;
    osr_buf_init(&b, 256u * 1024 * 1024);
    char *out = NULL;
    if (osr_json_append(&b, reply) == OSR_OK)
        out = osr_buf_detach(&b, NULL);
    osr_buf_release(&b);
    json_object_put(reply);
    return out;
}

/* --- the backend over a tool registry ------------------------------------------------------- */

static struct json_object *tools_list(void *ctx)
{
    return osr_tools_list(ctx, false);
}

static struct json_object *tools_call(void *ctx, const char *name, struct json_object *args)
{
    return osr_tools_call(ctx, name, args, NULL);
}

static bool tools_has(void *ctx, const char *name)
{
    struct json_object *list = osr_tools_list(ctx, false);
    bool found = false;
    size_t n = json_object_array_length(list);
    for (size_t i = 0; i < n && !found; i++) {
        struct json_object *nm = NULL;
        if (json_object_object_get_ex(json_object_array_get_idx(list, i), "name", &nm) &&
            strcmp(json_object_get_string(nm), name) == 0)
            found = true;
    }
    json_object_put(list);
    return found;
}

void osr_mcp_backend_tools(struct osr_mcp_backend *be, struct osr_tools *tools)
{
    be->list = tools_list;
    be->call = tools_call;
    be->has = tools_has;
    be->ctx = tools;
}
