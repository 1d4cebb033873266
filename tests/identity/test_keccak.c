/* test_keccak.c - Keccak-256 known answers.
 *
 * Vectors: the empty string, "abc" and the pangram are the widely published Keccak-256
 * (Ethereum) values; the long patterned inputs straddling the 136-byte rate were computed
 * with an independent Keccak implementation (pycryptodome) and written here as constants.
 * The same patterned inputs are also hashed with the FIPS 202 padding byte and compared with
 * SHA3-256 values from Python's hashlib, which checks the permutation a second way.
 */
#include "check.h"

#include "identity/keccak.c"

static void hex_of(char out[65], const uint8_t d[32])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[64] = 0;
}

static void check_oneshot(const void *p, size_t n, const char *want)
{
    uint8_t d[32];
    char hex[65];
    osr_keccak256(d, p, n);
    hex_of(hex, d);
    CHECK_STR_EQ(hex, want);
}

static void test_short_vectors(void)
{
    check_oneshot("", 0, "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
    check_oneshot(NULL, 0, "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
    check_oneshot("abc", 3, "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
    const char *fox = "The quick brown fox jumps over the lazy dog";
    check_oneshot(fox, strlen(fox),
                  "4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15");
}

static const struct {
    size_t n;
    const char *keccak;
    const char *sha3;
} long_vectors[] = {
    {135, "00ef96af9cf4b24c7f269d922294444a197d0a33638c2e56634c57e892103a8f",
     "d9dcf1f98e49a79b0643a9e68fef48079ff8777c5e7e7f93469ded65f192ac71"},
    {136, "742061bcad767ed4c4f5883b1dcb1aad11afdcc140dc469d953759b127b9f9ed",
     "743bd32e775ac7387a57d4d574c89ddef5ebcb08bb5cc6b88c55a27b5035cc45"},
    {137, "e3371f61e770abf254c34239c3b0099ad90594507415bc81dd0a10b9692bbf2a",
     "01d47e8d6dce6e3dcbf1baa6f845b6ace4ef74bd17da8176ecc49bc35dbe5d21"},
    {272, "ac141fd7b0a0ffcd2e967254d508da3ec616596493c36fa304425647d90e6de5",
     "ddeb5151c079739970e780e6257d0c4d52d83bf82c6aa8d47d5195530b5d5f4b"},
    {1000, "80cdc8dd52cbb3dbaea8f383209893fa2bb52efbd5aedbb4b26dcfe307fcdc9b",
     "bd8b4d76041e0135e53fab1aaf425c7b1c129d8878ffb64cc31230ccafd7dc7c"},
};

static void pattern(uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)((i * 7 + 3) & 0xff);
}

static void test_rate_boundaries(void)
{
    uint8_t b[1000], d[32];
    char hex[65];
    for (size_t v = 0; v < sizeof(long_vectors) / sizeof(long_vectors[0]); v++) {
        pattern(b, long_vectors[v].n);
        check_oneshot(b, long_vectors[v].n, long_vectors[v].keccak);

        struct osr_keccak k;
        osr_keccak256_init(&k);
        k.pad = 0x06; /* FIPS 202 SHA3-256: same permutation, different padding */
        osr_keccak256_update(&k, b, long_vectors[v].n);
        osr_keccak256_final(&k, d);
        hex_of(hex, d);
        CHECK_STR_EQ(hex, long_vectors[v].sha3);
    }
}

static void test_million_a(void)
{
    static uint8_t b[1000000];
    memset(b, 'a', sizeof(b));
    check_oneshot(b, sizeof(b), "fadae6b49f129bbb812be8407b7b2894f34aecf6dbd1f9b0f0c7e9853098fc96");
}

/* Every split of a 300-byte input into two or three updates gives the one-shot digest. */
static void test_incremental(void)
{
    uint8_t b[300], want[32], got[32];
    pattern(b, sizeof(b));
    osr_keccak256(want, b, sizeof(b));
    int mismatches = 0;
    for (size_t i = 0; i <= sizeof(b); i++) {
        for (size_t j = i; j <= sizeof(b); j += 17) {
            struct osr_keccak k;
            osr_keccak256_init(&k);
            osr_keccak256_update(&k, b, i);
            osr_keccak256_update(&k, b + i, j - i);
            osr_keccak256_update(&k, NULL, 0);
            osr_keccak256_update(&k, b + j, sizeof(b) - j);
            osr_keccak256_final(&k, got);
            mismatches += memcmp(want, got, 32) != 0;
        }
    }
    CHECK_INT_EQ(mismatches, 0);
    /* byte at a time */
    struct osr_keccak k;
    osr_keccak256_init(&k);
    for (size_t i = 0; i < sizeof(b); i++)
        osr_keccak256_update(&k, b + i, 1);
    osr_keccak256_final(&k, got);
    CHECK(memcmp(want, got, 32) == 0);
}

TEST_MAIN(test_short_vectors, test_rate_boundaries, test_million_a, test_incremental)
