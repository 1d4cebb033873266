/* schema.c - the JSON Schema subset tool arguments are checked against.
 *
 * A recursive walk over (schema, value) pairs that stops at the first violation and reports
 * its path.  It does not resolve $ref, does not evaluate allOf/anyOf/oneOf/not, patterns or
 * formats: tool schemas do not need them, and unknown keywords are ignored by the standard.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "osr/buf.h"
#include "osr/schema.h"

struct walk {
    struct osr_schema_error *err;
};

static int fail(struct walk *w, int rc, const char *path, const char *expected, const char *fmt,
                ...) __attribute__((format(printf, 5, 6)));

static int fail(struct walk *w, int rc, const char *path, const char *expected, const char *fmt,
                ...)
{
    if (!w->err)
        return rc;
    snprintf(w->err->path, sizeof(w->err->path), "%s", path);
    snprintf(w->err->expected, sizeof(w->err->expected), "%s", expected ? expected : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err->message, sizeof(w->err->message), fmt, ap);
    va_end(ap);
    return rc;
}

/* How a value is named in messages: its path, or "arguments" for the root. */
static const char *label(const char *path)
{
    return path[0] ? path : "arguments";
}

static bool is_number(struct json_object *v)
{
    enum json_type t = json_object_get_type(v);
    return t == json_type_int || t == json_type_double;
}

static bool is_integral(struct json_object *v)
{
    if (json_object_get_type(v) == json_type_int)
        return true;
    if (json_object_get_type(v) != json_type_double)
        return false;
    double d = json_object_get_double(v);
    return isfinite(d) && floor(d) == d;
}

static bool type_matches(const char *type, struct json_object *v)
{
    enum json_type t = v ? json_object_get_type(v) : json_type_null;
    if (strcmp(type, "object") == 0)
        return t == json_type_object;
    if (strcmp(type, "array") == 0)
        return t == json_type_array;
    if (strcmp(type, "string") == 0)
        return t == json_type_string;
    if (strcmp(type, "boolean") == 0)
        return t == json_type_boolean;
    if (strcmp(type, "null") == 0)
        return t == json_type_null;
    if (strcmp(type, "number") == 0)
        return v && is_number(v);
    if (strcmp(type, "integer") == 0)
        return v && is_integral(v);
    return false;
}

static bool known_type(const char *type)
{
    static const char *const names[] = {"object", "array",  "string", "boolean",
                                        "null",   "number", "integer"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(type, names[i]) == 0)
            return true;
    return false;
}

bool osr_schema_json_equal(struct json_object *a, struct json_object *b)
{
    enum json_type ta = a ? json_object_get_type(a) : json_type_null;
    enum json_type tb = b ? json_object_get_type(b) : json_type_null;
    if (a && b && is_number(a) && is_number(b)) {
        if (ta == json_type_int && tb == json_type_int)
            return json_object_get_int64(a) == json_object_get_int64(b) &&
                   (json_object_get_int64(a) >= 0 ||
                    json_object_get_uint64(a) == json_object_get_uint64(b));
        return json_object_get_double(a) == json_object_get_double(b);
    }
    if (ta != tb)
        return false;
    switch (ta) {
    case json_type_null:
        return true;
    case json_type_boolean:
        return json_object_get_boolean(a) == json_object_get_boolean(b);
    case json_type_string:
        return json_object_get_string_len(a) == json_object_get_string_len(b) &&
               memcmp(json_object_get_string(a), json_object_get_string(b),
                      (size_t)json_object_get_string_len(a)) == 0;
    case json_type_array: {
        size_t n = json_object_array_length(a);
        if (n != json_object_array_length(b))
            return false;
        for (size_t i = 0; i < n; i++)
            if (!osr_schema_json_equal(json_object_array_get_idx(a, i),
                                       json_object_array_get_idx(b, i)))
                return false;
        return true;
    }
    case json_type_object: {
        if (json_object_object_length(a) != json_object_object_length(b))
            return false;
        json_object_object_foreach(a, key, va)
        {
            struct json_object *vb = NULL;
            if (!json_object_object_get_ex(b, key, &vb))
                return false;
            if (!osr_schema_json_equal(va, vb))
                return false;
        }
        return true;
    }
    default:
        return false;
    }
}

/* The number of code points in a UTF-8 string (json-c has validated the encoding). */
static size_t utf8_len(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            count++;
    return count;
}

