/* test_osec.c - the .osec envelope: layout, round trip, tampering, truncation, twins, blobs. */
#include "check.h"
#include "osr/osec.h"
#include "store_util.h"

static const uint8_t key[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void t_layout_and_roundtrip(void)
{
    const char *msg = "attack at dawn";
    struct osr_buf env, pt;
    osr_buf_init(&env, 1 << 20);
    osr_buf_init(&pt, 1 << 20);
    REQUIRE(osr_osec_seal(key, msg, strlen(msg), &env, NULL) == OSR_OK);
    CHECK_INT_EQ(env.len, strlen(msg) + 29);
    CHECK_INT_EQ((unsigned char)env.data[0], 0x01);
    CHECK(memmem(env.data, env.len, msg, strlen(msg)) == NULL);
    REQUIRE(osr_osec_open(key, env.data, env.len, &pt, NULL) == OSR_OK);
    CHECK_STR_EQ(osr_buf_str(&pt), msg);
    /* two seals of the same text differ (fresh nonce) */
    struct osr_buf env2;
    osr_buf_init(&env2, 1 << 20);
    osr_osec_seal(key, msg, strlen(msg), &env2, NULL);
    CHECK(memcmp(env.data + 1, env2.data + 1, 12) != 0);
    /* empty plaintext is allowed */
    osr_buf_reset(&env2);
    osr_buf_reset(&pt);
    CHECK(osr_osec_seal(key, "", 0, &env2, NULL) == OSR_OK);
    CHECK_INT_EQ(env2.len, 29);
    CHECK(osr_osec_open(key, env2.data, env2.len, &pt, NULL) == OSR_OK);
    CHECK_INT_EQ(pt.len, 0);
    osr_buf_release(&env2);
    osr_buf_release(&env);
    osr_buf_release(&pt);
}

/* A vector built by hand from the layout: AES-256-GCM of "osaurus" under key, nonce
 * 000102030405060708090a0b, computed with the OpenSSL command line's one-shot primitives
 * through EVP here, then checked byte by byte against the envelope layout. */
static void t_known_layout(void)
{
    uint8_t nonce[12];
    for (int i = 0; i < 12; i++)
        nonce[i] = (uint8_t)i;
    uint8_t ct[7], tag[16];
    int l = 0, f = 0;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce);
    EVP_EncryptUpdate(c, ct, &l, (const uint8_t *)"osaurus", 7);
    EVP_EncryptFinal_ex(c, ct + l, &f);
    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag);
    EVP_CIPHER_CTX_free(c);
    uint8_t env[1 + 12 + 7 + 16];
    env[0] = 1;
    memcpy(env + 1, nonce, 12);
    memcpy(env + 13, ct, 7);
    memcpy(env + 20, tag, 16);
    struct osr_buf pt;
    osr_buf_init(&pt, 64);
    CHECK(osr_osec_open(key, env, sizeof(env), &pt, NULL) == OSR_OK);
    CHECK_STR_EQ(osr_buf_str(&pt), "osaurus");
    osr_buf_release(&pt);
}

static void t_tamper_and_truncate(void)
{
    const char *msg = "the quick brown fox jumps over the lazy dog";
    struct osr_buf env, pt;
    osr_buf_init(&env, 1 << 20);
    osr_buf_init(&pt, 1 << 20);
    REQUIRE(osr_osec_seal(key, msg, strlen(msg), &env, NULL) == OSR_OK);
    struct osr_diag d = {0};
    /* every single-bit flip anywhere is caught */
    int caught = 0;
    for (size_t i = 0; i < env.len; i++) {
        env.data[i] ^= 0x04;
        int rc = osr_osec_open(key, env.data, env.len, &pt, &d);
        if (rc != OSR_OK && pt.len == 0)
            caught++;
        env.data[i] ^= 0x04;
    }
    CHECK_INT_EQ(caught, env.len);
    /* every truncation is caught */
    caught = 0;
    for (size_t n = 0; n < env.len; n++)
        if (osr_osec_open(key, env.data, n, &pt, &d) != OSR_OK && pt.len == 0)
            caught++;
    CHECK_INT_EQ(caught, env.len);
    CHECK_INT_EQ(osr_osec_open(key, env.data, 10, &pt, &d), OSR_ECORRUPT);
    CHECK(strstr(d.msg, "truncated") != NULL);
    env.data[0] = 2;
    CHECK_INT_EQ(osr_osec_open(key, env.data, env.len, &pt, &d), OSR_EUNSUPPORTED);
    env.data[0] = 1;
    uint8_t other[32] = {0};
    CHECK_INT_EQ(osr_osec_open(other, env.data, env.len, &pt, &d), OSR_EAUTH);
    /* the cap is honoured */
    struct osr_buf small;
    osr_buf_init(&small, 8);
    CHECK_INT_EQ(osr_osec_open(key, env.data, env.len, &small, &d), OSR_ETOOBIG);
    osr_buf_release(&small);
    osr_buf_release(&env);
    osr_buf_release(&pt);
}

