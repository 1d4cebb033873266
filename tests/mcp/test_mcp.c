/* test_mcp.c - JSON-RPC classification, the MCP dispatcher (negotiation, methods, errors,
 * batches), and the HTTP transports over loopback: Streamable HTTP /mcp with sessions, SSE
 * replies, 202 for notifications, 400/404/405, and the REST projection (health, tools, call). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "net/http_test_client.h"
#include "osr/config.h"
#include "osr/json.h"
#include "osr/jsonrpc.h"
#include "osr/mcp.h"

static struct json_object *parse(const char *s)
{
    struct json_object *o = NULL;
    osr_json_parse(s, strlen(s), &o, NULL);
    return o;
}

static void test_classify(void)
{
    static const struct {
        const char *msg;
        int kind;
    } cases[] = {
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", OSR_JSONRPC_REQUEST},
        {"{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"x\",\"params\":{}}", OSR_JSONRPC_REQUEST},
        {"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
         OSR_JSONRPC_NOTIFICATION},
        {"{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}", OSR_JSONRPC_RESPONSE},
        {"{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":1,\"message\":\"m\"}}",
         OSR_JSONRPC_RESPONSE},
        {"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}", OSR_JSONRPC_INVALID},
        {"{\"id\":1,\"method\":\"ping\"}", OSR_JSONRPC_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", OSR_JSONRPC_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}", OSR_JSONRPC_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}", OSR_JSONRPC_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":3}", OSR_JSONRPC_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":1}", OSR_JSONRPC_INVALID},
        {"[1]", OSR_JSONRPC_INVALID},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct json_object *o = parse(cases[i].msg);
        struct osr_jsonrpc_msg m;
        struct osr_diag d;
        int rc = osr_jsonrpc_classify(o, &m, &d);
        CHECK_INT_EQ(m.kind, cases[i].kind);
        CHECK_INT_EQ(rc, cases[i].kind == OSR_JSONRPC_INVALID ? OSR_EINVAL : OSR_OK);
        json_object_put(o);
    }
    struct json_object *e = osr_jsonrpc_error(NULL, -32601, "nope", NULL);
    CHECK_STR_EQ(
        json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN),
        "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32601,\"message\":\"nope\"}}");
    json_object_put(e);
}

static struct osr_tools *tools;
static struct osr_mcp_backend be;
static const struct osr_mcp_info info = {"osaurus", "9.9", NULL};

static char *rpc(struct osr_mcp_session *s, const char *text)
{
    return osr_mcp_handle_text(&info, &be, s, text, strlen(text));
}

#define CHECK_REPLY(s, req, want)                                                                  \
    do {                                                                                           \
        char *got_ = rpc(s, req);                                                                  \
        CHECK_STR_EQ(got_, want);                                                                  \
        free(got_);                                                                                \
    } while (0)

#define CHECK_REPLY_HAS(s, req, part)                                                              \
    do {                                                                                           \
        char *got_ = rpc(s, req);                                                                  \
        CHECK(got_ &&strstr(got_, part) != NULL);                                                  \
        if (!got_ || !strstr(got_, part))                                                          \
            fprintf(stderr, "  reply: %s\n  missing: %s\n", got_ ? got_ : "(none)", part);         \
        free(got_);                                                                                \
    } while (0)

static void test_dispatch(void)
{
    struct osr_mcp_session s;
    memset(&s, 0, sizeof(s));
    CHECK_REPLY(
        &s,
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
        "\"protocolVersion\":\"2024-11-05\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\","
        "\"version\":\"1\"}}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"protocolVersion\":\"2024-11-05\","
        "\"capabilities\":{\"tools\":{\"listChanged\":false}},\"serverInfo\":{\"name\":"
        "\"osaurus\",\"version\":\"9.9\"}}}");
    CHECK_STR_EQ(s.protocol, "2024-11-05");
    CHECK(rpc(&s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}") == NULL);
    CHECK(s.initialized);
    CHECK_REPLY(&s, "{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"ping\"}",
                "{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"result\":{}}");
    CHECK_REPLY_HAS(&s, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}",
                    "\"tools\":[{\"name\":\"calculator\"");
    /* 2024-11-05: no structuredContent */
    CHECK_REPLY(
        &s,
        "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":"
        "\"calculator\",\"arguments\":{\"expression\":\"6*7\"}}}",
        "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"content\":[{\"type\":\"text\",\"text\":"
        "\"{\\\"ok\\\":true,\\\"tool\\\":\\\"calculator\\\",\\\"result\\\":{\\\"expression\\\":"
        "\\\"6*7\\\",\\\"value\\\":42,\\\"text\\\":\\\"42\\\"}}\"}],\"isError\":false}}");
    CHECK_REPLY_HAS(&s,
                    "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":"
                    "\"calculator\",\"arguments\":{\"expr\":\"1\"}}}",
                    "\\\"kind\\\":\\\"invalid_args\\\"");
    CHECK_REPLY_HAS(&s,
                    "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":"
                    "\"calculator\",\"arguments\":{\"expr\":\"1\"}}}",
                    "\"isError\":true");
    CHECK_REPLY(
        &s, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"zz\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":5,\"error\":{\"code\":-32602,\"message\":\"Unknown tool: "
        "zz\"}}");
    CHECK_REPLY_HAS(&s, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{}}",
                    "\"code\":-32602");
    CHECK_REPLY_HAS(&s,
                    "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{\"name\":"
                    "\"calculator\",\"arguments\":[]}}",
                    "\"code\":-32602");
    CHECK_REPLY(&s, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"nope/x\"}",
                "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":-32601,\"message\":\"Method not "
                "found: nope/x\"}}");
    CHECK(rpc(&s, "{\"jsonrpc\":\"2.0\",\"method\":\"nope/x\"}") == NULL);
    CHECK_REPLY_HAS(&s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":", "\"code\":-32700");
    CHECK_REPLY_HAS(&s, "{\"jsonrpc\":\"2.0\",\"id\":8}", "\"code\":-32600");
    CHECK_REPLY_HAS(&s, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"initialize\"}",
                    "\"code\":-32602");

    /* Batches in 2024-11-05: answers for requests only; all-notification batch: nothing. */
    CHECK_REPLY(
        &s,
        "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},{\"jsonrpc\":\"2.0\",\"method\":"
        "\"notifications/x\"},{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"nope\"}]",
        "[{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}},{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":"
        "{\"code\":-32601,\"message\":\"Method not found: nope\"}}]");
    CHECK(rpc(&s, "[{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"}]") == NULL);
    CHECK_REPLY_HAS(&s, "[]", "\"code\":-32600");
    CHECK_REPLY_HAS(&s,
                    "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                    "\"protocolVersion\":\"2024-11-05\"}}]",
                    "must not be part of a batch");

    /* Newest version: structuredContent, no batches; unknown versions get the newest. */
    CHECK_REPLY_HAS(&s,
                    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                    "\"protocolVersion\":\"2099-01-01\"}}",
                    "\"protocolVersion\":\"2025-06-18\"");
    CHECK_STR_EQ(s.protocol, "2025-06-18");
    CHECK_REPLY_HAS(&s,
                    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":"
                    "\"calculator\",\"arguments\":{\"expression\":\"1+1\"}}}",
                    "\"structuredContent\":{\"ok\":true");
    CHECK_REPLY_HAS(&s, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]",
                    "batches are not supported");
    CHECK(osr_mcp_version_supported("2025-03-26"));
    CHECK(!osr_mcp_version_supported("2025-13-01"));
}

