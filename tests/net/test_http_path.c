/* test_http_path.c - path normalization and route pattern matching (pure functions). */
#include "check.h"
#include "osr/http_server.h"

static const char *norm(const char *in)
{
    static char out[256];
    size_t n = osr_http_normalize_path(in, strlen(in), out, sizeof(out));
    return n ? out : "(rejected)";
}

static void test_prefixes(void)
{
    CHECK_STR_EQ(norm("/v1/chat/completions"), "/chat/completions");
    CHECK_STR_EQ(norm("/api/chat"), "/chat");
    CHECK_STR_EQ(norm("/v1/api/tags"), "/tags");
    CHECK_STR_EQ(norm("/anthropic/v1/messages"), "/messages");
    CHECK_STR_EQ(norm("/messages"), "/messages");
    CHECK_STR_EQ(norm("/v1"), "/");
    CHECK_STR_EQ(norm("/api"), "/");
    CHECK_STR_EQ(norm("/"), "/");
    /* Only whole segments are prefixes, and only the first one is stripped. */
    CHECK_STR_EQ(norm("/v1x/models"), "/v1x/models");
    CHECK_STR_EQ(norm("/apis/x"), "/apis/x");
    CHECK_STR_EQ(norm("/v1/v1/models"), "/v1/models");
    CHECK_STR_EQ(norm("/anthropic/messages"), "/anthropic/messages");
}

static void test_cleanup(void)
{
    CHECK_STR_EQ(norm("/health?x=1&y=2"), "/health");
    CHECK_STR_EQ(norm("/health#frag"), "/health");
    CHECK_STR_EQ(norm("//v1///models//"), "/models");
    CHECK_STR_EQ(norm("/models/"), "/models");
    CHECK_STR_EQ(norm("health"), "(rejected)");
    CHECK_STR_EQ(norm(""), "(rejected)");
    char out[8];
    CHECK_INT_EQ(osr_http_normalize_path("/a/very/long/path", 17, out, sizeof(out)), 0);
    CHECK_INT_EQ(osr_http_normalize_path("/abc", 4, out, sizeof(out)), 4);
}

static void test_patterns(void)
{
    struct osr_str names[4], values[4];
    CHECK_INT_EQ(osr_http_match_pattern("/health", "/health", names, values, 4), 0);
    CHECK_INT_EQ(osr_http_match_pattern("/health", "/healthz", names, values, 4), -1);
    CHECK_INT_EQ(osr_http_match_pattern("/health", "/", names, values, 4), -1);
    CHECK_INT_EQ(osr_http_match_pattern("/agents/{id}/run", "/agents/0xAbC/run", names, values, 4),
                 1);
    CHECK(osr_str_eq_cstr(names[0], "id") && osr_str_eq_cstr(values[0], "0xAbC"));
    CHECK_INT_EQ(osr_http_match_pattern("/agents/{id}/run", "/agents//run", names, values, 4), -1);
    CHECK_INT_EQ(osr_http_match_pattern("/agents/{id}/run", "/agents/a/b/run", names, values, 4),
                 -1);
    CHECK_INT_EQ(osr_http_match_pattern("/agents/{id}", "/agents/a/", names, values, 4), -1);
    CHECK_INT_EQ(osr_http_match_pattern("/plugins/{id}/*", "/plugins/p/a/b", names, values, 4), 2);
    CHECK(osr_str_eq_cstr(values[0], "p") && osr_str_eq_cstr(values[1], "a/b"));
    CHECK(osr_str_eq_cstr(names[1], "*"));
    CHECK_INT_EQ(osr_http_match_pattern("/plugins/*", "/plugins", names, values, 4), 0);
    CHECK_INT_EQ(osr_http_match_pattern("/tasks/{a}/{b}", "/tasks/1/2", names, values, 4), 2);
    CHECK(osr_str_eq_cstr(values[1], "2"));
    /* More params than room: still matches, only the room is filled. */
    CHECK_INT_EQ(osr_http_match_pattern("/tasks/{a}/{b}", "/tasks/1/2", names, values, 1), 1);
}

TEST_MAIN(test_prefixes, test_cleanup, test_patterns)
