/* test_fake_model.c - a deterministic fake OpenAI-compatible model server, for running the
 * official-SDK conformance suite against `osaurus serve` without a real model.
 *
 * As a CTest it checks its own generation rules.  With OSR_FAKE_MODEL_SERVE=1 in the
 * environment it instead serves on 127.0.0.1 (port OSR_FAKE_MODEL_PORT, default: any free
 * port), prints "fake model on port N", and runs until killed.  It answers
 *   POST /v1/chat/completions  (streamed SSE, as Osaurus's provider client always asks)
 *   POST /v1/messages          (Anthropic SSE, the same model in Anthropic's format)
 *   POST /v1/messages/count_tokens  (the prompt tokens /v1/messages would report)
 *   POST /v1/embeddings        (8-dimensional vectors derived from the text)
 *   GET  /v1/models            ({"data":[{"id":"model"}]})
 * The "model" writes a fixed sentence one word per token, honours max_tokens (finish
 * "length"), stop strings (finish "stop", text cut before the string), and calls the first
 * declared tool (or the named one) when tools are given, tool_choice is not "none" and the
 * last turn is the user's.  Test-only code; see docs/internals/PROVIDERS.md. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "osr/buf.h"
#include "osr/clock.h"
#include "osr/config.h"
#include "osr/http_server.h"
#include "osr/json.h"

static const char *const words[] = {"The", " quick", " brown", " fox", " jumps", " over",
                                    " the", " lazy", " dog", ",", " and", " then",
                                    " the", " fox", " rests", " in", " the", " sun", "."};
#define N_WORDS (sizeof(words) / sizeof(words[0]))

struct plan {
    struct osr_buf text;
    int64_t tokens;
    const char *finish;
    char tool[128]; /* a tool to call, or "" */
    char matched[128]; /* the stop string that cut the text, or "" */
    struct osr_buf args;
    int64_t prompt_tokens;
};

static struct json_object *get(struct json_object *o, const char *k)
{
    struct json_object *v = NULL;
    return o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, k, &v)
               ? v
               : NULL;
}

/* Arguments filling each required string property of the schema with "Paris". */
static void tool_args(struct json_object *schema, struct osr_buf *out)
{
    struct json_object *req = get(schema, "required"), *props = get(schema, "properties");
    osr_buf_putc(out, '{');
    int n = 0;
    for (size_t i = 0; req && json_object_is_type(req, json_type_array) &&
                       i < json_object_array_length(req);
         i++) {
        const char *k = json_object_get_string(json_object_array_get_idx(req, i));
        const char *type = json_object_get_string(get(get(props, k), "type"));
        if (!k)
            continue;
        osr_buf_appendf(out, "%s", n++ ? "," : "");
        osr_json_append_string(out, k, strlen(k));
        if (type && (strcmp(type, "number") == 0 || strcmp(type, "integer") == 0))
            osr_buf_puts(out, ":1");
        else if (type && strcmp(type, "boolean") == 0)
            osr_buf_puts(out, ":true");
        else
            osr_buf_puts(out, ":\"Paris\"");
    }
    osr_buf_putc(out, '}');
}

