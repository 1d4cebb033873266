/* models_routes.c - the model routes, answered from the model registry.
 *
 * GET /models speaks OpenAI's list shape; /tags, /show, /ps, /delete, /copy and /pull speak
 * Ollama's, errors included ({"error":"<string>"}).  Everything reported is read from the
 * model files (size, digest, family, parameter count, quantization, metadata, template);
 * nothing is made up.  /ps answers the models the engine holds in memory: none until the
 * engine exists.  /delete and /copy change only the Osaurus store; /pull explains that it
 * needs the network and how to add a file instead.  This file does no inference.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osr/alloc.h"
#include "osr/api_models.h"
#include "osr/buf.h"
#include "osr/clock.h"
#include "osr/gguf.h"
#include "osr/json.h"
#include "osr/log.h"
#include "osr/model_store.h"

#define SHOW_ARRAY_MAX 16 /* longer metadata arrays are summarized as null */
#define MODELFILE_MAX (8u << 20)

/* ---- helpers ------------------------------------------------------------------------------ */

static int respond_ollama_error(struct osr_http_request *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int respond_ollama_error(struct osr_http_request *req, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "error", json_object_new_string(msg));
    int rc = osr_http_respond_json(req, status, o);
    json_object_put(o);
    return rc;
}

/* Parses the body as a JSON object; on failure answers 400 and returns NULL. */
static struct json_object *parse_body(struct osr_http_request *req)
{
    struct osr_str body = osr_http_request_body(req);
    struct json_object *doc = NULL;
    struct osr_diag diag;
    osr_diag_clear(&diag);
    if (osr_json_parse(body.p ? body.p : "", body.n, &doc, &diag) != OSR_OK) {
        respond_ollama_error(req, 400, "invalid JSON body: %s", diag.msg);
        return NULL;
    }
    if (!doc || !json_object_is_type(doc, json_type_object)) {
        json_object_put(doc);
        respond_ollama_error(req, 400, "the request body must be a JSON object");
        return NULL;
    }
    return doc;
}

/* The model a request names: "model", else "name" (older Ollama clients). */
static const char *requested_model(struct osr_http_request *req, struct json_object *doc,
                                   const char *key1, const char *key2)
{
    struct osr_diag diag;
    osr_diag_clear(&diag);
    const char *v = NULL;
    if (osr_json_get_string(doc, key1, false, &v, &diag) != OSR_OK ||
        (!v && key2 && osr_json_get_string(doc, key2, false, &v, &diag) != OSR_OK)) {
        respond_ollama_error(req, 400, "%s", diag.msg);
        return NULL;
    }
    if (!v || !*v) {
        respond_ollama_error(req, 400, "'%s' is required", key1);
        return NULL;
    }
    return v;
}

static void iso_time(char out[OSR_ISO8601_MAX], int64_t ms)
{
    if (osr_time_iso8601(out, ms, 0) == 0)
        osr_time_iso8601(out, 0, 0);
}

static struct json_object *details_of(const struct osr_model_entry *m)
{
    struct json_object *d = json_object_new_object();
    json_object_object_add(d, "parent_model", json_object_new_string(""));
    json_object_object_add(d, "format", json_object_new_string("gguf"));
    json_object_object_add(d, "family", json_object_new_string(m->family));
    if (m->family[0]) {
        struct json_object *fams = json_object_new_array();
        json_object_array_add(fams, json_object_new_string(m->family));
        json_object_object_add(d, "families", fams);
    } else {
        json_object_object_add(d, "families", NULL);
    }
    json_object_object_add(d, "parameter_size", json_object_new_string(m->parameter_size));
    json_object_object_add(d, "quantization_level", json_object_new_string(m->quantization));
    return d;
}

/* ---- GET /models -------------------------------------------------------------------------- */

