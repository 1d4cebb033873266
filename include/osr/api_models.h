/* api_models.h - the model routes: GET /models (OpenAI), and Ollama's GET /tags, POST /show,
 * GET /ps, DELETE /delete, POST /copy and POST /pull, all answered from the model registry.
 *
 * Thread rules: register before the server starts; handlers run on connection threads and
 * share the registry, which is thread-safe.
 */
#ifndef OSR_API_MODELS_H
#define OSR_API_MODELS_H

#include <json-c/json.h>

#include "osr/gguf.h"
#include "osr/http_server.h"
#include "osr/registry.h"

/* Snapshots older than this are rescanned when a listing route asks. */
#define OSR_API_MODELS_RESCAN_MS 2000

/* Appends remote providers' models ({"id","object":"model","created","owned_by"} objects) to
 * the array of GET /models.  The hook for remote providers: NULL until they exist. */
typedef void (*osr_api_models_remote_fn)(struct json_object *data, void *ctx);

/* Appends remote providers' models to the "models" array of Ollama's GET /api/tags, each built
 * with osr_api_models_remote_tag.  NULL: /api/tags lists local models only. */
typedef void (*osr_api_models_remote_tags_fn)(struct json_object *models, void *ctx);

/* Answers POST /api/show for a model the registry does not know (a cloud provider's): returns
 * a new show document, or NULL when no backend serves name. */
typedef struct json_object *(*osr_api_models_remote_show_fn)(const char *name, void *ctx);

/* Appends the models loaded right now to the array of GET /api/ps. */
typedef void (*osr_api_models_loaded_fn)(struct json_object *models, void *ctx);

struct osr_api_models {
    struct osr_registry *reg;        /* borrowed */
    osr_api_models_remote_fn remote; /* may be NULL */
    void *remote_ctx;
    osr_api_models_remote_tags_fn remote_tags; /* may be NULL */
    void *remote_tags_ctx;
    osr_api_models_loaded_fn loaded; /* may be NULL: nothing is ever loaded */
    void *loaded_ctx;
    osr_api_models_remote_show_fn remote_show; /* may be NULL: local models only */
    void *remote_show_ctx;
};

/* Adds the routes; api (and its registry) is borrowed and must outlive the server. */
void osr_api_models_register_with(struct osr_http_server *srv, struct osr_api_models *api);

/* For `osaurus serve`: creates the process's registry for home (copied) - it lives until the
 * process exits - and adds the routes. */
void osr_api_models_register(struct osr_http_server *srv, const char *home);

/* A new /api/tags entry for a model that is not a local file (a provider's "provider/model"):
 * Ollama's fields with size 0, an empty digest and details with format "remote", plus the
 * OpenAI fields the local entries carry too.  created is in seconds since the epoch (0:
 * unknown).  The caller owns the result. */
struct json_object *osr_api_models_remote_tag(const char *id, int64_t created,
                                              const char *owned_by);

/* Ollama's "parameters" text for a params layer's JSON ("stop \"<|eot|>\"\ntemperature 0.7");
 * the caller frees it with free().  Returns "" for NULL or malformed JSON. */
char *osr_api_models_params_text(const char *params_json);

/* The model_info object of POST /show for the GGUF file at path: general.* and <arch>.*
 * scalars and every other key, arrays of up to 16 scalars in full and longer ones as null
 * (Ollama's non-verbose form), plus general.parameter_count.  Returns NULL (diag says why)
 * when the file cannot be read.  The caller releases it with json_object_put. */
struct json_object *osr_api_models_model_info(const char *path, uint64_t parameter_count,
                                              struct osr_diag *diag);

/* The same for an opened file (borrowed). */
struct json_object *osr_api_models_model_info_gguf(const struct osr_gguf *g,
                                                   uint64_t parameter_count);

#endif
