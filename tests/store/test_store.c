/* test_store.c - keys, detection-first open, wrong/missing keys, migrations, conversion
 * (including a failure and a crash at every step, and SIGKILL mid-conversion). */
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "check.h"
#include "osr/alloc.h"
#include "osr/clock.h"
#include "osr/store.h"
#include "osr/uuid.h"
#include "store_util.h"

static const struct osr_store_migration migs[] = {
    {1, "CREATE TABLE IF NOT EXISTS notes(id INTEGER PRIMARY KEY, body TEXT NOT NULL)"},
    {2, "CREATE TABLE IF NOT EXISTS tags(note INTEGER NOT NULL REFERENCES notes(id),"
        " tag TEXT NOT NULL)"},
};

static void key_of(struct osr_store_keys *k, uint8_t fill)
{
    memset(k, 0, sizeof(*k));
    memset(k->key, fill, sizeof(k->key));
    k->has_key = true;
}

static int open_db(struct osr_store **s, const char *home, const char *path,
                   const struct osr_store_keys *k, bool enc, struct osr_diag *d)
{
    struct osr_store_options o = {
        .home = home, .keys = k, .encrypt_new = enc, .migrations = migs, .n_migrations = 2};
    return osr_store_open(s, path, &o, d);
}

static void add_notes(struct osr_store *s, int from, int n, const char *word)
{
    osr_store_begin(s, NULL);
    sqlite3_stmt *st = NULL;
    osr_store_prepare(s, "INSERT INTO notes(id, body) VALUES (?1, ?2)", &st, NULL);
    for (int i = 0; i < n; i++) {
        char body[128];
        snprintf(body, sizeof(body), "%s number %d", word, from + i);
        sqlite3_bind_int(st, 1, from + i);
        sqlite3_bind_text(st, 2, body, -1, SQLITE_TRANSIENT);
        osr_store_step_done(s, st, NULL);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    osr_store_commit(s, NULL);
}

static long count_notes(struct osr_store *s)
{
    sqlite3_stmt *st = NULL;
    if (osr_store_prepare(s, "SELECT count(*) FROM notes", &st, NULL))
        return -1;
    long n = sqlite3_step(st) == SQLITE_ROW ? (long)sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return n;
}

static void t_create_encrypted_and_reopen(void)
{
    char *home = scratch_home("enc");
    char *path = osr_path_join(home, "chat-history/history.sqlite");
    struct osr_store_keys k;
    key_of(&k, 0x11);
    struct osr_store *s = NULL;
    struct osr_diag d = {0};
    REQUIRE(open_db(&s, home, path, &k, true, &d) == OSR_OK);
    CHECK(osr_store_is_encrypted(s));
    add_notes(s, 1, 10, "zebra-marker");
    int v = 0;
    CHECK(osr_store_schema_version(s, &v, NULL) == OSR_OK);
    CHECK_INT_EQ(v, 2);
    osr_store_close(s);
    enum osr_store_kind kind;
    CHECK(osr_store_detect(path, &kind, NULL) == OSR_OK);
    CHECK_INT_EQ(kind, OSR_STORE_ENCRYPTED);
    char *hit = NULL;
    CHECK_INT_EQ(grep_tree(home, "zebra-marker", &hit), 0);
    free(hit);
    s = NULL;
    REQUIRE(open_db(&s, home, path, &k, true, &d) == OSR_OK);
    CHECK_INT_EQ(count_notes(s), 10);
    CHECK(osr_store_integrity_check(s, NULL) == OSR_OK);
    osr_store_close(s);
    rm_rf(home);
    free(path);
    free(home);
}

static void t_wrong_and_missing_key_touch_nothing(void)
{
    char *home = scratch_home("wrong");
    char *path = osr_path_join(home, "chat-history/history.sqlite");
    struct osr_store_keys k, wrong;
    key_of(&k, 0x22);
    key_of(&wrong, 0x23);
    struct osr_store *s = NULL;
    struct osr_diag d = {0};
    REQUIRE(open_db(&s, home, path, &k, true, &d) == OSR_OK);
    add_notes(s, 1, 50, "hello");
    osr_store_close(s);

    char *before = snapshot(home);
    s = NULL;
    CHECK_INT_EQ(open_db(&s, home, path, &wrong, true, &d), OSR_EAUTH);
    CHECK(s == NULL);
    CHECK(strstr(d.msg, "does not fit") != NULL);
    CHECK_INT_EQ(open_db(&s, home, path, NULL, true, &d), OSR_EAUTH);
    CHECK(strstr(d.msg, "no storage key") != NULL);
    struct osr_store_keys none = {0};
    CHECK_INT_EQ(open_db(&s, home, path, &none, false, &d), OSR_EAUTH);
    /* a conversion with the wrong key must not start either */
    CHECK_INT_EQ(osr_store_convert(path, home, &wrong, NULL, &d), OSR_EAUTH);
    char *after = snapshot(home);
    CHECK_STR_EQ(after, before);
    free(before);
    free(after);

    /* the right key still works after all that */
    REQUIRE(open_db(&s, home, path, &k, true, &d) == OSR_OK);
    CHECK_INT_EQ(count_notes(s), 50);
    osr_store_close(s);
    rm_rf(home);
    free(path);
    free(home);
}

static void t_plaintext_is_never_keyed(void)
{
    char *home = scratch_home("plain");
    char *path = osr_path_join(home, "memory/memory.sqlite");
    struct osr_store_keys k;
    key_of(&k, 0x33);
    struct osr_store *s = NULL;
    REQUIRE(open_db(&s, home, path, NULL, false, NULL) == OSR_OK);
    CHECK(!osr_store_is_encrypted(s));
    add_notes(s, 1, 3, "plain-words");
    osr_store_close(s);
    enum osr_store_kind kind;
    osr_store_detect(path, &kind, NULL);
    CHECK_INT_EQ(kind, OSR_STORE_PLAINTEXT);
    /* a key and encrypt_new do not change an existing plaintext file */
    REQUIRE(open_db(&s, home, path, &k, true, NULL) == OSR_OK);
    CHECK(!osr_store_is_encrypted(s));
    CHECK_INT_EQ(count_notes(s), 3);
    osr_store_close(s);
    osr_store_detect(path, &kind, NULL);
    CHECK_INT_EQ(kind, OSR_STORE_PLAINTEXT);
    /* an empty file is created in the desired posture */
    char *empty = osr_path_join(home, "empty.sqlite");
    FILE *f = fopen(empty, "w");
    fclose(f);
    REQUIRE(open_db(&s, home, empty, &k, true, NULL) == OSR_OK);
    CHECK(osr_store_is_encrypted(s));
    osr_store_close(s);
    osr_store_detect(empty, &kind, NULL);
    CHECK_INT_EQ(kind, OSR_STORE_ENCRYPTED);
    /* garbage that is not a database: refused, untouched */
    char *junk = osr_path_join(home, "junk.sqlite");
    f = fopen(junk, "w");
    fputs("this is not a database at all, just some text of some length......", f);
    fclose(f);
    char *before = snapshot(home);
    struct osr_diag d = {0};
    CHECK_INT_EQ(open_db(&s, home, junk, &k, true, &d), OSR_EAUTH);
    char *after = snapshot(home);
    CHECK_STR_EQ(after, before);
    free(before);
    free(after);
    free(junk);
    free(empty);
    rm_rf(home);
    free(path);
    free(home);
}

static void t_migrations_idempotent(void)
{
    char *home = scratch_home("mig");
    char *path = osr_path_join(home, "m.sqlite");
    struct osr_store *s = NULL;
    struct osr_store_options o = {.home = home, .migrations = migs, .n_migrations = 1};
    REQUIRE(osr_store_open(&s, path, &o, NULL) == OSR_OK);
    int v = 0;
    osr_store_schema_version(s, &v, NULL);
    CHECK_INT_EQ(v, 1);
    osr_store_close(s);
    for (int i = 0; i < 3; i++) {
        o.n_migrations = 2;
        REQUIRE(osr_store_open(&s, path, &o, NULL) == OSR_OK);
        osr_store_schema_version(s, &v, NULL);
        CHECK_INT_EQ(v, 2);
        sqlite3_stmt *st = NULL;
        osr_store_prepare(s, "SELECT count(*) FROM schema_version", &st, NULL);
        CHECK(sqlite3_step(st) == SQLITE_ROW);
        CHECK_INT_EQ(sqlite3_column_int(st, 0), 2);
        sqlite3_finalize(st);
        osr_store_close(s);
    }
    /* foreign keys are enforced */
    REQUIRE(osr_store_open(&s, path, &o, NULL) == OSR_OK);
    struct osr_diag d = {0};
    CHECK(osr_store_exec(s, "INSERT INTO tags(note, tag) VALUES (999, 'x')", &d) != OSR_OK);
    osr_store_close(s);
    /* a bad migration rolls back and is reported */
    static const struct osr_store_migration bad[] = {
        {1, "CREATE TABLE IF NOT EXISTS notes(id INTEGER PRIMARY KEY, body TEXT NOT NULL)"},
        {2, "CREATE TABLE IF NOT EXISTS tags(note INTEGER, tag TEXT)"},
        {3, "CREATE TABLE t3(a); THIS IS NOT SQL"},
    };
    o.migrations = bad;
    o.n_migrations = 3;
    CHECK(osr_store_open(&s, path, &o, &d) != OSR_OK);
    o.n_migrations = 2;
    REQUIRE(osr_store_open(&s, path, &o, NULL) == OSR_OK);
    osr_store_schema_version(s, &v, NULL);
    CHECK_INT_EQ(v, 2);
    CHECK(osr_store_exec(s, "SELECT * FROM t3", NULL) != OSR_OK);
    osr_store_close(s);
    rm_rf(home);
    free(path);
    free(home);
}

static void t_key_sources(void)
{
    char *home = scratch_home("keys");
    struct osr_store_keys k;
    struct osr_diag d = {0};
    unsetenv(OSR_STORE_KEY_ENV);
    unsetenv(OSR_STORE_PASSPHRASE_ENV);
    CHECK(osr_store_keys_load(&k, home, false, &d) == OSR_OK);
    CHECK(!k.has_key);
    CHECK(osr_store_keys_load(&k, home, true, &d) == OSR_OK);
    CHECK(k.has_key);
    CHECK_STR_EQ(k.source, "file");
    char *kfile = osr_path_join(home, "keys/storage.key");
    struct stat st;
    CHECK(stat(kfile, &st) == 0 && (st.st_mode & 0777) == 0600);
    struct osr_store_keys k2;
    CHECK(osr_store_keys_load(&k2, home, true, &d) == OSR_OK);
    CHECK(memcmp(k.key, k2.key, 32) == 0);
    /* group-readable key file is refused */
    chmod(kfile, 0640);
    CHECK_INT_EQ(osr_store_keys_load(&k2, home, true, &d), OSR_EPERM);
    CHECK(strstr(d.msg, "chmod 600") != NULL);
    chmod(kfile, 0600);
    /* environment key */
    setenv(OSR_STORE_KEY_ENV, "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF",
           1);
    CHECK(osr_store_keys_load(&k2, home, true, &d) == OSR_OK);
    CHECK_STR_EQ(k2.source, "env");
    CHECK(k2.key[0] == 0x00 && k2.key[1] == 0x11 && k2.key[31] == 0xff);
    setenv(OSR_STORE_KEY_ENV, "0011", 1);
    CHECK_INT_EQ(osr_store_keys_load(&k2, home, true, &d), OSR_EINVAL);
    unsetenv(OSR_STORE_KEY_ENV);
    /* passphrase: same salt, same key; salt is created once */
    setenv(OSR_STORE_PASSPHRASE_ENV, "correct horse battery staple", 1);
    struct osr_store_keys p1, p2;
    CHECK(osr_store_keys_load(&p1, home, true, &d) == OSR_OK);
    CHECK_STR_EQ(p1.source, "passphrase");
    CHECK(osr_store_keys_load(&p2, home, false, &d) == OSR_OK);
    CHECK(memcmp(p1.key, p2.key, 32) == 0);
    CHECK(memcmp(p1.key, k.key, 32) != 0);
    unsetenv(OSR_STORE_PASSPHRASE_ENV);
    /* PBKDF2-HMAC-SHA256 vector (RFC 7914 section 11 uses 1 and 80000 iterations; we check
     * the function against OpenSSL's own one-shot to pin salt handling and length) */
    uint8_t a[32], b[32];
    const uint8_t salt[4] = {1, 2, 3, 4};
    CHECK(osr_store_key_derive(a, "pw", salt, 4, NULL) == OSR_OK);
    PKCS5_PBKDF2_HMAC("pw", 2, salt, 4, OSR_STORE_PBKDF2_ITERATIONS, EVP_sha256(), 32, b);
    CHECK(memcmp(a, b, 32) == 0);
    CHECK(osr_store_key_derive(a, "", salt, 4, NULL) == OSR_EINVAL);
    osr_store_keys_wipe(&k);
    free(kfile);
    rm_rf(home);
    free(home);
}

static void copy_file(const char *from, const char *to)
{
    size_t len = 0;
    unsigned char *data = slurp(from, &len);
    if (!data)
        return;
    FILE *f = fopen(to, "wb");
    if (f) {
        fwrite(data, 1, len, f);
        fclose(f);
    }
    free(data);
}

/* Builds a home with one database in the given posture holding 200 notes.  The database is
 * made once per posture and copied (it is closed, so the file alone is the whole database). */
static char *templates[2];
static char *template_homes[2];

static char *make_db(const char *tag, const struct osr_store_keys *k, char **path_out)
{
    int t = k != NULL;
    /* Only one encrypted template, under the 0x55 key; other keys build their own copy. */
    bool cacheable = !k || k->key[0] == 0x55;
    if (!cacheable || !templates[t]) {
        char *th = scratch_home("template");
        char *tp = osr_path_join(th, "chat-history/history.sqlite");
        struct osr_store *s = NULL;
        if (open_db(&s, th, tp, k, k != NULL, NULL) != OSR_OK) {
            fprintf(stderr, "make_db failed\n");
            exit(2);
        }
        add_notes(s, 1, 200, "payload-marker");
        osr_store_close(s);
        if (!cacheable) {
            *path_out = tp;
            return th;
        }
        templates[t] = tp;
        template_homes[t] = th; /* removed by t_cleanup */
    }
    char *home = scratch_home(tag);
    char *dir = osr_path_join(home, "chat-history");
    mkdir(dir, 0700);
    free(dir);
    char *path = osr_path_join(home, "chat-history/history.sqlite");
    copy_file(templates[t], path);
    *path_out = path;
    return home;
}

/* Opens with every key that might apply and returns the note count (-1 on failure). */
static long reopen_count(const char *home, const char *path, const struct osr_store_keys *k)
{
    struct osr_store *s = NULL;
    struct osr_diag d = {0};
    if (open_db(&s, home, path, k, false, &d) != OSR_OK) {
        fprintf(stderr, "reopen: %s\n", d.msg);
        return -1;
    }
    long n = osr_store_integrity_check(s, NULL) == OSR_OK ? count_notes(s) : -2;
    osr_store_close(s);
    return n;
}

static void t_convert_roundtrip(void)
{
    char *path = NULL;
    char *home = make_db("conv", NULL, &path);
    struct osr_store_keys k, k2, both;
    key_of(&k, 0x44);
    key_of(&k2, 0x45);
    enum osr_store_kind kind;
    struct osr_diag d = {0};
    /* encrypt */
    int crc = osr_store_convert(path, home, NULL, k.key, &d);
    if (crc)
        fprintf(stderr, "convert: %s\n", d.msg);
    CHECK(crc == OSR_OK);
    osr_store_detect(path, &kind, NULL);
    CHECK_INT_EQ(kind, OSR_STORE_ENCRYPTED);
    CHECK_INT_EQ(reopen_count(home, path, &k), 200);
    CHECK_INT_EQ(grep_tree(home, "payload-marker", NULL), 0);
    /* idempotent */
    char *before = snapshot(home);
    CHECK(osr_store_convert(path, home, &k, k.key, &d) == OSR_OK);
    char *after = snapshot(home);
    CHECK_STR_EQ(after, before);
    free(before);
    free(after);
    /* rekey: k -> k2 (keys holds both, as during a CLI rekey) */
    both = k;
    memcpy(both.next, k2.key, 32);
    both.has_next = true;
    CHECK(osr_store_convert(path, home, &both, k2.key, &d) == OSR_OK);
    CHECK_INT_EQ(reopen_count(home, path, &k2), 200);
    CHECK_INT_EQ(reopen_count(home, path, &k), -1);
    /* decrypt */
    CHECK(osr_store_convert(path, home, &k2, NULL, &d) == OSR_OK);
    osr_store_detect(path, &kind, NULL);
    CHECK_INT_EQ(kind, OSR_STORE_PLAINTEXT);
    CHECK_INT_EQ(reopen_count(home, path, NULL), 200);
    char *wal = osr_path_join(home, "chat-history/history.sqlite-wal");
    CHECK(access(wal, F_OK) != 0);
    free(wal);
    rm_rf(home);
    free(path);
    free(home);
}

static int fail_at = -1;
static int crash_at = -1;
static int hook(enum osr_store_step step)
{
    if ((int)step == crash_at)
        _exit(42); /* a crash right after the step: no cleanup runs */
    return (int)step == fail_at;
}

static void convert_interrupted(bool crash, bool to_encrypted)
{
    struct osr_store_keys k;
    key_of(&k, 0x55);
    for (int step = 0; step < OSR_STORE_STEP_COUNT; step++) {
        char *path = NULL;
        char *home = make_db("step", to_encrypted ? NULL : &k, &path);
        struct osr_diag d = {0};
        if (crash) {
            fflush(NULL);
            pid_t pid = fork();
            if (pid == 0) {
                crash_at = step;
                osr_store_set_test_hook(hook);
                osr_store_convert(path, home, &k, to_encrypted ? k.key : NULL, NULL);
                _exit(0);
            }
            int status = 0;
            waitpid(pid, &status, 0);
            CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 42);
        } else {
            fail_at = step;
            osr_store_set_test_hook(hook);
            CHECK_INT_EQ(osr_store_convert(path, home, &k, to_encrypted ? k.key : NULL, &d),
                         OSR_EIO);
            osr_store_set_test_hook(NULL);
            fail_at = -1;
        }
        enum osr_store_kind kind;
        osr_store_detect(path, &kind, NULL);
        bool converted = kind == (to_encrypted ? OSR_STORE_ENCRYPTED : OSR_STORE_PLAINTEXT);
        /* the rename is the commit point */
        CHECK(converted == (step >= OSR_STORE_STEP_RENAMED));
        long n = reopen_count(home, path, &k);
        if (n != 200)
            fprintf(stderr, "step %d crash %d: %ld notes\n", step, crash, n);
        CHECK_INT_EQ(n, 200);
        /* the temp never lingers beside the database after a reopen: it was moved to
         * quarantine/ (by the failing conversion, or by the reopen after a crash) */
        char *tmp = osr_path_join(home, "chat-history/history.sqlite.convert-tmp");
        CHECK(access(tmp, F_OK) != 0);
        free(tmp);
        char *q = osr_path_join(home, "quarantine");
        if (step < OSR_STORE_STEP_RENAMED)
            CHECK(count_files(q) >= 1);
        else
            CHECK_INT_EQ(count_files(q), 0);
        free(q);
        /* and a second conversion finishes the job */
        CHECK(osr_store_convert(path, home, &k, to_encrypted ? k.key : NULL, &d) == OSR_OK);
        osr_store_detect(path, &kind, NULL);
        CHECK_INT_EQ(kind, to_encrypted ? OSR_STORE_ENCRYPTED : OSR_STORE_PLAINTEXT);
        CHECK_INT_EQ(reopen_count(home, path, &k), 200);
        rm_rf(home);
        free(path);
        free(home);
    }
}

