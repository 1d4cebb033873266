/* test_chat.c - the canonical request's builders, caps, dump, and the sink helpers. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "osr/chat.h"
#include "osr/json.h"

static void test_defaults_and_dump(void)
{
    struct osr_chat_request req;
    osr_chat_request_init(&req, 1 << 20);
    CHECK(isnan(req.sampling.temperature));
    CHECK(req.parallel_tool_calls);
    CHECK(req.tool_choice == OSR_TOOL_CHOICE_AUTO);
    CHECK_INT_EQ(req.x.think, -1);
    req.model = "m";
    struct osr_message *m = osr_chat_request_add_message(&req, OSR_ROLE_USER);
    REQUIRE(m != NULL);
    CHECK(osr_chat_message_add_text(&req, m, "a\"b\0c", 5) == OSR_OK);
    struct osr_buf out;
    osr_buf_init(&out, 4096);
    CHECK(osr_chat_request_dump(&req, &out) == OSR_OK);
    /* The NUL inside the text survives as \u0000; unset sampling values are left out. */
    CHECK_STR_EQ(osr_buf_str(&out),
                 "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"parts\":[{\"type\":\"text\","
                 "\"text\":\"a\\\"b\\u0000c\"}]}],\"tool_choice\":\"auto\",\"sampling\":{},"
                 "\"stream\":false,\"extras\":{}}");
    osr_buf_release(&out);
    osr_chat_request_release(&req);
}

static void test_growth_keeps_contents(void)
{
    struct osr_chat_request req;
    osr_chat_request_init(&req, 8 << 20);
    char text[32];
    for (int i = 0; i < 300; i++) {
        struct osr_message *m = osr_chat_request_add_message(&req, OSR_ROLE_ASSISTANT);
        REQUIRE(m != NULL);
        snprintf(text, sizeof(text), "msg %d", i);
        CHECK(osr_chat_message_add_text(&req, m, text, strlen(text)) == OSR_OK);
    }
    for (int i = 0; i < 40; i++) {
        struct osr_tool *t = osr_chat_request_add_tool(&req);
        REQUIRE(t != NULL);
        int n = snprintf(text, sizeof(text), "tool_%d", i);
        t->name = osr_chat_request_strndup(&req, text, (size_t)n);
    }
    CHECK_INT_EQ(req.n_messages, 300);
    CHECK_STR_EQ(req.messages[0].parts[0].text.p, "msg 0");
    CHECK_STR_EQ(req.messages[299].parts[0].text.p, "msg 299");
    CHECK(osr_chat_request_find_tool(&req, "tool_39") == &req.tools[39]);
    CHECK(osr_chat_request_find_tool(&req, "tool_40") == NULL);
    osr_chat_request_release(&req);
}

static void test_arena_cap(void)
{
    struct osr_chat_request req;
    osr_chat_request_init(&req, 8192);
    struct osr_message *m = osr_chat_request_add_message(&req, OSR_ROLE_USER);
    REQUIRE(m != NULL);
    char big[16384];
    memset(big, 'x', sizeof(big));
    /* Past the cap the builders refuse instead of growing. */
    CHECK(osr_chat_message_add_text(&req, m, big, sizeof(big)) == OSR_ETOOBIG);
    osr_chat_request_release(&req);
}

static void test_hold_keeps_json_alive(void)
{
    struct osr_chat_request req;
    osr_chat_request_init(&req, 1 << 20);
    struct json_object *schema = NULL;
    REQUIRE(osr_json_parse("{\"type\":\"object\"}", 17, &schema, NULL) == OSR_OK);
    struct osr_tool *t = osr_chat_request_add_tool(&req);
    REQUIRE(t != NULL);
    t->name = "f";
    t->parameters = osr_chat_request_hold(&req, schema); /* takes our reference */
    struct osr_buf out;
    osr_buf_init(&out, 4096);
    CHECK(osr_chat_request_dump(&req, &out) == OSR_OK);
    CHECK(strstr(osr_buf_str(&out), "\"parameters\":{\"type\":\"object\"}") != NULL);
    osr_buf_release(&out);
    osr_chat_request_release(&req); /* frees the schema: ASan would catch a leak or a double */
    osr_chat_request_release(&req); /* a second release is harmless */
}

struct recorder {
    int n;
    enum osr_event_kind kinds[16];
    char text[256];
    int stop_after;
};

static int record(struct osr_sink *sink, const struct osr_event *ev)
{
    struct recorder *r = sink->ctx;
    if (r->n < 16)
        r->kinds[r->n] = ev->kind;
    r->n++;
    size_t len = strlen(r->text);
    snprintf(r->text + len, sizeof(r->text) - len, "%s:%.*s;", osr_event_kind_name(ev->kind),
             (int)ev->text.n, ev->text.p ? ev->text.p : "");
    return r->stop_after && r->n >= r->stop_after;
}

static void test_sink_helpers(void)
{
    struct recorder r = {0};
    struct osr_sink sink = {record, &r};
    struct osr_usage u = osr_usage_unknown();
    CHECK_INT_EQ(u.prompt_tokens, -1);
    CHECK(osr_sink_role(&sink) == 0);
    CHECK(osr_sink_text(&sink, "hi", 2) == 0);
    CHECK(osr_sink_reasoning(&sink, "hm", 2) == 0);
    CHECK(osr_sink_tool_start(&sink, 0, "c", "f") == 0);
    CHECK(osr_sink_tool_args(&sink, 0, "{}", 2) == 0);
    CHECK(osr_sink_usage(&sink, &u) == 0);
    CHECK(osr_sink_finish(&sink, OSR_FINISH_STOP_SEQUENCE, "END") == 0);
    CHECK(osr_sink_error(&sink, 0, "boom") == 0);
    CHECK_INT_EQ(r.n, 8);
    CHECK_STR_EQ(r.text, "role:;text:hi;reasoning:hm;tool_start:;tool_args:{};usage:;"
                         "finish:END;error:boom;");
    /* A consumer that is gone says so through the return value. */
    struct recorder gone = {.stop_after = 1};
    struct osr_sink s2 = {record, &gone};
    CHECK(osr_sink_text(&s2, "x", 1) != 0);
}

static void test_names(void)
{
    CHECK_STR_EQ(osr_chat_role_name(OSR_ROLE_DEVELOPER), "developer");
    CHECK_STR_EQ(osr_finish_name(OSR_FINISH_TOOL_CALLS), "tool_calls");
    CHECK_STR_EQ(osr_event_kind_name(OSR_EV_PREFILL_PROGRESS), "prefill_progress");
}

TEST_MAIN(test_defaults_and_dump, test_growth_keeps_contents, test_arena_cap,
          test_hold_keeps_json_alive, test_sink_helpers, test_names)
