/* local_backend.c - serves chat requests with the local engine.
 *
 * The pieces it joins: the registry (which file a model id names), the engine (model, context,
 * sampler, generate loop), the tokenizer (prompt in, streaming text out), the chat-template
 * interpreter (the model's own prompt format) and the output parser (text to events).  It owns
 * the model lifecycle: load on first use, admission against available memory, a fair turn per
 * model, idle unloading.
 *
 * Loading happens outside the backend-wide lock, so a big model being mapped and checked does
 * not hold up requests to models already loaded: the entry is listed at once in a "loading"
 * state, other requests for the same model wait on it (and share its outcome, success or
 * error), and admission counts the bytes of every model still loading as already taken.
 *
 * When the request asks for logprobs, every generated token is also reported as an
 * OSR_EV_LOGPROBS event (its log-probability and the top alternatives under the raw logits)
 * before the text holding it; entries follow generated tokens, so they may include text a stop
 * string later cuts, or the text of a tool call.
 *
 * Embeddings run the same way (load, turn, release): each input is tokenized with the
 * vocabulary's own special tokens and pooled by the engine into one unit vector.
 *
 * A forced tool call (tool_choice required / named) or a JSON answer (response_format,
 * Ollama format) is generated under a constraint (constrain.h) built here in the tool-call
 * syntax of the model's family; the vocabulary's byte table for it is built on first use and
 * kept with the loaded model.
 *
 * What it does not do yet: continuous batching (requests to one model run one at a time),
 * prefix caching, images.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "osr/alloc.h"
#include "osr/chat_template.h"
#include "osr/clock.h"
#include "osr/constrain.h"
#include "osr/gguf.h"
#include "osr/json.h"
#include "osr/local_backend.h"
#include "osr/log.h"
#include "osr/model.h"
#include "osr/outparse.h"
#include "osr/sampler.h"
#include "osr/tokenizer.h"
#include "osr/uuid.h"

#define DEFAULT_IDLE_MS (15LL * 60 * 1000)
#define DEFAULT_CTX_MAX 8192
#define PIECE_MAX (64 * 1024)
#define PROMPT_MAX (16u << 20)
/* Every chat request asks the registry (the local backend is asked first, cloud ids too), so
 * it may rescan the model folders at most this often; listing routes rescan sooner. */
#define REGISTRY_MAX_AGE_MS 30000

/* Tool-call families, as outparse.c recognises them. */
enum family {
    FAMILY_HERMES, /* <tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call> (Qwen, ChatML) */
    FAMILY_LLAMA3, /* the whole answer {"name": ..., "parameters": {...}} */
    FAMILY_MISTRAL, /* [TOOL_CALLS][{"name": ..., "arguments": {...}}] */
};

struct loaded {
    char *id;
    char *path;
    uint64_t size;
    struct osr_model *model;
    struct osr_tokenizer *tok;
    struct osr_chat_template *tpl;
    char *bos_text;
    char *eos_text;
    /* The tool-call syntax the model was trained on, and its marker tokens (-1: none). */
    enum family family;
    int32_t tool_open, tool_close, mistral_tag, python_tag;
    /* Every token's bytes for constrained decoding: built on the first constrained request,
     * under the model's turn (so never by two threads at once). */
    struct osr_constrain_vocab *cvocab;
    int refs;        /* guarded by backend mu */
    bool loading;    /* listed but not ready yet; guarded by backend mu */
    int load_rc;     /* a failed load: its error, status and message for the waiters */
    int load_status; /* (written before loading is cleared; guarded by backend mu) */
    char load_msg[OSR_DIAG_MAX];
    int64_t last_used_ms;  /* guarded by backend mu */
    bool unload_when_idle; /* keep_alive 0; guarded by backend mu */
    /* A fair turn: tickets served in order. */
    pthread_mutex_t turn_mu;
    pthread_cond_t turn_cv;
    uint64_t next_ticket; /* guarded by turn_mu */
    uint64_t serving;     /* guarded by turn_mu */
    struct loaded *next;
};

struct local {
    struct osr_local_backend_opts opts;
    pthread_mutex_t mu;
    pthread_cond_t load_cv; /* signalled when a load ends; with mu */
    struct loaded *models;  /* guarded by mu */
};

/* ---------------------------------------------------------------------------------------- */
/* Model lifecycle.                                                                           */

static void loaded_free(struct loaded *l)
{
    if (!l)
        return;
    osr_chat_template_free(l->tpl);
    osr_constrain_vocab_free(l->cvocab);
    osr_tokenizer_free(l->tok);
    osr_model_free(l->model);
    pthread_cond_destroy(&l->turn_cv);
    pthread_mutex_destroy(&l->turn_mu);
    free(l->bos_text);
    free(l->eos_text);
    free(l->id);
    free(l->path);
    free(l);
}

/* MemAvailable from /proc/meminfo, in bytes (0 when unknown). */
static uint64_t mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return 0;
    char line[256];
    uint64_t kb = 0;
    while (fgets(line, sizeof(line), f)) {
        unsigned long long v;
        if (sscanf(line, "MemAvailable: %llu kB", &v) == 1) {
            kb = v;
            break;
        }
    }
    fclose(f);
    return kb * 1024;
}

static char *token_text(const struct osr_tokenizer *t, int32_t id)
{
    if (id < 0)
        return osr_xstrdup("");
    struct osr_str s = osr_tokenizer_token_text(t, id);
    return osr_xstrndup(s.p ? s.p : "", s.p ? s.n : 0);
}

static int32_t find_token(const struct osr_tokenizer *t, const char *s)
{
    return osr_tokenizer_find(t, s, strlen(s));
}

/* Which tool-call syntax to force: the vocabulary's marker tokens say it (Mistral's
 * [TOOL_CALLS], Llama 3.1+'s <|python_tag|>); everything else, including the ChatML fallback
 * template, gets the Hermes form. */
static void detect_family(struct loaded *l)
{
    l->tool_open = find_token(l->tok, "<tool_call>");
    l->tool_close = find_token(l->tok, "</tool_call>");
    l->mistral_tag = find_token(l->tok, "[TOOL_CALLS]");
    l->python_tag = find_token(l->tok, "<|python_tag|>");
    if (l->mistral_tag >= 0)
        l->family = FAMILY_MISTRAL;
    else if (l->python_tag >= 0 && l->tool_open < 0)
        l->family = FAMILY_LLAMA3;
    else
        l->family = FAMILY_HERMES;
}

