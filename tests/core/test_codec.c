/* test_codec.c - base64 and base64url against the RFC 4648 section 10 vectors, strict
 * decoding, hex. */
#include <string.h>

#include "check.h"
#include "osr/codec.h"
#include "osr/err.h"

/* RFC 4648 section 10: BASE64("") = "", ... BASE64("foobar") = "Zm9vYmFy". */
static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *const b64[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
static const char *const b64url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};

static int decodes(const char *s, enum osr_b64 v, const char *want, size_t want_len)
{
    struct osr_buf b;
    osr_buf_init(&b, 1024);
    int rc = osr_base64_decode(&b, s, strlen(s), v);
    int ok = rc == OSR_OK && b.len == want_len && memcmp(osr_buf_str(&b), want, want_len) == 0;
    osr_buf_release(&b);
    return ok;
}

static int rejects(const char *s, enum osr_b64 v)
{
    struct osr_buf b;
    osr_buf_init(&b, 1024);
    osr_buf_puts(&b, "keep");
    int rc = osr_base64_decode(&b, s, strlen(s), v);
    int ok = rc == OSR_EINVAL && strcmp(osr_buf_str(&b), "keep") == 0; /* left as it was */
    osr_buf_release(&b);
    return ok;
}

static void test_vectors(void)
{
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        struct osr_buf b;
        osr_buf_init(&b, 64);
        CHECK_INT_EQ(osr_base64_encode(&b, plain[i], strlen(plain[i]), OSR_B64_STD), OSR_OK);
        CHECK_STR_EQ(osr_buf_str(&b), b64[i]);
        osr_buf_reset(&b);
        CHECK_INT_EQ(osr_base64_encode(&b, plain[i], strlen(plain[i]), OSR_B64_URL), OSR_OK);
        CHECK_STR_EQ(osr_buf_str(&b), b64url[i]);
        osr_buf_release(&b);
        CHECK(decodes(b64[i], OSR_B64_STD, plain[i], strlen(plain[i])));
        CHECK(decodes(b64url[i], OSR_B64_URL, plain[i], strlen(plain[i])));
        CHECK(decodes(b64[i], OSR_B64_URL, plain[i], strlen(plain[i]))); /* padding optional */
    }
}

static void test_alphabets(void)
{
    /* 0xfb 0xff 0xbf uses the two alphabet-specific characters. */
    const unsigned char bytes[] = {0xfb, 0xff, 0xbf, 0x00};
    struct osr_buf b;
    osr_buf_init(&b, 64);
    CHECK_INT_EQ(osr_base64_encode(&b, bytes, 3, OSR_B64_STD), OSR_OK);
    CHECK_STR_EQ(osr_buf_str(&b), "+/+/");
    osr_buf_reset(&b);
    CHECK_INT_EQ(osr_base64_encode(&b, bytes, 3, OSR_B64_URL), OSR_OK);
    CHECK_STR_EQ(osr_buf_str(&b), "-_-_");
    osr_buf_reset(&b);
    CHECK_INT_EQ(osr_base64_encode(&b, bytes, 4, OSR_B64_STD), OSR_OK);
    CHECK_STR_EQ(osr_buf_str(&b), "+/+/AA==");
    osr_buf_release(&b);
    CHECK(decodes("+/+/", OSR_B64_STD, (const char *)bytes, 3));
    CHECK(decodes("-_-_", OSR_B64_URL, (const char *)bytes, 3));
    CHECK(rejects("-_-_", OSR_B64_STD));
    CHECK(rejects("+/+/", OSR_B64_URL));
    CHECK(decodes("AA==", OSR_B64_STD, "\0", 1));
}

