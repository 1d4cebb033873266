/* codec.h - base64, base64url and hex.
 *
 * Thread rules: pure functions, thread-safe.
 */
#ifndef OSR_CODEC_H
#define OSR_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "osr/buf.h"

enum osr_b64 {
    OSR_B64_STD, /* RFC 4648 section 4, '=' padding */
    OSR_B64_URL, /* RFC 4648 section 5, no padding when encoding; padding optional decoding */
};

int osr_base64_encode(struct osr_buf *out, const void *p, size_t n, enum osr_b64 variant);
/* Appends the decoded bytes; OSR_EINVAL for a character outside the alphabet, bad padding or
 * a dangling final character. */
int osr_base64_decode(struct osr_buf *out, const char *s, size_t n, enum osr_b64 variant);

/* Appends 2n lower-case hex digits. */
int osr_hex_encode(struct osr_buf *out, const void *p, size_t n);
/* Writes n bytes of raw bytes at out from 2n hex digits (either case); OSR_EINVAL otherwise. */
int osr_hex_decode(uint8_t *out, const char *s, size_t n_bytes);
/* Writes the lower-case hex of n bytes into out, which holds at least 2n+1 chars. */
void osr_hex_write(char *out, const void *p, size_t n);

#endif
