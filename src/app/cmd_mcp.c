/* cmd_mcp.c - `osaurus mcp`: the stdio bridge desktop MCP clients launch.
 *
 * Reads newline-delimited JSON-RPC from standard input and answers on standard output (one
 * message per line, nothing else on stdout; diagnostics go to stderr).  initialize, ping and
 * the protocol rules are answered here by the shared dispatcher; tools/list and tools/call are
 * forwarded to the running server's REST projection (GET /mcp/tools, 5 s; POST /mcp/call,
 * 30 s), as the original bridge does.  The server is found per request (--port, else the
 * discovery file under the home, else the configured port), so the bridge may start before
 * the server.  With --access-key or OSAURUS_MCP_ACCESS_KEY the key is sent as a Bearer token,
 * which an exposed server requires.  It runs no tools itself.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "osr/alloc.h"
#include "osr/buf.h"
#include "osr/cli.h"
#include "osr/cli_mcp.h"
#include "osr/config.h"
#include "osr/discovery.h"
#include "osr/json.h"
#include "osr/local_client.h"
#include "osr/mcp.h"
#include "osr/tools.h"

#define LINE_MAX_BYTES OSR_MCP_MAX_BODY
#define REPLY_MAX (64u * 1024 * 1024)

static const char usage[] =
    "usage: osaurus mcp [--port N] [--home DIR] [--access-key KEY]\n"
    "\n"
    "Speaks MCP (JSON-RPC 2.0, one message per line) on standard input and output and\n"
    "forwards tool listing and calls to the running osaurus server.\n"
    "\n"
    "options:\n"
    "      --port N          the server's port (default: found from the running server)\n"
    "      --home DIR        use DIR instead of $OSAURUS_HOME or ~/.osaurus\n"
    "      --access-key KEY  send KEY as a Bearer token (or set OSAURUS_MCP_ACCESS_KEY);\n"
    "                        needed when the server is exposed to the network\n";

struct bridge {
    const char *home;
    int port; /* -1: discover */
    const char *key;
};

/* Performs one request; returns OSR_OK with *status and the body in out, or an error with a
 * message in diag.  The port is looked up on every call, so a restarted server is found. */
static int http_call(const struct bridge *b, const char *path, const char *body, long timeout_s,
                     long *status, struct osr_buf *out, struct osr_diag *diag)
{
    int port = b->port >= 0 ? b->port : osr_local_port(b->home, NULL);
    return osr_local_call(port, b->key, path, body, timeout_s, status, out, diag);
}

static struct json_object *proxy_list(void *ctx)
{
    const struct bridge *b = ctx;
    struct osr_buf out;
    osr_buf_init(&out, REPLY_MAX);
    struct osr_diag d;
    osr_diag_clear(&d);
    long status = 0;
    struct json_object *doc = NULL, *tools = NULL;
    if (http_call(b, "/mcp/tools", NULL, 5, &status, &out, &d) != OSR_OK) {
        fprintf(stderr, "osaurus mcp: tools/list: %s\n", d.msg);
        goto out;
    }
    if (status != 200) {
        fprintf(stderr, "osaurus mcp: tools/list: the server answered HTTP %ld%s\n", status,
                status == 401 ? " (set --access-key or OSAURUS_MCP_ACCESS_KEY)" : "");
        goto out;
    }
    if (osr_json_parse(out.data ? out.data : "", out.len, &doc, &d) != OSR_OK ||
        !json_object_is_type(doc, json_type_object) ||
        !json_object_object_get_ex(doc, "tools", &tools) ||
        !json_object_is_type(tools, json_type_array)) {
        fprintf(stderr, "osaurus mcp: tools/list: the server's answer is not {\"tools\":[...]}\n");
        tools = NULL;
        goto out;
    }
    json_object_get(tools);
out:
    json_object_put(doc);
    osr_buf_release(&out);
    return tools ? tools : json_object_new_array();
}

/* Turns a {content,isError} answer into an envelope: the text itself when it is one. */
static struct json_object *envelope_from(struct json_object *doc, const char *tool)
{
    struct json_object *content = NULL, *is_error = NULL;
    if (!json_object_is_type(doc, json_type_object) ||
        !json_object_object_get_ex(doc, "content", &content) ||
        !json_object_is_type(content, json_type_array))
        return osr_tool_envelope_error(tool, OSR_TOOL_EXECUTION_ERROR,
                                       "the server's answer has no content", NULL, NULL);
    bool err =
        json_object_object_get_ex(doc, "isError", &is_error) && json_object_get_boolean(is_error);
    struct osr_buf text;
    osr_buf_init(&text, REPLY_MAX);
    size_t n = json_object_array_length(content);
    for (size_t i = 0; i < n; i++) {
        struct json_object *t = NULL, *item = json_object_array_get_idx(content, i);
        if (json_object_object_get_ex(item, "text", &t) && json_object_is_type(t, json_type_string))
            osr_buf_append(&text, json_object_get_string(t), (size_t)json_object_get_string_len(t));
    }
    struct json_object *env = NULL, *ok = NULL;
    if (osr_json_parse(osr_buf_str(&text), text.len, &env, NULL) == OSR_OK &&
        json_object_is_type(env, json_type_object) && json_object_object_get_ex(env, "ok", &ok) &&
        json_object_is_type(ok, json_type_boolean)) {
        osr_buf_release(&text);
        return env;
    }
    json_object_put(env);
    if (err) {
        env =
            osr_tool_envelope_error(tool, OSR_TOOL_EXECUTION_ERROR, osr_buf_str(&text), NULL, NULL);
    } else {
        struct json_object *res = json_object_new_object();
        json_object_object_add(res, "text", osr_json_new_string(osr_buf_str(&text), text.len));
        env = osr_tool_envelope_ok(tool, res, NULL);
    }
    osr_buf_release(&text);
    return env;
}

