/* fuzz_stopmatch.c - the streaming stop-string matcher against a one-shot search.  The input's
 * first bytes pick up to three stop strings and the size of the pushes; the rest is the text.
 * Invariants, whatever the cut into pushes: without a hit the text handed out (plus the final
 * flush) is all of it and holds no stop string; with a hit it is the text up to where the
 * named stop string begins, and no stop string was complete before that one's last byte (a
 * stream stops at the first stop string to complete, which for overlapping ones such as
 * "abcd" and "bc" need not be the first to begin). */
#include <stdint.h>
#include <string.h>

#include "osr/buf.h"
#include "osr/err.h"
#include "osr/stopmatch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t chunk = (size_t)(data[0] % 7) + 1;
    size_t n_stops = (size_t)(data[1] % 3) + 1;
    data += 2;
    size -= 2;
    /* Stop strings: n_stops lengths of 1..4 bytes taken from the front. */
    char stops_buf[3][5];
    const char *stops[3];
    size_t used = 0;
    for (size_t i = 0; i < n_stops; i++) {
        size_t len = used < size ? (size_t)(data[used] % 4) + 1 : 1;
        used++;
        size_t k = 0;
        for (; k < len && used < size; k++, used++)
            stops_buf[i][k] = data[used] ? (char)data[used] : 'a'; /* no NUL inside */
        if (k == 0)
            stops_buf[i][k++] = 'z';
        stops_buf[i][k] = '\0';
        stops[i] = stops_buf[i];
    }
    const char *text = (const char *)data + (used < size ? used : size);
    size_t tn = used < size ? size - used : 0;

    struct osr_stopmatch m;
    osr_stopmatch_init(&m, stops, n_stops);
    struct osr_buf got;
    osr_buf_init(&got, 1u << 20);
    int st = OSR_STOPMATCH_MORE;
    struct osr_str out;
    for (size_t i = 0; i < tn && st == OSR_STOPMATCH_MORE; i += chunk) {
        size_t k = tn - i < chunk ? tn - i : chunk;
        st = osr_stopmatch_push(&m, text + i, k, &out);
        OSR_ASSERT(st == OSR_STOPMATCH_MORE || st == OSR_STOPMATCH_HIT);
        osr_buf_append(&got, out.p, out.n);
    }
    osr_stopmatch_flush(&m, &out);
    osr_buf_append(&got, out.p, out.n);
    size_t which = 0;
    OSR_ASSERT(got.len <= tn && (got.len == 0 || memcmp(got.data, text, got.len) == 0));
    if (st == OSR_STOPMATCH_HIT) {
        size_t ml = strlen(m.matched);
        OSR_ASSERT(got.len + ml <= tn && memcmp(text + got.len, m.matched, ml) == 0);
        OSR_ASSERT(osr_stopmatch_find(text, got.len + ml - 1, stops, n_stops, &which) < 0);
    } else {
        OSR_ASSERT(m.matched == NULL && got.len == tn);
        OSR_ASSERT(osr_stopmatch_find(text, tn, stops, n_stops, &which) < 0);
    }
    osr_buf_release(&got);
    osr_stopmatch_release(&m);
    return 0;
}
