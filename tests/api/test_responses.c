/* test_responses.c - OpenAI Responses: the fixture cases plus the stream grammar checked
 * structurally (increasing sequence numbers, every added item done). */
#include "fixture.h"

#include "osr/api_responses.h"

static void test_fixtures(void)
{
    CHECK(fixture_run_all("responses", OSR_API_RESPONSES, osr_responses_decode) >= 15);
}

/* Walks an SSE stream: every data line is JSON whose sequence_number goes 0, 1, 2, ... and
 * whose "type" equals the event line before it; items added are all done. */
static void test_stream_grammar(void)
{
    int ids = 0;
    struct osr_api_encode_opts o = {
        .model = "m", .stream = true, .now_ms = 5000, .make_id = fixture_make_id, .id_ctx = &ids};
    struct osr_api_encoder *enc = osr_api_encoder_new(OSR_API_RESPONSES, &o);
    struct osr_buf out;
    osr_buf_init(&out, 1 << 20);
    struct osr_api_stream_sink ss;
    osr_api_stream_sink_init(&ss, enc, fixture_append, &out);
    CHECK(osr_sink_reasoning(&ss.sink, "hmm", 3) == 0);
    CHECK(osr_sink_text(&ss.sink, "a", 1) == 0);
    CHECK(osr_sink_tool_start(&ss.sink, 0, "c1", "f") == 0);
    CHECK(osr_sink_tool_args(&ss.sink, 0, "{}", 2) == 0);
    CHECK(osr_sink_text(&ss.sink, "b", 1) == 0);
    CHECK(osr_sink_finish(&ss.sink, OSR_FINISH_TOOL_CALLS, NULL) == 0);
    CHECK(osr_api_stream_sink_end(&ss) == OSR_OK);
    long long expect_seq = 0;
    int added = 0, done = 0, terminal = 0;
    char *save = NULL, *copy = strdup(osr_buf_str(&out));
    char event[128] = "";
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "event: ", 7) == 0) {
            snprintf(event, sizeof(event), "%s", line + 7);
            continue;
        }
        REQUIRE(strncmp(line, "data: ", 6) == 0);
        struct json_object *o2 = NULL;
        REQUIRE(osr_json_parse(line + 6, strlen(line + 6), &o2, NULL) == OSR_OK);
        struct json_object *v = NULL;
        CHECK(json_object_object_get_ex(o2, "sequence_number", &v) &&
              json_object_get_int64(v) == expect_seq);
        expect_seq++;
        CHECK(json_object_object_get_ex(o2, "type", &v) &&
              strcmp(json_object_get_string(v), event) == 0);
        added += strcmp(event, "response.output_item.added") == 0;
        done += strcmp(event, "response.output_item.done") == 0;
        terminal += strcmp(event, "response.completed") == 0;
        if (strcmp(event, "response.completed") == 0) {
            struct json_object *resp = NULL, *output = NULL;
            json_object_object_get_ex(o2, "response", &resp);
            json_object_object_get_ex(resp, "output", &output);
            /* reasoning, message "a", function call, message "b": in streamed order */
            CHECK_INT_EQ(json_object_array_length(output), 4);
        }
        json_object_put(o2);
    }
    CHECK_INT_EQ(added, 4);
    CHECK_INT_EQ(done, 4);
    CHECK_INT_EQ(terminal, 1);
    free(copy);
    osr_api_stream_sink_release(&ss);
    osr_api_encoder_free(enc);
    osr_buf_release(&out);
}

TEST_MAIN(test_fixtures, test_stream_grammar)
