/* test_http_server.c - the HTTP server over real loopback HTTP: routes, normalization, CORS,
 * HEAD/OPTIONS, the auth gate, limits, keep-alive, streaming, client disconnect and graceful
 * shutdown.  Each test starts its own server on 127.0.0.1:0. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "check.h"
#include "net/http_test_client.h"
#include "osr/api_core.h"
#include "osr/api_models.h"
#include "osr/clock.h"
#include "osr/http_server.h"
#include "osr/json.h"
#include "osr/log.h"

static struct osr_api_core core;
/* GET /models from a registry that finds nothing (an empty home, no other sources). */
static struct osr_api_models models_api;

struct server {
    struct osr_http_server *srv;
    struct osr_server_config cfg;
    int port;
    char base[64];
};

/* --- test routes ------------------------------------------------------------------------ */

static void handle_echo(struct osr_http_request *req, void *ctx)
{
    (void)ctx;
    struct osr_str body = osr_http_request_body(req);
    osr_http_respond(req, 200, "application/octet-stream", body.p, body.n);
}

static void handle_param(struct osr_http_request *req, void *ctx)
{
    (void)ctx;
    char out[256];
    const char *rest = osr_http_request_param(req, "*");
    snprintf(out, sizeof(out), "id=%s rest=%s", osr_http_request_param(req, "id"),
             rest ? rest : "(none)");
    osr_http_respond(req, 200, "text/plain", out, strlen(out));
}

static void handle_silent(struct osr_http_request *req, void *ctx)
{
    (void)req;
    (void)ctx; /* answers nothing: the server must answer 500 for it */
}

/* Producer state shared with the tests. */
static atomic_int prod_frames;
static atomic_int prod_cancelled;
static atomic_int prod_done;
static atomic_int prod_mode; /* 0: 5 frames; 1: forever; 2: silent until cancelled */

static void producer(struct osr_http_stream *s, void *ctx)
{
    (void)ctx;
    osr_http_stream_set_terminator(s, "data: [DONE]\n\n");
    int mode = atomic_load(&prod_mode);
    for (int i = 0;; i++) {
        if (mode == 0 && i == 5)
            break;
        if (mode == 2) {
            if (osr_http_stream_cancelled(s)) {
                atomic_store(&prod_cancelled, 1);
                break;
            }
            osr_sleep_ms(20);
            continue;
        }
        if (osr_http_stream_printf(s, "data: %d\n\n", i) != OSR_OK) {
            atomic_store(&prod_cancelled, 1);
            break;
        }
        atomic_fetch_add(&prod_frames, 1);
        osr_sleep_ms(mode == 1 ? 10 : 2);
    }
    if (mode == 0)
        osr_http_stream_write(s, "data: [DONE]\n\n", 14);
    atomic_store(&prod_done, 1);
}

static void handle_stream(struct osr_http_request *req, void *ctx)
{
    (void)ctx;
    osr_http_add_header(req, "Cache-Control", "no-cache");
    osr_http_respond_stream(req, 200, "text/event-stream", producer, NULL, NULL);
}

static int accept_good_key(void *ctx, struct osr_http_request *req, int *status, char *message,
                           size_t cap)
{
    (void)ctx;
    const char *auth = osr_http_request_header(req, "Authorization");
    if (auth && strcmp(auth, "Bearer good") == 0)
        return OSR_OK;
    *status = 401;
    snprintf(message, cap, "Invalid access key: test");
    return OSR_EAUTH;
}

