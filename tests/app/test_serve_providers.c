/* test_serve_providers.c - the serving stack as `osaurus serve` composes it, in-process, over a
 * temporary home whose providers/remote.json points at the fake upstream: the provider's
 * models appear in GET /v1/models and, in Ollama's shape, in GET /api/tags; a manual model
 * list is honoured; a disabled provider lists nothing; GET /api/ps lists a cloud model
 * after a chat with it. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "net/http_test_client.h"
#include "osr/clock.h"
#include "osr/config.h"
#include "osr/json.h"
#include "osr/log.h"
#include "osr/serve_stack.h"
#include "providers/fake_upstream.h"

static char home[256];
static char base[64];
static struct osr_server_config cfg;
static struct osr_http_server *srv;
static struct osr_serve_stack stack;

static struct json_object *get_json(const char *path, long *status)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", base, path);
    struct test_resp r = test_request(NULL, "GET", url, NULL, 0, NULL);
    *status = r.status;
    struct json_object *o = NULL;
    if (osr_json_parse(osr_buf_str(&r.body), r.body.len, &o, NULL) != OSR_OK)
        o = NULL;
    test_resp_release(&r);
    return o;
}

static struct json_object *find_by(struct json_object *arr, const char *key, const char *val)
{
    for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
        struct json_object *e = json_object_array_get_idx(arr, i), *v;
        if (json_object_object_get_ex(e, key, &v) && strcmp(json_object_get_string(v), val) == 0)
            return e;
    }
    return NULL;
}

static const char *str_of(struct json_object *o, const char *key)
{
    struct json_object *v;
    return o && json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static void test_setup(void)
{
    osr_log_set_level(OSR_LOG_ERROR);
    (void)fake_last_body;
    const char *tmp = getenv("TMPDIR");
    snprintf(home, sizeof(home), "%s/osr_serve_prov_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE(mkdtemp(home) != NULL);
    /* Keep the registry away from this machine's own model stores. */
    setenv("HOME", home, 1);
    unsetenv("HF_HUB_CACHE");
    unsetenv("HF_HOME");
    unsetenv("XDG_CACHE_HOME");
    unsetenv("OLLAMA_MODELS");
    unsetenv("OSU_MODELS_DIR");
    unsetenv("http_proxy");
    unsetenv("all_proxy");
    fake_start();

    char dir[512], path[600], text[2048];
    snprintf(dir, sizeof(dir), "%s/providers", home);
    REQUIRE(osr_mkdir_p(dir, 0700, NULL) == OSR_OK);
    snprintf(path, sizeof(path), "%s/remote.json", dir);
    snprintf(text, sizeof(text),
             "{\"providers\":["
             "{\"id\":\"fake\",\"host\":\"127.0.0.1\",\"providerProtocol\":\"http\",\"port\":%d,"
             "\"basePath\":\"\",\"authType\":\"none\",\"providerType\":\"openai\"},"
             "{\"id\":\"manual\",\"host\":\"127.0.0.1\",\"providerProtocol\":\"http\",\"port\":%d,"
             "\"basePath\":\"/none\",\"authType\":\"none\",\"providerType\":\"openai\","
             "\"models\":[\"m-one\"]},"
             "{\"id\":\"off\",\"host\":\"127.0.0.1\",\"providerProtocol\":\"http\",\"port\":%d,"
             "\"basePath\":\"\",\"authType\":\"none\",\"providerType\":\"openai\","
             "\"enabled\":false}]}",
             fake.port, fake.port, fake.port);
    REQUIRE(osr_write_file_atomic(path, text, strlen(text), 0644, NULL) == OSR_OK);

    osr_server_config_defaults(&cfg);
    srv = osr_http_server_new(&cfg, 0);
    osr_serve_stack_init(&stack, srv, home, &cfg);
    struct osr_diag d;
    osr_diag_clear(&d);
    REQUIRE(osr_http_server_start(srv, &d) == OSR_OK);
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", osr_http_server_port(srv));
}

static void test_v1_models(void)
{
    long st = 0;
    struct json_object *o = get_json("/v1/models", &st);
    CHECK_INT_EQ(st, 200);
    struct json_object *data = NULL;
    REQUIRE(o && json_object_object_get_ex(o, "data", &data));
    CHECK(find_by(data, "id", "fake/text-a") != NULL);
    CHECK(find_by(data, "id", "fake/tools-b") != NULL);
    CHECK(find_by(data, "id", "manual/m-one") != NULL);
    CHECK(find_by(data, "id", "off/text-a") == NULL);
    json_object_put(o);
}

