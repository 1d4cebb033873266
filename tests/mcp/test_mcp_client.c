/* test_mcp_client.c - the MCP client against real servers: this project's own MCP server over
 * Streamable HTTP, and an MCP server built with the official TypeScript SDK
 * (tests/sdk/mcp_fixture_server.mjs) over Streamable HTTP (SSE and JSON answers) and stdio.
 * Checks the mcp.json parser, tool registration, the envelopes calls come back in (result,
 * execution_error, timeout, unavailable), secret headers and variables reaching the server,
 * list_changed, reconnecting after a server restart or a killed child, and that a stdio child
 * is gone after free. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "osr/mcp_client.h"
#include "osr/clock.h"
#include "osr/config.h"
#include "osr/http_server.h"
#include "osr/json.h"
#include "osr/log.h"
#include "osr/mcp.h"
#include "osr/secrets.h"

extern char **environ;

static char home[512];
static char fixture[1024];
static bool have_sdk;

/* --- helpers -------------------------------------------------------------------------------- */

static void write_text(const char *rel, const char *text)
{
    char path[1024], dir[1024];
    snprintf(path, sizeof(path), "%s/%s", home, rel);
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    *slash = '\0';
    osr_mkdir_p(dir, 0700, NULL);
    FILE *f = fopen(path, "w");
    if (!f)
        exit(1);
    fputs(text, f);
    fclose(f);
}

static bool approve(void *ctx, const char *tool, struct json_object *args)
{
    (void)ctx, (void)tool, (void)args;
    return true;
}

static const struct osr_tool_call_opts yes = {.approve = approve};

/* Calls tool with args (JSON text) and returns the envelope. */
static struct json_object *call(struct osr_tools *t, const char *tool, const char *args)
{
    struct json_object *a = NULL;
    osr_json_parse(args, strlen(args), &a, NULL);
    struct json_object *env = osr_tools_call(t, tool, a, &yes);
    json_object_put(a);
    return env;
}

static const char *jpath_str(struct json_object *o, const char *k1, const char *k2)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(o, k1, &v))
        return NULL;
    if (k2 && !json_object_object_get_ex(v, k2, &v))
        return NULL;
    return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static bool env_ok(struct json_object *env)
{
    return osr_tool_envelope_is_ok(env);
}

static bool has_tool(struct osr_tools *t, const char *name)
{
    struct json_object *list = osr_tools_list(t, true);
    bool found = false;
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        struct json_object *o = json_object_array_get_idx(list, i);
        const char *n = jpath_str(o, "name", NULL);
        if (n && strcmp(n, name) == 0)
            found = strcmp(jpath_str(o, "source", NULL), "mcp") == 0;
    }
    json_object_put(list);
    return found;
}

/* Waits up to ms for the provider's connected flag to become want. */
static bool wait_connected(struct osr_mcp_clients *m, const char *id, bool want, int ms)
{
    int64_t end = osr_mono_ns() + (int64_t)ms * 1000000;
    while (osr_mono_ns() < end) {
        struct json_object *st = osr_mcp_clients_status(m);
        bool got = false;
        for (size_t i = 0; i < json_object_array_length(st); i++) {
            struct json_object *o = json_object_array_get_idx(st, i), *c = NULL;
            if (strcmp(jpath_str(o, "id", NULL), id) == 0 &&
                json_object_object_get_ex(o, "connected", &c))
                got = json_object_get_boolean(c);
        }
        json_object_put(st);
        if (got == want)
            return true;
        osr_sleep_ms(50);
    }
    return false;
}

