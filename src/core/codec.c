/* codec.c - base64 (standard and URL-safe, RFC 4648) and hex.
 *
 * Decoding is strict: one canonical encoding per byte string (no whitespace, no characters of
 * the other alphabet, no non-zero bits after the last byte).  An encode or decode that fails
 * leaves the output buffer as it was.  No streaming: the whole input is at hand.
 */
#include <string.h>

#include "osr/codec.h"
#include "osr/err.h"

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Puts out back to len bytes after a failed append sequence. */
static int rollback(struct osr_buf *out, size_t len, int rc)
{
    if (rc && out->data) {
        out->len = len;
        out->data[len] = '\0';
    }
    return rc;
}

static int base64_encode(struct osr_buf *out, const void *p, size_t n, enum osr_b64 variant)
{
    const char *alpha = variant == OSR_B64_URL ? b64_url : b64_std;
    const unsigned char *s = p;
    char quad[4];
    int rc = OSR_OK;
    size_t i = 0;
    for (; i + 3 <= n && !rc; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
        quad[0] = alpha[v >> 18];
        quad[1] = alpha[(v >> 12) & 63];
        quad[2] = alpha[(v >> 6) & 63];
        quad[3] = alpha[v & 63];
        rc = osr_buf_append(out, quad, 4);
    }
    if (rc || i == n)
        return rc;
    unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0);
    quad[0] = alpha[v >> 18];
    quad[1] = alpha[(v >> 12) & 63];
    quad[2] = i + 1 < n ? alpha[(v >> 6) & 63] : '=';
    quad[3] = '=';
    size_t len = 4;
    if (variant == OSR_B64_URL)
        len = i + 1 < n ? 3 : 2;
    return osr_buf_append(out, quad, len);
}

int osr_base64_encode(struct osr_buf *out, const void *p, size_t n, enum osr_b64 variant)
{
    size_t start = out->len;
    return rollback(out, start, base64_encode(out, p, n, variant));
}

static int b64_value(char c, enum osr_b64 variant)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (variant == OSR_B64_URL) {
        if (c == '-')
            return 62;
        if (c == '_')
            return 63;
    } else {
        if (c == '+')
            return 62;
        if (c == '/')
            return 63;
    }
    return -1;
}

static int base64_decode(struct osr_buf *out, const char *s, size_t n, enum osr_b64 variant)
{
    size_t pad = 0;
    while (n > 0 && s[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    if (variant == OSR_B64_STD && (n + pad) % 4 != 0)
        return OSR_EINVAL;
    if (n % 4 == 1)
        return OSR_EINVAL;
    if (pad && (n + pad) % 4 != 0)
        return OSR_EINVAL;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(s[i], variant);
        if (v < 0)
            return OSR_EINVAL;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            int rc = osr_buf_putc(out, (char)((acc >> bits) & 0xff));
            if (rc)
                return rc;
        }
    }
    /* Leftover bits must be zero, or two encodings would decode to the same bytes. */
    if (bits && (acc & ((1u << bits) - 1)))
        return OSR_EINVAL;
    return OSR_OK;
}

int osr_base64_decode(struct osr_buf *out, const char *s, size_t n, enum osr_b64 variant)
{
    size_t start = out->len;
    return rollback(out, start, base64_decode(out, s, n, variant));
}

void osr_hex_write(char *out, const void *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[s[i] >> 4];
        out[2 * i + 1] = digits[s[i] & 15];
    }
    out[2 * n] = '\0';
}

int osr_hex_encode(struct osr_buf *out, const void *p, size_t n)
{
    const unsigned char *s = p;
    size_t start = out->len;
    char two[3];
    for (size_t i = 0; i < n; i++) {
        osr_hex_write(two, s + i, 1);
        int rc = osr_buf_append(out, two, 2);
        if (rc)
            return rollback(out, start, rc);
    }
    return OSR_OK;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int osr_hex_decode(uint8_t *out, const char *s, size_t n_bytes)
{
    for (size_t i = 0; i < n_bytes; i++) {
        int hi = hex_value(s[2 * i]);
        int lo = hi < 0 ? -1 : hex_value(s[2 * i + 1]);
        if (lo < 0)
            return OSR_EINVAL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return OSR_OK;
}
