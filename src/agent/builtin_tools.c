/* builtin_tools.c - tools that need no agent context: current_time and calculator.
 *
 * current_time reports the wall clock in ISO 8601, in UTC, at a fixed UTC offset given as
 * "+05:30", "-0800", "UTC+2" or "GMT-3", or in an IANA zone ("Europe/Paris", through tz.h).
 * calculator evaluates arithmetic with a recursive-descent parser written here (no eval, no
 * variables, no functions), bounded in input length and nesting depth.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "osr/clock.h"
#include "osr/json.h"
#include "osr/tools.h"
#include "osr/tz.h"

#define CALC_MAX_LEN 4096
#define CALC_MAX_DEPTH 64

/* --- calculator ------------------------------------------------------------------------------ */

struct calc {
    const char *s;
    size_t n, pos;
    int depth;
    struct osr_diag *diag;
};

static void skip_ws(struct calc *c)
{
    while (c->pos < c->n && (c->s[c->pos] == ' ' || c->s[c->pos] == '\t' || c->s[c->pos] == '\n' ||
                             c->s[c->pos] == '\r'))
        c->pos++;
}

static int peek(struct calc *c)
{
    skip_ws(c);
    return c->pos < c->n ? (unsigned char)c->s[c->pos] : -1;
}

static int calc_expr(struct calc *c, double *out);
static int calc_unary(struct calc *c, double *out);

static int syntax(struct calc *c, const char *what)
{
    if (c->pos >= c->n)
        return osr_diag_set(c->diag, OSR_EINVAL, "%s at the end of the expression", what);
    return osr_diag_set(c->diag, OSR_EINVAL, "%s at offset %zu ('%c')", what, c->pos,
                        isprint((unsigned char)c->s[c->pos]) ? c->s[c->pos] : '?');
}

static int calc_number(struct calc *c, double *out)
{
    size_t start = c->pos;
    size_t i = c->pos;
    bool digits = false;
    while (i < c->n && isdigit((unsigned char)c->s[i])) {
        i++;
        digits = true;
    }
    if (i < c->n && c->s[i] == '.') {
        i++;
        while (i < c->n && isdigit((unsigned char)c->s[i])) {
            i++;
            digits = true;
        }
    }
    if (!digits)
        return syntax(c, "expected a number");
    if (i < c->n && (c->s[i] == 'e' || c->s[i] == 'E')) {
        size_t j = i + 1;
        if (j < c->n && (c->s[j] == '+' || c->s[j] == '-'))
            j++;
        if (j < c->n && isdigit((unsigned char)c->s[j])) {
            while (j < c->n && isdigit((unsigned char)c->s[j]))
                j++;
            i = j;
        }
    }
    char tmp[128];
    if (i - start >= sizeof(tmp))
        return syntax(c, "number too long");
    memcpy(tmp, c->s + start, i - start);
    tmp[i - start] = '\0';
    char *end = NULL;
    *out = strtod(tmp, &end);
    if (!end || *end != '\0')
        return syntax(c, "malformed number");
    c->pos = i;
    return OSR_OK;
}

static int calc_primary(struct calc *c, double *out)
{
    int ch = peek(c);
    if (ch == '(') {
        if (++c->depth > CALC_MAX_DEPTH)
            return osr_diag_set(c->diag, OSR_EINVAL, "parentheses nested deeper than %d",
                                CALC_MAX_DEPTH);
        c->pos++;
        int rc = calc_expr(c, out);
        if (rc)
            return rc;
        if (peek(c) != ')')
            return syntax(c, "expected ')'");
        c->pos++;
        c->depth--;
        return OSR_OK;
    }
    if (ch == '.' || (ch >= '0' && ch <= '9'))
        return calc_number(c, out);
    return syntax(c, ch < 0 ? "expected a number" : "unexpected character");
}

/* power := primary ('^' unary)?  - right-associative, binds tighter than unary minus on its
 * left (-2^2 = -4) and allows a signed exponent (2^-1). */
static int calc_power(struct calc *c, double *out)
{
    int rc = calc_primary(c, out);
    if (rc || peek(c) != '^')
        return rc;
    c->pos++;
    double e = 0;
    rc = calc_unary(c, &e);
    if (rc)
        return rc;
    *out = pow(*out, e);
    return OSR_OK;
}

