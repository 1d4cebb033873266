/* auth_gate.c - osk-v1 verification for the HTTP gate.
 *
 * Holds the master address (never the master key: it is loaded, turned into its address and
 * wiped) and a copy of the key store, reloaded when access-keys.json, revocations.json or
 * whitelist.json change.  Verification itself is osr_osk_verify; this file only gathers its
 * context and maps the verdict onto the original's HTTP answers.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>

#include "osr/alloc.h"
#include "osr/auth_gate.h"
#include "osr/clock.h"
#include "osr/config.h"
#include "osr/identity.h"
#include "osr/keystore.h"
#include "osr/log.h"
#include "osr/masterkey.h"
#include "osr/osk.h"

#define NO_KEYS_MESSAGE "No access keys configured. Create one in Osaurus settings."
#define MAX_TOKEN_LEN 8192

static const char *const watched[] = {"identity/master.key", "identity/access-keys.json",
                                      "identity/revocations.json", "identity/whitelist.json"};
#define N_WATCHED (sizeof(watched) / sizeof(watched[0]))

struct osr_auth_gate {
    char *home;
    pthread_mutex_t mu;
    /* guarded by mu: */
    struct timespec seen[N_WATCHED]; /* mtimes at the last load (zero: file absent) */
    bool loaded;
    bool have_master;
    char master[OSR_IDENTITY_ADDR_STRLEN + 1];
    struct osr_keystore ks;
    char **agents; /* distinct audiences of the agent-scoped keys minted here */
    size_t n_agents;
};

struct osr_auth_gate *osr_auth_gate_new(const char *home)
{
    struct osr_auth_gate *g = osr_xcalloc(1, sizeof(*g));
    g->home = osr_xstrdup(home);
    pthread_mutex_init(&g->mu, NULL);
    return g;
}

static void drop_state(struct osr_auth_gate *g)
{
    osr_keystore_release(&g->ks);
    memset(&g->ks, 0, sizeof(g->ks));
    for (size_t i = 0; i < g->n_agents; i++)
        free(g->agents[i]);
    free(g->agents);
    g->agents = NULL;
    g->n_agents = 0;
    g->have_master = false;
}

void osr_auth_gate_free(struct osr_auth_gate *g)
{
    if (!g)
        return;
    drop_state(g);
    pthread_mutex_destroy(&g->mu);
    free(g->home);
    free(g);
}

/* Returns true when any watched file appeared, vanished or changed since the last load. */
static bool changed(struct osr_auth_gate *g, struct timespec now[N_WATCHED])
{
    bool diff = !g->loaded;
    for (size_t i = 0; i < N_WATCHED; i++) {
        char *path = osr_path_join(g->home, watched[i]);
        struct stat st;
        if (stat(path, &st) == 0)
            now[i] = st.st_mtim;
        else
            now[i] = (struct timespec){0, 0};
        free(path);
        if (now[i].tv_sec != g->seen[i].tv_sec || now[i].tv_nsec != g->seen[i].tv_nsec)
            diff = true;
    }
    return diff;
}

static void reload(struct osr_auth_gate *g)
{
    drop_state(g);
    struct osr_diag diag;
    osr_diag_clear(&diag);
    uint8_t key[OSR_MASTERKEY_LEN];
    int rc = osr_masterkey_load(g->home, key, &diag);
    if (rc == OSR_OK) {
        uint8_t addr[OSR_IDENTITY_ADDR_LEN];
        g->have_master = osr_identity_address(key, addr) == OSR_OK;
        if (g->have_master)
            osr_identity_address_format(addr, g->master);
    } else if (rc != OSR_ENOTFOUND) {
        OSR_WARN("auth gate: %s", diag.msg);
    }
    OPENSSL_cleanse(key, sizeof(key));
    osr_diag_clear(&diag);
    if (osr_keystore_load(g->home, &g->ks, &diag) != OSR_OK) {
        /* A damaged store admits nobody rather than everybody. */
        OSR_WARN("auth gate: %s", diag.msg);
        osr_keystore_release(&g->ks);
        memset(&g->ks, 0, sizeof(g->ks));
    }
    g->agents = osr_xcalloc(g->ks.n_keys ? g->ks.n_keys : 1, sizeof(char *));
    for (size_t i = 0; i < g->ks.n_keys; i++) {
        const char *aud = g->ks.keys[i].aud;
        if (!aud[0] || (g->have_master && osr_identity_address_equal(aud, g->master)))
            continue;
        bool dup = false;
        for (size_t k = 0; k < g->n_agents && !dup; k++)
            dup = osr_identity_address_equal(g->agents[k], aud);
        if (!dup)
            g->agents[g->n_agents++] = osr_xstrdup(aud);
    }
    g->loaded = true;
}

