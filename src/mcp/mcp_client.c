/* mcp_client.c - MCP providers as tools: the session handshake, tool discovery, the tool
 * functions that forward calls, and the manager that keeps providers connected.
 *
 * A provider is connected by initialize, notifications/initialized and tools/list; its tools
 * are then added to the registry, each with a context that holds a reference on the provider,
 * so a call in flight keeps what it uses alive while tools come and go.  The manager runs one
 * thread per provider (when asked to) that connects, pings, notices a dead connection and
 * reconnects with exponential backoff, and re-lists on notifications/tools/list_changed.
 * Bytes are moved by the transports (mcp_transport*.c); mcp.json is read by
 * mcp_client_config.c.  Not here: OAuth, resources and prompts, sampling.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "mcp_transport.h"
#include "osr/alloc.h"
#include "osr/clock.h"
#include "osr/json.h"
#include "osr/log.h"
#include "osr/mcp.h"
#include "osr/mcp_client.h"
#include "osr/secrets.h"

#define MAX_PAGES 64
#define TEXT_MAX ((size_t)4 * 1024 * 1024)

struct provider {
    atomic_int refs;
    struct osr_mcp_provider_config cfg; /* owned; read-only */
    struct osr_tools *tools;            /* borrowed */
    char *home;
    pthread_mutex_t mu;
    struct mcp_conn *conn;       /* guarded by mu; NULL while disconnected */
    struct mcp_conn *connecting; /* guarded by mu; the connection being set up */
    char **names;                /* guarded by mu; registered tool names */
    size_t n_names;
    char last_error[OSR_DIAG_MAX]; /* guarded by mu */
    bool ready;                    /* guarded by mu: connected and the tools registered */
    atomic_bool relist;
    atomic_bool stop;
    pthread_t thread;
    bool has_thread;
    pthread_cond_t cv; /* with mu: wakes the thread to stop */
};

struct osr_mcp_clients {
    struct provider **items;
    size_t n;
    struct osr_mcp_clients_opts opts;
};

struct tool_ctx {
    struct provider *p;
    char *remote; /* the tool's name on the server */
};

