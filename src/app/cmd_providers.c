/* cmd_providers.c - `osaurus providers`: list, add, remove and test cloud providers, and set the
 * proxy every upstream request goes through.
 *
 * The command edits <home>/providers/remote.json as a JSON document: it reads the whole file,
 * changes the one provider object (or the top-level "proxy") it is asked to, checks the result
 * with the same parser the server uses, and writes it back atomically, so fields it does not
 * know survive.  API keys never touch remote.json: `add --api-key-stdin` stores the key in the
 * encrypted secret store (scope "provider", {"apiKey": ...}) and `remove` deletes it.  `test`
 * loads the provider exactly as the server would and asks the upstream for its model list.
 * It does not talk to a running server: the server reads remote.json when it starts.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include "osr/alloc.h"
#include "osr/buf.h"
#include "osr/cli.h"
#include "osr/cli_providers.h"
#include "osr/config.h"
#include "osr/json.h"
#include "osr/provider.h"
#include "osr/secrets.h"

#define KEY_MAX 16384 /* bytes of an API key read from stdin */
#define MAX_MODELS_FLAGS 64

static const char providers_usage[] =
    "usage: osaurus providers <list|add|remove|test|proxy> [options]\n"
    "\n"
    "  list [--json]               list the providers of providers/remote.json\n"
    "  add [options]               add a provider:\n"
    "      --preset P              openai, anthropic, gemini, xai, openrouter, venice, deepseek,\n"
    "                              ollama or lmstudio (fills id, type, host, port, base path)\n"
    "      --id ID                 the prefix clients use (ID/model); default: the preset\n"
    "      --type T                openai, anthropic, openResponses, gemini or ollama\n"
    "      --host H  --port N  --https | --http  --base-path P  --name N\n"
    "      --model M               a model id to list (repeat; for upstreams without /models)\n"
    "      --disabled              add it switched off\n"
    "      --api-key-stdin         read the API key from standard input into the encrypted\n"
    "                              secret store (never into remote.json)\n"
    "  remove ID                   remove a provider and its stored secrets\n"
    "  test ID                     list the provider's models with its key: prints the count\n"
    "                              or the upstream's error\n"
    "  proxy [URL | --clear]       show, set or clear the proxy for every upstream request\n"
    "                              (http://, https://, socks4://, socks5://, socks5h://)\n"
    "\n"
    "  --home DIR                  use DIR instead of $OSAURUS_HOME or ~/.osaurus\n";

struct preset {
    const char *name;
    const char *display;
    const char *type;
    const char *host;
    bool https;
    int port;
    const char *base_path;
    bool api_key;
};

static const struct preset presets[] = {
    {"openai", "OpenAI", "openai", "api.openai.com", true, 0, "/v1", true},
    {"anthropic", "Anthropic", "anthropic", "api.anthropic.com", true, 0, "/v1", true},
    {"gemini", "Google Gemini", "gemini", "generativelanguage.googleapis.com", true, 0, "/v1beta",
     true},
    {"xai", "xAI", "openai", "api.x.ai", true, 0, "/v1", true},
    {"openrouter", "OpenRouter", "openai", "openrouter.ai", true, 0, "/api/v1", true},
    {"venice", "Venice", "openai", "api.venice.ai", true, 0, "/api/v1", true},
    {"deepseek", "DeepSeek", "openai", "api.deepseek.com", true, 0, "/v1", true},
    {"ollama", "Ollama", "ollama", "127.0.0.1", false, 11434, "", false},
    {"lmstudio", "LM Studio", "openai", "127.0.0.1", false, 1234, "/v1", false},
};

struct args {
    const char *home;
    const char *preset;
    const char *id;
    const char *type;
    const char *host;
    const char *base_path;
    const char *name;
    int https; /* -1 unset, 0 http, 1 https */
    long port; /* -1 unset */
    bool key_stdin;
    bool disabled;
    bool json;
    bool clear;
    const char *models[MAX_MODELS_FLAGS];
    int n_models;
    const char *pos[4];
    int n_pos;
};

