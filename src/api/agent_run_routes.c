/* agent_run_routes.c - POST /agents/{id}/run, POST /agents/{id}/dispatch and the /tasks
 * routes (api_agent_run.h).
 *
 * /run decodes the body with the OpenAI Chat decoder (after putting the agent's default model
 * in when the body names none), then runs osr_agent_run with a sink that splits the events:
 * text, usage and the finish go through the ordinary OpenAI encoder, so a plain OpenAI client
 * reads an ordinary completion; the tool and artifact events become the original's extension
 * chunks, written between the encoder's frames.  Streaming runs on the server's producer thread
 * and stops when the client goes away (the loop's cancel callback asks the stream).
 *
 * Not here: the loop (src/agent/loop.c), tasks (src/agent/tasks.c), the agents CRUD routes.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osr/agent_loop.h"
#include "osr/alloc.h"
#include "osr/api.h"
#include "osr/api_agent_run.h"
#include "osr/api_openai_chat.h"
#include "osr/clock.h"
#include "osr/json.h"
#include "osr/log.h"

#define MAX_BODY_ANSWER ((size_t)64 * 1024 * 1024)
#define MAX_ERROR_ANSWER ((size_t)64 * 1024)
#define ARGS_SHOWN 8000
#define RESULT_SHOWN 16000

static void reply_error(struct osr_http_request *hr, int status, const char *type,
                        const char *code, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void reply_error(struct osr_http_request *hr, int status, const char *type,
                        const char *code, const char *param, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    osr_http_respond_error(hr, status, type, msg, param, code);
}

/* Running agents is for callers on this machine until the secure channel exists. */
static bool refuse_remote(struct osr_http_request *hr)
{
    if (osr_http_request_is_loopback(hr) && !osr_http_request_header(hr, "X-Osaurus-Relay"))
        return false;
    reply_error(hr, 426, "upgrade_required", "secure_channel_required", NULL,
                "running an agent from another machine needs the secure channel");
    return true;
}

static struct json_object *load_agent(struct osr_api_agent_run *ctx, struct osr_http_request *hr)
{
    const char *id = osr_http_request_param(hr, "id");
    struct json_object *agent = NULL;
    struct osr_diag d;
    osr_diag_clear(&d);
    if (osr_agents_get(ctx->agents, id, &agent, &d) != OSR_OK) {
        reply_error(hr, 404, "not_found_error", "agent_not_found", NULL, "agent '%s' not found",
                    id ? id : "");
        return NULL;
    }
    return agent;
}

static struct json_object *parse_body(struct osr_http_request *hr)
{
    struct osr_str body = osr_http_request_body(hr);
    struct json_object *o = NULL;
    struct osr_diag d;
    osr_diag_clear(&d);
    if (osr_json_parse(body.p, body.n, &o, &d) != OSR_OK || !o ||
        !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        reply_error(hr, 400, "invalid_request_error", NULL, NULL,
                    "the body must be a JSON object: %s", d.msg[0] ? d.msg : "not an object");
        return NULL;
    }
    return o;
}

/* What /run and /dispatch do first: a local caller, a known agent, a JSON object body.  Returns
 * false when it has answered the request itself (nothing to release then). */
static bool begin(struct osr_api_agent_run *ctx, struct osr_http_request *hr,
                  struct json_object **agent, struct json_object **body)
{
    *agent = *body = NULL;
    if (refuse_remote(hr) || !(*agent = load_agent(ctx, hr)))
        return false;
    if (!(*body = parse_body(hr))) {
        json_object_put(*agent);
        *agent = NULL;
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- extension chunks */

static bool secret_key(const char *k)
{
    static const char *const words[] = {"password", "passwd", "secret", "token", "api_key",
                                        "apikey", "api-key", "authorization", "private_key",
                                        "credential"};
    char low[64];
    size_t n = 0;
    for (; k[n] && n + 1 < sizeof(low); n++)
        low[n] = (char)tolower((unsigned char)k[n]);
    low[n] = '\0';
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strstr(low, words[i]))
            return true;
    return false;
}

static void scrub(struct json_object *o, int depth)
{
    if (depth > 32)
        return;
    if (json_object_is_type(o, json_type_object)) {
        json_object_object_foreach(o, k, v)
        {
            if (secret_key(k) && !json_object_is_type(v, json_type_object) &&
                !json_object_is_type(v, json_type_array))
                json_object_object_add(o, k, json_object_new_string("[redacted]"));
            else
                scrub(v, depth + 1);
        }
    } else if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++)
            scrub(json_object_array_get_idx(o, i), depth + 1);
    }
}

