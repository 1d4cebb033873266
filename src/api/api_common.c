/* api_common.c - what the protocol translators share: field getters with path-naming errors,
 * stop lists, images (data URLs and base64), error bodies in each protocol's shape, and the
 * encoder core that accumulates events and dispatches to a protocol's table.
 *
 * It does no I/O.  The sink adapter at the end hands frames to a caller-supplied flush
 * function; the HTTP server provides that function.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "osr/api_anthropic.h"
#include "osr/api_ollama.h"
#include "osr/api_openai_chat.h"
#include "osr/api_openai_completions.h"
#include "osr/api_responses.h"
#include "osr/alloc.h"
#include "osr/clock.h"
#include "osr/codec.h"
#include "osr/json.h"
#include "osr/uuid.h"

#define API_DEFAULT_MAX_TEXT ((size_t)64 * 1024 * 1024)
#define API_MAX_ARGS ((size_t)8 * 1024 * 1024)

/* ---------------------------------------------------------------- errors */

void osr_api_error_set(struct osr_api_error *err, int status, const char *param, const char *fmt,
                       ...)
{
    if (!err)
        return;
    err->status = status;
    err->code[0] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->diag.msg, sizeof(err->diag.msg), fmt, ap);
    va_end(ap);
    osr_diag_set_param(&err->diag, param ? param : "");
}

int osr_api_fail(struct osr_api_error *err, int status, const char *param, const char *fmt, ...)
{
    if (err) {
        err->status = status;
        err->code[0] = '\0';
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->diag.msg, sizeof(err->diag.msg), fmt, ap);
        va_end(ap);
        osr_diag_set_param(&err->diag, param ? param : "");
    }
    return status == 413 ? OSR_ETOOBIG : OSR_EINVAL;
}

