/* test_history.c - sessions, messages, FTS5 search, Responses chains, blob spill, and a scan
 * proving no plaintext reaches the database, its WAL or the blob files. */
#include "check.h"
#include "osr/clock.h"
#include "osr/history.h"
#include "osr/osec.h"
#include "store_util.h"

static void key_of(struct osr_store_keys *k, uint8_t fill)
{
    memset(k, 0, sizeof(*k));
    memset(k->key, fill, sizeof(k->key));
    k->has_key = true;
}

static int append(struct osr_history *h, const char *sid, const char *role, const char *content,
                  int64_t *seq)
{
    struct osr_history_message m = {.role = (char *)role, .content = (char *)content};
    return osr_history_message_append(h, sid, &m, seq, NULL);
}

static void t_sessions_and_messages(void)
{
    char *home = scratch_home("hist");
    struct osr_store_keys k;
    key_of(&k, 0x71);
    struct osr_history *h = NULL;
    struct osr_diag d = {0};
    REQUIRE(osr_history_open(&h, home, &k, true, &d) == OSR_OK);
    char id[OSR_HISTORY_ID_MAX], id2[OSR_HISTORY_ID_MAX];
    REQUIRE(osr_history_session_create(h, NULL, "First", "agent-1", "qwen3", OSR_HISTORY_HTTP, id,
                                       &d) == OSR_OK);
    CHECK_INT_EQ(strlen(id), 36);
    REQUIRE(osr_history_session_create(h, "fixed-id", NULL, NULL, NULL, OSR_HISTORY_WATCHER, id2,
                                       &d) == OSR_OK);
    CHECK_STR_EQ(id2, "fixed-id");
    CHECK_INT_EQ(
        osr_history_session_create(h, "fixed-id", NULL, NULL, NULL, OSR_HISTORY_CHAT, id2, &d),
        OSR_EEXIST);
    CHECK_INT_EQ(
        osr_history_session_create(h, "bad id", NULL, NULL, NULL, OSR_HISTORY_CHAT, id2, &d),
        OSR_EINVAL);
    int64_t seq = 0;
    /* Sessions are listed by their last update, to the millisecond: let the clock move on so
     * the session appended to below is strictly the most recent. */
    osr_sleep_ms(5);
    CHECK(append(h, id, "user", "\"hello there\"", &seq) == OSR_OK);
    CHECK_INT_EQ(seq, 1);
    struct osr_history_message m = {
        .role = "assistant",
        .content = "[{\"type\":\"text\",\"text\":\"general kenobi\"}]",
        .tool_calls = "[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\","
                      "\"arguments\":\"{}\"}}]",
        .usage = "{\"prompt_tokens\":3,\"completion_tokens\":2}",
    };
    CHECK(osr_history_message_append(h, id, &m, &seq, &d) == OSR_OK);
    CHECK_INT_EQ(seq, 2);
    CHECK(append(h, "no-such-session", "user", "\"x\"", NULL) == OSR_ENOTFOUND);
    m.usage = "{not json";
    CHECK_INT_EQ(osr_history_message_append(h, id, &m, &seq, &d), OSR_EINVAL);
    CHECK_STR_EQ(d.param, "usage");
    m.usage = NULL;
    m.role = "";
    CHECK_INT_EQ(osr_history_message_append(h, id, &m, &seq, &d), OSR_EINVAL);

    struct osr_history_message *msgs = NULL;
    size_t n = 0;
    REQUIRE(osr_history_messages_get(h, id, true, &msgs, &n, &d) == OSR_OK);
    REQUIRE(n == 2);
    CHECK_STR_EQ(msgs[0].role, "user");
    CHECK_STR_EQ(msgs[0].content, "\"hello there\"");
    CHECK_STR_EQ(msgs[1].role, "assistant");
    CHECK(msgs[1].tool_calls && strstr(msgs[1].tool_calls, "call_1"));
    CHECK(msgs[1].usage && strstr(msgs[1].usage, "prompt_tokens"));
    osr_history_messages_free(msgs, n);

    struct osr_history_session s;
    REQUIRE(osr_history_session_get(h, id, &s, &d) == OSR_OK);
    CHECK_STR_EQ(s.title, "First");
    CHECK_STR_EQ(s.agent, "agent-1");
    CHECK_STR_EQ(s.model, "qwen3");
    CHECK_INT_EQ(s.source, OSR_HISTORY_HTTP);
    CHECK_INT_EQ(s.n_messages, 2);
    CHECK(s.updated_ms >= s.created_ms);
    osr_history_session_release(&s);
    CHECK(osr_history_session_set_title(h, id, "Renamed", &d) == OSR_OK);
    CHECK_INT_EQ(osr_history_session_set_title(h, "nope", "x", &d), OSR_ENOTFOUND);

    struct osr_history_session *list = NULL;
    REQUIRE(osr_history_session_list(h, 10, 0, &list, &n, &d) == OSR_OK);
    CHECK_INT_EQ(n, 2);
    CHECK_STR_EQ(list[0].id, id); /* updated most recently (messages appended) */
    CHECK_STR_EQ(list[0].title, "Renamed");
    osr_history_sessions_free(list, n);
    REQUIRE(osr_history_session_list(h, 1, 1, &list, &n, &d) == OSR_OK);
    CHECK_INT_EQ(n, 1);
    CHECK_STR_EQ(list[0].id, "fixed-id");
    osr_history_sessions_free(list, n);

    CHECK(osr_history_session_delete(h, id, &d) == OSR_OK);
    CHECK_INT_EQ(osr_history_session_get(h, id, &s, &d), OSR_ENOTFOUND);
    CHECK_INT_EQ(osr_history_session_delete(h, id, &d), OSR_ENOTFOUND);
    sqlite3_stmt *st = NULL;
    osr_store_prepare(osr_history_store(h), "SELECT count(*) FROM messages", &st, NULL);
    CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 0);
    sqlite3_finalize(st);
    enum osr_history_source src;
    CHECK(osr_history_source_parse("schedule", &src) == OSR_OK && src == OSR_HISTORY_SCHEDULE);
    CHECK(osr_history_source_parse("cron", &src) == OSR_EINVAL);
    osr_history_close(h);
    rm_rf(home);
    free(home);
}