static void t_convert_fails_at_every_step(void)
{
    convert_interrupted(false, true);
    convert_interrupted(false, false);
}

static void t_convert_crashes_at_every_step(void)
{
    convert_interrupted(true, true);
    convert_interrupted(true, false);
}

/* A real child converting a bigger database is SIGKILLed at a random moment. */
static void t_convert_sigkill(void)
{
    struct osr_store_keys k;
    key_of(&k, 0x66);
    char *path = NULL;
    char *home = make_db("kill", NULL, &path);
    struct osr_store *s = NULL;
    REQUIRE(open_db(&s, home, path, NULL, false, NULL) == OSR_OK);
    add_notes(s, 1000, 20000, "bulk-row-with-some-padding-to-make-the-file-bigger");
    osr_store_close(s);
    unsigned seed = (unsigned)time(NULL);
    int converted = 0, kept = 0;
    int64_t full_us = 0;
    for (int i = 0; i < 7; i++) {
        fflush(NULL);
        int64_t t0 = osr_mono_ns();
        pid_t pid = fork();
        if (pid == 0) {
            enum osr_store_kind kind;
            osr_store_detect(path, &kind, NULL);
            osr_store_convert(path, home, &k, kind == OSR_STORE_PLAINTEXT ? k.key : NULL, NULL);
            _exit(0);
        }
        /* Round 0 runs to the end to learn how long a conversion takes; later rounds are
         * killed at a random point inside that time. */
        if (i > 0) {
            usleep((useconds_t)(rand_r(&seed) % (unsigned)(full_us > 1000 ? full_us : 1000)));
            kill(pid, SIGKILL);
        }
        int status;
        waitpid(pid, &status, 0);
        if (i == 0)
            full_us = (osr_mono_ns() - t0) / 1000;
        long n = reopen_count(home, path, &k);
        CHECK_INT_EQ(n, 20200);
        if (WIFSIGNALED(status))
            kept++;
        else
            converted++;
    }
    fprintf(stderr, "sigkill conversion: %d killed, %d finished first\n", kept, converted);
    rm_rf(home);
    free(path);
    free(home);
}

