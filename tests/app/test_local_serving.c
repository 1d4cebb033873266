/* test_local_serving.c - a real GGUF model (llama-2-tiny-random) served by the real binary
 * through every protocol: OpenAI chat (JSON and SSE), Responses, Anthropic, Ollama chat and
 * generate; /api/ps shows the loaded model; the same seed gives the same text; stop strings
 * and max_tokens are honoured; an unknown model is a 404.  Embeddings: /v1/embeddings (float
 * and base64 agree, unit length, n_embd dimensions), /api/embed (one vector per input) and
 * /api/embeddings give the same vector for the same text; a too-long input is a 400.
 * logprobs: one entry per completion token in the body and across the chunks, each with three
 * sorted alternatives whose first is the token itself at temperature 0.  The same model cut
 * into three parts (llama.cpp's gguf-split layout) is served as one model ("tiny-split") and
 * writes the same text as the whole file. */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "check.h"
#include "engine/gguf_splitter.h"
#include "net/http_test_client.h"
#include "osr/clock.h"
#include "osr/codec.h"
#include "osr/config.h"
#include "osr/discovery.h"
#include "osr/history.h"
#include "osr/json.h"
#include "osr/store.h"

static char home[256];
static char base[64];
static pid_t server;
static int skip;

static struct json_object *post_json(const char *path, const char *body, long *status)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", base, path);
    const char *hs[] = {"Content-Type: application/json", NULL};
    struct test_resp r = test_request(NULL, "POST", url, body, strlen(body), hs);
    *status = r.status;
    struct json_object *o = NULL;
    if (osr_json_parse(osr_buf_str(&r.body), r.body.len, &o, NULL) != OSR_OK) {
        fprintf(stderr, "not JSON: %s\n", osr_buf_str(&r.body));
        o = NULL;
    }
    test_resp_release(&r);
    return o;
}

static char *post_raw(const char *path, const char *body, long *status)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", base, path);
    struct test_resp r = test_request(NULL, "POST", url, body, strlen(body), NULL);
    *status = r.status;
    char *s = strdup(osr_buf_str(&r.body));
    test_resp_release(&r);
    return s;
}

static struct json_object *at(struct json_object *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *tok = buf; o && tok && *tok;) {
        char *dot = strchr(tok, '.');
        if (dot)
            *dot = '\0';
        char *end;
        long idx = strtol(tok, &end, 10);
        if (*end == '\0' && json_object_is_type(o, json_type_array))
            o = json_object_array_get_idx(o, (size_t)idx);
        else if (!json_object_object_get_ex(o, tok, &o))
            o = NULL;
        tok = dot ? dot + 1 : NULL;
    }
    return o;
}