static void t_search(void)
{
    char *home = scratch_home("fts");
    struct osr_history *h = NULL;
    REQUIRE(osr_history_open(&h, home, NULL, false, NULL) == OSR_OK);
    char a[OSR_HISTORY_ID_MAX], b[OSR_HISTORY_ID_MAX];
    osr_history_session_create(h, NULL, "a", NULL, NULL, OSR_HISTORY_CHAT, a, NULL);
    osr_history_session_create(h, NULL, "b", NULL, NULL, OSR_HISTORY_CHAT, b, NULL);
    append(h, a, "user", "\"How do I bake sourdough bread?\"", NULL);
    append(h, a, "assistant",
           "[{\"type\":\"text\",\"text\":\"Feed the starter first.\"},"
           "{\"type\":\"image_url\",\"image_url\":{\"url\":\"starter\"}}]",
           NULL);
    append(h, b, "user", "\"Café au lait, s'il vous plaît\"", NULL);
    struct osr_history_hit *hits = NULL;
    size_t n = 0;
    struct osr_diag d = {0};
    REQUIRE(osr_history_search(h, "sourdough", 10, &hits, &n, &d) == OSR_OK);
    REQUIRE(n == 1);
    CHECK_STR_EQ(hits[0].session_id, a);
    CHECK_INT_EQ(hits[0].seq, 1);
    CHECK(strstr(hits[0].snippet, "[sourdough]") != NULL);
    osr_history_hits_free(hits, n);
    /* text of text parts only; the image part's url is not indexed */
    REQUIRE(osr_history_search(h, "starter", 10, &hits, &n, &d) == OSR_OK);
    CHECK_INT_EQ(n, 1);
    if (n)
        CHECK_INT_EQ(hits[0].seq, 2);
    osr_history_hits_free(hits, n);
    /* diacritics folded; prefix; all words required; FTS syntax is just text */
    REQUIRE(osr_history_search(h, "cafe", 10, &hits, &n, &d) == OSR_OK);
    CHECK_INT_EQ(n, 1);
    osr_history_hits_free(hits, n);
    REQUIRE(osr_history_search(h, "sour*", 10, &hits, &n, &d) == OSR_OK);
    CHECK_INT_EQ(n, 1);
    osr_history_hits_free(hits, n);
    REQUIRE(osr_history_search(h, "bake cafe", 10, &hits, &n, &d) == OSR_OK);
    CHECK_INT_EQ(n, 0);
    osr_history_hits_free(hits, n);
    CHECK(osr_history_search(h, "\"unbalanced AND ( NEAR", 10, &hits, &n, &d) == OSR_OK);
    osr_history_hits_free(hits, n);
    /* deleting a session removes its index entries */
    osr_history_session_delete(h, a, NULL);
    REQUIRE(osr_history_search(h, "sourdough", 10, &hits, &n, &d) == OSR_OK);
    CHECK_INT_EQ(n, 0);
    osr_history_hits_free(hits, n);
    CHECK(osr_store_exec(osr_history_store(h),
                         "INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')",
                         &d) == OSR_OK);
    osr_history_close(h);
    rm_rf(home);
    free(home);
}