static void t_stale_temp_and_busy(void)
{
    struct osr_store_keys k, wrong;
    key_of(&k, 0x77);
    key_of(&wrong, 0x78);
    char *path = NULL;
    char *home = make_db("stale", &k, &path);
    char *tmp = osr_path_join(home, "chat-history/history.sqlite.convert-tmp");
    FILE *f = fopen(tmp, "w");
    fputs("half-written export", f);
    fclose(f);
    char *before = snapshot(home);
    struct osr_store *s = NULL;
    CHECK_INT_EQ(open_db(&s, home, path, &wrong, true, NULL), OSR_EAUTH);
    char *after = snapshot(home);
    CHECK_STR_EQ(after, before); /* a wrong key does not even tidy up */
    free(before);
    free(after);
    REQUIRE(open_db(&s, home, path, &k, true, NULL) == OSR_OK);
    CHECK(access(tmp, F_OK) != 0);
    char *q = osr_path_join(home, "quarantine");
    CHECK_INT_EQ(count_files(q), 1);
    /* with this connection still open and holding WAL frames, a conversion must refuse */
    add_notes(s, 500, 5, "held");
    struct osr_diag d = {0};
    CHECK_INT_EQ(osr_store_convert(path, home, &k, NULL, &d), OSR_EBUSY);
    CHECK(strstr(d.msg, "in use") != NULL);
    enum osr_store_kind kind;
    osr_store_detect(path, &kind, NULL);
    CHECK_INT_EQ(kind, OSR_STORE_ENCRYPTED);
    CHECK_INT_EQ(count_notes(s), 205);
    osr_store_close(s);
    CHECK_INT_EQ(count_files(q), 2); /* the refused export was moved aside, not deleted */
    CHECK_INT_EQ(reopen_count(home, path, &k), 205);
    CHECK(osr_store_convert(path, home, &k, NULL, &d) == OSR_OK);
    CHECK_INT_EQ(reopen_count(home, path, NULL), 205);
    free(q);
    free(tmp);
    rm_rf(home);
    free(path);
    free(home);
}

