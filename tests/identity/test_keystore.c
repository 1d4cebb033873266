/* test_keystore.c - key metadata, revocations and the counter on disk, and the validator
 * context built from them. */
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "osr/config.h"
#include "osr/keystore.h"
#include "osr/osk.h"

static char home[256];

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
    snprintf(home, sizeof(home), "%s/osr-ks-XXXXXX", t && *t ? t : "/tmp");
    OSR_ASSERT(mkdtemp(home) != NULL);
}

static void write_identity_file(const char *name, const char *text)
{
    char *dir = osr_path_join(home, "identity");
    OSR_ASSERT(osr_mkdir_p(dir, 0700, NULL) == OSR_OK);
    char *p = osr_path_join(dir, name);
    OSR_ASSERT(osr_write_file_atomic(p, text, strlen(text), 0600, NULL) == OSR_OK);
    free(p);
    free(dir);
}

static uint8_t master[32];

/* Mints a key into ks and returns it (caller frees). */
static char *mint(struct osr_keystore *ks, bool agent, enum osr_osk_expiry e, int64_t now)
{
    struct osr_buf b;
    struct osr_osk_info info;
    osr_buf_init(&b, 4096);
    struct osr_osk_mint m = {
        .master_key = master,
        .agent_scoped = agent,
        .agent_index = 2,
        .label = "l/1",
        .expiry = e,
        .now = now,
        .cnt = osr_keystore_next_counter(ks),
    };
    OSR_ASSERT(osr_osk_mint(&m, &b, &info, NULL) == OSR_OK);
    OSR_ASSERT(osr_keystore_add(ks, &info) == OSR_OK);
    return osr_buf_detach(&b, NULL);
}

static enum osr_osk_status check_key(const struct osr_keystore *ks, const char *key,
                                     const char *master_addr, const char *agent_addr, int64_t now)
{
    struct osr_osk_ctx ctx = {
        .master_address = master_addr,
        .agent_addresses = &agent_addr,
        .n_agent_addresses = agent_addr ? 1 : 0,
        .now = now,
    };
    osr_keystore_fill_ctx(ks, &ctx);
    struct osr_osk_result r;
    osr_osk_verify(key, strlen(key), &ctx, &r);
    enum osr_osk_status st = r.status;
    osr_osk_result_release(&r);
    return st;
}

static void test_roundtrip_and_revocation(void)
{
    make_home();
    memset(master, 0x01, 32);
    const int64_t now = 1764633600;
    struct osr_keystore ks;
    struct osr_diag d = {0};
    REQUIRE(osr_keystore_load(home, &ks, &d) == OSR_OK); /* nothing yet: empty */
    CHECK_INT_EQ(ks.n_keys, 0);
    CHECK_INT_EQ(ks.counter, 0);
    char *k1 = mint(&ks, false, OSR_OSK_EXPIRY_30D, now);
    char *k2 = mint(&ks, false, OSR_OSK_EXPIRY_NEVER, now);
    char *k3 = mint(&ks, true, OSR_OSK_EXPIRY_1Y, now);
    char master_addr[43], agent_addr[43];
    snprintf(master_addr, sizeof(master_addr), "%s", ks.keys[0].iss);
    snprintf(agent_addr, sizeof(agent_addr), "%s", ks.keys[2].iss);
    REQUIRE(osr_keystore_save(home, &ks, &d) == OSR_OK);
    osr_keystore_release(&ks);

    /* files are 0600 and hold no key material */
    char *path = osr_path_join(home, "identity/access-keys.json");
    struct stat st;
    REQUIRE(stat(path, &st) == 0);
    CHECK_INT_EQ(st.st_mode & 0777, 0600);
    char *text = NULL;
    size_t len = 0;
    REQUIRE(osr_read_file(path, 1 << 20, &text, &len, NULL) == OSR_OK);
    CHECK(strstr(text, k1 + 30) == NULL);
    CHECK(strstr(text, "\"createdAt\":\"2025-12-02T00:00:00Z\"") != NULL ||
          strstr(text, "\"createdAt\": \"2025-12-02T00:00:00Z\"") != NULL);
    free(text);
    free(path);

    REQUIRE(osr_keystore_load(home, &ks, &d) == OSR_OK);
    CHECK_INT_EQ(ks.n_keys, 3);
    CHECK_INT_EQ(ks.counter, 3);
    CHECK_STR_EQ(ks.keys[0].label, "l/1");
    CHECK(ks.keys[0].has_expires && ks.keys[0].expires == now + 30 * 86400);
    CHECK(!ks.keys[1].has_expires);
    CHECK(ks.keys[1].expiration == OSR_OSK_EXPIRY_NEVER);
    CHECK_INT_EQ(ks.keys[2].cnt, 3);
    CHECK(check_key(&ks, k1, master_addr, agent_addr, now) == OSR_OSK_VALID);
    CHECK(check_key(&ks, k3, master_addr, agent_addr, now) == OSR_OSK_VALID);

    /* revoke one by id prefix */
    char prefix[9];
    snprintf(prefix, sizeof(prefix), "%.8s", ks.keys[0].id);
    int idx = osr_keystore_find(&ks, prefix);
    REQUIRE(idx == 0);
    CHECK(osr_keystore_find(&ks, "abc") == OSR_EINVAL);
    CHECK(osr_keystore_find(&ks, "zzzzzzzz") == OSR_ENOTFOUND);
    REQUIRE(osr_keystore_revoke(&ks, (size_t)idx) == OSR_OK);
    REQUIRE(osr_keystore_save(home, &ks, &d) == OSR_OK);
    osr_keystore_release(&ks);
    REQUIRE(osr_keystore_load(home, &ks, &d) == OSR_OK);
    CHECK(ks.keys[0].revoked);
    CHECK(check_key(&ks, k1, master_addr, agent_addr, now) == OSR_OSK_REVOKED);
    CHECK(check_key(&ks, k2, master_addr, agent_addr, now) == OSR_OSK_VALID);

    /* revoke everything the master issued so far; a later key stays valid */
    CHECK_INT_EQ(osr_keystore_revoke_all(&ks, master_addr), 1);
    char *k4 = mint(&ks, false, OSR_OSK_EXPIRY_90D, now);
    REQUIRE(osr_keystore_save(home, &ks, &d) == OSR_OK);
    osr_keystore_release(&ks);
    REQUIRE(osr_keystore_load(home, &ks, &d) == OSR_OK);
    CHECK(check_key(&ks, k2, master_addr, agent_addr, now) == OSR_OSK_REVOKED);
    CHECK(check_key(&ks, k3, master_addr, agent_addr, now) == OSR_OSK_VALID);
    CHECK(check_key(&ks, k4, master_addr, agent_addr, now) == OSR_OSK_VALID);
    CHECK_INT_EQ(ks.n_thresholds, 1);
    CHECK_INT_EQ(ks.thresholds[0].cnt, 3);
    osr_keystore_release(&ks);
    free(k1);
    free(k2);
    free(k3);
    free(k4);
    rm_tree(home);
}