/* Appends ".key" or "[i]" to path into out. */
static void child_path(char *out, size_t cap, const char *path, const char *key, long idx)
{
    if (key)
        snprintf(out, cap, "%s%s%s", path, path[0] ? "." : "", key);
    else
        snprintf(out, cap, "%s[%ld]", path, idx);
}

/* Reads a non-negative integer keyword; -1 when absent. */
static int count_keyword(struct walk *w, struct json_object *schema, const char *kw,
                         const char *path, long long *out)
{
    struct json_object *v = NULL;
    *out = -1;
    if (!json_object_object_get_ex(schema, kw, &v))
        return OSR_OK;
    if (!is_integral(v) || json_object_get_double(v) < 0)
        return fail(w, OSR_ECONFIG, path, NULL,
                    "schema keyword '%s' must be a non-negative integer", kw);
    *out = (long long)json_object_get_double(v);
    return OSR_OK;
}

static int check_type(struct walk *w, struct json_object *schema, struct json_object *v,
                      const char *path)
{
    struct json_object *type = NULL;
    if (!json_object_object_get_ex(schema, "type", &type))
        return OSR_OK;
    char expected[128] = "";
    if (json_object_is_type(type, json_type_string)) {
        const char *name = json_object_get_string(type);
        if (!known_type(name))
            return fail(w, OSR_ECONFIG, path, NULL, "schema names an unknown type '%s'", name);
        if (type_matches(name, v))
            return OSR_OK;
        snprintf(expected, sizeof(expected), "%s", name);
    } else if (json_object_is_type(type, json_type_array)) {
        struct osr_buf b;
        osr_buf_init(&b, sizeof(expected) - 1);
        size_t n = json_object_array_length(type);
        for (size_t i = 0; i < n; i++) {
            struct json_object *t = json_object_array_get_idx(type, i);
            if (!json_object_is_type(t, json_type_string) ||
                !known_type(json_object_get_string(t))) {
                osr_buf_release(&b);
                return fail(w, OSR_ECONFIG, path, NULL, "schema 'type' list holds an unknown type");
            }
            if (type_matches(json_object_get_string(t), v)) {
                osr_buf_release(&b);
                return OSR_OK;
            }
            osr_buf_appendf(&b, "%s%s", i ? " or " : "", json_object_get_string(t));
        }
        snprintf(expected, sizeof(expected), "%s", osr_buf_str(&b));
        osr_buf_release(&b);
    } else {
        return fail(w, OSR_ECONFIG, path, NULL, "schema 'type' must be a string or a list");
    }
    const char *article = strchr("aeiou", expected[0]) && expected[0] ? "an" : "a";
    return fail(w, OSR_EINVAL, path, expected, "'%s' must be %s %s", label(path), article,
                expected);
}

/* Writes a short text form of a scalar into out without touching the tree (json-c caches
 * serializations inside the object, which would be a write to a shared schema). */
static void scalar_text(struct json_object *v, char *out, size_t cap)
{
    switch (v ? json_object_get_type(v) : json_type_null) {
    case json_type_null:
        snprintf(out, cap, "null");
        break;
    case json_type_boolean:
        snprintf(out, cap, "%s", json_object_get_boolean(v) ? "true" : "false");
        break;
    case json_type_int:
        snprintf(out, cap, "%lld", (long long)json_object_get_int64(v));
        break;
    case json_type_double:
        snprintf(out, cap, "%.17g", json_object_get_double(v));
        break;
    case json_type_string:
        snprintf(out, cap, "%s", json_object_get_string(v));
        break;
    case json_type_array:
        snprintf(out, cap, "a list");
        break;
    default:
        snprintf(out, cap, "an object");
        break;
    }
}

static int check_enum_const(struct walk *w, struct json_object *schema, struct json_object *v,
                            const char *path)
{
    struct json_object *c = NULL;
    if (json_object_object_get_ex(schema, "const", &c) && !osr_schema_json_equal(c, v)) {
        char expected[128];
        scalar_text(c, expected, sizeof(expected));
        return fail(w, OSR_EINVAL, path, expected, "'%s' must be %s", label(path), expected);
    }
    struct json_object *e = NULL;
    if (!json_object_object_get_ex(schema, "enum", &e))
        return OSR_OK;
    if (!json_object_is_type(e, json_type_array))
        return fail(w, OSR_ECONFIG, path, NULL, "schema 'enum' must be a list");
    size_t n = json_object_array_length(e);
    for (size_t i = 0; i < n; i++)
        if (osr_schema_json_equal(json_object_array_get_idx(e, i), v))
            return OSR_OK;
    struct osr_buf b;
    osr_buf_init(&b, 120);
    osr_buf_puts(&b, "one of: ");
    for (size_t i = 0; i < n; i++) {
        char s[64];
        scalar_text(json_object_array_get_idx(e, i), s, sizeof(s));
        if (osr_buf_appendf(&b, "%s%s", i ? ", " : "", s) != OSR_OK)
            break;
    }
    char expected[128];
    snprintf(expected, sizeof(expected), "%s", osr_buf_str(&b));
    osr_buf_release(&b);
    return fail(w, OSR_EINVAL, path, expected, "'%s' must be %s", label(path), expected);
}