static int calc_unary(struct calc *c, double *out)
{
    int ch = peek(c);
    if (ch == '-' || ch == '+') {
        if (++c->depth > CALC_MAX_DEPTH)
            return osr_diag_set(c->diag, OSR_EINVAL, "too many signs in a row (limit %d)",
                                CALC_MAX_DEPTH);
        c->pos++;
        int rc = calc_unary(c, out);
        c->depth--;
        if (!rc && ch == '-')
            *out = -*out;
        return rc;
    }
    if (++c->depth > CALC_MAX_DEPTH)
        return osr_diag_set(c->diag, OSR_EINVAL, "exponents nested deeper than %d", CALC_MAX_DEPTH);
    int rc = calc_power(c, out);
    c->depth--;
    return rc;
}

static int calc_term(struct calc *c, double *out)
{
    int rc = calc_unary(c, out);
    for (int ch = peek(c); !rc && (ch == '*' || ch == '/' || ch == '%'); ch = peek(c)) {
        c->pos++;
        double r = 0;
        rc = calc_unary(c, &r);
        if (rc)
            break;
        if ((ch == '/' || ch == '%') && r == 0)
            return osr_diag_set(c->diag, OSR_EPROTO, "%s by zero",
                                ch == '/' ? "division" : "modulo");
        *out = ch == '*' ? *out * r : ch == '/' ? *out / r : fmod(*out, r);
    }
    return rc;
}

static int calc_expr(struct calc *c, double *out)
{
    int rc = calc_term(c, out);
    for (int ch = peek(c); !rc && (ch == '+' || ch == '-'); ch = peek(c)) {
        c->pos++;
        double r = 0;
        rc = calc_term(c, &r);
        if (!rc)
            *out = ch == '+' ? *out + r : *out - r;
    }
    return rc;
}

int osr_calc_eval(const char *expr, size_t n, double *out, struct osr_diag *diag)
{
    if (n > CALC_MAX_LEN)
        return osr_diag_set(diag, OSR_EINVAL, "expression longer than %d characters", CALC_MAX_LEN);
    struct calc c = {.s = expr, .n = n, .diag = diag};
    double v = 0;
    int rc = calc_expr(&c, &v);
    if (rc)
        return rc;
    if (peek(&c) >= 0)
        return syntax(&c, "unexpected character");
    if (!isfinite(v))
        return osr_diag_set(diag, OSR_EPROTO, "the result is not a finite number");
    *out = v == 0 ? 0 : v; /* no negative zero */
    return OSR_OK;
}

static void calculator_tool(void *ctx, struct json_object *args, struct osr_tool_out *out)
{
    (void)ctx;
    struct json_object *e = NULL;
    json_object_object_get_ex(args, "expression", &e);
    const char *s = json_object_get_string(e);
    size_t n = (size_t)json_object_get_string_len(e);
    struct osr_diag d;
    osr_diag_clear(&d);
    double v = 0;
    int rc = osr_calc_eval(s, n, &v, &d);
    if (rc == OSR_EINVAL) {
        osr_tool_out_fail(out, OSR_TOOL_INVALID_ARGS, "expression", "an arithmetic expression",
                          "%s", d.msg);
        return;
    }
    if (rc) {
        osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, NULL, NULL, "%s", d.msg);
        return;
    }
    struct json_object *res = json_object_new_object();
    json_object_object_add(res, "expression", osr_json_new_string(s, n));
    if (fabs(v) < 9007199254740992.0 && floor(v) == v)
        json_object_object_add(res, "value", json_object_new_int64((int64_t)v));
    else
        json_object_object_add(res, "value", json_object_new_double(v));
    char text[64];
    snprintf(text, sizeof(text), "%.15g", v);
    json_object_object_add(res, "text", json_object_new_string(text));
    out->result = res;
}

/* --- current_time ---------------------------------------------------------------------------- */

/* Parses "UTC", "Z", "GMT", "+05:30", "-0800", "+5", "UTC+2", "GMT-03:00" into minutes east of
 * UTC.  Returns false for anything else. */
static bool parse_offset(const char *s, int *minutes)
{
    if (strncmp(s, "UTC", 3) == 0 || strncmp(s, "GMT", 3) == 0)
        s += 3;
    else if (strcmp(s, "Z") == 0 || strcmp(s, "z") == 0)
        s += 1;
    if (*s == '\0') {
        *minutes = 0;
        return true;
    }
    int sign = *s == '+' ? 1 : *s == '-' ? -1 : 0;
    if (!sign)
        return false;
    s++;
    int h = 0, m = 0, nd = 0;
    while (isdigit((unsigned char)*s) && nd < 2) {
        h = h * 10 + (*s++ - '0');
        nd++;
    }
    if (nd == 0)
        return false;
    if (*s == ':')
        s++;
    if (*s) {
        if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2] != '\0')
            return false;
        m = (s[0] - '0') * 10 + (s[1] - '0');
    }
    if (h > 14 || m > 59 || h * 60 + m > 14 * 60)
        return false;
    *minutes = sign * (h * 60 + m);
    return true;
}

