/* store.c - SQLCipher databases: detection-first open, migrations, transactions and the
 * plaintext <-> encrypted conversion.
 *
 * This file owns every sqlite3 connection the project opens.  It decides whether a file gets
 * a key by looking at the file, never by trusting a setting: a plaintext database is never
 * keyed and an encrypted one is never opened without a key.  It does not know any schema; the
 * modules above it pass their numbered migrations.  Keys are loaded in store_keys.c and the
 * periodic maintenance lives in store_maint.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "osr/alloc.h"
#include "osr/buf.h"
#include "osr/clock.h"
#include "osr/codec.h"
#include "osr/config.h"
#include "osr/json.h"
#include "osr/store.h"

#define SQLITE_MAGIC "SQLite format 3"
#define TEMP_SUFFIX ".convert-tmp"

struct osr_store {
    sqlite3 *db;
    char *path;
    bool encrypted;
    int key_slot; /* 0 none, 1 keys->key, 2 keys->next */
};

const char *const osr_store_databases[] = {
    "chat-history/history.sqlite",
    "memory/memory.sqlite",
    "methods/methods.sqlite",
    "tool-index/tool_index.sqlite",
    "billing/ledger.sqlite",
    "scheduler.sqlite",
    "secrets/secrets.sqlite",
    NULL,
};

static int (*test_hook)(enum osr_store_step step);

void osr_store_set_test_hook(int (*hook)(enum osr_store_step step))
{
    test_hook = hook;
}

static int step_done(enum osr_store_step step, struct osr_diag *diag)
{
    if (test_hook && test_hook(step) != 0)
        return osr_diag_set(diag, OSR_EIO, "conversion step %d failed (test hook)", (int)step);
    return OSR_OK;
}

const char *osr_store_kind_name(enum osr_store_kind kind)
{
    switch (kind) {
    case OSR_STORE_MISSING:
        return "missing";
    case OSR_STORE_PLAINTEXT:
        return "plaintext";
    case OSR_STORE_ENCRYPTED:
        return "encrypted";
    }
    return "unknown";
}

int osr_store_detect(const char *path, enum osr_store_kind *out, struct osr_diag *diag)
{
    *out = OSR_STORE_MISSING;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return OSR_OK;
        return osr_diag_set(diag, OSR_EIO, "cannot open '%s': %s", path, strerror(errno));
    }
    unsigned char head[16];
    size_t got = 0;
    while (got < sizeof(head)) {
        ssize_t r = read(fd, head + got, sizeof(head) - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            return osr_diag_set(diag, OSR_EIO, "cannot read '%s': %s", path, strerror(e));
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got == 0)
        *out = OSR_STORE_MISSING;
    else if (got == sizeof(head) && memcmp(head, SQLITE_MAGIC, sizeof(head)) == 0)
        *out = OSR_STORE_PLAINTEXT; /* the magic's 16th byte is the string's NUL */
    else
        *out = OSR_STORE_ENCRYPTED;
    return OSR_OK;
}

int osr_store_error(struct osr_store *s, int sqlite_rc, const char *what, struct osr_diag *diag)
{
    const char *msg = s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(sqlite_rc);
    int rc;
    switch (sqlite_rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        rc = OSR_EBUSY;
        break;
    case SQLITE_NOMEM:
        rc = OSR_ENOMEM;
        break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        rc = OSR_ECORRUPT;
        break;
    case SQLITE_CONSTRAINT:
        rc = OSR_EEXIST;
        break;
    case SQLITE_TOOBIG:
        rc = OSR_ETOOBIG;
        break;
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
        rc = OSR_EPERM;
        break;
    case SQLITE_MISUSE:
    case SQLITE_RANGE:
    case SQLITE_ERROR:
        rc = OSR_EINVAL;
        break;
    default:
        rc = OSR_EIO;
        break;
    }
    return osr_diag_set(diag, rc, "%s '%s': %s", what, s && s->path ? s->path : "?", msg);
}

int osr_store_exec(struct osr_store *s, const char *sql, struct osr_diag *diag)
{
    int src = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    if (src != SQLITE_OK)
        return osr_store_error(s, src, "cannot run SQL on", diag);
    return OSR_OK;
}

