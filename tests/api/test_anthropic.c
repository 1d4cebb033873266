/* test_anthropic.c - Anthropic Messages: the fixture cases plus count_tokens and image
 * decoding details. */
#include "fixture.h"

#include "osr/api_anthropic.h"

static void test_fixtures(void)
{
    CHECK(fixture_run_all("anthropic", OSR_API_ANTHROPIC, osr_anthropic_decode) >= 15);
}

static void test_count_tokens(void)
{
    const char *body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";
    struct osr_chat_request req;
    struct osr_api_error err = {0};
    osr_chat_request_init(&req, OSR_CHAT_ARENA_MAX);
    /* No max_tokens: fine for count_tokens, a 400 for messages. */
    CHECK(osr_anthropic_decode_count_tokens(&req, body, strlen(body), &err) == OSR_OK);
    osr_chat_request_release(&req);
    osr_chat_request_init(&req, OSR_CHAT_ARENA_MAX);
    CHECK(osr_anthropic_decode(&req, body, strlen(body), &err) == OSR_EINVAL);
    CHECK_INT_EQ(err.status, 400);
    CHECK_STR_EQ(err.diag.param, "max_tokens");
    osr_chat_request_release(&req);
    struct osr_buf out;
    osr_buf_init(&out, 64);
    CHECK(osr_anthropic_count_tokens_body(17, &out) == OSR_OK);
    CHECK_STR_EQ(osr_buf_str(&out), "{\"input_tokens\":17}");
    osr_buf_release(&out);
}

static void test_base64_image(void)
{
    /* "R0lGODlh" is "GIF89a"'s first 6 bytes; media_type is taken as given. */
    const char *body = "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\","
                       "\"content\":[{\"type\":\"image\",\"source\":{\"type\":\"base64\","
                       "\"media_type\":\"image/gif\",\"data\":\"R0lGODlh\"}}]}]}";
    struct osr_chat_request req;
    struct osr_api_error err = {0};
    osr_chat_request_init(&req, OSR_CHAT_ARENA_MAX);
    REQUIRE(osr_anthropic_decode(&req, body, strlen(body), &err) == OSR_OK);
    REQUIRE(req.n_messages == 1 && req.messages[0].n_parts == 1);
    const struct osr_image *img = &req.messages[0].parts[0].image;
    CHECK_INT_EQ(img->len, 6);
    CHECK(memcmp(img->data, "GIF89a", 6) == 0);
    CHECK_STR_EQ(img->mime, "image/gif");
    osr_chat_request_release(&req);
}

TEST_MAIN(test_fixtures, test_count_tokens, test_base64_image)
