/* fuzz_base64.c - strict base64 and base64url decoding of arbitrary bytes.  When a decode
 * succeeds, encoding the result in the same alphabet and decoding again gives the same bytes
 * (and, for the standard alphabet, the same text: the decoder accepts one encoding only). */
#include <stdint.h>
#include <string.h>

#include "osr/codec.h"
#include "osr/err.h"

/* Compiled in so a libFuzzer build instruments them (see fuzz_json.c). */
#include "core/buf.c"
#include "core/codec.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const char *s, size_t n, enum osr_b64 v)
{
    struct osr_buf dec, enc, again;
    osr_buf_init(&dec, 1u << 20);
    osr_buf_init(&enc, 2u << 20);
    osr_buf_init(&again, 1u << 20);
    int rc = osr_base64_decode(&dec, s, n, v);
    if (rc == OSR_OK) {
        OSR_ASSERT(dec.len <= n);
        OSR_ASSERT(osr_base64_encode(&enc, dec.data, dec.len, v) == OSR_OK);
        OSR_ASSERT(osr_base64_decode(&again, osr_buf_str(&enc), enc.len, v) == OSR_OK);
        OSR_ASSERT(again.len == dec.len);
        OSR_ASSERT(dec.len == 0 || memcmp(again.data, dec.data, dec.len) == 0);
        if (v == OSR_B64_STD)
            OSR_ASSERT(enc.len == n && memcmp(osr_buf_str(&enc), s, n) == 0);
    } else {
        OSR_ASSERT(rc == OSR_EINVAL);
        OSR_ASSERT(dec.len == 0); /* nothing left behind */
    }
    osr_buf_release(&dec);
    osr_buf_release(&enc);
    osr_buf_release(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one((const char *)data, size, OSR_B64_STD);
    one((const char *)data, size, OSR_B64_URL);
    return 0;
}