static void provider_unref(struct provider *p)
{
    if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    for (size_t i = 0; i < p->n_names; i++)
        free(p->names[i]);
    free(p->names);
    osr_mcp_provider_config_release(&p->cfg);
    free(p->home);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

static void set_error(struct provider *p, const char *detail)
{
    pthread_mutex_lock(&p->mu);
    snprintf(p->last_error, sizeof(p->last_error), "%s", detail);
    pthread_mutex_unlock(&p->mu);
}

static void on_notify(void *ctx, const char *method, struct json_object *params)
{
    (void)params;
    struct provider *p = ctx;
    if (strcmp(method, "notifications/tools/list_changed") == 0) {
        atomic_store(&p->relist, true);
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

/* --- calling a tool ------------------------------------------------------------------------- */

/* Maps a tools/call result onto out. */
static void map_result(struct json_object *res, struct osr_tool_out *out)
{
    struct json_object *content = NULL, *is_error = NULL, *structured = NULL;
    json_object_object_get_ex(res, "content", &content);
    json_object_object_get_ex(res, "isError", &is_error);
    json_object_object_get_ex(res, "structuredContent", &structured);
    struct osr_buf text;
    osr_buf_init(&text, TEXT_MAX);
    struct json_object *other = NULL;
    size_t n = content && json_object_is_type(content, json_type_array)
                   ? json_object_array_length(content)
                   : 0;
    bool truncated = false;
    for (size_t i = 0; i < n; i++) {
        struct json_object *item = json_object_array_get_idx(content, i), *type = NULL, *t = NULL;
        if (json_object_object_get_ex(item, "type", &type) &&
            json_object_is_type(type, json_type_string) &&
            strcmp(json_object_get_string(type), "text") == 0 &&
            json_object_object_get_ex(item, "text", &t) &&
            json_object_is_type(t, json_type_string)) {
            if ((text.len && osr_buf_putc(&text, '\n')) ||
                osr_buf_append(&text, json_object_get_string(t),
                               (size_t)json_object_get_string_len(t)))
                truncated = true;
            continue;
        }
        if (!other)
            other = json_object_new_array();
        json_object_array_add(other, json_object_get(item));
    }
    if (is_error && json_object_get_boolean(is_error)) {
        osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, NULL, NULL, "%s",
                          text.len ? osr_buf_str(&text) : "the tool reported an error");
        json_object_put(other);
        osr_buf_release(&text);
        return;
    }
    struct json_object *r = json_object_new_object();
    json_object_object_add(r, "text", osr_json_new_string(osr_buf_str(&text), text.len));
    if (structured)
        json_object_object_add(r, "structuredContent", json_object_get(structured));
    if (other)
        json_object_object_add(r, "content", other);
    out->result = r;
    if (truncated)
        osr_tool_out_warn(out, "the tool's text was cut at 4 MiB");
    osr_buf_release(&text);
}

static void call_tool(void *ctx, struct json_object *args, struct osr_tool_out *out)
{
    struct tool_ctx *tc = ctx;
    struct provider *p = tc->p;
    pthread_mutex_lock(&p->mu);
    struct mcp_conn *conn = p->conn;
    if (conn)
        mcp_conn_ref(conn);
    pthread_mutex_unlock(&p->mu);
    if (!conn) {
        osr_tool_out_fail(out, OSR_TOOL_UNAVAILABLE, NULL, NULL,
                          "MCP provider '%s' is not connected", p->cfg.id);
        return;
    }
    struct json_object *params = json_object_new_object(), *copy = NULL;
    json_object_object_add(params, "name", json_object_new_string(tc->remote));
    if (json_object_deep_copy(args, &copy, NULL) != 0)
        copy = json_object_new_object();
    json_object_object_add(params, "arguments", copy);
    struct json_object *res = NULL;
    struct osr_diag d;
    osr_diag_clear(&d);
    int rc = mcp_conn_request(conn, "tools/call", params, p->cfg.call_timeout_ms, &res, &d);
    switch (rc) {
    case OSR_OK:
        map_result(res, out);
        break;
    case OSR_ETIMEOUT:
        osr_tool_out_fail(out, OSR_TOOL_TIMEOUT, NULL, NULL,
                          "MCP provider '%s' did not answer within %d ms", p->cfg.id,
                          p->cfg.call_timeout_ms);
        break;
    case OSR_EINVAL:
    case OSR_EPROTO:
    case OSR_ETOOBIG:
        osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, NULL, NULL, "MCP provider '%s': %s",
                          p->cfg.id, d.msg);
        break;
    default:
        osr_tool_out_fail(out, OSR_TOOL_UNAVAILABLE, NULL, NULL, "MCP provider '%s': %s", p->cfg.id,
                          d.msg);
        break;
    }
    json_object_put(res);
    mcp_conn_unref(conn);
}

static void tool_ctx_free(void *ctx)
{
    struct tool_ctx *tc = ctx;
    provider_unref(tc->p);
    free(tc->remote);
    free(tc);
}

/* --- discovery and registration ------------------------------------------------------------- */

/* Removes the provider's tools from the registry. */
static void unregister(struct provider *p)
{
    pthread_mutex_lock(&p->mu);
    char **names = p->names;
    size_t n = p->n_names;
    p->names = NULL;
    p->n_names = 0;
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < n; i++) {
        osr_tools_remove(p->tools, names[i]);
        free(names[i]);
    }
    free(names);
}

