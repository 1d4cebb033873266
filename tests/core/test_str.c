/* test_str.c - string views: comparisons, trim, split, integer parsing. */
#include <limits.h>

#include "check.h"
#include "osr/str.h"

static void test_eq(void)
{
    CHECK(osr_str_eq(OSR_STR_LIT("abc"), osr_str_cstr("abc")));
    CHECK(!osr_str_eq(OSR_STR_LIT("abc"), OSR_STR_LIT("abd")));
    CHECK(!osr_str_eq(OSR_STR_LIT("abc"), OSR_STR_LIT("ab")));
    CHECK(osr_str_eq(osr_str_make(NULL, 0), OSR_STR_LIT("")));
    CHECK(osr_str_eq_cstr(osr_str_make("abcdef", 3), "abc"));
    CHECK(!osr_str_eq_cstr(osr_str_make("abcdef", 3), "abcd"));
    CHECK(osr_str_eq(osr_str_make("a\0b", 3), osr_str_make("a\0b", 3)));
    CHECK(!osr_str_eq(osr_str_make("a\0b", 3), osr_str_make("a\0c", 3)));
    CHECK(osr_str_cstr(NULL).n == 0);
}

static void test_case_eq(void)
{
    CHECK(osr_str_case_eq(OSR_STR_LIT("Content-Type"), OSR_STR_LIT("content-type")));
    CHECK(osr_str_case_eq(OSR_STR_LIT(""), osr_str_make(NULL, 0)));
    CHECK(!osr_str_case_eq(OSR_STR_LIT("abc"), OSR_STR_LIT("abd")));
    CHECK(!osr_str_case_eq(OSR_STR_LIT("abc"), OSR_STR_LIT("abcd")));
    /* Bytes after a NUL still count. */
    CHECK(!osr_str_case_eq(osr_str_make("a\0B", 3), osr_str_make("a\0c", 3)));
    CHECK(osr_str_case_eq(osr_str_make("a\0B", 3), osr_str_make("A\0b", 3)));
    /* Only ASCII folds: '[' (0x5b) is not '{' (0x7b). */
    CHECK(!osr_str_case_eq(OSR_STR_LIT("["), OSR_STR_LIT("{")));
}

static void test_prefix_suffix(void)
{
    struct osr_str s = OSR_STR_LIT("/v1/chat/completions");
    CHECK(osr_str_has_prefix(s, OSR_STR_LIT("/v1/")));
    CHECK(osr_str_has_prefix(s, OSR_STR_LIT("")));
    CHECK(osr_str_has_prefix(s, s));
    CHECK(!osr_str_has_prefix(s, OSR_STR_LIT("/v2/")));
    CHECK(!osr_str_has_prefix(OSR_STR_LIT("/v"), OSR_STR_LIT("/v1")));
    CHECK(osr_str_has_suffix(s, OSR_STR_LIT("completions")));
    CHECK(osr_str_has_suffix(s, OSR_STR_LIT("")));
    CHECK(!osr_str_has_suffix(s, OSR_STR_LIT("completion")));
    CHECK(!osr_str_has_suffix(OSR_STR_LIT("ns"), OSR_STR_LIT("completions")));
    CHECK(osr_str_has_prefix(osr_str_make(NULL, 0), OSR_STR_LIT("")));
}

static void test_trim(void)
{
    struct osr_str t = osr_str_trim(OSR_STR_LIT(" \t\r\n x y \n"));
    CHECK(osr_str_eq_cstr(t, "x y"));
    t = osr_str_trim(OSR_STR_LIT("   "));
    CHECK_INT_EQ(t.n, 0);
    t = osr_str_trim(OSR_STR_LIT(""));
    CHECK_INT_EQ(t.n, 0);
    t = osr_str_trim(OSR_STR_LIT("abc"));
    CHECK(osr_str_eq_cstr(t, "abc"));
    /* Not whitespace: NUL and non-ASCII bytes stay. */
    t = osr_str_trim(osr_str_make("\0a\xa0", 3));
    CHECK_INT_EQ(t.n, 3);
    /* The view must not read past its end: trailing space outside the view is not seen. */
    t = osr_str_trim(osr_str_make("ab   ", 2));
    CHECK(osr_str_eq_cstr(t, "ab"));
}

