/* mcp_http.c - MCP over HTTP: Streamable HTTP at /mcp and the REST projection the /mcp/ routes.
 *
 * POST /mcp carries JSON-RPC messages.  initialize opens a session (a random UUID in the
 * Mcp-Session-Id response header, kept in a table of OSR_MCP_HTTP_SESSIONS entries with the
 * least recently used one evicted when full); every later POST must name a live session
 * (400 without the header, 404 for an unknown or ended one).  A POST holding only
 * notifications or responses gets 202 with no body; requests get 200 with JSON, or a
 * one-event SSE stream when the client accepts text/event-stream but not JSON.  GET /mcp is
 * 405 (the server sends no unsolicited messages); DELETE /mcp ends the session.
 * The REST routes answer as the original: /mcp/call is always 200 with {content,isError}
 * except for a malformed body (400).  Authentication is the global gate's, not ours; but a
 * browser Origin that is neither loopback nor configured is refused with 403 on the POST and
 * DELETE routes, since loopback trust would otherwise let any web page call tools.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osr/alloc.h"
#include "osr/clock.h"
#include "osr/json.h"
#include "osr/jsonrpc.h"
#include "osr/mcp.h"
#include "osr/uuid.h"

#define OSR_MCP_HTTP_SESSIONS 256
#define SESSION_ERROR (-32001) /* what the reference SDK uses for "Session not found" */

struct slot {
    bool used;
    char id[OSR_UUID_STRLEN + 1];
    struct osr_mcp_session st;
    int64_t last_ms;
};

struct osr_mcp_http {
    struct osr_tools *tools;
    struct osr_mcp_backend be;
    struct osr_mcp_info info;
    pthread_mutex_t lock;
    struct slot slots[OSR_MCP_HTTP_SESSIONS];
    char **origins; /* set before the server starts; read-only afterwards */
    size_t n_origins;
};

struct osr_mcp_http *osr_mcp_http_new(struct osr_tools *tools)
{
    struct osr_mcp_http *h = osr_xcalloc(1, sizeof(*h));
    h->tools = tools;
    osr_mcp_backend_tools(&h->be, tools);
    h->info.name = "osaurus";
    h->info.version = OSR_VERSION;
    pthread_mutex_init(&h->lock, NULL);
    return h;
}

void osr_mcp_http_free(struct osr_mcp_http *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n_origins; i++)
        free(h->origins[i]);
    free(h->origins);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

void osr_mcp_http_set_origins(struct osr_mcp_http *h, char *const *origins, size_t n)
{
    for (size_t i = 0; i < h->n_origins; i++)
        free(h->origins[i]);
    free(h->origins);
    h->origins = osr_xcalloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        h->origins[i] = osr_xstrdup(origins[i]);
    h->n_origins = n;
}

/* True for http(s)://localhost, 127.0.0.1 or [::1], with any port. */
static bool loopback_origin(const char *o)
{
    if (strncmp(o, "http://", 7) == 0)
        o += 7;
    else if (strncmp(o, "https://", 8) == 0)
        o += 8;
    else
        return false;
    static const char *const hosts[] = {"localhost", "127.0.0.1", "[::1]"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(hosts[i]);
        if (strncmp(o, hosts[i], n) == 0 && (o[n] == '\0' || o[n] == ':')) {
            for (const char *p = o[n] ? o + n + 1 : o + n; *p; p++)
                if (*p < '0' || *p > '9')
                    return false;
            return true;
        }
    }
    return false;
}

/* Refuses a browser request from an origin that is neither loopback nor allowed. */
static bool origin_ok(struct osr_mcp_http *h, struct osr_http_request *req)
{
    const char *o = osr_http_request_header(req, "Origin");
    if (!o)
        return true;
    if (loopback_origin(o))
        return true;
    for (size_t i = 0; i < h->n_origins; i++)
        if (strcmp(h->origins[i], "*") == 0 || strcmp(h->origins[i], o) == 0)
            return true;
    return false;
}

/* --- sessions -------------------------------------------------------------------------------- */

static void session_open(struct osr_mcp_http *h, const struct osr_mcp_session *st,
                         char id[OSR_UUID_STRLEN + 1])
{
    osr_uuid_v4(id);
    pthread_mutex_lock(&h->lock);
    struct slot *victim = &h->slots[0];
    for (size_t i = 0; i < OSR_MCP_HTTP_SESSIONS; i++) {
        struct slot *sl = &h->slots[i];
        if (!sl->used) {
            victim = sl;
            break;
        }
        if (sl->last_ms < victim->last_ms)
            victim = sl;
    }
    victim->used = true;
    memcpy(victim->id, id, OSR_UUID_STRLEN + 1);
    victim->st = *st;
    victim->last_ms = osr_mono_ns() / 1000000;
    pthread_mutex_unlock(&h->lock);
}

