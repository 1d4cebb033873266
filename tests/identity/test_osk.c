/* test_osk.c - osk-v1 access keys: minting known answers, verification verdicts.
 *
 * The two full tokens below were produced independently of this code base by
 * scripts/gen_osk_vectors.py (python-ecdsa for
 * RFC 6979 secp256k1 signatures, pycryptodome for Keccak-256, HMAC-SHA512 from Python's
 * standard library) by following the formula in REFERENCE section 12.3, then written here as
 * constants: minting with the same fields must give the same bytes, and verifying them must
 * succeed.  Every failure reason of the original validator is then provoked once.
 */
#include "check.h"

#include <openssl/crypto.h>

#include "osr/codec.h"
#include "osr/err.h"
#include "osr/identity.h"
#include "osr/osk.h"

#define MASTER_ADDR "0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1"
#define AGENT3_ADDR "0x116dEBfc9F970f677B71e7E2566Cc1BDE34e7d89"
#define IAT 1764633600 /* 2025-12-02T00:00:00Z */

static const char token_master_30d[] =
    "osk-v1.eyJhdWQiOiIweDFhNjQyZjBFM2MzYUY1NDVFN0FjQkQzOGIwNzI1MUIzOTkwOTE0RjEiLCJjbnQiOjcsImV4"
    "cCI6MTc2NzIyNTYwMCwiaWF0IjoxNzY0NjMzNjAwLCJpc3MiOiIweDFhNjQyZjBFM2MzYUY1NDVFN0FjQkQzOGIwNzI1"
    "MUIzOTkwOTE0RjEiLCJsYmwiOiJjaVwvY2QgYm90Iiwibm9uY2UiOiIwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFi"
    "Y2RlZiJ9.86628952e99502a97a7209ef88f40c94b5b42b14fc9bcacc68404d491a224a3913ba58eef6a0fe8881f"
    "db11305a6af760abd89375b9a340a9f215b736edffdb51c";

static const char token_agent_never[] =
    "osk-v1.eyJhdWQiOiIweDExNmRFQmZjOUY5NzBmNjc3QjcxZTdFMjU2NkNjMUJERTM0ZTdkODkiLCJjbnQiOjgsImlh"
    "dCI6MTc2NDYzMzYwMCwiaXNzIjoiMHgxMTZkRUJmYzlGOTcwZjY3N0I3MWU3RTI1NjZDYzFCREUzNGU3ZDg5Iiwibm9u"
    "Y2UiOiJmZWRjYmE5ODc2NTQzMjEwZmVkY2JhOTg3NjU0MzIxMCJ9.272829d2547afb68c34af5ac90218a177d1fd5f"
    "e7010d3b1951361aebdfb4124217a4bb2ec0e07dc476fdd973c82d7031ec9d3af02a5e516975891d2c0d0a4941c";

static uint8_t master[32];

static void setup(void)
{
    memset(master, 0x01, sizeof(master));
}

static struct osr_osk_ctx base_ctx(void)
{
    static const char *const agents[] = {AGENT3_ADDR};
    struct osr_osk_ctx c = {
        .master_address = MASTER_ADDR,
        .agent_addresses = agents,
        .n_agent_addresses = 1,
        .now = IAT + 60,
    };
    return c;
}

/* Verifies a C string token and returns the status, checking the reason when one is given. */
static enum osr_osk_status verify(const char *token, const struct osr_osk_ctx *ctx,
                                  const char *want_reason)
{
    struct osr_osk_result r;
    int rc = osr_osk_verify(token, strlen(token), ctx, &r);
    enum osr_osk_status st = r.status;
    CHECK_INT_EQ(rc, st == OSR_OSK_VALID ? OSR_OK : OSR_EAUTH);
    if (want_reason)
        CHECK_STR_EQ(r.reason, want_reason);
    else
        CHECK(r.reason == NULL);
    osr_osk_result_release(&r);
    return st;
}

