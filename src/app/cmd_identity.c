/* cmd_identity.c - `osaurus identity`: show, init, export-phrase, recover.
 *
 * A thin command layer over masterkey.c (the key file), identity.c (addresses) and bip39.c
 * (the 24-word backup).  It prints addresses freely and the phrase only when asked to with
 * export-phrase; the key itself is never printed.  Access keys (`osaurus keys`) are not
 * handled here.
 */
#include "osr/cli_identity.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "osr/alloc.h"
#include "osr/bip39.h"
#include "osr/cli.h"
#include "osr/config.h"
#include "osr/identity.h"
#include "osr/masterkey.h"

#define PHRASE_INPUT_MAX 4096 /* generous: 24 words take about 200 bytes */

static const char identity_usage[] =
    "usage: osaurus identity <subcommand> [--home DIR]\n"
    "\n"
    "  show [--agent N] [--json]  print the identity's address (and agent N's address)\n"
    "  init                       create a new master key in <home>/identity/master.key\n"
    "  export-phrase              print the 24-word recovery phrase of the master key\n"
    "  recover [--force]          read a 24-word phrase on standard input and restore the\n"
    "                             master key from it (--force replaces a different key;\n"
    "                             the old key file is kept beside it, never deleted)\n"
    "\n"
    "options:\n"
    "      --home DIR      use DIR instead of $OSAURUS_HOME or ~/.osaurus\n";

struct opts {
    const char *sub;
    const char *home;
    bool json;
    bool force;
    bool has_agent;
    uint32_t agent;
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "osaurus identity: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n\n%s", identity_usage);
    va_end(ap);
    return OSR_EXIT_USAGE;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(identity_usage, stdout);
            return -1;
        } else if (!strcmp(a, "--home")) {
            if (i + 1 >= argc)
                return usage_error("'%s' needs a value", a);
            o->home = argv[++i];
        } else if (!strncmp(a, "--home=", 7)) {
            o->home = a + 7;
        } else if (!strcmp(a, "--json")) {
            o->json = true;
        } else if (!strcmp(a, "--force")) {
            o->force = true;
        } else if (!strcmp(a, "--agent")) {
            if (i + 1 >= argc)
                return usage_error("'%s' needs a value", a);
            const char *v = argv[++i];
            char *end = NULL;
            errno = 0;
            unsigned long n = strtoul(v, &end, 10);
            if (errno || !end || *end || v[0] < '0' || v[0] > '9' || n > UINT32_MAX)
                return usage_error("'--agent' needs an index from 0 to 4294967295, not '%s'", v);
            o->has_agent = true;
            o->agent = (uint32_t)n;
        } else if (a[0] == '-') {
            return usage_error("unknown option '%s'", a);
        } else if (!o->sub) {
            o->sub = a;
        } else {
            return usage_error("unexpected argument '%s'", a);
        }
    }
    if (!o->sub)
        return usage_error("%s", "a subcommand is needed");
    return 0;
}

static void format_address(const uint8_t key[32], char out[OSR_IDENTITY_ADDR_STRLEN + 1])
{
    uint8_t addr[OSR_IDENTITY_ADDR_LEN];
    OSR_ASSERT(osr_identity_address(key, addr) == OSR_OK); /* loaded keys are validated */
    osr_identity_address_format(addr, out);
}

static int load_or_explain(const char *home, uint8_t key[32])
{
    struct osr_diag d = {0};
    int rc = osr_masterkey_load(home, key, &d);
    if (rc == OSR_ENOTFOUND)
        fprintf(stderr,
                "osaurus identity: %s; run 'osaurus identity init' or "
                "'osaurus identity recover'\n",
                d.msg);
    else if (rc)
        fprintf(stderr, "osaurus identity: %s\n", d.msg);
    return rc;
}

static int cmd_show(const struct opts *o, const char *home)
{
    uint8_t key[32], child[32];
    char addr[OSR_IDENTITY_ADDR_STRLEN + 1], agent_addr[OSR_IDENTITY_ADDR_STRLEN + 1] = "";
    int rc = load_or_explain(home, key);
    if (rc)
        return OSR_EXIT_FAILURE;
    format_address(key, addr);
    if (o->has_agent) {
        rc = osr_identity_child_key_v1(key, o->agent, child);
        if (rc == OSR_OK)
            format_address(child, agent_addr);
        OPENSSL_cleanse(child, sizeof(child));
    }
    OPENSSL_cleanse(key, sizeof(key));
    if (rc) {
        fprintf(stderr, "osaurus identity: agent %u has no valid key; use another index\n",
                o->agent);
        return OSR_EXIT_FAILURE;
    }
    char *path = osr_masterkey_path(home);
    if (o->json) {
        printf("{\"address\":\"%s\",\"key_file\":\"", addr);
        for (const char *p = path; *p; p++) {
            if (*p == '"' || *p == '\\')
                putchar('\\');
            if ((unsigned char)*p < 0x20)
                printf("\\u%04x", (unsigned char)*p);
            else
                putchar(*p);
        }
        putchar('"');
        if (o->has_agent)
            printf(",\"agent_index\":%u,\"agent_address\":\"%s\"", o->agent, agent_addr);
        puts("}");
    } else {
        printf("address:  %s\nkey file: %s\n", addr, path);
        if (o->has_agent)
            printf("agent %u:  %s\n", o->agent, agent_addr);
    }
    free(path);
    return OSR_EXIT_OK;
}

