/* test_cli_storage.c - `osaurus storage` end to end on a scratch home: decrypt, encrypt,
 * rekey (also finishing an interrupted one), status and usage errors. */
#include "check.h"
#include "osr/cli.h"
#include "osr/cli_storage.h"
#include "osr/discovery.h"
#include "osr/history.h"
#include "osr/osec.h"
#include "osr/store.h"
#include "store_util.h"

static const char *marker = "PLUGH-STORAGE-CLI-MARKER";

static int run(const char *home, const char *sub)
{
    char *argv[] = {"storage", (char *)sub, "--home", (char *)home, NULL};
    fflush(NULL);
    return osr_cmd_storage(4, argv);
}

/* Runs `storage status` with stdout sent to a file and returns what it printed. */
static char *status_text(const char *home)
{
    char *out = osr_path_join(home, "status.txt");
    fflush(stdout);
    int saved = dup(1);
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 1);
    close(fd);
    int rc = run(home, "status");
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    size_t len = 0;
    char *text = (char *)slurp(out, &len);
    unlink(out);
    free(out);
    if (rc != OSR_EXIT_OK) {
        free(text);
        return NULL;
    }
    return text;
}

static char *big_content(void)
{
    struct osr_buf b;
    osr_buf_init(&b, 1 << 20);
    osr_buf_appendf(&b,
                    "[{\"type\":\"text\",\"text\":\"%s\"},{\"type\":\"input_file\",\"data\":\"%s",
                    marker, marker);
    for (int i = 0; i < 6000; i++)
        osr_buf_puts(&b, "Zmls");
    osr_buf_puts(&b, "\"}]");
    return osr_buf_detach(&b, NULL);
}

/* Opens the history with whatever keys the home has and checks the conversation. */
static bool history_ok(const char *home)
{
    struct osr_store_keys k;
    if (osr_store_keys_load(&k, home, false, NULL) != OSR_OK)
        return false;
    struct osr_history *h = NULL;
    struct osr_diag d = {0};
    bool ok = false;
    if (osr_history_open(&h, home, &k, true, &d) != OSR_OK) {
        fprintf(stderr, "history_ok: %s\n", d.msg);
        goto out;
    }
    struct osr_history_message *m = NULL;
    size_t n = 0;
    if (osr_history_messages_get(h, "s1", true, &m, &n, &d) != OSR_OK) {
        fprintf(stderr, "history_ok: %s\n", d.msg);
        goto out;
    }
    ok = n == 2 && strstr(m[0].content, "ZmlsZmls") != NULL && strstr(m[1].content, "reply");
    osr_history_messages_free(m, n);
    /* the FTS index came through the export intact and still answers */
    struct osr_history_hit *hits = NULL;
    if (osr_history_search(h, "reply", 5, &hits, &n, &d) != OSR_OK || n != 1)
        ok = false;
    osr_history_hits_free(hits, n);
    if (osr_store_exec(osr_history_store(h),
                       "INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')",
                       &d) != OSR_OK) {
        fprintf(stderr, "history_ok: fts: %s\n", d.msg);
        ok = false;
    }
    if (osr_store_integrity_check(osr_history_store(h), &d) != OSR_OK)
        ok = false;
    int v = 0;
    osr_store_schema_version(osr_history_store(h), &v, NULL);
    if (v != (int)osr_history_n_migrations)
        ok = false;
out:
    osr_history_close(h);
    osr_store_keys_wipe(&k);
    return ok;
}

static enum osr_store_kind kind_of(const char *home)
{
    char *p = osr_path_join(home, OSR_HISTORY_PATH);
    enum osr_store_kind k = OSR_STORE_MISSING;
    osr_store_detect(p, &k, NULL);
    free(p);
    return k;
}

