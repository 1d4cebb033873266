/* test_crashloop.c - a child writing rows in transactions to an encrypted database is killed
 * with SIGKILL again and again; after every kill the database must pass integrity_check and
 * hold exactly the rows the child saw committed.
 *
 * The child reports over a pipe: "intent N" just before COMMIT and "done N" right after it.
 * A kill can land between COMMIT returning and the report, so the row count must equal the
 * last "done", or the last "intent" when that intent was not followed by its "done".
 * OSR_CRASH_KILLS sets the number of kills (20 by default; 100 for a manual run). */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>

#include "check.h"
#include "osr/store.h"
#include "store_util.h"

static const struct osr_store_migration migs[] = {
    {1, "CREATE TABLE IF NOT EXISTS rows(id INTEGER PRIMARY KEY, batch INTEGER NOT NULL,"
        " payload TEXT NOT NULL)"},
};

#define ROWS_PER_TX 5

struct report {
    char tag; /* 'I' intent, 'D' done */
    int64_t count;
};

static void key_of(struct osr_store_keys *k)
{
    memset(k, 0, sizeof(*k));
    for (int i = 0; i < 32; i++)
        k->key[i] = (uint8_t)(0xa0 + i);
    k->has_key = true;
}

static int64_t count_rows(struct osr_store *s)
{
    sqlite3_stmt *st = NULL;
    if (osr_store_prepare(s, "SELECT count(*) FROM rows", &st, NULL))
        return -1;
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return n;
}

static void send_report(int fd, char tag, int64_t count)
{
    struct report r = {tag, count};
    ssize_t w;
    do
        w = write(fd, &r, sizeof(r)); /* under PIPE_BUF: atomic */
    while (w < 0 && errno == EINTR);
}

static _Noreturn void child(const char *home, const char *path, int fd)
{
    struct osr_store_keys k;
    key_of(&k);
    struct osr_store *s = NULL;
    struct osr_store_options o = {
        .home = home, .keys = &k, .encrypt_new = true, .migrations = migs, .n_migrations = 1};
    struct osr_diag d = {0};
    if (osr_store_open(&s, path, &o, &d) != OSR_OK) {
        fprintf(stderr, "child: %s\n", d.msg);
        _exit(3);
    }
    int64_t count = count_rows(s);
    char payload[200];
    memset(payload, 'p', sizeof(payload) - 1);
    payload[sizeof(payload) - 1] = '\0';
    sqlite3_stmt *st = NULL;
    osr_store_prepare(s, "INSERT INTO rows(batch, payload) VALUES (?1, ?2)", &st, NULL);
    for (int64_t batch = 0;; batch++) {
        if (osr_store_begin(s, &d) != OSR_OK)
            _exit(4);
        for (int i = 0; i < ROWS_PER_TX; i++) {
            sqlite3_bind_int64(st, 1, batch);
            sqlite3_bind_text(st, 2, payload, -1, SQLITE_STATIC);
            if (osr_store_step_done(s, st, &d) != OSR_OK)
                _exit(5);
            sqlite3_reset(st);
        }
        send_report(fd, 'I', count + ROWS_PER_TX);
        if (osr_store_commit(s, &d) != OSR_OK)
            _exit(6);
        count += ROWS_PER_TX;
        send_report(fd, 'D', count);
    }
}

static void t_crash_loop(void)
{
    const char *env = getenv("OSR_CRASH_KILLS");
    long kills = 20;
    if (env && *env) {
        char *end;
        kills = strtol(env, &end, 10);
        if (*end || kills < 1 || kills > 100000)
            kills = 20;
    }
    char *home = scratch_home("crash");
    char *path = osr_path_join(home, "chat-history/history.sqlite");
    struct osr_store_keys k;
    key_of(&k);
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    int64_t prev = 0;
    int exact_done = 0, in_flight = 0, bad = 0;
    for (long round = 0; round < kills; round++) {
        int fds[2];
        REQUIRE(pipe(fds) == 0);
        fflush(NULL);
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child(home, path, fds[1]);
        }
        close(fds[1]);
        /* Wait for the first report so the kill lands during writes, then a random delay. */
        struct report r;
        int64_t done = -1, intent = -1;
        bool pending = false;
        ssize_t got = read(fds[0], &r, sizeof(r));
        if (got == (ssize_t)sizeof(r)) {
            if (r.tag == 'I') {
                intent = r.count;
                pending = true;
            }
        }
        usleep((useconds_t)(rand_r(&seed) % 25000));
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        while (read(fds[0], &r, sizeof(r)) == (ssize_t)sizeof(r)) {
            if (r.tag == 'I') {
                intent = r.count;
                pending = true;
            } else {
                done = r.count;
                pending = false;
            }
        }
        close(fds[0]);
        if (done < 0)
            done = prev; /* killed before its first commit */

        struct osr_store *s = NULL;
        struct osr_store_options o = {
            .home = home, .keys = &k, .encrypt_new = true, .migrations = migs, .n_migrations = 1};
        struct osr_diag d = {0};
        REQUIRE(osr_store_open(&s, path, &o, &d) == OSR_OK);
        int ic = osr_store_integrity_check(s, &d);
        if (ic)
            fprintf(stderr, "round %ld: %s\n", round, d.msg);
        CHECK_INT_EQ(ic, OSR_OK);
        int64_t n = count_rows(s);
        osr_store_close(s);
        if (n == done) {
            exact_done++;
        } else if (pending && n == intent) {
            in_flight++;
        } else {
            bad++;
            fprintf(stderr, "round %ld: %lld rows, child reported done=%lld intent=%lld\n", round,
                    (long long)n, (long long)done, (long long)intent);
        }
        CHECK(n >= prev);
        prev = n;
    }
    CHECK_INT_EQ(bad, 0);
    CHECK(prev > 0);
    printf("crash loop: %ld kills, %lld rows committed, integrity ok each time, counts matched "
           "the last reported commit %d times and an in-flight commit %d times, %d mismatches\n",
           kills, (long long)prev, exact_done, in_flight, bad);
    rm_rf(home);
    free(path);
    free(home);
}

TEST_MAIN(t_crash_loop)
