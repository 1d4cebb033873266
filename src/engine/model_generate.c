/* model_generate.c - the generate loop: prompt ids in, a stream of sampled token ids out.
 *
 * Feeds the prompt to a context in one decode call, then alternates sample -> callback ->
 * decode of the chosen token until an end-of-generation id, the token limit, a full context,
 * or the callback asks to stop.  Every prompt and generated token is recorded in the sampler's
 * penalty history.  An optional hook (constrained decoding) may mask the logits before each
 * sample or hand back tokens to feed without sampling; those are batched into one decode.
 * Stop strings, detokenization and tool-call parsing happen above this.
 */
#include <stddef.h>

#include "osr/model.h"
#include "osr/sampler.h"

static bool is_eog(const struct osr_generate_params *p, int32_t t)
{
    for (size_t i = 0; i < p->n_eog; i++)
        if (p->eog[i] == t)
            return true;
    return false;
}

/* Feeds tokens a hook forced: each goes to cb and the sampler's history, then all of them
 * (as many as the token budget and the context allow) are decoded in one call.  Returns 1 to
 * go on, or what osr_model_generate returns (OSR_OK with *why, an error). */
static int feed_forced(struct osr_model_ctx *c, struct osr_sampler *s,
                       const struct osr_generate_params *p, const int32_t *forced, size_t n,
                       int *produced, float *logits_buf, osr_generate_cb cb, void *arg,
                       enum osr_gen_stop *why, struct osr_diag *diag)
{
    size_t room_ctx = (size_t)(osr_model_ctx_n_ctx(c) - osr_model_ctx_n_past(c));
    size_t room_tok = (size_t)(p->max_tokens - *produced);
    bool cut = false;
    if (n > room_tok) {
        n = room_tok;
        cut = true;
    }
    if (n > room_ctx) {
        n = room_ctx;
        cut = true;
    }
    for (size_t i = 0; i < n; i++) {
        osr_sampler_accept(s, forced[i]);
        if (!cb(arg, forced[i]))
            return OSR_ECANCELED;
    }
    *produced += (int)n;
    if (cut || *produced >= p->max_tokens ||
        osr_model_ctx_n_past(c) + (int)n >= osr_model_ctx_n_ctx(c)) {
        *why = OSR_GEN_STOP_LENGTH;
        return OSR_OK;
    }
    if (n == 0)
        return 1;
    int rc = osr_model_ctx_decode(c, forced, (int)n, false, logits_buf, diag);
    return rc ? rc : 1;
}

int osr_model_generate(struct osr_model_ctx *c, struct osr_sampler *s, const int32_t *prompt,
                       size_t n_prompt, const struct osr_generate_params *p, float *logits_buf,
                       osr_generate_cb cb, void *arg, enum osr_gen_stop *why, struct osr_diag *diag)
{
    if (n_prompt < 1 || n_prompt > (size_t)osr_model_ctx_n_ctx(c) || p->max_tokens < 1)
        return osr_diag_set(diag, OSR_EINVAL, "need 1 .. %d prompt tokens and max_tokens >= 1",
                            osr_model_ctx_n_ctx(c));
    int rc = osr_model_ctx_decode(c, prompt, (int)n_prompt, false, logits_buf, diag);
    if (rc)
        return rc;
    for (size_t i = 0; i < n_prompt; i++)
        osr_sampler_accept(s, prompt[i]);
    for (int produced = 0;;) {
        const struct osr_gen_hook *h = p->hook;
        if (h) {
            const int32_t *forced = NULL;
            size_t n_forced = 0;
            int step = h->before(h->arg, logits_buf, &forced, &n_forced);
            if (step < 0)
                return osr_diag_set(diag, step, "no token can continue the constrained answer");
            if (step == OSR_GEN_HOOK_END) {
                *why = OSR_GEN_STOP_EOG;
                return OSR_OK;
            }
            if (step == OSR_GEN_HOOK_FORCE) {
                if ((rc = feed_forced(c, s, p, forced, n_forced, &produced, logits_buf, cb, arg,
                                      why, diag)) != 1)
                    return rc;
                continue;
            }
        }
        int32_t t = osr_sampler_sample(s, logits_buf);
        if (t < 0)
            return osr_diag_set(diag, OSR_EINVAL, "every token is banned by the sampler settings");
        if (is_eog(p, t)) {
            *why = OSR_GEN_STOP_EOG;
            return OSR_OK;
        }
        osr_sampler_accept(s, t);
        if (h)
            h->after(h->arg, t);
        if (!cb(arg, t))
            return OSR_ECANCELED;
        if (++produced >= p->max_tokens || osr_model_ctx_n_past(c) >= osr_model_ctx_n_ctx(c)) {
            *why = OSR_GEN_STOP_LENGTH;
            return OSR_OK;
        }
        if ((rc = osr_model_ctx_decode(c, &t, 1, false, logits_buf, diag)))
            return rc;
    }
}
