/* cmd_agents.c - `osaurus agents list|create|show|rm`: the agents store from the command line.
 *
 * Works on <home>/agents through the agents store, so it needs no running server and follows
 * the same validation.  It does not run agents.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osr/agents.h"
#include "osr/cli.h"
#include "osr/cli_agents.h"
#include "osr/config.h"
#include "osr/json.h"

static const char agents_usage[] =
    "usage: osaurus agents list [--json]\n"
    "       osaurus agents create --name NAME [--model MODEL] [--prompt TEXT] [--temperature T]\n"
    "       osaurus agents show ID\n"
    "       osaurus agents rm ID\n"
    "options:\n"
    "  --home DIR       use DIR instead of $OSAURUS_HOME or ~/.osaurus\n";

struct args {
    const char *home;
    const char *name;
    const char *model;
    const char *prompt;
    const char *temperature;
    int json;
    const char *pos[4];
    int n_pos;
};

/* Returns -1 to go on, else an exit code. */
static int parse_args(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {
        {"home", required_argument, NULL, 'H'},   {"name", required_argument, NULL, 'n'},
        {"model", required_argument, NULL, 'm'},  {"prompt", required_argument, NULL, 'p'},
        {"temperature", required_argument, NULL, 't'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof(*a));
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'H':
            a->home = optarg;
            break;
        case 'n':
            a->name = optarg;
            break;
        case 'm':
            a->model = optarg;
            break;
        case 'p':
            a->prompt = optarg;
            break;
        case 't':
            a->temperature = optarg;
            break;
        case 'j':
            a->json = 1;
            break;
        case 'h':
            fputs(agents_usage, stdout);
            return OSR_EXIT_OK;
        default:
            fputs(agents_usage, stderr);
            return OSR_EXIT_USAGE;
        }
    }
    for (int i = optind; i < argc; i++) {
        if (a->n_pos == (int)(sizeof(a->pos) / sizeof(a->pos[0]))) {
            fprintf(stderr, "osaurus agents: too many arguments\n");
            return OSR_EXIT_USAGE;
        }
        a->pos[a->n_pos++] = argv[i];
    }
    if (a->n_pos == 0) {
        fputs(agents_usage, stderr);
        return OSR_EXIT_USAGE;
    }
    return -1;
}

static const char *str_of(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : "";
}

static int cmd_list(struct osr_agents *st, const struct args *a)
{
    struct osr_diag d;
    osr_diag_clear(&d);
    struct json_object *list = NULL;
    int rc = osr_agents_list(st, &list, &d);
    if (rc) {
        fprintf(stderr, "osaurus agents: %s\n", d.msg[0] ? d.msg : osr_strerror(rc));
        return OSR_EXIT_FAILURE;
    }
    if (a->json) {
        puts(json_object_to_json_string_ext(list, JSON_C_TO_STRING_PRETTY |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE));
    } else {
        printf("%-36s  %-24s  %-24s  %s\n", "ID", "NAME", "MODEL", "BUILT-IN");
        size_t n = json_object_array_length(list);
        for (size_t i = 0; i < n; i++) {
            struct json_object *o = json_object_array_get_idx(list, i);
            struct json_object *b = NULL;
            json_object_object_get_ex(o, "isBuiltIn", &b);
            printf("%-36s  %-24s  %-24s  %s\n", str_of(o, "id"), str_of(o, "name"),
                   str_of(o, "defaultModel"), b && json_object_get_boolean(b) ? "yes" : "no");
        }
    }
    json_object_put(list);
    return OSR_EXIT_OK;
}

static int cmd_create(struct osr_agents *st, const struct args *a)
{
    if (a->n_pos != 1 || !a->name) {
        fprintf(stderr, "osaurus agents create: --name is required\n");
        return OSR_EXIT_USAGE;
    }
    struct json_object *f = json_object_new_object();
    json_object_object_add(f, "name", json_object_new_string(a->name));
    if (a->model)
        json_object_object_add(f, "defaultModel", json_object_new_string(a->model));
    if (a->prompt)
        json_object_object_add(f, "systemPrompt", json_object_new_string(a->prompt));
    if (a->temperature) {
        char *end = NULL;
        double t = strtod(a->temperature, &end);
        if (!*a->temperature || *end) {
            fprintf(stderr, "osaurus agents create: --temperature must be a number, not '%s'\n",
                    a->temperature);
            json_object_put(f);
            return OSR_EXIT_USAGE;
        }
        json_object_object_add(f, "temperature", json_object_new_double(t));
    }
    struct osr_diag d;
    osr_diag_clear(&d);
    struct json_object *doc = NULL;
    int rc = osr_agents_create(st, f, &doc, &d);
    json_object_put(f);
    if (rc) {
        fprintf(stderr, "osaurus agents create: %s\n", d.msg[0] ? d.msg : osr_strerror(rc));
        return rc == OSR_EINVAL ? OSR_EXIT_USAGE : OSR_EXIT_FAILURE;
    }
    printf("%s\n", str_of(doc, "id"));
    json_object_put(doc);
    return OSR_EXIT_OK;
}

static int cmd_show(struct osr_agents *st, const struct args *a)
{
    if (a->n_pos != 2) {
        fputs(agents_usage, stderr);
        return OSR_EXIT_USAGE;
    }
    struct osr_diag d;
    osr_diag_clear(&d);
    struct json_object *doc = NULL;
    int rc = osr_agents_get(st, a->pos[1], &doc, &d);
    if (rc) {
        fprintf(stderr, "osaurus agents show: %s\n", d.msg[0] ? d.msg : osr_strerror(rc));
        return OSR_EXIT_FAILURE;
    }
    puts(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(doc);
    return OSR_EXIT_OK;
}

static int cmd_rm(struct osr_agents *st, const struct args *a)
{
    if (a->n_pos != 2) {
        fputs(agents_usage, stderr);
        return OSR_EXIT_USAGE;
    }
    struct osr_diag d;
    osr_diag_clear(&d);
    int rc = osr_agents_delete(st, a->pos[1], &d);
    if (rc) {
        fprintf(stderr, "osaurus agents rm: %s\n", d.msg[0] ? d.msg : osr_strerror(rc));
        return OSR_EXIT_FAILURE;
    }
    printf("removed %s\n", a->pos[1]);
    return OSR_EXIT_OK;
}

int osr_cmd_agents(int argc, char **argv)
{
    struct args a;
    int ec = parse_args(argc, argv, &a);
    if (ec >= 0)
        return ec;
    char *home = osr_home_resolve(a.home);
    if (!home) {
        fprintf(stderr, "osaurus agents: no home directory (set OSAURUS_HOME or HOME)\n");
        return OSR_EXIT_FAILURE;
    }
    struct osr_agents *st = osr_agents_open(home);
    if (!st) {
        free(home);
        return OSR_EXIT_FAILURE;
    }
    const char *sub = a.pos[0];
    if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0)
        ec = a.n_pos == 1 ? cmd_list(st, &a) : OSR_EXIT_USAGE;
    else if (strcmp(sub, "create") == 0)
        ec = cmd_create(st, &a);
    else if (strcmp(sub, "show") == 0)
        ec = cmd_show(st, &a);
    else if (strcmp(sub, "rm") == 0 || strcmp(sub, "remove") == 0)
        ec = cmd_rm(st, &a);
    else {
        fprintf(stderr, "osaurus agents: unknown subcommand '%s'\n%s", sub, agents_usage);
        ec = OSR_EXIT_USAGE;
    }
    osr_agents_free(st);
    free(home);
    return ec;
}
