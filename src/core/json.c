/* json.c - strict parsing, typed getters and string escaping over json-c.
 *
 * json-c's "strict" mode is not strict enough for untrusted input: json-c 0.16 still accepts
 * single-quoted strings, raw control characters inside strings, NaN and Infinity, "1." and
 * silently clamps integers that do not fit in 64 bits.  So every document first goes through
 * our own RFC 8259 validator (grammar, UTF-8, nesting depth, integer range, nothing but
 * whitespace after the value) and only then through json-c, which builds the tree.  The
 * validator does not build anything and does not recurse.
 *
 * This module does not stream: a document is parsed whole.  Frames are written with
 * osr_json_append_string and the capped buffer, not through json-c.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "osr/json.h"

/* Where and why a document is not strict JSON. */
struct scan {
    const unsigned char *s;
    size_t n;
    size_t i;
    const char *why;
};

static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_ws(struct scan *sc)
{
    while (sc->i < sc->n && is_ws(sc->s[sc->i]))
        sc->i++;
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static size_t utf8_seq_len(const unsigned char *s, size_t n);

static int scan_fail(struct scan *sc, const char *why)
{
    sc->why = why;
    return -1;
}

static int scan_literal(struct scan *sc, const char *word)
{
    size_t len = strlen(word);
    if (sc->n - sc->i < len || memcmp(sc->s + sc->i, word, len) != 0)
        return scan_fail(sc, "unexpected character");
    sc->i += len;
    return 0;
}

static int hex4(const unsigned char *p)
{
    for (int k = 0; k < 4; k++) {
        unsigned char c = p[k];
        if (!is_digit(c) && !(c >= 'a' && c <= 'f') && !(c >= 'A' && c <= 'F'))
            return 0;
    }
    return 1;
}

static int scan_string(struct scan *sc)
{
    sc->i++; /* the opening quote */
    while (sc->i < sc->n) {
        unsigned char c = sc->s[sc->i];
        if (c == '"') {
            sc->i++;
            return 0;
        }
        if (c < 0x20)
            return scan_fail(sc, "control character in string");
        if (c == '\\') {
            if (sc->i + 1 >= sc->n)
                break;
            unsigned char e = sc->s[sc->i + 1];
            if (e == 'u') {
                if (sc->n - sc->i < 6 || !hex4(sc->s + sc->i + 2))
                    return scan_fail(sc, "invalid \\u escape");
                sc->i += 6;
            } else if (strchr("\"\\/bfnrt", e) && e != '\0') {
                sc->i += 2;
            } else {
                return scan_fail(sc, "invalid escape");
            }
            continue;
        }
        if (c >= 0x80) {
            size_t len = utf8_seq_len(sc->s + sc->i, sc->n - sc->i);
            if (len == 0)
                return scan_fail(sc, "invalid UTF-8");
            sc->i += len;
            continue;
        }
        sc->i++;
    }
    sc->i = sc->n;
    return scan_fail(sc, "unterminated string");
}

/* Integers must fit json-c's int64 or uint64 without clamping. */
static int int_in_range(const unsigned char *p, size_t len)
{
    int neg = p[0] == '-';
    size_t digits = len - (size_t)neg;
    const char *limit = neg ? "9223372036854775808" : "18446744073709551615";
    size_t llen = strlen(limit);
    if (digits != llen)
        return digits < llen;
    return memcmp(p + neg, limit, llen) <= 0;
}

static int scan_number(struct scan *sc)
{
    size_t start = sc->i;
    int is_int = 1;
    if (sc->s[sc->i] == '-')
        sc->i++;
    if (sc->i >= sc->n || !is_digit(sc->s[sc->i]))
        return scan_fail(sc, "invalid number");
    if (sc->s[sc->i] == '0') {
        sc->i++;
        if (sc->i < sc->n && is_digit(sc->s[sc->i]))
            return scan_fail(sc, "leading zero in number");
    } else {
        while (sc->i < sc->n && is_digit(sc->s[sc->i]))
            sc->i++;
    }
    if (sc->i < sc->n && sc->s[sc->i] == '.') {
        is_int = 0;
        sc->i++;
        if (sc->i >= sc->n || !is_digit(sc->s[sc->i]))
            return scan_fail(sc, "invalid number");
        while (sc->i < sc->n && is_digit(sc->s[sc->i]))
            sc->i++;
    }
    if (sc->i < sc->n && (sc->s[sc->i] == 'e' || sc->s[sc->i] == 'E')) {
        is_int = 0;
        sc->i++;
        if (sc->i < sc->n && (sc->s[sc->i] == '+' || sc->s[sc->i] == '-'))
            sc->i++;
        if (sc->i >= sc->n || !is_digit(sc->s[sc->i]))
            return scan_fail(sc, "invalid number");
        while (sc->i < sc->n && is_digit(sc->s[sc->i]))
            sc->i++;
    }
    if (is_int && !int_in_range(sc->s + start, sc->i - start)) {
        sc->i = start;
        return scan_fail(sc, "integer out of 64-bit range");
    }
    return 0;
}

/* Checks that s[0..n) is exactly one RFC 8259 value, surrounded by optional whitespace, nested
 * at most OSR_JSON_MAX_DEPTH deep.  Iterative: the open containers are a bit stack. */
static int scan_document(struct scan *sc)
{
    unsigned char stack[(OSR_JSON_MAX_DEPTH + 7) / 8]; /* bit set: the container is an object */
    int depth = 0;
    skip_ws(sc);
    for (;;) {
        /* Expecting a value. */
        if (sc->i >= sc->n)
            return scan_fail(sc, "unexpected end of input");
        unsigned char c = sc->s[sc->i];
        int opened = 0;
        if (c == '{' || c == '[') {
            if (depth == OSR_JSON_MAX_DEPTH)
                return scan_fail(sc, "nesting too deep");
            unsigned char bit = (unsigned char)(1u << (depth % 8));
            if (c == '{')
                stack[depth / 8] |= bit;
            else
                stack[depth / 8] &= (unsigned char)~bit;
            depth++;
            sc->i++;
            skip_ws(sc);
            opened = 1;
            if (sc->i < sc->n && sc->s[sc->i] == (c == '{' ? '}' : ']')) {
                sc->i++;
                depth--;
                opened = 0;
            } else if (c == '{') {
                if (sc->i >= sc->n || sc->s[sc->i] != '"')
                    return scan_fail(sc, sc->i >= sc->n ? "unexpected end of input"
                                                        : "expected a string key");
                if (scan_string(sc))
                    return -1;
                skip_ws(sc);
                if (sc->i >= sc->n || sc->s[sc->i] != ':')
                    return scan_fail(sc, "expected ':'");
                sc->i++;
                skip_ws(sc);
            }
            if (opened)
                continue; /* now expecting the first value of the container */
        } else if (c == '"') {
            if (scan_string(sc))
                return -1;
        } else if (c == '-' || is_digit(c)) {
            if (scan_number(sc))
                return -1;
        } else if (c == 't') {
            if (scan_literal(sc, "true"))
                return -1;
        } else if (c == 'f') {
            if (scan_literal(sc, "false"))
                return -1;
        } else if (c == 'n') {
            if (scan_literal(sc, "null"))
                return -1;
        } else {
            return scan_fail(sc, "unexpected character");
        }
        /* A value ended: close containers until one wants another member. */
        for (;;) {
            skip_ws(sc);
            if (depth == 0) {
                if (sc->i < sc->n)
                    return scan_fail(sc, "unexpected data after the value");
                return 0;
            }
            if (sc->i >= sc->n)
                return scan_fail(sc, "unexpected end of input");
            int in_object = (stack[(depth - 1) / 8] >> ((depth - 1) % 8)) & 1;
            unsigned char d = sc->s[sc->i];
            if (d == (in_object ? '}' : ']')) {
                sc->i++;
                depth--;
                continue;
            }
            if (d != ',')
                return scan_fail(sc, in_object ? "expected ',' or '}'" : "expected ',' or ']'");
            sc->i++;
            skip_ws(sc);
            if (in_object) {
                if (sc->i >= sc->n || sc->s[sc->i] != '"')
                    return scan_fail(sc, sc->i >= sc->n ? "unexpected end of input"
                                                        : "expected a string key");
                if (scan_string(sc))
                    return -1;
                skip_ws(sc);
                if (sc->i >= sc->n || sc->s[sc->i] != ':')
                    return scan_fail(sc, "expected ':'");
                sc->i++;
                skip_ws(sc);
            }
            break; /* expecting the next value */
        }
    }
}

int osr_json_parse(const char *s, size_t n, struct json_object **out, struct osr_diag *diag)
{
    *out = NULL;
    if (n > (size_t)INT32_MAX - 1)
        return osr_diag_set(diag, OSR_ETOOBIG, "JSON body is too large");
    struct scan sc = {(const unsigned char *)s, n, 0, NULL};
    if (scan_document(&sc) != 0)
        return osr_diag_set(diag, OSR_EINVAL, "invalid JSON at byte %zu: %s", sc.i, sc.why);

    /* The depth json-c counts differs from ours by one; ours has already been enforced. */
    struct json_tokener *tok = json_tokener_new_ex(OSR_JSON_MAX_DEPTH + 1);
    if (!tok)
        return OSR_ENOMEM;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    struct json_object *obj = json_tokener_parse_ex(tok, s, (int)n);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    if (!obj && jerr == json_tokener_continue) {
        /* A bare number or literal at the very end: json-c waits for a terminator, which a
         * NUL gives it (it counts as the end of input, not as data). */
        obj = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
    }
    int rc = OSR_OK;
    if (jerr != json_tokener_success)
        rc = osr_diag_set(diag, OSR_EINVAL, "invalid JSON at byte %zu: %s",
                          json_tokener_get_parse_end(tok), json_tokener_error_desc(jerr));
    json_tokener_free(tok);
    if (rc) {
        json_object_put(obj);
        return rc;
    }
    *out = obj; /* NULL for the document `null` */
    return OSR_OK;
}

/* Looks key up in obj.  Returns OSR_OK with *val NULL for absent-or-null optional keys. */
static int lookup(struct json_object *obj, const char *key, bool required, struct json_object **val,
                  struct osr_diag *diag)
{
    *val = NULL;
    if (!obj || !json_object_is_type(obj, json_type_object)) {
        osr_diag_set_param(diag, key);
        return osr_diag_set(diag, OSR_EINVAL, "request body must be a JSON object");
    }
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(obj, key, &v) || v == NULL) {
        if (required) {
            osr_diag_set_param(diag, key);
            return osr_diag_set(diag, OSR_EINVAL, "missing required parameter: '%s'", key);
        }
        return OSR_OK;
    }
    *val = v;
    return OSR_OK;
}

