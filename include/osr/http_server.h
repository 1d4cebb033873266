/* http_server.h - the HTTP server: routing, limits, CORS, the auth gate and streaming.
 *
 * Wraps libmicrohttpd (thread per connection).  Paths are normalized as the original does
 * (query dropped; the first of "/anthropic/v1", "/v1/api", "/api", "/v1" stripped as a whole
 * segment), then matched against a route table.  Unknown paths get a 404 and known paths with
 * the wrong method a 405, both in OpenAI error shape.
 *
 * Streaming: a handler calls osr_http_respond_stream with a producer function; the server runs
 * the producer on a thread of its own and hands its frames to the connection through a bounded
 * queue.  osr_http_stream_write returns OSR_ECANCELED once the client is gone (noticed within
 * one frame, or within a quarter second while the producer is silent) or the server is
 * shutting down; the producer must then return at once.  On shutdown the server ends every
 * open stream itself, sending the stream's terminator (e.g. "data: [DONE]\n\n") last.
 *
 * Thread rules: routes are added before osr_http_server_start.  A request object belongs to the
 * connection thread that runs its handler; after osr_http_respond_stream the stream belongs to
 * the producer thread.  osr_http_server_shutdown may be called from any one thread.
 */
#ifndef OSR_HTTP_SERVER_H
#define OSR_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "osr/arena.h"
#include "osr/config.h"
#include "osr/err.h"
#include "osr/str.h"

struct osr_http_server;
struct osr_http_request;
struct osr_http_stream;

enum osr_auth_class {
    OSR_AUTH_PUBLIC, /* anyone: "/", "/health" */
    OSR_AUTH_GATED,  /* the global gate: trusted loopback or a valid access key */
    OSR_AUTH_OWN,    /* the handler authenticates (plugin routes) */
};

typedef void (*osr_http_handler)(struct osr_http_request *req, void *ctx);

/* The shape of the errors the server itself answers on a route (the gate's 401/403, 413, ...):
 * each protocol's clients parse their own. */
enum osr_error_style {
    OSR_ERRORS_OPENAI,    /* {"error":{"message","type","param","code"}} */
    OSR_ERRORS_ANTHROPIC, /* {"type":"error","error":{"type","message"}} */
    OSR_ERRORS_OLLAMA,    /* {"error":"message"} */
};

struct osr_route {
    const char *method;  /* "GET", "POST", ...; "*" matches any */
    const char *pattern; /* normalized path; "{name}" matches one segment, a final "*" the rest */
    osr_http_handler handler;
    enum osr_auth_class auth;
    void *ctx;                   /* passed to handler */
    size_t max_body;             /* 0: the server's maxRequestBodyBytes */
    enum osr_error_style errors; /* OSR_ERRORS_OPENAI unless set */
};

/* The gate's verdict on a request that is not trusted by address.  Returns OSR_OK to let it
 * through, or an error after filling status (401/403) and a message for the error body. */
typedef int (*osr_http_auth_fn)(void *ctx, struct osr_http_request *req, int *status, char *message,
                                size_t message_cap);

/* Creates a server from cfg (copied: port, exposure, limits, origins).  port_override >= 0
 * replaces cfg->port (0 picks a free port).  The caller frees it with osr_http_server_free. */
struct osr_http_server *osr_http_server_new(const struct osr_server_config *cfg, int port_override);
void osr_http_server_free(struct osr_http_server *srv);

/* Adds a route; the strings must outlive the server. */
void osr_http_server_add_route(struct osr_http_server *srv, const struct osr_route *route);

/* Installs the validator the gate consults for untrusted requests.  Without one, untrusted
 * requests to gated routes get the original's "No access keys configured" 401. */
void osr_http_server_set_auth(struct osr_http_server *srv, osr_http_auth_fn fn, void *ctx);

/* Binds and starts serving.  Returns OSR_OK, or OSR_EIO / OSR_EBUSY (port in use) with diag
 * saying which address failed and why. */
int osr_http_server_start(struct osr_http_server *srv, struct osr_diag *diag);

/* The bound port (useful after asking for port 0), and the bound address as text. */
int osr_http_server_port(const struct osr_http_server *srv);
const char *osr_http_server_address(const struct osr_http_server *srv);
bool osr_http_server_exposed(const struct osr_http_server *srv);

