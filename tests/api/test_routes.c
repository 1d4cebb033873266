/* test_routes.c - the live protocol routes end to end over loopback HTTP: a fake upstream
 * (tests/providers/fake_upstream.h) behind provider backends, the Osaurus routes in front.
 * Every front protocol against every upstream type, text and tool calls, streaming and not,
 * usage, upstream errors, unknown models, client disconnects, stored Responses chains,
 * embeddings, and secrets kept out of the log. */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "net/http_test_client.h"
#include "osr/api_routes.h"
#include "osr/chat_service.h"
#include "osr/history.h"
#include "osr/log.h"
#include "osr/provider.h"
#include "providers/fake_upstream.h"

#define OA_KEY "sk-test-secret-123"
#define AN_KEY "ant-secret-456"
#define GM_KEY "goog-secret-789"

static struct osr_chat_service *svc;
static struct osr_history *history;
static struct osr_chat_routes *routes;
static struct osr_http_server *front;
static struct osr_server_config front_cfg;
static char front_base[64];
static char home[256];

static void add_provider(const char *id, const char *type, const char *base, const char *key,
                         const char *extra)
{
    char json[1024], sec[256];
    snprintf(json, sizeof(json),
             "{\"id\":\"%s\",\"name\":\"%s\",\"host\":\"127.0.0.1\",\"providerProtocol\":\"http\","
             "\"port\":%d,\"basePath\":\"%s\",\"customHeaders\":{\"X-Custom\":\"yes-%s\"},"
             "\"authType\":\"%s\",\"providerType\":\"%s\",\"enabled\":true,\"autoConnect\":true,"
             "\"timeout\":20,\"secretHeaderKeys\":[]%s}",
             id, id, fake.port, base, id, key ? "apiKey" : "none", type, extra ? extra : "");
    snprintf(sec, sizeof(sec), "{\"apiKey\":\"%s\"}", key ? key : "");
    struct json_object *o = NULL, *s = NULL;
    REQUIRE(osr_json_parse(json, strlen(json), &o, NULL) == OSR_OK);
    REQUIRE(osr_json_parse(sec, strlen(sec), &s, NULL) == OSR_OK);
    struct osr_provider p;
    struct osr_diag d;
    osr_diag_clear(&d);
    int rc = osr_provider_parse(o, s, &p, &d);
    if (rc)
        fprintf(stderr, "provider %s: %s\n", id, d.msg);
    REQUIRE(rc == OSR_OK);
    osr_chat_service_add_backend(svc, osr_provider_backend_new(&p));
    osr_provider_release(&p);
    json_object_put(o);
    json_object_put(s);
}

static void setup(void)
{
    osr_providers_global_init();
    fake_start();
    const char *t = getenv("TMPDIR");
    snprintf(home, sizeof(home), "%s/osr-routes-XXXXXX", t && *t ? t : "/tmp");
    REQUIRE(mkdtemp(home) != NULL);
    struct osr_diag d;
    osr_diag_clear(&d);
    REQUIRE(osr_history_open(&history, home, NULL, false, &d) == OSR_OK);
    svc = osr_chat_service_new();
    add_provider("oa", "openai", "/v1", OA_KEY, NULL);
    add_provider("an", "anthropic", "/v1", AN_KEY, NULL);
    add_provider("rs", "openResponses", "/v1", OA_KEY, NULL);
    add_provider("gm", "gemini", "/v1beta", GM_KEY, NULL);
    add_provider("ol", "ollama", "", NULL, ",\"models\":[\"llama3\",\"qwen\"]");
    add_provider("az", "openai", "/v1", NULL, ",\"apiVersion\":\"2024-10-21\"");
    add_provider("to", "openai", "/v1", NULL, ",\"timeout\":1"); /* the last key wins */
    routes = osr_chat_routes_new(svc, history);
    osr_server_config_defaults(&front_cfg);
    front = osr_http_server_new(&front_cfg, 0);
    osr_chat_routes_register(front, routes);
    osr_diag_clear(&d);
    REQUIRE(osr_http_server_start(front, &d) == OSR_OK);
    snprintf(front_base, sizeof(front_base), "http://127.0.0.1:%d", osr_http_server_port(front));
}

static void teardown(void)
{
    osr_http_server_free(front);
    osr_server_config_release(&front_cfg);
    osr_chat_routes_free(routes);
    osr_chat_service_free(svc);
    osr_history_close(history);
    fake_stop();
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", home);
}

static struct test_resp post(const char *path, const char *body)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", front_base, path);
    return test_request(NULL, "POST", url, body, strlen(body), NULL);
}

static struct json_object *body_json(const struct test_resp *r)
{
    struct json_object *o = NULL;
    if (osr_json_parse(osr_buf_str(&r->body), r->body.len, &o, NULL) != OSR_OK)
        return NULL;
    return o;
}

/* Follows a path of keys and array indexes ("choices", "0", "message", "content"). */
static struct json_object *at(struct json_object *o, const char *const *path)
{
    for (size_t i = 0; o && path[i]; i++) {
        if (json_object_is_type(o, json_type_array)) {
            o = json_object_array_get_idx(o, (size_t)strtol(path[i], NULL, 10));
        } else {
            struct json_object *v = NULL;
            o = json_object_object_get_ex(o, path[i], &v) ? v : NULL;
        }
    }
    return o;
}

#define AT(o, ...) at((o), (const char *const[]){__VA_ARGS__, NULL})

static const char *at_str(struct json_object *o)
{
    return o && json_object_is_type(o, json_type_string) ? json_object_get_string(o) : "";
}

/* ------------------------------------------------------------------------------- front ends */

enum front { F_OPENAI, F_ANTHROPIC, F_RESPONSES, F_OLLAMA };

static const char *front_path(enum front f)
{
    static const char *const p[] = {"/v1/chat/completions", "/v1/messages", "/v1/responses",
                                    "/api/chat"};
    return p[f];
}

static void front_body(enum front f, const char *model, bool stream, bool tools, char *out,
                       size_t cap)
{
    const char *tool_openai = ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
                              "\"get_weather\",\"parameters\":{\"type\":\"object\",\"properties\":"
                              "{\"city\":{\"type\":\"string\"}}}}}]";
    switch (f) {
    case F_OPENAI:
        snprintf(out, cap,
                 "{\"model\":\"%s\",\"stream\":%s,\"messages\":[{\"role\":\"system\",\"content\":"
                 "\"be brief\"},{\"role\":\"user\",\"content\":\"Hi\"}]%s}",
                 model, stream ? "true" : "false", tools ? tool_openai : "");
        break;
    case F_ANTHROPIC:
        snprintf(out, cap,
                 "{\"model\":\"%s\",\"max_tokens\":100,\"stream\":%s,\"system\":\"be brief\","
                 "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]%s}",
                 model, stream ? "true" : "false",
                 tools ? ",\"tools\":[{\"name\":\"get_weather\",\"input_schema\":{\"type\":"
                         "\"object\"}}]"
                       : "");
        break;
    case F_RESPONSES:
        snprintf(out, cap, "{\"model\":\"%s\",\"stream\":%s,\"instructions\":\"be brief\","
                           "\"input\":\"Hi\"%s}",
                 model, stream ? "true" : "false",
                 tools ? ",\"tools\":[{\"type\":\"function\",\"name\":\"get_weather\","
                         "\"parameters\":{\"type\":\"object\"}}]"
                       : "");
        break;
    case F_OLLAMA:
        snprintf(out, cap,
                 "{\"model\":\"%s\",\"stream\":%s,\"messages\":[{\"role\":\"system\",\"content\":"
                 "\"be brief\"},{\"role\":\"user\",\"content\":\"Hi\"}]%s}",
                 model, stream ? "true" : "false", tools ? tool_openai : "");
        break;
    }
}

