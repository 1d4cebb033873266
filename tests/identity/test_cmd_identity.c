/* test_cmd_identity.c - `osaurus identity` driven through osr_cmd_identity with standard
 * input, output and error redirected to files. */
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "osr/cli.h"
#include "osr/cli_identity.h"
#include "osr/config.h"
#include "osr/masterkey.h"

#include "identity/cli_harness.h"

static void test_lifecycle(void)
{
    make_home();
    CHECK_INT_EQ(RUN_ID(NULL, "show", "--home", home), OSR_EXIT_FAILURE);
    CHECK(strstr(err_text, "identity init") != NULL);

    CHECK_INT_EQ(RUN_ID(NULL, "init", "--home", home), OSR_EXIT_OK);
    char addr[64];
    snprintf(addr, sizeof(addr), "%.63s", out_text);
    CHECK_INT_EQ(strlen(addr), 43); /* 0x + 40 + newline */
    CHECK(strncmp(addr, "0x", 2) == 0);
    CHECK_INT_EQ(RUN_ID(NULL, "init", "--home", home), OSR_EXIT_FAILURE);
    CHECK(strstr(err_text, "exists already") != NULL);

    CHECK_INT_EQ(RUN_ID(NULL, "show", "--home", home), OSR_EXIT_OK);
    CHECK(strncmp(out_text + strlen("address:  "), addr, 42) == 0);
    CHECK_INT_EQ(RUN_ID(NULL, "show", "--json", "--agent", "3", "--home", home), OSR_EXIT_OK);
    CHECK(strstr(out_text, "\"agent_index\":3") != NULL);
    CHECK(strncmp(out_text, "{\"address\":\"", 12) == 0);

    CHECK_INT_EQ(RUN_ID(NULL, "export-phrase", "--home", home), OSR_EXIT_OK);
    char phrase[512];
    snprintf(phrase, sizeof(phrase), "%.511s", out_text);
    int spaces = 0;
    for (const char *p = phrase; *p; p++)
        spaces += *p == ' ';
    CHECK_INT_EQ(spaces, 23); /* 24 words */

    /* same phrase: nothing to do */
    CHECK_INT_EQ(RUN_ID(phrase, "recover", "--home", home), OSR_EXIT_OK);
    CHECK(strstr(err_text, "already matches") != NULL);

    /* a different phrase needs --force, and the old key file is kept */
    const char *other = "legal winner thank year wave sausage worth useful legal winner thank "
                        "year wave sausage worth useful legal winner thank year wave sausage "
                        "worth title\n";
    CHECK_INT_EQ(RUN_ID(other, "recover", "--home", home), OSR_EXIT_FAILURE);
    CHECK(strstr(err_text, "--force") != NULL);
    CHECK_INT_EQ(RUN_ID(other, "recover", "--force", "--home", home), OSR_EXIT_OK);
    CHECK(strncmp(out_text, addr, 42) != 0);
    uint8_t key[32];
    REQUIRE(osr_masterkey_load(home, key, NULL) == OSR_OK);
    CHECK(key[0] == 0x7f && key[31] == 0x7f);

    /* and the first identity comes back from its phrase, in a fresh home */
    char home2[300];
    snprintf(home2, sizeof(home2), "%s/second", home);
    CHECK_INT_EQ(RUN_ID(phrase, "recover", "--home", home2), OSR_EXIT_OK);
    CHECK(strncmp(out_text, addr, 42) == 0);
    rm_tree(home);
}

static void test_errors(void)
{
    make_home();
    CHECK_INT_EQ(RUN_ID(NULL, "bogus", "--home", home), OSR_EXIT_USAGE);
    CHECK_INT_EQ(RUN_ID(NULL, "show", "--agent", "x", "--home", home), OSR_EXIT_USAGE);
    CHECK_INT_EQ(RUN_ID(NULL, "show", "--agent", "-1", "--home", home), OSR_EXIT_USAGE);
    CHECK_INT_EQ(RUN_ID(NULL, "init", "--force", "--home", home), OSR_EXIT_USAGE);
    CHECK_INT_EQ(RUN_ID(NULL, "--home"), OSR_EXIT_USAGE);
    CHECK_INT_EQ(RUN_ID(NULL, "--help"), OSR_EXIT_OK);
    CHECK(strstr(out_text, "export-phrase") != NULL);

    CHECK_INT_EQ(RUN_ID("zoo zoo zoo\n", "recover", "--home", home), OSR_EXIT_FAILURE);
    CHECK(strstr(err_text, "expected 24 words, got 3") != NULL);
    const char *bad_sum = "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo "
                          "zoo zoo zoo zoo zoo zoo zoo";
    CHECK_INT_EQ(RUN_ID(bad_sum, "recover", "--home", home), OSR_EXIT_FAILURE);
    CHECK(strstr(err_text, "checksum") != NULL);
    /* all-ones entropy is a valid phrase but not a valid secp256k1 key */
    const char *not_key = "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo "
                          "zoo zoo zoo zoo zoo zoo vote";
    CHECK_INT_EQ(RUN_ID(not_key, "recover", "--home", home), OSR_EXIT_FAILURE);
    CHECK(strstr(err_text, "usable key") != NULL);
    uint8_t key[32];
    CHECK(osr_masterkey_load(home, key, NULL) == OSR_ENOTFOUND);

    /* a key file others can read is refused by every subcommand that needs the key */
    CHECK_INT_EQ(RUN_ID(NULL, "init", "--home", home), OSR_EXIT_OK);
    char *path = osr_masterkey_path(home);
    REQUIRE(chmod(path, 0644) == 0);
    CHECK_INT_EQ(RUN_ID(NULL, "show", "--home", home), OSR_EXIT_FAILURE);
    CHECK(strstr(err_text, "chmod 600") != NULL);
    CHECK_INT_EQ(RUN_ID(NULL, "export-phrase", "--home", home), OSR_EXIT_FAILURE);
    CHECK_INT_EQ(strlen(out_text), 0);
    free(path);
    rm_tree(home);
}

TEST_MAIN(test_lifecycle, test_errors)
