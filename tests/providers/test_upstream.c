/* test_upstream.c - the upstream translators without a network: canonical requests written in
 * each provider's format, and upstream frames read back into canonical events (recorded by a
 * sink).  The end-to-end paths are in tests/api/test_routes.c. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "osr/api.h"
#include "osr/json.h"
#include "providers/provider_internal.h"

/* A canonical request from an OpenAI Chat body. */
static void decode_openai(struct osr_chat_request *req, const char *body)
{
    struct osr_api_error err;
    memset(&err, 0, sizeof(err));
    osr_chat_request_init(req, OSR_CHAT_ARENA_MAX);
    int rc = osr_api_decode(OSR_API_OPENAI_CHAT, req, body, strlen(body), &err);
    if (rc)
        fprintf(stderr, "decode: %s\n", err.diag.msg);
    REQUIRE(rc == OSR_OK);
}

static struct json_object *encode(const struct upstream_proto *up, struct osr_chat_request *req)
{
    struct osr_buf out;
    osr_buf_init(&out, 1 << 20);
    struct json_object *o = NULL;
    CHECK(up->encode(req, "m1", &out) == OSR_OK);
    CHECK(osr_json_parse(osr_buf_str(&out), out.len, &o, NULL) == OSR_OK);
    osr_buf_release(&out);
    return o ? o : json_object_new_object();
}

static struct json_object *at(struct json_object *o, const char *const *path)
{
    for (size_t i = 0; o && path[i]; i++) {
        if (json_object_is_type(o, json_type_array))
            o = json_object_array_get_idx(o, (size_t)strtol(path[i], NULL, 10));
        else
            o = jget(o, path[i]);
    }
    return o;
}
#define AT(o, ...) at((o), (const char *const[]){__VA_ARGS__, NULL})

static const char *s_at(struct json_object *o)
{
    return o && json_object_is_type(o, json_type_string) ? json_object_get_string(o) : "(none)";
}

static const char conversation[] =
    "{\"model\":\"p/m\",\"max_tokens\":50,\"stop\":[\"END\"],\"temperature\":0.2,"
    "\"tool_choice\":\"required\",\"messages\":["
    "{\"role\":\"developer\",\"content\":\"rules\"},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"look\"},{\"type\":\"image_url\","
    "\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgo=\"}}]},"
    "{\"role\":\"assistant\",\"content\":null,\"reasoning_content\":\"hmm\",\"tool_calls\":["
    "{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":"
    "\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
    "{\"id\":\"c2\",\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"oops\"}}]},"
    "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"sunny\"},"
    "{\"role\":\"tool\",\"tool_call_id\":\"c2\",\"content\":\"noon\"},"
    "{\"role\":\"user\",\"content\":\"thanks\"}],"
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":"
    "{\"$schema\":\"x\",\"type\":\"object\",\"additionalProperties\":false,\"properties\":{\"city\":"
    "{\"type\":\"string\"}}}}},{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}]}";

static void test_encode_openai(void)
{
    struct osr_chat_request req;
    decode_openai(&req, conversation);
    struct json_object *o = encode(&osr_up_openai, &req);
    CHECK_STR_EQ(s_at(AT(o, "model")), "m1");
    CHECK_STR_EQ(s_at(AT(o, "messages", "0", "role")), "system");
    CHECK_STR_EQ(s_at(AT(o, "messages", "1", "content", "1", "image_url", "url")),
                 "data:image/png;base64,iVBORw0KGgo=");
    CHECK(AT(o, "messages", "2", "content") == NULL);
    CHECK_STR_EQ(s_at(AT(o, "messages", "2", "tool_calls", "1", "function", "arguments")), "oops");
    CHECK_STR_EQ(s_at(AT(o, "messages", "3", "tool_call_id")), "c1");
    CHECK_STR_EQ(s_at(AT(o, "messages", "4", "content")), "noon");
    CHECK_STR_EQ(s_at(AT(o, "tool_choice")), "required");
    CHECK_STR_EQ(s_at(AT(o, "stop", "0")), "END");
    CHECK_INT_EQ(json_object_get_int(AT(o, "max_tokens")), 50);
    json_object_put(o);
    osr_chat_request_release(&req);
}