/* Builds a token over an arbitrary payload signed by sk under a domain. */
static char *forge(const char *payload, const uint8_t *sk, enum osr_sig_domain domain)
{
    struct osr_buf b;
    uint8_t sig[65];
    osr_buf_init(&b, 1 << 16);
    OSR_ASSERT(osr_identity_sign(sk, domain, payload, strlen(payload), sig) == OSR_OK);
    OSR_ASSERT(osr_buf_puts(&b, "osk-v1.") == OSR_OK);
    OSR_ASSERT(osr_base64_encode(&b, payload, strlen(payload), OSR_B64_URL) == OSR_OK);
    OSR_ASSERT(osr_buf_putc(&b, '.') == OSR_OK);
    OSR_ASSERT(osr_hex_encode(&b, sig, 65) == OSR_OK);
    return osr_buf_detach(&b, NULL);
}

static void test_mint_known_answers(void)
{
    setup();
    struct osr_buf key;
    struct osr_osk_info info;
    struct osr_diag d = {0};
    osr_buf_init(&key, 4096);

    struct osr_osk_mint m = {
        .master_key = master,
        .label = "ci/cd bot",
        .expiry = OSR_OSK_EXPIRY_30D,
        .now = IAT,
        .cnt = 7,
        .nonce = "0123456789abcdef0123456789abcdef",
    };
    REQUIRE(osr_osk_mint(&m, &key, &info, &d) == OSR_OK);
    CHECK_STR_EQ(osr_buf_str(&key), token_master_30d);
    CHECK_STR_EQ(info.iss, MASTER_ADDR);
    CHECK_STR_EQ(info.aud, MASTER_ADDR);
    CHECK_STR_EQ(info.label, "ci/cd bot");
    CHECK_STR_EQ(info.prefix, "osk-v1.eyJhdWQiOiIwe");
    CHECK_STR_EQ(info.nonce, "0123456789abcdef0123456789abcdef");
    CHECK_INT_EQ(info.cnt, 7);
    CHECK_INT_EQ(info.created, IAT);
    CHECK(info.has_expires);
    CHECK_INT_EQ(info.expires, 1767225600);
    CHECK_INT_EQ(strlen(info.id), 36);

    osr_buf_reset(&key);
    struct osr_osk_mint a = {
        .master_key = master,
        .agent_scoped = true,
        .agent_index = 3,
        .label = "",
        .expiry = OSR_OSK_EXPIRY_NEVER,
        .now = IAT,
        .cnt = 8,
        .nonce = "fedcba9876543210fedcba9876543210",
    };
    REQUIRE(osr_osk_mint(&a, &key, &info, &d) == OSR_OK);
    CHECK_STR_EQ(osr_buf_str(&key), token_agent_never);
    CHECK_STR_EQ(info.iss, AGENT3_ADDR);
    CHECK_STR_EQ(info.label, "");
    CHECK(!info.has_expires);
    CHECK_STR_EQ(osr_osk_expiry_name(info.expiration), "never");
    osr_buf_release(&key);
}

static void test_verify_known_tokens(void)
{
    struct osr_osk_ctx ctx = base_ctx();
    struct osr_osk_result r;
    REQUIRE(osr_osk_verify(token_master_30d, strlen(token_master_30d), &ctx, &r) == OSR_OK);
    CHECK(r.status == OSR_OSK_VALID);
    CHECK(r.decoded);
    CHECK_STR_EQ(r.issuer, MASTER_ADDR);
    CHECK(!r.agent_scoped);
    CHECK_STR_EQ(r.payload.lbl, "ci/cd bot");
    CHECK_INT_EQ(r.payload.cnt, 7);
    CHECK(r.payload.has_exp);
    osr_osk_result_release(&r);

    REQUIRE(osr_osk_verify(token_agent_never, strlen(token_agent_never), &ctx, &r) == OSR_OK);
    CHECK(r.agent_scoped);
    CHECK_STR_EQ(r.issuer, AGENT3_ADDR);
    CHECK(r.payload.lbl == NULL);
    CHECK(!r.payload.has_exp);
    osr_osk_result_release(&r);

    /* "never" stays valid far in the future; 30d expires exactly at exp */
    ctx.now = 4102444800; /* 2100 */
    CHECK(verify(token_agent_never, &ctx, NULL) == OSR_OSK_VALID);
    ctx.now = 1767225600 - 1;
    CHECK(verify(token_master_30d, &ctx, NULL) == OSR_OSK_VALID);
    ctx.now = 1767225600;
    CHECK(verify(token_master_30d, &ctx, NULL) == OSR_OSK_EXPIRED);

    /* the agent-scoped key is refused when its agent is unknown here */
    ctx = base_ctx();
    ctx.n_agent_addresses = 0;
    CHECK(verify(token_agent_never, &ctx, "Audience mismatch") == OSR_OSK_INVALID);
    /* before an identity exists nothing is accepted */
    ctx.master_address = NULL;
    CHECK(verify(token_master_30d, &ctx, "Audience mismatch") == OSR_OSK_INVALID);
}