/* Returns -1 to go on, else an exit code. */
static int parse_args(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {
        {"home", required_argument, NULL, 'H'},
        {"preset", required_argument, NULL, 'P'},
        {"id", required_argument, NULL, 'i'},
        {"type", required_argument, NULL, 't'},
        {"host", required_argument, NULL, 'o'},
        {"port", required_argument, NULL, 'p'},
        {"https", no_argument, NULL, 'S'},
        {"http", no_argument, NULL, 'U'},
        {"base-path", required_argument, NULL, 'b'},
        {"name", required_argument, NULL, 'n'},
        {"model", required_argument, NULL, 'm'},
        {"disabled", no_argument, NULL, 'D'},
        {"api-key-stdin", no_argument, NULL, 'k'},
        {"json", no_argument, NULL, 'j'},
        {"clear", no_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof(*a));
    a->https = -1;
    a->port = -1;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'H':
            a->home = optarg;
            break;
        case 'P':
            a->preset = optarg;
            break;
        case 'i':
            a->id = optarg;
            break;
        case 't':
            a->type = optarg;
            break;
        case 'o':
            a->host = optarg;
            break;
        case 'p': {
            char *end = NULL;
            a->port = strtol(optarg, &end, 10);
            if (!*optarg || *end || a->port < 1 || a->port > 65535) {
                fprintf(stderr, "osaurus providers: --port must be 1..65535, not '%s'\n", optarg);
                return OSR_EXIT_USAGE;
            }
            break;
        }
        case 'S':
            a->https = 1;
            break;
        case 'U':
            a->https = 0;
            break;
        case 'b':
            a->base_path = optarg;
            break;
        case 'n':
            a->name = optarg;
            break;
        case 'm':
            if (a->n_models == MAX_MODELS_FLAGS) {
                fprintf(stderr, "osaurus providers: at most %d --model flags\n", MAX_MODELS_FLAGS);
                return OSR_EXIT_USAGE;
            }
            a->models[a->n_models++] = optarg;
            break;
        case 'D':
            a->disabled = true;
            break;
        case 'k':
            a->key_stdin = true;
            break;
        case 'j':
            a->json = true;
            break;
        case 'C':
            a->clear = true;
            break;
        case 'h':
            fputs(providers_usage, stdout);
            return OSR_EXIT_OK;
        default:
            fputs(providers_usage, stderr);
            return OSR_EXIT_USAGE;
        }
    }
    for (int i = optind; i < argc; i++) {
        if (a->n_pos == (int)(sizeof(a->pos) / sizeof(a->pos[0]))) {
            fprintf(stderr, "osaurus providers: too many arguments\n");
            return OSR_EXIT_USAGE;
        }
        a->pos[a->n_pos++] = argv[i];
    }
    return -1;
}

/* ---- remote.json as a document ------------------------------------------------------------ */

struct doc {
    char *dir;
    char *path;
    struct json_object *root; /* owned */
    struct json_object *list; /* borrowed from root: "providers" */
};

static void doc_release(struct doc *d)
{
    json_object_put(d->root);
    free(d->dir);
    free(d->path);
    memset(d, 0, sizeof(*d));
}

/* Reads remote.json (an absent file is an empty document).  Returns an exit code or -1. */
static int doc_load(struct doc *d, const char *home)
{
    memset(d, 0, sizeof(*d));
    d->dir = osr_path_join(home, "providers");
    d->path = osr_path_join(d->dir, "remote.json");
    struct osr_diag diag;
    osr_diag_clear(&diag);
    char *text = NULL;
    size_t len = 0;
    int rc = osr_read_file(d->path, OSR_PROVIDERS_FILE_MAX, &text, &len, &diag);
    if (rc == OSR_ENOTFOUND) {
        d->root = json_object_new_object();
    } else if (rc) {
        fprintf(stderr, "osaurus providers: %s\n", diag.msg);
        return OSR_EXIT_FAILURE;
    } else {
        rc = osr_json_parse(text, len, &d->root, &diag);
        free(text);
        if (rc || !json_object_is_type(d->root, json_type_object)) {
            fprintf(stderr, "osaurus providers: '%s' is not a JSON object%s%s\n", d->path,
                    rc ? ": " : "", rc ? diag.msg : "");
            return OSR_EXIT_CONFIG;
        }
    }
    if (!json_object_object_get_ex(d->root, "providers", &d->list)) {
        d->list = json_object_new_array();
        json_object_object_add(d->root, "providers", d->list);
    }
    if (!json_object_is_type(d->list, json_type_array)) {
        fprintf(stderr, "osaurus providers: '%s': 'providers' must be an array\n", d->path);
        return OSR_EXIT_CONFIG;
    }
    return -1;
}

static int doc_find(const struct doc *d, const char *id)
{
    size_t n = json_object_array_length(d->list);
    for (size_t i = 0; i < n; i++) {
        struct json_object *p = json_object_array_get_idx(d->list, i), *v;
        if (json_object_object_get_ex(p, "id", &v) && json_object_is_type(v, json_type_string) &&
            strcmp(json_object_get_string(v), id) == 0)
            return (int)i;
    }
    return -1;
}