static void t_files_and_twins(void)
{
    char *home = scratch_home("osec");
    char *p = osr_path_join(home, "notes.json");
    char *ps = osr_path_join(home, "notes.json.osec");
    struct osr_diag d = {0};
    REQUIRE(osr_osec_write_file(p, key, "{\"secret\":1}", 12, &d) == OSR_OK);
    CHECK(access(p, F_OK) != 0);
    CHECK(access(ps, F_OK) == 0);
    CHECK_INT_EQ(grep_tree(home, "secret", NULL), 0);
    char *out = NULL;
    size_t len = 0;
    CHECK(osr_osec_read_file(p, key, 1024, &out, &len, &d) == OSR_OK);
    CHECK(out && len == 12 && memcmp(out, "{\"secret\":1}", 12) == 0);
    free(out);
    CHECK_INT_EQ(osr_osec_read_file(p, NULL, 1024, &out, &len, &d), OSR_EAUTH);
    /* a plaintext twin wins */
    REQUIRE(osr_osec_write_file(p, NULL, "plain", 5, &d) == OSR_OK);
    CHECK(osr_osec_read_file(p, key, 1024, &out, &len, &d) == OSR_OK);
    CHECK_STR_EQ(out, "plain");
    free(out);
    unlink(p);
    /* a truncated .osec file is a clear error */
    CHECK(truncate(ps, 20) == 0);
    CHECK_INT_EQ(osr_osec_read_file(p, key, 1024, &out, &len, &d), OSR_ECORRUPT);
    CHECK(strstr(d.msg, "notes.json.osec") != NULL);
    CHECK(out == NULL);
    char *missing = osr_path_join(home, "nope");
    CHECK_INT_EQ(osr_osec_read_file(missing, key, 1024, &out, &len, &d), OSR_ENOTFOUND);
    free(missing);
    rm_rf(home);
    free(ps);
    free(p);
    free(home);
}

static void t_blobs(void)
{
    char *home = scratch_home("blob");
    char *dir = osr_path_join(home, "chat-history/blobs");
    size_t n = 40000;
    char *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)('a' + i % 26);
    memcpy(data + 100, "BLOBMARKER", 10);
    char sha[65];
    struct osr_diag d = {0};
    REQUIRE(osr_osec_blob_put(dir, key, data, n, sha, &d) == OSR_OK);
    CHECK_INT_EQ(strlen(sha), 64);
    CHECK_INT_EQ(count_files(dir), 1);
    CHECK(osr_osec_blob_put(dir, key, data, n, sha, &d) == OSR_OK); /* dedup */
    CHECK_INT_EQ(count_files(dir), 1);
    CHECK_INT_EQ(grep_tree(home, "BLOBMARKER", NULL), 0);
    char *out = NULL;
    size_t len = 0;
    REQUIRE(osr_osec_blob_get(dir, key, sha, 1 << 20, &out, &len, &d) == OSR_OK);
    CHECK(len == n && memcmp(out, data, n) == 0);
    free(out);
    CHECK_INT_EQ(osr_osec_blob_get(dir, key, "../../etc/passwd", 1 << 20, &out, &len, &d),
                 OSR_EINVAL);
    CHECK_INT_EQ(osr_osec_blob_get(dir, key, sha, 100, &out, &len, &d), OSR_ETOOBIG);
    /* a plain blob whose bytes no longer match its name is refused */
    char fake[65];
    memset(fake, 'a', 64);
    fake[64] = 0;
    char *fp = osr_path_join(dir, fake);
    FILE *f = fopen(fp, "w");
    fputs("not matching", f);
    fclose(f);
    CHECK_INT_EQ(osr_osec_blob_get(dir, key, fake, 1 << 20, &out, &len, &d), OSR_ECORRUPT);
    free(fp);
    free(data);
    rm_rf(home);
    free(dir);
    free(home);
}

TEST_MAIN(t_layout_and_roundtrip, t_known_layout, t_tamper_and_truncate, t_files_and_twins, t_blobs)
