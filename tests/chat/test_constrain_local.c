/* test_constrain_local.c - constrained decoding end to end on a real model
 * (llama-2-tiny-random, random weights: left alone it never writes a tool call or JSON).
 * Requests are decoded from OpenAI / Ollama bodies and run by the local backend in process:
 *   tool_choice "required" -> one tool-call event naming an offered tool, arguments that parse
 *   as a JSON object, finish tool_calls, no text;
 *   a named tool_choice -> that tool, and a tool whose schema requires "city" gets it;
 *   response_format json_object / json_schema, Ollama format "json" or a schema -> the text
 *   parses as one JSON object (with the schema's required keys and enum values), finish stop;
 * each over several seeds, and tokens/s with and without a constraint are printed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "osr/alloc.h"
#include "osr/api.h"
#include "osr/api_ollama.h"
#include "osr/api_openai_chat.h"
#include "osr/buf.h"
#include "osr/chat.h"
#include "osr/clock.h"
#include "osr/config.h"
#include "osr/json.h"
#include "osr/local_backend.h"
#include "osr/registry.h"

static char home[256];
static struct osr_registry *reg;
static struct osr_chat_backend *backend;

struct capture {
    struct osr_buf text;
    struct osr_buf args;
    char name[128];
    int n_calls;
    int n_errors;
    int n_logprobs;
    int bad_logprobs; /* entries with a non-finite log-probability */
    int64_t completion_tokens;
    enum osr_finish finish;
    bool finished;
};

static int cap_emit(struct osr_sink *sink, const struct osr_event *ev)
{
    struct capture *c = sink->ctx;
    switch (ev->kind) {
    case OSR_EV_TEXT_DELTA:
        osr_buf_append(&c->text, ev->text.p, ev->text.n);
        break;
    case OSR_EV_TOOL_CALL_START:
        c->n_calls++;
        snprintf(c->name, sizeof(c->name), "%.*s", (int)ev->name.n, ev->name.p);
        break;
    case OSR_EV_TOOL_CALL_ARGS_DELTA:
        osr_buf_append(&c->args, ev->text.p, ev->text.n);
        break;
    case OSR_EV_FINISH:
        c->finish = ev->finish;
        c->finished = true;
        break;
    case OSR_EV_USAGE:
        c->completion_tokens = ev->usage.completion_tokens;
        break;
    case OSR_EV_LOGPROBS:
        c->n_logprobs++;
        c->bad_logprobs += !isfinite(ev->logprobs->chosen.logprob);
        for (int i = 0; i < ev->logprobs->n_top; i++)
            c->bad_logprobs += !isfinite(ev->logprobs->top[i].logprob);
        break;
    case OSR_EV_ERROR:
        fprintf(stderr, "error event: %.*s\n", (int)ev->text.n, ev->text.p);
        c->n_errors++;
        break;
    default:
        break;
    }
    return 0;
}

static void capture_init(struct capture *c)
{
    memset(c, 0, sizeof(*c));
    osr_buf_init(&c->text, 1 << 20);
    osr_buf_init(&c->args, 1 << 20);
}

static void capture_release(struct capture *c)
{
    osr_buf_release(&c->text);
    osr_buf_release(&c->args);
}

/* Runs one request body (OpenAI chat, or Ollama chat when ollama is set). */
static int run_body(const char *body, bool ollama, struct capture *cap)
{
    struct osr_chat_request req;
    osr_chat_request_init(&req, 1 << 20);
    struct osr_api_error err;
    memset(&err, 0, sizeof(err));
    int rc = ollama ? osr_ollama_chat_decode(&req, body, strlen(body), &err)
                    : osr_openai_chat_decode(&req, body, strlen(body), &err);
    if (rc) {
        fprintf(stderr, "decode: %s\n", err.diag.msg);
        osr_chat_request_release(&req);
        return rc;
    }
    struct osr_sink sink = {cap_emit, cap};
    rc = backend->ops->chat(backend, req.model, &req, &sink, NULL);
    osr_chat_request_release(&req);
    return rc;
}

