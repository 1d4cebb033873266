/* mcp_transport.c - what the MCP client's transports share: reference counting, the dead
 * flag, building requests and reading answers and server-initiated messages.
 *
 * The per-transport byte moving is in mcp_transport_http.c and mcp_transport_stdio.c; MCP's
 * methods (initialize, tools/list, tools/call) are the client's business (mcp_client.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp_transport.h"
#include "osr/json.h"
#include "osr/jsonrpc.h"
#include "osr/log.h"

#define CANCEL_TIMEOUT_MS 2000

int mcp_conn_open(const struct mcp_conn_opts *opts, struct mcp_conn **out, struct osr_diag *diag)
{
    *out = NULL;
    return opts->cfg->url ? mcp_conn_open_http(opts, out, diag)
                          : mcp_conn_open_stdio(opts, out, diag);
}

void mcp_conn_base_init(struct mcp_conn *c, const struct mcp_conn_ops *ops,
                        const struct mcp_conn_opts *opts)
{
    c->ops = ops;
    atomic_init(&c->refs, 1);
    atomic_init(&c->dead, false);
    atomic_init(&c->closing, false);
    atomic_init(&c->next_id, 1);
    atomic_flag_clear(&c->dead_once);
    snprintf(c->label, sizeof(c->label), "%s", opts->cfg->id);
    c->on_notify = opts->on_notify;
    c->notify_ctx = opts->notify_ctx;
}

void mcp_conn_ref(struct mcp_conn *c)
{
    atomic_fetch_add(&c->refs, 1);
}

void mcp_conn_unref(struct mcp_conn *c)
{
    if (c && atomic_fetch_sub(&c->refs, 1) == 1) {
        mcp_conn_shutdown(c);
        c->ops->destroy(c);
    }
}

void mcp_conn_shutdown(struct mcp_conn *c)
{
    if (!c)
        return;
    mcp_conn_mark_dead(c, "disconnected");
    if (atomic_exchange(&c->closing, true))
        return;
    c->ops->shutdown(c);
}

bool mcp_conn_alive(struct mcp_conn *c)
{
    return c && !atomic_load(&c->dead);
}

void mcp_conn_mark_dead(struct mcp_conn *c, const char *fmt, ...)
{
    if (atomic_flag_test_and_set(&c->dead_once))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->dead_reason, sizeof(c->dead_reason), fmt, ap);
    va_end(ap);
    atomic_store(&c->dead, true);
}

int mcp_conn_pid(struct mcp_conn *c)
{
    return c && c->ops->pid ? c->ops->pid(c) : -1;
}

int mcp_conn_listen(struct mcp_conn *c)
{
    return c->ops->listen ? c->ops->listen(c) : OSR_OK;
}

/* Serializes msg (taken) into a heap string. */
static char *to_text(struct json_object *msg, size_t *n)
{
    struct osr_buf b;
    osr_buf_init(&b, OSR_MCP_CLIENT_MESSAGE_MAX);
    char *out = NULL;
    if (osr_json_append(&b, msg) == OSR_OK)
        out = osr_buf_detach(&b, n);
    osr_buf_release(&b);
    json_object_put(msg);
    return out;
}

int mcp_conn_request(struct mcp_conn *c, const char *method, struct json_object *params,
                     int timeout_ms, struct json_object **result, struct osr_diag *diag)
{
    *result = NULL;
    if (atomic_load(&c->closing) || atomic_load(&c->dead)) {
        json_object_put(params);
        return osr_diag_set(diag, OSR_ECLOSED, "the connection is closed (%s)",
                            atomic_load(&c->dead) ? c->dead_reason : "closing");
    }
    int64_t id = atomic_fetch_add(&c->next_id, 1);
    struct json_object *msg = json_object_new_object();
    json_object_object_add(msg, "jsonrpc", json_object_new_string("2.0"));
    json_object_object_add(msg, "id", json_object_new_int64(id));
    json_object_object_add(msg, "method", json_object_new_string(method));
    if (params)
        json_object_object_add(msg, "params", params);
    size_t n = 0;
    char *text = to_text(msg, &n);
    if (!text)
        return osr_diag_set(diag, OSR_ETOOBIG, "the request is larger than %zu bytes",
                            OSR_MCP_CLIENT_MESSAGE_MAX);
    struct json_object *reply = NULL;
    int rc = c->ops->send(c, id, text, n, timeout_ms, &reply, diag);
    free(text);
    if (rc == OSR_ETIMEOUT && strcmp(method, "initialize") != 0) {
        /* Tell the server to stop working on it (MCP's cancellation notification). */
        struct json_object *cp = json_object_new_object();
        json_object_object_add(cp, "requestId", json_object_new_int64(id));
        json_object_object_add(cp, "reason", json_object_new_string("timeout"));
        (void)mcp_conn_notify(c, "notifications/cancelled", cp, CANCEL_TIMEOUT_MS, NULL);
    }
    if (rc)
        return rc;
    rc = mcp_conn_take_result(reply, result, diag);
    json_object_put(reply);
    return rc;
}