static void test_gate_messages(void)
{
    struct osr_osk_ctx ctx = base_ctx();
    struct osr_osk_result r;
    char msg[128];
    osr_osk_verify("nope", 4, &ctx, &r);
    osr_osk_result_message(&r, msg, sizeof(msg));
    CHECK_STR_EQ(msg, "Invalid access key: Unrecognized token format");
    osr_osk_result_release(&r);
    ctx.now = 1767225600;
    osr_osk_verify(token_master_30d, strlen(token_master_30d), &ctx, &r);
    osr_osk_result_message(&r, msg, sizeof(msg));
    CHECK_STR_EQ(msg, "Access key has expired");
    osr_osk_result_release(&r);
    struct osr_osk_revoked rv[] = {{MASTER_ADDR, "0123456789abcdef0123456789abcdef"}};
    ctx.revoked = rv;
    ctx.n_revoked = 1;
    osr_osk_verify(token_master_30d, strlen(token_master_30d), &ctx, &r);
    osr_osk_result_message(&r, msg, sizeof(msg));
    CHECK_STR_EQ(msg, "Access key has been revoked");
    osr_osk_result_release(&r);
    ctx = base_ctx();
    osr_osk_verify(token_master_30d, strlen(token_master_30d), &ctx, &r);
    osr_osk_result_message(&r, msg, sizeof(msg));
    CHECK_STR_EQ(msg, "");
    osr_osk_result_release(&r);
}

