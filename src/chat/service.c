/* service.c - the chat service: an ordered registry of backends and the model id that picks
 * one (see chat_service.h), and the small table of models used recently that /api/ps lists.
 *
 * It does not translate protocols or talk to the network; it only finds the backend and hands
 * it the request and the sink.  The backend list is fixed once the service is shared, so
 * lookups take no lock; the recent table has its own.
 */
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "osr/alloc.h"
#include "osr/chat_service.h"
#include "osr/clock.h"

#define MAX_BACKENDS 256
#define MAX_RECENT_ID 1024 /* longer ids are not remembered */

struct recent_slot {
    char *id;          /* NULL: free */
    int64_t used_mono; /* ms, monotonic: what expiry is measured with */
    int64_t used_wall; /* ms since the epoch: what is shown */
    int64_t keep_ms;   /* < 0: forever */
};

struct osr_chat_service {
    struct osr_chat_backend *backends[MAX_BACKENDS];
    size_t n;
    pthread_mutex_t mu;
    struct recent_slot recent[OSR_CHAT_RECENT_MAX]; /* guarded by mu */
};

void osr_model_list_init(struct osr_model_list *l)
{
    memset(l, 0, sizeof(*l));
}

void osr_model_list_add(struct osr_model_list *l, const char *id, const char *owned_by,
                        int64_t created)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->items = osr_xrealloc(l->items, l->cap * sizeof(*l->items));
    }
    l->items[l->n].id = osr_xstrdup(id);
    l->items[l->n].owned_by = osr_xstrdup(owned_by ? owned_by : "osaurus");
    l->items[l->n].created = created;
    l->n++;
}

void osr_model_list_release(struct osr_model_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].id);
        free(l->items[i].owned_by);
    }
    free(l->items);
    memset(l, 0, sizeof(*l));
}

struct osr_chat_service *osr_chat_service_new(void)
{
    struct osr_chat_service *svc = osr_xcalloc(1, sizeof(struct osr_chat_service));
    pthread_mutex_init(&svc->mu, NULL);
    return svc;
}

void osr_chat_service_free(struct osr_chat_service *svc)
{
    if (!svc)
        return;
    for (size_t i = 0; i < svc->n; i++)
        if (svc->backends[i]->ops->free)
            svc->backends[i]->ops->free(svc->backends[i]);
    for (size_t i = 0; i < OSR_CHAT_RECENT_MAX; i++)
        free(svc->recent[i].id);
    pthread_mutex_destroy(&svc->mu);
    free(svc);
}

void osr_chat_service_add_backend(struct osr_chat_service *svc, struct osr_chat_backend *b)
{
    OSR_ASSERT(svc->n < MAX_BACKENDS);
    svc->backends[svc->n++] = b;
}

int osr_chat_service_resolve(struct osr_chat_service *svc, const char *model_id,
                             struct osr_chat_backend **backend, const char **local_name)
{
    if (!model_id || !*model_id)
        return OSR_ENOTFOUND;
    for (size_t i = 0; i < svc->n; i++) {
        const char *name = model_id;
        if (svc->backends[i]->ops->claims(svc->backends[i], model_id, &name)) {
            *backend = svc->backends[i];
            if (local_name)
                *local_name = name;
            return OSR_OK;
        }
    }
    return OSR_ENOTFOUND;
}

int osr_chat_service_chat(struct osr_chat_service *svc, struct osr_chat_request *req,
                          struct osr_sink *sink, const struct osr_chat_cancel *cancel)
{
    struct osr_chat_backend *b;
    const char *name;
    int rc = osr_chat_service_resolve(svc, req->model, &b, &name);
    if (rc)
        return rc;
    osr_chat_service_touch(svc, req->model, req->x.keep_alive);
    return b->ops->chat(b, name, req, sink, cancel);
}

int osr_chat_service_embed(struct osr_chat_service *svc, const char *model_id,
                           const struct osr_str *inputs, size_t n_inputs,
                           struct osr_embeddings *out, int *status, struct osr_diag *diag)
{
    struct osr_chat_backend *b;
    const char *name;
    memset(out, 0, sizeof(*out));
    int rc = osr_chat_service_resolve(svc, model_id, &b, &name);
    if (rc) {
        *status = 404;
        return osr_diag_set(diag, rc, "model '%s' not found", model_id ? model_id : "");
    }
    if (!b->ops->embed) {
        *status = 400;
        return osr_diag_set(diag, OSR_EUNSUPPORTED, "model '%s' does not support embeddings",
                            model_id);
    }
    osr_chat_service_touch(svc, model_id, NULL);
    return b->ops->embed(b, name, inputs, n_inputs, out, status, diag);
}

void osr_chat_service_list_models(struct osr_chat_service *svc, struct osr_model_list *out)
{
    for (size_t i = 0; i < svc->n; i++)
        if (svc->backends[i]->ops->list_models)
            svc->backends[i]->ops->list_models(svc->backends[i], out);
}

