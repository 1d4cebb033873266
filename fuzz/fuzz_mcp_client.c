/* fuzz_mcp_client.c - what the MCP client reads from untrusted places: mcp.json, a Streamable
 * HTTP answer (an event stream or a JSON body, fed in uneven slices), a stdio child's output
 * lines, and a tools/call result mapped onto the Tool Contract.  The first byte picks:
 * 'c' config, 's' event stream, 'j' JSON body, 'l' stdio lines, anything else a tools/call
 * result.  Nothing touches the network: the connection is marked closing, so answers the
 * client would post back are dropped. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp_client.c"
#include "mcp/mcp_transport_http.c"
#include "mcp/mcp_transport_stdio.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct osr_mcp_provider_config fuzz_cfg = {
    .id = (char *)"fz",
    .name = (char *)"fz",
    .url = (char *)"http://127.0.0.1:9/mcp",
};

static void fuzz_config(const char *s, size_t n)
{
    struct osr_mcp_config cfg;
    struct osr_diag d;
    if (osr_mcp_config_parse(s, n, "mcp.json", &cfg, &d) == OSR_OK)
        osr_mcp_config_release(&cfg);
}

static void fuzz_http(const char *s, size_t n, bool sse)
{
    struct mcp_conn_opts o = {.cfg = &fuzz_cfg};
    struct mcp_conn *conn = NULL;
    if (mcp_conn_open_http(&o, &conn, NULL) != OSR_OK)
        return;
    atomic_store(&conn->closing, true);
    struct xfer x;
    memset(&x, 0, sizeof(x));
    x.c = (struct http_conn *)conn;
    x.want_id = 1;
    snprintf(x.content_type, sizeof(x.content_type), "%s",
             sse ? "text/event-stream" : "application/json");
    osr_buf_init(&x.body, OSR_MCP_CLIENT_MESSAGE_MAX);
    osr_sse_init(&x.parser, 1u << 20, on_event, &x);
    /* Uneven slices: each slice's length comes from the byte at its start. */
    size_t off = 0;
    while (off < n) {
        size_t len = 1 + (size_t)((unsigned char)s[off] % 61);
        if (len > n - off)
            len = n - off;
        if (on_body((char *)s + off, 1, len, &x) != len)
            break;
        off += len;
    }
    int rc = OSR_OK;
    struct json_object *reply = x.reply;
    x.reply = NULL;
    if (!sse && !reply)
        reply = from_json_body(&x, NULL, &rc);
    if (reply) {
        struct json_object *res = NULL;
        if (mcp_conn_take_result(reply, &res, NULL) == OSR_OK)
            json_object_put(res);
        json_object_put(reply);
    }
    flush_answers(&x); /* closing: freed, not sent */
    osr_sse_release(&x.parser);
    osr_buf_release(&x.body);
    mcp_conn_unref(conn);
}

static void fuzz_stdio(const char *s, size_t n)
{
    struct stdio_conn *c = osr_xcalloc(1, sizeof(*c));
    struct mcp_conn_opts o = {.cfg = &fuzz_cfg};
    mcp_conn_base_init(&c->base, &stdio_ops, &o);
    c->in_fd = c->out_fd = c->err_fd = -1;
    c->reaped = true;
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->write_mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    struct pending waiting = {.id = 1};
    c->pending = &waiting;
    struct osr_ndjson_parser p;
    osr_ndjson_init(&p, 1u << 20, on_line, c);
    osr_ndjson_feed(&p, s, n);
    osr_ndjson_finish(&p);
    osr_ndjson_release(&p);
    json_object_put(waiting.reply);
    c->pending = NULL;
    atomic_store(&c->base.closing, true);
    stdio_destroy(&c->base);
}

static void fuzz_result(const char *s, size_t n)
{
    struct json_object *res = NULL;
    if (osr_json_parse(s, n, &res, NULL) != OSR_OK || !res ||
        !json_object_is_type(res, json_type_object)) {
        json_object_put(res);
        return;
    }
    struct osr_tool_out out;
    memset(&out, 0, sizeof(out));
    map_result(res, &out);
    json_object_put(out.result);
    json_object_put(out.warnings);
    json_object_put(res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    osr_log_set_level(OSR_LOG_OFF);
    switch (data[0]) {
    case 'c':
        fuzz_config(s, n);
        break;
    case 's':
        fuzz_http(s, n, true);
        break;
    case 'j':
        fuzz_http(s, n, false);
        break;
    case 'l':
        fuzz_stdio(s, n);
        break;
    default:
        fuzz_result(s, n);
        break;
    }
    return 0;
}
