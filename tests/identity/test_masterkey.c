/* test_masterkey.c - the master key file: create, load, permissions, replace. */
#include "check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "osr/config.h"
#include "osr/masterkey.h"

static char home[256];

static void make_home(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(home, sizeof(home), "%s/osr-mk-XXXXXX", t && *t ? t : "/tmp");
    OSR_ASSERT(mkdtemp(home) != NULL);
}

static void write_text(const char *path, const char *text, unsigned mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    OSR_ASSERT(fd >= 0);
    OSR_ASSERT(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    OSR_ASSERT(chmod(path, mode) == 0);
}

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

static void test_create_and_load(void)
{
    make_home();
    uint8_t key[32], again[32];
    struct osr_diag d = {0};
    CHECK(osr_masterkey_load(home, key, &d) == OSR_ENOTFOUND);
    REQUIRE(osr_masterkey_create(home, key, &d) == OSR_OK);
    REQUIRE(osr_masterkey_load(home, again, &d) == OSR_OK);
    CHECK(memcmp(key, again, 32) == 0);

    char *path = osr_masterkey_path(home);
    struct stat st;
    REQUIRE(stat(path, &st) == 0);
    CHECK_INT_EQ(st.st_mode & 0777, 0600);
    CHECK_INT_EQ(st.st_size, 65);
    char *dir = osr_path_join(home, "identity");
    REQUIRE(stat(dir, &st) == 0);
    CHECK_INT_EQ(st.st_mode & 0777, 0700);

    /* never overwritten by a second create */
    uint8_t other[32];
    CHECK(osr_masterkey_create(home, other, &d) == OSR_EEXIST);
    REQUIRE(osr_masterkey_load(home, again, &d) == OSR_OK);
    CHECK(memcmp(key, again, 32) == 0);
    /* no temp files left behind */
    DIR *dd = opendir(dir);
    int entries = 0;
    struct dirent *e;
    while (dd && (e = readdir(dd)) != NULL)
        entries += e->d_name[0] != '.';
    if (dd)
        closedir(dd);
    CHECK_INT_EQ(entries, 1);
    OPENSSL_cleanse(key, 32);
    free(dir);
    free(path);
    rm_tree(home);
}

static void test_permissions(void)
{
    make_home();
    uint8_t key[32];
    struct osr_diag d = {0};
    REQUIRE(osr_masterkey_create(home, key, &d) == OSR_OK);
    char *path = osr_masterkey_path(home);

    REQUIRE(chmod(path, 0644) == 0);
    CHECK(osr_masterkey_load(home, key, &d) == OSR_EPERM);
    CHECK(strstr(d.msg, "chmod 600") != NULL);
    CHECK(strstr(d.msg, "0644") != NULL);
    REQUIRE(chmod(path, 0640) == 0);
    CHECK(osr_masterkey_load(home, key, &d) == OSR_EPERM);
    REQUIRE(chmod(path, 0604) == 0);
    CHECK(osr_masterkey_load(home, key, &d) == OSR_EPERM);
    REQUIRE(chmod(path, 0400) == 0);
    CHECK(osr_masterkey_load(home, key, &d) == OSR_OK);
    REQUIRE(chmod(path, 0600) == 0);

    /* a symbolic link is refused even when it points at a good key */
    char *real = osr_path_join(home, "elsewhere.key");
    REQUIRE(rename(path, real) == 0);
    REQUIRE(symlink(real, path) == 0);
    CHECK(osr_masterkey_load(home, key, &d) == OSR_EPERM);
    CHECK(strstr(d.msg, "symbolic link") != NULL);
    free(real);
    free(path);
    rm_tree(home);
}

static void test_bad_content(void)
{
    make_home();
    uint8_t key[32];
    struct osr_diag d = {0};
    char *dir = osr_path_join(home, "identity");
    REQUIRE(osr_mkdir_p(dir, 0700, &d) == OSR_OK);
    char *path = osr_masterkey_path(home);

    write_text(path, "not hex\n", 0600);
    CHECK(osr_masterkey_load(home, key, &d) == OSR_ECORRUPT);
    write_text(path, "0000000000000000000000000000000000000000000000000000000000000000\n", 0600);
    CHECK(osr_masterkey_load(home, key, &d) == OSR_ECORRUPT);
    CHECK(strstr(d.msg, "secp256k1") != NULL);
    write_text(path, "0101010101010101010101010101010101010101010101010101010101010101", 0600);
    CHECK(osr_masterkey_load(home, key, &d) == OSR_OK);
    CHECK(key[0] == 1 && key[31] == 1);
    write_text(path, "01010101010101010101010101010101010101010101010101010101010101010", 0600);
    CHECK(osr_masterkey_load(home, key, &d) == OSR_ECORRUPT);

    uint8_t zero[32] = {0};
    CHECK(osr_masterkey_store(home, zero, true, &d) == OSR_EINVAL);
    free(path);
    free(dir);
    rm_tree(home);
}

static void test_replace_keeps_old(void)
{
    make_home();
    uint8_t a[32], b[32], got[32];
    struct osr_diag d = {0};
    memset(a, 0x11, 32);
    memset(b, 0x22, 32);
    REQUIRE(osr_masterkey_store(home, a, false, &d) == OSR_OK);
    CHECK(osr_masterkey_store(home, b, false, &d) == OSR_EEXIST);
    REQUIRE(osr_masterkey_store(home, b, true, &d) == OSR_OK);
    REQUIRE(osr_masterkey_load(home, got, &d) == OSR_OK);
    CHECK(memcmp(got, b, 32) == 0);

    /* the old key was moved aside, not deleted */
    char *dir = osr_path_join(home, "identity");
    DIR *dd = opendir(dir);
    REQUIRE(dd != NULL);
    struct dirent *e;
    int found = 0;
    while ((e = readdir(dd)) != NULL) {
        if (strncmp(e->d_name, "master.key.replaced-", 20) != 0)
            continue;
        char *p = osr_path_join(dir, e->d_name);
        char *text = NULL;
        size_t len = 0;
        if (osr_read_file(p, 1024, &text, &len, &d) == OSR_OK)
            found += strncmp(text, "1111111111", 10) == 0;
        free(text);
        free(p);
    }
    closedir(dd);
    CHECK_INT_EQ(found, 1);
    free(dir);
    rm_tree(home);
}

TEST_MAIN(test_create_and_load, test_permissions, test_bad_content, test_replace_keeps_old)
