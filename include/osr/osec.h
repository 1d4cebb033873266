/* osec.h - the .osec envelope (AES-256-GCM with the storage data key) and the
 * content-addressed blob folder.
 *
 * Layout, bit-compatible with the original: byte 0 = version 0x01, bytes 1..12 = a random
 * nonce, then the ciphertext, then the 16-byte GCM tag; no associated data.  An encrypted file
 * is named like its plaintext twin plus ".osec"; readers prefer the plaintext twin when both
 * exist.  Blobs live in <dir>/<sha256 of the plaintext> (plain) or <dir>/<sha256>.osec.
 *
 * Thread rules: all functions are reentrant; callers serialize writes to one blob folder only
 * in the sense that two writers of the same blob produce the same file (last rename wins).
 */
#ifndef OSR_OSEC_H
#define OSR_OSEC_H

#include <stddef.h>
#include <stdint.h>

#include "osr/buf.h"
#include "osr/err.h"

#define OSR_OSEC_VERSION 0x01
#define OSR_OSEC_NONCE_BYTES 12
#define OSR_OSEC_TAG_BYTES 16
#define OSR_OSEC_OVERHEAD (1 + OSR_OSEC_NONCE_BYTES + OSR_OSEC_TAG_BYTES)
#define OSR_OSEC_SUFFIX ".osec"
#define OSR_OSEC_BLOB_MIN (16 * 1024) /* attachments this large or larger become blobs */

/* Appends the envelope of the n bytes at pt, sealed under key with a fresh random nonce, to
 * out.  Returns OSR_OK, OSR_ETOOBIG (out's cap) or OSR_EIO (OpenSSL or the RNG failed). */
int osr_osec_seal(const uint8_t key[32], const void *pt, size_t n, struct osr_buf *out,
                  struct osr_diag *diag);

/* Appends the plaintext of the n-byte envelope at env to out.  Returns OSR_OK, OSR_ECORRUPT
 * (shorter than the fixed overhead), OSR_EUNSUPPORTED (unknown version byte), OSR_EAUTH (the
 * tag does not verify: tampered, truncated in the middle, or another key) or OSR_ETOOBIG.
 * Nothing is appended unless the tag verifies. */
int osr_osec_open(const uint8_t key[32], const void *env, size_t n, struct osr_buf *out,
                  struct osr_diag *diag);

/* Writes data atomically (mode 0600) to path, or to path + ".osec" sealed when key is
 * non-NULL. */
int osr_osec_write_file(const char *path, const uint8_t *key, const void *data, size_t n,
                        struct osr_diag *diag);

/* Reads path, or path + ".osec" (opened with key) when path does not exist.  At most max
 * plaintext bytes.  Returns OSR_OK with a NUL-terminated heap copy the caller frees with
 * free(), OSR_ENOTFOUND when neither exists, OSR_EAUTH when only the sealed form exists and
 * key is NULL or wrong, or the errors of osr_osec_open. */
int osr_osec_read_file(const char *path, const uint8_t *key, size_t max, char **out, size_t *len,
                       struct osr_diag *diag);

#define OSR_SHA256_HEX 64

/* Stores data in dir under its SHA-256 (sealed when key is non-NULL) unless a copy in either
 * form is already there, and writes the lowercase hex digest to sha_hex. */
int osr_osec_blob_put(const char *dir, const uint8_t *key, const void *data, size_t n,
                      char sha_hex[OSR_SHA256_HEX + 1], struct osr_diag *diag);

/* Reads the blob named sha_hex (64 lowercase hex digits, else OSR_EINVAL) from dir, plain twin
 * first, and checks the content still hashes to its name (OSR_ECORRUPT otherwise). */
int osr_osec_blob_get(const char *dir, const uint8_t *key, const char *sha_hex, size_t max,
                      char **out, size_t *len, struct osr_diag *diag);

#define OSR_OSEC_BLOB_MAX (256u << 20) /* largest blob the converter handles */

/* Rewrites every blob of dir in the target form: to_key NULL means plaintext, otherwise sealed
 * under to_key.  Sealed blobs are opened with key, or alt (an interrupted rekey) when key does
 * not fit.  Each new file is written atomically and read back (its hash checked) before the
 * old form is removed, so a crash leaves every blob readable in one form or the other.  Files
 * that are not blobs are left alone.  *n_done counts blobs rewritten.  Returns OSR_OK or the
 * first error (the run stops there). */
int osr_osec_blob_dir_convert(const char *dir, const uint8_t *key, const uint8_t *alt,
                              const uint8_t *to_key, size_t *n_done, struct osr_diag *diag);

/* Writes the lowercase hex SHA-256 of the n bytes at p. */
void osr_osec_sha256_hex(const void *p, size_t n, char out[OSR_SHA256_HEX + 1]);

#endif
