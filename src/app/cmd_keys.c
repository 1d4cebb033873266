/* cmd_keys.c - `osaurus keys`: create, list, revoke and verify osk-v1 access keys.
 *
 * Mints with osk.c, keeps metadata and revocations with keystore.c (under the store's lock),
 * reads the master key with masterkey.c.  The full key is printed once by `create` and never
 * written anywhere; `list` shows the metadata the original shows (label, 20-character prefix,
 * scope, dates, status).
 */
#include "osr/cli_identity.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "osr/alloc.h"
#include "osr/cli.h"
#include "osr/clock.h"
#include "osr/config.h"
#include "osr/identity.h"
#include "osr/keystore.h"
#include "osr/masterkey.h"
#include "osr/osk.h"

#define TOKEN_INPUT_MAX (OSR_OSK_MAX_LEN + 64)
#define MAX_AGENT_FLAGS 64

static const char keys_usage[] =
    "usage: osaurus keys <subcommand> [--home DIR]\n"
    "\n"
    "  create [--label TEXT] [--expires 30d|90d|1y|never] [--agent N]\n"
    "                       mint an access key (master-scoped, or scoped to agent N) and\n"
    "                       print it once; default expiry 90d\n"
    "  list [--json]        list access keys (metadata only)\n"
    "  revoke ID            revoke one key (its id or a unique prefix of 4+ characters)\n"
    "  revoke --all [--agent N]\n"
    "                       revoke every key issued so far by the master (or agent N)\n"
    "  verify [--agent N]   read a key on standard input and say whether it is accepted\n"
    "\n"
    "options:\n"
    "      --home DIR      use DIR instead of $OSAURUS_HOME or ~/.osaurus\n";

struct opts {
    const char *sub;
    const char *arg;
    const char *home;
    const char *label;
    enum osr_osk_expiry expiry;
    bool json, all;
    uint32_t agents[MAX_AGENT_FLAGS];
    size_t n_agents;
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "osaurus keys: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n\n%s", keys_usage);
    va_end(ap);
    return OSR_EXIT_USAGE;
}

static int parse_index(const char *v, uint32_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno || !end || *end || v[0] < '0' || v[0] > '9' || n > UINT32_MAX)
        return OSR_EINVAL;
    *out = (uint32_t)n;
    return OSR_OK;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    o->expiry = OSR_OSK_EXPIRY_90D;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(keys_usage, stdout);
            return -1;
        } else if (!strcmp(a, "--home") || !strcmp(a, "--label") || !strcmp(a, "--expires") ||
                   !strcmp(a, "--agent")) {
            if (!has_value)
                return usage_error("'%s' needs a value", a);
            const char *v = argv[++i];
            if (!strcmp(a, "--home")) {
                o->home = v;
            } else if (!strcmp(a, "--label")) {
                o->label = v;
            } else if (!strcmp(a, "--expires")) {
                if (osr_osk_expiry_parse(v, &o->expiry))
                    return usage_error("'--expires' is one of 30d, 90d, 1y, never, not '%s'", v);
            } else {
                if (o->n_agents == MAX_AGENT_FLAGS)
                    return usage_error("at most %d '--agent' options", MAX_AGENT_FLAGS);
                if (parse_index(v, &o->agents[o->n_agents]))
                    return usage_error("'--agent' needs an index from 0 to 4294967295, not '%s'",
                                       v);
                o->n_agents++;
            }
        } else if (!strncmp(a, "--home=", 7)) {
            o->home = a + 7;
        } else if (!strcmp(a, "--json")) {
            o->json = true;
        } else if (!strcmp(a, "--all")) {
            o->all = true;
        } else if (a[0] == '-') {
            return usage_error("unknown option '%s'", a);
        } else if (!o->sub) {
            o->sub = a;
        } else if (!o->arg) {
            o->arg = a;
        } else {
            return usage_error("unexpected argument '%s'", a);
        }
    }
    if (!o->sub)
        return usage_error("%s", "a subcommand is needed");
    return 0;
}

