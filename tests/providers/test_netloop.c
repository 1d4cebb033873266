/* test_netloop.c - the providers' network thread.  A raw HTTP/1.1 server on 127.0.0.1:0 (one
 * thread per connection) answers GET /big/<seed>/<bytes> with a patterned body, /endless with
 * a chunked body that never ends, and /silent with headers and then nothing; it records when
 * its peer closed.  The fake model server of fake_upstream.h answers chat streams.
 * Checks: 50 chat streams at once all finish with the right text; 50 raw transfers at once
 * each get their own bytes; a slow reader makes the transfer pause, loses nothing and holds
 * at most the cap; cancel while paused and cancel while the upstream is silent return at once
 * and close the connection; a backend's chat cancelled during a silent upstream returns
 * OSR_ECANCELED; the thread stops when the last reference goes and starts again, cycle
 * after cycle, with no thread left behind. */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "check.h"
#include "fake_upstream.h"
#include "osr/chat_service.h"
#include "osr/clock.h"
#include "osr/json.h"
#include "osr/netloop.h"
#include "osr/provider.h"

/* ---------------------------------------------------------------- the raw server */

#define MAX_CONNS 128

static int raw_fd = -1;
static int raw_port;
static atomic_int raw_stop;
static atomic_int raw_closed;   /* connections whose peer went away mid-answer */
static atomic_int raw_silent;   /* /silent connections that got their headers */
static pthread_t raw_conn_threads[MAX_CONNS];
static atomic_int raw_n_conns;
static pthread_t raw_thread;

static unsigned char pattern(unsigned seed, size_t i)
{
    return (unsigned char)((i * 31u) ^ (i >> 11) ^ (seed * 131u));
}

static bool send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    int64_t deadline = osr_mono_ns() + (int64_t)20 * 1000000000;
    while (n) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && osr_mono_ns() < deadline &&
            !atomic_load(&raw_stop))
            continue; /* SO_SNDTIMEO ran out: the reader is paused; try again */
        if (k <= 0)
            return false;
        c += k;
        n -= (size_t)k;
    }
    return true;
}

static void *raw_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    char req[4096];
    size_t have = 0;
    while (have < sizeof(req) - 1) {
        ssize_t k = recv(fd, req + have, sizeof(req) - 1 - have, 0);
        if (k <= 0)
            goto out;
        have += (size_t)k;
        req[have] = '\0';
        if (strstr(req, "\r\n\r\n"))
            break;
    }
    unsigned seed = 0;
    unsigned long size = 0;
    if (sscanf(req, "GET /big/%u/%lu", &seed, &size) == 2) {
        char head[256];
        int hn = snprintf(head, sizeof(head),
                          "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                          "Content-Length: %lu\r\n\r\n",
                          size);
        if (!send_all(fd, head, (size_t)hn))
            goto out;
        unsigned char block[8192];
        for (size_t off = 0; off < size;) {
            size_t k = size - off < sizeof(block) ? size - off : sizeof(block);
            for (size_t i = 0; i < k; i++)
                block[i] = pattern(seed, off + i);
            if (!send_all(fd, block, k)) {
                atomic_fetch_add(&raw_closed, 1);
                goto out;
            }
            off += k;
        }
    } else if (strncmp(req, "GET /endless", 12) == 0) {
        const char *head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n";
        if (!send_all(fd, head, strlen(head)))
            goto out;
        static char chunk[8192 + 16];
        int cn = snprintf(chunk, 16, "%x\r\n", 8192);
        memset(chunk + cn, 'e', 8192);
        memcpy(chunk + cn + 8192, "\r\n", 2);
        int64_t deadline = osr_mono_ns() + (int64_t)15 * 1000000000;
        while (osr_mono_ns() < deadline && !atomic_load(&raw_stop)) {
            ssize_t k = send(fd, chunk, (size_t)cn + 8194, MSG_NOSIGNAL);
            if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                continue;
            if (k <= 0) {
                atomic_fetch_add(&raw_closed, 1);
                break;
            }
        }
    } else if (strncmp(req, "GET /silent", 11) == 0) {
        const char *head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n";
        if (!send_all(fd, head, strlen(head)))
            goto out;
        atomic_fetch_add(&raw_silent, 1);
        for (int i = 0; i < 150 && !atomic_load(&raw_stop); i++) {
            struct pollfd pf = {.fd = fd, .events = POLLIN};
            if (poll(&pf, 1, 100) > 0) {
                char b[64];
                if (recv(fd, b, sizeof(b), 0) <= 0) {
                    atomic_fetch_add(&raw_closed, 1);
                    break;
                }
            }
        }
    }
