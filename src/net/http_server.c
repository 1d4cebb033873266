/* http_server.c - the HTTP server over libmicrohttpd.
 *
 * One thread per connection (MHD_USE_THREAD_PER_CONNECTION).  A request is accumulated into a
 * capped body buffer, then dispatched once: CORS, OPTIONS, route lookup, the auth gate, the
 * handler.  Streamed responses are fed by a producer thread through a bounded queue of frames;
 * the connection thread blocks in the content-reader callback on that queue, checking every
 * quarter second whether the client hung up.
 *
 * What it does not do: TLS (put a reverse proxy or the relay in front), HTTP/2, request body
 * streaming into handlers (bodies are bounded and buffered), access-key validation (the gate
 * asks the validator installed with osr_http_server_set_auth).
 *
 * Lifetimes: a request is reference-counted.  MHD holds one reference until it reports the
 * request complete; a producer thread holds another until it returns.  Whoever drops the last
 * one frees the request, its arena, its body and its stream.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "osr/alloc.h"
#include "osr/buf.h"
#include "osr/clock.h"
#include "osr/http_server.h"
#include "osr/json.h"
#include "osr/log.h"
#include "osr/queue.h"
#include "osr/uuid.h"

#define MAX_PARAMS 8
#define STREAM_QUEUE_FRAMES 64
#define STREAM_POLL_MS 250
#define STREAM_BLOCK_SIZE (16 * 1024)
#define REQUEST_ARENA_MAX (64u * 1024 * 1024)
#define PATH_MAX_LEN 2048
#define IP_TABLE_SIZE 4096 /* distinct client addresses tracked at once */

/* Marker header a relay tunnel adds to every request it forwards.  It only ever removes
 * trust, so a client sending it itself gains nothing. */
#define RELAY_MARKER_HEADER "X-Osaurus-Relay"

struct header_kv {
    char *name;
    char *value;
    struct header_kv *next;
};

struct frame {
    size_t len;
    char data[];
};

struct ip_slot {
    char addr[INET6_ADDRSTRLEN]; /* "" when free */
    int count;
};

struct conn_info {
    char addr[INET6_ADDRSTRLEN];
    bool over_limit; /* this connection pushed its address or the server past the cap */
};

struct osr_http_stream {
    struct osr_http_request *req;
    struct osr_queue *q; /* frames from the producer */
    struct frame *cur;   /* frame being copied out by the reader (connection thread only) */
    size_t cur_off;
    atomic_bool cancelled; /* the client is gone or the server ended the stream */
    atomic_bool by_server; /* the server ended it (shutdown): send the terminator */
    pthread_mutex_t mu;
    char *terminator;     /* guarded by mu */
    bool terminator_sent; /* connection thread only */
    int fd;
    osr_http_producer fn;
    void *ctx;
    void (*ctx_free)(void *);
    struct osr_http_stream *next; /* guarded by srv->mu: open-stream list */
};

struct osr_http_request {
    struct osr_http_server *srv;
    struct MHD_Connection *conn;
    atomic_int refs;
    struct osr_arena arena;
    char method[16];
    char *raw_path;
    char *path;
    const struct osr_route *route;
    int route_status; /* 200 found, 404 no such path, 405 wrong method */
    struct osr_str names[MAX_PARAMS];
    struct osr_str values[MAX_PARAMS];
    char *param_cstr[MAX_PARAMS];
    int n_params;
    struct osr_buf body;
    bool body_too_big;
    int64_t start_ns;
    char id[72];
    char peer[INET6_ADDRSTRLEN];
    bool loopback;
    bool trusted_local;
    bool responded;
    enum MHD_Result mhd_result;
    int status;
    atomic_ullong bytes_out;
    struct header_kv *resp_headers;
    struct osr_http_stream *stream;
};

struct osr_http_server {
    struct MHD_Daemon *daemon;
    int listen_fd;
    int port;
    char address[64];
    bool expose;
    int max_header_count;
    size_t max_body;
    int idle_timeout_s;
    int request_timeout_s;
    int max_connections;
    int max_connections_per_ip;
    size_t max_header_bytes;
    int backlog;
    char **origins;
    size_t n_origins;

    struct osr_route *routes;
    size_t n_routes;
    size_t cap_routes;

    osr_http_auth_fn auth_fn;
    void *auth_ctx;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct osr_http_stream *streams;   /* guarded by mu */
    int producers;                     /* guarded by mu */
    int connections;                   /* guarded by mu */
    struct ip_slot ips[IP_TABLE_SIZE]; /* guarded by mu */
    atomic_int inflight;
    atomic_bool shutting_down;
    bool stopped;
};

/* ---------------------------------------------------------------------------------------- */
/* Pure helpers: path normalization and pattern matching.                                    */

size_t osr_http_normalize_path(const char *raw, size_t n, char *out, size_t cap)
{
    static const char *const prefixes[] = {"/anthropic/v1", "/v1/api", "/api", "/v1"};
    if (cap < 2 || n == 0 || raw[0] != '/')
        return 0;
    /* Drop the query and fragment, collapse repeated slashes. */
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        char c = raw[i];
        if (c == '?' || c == '#' || c == '\0')
            break;
        if (c == '/' && len > 0 && out[len - 1] == '/')
            continue;
        if (len + 1 >= cap)
            return 0;
        out[len++] = c;
    }
    if (len > 1 && out[len - 1] == '/')
        len--;
    out[len] = '\0';
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t pl = strlen(prefixes[i]);
        if (len < pl || memcmp(out, prefixes[i], pl) != 0)
            continue;
        if (len == pl) {
            out[0] = '/';
            out[1] = '\0';
            return 1;
        }
        if (out[pl] == '/') {
            memmove(out, out + pl, len - pl + 1);
            return len - pl;
        }
    }
    return len;
}