static int load_master(const char *home, uint8_t key[32], char addr[OSR_IDENTITY_ADDR_STRLEN + 1])
{
    struct osr_diag d = {0};
    int rc = osr_masterkey_load(home, key, &d);
    if (rc == OSR_ENOTFOUND) {
        fprintf(stderr, "osaurus keys: %s; run 'osaurus identity init' first\n", d.msg);
        return rc;
    }
    if (rc) {
        fprintf(stderr, "osaurus keys: %s\n", d.msg);
        return rc;
    }
    uint8_t a[OSR_IDENTITY_ADDR_LEN];
    OSR_ASSERT(osr_identity_address(key, a) == OSR_OK);
    osr_identity_address_format(a, addr);
    return OSR_OK;
}

static int agent_address(const uint8_t master[32], uint32_t index,
                         char out[OSR_IDENTITY_ADDR_STRLEN + 1])
{
    uint8_t child[32], a[OSR_IDENTITY_ADDR_LEN];
    int rc = osr_identity_child_key_v1(master, index, child);
    if (rc == OSR_OK)
        rc = osr_identity_address(child, a);
    OPENSSL_cleanse(child, sizeof(child));
    if (rc == OSR_OK)
        osr_identity_address_format(a, out);
    return rc;
}

static int cmd_create(const struct opts *o, const char *home)
{
    uint8_t master[32];
    char maddr[OSR_IDENTITY_ADDR_STRLEN + 1];
    struct osr_keystore ks = {0};
    struct osr_buf key;
    struct osr_diag d = {0};
    int lock = -1, exit_code = OSR_EXIT_FAILURE;

    osr_buf_init(&key, OSR_OSK_MAX_LEN);
    if (o->n_agents > 1) {
        exit_code = usage_error("%s", "'create' takes at most one '--agent'");
        goto out;
    }
    if (load_master(home, master, maddr))
        goto out;
    if (osr_keystore_lock(home, &lock, &d) || osr_keystore_load(home, &ks, &d)) {
        fprintf(stderr, "osaurus keys: %s\n", d.msg);
        goto out;
    }
    struct osr_osk_mint m = {
        .master_key = master,
        .agent_scoped = o->n_agents == 1,
        .agent_index = o->n_agents ? o->agents[0] : 0,
        .label = o->label,
        .expiry = o->expiry,
        .now = osr_wall_ms() / 1000,
        .cnt = osr_keystore_next_counter(&ks),
    };
    struct osr_osk_info info;
    if (osr_osk_mint(&m, &key, &info, &d) != OSR_OK) {
        fprintf(stderr, "osaurus keys: %s\n", d.msg[0] ? d.msg : "cannot mint the key");
        goto out;
    }
    if (osr_keystore_add(&ks, &info) || osr_keystore_save(home, &ks, &d)) {
        fprintf(stderr, "osaurus keys: cannot record the key: %s\n", d.msg);
        goto out;
    }
    printf("%s\n", osr_buf_str(&key));
    fflush(stdout);
    fprintf(stderr, "created key %.8s (%s, %s); it is shown only this once\n", info.id,
            m.agent_scoped ? "agent-scoped" : "master-scoped", osr_osk_expiry_name(o->expiry));
    exit_code = OSR_EXIT_OK;
out:
    if (key.data)
        OPENSSL_cleanse(key.data, key.len);
    osr_buf_release(&key);
    OPENSSL_cleanse(master, sizeof(master));
    osr_keystore_release(&ks);
    osr_keystore_unlock(lock);
    return exit_code;
}

static const char *status_of(const struct osr_osk_info *k, int64_t now)
{
    if (k->revoked)
        return "revoked";
    if (k->has_expires && now >= k->expires)
        return "expired";
    return "active";
}