static void test_format_failures(void)
{
    struct osr_osk_ctx ctx = base_ctx();
    const char *unrecognized[] = {
        "",
        "osk-v1",
        "osk-v1.",
        "osk-v1.abc",
        "osk-v2.e30.00",
        "Bearer osk-v1.e30.00",
        "OSK-V1.e30.00",
        "osk-v1..",
        "..",
    };
    for (size_t i = 0; i < sizeof(unrecognized) / sizeof(unrecognized[0]); i++)
        CHECK(verify(unrecognized[i], &ctx, "Unrecognized token format") == OSR_OSK_INVALID);

    /* payload part that is not base64 */
    const char *sig = token_master_30d + strlen(token_master_30d) - 130;
    char buf[512];
    snprintf(buf, sizeof(buf), "osk-v1.e30!.%s", sig);
    CHECK(verify(buf, &ctx, "Invalid payload encoding") == OSR_OSK_INVALID);
    snprintf(buf, sizeof(buf), "osk-v1.e30=x.%s", sig);
    CHECK(verify(buf, &ctx, "Invalid payload encoding") == OSR_OSK_INVALID);
    snprintf(buf, sizeof(buf), "osk-v1.abcde.%s", sig); /* length 1 mod 4 */
    CHECK(verify(buf, &ctx, "Invalid payload encoding") == OSR_OSK_INVALID);

    /* signature part: wrong length, not hex, a fourth piece */
    CHECK(verify("osk-v1.e30.00", &ctx, "Invalid signature encoding") == OSR_OSK_INVALID);
    snprintf(buf, sizeof(buf), "osk-v1.e30.%.128s", sig);
    CHECK(verify(buf, &ctx, "Invalid signature encoding") == OSR_OSK_INVALID);
    snprintf(buf, sizeof(buf), "osk-v1.e30.%.129sz", sig);
    CHECK(verify(buf, &ctx, "Invalid signature encoding") == OSR_OSK_INVALID);
    snprintf(buf, sizeof(buf), "osk-v1.e30.%s.x", sig);
    CHECK(verify(buf, &ctx, "Invalid signature encoding") == OSR_OSK_INVALID);

    /* malformed payloads, each signed correctly by the master */
    setup();
    const char *bad_payloads[] = {
        "not json",
        "[]",
        "{}",
        "{\"aud\":\"" MASTER_ADDR "\",\"cnt\":1,\"iat\":1,\"iss\":\"" MASTER_ADDR "\"}",
        "{\"aud\":\"" MASTER_ADDR "\",\"cnt\":-1,\"iat\":1,\"iss\":\"" MASTER_ADDR
        "\",\"nonce\":\"n\"}",
        "{\"aud\":\"" MASTER_ADDR "\",\"cnt\":\"1\",\"iat\":1,\"iss\":\"" MASTER_ADDR
        "\",\"nonce\":\"n\"}",
        "{\"aud\":\"" MASTER_ADDR "\",\"cnt\":1,\"exp\":\"soon\",\"iat\":1,\"iss\":\"" MASTER_ADDR
        "\",\"nonce\":\"n\"}",
        "{\"aud\":\"" MASTER_ADDR "\",\"cnt\":1,\"iat\":1,\"iss\":\"" MASTER_ADDR
        "\",\"lbl\":5,\"nonce\":\"n\"}",
        "{\"aud\":\"" MASTER_ADDR "\",\"cnt\":1,\"iat\":1,\"iss\":\"" MASTER_ADDR
        "\",\"nonce\":\"n\"} trailing",
    };
    for (size_t i = 0; i < sizeof(bad_payloads) / sizeof(bad_payloads[0]); i++) {
        char *t = forge(bad_payloads[i], master, OSR_SIG_ACCESS);
        CHECK(verify(t, &ctx, "Malformed payload") == OSR_OSK_INVALID);
        free(t);
    }
    /* a minimal well-formed payload passes: null exp and null lbl are "absent" */
    char *t =
        forge("{\"aud\":\"" MASTER_ADDR "\",\"cnt\":1,\"exp\":null,\"iat\":1,\"iss\":\"" MASTER_ADDR
              "\",\"lbl\":null,\"nonce\":\"n\",\"extra\":true}",
              master, OSR_SIG_ACCESS);
    CHECK(verify(t, &ctx, NULL) == OSR_OSK_VALID);
    free(t);
}

static void test_signature_failures(void)
{
    setup();
    struct osr_osk_ctx ctx = base_ctx();
    char buf[1024];
    size_t n = strlen(token_master_30d);
    REQUIRE(n < sizeof(buf));

    /* v byte 0x00: no recovery id */
    memcpy(buf, token_master_30d, n + 1);
    buf[n - 2] = '0';
    buf[n - 1] = '0';
    CHECK(verify(buf, &ctx, "Signature recovery failed") == OSR_OSK_INVALID);
    /* r = 0 */
    memcpy(buf, token_master_30d, n + 1);
    memset(buf + n - 130, '0', 64);
    CHECK(verify(buf, &ctx, "Signature recovery failed") == OSR_OSK_INVALID);
    /* upper-case hex is accepted, as the original's decoder does */
    memcpy(buf, token_master_30d, n + 1);
    for (size_t i = n - 130; i < n; i++)
        if (buf[i] >= 'a' && buf[i] <= 'f')
            buf[i] = (char)(buf[i] - 32);
    CHECK(verify(buf, &ctx, NULL) == OSR_OSK_VALID);
    /* flipping v recovers another signer */
    memcpy(buf, token_master_30d, n + 1);
    buf[n - 1] = buf[n - 1] == 'c' ? 'b' : 'c';
    CHECK(verify(buf, &ctx, "Issuer mismatch") == OSR_OSK_INVALID);

    /* the payload claims the master but another key signed it */
    uint8_t other[32];
    memset(other, 0x46, 32);
    const char *claims_master =
        "{\"aud\":\"" MASTER_ADDR "\",\"cnt\":1,\"iat\":1,\"iss\":\"" MASTER_ADDR
        "\",\"nonce\":\"n\"}";
    char *t = forge(claims_master, other, OSR_SIG_ACCESS);
    CHECK(verify(t, &ctx, "Issuer mismatch") == OSR_OSK_INVALID);
    free(t);
    /* the master's signature under another domain prefix does not count */
    for (int d = 0; d < OSR_SIG_DOMAIN_COUNT; d++) {
        if (d == OSR_SIG_ACCESS)
            continue;
        t = forge(claims_master, master, (enum osr_sig_domain)d);
        CHECK(verify(t, &ctx, "Issuer mismatch") == OSR_OSK_INVALID);
        free(t);
    }
    t = forge(claims_master, master, OSR_SIG_ACCESS);
    CHECK(verify(t, &ctx, NULL) == OSR_OSK_VALID);
    free(t);

    /* Swift's split skips empty pieces: a doubled dot after the prefix still parses */
    snprintf(buf, sizeof(buf), "osk-v1.%s", token_master_30d + 6);
    CHECK(verify(buf, &ctx, NULL) == OSR_OSK_VALID);
}

