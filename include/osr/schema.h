/* schema.h - a JSON Schema validator for tool arguments.
 *
 * Covers the subset tool schemas use: type (one name or a list; "integer" accepts integral
 * numbers, "number" any number), enum, const, properties, required, additionalProperties
 * (false or a schema), items (one schema), minimum, maximum, exclusiveMinimum,
 * exclusiveMaximum (numbers), minLength / maxLength (in code points), minItems / maxItems.
 * Unknown keywords are ignored, as JSON Schema says.  The first violation is reported with
 * the path of the offending value ("options.tags[2]"; "" is the arguments object itself),
 * a message, and what was expected.
 *
 * Thread rules: reentrant; the schema and the instance are only read, so one schema tree may
 * validate on several threads at once.
 */
#ifndef OSR_SCHEMA_H
#define OSR_SCHEMA_H

#include <stdbool.h>

#include <json-c/json.h>

#include "osr/err.h"

/* Nesting beyond this (in the schema or the instance) is an error, not a recursion. */
#define OSR_SCHEMA_MAX_DEPTH 32

struct osr_schema_error {
    char path[128];     /* where: "a.b[2]"; empty for the root */
    char message[256];  /* human words: "'a.b[2]' must be an integer" */
    char expected[128]; /* what would have been valid: "integer", "one of: a, b" */
};

/* Validates instance (NULL means JSON null) against schema (NULL or {} accept anything).
 * Returns OSR_OK, or OSR_EINVAL with err (when non-NULL) filled.  A schema that is itself
 * malformed (a keyword of the wrong type) is reported as OSR_ECONFIG. */
int osr_schema_validate(struct json_object *schema, struct json_object *instance,
                        struct osr_schema_error *err);

/* True when a and b are the same JSON value (numbers compared by value, 1 == 1.0). */
bool osr_schema_json_equal(struct json_object *a, struct json_object *b);

#endif