static void test_encode_anthropic(void)
{
    struct osr_chat_request req;
    decode_openai(&req, conversation);
    struct json_object *o = encode(&osr_up_anthropic, &req);
    CHECK_STR_EQ(s_at(AT(o, "system")), "rules");
    CHECK_STR_EQ(s_at(AT(o, "messages", "0", "content", "1", "type")), "image");
    CHECK_STR_EQ(s_at(AT(o, "messages", "0", "content", "1", "source", "media_type")), "image/png");
    CHECK_STR_EQ(s_at(AT(o, "messages", "1", "role")), "assistant");
    CHECK_STR_EQ(s_at(AT(o, "messages", "1", "content", "0", "type")), "tool_use");
    /* Broken argument JSON becomes an empty input object, never broken JSON. */
    CHECK(json_object_object_length(AT(o, "messages", "1", "content", "1", "input")) == 0);
    /* Both results and the next user text share one user turn, results first. */
    CHECK_INT_EQ(json_object_array_length(AT(o, "messages")), 3);
    CHECK_STR_EQ(s_at(AT(o, "messages", "2", "content", "0", "tool_use_id")), "c1");
    CHECK_STR_EQ(s_at(AT(o, "messages", "2", "content", "1", "tool_use_id")), "c2");
    CHECK_STR_EQ(s_at(AT(o, "messages", "2", "content", "2", "text")), "thanks");
    CHECK_STR_EQ(s_at(AT(o, "tool_choice", "type")), "any");
    CHECK_STR_EQ(s_at(AT(o, "stop_sequences", "0")), "END");
    json_object_put(o);
    osr_chat_request_release(&req);

    /* Reasoning asked for: extended thinking with a budget below max_tokens. */
    decode_openai(&req, "{\"model\":\"p/m\",\"max_tokens\":100,\"reasoning_effort\":\"medium\","
                        "\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}");
    o = encode(&osr_up_anthropic, &req);
    CHECK_STR_EQ(s_at(AT(o, "thinking", "type")), "enabled");
    CHECK_INT_EQ(json_object_get_int(AT(o, "thinking", "budget_tokens")), 4096);
    CHECK_INT_EQ(json_object_get_int(AT(o, "max_tokens")), 4196);
    json_object_put(o);
    o = encode(&osr_up_gemini, &req);
    CHECK_INT_EQ(json_object_get_int(AT(o, "generationConfig", "thinkingConfig", "thinkingBudget")),
                 4096);
    json_object_put(o);
    osr_chat_request_release(&req);

    /* An assistant turn holding only earlier reasoning is left out. */
    decode_openai(&req, "{\"model\":\"p/m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
                        "{\"role\":\"assistant\",\"content\":\"\",\"reasoning_content\":\"r\"},"
                        "{\"role\":\"user\",\"content\":\"b\"}]}");
    o = encode(&osr_up_anthropic, &req);
    CHECK_INT_EQ(json_object_array_length(AT(o, "messages")), 1);
    CHECK_STR_EQ(s_at(AT(o, "messages", "0", "content", "1", "text")), "b");
    json_object_put(o);
    osr_chat_request_release(&req);
}