static const char *str_at(struct json_object *o, const char *path)
{
    struct json_object *v = at(o, path);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static long long int_at(struct json_object *o, const char *path)
{
    struct json_object *v = at(o, path);
    return v ? json_object_get_int64(v) : -1;
}

static void test_openai_chat(void)
{
    if (skip)
        return;
    long st;
    const char *req = "{\"model\":\"llama-v2\",\"messages\":[{\"role\":\"user\",\"content\":"
                      "\"Hello\"}],\"max_tokens\":8,\"seed\":42,\"temperature\":0.7}";
    struct json_object *a = post_json("/v1/chat/completions", req, &st);
    CHECK_INT_EQ(st, 200);
    REQUIRE(a != NULL);
    CHECK_STR_EQ(str_at(a, "object"), "chat.completion");
    CHECK_STR_EQ(str_at(a, "choices.0.message.role"), "assistant");
    CHECK_INT_EQ(int_at(a, "usage.completion_tokens"), 8);
    CHECK_STR_EQ(str_at(a, "choices.0.finish_reason"), "length");
    CHECK(int_at(a, "usage.prompt_tokens") > 1);
    /* The same seed gives the same text. */
    struct json_object *b = post_json("/v1/chat/completions", req, &st);
    REQUIRE(b != NULL);
    CHECK_STR_EQ(str_at(a, "choices.0.message.content"), str_at(b, "choices.0.message.content"));
    json_object_put(a);
    json_object_put(b);

    /* Streaming: role first, content deltas, one finish, usage when asked, [DONE]. */
    char *sse = post_raw("/v1/chat/completions",
                         "{\"model\":\"llama-v2\",\"messages\":[{\"role\":\"user\",\"content\":"
                         "\"Hi\"}],\"max_tokens\":4,\"stream\":true,"
                         "\"stream_options\":{\"include_usage\":true}}",
                         &st);
    CHECK_INT_EQ(st, 200);
    CHECK(strncmp(sse, "data: {", 7) == 0);
    CHECK(strstr(sse, "\"delta\":{\"role\":\"assistant\"") != NULL);
    CHECK(strstr(sse, "\"finish_reason\":\"length\"") != NULL);
    CHECK(strstr(sse, "\"choices\":[],\"usage\":{\"prompt_tokens\"") != NULL);
    size_t n = strlen(sse);
    CHECK(n > 14 && strcmp(sse + n - 14, "data: [DONE]\n\n") == 0);
    free(sse);

    /* Unknown model: OpenAI's 404. */
    struct json_object *e = post_json(
        "/v1/chat/completions",
        "{\"model\":\"no-such-model\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", &st);
    CHECK_INT_EQ(st, 404);
    CHECK(str_at(e, "error.message") != NULL);
    json_object_put(e);
}

static void test_other_protocols(void)
{
    if (skip)
        return;
    long st;
    struct json_object *o = post_json(
        "/v1/messages",
        "{\"model\":\"llama-v2\",\"max_tokens\":3,\"messages\":[{\"role\":\"user\",\"content\":"
        "\"Hi\"}]}",
        &st);
    CHECK_INT_EQ(st, 200);
    CHECK_STR_EQ(str_at(o, "type"), "message");
    CHECK_STR_EQ(str_at(o, "stop_reason"), "max_tokens");
    CHECK_INT_EQ(int_at(o, "usage.output_tokens"), 3);
    long long input_tokens = int_at(o, "usage.input_tokens");
    json_object_put(o);
    /* count_tokens is exact for a local model: the same count the generation used. */
    o = post_json("/v1/messages/count_tokens",
                  "{\"model\":\"llama-v2\",\"messages\":[{\"role\":\"user\",\"content\":"
                  "\"Hi\"}]}",
                  &st);
    CHECK_INT_EQ(st, 200);
    CHECK(input_tokens > 1);
    CHECK_INT_EQ(int_at(o, "input_tokens"), input_tokens);
    json_object_put(o);

    o = post_json("/v1/responses",
                  "{\"model\":\"llama-v2\",\"input\":\"Hi\",\"max_output_tokens\":3}", &st);
    CHECK_INT_EQ(st, 200);
    CHECK_STR_EQ(str_at(o, "object"), "response");
    CHECK_STR_EQ(str_at(o, "output.0.type"), "message");
    json_object_put(o);

    o = post_json("/api/chat",
                  "{\"model\":\"llama-v2\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
                  "\"stream\":false,\"options\":{\"num_predict\":3,\"seed\":1}}",
                  &st);
    CHECK_INT_EQ(st, 200);
    CHECK(json_object_get_boolean(at(o, "done")));
    CHECK_INT_EQ(int_at(o, "eval_count"), 3);
    CHECK(int_at(o, "prompt_eval_count") > 1);
    json_object_put(o);

    char *nd = post_raw("/api/generate",
                        "{\"model\":\"llama-v2\",\"prompt\":\"Once upon a time\","
                        "\"options\":{\"num_predict\":3}}",
                        &st);
    CHECK_INT_EQ(st, 200);
    CHECK(strstr(nd, "\"done\":false") != NULL && strstr(nd, "\"done\":true") != NULL);
    free(nd);

    /* /api/ps now lists the loaded model. */
    char url[256];
    snprintf(url, sizeof(url), "%s/api/ps", base);
    struct test_resp r = test_request(NULL, "GET", url, NULL, 0, NULL);
    CHECK(strstr(osr_buf_str(&r.body), "\"name\":\"llama-v2\"") != NULL);
    test_resp_release(&r);
    /* and /health says what is resident */
    snprintf(url, sizeof(url), "%s/health", base);
    r = test_request(NULL, "GET", url, NULL, 0, NULL);
    const char *h = osr_buf_str(&r.body);
    CHECK(strstr(h, "\"loaded\":true") != NULL);
    CHECK(strstr(h, "\"current_model\":\"llama-v2\"") != NULL);
    CHECK(strstr(h, "\"resident_models\":[\"llama-v2\"") != NULL);
    test_resp_release(&r);
}

static void test_stop_strings(void)
{
    if (skip)
        return;
    long st;
    /* Generate once, then ask again with a stop string taken from that output: the answer must
     * end right before it. */
    const char *req = "{\"model\":\"llama-v2\",\"messages\":[{\"role\":\"user\",\"content\":"
                      "\"Tell\"}],\"max_tokens\":16,\"seed\":7}";
    struct json_object *a = post_json("/v1/chat/completions", req, &st);
    const char *text = str_at(a, "choices.0.message.content");
    REQUIRE(text && strlen(text) >= 6);
    char stop[8] = "";
    size_t len = strlen(text);
    /* A stop string from the text after its first character: three ASCII letters in a row. */
    for (size_t i = 1; i + 3 <= len && !stop[0]; i++) {
        const unsigned char *u = (const unsigned char *)text + i;
        if (u[0] < 0x80 && u[1] < 0x80 && u[2] < 0x80 && u[0] > ' ' && u[1] > ' ' && u[2] > ' ')
            snprintf(stop, sizeof(stop), "%.3s", text + i);
    }
    if (!stop[0]) {
        printf("skipping the stop-string check: no ASCII run in '%s'\n", text);
        json_object_put(a);
        return;
    }
    struct json_object *sj = json_object_new_string(stop);
    char body[512];
    snprintf(body, sizeof(body),
             "{\"model\":\"llama-v2\",\"messages\":[{\"role\":\"user\",\"content\":\"Tell\"}],"
             "\"max_tokens\":16,\"seed\":7,\"stop\":%s}",
             json_object_to_json_string(sj));
    json_object_put(sj);
    struct json_object *b = post_json("/v1/chat/completions", body, &st);
    CHECK_INT_EQ(st, 200);
    const char *cut = str_at(b, "choices.0.message.content");
    REQUIRE(cut != NULL);
    const char *first = strstr(text, stop);
    REQUIRE(first != NULL);
    CHECK_INT_EQ(strlen(cut), (size_t)(first - text));
    CHECK(strncmp(cut, text, strlen(cut)) == 0);
    CHECK_STR_EQ(str_at(b, "choices.0.finish_reason"), "stop");
    json_object_put(a);
    json_object_put(b);
}

/* Checks one ChatCompletionTokenLogprob entry of a greedy answer with top_logprobs 3: bytes
 * are bytes, the alternatives are 3, sorted, and the first is the chosen token.  Appends the
 * token's bytes to text. */
static void check_logprob_entry(struct json_object *e, struct osr_buf *text)
{
    struct json_object *tok = at(e, "token"), *lp = at(e, "logprob"), *bytes = at(e, "bytes");
    struct json_object *top = at(e, "top_logprobs");
    REQUIRE(tok && lp && bytes && top);
    CHECK(json_object_is_type(bytes, json_type_array));
    for (size_t i = 0; i < json_object_array_length(bytes); i++) {
        int64_t b = json_object_get_int64(json_object_array_get_idx(bytes, i));
        CHECK(b >= 0 && b <= 255);
        char c = (char)b;
        osr_buf_append(text, &c, 1);
    }
    double v = json_object_get_double(lp);
    CHECK(v <= 0 && v >= -9999);
    REQUIRE(json_object_is_type(top, json_type_array));
    CHECK_INT_EQ(json_object_array_length(top), 3);
    double prev = 0;
    for (size_t i = 0; i < json_object_array_length(top); i++) {
        struct json_object *t = json_object_array_get_idx(top, i);
        double tv = json_object_get_double(at(t, "logprob"));
        CHECK(tv <= 0);
        CHECK(i == 0 || tv <= prev);
        prev = tv;
        CHECK(at(t, "bytes") != NULL && at(t, "token") != NULL);
    }
    /* Temperature 0 picks the most likely token: it is the first alternative. */
    struct json_object *t0 = json_object_array_get_idx(top, 0);
    CHECK_STR_EQ(json_object_get_string(at(t0, "token")), json_object_get_string(tok));
    CHECK(fabs(json_object_get_double(at(t0, "logprob")) - v) < 1e-6);
    CHECK(json_object_equal(at(t0, "bytes"), bytes));
}

static void test_logprobs(void)
{
    if (skip)
        return;
    long st;
#define LP_REQ(extra)                                                                              \
    "{\"model\":\"llama-v2\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}],"            \
    "\"max_tokens\":6,\"temperature\":0,\"logprobs\":true,\"top_logprobs\":3" extra "}"
    char body[512];
    snprintf(body, sizeof(body), "%s", LP_REQ(""));
    struct json_object *a = post_json("/v1/chat/completions", body, &st);
    CHECK_INT_EQ(st, 200);
    REQUIRE(a != NULL);
    struct json_object *content = at(a, "choices.0.logprobs.content");
    REQUIRE(content && json_object_is_type(content, json_type_array));
    size_t n = json_object_array_length(content);
    CHECK_INT_EQ((long long)n, int_at(a, "usage.completion_tokens"));
    CHECK(n > 0);
    struct osr_buf text, stext;
    osr_buf_init(&text, 1 << 20);
    osr_buf_init(&stext, 1 << 20);
    for (size_t i = 0; i < n; i++)
        check_logprob_entry(json_object_array_get_idx(content, i), &text);
    /* The tokens' bytes make up the answer (when it holds no replaced partial character). */
    const char *answer = str_at(a, "choices.0.message.content");
    REQUIRE(answer != NULL);
    if (!strstr(answer, "\xEF\xBF\xBD"))
        CHECK_STR_EQ(osr_buf_str(&text), answer);

    /* Streaming: the entries ride on the chunks; together they are the same tokens. */
    snprintf(body, sizeof(body), "%s",
             LP_REQ(",\"stream\":true,\"stream_options\":{\"include_usage\":true}"));
#undef LP_REQ
    char *sse = post_raw("/v1/chat/completions", body, &st);
    CHECK_INT_EQ(st, 200);
    size_t entries = 0;
    long long usage_tokens = -1;
    char *save = NULL;
    for (char *line = strtok_r(sse, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "data: {", 7) != 0)
            continue;
        struct json_object *c = NULL;
        REQUIRE(osr_json_parse(line + 6, strlen(line + 6), &c, NULL) == OSR_OK);
        struct json_object *lc = at(c, "choices.0.logprobs.content");
        for (size_t i = 0; lc && i < json_object_array_length(lc); i++, entries++)
            check_logprob_entry(json_object_array_get_idx(lc, i), &stext);
        if (at(c, "usage"))
            usage_tokens = int_at(c, "usage.completion_tokens");
        json_object_put(c);
    }
    CHECK_INT_EQ((long long)entries, usage_tokens);
    CHECK_INT_EQ(entries, n);
    CHECK_STR_EQ(osr_buf_str(&stext), osr_buf_str(&text));
    free(sse);
    osr_buf_release(&text);
    osr_buf_release(&stext);
    json_object_put(a);

    /* Validation reaches the client as a 400. */
    struct json_object *e =
        post_json("/v1/chat/completions",
                  "{\"model\":\"llama-v2\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                  "\"logprobs\":true,\"top_logprobs\":21}",
                  &st);
    CHECK_INT_EQ(st, 400);
    CHECK_STR_EQ(str_at(e, "error.param"), "top_logprobs");
    json_object_put(e);
}

