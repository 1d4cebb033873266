/* serve_stack.c - composes the serving process: registry, chat service and backends, history,
 * routes.  The one place that knows how the parts fit; each part knows nothing of the others. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "osr/alloc.h"
#include "osr/api_agents.h"
#include "osr/chat_record.h"
#include "osr/clock.h"
#include "osr/local_backend.h"
#include "osr/log.h"
#include "osr/provider.h"
#include "osr/serve_stack.h"
#include "osr/store.h"

/* GET /models: the providers' models after the local ones. */
static void append_remote(struct json_object *data, void *ctx)
{
    struct osr_serve_stack *st = ctx;
    struct osr_model_list list;
    osr_model_list_init(&list);
    osr_chat_service_list_models(st->svc, &list);
    for (size_t i = 0; i < list.n; i++) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_string(list.items[i].id));
        json_object_object_add(o, "object", json_object_new_string("model"));
        json_object_object_add(o, "created", json_object_new_int64(list.items[i].created));
        json_object_object_add(o, "owned_by", json_object_new_string(list.items[i].owned_by));
        json_object_array_add(data, o);
    }
    osr_model_list_release(&list);
}

/* GET /api/tags: the same models in Ollama's shape. */
static void append_remote_tags(struct json_object *models, void *ctx)
{
    struct osr_serve_stack *st = ctx;
    struct osr_model_list list;
    osr_model_list_init(&list);
    osr_chat_service_list_models(st->svc, &list);
    for (size_t i = 0; i < list.n; i++)
        json_object_array_add(models,
                              osr_api_models_remote_tag(list.items[i].id, list.items[i].created,
                                                        list.items[i].owned_by));
    osr_model_list_release(&list);
}

/* POST /api/show for a provider's model: what is known without the weights. */
static struct json_object *show_remote(const char *name, void *ctx)
{
    struct osr_serve_stack *st = ctx;
    struct osr_chat_backend *b = NULL;
    if (osr_chat_service_resolve(st->svc, name, &b, NULL) != OSR_OK || b == st->local)
        return NULL;
    const char *slash = strchr(name, '/');
    char provider[128];
    snprintf(provider, sizeof(provider), "%.*s", slash ? (int)(slash - name) : 0, name);
    struct json_object *tag = osr_api_models_remote_tag(name, 0, provider);
    struct json_object *details = NULL;
    json_object_object_get_ex(tag, "details", &details);
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "modelfile", json_object_new_string(""));
    json_object_object_add(o, "parameters", json_object_new_string(""));
    json_object_object_add(o, "template", json_object_new_string(""));
    json_object_object_add(o, "details",
                           details ? json_object_get(details) : json_object_new_object());
    struct json_object *info = json_object_new_object();
    json_object_object_add(info, "general.architecture", json_object_new_string("remote"));
    json_object_object_add(info, "general.name", json_object_new_string(name));
    json_object_object_add(o, "model_info", info);
    struct json_object *caps = json_object_new_array();
    json_object_array_add(caps, json_object_new_string("completion"));
    json_object_array_add(caps, json_object_new_string("tools"));
    json_object_object_add(o, "capabilities", caps);
    json_object_put(tag);
    return o;
}

void osr_serve_stack_loaded(struct json_object *models, void *ctx)
{
    struct osr_serve_stack *st = ctx;
    osr_local_backend_loaded(st->local, models);
}

/* GET /api/ps: the models the engine holds, then the cloud models used within their
 * keep_alive (the chat service's recent table), with size 0 as nothing is held here. */