/* ---------------------------------------------------------------- recently used */

bool osr_chat_keep_alive_ms(const char *s, int64_t *ms)
{
    static const struct {
        const char *unit;
        double ms;
    } units[] = {{"ns", 1e-6}, {"us", 1e-3}, {"\xc2\xb5s", 1e-3}, {"ms", 1.0},
                 {"s", 1e3},   {"m", 6e4},   {"h", 3.6e6}};
    if (!s)
        return false;
    bool neg = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    if (!*s)
        return false;
    double total = 0;
    bool bare = true; /* a number without a unit: seconds */
    while (*s) {
        if (!isdigit((unsigned char)*s) && *s != '.')
            return false;
        char *end = NULL;
        double v = strtod(s, &end);
        if (end == s || !isfinite(v))
            return false;
        s = end;
        size_t best = 0, best_len = 0;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            size_t k = strlen(units[i].unit);
            if (k > best_len && strncmp(s, units[i].unit, k) == 0) {
                best = i;
                best_len = k;
            }
        }
        if (best_len == 0) {
            if (*s || !bare)
                return false;
            total += v * 1e3;
            break;
        }
        bare = false;
        total += v * units[best].ms;
        s += best_len;
    }
    if (total > 9e15)
        total = 9e15; /* far beyond any lifetime; keeps the conversion defined */
    *ms = neg ? (total > 0 ? -(int64_t)total - 1 : 0) : (int64_t)total;
    return true;
}

void osr_chat_service_touch(struct osr_chat_service *svc, const char *model_id,
                            const char *keep_alive)
{
    if (!model_id || !*model_id || strlen(model_id) > MAX_RECENT_ID)
        return;
    int64_t keep = OSR_CHAT_KEEP_ALIVE_DEFAULT_MS;
    if (keep_alive && !osr_chat_keep_alive_ms(keep_alive, &keep))
        keep = OSR_CHAT_KEEP_ALIVE_DEFAULT_MS;
    int64_t now = osr_mono_ns() / 1000000;
    pthread_mutex_lock(&svc->mu);
    /* Its own slot, else a free one, else the least recently used. */
    size_t at = OSR_CHAT_RECENT_MAX, spare = 0;
    for (size_t i = 0; i < OSR_CHAT_RECENT_MAX && at == OSR_CHAT_RECENT_MAX; i++) {
        const struct recent_slot *r = &svc->recent[i];
        if (r->id && strcmp(r->id, model_id) == 0)
            at = i;
        else if (svc->recent[spare].id && (!r->id || r->used_mono < svc->recent[spare].used_mono))
            spare = i;
    }
    if (at == OSR_CHAT_RECENT_MAX)
        at = spare;
    struct recent_slot *r = &svc->recent[at];
    if (keep == 0) {
        /* keep_alive 0: done with it now, as Ollama unloads at once. */
        if (r->id && strcmp(r->id, model_id) == 0) {
            free(r->id);
            r->id = NULL;
        }
    } else {
        if (!r->id || strcmp(r->id, model_id) != 0) {
            free(r->id);
            r->id = osr_xstrdup(model_id);
        }
        r->used_mono = now;
        r->used_wall = osr_wall_ms();
        r->keep_ms = keep;
    }
    pthread_mutex_unlock(&svc->mu);
}

static int by_recent_use(const void *a, const void *b)
{
    const struct osr_chat_recent *x = a, *y = b;
    return x->used_ms < y->used_ms ? 1 : x->used_ms > y->used_ms ? -1 : 0;
}

struct osr_chat_recent *osr_chat_service_recent(struct osr_chat_service *svc, size_t *n)
{
    struct osr_chat_recent *out = osr_xcalloc(OSR_CHAT_RECENT_MAX, sizeof(*out));
    *n = 0;
    int64_t now = osr_mono_ns() / 1000000;
    pthread_mutex_lock(&svc->mu);
    for (size_t i = 0; i < OSR_CHAT_RECENT_MAX; i++) {
        struct recent_slot *r = &svc->recent[i];
        if (!r->id)
            continue;
        if (r->keep_ms >= 0 && now - r->used_mono >= r->keep_ms) {
            free(r->id); /* expired: gone from the list, as an unloaded model is */
            r->id = NULL;
            continue;
        }
        out[*n].id = osr_xstrdup(r->id);
        out[*n].used_ms = r->used_wall;
        out[*n].expires_ms = r->keep_ms < 0 ? INT64_MAX : r->used_wall + r->keep_ms;
        (*n)++;
    }
    pthread_mutex_unlock(&svc->mu);
    qsort(out, *n, sizeof(*out), by_recent_use);
    return out;
}

void osr_chat_recent_free(struct osr_chat_recent *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++)
        free(r[i].id);
    free(r);
}
