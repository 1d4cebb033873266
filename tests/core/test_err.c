/* test_err.c - error descriptions and the diagnostics struct. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "osr/err.h"

static void test_strerror(void)
{
    CHECK_STR_EQ(osr_strerror(OSR_OK), "success");
    CHECK_STR_EQ(osr_strerror(OSR_ETOOBIG), "too large");
    CHECK_STR_EQ(osr_strerror(1), "unknown error");
    CHECK_STR_EQ(osr_strerror(-1000), "unknown error");
    /* Every code has its own description, none is the fallback. */
    int distinct = 1;
    for (int a = OSR_ECORRUPT; a <= OSR_OK; a++) {
        distinct &= strcmp(osr_strerror(a), "unknown error") != 0;
        for (int b = a + 1; b <= OSR_OK; b++)
            distinct &= strcmp(osr_strerror(a), osr_strerror(b)) != 0;
    }
    CHECK(distinct);
}

static void test_diag(void)
{
    struct osr_diag d;
    osr_diag_clear(&d);
    CHECK_STR_EQ(d.msg, "");
    CHECK_STR_EQ(d.param, "");
    CHECK_INT_EQ(osr_diag_set(&d, OSR_EINVAL, "'%s' must be %s", "x", "a string"), OSR_EINVAL);
    CHECK_STR_EQ(d.msg, "'x' must be a string");
    osr_diag_set_param(&d, "messages[0].role");
    CHECK_STR_EQ(d.param, "messages[0].role");
    osr_diag_set_param(&d, NULL);
    CHECK_STR_EQ(d.param, "");
    CHECK_INT_EQ(osr_diag_set(NULL, OSR_EIO, "ignored %d", 1), OSR_EIO);
    osr_diag_set_param(NULL, "p");
    osr_diag_clear(NULL);

    /* Long text is cut, never overflowing. */
    char big[2000];
    memset(big, 'm', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    osr_diag_set(&d, OSR_EINVAL, "%s", big);
    CHECK_INT_EQ(strlen(d.msg), OSR_DIAG_MAX - 1);
    osr_diag_set_param(&d, big);
    CHECK_INT_EQ(strlen(d.param), sizeof(d.param) - 1);
}

TEST_MAIN(test_strerror, test_diag)
