/* store_keys.c - where the storage data key (DEK) comes from.
 *
 * The key is 32 random bytes kept outside the data folders.  In order of precedence it comes
 * from the environment (64 hex digits), from a passphrase in the environment stretched with
 * PBKDF2-HMAC-SHA256 over a stored random salt, or from a 0600 key file under <home>/keys/.
 * This file reads, creates and wipes keys; it never logs them and never opens a database.
 */
#include <errno.h>
#include <fcntl.h>
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
#include "osr/store.h"
#include "osr/uuid.h"

void osr_store_keys_wipe(struct osr_store_keys *keys)
{
    if (keys)
        OPENSSL_cleanse(keys, sizeof(*keys));
}

int osr_store_key_derive(uint8_t out[OSR_STORE_KEY_BYTES], const char *passphrase,
                         const uint8_t *salt, size_t salt_len, struct osr_diag *diag)
{
    if (!passphrase || !*passphrase)
        return osr_diag_set(diag, OSR_EINVAL, "the storage passphrase is empty");
    if (PKCS5_PBKDF2_HMAC(passphrase, (int)strlen(passphrase), salt, (int)salt_len,
                          OSR_STORE_PBKDF2_ITERATIONS, EVP_sha256(), OSR_STORE_KEY_BYTES, out) != 1)
        return osr_diag_set(diag, OSR_EIO, "PBKDF2 failed");
    return OSR_OK;
}

/* Parses exactly 64 hex digits, allowing trailing whitespace (a newline from an editor). */
static int parse_hex_key(uint8_t out[OSR_STORE_KEY_BYTES], const char *s, size_t n)
{
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n != 2 * OSR_STORE_KEY_BYTES)
        return OSR_EINVAL;
    return osr_hex_decode(out, s, OSR_STORE_KEY_BYTES);
}