static void t_responses_chain(void)
{
    char *home = scratch_home("resp");
    struct osr_history *h = NULL;
    REQUIRE(osr_history_open(&h, home, NULL, false, NULL) == OSR_OK);
    struct osr_diag d = {0};
    struct osr_history_response r = {
        .id = "resp_1", .input = "[{\"role\":\"user\"}]", .output = "[]", .model = "m"};
    CHECK(osr_history_response_put(h, &r, &d) == OSR_OK);
    r.id = "resp_2";
    r.previous_id = "resp_1";
    CHECK(osr_history_response_put(h, &r, &d) == OSR_OK);
    r.id = "resp_3";
    r.previous_id = "resp_2";
    CHECK(osr_history_response_put(h, &r, &d) == OSR_OK);
    CHECK_INT_EQ(osr_history_response_put(h, &r, &d), OSR_EEXIST);
    r.id = "resp_4";
    r.input = "{oops";
    CHECK_INT_EQ(osr_history_response_put(h, &r, &d), OSR_EINVAL);
    struct osr_history_response *chain = NULL;
    size_t n = 0;
    REQUIRE(osr_history_response_chain(h, "resp_3", &chain, &n, &d) == OSR_OK);
    REQUIRE(n == 3);
    CHECK_STR_EQ(chain[0].id, "resp_1");
    CHECK(chain[0].previous_id == NULL);
    CHECK_STR_EQ(chain[2].id, "resp_3");
    CHECK_STR_EQ(chain[2].previous_id, "resp_2");
    osr_history_responses_free(chain, n);
    CHECK_INT_EQ(osr_history_response_chain(h, "resp_missing", &chain, &n, &d), OSR_ENOTFOUND);
    CHECK(strstr(d.msg, "resp_missing") != NULL);
    /* a dangling previous id names the missing link */
    r.id = "resp_5";
    r.previous_id = "resp_gone";
    r.input = "[]";
    osr_history_response_put(h, &r, NULL);
    CHECK_INT_EQ(osr_history_response_chain(h, "resp_5", &chain, &n, &d), OSR_ENOTFOUND);
    CHECK(strstr(d.msg, "resp_gone") != NULL);
    /* a cycle (only possible by editing the file) is reported, not followed forever */
    osr_store_exec(osr_history_store(h),
                   "UPDATE responses SET previous_id = 'resp_3' WHERE id = 'resp_1'", NULL);
    CHECK_INT_EQ(osr_history_response_chain(h, "resp_3", &chain, &n, &d), OSR_ECORRUPT);
    osr_history_close(h);
    rm_rf(home);
    free(home);
}

/* A big image part with a marker in it, and marker text in messages and a response. */
static char *big_part(const char *marker)
{
    struct osr_buf b;
    osr_buf_init(&b, 1 << 20);
    osr_buf_appendf(&b,
                    "[{\"type\":\"text\",\"text\":\"see %s\"},{\"type\":\"image_url\","
                    "\"image_url\":{\"url\":\"data:image/png;base64,%s",
                    marker, marker);
    for (int i = 0; i < 5000; i++)
        osr_buf_puts(&b, "QUJD");
    osr_buf_puts(&b, "\"}}]");
    return osr_buf_detach(&b, NULL);
}