static void test_rejects(void)
{
    CHECK(rejects("Zm9v!", OSR_B64_STD));
    CHECK(rejects("Zm9", OSR_B64_STD)); /* std needs padding */
    CHECK(rejects("Zg=", OSR_B64_STD));
    CHECK(rejects("Zg===", OSR_B64_STD));
    CHECK(rejects("Z===", OSR_B64_STD));
    CHECK(rejects("====", OSR_B64_STD));
    CHECK(rejects("Zm9vY", OSR_B64_URL)); /* a dangling sixth of a byte */
    CHECK(rejects("Zm9vY===", OSR_B64_STD));
    CHECK(rejects("Zm=v", OSR_B64_STD));      /* padding in the middle */
    CHECK(rejects("Zm9v Zm9v", OSR_B64_STD)); /* whitespace */
    CHECK(rejects("Zm9v\n", OSR_B64_STD));
    CHECK(rejects("Zg=", OSR_B64_URL));        /* padding present but wrong */
    CHECK(rejects("Zm9vYmFy==", OSR_B64_STD)); /* padding after a full quantum */
    /* Non-zero bits after the last byte: "Zh==" would also be 'f' to a lax decoder. */
    CHECK(rejects("Zh==", OSR_B64_STD));
    CHECK(rejects("Zm9=", OSR_B64_STD));
    CHECK(rejects("Zh", OSR_B64_URL));
    CHECK(decodes("Zg", OSR_B64_URL, "f", 1));
    /* A NUL byte inside the input is not alphabet. */
    struct osr_buf b;
    osr_buf_init(&b, 64);
    CHECK_INT_EQ(osr_base64_decode(&b, "Zm\0v", 4, OSR_B64_STD), OSR_EINVAL);
    CHECK_INT_EQ(b.len, 0);
    osr_buf_release(&b);
}

static void test_roundtrip_and_cap(void)
{
    unsigned char bytes[256];
    for (int i = 0; i < 256; i++)
        bytes[i] = (unsigned char)(255 - i);
    int ok = 1;
    for (size_t n = 0; n <= sizeof(bytes); n += 7) {
        for (int v = 0; v < 2; v++) {
            struct osr_buf e, d;
            osr_buf_init(&e, 1024);
            osr_buf_init(&d, 1024);
            ok &= osr_base64_encode(&e, bytes, n, (enum osr_b64)v) == OSR_OK;
            ok &= osr_base64_decode(&d, e.data ? e.data : "", e.len, (enum osr_b64)v) == OSR_OK;
            ok &= d.len == n && (n == 0 || memcmp(d.data, bytes, n) == 0);
            osr_buf_release(&e);
            osr_buf_release(&d);
        }
    }
    CHECK(ok);
    /* Output cap: the encode fails whole. */
    struct osr_buf b;
    osr_buf_init(&b, 10);
    CHECK_INT_EQ(osr_base64_encode(&b, "foobar!", 7, OSR_B64_STD), OSR_ETOOBIG);
    CHECK_INT_EQ(b.len, 0);
    CHECK_INT_EQ(osr_base64_decode(&b, "Zm9vYmFyZm9vYmFy", 16, OSR_B64_STD), OSR_ETOOBIG);
    CHECK_INT_EQ(b.len, 0);
    osr_buf_release(&b);
}

static void test_hex(void)
{
    const unsigned char bytes[] = {0x00, 0x01, 0xab, 0xcd, 0xef, 0xff};
    struct osr_buf b;
    osr_buf_init(&b, 64);
    CHECK_INT_EQ(osr_hex_encode(&b, bytes, sizeof(bytes)), OSR_OK);
    CHECK_STR_EQ(osr_buf_str(&b), "0001abcdefff");
    osr_buf_release(&b);
    char w[13];
    osr_hex_write(w, bytes, sizeof(bytes));
    CHECK_STR_EQ(w, "0001abcdefff");
    osr_hex_write(w, bytes, 0);
    CHECK_STR_EQ(w, "");

    uint8_t out[6] = {0};
    CHECK_INT_EQ(osr_hex_decode(out, "0001ABcdEFff", 6), OSR_OK);
    CHECK(memcmp(out, bytes, 6) == 0);
    CHECK_INT_EQ(osr_hex_decode(out, "0g", 1), OSR_EINVAL);
    CHECK_INT_EQ(osr_hex_decode(out, "g0", 1), OSR_EINVAL);
    CHECK_INT_EQ(osr_hex_decode(out, "0", 1), OSR_EINVAL); /* NUL is not a digit */
    CHECK_INT_EQ(osr_hex_decode(out, "", 1), OSR_EINVAL);
    CHECK_INT_EQ(osr_hex_decode(out, " 1", 1), OSR_EINVAL);
    CHECK_INT_EQ(osr_hex_decode(out, "", 0), OSR_OK);

    osr_buf_init(&b, 5);
    CHECK_INT_EQ(osr_hex_encode(&b, bytes, 3), OSR_ETOOBIG);
    CHECK_INT_EQ(b.len, 0);
    osr_buf_release(&b);
}

TEST_MAIN(test_vectors, test_alphabets, test_rejects, test_roundtrip_and_cap, test_hex)