static void handle_models(struct osr_http_request *req, void *ctx)
{
    struct osr_api_models *api = ctx;
    struct osr_registry_snapshot *s = osr_registry_acquire(api->reg, OSR_API_MODELS_RESCAN_MS);
    struct json_object *o = json_object_new_object();
    struct json_object *data = json_object_new_array();
    for (size_t i = 0; i < osr_registry_count(s); i++) {
        const struct osr_model_entry *m = osr_registry_model(s, i);
        struct json_object *e = json_object_new_object();
        json_object_object_add(e, "id", json_object_new_string(m->id));
        json_object_object_add(e, "object", json_object_new_string("model"));
        json_object_object_add(e, "created", json_object_new_int64(m->modified_ms / 1000));
        json_object_object_add(e, "owned_by", json_object_new_string("osaurus"));
        json_object_array_add(data, e);
    }
    osr_registry_snapshot_release(s);
    if (api->remote)
        api->remote(data, api->remote_ctx);
    json_object_object_add(o, "object", json_object_new_string("list"));
    json_object_object_add(o, "data", data);
    osr_http_respond_json(req, 200, o);
    json_object_put(o);
}

/* ---- GET /tags ---------------------------------------------------------------------------- */

struct json_object *osr_api_models_remote_tag(const char *id, int64_t created, const char *owned_by)
{
    char ts[OSR_ISO8601_MAX];
    iso_time(ts, created * 1000);
    struct json_object *d = json_object_new_object();
    json_object_object_add(d, "parent_model", json_object_new_string(""));
    json_object_object_add(d, "format", json_object_new_string("remote"));
    json_object_object_add(d, "family", json_object_new_string(""));
    json_object_object_add(d, "families", NULL);
    json_object_object_add(d, "parameter_size", json_object_new_string(""));
    json_object_object_add(d, "quantization_level", json_object_new_string(""));
    struct json_object *e = json_object_new_object();
    json_object_object_add(e, "name", json_object_new_string(id));
    json_object_object_add(e, "model", json_object_new_string(id));
    json_object_object_add(e, "modified_at", json_object_new_string(ts));
    json_object_object_add(e, "size", json_object_new_int64(0));
    json_object_object_add(e, "digest", json_object_new_string(""));
    json_object_object_add(e, "details", d);
    json_object_object_add(e, "id", json_object_new_string(id));
    json_object_object_add(e, "object", json_object_new_string("model"));
    json_object_object_add(e, "created", json_object_new_int64(created));
    json_object_object_add(e, "owned_by", json_object_new_string(owned_by ? owned_by : ""));
    return e;
}

static void handle_tags(struct osr_http_request *req, void *ctx)
{
    struct osr_api_models *api = ctx;
    struct osr_registry_snapshot *s = osr_registry_acquire(api->reg, OSR_API_MODELS_RESCAN_MS);
    /* Digests that are not free are computed in the background; "" until then. */
    osr_registry_want_digests(api->reg);
    struct json_object *list = json_object_new_array();
    for (size_t i = 0; i < osr_registry_count(s); i++) {
        const struct osr_model_entry *m = osr_registry_model(s, i);
        char ts[OSR_ISO8601_MAX], digest[OSR_SHA256_HEX_LEN + 1];
        iso_time(ts, m->modified_ms);
        osr_registry_digest(s, m, digest);
        struct json_object *e = json_object_new_object();
        json_object_object_add(e, "name", json_object_new_string(m->id));
        json_object_object_add(e, "model", json_object_new_string(m->id));
        json_object_object_add(e, "modified_at", json_object_new_string(ts));
        json_object_object_add(e, "size", json_object_new_int64((int64_t)m->size));
        json_object_object_add(e, "digest", json_object_new_string(digest));
        json_object_object_add(e, "details", details_of(m));
        /* The original also sends its OpenAI fields here. */
        json_object_object_add(e, "id", json_object_new_string(m->id));
        json_object_object_add(e, "object", json_object_new_string("model"));
        json_object_object_add(e, "created", json_object_new_int64(m->modified_ms / 1000));
        json_object_object_add(e, "owned_by", json_object_new_string("osaurus"));
        json_object_array_add(list, e);
    }
    osr_registry_snapshot_release(s);
    if (api->remote_tags)
        api->remote_tags(list, api->remote_tags_ctx);
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "models", list);
    osr_http_respond_json(req, 200, o);
    json_object_put(o);
}

