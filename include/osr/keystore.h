/* keystore.h - access-key metadata, revocations and the device counter, in files.
 *
 * The original keeps these in the macOS Keychain; here they are small JSON files beside the
 * master key, mode 0600, written atomically:
 *     <home>/identity/access-keys.json   [{id, label, prefix, nonce, cnt, iss, aud, createdAt,
 *                                          expiration, expiresAt?, revoked}]  (the original's
 *                                          AccessKeyInfo field names, ISO 8601 dates)
 *     <home>/identity/revocations.json   {"revokedKeys":["<address lower>:<nonce>", ...],
 *                                         "counterThresholds":{"<address lower>": N, ...}}
 *     <home>/identity/whitelist.json     ["0x...", ...]   (optional, read only)
 *     <home>/identity/device-counter     decimal, the last counter value handed out
 * Only metadata is stored: never a full key or a signature.  A missing file reads as empty;
 * a damaged one is OSR_ECORRUPT and is never overwritten.  Writers take an exclusive lock on
 * <home>/identity/.keys.lock around load-modify-save.
 *
 * Thread rules: a struct osr_keystore belongs to one thread.  Processes serialise through the
 * lock file.
 */
#ifndef OSR_KEYSTORE_H
#define OSR_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "osr/err.h"
#include "osr/osk.h"

#define OSR_KEYSTORE_MAX_KEYS 10000
#define OSR_KEYSTORE_FILE_MAX (8u << 20)

struct osr_keystore {
    struct osr_osk_info *keys; /* owned */
    size_t n_keys;
    struct osr_osk_revoked *revoked; /* owned, strings too */
    size_t n_revoked;
    struct osr_osk_threshold *thresholds; /* owned, strings too */
    size_t n_thresholds;
    char **whitelist; /* owned */
    size_t n_whitelist;
    uint64_t counter;
};

/* Takes the store's exclusive lock (blocking); *fd receives the lock's descriptor, released
 * with osr_keystore_unlock.  Creates <home>/identity when needed. */
int osr_keystore_lock(const char *home, int *fd, struct osr_diag *diag);
void osr_keystore_unlock(int fd);

/* Loads the store (missing files are empty).  OSR_ECORRUPT names the damaged file.  *ks is
 * released by the caller with osr_keystore_release, also on failure. */
int osr_keystore_load(const char *home, struct osr_keystore *ks, struct osr_diag *diag);

/* Writes access-keys.json, revocations.json and device-counter (not the whitelist). */
int osr_keystore_save(const char *home, const struct osr_keystore *ks, struct osr_diag *diag);

void osr_keystore_release(struct osr_keystore *ks);

/* Returns the next device counter value (and remembers it; saved with osr_keystore_save). */
uint64_t osr_keystore_next_counter(struct osr_keystore *ks);

/* Appends a copy of info.  OSR_ETOOBIG past OSR_KEYSTORE_MAX_KEYS. */
int osr_keystore_add(struct osr_keystore *ks, const struct osr_osk_info *info);

/* Finds a key by its id or a unique prefix of it (at least 4 characters).  Returns the index,
 * OSR_ENOTFOUND, or OSR_EINVAL when the prefix matches several keys or is too short. */
int osr_keystore_find(const struct osr_keystore *ks, const char *id_prefix);

/* Revokes one key: records "<iss lower>:<nonce>" and marks the metadata revoked. */
int osr_keystore_revoke(struct osr_keystore *ks, size_t index);

/* Revokes every key of an issuer minted so far: the issuer's counter threshold becomes the
 * current device counter, and its keys' metadata are marked revoked.  Returns how many keys
 * were newly marked. */
size_t osr_keystore_revoke_all(struct osr_keystore *ks, const char *address);

/* Fills ctx->revoked, thresholds and whitelist with views into ks (valid while ks is), and
 * leaves the other fields as the caller set them. */
void osr_keystore_fill_ctx(const struct osr_keystore *ks, struct osr_osk_ctx *ctx);

#endif