/* The text and first tool call of a non-streamed answer in front f's shape. */
static void front_answer(enum front f, struct json_object *o, char *text, size_t tcap, char *name,
                         char *args, size_t acap)
{
    text[0] = name[0] = args[0] = '\0';
    struct json_object *a = NULL;
    switch (f) {
    case F_OPENAI:
        snprintf(text, tcap, "%s", at_str(AT(o, "choices", "0", "message", "content")));
        snprintf(name, acap, "%s",
                 at_str(AT(o, "choices", "0", "message", "tool_calls", "0", "function", "name")));
        snprintf(args, acap, "%s",
                 at_str(AT(o, "choices", "0", "message", "tool_calls", "0", "function",
                           "arguments")));
        break;
    case F_ANTHROPIC: {
        struct json_object *c = AT(o, "content");
        for (size_t i = 0; c && i < json_object_array_length(c); i++) {
            struct json_object *b = json_object_array_get_idx(c, i);
            const char *t = at_str(AT(b, "type"));
            if (strcmp(t, "text") == 0)
                snprintf(text, tcap, "%s", at_str(AT(b, "text")));
            if (strcmp(t, "tool_use") == 0 && !name[0]) {
                snprintf(name, acap, "%s", at_str(AT(b, "name")));
                a = AT(b, "input");
            }
        }
        break;
    }
    case F_RESPONSES: {
        struct json_object *out = AT(o, "output");
        for (size_t i = 0; out && i < json_object_array_length(out); i++) {
            struct json_object *it = json_object_array_get_idx(out, i);
            const char *t = at_str(AT(it, "type"));
            if (strcmp(t, "message") == 0)
                snprintf(text, tcap, "%s", at_str(AT(it, "content", "0", "text")));
            if (strcmp(t, "function_call") == 0 && !name[0]) {
                snprintf(name, acap, "%s", at_str(AT(it, "name")));
                snprintf(args, acap, "%s", at_str(AT(it, "arguments")));
            }
        }
        break;
    }
    case F_OLLAMA:
        snprintf(text, tcap, "%s", at_str(AT(o, "message", "content")));
        snprintf(name, acap, "%s", at_str(AT(o, "message", "tool_calls", "0", "function", "name")));
        a = AT(o, "message", "tool_calls", "0", "function", "arguments");
        break;
    }
    if (a)
        snprintf(args, acap, "%s", json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
}

static const char *stream_end_marker(enum front f)
{
    static const char *const m[] = {"data: [DONE]\n\n", "event: message_stop\n",
                                    "event: response.completed\n", "\"done\":true"};
    return m[f];
}

/* ------------------------------------------------------------------------------------ tests */

static void test_openai_upstream_basic(void)
{
    char body[2048];
    front_body(F_OPENAI, "oa/text-1", false, false, body, sizeof(body));
    struct test_resp r = post("/v1/chat/completions", body);
    CHECK_INT_EQ(r.status, 200);
    struct json_object *o = body_json(&r);
    REQUIRE(o);
    CHECK_STR_EQ(at_str(AT(o, "choices", "0", "message", "content")), "Hello world");
    CHECK_STR_EQ(at_str(AT(o, "choices", "0", "finish_reason")), "stop");
    CHECK_STR_EQ(at_str(AT(o, "model")), "oa/text-1");
    CHECK_INT_EQ(json_object_get_int(AT(o, "usage", "prompt_tokens")), 11);
    CHECK_INT_EQ(json_object_get_int(AT(o, "usage", "completion_tokens")), 2);
    json_object_put(o);
    test_resp_release(&r);

    /* What the upstream saw: its own model name, a stream, the key, the custom header. */
    char *up = fake_last_body();
    struct json_object *u = NULL;
    REQUIRE(osr_json_parse(up, strlen(up), &u, NULL) == OSR_OK);
    CHECK_STR_EQ(at_str(AT(u, "model")), "text-1");
    CHECK(json_object_get_boolean(AT(u, "stream")));
    CHECK(json_object_get_boolean(AT(u, "stream_options", "include_usage")));
    CHECK_STR_EQ(at_str(AT(u, "messages", "0", "role")), "system");
    CHECK_STR_EQ(at_str(AT(u, "messages", "1", "content")), "Hi");
    json_object_put(u);
    free(up);
    CHECK_STR_EQ(fake.last_path, "/v1/chat/completions");
    CHECK_STR_EQ(fake.last_query, "");
    CHECK_STR_EQ(fake.last_auth, "Bearer " OA_KEY);
    CHECK_STR_EQ(fake.last_custom, "yes-oa");

    /* Azure-style: the api-version query parameter on every call; no key, no auth header. */
    front_body(F_OPENAI, "az/text", false, false, body, sizeof(body));
    r = post("/v1/chat/completions", body);
    CHECK_INT_EQ(r.status, 200);
    test_resp_release(&r);
    CHECK_STR_EQ(fake.last_query, "2024-10-21");
    CHECK_STR_EQ(fake.last_auth, "");
}

static void test_openai_stream_headers_and_usage(void)
{
    const char *body = "{\"model\":\"oa/text\",\"stream\":true,\"stream_options\":{\"include_usage\":"
                       "true},\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";
    struct test_resp r = post("/v1/chat/completions", body);
    CHECK_INT_EQ(r.status, 200);
    char h[256];
    CHECK(test_header(&r, "Content-Type", h, sizeof(h)) && strstr(h, "text/event-stream"));
    CHECK(test_header(&r, "Cache-Control", h, sizeof(h)) && strcmp(h, "no-cache") == 0);
    CHECK(test_header(&r, "X-Accel-Buffering", h, sizeof(h)) && strcmp(h, "no") == 0);
    const char *b = osr_buf_str(&r.body);
    CHECK(strstr(b, "\"role\":\"assistant\"") != NULL);
    CHECK(strstr(b, "\"content\":\"Hello\"") != NULL);
    CHECK(strstr(b, "\"content\":\" world\"") != NULL);
    CHECK(strstr(b, "\"finish_reason\":\"stop\"") != NULL);
    CHECK(strstr(b, "\"choices\":[],\"usage\":{\"prompt_tokens\":11") != NULL);
    CHECK(r.body.len > 14 && strcmp(b + r.body.len - 14, "data: [DONE]\n\n") == 0);
    test_resp_release(&r);

    /* An Accept: text/event-stream header streams too. */
    const char *hdrs[] = {"Accept: text/event-stream", NULL};
    char url[256];
    snprintf(url, sizeof(url), "%s/v1/chat/completions", front_base);
    const char *nb = "{\"model\":\"oa/text\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";
    r = test_request(NULL, "POST", url, nb, strlen(nb), hdrs);
    CHECK_INT_EQ(r.status, 200);
    CHECK(strstr(osr_buf_str(&r.body), "data: [DONE]") != NULL);
    test_resp_release(&r);
}

/* Every front protocol against every upstream type, text and tools, body and stream. */
static void test_matrix(void)
{
    static const char *const ups[] = {"oa", "an", "rs", "gm", "ol"};
    for (size_t u = 0; u < 5; u++) {
        for (int f = F_OPENAI; f <= F_OLLAMA; f++) {
            for (int tools = 0; tools < 2; tools++) {
                char model[64], body[2048], text[256], name[128], args[256];
                snprintf(model, sizeof(model), "%s/%s-x", ups[u], tools ? "tools" : "text");
                front_body((enum front)f, model, false, tools, body, sizeof(body));
                struct test_resp r = post(front_path((enum front)f), body);
                if (r.status != 200)
                    fprintf(stderr, "%s via %s: %ld %s\n", model, front_path((enum front)f),
                            r.status, osr_buf_str(&r.body));
                CHECK_INT_EQ(r.status, 200);
                struct json_object *o = body_json(&r);
                CHECK(o != NULL);
                front_answer((enum front)f, o, text, sizeof(text), name, args, sizeof(args));
                if (tools) {
                    CHECK_STR_EQ(name, "get_weather");
                    CHECK_STR_EQ(args, "{\"city\":\"Paris\"}");
                } else {
                    CHECK_STR_EQ(text, "Hello world");
                }
                json_object_put(o);
                test_resp_release(&r);

                front_body((enum front)f, model, true, tools, body, sizeof(body));
                r = post(front_path((enum front)f), body);
                CHECK_INT_EQ(r.status, 200);
                const char *b = osr_buf_str(&r.body);
                if (tools)
                    CHECK(strstr(b, "get_weather") != NULL && strstr(b, "Paris") != NULL);
                else
                    CHECK(strstr(b, "Hello") != NULL && strstr(b, " world") != NULL);
                if (!strstr(b, stream_end_marker((enum front)f)))
                    fprintf(stderr, "%s via %s stream:\n%s\n", model, front_path((enum front)f), b);
                CHECK(strstr(b, stream_end_marker((enum front)f)) != NULL);
                test_resp_release(&r);
            }
        }
    }
}

static void test_upstream_request_shapes(void)
{
    /* Anthropic upstream: headers, system apart, max_tokens. */
    char body[2048];
    front_body(F_OPENAI, "an/text", false, true, body, sizeof(body));
    struct test_resp r = post("/v1/chat/completions", body);
    CHECK_INT_EQ(r.status, 200);
    test_resp_release(&r);
    CHECK_STR_EQ(fake.last_api_key, AN_KEY);
    CHECK_STR_EQ(fake.last_version, "2023-06-01");
    CHECK_STR_EQ(fake.last_auth, "");
    char *up = fake_last_body();
    struct json_object *u = NULL;
    REQUIRE(osr_json_parse(up, strlen(up), &u, NULL) == OSR_OK);
    CHECK_STR_EQ(at_str(AT(u, "system")), "be brief");
    CHECK_STR_EQ(at_str(AT(u, "messages", "0", "content", "0", "text")), "Hi");
    CHECK_INT_EQ(json_object_get_int(AT(u, "max_tokens")), 4096);
    CHECK_STR_EQ(at_str(AT(u, "tools", "0", "name")), "get_weather");
    CHECK(AT(u, "tools", "0", "input_schema") != NULL);
    json_object_put(u);
    free(up);

    /* Gemini: the model in the path, the key header, systemInstruction, declarations. */
    r = post("/v1/chat/completions", body[0] ? body : "");
    test_resp_release(&r);
    front_body(F_OPENAI, "gm/text-pro", false, true, body, sizeof(body));
    r = post("/v1/chat/completions", body);
    CHECK_INT_EQ(r.status, 200);
    test_resp_release(&r);
    CHECK_STR_EQ(fake.last_path, "/v1beta/models/text-pro:streamGenerateContent");
    CHECK_STR_EQ(fake.last_goog, GM_KEY);
    up = fake_last_body();
    REQUIRE(osr_json_parse(up, strlen(up), &u, NULL) == OSR_OK);
    CHECK_STR_EQ(at_str(AT(u, "systemInstruction", "parts", "0", "text")), "be brief");
    CHECK_STR_EQ(at_str(AT(u, "contents", "0", "role")), "user");
    CHECK_STR_EQ(at_str(AT(u, "tools", "0", "functionDeclarations", "0", "name")), "get_weather");
    json_object_put(u);
    free(up);

    /* A tool round trip from an OpenAI client to an Anthropic upstream. */
    const char *turn2 =
        "{\"model\":\"an/text\",\"messages\":[{\"role\":\"user\",\"content\":\"weather?\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":"
        "\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":"
        "\\\"Paris\\\"}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"sunny\"}]}";
    r = post("/v1/chat/completions", turn2);
    CHECK_INT_EQ(r.status, 200);
    test_resp_release(&r);
    up = fake_last_body();
    REQUIRE(osr_json_parse(up, strlen(up), &u, NULL) == OSR_OK);
    CHECK_STR_EQ(at_str(AT(u, "messages", "1", "content", "0", "type")), "tool_use");
    CHECK_STR_EQ(at_str(AT(u, "messages", "1", "content", "0", "input", "city")), "Paris");
    CHECK_STR_EQ(at_str(AT(u, "messages", "2", "role")), "user");
    CHECK_STR_EQ(at_str(AT(u, "messages", "2", "content", "0", "tool_use_id")), "call_1");
    CHECK_STR_EQ(at_str(AT(u, "messages", "2", "content", "0", "content")), "sunny");
    json_object_put(u);
    free(up);

    /* Ollama upstream: options and tool-call arguments as objects. */
    const char *ol = "{\"model\":\"ol/text\",\"temperature\":0.5,\"max_tokens\":33,\"messages\":["
                     "{\"role\":\"user\",\"content\":\"Hi\"}]}";
    r = post("/v1/chat/completions", ol);
    CHECK_INT_EQ(r.status, 200);
    test_resp_release(&r);
    CHECK_STR_EQ(fake.last_path, "/api/chat");
    up = fake_last_body();
    REQUIRE(osr_json_parse(up, strlen(up), &u, NULL) == OSR_OK);
    CHECK_INT_EQ(json_object_get_int(AT(u, "options", "num_predict")), 33);
    CHECK(json_object_get_double(AT(u, "options", "temperature")) == 0.5);
    json_object_put(u);
    free(up);
}

/* Token counts and timings pass through from every upstream type. */
static void test_usage_passthrough(void)
{
    char body[2048];
    front_body(F_ANTHROPIC, "an/text", true, false, body, sizeof(body));
    struct test_resp r = post("/v1/messages", body);
    CHECK_INT_EQ(r.status, 200);
    const char *b = osr_buf_str(&r.body);
    const char *start = strstr(b, "event: message_start");
    CHECK(start && strstr(start, "\"input_tokens\":9") != NULL);
    CHECK(strstr(b, "\"output_tokens\":2") != NULL);
    test_resp_release(&r);

    static const struct {
        const char *model;
        int prompt, completion;
    } cases[] = {{"gm/text", 5, 2}, {"rs/text", 6, 2}, {"an/text", 9, 2}, {"ol/text", 7, 2}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        front_body(F_OPENAI, cases[i].model, false, false, body, sizeof(body));
        r = post("/v1/chat/completions", body);
        struct json_object *o = body_json(&r);
        CHECK_INT_EQ(json_object_get_int(AT(o, "usage", "prompt_tokens")), cases[i].prompt);
        CHECK_INT_EQ(json_object_get_int(AT(o, "usage", "completion_tokens")), cases[i].completion);
        json_object_put(o);
        test_resp_release(&r);
    }
    front_body(F_OLLAMA, "ol/text", false, false, body, sizeof(body));
    r = post("/api/chat", body);
    struct json_object *o = body_json(&r);
    CHECK_INT_EQ(json_object_get_int(AT(o, "prompt_eval_count")), 7);
    CHECK_INT_EQ(json_object_get_int(AT(o, "eval_count")), 2);
    CHECK_INT_EQ(json_object_get_int(AT(o, "eval_duration")), 1000);
    CHECK_STR_EQ(at_str(AT(o, "done_reason")), "stop");
    json_object_put(o);
    test_resp_release(&r);
}

/* Client stop strings are matched here on the upstream's text (PROVIDERS.md): an OpenAI
 * upstream cannot say which stop string it stopped on, so it does not get them. */
static void test_local_stop_strings(void)
{
    /* "lo w" spans the upstream's two deltas "Hello" and " world". */
    const char *body = "{\"model\":\"oa/text\",\"max_tokens\":50,\"stop_sequences\":[\"never\","
                       "\"lo w\"],\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";
    struct test_resp r = post("/v1/messages", body);
    CHECK_INT_EQ(r.status, 200);
    struct json_object *o = body_json(&r);
    CHECK_STR_EQ(at_str(AT(o, "content", "0", "text")), "Hel");
    CHECK_STR_EQ(at_str(AT(o, "stop_reason")), "stop_sequence");
    CHECK_STR_EQ(at_str(AT(o, "stop_sequence")), "lo w");
    json_object_put(o);
    test_resp_release(&r);
    char *up = fake_last_body();
    CHECK(strstr(up, "\"stop\"") == NULL);
    CHECK(strstr(up, "lo w") == NULL);
    free(up);

    /* Streamed: the same cut, and the held-back "lo" never reaches the client. */
    const char *sbody = "{\"model\":\"oa/text\",\"max_tokens\":50,\"stream\":true,"
                        "\"stop_sequences\":[\"lo w\"],\"messages\":[{\"role\":\"user\","
                        "\"content\":\"Hi\"}]}";
    r = post("/v1/messages", sbody);
    CHECK_INT_EQ(r.status, 200);
    const char *b = osr_buf_str(&r.body);
    CHECK(strstr(b, "\"text\":\"Hel\"") != NULL);
    CHECK(strstr(b, "\"text\":\"lo") == NULL && strstr(b, "Hello") == NULL);
    CHECK(strstr(b, "\"stop_reason\":\"stop_sequence\",\"stop_sequence\":\"lo w\"") != NULL);
    CHECK(strstr(b, "event: message_stop") != NULL);
    test_resp_release(&r);

    /* A prefix held back at the end of one delta that the next one does not complete is sent
     * whole, in order. */
    const char *obody = "{\"model\":\"oa/text\",\"stop\":[\"lo!\"],\"messages\":[{\"role\":"
                        "\"user\",\"content\":\"Hi\"}]}";
    r = post("/v1/chat/completions", obody);
    o = body_json(&r);
    CHECK_STR_EQ(at_str(AT(o, "choices", "0", "message", "content")), "Hello world");
    CHECK_STR_EQ(at_str(AT(o, "choices", "0", "finish_reason")), "stop");
    json_object_put(o);
    test_resp_release(&r);

    /* Ollama options.stop through an Ollama upstream: cut here too; done_reason stop. */
    const char *lbody = "{\"model\":\"ol/text\",\"stream\":false,\"options\":{\"stop\":"
                        "[\"o w\"]},\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";
    r = post("/api/chat", lbody);
    o = body_json(&r);
    CHECK_STR_EQ(at_str(AT(o, "message", "content")), "Hell");
    CHECK_STR_EQ(at_str(AT(o, "done_reason")), "stop");
    json_object_put(o);
    test_resp_release(&r);

    /* An Anthropic upstream names its stop sequence itself, so it gets them. */
    const char *abody = "{\"model\":\"an/text\",\"max_tokens\":50,\"stop_sequences\":[\"END\"],"
                        "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";
    r = post("/v1/messages", abody);
    CHECK_INT_EQ(r.status, 200);
    test_resp_release(&r);
    up = fake_last_body();
    CHECK(strstr(up, "\"stop_sequences\":[\"END\"]") != NULL);
    free(up);

    /* A stop string made of three deltas of an endless upstream: the answer ends there and the
     * upstream transfer is aborted (the fake notices its client leaving). */
    atomic_store(&fake.slow_started, 0);
    atomic_store(&fake.slow_cancelled, 0);
    atomic_store(&fake.slow_finished, 0);
    const char *xbody = "{\"model\":\"oa/slow\",\"stop\":\"xxx\",\"messages\":[{\"role\":"
                        "\"user\",\"content\":\"Hi\"}]}";
    int64_t t0 = osr_mono_ns();
    r = post("/v1/chat/completions", xbody);
    CHECK(osr_mono_ns() - t0 < (int64_t)3000 * 1000000);
    o = body_json(&r);
    CHECK_STR_EQ(at_str(AT(o, "choices", "0", "message", "content")), "");
    CHECK_STR_EQ(at_str(AT(o, "choices", "0", "finish_reason")), "stop");
    json_object_put(o);
    test_resp_release(&r);
    for (int w = 0; w < 150 && !atomic_load(&fake.slow_cancelled); w++)
        osr_sleep_ms(20);
    CHECK(atomic_load(&fake.slow_cancelled) == 1);
    CHECK(atomic_load(&fake.slow_finished) == 0);
}

/* The prompt size in Anthropic's message_start over an OpenAI upstream: an estimate the first
 * time, the upstream's own count once it has counted the same prompt (PROVIDERS.md). */
static void test_early_prompt_tokens(void)
{
    const char *first = "{\"model\":\"oa/text\",\"max_tokens\":50,\"stream\":true,"
                        "\"messages\":[{\"role\":\"user\",\"content\":\"count me please\"}]}";
    struct test_resp r = post("/v1/messages", first);
    const char *b = osr_buf_str(&r.body);
    const char *start = strstr(b, "event: message_start");
    const char *delta = strstr(b, "event: message_delta");
    REQUIRE(start && delta);
    const char *est = strstr(start, "\"input_tokens\":4,"); /* (4 + 15 bytes) / 4 */
    CHECK(est != NULL && est < delta);
    CHECK(strstr(delta, "\"output_tokens\":2") != NULL);
    test_resp_release(&r);

    /* Same prompt, other generation settings: the count the upstream reported. */
    const char *again = "{\"model\":\"oa/text\",\"max_tokens\":7,\"temperature\":0.5,"
                        "\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":"
                        "\"count me please\"}]}";
    r = post("/v1/messages", again);
    b = osr_buf_str(&r.body);
    start = strstr(b, "event: message_start");
    delta = strstr(b, "event: content_block_start");
    REQUIRE(start && delta);
    const char *n = strstr(start, "\"input_tokens\":11,");
    CHECK(n != NULL && n < delta);
    test_resp_release(&r);

    /* count_tokens knows it too; another prompt is an estimate. */
    r = post("/v1/messages/count_tokens", "{\"model\":\"oa/text\",\"messages\":[{\"role\":"
                                          "\"user\",\"content\":\"count me please\"}]}");
    CHECK_STR_EQ(osr_buf_str(&r.body), "{\"input_tokens\":11}");
    test_resp_release(&r);
    r = post("/v1/messages/count_tokens", "{\"model\":\"oa/text\",\"messages\":[{\"role\":"
                                          "\"user\",\"content\":\"a different prompt\"}]}");
    CHECK_STR_EQ(osr_buf_str(&r.body), "{\"input_tokens\":5}");
    test_resp_release(&r);
}

/* count_tokens through an Anthropic provider asks the upstream's own count_tokens with only
 * the fields it takes, once per prompt; through Gemini, its countTokens. */
static void test_count_tokens_upstream(void)
{
    const char *body = "{\"model\":\"an/text\",\"system\":\"be brief\",\"messages\":[{\"role\":"
                       "\"user\",\"content\":\"how many?\"}]}";
    int before = atomic_load(&fake.requests);
    struct test_resp r = post("/v1/messages/count_tokens", body);
    CHECK_INT_EQ(r.status, 200);
    CHECK_STR_EQ(osr_buf_str(&r.body), "{\"input_tokens\":42}");
    test_resp_release(&r);
    CHECK_INT_EQ(atomic_load(&fake.requests), before + 1);
    CHECK_STR_EQ(fake.last_path, "/v1/messages/count_tokens");
    CHECK_STR_EQ(fake.last_api_key, AN_KEY);
    char *up = fake_last_body();
    struct json_object *u = NULL;
    REQUIRE(osr_json_parse(up, strlen(up), &u, NULL) == OSR_OK);
    CHECK_STR_EQ(at_str(AT(u, "model")), "text");
    CHECK_STR_EQ(at_str(AT(u, "system")), "be brief");
    CHECK_STR_EQ(at_str(AT(u, "messages", "0", "role")), "user");
    CHECK(AT(u, "max_tokens") == NULL && AT(u, "stream") == NULL);
    json_object_put(u);
    free(up);
    /* Asked again: answered from the memo, no second upstream call. */
    r = post("/v1/messages/count_tokens", body);
    CHECK_STR_EQ(osr_buf_str(&r.body), "{\"input_tokens\":42}");
    test_resp_release(&r);
    CHECK_INT_EQ(atomic_load(&fake.requests), before + 1);

    /* Gemini: models/{model}:countTokens with the generate body as generateContentRequest. */
    r = post("/v1/messages/count_tokens", "{\"model\":\"gm/text\",\"messages\":[{\"role\":"
                                          "\"user\",\"content\":\"how many?\"}]}");
    CHECK_STR_EQ(osr_buf_str(&r.body), "{\"input_tokens\":17}");
    test_resp_release(&r);
    CHECK_STR_EQ(fake.last_path, "/v1beta/models/text:countTokens");
    CHECK_STR_EQ(fake.last_goog, GM_KEY);
    up = fake_last_body();
    CHECK(strstr(up, "\"generateContentRequest\":{") != NULL);
    CHECK(strstr(up, "\"model\":\"models/text\"") != NULL);
    free(up);
}

/* An upstream that ignores "stream": true and answers one JSON body still works. */
static void test_plain_json_upstream(void)
{
    static const char *const models[] = {"oa/plain", "an/plain"};
    for (int i = 0; i < 2; i++) {
        for (int stream = 0; stream < 2; stream++) {
            char body[2048];
            front_body(F_OPENAI, models[i], stream, true, body, sizeof(body));
            struct test_resp r = post("/v1/chat/completions", body);
            CHECK_INT_EQ(r.status, 200);
            const char *b = osr_buf_str(&r.body);
            if (stream) {
                CHECK(strstr(b, "\"content\":\"Hello world\"") != NULL);
                CHECK(strstr(b, "\"finish_reason\":\"tool_calls\"") != NULL);
            } else {
                struct json_object *o = body_json(&r);
                CHECK_STR_EQ(at_str(AT(o, "choices", "0", "message", "content")), "Hello world");
                CHECK_STR_EQ(
                    at_str(AT(o, "choices", "0", "message", "tool_calls", "0", "function", "arguments")),
                    "{\"city\":\"Paris\"}");
                CHECK_INT_EQ(json_object_get_int(AT(o, "usage", "completion_tokens")), 6);
                json_object_put(o);
            }
            test_resp_release(&r);
        }
    }
}

static void test_upstream_errors(void)
{
    char body[2048];
    front_body(F_OPENAI, "oa/error", false, false, body, sizeof(body));
    struct test_resp r = post("/v1/chat/completions", body);
    CHECK_INT_EQ(r.status, 401);
    struct json_object *o = body_json(&r);
    CHECK(strstr(at_str(AT(o, "error", "message")), "Incorrect API key provided") != NULL);
    CHECK_STR_EQ(at_str(AT(o, "error", "type")), "authentication_error");
    json_object_put(o);
    test_resp_release(&r);

    front_body(F_ANTHROPIC, "an/error", false, false, body, sizeof(body));
    r = post("/v1/messages", body);
    CHECK_INT_EQ(r.status, 429);
    o = body_json(&r);
    CHECK_STR_EQ(at_str(AT(o, "type")), "error");
    CHECK_STR_EQ(at_str(AT(o, "error", "type")), "rate_limit_error");
    CHECK(strstr(at_str(AT(o, "error", "message")), "slow down please") != NULL);
    json_object_put(o);
    test_resp_release(&r);

    /* Streaming: the error arrives in the stream, then the stream ends cleanly. */
    front_body(F_OPENAI, "oa/error", true, false, body, sizeof(body));
    r = post("/v1/chat/completions", body);
    CHECK_INT_EQ(r.status, 200);
    CHECK(strstr(osr_buf_str(&r.body), "data: {\"error\":") != NULL);
    CHECK(strstr(osr_buf_str(&r.body), "Incorrect API key") != NULL);
    CHECK(strstr(osr_buf_str(&r.body), "data: [DONE]") != NULL);
    test_resp_release(&r);

    front_body(F_OLLAMA, "ol/error", true, false, body, sizeof(body));
    r = post("/api/chat", body);
    CHECK(strstr(osr_buf_str(&r.body), "{\"error\":") != NULL);
    test_resp_release(&r);

    /* A stream that stops without finishing is an error, never a fake success. */
    front_body(F_OPENAI, "oa/broken", false, false, body, sizeof(body));
    r = post("/v1/chat/completions", body);
    CHECK_INT_EQ(r.status, 502);
    CHECK(strstr(osr_buf_str(&r.body), "before finishing") != NULL);
    test_resp_release(&r);
}

/* 429/5xx before the first byte are retried with backoff; a client sees only the success, or
 * the last refusal once the retries are spent. */
static void test_retry_before_first_byte(void)
{
    char body[2048];
    front_body(F_OPENAI, "oa/flaky", false, false, body, sizeof(body));
    atomic_store(&fake.flaky_left, 1);
    int before = atomic_load(&fake.requests);
    struct test_resp r = post("/v1/chat/completions", body);
    CHECK_INT_EQ(r.status, 200);
    CHECK(strstr(osr_buf_str(&r.body), "Hello world") != NULL);
    CHECK_INT_EQ(atomic_load(&fake.requests) - before, 2);
    test_resp_release(&r);

    atomic_store(&fake.flaky_left, 10);
    before = atomic_load(&fake.requests);
    r = post("/v1/chat/completions", body);
    CHECK_INT_EQ(r.status, 503);
    CHECK(strstr(osr_buf_str(&r.body), "overloaded, try later") != NULL);
    CHECK_INT_EQ(atomic_load(&fake.requests) - before, 3);
    test_resp_release(&r);
    atomic_store(&fake.flaky_left, 0);
}

static void test_unknown_model(void)
{
    char body[2048];
    front_body(F_OPENAI, "nope/x", false, false, body, sizeof(body));
    struct test_resp r = post("/v1/chat/completions", body);
    CHECK_INT_EQ(r.status, 404);
    struct json_object *o = body_json(&r);
    CHECK_STR_EQ(at_str(AT(o, "error", "code")), "model_not_found");
    CHECK_STR_EQ(at_str(AT(o, "error", "type")), "invalid_request_error");
    json_object_put(o);
    test_resp_release(&r);

    front_body(F_ANTHROPIC, "oa", false, false, body, sizeof(body));
    r = post("/anthropic/v1/messages", body);
    CHECK_INT_EQ(r.status, 404);
    o = body_json(&r);
    CHECK_STR_EQ(at_str(AT(o, "error", "type")), "not_found_error");
    json_object_put(o);
    test_resp_release(&r);

    front_body(F_OLLAMA, "oa/", true, false, body, sizeof(body));
    r = post("/api/chat", body);
    CHECK_INT_EQ(r.status, 404);
    o = body_json(&r);
    CHECK(strstr(at_str(AT(o, "error")), "not found") != NULL);
    json_object_put(o);
    test_resp_release(&r);

    front_body(F_RESPONSES, "zz/x", true, false, body, sizeof(body));
    r = post("/v1/responses", body);
    CHECK_INT_EQ(r.status, 404);
    test_resp_release(&r);

    /* A malformed body is the decoder's 400. */
    r = post("/v1/messages", "{\"model\":\"an/x\"}");
    CHECK_INT_EQ(r.status, 400);
    test_resp_release(&r);
}

/* The client hangs up mid-stream: the upstream transfer is aborted (the fake sees its client
 * go away) instead of running to the end. */
static void test_disconnect_cancels_upstream(void)
{
    static const char *const models[] = {"oa/slow", "an/slow", "ol/slow"};
    static const char *const paths[] = {"/v1/chat/completions", "/v1/messages", "/api/chat"};
    for (int i = 0; i < 3; i++) {
        atomic_store(&fake.slow_started, 0);
        atomic_store(&fake.slow_cancelled, 0);
        atomic_store(&fake.slow_finished, 0);
        char body[1024], req[2048];
        front_body(i == 1 ? F_ANTHROPIC : i == 2 ? F_OLLAMA : F_OPENAI, models[i], true, false,
                   body, sizeof(body));
        snprintf(req, sizeof(req),
                 "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\n\r\n%s",
                 paths[i], strlen(body), body);
        int fd = test_connect(osr_http_server_port(front));
        REQUIRE(fd >= 0);
        REQUIRE(test_send_all(fd, req, strlen(req)) == 0);
        char buf[4096];
        int closed;
        size_t n = test_read_some(fd, buf, sizeof(buf), 1500, &closed);
        CHECK(n > 0 && strstr(buf, "200") != NULL);
        CHECK(atomic_load(&fake.slow_started) == 1);
        close(fd);
        for (int w = 0; w < 150 && !atomic_load(&fake.slow_cancelled); w++)
            osr_sleep_ms(20);
        CHECK(atomic_load(&fake.slow_cancelled) == 1);
        CHECK(atomic_load(&fake.slow_finished) == 0);
    }
}

/* The client hangs up while the upstream is silent (a long prefill): the upstream transfer is
 * still aborted, within about a second, without waiting for a chunk. */
static void test_disconnect_during_silence(void)
{
    atomic_store(&fake.slow_started, 0);
    atomic_store(&fake.slow_cancelled, 0);
    atomic_store(&fake.slow_finished, 0);
    char body[1024], req[2048];
    front_body(F_OPENAI, "oa/silent", true, false, body, sizeof(body));
    snprintf(req, sizeof(req),
             "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             strlen(body), body);
    int fd = test_connect(osr_http_server_port(front));
    REQUIRE(fd >= 0);
    REQUIRE(test_send_all(fd, req, strlen(req)) == 0);
    for (int w = 0; w < 100 && !atomic_load(&fake.slow_started); w++)
        osr_sleep_ms(20);
    CHECK(atomic_load(&fake.slow_started) == 1);
    close(fd);
    for (int w = 0; w < 200 && !atomic_load(&fake.slow_cancelled); w++)
        osr_sleep_ms(20);
    CHECK(atomic_load(&fake.slow_cancelled) == 1);
    CHECK(atomic_load(&fake.slow_finished) == 0);
}

/* An upstream silent for longer than the provider's timeout ends as a 504 (and is let go). */
static void test_upstream_timeout(void)
{
    atomic_store(&fake.slow_cancelled, 0);
    char body[1024];
    front_body(F_OPENAI, "to/silent", false, false, body, sizeof(body));
    int64_t t0 = osr_mono_ns();
    struct test_resp r = post("/v1/chat/completions", body);
    int64_t ms = (osr_mono_ns() - t0) / 1000000;
    CHECK_INT_EQ(r.status, 504);
    CHECK(strstr(osr_buf_str(&r.body), "timed out") != NULL);
    if (!(ms >= 900 && ms < 2500))
        fprintf(stderr, "timeout took %lld ms\n", (long long)ms);
    CHECK(ms >= 900 && ms < 2500);
    test_resp_release(&r);
    for (int w = 0; w < 100 && !atomic_load(&fake.slow_cancelled); w++)
        osr_sleep_ms(20);
    CHECK(atomic_load(&fake.slow_cancelled) == 1);

    /* Silence between chunks: the stream carries the text so far, then the in-stream error. */
    front_body(F_OPENAI, "to/stall", true, false, body, sizeof(body));
    r = post("/v1/chat/completions", body);
    CHECK_INT_EQ(r.status, 200);
    const char *b = osr_buf_str(&r.body);
    CHECK(strstr(b, "\"content\":\"x\"") != NULL);
    CHECK(strstr(b, "timed out") != NULL);
    CHECK(strstr(b, "data: [DONE]") != NULL);
    test_resp_release(&r);
}

static void test_secrets_not_logged(void)
{
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    enum osr_log_level old_level = osr_log_get_level();
    osr_log_set_level(OSR_LOG_DEBUG);
    int old_fd = osr_log_set_fd(fds[1]);
    char body[2048];
    const char *models[] = {"oa/text", "an/error", "gm/text", "oa/error"};
    for (int i = 0; i < 4; i++) {
        front_body(F_OPENAI, models[i], i == 2, false, body, sizeof(body));
        struct test_resp r = post("/v1/chat/completions", body);
        test_resp_release(&r);
    }
    osr_log_set_fd(old_fd);
    osr_log_set_level(old_level);
    char logbuf[65536];
    ssize_t n = read(fds[0], logbuf, sizeof(logbuf) - 1);
    logbuf[n > 0 ? n : 0] = '\0';
    close(fds[0]);
    close(fds[1]);
    CHECK(strstr(logbuf, "provider oa") != NULL); /* the log was captured */
    CHECK(strstr(logbuf, "provider an") != NULL);
    CHECK(strstr(logbuf, OA_KEY) == NULL);
    CHECK(strstr(logbuf, AN_KEY) == NULL);
    CHECK(strstr(logbuf, GM_KEY) == NULL);
}

static void test_responses_chain(void)
{
    struct test_resp r = post("/v1/responses", "{\"model\":\"oa/text\",\"input\":\"first question\"}");
    CHECK_INT_EQ(r.status, 200);
    struct json_object *o = body_json(&r);
    char id1[128];
    snprintf(id1, sizeof(id1), "%s", at_str(AT(o, "id")));
    CHECK(strncmp(id1, "resp_", 5) == 0);
    json_object_put(o);
    test_resp_release(&r);

    /* A streamed second turn chained onto the first is stored as well. */
    char body[512];
    snprintf(body, sizeof(body),
             "{\"model\":\"oa/text\",\"stream\":true,\"input\":[{\"role\":\"user\",\"content\":"
             "\"second question\"}],\"previous_response_id\":\"%s\"}",
             id1);
    r = post("/v1/responses", body);
    CHECK_INT_EQ(r.status, 200);
    const char *b = osr_buf_str(&r.body);
    const char *idp = strstr(b, "\"id\":\"resp_");
    REQUIRE(idp);
    char id2[128];
    snprintf(id2, sizeof(id2), "%.29s", idp + 6);
    test_resp_release(&r);
    char *up = fake_last_body();
    struct json_object *u = NULL;
    REQUIRE(osr_json_parse(up, strlen(up), &u, NULL) == OSR_OK);
    CHECK_STR_EQ(at_str(AT(u, "messages", "0", "content")), "first question");
    CHECK_STR_EQ(at_str(AT(u, "messages", "1", "role")), "assistant");
    CHECK_STR_EQ(at_str(AT(u, "messages", "1", "content")), "Hello world");
    CHECK_STR_EQ(at_str(AT(u, "messages", "2", "content")), "second question");
    json_object_put(u);
    free(up);

    /* Third turn on the streamed one: the whole chain comes back. */
    snprintf(body, sizeof(body),
             "{\"model\":\"oa/text\",\"input\":\"third\",\"previous_response_id\":\"%s\"}", id2);
    r = post("/v1/responses", body);
    CHECK_INT_EQ(r.status, 200);
    test_resp_release(&r);
    up = fake_last_body();
    REQUIRE(osr_json_parse(up, strlen(up), &u, NULL) == OSR_OK);
    CHECK_INT_EQ(json_object_array_length(AT(u, "messages")), 5);
    CHECK_STR_EQ(at_str(AT(u, "messages", "3", "content")), "Hello world");
    CHECK_STR_EQ(at_str(AT(u, "messages", "4", "content")), "third");
    json_object_put(u);
    free(up);

    /* "store": false keeps a response out of the table: it cannot be chained onto. */
    r = post("/v1/responses", "{\"model\":\"oa/text\",\"input\":\"secret\",\"store\":false}");
    CHECK_INT_EQ(r.status, 200);
    o = body_json(&r);
    char id3[128];
    snprintf(id3, sizeof(id3), "%s", at_str(AT(o, "id")));
    json_object_put(o);
    test_resp_release(&r);
    snprintf(body, sizeof(body),
             "{\"model\":\"oa/text\",\"input\":\"x\",\"previous_response_id\":\"%s\"}", id3);
    r = post("/v1/responses", body);
    CHECK_INT_EQ(r.status, 400);
    test_resp_release(&r);

    r = post("/v1/responses",
             "{\"model\":\"oa/text\",\"input\":\"x\",\"previous_response_id\":\"resp_nope\"}");
    CHECK_INT_EQ(r.status, 400);
    o = body_json(&r);
    CHECK_STR_EQ(at_str(AT(o, "error", "param")), "previous_response_id");
    json_object_put(o);
    test_resp_release(&r);
}

static void test_other_routes(void)
{
    struct test_resp r = post("/v1/completions", "{\"model\":\"oa/text\",\"prompt\":\"Say\"}");
    CHECK_INT_EQ(r.status, 200);
    struct json_object *o = body_json(&r);
    CHECK_STR_EQ(at_str(AT(o, "choices", "0", "text")), "Hello world");
    json_object_put(o);
    test_resp_release(&r);

    r = post("/api/generate", "{\"model\":\"ol/text\",\"prompt\":\"Say\",\"stream\":false}");
    CHECK_INT_EQ(r.status, 200);
    o = body_json(&r);
    CHECK_STR_EQ(at_str(AT(o, "response")), "Hello world");
    CHECK(json_object_get_boolean(AT(o, "done")));
    json_object_put(o);
    test_resp_release(&r);

    /* An OpenAI-type provider cannot count: the estimate. */
    r = post("/v1/messages/count_tokens",
             "{\"model\":\"oa/x\",\"messages\":[{\"role\":\"user\",\"content\":\"abcdefgh\"}]}");
    CHECK_INT_EQ(r.status, 200);
    o = body_json(&r);
    CHECK_INT_EQ(json_object_get_int(AT(o, "input_tokens")), 3); /* (8 + 4) / 4, as encoders say */
    json_object_put(o);
    test_resp_release(&r);

    char url[256];
    snprintf(url, sizeof(url), "%s/api/version", front_base);
    r = test_request(NULL, "GET", url, NULL, 0, NULL);
    CHECK_INT_EQ(r.status, 200);
    o = body_json(&r);
    CHECK_STR_EQ(at_str(AT(o, "version")), OSR_VERSION);
    json_object_put(o);
    test_resp_release(&r);
}

static void test_embeddings(void)
{
    struct test_resp r = post("/v1/embeddings", "{\"model\":\"oa/emb\",\"input\":[\"a\",\"b\"]}");
    CHECK_INT_EQ(r.status, 200);
    struct json_object *o = body_json(&r);
    CHECK_INT_EQ(json_object_array_length(AT(o, "data")), 2);
    CHECK(json_object_get_double(AT(o, "data", "1", "embedding", "0")) == 0.5);
    CHECK(json_object_get_double(AT(o, "data", "1", "embedding", "2")) == 1.0);
    CHECK_INT_EQ(json_object_get_int(AT(o, "usage", "prompt_tokens")), 4);
    json_object_put(o);
    test_resp_release(&r);
    CHECK_STR_EQ(fake.last_path, "/v1/embeddings");

    r = post("/api/embed", "{\"model\":\"ol/emb\",\"input\":\"x\"}");
    CHECK_INT_EQ(r.status, 200);
    o = body_json(&r);
    CHECK(json_object_get_double(AT(o, "embeddings", "0", "1")) == -0.25);
    json_object_put(o);
    test_resp_release(&r);
    CHECK_STR_EQ(fake.last_path, "/api/embed");

    /* /api/embeddings normalizes to /embeddings like /v1/embeddings; the raw path decides. */
    r = post("/api/embeddings", "{\"model\":\"ol/emb\",\"prompt\":\"x\"}");
    CHECK_INT_EQ(r.status, 200);
    o = body_json(&r);
    CHECK(json_object_get_double(AT(o, "embedding", "0")) == 0.5);
    json_object_put(o);
    test_resp_release(&r);

    r = post("/v1/embeddings", "{\"model\":\"an/emb\",\"input\":\"x\"}");
    CHECK_INT_EQ(r.status, 400);
    CHECK(strstr(osr_buf_str(&r.body), "no embeddings") != NULL);
    test_resp_release(&r);

    r = post("/api/embed", "{\"model\":\"zz/emb\",\"input\":\"x\"}");
    CHECK_INT_EQ(r.status, 404);
    test_resp_release(&r);
}

static void test_list_models(void)
{
    struct osr_model_list l;
    osr_model_list_init(&l);
    osr_chat_service_list_models(svc, &l);
    bool fetched = false, manual = false;
    for (size_t i = 0; i < l.n; i++) {
        if (strcmp(l.items[i].id, "oa/text-a") == 0 && strcmp(l.items[i].owned_by, "oa") == 0)
            fetched = true;
        if (strcmp(l.items[i].id, "ol/qwen") == 0)
            manual = true;
    }
    CHECK(fetched);
    CHECK(manual);
    osr_model_list_release(&l);
    /* The listing is cached: a second call does not ask the upstream again. */
    int before = atomic_load(&fake.requests);
    osr_model_list_init(&l);
    osr_chat_service_list_models(svc, &l);
    CHECK(l.n > 0);
    osr_model_list_release(&l);
    CHECK_INT_EQ(atomic_load(&fake.requests), before);
}

/* Shutdown in the middle of a stream: the client gets the protocol's terminator, and the
 * upstream transfer is aborted. */
struct bg_request {
    pthread_t thread;
    const char *path;
    const char *body;
    struct test_resp resp;
};

static void *bg_post(void *arg)
{
    struct bg_request *b = arg;
    b->resp = post(b->path, b->body);
    return NULL;
}

static void test_shutdown_terminators(void)
{
    atomic_store(&fake.slow_started, 0);
    atomic_store(&fake.slow_cancelled, 0);
    struct bg_request b = {
        .path = "/v1/chat/completions",
        .body = "{\"model\":\"oa/slow\",\"stream\":true,\"messages\":[{\"role\":\"user\","
                "\"content\":\"Hi\"}]}",
    };
    REQUIRE(pthread_create(&b.thread, NULL, bg_post, &b) == 0);
    for (int w = 0; w < 150 && !atomic_load(&fake.slow_started); w++)
        osr_sleep_ms(20);
    osr_sleep_ms(100);
    osr_http_server_shutdown(front, 2000);
    pthread_join(b.thread, NULL);
    const char *body = osr_buf_str(&b.resp.body);
    CHECK_INT_EQ(b.resp.status, 200);
    CHECK(strstr(body, "\"content\":\"x\"") != NULL);
    CHECK(strstr(body, "the server is shutting down") != NULL);
    CHECK(b.resp.body.len > 14 && strcmp(body + b.resp.body.len - 14, "data: [DONE]\n\n") == 0);
    test_resp_release(&b.resp);
    for (int w = 0; w < 150 && !atomic_load(&fake.slow_cancelled); w++)
        osr_sleep_ms(20);
    CHECK(atomic_load(&fake.slow_cancelled) == 1);
}

static void test_all(void)
{
    setup();
    test_openai_upstream_basic();
    test_openai_stream_headers_and_usage();
    test_matrix();
    test_upstream_request_shapes();
    test_usage_passthrough();
    test_local_stop_strings();
    test_early_prompt_tokens();
    test_count_tokens_upstream();
    test_plain_json_upstream();
    test_upstream_errors();
    test_retry_before_first_byte();
    test_unknown_model();
    test_disconnect_cancels_upstream();
    test_disconnect_during_silence();
    test_upstream_timeout();
    test_secrets_not_logged();
    test_responses_chain();
    test_other_routes();
    test_embeddings();
    test_list_models();
    test_shutdown_terminators(); /* last: it stops the front server */
    teardown();
}

TEST_MAIN(test_all)
