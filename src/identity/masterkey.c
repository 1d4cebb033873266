/* masterkey.c - loading and storing the master key file.
 *
 * Does file handling and permission checks only; the key's meaning (addresses, signatures,
 * the BIP39 backup) lives in identity.c and bip39.c.  Every buffer that held the key or its
 * hex form is wiped before it is freed or goes out of scope.
 */
#include "osr/masterkey.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "osr/codec.h"
#include "osr/config.h"
#include "osr/identity.h"
#include "osr/uuid.h"

#define KEY_FILE_MAX 128 /* the file holds 65 bytes; anything much longer is not ours */

char *osr_masterkey_path(const char *home)
{
    char *dir = osr_path_join(home, "identity");
    char *path = osr_path_join(dir, "master.key");
    free(dir);
    return path;
}

int osr_masterkey_load(const char *home, uint8_t key[OSR_MASTERKEY_LEN], struct osr_diag *diag)
{
    char *path = osr_masterkey_path(home);
    char text[KEY_FILE_MAX + 1];
    size_t len = 0;
    int fd = -1, rc = OSR_OK;

    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            rc = osr_diag_set(diag, OSR_ENOTFOUND, "no master key at '%s'", path);
        else if (errno == ELOOP)
            rc = osr_diag_set(diag, OSR_EPERM, "refusing '%s': it is a symbolic link", path);
        else
            rc = osr_diag_set(diag, OSR_EIO, "cannot open '%s': %s", path, strerror(errno));
        goto out;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = osr_diag_set(diag, OSR_EIO, "cannot stat '%s': %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = osr_diag_set(diag, OSR_EPERM, "refusing '%s': not a regular file", path);
        goto out;
    }
    if (st.st_uid != geteuid()) {
        rc = osr_diag_set(diag, OSR_EPERM, "refusing '%s': owned by uid %u, not by us (uid %u)",
                          path, (unsigned)st.st_uid, (unsigned)geteuid());
        goto out;
    }
    if (st.st_mode & 077) {
        rc = osr_diag_set(diag, OSR_EPERM,
                          "refusing '%s': mode %04o lets group or others read it; "
                          "run 'chmod 600 %s' if you trust its content",
                          path, (unsigned)(st.st_mode & 07777), path);
        goto out;
    }
    for (;;) {
        ssize_t got = read(fd, text + len, sizeof(text) - 1 - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = osr_diag_set(diag, OSR_EIO, "cannot read '%s': %s", path, strerror(errno));
            goto out;
        }
        if (got == 0)
            break;
        len += (size_t)got;
        if (len == sizeof(text) - 1)
            break;
    }
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
        len--;
    if (len != 2 * OSR_MASTERKEY_LEN || osr_hex_decode(key, text, OSR_MASTERKEY_LEN) != OSR_OK) {
        rc = osr_diag_set(diag, OSR_ECORRUPT, "'%s' does not hold 64 hex digits", path);
        goto out;
    }
    if (osr_identity_seckey_check(key) != OSR_OK) {
        rc = osr_diag_set(diag, OSR_ECORRUPT, "'%s' does not hold a valid secp256k1 key", path);
        goto out;
    }
out:
    if (rc)
        OPENSSL_cleanse(key, OSR_MASTERKEY_LEN);
    OPENSSL_cleanse(text, sizeof(text));
    if (fd >= 0)
        close(fd);
    free(path);
    return rc;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return OSR_EIO;
    int rc = fsync(fd) == 0 ? OSR_OK : OSR_EIO;
    close(fd);
    return rc;
}

/* Writes the hex key to a fresh 0600 temp file and fsyncs it. */
static int write_temp(const char *tmp, const uint8_t key[OSR_MASTERKEY_LEN], struct osr_diag *diag)
{
    char text[2 * OSR_MASTERKEY_LEN + 2];
    osr_hex_write(text, key, OSR_MASTERKEY_LEN);
    text[2 * OSR_MASTERKEY_LEN] = '\n';
    text[2 * OSR_MASTERKEY_LEN + 1] = 0;
    int rc = OSR_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = osr_diag_set(diag, OSR_EIO, "cannot create '%s': %s", tmp, strerror(errno));
        goto out;
    }
    size_t off = 0, n = sizeof(text) - 1;
    while (off < n) {
        ssize_t w = write(fd, text + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = osr_diag_set(diag, OSR_EIO, "cannot write '%s': %s", tmp, strerror(errno));
            goto out;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0)
        rc = osr_diag_set(diag, OSR_EIO, "cannot sync '%s': %s", tmp, strerror(errno));
out:
    if (fd >= 0 && close(fd) != 0 && !rc)
        rc = osr_diag_set(diag, OSR_EIO, "cannot close '%s': %s", tmp, strerror(errno));
    OPENSSL_cleanse(text, sizeof(text));
    return rc;
}

int osr_masterkey_store(const char *home, const uint8_t key[OSR_MASTERKEY_LEN], bool replace,
                        struct osr_diag *diag)
{
    char *dir = osr_path_join(home, "identity");
    char *path = osr_path_join(dir, "master.key");
    char tmp[4096], aside[4096];
    bool tmp_made = false;
    int rc;

    if (osr_identity_seckey_check(key) != OSR_OK) {
        rc = osr_diag_set(diag, OSR_EINVAL, "refusing to store an invalid secp256k1 key");
        goto out;
    }
    rc = osr_mkdir_p(dir, 0700, diag);
    if (rc)
        goto out;
    snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", path, (long)getpid());
    (void)unlink(tmp); /* a leftover of a crashed run of this same pid: never a key in use */
    rc = write_temp(tmp, key, diag);
    if (rc)
        goto out;
    tmp_made = true;

    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!replace) {
            rc = osr_diag_set(diag, OSR_EEXIST, "a master key exists already at '%s'", path);
            goto out;
        }
        snprintf(aside, sizeof(aside), "%s.replaced-%lld", path, (long long)time(NULL));
        if (rename(path, aside) != 0) {
            rc = osr_diag_set(diag, OSR_EIO, "cannot move '%s' aside: %s", path, strerror(errno));
            goto out;
        }
    }
    /* link(2) fails when the name exists, so a concurrent creator cannot be overwritten. */
    if (link(tmp, path) != 0) {
        if (errno == EEXIST)
            rc = osr_diag_set(diag, OSR_EEXIST, "a master key exists already at '%s'", path);
        else
            rc = osr_diag_set(diag, OSR_EIO, "cannot create '%s': %s", path, strerror(errno));
        goto out;
    }
    if (fsync_dir(dir) != OSR_OK)
        rc = osr_diag_set(diag, OSR_EIO, "cannot sync '%s': %s", dir, strerror(errno));
out:
    if (tmp_made)
        (void)unlink(tmp);
    free(path);
    free(dir);
    return rc;
}

int osr_masterkey_create(const char *home, uint8_t key[OSR_MASTERKEY_LEN], struct osr_diag *diag)
{
    int rc;
    /* A random 256-bit string is a valid scalar except with probability about 2^-128. */
    do {
        rc = osr_random_bytes(key, OSR_MASTERKEY_LEN);
        if (rc) {
            rc = osr_diag_set(diag, rc, "cannot get random bytes for a new key");
            goto out;
        }
    } while (osr_identity_seckey_check(key) != OSR_OK);
    rc = osr_masterkey_store(home, key, false, diag);
out:
    if (rc)
        OPENSSL_cleanse(key, OSR_MASTERKEY_LEN);
    return rc;
}
