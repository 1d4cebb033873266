/* test_stopmatch.c - the shared stop-string search: earliest match and ties, the held-back
 * tail, a stop string split over several pushes, text handed back untouched when it cannot
 * begin one, flushing, pushes after a hit, and the hold's cap. */
#include <stdlib.h>

#include "check.h"
#include "osr/err.h"
#include "osr/stopmatch.h"

/* Pushes each piece and collects what comes out; returns the last status. */
static int feed(struct osr_stopmatch *m, const char *const *pieces, struct osr_buf *got)
{
    int st = OSR_STOPMATCH_MORE;
    for (size_t i = 0; pieces[i]; i++) {
        struct osr_str out;
        st = osr_stopmatch_push(m, pieces[i], strlen(pieces[i]), &out);
        osr_buf_append(got, out.p, out.n);
        if (st != OSR_STOPMATCH_MORE)
            break;
    }
    return st;
}

static void test_find_and_hold(void)
{
    const char *const n[] = {"world", "wor", "lo", ""};
    size_t which = 99;
    CHECK_INT_EQ(osr_stopmatch_find("hello world", 11, n, 4, &which), 3);
    CHECK_INT_EQ(which, 2);
    /* The first to end wins ("wor" before "world"); at the same end, the longer. */
    CHECK_INT_EQ(osr_stopmatch_find("a world", 7, n, 4, &which), 2);
    CHECK_INT_EQ(which, 1);
    const char *const ov[] = {"abcd", "bc", "xabc"};
    CHECK_INT_EQ(osr_stopmatch_find("xabcd", 5, ov, 3, &which), 0);
    CHECK_INT_EQ(which, 2);
    CHECK_INT_EQ(osr_stopmatch_find("zabcd", 5, ov, 3, &which), 2);
    CHECK_INT_EQ(which, 1);
    which = 99;
    CHECK_INT_EQ(osr_stopmatch_find("nothing", 7, n, 4, &which), -1);
    CHECK_INT_EQ(which, 99);
    CHECK_INT_EQ(osr_stopmatch_find("", 0, n, 4, &which), -1);
    /* Tails that may still become a needle: "wo" (world/wor), "l" (lo); a whole needle is
     * not a tail (find reports it). */
    CHECK_INT_EQ(osr_stopmatch_hold("say wo", 6, n, 4), 2);
    CHECK_INT_EQ(osr_stopmatch_hold("all", 3, n, 4), 1);
    CHECK_INT_EQ(osr_stopmatch_hold("abc", 3, n, 4), 0);
    CHECK_INT_EQ(osr_stopmatch_hold("w", 1, n, 4), 1);
    const char *const one[] = {"x"};
    CHECK_INT_EQ(osr_stopmatch_hold("aaax", 4, one, 1), 0);
}

static void test_stream(void)
{
    const char *const stops[] = {"END", "<|stop|>"};
    struct osr_stopmatch m;
    struct osr_buf got;
    osr_buf_init(&got, 1 << 16);

    /* No stop strings: the caller's own bytes come back. */
    osr_stopmatch_init(&m, NULL, 0);
    struct osr_str out;
    const char *text = "anything at all END";
    CHECK_INT_EQ(osr_stopmatch_push(&m, text, strlen(text), &out), OSR_STOPMATCH_MORE);
    CHECK(out.p == text && out.n == strlen(text));
    osr_stopmatch_release(&m);

    /* Split over four pushes: "<|st" + "o" + "p|" + ">after". */
    osr_stopmatch_init(&m, stops, 2);
    int st = feed(&m, (const char *const[]){"Hello <|st", "o", "p|", ">after", NULL}, &got);
    CHECK_INT_EQ(st, OSR_STOPMATCH_HIT);
    CHECK_STR_EQ(osr_buf_str(&got), "Hello ");
    CHECK_STR_EQ(m.matched, "<|stop|>");
    CHECK(!osr_stopmatch_holding(&m));
    /* After a hit nothing more comes out. */
    CHECK_INT_EQ(osr_stopmatch_push(&m, "more", 4, &out), OSR_STOPMATCH_HIT);
    CHECK_INT_EQ(out.n, 0);
    osr_stopmatch_flush(&m, &out);
    CHECK_INT_EQ(out.n, 0);
    osr_stopmatch_release(&m);

    /* A held tail that turns out not to be a stop string is released in order. */
    osr_buf_reset(&got);
    osr_stopmatch_init(&m, stops, 2);
    st = feed(&m, (const char *const[]){"the EN", "D", NULL}, &got);
    CHECK_INT_EQ(st, OSR_STOPMATCH_HIT);
    CHECK_STR_EQ(osr_buf_str(&got), "the ");
    osr_stopmatch_release(&m);

    osr_buf_reset(&got);
    osr_stopmatch_init(&m, stops, 2);
    st = feed(&m, (const char *const[]){"the E", "N", "tity <", "|s", "tart", NULL}, &got);
    CHECK_INT_EQ(st, OSR_STOPMATCH_MORE);
    CHECK_STR_EQ(osr_buf_str(&got), "the ENtity <|start");
    CHECK(!osr_stopmatch_holding(&m));
    st = feed(&m, (const char *const[]){"..<|", NULL}, &got);
    CHECK(osr_stopmatch_holding(&m));
    osr_stopmatch_flush(&m, &out);
    osr_buf_append(&got, out.p, out.n);
    CHECK_STR_EQ(osr_buf_str(&got), "the ENtity <|start..<|");
    CHECK(m.matched == NULL);
    osr_stopmatch_release(&m);

    /* The earliest of two stop strings in one push wins, whatever their order in the list. */
    osr_buf_reset(&got);
    osr_stopmatch_init(&m, stops, 2);
    st = feed(&m, (const char *const[]){"a <|stop|> b END", NULL}, &got);
    CHECK_INT_EQ(st, OSR_STOPMATCH_HIT);
    CHECK_STR_EQ(osr_buf_str(&got), "a ");
    CHECK_STR_EQ(m.matched, "<|stop|>");
    osr_stopmatch_release(&m);
    osr_buf_release(&got);
}

/* The hold is capped: text appended to a held tail may not grow it without bound. */
static void test_cap(void)
{
    const char *const stops[] = {"ab"};
    struct osr_stopmatch m;
    osr_stopmatch_init(&m, stops, 1);
    struct osr_str out;
    CHECK_INT_EQ(osr_stopmatch_push(&m, "xa", 2, &out), OSR_STOPMATCH_MORE);
    CHECK(osr_stopmatch_holding(&m));
    size_t big = OSR_STOPMATCH_MAX;
    char *huge = malloc(big);
    REQUIRE(huge);
    memset(huge, 'y', big);
    CHECK_INT_EQ(osr_stopmatch_push(&m, huge, big, &out), OSR_ETOOBIG);
    CHECK_INT_EQ(out.n, 0);
    free(huge);
    osr_stopmatch_release(&m);
}

TEST_MAIN(test_find_and_hold, test_stream, test_cap)