/* Writes the document back atomically.  Returns an exit code or -1. */
static int doc_save(struct doc *d)
{
    struct osr_diag diag;
    osr_diag_clear(&diag);
    const char *text =
        json_object_to_json_string_ext(d->root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                    JSON_C_TO_STRING_NOSLASHESCAPE);
    struct osr_buf b;
    osr_buf_init(&b, OSR_PROVIDERS_FILE_MAX);
    int rc = osr_buf_puts(&b, text);
    if (rc == OSR_OK)
        rc = osr_buf_puts(&b, "\n");
    if (rc == OSR_OK)
        rc = osr_mkdir_p(d->dir, 0700, &diag);
    if (rc == OSR_OK)
        rc = osr_write_file_atomic(d->path, b.data, b.len, 0644, &diag);
    osr_buf_release(&b);
    if (rc) {
        fprintf(stderr, "osaurus providers: cannot write '%s': %s\n", d->path,
                diag.msg[0] ? diag.msg : osr_strerror(rc));
        return OSR_EXIT_FAILURE;
    }
    return -1;
}

/* ---- list ----------------------------------------------------------------------------------- */

static int load_set(const char *home, struct osr_provider_set *set)
{
    struct osr_diag d;
    osr_diag_clear(&d);
    int rc = osr_providers_load(home, set, &d);
    if (rc) {
        fprintf(stderr, "osaurus providers: %s\n", d.msg);
        return rc == OSR_ECONFIG ? OSR_EXIT_CONFIG : OSR_EXIT_FAILURE;
    }
    return -1;
}

static int cmd_list(const struct args *a, const char *home)
{
    struct osr_provider_set set;
    int ec = load_set(home, &set);
    if (ec >= 0)
        return ec;
    struct osr_buf url;
    osr_buf_init(&url, 64 * 1024);
    const char *proxy = set.proxy;
    if (a->json) {
        struct json_object *arr = json_object_new_array();
        for (size_t i = 0; i < set.n; i++) {
            const struct osr_provider *p = &set.items[i];
            osr_buf_reset(&url);
            osr_provider_base_url(p, &url);
            struct json_object *o = json_object_new_object();
            json_object_object_add(o, "id", json_object_new_string(p->id));
            json_object_object_add(o, "type",
                                   json_object_new_string(osr_provider_type_name(p->type)));
            json_object_object_add(o, "url", json_object_new_string(osr_buf_str(&url)));
            json_object_object_add(o, "enabled", json_object_new_boolean(p->enabled));
            json_object_object_add(o, "key_stored", json_object_new_boolean(p->api_key != NULL));
            json_object_array_add(arr, o);
        }
        struct json_object *root = json_object_new_object();
        json_object_object_add(root, "providers", arr);
        json_object_object_add(root, "proxy", proxy ? json_object_new_string(proxy) : NULL);
        puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(root);
    } else if (set.n == 0) {
        puts("no providers (add one with 'osaurus providers add')");
        if (proxy)
            printf("\nproxy: %s\n", proxy);
    } else {
        printf("%-16s %-14s %-48s %-8s %s\n", "ID", "TYPE", "URL", "ENABLED", "KEY");
        for (size_t i = 0; i < set.n; i++) {
            const struct osr_provider *p = &set.items[i];
            osr_buf_reset(&url);
            osr_provider_base_url(p, &url);
            printf("%-16s %-14s %-48s %-8s %s\n", p->id, osr_provider_type_name(p->type),
                   osr_buf_str(&url), p->enabled ? "yes" : "no", p->api_key ? "stored" : "none");
        }
        if (proxy)
            printf("\nproxy: %s\n", proxy);
    }
    osr_buf_release(&url);
    osr_providers_release(&set);
    return OSR_EXIT_OK;
}

/* ---- add ------------------------------------------------------------------------------------ */

/* Reads the key from stdin (to its end, or one line from a terminal, which is asked with echo
 * off; the newline is dropped) into a heap string.  Returns an exit code or -1. */
