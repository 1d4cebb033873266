/* test_log.c - level parsing and filtering, the line written to a pipe, secret redaction. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "osr/err.h"
#include "osr/log.h"

static int pipe_fds[2] = {-1, -1};

/* Reads what the log wrote since the last call ("" when nothing). */
static const char *drain(void)
{
    static char buf[16384];
    size_t len = 0;
    for (;;) {
        ssize_t r = read(pipe_fds[0], buf + len, sizeof(buf) - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    buf[len] = '\0';
    return buf;
}

static int open_pipe(void)
{
    if (pipe_fds[0] >= 0)
        return 1;
    if (pipe(pipe_fds) != 0)
        return 0;
    fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
    fcntl(pipe_fds[1], F_SETPIPE_SZ, 1 << 20);
    osr_log_set_fd(pipe_fds[1]);
    return 1;
}

static void test_parse_level(void)
{
    enum osr_log_level l = OSR_LOG_OFF;
    CHECK_INT_EQ(osr_log_parse_level("debug", &l), OSR_OK);
    CHECK_INT_EQ(l, OSR_LOG_DEBUG);
    CHECK_INT_EQ(osr_log_parse_level("INFO", &l), OSR_OK);
    CHECK_INT_EQ(l, OSR_LOG_INFO);
    CHECK_INT_EQ(osr_log_parse_level("warning", &l), OSR_OK);
    CHECK_INT_EQ(l, OSR_LOG_WARN);
    CHECK_INT_EQ(osr_log_parse_level("error", &l), OSR_OK);
    CHECK_INT_EQ(l, OSR_LOG_ERROR);
    CHECK_INT_EQ(osr_log_parse_level("off", &l), OSR_OK);
    CHECK_INT_EQ(l, OSR_LOG_OFF);
    CHECK_INT_EQ(osr_log_parse_level("verbose", &l), OSR_EINVAL);
    CHECK_INT_EQ(osr_log_parse_level("", &l), OSR_EINVAL);
    CHECK_INT_EQ(osr_log_parse_level(NULL, &l), OSR_EINVAL);
    CHECK_INT_EQ(l, OSR_LOG_OFF);
}

static void test_line_and_filter(void)
{
    REQUIRE(open_pipe());
    drain();
    osr_log_set_level(OSR_LOG_WARN);
    CHECK_INT_EQ(osr_log_get_level(), OSR_LOG_WARN);
    OSR_INFO("hidden %d", 1);
    OSR_DEBUG("hidden too");
    CHECK_STR_EQ(drain(), "");
    OSR_WARN("shown %s %d", "warn", 2);
    const char *line = drain();
    /* "2026-11-24T01:38:32.123Z warn  shown warn 2\n" */
    CHECK(strlen(line) > 25);
    CHECK(line[4] == '-' && line[10] == 'T' && line[23] == 'Z');
    CHECK(strstr(line, " warn ") != NULL);
    CHECK(strstr(line, "shown warn 2\n") != NULL);
    CHECK(strchr(line, '\n') == line + strlen(line) - 1); /* exactly one line */
    OSR_ERROR("bad");
    CHECK(strstr(drain(), "error bad\n") != NULL);
    osr_log_set_level(OSR_LOG_OFF);
    OSR_ERROR("nothing at off");
    CHECK_STR_EQ(drain(), "");
    osr_log_set_level(OSR_LOG_DEBUG);
    OSR_DEBUG("dbg");
    CHECK(strstr(drain(), "debug dbg\n") != NULL);
    osr_log(OSR_LOG_OFF, "never"); /* OFF is not a level to log at */
    CHECK_STR_EQ(drain(), "");
    osr_log_set_level(OSR_LOG_INFO);
}

static void test_one_event_one_line(void)
{
    REQUIRE(open_pipe());
    drain();
    OSR_WARN("model 'x\n2026-01-01T00:00:00.000Z error forged' not found\r\x1b[2J\ttab");
    const char *line = drain();
    CHECK(strchr(line, '\n') == line + strlen(line) - 1);
    CHECK(strchr(line, '\r') == NULL);
    CHECK(strchr(line, '\x1b') == NULL);
    CHECK(strstr(line, "'x?2026-01-01") != NULL);
    CHECK(strstr(line, "\ttab\n") != NULL); /* tab is kept */

    /* Out-of-range levels are clamped, not used as an index. */
    osr_log_set_level((enum osr_log_level) - 3);
    CHECK_INT_EQ(osr_log_get_level(), OSR_LOG_DEBUG);
    osr_log_set_level((enum osr_log_level)42);
    CHECK_INT_EQ(osr_log_get_level(), OSR_LOG_OFF);
    osr_log((enum osr_log_level)42, "nothing");
    CHECK_STR_EQ(drain(), "");
    osr_log_set_level(OSR_LOG_INFO);
}

static void test_long_line(void)
{
    REQUIRE(open_pipe());
    drain();
    static char big[10000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    OSR_INFO("%s", big);
    const char *line = drain();
    size_t n = strlen(line);
    CHECK(n > 4000 && n <= 4096);
    CHECK(n >= 4 && strcmp(line + n - 4, "...\n") == 0);
}

static void test_redact_written_line(void)
{
    REQUIRE(open_pipe());
    drain();
    OSR_INFO("auth with osk-v1.eyJhbGciOiJFUzI1NksifQ.abc123def done");
    const char *line = drain();
    CHECK(strstr(line, "osk-v1") != NULL);
    CHECK(strstr(line, "eyJ") == NULL);
    CHECK(strstr(line, "abc123def") == NULL);
    CHECK(strstr(line, " done\n") != NULL);

    OSR_WARN("header Authorization: Bearer sk-123 from 127.0.0.1");
    line = drain();
    CHECK(strstr(line, "Bearer") != NULL);
    CHECK(strstr(line, "sk-123") == NULL);
    CHECK(strstr(line, "from 127.0.0.1") != NULL);
}

static void redacts(const char *in, const char *want)
{
    char s[256];
    snprintf(s, sizeof(s), "%s", in);
    size_t n = osr_log_redact(s);
    CHECK_STR_EQ(s, want);
    CHECK_INT_EQ(n, strlen(want));
}

static void test_redact(void)
{
    redacts("", "");
    redacts("nothing secret here", "nothing secret here");
    redacts("osk-v1.eyJ0.ab12", "osk-v1***");
    redacts("k=osk-v1.eyJ0.ab12,next", "k=osk-v1***,next");
    redacts("{\"key\":\"osk-v1.eyJ0.ab12\"}", "{\"key\":\"osk-v1***\"}");
    redacts("two osk-v1.a.b and osk-v1.c.d", "two osk-v1*** and osk-v1***");
    redacts("osk-v1", "osk-v1");
    redacts("Authorization: Bearer sk-123", "Authorization: Bearer ***");
    redacts("authorization: bearer  sk-123 tail", "authorization: bearer  *** tail");
    redacts("BEARER\tabc", "BEARER\t***");
    redacts("Bearer ab", "Bearer **");
    redacts("Bearer osk-v1.eyJ.x", "Bearer ***");
    /* Characters outside the base64 alphabet do not end the secret early. */
    redacts("Bearer sk:abc%2Fdef!x y", "Bearer *** y");
    redacts("\"Authorization\":\"Bearer sk-1\"", "\"Authorization\":\"Bearer ***\"");
    redacts("Bearer\\\"x", "Bearer\\\"x"); /* not a bearer token: no space after it */
    redacts("bearerless", "bearerless");
}

TEST_MAIN(test_parse_level, test_line_and_filter, test_one_event_one_line, test_long_line,
          test_redact_written_line, test_redact)
