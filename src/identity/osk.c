/* osk.c - osk-v1 access keys: canonical payload JSON, minting and verification.
 *
 * Verification reproduces the original's validator step for step, including its way of
 * splitting the token (Swift's split(separator: ".", maxSplits: 2), which skips empty pieces)
 * and of decoding base64url (map -_ to +/, pad with '=', strict base64), so that a token is
 * accepted or refused here for the same reason as there.  Minting writes the payload exactly
 * as Swift's JSONEncoder with .sortedKeys does, so our keys are byte-for-byte the keys the
 * original would mint from the same fields.  This module does not store keys, metadata,
 * whitelists or revocations, and it never logs a key.
 */
#include "osr/osk.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "osr/alloc.h"
#include "osr/codec.h"
#include "osr/json.h"
#include "osr/uuid.h"

static const char *const expiry_names[] = {
    [OSR_OSK_EXPIRY_30D] = "30d",
    [OSR_OSK_EXPIRY_90D] = "90d",
    [OSR_OSK_EXPIRY_1Y] = "1y",
    [OSR_OSK_EXPIRY_NEVER] = "never",
};

const char *osr_osk_expiry_name(enum osr_osk_expiry e)
{
    if ((unsigned)e > OSR_OSK_EXPIRY_NEVER)
        return NULL;
    return expiry_names[e];
}

int osr_osk_expiry_parse(const char *s, enum osr_osk_expiry *out)
{
    for (unsigned i = 0; s && i <= OSR_OSK_EXPIRY_NEVER; i++) {
        if (strcmp(s, expiry_names[i]) == 0) {
            *out = (enum osr_osk_expiry)i;
            return OSR_OK;
        }
    }
    return OSR_EINVAL;
}

bool osr_osk_expiry_at(enum osr_osk_expiry e, int64_t from, int64_t *exp)
{
    switch (e) {
    case OSR_OSK_EXPIRY_30D:
        *exp = from + 30 * 86400LL;
        return true;
    case OSR_OSK_EXPIRY_90D:
        *exp = from + 90 * 86400LL;
        return true;
    case OSR_OSK_EXPIRY_1Y: {
        /* The original adds one calendar year (Foundation's Calendar); we do it in UTC. */
        time_t t = (time_t)from;
        struct tm tm;
        if (!gmtime_r(&t, &tm)) {
            *exp = from + 365 * 86400LL;
            return true;
        }
        tm.tm_year += 1;
        if (tm.tm_mon == 1 && tm.tm_mday == 29)
            tm.tm_mday = 28;
        *exp = (int64_t)timegm(&tm);
        return true;
    }
    case OSR_OSK_EXPIRY_NEVER:
    default:
        return false;
    }
}

const char *osr_osk_status_name(enum osr_osk_status s)
{
    switch (s) {
    case OSR_OSK_VALID:
        return "valid";
    case OSR_OSK_INVALID:
        return "invalid";
    case OSR_OSK_EXPIRED:
        return "expired";
    case OSR_OSK_REVOKED:
        return "revoked";
    }
    return "unknown";
}

/* ---- payload JSON --------------------------------------------------------------------- */

void osr_osk_payload_release(struct osr_osk_payload *p)
{
    free(p->aud);
    free(p->iss);
    free(p->lbl);
    free(p->nonce);
    memset(p, 0, sizeof(*p));
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t j = 1; j < len; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

/* A JSON string as Swift's JSONEncoder writes it by default: '"', '\' and '/' escaped with a
 * backslash, \b \f \n \r \t short forms, other control characters as \u00xx (lower-case
 * hex), everything else (including non-ASCII UTF-8) raw. */
static int append_swift_string(struct osr_buf *out, const char *s)
{
    size_t n = strlen(s);
    if (!utf8_valid((const unsigned char *)s, n))
        return OSR_EINVAL;
    int rc = osr_buf_putc(out, '"');
    for (size_t i = 0; i < n && !rc; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':
            rc = osr_buf_puts(out, "\\\"");
            break;
        case '\\':
            rc = osr_buf_puts(out, "\\\\");
            break;
        case '/':
            rc = osr_buf_puts(out, "\\/");
            break;
        case '\b':
            rc = osr_buf_puts(out, "\\b");
            break;
        case '\f':
            rc = osr_buf_puts(out, "\\f");
            break;
        case '\n':
            rc = osr_buf_puts(out, "\\n");
            break;
        case '\r':
            rc = osr_buf_puts(out, "\\r");
            break;
        case '\t':
            rc = osr_buf_puts(out, "\\t");
            break;
        default:
            if (c < 0x20)
                rc = osr_buf_appendf(out, "\\u%04x", c);
            else
                rc = osr_buf_putc(out, (char)c);
        }
    }
    if (!rc)
        rc = osr_buf_putc(out, '"');
    return rc;
}