static int wrong_type(struct osr_diag *diag, const char *key, const char *what)
{
    osr_diag_set_param(diag, key);
    return osr_diag_set(diag, OSR_EINVAL, "'%s' must be %s", key, what);
}

int osr_json_get_string(struct json_object *obj, const char *key, bool required, const char **out,
                        struct osr_diag *diag)
{
    struct json_object *v;
    int rc = lookup(obj, key, required, &v, diag);
    if (rc || !v)
        return rc;
    if (!json_object_is_type(v, json_type_string))
        return wrong_type(diag, key, "a string");
    *out = json_object_get_string(v);
    return OSR_OK;
}

static int out_of_range(struct osr_diag *diag, const char *key, int64_t min, int64_t max)
{
    osr_diag_set_param(diag, key);
    return osr_diag_set(diag, OSR_EINVAL, "'%s' must be between %lld and %lld", key, (long long)min,
                        (long long)max);
}

int osr_json_get_int(struct json_object *obj, const char *key, bool required, int64_t min,
                     int64_t max, int64_t *out, struct osr_diag *diag)
{
    struct json_object *v;
    int rc = lookup(obj, key, required, &v, diag);
    if (rc || !v)
        return rc;
    int64_t x;
    if (json_object_is_type(v, json_type_int)) {
        x = json_object_get_int64(v);
        /* json-c keeps values above INT64_MAX as uint64 and clamps them here. */
        if (x == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX)
            return out_of_range(diag, key, min, max);
    } else if (json_object_is_type(v, json_type_double)) {
        /* 3.0 is an integer to a JSON client; 3.5 is not. */
        double d = json_object_get_double(v);
        if (!isfinite(d) || d != floor(d))
            return wrong_type(diag, key, "an integer");
        if (d < -9223372036854775808.0 || d >= 9223372036854775808.0)
            return out_of_range(diag, key, min, max);
        x = (int64_t)d;
    } else {
        return wrong_type(diag, key, "an integer");
    }
    if (x < min || x > max)
        return out_of_range(diag, key, min, max);
    *out = x;
    return OSR_OK;
}

