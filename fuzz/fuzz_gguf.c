/* fuzz_gguf.c - libFuzzer target for the GGUF reader: opens the input as a GGUF buffer and,
 * when it opens, walks every key, array element and tensor byte range the reader exposes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osr/gguf.h"

/* The reader's sources are compiled into this target so that libFuzzer's coverage
 * instrumentation sees them (the core library itself is built without it); the archive's copies
 * are then never pulled in by the linker. */
#include "engine/gguf.c"
#include "engine/strmap.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink;

static void walk_array(const struct osr_gguf_array *a, int depth)
{
    for (uint64_t i = 0; i < a->n && i < 4096; i++) {
        int64_t v;
        double d;
        struct osr_str s;
        struct osr_gguf_array sub;
        if (osr_gguf_arr_int(a, i, &v) == OSR_OK)
            sink += (uint64_t)v;
        else if (osr_gguf_arr_f64(a, i, &d) == OSR_OK)
            sink += (uint64_t)(d == d);
        else if (osr_gguf_arr_str(a, i, &s) == OSR_OK)
            sink += s.n ? (unsigned char)s.p[s.n - 1] : 0;
        else if (osr_gguf_arr_arr(a, i, &sub) == OSR_OK && depth < 16)
            walk_array(&sub, depth + 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct osr_gguf *g = NULL;
    struct osr_diag diag;
    if (osr_gguf_open_memory(data, size, &g, &diag) != OSR_OK)
        return 0;
    for (size_t i = 0; i < osr_gguf_n_kv(g); i++) {
        const char *key = osr_gguf_kv_key(g, i);
        sink += strlen(key);
        int64_t v;
        uint64_t u;
        double d;
        struct osr_str s;
        struct osr_gguf_array a;
        if (osr_gguf_kv_i64(g, i, &v) == OSR_OK || osr_gguf_kv_u64(g, i, &u) == OSR_OK)
            sink++;
        if (osr_gguf_kv_f64(g, i, &d) == OSR_OK)
            sink++;
        if (osr_gguf_kv_str(g, i, &s) == OSR_OK && s.n)
            sink += (unsigned char)s.p[0];
        if (osr_gguf_kv_arr(g, i, &a) == OSR_OK)
            walk_array(&a, 0);
        if ((long)i != osr_gguf_find_key(g, key))
            abort(); /* keys are unique, so lookup must find this one */
    }
    for (size_t i = 0; i < osr_gguf_n_tensors(g); i++) {
        const struct osr_gguf_tensor *t = osr_gguf_tensor(g, i);
        if (osr_gguf_find_tensor(g, t->name) != t)
            abort();
        if (t->n_bytes) {
            const uint8_t *p = t->data;
            sink += p[0] + p[t->n_bytes - 1];
        }
    }
    osr_gguf_close(g);
    return 0;
}
