/* chat_routes.c - the live protocol routes (see api_routes.h): each handler decodes the body
 * with its protocol's decoder, checks the model against the chat service, and answers either
 * a buffered body (run to completion on the connection thread) or a stream (the service runs
 * on the HTTP server's producer thread, the encoder turns events into frames, the frames go to
 * osr_http_stream_write).
 *
 * Responses are stored in the chat history's responses table when they complete (unless the
 * client sent "store": false), and a previous_response_id is resolved before decoding: the
 * chain's inputs and outputs are put in front of the new input items, so the decoder sees one
 * ordinary conversation.
 *
 * Not here: the wire formats (src/api/<protocol>.c), the model registry and /models, /tags,
 * /show (the local-model routes), and any network I/O of its own (the backends do it).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osr/alloc.h"
#include "osr/api.h"
#include "osr/api_anthropic.h"
#include "osr/api_embed.h"
#include "osr/api_routes.h"
#include "osr/chat_record.h"
#include "osr/config.h"
#include "osr/json.h"
#include "osr/log.h"

#define MAX_BODY_ANSWER ((size_t)256 * 1024 * 1024)
#define MAX_ERROR_ANSWER ((size_t)64 * 1024)
#define MAX_STORED_JSON ((size_t)64 * 1024 * 1024)
#define N_PROTOS 6

struct route_ctx {
    struct osr_chat_routes *r;
    enum osr_api_proto proto;
};

struct osr_chat_routes {
    struct osr_chat_service *svc;
    struct osr_history *history; /* or NULL */
    pthread_mutex_t hlock;       /* a history belongs to one thread at a time */
    struct route_ctx ctx[N_PROTOS];
};

/* One chat request on its way: owned by the handler, then by the producer when streaming. */
struct job {
    struct osr_chat_routes *r;
    enum osr_api_proto proto;
    struct osr_chat_request req;
    struct osr_api_encoder *enc;
    struct osr_buf body; /* the buffered answer */
    char *input_json;    /* Responses: this turn's input items, for storage */
};

static bool openai_like(enum osr_api_proto p)
{
    return p == OSR_API_OPENAI_CHAT || p == OSR_API_RESPONSES || p == OSR_API_OPENAI_COMPLETIONS;
}

static void reply_error(struct osr_http_request *hr, enum osr_api_proto proto,
                        const struct osr_api_error *err)
{
    struct osr_buf b;
    osr_buf_init(&b, MAX_ERROR_ANSWER);
    osr_api_error_body(proto, err, &b);
    osr_http_respond(hr, err->status, OSR_API_JSON_CONTENT_TYPE, osr_buf_str(&b), b.len);
    osr_buf_release(&b);
}

static void not_found(struct osr_http_request *hr, enum osr_api_proto proto, const char *model)
{
    struct osr_api_error err;
    memset(&err, 0, sizeof(err));
    osr_api_error_set(&err, 404, "model", "model '%s' not found", model ? model : "");
    if (openai_like(proto))
        snprintf(err.code, sizeof(err.code), "model_not_found");
    reply_error(hr, proto, &err);
}

static void job_free(void *p)
{
    struct job *job = p;
    if (!job)
        return;
    osr_api_encoder_free(job->enc);
    osr_chat_request_release(&job->req);
    osr_buf_release(&job->body);
    free(job->input_json);
    free(job);
}

/* ---------------------------------------------------------------- stored responses */

static void append_items(struct json_object *dst, const char *json)
{
    struct json_object *a = NULL;
    if (!json || osr_json_parse(json, strlen(json), &a, NULL) != OSR_OK)
        return;
    if (a && json_object_is_type(a, json_type_array))
        for (size_t i = 0; i < json_object_array_length(a); i++)
            json_object_array_add(dst, json_object_get(json_object_array_get_idx(a, i)));
    json_object_put(a);
}

/* Normalizes the Responses body's input to a list of items (kept in *input_json for storage)
 * and puts the previous_response_id chain in front of it.  Returns OSR_OK with the new body
 * in out (empty when the original body should be decoded as it is), or an error in err. */