/* ---- POST /show --------------------------------------------------------------------------- */

/* A float32 written with the fewest digits that read back as the same float (1e-05, not
 * 9.9999997473787516e-06), as Ollama shows them. */
static struct json_object *float_value(float f)
{
    char buf[32];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, (double)f);
        if (strtof(buf, NULL) == f)
            break;
    }
    return json_object_new_double_s((double)f, buf);
}

static struct json_object *scalar_value(const struct osr_gguf *g, size_t i)
{
    enum osr_gguf_type t = osr_gguf_kv_type(g, i);
    switch (t) {
    case OSR_GGUF_TYPE_STRING: {
        struct osr_str s;
        if (osr_gguf_kv_str(g, i, &s) == OSR_OK)
            return osr_json_new_string(s.p, s.n);
        return NULL;
    }
    case OSR_GGUF_TYPE_BOOL: {
        int64_t v = 0;
        osr_gguf_kv_i64(g, i, &v);
        return json_object_new_boolean(v != 0);
    }
    case OSR_GGUF_TYPE_FLOAT32:
    case OSR_GGUF_TYPE_FLOAT64: {
        double d = 0;
        osr_gguf_kv_f64(g, i, &d);
        if (d != d || d > 1.7e308 || d < -1.7e308)
            return NULL; /* JSON has no NaN or infinities */
        return t == OSR_GGUF_TYPE_FLOAT32 ? float_value((float)d) : json_object_new_double(d);
    }
    case OSR_GGUF_TYPE_UINT64: {
        uint64_t v = 0;
        osr_gguf_kv_u64(g, i, &v);
        return json_object_new_uint64(v);
    }
    default: {
        int64_t v = 0;
        if (osr_gguf_kv_i64(g, i, &v) == OSR_OK)
            return json_object_new_int64(v);
        return NULL;
    }
    }
}

static struct json_object *array_value(const struct osr_gguf_array *a)
{
    if (a->n > SHOW_ARRAY_MAX || a->type == OSR_GGUF_TYPE_ARRAY)
        return NULL;
    struct json_object *arr = json_object_new_array();
    for (uint64_t k = 0; k < a->n; k++) {
        struct json_object *v = NULL;
        struct osr_str s;
        int64_t iv;
        double dv;
        if (a->type == OSR_GGUF_TYPE_STRING && osr_gguf_arr_str(a, k, &s) == OSR_OK)
            v = osr_json_new_string(s.p, s.n);
        else if ((a->type == OSR_GGUF_TYPE_FLOAT32 || a->type == OSR_GGUF_TYPE_FLOAT64) &&
                 osr_gguf_arr_f64(a, k, &dv) == OSR_OK && dv == dv && dv < 1.7e308 && dv > -1.7e308)
            v = json_object_new_double(dv);
        else if (a->type == OSR_GGUF_TYPE_BOOL && osr_gguf_arr_int(a, k, &iv) == OSR_OK)
            v = json_object_new_boolean(iv != 0);
        else if (osr_gguf_arr_int(a, k, &iv) == OSR_OK)
            v = json_object_new_int64(iv);
        json_object_array_add(arr, v);
    }
    return arr;
}

struct json_object *osr_api_models_model_info_gguf(const struct osr_gguf *g,
                                                   uint64_t parameter_count)
{
    struct json_object *info = json_object_new_object();
    for (size_t i = 0; i < osr_gguf_n_kv(g); i++) {
        const char *key = osr_gguf_kv_key(g, i);
        /* The template has its own field in /show. */
        if (strcmp(key, "tokenizer.chat_template") == 0)
            continue;
        struct json_object *v;
        if (osr_gguf_kv_type(g, i) == OSR_GGUF_TYPE_ARRAY) {
            struct osr_gguf_array a;
            v = osr_gguf_kv_arr(g, i, &a) == OSR_OK ? array_value(&a) : NULL;
        } else {
            v = scalar_value(g, i);
        }
        json_object_object_add(info, key, v);
    }
    if (parameter_count && !json_object_object_get_ex(info, "general.parameter_count", NULL))
        json_object_object_add(info, "general.parameter_count",
                               json_object_new_uint64(parameter_count));
    return info;
}

