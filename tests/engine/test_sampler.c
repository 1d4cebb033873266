/* test_sampler.c - the sampler chain on fixed logit vectors: greedy, filters, temperature,
 * penalties, bias, seeding, and the raw-logit helpers. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "osr/sampler.h"

static struct osr_sampler *make(struct osr_sampler_params *p, int32_t n)
{
    struct osr_sampler *s = NULL;
    struct osr_diag d = {0};
    int rc = osr_sampler_new(p, n, &s, &d);
    if (rc)
        fprintf(stderr, "sampler: %s\n", d.msg);
    return s;
}

/* A sampler with every filter off at temperature t. */
static void plain(struct osr_sampler_params *p, float t)
{
    osr_sampler_params_init(p);
    p->temperature = t;
    p->top_k = 0;
    p->top_p = 1.0f;
    p->min_p = 0.0f;
}

static void test_helpers(void)
{
    float l[] = {0.5f, 2.0f, NAN, 2.0f, -INFINITY, 1.0f};
    CHECK_INT_EQ(osr_logits_argmax(l, 6), 1);
    float nan1[] = {NAN};
    CHECK_INT_EQ(osr_logits_argmax(nan1, 1), -1);
    int32_t ids[6];
    CHECK_INT_EQ(osr_logits_top_k(l, 6, 4, ids), 4);
    CHECK_INT_EQ(ids[0], 1);
    CHECK_INT_EQ(ids[1], 3);
    CHECK_INT_EQ(ids[2], 5);
    CHECK_INT_EQ(ids[3], 0);
    CHECK_INT_EQ(osr_logits_top_k(l, 6, 10, ids), 6);
    CHECK_INT_EQ(ids[4], 4); /* -inf before NaN */
    CHECK_INT_EQ(ids[5], 2);
}

static void test_greedy_and_bias(void)
{
    struct osr_sampler_params p;
    plain(&p, 0.0f);
    float l[] = {0.1f, 3.0f, 2.9f, -1.0f};
    struct osr_sampler *s = make(&p, 4);
    REQUIRE(s);
    CHECK_INT_EQ(osr_sampler_sample(s, l), 1);
    osr_sampler_free(s);

    struct osr_logit_bias b[] = {{1, -INFINITY}, {3, 5.0f}};
    p.bias = b;
    p.n_bias = 1;
    s = make(&p, 4);
    CHECK_INT_EQ(osr_sampler_sample(s, l), 2);
    osr_sampler_free(s);
    p.n_bias = 2;
    s = make(&p, 4);
    CHECK_INT_EQ(osr_sampler_sample(s, l), 3);
    osr_sampler_free(s);

    float banned[] = {-INFINITY, NAN};
    p.n_bias = 0;
    s = make(&p, 2);
    CHECK_INT_EQ(osr_sampler_sample(s, banned), -1);
    osr_sampler_free(s);

    struct osr_logit_bias bad[] = {{4, 1.0f}};
    p.bias = bad;
    p.n_bias = 1;
    struct osr_diag d = {0};
    s = NULL;
    CHECK_INT_EQ(osr_sampler_new(&p, 4, &s, &d), OSR_EINVAL);
    CHECK(s == NULL);
    CHECK(strstr(d.msg, "token 4") != NULL);
}

/* Counts how often each of n tokens is drawn in draws samples. */
static void histogram(struct osr_sampler *s, const float *l, int n, int draws, int *counts)
{
    memset(counts, 0, (size_t)n * sizeof(*counts));
    for (int i = 0; i < draws; i++) {
        int32_t t = osr_sampler_sample(s, l);
        if (t >= 0 && t < n)
            counts[t]++;
    }
}