static void print_json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static int cmd_list(const struct opts *o, const char *home)
{
    struct osr_keystore ks = {0};
    struct osr_diag d = {0};
    int64_t now = osr_wall_ms() / 1000;
    if (osr_keystore_load(home, &ks, &d)) {
        fprintf(stderr, "osaurus keys: %s\n", d.msg);
        osr_keystore_release(&ks);
        return OSR_EXIT_FAILURE;
    }
    char created[OSR_ISO8601_MAX], expires[OSR_ISO8601_MAX];
    if (o->json)
        putchar('[');
    else if (ks.n_keys)
        printf("%-8s  %-20s  %-7s  %-20s  %-20s  %s\n", "ID", "PREFIX", "STATUS", "CREATED",
               "EXPIRES", "LABEL / ISSUER");
    for (size_t i = 0; i < ks.n_keys; i++) {
        const struct osr_osk_info *k = &ks.keys[i];
        osr_time_iso8601(created, k->created * 1000, 0);
        if (k->has_expires)
            osr_time_iso8601(expires, k->expires * 1000, 0);
        else
            snprintf(expires, sizeof(expires), "never");
        if (o->json) {
            printf("%s{\"id\":\"%s\",\"label\":", i ? "," : "", k->id);
            print_json_string(k->label);
            printf(",\"prefix\":\"%s\",\"nonce\":\"%s\",\"cnt\":%llu,\"iss\":\"%s\","
                   "\"aud\":\"%s\",\"createdAt\":\"%s\",\"expiration\":\"%s\"",
                   k->prefix, k->nonce, (unsigned long long)k->cnt, k->iss, k->aud, created,
                   osr_osk_expiry_name(k->expiration));
            if (k->has_expires)
                printf(",\"expiresAt\":\"%s\"", expires);
            printf(",\"revoked\":%s,\"status\":\"%s\"}", k->revoked ? "true" : "false",
                   status_of(k, now));
        } else {
            printf("%.8s  %-20s  %-7s  %-20s  %-20s  %s (%s)\n", k->id, k->prefix,
                   status_of(k, now), created, expires, k->label[0] ? k->label : "-", k->iss);
        }
    }
    if (o->json)
        puts("]");
    else if (!ks.n_keys)
        fprintf(stderr, "no access keys yet; create one with 'osaurus keys create'\n");
    osr_keystore_release(&ks);
    return OSR_EXIT_OK;
}

static int cmd_revoke(const struct opts *o, const char *home)
{
    struct osr_keystore ks = {0};
    struct osr_diag d = {0};
    uint8_t master[32];
    char addr[OSR_IDENTITY_ADDR_STRLEN + 1];
    int lock = -1, exit_code = OSR_EXIT_FAILURE;
    bool have_master = false;

    if (o->all == (o->arg != NULL)) {
        exit_code = usage_error("%s", "'revoke' takes either a key id or '--all'");
        goto out;
    }
    if (o->n_agents > (o->all ? 1u : 0u)) {
        exit_code = usage_error("%s", "'--agent' goes with 'revoke --all' (once)");
        goto out;
    }
    if (o->all) {
        if (load_master(home, master, addr))
            goto out;
        have_master = true;
        if (o->n_agents && agent_address(master, o->agents[0], addr)) {
            fprintf(stderr, "osaurus keys: agent %u has no valid key\n", o->agents[0]);
            goto out;
        }
    }
    if (osr_keystore_lock(home, &lock, &d) || osr_keystore_load(home, &ks, &d)) {
        fprintf(stderr, "osaurus keys: %s\n", d.msg);
        goto out;
    }
    if (o->all) {
        size_t n = osr_keystore_revoke_all(&ks, addr);
        if (osr_keystore_save(home, &ks, &d)) {
            fprintf(stderr, "osaurus keys: %s\n", d.msg);
            goto out;
        }
        printf("revoked every key issued by %s so far (%zu listed)\n", addr, n);
    } else {
        int idx = osr_keystore_find(&ks, o->arg);
        if (idx == OSR_ENOTFOUND) {
            fprintf(stderr, "osaurus keys: no key with id '%s'\n", o->arg);
            goto out;
        }
        if (idx < 0) {
            fprintf(stderr,
                    "osaurus keys: '%s' is too short or matches several keys; give "
                    "more of the id\n",
                    o->arg);
            goto out;
        }
        if (osr_keystore_revoke(&ks, (size_t)idx) || osr_keystore_save(home, &ks, &d)) {
            fprintf(stderr, "osaurus keys: %s\n", d.msg);
            goto out;
        }
        printf("revoked key %.8s (%s)\n", ks.keys[idx].id, ks.keys[idx].prefix);
    }
    exit_code = OSR_EXIT_OK;
out:
    if (have_master)
        OPENSSL_cleanse(master, sizeof(master));
    osr_keystore_release(&ks);
    osr_keystore_unlock(lock);
    return exit_code;
}