int osr_store_prepare(struct osr_store *s, const char *sql, sqlite3_stmt **out,
                      struct osr_diag *diag)
{
    int src = sqlite3_prepare_v2(s->db, sql, -1, out, NULL);
    if (src != SQLITE_OK) {
        *out = NULL;
        return osr_store_error(s, src, "cannot prepare a statement on", diag);
    }
    return OSR_OK;
}

int osr_store_step_done(struct osr_store *s, sqlite3_stmt *st, struct osr_diag *diag)
{
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW)
        ;
    if (src != SQLITE_DONE)
        return osr_store_error(s, src, "cannot write to", diag);
    return OSR_OK;
}

int osr_store_begin(struct osr_store *s, struct osr_diag *diag)
{
    return osr_store_exec(s, "BEGIN IMMEDIATE", diag);
}

int osr_store_commit(struct osr_store *s, struct osr_diag *diag)
{
    int rc = osr_store_exec(s, "COMMIT", diag);
    if (rc)
        osr_store_rollback(s);
    return rc;
}

void osr_store_rollback(struct osr_store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

sqlite3 *osr_store_db(struct osr_store *s)
{
    return s->db;
}

const char *osr_store_path(const struct osr_store *s)
{
    return s->path;
}

bool osr_store_is_encrypted(const struct osr_store *s)
{
    return s->encrypted;
}

int osr_store_key_slot(const struct osr_store *s)
{
    return s->key_slot;
}

/* Runs a one-value query and copies the text of the first column into out. */
static int query_text(struct osr_store *s, const char *sql, char *out, size_t cap,
                      struct osr_diag *diag)
{
    sqlite3_stmt *st = NULL;
    int rc = osr_store_prepare(s, sql, &st, diag);
    if (rc)
        return rc;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(out, cap, "%s", t ? (const char *)t : "");
        rc = OSR_OK;
    } else if (src == SQLITE_DONE) {
        out[0] = '\0';
        rc = OSR_OK;
    } else {
        rc = osr_store_error(s, src, "cannot read", diag);
    }
    sqlite3_finalize(st);
    return rc;
}

int osr_store_integrity_check(struct osr_store *s, struct osr_diag *diag)
{
    char res[256];
    int rc = query_text(s, "PRAGMA integrity_check", res, sizeof(res), diag);
    if (rc)
        return rc;
    if (strcmp(res, "ok") != 0)
        return osr_diag_set(diag, OSR_ECORRUPT, "integrity check of '%s' failed: %s", s->path, res);
    return OSR_OK;
}

/* Applies a raw 32-byte key with the x'<hex>' form, which SQLCipher uses as the key itself
 * (no passphrase derivation: ours is already random or derived). */
static int apply_key(sqlite3 *db, const uint8_t key[OSR_STORE_KEY_BYTES])
{
    char sql[32 + 2 * OSR_STORE_KEY_BYTES];
    memcpy(sql, "PRAGMA key = \"x'", 16);
    osr_hex_write(sql + 16, key, OSR_STORE_KEY_BYTES);
    memcpy(sql + 16 + 2 * OSR_STORE_KEY_BYTES, "'\"", 3);
    int src = sqlite3_exec(db, sql, NULL, NULL, NULL);
    OPENSSL_cleanse(sql, sizeof(sql));
    return src;
}

