/* osec.c - the .osec AES-256-GCM envelope and the content-addressed blob folder.
 *
 * Sealing and opening go through OpenSSL's EVP interface.  The reader treats every file as
 * hostile: sizes are checked before anything is allocated, and no plaintext leaves this file
 * unless the GCM tag verified.  This file does not know where keys come from (store_keys.c)
 * or what the blobs hold (history.c).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "osr/alloc.h"
#include "osr/codec.h"
#include "osr/config.h"
#include "osr/osec.h"
#include "osr/uuid.h"

_Static_assert(OSR_OSEC_OVERHEAD == 29, "version + nonce + tag");

/* EVP lengths are ints; a blob past this is refused rather than split. */
#define OSEC_MAX_CHUNK ((size_t)INT_MAX - 64)

int osr_osec_seal(const uint8_t key[32], const void *pt, size_t n, struct osr_buf *out,
                  struct osr_diag *diag)
{
    if (n > OSEC_MAX_CHUNK)
        return osr_diag_set(diag, OSR_ETOOBIG, "%zu bytes is too large to seal", n);
    size_t total;
    if (!osr_size_add(n, OSR_OSEC_OVERHEAD, &total) || out->len + total > out->max)
        return osr_diag_set(diag, OSR_ETOOBIG, "sealed data would pass the buffer's cap");
    uint8_t head[1 + OSR_OSEC_NONCE_BYTES];
    head[0] = OSR_OSEC_VERSION;
    if (osr_random_bytes(head + 1, OSR_OSEC_NONCE_BYTES) != OSR_OK)
        return osr_diag_set(diag, OSR_EIO, "cannot draw a nonce");
    uint8_t *ct = malloc(n ? n : 1); /* never NULL: EVP is given ct + 0 for empty input */
    if (!ct)
        return osr_diag_set(diag, OSR_ENOMEM, "cannot allocate %zu bytes", n);
    uint8_t tag[OSR_OSEC_TAG_BYTES];
    int rc = OSR_EIO;
    int outl = 0, finl = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        goto out;
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, OSR_OSEC_NONCE_BYTES, NULL) != 1 ||
        EVP_EncryptInit_ex(ctx, NULL, NULL, key, head + 1) != 1)
        goto out;
    if (n && EVP_EncryptUpdate(ctx, ct, &outl, pt, (int)n) != 1)
        goto out;
    if (EVP_EncryptFinal_ex(ctx, ct + outl, &finl) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, OSR_OSEC_TAG_BYTES, tag) != 1)
        goto out;
    OSR_ASSERT((size_t)(outl + finl) == n);
    if (osr_buf_append(out, head, sizeof(head)) || osr_buf_append(out, ct, n) ||
        osr_buf_append(out, tag, sizeof(tag))) {
        rc = OSR_ETOOBIG; /* checked above; kept for safety */
        goto out;
    }
    rc = OSR_OK;
out:
    if (rc == OSR_EIO)
        osr_diag_set(diag, OSR_EIO, "AES-256-GCM sealing failed");
    EVP_CIPHER_CTX_free(ctx);
    free(ct);
    return rc;
}

int osr_osec_open(const uint8_t key[32], const void *env, size_t n, struct osr_buf *out,
                  struct osr_diag *diag)
{
    const uint8_t *p = env;
    if (n < OSR_OSEC_OVERHEAD)
        return osr_diag_set(diag, OSR_ECORRUPT,
                            "sealed data is truncated (%zu bytes, at least %d needed)", n,
                            OSR_OSEC_OVERHEAD);
    if (p[0] != OSR_OSEC_VERSION)
        return osr_diag_set(diag, OSR_EUNSUPPORTED, "unknown .osec version %u", p[0]);
    size_t ctlen = n - OSR_OSEC_OVERHEAD;
    if (ctlen > OSEC_MAX_CHUNK)
        return osr_diag_set(diag, OSR_ETOOBIG, "sealed data of %zu bytes is too large", n);
    if (out->len + ctlen > out->max)
        return osr_diag_set(diag, OSR_ETOOBIG, "plaintext of %zu bytes passes the cap of %zu",
                            ctlen, out->max);
    const uint8_t *nonce = p + 1;
    const uint8_t *ct = p + 1 + OSR_OSEC_NONCE_BYTES;
    uint8_t tag[OSR_OSEC_TAG_BYTES];
    memcpy(tag, p + n - OSR_OSEC_TAG_BYTES, sizeof(tag));
    uint8_t *pt = malloc(ctlen ? ctlen : 1);
    if (!pt)
        return osr_diag_set(diag, OSR_ENOMEM, "cannot allocate %zu bytes", ctlen);
    int rc = OSR_EIO;
    int outl = 0, finl = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        goto out;
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, OSR_OSEC_NONCE_BYTES, NULL) != 1 ||
        EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) != 1)
        goto out;
    if (ctlen && EVP_DecryptUpdate(ctx, pt, &outl, ct, (int)ctlen) != 1)
        goto out;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, OSR_OSEC_TAG_BYTES, tag) != 1)
        goto out;
    if (EVP_DecryptFinal_ex(ctx, pt + outl, &finl) != 1) {
        rc = OSR_EAUTH;
        goto out;
    }
    OSR_ASSERT((size_t)(outl + finl) == ctlen);
    rc = osr_buf_append(out, pt, ctlen) ? OSR_ETOOBIG : OSR_OK;
