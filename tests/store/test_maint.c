/* test_maint.c - the maintenance schedule: what runs when, what is recorded, what is skipped. */
#include "check.h"
#include "osr/history.h"
#include "osr/store.h"
#include "store_util.h"

#define HOUR (3600LL * 1000)
#define DAY (24 * HOUR)

static void t_schedule(void)
{
    char *home = scratch_home("maint");
    struct osr_store_keys k = {0};
    memset(k.key, 0x5a, 32);
    k.has_key = true;
    /* an encrypted history and a plaintext memory database; no others exist */
    struct osr_history *h = NULL;
    REQUIRE(osr_history_open(&h, home, &k, true, NULL) == OSR_OK);
    char id[OSR_HISTORY_ID_MAX];
    osr_history_session_create(h, NULL, "t", NULL, NULL, OSR_HISTORY_CHAT, id, NULL);
    osr_history_close(h);
    char *mem = osr_path_join(home, "memory/memory.sqlite");
    struct osr_store *s = NULL;
    struct osr_store_options o = {.home = home};
    REQUIRE(osr_store_open(&s, mem, &o, NULL) == OSR_OK);
    osr_store_exec(s, "CREATE TABLE m(x); INSERT INTO m VALUES (1)", NULL);
    osr_store_close(s);

    int64_t t0 = 1700000000000LL;
    struct osr_store_maint_report r;
    struct osr_diag d = {0};
    /* never ran: everything is due */
    REQUIRE(osr_store_maintain(home, &k, t0, &r, &d) == OSR_OK);
    CHECK_INT_EQ(r.optimized, 2);
    CHECK_INT_EQ(r.checkpointed, 2);
    CHECK_INT_EQ(r.vacuumed, 2);
    char *mf = osr_path_join(home, ".storage-maintenance.json");
    size_t len = 0;
    char *text = (char *)slurp(mf, &len);
    REQUIRE(text != NULL);
    CHECK(strstr(text, "\"lastVacuum\":1700000000000") != NULL);
    free(text);
    /* an hour later: nothing */
    CHECK(osr_store_maintain(home, &k, t0 + HOUR, &r, &d) == OSR_OK);
    CHECK_INT_EQ(r.optimized + r.checkpointed + r.vacuumed, 0);
    /* six hours: optimize only */
    CHECK(osr_store_maintain(home, &k, t0 + 6 * HOUR, &r, &d) == OSR_OK);
    CHECK_INT_EQ(r.optimized, 2);
    CHECK_INT_EQ(r.checkpointed + r.vacuumed, 0);
    /* seven days: optimize and checkpoint */
    CHECK(osr_store_maintain(home, &k, t0 + 7 * DAY, &r, &d) == OSR_OK);
    CHECK_INT_EQ(r.optimized, 2);
    CHECK_INT_EQ(r.checkpointed, 2);
    CHECK_INT_EQ(r.vacuumed, 0);
    /* thirty days: all three */
    CHECK(osr_store_maintain(home, &k, t0 + 30 * DAY, &r, &d) == OSR_OK);
    CHECK_INT_EQ(r.vacuumed, 2);
    /* without the key the encrypted database is skipped and named; the other is served */
    CHECK_INT_EQ(osr_store_maintain(home, NULL, t0 + 31 * DAY, &r, &d), OSR_EAUTH);
    CHECK(strstr(d.msg, "history.sqlite") != NULL);
    CHECK_INT_EQ(r.optimized, 1);
    /* the checkpoint leaves no WAL content behind when nobody has the database open */
    char *wal = osr_path_join(home, "chat-history/history.sqlite-wal");
    size_t wl = 0;
    unsigned char *wb = slurp(wal, &wl);
    CHECK(wb == NULL || wl == 0);
    free(wb);
    /* the data survived the upkeep */
    REQUIRE(osr_history_open(&h, home, &k, true, NULL) == OSR_OK);
    struct osr_history_session sess;
    CHECK(osr_history_session_get(h, id, &sess, NULL) == OSR_OK);
    osr_history_session_release(&sess);
    CHECK(osr_store_integrity_check(osr_history_store(h), NULL) == OSR_OK);
    osr_history_close(h);
    free(wal);
    free(mf);
    free(mem);
    rm_rf(home);
    free(home);
}

TEST_MAIN(t_schedule)
