/* Cross-checks the block layouts against real GGUF files made by other tools.
 *
 * synth-micro-{F32,F16,Q8_0,Q4_0}.gguf hold the same random weights in four types, so the
 * dequantized Q8_0/Q4_0/F16 tensors must match the F32 one within each type's step, and our
 * Q4_0 quantizer (ggml's reference formula) must reproduce the Q4_0 file's bytes.  The
 * micro256 K-quant/Q5_0 files (quantized by llama.cpp itself) have no F32 twin here: their
 * dequantized weights must look like the N(0, 0.02) they were drawn from, and the dot kernels
 * of every ISA must agree with the dequantized data on them.
 *
 * The test carries a deliberately minimal GGUF walker (enough to find one tensor in a trusted
 * test file); the real reader lives in src/engine/gguf.c.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "osr/kernels.h"

struct file {
    uint8_t *data;
    size_t size;
};

static int load(const char *name, struct file *f)
{
    const char *dir = getenv("OSR_TESTDATA");
    char path[1024];
    f->data = NULL;
    if (!dir)
        return 0;
    snprintf(path, sizeof(path), "%s/reference/%s", dir, name);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return 0;
    fseek(fp, 0, SEEK_END);
    long sz = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    if (sz <= 0 || !(f->data = malloc((size_t)sz)) ||
        fread(f->data, 1, (size_t)sz, fp) != (size_t)sz) {
        free(f->data);
        f->data = NULL;
        fclose(fp);
        return 0;
    }
    fclose(fp);
    f->size = (size_t)sz;
    return 1;
}

struct cursor {
    const uint8_t *p, *end;
    int ok;
};

static uint64_t rd(struct cursor *c, int n)
{
    uint64_t v = 0;
    if (c->end - c->p < n) {
        c->ok = 0;
        return 0;
    }
    for (int i = 0; i < n; i++)
        v |= (uint64_t)c->p[i] << (8 * i);
    c->p += n;
    return v;
}

static void skip_value(struct cursor *c, uint32_t type)
{
    static const int sizes[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (type == 8) {
        uint64_t len = rd(c, 8);
        if ((uint64_t)(c->end - c->p) < len)
            c->ok = 0;
        else
            c->p += len;
    } else if (type == 9) {
        uint32_t et = (uint32_t)rd(c, 4);
        uint64_t count = rd(c, 8);
        for (uint64_t i = 0; i < count && c->ok; i++)
            skip_value(c, et);
    } else if (type < 13) {
        rd(c, sizes[type]);
    } else {
        c->ok = 0;
    }
}

/* Finds tensor `name`: its type, first two dims, and data pointer.  Returns 1 on success. */
static int find_tensor(const struct file *f, const char *name, uint32_t *type, uint64_t *ne0,
                       uint64_t *ne1, const uint8_t **data)
{
    struct cursor c = {f->data, f->data + f->size, 1};
    if (rd(&c, 4) != 0x46554747u) /* "GGUF" */
        return 0;
    rd(&c, 4);
    uint64_t n_tensors = rd(&c, 8), n_kv = rd(&c, 8);
    uint64_t alignment = 32;
    for (uint64_t i = 0; i < n_kv && c.ok; i++) {
        uint64_t klen = rd(&c, 8);
        if ((uint64_t)(c.end - c.p) < klen)
            return 0;
        int is_align = klen == 17 && memcmp(c.p, "general.alignment", 17) == 0;
        c.p += klen;
        uint32_t vt = (uint32_t)rd(&c, 4);
        if (is_align && vt == 4)
            alignment = rd(&c, 4);
        else
            skip_value(&c, vt);
    }
    int found = 0;
    uint64_t offset = 0;
    for (uint64_t i = 0; i < n_tensors && c.ok; i++) {
        uint64_t nlen = rd(&c, 8);
        if ((uint64_t)(c.end - c.p) < nlen)
            return 0;
        int match = nlen == strlen(name) && memcmp(c.p, name, nlen) == 0;
        c.p += nlen;
        uint32_t nd = (uint32_t)rd(&c, 4);
        uint64_t d[4] = {1, 1, 1, 1};
        for (uint32_t k = 0; k < nd; k++) {
            uint64_t v = rd(&c, 8);
            if (k < 4)
                d[k] = v;
        }
        uint32_t t = (uint32_t)rd(&c, 4);
        uint64_t off = rd(&c, 8);
        if (match) {
            found = 1;
            *type = t;
            *ne0 = d[0];
            *ne1 = d[1];
            offset = off;
        }
    }
    if (!c.ok || !found || alignment == 0)
        return 0;
    size_t start = (size_t)(c.p - f->data);
    start = (start + alignment - 1) / alignment * alignment;
    size_t bytes = osr_quant_row_bytes(*type, (int64_t)(*ne0 * *ne1));
    if (bytes == 0 || start + offset + bytes > f->size)
        return 0;
    *data = f->data + start + offset;
    return 1;
}