static int cmd_verify(const struct opts *o, const char *home)
{
    uint8_t master[32];
    char maddr[OSR_IDENTITY_ADDR_STRLEN + 1];
    struct osr_keystore ks = {0};
    struct osr_diag d = {0};
    char *input = osr_xmalloc(TOKEN_INPUT_MAX + 1);
    char(*agents)[OSR_IDENTITY_ADDR_STRLEN + 1] = NULL;
    const char **agent_ptrs = NULL;
    int exit_code = OSR_EXIT_FAILURE;

    if (load_master(home, master, maddr))
        goto out;
    if (osr_keystore_load(home, &ks, &d)) {
        fprintf(stderr, "osaurus keys: %s\n", d.msg);
        goto out;
    }
    /* Known agents: those named with --agent, and the audiences of agent keys on record. */
    size_t cap = o->n_agents + ks.n_keys, n = 0;
    agents = osr_xcalloc(cap ? cap : 1, sizeof(*agents));
    agent_ptrs = osr_xcalloc(cap ? cap : 1, sizeof(*agent_ptrs));
    for (size_t i = 0; i < o->n_agents; i++)
        if (agent_address(master, o->agents[i], agents[n]) == OSR_OK)
            n++;
    for (size_t i = 0; i < ks.n_keys; i++)
        if (strcasecmp(ks.keys[i].aud, maddr) != 0)
            snprintf(agents[n++], sizeof(agents[0]), "%s", ks.keys[i].aud);
    for (size_t i = 0; i < n; i++)
        agent_ptrs[i] = agents[i];

    size_t len = 0;
    for (;;) {
        if (len == TOKEN_INPUT_MAX) {
            fprintf(stderr, "osaurus keys: the input is too long for an access key\n");
            goto out;
        }
        ssize_t got = read(STDIN_FILENO, input + len, TOKEN_INPUT_MAX - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    input[len] = 0;
    char *tok = input;
    while (*tok == ' ' || *tok == '\n' || *tok == '\r' || *tok == '\t')
        tok++;
    size_t tl = strlen(tok);
    while (tl && (tok[tl - 1] == ' ' || tok[tl - 1] == '\n' || tok[tl - 1] == '\r' ||
                  tok[tl - 1] == '\t'))
        tl--;

    struct osr_osk_ctx ctx = {
        .master_address = maddr,
        .agent_addresses = agent_ptrs,
        .n_agent_addresses = n,
        .now = osr_wall_ms() / 1000,
    };
    osr_keystore_fill_ctx(&ks, &ctx);
    struct osr_osk_result r;
    int rc = osr_osk_verify(tok, tl, &ctx, &r);
    if (rc == OSR_OK) {
        printf("valid: issued by %s (%s)\n", r.issuer,
               r.agent_scoped ? "agent-scoped" : "master-scoped");
        exit_code = OSR_EXIT_OK;
    } else if (r.status == OSR_OSK_INVALID) {
        printf("invalid: %s\n", r.reason);
    } else {
        printf("%s\n", osr_osk_status_name(r.status));
    }
    osr_osk_result_release(&r);
out:
    OPENSSL_cleanse(input, TOKEN_INPUT_MAX + 1);
    free(input);
    free(agents);
    free(agent_ptrs);
    OPENSSL_cleanse(master, sizeof(master));
    osr_keystore_release(&ks);
    return exit_code;
}

int osr_cmd_keys(int argc, char **argv)
{
    struct opts o;
    int prc = parse_args(argc, argv, &o);
    if (prc < 0)
        return OSR_EXIT_OK;
    if (prc)
        return prc;
    bool is_create = !strcmp(o.sub, "create");
    if (!is_create && (o.label || o.expiry != OSR_OSK_EXPIRY_90D))
        return usage_error("%s", "'--label' and '--expires' go with 'create'");
    if (strcmp(o.sub, "revoke") && (o.all || o.arg))
        return usage_error("%s", "only 'revoke' takes an id or '--all'");

    char *home = osr_home_resolve(o.home);
    if (!home) {
        fprintf(stderr, "osaurus keys: cannot find a home folder: set $OSAURUS_HOME or $HOME, "
                        "or pass --home\n");
        return OSR_EXIT_FAILURE;
    }
    int rc;
    if (is_create)
        rc = cmd_create(&o, home);
    else if (!strcmp(o.sub, "list"))
        rc = cmd_list(&o, home);
    else if (!strcmp(o.sub, "revoke"))
        rc = cmd_revoke(&o, home);
    else if (!strcmp(o.sub, "verify"))
        rc = cmd_verify(&o, home);
    else
        rc = usage_error("unknown subcommand '%s'", o.sub);
    free(home);
    return rc;
}
