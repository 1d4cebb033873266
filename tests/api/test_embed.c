/* test_embed.c - embedding requests and answers for OpenAI and Ollama, including the base64
 * float32 encoding the OpenAI SDK asks for by default. */
#include <string.h>

#include "check.h"
#include "osr/api_embed.h"
#include "osr/codec.h"
#include "osr/json.h"

static int decode(enum osr_embed_api api, const char *body, struct osr_embed_request *req,
                  struct osr_api_error *err)
{
    osr_embed_request_init(req);
    return osr_embed_decode(api, req, body, strlen(body), err);
}

static void test_openai_float_and_base64(void)
{
    struct osr_embed_request req;
    struct osr_api_error err = {0};
    struct osr_buf out;
    const float v[4] = {1.0f, -2.5f, 0.1f, 3.0f};
    osr_buf_init(&out, 1 << 16);
    REQUIRE(decode(OSR_EMBED_OPENAI, "{\"model\":\"e\",\"input\":[\"a b\",\"c\"]}", &req, &err) ==
            OSR_OK);
    CHECK_INT_EQ(req.n_inputs, 2);
    CHECK_STR_EQ(req.inputs[1].p, "c");
    CHECK(!req.base64);
    CHECK(osr_embed_encode(&req, v, 2, 2, 3, NULL, &out) == OSR_OK);
    CHECK_STR_EQ(osr_buf_str(&out),
                 "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
                 "\"embedding\":[1,-2.5]},{\"object\":\"embedding\",\"index\":1,\"embedding\":"
                 "[0.100000001,3]}],\"model\":\"e\",\"usage\":{\"prompt_tokens\":3,"
                 "\"total_tokens\":3}}");
    osr_embed_request_release(&req);

    osr_buf_reset(&out);
    REQUIRE(decode(OSR_EMBED_OPENAI,
                   "{\"model\":\"e\",\"input\":\"x\",\"encoding_format\":\"base64\"}", &req,
                   &err) == OSR_OK);
    CHECK(req.base64);
    CHECK(osr_embed_encode(&req, v, 1, 2, 1, NULL, &out) == OSR_OK);
    /* 1.0f, -2.5f as little-endian float32 = 00 00 80 3f 00 00 20 c0 */
    CHECK(strstr(osr_buf_str(&out), "\"embedding\":\"AACAPwAAIMA=\"") != NULL);
    const float nan_v[2] = {NAN, 1.0f};
    osr_buf_reset(&out);
    CHECK(osr_embed_encode(&req, nan_v, 1, 2, 1, NULL, &out) == OSR_EINVAL);
    CHECK(osr_embed_encode(&req, v, 2, 2, 1, NULL, &out) == OSR_EINVAL); /* 2 vectors, 1 input */
    osr_embed_request_release(&req);
    osr_buf_release(&out);
}

static void test_ollama_shapes(void)
{
    struct osr_embed_request req;
    struct osr_api_error err = {0};
    struct osr_buf out;
    const float v[2] = {0.5f, -1.0f};
    struct osr_usage t = {.total_ns = 100, .load_ns = 7};
    osr_buf_init(&out, 1 << 16);
    REQUIRE(decode(OSR_EMBED_OLLAMA, "{\"model\":\"e\",\"input\":\"hi\",\"truncate\":false}", &req,
                   &err) == OSR_OK);
    CHECK(!req.truncate);
    CHECK(osr_embed_encode(&req, v, 1, 2, 1, &t, &out) == OSR_OK);
    CHECK_STR_EQ(osr_buf_str(&out), "{\"model\":\"e\",\"embeddings\":[[0.5,-1]],"
                                    "\"total_duration\":100,\"load_duration\":7,"
                                    "\"prompt_eval_count\":1}");
    osr_embed_request_release(&req);
    /* No input: valid for Ollama (loads the model), an error for OpenAI. */
    CHECK(decode(OSR_EMBED_OLLAMA, "{\"model\":\"e\"}", &req, &err) == OSR_OK);
    CHECK_INT_EQ(req.n_inputs, 0);
    osr_embed_request_release(&req);
    osr_buf_reset(&out);
    REQUIRE(decode(OSR_EMBED_OLLAMA_LEGACY, "{\"model\":\"e\",\"prompt\":\"hi\"}", &req, &err) ==
            OSR_OK);
    CHECK(osr_embed_encode(&req, v, 1, 2, 1, NULL, &out) == OSR_OK);
    CHECK_STR_EQ(osr_buf_str(&out), "{\"embedding\":[0.5,-1]}");
    osr_embed_request_release(&req);
    osr_buf_release(&out);
}

static void expect_error(enum osr_embed_api api, const char *body, int status, const char *want)
{
    struct osr_embed_request req;
    struct osr_api_error err = {0};
    struct osr_buf out;
    osr_buf_init(&out, 4096);
    CHECK(decode(api, body, &req, &err) != OSR_OK);
    CHECK_INT_EQ(err.status, status);
    CHECK(osr_api_error_body(osr_embed_error_proto(api), &err, &out) == OSR_OK);
    CHECK_STR_EQ(osr_buf_str(&out), want);
    osr_embed_request_release(&req);
    osr_buf_release(&out);
}

static void test_errors(void)
{
    expect_error(OSR_EMBED_OPENAI, "{\"model\":\"e\"}", 400,
                 "{\"error\":{\"message\":\"missing required parameter: 'input'\",\"type\":"
                 "\"invalid_request_error\",\"param\":\"input\",\"code\":null}}");
    expect_error(
        OSR_EMBED_OPENAI, "{\"model\":\"e\",\"input\":[[1,2]]}", 400,
        "{\"error\":{\"message\":\"'input[0]': token-id input is not supported; send "
        "text\",\"type\":\"invalid_request_error\",\"param\":\"input[0]\",\"code\":null}}");
    expect_error(OSR_EMBED_OPENAI, "{\"model\":\"e\",\"input\":\"x\",\"encoding_format\":\"int8\"}",
                 400,
                 "{\"error\":{\"message\":\"'encoding_format' must be \\\"float\\\" or "
                 "\\\"base64\\\" (got 'int8')\",\"type\":\"invalid_request_error\",\"param\":"
                 "\"encoding_format\",\"code\":null}}");
    expect_error(OSR_EMBED_OPENAI, "{\"model\":\"e\",\"input\":[]}", 400,
                 "{\"error\":{\"message\":\"'input' must not be empty\",\"type\":"
                 "\"invalid_request_error\",\"param\":\"input\",\"code\":null}}");
    expect_error(OSR_EMBED_OLLAMA, "{\"model\":\"e\",\"input\":5}", 400,
                 "{\"error\":\"'input' must be a string or an array of strings\"}");
    expect_error(OSR_EMBED_OLLAMA, "{\"input\":\"x\"", 400,
                 "{\"error\":\"invalid JSON at byte 12: unexpected end of input\"}");
    expect_error(OSR_EMBED_OLLAMA_LEGACY, "{\"model\":\"e\",\"prompt\":[\"x\"]}", 400,
                 "{\"error\":\"'prompt' must be a string\"}");
}

TEST_MAIN(test_openai_float_and_base64, test_ollama_shapes, test_errors)
