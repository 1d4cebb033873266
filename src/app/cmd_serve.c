/* cmd_serve.c - the server's foreground process and the commands that find and stop it.
 *
 * serve: resolves the home, reads config/server.json, applies OSU_PORT and flags, binds,
 * writes the discovery file, and waits for SIGINT/SIGTERM in the main thread (every other
 * thread has those signals blocked).  On a signal it stops accepting, ends open streams with
 * their terminators, removes the discovery file and exits 0.
 *
 * status and stop find the running server through the discovery files, falling back to the
 * configured port for status.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "osr/alloc.h"
#include "osr/api_core.h"
#include "osr/auth_gate.h"
#include "osr/buf.h"
#include "osr/cli.h"
#include "osr/cli_serve.h"
#include "osr/clock.h"
#include "osr/config.h"
#include "osr/discovery.h"
#include "osr/http_server.h"
#include "osr/json.h"
#include "osr/local_client.h"
#include "osr/log.h"
#include "osr/maintenance.h"
#include "osr/serve_stack.h"
#include "osr/str.h"
#include "osr/uuid.h"

#define SHUTDOWN_GRACE_MS 5000

static const char serve_usage[] =
    "usage: osaurus serve [--port N] [--expose [--yes]] [--home DIR] [--log-level LEVEL]\n"
    "\n"
    "Runs the Osaurus server in the foreground until SIGINT or SIGTERM.\n"
    "\n"
    "  -p, --port N        listen on port N (0 picks a free port); overrides OSU_PORT and\n"
    "                      config/server.json \"port\" (default 1337)\n"
    "      --expose        listen on all interfaces (0.0.0.0) instead of 127.0.0.1; every\n"
    "                      client, local ones too, then needs an access key\n"
    "  -y, --yes           do not ask before exposing the server\n"
    "      --home DIR      use DIR instead of $OSAURUS_HOME or ~/.osaurus\n"
    "      --log-level L   debug, info (default), warn, error or off\n";

static const char status_usage[] =
    "usage: osaurus status [--home DIR] [--port N]\n"
    "\n"
    "Tells whether a server is running and where.  Exit code 0 when it is, 1 when not.\n";

static const char stop_usage[] =
    "usage: osaurus stop [--home DIR]\n"
    "\n"
    "Stops the running server (SIGTERM) and waits for it to exit.  Exit code 0 when a server\n"
    "was stopped, 1 when none was running.\n";

static bool parse_port(const char *s, int *out)
{
    long long v;
    if (!osr_str_to_ll(osr_str_cstr(s), 0, 65535, &v))
        return false;
    *out = (int)v;
    return true;
}

static bool ask_yes(const char *question)
{
    fprintf(stderr, "%s [y/N] ", question);
    fflush(stderr);
    char line[16];
    if (!fgets(line, sizeof(line), stdin))
        return false;
    return line[0] == 'y' || line[0] == 'Y';
}

int osr_cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},
        {"expose", no_argument, NULL, 'e'},
        {"yes", no_argument, NULL, 'y'},
        {"home", required_argument, NULL, 'H'},
        {"log-level", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int port = -1;
    bool expose = false, yes = false;
    const char *home_flag = NULL;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "p:yh", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (!parse_port(optarg, &port)) {
                fprintf(stderr, "osaurus serve: invalid port '%s'\n", optarg);
                return OSR_EXIT_USAGE;
            }
            break;
        case 'e':
            expose = true;
            break;
        case 'y':
            yes = true;
            break;
        case 'H':
            home_flag = optarg;
            break;
        case 'l': {
            enum osr_log_level lvl;
            if (osr_log_parse_level(optarg, &lvl)) {
                fprintf(stderr, "osaurus serve: invalid log level '%s'\n", optarg);
                return OSR_EXIT_USAGE;
            }
            osr_log_set_level(lvl);
            break;
        }
        case 'h':
            fputs(serve_usage, stdout);
            return OSR_EXIT_OK;
        default:
            fputs(serve_usage, stderr);
            return OSR_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "osaurus serve: unexpected argument '%s'\n%s", argv[optind], serve_usage);
        return OSR_EXIT_USAGE;
    }
    if (expose && !yes) {
        if (!isatty(STDIN_FILENO)) {
            fprintf(stderr, "osaurus serve: --expose needs --yes when not run from a terminal\n");
            return OSR_EXIT_USAGE;
        }
        if (!ask_yes("Expose Osaurus to your network? Every client will need an access key."))
            return OSR_EXIT_FAILURE;
    }

    int exit_code = OSR_EXIT_OK;
    struct osr_diag diag;
    osr_diag_clear(&diag);
    char *home = osr_home_resolve(home_flag);
    struct osr_server_config cfg;
    osr_server_config_defaults(&cfg);
    struct osr_http_server *srv = NULL;
    struct osr_auth_gate *gate = NULL;
    struct osr_maintenance *maint = NULL;
    struct osr_serve_stack stack;
    bool have_stack = false;
    struct osr_instance inst = {0};
    bool wrote_discovery = false;

    char *cfgdir = osr_path_join(home, "config");
    int rc = osr_mkdir_p(cfgdir, 0700, &diag);
    free(cfgdir);
    if (rc) {
        fprintf(stderr, "osaurus serve: %s\n", diag.msg);
        exit_code = OSR_EXIT_FAILURE;
        goto out;
    }
    rc = osr_server_config_load(&cfg, home, &diag);
    if (rc) {
        fprintf(stderr, "osaurus serve: %s\n", diag.msg);
        exit_code = rc == OSR_ECONFIG ? OSR_EXIT_CONFIG : OSR_EXIT_FAILURE;
        goto out;
    }
    const char *env_port = getenv("OSU_PORT");
    if (env_port && *env_port) {
        int p;
        if (!parse_port(env_port, &p)) {
            fprintf(stderr, "osaurus serve: invalid OSU_PORT '%s'\n", env_port);
            exit_code = OSR_EXIT_CONFIG;
            goto out;
        }
        cfg.port = p;
    }
    if (port >= 0)
        cfg.port = port;
    if (expose)
        cfg.expose = true;

    /* Block the stop signals before any thread exists so only sigwait below sees them. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    int stale = osr_discovery_clean_stale(home);
    if (stale)
        OSR_INFO("removed %d stale runtime file(s)", stale);

    osr_uuid_v4(inst.instance_id);
    snprintf(inst.health, sizeof(inst.health), "starting");
    snprintf(inst.address, sizeof(inst.address), "%s", cfg.expose ? "0.0.0.0" : "127.0.0.1");
    inst.pid = (int)getpid();
    inst.expose = cfg.expose;
    if (osr_discovery_write(home, &inst, &diag) == OSR_OK)
        wrote_discovery = true;
    else
        OSR_WARN("%s", diag.msg);

    struct osr_api_core core = {
        .started_wall_ms = osr_wall_ms(),
        .started_mono_ns = osr_mono_ns(),
        .instance_id = inst.instance_id,
    };
    srv = osr_http_server_new(&cfg, -1);
    osr_api_core_register(srv, &core);
    osr_serve_stack_init(&stack, srv, home, &cfg);
    have_stack = true;
    core.loaded = osr_serve_stack_loaded; /* read by /health once the server runs */
    core.loaded_ctx = &stack;
    gate = osr_auth_gate_new(home);
    osr_http_server_set_auth(srv, osr_auth_gate_check, gate);
    rc = osr_http_server_start(srv, &diag);
    if (rc) {
        fprintf(stderr, "osaurus serve: %s%s\n", diag.msg,
                rc == OSR_EBUSY ? " (is another server running? try 'osaurus status')" : "");
        exit_code = rc == OSR_EBUSY ? OSR_EXIT_UNAVAILABLE : OSR_EXIT_FAILURE;
        goto out;
    }
    inst.port = osr_http_server_port(srv);
    snprintf(inst.health, sizeof(inst.health), "running");
    inst.updated_ms = 0;
    if (osr_discovery_write(home, &inst, &diag) == OSR_OK)
        wrote_discovery = true;
    else
        OSR_WARN("%s", diag.msg);

    OSR_INFO("osaurus %s serving on %s:%d (home %s%s)", OSR_VERSION, inst.address, inst.port, home,
             cfg.expose ? ", exposed to the network" : "");
    printf("listening on http://%s:%d\n", cfg.expose ? "0.0.0.0" : "127.0.0.1", inst.port);
    fflush(stdout);

    /* Storage maintenance: first look a minute after start, then hourly. */
    maint = osr_maintenance_start(home, 60 * 1000, 3600 * 1000);

    int sig = 0;
    while (sigwait(&stop_signals, &sig) != 0)
        ;
    OSR_INFO("received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    osr_http_server_shutdown(srv, SHUTDOWN_GRACE_MS);
    OSR_INFO("stopped");

out:
    osr_maintenance_stop(maint);
    osr_http_server_free(srv);
    if (have_stack)
        osr_serve_stack_release(&stack);
    osr_auth_gate_free(gate);
    if (wrote_discovery)
        osr_discovery_remove(home, inst.instance_id);
    osr_server_config_release(&cfg);
    free(home);
    return exit_code;
}

