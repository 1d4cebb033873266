/* masterkey.h - the master key file: <home>/identity/master.key.
 *
 * The master key is 32 random bytes that form a valid secp256k1 private key.  On Linux there
 * is no Keychain, so it lives in a file readable by its owner only: 64 lower-case hex digits
 * and a newline, mode 0600, in a 0700 folder.  A file that group or others may read, that is
 * not a regular file (a symlink, say) or that belongs to another user is refused with a clear
 * error rather than used.  The key is never overwritten in place: replacing it moves the old
 * file aside first (master.key.replaced-<unix time>), as nothing is ever deleted.
 *
 * Keys are caller-owned 32-byte buffers; the caller wipes them with OPENSSL_cleanse.  Nothing
 * here logs key material.
 *
 * Thread rules: functions are reentrant; two processes creating a key at the same moment are
 * resolved by link(2): one wins, the other gets OSR_EEXIST.
 */
#ifndef OSR_MASTERKEY_H
#define OSR_MASTERKEY_H

#include <stdbool.h>
#include <stdint.h>

#include "osr/err.h"

#define OSR_MASTERKEY_LEN 32

/* Returns "<home>/identity/master.key"; the caller frees it with free(). */
char *osr_masterkey_path(const char *home);

/* Loads the key.  OSR_ENOTFOUND when there is no key file yet; OSR_EPERM for a file with
 * loose permissions, another owner or not a regular file; OSR_ECORRUPT when the content is
 * not a valid key; OSR_EIO for an OS error.  diag says which file and why. */
int osr_masterkey_load(const char *home, uint8_t key[OSR_MASTERKEY_LEN], struct osr_diag *diag);

/* Writes key as the master key (crash-safe: temp file, fsync, link, fsync of the folder).
 * When a key file exists: OSR_EEXIST unless replace, in which case the old file is renamed to
 * master.key.replaced-<unix time> first.  OSR_EINVAL when key is not a valid secp256k1 key. */
int osr_masterkey_store(const char *home, const uint8_t key[OSR_MASTERKEY_LEN], bool replace,
                        struct osr_diag *diag);

/* Generates a new random key and stores it (never replacing one).  OSR_EEXIST when a key
 * exists already. */
int osr_masterkey_create(const char *home, uint8_t key[OSR_MASTERKEY_LEN], struct osr_diag *diag);

#endif