static void test_history_session(void)
{
    if (skip)
        return;
    long st;
    struct json_object *o =
        post_json("/v1/chat/completions",
                  "{\"model\":\"llama-v2\",\"session_id\":\"hist-1\",\"max_tokens\":2,\"messages\":"
                  "[{\"role\":\"user\",\"content\":\"first question\"}]}",
                  &st);
    CHECK_INT_EQ(st, 200);
    json_object_put(o);
    o = post_json("/v1/chat/completions",
                  "{\"model\":\"llama-v2\",\"session_id\":\"hist-1\",\"max_tokens\":2,"
                  "\"messages\":[{\"role\":\"user\",\"content\":\"first question\"},"
                  "{\"role\":\"assistant\",\"content\":\"an answer\"},"
                  "{\"role\":\"user\",\"content\":\"second question\"}]}",
                  &st);
    CHECK_INT_EQ(st, 200);
    json_object_put(o);
}

/* Copies the n_embd (8) floats of the JSON array arr into v; returns how many there were. */
static size_t floats_of(struct json_object *arr, float *v, size_t cap)
{
    if (!arr || !json_object_is_type(arr, json_type_array))
        return 0;
    size_t n = json_object_array_length(arr);
    for (size_t i = 0; i < n && i < cap; i++)
        v[i] = (float)json_object_get_double(json_object_array_get_idx(arr, i));
    return n;
}