int osr_http_match_pattern(const char *pattern, const char *path, struct osr_str *names,
                           struct osr_str *values, int max_params)
{
    int np = 0;
    const char *p = pattern, *s = path;
    for (;;) {
        if (*p == '\0')
            return *s == '\0' ? np : -1;
        if (p[0] == '*' && p[1] == '\0') {
            if (np < max_params) {
                names[np] = OSR_STR_LIT("*");
                values[np] = osr_str_cstr(s);
                np++;
            }
            return np;
        }
        if (p[0] == '/' && p[1] == '*' && p[2] == '\0' && *s == '\0')
            return np; /* a trailing "/ *" also matches the bare prefix */
        if (*p == '{') {
            const char *close = strchr(p, '}');
            if (!close)
                return -1;
            const char *end = strchr(s, '/');
            size_t vlen = end ? (size_t)(end - s) : strlen(s);
            if (vlen == 0)
                return -1;
            if (np < max_params) {
                names[np] = osr_str_make(p + 1, (size_t)(close - p - 1));
                values[np] = osr_str_make(s, vlen);
                np++;
            }
            p = close + 1;
            s += vlen;
            continue;
        }
        if (*p != *s)
            return -1;
        p++;
        s++;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Request lifetime.                                                                          */

static void stream_free(struct osr_http_stream *s)
{
    if (!s)
        return;
    osr_queue_free(s->q, free);
    free(s->cur);
    free(s->terminator);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static void request_unref(struct osr_http_request *req)
{
    if (atomic_fetch_sub(&req->refs, 1) != 1)
        return;
    struct header_kv *h = req->resp_headers;
    while (h) {
        struct header_kv *next = h->next;
        free(h->name);
        free(h->value);
        free(h);
        h = next;
    }
    stream_free(req->stream);
    osr_buf_release(&req->body);
    osr_arena_release(&req->arena);
    free(req);
}

static bool is_loopback_addr(const struct sockaddr *sa)
{
    if (!sa)
        return false;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return true;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            return in6->sin6_addr.s6_addr[12] == 127;
    }
    return false;
}

static void format_addr(const struct sockaddr *sa, char *out, size_t cap)
{
    out[0] = '\0';
    if (!sa)
        return;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)cap);
}

static bool valid_request_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static void find_route(struct osr_http_request *req)
{
    struct osr_http_server *srv = req->srv;
    req->route_status = 404;
    const char *method = req->method;
    bool head = strcmp(method, "HEAD") == 0;
    for (size_t i = 0; i < srv->n_routes; i++) {
        const struct osr_route *r = &srv->routes[i];
        struct osr_str names[MAX_PARAMS], values[MAX_PARAMS];
        int np = osr_http_match_pattern(r->pattern, req->path, names, values, MAX_PARAMS);
        if (np < 0)
            continue;
        bool method_ok = strcmp(r->method, "*") == 0 || strcmp(r->method, method) == 0 ||
                         (head && strcmp(r->method, "GET") == 0);
        if (!method_ok) {
            req->route_status = 405;
            continue;
        }
        req->route = r;
        req->route_status = 200;
        req->n_params = np;
        for (int k = 0; k < np; k++) {
            req->names[k] = names[k];
            req->values[k] = values[k];
            req->param_cstr[k] = NULL;
        }
        return;
    }
}

static struct osr_http_request *request_new(struct osr_http_server *srv,
                                            struct MHD_Connection *conn, const char *url,
                                            const char *method)
{
    struct osr_http_request *req = osr_xcalloc(1, sizeof(*req));
    req->srv = srv;
    req->conn = conn;
    atomic_init(&req->refs, 1);
    atomic_init(&req->bytes_out, 0);
    osr_arena_init(&req->arena, REQUEST_ARENA_MAX);
    snprintf(req->method, sizeof(req->method), "%s", method);
    req->start_ns = osr_mono_ns();
    req->status = 0;

    size_t ulen = strlen(url);
    const char *q = memchr(url, '?', ulen);
    req->raw_path = osr_arena_strndup(&req->arena, url, q ? (size_t)(q - url) : ulen);
    char *path = osr_arena_alloc(&req->arena, PATH_MAX_LEN);
    if (!path || !req->raw_path || osr_http_normalize_path(url, ulen, path, PATH_MAX_LEN) == 0) {
        req->path = (char *)"";
    } else {
        req->path = path;
    }

    const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    if (rid && valid_request_id(rid))
        snprintf(req->id, sizeof(req->id), "%s", rid);
    else
        osr_random_id(req->id, sizeof(req->id), "req_", 24, 0);

    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    format_addr(sa, req->peer, sizeof(req->peer));
    req->loopback = is_loopback_addr(sa);

    find_route(req);
    size_t max_body = srv->max_body;
    if (req->route && req->route->max_body)
        max_body = req->route->max_body;
    osr_buf_init(&req->body, max_body);
    atomic_fetch_add(&srv->inflight, 1);
    return req;
}

