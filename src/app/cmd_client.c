/* cmd_client.c - `osaurus list` and `osaurus show MODEL`, as the original's CLI: they ask the
 * running server (GET /v1/models, POST /api/show) rather than reading files, so they show what
 * clients see, cloud providers' models included.
 *
 * The server is found through the discovery files (or --port); an exposed server needs an
 * access key, from --access-key or OSAURUS_ACCESS_KEY.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "osr/buf.h"
#include "osr/cli.h"
#include "osr/cli_client.h"
#include "osr/config.h"
#include "osr/discovery.h"
#include "osr/json.h"
#include "osr/local_client.h"
#include "osr/str.h"

#define ANSWER_MAX (16u << 20)

struct target {
    int port;
    const char *key;
};

/* Performs one request; returns the HTTP status (or -1 when nothing answered). */
static long request(const struct target *t, const char *path, const char *body, struct osr_buf *out)
{
    long status = -1;
    if (osr_local_call(t->port, t->key, path, body, 30, &status, out, NULL) != OSR_OK)
        return -1;
    return status;
}

/* Parses --port, --home, --access-key; finds the server.  Returns -1 to go on, else an exit
 * code. */
static int parse(int argc, char **argv, const char *usage, int want_args, struct target *t)
{
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},
        {"home", required_argument, NULL, 'H'},
        {"access-key", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *home_flag = NULL;
    t->port = -1;
    t->key = getenv("OSAURUS_ACCESS_KEY");
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "p:h", opts, NULL)) != -1) {
        long long v;
        switch (c) {
        case 'p':
            if (!osr_str_to_ll(osr_str_cstr(optarg), 1, 65535, &v)) {
                fputs(usage, stderr);
                return OSR_EXIT_USAGE;
            }
            t->port = (int)v;
            break;
        case 'H':
            home_flag = optarg;
            break;
        case 'k':
            t->key = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return OSR_EXIT_OK;
        default:
            fputs(usage, stderr);
            return OSR_EXIT_USAGE;
        }
    }
    if (argc - optind != want_args) {
        fputs(usage, stderr);
        return OSR_EXIT_USAGE;
    }
    if (t->port < 0) {
        char *home = osr_home_resolve(home_flag);
        t->port = osr_local_port(home, NULL);
        free(home);
    }
    return -1;
}

static int report_failure(const char *cmd, long status, const struct osr_buf *body)
{
    if (status < 0)
        fprintf(stderr, "osaurus %s: the server did not answer\n", cmd);
    else
        fprintf(stderr, "osaurus %s: the server answered %ld: %s\n", cmd, status,
                osr_buf_str(body));
    return OSR_EXIT_FAILURE;
}

static const char list_usage[] =
    "usage: osaurus list [--port N] [--home DIR] [--access-key KEY]\n"
    "\n"
    "Prints the id of every model the running server offers (GET /v1/models), one a line:\n"
    "local models first, then cloud providers' models as provider/model.\n";

int osr_cmd_list(int argc, char **argv)
{
    struct target t;
    int early = parse(argc, argv, list_usage, 0, &t);
    if (early >= 0)
        return early;
    struct osr_buf body;
    osr_buf_init(&body, ANSWER_MAX);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    long status = request(&t, "/v1/models", NULL, &body);
    int rc = OSR_EXIT_OK;
    struct json_object *o = NULL, *data = NULL;
    if (status != 200 || osr_json_parse(osr_buf_str(&body), body.len, &o, NULL) != OSR_OK ||
        osr_json_get_array(o, "data", true, &data, NULL) != OSR_OK) {
        rc = report_failure("list", status, &body);
    } else {
        for (size_t i = 0; i < json_object_array_length(data); i++) {
            const char *id = NULL;
            osr_json_get_string(json_object_array_get_idx(data, i), "id", false, &id, NULL);
            if (id)
                puts(id);
        }
    }
    json_object_put(o);
    osr_buf_release(&body);
    curl_global_cleanup();
    return rc;
}

static const char show_usage[] =
    "usage: osaurus show MODEL [--port N] [--home DIR] [--access-key KEY]\n"
    "\n"
    "Prints what the running server knows of MODEL (POST /api/show) as JSON: details,\n"
    "parameters, template and the GGUF metadata.\n";

int osr_cmd_show(int argc, char **argv)
{
    struct target t;
    int early = parse(argc, argv, show_usage, 1, &t);
    if (early >= 0)
        return early;
    const char *model = argv[optind];
    struct osr_buf req, body;
    osr_buf_init(&req, 4096);
    osr_buf_init(&body, ANSWER_MAX);
    osr_buf_puts(&req, "{\"model\":");
    osr_json_append_string(&req, model, strlen(model));
    osr_buf_puts(&req, "}");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    long status = request(&t, "/api/show", osr_buf_str(&req), &body);
    int rc = OSR_EXIT_OK;
    struct json_object *o = NULL;
    if (status == 404) {
        fprintf(stderr, "osaurus show: model '%s' not found\n", model);
        rc = OSR_EXIT_FAILURE;
    } else if (status != 200 || osr_json_parse(osr_buf_str(&body), body.len, &o, NULL) != OSR_OK) {
        rc = report_failure("show", status, &body);
    } else {
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
    }
    json_object_put(o);
    osr_buf_release(&req);
    osr_buf_release(&body);
    curl_global_cleanup();
    return rc;
}