/* Refuses a model that does not fit in the memory the kernel says is available, counting the
 * models still loading (their pages are not resident yet) as taken.  Called with mu held. */
static int admit(const struct local *lb, const char *id, uint64_t size, int *status,
                 struct osr_diag *diag)
{
    uint64_t avail = mem_available();
    uint64_t pending = 0;
    for (const struct loaded *l = lb->models; l; l = l->next)
        if (l->loading)
            pending += l->size;
    if (avail && (size > avail || pending > avail - size)) {
        *status = 503;
        return osr_diag_set(diag, OSR_EBUSY,
                            "model '%s' needs about %llu MiB of memory but only %llu MiB are "
                            "available (%llu MiB of it for models still loading)",
                            id, (unsigned long long)(size >> 20), (unsigned long long)(avail >> 20),
                            (unsigned long long)(pending >> 20));
    }
    return OSR_OK;
}

static struct loaded *loaded_new(const char *id, const char *path, uint64_t size)
{
    struct loaded *l = osr_xcalloc(1, sizeof(*l));
    pthread_mutex_init(&l->turn_mu, NULL);
    pthread_cond_init(&l->turn_cv, NULL);
    l->id = osr_xstrdup(id);
    l->path = osr_xstrdup(path);
    l->size = size;
    return l;
}

/* Loads the model in the files at paths (the parts of a split model in order; n is 1 for a
 * single file) into l.  Runs without the backend lock: l is not ready (loading) and nothing
 * else touches these fields.  Returns OSR_OK or an error with diag and *status. */
static int load(struct local *lb, struct loaded *l, const char *const *paths, size_t n, int *status,
                struct osr_diag *diag)
{
    *status = 500;
    int rc = OSR_OK;
    if (lb->opts.load_hook && (rc = lb->opts.load_hook(lb->opts.load_hook_arg, l->id, diag)))
        return rc;
    rc = osr_model_load_split(paths, n, &l->model, diag);
    if (rc) {
        *status = rc == OSR_EUNSUPPORTED ? 501 : 500;
        return rc;
    }
    const struct osr_gguf *g = osr_model_gguf(l->model);
    rc = osr_tokenizer_from_gguf(g, &l->tok, diag);
    if (rc)
        return rc;
    struct osr_str src = {NULL, 0};
    if (osr_gguf_get_str(g, "tokenizer.chat_template", &src) != OSR_OK || src.n == 0)
        src = osr_str_cstr(osr_chat_template_fallback());
    struct osr_chat_template_error terr;
    rc = osr_chat_template_compile(src.p, src.n, &l->tpl, &terr, diag);
    if (rc) {
        OSR_WARN("model '%s': its chat template does not compile (%s); using the fallback", l->id,
                 diag->msg);
        const char *fb = osr_chat_template_fallback();
        rc = osr_chat_template_compile(fb, strlen(fb), &l->tpl, &terr, diag);
        if (rc)
            return rc;
    }
    l->bos_text = token_text(l->tok, osr_tokenizer_bos(l->tok));
    l->eos_text = token_text(l->tok, osr_tokenizer_eos(l->tok));
    detect_family(l);
    return OSR_OK;
}

/* Takes l out of the model list (it may already be out).  Called with mu held. */
static void unlist(struct local *lb, struct loaded *l)
{
    for (struct loaded **pp = &lb->models; *pp; pp = &(*pp)->next) {
        if (*pp == l) {
            *pp = l->next;
            l->next = NULL;
            return;
        }
    }
}

/* Frees models idle past the timeout (or marked to go when idle).  Called with mu held. */
static void unload_idle(struct local *lb, int64_t now)
{
    int64_t idle = lb->opts.idle_unload_ms ? lb->opts.idle_unload_ms : DEFAULT_IDLE_MS;
    for (struct loaded **pp = &lb->models; *pp;) {
        struct loaded *l = *pp;
        bool expired = idle >= 0 && now - l->last_used_ms > idle;
        if (l->refs == 0 && !l->loading && (expired || l->unload_when_idle)) {
            OSR_INFO("unloading model '%s'", l->id);
            *pp = l->next;
            loaded_free(l);
        } else {
            pp = &l->next;
        }
    }
}

/* Returns the loaded model for id (loading it when needed) with a reference held.  The load
 * itself runs with mu released; a request for a model another request is loading waits for
 * that load and gets its outcome. */
static int acquire(struct local *lb, const struct osr_model_entry *e, struct loaded **out,
                   int64_t *load_ns, int *status, struct osr_diag *diag)
{
    pthread_mutex_lock(&lb->mu);
    unload_idle(lb, osr_mono_ns() / 1000000);
    struct loaded *l = lb->models;
    while (l && strcmp(l->path, e->paths[0]) != 0)
        l = l->next;
    int rc = OSR_OK;
    if (l && l->loading) {
        int64_t t0 = osr_mono_ns();
        l->refs++; /* keeps l alive through a failed load */
        while (l->loading)
            pthread_cond_wait(&lb->load_cv, &lb->mu);
        *load_ns = osr_mono_ns() - t0;
        if (l->load_rc) {
            rc = l->load_rc;
            *status = l->load_status;
            osr_diag_set(diag, rc, "%s", l->load_msg);
            if (--l->refs == 0)
                loaded_free(l); /* the loader has unlisted it */
            l = NULL;
        } else {
            l->refs--; /* taken again below */
        }
    } else if (!l) {
        if (lb->opts.single_model) {
            /* one model at a time: the others go now, or when their requests end */
            for (struct loaded *o = lb->models; o; o = o->next)
                if (!o->loading)
                    o->unload_when_idle = true;
            unload_idle(lb, osr_mono_ns() / 1000000);
        }
        if ((rc = admit(lb, e->id, e->size, status, diag)))
            goto out;
        l = loaded_new(e->id, e->paths[0], e->size);
        l->loading = true;
        l->refs = 1;
        l->next = lb->models;
        lb->models = l;
        pthread_mutex_unlock(&lb->mu);

        int64_t t0 = osr_mono_ns();
        OSR_INFO("loading model '%s' from %s", e->id, e->paths[0]);
        struct osr_diag ld;
        osr_diag_clear(&ld);
        int lstatus = 500;
        rc = load(lb, l, (const char *const *)e->paths, e->n_paths, &lstatus, &ld);
        *load_ns = osr_mono_ns() - t0;

        pthread_mutex_lock(&lb->mu);
        l->loading = false;
        l->refs--;
        if (rc) {
            l->load_rc = rc;
            l->load_status = lstatus;
            snprintf(l->load_msg, sizeof(l->load_msg), "%s", ld.msg);
            *status = lstatus;
            osr_diag_set(diag, rc, "%s", ld.msg);
            unlist(lb, l);
            if (l->refs == 0)
                loaded_free(l);
            l = NULL;
        }
        pthread_cond_broadcast(&lb->load_cv);
    }
    if (rc == OSR_OK) {
        l->refs++;
        l->last_used_ms = osr_mono_ns() / 1000000;
        *out = l;
    }
out:
    pthread_mutex_unlock(&lb->mu);
    return rc;
}