static const struct osr_kernels *scalar(void)
{
    return osr_kernels_for_isa(OSR_ISA_SCALAR);
}

#define TENSOR "blk.0.ffn_down.weight"

static void test_micro_against_f32(void)
{
    struct file f32, other;
    if (!load("synth-micro-F32.gguf", &f32)) {
        printf("skipping: synth-micro-F32.gguf not found under OSR_TESTDATA/reference\n");
        CHECK(1);
        return;
    }
    uint32_t t32;
    uint64_t ne0, ne1;
    const uint8_t *d32;
    REQUIRE(find_tensor(&f32, TENSOR, &t32, &ne0, &ne1, &d32));
    CHECK_INT_EQ(t32, OSR_QTYPE_F32);
    int64_t n = (int64_t)(ne0 * ne1);
    float *ref = malloc((size_t)n * sizeof(float)), *got = malloc((size_t)n * sizeof(float));
    uint8_t *requant = malloc(osr_quant_row_bytes(OSR_QTYPE_Q4_0, n));
    REQUIRE(ref && got && requant);
    memcpy(ref, d32, (size_t)n * sizeof(float));

    const char *files[] = {"synth-micro-F16.gguf", "synth-micro-Q8_0.gguf",
                           "synth-micro-Q4_0.gguf"};
    const uint32_t types[] = {OSR_QTYPE_F16, OSR_QTYPE_Q8_0, OSR_QTYPE_Q4_0};
    for (int i = 0; i < 3; i++) {
        if (!load(files[i], &other)) {
            printf("skipping: %s not found\n", files[i]);
            continue;
        }
        uint32_t t;
        uint64_t a, b;
        const uint8_t *data;
        REQUIRE(find_tensor(&other, TENSOR, &t, &a, &b, &data));
        CHECK_INT_EQ(t, types[i]);
        CHECK(a == ne0 && b == ne1);
        int bad = 0;
        for (int isa = 0; isa < OSR_ISA_COUNT; isa++) {
            const struct osr_kernels *k = osr_kernels_for_isa((enum osr_isa)isa);
            if (!k)
                continue;
            k->dequantize[t](data, got, n);
            /* per value: within one quantization step of the block (F16: 2^-11 relative) */
            for (int64_t j = 0; j < n; j++) {
                double step;
                if (t == OSR_QTYPE_F16) {
                    step = fabs(ref[j]) * 0x1p-11 + 1e-7;
                } else {
                    const uint8_t *blk = data + (size_t)(j / 32) * (t == OSR_QTYPE_Q8_0 ? 34 : 18);
                    uint16_t dh = (uint16_t)(blk[0] | blk[1] << 8);
                    step = fabs(osr_quant_f16_to_f32(dh)) * 1.01;
                }
                if (fabs(got[j] - ref[j]) > step) {
                    if (!bad++)
                        fprintf(stderr, "%s[%lld]: %g vs f32 %g\n", files[i], (long long)j, got[j],
                                ref[j]);
                }
            }
        }
        CHECK_INT_EQ(bad, 0);
        if (t == OSR_QTYPE_Q4_0) {
            scalar()->quantize[OSR_QTYPE_Q4_0](ref, requant, n);
            CHECK(memcmp(requant, data, osr_quant_row_bytes(OSR_QTYPE_Q4_0, n)) == 0);
        }
        free(other.data);
    }
    free(ref);
    free(got);
    free(requant);
    free(f32.data);
}