/* The longest prefix of s[0..n) no longer than max that does not split a UTF-8 character. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    size_t k = max;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    return k;
}

char *osr_api_agent_scrub_args(const char *json, size_t n, size_t max)
{
    struct json_object *o = NULL;
    const char *text = json;
    size_t len = n;
    if (osr_json_parse(json, n, &o, NULL) == OSR_OK && o) {
        scrub(o, 0);
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        len = strlen(text);
    }
    char *out = osr_xstrndup(text, utf8_cut(text, len, max));
    json_object_put(o);
    return out;
}

static const char *tool_category(const char *name)
{
    if (strcmp(name, "file_search") == 0)
        return "search";
    if (strncmp(name, "file_", 5) == 0 || strcmp(name, "share_artifact") == 0)
        return "file";
    if (strcmp(name, "shell_run") == 0)
        return "terminal";
    if (strncmp(name, "git_", 4) == 0)
        return "code";
    return "general";
}

static int chunk_head(struct osr_buf *out, const char *id, const char *model, int64_t created)
{
    int rc = osr_buf_puts(out, "data: {\"id\":");
    rc = rc ? rc : osr_json_append_string(out, id, strlen(id));
    rc = rc ? rc
            : osr_buf_appendf(out, ",\"object\":\"chat.completion.chunk\",\"created\":%lld,"
                                   "\"model\":",
                              (long long)created);
    rc = rc ? rc : osr_json_append_string(out, model, strlen(model));
    return rc ? rc : osr_buf_puts(out, ",\"choices\":[],");
}

int osr_api_agent_tool_chunk(struct osr_buf *out, const char *id, const char *model,
                             int64_t created, const struct osr_event *ev)
{
    bool done = ev->kind == OSR_EV_TOOL_DONE;
    char name[OSR_TOOL_NAME_MAX + 1];
    snprintf(name, sizeof(name), "%.*s", (int)ev->name.n, ev->name.p ? ev->name.p : "");
    int rc = chunk_head(out, id, model, created);
    rc = rc ? rc : osr_buf_puts(out, "\"osaurus_agent_tool\":{\"phase\":");
    rc = rc ? rc : osr_buf_puts(out, done ? "\"completed\"" : "\"started\"");
    rc = rc ? rc : osr_buf_puts(out, ",\"name\":");
    rc = rc ? rc : osr_json_append_string(out, name, strlen(name));
    rc = rc ? rc : osr_buf_puts(out, ",\"call_id\":");
    rc = rc ? rc : osr_json_append_string(out, ev->id.p ? ev->id.p : "", ev->id.n);
    rc = rc ? rc : osr_buf_puts(out, ",\"category\":");
    rc = rc ? rc : osr_json_append_string(out, tool_category(name), strlen(tool_category(name)));
    if (!done) {
        char *args = osr_api_agent_scrub_args(ev->text.p ? ev->text.p : "", ev->text.n, ARGS_SHOWN);
        rc = rc ? rc : osr_buf_puts(out, ",\"arguments\":");
        rc = rc ? rc : osr_json_append_string(out, args, strlen(args));
        free(args);
    } else {
        size_t cut = utf8_cut(ev->text.p ? ev->text.p : "", ev->text.n, RESULT_SHOWN);
        rc = rc ? rc : osr_buf_puts(out, ",\"result\":");
        rc = rc ? rc : osr_json_append_string(out, ev->text.p ? ev->text.p : "", cut);
        rc = rc ? rc
                : osr_buf_appendf(out,
                                  ",\"result_truncated\":%s,\"is_error\":%s,\"duration_ms\":%lld",
                                  cut < ev->text.n ? "true" : "false",
                                  ev->is_error ? "true" : "false", (long long)ev->duration_ms);
        if (!ev->is_error && (strcmp(name, "complete") == 0 || strcmp(name, "clarify") == 0))
            rc = rc ? rc : osr_buf_puts(out, ",\"end_run\":true");
    }
    return rc ? rc : osr_buf_puts(out, "}}\n\n");
}

static int artifact_chunk(struct osr_buf *out, const char *id, const char *model, int64_t created,
                          const struct osr_event *ev)
{
    int rc = chunk_head(out, id, model, created);
    rc = rc ? rc : osr_buf_puts(out, "\"osaurus_artifacts\":[{\"filename\":");
    rc = rc ? rc : osr_json_append_string(out, ev->name.p ? ev->name.p : "", ev->name.n);
    rc = rc ? rc : osr_buf_puts(out, ",\"path\":");
    rc = rc ? rc : osr_json_append_string(out, ev->id.p ? ev->id.p : "", ev->id.n);
    rc = rc ? rc : osr_buf_puts(out, ",\"description\":");
    rc = rc ? rc : osr_json_append_string(out, ev->text.p ? ev->text.p : "", ev->text.n);
    return rc ? rc : osr_buf_puts(out, "}]}\n\n");
}

/* ---------------------------------------------------------------- /run */

