/* test_roundtrip.c - streaming and non-streaming answers built from the same events must say
 * the same thing, in every protocol (the conformance kit checks this through the SDKs).
 *
 * Random but reproducible event sequences (text, reasoning, tool calls split at random
 * points) are encoded both ways; the stream is parsed back (SSE data or NDJSON) and folded
 * into text, reasoning and tool calls, which must equal what the body says.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "osr/api.h"
#include "osr/json.h"

struct answer {
    struct osr_buf text, reasoning;
    struct osr_buf ids, names, args[4]; /* ids/names: joined with '|' in call order */
    int n_calls;
    char finish[32];
};

static void answer_init(struct answer *a)
{
    memset(a, 0, sizeof(*a));
    osr_buf_init(&a->text, 1 << 20);
    osr_buf_init(&a->reasoning, 1 << 20);
    osr_buf_init(&a->ids, 4096);
    osr_buf_init(&a->names, 4096);
    for (int i = 0; i < 4; i++)
        osr_buf_init(&a->args[i], 1 << 16);
}

static void answer_release(struct answer *a)
{
    osr_buf_release(&a->text);
    osr_buf_release(&a->reasoning);
    osr_buf_release(&a->ids);
    osr_buf_release(&a->names);
    for (int i = 0; i < 4; i++)
        osr_buf_release(&a->args[i]);
}

static struct json_object *get(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    json_object_object_get_ex(o, key, &v);
    return v;
}

static const char *str(struct json_object *o, const char *key)
{
    struct json_object *v = get(o, key);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static void add(struct osr_buf *b, const char *s)
{
    if (s)
        osr_buf_puts(b, s);
}

static void add_call(struct answer *a, const char *id, const char *name)
{
    add(&a->ids, id);
    osr_buf_putc(&a->ids, '|');
    add(&a->names, name);
    osr_buf_putc(&a->names, '|');
    a->n_calls++;
}

/* Arguments as canonical JSON text (so {"a":1} and { "a": 1 } compare equal). */
static void add_args_json(struct answer *a, int k, struct json_object *v)
{
    if (k < 0 || k >= 4)
        return;
    if (json_object_is_type(v, json_type_string)) {
        struct json_object *p = NULL;
        const char *s = json_object_get_string(v);
        if (osr_json_parse(s, strlen(s), &p, NULL) == OSR_OK) {
            osr_json_append(&a->args[k], p);
            json_object_put(p);
        } else {
            osr_buf_puts(&a->args[k], "INVALID");
        }
    } else {
        osr_json_append(&a->args[k], v);
    }
}

/* ---------------------------------------------------------------- events */

static unsigned rng_state;

static unsigned rnd(unsigned n)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 16) % n;
}

static const char *const WORDS[] = {"Hello",       " world",        "\"quoted\"", "\n",
                                    "caf\xc3\xa9", " \xe2\x9c\x93", "\\",         "{}"};

/* Feeds one random answer to enc. */
static void feed(struct osr_api_encoder *enc, struct osr_buf *out, unsigned seed)
{
    rng_state = seed;
    struct osr_event ev = {.kind = OSR_EV_ROLE};
    osr_api_encoder_event(enc, &ev, out);
    memset(&ev, 0, sizeof(ev));
    ev.kind = OSR_EV_USAGE;
    ev.usage = osr_usage_unknown();
    ev.usage.prompt_tokens = 7;
    osr_api_encoder_event(enc, &ev, out);
    if (rnd(2)) {
        for (unsigned i = 0, n = 1 + rnd(3); i < n; i++) {
            memset(&ev, 0, sizeof(ev));
            ev.kind = OSR_EV_REASONING_DELTA;
            ev.text = osr_str_cstr(WORDS[rnd(8)]);
            osr_api_encoder_event(enc, &ev, out);
        }
    }
    for (unsigned i = 0, n = rnd(5); i < n; i++) {
        memset(&ev, 0, sizeof(ev));
        ev.kind = OSR_EV_TEXT_DELTA;
        ev.text = osr_str_cstr(WORDS[rnd(8)]);
        osr_api_encoder_event(enc, &ev, out);
    }
    unsigned calls = rnd(3);
    static const char *const ARGS[] = {"{\"city\":\"Paris\",\"n\":[1,2]}", "{}",
                                       "{\"q\":\"a \\\"b\\\"\"}"};
    for (unsigned c = 0; c < calls; c++) {
        char id[16];
        snprintf(id, sizeof(id), "call_%u", c);
        memset(&ev, 0, sizeof(ev));
        ev.kind = OSR_EV_TOOL_CALL_START;
        ev.index = (int)c;
        ev.id = osr_str_cstr(id);
        ev.name = osr_str_cstr(c ? "lookup" : "get_weather");
        osr_api_encoder_event(enc, &ev, out);
        const char *args = ARGS[rnd(3)];
        size_t len = strlen(args), pos = 0;
        while (pos < len) {
            size_t step = 1 + rnd(6);
            if (step > len - pos)
                step = len - pos;
            memset(&ev, 0, sizeof(ev));
            ev.kind = OSR_EV_TOOL_CALL_ARGS_DELTA;
            ev.index = (int)c;
            ev.text = osr_str_make(args + pos, step);
            osr_api_encoder_event(enc, &ev, out);
            pos += step;
        }
    }
    memset(&ev, 0, sizeof(ev));
    ev.kind = OSR_EV_FINISH;
    ev.finish = calls ? OSR_FINISH_TOOL_CALLS : rnd(2) ? OSR_FINISH_STOP : OSR_FINISH_LENGTH;
    osr_api_encoder_event(enc, &ev, out);
    memset(&ev, 0, sizeof(ev));
    ev.kind = OSR_EV_USAGE;
    ev.usage = osr_usage_unknown();
    ev.usage.prompt_tokens = 7;
    ev.usage.completion_tokens = 3;
    osr_api_encoder_event(enc, &ev, out);
}

