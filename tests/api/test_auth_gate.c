/* test_auth_gate.c - the gate over real HTTP with real osk-v1 keys: no keys configured, missing
 * key, valid master key (Bearer and x-api-key), expired, revoked (one key and revoke-all),
 * foreign key, garbage, agent scope (403 outside its agent), relayed requests on a server that
 * is not exposed, and revocation taking effect without a restart. */
#include <stdlib.h>

#include <openssl/crypto.h>

#include "check.h"
#include "net/http_test_client.h"
#include "osr/api_core.h"
#include "osr/api_models.h"
#include "osr/auth_gate.h"
#include "osr/clock.h"
#include "osr/http_server.h"
#include "osr/keystore.h"
#include "osr/log.h"
#include "osr/masterkey.h"
#include "osr/osk.h"

static char home[256];
static struct osr_api_core core = {0, 0, "gate-test"};

static void handle_agent(struct osr_http_request *req, void *ctx)
{
    (void)ctx;
    osr_http_respond(req, 200, "text/plain", "agent", 5);
}

struct fixture {
    struct osr_http_server *srv;
    struct osr_auth_gate *gate;
    struct osr_server_config cfg;
    char base[64];
};

static void start(struct fixture *f, bool expose)
{
    osr_server_config_defaults(&f->cfg);
    f->cfg.expose = expose;
    f->srv = osr_http_server_new(&f->cfg, 0);
    osr_api_core_register(f->srv, &core);
    osr_api_models_register(f->srv, home);
    struct osr_route r = {"GET", "/agents/{id}/run", handle_agent, OSR_AUTH_GATED, NULL, 0};
    osr_http_server_add_route(f->srv, &r);
    f->gate = osr_auth_gate_new(home);
    osr_http_server_set_auth(f->srv, osr_auth_gate_check, f->gate);
    if (osr_http_server_start(f->srv, NULL) != OSR_OK)
        exit(1);
    snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d", osr_http_server_port(f->srv));
}

static void stop(struct fixture *f)
{
    osr_http_server_free(f->srv);
    osr_auth_gate_free(f->gate);
    osr_server_config_release(&f->cfg);
}

/* GETs path with one optional header; returns the status and copies the body. */
static long get(struct fixture *f, const char *path, const char *header, char *body, size_t cap)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", f->base, path);
    const char *hs[] = {header, NULL};
    struct test_resp r = test_request(NULL, "GET", url, NULL, 0, header ? hs : NULL);
    if (body)
        snprintf(body, cap, "%s", osr_buf_str(&r.body));
    long st = r.status;
    test_resp_release(&r);
    return st;
}

/* Mints a key with the master key and records it in the store; returns the token. */
static char *mint(const uint8_t *mk, bool agent, int64_t now, enum osr_osk_expiry exp,
                  struct osr_osk_info *info_out)
{
    struct osr_keystore ks;
    memset(&ks, 0, sizeof(ks));
    int lock;
    osr_keystore_lock(home, &lock, NULL);
    osr_keystore_load(home, &ks, NULL);
    struct osr_osk_mint m = {0};
    m.master_key = mk;
    m.agent_scoped = agent;
    m.agent_index = 1;
    m.label = "test";
    m.expiry = exp;
    m.now = now;
    m.cnt = osr_keystore_next_counter(&ks);
    struct osr_buf key;
    osr_buf_init(&key, 4096);
    struct osr_osk_info info;
    if (osr_osk_mint(&m, &key, &info, NULL) != OSR_OK)
        exit(1);
    osr_keystore_add(&ks, &info);
    osr_keystore_save(home, &ks, NULL);
    osr_keystore_release(&ks);
    osr_keystore_unlock(lock);
    if (info_out)
        *info_out = info;
    return osr_buf_detach(&key, NULL);
}

static void revoke_key(const char *id)
{
    struct osr_keystore ks;
    memset(&ks, 0, sizeof(ks));
    int lock;
    osr_keystore_lock(home, &lock, NULL);
    osr_keystore_load(home, &ks, NULL);
    int idx = osr_keystore_find(&ks, id);
    if (idx >= 0)
        osr_keystore_revoke(&ks, (size_t)idx);
    osr_keystore_save(home, &ks, NULL);
    osr_keystore_release(&ks);
    osr_keystore_unlock(lock);
}