static int number_keyword(struct walk *w, struct json_object *schema, const char *kw,
                          const char *path, bool *present, double *out)
{
    struct json_object *v = NULL;
    *present = false;
    if (!json_object_object_get_ex(schema, kw, &v))
        return OSR_OK;
    if (json_object_is_type(v, json_type_boolean))
        return OSR_OK; /* draft-4 boolean exclusiveMinimum: treated as absent */
    if (!v || !is_number(v))
        return fail(w, OSR_ECONFIG, path, NULL, "schema keyword '%s' must be a number", kw);
    *present = true;
    *out = json_object_get_double(v);
    return OSR_OK;
}

static int check_number(struct walk *w, struct json_object *schema, struct json_object *v,
                        const char *path)
{
    if (!v || !is_number(v))
        return OSR_OK;
    double x = json_object_get_double(v);
    static const struct {
        const char *kw;
        int cmp; /* the value must be: 1 >= limit, 2 <= limit, 3 > limit, 4 < limit */
        const char *words;
    } rules[] = {{"minimum", 1, "at least"},
                 {"maximum", 2, "at most"},
                 {"exclusiveMinimum", 3, "greater than"},
                 {"exclusiveMaximum", 4, "less than"}};
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        bool present = false;
        double lim = 0;
        int rc = number_keyword(w, schema, rules[i].kw, path, &present, &lim);
        if (rc)
            return rc;
        if (!present)
            continue;
        bool ok = rules[i].cmp == 1   ? x >= lim
                  : rules[i].cmp == 2 ? x <= lim
                  : rules[i].cmp == 3 ? x > lim
                                      : x < lim;
        if (!ok) {
            char expected[128];
            snprintf(expected, sizeof(expected), "%s %.17g", rules[i].words, lim);
            return fail(w, OSR_EINVAL, path, expected, "'%s' must be %s", label(path), expected);
        }
    }
    return OSR_OK;
}

static int check_string(struct walk *w, struct json_object *schema, struct json_object *v,
                        const char *path)
{
    if (!v || !json_object_is_type(v, json_type_string))
        return OSR_OK;
    long long min = -1, max = -1;
    int rc = count_keyword(w, schema, "minLength", path, &min);
    if (!rc)
        rc = count_keyword(w, schema, "maxLength", path, &max);
    if (rc)
        return rc;
    size_t n = utf8_len(json_object_get_string(v), (size_t)json_object_get_string_len(v));
    char expected[128];
    if (min >= 0 && (long long)n < min) {
        snprintf(expected, sizeof(expected), "at least %lld characters", min);
        return fail(w, OSR_EINVAL, path, expected, "'%s' must be %s", label(path), expected);
    }
    if (max >= 0 && (long long)n > max) {
        snprintf(expected, sizeof(expected), "at most %lld characters", max);
        return fail(w, OSR_EINVAL, path, expected, "'%s' must be %s", label(path), expected);
    }
    return OSR_OK;
}

static int walk_value(struct walk *w, struct json_object *schema, struct json_object *v,
                      const char *path, int depth);

static int check_array(struct walk *w, struct json_object *schema, struct json_object *v,
                       const char *path, int depth)
{
    if (!v || !json_object_is_type(v, json_type_array))
        return OSR_OK;
    long long min = -1, max = -1;
    int rc = count_keyword(w, schema, "minItems", path, &min);
    if (!rc)
        rc = count_keyword(w, schema, "maxItems", path, &max);
    if (rc)
        return rc;
    size_t n = json_object_array_length(v);
    char expected[128];
    if (min >= 0 && (long long)n < min) {
        snprintf(expected, sizeof(expected), "at least %lld items", min);
        return fail(w, OSR_EINVAL, path, expected, "'%s' must have %s", label(path), expected);
    }
    if (max >= 0 && (long long)n > max) {
        snprintf(expected, sizeof(expected), "at most %lld items", max);
        return fail(w, OSR_EINVAL, path, expected, "'%s' must have %s", label(path), expected);
    }
    struct json_object *items = NULL;
    if (!json_object_object_get_ex(schema, "items", &items))
        return OSR_OK;
    for (size_t i = 0; i < n; i++) {
        char sub[128];
        child_path(sub, sizeof(sub), path, NULL, (long)i);
        rc = walk_value(w, items, json_object_array_get_idx(v, i), sub, depth + 1);
        if (rc)
            return rc;
    }
    return OSR_OK;
}

