/* sampler.h - choosing the next token from a vector of logits.
 *
 * A struct osr_sampler applies, in this order (llama.cpp's default chain, minus the ones we do
 * not have): logit bias, repetition / presence / frequency penalties over the last
 * penalty_last_n tokens it was told about, then either greedy argmax (temperature <= 0) or
 * top_k, typical_p, top_p, min_p, temperature and a draw from its own seeded RNG.  The same
 * seed and the same logits give the same tokens on every machine (the RNG is a fixed
 * xoshiro256** and no library random function is used).
 *
 * Memory: every buffer is sized for n_vocab when the sampler is created; sampling allocates
 * nothing.  Thread rules: a sampler belongs to one thread.
 */
#ifndef OSR_SAMPLER_H
#define OSR_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osr/err.h"

struct osr_logit_bias {
    int32_t token;
    float bias; /* added to the logit; -INFINITY bans the token */
};

struct osr_sampler_params {
    float temperature;       /* <= 0: greedy */
    int top_k;               /* <= 0: off */
    float top_p;             /* >= 1: off */
    float min_p;             /* <= 0: off */
    float typical_p;         /* >= 1: off */
    float repeat_penalty;    /* 1: off; > 1 divides positive / multiplies negative logits */
    float presence_penalty;  /* 0: off; subtracted once from every token seen */
    float frequency_penalty; /* 0: off; subtracted once per occurrence */
    int penalty_last_n;      /* how many recent tokens the penalties look at; 0: off, -1: all
                              * that fit the history (capped at 4096) */
    uint64_t seed;
    const struct osr_logit_bias *bias; /* borrowed only during osr_sampler_new (copied) */
    size_t n_bias;
};

struct osr_sampler;

/* Fills p with neutral settings: temperature 0.8, top_k 40, top_p 0.95, min_p 0.05,
 * typical_p 1, penalties off (repeat 1, last_n 64), seed 0. */
void osr_sampler_params_init(struct osr_sampler_params *p);

/* Creates a sampler for a vocabulary of n_vocab tokens.  The caller frees *out with
 * osr_sampler_free.  Returns OSR_OK, OSR_EINVAL (a bias token outside the vocabulary, a bad
 * value) with a message in diag, OSR_ENOMEM. */
int osr_sampler_new(const struct osr_sampler_params *p, int32_t n_vocab, struct osr_sampler **out,
                    struct osr_diag *diag);
void osr_sampler_free(struct osr_sampler *s);

/* Records a token as part of the history the penalties look at (prompt tokens and accepted
 * tokens alike). */
void osr_sampler_accept(struct osr_sampler *s, int32_t token);

/* Forgets the history and restarts the RNG from the seed. */
void osr_sampler_reset(struct osr_sampler *s);

/* Chooses a token from n_vocab logits (borrowed, not modified).  Returns the id, or -1 when
 * every token is banned (all logits -inf or NaN).  Does not accept it: call
 * osr_sampler_accept. */
int32_t osr_sampler_sample(struct osr_sampler *s, const float *logits);

/* ---- helpers on raw logits ---------------------------------------------------------------- */

/* The id of the largest logit, the lowest id on ties (NaN never wins); -1 when n < 1 or all
 * are NaN. */
int32_t osr_logits_argmax(const float *logits, int32_t n);

/* Writes the k (<= n) ids of the largest logits into ids, largest first, ties by lower id,
 * NaNs last.  Returns the number written (min(k, n)). */
int osr_logits_top_k(const float *logits, int32_t n, int k, int32_t *ids);

/* Log-probabilities for the OpenAI `logprobs` option: the log-softmax of the n logits (at
 * temperature 1, NaN and -inf as probability 0) for the k most likely tokens, written to ids /
 * logprobs (largest first, ties by lower id), and for `chosen` (>= 0) into *chosen_logprob
 * (may be NULL).  Returns the number of entries written (min(k, n)), or 0 when every logit is
 * NaN or -inf. */
int osr_logits_logprobs(const float *logits, int32_t n, int k, int32_t chosen, int32_t *ids,
                        float *logprobs, float *chosen_logprob);

#endif