/* ---------------------------------------------------------------------------------------- */
/* Responding.                                                                                */

void osr_http_add_header(struct osr_http_request *req, const char *name, const char *value)
{
    struct header_kv *h = osr_xmalloc(sizeof(*h));
    h->name = osr_xstrdup(name);
    h->value = osr_xstrdup(value);
    h->next = req->resp_headers;
    req->resp_headers = h;
}

static bool has_header(struct osr_http_request *req, const char *name)
{
    for (struct header_kv *h = req->resp_headers; h; h = h->next)
        if (strcasecmp(h->name, name) == 0)
            return true;
    return false;
}

/* Headers every response carries: the request id, CORS, and Connection: close once the server
 * is shutting down (so keep-alive clients move on). */
static void add_common_headers(struct osr_http_request *req, struct MHD_Response *resp)
{
    /* The list is newest-first; add oldest-first so repeated names keep their order. */
    struct header_kv *rev = NULL;
    for (struct header_kv *h = req->resp_headers; h;) {
        struct header_kv *next = h->next;
        h->next = rev;
        rev = h;
        h = next;
    }
    req->resp_headers = rev;
    for (struct header_kv *h = req->resp_headers; h; h = h->next)
        MHD_add_response_header(resp, h->name, h->value);
    MHD_add_response_header(resp, "X-Request-Id", req->id);
    if (atomic_load(&req->srv->shutting_down))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
}