static bool is_json_object(const char *s, size_t n)
{
    struct json_object *o = NULL;
    bool ok = osr_json_parse(s, n, &o, NULL) == OSR_OK && json_object_is_type(o, json_type_object);
    json_object_put(o);
    return ok;
}

static const char TOOLS[] =
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":"
    "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"
    "\"required\":[\"city\"]}}},"
    "{\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"parameters\":"
    "{\"type\":\"object\"}}},"
    "{\"type\":\"function\",\"function\":{\"name\":\"search\",\"parameters\":"
    "{\"type\":\"object\"}}}]";

static void test_required(void)
{
    if (!backend)
        return;
    for (int seed = 1; seed <= 5; seed++) {
        char body[2048];
        snprintf(body, sizeof(body),
                 "{\"model\":\"llama-v2\",\"messages\":[{\"role\":\"user\",\"content\":"
                 "\"Weather in Paris?\"}],%s,\"tool_choice\":\"required\",\"seed\":%d,"
                 "\"temperature\":1.0,\"max_tokens\":200}",
                 TOOLS, seed);
        struct capture cap;
        capture_init(&cap);
        CHECK_INT_EQ(run_body(body, false, &cap), OSR_OK);
        CHECK_INT_EQ(cap.n_errors, 0);
        CHECK_INT_EQ(cap.n_calls, 1);
        CHECK(strcmp(cap.name, "get_weather") == 0 || strcmp(cap.name, "get_time") == 0 ||
              strcmp(cap.name, "search") == 0);
        CHECK(is_json_object(osr_buf_str(&cap.args), cap.args.len));
        CHECK(cap.finished && cap.finish == OSR_FINISH_TOOL_CALLS);
        CHECK_INT_EQ(cap.text.len, 0);
        if (cap.finish != OSR_FINISH_TOOL_CALLS || cap.n_calls != 1)
            fprintf(stderr, "seed %d: text [%s] args [%s]\n", seed, osr_buf_str(&cap.text),
                    osr_buf_str(&cap.args));
        capture_release(&cap);
    }
}

static void test_named(void)
{
    if (!backend)
        return;
    for (int seed = 1; seed <= 3; seed++) {
        char body[2048];
        snprintf(body, sizeof(body),
                 "{\"model\":\"llama-v2\",\"messages\":[{\"role\":\"user\",\"content\":"
                 "\"What time is it?\"}],%s,\"tool_choice\":{\"type\":\"function\","
                 "\"function\":{\"name\":\"search\"}},\"seed\":%d,\"max_tokens\":200}",
                 TOOLS, seed);
        struct capture cap;
        capture_init(&cap);
        CHECK_INT_EQ(run_body(body, false, &cap), OSR_OK);
        CHECK_INT_EQ(cap.n_calls, 1);
        CHECK_STR_EQ(cap.name, "search");
        if (getenv("OSR_TEST_VERBOSE"))
            printf("search(%s)\n", osr_buf_str(&cap.args));
        CHECK(is_json_object(osr_buf_str(&cap.args), cap.args.len));
        CHECK(cap.finish == OSR_FINISH_TOOL_CALLS);
        capture_release(&cap);
    }
    /* A tool whose schema requires "city": the arguments have it, as a string. */
    for (int seed = 1; seed <= 3; seed++) {
        char body[2048];
        snprintf(body, sizeof(body),
                 "{\"model\":\"llama-v2\",\"messages\":[{\"role\":\"user\",\"content\":"
                 "\"Weather?\"}],%s,\"tool_choice\":{\"type\":\"function\","
                 "\"function\":{\"name\":\"get_weather\"}},\"seed\":%d,\"max_tokens\":60}",
                 TOOLS, seed);
        struct capture cap;
        capture_init(&cap);
        CHECK_INT_EQ(run_body(body, false, &cap), OSR_OK);
        CHECK_STR_EQ(cap.name, "get_weather");
        struct json_object *o = NULL, *city = NULL;
        CHECK(osr_json_parse(osr_buf_str(&cap.args), cap.args.len, &o, NULL) == OSR_OK);
        CHECK(o && json_object_object_get_ex(o, "city", &city) &&
              json_object_is_type(city, json_type_string));
        CHECK(cap.finish == OSR_FINISH_TOOL_CALLS);
        CHECK(cap.completion_tokens <= 60);
        json_object_put(o);
        capture_release(&cap);
    }
}