static void append_ps(struct json_object *models, void *ctx)
{
    struct osr_serve_stack *st = ctx;
    osr_serve_stack_loaded(models, ctx);
    size_t n = 0;
    struct osr_chat_recent *r = osr_chat_service_recent(st->svc, &n);
    for (size_t i = 0; i < n; i++) {
        struct osr_chat_backend *b = NULL;
        if (osr_chat_service_resolve(st->svc, r[i].id, &b, NULL) != OSR_OK || b == st->local)
            continue; /* local models are listed by the engine, while they are loaded */
        const char *slash = strchr(r[i].id, '/');
        char provider[128];
        snprintf(provider, sizeof(provider), "%.*s", slash ? (int)(slash - r[i].id) : 0, r[i].id);
        struct json_object *tag = osr_api_models_remote_tag(r[i].id, 0, provider);
        struct json_object *details = NULL;
        json_object_object_get_ex(tag, "details", &details);
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(r[i].id));
        json_object_object_add(o, "model", json_object_new_string(r[i].id));
        json_object_object_add(o, "size", json_object_new_int64(0));
        json_object_object_add(o, "digest", json_object_new_string(""));
        json_object_object_add(o, "details",
                               details ? json_object_get(details) : json_object_new_object());
        char ts[OSR_ISO8601_MAX];
        /* "Forever" is shown as Ollama does for keep_alive -1: far in the future. */
        int64_t exp =
            r[i].expires_ms == INT64_MAX ? r[i].used_ms + 315360000000LL : r[i].expires_ms;
        osr_time_iso8601(ts, exp, 1);
        json_object_object_add(o, "expires_at", json_object_new_string(ts));
        json_object_object_add(o, "size_vram", json_object_new_int64(0));
        json_object_array_add(models, o);
        json_object_put(tag);
    }
    osr_chat_recent_free(r, n);
}

static void open_history(struct osr_serve_stack *st, const char *home)
{
    struct osr_diag d;
    osr_diag_clear(&d);
    bool encrypt_new = true;
    if (osr_store_posture_desired(home, &encrypt_new, &d) != OSR_OK)
        encrypt_new = true;
    struct osr_store_keys keys;
    memset(&keys, 0, sizeof(keys));
    int rc = osr_store_keys_load(&keys, home, encrypt_new, &d);
    if (rc == OSR_OK)
        rc = osr_history_open(&st->history, home, keys.has_key ? &keys : NULL,
                              encrypt_new && keys.has_key, &d);
    if (rc) {
        st->history = NULL;
        OSR_WARN("chat history unavailable, responses are not stored: %s", d.msg);
    }
    osr_store_keys_wipe(&keys);
}

/* Stores an agent run's conversation in the chat history, tagged with the agent and where the
 * run came from. */
struct record_args {
    const struct osr_chat_request *req;
    size_t n_before;
    const char *agent;
};

static int record_locked(struct osr_history *h, void *p)
{
    struct record_args *a = p;
    enum osr_history_source src = a->req->source == OSR_SOURCE_CHAT       ? OSR_HISTORY_CHAT
                                  : a->req->source == OSR_SOURCE_PLUGIN   ? OSR_HISTORY_PLUGIN
                                  : a->req->source == OSR_SOURCE_SCHEDULE ? OSR_HISTORY_SCHEDULE
                                  : a->req->source == OSR_SOURCE_WATCHER  ? OSR_HISTORY_WATCHER
                                                                          : OSR_HISTORY_HTTP;
    struct osr_diag d;
    osr_diag_clear(&d);
    int rc = osr_chat_record_conversation(h, a->req, a->n_before, a->agent, src, &d);
    if (rc)
        OSR_WARN("chat history: an agent run was not recorded: %s", d.msg);
    return rc;
}

void osr_serve_stack_record_run(void *ctx, const struct osr_chat_request *req, size_t n_before,
                                const char *agent_id)
{
    struct osr_serve_stack *st = ctx;
    struct record_args a = {.req = req, .n_before = n_before, .agent = agent_id};
    osr_chat_routes_with_history(st->routes, record_locked, &a);
}

