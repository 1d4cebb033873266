/* fake_upstream.h - fake model servers for the tests: one osr_http_server on 127.0.0.1:0 that
 * answers canned OpenAI, Anthropic, Responses, Gemini and Ollama streams and records what it
 * received.  The model name picks the behaviour:
 *   text*   "Hello" + " world", finish stop, usage
 *   tools*  one get_weather call with {"city":"Paris"} in two argument fragments
 *   error*  an error status with the protocol's error body (401; Anthropic 429)
 *   slow*   one token every 20 ms for up to 10 s; stops (and counts) when the client is gone
 *   broken* a stream that ends without a finish
 *   stall*  one OpenAI content chunk ("x"), then silence until the client goes away
 *   silent* a stream that sends nothing until its client goes away (counted like slow*)
 *   plain*  one JSON body instead of a stream (a server that ignores "stream": true)
 *   flaky*  503 while fake.flaky_left > 0 (counting down), then as text*
 * POST /messages/count_tokens answers 42 tokens (400 when the body has max_tokens or stream);
 * Gemini's models/{m}:countTokens 17 (400 without a generateContentRequest naming a model).
 * Test-only code. */
#ifndef OSR_TEST_FAKE_UPSTREAM_H
#define OSR_TEST_FAKE_UPSTREAM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osr/buf.h"
#include "osr/clock.h"
#include "osr/config.h"
#include "osr/http_server.h"
#include "osr/json.h"

enum fake_kind { FK_OPENAI, FK_ANTHROPIC, FK_RESPONSES, FK_GEMINI, FK_OLLAMA, FK_EMBED_OPENAI,
                 FK_EMBED_OLLAMA, FK_MODELS, FK_COUNT };

struct fake_upstream {
    struct osr_http_server *srv;
    struct osr_server_config cfg;
    int port;
    pthread_mutex_t lock;
    struct osr_buf last_body;
    char last_path[256];
    char last_auth[256];
    char last_api_key[256];
    char last_goog[256];
    char last_version[64];
    char last_custom[128];
    char last_query[64]; /* the api-version query parameter */
    atomic_int requests;
    atomic_int flaky_left; /* flaky*: answer 503 this many times, then text */
    atomic_int slow_started;
    atomic_int slow_cancelled;
    atomic_int slow_finished;
};

static struct fake_upstream fake;

struct fake_route {
    enum fake_kind kind;
};
static struct fake_route fake_routes[9] = {{FK_OPENAI},          {FK_ANTHROPIC}, {FK_RESPONSES},
                                           {FK_GEMINI},          {FK_OLLAMA},    {FK_EMBED_OPENAI},
                                           {FK_EMBED_OLLAMA},    {FK_MODELS},    {FK_COUNT}};

static void fake_copy_header(struct osr_http_request *req, const char *name, char *out, size_t cap)
{
    const char *v = osr_http_request_header(req, name);
    snprintf(out, cap, "%s", v ? v : "");
}

static const char *const fake_openai_text =
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":"
    "{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},"
    "\"finish_reason\":null}]}\n\n"
    ": keep-alive comment\n\n"
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" world\"},"
    "\"finish_reason\":null}]}\r\n\r\n"
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
    "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":2,"
    "\"total_tokens\":13}}\n\n"
    "data: [DONE]\n\n";

static const char *const fake_openai_tools =
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"tool_calls\":[{\"index\":0,"
    "\"id\":\"call_abc\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
    "\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
    "{\"arguments\":\"{\\\"city\\\":\"}}]},\"finish_reason\":null}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
    "{\"arguments\":\"\\\"Paris\\\"}\"}}]},\"finish_reason\":null}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}],"
    "\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":7}}\n\n"
    "data: [DONE]\n\n";

static const char *const fake_openai_broken =
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n";

static const char *const fake_anthropic_text =
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\","
    "\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"m\",\"usage\":"
    "{\"input_tokens\":9,\"output_tokens\":1}}}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
    "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
    "event: ping\ndata: {\"type\":\"ping\"}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
    "{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
    "{\"type\":\"text_delta\",\"text\":\" world\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
    "\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":2}}\n\n"
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

static const char *const fake_anthropic_tools =
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_2\","
    "\"usage\":{\"input_tokens\":30,\"output_tokens\":1}}}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
    "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\","
    "\"input\":{}}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
    "{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\":\"}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
    "{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"Paris\\\"}\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
    "\"tool_use\"},\"usage\":{\"output_tokens\":8}}\n\n"
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