struct json_object *osr_api_models_model_info(const char *path, uint64_t parameter_count,
                                              struct osr_diag *diag)
{
    struct osr_gguf *g = NULL;
    if (osr_gguf_open(path, &g, diag) != OSR_OK)
        return NULL;
    struct json_object *info = osr_api_models_model_info_gguf(g, parameter_count);
    osr_gguf_close(g);
    return info;
}

/* Appends one PARAMETER value as Ollama writes it: strings quoted, the rest as JSON. */
static void param_value(struct osr_buf *b, const char *key, struct json_object *v)
{
    if (json_object_is_type(v, json_type_string)) {
        osr_buf_appendf(b, "%s ", key);
        osr_json_append_string(b, json_object_get_string(v), (size_t)json_object_get_string_len(v));
        osr_buf_putc(b, '\n');
    } else {
        osr_buf_appendf(b, "%s %s\n", key,
                        json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
    }
}

char *osr_api_models_params_text(const char *params_json)
{
    struct osr_buf b;
    osr_buf_init(&b, MODELFILE_MAX);
    struct json_object *doc = NULL;
    if (params_json && osr_json_parse(params_json, strlen(params_json), &doc, NULL) == OSR_OK &&
        doc && json_object_is_type(doc, json_type_object)) {
        json_object_object_foreach(doc, key, val)
        {
            if (json_object_is_type(val, json_type_array)) {
                for (size_t i = 0; i < json_object_array_length(val); i++)
                    param_value(&b, key, json_object_array_get_idx(val, i));
            } else if (val) {
                param_value(&b, key, val);
            }
        }
    }
    json_object_put(doc);
    /* Ollama's text has no final newline. */
    if (b.len && b.data[b.len - 1] == '\n')
        b.data[--b.len] = '\0';
    char *s = osr_buf_detach(&b, NULL);
    return s ? s : osr_xstrdup("");
}

/* The chat template: Ollama's template layer, else the GGUF's tokenizer.chat_template. */
static char *template_of(const struct osr_model_entry *m)
{
    if (m->ollama_template)
        return osr_xstrdup(m->ollama_template);
    struct osr_gguf *g = NULL;
    struct osr_str s = {0};
    char *out = NULL;
    if (osr_gguf_open(m->paths[0], &g, NULL) == OSR_OK &&
        osr_gguf_get_str(g, "tokenizer.chat_template", &s) == OSR_OK)
        out = osr_xstrndup(s.p, s.n);
    osr_gguf_close(g);
    return out ? out : osr_xstrdup("");
}

static char *modelfile_of(const struct osr_model_entry *m, const char *tmpl, const char *params)
{
    struct osr_buf b;
    osr_buf_init(&b, MODELFILE_MAX);
    osr_buf_appendf(&b, "# Modelfile of %s, written by Osaurus from the model's files\n\n", m->id);
    for (size_t i = 0; i < m->n_paths; i++)
        osr_buf_appendf(&b, "FROM %s\n", m->paths[i]);
    if (tmpl[0])
        osr_buf_appendf(&b, "TEMPLATE \"\"\"%s\"\"\"\n", tmpl);
    if (m->ollama_system)
        osr_buf_appendf(&b, "SYSTEM \"\"\"%s\"\"\"\n", m->ollama_system);
    struct osr_str rest = osr_str_cstr(params);
    while (rest.n) {
        struct osr_str line;
        rest = osr_str_split(rest, '\n', &line);
        if (line.n)
            osr_buf_appendf(&b, "PARAMETER %.*s\n", (int)line.n, line.p);
        if (!rest.p)
            break;
    }
    char *s = osr_buf_detach(&b, NULL);
    return s ? s : osr_xstrdup("");
}

static void handle_show(struct osr_http_request *req, void *ctx)
{
    struct osr_api_models *api = ctx;
    struct json_object *doc = parse_body(req);
    if (!doc)
        return;
    const char *name = requested_model(req, doc, "model", "name");
    if (!name) {
        json_object_put(doc);
        return;
    }
    struct osr_registry_snapshot *s = osr_registry_acquire(api->reg, OSR_API_MODELS_RESCAN_MS);
    const struct osr_model_entry *m = osr_registry_find(s, name);
    if (!m) {
        struct json_object *remote =
            api->remote_show ? api->remote_show(name, api->remote_show_ctx) : NULL;
        if (remote) {
            osr_http_respond_json(req, 200, remote);
            json_object_put(remote);
        } else {
            respond_ollama_error(req, 404, "model '%s' not found", name);
        }
        goto out;
    }
    struct osr_diag diag;
    osr_diag_clear(&diag);
    struct json_object *info = osr_api_models_model_info(m->paths[0], m->parameter_count, &diag);
    if (!info) {
        respond_ollama_error(req, 500, "cannot read model '%s': %s", m->id, diag.msg);
        goto out;
    }
    char *tmpl = template_of(m);
    char *params = osr_api_models_params_text(m->ollama_params);
    char *modelfile = modelfile_of(m, tmpl, params);
    char ts[OSR_ISO8601_MAX];
    iso_time(ts, m->modified_ms);
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "modelfile", json_object_new_string(modelfile));
    json_object_object_add(o, "parameters", json_object_new_string(params));
    json_object_object_add(o, "template", osr_json_new_string(tmpl, strlen(tmpl)));
    if (m->ollama_system)
        json_object_object_add(o, "system", json_object_new_string(m->ollama_system));
    json_object_object_add(o, "details", details_of(m));
    json_object_object_add(o, "model_info", info);
    struct json_object *caps = json_object_new_array();
    /* Encoder-only (BERT-style) models embed; everything else completes text. */
    bool encoder = strstr(m->family, "bert") != NULL;
    json_object_array_add(caps, json_object_new_string(encoder ? "embedding" : "completion"));
    if (m->template_tools && !encoder)
        json_object_array_add(caps, json_object_new_string("tools"));
    json_object_object_add(o, "capabilities", caps);
    json_object_object_add(o, "modified_at", json_object_new_string(ts));
    osr_http_respond_json(req, 200, o);
    json_object_put(o);
    free(modelfile);
    free(params);
    free(tmpl);
out:
    osr_registry_snapshot_release(s);
    json_object_put(doc);
}