int mcp_conn_notify(struct mcp_conn *c, const char *method, struct json_object *params,
                    int timeout_ms, struct osr_diag *diag)
{
    if (atomic_load(&c->closing) || atomic_load(&c->dead)) {
        json_object_put(params);
        return osr_diag_set(diag, OSR_ECLOSED, "the connection is closed (%s)",
                            atomic_load(&c->dead) ? c->dead_reason : "closing");
    }
    struct json_object *msg = json_object_new_object();
    json_object_object_add(msg, "jsonrpc", json_object_new_string("2.0"));
    json_object_object_add(msg, "method", json_object_new_string(method));
    if (params)
        json_object_object_add(msg, "params", params);
    size_t n = 0;
    char *text = to_text(msg, &n);
    if (!text)
        return osr_diag_set(diag, OSR_ETOOBIG, "the notification is too large");
    int rc = c->ops->send(c, -1, text, n, timeout_ms, NULL, diag);
    free(text);
    return rc;
}

int mcp_conn_take_result(struct json_object *resp, struct json_object **result,
                         struct osr_diag *diag)
{
    struct json_object *res = NULL, *err = NULL;
    if (json_object_object_get_ex(resp, "error", &err) && err) {
        struct json_object *msg = NULL, *code = NULL;
        json_object_object_get_ex(err, "message", &msg);
        json_object_object_get_ex(err, "code", &code);
        const char *text =
            msg && json_object_is_type(msg, json_type_string) ? json_object_get_string(msg) : "";
        return osr_diag_set(diag, OSR_EINVAL, "%.300s (code %lld)", text[0] ? text : "error",
                            code && json_object_is_type(code, json_type_int)
                                ? (long long)json_object_get_int64(code)
                                : 0LL);
    }
    if (!json_object_object_get_ex(resp, "result", &res) || !res ||
        !json_object_is_type(res, json_type_object))
        return osr_diag_set(diag, OSR_EPROTO, "the server's answer has no 'result' object");
    *result = json_object_get(res);
    return OSR_OK;
}

static int64_t id_of(struct json_object *id)
{
    if (id && json_object_is_type(id, json_type_int))
        return json_object_get_int64(id);
    if (id && json_object_is_type(id, json_type_string)) {
        /* Some servers echo ids as strings; ours are decimal. */
        char *end = NULL;
        const char *s = json_object_get_string(id);
        long long v = strtoll(s, &end, 10);
        if (*s && end && *end == '\0')
            return v;
    }
    return -2;
}

struct json_object *mcp_conn_incoming(struct mcp_conn *c, struct json_object *msg, int64_t want_id,
                                      char **answer)
{
    *answer = NULL;
    struct osr_jsonrpc_msg m;
    if (osr_jsonrpc_classify(msg, &m, NULL) != OSR_OK) {
        OSR_DEBUG("mcp '%s': dropped a message that is not JSON-RPC", c->label);
        return NULL;
    }
    if (m.kind == OSR_JSONRPC_RESPONSE) {
        if (want_id >= 0 && id_of(m.id) == want_id)
            return json_object_get(msg);
        return NULL;
    }
    if (m.kind == OSR_JSONRPC_NOTIFICATION) {
        if (c->on_notify)
            c->on_notify(c->notify_ctx, m.method, m.params);
        return NULL;
    }
    /* A request from the server: we offer no capabilities, so only ping is answered. */
    struct json_object *reply =
        strcmp(m.method, "ping") == 0
            ? osr_jsonrpc_result(m.id, NULL)
            : osr_jsonrpc_error(m.id, OSR_JSONRPC_METHOD_NOT_FOUND, "Method not found", NULL);
    size_t n = 0;
    *answer = to_text(reply, &n);
    return NULL;
}