static void start_server(struct server *s, void (*tweak)(struct osr_server_config *))
{
    osr_server_config_defaults(&s->cfg);
    if (tweak)
        tweak(&s->cfg);
    s->srv = osr_http_server_new(&s->cfg, 0);
    core.started_mono_ns = osr_mono_ns();
    core.started_wall_ms = osr_wall_ms();
    core.instance_id = "test-instance";
    osr_api_core_register(s->srv, &core);
    if (!models_api.reg) {
        static char empty_home[] = "/tmp/osr-http-home-XXXXXX";
        OSR_ASSERT(mkdtemp(empty_home) != NULL);
        struct osr_registry_options o = {empty_home, true, true, true};
        models_api.reg = osr_registry_new(&o);
        rmdir(empty_home); /* a missing store is an empty one */
    }
    osr_api_models_register_with(s->srv, &models_api);
    const struct osr_route routes[] = {
        {"POST", "/echo", handle_echo, OSR_AUTH_GATED, NULL, 0},
        {"POST", "/small", handle_echo, OSR_AUTH_GATED, NULL, 2048},
        {"GET", "/agents/{id}/run", handle_param, OSR_AUTH_GATED, NULL, 0},
        {"*", "/plugins/{id}/*", handle_param, OSR_AUTH_OWN, NULL, 0},
        {"GET", "/silent", handle_silent, OSR_AUTH_PUBLIC, NULL, 0},
        {"POST", "/stream", handle_stream, OSR_AUTH_PUBLIC, NULL, 0},
        {"POST", "/messages", handle_echo, OSR_AUTH_GATED, NULL, 0, OSR_ERRORS_ANTHROPIC},
        {"POST", "/generate", handle_echo, OSR_AUTH_GATED, NULL, 0, OSR_ERRORS_OLLAMA},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        osr_http_server_add_route(s->srv, &routes[i]);
    struct osr_diag d;
    osr_diag_clear(&d);
    int rc = osr_http_server_start(s->srv, &d);
    if (rc) {
        fprintf(stderr, "cannot start server: %s\n", d.msg);
        exit(1);
    }
    s->port = osr_http_server_port(s->srv);
    snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%d", s->port);
}

static void stop_server(struct server *s)
{
    osr_http_server_free(s->srv);
    osr_server_config_release(&s->cfg);
}

static struct test_resp get(struct server *s, const char *path, const char *const *headers)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", s->base, path);
    return test_request(NULL, "GET", url, NULL, 0, headers);
}

static struct test_resp call(struct server *s, const char *method, const char *path,
                             const char *body, size_t len, const char *const *headers)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", s->base, path);
    return test_request(NULL, method, url, body, len, headers);
}

/* --- tests -------------------------------------------------------------------------------- */

static void test_core_routes(void)
{
    struct server s;
    start_server(&s, NULL);
    struct test_resp r = get(&s, "/", NULL);
    CHECK_INT_EQ(r.status, 200);
    CHECK_STR_EQ(osr_buf_str(&r.body), OSR_BANNER);
    char h[256];
    CHECK(test_header(&r, "Content-Type", h, sizeof(h)) && strstr(h, "text/plain"));
    CHECK(test_header(&r, "X-Request-Id", h, sizeof(h)) && strncmp(h, "req_", 4) == 0);
    test_resp_release(&r);

    r = get(&s, "/health", NULL);
    CHECK_INT_EQ(r.status, 200);
    struct json_object *o = NULL;
    REQUIRE(osr_json_parse(osr_buf_str(&r.body), r.body.len, &o, NULL) == OSR_OK);
    const char *status = NULL, *ts = NULL;
    osr_json_get_string(o, "status", true, &status, NULL);
    osr_json_get_string(o, "timestamp", true, &ts, NULL);
    CHECK_STR_EQ(status, "healthy");
    CHECK(ts && strlen(ts) == 20 && ts[10] == 'T' && ts[19] == 'Z');
    struct json_object *arr = NULL;
    CHECK(osr_json_get_array(o, "resident_models", true, &arr, NULL) == OSR_OK);
    json_object_put(o);
    test_resp_release(&r);

    /* Every prefix form reaches the same route. */
    const char *forms[] = {"/models",     "/v1/models",   "/api/models",   "/v1/api/models",
                           "/v1/models/", "//v1//models", "/v1/models?x=1"};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        r = get(&s, forms[i], NULL);
        CHECK_INT_EQ(r.status, 200);
        CHECK_STR_EQ(osr_buf_str(&r.body), "{\"object\":\"list\",\"data\":[]}");
        test_resp_release(&r);
    }
    stop_server(&s);
}

