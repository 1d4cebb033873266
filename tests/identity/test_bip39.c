/* test_bip39.c - BIP39 phrases over raw entropy.
 *
 * Vectors: the entries of the BIP39 reference vectors.json (English) that use 32 bytes of
 * entropy, mnemonic part only (the seed column needs a passphrase step we do not implement),
 * plus two 16-byte entries to exercise the shorter checksum.
 */
#include "check.h"

#include <openssl/crypto.h>

#include "osr/bip39.h"
#include "osr/codec.h"
#include "osr/uuid.h"

static const struct {
    const char *entropy;
    const char *phrase;
} vectors[] = {
    {"0000000000000000000000000000000000000000000000000000000000000000",
     "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "
     "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "
     "abandon art"},
    {"7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f",
     "legal winner thank year wave sausage worth useful legal winner thank year wave sausage "
     "worth useful legal winner thank year wave sausage worth title"},
    {"8080808080808080808080808080808080808080808080808080808080808080",
     "letter advice cage absurd amount doctor acoustic avoid letter advice cage absurd amount "
     "doctor acoustic avoid letter advice cage absurd amount doctor acoustic bless"},
    {"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
     "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo "
     "zoo vote"},
    {"00ac97c48106f0aeb8ba061e0250a559b3251dc35854e694780ba51d53a50120",
     "absent gorilla van acoustic humor firm title dolphin bulk barely citizen recall crane "
     "moment aspect appear track phrase actual enforce steel spoon afraid benefit"},
    {"3edc83b60740d77af3afa2fcb82c2f1bc541ee4e2518ddef4996d32453f54a3c",
     "disagree tomato unique attend aspect runway solid violin witness scrap armed daring "
     "favorite warm decade perfect target kid grant play early wide cigar night"},
    {"89bb4bc5555992cdaf3444c5e7ca5a6e9f27efab894f1990bae41be8b2a26ea4",
     "meadow surge vanish primary odor grocery rubber mass shine dinner notable tag venue water "
     "purchase clarify book magic ribbon daughter menu eye ritual orchard"},
    {"911fec0fbd88029f6fa99164896c18d898c9232af18bdcca3e42d53b86493104",
     "much youth advance kitchen lens exile salt cram goose enter alert raise milk muscle "
     "profit cousin system faint mouse price reveal cause series long"},
    {"00000000000000000000000000000000",
     "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "
     "about"},
    {"7dce4ed2284c9134d026608ab684c05c",
     "lava include region explain simple omit dog slot melt reflect copy reward"},
};

static void test_vectors(void)
{
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        uint8_t ent[32], back[32];
        size_t n = strlen(vectors[i].entropy) / 2;
        REQUIRE(osr_hex_decode(ent, vectors[i].entropy, n) == OSR_OK);
        char phrase[OSR_BIP39_PHRASE_MAX];
        REQUIRE(osr_bip39_encode(ent, n, phrase) == OSR_OK);
        CHECK_STR_EQ(phrase, vectors[i].phrase);
        struct osr_diag d = {0};
        REQUIRE(osr_bip39_decode(vectors[i].phrase, n * 3 / 4, back, &d) == OSR_OK);
        CHECK(memcmp(ent, back, n) == 0);
    }
}

static void test_word_list(void)
{
    CHECK_INT_EQ(osr_bip39_word_index("abandon", 7), 0);
    CHECK_INT_EQ(osr_bip39_word_index("zoo", 3), 2047);
    CHECK_INT_EQ(osr_bip39_word_index("art", 3), 102);
    CHECK_INT_EQ(osr_bip39_word_index("ar", 2), -1);
    CHECK_INT_EQ(osr_bip39_word_index("zoos", 4), -1);
    /* sorted and unique in the first four letters, as BIP39 promises */
    int bad = 0;
    for (int i = 1; i < OSR_BIP39_LIST_SIZE; i++) {
        bad += strcmp(osr_bip39_english[i - 1], osr_bip39_english[i]) >= 0;
        bad += strncmp(osr_bip39_english[i - 1], osr_bip39_english[i], 4) == 0;
    }
    CHECK_INT_EQ(bad, 0);
}