static int prepare_responses(struct osr_chat_routes *r, struct osr_str body, struct osr_buf *out,
                             char **input_json, struct osr_api_error *err)
{
    struct json_object *root = NULL;
    if (osr_json_parse(body.p, body.n, &root, NULL) != OSR_OK || !root ||
        !json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        return OSR_OK; /* the decoder names what is wrong */
    }
    int rc = OSR_OK;
    struct json_object *input = NULL, *items = json_object_new_array();
    json_object_object_get_ex(root, "input", &input);
    if (input && json_object_is_type(input, json_type_string)) {
        struct json_object *m = json_object_new_object();
        json_object_object_add(m, "type", json_object_new_string("message"));
        json_object_object_add(m, "role", json_object_new_string("user"));
        json_object_object_add(m, "content", json_object_get(input));
        json_object_array_add(items, m);
    } else if (input && json_object_is_type(input, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(input); i++)
            json_object_array_add(items, json_object_get(json_object_array_get_idx(input, i)));
    } else {
        goto out; /* missing or malformed input: the decoder answers */
    }
    struct osr_buf tmp;
    osr_buf_init(&tmp, MAX_STORED_JSON);
    if (osr_json_append(&tmp, items) == OSR_OK)
        *input_json = osr_buf_detach(&tmp, NULL);
    osr_buf_release(&tmp);

    struct json_object *prev = NULL;
    json_object_object_get_ex(root, "previous_response_id", &prev);
    if (!prev || !json_object_is_type(prev, json_type_string))
        goto out;
    const char *prev_id = json_object_get_string(prev);
    if (!r->history) {
        osr_api_error_set(err, 400, "previous_response_id",
                          "previous_response_id needs the chat history, which is not available");
        rc = OSR_EUNSUPPORTED;
        goto out;
    }
    struct osr_history_response *chain = NULL;
    size_t n = 0;
    struct osr_diag d;
    osr_diag_clear(&d);
    pthread_mutex_lock(&r->hlock);
    int hrc = osr_history_response_chain(r->history, prev_id, &chain, &n, &d);
    pthread_mutex_unlock(&r->hlock);
    if (hrc) {
        /* OpenAI answers an unknown previous response with a 400 naming the field. */
        if (hrc == OSR_ENOTFOUND)
            osr_api_error_set(err, 400, "previous_response_id",
                              "previous response with id '%s' not found", prev_id);
        else
            osr_api_error_set(err, 400, "previous_response_id", "%s", d.msg);
        rc = hrc;
        goto out;
    }
    struct json_object *all = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        append_items(all, chain[i].input);
        append_items(all, chain[i].output);
    }
    osr_history_responses_free(chain, n);
    for (size_t i = 0; i < json_object_array_length(items); i++)
        json_object_array_add(all, json_object_get(json_object_array_get_idx(items, i)));
    json_object_object_add(root, "input", all);
    if (osr_json_append(out, root) != OSR_OK) {
        osr_api_error_set(err, 413, "previous_response_id",
                          "the chained conversation is too large");
        rc = OSR_ETOOBIG;
    }
out:
    json_object_put(items);
    json_object_put(root);
    return rc;
}

/* Stores a completed response; body is its final Response object. */
static void store_response(struct job *job, const char *body, size_t n)
{
    struct osr_chat_routes *r = job->r;
    if (!r->history || job->req.x.store == 0 || !job->input_json)
        return;
    struct json_object *root = NULL, *output = NULL;
    if (osr_json_parse(body, n, &root, NULL) != OSR_OK ||
        !json_object_object_get_ex(root, "output", &output)) {
        json_object_put(root);
        return;
    }
    struct osr_buf out;
    osr_buf_init(&out, MAX_STORED_JSON);
    if (osr_json_append(&out, output) == OSR_OK) {
        struct osr_history_response hr = {
            .id = (char *)osr_api_encoder_id(job->enc),
            .previous_id = (char *)job->req.x.previous_response_id,
            .session_id = (char *)job->req.session_id,
            .model = (char *)job->req.model,
            .input = job->input_json,
            .output = (char *)osr_buf_str(&out),
        };
        struct osr_diag d;
        osr_diag_clear(&d);
        pthread_mutex_lock(&r->hlock);
        int rc = osr_history_response_put(r->history, &hr, &d);
        pthread_mutex_unlock(&r->hlock);
        if (rc)
            OSR_WARN("cannot store response %s: %s", hr.id, d.msg);
    }
    osr_buf_release(&out);
    json_object_put(root);
}