/* ---- GET /ps ------------------------------------------------------------------------------ */

static void handle_ps(struct osr_http_request *req, void *ctx)
{
    struct osr_api_models *api = ctx;
    struct json_object *o = json_object_new_object();
    struct json_object *models = json_object_new_array();
    if (api->loaded)
        api->loaded(models, api->loaded_ctx);
    json_object_object_add(o, "models", models);
    osr_http_respond_json(req, 200, o);
    json_object_put(o);
}

/* ---- DELETE /delete, POST /copy, POST /pull ----------------------------------------------- */

static int store_status(int rc)
{
    switch (rc) {
    case OSR_EPERM:
        return 403;
    case OSR_EEXIST:
    case OSR_EINVAL:
        return 400;
    case OSR_ENOTFOUND:
        return 404;
    default:
        return 500;
    }
}

static void handle_delete(struct osr_http_request *req, void *ctx)
{
    struct osr_api_models *api = ctx;
    struct json_object *doc = parse_body(req);
    if (!doc)
        return;
    const char *name = requested_model(req, doc, "model", "name");
    if (!name) {
        json_object_put(doc);
        return;
    }
    struct osr_registry_snapshot *s = osr_registry_acquire(api->reg, 0);
    const struct osr_model_entry *m = osr_registry_find(s, name);
    struct osr_diag diag;
    osr_diag_clear(&diag);
    if (!m) {
        respond_ollama_error(req, 404, "model '%s' not found", name);
    } else {
        int rc = osr_model_store_remove(osr_registry_home(api->reg), m, &diag);
        if (rc) {
            respond_ollama_error(req, store_status(rc), "%s", diag.msg);
        } else {
            OSR_INFO("deleted model '%s'", m->id);
            osr_registry_refresh(api->reg);
            osr_http_respond(req, 200, "application/json", "", 0);
        }
    }
    osr_registry_snapshot_release(s);
    json_object_put(doc);
}