/* Collects every tool of conn (following nextCursor) into a new array. */
static int list_tools(struct provider *p, struct mcp_conn *conn, struct json_object **out,
                      struct osr_diag *diag)
{
    struct json_object *all = json_object_new_array();
    char *cursor = NULL;
    int rc = OSR_OK;
    for (int page = 0; page < MAX_PAGES; page++) {
        struct json_object *params = NULL, *res = NULL, *tools = NULL, *next = NULL;
        if (cursor) {
            params = json_object_new_object();
            json_object_object_add(params, "cursor", json_object_new_string(cursor));
            free(cursor);
            cursor = NULL;
        }
        rc = mcp_conn_request(conn, "tools/list", params, p->cfg.discovery_timeout_ms, &res, diag);
        if (rc)
            break;
        if (!json_object_object_get_ex(res, "tools", &tools) ||
            !json_object_is_type(tools, json_type_array)) {
            json_object_put(res);
            rc = osr_diag_set(diag, OSR_EPROTO, "tools/list: 'tools' must be an array");
            break;
        }
        for (size_t i = 0; i < json_object_array_length(tools); i++) {
            if (json_object_array_length(all) >= OSR_MCP_CLIENT_MAX_TOOLS) {
                OSR_WARN("mcp '%s': more than %d tools; the rest are left out", p->cfg.id,
                         OSR_MCP_CLIENT_MAX_TOOLS);
                break;
            }
            json_object_array_add(all, json_object_get(json_object_array_get_idx(tools, i)));
        }
        if (json_object_object_get_ex(res, "nextCursor", &next) &&
            json_object_is_type(next, json_type_string) && json_object_get_string_len(next) > 0 &&
            json_object_array_length(all) < OSR_MCP_CLIENT_MAX_TOOLS)
            cursor = osr_xstrdup(json_object_get_string(next));
        json_object_put(res);
        if (!cursor)
            break;
    }
    free(cursor);
    if (rc) {
        json_object_put(all);
        return rc;
    }
    *out = all;
    return OSR_OK;
}

/* Adds one listed tool; returns its registry name (heap) or NULL when it was skipped. */
static char *register_one(struct provider *p, struct json_object *t)
{
    struct json_object *name = NULL, *desc = NULL, *schema = NULL;
    if (!json_object_object_get_ex(t, "name", &name) ||
        !json_object_is_type(name, json_type_string) || json_object_get_string_len(name) == 0) {
        OSR_WARN("mcp '%s': a listed tool has no name; skipped", p->cfg.id);
        return NULL;
    }
    const char *remote = json_object_get_string(name);
    char full[OSR_TOOL_NAME_MAX + 1];
    osr_mcp_tool_name(p->cfg.id, remote, full, sizeof(full));
    json_object_object_get_ex(t, "description", &desc);
    json_object_object_get_ex(t, "inputSchema", &schema);
    const char *schema_text = NULL;
    if (schema && json_object_is_type(schema, json_type_object))
        schema_text = json_object_to_json_string_ext(schema, JSON_C_TO_STRING_PLAIN |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE);
    struct tool_ctx *tc = osr_xcalloc(1, sizeof(*tc));
    tc->p = p;
    tc->remote = osr_xstrdup(remote);
    atomic_fetch_add(&p->refs, 1);
    struct osr_tool_def def = {
        .name = full,
        .description = desc && json_object_is_type(desc, json_type_string)
                           ? json_object_get_string(desc)
                           : NULL,
        .input_schema = schema_text,
        .policy = OSR_TOOL_POLICY_ASK,
        .source = OSR_TOOL_SOURCE_MCP,
        .fn = call_tool,
        .ctx = tc,
        .ctx_free = tool_ctx_free,
    };
    struct osr_diag d;
    osr_diag_clear(&d);
    int rc = osr_tools_add(p->tools, &def, &d);
    if (rc == OSR_EINVAL && schema_text) {
        /* A schema our validator cannot use: the server still checks the arguments. */
        OSR_WARN("mcp '%s': tool '%s': %s; its arguments are not checked here", p->cfg.id, remote,
                 d.msg);
        def.input_schema = NULL;
        osr_diag_clear(&d);
        rc = osr_tools_add(p->tools, &def, &d);
    }
    if (rc) {
        OSR_WARN("mcp '%s': tool '%s' not added: %s", p->cfg.id, remote, d.msg);
        tool_ctx_free(tc);
        return NULL;
    }
    return osr_xstrdup(full);
}