/* Starts the SDK fixture (args: extra flags); returns its pid and, for HTTP, its port. */
static pid_t start_fixture(const char *const *extra, int *port)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    const char *argv[8] = {"node", fixture};
    int n = 2;
    for (; extra && *extra && n < 7; extra++)
        argv[n++] = *extra;
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_addclose(&fa, p[0]);
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    pid_t pid = -1;
    int rc = posix_spawnp(&pid, "node", &fa, &at, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(p[1]);
    if (rc != 0) {
        close(p[0]);
        return -1;
    }
    char buf[128];
    size_t len = 0;
    int64_t end = osr_mono_ns() + (int64_t)15000 * 1000000;
    *port = 0;
    while (osr_mono_ns() < end && len < sizeof(buf) - 1) {
        struct pollfd pfd = {.fd = p[0], .events = POLLIN};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        ssize_t r = read(p[0], buf + len, sizeof(buf) - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = '\0';
        char *nl = strchr(buf, '\n');
        if (nl && strncmp(buf, "PORT ", 5) == 0) {
            *port = (int)strtol(buf + 5, NULL, 10);
            break;
        }
    }
    close(p[0]);
    if (*port <= 0) {
        kill(-pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    return pid;
}

static void stop_fixture(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(-pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* --- mcp.json ------------------------------------------------------------------------------- */

static void test_config(void)
{
    struct osr_mcp_config cfg;
    struct osr_diag d;
    const char *good =
        "{\"providers\":[{\"id\":\"a\",\"name\":\"A\",\"url\":\"http://127.0.0.1:1/mcp\","
        "\"customHeaders\":{\"X-A\":\"1\"},\"secretHeaderKeys\":[\"Authorization\"],"
        "\"unknownField\":{\"kept\":true}},"
        "{\"id\":\"b\",\"command\":\"srv\",\"args\":[\"--x\"],\"env\":{\"K\":\"v\"},"
        "\"secretEnvKeys\":[\"TOKEN\"],\"enabled\":false,\"discoveryTimeout\":2.5,"
        "\"toolCallTimeout\":7,\"autoConnect\":false,\"streamingEnabled\":true}]}";
    REQUIRE(osr_mcp_config_parse(good, strlen(good), "mcp.json", &cfg, &d) == OSR_OK);
    REQUIRE(cfg.n == 2);
    CHECK_STR_EQ(cfg.items[0].name, "A");
    CHECK(cfg.items[0].enabled && cfg.items[0].auto_connect && !cfg.items[0].streaming);
    CHECK_INT_EQ(cfg.items[0].discovery_timeout_ms, 20000);
    CHECK_INT_EQ(cfg.items[0].call_timeout_ms, 45000);
    CHECK_INT_EQ(cfg.items[0].n_headers, 1);
    CHECK_STR_EQ(cfg.items[0].secret_headers[0], "Authorization");
    CHECK_STR_EQ(cfg.items[1].name, "b");
    CHECK_STR_EQ(cfg.items[1].command, "srv");
    CHECK_STR_EQ(cfg.items[1].args[0], "--x");
    CHECK_STR_EQ(cfg.items[1].env[0].value, "v");
    CHECK(!cfg.items[1].enabled && !cfg.items[1].auto_connect && cfg.items[1].streaming);
    CHECK_INT_EQ(cfg.items[1].discovery_timeout_ms, 2500);
    CHECK_INT_EQ(cfg.items[1].call_timeout_ms, 7000);
    osr_mcp_config_release(&cfg);

    static const struct {
        const char *text;
        const char *needle;
    } bad[] = {
        {"[]", "must hold a JSON object"},
        {"{\"providers\":{}}", "'providers'"},
        {"{\"providers\":[{\"url\":\"http://x\"}]}",
         "providers[0]: missing required parameter: 'id'"},
        {"{\"providers\":[{\"id\":\"a\"}]}", "exactly one of 'url' and 'command'"},
        {"{\"providers\":[{\"id\":\"a\",\"url\":\"http://x\",\"command\":\"c\"}]}", "exactly one"},
        {"{\"providers\":[{\"id\":\"a\",\"url\":\"ftp://x\"}]}", "'url' must start"},
        {"{\"providers\":[{\"id\":\"a\",\"url\":\"http://x\",\"enabled\":1}]}", "'enabled'"},
        {"{\"providers\":[{\"id\":\"a\",\"url\":\"http://x\",\"toolCallTimeout\":-1}]}",
         "'toolCallTimeout'"},
        {"{\"providers\":[{\"id\":\"a\",\"url\":\"http://x\",\"customHeaders\":{\"X\":1}}]}",
         "'customHeaders.X'"},
        {"{\"providers\":[{\"id\":\"a\",\"command\":\"c\",\"args\":[1]}]}", "'args[0]'"},
        {"{\"providers\":[{\"id\":\"a\",\"url\":\"http://x\"},{\"id\":\"a\",\"url\":\"http://"
         "y\"}]}",
         "used twice"},
        {"{\"providers\":[{\"id\":\"a\",\"url\":\"http://x\\ny\"}]}", "control characters"},
        {"{\"providers\":[", "mcp.json"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        osr_diag_clear(&d);
        int rc = osr_mcp_config_parse(bad[i].text, strlen(bad[i].text), "mcp.json", &cfg, &d);
        CHECK_INT_EQ(rc, OSR_ECONFIG);
        CHECK(strstr(d.msg, "'mcp.json'") != NULL);
        CHECK(strstr(d.msg, bad[i].needle) != NULL);
        if (!strstr(d.msg, bad[i].needle))
            fprintf(stderr, "  case %zu: %s\n", i, d.msg);
        CHECK(cfg.n == 0 && cfg.items == NULL);
    }

    char name[OSR_TOOL_NAME_MAX + 1];
    osr_mcp_tool_name("my.server", "get weather/now", name, sizeof(name));
    CHECK_STR_EQ(name, "my_server_get_weather_now");
    osr_mcp_tool_name("p", "0123456789012345678901234567890123456789012345678901234567890123456789",
                      name, sizeof(name));
    CHECK_INT_EQ(strlen(name), OSR_TOOL_NAME_MAX);
    CHECK(name[0] == 'p' && name[1] == '_');
}

static void test_no_file_and_bad_file(void)
{
    struct osr_tools *t = osr_tools_new();
    struct osr_mcp_clients *m = NULL;
    struct osr_diag d;
    osr_diag_clear(&d);
    char empty[600];
    snprintf(empty, sizeof(empty), "%s/empty-home", home);
    CHECK(osr_mcp_clients_start(empty, t, NULL, &m, &d) == OSR_OK);
    struct json_object *st = osr_mcp_clients_status(m);
    CHECK_INT_EQ(json_object_array_length(st), 0);
    json_object_put(st);
    osr_mcp_clients_free(m);

    char bad[600];
    snprintf(bad, sizeof(bad), "%s/bad-home/providers", home);
    osr_mkdir_p(bad, 0700, NULL);
    char path[700];
    snprintf(path, sizeof(path), "%s/mcp.json", bad);
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fputs("{\"providers\":[{\"id\":\"x\",\"url\":7}]}", f);
    fclose(f);
    snprintf(bad, sizeof(bad), "%s/bad-home", home);
    m = NULL;
    CHECK_INT_EQ(osr_mcp_clients_start(bad, t, NULL, &m, &d), OSR_ECONFIG);
    CHECK(m == NULL);
    CHECK(strstr(d.msg, "mcp.json") && strstr(d.msg, "'url'"));
    osr_tools_free(t);
}

/* --- this project's own server -------------------------------------------------------------- */

static struct osr_http_server *own_srv;
static struct osr_mcp_http *own_mh;
static struct osr_tools *own_tools;
static struct osr_server_config own_cfg;

static int own_start(int port)
{
    own_srv = osr_http_server_new(&own_cfg, port);
    own_mh = osr_mcp_http_new(own_tools);
    osr_mcp_http_register(own_srv, own_mh);
    struct osr_diag d;
    if (osr_http_server_start(own_srv, &d) != OSR_OK) {
        fprintf(stderr, "cannot start the server: %s\n", d.msg);
        return -1;
    }
    return osr_http_server_port(own_srv);
}

static void own_stop(void)
{
    osr_http_server_free(own_srv);
    osr_mcp_http_free(own_mh);
    own_srv = NULL;
    own_mh = NULL;
}

static void test_own_server(void)
{
    osr_server_config_defaults(&own_cfg);
    own_tools = osr_tools_new();
    REQUIRE(osr_tools_add_builtins(own_tools, NULL) == OSR_OK);
    int port = own_start(0);
    REQUIRE(port > 0);

    char json[512];
    snprintf(json, sizeof(json),
             "{\"providers\":[{\"id\":\"self\",\"name\":\"Osaurus\","
             "\"url\":\"http://127.0.0.1:%d/mcp\",\"discoveryTimeout\":5}]}",
             port);
    write_text("own/providers/mcp.json", json);
    char h[700];
    snprintf(h, sizeof(h), "%s/own", home);

    struct osr_tools *t = osr_tools_new();
    struct osr_mcp_clients_opts o = {.wait = true,
                                     .background = true,
                                     .backoff_min_ms = 100,
                                     .backoff_max_ms = 400,
                                     .ping_interval_ms = 150};
    struct osr_mcp_clients *m = NULL;
    struct osr_diag d;
    REQUIRE(osr_mcp_clients_start(h, t, &o, &m, &d) == OSR_OK);
    CHECK(has_tool(t, "self_calculator"));
    CHECK(has_tool(t, "self_current_time"));

    struct json_object *env = call(t, "self_calculator", "{\"expression\":\"2+3*4\"}");
    CHECK(env_ok(env));
    const char *text = jpath_str(env, "result", "text");
    CHECK(text && strstr(text, "14"));
    CHECK_STR_EQ(jpath_str(env, "tool", NULL), "self_calculator");
    json_object_put(env);

    /* Our server answers a failing tool with isError and its envelope as text. */
    env = call(t, "self_calculator", "{\"expression\":\"1/0\"}");
    CHECK(!env_ok(env));
    CHECK_STR_EQ(jpath_str(env, "kind", NULL), "execution_error");
    const char *msg = jpath_str(env, "message", NULL);
    CHECK(msg && strstr(msg, "division by zero"));
    json_object_put(env);

    /* The registry's policy: MCP tools ask, so without an approver they are rejected. */
    struct json_object *args = json_object_new_object();
    json_object_object_add(args, "expression", json_object_new_string("1+1"));
    env = osr_tools_call(t, "self_calculator", args, NULL);
    json_object_put(args);
    CHECK_STR_EQ(jpath_str(env, "kind", NULL), "rejected");
    json_object_put(env);

    struct json_object *st = osr_mcp_clients_status(m);
    struct json_object *s0 = json_object_array_get_idx(st, 0), *v = NULL;
    CHECK(json_object_object_get_ex(s0, "connected", &v) && json_object_get_boolean(v));
    CHECK(json_object_object_get_ex(s0, "tool_count", &v) && json_object_get_int(v) == 2);
    CHECK_STR_EQ(jpath_str(s0, "transport", NULL), "http");
    json_object_put(st);

    /* A JSON-RPC error answer (the server no longer has the tool) is an execution_error. */
    REQUIRE(osr_tools_remove(own_tools, "current_time") == OSR_OK);
    env = call(t, "self_current_time", "{}");
    CHECK_STR_EQ(jpath_str(env, "kind", NULL), "execution_error");
    msg = jpath_str(env, "message", NULL);
    CHECK(msg && strstr(msg, "code -32602"));
    json_object_put(env);

    /* The server goes away: the health ping notices, the tools go, calls are unavailable. */
    own_stop();
    CHECK(wait_connected(m, "self", false, 5000));
    int64_t end = osr_mono_ns() + (int64_t)5000 * 1000000;
    while (has_tool(t, "self_calculator") && osr_mono_ns() < end)
        osr_sleep_ms(20);
    CHECK(!has_tool(t, "self_calculator"));
    st = osr_mcp_clients_status(m);
    CHECK(jpath_str(json_object_array_get_idx(st, 0), "last_error", NULL) != NULL);
    json_object_put(st);

    /* It comes back on the same port with no memory of our session: we reconnect. */
    REQUIRE(own_start(port) == port);
    CHECK(wait_connected(m, "self", true, 8000));
    env = call(t, "self_calculator", "{\"expression\":\"6*7\"}");
    CHECK(env_ok(env));
    text = jpath_str(env, "result", "text");
    CHECK(text && strstr(text, "42"));
    json_object_put(env);

    osr_mcp_clients_free(m);
    CHECK_INT_EQ(osr_tools_count(t), 0);
    osr_tools_free(t);
    own_stop();
    osr_tools_free(own_tools);
    osr_server_config_release(&own_cfg);
}

/* --- the official SDK's server -------------------------------------------------------------- */

static void put_secret(const char *h, const char *scope, const char *name, const char *value)
{
    struct osr_secrets *s = NULL;
    struct osr_diag d;
    if (osr_secrets_open(&s, h, &d) != OSR_OK) {
        fprintf(stderr, "cannot open the secret store: %s\n", d.msg);
        check_failed++;
        return;
    }
    CHECK(osr_secrets_put(s, scope, name, value, &d) == OSR_OK);
    osr_secrets_close(s);
}

static void test_sdk_http(void)
{
    if (!have_sdk)
        return;
    int port = 0, jport = 0;
    const char *sse_args[] = {NULL};
    const char *json_args[] = {"--json", NULL};
    pid_t fx = start_fixture(sse_args, &port);
    pid_t fj = start_fixture(json_args, &jport);
    REQUIRE(fx > 0 && fj > 0);

    char json[1024];
    snprintf(json, sizeof(json),
             "{\"providers\":["
             "{\"id\":\"fx\",\"url\":\"http://127.0.0.1:%d/mcp\",\"toolCallTimeout\":1,"
             "\"streamingEnabled\":true,"
             "\"customHeaders\":{\"X-Plain\":\"p\"},\"secretHeaderKeys\":[\"X-Fixture-Secret\"]},"
             "{\"id\":\"fj\",\"url\":\"http://127.0.0.1:%d/mcp\"},"
             "{\"id\":\"off\",\"url\":\"http://127.0.0.1:1/mcp\",\"enabled\":false},"
             "{\"id\":\"dead\",\"url\":\"http://127.0.0.1:1/mcp\",\"discoveryTimeout\":2}]}",
             port, jport);
    write_text("sdk/providers/mcp.json", json);
    char h[700];
    snprintf(h, sizeof(h), "%s/sdk", home);
    put_secret(h, "mcp:fx", "X-Fixture-Secret", "s3cr3t-value");

    struct osr_tools *t = osr_tools_new();
    struct osr_mcp_clients_opts o = {.wait = true,
                                     .background = true,
                                     .backoff_min_ms = 100,
                                     .backoff_max_ms = 400,
                                     .ping_interval_ms = 200};
    struct osr_mcp_clients *m = NULL;
    struct osr_diag d;
    REQUIRE(osr_mcp_clients_start(h, t, &o, &m, &d) == OSR_OK);
    CHECK(has_tool(t, "fx_echo") && has_tool(t, "fx_add") && has_tool(t, "fx_sleep"));
    CHECK(has_tool(t, "fj_echo"));
    CHECK(!has_tool(t, "off_echo"));

    struct json_object *env = call(t, "fx_echo", "{\"text\":\"hello\"}");
    CHECK(env_ok(env));
    CHECK_STR_EQ(jpath_str(env, "result", "text"), "hello");
    json_object_put(env);

    env = call(t, "fj_echo", "{\"text\":\"json body\"}");
    CHECK_STR_EQ(jpath_str(env, "result", "text"), "json body");
    json_object_put(env);

    env = call(t, "fx_add", "{\"a\":2,\"b\":40}");
    CHECK_STR_EQ(jpath_str(env, "result", "text"), "42");
    struct json_object *r = NULL, *sc = NULL, *sum = NULL;
    CHECK(json_object_object_get_ex(env, "result", &r) &&
          json_object_object_get_ex(r, "structuredContent", &sc) &&
          json_object_object_get_ex(sc, "sum", &sum) && json_object_get_int(sum) == 42);
    json_object_put(env);

    /* Local schema check before the call goes out. */
    env = call(t, "fx_add", "{\"a\":\"two\",\"b\":1}");
    CHECK_STR_EQ(jpath_str(env, "kind", NULL), "invalid_args");
    json_object_put(env);

    env = call(t, "fx_fail", "{}");
    CHECK_STR_EQ(jpath_str(env, "kind", NULL), "execution_error");
    const char *msg = jpath_str(env, "message", NULL);
    CHECK(msg && strstr(msg, "failed on purpose"));
    json_object_put(env);

    int64_t t0 = osr_mono_ns();
    env = call(t, "fx_sleep", "{\"ms\":4000}");
    CHECK_STR_EQ(jpath_str(env, "kind", NULL), "timeout");
    CHECK(osr_mono_ns() - t0 < (int64_t)3000 * 1000000);
    json_object_put(env);

    env = call(t, "fx_whoami", "{}");
    CHECK_STR_EQ(jpath_str(env, "result", "text"), "s3cr3t-value");
    json_object_put(env);

    struct json_object *st = osr_mcp_clients_status(m);
    struct json_object *dead = json_object_array_get_idx(st, 3), *v = NULL;
    CHECK(json_object_object_get_ex(dead, "connected", &v) && !json_object_get_boolean(v));
    CHECK(jpath_str(dead, "last_error", NULL) != NULL);
    CHECK_STR_EQ(jpath_str(json_object_array_get_idx(st, 2), "last_error", NULL), "disabled");
    json_object_put(st);

    /* list_changed on the GET event stream (streamingEnabled): "extra" appears. */
    CHECK(!has_tool(t, "fx_extra"));
    env = call(t, "fx_grow", "{}");
    CHECK(env_ok(env));
    json_object_put(env);
    int64_t end = osr_mono_ns() + (int64_t)5000 * 1000000;
    while (!has_tool(t, "fx_extra") && osr_mono_ns() < end)
        osr_sleep_ms(50);
    CHECK(has_tool(t, "fx_extra"));
    env = call(t, "fx_extra", "{}");
    CHECK_STR_EQ(jpath_str(env, "result", "text"), "extra");
    json_object_put(env);

    /* Restart the SSE fixture on its port: the client reconnects and re-registers. */
    stop_fixture(fx);
    env = call(t, "fx_echo", "{\"text\":\"x\"}");
    CHECK(!env_ok(env));
    const char *kind = jpath_str(env, "kind", NULL);
    CHECK(kind && (strcmp(kind, "unavailable") == 0 || strcmp(kind, "tool_not_found") == 0));
    json_object_put(env);
    char pstr[16];
    snprintf(pstr, sizeof(pstr), "%d", port);
    const char *again[] = {"--port", pstr, NULL};
    int port2 = 0;
    fx = start_fixture(again, &port2);
    CHECK_INT_EQ(port2, port);
    CHECK(wait_connected(m, "fx", true, 8000));
    env = call(t, "fx_echo", "{\"text\":\"back\"}");
    CHECK_STR_EQ(jpath_str(env, "result", "text"), "back");
    json_object_put(env);

    osr_mcp_clients_free(m);
    CHECK_INT_EQ(osr_tools_count(t), 0);
    osr_tools_free(t);
    stop_fixture(fx);
    stop_fixture(fj);
}

static void test_sdk_stdio(void)
{
    if (!have_sdk)
        return;
    char json[2048];
    snprintf(json, sizeof(json),
             "{\"providers\":[{\"id\":\"sx\",\"command\":\"node\",\"args\":[\"%s\",\"--stdio\"],"
             "\"env\":{\"FIXTURE_PLAIN\":\"plain-value\"},\"secretEnvKeys\":[\"FIXTURE_SECRET\"],"
             "\"toolCallTimeout\":1}]}",
             fixture);
    write_text("stdio/providers/mcp.json", json);
    char h[700];
    snprintf(h, sizeof(h), "%s/stdio", home);
    put_secret(h, "mcp:sx", "FIXTURE_SECRET", "env-secret-1");

    /* The child's stderr goes to the log: capture the log in a file meanwhile. */
    char logpath[800];
    snprintf(logpath, sizeof(logpath), "%s/stdio.log", home);
    int logfd = open(logpath, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
    REQUIRE(logfd >= 0);
    int old_fd = osr_log_set_fd(logfd);
    osr_log_set_level(OSR_LOG_INFO);

    struct osr_tools *t = osr_tools_new();
    struct osr_mcp_clients_opts o = {.wait = true,
                                     .background = true,
                                     .backoff_min_ms = 100,
                                     .backoff_max_ms = 400,
                                     .ping_interval_ms = 200};
    struct osr_mcp_clients *m = NULL;
    struct osr_diag d;
    REQUIRE(osr_mcp_clients_start(h, t, &o, &m, &d) == OSR_OK);
    CHECK(has_tool(t, "sx_echo"));
    bool logged = false;
    for (int i = 0; i < 100 && !logged; i++) {
        char *text = NULL;
        size_t len = 0;
        if (osr_read_file(logpath, 1 << 20, &text, &len, NULL) == OSR_OK)
            logged = strstr(text, "mcp 'sx': stderr: fixture: stdio server starting") != NULL;
        free(text);
        if (!logged)
            osr_sleep_ms(20);
    }
    CHECK(logged);
    struct json_object *env = call(t, "sx_echo", "{\"text\":\"over stdio\"}");
    CHECK_STR_EQ(jpath_str(env, "result", "text"), "over stdio");
    json_object_put(env);
    env = call(t, "sx_getenv", "{\"name\":\"FIXTURE_SECRET\"}");
    CHECK_STR_EQ(jpath_str(env, "result", "text"), "env-secret-1");
    json_object_put(env);
    env = call(t, "sx_getenv", "{\"name\":\"FIXTURE_PLAIN\"}");
    CHECK_STR_EQ(jpath_str(env, "result", "text"), "plain-value");
    json_object_put(env);
    env = call(t, "sx_sleep", "{\"ms\":3000}");
    CHECK_STR_EQ(jpath_str(env, "kind", NULL), "timeout");
    json_object_put(env);
    env = call(t, "sx_fail", "{}");
    CHECK_STR_EQ(jpath_str(env, "kind", NULL), "execution_error");
    json_object_put(env);

    /* list_changed: the fixture registers "extra" and tells us; we re-list. */
    CHECK(!has_tool(t, "sx_extra"));
    env = call(t, "sx_grow", "{}");
    CHECK(env_ok(env));
    json_object_put(env);
    int64_t end = osr_mono_ns() + (int64_t)5000 * 1000000;
    while (!has_tool(t, "sx_extra") && osr_mono_ns() < end)
        osr_sleep_ms(50);
    CHECK(has_tool(t, "sx_extra"));

    /* Kill the child: the client notices and starts a new one. */
    int pid = osr_mcp_clients_child_pid(m, "sx");
    REQUIRE(pid > 0);
    CHECK(kill(pid, 0) == 0);
    kill(pid, SIGKILL);
    end = osr_mono_ns() + (int64_t)10000 * 1000000;
    int pid2 = -1;
    while (osr_mono_ns() < end) {
        pid2 = osr_mcp_clients_child_pid(m, "sx");
        if (pid2 > 0 && pid2 != pid)
            break;
        osr_sleep_ms(50);
    }
    CHECK(pid2 > 0 && pid2 != pid);
    CHECK(kill(pid, 0) != 0); /* reaped, not a zombie */
    CHECK(wait_connected(m, "sx", true, 8000));
    env = call(t, "sx_echo", "{\"text\":\"again\"}");
    CHECK_STR_EQ(jpath_str(env, "result", "text"), "again");
    json_object_put(env);

    osr_mcp_clients_free(m);
    CHECK(pid2 > 0 && kill(pid2, 0) != 0 && errno == ESRCH);
    osr_log_set_level(OSR_LOG_ERROR);
    osr_log_set_fd(old_fd);
    close(logfd);
    char *text = NULL;
    size_t len = 0;
    CHECK(osr_read_file(logpath, 1 << 20, &text, &len, NULL) == OSR_OK);
    CHECK(text && strstr(text, "connected") && !strstr(text, "env-secret-1"));
    free(text);
    CHECK_INT_EQ(osr_tools_count(t), 0);
    osr_tools_free(t);
}

static void test_bad_command(void)
{
    write_text("cmd/providers/mcp.json",
               "{\"providers\":[{\"id\":\"nope\",\"command\":\"/nonexistent/mcp-server\"}]}");
    char h[700];
    snprintf(h, sizeof(h), "%s/cmd", home);
    struct osr_tools *t = osr_tools_new();
    struct osr_mcp_clients_opts o = {.wait = true};
    struct osr_mcp_clients *m = NULL;
    struct osr_diag d;
    REQUIRE(osr_mcp_clients_start(h, t, &o, &m, &d) == OSR_OK);
    struct json_object *st = osr_mcp_clients_status(m);
    const char *err = jpath_str(json_object_array_get_idx(st, 0), "last_error", NULL);
    CHECK(err && strstr(err, "nonexistent"));
    json_object_put(st);
    osr_mcp_clients_free(m);
    osr_tools_free(t);
}

/* --- setup ---------------------------------------------------------------------------------- */

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    osr_log_set_level(OSR_LOG_ERROR);
    unsetenv("OSAURUS_STORAGE_KEY");
    unsetenv("OSAURUS_STORAGE_PASSPHRASE");
    const char *tmp = getenv("TMPDIR");
    snprintf(home, sizeof(home), "%s/osr-mcpc-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE(mkdtemp(home) != NULL);
    const char *sdk = getenv("OSR_SDK_DIR");
    char mod[1200];
    snprintf(mod, sizeof(mod), "%s/node_modules/@modelcontextprotocol/sdk/package.json",
             sdk ? sdk : "");
    snprintf(fixture, sizeof(fixture), "%s/mcp_fixture_server.mjs", sdk ? sdk : "");
    if (!sdk || access(mod, F_OK) != 0) {
        fprintf(stderr, "the MCP SDK is not installed in OSR_SDK_DIR/node_modules: "
                        "run scripts/sdk_deps.sh\n");
        check_failed++;
        return;
    }
    if (system("node --version > /dev/null 2>&1") != 0) {
        fprintf(stderr, "node is not on PATH; the SDK tests need Node.js 20 or later\n");
        check_failed++;
        return;
    }
    have_sdk = true;
    check_passed++;
}

static void cleanup(void)
{
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
    CHECK(system(cmd) == 0);
}

TEST_MAIN(setup, test_config, test_no_file_and_bad_file, test_own_server, test_sdk_http,
          test_sdk_stdio, test_bad_command, cleanup)
