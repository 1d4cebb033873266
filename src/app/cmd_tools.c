/* cmd_tools.c - `osaurus tools list|secret`: the tools the server would offer, and MCP provider
 * secrets.
 *
 * `list` builds what `osaurus serve` builds - the built-in tools with config/tools.json
 * applied, then each enabled MCP provider of providers/mcp.json, connected within its
 * discovery timeout - and prints every tool with its source and policy, and every provider
 * with its state or error.  It needs no running server.  `secret` stores (or deletes) one value
 * for a provider's secretHeaderKeys / secretEnvKeys in the encrypted secret store, reading it
 * from standard input so it never shows in the process list or shell history.
 * Plugins (the original's `tools install` and friends) are not here.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include "osr/agent_loop.h"
#include "osr/buf.h"
#include "osr/cli.h"
#include "osr/cli_tools.h"
#include "osr/config.h"
#include "osr/json.h"
#include "osr/log.h"
#include "osr/mcp_client.h"
#include "osr/secrets.h"
#include "osr/tools.h"

#define SECRET_MAX 16384

static const char tools_usage[] =
    "usage: osaurus tools list [--json] [--home DIR]\n"
    "       osaurus tools secret PROVIDER NAME [--delete] [--home DIR]\n"
    "\n"
    "  list                 every tool with its source (builtin, mcp, and loop and folder for\n"
    "                       the tools agent runs add) and policy (auto, ask,\n"
    "                       deny): the built-ins and the tools of each enabled provider of\n"
    "                       providers/mcp.json (connected now, within its discoveryTimeout);\n"
    "                       providers that fail are listed with their error\n"
    "  secret PROVIDER NAME store the value on standard input as the MCP provider's secret\n"
    "                       NAME (a secretHeaderKeys header or secretEnvKeys variable) in the\n"
    "                       encrypted secret store; --delete removes it\n"
    "\n"
    "  --json               print JSON: {\"tools\":[...],\"providers\":[...]}\n"
    "  --home DIR           use DIR instead of $OSAURUS_HOME or ~/.osaurus\n";

struct args {
    const char *home;
    bool json;
    bool del;
    const char *pos[4];
    int n_pos;
};

static int parse_args(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {
        {"home", required_argument, NULL, 'H'},
        {"json", no_argument, NULL, 'j'},
        {"delete", no_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof(*a));
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'H':
            a->home = optarg;
            break;
        case 'j':
            a->json = true;
            break;
        case 'd':
            a->del = true;
            break;
        case 'h':
            fputs(tools_usage, stdout);
            return OSR_EXIT_OK;
        default:
            fputs(tools_usage, stderr);
            return OSR_EXIT_USAGE;
        }
    }
    for (int i = optind; i < argc; i++) {
        if (a->n_pos == (int)(sizeof(a->pos) / sizeof(a->pos[0]))) {
            fprintf(stderr, "osaurus tools: too many arguments\n");
            return OSR_EXIT_USAGE;
        }
        a->pos[a->n_pos++] = argv[i];
    }
    if (a->n_pos == 0) {
        fputs(tools_usage, stderr);
        return OSR_EXIT_USAGE;
    }
    return -1;
}

static const char *str_of(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : "";
}

/* The provider whose status lists tool, or NULL. */
static const char *provider_of(struct json_object *status, const char *tool)
{
    for (size_t i = 0; i < json_object_array_length(status); i++) {
        struct json_object *p = json_object_array_get_idx(status, i), *names = NULL;
        if (!json_object_object_get_ex(p, "tools", &names))
            continue;
        for (size_t k = 0; k < json_object_array_length(names); k++)
            if (strcmp(json_object_get_string(json_object_array_get_idx(names, k)), tool) == 0)
                return str_of(p, "id");
    }
    return NULL;
}

/* One line of a description: up to the first newline, cut to width. */
static void print_desc(const char *d, int width)
{
    int n = 0;
    while (d[n] && d[n] != '\n' && d[n] != '\r' && n < width)
        n++;
    printf("%.*s%s\n", n, d, d[n] && d[n] != '\n' && d[n] != '\r' ? "..." : "");
}

