/* test_ollama.c - Ollama /api/chat and /api/generate: the fixture cases of both routes. */
#include "fixture.h"

#include "osr/api_ollama.h"

static void test_chat_fixtures(void)
{
    CHECK(fixture_run_all("ollama_chat", OSR_API_OLLAMA_CHAT, osr_ollama_chat_decode) >= 12);
}

static void test_generate_fixtures(void)
{
    CHECK(fixture_run_all("ollama_generate", OSR_API_OLLAMA_GENERATE, osr_ollama_generate_decode) >=
          5);
}

/* Every streamed line is one JSON object; only the last says done:true. */
static void test_ndjson_lines(void)
{
    struct osr_api_encode_opts o = {.model = "m", .stream = true, .now_ms = 1000};
    struct osr_api_encoder *enc = osr_api_encoder_new(OSR_API_OLLAMA_CHAT, &o);
    struct osr_buf out;
    osr_buf_init(&out, 1 << 20);
    struct osr_api_stream_sink ss;
    osr_api_stream_sink_init(&ss, enc, fixture_append, &out);
    CHECK(osr_sink_text(&ss.sink, "line\nbreak", 10) == 0);
    CHECK(osr_sink_tool_start(&ss.sink, 0, "", "f") == 0);
    CHECK(osr_sink_tool_args(&ss.sink, 0, "{\"a\":[1,", 8) == 0);
    CHECK(osr_sink_tool_args(&ss.sink, 0, "2]}", 3) == 0);
    CHECK(osr_sink_finish(&ss.sink, OSR_FINISH_TOOL_CALLS, NULL) == 0);
    CHECK(osr_api_stream_sink_end(&ss) == OSR_OK);
    CHECK_STR_EQ(osr_api_encoder_content_type(enc), "application/x-ndjson");
    char *save = NULL, *copy = strdup(osr_buf_str(&out));
    int lines = 0, done = 0, calls = 0;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        struct json_object *j = NULL, *v = NULL, *msg = NULL;
        REQUIRE(osr_json_parse(line, strlen(line), &j, NULL) == OSR_OK);
        lines++;
        if (json_object_object_get_ex(j, "done", &v) && json_object_get_boolean(v))
            done = lines;
        if (json_object_object_get_ex(j, "message", &msg) &&
            json_object_object_get_ex(msg, "tool_calls", &v)) {
            struct json_object *fn = NULL, *args = NULL;
            json_object_object_get_ex(json_object_array_get_idx(v, 0), "function", &fn);
            json_object_object_get_ex(fn, "arguments", &args);
            CHECK(json_object_is_type(args, json_type_object)); /* not a string */
            calls++;
        }
        json_object_put(j);
    }
    CHECK_INT_EQ(lines, 3);
    CHECK_INT_EQ(done, 3);
    CHECK_INT_EQ(calls, 1);
    free(copy);
    osr_api_stream_sink_release(&ss);
    osr_api_encoder_free(enc);
    osr_buf_release(&out);
}

TEST_MAIN(test_chat_fixtures, test_generate_fixtures, test_ndjson_lines)