static void test_encode_responses_gemini_ollama(void)
{
    struct osr_chat_request req;
    decode_openai(&req, conversation);
    struct json_object *o = encode(&osr_up_responses, &req);
    CHECK_STR_EQ(s_at(AT(o, "instructions")), "rules");
    CHECK_STR_EQ(s_at(AT(o, "input", "0", "content", "1", "type")), "input_image");
    CHECK_STR_EQ(s_at(AT(o, "input", "1", "type")), "function_call");
    CHECK_STR_EQ(s_at(AT(o, "input", "1", "call_id")), "c1");
    CHECK_STR_EQ(s_at(AT(o, "input", "3", "type")), "function_call_output");
    CHECK_STR_EQ(s_at(AT(o, "tools", "0", "name")), "get_weather");
    CHECK_INT_EQ(json_object_get_int(AT(o, "max_output_tokens")), 50);
    json_object_put(o);

    o = encode(&osr_up_gemini, &req);
    CHECK_STR_EQ(s_at(AT(o, "systemInstruction", "parts", "0", "text")), "rules");
    CHECK_STR_EQ(s_at(AT(o, "contents", "0", "parts", "1", "inlineData", "mimeType")), "image/png");
    CHECK_STR_EQ(s_at(AT(o, "contents", "1", "role")), "model");
    CHECK_STR_EQ(s_at(AT(o, "contents", "1", "parts", "0", "functionCall", "args", "city")),
                 "Paris");
    /* The result's function name is found from its call id. */
    CHECK_STR_EQ(s_at(AT(o, "contents", "2", "parts", "0", "functionResponse", "name")),
                 "get_weather");
    CHECK_STR_EQ(s_at(AT(o, "contents", "3", "parts", "0", "functionResponse", "name")),
                 "get_time");
    struct json_object *params = AT(o, "tools", "0", "functionDeclarations", "0", "parameters");
    CHECK(params && jget(params, "$schema") == NULL && jget(params, "additionalProperties") == NULL);
    CHECK_STR_EQ(s_at(AT(params, "properties", "city", "type")), "string");
    CHECK_STR_EQ(s_at(AT(o, "toolConfig", "functionCallingConfig", "mode")), "ANY");
    CHECK_INT_EQ(json_object_get_int(AT(o, "generationConfig", "maxOutputTokens")), 50);
    json_object_put(o);

    o = encode(&osr_up_ollama, &req);
    CHECK_STR_EQ(s_at(AT(o, "messages", "0", "role")), "system");
    CHECK_STR_EQ(s_at(AT(o, "messages", "1", "images", "0")), "iVBORw0KGgo=");
    CHECK_STR_EQ(s_at(AT(o, "messages", "2", "thinking")), "hmm");
    CHECK_STR_EQ(s_at(AT(o, "messages", "2", "tool_calls", "0", "function", "arguments", "city")),
                 "Paris");
    CHECK_STR_EQ(s_at(AT(o, "messages", "3", "role")), "tool");
    CHECK_INT_EQ(json_object_get_int(AT(o, "options", "num_predict")), 50);
    CHECK_STR_EQ(s_at(AT(o, "options", "stop", "0")), "END");
    json_object_put(o);
    osr_chat_request_release(&req);

    /* Gemini model names go into the URL path: only safe characters. */
    struct osr_buf url;
    osr_buf_init(&url, 1024);
    struct osr_provider p = {0};
    CHECK_INT_EQ(osr_up_gemini.url(&p, "gemini-2.0-flash", &url), OSR_OK);
    CHECK_STR_EQ(osr_buf_str(&url), "/models/gemini-2.0-flash:streamGenerateContent?alt=sse");
    CHECK_INT_EQ(osr_up_gemini.url(&p, "../x?y", &url), OSR_EINVAL);
    osr_buf_release(&url);
}

/* ------------------------------------------------------------------ reading upstream frames */

struct rec {
    struct osr_sink sink;
    struct osr_buf log;
    int gone_after; /* 0: never */
    int n;
};

static int rec_emit(struct osr_sink *s, const struct osr_event *ev)
{
    struct rec *r = s->ctx;
    osr_buf_appendf(&r->log, "%s", osr_event_kind_name(ev->kind));
    switch (ev->kind) {
    case OSR_EV_TEXT_DELTA:
    case OSR_EV_REASONING_DELTA:
        osr_buf_appendf(&r->log, "(%.*s)", (int)ev->text.n, ev->text.p);
        break;
    case OSR_EV_TOOL_CALL_START:
        osr_buf_appendf(&r->log, "(%d,%.*s,%.*s)", ev->index, (int)ev->id.n, ev->id.p,
                        (int)ev->name.n, ev->name.p);
        break;
    case OSR_EV_TOOL_CALL_ARGS_DELTA:
        osr_buf_appendf(&r->log, "(%d,%.*s)", ev->index, (int)ev->text.n, ev->text.p);
        break;
    case OSR_EV_FINISH:
        osr_buf_appendf(&r->log, "(%s)", osr_finish_name(ev->finish));
        break;
    case OSR_EV_USAGE:
        osr_buf_appendf(&r->log, "(%lld,%lld)", (long long)ev->usage.prompt_tokens,
                        (long long)ev->usage.completion_tokens);
        break;
    case OSR_EV_ERROR:
        osr_buf_appendf(&r->log, "(%d)", ev->status);
        break;
    default:
        break;
    }
    osr_buf_putc(&r->log, ' ');
    r->n++;
    return r->gone_after && r->n >= r->gone_after;
}

static int feed_sse(void *ctx, const struct osr_sse_event *ev)
{
    struct up_state *st = ctx;
    const struct upstream_proto *up = st->provider_id[0] == 'r'   ? &osr_up_responses
                                      : st->provider_id[0] == 'a' ? &osr_up_anthropic
                                                                  : &osr_up_openai;
    return up->on_event(st, ev);
}

/* Runs SSE text through a translator ("openai", "anthropic" or "responses"). */
static void run_sse(const char *which, const char *text, struct rec *r)
{
    osr_buf_init(&r->log, 1 << 16);
    r->sink.emit = rec_emit;
    r->sink.ctx = r;
    struct up_state st;
    up_state_init(&st, &r->sink, which);
    struct osr_sse_parser p;
    osr_sse_init(&p, 0, feed_sse, &st);
    osr_sse_feed(&p, text, strlen(text));
    osr_sse_finish(&p);
    osr_sse_release(&p);
    if (!st.done && !st.gone)
        up_finish(&st);
}