static void test_scope_failures(void)
{
    setup();
    struct osr_osk_ctx ctx = base_ctx();
    uint8_t other[32], oaddr[20];
    char other_addr[43];
    memset(other, 0x46, 32);
    REQUIRE(osr_identity_address(other, oaddr) == OSR_OK);
    osr_identity_address_format(oaddr, other_addr);

    /* master signs a key for an audience that is neither the master nor an agent */
    char payload[512];
    snprintf(payload, sizeof(payload),
             "{\"aud\":\"%s\",\"cnt\":1,\"iat\":1,\"iss\":\"" MASTER_ADDR "\",\"nonce\":\"n\"}",
             other_addr);
    char *t = forge(payload, master, OSR_SIG_ACCESS);
    CHECK(verify(t, &ctx, "Audience mismatch") == OSR_OSK_INVALID);
    free(t);

    /* a third party signs for the master's audience: only valid once whitelisted */
    snprintf(payload, sizeof(payload),
             "{\"aud\":\"" MASTER_ADDR "\",\"cnt\":1,\"iat\":1,\"iss\":\"%s\",\"nonce\":\"n\"}",
             other_addr);
    t = forge(payload, other, OSR_SIG_ACCESS);
    CHECK(verify(t, &ctx, "Issuer not whitelisted") == OSR_OSK_INVALID);
    char lower[43];
    for (int i = 0; i < 43; i++)
        lower[i] = (char)((other_addr[i] >= 'A' && other_addr[i] <= 'F') ? other_addr[i] + 32
                                                                         : other_addr[i]);
    const char *wl[] = {lower};
    ctx.whitelist = wl;
    ctx.n_whitelist = 1;
    CHECK(verify(t, &ctx, NULL) == OSR_OSK_VALID);
    free(t);

    /* addresses compare case-insensitively, in the token and in the context */
    snprintf(payload, sizeof(payload),
             "{\"aud\":\"0x1A642F0E3C3AF545E7ACBD38B07251B3990914F1\",\"cnt\":1,\"iat\":1,"
             "\"iss\":\"0x1a642f0e3c3af545e7acbd38b07251b3990914f1\",\"nonce\":\"n\"}");
    t = forge(payload, master, OSR_SIG_ACCESS);
    CHECK(verify(t, &ctx, NULL) == OSR_OSK_VALID);
    free(t);
}

