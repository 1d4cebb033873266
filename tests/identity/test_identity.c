/* test_identity.c - secp256k1 keys, addresses, EIP-55, domain signatures, child keys.
 *
 * Facts used as vectors: the EIP-55 specification's test addresses; the addresses of three
 * widely published keys (the scalar 1, the EIP-155 example key 0x46..46 and the first
 * Hardhat/Anvil development key); one published personal_sign fixture (message "message",
 * its EIP-191 hash, signature and signer).  Child-key vectors were computed independently
 * with `openssl dgst -sha512 -mac HMAC` from the formula and written here as constants.
 */
#include "check.h"

#include <openssl/crypto.h>

#include "osr/codec.h"
#include "osr/err.h"
#include "osr/identity.h"
#include "osr/keccak.h"

static void unhex(uint8_t *out, const char *hex, size_t n)
{
    if (hex[0] == '0' && hex[1] == 'x')
        hex += 2;
    OSR_ASSERT(strlen(hex) == 2 * n && osr_hex_decode(out, hex, n) == OSR_OK);
}

static void key_address(const char *sk_hex, char out[OSR_IDENTITY_ADDR_STRLEN + 1])
{
    uint8_t sk[32], addr[20];
    unhex(sk, sk_hex, 32);
    out[0] = 0;
    if (osr_identity_address(sk, addr) == OSR_OK)
        osr_identity_address_format(addr, out);
}

