/* chat_service.h - the chat service: which backend answers a model id.
 *
 * A backend is anything that can answer a canonical chat request with canonical events: a
 * cloud provider (src/providers), and later the local engine.  The service keeps an ordered
 * list of backends and asks each whether it serves a model id; the first that claims it
 * answers.  Provider backends claim ids of the form "<provider id>/<model>"; the local engine
 * will claim the names of installed models.
 *
 * Thread rules: backends are added before the service is shared; after that every function is
 * safe to call from any thread at once (backends must be thread-safe themselves).
 */
#ifndef OSR_CHAT_SERVICE_H
#define OSR_CHAT_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osr/chat.h"
#include "osr/err.h"

/* One model a backend offers, for /v1/models and friends. */
struct osr_model_info {
    char *id;        /* the full id a client sends ("openai/gpt-4o") */
    char *owned_by;  /* provider id, or "osaurus" */
    int64_t created; /* unix seconds, 0 when unknown */
};

struct osr_model_list {
    struct osr_model_info *items;
    size_t n;
    size_t cap;
};

void osr_model_list_init(struct osr_model_list *l);
/* Appends a copy of id and owned_by. */
void osr_model_list_add(struct osr_model_list *l, const char *id, const char *owned_by,
                        int64_t created);
void osr_model_list_release(struct osr_model_list *l);

/* Vectors computed by a backend: n rows of dim floats (heap; the caller frees data). */
struct osr_embeddings {
    float *data;
    size_t n;
    size_t dim;
    int64_t prompt_tokens; /* -1 when unknown */
};

struct osr_chat_backend;

/* A way for a backend to ask, while it waits on a silent upstream or a long prefill, whether
 * the consumer is still there (the sink only tells when the producer writes).  fn returns
 * true once the answer is no longer wanted.  Optional everywhere: NULL means "never". */
struct osr_chat_cancel {
    bool (*fn)(void *ctx);
    void *ctx;
};

static inline bool osr_chat_cancelled(const struct osr_chat_cancel *c)
{
    return c && c->fn && c->fn(c->ctx);
}

struct osr_chat_backend_ops {
    /* Returns true when the backend serves model_id; *local_name (may be NULL) then points
     * into model_id at the name the backend knows it by. */
    bool (*claims)(struct osr_chat_backend *b, const char *model_id, const char **local_name);
    /* Answers req (whose model is local_name to the backend) with events on sink: ROLE ...
     * FINISH, or ERROR.  Returns OSR_OK when the stream ended normally or with an ERROR event,
     * OSR_ECANCELED when the sink said the consumer is gone.  Must stop at once when
     * osr_sink_emit returns non-zero, and soon after osr_chat_cancelled(cancel) turns true. */
    int (*chat)(struct osr_chat_backend *b, const char *local_name, struct osr_chat_request *req,
                struct osr_sink *sink, const struct osr_chat_cancel *cancel);
    /* Optional (NULL: no embeddings).  Fills out; on failure fills status (HTTP) and diag. */
    int (*embed)(struct osr_chat_backend *b, const char *local_name, const struct osr_str *inputs,
                 size_t n_inputs, struct osr_embeddings *out, int *status, struct osr_diag *diag);
    /* Appends the backend's models to out (may do network I/O; backends cache). */
    void (*list_models)(struct osr_chat_backend *b, struct osr_model_list *out);
    void (*free)(struct osr_chat_backend *b);
    /* Optional (NULL: callers estimate).  The exact number of prompt tokens req would take,
     * rendered and tokenized as chat would.  Returns OSR_OK or an error with diag. */
    int (*count_tokens)(struct osr_chat_backend *b, const char *local_name,
                        struct osr_chat_request *req, int64_t *n, struct osr_diag *diag);
};

struct osr_chat_backend {
    const struct osr_chat_backend_ops *ops;
    void *ctx;
};

struct osr_chat_service;

struct osr_chat_service *osr_chat_service_new(void);
/* Frees the service and every backend it owns. */
void osr_chat_service_free(struct osr_chat_service *svc);
/* Takes ownership of b (freed with b->ops->free).  Backends added first are asked first. */
void osr_chat_service_add_backend(struct osr_chat_service *svc, struct osr_chat_backend *b);

/* Finds the backend for model_id.  Returns OSR_OK (with *backend and *local_name, which points
 * into model_id) or OSR_ENOTFOUND. */
int osr_chat_service_resolve(struct osr_chat_service *svc, const char *model_id,
                             struct osr_chat_backend **backend, const char **local_name);

/* Runs req->model on its backend, events to sink; cancel (may be NULL) is passed on.  Returns
 * OSR_ENOTFOUND (nothing emitted) for an unknown model, else what the backend's chat
 * returned. */
int osr_chat_service_chat(struct osr_chat_service *svc, struct osr_chat_request *req,
                          struct osr_sink *sink, const struct osr_chat_cancel *cancel);

/* Embeds inputs with model_id.  OSR_ENOTFOUND for an unknown model, OSR_EUNSUPPORTED (status
 * 400) when its backend has no embeddings. */
int osr_chat_service_embed(struct osr_chat_service *svc, const char *model_id,
                           const struct osr_str *inputs, size_t n_inputs,
                           struct osr_embeddings *out, int *status, struct osr_diag *diag);

/* Appends every backend's models to out (init it first; release with osr_model_list_release).
 * /v1/models appends these to the local ones. */
void osr_chat_service_list_models(struct osr_chat_service *svc, struct osr_model_list *out);

/* ---- models in use (Ollama's /api/ps) ----
 * The service remembers the model ids it ran (chat and embeddings) with when each was last
 * used and how long it stays "running" after that: the request's keep_alive (Ollama's), 5
 * minutes by default as in Ollama, "0" forgets it at once, a negative one keeps it for good.
 * For a cloud model this is the only sense in which it is loaded; /api/ps lists these beside
 * the models the local engine holds.  At most OSR_CHAT_RECENT_MAX ids; the least recently
 * used one makes room. */
#define OSR_CHAT_RECENT_MAX 64
#define OSR_CHAT_KEEP_ALIVE_DEFAULT_MS ((int64_t)5 * 60 * 1000)

struct osr_chat_recent {
    char *id;
    int64_t used_ms;    /* wall clock, ms since the epoch */
    int64_t expires_ms; /* wall clock; INT64_MAX: never */
};

/* Returns a heap array of the ids used whose keep-alive has not run out, most recently used
 * first, and their count in *n; the caller frees it with osr_chat_recent_free. */
struct osr_chat_recent *osr_chat_service_recent(struct osr_chat_service *svc, size_t *n);
void osr_chat_recent_free(struct osr_chat_recent *r, size_t n);

/* Records that model_id was used now with keep_alive (Ollama's spelling or NULL). */
void osr_chat_service_touch(struct osr_chat_service *svc, const char *model_id,
                            const char *keep_alive);

/* Parses an Ollama keep_alive: a Go duration ("5m", "1h30m", "90s", "1.5h", "-1m"), a bare
 * number of seconds ("300", as the decoders spell JSON numbers with "s"), "0".  Returns true
 * with *ms (negative: forever); false when s is not one (callers use the default). */
bool osr_chat_keep_alive_ms(const char *s, int64_t *ms);

#endif