int osr_osk_payload_encode(const struct osr_osk_payload *p, struct osr_buf *out)
{
    if (!p->aud || !p->iss || !p->nonce)
        return OSR_EINVAL;
    /* Sorted keys: aud, cnt, exp, iat, iss, lbl, nonce. */
    int rc = osr_buf_puts(out, "{\"aud\":");
    if (!rc)
        rc = append_swift_string(out, p->aud);
    if (!rc)
        rc = osr_buf_appendf(out, ",\"cnt\":%llu", (unsigned long long)p->cnt);
    if (!rc && p->has_exp)
        rc = osr_buf_appendf(out, ",\"exp\":%lld", (long long)p->exp);
    if (!rc)
        rc = osr_buf_appendf(out, ",\"iat\":%lld,\"iss\":", (long long)p->iat);
    if (!rc)
        rc = append_swift_string(out, p->iss);
    if (!rc && p->lbl) {
        rc = osr_buf_puts(out, ",\"lbl\":");
        if (!rc)
            rc = append_swift_string(out, p->lbl);
    }
    if (!rc)
        rc = osr_buf_puts(out, ",\"nonce\":");
    if (!rc)
        rc = append_swift_string(out, p->nonce);
    if (!rc)
        rc = osr_buf_putc(out, '}');
    return rc;
}

/* Copies a string member; NUL bytes inside it are refused (they cannot round-trip through C
 * strings, and the original never mints them). */
static int get_string(struct json_object *obj, const char *key, bool required, char **out,
                      struct osr_diag *diag)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null)) {
        if (required)
            return osr_diag_set(diag, OSR_EINVAL, "'%s' is required", key);
        return OSR_OK;
    }
    if (!json_object_is_type(v, json_type_string))
        return osr_diag_set(diag, OSR_EINVAL, "'%s' must be a string", key);
    const char *s = json_object_get_string(v);
    size_t n = (size_t)json_object_get_string_len(v);
    if (strlen(s) != n)
        return osr_diag_set(diag, OSR_EINVAL, "'%s' contains a NUL character", key);
    *out = osr_xstrndup(s, n);
    return OSR_OK;
}

static int get_int(struct json_object *obj, const char *key, bool required, bool *present,
                   int64_t *out, struct osr_diag *diag)
{
    struct json_object *v = NULL;
    *present = false;
    if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null)) {
        if (required)
            return osr_diag_set(diag, OSR_EINVAL, "'%s' is required", key);
        return OSR_OK;
    }
    if (!json_object_is_type(v, json_type_int))
        return osr_diag_set(diag, OSR_EINVAL, "'%s' must be an integer", key);
    int64_t x = json_object_get_int64(v);
    /* json-c saturates values outside int64 at the limits; refuse them rather than guess. */
    if (x == INT64_MAX || x == INT64_MIN)
        return osr_diag_set(diag, OSR_EINVAL, "'%s' is out of range", key);
    *out = x;
    *present = true;
    return OSR_OK;
}

int osr_osk_payload_decode(const char *json, size_t n, struct osr_osk_payload *out,
                           struct osr_diag *diag)
{
    struct json_object *root = NULL;
    memset(out, 0, sizeof(*out));
    int rc = osr_json_parse(json, n, &root, diag);
    if (rc)
        goto out;
    if (!json_object_is_type(root, json_type_object)) {
        rc = osr_diag_set(diag, OSR_EINVAL, "the payload must be a JSON object");
        goto out;
    }
    rc = get_string(root, "aud", true, &out->aud, diag);
    if (rc)
        goto out;