/* Replaces the provider's registered tools with list. */
static void register_all(struct provider *p, struct json_object *list)
{
    unregister(p);
    size_t n = json_object_array_length(list);
    char **names = osr_xcalloc(n ? n : 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char *nm = register_one(p, json_object_array_get_idx(list, i));
        if (nm)
            names[k++] = nm;
    }
    pthread_mutex_lock(&p->mu);
    p->names = names;
    p->n_names = k;
    pthread_mutex_unlock(&p->mu);
}

/* Fetches the secret values a provider names into kv (the caller wipes them). */
static void load_secrets(struct provider *p, struct osr_secrets *s, char **keys, size_t n_keys,
                         struct osr_mcp_kv *kv, size_t *n)
{
    char scope[96];
    snprintf(scope, sizeof(scope), "mcp:%s", p->cfg.id);
    for (size_t i = 0; i < n_keys; i++) {
        char *value = NULL;
        struct osr_diag d;
        osr_diag_clear(&d);
        if (!s || osr_secrets_get(s, scope, keys[i], &value, &d) != OSR_OK) {
            OSR_WARN("mcp '%s': no stored secret '%s'; it is not sent", p->cfg.id, keys[i]);
            continue;
        }
        kv[*n].name = keys[i];
        kv[*n].value = value;
        (*n)++;
    }
}

static void wipe_kv(struct osr_mcp_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        OPENSSL_cleanse(kv[i].value, strlen(kv[i].value));
        free(kv[i].value);
    }
}

static int open_conn(struct provider *p, struct mcp_conn **out, struct osr_diag *diag)
{
    struct osr_mcp_kv sh[OSR_MCP_CLIENT_MAX_ITEMS], se[OSR_MCP_CLIENT_MAX_ITEMS];
    size_t n_sh = 0, n_se = 0;
    struct osr_secrets *s = NULL;
    if (p->cfg.n_secret_headers || p->cfg.n_secret_env) {
        struct osr_diag d;
        osr_diag_clear(&d);
        if (osr_secrets_open(&s, p->home, &d) != OSR_OK)
            OSR_WARN("mcp '%s': cannot open the secret store: %s", p->cfg.id, d.msg);
        load_secrets(p, s, p->cfg.secret_headers, p->cfg.n_secret_headers, sh, &n_sh);
        load_secrets(p, s, p->cfg.secret_env, p->cfg.n_secret_env, se, &n_se);
        osr_secrets_close(s);
    }
    struct mcp_conn_opts o = {
        .cfg = &p->cfg,
        .secret_headers = sh,
        .n_secret_headers = n_sh,
        .secret_env = se,
        .n_secret_env = n_se,
        .on_notify = on_notify,
        .notify_ctx = p,
    };
    int rc = mcp_conn_open(&o, out, diag);
    wipe_kv(sh, n_sh);
    wipe_kv(se, n_se);
    return rc;
}

static int handshake(struct provider *p, struct mcp_conn *conn, struct osr_diag *diag)
{
    struct json_object *params = json_object_new_object(), *info = json_object_new_object();
    json_object_object_add(params, "protocolVersion",
                           json_object_new_string(OSR_MCP_LATEST_VERSION));
    json_object_object_add(params, "capabilities", json_object_new_object());
    json_object_object_add(info, "name", json_object_new_string("osaurus"));
    json_object_object_add(info, "version", json_object_new_string(OSR_VERSION));
    json_object_object_add(params, "clientInfo", info);
    struct json_object *res = NULL, *pv = NULL;
    int rc = mcp_conn_request(conn, "initialize", params, p->cfg.discovery_timeout_ms, &res, diag);
    if (rc)
        return rc;
    if (!json_object_object_get_ex(res, "protocolVersion", &pv) ||
        !json_object_is_type(pv, json_type_string) ||
        !osr_mcp_version_supported(json_object_get_string(pv))) {
        rc = osr_diag_set(
            diag, OSR_EPROTO, "the server speaks protocol version '%.40s', not one of ours",
            pv && json_object_is_type(pv, json_type_string) ? json_object_get_string(pv) : "?");
        json_object_put(res);
        return rc;
    }
    snprintf(conn->protocol, sizeof(conn->protocol), "%s", json_object_get_string(pv));
    json_object_put(res);
    return mcp_conn_notify(conn, "notifications/initialized", NULL, p->cfg.discovery_timeout_ms,
                           diag);
}

