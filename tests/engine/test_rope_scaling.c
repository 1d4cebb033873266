/* test_rope_scaling.c - YaRN and LongRoPE.
 *
 * The kernel: cos/sin tables of a YaRN rotation at a few positions against values computed
 * by hand (in double precision, from ggml's definition) and YaRN's correction range for three
 * real configurations.  The model: llama-2-tiny-random.gguf (n_rot 4, so two pairs) rewritten
 * with rope-scaling keys and LongRoPE factor tensors, where each variant must equal another
 * one whose angles are the same by construction:
 *   - LongRoPE with a context longer than the original uses the long factors: long factors 2
 *     equal linear scaling by 2; with a short context the short factors (1) equal no scaling;
 *   - YaRN with original_context_length 32 puts pair 0 below the ramp (extrapolated) and pair 1
 *     above it (interpolated): it equals LongRoPE factors [1, 4] with attn_factor 1 + 0.1 ln 4;
 *   - YaRN whose ramp lies beyond every pair extrapolates all: LongRoPE factors [1, 1] with the
 *     same magnitude;
 * and bad parameters are refused with their message. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "engine/gguf_splitter.h"
#include "osr/kernels.h"
#include "osr/model.h"

/* ---- kernel ------------------------------------------------------------------------------ */

static void test_corr_dims(void)
{
    float d[2];
    osr_kernels_rope_yarn_corr_dims(8, 64, 10000.0f, 32.0f, 1.0f, d);
    CHECK(d[0] == 0.0f && d[1] == 2.0f);
    osr_kernels_rope_yarn_corr_dims(128, 4096, 10000.0f, 32.0f, 1.0f, d);
    CHECK(d[0] == 20.0f && d[1] == 46.0f);
    osr_kernels_rope_yarn_corr_dims(64, 32768, 1000000.0f, 32.0f, 1.0f, d);
    CHECK(d[0] == 11.0f && d[1] == 20.0f);
    osr_kernels_rope_yarn_corr_dims(4, 1 << 24, 10000.0f, 32.0f, 1.0f, d);
    CHECK(d[0] == 2.0f && d[1] == 3.0f); /* clamped to n_rot - 1 */
}

/* n_rot 8, base 10000, factor 4 (freq_scale 0.25), original context 64 (ramp [0, 2]: mixes
 * 1, 0.5, 0, 0), magnitude 1 + 0.1 ln 4; pairs (2i, 2i + 1) of (1, 0, 1, 0, ...) become
 * (cos, sin) of each angle. */
static const int table_pos[3] = {1, 7, 100};
static const float table[3][8] = {
    {0.615204f, 0.958124f, 1.136406f, 0.071118f, 1.138626f, 0.002847f, 1.138629f, 0.000285f},
    {0.858415f, 0.748064f, 1.031386f, 0.482410f, 1.138455f, 0.019925f, 1.138628f, 0.001993f},
    {0.981862f, -0.576563f, 1.138003f, -0.037779f, 1.103232f, 0.281701f, 1.138274f, 0.028463f},
};

static void test_yarn_table(void)
{
    struct osr_rope p = {.n_rot = 8,
                         .neox = 0,
                         .freq_base = 10000.0f,
                         .freq_scale = 0.25f,
                         .attn_factor = 1.0f,
                         .ext_factor = 1.0f};
    osr_kernels_rope_yarn_corr_dims(8, 64, 10000.0f, 32.0f, 1.0f, p.corr_dims);
    for (int k = 0; k < 3; k++) {
        float x[16];
        for (int i = 0; i < 16; i++)
            x[i] = i % 2 == 0 ? 1.0f : 0.0f;
        osr_kernels_rope(x, 2, 8, table_pos[k], &p);
        float err = 0;
        for (int i = 0; i < 8; i++) {
            err = fmaxf(err, fabsf(x[i] - table[k][i]));
            err = fmaxf(err, fabsf(x[8 + i] - table[k][i])); /* second head, same rotation */
        }
        if (err > 2e-5f)
            fprintf(stderr, "pos %d: max error %g\n", table_pos[k], (double)err);
        CHECK(err <= 2e-5f);
    }
    /* neox layout: pair i is (i, i + 4) */
    p.neox = 1;
    float x[8] = {1, 1, 1, 1, 0, 0, 0, 0};
    osr_kernels_rope(x, 1, 8, 7, &p);
    for (int i = 0; i < 4; i++) {
        CHECK(fabsf(x[i] - table[1][2 * i]) <= 2e-5f);
        CHECK(fabsf(x[4 + i] - table[1][2 * i + 1]) <= 2e-5f);
    }
}