    /* cnt is a UInt64 in the original: any non-negative integer up to 2^64 - 1. */
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(root, "cnt", &v) || json_object_is_type(v, json_type_null)) {
        rc = osr_diag_set(diag, OSR_EINVAL, "'cnt' is required");
        goto out;
    }
    if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0) {
        rc = osr_diag_set(diag, OSR_EINVAL, "'cnt' must be a non-negative integer");
        goto out;
    }
    out->cnt = json_object_get_uint64(v);
    if (out->cnt == UINT64_MAX) {
        rc = osr_diag_set(diag, OSR_EINVAL, "'cnt' is out of range");
        goto out;
    }

    bool present = false;
    rc = get_int(root, "exp", false, &present, &out->exp, diag);
    if (rc)
        goto out;
    out->has_exp = present;
    rc = get_int(root, "iat", true, &present, &out->iat, diag);
    if (!rc)
        rc = get_string(root, "iss", true, &out->iss, diag);
    if (!rc)
        rc = get_string(root, "lbl", false, &out->lbl, diag);
    if (!rc)
        rc = get_string(root, "nonce", true, &out->nonce, diag);
out:
    if (root)
        json_object_put(root);
    return rc;
}

/* ---- minting -------------------------------------------------------------------------- */

static bool nonce_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > OSR_OSK_NONCE_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

/* The original's nonce: a random UUID without dashes, lower case (32 hex digits). */
static void random_nonce(char out[33])
{
    char uuid[OSR_UUID_STRLEN + 1];
    osr_uuid_v4(uuid);
    size_t j = 0;
    for (size_t i = 0; uuid[i]; i++)
        if (uuid[i] != '-')
            out[j++] = uuid[i];
    out[j] = 0;
}

int osr_osk_mint(const struct osr_osk_mint *req, struct osr_buf *key, struct osr_osk_info *info,
                 struct osr_diag *diag)
{
    uint8_t child[OSR_IDENTITY_SECKEY_LEN], addr[OSR_IDENTITY_ADDR_LEN];
    uint8_t sig[OSR_IDENTITY_SIG_LEN];
    char sig_hex[2 * OSR_IDENTITY_SIG_LEN + 1];
    char nonce[OSR_OSK_NONCE_MAX + 1];
    char address[OSR_IDENTITY_ADDR_STRLEN + 1];
    struct osr_buf json;
    const uint8_t *signer = req->master_key;
    size_t key_start = key->len;
    int rc;

    osr_buf_init(&json, 2 * OSR_OSK_LABEL_MAX * 6 + 1024);
    memset(info, 0, sizeof(*info));
    if (!req->master_key || osr_identity_seckey_check(req->master_key) != OSR_OK) {
        rc = osr_diag_set(diag, OSR_EINVAL, "the master key is not a valid secp256k1 key");
        goto out;
    }
    if (!osr_osk_expiry_name(req->expiry)) {
        rc = osr_diag_set(diag, OSR_EINVAL, "unknown expiry %d", (int)req->expiry);
        goto out;
    }
    const char *label = (req->label && req->label[0]) ? req->label : NULL;
    if (label && (strlen(label) > OSR_OSK_LABEL_MAX ||
                  !utf8_valid((const unsigned char *)label, strlen(label)))) {
        rc = osr_diag_set(diag, OSR_EINVAL, "a label must be valid UTF-8 of at most %d bytes",
                          OSR_OSK_LABEL_MAX);
        goto out;
    }
    if (req->nonce) {
        if (!nonce_ok(req->nonce)) {
            rc = osr_diag_set(diag, OSR_EINVAL,
                              "a nonce must be 1 to %d characters of [A-Za-z0-9_-]",
                              OSR_OSK_NONCE_MAX);
            goto out;
        }
        snprintf(nonce, sizeof(nonce), "%s", req->nonce);
    } else {
        random_nonce(nonce);
    }

    if (req->agent_scoped) {
        /* An empty scope is no scope: the original falls back to v1 for it. */
        rc = (req->device_scope && req->device_scope[0])
                 ? osr_identity_child_key_v2(req->master_key, req->device_scope, req->agent_index,
                                             child)
                 : osr_identity_child_key_v1(req->master_key, req->agent_index, child);
        if (rc) {
            rc = osr_diag_set(diag, rc, "cannot derive the key of agent %u", req->agent_index);
            goto out;
        }
        signer = child;
    }
    rc = osr_identity_address(signer, addr);
    if (rc)
        goto out;
    osr_identity_address_format(addr, address);

