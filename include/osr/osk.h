/* osk.h - osk-v1 access keys: mint, parse, verify.
 *
 * Format (byte-compatible with the original):
 *     "osk-v1." + base64url-no-pad(payload JSON) + "." + hex(65-byte signature)
 * The payload is compact JSON with the keys in sorted order, absent optional fields omitted:
 *     {"aud":"0x..","cnt":7,"exp":1767225600,"iat":1764633600,"iss":"0x..","lbl":"ci","nonce":".."}
 * The signature is osr_identity_sign(issuer key, OSR_SIG_ACCESS, raw payload bytes).  A
 * master-scoped key has iss = aud = the master address; an agent-scoped key has iss = aud = the
 * agent's child-key address and is signed with the child key.
 *
 * Verification follows the original step for step and reports the same reasons (see
 * docs/internals/IDENTITY.md).  The verifier holds no state: the caller supplies the master
 * address, the known agent addresses, the whitelist, the revocations and the clock in a
 * struct osr_osk_ctx.  Nothing here stores keys or metadata.
 *
 * Thread rules: all functions are thread-safe; results and payloads belong to their caller.
 */
#ifndef OSR_OSK_H
#define OSR_OSK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osr/buf.h"
#include "osr/err.h"
#include "osr/identity.h"

#define OSR_OSK_PREFIX "osk-v1"
#define OSR_OSK_MAX_LEN 16384     /* longest token we look at; longer is "Unrecognized" */
#define OSR_OSK_LABEL_MAX 256     /* bytes of UTF-8 in a label we mint */
#define OSR_OSK_NONCE_MAX 64      /* bytes of a nonce we mint */
#define OSR_OSK_DISPLAY_PREFIX 20 /* characters of the key kept for listing */

enum osr_osk_expiry {
    OSR_OSK_EXPIRY_30D,
    OSR_OSK_EXPIRY_90D,
    OSR_OSK_EXPIRY_1Y,
    OSR_OSK_EXPIRY_NEVER,
};

/* "30d", "90d", "1y", "never" (the original's raw values); NULL for an unknown value. */
const char *osr_osk_expiry_name(enum osr_osk_expiry e);
/* Parses one of the names above.  OSR_EINVAL otherwise. */
int osr_osk_expiry_parse(const char *s, enum osr_osk_expiry *out);
/* Computes the expiry instant for a key created at `from` (unix seconds): +30 or +90 days, or
 * the same UTC calendar date one year later (29 February becomes 28 February).  Returns false
 * (and leaves *exp alone) for OSR_OSK_EXPIRY_NEVER. */
bool osr_osk_expiry_at(enum osr_osk_expiry e, int64_t from, int64_t *exp);

/* A decoded payload.  Strings are heap copies owned by the struct. */
struct osr_osk_payload {
    char *aud;
    uint64_t cnt;
    bool has_exp;
    int64_t exp; /* unix seconds; meaningful when has_exp */
    int64_t iat;
    char *iss;
    char *lbl; /* NULL when absent */
    char *nonce;
};

/* Frees the strings and zeroes the struct (a zeroed struct may be released). */
void osr_osk_payload_release(struct osr_osk_payload *p);

/* Appends the canonical JSON of p (sorted keys, compact, Swift JSONEncoder escaping: '/'
 * written as "\/").  OSR_EINVAL when a string is not valid UTF-8 or a required one is NULL. */
int osr_osk_payload_encode(const struct osr_osk_payload *p, struct osr_buf *out);

/* Decodes n bytes of payload JSON into *out (released by the caller, also on failure).
 * OSR_EINVAL with a message in diag when the JSON or a field's type is wrong. */
int osr_osk_payload_decode(const char *json, size_t n, struct osr_osk_payload *out,
                           struct osr_diag *diag);