static void current_time_tool(void *ctx, struct json_object *args, struct osr_tool_out *out)
{
    (void)ctx;
    struct json_object *tz = NULL;
    const char *zone = "UTC";
    if (json_object_object_get_ex(args, "timezone", &tz) && tz)
        zone = json_object_get_string(tz);
    int off = 0; /* minutes for fixed offsets, then seconds */
    int64_t ms = osr_wall_ms();
    char abbr[16] = "";
    if (parse_offset(zone, &off)) {
        off *= 60;
    } else {
        struct osr_diag d;
        osr_diag_clear(&d);
        int rc = osr_tz_offset(zone, ms / 1000, &off, abbr, sizeof(abbr), &d);
        if (rc == OSR_EINVAL || rc == OSR_ENOTFOUND) {
            osr_tool_out_fail(out, OSR_TOOL_INVALID_ARGS, "timezone",
                              "an IANA zone such as Europe/Paris, UTC, or an offset like +05:30",
                              "%s", d.msg);
            return;
        }
        if (rc) {
            osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, NULL, NULL, "time zone data: %s",
                              d.msg);
            return;
        }
    }
    time_t local = (time_t)(ms / 1000) + (time_t)off;
    struct tm tm;
    if (!gmtime_r(&local, &tm)) {
        osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, NULL, NULL, "the clock is out of range");
        return;
    }
    char stamp[64], suffix[16];
    int aoff = off < 0 ? -off : off;
    if (off == 0)
        snprintf(suffix, sizeof(suffix), "Z");
    else
        snprintf(suffix, sizeof(suffix), "%c%02d:%02d", off < 0 ? '-' : '+', aoff / 3600,
                 aoff / 60 % 60);
    snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d%s", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, suffix);
    static const char *const days[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                       "Thursday", "Friday", "Saturday"};
    struct json_object *res = json_object_new_object();
    json_object_object_add(res, "iso8601", json_object_new_string(stamp));
    json_object_object_add(res, "unix", json_object_new_int64(ms / 1000));
    json_object_object_add(res, "timezone", osr_json_new_string(zone, strlen(zone)));
    if (abbr[0])
        json_object_object_add(res, "abbreviation", json_object_new_string(abbr));
    json_object_object_add(res, "utc_offset_minutes", json_object_new_int(off / 60));
    json_object_object_add(res, "weekday", json_object_new_string(days[tm.tm_wday % 7]));
    json_object_object_add(res, "text", json_object_new_string(stamp));
    out->result = res;
}

int osr_tools_add_builtins(struct osr_tools *reg, struct osr_diag *diag)
{
    static const struct osr_tool_def defs[] = {
        {.name = "current_time",
         .description = "Returns the current date and time in ISO 8601, in UTC, an IANA time zone "
                        "or at a given UTC offset.",
         .input_schema = "{\"type\":\"object\",\"properties\":{\"timezone\":{\"type\":\"string\","
                         "\"description\":\"UTC (default), an IANA zone such as "
                         "Europe/Paris, or an offset such as "
                         "+05:30\",\"maxLength\":64}},\"additionalProperties\":false}",
         .policy = OSR_TOOL_POLICY_AUTO,
         .source = OSR_TOOL_SOURCE_BUILTIN,
         .fn = current_time_tool},
        {.name = "calculator",
         .description = "Evaluates an arithmetic expression: numbers, + - * / % ^ and "
                        "parentheses.",
         .input_schema = "{\"type\":\"object\",\"properties\":{\"expression\":{\"type\":"
                         "\"string\",\"description\":\"for example (2+3)*4^2\",\"minLength\":1,"
                         "\"maxLength\":4096}},\"required\":[\"expression\"],"
                         "\"additionalProperties\":false}",
         .policy = OSR_TOOL_POLICY_AUTO,
         .source = OSR_TOOL_SOURCE_BUILTIN,
         .fn = calculator_tool},
    };
    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
        int rc = osr_tools_add(reg, &defs[i], diag);
        if (rc)
            return rc;
    }
    return OSR_OK;
}
