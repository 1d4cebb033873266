/* identity.c - secp256k1 keys, addresses, EIP-55, domain signatures and child keys.
 *
 * The one module that wraps libsecp256k1 (with its recovery module).  It holds no key
 * material beyond a call: keys come in as caller-owned buffers and every local copy is wiped.
 * It does not store, load or log keys (see masterkey.c) and knows nothing of osk-v1 (osk.c).
 */
#include "osr/identity.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include "osr/codec.h"
#include "osr/err.h"
#include "osr/keccak.h"
#include "osr/uuid.h"

static const char *const domain_prefixes[OSR_SIG_DOMAIN_COUNT] = {
    [OSR_SIG_MESSAGE] = "Osaurus Signed Message",
    [OSR_SIG_ACCESS] = "Osaurus Signed Access",
    [OSR_SIG_ETHEREUM] = "Ethereum Signed Message",
    [OSR_SIG_INVITE] = "Osaurus Signed Invite",
    [OSR_SIG_PAIRING] = "Osaurus Signed Pairing",
    [OSR_SIG_PAIRING_SERVER] = "Osaurus Signed Pairing Server",
    [OSR_SIG_SECURE_CHANNEL] = "Osaurus Secure Channel",
};

static secp256k1_context *shared_ctx;
static pthread_once_t shared_once = PTHREAD_ONCE_INIT;

static void ctx_create(void)
{
    shared_ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    OSR_ASSERT(shared_ctx != NULL);
    /* Blinding against side channels; a failure to get randomness leaves the context
     * unblinded but correct, so it is not fatal. */
    unsigned char seed[32];
    if (osr_random_bytes(seed, sizeof(seed)) == OSR_OK) {
        int randomized = secp256k1_context_randomize(shared_ctx, seed);
        (void)randomized;
    }
    OPENSSL_cleanse(seed, sizeof(seed));
}

static const secp256k1_context *ctx(void)
{
    OSR_ASSERT(pthread_once(&shared_once, ctx_create) == 0);
    return shared_ctx;
}

const char *osr_identity_domain_prefix(enum osr_sig_domain domain)
{
    if ((unsigned)domain >= OSR_SIG_DOMAIN_COUNT)
        return NULL;
    return domain_prefixes[domain];
}

int osr_identity_seckey_check(const uint8_t sk[OSR_IDENTITY_SECKEY_LEN])
{
    return secp256k1_ec_seckey_verify(ctx(), sk) ? OSR_OK : OSR_EINVAL;
}

int osr_identity_pubkey(const uint8_t sk[OSR_IDENTITY_SECKEY_LEN],
                        uint8_t pub[OSR_IDENTITY_PUBKEY_LEN])
{
    secp256k1_pubkey pk;
    if (!secp256k1_ec_pubkey_create(ctx(), &pk, sk))
        return OSR_EINVAL;
    size_t len = OSR_IDENTITY_PUBKEY_LEN;
    if (!secp256k1_ec_pubkey_serialize(ctx(), pub, &len, &pk, SECP256K1_EC_UNCOMPRESSED) ||
        len != OSR_IDENTITY_PUBKEY_LEN)
        return OSR_EINVAL;
    return OSR_OK;
}

int osr_identity_address_of_pubkey(const uint8_t pub[OSR_IDENTITY_PUBKEY_LEN],
                                   uint8_t addr[OSR_IDENTITY_ADDR_LEN])
{
    if (pub[0] != 0x04)
        return OSR_EINVAL;
    uint8_t h[32];
    osr_keccak256(h, pub + 1, OSR_IDENTITY_PUBKEY_LEN - 1);
    memcpy(addr, h + 32 - OSR_IDENTITY_ADDR_LEN, OSR_IDENTITY_ADDR_LEN);
    return OSR_OK;
}

int osr_identity_address(const uint8_t sk[OSR_IDENTITY_SECKEY_LEN],
                         uint8_t addr[OSR_IDENTITY_ADDR_LEN])
{
    uint8_t pub[OSR_IDENTITY_PUBKEY_LEN];
    int rc = osr_identity_pubkey(sk, pub);
    if (rc == OSR_OK)
        rc = osr_identity_address_of_pubkey(pub, addr);
    return rc;
}