struct run_job {
    struct osr_api_agent_run *ctx;
    struct json_object *agent;
    struct osr_chat_request req;
    struct osr_api_encoder *enc;
    struct osr_buf body;
    int64_t created;
};

static void run_job_free(void *p)
{
    struct run_job *job = p;
    if (!job)
        return;
    osr_api_encoder_free(job->enc);
    osr_chat_request_release(&job->req);
    osr_buf_release(&job->body);
    json_object_put(job->agent);
    free(job);
}

/* Splits events: extension events become chunks written by flush, the rest go to the encoder's
 * stream sink. */
struct split_sink {
    struct osr_sink sink;
    struct osr_api_stream_sink *ss;
    struct run_job *job;
    bool stream;
    int (*flush)(void *ctx, const char *p, size_t n);
    void *flush_ctx;
};

static int split_emit(struct osr_sink *s, const struct osr_event *ev)
{
    struct split_sink *sp = s->ctx;
    if (ev->kind != OSR_EV_TOOL_STARTED && ev->kind != OSR_EV_TOOL_DONE &&
        ev->kind != OSR_EV_ARTIFACT)
        return osr_sink_emit(&sp->ss->sink, ev);
    if (!sp->stream)
        return 0; /* a buffered answer is one plain chat.completion */
    struct osr_buf b;
    osr_buf_init(&b, (size_t)RESULT_SHOWN * 8 + ARGS_SHOWN * 8 + 4096);
    const char *id = osr_api_encoder_id(sp->job->enc);
    int rc = ev->kind == OSR_EV_ARTIFACT
                 ? artifact_chunk(&b, id, sp->job->req.model, sp->job->created, ev)
                 : osr_api_agent_tool_chunk(&b, id, sp->job->req.model, sp->job->created, ev);
    int gone = rc ? 0 : sp->flush(sp->flush_ctx, b.data, b.len);
    osr_buf_release(&b);
    return gone;
}

static int flush_stream(void *ctx, const char *p, size_t n)
{
    return osr_http_stream_write(ctx, p, n) == OSR_OK ? 0 : 1;
}

static int flush_body(void *ctx, const char *p, size_t n)
{
    struct run_job *job = ctx;
    return osr_buf_append(&job->body, p, n) == OSR_OK ? 0 : 1;
}

static bool stream_gone(void *ctx)
{
    return osr_http_stream_cancelled(ctx);
}

/* Runs the loop for job with frames going to flush.  Returns what the stream sink ended
 * with. */
static int run_loop(struct run_job *job, bool stream, int (*flush)(void *, const char *, size_t),
                    void *flush_ctx, const struct osr_chat_cancel *cancel)
{
    struct osr_api_stream_sink ss;
    osr_api_stream_sink_init(&ss, job->enc, flush, flush_ctx);
    struct split_sink sp = {.sink = {.emit = split_emit},
                            .ss = &ss,
                            .job = job,
                            .stream = stream,
                            .flush = flush,
                            .flush_ctx = flush_ctx};
    sp.sink.ctx = &sp;
    struct osr_agent_run_opts o = {
        .svc = job->ctx->svc,
        .tools = job->ctx->tools,
        .home = job->ctx->home,
        .agent = job->agent,
        .model = job->req.model,
        .session_id = job->req.session_id,
        .cancel = cancel,
        .record = job->ctx->record,
        .record_ctx = job->ctx->record_ctx,
    };
    struct osr_agent_result res;
    int rc = osr_agent_run(&o, &job->req, &sp.sink, &res);
    if (rc == OSR_ENOTFOUND) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", res.error ? res.error : "the model is not available");
        osr_sink_error(&ss.sink, 404, msg);
    }
    OSR_INFO("agent run: %s after %d iteration(s), %d tool call(s)",
             osr_agent_status_name(res.status), res.iterations, res.tool_calls);
    osr_agent_result_release(&res);
    int end = osr_api_stream_sink_end(&ss);
    osr_api_stream_sink_release(&ss);
    return end;
}