/* A ramp below every pair interpolates all: the plain rotation with freq_scale and the YaRN
 * magnitude. */
static void test_yarn_all_interpolated(void)
{
    struct osr_rope y = {.n_rot = 8,
                         .freq_base = 10000.0f,
                         .freq_scale = 0.125f,
                         .attn_factor = 1.5f,
                         .ext_factor = 1.0f,
                         .corr_dims = {-10, -5}};
    struct osr_rope l = {.n_rot = 8,
                         .freq_base = 10000.0f,
                         .freq_scale = 0.125f,
                         .attn_factor = 1.5f * (1.0f + 0.1f * logf(8.0f))};
    for (int pos = 0; pos < 300; pos += 37) {
        float a[8] = {0.5f, -1, 2, 0.25f, 1, 1, -3, 0.75f}, b[8];
        memcpy(b, a, sizeof(a));
        osr_kernels_rope(a, 1, 8, pos, &y);
        osr_kernels_rope(b, 1, 8, pos, &l);
        float err = 0;
        for (int i = 0; i < 8; i++)
            err = fmaxf(err, fabsf(a[i] - b[i]));
        CHECK(err < 1e-4f);
    }
}

/* ---- model ------------------------------------------------------------------------------- */

static char model_path[1024];
static char tmpdir[256];
static struct osr_gguf *src;

static bool have_model(void)
{
    if (src)
        return true;
    const char *td = getenv("OSR_TESTDATA");
    snprintf(model_path, sizeof(model_path), "%s/llama-2-tiny-random.gguf", td ? td : "");
    if (!td || access(model_path, R_OK) != 0) {
        printf("skipping: llama-2-tiny-random.gguf is not available\n");
        return false;
    }
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/osr_rope_XXXXXX");
    if (!mkdtemp(tmpdir) || osr_gguf_open(model_path, &src, NULL) != OSR_OK)
        return false;
    return true;
}

/* Writes the tiny model with extra keys and tensors and loads it. */
static int load_variant(const struct splitter_kv *kv, size_t n_kv, const struct splitter_tensor *t,
                        size_t n_t, struct osr_model **out, struct osr_diag *d)
{
    static int seq;
    struct splitter_opts o = {.n_parts = 1, .kv = kv, .n_kv = n_kv, .tensors = t, .n_tensors = n_t};
    char prefix[320], paths[1][512];
    snprintf(prefix, sizeof(prefix), "%s/v%d", tmpdir, seq++);
    if (splitter_write(src, &o, prefix, paths) != 0)
        return OSR_EIO;
    osr_diag_clear(d);
    int rc = osr_model_load(paths[0], out, d);
    unlink(paths[0]);
    return rc;
}

/* Logits of every position of a short prompt, with a context of n_ctx (heap). */
static float *logits(const struct osr_model *m, int n_ctx)
{
    static const int32_t prompt[] = {1, 450, 4996, 17354, 1701, 432, 17204, 975};
    struct osr_model_ctx_params p;
    osr_model_ctx_params_init(&p);
    p.n_ctx = n_ctx;
    p.kv_type = OSR_KV_F32;
    struct osr_model_ctx *c = NULL;
    if (osr_model_ctx_new(m, &p, &c, NULL) != OSR_OK)
        return NULL;
    int nv = osr_model_hparams(m)->n_vocab;
    float *l = calloc((size_t)nv * 8, sizeof(float));
    if (osr_model_ctx_decode(c, prompt, 8, true, l, NULL) != OSR_OK) {
        free(l);
        l = NULL;
    }
    osr_model_ctx_free(c);
    return l;
}

/* Largest absolute difference between the logits of a and b (n_ctx each); -1 on failure. */
static double diff(const struct osr_model *a, int na, const struct osr_model *b, int nb)
{
    float *la = logits(a, na), *lb = logits(b, nb);
    double d = -1;
    if (la && lb) {
        d = 0;
        size_t n = (size_t)osr_model_hparams(a)->n_vocab * 8;
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(la[i]) || !isfinite(lb[i])) {
                d = -1;
                break;
            }
            d = fmax(d, fabs((double)la[i] - (double)lb[i]));
        }
    }
    free(la);
    free(lb);
    return d;
}

