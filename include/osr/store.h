/* store.h - SQLCipher databases under $OSAURUS_HOME: keys, detection-first open, migrations,
 * conversion between plaintext and encrypted, quarantine and maintenance.
 *
 * One database per concern (chat-history/history.sqlite, memory/memory.sqlite, ...).  Every
 * database is opened the same way: look at the first 16 bytes; "SQLite format 3\0" means a
 * plaintext file that is never given a key; anything else non-empty is an encrypted file that
 * needs the data key; a missing or empty file is created in the desired posture.  A wrong or
 * missing key is OSR_EAUTH and leaves every file exactly as it was.
 *
 * The data key (DEK) is 32 random bytes kept outside the data folders: $OSAURUS_STORAGE_KEY
 * (64 hex digits), or a passphrase in $OSAURUS_STORAGE_PASSPHRASE stretched with
 * PBKDF2-HMAC-SHA256 and the salt in <home>/.storage-key.salt, or the 0600 file
 * <home>/keys/storage.key.  docs/internals/STORAGE.md has the details.
 *
 * Thread rules: a struct osr_store belongs to one thread at a time (SQLite's serialized mode
 * makes concurrent use safe but not meaningful for transactions).  The key functions are
 * reentrant.  osr_store_set_test_hook is for tests and is not thread-safe.
 */
#ifndef OSR_STORE_H
#define OSR_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlcipher/sqlite3.h>

#include "osr/err.h"

#define OSR_STORE_KEY_BYTES 32
#define OSR_STORE_KEY_ENV "OSAURUS_STORAGE_KEY"
#define OSR_STORE_PASSPHRASE_ENV "OSAURUS_STORAGE_PASSPHRASE"
#define OSR_STORE_PBKDF2_ITERATIONS 600000
#define OSR_STORE_SALT_BYTES 16

/* The keys a database may be under.  `next` exists only while a rekey is in progress (or was
 * interrupted): a database is then under either key and the opener tries both. */
struct osr_store_keys {
    uint8_t key[OSR_STORE_KEY_BYTES];
    bool has_key;
    uint8_t next[OSR_STORE_KEY_BYTES];
    bool has_next;
    char source[16]; /* "env", "passphrase", "file" or "" - for status output */
};

/* Loads the data key: $OSAURUS_STORAGE_KEY, else $OSAURUS_STORAGE_PASSPHRASE (PBKDF2 with the
 * salt file, created when missing and create is true), else <home>/keys/storage.key (created
 * with 32 random bytes when missing and create is true).  <home>/keys/storage.key.next is
 * loaded into keys->next when present.  A key file readable by group or others is refused
 * (OSR_EPERM).  Returns OSR_OK (keys->has_key may be false when nothing exists and create is
 * false), OSR_EINVAL for a malformed key, OSR_EPERM or OSR_EIO.  Wipe with
 * osr_store_keys_wipe. */
int osr_store_keys_load(struct osr_store_keys *keys, const char *home, bool create,
                        struct osr_diag *diag);

/* Derives a key from a passphrase: PBKDF2-HMAC-SHA256 over salt, OSR_STORE_PBKDF2_ITERATIONS. */
int osr_store_key_derive(uint8_t out[OSR_STORE_KEY_BYTES], const char *passphrase,
                         const uint8_t *salt, size_t salt_len, struct osr_diag *diag);

/* Reads a 0600 key file holding 64 hex digits (and optional trailing whitespace). */
int osr_store_key_read_file(uint8_t out[OSR_STORE_KEY_BYTES], const char *path,
                            struct osr_diag *diag);

/* Writes key as 64 hex digits to path with mode 0600, atomically, fsynced. */
int osr_store_key_write_file(const uint8_t key[OSR_STORE_KEY_BYTES], const char *path,
                             struct osr_diag *diag);

/* Clears the key material with OPENSSL_cleanse. */
void osr_store_keys_wipe(struct osr_store_keys *keys);

enum osr_store_kind {
    OSR_STORE_MISSING,   /* no file, or an empty one */
    OSR_STORE_PLAINTEXT, /* starts with "SQLite format 3\0" */
    OSR_STORE_ENCRYPTED, /* non-empty, no magic */
};

/* Looks at path's first 16 bytes.  Returns OSR_OK or OSR_EIO. */
int osr_store_detect(const char *path, enum osr_store_kind *out, struct osr_diag *diag);

const char *osr_store_kind_name(enum osr_store_kind kind);

/* One numbered migration; versions start at 1 and increase by one.  sql may hold several
 * statements; it runs in one transaction with the version bump. */
struct osr_store_migration {
    int version;
    const char *sql;
};

struct osr_store_options {
    const char *home;                  /* for quarantine/ and the posture marker; required */
    const struct osr_store_keys *keys; /* borrowed; may be NULL (plaintext only) */
    bool encrypt_new;                  /* create a missing database encrypted (needs a key) */
    const struct osr_store_migration *migrations; /* borrowed, may be NULL */
    size_t n_migrations;
    int busy_timeout_ms; /* 0 = 5000 */
};

struct osr_store;

/* Opens (or creates) the database at path, detection-first; sets WAL, foreign_keys=ON,
 * synchronous=FULL and the busy timeout; quarantines a conversion temp file left by a crash;
 * runs the pending migrations.  Returns OSR_OK and *out (free with osr_store_close),
 * OSR_EAUTH (encrypted and no key, or no key fits; nothing touched), OSR_ECORRUPT (not a
 * database or a failed integrity probe), OSR_EIO, or the error of a failed migration. */
