/* sampler.c - the token sampler: bias, penalties, truncation filters, temperature, seeded draw.
 *
 * Each call copies the logits into a candidate list, applies logit bias and the penalties, and
 * then either takes the argmax (greedy) or narrows the candidates with top_k, typical_p, top_p
 * and min_p (in llama.cpp's default order, the filters looking at the untempered
 * distribution), divides by the temperature and draws from the softmax with a xoshiro256**
 * generator seeded through splitmix64.  Candidates are kept sorted by logit (descending, lower
 * id first on ties) so every step is deterministic.  All buffers are allocated with the
 * sampler.  It does not know about tokenizers, stop strings or EOS: see model_generate.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "osr/alloc.h"
#include "osr/sampler.h"

#define HISTORY_MAX 4096

struct cand {
    int32_t id;
    float logit;
    float p;
};

struct osr_sampler {
    struct osr_sampler_params p;
    int32_t n_vocab;
    struct osr_logit_bias *bias;
    struct cand *cands;
    struct cand *tmp; /* for typical_p */
    float *work;      /* n_vocab logits after bias and penalties */
    uint32_t *counts; /* per token, during a penalty pass */
    int32_t *hist;    /* ring of the last hist_cap tokens */
    int hist_cap, hist_len, hist_head;
    uint64_t rng[4];
};

/* ---- RNG ------------------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(uint64_t s[4])
{
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

/* Uniform in [0, 1) with 53 random bits. */
static double rng_uniform(uint64_t s[4])
{
    return (double)(rng_next(s) >> 11) * 0x1p-53;
}

static void rng_seed(struct osr_sampler *s)
{
    uint64_t x = s->p.seed;
    for (int i = 0; i < 4; i++)
        s->rng[i] = splitmix64(&x);
}

/* ---- helpers on raw logits ---------------------------------------------------------------- */

int32_t osr_logits_argmax(const float *logits, int32_t n)
{
    int32_t best = -1;
    for (int32_t i = 0; i < n; i++)
        if (!isnan(logits[i]) && (best < 0 || logits[i] > logits[best]))
            best = i;
    return best;
}

/* a ranks before b: larger logit, then lower id; NaN after everything. */
static bool ranks_before(float la, int32_t a, float lb, int32_t b)
{
    if (isnan(la) || isnan(lb))
        return isnan(lb) && (!isnan(la) || a < b);
    return la > lb || (la == lb && a < b);
}

int osr_logits_top_k(const float *logits, int32_t n, int k, int32_t *ids)
{
    int len = 0;
    if (k > n)
        k = n;
    if (k <= 0)
        return 0;
    for (int32_t i = 0; i < n; i++) {
        /* ids ascend, so a tie with the last kept entry ranks after it. */
        if (len == k && !ranks_before(logits[i], i, logits[ids[len - 1]], ids[len - 1]))
            continue;
        int j = len < k ? len++ : k - 1;
        while (j > 0 && ranks_before(logits[i], i, logits[ids[j - 1]], ids[j - 1])) {
            ids[j] = ids[j - 1];
            j--;
        }
        ids[j] = i;
    }
    return len;
}

