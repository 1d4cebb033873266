/* agents_routes.c - the /agents routes: list, show, create, update and delete agents stored by
 * the agents store, answering in the original's snake_case shape with ISO 8601 dates.
 *
 * The patterns are exact ("/agents", "/agents/{id}"), so "/agents/{id}/run" and other deeper
 * paths are left to routes registered elsewhere.  This file does not run agents.
 */
#include <string.h>

#include "osr/api_agents.h"
#include "osr/json.h"

struct key_map {
    const char *wire;
    const char *stored;
};

static const struct key_map k_keys[] = {
    {"system_prompt", "systemPrompt"},   {"default_model", "defaultModel"},
    {"max_tokens", "maxTokens"},         {"enabled_tools", "enabledTools"},
    {"enabled_skills", "enabledSkills"}, {"enabled_plugins", "enabledPlugins"},
    {"is_built_in", "isBuiltIn"},        {"created_at", "createdAt"},
    {"updated_at", "updatedAt"},         {"working_folder_path", "workingFolderPath"},
    {"agent_index", "agentIndex"},       {"agent_address", "agentAddress"},
};

struct json_object *osr_api_agents_fields(struct json_object *body)
{
    struct json_object *out = json_object_new_object();
    json_object_object_foreach(body, key, val)
    {
        const char *name = key;
        for (size_t i = 0; i < sizeof(k_keys) / sizeof(k_keys[0]); i++)
            if (strcmp(key, k_keys[i].wire) == 0)
                name = k_keys[i].stored;
        json_object_object_add(out, name, val ? json_object_get(val) : NULL);
    }
    return out;
}

static void copy_as(struct json_object *out, struct json_object *doc, const char *stored,
                    const char *wire)
{
    struct json_object *v = NULL;
    json_object_object_get_ex(doc, stored, &v);
    json_object_object_add(out, wire, v ? json_object_get(v) : NULL);
}

struct json_object *osr_api_agents_wire(struct json_object *doc, int full)
{
    struct json_object *o = json_object_new_object();
    copy_as(o, doc, "id", "id");
    copy_as(o, doc, "name", "name");
    copy_as(o, doc, "description", "description");
    copy_as(o, doc, "defaultModel", "default_model");
    struct json_object *b = NULL;
    json_object_object_get_ex(doc, "isBuiltIn", &b);
    json_object_object_add(o, "is_built_in", json_object_new_boolean(b && json_object_get_boolean(b)));
    json_object_object_add(o, "memory_entry_count", json_object_new_int(0));
    copy_as(o, doc, "createdAt", "created_at");
    copy_as(o, doc, "updatedAt", "updated_at");
    if (full) {
        copy_as(o, doc, "systemPrompt", "system_prompt");
        copy_as(o, doc, "temperature", "temperature");
        copy_as(o, doc, "maxTokens", "max_tokens");
        struct json_object *t = NULL;
        json_object_object_get_ex(doc, "enabledTools", &t);
        json_object_object_add(o, "enabled_tools", t ? json_object_get(t) : json_object_new_object());
    }
    return o;
}

static void respond_failure(struct osr_http_request *req, int rc, const struct osr_diag *d)
{
    if (rc == OSR_ENOTFOUND)
        osr_http_respond_error(req, 404, "not_found_error", d->msg, NULL, "agent_not_found");
    else if (rc == OSR_EPERM)
        osr_http_respond_error(req, 403, "permission_error", d->msg, NULL, NULL);
    else if (rc == OSR_EINVAL)
        osr_http_respond_error(req, 400, "invalid_request_error", d->msg,
                               d->param[0] ? d->param : NULL, NULL);
    else
        osr_http_respond_error(req, 500, "server_error", d->msg[0] ? d->msg : osr_strerror(rc),
                               NULL, NULL);
}