static void test_errors_404_405_500(void)
{
    struct server s;
    start_server(&s, NULL);
    struct test_resp r = get(&s, "/v1/nope", NULL);
    CHECK_INT_EQ(r.status, 404);
    struct json_object *o = NULL;
    REQUIRE(osr_json_parse(osr_buf_str(&r.body), r.body.len, &o, NULL) == OSR_OK);
    struct json_object *err = NULL;
    REQUIRE(osr_json_get_object(o, "error", true, &err, NULL) == OSR_OK);
    const char *type = NULL, *msg = NULL;
    osr_json_get_string(err, "type", true, &type, NULL);
    osr_json_get_string(err, "message", true, &msg, NULL);
    CHECK_STR_EQ(type, "invalid_request_error");
    CHECK(msg && strstr(msg, "/v1/nope"));
    CHECK(json_object_object_get_ex(err, "param", NULL));
    json_object_put(o);
    test_resp_release(&r);

    r = call(&s, "DELETE", "/health", NULL, 0, NULL);
    CHECK_INT_EQ(r.status, 405);
    char h[128];
    CHECK(test_header(&r, "Allow", h, sizeof(h)) && strcmp(h, "GET") == 0);
    CHECK(strstr(osr_buf_str(&r.body), "\"type\":\"invalid_request_error\"") != NULL);
    test_resp_release(&r);

    r = get(&s, "/silent", NULL);
    CHECK_INT_EQ(r.status, 500);
    test_resp_release(&r);
    stop_server(&s);
}

static void test_params_and_body(void)
{
    struct server s;
    start_server(&s, NULL);
    struct test_resp r = get(&s, "/v1/agents/abc-123/run", NULL);
    CHECK_INT_EQ(r.status, 200);
    CHECK_STR_EQ(osr_buf_str(&r.body), "id=abc-123 rest=(none)");
    test_resp_release(&r);
    r = call(&s, "PUT", "/plugins/p1/a/b", "x", 1, NULL);
    CHECK_INT_EQ(r.status, 200);
    CHECK_STR_EQ(osr_buf_str(&r.body), "id=p1 rest=a/b");
    test_resp_release(&r);

    /* A binary body with NULs comes back byte for byte. */
    char body[3000];
    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (char)(i * 7);
    r = call(&s, "POST", "/echo", body, sizeof(body), NULL);
    CHECK_INT_EQ(r.status, 200);
    CHECK_INT_EQ(r.body.len, sizeof(body));
    CHECK(r.body.len == sizeof(body) && memcmp(r.body.data, body, sizeof(body)) == 0);
    test_resp_release(&r);

    /* A client's request id is echoed when it is sane, replaced when not. */
    const char *hdr_ok[] = {"X-Request-Id: my-req.42", NULL};
    r = get(&s, "/health", hdr_ok);
    char h[128];
    CHECK(test_header(&r, "X-Request-Id", h, sizeof(h)) && strcmp(h, "my-req.42") == 0);
    test_resp_release(&r);
    const char *hdr_bad[] = {"X-Request-Id: bad id with spaces", NULL};
    r = get(&s, "/health", hdr_bad);
    CHECK(test_header(&r, "X-Request-Id", h, sizeof(h)) && strncmp(h, "req_", 4) == 0);
    test_resp_release(&r);
    stop_server(&s);
}

