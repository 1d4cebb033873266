/* test_clock.c - time sources and ISO 8601 formatting. */
#include <string.h>

#include "check.h"
#include "osr/clock.h"

static void iso(int64_t ms, int millis, const char *want)
{
    char out[OSR_ISO8601_MAX];
    memset(out, 'Z', sizeof(out));
    size_t n = osr_time_iso8601(out, ms, millis);
    CHECK_STR_EQ(out, want);
    CHECK_INT_EQ(n, strlen(want));
}

static void test_iso8601(void)
{
    iso(0, 0, "1970-01-01T00:00:00Z");
    iso(0, 1, "1970-01-01T00:00:00.000Z");
    iso(1000, 0, "1970-01-01T00:00:01Z");
    iso(951782400000LL, 0, "2000-02-29T00:00:00Z"); /* leap day */
    iso(1700000000123LL, 1, "2023-11-14T22:13:20.123Z");
    iso(1700000000999LL, 0, "2023-11-14T22:13:20Z"); /* millis dropped, not rounded */
    iso(4102444799999LL, 1, "2099-12-31T23:59:59.999Z");
    iso(-1, 1, "1969-12-31T23:59:59.999Z");
    iso(-1000, 0, "1969-12-31T23:59:59Z");
    iso(-1001, 1, "1969-12-31T23:59:58.999Z");
    iso(-86400000LL, 1, "1969-12-31T00:00:00.000Z");
    /* Absurd inputs: no crash, a terminated string that fits. */
    char out[OSR_ISO8601_MAX];
    size_t n = osr_time_iso8601(out, INT64_MAX, 1);
    CHECK(n < OSR_ISO8601_MAX);
    CHECK_INT_EQ(strlen(out), n);
    n = osr_time_iso8601(out, INT64_MIN, 1);
    CHECK(n < OSR_ISO8601_MAX);
    CHECK_INT_EQ(strlen(out), n);
}

static void test_monotonic(void)
{
    int64_t prev = osr_mono_ns();
    int ok = 1;
    for (int i = 0; i < 100000; i++) {
        int64_t now = osr_mono_ns();
        ok &= now >= prev;
        prev = now;
    }
    CHECK(ok);
    int64_t t0 = osr_mono_ns();
    osr_sleep_ms(20);
    int64_t dt = osr_mono_ns() - t0;
    CHECK(dt >= 19 * 1000000LL);
    CHECK(dt < 2000 * 1000000LL);
    t0 = osr_mono_ns();
    osr_sleep_ms(0);
    osr_sleep_ms(-5); /* returns at once */
    CHECK(osr_mono_ns() - t0 < 1000 * 1000000LL);
}

static void test_wall(void)
{
    int64_t w = osr_wall_ms();
    CHECK(w > 1600000000000LL); /* after 2020 */
    char out[OSR_ISO8601_MAX];
    size_t n = osr_time_iso8601(out, w, 1);
    CHECK_INT_EQ(n, 24);
    CHECK(out[4] == '-' && out[10] == 'T' && out[19] == '.' && out[23] == 'Z');
}

TEST_MAIN(test_iso8601, test_monotonic, test_wall)
