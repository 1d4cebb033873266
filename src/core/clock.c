/* clock.c - time sources and ISO 8601 formatting.
 *
 * Monotonic time is for durations and deadlines, wall time only for display and timestamps.
 * Formatting is UTC only: no time zones, no locale.
 */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "osr/clock.h"

int64_t osr_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t osr_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

size_t osr_time_iso8601(char out[OSR_ISO8601_MAX], int64_t wall_ms, int with_millis)
{
    time_t secs = (time_t)(wall_ms / 1000);
    int ms = (int)(wall_ms % 1000);
    if (ms < 0) {
        ms += 1000;
        secs -= 1;
    }
    struct tm tm;
    if (!gmtime_r(&secs, &tm)) {
        out[0] = '\0'; /* a year beyond what struct tm holds */
        return 0;
    }
    int n;
    if (with_millis)
        n = snprintf(out, OSR_ISO8601_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    else
        n = snprintf(out, OSR_ISO8601_MAX, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (n < 0)
        return 0;
    return (size_t)n < OSR_ISO8601_MAX ? (size_t)n : OSR_ISO8601_MAX - 1;
}

void osr_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}