/* Reads page 1; with a wrong key this is where SQLCipher's HMAC check fails. */
static int probe(sqlite3 *db)
{
    return sqlite3_exec(db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
}

static char *path_with(const char *path, const char *suffix)
{
    size_t a = strlen(path), b = strlen(suffix);
    char *p = osr_xmalloc(a + b + 1);
    memcpy(p, path, a);
    memcpy(p + a, suffix, b + 1);
    return p;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static int fsync_path(const char *path, bool dir, struct osr_diag *diag)
{
    int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0)
        return osr_diag_set(diag, OSR_EIO, "cannot open '%s': %s", path, strerror(errno));
    int rc = OSR_OK;
    if (fsync(fd) != 0)
        rc = osr_diag_set(diag, OSR_EIO, "cannot sync '%s': %s", path, strerror(errno));
    close(fd);
    return rc;
}

static char *dir_of(const char *path)
{
    char *d = osr_xstrdup(path);
    char *slash = strrchr(d, '/');
    if (!slash) {
        free(d);
        return osr_xstrdup(".");
    }
    if (slash == d)
        slash[1] = '\0';
    else
        *slash = '\0';
    return d;
}

int osr_store_quarantine(const char *home, const char *path, struct osr_diag *diag)
{
    static const char *const sidecars[] = {"", "-wal", "-shm", "-journal"};
    int rc = OSR_OK;
    char *qdir = osr_path_join(home, "quarantine");
    struct osr_buf dst;
    osr_buf_init(&dst, PATH_MAX);
    rc = osr_mkdir_p(qdir, 0700, diag);
    if (rc)
        goto out;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    /* Pick one free name for the main file; its sidecars follow it with the same suffixes. */
    for (int n = 0; n < 1000; n++) {
        osr_buf_reset(&dst);
        if (n == 0)
            rc = osr_buf_appendf(&dst, "%s/%s.%s", qdir, base, stamp);
        else
            rc = osr_buf_appendf(&dst, "%s/%s.%s.%d", qdir, base, stamp, n);
        if (rc) {
            rc = osr_diag_set(diag, OSR_ETOOBIG, "path too long: '%s'", path);
            goto out;
        }
        if (!file_exists(dst.data))
            break;
    }
    size_t base_len = dst.len;
    for (size_t i = 0; i < sizeof(sidecars) / sizeof(sidecars[0]); i++) {
        char *src = path_with(path, sidecars[i]);
        dst.len = base_len;
        dst.data[base_len] = '\0';
        if (osr_buf_puts(&dst, sidecars[i])) {
            free(src);
            rc = osr_diag_set(diag, OSR_ETOOBIG, "path too long: '%s'", path);
            goto out;
        }
        if (file_exists(src) && rename(src, dst.data) != 0) {
            rc = osr_diag_set(diag, OSR_EIO, "cannot move '%s' to '%s': %s", src, dst.data,
                              strerror(errno));
            free(src);
            goto out;
        }
        free(src);
    }
    fsync_path(qdir, true, NULL);
out:
    osr_buf_release(&dst);
    free(qdir);
    return rc;
}

/* A conversion that died before its rename leaves "<path>.convert-tmp" (and maybe its
 * rollback journal).  The original is intact; the temp is moved out of the way. */
static int quarantine_stale_temp(const char *home, const char *path, struct osr_diag *diag)
{
    char *tmp = path_with(path, TEMP_SUFFIX);
    char *tmpj = path_with(tmp, "-journal");
    int rc = OSR_OK;
    if (file_exists(tmp) || file_exists(tmpj))
        rc = osr_store_quarantine(home, tmp, diag);
    free(tmpj);
    free(tmp);
    return rc;
}

/* Opens path with the right key or none.  Touches nothing on OSR_EAUTH. */
static int open_detected(sqlite3 **out, int *slot, const char *path,
                         const struct osr_store_keys *keys, bool encrypt_new, struct osr_diag *diag)
{
    *out = NULL;
    enum osr_store_kind kind;
    int rc = osr_store_detect(path, &kind, diag);
    if (rc)
        return rc;
    bool have_key = keys && keys->has_key;
    if (kind == OSR_STORE_ENCRYPTED && !have_key && !(keys && keys->has_next))
        return osr_diag_set(diag, OSR_EAUTH,
                            "'%s' is encrypted and no storage key is available (set %s, or "
                            "restore keys/storage.key)",
                            path, OSR_STORE_KEY_ENV);
    if (kind == OSR_STORE_MISSING && encrypt_new && !have_key)
        return osr_diag_set(diag, OSR_EAUTH, "cannot create encrypted '%s' without a key", path);

    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX;
    if (kind == OSR_STORE_MISSING)
        flags |= SQLITE_OPEN_CREATE;
    /* Up to two attempts: the current key, then the key of an interrupted rekey. */
    const uint8_t *tries[2] = {NULL, NULL};
    int slots[2] = {0, 0};
    int n_tries = 1;
    if (kind == OSR_STORE_ENCRYPTED) {
        n_tries = 0;
        if (have_key) {
            slots[n_tries] = 1;
            tries[n_tries++] = keys->key;
        }
        if (keys->has_next) {
            slots[n_tries] = 2;
            tries[n_tries++] = keys->next;
        }
    } else if (kind == OSR_STORE_MISSING && encrypt_new) {
        tries[0] = keys->key;
        slots[0] = 1;
    }
    for (int i = 0; i < n_tries; i++) {
        sqlite3 *db = NULL;
        int src = sqlite3_open_v2(path, &db, flags, NULL);
        if (src != SQLITE_OK) {
            rc = osr_diag_set(diag, OSR_EIO, "cannot open '%s': %s", path,
                              db ? sqlite3_errmsg(db) : sqlite3_errstr(src));
            sqlite3_close_v2(db);
            return rc;
        }
        sqlite3_extended_result_codes(db, 1);
        /* Our own message says what went wrong; SQLCipher's page-level log lines on a wrong
         * key would only alarm. */
        sqlite3_exec(db, "PRAGMA cipher_log_level = NONE", NULL, NULL, NULL);
        if (tries[i] && apply_key(db, tries[i]) != SQLITE_OK) {
            rc = osr_diag_set(diag, OSR_EIO, "cannot set the key of '%s': %s", path,
                              sqlite3_errmsg(db));
            sqlite3_close_v2(db);
            return rc;
        }
        src = probe(db);
        if (src == SQLITE_OK) {
            *out = db;
            *slot = slots[i];
            return OSR_OK;
        }
        int primary = src & 0xff;
        char msg[200];
        snprintf(msg, sizeof(msg), "%s", sqlite3_errmsg(db));
        sqlite3_close_v2(db);
        if (primary != SQLITE_NOTADB)
            return osr_diag_set(diag, OSR_EIO, "cannot read '%s': %s", path, msg);
        if (kind == OSR_STORE_PLAINTEXT)
            return osr_diag_set(diag, OSR_ECORRUPT, "'%s' is damaged: %s", path, msg);
    }
    return osr_diag_set(diag, OSR_EAUTH,
                        "cannot open '%s': the storage key does not fit (wrong key, or the file "
                        "is not a database); nothing was changed",
                        path);
}

static int run_migrations(struct osr_store *s, const struct osr_store_migration *m, size_t n,
                          struct osr_diag *diag)
{
    int rc = osr_store_exec(s,
                            "CREATE TABLE IF NOT EXISTS schema_version ("
                            " version INTEGER PRIMARY KEY,"
                            " applied_at INTEGER NOT NULL)",
                            diag);
    if (rc)
        return rc;
    int have = 0;
    rc = osr_store_schema_version(s, &have, diag);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (m[i].version != (int)i + 1)
            return osr_diag_set(diag, OSR_EINVAL, "migration %zu of '%s' is numbered %d", i + 1,
                                s->path, m[i].version);
        if (m[i].version <= have)
            continue;
        rc = osr_store_begin(s, diag);
        if (rc)
            return rc;
        /* Another process may have applied it between our read and our lock. */
        int now_have = 0;
        rc = osr_store_schema_version(s, &now_have, diag);
        if (!rc && m[i].version > now_have) {
            rc = osr_store_exec(s, m[i].sql, diag);
            if (!rc) {
                sqlite3_stmt *st = NULL;
                rc = osr_store_prepare(
                    s, "INSERT INTO schema_version(version, applied_at) VALUES (?1, ?2)", &st,
                    diag);
                if (!rc) {
                    sqlite3_bind_int(st, 1, m[i].version);
                    sqlite3_bind_int64(st, 2, osr_wall_ms());
                    rc = osr_store_step_done(s, st, diag);
                }
                sqlite3_finalize(st);
            }
        }
        if (rc) {
            osr_store_rollback(s);
            return rc;
        }
        rc = osr_store_commit(s, diag);
        if (rc)
            return rc;
    }
    return OSR_OK;
}

