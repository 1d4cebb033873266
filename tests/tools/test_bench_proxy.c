/* test_bench_proxy.c - the two halves of bench/proxy.sh, and a small self-check as a CTest.
 *
 * OSR_BENCH_MODE=upstream: serves on 127.0.0.1 (any free port; prints "bench upstream on port
 *   N") an OpenAI-compatible fake that answers every POST /chat/completions with a stream of
 *   OSR_BENCH_CHUNKS (default 500) content chunks written as fast as it can, then a finish
 *   chunk, a usage chunk and [DONE]; GET /models lists "burst".  Runs until killed.
 * OSR_BENCH_MODE=client: runs OSR_BENCH_CONCURRENCY (default 100) streaming requests at once
 *   against OSR_BENCH_DIRECT (the upstream's /chat/completions, model "burst") and then
 *   OSR_BENCH_PROXIED (a server's /v1/chat/completions, model OSR_BENCH_MODEL), each after one
 *   unmeasured warm-up round, and prints for
 *   each: time to first content frame and the gap between consecutive frames (p50/p99), and
 *   frames/s over all requests; then the differences (what the server in between adds).
 * Without OSR_BENCH_MODE it is a CTest: upstream and client in-process, a few requests, and
 * checks that every frame arrived and the numbers are sane.  Numbers only: the benchmark
 * asserts nothing about speed. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "osr/alloc.h"
#include "osr/buf.h"
#include "osr/clock.h"
#include "osr/config.h"
#include "osr/http_server.h"

#define MAX_FRAMES 4096 /* frame times kept per request */
#define MAX_CONCURRENCY 1024

/* ---- the upstream --------------------------------------------------------------------------- */

static struct osr_buf burst_body;

static void build_burst(int chunks)
{
    osr_buf_init(&burst_body, (size_t)64 << 20);
    osr_buf_puts(&burst_body,
                 "data: {\"id\":\"b\",\"object\":\"chat.completion.chunk\",\"choices\":"
                 "[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
                 "\"finish_reason\":null}]}\n\n");
    for (int i = 0; i < chunks; i++)
        osr_buf_appendf(&burst_body,
                        "data: {\"id\":\"b\",\"object\":\"chat.completion.chunk\",\"choices\":"
                        "[{\"index\":0,\"delta\":{\"content\":\"t%d \"},\"finish_reason\":null}]}"
                        "\n\n",
                        i);
    osr_buf_appendf(
        &burst_body,
        "data: {\"id\":\"b\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":"
        "0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
        "data: {\"id\":\"b\",\"object\":\"chat.completion.chunk\",\"choices\":[],"
        "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":%d,\"total_tokens\":%d}}"
        "\n\ndata: [DONE]\n\n",
        chunks, chunks + 5);
}

static void on_chat(struct osr_http_request *req, void *ctx)
{
    (void)ctx;
    osr_http_respond(req, 200, "text/event-stream", burst_body.data, burst_body.len);
}

static void on_models(struct osr_http_request *req, void *ctx)
{
    (void)ctx;
    const char *b = "{\"object\":\"list\",\"data\":[{\"id\":\"burst\",\"object\":\"model\"}]}";
    osr_http_respond(req, 200, "application/json", b, strlen(b));
}