/* ---------------------------------------------------------------- running a job */

/* A sink that hands every event to the primary sink and to a second, non-streaming encoder
 * (for Responses, whose final object is stored). */
struct tee {
    struct osr_sink sink;
    struct osr_sink *primary;
    struct osr_api_encoder *shadow;
    struct osr_buf out;
};

static int tee_emit(struct osr_sink *s, const struct osr_event *ev)
{
    struct tee *t = s->ctx;
    int rc = osr_sink_emit(t->primary, ev);
    osr_api_encoder_event(t->shadow, ev, &t->out);
    return rc;
}

static void run(struct job *job, struct osr_sink *sink, const struct osr_chat_cancel *cancel)
{
    struct osr_chat_recorder rec;
    osr_chat_record_init(&rec, sink);
    int rc = osr_chat_service_chat(job->r->svc, &job->req, &rec.sink, cancel);
    if (rc == OSR_ENOTFOUND) {
        char msg[512];
        snprintf(msg, sizeof(msg), "model '%s' not found", job->req.model);
        osr_sink_error(sink, 404, msg);
    } else if (rc == OSR_OK && job->r->history) {
        struct osr_diag d;
        osr_diag_clear(&d);
        pthread_mutex_lock(&job->r->hlock);
        if (osr_chat_record_save(&rec, job->r->history, &job->req, &d) != OSR_OK)
            OSR_WARN("chat history: the request was answered but not recorded: %s", d.msg);
        pthread_mutex_unlock(&job->r->hlock);
    }
    osr_chat_record_release(&rec);
}

static int flush_body(void *ctx, const char *p, size_t n)
{
    struct job *job = ctx;
    return osr_buf_append(&job->body, p, n) == OSR_OK ? 0 : 1;
}

static int flush_stream(void *ctx, const char *p, size_t n)
{
    return osr_http_stream_write(ctx, p, n) == OSR_OK ? 0 : 1;
}

/* What the server sends last when it ends a stream itself (shutdown). */
static const char *terminator(enum osr_api_proto proto)
{
    switch (proto) {
    case OSR_API_OPENAI_CHAT:
    case OSR_API_OPENAI_COMPLETIONS:
        return "data: {\"error\":{\"message\":\"the server is shutting down\",\"type\":"
               "\"service_unavailable\",\"param\":null,\"code\":null}}\n\ndata: [DONE]\n\n";
    case OSR_API_ANTHROPIC:
        return "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
               "\"message\":\"the server is shutting down\"}}\n\n";
    case OSR_API_RESPONSES:
        return "event: error\ndata: {\"type\":\"error\",\"code\":\"server_shutdown\",\"message\":"
               "\"the server is shutting down\",\"param\":null}\n\n";
    case OSR_API_OLLAMA_CHAT:
    case OSR_API_OLLAMA_GENERATE:
        return "{\"error\":\"the server is shutting down\"}\n";
    }
    return "";
}

static bool stream_gone(void *ctx)
{
    return osr_http_stream_cancelled(ctx);
}