/* Connects p and registers its tools.  Returns OSR_OK or the failure (also in last_error). */
static int connect_provider(struct provider *p)
{
    struct osr_diag d;
    osr_diag_clear(&d);
    struct mcp_conn *conn = NULL;
    struct json_object *list = NULL;
    int rc = open_conn(p, &conn, &d);
    if (rc)
        goto out;
    pthread_mutex_lock(&p->mu);
    bool stopping = atomic_load(&p->stop);
    if (!stopping) {
        p->connecting = conn;
        mcp_conn_ref(conn);
    }
    pthread_mutex_unlock(&p->mu);
    if (stopping) {
        rc = osr_diag_set(&d, OSR_ECANCELED, "stopping");
        goto out;
    }
    rc = handshake(p, conn, &d);
    if (rc == OSR_OK) {
        atomic_store(&p->relist, false);
        if (p->cfg.streaming && mcp_conn_listen(conn) != OSR_OK)
            OSR_WARN("mcp '%s': cannot listen for server messages", p->cfg.id);
        rc = list_tools(p, conn, &list, &d);
    }
    pthread_mutex_lock(&p->mu);
    if (p->connecting == conn) {
        p->connecting = NULL;
        mcp_conn_unref(conn);
    }
    pthread_mutex_unlock(&p->mu);
    if (rc)
        goto out;
    if (atomic_load(&p->stop)) {
        rc = osr_diag_set(&d, OSR_ECANCELED, "stopping");
        goto out;
    }
    /* Published before the tools, so each tool works from the moment it is listed. */
    pthread_mutex_lock(&p->mu);
    p->conn = conn;
    conn = NULL;
    p->last_error[0] = '\0';
    pthread_mutex_unlock(&p->mu);
    register_all(p, list);
    pthread_mutex_lock(&p->mu);
    size_t n = p->n_names;
    p->ready = true;
    pthread_mutex_unlock(&p->mu);
    OSR_INFO("mcp '%s': connected, %zu tool(s)", p->cfg.id, n);
out:
    json_object_put(list);
    if (conn) {
        mcp_conn_shutdown(conn);
        mcp_conn_unref(conn);
    }
    if (rc) {
        set_error(p, d.msg[0] ? d.msg : osr_strerror(rc));
        if (!atomic_load(&p->stop)) /* a handshake cut short by free is no news */
            OSR_WARN("mcp '%s': cannot connect: %s", p->cfg.id,
                     d.msg[0] ? d.msg : osr_strerror(rc));
    }
    return rc;
}

/* Drops the connection and the tools; reason goes to last_error. */
static void disconnect_provider(struct provider *p, const char *reason)
{
    pthread_mutex_lock(&p->mu);
    struct mcp_conn *conn = p->conn;
    p->conn = NULL;
    p->ready = false;
    if (reason)
        snprintf(p->last_error, sizeof(p->last_error), "%s", reason);
    pthread_mutex_unlock(&p->mu);
    unregister(p);
    if (conn) {
        mcp_conn_shutdown(conn);
        mcp_conn_unref(conn);
    }
}

static void relist(struct provider *p)
{
    pthread_mutex_lock(&p->mu);
    struct mcp_conn *conn = p->conn;
    if (conn)
        mcp_conn_ref(conn);
    pthread_mutex_unlock(&p->mu);
    if (!conn)
        return;
    struct json_object *list = NULL;
    struct osr_diag d;
    osr_diag_clear(&d);
    if (list_tools(p, conn, &list, &d) == OSR_OK) {
        register_all(p, list);
        json_object_put(list);
        OSR_INFO("mcp '%s': tool list changed", p->cfg.id);
    } else {
        OSR_WARN("mcp '%s': cannot re-list tools: %s", p->cfg.id, d.msg);
    }
    mcp_conn_unref(conn);
}

/* --- the per-provider thread ---------------------------------------------------------------- */

struct thread_arg {
    struct provider *p;
    struct osr_mcp_clients_opts opts;
};