/* GETs /health on port; returns OSR_OK and the parsed body in *out. */
static int fetch_health(int port, struct json_object **out)
{
    struct osr_buf body;
    osr_buf_init(&body, 64 * 1024);
    long status = 0;
    int rc = osr_local_call(port, NULL, "/health", NULL, 3, &status, &body, NULL);
    if (rc == OSR_OK)
        rc = status == 200 ? osr_json_parse(osr_buf_str(&body), body.len, out, NULL) : OSR_EIO;
    osr_buf_release(&body);
    return rc;
}

/* Parses --home and --port for status/stop.  Returns -1 to continue, else an exit code. */
static int parse_common(int argc, char **argv, const char *usage, bool allow_port,
                        const char **home, int *port)
{
    static const struct option opts[] = {
        {"home", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, allow_port ? "p:h" : "h", opts, NULL)) != -1) {
        switch (c) {
        case 'H':
            *home = optarg;
            break;
        case 'p':
            if (!allow_port || !parse_port(optarg, port)) {
                fputs(usage, stderr);
                return OSR_EXIT_USAGE;
            }
            break;
        case 'h':
            fputs(usage, stdout);
            return OSR_EXIT_OK;
        default:
            fputs(usage, stderr);
            return OSR_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "osaurus %s: unexpected argument '%s'\n%s", argv[0], argv[optind], usage);
        return OSR_EXIT_USAGE;
    }
    return -1;
}