static double dist(const float *a, const float *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d += fabs((double)a[i] - b[i]);
    return d;
}

static void test_embeddings(void)
{
    if (skip)
        return;
    long st;
    float hello[16], hello64[16], other[16], v[16];
    struct json_object *o = post_json(
        "/v1/embeddings", "{\"model\":\"llama-v2\",\"input\":[\"hello world\",\"goodbye\"]}", &st);
    CHECK_INT_EQ(st, 200);
    REQUIRE(o != NULL);
    CHECK_STR_EQ(str_at(o, "object"), "list");
    CHECK_INT_EQ(json_object_array_length(at(o, "data")), 2);
    CHECK_INT_EQ(int_at(o, "data.1.index"), 1);
    CHECK_INT_EQ(floats_of(at(o, "data.0.embedding"), hello, 16), 8); /* the model's n_embd */
    CHECK_INT_EQ(floats_of(at(o, "data.1.embedding"), other, 16), 8);
    CHECK(int_at(o, "usage.prompt_tokens") > 2);
    double ss = 0;
    for (int i = 0; i < 8; i++)
        ss += (double)hello[i] * hello[i];
    CHECK(fabs(ss - 1.0) < 1e-4);
    CHECK(dist(hello, other, 8) > 1e-3);
    json_object_put(o);

    /* base64: the same float32 values, little-endian. */
    o = post_json("/v1/embeddings",
                  "{\"model\":\"llama-v2\",\"input\":\"hello world\",\"encoding_format\":"
                  "\"base64\"}",
                  &st);
    CHECK_INT_EQ(st, 200);
    const char *b64 = str_at(o, "data.0.embedding");
    REQUIRE(b64 != NULL);
    struct osr_buf raw;
    osr_buf_init(&raw, 4096);
    CHECK(osr_base64_decode(&raw, b64, strlen(b64), OSR_B64_STD) == OSR_OK);
    CHECK_INT_EQ(raw.len, 8 * sizeof(float));
    if (raw.len == 8 * sizeof(float)) {
        memcpy(hello64, raw.data, raw.len);
        CHECK(dist(hello, hello64, 8) < 1e-6);
    }
    osr_buf_release(&raw);
    json_object_put(o);

    /* Ollama /api/embed: one vector per input, in order. */
    o = post_json("/api/embed",
                  "{\"model\":\"llama-v2\",\"input\":[\"goodbye\",\"hello world\",\"goodbye\"]}",
                  &st);
    CHECK_INT_EQ(st, 200);
    CHECK_INT_EQ(json_object_array_length(at(o, "embeddings")), 3);
    CHECK_INT_EQ(floats_of(at(o, "embeddings.0"), v, 16), 8);
    CHECK(dist(v, other, 8) < 1e-5);
    CHECK_INT_EQ(floats_of(at(o, "embeddings.1"), v, 16), 8);
    CHECK(dist(v, hello, 8) < 1e-5);
    CHECK_INT_EQ(floats_of(at(o, "embeddings.2"), v, 16), 8);
    CHECK(dist(v, other, 8) < 1e-5);
    CHECK(int_at(o, "prompt_eval_count") > 2);
    json_object_put(o);

    /* The older /api/embeddings: one "embedding". */
    o = post_json("/api/embeddings", "{\"model\":\"llama-v2\",\"prompt\":\"hello world\"}", &st);
    CHECK_INT_EQ(st, 200);
    CHECK_INT_EQ(floats_of(at(o, "embedding"), v, 16), 8);
    CHECK(dist(v, hello, 8) < 1e-5);
    json_object_put(o);

    /* No input: Ollama's way to load the model; no vectors. */
    o = post_json("/api/embed", "{\"model\":\"llama-v2\"}", &st);
    CHECK_INT_EQ(st, 200);
    CHECK_INT_EQ(json_object_array_length(at(o, "embeddings")), 0);
    json_object_put(o);
    o = post_json("/v1/embeddings", "{\"model\":\"no-such-model\",\"input\":\"x\"}", &st);
    CHECK_INT_EQ(st, 404);
    json_object_put(o);

    /* More tokens than the context (4096 for this model) holds: a 400 naming the limit. */
    struct osr_buf big;
    osr_buf_init(&big, 1 << 20);
    osr_buf_appendf(&big, "{\"model\":\"llama-v2\",\"input\":\"");
    for (int i = 0; i < 5000; i++)
        osr_buf_appendf(&big, "a ");
    osr_buf_appendf(&big, "\"}");
    o = post_json("/v1/embeddings", osr_buf_str(&big), &st);
    osr_buf_release(&big);
    CHECK_INT_EQ(st, 400);
    const char *msg = str_at(o, "error.message");
    CHECK(msg && strstr(msg, "at most 4096") != NULL);
    json_object_put(o);
}