int osr_http_respond(struct osr_http_request *req, int status, const char *content_type,
                     const void *body, size_t len)
{
    if (req->responded)
        return OSR_EINVAL;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return OSR_ENOMEM;
    if (content_type && !has_header(req, "Content-Type"))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    add_common_headers(req, resp);
    req->responded = true;
    req->status = status;
    atomic_store(&req->bytes_out, len);
    req->mhd_result = MHD_queue_response(req->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return req->mhd_result == MHD_YES ? OSR_OK : OSR_EIO;
}

int osr_http_respond_json(struct osr_http_request *req, int status, struct json_object *obj)
{
    size_t len;
    const char *s = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (!s)
        return OSR_ENOMEM;
    return osr_http_respond(req, status, "application/json", s, len);
}

int osr_http_respond_error(struct osr_http_request *req, int status, const char *type,
                           const char *message, const char *param, const char *code)
{
    enum osr_error_style style = req->route ? req->route->errors : OSR_ERRORS_OPENAI;
    struct osr_buf b;
    osr_buf_init(&b, 64 * 1024);
    if (style == OSR_ERRORS_OLLAMA) {
        osr_buf_puts(&b, "{\"error\":");
        osr_json_append_string(&b, message, strlen(message));
        osr_buf_puts(&b, "}");
    } else if (style == OSR_ERRORS_ANTHROPIC) {
        osr_buf_puts(&b, "{\"type\":\"error\",\"error\":{\"type\":");
        osr_json_append_string(&b, type, strlen(type));
        osr_buf_puts(&b, ",\"message\":");
        osr_json_append_string(&b, message, strlen(message));
        osr_buf_puts(&b, "}}");
    } else {
        osr_buf_puts(&b, "{\"error\":{\"message\":");
        osr_json_append_string(&b, message, strlen(message));
        osr_buf_puts(&b, ",\"type\":");
        osr_json_append_string(&b, type, strlen(type));
        osr_buf_puts(&b, ",\"param\":");
        if (param)
            osr_json_append_string(&b, param, strlen(param));
        else
            osr_buf_puts(&b, "null");
        osr_buf_puts(&b, ",\"code\":");
        if (code)
            osr_json_append_string(&b, code, strlen(code));
        else
            osr_buf_puts(&b, "null");
        osr_buf_puts(&b, "}}");
    }
    int rc = osr_http_respond(req, status, "application/json", osr_buf_str(&b), b.len);
    osr_buf_release(&b);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Streaming.                                                                                 */

static bool peer_hung_up(int fd)
{
    if (fd < 0)
        return false;
    struct pollfd pfd = {.fd = fd, .events = POLLRDHUP};
    if (poll(&pfd, 1, 0) <= 0)
        return false;
    return (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

static struct frame *frame_new(const void *p, size_t n)
{
    struct frame *f = malloc(sizeof(*f) + n);
    if (!f)
        return NULL;
    f->len = n;
    memcpy(f->data, p, n);
    return f;
}

/* Hands MHD as many queued bytes as fit in buf: frames the producer has already queued go out
 * together in one send (a burst of small SSE frames would otherwise cost a send and a poll
 * each), but the reader only waits when it has nothing at all to give. */
static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct osr_http_stream *s = cls;
    (void)pos;
    size_t done = 0;
    for (;;) {
        if (s->cur) {
            size_t left = s->cur->len - s->cur_off;
            size_t room = max - done;
            size_t n = left < room ? left : room;
            memcpy(buf + done, s->cur->data + s->cur_off, n);
            s->cur_off += n;
            done += n;
            if (s->cur_off == s->cur->len) {
                free(s->cur);
                s->cur = NULL;
            }
            atomic_fetch_add(&s->req->bytes_out, n);
            if (done == max)
                return (ssize_t)done;
            continue;
        }
        void *item = NULL;
        int rc = osr_queue_pop(s->q, &item, done ? 0 : STREAM_POLL_MS);
        if (rc == OSR_OK) {
            s->cur = item;
            s->cur_off = 0;
            continue;
        }
        if (done)
            return (ssize_t)done; /* the rest (or the end) is for the next call */
        if (rc == OSR_ECLOSED) {
            if (atomic_load(&s->by_server) && !s->terminator_sent) {
                s->terminator_sent = true;
                pthread_mutex_lock(&s->mu);
                if (s->terminator)
                    s->cur = frame_new(s->terminator, strlen(s->terminator));
                pthread_mutex_unlock(&s->mu);
                s->cur_off = 0;
                continue;
            }
            if (atomic_load(&s->cancelled) && !atomic_load(&s->by_server))
                return MHD_CONTENT_READER_END_WITH_ERROR;
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        /* Quiet producer: make sure somebody is still listening. */
        if (peer_hung_up(s->fd)) {
            atomic_store(&s->cancelled, true);
            osr_queue_close(s->q);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }
}

static void *producer_main(void *arg)
{
    struct osr_http_stream *s = arg;
    struct osr_http_request *req = s->req;
    struct osr_http_server *srv = req->srv;
    s->fn(s, s->ctx);
    if (s->ctx_free)
        s->ctx_free(s->ctx);
    s->ctx = NULL;
    osr_queue_close(s->q);

    pthread_mutex_lock(&srv->mu);
    for (struct osr_http_stream **pp = &srv->streams; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    srv->producers--;
    pthread_cond_broadcast(&srv->cv);
    pthread_mutex_unlock(&srv->mu);
    request_unref(req);
    return NULL;
}

int osr_http_respond_stream(struct osr_http_request *req, int status, const char *content_type,
                            osr_http_producer producer, void *ctx, void (*ctx_free)(void *))
{
    struct osr_http_server *srv = req->srv;
    if (req->responded) {
        if (ctx_free)
            ctx_free(ctx);
        return OSR_EINVAL;
    }
    struct osr_http_stream *s = osr_xcalloc(1, sizeof(*s));
    s->req = req;
    s->q = osr_queue_new(STREAM_QUEUE_FRAMES);
    pthread_mutex_init(&s->mu, NULL);
    atomic_init(&s->cancelled, false);
    atomic_init(&s->by_server, false);
    s->fn = producer;
    s->ctx = ctx;
    s->ctx_free = ctx_free;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    s->fd = ci ? ci->connect_fd : -1;

    struct MHD_Response *resp = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, STREAM_BLOCK_SIZE, stream_reader, s, NULL);
    if (!resp) {
        if (ctx_free)
            ctx_free(ctx);
        stream_free(s);
        return osr_http_respond_error(req, 500, "internal_error", "cannot create response", NULL,
                                      NULL);
    }
    if (content_type && !has_header(req, "Content-Type"))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    add_common_headers(req, resp);

    req->stream = s;
    atomic_fetch_add(&req->refs, 1); /* the producer's reference */
    pthread_mutex_lock(&srv->mu);
    s->next = srv->streams;
    srv->streams = s;
    srv->producers++;
    pthread_mutex_unlock(&srv->mu);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    int perr = pthread_create(&th, &attr, producer_main, s);
    pthread_attr_destroy(&attr);
    if (perr != 0) {
        pthread_mutex_lock(&srv->mu);
        for (struct osr_http_stream **pp = &srv->streams; *pp; pp = &(*pp)->next) {
            if (*pp == s) {
                *pp = s->next;
                break;
            }
        }
        srv->producers--;
        pthread_mutex_unlock(&srv->mu);
        if (ctx_free)
            ctx_free(ctx);
        req->stream = NULL;
        atomic_fetch_sub(&req->refs, 1);
        stream_free(s);
        MHD_destroy_response(resp);
        return osr_http_respond_error(req, 503, "server_error", "cannot start a stream", NULL,
                                      NULL);
    }
    req->responded = true;
    req->status = status;
    req->mhd_result = MHD_queue_response(req->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    if (req->mhd_result != MHD_YES) {
        atomic_store(&s->cancelled, true);
        osr_queue_close(s->q);
        return OSR_EIO;
    }
    return OSR_OK;
}

int osr_http_stream_write(struct osr_http_stream *s, const void *p, size_t n)
{
    if (atomic_load(&s->cancelled))
        return OSR_ECANCELED;
    if (n == 0)
        return OSR_OK;
    struct frame *f = frame_new(p, n);
    if (!f)
        return OSR_ENOMEM;
    for (;;) {
        int rc = osr_queue_push(s->q, f, STREAM_POLL_MS);
        if (rc == OSR_OK)
            return OSR_OK;
        if (rc == OSR_ECLOSED || atomic_load(&s->cancelled)) {
            free(f);
            return OSR_ECANCELED;
        }
    }
}

int osr_http_stream_printf(struct osr_http_stream *s, const char *fmt, ...)
{
    struct osr_buf b;
    osr_buf_init(&b, 16u * 1024 * 1024);
    va_list ap;
    va_start(ap, fmt);
    int rc = osr_buf_vappendf(&b, fmt, ap);
    va_end(ap);
    if (!rc)
        rc = osr_http_stream_write(s, osr_buf_str(&b), b.len);
    osr_buf_release(&b);
    return rc;
}

void osr_http_stream_set_terminator(struct osr_http_stream *s, const char *bytes)
{
    pthread_mutex_lock(&s->mu);
    free(s->terminator);
    s->terminator = bytes ? osr_xstrdup(bytes) : NULL;
    pthread_mutex_unlock(&s->mu);
}

bool osr_http_stream_cancelled(const struct osr_http_stream *s)
{
    return atomic_load(&((struct osr_http_stream *)s)->cancelled);
}

struct osr_http_request *osr_http_stream_request(struct osr_http_stream *s)
{
    return s->req;
}

/* ---------------------------------------------------------------------------------------- */
/* Request accessors.                                                                         */

const char *osr_http_request_method(const struct osr_http_request *req)
{
    return req->method;
}

const char *osr_http_request_path(const struct osr_http_request *req)
{
    return req->path;
}

const char *osr_http_request_raw_path(const struct osr_http_request *req)
{
    return req->raw_path ? req->raw_path : "";
}

const char *osr_http_request_header(const struct osr_http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *osr_http_request_query(const struct osr_http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *osr_http_request_param(const struct osr_http_request *req, const char *name)
{
    struct osr_http_request *r = (struct osr_http_request *)req;
    for (int i = 0; i < r->n_params; i++) {
        if (!osr_str_eq_cstr(r->names[i], name))
            continue;
        if (!r->param_cstr[i])
            r->param_cstr[i] = osr_arena_strndup(&r->arena, r->values[i].p, r->values[i].n);
        return r->param_cstr[i];
    }
    return NULL;
}

struct osr_str osr_http_request_body(const struct osr_http_request *req)
{
    return osr_str_make(osr_buf_str(&req->body), req->body.len);
}

const char *osr_http_request_id(const struct osr_http_request *req)
{
    return req->id;
}

const char *osr_http_request_peer(const struct osr_http_request *req)
{
    return req->peer;
}

bool osr_http_request_is_loopback(const struct osr_http_request *req)
{
    return req->loopback;
}

bool osr_http_request_is_trusted_local(const struct osr_http_request *req)
{
    return req->trusted_local;
}

struct osr_arena *osr_http_request_arena(struct osr_http_request *req)
{
    return &req->arena;
}

struct osr_http_server *osr_http_request_server(struct osr_http_request *req)
{
    return req->srv;
}

/* ---------------------------------------------------------------------------------------- */
/* Dispatch: CORS, OPTIONS, HEAD, 404/405, the gate, the handler.                            */

static const char *allowed_origin(struct osr_http_server *srv, const char *origin)
{
    if (srv->n_origins == 0)
        return NULL;
    for (size_t i = 0; i < srv->n_origins; i++) {
        if (strcmp(srv->origins[i], "*") == 0)
            return "*";
        if (origin && strcmp(srv->origins[i], origin) == 0)
            return origin;
    }
    return NULL;
}

/* Keeps only RFC 7230 token characters plus ", " separators, so an echoed request header can
 * never inject a header of its own. */
static void sanitize_token_list(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (; *in && n + 1 < cap; in++) {
        unsigned char c = (unsigned char)*in;
        bool tchar = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     (c && strchr("!#$%&'*+-.^_`|~", c));
        if (tchar || c == ',' || c == ' ')
            out[n++] = (char)c;
    }
    out[n] = '\0';
}

static void add_cors_headers(struct osr_http_request *req)
{
    const char *origin = osr_http_request_header(req, "Origin");
    const char *allow = allowed_origin(req->srv, origin);
    if (!allow)
        return;
    osr_http_add_header(req, "Access-Control-Allow-Origin", allow);
    if (strcmp(allow, "*") != 0)
        osr_http_add_header(req, "Vary", "Origin");
}

static void respond_preflight(struct osr_http_request *req)
{
    char methods[256], headers[1024];
    const char *rm = osr_http_request_header(req, "Access-Control-Request-Method");
    const char *rh = osr_http_request_header(req, "Access-Control-Request-Headers");
    sanitize_token_list(rm ? rm : "", methods, sizeof(methods));
    sanitize_token_list(rh ? rh : "", headers, sizeof(headers));
    osr_http_add_header(req, "Access-Control-Allow-Methods",
                        methods[0] ? methods : "GET, POST, OPTIONS, HEAD");
    osr_http_add_header(req, "Access-Control-Allow-Headers",
                        headers[0] ? headers : "Content-Type, Authorization");
    osr_http_add_header(req, "Access-Control-Max-Age", "600");
    osr_http_respond(req, 204, NULL, "", 0);
}

static void respond_method_not_allowed(struct osr_http_request *req)
{
    struct osr_buf allow;
    osr_buf_init(&allow, 256);
    for (size_t i = 0; i < req->srv->n_routes; i++) {
        const struct osr_route *r = &req->srv->routes[i];
        struct osr_str n[MAX_PARAMS], v[MAX_PARAMS];
        if (osr_http_match_pattern(r->pattern, req->path, n, v, MAX_PARAMS) < 0)
            continue;
        if (!strstr(osr_buf_str(&allow), r->method))
            osr_buf_appendf(&allow, "%s%s", allow.len ? ", " : "", r->method);
    }
    osr_http_add_header(req, "Allow", osr_buf_str(&allow));
    osr_buf_release(&allow);
    char msg[PATH_MAX_LEN + 96];
    snprintf(msg, sizeof(msg), "Method %s is not allowed for %s", req->method,
             osr_http_request_raw_path(req));
    osr_http_respond_error(req, 405, "invalid_request_error", msg, NULL, "method_not_allowed");
}

static bool gate_allows(struct osr_http_request *req)
{
    struct osr_http_server *srv = req->srv;
    bool relayed = osr_http_request_header(req, RELAY_MARKER_HEADER) != NULL;
    if (req->loopback && !srv->expose && !relayed) {
        req->trusted_local = true;
        return true;
    }
    int status = 401;
    char message[256];
    snprintf(message, sizeof(message),
             "No access keys configured. Create one in Osaurus settings.");
    if (srv->auth_fn &&
        srv->auth_fn(srv->auth_ctx, req, &status, message, sizeof(message)) == OSR_OK)
        return true;
    if (status == 403)
        osr_http_respond_error(req, 403, "permission_error", message, NULL, "agent_scope_denied");
    else
        osr_http_respond_error(req, status, "authentication_error", message, NULL, NULL);
    return false;
}

static void dispatch(struct osr_http_request *req)
{
    add_cors_headers(req);
    if (strcmp(req->method, "OPTIONS") == 0) {
        respond_preflight(req);
        return;
    }
    if (req->path[0] == '\0') {
        osr_http_respond_error(req, 400, "invalid_request_error", "Invalid request path", NULL,
                               "invalid_path");
        return;
    }
    if (req->route_status == 404) {
        if (strcmp(req->method, "HEAD") == 0) {
            osr_http_respond(req, 204, NULL, "", 0);
            return;
        }
        char msg[PATH_MAX_LEN + 64];
        snprintf(msg, sizeof(msg), "Unknown route: %s %s", req->method,
                 osr_http_request_raw_path(req));
        osr_http_respond_error(req, 404, "invalid_request_error", msg, NULL, "not_found");
        return;
    }
    if (req->route_status == 405) {
        respond_method_not_allowed(req);
        return;
    }
    if (req->route->auth == OSR_AUTH_GATED && !gate_allows(req))
        return;
    req->route->handler(req, req->route->ctx);
    if (!req->responded) {
        OSR_ERROR("handler for %s %s produced no response", req->method, req->path);
        osr_http_respond_error(req, 500, "internal_error", "The handler produced no response", NULL,
                               NULL);
    }
}

struct header_tally {
    int count;
    size_t bytes;
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    struct header_tally *t = cls;
    (void)kind;
    t->count++;
    t->bytes += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": " and CRLF */
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct osr_http_server *srv = cls;
    struct osr_http_request *req = *con_cls;
    (void)version;
    if (!req) {
        req = request_new(srv, conn, url, method);
        *con_cls = req;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        struct conn_info *info = ci ? ci->socket_context : NULL;
        if (info && info->over_limit) {
            osr_http_add_header(req, "Connection", "close");
            osr_http_add_header(req, "Retry-After", "1");
            osr_http_respond_error(req, 503, "server_error",
                                   "Too many connections; try again shortly", NULL,
                                   "too_many_connections");
            return req->mhd_result;
        }
        struct header_tally tally = {0, strlen(url) + strlen(method) + 12};
        MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, &tally);
        if (tally.count > srv->max_header_count || tally.bytes > srv->max_header_bytes) {
            osr_http_add_header(req, "Connection", "close");
            osr_http_respond_error(req, 431, "invalid_request_error",
                                   tally.count > srv->max_header_count
                                       ? "Too many request headers"
                                       : "Request headers are too large",
                                   NULL, "headers_too_large");
            return req->mhd_result;
        }
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(cl, &end, 10);
            if (errno || *end != '\0' || v > req->body.max) {
                osr_http_add_header(req, "Connection", "close");
                osr_http_respond_error(req, 413, "invalid_request_error",
                                       "Request body is too large", NULL, "body_too_large");
                return req->mhd_result;
            }
        }
        return MHD_YES;
    }
    if (req->responded) {
        *upload_data_size = 0; /* an early answer (413, 431, 503) was queued: drain quietly */
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!req->body_too_big && osr_buf_append(&req->body, upload_data, *upload_data_size))
            req->body_too_big = true;
        *upload_data_size = 0;
        int64_t elapsed_ms = (osr_mono_ns() - req->start_ns) / 1000000;
        if (elapsed_ms > (int64_t)srv->request_timeout_s * 1000) {
            OSR_WARN("%s %s: request body not received within %d s, closing (%s)", req->method,
                     req->raw_path, srv->request_timeout_s, req->peer);
            return MHD_NO;
        }
        return MHD_YES;
    }
    if (req->body_too_big) {
        osr_http_add_header(req, "Connection", "close");
        osr_http_respond_error(req, 413, "invalid_request_error", "Request body is too large", NULL,
                               "body_too_large");
        return req->mhd_result;
    }
    dispatch(req);
    return req->mhd_result;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct osr_http_server *srv = cls;
    struct osr_http_request *req = *con_cls;
    (void)conn;
    if (!req)
        return;
    *con_cls = NULL;
    if (req->stream && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) {
        atomic_store(&req->stream->cancelled, true);
        osr_queue_close(req->stream->q);
    }
    double ms = (double)(osr_mono_ns() - req->start_ns) / 1e6;
    const char *how = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (client gone)";
    if (req->stream && atomic_load(&req->stream->by_server))
        how = " (ended by shutdown)";
    OSR_INFO("%s %s %d %llu %.1fms %s%s", req->method, osr_http_request_raw_path(req), req->status,
             (unsigned long long)atomic_load(&req->bytes_out), ms, req->id, how);
    atomic_fetch_sub(&srv->inflight, 1);
    pthread_mutex_lock(&srv->mu);
    pthread_cond_broadcast(&srv->cv);
    pthread_mutex_unlock(&srv->mu);
    request_unref(req);
}

/* ---------------------------------------------------------------------------------------- */
/* Connection accounting: the total and per-address caps are enforced here so an over-limit
 * client gets a 503 it can read, not a silent close.                                        */

static struct ip_slot *ip_slot_find(struct osr_http_server *srv, const char *addr, bool create)
{
    unsigned h = 5381;
    for (const char *p = addr; *p; p++)
        h = h * 33 + (unsigned char)*p;
    struct ip_slot *free_slot = NULL;
    for (size_t i = 0; i < IP_TABLE_SIZE; i++) {
        struct ip_slot *s = &srv->ips[(h + i) % IP_TABLE_SIZE];
        if (s->addr[0] == '\0') {
            if (!free_slot)
                free_slot = s;
            if (s->count == 0 && !create)
                continue;
            break;
        }
        if (strcmp(s->addr, addr) == 0)
            return s;
    }
    if (create && free_slot) {
        snprintf(free_slot->addr, sizeof(free_slot->addr), "%s", addr);
        free_slot->count = 0;
        return free_slot;
    }
    return NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct osr_http_server *srv = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        struct conn_info *info = osr_xcalloc(1, sizeof(*info));
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        format_addr(ci ? ci->client_addr : NULL, info->addr, sizeof(info->addr));
        pthread_mutex_lock(&srv->mu);
        srv->connections++;
        struct ip_slot *slot = ip_slot_find(srv, info->addr, true);
        if (slot)
            slot->count++;
        info->over_limit = srv->connections > srv->max_connections ||
                           (srv->max_connections_per_ip > 0 &&
                            (!slot || slot->count > srv->max_connections_per_ip));
        pthread_mutex_unlock(&srv->mu);
        *socket_context = info;
        return;
    }
    struct conn_info *info = *socket_context;
    if (!info)
        return;
    pthread_mutex_lock(&srv->mu);
    srv->connections--;
    struct ip_slot *slot = ip_slot_find(srv, info->addr, false);
    if (slot && slot->count > 0)
        slot->count--;
    /* The slot keeps its address so probing chains stay intact; a count of 0 marks it
     * reusable by the same address.  Addresses are bounded by the table size. */
    pthread_mutex_unlock(&srv->mu);
    free(info);
    *socket_context = NULL;
}

__attribute__((format(printf, 2, 0))) static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    OSR_DEBUG("microhttpd: %s", line);
}

/* ---------------------------------------------------------------------------------------- */
/* Server lifetime.                                                                           */

struct osr_http_server *osr_http_server_new(const struct osr_server_config *cfg, int port_override)
{
    struct osr_http_server *srv = osr_xcalloc(1, sizeof(*srv));
    srv->listen_fd = -1;
    srv->port = port_override >= 0 ? port_override : cfg->port;
    srv->expose = cfg->expose;
    srv->max_header_count = cfg->max_header_count;
    srv->max_body = cfg->max_body;
    srv->idle_timeout_s = cfg->idle_timeout_s;
    srv->request_timeout_s = cfg->request_timeout_s;
    srv->max_connections = cfg->max_connections;
    srv->max_connections_per_ip = cfg->max_connections_per_ip;
    srv->max_header_bytes = cfg->max_header_bytes;
    srv->backlog = cfg->backlog;
    srv->n_origins = cfg->n_allowed_origins;
    srv->origins = osr_xcalloc(srv->n_origins ? srv->n_origins : 1, sizeof(char *));
    for (size_t i = 0; i < srv->n_origins; i++)
        srv->origins[i] = osr_xstrdup(cfg->allowed_origins[i]);
    snprintf(srv->address, sizeof(srv->address), "%s", srv->expose ? "0.0.0.0" : "127.0.0.1");
    pthread_mutex_init(&srv->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->cv, &attr);
    pthread_condattr_destroy(&attr);
    atomic_init(&srv->inflight, 0);
    atomic_init(&srv->shutting_down, false);
    return srv;
}

void osr_http_server_add_route(struct osr_http_server *srv, const struct osr_route *route)
{
    if (srv->n_routes == srv->cap_routes) {
        srv->cap_routes = srv->cap_routes ? srv->cap_routes * 2 : 16;
        srv->routes = osr_xrealloc(srv->routes, srv->cap_routes * sizeof(*srv->routes));
    }
    srv->routes[srv->n_routes++] = *route;
}

void osr_http_server_set_auth(struct osr_http_server *srv, osr_http_auth_fn fn, void *ctx)
{
    srv->auth_fn = fn;
    srv->auth_ctx = ctx;
}

static int open_listener(struct osr_http_server *srv, struct osr_diag *diag)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return osr_diag_set(diag, OSR_EIO, "cannot create a socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sin = {0};
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)srv->port);
    sin.sin_addr.s_addr = htonl(srv->expose ? INADDR_ANY : INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
        int e = errno;
        close(fd);
        return osr_diag_set(diag, e == EADDRINUSE ? OSR_EBUSY : OSR_EIO,
                            "cannot listen on %s:%d: %s", srv->address, srv->port, strerror(e));
    }
    if (listen(fd, srv->backlog) != 0) {
        int e = errno;
        close(fd);
        return osr_diag_set(diag, OSR_EIO, "cannot listen on %s:%d: %s", srv->address, srv->port,
                            strerror(e));
    }
    socklen_t sl = sizeof(sin);
    if (getsockname(fd, (struct sockaddr *)&sin, &sl) == 0)
        srv->port = ntohs(sin.sin_port);
    srv->listen_fd = fd;
    return OSR_OK;
}

int osr_http_server_start(struct osr_http_server *srv, struct osr_diag *diag)
{
    int rc = open_listener(srv, diag);
    if (rc)
        return rc;
    /* MHD's own cap is a backstop well above ours, so that our accounting (and its 503)
     * sees the over-limit connections first. */
    unsigned hard_limit = (unsigned)srv->max_connections * 2 + 64;
    /* One option and its value per line. */
    /* clang-format off */
    srv->daemon = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ITC |
            MHD_USE_ERROR_LOG,
        0, NULL, NULL, on_request, srv,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)srv->listen_fd,
        MHD_OPTION_CONNECTION_LIMIT, hard_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)srv->idle_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, srv->max_header_bytes + 16 * 1024,
        MHD_OPTION_THREAD_STACK_SIZE, (size_t)(512 * 1024),
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, srv,
        MHD_OPTION_END);
    /* clang-format on */
    if (!srv->daemon) {
        close(srv->listen_fd);
        srv->listen_fd = -1;
        return osr_diag_set(diag, OSR_EIO, "cannot start the HTTP server on %s:%d", srv->address,
                            srv->port);
    }
    return OSR_OK;
}

