/* fuzz_model.c - libFuzzer target for model loading: opens the input as a GGUF buffer, builds a
 * model over it (hyper-parameters, tensor lookup, shape and type validation) and, when that
 * succeeds, runs two tokens through a small context (and embeds them: encoder models such as
 * bert have no logits).  A hostile file must give an error, never a crash or an out-of-bounds
 * read. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osr/gguf.h"
#include "osr/model.h"

/* Compiled in so that libFuzzer's coverage instrumentation sees them (the core library is
 * built without it); the archive's copies are then never pulled in by the linker. */
#include "engine/model.c"
#include "engine/model_forward.c"
#include "engine/model_bert.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct osr_gguf *g = NULL;
    struct osr_model *m = NULL;
    struct osr_model_ctx *c = NULL;
    struct osr_diag diag;
    float *logits = NULL;
    if (osr_gguf_open_memory(data, size, &g, &diag) != OSR_OK)
        return 0;
    if (osr_model_from_gguf(g, &m, &diag) != OSR_OK)
        goto out;
    const struct osr_model_hparams *hp = osr_model_hparams(m);
    /* Keep the work small: the weights are bounded by the input, the context is not. */
    struct osr_model_ctx_params cp;
    osr_model_ctx_params_init(&cp);
    cp.n_ctx = 4;
    cp.n_batch = 2;
    if (osr_model_ctx_new(m, &cp, &c, &diag) != OSR_OK)
        goto out;
    logits = malloc(((size_t)hp->n_vocab * 2 + (size_t)hp->n_embd) * sizeof(float));
    if (!logits)
        goto out;
    int32_t toks[3] = {0, hp->n_vocab - 1, hp->n_vocab};
    (void)osr_model_ctx_decode(c, toks, 2, true, logits, &diag);
    (void)osr_model_ctx_decode(c, toks + 2, 1, false, logits, &diag); /* out of vocabulary */
    (void)osr_model_ctx_embed(c, toks, 2, logits, &diag);
out:
    free(logits);
    osr_model_ctx_free(c);
    osr_model_free(m);
    osr_gguf_close(g);
    return 0;
}