/* Runs the binary with args and returns its standard output (heap). */
static char *run_cli(const char *args, int *exit_code)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s' %s 2>/dev/null", getenv("OSR_BINARY"), args);
    FILE *f = popen(cmd, "r");
    struct osr_buf out;
    osr_buf_init(&out, 1 << 20);
    char chunk[4096];
    size_t n;
    while (f && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        osr_buf_append(&out, chunk, n);
    int st = f ? pclose(f) : -1;
    *exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return osr_buf_detach(&out, NULL);
}

static void test_list_and_show(void)
{
    if (skip)
        return;
    const char *port = strrchr(base, ':') + 1;
    char args[256];
    int code;
    snprintf(args, sizeof(args), "list --port %s", port);
    char *out = run_cli(args, &code);
    CHECK_INT_EQ(code, 0);
    CHECK_STR_EQ(out, "llama-v2\ntiny-split\n"); /* the split model is one entry */
    free(out);
    snprintf(args, sizeof(args), "show llama-v2 --port %s", port);
    out = run_cli(args, &code);
    CHECK_INT_EQ(code, 0);
    CHECK(strstr(out, "\"general.architecture\": \"llama\"") != NULL);
    free(out);
    snprintf(args, sizeof(args), "show nope --port %s", port);
    out = run_cli(args, &code);
    CHECK_INT_EQ(code, 1);
    free(out);
    out = run_cli("list --port 1", &code);
    CHECK_INT_EQ(code, 1);
    free(out);
}

