/* model_generate.c - the generate loop: prompt ids in, a stream of sampled token ids out.
 *
 * Feeds the prompt to a context in one decode call, then alternates sample -> callback ->
 * decode of the chosen token until an end-of-generation id, the token limit, a full context,
 * or the callback asks to stop.  Every prompt and generated token is recorded in the sampler's
 * penalty history.  Stop strings, detokenization and tool-call parsing happen above this.
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
        int32_t t = osr_sampler_sample(s, logits_buf);
        if (t < 0)
            return osr_diag_set(diag, OSR_EINVAL, "every token is banned by the sampler settings");
        if (is_eog(p, t)) {
            *why = OSR_GEN_STOP_EOG;
            return OSR_OK;
        }
        osr_sampler_accept(s, t);
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