static int read_key(char **out)
{
    *out = NULL;
    char *buf = osr_xmalloc(KEY_MAX + 1);
    size_t n = 0;
    ssize_t k;
    bool tty = isatty(STDIN_FILENO);
    struct termios saved;
    bool echo_off = false;
    if (tty) {
        fputs("API key: ", stderr);
        fflush(stderr);
        if (tcgetattr(STDIN_FILENO, &saved) == 0) {
            struct termios quiet = saved;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            echo_off = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
        }
    }
    while (n < KEY_MAX && (k = read(STDIN_FILENO, buf + n, KEY_MAX - n)) > 0) {
        n += (size_t)k;
        if (tty && memchr(buf, '\n', n))
            break;
    }
    if (echo_off) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
        fputc('\n', stderr);
    }
    char extra;
    bool too_long =
        n == KEY_MAX && (tty ? memchr(buf, '\n', n) == NULL : read(STDIN_FILENO, &extra, 1) == 1);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    buf[n] = '\0';
    const char *why = too_long ? "is longer than 16 KiB" : n == 0 ? "is empty" : NULL;
    for (size_t i = 0; !why && i < n; i++)
        if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
            why = "holds a control character or a line break";
    if (why) {
        fprintf(stderr, "osaurus providers: the API key read from standard input %s\n", why);
        OPENSSL_cleanse(buf, KEY_MAX + 1);
        free(buf);
        return OSR_EXIT_USAGE;
    }
    *out = buf;
    return -1;
}

/* Stores {"apiKey": key} for id, keeping secret headers stored before. */
static int store_key(const char *home, const char *id, const char *key)
{
    struct osr_diag d;
    osr_diag_clear(&d);
    struct osr_secrets *s = NULL;
    char *old = NULL;
    struct json_object *o = NULL;
    int rc = osr_secrets_open(&s, home, &d);
    if (rc)
        goto out;
    rc = osr_secrets_get(s, "provider", id, &old, &d);
    if (rc == OSR_OK) {
        osr_json_parse(old, strlen(old), &o, NULL);
        OPENSSL_cleanse(old, strlen(old));
    } else if (rc != OSR_ENOTFOUND) {
        goto out;
    }
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = json_object_new_object();
    }
    json_object_object_add(o, "apiKey", json_object_new_string(key));
    struct osr_buf b;
    osr_buf_init(&b, 2 * KEY_MAX + 1024 * 1024);
    rc = osr_json_append(&b, o);
    if (rc == OSR_OK)
        rc = osr_secrets_put(s, "provider", id, osr_buf_str(&b), &d);
    if (b.data)
        OPENSSL_cleanse(b.data, b.len);
    osr_buf_release(&b);
out:
    if (o) {
        /* Overwrite the key in the JSON tree before it is released. */
        struct json_object *v;
        if (json_object_object_get_ex(o, "apiKey", &v)) {
            const char *sv = json_object_get_string(v);
            OPENSSL_cleanse((void *)sv, strlen(sv));
        }
        json_object_put(o);
    }
    free(old);
    osr_secrets_close(s);
    if (rc) {
        fprintf(stderr, "osaurus providers: cannot store the key: %s\n",
                d.msg[0] ? d.msg : osr_strerror(rc));
        return OSR_EXIT_FAILURE;
    }
    return -1;
}

static const struct preset *find_preset(const char *name)
{
    for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
        if (strcmp(presets[i].name, name) == 0)
            return &presets[i];
    return NULL;
}