static void produce(struct osr_http_stream *s, void *ctx)
{
    struct job *job = ctx;
    osr_http_stream_set_terminator(s, terminator(job->proto));
    struct osr_api_stream_sink ss;
    osr_api_stream_sink_init(&ss, job->enc, flush_stream, s);
    struct tee tee = {0};
    struct osr_sink *sink = &ss.sink;
    if (job->proto == OSR_API_RESPONSES && job->r->history && job->req.x.store != 0) {
        struct osr_api_encode_opts o = {.model = job->req.model, .stream = false, .req = &job->req};
        tee.shadow = osr_api_encoder_new(OSR_API_RESPONSES, &o);
        tee.primary = &ss.sink;
        tee.sink.emit = tee_emit;
        tee.sink.ctx = &tee;
        osr_buf_init(&tee.out, MAX_BODY_ANSWER);
        sink = &tee.sink;
    }
    struct osr_chat_cancel cancel = {.fn = stream_gone, .ctx = s};
    run(job, sink, &cancel);
    int rc = osr_api_stream_sink_end(&ss);
    if (tee.shadow) {
        if (rc == OSR_OK && !osr_api_encoder_error(job->enc, NULL) &&
            osr_api_encoder_end(tee.shadow, &tee.out) == OSR_OK)
            store_response(job, osr_buf_str(&tee.out), tee.out.len);
        osr_api_encoder_free(tee.shadow);
        osr_buf_release(&tee.out);
    }
    osr_api_stream_sink_release(&ss);
}

static bool accepts_sse(struct osr_http_request *hr)
{
    const char *a = osr_http_request_header(hr, "Accept");
    return a && strstr(a, "text/event-stream") != NULL;
}

static void handle_chat(struct osr_http_request *hr, void *ctx)
{
    struct route_ctx *rc_ = ctx;
    struct osr_chat_routes *r = rc_->r;
    enum osr_api_proto proto = rc_->proto;
    struct job *job = osr_xcalloc(1, sizeof(*job));
    job->r = r;
    job->proto = proto;
    osr_chat_request_init(&job->req, OSR_CHAT_ARENA_MAX);
    osr_buf_init(&job->body, MAX_BODY_ANSWER);
    struct osr_api_error err;
    memset(&err, 0, sizeof(err));
    struct osr_str body = osr_http_request_body(hr);
    struct osr_buf chained;
    osr_buf_init(&chained, MAX_BODY_ANSWER);

    if (proto == OSR_API_RESPONSES) {
        if (prepare_responses(r, body, &chained, &job->input_json, &err)) {
            reply_error(hr, proto, &err);
            goto out;
        }
        if (chained.len)
            body = osr_str_make(osr_buf_str(&chained), chained.len);
    }
    if (osr_api_decode(proto, &job->req, body.p, body.n, &err)) {
        reply_error(hr, proto, &err);
        goto out;
    }
    if (proto == OSR_API_OPENAI_CHAT && accepts_sse(hr))
        job->req.stream = true;
    struct osr_chat_backend *backend;
    if (osr_chat_service_resolve(r->svc, job->req.model, &backend, NULL) != OSR_OK) {
        not_found(hr, proto, job->req.model);
        goto out;
    }
    struct osr_api_encode_opts o = {
        .model = job->req.model,
        .stream = job->req.stream,
        .include_usage = job->req.include_usage,
        .req = &job->req,
    };
    job->enc = osr_api_encoder_new(proto, &o);
    if (job->req.stream) {
        osr_http_add_header(hr, "Cache-Control", "no-cache");
        osr_http_add_header(hr, "X-Accel-Buffering", "no");
        const char *ct = osr_api_encoder_content_type(job->enc);
        struct job *owned = job;
        job = NULL; /* the server owns it now, even when this fails */
        osr_http_respond_stream(hr, 200, ct, produce, owned, job_free);
        goto out;
    }
    struct osr_api_stream_sink ss;
    osr_api_stream_sink_init(&ss, job->enc, flush_body, job);
    run(job, &ss.sink, NULL);
    int rc = osr_api_stream_sink_end(&ss);
    osr_api_stream_sink_release(&ss);
    int status = osr_api_encoder_status(job->enc);
    if (rc == OSR_OK && status == 200 && proto == OSR_API_RESPONSES)
        store_response(job, osr_buf_str(&job->body), job->body.len);
    if (rc && job->body.len == 0) {
        osr_api_error_set(&err, 500, NULL, "the answer could not be encoded");
        reply_error(hr, proto, &err);
        goto out;
    }
    osr_http_respond(hr, status, osr_api_encoder_content_type(job->enc), osr_buf_str(&job->body),
                     job->body.len);
out:
    osr_buf_release(&chained);
    job_free(job);
}

