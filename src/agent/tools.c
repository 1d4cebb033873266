/* tools.c - the tool registry and the Tool Contract envelopes.
 *
 * Tools live in an array of reference-counted entries behind a read-write lock: a call takes
 * a reference under the read lock, drops the lock and runs the function, so slow tools do not
 * block adding or removing others, and a removed tool is freed when its last call returns.
 * Schemas are parsed once when a tool is added and only read afterwards (listing re-parses
 * the stored text, because serializing a json-c tree writes a cache into it).  It reads the
 * user's tools.json overrides (enabled, policy) but knows nothing about agents.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osr/alloc.h"
#include "osr/config.h"
#include "osr/json.h"
#include "osr/schema.h"
#include "osr/tools.h"

struct tool {
    char name[OSR_TOOL_NAME_MAX + 1];
    char *description;
    char *schema_text;
    struct json_object *schema; /* read-only after add */
    enum osr_tool_policy policy;
    enum osr_tool_source source;
    bool enabled;
    osr_tool_fn fn;
    void *ctx;
    void (*ctx_free)(void *);
    int refs; /* guarded by the registry's ref lock */
};

struct osr_tools {
    pthread_rwlock_t lock;
    pthread_mutex_t ref_lock;
    struct tool *items[OSR_TOOLS_MAX];
    size_t n;
    struct json_object *overrides; /* tools.json, read-only once set; guarded by lock */
};

static const char *const kind_names[] = {
    [OSR_TOOL_INVALID_ARGS] = "invalid_args",       [OSR_TOOL_REJECTED] = "rejected",
    [OSR_TOOL_USER_DENIED] = "user_denied",         [OSR_TOOL_TIMEOUT] = "timeout",
    [OSR_TOOL_EXECUTION_ERROR] = "execution_error", [OSR_TOOL_UNAVAILABLE] = "unavailable",
    [OSR_TOOL_NOT_FOUND] = "tool_not_found",
};

const char *osr_tool_kind_name(enum osr_tool_error_kind kind)
{
    if ((unsigned)kind >= sizeof(kind_names) / sizeof(kind_names[0]))
        return "execution_error";
    return kind_names[kind];
}