int osr_store_schema_version(struct osr_store *s, int *out, struct osr_diag *diag)
{
    char v[32];
    int rc = query_text(s,
                        "SELECT count(*) FROM sqlite_schema WHERE type = 'table'"
                        " AND name = 'schema_version'",
                        v, sizeof(v), diag);
    if (rc)
        return rc;
    if (strcmp(v, "0") == 0) {
        *out = 0; /* never migrated */
        return OSR_OK;
    }
    rc = query_text(s, "SELECT coalesce(max(version), 0) FROM schema_version", v, sizeof(v), diag);
    if (rc)
        return rc;
    char *end;
    long n = strtol(v, &end, 10);
    *out = (int)n;
    return OSR_OK;
}

int osr_store_open(struct osr_store **out, const char *path, const struct osr_store_options *opt,
                   struct osr_diag *diag)
{
    *out = NULL;
    OSR_ASSERT(opt && opt->home);
    int rc;
    char *dir = dir_of(path);
    rc = osr_mkdir_p(dir, 0700, diag);
    free(dir);
    if (rc)
        return rc;
    struct osr_store *s = osr_xcalloc(1, sizeof(*s));
    s->path = osr_xstrdup(path);
    rc = open_detected(&s->db, &s->key_slot, path, opt->keys, opt->encrypt_new, diag);
    if (rc)
        goto out;
    s->encrypted = s->key_slot != 0;
    /* Only now that the key fitted: a wrong key must not move anything. */
    rc = quarantine_stale_temp(opt->home, path, diag);
    if (rc)
        goto out;
    sqlite3_busy_timeout(s->db, opt->busy_timeout_ms > 0 ? opt->busy_timeout_ms : 5000);
    char mode[32];
    rc = query_text(s, "PRAGMA journal_mode = WAL", mode, sizeof(mode), diag);
    if (rc)
        goto out;
    if (strcmp(mode, "wal") != 0) {
        rc = osr_diag_set(diag, OSR_EIO, "cannot put '%s' in WAL mode (got '%s')", path, mode);
        goto out;
    }
    rc = osr_store_exec(s, "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL", diag);
    if (rc)
        goto out;
    /* Without migrations (maintenance, status) the schema is not ours to touch. */
    if (opt->migrations && opt->n_migrations)
        rc = run_migrations(s, opt->migrations, opt->n_migrations, diag);
out:
    if (rc) {
        osr_store_close(s);
        return rc;
    }
    *out = s;
    return OSR_OK;
}