static void t_cli_cycle(void)
{
    unsetenv(OSR_STORE_KEY_ENV);
    unsetenv(OSR_STORE_PASSPHRASE_ENV);
    char *home = scratch_home("cli");
    struct osr_store_keys k;
    REQUIRE(osr_store_keys_load(&k, home, true, NULL) == OSR_OK);
    struct osr_history *h = NULL;
    REQUIRE(osr_history_open(&h, home, &k, true, NULL) == OSR_OK);
    char id[OSR_HISTORY_ID_MAX];
    osr_history_session_create(h, "s1", "t", NULL, NULL, OSR_HISTORY_CHAT, id, NULL);
    char *content = big_content();
    struct osr_history_message m = {.role = "user", .content = content};
    CHECK(osr_history_message_append(h, "s1", &m, NULL, NULL) == OSR_OK);
    m.role = "assistant";
    m.content = "\"reply\"";
    CHECK(osr_history_message_append(h, "s1", &m, NULL, NULL) == OSR_OK);
    osr_history_close(h);
    free(content);
    CHECK_INT_EQ(grep_tree(home, marker, NULL), 0);
    char *blobs = osr_path_join(home, OSR_HISTORY_BLOBS);

    char *st = status_text(home);
    REQUIRE(st != NULL);
    CHECK(strstr(st, "key: file") != NULL);
    CHECK(strstr(st, "chat-history/history.sqlite    encrypted") != NULL);
    CHECK(strstr(st, "memory/memory.sqlite           missing") != NULL);
    CHECK(strstr(st, "blobs: 0 plaintext, 1 encrypted") != NULL);
    CHECK(strstr(st, "posture: not set") != NULL);
    free(st);

    /* decrypt: everything plaintext, readable without a key, marker says so */
    CHECK_INT_EQ(run(home, "decrypt"), OSR_EXIT_OK);
    CHECK_INT_EQ(kind_of(home), OSR_STORE_PLAINTEXT);
    CHECK(grep_tree(home, marker, NULL) >= 2); /* the database and the blob */
    bool enc = true, present = false;
    CHECK(osr_store_posture_read(home, &enc, &present, NULL) == OSR_OK && present && !enc);
    CHECK(history_ok(home));
    CHECK_INT_EQ(run(home, "decrypt"), OSR_EXIT_OK); /* idempotent */
    st = status_text(home);
    REQUIRE(st != NULL);
    CHECK(strstr(st, "chat-history/history.sqlite    plaintext") != NULL);
    CHECK(strstr(st, "blobs: 1 plaintext, 0 encrypted") != NULL);
    CHECK(strstr(st, "posture: plaintext") != NULL);
    free(st);

    /* encrypt: no plaintext left anywhere under the home */
    CHECK_INT_EQ(run(home, "encrypt"), OSR_EXIT_OK);
    CHECK_INT_EQ(kind_of(home), OSR_STORE_ENCRYPTED);
    char *hit = NULL;
    CHECK_INT_EQ(grep_tree(home, marker, &hit), 0);
    if (hit)
        fprintf(stderr, "plaintext in %s\n", hit);
    free(hit);
    CHECK(osr_store_posture_read(home, &enc, &present, NULL) == OSR_OK && present && enc);
    CHECK(history_ok(home));

    /* rekey: the old key no longer fits, the new one does */
    struct osr_store_keys old;
    osr_store_keys_load(&old, home, false, NULL);
    CHECK_INT_EQ(run(home, "rekey"), OSR_EXIT_OK);
    struct osr_store_keys now;
    osr_store_keys_load(&now, home, false, NULL);
    CHECK(!now.has_next);
    CHECK(memcmp(old.key, now.key, 32) != 0);
    struct osr_history *h2 = NULL;
    CHECK_INT_EQ(osr_history_open(&h2, home, &old, true, NULL), OSR_EAUTH);
    CHECK(history_ok(home));
    CHECK_INT_EQ(grep_tree(home, marker, NULL), 0);

    /* an interrupted rekey: next key written, database converted, blobs and key file not */
    uint8_t next[32];
    memset(next, 0x99, sizeof(next));
    char *nextp = osr_path_join(home, "keys/storage.key.next");
    REQUIRE(osr_store_key_write_file(next, nextp, NULL) == OSR_OK);
    struct osr_store_keys mid;
    osr_store_keys_load(&mid, home, false, NULL);
    CHECK(mid.has_next);
    char *db = osr_path_join(home, OSR_HISTORY_PATH);
    CHECK(osr_store_convert(db, home, &mid, next, NULL) == OSR_OK);
    CHECK(history_ok(home)); /* readable in the middle: db under next, blobs under key */
    CHECK_INT_EQ(run(home, "encrypt"), OSR_EXIT_FAILURE); /* refuses: finish the rekey first */
    CHECK_INT_EQ(run(home, "rekey"), OSR_EXIT_OK);
    struct osr_store_keys fin;
    osr_store_keys_load(&fin, home, false, NULL);
    CHECK(!fin.has_next);
    CHECK(memcmp(fin.key, next, 32) == 0);
    CHECK(access(nextp, F_OK) != 0);
    CHECK(history_ok(home));
    int plain = 0;
    struct dirent **names = NULL;
    int nn = scandir(blobs, &names, NULL, alphasort);
    for (int i = 0; i < nn; i++) {
        if (strlen(names[i]->d_name) == 64)
            plain++;
        free(names[i]);
    }
    free(names);
    CHECK_INT_EQ(plain, 0);

    /* a running server (a discovery file naming a live pid: ours) blocks conversions */
    struct osr_instance inst = {.port = 1337, .pid = (int)getpid()};
    snprintf(inst.instance_id, sizeof(inst.instance_id), "test-instance");
    snprintf(inst.health, sizeof(inst.health), "running");
    snprintf(inst.address, sizeof(inst.address), "127.0.0.1");
    REQUIRE(osr_discovery_write(home, &inst, NULL) == OSR_OK);
    char *snap1 = snapshot(home);
    CHECK_INT_EQ(run(home, "decrypt"), OSR_EXIT_FAILURE);
    char *snap2 = snapshot(home);
    CHECK_STR_EQ(snap2, snap1);
    free(snap1);
    free(snap2);
    osr_discovery_remove(home, "test-instance");

    /* usage */
    char *a1[] = {"storage", NULL};
    CHECK_INT_EQ(osr_cmd_storage(1, a1), OSR_EXIT_USAGE);
    char *a2[] = {"storage", "shred", NULL};
    CHECK_INT_EQ(osr_cmd_storage(2, a2), OSR_EXIT_USAGE);
    char *a3[] = {"storage", "status", "--home", NULL};
    CHECK_INT_EQ(osr_cmd_storage(3, a3), OSR_EXIT_USAGE);
    char *a4[] = {"storage", "--help", NULL};
    CHECK_INT_EQ(osr_cmd_storage(2, a4), OSR_EXIT_OK);

    /* decrypt without any key: a clear failure that changes nothing */
    char *kf = osr_path_join(home, "keys/storage.key");
    char *kf2 = osr_path_join(home, "storage.key.moved");
    rename(kf, kf2);
    char *before = snapshot(home);
    CHECK_INT_EQ(run(home, "decrypt"), OSR_EXIT_FAILURE);
    char *after = snapshot(home);
    CHECK_STR_EQ(after, before);
    free(before);
    free(after);
    free(kf);
    free(kf2);
    osr_store_keys_wipe(&k);
    free(db);
    free(nextp);
    free(blobs);
    rm_rf(home);
    free(home);
}

TEST_MAIN(t_cli_cycle)
