/* test_agents.c - the agents store: create/get/update/delete, unknown fields kept, validation
 * messages, malformed files skipped, the built-in agent listed and not deletable. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "osr/agents.h"
#include "osr/config.h"
#include "osr/json.h"

static char g_home[256];

static struct osr_agents *fresh_store(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(g_home, sizeof(g_home), "%s/osr-agents-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_home))
        return NULL;
    return osr_agents_open(g_home);
}

static struct json_object *parse(const char *s)
{
    struct json_object *o = NULL;
    struct osr_diag d;
    osr_diag_clear(&d);
    if (osr_json_parse(s, strlen(s), &o, &d) != OSR_OK)
        return NULL;
    return o;
}

static const char *str_of(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !v)
        return NULL;
    return json_object_get_string(v);
}

static void cleanup(void)
{
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_home);
    CHECK(system(cmd) == 0);
}

static void test_crud(void)
{
    struct osr_agents *st = fresh_store();
    REQUIRE(st != NULL);
    struct osr_diag d;
    osr_diag_clear(&d);
    struct json_object *list = NULL;
    REQUIRE(osr_agents_list(st, &list, &d) == OSR_OK);
    CHECK_INT_EQ(json_object_array_length(list), 1);
    CHECK_STR_EQ(str_of(json_object_array_get_idx(list, 0), "id"), OSR_AGENT_DEFAULT_ID);
    json_object_put(list);

    struct json_object *fields = parse("{\"name\":\"Coder\",\"defaultModel\":\"m1\","
                                       "\"temperature\":0.5,\"maxTokens\":100,"
                                       "\"futureField\":{\"x\":1}}");
    struct json_object *a = NULL;
    REQUIRE(osr_agents_create(st, fields, &a, &d) == OSR_OK);
    json_object_put(fields);
    char id[64];
    snprintf(id, sizeof(id), "%s", str_of(a, "id"));
    CHECK(strcmp(id, OSR_AGENT_DEFAULT_ID) != 0);
    CHECK_STR_EQ(str_of(a, "name"), "Coder");
    json_object_put(a);

    /* the file is there, 0600 in a 0700 folder */
    char path[512];
    snprintf(path, sizeof(path), "%s/agents/%s.json", g_home, id);
    struct stat sb;
    REQUIRE(stat(path, &sb) == 0);
    CHECK_INT_EQ(sb.st_mode & 0777, 0600);
    snprintf(path, sizeof(path), "%s/agents", g_home);
    REQUIRE(stat(path, &sb) == 0);
    CHECK_INT_EQ(sb.st_mode & 0777, 0700);

    struct json_object *got = NULL;
    REQUIRE(osr_agents_get(st, id, &got, &d) == OSR_OK);
    CHECK_STR_EQ(str_of(got, "defaultModel"), "m1");
    json_object_put(got);
    char upper[64];
    snprintf(upper, sizeof(upper), "%s", id);
    for (char *c = upper; *c; c++)
        if (*c >= 'a' && *c <= 'f')
            *c = (char)(*c - 'a' + 'A');
    REQUIRE(osr_agents_get(st, upper, &got, &d) == OSR_OK);
    CHECK_STR_EQ(str_of(got, "id"), id);
    json_object_put(got);

    fields = parse("{\"name\":\"Coder 2\",\"description\":null,\"id\":\"x\"}");
    REQUIRE(osr_agents_update(st, id, fields, &got, &d) == OSR_OK);
    json_object_put(fields);
    CHECK_STR_EQ(str_of(got, "name"), "Coder 2");
    CHECK_STR_EQ(str_of(got, "id"), id);
    CHECK(str_of(got, "description") == NULL);
    struct json_object *future = NULL;
    CHECK(json_object_object_get_ex(got, "futureField", &future) && future);
    json_object_put(got);

    /* unknown fields survive a reload from disk */
    REQUIRE(osr_agents_get(st, id, &got, &d) == OSR_OK);
    CHECK(json_object_object_get_ex(got, "futureField", &future) && future);
    json_object_put(got);

    REQUIRE(osr_agents_list(st, &list, &d) == OSR_OK);
    CHECK_INT_EQ(json_object_array_length(list), 2);
    CHECK_STR_EQ(str_of(json_object_array_get_idx(list, 0), "id"), OSR_AGENT_DEFAULT_ID);
    CHECK_STR_EQ(str_of(json_object_array_get_idx(list, 1), "id"), id);
    json_object_put(list);

    CHECK_INT_EQ(osr_agents_delete(st, id, &d), OSR_OK);
    CHECK_INT_EQ(osr_agents_delete(st, id, &d), OSR_ENOTFOUND);
    CHECK_INT_EQ(osr_agents_get(st, id, &got, &d), OSR_ENOTFOUND);
    CHECK_INT_EQ(osr_agents_get(st, "not-a-uuid", &got, &d), OSR_ENOTFOUND);
    osr_agents_free(st);
    cleanup();
}

static void expect_invalid(struct osr_agents *st, const char *json, const char *msg_part)
{
    struct osr_diag d;
    osr_diag_clear(&d);
    struct json_object *f = parse(json);
    REQUIRE(f != NULL);
    CHECK_INT_EQ(osr_agents_create(st, f, NULL, &d), OSR_EINVAL);
    CHECK(strstr(d.msg, msg_part) != NULL);
    if (!strstr(d.msg, msg_part))
        fprintf(stderr, "  message was: %s\n", d.msg);
    json_object_put(f);
}

