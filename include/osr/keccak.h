/* keccak.h - Keccak-256, the pre-NIST padding Ethereum and Osaurus use.
 *
 * This is NOT SHA3-256: the original Keccak submission pads with 0x01 where FIPS 202 pads with
 * 0x06, so the two disagree on every input.  Addresses, EIP-55 checksums and the EIP-191-style
 * signature hashes all need this variant.
 *
 * Thread rules: a struct osr_keccak belongs to one thread; the one-shot function is pure.
 */
#ifndef OSR_KECCAK_H
#define OSR_KECCAK_H

#include <stddef.h>
#include <stdint.h>

#define OSR_KECCAK256_LEN 32
#define OSR_KECCAK256_RATE 136 /* bytes absorbed per permutation (1600 - 2*256 bits) */

struct osr_keccak {
    uint64_t st[25];
    uint8_t buf[OSR_KECCAK256_RATE]; /* the partial block not yet absorbed */
    size_t pos;                      /* bytes in buf */
    uint8_t pad;                     /* first padding byte: 0x01 for Keccak */
};

/* Starts a Keccak-256 computation. */
void osr_keccak256_init(struct osr_keccak *k);

/* Absorbs n bytes (p may be NULL when n is 0). */
void osr_keccak256_update(struct osr_keccak *k, const void *p, size_t n);

/* Finishes and writes the 32-byte digest; the state is wiped and must be initialized again
 * before reuse. */
void osr_keccak256_final(struct osr_keccak *k, uint8_t out[OSR_KECCAK256_LEN]);

/* One-shot Keccak-256 of n bytes. */
void osr_keccak256(uint8_t out[OSR_KECCAK256_LEN], const void *p, size_t n);

#endif
