/* test_config.c - server.json over the defaults, error messages, round trips of unknown
 * fields, and the file helpers (mkdir -p, atomic write, capped read, paths). */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "osr/config.h"

static char home[512];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void make_home(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(home, sizeof(home), "%s/osr-config-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(home))
        home[0] = '\0';
}

static void remove_home(void)
{
    if (home[0])
        nftw(home, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes text as <home>/config/server.json. */
static int put_config(const char *text)
{
    char *dir = osr_path_join(home, "config");
    char *file = osr_path_join(dir, "server.json");
    int rc = osr_mkdir_p(dir, 0700, NULL);
    if (!rc)
        rc = osr_write_file_atomic(file, text, strlen(text), 0600, NULL);
    free(dir);
    free(file);
    return rc;
}

static void test_defaults(void)
{
    struct osr_server_config c;
    osr_server_config_defaults(&c);
    CHECK_INT_EQ(c.port, 1337);
    CHECK(!c.expose);
    CHECK_INT_EQ(c.backlog, 256);
    CHECK_INT_EQ(c.max_body, 32u * 1024 * 1024);
    CHECK_INT_EQ(c.n_allowed_origins, 0);
    CHECK(c.single_model); /* the original's default: Strict (One Model) */
    CHECK(c.raw == NULL);
    CHECK(c.idle_timeout_s > 0 && c.request_timeout_s > 0 && c.max_header_bytes > 0);
    osr_server_config_release(&c);
}

static void test_missing_file(void)
{
    REQUIRE(home[0]);
    struct osr_server_config c;
    osr_server_config_defaults(&c);
    struct osr_diag d;
    osr_diag_clear(&d);
    CHECK_INT_EQ(osr_server_config_load(&c, home, &d), OSR_OK);
    CHECK_INT_EQ(c.port, 1337);
    CHECK(c.raw == NULL);
    osr_server_config_release(&c);
}

static void test_load_known_and_unknown(void)
{
    REQUIRE(home[0]);
    REQUIRE(put_config("{\n  \"port\": 8080,\n  \"exposeToNetwork\": true,\n"
                       "  \"allowedOrigins\": [\"http://a.example\", \"http://b.example\"],\n"
                       "  \"numberOfThreads\": 4, \"backlog\": null, \"maxConnections\": 3.0,\n"
                       "  \"startAtLogin\": true, \"appearanceMode\": \"dark\",\n"
                       "  \"genTopP\": 0.9, \"future\": {\"nested\": [1, {\"x\": null}]},\n"
                       "  \"modelEvictionPolicy\": \"Flexible (Multi Model)\"\n}\n") ==
            OSR_OK);
    struct osr_server_config c;
    osr_server_config_defaults(&c);
    struct osr_diag d;
    osr_diag_clear(&d);
    CHECK_INT_EQ(osr_server_config_load(&c, home, &d), OSR_OK);
    CHECK_STR_EQ(d.msg, "");
    CHECK_INT_EQ(c.port, 8080);
    CHECK(c.expose);
    REQUIRE(c.n_allowed_origins == 2);
    CHECK_STR_EQ(c.allowed_origins[0], "http://a.example");
    CHECK_STR_EQ(c.allowed_origins[1], "http://b.example");
    CHECK_INT_EQ(c.threads, 4);
    CHECK(!c.single_model);
    CHECK_INT_EQ(c.backlog, 256); /* null keeps the default */
    CHECK_INT_EQ(c.max_connections, 3);
    CHECK_INT_EQ(c.max_body, 32u * 1024 * 1024); /* absent keeps the default */
    REQUIRE(c.raw != NULL);
    CHECK(json_object_object_get_ex(c.raw, "appearanceMode", NULL));

    /* Loading again over a loaded config replaces the list, no leak, no duplicates. */
    CHECK_INT_EQ(osr_server_config_load(&c, home, &d), OSR_OK);
    CHECK_INT_EQ(c.n_allowed_origins, 2);
    osr_server_config_release(&c);
    CHECK(c.raw == NULL && c.allowed_origins == NULL);
}

/* Loads text and expects OSR_ECONFIG with every needle in the message, and cfg untouched. */
static void bad_config(const char *text, const char *n1, const char *n2)
{
    if (put_config(text) != OSR_OK) {
        CHECK(!"cannot write the config file");
        return;
    }
    struct osr_server_config c;
    osr_server_config_defaults(&c);
    struct osr_diag d;
    osr_diag_clear(&d);
    CHECK_INT_EQ(osr_server_config_load(&c, home, &d), OSR_ECONFIG);
    CHECK(strstr(d.msg, home) != NULL); /* names the file... */
    CHECK(strstr(d.msg, "server.json") != NULL);
    if (n1 && !strstr(d.msg, n1))
        fprintf(stderr, "message lacks '%s': %s\n", n1, d.msg);
    CHECK(!n1 || strstr(d.msg, n1) != NULL); /* ...the field... */
    CHECK(!n2 || strstr(d.msg, n2) != NULL); /* ...and what was expected */
    /* All or nothing: the valid fields before the bad one were not applied either. */
    CHECK_INT_EQ(c.port, 1337);
    CHECK(!c.expose);
    CHECK_INT_EQ(c.n_allowed_origins, 0);
    CHECK(c.raw == NULL);
    osr_server_config_release(&c);
}

static void test_invalid(void)
{
    REQUIRE(home[0]);
    bad_config("{\"port\": \"8080\"}", "'port'", "an integer");
    bad_config("{\"modelEvictionPolicy\": \"lru\"}", "'modelEvictionPolicy'",
               "\"Strict (One Model)\" or \"Flexible (Multi Model)\"");
    bad_config("{\"port\": 70000}", "'port'", "between 0 and 65535");
    bad_config("{\"port\": 80.5}", "'port'", "an integer");
    bad_config("{\"port\": 81, \"exposeToNetwork\": \"yes\"}", "'exposeToNetwork'", "a boolean");
    bad_config("{\"port\": 81, \"allowedOrigins\": \"*\"}", "'allowedOrigins'",
               "an array of strings");
    bad_config("{\"exposeToNetwork\": true, \"allowedOrigins\": [\"a\", 1]}", "'allowedOrigins'",
               "an array of strings");
    bad_config("{\"port\": 81, \"maxRequestBodyBytes\": true}", "'maxRequestBodyBytes'",
               "an integer");
    bad_config("{\"port\": 81, \"maxHeaderCount\": -1}", "'maxHeaderCount'", "between");
    bad_config("{\"port\": 81,}", "invalid JSON", NULL);
    bad_config("{\"port\": 81} // comment", "invalid JSON", NULL);
    bad_config("[1, 2]", "top level", NULL);
    bad_config("null", "top level", NULL);
    bad_config("", "invalid JSON", NULL);

    struct osr_diag d;
    osr_diag_clear(&d);
    REQUIRE(put_config("{\"backlog\": \"x\"}") == OSR_OK);
    struct osr_server_config c;
    osr_server_config_defaults(&c);
    CHECK_INT_EQ(osr_server_config_load(&c, home, &d), OSR_ECONFIG);
    CHECK_STR_EQ(d.param, "backlog");
    osr_server_config_release(&c);
}

static void test_save_roundtrip(void)
{
    REQUIRE(home[0]);
    REQUIRE(put_config("{\"port\": 9000, \"startAtLogin\": true, \"appearanceMode\": \"dark\","
                       " \"future\": {\"nested\": [1, {\"x\": null}], \"s\": \"a/b\"}}") == OSR_OK);
    struct osr_server_config c;
    osr_server_config_defaults(&c);
    struct osr_diag d;
    osr_diag_clear(&d);
    REQUIRE(osr_server_config_load(&c, home, &d) == OSR_OK);
    c.port = 9001;
    c.max_connections = 77; /* a field the file did not have */
    c.idle_timeout_s = 5;
    char **list = malloc(sizeof(char *));
    list[0] = strdup("http://x.example");
    c.allowed_origins = list;
    c.n_allowed_origins = 1;
    CHECK_INT_EQ(osr_server_config_save(&c, home, &d), OSR_OK);
    struct json_object *before = json_object_get(c.raw);
    osr_server_config_release(&c);

    /* The file is private. */
    char *dir = osr_path_join(home, "config");
    char *file = osr_path_join(dir, "server.json");
    struct stat st;
    CHECK(stat(file, &st) == 0 && (st.st_mode & 0777) == 0600);

    osr_server_config_defaults(&c);
    CHECK_INT_EQ(osr_server_config_load(&c, home, &d), OSR_OK);
    CHECK_INT_EQ(c.port, 9001);
    CHECK_INT_EQ(c.max_connections, 77);
    CHECK_INT_EQ(c.idle_timeout_s, 5);
    REQUIRE(c.n_allowed_origins == 1);
    CHECK_STR_EQ(c.allowed_origins[0], "http://x.example");
    REQUIRE(c.raw != NULL);
    struct json_object *v = NULL;
    CHECK(json_object_object_get_ex(c.raw, "startAtLogin", &v) && json_object_get_boolean(v));
    CHECK(json_object_object_get_ex(c.raw, "appearanceMode", &v) &&
          strcmp(json_object_get_string(v), "dark") == 0);
    struct json_object *f1 = NULL, *f2 = NULL;
    CHECK(json_object_object_get_ex(c.raw, "future", &f2));
    CHECK(json_object_object_get_ex(before, "future", &f1));
    CHECK(f1 && f2 && json_object_equal(f1, f2));
    json_object_put(before);

    /* No temp files left beside it. */
    DIR *dh = opendir(dir);
    int entries = 0;
    struct dirent *e;
    while (dh && (e = readdir(dh)) != NULL)
        entries += e->d_name[0] != '.';
    if (dh)
        closedir(dh);
    CHECK_INT_EQ(entries, 1);
    free(dir);
    free(file);
    osr_server_config_release(&c);
}

static void test_mkdir_p(void)
{
    REQUIRE(home[0]);
    char *p = osr_path_join(home, "a/b//c/");
    struct osr_diag d;
    osr_diag_clear(&d);
    CHECK_INT_EQ(osr_mkdir_p(p, 0700, &d), OSR_OK);
    struct stat st;
    CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK_INT_EQ(osr_mkdir_p(p, 0700, &d), OSR_OK); /* existing is fine */
    free(p);

    /* A file in the way is an error, at the end or in the middle. */
    char *f = osr_path_join(home, "plainfile");
    CHECK_INT_EQ(osr_write_file_atomic(f, "x", 1, 0600, NULL), OSR_OK);
    osr_diag_clear(&d);
    CHECK_INT_EQ(osr_mkdir_p(f, 0700, &d), OSR_EIO);
    CHECK(strstr(d.msg, "plainfile") != NULL);
    char *under = osr_path_join(f, "sub");
    osr_diag_clear(&d);
    CHECK_INT_EQ(osr_mkdir_p(under, 0700, &d), OSR_EIO);
    CHECK(strstr(d.msg, "cannot create") != NULL);
    free(under);
    free(f);
    CHECK_INT_EQ(osr_mkdir_p("", 0700, &d), OSR_EIO);
    CHECK_INT_EQ(osr_mkdir_p("/", 0700, &d), OSR_OK);
}

static void test_atomic_write_and_read(void)
{
    REQUIRE(home[0]);
    char *f = osr_path_join(home, "data.bin");
    struct osr_diag d;
    osr_diag_clear(&d);
    CHECK_INT_EQ(osr_write_file_atomic(f, "first version", 13, 0640, &d), OSR_OK);
    CHECK_INT_EQ(osr_write_file_atomic(f, "a\0b", 3, 0600, &d), OSR_OK); /* replaces */
    struct stat st;
    CHECK(stat(f, &st) == 0 && st.st_size == 3 && (st.st_mode & 0777) == 0600);
    char *data = NULL;
    size_t len = 0;
    CHECK_INT_EQ(osr_read_file(f, 3, &data, &len, &d), OSR_OK); /* exactly the cap */
    CHECK_INT_EQ(len, 3);
    CHECK(data && memcmp(data, "a\0b\0", 4) == 0); /* NUL-terminated */
    free(data);
    data = (char *)1;
    osr_diag_clear(&d);
    CHECK_INT_EQ(osr_read_file(f, 2, &data, &len, &d), OSR_ETOOBIG);
    CHECK(data == NULL);
    CHECK(strstr(d.msg, "data.bin") != NULL);

    /* Larger than one read chunk. */
    static char big[100000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + i % 26);
    CHECK_INT_EQ(osr_write_file_atomic(f, big, sizeof(big), 0600, &d), OSR_OK);
    CHECK_INT_EQ(osr_read_file(f, sizeof(big), &data, &len, &d), OSR_OK);
    CHECK(len == sizeof(big) && data && memcmp(data, big, len) == 0);
    free(data);
    CHECK_INT_EQ(osr_read_file(f, sizeof(big) - 1, &data, &len, &d), OSR_ETOOBIG);

    /* Empty file. */
    CHECK_INT_EQ(osr_write_file_atomic(f, "", 0, 0600, &d), OSR_OK);
    CHECK_INT_EQ(osr_read_file(f, 0, &data, &len, &d), OSR_OK);
    CHECK(len == 0 && data && data[0] == '\0');
    free(data);

    char *missing = osr_path_join(home, "nope");
    osr_diag_clear(&d);
    CHECK_INT_EQ(osr_read_file(missing, 10, &data, &len, &d), OSR_ENOTFOUND);
    CHECK(strstr(d.msg, "nope") != NULL);
    CHECK_INT_EQ(osr_read_file(home, 10, &data, &len, &d), OSR_EIO); /* a directory */

    /* Writing into a folder that does not exist fails with the reason. */
    char *inmissing = osr_path_join(missing, "f");
    osr_diag_clear(&d);
    CHECK_INT_EQ(osr_write_file_atomic(inmissing, "x", 1, 0600, &d), OSR_EIO);
    CHECK(strstr(d.msg, "cannot create") != NULL);
    free(inmissing);
    free(missing);
    free(f);
}

static void test_paths(void)
{
    char *p = osr_path_join("a", "b");
    CHECK_STR_EQ(p, "a/b");
    free(p);
    p = osr_path_join("a///", "b");
    CHECK_STR_EQ(p, "a/b");
    free(p);
    p = osr_path_join("/", "etc");
    CHECK_STR_EQ(p, "/etc");
    free(p);
    p = osr_path_join("", "rel");
    CHECK_STR_EQ(p, "rel");
    free(p);

    char *saved_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    char *saved_osr = getenv("OSAURUS_HOME") ? strdup(getenv("OSAURUS_HOME")) : NULL;
    setenv("OSAURUS_HOME", "/x/osr", 1);
    setenv("HOME", "/home/u", 1);
    p = osr_home_resolve("/explicit");
    CHECK_STR_EQ(p, "/explicit");
    free(p);
    p = osr_home_resolve(NULL);
    CHECK_STR_EQ(p, "/x/osr");
    free(p);
    setenv("OSAURUS_HOME", "", 1);
    p = osr_home_resolve("");
    CHECK_STR_EQ(p, "/home/u/.osaurus");
    free(p);
    unsetenv("OSAURUS_HOME");
    unsetenv("HOME");
    /* Without HOME: the user database's home (or "."), never "/.osaurus" from "". */
    p = osr_home_resolve(NULL);
    size_t plen = strlen(p);
    CHECK(plen > 9 && strcmp(p + plen - 9, "/.osaurus") == 0);
    free(p);
    if (saved_home)
        setenv("HOME", saved_home, 1);
    if (saved_osr)
        setenv("OSAURUS_HOME", saved_osr, 1);
    free(saved_home);
    free(saved_osr);
}

static void setup(void)
{
    make_home();
    CHECK(home[0] != '\0');
}

static void teardown(void)
{
    remove_home();
    struct stat st;
    CHECK(!home[0] || stat(home, &st) != 0);
}

TEST_MAIN(setup, test_defaults, test_missing_file, test_load_known_and_unknown, test_invalid,
          test_save_roundtrip, test_mkdir_p, test_atomic_write_and_read, test_paths, teardown)
