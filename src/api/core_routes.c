/* core_routes.c - GET / and GET /health.
 *
 * /health answers the original's {"status":"healthy","timestamp":...} plus what its newer
 * versions add (loaded, current_model, inflight, resident_models: from the engine's loaded
 * models, through a hook) and our version and uptime.
 * GET /models lives with the other model routes in models_routes.c.
 */
#include <json-c/json.h>

#include "osr/api_core.h"
#include "osr/clock.h"

static void handle_root(struct osr_http_request *req, void *ctx)
{
    (void)ctx;
    osr_http_respond(req, 200, "text/plain; charset=utf-8", OSR_BANNER, sizeof(OSR_BANNER) - 1);
}

static void handle_health(struct osr_http_request *req, void *ctx)
{
    struct osr_api_core *core = ctx;
    char ts[OSR_ISO8601_MAX];
    osr_time_iso8601(ts, osr_wall_ms(), 0);
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string("healthy"));
    json_object_object_add(o, "timestamp", json_object_new_string(ts));
    json_object_object_add(o, "version", json_object_new_string(OSR_VERSION));
    json_object_object_add(o, "instance_id", json_object_new_string(core->instance_id));
    json_object_object_add(
        o, "uptime_seconds",
        json_object_new_int64((osr_mono_ns() - core->started_mono_ns) / 1000000000LL));
    /* What the engine holds: the newest loaded first. */
    struct json_object *ps = json_object_new_array(), *resident = json_object_new_array();
    if (core->loaded)
        core->loaded(ps, core->loaded_ctx);
    for (size_t i = 0; i < json_object_array_length(ps); i++) {
        struct json_object *name = NULL;
        if (json_object_object_get_ex(json_object_array_get_idx(ps, i), "name", &name))
            json_object_array_add(resident, json_object_get(name));
    }
    json_object_put(ps);
    size_t n = json_object_array_length(resident);
    json_object_object_add(o, "loaded", json_object_new_boolean(n > 0));
    json_object_object_add(o, "current_model",
                           n ? json_object_get(json_object_array_get_idx(resident, 0)) : NULL);
    /* Requests in flight besides this one. */
    int inflight = osr_http_server_inflight(osr_http_request_server(req)) - 1;
    json_object_object_add(o, "inflight", json_object_new_int(inflight > 0 ? inflight : 0));
    json_object_object_add(o, "resident_models", resident);
    osr_http_respond_json(req, 200, o);
    json_object_put(o);
}

void osr_api_core_register(struct osr_http_server *srv, struct osr_api_core *core)
{
    const struct osr_route routes[] = {
        {"GET", "/", handle_root, OSR_AUTH_PUBLIC, core, 0},
        {"GET", "/health", handle_health, OSR_AUTH_PUBLIC, core, 0},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        osr_http_server_add_route(srv, &routes[i]);
}
