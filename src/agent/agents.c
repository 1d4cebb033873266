/* agents.c - the agents store: one JSON file per agent under <home>/agents, named <uuid>.json.
 *
 * Every operation takes the store's mutex, reads the folder or file it needs and writes with
 * osr_write_file_atomic (0600 files in a 0700 folder).  A file that cannot be parsed or fails
 * validation is skipped with a warning naming the file and the reason.  The built-in default
 * agent exists in memory; a file with its id (written by an update) overrides it.  This file
 * does not know about HTTP or the command line.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "osr/agents.h"
#include "osr/alloc.h"
#include "osr/buf.h"
#include "osr/clock.h"
#include "osr/config.h"
#include "osr/json.h"
#include "osr/log.h"
#include "osr/uuid.h"

struct osr_agents {
    char *home;
    pthread_mutex_t mu;
};

struct osr_agents *osr_agents_open(const char *home)
{
    struct osr_agents *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->home = strdup(home ? home : "");
    if (!st->home) {
        free(st);
        return NULL;
    }
    pthread_mutex_init(&st->mu, NULL);
    return st;
}

void osr_agents_free(struct osr_agents *st)
{
    if (!st)
        return;
    pthread_mutex_destroy(&st->mu);
    free(st->home);
    free(st);
}

static int check_string(struct json_object *doc, const char *key, struct osr_diag *diag)
{
    struct json_object *v = NULL;
    if (json_object_object_get_ex(doc, key, &v) && v && !json_object_is_type(v, json_type_string)) {
        osr_diag_set_param(diag, key);
        return osr_diag_set(diag, OSR_EINVAL, "'%s' must be a string", key);
    }
    return OSR_OK;
}

static int check_object(struct json_object *doc, const char *key, struct osr_diag *diag)
{
    struct json_object *v = NULL;
    if (json_object_object_get_ex(doc, key, &v) && v && !json_object_is_type(v, json_type_object)) {
        osr_diag_set_param(diag, key);
        return osr_diag_set(diag, OSR_EINVAL, "'%s' must be an object", key);
    }
    return OSR_OK;
}

int osr_agents_validate(struct json_object *doc, struct osr_diag *diag)
{
    if (!doc || !json_object_is_type(doc, json_type_object))
        return osr_diag_set(diag, OSR_EINVAL, "an agent must be a JSON object");
    const char *name = NULL;
    int rc = osr_json_get_string(doc, "name", true, &name, diag);
    if (rc)
        return rc;
    if (name[0] == '\0') {
        osr_diag_set_param(diag, "name");
        return osr_diag_set(diag, OSR_EINVAL, "'name' must not be empty");
    }
    double t = 0;
    rc = osr_json_get_double(doc, "temperature", false, 0.0, 2.0, &t, diag);
    if (rc)
        return rc;
    int64_t mt = 0;
    rc = osr_json_get_int(doc, "maxTokens", false, 1, INT32_MAX, &mt, diag);
    if (rc)
        return rc;
    static const char *const strings[] = {"id", "description", "systemPrompt", "defaultModel",
                                          "createdAt", "updatedAt", "workingFolderPath"};
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
        if ((rc = check_string(doc, strings[i], diag)))
            return rc;
    static const char *const objects[] = {"enabledTools", "enabledSkills", "enabledPlugins",
                                          "settings"};
    for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++)
        if ((rc = check_object(doc, objects[i], diag)))
            return rc;
    const char *id = NULL;
    if (osr_json_get_string(doc, "id", false, &id, diag) == OSR_OK && id && !osr_uuid_is_valid(id)) {
        osr_diag_set_param(diag, "id");
        return osr_diag_set(diag, OSR_EINVAL, "'id' must be a UUID");
    }
    return OSR_OK;
}

static void now_iso(char out[OSR_ISO8601_MAX])
{
    osr_time_iso8601(out, osr_wall_ms(), 0);
}

static struct json_object *builtin_agent(void)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(OSR_AGENT_DEFAULT_ID));
    json_object_object_add(o, "name", json_object_new_string("Default"));
    json_object_object_add(o, "description", json_object_new_string("The default agent"));
    json_object_object_add(o, "systemPrompt", json_object_new_string(""));
    json_object_object_add(o, "enabledTools", json_object_new_object());
    json_object_object_add(o, "enabledSkills", json_object_new_object());
    json_object_object_add(o, "isBuiltIn", json_object_new_boolean(1));
    json_object_object_add(o, "createdAt", json_object_new_string("1970-01-01T00:00:00Z"));
    json_object_object_add(o, "updatedAt", json_object_new_string("1970-01-01T00:00:00Z"));
    return o;
}

/* File names use the lower-case form of the id, so "ABC..." and "abc..." name one agent. */
static char *agent_path(struct osr_agents *st, const char *id)
{
    char name[OSR_UUID_STRLEN + 8];
    snprintf(name, sizeof(name), "%s.json", id);
    for (char *c = name; *c; c++)
        if (*c >= 'A' && *c <= 'F')
            *c = (char)(*c - 'A' + 'a');
    char *dir = osr_path_join(st->home, "agents");
    if (!dir)
        return NULL;
    char *p = osr_path_join(dir, name);
    free(dir);
    return p;
}