static const char *const fake_responses_text =
    "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,"
    "\"response\":{\"id\":\"resp_u\",\"status\":\"in_progress\"}}\n\n"
    "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\","
    "\"output_index\":0,\"item\":{\"type\":\"message\",\"id\":\"m1\",\"role\":\"assistant\"}}\n\n"
    "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\","
    "\"output_index\":0,\"delta\":\"Hello\"}\n\n"
    "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\","
    "\"output_index\":0,\"delta\":\" world\"}\n\n"
    "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":"
    "\"resp_u\",\"status\":\"completed\",\"usage\":{\"input_tokens\":6,\"output_tokens\":2}}}\n\n";

static const char *const fake_responses_tools =
    "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\","
    "\"output_index\":0,\"item\":{\"type\":\"function_call\",\"id\":\"fc_1\",\"call_id\":"
    "\"call_r1\",\"name\":\"get_weather\",\"arguments\":\"\"}}\n\n"
    "event: response.function_call_arguments.delta\ndata: {\"type\":"
    "\"response.function_call_arguments.delta\",\"output_index\":0,\"delta\":\"{\\\"city\\\":\"}\n\n"
    "event: response.function_call_arguments.delta\ndata: {\"type\":"
    "\"response.function_call_arguments.delta\",\"output_index\":0,\"delta\":\"\\\"Paris\\\"}\"}\n\n"
    "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"usage\":"
    "{\"input_tokens\":6,\"output_tokens\":9}}}\n\n";

static const char *const fake_gemini_text =
    "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Hello\"}]}}]}\n\n"
    "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\" world\"}]},"
    "\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":5,"
    "\"candidatesTokenCount\":2}}\n\n";

static const char *const fake_gemini_tools =
    "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"functionCall\":"
    "{\"name\":\"get_weather\",\"args\":{\"city\":\"Paris\"}}}]},\"finishReason\":\"STOP\"}]}\n\n";

static const char *const fake_ollama_text =
    "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"Hello\"},\"done\":false}\n"
    "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\" world\"},\"done\":false}\n"
    "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,"
    "\"done_reason\":\"stop\",\"prompt_eval_count\":7,\"eval_count\":2,\"eval_duration\":1000}\n";

static const char *const fake_ollama_tools =
    "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{"
    "\"function\":{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}}]},\"done\":false}\n"
    "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,"
    "\"done_reason\":\"stop\"}\n";

/* The slow producer: one chunk every 20 ms until the client goes away (or 10 s). */
static void fake_slow_producer(struct osr_http_stream *s, void *ctx)
{
    enum fake_kind kind = (enum fake_kind)(intptr_t)ctx;
    atomic_store(&fake.slow_started, 1);
    const char *chunk = kind == FK_ANTHROPIC
                            ? "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
                              "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n"
                        : kind == FK_OLLAMA
                            ? "{\"message\":{\"role\":\"assistant\",\"content\":\"x\"},\"done\":false}\n"
                            : "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},"
                              "\"finish_reason\":null}]}\n\n";
    if (kind == FK_ANTHROPIC)
        osr_http_stream_printf(s, "%s", "event: message_start\ndata: {\"type\":\"message_start\","
                                        "\"message\":{\"usage\":{\"input_tokens\":1}}}\n\n"
                                        "event: content_block_start\ndata: {\"type\":"
                                        "\"content_block_start\",\"index\":0,\"content_block\":"
                                        "{\"type\":\"text\",\"text\":\"\"}}\n\n");
    for (int i = 0; i < 500; i++) {
        if (osr_http_stream_write(s, chunk, strlen(chunk)) != OSR_OK) {
            atomic_store(&fake.slow_cancelled, 1);
            return;
        }
        osr_sleep_ms(20);
    }
    atomic_store(&fake.slow_finished, 1);
}

/* The silent producer: writes nothing, notices the client leaving (or gives up after 10 s). */
static void fake_silent_producer(struct osr_http_stream *s, void *ctx)
{
    (void)ctx;
    atomic_store(&fake.slow_started, 1);
    for (int i = 0; i < 500; i++) {
        if (osr_http_stream_cancelled(s)) {
            atomic_store(&fake.slow_cancelled, 1);
            return;
        }
        osr_sleep_ms(20);
    }
    atomic_store(&fake.slow_finished, 1);
}

static void fake_stall_producer(struct osr_http_stream *s, void *ctx)
{
    (void)ctx;
    const char *c = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},"
                    "\"finish_reason\":null}]}\n\n";
    osr_http_stream_write(s, c, strlen(c));
    fake_silent_producer(s, NULL);
}