out:
    close(fd);
    return NULL;
}

static void *raw_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&raw_stop)) {
        struct pollfd pf = {.fd = raw_fd, .events = POLLIN};
        if (poll(&pf, 1, 50) <= 0)
            continue;
        int fd = accept(raw_fd, NULL, NULL);
        if (fd < 0)
            continue;
        int i = atomic_load(&raw_n_conns);
        if (i >= MAX_CONNS || pthread_create(&raw_conn_threads[i], NULL, raw_conn,
                                             (void *)(intptr_t)fd) != 0) {
            close(fd);
            continue;
        }
        atomic_store(&raw_n_conns, i + 1);
    }
    return NULL;
}

static bool raw_start(void)
{
    raw_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (raw_fd < 0)
        return false;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    if (bind(raw_fd, (struct sockaddr *)&a, sizeof(a)) || listen(raw_fd, 128) ||
        getsockname(raw_fd, (struct sockaddr *)&a, &al))
        return false;
    raw_port = ntohs(a.sin_port);
    return pthread_create(&raw_thread, NULL, raw_main, NULL) == 0;
}

static void raw_finish(void)
{
    atomic_store(&raw_stop, 1);
    pthread_join(raw_thread, NULL);
    for (int i = 0; i < atomic_load(&raw_n_conns); i++)
        pthread_join(raw_conn_threads[i], NULL);
    close(raw_fd);
}

static CURL *raw_easy(const char *path)
{
    CURL *e = curl_easy_init();
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", raw_port, path);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    return e;
}

/* Waits (up to ms) until the flag reaches want. */
static bool wait_for(atomic_int *flag, int want, int ms)
{
    for (int i = 0; i < ms / 10 && atomic_load(flag) < want; i++)
        osr_sleep_ms(10);
    return atomic_load(flag) >= want;
}

/* How many threads of this process are the network thread. */
static int net_threads(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], comm[32] = "";
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (fgets(comm, sizeof(comm), f) && strncmp(comm, "osr-net", 7) == 0)
            n++;
        fclose(f);
    }
    closedir(d);
    return n;
}

/* ---------------------------------------------------------------- raw transfers */

static void test_slow_reader(void)
{
    const size_t cap = 64 * 1024, total = 4u << 20;
    char path[64];
    snprintf(path, sizeof(path), "/big/7/%zu", total);
    CURL *e = raw_easy(path);
    struct osr_netloop_xfer *x = osr_netloop_xfer_new(e, cap);
    REQUIRE(x != NULL);
    REQUIRE(osr_netloop_xfer_start(x) == OSR_OK);
    CHECK_INT_EQ(osr_netloop_xfer_start(x), OSR_EBUSY);
    /* Nobody reads: the queue fills and the transfer pauses. */
    struct osr_netloop_info info;
    for (int i = 0; i < 300; i++) {
        osr_netloop_xfer_info(x, &info);
        if (info.paused)
            break;
        osr_sleep_ms(10);
    }
    CHECK(info.paused);
    CHECK(info.queued <= cap + CURL_MAX_WRITE_SIZE);
    CHECK(!info.ended);
    CHECK_INT_EQ(info.status, 200);
    /* Read it all, slowly at times; every byte arrives in order. */
    static char buf[4096];
    size_t got = 0, bad = 0;
    bool ended = false;
    for (int reads = 0; !ended && reads < 200000; reads++) {
        size_t n = 0;
        osr_netloop_xfer_read(x, buf, sizeof(buf), &n, &ended, 250);
        for (size_t i = 0; i < n; i++)
            bad += (unsigned char)buf[i] != pattern(7, got + i);
        got += n;
        if (reads % 256 == 0)
            osr_sleep_ms(2);
    }
    CHECK(ended);
    CHECK_INT_EQ(got, total);
    CHECK_INT_EQ(bad, 0);
    osr_netloop_xfer_info(x, &info);
    CHECK(info.pauses >= 1);
    CHECK(info.queued_max <= cap + CURL_MAX_WRITE_SIZE);
    CHECK_INT_EQ(info.result, CURLE_OK);
    osr_netloop_xfer_free(x);
    curl_easy_cleanup(e);
}

