/* mcp_client_config.c - reads providers/mcp.json, the MCP client's provider list.
 *
 * Checks every field's type and range and names the file and the field when one is wrong.
 * It only reads: unknown fields are left alone, and secrets are not here (the client fetches
 * the values of secretHeaderKeys / secretEnvKeys from the secret store when it connects).
 * It does not connect to anything.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osr/alloc.h"
#include "osr/config.h"
#include "osr/json.h"
#include "osr/mcp_client.h"

#define DEFAULT_DISCOVERY_S 20
#define DEFAULT_CALL_S 45
#define MAX_TIMEOUT_S 3600
#define MAX_FIELD 8192 /* bytes of one string value */

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void free_kv(struct osr_mcp_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].name);
        free(kv[i].value);
    }
    free(kv);
}

void osr_mcp_provider_config_release(struct osr_mcp_provider_config *p)
{
    free(p->id);
    free(p->name);
    free(p->url);
    free(p->command);
    free_strv(p->args, p->n_args);
    free_kv(p->headers, p->n_headers);
    free_kv(p->env, p->n_env);
    free_strv(p->secret_headers, p->n_secret_headers);
    free_strv(p->secret_env, p->n_secret_env);
    memset(p, 0, sizeof(*p));
}

void osr_mcp_config_release(struct osr_mcp_config *cfg)
{
    for (size_t i = 0; cfg->items && i < cfg->n; i++)
        osr_mcp_provider_config_release(&cfg->items[i]);
    free(cfg->items);
    memset(cfg, 0, sizeof(*cfg));
}