static void fake_handler(struct osr_http_request *req, void *ctx)
{
    enum fake_kind kind = ((struct fake_route *)ctx)->kind;
    struct osr_str body = osr_http_request_body(req);
    atomic_fetch_add(&fake.requests, 1);
    pthread_mutex_lock(&fake.lock);
    osr_buf_reset(&fake.last_body);
    osr_buf_append(&fake.last_body, body.p, body.n);
    snprintf(fake.last_path, sizeof(fake.last_path), "%s", osr_http_request_raw_path(req));
    fake_copy_header(req, "Authorization", fake.last_auth, sizeof(fake.last_auth));
    fake_copy_header(req, "x-api-key", fake.last_api_key, sizeof(fake.last_api_key));
    fake_copy_header(req, "x-goog-api-key", fake.last_goog, sizeof(fake.last_goog));
    fake_copy_header(req, "anthropic-version", fake.last_version, sizeof(fake.last_version));
    fake_copy_header(req, "X-Custom", fake.last_custom, sizeof(fake.last_custom));
    const char *q = osr_http_request_query(req, "api-version");
    snprintf(fake.last_query, sizeof(fake.last_query), "%s", q ? q : "");
    pthread_mutex_unlock(&fake.lock);

    if (kind == FK_MODELS) {
        const char *b = "{\"object\":\"list\",\"data\":[{\"id\":\"text-a\"},{\"id\":\"tools-b\"}]}";
        osr_http_respond(req, 200, "application/json", b, strlen(b));
        return;
    }
    struct json_object *o = NULL;
    osr_json_parse(body.p, body.n, &o, NULL);
    if (kind == FK_COUNT) {
        /* Anthropic's count_tokens: 42 for every prompt, 400 for a field it does not take. */
        bool extra = json_object_object_get_ex(o, "max_tokens", NULL) ||
                     json_object_object_get_ex(o, "stream", NULL);
        const char *b = extra ? "{\"type\":\"error\",\"error\":{\"type\":"
                                "\"invalid_request_error\",\"message\":\"extra inputs\"}}"
                              : "{\"input_tokens\":42}";
        osr_http_respond(req, extra ? 400 : 200, "application/json", b, strlen(b));
        json_object_put(o);
        return;
    }
    const char *model = "";
    if (kind == FK_GEMINI) {
        const char *m = osr_http_request_param(req, "m");
        model = m ? m : "";
    } else {
        osr_json_get_string(o, "model", false, &model, NULL);
    }
    if (kind == FK_GEMINI && strstr(model, ":countTokens")) {
        /* Gemini's countTokens: 17 for a generateContentRequest naming its model. */
        struct json_object *g = NULL, *gm = NULL;
        bool ok = json_object_object_get_ex(o, "generateContentRequest", &g) &&
                  json_object_object_get_ex(g, "model", &gm) &&
                  strncmp(json_object_get_string(gm), "models/", 7) == 0;
        const char *b = ok ? "{\"totalTokens\":17}"
                           : "{\"error\":{\"code\":400,\"message\":\"bad count request\"}}";
        osr_http_respond(req, ok ? 200 : 400, "application/json", b, strlen(b));
        json_object_put(o);
        return;
    }
    if (kind == FK_EMBED_OPENAI || kind == FK_EMBED_OLLAMA) {
        struct json_object *in = NULL;
        osr_json_get_array(o, "input", false, &in, NULL);
        size_t n = in ? json_object_array_length(in) : 0;
        struct osr_buf b;
        osr_buf_init(&b, 1 << 20);
        osr_buf_puts(&b, kind == FK_EMBED_OPENAI ? "{\"object\":\"list\",\"data\":["
                                                 : "{\"model\":\"e\",\"embeddings\":[");
        for (size_t i = 0; i < n; i++) {
            if (kind == FK_EMBED_OPENAI)
                osr_buf_appendf(&b,
                                "%s{\"object\":\"embedding\",\"index\":%zu,\"embedding\":"
                                "[0.5,-0.25,%zu]}",
                                i ? "," : "", i, i);
            else
                osr_buf_appendf(&b, "%s[0.5,-0.25,%zu]", i ? "," : "", i);
        }
        osr_buf_puts(&b, kind == FK_EMBED_OPENAI
                             ? "],\"usage\":{\"prompt_tokens\":4,\"total_tokens\":4}}"
                             : "]}");
        osr_http_respond(req, 200, "application/json", osr_buf_str(&b), b.len);
        osr_buf_release(&b);
        json_object_put(o);
        return;
    }
    const char *ct = kind == FK_OLLAMA ? "application/x-ndjson" : "text/event-stream";
    if (strncmp(model, "error", 5) == 0) {
        if (kind == FK_ANTHROPIC) {
            const char *b = "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
                            "\"message\":\"slow down please\"}}";
            osr_http_respond(req, 429, "application/json", b, strlen(b));
        } else {
            const char *b = "{\"error\":{\"message\":\"Incorrect API key provided\",\"type\":"
                            "\"invalid_request_error\"}}";
            osr_http_respond(req, 401, "application/json", b, strlen(b));
        }
    } else if (strncmp(model, "flaky", 5) == 0 && atomic_fetch_sub(&fake.flaky_left, 1) > 0) {
        const char *b = "{\"error\":{\"message\":\"overloaded, try later\"}}";
        osr_http_respond(req, 503, "application/json", b, strlen(b));
    } else if (strncmp(model, "plain", 5) == 0 && (kind == FK_OPENAI || kind == FK_ANTHROPIC)) {
        const char *b =
            kind == FK_OPENAI
                ? "{\"id\":\"x\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,"
                  "\"message\":{\"role\":\"assistant\",\"content\":\"Hello world\",\"tool_calls\":"
                  "[{\"id\":\"call_p\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
                  "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},\"finish_reason\":"
                  "\"tool_calls\"}],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":6}}"
                : "{\"id\":\"msg_p\",\"type\":\"message\",\"role\":\"assistant\",\"content\":["
                  "{\"type\":\"text\",\"text\":\"Hello world\"},{\"type\":\"tool_use\",\"id\":"
                  "\"toolu_p\",\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}],"
                  "\"stop_reason\":\"tool_use\",\"usage\":{\"input_tokens\":4,\"output_tokens\":6}}";
        osr_http_respond(req, 200, "application/json", b, strlen(b));
    } else if (strncmp(model, "stall", 5) == 0) {
        osr_http_respond_stream(req, 200, ct, fake_stall_producer, NULL, NULL);
    } else if (strncmp(model, "silent", 6) == 0) {
        osr_http_respond_stream(req, 200, ct, fake_silent_producer, NULL, NULL);
    } else if (strncmp(model, "slow", 4) == 0) {
        osr_http_respond_stream(req, 200, ct, fake_slow_producer, (void *)(intptr_t)kind, NULL);
    } else {
        bool tools = strncmp(model, "tools", 5) == 0;
        bool broken = strncmp(model, "broken", 6) == 0;
        const char *b = "";
        switch (kind) {
        case FK_OPENAI:
            b = broken ? fake_openai_broken : tools ? fake_openai_tools : fake_openai_text;
            break;
        case FK_ANTHROPIC:
            b = tools ? fake_anthropic_tools : fake_anthropic_text;
            break;
        case FK_RESPONSES:
            b = tools ? fake_responses_tools : fake_responses_text;
            break;
        case FK_GEMINI:
            b = tools ? fake_gemini_tools : fake_gemini_text;
            break;
        case FK_OLLAMA:
            b = tools ? fake_ollama_tools : fake_ollama_text;
            break;
        default:
            break;
        }
        osr_http_respond(req, 200, ct, b, strlen(b));
    }
    json_object_put(o);
}

