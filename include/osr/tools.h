/* tools.h - the tool registry and the Tool Contract envelope.
 *
 * A tool is {name, description, JSON Schema for its arguments, policy, source, a C function}.
 * Calling a tool through the registry always yields the original's envelope:
 *   success  {"ok":true,"tool":<name>,"result":<any JSON>,"warnings":[...]?}
 *   failure  {"ok":false,"kind":<kind>,"message":...,"field"?,"expected"?,"tool":<name>,
 *             "retryable":bool}
 * with seven kinds (invalid_args, rejected, user_denied, timeout, execution_error,
 * unavailable, tool_not_found).  Arguments are validated against the schema (schema.h) before
 * the function runs; a violation is an invalid_args envelope whose "field" is the path.
 *
 * Ownership: osr_tools_add copies the definition's strings and takes ctx (ctx_free runs when
 * the tool is removed and no call is using it).  Envelopes and lists returned are new objects
 * the caller releases with json_object_put.
 *
 * Thread rules: a registry is thread-safe: tools may be added, removed and called from any
 * thread; a call in progress keeps its tool alive even if it is removed meanwhile.  Tool
 * functions run on the caller's thread and must be reentrant.
 */
#ifndef OSR_TOOLS_H
#define OSR_TOOLS_H

#include <stdbool.h>

#include <json-c/json.h>

#include "osr/err.h"

enum osr_tool_policy { OSR_TOOL_POLICY_AUTO, OSR_TOOL_POLICY_ASK, OSR_TOOL_POLICY_DENY };

enum osr_tool_source {
    OSR_TOOL_SOURCE_BUILTIN,
    OSR_TOOL_SOURCE_FOLDER,
    OSR_TOOL_SOURCE_MCP,
    OSR_TOOL_SOURCE_PLUGIN,
    OSR_TOOL_SOURCE_SANDBOX,
};

enum osr_tool_error_kind {
    OSR_TOOL_INVALID_ARGS,
    OSR_TOOL_REJECTED,
    OSR_TOOL_USER_DENIED,
    OSR_TOOL_TIMEOUT,
    OSR_TOOL_EXECUTION_ERROR,
    OSR_TOOL_UNAVAILABLE,
    OSR_TOOL_NOT_FOUND,
};

#define OSR_TOOL_NAME_MAX 64
#define OSR_TOOL_DESCRIPTION_MAX 4096
#define OSR_TOOL_SCHEMA_MAX (64 * 1024)
#define OSR_TOOLS_MAX 1024

/* What a tool function produces: either a result (and optional warnings) or a failure. */
struct osr_tool_out {
    struct json_object *result;   /* owned; set on success (NULL means JSON null) */
    struct json_object *warnings; /* owned array of strings, or NULL */
    bool failed;
    enum osr_tool_error_kind kind;
    char message[512];
    char field[128];
    char expected[128];
};

