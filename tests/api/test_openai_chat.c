/* test_openai_chat.c - OpenAI Chat Completions: the fixture cases plus checks on details the
 * fixtures cannot show (decoded image bytes, the sink adapter's disconnect, event misuse). */
#include "fixture.h"

#include "osr/api_openai_chat.h"

static void test_fixtures(void)
{
    CHECK(fixture_run_all("openai_chat", OSR_API_OPENAI_CHAT, osr_openai_chat_decode) >= 20);
}

static void test_data_url_image_bytes(void)
{
    /* "iVBORw0KGgo=" is the 8-byte PNG signature. */
    const char *body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":["
                       "{\"type\":\"text\",\"text\":\"what is this\"},"
                       "{\"type\":\"image_url\",\"image_url\":{\"url\":"
                       "\"data:image/png;base64,iVBORw0KGgo=\",\"detail\":\"low\"}}]}]}";
    struct osr_chat_request req;
    struct osr_api_error err = {0};
    osr_chat_request_init(&req, OSR_CHAT_ARENA_MAX);
    REQUIRE(osr_openai_chat_decode(&req, body, strlen(body), &err) == OSR_OK);
    REQUIRE(req.n_messages == 1);
    REQUIRE(req.messages[0].n_parts == 2);
    const struct osr_image *img = &req.messages[0].parts[1].image;
    CHECK(req.messages[0].parts[1].kind == OSR_PART_IMAGE);
    CHECK_INT_EQ(img->len, 8);
    CHECK(img->data && memcmp(img->data, "\x89PNG\r\n\x1a\n", 8) == 0);
    CHECK_STR_EQ(img->mime, "image/png");
    CHECK_STR_EQ(img->detail, "low");
    CHECK(img->url == NULL);
    osr_chat_request_release(&req);
}

static int gone_after_two(void *ctx, const char *p, size_t n)
{
    int *calls = ctx;
    return ++*calls > 2 ? -1 : 0;
}

static void test_sink_reports_disconnect(void)
{
    int calls = 0, ids = 0;
    struct osr_api_encode_opts o = {
        .model = "m", .stream = true, .now_ms = 1000, .make_id = fixture_make_id, .id_ctx = &ids};
    struct osr_api_encoder *enc = osr_api_encoder_new(OSR_API_OPENAI_CHAT, &o);
    struct osr_api_stream_sink ss;
    osr_api_stream_sink_init(&ss, enc, gone_after_two, &calls);
    CHECK(osr_sink_role(&ss.sink) == 0);
    CHECK(osr_sink_text(&ss.sink, "a", 1) == 0);
    CHECK(osr_sink_text(&ss.sink, "b", 1) != 0); /* the third flush fails */
    CHECK(osr_sink_text(&ss.sink, "c", 1) != 0); /* and it stays failed */
    CHECK_INT_EQ(calls, 3);
    CHECK(osr_api_stream_sink_end(&ss) != OSR_OK);
    osr_api_stream_sink_release(&ss);
    osr_api_encoder_free(enc);
}

static void test_encoder_misuse(void)
{
    struct osr_api_encode_opts o = {.model = "m", .stream = false, .now_ms = 1000};
    struct osr_api_encoder *enc = osr_api_encoder_new(OSR_API_OPENAI_CHAT, &o);
    struct osr_buf out;
    osr_buf_init(&out, 1 << 20);
    /* Random ids have the original's shape: chatcmpl- and 12 upper-case hex digits. */
    const char *id = osr_api_encoder_id(enc);
    CHECK(strncmp(id, "chatcmpl-", 9) == 0 && strlen(id) == 21);
    for (size_t i = 9; i < strlen(id); i++)
        CHECK((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'A' && id[i] <= 'F'));
    CHECK(!osr_api_encoder_error(enc, NULL));
    CHECK(osr_api_encoder_end(enc, &out) == OSR_OK);
    struct osr_api_error e = {0};
    CHECK(osr_api_encoder_error(enc, &e));
    CHECK_INT_EQ(e.status, 500);
    CHECK_STR_EQ(e.diag.msg, "the model stopped without finishing its answer");
    /* Ending without FINISH is an error answer, never a fake success. */
    CHECK_INT_EQ(osr_api_encoder_status(enc), 500);
    CHECK(strstr(osr_buf_str(&out), "\"error\"") != NULL);
    struct osr_event ev = {.kind = OSR_EV_TEXT_DELTA, .text = OSR_STR_LIT("late")};
    CHECK(osr_api_encoder_event(enc, &ev, &out) == OSR_EINVAL);
    CHECK(osr_api_encoder_end(enc, &out) == OSR_EINVAL);
    osr_buf_release(&out);
    osr_api_encoder_free(enc);
}

static void test_text_cap(void)
{
    struct osr_api_encode_opts o = {.model = "m", .stream = false, .now_ms = 1000, .max_text = 4};
    struct osr_api_encoder *enc = osr_api_encoder_new(OSR_API_OPENAI_CHAT, &o);
    struct osr_buf out;
    osr_buf_init(&out, 1 << 20);
    struct osr_event ev = {.kind = OSR_EV_TEXT_DELTA, .text = OSR_STR_LIT("abc")};
    CHECK(osr_api_encoder_event(enc, &ev, &out) == OSR_OK);
    CHECK(osr_api_encoder_event(enc, &ev, &out) == OSR_ETOOBIG);
    osr_buf_release(&out);
    osr_api_encoder_free(enc);
}

static void test_error_body_shape(void)
{
    struct osr_api_error e = {0};
    struct osr_buf out;
    osr_buf_init(&out, 4096);
    osr_api_error_set(&e, 404, "model", "model '%s' not found", "x\"y");
    snprintf(e.code, sizeof(e.code), "model_not_found");
    CHECK(osr_api_error_body(OSR_API_OPENAI_CHAT, &e, &out) == OSR_OK);
    CHECK_STR_EQ(osr_buf_str(&out),
                 "{\"error\":{\"message\":\"model 'x\\\"y' not found\",\"type\":"
                 "\"invalid_request_error\",\"param\":\"model\",\"code\":\"model_not_found\"}}");
    osr_buf_release(&out);
}

static void test_decode_dispatch(void)
{
    const char *body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";
    struct osr_chat_request req;
    struct osr_api_error err = {0};
    osr_chat_request_init(&req, OSR_CHAT_ARENA_MAX);
    CHECK(osr_api_decode(OSR_API_OPENAI_CHAT, &req, body, strlen(body), &err) == OSR_OK);
    osr_chat_request_release(&req);
    /* The same body lacks Anthropic's max_tokens: the dispatcher really picks the decoder. */
    osr_chat_request_init(&req, OSR_CHAT_ARENA_MAX);
    CHECK(osr_api_decode(OSR_API_ANTHROPIC, &req, body, strlen(body), &err) == OSR_EINVAL);
    CHECK_STR_EQ(err.diag.param, "max_tokens");
    osr_chat_request_release(&req);
}

TEST_MAIN(test_decode_dispatch, test_fixtures, test_data_url_image_bytes,
          test_sink_reports_disconnect, test_encoder_misuse, test_text_cap, test_error_body_shape)