int osr_cmd_status(int argc, char **argv)
{
    const char *home_flag = NULL;
    int port = -1;
    int early = parse_common(argc, argv, status_usage, true, &home_flag, &port);
    if (early >= 0)
        return early;
    char *home = osr_home_resolve(home_flag);
    struct osr_instance inst;
    bool found = port < 0 && osr_discovery_find(home, &inst) == OSR_OK;
    if (port < 0)
        port = osr_local_port(home, NULL);
    free(home);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct json_object *health = NULL;
    int rc = fetch_health(port, &health);
    curl_global_cleanup();
    if (rc) {
        printf("osaurus is not running (nothing answered on 127.0.0.1:%d)\n", port);
        return OSR_EXIT_FAILURE;
    }
    const char *version = "?";
    osr_json_get_string(health, "version", false, &version, NULL);
    if (found)
        printf("osaurus %s is running on http://%s:%d (pid %d)\n", version,
               strcmp(inst.address, "0.0.0.0") == 0 ? "127.0.0.1" : inst.address, port, inst.pid);
    else
        printf("osaurus %s is running on http://127.0.0.1:%d\n", version, port);
    json_object_put(health);
    return OSR_EXIT_OK;
}

int osr_cmd_stop(int argc, char **argv)
{
    const char *home_flag = NULL;
    int port = -1;
    int early = parse_common(argc, argv, stop_usage, false, &home_flag, &port);
    if (early >= 0)
        return early;
    char *home = osr_home_resolve(home_flag);
    struct osr_instance inst;
    int rc = osr_discovery_find(home, &inst);
    if (rc) {
        printf("osaurus is not running\n");
        free(home);
        return OSR_EXIT_FAILURE;
    }
    if (kill(inst.pid, SIGTERM) != 0) {
        fprintf(stderr, "osaurus stop: cannot signal pid %d: %s\n", inst.pid, strerror(errno));
        free(home);
        return OSR_EXIT_FAILURE;
    }
    /* Wait for the server to remove its discovery file (it does so last). */
    int64_t deadline = osr_mono_ns() + 15 * 1000000000LL;
    bool gone = false;
    while (osr_mono_ns() < deadline) {
        struct osr_instance again;
        if (osr_discovery_find(home, &again) != OSR_OK ||
            strcmp(again.instance_id, inst.instance_id) != 0) {
            gone = true;
            break;
        }
        osr_sleep_ms(50);
    }
    free(home);
    if (!gone) {
        fprintf(stderr, "osaurus stop: pid %d did not stop within 15 s\n", inst.pid);
        return OSR_EXIT_FAILURE;
    }
    printf("osaurus stopped (pid %d)\n", inst.pid);
    return OSR_EXIT_OK;
}