static void test_distribution(void)
{
    struct osr_sampler_params p;
    plain(&p, 1.0f);
    p.seed = 42;
    /* probabilities 0.5, 0.3, 0.2 */
    float l[] = {logf(0.5f), logf(0.3f), logf(0.2f)};
    struct osr_sampler *s = make(&p, 3);
    REQUIRE(s);
    int c[3];
    histogram(s, l, 3, 20000, c);
    CHECK(fabs(c[0] / 20000.0 - 0.5) < 0.02);
    CHECK(fabs(c[1] / 20000.0 - 0.3) < 0.02);
    CHECK(fabs(c[2] / 20000.0 - 0.2) < 0.02);
    osr_sampler_free(s);

    /* A low temperature sharpens: 0.5 -> p0 = 0.25/(0.25+0.09+0.04) = 0.66. */
    plain(&p, 0.5f);
    s = make(&p, 3);
    histogram(s, l, 3, 20000, c);
    CHECK(fabs(c[0] / 20000.0 - 0.658) < 0.02);
    osr_sampler_free(s);
}

static void test_seed(void)
{
    struct osr_sampler_params p;
    plain(&p, 1.0f);
    float l[16];
    for (int i = 0; i < 16; i++)
        l[i] = 0.1f * (float)(i % 5);
    int32_t a[64], b[64], c[64];
    p.seed = 7;
    struct osr_sampler *s1 = make(&p, 16), *s2 = make(&p, 16);
    p.seed = 8;
    struct osr_sampler *s3 = make(&p, 16);
    REQUIRE(s1 && s2 && s3);
    for (int i = 0; i < 64; i++) {
        a[i] = osr_sampler_sample(s1, l);
        b[i] = osr_sampler_sample(s2, l);
        c[i] = osr_sampler_sample(s3, l);
    }
    CHECK(memcmp(a, b, sizeof(a)) == 0);
    CHECK(memcmp(a, c, sizeof(a)) != 0);
    osr_sampler_reset(s1);
    for (int i = 0; i < 64; i++)
        b[i] = osr_sampler_sample(s1, l);
    CHECK(memcmp(a, b, sizeof(a)) == 0);
    osr_sampler_free(s1);
    osr_sampler_free(s2);
    osr_sampler_free(s3);
}

static void test_filters(void)
{
    struct osr_sampler_params p;
    /* probabilities 0.5, 0.3, 0.15, 0.05 */
    float l[] = {logf(0.5f), logf(0.3f), logf(0.15f), logf(0.05f)};
    int c[4];

    plain(&p, 1.0f);
    p.top_k = 1;
    struct osr_sampler *s = make(&p, 4);
    histogram(s, l, 4, 2000, c);
    CHECK_INT_EQ(c[0], 2000);
    osr_sampler_free(s);

    plain(&p, 1.0f);
    p.top_k = 2;
    s = make(&p, 4);
    histogram(s, l, 4, 4000, c);
    CHECK(c[2] == 0 && c[3] == 0 && c[1] > 1200 && c[0] > 2200);
    osr_sampler_free(s);

    plain(&p, 1.0f);
    p.top_p = 0.7f; /* 0.5 < 0.7 <= 0.8: ids 0 and 1 */
    s = make(&p, 4);
    histogram(s, l, 4, 4000, c);
    CHECK(c[2] == 0 && c[3] == 0 && c[1] > 1000);
    osr_sampler_free(s);

    plain(&p, 1.0f);
    p.min_p = 0.5f; /* keeps p >= 0.25 */
    s = make(&p, 4);
    histogram(s, l, 4, 4000, c);
    CHECK(c[2] == 0 && c[3] == 0 && c[1] > 1000);
    osr_sampler_free(s);

    plain(&p, 1.0f);
    p.min_p = 0.2f; /* keeps p >= 0.1 */
    s = make(&p, 4);
    histogram(s, l, 4, 4000, c);
    CHECK(c[2] > 0 && c[3] == 0);
    osr_sampler_free(s);

    /* Entropy 1.142 nats; |surprise - H| = 0.45, 0.06, 0.76, 1.85: the most typical token is
     * id 1, then id 0. */
    plain(&p, 1.0f);
    p.typical_p = 0.2f;
    s = make(&p, 4);
    histogram(s, l, 4, 1000, c);
    CHECK_INT_EQ(c[1], 1000);
    osr_sampler_free(s);
    plain(&p, 1.0f);
    p.typical_p = 0.5f;
    s = make(&p, 4);
    histogram(s, l, 4, 4000, c);
    CHECK(c[0] > 0 && c[1] > 0 && c[2] == 0 && c[3] == 0);
    osr_sampler_free(s);
}

