/* log.h - leveled, timestamped logging to stderr with secret redaction.
 *
 * Every line passes through osr_log_redact before it is written, so an `osk-v1...` access key
 * or an `Authorization: Bearer ...` token never reaches the log, whoever formats it.  Control
 * characters in a message (other than tab) are written as '?', so one call is one line.
 *
 * Thread rules: all functions are thread-safe; a line is written with one write(2).
 */
#ifndef OSR_LOG_H
#define OSR_LOG_H

#include <stddef.h>

enum osr_log_level {
    OSR_LOG_DEBUG = 0,
    OSR_LOG_INFO = 1,
    OSR_LOG_WARN = 2,
    OSR_LOG_ERROR = 3,
    OSR_LOG_OFF = 4,
};

void osr_log_set_level(enum osr_log_level level);
enum osr_log_level osr_log_get_level(void);

/* Parses "debug", "info", "warn", "error", "off"; returns OSR_EINVAL otherwise. */
int osr_log_parse_level(const char *name, enum osr_log_level *out);

/* Sends lines to fd instead of stderr (tests use a pipe); returns the previous fd. */
int osr_log_set_fd(int fd);

void osr_log(enum osr_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Replaces secrets in the NUL-terminated string s in place: the body of every `osk-v1` key and
 * every bearer token becomes `***`.  The string only shrinks.  Returns the new length. */
size_t osr_log_redact(char *s);

#define OSR_DEBUG(...) osr_log(OSR_LOG_DEBUG, __VA_ARGS__)
#define OSR_INFO(...) osr_log(OSR_LOG_INFO, __VA_ARGS__)
#define OSR_WARN(...) osr_log(OSR_LOG_WARN, __VA_ARGS__)
#define OSR_ERROR(...) osr_log(OSR_LOG_ERROR, __VA_ARGS__)

#endif
