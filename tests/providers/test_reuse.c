/* test_reuse.c - a provider keeps its upstream connection for the next request.  A raw
 * one-thread HTTP/1.1 server on 127.0.0.1:0 counts the connections it accepts and answers each
 * request with a chunked SSE stream; in its "endless" mode the chunked body is never
 * terminated after "[DONE]", as a misbehaving server might do.  Checks: sequential answers
 * share one connection; an answer whose body does not end still finishes promptly (the
 * finished transfer is cut after a short drain) and the next request connects anew; a stop
 * string matched here cuts the transfer at once. */
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "osr/chat_service.h"
#include "osr/clock.h"
#include "osr/json.h"
#include "osr/provider.h"

static int listen_fd = -1;
static int port;
static atomic_int accepts;
static atomic_int requests;
static atomic_int endless; /* 1: never terminate the chunked body */

static const char answer_head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                  "Transfer-Encoding: chunked\r\n\r\n";
static const char answer_events[] =
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hello\"},"
    "\"finish_reason\":null}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" world\"},\"finish_reason\":"
    "null}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
    "data: [DONE]\n\n";

static bool write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0)
            return false;
        p += k;
        n -= (size_t)k;
    }
    return true;
}

/* Reads one request (headers and a Content-Length body).  False when the peer closed. */
static bool read_request(int fd)
{
    char buf[65536];
    size_t have = 0;
    char *end = NULL;
    while (!end) {
        if (have == sizeof(buf) - 1)
            return false;
        ssize_t k = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);
        if (k <= 0)
            return false;
        have += (size_t)k;
        buf[have] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    size_t body = 0;
    const char *cl = strcasestr(buf, "Content-Length:");
    if (cl)
        body = (size_t)strtoul(cl + 15, NULL, 10);
    size_t got = have - (size_t)(end + 4 - buf);
    while (got < body) {
        ssize_t k = recv(fd, buf, sizeof(buf), 0);
        if (k <= 0)
            return false;
        got += (size_t)k;
    }
    return true;
}

static void serve_connection(int fd)
{
    while (read_request(fd)) {
        atomic_fetch_add(&requests, 1);
        char chunk[64];
        snprintf(chunk, sizeof(chunk), "%zx\r\n", sizeof(answer_events) - 1);
        if (!write_all(fd, answer_head, sizeof(answer_head) - 1) ||
            !write_all(fd, chunk, strlen(chunk)) ||
            !write_all(fd, answer_events, sizeof(answer_events) - 1) || !write_all(fd, "\r\n", 2))
            break;
        if (atomic_load(&endless)) {
            char c;
            while (recv(fd, &c, 1, 0) > 0) {
                /* hold the body open until the client gives up */
            }
            break;
        }
        if (!write_all(fd, "0\r\n\r\n", 5))
            break;
    }
    close(fd);
}

static void *server_main(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0)
            return NULL;
        atomic_fetch_add(&accepts, 1);
        serve_connection(fd);
    }
}

struct collect {
    char text[256];
    enum osr_finish finish;
    int finishes;
};

static int collect_emit(struct osr_sink *s, const struct osr_event *ev)
{
    struct collect *c = s->ctx;
    if (ev->kind == OSR_EV_TEXT_DELTA) {
        size_t len = strlen(c->text);
        snprintf(c->text + len, sizeof(c->text) - len, "%.*s", (int)ev->text.n, ev->text.p);
    } else if (ev->kind == OSR_EV_FINISH) {
        c->finish = ev->finish;
        c->finishes++;
    }
    return 0;
}

static int ask(struct osr_chat_backend *b, const char *stop, struct collect *c)
{
    struct osr_chat_request req;
    osr_chat_request_init(&req, 1 << 20);
    req.model = "p/m";
    struct osr_message *m = osr_chat_request_add_message(&req, OSR_ROLE_USER);
    osr_chat_message_add_text(&req, m, "Hi", 2);
    const char *stops[1] = {stop};
    if (stop) {
        req.sampling.stop = stops;
        req.sampling.n_stop = 1;
    }
    memset(c, 0, sizeof(*c));
    struct osr_sink sink = {collect_emit, c};
    int rc = b->ops->chat(b, "m", &req, &sink, NULL);
    osr_chat_request_release(&req);
    return rc;
}

static void test_reuse(void)
{
    osr_providers_global_init();
    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(listen_fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    REQUIRE(bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    REQUIRE(listen(listen_fd, 8) == 0);
    REQUIRE(getsockname(listen_fd, (struct sockaddr *)&a, &al) == 0);
    port = ntohs(a.sin_port);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, server_main, NULL) == 0);

    char json[512];
    snprintf(json, sizeof(json),
             "{\"id\":\"p\",\"host\":\"127.0.0.1\",\"providerProtocol\":\"http\",\"port\":%d,"
             "\"authType\":\"none\",\"providerType\":\"openai\",\"timeout\":20}",
             port);
    struct json_object *o = NULL;
    REQUIRE(osr_json_parse(json, strlen(json), &o, NULL) == OSR_OK);
    struct osr_provider p;
    struct osr_diag d;
    osr_diag_clear(&d);
    REQUIRE(osr_provider_parse(o, NULL, &p, &d) == OSR_OK);
    json_object_put(o);
    struct osr_chat_backend *b = osr_provider_backend_new(&p);
    osr_provider_release(&p);

    /* Three answers in a row: one connection. */
    struct collect c;
    for (int i = 0; i < 3; i++) {
        CHECK_INT_EQ(ask(b, NULL, &c), OSR_OK);
        CHECK_STR_EQ(c.text, "Hello world");
        CHECK_INT_EQ(c.finish, OSR_FINISH_STOP);
        CHECK_INT_EQ(c.finishes, 1);
    }
    CHECK_INT_EQ(atomic_load(&requests), 3);
    CHECK_INT_EQ(atomic_load(&accepts), 1);

    /* A body that never ends after [DONE]: the answer is whole and the call returns soon
     * (the drain is cut after a quarter second), and that connection is not reused. */
    atomic_store(&endless, 1);
    int64_t t0 = osr_mono_ns();
    CHECK_INT_EQ(ask(b, NULL, &c), OSR_OK);
    int64_t ms = (osr_mono_ns() - t0) / 1000000;
    CHECK_STR_EQ(c.text, "Hello world");
    CHECK_INT_EQ(c.finishes, 1);
    CHECK(ms < 3000);
    atomic_store(&endless, 0);
    CHECK_INT_EQ(ask(b, NULL, &c), OSR_OK);
    CHECK_STR_EQ(c.text, "Hello world");
    CHECK_INT_EQ(atomic_load(&accepts), 2);

    /* A stop string matched here: cut at once, even from an endless body. */
    atomic_store(&endless, 1);
    t0 = osr_mono_ns();
    CHECK_INT_EQ(ask(b, "o w", &c), OSR_OK);
    CHECK_STR_EQ(c.text, "Hell");
    CHECK_INT_EQ(c.finish, OSR_FINISH_STOP_SEQUENCE);
    CHECK((osr_mono_ns() - t0) / 1000000 < 200);
    atomic_store(&endless, 0);

    b->ops->free(b);
    shutdown(listen_fd, SHUT_RDWR);
    close(listen_fd);
    pthread_join(th, NULL);
}

TEST_MAIN(test_reuse)