int osr_tool_kind_parse(const char *name, enum osr_tool_error_kind *out)
{
    for (size_t i = 0; name && i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
        if (strcmp(name, kind_names[i]) == 0) {
            *out = (enum osr_tool_error_kind)i;
            return OSR_OK;
        }
    return OSR_EINVAL;
}

bool osr_tool_kind_retryable(enum osr_tool_error_kind kind)
{
    switch (kind) {
    case OSR_TOOL_INVALID_ARGS:
    case OSR_TOOL_TIMEOUT:
    case OSR_TOOL_EXECUTION_ERROR:
    case OSR_TOOL_UNAVAILABLE:
        return true;
    default:
        return false;
    }
}

const char *osr_tool_policy_name(enum osr_tool_policy p)
{
    return p == OSR_TOOL_POLICY_AUTO ? "auto" : p == OSR_TOOL_POLICY_DENY ? "deny" : "ask";
}

int osr_tool_policy_parse(const char *name, enum osr_tool_policy *out)
{
    if (!name)
        return OSR_EINVAL;
    if (strcmp(name, "auto") == 0)
        *out = OSR_TOOL_POLICY_AUTO;
    else if (strcmp(name, "ask") == 0)
        *out = OSR_TOOL_POLICY_ASK;
    else if (strcmp(name, "deny") == 0)
        *out = OSR_TOOL_POLICY_DENY;
    else
        return OSR_EINVAL;
    return OSR_OK;
}

const char *osr_tool_source_name(enum osr_tool_source s)
{
    switch (s) {
    case OSR_TOOL_SOURCE_BUILTIN:
        return "builtin";
    case OSR_TOOL_SOURCE_FOLDER:
        return "folder";
    case OSR_TOOL_SOURCE_MCP:
        return "mcp";
    case OSR_TOOL_SOURCE_PLUGIN:
        return "plugin";
    case OSR_TOOL_SOURCE_SANDBOX:
        return "sandbox";
    }
    return "builtin";
}

/* --- envelopes ------------------------------------------------------------------------------ */

struct json_object *osr_tool_envelope_ok(const char *tool, struct json_object *result,
                                         struct json_object *warnings)
{
    struct json_object *env = json_object_new_object();
    json_object_object_add(env, "ok", json_object_new_boolean(1));
    if (tool && tool[0])
        json_object_object_add(env, "tool", json_object_new_string(tool));
    json_object_object_add(env, "result", result);
    if (warnings && json_object_is_type(warnings, json_type_array) &&
        json_object_array_length(warnings) > 0)
        json_object_object_add(env, "warnings", warnings);
    else
        json_object_put(warnings);
    return env;
}

struct json_object *osr_tool_envelope_error(const char *tool, enum osr_tool_error_kind kind,
                                            const char *message, const char *field,
                                            const char *expected)
{
    struct json_object *env = json_object_new_object();
    json_object_object_add(env, "ok", json_object_new_boolean(0));
    json_object_object_add(env, "kind", json_object_new_string(osr_tool_kind_name(kind)));
    json_object_object_add(
        env, "message", osr_json_new_string(message ? message : "", message ? strlen(message) : 0));
    if (field && field[0])
        json_object_object_add(env, "field", osr_json_new_string(field, strlen(field)));
    if (expected && expected[0])
        json_object_object_add(env, "expected", osr_json_new_string(expected, strlen(expected)));
    if (tool && tool[0])
        json_object_object_add(env, "tool", osr_json_new_string(tool, strlen(tool)));
    json_object_object_add(env, "retryable",
                           json_object_new_boolean(osr_tool_kind_retryable(kind)));
    return env;
}

bool osr_tool_envelope_is_ok(struct json_object *env)
{
    struct json_object *ok = NULL;
    return env && json_object_object_get_ex(env, "ok", &ok) &&
           json_object_is_type(ok, json_type_boolean) && json_object_get_boolean(ok);
}

void osr_tool_out_fail(struct osr_tool_out *out, enum osr_tool_error_kind kind, const char *field,
                       const char *expected, const char *fmt, ...)
{
    out->failed = true;
    out->kind = kind;
    snprintf(out->field, sizeof(out->field), "%s", field ? field : "");
    snprintf(out->expected, sizeof(out->expected), "%s", expected ? expected : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof(out->message), fmt, ap);
    va_end(ap);
}

void osr_tool_out_warn(struct osr_tool_out *out, const char *warning)
{
    if (!out->warnings)
        out->warnings = json_object_new_array();
    json_object_array_add(out->warnings, osr_json_new_string(warning, strlen(warning)));
}

/* --- registry ------------------------------------------------------------------------------- */

struct osr_tools *osr_tools_new(void)
{
    struct osr_tools *reg = osr_xcalloc(1, sizeof(*reg));
    pthread_rwlock_init(&reg->lock, NULL);
    pthread_mutex_init(&reg->ref_lock, NULL);
    return reg;
}

static void tool_destroy(struct tool *t)
{
    if (t->ctx_free)
        t->ctx_free(t->ctx);
    json_object_put(t->schema);
    free(t->description);
    free(t->schema_text);
    free(t);
}

static void tool_unref(struct osr_tools *reg, struct tool *t)
{
    pthread_mutex_lock(&reg->ref_lock);
    bool last = --t->refs == 0;
    pthread_mutex_unlock(&reg->ref_lock);
    if (last)
        tool_destroy(t);
}

void osr_tools_free(struct osr_tools *reg)
{
    if (!reg)
        return;
    for (size_t i = 0; i < reg->n; i++)
        tool_unref(reg, reg->items[i]);
    json_object_put(reg->overrides);
    pthread_rwlock_destroy(&reg->lock);
    pthread_mutex_destroy(&reg->ref_lock);
    free(reg);
}

static bool valid_name(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > OSR_TOOL_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* Index of name in reg (lock held), or -1. */
static long find_locked(struct osr_tools *reg, const char *name)
{
    for (size_t i = 0; i < reg->n; i++)
        if (strcmp(reg->items[i]->name, name) == 0)
            return (long)i;
    return -1;
}

/* Applies the tools.json entries for t (lock held). */
static void apply_overrides_locked(struct osr_tools *reg, struct tool *t)
{
    struct json_object *map = NULL, *v = NULL;
    if (!reg->overrides)
        return;
    if (json_object_object_get_ex(reg->overrides, "enabled", &map) && map &&
        json_object_object_get_ex(map, t->name, &v) && json_object_is_type(v, json_type_boolean))
        t->enabled = json_object_get_boolean(v);
    enum osr_tool_policy p;
    if (json_object_object_get_ex(reg->overrides, "policy", &map) && map &&
        json_object_object_get_ex(map, t->name, &v) && json_object_is_type(v, json_type_string) &&
        osr_tool_policy_parse(json_object_get_string(v), &p) == OSR_OK)
        t->policy = p;
}

/* Checks the shape of a tools.json document. */
static int check_overrides(struct json_object *doc, struct osr_diag *diag)
{
    if (!doc || !json_object_is_type(doc, json_type_object))
        return osr_diag_set(diag, OSR_ECONFIG, "tools.json must hold an object");
    static const char *const maps[] = {"enabled", "policy", "grants"};
    for (size_t i = 0; i < 3; i++) {
        struct json_object *m = NULL;
        if (!json_object_object_get_ex(doc, maps[i], &m) || !m)
            continue;
        if (!json_object_is_type(m, json_type_object))
            return osr_diag_set(diag, OSR_ECONFIG, "tools.json: '%s' must be an object", maps[i]);
        json_object_object_foreach(m, name, v)
        {
            enum osr_tool_policy p;
            if (i == 0 && !json_object_is_type(v, json_type_boolean))
                return osr_diag_set(diag, OSR_ECONFIG,
                                    "tools.json: 'enabled.%.64s' must be a boolean", name);
            if (i == 1 && (!json_object_is_type(v, json_type_string) ||
                           osr_tool_policy_parse(json_object_get_string(v), &p) != OSR_OK))
                return osr_diag_set(
                    diag, OSR_ECONFIG,
                    "tools.json: 'policy.%.64s' must be \"auto\", \"ask\" or \"deny\"", name);
        }
    }
    return OSR_OK;
}

int osr_tools_load_config(struct osr_tools *reg, const char *home, struct osr_diag *diag)
{
    char *dir = osr_path_join(home, "config");
    char *path = osr_path_join(dir, "tools.json");
    free(dir);
    char *text = NULL;
    size_t len = 0;
    struct json_object *doc = NULL;
    int rc = OSR_OK;
    rc = osr_read_file(path, 4u * 1024 * 1024, &text, &len, diag);
    if (rc == OSR_ENOTFOUND) {
        osr_diag_clear(diag);
        rc = OSR_OK; /* no overrides */
        goto out;
    }
    if (rc)
        goto out;
    if (osr_json_parse(text, len, &doc, diag) != OSR_OK) {
        rc = OSR_ECONFIG;
        goto out;
    }
    rc = check_overrides(doc, diag);
    if (rc)
        goto out;
    pthread_rwlock_wrlock(&reg->lock);
    json_object_put(reg->overrides);
    reg->overrides = doc;
    doc = NULL;
    for (size_t i = 0; i < reg->n; i++)
        apply_overrides_locked(reg, reg->items[i]);
    pthread_rwlock_unlock(&reg->lock);
out:
    json_object_put(doc);
    free(text);
    free(path);
    return rc;
}

int osr_tools_add(struct osr_tools *reg, const struct osr_tool_def *def, struct osr_diag *diag)
{
    if (!valid_name(def->name))
        return osr_diag_set(diag, OSR_EINVAL, "tool name '%s' must be 1-64 of [A-Za-z0-9_-]",
                            def->name ? def->name : "");
    if (!def->fn)
        return osr_diag_set(diag, OSR_EINVAL, "tool '%s' has no function", def->name);
    const char *text = def->input_schema ? def->input_schema : "{\"type\":\"object\"}";
    size_t len = strlen(text);
    if (len > OSR_TOOL_SCHEMA_MAX)
        return osr_diag_set(diag, OSR_ETOOBIG, "tool '%s': schema larger than %d bytes", def->name,
                            OSR_TOOL_SCHEMA_MAX);
    struct json_object *schema = NULL;
    int rc = osr_json_parse(text, len, &schema, diag);
    if (rc)
        return rc;
    struct json_object *type = NULL;
    if (!schema || !json_object_is_type(schema, json_type_object) ||
        !json_object_object_get_ex(schema, "type", &type) ||
        !json_object_is_type(type, json_type_string) ||
        strcmp(json_object_get_string(type), "object") != 0) {
        json_object_put(schema);
        return osr_diag_set(diag, OSR_EINVAL,
                            "tool '%s': schema must be an object with \"type\":\"object\"",
                            def->name);
    }
    /* A schema that is itself malformed shows up when validating an empty object against it. */
    struct osr_schema_error se;
    struct json_object *probe = json_object_new_object();
    int vrc = osr_schema_validate(schema, probe, &se);
    json_object_put(probe);
    if (vrc == OSR_ECONFIG) {
        json_object_put(schema);
        return osr_diag_set(diag, OSR_EINVAL, "tool '%s': %s", def->name, se.message);
    }
    struct tool *t = osr_xcalloc(1, sizeof(*t));
    snprintf(t->name, sizeof(t->name), "%s", def->name);
    const char *desc = def->description ? def->description : "";
    size_t dlen = strnlen(desc, OSR_TOOL_DESCRIPTION_MAX);
    t->description = osr_xmalloc(dlen + 1);
    memcpy(t->description, desc, dlen);
    t->description[dlen] = '\0';
    t->schema_text = osr_xmalloc(len + 1);
    memcpy(t->schema_text, text, len + 1);
    t->schema = schema;
    t->policy = def->policy;
    t->source = def->source;
    t->enabled = true;
    t->fn = def->fn;
    t->refs = 1;

    /* ctx is set before the tool is published: another thread may call it at once. */
    t->ctx = def->ctx;
    t->ctx_free = def->ctx_free;
    pthread_rwlock_wrlock(&reg->lock);
    apply_overrides_locked(reg, t);
    if (find_locked(reg, def->name) >= 0)
        rc = osr_diag_set(diag, OSR_EEXIST, "tool '%s' already exists", def->name);
    else if (reg->n >= OSR_TOOLS_MAX)
        rc = osr_diag_set(diag, OSR_ETOOBIG, "too many tools (limit %d)", OSR_TOOLS_MAX);
    else
        reg->items[reg->n++] = t;
    pthread_rwlock_unlock(&reg->lock);
    if (rc) {
        t->ctx_free = NULL; /* never published: the caller keeps ctx */
        tool_destroy(t);
        return rc;
    }
    return OSR_OK;
}

int osr_tools_remove(struct osr_tools *reg, const char *name)
{
    struct tool *t = NULL;
    pthread_rwlock_wrlock(&reg->lock);
    long i = find_locked(reg, name);
    if (i >= 0) {
        t = reg->items[i];
        memmove(&reg->items[i], &reg->items[i + 1],
                (reg->n - (size_t)i - 1) * sizeof(reg->items[0]));
        reg->n--;
    }
    pthread_rwlock_unlock(&reg->lock);
    if (!t)
        return OSR_ENOTFOUND;
    tool_unref(reg, t);
    return OSR_OK;
}

int osr_tools_set_enabled(struct osr_tools *reg, const char *name, bool enabled)
{
    pthread_rwlock_wrlock(&reg->lock);
    long i = find_locked(reg, name);
    if (i >= 0)
        reg->items[i]->enabled = enabled;
    pthread_rwlock_unlock(&reg->lock);
    return i >= 0 ? OSR_OK : OSR_ENOTFOUND;
}

int osr_tools_set_policy(struct osr_tools *reg, const char *name, enum osr_tool_policy policy)
{
    pthread_rwlock_wrlock(&reg->lock);
    long i = find_locked(reg, name);
    if (i >= 0)
        reg->items[i]->policy = policy;
    pthread_rwlock_unlock(&reg->lock);
    return i >= 0 ? OSR_OK : OSR_ENOTFOUND;
}

size_t osr_tools_count(struct osr_tools *reg)
{
    pthread_rwlock_rdlock(&reg->lock);
    size_t n = reg->n;
    pthread_rwlock_unlock(&reg->lock);
    return n;
}

static int by_name(const void *a, const void *b)
{
    const struct tool *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

struct json_object *osr_tools_list(struct osr_tools *reg, bool verbose)
{
    struct json_object *arr = json_object_new_array();
    pthread_rwlock_rdlock(&reg->lock);
    struct tool **sorted = osr_xcalloc(reg->n ? reg->n : 1, sizeof(*sorted));
    size_t n = 0;
    for (size_t i = 0; i < reg->n; i++)
        if (reg->items[i]->enabled && (verbose || reg->items[i]->policy != OSR_TOOL_POLICY_DENY))
            sorted[n++] = reg->items[i];
    qsort(sorted, n, sizeof(*sorted), by_name);
    for (size_t i = 0; i < n; i++) {
        struct tool *t = sorted[i];
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(t->name));
        json_object_object_add(o, "description",
                               osr_json_new_string(t->description, strlen(t->description)));
        struct json_object *schema = NULL;
        if (osr_json_parse(t->schema_text, strlen(t->schema_text), &schema, NULL) != OSR_OK)
            schema = json_object_new_object();
        json_object_object_add(o, "inputSchema", schema);
        if (verbose) {
            json_object_object_add(o, "policy",
                                   json_object_new_string(osr_tool_policy_name(t->policy)));
            json_object_object_add(o, "source",
                                   json_object_new_string(osr_tool_source_name(t->source)));
        }
        json_object_array_add(arr, o);
    }
    pthread_rwlock_unlock(&reg->lock);
    free(sorted);
    return arr;
}

/* The options of the call running on this thread, for osr_tool_cancelled. */
static _Thread_local const struct osr_tool_call_opts *current_call;

bool osr_tool_cancelled(void)
{
    const struct osr_tool_call_opts *o = current_call;
    return o && o->cancelled && o->cancelled(o->cancel_ctx);
}

struct json_object *osr_tools_call(struct osr_tools *reg, const char *name,
                                   struct json_object *args, const struct osr_tool_call_opts *opts)
{
    if (!name || !name[0])
        return osr_tool_envelope_error(NULL, OSR_TOOL_NOT_FOUND, "no tool name given", "name",
                                       "a tool name");
    struct tool *t = NULL;
    pthread_rwlock_rdlock(&reg->lock);
    long i = find_locked(reg, name);
    if (i >= 0 && reg->items[i]->enabled) {
        t = reg->items[i];
        pthread_mutex_lock(&reg->ref_lock);
        t->refs++;
        pthread_mutex_unlock(&reg->ref_lock);
    }
    enum osr_tool_policy policy = t ? t->policy : OSR_TOOL_POLICY_DENY;
    pthread_rwlock_unlock(&reg->lock);

    char msg[OSR_TOOL_NAME_MAX + 128];
    if (!t) {
        snprintf(msg, sizeof(msg), "no tool named '%.64s'", name);
        return osr_tool_envelope_error(NULL, OSR_TOOL_NOT_FOUND, msg, NULL, NULL);
    }
    struct json_object *env = NULL;
    struct json_object *empty = NULL;
    if (policy == OSR_TOOL_POLICY_DENY) {
        env = osr_tool_envelope_error(t->name, OSR_TOOL_REJECTED,
                                      "this tool is disabled by policy (deny)", NULL, NULL);
        goto out;
    }
    if (!args)
        args = empty = json_object_new_object();
    if (!json_object_is_type(args, json_type_object)) {
        env = osr_tool_envelope_error(t->name, OSR_TOOL_INVALID_ARGS, "arguments must be an object",
                                      "arguments", "object");
        goto out;
    }
    struct osr_schema_error se;
    int rc = osr_schema_validate(t->schema, args, &se);
    if (rc) {
        env = osr_tool_envelope_error(t->name, OSR_TOOL_INVALID_ARGS, se.message, se.path,
                                      se.expected);
        goto out;
    }
    if (policy == OSR_TOOL_POLICY_ASK) {
        if (!opts || !opts->approve) {
            env = osr_tool_envelope_error(t->name, OSR_TOOL_REJECTED,
                                          "this tool needs approval and no one can approve it here",
                                          NULL, NULL);
            goto out;
        }
        if (!opts->approve(opts->approve_ctx, t->name, args)) {
            env = osr_tool_envelope_error(t->name, OSR_TOOL_USER_DENIED,
                                          "the user declined this tool call", NULL, NULL);
            goto out;
        }
    }
    struct osr_tool_out out;
    memset(&out, 0, sizeof(out));
    const struct osr_tool_call_opts *outer = current_call;
    current_call = opts;
    t->fn(t->ctx, args, &out);
    current_call = outer;
    if (out.failed) {
        json_object_put(out.result);
        json_object_put(out.warnings);
        env = osr_tool_envelope_error(t->name, out.kind, out.message, out.field, out.expected);
    } else {
        env = osr_tool_envelope_ok(t->name, out.result, out.warnings);
    }
out:
    json_object_put(empty);
    tool_unref(reg, t);
    return env;
}