static void spill_and_scan(bool encrypted)
{
    char *home = scratch_home(encrypted ? "scan" : "plainblob");
    struct osr_store_keys k;
    key_of(&k, 0x72);
    struct osr_history *h = NULL;
    struct osr_diag d = {0};
    const char *marker = "XYZZY-PLAINTEXT-MARKER";
    REQUIRE(osr_history_open(&h, home, encrypted ? &k : NULL, encrypted, &d) == OSR_OK);
    CHECK(osr_store_is_encrypted(osr_history_store(h)) == encrypted);
    char id[OSR_HISTORY_ID_MAX];
    REQUIRE(osr_history_session_create(h, NULL, marker, marker, NULL, OSR_HISTORY_CHAT, id, &d) ==
            OSR_OK);
    char *content = big_part(marker);
    REQUIRE(append(h, id, "user", content, NULL) == OSR_OK);
    for (int i = 0; i < 50; i++)
        append(h, id, "assistant", "\"XYZZY-PLAINTEXT-MARKER again and again\"", NULL);
    struct osr_history_response r = {
        .id = "resp_x", .input = "[\"XYZZY-PLAINTEXT-MARKER\"]", .output = "[]"};
    CHECK(osr_history_response_put(h, &r, &d) == OSR_OK);

    /* the row keeps a ref; the blob exists in the expected form */
    sqlite3_stmt *st = NULL;
    osr_store_prepare(osr_history_store(h), "SELECT content FROM messages WHERE seq = 1", &st,
                      NULL);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    const char *raw = (const char *)sqlite3_column_text(st, 0);
    CHECK(strstr(raw, "{\"ref\":\"") != NULL);
    CHECK(strstr(raw, "base64") == NULL);
    CHECK(strstr(raw, "\"type\":\"text\"") != NULL); /* text part stays inline */
    sqlite3_finalize(st);
    char *blobs = osr_path_join(home, OSR_HISTORY_BLOBS);
    CHECK_INT_EQ(count_files(blobs), 1);
    struct dirent **names = NULL;
    int nn = scandir(blobs, &names, NULL, alphasort);
    bool has_osec = false;
    for (int i = 0; i < nn; i++) {
        if (strstr(names[i]->d_name, ".osec"))
            has_osec = true;
        free(names[i]);
    }
    free(names);
    CHECK(has_osec == encrypted);

    /* read back resolves the ref to the original part */
    struct osr_history_message *msgs = NULL;
    size_t n = 0;
    REQUIRE(osr_history_messages_get(h, id, true, &msgs, &n, &d) == OSR_OK);
    REQUIRE(n == 51);
    CHECK(strstr(msgs[0].content, "QUJDQUJD") != NULL);
    CHECK(strstr(msgs[0].content, "ref") == NULL);
    struct json_object *want = json_tokener_parse(content),
                       *got = json_tokener_parse(msgs[0].content);
    CHECK(want && got && json_object_equal(want, got));
    json_object_put(want);
    json_object_put(got);
    osr_history_messages_free(msgs, n);
    REQUIRE(osr_history_messages_get(h, id, false, &msgs, &n, &d) == OSR_OK);
    CHECK(strstr(msgs[0].content, "\"ref\"") != NULL);
    osr_history_messages_free(msgs, n);

    /* scan while open (WAL and shm hold the fresh pages) and after close */
    char *wal = osr_path_join(home, "chat-history/history.sqlite-wal");
    size_t wl = 0;
    unsigned char *wb = slurp(wal, &wl);
    CHECK(wb != NULL && wl > 0);
    free(wb);
    char *first = NULL;
    int hits = grep_tree(home, marker, &first);
    if (encrypted) {
        if (hits)
            fprintf(stderr, "plaintext found in %s\n", first);
        CHECK_INT_EQ(hits, 0);
    } else {
        CHECK(hits > 0); /* the scan itself can see plaintext when there is some */
    }
    free(first);
    first = NULL;
    /* base64 payload chunk never appears raw either */
    if (encrypted)
        CHECK_INT_EQ(grep_tree(home, "QUJDQUJDQUJD", NULL), 0);
    osr_history_close(h);
    if (encrypted)
        CHECK_INT_EQ(grep_tree(home, marker, NULL), 0);

    /* a blob that was tampered with is a clear error on read */
    if (encrypted) {
        nn = scandir(blobs, &names, NULL, alphasort);
        for (int i = 0; i < nn; i++) {
            if (names[i]->d_name[0] != '.') {
                char *bp = osr_path_join(blobs, names[i]->d_name);
                FILE *f = fopen(bp, "r+b");
                fseek(f, 40, SEEK_SET);
                fputc('!', f);
                fclose(f);
                free(bp);
            }
            free(names[i]);
        }
        free(names);
        REQUIRE(osr_history_open(&h, home, &k, true, &d) == OSR_OK);
        CHECK_INT_EQ(osr_history_messages_get(h, id, true, &msgs, &n, &d), OSR_EAUTH);
        CHECK(strstr(d.msg, "does not verify") != NULL);
        osr_history_close(h);
    }
    free(wal);
    free(blobs);
    free(content);
    rm_rf(home);
    free(home);
}