int osr_store_key_read_file(uint8_t out[OSR_STORE_KEY_BYTES], const char *path,
                            struct osr_diag *diag)
{
    char buf[256];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return osr_diag_set(diag, OSR_ENOTFOUND, "no key file '%s'", path);
        return osr_diag_set(diag, OSR_EIO, "cannot open '%s': %s", path, strerror(errno));
    }
    int rc = OSR_OK;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = osr_diag_set(diag, OSR_EIO, "cannot stat '%s': %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = osr_diag_set(diag, OSR_EINVAL, "'%s' is not a regular file", path);
        goto out;
    }
    if (st.st_mode & 077) {
        rc = osr_diag_set(diag, OSR_EPERM,
                          "'%s' is readable by others (mode %03o); run 'chmod 600 %s'", path,
                          (unsigned)(st.st_mode & 0777), path);
        goto out;
    }
    size_t got = 0;
    while (got < sizeof(buf)) {
        ssize_t r = read(fd, buf + got, sizeof(buf) - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = osr_diag_set(diag, OSR_EIO, "cannot read '%s': %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    if (parse_hex_key(out, buf, got) != OSR_OK)
        rc = osr_diag_set(diag, OSR_EINVAL, "'%s' must hold 64 hex digits", path);
out:
    OPENSSL_cleanse(buf, sizeof(buf));
    close(fd);
    return rc;
}

int osr_store_key_write_file(const uint8_t key[OSR_STORE_KEY_BYTES], const char *path,
                             struct osr_diag *diag)
{
    char text[2 * OSR_STORE_KEY_BYTES + 2];
    osr_hex_write(text, key, OSR_STORE_KEY_BYTES);
    text[2 * OSR_STORE_KEY_BYTES] = '\n';
    text[2 * OSR_STORE_KEY_BYTES + 1] = '\0';
    int rc = osr_write_file_atomic(path, text, 2 * OSR_STORE_KEY_BYTES + 1, 0600, diag);
    if (!rc && chmod(path, 0600) != 0)
        rc = osr_diag_set(diag, OSR_EIO, "cannot chmod '%s': %s", path, strerror(errno));
    OPENSSL_cleanse(text, sizeof(text));
    return rc;
}

/* Reads (or creates) the passphrase salt <home>/.storage-key.salt: 32 hex digits. */
static int load_salt(const char *home, uint8_t salt[OSR_STORE_SALT_BYTES], bool create,
                     struct osr_diag *diag)
{
    char *path = osr_path_join(home, ".storage-key.salt");
    char *text = NULL;
    size_t len = 0;
    int rc = osr_read_file(path, 256, &text, &len, diag);
    if (rc == OSR_ENOTFOUND && create) {
        osr_diag_clear(diag);
        char hex[2 * OSR_STORE_SALT_BYTES + 2];
        rc = osr_random_bytes(salt, OSR_STORE_SALT_BYTES);
        if (rc) {
            rc = osr_diag_set(diag, rc, "cannot draw random bytes");
            goto out;
        }
        osr_hex_write(hex, salt, OSR_STORE_SALT_BYTES);
        hex[2 * OSR_STORE_SALT_BYTES] = '\n';
        rc = osr_mkdir_p(home, 0700, diag);
        if (!rc)
            rc = osr_write_file_atomic(path, hex, 2 * OSR_STORE_SALT_BYTES + 1, 0600, diag);
        goto out;
    }
    if (rc)
        goto out;
    while (len && (text[len - 1] == '\n' || text[len - 1] == ' ' || text[len - 1] == '\r'))
        len--;
    if (len != 2 * OSR_STORE_SALT_BYTES ||
        osr_hex_decode(salt, text, OSR_STORE_SALT_BYTES) != OSR_OK)
        rc = osr_diag_set(diag, OSR_EINVAL, "'%s' must hold %d hex digits", path,
                          2 * OSR_STORE_SALT_BYTES);
out:
    free(text);
    free(path);
    return rc;
}

int osr_store_keys_load(struct osr_store_keys *keys, const char *home, bool create,
                        struct osr_diag *diag)
{
    memset(keys, 0, sizeof(*keys));
    char *kdir = osr_path_join(home, "keys");
    char *kfile = osr_path_join(kdir, "storage.key");
    char *knext = osr_path_join(kdir, "storage.key.next");
    int rc = OSR_OK;

    const char *env = getenv(OSR_STORE_KEY_ENV);
    const char *pass = getenv(OSR_STORE_PASSPHRASE_ENV);
    if (env && *env) {
        if (parse_hex_key(keys->key, env, strlen(env)) != OSR_OK) {
            rc = osr_diag_set(diag, OSR_EINVAL, "$%s must be 64 hex digits", OSR_STORE_KEY_ENV);
            goto out;
        }
        keys->has_key = true;
        snprintf(keys->source, sizeof(keys->source), "env");
    } else if (pass && *pass) {
        uint8_t salt[OSR_STORE_SALT_BYTES];
        rc = load_salt(home, salt, create, diag);
        if (rc == OSR_ENOTFOUND) {
            /* A passphrase without its salt cannot be the key the data is under. */
            rc = osr_diag_set(diag, OSR_ENOTFOUND,
                              "$%s is set but '%s/.storage-key.salt' is missing",
                              OSR_STORE_PASSPHRASE_ENV, home);
            goto out;
        }
        if (rc)
            goto out;
        rc = osr_store_key_derive(keys->key, pass, salt, sizeof(salt), diag);
        if (rc)
            goto out;
        keys->has_key = true;
        snprintf(keys->source, sizeof(keys->source), "passphrase");
    } else {
        rc = osr_store_key_read_file(keys->key, kfile, diag);
        if (rc == OSR_ENOTFOUND && create) {
            osr_diag_clear(diag);
            rc = osr_random_bytes(keys->key, OSR_STORE_KEY_BYTES);
            if (rc) {
                rc = osr_diag_set(diag, rc, "cannot draw random bytes");
                goto out;
            }
            rc = osr_mkdir_p(kdir, 0700, diag);
            if (!rc)
                rc = osr_store_key_write_file(keys->key, kfile, diag);
            if (rc)
                goto out;
        } else if (rc == OSR_ENOTFOUND) {
            osr_diag_clear(diag);
            rc = OSR_OK;
            goto next;
        } else if (rc) {
            goto out;
        }
        keys->has_key = true;
        snprintf(keys->source, sizeof(keys->source), "file");
    }
next:
    rc = osr_store_key_read_file(keys->next, knext, diag);
    if (rc == OSR_OK) {
        keys->has_next = true;
    } else if (rc == OSR_ENOTFOUND) {
        osr_diag_clear(diag);
        rc = OSR_OK;
    }
out:
    if (rc)
        osr_store_keys_wipe(keys);
    free(knext);
    free(kfile);
    free(kdir);
    return rc;
}
