/* test_sse.c - the incremental SSE and NDJSON parsers: every split of the input gives the same
 * events, line ends (LF, CR, CRLF), comments, multi-line data, ids, caps, and stopping. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "osr/buf.h"
#include "osr/err.h"
#include "osr/sse.h"

struct collected {
    struct osr_buf out; /* "event|data|id\n" per event */
    int count;
    int stop_after; /* 0: never */
};

static int collect_sse(void *ctx, const struct osr_sse_event *ev)
{
    struct collected *c = ctx;
    osr_buf_append(&c->out, ev->event.p, ev->event.n);
    osr_buf_putc(&c->out, '|');
    osr_buf_append(&c->out, ev->data.p, ev->data.n);
    osr_buf_putc(&c->out, '|');
    osr_buf_append(&c->out, ev->id.p, ev->id.n);
    osr_buf_putc(&c->out, '\n');
    c->count++;
    CHECK(ev->data.p[ev->data.n] == '\0');
    return c->stop_after && c->count >= c->stop_after ? 7 : 0;
}

static const char stream[] = "event: a\ndata: one\n\n"
                             ": a comment\r\n"
                             "data:two\r\ndata:  lines\r\n\r\n"
                             "id: 42\rdata: three\r\r"
                             "event: empty\n\n"
                             "retry: 100\nunknown: x\ndata\n\n"
                             "data: {\"x\":1}\n\n"
                             "data: dangling";

static const char expected[] = "a|one|\n"
                               "|two\n lines|\n"
                               "|three|42\n"
                               "||42\n"
                               "|{\"x\":1}|42\n";

static void test_sse_every_split(void)
{
    size_t n = sizeof(stream) - 1;
    for (size_t a = 0; a <= n; a++) {
        for (size_t b = a; b <= n; b += 7) {
            struct collected c = {.count = 0};
            osr_buf_init(&c.out, 4096);
            struct osr_sse_parser p;
            osr_sse_init(&p, 1024, collect_sse, &c);
            CHECK_INT_EQ(osr_sse_feed(&p, stream, a), OSR_OK);
            CHECK_INT_EQ(osr_sse_feed(&p, stream + a, b - a), OSR_OK);
            CHECK_INT_EQ(osr_sse_feed(&p, stream + b, n - b), OSR_OK);
            CHECK(osr_sse_finish(&p)); /* "data: dangling" was dropped */
            if (strcmp(osr_buf_str(&c.out), expected) != 0) {
                fprintf(stderr, "split %zu/%zu gave:\n%s\n", a, b, osr_buf_str(&c.out));
                CHECK(0);
                a = n + 1;
            }
            osr_sse_release(&p);
            osr_buf_release(&c.out);
            if (a > n)
                break;
        }
    }
}

static void test_sse_byte_by_byte_and_stop(void)
{
    struct collected c = {.stop_after = 2};
    osr_buf_init(&c.out, 4096);
    struct osr_sse_parser p;
    osr_sse_init(&p, 0, collect_sse, &c);
    int rc = OSR_OK;
    for (size_t i = 0; i < sizeof(stream) - 1 && rc == OSR_OK; i++)
        rc = osr_sse_feed(&p, stream + i, 1);
    CHECK_INT_EQ(rc, 7);
    CHECK_INT_EQ(c.count, 2);
    CHECK_INT_EQ(osr_sse_feed(&p, "data: x\n\n", 9), 7); /* stays stopped */
    CHECK_INT_EQ(c.count, 2);
    osr_sse_release(&p);
    osr_buf_release(&c.out);
}

static void test_sse_caps(void)
{
    struct collected c = {.count = 0};
    osr_buf_init(&c.out, 4096);
    struct osr_sse_parser p;
    osr_sse_init(&p, 16, collect_sse, &c);
    CHECK_INT_EQ(osr_sse_feed(&p, "data: 0123456789\n\n", 18), OSR_OK);
    CHECK_INT_EQ(c.count, 1);
    /* A line that never ends grows past the cap. */
    CHECK_INT_EQ(osr_sse_feed(&p, "data: 0123456789abcdef", 22), OSR_ETOOBIG);
    osr_sse_release(&p);
    /* Many short data lines in one event hit the data cap. */
    osr_sse_init(&p, 16, collect_sse, &c);
    int rc = OSR_OK;
    for (int i = 0; i < 10 && rc == OSR_OK; i++)
        rc = osr_sse_feed(&p, "data: abcd\n", 11);
    CHECK_INT_EQ(rc, OSR_ETOOBIG);
    CHECK_INT_EQ(c.count, 1);
    osr_sse_release(&p);
    osr_buf_release(&c.out);
}

struct lines {
    struct osr_buf out;
    int count;
};

static int collect_line(void *ctx, const char *line, size_t n)
{
    struct lines *l = ctx;
    CHECK(line[n] == '\0');
    CHECK_INT_EQ(strlen(line), n);
    osr_buf_append(&l->out, line, n);
    osr_buf_putc(&l->out, ';');
    l->count++;
    return 0;
}

static void test_ndjson(void)
{
    static const char in[] = "{\"a\":1}\n\n  {\"b\":2}  \r\n{\"c\":3}";
    size_t n = sizeof(in) - 1;
    for (size_t a = 0; a <= n; a++) {
        struct lines l = {.count = 0};
        osr_buf_init(&l.out, 4096);
        struct osr_ndjson_parser p;
        osr_ndjson_init(&p, 64, collect_line, &l);
        CHECK_INT_EQ(osr_ndjson_feed(&p, in, a), OSR_OK);
        CHECK_INT_EQ(osr_ndjson_feed(&p, in + a, n - a), OSR_OK);
        CHECK_INT_EQ(l.count, 2);
        CHECK_INT_EQ(osr_ndjson_finish(&p), OSR_OK);
        CHECK_STR_EQ(osr_buf_str(&l.out), "{\"a\":1};{\"b\":2};{\"c\":3};");
        osr_ndjson_release(&p);
        osr_buf_release(&l.out);
    }
    struct lines l = {.count = 0};
    osr_buf_init(&l.out, 4096);
    struct osr_ndjson_parser p;
    osr_ndjson_init(&p, 8, collect_line, &l);
    CHECK_INT_EQ(osr_ndjson_feed(&p, "12345678\n", 9), OSR_OK);
    CHECK_INT_EQ(osr_ndjson_feed(&p, "123456789", 9), OSR_ETOOBIG);
    CHECK_INT_EQ(osr_ndjson_feed(&p, "1\n", 2), OSR_ETOOBIG);
    CHECK_INT_EQ(l.count, 1);
    osr_ndjson_release(&p);
    osr_buf_release(&l.out);
}

TEST_MAIN(test_sse_every_split, test_sse_byte_by_byte_and_stop, test_sse_caps, test_ndjson)