static struct slot *find_locked(struct osr_mcp_http *h, const char *id)
{
    for (size_t i = 0; i < OSR_MCP_HTTP_SESSIONS; i++)
        if (h->slots[i].used && strcmp(h->slots[i].id, id) == 0)
            return &h->slots[i];
    return NULL;
}

/* Copies the session's state out; false when there is no such session. */
static bool session_get(struct osr_mcp_http *h, const char *id, struct osr_mcp_session *out)
{
    pthread_mutex_lock(&h->lock);
    struct slot *sl = find_locked(h, id);
    if (sl) {
        *out = sl->st;
        sl->last_ms = osr_mono_ns() / 1000000;
    }
    pthread_mutex_unlock(&h->lock);
    return sl != NULL;
}

static void session_put(struct osr_mcp_http *h, const char *id, const struct osr_mcp_session *st)
{
    pthread_mutex_lock(&h->lock);
    struct slot *sl = find_locked(h, id);
    if (sl)
        sl->st = *st;
    pthread_mutex_unlock(&h->lock);
}

static bool session_end(struct osr_mcp_http *h, const char *id)
{
    pthread_mutex_lock(&h->lock);
    struct slot *sl = find_locked(h, id);
    if (sl)
        memset(sl, 0, sizeof(*sl));
    pthread_mutex_unlock(&h->lock);
    return sl != NULL;
}

/* --- /mcp ------------------------------------------------------------------------------------ */

static int respond_rpc_error(struct osr_http_request *req, int status, int code, const char *msg)
{
    struct json_object *e = osr_jsonrpc_error(NULL, code, msg, NULL);
    int rc = osr_http_respond_json(req, status, e);
    json_object_put(e);
    return rc;
}

static bool accepts(const char *accept, const char *type)
{
    return accept && strstr(accept, type) != NULL;
}

static void sse_produce(struct osr_http_stream *s, void *ctx)
{
    osr_http_stream_printf(s, "event: message\ndata: %s\n\n", (const char *)ctx);
}

static bool is_initialize(struct json_object *msg)
{
    struct json_object *m = NULL;
    return msg && json_object_is_type(msg, json_type_object) &&
           json_object_object_get_ex(msg, "method", &m) &&
           json_object_is_type(m, json_type_string) &&
           strcmp(json_object_get_string(m), "initialize") == 0;
}

static void handle_post(struct osr_http_request *req, void *ctx)
{
    struct osr_mcp_http *h = ctx;
    struct osr_str body = osr_http_request_body(req);
    struct json_object *msg = NULL, *reply = NULL;
    struct osr_diag d;
    osr_diag_clear(&d);
    if (!origin_ok(h, req)) {
        respond_rpc_error(req, 403, OSR_JSONRPC_INVALID_REQUEST, "Forbidden: origin not allowed");
        return;
    }
    if (osr_json_parse(body.p, body.n, &msg, &d) != OSR_OK) {
        char m[OSR_DIAG_MAX + 32];
        snprintf(m, sizeof(m), "Parse error: %s", d.msg);
        respond_rpc_error(req, 400, OSR_JSONRPC_PARSE_ERROR, m);
        return;
    }
    const char *pv = osr_http_request_header(req, "MCP-Protocol-Version");
    if (pv && !osr_mcp_version_supported(pv)) {
        char m[128];
        snprintf(m, sizeof(m), "Bad Request: unsupported MCP-Protocol-Version '%.40s'", pv);
        respond_rpc_error(req, 400, OSR_JSONRPC_INVALID_REQUEST, m);
        goto out;
    }
    struct osr_mcp_session st;
    memset(&st, 0, sizeof(st));
    char sid[OSR_UUID_STRLEN + 1] = "";
    if (is_initialize(msg)) {
        reply = osr_mcp_handle(&h->info, &h->be, &st, msg);
        if (reply && json_object_object_get_ex(reply, "result", NULL)) {
            session_open(h, &st, sid);
            osr_http_add_header(req, "Mcp-Session-Id", sid);
            osr_http_add_header(req, "Access-Control-Expose-Headers", "Mcp-Session-Id");
        }
    } else {
        const char *hdr = osr_http_request_header(req, "Mcp-Session-Id");
        if (!hdr || !hdr[0]) {
            respond_rpc_error(
                req, 400, OSR_JSONRPC_INVALID_REQUEST,
                "Bad Request: Mcp-Session-Id header is required (send initialize first)");
            goto out;
        }
        if (strlen(hdr) > OSR_UUID_STRLEN || !session_get(h, hdr, &st)) {
            respond_rpc_error(req, 404, SESSION_ERROR, "Session not found");
            goto out;
        }
        snprintf(sid, sizeof(sid), "%s", hdr);
        if (pv)
            snprintf(st.protocol, sizeof(st.protocol), "%s", pv);
        reply = osr_mcp_handle(&h->info, &h->be, &st, msg);
        session_put(h, sid, &st);
    }
    if (!reply) {
        osr_http_respond(req, 202, NULL, "", 0);
        goto out;
    }
    const char *accept = osr_http_request_header(req, "Accept");
    if (accepts(accept, "text/event-stream") && !accepts(accept, "application/json")) {
        struct osr_buf b;
        osr_buf_init(&b, 256u * 1024 * 1024);
        if (osr_json_append(&b, reply) != OSR_OK) {
            osr_buf_release(&b);
            respond_rpc_error(req, 500, OSR_JSONRPC_INTERNAL_ERROR, "reply too large");
            goto out;
        }
        char *text = osr_buf_detach(&b, NULL);
        osr_http_add_header(req, "Cache-Control", "no-cache");
        osr_http_respond_stream(req, 200, "text/event-stream", sse_produce, text, free);
        goto out;
    }
    osr_http_respond_json(req, 200, reply);
out:
    json_object_put(reply);
    json_object_put(msg);
}