static int make_counter;

static void make_id(void *ctx, const char *prefix, char *out, size_t cap)
{
    int *n = ctx;
    snprintf(out, cap, "%s%d", prefix, ++*n);
}

static void encode(enum osr_api_proto proto, bool stream, unsigned seed, struct osr_buf *out)
{
    make_counter = 0;
    struct osr_api_encode_opts o = {.model = "m",
                                    .stream = stream,
                                    .now_ms = 1700000000000,
                                    .make_id = make_id,
                                    .id_ctx = &make_counter};
    struct osr_api_encoder *enc = osr_api_encoder_new(proto, &o);
    feed(enc, out, seed);
    CHECK(osr_api_encoder_end(enc, out) == OSR_OK);
    CHECK_INT_EQ(osr_api_encoder_status(enc), 200);
    osr_api_encoder_free(enc);
}

/* Calls fn for every JSON payload of a stream (SSE data lines or NDJSON lines). */
static void each_payload(const struct osr_buf *b, bool ndjson,
                         void (*fn)(struct json_object *, struct answer *), struct answer *a)
{
    char *copy = strdup(osr_buf_str(b)), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        const char *payload = line;
        if (!ndjson) {
            if (strncmp(line, "data: ", 6) != 0)
                continue;
            payload = line + 6;
            if (strcmp(payload, "[DONE]") == 0)
                continue;
        }
        struct json_object *o = NULL;
        int ok = osr_json_parse(payload, strlen(payload), &o, NULL) == OSR_OK;
        CHECK(ok);
        if (ok)
            fn(o, a);
        json_object_put(o);
    }
    free(copy);
}

static void check_same(const struct answer *s, const struct answer *b, unsigned seed,
                       const char *proto)
{
    int before = check_failed;
    CHECK_STR_EQ(osr_buf_str(&s->text), osr_buf_str(&b->text));
    CHECK_STR_EQ(osr_buf_str(&s->reasoning), osr_buf_str(&b->reasoning));
    CHECK_STR_EQ(osr_buf_str(&s->ids), osr_buf_str(&b->ids));
    CHECK_STR_EQ(osr_buf_str(&s->names), osr_buf_str(&b->names));
    CHECK_INT_EQ(s->n_calls, b->n_calls);
    for (int i = 0; i < 4; i++)
        CHECK_STR_EQ(osr_buf_str(&s->args[i]), osr_buf_str(&b->args[i]));
    CHECK_STR_EQ(s->finish, b->finish);
    if (check_failed != before)
        fprintf(stderr, "  ^ %s, seed %u\n", proto, seed);
}

/* ---------------------------------------------------------------- OpenAI chat */

static void openai_chunk(struct json_object *o, struct answer *a)
{
    struct json_object *choices = get(o, "choices");
    if (!choices || json_object_array_length(choices) == 0)
        return;
    struct json_object *c = json_object_array_get_idx(choices, 0), *d = get(c, "delta");
    add(&a->text, str(d, "content"));
    add(&a->reasoning, str(d, "reasoning_content"));
    struct json_object *tcs = get(d, "tool_calls");
    for (size_t i = 0; tcs && i < json_object_array_length(tcs); i++) {
        struct json_object *tc = json_object_array_get_idx(tcs, i), *fn = get(tc, "function");
        int k = json_object_get_int(get(tc, "index"));
        if (str(tc, "id"))
            add_call(a, str(tc, "id"), str(fn, "name"));
        if (k >= 0 && k < 4)
            add(&a->args[k], str(fn, "arguments"));
    }
    if (str(c, "finish_reason"))
        snprintf(a->finish, sizeof(a->finish), "%s", str(c, "finish_reason"));
}