/* --- HTTP ---------------------------------------------------------------------------------- */

static struct osr_http_server *srv;
static struct osr_mcp_http *mh;
static struct osr_server_config cfg;
static char base[64];

static void start(void)
{
    osr_server_config_defaults(&cfg);
    srv = osr_http_server_new(&cfg, 0);
    mh = osr_mcp_http_new(tools);
    osr_mcp_http_register(srv, mh);
    struct osr_diag d;
    if (osr_http_server_start(srv, &d) != OSR_OK) {
        fprintf(stderr, "cannot start: %s\n", d.msg);
        exit(1);
    }
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", osr_http_server_port(srv));
}

static void stop(void)
{
    osr_http_server_free(srv);
    osr_mcp_http_free(mh);
    osr_server_config_release(&cfg);
}

static struct test_resp post(const char *path, const char *body, const char *sid,
                             const char *accept)
{
    char url[128], sh[128], ah[128];
    snprintf(url, sizeof(url), "%s%s", base, path);
    const char *hdrs[4] = {"Content-Type: application/json", NULL, NULL, NULL};
    int n = 1;
    if (sid) {
        snprintf(sh, sizeof(sh), "Mcp-Session-Id: %s", sid);
        hdrs[n++] = sh;
    }
    snprintf(ah, sizeof(ah), "Accept: %s", accept ? accept : "application/json, text/event-stream");
    hdrs[n++] = ah;
    return test_request(NULL, "POST", url, body, strlen(body), hdrs);
}