/* Metadata of a minted key: what may be stored and listed (never the key itself). */
struct osr_osk_info {
    char id[37]; /* random UUID, lower case */
    char label[OSR_OSK_LABEL_MAX + 1];
    char prefix[OSR_OSK_DISPLAY_PREFIX + 1];
    char nonce[OSR_OSK_NONCE_MAX + 1];
    uint64_t cnt;
    char iss[OSR_IDENTITY_ADDR_STRLEN + 1];
    char aud[OSR_IDENTITY_ADDR_STRLEN + 1];
    int64_t created; /* unix seconds */
    enum osr_osk_expiry expiration;
    bool has_expires;
    int64_t expires; /* unix seconds; meaningful when has_expires */
    bool revoked;    /* set by the key store, never by minting */
};

/* What to mint.  All pointers are borrowed for the duration of the call. */
struct osr_osk_mint {
    const uint8_t *master_key; /* 32 bytes */
    bool agent_scoped;         /* sign with the child key of agent_index, scoped to it */
    uint32_t agent_index;
    const char *device_scope; /* NULL or "": v1 child key; else the v2 device scope */
    const char *label;        /* NULL or "" is omitted from the payload */
    enum osr_osk_expiry expiry;
    int64_t now;       /* unix seconds: iat */
    uint64_t cnt;      /* the device counter value for this key */
    const char *nonce; /* NULL: 32 random lower-case hex digits, as the original */
};

/* Mints a key: appends the full token to *key (shown to the user once) and fills *info.
 * OSR_EINVAL (with a message) for an invalid master key, label, nonce or expiry; OSR_ETOOBIG
 * when *key cannot take the token.  Child keys are wiped before returning. */
int osr_osk_mint(const struct osr_osk_mint *req, struct osr_buf *key, struct osr_osk_info *info,
                 struct osr_diag *diag);

struct osr_osk_revoked {
    const char *address; /* issuer, any case */
    const char *nonce;   /* compared exactly */
};

struct osr_osk_threshold {
    const char *address; /* issuer, any case */
    uint64_t cnt;        /* keys with cnt <= this are revoked */
};

/* What the verifier checks against.  All borrowed; arrays may be NULL when their count is 0. */
struct osr_osk_ctx {
    const char *master_address; /* NULL before an identity exists */
    const char *const *agent_addresses;
    size_t n_agent_addresses;
    /* The effective whitelist is this list plus the master and agent addresses above. */
    const char *const *whitelist;
    size_t n_whitelist;
    const struct osr_osk_revoked *revoked;
    size_t n_revoked;
    const struct osr_osk_threshold *thresholds;
    size_t n_thresholds;
    int64_t now; /* unix seconds */
};

enum osr_osk_status {
    OSR_OSK_VALID,
    OSR_OSK_INVALID, /* see reason */
    OSR_OSK_EXPIRED,
    OSR_OSK_REVOKED,
};

struct osr_osk_result {
    enum osr_osk_status status;
    const char *reason; /* static text for OSR_OSK_INVALID, else NULL */
    bool decoded;       /* payload below is filled */
    struct osr_osk_payload payload;
    char issuer[OSR_IDENTITY_ADDR_STRLEN + 1]; /* recovered signer (EIP-55), "" if none */
    bool agent_scoped;                         /* aud is not the master address */
};

/* Verifies the n bytes of token.  Returns OSR_OK when valid, OSR_EAUTH otherwise; in both
 * cases *out says why and must be released with osr_osk_result_release. */
int osr_osk_verify(const char *token, size_t n, const struct osr_osk_ctx *ctx,
                   struct osr_osk_result *out);

void osr_osk_result_release(struct osr_osk_result *r);

/* Writes the message the original's auth gate puts in its 401 body for this result:
 * "Access key has expired", "Access key has been revoked" or "Invalid access key: <reason>"
 * ("" for a valid key).  out holds cap bytes; the text is cut to fit. */
void osr_osk_result_message(const struct osr_osk_result *r, char *out, size_t cap);

/* "valid", "invalid", "expired", "revoked". */
const char *osr_osk_status_name(enum osr_osk_status s);

#endif