static void openai_fold_args(struct answer *a)
{
    /* Streamed arguments arrive as text pieces: canonicalize them like the body's. */
    for (int k = 0; k < 4; k++) {
        if (!a->args[k].len)
            continue;
        struct json_object *s = json_object_new_string(osr_buf_str(&a->args[k]));
        osr_buf_reset(&a->args[k]);
        add_args_json(a, k, s);
        json_object_put(s);
    }
}

static void openai_body(struct json_object *o, struct answer *a)
{
    struct json_object *c = json_object_array_get_idx(get(o, "choices"), 0);
    struct json_object *m = get(c, "message");
    add(&a->text, str(m, "content"));
    add(&a->reasoning, str(m, "reasoning_content"));
    struct json_object *tcs = get(m, "tool_calls");
    for (size_t i = 0; tcs && i < json_object_array_length(tcs); i++) {
        struct json_object *tc = json_object_array_get_idx(tcs, i), *fn = get(tc, "function");
        add_call(a, str(tc, "id"), str(fn, "name"));
        add_args_json(a, (int)i, get(fn, "arguments"));
    }
    snprintf(a->finish, sizeof(a->finish), "%s", str(c, "finish_reason"));
}

/* ---------------------------------------------------------------- Anthropic */

static void anthropic_event(struct json_object *o, struct answer *a)
{
    const char *type = str(o, "type");
    if (!type)
        return;
    if (strcmp(type, "content_block_start") == 0) {
        struct json_object *b = get(o, "content_block");
        if (strcmp(str(b, "type"), "tool_use") == 0)
            add_call(a, str(b, "id"), str(b, "name"));
    } else if (strcmp(type, "content_block_delta") == 0) {
        struct json_object *d = get(o, "delta");
        const char *dt = str(d, "type");
        if (strcmp(dt, "text_delta") == 0)
            add(&a->text, str(d, "text"));
        else if (strcmp(dt, "thinking_delta") == 0)
            add(&a->reasoning, str(d, "thinking"));
        else if (a->n_calls > 0 && a->n_calls <= 4)
            add(&a->args[a->n_calls - 1], str(d, "partial_json"));
    } else if (strcmp(type, "message_delta") == 0) {
        snprintf(a->finish, sizeof(a->finish), "%s", str(get(o, "delta"), "stop_reason"));
    }
}

static void anthropic_body(struct json_object *o, struct answer *a)
{
    struct json_object *content = get(o, "content");
    int k = 0;
    for (size_t i = 0; i < json_object_array_length(content); i++) {
        struct json_object *b = json_object_array_get_idx(content, i);
        const char *t = str(b, "type");
        if (strcmp(t, "text") == 0) {
            add(&a->text, str(b, "text"));
        } else if (strcmp(t, "thinking") == 0) {
            add(&a->reasoning, str(b, "thinking"));
        } else {
            add_call(a, str(b, "id"), str(b, "name"));
            add_args_json(a, k++, get(b, "input"));
        }
    }
    snprintf(a->finish, sizeof(a->finish), "%s", str(o, "stop_reason"));
}

/* ---------------------------------------------------------------- Responses */

static void responses_output(struct json_object *resp, struct answer *a)
{
    struct json_object *output = get(resp, "output");
    int k = 0;
    for (size_t i = 0; i < json_object_array_length(output); i++) {
        struct json_object *it = json_object_array_get_idx(output, i);
        const char *t = str(it, "type");
        struct json_object *content = get(it, "content");
        struct json_object *c = content ? json_object_array_get_idx(content, 0) : NULL;
        if (strcmp(t, "message") == 0) {
            add(&a->text, str(c, "text"));
        } else if (strcmp(t, "reasoning") == 0) {
            add(&a->reasoning, str(c, "text"));
        } else {
            add_call(a, str(it, "call_id"), str(it, "name"));
            add_args_json(a, k++, get(it, "arguments"));
        }
    }
    snprintf(a->finish, sizeof(a->finish), "%s", str(resp, "status"));
}

/* The stream's deltas must add up to the terminal response, which is folded as the body is. */
static void responses_event(struct json_object *o, struct answer *a)
{
    const char *type = str(o, "type");
    if (strcmp(type, "response.output_text.delta") == 0)
        add(&a->text, str(o, "delta"));
    else if (strcmp(type, "response.reasoning_text.delta") == 0)
        add(&a->reasoning, str(o, "delta"));
    else if (strcmp(type, "response.completed") == 0 || strcmp(type, "response.incomplete") == 0)
        snprintf(a->finish, sizeof(a->finish), "%s", str(get(o, "response"), "status"));
}