static void test_revocation(void)
{
    struct osr_osk_ctx ctx = base_ctx();
    struct osr_osk_revoked rv[] = {
        {"0x1a642f0e3c3af545e7acbd38b07251b3990914f1", "0123456789abcdef0123456789abcdef"},
    };
    ctx.revoked = rv;
    ctx.n_revoked = 1;
    CHECK(verify(token_master_30d, &ctx, NULL) == OSR_OSK_REVOKED);
    CHECK(verify(token_agent_never, &ctx, NULL) == OSR_OSK_VALID);
    /* the nonce is compared exactly */
    struct osr_osk_revoked rv2[] = {{MASTER_ADDR, "0123456789ABCDEF0123456789ABCDEF"}};
    ctx.revoked = rv2;
    CHECK(verify(token_master_30d, &ctx, NULL) == OSR_OSK_VALID);
    /* a nonce revoked for another issuer does not apply */
    struct osr_osk_revoked rv3[] = {{AGENT3_ADDR, "0123456789abcdef0123456789abcdef"}};
    ctx.revoked = rv3;
    CHECK(verify(token_master_30d, &ctx, NULL) == OSR_OSK_VALID);

    ctx = base_ctx();
    struct osr_osk_threshold th[] = {{AGENT3_ADDR, 8}};
    ctx.thresholds = th;
    ctx.n_thresholds = 1;
    CHECK(verify(token_agent_never, &ctx, NULL) == OSR_OSK_REVOKED); /* cnt 8 <= 8 */
    th[0].cnt = 7;
    CHECK(verify(token_agent_never, &ctx, NULL) == OSR_OSK_VALID);
    CHECK(verify(token_master_30d, &ctx, NULL) == OSR_OSK_VALID); /* other issuer */

    /* revocation is reported before expiry, as in the original */
    ctx = base_ctx();
    ctx.revoked = rv;
    ctx.n_revoked = 1;
    ctx.now = 1767225600 + 5;
    CHECK(verify(token_master_30d, &ctx, NULL) == OSR_OSK_REVOKED);
}

static void test_mint_roundtrip_and_errors(void)
{
    setup();
    struct osr_buf key;
    struct osr_osk_info info, info2;
    struct osr_diag d = {0};
    osr_buf_init(&key, 4096);
    struct osr_osk_mint m = {
        .master_key = master,
        .label = "caf\xc3\xa9 \"quoted\" back\\slash\nline\x01",
        .expiry = OSR_OSK_EXPIRY_90D,
        .now = IAT,
        .cnt = 42,
    };
    REQUIRE(osr_osk_mint(&m, &key, &info, &d) == OSR_OK);
    CHECK_INT_EQ(strlen(info.nonce), 32);
    CHECK_INT_EQ(info.expires, IAT + 90 * 86400);
    struct osr_osk_ctx ctx = base_ctx();
    struct osr_osk_result r;
    REQUIRE(osr_osk_verify(key.data, key.len, &ctx, &r) == OSR_OK);
    CHECK_STR_EQ(r.payload.lbl, m.label);
    CHECK_STR_EQ(r.payload.nonce, info.nonce);
    osr_osk_result_release(&r);

    /* random nonces differ between keys */
    osr_buf_reset(&key);
    REQUIRE(osr_osk_mint(&m, &key, &info2, &d) == OSR_OK);
    CHECK(strcmp(info.nonce, info2.nonce) != 0);
    CHECK(strcmp(info.id, info2.id) != 0);

    /* device-scoped (v2) agent key: verifies against the v2 child address */
    osr_buf_reset(&key);
    m.agent_scoped = true;
    m.agent_index = 5;
    m.device_scope = "phone";
    REQUIRE(osr_osk_mint(&m, &key, &info, &d) == OSR_OK);
    uint8_t child[32], caddr[20];
    char cstr[43];
    REQUIRE(osr_identity_child_key_v2(master, "phone", 5, child) == OSR_OK);
    REQUIRE(osr_identity_address(child, caddr) == OSR_OK);
    OPENSSL_cleanse(child, 32);
    osr_identity_address_format(caddr, cstr);
    CHECK_STR_EQ(info.iss, cstr);
    const char *agents[] = {cstr};
    ctx.agent_addresses = agents;
    CHECK(verify(key.data, &ctx, NULL) == OSR_OSK_VALID);

    /* an empty device scope is no scope: the v1 key of the same index */
    osr_buf_reset(&key);
    m.device_scope = "";
    REQUIRE(osr_osk_mint(&m, &key, &info, &d) == OSR_OK);
    REQUIRE(osr_identity_child_key_v1(master, 5, child) == OSR_OK);
    REQUIRE(osr_identity_address(child, caddr) == OSR_OK);
    OPENSSL_cleanse(child, 32);
    osr_identity_address_format(caddr, cstr);
    CHECK_STR_EQ(info.iss, cstr);
    m.device_scope = NULL;

    /* errors: bad label, bad nonce, bad master, unknown expiry, full buffer */
    m.agent_scoped = false;
    m.label = "bad \xff utf8";
    CHECK(osr_osk_mint(&m, &key, &info, &d) == OSR_EINVAL);
    CHECK(strstr(d.msg, "UTF-8") != NULL);
    m.label = "ok";
    m.nonce = "has space";
    CHECK(osr_osk_mint(&m, &key, &info, &d) == OSR_EINVAL);
    m.nonce = NULL;
    m.expiry = (enum osr_osk_expiry)9;
    CHECK(osr_osk_mint(&m, &key, &info, &d) == OSR_EINVAL);
    m.expiry = OSR_OSK_EXPIRY_1Y;
    uint8_t zero[32] = {0};
    m.master_key = zero;
    CHECK(osr_osk_mint(&m, &key, &info, &d) == OSR_EINVAL);
    m.master_key = master;
    struct osr_buf small;
    osr_buf_init(&small, 50);
    CHECK(osr_osk_mint(&m, &small, &info, &d) == OSR_ETOOBIG);
    CHECK_INT_EQ(small.len, 0);
    osr_buf_release(&small);
    osr_buf_release(&key);
}