static void handle_delete(struct osr_http_request *req, void *ctx)
{
    struct osr_mcp_http *h = ctx;
    if (!origin_ok(h, req)) {
        respond_rpc_error(req, 403, OSR_JSONRPC_INVALID_REQUEST, "Forbidden: origin not allowed");
        return;
    }
    const char *hdr = osr_http_request_header(req, "Mcp-Session-Id");
    if (!hdr || !hdr[0]) {
        respond_rpc_error(req, 400, OSR_JSONRPC_INVALID_REQUEST,
                          "Bad Request: Mcp-Session-Id header is required");
        return;
    }
    if (strlen(hdr) > OSR_UUID_STRLEN || !session_end(h, hdr)) {
        respond_rpc_error(req, 404, SESSION_ERROR, "Session not found");
        return;
    }
    osr_http_respond(req, 200, NULL, "", 0);
}

/* --- REST projection ------------------------------------------------------------------------- */

static void handle_health(struct osr_http_request *req, void *ctx)
{
    (void)ctx;
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string("ok"));
    osr_http_respond_json(req, 200, o);
    json_object_put(o);
}

static void handle_tools(struct osr_http_request *req, void *ctx)
{
    struct osr_mcp_http *h = ctx;
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "tools", osr_tools_list(h->tools, false));
    osr_http_respond_json(req, 200, o);
    json_object_put(o);
}

static void handle_call(struct osr_http_request *req, void *ctx)
{
    struct osr_mcp_http *h = ctx;
    struct osr_str body = osr_http_request_body(req);
    struct json_object *msg = NULL, *name = NULL, *args = NULL;
    struct osr_diag d;
    osr_diag_clear(&d);
    if (!origin_ok(h, req)) {
        osr_http_respond_error(req, 403, "invalid_request_error", "origin not allowed", NULL,
                               "forbidden_origin");
        return;
    }
    if (osr_json_parse(body.p, body.n, &msg, &d) != OSR_OK) {
        osr_http_respond_error(req, 400, "invalid_request_error", d.msg, NULL, "invalid_body");
        return;
    }
    if (!msg || !json_object_is_type(msg, json_type_object) ||
        !json_object_object_get_ex(msg, "name", &name) ||
        !json_object_is_type(name, json_type_string)) {
        osr_http_respond_error(req, 400, "invalid_request_error",
                               "the body must be {\"name\": string, \"arguments\": object}", "name",
                               "invalid_body");
        goto out;
    }
    json_object_object_get_ex(msg, "arguments", &args);
    struct json_object *env = osr_tools_call(h->tools, json_object_get_string(name), args, NULL);
    struct json_object *res = osr_mcp_call_result(env, false);
    osr_http_respond_json(req, 200, res);
    json_object_put(res);
    json_object_put(env);
out:
    json_object_put(msg);
}

void osr_mcp_http_register(struct osr_http_server *srv, struct osr_mcp_http *h)
{
    const struct osr_route routes[] = {
        {"POST", "/mcp", handle_post, OSR_AUTH_GATED, h, OSR_MCP_MAX_BODY},
        {"DELETE", "/mcp", handle_delete, OSR_AUTH_GATED, h, 0},
        {"GET", "/mcp/health", handle_health, OSR_AUTH_GATED, h, 0},
        {"GET", "/mcp/tools", handle_tools, OSR_AUTH_GATED, h, 0},
        {"POST", "/mcp/call", handle_call, OSR_AUTH_GATED, h, OSR_MCP_MAX_BODY},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        osr_http_server_add_route(srv, &routes[i]);
}