void osr_store_close(struct osr_store *s)
{
    if (!s)
        return;
    if (s->db)
        sqlite3_close_v2(s->db);
    free(s->path);
    free(s);
}

static long long file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    return (long long)st.st_size;
}

/* Opens the exported temp with the target key and checks it before it may replace anything. */
static int verify_temp(const char *tmp, const uint8_t *to_key, int want_tables,
                       struct osr_diag *diag)
{
    struct osr_store_keys k = {0};
    if (to_key) {
        memcpy(k.key, to_key, OSR_STORE_KEY_BYTES);
        k.has_key = true;
    }
    enum osr_store_kind kind;
    int rc = osr_store_detect(tmp, &kind, diag);
    if (rc)
        goto out;
    if ((to_key && kind != OSR_STORE_ENCRYPTED) || (!to_key && kind != OSR_STORE_PLAINTEXT)) {
        rc = osr_diag_set(diag, OSR_ECORRUPT, "export '%s' came out %s", tmp,
                          osr_store_kind_name(kind));
        goto out;
    }
    struct osr_store s = {.path = (char *)tmp};
    int slot;
    rc = open_detected(&s.db, &slot, tmp, &k, false, diag);
    if (rc)
        goto out;
    char res[256];
    rc = query_text(&s, "PRAGMA quick_check", res, sizeof(res), diag);
    if (!rc && strcmp(res, "ok") != 0)
        rc = osr_diag_set(diag, OSR_ECORRUPT, "export '%s' fails its check: %s", tmp, res);
    char n[32];
    if (!rc)
        rc = query_text(&s, "SELECT count(*) FROM sqlite_schema", n, sizeof(n), diag);
    if (!rc && strtol(n, NULL, 10) != want_tables)
        rc = osr_diag_set(diag, OSR_ECORRUPT, "export '%s' has %s schema entries, want %d", tmp, n,
                          want_tables);
    sqlite3_close_v2(s.db);
out:
    osr_store_keys_wipe(&k);
    return rc;
}