static void fake_start(void)
{
    pthread_mutex_init(&fake.lock, NULL);
    osr_buf_init(&fake.last_body, 64u << 20);
    osr_server_config_defaults(&fake.cfg);
    fake.srv = osr_http_server_new(&fake.cfg, 0);
    const struct osr_route routes[] = {
        {"POST", "/chat/completions", fake_handler, OSR_AUTH_PUBLIC, &fake_routes[0], 0},
        {"POST", "/messages", fake_handler, OSR_AUTH_PUBLIC, &fake_routes[1], 0},
        {"POST", "/responses", fake_handler, OSR_AUTH_PUBLIC, &fake_routes[2], 0},
        {"POST", "/v1beta/models/{m}", fake_handler, OSR_AUTH_PUBLIC, &fake_routes[3], 0},
        {"POST", "/chat", fake_handler, OSR_AUTH_PUBLIC, &fake_routes[4], 0},
        {"POST", "/embeddings", fake_handler, OSR_AUTH_PUBLIC, &fake_routes[5], 0},
        {"POST", "/embed", fake_handler, OSR_AUTH_PUBLIC, &fake_routes[6], 0},
        {"GET", "/models", fake_handler, OSR_AUTH_PUBLIC, &fake_routes[7], 0},
        {"POST", "/messages/count_tokens", fake_handler, OSR_AUTH_PUBLIC, &fake_routes[8], 0},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        osr_http_server_add_route(fake.srv, &routes[i]);
    struct osr_diag d;
    osr_diag_clear(&d);
    if (osr_http_server_start(fake.srv, &d)) {
        fprintf(stderr, "cannot start the fake upstream: %s\n", d.msg);
        exit(1);
    }
    fake.port = osr_http_server_port(fake.srv);
}

static void fake_stop(void)
{
    osr_http_server_free(fake.srv);
    osr_server_config_release(&fake.cfg);
    osr_buf_release(&fake.last_body);
    pthread_mutex_destroy(&fake.lock);
}

/* A copy of what the fake last received (caller frees). */
static char *fake_last_body(void)
{
    pthread_mutex_lock(&fake.lock);
    char *s = strdup(osr_buf_str(&fake.last_body));
    pthread_mutex_unlock(&fake.lock);
    return s;
}

#endif