static struct json_object *proxy_call(void *ctx, const char *name, struct json_object *args)
{
    const struct bridge *b = ctx;
    struct json_object *req = json_object_new_object();
    json_object_object_add(req, "name", json_object_new_string(name));
    json_object_object_add(req, "arguments", json_object_get(args));
    struct osr_buf body, out;
    osr_buf_init(&body, OSR_MCP_MAX_BODY);
    osr_buf_init(&out, REPLY_MAX);
    struct osr_diag d;
    osr_diag_clear(&d);
    long status = 0;
    struct json_object *env = NULL, *doc = NULL;
    if (osr_json_append(&body, req) != OSR_OK) {
        env = osr_tool_envelope_error(name, OSR_TOOL_INVALID_ARGS, "arguments too large",
                                      "arguments", NULL);
        goto out;
    }
    if (http_call(b, "/mcp/call", osr_buf_str(&body), 30, &status, &out, &d) != OSR_OK) {
        env = osr_tool_envelope_error(name, OSR_TOOL_UNAVAILABLE, d.msg, NULL, NULL);
        goto out;
    }
    if (status != 200) {
        char msg[160];
        snprintf(msg, sizeof(msg), "the osaurus server answered HTTP %ld%s", status,
                 status == 401 ? " (set --access-key or OSAURUS_MCP_ACCESS_KEY)" : "");
        env = osr_tool_envelope_error(
            name, status == 401 || status == 403 ? OSR_TOOL_REJECTED : OSR_TOOL_UNAVAILABLE, msg,
            NULL, NULL);
        goto out;
    }
    if (osr_json_parse(out.data ? out.data : "", out.len, &doc, &d) != OSR_OK) {
        env = osr_tool_envelope_error(name, OSR_TOOL_EXECUTION_ERROR,
                                      "the server's answer is not JSON", NULL, NULL);
        goto out;
    }
    env = envelope_from(doc, name);
out:
    json_object_put(doc);
    json_object_put(req);
    osr_buf_release(&body);
    osr_buf_release(&out);
    return env;
}

/* Reads one line (without its newline) into line.  Returns 1 for a line, 0 at end of input,
 * -1 for a line longer than the cap (which is skipped). */
static int read_line(FILE *in, struct osr_buf *line)
{
    osr_buf_reset(line);
    bool too_long = false, any = false;
    char chunk[8192];
    while (fgets(chunk, sizeof(chunk), in)) {
        any = true;
        size_t n = strlen(chunk);
        bool end = n > 0 && chunk[n - 1] == '\n';
        if (end)
            n--;
        if (!too_long && osr_buf_append(line, chunk, n) != OSR_OK)
            too_long = true;
        if (end)
            return too_long ? -1 : 1;
    }
    if (!any)
        return 0;
    return too_long ? -1 : 1;
}

int osr_cmd_mcp(int argc, char **argv)
{
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},
        {"home", required_argument, NULL, 'H'},
        {"access-key", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct bridge b = {.port = -1, .key = getenv("OSAURUS_MCP_ACCESS_KEY")};
    const char *home_flag = NULL;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p': {
            char *end = NULL;
            long v = strtol(optarg, &end, 10);
            if (!end || *end || v < 1 || v > 65535) {
                fprintf(stderr, "osaurus mcp: invalid port '%s'\n%s", optarg, usage);
                return OSR_EXIT_USAGE;
            }
            b.port = (int)v;
            break;
        }
        case 'H':
            home_flag = optarg;
            break;
        case 'k':
            b.key = optarg;
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
        fprintf(stderr, "osaurus mcp: unexpected argument '%s'\n%s", argv[optind], usage);
        return OSR_EXIT_USAGE;
    }
    char *home = osr_home_resolve(home_flag);
    b.home = home;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct osr_mcp_backend be = {.list = proxy_list, .call = proxy_call, .has = NULL, .ctx = &b};
    /* the original's bridge introduces itself so (REFERENCE §6.2) */
    const struct osr_mcp_info info = {.name = "Osaurus MCP Proxy", .version = OSR_VERSION};
    struct osr_mcp_session s;
    memset(&s, 0, sizeof(s));
    struct osr_buf line;
    osr_buf_init(&line, LINE_MAX_BYTES);
    for (;;) {
        int r = read_line(stdin, &line);
        if (r == 0)
            break;
        char *reply = NULL;
        if (r < 0) {
            fprintf(stderr, "osaurus mcp: skipped a message larger than %u bytes\n",
                    LINE_MAX_BYTES);
            reply = osr_xstrdup("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,"
                                "\"message\":\"Parse error: message too large\"}}");
        } else {
            size_t n = line.len;
            while (n > 0 && (line.data[n - 1] == '\r' || line.data[n - 1] == ' '))
                n--;
            if (n == 0)
                continue;
            reply = osr_mcp_handle_text(&info, &be, &s, line.data, n);
        }
        if (reply) {
            fputs(reply, stdout);
            fputc('\n', stdout);
            fflush(stdout);
            free(reply);
        }
    }
    osr_buf_release(&line);
    curl_global_cleanup();
    free(home);
    return OSR_EXIT_OK;
}