int osr_store_convert(const char *path, const char *home, const struct osr_store_keys *keys,
                      const uint8_t *to_key, struct osr_diag *diag)
{
    char *tmp = path_with(path, TEMP_SUFFIX);
    char *wal = path_with(path, "-wal");
    char *shm = path_with(path, "-shm");
    char *dir = dir_of(path);
    struct osr_store src = {.path = (char *)path};
    bool renamed = false;
    char keysql[8 + 2 * OSR_STORE_KEY_BYTES];
    keysql[0] = '\0';

    enum osr_store_kind kind;
    int rc = osr_store_detect(path, &kind, diag);
    if (rc)
        goto out;
    if (kind == OSR_STORE_MISSING)
        goto out; /* nothing to convert */
    rc = open_detected(&src.db, &src.key_slot, path, keys, false, diag);
    if (rc)
        goto out;
    rc = quarantine_stale_temp(home, path, diag);
    if (rc)
        goto out;
    src.encrypted = src.key_slot != 0;
    sqlite3_busy_timeout(src.db, 5000);
    if (!to_key && !src.encrypted)
        goto out; /* already plaintext */
    if (to_key && src.encrypted && keys->has_key &&
        memcmp(keys->key, to_key, OSR_STORE_KEY_BYTES) == 0 && !keys->has_next) {
        goto out; /* already under this key */
    }
    if (to_key && src.encrypted) {
        /* Under next (an interrupted rekey) or key; find out which by trying to_key alone. */
        struct osr_store_keys only = {0};
        memcpy(only.key, to_key, OSR_STORE_KEY_BYTES);
        only.has_key = true;
        sqlite3 *probe_db = NULL;
        int e;
        struct osr_diag ignore;
        int prc = open_detected(&probe_db, &e, path, &only, false, &ignore);
        osr_store_keys_wipe(&only);
        if (prc == OSR_OK) {
            sqlite3_close_v2(probe_db);
            goto out;
        }
    }
    char n_tables[32];
    rc = query_text(&src, "SELECT count(*) FROM sqlite_schema", n_tables, sizeof(n_tables), diag);
    if (rc)
        goto out;
    char uv[32];
    rc = query_text(&src, "PRAGMA user_version", uv, sizeof(uv), diag);
    if (rc)
        goto out;

    if (to_key) {
        memcpy(keysql, "x'", 2);
        osr_hex_write(keysql + 2, to_key, OSR_STORE_KEY_BYTES);
        memcpy(keysql + 2 + 2 * OSR_STORE_KEY_BYTES, "'", 2);
    }
    /* The connection was opened without SQLITE_OPEN_CREATE (so that a vanished database is
     * never recreated empty), and ATTACH inherits that: create the temp file here. */
    int tfd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (tfd < 0) {
        rc = osr_diag_set(diag, OSR_EIO, "cannot create '%s': %s", tmp, strerror(errno));
        goto out;
    }
    close(tfd);
    sqlite3_stmt *st = NULL;
    rc = osr_store_prepare(&src, "ATTACH DATABASE ?1 AS conv KEY ?2", &st, diag);
    if (rc)
        goto out;
    sqlite3_bind_text(st, 1, tmp, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, keysql, -1, SQLITE_STATIC);
    rc = osr_store_step_done(&src, st, diag);
    sqlite3_finalize(st);
    if (rc)
        goto out;
    rc = step_done(OSR_STORE_STEP_TEMP_CREATED, diag);
    if (rc)
        goto out;
    /* sqlcipher_export copies schema and rows; the user version is carried by hand. */
    rc = osr_store_exec(&src, "SELECT sqlcipher_export('conv')", diag);
    if (!rc) {
        char sql[64];
        snprintf(sql, sizeof(sql), "PRAGMA conv.user_version = %ld", strtol(uv, NULL, 10));
        rc = osr_store_exec(&src, sql, diag);
    }
    if (!rc)
        rc = osr_store_exec(&src, "DETACH DATABASE conv", diag);
    if (rc)
        goto out;
    rc = step_done(OSR_STORE_STEP_EXPORTED, diag);
    if (rc)
        goto out;
    /* Closing the last connection checkpoints the WAL into the file and removes it. */
    sqlite3_close_v2(src.db);
    src.db = NULL;
    rc = fsync_path(tmp, false, diag);
    if (rc)
        goto out;
    rc = step_done(OSR_STORE_STEP_TEMP_SYNCED, diag);
    if (rc)
        goto out;
    rc = verify_temp(tmp, to_key, (int)strtol(n_tables, NULL, 10), diag);
    if (rc)
        goto out;
    rc = step_done(OSR_STORE_STEP_VERIFIED, diag);
    if (rc)
        goto out;
    /* A WAL with frames next to the new file would be replayed into it: someone else still
     * has the database open.  Refuse rather than risk it. */
    if (file_size(wal) > 0) {
        rc = osr_diag_set(diag, OSR_EBUSY,
                          "'%s' is in use by another process (its WAL is not empty); stop the "
                          "server and try again",
                          path);
        goto out;
    }
    if (rename(tmp, path) != 0) {
        rc = osr_diag_set(diag, OSR_EIO, "cannot rename '%s' to '%s': %s", tmp, path,
                          strerror(errno));
        goto out;
    }
    renamed = true;
    rc = step_done(OSR_STORE_STEP_RENAMED, diag);
    if (rc)
        goto out;
    rc = fsync_path(dir, true, diag);
    if (rc)
        goto out;
    rc = step_done(OSR_STORE_STEP_DIR_SYNCED, diag);
    if (rc)
        goto out;
    /* Both are empty here (checked above for the WAL; the shm is only an index). */
    if (file_exists(wal))
        unlink(wal);
    if (file_exists(shm))
        unlink(shm);
    rc = step_done(OSR_STORE_STEP_SIDECARS_REMOVED, diag);
out:
    OPENSSL_cleanse(keysql, sizeof(keysql));
    if (src.db)
        sqlite3_close_v2(src.db);
    if (rc && !renamed && file_exists(tmp))
        osr_store_quarantine(home, tmp, NULL);
    free(dir);
    free(shm);
    free(wal);
    free(tmp);
    return rc;
}