static void test_validation(void)
{
    struct osr_agents *st = fresh_store();
    REQUIRE(st != NULL);
    expect_invalid(st, "{}", "name");
    expect_invalid(st, "{\"name\":\"\"}", "name");
    expect_invalid(st, "{\"name\":\"a\",\"temperature\":3}", "temperature");
    expect_invalid(st, "{\"name\":\"a\",\"temperature\":-0.1}", "temperature");
    expect_invalid(st, "{\"name\":\"a\",\"maxTokens\":0}", "maxTokens");
    expect_invalid(st, "{\"name\":\"a\",\"systemPrompt\":5}", "systemPrompt");
    expect_invalid(st, "{\"name\":\"a\",\"enabledTools\":[]}", "enabledTools");
    struct osr_diag d;
    osr_diag_clear(&d);
    struct json_object *list = NULL;
    REQUIRE(osr_agents_list(st, &list, &d) == OSR_OK);
    CHECK_INT_EQ(json_object_array_length(list), 1); /* nothing was written */
    json_object_put(list);
    osr_agents_free(st);
    cleanup();
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    fputs(text, f);
    fclose(f);
}

static void test_malformed_and_builtin(void)
{
    struct osr_agents *st = fresh_store();
    REQUIRE(st != NULL);
    char path[512];
    snprintf(path, sizeof(path), "%s/agents", g_home);
    REQUIRE(mkdir(path, 0700) == 0);
    snprintf(path, sizeof(path), "%s/agents/11111111-1111-4111-8111-111111111111.json", g_home);
    write_text(path, "{not json");
    snprintf(path, sizeof(path), "%s/agents/22222222-2222-4222-8222-222222222222.json", g_home);
    write_text(path, "{\"id\":\"22222222-2222-4222-8222-222222222222\",\"temperature\":9}");
    snprintf(path, sizeof(path), "%s/agents/33333333-3333-4333-8333-333333333333.json", g_home);
    write_text(path, "{\"id\":\"33333333-3333-4333-8333-333333333333\",\"name\":\"ok\"}");
    struct osr_diag d;
    osr_diag_clear(&d);
    struct json_object *list = NULL;
    REQUIRE(osr_agents_list(st, &list, &d) == OSR_OK);
    CHECK_INT_EQ(json_object_array_length(list), 2);
    CHECK_STR_EQ(str_of(json_object_array_get_idx(list, 1), "name"), "ok");
    json_object_put(list);
    struct json_object *got = NULL;
    CHECK_INT_EQ(osr_agents_get(st, "11111111-1111-4111-8111-111111111111", &got, &d),
                 OSR_ENOTFOUND);

    CHECK_INT_EQ(osr_agents_delete(st, OSR_AGENT_DEFAULT_ID, &d), OSR_EPERM);
    CHECK(strstr(d.msg, "built-in") != NULL);
    REQUIRE(osr_agents_get(st, OSR_AGENT_DEFAULT_ID, &got, &d) == OSR_OK);
    struct json_object *b = NULL;
    CHECK(json_object_object_get_ex(got, "isBuiltIn", &b) && json_object_get_boolean(b));
    json_object_put(got);
    /* updating the built-in writes a file that then overrides it; it stays built-in */
    struct json_object *f = parse("{\"systemPrompt\":\"be brief\",\"isBuiltIn\":false}");
    REQUIRE(osr_agents_update(st, OSR_AGENT_DEFAULT_ID, f, &got, &d) == OSR_OK);
    json_object_put(f);
    json_object_put(got);
    REQUIRE(osr_agents_get(st, OSR_AGENT_DEFAULT_ID, &got, &d) == OSR_OK);
    CHECK_STR_EQ(str_of(got, "systemPrompt"), "be brief");
    CHECK(json_object_object_get_ex(got, "isBuiltIn", &b) && json_object_get_boolean(b));
    json_object_put(got);
    osr_agents_free(st);
    cleanup();
}

static void *create_many(void *arg)
{
    struct osr_agents *st = arg;
    for (int i = 0; i < 10; i++) {
        struct json_object *f = parse("{\"name\":\"T\"}");
        struct osr_diag d;
        osr_diag_clear(&d);
        if (!f || osr_agents_create(st, f, NULL, &d) != OSR_OK)
            fprintf(stderr, "  create failed: %s\n", d.msg);
        json_object_put(f);
        struct json_object *list = NULL;
        if (osr_agents_list(st, &list, &d) == OSR_OK)
            json_object_put(list);
    }
    return NULL;
}

static void test_threads(void)
{
    struct osr_agents *st = fresh_store();
    REQUIRE(st != NULL);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        REQUIRE(pthread_create(&t[i], NULL, create_many, st) == 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    struct osr_diag d;
    osr_diag_clear(&d);
    struct json_object *list = NULL;
    REQUIRE(osr_agents_list(st, &list, &d) == OSR_OK);
    CHECK_INT_EQ(json_object_array_length(list), 41);
    json_object_put(list);
    osr_agents_free(st);
    cleanup();
}

TEST_MAIN(test_crud, test_validation, test_malformed_and_builtin, test_threads)