static void test_read_openai(void)
{
    /* Two calls interleaved by index, usage after the finish chunk. */
    const char *s =
        "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"reasoning_content\":\"think\"}}]}\n\n"
        "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"a\",\"function\":"
        "{\"name\":\"f\",\"arguments\":\"{\"}},{\"index\":1,\"id\":\"b\",\"function\":{\"name\":\"g\"}}]}}]}\n\n"
        "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"{}\"}}]}}]}\n\n"
        "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\n"
        "data: [DONE]\n\n";
    struct rec r = {.gone_after = 0};
    run_sse("openai", s, &r);
    CHECK_STR_EQ(osr_buf_str(&r.log),
                 "role reasoning(think) tool_start(0,a,f) tool_args(0,{) tool_start(1,b,g) "
                 "tool_args(1,{}) usage(3,4) finish(tool_calls) ");
    osr_buf_release(&r.log);

    /* The consumer leaving stops the translation at once. */
    struct rec g = {.gone_after = 2};
    run_sse("openai", s, &g);
    CHECK_INT_EQ(g.n, 2);
    osr_buf_release(&g.log);

    /* An error chunk. */
    struct rec e = {.gone_after = 0};
    run_sse("openai", "data: {\"error\":{\"message\":\"boom\"}}\n\ndata: [DONE]\n\n", &e);
    CHECK_STR_EQ(osr_buf_str(&e.log), "error(502) ");
    osr_buf_release(&e.log);
}

static void test_read_anthropic_and_responses(void)
{
    const char *a =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":"
        "{\"input_tokens\":5}}}\n\n"
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\"}}\n\n"
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\","
        "\"thinking\":\"t\"}}\n\n"
        "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\"}}\n\n"
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\","
        "\"text\":\"hi\"}}\n\n"
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"stop_sequence\","
        "\"stop_sequence\":\"END\"},\"usage\":{\"output_tokens\":2}}\n\n"
        "data: {\"type\":\"message_stop\"}\n\n";
    struct rec r = {.gone_after = 0};
    run_sse("anthropic", a, &r);
    CHECK_STR_EQ(osr_buf_str(&r.log),
                 "role usage(5,-1) reasoning(t) text(hi) usage(5,2) finish(stop_sequence) ");
    osr_buf_release(&r.log);

    struct rec o = {.gone_after = 0};
    run_sse("anthropic",
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
            "\"message\":\"busy\"}}\n\n",
            &o);
    CHECK_STR_EQ(osr_buf_str(&o.log), "error(529) ");
    osr_buf_release(&o.log);

    /* Responses: arguments only in output_item.done; incomplete is a length finish. */
    const char *s =
        "data: {\"type\":\"response.output_item.added\",\"output_index\":0,\"item\":{\"type\":"
        "\"function_call\",\"call_id\":\"c\",\"name\":\"f\"}}\n\n"
        "data: {\"type\":\"response.output_item.done\",\"output_index\":0,\"item\":{\"type\":"
        "\"function_call\",\"arguments\":\"{\\\"a\\\":1}\"}}\n\n"
        "data: {\"type\":\"response.incomplete\",\"response\":{\"usage\":{\"input_tokens\":1,"
        "\"output_tokens\":9}}}\n\n";
    struct rec q = {.gone_after = 0};
    run_sse("responses", s, &q);
    /* A truncated answer stays "length" even with a call in it. */
    CHECK_STR_EQ(osr_buf_str(&q.log),
                 "role tool_start(0,c,f) tool_args(0,{\"a\":1}) usage(1,9) finish(length) ");
    osr_buf_release(&q.log);
}

static void test_error_messages(void)
{
    char msg[128];
    static const struct {
        const char *body, *want;
    } cases[] = {
        {"{\"error\":{\"message\":\"bad key\"}}", "bad key"},
        {"{\"error\":\"model missing\"}", "model missing"},
        {"[{\"error\":{\"code\":400,\"message\":\"gemini says no\"}}]", "gemini says no"},
        {"{\"detail\":\"not here\"}", "not here"},
        {"<html>\n502</html>", "<html> 502</html>"},
        {"", "(no details)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        up_error_message(cases[i].body, strlen(cases[i].body), msg, sizeof(msg));
        CHECK_STR_EQ(msg, cases[i].want);
    }
}

TEST_MAIN(test_encode_openai, test_encode_anthropic, test_encode_responses_gemini_ollama,
          test_read_openai, test_read_anthropic_and_responses, test_error_messages)
