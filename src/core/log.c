/* log.c - leveled logging with redaction.
 *
 * A line is formatted into a stack buffer, redacted, and written with a single write(2) so
 * lines from different threads never interleave.  Lines longer than the buffer are cut, with
 * "..." marking the cut.  Redaction knows two shapes of secret, `osk-v1...` access keys and
 * `Bearer <token>`; it is a last line of defence, not a licence to log secrets.  Control
 * characters in the message (newlines included) are written as '?', so a line is one event.  There
 * is no log file rotation here: the daemon's stderr goes wherever its supervisor sends it.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "osr/clock.h"
#include "osr/err.h"
#include "osr/log.h"

#define LOG_LINE_MAX 4096

static _Atomic int log_level = OSR_LOG_INFO;
static _Atomic int log_fd = STDERR_FILENO;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void osr_log_set_level(enum osr_log_level level)
{
    int l = (int)level;
    atomic_store(&log_level, l < OSR_LOG_DEBUG ? OSR_LOG_DEBUG : l > OSR_LOG_OFF ? OSR_LOG_OFF : l);
}

enum osr_log_level osr_log_get_level(void)
{
    return (enum osr_log_level)atomic_load(&log_level);
}

int osr_log_parse_level(const char *name, enum osr_log_level *out)
{
    if (!name)
        return OSR_EINVAL;
    for (int i = 0; i <= OSR_LOG_OFF; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (enum osr_log_level)i;
            return OSR_OK;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        *out = OSR_LOG_WARN;
        return OSR_OK;
    }
    return OSR_EINVAL;
}

int osr_log_set_fd(int fd)
{
    return atomic_exchange(&log_fd, fd);
}

/* Where a secret ends.  Deliberately wider than the base64url/hex alphabet of an osk-v1 key or
 * an RFC 6750 token: masking too much is harmless, leaving a tail of a secret is not.  A
 * secret ends at whitespace, control characters, quotes, a backslash (an escaped quote in
 * logged JSON) and the punctuation that delimits it in headers, JSON and URLs. */
static int is_token_char(unsigned char c)
{
    if (c <= ' ' || c == 0x7f)
        return 0;
    return strchr("\"'`\\,;&()[]{}<>", c) == NULL;
}

/* Replaces the token starting at s[at] with "***"; returns the new length of s. */
static size_t mask_token(char *s, size_t len, size_t at)
{
    size_t end = at;
    while (end < len && is_token_char((unsigned char)s[end]))
        end++;
    if (end == at)
        return len;
    size_t masked = end - at < 3 ? end - at : 3;
    memset(s + at, '*', masked);
    memmove(s + at + masked, s + end, len - end + 1);
    return len - (end - at) + masked;
}

size_t osr_log_redact(char *s)
{
    size_t len = strlen(s);
    for (size_t i = 0; i < len; i++) {
        if (len - i >= 6 && strncmp(s + i, "osk-v1", 6) == 0) {
            len = mask_token(s, len, i + 6);
            i += 6;
        } else if (len - i >= 7 && strncasecmp(s + i, "bearer", 6) == 0 &&
                   (s[i + 6] == ' ' || s[i + 6] == '\t')) {
            size_t at = i + 7;
            while (at < len && (s[at] == ' ' || s[at] == '\t'))
                at++;
            len = mask_token(s, len, at);
            i = at;
        }
    }
    return len;
}

void osr_log(enum osr_log_level level, const char *fmt, ...)
{
    if ((int)level < atomic_load(&log_level) || level >= OSR_LOG_OFF)
        return;
    char line[LOG_LINE_MAX];
    char ts[OSR_ISO8601_MAX];
    osr_time_iso8601(ts, osr_wall_ms(), 1);
    int n = snprintf(line, sizeof(line), "%s %-5s ", ts, level_names[level]);
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    if ((size_t)(n + m) >= sizeof(line) - 1)
        memcpy(line + sizeof(line) - 5, "...", 4);
    /* One event, one line: a newline or escape sequence inside a logged value (a model name,
     * a header a client sent) must not forge a line or drive the terminal. */
    for (char *c = line + n; *c; c++)
        if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
            *c = '?';
    size_t len = osr_log_redact(line);
    line[len++] = '\n';
    ssize_t w = write(atomic_load(&log_fd), line, len);
    (void)w;
}
