/* discovery.c - writing, finding and cleaning runtime discovery files. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "osr/alloc.h"
#include "osr/clock.h"
#include "osr/config.h"
#include "osr/discovery.h"
#include "osr/json.h"

static char *instance_dir(const char *home, const char *id)
{
    char *runtime = osr_path_join(home, "runtime");
    char *dir = osr_path_join(runtime, id);
    free(runtime);
    return dir;
}

int osr_discovery_write(const char *home, const struct osr_instance *inst, struct osr_diag *diag)
{
    char *dir = instance_dir(home, inst->instance_id);
    char *file = osr_path_join(dir, "configuration.json");
    int rc = osr_mkdir_p(dir, 0700, diag);
    if (rc)
        goto out;
    char ts[OSR_ISO8601_MAX];
    osr_time_iso8601(ts, inst->updated_ms ? inst->updated_ms : osr_wall_ms(), 0);
    char url[128];
    snprintf(url, sizeof(url), "http://%s:%d",
             strcmp(inst->address, "0.0.0.0") == 0 ? "127.0.0.1" : inst->address, inst->port);
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "instanceId", json_object_new_string(inst->instance_id));
    json_object_object_add(o, "updatedAt", json_object_new_string(ts));
    json_object_object_add(o, "health", json_object_new_string(inst->health));
    if (inst->port > 0) {
        json_object_object_add(o, "port", json_object_new_int(inst->port));
        json_object_object_add(o, "address", json_object_new_string(inst->address));
        json_object_object_add(o, "url", json_object_new_string(url));
    }
    json_object_object_add(o, "exposeToNetwork", json_object_new_boolean(inst->expose));
    json_object_object_add(o, "pid", json_object_new_int(inst->pid));
    json_object_object_add(o, "version", json_object_new_string(OSR_VERSION));
    const char *text = json_object_to_json_string_ext(
        o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
    rc = osr_write_file_atomic(file, text, strlen(text), 0600, diag);
    json_object_put(o);
out:
    free(file);
    free(dir);
    return rc;
}

void osr_discovery_remove(const char *home, const char *instance_id)
{
    char *dir = instance_dir(home, instance_id);
    char *file = osr_path_join(dir, "configuration.json");
    unlink(file);
    rmdir(dir);
    free(file);
    free(dir);
}

static bool process_alive(int pid)
{
    if (pid <= 0)
        return false;
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return false;
    /* A zombie still answers kill(0); its /proc status says so. */
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char buf[256];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *close = strrchr(buf, ')');
    return !(close && close[1] == ' ' && close[2] == 'Z');
}

static int read_instance(const char *home, const char *id, struct osr_instance *out)
{
    char *dir = instance_dir(home, id);
    char *file = osr_path_join(dir, "configuration.json");
    char *text = NULL;
    size_t len = 0;
    int rc = osr_read_file(file, 64 * 1024, &text, &len, NULL);
    free(file);
    free(dir);
    if (rc)
        return rc;
    struct json_object *o = NULL;
    rc = osr_json_parse(text, len, &o, NULL);
    free(text);
    if (rc)
        return rc;
    memset(out, 0, sizeof(*out));
    const char *s = "";
    osr_json_get_string(o, "instanceId", false, &s, NULL);
    snprintf(out->instance_id, sizeof(out->instance_id), "%s", s);
    s = "";
    osr_json_get_string(o, "health", false, &s, NULL);
    snprintf(out->health, sizeof(out->health), "%s", s);
    s = "127.0.0.1";
    osr_json_get_string(o, "address", false, &s, NULL);
    snprintf(out->address, sizeof(out->address), "%s", s);
    int64_t v = 0;
    osr_json_get_int(o, "port", false, 0, 65535, &v, NULL);
    out->port = (int)v;
    v = 0;
    osr_json_get_int(o, "pid", false, 0, 1 << 30, &v, NULL);
    out->pid = (int)v;
    bool b = false;
    osr_json_get_bool(o, "exposeToNetwork", false, &b, NULL);
    out->expose = b;
    json_object_put(o);
    /* updatedAt is second-granular; the file's mtime orders instances more finely. */
    struct stat st;
    char *d2 = instance_dir(home, id);
    char *f2 = osr_path_join(d2, "configuration.json");
    if (stat(f2, &st) == 0)
        out->updated_ms = (long long)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    free(f2);
    free(d2);
    return OSR_OK;
}

/* Calls fn for every instance folder; stops early when fn returns non-zero. */
static void each_instance(const char *home, int (*fn)(const char *home, const char *id, void *),
                          void *arg)
{
    char *runtime = osr_path_join(home, "runtime");
    DIR *d = opendir(runtime);
    free(runtime);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (fn(home, e->d_name, arg))
            break;
    }
    closedir(d);
}

struct find_state {
    struct osr_instance best;
    bool found;
};

static int consider(const char *home, const char *id, void *arg)
{
    struct find_state *st = arg;
    struct osr_instance inst;
    if (read_instance(home, id, &inst) != OSR_OK || !process_alive(inst.pid))
        return 0;
    if (strcmp(inst.health, "running") != 0)
        return 0;
    if (!st->found || inst.updated_ms > st->best.updated_ms) {
        st->best = inst;
        st->found = true;
    }
    return 0;
}

int osr_discovery_find(const char *home, struct osr_instance *out)
{
    struct find_state st = {.found = false};
    each_instance(home, consider, &st);
    if (!st.found)
        return OSR_ENOTFOUND;
    *out = st.best;
    return OSR_OK;
}

static int clean_one(const char *home, const char *id, void *arg)
{
    struct osr_instance inst;
    int rc = read_instance(home, id, &inst);
    if (rc == OSR_OK && process_alive(inst.pid))
        return 0;
    if (rc != OSR_OK && rc != OSR_ENOTFOUND && rc != OSR_EINVAL)
        return 0;
    osr_discovery_remove(home, id);
    (*(int *)arg)++;
    return 0;
}

int osr_discovery_clean_stale(const char *home)
{
    int n = 0;
    each_instance(home, clean_one, &n);
    return n;
}
