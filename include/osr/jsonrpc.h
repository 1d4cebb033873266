/* jsonrpc.h - JSON-RPC 2.0 messages: classifying what arrived and building replies.
 *
 * A message is a request (method + id), a notification (method, no id), a response (result
 * or error + id) or invalid.  Ids are strings or integers (null and fractional ids are
 * refused, as MCP requires).  Replies are built as new json-c objects the caller owns.
 *
 * Thread rules: reentrant; no shared state.
 */
#ifndef OSR_JSONRPC_H
#define OSR_JSONRPC_H

#include <json-c/json.h>

#include "osr/err.h"

#define OSR_JSONRPC_PARSE_ERROR (-32700)
#define OSR_JSONRPC_INVALID_REQUEST (-32600)
#define OSR_JSONRPC_METHOD_NOT_FOUND (-32601)
#define OSR_JSONRPC_INVALID_PARAMS (-32602)
#define OSR_JSONRPC_INTERNAL_ERROR (-32603)

enum osr_jsonrpc_kind {
    OSR_JSONRPC_REQUEST,
    OSR_JSONRPC_NOTIFICATION,
    OSR_JSONRPC_RESPONSE,
    OSR_JSONRPC_INVALID,
};

struct osr_jsonrpc_msg {
    enum osr_jsonrpc_kind kind;
    const char *method;         /* requests and notifications; borrowed from the message */
    struct json_object *id;     /* borrowed; NULL for notifications and unreadable ids */
    struct json_object *params; /* borrowed; NULL when absent */
};

/* Classifies one message object.  Returns OSR_OK, or OSR_EINVAL with kind INVALID, diag
 * saying why, and out->id set when a usable id was present (so the error can carry it). */
int osr_jsonrpc_classify(struct json_object *msg, struct osr_jsonrpc_msg *out,
                         struct osr_diag *diag);

/* {"jsonrpc":"2.0","id":<copy of id>,"result":result}; takes result (NULL becomes {}). */
struct json_object *osr_jsonrpc_result(struct json_object *id, struct json_object *result);
/* {"jsonrpc":"2.0","id":<copy of id or null>,"error":{"code","message","data"?}}; takes data. */
struct json_object *osr_jsonrpc_error(struct json_object *id, int code, const char *message,
                                      struct json_object *data);

#endif
