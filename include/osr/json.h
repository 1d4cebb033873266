/* json.h - JSON helpers over json-c.
 *
 * Untrusted JSON is parsed in json-c's strict mode with UTF-8 validation, a nesting cap and a
 * check that nothing but whitespace follows the value.  Typed getters turn a wrong or missing
 * field into a message a protocol can send back as it is ("'temperature' must be a number"),
 * with the field's name in diag->param.
 *
 * Getter contract: on OSR_OK, *out is set when the key is present and non-null, and left as
 * the caller initialized it (the default) when the key is absent or null and not required.
 * Objects returned by getters are borrowed from the parent.
 *
 * Thread rules: a json_object tree belongs to one thread; the functions are reentrant.
 */
#ifndef OSR_JSON_H
#define OSR_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "osr/buf.h"
#include "osr/err.h"

#define OSR_JSON_MAX_DEPTH 64

/* Parses the n bytes at s (need not be NUL-terminated) as exactly one RFC 8259 value with
 * optional surrounding whitespace.  Rejected with OSR_EINVAL and a message naming the byte
 * offset: comments, single quotes, trailing commas, NaN/Infinity, raw control characters in
 * strings, invalid UTF-8, integers outside int64/uint64, nesting deeper than
 * OSR_JSON_MAX_DEPTH and anything after the value.  Returns OSR_OK and *out, which the caller
 * releases with json_object_put; *out is NULL for the document `null`.  Duplicate keys: the
 * last one wins. */
int osr_json_parse(const char *s, size_t n, struct json_object **out, struct osr_diag *diag);

int osr_json_get_string(struct json_object *obj, const char *key, bool required, const char **out,
                        struct osr_diag *diag);
int osr_json_get_int(struct json_object *obj, const char *key, bool required, int64_t min,
                     int64_t max, int64_t *out, struct osr_diag *diag);
/* Accepts integers and reals; rejects NaN and infinities. */
int osr_json_get_double(struct json_object *obj, const char *key, bool required, double min,
                        double max, double *out, struct osr_diag *diag);
int osr_json_get_bool(struct json_object *obj, const char *key, bool required, bool *out,
                      struct osr_diag *diag);
int osr_json_get_object(struct json_object *obj, const char *key, bool required,
                        struct json_object **out, struct osr_diag *diag);
int osr_json_get_array(struct json_object *obj, const char *key, bool required,
                       struct json_object **out, struct osr_diag *diag);

/* Appends s (n bytes, UTF-8) to out as a quoted JSON string.  Control characters are
 * escaped; invalid UTF-8 is replaced by U+FFFD so the output is always valid JSON.  On
 * failure (OSR_ETOOBIG at the buffer's cap) out is left as it was. */
int osr_json_append_string(struct osr_buf *out, const char *s, size_t n);

/* Appends the compact serialization of obj (no slash escaping) to out.  Invalid UTF-8 in the
 * tree's strings (from osr_json_new_string on raw bytes) is replaced by U+FFFD.  Trees must
 * not hold non-finite doubles (json-c would write NaN).  On failure out is left as it was. */
int osr_json_append(struct osr_buf *out, struct json_object *obj);

/* Returns a new json string object for the n bytes at s (which may hold NULs). */
struct json_object *osr_json_new_string(const char *s, size_t n);

#endif