#define KV_STR(k, v)                                                                               \
    {                                                                                              \
        (k), OSR_GGUF_TYPE_STRING, (v), 0, 0                                                       \
    }
#define KV_F32(k, v)                                                                               \
    {                                                                                              \
        (k), OSR_GGUF_TYPE_FLOAT32, NULL, (v), 0                                                   \
    }
#define KV_U32(k, v)                                                                               \
    {                                                                                              \
        (k), OSR_GGUF_TYPE_UINT32, NULL, 0, (v)                                                    \
    }

static const float ones[2] = {1, 1}, twos[2] = {2, 2}, one_four[2] = {1, 4};

static void test_longrope(void)
{
    if (!have_model())
        return;
    struct osr_diag d;
    struct osr_model *plain = NULL, *lin2 = NULL, *lr = NULL;
    REQUIRE(load_variant(NULL, 0, NULL, 0, &plain, &d) == OSR_OK);
    struct splitter_kv lin_kv[] = {KV_STR("llama.rope.scaling.type", "linear"),
                                   KV_F32("llama.rope.scaling.factor", 2.0f)};
    REQUIRE(load_variant(lin_kv, 2, NULL, 0, &lin2, &d) == OSR_OK);
    struct splitter_kv lr_kv[] = {KV_U32("llama.rope.scaling.original_context_length", 32)};
    struct splitter_tensor lr_t[] = {{"rope_factors_long.weight", twos, 2},
                                     {"rope_factors_short.weight", ones, 2}};
    int rc = load_variant(lr_kv, 1, lr_t, 2, &lr, &d);
    if (rc)
        fprintf(stderr, "%s\n", d.msg);
    REQUIRE(rc == OSR_OK);
    CHECK(osr_model_hparams(lr)->rope_longrope);
    CHECK_INT_EQ(osr_model_hparams(lr)->n_ctx_orig, 32);
    CHECK(diff(lr, 64, lin2, 64) == 0.0);  /* long factors: context 64 > 32 */
    CHECK(diff(lr, 16, plain, 16) == 0.0); /* short factors */
    /* the scaling changes something (little: this tiny random model's logits move little
     * with position; the comparisons above are exact) */
    CHECK(diff(lin2, 64, plain, 64) > 1e-6);
    osr_model_free(lr);
    osr_model_free(lin2);
    osr_model_free(plain);
}

static void test_yarn(void)
{
    if (!have_model())
        return;
    struct osr_diag d;
    float mscale = 1.0f + 0.1f * logf(4.0f);
    struct osr_model *yarn = NULL, *lr = NULL, *plain = NULL, *lin4 = NULL;
    struct splitter_kv y_kv[] = {KV_STR("llama.rope.scaling.type", "yarn"),
                                 KV_F32("llama.rope.scaling.factor", 4.0f),
                                 KV_U32("llama.rope.scaling.original_context_length", 32)};
    int rc = load_variant(y_kv, 3, NULL, 0, &yarn, &d);
    if (rc)
        fprintf(stderr, "%s\n", d.msg);
    REQUIRE(rc == OSR_OK);
    const struct osr_model_hparams *hp = osr_model_hparams(yarn);
    CHECK(hp->yarn_ext_factor == 1.0f && hp->yarn_beta_fast == 32.0f &&
          hp->yarn_beta_slow == 1.0f && hp->rope_scale == 0.25f && hp->n_ctx_orig == 32);
    struct splitter_kv lr_kv[] = {KV_U32("llama.rope.scaling.original_context_length", 32),
                                  KV_F32("llama.rope.scaling.attn_factor", mscale)};
    struct splitter_tensor lr_t[] = {{"rope_factors_long.weight", one_four, 2},
                                     {"rope_factors_short.weight", ones, 2}};
    REQUIRE(load_variant(lr_kv, 2, lr_t, 2, &lr, &d) == OSR_OK);
    double dy = diff(yarn, 64, lr, 64);
    CHECK(dy >= 0 && dy <= 1e-7);
    REQUIRE(load_variant(NULL, 0, NULL, 0, &plain, &d) == OSR_OK);
    struct splitter_kv lin_kv[] = {KV_STR("llama.rope.scaling.type", "linear"),
                                   KV_F32("llama.rope.scaling.factor", 4.0f)};
    REQUIRE(load_variant(lin_kv, 2, NULL, 0, &lin4, &d) == OSR_OK);
    CHECK(diff(yarn, 64, plain, 64) > 1e-6);
    CHECK(diff(yarn, 64, lin4, 64) > 1e-6);
    osr_model_free(lr);

    /* the ramp beyond both pairs: everything extrapolated, only the magnitude changes */
    struct osr_model *yfar = NULL;
    struct splitter_kv far_kv[] = {KV_STR("llama.rope.scaling.type", "yarn"),
                                   KV_F32("llama.rope.scaling.factor", 4.0f),
                                   KV_U32("llama.rope.scaling.original_context_length", 1u << 24)};
    REQUIRE(load_variant(far_kv, 3, NULL, 0, &yfar, &d) == OSR_OK);
    struct splitter_tensor ones_t[] = {{"rope_factors_long.weight", ones, 2},
                                       {"rope_factors_short.weight", ones, 2}};
    struct splitter_kv mag_kv[] = {KV_F32("llama.rope.scaling.attn_factor", mscale)};
    lr = NULL;
    REQUIRE(load_variant(mag_kv, 1, ones_t, 2, &lr, &d) == OSR_OK);
    dy = diff(yfar, 64, lr, 64);
    CHECK(dy >= 0 && dy <= 1e-7);
    CHECK(diff(yfar, 64, yarn, 64) > 1e-6);
    osr_model_free(lr);
    osr_model_free(yfar);
    osr_model_free(lin4);
    osr_model_free(plain);
    osr_model_free(yarn);
}