static void make_plan(struct json_object *body, struct plan *p)
{
    osr_buf_init(&p->text, 1 << 16);
    osr_buf_init(&p->args, 1 << 16);
    p->tool[0] = '\0';
    p->matched[0] = '\0';
    int64_t max = (int64_t)N_WORDS;
    struct json_object *mt = get(body, "max_tokens");
    if (!mt)
        mt = get(body, "max_completion_tokens");
    if (mt && json_object_get_int64(mt) > 0)
        max = json_object_get_int64(mt);
    struct json_object *msgs = get(body, "messages");
    size_t nm = msgs ? json_object_array_length(msgs) : 0;
    size_t chars = 0;
    for (size_t i = 0; i < nm; i++)
        chars += strlen(json_object_to_json_string_ext(json_object_array_get_idx(msgs, i),
                                                       JSON_C_TO_STRING_PLAIN));
    p->prompt_tokens = (int64_t)(chars / 4) + 1;
    const char *last_role =
        nm ? json_object_get_string(get(json_object_array_get_idx(msgs, nm - 1), "role")) : "";
    struct json_object *tools = get(body, "tools"), *tc = get(body, "tool_choice");
    const char *choice = tc && json_object_is_type(tc, json_type_string)
                             ? json_object_get_string(tc)
                         : get(tc, "type") ? json_object_get_string(get(tc, "type"))
                                           : "auto";
    /* The last turn is the user's own words, not tool results (Anthropic sends those as a
     * user turn of tool_result blocks). */
    struct json_object *last = nm ? json_object_array_get_idx(msgs, nm - 1) : NULL;
    struct json_object *lc = get(last, "content");
    const char *first_type = lc && json_object_is_type(lc, json_type_array) &&
                                     json_object_array_length(lc) > 0
                                 ? json_object_get_string(get(json_object_array_get_idx(lc, 0),
                                                              "type"))
                                 : NULL;
    bool results = first_type && strcmp(first_type, "tool_result") == 0;
    if (tools && json_object_array_length(tools) > 0 && strcmp(choice, "none") != 0 &&
        last_role && strcmp(last_role, "user") == 0 && !results) {
        /* OpenAI {"function":{name, parameters}} or Anthropic {name, input_schema}. */
        struct json_object *fn = json_object_array_get_idx(tools, 0);
        if (get(fn, "function"))
            fn = get(fn, "function");
        const char *name = json_object_get_string(get(fn, "name"));
        const char *named = json_object_get_string(get(get(tc, "function"), "name"));
        if (!named && get(tc, "name"))
            named = json_object_get_string(get(tc, "name"));
        for (size_t i = 0; named && i < json_object_array_length(tools); i++) {
            struct json_object *f = json_object_array_get_idx(tools, i);
            if (get(f, "function"))
                f = get(f, "function");
            const char *fname = json_object_get_string(get(f, "name"));
            if (fname && strcmp(fname, named) == 0)
                fn = f;
        }
        snprintf(p->tool, sizeof(p->tool), "%s", named ? named : name ? name : "tool");
        tool_args(get(fn, "parameters") ? get(fn, "parameters") : get(fn, "input_schema"),
                  &p->args);
        p->tokens = max < 5 ? max : 5;
        p->finish = "tool_calls";
        return;
    }
    int64_t n = max < (int64_t)N_WORDS ? max : (int64_t)N_WORDS;
    for (int64_t i = 0; i < n; i++)
        osr_buf_puts(&p->text, words[i]);
    p->tokens = n;
    p->finish = n < (int64_t)N_WORDS ? "length" : "stop";
    /* Stop strings: cut before the earliest one. */
    struct json_object *stop = get(body, "stop");
    if (!stop)
        stop = get(body, "stop_sequences");
    size_t cut = p->text.len;
    for (size_t i = 0; stop && i < (json_object_is_type(stop, json_type_array)
                                        ? json_object_array_length(stop)
                                        : 1);
         i++) {
        const char *s = json_object_is_type(stop, json_type_array)
                            ? json_object_get_string(json_object_array_get_idx(stop, i))
                            : json_object_get_string(stop);
        const char *hit = s && *s ? strstr(osr_buf_str(&p->text), s) : NULL;
        if (hit && (size_t)(hit - osr_buf_str(&p->text)) < cut) {
            cut = (size_t)(hit - osr_buf_str(&p->text));
            snprintf(p->matched, sizeof(p->matched), "%s", s);
        }
    }
    if (cut < p->text.len) {
        p->text.len = cut;
        p->text.data[cut] = '\0';
        p->finish = "stop";
        /* Tokens: the words wholly before the cut. */
        size_t acc = 0;
        p->tokens = 0;
        for (size_t i = 0; i < N_WORDS && acc + strlen(words[i]) <= cut; i++) {
            acc += strlen(words[i]);
            p->tokens++;
        }
    }
}

static void plan_release(struct plan *p)
{
    osr_buf_release(&p->text);
    osr_buf_release(&p->args);
}

static void chunk(struct osr_buf *out, const char *delta, const char *finish)
{
    osr_buf_appendf(out,
                    "data: {\"id\":\"fake-1\",\"object\":\"chat.completion.chunk\",\"created\":1,"
                    "\"model\":\"model\",\"choices\":[{\"index\":0,\"delta\":%s,"
                    "\"finish_reason\":%s%s%s}]}\n\n",
                    delta, finish ? "\"" : "", finish ? finish : "null", finish ? "\"" : "");
}

