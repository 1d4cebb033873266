/* keccak.c - Keccak-f[1600] and the Keccak-256 sponge.
 *
 * A straightforward, portable implementation: state as 25 little-endian 64-bit lanes,
 * rate 136 bytes, capacity 512 bits, 24 rounds.  It is used for short inputs (public keys,
 * addresses, signed payloads of a few hundred bytes), so it favours clarity over speed and
 * has no SIMD path.  It does not implement SHA3 or SHAKE; the padding byte is kept in the
 * state only so the unit test can check the permutation against SHA3-256 vectors too.
 */
#include "osr/keccak.h"

#include <string.h>

#include <openssl/crypto.h>

static const uint64_t round_consts[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

/* Rotation offsets r[x + 5y] of the rho step. */
static const unsigned rho[25] = {
    0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14,
};

static inline uint64_t rotl(uint64_t v, unsigned n)
{
    return n ? (v << n) | (v >> (64 - n)) : v;
}

static void permute(uint64_t a[25])
{
    uint64_t b[25], c[5], d[5];
    for (int round = 0; round < 24; round++) {
        /* theta */
        for (int x = 0; x < 5; x++)
            c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20];
        for (int x = 0; x < 5; x++)
            d[x] = c[(x + 4) % 5] ^ rotl(c[(x + 1) % 5], 1);
        for (int i = 0; i < 25; i++)
            a[i] ^= d[i % 5];
        /* rho and pi: lane (x, y) moves to (y, 2x + 3y) */
        for (int x = 0; x < 5; x++)
            for (int y = 0; y < 5; y++)
                b[y + 5 * ((2 * x + 3 * y) % 5)] = rotl(a[x + 5 * y], rho[x + 5 * y]);
        /* chi */
        for (int y = 0; y < 25; y += 5)
            for (int x = 0; x < 5; x++)
                a[y + x] = b[y + x] ^ (~b[y + (x + 1) % 5] & b[y + (x + 2) % 5]);
        /* iota */
        a[0] ^= round_consts[round];
    }
    OPENSSL_cleanse(b, sizeof(b));
}

static void absorb_block(uint64_t st[25], const uint8_t *block)
{
    for (int i = 0; i < OSR_KECCAK256_RATE / 8; i++) {
        uint64_t lane = 0;
        for (int j = 7; j >= 0; j--)
            lane = (lane << 8) | block[8 * i + j];
        st[i] ^= lane;
    }
    permute(st);
}

void osr_keccak256_init(struct osr_keccak *k)
{
    memset(k, 0, sizeof(*k));
    k->pad = 0x01;
}

void osr_keccak256_update(struct osr_keccak *k, const void *p, size_t n)
{
    const uint8_t *s = p;
    if (n == 0)
        return; /* p may be NULL then, and memcpy must not see it */
    if (k->pos) {
        size_t take = OSR_KECCAK256_RATE - k->pos;
        if (take > n)
            take = n;
        memcpy(k->buf + k->pos, s, take);
        k->pos += take;
        s += take;
        n -= take;
        if (k->pos < OSR_KECCAK256_RATE)
            return;
        absorb_block(k->st, k->buf);
        k->pos = 0;
    }
    for (; n >= OSR_KECCAK256_RATE; s += OSR_KECCAK256_RATE, n -= OSR_KECCAK256_RATE)
        absorb_block(k->st, s);
    if (n) {
        memcpy(k->buf, s, n);
        k->pos = n;
    }
}

void osr_keccak256_final(struct osr_keccak *k, uint8_t out[OSR_KECCAK256_LEN])
{
    /* pad10*1: the domain byte right after the message, 0x80 in the last byte of the block
     * (both in the same byte when only one byte of the block is left). */
    memset(k->buf + k->pos, 0, OSR_KECCAK256_RATE - k->pos);
    k->buf[k->pos] ^= k->pad;
    k->buf[OSR_KECCAK256_RATE - 1] ^= 0x80;
    absorb_block(k->st, k->buf);
    for (int i = 0; i < OSR_KECCAK256_LEN; i++)
        out[i] = (uint8_t)(k->st[i / 8] >> (8 * (i % 8)));
    OPENSSL_cleanse(k, sizeof(*k));
}

void osr_keccak256(uint8_t out[OSR_KECCAK256_LEN], const void *p, size_t n)
{
    struct osr_keccak k;
    osr_keccak256_init(&k);
    osr_keccak256_update(&k, p, n);
    osr_keccak256_final(&k, out);
}
