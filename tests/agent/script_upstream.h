/* script_upstream.h - the scripted model (script_model.h) behind an OpenAI-compatible HTTP
 * server on 127.0.0.1:0, so the agent loop can be driven through the real provider client, as
 * `osaurus serve` and `osaurus run` would reach a cloud model.  POST /v1/chat/completions
 * decodes the body, plays the turn the script plans for it through this project's OpenAI
 * encoder (SSE when asked to stream), and GET /v1/models lists the script's names.
 * script_upstream_write_remote writes a providers/remote.json naming it provider "fake".
 * Test-only code. */
#ifndef OSR_TEST_SCRIPT_UPSTREAM_H
#define OSR_TEST_SCRIPT_UPSTREAM_H

#include "agent/script_model.h"
#include "osr/api.h"
#include "osr/api_openai_chat.h"
#include "osr/config.h"
#include "osr/http_server.h"

struct script_upstream {
    struct osr_http_server *srv;
    struct osr_server_config cfg;
    struct json_object *script;
    int port;
    atomic_int requests;
};

static int su_flush(void *ctx, const char *p, size_t n)
{
    return osr_buf_append(ctx, p, n) == OSR_OK ? 0 : 1;
}

static void su_chat(struct osr_http_request *hr, void *ctx)
{
    struct script_upstream *su = ctx;
    atomic_fetch_add(&su->requests, 1);
    struct osr_chat_request req;
    osr_chat_request_init(&req, OSR_CHAT_ARENA_MAX);
    struct osr_api_error err;
    memset(&err, 0, sizeof(err));
    struct osr_str body = osr_http_request_body(hr);
    struct osr_buf out;
    osr_buf_init(&out, 64u << 20);
    if (osr_openai_chat_decode(&req, body.p, body.n, &err)) {
        osr_api_error_body(OSR_API_OPENAI_CHAT, &err, &out);
        osr_http_respond(hr, err.status, OSR_API_JSON_CONTENT_TYPE, osr_buf_str(&out), out.len);
        goto out;
    }
    struct osr_api_encode_opts o = {.model = req.model, .stream = req.stream, .req = &req};
    struct osr_api_encoder *enc = osr_api_encoder_new(OSR_API_OPENAI_CHAT, &o);
    struct osr_api_stream_sink ss;
    osr_api_stream_sink_init(&ss, enc, su_flush, &out);
    script_play(su->script, req.model, script_turn_index(&req), &ss.sink, NULL);
    osr_api_stream_sink_end(&ss);
    osr_api_stream_sink_release(&ss);
    osr_http_respond(hr, osr_api_encoder_status(enc), osr_api_encoder_content_type(enc),
                     osr_buf_str(&out), out.len);
    osr_api_encoder_free(enc);
out:
    osr_buf_release(&out);
    osr_chat_request_release(&req);
}

static void su_models(struct osr_http_request *hr, void *ctx)
{
    struct script_upstream *su = ctx;
    struct json_object *o = json_object_new_object(), *data = json_object_new_array();
    json_object_object_foreach(su->script, k, v)
    {
        (void)v;
        struct json_object *m = json_object_new_object();
        json_object_object_add(m, "id", json_object_new_string(k));
        json_object_object_add(m, "object", json_object_new_string("model"));
        json_object_array_add(data, m);
    }
    json_object_object_add(o, "object", json_object_new_string("list"));
    json_object_object_add(o, "data", data);
    osr_http_respond_json(hr, 200, o);
    json_object_put(o);
}

/* Starts the server for script (JSON text).  Returns 0, or -1 when it cannot. */
static int script_upstream_start(struct script_upstream *su, const char *script_json)
{
    memset(su, 0, sizeof(*su));
    if (osr_json_parse(script_json, strlen(script_json), &su->script, NULL) != OSR_OK)
        return -1;
    osr_server_config_defaults(&su->cfg);
    su->srv = osr_http_server_new(&su->cfg, 0);
    struct osr_route chat = {.method = "POST", .pattern = "/chat/completions",
                             .handler = su_chat, .auth = OSR_AUTH_PUBLIC, .ctx = su};
    struct osr_route models = {.method = "GET", .pattern = "/models", .handler = su_models,
                               .auth = OSR_AUTH_PUBLIC, .ctx = su};
    osr_http_server_add_route(su->srv, &chat);
    osr_http_server_add_route(su->srv, &models);
    if (osr_http_server_start(su->srv, NULL) != OSR_OK)
        return -1;
    su->port = osr_http_server_port(su->srv);
    return 0;
}

static void script_upstream_stop(struct script_upstream *su)
{
    osr_http_server_free(su->srv);
    osr_server_config_release(&su->cfg);
    json_object_put(su->script);
}

/* Writes <home>/providers/remote.json with one OpenAI-type provider "fake" at su. */
static int script_upstream_write_remote(const struct script_upstream *su, const char *home)
{
    char dir[1024], path[1100], text[1024];
    snprintf(dir, sizeof(dir), "%s/providers", home);
    if (osr_mkdir_p(dir, 0700, NULL) != OSR_OK)
        return -1;
    snprintf(path, sizeof(path), "%s/remote.json", dir);
    snprintf(text, sizeof(text),
             "{\"providers\":[{\"id\":\"fake\",\"host\":\"127.0.0.1\",\"providerProtocol\":"
             "\"http\",\"port\":%d,\"basePath\":\"/v1\",\"authType\":\"none\",\"providerType\":"
             "\"openai\"}]}",
             su->port);
    return osr_write_file_atomic(path, text, strlen(text), 0600, NULL) == OSR_OK ? 0 : -1;
}

#endif
