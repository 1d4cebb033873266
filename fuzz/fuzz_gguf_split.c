/* fuzz_gguf_split.c - libFuzzer target for joining split GGUF models: the input is cut before
 * every "GGUF" magic into up to eight parts, each part opened as a GGUF buffer and, when all
 * open, the parts joined with osr_gguf_join.  A joined file must find every tensor by name and
 * keep every tensor's bytes inside the part that holds it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osr/gguf.h"

/* Compiled in for coverage (see fuzz_gguf.c). */
#include "engine/gguf.c"
#include "engine/strmap.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FUZZ_PARTS 8

static volatile uint64_t sink;

/* True when [p, p + n) lies inside one of the n_parts input slices. */
static bool inside(const uint8_t *p, uint64_t n, const uint8_t *const *starts, const size_t *lens,
                   size_t n_parts)
{
    for (size_t i = 0; i < n_parts; i++)
        if (p >= starts[i] && n <= lens[i] && (size_t)(p - starts[i]) <= lens[i] - n)
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *starts[MAX_FUZZ_PARTS];
    size_t lens[MAX_FUZZ_PARTS];
    size_t n = 0;
    for (size_t i = 0; i + 4 <= size && n < MAX_FUZZ_PARTS; i++) {
        if (memcmp(data + i, "GGUF", 4) == 0) {
            if (n > 0)
                lens[n - 1] = (size_t)(data + i - starts[n - 1]);
            starts[n++] = data + i;
        }
    }
    if (n == 0)
        return 0;
    lens[n - 1] = (size_t)(data + size - starts[n - 1]);

    struct osr_gguf *parts[MAX_FUZZ_PARTS] = {0};
    struct osr_diag diag;
    for (size_t i = 0; i < n; i++) {
        if (osr_gguf_open_memory(starts[i], lens[i], &parts[i], &diag) != OSR_OK) {
            for (size_t k = 0; k < i; k++)
                osr_gguf_close(parts[k]);
            return 0;
        }
    }
    struct osr_gguf *g = NULL;
    if (osr_gguf_join(parts, n, &g, &diag) != OSR_OK) {
        for (size_t i = 0; i < n; i++)
            if (parts[i])
                abort(); /* join takes ownership of every part, also on failure */
        return 0;
    }
    if (osr_gguf_n_parts(g) != n)
        abort();
    for (size_t i = 0; i < osr_gguf_n_tensors(g); i++) {
        const struct osr_gguf_tensor *t = osr_gguf_tensor(g, i);
        if (osr_gguf_find_tensor(g, t->name) != t)
            abort();
        if (t->n_bytes && !inside(t->data, t->n_bytes, starts, lens, n))
            abort();
        if (t->n_bytes)
            sink += ((const uint8_t *)t->data)[t->n_bytes - 1];
    }
    uint32_t v;
    if (osr_gguf_get_u32(g, "split.count", &v) == OSR_OK)
        sink += v;
    osr_gguf_close(g);
    return 0;
}