static void test_json_formats(void)
{
    if (!backend)
        return;
    static const char *const formats[] = {
        "\"response_format\":{\"type\":\"json_object\"}",
        "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\","
        "\"schema\":{\"type\":\"object\",\"properties\":{\"answer\":{\"type\":\"string\"},"
        "\"score\":{\"type\":\"number\"},\"mood\":{\"enum\":[\"good\",\"bad\"]}},"
        "\"required\":[\"answer\",\"score\",\"mood\"]}}}",
    };
    for (size_t f = 0; f < 2; f++) {
        for (int seed = 1; seed <= 4; seed++) {
            char body[1024];
            snprintf(body, sizeof(body),
                     "{\"model\":\"llama-v2\",\"messages\":[{\"role\":\"user\",\"content\":"
                     "\"Give me JSON\"}],%s,\"seed\":%d,\"temperature\":0.9,"
                     "\"max_tokens\":150}",
                     formats[f], seed);
            struct capture cap;
            capture_init(&cap);
            CHECK_INT_EQ(run_body(body, false, &cap), OSR_OK);
            CHECK_INT_EQ(cap.n_calls, 0);
            bool obj = is_json_object(osr_buf_str(&cap.text), cap.text.len);
            if (!obj || cap.finish != OSR_FINISH_STOP)
                fprintf(stderr, "format %zu seed %d: finish %d [%s]\n", f, seed, cap.finish,
                        osr_buf_str(&cap.text));
            CHECK(obj);
            CHECK(cap.finish == OSR_FINISH_STOP);
            if (f == 1 && obj) {
                struct json_object *o = NULL, *m = NULL;
                CHECK(osr_json_parse(osr_buf_str(&cap.text), cap.text.len, &o, NULL) == OSR_OK);
                CHECK(json_object_object_get_ex(o, "answer", NULL));
                CHECK(json_object_object_get_ex(o, "score", NULL));
                CHECK(json_object_object_get_ex(o, "mood", &m) &&
                      (strcmp(json_object_get_string(m), "good") == 0 ||
                       strcmp(json_object_get_string(m), "bad") == 0));
                json_object_put(o);
            }
            capture_release(&cap);
        }
    }
    /* Ollama's format "json" and a schema. */
    {
        struct capture sc;
        capture_init(&sc);
        CHECK_INT_EQ(
            run_body("{\"model\":\"llama-v2\",\"messages\":[{\"role\":\"user\",\"content\":"
                     "\"json\"}],\"format\":{\"type\":\"object\",\"properties\":{\"ok\":"
                     "{\"type\":\"boolean\"}},\"required\":[\"ok\"]},\"stream\":false,"
                     "\"options\":{\"seed\":3,\"num_predict\":50}}",
                     true, &sc),
            OSR_OK);
        struct json_object *o = NULL, *ok = NULL;
        CHECK(osr_json_parse(osr_buf_str(&sc.text), sc.text.len, &o, NULL) == OSR_OK);
        CHECK(o && json_object_object_get_ex(o, "ok", &ok) &&
              json_object_is_type(ok, json_type_boolean));
        json_object_put(o);
        capture_release(&sc);
    }
    struct capture cap;
    capture_init(&cap);
    CHECK_INT_EQ(run_body("{\"model\":\"llama-v2\",\"messages\":[{\"role\":\"user\",\"content\":"
                          "\"json please\"}],\"format\":\"json\",\"stream\":false,"
                          "\"options\":{\"seed\":7,\"num_predict\":300}}",
                          true, &cap),
                 OSR_OK);
    CHECK(is_json_object(osr_buf_str(&cap.text), cap.text.len));
    capture_release(&cap);
}