static int cmd_add(const struct args *a, const char *home)
{
    const struct preset *pr = NULL;
    if (a->preset && !(pr = find_preset(a->preset))) {
        fprintf(stderr,
                "osaurus providers: unknown preset '%s' (openai, anthropic, gemini, xai, "
                "openrouter, venice, deepseek, ollama, lmstudio)\n",
                a->preset);
        return OSR_EXIT_USAGE;
    }
    const char *id = a->id ? a->id : pr ? pr->name : NULL;
    const char *type = a->type ? a->type : pr ? pr->type : NULL;
    const char *host = a->host ? a->host : pr ? pr->host : NULL;
    if (!id || !type || !host) {
        fprintf(stderr, "osaurus providers: add needs --preset, or --id, --type and --host\n");
        return OSR_EXIT_USAGE;
    }
    bool https = a->https >= 0 ? a->https == 1 : pr ? pr->https : true;
    long port = a->port >= 0 ? a->port : pr ? pr->port : 0;
    const char *base = a->base_path ? a->base_path : pr ? pr->base_path : "";
    bool api_key = a->key_stdin || (pr && pr->api_key);

    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(id));
    json_object_object_add(o, "name",
                           json_object_new_string(a->name        ? a->name
                                                  : pr && !a->id ? pr->display
                                                                 : id));
    json_object_object_add(o, "host", json_object_new_string(host));
    json_object_object_add(o, "providerProtocol", json_object_new_string(https ? "https" : "http"));
    if (port)
        json_object_object_add(o, "port", json_object_new_int((int)port));
    json_object_object_add(o, "basePath", json_object_new_string(base));
    json_object_object_add(o, "customHeaders", json_object_new_object());
    json_object_object_add(o, "authType", json_object_new_string(api_key ? "apiKey" : "none"));
    json_object_object_add(o, "providerType", json_object_new_string(type));
    json_object_object_add(o, "enabled", json_object_new_boolean(!a->disabled));
    json_object_object_add(o, "autoConnect", json_object_new_boolean(true));
    json_object_object_add(o, "timeout", json_object_new_int(60));
    json_object_object_add(o, "secretHeaderKeys", json_object_new_array());
    if (a->n_models) {
        struct json_object *m = json_object_new_array();
        for (int i = 0; i < a->n_models; i++)
            json_object_array_add(m, json_object_new_string(a->models[i]));
        json_object_object_add(o, "models", m);
    }

    /* The server's own parser decides whether the entry is usable. */
    struct osr_provider check;
    struct osr_diag d;
    osr_diag_clear(&d);
    if (osr_provider_parse(o, NULL, &check, &d) != OSR_OK) {
        fprintf(stderr, "osaurus providers: %s\n", d.msg);
        json_object_put(o);
        return OSR_EXIT_USAGE;
    }
    osr_provider_release(&check);

    struct doc doc;
    int ec = doc_load(&doc, home);
    if (ec < 0 && doc_find(&doc, id) >= 0) {
        fprintf(stderr, "osaurus providers: a provider '%s' exists already (remove it first)\n",
                id);
        ec = OSR_EXIT_FAILURE;
    }
    char *key = NULL;
    if (ec < 0 && a->key_stdin)
        ec = read_key(&key);
    if (ec < 0) {
        json_object_array_add(doc.list, o);
        o = NULL;
        ec = doc_save(&doc);
    }
    if (ec < 0 && key)
        ec = store_key(home, id, key);
    if (ec < 0) {
        printf("added provider '%s'%s; clients ask for '%s/<model>'\n", id,
               key ? " (key stored encrypted)" : "", id);
        ec = OSR_EXIT_OK;
    }
    if (key) {
        OPENSSL_cleanse(key, strlen(key));
        free(key);
    }
    json_object_put(o);
    doc_release(&doc);
    return ec;
}

/* ---- remove, test, proxy -------------------------------------------------------------------- */

static int cmd_remove(const struct args *a, const char *home)
{
    if (a->n_pos != 2) {
        fprintf(stderr, "osaurus providers: usage: providers remove ID\n");
        return OSR_EXIT_USAGE;
    }
    const char *id = a->pos[1];
    struct doc doc;
    int ec = doc_load(&doc, home);
    int idx = ec < 0 ? doc_find(&doc, id) : -1;
    if (ec < 0 && idx < 0) {
        fprintf(stderr, "osaurus providers: no provider '%s'\n", id);
        ec = OSR_EXIT_FAILURE;
    }
    if (ec < 0) {
        json_object_array_del_idx(doc.list, (size_t)idx, 1);
        ec = doc_save(&doc);
    }
    if (ec < 0) {
        struct osr_diag d;
        osr_diag_clear(&d);
        struct osr_secrets *s = NULL;
        int rc = osr_secrets_open(&s, home, &d);
        if (rc == OSR_OK)
            rc = osr_secrets_delete(s, "provider", id, &d);
        osr_secrets_close(s);
        if (rc && rc != OSR_ENOTFOUND) {
            fprintf(stderr, "osaurus providers: removed '%s', but its secrets stay: %s\n", id,
                    d.msg);
            ec = OSR_EXIT_FAILURE;
        } else {
            printf("removed provider '%s'%s\n", id, rc == OSR_OK ? " and its stored secrets" : "");
            ec = OSR_EXIT_OK;
        }
    }
    doc_release(&doc);
    return ec;
}

