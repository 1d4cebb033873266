/* service.c - the chat service: an ordered registry of backends and the model id that picks
 * one (see chat_service.h).
 *
 * It does not translate protocols or talk to the network; it only finds the backend and hands
 * it the request and the sink.  The backend list is fixed once the service is shared, so
 * lookups take no lock.
 */
#include <stdlib.h>
#include <string.h>

#include "osr/alloc.h"
#include "osr/chat_service.h"

#define MAX_BACKENDS 256

struct osr_chat_service {
    struct osr_chat_backend *backends[MAX_BACKENDS];
    size_t n;
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
    return osr_xcalloc(1, sizeof(struct osr_chat_service));
}

void osr_chat_service_free(struct osr_chat_service *svc)
{
    if (!svc)
        return;
    for (size_t i = 0; i < svc->n; i++)
        if (svc->backends[i]->ops->free)
            svc->backends[i]->ops->free(svc->backends[i]);
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
    return b->ops->embed(b, name, inputs, n_inputs, out, status, diag);
}

void osr_chat_service_list_models(struct osr_chat_service *svc, struct osr_model_list *out)
{
    for (size_t i = 0; i < svc->n; i++)
        if (svc->backends[i]->ops->list_models)
            svc->backends[i]->ops->list_models(svc->backends[i], out);
}