int osr_http_server_port(const struct osr_http_server *srv)
{
    return srv->port;
}

const char *osr_http_server_address(const struct osr_http_server *srv)
{
    return srv->address;
}

bool osr_http_server_exposed(const struct osr_http_server *srv)
{
    return srv->expose;
}

int osr_http_server_inflight(const struct osr_http_server *srv)
{
    return atomic_load(&((struct osr_http_server *)srv)->inflight);
}

/* Waits on srv->cv (with mu held) until done(srv) or the deadline; returns done(srv). */
static bool wait_until(struct osr_http_server *srv, bool (*done)(struct osr_http_server *),
                       int64_t deadline_ns)
{
    while (!done(srv)) {
        int64_t left = deadline_ns - osr_mono_ns();
        if (left <= 0)
            return false;
        if (left > 50000000)
            left = 50000000; /* re-check at least every 50 ms */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += (long)left;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&srv->cv, &srv->mu, &ts);
    }
    return true;
}

static bool drained(struct osr_http_server *srv)
{
    return srv->producers == 0 && atomic_load(&srv->inflight) == 0;
}

static bool producers_done(struct osr_http_server *srv)
{
    return srv->producers == 0;
}

void osr_http_server_shutdown(struct osr_http_server *srv, int grace_ms)
{
    if (!srv->daemon || srv->stopped)
        return;
    srv->stopped = true;
    atomic_store(&srv->shutting_down, true);
    MHD_socket lfd = MHD_quiesce_daemon(srv->daemon);
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
    srv->listen_fd = -1;

    pthread_mutex_lock(&srv->mu);
    for (struct osr_http_stream *s = srv->streams; s; s = s->next) {
        atomic_store(&s->by_server, true);
        atomic_store(&s->cancelled, true);
        osr_queue_close(s->q);
    }
    if (!wait_until(srv, drained, osr_mono_ns() + (int64_t)grace_ms * 1000000))
        OSR_WARN("shutdown: %d request(s) still open after %d ms, closing them",
                 atomic_load(&srv->inflight), grace_ms);
    pthread_mutex_unlock(&srv->mu);

    MHD_stop_daemon(srv->daemon);
    srv->daemon = NULL;

    /* Producers notice cancellation at their next write; give them time to return. */
    pthread_mutex_lock(&srv->mu);
    if (!wait_until(srv, producers_done, osr_mono_ns() + 10000000000LL))
        OSR_ERROR("shutdown: %d stream producer(s) did not stop", srv->producers);
    pthread_mutex_unlock(&srv->mu);
}

void osr_http_server_free(struct osr_http_server *srv)
{
    if (!srv)
        return;
    osr_http_server_shutdown(srv, 2000);
    if (srv->listen_fd >= 0)
        close(srv->listen_fd);
    pthread_mutex_lock(&srv->mu);
    bool busy = srv->producers > 0;
    pthread_mutex_unlock(&srv->mu);
    if (busy)
        return; /* a producer still holds the server: leaking beats a use-after-free */
    for (size_t i = 0; i < srv->n_origins; i++)
        free(srv->origins[i]);
    free(srv->origins);
    free(srv->routes);
    pthread_cond_destroy(&srv->cv);
    pthread_mutex_destroy(&srv->mu);
    free(srv);
}