static void test_head_and_options(void)
{
    struct server s;
    start_server(&s, NULL);
    struct test_resp r = call(&s, "HEAD", "/health", NULL, 0, NULL);
    CHECK_INT_EQ(r.status, 200);
    CHECK_INT_EQ(r.body.len, 0);
    test_resp_release(&r);
    r = call(&s, "HEAD", "/no/such/path", NULL, 0, NULL);
    CHECK_INT_EQ(r.status, 204);
    test_resp_release(&r);

    const char *pre[] = {"Origin: http://app.example", "Access-Control-Request-Method: POST",
                         "Access-Control-Request-Headers: content-type, x-<evil>", NULL};
    r = call(&s, "OPTIONS", "/v1/chat/completions", NULL, 0, pre);
    CHECK_INT_EQ(r.status, 204);
    char h[256];
    CHECK(test_header(&r, "Access-Control-Allow-Methods", h, sizeof(h)) && strcmp(h, "POST") == 0);
    CHECK(test_header(&r, "Access-Control-Allow-Headers", h, sizeof(h)) &&
          strcmp(h, "content-type, x-evil") == 0);
    CHECK(test_header(&r, "Access-Control-Max-Age", h, sizeof(h)) && strcmp(h, "600") == 0);
    /* No allowedOrigins configured: no Allow-Origin. */
    CHECK(test_header(&r, "Access-Control-Allow-Origin", h, sizeof(h)) == NULL);
    test_resp_release(&r);
    const char *bare[] = {NULL};
    r = call(&s, "OPTIONS", "/health", NULL, 0, bare);
    CHECK(test_header(&r, "Access-Control-Allow-Methods", h, sizeof(h)) &&
          strcmp(h, "GET, POST, OPTIONS, HEAD") == 0);
    CHECK(test_header(&r, "Access-Control-Allow-Headers", h, sizeof(h)) &&
          strcmp(h, "Content-Type, Authorization") == 0);
    test_resp_release(&r);
    stop_server(&s);
}

static void origins_exact(struct osr_server_config *c)
{
    c->allowed_origins = malloc(2 * sizeof(char *));
    c->allowed_origins[0] = strdup("http://a.example");
    c->allowed_origins[1] = strdup("http://b.example");
    c->n_allowed_origins = 2;
}

static void origins_star(struct osr_server_config *c)
{
    c->allowed_origins = malloc(sizeof(char *));
    c->allowed_origins[0] = strdup("*");
    c->n_allowed_origins = 1;
}

static void test_cors(void)
{
    struct server s;
    start_server(&s, origins_exact);
    char h[256];
    const char *oa[] = {"Origin: http://b.example", NULL};
    struct test_resp r = get(&s, "/health", oa);
    CHECK(test_header(&r, "Access-Control-Allow-Origin", h, sizeof(h)) &&
          strcmp(h, "http://b.example") == 0);
    CHECK(test_header(&r, "Vary", h, sizeof(h)) && strcmp(h, "Origin") == 0);
    test_resp_release(&r);
    const char *oc[] = {"Origin: http://c.example", NULL};
    r = get(&s, "/health", oc);
    CHECK(test_header(&r, "Access-Control-Allow-Origin", h, sizeof(h)) == NULL);
    test_resp_release(&r);
    /* CORS headers ride on errors too, so browsers can read them. */
    r = get(&s, "/nope", oa);
    CHECK_INT_EQ(r.status, 404);
    CHECK(test_header(&r, "Access-Control-Allow-Origin", h, sizeof(h)) != NULL);
    test_resp_release(&r);
    stop_server(&s);

    start_server(&s, origins_star);
    r = get(&s, "/health", oc);
    CHECK(test_header(&r, "Access-Control-Allow-Origin", h, sizeof(h)) && strcmp(h, "*") == 0);
    CHECK(test_header(&r, "Vary", h, sizeof(h)) == NULL);
    test_resp_release(&r);
    stop_server(&s);
}

static void exposed(struct osr_server_config *c)
{
    c->expose = true;
}

