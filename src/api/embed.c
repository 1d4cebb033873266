/* embed.c - embedding bodies in (OpenAI and Ollama shapes) and vectors out.
 *
 * Decoding accepts a string or a list of strings; token-id arrays (which OpenAI also allows)
 * are refused with a 400 because tokens are a property of one model's tokenizer.  Encoding
 * writes floats with 9 significant digits, enough to get every float32 back exactly, or, for
 * OpenAI's encoding_format "base64", the raw little-endian float32 bytes in base64, which is
 * what the official SDK asks for by default and decodes itself.  No I/O here.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api_internal.h"
#include "osr/alloc.h"
#include "osr/api_embed.h"
#include "osr/codec.h"
#include "osr/json.h"

#define EMBED_ARENA_MAX ((size_t)64 * 1024 * 1024)

void osr_embed_request_init(struct osr_embed_request *req)
{
    memset(req, 0, sizeof(*req));
    osr_arena_init(&req->arena, EMBED_ARENA_MAX);
    req->truncate = true;
}

void osr_embed_request_release(struct osr_embed_request *req)
{
    if (req)
        osr_arena_release(&req->arena);
}

enum osr_api_proto osr_embed_error_proto(enum osr_embed_api api)
{
    return api == OSR_EMBED_OPENAI ? OSR_API_OPENAI_CHAT : OSR_API_OLLAMA_CHAT;
}

static int copy_str(struct osr_embed_request *req, struct osr_api_error *err, struct json_object *v,
                    struct osr_str *out)
{
    size_t n = (size_t)json_object_get_string_len(v);
    char *p = osr_arena_strndup(&req->arena, json_object_get_string(v), n);
    if (!p)
        return osr_api_fail(err, 413, NULL, "request is too large");
    *out = osr_str_make(p, n);
    return OSR_OK;
}

static int field_str(struct osr_embed_request *req, struct osr_api_error *err,
                     struct json_object *root, const char *key, bool required, const char **out)
{
    struct json_object *v = osr_api_field(root, key);
    if (!v) {
        if (required)
            return osr_api_fail(err, 400, key, "missing required parameter: '%s'", key);
        return OSR_OK;
    }
    if (!json_object_is_type(v, json_type_string))
        return osr_api_fail(err, 400, key, "'%s' must be a string", key);
    struct osr_str s = {0};
    int rc = copy_str(req, err, v, &s);
    if (!rc)
        *out = s.p;
    return rc;
}

static int decode_inputs(struct osr_embed_request *req, struct osr_api_error *err,
                         struct json_object *v, const char *key)
{
    bool openai = req->api == OSR_EMBED_OPENAI;
    if (!v) {
        if (openai)
            return osr_api_fail(err, 400, key, "missing required parameter: '%s'", key);
        return OSR_OK; /* Ollama: no input just loads the model */
    }
    bool single = json_object_is_type(v, json_type_string);
    if (!single && !json_object_is_type(v, json_type_array))
        return osr_api_fail(err, 400, key, "'%s' must be a string or an array of strings", key);
    size_t n = single ? 1 : json_object_array_length(v);
    if (n == 0 && openai)
        return osr_api_fail(err, 400, key, "'%s' must not be empty", key);
    if (n > OSR_EMBED_MAX_INPUTS)
        return osr_api_fail(err, 400, key, "'%s' may hold at most %d inputs", key,
                            OSR_EMBED_MAX_INPUTS);
    req->inputs = osr_arena_calloc(&req->arena, n ? n : 1, sizeof(*req->inputs));
    if (!req->inputs)
        return osr_api_fail(err, 413, NULL, "request is too large");
    for (size_t i = 0; i < n; i++) {
        struct json_object *s = single ? v : json_object_array_get_idx(v, i);
        char path[API_PATH_MAX];
        if (single)
            snprintf(path, sizeof(path), "%s", key);
        else
            osr_api_path_index(path, key, i);
        if (s && (json_object_is_type(s, json_type_int) || json_object_is_type(s, json_type_array)))
            return osr_api_fail(err, 400, path, "'%s': token-id input is not supported; send text",
                                path);
        if (!s || !json_object_is_type(s, json_type_string))
            return osr_api_fail(err, 400, path, "'%s' must be a string", path);
        int rc = copy_str(req, err, s, &req->inputs[i]);
        if (rc)
            return rc;
        if (req->inputs[i].n == 0 && openai)
            return osr_api_fail(err, 400, path, "'%s' must not be empty", path);
    }
    req->n_inputs = n;
    return OSR_OK;
}