/* Waits up to ms or until stop / relist; returns true when stopping. */
static bool nap(struct provider *p, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    if (!atomic_load(&p->stop) && !atomic_load(&p->relist))
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    pthread_mutex_unlock(&p->mu);
    return atomic_load(&p->stop);
}

#define TICK_MS 100

static void *provider_main(void *arg)
{
    struct thread_arg *ta = arg;
    struct provider *p = ta->p;
    struct osr_mcp_clients_opts o = ta->opts;
    free(ta);
    int backoff = o.backoff_min_ms;
    int64_t next_try = 0, next_ping = 0;
    while (!atomic_load(&p->stop)) {
        int64_t now = osr_mono_ns() / 1000000;
        pthread_mutex_lock(&p->mu);
        struct mcp_conn *conn = p->conn;
        if (conn)
            mcp_conn_ref(conn);
        bool alive = conn && mcp_conn_alive(conn);
        char reason[200] = "";
        if (conn && !alive)
            snprintf(reason, sizeof(reason), "connection lost: %s", conn->dead_reason);
        pthread_mutex_unlock(&p->mu);
        if (conn && !alive) {
            OSR_WARN("mcp '%s': %s; reconnecting in %d ms", p->cfg.id, reason, backoff);
            disconnect_provider(p, reason);
            next_try = now + backoff;
        } else if (alive && atomic_exchange(&p->relist, false)) {
            relist(p);
        } else if (alive && o.ping_interval_ms > 0 && now >= next_ping) {
            next_ping = now + o.ping_interval_ms;
            struct json_object *res = NULL;
            struct osr_diag d;
            osr_diag_clear(&d);
            int rc = mcp_conn_request(conn, "ping", NULL, p->cfg.discovery_timeout_ms, &res, &d);
            json_object_put(res);
            if (rc != OSR_OK && rc != OSR_EINVAL)
                mcp_conn_mark_dead(conn, "ping failed: %s", d.msg);
        } else if (!conn && now >= next_try) {
            if (connect_provider(p) == OSR_OK) {
                backoff = o.backoff_min_ms;
                next_ping = now + (o.ping_interval_ms > 0 ? o.ping_interval_ms : 0);
            } else {
                next_try = osr_mono_ns() / 1000000 + backoff;
                backoff = backoff * 2 > o.backoff_max_ms ? o.backoff_max_ms : backoff * 2;
            }
        }
        mcp_conn_unref(conn);
        if (nap(p, TICK_MS))
            break;
    }
    return NULL;
}

/* --- the manager ---------------------------------------------------------------------------- */

int osr_mcp_clients_start(const char *home, struct osr_tools *tools,
                          const struct osr_mcp_clients_opts *opts, struct osr_mcp_clients **out,
                          struct osr_diag *diag)
{
    *out = NULL;
    struct osr_mcp_config cfg;
    int rc = osr_mcp_config_load(home, &cfg, diag);
    if (rc)
        return rc;
    struct osr_mcp_clients *m = osr_xcalloc(1, sizeof(*m));
    if (opts)
        m->opts = *opts;
    if (m->opts.backoff_min_ms <= 0)
        m->opts.backoff_min_ms = 1000;
    if (m->opts.backoff_max_ms <= 0)
        m->opts.backoff_max_ms = 60000;
    if (m->opts.backoff_max_ms < m->opts.backoff_min_ms)
        m->opts.backoff_max_ms = m->opts.backoff_min_ms;
    if (m->opts.ping_interval_ms == 0)
        m->opts.ping_interval_ms = 30000;
    m->items = osr_xcalloc(cfg.n ? cfg.n : 1, sizeof(*m->items));
    for (size_t i = 0; i < cfg.n; i++) {
        struct provider *p = osr_xcalloc(1, sizeof(*p));
        atomic_init(&p->refs, 1);
        p->cfg = cfg.items[i]; /* moved */
        p->tools = tools;
        p->home = osr_xstrdup(home);
        pthread_mutex_init(&p->mu, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&p->cv, &ca);
        pthread_condattr_destroy(&ca);
        m->items[m->n++] = p;
        if (!p->cfg.enabled)
            set_error(p, "disabled");
        else if (!p->cfg.auto_connect)
            set_error(p, "not connected (autoConnect is off)");
    }
    free(cfg.items); /* the entries now belong to the providers */
    for (size_t i = 0; i < m->n; i++) {
        struct provider *p = m->items[i];
        if (!p->cfg.enabled || !p->cfg.auto_connect)
            continue;
        if (m->opts.wait)
            (void)connect_provider(p);
        if (m->opts.background) {
            struct thread_arg *ta = osr_xcalloc(1, sizeof(*ta));
            ta->p = p;
            ta->opts = m->opts;
            if (pthread_create(&p->thread, NULL, provider_main, ta) == 0)
                p->has_thread = true;
            else {
                free(ta);
                OSR_WARN("mcp '%s': cannot start its thread", p->cfg.id);
            }
        }
    }
    *out = m;
    return OSR_OK;
}