static void test_eip55_vectors(void)
{
    static const char *const vectors[] = {
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    };
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        uint8_t addr[20];
        char lower[43], out[43];
        for (int j = 0; j < 42; j++)
            lower[j] = (char)((vectors[i][j] >= 'A' && vectors[i][j] <= 'F') ? vectors[i][j] + 32
                                                                             : vectors[i][j]);
        lower[42] = 0;
        REQUIRE(osr_identity_address_parse(lower, addr) == OSR_OK);
        osr_identity_address_format(addr, out);
        CHECK_STR_EQ(out, vectors[i]);
        CHECK(osr_identity_address_checksum_ok(vectors[i]));
        CHECK(osr_identity_address_checksum_ok(lower));
        CHECK(osr_identity_address_equal(lower, vectors[i]));
    }
    /* one flipped letter breaks the checksum but not the case-insensitive comparison */
    const char *bad = "0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
    CHECK(!osr_identity_address_checksum_ok(bad));
    CHECK(osr_identity_address_equal(bad, vectors[0]));
    CHECK(!osr_identity_address_equal(vectors[0], vectors[1]));
    CHECK(!osr_identity_address_equal(NULL, vectors[1]));

    uint8_t a[20];
    CHECK(osr_identity_address_parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe", a) != OSR_OK);
    CHECK(osr_identity_address_parse("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed00", a) != OSR_OK);
    CHECK(osr_identity_address_parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg", a) != OSR_OK);
    CHECK(osr_identity_address_parse("", a) != OSR_OK);
    CHECK(osr_identity_address_parse(NULL, a) != OSR_OK);
}

static void test_known_addresses(void)
{
    char out[43];
    key_address("0000000000000000000000000000000000000000000000000000000000000001", out);
    CHECK_STR_EQ(out, "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf");
    key_address("4646464646464646464646464646464646464646464646464646464646464646", out);
    CHECK_STR_EQ(out, "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F");
    key_address("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80", out);
    CHECK_STR_EQ(out, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");

    /* the public key of 1 is the generator point */
    uint8_t sk[32] = {0}, pub[65];
    sk[31] = 1;
    REQUIRE(osr_identity_pubkey(sk, pub) == OSR_OK);
    struct osr_buf hex;
    osr_buf_init(&hex, 200);
    REQUIRE(osr_hex_encode(&hex, pub, 65) == OSR_OK);
    CHECK_STR_EQ(osr_buf_str(&hex),
                 "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
                 "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8");
    osr_buf_release(&hex);
}

static void test_invalid_keys(void)
{
    uint8_t sk[32], pub[65], addr[20];
    memset(sk, 0, 32);
    CHECK(osr_identity_seckey_check(sk) == OSR_EINVAL);
    CHECK(osr_identity_pubkey(sk, pub) == OSR_EINVAL);
    CHECK(osr_identity_address(sk, addr) == OSR_EINVAL);
    /* the group order n itself is not a valid key; n - 1 is */
    unhex(sk, "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", 32);
    CHECK(osr_identity_seckey_check(sk) == OSR_EINVAL);
    unhex(sk, "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140", 32);
    CHECK(osr_identity_seckey_check(sk) == OSR_OK);
    memset(sk, 0xff, 32);
    CHECK(osr_identity_seckey_check(sk) == OSR_EINVAL);
    uint8_t sig[65];
    CHECK(osr_identity_sign(sk, OSR_SIG_ACCESS, "x", 1, sig) == OSR_EINVAL);
    pub[0] = 0x02;
    CHECK(osr_identity_address_of_pubkey(pub, addr) == OSR_EINVAL);
}

static void test_personal_sign_fixture(void)
{
    uint8_t h[32], sig[65], addr[20];
    char out[43];
    osr_identity_domain_hash(OSR_SIG_ETHEREUM, "message", 7, h);
    char hex[65];
    osr_hex_write(hex, h, 32);
    CHECK_STR_EQ(hex, "7f6c0e5c497ded52462ec18daeb1c94cefa11cd6949ebdb7074b2a32cac13fba");
    unhex(sig,
          "0c3c4d7e3f0966028cbe45bc09288c4738286f335583cab472a1cc3017d6bf41"
          "22df4c555edc94ca323f5d9a5601cc7e5d7d68f781770453f1a0079f9644dbb81c",
          65);
    REQUIRE(osr_identity_recover(OSR_SIG_ETHEREUM, "message", 7, sig, addr) == OSR_OK);
    osr_identity_address_format(addr, out);
    CHECK_STR_EQ(out, "0x31ea8795EE32D782C8ff41a5C68Dcbf0F5B27f6d");
    /* the same bytes under another domain recover someone else */
    REQUIRE(osr_identity_recover(OSR_SIG_ACCESS, "message", 7, sig, addr) == OSR_OK);
    osr_identity_address_format(addr, out);
    CHECK(strcmp(out, "0x31ea8795EE32D782C8ff41a5C68Dcbf0F5B27f6d") != 0);
}

/* A vector published with the original (its secure-channel-v1 test fixture): an agent key,
 * its address, a handshake transcript, the domain hash and the server-hello signature the
 * original produced with the "Osaurus Secure Channel" prefix.  RFC 6979 makes signing
 * deterministic, so we must reproduce the signature byte for byte. */
static void test_original_secure_channel_vector(void)
{
    static const char transcript[] =
        "osaurus-sc1|v=1|aA=0x331565e19602986634610f4b33ff7ad182860036|"
        "eC=hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo|nC=AAECAwQFBgcICQoLDA0ODw|"
        "sid=8OHSw7Sllod4aVpLPC0eDw|eS=3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08|"
        "exp=1800000000";
    uint8_t sk[32], addr[20], h[32], sig[65], want[65];
    char out[43], hex[131];
    unhex(sk, "c2ddba76f071d8115d12d4a8e4d9df7c460aa6ae4f4a59b6c9d1f740a88146f9", 32);
    REQUIRE(osr_identity_address(sk, addr) == OSR_OK);
    osr_identity_address_format(addr, out);
    CHECK_STR_EQ(out, "0x331565e19602986634610f4B33Ff7ad182860036");

    osr_identity_domain_hash(OSR_SIG_SECURE_CHANNEL, transcript, strlen(transcript), h);
    osr_hex_write(hex, h, 32);
    CHECK_STR_EQ(hex, "ba9ac4aabffaa7598c6a83106bc2d073b1d617e7075d922e198da7d6a7cf4743");

    unhex(want,
          "0xfba850b0a90fcbb1411c52687d31ab9d5da3cab347dc95627d22126514eb6185725284a542e1ddedab"
          "e9e1625d8838ea0599f3bff449b41f44107782992e74641c",
          65);
    REQUIRE(osr_identity_sign(sk, OSR_SIG_SECURE_CHANNEL, transcript, strlen(transcript), sig) ==
            OSR_OK);
    CHECK(memcmp(sig, want, 65) == 0);
    REQUIRE(osr_identity_recover(OSR_SIG_SECURE_CHANNEL, transcript, strlen(transcript), want,
                                 addr) == OSR_OK);
    osr_identity_address_format(addr, out);
    CHECK_STR_EQ(out, "0x331565e19602986634610f4B33Ff7ad182860036");
}

static void test_domain_hash_layout(void)
{
    /* Built by hand: "\x19" + prefix + ":\n" + "11" + payload. */
    uint8_t want[32], got[32];
    const char manual[] = "\x19Osaurus Signed Access:\n11hello world";

    osr_keccak256(want, manual, sizeof(manual) - 1);
    osr_identity_domain_hash(OSR_SIG_ACCESS, "hello world", 11, got);
    CHECK(memcmp(want, got, 32) == 0);
    CHECK_STR_EQ(osr_identity_domain_prefix(OSR_SIG_MESSAGE), "Osaurus Signed Message");
    CHECK_STR_EQ(osr_identity_domain_prefix(OSR_SIG_INVITE), "Osaurus Signed Invite");
    CHECK_STR_EQ(osr_identity_domain_prefix(OSR_SIG_PAIRING), "Osaurus Signed Pairing");
    CHECK_STR_EQ(osr_identity_domain_prefix(OSR_SIG_SECURE_CHANNEL), "Osaurus Secure Channel");
    CHECK(osr_identity_domain_prefix(OSR_SIG_DOMAIN_COUNT) == NULL);
    /* different domains, different hashes */
    for (int a = 0; a < OSR_SIG_DOMAIN_COUNT; a++)
        for (int b = a + 1; b < OSR_SIG_DOMAIN_COUNT; b++) {
            uint8_t ha[32], hb[32];
            osr_identity_domain_hash((enum osr_sig_domain)a, "p", 1, ha);
            osr_identity_domain_hash((enum osr_sig_domain)b, "p", 1, hb);
            CHECK(memcmp(ha, hb, 32) != 0);
        }
}

static void test_sign_recover_roundtrip(void)
{
    uint8_t sk[32], addr[20], got[20], sig[65], sig2[65];
    unhex(sk, "4646464646464646464646464646464646464646464646464646464646464646", 32);
    REQUIRE(osr_identity_address(sk, addr) == OSR_OK);
    const char *msg = "{\"aud\":\"x\"}";
    for (int d = 0; d < OSR_SIG_DOMAIN_COUNT; d++) {
        REQUIRE(osr_identity_sign(sk, (enum osr_sig_domain)d, msg, strlen(msg), sig) == OSR_OK);
        CHECK(sig[64] == 27 || sig[64] == 28);
        /* RFC 6979: deterministic */
        REQUIRE(osr_identity_sign(sk, (enum osr_sig_domain)d, msg, strlen(msg), sig2) == OSR_OK);
        CHECK(memcmp(sig, sig2, 65) == 0);
        REQUIRE(osr_identity_recover((enum osr_sig_domain)d, msg, strlen(msg), sig, got) == OSR_OK);
        CHECK(memcmp(addr, got, 20) == 0);
        /* never under another domain */
        for (int e = 0; e < OSR_SIG_DOMAIN_COUNT; e++) {
            if (e == d)
                continue;
            int rc = osr_identity_recover((enum osr_sig_domain)e, msg, strlen(msg), sig, got);
            CHECK(rc != OSR_OK || memcmp(addr, got, 20) != 0);
        }
        /* nor over another payload */
        int rc = osr_identity_recover((enum osr_sig_domain)d, msg, strlen(msg) - 1, sig, got);
        CHECK(rc != OSR_OK || memcmp(addr, got, 20) != 0);
    }
    /* v outside 27..30, or a zero r, does not recover */
    REQUIRE(osr_identity_sign(sk, OSR_SIG_ACCESS, msg, strlen(msg), sig) == OSR_OK);
    memcpy(sig2, sig, 65);
    sig2[64] = 1;
    CHECK(osr_identity_recover(OSR_SIG_ACCESS, msg, strlen(msg), sig2, got) == OSR_EINVAL);
    sig2[64] = 31;
    CHECK(osr_identity_recover(OSR_SIG_ACCESS, msg, strlen(msg), sig2, got) == OSR_EINVAL);
    memcpy(sig2, sig, 65);
    memset(sig2, 0, 32);
    CHECK(osr_identity_recover(OSR_SIG_ACCESS, msg, strlen(msg), sig2, got) == OSR_EINVAL);
    memset(sig2, 0xff, 64);
    CHECK(osr_identity_recover(OSR_SIG_ACCESS, msg, strlen(msg), sig2, got) == OSR_EINVAL);
    /* flipping v recovers a different key */
    memcpy(sig2, sig, 65);
    sig2[64] = sig[64] == 27 ? 28 : 27;
    int rc = osr_identity_recover(OSR_SIG_ACCESS, msg, strlen(msg), sig2, got);
    CHECK(rc != OSR_OK || memcmp(addr, got, 20) != 0);
    OPENSSL_cleanse(sk, sizeof(sk));
}

static void check_child(const uint8_t *master, uint32_t idx, const char *want)
{
    uint8_t out[32];
    char hex[65];
    REQUIRE(osr_identity_child_key_v1(master, idx, out) == OSR_OK);
    osr_hex_write(hex, out, 32);
    CHECK_STR_EQ(hex, want);
}

static void test_child_keys(void)
{
    uint8_t master[32], out[32], out2[32];
    char hex[65];
    memset(master, 0x01, 32);
    check_child(master, 0, "a595e7b28a4f8ace090f082bfa9fef07bb9f076ae5c6a860ca77afff84e978a7");
    check_child(master, 1, "e441051fc8da070f19438328e0ef60715dde0d2ddc7664410d219ecdd7559f5b");
    check_child(master, 7, "006a8ae3e6a9754532738c6b09d3b6018e66009e55557369a278ad9e502ed330");
    check_child(master, 65536, "0a0200b38b70d2789f297caee176cca057125fe381e1bd4b7a08d84da2721958");

    REQUIRE(osr_identity_child_key_v2(master, "laptop-1", 3, out) == OSR_OK);
    osr_hex_write(hex, out, 32);
    CHECK_STR_EQ(hex, "e54016118f13fbb2ad0deff7c2eac887fcd585bed81c78f934b02dec65febbc2");
    REQUIRE(osr_identity_child_key_v2(master, "", 0, out) == OSR_OK);
    osr_hex_write(hex, out, 32);
    CHECK_STR_EQ(hex, "35c9dd173684d654c29189d5fa338b0f18a007a70979e9bff2ed382a951291d3");

    /* v1 and v2 differ for the same index; an invalid master is refused */
    REQUIRE(osr_identity_child_key_v1(master, 0, out) == OSR_OK);
    REQUIRE(osr_identity_child_key_v2(master, "", 0, out2) == OSR_OK);
    CHECK(memcmp(out, out2, 32) != 0);
    memset(master, 0, 32);
    CHECK(osr_identity_child_key_v1(master, 0, out) == OSR_EINVAL);
    CHECK(osr_identity_child_key_v2(master, NULL, 0, out) == OSR_EINVAL);
}

TEST_MAIN(test_eip55_vectors, test_known_addresses, test_invalid_keys, test_personal_sign_fixture,
          test_original_secure_channel_vector, test_domain_hash_layout, test_sign_recover_roundtrip,
          test_child_keys)