static void test_split(void)
{
    struct osr_str head;
    struct osr_str rest = osr_str_split(OSR_STR_LIT("a=b=c"), '=', &head);
    CHECK(osr_str_eq_cstr(head, "a"));
    CHECK(osr_str_eq_cstr(rest, "b=c"));
    rest = osr_str_split(rest, '=', &head);
    CHECK(osr_str_eq_cstr(head, "b"));
    CHECK(osr_str_eq_cstr(rest, "c"));
    rest = osr_str_split(rest, '=', &head);
    CHECK(osr_str_eq_cstr(head, "c"));
    CHECK(rest.p == NULL && rest.n == 0);

    /* Separator at the edges: empty pieces with non-NULL pointers. */
    rest = osr_str_split(OSR_STR_LIT("=x"), '=', &head);
    CHECK(head.n == 0 && head.p != NULL);
    CHECK(osr_str_eq_cstr(rest, "x"));
    rest = osr_str_split(OSR_STR_LIT("x="), '=', &head);
    CHECK(osr_str_eq_cstr(head, "x"));
    CHECK(rest.p != NULL && rest.n == 0);

    rest = osr_str_split(osr_str_make(NULL, 0), '=', &head);
    CHECK(head.n == 0 && rest.p == NULL);
    /* A separator just past the view is not found. */
    rest = osr_str_split(osr_str_make("ab=c", 2), '=', &head);
    CHECK(osr_str_eq_cstr(head, "ab"));
    CHECK(rest.p == NULL);
}

static void test_to_ll(void)
{
    long long v = 7;
    CHECK(osr_str_to_ll(OSR_STR_LIT("0"), 0, 10, &v) && v == 0);
    CHECK(osr_str_to_ll(OSR_STR_LIT("-42"), -100, 100, &v) && v == -42);
    CHECK(osr_str_to_ll(OSR_STR_LIT("0010"), 0, 100, &v) && v == 10);
    CHECK(osr_str_to_ll(OSR_STR_LIT("9223372036854775807"), LLONG_MIN, LLONG_MAX, &v) &&
          v == LLONG_MAX);
    CHECK(osr_str_to_ll(OSR_STR_LIT("-9223372036854775808"), LLONG_MIN, LLONG_MAX, &v) &&
          v == LLONG_MIN);
    v = 7;
    CHECK(!osr_str_to_ll(OSR_STR_LIT("9223372036854775808"), LLONG_MIN, LLONG_MAX, &v));
    CHECK(!osr_str_to_ll(OSR_STR_LIT(""), 0, 10, &v));
    CHECK(!osr_str_to_ll(OSR_STR_LIT("-"), -10, 10, &v));
    CHECK(!osr_str_to_ll(OSR_STR_LIT("+5"), 0, 10, &v));
    CHECK(!osr_str_to_ll(OSR_STR_LIT(" 5"), 0, 10, &v));
    CHECK(!osr_str_to_ll(OSR_STR_LIT("5 "), 0, 10, &v));
    CHECK(!osr_str_to_ll(OSR_STR_LIT("5x"), 0, 10, &v));
    CHECK(!osr_str_to_ll(OSR_STR_LIT("0x10"), 0, 100, &v));
    CHECK(!osr_str_to_ll(OSR_STR_LIT("11"), 0, 10, &v));
    CHECK(!osr_str_to_ll(OSR_STR_LIT("-1"), 0, 10, &v));
    CHECK(!osr_str_to_ll(osr_str_make("12\0", 3), 0, 100, &v)); /* NUL inside the view */
    CHECK(!osr_str_to_ll(OSR_STR_LIT("000000000000000000000000000000001"), 0, 10, &v));
    CHECK_INT_EQ(v, 7); /* failures leave *out alone */
    /* Digits past the view's end are not read. */
    CHECK(osr_str_to_ll(osr_str_make("123456", 2), 0, 100, &v) && v == 12);
}

TEST_MAIN(test_eq, test_case_eq, test_prefix_suffix, test_trim, test_split, test_to_ll)