/* After the server has stopped: the conversation is in the (encrypted) history, once. */
static void check_history(void)
{
    if (skip)
        return;
    struct osr_store_keys keys;
    struct osr_diag d;
    osr_diag_clear(&d);
    REQUIRE(osr_store_keys_load(&keys, home, false, &d) == OSR_OK);
    CHECK(keys.has_key); /* encrypted by default */
    struct osr_history *h = NULL;
    int rc = osr_history_open(&h, home, &keys, false, &d);
    osr_store_keys_wipe(&keys);
    REQUIRE(rc == OSR_OK);
    struct osr_history_session s;
    REQUIRE(osr_history_session_get(h, "hist-1", &s, &d) == OSR_OK);
    CHECK_STR_EQ(s.title, "first question");
    CHECK_STR_EQ(s.model, "llama-v2");
    CHECK_INT_EQ(s.source, OSR_HISTORY_HTTP);
    CHECK_INT_EQ(s.n_messages, 4); /* user, assistant, user (the new turn only), assistant */
    osr_history_session_release(&s);
    struct osr_history_message *m = NULL;
    size_t n = 0;
    REQUIRE(osr_history_messages_get(h, "hist-1", true, &m, &n, &d) == OSR_OK);
    REQUIRE(n == 4);
    CHECK_STR_EQ(m[0].content, "\"first question\"");
    CHECK_STR_EQ(m[1].role, "assistant");
    CHECK(m[1].usage && strstr(m[1].usage, "\"completion_tokens\":2"));
    CHECK_STR_EQ(m[2].content, "\"second question\"");
    osr_history_messages_free(m, n);
    osr_history_close(h);
}

