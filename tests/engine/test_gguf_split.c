/* test_gguf_split.c - split GGUF models: a real small model (llama-2-tiny-random.gguf from the
 * test data) is cut into parts the way llama.cpp's gguf-split does, and the joined model must
 * give exactly the logits of the whole file; then the ways a split can be broken (parts out of
 * order or missing, a lone part, a tensor in two parts, a wrong tensor count). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "gguf_splitter.h"
#include "osr/model.h"

static char model_path[1024];
static char tmpdir[256];

static bool have_model(void)
{
    const char *td = getenv("OSR_TESTDATA");
    if (!td) {
        printf("skipping: OSR_TESTDATA is not set\n");
        return false;
    }
    snprintf(model_path, sizeof(model_path), "%s/llama-2-tiny-random.gguf", td);
    if (access(model_path, R_OK) != 0) {
        printf("skipping: %s is absent\n", model_path);
        return false;
    }
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/osr_split_XXXXXX");
        if (!mkdtemp(tmpdir)) {
            tmpdir[0] = '\0';
            return false;
        }
    }
    return true;
}

/* Logits of the last token after a short prompt (n_vocab floats, heap). */
static float *run_logits(struct osr_model *m, int *n_vocab)
{
    static const int32_t prompt[] = {1, 15043, 29892, 590, 1024, 338};
    struct osr_model_ctx_params p;
    osr_model_ctx_params_init(&p);
    p.n_ctx = 64;
    p.kv_type = OSR_KV_F32;
    struct osr_model_ctx *c = NULL;
    if (osr_model_ctx_new(m, &p, &c, NULL) != OSR_OK)
        return NULL;
    *n_vocab = osr_model_hparams(m)->n_vocab;
    float *logits = calloc((size_t)*n_vocab, sizeof(float));
    int n = 6;
    while (n > 0 && prompt[n - 1] >= *n_vocab)
        n--;
    if (osr_model_ctx_decode(c, prompt, n, false, logits, NULL) != OSR_OK) {
        free(logits);
        logits = NULL;
    }
    osr_model_ctx_free(c);
    return logits;
}

static void remove_parts(char (*paths)[512], int n)
{
    for (int i = 0; i < n; i++)
        unlink(paths[i]);
}

static void check_split_equals_whole(int n_parts, const size_t *first)
{
    struct osr_diag d;
    struct osr_model *whole = NULL;
    REQUIRE(osr_model_load(model_path, &whole, &d) == OSR_OK);
    const struct osr_gguf *g = osr_model_gguf(whole);
    struct splitter_opts o = {.n_parts = n_parts, .first = first};
    char paths[8][512];
    char prefix[300];
    snprintf(prefix, sizeof(prefix), "%s/tiny", tmpdir);
    REQUIRE(splitter_write(g, &o, prefix, paths) == 0);

    const char *pp[8];
    for (int i = 0; i < n_parts; i++)
        pp[i] = paths[i];
    struct osr_model *split = NULL;
    int rc = osr_model_load_split(pp, (size_t)n_parts, &split, &d);
    if (rc)
        fprintf(stderr, "split load: %s\n", d.msg);
    REQUIRE(rc == OSR_OK);
    const struct osr_gguf *sg = osr_model_gguf(split);
    CHECK_INT_EQ(osr_gguf_n_parts(sg), n_parts);
    CHECK_INT_EQ(osr_gguf_n_tensors(sg), osr_gguf_n_tensors(g));
    /* every tensor found by name, same bytes, its data in some part's file */
    for (size_t i = 0; i < osr_gguf_n_tensors(g); i++) {
        const struct osr_gguf_tensor *a = osr_gguf_tensor(g, i);
        const struct osr_gguf_tensor *b = osr_gguf_find_tensor(sg, a->name);
        CHECK(b && b->n_bytes == a->n_bytes && memcmp(a->data, b->data, a->n_bytes) == 0);
    }
    /* the metadata of the first part (the source's keys plus the split keys) */
    CHECK_INT_EQ(osr_gguf_n_kv(sg), osr_gguf_n_kv(g) + 3);
    struct osr_str s1, s2;
    CHECK(osr_gguf_get_str(g, "tokenizer.ggml.model", &s1) == OSR_OK &&
          osr_gguf_get_str(sg, "tokenizer.ggml.model", &s2) == OSR_OK && osr_str_eq(s1, s2));

    int nv1 = 0, nv2 = 0;
    float *l1 = run_logits(whole, &nv1);
    float *l2 = run_logits(split, &nv2);
    REQUIRE(l1 && l2);
    CHECK_INT_EQ(nv1, nv2);
    CHECK(memcmp(l1, l2, (size_t)nv1 * sizeof(float)) == 0);
    float maxabs = 0;
    for (int i = 0; i < nv1; i++)
        maxabs = fmaxf(maxabs, fabsf(l1[i]));
    CHECK(maxabs > 0); /* the comparison compared something */
    /* the first part's name alone finds the others */
    struct osr_model *by_name = NULL;
    REQUIRE(osr_model_load(paths[0], &by_name, &d) == OSR_OK);
    CHECK_INT_EQ(osr_gguf_n_parts(osr_model_gguf(by_name)), n_parts);
    float *l3 = run_logits(by_name, &nv2);
    CHECK(l3 && memcmp(l1, l3, (size_t)nv1 * sizeof(float)) == 0);
    free(l3);
    osr_model_free(by_name);
    free(l1);
    free(l2);
    osr_model_free(split);
    osr_model_free(whole);
    remove_parts(paths, n_parts);
}