out:
    if (rc == OSR_EAUTH)
        osr_diag_set(diag, OSR_EAUTH,
                     "sealed data does not verify (tampered, truncated, or another key)");
    else if (rc == OSR_EIO)
        osr_diag_set(diag, OSR_EIO, "AES-256-GCM opening failed");
    EVP_CIPHER_CTX_free(ctx);
    OPENSSL_cleanse(pt, ctlen ? ctlen : 1);
    free(pt);
    return rc;
}

static char *with_suffix(const char *path)
{
    size_t a = strlen(path);
    char *p = osr_xmalloc(a + sizeof(OSR_OSEC_SUFFIX));
    memcpy(p, path, a);
    memcpy(p + a, OSR_OSEC_SUFFIX, sizeof(OSR_OSEC_SUFFIX));
    return p;
}

int osr_osec_write_file(const char *path, const uint8_t *key, const void *data, size_t n,
                        struct osr_diag *diag)
{
    if (!key)
        return osr_write_file_atomic(path, data, n, 0600, diag);
    struct osr_buf env;
    size_t cap;
    if (!osr_size_add(n, OSR_OSEC_OVERHEAD, &cap))
        return osr_diag_set(diag, OSR_ETOOBIG, "%zu bytes is too large to seal", n);
    osr_buf_init(&env, cap);
    char *sealed = with_suffix(path);
    int rc = osr_osec_seal(key, data, n, &env, diag);
    if (!rc)
        rc = osr_write_file_atomic(sealed, env.data, env.len, 0600, diag);
    free(sealed);
    osr_buf_release(&env);
    return rc;
}

int osr_osec_read_file(const char *path, const uint8_t *key, size_t max, char **out, size_t *len,
                       struct osr_diag *diag)
{
    *out = NULL;
    *len = 0;
    int rc = osr_read_file(path, max, out, len, diag);
    if (rc != OSR_ENOTFOUND)
        return rc;
    osr_diag_clear(diag);
    char *sealed = with_suffix(path);
    char *env = NULL;
    size_t env_len = 0;
    size_t env_max = max > SIZE_MAX - OSR_OSEC_OVERHEAD ? SIZE_MAX : max + OSR_OSEC_OVERHEAD;
    rc = osr_read_file(sealed, env_max, &env, &env_len, diag);
    if (rc)
        goto out;
    if (!key) {
        rc = osr_diag_set(diag, OSR_EAUTH, "'%s' is encrypted and no storage key is available",
                          sealed);
        goto out;
    }
    struct osr_buf pt;
    osr_buf_init(&pt, max);
    rc = osr_osec_open(key, env, env_len, &pt, diag);
    if (rc) {
        osr_buf_release(&pt);
        char why[OSR_DIAG_MAX];
        snprintf(why, sizeof(why), "%s", diag ? diag->msg : "");
        rc = osr_diag_set(diag, rc, "cannot read '%s': %s", sealed, why);
        goto out;
    }
    osr_buf_puts(&pt, ""); /* make sure data is allocated for an empty file */
    *out = osr_buf_detach(&pt, len);
out:
    free(env);
    free(sealed);
    return rc;
}

void osr_osec_sha256_hex(const void *p, size_t n, char out[OSR_SHA256_HEX + 1])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    int ok = EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL);
    OSR_ASSERT(ok == 1 && mdlen == 32);
    osr_hex_write(out, md, 32);
    out[OSR_SHA256_HEX] = '\0';
}