void osr_serve_stack_init(struct osr_serve_stack *st, struct osr_http_server *srv, const char *home,
                          const struct osr_server_config *cfg)
{
    memset(st, 0, sizeof(*st));
    st->home = osr_xstrdup(home);
    struct osr_registry_options ro = {.home = home};
    st->reg = osr_registry_new(&ro);
    struct osr_registry_snapshot *snap = osr_registry_acquire(st->reg, -1);
    OSR_INFO("model registry: %zu model(s) found", osr_registry_count(snap));
    osr_registry_snapshot_release(snap);

    osr_providers_global_init(); /* before any producer thread starts a transfer */
    st->svc = osr_chat_service_new();
    struct osr_local_backend_opts lo = {
        .reg = st->reg, .n_threads = cfg->threads, .single_model = cfg->single_model};
    st->local = osr_local_backend_new(&lo);
    osr_chat_service_add_backend(st->svc, st->local);
    struct osr_diag d;
    osr_diag_clear(&d);
    if (osr_providers_attach(st->svc, home, &d) < 0)
        OSR_WARN("providers: %s", d.msg);

    open_history(st, home);
    st->routes = osr_chat_routes_new(st->svc, st->history);
    if (srv)
        osr_chat_routes_register(srv, st->routes);

    st->models.reg = st->reg;
    st->models.remote = append_remote;
    st->models.remote_ctx = st;
    st->models.remote_tags = append_remote_tags;
    st->models.remote_tags_ctx = st;
    st->models.remote_show = show_remote;
    st->models.remote_show_ctx = st;
    st->models.loaded = append_ps;
    st->models.loaded_ctx = st;
    if (srv)
        osr_api_models_register_with(srv, &st->models);

    st->tools = osr_tools_new();
    if (osr_tools_load_config(st->tools, home, &d) != OSR_OK)
        OSR_WARN("config/tools.json ignored: %s", d.msg);
    if (osr_tools_add_builtins(st->tools, &d) != OSR_OK)
        OSR_WARN("built-in tools: %s", d.msg);
    /* In-process use (no server: `osaurus run`) needs the providers' tools before the first
     * model turn, so it waits for the connections. */
    struct osr_mcp_clients_opts mo = {.background = true, .wait = srv == NULL};
    if (osr_mcp_clients_start(home, st->tools, &mo, &st->mcp_clients, &d) != OSR_OK)
        OSR_WARN("MCP providers are not used: %s", d.msg);
    st->mcp = osr_mcp_http_new(st->tools);
    osr_mcp_http_set_origins(st->mcp, cfg->allowed_origins, cfg->n_allowed_origins);
    if (srv)
        osr_mcp_http_register(srv, st->mcp);

    st->agents = osr_agents_open(home);
    struct osr_tasks_opts to = {.svc = st->svc,
                                .tools = st->tools,
                                .home = home,
                                .record = osr_serve_stack_record_run,
                                .record_ctx = st};
    st->tasks = osr_tasks_new(&to);
    st->run = (struct osr_api_agent_run){
        .agents = st->agents, .svc = st->svc, .tools = st->tools, .tasks = st->tasks,
        .home = st->home, .record = osr_serve_stack_record_run, .record_ctx = st};
    if (srv && st->agents) {
        osr_api_agents_register(srv, st->agents);
        osr_api_agent_run_register(srv, &st->run);
    } else if (srv) {
        OSR_WARN("agents: out of memory, the /agents routes are not served");
    }
}

void osr_serve_stack_release(struct osr_serve_stack *st)
{
    osr_tasks_free(st->tasks); /* before what the tasks use */
    osr_agents_free(st->agents);
    osr_mcp_http_free(st->mcp);
    osr_mcp_clients_free(st->mcp_clients);
    osr_tools_free(st->tools);
    osr_chat_routes_free(st->routes);
    osr_history_close(st->history);
    osr_chat_service_free(st->svc);
    osr_registry_free(st->reg);
    free(st->home);
    memset(st, 0, sizeof(*st));
}