static void test_split_model(void)
{
    if (skip)
        return;
    long st;
    const char *whole = "{\"model\":\"llama-v2\",\"messages\":[{\"role\":\"user\",\"content\":"
                        "\"Split me\"}],\"max_tokens\":6,\"temperature\":0}";
    const char *split = "{\"model\":\"tiny-split\",\"messages\":[{\"role\":\"user\",\"content\":"
                        "\"Split me\"}],\"max_tokens\":6,\"temperature\":0}";
    struct json_object *a = post_json("/v1/chat/completions", whole, &st);
    CHECK_INT_EQ(st, 200);
    struct json_object *b = post_json("/v1/chat/completions", split, &st);
    CHECK_INT_EQ(st, 200);
    REQUIRE(a && b);
    CHECK_INT_EQ(int_at(b, "usage.completion_tokens"), 6);
    const char *ta = str_at(a, "choices.0.message.content");
    const char *tb = str_at(b, "choices.0.message.content");
    CHECK(ta && tb && strlen(tb) > 0);
    CHECK_STR_EQ(ta, tb);
    json_object_put(a);
    json_object_put(b);
}

static void setup(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const char *td = getenv("OSR_TESTDATA");
    const char *bin = getenv("OSR_BINARY");
    char model[512];
    snprintf(model, sizeof(model), "%s/llama-2-tiny-random.gguf", td ? td : "");
    if (!td || !bin || access(model, R_OK) != 0) {
        printf("skipping: llama-2-tiny-random.gguf or the binary is not available\n");
        skip = 1;
        return;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(home, sizeof(home), "%s/osr-local-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(home))
        exit(1);
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s/models' && cp '%s' '%s/models/'", home, model, home);
    if (system(cmd) != 0)
        exit(1);
    struct osr_gguf *g = NULL;
    if (osr_gguf_open(model, &g, NULL) != OSR_OK)
        exit(1);
    struct splitter_opts so = {.n_parts = 3, .name = "Tiny Split"};
    char parts[3][512], prefix[320];
    snprintf(prefix, sizeof(prefix), "%s/models/tiny-split", home);
    if (splitter_write(g, &so, prefix, parts) != 0)
        exit(1);
    osr_gguf_close(g);
    server = fork();
    if (server == 0) {
        char path[600];
        snprintf(path, sizeof(path), "%s/err.txt", home);
        if (!freopen(path, "w", stderr) || !freopen("/dev/null", "w", stdout))
            _exit(127);
        unsetenv("OSU_PORT");
        setenv("HOME", home, 1); /* keep the user's Ollama and HF caches out of it */
        execl(bin, bin, "serve", "--port", "0", "--home", home, "--log-level", "warn",
              (char *)NULL);
        _exit(127);
    }
    struct osr_instance inst;
    for (int i = 0; i < 1000; i++) {
        if (osr_discovery_find(home, &inst) == OSR_OK && inst.port > 0)
            break;
        osr_sleep_ms(10);
    }
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", inst.port);
}

static void test_setup(void)
{
    setup();
    CHECK(skip || base[0] != '\0');
}

static void cleanup(void)
{
    if (skip)
        return;
    kill(server, SIGTERM);
    int status = 0;
    waitpid(server, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    check_history();
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
    CHECK(system(cmd) == 0);
}

TEST_MAIN(test_setup, test_openai_chat, test_logprobs, test_other_protocols, test_stop_strings,
          test_history_session, test_embeddings, test_list_and_show, test_split_model, cleanup)