static bool valid_sha(const char *s)
{
    if (!s || strlen(s) != OSR_SHA256_HEX)
        return false;
    for (size_t i = 0; i < OSR_SHA256_HEX; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

int osr_osec_blob_put(const char *dir, const uint8_t *key, const void *data, size_t n,
                      char sha_hex[OSR_SHA256_HEX + 1], struct osr_diag *diag)
{
    osr_osec_sha256_hex(data, n, sha_hex);
    int rc = osr_mkdir_p(dir, 0700, diag);
    if (rc)
        return rc;
    char *path = osr_path_join(dir, sha_hex);
    char *sealed = with_suffix(path);
    struct stat st;
    /* Content addressed: a copy in either form is the same bytes. */
    if (stat(path, &st) == 0 || stat(sealed, &st) == 0)
        rc = OSR_OK;
    else
        rc = osr_osec_write_file(path, key, data, n, diag);
    free(sealed);
    free(path);
    return rc;
}

int osr_osec_blob_get(const char *dir, const uint8_t *key, const char *sha_hex, size_t max,
                      char **out, size_t *len, struct osr_diag *diag)
{
    *out = NULL;
    *len = 0;
    if (!valid_sha(sha_hex))
        return osr_diag_set(diag, OSR_EINVAL, "'%s' is not a blob name (64 lowercase hex)",
                            sha_hex ? sha_hex : "(null)");
    char *path = osr_path_join(dir, sha_hex);
    int rc = osr_osec_read_file(path, key, max, out, len, diag);
    if (!rc) {
        char got[OSR_SHA256_HEX + 1];
        osr_osec_sha256_hex(*out, *len, got);
        if (strcmp(got, sha_hex) != 0) {
            free(*out);
            *out = NULL;
            *len = 0;
            rc = osr_diag_set(diag, OSR_ECORRUPT, "blob '%s' does not match its name", path);
        }
    }
    free(path);
    return rc;
}

/* Reads one blob in whichever form name has (plain or ".osec") and checks its hash. */
static int load_blob(const char *dir, const char *name, const uint8_t *key, const uint8_t *alt,
                     char **out, size_t *len, struct osr_diag *diag)
{
    char *path = osr_path_join(dir, name);
    char sha[OSR_SHA256_HEX + 1];
    memcpy(sha, name, OSR_SHA256_HEX);
    sha[OSR_SHA256_HEX] = '\0';
    int rc;
    if (strlen(name) == OSR_SHA256_HEX) {
        rc = osr_read_file(path, OSR_OSEC_BLOB_MAX, out, len, diag);
    } else {
        char *env = NULL;
        size_t env_len = 0;
        rc = osr_read_file(path, OSR_OSEC_BLOB_MAX + OSR_OSEC_OVERHEAD, &env, &env_len, diag);
        if (!rc) {
            struct osr_buf pt;
            osr_buf_init(&pt, OSR_OSEC_BLOB_MAX);
            rc = key ? osr_osec_open(key, env, env_len, &pt, diag) : OSR_EAUTH;
            if (rc == OSR_EAUTH && alt) {
                osr_buf_reset(&pt);
                rc = osr_osec_open(alt, env, env_len, &pt, diag);
            }
            if (!rc) {
                osr_buf_puts(&pt, "");
                *out = osr_buf_detach(&pt, len);
            } else {
                osr_buf_release(&pt);
                char why[OSR_DIAG_MAX];
                snprintf(why, sizeof(why), "%s", diag ? diag->msg : "");
                rc = osr_diag_set(diag, rc, "cannot read '%s': %s", path, why);
            }
            free(env);
        }
    }
    if (!rc) {
        char got[OSR_SHA256_HEX + 1];
        osr_osec_sha256_hex(*out, *len, got);
        if (strcmp(got, sha) != 0) {
            free(*out);
            *out = NULL;
            rc = osr_diag_set(diag, OSR_ECORRUPT, "blob '%s' does not match its name", path);
        }
    }
    free(path);
    return rc;
}

/* True when the sealed file at path opens under key (used to skip finished work). */
static bool opens_with(const char *path, const uint8_t *key)
{
    char *env = NULL;
    size_t env_len = 0;
    if (osr_read_file(path, OSR_OSEC_BLOB_MAX + OSR_OSEC_OVERHEAD, &env, &env_len, NULL))
        return false;
    struct osr_buf pt;
    osr_buf_init(&pt, OSR_OSEC_BLOB_MAX);
    bool ok = osr_osec_open(key, env, env_len, &pt, NULL) == OSR_OK;
    osr_buf_release(&pt);
    free(env);
    return ok;
}

static int convert_one(const char *dir, const char *name, const uint8_t *key, const uint8_t *alt,
                       const uint8_t *to_key, bool *done, struct osr_diag *diag)
{
    *done = false;
    bool sealed = strlen(name) > OSR_SHA256_HEX;
    char sha[OSR_SHA256_HEX + 1];
    memcpy(sha, name, OSR_SHA256_HEX);
    sha[OSR_SHA256_HEX] = '\0';
    char *plain_path = osr_path_join(dir, sha);
    char *sealed_path = with_suffix(plain_path);
    char *data = NULL;
    size_t len = 0;
    int rc = OSR_OK;
    struct stat st;
    if (!sealed && !to_key)
        goto out; /* already plaintext */
    if (sealed && to_key && opens_with(sealed_path, to_key))
        goto out; /* already under the target key */
    if (sealed && !to_key && stat(plain_path, &st) == 0) {
        /* A plaintext twin exists (a decrypt was interrupted after writing it): check it,
         * then the sealed copy is redundant. */
        rc = load_blob(dir, sha, NULL, NULL, &data, &len, diag);
        if (!rc && unlink(sealed_path) != 0)
            rc =
                osr_diag_set(diag, OSR_EIO, "cannot remove '%s': %s", sealed_path, strerror(errno));
        *done = rc == OSR_OK;
        goto out;
    }
    if (!sealed && to_key && stat(sealed_path, &st) == 0 && opens_with(sealed_path, to_key)) {
        /* An encrypt was interrupted after sealing: the plaintext copy is redundant. */
        rc = load_blob(dir, sha, NULL, NULL, &data, &len, diag);
        if (!rc && unlink(plain_path) != 0)
            rc = osr_diag_set(diag, OSR_EIO, "cannot remove '%s': %s", plain_path, strerror(errno));
        *done = rc == OSR_OK;
        goto out;
    }
    rc = load_blob(dir, name, key, alt, &data, &len, diag);
    if (rc)
        goto out;
    rc = osr_osec_write_file(plain_path, to_key, data, len, diag);
    if (rc)
        goto out;
    /* Read the new form back before the old one goes. */
    char new_name[OSR_SHA256_HEX + sizeof(OSR_OSEC_SUFFIX)];
    snprintf(new_name, sizeof(new_name), "%s%s", sha, to_key ? OSR_OSEC_SUFFIX : "");
    char *check = NULL;
    size_t check_len = 0;
    rc = load_blob(dir, new_name, to_key, NULL, &check, &check_len, diag);
    free(check);
    if (rc)
        goto out;
    if (to_key && !sealed && unlink(plain_path) != 0)
        rc = osr_diag_set(diag, OSR_EIO, "cannot remove '%s': %s", plain_path, strerror(errno));
    if (!to_key && sealed && unlink(sealed_path) != 0)
        rc = osr_diag_set(diag, OSR_EIO, "cannot remove '%s': %s", sealed_path, strerror(errno));
    *done = rc == OSR_OK;
out:
    if (data)
        OPENSSL_cleanse(data, len);
    free(data);
    free(sealed_path);
    free(plain_path);
    return rc;
}

int osr_osec_blob_dir_convert(const char *dir, const uint8_t *key, const uint8_t *alt,
                              const uint8_t *to_key, size_t *n_done, struct osr_diag *diag)
{
    *n_done = 0;
    struct dirent **list = NULL;
    int n = scandir(dir, &list, NULL, alphasort);
    if (n < 0) {
        if (errno == ENOENT)
            return OSR_OK;
        return osr_diag_set(diag, OSR_EIO, "cannot list '%s': %s", dir, strerror(errno));
    }
    int rc = OSR_OK;
    for (int i = 0; i < n; i++) {
        const char *name = list[i]->d_name;
        size_t len = strlen(name);
        char sha[OSR_SHA256_HEX + 1];
        bool is_blob = false;
        if (len == OSR_SHA256_HEX || (len == OSR_SHA256_HEX + strlen(OSR_OSEC_SUFFIX) &&
                                      strcmp(name + OSR_SHA256_HEX, OSR_OSEC_SUFFIX) == 0)) {
            memcpy(sha, name, OSR_SHA256_HEX);
            sha[OSR_SHA256_HEX] = '\0';
            is_blob = valid_sha(sha);
        }
        if (!rc && is_blob) {
            bool done = false;
            rc = convert_one(dir, name, key, alt, to_key, &done, diag);
            if (done)
                (*n_done)++;
        }
        free(list[i]);
    }
    free(list);
    return rc;
}