static int cmd_list(const char *home, const struct args *a)
{
    struct osr_diag d;
    osr_diag_clear(&d);
    struct osr_tools *tools = osr_tools_new();
    int ec = OSR_EXIT_OK;
    struct osr_mcp_clients *m = NULL;
    struct json_object *list = NULL, *status = NULL;
    if (osr_tools_load_config(tools, home, &d) != OSR_OK) {
        fprintf(stderr, "osaurus tools: %s\n", d.msg);
        ec = OSR_EXIT_CONFIG;
        goto out;
    }
    if (osr_tools_add_builtins(tools, &d) != OSR_OK) {
        fprintf(stderr, "osaurus tools: built-in tools: %s\n", d.msg);
        ec = OSR_EXIT_FAILURE;
        goto out;
    }
    struct osr_mcp_clients_opts o = {.wait = true};
    int rc = osr_mcp_clients_start(home, tools, &o, &m, &d);
    if (rc) {
        fprintf(stderr, "osaurus tools: %s\n", d.msg[0] ? d.msg : osr_strerror(rc));
        ec = rc == OSR_ECONFIG ? OSR_EXIT_CONFIG : OSR_EXIT_FAILURE;
        goto out;
    }
    list = osr_tools_list(tools, true);
    struct json_object *run_tools = osr_agent_run_tools(home);
    for (size_t i = 0; i < json_object_array_length(run_tools); i++)
        json_object_array_add(list, json_object_get(json_object_array_get_idx(run_tools, i)));
    json_object_put(run_tools);
    status = osr_mcp_clients_status(m);
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        struct json_object *t = json_object_array_get_idx(list, i);
        const char *prov = provider_of(status, str_of(t, "name"));
        if (prov)
            json_object_object_add(t, "provider", json_object_new_string(prov));
    }
    if (a->json) {
        struct json_object *doc = json_object_new_object();
        json_object_object_add(doc, "tools", json_object_get(list));
        json_object_object_add(doc, "providers", json_object_get(status));
        puts(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
                                                     JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(doc);
        goto out;
    }
    printf("%-40s  %-8s  %-6s  %s\n", "NAME", "SOURCE", "POLICY", "DESCRIPTION");
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        struct json_object *t = json_object_array_get_idx(list, i);
        printf("%-40s  %-8s  %-6s  ", str_of(t, "name"), str_of(t, "source"), str_of(t, "policy"));
        print_desc(str_of(t, "description"), 60);
    }
    size_t np = json_object_array_length(status);
    if (np)
        printf("\nMCP providers (providers/mcp.json):\n");
    for (size_t i = 0; i < np; i++) {
        struct json_object *p = json_object_array_get_idx(status, i), *c = NULL, *n = NULL;
        json_object_object_get_ex(p, "connected", &c);
        json_object_object_get_ex(p, "tool_count", &n);
        if (json_object_get_boolean(c))
            printf("  %-24s  %-5s  connected, %d tool(s)\n", str_of(p, "id"),
                   str_of(p, "transport"), json_object_get_int(n));
        else
            printf("  %-24s  %-5s  %s\n", str_of(p, "id"), str_of(p, "transport"),
                   str_of(p, "last_error"));
    }
out:
    json_object_put(list);
    json_object_put(status);
    osr_mcp_clients_free(m);
    osr_tools_free(tools);
    return ec;
}

/* Reads standard input up to SECRET_MAX bytes, without a trailing line end. */
static int read_secret(struct osr_buf *b)
{
    char chunk[1024];
    size_t r;
    while ((r = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
        int rc = osr_buf_append(b, chunk, r);
        OPENSSL_cleanse(chunk, sizeof(chunk));
        if (rc)
            return rc;
    }
    while (b->len && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == '\r'))
        b->data[--b->len] = '\0';
    return OSR_OK;
}