static void t_quarantine(void)
{
    char *home = scratch_home("quar");
    char *path = osr_path_join(home, "x.sqlite");
    FILE *f = fopen(path, "w");
    fputs("abc", f);
    fclose(f);
    char *wal = osr_path_join(home, "x.sqlite-wal");
    f = fopen(wal, "w");
    fputs("w", f);
    fclose(f);
    CHECK(osr_store_quarantine(home, path, NULL) == OSR_OK);
    CHECK(access(path, F_OK) != 0);
    CHECK(access(wal, F_OK) != 0);
    char *q = osr_path_join(home, "quarantine");
    CHECK_INT_EQ(count_files(q), 2);
    f = fopen(path, "w");
    fputs("def", f);
    fclose(f);
    CHECK(osr_store_quarantine(home, path, NULL) == OSR_OK);
    CHECK_INT_EQ(count_files(q), 3);
    free(q);
    free(wal);
    rm_rf(home);
    free(path);
    free(home);
}

static void t_cleanup(void)
{
    for (int i = 0; i < 2; i++) {
        if (template_homes[i])
            rm_rf(template_homes[i]);
        free(template_homes[i]);
        free(templates[i]);
        CHECK(template_homes[i] != NULL);
    }
}

TEST_MAIN(t_create_encrypted_and_reopen, t_wrong_and_missing_key_touch_nothing,
          t_plaintext_is_never_keyed, t_migrations_idempotent, t_key_sources, t_convert_roundtrip,
          t_convert_fails_at_every_step, t_convert_crashes_at_every_step, t_convert_sigkill,
          t_stale_temp_and_busy, t_quarantine, t_cleanup)
