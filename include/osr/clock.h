/* clock.h - monotonic and wall time.
 *
 * Thread rules: thread-safe.
 */
#ifndef OSR_CLOCK_H
#define OSR_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Nanoseconds from an arbitrary start (CLOCK_MONOTONIC). */
int64_t osr_mono_ns(void);
/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t osr_wall_ms(void);

#define OSR_ISO8601_MAX 32

/* Writes wall_ms as UTC ISO 8601 into out: "2026-11-24T01:38:32Z", or with millis
 * "2026-11-24T01:38:32.123Z".  Negative wall_ms (before 1970) works.  Returns the length, or 0
 * with out set to "" for a time struct tm cannot hold. */
size_t osr_time_iso8601(char out[OSR_ISO8601_MAX], int64_t wall_ms, int with_millis);

/* Sleeps for ms milliseconds (restarting on EINTR). */
void osr_sleep_ms(int64_t ms);

#endif