static void test_split_three(void)
{
    if (!have_model())
        return;
    check_split_equals_whole(3, NULL);
}

static void test_split_metadata_only_first(void)
{
    if (!have_model())
        return;
    /* llama.cpp's --no-tensor-first-split: part 1 holds only the metadata */
    static const size_t first[] = {0, 0, 5};
    check_split_equals_whole(3, first);
}

/* Writes a broken split of the model and expects rc and a message containing want. */
static void expect_broken(const struct splitter_opts *o, const int *order, int n_open, int want_rc,
                          const char *want)
{
    struct osr_gguf *g = NULL;
    REQUIRE(osr_gguf_open(model_path, &g, NULL) == OSR_OK);
    char paths[8][512];
    char prefix[300];
    snprintf(prefix, sizeof(prefix), "%s/broken", tmpdir);
    REQUIRE(splitter_write(g, o, prefix, paths) == 0);
    osr_gguf_close(g);
    const char *pp[8];
    for (int i = 0; i < n_open; i++)
        pp[i] = paths[order ? order[i] : i];
    struct osr_model *m = NULL;
    struct osr_diag d;
    osr_diag_clear(&d);
    int rc = osr_model_load_split(pp, (size_t)n_open, &m, &d);
    CHECK_INT_EQ(rc, want_rc);
    CHECK(m == NULL);
    if (!strstr(d.msg, want))
        fprintf(stderr, "message: %s (want '%s')\n", d.msg, want);
    CHECK(strstr(d.msg, want) != NULL);
    osr_model_free(m);
    remove_parts(paths, o->n_parts);
}

static void test_split_errors(void)
{
    if (!have_model())
        return;
    struct splitter_opts o = {.n_parts = 3};
    static const int swapped[] = {0, 2, 1};
    expect_broken(&o, swapped, 3, OSR_ECORRUPT, "part 2 of the split model says it is part 3");
    expect_broken(&o, NULL, 2, OSR_ECORRUPT, "says there are 3 parts, but 2 were given");
    /* a lone first part loaded as a model (the name of the second part does not say so) */
    static const int second[] = {1};
    expect_broken(&o, second, 1, OSR_ECORRUPT, "says there are 3 parts, but 1 were given");
    struct splitter_opts dup = {.n_parts = 2, .extra_dup = 1};
    expect_broken(&dup, NULL, 2, OSR_ECORRUPT, "appears in more than one part");
    struct splitter_opts cnt = {.n_parts = 2, .tensors_count_d = 1};
    expect_broken(&cnt, NULL, 2, OSR_ECORRUPT, "declares");
    struct splitter_opts no = {.n_parts = 2, .no_offset = 1};
    expect_broken(&no, NULL, 2, OSR_ECORRUPT, "split.no counts from 0");

    struct osr_diag d;
    struct osr_gguf *g = NULL;
    const char *none[1] = {NULL};
    CHECK(osr_gguf_open_split(none, 0, &g, &d) == OSR_EINVAL && !g);
    const char *missing[2] = {model_path, "/nonexistent/x-00002-of-00002.gguf"};
    CHECK(osr_gguf_open_split(missing, 2, &g, &d) == OSR_EIO && !g);
    /* a plain file joins as itself */
    const char *one[1] = {model_path};
    REQUIRE(osr_gguf_open_split(one, 1, &g, &d) == OSR_OK);
    CHECK_INT_EQ(osr_gguf_n_parts(g), 1);
    osr_gguf_close(g);
    rmdir(tmpdir);
}

TEST_MAIN(test_split_three, test_split_metadata_only_first, test_split_errors)