static struct answer *terminal_target;

static void responses_terminal(struct json_object *o, struct answer *a)
{
    const char *type = str(o, "type");
    (void)a;
    if (strcmp(type, "response.completed") == 0 || strcmp(type, "response.incomplete") == 0)
        responses_output(get(o, "response"), terminal_target);
}

static void responses_body(struct json_object *o, struct answer *a)
{
    responses_output(o, a);
}

/* ---------------------------------------------------------------- Ollama */

static void ollama_line(struct json_object *o, struct answer *a)
{
    struct json_object *m = get(o, "message");
    if (m) {
        add(&a->text, str(m, "content"));
        add(&a->reasoning, str(m, "thinking"));
        struct json_object *tcs = get(m, "tool_calls");
        for (size_t i = 0; tcs && i < json_object_array_length(tcs); i++) {
            struct json_object *tc = json_object_array_get_idx(tcs, i), *fn = get(tc, "function");
            add_call(a, str(tc, "id"), str(fn, "name"));
            add_args_json(a, a->n_calls - 1, get(fn, "arguments"));
        }
    } else {
        add(&a->text, str(o, "response"));
        add(&a->reasoning, str(o, "thinking"));
    }
    if (str(o, "done_reason"))
        snprintf(a->finish, sizeof(a->finish), "%s", str(o, "done_reason"));
}

/* ---------------------------------------------------------------- OpenAI completions */

static void completions_chunk(struct json_object *o, struct answer *a)
{
    struct json_object *choices = get(o, "choices");
    if (!choices || json_object_array_length(choices) == 0)
        return;
    struct json_object *c = json_object_array_get_idx(choices, 0);
    add(&a->text, str(c, "text"));
    if (str(c, "finish_reason"))
        snprintf(a->finish, sizeof(a->finish), "%s", str(c, "finish_reason"));
}

/* ---------------------------------------------------------------- driver */

static void roundtrip(enum osr_api_proto proto, const char *name,
                      void (*stream_fn)(struct json_object *, struct answer *),
                      void (*body_fn)(struct json_object *, struct answer *), bool ndjson)
{
    for (unsigned seed = 1; seed <= 60; seed++) {
        struct osr_buf s, b;
        struct answer as, ab;
        osr_buf_init(&s, 1 << 20);
        osr_buf_init(&b, 1 << 20);
        answer_init(&as);
        answer_init(&ab);
        encode(proto, true, seed, &s);
        encode(proto, false, seed, &b);
        each_payload(&s, ndjson, stream_fn, &as);
        if (proto == OSR_API_OPENAI_CHAT || proto == OSR_API_ANTHROPIC)
            openai_fold_args(&as);
        struct json_object *body = NULL;
        CHECK(osr_json_parse(b.data, b.len, &body, NULL) == OSR_OK);
        if (body)
            body_fn(body, &ab);
        json_object_put(body);
        if (proto == OSR_API_RESPONSES) {
            /* The deltas equal the terminal response's text, which equals the body. */
            struct answer term;
            answer_init(&term);
            terminal_target = &term;
            each_payload(&s, false, responses_terminal, NULL);
            CHECK_STR_EQ(osr_buf_str(&as.text), osr_buf_str(&term.text));
            CHECK_STR_EQ(osr_buf_str(&as.reasoning), osr_buf_str(&term.reasoning));
            check_same(&term, &ab, seed, name);
            answer_release(&term);
        } else {
            check_same(&as, &ab, seed, name);
        }
        answer_release(&as);
        answer_release(&ab);
        osr_buf_release(&s);
        osr_buf_release(&b);
    }
}

static void test_openai_chat(void)
{
    roundtrip(OSR_API_OPENAI_CHAT, "openai_chat", openai_chunk, openai_body, false);
}

static void test_anthropic(void)
{
    roundtrip(OSR_API_ANTHROPIC, "anthropic", anthropic_event, anthropic_body, false);
}

static void test_responses(void)
{
    roundtrip(OSR_API_RESPONSES, "responses", responses_event, responses_body, false);
}

static void test_ollama(void)
{
    roundtrip(OSR_API_OLLAMA_CHAT, "ollama_chat", ollama_line, ollama_line, true);
    roundtrip(OSR_API_OLLAMA_GENERATE, "ollama_generate", ollama_line, ollama_line, true);
}

static void test_completions(void)
{
    roundtrip(OSR_API_OPENAI_COMPLETIONS, "openai_completions", completions_chunk,
              completions_chunk, false);
}

TEST_MAIN(test_completions, test_openai_chat, test_anthropic, test_responses, test_ollama)