static int cmd_init(const char *home)
{
    uint8_t key[32];
    char addr[OSR_IDENTITY_ADDR_STRLEN + 1];
    struct osr_diag d = {0};
    int rc = osr_masterkey_create(home, key, &d);
    if (rc) {
        fprintf(stderr, "osaurus identity: %s\n", d.msg);
        if (rc == OSR_EEXIST)
            fprintf(stderr, "(use 'osaurus identity show' to see it)\n");
        return OSR_EXIT_FAILURE;
    }
    format_address(key, addr);
    OPENSSL_cleanse(key, sizeof(key));
    printf("%s\n", addr);
    fprintf(stderr, "created a new identity; back it up with "
                    "'osaurus identity export-phrase'\n");
    return OSR_EXIT_OK;
}

static int cmd_export(const char *home)
{
    uint8_t key[32];
    char phrase[OSR_BIP39_PHRASE_MAX];
    if (load_or_explain(home, key))
        return OSR_EXIT_FAILURE;
    int rc = osr_bip39_encode(key, sizeof(key), phrase);
    OPENSSL_cleanse(key, sizeof(key));
    if (rc) {
        fprintf(stderr, "osaurus identity: cannot encode the phrase\n");
        return OSR_EXIT_FAILURE;
    }
    if (isatty(STDOUT_FILENO))
        fprintf(stderr, "Anyone who has these 24 words controls this identity. "
                        "Write them down and keep them offline.\n");
    printf("%s\n", phrase);
    fflush(stdout);
    OPENSSL_cleanse(phrase, sizeof(phrase));
    return OSR_EXIT_OK;
}

/* Reads standard input up to the cap; returns the number of bytes or -1 when it is longer. */
static long read_stdin(char *buf, size_t cap)
{
    size_t len = 0;
    for (;;) {
        if (len == cap)
            return -1;
        ssize_t got = read(STDIN_FILENO, buf + len, cap - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    return (long)len;
}

static int cmd_recover(const struct opts *o, const char *home)
{
    char *input = osr_xmalloc(PHRASE_INPUT_MAX + 1);
    uint8_t key[32], existing[32];
    char addr[OSR_IDENTITY_ADDR_STRLEN + 1];
    struct osr_diag d = {0};
    int exit_code = OSR_EXIT_FAILURE;

    if (isatty(STDIN_FILENO))
        fprintf(stderr, "Type or paste the 24-word phrase, then press Ctrl-D:\n");
    long n = read_stdin(input, PHRASE_INPUT_MAX);
    if (n < 0) {
        fprintf(stderr,
                "osaurus identity: the input is longer than %d bytes; "
                "a phrase is 24 words\n",
                PHRASE_INPUT_MAX);
        goto out;
    }
    input[n] = 0;
    if (osr_bip39_decode(input, OSR_BIP39_MAX_WORDS, key, &d) != OSR_OK) {
        fprintf(stderr, "osaurus identity: %s\n", d.msg);
        goto out;
    }
    if (osr_identity_seckey_check(key) != OSR_OK) {
        fprintf(stderr, "osaurus identity: the phrase is well formed but does not encode a "
                        "usable key\n");
        goto out;
    }
    format_address(key, addr);

    int rc = osr_masterkey_load(home, existing, &d);
    if (rc == OSR_OK && memcmp(existing, key, sizeof(key)) == 0) {
        printf("%s\n", addr);
        fprintf(stderr, "the identity on this machine already matches the phrase\n");
        exit_code = OSR_EXIT_OK;
        goto out;
    }
    if (rc != OSR_ENOTFOUND && !o->force) {
        if (rc == OSR_OK)
            fprintf(stderr, "osaurus identity: a different identity exists here; "
                            "use --force to replace it (the old key file is kept)\n");
        else
            fprintf(stderr,
                    "osaurus identity: %s; use --force to replace it "
                    "(the old key file is kept)\n",
                    d.msg);
        goto out;
    }
    if (osr_masterkey_store(home, key, o->force, &d) != OSR_OK) {
        fprintf(stderr, "osaurus identity: %s\n", d.msg);
        goto out;
    }
    printf("%s\n", addr);
    fprintf(stderr, "recovered the identity from the phrase\n");
    exit_code = OSR_EXIT_OK;
out:
    OPENSSL_cleanse(input, PHRASE_INPUT_MAX + 1);
    free(input);
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(existing, sizeof(existing));
    return exit_code;
}

int osr_cmd_identity(int argc, char **argv)
{
    struct opts o;
    int prc = parse_args(argc, argv, &o);
    if (prc < 0)
        return OSR_EXIT_OK; /* --help */
    if (prc)
        return prc;
    if (strcmp(o.sub, "show") && o.has_agent)
        return usage_error("%s", "'--agent' goes with 'show'");
    if (strcmp(o.sub, "recover") && o.force)
        return usage_error("%s", "'--force' goes with 'recover'");

    char *home = osr_home_resolve(o.home);
    if (!home) {
        fprintf(stderr, "osaurus identity: cannot find a home folder: set $OSAURUS_HOME or "
                        "$HOME, or pass --home\n");
        return OSR_EXIT_FAILURE;
    }
    int rc;
    if (!strcmp(o.sub, "show"))
        rc = cmd_show(&o, home);
    else if (!strcmp(o.sub, "init"))
        rc = cmd_init(home);
    else if (!strcmp(o.sub, "export-phrase"))
        rc = cmd_export(home);
    else if (!strcmp(o.sub, "recover"))
        rc = cmd_recover(&o, home);
    else
        rc = usage_error("unknown subcommand '%s'", o.sub);
    free(home);
    return rc;
}