static void test_penalties(void)
{
    struct osr_sampler_params p;
    float l[] = {1.0f, 0.9f, -0.5f, -0.6f};
    plain(&p, 0.0f);
    p.repeat_penalty = 1.5f;
    struct osr_sampler *s = make(&p, 4);
    REQUIRE(s);
    CHECK_INT_EQ(osr_sampler_sample(s, l), 0);
    osr_sampler_accept(s, 0); /* 1.0 / 1.5 = 0.667 < 0.9 */
    CHECK_INT_EQ(osr_sampler_sample(s, l), 1);
    osr_sampler_free(s);

    /* A negative logit is multiplied: -0.5 * 1.5 = -0.75 < -0.6. */
    float neg[] = {-0.5f, -0.6f};
    s = make(&p, 2);
    osr_sampler_accept(s, 0);
    CHECK_INT_EQ(osr_sampler_sample(s, neg), 1);
    osr_sampler_free(s);

    plain(&p, 0.0f);
    p.frequency_penalty = 0.04f;
    s = make(&p, 4);
    osr_sampler_accept(s, 0);
    osr_sampler_accept(s, 0); /* 1.0 - 0.08 = 0.92 > 0.9 */
    CHECK_INT_EQ(osr_sampler_sample(s, l), 0);
    osr_sampler_accept(s, 0); /* 1.0 - 0.12 = 0.88 < 0.9 */
    CHECK_INT_EQ(osr_sampler_sample(s, l), 1);
    osr_sampler_free(s);

    plain(&p, 0.0f);
    p.presence_penalty = 0.2f;
    s = make(&p, 4);
    osr_sampler_accept(s, 0);
    osr_sampler_accept(s, 1); /* 0.8 and 0.7: still 0 */
    CHECK_INT_EQ(osr_sampler_sample(s, l), 0);
    osr_sampler_free(s);

    /* Only the last penalty_last_n tokens count. */
    plain(&p, 0.0f);
    p.repeat_penalty = 1.5f;
    p.penalty_last_n = 1;
    s = make(&p, 4);
    osr_sampler_accept(s, 0);
    osr_sampler_accept(s, 2);
    CHECK_INT_EQ(osr_sampler_sample(s, l), 0);
    osr_sampler_reset(s);
    osr_sampler_accept(s, 0);
    CHECK_INT_EQ(osr_sampler_sample(s, l), 1);
    osr_sampler_free(s);
}

static void test_logprobs(void)
{
    /* probabilities 0.5, 0.3, 0.2 and a banned token */
    float l[] = {logf(0.3f) + 7, logf(0.5f) + 7, -INFINITY, logf(0.2f) + 7};
    int32_t ids[4];
    float lp[4], mine = 0;
    CHECK_INT_EQ(osr_logits_logprobs(l, 4, 2, 3, ids, lp, &mine), 2);
    CHECK_INT_EQ(ids[0], 1);
    CHECK_INT_EQ(ids[1], 0);
    CHECK(fabsf(lp[0] - logf(0.5f)) < 1e-5f);
    CHECK(fabsf(lp[1] - logf(0.3f)) < 1e-5f);
    CHECK(fabsf(mine - logf(0.2f)) < 1e-5f);
    CHECK_INT_EQ(osr_logits_logprobs(l, 4, 4, 2, ids, lp, &mine), 4);
    CHECK(lp[3] == -INFINITY && mine == -INFINITY);
    float none[] = {-INFINITY, NAN};
    CHECK_INT_EQ(osr_logits_logprobs(none, 2, 2, 0, ids, lp, NULL), 0);
}

TEST_MAIN(test_helpers, test_logprobs, test_greedy_and_bias, test_distribution, test_seed,
          test_filters, test_penalties)