/* Reads and validates one file.  OSR_ENOTFOUND when absent, OSR_ECORRUPT (diag: why) when
 * malformed. */
static int read_agent(const char *path, const char *want_id, struct json_object **out,
                      struct osr_diag *diag)
{
    char *text = NULL;
    size_t len = 0;
    int rc = osr_read_file(path, OSR_AGENT_MAX_FILE, &text, &len, diag);
    if (rc == OSR_ETOOBIG)
        return osr_diag_set(diag, OSR_ECORRUPT, "larger than %d bytes", OSR_AGENT_MAX_FILE);
    if (rc)
        return rc;
    struct json_object *doc = NULL;
    rc = osr_json_parse(text, len, &doc, diag);
    free(text);
    if (rc)
        return OSR_ECORRUPT;
    if (osr_agents_validate(doc, diag) != OSR_OK)
        goto bad;
    const char *id = NULL;
    if (osr_json_get_string(doc, "id", true, &id, diag) != OSR_OK)
        goto bad;
    if (want_id && strcasecmp(id, want_id) != 0) {
        osr_diag_set(diag, OSR_ECORRUPT, "its id %s does not match the file name", id);
        goto bad;
    }
    *out = doc;
    return OSR_OK;
bad:
    json_object_put(doc);
    return OSR_ECORRUPT;
}

static int write_agent(struct osr_agents *st, struct json_object *doc, const char *id,
                       struct osr_diag *diag)
{
    char *dir = osr_path_join(st->home, "agents");
    char *path = agent_path(st, id);
    int rc = OSR_ENOMEM;
    if (!dir || !path)
        goto out;
    rc = osr_mkdir_p(dir, 0700, diag);
    if (rc)
        goto out;
    const char *text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE);
    rc = osr_write_file_atomic(path, text, strlen(text), 0600, diag);
out:
    free(dir);
    free(path);
    return rc;
}

static int load_locked(struct osr_agents *st, const char *id, struct json_object **out,
                       struct osr_diag *diag)
{
    if (!id || !osr_uuid_is_valid(id))
        return osr_diag_set(diag, OSR_ENOTFOUND, "no agent with id '%s'", id ? id : "");
    char *path = agent_path(st, id);
    if (!path)
        return OSR_ENOMEM;
    struct osr_diag d;
    osr_diag_clear(&d);
    int rc = read_agent(path, id, out, &d);
    free(path);
    if (rc == OSR_ENOTFOUND && strcasecmp(id, OSR_AGENT_DEFAULT_ID) == 0) {
        *out = builtin_agent();
        return OSR_OK;
    }
    if (rc == OSR_ECORRUPT) {
        OSR_WARN("agents/%s.json skipped: %s", id, d.msg);
        return osr_diag_set(diag, OSR_ENOTFOUND, "no agent with id '%s'", id);
    }
    if (rc == OSR_ENOTFOUND)
        return osr_diag_set(diag, OSR_ENOTFOUND, "no agent with id '%s'", id);
    if (rc)
        return osr_diag_set(diag, rc, "%s", d.msg);
    return OSR_OK;
}