static void test_http_streamable(void)
{
    start();
    struct test_resp r = post("/mcp",
                              "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                              "\"protocolVersion\":\"2025-06-18\",\"capabilities\":{}}}",
                              NULL, NULL);
    CHECK_INT_EQ(r.status, 200);
    char sid[128] = "";
    test_header(&r, "Mcp-Session-Id", sid, sizeof(sid));
    CHECK_INT_EQ(strlen(sid), 36);
    CHECK(strstr(osr_buf_str(&r.body), "\"protocolVersion\":\"2025-06-18\"") != NULL);
    test_resp_release(&r);

    r = post("/mcp", "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", sid, NULL);
    CHECK_INT_EQ(r.status, 202);
    CHECK_INT_EQ(r.body.len, 0);
    test_resp_release(&r);

    r = post("/mcp", "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}", sid, NULL);
    CHECK_INT_EQ(r.status, 200);
    CHECK(strstr(osr_buf_str(&r.body), "\"name\":\"current_time\"") != NULL);
    test_resp_release(&r);

    r = post("/mcp",
             "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":"
             "\"calculator\",\"arguments\":{\"expression\":\"2*(3+4)\"}}}",
             sid, NULL);
    CHECK_INT_EQ(r.status, 200);
    CHECK(strstr(osr_buf_str(&r.body), "\"isError\":false") != NULL);
    CHECK(strstr(osr_buf_str(&r.body), "\"value\":14") != NULL);
    test_resp_release(&r);

    r = post("/mcp",
             "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":"
             "\"calculator\",\"arguments\":{\"expression\":5}}}",
             sid, NULL);
    CHECK(strstr(osr_buf_str(&r.body), "\"isError\":true") != NULL);
    CHECK(strstr(osr_buf_str(&r.body), "\"field\":\"expression\"") != NULL);
    test_resp_release(&r);

    r = post(
        "/mcp",
        "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"nope\"}}",
        sid, NULL);
    CHECK(strstr(osr_buf_str(&r.body), "\"code\":-32602") != NULL);
    test_resp_release(&r);

    r = post("/mcp", "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"ping\"}", sid,
             "text/event-stream");
    CHECK_INT_EQ(r.status, 200);
    char ct[128] = "";
    test_header(&r, "Content-Type", ct, sizeof(ct));
    CHECK(strstr(ct, "text/event-stream") != NULL);
    CHECK_STR_EQ(osr_buf_str(&r.body),
                 "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":6,\"result\":{}}\n\n");
    test_resp_release(&r);

    r = post("/mcp", "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"what/ever\"}", sid, NULL);
    CHECK_INT_EQ(r.status, 200);
    CHECK(strstr(osr_buf_str(&r.body), "\"code\":-32601") != NULL);
    test_resp_release(&r);

    r = post("/mcp", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":", sid, NULL);
    CHECK_INT_EQ(r.status, 400);
    CHECK(strstr(osr_buf_str(&r.body), "\"code\":-32700") != NULL);
    test_resp_release(&r);

    /* Session rules: none -> 400, unknown -> 404, a bad protocol header -> 400. */
    r = post("/mcp", "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"ping\"}", NULL, NULL);
    CHECK_INT_EQ(r.status, 400);
    test_resp_release(&r);
    r = post("/mcp", "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"ping\"}",
             "00000000-0000-4000-8000-000000000000", NULL);
    CHECK_INT_EQ(r.status, 404);
    test_resp_release(&r);
    char url[128], sh[192];
    snprintf(url, sizeof(url), "%s/mcp", base);
    snprintf(sh, sizeof(sh), "Mcp-Session-Id: %s", sid);
    const char *bad_ver[] = {sh, "MCP-Protocol-Version: 1999-01-01",
                             "Content-Type: application/json", NULL};
    const char *ping = "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\"}";
    r = test_request(NULL, "POST", url, ping, strlen(ping), bad_ver);
    CHECK_INT_EQ(r.status, 400);
    test_resp_release(&r);

    /* GET is not offered; DELETE ends the session. */
    r = test_request(NULL, NULL, url, NULL, 0, NULL);
    CHECK_INT_EQ(r.status, 405);
    test_resp_release(&r);
    const char *del_h[] = {sh, NULL};
    r = test_request(NULL, "DELETE", url, NULL, 0, del_h);
    CHECK_INT_EQ(r.status, 200);
    test_resp_release(&r);
    r = post("/mcp", ping, sid, NULL);
    CHECK_INT_EQ(r.status, 404);
    test_resp_release(&r);
    r = test_request(NULL, "DELETE", url, NULL, 0, del_h);
    CHECK_INT_EQ(r.status, 404);
    test_resp_release(&r);

    /* Same routes under /v1 (path normalization). */
    r = post("/v1/mcp",
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
             "\"protocolVersion\":\"2025-03-26\"}}",
             NULL, NULL);
    CHECK_INT_EQ(r.status, 200);
    CHECK(strstr(osr_buf_str(&r.body), "\"protocolVersion\":\"2025-03-26\"") != NULL);
    test_resp_release(&r);
    stop();
}