void osr_mcp_clients_free(struct osr_mcp_clients *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        struct provider *p = m->items[i];
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->stop, true);
        struct mcp_conn *busy = p->connecting;
        if (busy)
            mcp_conn_ref(busy);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        /* A handshake in progress fails at once.  Not under mu: a stdio reader being joined
         * may need mu for a notification. */
        if (busy) {
            mcp_conn_shutdown(busy);
            mcp_conn_unref(busy);
        }
    }
    for (size_t i = 0; i < m->n; i++) {
        struct provider *p = m->items[i];
        if (p->has_thread)
            pthread_join(p->thread, NULL);
        disconnect_provider(p, NULL);
        provider_unref(p);
    }
    free(m->items);
    free(m);
}

struct json_object *osr_mcp_clients_status(struct osr_mcp_clients *m)
{
    struct json_object *arr = json_object_new_array();
    for (size_t i = 0; m && i < m->n; i++) {
        struct provider *p = m->items[i];
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_string(p->cfg.id));
        json_object_object_add(o, "name", json_object_new_string(p->cfg.name));
        json_object_object_add(o, "transport",
                               json_object_new_string(p->cfg.url ? "http" : "stdio"));
        json_object_object_add(o, "enabled", json_object_new_boolean(p->cfg.enabled));
        pthread_mutex_lock(&p->mu);
        bool connected = p->ready && p->conn && mcp_conn_alive(p->conn);
        json_object_object_add(o, "connected", json_object_new_boolean(connected));
        json_object_object_add(o, "tool_count", json_object_new_int64((int64_t)p->n_names));
        struct json_object *names = json_object_new_array();
        for (size_t k = 0; k < p->n_names; k++)
            json_object_array_add(names, json_object_new_string(p->names[k]));
        json_object_object_add(o, "tools", names);
        json_object_object_add(
            o, "last_error",
            p->last_error[0] ? osr_json_new_string(p->last_error, strlen(p->last_error)) : NULL);
        pthread_mutex_unlock(&p->mu);
        json_object_array_add(arr, o);
    }
    return arr;
}

static struct provider *find(struct osr_mcp_clients *m, const char *id)
{
    for (size_t i = 0; m && i < m->n; i++)
        if (strcmp(m->items[i]->cfg.id, id) == 0)
            return m->items[i];
    return NULL;
}

int osr_mcp_clients_disconnect(struct osr_mcp_clients *m, const char *id)
{
    struct provider *p = find(m, id);
    if (!p)
        return OSR_ENOTFOUND;
    pthread_mutex_lock(&p->mu);
    if (p->conn)
        mcp_conn_mark_dead(p->conn, "disconnected on request");
    pthread_mutex_unlock(&p->mu);
    return OSR_OK;
}

int osr_mcp_clients_child_pid(struct osr_mcp_clients *m, const char *id)
{
    struct provider *p = find(m, id);
    if (!p)
        return -1;
    pthread_mutex_lock(&p->mu);
    int pid = p->conn ? mcp_conn_pid(p->conn) : -1;
    pthread_mutex_unlock(&p->mu);
    return pid;
}
