/* tz.h - UTC offsets of IANA time zones, read from the system's TZif files.
 *
 * Reads <TZDIR or the standard zoneinfo folder>/<zone> (RFC 8536, versions 1-4), finds the
 * local time type in force at a given instant, and past the last listed transition evaluates
 * the file's POSIX TZ footer (Mm.w.d rules).  Zone names are confined to the zoneinfo folder
 * (no "..", no leading "/").  Leap-second corrections are ignored (as "right/" zones aside,
 * the files carry none).
 *
 * Thread rules: reentrant; no process state (TZ, tzset) is touched.
 */
#ifndef OSR_TZ_H
#define OSR_TZ_H

#include <stddef.h>
#include <stdint.h>

#include "osr/err.h"

/* Finds zone's offset from UTC (seconds east) at unix_s and its abbreviation ("CEST").
 * Returns OSR_OK, OSR_EINVAL (bad name), OSR_ENOTFOUND (no such zone) or OSR_ECORRUPT. */
int osr_tz_offset(const char *zone, int64_t unix_s, int *offset_s, char *abbr, size_t abbr_cap,
                  struct osr_diag *diag);

/* The same on a TZif image in memory (exposed for tests and fuzzing). */
int osr_tz_offset_tzif(const unsigned char *data, size_t len, int64_t unix_s, int *offset_s,
                       char *abbr, size_t abbr_cap, struct osr_diag *diag);

/* Evaluates a POSIX TZ string ("CET-1CEST,M3.5.0,M10.5.0/3") at unix_s.  Returns OSR_OK or
 * OSR_EINVAL for forms it does not understand (Jn and n day rules). */
int osr_tz_posix_offset(const char *tzstr, int64_t unix_s, int *offset_s, char *abbr,
                        size_t abbr_cap);

#endif
