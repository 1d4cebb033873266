/* test_providers.c - remote.json and secrets.json: the original's fields, defaults, the 0600
 * rule for secrets, errors that name the file and field, base URLs, and model id claims. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "osr/chat_service.h"
#include "osr/config.h"
#include "osr/provider.h"

static char home[256];

static void write_file(const char *rel, const char *text, unsigned mode)
{
    char *dir = osr_path_join(home, "providers");
    char *path = osr_path_join(dir, rel);
    struct osr_diag d;
    osr_diag_clear(&d);
    REQUIRE(osr_mkdir_p(dir, 0700, &d) == OSR_OK);
    REQUIRE(osr_write_file_atomic(path, text, strlen(text), mode, &d) == OSR_OK);
    chmod(path, mode);
    free(dir);
    free(path);
}

static const char remote[] =
    "{\"providers\":[{\"id\":\"openai\",\"name\":\"OpenAI\",\"host\":\"api.example.test\","
    "\"providerProtocol\":\"https\",\"basePath\":\"/v1/\",\"customHeaders\":{\"X-Org\":\"o1\"},"
    "\"authType\":\"apiKey\",\"providerType\":\"openai\",\"enabled\":true,\"autoConnect\":true,"
    "\"timeout\":60,\"secretHeaderKeys\":[\"X-Secret\"]},"
    "{\"id\":\"local\",\"name\":\"LM\",\"host\":\"127.0.0.1\",\"providerProtocol\":\"http\","
    "\"port\":1234,\"basePath\":\"v1\",\"customHeaders\":{},\"authType\":\"none\","
    "\"providerType\":\"anthropic\",\"enabled\":false,\"autoConnect\":false,\"timeout\":5,"
    "\"secretHeaderKeys\":[],\"models\":[\"m1\"]}]}";

static void test_load(void)
{
    write_file("remote.json", remote, 0644);
    write_file("secrets.json", "{\"openai\":{\"apiKey\":\"sk-abc\",\"headers\":{\"X-Secret\":\"s1\"}}}",
               0600);
    struct osr_provider_set set;
    struct osr_diag d;
    osr_diag_clear(&d);
    REQUIRE(osr_providers_load(home, &set, &d) == OSR_OK);
    REQUIRE(set.n == 2);
    const struct osr_provider *p = &set.items[0];
    CHECK_STR_EQ(p->id, "openai");
    CHECK_STR_EQ(p->name, "OpenAI");
    CHECK(p->https && p->api_key_auth && p->enabled);
    CHECK_STR_EQ(p->api_key, "sk-abc");
    CHECK_INT_EQ(p->type, OSR_PROVIDER_OPENAI);
    CHECK_INT_EQ(p->n_headers, 2);
    CHECK_STR_EQ(p->headers[0].name, "X-Org");
    CHECK(!p->headers[0].secret);
    CHECK_STR_EQ(p->headers[1].value, "s1");
    CHECK(p->headers[1].secret);
    struct osr_buf url;
    osr_buf_init(&url, 1024);
    osr_provider_base_url(p, &url);
    CHECK_STR_EQ(osr_buf_str(&url), "https://api.example.test/v1");
    osr_buf_reset(&url);
    const struct osr_provider *q = &set.items[1];
    osr_provider_base_url(q, &url);
    CHECK_STR_EQ(osr_buf_str(&url), "http://127.0.0.1:1234/v1");
    CHECK(!q->enabled && !q->api_key && q->timeout_s == 5);
    CHECK_INT_EQ(q->n_models, 1);
    CHECK_STR_EQ(osr_provider_type_name(q->type), "anthropic");
    osr_buf_release(&url);

    /* Claims: only "<id>/<model>" of enabled providers. */
    struct osr_chat_service *svc = osr_chat_service_new();
    osr_chat_service_add_backend(svc, osr_provider_backend_new(p));
    osr_chat_service_add_backend(svc, osr_provider_backend_new(q));
    struct osr_chat_backend *b;
    const char *local = NULL;
    CHECK_INT_EQ(osr_chat_service_resolve(svc, "openai/gpt-4o", &b, &local), OSR_OK);
    CHECK_STR_EQ(local, "gpt-4o");
    CHECK_INT_EQ(osr_chat_service_resolve(svc, "openai/", &b, &local), OSR_ENOTFOUND);
    CHECK_INT_EQ(osr_chat_service_resolve(svc, "openaix/gpt", &b, &local), OSR_ENOTFOUND);
    CHECK_INT_EQ(osr_chat_service_resolve(svc, "local/m1", &b, &local), OSR_ENOTFOUND);
    CHECK_INT_EQ(osr_chat_service_resolve(svc, "", &b, &local), OSR_ENOTFOUND);
    osr_chat_service_free(svc);
    osr_providers_release(&set);

    /* Attach adds only the enabled provider. */
    svc = osr_chat_service_new();
    CHECK_INT_EQ(osr_providers_attach(svc, home, &d), 1);
    osr_chat_service_free(svc);
}