static void handle_list(struct osr_http_request *req, void *ctx)
{
    struct osr_diag d;
    osr_diag_clear(&d);
    struct json_object *list = NULL;
    int rc = osr_agents_list(ctx, &list, &d);
    if (rc) {
        respond_failure(req, rc, &d);
        return;
    }
    struct json_object *arr = json_object_new_array();
    size_t n = json_object_array_length(list);
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, osr_api_agents_wire(json_object_array_get_idx(list, i), 0));
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "agents", arr);
    osr_http_respond_json(req, 200, body);
    json_object_put(body);
    json_object_put(list);
}

static void handle_get(struct osr_http_request *req, void *ctx)
{
    struct osr_diag d;
    osr_diag_clear(&d);
    struct json_object *doc = NULL;
    int rc = osr_agents_get(ctx, osr_http_request_param(req, "id"), &doc, &d);
    if (rc) {
        respond_failure(req, rc, &d);
        return;
    }
    struct json_object *w = osr_api_agents_wire(doc, 1);
    osr_http_respond_json(req, 200, w);
    json_object_put(w);
    json_object_put(doc);
}

/* Parses the body as a JSON object and maps its keys; answers 400 itself on failure. */
static struct json_object *body_fields(struct osr_http_request *req)
{
    struct osr_str body = osr_http_request_body(req);
    struct osr_diag d;
    osr_diag_clear(&d);
    struct json_object *obj = NULL;
    if (osr_json_parse(body.p, body.n, &obj, &d) != OSR_OK) {
        osr_http_respond_error(req, 400, "invalid_request_error", d.msg, NULL, NULL);
        return NULL;
    }
    if (!obj || !json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        osr_http_respond_error(req, 400, "invalid_request_error",
                               "the request body must be a JSON object", NULL, NULL);
        return NULL;
    }
    struct json_object *f = osr_api_agents_fields(obj);
    json_object_put(obj);
    return f;
}

static void handle_create(struct osr_http_request *req, void *ctx)
{
    struct json_object *f = body_fields(req);
    if (!f)
        return;
    struct osr_diag d;
    osr_diag_clear(&d);
    struct json_object *doc = NULL;
    int rc = osr_agents_create(ctx, f, &doc, &d);
    json_object_put(f);
    if (rc) {
        respond_failure(req, rc, &d);
        return;
    }
    struct json_object *w = osr_api_agents_wire(doc, 1);
    osr_http_respond_json(req, 201, w);
    json_object_put(w);
    json_object_put(doc);
}

static void handle_update(struct osr_http_request *req, void *ctx)
{
    struct json_object *f = body_fields(req);
    if (!f)
        return;
    struct osr_diag d;
    osr_diag_clear(&d);
    struct json_object *doc = NULL;
    int rc = osr_agents_update(ctx, osr_http_request_param(req, "id"), f, &doc, &d);
    json_object_put(f);
    if (rc) {
        respond_failure(req, rc, &d);
        return;
    }
    struct json_object *w = osr_api_agents_wire(doc, 1);
    osr_http_respond_json(req, 200, w);
    json_object_put(w);
    json_object_put(doc);
}

static void handle_delete(struct osr_http_request *req, void *ctx)
{
    struct osr_diag d;
    osr_diag_clear(&d);
    int rc = osr_agents_delete(ctx, osr_http_request_param(req, "id"), &d);
    if (rc) {
        respond_failure(req, rc, &d);
        return;
    }
    osr_http_respond(req, 204, NULL, NULL, 0);
}

void osr_api_agents_register(struct osr_http_server *srv, struct osr_agents *store)
{
    const struct osr_route routes[] = {
        {.method = "GET", .pattern = "/agents", .handler = handle_list},
        {.method = "POST", .pattern = "/agents", .handler = handle_create},
        {.method = "GET", .pattern = "/agents/{id}", .handler = handle_get},
        {.method = "PUT", .pattern = "/agents/{id}", .handler = handle_update},
        {.method = "PATCH", .pattern = "/agents/{id}", .handler = handle_update},
        {.method = "DELETE", .pattern = "/agents/{id}", .handler = handle_delete},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        struct osr_route r = routes[i];
        r.auth = OSR_AUTH_GATED;
        r.ctx = store;
        osr_http_server_add_route(srv, &r);
    }
}
