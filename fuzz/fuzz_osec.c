/* fuzz_osec.c - the .osec reader on arbitrary bytes.
 *
 * Invariants: opening never crashes or reads out of bounds; it succeeds only when the tag
 * verifies, and then the plaintext is exactly input length - 29 bytes; sealing that plaintext
 * again and opening it gives it back. */
#include <stdint.h>
#include <string.h>

#include "osr/err.h"
#include "osr/osec.h"

static const uint8_t key[32] = {0x6f, 0x73, 0x61, 0x75, 0x72, 0x75, 0x73, 0x2d, 0x66, 0x75, 0x7a,
                                0x7a, 0x2d, 0x6b, 0x65, 0x79, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05,
                                0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct osr_buf pt;
    osr_buf_init(&pt, 1 << 20);
    struct osr_diag d = {0};
    int rc = osr_osec_open(key, data, size, &pt, &d);
    if (rc != OSR_OK) {
        OSR_ASSERT(pt.len == 0);
        OSR_ASSERT(d.msg[0] != '\0');
        osr_buf_release(&pt);
        return 0;
    }
    OSR_ASSERT(size >= OSR_OSEC_OVERHEAD && pt.len == size - OSR_OSEC_OVERHEAD);
    struct osr_buf env, back;
    osr_buf_init(&env, (1 << 20) + OSR_OSEC_OVERHEAD);
    osr_buf_init(&back, 1 << 20);
    OSR_ASSERT(osr_osec_seal(key, pt.data ? pt.data : "", pt.len, &env, NULL) == OSR_OK);
    OSR_ASSERT(osr_osec_open(key, env.data, env.len, &back, NULL) == OSR_OK);
    OSR_ASSERT(back.len == pt.len && (pt.len == 0 || memcmp(back.data, pt.data, pt.len) == 0));
    osr_buf_release(&back);
    osr_buf_release(&env);
    osr_buf_release(&pt);
    return 0;
}