static void test_lenient_input(void)
{
    uint8_t ent[32];
    struct osr_diag d = {0};
    const char *messy =
        "  Much YOUTH advance\tkitchen lens exile salt cram goose enter alert raise\n"
        "milk muscle profit cousin system faint mouse price reveal cause series "
        "LONG\n";
    REQUIRE(osr_bip39_decode(messy, 24, ent, &d) == OSR_OK);
    char hex[65];
    osr_hex_write(hex, ent, 32);
    CHECK_STR_EQ(hex, "911fec0fbd88029f6fa99164896c18d898c9232af18bdcca3e42d53b86493104");
}

static void test_errors(void)
{
    uint8_t ent[32];
    struct osr_diag d = {0};
    /* last word changed: the checksum catches it */
    const char *bad_sum = "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo "
                          "zoo zoo zoo zoo zoo zoo";
    memset(ent, 0xaa, sizeof(ent));
    CHECK(osr_bip39_decode(bad_sum, 24, ent, &d) == OSR_EINVAL);
    CHECK(strstr(d.msg, "checksum") != NULL);
    uint8_t zero[32] = {0};
    CHECK(memcmp(ent, zero, 32) == 0); /* wiped */

    /* two words swapped */
    const char *swapped = "gorilla absent van acoustic humor firm title dolphin bulk barely "
                          "citizen recall crane moment aspect appear track phrase actual enforce "
                          "steel spoon afraid benefit";
    CHECK(osr_bip39_decode(swapped, 24, ent, &d) == OSR_EINVAL);
    CHECK(strstr(d.msg, "checksum") != NULL);

    /* an unknown word is named by position only */
    const char *unknown = "zoo zoo zoo zoo osaurus zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo "
                          "zoo zoo zoo zoo zoo zoo vote";
    CHECK(osr_bip39_decode(unknown, 24, ent, &d) == OSR_EINVAL);
    CHECK_STR_EQ(d.msg, "word 5 is not in the BIP39 English word list");
    CHECK(strstr(d.msg, "osaurus") == NULL);
    const char *longword =
        "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo "
        "zoo zoo zoo zoo zoo abcdefghijklmnopqrstuvwxyz";
    CHECK(osr_bip39_decode(longword, 24, ent, &d) == OSR_EINVAL);
    CHECK_STR_EQ(d.msg, "word 24 is not in the BIP39 English word list");

    /* word counts */
    CHECK(osr_bip39_decode("zoo zoo zoo", 24, ent, &d) == OSR_EINVAL);
    CHECK_STR_EQ(d.msg, "expected 24 words, got 3");
    CHECK(osr_bip39_decode("", 24, ent, &d) == OSR_EINVAL);
    CHECK(osr_bip39_decode(NULL, 24, ent, &d) == OSR_EINVAL);
    char many[400];
    snprintf(many, sizeof(many), "%s zoo", vectors[3].phrase);
    CHECK(osr_bip39_decode(many, 24, ent, &d) == OSR_EINVAL);
    CHECK_STR_EQ(d.msg, "expected 24 words, got 25");
    CHECK(osr_bip39_decode(vectors[3].phrase, 13, ent, &d) == OSR_EINVAL);

    char out[OSR_BIP39_PHRASE_MAX];
    CHECK(osr_bip39_encode(ent, 31, out) == OSR_EINVAL);
    CHECK(osr_bip39_encode(ent, 12, out) == OSR_EINVAL);
}

static void test_random_roundtrip(void)
{
    int bad = 0;
    for (int i = 0; i < 200; i++) {
        uint8_t ent[32], back[32];
        char phrase[OSR_BIP39_PHRASE_MAX];
        REQUIRE(osr_random_bytes(ent, sizeof(ent)) == OSR_OK);
        REQUIRE(osr_bip39_encode(ent, 32, phrase) == OSR_OK);
        bad += osr_bip39_decode(phrase, 24, back, NULL) != OSR_OK || memcmp(ent, back, 32) != 0;
        OPENSSL_cleanse(phrase, sizeof(phrase));
    }
    CHECK_INT_EQ(bad, 0);
}

TEST_MAIN(test_vectors, test_word_list, test_lenient_input, test_errors, test_random_roundtrip)