void osr_identity_address_format(const uint8_t addr[OSR_IDENTITY_ADDR_LEN],
                                 char out[OSR_IDENTITY_ADDR_STRLEN + 1])
{
    /* EIP-55: hash the lower-case hex (as ASCII text); a letter is upper-cased when the
     * matching nibble of the hash is 8 or more. */
    char lower[2 * OSR_IDENTITY_ADDR_LEN + 1];
    osr_hex_write(lower, addr, OSR_IDENTITY_ADDR_LEN);
    uint8_t h[32];
    osr_keccak256(h, lower, 2 * OSR_IDENTITY_ADDR_LEN);
    out[0] = '0';
    out[1] = 'x';
    for (int i = 0; i < 2 * OSR_IDENTITY_ADDR_LEN; i++) {
        unsigned nibble = (i % 2 == 0) ? h[i / 2] >> 4 : h[i / 2] & 15;
        char c = lower[i];
        if (c >= 'a' && c <= 'f' && nibble >= 8)
            c = (char)(c - 'a' + 'A');
        out[2 + i] = c;
    }
    out[OSR_IDENTITY_ADDR_STRLEN] = 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int osr_identity_address_parse(const char *s, uint8_t addr[OSR_IDENTITY_ADDR_LEN])
{
    if (!s || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
        return OSR_EINVAL;
    if (strlen(s) != OSR_IDENTITY_ADDR_STRLEN)
        return OSR_EINVAL;
    for (int i = 0; i < OSR_IDENTITY_ADDR_LEN; i++) {
        int hi = hex_value(s[2 + 2 * i]), lo = hex_value(s[3 + 2 * i]);
        if (hi < 0 || lo < 0)
            return OSR_EINVAL;
        addr[i] = (uint8_t)(hi << 4 | lo);
    }
    return OSR_OK;
}

bool osr_identity_address_checksum_ok(const char *s)
{
    uint8_t addr[OSR_IDENTITY_ADDR_LEN];
    if (osr_identity_address_parse(s, addr) != OSR_OK || s[1] != 'x')
        return false;
    bool has_upper = false, has_lower = false;
    for (const char *p = s + 2; *p; p++) {
        has_upper |= (*p >= 'A' && *p <= 'F');
        has_lower |= (*p >= 'a' && *p <= 'f');
    }
    if (!has_upper || !has_lower)
        return true; /* all one case: carries no checksum, as EIP-55 allows */
    char want[OSR_IDENTITY_ADDR_STRLEN + 1];
    osr_identity_address_format(addr, want);
    return strcmp(want, s) == 0;
}

bool osr_identity_address_equal(const char *a, const char *b)
{
    return a && b && strcasecmp(a, b) == 0;
}

void osr_identity_domain_hash(enum osr_sig_domain domain, const void *payload, size_t n,
                              uint8_t out[32])
{
    const char *prefix = osr_identity_domain_prefix(domain);
    OSR_ASSERT(prefix != NULL);
    char len[24];
    int ll = snprintf(len, sizeof(len), "%zu", n);
    struct osr_keccak k;
    osr_keccak256_init(&k);
    osr_keccak256_update(&k, "\x19", 1);
    osr_keccak256_update(&k, prefix, strlen(prefix));
    osr_keccak256_update(&k, ":\n", 2);
    osr_keccak256_update(&k, len, (size_t)ll);
    osr_keccak256_update(&k, payload, n);
    osr_keccak256_final(&k, out);
}

int osr_identity_sign(const uint8_t sk[OSR_IDENTITY_SECKEY_LEN], enum osr_sig_domain domain,
                      const void *payload, size_t n, uint8_t sig[OSR_IDENTITY_SIG_LEN])
{
    if (!osr_identity_domain_prefix(domain))
        return OSR_EINVAL;
    uint8_t h[32];
    osr_identity_domain_hash(domain, payload, n, h);
    secp256k1_ecdsa_recoverable_signature rs;
    /* NULL nonce function = RFC 6979, which makes the signature a function of key and hash. */
    if (!secp256k1_ecdsa_sign_recoverable(ctx(), &rs, h, sk, NULL, NULL))
        return OSR_EINVAL;
    int recid = 0;
    OSR_ASSERT(secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx(), sig, &recid, &rs));
    sig[64] = (uint8_t)(27 + recid);
    return OSR_OK;
}

int osr_identity_recover(enum osr_sig_domain domain, const void *payload, size_t n,
                         const uint8_t sig[OSR_IDENTITY_SIG_LEN],
                         uint8_t addr[OSR_IDENTITY_ADDR_LEN])
{
    if (!osr_identity_domain_prefix(domain))
        return OSR_EINVAL;
    if (sig[64] < 27 || sig[64] > 30)
        return OSR_EINVAL;
    secp256k1_ecdsa_recoverable_signature rs;
    if (!secp256k1_ecdsa_recoverable_signature_parse_compact(ctx(), &rs, sig, sig[64] - 27))
        return OSR_EINVAL;
    uint8_t h[32];
    osr_identity_domain_hash(domain, payload, n, h);
    secp256k1_pubkey pk;
    if (!secp256k1_ecdsa_recover(ctx(), &pk, &rs, h))
        return OSR_EINVAL;
    uint8_t pub[OSR_IDENTITY_PUBKEY_LEN];
    size_t len = sizeof(pub);
    if (!secp256k1_ec_pubkey_serialize(ctx(), pub, &len, &pk, SECP256K1_EC_UNCOMPRESSED))
        return OSR_EINVAL;
    return osr_identity_address_of_pubkey(pub, addr);
}

/* HMAC-SHA512(master, msg)[0..32], validated as a scalar. */
static int child_key(const uint8_t master[OSR_IDENTITY_SECKEY_LEN], const uint8_t *msg, size_t n,
                     uint8_t out[OSR_IDENTITY_SECKEY_LEN])
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    int rc = OSR_EINVAL;
    if (osr_identity_seckey_check(master) != OSR_OK)
        goto out;
    if (!HMAC(EVP_sha512(), master, OSR_IDENTITY_SECKEY_LEN, msg, n, mac, &mac_len) ||
        mac_len != 64)
        goto out;
    memcpy(out, mac, OSR_IDENTITY_SECKEY_LEN);
    rc = osr_identity_seckey_check(out);
out:
    if (rc != OSR_OK)
        OPENSSL_cleanse(out, OSR_IDENTITY_SECKEY_LEN);
    OPENSSL_cleanse(mac, sizeof(mac));
    return rc;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

int osr_identity_child_key_v1(const uint8_t master[OSR_IDENTITY_SECKEY_LEN], uint32_t index,
                              uint8_t out[OSR_IDENTITY_SECKEY_LEN])
{
    static const char domain[] = "osaurus-agent-v1";
    uint8_t msg[sizeof(domain) - 1 + 4];
    memcpy(msg, domain, sizeof(domain) - 1);
    put_be32(msg + sizeof(domain) - 1, index);
    return child_key(master, msg, sizeof(msg), out);
}

/* A device scope is a short identifier; the cap only bounds the stack buffer. */
#define SCOPE_MAX 256

int osr_identity_child_key_v2(const uint8_t master[OSR_IDENTITY_SECKEY_LEN], const char *scope,
                              uint32_t index, uint8_t out[OSR_IDENTITY_SECKEY_LEN])
{
    static const char domain[] = "osaurus-agent-v2";
    uint8_t msg[sizeof(domain) - 1 + SCOPE_MAX + 1 + 4];
    size_t sl = scope ? strlen(scope) : SCOPE_MAX + 1;
    if (sl > SCOPE_MAX) {
        OPENSSL_cleanse(out, OSR_IDENTITY_SECKEY_LEN);
        return OSR_EINVAL;
    }
    size_t n = 0;
    memcpy(msg, domain, sizeof(domain) - 1);
    n += sizeof(domain) - 1;
    memcpy(msg + n, scope, sl);
    n += sl;
    msg[n++] = 0x00;
    put_be32(msg + n, index);
    n += 4;
    return child_key(master, msg, n, out);
}
