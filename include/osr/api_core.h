/* api_core.h - the server's own routes: GET / (banner) and GET /health
 * (GET /models: api_models.h).
 *
 * Thread rules: register before the server starts; handlers run on connection threads and
 * only read the struct.
 */
#ifndef OSR_API_CORE_H
#define OSR_API_CORE_H

#include <stdint.h>

#include <json-c/json.h>

#include "osr/http_server.h"

#define OSR_BANNER "Osaurus Server is running! \xf0\x9f\xa6\x95"

struct osr_api_core {
    int64_t started_wall_ms;
    int64_t started_mono_ns;
    const char *instance_id;
    /* Appends what is loaded (/api/ps objects: "name", "size", ...) to arr; NULL: nothing is.
     * /health reports "loaded", "current_model" and "resident_models" from it. */
    void (*loaded)(struct json_object *arr, void *ctx);
    void *loaded_ctx;
};

/* Adds the core routes to srv; core is borrowed and must outlive the server. */
void osr_api_core_register(struct osr_http_server *srv, struct osr_api_core *core);

#endif
