/* test_cmd_keys.c - `osaurus keys create|list|revoke|verify` end to end on a temp home. */
#include "check.h"

#include "identity/cli_harness.h"

static void test_keys_lifecycle(void)
{
    make_home();
    /* no identity yet */
    CHECK_INT_EQ(RUN_KEYS(NULL, "create", "--home", home), OSR_EXIT_FAILURE);
    CHECK(strstr(err_text, "identity init") != NULL);
    REQUIRE(RUN_ID(NULL, "init", "--home", home) == OSR_EXIT_OK);
    char master_addr[64];
    snprintf(master_addr, sizeof(master_addr), "%.42s", out_text);

    CHECK_INT_EQ(RUN_KEYS(NULL, "list", "--home", home), OSR_EXIT_OK);
    CHECK(strstr(err_text, "no access keys") != NULL);

    REQUIRE(RUN_KEYS(NULL, "create", "--label", "laptop", "--expires", "30d", "--home", home) ==
            OSR_EXIT_OK);
    char key1[1024];
    snprintf(key1, sizeof(key1), "%.1023s", out_text);
    CHECK(strncmp(key1, "osk-v1.", 7) == 0);
    CHECK(strstr(err_text, "shown only this once") != NULL);

    REQUIRE(RUN_KEYS(NULL, "create", "--agent", "4", "--expires", "never", "--home", home) ==
            OSR_EXIT_OK);
    char key2[1024];
    snprintf(key2, sizeof(key2), "%.1023s", out_text);

    /* list: metadata only, never the key */
    REQUIRE(RUN_KEYS(NULL, "list", "--json", "--home", home) == OSR_EXIT_OK);
    CHECK(strstr(out_text, "\"label\":\"laptop\"") != NULL);
    CHECK(strstr(out_text, "\"expiration\":\"30d\"") != NULL);
    CHECK(strstr(out_text, "\"expiration\":\"never\"") != NULL);
    CHECK(strstr(out_text, "\"status\":\"active\"") != NULL);
    CHECK(strstr(out_text, key1 + 40) == NULL);
    char id1[9];
    const char *idp = strstr(out_text, "\"id\":\"");
    REQUIRE(idp != NULL);
    snprintf(id1, sizeof(id1), "%.8s", idp + 6);
    REQUIRE(RUN_KEYS(NULL, "list", "--home", home) == OSR_EXIT_OK);
    CHECK(strstr(out_text, id1) != NULL);
    CHECK(strstr(out_text, "laptop") != NULL);

    /* verify both, then revoke the first */
    CHECK_INT_EQ(RUN_KEYS(key1, "verify", "--home", home), OSR_EXIT_OK);
    CHECK(strstr(out_text, "master-scoped") != NULL);
    CHECK(strstr(out_text, master_addr) != NULL);
    CHECK_INT_EQ(RUN_KEYS(key2, "verify", "--home", home), OSR_EXIT_OK);
    CHECK(strstr(out_text, "agent-scoped") != NULL);
    CHECK_INT_EQ(RUN_KEYS("osk-v1.nope", "verify", "--home", home), OSR_EXIT_FAILURE);
    CHECK_STR_EQ(out_text, "invalid: Unrecognized token format\n");

    CHECK_INT_EQ(RUN_KEYS(NULL, "revoke", id1, "--home", home), OSR_EXIT_OK);
    CHECK_INT_EQ(RUN_KEYS(key1, "verify", "--home", home), OSR_EXIT_FAILURE);
    CHECK_STR_EQ(out_text, "revoked\n");
    CHECK_INT_EQ(RUN_KEYS(key2, "verify", "--home", home), OSR_EXIT_OK);
    REQUIRE(RUN_KEYS(NULL, "list", "--json", "--home", home) == OSR_EXIT_OK);
    CHECK(strstr(out_text, "\"status\":\"revoked\"") != NULL);

    /* revoke everything agent 4 issued so far */
    CHECK_INT_EQ(RUN_KEYS(NULL, "revoke", "--all", "--agent", "4", "--home", home), OSR_EXIT_OK);
    CHECK_INT_EQ(RUN_KEYS(key2, "verify", "--home", home), OSR_EXIT_FAILURE);
    CHECK_STR_EQ(out_text, "revoked\n");
    /* a new master key after that is fine */
    REQUIRE(RUN_KEYS(NULL, "create", "--home", home) == OSR_EXIT_OK);
    char key3[1024];
    snprintf(key3, sizeof(key3), "%.1023s", out_text);
    CHECK_INT_EQ(RUN_KEYS(key3, "verify", "--home", home), OSR_EXIT_OK);
    rm_tree(home);
}

static void test_keys_usage(void)
{
    make_home();
    CHECK_INT_EQ(RUN_KEYS(NULL, "create", "--expires", "2w", "--home", home), OSR_EXIT_USAGE);
    CHECK_INT_EQ(RUN_KEYS(NULL, "list", "--label", "x", "--home", home), OSR_EXIT_USAGE);
    CHECK_INT_EQ(RUN_KEYS(NULL, "revoke", "--home", home), OSR_EXIT_USAGE);
    CHECK_INT_EQ(RUN_KEYS(NULL, "revoke", "abcd", "--all", "--home", home), OSR_EXIT_USAGE);
    CHECK_INT_EQ(RUN_KEYS(NULL, "frobnicate", "--home", home), OSR_EXIT_USAGE);
    CHECK_INT_EQ(RUN_KEYS(NULL, "--help"), OSR_EXIT_OK);
    CHECK(strstr(out_text, "revoke --all") != NULL);
    REQUIRE(RUN_ID(NULL, "init", "--home", home) == OSR_EXIT_OK);
    CHECK_INT_EQ(RUN_KEYS(NULL, "revoke", "abcdef12", "--home", home), OSR_EXIT_FAILURE);
    CHECK(strstr(err_text, "no key with id") != NULL);
    CHECK_INT_EQ(RUN_KEYS(NULL, "revoke", "abc", "--home", home), OSR_EXIT_FAILURE);
    rm_tree(home);
}

TEST_MAIN(test_keys_lifecycle, test_keys_usage)