/* A printable string without control characters (they would end up in headers or logs). */
static bool clean_string(const char *s, size_t n)
{
    if (n > MAX_FIELD)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static int get_clean(struct json_object *o, const char *key, bool required, char **out,
                     struct osr_diag *d)
{
    const char *s = NULL;
    int rc = osr_json_get_string(o, key, required, &s, d);
    if (rc || !s)
        return rc;
    struct json_object *v = NULL;
    json_object_object_get_ex(o, key, &v);
    if (!clean_string(s, (size_t)json_object_get_string_len(v)))
        return osr_diag_set(d, OSR_EINVAL, "'%s' must be a string without control characters", key);
    *out = osr_xstrdup(s);
    return OSR_OK;
}

static int get_strv(struct json_object *o, const char *key, char ***out, size_t *n,
                    struct osr_diag *d)
{
    struct json_object *arr = NULL;
    int rc = osr_json_get_array(o, key, false, &arr, d);
    if (rc || !arr)
        return rc;
    size_t len = json_object_array_length(arr);
    if (len > OSR_MCP_CLIENT_MAX_ITEMS)
        return osr_diag_set(d, OSR_EINVAL, "'%s' has more than %d entries", key,
                            OSR_MCP_CLIENT_MAX_ITEMS);
    *out = osr_xcalloc(len ? len : 1, sizeof(char *));
    for (size_t i = 0; i < len; i++) {
        struct json_object *v = json_object_array_get_idx(arr, i);
        if (!json_object_is_type(v, json_type_string) ||
            !clean_string(json_object_get_string(v), (size_t)json_object_get_string_len(v)))
            return osr_diag_set(d, OSR_EINVAL, "'%s[%zu]' must be a string", key, i);
        (*out)[(*n)++] = osr_xstrdup(json_object_get_string(v));
    }
    return OSR_OK;
}

static int get_kv(struct json_object *o, const char *key, struct osr_mcp_kv **out, size_t *n,
                  struct osr_diag *d)
{
    struct json_object *obj = NULL;
    int rc = osr_json_get_object(o, key, false, &obj, d);
    if (rc || !obj)
        return rc;
    size_t len = (size_t)json_object_object_length(obj);
    if (len > OSR_MCP_CLIENT_MAX_ITEMS)
        return osr_diag_set(d, OSR_EINVAL, "'%s' has more than %d entries", key,
                            OSR_MCP_CLIENT_MAX_ITEMS);
    *out = osr_xcalloc(len ? len : 1, sizeof(**out));
    json_object_object_foreach(obj, name, v)
    {
        if (!json_object_is_type(v, json_type_string) ||
            !clean_string(json_object_get_string(v), (size_t)json_object_get_string_len(v)) ||
            !clean_string(name, strlen(name)) || !name[0] || strchr(name, ':') || strchr(name, '='))
            return osr_diag_set(d, OSR_EINVAL, "'%s.%.64s' must be a string", key, name);
        (*out)[*n].name = osr_xstrdup(name);
        (*out)[*n].value = osr_xstrdup(json_object_get_string(v));
        (*n)++;
    }
    return OSR_OK;
}

static int get_timeout(struct json_object *o, const char *key, int dflt_s, int *out_ms,
                       struct osr_diag *d)
{
    double s = dflt_s;
    int rc = osr_json_get_double(o, key, false, 0.001, MAX_TIMEOUT_S, &s, d);
    if (rc)
        return rc;
    *out_ms = (int)(s * 1000.0 + 0.5);
    if (*out_ms < 1)
        *out_ms = 1;
    return OSR_OK;
}

static int parse_provider(struct json_object *o, struct osr_mcp_provider_config *p,
                          struct osr_diag *d)
{
    memset(p, 0, sizeof(*p));
    p->enabled = true;
    p->auto_connect = true;
    if (!json_object_is_type(o, json_type_object))
        return osr_diag_set(d, OSR_EINVAL, "must be an object");
    int rc;
    if ((rc = get_clean(o, "id", true, &p->id, d)) ||
        (rc = get_clean(o, "name", false, &p->name, d)) ||
        (rc = get_clean(o, "url", false, &p->url, d)) ||
        (rc = get_clean(o, "command", false, &p->command, d)) ||
        (rc = get_strv(o, "args", &p->args, &p->n_args, d)) ||
        (rc = get_kv(o, "customHeaders", &p->headers, &p->n_headers, d)) ||
        (rc = get_kv(o, "env", &p->env, &p->n_env, d)) ||
        (rc = get_strv(o, "secretHeaderKeys", &p->secret_headers, &p->n_secret_headers, d)) ||
        (rc = get_strv(o, "secretEnvKeys", &p->secret_env, &p->n_secret_env, d)) ||
        (rc = osr_json_get_bool(o, "enabled", false, &p->enabled, d)) ||
        (rc = osr_json_get_bool(o, "streamingEnabled", false, &p->streaming, d)) ||
        (rc = osr_json_get_bool(o, "autoConnect", false, &p->auto_connect, d)) ||
        (rc = get_timeout(o, "discoveryTimeout", DEFAULT_DISCOVERY_S, &p->discovery_timeout_ms,
                          d)) ||
        (rc = get_timeout(o, "toolCallTimeout", DEFAULT_CALL_S, &p->call_timeout_ms, d)))
        return rc;
    if (!p->id[0] || strlen(p->id) > 64)
        return osr_diag_set(d, OSR_EINVAL, "'id' must be 1 to 64 characters");
    if (!p->name)
        p->name = osr_xstrdup(p->id);
    if (!!p->url == !!p->command)
        return osr_diag_set(d, OSR_EINVAL, "exactly one of 'url' and 'command' must be given");
    if (p->url && strncmp(p->url, "http://", 7) != 0 && strncmp(p->url, "https://", 8) != 0)
        return osr_diag_set(d, OSR_EINVAL, "'url' must start with http:// or https://");
    if (p->command && !p->command[0])
        return osr_diag_set(d, OSR_EINVAL, "'command' must not be empty");
    return OSR_OK;
}

int osr_mcp_config_parse(const char *text, size_t n, const char *path, struct osr_mcp_config *cfg,
                         struct osr_diag *diag)
{
    memset(cfg, 0, sizeof(*cfg));
    struct json_object *root = NULL, *list = NULL;
    struct osr_diag d;
    osr_diag_clear(&d);
    int rc = osr_json_parse(text, n, &root, &d);
    if (rc) {
        rc = osr_diag_set(diag, OSR_ECONFIG, "'%s': %s", path, d.msg);
        goto out;
    }
    if (!root || !json_object_is_type(root, json_type_object)) {
        rc = osr_diag_set(diag, OSR_ECONFIG, "'%s': must hold a JSON object", path);
        goto out;
    }
    if (osr_json_get_array(root, "providers", false, &list, &d)) {
        rc = osr_diag_set(diag, OSR_ECONFIG, "'%s': %s", path, d.msg);
        goto out;
    }
    size_t len = list ? json_object_array_length(list) : 0;
    if (len > OSR_MCP_CLIENT_MAX_PROVIDERS) {
        rc = osr_diag_set(diag, OSR_ECONFIG, "'%s': more than %d providers", path,
                          OSR_MCP_CLIENT_MAX_PROVIDERS);
        goto out;
    }
    cfg->items = osr_xcalloc(len ? len : 1, sizeof(*cfg->items));
    for (size_t i = 0; i < len; i++) {
        osr_diag_clear(&d);
        struct osr_mcp_provider_config *p = &cfg->items[cfg->n];
        if (parse_provider(json_object_array_get_idx(list, i), p, &d)) {
            osr_mcp_provider_config_release(p);
            rc = osr_diag_set(diag, OSR_ECONFIG, "'%s': providers[%zu]: %s", path, i, d.msg);
            goto out;
        }
        cfg->n++;
        for (size_t j = 0; j + 1 < cfg->n; j++)
            if (strcmp(cfg->items[j].id, p->id) == 0) {
                rc = osr_diag_set(diag, OSR_ECONFIG, "'%s': provider id '%s' is used twice", path,
                                  p->id);
                goto out;
            }
    }
out:
    json_object_put(root);
    if (rc)
        osr_mcp_config_release(cfg);
    return rc;
}

int osr_mcp_config_load(const char *home, struct osr_mcp_config *cfg, struct osr_diag *diag)
{
    memset(cfg, 0, sizeof(*cfg));
    char *dir = osr_path_join(home, "providers");
    char *path = osr_path_join(dir, "mcp.json");
    char *text = NULL;
    size_t len = 0;
    int rc = osr_read_file(path, OSR_MCP_CLIENT_FILE_MAX, &text, &len, diag);
    if (rc == OSR_ENOTFOUND) {
        osr_diag_clear(diag);
        rc = OSR_OK;
    } else if (rc == OSR_OK) {
        rc = osr_mcp_config_parse(text, len, path, cfg, diag);
    } else if (rc == OSR_ETOOBIG) {
        rc = osr_diag_set(diag, OSR_ECONFIG, "'%s': larger than %zu bytes", path,
                          OSR_MCP_CLIENT_FILE_MAX);
    }
    free(text);
    free(path);
    free(dir);
    return rc;
}

void osr_mcp_tool_name(const char *provider_id, const char *tool, char *out, size_t cap)
{
    if (cap == 0)
        return;
    size_t limit = cap - 1 < OSR_TOOL_NAME_MAX ? cap - 1 : OSR_TOOL_NAME_MAX;
    size_t k = 0;
    const char *parts[3] = {provider_id, "_", tool};
    for (size_t p = 0; p < 3; p++)
        for (const char *s = parts[p]; s && *s && k < limit; s++) {
            char c = *s;
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-';
            out[k++] = ok ? c : '_';
        }
    out[k] = '\0';
}
