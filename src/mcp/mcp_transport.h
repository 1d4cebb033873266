/* mcp_transport.h - the MCP client's transports (internal to src/mcp).
 *
 * A connection carries JSON-RPC requests to one MCP server and brings back the answer with the
 * same id: Streamable HTTP (mcp_transport_http.c, one POST per message) or stdio
 * (mcp_transport_stdio.c, a child process speaking newline-delimited JSON).  Notifications the
 * server sends on the way are handed to on_notify.  The transports know JSON-RPC framing but
 * no MCP method beyond answering ping.
 *
 * Lifetime: a connection is reference-counted.  mcp_conn_shutdown ends it at once (kills a
 * child, aborts transfers, wakes waiters: later requests fail with OSR_ECLOSED); the memory
 * goes with the last mcp_conn_unref.  A connection that fails (peer gone, session expired)
 * marks itself dead: mcp_conn_alive turns false and stays false.
 *
 * Thread rules: requests and notifications may be sent from any thread at once; on_notify runs
 * on a transport thread (stdio reader) or the requesting thread (HTTP), must not block, and
 * must not keep params (json-c's reference counts are not atomic: no JSON object is ever
 * shared between threads - a reply is handed over whole).
 */
#ifndef OSR_MCP_TRANSPORT_H
#define OSR_MCP_TRANSPORT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "osr/buf.h"
#include "osr/mcp_client.h"

typedef void (*mcp_notify_fn)(void *ctx, const char *method, struct json_object *params);

struct mcp_conn;

struct mcp_conn_ops {
    int (*send)(struct mcp_conn *c, int64_t id, const char *text, size_t n, int timeout_ms,
                struct json_object **reply, struct osr_diag *diag);
    void (*shutdown)(struct mcp_conn *c);
    void (*destroy)(struct mcp_conn *c);
    int (*pid)(struct mcp_conn *c);
    /* Starts listening for messages the server sends unprompted (NULL: not supported). */
    int (*listen)(struct mcp_conn *c);
};

struct mcp_conn {
    const struct mcp_conn_ops *ops;
    atomic_int refs;
    atomic_bool dead;
    atomic_bool closing;
    atomic_llong next_id;
    char protocol[16];     /* set once after initialize, before the connection is shared */
    char label[80];        /* the provider id, for log lines */
    char dead_reason[160]; /* written once, before dead turns true: read only after seeing it */
    atomic_flag dead_once;
    mcp_notify_fn on_notify;
    void *notify_ctx;
};

/* What a connection needs besides the provider's configuration: resolved secrets (borrowed
 * for the call; copied where kept) and the notification callback. */
struct mcp_conn_opts {
    const struct osr_mcp_provider_config *cfg;
    const struct osr_mcp_kv *secret_headers;
    size_t n_secret_headers;
    const struct osr_mcp_kv *secret_env;
    size_t n_secret_env;
    mcp_notify_fn on_notify;
    void *notify_ctx;
};

/* Opens a connection: nothing goes over the network for HTTP; stdio starts the child.
 * Returns OSR_OK and *out (one reference), or an error with diag. */
int mcp_conn_open(const struct mcp_conn_opts *opts, struct mcp_conn **out, struct osr_diag *diag);
int mcp_conn_open_http(const struct mcp_conn_opts *opts, struct mcp_conn **out,
                       struct osr_diag *diag);
int mcp_conn_open_stdio(const struct mcp_conn_opts *opts, struct mcp_conn **out,
                        struct osr_diag *diag);

/* Fills the shared part; transports call it first (the object starts zeroed). */
void mcp_conn_base_init(struct mcp_conn *c, const struct mcp_conn_ops *ops,
                        const struct mcp_conn_opts *opts);
void mcp_conn_ref(struct mcp_conn *c);
void mcp_conn_unref(struct mcp_conn *c);
void mcp_conn_shutdown(struct mcp_conn *c);
bool mcp_conn_alive(struct mcp_conn *c);
/* Marks c dead with a reason (the first reason wins). */
void mcp_conn_mark_dead(struct mcp_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int mcp_conn_pid(struct mcp_conn *c);
/* Opens the transport's channel for unprompted server messages, if it has one (HTTP: the GET
 * event stream, kept open and reopened until shutdown; a server without one is fine).
 * Call after the handshake.  Returns OSR_OK or OSR_EIO (no thread). */
int mcp_conn_listen(struct mcp_conn *c);

/* Sends a request and waits up to timeout_ms for its answer.  Takes params (NULL: none).
 * Returns OSR_OK and *result (new; the caller puts it); OSR_ETIMEOUT; OSR_EINVAL when the
 * server answered with a JSON-RPC error (diag: "message (code N)"); OSR_EPROTO for an answer
 * that is not JSON-RPC; OSR_EIO / OSR_ECLOSED / OSR_EAUTH when the transport failed. */
int mcp_conn_request(struct mcp_conn *c, const char *method, struct json_object *params,
                     int timeout_ms, struct json_object **result, struct osr_diag *diag);
/* Sends a notification (takes params).  Returns OSR_OK or a transport error. */
int mcp_conn_notify(struct mcp_conn *c, const char *method, struct json_object *params,
                    int timeout_ms, struct osr_diag *diag);

/* --- shared by the transports --------------------------------------------------------------- */

/* Handles one message the server sent (untrusted).  When it is the response to want_id
 * (>= 0) it is returned (the caller puts it); notifications go to on_notify; requests are
 * answered into *answer (a new text the caller sends and frees; NULL when there is nothing to
 * send) - ping gets {}, anything else "method not found".  Other messages are dropped. */
struct json_object *mcp_conn_incoming(struct mcp_conn *c, struct json_object *msg, int64_t want_id,
                                      char **answer);

/* Turns a response object into the result (new) or an error as mcp_conn_request describes. */
int mcp_conn_take_result(struct json_object *resp, struct json_object **result,
                         struct osr_diag *diag);

#endif
