/* test_mcp_cmd.c - `osaurus mcp` as a desktop client runs it: the real binary as a child
 * process over pipes, talking newline-delimited JSON-RPC, proxying to a real `osaurus serve`
 * started in a temporary home on a free port; then the same bridge with the server gone, and
 * against an exposed server with and without an access key. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "osr/buf.h"
#include "osr/clock.h"
#include "osr/discovery.h"
#include "osr/json.h"

static const char *binary;
static char home[256];

/* Starts binary with args; stdin/stdout as pipes when in/out are non-NULL, else /dev/null. */
static pid_t spawn(const char *const *args, int *in, int *out)
{
    int pin[2] = {-1, -1}, pout[2] = {-1, -1};
    if (in && pipe(pin) != 0)
        return -1;
    if (out && pipe(pout) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        dup2(in ? pin[0] : devnull, 0);
        dup2(out ? pout[1] : devnull, 1);
        char path[512];
        snprintf(path, sizeof(path), "%s/%s.err", home, args[0]);
        int err = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(err, 2);
        if (in) {
            close(pin[0]);
            close(pin[1]);
        }
        if (out) {
            close(pout[0]);
            close(pout[1]);
        }
        const char *argv[16];
        int n = 0;
        argv[n++] = binary;
        for (int i = 0; args[i] && n < 15; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        setenv("OSAURUS_HOME", home, 1);
        unsetenv("OSU_PORT");
        unsetenv("OSAURUS_MCP_ACCESS_KEY");
        execv(binary, (char *const *)argv);
        _exit(127);
    }
    if (in) {
        close(pin[0]);
        *in = pin[1];
    }
    if (out) {
        close(pout[1]);
        *out = pout[0];
    }
    return pid;
}

static int wait_exit(pid_t pid)
{
    int st = 0;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

struct bridge {
    pid_t pid;
    int in, out;
    struct osr_buf pending;
};

static void send_line(struct bridge *b, const char *line)
{
    size_t n = strlen(line);
    CHECK(write(b->in, line, n) == (ssize_t)n);
    CHECK(write(b->in, "\n", 1) == 1);
}

/* Reads one reply line (10 s limit); returns a heap string or NULL. */
static char *read_reply(struct bridge *b)
{
    int64_t deadline = osr_mono_ns() + 10LL * 1000000000;
    for (;;) {
        const char *s = osr_buf_str(&b->pending);
        const char *nl = strchr(s, '\n');
        if (nl) {
            size_t n = (size_t)(nl - s);
            char *line = malloc(n + 1);
            memcpy(line, s, n);
            line[n] = '\0';
            struct osr_buf rest;
            osr_buf_init(&rest, b->pending.max);
            osr_buf_puts(&rest, nl + 1);
            osr_buf_release(&b->pending);
            b->pending = rest;
            return line;
        }
        int left = (int)((deadline - osr_mono_ns()) / 1000000);
        if (left <= 0)
            return NULL;
        struct pollfd p = {.fd = b->out, .events = POLLIN};
        if (poll(&p, 1, left) <= 0)
            return NULL;
        char chunk[4096];
        ssize_t r = read(b->out, chunk, sizeof(chunk));
        if (r <= 0)
            return NULL;
        osr_buf_append(&b->pending, chunk, (size_t)r);
    }
}

static struct json_object *rpc(struct bridge *b, const char *line)
{
    send_line(b, line);
    char *reply = read_reply(b);
    if (!reply) {
        fprintf(stderr, "  no reply to %s\n", line);
        return NULL;
    }
    struct json_object *o = NULL;
    if (osr_json_parse(reply, strlen(reply), &o, NULL) != OSR_OK)
        fprintf(stderr, "  reply is not JSON: %s\n", reply);
    free(reply);
    return o;
}

static const char *path_str(struct json_object *o, const char *a, const char *b_, const char *c)
{
    struct json_object *v = o;
    const char *keys[] = {a, b_, c};
    for (int i = 0; i < 3 && keys[i] && v; i++)
        if (!json_object_object_get_ex(v, keys[i], &v))
            return NULL;
    return v ? json_object_get_string(v) : NULL;
}

static void bridge_start(struct bridge *b, const char *const *args)
{
    memset(b, 0, sizeof(*b));
    osr_buf_init(&b->pending, 16u * 1024 * 1024);
    b->pid = spawn(args, &b->in, &b->out);
}

static int bridge_stop(struct bridge *b)
{
    close(b->in);
    int code = wait_exit(b->pid);
    close(b->out);
    osr_buf_release(&b->pending);
    return code;
}

static void test_usage(void)
{
    const char *help[] = {"mcp", "--help", NULL};
    CHECK_INT_EQ(wait_exit(spawn(help, NULL, NULL)), 0);
    const char *bad[] = {"mcp", "--port", "0", NULL};
    CHECK_INT_EQ(wait_exit(spawn(bad, NULL, NULL)), 2);
    const char *extra[] = {"mcp", "what", NULL};
    CHECK_INT_EQ(wait_exit(spawn(extra, NULL, NULL)), 2);
}

static void test_bridge_with_server(void)
{
    const char *serve[] = {"serve", "--port", "0", NULL};
    pid_t server = spawn(serve, NULL, NULL);
    REQUIRE(server > 0);
    struct osr_instance inst;
    int port = -1;
    for (int i = 0; i < 1000 && port < 0; i++) {
        if (osr_discovery_find(home, &inst) == OSR_OK && inst.port > 0)
            port = inst.port;
        else
            osr_sleep_ms(10);
    }
    REQUIRE(port > 0);

    const char *args[] = {"mcp", NULL};
    struct bridge b;
    bridge_start(&b, args);
    struct json_object *r =
        rpc(&b, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
                "{\"protocolVersion\":\"2025-03-26\",\"capabilities\":{},"
                "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}");
    CHECK_STR_EQ(path_str(r, "result", "protocolVersion", NULL), "2025-03-26");
    CHECK_STR_EQ(path_str(r, "result", "serverInfo", "name"), "Osaurus MCP Proxy");
    json_object_put(r);
    send_line(&b, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    send_line(&b, "");
    r = rpc(&b, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
    struct json_object *tools = NULL;
    CHECK(json_object_object_get_ex(json_object_object_get(r, "result"), "tools", &tools) &&
          json_object_array_length(tools) == 2);
    CHECK_STR_EQ(path_str(json_object_array_get_idx(tools, 0), "name", NULL, NULL), "calculator");
    json_object_put(r);
    r = rpc(&b, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":"
                "\"calculator\",\"arguments\":{\"expression\":\"2^8-1\"}}}");
    const char *text = NULL;
    struct json_object *content = NULL;
    if (json_object_object_get_ex(json_object_object_get(r, "result"), "content", &content))
        text = path_str(json_object_array_get_idx(content, 0), "text", NULL, NULL);
    CHECK(text && strstr(text, "\"value\":255") != NULL);
    CHECK(!json_object_get_boolean(
        json_object_object_get(json_object_object_get(r, "result"), "isError")));
    json_object_put(r);
    r = rpc(&b, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":"
                "\"calculator\",\"arguments\":{\"expression\":\"\"}}}");
    CHECK(json_object_get_boolean(
        json_object_object_get(json_object_object_get(r, "result"), "isError")));
    json_object_put(r);
    r = rpc(&b, "[{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\"},{\"jsonrpc\":\"2.0\",\"id\":6,"
                "\"method\":\"nope\"}]");
    CHECK(r && json_object_is_type(r, json_type_array) && json_object_array_length(r) == 2);
    json_object_put(r);
    r = rpc(&b, "{not json");
    CHECK_INT_EQ(
        json_object_get_int(json_object_object_get(json_object_object_get(r, "error"), "code")),
        -32700);
    json_object_put(r);
    CHECK_INT_EQ(bridge_stop(&b), 0); /* end of input ends the bridge */

    /* Without a server: calls fail as "unavailable" envelopes, the list is empty. */
    kill(server, SIGTERM);
    CHECK_INT_EQ(wait_exit(server), 0);
    char portarg[16];
    snprintf(portarg, sizeof(portarg), "%d", port);
    const char *args2[] = {"mcp", "--port", portarg, "--access-key", "osk-v1.none", NULL};
    bridge_start(&b, args2);
    r = rpc(&b, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    CHECK(json_object_object_get_ex(json_object_object_get(r, "result"), "tools", &tools) &&
          json_object_array_length(tools) == 0);
    json_object_put(r);
    r = rpc(&b, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":"
                "\"calculator\",\"arguments\":{\"expression\":\"1\"}}}");
    text = NULL;
    if (json_object_object_get_ex(json_object_object_get(r, "result"), "content", &content))
        text = path_str(json_object_array_get_idx(content, 0), "text", NULL, NULL);
    CHECK(text && strstr(text, "\"kind\":\"unavailable\"") != NULL);
    json_object_put(r);
    CHECK_INT_EQ(bridge_stop(&b), 0);
}

/* Runs the binary with args and returns its standard output (trailing newline cut). */
static void run_capture(const char *const *args, char *out, size_t cap)
{
    int fd = -1;
    pid_t pid = spawn(args, NULL, &fd);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(fd, out + n, cap - n - 1)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    while (n > 0 && out[n - 1] == '\n')
        out[--n] = '\0';
    close(fd);
    CHECK_INT_EQ(wait_exit(pid), 0);
}

/* An exposed server no longer trusts loopback: the bridge needs the access key (the
 * original's bug #1539 was an empty tool list here). */
static void test_exposed_server_needs_key(void)
{
    char out[4096];
    const char *init[] = {"identity", "init", NULL};
    run_capture(init, out, sizeof(out));
    const char *create[] = {"keys", "create", NULL};
    char key[2048];
    run_capture(create, key, sizeof(key));
    REQUIRE(strncmp(key, "osk-v1.", 7) == 0);
    const char *serve[] = {"serve", "--expose", "--yes", "--port", "0", NULL};
    pid_t server = spawn(serve, NULL, NULL);
    struct osr_instance inst;
    int port = -1;
    for (int i = 0; i < 1000 && port < 0; i++) {
        if (osr_discovery_find(home, &inst) == OSR_OK && inst.port > 0 && inst.pid == server)
            port = inst.port;
        else
            osr_sleep_ms(10);
    }
    REQUIRE(port > 0);
    const char *nokey[] = {"mcp", NULL};
    struct bridge b;
    bridge_start(&b, nokey);
    struct json_object *tools = NULL,
                       *r = rpc(&b, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    CHECK(json_object_object_get_ex(json_object_object_get(r, "result"), "tools", &tools) &&
          json_object_array_length(tools) == 0);
    json_object_put(r);
    r = rpc(&b, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":"
                "\"calculator\",\"arguments\":{\"expression\":\"1\"}}}");
    struct json_object *content = NULL;
    const char *text = NULL;
    if (json_object_object_get_ex(json_object_object_get(r, "result"), "content", &content))
        text = path_str(json_object_array_get_idx(content, 0), "text", NULL, NULL);
    CHECK(text && strstr(text, "\"kind\":\"rejected\"") && strstr(text, "401"));
    json_object_put(r);
    CHECK_INT_EQ(bridge_stop(&b), 0);

    const char *withkey[] = {"mcp", "--access-key", key, NULL};
    bridge_start(&b, withkey);
    r = rpc(&b, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    CHECK(json_object_object_get_ex(json_object_object_get(r, "result"), "tools", &tools) &&
          json_object_array_length(tools) == 2);
    json_object_put(r);
    r = rpc(&b, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":"
                "\"calculator\",\"arguments\":{\"expression\":\"40+2\"}}}");
    text = NULL;
    if (json_object_object_get_ex(json_object_object_get(r, "result"), "content", &content))
        text = path_str(json_object_array_get_idx(content, 0), "text", NULL, NULL);
    CHECK(text && strstr(text, "\"value\":42") != NULL);
    json_object_put(r);
    CHECK_INT_EQ(bridge_stop(&b), 0);
    kill(server, SIGTERM);
    CHECK_INT_EQ(wait_exit(server), 0);
}

static void test_all(void)
{
    binary = getenv("OSR_BINARY");
    const char *tmp = getenv("TMPDIR");
    snprintf(home, sizeof(home), "%s/osr-mcp-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!binary || !mkdtemp(home)) {
        fprintf(stderr, "skipping: OSR_BINARY not set or no temp dir\n");
        return;
    }
    signal(SIGPIPE, SIG_IGN);
    test_usage();
    test_bridge_with_server();
    test_exposed_server_needs_key();
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
    CHECK(system(cmd) == 0);
}

TEST_MAIN(test_all)