int osr_json_get_double(struct json_object *obj, const char *key, bool required, double min,
                        double max, double *out, struct osr_diag *diag)
{
    struct json_object *v;
    int rc = lookup(obj, key, required, &v, diag);
    if (rc || !v)
        return rc;
    if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
        return wrong_type(diag, key, "a number");
    double d = json_object_get_double(v);
    if (!isfinite(d))
        return wrong_type(diag, key, "a finite number");
    if (d < min || d > max) {
        osr_diag_set_param(diag, key);
        return osr_diag_set(diag, OSR_EINVAL, "'%s' must be between %g and %g", key, min, max);
    }
    *out = d;
    return OSR_OK;
}

int osr_json_get_bool(struct json_object *obj, const char *key, bool required, bool *out,
                      struct osr_diag *diag)
{
    struct json_object *v;
    int rc = lookup(obj, key, required, &v, diag);
    if (rc || !v)
        return rc;
    if (!json_object_is_type(v, json_type_boolean))
        return wrong_type(diag, key, "a boolean");
    *out = json_object_get_boolean(v);
    return OSR_OK;
}

int osr_json_get_object(struct json_object *obj, const char *key, bool required,
                        struct json_object **out, struct osr_diag *diag)
{
    struct json_object *v;
    int rc = lookup(obj, key, required, &v, diag);
    if (rc || !v)
        return rc;
    if (!json_object_is_type(v, json_type_object))
        return wrong_type(diag, key, "an object");
    *out = v;
    return OSR_OK;
}

