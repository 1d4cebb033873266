/* test_outparse.c - generated text to canonical events: stop strings across chunk boundaries,
 * <think> blocks, each tool-call format, and text that only looks like a call. */
#include <stdlib.h>

#include "check.h"
#include "osr/buf.h"
#include "osr/outparse.h"

/* A sink that writes events as a compact transcript: T(text) R(text) C0(name) A0(args). */
struct rec {
    struct osr_buf log;
    int gone_after; /* emits allowed before the consumer "leaves"; -1: never */
    int emits;
};

static int rec_emit(struct osr_sink *sink, const struct osr_event *ev)
{
    struct rec *r = sink->ctx;
    if (r->gone_after >= 0 && r->emits >= r->gone_after)
        return 1;
    r->emits++;
    switch (ev->kind) {
    case OSR_EV_TEXT_DELTA:
        osr_buf_appendf(&r->log, "T(%.*s)", (int)ev->text.n, ev->text.p);
        break;
    case OSR_EV_REASONING_DELTA:
        osr_buf_appendf(&r->log, "R(%.*s)", (int)ev->text.n, ev->text.p);
        break;
    case OSR_EV_TOOL_CALL_START:
        osr_buf_appendf(&r->log, "C%d(%.*s%s)", ev->index, (int)ev->name.n, ev->name.p,
                        ev->id.n == 29 && strncmp(ev->id.p, "call_", 5) == 0 ? "" : ",badid");
        break;
    case OSR_EV_TOOL_CALL_ARGS_DELTA:
        osr_buf_appendf(&r->log, "A%d(%.*s)", ev->index, (int)ev->text.n, ev->text.p);
        break;
    default:
        osr_buf_appendf(&r->log, "?");
    }
    return 0;
}

/* Feeds text in chunks of chunk bytes; returns the merged transcript (adjacent T/R merged) and
 * the finish reason. */
static char *run(const char *text, size_t chunk, struct osr_outparse_opts *o, enum osr_finish *fin,
                 const char **stop)
{
    struct rec r;
    osr_buf_init(&r.log, 1 << 20);
    r.gone_after = -1;
    r.emits = 0;
    struct osr_sink sink = {rec_emit, &r};
    struct osr_outparse *p = osr_outparse_new(o, &sink);
    size_t n = strlen(text);
    for (size_t i = 0; i < n; i += chunk) {
        size_t k = n - i < chunk ? n - i : chunk;
        if (osr_outparse_push(p, text + i, k) == OSR_OUTPARSE_STOP)
            break;
    }
    osr_outparse_finish(p, OSR_FINISH_STOP, fin, stop);
    osr_outparse_free(p);
    /* Merge runs like T(a)T(b) into T(ab) so chunking does not change the transcript. */
    struct osr_buf m;
    osr_buf_init(&m, 1 << 20);
    const char *s = osr_buf_str(&r.log);
    char last = 0;
    while (*s) {
        char kind = s[0];
        const char *open = strchr(s, '(');
        const char *close = open;
        int depth = 0;
        for (; *close; close++) {
            if (*close == '(')
                depth++;
            else if (*close == ')' && --depth == 0)
                break;
        }
        if ((kind == 'T' || kind == 'R') && kind == last && m.len > 0) {
            m.len--; /* drop the ')' */
            osr_buf_append(&m, open + 1, (size_t)(close - open - 1));
            osr_buf_putc(&m, ')');
        } else {
            osr_buf_append(&m, s, (size_t)(close - s + 1));
        }
        last = kind;
        s = close + 1;
    }
    osr_buf_release(&r.log);
    return osr_buf_detach(&m, NULL);
}

static void check_all_chunkings(const char *text, struct osr_outparse_opts *o, const char *want,
                                enum osr_finish want_fin)
{
    size_t chunks[] = {1, 2, 3, 5, 7, 1000};
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        enum osr_finish fin;
        const char *stop;
        char *got = run(text, chunks[i], o, &fin, &stop);
        if (strcmp(got, want) != 0)
            fprintf(stderr, "chunk %zu: input '%s'\n", chunks[i], text);
        CHECK_STR_EQ(got, want);
        CHECK_INT_EQ(fin, want_fin);
        free(got);
    }
}

static void test_plain_and_stops(void)
{
    struct osr_outparse_opts o = {0};
    check_all_chunkings("Hello, world!", &o, "T(Hello, world!)", OSR_FINISH_STOP);
    const char *stops[] = {"END", "\n\nUser:"};
    o.stops = stops;
    o.n_stops = 2;
    check_all_chunkings("one two END three", &o, "T(one two )", OSR_FINISH_STOP_SEQUENCE);
    check_all_chunkings("a\n\nUser: hi", &o, "T(a)", OSR_FINISH_STOP_SEQUENCE);
    /* A partial stop that never completes is released. */
    check_all_chunkings("EN is not END", &o, "T(EN is not )", OSR_FINISH_STOP_SEQUENCE);
    check_all_chunkings("ends with EN", &o, "T(ends with EN)", OSR_FINISH_STOP);
    enum osr_finish fin;
    const char *stop;
    char *got = run("xEND", 1, &o, &fin, &stop);
    CHECK_STR_EQ(stop, "END");
    free(got);
}