static void release(struct local *lb, struct loaded *l, bool unload_now)
{
    pthread_mutex_lock(&lb->mu);
    l->refs--;
    l->last_used_ms = osr_mono_ns() / 1000000;
    if (unload_now)
        l->unload_when_idle = true;
    unload_idle(lb, l->last_used_ms);
    pthread_mutex_unlock(&lb->mu);
}

static void take_turn(struct loaded *l)
{
    pthread_mutex_lock(&l->turn_mu);
    uint64_t mine = l->next_ticket++;
    while (l->serving != mine)
        pthread_cond_wait(&l->turn_cv, &l->turn_mu);
    pthread_mutex_unlock(&l->turn_mu);
}

static void end_turn(struct loaded *l)
{
    pthread_mutex_lock(&l->turn_mu);
    l->serving++;
    pthread_cond_broadcast(&l->turn_cv);
    pthread_mutex_unlock(&l->turn_mu);
}

/* ---------------------------------------------------------------------------------------- */
/* Prompt.                                                                                    */

static struct json_object *str_obj(struct osr_str s)
{
    return osr_json_new_string(s.p ? s.p : "", s.p ? s.n : 0);
}

/* Builds the messages array a Hugging Face chat template expects.  Returns NULL (with status
 * and diag) for content the engine cannot take. */
static struct json_object *messages_json(const struct osr_chat_request *req, int *status,
                                         struct osr_diag *diag)
{
    struct json_object *arr = json_object_new_array();
    for (size_t i = 0; i < req->n_messages; i++) {
        const struct osr_message *m = &req->messages[i];
        struct osr_buf text;
        osr_buf_init(&text, PROMPT_MAX);
        struct json_object *calls = NULL;
        const struct osr_part *result = NULL;
        for (size_t k = 0; k < m->n_parts; k++) {
            const struct osr_part *p = &m->parts[k];
            switch (p->kind) {
            case OSR_PART_TEXT:
                osr_buf_append(&text, p->text.p, p->text.n);
                break;
            case OSR_PART_IMAGE:
                json_object_put(arr);
                osr_buf_release(&text);
                *status = 400;
                osr_diag_set(diag, OSR_EUNSUPPORTED, "model '%s' does not accept images",
                             req->model);
                return NULL;
            case OSR_PART_TOOL_CALL: {
                if (!calls)
                    calls = json_object_new_array();
                struct json_object *fn = json_object_new_object();
                json_object_object_add(fn, "name", json_object_new_string(p->call.name));
                struct json_object *args = NULL;
                if (osr_json_parse(p->call.arguments.p, p->call.arguments.n, &args, NULL) !=
                        OSR_OK ||
                    !args)
                    args = str_obj(p->call.arguments);
                json_object_object_add(fn, "arguments", args);
                struct json_object *c = json_object_new_object();
                json_object_object_add(c, "id", json_object_new_string(p->call.id));
                json_object_object_add(c, "type", json_object_new_string("function"));
                json_object_object_add(c, "function", fn);
                json_object_array_add(calls, c);
                break;
            }
            case OSR_PART_TOOL_RESULT:
                result = p;
                osr_buf_append(&text, p->text.p, p->text.n);
                break;
            case OSR_PART_REASONING:
                break; /* earlier reasoning is not shown to the model again */
            }
        }
        const char *role = m->role == OSR_ROLE_DEVELOPER ? "system" : osr_chat_role_name(m->role);
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "role", json_object_new_string(role));
        json_object_object_add(o, "content", osr_json_new_string(osr_buf_str(&text), text.len));
        if (calls)
            json_object_object_add(o, "tool_calls", calls);
        if (result) {
            json_object_object_add(o, "tool_call_id",
                                   json_object_new_string(result->result.call_id));
            if (result->result.name)
                json_object_object_add(o, "name", json_object_new_string(result->result.name));
        }
        json_object_array_add(arr, o);
        osr_buf_release(&text);
    }
    return arr;
}

static struct json_object *tools_json(const struct osr_chat_request *req)
{
    struct json_object *arr = json_object_new_array();
    for (size_t i = 0; i < req->n_tools; i++) {
        const struct osr_tool *t = &req->tools[i];
        struct json_object *fn = json_object_new_object();
        json_object_object_add(fn, "name", json_object_new_string(t->name));
        if (t->description)
            json_object_object_add(fn, "description", json_object_new_string(t->description));
        json_object_object_add(fn, "parameters",
                               t->parameters ? json_object_get(t->parameters)
                                             : json_object_new_object());
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "type", json_object_new_string("function"));
        json_object_object_add(o, "function", fn);
        json_object_array_add(arr, o);
    }
    return arr;
}