static int cmp_created(const void *a, const void *b)
{
    struct json_object *x = *(struct json_object *const *)a;
    struct json_object *y = *(struct json_object *const *)b;
    struct json_object *cx = NULL, *cy = NULL;
    json_object_object_get_ex(x, "createdAt", &cx);
    json_object_object_get_ex(y, "createdAt", &cy);
    const char *sx = cx ? json_object_get_string(cx) : "";
    const char *sy = cy ? json_object_get_string(cy) : "";
    int c = strcmp(sx ? sx : "", sy ? sy : "");
    if (c)
        return c;
    json_object_object_get_ex(x, "id", &cx);
    json_object_object_get_ex(y, "id", &cy);
    return strcmp(json_object_get_string(cx), json_object_get_string(cy));
}

int osr_agents_list(struct osr_agents *st, struct json_object **out, struct osr_diag *diag)
{
    (void)diag;
    struct json_object *arr = json_object_new_array();
    if (!arr)
        return OSR_ENOMEM;
    pthread_mutex_lock(&st->mu);
    struct json_object *builtin = NULL;
    char *dir = osr_path_join(st->home, "agents");
    DIR *dh = dir ? opendir(dir) : NULL;
    if (dh) {
        struct dirent *e;
        size_t n = 0;
        while ((e = readdir(dh)) != NULL && n < OSR_AGENT_MAX_COUNT) {
            size_t len = strlen(e->d_name);
            if (len != OSR_UUID_STRLEN + 5 || strcmp(e->d_name + OSR_UUID_STRLEN, ".json") != 0)
                continue;
            char id[OSR_UUID_STRLEN + 1];
            memcpy(id, e->d_name, OSR_UUID_STRLEN);
            id[OSR_UUID_STRLEN] = '\0';
            if (!osr_uuid_is_valid(id))
                continue;
            char *path = osr_path_join(dir, e->d_name);
            struct json_object *doc = NULL;
            struct osr_diag d;
            osr_diag_clear(&d);
            int rc = path ? read_agent(path, id, &doc, &d) : OSR_ENOMEM;
            free(path);
            if (rc) {
                OSR_WARN("agents/%s skipped: %s", e->d_name, d.msg[0] ? d.msg : osr_strerror(rc));
                continue;
            }
            if (strcasecmp(id, OSR_AGENT_DEFAULT_ID) == 0) {
                json_object_put(builtin);
                builtin = doc;
                continue;
            }
            json_object_array_add(arr, doc);
            n++;
        }
        closedir(dh);
    }
    free(dir);
    pthread_mutex_unlock(&st->mu);
    json_object_array_sort(arr, cmp_created);
    if (!builtin)
        builtin = builtin_agent();
    json_object_array_put_idx(arr, json_object_array_length(arr), NULL);
    /* put the built-in first: shift everything right by one */
    size_t n = json_object_array_length(arr) - 1;
    for (size_t i = n; i > 0; i--)
        json_object_array_put_idx(arr, i, json_object_get(json_object_array_get_idx(arr, i - 1)));
    json_object_array_put_idx(arr, 0, builtin);
    *out = arr;
    return OSR_OK;
}

