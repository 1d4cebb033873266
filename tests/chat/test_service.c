/* test_service.c - the chat service's own logic: the first backend that claims an id answers,
 * and the recent table behind /api/ps (keep_alive parsing, expiry, "0" forgetting, order,
 * the size cap). */
#include <stdint.h>

#include "check.h"
#include "osr/chat_service.h"
#include "osr/clock.h"

static int chats;

static bool claims_slash(struct osr_chat_backend *b, const char *id, const char **local)
{
    (void)b;
    const char *s = strchr(id, '/');
    if (!s || strncmp(id, "cloud/", 6) != 0)
        return false;
    if (local)
        *local = s + 1;
    return true;
}

static int chat_ok(struct osr_chat_backend *b, const char *local, struct osr_chat_request *req,
                   struct osr_sink *sink, const struct osr_chat_cancel *cancel)
{
    (void)b;
    (void)local;
    (void)req;
    (void)cancel;
    chats++;
    osr_sink_role(sink);
    return osr_sink_finish(sink, OSR_FINISH_STOP, NULL) ? OSR_ECANCELED : OSR_OK;
}

static void free_nothing(struct osr_chat_backend *b)
{
    (void)b;
}

static const struct osr_chat_backend_ops ops = {
    .claims = claims_slash, .chat = chat_ok, .free = free_nothing};

static int sink_any(struct osr_sink *s, const struct osr_event *ev)
{
    (void)s;
    (void)ev;
    return 0;
}

static void test_keep_alive_parse(void)
{
    int64_t ms = 0;
    CHECK(osr_chat_keep_alive_ms("5m", &ms) && ms == 300000);
    CHECK(osr_chat_keep_alive_ms("1h30m", &ms) && ms == 5400000);
    CHECK(osr_chat_keep_alive_ms("1.5s", &ms) && ms == 1500);
    CHECK(osr_chat_keep_alive_ms("250ms", &ms) && ms == 250);
    CHECK(osr_chat_keep_alive_ms("300s", &ms) && ms == 300000);
    CHECK(osr_chat_keep_alive_ms("300", &ms) && ms == 300000);
    CHECK(osr_chat_keep_alive_ms("0", &ms) && ms == 0);
    CHECK(osr_chat_keep_alive_ms("-1", &ms) && ms < 0);
    CHECK(osr_chat_keep_alive_ms("-1m", &ms) && ms < 0);
    CHECK(!osr_chat_keep_alive_ms("", &ms));
    CHECK(!osr_chat_keep_alive_ms("soon", &ms));
    CHECK(!osr_chat_keep_alive_ms("5 m", &ms));
    CHECK(!osr_chat_keep_alive_ms("5x", &ms));
    CHECK(!osr_chat_keep_alive_ms("1m30", &ms)); /* a unit on every part but a lone number */
    CHECK(!osr_chat_keep_alive_ms(NULL, &ms));
}

static bool has(const struct osr_chat_recent *r, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(r[i].id, id) == 0)
            return true;
    return false;
}

static void run(struct osr_chat_service *svc, const char *model, const char *keep_alive)
{
    struct osr_chat_request req;
    osr_chat_request_init(&req, 1 << 20);
    req.model = model;
    req.x.keep_alive = keep_alive;
    struct osr_sink sink = {sink_any, NULL};
    CHECK_INT_EQ(osr_chat_service_chat(svc, &req, &sink, NULL), OSR_OK);
    osr_chat_request_release(&req);
}

static void test_recent(void)
{
    struct osr_chat_service *svc = osr_chat_service_new();
    struct osr_chat_backend b = {&ops, NULL};
    osr_chat_service_add_backend(svc, &b);
    size_t n = 9;
    struct osr_chat_recent *r = osr_chat_service_recent(svc, &n);
    CHECK_INT_EQ(n, 0);
    osr_chat_recent_free(r, n);

    /* An unknown model is not remembered. */
    struct osr_chat_request req;
    osr_chat_request_init(&req, 1 << 20);
    req.model = "nobody/x";
    struct osr_sink sink = {sink_any, NULL};
    CHECK_INT_EQ(osr_chat_service_chat(svc, &req, &sink, NULL), OSR_ENOTFOUND);
    osr_chat_request_release(&req);

    int64_t before = osr_wall_ms();
    run(svc, "cloud/a", NULL);
    osr_sleep_ms(2);
    run(svc, "cloud/b", "-1");
    run(svc, "cloud/c", "50ms");
    CHECK_INT_EQ(chats, 3);
    r = osr_chat_service_recent(svc, &n);
    CHECK_INT_EQ(n, 3);
    REQUIRE(n == 3);
    /* Most recent first; the default keep-alive is five minutes; -1 is forever. */
    CHECK(has(r, n, "cloud/a") && has(r, n, "cloud/b") && has(r, n, "cloud/c"));
    CHECK_STR_EQ(r[2].id, "cloud/a");
    CHECK(r[2].used_ms >= before && r[2].expires_ms == r[2].used_ms + 300000);
    for (size_t i = 0; i < n; i++)
        if (strcmp(r[i].id, "cloud/b") == 0)
            CHECK(r[i].expires_ms == INT64_MAX);
    osr_chat_recent_free(r, n);

    /* The 50 ms one expires; keep_alive 0 forgets at once. */
    osr_sleep_ms(80);
    run(svc, "cloud/a", "0");
    r = osr_chat_service_recent(svc, &n);
    CHECK_INT_EQ(n, 1);
    CHECK(n == 1 && strcmp(r[0].id, "cloud/b") == 0);
    osr_chat_recent_free(r, n);

    /* The table is capped: the least recently used makes room. */
    char id[64];
    for (int i = 0; i < OSR_CHAT_RECENT_MAX + 5; i++) {
        snprintf(id, sizeof(id), "cloud/m%d", i);
        osr_chat_service_touch(svc, id, NULL);
    }
    r = osr_chat_service_recent(svc, &n);
    CHECK_INT_EQ(n, OSR_CHAT_RECENT_MAX);
    CHECK(!has(r, n, "cloud/b") && !has(r, n, "cloud/m0") && has(r, n, "cloud/m68"));
    osr_chat_recent_free(r, n);
    osr_chat_service_free(svc);
}

TEST_MAIN(test_keep_alive_parse, test_recent)
