/* test_secrets.c - the encrypted secret store and the automatic move of the interim
 * providers/secrets.json into it: the keys arrive, the plaintext file is gone, no plaintext
 * reaches the database files, and providers read their keys from the store. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "osr/config.h"
#include "osr/log.h"
#include "osr/provider.h"
#include "osr/secrets.h"

static char home[256];

static void write_file(const char *rel, const char *text, unsigned mode)
{
    char *path = osr_path_join(home, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    osr_mkdir_p(path, 0700, NULL);
    *slash = '/';
    osr_write_file_atomic(path, text, strlen(text), mode, NULL);
    chmod(path, mode);
    free(path);
}

/* True when marker appears in the raw bytes of any file of dir (recursively). */
static bool raw_contains(const char *dir, const char *marker)
{
    char cmd[800];
    snprintf(cmd, sizeof(cmd), "grep -rqa '%s' '%s'", marker, dir);
    return system(cmd) == 0;
}

static void test_put_get_delete(void)
{
    struct osr_secrets *s = NULL;
    struct osr_diag d;
    osr_diag_clear(&d);
    REQUIRE(osr_secrets_open(&s, home, &d) == OSR_OK);
    CHECK(osr_secrets_put(s, "provider", "a", "{\"apiKey\":\"one\"}", &d) == OSR_OK);
    CHECK(osr_secrets_put(s, "provider", "a", "{\"apiKey\":\"two\"}", &d) == OSR_OK);
    CHECK(osr_secrets_put(s, "other", "x", "plain value", &d) == OSR_OK);
    char *v = NULL;
    CHECK(osr_secrets_get(s, "provider", "a", &v, &d) == OSR_OK);
    CHECK_STR_EQ(v, "{\"apiKey\":\"two\"}");
    free(v);
    CHECK_INT_EQ(osr_secrets_get(s, "provider", "missing", &v, &d), OSR_ENOTFOUND);
    struct json_object *o = NULL;
    CHECK(osr_secrets_scope_json(s, "provider", &o, &d) == OSR_OK);
    CHECK_STR_EQ(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                 "{\"a\":{\"apiKey\":\"two\"}}");
    json_object_put(o);
    CHECK(osr_secrets_delete(s, "provider", "a", &d) == OSR_OK);
    CHECK_INT_EQ(osr_secrets_delete(s, "provider", "a", &d), OSR_ENOTFOUND);
    osr_secrets_close(s);
}

static void test_migration(void)
{
    write_file(
        "providers/secrets.json",
        "{\"up\":{\"apiKey\":\"sk-MARKERSECRET42\",\"headers\":{\"X-Token\":\"hdrMARKER7\"}}}",
        0600);
    write_file(
        "providers/remote.json",
        "{\"providers\":[{\"id\":\"up\",\"name\":\"Up\",\"host\":\"127.0.0.1\","
        "\"providerProtocol\":\"http\",\"port\":9,\"basePath\":\"/v1\",\"authType\":\"apiKey\","
        "\"providerType\":\"openai\",\"enabled\":true,\"secretHeaderKeys\":[\"X-Token\"]}]}",
        0600);
    struct osr_provider_set set;
    struct osr_diag d;
    osr_diag_clear(&d);
    int rc = osr_providers_load(home, &set, &d);
    if (rc)
        fprintf(stderr, "%s\n", d.msg);
    REQUIRE(rc == OSR_OK);
    REQUIRE(set.n == 1);
    CHECK_STR_EQ(set.items[0].api_key, "sk-MARKERSECRET42");
    osr_providers_release(&set);
    /* The plaintext file is gone, and the secrets are nowhere in plaintext. */
    char *path = osr_path_join(home, "providers/secrets.json");
    CHECK(access(path, F_OK) != 0);
    free(path);
    CHECK(!raw_contains(home, "MARKERSECRET42"));
    CHECK(!raw_contains(home, "hdrMARKER7"));
    /* A second load reads them from the store alone. */
    REQUIRE(osr_providers_load(home, &set, &d) == OSR_OK);
    REQUIRE(set.n == 1);
    CHECK_STR_EQ(set.items[0].api_key, "sk-MARKERSECRET42");
    osr_providers_release(&set);
}

static void test_loose_file_is_refused_not_moved(void)
{
    write_file("providers/secrets.json", "{\"up\":{\"apiKey\":\"sk-LOOSE\"}}", 0644);
    struct osr_provider_set set;
    struct osr_diag d;
    osr_diag_clear(&d);
    CHECK(osr_providers_load(home, &set, &d) != OSR_OK);
    char *path = osr_path_join(home, "providers/secrets.json");
    CHECK(access(path, F_OK) == 0); /* left for the user to fix */
    unlink(path);
    free(path);
}

static void setup(void)
{
    osr_log_set_level(OSR_LOG_ERROR);
    const char *tmp = getenv("TMPDIR");
    snprintf(home, sizeof(home), "%s/osr-secrets-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(home))
        exit(1);
    unsetenv("OSAURUS_STORAGE_KEY");
    unsetenv("OSAURUS_STORAGE_PASSPHRASE");
}

static void test_setup(void)
{
    setup();
    CHECK(home[0] != '\0');
}

static void cleanup(void)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
    CHECK(system(cmd) == 0);
}

TEST_MAIN(test_setup, test_put_get_delete, test_migration, test_loose_file_is_refused_not_moved,
          cleanup)