    struct osr_osk_payload p = {
        .aud = address,
        .cnt = req->cnt,
        .iat = req->now,
        .iss = address,
        .lbl = (char *)label,
        .nonce = nonce,
    };
    p.has_exp = osr_osk_expiry_at(req->expiry, req->now, &p.exp);
    rc = osr_osk_payload_encode(&p, &json);
    if (rc)
        goto out;
    rc = osr_identity_sign(signer, OSR_SIG_ACCESS, json.data, json.len, sig);
    if (rc)
        goto out;
    osr_hex_write(sig_hex, sig, sizeof(sig));

    rc = osr_buf_puts(key, OSR_OSK_PREFIX ".");
    if (!rc)
        rc = osr_base64_encode(key, json.data, json.len, OSR_B64_URL);
    if (!rc)
        rc = osr_buf_putc(key, '.');
    if (!rc)
        rc = osr_buf_puts(key, sig_hex);
    if (rc) {
        key->len = key_start; /* leave the caller's buffer as it was */
        if (key->data)
            key->data[key_start] = 0;
        goto out;
    }

    osr_uuid_v4(info->id);
    snprintf(info->label, sizeof(info->label), "%s", label ? label : "");
    snprintf(info->prefix, sizeof(info->prefix), "%.*s", OSR_OSK_DISPLAY_PREFIX,
             key->data + key_start);
    snprintf(info->nonce, sizeof(info->nonce), "%s", nonce);
    info->cnt = req->cnt;
    snprintf(info->iss, sizeof(info->iss), "%s", address);
    snprintf(info->aud, sizeof(info->aud), "%s", address);
    info->created = req->now;
    info->expiration = req->expiry;
    info->has_expires = p.has_exp;
    info->expires = p.has_exp ? p.exp : 0;
out:
    OPENSSL_cleanse(child, sizeof(child));
    osr_buf_release(&json);
    return rc;
}

/* ---- verification --------------------------------------------------------------------- */

struct piece {
    const char *p;
    size_t n;
};

/* Swift's split(separator: ".", maxSplits: 2) with its default of omitting empty pieces:
 * returns the number of pieces found (at most 3). */
static int split_token(const char *s, size_t n, struct piece out[3])
{
    int count = 0;
    size_t start = 0, i = 0;
    while (i < n) {
        if (s[i] == '.') {
            if (i > start) {
                out[count].p = s + start;
                out[count].n = i - start;
                count++;
            }
            start = ++i;
            if (count == 2)
                break;
            continue;
        }
        i++;
    }
    if (start < n && count < 3) {
        out[count].p = s + start;
        out[count].n = n - start;
        count++;
    }
    return count;
}

/* Data(base64urlEncoded:) of the original: -_ become +/, '=' pads to a multiple of 4, then
 * strict standard base64. */
static int b64url_decode(const struct piece *in, struct osr_buf *out)
{
    struct osr_buf std;
    osr_buf_init(&std, OSR_OSK_MAX_LEN + 4);
    int rc = OSR_OK;
    for (size_t i = 0; i < in->n && !rc; i++) {
        char c = in->p[i];
        rc = osr_buf_putc(&std, c == '-' ? '+' : c == '_' ? '/' : c);
    }
    while (!rc && std.len % 4)
        rc = osr_buf_putc(&std, '=');
    if (!rc)
        rc = osr_base64_decode(out, std.data, std.len, OSR_B64_STD);
    osr_buf_release(&std);
    return rc;
}

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] && strcasecmp(s, list[i]) == 0)
            return true;
    return false;
}

static bool is_revoked(const struct osr_osk_ctx *ctx, const struct osr_osk_payload *p)
{
    for (size_t i = 0; i < ctx->n_revoked; i++) {
        const struct osr_osk_revoked *r = &ctx->revoked[i];
        if (r->address && r->nonce && strcasecmp(r->address, p->iss) == 0 &&
            strcmp(r->nonce, p->nonce) == 0)
            return true;
    }
    for (size_t i = 0; i < ctx->n_thresholds; i++) {
        const struct osr_osk_threshold *t = &ctx->thresholds[i];
        if (t->address && strcasecmp(t->address, p->iss) == 0 && p->cnt <= t->cnt)
            return true;
    }
    return false;
}