int osr_store_posture_read(const char *home, bool *encrypted, bool *present, struct osr_diag *diag)
{
    *present = false;
    char *path = osr_path_join(home, ".storage-encryption.json");
    char *text = NULL;
    size_t len = 0;
    struct json_object *obj = NULL;
    int rc = osr_read_file(path, 64 * 1024, &text, &len, diag);
    if (rc == OSR_ENOTFOUND) {
        osr_diag_clear(diag);
        rc = OSR_OK;
        goto out;
    }
    if (rc)
        goto out;
    rc = osr_json_parse(text, len, &obj, diag);
    if (!rc)
        rc = osr_json_get_bool(obj, "encrypted", true, encrypted, diag);
    if (rc) {
        char why[OSR_DIAG_MAX];
        snprintf(why, sizeof(why), "%s", diag ? diag->msg : "invalid");
        rc = osr_diag_set(diag, OSR_ECONFIG, "'%s': %s", path, why);
    } else
        *present = true;
out:
    if (obj)
        json_object_put(obj);
    free(text);
    free(path);
    return rc;
}

int osr_store_posture_write(const char *home, bool encrypted, struct osr_diag *diag)
{
    char *path = osr_path_join(home, ".storage-encryption.json");
    char when[OSR_ISO8601_MAX];
    osr_time_iso8601(when, osr_wall_ms(), 0);
    char text[160];
    int n = snprintf(text, sizeof(text),
                     "{\"cipher\":\"sqlcipher-4\",\"encrypted\":%s,\"updatedAt\":\"%s\","
                     "\"version\":1}\n",
                     encrypted ? "true" : "false", when);
    int rc = osr_mkdir_p(home, 0700, diag);
    if (!rc)
        rc = osr_write_file_atomic(path, text, (size_t)n, 0644, diag);
    free(path);
    return rc;
}

int osr_store_posture_desired(const char *home, bool *encrypt_new, struct osr_diag *diag)
{
    bool enc = true, present = false;
    int rc = osr_store_posture_read(home, &enc, &present, diag);
    *encrypt_new = present ? enc : true;
    return rc;
}
