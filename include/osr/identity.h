/* identity.h - secp256k1 keys, Ethereum-style addresses and Osaurus's domain signatures.
 *
 * What the original calls an OsaurusID: the last 20 bytes of Keccak-256 over the 64-byte
 * uncompressed public key (without its 0x04 byte), written "0x" + 40 hex digits with the
 * EIP-55 mixed-case checksum and compared case-insensitively.
 *
 * Signatures are secp256k1 recoverable signatures, 65 bytes r || s || v with v = 27 + recid,
 * over Keccak-256("\x19" + prefix + ":\n" + decimal(len(payload)) + payload), the EIP-191
 * layout with one of the original's domain prefixes.  Signing is RFC 6979 deterministic (the
 * libsecp256k1 default, as in the original), so both sides produce identical bytes.
 *
 * Agent child keys: v1 = HMAC-SHA512(master, "osaurus-agent-v1" || BE32(index))[0..32],
 * v2 = HMAC-SHA512(master, "osaurus-agent-v2" || scope || 0x00 || BE32(index))[0..32].
 *
 * Private keys are 32-byte buffers owned by the caller, who wipes them (OPENSSL_cleanse);
 * functions here wipe every copy they make.  Nothing here logs.
 *
 * Thread rules: every function is thread-safe (the shared libsecp256k1 context is created
 * once and only read afterwards).
 */
#ifndef OSR_IDENTITY_H
#define OSR_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OSR_IDENTITY_SECKEY_LEN 32
#define OSR_IDENTITY_PUBKEY_LEN 65 /* 0x04 || X || Y */
#define OSR_IDENTITY_ADDR_LEN 20
#define OSR_IDENTITY_ADDR_STRLEN 42 /* "0x" + 40 hex digits, without the NUL */
#define OSR_IDENTITY_SIG_LEN 65

/* The domain prefixes; a signature made under one never verifies under another. */
enum osr_sig_domain {
    OSR_SIG_MESSAGE,        /* "Osaurus Signed Message": internal two-layer tokens */
    OSR_SIG_ACCESS,         /* "Osaurus Signed Access": osk-v1 access keys */
    OSR_SIG_ETHEREUM,       /* "Ethereum Signed Message": EIP-191 personal_sign */
    OSR_SIG_INVITE,         /* "Osaurus Signed Invite": agent invite links */
    OSR_SIG_PAIRING,        /* "Osaurus Signed Pairing": LAN /pair, connector side */
    OSR_SIG_PAIRING_SERVER, /* "Osaurus Signed Pairing Server": LAN /pair, agent side */
    OSR_SIG_SECURE_CHANNEL, /* "Osaurus Secure Channel": secure-channel server hello */
    OSR_SIG_DOMAIN_COUNT,
};

/* Returns the prefix text of a domain (a static string), or NULL for an unknown value. */
const char *osr_identity_domain_prefix(enum osr_sig_domain domain);

/* OSR_OK when sk is a valid secp256k1 private scalar (0 < sk < n), OSR_EINVAL otherwise. */
int osr_identity_seckey_check(const uint8_t sk[OSR_IDENTITY_SECKEY_LEN]);

/* Writes the 65-byte uncompressed public key of sk.  OSR_EINVAL for an invalid key. */
int osr_identity_pubkey(const uint8_t sk[OSR_IDENTITY_SECKEY_LEN],
                        uint8_t pub[OSR_IDENTITY_PUBKEY_LEN]);

/* Writes the 20-byte address of a 65-byte uncompressed public key.  OSR_EINVAL unless
 * pub[0] == 0x04 (the point itself is not validated here). */
int osr_identity_address_of_pubkey(const uint8_t pub[OSR_IDENTITY_PUBKEY_LEN],
                                   uint8_t addr[OSR_IDENTITY_ADDR_LEN]);

/* Writes the 20-byte address of sk.  OSR_EINVAL for an invalid key. */
int osr_identity_address(const uint8_t sk[OSR_IDENTITY_SECKEY_LEN],
                         uint8_t addr[OSR_IDENTITY_ADDR_LEN]);

/* Writes "0x" + the EIP-55 checksummed hex of addr and a NUL into out. */
void osr_identity_address_format(const uint8_t addr[OSR_IDENTITY_ADDR_LEN],
                                 char out[OSR_IDENTITY_ADDR_STRLEN + 1]);

/* Parses "0x" + 40 hex digits in any case (the checksum is not enforced: the original
 * compares addresses case-insensitively).  OSR_EINVAL for anything else. */
int osr_identity_address_parse(const char *s, uint8_t addr[OSR_IDENTITY_ADDR_LEN]);

/* True when s is a well-formed address whose letters are either all one case or exactly the
 * EIP-55 checksum casing. */
bool osr_identity_address_checksum_ok(const char *s);

/* Case-insensitive comparison of two address strings, as the original does ("0xAB" equals
 * "0xab").  NULL equals nothing. */
bool osr_identity_address_equal(const char *a, const char *b);

/* Writes the domain hash Keccak-256("\x19" prefix ":\n" len payload). */
void osr_identity_domain_hash(enum osr_sig_domain domain, const void *payload, size_t n,
                              uint8_t out[32]);

/* Signs payload under domain with sk; writes r || s || v (v in {27, 28}).  OSR_EINVAL for an
 * invalid key or domain. */
int osr_identity_sign(const uint8_t sk[OSR_IDENTITY_SECKEY_LEN], enum osr_sig_domain domain,
                      const void *payload, size_t n, uint8_t sig[OSR_IDENTITY_SIG_LEN]);

/* Recovers the signer's address from a 65-byte signature over payload under domain.  Like the
 * original, v = 27 + recid for recid 0..3 is accepted.  OSR_EINVAL when v is out of range, r
 * or s are not valid scalars or no public key recovers. */
int osr_identity_recover(enum osr_sig_domain domain, const void *payload, size_t n,
                         const uint8_t sig[OSR_IDENTITY_SIG_LEN],
                         uint8_t addr[OSR_IDENTITY_ADDR_LEN]);

/* Derives the v1 agent child key of master at index (see above).  OSR_EINVAL when the master
 * or the derived key is not a valid scalar (the latter has probability about 2^-128; the
 * original fails the same way).  out is wiped on failure. */
int osr_identity_child_key_v1(const uint8_t master[OSR_IDENTITY_SECKEY_LEN], uint32_t index,
                              uint8_t out[OSR_IDENTITY_SECKEY_LEN]);

/* Derives the v2 (device-scoped) child key; scope is UTF-8 without NUL bytes. */
int osr_identity_child_key_v2(const uint8_t master[OSR_IDENTITY_SECKEY_LEN], const char *scope,
                              uint32_t index, uint8_t out[OSR_IDENTITY_SECKEY_LEN]);

#endif