const char *osr_api_error_type(enum osr_api_proto proto, int status)
{
    if (proto == OSR_API_ANTHROPIC) {
        switch (status) {
        case 401:
            return "authentication_error";
        case 403:
            return "permission_error";
        case 404:
            return "not_found_error";
        case 413:
            return "request_too_large";
        case 429:
            return "rate_limit_error";
        case 503:
        case 529:
            return "overloaded_error";
        default:
            return status >= 500 ? "api_error" : "invalid_request_error";
        }
    }
    /* OpenAI answers an unknown model with invalid_request_error + code model_not_found. */
    switch (status) {
    case 401:
        return "authentication_error";
    case 403:
        return "permission_error";
    case 429:
        return "rate_limit_error";
    case 503:
        return "service_unavailable";
    default:
        return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

int osr_api_put_str(struct osr_buf *out, const char *s, size_t n)
{
    return osr_json_append_string(out, s ? s : "", s ? n : 0);
}

int osr_api_error_body(enum osr_api_proto proto, const struct osr_api_error *err,
                       struct osr_buf *out)
{
    const char *msg = err->diag.msg[0] ? err->diag.msg : "request failed";
    const char *type = osr_api_error_type(proto, err->status);
    int rc;
    switch (proto) {
    case OSR_API_ANTHROPIC:
        rc = osr_buf_puts(out, "{\"type\":\"error\",\"error\":{\"type\":");
        rc = rc ? rc : osr_api_put_cstr(out, type);
        rc = rc ? rc : osr_buf_puts(out, ",\"message\":");
        rc = rc ? rc : osr_api_put_cstr(out, msg);
        return rc ? rc : osr_buf_puts(out, "}}");
    case OSR_API_OLLAMA_CHAT:
    case OSR_API_OLLAMA_GENERATE:
        rc = osr_buf_puts(out, "{\"error\":");
        rc = rc ? rc : osr_api_put_cstr(out, msg);
        return rc ? rc : osr_buf_putc(out, '}');
    case OSR_API_OPENAI_CHAT:
    case OSR_API_RESPONSES:
    case OSR_API_OPENAI_COMPLETIONS:
        break;
    }
    rc = osr_buf_puts(out, "{\"error\":{\"message\":");
    rc = rc ? rc : osr_api_put_cstr(out, msg);
    rc = rc ? rc : osr_buf_puts(out, ",\"type\":");
    rc = rc ? rc : osr_api_put_cstr(out, type);
    rc = rc ? rc : osr_buf_puts(out, ",\"param\":");
    if (err->diag.param[0])
        rc = rc ? rc : osr_api_put_cstr(out, err->diag.param);
    else
        rc = rc ? rc : osr_buf_puts(out, "null");
    rc = rc ? rc : osr_buf_puts(out, ",\"code\":");
    if (err->code[0])
        rc = rc ? rc : osr_api_put_cstr(out, err->code);
    else
        rc = rc ? rc : osr_buf_puts(out, "null");
    return rc ? rc : osr_buf_puts(out, "}}");
}

int osr_api_decode(enum osr_api_proto proto, struct osr_chat_request *req, const char *body,
                   size_t n, struct osr_api_error *err)
{
    switch (proto) {
    case OSR_API_OPENAI_CHAT:
        return osr_openai_chat_decode(req, body, n, err);
    case OSR_API_ANTHROPIC:
        return osr_anthropic_decode(req, body, n, err);
    case OSR_API_RESPONSES:
        return osr_responses_decode(req, body, n, err);
    case OSR_API_OLLAMA_CHAT:
        return osr_ollama_chat_decode(req, body, n, err);
    case OSR_API_OLLAMA_GENERATE:
        return osr_ollama_generate_decode(req, body, n, err);
    case OSR_API_OPENAI_COMPLETIONS:
        return osr_openai_completions_decode(req, body, n, err);
    }
    return osr_api_fail(err, 500, NULL, "unknown protocol");
}

/* ---------------------------------------------------------------- decoding helpers */

void osr_api_path(char out[API_PATH_MAX], const char *where, const char *key)
{
    if (where && where[0])
        snprintf(out, API_PATH_MAX, "%s.%s", where, key);
    else
        snprintf(out, API_PATH_MAX, "%s", key);
}

void osr_api_path_index(char out[API_PATH_MAX], const char *where, size_t i)
{
    snprintf(out, API_PATH_MAX, "%s[%zu]", where, i);
}

int osr_api_parse_body(struct osr_chat_request *req, const char *body, size_t n,
                       struct json_object **root, struct osr_api_error *err)
{
    struct osr_diag d = {0};
    struct json_object *obj = NULL;
    *root = NULL;
    int rc = osr_json_parse(body ? body : "", body ? n : 0, &obj, &d);
    if (rc == OSR_ETOOBIG)
        return osr_api_fail(err, 413, NULL, "request body is too large");
    if (rc)
        return osr_api_fail(err, 400, NULL, "%s", d.msg[0] ? d.msg : "invalid JSON");
    if (!json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        return osr_api_fail(err, 400, NULL, "request body must be a JSON object");
    }
    osr_chat_request_hold(req, obj);
    *root = obj;
    return OSR_OK;
}

struct json_object *osr_api_field(struct json_object *obj, const char *key)
{
    struct json_object *v = NULL;
    if (!obj || !json_object_is_type(obj, json_type_object))
        return NULL;
    if (!json_object_object_get_ex(obj, key, &v))
        return NULL;
    return v; /* NULL for JSON null as well */
}

static const char *type_words(enum json_type t)
{
    switch (t) {
    case json_type_object:
        return "an object";
    case json_type_array:
        return "an array";
    case json_type_string:
        return "a string";
    case json_type_boolean:
        return "a boolean";
    case json_type_int:
    case json_type_double:
        return "a number";
    case json_type_null:
        return "null";
    }
    return "a value";
}

int osr_api_copy(struct osr_chat_request *req, struct osr_api_error *err, const char *s, size_t n,
                 const char **out)
{
    char *p = osr_chat_request_strndup(req, s, n);
    if (!p)
        return osr_api_fail(err, 413, NULL, "request is too large");
    *out = p;
    return OSR_OK;
}

int osr_api_string_value(struct osr_chat_request *req, struct osr_api_error *err,
                         struct json_object *v, const char *path, struct osr_str *out)
{
    if (!v || !json_object_is_type(v, json_type_string))
        return osr_api_fail(err, 400, path, "'%s' must be a string", path);
    const char *p = NULL;
    size_t n = (size_t)json_object_get_string_len(v);
    int rc = osr_api_copy(req, err, json_object_get_string(v), n, &p);
    if (rc)
        return rc;
    *out = osr_str_make(p, n);
    return OSR_OK;
}

int osr_api_get_str(struct osr_chat_request *req, struct osr_api_error *err,
                    struct json_object *obj, const char *where, const char *key, bool required,
                    const char **out, size_t *len)
{
    char path[API_PATH_MAX];
    osr_api_path(path, where, key);
    struct json_object *v = osr_api_field(obj, key);
    if (!v) {
        if (required)
            return osr_api_fail(err, 400, path, "missing required parameter: '%s'", path);
        return OSR_OK;
    }
    struct osr_str s;
    int rc = osr_api_string_value(req, err, v, path, &s);
    if (rc)
        return rc;
    *out = s.p;
    if (len)
        *len = s.n;
    return OSR_OK;
}

int osr_api_get_double(struct osr_api_error *err, struct json_object *obj, const char *where,
                       const char *key, double min, double max, double *out)
{
    char path[API_PATH_MAX];
    osr_api_path(path, where, key);
    struct json_object *v = osr_api_field(obj, key);
    if (!v)
        return OSR_OK;
    if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
        return osr_api_fail(err, 400, path, "'%s' must be a number, not %s", path,
                            type_words(json_object_get_type(v)));
    double d = json_object_get_double(v);
    if (!isfinite(d) || d < min || d > max)
        return osr_api_fail(err, 400, path, "'%s' must be between %g and %g", path, min, max);
    *out = d;
    return OSR_OK;
}

int osr_api_get_int(struct osr_api_error *err, struct json_object *obj, const char *where,
                    const char *key, int64_t min, int64_t max, int64_t *out, bool *present)
{
    char path[API_PATH_MAX];
    osr_api_path(path, where, key);
    struct json_object *v = osr_api_field(obj, key);
    if (present)
        *present = false;
    if (!v)
        return OSR_OK;
    int64_t x;
    if (json_object_is_type(v, json_type_int)) {
        x = json_object_get_int64(v);
        /* json-c saturates out-of-range integers; errno tells, but a range check suffices. */
    } else if (json_object_is_type(v, json_type_double)) {
        double d = json_object_get_double(v);
        if (!isfinite(d) || d != floor(d) || d < -9.2e18 || d > 9.2e18)
            return osr_api_fail(err, 400, path, "'%s' must be an integer", path);
        x = (int64_t)d;
    } else {
        return osr_api_fail(err, 400, path, "'%s' must be an integer, not %s", path,
                            type_words(json_object_get_type(v)));
    }
    if (x < min || x > max)
        return osr_api_fail(err, 400, path, "'%s' must be between %lld and %lld", path,
                            (long long)min, (long long)max);
    *out = x;
    if (present)
        *present = true;
    return OSR_OK;
}

int osr_api_get_bool(struct osr_api_error *err, struct json_object *obj, const char *where,
                     const char *key, bool *out, bool *present)
{
    char path[API_PATH_MAX];
    osr_api_path(path, where, key);
    struct json_object *v = osr_api_field(obj, key);
    if (present)
        *present = false;
    if (!v)
        return OSR_OK;
    if (!json_object_is_type(v, json_type_boolean))
        return osr_api_fail(err, 400, path, "'%s' must be a boolean, not %s", path,
                            type_words(json_object_get_type(v)));
    *out = json_object_get_boolean(v);
    if (present)
        *present = true;
    return OSR_OK;
}

int osr_api_get_typed(struct osr_api_error *err, struct json_object *obj, const char *where,
                      const char *key, enum json_type type, bool required, struct json_object **out)
{
    char path[API_PATH_MAX];
    osr_api_path(path, where, key);
    struct json_object *v = osr_api_field(obj, key);
    *out = NULL;
    if (!v) {
        if (required)
            return osr_api_fail(err, 400, path, "missing required parameter: '%s'", path);
        return OSR_OK;
    }
    if (!json_object_is_type(v, type))
        return osr_api_fail(err, 400, path, "'%s' must be %s, not %s", path, type_words(type),
                            type_words(json_object_get_type(v)));
    *out = v;
    return OSR_OK;
}

int osr_api_json_text(struct osr_chat_request *req, struct osr_api_error *err,
                      struct json_object *v, struct osr_str *out)
{
    size_t n = 0;
    const char *s = json_object_to_json_string_length(
        v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    if (!s)
        return osr_api_fail(err, 500, NULL, "out of memory");
    const char *p = NULL;
    int rc = osr_api_copy(req, err, s, n, &p);
    if (rc)
        return rc;
    *out = osr_str_make(p, n);
    return OSR_OK;
}

struct json_object *osr_api_hold(struct osr_chat_request *req, struct json_object *v)
{
    if (!v)
        return NULL;
    return osr_chat_request_hold(req, json_object_get(v));
}

int osr_api_stop(struct osr_chat_request *req, struct osr_api_error *err, struct json_object *v,
                 const char *path)
{
    if (!v)
        return OSR_OK;
    size_t n;
    bool single = json_object_is_type(v, json_type_string);
    if (single)
        n = 1;
    else if (json_object_is_type(v, json_type_array))
        n = json_object_array_length(v);
    else
        return osr_api_fail(err, 400, path, "'%s' must be a string or an array of strings", path);
    if (n > OSR_CHAT_MAX_STOP)
        return osr_api_fail(err, 400, path, "'%s' may hold at most %d sequences", path,
                            OSR_CHAT_MAX_STOP);
    const char **list = osr_arena_calloc(&req->arena, n ? n : 1, sizeof(*list));
    if (!list)
        return osr_api_fail(err, 413, NULL, "request is too large");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        struct json_object *s = single ? v : json_object_array_get_idx(v, i);
        char ipath[API_PATH_MAX];
        if (single)
            snprintf(ipath, sizeof(ipath), "%s", path);
        else
            osr_api_path_index(ipath, path, i);
        struct osr_str str;
        int rc = osr_api_string_value(req, err, s, ipath, &str);
        if (rc)
            return rc;
        if (str.n == 0)
            continue;
        if (memchr(str.p, '\0', str.n))
            return osr_api_fail(err, 400, ipath, "'%s' must not contain NUL", ipath);
        list[k++] = str.p;
    }
    req->sampling.stop = list;
    req->sampling.n_stop = k;
    return OSR_OK;
}

static const char *sniff_mime(const unsigned char *p, size_t n)
{
    if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "image/png";
    if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
        return "image/jpeg";
    if (n >= 6 && (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0))
        return "image/gif";
    if (n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
        return "image/webp";
    return NULL;
}

int osr_api_image_base64(struct osr_chat_request *req, struct osr_api_error *err, const char *b64,
                         size_t n, const char *mime, const char *path, struct osr_image *img)
{
    struct osr_buf raw;
    size_t room = req->arena.max > req->arena.total ? req->arena.max - req->arena.total : 0;
    osr_buf_init(&raw, room);
    int rc = osr_base64_decode(&raw, b64, n, OSR_B64_STD);
    if (rc == OSR_EINVAL) {
        /* Some clients send base64url; accept it rather than fail the whole request. */
        osr_buf_reset(&raw);
        rc = osr_base64_decode(&raw, b64, n, OSR_B64_URL);
    }
    if (rc == OSR_ETOOBIG) {
        rc = osr_api_fail(err, 413, path, "image at '%s' is too large", path);
        goto out;
    }
    if (rc) {
        rc = osr_api_fail(err, 400, path, "'%s' is not valid base64 image data", path);
        goto out;
    }
    if (raw.len == 0) {
        rc = osr_api_fail(err, 400, path, "'%s' holds an empty image", path);
        goto out;
    }
    unsigned char *copy = osr_arena_alloc(&req->arena, raw.len);
    if (!copy) {
        rc = osr_api_fail(err, 413, path, "image at '%s' is too large", path);
        goto out;
    }
    memcpy(copy, raw.data, raw.len);
    img->data = copy;
    img->len = raw.len;
    img->url = NULL;
    if (!mime)
        mime = sniff_mime(copy, raw.len);
    if (mime) {
        rc = osr_api_copy(req, err, mime, strlen(mime), &img->mime);
        if (rc)
            goto out;
    }
    rc = OSR_OK;
out:
    osr_buf_release(&raw);
    return rc;
}

int osr_api_image_url(struct osr_chat_request *req, struct osr_api_error *err, const char *url,
                      size_t n, const char *path, struct osr_image *img)
{
    struct osr_str u = osr_str_make(url, n);
    if (osr_str_has_prefix(u, OSR_STR_LIT("data:"))) {
        const char *comma = memchr(url, ',', n);
        if (!comma)
            return osr_api_fail(err, 400, path, "'%s' is a data URL without a comma", path);
        struct osr_str meta = osr_str_make(url + 5, (size_t)(comma - url - 5));
        if (!osr_str_has_suffix(meta, OSR_STR_LIT(";base64")))
            return osr_api_fail(err, 400, path, "'%s' must be a base64 data URL", path);
        struct osr_str mime = osr_str_make(meta.p, meta.n - 7);
        char mbuf[128] = "";
        if (mime.n) {
            /* Parameters such as ";charset=..." may sit between the type and ";base64". */
            struct osr_str head;
            osr_str_split(mime, ';', &head);
            mime = head;
            if (mime.n >= sizeof(mbuf))
                return osr_api_fail(err, 400, path, "'%s' has an over-long media type", path);
            if (!osr_str_has_prefix(mime, OSR_STR_LIT("image/")))
                return osr_api_fail(err, 400, path, "'%s' must be an image, not '%.*s'", path,
                                    (int)mime.n, mime.p);
            memcpy(mbuf, mime.p, mime.n);
            mbuf[mime.n] = '\0';
        }
        const char *data = comma + 1;
        return osr_api_image_base64(req, err, data, (size_t)(url + n - data), mbuf[0] ? mbuf : NULL,
                                    path, img);
    }
    if (osr_str_has_prefix(u, OSR_STR_LIT("http://")) ||
        osr_str_has_prefix(u, OSR_STR_LIT("https://"))) {
        int rc = osr_api_copy(req, err, url, n, &img->url);
        if (rc)
            return rc;
        img->data = NULL;
        img->len = 0;
        return OSR_OK;
    }
    return osr_api_fail(err, 400, path, "'%s' must be an http(s) or data URL", path);
}

bool osr_api_valid_tool_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.' || c == ':';
        if (!ok)
            return false;
    }
    return true;
}

int osr_api_check_function_type(struct osr_chat_request *req, struct osr_api_error *err,
                                struct json_object *t, const char *path)
{
    char tpath[API_PATH_MAX];
    const char *type = NULL;
    int rc = osr_api_get_str(req, err, t, path, "type", true, &type, NULL);
    if (rc)
        return rc;
    osr_api_path(tpath, path, "type");
    if (strcmp(type, "function") != 0)
        return osr_api_fail(err, 400, tpath, "tool type '%s' is not supported; use \"function\"",
                            type);
    return OSR_OK;
}

int osr_api_decode_function(struct osr_chat_request *req, struct osr_api_error *err,
                            struct json_object *fn, const char *path)
{
    struct osr_tool *tool = osr_chat_request_add_tool(req);
    if (!tool)
        return osr_api_fail(err, 413, NULL, "request is too large");
    struct json_object *params = NULL;
    int rc = osr_api_get_str(req, err, fn, path, "name", true, &tool->name, NULL);
    rc = rc ? rc
            : osr_api_get_str(req, err, fn, path, "description", false, &tool->description, NULL);
    rc = rc ? rc : osr_api_get_typed(err, fn, path, "parameters", json_type_object, false, &params);
    rc = rc ? rc : osr_api_get_bool(err, fn, path, "strict", &tool->strict, NULL);
    if (rc)
        return rc;
    if (!osr_api_valid_tool_name(tool->name)) {
        char npath[API_PATH_MAX];
        osr_api_path(npath, path, "name");
        return osr_api_fail(err, 400, npath,
                            "'%s' must be 1-64 letters, digits, '_' or '-' (got '%s')", npath,
                            tool->name);
    }
    tool->parameters = osr_api_hold(req, params);
    return OSR_OK;
}

int osr_api_named_choice(struct osr_chat_request *req, struct osr_api_error *err, const char *name,
                         const char *path)
{
    if (!osr_chat_request_find_tool(req, name))
        return osr_api_fail(err, 400, path, "'%s' names tool '%s', which is not in 'tools'", path,
                            name);
    req->tool_choice = OSR_TOOL_CHOICE_NAMED;
    req->tool_choice_name = name;
    return OSR_OK;
}

int64_t osr_api_estimate_tokens(const struct osr_chat_request *req)
{
    size_t bytes = 0;
    if (!req)
        return 1;
    for (size_t i = 0; i < req->n_messages; i++) {
        const struct osr_message *m = &req->messages[i];
        bytes += 4; /* role and separators */
        for (size_t j = 0; j < m->n_parts; j++) {
            const struct osr_part *p = &m->parts[j];
            bytes += p->text.n;
            if (p->kind == OSR_PART_TOOL_CALL)
                bytes += p->call.arguments.n + (p->call.name ? strlen(p->call.name) : 0);
        }
    }
    /* The model reads the tool declarations too, schemas included. */
    for (size_t i = 0; i < req->n_tools; i++) {
        bytes += strlen(req->tools[i].name);
        if (req->tools[i].description)
            bytes += strlen(req->tools[i].description);
        if (req->tools[i].parameters)
            bytes += strlen(
                json_object_to_json_string_ext(req->tools[i].parameters, JSON_C_TO_STRING_PLAIN));
    }
    int64_t t = (int64_t)(bytes / 4);
    return t > 0 ? t : 1;
}

/* ---------------------------------------------------------------- encoder core */

void osr_api_new_id(struct osr_api_encoder *enc, const char *prefix, size_t nhex, bool upper,
                    char *out, size_t cap)
{
    if (enc->make_id)
        enc->make_id(enc->id_ctx, prefix, out, cap);
    else
        osr_random_id(out, cap, prefix, nhex, upper);
}

struct api_tool_acc *osr_api_tool_find(struct osr_api_encoder *enc, int index)
{
    for (size_t i = 0; i < enc->n_tools; i++)
        if (enc->tools[i].index == index)
            return &enc->tools[i];
    return NULL;
}

int64_t osr_api_prompt_tokens(const struct osr_api_encoder *enc)
{
    if (enc->have_usage && enc->usage.prompt_tokens >= 0)
        return enc->usage.prompt_tokens;
    return osr_api_estimate_tokens(enc->req);
}

int64_t osr_api_completion_tokens(const struct osr_api_encoder *enc)
{
    if (enc->have_usage && enc->usage.completion_tokens >= 0)
        return enc->usage.completion_tokens;
    size_t bytes = enc->text.len + enc->reasoning.len;
    for (size_t i = 0; i < enc->n_tools; i++)
        bytes += enc->tools[i].args.len;
    return (int64_t)((bytes + 3) / 4);
}

int osr_api_put_args_object(struct osr_buf *out, const struct osr_buf *args)
{
    struct json_object *obj = NULL;
    if (args->len && osr_json_parse(args->data, args->len, &obj, NULL) == OSR_OK &&
        json_object_is_type(obj, json_type_object)) {
        int rc = osr_json_append(out, obj);
        json_object_put(obj);
        return rc;
    }
    json_object_put(obj);
    return osr_buf_puts(out, "{}");
}

int osr_api_sse_event(struct osr_buf *out, const char *name)
{
    int rc = osr_buf_puts(out, "event: ");
    rc = rc ? rc : osr_buf_puts(out, name);
    return rc ? rc : osr_buf_puts(out, "\ndata: ");
}

struct osr_api_encoder *osr_api_encoder_new(enum osr_api_proto proto,
                                            const struct osr_api_encode_opts *opts)
{
    struct osr_api_encoder *enc = osr_xcalloc(1, sizeof(*enc));
    enc->proto = proto;
    switch (proto) {
    case OSR_API_OPENAI_CHAT:
        enc->ops = &osr_api_openai_chat_ops;
        break;
    case OSR_API_ANTHROPIC:
        enc->ops = &osr_api_anthropic_ops;
        break;
    case OSR_API_RESPONSES:
        enc->ops = &osr_api_responses_ops;
        break;
    case OSR_API_OLLAMA_CHAT:
        enc->ops = &osr_api_ollama_chat_ops;
        break;
    case OSR_API_OLLAMA_GENERATE:
        enc->ops = &osr_api_ollama_generate_ops;
        break;
    case OSR_API_OPENAI_COMPLETIONS:
        enc->ops = &osr_api_openai_completions_ops;
        break;
    }
    OSR_ASSERT(enc->ops != NULL);
    enc->model = osr_xstrdup(opts->model ? opts->model : "");
    enc->stream = opts->stream;
    enc->include_usage = opts->include_usage;
    enc->now_ms = opts->now_ms ? opts->now_ms : osr_wall_ms();
    enc->make_id = opts->make_id;
    enc->id_ctx = opts->id_ctx;
    enc->req = opts->req;
    enc->max_text = opts->max_text ? opts->max_text : API_DEFAULT_MAX_TEXT;
    enc->status = 200;
    enc->usage = osr_usage_unknown();
    enc->open = API_BLOCK_NONE;
    enc->open_tool = -1;
    enc->block_index = -1;
    osr_buf_init(&enc->text, enc->max_text);
    osr_buf_init(&enc->reasoning, enc->max_text);
    osr_buf_init(&enc->logprobs, enc->max_text);
    switch (proto) {
    case OSR_API_OPENAI_CHAT:
        osr_api_new_id(enc, "chatcmpl-", 12, true, enc->id, sizeof(enc->id));
        break;
    case OSR_API_ANTHROPIC:
        osr_api_new_id(enc, "msg_", 24, false, enc->id, sizeof(enc->id));
        break;
    case OSR_API_RESPONSES:
        osr_api_new_id(enc, "resp_", 24, false, enc->id, sizeof(enc->id));
        break;
    case OSR_API_OPENAI_COMPLETIONS:
        osr_api_new_id(enc, "cmpl-", 24, false, enc->id, sizeof(enc->id));
        break;
    case OSR_API_OLLAMA_CHAT:
    case OSR_API_OLLAMA_GENERATE:
        enc->id[0] = '\0';
        break;
    }
    return enc;
}

void osr_api_encoder_free(struct osr_api_encoder *enc)
{
    if (!enc)
        return;
    for (size_t i = 0; i < enc->n_tools; i++) {
        free(enc->tools[i].id);
        free(enc->tools[i].name);
        osr_buf_release(&enc->tools[i].args);
    }
    for (size_t i = 0; i < enc->n_items; i++)
        osr_buf_release(&enc->items[i].text);
    free(enc->items);
    osr_buf_release(&enc->text);
    osr_buf_release(&enc->reasoning);
    osr_buf_release(&enc->logprobs);
    free(enc->model);
    free(enc->stop_seq);
    free(enc->error_msg);
    free(enc);
}

/* Records ev in the accumulated state.  Returns OSR_OK, or OSR_ETOOBIG past the text cap;
 * *skip is set for events the protocol tables must not see. */
static int accumulate(struct osr_api_encoder *enc, const struct osr_event *ev, bool *skip)
{
    *skip = false;
    switch (ev->kind) {
    case OSR_EV_TEXT_DELTA:
        return osr_buf_append(&enc->text, ev->text.p, ev->text.n);
    case OSR_EV_REASONING_DELTA:
        return osr_buf_append(&enc->reasoning, ev->text.p, ev->text.n);
    case OSR_EV_TOOL_CALL_START: {
        if (osr_api_tool_find(enc, ev->index) || enc->n_tools >= API_MAX_TOOL_CALLS) {
            *skip = true; /* a repeated start, or too many calls: ignore */
            return OSR_OK;
        }
        struct api_tool_acc *t = &enc->tools[enc->n_tools++];
        t->index = ev->index;
        if (ev->id.n) {
            t->id = osr_xstrndup(ev->id.p, ev->id.n);
        } else {
            char id[64];
            osr_api_new_id(enc, enc->proto == OSR_API_ANTHROPIC ? "toolu_" : "call_", 24, false, id,
                           sizeof(id));
            t->id = osr_xstrdup(id);
        }
        t->name = osr_xstrndup(ev->name.p ? ev->name.p : "", ev->name.n);
        osr_buf_init(&t->args, API_MAX_ARGS);
        if (enc->proto == OSR_API_RESPONSES)
            osr_api_new_id(enc, "fc_", 24, false, t->item_id, sizeof(t->item_id));
        return OSR_OK;
    }
    case OSR_EV_TOOL_CALL_ARGS_DELTA: {
        struct api_tool_acc *t = osr_api_tool_find(enc, ev->index);
        if (!t) {
            *skip = true; /* arguments for a call that never started */
            return OSR_OK;
        }
        return osr_buf_append(&t->args, ev->text.p, ev->text.n);
    }
    case OSR_EV_FINISH:
        enc->finished = true;
        enc->finish = ev->finish;
        free(enc->stop_seq);
        enc->stop_seq = ev->text.n ? osr_xstrndup(ev->text.p, ev->text.n) : NULL;
        return OSR_OK;
    case OSR_EV_USAGE:
        enc->usage = ev->usage;
        enc->have_usage = true;
        return OSR_OK;
    case OSR_EV_ERROR:
        enc->failed = true;
        enc->error_msg = osr_xstrndup(ev->text.n ? ev->text.p : "internal error",
                                      ev->text.n ? ev->text.n : strlen("internal error"));
        enc->status = ev->status ? ev->status : 500;
        return OSR_OK;
    case OSR_EV_ROLE:
        return OSR_OK;
    case OSR_EV_TOOL_STARTED:
    case OSR_EV_TOOL_DONE:
    case OSR_EV_TODO:
    case OSR_EV_PREFILL_PROGRESS:
    case OSR_EV_ARTIFACT:
        *skip = true;
        return OSR_OK;
    case OSR_EV_LOGPROBS: {
        /* Only OpenAI Chat has a place for them; the chunk or body that follows writes them. */
        *skip = true;
        if (enc->proto != OSR_API_OPENAI_CHAT || !ev->logprobs)
            return OSR_OK;
        int max_top = enc->req ? enc->req->top_logprobs : OSR_LOGPROBS_TOP_MAX;
        struct osr_buf one; /* one entry, appended whole or not at all */
        osr_buf_init(&one, enc->max_text);
        int rc = enc->logprobs.len ? osr_buf_putc(&one, ',') : OSR_OK;
        rc = rc ? rc : osr_api_openai_logprob_entry(&one, ev->logprobs, max_top);
        rc = rc ? rc : osr_buf_append(&enc->logprobs, one.data, one.len);
        osr_buf_release(&one);
        return rc;
    }
    }
    *skip = true;
    return OSR_OK;
}

int osr_api_encoder_event(struct osr_api_encoder *enc, const struct osr_event *ev,
                          struct osr_buf *out)
{
    if (enc->ended)
        return OSR_EINVAL;
    if (enc->failed)
        return OSR_OK; /* nothing follows an error */
    if (enc->finished && ev->kind != OSR_EV_USAGE && ev->kind != OSR_EV_ERROR)
        return OSR_OK; /* deltas after FINISH would break every protocol's grammar */
    bool skip;
    int rc = accumulate(enc, ev, &skip);
    if (rc || skip)
        return rc;
    if (!enc->stream)
        return enc->ops->track ? enc->ops->event(enc, ev, NULL) : OSR_OK;
    return enc->ops->event(enc, ev, out);
}

int osr_api_encoder_end(struct osr_api_encoder *enc, struct osr_buf *out)
{
    if (enc->ended)
        return OSR_EINVAL;
    if (!enc->finished && !enc->failed) {
        struct osr_event ev = {0};
        ev.kind = OSR_EV_ERROR;
        ev.status = 500;
        ev.text = OSR_STR_LIT("the model stopped without finishing its answer");
        int rc = osr_api_encoder_event(enc, &ev, out);
        if (rc)
            return rc;
    }
    enc->ended = true;
    if (enc->stream) {
        enc->status = 200;
        return enc->ops->stream_end(enc, out);
    }
    return enc->ops->body(enc, out);
}

int osr_api_encoder_status(const struct osr_api_encoder *enc)
{
    return enc->stream ? 200 : enc->status;
}

bool osr_api_encoder_error(const struct osr_api_encoder *enc, struct osr_api_error *err)
{
    if (!enc->failed)
        return false;
    if (err)
        osr_api_error_set(err, enc->status, NULL, "%s", enc->error_msg);
    return true;
}

const char *osr_api_encoder_content_type(const struct osr_api_encoder *enc)
{
    return enc->stream ? enc->ops->stream_type : enc->ops->body_type;
}

const char *osr_api_encoder_id(const struct osr_api_encoder *enc)
{
    return enc->id;
}

/* ---------------------------------------------------------------- sink adapter */

static int stream_sink_emit(struct osr_sink *sink, const struct osr_event *ev)
{
    struct osr_api_stream_sink *s = (struct osr_api_stream_sink *)sink->ctx;
    if (s->rc)
        return s->rc;
    osr_buf_reset(&s->buf);
    int rc = osr_api_encoder_event(s->enc, ev, &s->buf);
    if (!rc && s->buf.len && s->flush)
        rc = s->flush(s->flush_ctx, s->buf.data, s->buf.len) ? OSR_ECANCELED : OSR_OK;
    s->rc = rc;
    return rc;
}

void osr_api_stream_sink_init(struct osr_api_stream_sink *s, struct osr_api_encoder *enc,
                              int (*flush)(void *ctx, const char *p, size_t n), void *ctx)
{
    memset(s, 0, sizeof(*s));
    s->sink.emit = stream_sink_emit;
    s->sink.ctx = s;
    s->enc = enc;
    s->flush = flush;
    s->flush_ctx = ctx;
    osr_buf_init(&s->buf, API_DEFAULT_MAX_TEXT + 1024 * 1024);
}

int osr_api_stream_sink_end(struct osr_api_stream_sink *s)
{
    if (s->rc)
        return s->rc; /* the consumer is gone: nothing more to say to it */
    osr_buf_reset(&s->buf);
    int rc = osr_api_encoder_end(s->enc, &s->buf);
    if (!rc && s->buf.len && s->flush)
        rc = s->flush(s->flush_ctx, s->buf.data, s->buf.len) ? OSR_ECANCELED : OSR_OK;
    if (!s->rc)
        s->rc = rc;
    return s->rc;
}

void osr_api_stream_sink_release(struct osr_api_stream_sink *s)
{
    osr_buf_release(&s->buf);
}
