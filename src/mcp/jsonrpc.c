/* jsonrpc.c - JSON-RPC 2.0 message classification and reply construction.
 *
 * Knows the envelope rules of JSON-RPC 2.0 (the "jsonrpc":"2.0" member, ids, method names,
 * params being structured) and nothing of MCP's methods; transports and batching live with
 * their callers.
 */
#include <math.h>
#include <string.h>

#include "osr/json.h"
#include "osr/jsonrpc.h"

static bool usable_id(struct json_object *id)
{
    if (!id)
        return false;
    if (json_object_is_type(id, json_type_string) || json_object_is_type(id, json_type_int))
        return true;
    return false;
}

int osr_jsonrpc_classify(struct json_object *msg, struct osr_jsonrpc_msg *out,
                         struct osr_diag *diag)
{
    memset(out, 0, sizeof(*out));
    out->kind = OSR_JSONRPC_INVALID;
    if (!msg || !json_object_is_type(msg, json_type_object))
        return osr_diag_set(diag, OSR_EINVAL, "a JSON-RPC message must be an object");
    struct json_object *id = NULL, *ver = NULL, *method = NULL, *params = NULL;
    bool has_id = json_object_object_get_ex(msg, "id", &id);
    if (has_id && usable_id(id))
        out->id = id;
    if (!json_object_object_get_ex(msg, "jsonrpc", &ver) ||
        !json_object_is_type(ver, json_type_string) ||
        strcmp(json_object_get_string(ver), "2.0") != 0)
        return osr_diag_set(diag, OSR_EINVAL, "'jsonrpc' must be \"2.0\"");
    if (has_id && !usable_id(id))
        return osr_diag_set(diag, OSR_EINVAL, "'id' must be a string or an integer");
    bool has_method = json_object_object_get_ex(msg, "method", &method);
    if (!has_method) {
        bool has_result = json_object_object_get_ex(msg, "result", NULL);
        bool has_error = json_object_object_get_ex(msg, "error", NULL);
        if (has_id && (has_result != has_error)) {
            out->kind = OSR_JSONRPC_RESPONSE;
            return OSR_OK;
        }
        return osr_diag_set(diag, OSR_EINVAL, "'method' is required");
    }
    if (!json_object_is_type(method, json_type_string) || json_object_get_string_len(method) == 0)
        return osr_diag_set(diag, OSR_EINVAL, "'method' must be a non-empty string");
    if (json_object_object_get_ex(msg, "params", &params) && params &&
        !json_object_is_type(params, json_type_object) &&
        !json_object_is_type(params, json_type_array))
        return osr_diag_set(diag, OSR_EINVAL, "'params' must be an object or an array");
    out->method = json_object_get_string(method);
    out->params = params;
    out->kind = has_id ? OSR_JSONRPC_REQUEST : OSR_JSONRPC_NOTIFICATION;
    return OSR_OK;
}

static struct json_object *copy_id(struct json_object *id)
{
    if (!id)
        return NULL;
    if (json_object_is_type(id, json_type_int))
        return json_object_new_int64(json_object_get_int64(id));
    if (json_object_is_type(id, json_type_string))
        return osr_json_new_string(json_object_get_string(id),
                                   (size_t)json_object_get_string_len(id));
    return NULL;
}

struct json_object *osr_jsonrpc_result(struct json_object *id, struct json_object *result)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "jsonrpc", json_object_new_string("2.0"));
    json_object_object_add(o, "id", copy_id(id));
    json_object_object_add(o, "result", result ? result : json_object_new_object());
    return o;
}

struct json_object *osr_jsonrpc_error(struct json_object *id, int code, const char *message,
                                      struct json_object *data)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "jsonrpc", json_object_new_string("2.0"));
    json_object_object_add(o, "id", copy_id(id));
    struct json_object *e = json_object_new_object();
    json_object_object_add(e, "code", json_object_new_int(code));
    json_object_object_add(e, "message", osr_json_new_string(message, strlen(message)));
    if (data)
        json_object_object_add(e, "data", data);
    json_object_object_add(o, "error", e);
    return o;
}