static void handle_copy(struct osr_http_request *req, void *ctx)
{
    struct osr_api_models *api = ctx;
    struct json_object *doc = parse_body(req);
    if (!doc)
        return;
    const char *src = requested_model(req, doc, "source", NULL);
    if (!src) {
        json_object_put(doc);
        return;
    }
    const char *dst = requested_model(req, doc, "destination", NULL);
    if (!dst) {
        json_object_put(doc);
        return;
    }
    struct osr_registry_snapshot *s = osr_registry_acquire(api->reg, 0);
    const struct osr_model_entry *m = osr_registry_find(s, src);
    struct osr_diag diag;
    osr_diag_clear(&diag);
    if (!m) {
        respond_ollama_error(req, 404, "model '%s' not found", src);
    } else if (osr_registry_find(s, dst)) {
        respond_ollama_error(req, 400, "a model named '%s' already exists", dst);
    } else {
        int rc = osr_model_store_copy(osr_registry_home(api->reg), m, dst, &diag);
        if (rc) {
            respond_ollama_error(req, store_status(rc), "%s", diag.msg);
        } else {
            OSR_INFO("copied model '%s' to '%s'", m->id, dst);
            osr_registry_refresh(api->reg);
            osr_http_respond(req, 200, "application/json", "", 0);
        }
    }
    osr_registry_snapshot_release(s);
    json_object_put(doc);
}

static void handle_pull(struct osr_http_request *req, void *ctx)
{
    (void)ctx;
    respond_ollama_error(
        req, 501,
        "pulling models needs the network, which this server does not use: download the GGUF "
        "file yourself and run 'osaurus models add FILE' (Ollama's and Hugging Face's local "
        "models are listed already)");
}

/* ---- registration ------------------------------------------------------------------------- */

void osr_api_models_register_with(struct osr_http_server *srv, struct osr_api_models *api)
{
    const struct osr_route routes[] = {
        {"GET", "/models", handle_models, OSR_AUTH_GATED, api, 0},
        {"GET", "/tags", handle_tags, OSR_AUTH_GATED, api, 0, OSR_ERRORS_OLLAMA},
        {"POST", "/show", handle_show, OSR_AUTH_GATED, api, 0, OSR_ERRORS_OLLAMA},
        {"GET", "/ps", handle_ps, OSR_AUTH_GATED, api, 0, OSR_ERRORS_OLLAMA},
        {"DELETE", "/delete", handle_delete, OSR_AUTH_GATED, api, 0, OSR_ERRORS_OLLAMA},
        {"POST", "/copy", handle_copy, OSR_AUTH_GATED, api, 0, OSR_ERRORS_OLLAMA},
        {"POST", "/pull", handle_pull, OSR_AUTH_GATED, api, 0, OSR_ERRORS_OLLAMA},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        osr_http_server_add_route(srv, &routes[i]);
}

void osr_api_models_register(struct osr_http_server *srv, const char *home)
{
    /* One registry for the serving process; it is never freed (the process exits with it). */
    static struct osr_api_models api;
    if (!api.reg) {
        struct osr_registry_options opts = {.home = home};
        api.reg = osr_registry_new(&opts);
        struct osr_registry_snapshot *s = osr_registry_acquire(api.reg, -1);
        OSR_INFO("model registry: %zu model(s) found", osr_registry_count(s));
        osr_registry_snapshot_release(s);
    }
    osr_api_models_register_with(srv, &api);
}