static struct osr_http_server *upstream_start(struct osr_server_config *cfg)
{
    osr_server_config_defaults(cfg);
    struct osr_http_server *srv = osr_http_server_new(cfg, 0);
    const struct osr_route routes[] = {
        {"POST", "/chat/completions", on_chat, OSR_AUTH_PUBLIC, NULL, 0},
        {"GET", "/models", on_models, OSR_AUTH_PUBLIC, NULL, 0},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        osr_http_server_add_route(srv, &routes[i]);
    struct osr_diag d;
    osr_diag_clear(&d);
    if (osr_http_server_start(srv, &d)) {
        fprintf(stderr, "bench upstream: %s\n", d.msg);
        exit(1);
    }
    return srv;
}

/* ---- the client ----------------------------------------------------------------------------- */

struct stream_run {
    const char *url;
    const char *body;
    pthread_barrier_t *start;
    int64_t t0_ns;
    int64_t first_ns;  /* first frame with content, or 0 */
    int64_t *frame_ns; /* arrival time of each frame */
    size_t n_frames;
    size_t content_frames;
    int state; /* bytes of "\n\n" matched so far */
    long status;
    struct osr_buf tail; /* the current frame, to see whether it holds content */
};

static size_t on_bytes(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct stream_run *r = ud;
    size_t n = size * nmemb;
    int64_t now = osr_mono_ns();
    for (size_t i = 0; i < n; i++) {
        char c = ptr[i];
        osr_buf_putc(&r->tail, c);
        if (c == '\n' && r->state == 1) {
            /* A frame ended. */
            if (r->n_frames < MAX_FRAMES)
                r->frame_ns[r->n_frames] = now;
            r->n_frames++;
            if (strstr(osr_buf_str(&r->tail), "\"content\":\"t")) {
                r->content_frames++;
                if (!r->first_ns)
                    r->first_ns = now;
            }
            osr_buf_reset(&r->tail);
            r->state = 0;
        } else if (c == '\n') {
            r->state = 1;
        } else if (c != '\r') {
            r->state = 0;
        }
    }
    return n;
}

static void *stream_main(void *arg)
{
    struct stream_run *r = arg;
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, r->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_bytes);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    pthread_barrier_wait(r->start);
    r->t0_ns = osr_mono_ns();
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    else
        r->status = -1;
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_us(int64_t *v, size_t n, double p)
{
    if (n == 0)
        return 0.0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return (double)v[i] / 1000.0;
}

struct bench_result {
    int ok; /* requests answered 200 with every content frame */
    double ttft_p50_us, ttft_p99_us;
    double gap_p50_us, gap_p99_us;
    double frames_per_s;
    size_t frames;
};

/* Runs n requests at once against url and summarizes them. */
static void run_streams(const char *url, const char *model, int n, int chunks,
                        struct bench_result *out)
{
    memset(out, 0, sizeof(*out));
    char body[512];
    snprintf(body, sizeof(body),
             "{\"model\":\"%s\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":"
             "\"go\"}]}",
             model);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)n + 1);
    struct stream_run *runs = osr_xcalloc((size_t)n, sizeof(*runs));
    pthread_t *th = osr_xcalloc((size_t)n, sizeof(*th));
    for (int i = 0; i < n; i++) {
        runs[i].url = url;
        runs[i].body = body;
        runs[i].start = &start;
        runs[i].frame_ns = osr_xcalloc(MAX_FRAMES, sizeof(int64_t));
        osr_buf_init(&runs[i].tail, 1 << 20);
        pthread_create(&th[i], NULL, stream_main, &runs[i]);
    }
    int64_t t0 = osr_mono_ns();
    pthread_barrier_wait(&start);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    int64_t wall = osr_mono_ns() - t0;
    int64_t *ttft = osr_xcalloc((size_t)n, sizeof(int64_t));
    size_t n_ttft = 0, n_gaps = 0, cap_gaps = (size_t)n * MAX_FRAMES;
    int64_t *gaps = osr_xcalloc(cap_gaps, sizeof(int64_t));
    for (int i = 0; i < n; i++) {
        struct stream_run *r = &runs[i];
        if (r->status == 200 && (int)r->content_frames == chunks)
            out->ok++;
        if (r->first_ns)
            ttft[n_ttft++] = r->first_ns - r->t0_ns;
        size_t kept = r->n_frames < MAX_FRAMES ? r->n_frames : MAX_FRAMES;
        for (size_t k = 1; k < kept && n_gaps < cap_gaps; k++)
            gaps[n_gaps++] = r->frame_ns[k] - r->frame_ns[k - 1];
        out->frames += r->n_frames;
        free(r->frame_ns);
        osr_buf_release(&r->tail);
    }
    qsort(ttft, n_ttft, sizeof(int64_t), cmp_i64);
    qsort(gaps, n_gaps, sizeof(int64_t), cmp_i64);
    out->ttft_p50_us = pct_us(ttft, n_ttft, 0.50);
    out->ttft_p99_us = pct_us(ttft, n_ttft, 0.99);
    out->gap_p50_us = pct_us(gaps, n_gaps, 0.50);
    out->gap_p99_us = pct_us(gaps, n_gaps, 0.99);
    out->frames_per_s = wall > 0 ? (double)out->frames * 1e9 / (double)wall : 0.0;
    free(ttft);
    free(gaps);
    free(runs);
    free(th);
    pthread_barrier_destroy(&start);
}

