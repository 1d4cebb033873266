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

static char home[256];
static char out_text[8192], err_text[8192];

static void slurp(int fd, char *buf, size_t cap)
{
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, buf, cap - 1);
    buf[n > 0 ? n : 0] = 0;
}

/* Runs `identity <args...>` with the given standard input; returns the exit code. */
static int run(const char *stdin_text, int argc, const char **args)
{
    char *argv[16];
    argv[0] = "identity";
    for (int i = 0; i < argc && i < 14; i++)
        argv[i + 1] = (char *)args[i];
    argv[argc + 1] = NULL;

    FILE *in = tmpfile(), *out = tmpfile(), *err = tmpfile();
    OSR_ASSERT(in && out && err);
    if (stdin_text)
        fputs(stdin_text, in);
    fflush(in);
    lseek(fileno(in), 0, SEEK_SET);
    fflush(stdout);
    fflush(stderr);
    int saved[3] = {dup(0), dup(1), dup(2)};
    dup2(fileno(in), 0);
    dup2(fileno(out), 1);
    dup2(fileno(err), 2);
    int rc = osr_cmd_identity(argc + 1, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved[0], 0);
    dup2(saved[1], 1);
    dup2(saved[2], 2);
    for (int i = 0; i < 3; i++)
        close(saved[i]);
    slurp(fileno(out), out_text, sizeof(out_text));
    slurp(fileno(err), err_text, sizeof(err_text));
    fclose(in);
    fclose(out);
    fclose(err);
    return rc;
}

#define RUN(input, ...)                                                                            \
    run(input, (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)),                \
        (const char *[]){__VA_ARGS__})

static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *p = osr_path_join(dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            rm_tree(p);
        else
            unlink(p);
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

static void make_home(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(home, sizeof(home), "%s/osr-cli-XXXXXX", t && *t ? t : "/tmp");
    OSR_ASSERT(mkdtemp(home) != NULL);
}

static void test_lifecycle(void)
{
    make_home();
    CHECK_INT_EQ(RUN(NULL, "show", "--home", home), OSR_EXIT_FAILURE);
    CHECK(strstr(err_text, "identity init") != NULL);

    CHECK_INT_EQ(RUN(NULL, "init", "--home", home), OSR_EXIT_OK);
    char addr[64];
    snprintf(addr, sizeof(addr), "%.63s", out_text);
    CHECK_INT_EQ(strlen(addr), 43); /* 0x + 40 + newline */
    CHECK(strncmp(addr, "0x", 2) == 0);
    CHECK_INT_EQ(RUN(NULL, "init", "--home", home), OSR_EXIT_FAILURE);
    CHECK(strstr(err_text, "exists already") != NULL);

    CHECK_INT_EQ(RUN(NULL, "show", "--home", home), OSR_EXIT_OK);
    CHECK(strncmp(out_text + strlen("address:  "), addr, 42) == 0);
    CHECK_INT_EQ(RUN(NULL, "show", "--json", "--agent", "3", "--home", home), OSR_EXIT_OK);
    CHECK(strstr(out_text, "\"agent_index\":3") != NULL);
    CHECK(strncmp(out_text, "{\"address\":\"", 12) == 0);

    CHECK_INT_EQ(RUN(NULL, "export-phrase", "--home", home), OSR_EXIT_OK);
    char phrase[512];
    snprintf(phrase, sizeof(phrase), "%.511s", out_text);
    int spaces = 0;
    for (const char *p = phrase; *p; p++)
        spaces += *p == ' ';
    CHECK_INT_EQ(spaces, 23); /* 24 words */

    /* same phrase: nothing to do */
    CHECK_INT_EQ(RUN(phrase, "recover", "--home", home), OSR_EXIT_OK);
    CHECK(strstr(err_text, "already matches") != NULL);

    /* a different phrase needs --force, and the old key file is kept */
    const char *other = "legal winner thank year wave sausage worth useful legal winner thank "
                        "year wave sausage worth useful legal winner thank year wave sausage "
                        "worth title\n";
    CHECK_INT_EQ(RUN(other, "recover", "--home", home), OSR_EXIT_FAILURE);
    CHECK(strstr(err_text, "--force") != NULL);
    CHECK_INT_EQ(RUN(other, "recover", "--force", "--home", home), OSR_EXIT_OK);
    CHECK(strncmp(out_text, addr, 42) != 0);
    uint8_t key[32];
    REQUIRE(osr_masterkey_load(home, key, NULL) == OSR_OK);
    CHECK(key[0] == 0x7f && key[31] == 0x7f);

    /* and the first identity comes back from its phrase, in a fresh home */
    char home2[300];
    snprintf(home2, sizeof(home2), "%s/second", home);
    CHECK_INT_EQ(RUN(phrase, "recover", "--home", home2), OSR_EXIT_OK);
    CHECK(strncmp(out_text, addr, 42) == 0);
    rm_tree(home);
}

static void test_errors(void)
{
    make_home();
    CHECK_INT_EQ(RUN(NULL, "bogus", "--home", home), OSR_EXIT_USAGE);
    CHECK_INT_EQ(RUN(NULL, "show", "--agent", "x", "--home", home), OSR_EXIT_USAGE);
    CHECK_INT_EQ(RUN(NULL, "show", "--agent", "-1", "--home", home), OSR_EXIT_USAGE);
    CHECK_INT_EQ(RUN(NULL, "init", "--force", "--home", home), OSR_EXIT_USAGE);
    CHECK_INT_EQ(RUN(NULL, "--home"), OSR_EXIT_USAGE);
    CHECK_INT_EQ(RUN(NULL, "--help"), OSR_EXIT_OK);
    CHECK(strstr(out_text, "export-phrase") != NULL);

    CHECK_INT_EQ(RUN("zoo zoo zoo\n", "recover", "--home", home), OSR_EXIT_FAILURE);
    CHECK(strstr(err_text, "expected 24 words, got 3") != NULL);
    const char *bad_sum = "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo "
                          "zoo zoo zoo zoo zoo zoo zoo";
    CHECK_INT_EQ(RUN(bad_sum, "recover", "--home", home), OSR_EXIT_FAILURE);
    CHECK(strstr(err_text, "checksum") != NULL);
    /* all-ones entropy is a valid phrase but not a valid secp256k1 key */
    const char *not_key = "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo "
                          "zoo zoo zoo zoo zoo zoo vote";
    CHECK_INT_EQ(RUN(not_key, "recover", "--home", home), OSR_EXIT_FAILURE);
    CHECK(strstr(err_text, "usable key") != NULL);
    uint8_t key[32];
    CHECK(osr_masterkey_load(home, key, NULL) == OSR_ENOTFOUND);

    /* a key file others can read is refused by every subcommand that needs the key */
    CHECK_INT_EQ(RUN(NULL, "init", "--home", home), OSR_EXIT_OK);
    char *path = osr_masterkey_path(home);
    REQUIRE(chmod(path, 0644) == 0);
    CHECK_INT_EQ(RUN(NULL, "show", "--home", home), OSR_EXIT_FAILURE);
    CHECK(strstr(err_text, "chmod 600") != NULL);
    CHECK_INT_EQ(RUN(NULL, "export-phrase", "--home", home), OSR_EXIT_FAILURE);
    CHECK_INT_EQ(strlen(out_text), 0);
    free(path);
    rm_tree(home);
}

TEST_MAIN(test_lifecycle, test_errors)
