/* str.c - string views: comparison, trimming, splitting, integer parsing.
 *
 * Everything here is ASCII and locale-independent, and never reads past p + n (views need not
 * be NUL-terminated).  Nothing allocates.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "osr/str.h"

bool osr_str_eq(struct osr_str a, struct osr_str b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

bool osr_str_eq_cstr(struct osr_str a, const char *s)
{
    return osr_str_eq(a, osr_str_cstr(s));
}

static unsigned char ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* ASCII only, and byte by byte: strncasecmp would stop at a NUL inside the views and follow
 * the locale. */
bool osr_str_case_eq(struct osr_str a, struct osr_str b)
{
    if (a.n != b.n)
        return false;
    for (size_t i = 0; i < a.n; i++)
        if (ascii_lower((unsigned char)a.p[i]) != ascii_lower((unsigned char)b.p[i]))
            return false;
    return true;
}

bool osr_str_has_prefix(struct osr_str s, struct osr_str prefix)
{
    return s.n >= prefix.n && (prefix.n == 0 || memcmp(s.p, prefix.p, prefix.n) == 0);
}

bool osr_str_has_suffix(struct osr_str s, struct osr_str suffix)
{
    return s.n >= suffix.n &&
           (suffix.n == 0 || memcmp(s.p + s.n - suffix.n, suffix.p, suffix.n) == 0);
}

static bool ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

struct osr_str osr_str_trim(struct osr_str s)
{
    while (s.n && ascii_space(s.p[0])) {
        s.p++;
        s.n--;
    }
    while (s.n && ascii_space(s.p[s.n - 1]))
        s.n--;
    return s;
}

struct osr_str osr_str_split(struct osr_str s, char sep, struct osr_str *head)
{
    const char *at = s.n ? memchr(s.p, sep, s.n) : NULL;
    if (!at) {
        *head = s;
        return (struct osr_str){NULL, 0};
    }
    *head = (struct osr_str){s.p, (size_t)(at - s.p)};
    return (struct osr_str){at + 1, s.n - (size_t)(at - s.p) - 1};
}

bool osr_str_to_ll(struct osr_str s, long long min, long long max, long long *out)
{
    char tmp[32];
    if (s.n == 0 || s.n >= sizeof(tmp))
        return false;
    memcpy(tmp, s.p, s.n);
    tmp[s.n] = '\0';
    if (!(tmp[0] == '-' || (tmp[0] >= '0' && tmp[0] <= '9')))
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(tmp, &end, 10);
    /* end must reach the end of the view: a NUL inside it is not a digit. */
    if (errno || end != tmp + s.n || v < min || v > max)
        return false;
    *out = v;
    return true;
}