struct raw_job {
    unsigned seed;
    size_t size;
    int rc;
    long status;
    size_t bad;
    size_t got;
};

static void *raw_job_main(void *arg)
{
    struct raw_job *j = arg;
    char path[64];
    snprintf(path, sizeof(path), "/big/%u/%zu", j->seed, j->size);
    CURL *e = raw_easy(path);
    struct osr_buf out;
    osr_buf_init(&out, 1 << 20);
    CURLcode cc;
    j->rc = osr_netloop_perform(e, &out, &j->status, &cc);
    j->got = out.len;
    for (size_t i = 0; i < out.len; i++)
        j->bad += (unsigned char)out.data[i] != pattern(j->seed, i);
    osr_buf_release(&out);
    curl_easy_cleanup(e);
    return NULL;
}

static void test_many_raw(void)
{
    enum { N = 50 };
    static struct raw_job jobs[N];
    pthread_t th[N];
    REQUIRE(osr_netloop_acquire() == OSR_OK); /* one thread life for all of them */
    for (int i = 0; i < N; i++) {
        jobs[i] = (struct raw_job){.seed = (unsigned)i + 1, .size = 20000 + (size_t)i * 997};
        REQUIRE(pthread_create(&th[i], NULL, raw_job_main, &jobs[i]) == 0);
    }
    int ok = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ok += jobs[i].rc == OSR_OK && jobs[i].status == 200 && jobs[i].got == jobs[i].size &&
              jobs[i].bad == 0;
    }
    CHECK_INT_EQ(ok, N);
    /* A body over the collector's cap is refused, not truncated. */
    CURL *e = raw_easy("/big/3/300000");
    struct osr_buf out;
    osr_buf_init(&out, 100000);
    long status;
    CURLcode cc;
    CHECK_INT_EQ(osr_netloop_perform(e, &out, &status, &cc), OSR_ETOOBIG);
    osr_buf_release(&out);
    curl_easy_cleanup(e);
    osr_netloop_release();
}

static void test_cancel_paused(void)
{
    int closed0 = atomic_load(&raw_closed);
    CURL *e = raw_easy("/endless");
    struct osr_netloop_xfer *x = osr_netloop_xfer_new(e, 32 * 1024);
    REQUIRE(x != NULL);
    REQUIRE(osr_netloop_xfer_start(x) == OSR_OK);
    struct osr_netloop_info info;
    for (int i = 0; i < 300; i++) {
        osr_netloop_xfer_info(x, &info);
        if (info.paused)
            break;
        osr_sleep_ms(10);
    }
    CHECK(info.paused);
    int64_t t0 = osr_mono_ns();
    osr_netloop_xfer_cancel(x);
    int64_t ms = (osr_mono_ns() - t0) / 1000000;
    CHECK(ms < 1000);
    osr_netloop_xfer_info(x, &info);
    CHECK(info.ended);
    CHECK(!info.paused);
    CHECK_INT_EQ(info.queued, 0);
    CHECK_INT_EQ(info.result, CURLE_ABORTED_BY_CALLBACK);
    size_t n = 1;
    bool ended = false;
    char b[16];
    osr_netloop_xfer_read(x, b, sizeof(b), &n, &ended, 10);
    CHECK_INT_EQ(n, 0);
    CHECK(ended);
    /* The upstream sees its connection closed. */
    CHECK(wait_for(&raw_closed, closed0 + 1, 5000));
    osr_netloop_xfer_free(x);
    curl_easy_cleanup(e);
}

struct canceller {
    struct osr_netloop_xfer *x;
    int delay_ms;
};

