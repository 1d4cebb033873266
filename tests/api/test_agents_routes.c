/* test_agents_routes.c - the /agents routes over loopback HTTP: list shape, create (201),
 * show, update (PUT and PATCH), delete (204), 404 for unknown ids, 403 for the built-in, 400
 * for invalid bodies, and "/agents/{id}/run" not swallowed by "/agents/{id}". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "net/http_test_client.h"
#include "osr/api_agents.h"
#include "osr/http_server.h"
#include "osr/json.h"

static char g_home[256];
static char g_base[64];

static struct json_object *parse_body(const struct test_resp *r)
{
    struct json_object *o = NULL;
    struct osr_diag d;
    osr_diag_clear(&d);
    if (osr_json_parse((const char *)r->body.data, r->body.len, &o, &d) != OSR_OK)
        return NULL;
    return o;
}

static struct test_resp req(const char *method, const char *path, const char *body)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", g_base, path);
    static const char *const hdrs[] = {"Content-Type: application/json", NULL};
    return test_request(NULL, method, url, body, body ? strlen(body) : 0, hdrs);
}

static const char *field(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : NULL;
}

static void test_routes(void)
{
    snprintf(g_home, sizeof(g_home), "/tmp/osr_agents_routes_XXXXXX");
    REQUIRE(mkdtemp(g_home) != NULL);
    struct osr_agents *store = osr_agents_open(g_home);
    REQUIRE(store != NULL);
    struct osr_server_config cfg;
    osr_server_config_defaults(&cfg);
    struct osr_http_server *srv = osr_http_server_new(&cfg, 0);
    REQUIRE(srv != NULL);
    osr_api_agents_register(srv, store);
    struct osr_diag d;
    osr_diag_clear(&d);
    REQUIRE(osr_http_server_start(srv, &d) == OSR_OK);
    snprintf(g_base, sizeof(g_base), "http://127.0.0.1:%d", osr_http_server_port(srv));

    struct test_resp r = req("GET", "/agents", NULL);
    CHECK_INT_EQ(r.status, 200);
    struct json_object *o = parse_body(&r);
    REQUIRE(o != NULL);
    struct json_object *agents = NULL;
    REQUIRE(json_object_object_get_ex(o, "agents", &agents));
    CHECK_INT_EQ(json_object_array_length(agents), 1);
    struct json_object *first = json_object_array_get_idx(agents, 0);
    CHECK_STR_EQ(field(first, "id"), OSR_AGENT_DEFAULT_ID);
    CHECK_STR_EQ(field(first, "is_built_in"), "true");
    CHECK_STR_EQ(field(first, "memory_entry_count"), "0");
    CHECK(field(first, "created_at") != NULL);
    json_object_put(o);
    test_resp_release(&r);

    r = req("POST", "/agents",
            "{\"name\":\"Writer\",\"system_prompt\":\"write well\",\"default_model\":\"m\","
            "\"temperature\":1.5,\"max_tokens\":64}");
    CHECK_INT_EQ(r.status, 201);
    o = parse_body(&r);
    REQUIRE(o != NULL);
    char id[64];
    snprintf(id, sizeof(id), "%s", field(o, "id"));
    CHECK_STR_EQ(field(o, "system_prompt"), "write well");
    CHECK_STR_EQ(field(o, "default_model"), "m");
    CHECK_STR_EQ(field(o, "max_tokens"), "64");
    CHECK_STR_EQ(field(o, "is_built_in"), "false");
    const char *created = field(o, "created_at");
    CHECK(created && strlen(created) >= 20 && created[10] == 'T');
    json_object_put(o);
    test_resp_release(&r);

    char path[128];
    snprintf(path, sizeof(path), "/agents/%s", id);
    r = req("GET", path, NULL);
    CHECK_INT_EQ(r.status, 200);
    o = parse_body(&r);
    REQUIRE(o != NULL);
    CHECK_STR_EQ(field(o, "name"), "Writer");
    json_object_put(o);
    test_resp_release(&r);

    r = req("PATCH", path, "{\"name\":\"Editor\"}");
    CHECK_INT_EQ(r.status, 200);
    o = parse_body(&r);
    REQUIRE(o != NULL);
    CHECK_STR_EQ(field(o, "name"), "Editor");
    CHECK_STR_EQ(field(o, "system_prompt"), "write well");
    json_object_put(o);
    test_resp_release(&r);

    r = req("PUT", path, "{\"temperature\":5}");
    CHECK_INT_EQ(r.status, 400);
    CHECK(strstr((const char *)r.body.data, "temperature") != NULL);
    test_resp_release(&r);

    r = req("POST", "/agents", "{\"description\":\"no name\"}");
    CHECK_INT_EQ(r.status, 400);
    CHECK(strstr((const char *)r.body.data, "name") != NULL);
    test_resp_release(&r);

    r = req("POST", "/agents", "[1,2]");
    CHECK_INT_EQ(r.status, 400);
    test_resp_release(&r);

    r = req("GET", "/agents", NULL);
    o = parse_body(&r);
    REQUIRE(o != NULL);
    json_object_object_get_ex(o, "agents", &agents);
    CHECK_INT_EQ(json_object_array_length(agents), 2);
    json_object_put(o);
    test_resp_release(&r);

    /* the deeper path is not one of these routes */
    snprintf(path, sizeof(path), "/agents/%s/run", id);
    r = req("GET", path, NULL);
    CHECK_INT_EQ(r.status, 404);
    test_resp_release(&r);

    snprintf(path, sizeof(path), "/agents/%s", id);
    r = req("DELETE", path, NULL);
    CHECK_INT_EQ(r.status, 204);
    test_resp_release(&r);
    r = req("GET", path, NULL);
    CHECK_INT_EQ(r.status, 404);
    o = parse_body(&r);
    REQUIRE(o != NULL);
    struct json_object *err = NULL;
    CHECK(json_object_object_get_ex(o, "error", &err) && field(err, "message") != NULL);
    json_object_put(o);
    test_resp_release(&r);

    r = req("DELETE", "/agents/" OSR_AGENT_DEFAULT_ID, NULL);
    CHECK_INT_EQ(r.status, 403);
    test_resp_release(&r);
    r = req("GET", "/agents/not-a-uuid", NULL);
    CHECK_INT_EQ(r.status, 404);
    test_resp_release(&r);

    osr_http_server_free(srv);
    osr_server_config_release(&cfg);
    osr_agents_free(store);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_home);
    CHECK(system(cmd) == 0);
}

TEST_MAIN(test_routes)