/* Renders and tokenizes the prompt.  *in_think says whether it ends inside <think>. */
static int build_prompt(struct loaded *l, const struct osr_chat_request *req, int32_t **ids,
                        size_t *n_ids, bool *in_think, int *status, struct osr_diag *diag)
{
    struct json_object *msgs = messages_json(req, status, diag);
    if (!msgs)
        return OSR_EUNSUPPORTED;
    struct json_object *vars = json_object_new_object();
    json_object_object_add(vars, "messages", msgs);
    bool use_tools = req->n_tools > 0 && req->tool_choice != OSR_TOOL_CHOICE_NONE;
    if (use_tools)
        json_object_object_add(vars, "tools", tools_json(req));
    json_object_object_add(vars, "add_generation_prompt", json_object_new_boolean(1));
    json_object_object_add(vars, "bos_token", json_object_new_string(l->bos_text));
    json_object_object_add(vars, "eos_token", json_object_new_string(l->eos_text));
    struct osr_buf prompt;
    osr_buf_init(&prompt, PROMPT_MAX);
    struct osr_chat_template_error terr;
    int rc = osr_chat_template_render(l->tpl, vars, NULL, &prompt, &terr, diag);
    json_object_put(vars);
    if (rc) {
        *status = 400;
        osr_buf_release(&prompt);
        return rc;
    }
    const char *p = osr_buf_str(&prompt);
    size_t n = prompt.len;
    *in_think = n >= 7 && (memcmp(p + n - 7, "<think>", 7) == 0 ||
                           (n >= 8 && memcmp(p + n - 8, "<think>\n", 8) == 0));
    rc = osr_tokenizer_encode_alloc(l->tok, p, n, false, true, ids, n_ids);
    osr_buf_release(&prompt);
    if (rc) {
        *status = 400;
        return osr_diag_set(diag, rc, "the prompt cannot be tokenized: %s", osr_strerror(rc));
    }
    /* Templates usually write the BOS token themselves; add it when the model wants one and
     * the template did not. */
    int32_t bos = osr_tokenizer_bos(l->tok);
    if (osr_tokenizer_add_bos(l->tok) && bos >= 0 && (*n_ids == 0 || (*ids)[0] != bos)) {
        int32_t *grown = osr_xrealloc(*ids, (*n_ids + 1) * sizeof(int32_t));
        memmove(grown + 1, grown, *n_ids * sizeof(int32_t));
        grown[0] = bos;
        *ids = grown;
        (*n_ids)++;
    }
    return OSR_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Generation.                                                                                */

struct gen {
    struct loaded *l;
    struct osr_outparse *parse;
    struct osr_detok detok;
    struct osr_buf piece;
    const struct osr_chat_cancel *cancel;
    struct osr_sink *sink;
    const float *logits; /* the distribution the current token was sampled from */
    int32_t n_vocab;
    int top_logprobs; /* -1: the request did not ask for logprobs */
    struct osr_buf lp_text;
    int64_t n_gen;
    int64_t first_token_ns;
    bool gone, stopped, toobig;
    bool tools;                  /* the request offered tools: render marker tokens as text */
    struct osr_constraint *cons; /* NULL: unconstrained */
    int64_t max_tokens;          /* the token budget of the answer */
    size_t n_forced_left;        /* tokens of the current forced run not yet passed to on_token */
    bool cons_broken;            /* a sampled token did not fit the program (never expected) */
};

static bool feed(struct gen *g)
{
    enum osr_outparse_status st = osr_outparse_push(g->parse, osr_buf_str(&g->piece), g->piece.len);
    osr_buf_reset(&g->piece);
    if (st == OSR_OUTPARSE_GONE)
        g->gone = true;
    else if (st == OSR_OUTPARSE_STOP)
        g->stopped = true;
    else if (st == OSR_OUTPARSE_TOOBIG)
        g->toobig = true;
    return st == OSR_OUTPARSE_MORE;
}

/* Emits the LOGPROBS event of token: its log-probability and the top alternatives under the
 * raw logits (temperature 1, before penalties and filters), each with its piece as bytes.
 * Returns false when the consumer is gone. */
static bool emit_logprobs(struct gen *g, int32_t token)
{
    int32_t ids[OSR_LOGPROBS_TOP_MAX];
    float lps[OSR_LOGPROBS_TOP_MAX];
    float chosen_lp = -INFINITY;
    int n = 0;
    if (g->n_forced_left) {
        chosen_lp = 0.0f; /* forced, not sampled: certain, and no alternatives */
    } else {
        n = osr_logits_logprobs(g->logits, g->n_vocab, g->top_logprobs, token, ids, lps,
                                &chosen_lp);
        /* A constrained step leaves fewer candidates than asked for: the masked ones are not
         * alternatives. */
        while (n > 0 && !isfinite(lps[n - 1]))
            n--;
        if (!isfinite(chosen_lp))
            chosen_lp = -9999.0f;
    }
    struct osr_logprobs lp;
    memset(&lp, 0, sizeof(lp));
    size_t off[OSR_LOGPROBS_TOP_MAX + 1], end[OSR_LOGPROBS_TOP_MAX + 1];
    osr_buf_reset(&g->lp_text);
    for (int i = 0; i <= n; i++) {
        off[i] = g->lp_text.len;
        /* A piece too long for the buffer is left out (the buffer stays as it was), so it is
         * reported as empty rather than failing the answer. */
        (void)osr_tokenizer_token_to_piece(g->l->tok, i == 0 ? token : ids[i - 1], false,
                                           &g->lp_text);
        end[i] = g->lp_text.len;
    }
    const char *base = osr_buf_str(&g->lp_text);
    lp.chosen.token = osr_str_make(base + off[0], end[0] - off[0]);
    lp.chosen.logprob = chosen_lp;
    for (int i = 0; i < n; i++) {
        lp.top[i].token = osr_str_make(base + off[i + 1], end[i + 1] - off[i + 1]);
        lp.top[i].logprob = lps[i];
    }
    lp.n_top = n;
    return osr_sink_logprobs(g->sink, &lp) == 0;
}

static bool is_marker(const struct loaded *l, int32_t t)
{
    return t >= 0 &&
           (t == l->tool_open || t == l->tool_close || t == l->mistral_tag || t == l->python_tag);
}

static bool on_token(void *arg, int32_t token)
{
    struct gen *g = arg;
    if (g->n_gen++ == 0)
        g->first_token_ns = osr_mono_ns();
    if (osr_chat_cancelled(g->cancel)) {
        g->gone = true;
        return false;
    }
    if (g->top_logprobs >= 0 && !emit_logprobs(g, token)) {
        g->gone = true;
        return false;
    }
    if (g->n_forced_left)
        g->n_forced_left--; /* after emit_logprobs, which reports forced tokens differently */
    if (osr_detok_push(&g->detok, token, &g->piece) != OSR_OK)
        return true; /* a piece too long to hold is dropped, not fatal */
    if (g->tools && is_marker(g->l, token) &&
        osr_tokenizer_token_type(g->l->tok, token) == OSR_TOKEN_CONTROL) {
        /* Control tokens render as nothing, but a tool-call marker is what the output parser
         * looks for. */
        struct osr_str m = osr_tokenizer_token_text(g->l->tok, token);
        osr_buf_append(&g->piece, m.p, m.n);
    }
    return g->piece.len == 0 || feed(g);
}

/* Constrained decoding hooks (struct osr_gen_hook). */
static int hook_before(void *arg, float *logits, const int32_t **forced, size_t *n_forced)
{
    struct gen *g = arg;
    osr_constraint_set_budget(g->cons, (long)(g->max_tokens - g->n_gen));
    int r = osr_constraint_next(g->cons, g->l->tok, logits, forced, n_forced);
    if (r < 0)
        return r;
    if (r == OSR_CONSTRAINT_FORCE) {
        g->n_forced_left = *n_forced;
        return OSR_GEN_HOOK_FORCE;
    }
    return r == OSR_CONSTRAINT_END ? OSR_GEN_HOOK_END : OSR_GEN_HOOK_SAMPLE;
}

static void hook_after(void *arg, int32_t token)
{
    struct gen *g = arg;
    if (!osr_constraint_accept(g->cons, token))
        g->cons_broken = true;
}

static void sampler_settings(const struct osr_chat_request *req, struct osr_sampler_params *sp)
{
    osr_sampler_params_init(sp);
    const struct osr_sampling *s = &req->sampling;
    /* llama.cpp's defaults where the request says nothing. */
    sp->temperature = isnan(s->temperature) ? 0.8f : (float)s->temperature;
    sp->top_k = s->top_k > 0 ? (int)s->top_k : 40;
    sp->top_p = isnan(s->top_p) ? 0.95f : (float)s->top_p;
    sp->min_p = isnan(s->min_p) ? 0.05f : (float)s->min_p;
    if (!isnan(s->repeat_penalty))
        sp->repeat_penalty = (float)s->repeat_penalty;
    if (!isnan(s->presence_penalty))
        sp->presence_penalty = (float)s->presence_penalty;
    if (!isnan(s->frequency_penalty))
        sp->frequency_penalty = (float)s->frequency_penalty;
    if (s->repeat_last_n)
        sp->penalty_last_n = (int)s->repeat_last_n;
    if (s->has_seed) {
        sp->seed = (uint64_t)s->seed;
    } else {
        uint64_t seed = 0;
        osr_random_bytes(&seed, sizeof(seed));
        sp->seed = seed;
    }
}

static int add_lit(struct osr_constraint *c, const char *s)
{
    return osr_constraint_add_literal(c, s, strlen(s));
}

/* A marker as its own token when the vocabulary has it, else as text. */
static int add_marker(struct osr_constraint *c, int32_t id, const char *text)
{
    return id >= 0 ? osr_constraint_add_token(c, id) : add_lit(c, text);
}

/* The program that forces one call of one of the names, in the model family's syntax; params
 * (the JSON Schema of the one tool that can be called, or NULL) shapes the arguments. */
static int add_tool_call(struct loaded *l, struct osr_constraint *c, const char *const *names,
                         size_t n, struct json_object *params)
{
    int rc = OSR_OK;
    switch (l->family) {
    case FAMILY_HERMES:
        rc = add_marker(c, l->tool_open, "<tool_call>");
        rc = rc ? rc : add_lit(c, "\n{\"name\": \"");
        rc = rc ? rc : osr_constraint_add_names(c, names, n);
        rc = rc ? rc : add_lit(c, ", \"arguments\": ");
        rc = rc ? rc : osr_constraint_add_schema(c, params);
        rc = rc ? rc : add_lit(c, "}\n");
        rc = rc ? rc : add_marker(c, l->tool_close, "</tool_call>");
        break;
    case FAMILY_LLAMA3:
        /* Llama 3.1+ templates ask for "parameters"; outparse takes either key. */
        rc = add_lit(c, "{\"name\": \"");
        rc = rc ? rc : osr_constraint_add_names(c, names, n);
        rc = rc ? rc : add_lit(c, ", \"parameters\": ");
        rc = rc ? rc : osr_constraint_add_schema(c, params);
        rc = rc ? rc : add_lit(c, "}");
        break;
    case FAMILY_MISTRAL:
        rc = osr_constraint_add_token(c, l->mistral_tag);
        rc = rc ? rc : add_lit(c, "[{\"name\": \"");
        rc = rc ? rc : osr_constraint_add_names(c, names, n);
        rc = rc ? rc : add_lit(c, ", \"arguments\": ");
        rc = rc ? rc : osr_constraint_add_schema(c, params);
        rc = rc ? rc : add_lit(c, "}]");
        break;
    }
    return rc;
}

/* Builds the constraint the request asks for: a forced tool call (tool_choice required or
 * named, with tools), else one JSON object (response_format json_object / json_schema, Ollama
 * format).  *out stays NULL when the request asks for neither.  Returns OSR_OK, or OSR_EINVAL
 * for a tool name the program cannot hold. */
static int build_constraint(struct loaded *l, const struct osr_chat_request *req, bool in_think,
                            const int32_t *eog, size_t n_eog, struct osr_constraint **out)
{
    *out = NULL;
    bool force_tool = req->n_tools > 0 && (req->tool_choice == OSR_TOOL_CHOICE_REQUIRED ||
                                           req->tool_choice == OSR_TOOL_CHOICE_NAMED);
    bool json =
        req->format.kind == OSR_FORMAT_JSON_OBJECT || req->format.kind == OSR_FORMAT_JSON_SCHEMA;
    if (!force_tool && !json)
        return OSR_OK;
    int rc = OSR_OK;
    if (!l->cvocab && (rc = osr_constrain_vocab_new(l->tok, &l->cvocab)) != OSR_OK)
        return rc;
    struct osr_constraint *c = osr_constraint_new(l->cvocab, eog, n_eog);
    const char **names = NULL;
    if (in_think) /* answer, not reasoning: close the block the prompt opened */
        rc = add_lit(c, "</think>\n\n");
    if (rc == OSR_OK && force_tool) {
        size_t n = 0;
        struct json_object *params = NULL;
        names = osr_xcalloc(req->n_tools, sizeof(*names));
        for (size_t i = 0; i < req->n_tools; i++) {
            const struct osr_tool *t = &req->tools[i];
            if (req->tool_choice == OSR_TOOL_CHOICE_NAMED &&
                (!req->tool_choice_name || strcmp(t->name, req->tool_choice_name) != 0))
                continue;
            names[n++] = t->name;
            params = t->parameters;
        }
        if (n == 0) /* a name the request does not offer: the decoder should have refused it */
            names[n++] = req->tool_choice_name;
        rc = add_tool_call(l, c, names, n, n == 1 ? params : NULL);
    } else if (rc == OSR_OK && req->format.kind == OSR_FORMAT_JSON_SCHEMA) {
        rc = osr_constraint_add_schema(c, req->format.schema);
    } else if (rc == OSR_OK) {
        rc = osr_constraint_add_json_object(c);
    }
    free(names);
    if (rc) {
        osr_constraint_free(c);
        return rc;
    }
    *out = c;
    return OSR_OK;
}

static int fail(struct osr_sink *sink, int status, const char *msg)
{
    return osr_sink_error(sink, status, msg) ? OSR_ECANCELED : OSR_OK;
}

static int run(struct local *lb, struct loaded *l, struct osr_chat_request *req,
               struct osr_sink *sink, const struct osr_chat_cancel *cancel, int64_t load_ns,
               int64_t t_start)
{
    struct osr_diag diag;
    osr_diag_clear(&diag);
    int status = 500;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    bool in_think = false;
    if (osr_model_hparams(l->model)->encoder) { /* bert & co: no logits to sample from */
        char msg[320];
        snprintf(msg, sizeof(msg),
                 "model '%s' is an embedding model; it cannot chat or complete text (use "
                 "/v1/embeddings or /api/embed)",
                 l->id);
        return fail(sink, 400, msg);
    }
    int rc = build_prompt(l, req, &ids, &n_ids, &in_think, &status, &diag);
    if (rc)
        return fail(sink, status, diag.msg);

    const struct osr_model_hparams *hp = osr_model_hparams(l->model);
    struct osr_model_ctx_params cp;
    osr_model_ctx_params_init(&cp);
    cp.n_ctx_max = lb->opts.n_ctx_max ? lb->opts.n_ctx_max : DEFAULT_CTX_MAX;
    if (req->x.num_ctx > 0 && req->x.num_ctx < cp.n_ctx_max)
        cp.n_ctx_max = (int)req->x.num_ctx;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cp.n_threads = lb->opts.n_threads > 0 ? lb->opts.n_threads : (int)(cores > 0 ? cores : 1);
    struct osr_model_ctx *ctx = NULL;
    struct osr_sampler *smp = NULL;
    struct osr_outparse *parse = NULL;
    float *logits = NULL;
    struct gen g;
    memset(&g, 0, sizeof(g));
    osr_buf_init(&g.piece, PIECE_MAX);
    osr_buf_init(&g.lp_text, PIECE_MAX);

    rc = osr_model_ctx_new(l->model, &cp, &ctx, &diag);
    if (rc) {
        rc = fail(sink, 500, diag.msg);
        goto out;
    }
    int n_ctx = osr_model_ctx_n_ctx(ctx);
    if ((int64_t)n_ids + 1 > n_ctx) {
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "the prompt is %zu tokens but the context of model '%s' holds %d", n_ids,
                 req->model, n_ctx);
        rc = fail(sink, 400, msg);
        goto out;
    }
    struct osr_sampler_params sp;
    sampler_settings(req, &sp);
    rc = osr_sampler_new(&sp, hp->n_vocab, &smp, &diag);
    if (rc) {
        rc = fail(sink, 400, diag.msg);
        goto out;
    }
    struct osr_outparse_opts po = {0};
    po.stops = req->sampling.stop;
    po.n_stops = req->sampling.n_stop;
    po.tools = req->n_tools > 0 && req->tool_choice != OSR_TOOL_CHOICE_NONE;
    po.in_think = in_think;
    parse = osr_outparse_new(&po, sink);
    g.l = l;
    g.parse = parse;
    g.cancel = cancel;
    osr_detok_init(&g.detok, l->tok, false);
    logits = osr_xmalloc((size_t)hp->n_vocab * sizeof(float));
    g.sink = sink;
    g.logits = logits;
    g.n_vocab = hp->n_vocab;
    g.top_logprobs = req->logprobs ? req->top_logprobs : -1;
    if (g.top_logprobs > OSR_LOGPROBS_TOP_MAX)
        g.top_logprobs = OSR_LOGPROBS_TOP_MAX;

    if (osr_sink_role(sink)) {
        rc = OSR_ECANCELED;
        goto out;
    }
    struct osr_usage usage = osr_usage_unknown();
    usage.prompt_tokens = (int64_t)n_ids;
    usage.completion_tokens = 0;
    if (osr_sink_usage(sink, &usage)) {
        rc = OSR_ECANCELED;
        goto out;
    }

    int32_t eog[4];
    size_t n_eog = 0;
    int32_t cands[2] = {osr_tokenizer_eos(l->tok), osr_tokenizer_eot(l->tok)};
    for (int i = 0; i < 2; i++)
        if (cands[i] >= 0)
            eog[n_eog++] = cands[i];
    struct osr_gen_hook hook = {hook_before, hook_after, &g};
    g.tools = po.tools;
    rc = build_constraint(l, req, in_think, eog, n_eog, &g.cons);
    if (rc == OSR_EINVAL) {
        OSR_WARN("model '%s': the requested tool call or JSON answer cannot be forced (a tool "
                 "name needs escaping); generating without a constraint",
                 req->model);
    } else if (rc) {
        rc = fail(sink, 500, "cannot prepare constrained decoding");
        goto out;
    }
    struct osr_generate_params gp = {0};
    gp.hook = g.cons ? &hook : NULL;
    int64_t budget = n_ctx - (int64_t)n_ids;
    gp.max_tokens = (int)(req->sampling.max_tokens > 0 && req->sampling.max_tokens < budget
                              ? req->sampling.max_tokens
                              : budget);
    gp.eog = eog;
    gp.n_eog = n_eog;
    g.max_tokens = gp.max_tokens;
    int64_t t_prompt = osr_mono_ns();
    enum osr_gen_stop why = OSR_GEN_STOP_EOG;
    rc = osr_model_generate(ctx, smp, ids, n_ids, &gp, logits, on_token, &g, &why, &diag);
    int64_t t_end = osr_mono_ns();
    if (rc != OSR_OK && rc != OSR_ECANCELED) {
        rc = fail(sink, 500, diag.msg);
        goto out;
    }
    if (g.gone) {
        rc = OSR_ECANCELED;
        goto out;
    }
    if (g.toobig) {
        rc = fail(sink, 500, "a tool call in the model's output is too large");
        goto out;
    }
    if (g.cons_broken)
        OSR_WARN("model '%s': a sampled token did not fit the constraint", req->model);
    if (!g.stopped) {
        osr_detok_finish(&g.detok, &g.piece);
        if (g.piece.len)
            feed(&g);
    }
    if (g.gone) {
        rc = OSR_ECANCELED;
        goto out;
    }
    enum osr_finish finish;
    const char *stop_seq = NULL;
    enum osr_finish gen_finish = why == OSR_GEN_STOP_LENGTH ? OSR_FINISH_LENGTH : OSR_FINISH_STOP;
    if (osr_outparse_finish(parse, gen_finish, &finish, &stop_seq) == OSR_OUTPARSE_GONE) {
        rc = OSR_ECANCELED;
        goto out;
    }
    usage.completion_tokens = g.n_gen;
    usage.total_ns = t_end - t_start;
    usage.load_ns = load_ns;
    int64_t first = g.first_token_ns ? g.first_token_ns : t_end;
    usage.prompt_ns = first - t_prompt;
    usage.eval_ns = t_end - first;
    if (osr_sink_usage(sink, &usage) || osr_sink_finish(sink, finish, stop_seq)) {
        rc = OSR_ECANCELED;
        goto out;
    }
    rc = OSR_OK;
out:
    free(logits);
    osr_constraint_free(g.cons);
    osr_outparse_free(parse);
    osr_buf_release(&g.piece);
    osr_buf_release(&g.lp_text);
    osr_sampler_free(smp);
    osr_model_ctx_free(ctx);
    free(ids);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* The backend interface.                                                                     */

static bool lb_claims(struct osr_chat_backend *b, const char *model_id, const char **local_name)
{
    struct local *lb = b->ctx;
    struct osr_registry_snapshot *snap = osr_registry_acquire(lb->opts.reg, REGISTRY_MAX_AGE_MS);
    if (!snap)
        return false;
    bool found = osr_registry_find(snap, model_id) != NULL;
    osr_registry_snapshot_release(snap);
    if (found && local_name)
        *local_name = model_id;
    return found;
}

static int lb_chat(struct osr_chat_backend *b, const char *local_name, struct osr_chat_request *req,
                   struct osr_sink *sink, const struct osr_chat_cancel *cancel)
{
    struct local *lb = b->ctx;
    int64_t t_start = osr_mono_ns();
    struct osr_registry_snapshot *snap = osr_registry_acquire(lb->opts.reg, REGISTRY_MAX_AGE_MS);
    const struct osr_model_entry *e = snap ? osr_registry_find(snap, local_name) : NULL;
    if (!e) {
        osr_registry_snapshot_release(snap);
        char msg[256];
        snprintf(msg, sizeof(msg), "model '%s' not found", local_name);
        return fail(sink, 404, msg);
    }
    struct osr_diag diag;
    osr_diag_clear(&diag);
    struct loaded *l = NULL;
    int64_t load_ns = 0;
    int status = 500;
    int rc = acquire(lb, e, &l, &load_ns, &status, &diag);
    osr_registry_snapshot_release(snap);
    if (rc)
        return fail(sink, status, diag.msg);
    take_turn(l);
    rc = osr_chat_cancelled(cancel) ? OSR_ECANCELED
                                    : run(lb, l, req, sink, cancel, load_ns, t_start);
    end_turn(l);
    bool unload_now = req->x.keep_alive && strcmp(req->x.keep_alive, "0") == 0;
    release(lb, l, unload_now);
    return rc;
}

static int lb_count_tokens(struct osr_chat_backend *b, const char *local_name,
                           struct osr_chat_request *req, int64_t *n, struct osr_diag *diag)
{
    struct local *lb = b->ctx;
    struct osr_registry_snapshot *snap = osr_registry_acquire(lb->opts.reg, REGISTRY_MAX_AGE_MS);
    const struct osr_model_entry *e = snap ? osr_registry_find(snap, local_name) : NULL;
    if (!e) {
        osr_registry_snapshot_release(snap);
        return osr_diag_set(diag, OSR_ENOTFOUND, "model '%s' cannot be loaded", local_name);
    }
    struct loaded *l = NULL;
    int64_t load_ns = 0;
    int status = 500;
    int rc = acquire(lb, e, &l, &load_ns, &status, diag);
    osr_registry_snapshot_release(snap);
    if (rc)
        return rc;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    bool in_think = false;
    rc = build_prompt(l, req, &ids, &n_ids, &in_think, &status, diag);
    free(ids);
    release(lb, l, false);
    if (rc == OSR_OK)
        *n = (int64_t)n_ids;
    return rc;
}

/* Tokenizes every input, then embeds each in turn on one context sized for the longest (not
 * for the model's whole context: a 7B model's full F16 cache is gigabytes).  Returns OSR_OK
 * with out filled, or an error with *status and diag. */
static int embed_inputs(struct local *lb, struct loaded *l, const char *name,
                        const struct osr_str *inputs, size_t n_inputs, struct osr_embeddings *out,
                        int *status, struct osr_diag *diag)
{
    const struct osr_model_hparams *hp = osr_model_hparams(l->model);
    out->dim = (size_t)hp->n_embd;
    out->prompt_tokens = 0;
    if (n_inputs == 0)
        return OSR_OK; /* Ollama: an empty input list only loads the model */
    int cap = lb->opts.n_ctx_max ? lb->opts.n_ctx_max : DEFAULT_CTX_MAX;
    int limit = hp->n_ctx_train < cap ? hp->n_ctx_train : cap;
    int32_t **ids = osr_xcalloc(n_inputs, sizeof(*ids));
    size_t *n_ids = osr_xcalloc(n_inputs, sizeof(*n_ids));
    struct osr_model_ctx *ctx = NULL;
    size_t longest = 0;
    int rc = OSR_OK;
    *status = 400;
    for (size_t i = 0; i < n_inputs; i++) {
        rc = osr_tokenizer_encode_alloc(l->tok, inputs[i].p ? inputs[i].p : "", inputs[i].n, true,
                                        false, &ids[i], &n_ids[i]);
        if (rc) {
            osr_diag_set(diag, rc, "input %zu cannot be tokenized: %s", i, osr_strerror(rc));
            goto out;
        }
        if (n_ids[i] == 0) {
            rc = osr_diag_set(diag, OSR_EINVAL, "input %zu is empty", i);
            goto out;
        }
        if (n_ids[i] > (size_t)limit) {
            rc = osr_diag_set(diag, OSR_ETOOBIG,
                              "input %zu is %zu tokens but model '%s' embeds at most %d", i,
                              n_ids[i], name, limit);
            goto out;
        }
        longest = n_ids[i] > longest ? n_ids[i] : longest;
        out->prompt_tokens += (int64_t)n_ids[i];
    }
    struct osr_model_ctx_params cp;
    osr_model_ctx_params_init(&cp);
    cp.n_ctx = (int)longest;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cp.n_threads = lb->opts.n_threads > 0 ? lb->opts.n_threads : (int)(cores > 0 ? cores : 1);
    *status = 500;
    if ((rc = osr_model_ctx_new(l->model, &cp, &ctx, diag)))
        goto out;
    out->data = osr_xcalloc(n_inputs * out->dim, sizeof(float));
    for (size_t i = 0; i < n_inputs; i++) {
        rc = osr_model_ctx_embed(ctx, ids[i], (int)n_ids[i], out->data + i * out->dim, diag);
        if (rc) {
            *status = rc == OSR_EUNSUPPORTED ? 501 : 500;
            goto out;
        }
    }
    out->n = n_inputs;
out:
    if (rc) {
        free(out->data);
        out->data = NULL;
        out->n = 0;
        out->prompt_tokens = -1;
    }
    for (size_t i = 0; i < n_inputs; i++)
        free(ids[i]);
    free(ids);
    free(n_ids);
    osr_model_ctx_free(ctx);
    return rc;
}

static int lb_embed(struct osr_chat_backend *b, const char *local_name,
                    const struct osr_str *inputs, size_t n_inputs, struct osr_embeddings *out,
                    int *status, struct osr_diag *diag)
{
    struct local *lb = b->ctx;
    memset(out, 0, sizeof(*out));
    out->prompt_tokens = -1;
    struct osr_registry_snapshot *snap = osr_registry_acquire(lb->opts.reg, REGISTRY_MAX_AGE_MS);
    const struct osr_model_entry *e = snap ? osr_registry_find(snap, local_name) : NULL;
    if (!e) {
        osr_registry_snapshot_release(snap);
        *status = 404;
        return osr_diag_set(diag, OSR_ENOTFOUND, "model '%s' not found", local_name);
    }
    struct loaded *l = NULL;
    int64_t load_ns = 0;
    int rc = acquire(lb, e, &l, &load_ns, status, diag);
    osr_registry_snapshot_release(snap);
    if (rc)
        return rc;
    take_turn(l);
    rc = embed_inputs(lb, l, local_name, inputs, n_inputs, out, status, diag);
    end_turn(l);
    release(lb, l, false);
    return rc;
}

static void lb_list_models(struct osr_chat_backend *b, struct osr_model_list *out)
{
    /* Local models are listed by the registry's own routes (GET /models, /api/tags). */
    (void)b;
    (void)out;
}

static void lb_free(struct osr_chat_backend *b)
{
    struct local *lb = b->ctx;
    struct loaded *l = lb->models;
    while (l) {
        struct loaded *next = l->next;
        loaded_free(l);
        l = next;
    }
    pthread_cond_destroy(&lb->load_cv);
    pthread_mutex_destroy(&lb->mu);
    free(lb);
    free(b);
}

static const struct osr_chat_backend_ops local_ops = {
    .claims = lb_claims,
    .chat = lb_chat,
    .embed = lb_embed,
    .list_models = lb_list_models,
    .free = lb_free,
    .count_tokens = lb_count_tokens,
};

struct osr_chat_backend *osr_local_backend_new(const struct osr_local_backend_opts *opts)
{
    struct local *lb = osr_xcalloc(1, sizeof(*lb));
    lb->opts = *opts;
    pthread_mutex_init(&lb->mu, NULL);
    pthread_cond_init(&lb->load_cv, NULL);
    struct osr_chat_backend *b = osr_xcalloc(1, sizeof(*b));
    b->ops = &local_ops;
    b->ctx = lb;
    return b;
}

void osr_local_backend_loaded(struct osr_chat_backend *b, struct json_object *arr)
{
    struct local *lb = b->ctx;
    int64_t idle = lb->opts.idle_unload_ms ? lb->opts.idle_unload_ms : DEFAULT_IDLE_MS;
    pthread_mutex_lock(&lb->mu);
    for (struct loaded *l = lb->models; l; l = l->next) {
        if (l->loading)
            continue;
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(l->id));
        json_object_object_add(o, "model", json_object_new_string(l->id));
        json_object_object_add(o, "size", json_object_new_int64((int64_t)l->size));
        json_object_object_add(o, "size_vram", json_object_new_int(0));
        char ts[OSR_ISO8601_MAX];
        int64_t wall_now = osr_wall_ms();
        int64_t since = osr_mono_ns() / 1000000 - l->last_used_ms;
        osr_time_iso8601(ts, idle >= 0 ? wall_now - since + idle : wall_now + 315360000000LL, 0);
        json_object_object_add(o, "expires_at", json_object_new_string(ts));
        json_object_array_add(arr, o);
    }
    pthread_mutex_unlock(&lb->mu);
}