static int check_object(struct walk *w, struct json_object *schema, struct json_object *v,
                        const char *path, int depth)
{
    if (!v || !json_object_is_type(v, json_type_object))
        return OSR_OK;
    struct json_object *props = NULL, *req = NULL, *addl = NULL;
    json_object_object_get_ex(schema, "properties", &props);
    if (props && !json_object_is_type(props, json_type_object))
        return fail(w, OSR_ECONFIG, path, NULL, "schema 'properties' must be an object");
    char sub[128];
    if (json_object_object_get_ex(schema, "required", &req)) {
        if (!json_object_is_type(req, json_type_array))
            return fail(w, OSR_ECONFIG, path, NULL, "schema 'required' must be a list");
        size_t n = json_object_array_length(req);
        for (size_t i = 0; i < n; i++) {
            struct json_object *name = json_object_array_get_idx(req, i);
            if (!json_object_is_type(name, json_type_string))
                return fail(w, OSR_ECONFIG, path, NULL, "schema 'required' must list strings");
            if (!json_object_object_get_ex(v, json_object_get_string(name), NULL)) {
                child_path(sub, sizeof(sub), path, json_object_get_string(name), 0);
                const char *expected = "present";
                struct json_object *ps = NULL, *t = NULL;
                if (props && json_object_object_get_ex(props, json_object_get_string(name), &ps) &&
                    ps && json_object_object_get_ex(ps, "type", &t) &&
                    json_object_is_type(t, json_type_string))
                    expected = json_object_get_string(t);
                return fail(w, OSR_EINVAL, sub, expected, "'%s' is required", sub);
            }
        }
    }
    bool have_addl = json_object_object_get_ex(schema, "additionalProperties", &addl);
    json_object_object_foreach(v, key, val)
    {
        child_path(sub, sizeof(sub), path, key, 0);
        struct json_object *ps = NULL;
        int rc = OSR_OK;
        if (props && json_object_object_get_ex(props, key, &ps)) {
            rc = walk_value(w, ps, val, sub, depth + 1);
        } else if (have_addl) {
            if (json_object_is_type(addl, json_type_boolean)) {
                if (!json_object_get_boolean(addl))
                    rc = fail(w, OSR_EINVAL, sub, "no such property",
                              "'%s' is not an accepted property", sub);
            } else {
                rc = walk_value(w, addl, val, sub, depth + 1);
            }
        }
        if (rc)
            return rc;
    }
    return OSR_OK;
}

static int walk_value(struct walk *w, struct json_object *schema, struct json_object *v,
                      const char *path, int depth)
{
    if (depth > OSR_SCHEMA_MAX_DEPTH)
        return fail(w, OSR_EINVAL, path, NULL, "'%s' is nested too deeply (limit %d)", label(path),
                    OSR_SCHEMA_MAX_DEPTH);
    if (!schema)
        return OSR_OK;
    if (json_object_is_type(schema, json_type_boolean)) {
        if (json_object_get_boolean(schema))
            return OSR_OK;
        return fail(w, OSR_EINVAL, path, "nothing", "'%s' is not allowed", label(path));
    }
    if (!json_object_is_type(schema, json_type_object))
        return fail(w, OSR_ECONFIG, path, NULL, "a schema must be an object or a boolean");
    int rc = check_type(w, schema, v, path);
    if (!rc)
        rc = check_enum_const(w, schema, v, path);
    if (!rc)
        rc = check_number(w, schema, v, path);
    if (!rc)
        rc = check_string(w, schema, v, path);
    if (!rc)
        rc = check_array(w, schema, v, path, depth);
    if (!rc)
        rc = check_object(w, schema, v, path, depth);
    return rc;
}

int osr_schema_validate(struct json_object *schema, struct json_object *instance,
                        struct osr_schema_error *err)
{
    struct walk w = {.err = err};
    if (err)
        memset(err, 0, sizeof(*err));
    return walk_value(&w, schema, instance, "", 0);
}