int osr_json_get_array(struct json_object *obj, const char *key, bool required,
                       struct json_object **out, struct osr_diag *diag)
{
    struct json_object *v;
    int rc = lookup(obj, key, required, &v, diag);
    if (rc || !v)
        return rc;
    if (!json_object_is_type(v, json_type_array))
        return wrong_type(diag, key, "an array");
    *out = v;
    return OSR_OK;
}

/* Returns the length of the valid UTF-8 sequence at s (at most n bytes), or 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

int osr_json_append_string(struct osr_buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t start = out->len; /* on failure the buffer goes back to this length */
    int rc = osr_buf_putc(out, '"');
    size_t run = 0; /* bytes at p[i - run .. i) that need no escaping */
    for (size_t i = 0; i < n && !rc;) {
        unsigned char c = p[i];
        const char *esc = NULL;
        char ubuf[7];
        size_t seq = 1;
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c < 0x20) {
            ubuf[0] = '\\';
            ubuf[1] = 'u';
            ubuf[2] = '0';
            ubuf[3] = '0';
            ubuf[4] = hex[c >> 4];
            ubuf[5] = hex[c & 15];
            ubuf[6] = '\0';
            esc = ubuf;
        } else if (c >= 0x80) {
            seq = utf8_seq_len(p + i, n - i);
            if (seq == 0) {
                esc = "\xef\xbf\xbd"; /* U+FFFD for a byte that starts no valid sequence */
                seq = 1;
            }
        }
        if (esc) {
            if (run)
                rc = osr_buf_append(out, p + i - run, run);
            run = 0;
            if (!rc)
                rc = osr_buf_puts(out, esc);
        } else {
            run += seq;
        }
        i += seq;
    }
    if (!rc && run)
        rc = osr_buf_append(out, p + n - run, run);
    if (!rc)
        rc = osr_buf_putc(out, '"');
    if (rc && out->data) {
        out->len = start;
        out->data[start] = '\0';
    }
    return rc;
}

int osr_json_append(struct osr_buf *out, struct json_object *obj)
{
    size_t len;
    const char *s = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (!s)
        return OSR_ENOMEM;
    /* json-c copies string bytes as they are.  A tree built from model output (a token that
     * ends inside a multi-byte character) can hold invalid UTF-8, which would make the whole
     * frame invalid JSON.  Such bytes can only sit inside string literals, so each one is
     * replaced by U+FFFD, as osr_json_append_string does. */
    const unsigned char *p = (const unsigned char *)s;
    size_t start = out->len, run = 0, i = 0;
    int rc = OSR_OK;
    while (i < len && !rc) {
        size_t seq = p[i] < 0x80 ? 1 : utf8_seq_len(p + i, len - i);
        if (seq) {
            run += seq;
            i += seq;
            continue;
        }
        rc = osr_buf_append(out, p + i - run, run);
        if (!rc)
            rc = osr_buf_append(out, "\xef\xbf\xbd", 3);
        run = 0;
        i++;
    }
    if (!rc && run)
        rc = osr_buf_append(out, p + len - run, run);
    if (rc && out->data) {
        out->len = start;
        out->data[start] = '\0';
    }
    return rc;
}

struct json_object *osr_json_new_string(const char *s, size_t n)
{
    return json_object_new_string_len(s, (int)(n > INT32_MAX ? INT32_MAX : n));
}