static void test_auth_gate(void)
{
    struct server s;
    /* Not exposed: loopback is trusted... */
    start_server(&s, NULL);
    struct test_resp r = call(&s, "POST", "/echo", "hi", 2, NULL);
    CHECK_INT_EQ(r.status, 200);
    test_resp_release(&r);
    /* ...but never a request that came through the relay. */
    const char *relayed[] = {"X-Osaurus-Relay: 1", NULL};
    r = call(&s, "POST", "/echo", "hi", 2, relayed);
    CHECK_INT_EQ(r.status, 401);
    CHECK(strstr(osr_buf_str(&r.body), "\"type\":\"authentication_error\"") != NULL);
    CHECK(strstr(osr_buf_str(&r.body), "No access keys configured") != NULL);
    test_resp_release(&r);
    /* Each protocol's clients get the gate's answer in their own error shape. */
    r = call(&s, "POST", "/v1/messages", "{}", 2, relayed);
    CHECK_INT_EQ(r.status, 401);
    CHECK(strncmp(osr_buf_str(&r.body),
                  "{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\","
                  "\"message\":",
                  60) == 0);
    test_resp_release(&r);
    r = call(&s, "POST", "/api/generate", "{}", 2, relayed);
    CHECK_INT_EQ(r.status, 401);
    CHECK(strncmp(osr_buf_str(&r.body), "{\"error\":\"No access keys", 24) == 0);
    test_resp_release(&r);
    /* Public routes stay public for relayed requests. */
    r = get(&s, "/health", relayed);
    CHECK_INT_EQ(r.status, 200);
    test_resp_release(&r);
    stop_server(&s);

    /* Exposed: loopback is no longer trusted. */
    start_server(&s, exposed);
    CHECK(osr_http_server_exposed(s.srv));
    CHECK_STR_EQ(osr_http_server_address(s.srv), "0.0.0.0");
    r = get(&s, "/v1/models", NULL);
    CHECK_INT_EQ(r.status, 401);
    test_resp_release(&r);
    r = get(&s, "/health", NULL);
    CHECK_INT_EQ(r.status, 200);
    test_resp_release(&r);
    /* Own-auth routes are left to their handler. */
    r = call(&s, "GET", "/plugins/x/y", NULL, 0, NULL);
    CHECK_INT_EQ(r.status, 200);
    test_resp_release(&r);
    osr_http_server_set_auth(s.srv, accept_good_key, NULL);
    const char *good[] = {"Authorization: Bearer good", NULL};
    const char *bad[] = {"Authorization: Bearer bad", NULL};
    r = get(&s, "/v1/models", good);
    CHECK_INT_EQ(r.status, 200);
    test_resp_release(&r);
    r = get(&s, "/v1/models", bad);
    CHECK_INT_EQ(r.status, 401);
    CHECK(strstr(osr_buf_str(&r.body), "Invalid access key: test") != NULL);
    test_resp_release(&r);
    stop_server(&s);
}

static void small_limits(struct osr_server_config *c)
{
    c->max_body = 4096;
    c->max_header_count = 20;
    c->max_header_bytes = 4096;
    c->max_connections_per_ip = 3;
    c->idle_timeout_s = 1;
}