static void test_api_tags(void)
{
    long st = 0;
    struct json_object *o = get_json("/api/tags", &st);
    CHECK_INT_EQ(st, 200);
    struct json_object *models = NULL;
    REQUIRE(o && json_object_object_get_ex(o, "models", &models));
    struct json_object *e = find_by(models, "name", "fake/text-a");
    REQUIRE(e);
    CHECK_STR_EQ(str_of(e, "model"), "fake/text-a");
    CHECK_STR_EQ(str_of(e, "owned_by"), "fake");
    CHECK_STR_EQ(str_of(e, "digest"), "");
    const char *mod = str_of(e, "modified_at");
    CHECK(mod && strlen(mod) == 20 && mod[10] == 'T' && mod[19] == 'Z');
    struct json_object *size, *details;
    CHECK(json_object_object_get_ex(e, "size", &size) && json_object_get_int64(size) == 0);
    REQUIRE(json_object_object_get_ex(e, "details", &details));
    CHECK_STR_EQ(str_of(details, "format"), "remote");
    CHECK(find_by(models, "name", "fake/tools-b") != NULL);
    CHECK(find_by(models, "name", "manual/m-one") != NULL);
    CHECK(find_by(models, "name", "off/tools-b") == NULL);
    json_object_put(o);
}

/* POST /api/show answers for a provider's model too; unknown models stay 404. */
static void test_api_show(void)
{
    char url[512];
    snprintf(url, sizeof(url), "%s/api/show", base);
    const char *body = "{\"model\":\"fake/text-a\"}";
    struct test_resp r = test_request(NULL, "POST", url, body, strlen(body), NULL);
    CHECK_INT_EQ(r.status, 200);
    struct json_object *o = NULL;
    REQUIRE(osr_json_parse(osr_buf_str(&r.body), r.body.len, &o, NULL) == OSR_OK);
    struct json_object *details = NULL, *info = NULL;
    CHECK(json_object_object_get_ex(o, "details", &details));
    CHECK_STR_EQ(str_of(details, "format"), "remote");
    REQUIRE(json_object_object_get_ex(o, "model_info", &info));
    CHECK_STR_EQ(str_of(info, "general.architecture"), "remote");
    json_object_put(o);
    test_resp_release(&r);
    const char *unknown = "{\"model\":\"nobody/none\"}";
    r = test_request(NULL, "POST", url, unknown, strlen(unknown), NULL);
    CHECK_INT_EQ(r.status, 404);
    CHECK(strstr(osr_buf_str(&r.body), "not found") != NULL);
    test_resp_release(&r);
}

/* GET /api/ps lists a cloud model after a chat with it, with Ollama's fields. */
static void test_api_ps(void)
{
    long st = 0;
    struct json_object *o = get_json("/api/ps", &st);
    CHECK_INT_EQ(st, 200);
    struct json_object *models = NULL;
    REQUIRE(o && json_object_object_get_ex(o, "models", &models));
    CHECK(find_by(models, "name", "fake/text-a") == NULL);
    json_object_put(o);

    char url[512];
    snprintf(url, sizeof(url), "%s/api/generate", base);
    const char *body = "{\"model\":\"fake/text-a\",\"prompt\":\"Hi\",\"stream\":false}";
    struct test_resp r = test_request(NULL, "POST", url, body, strlen(body), NULL);
    CHECK_INT_EQ(r.status, 200);
    test_resp_release(&r);

    int64_t now = osr_wall_ms();
    o = get_json("/api/ps", &st);
    CHECK_INT_EQ(st, 200);
    REQUIRE(o && json_object_object_get_ex(o, "models", &models));
    struct json_object *e = find_by(models, "name", "fake/text-a"), *v, *details;
    REQUIRE(e);
    CHECK_STR_EQ(str_of(e, "model"), "fake/text-a");
    CHECK(json_object_object_get_ex(e, "size", &v) && json_object_get_int64(v) == 0);
    CHECK(json_object_object_get_ex(e, "size_vram", &v) && json_object_get_int64(v) == 0);
    CHECK(json_object_object_get_ex(e, "details", &details));
    CHECK_STR_EQ(str_of(details, "format"), "remote");
    /* expires_at: about five minutes from now, "YYYY-MM-DDTHH:MM:SS.mmmZ". */
    const char *exp = str_of(e, "expires_at");
    char want[OSR_ISO8601_MAX];
    osr_time_iso8601(want, now + 300000, 1);
    CHECK(exp && strlen(exp) == 24 && strncmp(exp, want, 15) == 0);
    json_object_put(o);

    /* keep_alive 0 ends it at once. */
    body = "{\"model\":\"fake/text-a\",\"prompt\":\"Hi\",\"stream\":false,\"keep_alive\":0}";
    r = test_request(NULL, "POST", url, body, strlen(body), NULL);
    CHECK_INT_EQ(r.status, 200);
    test_resp_release(&r);
    o = get_json("/api/ps", &st);
    REQUIRE(o && json_object_object_get_ex(o, "models", &models));
    CHECK(find_by(models, "name", "fake/text-a") == NULL);
    json_object_put(o);
}

static void test_teardown(void)
{
    osr_http_server_free(srv);
    osr_serve_stack_release(&stack);
    osr_server_config_release(&cfg);
    fake_stop();
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
    CHECK_INT_EQ(system(cmd), 0);
}

TEST_MAIN(test_setup, test_v1_models, test_api_tags, test_api_show, test_api_ps, test_teardown)
