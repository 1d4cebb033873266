/* test_tz.c - zone offsets: POSIX TZ rules at their exact boundaries, TZif files from the
 * system's zoneinfo (inside and beyond the transition table, both hemispheres), name
 * confinement and damaged files. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "osr/tz.h"

static void test_posix_rules(void)
{
    const char *paris = "CET-1CEST,M3.5.0,M10.5.0/3";
    int off = 0;
    char ab[16];
    /* 2026-03-29 01:00:00Z is when Paris springs forward; 2026-10-25 01:00:00Z falls back. */
    CHECK_INT_EQ(osr_tz_posix_offset(paris, 1774746000 - 1, &off, ab, sizeof(ab)), OSR_OK);
    CHECK_INT_EQ(off, 3600);
    CHECK_STR_EQ(ab, "CET");
    CHECK_INT_EQ(osr_tz_posix_offset(paris, 1774746000, &off, ab, sizeof(ab)), OSR_OK);
    CHECK_INT_EQ(off, 7200);
    CHECK_STR_EQ(ab, "CEST");
    CHECK_INT_EQ(osr_tz_posix_offset(paris, 1792890000 - 1, &off, ab, sizeof(ab)), OSR_OK);
    CHECK_INT_EQ(off, 7200);
    CHECK_INT_EQ(osr_tz_posix_offset(paris, 1792890000, &off, ab, sizeof(ab)), OSR_OK);
    CHECK_INT_EQ(off, 3600);
    /* Southern hemisphere: summer time spans the new year. */
    const char *sydney = "AEST-10AEDT,M10.1.0,M4.1.0/3";
    CHECK_INT_EQ(osr_tz_posix_offset(sydney, 1768435200, &off, ab, sizeof(ab)), OSR_OK);
    CHECK_INT_EQ(off, 39600);
    CHECK_INT_EQ(osr_tz_posix_offset(sydney, 1782864000, &off, ab, sizeof(ab)), OSR_OK);
    CHECK_INT_EQ(off, 36000);
    CHECK_INT_EQ(osr_tz_posix_offset("<+0530>-5:30", 0, &off, ab, sizeof(ab)), OSR_OK);
    CHECK_INT_EQ(off, 19800);
    CHECK_STR_EQ(ab, "+0530");
    CHECK_INT_EQ(osr_tz_posix_offset("EST5EDT,M3.2.0,M11.1.0", 1782864000, &off, ab, sizeof(ab)),
                 OSR_OK);
    CHECK_INT_EQ(off, -14400);
    CHECK_INT_EQ(osr_tz_posix_offset("EST5EDT,J60,J300", 0, &off, ab, sizeof(ab)), OSR_EINVAL);
    CHECK_INT_EQ(osr_tz_posix_offset("", 0, &off, ab, sizeof(ab)), OSR_EINVAL);
    CHECK_INT_EQ(osr_tz_posix_offset("CET-1CEST,M13.5.0,M10.5.0", 0, &off, ab, sizeof(ab)),
                 OSR_EINVAL);
}

static bool have_zone(const char *z)
{
    const char *dir = getenv("TZDIR");
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir && dir[0] ? dir : "/usr/share/zoneinfo", z);
    struct stat st;
    return stat(path, &st) == 0;
}

static void test_zoneinfo(void)
{
    if (!have_zone("Europe/Paris") || !have_zone("Australia/Sydney") ||
        !have_zone("America/New_York") || !have_zone("Asia/Kolkata")) {
        printf("skipping: the system has no zoneinfo files\n");
        return;
    }
    static const struct {
        const char *zone;
        int64_t t;
        int off;
        const char *abbr;
    } cases[] = {
        {"Europe/Paris", 1782864000, 7200, "CEST"},
        {"Europe/Paris", 1768435200, 3600, "CET"},
        {"Europe/Paris", 4118083200, 7200, "CEST"},
        {"Europe/Paris", 4103654400, 3600, "CET"},
        {"America/New_York", 1782864000, -14400, "EDT"},
        {"America/New_York", 4103654400, -18000, "EST"},
        {"Australia/Sydney", 4103654400, 39600, "AEDT"},
        {"Australia/Sydney", 4118083200, 36000, "AEST"},
        {"Asia/Kolkata", 1782864000, 19800, "IST"},
        {"UTC", 1782864000, 0, "UTC"},
        {"Europe/Paris", -3000000000LL, 561, "LMT"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int off = -1;
        char ab[16] = "";
        struct osr_diag d;
        osr_diag_clear(&d);
        int rc = osr_tz_offset(cases[i].zone, cases[i].t, &off, ab, sizeof(ab), &d);
        CHECK_INT_EQ(rc, OSR_OK);
        CHECK_INT_EQ(off, cases[i].off);
        CHECK_STR_EQ(ab, cases[i].abbr);
        if (off != cases[i].off)
            fprintf(stderr, "  %s at %lld\n", cases[i].zone, (long long)cases[i].t);
    }
}

static void test_bad_names_and_data(void)
{
    int off;
    char ab[16];
    static const char *const bad[] = {"../etc/passwd", "/etc/passwd", "Europe/../../x", "a b", "",
                                      "Europe/",       ".hidden",     "Europe//Paris"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_INT_EQ(osr_tz_offset(bad[i], 0, &off, ab, sizeof(ab), NULL), OSR_EINVAL);
    CHECK_INT_EQ(osr_tz_offset("Mars/Olympus_Mons", 0, &off, ab, sizeof(ab), NULL), OSR_ENOTFOUND);
    unsigned char junk[64];
    memset(junk, 0, sizeof(junk));
    CHECK_INT_EQ(osr_tz_offset_tzif(junk, sizeof(junk), 0, &off, ab, sizeof(ab), NULL),
                 OSR_ECORRUPT);
    memcpy(junk, "TZif2", 5);
    junk[20 + 4 * 3 + 3] = 200; /* 200 transitions that are not there */
    junk[20 + 4 * 4 + 3] = 1;
    CHECK_INT_EQ(osr_tz_offset_tzif(junk, sizeof(junk), 0, &off, ab, sizeof(ab), NULL),
                 OSR_ECORRUPT);
    /* A minimal valid v1 file: no transitions, one type +1 h "ABC". */
    unsigned char v1[44 + 6 + 4];
    memset(v1, 0, sizeof(v1));
    memcpy(v1, "TZif", 4);
    v1[20 + 4 * 4 + 3] = 1; /* typecnt */
    v1[20 + 4 * 5 + 3] = 4; /* charcnt */
    v1[44 + 2] = 0x0e;      /* utoff 3600 = 0x0e10 */
    v1[44 + 3] = 0x10;
    memcpy(v1 + 50, "ABC", 4);
    CHECK_INT_EQ(osr_tz_offset_tzif(v1, sizeof(v1), 0, &off, ab, sizeof(ab), NULL), OSR_OK);
    CHECK_INT_EQ(off, 3600);
    CHECK_STR_EQ(ab, "ABC");
    CHECK_INT_EQ(osr_tz_offset_tzif(v1, sizeof(v1) - 1, 0, &off, ab, sizeof(ab), NULL),
                 OSR_ECORRUPT);
}

TEST_MAIN(test_posix_rules, test_zoneinfo, test_bad_names_and_data)