int osr_logits_logprobs(const float *logits, int32_t n, int k, int32_t chosen, int32_t *ids,
                        float *logprobs, float *chosen_logprob)
{
    int32_t best = osr_logits_argmax(logits, n);
    if (best < 0 || logits[best] == -INFINITY)
        return 0;
    /* log sum exp, shifted by the maximum, accumulated in double. */
    double mx = logits[best], sum = 0;
    for (int32_t i = 0; i < n; i++)
        if (!isnan(logits[i]))
            sum += exp((double)logits[i] - mx);
    double lse = mx + log(sum);
    int m = osr_logits_top_k(logits, n, k, ids);
    for (int i = 0; i < m; i++)
        logprobs[i] = isnan(logits[ids[i]]) ? -INFINITY : (float)(logits[ids[i]] - lse);
    if (chosen_logprob && chosen >= 0 && chosen < n)
        *chosen_logprob = isnan(logits[chosen]) ? -INFINITY : (float)(logits[chosen] - lse);
    return m;
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

void osr_sampler_params_init(struct osr_sampler_params *p)
{
    memset(p, 0, sizeof(*p));
    p->temperature = 0.8f;
    p->top_k = 40;
    p->top_p = 0.95f;
    p->min_p = 0.05f;
    p->typical_p = 1.0f;
    p->repeat_penalty = 1.0f;
    p->penalty_last_n = 64;
}

int osr_sampler_new(const struct osr_sampler_params *p, int32_t n_vocab, struct osr_sampler **out,
                    struct osr_diag *diag)
{
    if (n_vocab < 1 || n_vocab > (1 << 24))
        return osr_diag_set(diag, OSR_EINVAL, "bad vocabulary size %d", n_vocab);
    if (isnan(p->temperature) || isnan(p->top_p) || isnan(p->min_p) || isnan(p->typical_p) ||
        !(p->repeat_penalty > 0) || !isfinite(p->presence_penalty) ||
        !isfinite(p->frequency_penalty) || p->penalty_last_n < -1)
        return osr_diag_set(diag, OSR_EINVAL, "bad sampling parameters");
    for (size_t i = 0; i < p->n_bias; i++)
        if (p->bias[i].token < 0 || p->bias[i].token >= n_vocab || isnan(p->bias[i].bias))
            return osr_diag_set(diag, OSR_EINVAL, "logit bias for token %d: not in the vocabulary",
                                p->bias[i].token);
    if (p->n_bias > (size_t)n_vocab)
        return osr_diag_set(diag, OSR_EINVAL, "too many logit biases");

    struct osr_sampler *s = osr_xcalloc(1, sizeof(*s));
    s->p = *p;
    s->n_vocab = n_vocab;
    if (p->n_bias) {
        s->bias = osr_xcalloc(p->n_bias, sizeof(*s->bias));
        memcpy(s->bias, p->bias, p->n_bias * sizeof(*s->bias));
    }
    s->p.bias = NULL;
    s->cands = malloc((size_t)n_vocab * sizeof(*s->cands));
    s->tmp = malloc((size_t)n_vocab * sizeof(*s->tmp));
    s->work = malloc((size_t)n_vocab * sizeof(*s->work));
    s->counts = calloc((size_t)n_vocab, sizeof(*s->counts));
    s->hist_cap =
        p->penalty_last_n < 0 || p->penalty_last_n > HISTORY_MAX ? HISTORY_MAX : p->penalty_last_n;
    s->hist = osr_xcalloc((size_t)s->hist_cap + 1, sizeof(*s->hist));
    if (!s->cands || !s->tmp || !s->work || !s->counts) {
        osr_sampler_free(s);
        return osr_diag_set(diag, OSR_ENOMEM, "cannot allocate the sampler");
    }
    rng_seed(s);
    *out = s;
    return OSR_OK;
}

void osr_sampler_free(struct osr_sampler *s)
{
    if (!s)
        return;
    free(s->bias);
    free(s->cands);
    free(s->tmp);
    free(s->work);
    free(s->counts);
    free(s->hist);
    free(s);
}

void osr_sampler_accept(struct osr_sampler *s, int32_t token)
{
    if (s->hist_cap == 0 || token < 0 || token >= s->n_vocab)
        return;
    s->hist[s->hist_head] = token;
    s->hist_head = (s->hist_head + 1) % s->hist_cap;
    if (s->hist_len < s->hist_cap)
        s->hist_len++;
}

void osr_sampler_reset(struct osr_sampler *s)
{
    s->hist_len = 0;
    s->hist_head = 0;
    rng_seed(s);
}

/* ---- the chain ---------------------------------------------------------------------------- */

static void apply_penalties(struct osr_sampler *s, float *l)
{
    const struct osr_sampler_params *p = &s->p;
    if (s->hist_len == 0 ||
        (p->repeat_penalty == 1.0f && p->presence_penalty == 0 && p->frequency_penalty == 0))
        return;
    for (int i = 0; i < s->hist_len; i++)
        s->counts[s->hist[i]]++;
    for (int i = 0; i < s->hist_len; i++) {
        int32_t t = s->hist[i];
        uint32_t n = s->counts[t];
        if (n == 0)
            continue; /* already applied */
        if (l[t] > 0)
            l[t] /= p->repeat_penalty;
        else
            l[t] *= p->repeat_penalty;
        l[t] -= (float)n * p->frequency_penalty + p->presence_penalty;
        s->counts[t] = 0;
    }
}

static int cmp_cand(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->logit != y->logit)
        return x->logit > y->logit ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Sets p of the first n candidates (sorted, so the first is the largest) to the softmax of
 * logit / temp. */
static void softmax_cands(struct cand *c, int n, float temp)
{
    double sum = 0;
    float mx = c[0].logit;
    for (int i = 0; i < n; i++) {
        c[i].p = expf((c[i].logit - mx) / temp);
        sum += c[i].p;
    }
    for (int i = 0; i < n; i++)
        c[i].p = (float)(c[i].p / sum);
}

/* Keeps the k best of the n candidates, sorted. */
static int select_top(struct cand *c, int n, int k)
{
    if (k <= 0 || k >= n) {
        qsort(c, (size_t)n, sizeof(*c), cmp_cand);
        return n;
    }
    /* Insertion into the first k slots; most candidates fail the threshold test at once. */
    int len = 0;
    for (int i = 0; i < n; i++) {
        struct cand x = c[i];
        if (len == k && cmp_cand(&x, &c[len - 1]) >= 0)
            continue;
        int j = len < k ? len++ : k - 1;
        while (j > 0 && cmp_cand(&x, &c[j - 1]) < 0) {
            c[j] = c[j - 1];
            j--;
        }
        c[j] = x;
    }
    return len;
}

static int cmp_typical(const void *a, const void *b)
{
    /* Sorted by the distance from the entropy, stored in .p of the tmp copy. */
    const struct cand *x = a, *y = b;
    if (x->p != y->p)
        return x->p < y->p ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int typical(struct osr_sampler *s, int n, float typ)
{
    struct cand *c = s->cands;
    softmax_cands(c, n, 1.0f);
    double h = 0;
    for (int i = 0; i < n; i++)
        if (c[i].p > 0)
            h -= c[i].p * log(c[i].p);
    /* tmp gets the candidates ordered by |surprise - entropy|, with that distance in .p and the
     * probability kept in work[] under the same index. */
    for (int i = 0; i < n; i++) {
        s->tmp[i] = c[i];
        s->tmp[i].p = c[i].p > 0 ? (float)fabs(-log(c[i].p) - h) : INFINITY;
        s->work[c[i].id] = c[i].p;
    }
    qsort(s->tmp, (size_t)n, sizeof(*s->tmp), cmp_typical);
    double cum = 0;
    int keep = n;
    for (int i = 0; i < n; i++) {
        cum += s->work[s->tmp[i].id];
        if (cum >= typ) {
            keep = i + 1;
            break;
        }
    }
    memcpy(c, s->tmp, (size_t)keep * sizeof(*c));
    qsort(c, (size_t)keep, sizeof(*c), cmp_cand);
    return keep;
}

int32_t osr_sampler_sample(struct osr_sampler *s, const float *logits)
{
    const struct osr_sampler_params *p = &s->p;
    struct cand *c = s->cands;
    float *lv = s->work;
    int n = 0;

    /* Bias and penalties change a copy; then the live tokens become candidates. */
    memcpy(lv, logits, (size_t)s->n_vocab * sizeof(*lv));
    for (size_t i = 0; i < p->n_bias; i++)
        lv[s->bias[i].token] += s->bias[i].bias;
    apply_penalties(s, lv);
    for (int32_t i = 0; i < s->n_vocab; i++) {
        if (isnan(lv[i]) || lv[i] == -INFINITY)
            continue;
        c[n].id = i;
        c[n].logit = lv[i];
        n++;
    }
    if (n == 0)
        return -1;
    if (p->temperature <= 0) {
        int best = 0;
        for (int i = 1; i < n; i++)
            if (c[i].logit > c[best].logit)
                best = i;
        return c[best].id;
    }
    n = select_top(c, n, p->top_k);
    if (p->typical_p < 1.0f && n > 1)
        n = typical(s, n, p->typical_p);
    if (p->top_p < 1.0f && n > 1) {
        softmax_cands(c, n, 1.0f);
        double cum = 0;
        for (int i = 0; i < n; i++) {
            cum += c[i].p;
            if (cum >= p->top_p) {
                n = i + 1;
                break;
            }
        }
    }
    if (p->min_p > 0 && n > 1) {
        softmax_cands(c, n, 1.0f);
        float floor = c[0].p * p->min_p;
        int keep = 1;
        while (keep < n && c[keep].p >= floor)
            keep++;
        n = keep;
    }
    softmax_cands(c, n, p->temperature);
    double u = rng_uniform(s->rng), cum = 0;
    for (int i = 0; i < n; i++) {
        cum += c[i].p;
        if (u < cum)
            return c[i].id;
    }
    return c[n - 1].id;
}