static int verdict(struct osr_osk_result *out, enum osr_osk_status status, const char *reason)
{
    out->status = status;
    out->reason = reason;
    return status == OSR_OSK_VALID ? OSR_OK : OSR_EAUTH;
}

int osr_osk_verify(const char *token, size_t n, const struct osr_osk_ctx *ctx,
                   struct osr_osk_result *out)
{
    struct piece parts[3];
    struct osr_buf payload;
    uint8_t sig[OSR_IDENTITY_SIG_LEN], addr[OSR_IDENTITY_ADDR_LEN];
    int rc;

    memset(out, 0, sizeof(*out));
    osr_buf_init(&payload, OSR_OSK_MAX_LEN);
    if (!token || n > OSR_OSK_MAX_LEN || split_token(token, n, parts) != 3 ||
        parts[0].n != strlen(OSR_OSK_PREFIX) ||
        memcmp(parts[0].p, OSR_OSK_PREFIX, parts[0].n) != 0) {
        rc = verdict(out, OSR_OSK_INVALID, "Unrecognized token format");
        goto out;
    }
    if (b64url_decode(&parts[1], &payload) != OSR_OK) {
        rc = verdict(out, OSR_OSK_INVALID, "Invalid payload encoding");
        goto out;
    }
    if (parts[2].n != 2 * OSR_IDENTITY_SIG_LEN ||
        osr_hex_decode(sig, parts[2].p, OSR_IDENTITY_SIG_LEN) != OSR_OK) {
        rc = verdict(out, OSR_OSK_INVALID, "Invalid signature encoding");
        goto out;
    }
    if (osr_osk_payload_decode(payload.data ? payload.data : "", payload.len, &out->payload,
                               NULL) != OSR_OK) {
        osr_osk_payload_release(&out->payload);
        rc = verdict(out, OSR_OSK_INVALID, "Malformed payload");
        goto out;
    }
    out->decoded = true;
    if (osr_identity_recover(OSR_SIG_ACCESS, payload.data, payload.len, sig, addr) != OSR_OK) {
        rc = verdict(out, OSR_OSK_INVALID, "Signature recovery failed");
        goto out;
    }
    osr_identity_address_format(addr, out->issuer);
    const struct osr_osk_payload *p = &out->payload;
    if (strcasecmp(out->issuer, p->iss) != 0) {
        rc = verdict(out, OSR_OSK_INVALID, "Issuer mismatch");
        goto out;
    }
    bool aud_master = ctx->master_address && strcasecmp(p->aud, ctx->master_address) == 0;
    out->agent_scoped = !aud_master;
    if (!aud_master && !in_list(p->aud, ctx->agent_addresses, ctx->n_agent_addresses)) {
        rc = verdict(out, OSR_OSK_INVALID, "Audience mismatch");
        goto out;
    }
    bool listed = (ctx->master_address && strcasecmp(p->iss, ctx->master_address) == 0) ||
                  in_list(p->iss, ctx->agent_addresses, ctx->n_agent_addresses) ||
                  in_list(p->iss, ctx->whitelist, ctx->n_whitelist);
    if (!listed) {
        rc = verdict(out, OSR_OSK_INVALID, "Issuer not whitelisted");
        goto out;
    }
    if (is_revoked(ctx, p)) {
        rc = verdict(out, OSR_OSK_REVOKED, NULL);
        goto out;
    }
    if (p->has_exp && ctx->now >= p->exp) {
        rc = verdict(out, OSR_OSK_EXPIRED, NULL);
        goto out;
    }
    rc = verdict(out, OSR_OSK_VALID, NULL);
out:
    osr_buf_release(&payload);
    return rc;
}

void osr_osk_result_message(const struct osr_osk_result *r, char *out, size_t cap)
{
    if (!cap)
        return;
    switch (r->status) {
    case OSR_OSK_EXPIRED:
        snprintf(out, cap, "Access key has expired");
        break;
    case OSR_OSK_REVOKED:
        snprintf(out, cap, "Access key has been revoked");
        break;
    case OSR_OSK_INVALID:
        snprintf(out, cap, "Invalid access key: %s", r->reason ? r->reason : "unknown");
        break;
    case OSR_OSK_VALID:
    default:
        out[0] = 0;
    }
}

void osr_osk_result_release(struct osr_osk_result *r)
{
    osr_osk_payload_release(&r->payload);
    memset(r, 0, sizeof(*r));
}
