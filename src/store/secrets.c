/* secrets.c - the encrypted secret store and the migration from providers/secrets.json.
 *
 * One small table in its own SQLCipher database, so secrets never share a file (or a page
 * cache) with chat history.  Values are wiped from memory when this module is done with them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <sqlcipher/sqlite3.h>

#include "osr/alloc.h"
#include "osr/clock.h"
#include "osr/config.h"
#include "osr/json.h"
#include "osr/secrets.h"
#include "osr/store.h"

#define SECRETS_FILE_MAX (4u << 20)

struct osr_secrets {
    struct osr_store *store;
};

static const struct osr_store_migration migrations[] = {
    {1, "CREATE TABLE secrets (scope TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,"
        " updated_at INTEGER NOT NULL, PRIMARY KEY (scope, name));"},
};

int osr_secrets_open(struct osr_secrets **out, const char *home, struct osr_diag *diag)
{
    *out = NULL;
    bool encrypt_new = true;
    if (osr_store_posture_desired(home, &encrypt_new, NULL) != OSR_OK)
        encrypt_new = true;
    struct osr_store_keys keys;
    memset(&keys, 0, sizeof(keys));
    int rc = osr_store_keys_load(&keys, home, encrypt_new, diag);
    if (rc) {
        osr_store_keys_wipe(&keys);
        return rc;
    }
    char *dir = osr_path_join(home, "secrets");
    char *path = osr_path_join(dir, "secrets.sqlite");
    rc = osr_mkdir_p(dir, 0700, diag);
    struct osr_secrets *s = osr_xcalloc(1, sizeof(*s));
    if (!rc) {
        struct osr_store_options o = {
            .home = home,
            .keys = keys.has_key ? &keys : NULL,
            .encrypt_new = encrypt_new && keys.has_key,
            .migrations = migrations,
            .n_migrations = sizeof(migrations) / sizeof(migrations[0]),
        };
        rc = osr_store_open(&s->store, path, &o, diag);
    }
    osr_store_keys_wipe(&keys);
    free(path);
    free(dir);
    if (rc) {
        free(s);
        return rc;
    }
    *out = s;
    return OSR_OK;
}

void osr_secrets_close(struct osr_secrets *s)
{
    if (!s)
        return;
    osr_store_close(s->store);
    free(s);
}

int osr_secrets_put(struct osr_secrets *s, const char *scope, const char *name, const char *value,
                    struct osr_diag *diag)
{
    sqlite3_stmt *st = NULL;
    int rc = osr_store_prepare(s->store,
                               "INSERT INTO secrets (scope, name, value, updated_at) VALUES"
                               " (?1, ?2, ?3, ?4) ON CONFLICT (scope, name) DO UPDATE SET"
                               " value = excluded.value, updated_at = excluded.updated_at",
                               &st, diag);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, value, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, osr_wall_ms());
    rc = osr_store_step_done(s->store, st, diag);
    sqlite3_finalize(st);
    return rc;
}

int osr_secrets_get(struct osr_secrets *s, const char *scope, const char *name, char **value,
                    struct osr_diag *diag)
{
    *value = NULL;
    sqlite3_stmt *st = NULL;
    int rc = osr_store_prepare(s->store, "SELECT value FROM secrets WHERE scope = ?1 AND name = ?2",
                               &st, diag);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        *value = osr_xstrdup(v ? v : "");
        rc = OSR_OK;
    } else if (src == SQLITE_DONE) {
        rc = OSR_ENOTFOUND;
    } else {
        rc = osr_store_error(s->store, src, "reading a secret", diag);
    }
    sqlite3_finalize(st);
    return rc;
}

int osr_secrets_delete(struct osr_secrets *s, const char *scope, const char *name,
                       struct osr_diag *diag)
{
    sqlite3_stmt *st = NULL;
    int rc = osr_store_prepare(s->store, "DELETE FROM secrets WHERE scope = ?1 AND name = ?2", &st,
                               diag);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    rc = osr_store_step_done(s->store, st, diag);
    sqlite3_finalize(st);
    if (rc == OSR_OK && sqlite3_changes(osr_store_db(s->store)) == 0)
        rc = OSR_ENOTFOUND;
    return rc;
}

int osr_secrets_scope_json(struct osr_secrets *s, const char *scope, struct json_object **out,
                           struct osr_diag *diag)
{
    *out = NULL;
    sqlite3_stmt *st = NULL;
    int rc = osr_store_prepare(
        s->store, "SELECT name, value FROM secrets WHERE scope = ?1 ORDER BY name", &st, diag);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
    struct json_object *obj = json_object_new_object();
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        const char *value = (const char *)sqlite3_column_text(st, 1);
        int n = sqlite3_column_bytes(st, 1);
        struct json_object *v = NULL;
        if (name && value && osr_json_parse(value, (size_t)n, &v, NULL) == OSR_OK && v)
            json_object_object_add(obj, name, v);
    }
    if (src != SQLITE_DONE) {
        rc = osr_store_error(s->store, src, "listing secrets", diag);
        json_object_put(obj);
        obj = NULL;
    }
    sqlite3_finalize(st);
    *out = obj;
    return rc;
}

/* Overwrites the file with zeros, syncs and removes it. */
static void shred(const char *path, size_t len)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        char zeros[4096];
        memset(zeros, 0, sizeof(zeros));
        for (size_t done = 0; done < len;) {
            size_t k = len - done < sizeof(zeros) ? len - done : sizeof(zeros);
            ssize_t w = write(fd, zeros, k);
            if (w <= 0)
                break;
            done += (size_t)w;
        }
        fsync(fd);
        close(fd);
    }
    unlink(path);
}

int osr_secrets_migrate_providers(const char *home, struct osr_diag *diag)
{
    char *dir = osr_path_join(home, "providers");
    char *path = osr_path_join(dir, "secrets.json");
    free(dir);
    char *text = NULL;
    size_t len = 0;
    int rc = osr_read_file(path, SECRETS_FILE_MAX, &text, &len, diag);
    if (rc == OSR_ENOTFOUND) {
        free(path);
        return 0;
    }
    struct json_object *root = NULL;
    struct osr_secrets *s = NULL;
    int moved = 0;
    if (rc)
        goto out;
    rc = osr_json_parse(text, len, &root, diag);
    if (rc == OSR_OK && !json_object_is_type(root, json_type_object))
        rc = osr_diag_set(diag, OSR_ECONFIG, "'%s' must hold a JSON object", path);
    if (rc)
        goto out;
    rc = osr_secrets_open(&s, home, diag);
    if (rc)
        goto out;
    rc = osr_store_begin(s->store, diag);
    if (rc)
        goto out;
    json_object_object_foreach(root, name, val)
    {
        const char *v = json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN);
        rc = osr_secrets_put(s, "provider", name, v, diag);
        if (rc)
            break;
        moved++;
    }
    if (rc) {
        osr_store_rollback(s->store);
        goto out;
    }
    rc = osr_store_commit(s->store, diag);
    if (rc)
        goto out;
    shred(path, len);
out:
    if (text) {
        OPENSSL_cleanse(text, len);
        free(text);
    }
    json_object_put(root);
    osr_secrets_close(s);
    free(path);
    return rc ? rc : moved;
}