static void expect_refused(const struct splitter_kv *kv, size_t n_kv,
                           const struct splitter_tensor *t, size_t n_t, int want_rc,
                           const char *want)
{
    struct osr_diag d;
    struct osr_model *m = NULL;
    int rc = load_variant(kv, n_kv, t, n_t, &m, &d);
    CHECK_INT_EQ(rc, want_rc);
    CHECK(m == NULL);
    if (!strstr(d.msg, want))
        fprintf(stderr, "message: %s (want '%s')\n", d.msg, want);
    CHECK(strstr(d.msg, want) != NULL);
    osr_model_free(m);
}

static void test_refused(void)
{
    if (!have_model())
        return;
    struct splitter_tensor only_long[] = {{"rope_factors_long.weight", ones, 2}};
    expect_refused(NULL, 0, only_long, 1, OSR_ECORRUPT, "needs both rope_factors_long");
    static const float bad[2] = {1, -2};
    struct splitter_tensor neg[] = {{"rope_factors_long.weight", bad, 2},
                                    {"rope_factors_short.weight", ones, 2}};
    expect_refused(NULL, 0, neg, 2, OSR_ECORRUPT, "LongRoPE factor 1");
    struct splitter_tensor three[] = {{"rope_factors_long.weight", table[0], 3},
                                      {"rope_factors_short.weight", table[0], 3}};
    expect_refused(NULL, 0, three, 2, OSR_ECORRUPT, "expected 2");
    struct splitter_kv dyn[] = {KV_STR("llama.rope.scaling.type", "dynamic")};
    expect_refused(dyn, 1, NULL, 0, OSR_EUNSUPPORTED, "unsupported rope scaling 'dynamic'");
    struct splitter_kv zero[] = {KV_STR("llama.rope.scaling.type", "yarn"),
                                 KV_F32("llama.rope.scaling.factor", 0.0f)};
    expect_refused(zero, 2, NULL, 0, OSR_ECORRUPT, "bad rope.scaling.factor");
    struct splitter_kv beta[] = {KV_STR("llama.rope.scaling.type", "yarn"),
                                 KV_F32("llama.rope.scaling.factor", 4.0f),
                                 KV_F32("llama.rope.scaling.yarn_beta_fast", 0.0f)};
    expect_refused(beta, 3, NULL, 0, OSR_ECORRUPT, "bad YaRN parameters");
    struct splitter_kv attn[] = {KV_F32("llama.rope.scaling.attn_factor", -1.0f)};
    expect_refused(attn, 1, NULL, 0, OSR_ECORRUPT, "bad rope.scaling.attn_factor");
}

static void cleanup(void)
{
    if (!src)
        return;
    osr_gguf_close(src);
    CHECK(rmdir(tmpdir) == 0);
}

TEST_MAIN(test_corr_dims, test_yarn_table, test_yarn_all_interpolated, test_longrope, test_yarn,
          test_refused, cleanup)