/* Finds the key in the request: Bearer first, then x-api-key. */
static const char *token_of(struct osr_http_request *req)
{
    const char *auth = osr_http_request_header(req, "Authorization");
    if (auth) {
        while (*auth == ' ')
            auth++;
        if (strncasecmp(auth, "Bearer", 6) == 0 && (auth[6] == ' ' || auth[6] == '\t')) {
            auth += 7;
            while (*auth == ' ' || *auth == '\t')
                auth++;
            return auth;
        }
        return auth; /* some other scheme: verified as it is, and refused */
    }
    return osr_http_request_header(req, "x-api-key");
}

/* An agent-scoped key may reach /agents/{its address}/… and /agents/{its address} only. */
static bool within_agent_scope(struct osr_http_request *req, const char *aud)
{
    const char *path = osr_http_request_path(req);
    if (strncmp(path, "/agents/", 8) != 0)
        return false;
    const char *id = path + 8;
    size_t n = strcspn(id, "/");
    return n == strlen(aud) && strncasecmp(id, aud, n) == 0;
}

int osr_auth_gate_check(void *ctx, struct osr_http_request *req, int *status, char *message,
                        size_t message_cap)
{
    struct osr_auth_gate *g = ctx;
    *status = 401;
    const char *token = token_of(req);
    int rc = OSR_EAUTH;
    pthread_mutex_lock(&g->mu);
    struct timespec now_m[N_WATCHED];
    if (changed(g, now_m)) {
        reload(g);
        memcpy(g->seen, now_m, sizeof(now_m));
    }
    if (!g->have_master || g->ks.n_keys == 0) {
        snprintf(message, message_cap, "%s", NO_KEYS_MESSAGE);
        goto out;
    }
    if (!token || !*token) {
        snprintf(message, message_cap,
                 "Missing access key: send 'Authorization: Bearer osk-v1...'");
        goto out;
    }
    size_t len = strnlen(token, MAX_TOKEN_LEN + 1);
    if (len > MAX_TOKEN_LEN) {
        snprintf(message, message_cap, "Invalid access key: Unrecognized token format");
        goto out;
    }
    struct osr_osk_ctx vctx = {0};
    vctx.master_address = g->master;
    vctx.agent_addresses = (const char *const *)g->agents;
    vctx.n_agent_addresses = g->n_agents;
    vctx.now = osr_wall_ms() / 1000;
    osr_keystore_fill_ctx(&g->ks, &vctx);
    struct osr_osk_result res;
    int vrc = osr_osk_verify(token, len, &vctx, &res);
    if (vrc != OSR_OK) {
        osr_osk_result_message(&res, message, message_cap);
    } else if (res.agent_scoped && !within_agent_scope(req, res.payload.aud)) {
        *status = 403;
        snprintf(message, message_cap,
                 "This access key is scoped to agent %s and cannot be used for %s", res.payload.aud,
                 osr_http_request_path(req));
    } else {
        rc = OSR_OK;
    }
    osr_osk_result_release(&res);
out:
    pthread_mutex_unlock(&g->mu);
    return rc;
}