/* ---------------------------------------------------------------- count_tokens */

static void handle_count_tokens(struct osr_http_request *hr, void *ctx)
{
    struct route_ctx *rc_ = ctx;
    struct osr_chat_request req;
    osr_chat_request_init(&req, OSR_CHAT_ARENA_MAX);
    struct osr_api_error err;
    memset(&err, 0, sizeof(err));
    struct osr_str body = osr_http_request_body(hr);
    struct osr_chat_backend *b;
    const char *local = NULL;
    if (osr_anthropic_decode_count_tokens(&req, body.p, body.n, &err)) {
        reply_error(hr, OSR_API_ANTHROPIC, &err);
    } else if (osr_chat_service_resolve(rc_->r->svc, req.model, &b, &local) != OSR_OK) {
        not_found(hr, OSR_API_ANTHROPIC, req.model);
    } else {
        /* Exact when the backend has the tokenizer (the local engine), else an estimate. */
        int64_t n = -1;
        struct osr_diag d;
        osr_diag_clear(&d);
        if (!b->ops->count_tokens || b->ops->count_tokens(b, local, &req, &n, &d) != OSR_OK)
            n = osr_api_estimate_tokens(&req);
        struct osr_buf out;
        osr_buf_init(&out, 4096);
        osr_anthropic_count_tokens_body(n, &out);
        osr_http_respond(hr, 200, OSR_API_JSON_CONTENT_TYPE, osr_buf_str(&out), out.len);
        osr_buf_release(&out);
    }
    osr_chat_request_release(&req);
}

/* ---------------------------------------------------------------- embeddings */

static bool raw_path_is_ollama(struct osr_http_request *hr)
{
    const char *p = osr_http_request_raw_path(hr);
    return p && (strncmp(p, "/api/", 5) == 0 || strncmp(p, "/v1/api/", 8) == 0);
}

static void handle_embed(struct osr_http_request *hr, void *ctx)
{
    struct route_ctx *rc_ = ctx;
    /* /embed is Ollama's; /embeddings is OpenAI's unless the client asked for /api/embeddings
     * (the path normalization maps both to /embeddings). */
    enum osr_embed_api api = OSR_EMBED_OPENAI;
    if (strcmp(osr_http_request_path(hr), "/embed") == 0)
        api = OSR_EMBED_OLLAMA;
    else if (raw_path_is_ollama(hr))
        api = OSR_EMBED_OLLAMA_LEGACY;
    enum osr_api_proto eproto = osr_embed_error_proto(api);
    struct osr_embed_request req;
    osr_embed_request_init(&req);
    struct osr_api_error err;
    memset(&err, 0, sizeof(err));
    struct osr_embeddings vec = {0};
    struct osr_buf out;
    osr_buf_init(&out, MAX_BODY_ANSWER);
    struct osr_str body = osr_http_request_body(hr);
    if (osr_embed_decode(api, &req, body.p, body.n, &err)) {
        reply_error(hr, eproto, &err);
        goto out;
    }
    struct osr_chat_backend *b;
    if (osr_chat_service_resolve(rc_->r->svc, req.model, &b, NULL) != OSR_OK) {
        not_found(hr, eproto, req.model);
        goto out;
    }
    int status = 500;
    struct osr_diag d;
    osr_diag_clear(&d);
    if (osr_chat_service_embed(rc_->r->svc, req.model, req.inputs, req.n_inputs, &vec, &status,
                               &d)) {
        osr_api_error_set(&err, status, NULL, "%s", d.msg);
        reply_error(hr, eproto, &err);
        goto out;
    }
    int64_t tokens = vec.prompt_tokens;
    if (tokens < 0) {
        size_t bytes = 0;
        for (size_t i = 0; i < req.n_inputs; i++)
            bytes += req.inputs[i].n;
        tokens = (int64_t)((bytes + 3) / 4);
    }
    if (osr_embed_encode(&req, vec.data, vec.n, vec.dim, tokens, NULL, &out)) {
        osr_api_error_set(&err, 502, NULL, "the embeddings could not be encoded");
        reply_error(hr, eproto, &err);
        goto out;
    }
    osr_http_respond(hr, 200, OSR_API_JSON_CONTENT_TYPE, osr_buf_str(&out), out.len);
out:
    free(vec.data);
    osr_buf_release(&out);
    osr_embed_request_release(&req);
}