/* Requests being handled or streaming right now. */
int osr_http_server_inflight(const struct osr_http_server *srv);

/* Stops accepting, ends open streams (each with its terminator), waits up to grace_ms for them
 * to drain, then stops every connection.  Idempotent. */
void osr_http_server_shutdown(struct osr_http_server *srv, int grace_ms);

/* --- the request, inside a handler ---------------------------------------------------------- */

const char *osr_http_request_method(const struct osr_http_request *req);
/* The normalized path ("/chat/completions"), and the path as the client sent it (no query). */
const char *osr_http_request_path(const struct osr_http_request *req);
const char *osr_http_request_raw_path(const struct osr_http_request *req);
/* Returns the header's value (case-insensitive name) or NULL. */
const char *osr_http_request_header(const struct osr_http_request *req, const char *name);
const char *osr_http_request_query(const struct osr_http_request *req, const char *name);
/* Returns the value a "{name}" pattern segment matched, or NULL. */
const char *osr_http_request_param(const struct osr_http_request *req, const char *name);
/* The request body; NUL-terminated, valid until the request ends. */
struct osr_str osr_http_request_body(const struct osr_http_request *req);
const char *osr_http_request_id(const struct osr_http_request *req);
const char *osr_http_request_peer(const struct osr_http_request *req);
bool osr_http_request_is_loopback(const struct osr_http_request *req);
/* True when the gate let the request through on loopback trust (not a key). */
bool osr_http_request_is_trusted_local(const struct osr_http_request *req);
/* Memory freed when the request ends (after its stream, if any, has ended). */
struct osr_arena *osr_http_request_arena(struct osr_http_request *req);
struct osr_http_server *osr_http_request_server(struct osr_http_request *req);

/* --- responding: exactly one respond call per request ------------------------------------- */

/* Adds a response header (before the respond call); name and value are copied. */
void osr_http_add_header(struct osr_http_request *req, const char *name, const char *value);

int osr_http_respond(struct osr_http_request *req, int status, const char *content_type,
                     const void *body, size_t len);
/* Serializes obj compactly; borrows obj. */
int osr_http_respond_json(struct osr_http_request *req, int status, struct json_object *obj);
/* An error in the route's style (OpenAI's {"error":{"message","type","param","code"}} unless the
 * route says otherwise) - param and code may be NULL (sent as null). */
int osr_http_respond_error(struct osr_http_request *req, int status, const char *type,
                           const char *message, const char *param, const char *code);

typedef void (*osr_http_producer)(struct osr_http_stream *stream, void *ctx);

/* Starts a streamed (chunked) response and runs producer(stream, ctx) on a new thread.  When
 * the producer returns, the stream ends and ctx_free(ctx) is called (if non-NULL).  The server
 * takes ownership of ctx even when this fails. */
int osr_http_respond_stream(struct osr_http_request *req, int status, const char *content_type,
                            osr_http_producer producer, void *ctx, void (*ctx_free)(void *));

/* Queues n bytes for the client.  Blocks while the client is slow (the queue holds 64 frames).
 * Returns OSR_OK or OSR_ECANCELED once the client has gone or the server is shutting down. */
int osr_http_stream_write(struct osr_http_stream *s, const void *p, size_t n);
int osr_http_stream_printf(struct osr_http_stream *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Bytes the server sends last when it ends the stream itself (shutdown); copied. */
void osr_http_stream_set_terminator(struct osr_http_stream *s, const char *bytes);
bool osr_http_stream_cancelled(const struct osr_http_stream *s);
/* The request the stream answers (valid until the producer returns). */
struct osr_http_request *osr_http_stream_request(struct osr_http_stream *s);

/* --- pure helpers (exposed for tests and fuzzing) ----------------------------------------- */

/* Writes the normalized form of the raw request path (n bytes) into out (cap bytes, NUL-
 * terminated).  Returns the length, or 0 when it does not fit or the path is not absolute. */
size_t osr_http_normalize_path(const char *raw, size_t n, char *out, size_t cap);

/* Matches path against pattern; on success fills up to max_params name/value views (values
 * point into path) and returns the number matched (>= 0); returns -1 on no match. */
int osr_http_match_pattern(const char *pattern, const char *path, struct osr_str *names,
                           struct osr_str *values, int max_params);

#endif