int osr_agents_get(struct osr_agents *st, const char *id, struct json_object **out,
                   struct osr_diag *diag)
{
    pthread_mutex_lock(&st->mu);
    int rc = load_locked(st, id, out, diag);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* Copies fields over doc; null removes; the protected keys are left alone. */
static void merge_fields(struct json_object *doc, struct json_object *fields)
{
    json_object_object_foreach(fields, key, val)
    {
        if (strcmp(key, "id") == 0 || strcmp(key, "isBuiltIn") == 0 ||
            strcmp(key, "createdAt") == 0 || strcmp(key, "updatedAt") == 0)
            continue;
        if (!val)
            json_object_object_del(doc, key);
        else
            json_object_object_add(doc, key, json_object_get(val));
    }
}

int osr_agents_create(struct osr_agents *st, struct json_object *fields, struct json_object **out,
                      struct osr_diag *diag)
{
    if (!fields || !json_object_is_type(fields, json_type_object))
        return osr_diag_set(diag, OSR_EINVAL, "an agent must be a JSON object");
    struct json_object *doc = json_object_new_object();
    if (!doc)
        return OSR_ENOMEM;
    char id[OSR_UUID_STRLEN + 1];
    osr_uuid_v4(id);
    char now[OSR_ISO8601_MAX];
    now_iso(now);
    json_object_object_add(doc, "id", json_object_new_string(id));
    json_object_object_add(doc, "name", NULL);
    json_object_object_add(doc, "description", json_object_new_string(""));
    json_object_object_add(doc, "systemPrompt", json_object_new_string(""));
    json_object_object_add(doc, "enabledTools", json_object_new_object());
    json_object_object_add(doc, "enabledSkills", json_object_new_object());
    merge_fields(doc, fields);
    json_object_object_add(doc, "isBuiltIn", json_object_new_boolean(0));
    json_object_object_add(doc, "createdAt", json_object_new_string(now));
    json_object_object_add(doc, "updatedAt", json_object_new_string(now));
    int rc = osr_agents_validate(doc, diag);
    if (rc)
        goto out;
    pthread_mutex_lock(&st->mu);
    rc = write_agent(st, doc, id, diag);
    pthread_mutex_unlock(&st->mu);
out:
    if (rc == OSR_OK && out)
        *out = json_object_get(doc);
    json_object_put(doc);
    return rc;
}

int osr_agents_update(struct osr_agents *st, const char *id, struct json_object *fields,
                      struct json_object **out, struct osr_diag *diag)
{
    if (!fields || !json_object_is_type(fields, json_type_object))
        return osr_diag_set(diag, OSR_EINVAL, "an agent update must be a JSON object");
    pthread_mutex_lock(&st->mu);
    struct json_object *doc = NULL;
    int rc = load_locked(st, id, &doc, diag);
    if (rc)
        goto out;
    merge_fields(doc, fields);
    char now[OSR_ISO8601_MAX];
    now_iso(now);
    json_object_object_add(doc, "updatedAt", json_object_new_string(now));
    rc = osr_agents_validate(doc, diag);
    if (rc)
        goto out;
    const char *stored_id = json_object_get_string(json_object_object_get(doc, "id"));
    rc = write_agent(st, doc, stored_id, diag);
out:
    pthread_mutex_unlock(&st->mu);
    if (rc == OSR_OK && out)
        *out = json_object_get(doc);
    json_object_put(doc);
    return rc;
}

int osr_agents_delete(struct osr_agents *st, const char *id, struct osr_diag *diag)
{
    if (id && strcasecmp(id, OSR_AGENT_DEFAULT_ID) == 0)
        return osr_diag_set(diag, OSR_EPERM, "the built-in agent cannot be deleted");
    if (!id || !osr_uuid_is_valid(id))
        return osr_diag_set(diag, OSR_ENOTFOUND, "no agent with id '%s'", id ? id : "");
    pthread_mutex_lock(&st->mu);
    char *path = agent_path(st, id);
    int rc = OSR_ENOMEM;
    if (path) {
        if (unlink(path) == 0)
            rc = OSR_OK;
        else if (errno == ENOENT)
            rc = osr_diag_set(diag, OSR_ENOTFOUND, "no agent with id '%s'", id);
        else
            rc = osr_diag_set(diag, OSR_EIO, "cannot remove agents/%s.json: %s", id,
                              strerror(errno));
    }
    free(path);
    pthread_mutex_unlock(&st->mu);
    return rc;
}