static void produce_run(struct osr_http_stream *s, void *p)
{
    struct run_job *job = p;
    osr_http_stream_set_terminator(
        s, "data: {\"error\":{\"message\":\"the server is shutting down\",\"type\":"
           "\"service_unavailable\",\"param\":null,\"code\":null}}\n\ndata: [DONE]\n\n");
    struct osr_chat_cancel cancel = {.fn = stream_gone, .ctx = s};
    run_loop(job, true, flush_stream, s, &cancel);
}

static void handle_run(struct osr_http_request *hr, void *p)
{
    struct osr_api_agent_run *ctx = p;
    struct json_object *agent, *body;
    if (!begin(ctx, hr, &agent, &body))
        return;
    struct run_job *job = osr_xcalloc(1, sizeof(*job));
    job->ctx = ctx;
    job->agent = agent;
    job->created = osr_wall_ms() / 1000;
    osr_chat_request_init(&job->req, OSR_CHAT_ARENA_MAX);
    osr_buf_init(&job->body, MAX_BODY_ANSWER);
    struct json_object *model = NULL;
    if (!json_object_object_get_ex(body, "model", &model) || json_object_is_type(model, json_type_null) ||
        (json_object_is_type(model, json_type_string) && json_object_get_string_len(model) == 0)) {
        struct osr_agent_run_opts probe = {.agent = agent};
        const char *dm = osr_agent_model(&probe);
        if (!dm) {
            reply_error(hr, 400, "invalid_request_error", NULL, "model",
                        "model is required: the agent has no default model");
            goto out;
        }
        json_object_object_add(body, "model", json_object_new_string(dm));
    }
    const char *text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
    struct osr_api_error err;
    memset(&err, 0, sizeof(err));
    if (osr_openai_chat_decode(&job->req, text, strlen(text), &err)) {
        struct osr_buf b;
        osr_buf_init(&b, MAX_ERROR_ANSWER);
        osr_api_error_body(OSR_API_OPENAI_CHAT, &err, &b);
        osr_http_respond(hr, err.status, OSR_API_JSON_CONTENT_TYPE, osr_buf_str(&b), b.len);
        osr_buf_release(&b);
        goto out;
    }
    struct osr_chat_backend *backend;
    if (osr_chat_service_resolve(ctx->svc, job->req.model, &backend, NULL) != OSR_OK) {
        reply_error(hr, 404, "invalid_request_error", "model_not_found", "model",
                    "model '%s' not found", job->req.model);
        goto out;
    }
    struct osr_api_encode_opts o = {
        .model = job->req.model,
        .stream = job->req.stream,
        .include_usage = job->req.include_usage,
        .req = &job->req,
    };
    job->enc = osr_api_encoder_new(OSR_API_OPENAI_CHAT, &o);
    if (job->req.stream) {
        osr_http_add_header(hr, "Cache-Control", "no-cache");
        osr_http_add_header(hr, "X-Accel-Buffering", "no");
        const char *ct = osr_api_encoder_content_type(job->enc);
        struct run_job *owned = job;
        job = NULL;
        osr_http_respond_stream(hr, 200, ct, produce_run, owned, run_job_free);
        goto out;
    }
    int rc = run_loop(job, false, flush_body, job, NULL);
    int status = osr_api_encoder_status(job->enc);
    if (rc && job->body.len == 0)
        reply_error(hr, 500, "api_error", NULL, NULL, "the answer could not be encoded");
    else
        osr_http_respond(hr, status, osr_api_encoder_content_type(job->enc),
                         osr_buf_str(&job->body), job->body.len);
out:
    json_object_put(body);
    run_job_free(job);
}

/* ---------------------------------------------------------------- dispatch and tasks */