/* logprobs with a constraint: one entry per token (forced ones too), all finite. */
static void test_logprobs(void)
{
    if (!backend)
        return;
    char body[2048];
    snprintf(body, sizeof(body),
             "{\"model\":\"llama-v2\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
             "%s,\"tool_choice\":\"required\",\"seed\":9,\"max_tokens\":40,\"logprobs\":true,"
             "\"top_logprobs\":5}",
             TOOLS);
    struct capture cap;
    capture_init(&cap);
    CHECK_INT_EQ(run_body(body, false, &cap), OSR_OK);
    CHECK_INT_EQ(cap.n_calls, 1);
    CHECK(cap.n_logprobs > 0 && cap.n_logprobs == cap.completion_tokens);
    CHECK_INT_EQ(cap.bad_logprobs, 0);
    capture_release(&cap);
}

/* Tokens/s with and without a constraint over the same prompts and seeds (printed, not
 * asserted: the machine is shared). */
static void test_speed(void)
{
    if (!backend)
        return;
    for (int constrained = 0; constrained < 2; constrained++) {
        int64_t tokens = 0, ns = 0;
        for (int seed = 1; seed <= 3; seed++) {
            char body[512];
            snprintf(body, sizeof(body),
                     "{\"model\":\"llama-v2\",\"messages\":[{\"role\":\"user\",\"content\":"
                     "\"hi\"}],\"seed\":%d,\"max_tokens\":250%s}",
                     seed, constrained ? ",\"response_format\":{\"type\":\"json_object\"}" : "");
            struct capture cap;
            capture_init(&cap);
            int64_t t0 = osr_mono_ns();
            CHECK_INT_EQ(run_body(body, false, &cap), OSR_OK);
            ns += osr_mono_ns() - t0;
            CHECK(cap.completion_tokens > 0);
            tokens += cap.completion_tokens;
            capture_release(&cap);
        }
        printf("%s: %lld tokens in %.3f s, %.0f tokens/s\n",
               constrained ? "json_object" : "unconstrained", (long long)tokens, (double)ns / 1e9,
               (double)tokens / ((double)ns / 1e9));
    }
}

static void setup(void)
{
    const char *dir = getenv("OSR_TESTDATA");
    char src[1024];
    snprintf(src, sizeof(src), "%s/llama-2-tiny-random.gguf", dir ? dir : "");
    if (!dir || access(src, R_OK) != 0) {
        printf("skipping: OSR_TESTDATA with llama-2-tiny-random.gguf is needed\n");
        return;
    }
    snprintf(home, sizeof(home), "%s/osr-constrain-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    REQUIRE(mkdtemp(home) != NULL);
    char models[300], dst[400];
    snprintf(models, sizeof(models), "%s/models", home);
    REQUIRE(mkdir(models, 0700) == 0);
    snprintf(dst, sizeof(dst), "%s/llama-2-tiny-random.gguf", models);
    REQUIRE(symlink(src, dst) == 0);
    struct osr_registry_options ro = {
        .home = home, .no_env_dirs = true, .no_ollama = true, .no_hf = true};
    reg = osr_registry_new(&ro);
    REQUIRE(reg != NULL);
    struct osr_local_backend_opts lo = {.reg = reg, .n_threads = 1, .n_ctx_max = 2048};
    backend = osr_local_backend_new(&lo);
}

static void test_setup(void)
{
    setup();
}

static void cleanup(void)
{
    if (backend)
        backend->ops->free(backend);
    osr_registry_free(reg);
    if (home[0]) {
        char p[400];
        snprintf(p, sizeof(p), "%s/models/llama-2-tiny-random.gguf", home);
        unlink(p);
        snprintf(p, sizeof(p), "%s/models", home);
        rmdir(p);
        rmdir(home);
    }
}

static void test_cleanup(void)
{
    cleanup();
}

TEST_MAIN(test_setup, test_required, test_named, test_json_formats, test_logprobs, test_speed,
          test_cleanup)
