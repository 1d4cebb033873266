/* json.c - strict parsing, typed getters and string escaping over json-c.
 *
 * json-c's strict mode rejects comments, single quotes, trailing commas and bare words; the
 * UTF-8 flag rejects invalid sequences; a custom depth stops deep-nesting attacks.  json-c
 * would stop at the end of the first value, so we check that only whitespace follows.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "osr/json.h"

int osr_json_parse(const char *s, size_t n, struct json_object **out, struct osr_diag *diag)
{
    *out = NULL;
    if (n > (size_t)INT32_MAX)
        return osr_diag_set(diag, OSR_ETOOBIG, "JSON body is too large");
    struct json_tokener *tok = json_tokener_new_ex(OSR_JSON_MAX_DEPTH);
    if (!tok)
        return OSR_ENOMEM;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    struct json_object *obj = json_tokener_parse_ex(tok, s, (int)n);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    int rc = OSR_OK;
    if (!obj && jerr == json_tokener_continue) {
        rc = osr_diag_set(diag, OSR_EINVAL, "invalid JSON: unexpected end of input");
    } else if (jerr != json_tokener_success) {
        rc = osr_diag_set(diag, OSR_EINVAL, "invalid JSON at byte %zu: %s", used,
                          json_tokener_error_desc(jerr));
    } else {
        for (size_t i = used; i < n; i++) {
            char c = s[i];
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                rc = osr_diag_set(diag, OSR_EINVAL,
                                  "invalid JSON at byte %zu: unexpected data after the value", i);
                break;
            }
        }
    }
    json_tokener_free(tok);
    if (rc) {
        json_object_put(obj);
        return rc;
    }
    *out = obj;
    return OSR_OK;
}

/* Looks key up in obj.  Returns OSR_OK with *val NULL for absent-or-null optional keys. */
static int lookup(struct json_object *obj, const char *key, bool required,
                  struct json_object **val, struct osr_diag *diag)
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

int osr_json_get_string(struct json_object *obj, const char *key, bool required,
                        const char **out, struct osr_diag *diag)
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
    } else if (json_object_is_type(v, json_type_double)) {
        /* 3.0 is an integer to a JSON client; 3.5 is not. */
        double d = json_object_get_double(v);
        if (!isfinite(d) || d != floor(d) || d < -9.2e18 || d > 9.2e18)
            return wrong_type(diag, key, "an integer");
        x = (int64_t)d;
    } else {
        return wrong_type(diag, key, "an integer");
    }
    if (x < min || x > max) {
        osr_diag_set_param(diag, key);
        return osr_diag_set(diag, OSR_EINVAL, "'%s' must be between %lld and %lld", key,
                            (long long)min, (long long)max);
    }
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
    return rc;
}

int osr_json_append(struct osr_buf *out, struct json_object *obj)
{
    size_t len;
    const char *s = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (!s)
        return OSR_ENOMEM;
    return osr_buf_append(out, s, len);
}

struct json_object *osr_json_new_string(const char *s, size_t n)
{
    return json_object_new_string_len(s, (int)(n > INT32_MAX ? INT32_MAX : n));
}
