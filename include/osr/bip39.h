/* bip39.h - BIP39 mnemonic phrases over raw entropy (the master-key backup).
 *
 * The original backs up the 32-byte master key as a 24-word BIP39 phrase that encodes the key
 * itself as the entropy: checksum = the first ENT/32 bits of SHA-256(entropy), words = 11-bit
 * groups of entropy || checksum in the English list.  There is no PBKDF2 seed step: the phrase
 * gives back the key, not a wallet seed.
 *
 * Phrases and entropy are secrets: callers wipe them with OPENSSL_cleanse, and nothing here
 * logs or echoes a word (errors name a word's position, never the word).
 *
 * Thread rules: pure functions, thread-safe.
 */
#ifndef OSR_BIP39_H
#define OSR_BIP39_H

#include <stddef.h>
#include <stdint.h>

#include "osr/err.h"

#define OSR_BIP39_LIST_SIZE 2048
#define OSR_BIP39_MAX_WORDS 24
#define OSR_BIP39_PHRASE_MAX 256 /* 24 words of at most 8 letters, spaces and the NUL */

/* The English word list, sorted (bip39_english.c, generated). */
extern const char *const osr_bip39_english[OSR_BIP39_LIST_SIZE];

/* Encodes n bytes of entropy (16, 20, 24, 28 or 32) as words separated by single spaces,
 * written NUL-terminated into out.  OSR_EINVAL for another length. */
int osr_bip39_encode(const uint8_t *entropy, size_t n, char out[OSR_BIP39_PHRASE_MAX]);

/* Decodes a phrase of exactly `words` words (12, 15, 18, 21 or 24; 24 for a master key)
 * separated by any ASCII whitespace, in any letter case, into words * 4 / 3 bytes at entropy.
 * OSR_EINVAL with a message in diag for a wrong word count, a word not in the list (named by
 * position) or a checksum that does not match.  entropy is wiped on failure. */
int osr_bip39_decode(const char *phrase, size_t words, uint8_t *entropy, struct osr_diag *diag);

/* Index of a lower-case word in the list, or -1. */
int osr_bip39_word_index(const char *word, size_t len);

#endif