static int cmd_test(const struct args *a, const char *home)
{
    if (a->n_pos != 2) {
        fprintf(stderr, "osaurus providers: usage: providers test ID\n");
        return OSR_EXIT_USAGE;
    }
    const char *id = a->pos[1];
    struct osr_provider_set set;
    int ec = load_set(home, &set);
    if (ec >= 0)
        return ec;
    const struct osr_provider *p = NULL;
    for (size_t i = 0; i < set.n && !p; i++)
        if (strcmp(set.items[i].id, id) == 0)
            p = &set.items[i];
    if (!p) {
        fprintf(stderr, "osaurus providers: no provider '%s'\n", id);
        osr_providers_release(&set);
        return OSR_EXIT_FAILURE;
    }
    if (p->api_key_auth && !p->api_key)
        fprintf(stderr, "osaurus providers: note: '%s' wants an API key and none is stored\n", id);
    char **names = NULL;
    size_t n = 0;
    struct osr_diag d;
    osr_diag_clear(&d);
    osr_providers_global_init();
    if (osr_provider_fetch_models(p, &names, &n, &d) != OSR_OK) {
        fprintf(stderr, "osaurus providers: test failed: %s\n", d.msg);
        ec = OSR_EXIT_FAILURE;
    } else {
        printf("provider '%s' answered: %zu model(s)\n", id, n);
        for (size_t i = 0; i < n && i < 10; i++)
            printf("  %s/%s\n", id, names[i]);
        if (n > 10)
            printf("  ... and %zu more\n", n - 10);
        ec = OSR_EXIT_OK;
    }
    osr_provider_names_free(names, n);
    osr_providers_release(&set);
    return ec;
}

static int cmd_proxy(const struct args *a, const char *home)
{
    if (a->n_pos > 2 || (a->n_pos == 2 && a->clear)) {
        fprintf(stderr, "osaurus providers: usage: providers proxy [URL | --clear]\n");
        return OSR_EXIT_USAGE;
    }
    struct osr_diag d;
    osr_diag_clear(&d);
    if (a->n_pos == 2 && osr_provider_proxy_check(a->pos[1], &d) != OSR_OK) {
        fprintf(stderr, "osaurus providers: %s\n", d.msg);
        return OSR_EXIT_USAGE;
    }
    struct doc doc;
    int ec = doc_load(&doc, home);
    if (ec < 0 && a->n_pos < 2 && !a->clear) {
        struct json_object *v;
        if (json_object_object_get_ex(doc.root, "proxy", &v) &&
            json_object_is_type(v, json_type_string) && *json_object_get_string(v))
            printf("%s\n", json_object_get_string(v));
        else
            puts("no proxy set (libcurl's *_proxy environment variables apply)");
        ec = OSR_EXIT_OK;
    }
    if (ec < 0) {
        if (a->clear)
            json_object_object_del(doc.root, "proxy");
        else
            json_object_object_add(doc.root, "proxy", json_object_new_string(a->pos[1]));
        ec = doc_save(&doc);
    }
    if (ec < 0) {
        if (a->clear)
            puts("proxy cleared");
        else
            printf("proxy set to %s\n", a->pos[1]);
        ec = OSR_EXIT_OK;
    }
    doc_release(&doc);
    return ec;
}

int osr_cmd_providers(int argc, char **argv)
{
    struct args a;
    int ec = parse_args(argc, argv, &a);
    if (ec >= 0)
        return ec;
    if (a.n_pos < 1) {
        fputs(providers_usage, stderr);
        return OSR_EXIT_USAGE;
    }
    char *home = osr_home_resolve(a.home);
    if (!home) {
        fprintf(stderr, "osaurus providers: no home directory (set OSAURUS_HOME or HOME)\n");
        return OSR_EXIT_FAILURE;
    }
    const char *sub = a.pos[0];
    if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0)
        ec = a.n_pos == 1 ? cmd_list(&a, home) : OSR_EXIT_USAGE;
    else if (strcmp(sub, "add") == 0)
        ec = a.n_pos == 1 ? cmd_add(&a, home) : OSR_EXIT_USAGE;
    else if (strcmp(sub, "remove") == 0 || strcmp(sub, "rm") == 0)
        ec = cmd_remove(&a, home);
    else if (strcmp(sub, "test") == 0)
        ec = cmd_test(&a, home);
    else if (strcmp(sub, "proxy") == 0)
        ec = cmd_proxy(&a, home);
    else {
        fprintf(stderr, "osaurus providers: unknown subcommand '%s'\n\n%s", sub, providers_usage);
        ec = OSR_EXIT_USAGE;
    }
    if (ec == OSR_EXIT_USAGE && (strcmp(sub, "list") == 0 || strcmp(sub, "add") == 0) &&
        a.n_pos != 1)
        fprintf(stderr, "osaurus providers: %s takes no positional arguments\n", sub);
    free(home);
    return ec;
}