static void *cancel_later(void *arg)
{
    struct canceller *c = arg;
    osr_sleep_ms(c->delay_ms);
    osr_netloop_xfer_cancel(c->x);
    return NULL;
}

static void test_cancel_silent(void)
{
    int closed0 = atomic_load(&raw_closed), silent0 = atomic_load(&raw_silent);
    CURL *e = raw_easy("/silent");
    struct osr_netloop_xfer *x = osr_netloop_xfer_new(e, 0);
    REQUIRE(x != NULL);
    REQUIRE(osr_netloop_xfer_start(x) == OSR_OK);
    CHECK(wait_for(&raw_silent, silent0 + 1, 3000));
    /* The reader waits in ticks; another thread cancels. */
    struct canceller c = {x, 200};
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, cancel_later, &c) == 0);
    int64_t t0 = osr_mono_ns();
    bool ended = false;
    size_t total = 0, ticks = 0;
    char b[256];
    while (!ended && osr_mono_ns() - t0 < (int64_t)3 * 1000000000) {
        size_t n = 0;
        osr_netloop_xfer_read(x, b, sizeof(b), &n, &ended, 100);
        total += n;
        ticks++;
    }
    pthread_join(th, NULL);
    int64_t ms = (osr_mono_ns() - t0) / 1000000;
    CHECK(ended);
    CHECK_INT_EQ(total, 0);
    CHECK(ticks >= 2);
    CHECK(ms >= 150 && ms < 1500);
    CHECK(wait_for(&raw_closed, closed0 + 1, 5000));
    osr_netloop_xfer_free(x);
    curl_easy_cleanup(e);
}

/* ---------------------------------------------------------------- through a provider */

static struct osr_chat_backend *fake_backend(int timeout_s)
{
    char json[512];
    snprintf(json, sizeof(json),
             "{\"id\":\"p\",\"host\":\"127.0.0.1\",\"providerProtocol\":\"http\",\"port\":%d,"
             "\"basePath\":\"\",\"authType\":\"none\",\"providerType\":\"openai\","
             "\"timeout\":%d}",
             fake.port, timeout_s);
    struct json_object *o = NULL;
    if (osr_json_parse(json, strlen(json), &o, NULL) != OSR_OK)
        return NULL;
    struct osr_provider p;
    struct osr_diag d;
    osr_diag_clear(&d);
    int rc = osr_provider_parse(o, NULL, &p, &d);
    json_object_put(o);
    if (rc)
        return NULL;
    struct osr_chat_backend *b = osr_provider_backend_new(&p);
    osr_provider_release(&p);
    return b;
}

struct chat_job {
    struct osr_chat_backend *b;
    const char *model;
    char text[256];
    int finishes;
    enum osr_finish finish;
    int rc;
    int64_t cancel_at_ns; /* 0: never */
};

static int job_emit(struct osr_sink *s, const struct osr_event *ev)
{
    struct chat_job *j = s->ctx;
    if (ev->kind == OSR_EV_TEXT_DELTA) {
        size_t len = strlen(j->text);
        snprintf(j->text + len, sizeof(j->text) - len, "%.*s", (int)ev->text.n, ev->text.p);
    } else if (ev->kind == OSR_EV_FINISH) {
        j->finish = ev->finish;
        j->finishes++;
    }
    return 0;
}

static bool job_cancelled(void *ctx)
{
    struct chat_job *j = ctx;
    return j->cancel_at_ns && osr_mono_ns() >= j->cancel_at_ns;
}

static void *chat_job_main(void *arg)
{
    struct chat_job *j = arg;
    struct osr_chat_request req;
    osr_chat_request_init(&req, 1 << 20);
    req.model = j->model;
    struct osr_message *m = osr_chat_request_add_message(&req, OSR_ROLE_USER);
    osr_chat_message_add_text(&req, m, "Hi", 2);
    struct osr_sink sink = {job_emit, j};
    struct osr_chat_cancel cancel = {job_cancelled, j};
    j->rc = j->b->ops->chat(j->b, j->model, &req, &sink, &cancel);
    osr_chat_request_release(&req);
    return NULL;
}