static void test_limits(void)
{
    struct server s;
    start_server(&s, small_limits);
    char *big = malloc(10000);
    memset(big, 'a', 10000);
    /* Over the cap with Content-Length: refused up front. */
    struct test_resp r = call(&s, "POST", "/echo", big, 5000, NULL);
    CHECK_INT_EQ(r.status, 413);
    CHECK(strstr(osr_buf_str(&r.body), "too large") != NULL);
    test_resp_release(&r);
    /* Just under passes. */
    r = call(&s, "POST", "/echo", big, 4096, NULL);
    CHECK_INT_EQ(r.status, 200);
    CHECK_INT_EQ(r.body.len, 4096);
    test_resp_release(&r);
    /* A route's own, smaller cap. */
    r = call(&s, "POST", "/small", big, 3000, NULL);
    CHECK_INT_EQ(r.status, 413);
    test_resp_release(&r);
    /* Chunked upload with no Content-Length: counted while it streams in. */
    const char *chunked[] = {"Transfer-Encoding: chunked", NULL};
    r = call(&s, "POST", "/echo", big, 10000, chunked);
    CHECK_INT_EQ(r.status, 413);
    test_resp_release(&r);
    free(big);

    /* Too many headers. */
    const char *many[40];
    char names[39][32];
    for (int i = 0; i < 39; i++) {
        snprintf(names[i], sizeof(names[i]), "X-H%d: v", i);
        many[i] = names[i];
    }
    many[39] = NULL;
    r = get(&s, "/health", many);
    CHECK_INT_EQ(r.status, 431);
    test_resp_release(&r);
    /* Headers too large: 431, and the server stays up. */
    char *huge = malloc(8192);
    snprintf(huge, 8192, "X-Big: ");
    memset(huge + 7, 'b', 8000);
    huge[8007] = '\0';
    const char *hb[] = {huge, NULL};
    r = get(&s, "/health", hb);
    CHECK_INT_EQ(r.status, 431);
    CHECK(strstr(osr_buf_str(&r.body), "headers are too large") != NULL);
    test_resp_release(&r);
    free(huge);
    r = get(&s, "/health", NULL);
    CHECK_INT_EQ(r.status, 200);
    test_resp_release(&r);

    /* Per-address connection cap: the fourth connection gets a readable 503. */
    int fds[3];
    for (int i = 0; i < 3; i++)
        fds[i] = test_connect(s.port);
    osr_sleep_ms(100);
    r = get(&s, "/health", NULL);
    CHECK_INT_EQ(r.status, 503);
    CHECK(strstr(osr_buf_str(&r.body), "too_many_connections") != NULL);
    test_resp_release(&r);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    osr_sleep_ms(200);
    r = get(&s, "/health", NULL);
    CHECK_INT_EQ(r.status, 200);
    test_resp_release(&r);

    /* Idle connections are closed (idle timeout 1 s). */
    int fd = test_connect(s.port);
    char buf[256];
    int closed = 0;
    test_read_some(fd, buf, sizeof(buf), 5000, &closed);
    CHECK(closed);
    close(fd);
    /* A slow client that stops mid-headers is dropped the same way. */
    fd = test_connect(s.port);
    test_send_all(fd, "GET /health HTTP/1.1\r\nHost: x\r\n", 31);
    test_read_some(fd, buf, sizeof(buf), 5000, &closed);
    CHECK(closed);
    close(fd);
    stop_server(&s);
}

static void test_keep_alive(void)
{
    struct server s;
    start_server(&s, NULL);
    CURL *curl = curl_easy_init();
    char url[128];
    snprintf(url, sizeof(url), "%s/health", s.base);
    struct test_resp r1 = test_request(curl, "GET", url, NULL, 0, NULL);
    struct test_resp r2 = test_request(curl, "GET", url, NULL, 0, NULL);
    CHECK_INT_EQ(r1.status, 200);
    CHECK_INT_EQ(r2.status, 200);
    CHECK_INT_EQ(r1.connects, 1);
    CHECK_INT_EQ(r2.connects, 0); /* the second request reused the connection */
    test_resp_release(&r1);
    test_resp_release(&r2);
    curl_easy_cleanup(curl);
    stop_server(&s);
}

static void reset_producer(int mode)
{
    atomic_store(&prod_frames, 0);
    atomic_store(&prod_cancelled, 0);
    atomic_store(&prod_done, 0);
    atomic_store(&prod_mode, mode);
}

/* Waits (bounded) for flag to become non-zero; a liveness guard, not a timing assertion. */
static int wait_flag(atomic_int *flag, int max_ms)
{
    for (int waited = 0; waited < max_ms; waited += 10) {
        if (atomic_load(flag))
            return 1;
        osr_sleep_ms(10);
    }
    return atomic_load(flag);
}

static void test_streaming(void)
{
    struct server s;
    start_server(&s, NULL);
    reset_producer(0);
    struct test_resp r = call(&s, "POST", "/stream", "{}", 2, NULL);
    CHECK_INT_EQ(r.status, 200);
    CHECK_STR_EQ(osr_buf_str(&r.body),
                 "data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\ndata: [DONE]\n\n");
    char h[128];
    CHECK(test_header(&r, "Transfer-Encoding", h, sizeof(h)) && strcmp(h, "chunked") == 0);
    CHECK(test_header(&r, "Content-Type", h, sizeof(h)) && strcmp(h, "text/event-stream") == 0);
    CHECK(test_header(&r, "Cache-Control", h, sizeof(h)) && strcmp(h, "no-cache") == 0);
    test_resp_release(&r);
    CHECK(wait_flag(&prod_done, 10000));
    CHECK_INT_EQ(atomic_load(&prod_cancelled), 0);
    stop_server(&s);
}

