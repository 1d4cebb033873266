/* prompt_memo.c - a provider's memory of how many tokens its upstream counted for a prompt.
 *
 * Upstreams other than Anthropic's report the prompt's token count only at the end of a
 * streamed answer, but an Anthropic client wants it in message_start, before any text.  When
 * the same prompt went to the same upstream model before, the count that upstream reported is
 * known exactly; this table keeps those counts (256 per provider, least recently used out).
 * A prompt is identified by the SHA-256 of the model name and of the request body the
 * translator writes for it with every generation setting (sampling, limits, stop strings,
 * stream options) taken out, so a request that differs only in those finds the same count.
 * Prompts whose body passes UP_MEMO_MAX_BODY are not remembered (hashing them would cost more
 * than an estimate is worth).  It does not estimate anything: a miss is a miss.
 */
#include <math.h>
#include <string.h>

#include <openssl/evp.h>

#include "osr/buf.h"
#include "provider_internal.h"

#define UP_MEMO_MAX_BODY ((size_t)1024 * 1024)

void up_memo_init(struct up_memo *m)
{
    memset(m, 0, sizeof(*m));
    pthread_mutex_init(&m->mu, NULL);
}

void up_memo_release(struct up_memo *m)
{
    pthread_mutex_destroy(&m->mu);
}

bool up_memo_key(const struct upstream_proto *proto, const struct osr_chat_request *req,
                 const char *model, unsigned char key[UP_MEMO_KEY_LEN])
{
    /* A shallow copy with the generation settings neutral: encode only reads it. */
    struct osr_chat_request r = *req;
    r.sampling.temperature = NAN;
    r.sampling.top_p = NAN;
    r.sampling.min_p = NAN;
    r.sampling.presence_penalty = NAN;
    r.sampling.frequency_penalty = NAN;
    r.sampling.repeat_penalty = NAN;
    r.sampling.top_k = 0;
    r.sampling.repeat_last_n = 0;
    r.sampling.max_tokens = 0;
    r.sampling.has_seed = false;
    r.sampling.seed = 0;
    r.sampling.stop = NULL;
    r.sampling.n_stop = 0;
    r.stream = true;
    r.include_usage = false;
    r.user = NULL;
    r.metadata = NULL;
    r.logprobs = false;
    r.top_logprobs = 0;
    struct osr_buf body;
    osr_buf_init(&body, UP_MEMO_MAX_BODY);
    bool ok = osr_buf_puts(&body, model) == OSR_OK && osr_buf_putc(&body, '\n') == OSR_OK &&
              proto->encode(&r, model, &body) == OSR_OK;
    unsigned int len = 0;
    ok = ok && EVP_Digest(body.data, body.len, key, &len, EVP_sha256(), NULL) == 1 &&
         len == UP_MEMO_KEY_LEN;
    osr_buf_release(&body);
    return ok;
}

bool up_memo_get(struct up_memo *m, const unsigned char key[UP_MEMO_KEY_LEN], int64_t *tokens)
{
    bool found = false;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < UP_MEMO_SLOTS; i++) {
        if (m->slots[i].used && memcmp(m->slots[i].key, key, UP_MEMO_KEY_LEN) == 0) {
            *tokens = m->slots[i].tokens;
            m->slots[i].used = ++m->tick;
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&m->mu);
    return found;
}

void up_memo_put(struct up_memo *m, const unsigned char key[UP_MEMO_KEY_LEN], int64_t tokens)
{
    pthread_mutex_lock(&m->mu);
    size_t at = 0;
    for (size_t i = 0; i < UP_MEMO_SLOTS; i++) {
        if (m->slots[i].used && memcmp(m->slots[i].key, key, UP_MEMO_KEY_LEN) == 0) {
            at = i; /* the upstream may count differently now; the latest count wins */
            break;
        }
        if (m->slots[i].used < m->slots[at].used)
            at = i; /* empty slots (used 0) first, then the least recently used */
    }
    memcpy(m->slots[at].key, key, UP_MEMO_KEY_LEN);
    m->slots[at].tokens = tokens;
    m->slots[at].used = ++m->tick;
    pthread_mutex_unlock(&m->mu);
}
