/* bip39.c - BIP39 phrases to and from raw entropy (English list).
 *
 * Only the mnemonic half of BIP39: entropy <-> words with the SHA-256 checksum.  No PBKDF2
 * seed derivation, no other languages, no Unicode normalisation (the English list is ASCII).
 * Work buffers holding secret bits are wiped before returning.
 */
#include "osr/bip39.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

int osr_bip39_word_index(const char *word, size_t len)
{
    int lo = 0, hi = OSR_BIP39_LIST_SIZE - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const char *w = osr_bip39_english[mid];
        size_t wl = strlen(w);
        int c = memcmp(word, w, len < wl ? len : wl);
        if (c == 0)
            c = (len > wl) - (len < wl);
        if (c == 0)
            return mid;
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return -1;
}

/* Bit i (0 = most significant bit of b[0]) of a byte string. */
static unsigned bit_at(const uint8_t *b, size_t i)
{
    return (b[i / 8] >> (7 - i % 8)) & 1;
}

int osr_bip39_encode(const uint8_t *entropy, size_t n, char out[OSR_BIP39_PHRASE_MAX])
{
    if (n < 16 || n > 32 || n % 4)
        return OSR_EINVAL;
    uint8_t buf[33]; /* entropy || first byte of its SHA-256 (holds every checksum size) */
    uint8_t hash[SHA256_DIGEST_LENGTH];
    memcpy(buf, entropy, n);
    SHA256(entropy, n, hash);
    buf[n] = hash[0];
    size_t words = (n * 8 + n / 4) / 11, pos = 0;
    for (size_t w = 0; w < words; w++) {
        unsigned idx = 0;
        for (size_t i = 0; i < 11; i++)
            idx = (idx << 1) | bit_at(buf, w * 11 + i);
        const char *word = osr_bip39_english[idx];
        size_t wl = strlen(word);
        if (w)
            out[pos++] = ' ';
        memcpy(out + pos, word, wl);
        pos += wl;
    }
    out[pos] = 0;
    OPENSSL_cleanse(buf, sizeof(buf));
    OPENSSL_cleanse(hash, sizeof(hash));
    return OSR_OK;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int osr_bip39_decode(const char *phrase, size_t words, uint8_t *entropy, struct osr_diag *diag)
{
    uint8_t bits[33] = {0}; /* entropy || checksum bits, filled 11 bits per word */
    uint8_t hash[SHA256_DIGEST_LENGTH];
    char word[16];
    size_t count = 0;
    int rc = OSR_OK;

    if (words < 12 || words > OSR_BIP39_MAX_WORDS || words % 3)
        return osr_diag_set(diag, OSR_EINVAL, "a phrase has 12, 15, 18, 21 or 24 words");
    size_t n = words * 4 / 3;
    const char *p = phrase ? phrase : "";
    for (;;) {
        while (is_space(*p))
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && !is_space(*p))
            p++;
        size_t len = (size_t)(p - start);
        count++;
        if (count > words)
            continue; /* keep counting for the message */
        int idx = -1;
        if (len < sizeof(word)) {
            for (size_t i = 0; i < len; i++) {
                char c = start[i];
                word[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
            }
            idx = osr_bip39_word_index(word, len);
        }
        if (idx < 0) {
            rc = osr_diag_set(diag, OSR_EINVAL, "word %zu is not in the BIP39 English word list",
                              count);
            goto out;
        }
        for (size_t i = 0; i < 11; i++) {
            size_t bit = (count - 1) * 11 + i;
            if ((unsigned)idx & (1u << (10 - i)))
                bits[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
        }
    }
    if (count != words) {
        rc = osr_diag_set(diag, OSR_EINVAL, "expected %zu words, got %zu", words, count);
        goto out;
    }
    SHA256(bits, n, hash);
    size_t cs_bits = n / 4;
    uint8_t mask = (uint8_t)(0xff << (8 - cs_bits));
    if ((hash[0] & mask) != (bits[n] & mask)) {
        rc = osr_diag_set(diag, OSR_EINVAL,
                          "the phrase's checksum does not match: a word is wrong or out of order");
        goto out;
    }
    memcpy(entropy, bits, n);
out:
    if (rc)
        OPENSSL_cleanse(entropy, n);
    OPENSSL_cleanse(bits, sizeof(bits));
    OPENSSL_cleanse(hash, sizeof(hash));
    OPENSSL_cleanse(word, sizeof(word));
    return rc;
}
