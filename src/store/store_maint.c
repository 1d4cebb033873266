/* store_maint.c - periodic database upkeep, on the original's schedule.
 *
 * PRAGMA optimize every 6 hours, wal_checkpoint(TRUNCATE) every 7 days and VACUUM every 30
 * days, over the databases of osr_store_databases that exist (plugin databases are not in
 * that list, as the original leaves them alone).  When each task last ran is kept in
 * <home>/.storage-maintenance.json, so a restart does not repeat work.  This file does not
 * schedule itself: the server calls osr_store_maintain from its timer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osr/config.h"
#include "osr/json.h"
#include "osr/store.h"

#define MAINT_FILE ".storage-maintenance.json"

struct schedule {
    int64_t last_optimize;
    int64_t last_checkpoint;
    int64_t last_vacuum;
};

static int read_schedule(const char *path, struct schedule *s, struct osr_diag *diag)
{
    memset(s, 0, sizeof(*s));
    char *text = NULL;
    size_t len = 0;
    int rc = osr_read_file(path, 64 * 1024, &text, &len, diag);
    if (rc == OSR_ENOTFOUND) {
        osr_diag_clear(diag);
        return OSR_OK;
    }
    if (rc)
        return rc;
    struct json_object *obj = NULL;
    /* A damaged file only costs an early run; it is rewritten below. */
    if (osr_json_parse(text, len, &obj, NULL) == OSR_OK) {
        int64_t v;
        v = 0;
        if (osr_json_get_int(obj, "lastOptimize", false, 0, INT64_MAX, &v, NULL) == OSR_OK)
            s->last_optimize = v;
        v = 0;
        if (osr_json_get_int(obj, "lastCheckpoint", false, 0, INT64_MAX, &v, NULL) == OSR_OK)
            s->last_checkpoint = v;
        v = 0;
        if (osr_json_get_int(obj, "lastVacuum", false, 0, INT64_MAX, &v, NULL) == OSR_OK)
            s->last_vacuum = v;
        json_object_put(obj);
    }
    free(text);
    return OSR_OK;
}

static int write_schedule(const char *path, const struct schedule *s, struct osr_diag *diag)
{
    char text[256];
    int n = snprintf(
        text, sizeof(text), "{\"lastCheckpoint\":%lld,\"lastOptimize\":%lld,\"lastVacuum\":%lld}\n",
        (long long)s->last_checkpoint, (long long)s->last_optimize, (long long)s->last_vacuum);
    return osr_write_file_atomic(path, text, (size_t)n, 0644, diag);
}

static bool due(int64_t last, int64_t now, int64_t every)
{
    return last <= 0 || now < last || now - last >= every;
}

int osr_store_maintain(const char *home, const struct osr_store_keys *keys, int64_t now_ms,
                       struct osr_store_maint_report *report, struct osr_diag *diag)
{
    struct osr_store_maint_report local;
    if (!report)
        report = &local;
    memset(report, 0, sizeof(*report));
    char *mpath = osr_path_join(home, MAINT_FILE);
    struct schedule sch;
    int rc = read_schedule(mpath, &sch, diag);
    if (rc)
        goto out;
    bool do_opt = due(sch.last_optimize, now_ms, OSR_STORE_OPTIMIZE_EVERY_MS);
    bool do_ckpt = due(sch.last_checkpoint, now_ms, OSR_STORE_CHECKPOINT_EVERY_MS);
    bool do_vac = due(sch.last_vacuum, now_ms, OSR_STORE_VACUUM_EVERY_MS);
    if (!do_opt && !do_ckpt && !do_vac)
        goto out;
    int first_err = OSR_OK;
    for (size_t i = 0; osr_store_databases[i]; i++) {
        char *path = osr_path_join(home, osr_store_databases[i]);
        enum osr_store_kind kind;
        struct osr_diag d = {0};
        int r = osr_store_detect(path, &kind, &d);
        if (!r && kind == OSR_STORE_MISSING) {
            free(path);
            continue;
        }
        struct osr_store *s = NULL;
        struct osr_store_options o = {.home = home, .keys = keys};
        if (!r)
            r = osr_store_open(&s, path, &o, &d);
        /* Each task on its own: a busy VACUUM must not stop the checkpoint. */
        if (!r && do_opt && (r = osr_store_exec(s, "PRAGMA optimize", &d)) == OSR_OK)
            report->optimized++;
        if (!r && do_ckpt &&
            (r = osr_store_exec(s, "PRAGMA wal_checkpoint(TRUNCATE)", &d)) == OSR_OK)
            report->checkpointed++;
        if (!r && do_vac && (r = osr_store_exec(s, "VACUUM", &d)) == OSR_OK)
            report->vacuumed++;
        osr_store_close(s);
        if (r && !first_err) {
            first_err = r;
            osr_diag_set(diag, r, "maintenance of '%s' failed: %s", path, d.msg);
        }
        free(path);
    }
    if (do_opt)
        sch.last_optimize = now_ms;
    if (do_ckpt)
        sch.last_checkpoint = now_ms;
    if (do_vac)
        sch.last_vacuum = now_ms;
    rc = write_schedule(mpath, &sch, first_err ? NULL : diag);
    if (first_err)
        rc = first_err;
out:
    free(mpath);
    return rc;
}