static void print_result(const char *label, int n, const struct bench_result *r)
{
    printf("%-9s %4d/%-4d %12.0f %12.0f %10.1f %10.1f %12.0f\n", label, r->ok, n, r->ttft_p50_us,
           r->ttft_p99_us, r->gap_p50_us, r->gap_p99_us, r->frames_per_s);
}

static int env_int(const char *name, int def, int lo, int hi)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    char *end = NULL;
    long x = strtol(v, &end, 10);
    if (*end || x < lo || x > hi) {
        fprintf(stderr, "%s must be %d..%d\n", name, lo, hi);
        exit(2);
    }
    return (int)x;
}

static int client_main(void)
{
    const char *direct = getenv("OSR_BENCH_DIRECT"), *proxied = getenv("OSR_BENCH_PROXIED");
    const char *model = getenv("OSR_BENCH_MODEL");
    int n = env_int("OSR_BENCH_CONCURRENCY", 100, 1, MAX_CONCURRENCY);
    int chunks = env_int("OSR_BENCH_CHUNKS", 500, 1, MAX_FRAMES - 8);
    if (!direct || !proxied || !model) {
        fprintf(stderr, "bench client: set OSR_BENCH_DIRECT, OSR_BENCH_PROXIED, OSR_BENCH_MODEL\n");
        return 2;
    }
    struct bench_result d, p;
    run_streams(direct, "burst", n, chunks, &d); /* a warm-up of the upstream, then measured */
    run_streams(direct, "burst", n, chunks, &d);
    /* The same warm-up through the server: its first round also pays for first-touch costs
     * (thread stacks, allocator arenas, upstream connections) that a running server has paid. */
    run_streams(proxied, model, n, chunks, &p);
    run_streams(proxied, model, n, chunks, &p);
    printf("%d concurrent streams of %d chunks\n", n, chunks);
    printf("%-9s %9s %12s %12s %10s %10s %12s\n", "", "complete", "TTFT p50 us", "TTFT p99 us",
           "gap p50 us", "gap p99 us", "frames/s");
    print_result("direct", n, &d);
    print_result("osaurus", n, &p);
    printf("added by osaurus: TTFT p50 %+.0f us, p99 %+.0f us; per chunk p50 %+.1f us, p99 %+.1f "
           "us; frames/s %.0f%% of direct\n",
           p.ttft_p50_us - d.ttft_p50_us, p.ttft_p99_us - d.ttft_p99_us,
           p.gap_p50_us - d.gap_p50_us, p.gap_p99_us - d.gap_p99_us,
           d.frames_per_s > 0 ? 100.0 * p.frames_per_s / d.frames_per_s : 0.0);
    return d.ok == n && p.ok == n ? 0 : 1;
}

/* ---- modes ---------------------------------------------------------------------------------- */

static void test_bench_halves(void)
{
    const char *mode = getenv("OSR_BENCH_MODE");
    if (mode && strcmp(mode, "upstream") == 0) {
        build_burst(env_int("OSR_BENCH_CHUNKS", 500, 1, MAX_FRAMES - 8));
        struct osr_server_config cfg;
        struct osr_http_server *srv = upstream_start(&cfg);
        printf("bench upstream on port %d\n", osr_http_server_port(srv));
        fflush(stdout);
        for (;;)
            pause();
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (mode && strcmp(mode, "client") == 0) {
        int rc = client_main();
        fflush(stdout);
        _exit(rc);
    }
    /* Self-check: a few streams straight at the upstream. */
    build_burst(50);
    struct osr_server_config cfg;
    struct osr_http_server *srv = upstream_start(&cfg);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/chat/completions", osr_http_server_port(srv));
    struct bench_result r;
    run_streams(url, "burst", 4, 50, &r);
    CHECK_INT_EQ(r.ok, 4);
    CHECK_INT_EQ(r.frames, 4 * (50 + 4)); /* role, 50 chunks, finish, usage, [DONE] */
    CHECK(r.ttft_p50_us > 0.0 && r.ttft_p99_us >= r.ttft_p50_us);
    CHECK(r.gap_p99_us >= r.gap_p50_us);
    CHECK(r.frames_per_s > 0.0);
    osr_http_server_free(srv);
    osr_server_config_release(&cfg);
    osr_buf_release(&burst_body);
}

TEST_MAIN(test_bench_halves)