static void test_damaged_files(void)
{
    make_home();
    struct osr_keystore ks;
    struct osr_diag d = {0};
    write_identity_file("access-keys.json", "{not json");
    CHECK(osr_keystore_load(home, &ks, &d) == OSR_ECORRUPT);
    CHECK(strstr(d.msg, "access-keys.json") != NULL);
    osr_keystore_release(&ks);
    write_identity_file("access-keys.json", "[{\"id\":\"x\"}]");
    CHECK(osr_keystore_load(home, &ks, &d) == OSR_ECORRUPT);
    CHECK(strstr(d.msg, "entry 0") != NULL);
    osr_keystore_release(&ks);
    write_identity_file("access-keys.json", "[]");
    write_identity_file("revocations.json", "{\"revokedKeys\":[\"nocolon\"]}");
    CHECK(osr_keystore_load(home, &ks, &d) == OSR_ECORRUPT);
    osr_keystore_release(&ks);
    write_identity_file("revocations.json",
                        "{\"revokedKeys\":[\"0xab:n1\"],\"counterThresholds\":{\"0xAB\":-1}}");
    CHECK(osr_keystore_load(home, &ks, &d) == OSR_ECORRUPT);
    osr_keystore_release(&ks);
    write_identity_file("revocations.json",
                        "{\"revokedKeys\":[\"0xab:n1\"],\"counterThresholds\":{\"0xAB\":4}}");
    write_identity_file("whitelist.json", "[\"0xCD\"]");
    write_identity_file("device-counter", "12\n");
    REQUIRE(osr_keystore_load(home, &ks, &d) == OSR_OK);
    CHECK_INT_EQ(ks.n_revoked, 1);
    CHECK_STR_EQ(ks.revoked[0].nonce, "n1");
    CHECK_STR_EQ(ks.thresholds[0].address, "0xab");
    CHECK_INT_EQ(ks.thresholds[0].cnt, 4);
    CHECK_STR_EQ(ks.whitelist[0], "0xCD");
    CHECK_INT_EQ(ks.counter, 12);
    osr_keystore_release(&ks);
    write_identity_file("device-counter", "twelve");
    CHECK(osr_keystore_load(home, &ks, &d) == OSR_ECORRUPT);
    osr_keystore_release(&ks);

    int fd = -1;
    REQUIRE(osr_keystore_lock(home, &fd, &d) == OSR_OK);
    CHECK(fd >= 0);
    osr_keystore_unlock(fd);
    rm_tree(home);
}

TEST_MAIN(test_roundtrip_and_revocation, test_damaged_files)