static void handle_dispatch(struct osr_http_request *hr, void *p)
{
    struct osr_api_agent_run *ctx = p;
    struct json_object *agent, *body;
    if (!begin(ctx, hr, &agent, &body))
        return;
    struct osr_task_spec spec = {.agent = agent, .agent_id = osr_http_request_param(hr, "id")};
    struct osr_diag d;
    osr_diag_clear(&d);
    int64_t max_it = 0;
    if (osr_json_get_string(body, "prompt", true, &spec.prompt, &d) ||
        osr_json_get_string(body, "title", false, &spec.title, &d) ||
        osr_json_get_string(body, "model", false, &spec.model, &d) ||
        osr_json_get_string(body, "session_id", false, &spec.session_id, &d) ||
        osr_json_get_int(body, "max_iterations", false, 1, OSR_AGENT_MAX_ITERATIONS_CAP, &max_it,
                         &d)) {
        reply_error(hr, 400, "invalid_request_error", "invalid_request", d.param, "%s", d.msg);
        goto out;
    }
    spec.max_iterations = (int)max_it;
    char id[OSR_UUID_STRLEN + 1];
    int rc = osr_tasks_dispatch(ctx->tasks, &spec, id, &d);
    if (rc == OSR_EBUSY) {
        reply_error(hr, 429, "rate_limit_error", "task_limit_reached", NULL, "%s", d.msg);
    } else if (rc == OSR_ENOTFOUND) {
        reply_error(hr, 404, "invalid_request_error", "model_not_found", "model", "%s", d.msg);
    } else if (rc == OSR_ECLOSED) {
        reply_error(hr, 503, "service_unavailable", NULL, NULL, "%s", d.msg);
    } else if (rc) {
        reply_error(hr, 400, "invalid_request_error", "invalid_request", "prompt", "%s", d.msg);
    } else {
        struct json_object *o = json_object_new_object();
        char poll[80];
        snprintf(poll, sizeof(poll), "/v1/tasks/%s", id);
        json_object_object_add(o, "id", json_object_new_string(id));
        json_object_object_add(o, "task_id", json_object_new_string(id));
        json_object_object_add(o, "status", json_object_new_string("running"));
        json_object_object_add(o, "poll_url", json_object_new_string(poll));
        osr_http_respond_json(hr, 202, o);
        json_object_put(o);
    }
out:
    json_object_put(body);
    json_object_put(agent);
}

static void task_not_found(struct osr_http_request *hr)
{
    reply_error(hr, 404, "not_found_error", "not_found", NULL, "task '%s' not found",
                osr_http_request_param(hr, "id"));
}

static void handle_task_get(struct osr_http_request *hr, void *p)
{
    struct osr_api_agent_run *ctx = p;
    struct json_object *o = NULL;
    if (osr_tasks_get(ctx->tasks, osr_http_request_param(hr, "id"), &o) != OSR_OK) {
        task_not_found(hr);
        return;
    }
    osr_http_respond_json(hr, 200, o);
    json_object_put(o);
}

static void handle_task_delete(struct osr_http_request *hr, void *p)
{
    struct osr_api_agent_run *ctx = p;
    if (osr_tasks_cancel(ctx->tasks, osr_http_request_param(hr, "id")) != OSR_OK) {
        task_not_found(hr);
        return;
    }
    osr_http_respond(hr, 204, NULL, NULL, 0);
}

static void handle_task_clarify(struct osr_http_request *hr, void *p)
{
    struct osr_api_agent_run *ctx = p;
    struct json_object *body = parse_body(hr);
    if (!body)
        return;
    const char *answer = NULL;
    struct osr_diag d;
    osr_diag_clear(&d);
    if (osr_json_get_string(body, "response", true, &answer, &d)) {
        reply_error(hr, 400, "invalid_request_error", "invalid_request", "response", "%s", d.msg);
        json_object_put(body);
        return;
    }
    int rc = osr_tasks_clarify(ctx->tasks, osr_http_request_param(hr, "id"), answer, &d);
    if (rc == OSR_ENOTFOUND) {
        task_not_found(hr);
    } else if (rc) {
        reply_error(hr, 409, "invalid_request_error", "invalid_task_state", "response", "%s",
                    d.msg);
    } else {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "status", json_object_new_string("ok"));
        osr_http_respond_json(hr, 200, o);
        json_object_put(o);
    }
    json_object_put(body);
}

void osr_api_agent_run_register(struct osr_http_server *srv, struct osr_api_agent_run *ctx)
{
    const struct osr_route routes[] = {
        {.method = "POST", .pattern = "/agents/{id}/run", .handler = handle_run},
        {.method = "POST", .pattern = "/agents/{id}/dispatch", .handler = handle_dispatch},
        {.method = "GET", .pattern = "/tasks/{id}", .handler = handle_task_get},
        {.method = "DELETE", .pattern = "/tasks/{id}", .handler = handle_task_delete},
        {.method = "POST", .pattern = "/tasks/{id}/clarify", .handler = handle_task_clarify},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        struct osr_route r = routes[i];
        r.auth = OSR_AUTH_GATED;
        r.ctx = ctx;
        osr_http_server_add_route(srv, &r);
    }
}