static void t_spill_and_scan_encrypted(void)
{
    spill_and_scan(true);
}

static void t_spill_plaintext(void)
{
    spill_and_scan(false);
}

static void t_reopen_keeps_data(void)
{
    char *home = scratch_home("reopen");
    struct osr_store_keys k;
    key_of(&k, 0x73);
    struct osr_history *h = NULL;
    REQUIRE(osr_history_open(&h, home, &k, true, NULL) == OSR_OK);
    char id[OSR_HISTORY_ID_MAX];
    osr_history_session_create(h, "s1", "t", NULL, NULL, OSR_HISTORY_PLUGIN, id, NULL);
    append(h, "s1", "user", "\"persist me\"", NULL);
    osr_history_close(h);
    REQUIRE(osr_history_open(&h, home, &k, true, NULL) == OSR_OK);
    int v = 0;
    osr_store_schema_version(osr_history_store(h), &v, NULL);
    CHECK_INT_EQ(v, (int)osr_history_n_migrations);
    struct osr_history_hit *hits = NULL;
    size_t n = 0;
    CHECK(osr_history_search(h, "persist", 5, &hits, &n, NULL) == OSR_OK);
    CHECK_INT_EQ(n, 1);
    osr_history_hits_free(hits, n);
    osr_history_close(h);
    rm_rf(home);
    free(home);
}

/* A part just under the threshold stays inline; one at it is spilled. */
static void t_spill_threshold(void)
{
    char *home = scratch_home("thresh");
    struct osr_history *h = NULL;
    REQUIRE(osr_history_open(&h, home, NULL, false, NULL) == OSR_OK);
    char id[OSR_HISTORY_ID_MAX];
    osr_history_session_create(h, "t", NULL, NULL, NULL, OSR_HISTORY_CHAT, id, NULL);
    /* {"type":"file","data":"<pad>"} is 26 bytes plus the padding */
    const size_t overhead = strlen("{\"type\":\"file\",\"data\":\"\"}");
    for (int round = 0; round < 2; round++) {
        size_t pad = OSR_OSEC_BLOB_MIN - overhead - (round == 0 ? 1 : 0);
        struct osr_buf b;
        osr_buf_init(&b, 1 << 20);
        osr_buf_puts(&b, "[{\"type\":\"file\",\"data\":\"");
        for (size_t i = 0; i < pad; i++)
            osr_buf_putc(&b, 'x');
        osr_buf_puts(&b, "\"}]");
        CHECK(append(h, "t", "user", b.data, NULL) == OSR_OK);
        osr_buf_release(&b);
    }
    struct osr_history_message *m = NULL;
    size_t n = 0;
    REQUIRE(osr_history_messages_get(h, "t", false, &m, &n, NULL) == OSR_OK);
    REQUIRE(n == 2);
    CHECK(strstr(m[0].content, "\"ref\"") == NULL);
    CHECK(strstr(m[1].content, "\"ref\"") != NULL);
    osr_history_messages_free(m, n);
    osr_history_close(h);
    rm_rf(home);
    free(home);
}

TEST_MAIN(t_sessions_and_messages, t_search, t_responses_chain, t_spill_and_scan_encrypted,
          t_spill_plaintext, t_spill_threshold, t_reopen_keeps_data)