static void test_secrets_permissions(void)
{
    write_file("secrets.json", "{\"openai\":{\"apiKey\":\"sk-abc\"}}", 0644);
    struct osr_provider_set set;
    struct osr_diag d;
    osr_diag_clear(&d);
    CHECK_INT_EQ(osr_providers_load(home, &set, &d), OSR_EPERM);
    CHECK(strstr(d.msg, "secrets.json") != NULL && strstr(d.msg, "chmod 600") != NULL);
    CHECK(strstr(d.msg, "sk-abc") == NULL);
    write_file("secrets.json", "{\"openai\":{\"apiKey\":\"sk-abc\"}}", 0600);
    CHECK_INT_EQ(osr_providers_load(home, &set, &d), OSR_OK);
    osr_providers_release(&set);
}

static void test_errors(void)
{
    static const struct {
        const char *json;
        const char *want;
    } cases[] = {
        {"{\"providers\":[{\"id\":\"a\",\"host\":\"h\",\"providerType\":\"bard\"}]}",
         "providerType must be"},
        {"{\"providers\":[{\"host\":\"h\"}]}", "id"},
        {"{\"providers\":[{\"id\":\"a/b\",\"host\":\"h\"}]}", "without '/'"},
        {"{\"providers\":[{\"id\":\"a\",\"host\":\"h/x\"}]}", "invalid host"},
        {"{\"providers\":[{\"id\":\"a\",\"host\":\"h\",\"port\":70000}]}", "port"},
        {"{\"providers\":[{\"id\":\"a\",\"host\":\"h\",\"providerProtocol\":\"ftp\"}]}",
         "providerProtocol"},
        {"{\"providers\":[{\"id\":\"a\",\"host\":\"h\",\"customHeaders\":{\"X\":\"a\\r\\nB: c\"}}]}",
         "custom header"},
        {"{\"providers\":[{\"id\":\"a\",\"host\":\"h\"},{\"id\":\"a\",\"host\":\"h\"}]}",
         "used twice"},
        {"{\"providers\":{}}", "providers"},
        {"[1]", "JSON object"},
        {"{\"providers\":[", "remote.json"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        write_file("remote.json", cases[i].json, 0644);
        struct osr_provider_set set;
        struct osr_diag d;
        osr_diag_clear(&d);
        int rc = osr_providers_load(home, &set, &d);
        CHECK_INT_EQ(rc, OSR_ECONFIG);
        if (!strstr(d.msg, cases[i].want))
            fprintf(stderr, "case %zu: '%s' lacks '%s'\n", i, d.msg, cases[i].want);
        CHECK(strstr(d.msg, cases[i].want) != NULL);
    }
    /* Defaults: https, no base path, openai, enabled, 60 s. */
    write_file("remote.json", "{\"providers\":[{\"id\":\"a\",\"host\":\"h\"}]}", 0644);
    struct osr_provider_set set;
    struct osr_diag d;
    REQUIRE(osr_providers_load(home, &set, &d) == OSR_OK);
    CHECK(set.items[0].https && set.items[0].enabled && set.items[0].timeout_s == 60);
    CHECK_INT_EQ(set.items[0].type, OSR_PROVIDER_OPENAI);
    CHECK_STR_EQ(set.items[0].base_path, "");
    osr_providers_release(&set);
    /* No files at all: an empty set. */
    char *dir = osr_path_join(home, "providers");
    char *r = osr_path_join(dir, "remote.json");
    unlink(r);
    REQUIRE(osr_providers_load(home, &set, &d) == OSR_OK);
    CHECK_INT_EQ(set.n, 0);
    osr_providers_release(&set);
    free(r);
    free(dir);
}

static void test_all(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(home, sizeof(home), "%s/osr-prov-XXXXXX", t && *t ? t : "/tmp");
    REQUIRE(mkdtemp(home) != NULL);
    test_load();
    test_secrets_permissions();
    test_errors();
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", home);
}

TEST_MAIN(test_all)