static void handle_version(struct osr_http_request *hr, void *ctx)
{
    (void)ctx;
    static const char body[] = "{\"version\":\"" OSR_VERSION "\"}";
    osr_http_respond(hr, 200, OSR_API_JSON_CONTENT_TYPE, body, sizeof(body) - 1);
}

/* ---------------------------------------------------------------- registration */

struct osr_chat_routes *osr_chat_routes_new(struct osr_chat_service *svc,
                                            struct osr_history *history)
{
    struct osr_chat_routes *r = osr_xcalloc(1, sizeof(*r));
    r->svc = svc;
    r->history = history;
    pthread_mutex_init(&r->hlock, NULL);
    for (int i = 0; i < N_PROTOS; i++) {
        r->ctx[i].r = r;
        r->ctx[i].proto = (enum osr_api_proto)i;
    }
    return r;
}

void osr_chat_routes_free(struct osr_chat_routes *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->hlock);
    free(r);
}

void osr_chat_routes_register(struct osr_http_server *srv, struct osr_chat_routes *r)
{
    const struct osr_route routes[] = {
        {"POST", "/chat/completions", handle_chat, OSR_AUTH_GATED, &r->ctx[OSR_API_OPENAI_CHAT], 0},
        {"POST", "/messages", handle_chat, OSR_AUTH_GATED, &r->ctx[OSR_API_ANTHROPIC], 0,
         OSR_ERRORS_ANTHROPIC},
        {"POST", "/messages/count_tokens", handle_count_tokens, OSR_AUTH_GATED,
         &r->ctx[OSR_API_ANTHROPIC], 0, OSR_ERRORS_ANTHROPIC},
        {"POST", "/responses", handle_chat, OSR_AUTH_GATED, &r->ctx[OSR_API_RESPONSES], 0},
        {"POST", "/chat", handle_chat, OSR_AUTH_GATED, &r->ctx[OSR_API_OLLAMA_CHAT], 0,
         OSR_ERRORS_OLLAMA},
        {"POST", "/generate", handle_chat, OSR_AUTH_GATED, &r->ctx[OSR_API_OLLAMA_GENERATE], 0,
         OSR_ERRORS_OLLAMA},
        {"POST", "/completions", handle_chat, OSR_AUTH_GATED, &r->ctx[OSR_API_OPENAI_COMPLETIONS],
         0},
        {"POST", "/embeddings", handle_embed, OSR_AUTH_GATED, &r->ctx[0], 0},
        {"POST", "/embed", handle_embed, OSR_AUTH_GATED, &r->ctx[0], 0, OSR_ERRORS_OLLAMA},
        {"GET", "/version", handle_version, OSR_AUTH_GATED, NULL, 0, OSR_ERRORS_OLLAMA},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        osr_http_server_add_route(srv, &routes[i]);
}

int osr_chat_routes_with_history(struct osr_chat_routes *r,
                                 int (*fn)(struct osr_history *h, void *ctx), void *ctx)
{
    if (!r || !r->history)
        return OSR_ENOTFOUND;
    pthread_mutex_lock(&r->hlock);
    int rc = fn(r->history, ctx);
    pthread_mutex_unlock(&r->hlock);
    return rc;
}