static void test_many_streams(void)
{
    enum { N = 50 };
    struct osr_chat_backend *b = fake_backend(20);
    REQUIRE(b != NULL);
    static struct chat_job jobs[N];
    static char names[N][16];
    pthread_t th[N];
    int before = atomic_load(&fake.requests);
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "text-%d", i);
        jobs[i] = (struct chat_job){.b = b, .model = names[i]};
        REQUIRE(pthread_create(&th[i], NULL, chat_job_main, &jobs[i]) == 0);
    }
    int ok = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ok += jobs[i].rc == OSR_OK && strcmp(jobs[i].text, "Hello world") == 0 &&
              jobs[i].finishes == 1 && jobs[i].finish == OSR_FINISH_STOP;
    }
    CHECK_INT_EQ(ok, N);
    CHECK_INT_EQ(atomic_load(&fake.requests) - before, N);
    char *last = fake_last_body();
    CHECK(strstr(last, "\"model\":\"text-") != NULL);
    free(last);
    b->ops->free(b);
}

static void test_chat_cancel_silent(void)
{
    struct osr_chat_backend *b = fake_backend(20);
    REQUIRE(b != NULL);
    atomic_store(&fake.slow_cancelled, 0);
    atomic_store(&fake.slow_started, 0);
    struct chat_job j = {.b = b, .model = "silent"};
    int64_t t0 = osr_mono_ns();
    j.cancel_at_ns = t0 + (int64_t)300 * 1000000;
    chat_job_main(&j);
    int64_t ms = (osr_mono_ns() - t0) / 1000000;
    CHECK_INT_EQ(j.rc, OSR_ECANCELED);
    CHECK(ms >= 250 && ms < 2000);
    CHECK_INT_EQ(j.finishes, 0);
    CHECK(wait_for(&fake.slow_cancelled, 1, 5000));
    /* A silent upstream past the provider's timeout is an error, not a hang. */
    struct osr_chat_backend *quick = fake_backend(1);
    REQUIRE(quick != NULL);
    struct chat_job k = {.b = quick, .model = "silent"};
    t0 = osr_mono_ns();
    chat_job_main(&k);
    ms = (osr_mono_ns() - t0) / 1000000;
    CHECK_INT_EQ(k.rc, OSR_OK); /* the error went to the sink as an ERROR event */
    CHECK(ms >= 900 && ms < 3000);
    CHECK_INT_EQ(k.finishes, 0);
    quick->ops->free(quick);
    b->ops->free(b);
}

static void test_restart_cycles(void)
{
    CHECK(!osr_netloop_running());
    CHECK_INT_EQ(net_threads(), 0);
    int ok = 0;
    for (int i = 0; i < 12; i++) {
        struct osr_chat_backend *b = fake_backend(20);
        REQUIRE(b != NULL);
        bool up = osr_netloop_running() && net_threads() == 1;
        struct chat_job j = {.b = b, .model = "text"};
        chat_job_main(&j);
        b->ops->free(b);
        ok += up && j.rc == OSR_OK && strcmp(j.text, "Hello world") == 0 &&
              !osr_netloop_running() && net_threads() == 0;
    }
    CHECK_INT_EQ(ok, 12);
    /* Two holders: the thread lives until the last one lets go. */
    REQUIRE(osr_netloop_acquire() == OSR_OK);
    REQUIRE(osr_netloop_acquire() == OSR_OK);
    osr_netloop_release();
    CHECK(osr_netloop_running());
    CHECK_INT_EQ(net_threads(), 1);
    osr_netloop_release();
    CHECK(!osr_netloop_running());
    CHECK_INT_EQ(net_threads(), 0);
}

static void test_all(void)
{
    osr_providers_global_init();
    REQUIRE(raw_start());
    fake_start();
    test_restart_cycles();
    test_slow_reader();
    test_many_raw();
    test_cancel_paused();
    test_cancel_silent();
    test_many_streams();
    test_chat_cancel_silent();
    CHECK(!osr_netloop_running());
    fake_stop();
    raw_finish();
}

TEST_MAIN(test_all)