static int cmd_secret(const char *home, const struct args *a)
{
    if (a->n_pos != 3) {
        fputs(tools_usage, stderr);
        return OSR_EXIT_USAGE;
    }
    const char *id = a->pos[1], *name = a->pos[2];
    struct osr_diag d;
    osr_diag_clear(&d);
    struct osr_mcp_config cfg;
    int rc = osr_mcp_config_load(home, &cfg, &d);
    if (rc) {
        fprintf(stderr, "osaurus tools secret: %s\n", d.msg);
        return rc == OSR_ECONFIG ? OSR_EXIT_CONFIG : OSR_EXIT_FAILURE;
    }
    bool known = false, listed = false;
    for (size_t i = 0; i < cfg.n; i++) {
        if (strcmp(cfg.items[i].id, id) != 0)
            continue;
        known = true;
        for (size_t k = 0; k < cfg.items[i].n_secret_headers; k++)
            listed |= strcmp(cfg.items[i].secret_headers[k], name) == 0;
        for (size_t k = 0; k < cfg.items[i].n_secret_env; k++)
            listed |= strcmp(cfg.items[i].secret_env[k], name) == 0;
    }
    osr_mcp_config_release(&cfg);
    if (!known && !a->del) {
        fprintf(stderr, "osaurus tools secret: no provider '%s' in providers/mcp.json\n", id);
        return OSR_EXIT_FAILURE;
    }
    if (!listed && !a->del)
        fprintf(stderr,
                "osaurus tools secret: note: '%s' is not in the provider's secretHeaderKeys or "
                "secretEnvKeys, so it is not used until it is\n",
                name);
    char scope[96];
    snprintf(scope, sizeof(scope), "mcp:%s", id);
    struct osr_secrets *s = NULL;
    struct osr_buf b;
    osr_buf_init(&b, SECRET_MAX);
    rc = osr_secrets_open(&s, home, &d);
    if (rc == OSR_OK && a->del) {
        rc = osr_secrets_delete(s, scope, name, &d);
    } else if (rc == OSR_OK) {
        rc = read_secret(&b);
        if (rc == OSR_ETOOBIG)
            osr_diag_set(&d, rc, "the value is larger than %d bytes", SECRET_MAX);
        else if (b.len == 0)
            rc = osr_diag_set(&d, OSR_EINVAL, "no value on standard input");
        else
            rc = osr_secrets_put(s, scope, name, osr_buf_str(&b), &d);
    }
    osr_secrets_close(s);
    if (b.data)
        OPENSSL_cleanse(b.data, b.len);
    osr_buf_release(&b);
    if (rc) {
        fprintf(stderr, "osaurus tools secret: %s\n", d.msg[0] ? d.msg : osr_strerror(rc));
        return OSR_EXIT_FAILURE;
    }
    printf("%s secret '%s' of MCP provider '%s'\n", a->del ? "deleted" : "stored", name, id);
    return OSR_EXIT_OK;
}

int osr_cmd_tools(int argc, char **argv)
{
    struct args a;
    int ec = parse_args(argc, argv, &a);
    if (ec >= 0)
        return ec;
    char *home = osr_home_resolve(a.home);
    if (!home) {
        fprintf(stderr, "osaurus tools: no home directory (set OSAURUS_HOME or HOME)\n");
        return OSR_EXIT_FAILURE;
    }
    /* Provider failures are part of the listing; keep the log to real errors. */
    if (osr_log_get_level() < OSR_LOG_ERROR)
        osr_log_set_level(OSR_LOG_ERROR);
    const char *sub = a.pos[0];
    if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0) {
        ec = a.n_pos == 1 ? cmd_list(home, &a) : OSR_EXIT_USAGE;
        if (a.n_pos != 1)
            fputs(tools_usage, stderr);
    } else if (strcmp(sub, "secret") == 0) {
        ec = cmd_secret(home, &a);
    } else {
        fprintf(stderr, "osaurus tools: unknown subcommand '%s'\n%s", sub, tools_usage);
        ec = OSR_EXIT_USAGE;
    }
    free(home);
    return ec;
}