int osr_embed_decode(enum osr_embed_api api, struct osr_embed_request *req, const char *body,
                     size_t n, struct osr_api_error *err)
{
    struct osr_diag d = {0};
    struct json_object *root = NULL;
    req->api = api;
    int rc = osr_json_parse(body ? body : "", body ? n : 0, &root, &d);
    if (rc)
        return osr_api_fail(err, rc == OSR_ETOOBIG ? 413 : 400, NULL, "%s",
                            d.msg[0] ? d.msg : "invalid JSON");
    if (!json_object_is_type(root, json_type_object)) {
        rc = osr_api_fail(err, 400, NULL, "request body must be a JSON object");
        goto out;
    }
    rc = field_str(req, err, root, "model", true, &req->model);
    if (!rc && !req->model[0])
        rc = osr_api_fail(err, 400, "model", "'model' must not be empty");
    if (rc)
        goto out;
    switch (api) {
    case OSR_EMBED_OPENAI: {
        const char *fmt = NULL;
        bool has_dim = false;
        rc = decode_inputs(req, err, osr_api_field(root, "input"), "input");
        rc = rc ? rc : field_str(req, err, root, "encoding_format", false, &fmt);
        rc =
            rc ? rc
               : osr_api_get_int(err, root, "", "dimensions", 1, 65536, &req->dimensions, &has_dim);
        if (!rc && fmt) {
            if (strcmp(fmt, "base64") == 0)
                req->base64 = true;
            else if (strcmp(fmt, "float") != 0)
                rc = osr_api_fail(err, 400, "encoding_format",
                                  "'encoding_format' must be \"float\" or \"base64\" (got '%s')",
                                  fmt);
        }
        break;
    }
    case OSR_EMBED_OLLAMA:
        rc = decode_inputs(req, err, osr_api_field(root, "input"), "input");
        rc = rc ? rc : osr_api_get_bool(err, root, "", "truncate", &req->truncate, NULL);
        rc = rc ? rc : field_str(req, err, root, "keep_alive", false, &req->keep_alive);
        break;
    case OSR_EMBED_OLLAMA_LEGACY: {
        struct json_object *p = osr_api_field(root, "prompt");
        if (p && !json_object_is_type(p, json_type_string)) {
            rc = osr_api_fail(err, 400, "prompt", "'prompt' must be a string");
            break;
        }
        rc = decode_inputs(req, err, p, "prompt");
        rc = rc ? rc : field_str(req, err, root, "keep_alive", false, &req->keep_alive);
        break;
    }
    }
out:
    json_object_put(root);
    return rc;
}

static int put_vector(struct osr_buf *out, const float *v, size_t dim)
{
    int rc = osr_buf_putc(out, '[');
    for (size_t k = 0; k < dim && !rc; k++) {
        if (!isfinite(v[k]))
            return OSR_EINVAL;
        rc = osr_buf_appendf(out, k ? ",%.9g" : "%.9g", (double)v[k]);
    }
    return rc ? rc : osr_buf_putc(out, ']');
}

static int put_base64(struct osr_buf *out, const float *v, size_t dim)
{
    unsigned char le[4 * 64];
    int rc = osr_buf_putc(out, '"');
    /* base64 of the whole vector, fed in multiples of 3 bytes so chunks join seamlessly. */
    struct osr_buf raw;
    size_t bytes;
    if (!osr_size_mul(dim, 4, &bytes))
        return OSR_ETOOBIG;
    osr_buf_init(&raw, bytes);
    for (size_t k = 0; k < dim && !rc; k += 64) {
        size_t m = dim - k < 64 ? dim - k : 64;
        for (size_t j = 0; j < m; j++) {
            if (!isfinite(v[k + j])) {
                rc = OSR_EINVAL;
                break;
            }
            uint32_t u;
            memcpy(&u, &v[k + j], 4);
            le[4 * j] = (unsigned char)(u & 0xff);
            le[4 * j + 1] = (unsigned char)((u >> 8) & 0xff);
            le[4 * j + 2] = (unsigned char)((u >> 16) & 0xff);
            le[4 * j + 3] = (unsigned char)(u >> 24);
        }
        rc = rc ? rc : osr_buf_append(&raw, le, 4 * m);
    }
    rc = rc ? rc : osr_base64_encode(out, raw.data ? raw.data : "", raw.len, OSR_B64_STD);
    osr_buf_release(&raw);
    return rc ? rc : osr_buf_putc(out, '"');
}

int osr_embed_encode(const struct osr_embed_request *req, const float *vectors, size_t n_vectors,
                     size_t dim, int64_t prompt_tokens, const struct osr_usage *timings,
                     struct osr_buf *out)
{
    if (n_vectors != req->n_inputs)
        return OSR_EINVAL;
    int rc = OSR_OK;
    switch (req->api) {
    case OSR_EMBED_OPENAI:
        rc = osr_buf_puts(out, "{\"object\":\"list\",\"data\":[");
        for (size_t i = 0; i < n_vectors && !rc; i++) {
            rc = osr_buf_appendf(
                out, "%s{\"object\":\"embedding\",\"index\":%zu,\"embedding\":", i ? "," : "", i);
            rc = rc ? rc
                    : (req->base64 ? put_base64(out, vectors + i * dim, dim)
                                   : put_vector(out, vectors + i * dim, dim));
            rc = rc ? rc : osr_buf_putc(out, '}');
        }
        rc = rc ? rc : osr_buf_puts(out, "],\"model\":");
        rc = rc ? rc : osr_api_put_cstr(out, req->model);
        return rc ? rc
                  : osr_buf_appendf(out,
                                    ",\"usage\":{\"prompt_tokens\":%lld,\"total_tokens\":%lld}}",
                                    (long long)prompt_tokens, (long long)prompt_tokens);
    case OSR_EMBED_OLLAMA:
        rc = osr_buf_puts(out, "{\"model\":");
        rc = rc ? rc : osr_api_put_cstr(out, req->model);
        rc = rc ? rc : osr_buf_puts(out, ",\"embeddings\":[");
        for (size_t i = 0; i < n_vectors && !rc; i++) {
            rc = i ? osr_buf_putc(out, ',') : OSR_OK;
            rc = rc ? rc : put_vector(out, vectors + i * dim, dim);
        }
        return rc ? rc
                  : osr_buf_appendf(out,
                                    "],\"total_duration\":%lld,\"load_duration\":%lld,"
                                    "\"prompt_eval_count\":%lld}",
                                    (long long)(timings ? timings->total_ns : 0),
                                    (long long)(timings ? timings->load_ns : 0),
                                    (long long)prompt_tokens);
    case OSR_EMBED_OLLAMA_LEGACY:
        rc = osr_buf_puts(out, "{\"embedding\":");
        rc = rc ? rc : (n_vectors ? put_vector(out, vectors, dim) : osr_buf_puts(out, "[]"));
        return rc ? rc : osr_buf_putc(out, '}');
    }
    return OSR_EINVAL;
}