static void test_micro256_quants(void)
{
    const char *files[] = {"synth-micro256-Q4_K.gguf", "synth-micro256-Q6_K.gguf",
                           "synth-micro256-Q5_0.gguf"};
    const uint32_t types[] = {OSR_QTYPE_Q4_K, OSR_QTYPE_Q6_K, OSR_QTYPE_Q5_0};
    for (int i = 0; i < 3; i++) {
        struct file f;
        if (!load(files[i], &f)) {
            printf("skipping: %s not found under OSR_TESTDATA/reference\n", files[i]);
            CHECK(1);
            continue;
        }
        uint32_t t;
        uint64_t ne0, ne1;
        const uint8_t *data;
        /* attn_q is 256 x 256: small enough to walk, in the file's type */
        REQUIRE(find_tensor(&f, "blk.0.attn_q.weight", &t, &ne0, &ne1, &data));
        CHECK_INT_EQ(t, types[i]);
        int64_t n = (int64_t)(ne0 * ne1);
        float *w = malloc((size_t)n * sizeof(float));
        REQUIRE(w);
        scalar()->dequantize[t](data, w, n);
        double s = 0.0, s2 = 0.0;
        for (int64_t j = 0; j < n; j++) {
            s += w[j];
            s2 += (double)w[j] * w[j];
        }
        double mean = s / (double)n, sd = sqrt(s2 / (double)n - mean * mean);
        fprintf(stderr, "%s: mean %.5f sd %.5f\n", files[i], mean, sd);
        CHECK(fabs(mean) < 0.002);
        CHECK(sd > 0.018 && sd < 0.022);

        /* dots of every ISA on the file's rows against a random activation vector */
        const struct osr_qtype_info *ti = osr_quant_type_info(t);
        float *x = malloc((size_t)ne0 * sizeof(float));
        uint8_t *xq = malloc(osr_quant_row_bytes(ti->dot_type, (int64_t)ne0));
        float *xf = malloc((size_t)ne0 * sizeof(float));
        REQUIRE(x && xq && xf);
        for (uint64_t j = 0; j < ne0; j++)
            x[j] = sinf((float)j * 0.37f) * 2.0f;
        scalar()->quantize[ti->dot_type](x, xq, (int64_t)ne0);
        scalar()->dequantize[ti->dot_type](xq, xf, (int64_t)ne0);
        size_t rb = osr_quant_row_bytes(t, (int64_t)ne0);
        int bad = 0;
        for (uint64_t r = 0; r < ne1; r++) {
            double exact = 0.0, mag = 0.0;
            for (uint64_t j = 0; j < ne0; j++) {
                exact += (double)w[r * ne0 + j] * xf[j];
                mag += fabs((double)w[r * ne0 + j] * xf[j]);
            }
            for (int isa = 0; isa < OSR_ISA_COUNT; isa++) {
                const struct osr_kernels *k = osr_kernels_for_isa((enum osr_isa)isa);
                if (k && fabs(k->vec_dot[t]((int64_t)ne0, data + r * rb, xq) - exact) > 1e-5 * mag)
                    bad++;
            }
        }
        CHECK_INT_EQ(bad, 0);
        free(x);
        free(xq);
        free(xf);
        free(w);
        free(f.data);
    }
}

/* The three micro256 files were quantized by llama.cpp from one F32 model: their dequantized
 * weights must agree with each other within the coarser type's error (a wrong value order or
 * scale decode would make them uncorrelated, a relative difference near 1.4). */
static void test_micro256_agree(void)
{
    const char *files[] = {"synth-micro256-Q6_K.gguf", "synth-micro256-Q4_K.gguf",
                           "synth-micro256-Q5_0.gguf"};
    const double bound[] = {0.0, 0.15, 0.08};
    float *w[3] = {0};
    int64_t n = 0;
    for (int i = 0; i < 3; i++) {
        struct file f;
        if (!load(files[i], &f)) {
            printf("skipping: %s not found under OSR_TESTDATA/reference\n", files[i]);
            CHECK(1);
            goto out;
        }
        uint32_t t;
        uint64_t ne0, ne1;
        const uint8_t *data;
        REQUIRE(find_tensor(&f, "blk.1.ffn_down.weight", &t, &ne0, &ne1, &data));
        n = (int64_t)(ne0 * ne1);
        w[i] = malloc((size_t)n * sizeof(float));
        REQUIRE(w[i]);
        osr_kernels_get()->dequantize[t](data, w[i], n);
        free(f.data);
        if (i == 0)
            continue;
        double d2 = 0.0, r2 = 0.0;
        for (int64_t j = 0; j < n; j++) {
            d2 += (double)(w[i][j] - w[0][j]) * (w[i][j] - w[0][j]);
            r2 += (double)w[0][j] * w[0][j];
        }
        fprintf(stderr, "%s vs %s: relative difference %.4f\n", files[i], files[0], sqrt(d2 / r2));
        CHECK(sqrt(d2 / r2) < bound[i]);
    }
out:
    for (int i = 0; i < 3; i++)
        free(w[i]);
}

TEST_MAIN(test_micro_against_f32, test_micro256_quants, test_micro256_agree)