static void test_http_rest(void)
{
    start();
    char url[128];
    snprintf(url, sizeof(url), "%s/mcp/health", base);
    struct test_resp r = test_request(NULL, NULL, url, NULL, 0, NULL);
    CHECK_INT_EQ(r.status, 200);
    CHECK_STR_EQ(osr_buf_str(&r.body), "{\"status\":\"ok\"}");
    test_resp_release(&r);
    snprintf(url, sizeof(url), "%s/api/mcp/tools", base);
    r = test_request(NULL, NULL, url, NULL, 0, NULL);
    CHECK_INT_EQ(r.status, 200);
    struct json_object *o = parse(osr_buf_str(&r.body));
    struct json_object *arr = NULL;
    CHECK(json_object_object_get_ex(o, "tools", &arr) && json_object_array_length(arr) == 2);
    json_object_put(o);
    test_resp_release(&r);

    r = post("/mcp/call", "{\"name\":\"calculator\",\"arguments\":{\"expression\":\"7%4\"}}", NULL,
             NULL);
    CHECK_INT_EQ(r.status, 200);
    CHECK_STR_EQ(
        osr_buf_str(&r.body),
        "{\"content\":[{\"type\":\"text\",\"text\":\"{\\\"ok\\\":true,\\\"tool\\\":"
        "\\\"calculator\\\",\\\"result\\\":{\\\"expression\\\":\\\"7%4\\\",\\\"value\\\":3,"
        "\\\"text\\\":\\\"3\\\"}}\"}],\"isError\":false}");
    test_resp_release(&r);
    r = post("/mcp/call", "{\"name\":\"nope\",\"arguments\":{}}", NULL, NULL);
    CHECK_INT_EQ(r.status, 200);
    CHECK(strstr(osr_buf_str(&r.body), "\"isError\":true") != NULL);
    CHECK(strstr(osr_buf_str(&r.body), "tool_not_found") != NULL);
    test_resp_release(&r);
    r = post("/mcp/call", "{\"name\":\"calculator\",\"arguments\":{\"x\":1}}", NULL, NULL);
    CHECK_INT_EQ(r.status, 200);
    CHECK(strstr(osr_buf_str(&r.body), "invalid_args") != NULL);
    test_resp_release(&r);
    /* Browser pages from other origins are refused; loopback pages are fine. */
    snprintf(url, sizeof(url), "%s/mcp/call", base);
    const char *body = "{\"name\":\"calculator\",\"arguments\":{\"expression\":\"1\"}}";
    const char *evil[] = {"Origin: http://evil.example", "Content-Type: text/plain", NULL};
    r = test_request(NULL, "POST", url, body, strlen(body), evil);
    CHECK_INT_EQ(r.status, 403);
    test_resp_release(&r);
    const char *spoof[] = {"Origin: http://localhost.evil.example", NULL};
    r = test_request(NULL, "POST", url, body, strlen(body), spoof);
    CHECK_INT_EQ(r.status, 403);
    test_resp_release(&r);
    const char *local[] = {"Origin: http://localhost:5173", NULL};
    r = test_request(NULL, "POST", url, body, strlen(body), local);
    CHECK_INT_EQ(r.status, 200);
    test_resp_release(&r);
    snprintf(url, sizeof(url), "%s/mcp", base);
    const char *init = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                       "\"protocolVersion\":\"2025-06-18\"}}";
    r = test_request(NULL, "POST", url, init, strlen(init), evil);
    CHECK_INT_EQ(r.status, 403);
    test_resp_release(&r);
    char *allowed[] = {"https://app.example"};
    osr_mcp_http_set_origins(mh, allowed, 1);
    const char *good[] = {"Origin: https://app.example", NULL};
    r = test_request(NULL, "POST", url, init, strlen(init), good);
    CHECK_INT_EQ(r.status, 200);
    test_resp_release(&r);
    osr_mcp_http_set_origins(mh, NULL, 0);

    r = post("/mcp/call", "{\"name\": ", NULL, NULL);
    CHECK_INT_EQ(r.status, 400);
    test_resp_release(&r);
    r = post("/mcp/call", "{\"arguments\":{}}", NULL, NULL);
    CHECK_INT_EQ(r.status, 400);
    test_resp_release(&r);
    stop();
}