int osr_store_open(struct osr_store **out, const char *path, const struct osr_store_options *opt,
                   struct osr_diag *diag);

/* Closes the database (NULL is a no-op). */
void osr_store_close(struct osr_store *s);

/* The underlying connection, valid until osr_store_close. */
sqlite3 *osr_store_db(struct osr_store *s);
const char *osr_store_path(const struct osr_store *s);
bool osr_store_is_encrypted(const struct osr_store *s);
/* Which key opened it: 0 none (plaintext), 1 keys->key, 2 keys->next. */
int osr_store_key_slot(const struct osr_store *s);
/* The highest applied migration. */
int osr_store_schema_version(struct osr_store *s, int *out, struct osr_diag *diag);

/* Runs sql (one or more statements, no results).  Returns OSR_OK or an error with the SQLite
 * message in diag. */
int osr_store_exec(struct osr_store *s, const char *sql, struct osr_diag *diag);
/* Prepares one statement; the caller finalizes it with sqlite3_finalize. */
int osr_store_prepare(struct osr_store *s, const char *sql, sqlite3_stmt **out,
                      struct osr_diag *diag);
/* Steps a statement that returns no rows (or whose rows are ignored) to completion. */
int osr_store_step_done(struct osr_store *s, sqlite3_stmt *st, struct osr_diag *diag);
/* Maps a SQLite result code to an osr_err and writes the connection's message to diag. */
int osr_store_error(struct osr_store *s, int sqlite_rc, const char *what, struct osr_diag *diag);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK.  Transactions do not nest. */
int osr_store_begin(struct osr_store *s, struct osr_diag *diag);
int osr_store_commit(struct osr_store *s, struct osr_diag *diag);
void osr_store_rollback(struct osr_store *s);

/* Runs PRAGMA integrity_check; OSR_OK when it says "ok", OSR_ECORRUPT otherwise. */
int osr_store_integrity_check(struct osr_store *s, struct osr_diag *diag);

/* Rewrites the database at path under the target posture: to_key NULL means plaintext,
 * otherwise encrypted under to_key.  The source is opened detection-first with keys.  The copy
 * is made with sqlcipher_export into "<path>.convert-tmp", fsynced, verified, renamed over
 * path, the folder fsynced, then empty -wal/-shm files removed.  The original is intact until
 * the rename; a crash leaves either the old or the new database, never a mix.  A database
 * already in the target posture (same key) is left alone (OSR_OK).  Returns OSR_OK, OSR_EAUTH,
 * OSR_EBUSY (another connection holds unmerged WAL frames), OSR_EIO or OSR_ECORRUPT. */
int osr_store_convert(const char *path, const char *home, const struct osr_store_keys *keys,
                      const uint8_t *to_key, struct osr_diag *diag);

/* Moves path (and its -wal/-shm) into <home>/quarantine/<name>.<UTC stamp>[.n].  Nothing is
 * deleted.  Returns OSR_OK (also when path does not exist) or OSR_EIO. */
int osr_store_quarantine(const char *home, const char *path, struct osr_diag *diag);

/* The databases this module knows, relative to the home (NULL-terminated). */
extern const char *const osr_store_databases[];

/* The posture marker <home>/.storage-encryption.json. */
int osr_store_posture_read(const char *home, bool *encrypted, bool *present, struct osr_diag *diag);
int osr_store_posture_write(const char *home, bool encrypted, struct osr_diag *diag);
/* The posture new databases get: the marker's when present, else encrypted (the default). */
int osr_store_posture_desired(const char *home, bool *encrypt_new, struct osr_diag *diag);

/* What osr_store_maintain did. */
struct osr_store_maint_report {
    int optimized;    /* databases given PRAGMA optimize */
    int checkpointed; /* databases given wal_checkpoint(TRUNCATE) */
    int vacuumed;     /* databases given VACUUM */
};

#define OSR_STORE_OPTIMIZE_EVERY_MS (6LL * 3600 * 1000)
#define OSR_STORE_CHECKPOINT_EVERY_MS (7LL * 24 * 3600 * 1000)
#define OSR_STORE_VACUUM_EVERY_MS (30LL * 24 * 3600 * 1000)

/* Runs what is due at now_ms on every existing database of osr_store_databases (plugin
 * databases are excluded, as in the original): PRAGMA optimize every 6 h,
 * wal_checkpoint(TRUNCATE) every 7 days, VACUUM every 30 days, tracked in
 * <home>/.storage-maintenance.json.  A database that cannot be opened is skipped and named
 * in diag; the run goes on.  Returns OSR_OK or the first error. */
int osr_store_maintain(const char *home, const struct osr_store_keys *keys, int64_t now_ms,
                       struct osr_store_maint_report *report, struct osr_diag *diag);

/* Conversion steps, in order, for the test hook. */
enum osr_store_step {
    OSR_STORE_STEP_TEMP_CREATED,
    OSR_STORE_STEP_EXPORTED,
    OSR_STORE_STEP_TEMP_SYNCED,
    OSR_STORE_STEP_VERIFIED,
    OSR_STORE_STEP_RENAMED,
    OSR_STORE_STEP_DIR_SYNCED,
    OSR_STORE_STEP_SIDECARS_REMOVED,
    OSR_STORE_STEP_COUNT,
};

/* Tests only: hook(step) is called after each conversion step; a non-zero return makes the
 * conversion fail there as if the step's system call had failed.  NULL removes it. */
void osr_store_set_test_hook(int (*hook)(enum osr_store_step step));

#endif