static void test_think(void)
{
    struct osr_outparse_opts o = {0};
    check_all_chunkings("<think>plan it</think>\n\nThe answer.", &o, "R(plan it)T(The answer.)",
                        OSR_FINISH_STOP);
    o.in_think = true;
    check_all_chunkings("still thinking</think>Done", &o, "R(still thinking)T(Done)",
                        OSR_FINISH_STOP);
    /* Cut off while thinking: all of it is reasoning. */
    check_all_chunkings("never closes </thi", &o, "R(never closes </thi)", OSR_FINISH_STOP);
}

static void test_tool_calls(void)
{
    struct osr_outparse_opts o = {0};
    o.tools = true;
    check_all_chunkings(
        "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n"
        "</tool_call>",
        &o, "C0(get_weather)A0({\"city\":\"Paris\"})", OSR_FINISH_TOOL_CALLS);
    /* Two calls, text before them. */
    check_all_chunkings("Let me check.\n<tool_call>{\"name\":\"a\",\"arguments\":{}}</tool_call>\n"
                        "<tool_call>{\"name\":\"b\",\"arguments\":{\"x\":1}}</tool_call>",
                        &o, "T(Let me check.\n)C0(a)A0({})C1(b)A1({\"x\":1})",
                        OSR_FINISH_TOOL_CALLS);
    /* Mistral. */
    check_all_chunkings("[TOOL_CALLS][{\"name\":\"f\",\"arguments\":{\"q\":\"z\"}},"
                        "{\"name\":\"g\",\"arguments\":{}}]",
                        &o, "C0(f)A0({\"q\":\"z\"})C1(g)A1({})", OSR_FINISH_TOOL_CALLS);
    /* Llama 3: a bare JSON object with "parameters", and the python tag. */
    check_all_chunkings("  {\"name\": \"lookup\", \"parameters\": {\"id\": 7}}", &o,
                        "C0(lookup)A0({\"id\":7})", OSR_FINISH_TOOL_CALLS);
    check_all_chunkings("<|python_tag|>{\"name\":\"py\",\"parameters\":{}}", &o, "C0(py)A0({})",
                        OSR_FINISH_TOOL_CALLS);
    /* No closing tag before the end: a complete body still counts. */
    check_all_chunkings("<tool_call>{\"name\":\"x\",\"arguments\":{}}", &o, "C0(x)A0({})",
                        OSR_FINISH_TOOL_CALLS);
    /* Arguments given as a JSON string are passed through as they are. */
    check_all_chunkings("<tool_call>{\"name\":\"s\",\"arguments\":\"{\\\"a\\\":1}\"}</tool_call>",
                        &o, "C0(s)A0({\"a\":1})", OSR_FINISH_TOOL_CALLS);
}

static void test_lookalikes_are_text(void)
{
    struct osr_outparse_opts o = {0};
    o.tools = true;
    check_all_chunkings("<tool_call>not json</tool_call> ok", &o,
                        "T(<tool_call>not json</tool_call> ok)", OSR_FINISH_STOP);
    check_all_chunkings("{\"just\": \"data\"}", &o, "T({\"just\": \"data\"})", OSR_FINISH_STOP);
    check_all_chunkings("{ broken", &o, "T({ broken)", OSR_FINISH_STOP);
    /* Without tools offered, markers are ordinary text. */
    o.tools = false;
    check_all_chunkings("<tool_call>{\"name\":\"a\"}</tool_call>", &o,
                        "T(<tool_call>{\"name\":\"a\"}</tool_call>)", OSR_FINISH_STOP);
}

static void test_consumer_gone(void)
{
    struct rec r;
    osr_buf_init(&r.log, 4096);
    r.gone_after = 1;
    r.emits = 0;
    struct osr_sink sink = {rec_emit, &r};
    struct osr_outparse_opts o = {0};
    struct osr_outparse *p = osr_outparse_new(&o, &sink);
    CHECK_INT_EQ(osr_outparse_push(p, "first ", 6), OSR_OUTPARSE_MORE);
    CHECK_INT_EQ(osr_outparse_push(p, "second", 6), OSR_OUTPARSE_GONE);
    CHECK_INT_EQ(osr_outparse_push(p, "third", 5), OSR_OUTPARSE_GONE);
    enum osr_finish fin;
    const char *stop;
    CHECK_INT_EQ(osr_outparse_finish(p, OSR_FINISH_STOP, &fin, &stop), OSR_OUTPARSE_GONE);
    osr_outparse_free(p);
    CHECK_STR_EQ(osr_buf_str(&r.log), "T(first )");
    osr_buf_release(&r.log);
}

TEST_MAIN(test_plain_and_stops, test_think, test_tool_calls, test_lookalikes_are_text,
          test_consumer_gone)