/* Several clients at once, each with its own session, over the thread-per-connection server. */
static void *client_thread(void *arg)
{
    int *ok = arg;
    for (int i = 0; i < 15; i++) {
        struct test_resp r =
            post("/mcp",
                 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                 "\"protocolVersion\":\"2025-06-18\"}}",
                 NULL, NULL);
        char sid[128] = "";
        test_header(&r, "Mcp-Session-Id", sid, sizeof(sid));
        test_resp_release(&r);
        char body[160];
        snprintf(body, sizeof(body),
                 "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":"
                 "\"calculator\",\"arguments\":{\"expression\":\"%d*2\"}}}",
                 i);
        r = post("/mcp", body, sid, NULL);
        char want[32];
        snprintf(want, sizeof(want), "\\\"value\\\":%d", i * 2);
        if (r.status == 200 && strstr(osr_buf_str(&r.body), want))
            (*ok)++;
        test_resp_release(&r);
    }
    return NULL;
}

static void test_http_concurrent(void)
{
    start();
    pthread_t th[4];
    int ok[4] = {0, 0, 0, 0};
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, client_thread, &ok[i]);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT_EQ(ok[i], 15);
    }
    stop();
}

static void setup(void)
{
    tools = osr_tools_new();
    osr_tools_add_builtins(tools, NULL);
    osr_mcp_backend_tools(&be, tools);
}

static void test_all(void)
{
    setup();
    test_classify();
    test_dispatch();
    test_http_streamable();
    test_http_rest();
    test_http_concurrent();
    osr_tools_free(tools);
}

TEST_MAIN(test_all)