static void test_payload_encoding(void)
{
    struct osr_osk_payload p = {
        .aud = "a/b",
        .cnt = 18446744073709551614ULL,
        .has_exp = false,
        .iat = -5,
        .iss = "i",
        .lbl = "\"\\/\b\f\n\r\t\x01\x1f\x7f\xc3\xa9",
        .nonce = "n",
    };
    struct osr_buf b;
    osr_buf_init(&b, 1024);
    REQUIRE(osr_osk_payload_encode(&p, &b) == OSR_OK);
    CHECK_STR_EQ(osr_buf_str(&b), "{\"aud\":\"a\\/b\",\"cnt\":18446744073709551614,\"iat\":-5,"
                                  "\"iss\":\"i\",\"lbl\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f"
                                  "\x7f\xc3\xa9\",\"nonce\":\"n\"}");
    /* and it decodes back */
    struct osr_osk_payload q;
    REQUIRE(osr_osk_payload_decode(b.data, b.len, &q, NULL) == OSR_OK);
    CHECK_STR_EQ(q.aud, "a/b");
    CHECK_STR_EQ(q.lbl, p.lbl);
    CHECK(q.cnt == p.cnt);
    CHECK_INT_EQ(q.iat, -5);
    osr_osk_payload_release(&q);
    osr_buf_release(&b);

    /* a NUL inside a string is refused */
    const char *nul = "{\"aud\":\"a\\u0000b\",\"cnt\":1,\"iat\":1,\"iss\":\"i\",\"nonce\":\"n\"}";
    struct osr_diag d = {0};
    CHECK(osr_osk_payload_decode(nul, strlen(nul), &q, &d) == OSR_EINVAL);
    osr_osk_payload_release(&q);
}

static void test_expiry_calendar(void)
{
    int64_t e = 0;
    enum osr_osk_expiry x;
    CHECK(osr_osk_expiry_parse("1y", &x) == OSR_OK && x == OSR_OSK_EXPIRY_1Y);
    CHECK(osr_osk_expiry_parse("2y", &x) == OSR_EINVAL);
    CHECK(!osr_osk_expiry_at(OSR_OSK_EXPIRY_NEVER, IAT, &e));
    /* 2025-12-02 -> 2026-12-02 */
    CHECK(osr_osk_expiry_at(OSR_OSK_EXPIRY_1Y, IAT, &e));
    CHECK_INT_EQ(e, 1796169600);
    /* 2028-02-29T12:00:00Z -> 2029-02-28T12:00:00Z */
    CHECK(osr_osk_expiry_at(OSR_OSK_EXPIRY_1Y, 1835438400, &e));
    CHECK_INT_EQ(e, 1866974400);
    CHECK(osr_osk_expiry_at(OSR_OSK_EXPIRY_30D, 0, &e));
    CHECK_INT_EQ(e, 2592000);
}

TEST_MAIN(test_mint_known_answers, test_verify_known_tokens, test_gate_messages,
          test_format_failures, test_signature_failures, test_scope_failures, test_revocation,
          test_mint_roundtrip_and_errors, test_payload_encoding, test_expiry_calendar)