static void test_gate(void)
{
    struct fixture f;
    char body[1024], hdr[9000];
    start(&f, true);

    /* No identity, no keys: the original's message. */
    CHECK_INT_EQ(get(&f, "/v1/models", NULL, body, sizeof(body)), 401);
    CHECK(strstr(body, "No access keys configured. Create one in Osaurus settings.") != NULL);
    CHECK(strstr(body, "\"type\":\"authentication_error\"") != NULL);
    CHECK_INT_EQ(get(&f, "/health", NULL, NULL, 0), 200);

    uint8_t mk[OSR_MASTERKEY_LEN];
    REQUIRE(osr_masterkey_create(home, mk, NULL) == OSR_OK);
    int64_t now = osr_wall_ms() / 1000;
    struct osr_osk_info good_info, agent_info, old_info;
    char *good = mint(mk, false, now, OSR_OSK_EXPIRY_90D, &good_info);
    char *agent = mint(mk, true, now, OSR_OSK_EXPIRY_NEVER, &agent_info);
    char *old = mint(mk, false, now - 40 * 86400, OSR_OSK_EXPIRY_30D, &old_info);

    CHECK_INT_EQ(get(&f, "/v1/models", NULL, body, sizeof(body)), 401);
    CHECK(strstr(body, "Missing access key") != NULL);

    snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", good);
    CHECK_INT_EQ(get(&f, "/v1/models", hdr, body, sizeof(body)), 200);
    snprintf(hdr, sizeof(hdr), "x-api-key: %s", good);
    CHECK_INT_EQ(get(&f, "/v1/models", hdr, body, sizeof(body)), 200);

    snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", old);
    CHECK_INT_EQ(get(&f, "/v1/models", hdr, body, sizeof(body)), 401);
    CHECK(strstr(body, "Access key has expired") != NULL);

    CHECK_INT_EQ(get(&f, "/v1/models", "Authorization: Bearer osk-v1.garbage", body, sizeof(body)),
                 401);
    CHECK(strstr(body, "Invalid access key: ") != NULL);
    CHECK_INT_EQ(get(&f, "/v1/models", "Authorization: Basic dXNlcjpwYXNz", body, sizeof(body)),
                 401);

    /* A tampered payload no longer matches its signature. */
    char *tampered = strdup(good);
    char *dot = strchr(tampered + 7, '.');
    dot[-2] = dot[-2] == 'A' ? 'B' : 'A';
    snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", tampered);
    CHECK_INT_EQ(get(&f, "/v1/models", hdr, body, sizeof(body)), 401);
    free(tampered);

    /* A key minted by another install is not ours. */
    uint8_t other[OSR_MASTERKEY_LEN];
    for (int i = 0; i < OSR_MASTERKEY_LEN; i++)
        other[i] = (uint8_t)(i + 1);
    struct osr_osk_mint m = {0};
    m.master_key = other;
    m.expiry = OSR_OSK_EXPIRY_NEVER;
    m.now = now;
    m.cnt = 1;
    struct osr_buf foreign;
    osr_buf_init(&foreign, 4096);
    struct osr_osk_info finfo;
    REQUIRE(osr_osk_mint(&m, &foreign, &finfo, NULL) == OSR_OK);
    snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", osr_buf_str(&foreign));
    CHECK_INT_EQ(get(&f, "/v1/models", hdr, body, sizeof(body)), 401);
    CHECK(strstr(body, "Invalid access key: ") != NULL);
    osr_buf_release(&foreign);

    /* Agent scope: its own agent's routes only. */
    snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", agent);
    char path[128];
    snprintf(path, sizeof(path), "/v1/agents/%s/run", agent_info.aud);
    CHECK_INT_EQ(get(&f, path, hdr, body, sizeof(body)), 200);
    CHECK_INT_EQ(get(&f, "/v1/models", hdr, body, sizeof(body)), 403);
    CHECK(strstr(body, "agent_scope_denied") != NULL);
    snprintf(path, sizeof(path), "/v1/agents/%s/run", good_info.aud); /* the master's address */
    CHECK_INT_EQ(get(&f, path, hdr, body, sizeof(body)), 403);

    /* Revocation takes effect at once, without a restart. */
    revoke_key(good_info.id);
    snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", good);
    CHECK_INT_EQ(get(&f, "/v1/models", hdr, body, sizeof(body)), 401);
    CHECK(strstr(body, "Access key has been revoked") != NULL);
    stop(&f);

    /* Not exposed: loopback is trusted, but a relayed request needs a key like anyone. */
    start(&f, false);
    CHECK_INT_EQ(get(&f, "/v1/models", NULL, NULL, 0), 200);
    CHECK_INT_EQ(get(&f, "/v1/models", "X-Osaurus-Relay: 1", body, sizeof(body)), 401);
    CHECK(strstr(body, "Missing access key") != NULL);
    char *fresh = mint(mk, false, now, OSR_OSK_EXPIRY_1Y, NULL);
    char two[2][9000];
    snprintf(two[0], sizeof(two[0]), "X-Osaurus-Relay: 1");
    snprintf(two[1], sizeof(two[1]), "Authorization: Bearer %s", fresh);
    const char *hs[] = {two[0], two[1], NULL};
    char url[256];
    snprintf(url, sizeof(url), "%s/v1/models", f.base);
    struct test_resp r = test_request(NULL, "GET", url, NULL, 0, hs);
    CHECK_INT_EQ(r.status, 200);
    test_resp_release(&r);
    stop(&f);

    OPENSSL_cleanse(mk, sizeof(mk));
    free(good);
    free(agent);
    free(old);
    free(fresh);
}

static void setup(void)
{
    osr_log_set_level(OSR_LOG_ERROR);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const char *tmp = getenv("TMPDIR");
    snprintf(home, sizeof(home), "%s/osr-gate-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(home))
        exit(1);
}

static void test_setup(void)
{
    setup();
    CHECK(home[0] != '\0');
}

static void cleanup(void)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
    CHECK(system(cmd) == 0);
}

TEST_MAIN(test_setup, test_gate, cleanup)