/* The SSE answer for a chat body. */
static void answer_chat(struct json_object *body, struct osr_buf *out)
{
    struct plan p;
    make_plan(body, &p);
    chunk(out, "{\"role\":\"assistant\",\"content\":\"\"}", NULL);
    struct osr_buf d;
    osr_buf_init(&d, 1 << 16);
    if (p.tool[0]) {
        osr_buf_puts(&d, "{\"tool_calls\":[{\"index\":0,\"id\":\"call_fake1\",\"type\":\"function\","
                         "\"function\":{\"name\":");
        osr_json_append_string(&d, p.tool, strlen(p.tool));
        osr_buf_puts(&d, ",\"arguments\":\"\"}}]}");
        chunk(out, osr_buf_str(&d), NULL);
        osr_buf_reset(&d);
        osr_buf_puts(&d, "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":");
        osr_json_append_string(&d, osr_buf_str(&p.args), p.args.len);
        osr_buf_puts(&d, "}}]}");
        chunk(out, osr_buf_str(&d), NULL);
    } else {
        /* One word per chunk, split at word starts. */
        size_t pos = 0;
        for (size_t i = 0; i < N_WORDS && pos < p.text.len; i++) {
            size_t wl = strlen(words[i]);
            if (pos + wl > p.text.len)
                wl = p.text.len - pos;
            osr_buf_reset(&d);
            osr_buf_puts(&d, "{\"content\":");
            osr_json_append_string(&d, osr_buf_str(&p.text) + pos, wl);
            osr_buf_putc(&d, '}');
            chunk(out, osr_buf_str(&d), NULL);
            pos += wl;
        }
    }
    chunk(out, "{}", p.finish);
    osr_buf_appendf(out,
                    "data: {\"id\":\"fake-1\",\"object\":\"chat.completion.chunk\",\"created\":1,"
                    "\"model\":\"model\",\"choices\":[],\"usage\":{\"prompt_tokens\":%lld,"
                    "\"completion_tokens\":%lld,\"total_tokens\":%lld}}\n\ndata: [DONE]\n\n",
                    (long long)p.prompt_tokens, (long long)p.tokens,
                    (long long)(p.prompt_tokens + p.tokens));
    osr_buf_release(&d);
    plan_release(&p);
}

static void event(struct osr_buf *out, const char *name, const char *data)
{
    osr_buf_appendf(out, "event: %s\ndata: %s\n\n", name, data);
}

/* The Anthropic SSE answer for a /messages body. */
static void answer_messages(struct json_object *body, struct osr_buf *out)
{
    struct plan p;
    make_plan(body, &p);
    struct osr_buf d;
    osr_buf_init(&d, 1 << 16);
    osr_buf_appendf(&d,
                    "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_fake\",\"type\":"
                    "\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"model\","
                    "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":%lld,"
                    "\"output_tokens\":1}}}",
                    (long long)p.prompt_tokens);
    event(out, "message_start", osr_buf_str(&d));
    const char *reason;
    if (p.tool[0]) {
        osr_buf_reset(&d);
        osr_buf_puts(&d, "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
                         "{\"type\":\"tool_use\",\"id\":\"toolu_fake1\",\"name\":");
        osr_json_append_string(&d, p.tool, strlen(p.tool));
        osr_buf_puts(&d, ",\"input\":{}}}");
        event(out, "content_block_start", osr_buf_str(&d));
        osr_buf_reset(&d);
        osr_buf_puts(&d, "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
                         "\"input_json_delta\",\"partial_json\":");
        osr_json_append_string(&d, osr_buf_str(&p.args), p.args.len);
        osr_buf_puts(&d, "}}");
        event(out, "content_block_delta", osr_buf_str(&d));
        reason = "tool_use";
    } else {
        event(out, "content_block_start", "{\"type\":\"content_block_start\",\"index\":0,"
                                          "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}");
        size_t pos = 0;
        for (size_t i = 0; i < N_WORDS && pos < p.text.len; i++) {
            size_t wl = strlen(words[i]);
            if (pos + wl > p.text.len)
                wl = p.text.len - pos;
            osr_buf_reset(&d);
            osr_buf_puts(&d, "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
                             "{\"type\":\"text_delta\",\"text\":");
            osr_json_append_string(&d, osr_buf_str(&p.text) + pos, wl);
            osr_buf_puts(&d, "}}");
            event(out, "content_block_delta", osr_buf_str(&d));
            pos += wl;
        }
        reason = p.matched[0] ? "stop_sequence"
                 : strcmp(p.finish, "length") == 0 ? "max_tokens"
                                                   : "end_turn";
    }
    event(out, "content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}");
    osr_buf_reset(&d);
    osr_buf_appendf(&d, "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"%s\","
                        "\"stop_sequence\":",
                    reason);
    if (p.matched[0] && !p.tool[0])
        osr_json_append_string(&d, p.matched, strlen(p.matched));
    else
        osr_buf_puts(&d, "null");
    osr_buf_appendf(&d, "},\"usage\":{\"output_tokens\":%lld}}", (long long)p.tokens);
    event(out, "message_delta", osr_buf_str(&d));
    event(out, "message_stop", "{\"type\":\"message_stop\"}");
    osr_buf_release(&d);
    plan_release(&p);
}

static void answer_embeddings(struct json_object *body, struct osr_buf *out)
{
    struct json_object *in = get(body, "input");
    size_t n = in && json_object_is_type(in, json_type_array) ? json_object_array_length(in) : 1;
    osr_buf_puts(out, "{\"object\":\"list\",\"model\":\"model\",\"data\":[");
    for (size_t i = 0; i < n; i++) {
        const char *s = json_object_is_type(in, json_type_array)
                            ? json_object_get_string(json_object_array_get_idx(in, i))
                            : json_object_get_string(in);
        uint32_t h = 2166136261u;
        for (const char *c = s ? s : ""; *c; c++)
            h = (h ^ (uint8_t)*c) * 16777619u;
        osr_buf_appendf(out, "%s{\"object\":\"embedding\",\"index\":%zu,\"embedding\":[", i ? "," : "",
                        i);
        for (int k = 0; k < 8; k++) {
            h = h * 1103515245u + 12345u;
            osr_buf_appendf(out, "%s%.6f", k ? "," : "", (double)(h >> 8) / 16777216.0 - 0.5);
        }
        osr_buf_puts(out, "]}");
    }
    osr_buf_puts(out, "],\"usage\":{\"prompt_tokens\":3,\"total_tokens\":3}}");
}

static void handle(struct osr_http_request *req, void *ctx)
{
    (void)ctx;
    const char *path = osr_http_request_path(req);
    if (strcmp(path, "/models") == 0) {
        const char *b = "{\"object\":\"list\",\"data\":[{\"id\":\"model\",\"object\":\"model\"}]}";
        osr_http_respond(req, 200, "application/json", b, strlen(b));
        return;
    }
    struct osr_str body = osr_http_request_body(req);
    struct json_object *o = NULL;
    if (osr_json_parse(body.p, body.n, &o, NULL) != OSR_OK || !o) {
        osr_http_respond_error(req, 400, "invalid_request_error", "bad JSON", NULL, NULL);
        return;
    }
    struct osr_buf out;
    osr_buf_init(&out, 1 << 22);
    if (strcmp(path, "/embeddings") == 0) {
        answer_embeddings(o, &out);
        osr_http_respond(req, 200, "application/json", osr_buf_str(&out), out.len);
    } else if (strcmp(path, "/messages/count_tokens") == 0) {
        /* Anthropic's count: the prompt tokens a /messages answer would report. */
        struct plan p;
        make_plan(o, &p);
        osr_buf_appendf(&out, "{\"input_tokens\":%lld}", (long long)p.prompt_tokens);
        plan_release(&p);
        osr_http_respond(req, 200, "application/json", osr_buf_str(&out), out.len);
    } else if (strcmp(path, "/messages") == 0) {
        answer_messages(o, &out);
        osr_http_respond(req, 200, "text/event-stream", osr_buf_str(&out), out.len);
    } else {
        answer_chat(o, &out);
        osr_http_respond(req, 200, "text/event-stream", osr_buf_str(&out), out.len);
    }
    osr_buf_release(&out);
    json_object_put(o);
}

static struct osr_http_server *start(int port, struct osr_server_config *cfg)
{
    osr_server_config_defaults(cfg);
    struct osr_http_server *srv = osr_http_server_new(cfg, port);
    const struct osr_route routes[] = {
        {"POST", "/chat/completions", handle, OSR_AUTH_PUBLIC, NULL, 0},
        {"POST", "/embeddings", handle, OSR_AUTH_PUBLIC, NULL, 0},
        {"POST", "/messages", handle, OSR_AUTH_PUBLIC, NULL, 0},
        {"POST", "/messages/count_tokens", handle, OSR_AUTH_PUBLIC, NULL, 0},
        {"GET", "/models", handle, OSR_AUTH_PUBLIC, NULL, 0},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        osr_http_server_add_route(srv, &routes[i]);
    struct osr_diag d;
    osr_diag_clear(&d);
    if (osr_http_server_start(srv, &d)) {
        fprintf(stderr, "fake model: %s\n", d.msg);
        exit(1);
    }
    return srv;
}

/* Plans for a few bodies. */
static void test_generation_rules(void)
{
    const char *serve = getenv("OSR_FAKE_MODEL_SERVE");
    if (serve && *serve == '1') {
        const char *ps = getenv("OSR_FAKE_MODEL_PORT");
        struct osr_server_config cfg;
        struct osr_http_server *srv = start(ps ? (int)strtol(ps, NULL, 10) : 0, &cfg);
        printf("fake model on port %d\n", osr_http_server_port(srv));
        fflush(stdout);
        for (;;)
            pause();
    }
    struct {
        const char *body;
        const char *text;
        const char *finish;
        const char *tool;
        int64_t tokens;
    } cases[] = {
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
         "The quick brown fox jumps over the lazy dog, and then the fox rests in the sun.", "stop",
         "", 19},
        {"{\"max_tokens\":3,\"messages\":[]}", "The quick brown", "length", "", 3},
        {"{\"stop\":[\" over\"],\"messages\":[]}", "The quick brown fox jumps", "stop", "", 5},
        {"{\"stop\":\"fox\",\"max_tokens\":2,\"messages\":[]}", "The quick", "length", "", 2},
        {"{\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
         "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"
         "\"required\":[\"city\"]}}}],\"messages\":[{\"role\":\"user\",\"content\":\"w\"}]}",
         "", "tool_calls", "get_weather", 5},
        {"{\"tool_choice\":\"none\",\"max_tokens\":1,\"tools\":[{\"type\":\"function\","
         "\"function\":{\"name\":\"t\"}}],\"messages\":[{\"role\":\"user\",\"content\":\"w\"}]}",
         "The", "length", "", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct json_object *o = NULL;
        REQUIRE(osr_json_parse(cases[i].body, strlen(cases[i].body), &o, NULL) == OSR_OK);
        struct plan p;
        make_plan(o, &p);
        CHECK_STR_EQ(osr_buf_str(&p.text), cases[i].text);
        CHECK_STR_EQ(p.finish, cases[i].finish);
        CHECK_STR_EQ(p.tool, cases[i].tool);
        CHECK_INT_EQ(p.tokens, cases[i].tokens);
        if (cases[i].tool[0])
            CHECK_STR_EQ(osr_buf_str(&p.args), "{\"city\":\"Paris\"}");
        plan_release(&p);
        json_object_put(o);
    }
    /* The server answers over HTTP with a well-formed stream. */
    struct osr_server_config cfg;
    struct osr_http_server *srv = start(0, &cfg);
    struct json_object *o = NULL;
    const char *b = "{\"max_tokens\":2,\"messages\":[]}";
    REQUIRE(osr_json_parse(b, strlen(b), &o, NULL) == OSR_OK);
    struct osr_buf out;
    osr_buf_init(&out, 1 << 20);
    answer_chat(o, &out);
    CHECK(strstr(osr_buf_str(&out), "\"content\":\" quick\"") != NULL);
    CHECK(strstr(osr_buf_str(&out), "\"finish_reason\":\"length\"") != NULL);
    CHECK(strstr(osr_buf_str(&out), "\"completion_tokens\":2") != NULL);
    osr_buf_release(&out);
    json_object_put(o);
    osr_buf_init(&out, 1 << 20);
    const char *ab = "{\"max_tokens\":20,\"stop_sequences\":[\" lazy\"],\"messages\":[]}";
    REQUIRE(osr_json_parse(ab, strlen(ab), &o, NULL) == OSR_OK);
    answer_messages(o, &out);
    CHECK(strstr(osr_buf_str(&out), "\"stop_reason\":\"stop_sequence\",\"stop_sequence\":\" lazy\"") !=
          NULL);
    CHECK(strstr(osr_buf_str(&out), "\"text\":\" the\"") != NULL);
    CHECK(strstr(osr_buf_str(&out), "\"output_tokens\":7") != NULL);
    osr_buf_release(&out);
    json_object_put(o);
    CHECK(osr_http_server_port(srv) > 0);
    osr_http_server_free(srv);
    osr_server_config_release(&cfg);
}

TEST_MAIN(test_generation_rules)