/* Records a failure in out.  field and expected may be NULL. */
void osr_tool_out_fail(struct osr_tool_out *out, enum osr_tool_error_kind kind, const char *field,
                       const char *expected, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Adds a warning string to out. */
void osr_tool_out_warn(struct osr_tool_out *out, const char *warning);

/* args: the validated arguments object (borrowed; never NULL); out starts zeroed. */
typedef void (*osr_tool_fn)(void *ctx, struct json_object *args, struct osr_tool_out *out);

struct osr_tool_def {
    const char *name;         /* [A-Za-z0-9_-]{1,64} */
    const char *description;  /* may be NULL */
    const char *input_schema; /* JSON text of an object schema with "type":"object"; NULL: {} */
    enum osr_tool_policy policy;
    enum osr_tool_source source;
    osr_tool_fn fn;
    void *ctx;
    void (*ctx_free)(void *ctx);
};

/* Asked for a tool whose policy is "ask"; returns true to allow the call. */
typedef bool (*osr_tool_approve_fn)(void *ctx, const char *tool, struct json_object *args);

struct osr_tool_call_opts {
    osr_tool_approve_fn approve; /* NULL: "ask" tools are rejected (no one to ask) */
    void *approve_ctx;
    bool (*cancelled)(void *ctx); /* true once the caller gave up; NULL: never */
    void *cancel_ctx;
};

/* For tools that take long (commands, network calls): true when the caller of the call
 * running on this thread has given up (opts->cancelled); the tool should stop and fail with
 * OSR_TOOL_TIMEOUT or OSR_TOOL_EXECUTION_ERROR saying so.  False outside a call. */
bool osr_tool_cancelled(void);

struct osr_tools;

struct osr_tools *osr_tools_new(void);
/* Frees the registry and every tool; no call may be in progress. */
void osr_tools_free(struct osr_tools *reg);

/* Adds a tool.  Returns OSR_OK, OSR_EEXIST (name taken), OSR_EINVAL (bad name or schema,
 * with diag), or OSR_ETOOBIG (registry full).  On failure ctx is NOT taken. */
int osr_tools_add(struct osr_tools *reg, const struct osr_tool_def *def, struct osr_diag *diag);
/* Removes a tool; OSR_ENOTFOUND when there is none by that name. */
int osr_tools_remove(struct osr_tools *reg, const char *name);
/* Enables or disables a tool (disabled tools are not listed and not callable). */
int osr_tools_set_enabled(struct osr_tools *reg, const char *name, bool enabled);
int osr_tools_set_policy(struct osr_tools *reg, const char *name, enum osr_tool_policy policy);
size_t osr_tools_count(struct osr_tools *reg);

/* Reads the user's overrides from <home>/config/tools.json, the original's
 * {"enabled":{tool:bool}, "policy":{tool:"auto"|"ask"|"deny"}, "grants":{...}}, applies them
 * to the tools present and keeps them for tools added later (e.g. MCP providers that connect
 * after startup).  grants are accepted and ignored (no tool declares requirements yet).  A
 * missing file is OSR_OK; a malformed one is OSR_ECONFIG with diag and changes nothing. */
int osr_tools_load_config(struct osr_tools *reg, const char *home, struct osr_diag *diag);

/* A new array of {"name","description","inputSchema"} for the enabled tools not denied by
 * policy, sorted by name.  With verbose, each entry also carries "policy" and "source". */
struct json_object *osr_tools_list(struct osr_tools *reg, bool verbose);

/* Calls a tool: unknown or disabled -> tool_not_found; deny -> rejected; ask without an
 * approver or refused -> rejected / user_denied; args NULL is {}; args not an object or not
 * valid for the schema -> invalid_args; otherwise the function's outcome.  Returns a new
 * envelope (never NULL). */
struct json_object *osr_tools_call(struct osr_tools *reg, const char *name,
                                   struct json_object *args, const struct osr_tool_call_opts *opts);

/* --- envelopes ------------------------------------------------------------------------------ */
const char *osr_tool_kind_name(enum osr_tool_error_kind kind);
/* Returns OSR_OK and *out for one of the seven names, OSR_EINVAL otherwise. */
int osr_tool_kind_parse(const char *name, enum osr_tool_error_kind *out);
bool osr_tool_kind_retryable(enum osr_tool_error_kind kind);
const char *osr_tool_policy_name(enum osr_tool_policy p);
int osr_tool_policy_parse(const char *name, enum osr_tool_policy *out);
const char *osr_tool_source_name(enum osr_tool_source s);

/* {"ok":true,"tool","result","warnings"?}; takes result and warnings (either may be NULL;
 * warnings is left out when NULL or empty).  tool may be NULL (left out). */
struct json_object *osr_tool_envelope_ok(const char *tool, struct json_object *result,
                                         struct json_object *warnings);
/* {"ok":false,"kind","message","field"?,"expected"?,"tool"?,"retryable"} with the kind's
 * default retryability; field/expected/tool NULL or "" are left out. */
struct json_object *osr_tool_envelope_error(const char *tool, enum osr_tool_error_kind kind,
                                            const char *message, const char *field,
                                            const char *expected);
/* True when env is an envelope with "ok":true. */
bool osr_tool_envelope_is_ok(struct json_object *env);

/* --- built-in tools ------------------------------------------------------------------------- */
/* Adds current_time and calculator (policy auto).  Returns OSR_OK or the first failure. */
int osr_tools_add_builtins(struct osr_tools *reg, struct osr_diag *diag);

/* The calculator's evaluator (exposed for tests and fuzzing): + - * / % ^, parentheses, unary
 * signs, decimal numbers with exponents.  Returns OSR_OK and *out, or OSR_EINVAL (syntax,
 * with the offset in diag) / OSR_EPROTO (division by zero, non-finite result) with diag. */
int osr_calc_eval(const char *expr, size_t n, double *out, struct osr_diag *diag);

#endif