static void test_disconnect_cancels_producer(void)
{
    struct server s;
    start_server(&s, NULL);
    /* A talking producer: the write after the hang-up fails. */
    reset_producer(1);
    int fd = test_connect(s.port);
    const char *req = "POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
    test_send_all(fd, req, strlen(req));
    char buf[4096];
    int closed;
    size_t n = test_read_some(fd, buf, sizeof(buf), 2000, &closed);
    CHECK(n > 0 && strstr(buf, "200 OK") && strstr(buf, "data: 0"));
    close(fd);
    CHECK(wait_flag(&prod_cancelled, 10000));
    CHECK(wait_flag(&prod_done, 10000));
    int frames_at_cancel = atomic_load(&prod_frames);
    osr_sleep_ms(100);
    CHECK_INT_EQ(atomic_load(&prod_frames), frames_at_cancel); /* it stopped for good */

    /* A silent producer: the server notices the hang-up without a write. */
    reset_producer(2);
    fd = test_connect(s.port);
    test_send_all(fd, req, strlen(req));
    test_read_some(fd, buf, sizeof(buf), 300, &closed);
    close(fd);
    CHECK(wait_flag(&prod_cancelled, 10000));
    CHECK(wait_flag(&prod_done, 10000));
    stop_server(&s);
}

struct shutdown_arg {
    struct osr_http_server *srv;
};

static void *shutdown_later(void *arg)
{
    struct shutdown_arg *a = arg;
    osr_sleep_ms(200);
    osr_http_server_shutdown(a->srv, 3000);
    return NULL;
}

static void test_graceful_shutdown(void)
{
    struct server s;
    start_server(&s, NULL);
    reset_producer(1);
    pthread_t th;
    struct shutdown_arg a = {s.srv};
    pthread_create(&th, NULL, shutdown_later, &a);
    /* The open stream ends with its terminator and a clean end of the chunked body. */
    struct test_resp r = call(&s, "POST", "/stream", "{}", 2, NULL);
    pthread_join(th, NULL);
    CHECK_INT_EQ(r.status, 200);
    const char *body = osr_buf_str(&r.body);
    size_t len = r.body.len;
    CHECK(len > 14 && strcmp(body + len - 14, "data: [DONE]\n\n") == 0);
    CHECK(strncmp(body, "data: 0\n\n", 9) == 0);
    test_resp_release(&r);
    CHECK(atomic_load(&prod_cancelled));
    CHECK(atomic_load(&prod_done));
    /* Nothing listens any more. */
    int fd = test_connect(s.port);
    CHECK(fd < 0);
    if (fd >= 0)
        close(fd);
    stop_server(&s);
}

static void test_port_in_use(void)
{
    struct server s;
    start_server(&s, NULL);
    struct osr_server_config cfg;
    osr_server_config_defaults(&cfg);
    struct osr_http_server *second = osr_http_server_new(&cfg, s.port);
    struct osr_diag d;
    osr_diag_clear(&d);
    int rc = osr_http_server_start(second, &d);
    CHECK_INT_EQ(rc, OSR_EBUSY);
    CHECK(strstr(d.msg, "127.0.0.1") && strstr(d.msg, "in use"));
    osr_http_server_free(second);
    osr_server_config_release(&cfg);
    stop_server(&s);
}

static void setup(void)
{
    osr_log_set_level(OSR_LOG_WARN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void test_setup(void)
{
    setup();
    CHECK(1);
}

TEST_MAIN(test_setup, test_core_routes, test_errors_404_405_500, test_params_and_body,
          test_head_and_options, test_cors, test_auth_gate, test_limits, test_keep_alive,
          test_streaming, test_disconnect_cancels_producer, test_graceful_shutdown,
          test_port_in_use)
