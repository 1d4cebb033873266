/* loop.c - the agent loop (agent_loop.h): ask the model, run the tools it calls, feed the
 * envelopes back, repeat until complete, clarify, a plain answer, a budget or a cancel.
 *
 * One iteration is one osr_chat_service_chat call on the growing request.  A "turn" sink
 * stands between the backend and the caller's sink: it passes text and reasoning on as they
 * come and keeps the tool calls (the tools run here, so the caller never sees the model's own
 * tool-call deltas) and the finish, usage or error of the iteration.  Then the assistant's
 * message (text and calls) and one tool message per call are appended to the request, so the
 * next iteration, and a caller continuing after clarify, sees the whole conversation.
 *
 * Tools are looked up in the run's own registry first (the loop tools of loop_tools.c and,
 * with a working folder, the folder tools), then in the shared one.  A tool the agent turned
 * off in "enabledTools" is neither offered nor callable (loop tools cannot be turned off).
 *
 * Not here: HTTP (src/api/agent_run_routes.c), tasks (src/agent/tasks.c), the terminal
 * (src/app/cmd_run.c), the tools themselves.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop_internal.h"
#include "osr/alloc.h"
#include "osr/buf.h"
#include "osr/clock.h"
#include "osr/config.h"
#include "osr/folder_tools.h"
#include "osr/json.h"
#include "osr/log.h"

#define MAX_CALLS_PER_TURN 64
#define MAX_ARGS ((size_t)1024 * 1024)
#define MAX_TURN_TEXT ((size_t)8 * 1024 * 1024)
#define MAX_ENVELOPE ((size_t)4 * 1024 * 1024)
#define MAX_PROMPT ((size_t)256 * 1024)

static const char *const loop_tool_names[] = {"todo", "complete", "clarify", "share_artifact"};

static const char loop_guidance[] =
    "You work as an agent: you have tools, and you use them to carry out the task yourself. "
    "For work with several steps, first write a plan with the `todo` tool and update it as "
    "steps are done. Call tools to read, change and check things; you may call several tools "
    "in one turn, and they run in the order you give. A tool answers with a JSON envelope: "
    "\"ok\":true with a result, or \"ok\":false with the kind of error and a message; fix the "
    "problem and try again when it is retryable. When the task is done, call `complete` with "
    "a summary of what you did and how you checked it. If you cannot go on without the "
    "user's answer, call `clarify` with your question.";

/* ---------------------------------------------------------------- the turn sink */

struct call {
    int index;
    char id[128];
    char name[OSR_TOOL_NAME_MAX + 1];
    struct osr_buf args;
    bool too_big; /* the arguments passed their cap */
};

struct turn {
    struct osr_sink sink;
    struct osr_sink *out;
    struct osr_buf text;
    struct call calls[MAX_CALLS_PER_TURN];
    int n_calls;
    bool finished, failed, gone;
    enum osr_finish finish;
    int status;
    char error[512];
    struct osr_usage usage;
    bool have_usage;
};

static struct call *turn_call(struct turn *t, int index)
{
    for (int i = 0; i < t->n_calls; i++)
        if (t->calls[i].index == index)
            return &t->calls[i];
    return NULL;
}

static int forward(struct turn *t, const struct osr_event *ev)
{
    if (t->gone)
        return 1;
    if (osr_sink_emit(t->out, ev)) {
        t->gone = true;
        return 1;
    }
    return 0;
}

static int turn_emit(struct osr_sink *sink, const struct osr_event *ev)
{
    struct turn *t = sink->ctx;
    switch (ev->kind) {
    case OSR_EV_TEXT_DELTA:
        osr_buf_append(&t->text, ev->text.p, ev->text.n); /* past the cap: not kept, still shown */
        return forward(t, ev);
    case OSR_EV_REASONING_DELTA:
        return forward(t, ev);
    case OSR_EV_TOOL_CALL_START: {
        if (turn_call(t, ev->index) || t->n_calls >= MAX_CALLS_PER_TURN)
            return t->gone;
        struct call *c = &t->calls[t->n_calls++];
        c->index = ev->index;
        snprintf(c->id, sizeof(c->id), "%.*s", (int)ev->id.n, ev->id.p ? ev->id.p : "");
        snprintf(c->name, sizeof(c->name), "%.*s", (int)ev->name.n, ev->name.p ? ev->name.p : "");
        osr_buf_init(&c->args, MAX_ARGS);
        return t->gone;
    }
    case OSR_EV_TOOL_CALL_ARGS_DELTA: {
        struct call *c = turn_call(t, ev->index);
        if (c && osr_buf_append(&c->args, ev->text.p, ev->text.n))
            c->too_big = true;
        return t->gone;
    }
    case OSR_EV_FINISH:
        t->finished = true;
        t->finish = ev->finish;
        return t->gone;
    case OSR_EV_USAGE:
        t->usage = ev->usage;
        t->have_usage = true;
        return t->gone;
    case OSR_EV_ERROR:
        t->failed = true;
        t->status = ev->status ? ev->status : 500;
        snprintf(t->error, sizeof(t->error), "%.*s", (int)ev->text.n, ev->text.p ? ev->text.p : "");
        return t->gone;
    default:
        return t->gone; /* ROLE, logprobs, prefill progress: the loop speaks for itself */
    }
}

static void turn_init(struct turn *t, struct osr_sink *out)
{
    memset(t, 0, sizeof(*t));
    t->sink.emit = turn_emit;
    t->sink.ctx = t;
    t->out = out;
    osr_buf_init(&t->text, MAX_TURN_TEXT);
}

static void turn_release(struct turn *t)
{
    for (int i = 0; i < t->n_calls; i++)
        osr_buf_release(&t->calls[i].args);
    osr_buf_release(&t->text);
}

/* ---------------------------------------------------------------- the run */

struct run {
    const struct osr_agent_run_opts *o;
    struct osr_chat_request *req;
    struct osr_sink *sink;
    struct osr_agent_result *res;
    struct osr_agent_loop_state st;
    struct osr_tools *own;      /* loop tools + folder tools */
    struct json_object *own_names; /* object: name -> true */
    struct json_object *disabled;  /* the agent's enabledTools, or NULL */
    bool said_text;             /* text went to the sink (for the separator before a summary) */
    bool gone;                  /* the sink refused an event */
};

static int emit(struct run *r, const struct osr_event *ev)
{
    if (r->gone)
        return 1;
    if (osr_sink_emit(r->sink, ev))
        r->gone = true;
    return r->gone;
}

static bool tool_disabled(struct run *r, const char *name)
{
    for (size_t i = 0; i < sizeof(loop_tool_names) / sizeof(loop_tool_names[0]); i++)
        if (strcmp(name, loop_tool_names[i]) == 0)
            return false;
    struct json_object *v = NULL;
    return r->disabled && json_object_object_get_ex(r->disabled, name, &v) &&
           json_object_is_type(v, json_type_boolean) && !json_object_get_boolean(v);
}

static const char *agent_string(struct json_object *agent, const char *key)
{
    struct json_object *v = NULL;
    if (!agent || !json_object_object_get_ex(agent, key, &v) ||
        !json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0)
        return NULL;
    return json_object_get_string(v);
}

/* The number of messages that are not system (or developer) messages. */
static size_t conversation_length(const struct osr_chat_request *req)
{
    size_t n = 0;
    for (size_t i = 0; i < req->n_messages; i++)
        n += req->messages[i].role != OSR_ROLE_SYSTEM && req->messages[i].role != OSR_ROLE_DEVELOPER;
    return n;
}

const char *osr_agent_model(const struct osr_agent_run_opts *o)
{
    if (o->model && o->model[0])
        return o->model;
    return agent_string(o->agent, "defaultModel");
}

/* Offers the tools of list (an osr_tools_list array) on the request, skipping names already
 * offered and tools the agent turned off. */
static int offer_tools(struct run *r, struct json_object *list, struct json_object *offered)
{
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        struct json_object *t = json_object_array_get_idx(list, i);
        const char *name = json_object_get_string(json_object_object_get(t, "name"));
        if (!name || json_object_object_get_ex(offered, name, NULL) || tool_disabled(r, name))
            continue;
        struct osr_tool *tool = osr_chat_request_add_tool(r->req);
        if (!tool)
            return OSR_ETOOBIG;
        tool->name = osr_chat_request_strndup(r->req, name, strlen(name));
        const char *desc = json_object_get_string(json_object_object_get(t, "description"));
        tool->description = desc ? osr_chat_request_strndup(r->req, desc, strlen(desc)) : NULL;
        tool->parameters = osr_chat_request_hold(
            r->req, json_object_get(json_object_object_get(t, "inputSchema")));
        if (!tool->name || (desc && !tool->description))
            return OSR_ETOOBIG;
        json_object_object_add(offered, name, json_object_new_boolean(1));
    }
    return OSR_OK;
}

/* True when the conversation already starts with the loop's system message (a run continued
 * after clarify). */
static bool has_loop_prompt(const struct osr_chat_request *req)
{
    if (req->n_messages == 0 || req->messages[0].role != OSR_ROLE_SYSTEM)
        return false;
    const struct osr_message *m = &req->messages[0];
    for (size_t i = 0; i < m->n_parts; i++)
        if (m->parts[i].kind == OSR_PART_TEXT && m->parts[i].text.p &&
            strstr(m->parts[i].text.p, loop_guidance) != NULL)
            return true;
    return false;
}

/* Puts the agent's system prompt and the loop's guidance in front of the conversation. */
static int add_system_prompt(struct run *r)
{
    if (has_loop_prompt(r->req))
        return OSR_OK;
    struct osr_buf p;
    osr_buf_init(&p, MAX_PROMPT);
    const char *sys = agent_string(r->o->agent, "systemPrompt");
    int rc = OSR_OK;
    if (sys)
        rc = osr_buf_puts(&p, sys);
    rc = rc ? rc : osr_buf_puts(&p, sys ? "\n\n" : "");
    rc = rc ? rc : osr_buf_puts(&p, loop_guidance);
    if (!rc && r->st.folder)
        rc = osr_buf_puts(&p, " Your working folder is the root of every path you give to the "
                              "file, search, shell and git tools: use relative paths.");
    struct osr_message *m = rc ? NULL : osr_chat_request_add_message(r->req, OSR_ROLE_SYSTEM);
    if (!m || osr_chat_message_add_text(r->req, m, p.data, p.len)) {
        osr_buf_release(&p);
        return OSR_ETOOBIG;
    }
    osr_buf_release(&p);
    struct osr_message first = r->req->messages[r->req->n_messages - 1];
    memmove(&r->req->messages[1], &r->req->messages[0],
            (r->req->n_messages - 1) * sizeof(r->req->messages[0]));
    r->req->messages[0] = first;
    return OSR_OK;
}

static void apply_agent_sampling(struct run *r)
{
    struct json_object *v = NULL;
    struct json_object *agent = r->o->agent;
    if (agent && isnan(r->req->sampling.temperature) &&
        json_object_object_get_ex(agent, "temperature", &v) &&
        (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
        r->req->sampling.temperature = json_object_get_double(v);
    if (agent && r->req->sampling.max_tokens == 0 &&
        json_object_object_get_ex(agent, "maxTokens", &v) && json_object_is_type(v, json_type_int))
        r->req->sampling.max_tokens = json_object_get_int64(v);
}

/* Appends the assistant's message for this turn: its text and its tool calls. */
static int append_assistant(struct run *r, struct turn *t)
{
    struct osr_message *m = osr_chat_request_add_message(r->req, OSR_ROLE_ASSISTANT);
    if (!m)
        return OSR_ETOOBIG;
    if (t->text.len && osr_chat_message_add_text(r->req, m, t->text.data, t->text.len))
        return OSR_ETOOBIG;
    for (int i = 0; i < t->n_calls; i++) {
        struct call *c = &t->calls[i];
        if (!c->id[0])
            osr_random_id(c->id, sizeof(c->id), "call_", 24, 0);
        struct osr_part *part = osr_chat_message_add_part(r->req, m, OSR_PART_TOOL_CALL);
        if (!part)
            return OSR_ETOOBIG;
        const char *args = c->args.len ? osr_buf_str(&c->args) : "{}";
        size_t n = c->args.len ? c->args.len : 2;
        part->call.id = osr_chat_request_strndup(r->req, c->id, strlen(c->id));
        part->call.name = osr_chat_request_strndup(r->req, c->name, strlen(c->name));
        char *a = osr_chat_request_strndup(r->req, args, n);
        if (!part->call.id || !part->call.name || !a)
            return OSR_ETOOBIG;
        part->call.arguments = osr_str_make(a, n);
    }
    return OSR_OK;
}

static int append_tool_result(struct run *r, const struct call *c, const char *text, size_t n,
                              bool is_error)
{
    struct osr_message *m = osr_chat_request_add_message(r->req, OSR_ROLE_TOOL);
    struct osr_part *part = m ? osr_chat_message_add_part(r->req, m, OSR_PART_TOOL_RESULT) : NULL;
    if (!part)
        return OSR_ETOOBIG;
    char *s = osr_chat_request_strndup(r->req, text, n);
    part->result.call_id = osr_chat_request_strndup(r->req, c->id, strlen(c->id));
    part->result.name = osr_chat_request_strndup(r->req, c->name, strlen(c->name));
    part->result.is_error = is_error;
    if (!s || !part->result.call_id || !part->result.name)
        return OSR_ETOOBIG;
    part->text = osr_str_make(s, n);
    return OSR_OK;
}

static char *envelope_text(struct json_object *env, size_t *n)
{
    struct osr_buf b;
    osr_buf_init(&b, MAX_ENVELOPE);
    if (osr_json_append(&b, env)) {
        osr_buf_reset(&b);
        osr_buf_puts(&b, "{\"ok\":false,\"kind\":\"execution_error\",\"message\":\"the tool's "
                         "result is too large to pass on\",\"retryable\":false}");
    }
    return osr_buf_detach(&b, n);
}

/* Runs one call: returns its envelope (new reference). */
static struct json_object *call_tool(struct run *r, const struct call *c)
{
    const char *name = c->name;
    if (!name[0] || tool_disabled(r, name))
        return osr_tool_envelope_error(name, OSR_TOOL_NOT_FOUND, "no tool by that name is enabled",
                                       NULL, NULL);
    struct json_object *args = NULL;
    struct osr_diag d;
    osr_diag_clear(&d);
    if (c->too_big)
        return osr_tool_envelope_error(name, OSR_TOOL_INVALID_ARGS,
                                       "the arguments are too large", NULL, NULL);
    if (c->args.len && osr_json_parse(c->args.data, c->args.len, &args, &d) != OSR_OK) {
        char msg[600];
        snprintf(msg, sizeof(msg), "the arguments are not valid JSON: %s", d.msg);
        return osr_tool_envelope_error(name, OSR_TOOL_INVALID_ARGS, msg, NULL, "a JSON object");
    }
    struct osr_tool_call_opts opts = {.approve = r->o->approve, .approve_ctx = r->o->approve_ctx};
    if (r->o->cancel) {
        opts.cancelled = r->o->cancel->fn;
        opts.cancel_ctx = r->o->cancel->ctx;
    }
    struct osr_tools *reg = json_object_object_get_ex(r->own_names, name, NULL) || !r->o->tools
                                ? r->own
                                : r->o->tools;
    struct json_object *env = osr_tools_call(reg, name, args, &opts);
    json_object_put(args);
    return env;
}

/* What the loop learns from a successful loop-tool call. */
static void inspect(struct run *r, const struct call *c, struct json_object *env)
{
    struct json_object *result = json_object_object_get(env, "result");
    struct json_object *args = NULL;
    if (strcmp(c->name, "todo") == 0) {
        const char *md = NULL;
        if (osr_json_parse(c->args.data, c->args.len, &args, NULL) == OSR_OK &&
            osr_json_get_string(args, "markdown", true, &md, NULL) == OSR_OK) {
            free(r->res->todo);
            r->res->todo = osr_xstrdup(md);
            struct json_object *o = json_object_new_object();
            json_object_object_add(o, "markdown", json_object_new_string(md));
            json_object_object_add(o, "items",
                                   json_object_get(json_object_object_get(result, "items")));
            const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
            struct osr_event ev = {.kind = OSR_EV_TODO, .text = osr_str_cstr(s)};
            emit(r, &ev);
            json_object_put(o);
        }
    } else if (strcmp(c->name, "complete") == 0) {
        r->res->status = OSR_AGENT_COMPLETED;
        free(r->res->summary);
        r->res->summary =
            osr_xstrdup(json_object_get_string(json_object_object_get(result, "summary")));
    } else if (strcmp(c->name, "clarify") == 0) {
        r->res->status = OSR_AGENT_CLARIFY;
        free(r->res->question);
        r->res->question =
            osr_xstrdup(json_object_get_string(json_object_object_get(result, "question")));
        json_object_put(r->res->options);
        r->res->options = json_object_get(json_object_object_get(result, "options"));
        r->res->allow_multiple =
            json_object_get_boolean(json_object_object_get(result, "allowMultiple"));
    } else if (strcmp(c->name, "share_artifact") == 0) {
        const char *desc = json_object_get_string(json_object_object_get(result, "description"));
        struct osr_event ev = {
            .kind = OSR_EV_ARTIFACT,
            .name = osr_str_cstr(json_object_get_string(json_object_object_get(result, "filename"))),
            .id = osr_str_cstr(json_object_get_string(json_object_object_get(result, "path"))),
            .text = osr_str_cstr(desc ? desc : ""),
        };
        emit(r, &ev);
    }
    json_object_put(args);
}

static bool is_loop_tool_call(const struct call *c)
{
    return strcmp(c->name, "complete") == 0 || strcmp(c->name, "clarify") == 0 ||
           strcmp(c->name, "todo") == 0 || strcmp(c->name, "share_artifact") == 0;
}

/* Runs the turn's calls in order.  Returns OSR_OK, OSR_ECANCELED or OSR_ETOOBIG. */
static int run_calls(struct run *r, struct turn *t)
{
    for (int i = 0; i < t->n_calls; i++) {
        struct call *c = &t->calls[i];
        bool over = r->res->status == OSR_AGENT_COMPLETED || r->res->status == OSR_AGENT_CLARIFY;
        struct json_object *env;
        int64_t t0 = osr_mono_ns();
        if (over) {
            env = osr_tool_envelope_error(c->name, OSR_TOOL_REJECTED,
                                          "not run: the task ended (complete or clarify) before "
                                          "this call",
                                          NULL, NULL);
        } else {
            if (osr_chat_cancelled(r->o->cancel))
                return OSR_ECANCELED;
            struct osr_event st = {
                .kind = OSR_EV_TOOL_STARTED,
                .id = osr_str_cstr(c->id),
                .name = osr_str_cstr(c->name),
                .text = c->args.len ? osr_str_make(c->args.data, c->args.len) : OSR_STR_LIT("{}"),
            };
            if (emit(r, &st))
                return OSR_ECANCELED;
            env = call_tool(r, c);
        }
        bool ok = osr_tool_envelope_is_ok(env);
        size_t n = 0;
        char *text = envelope_text(env, &n);
        if (!over) {
            r->res->tool_calls++;
            struct osr_event done = {
                .kind = OSR_EV_TOOL_DONE,
                .id = osr_str_cstr(c->id),
                .name = osr_str_cstr(c->name),
                .text = osr_str_make(text, n),
                .is_error = !ok,
                .duration_ms = (osr_mono_ns() - t0) / 1000000,
            };
            emit(r, &done);
            if (r->o->on_step)
                r->o->on_step(r->o->step_ctx, c->name, c->args.len ? osr_buf_str(&c->args) : "{}",
                              env);
            if (ok && is_loop_tool_call(c))
                inspect(r, c, env);
        }
        int rc = append_tool_result(r, c, text, n, !ok);
        free(text);
        json_object_put(env);
        if (rc)
            return rc;
        if (r->gone)
            return OSR_ECANCELED;
    }
    return OSR_OK;
}

static void add_usage(struct osr_usage *sum, const struct osr_usage *u)
{
    if (u->prompt_tokens >= 0)
        sum->prompt_tokens = (sum->prompt_tokens > 0 ? sum->prompt_tokens : 0) + u->prompt_tokens;
    if (u->completion_tokens >= 0)
        sum->completion_tokens =
            (sum->completion_tokens > 0 ? sum->completion_tokens : 0) + u->completion_tokens;
    sum->cached_tokens += u->cached_tokens > 0 ? u->cached_tokens : 0;
    sum->reasoning_tokens += u->reasoning_tokens > 0 ? u->reasoning_tokens : 0;
    sum->total_ns += u->total_ns;
    sum->prompt_ns += u->prompt_ns;
    sum->eval_ns += u->eval_ns;
}

/* Ends the run: the closing text for complete/clarify, the usage and the finish. */
static int finish(struct run *r, enum osr_finish f)
{
    struct osr_buf b;
    osr_buf_init(&b, MAX_TURN_TEXT);
    const char *sep = r->said_text ? "\n\n" : "";
    if (r->res->status == OSR_AGENT_COMPLETED && r->res->summary) {
        osr_buf_appendf(&b, "%s%s", sep, r->res->summary);
    } else if (r->res->status == OSR_AGENT_CLARIFY && r->res->question) {
        osr_buf_appendf(&b, "%s%s", sep, r->res->question);
        for (size_t i = 0; r->res->options && i < json_object_array_length(r->res->options); i++)
            osr_buf_appendf(&b, "\n- %s",
                            json_object_get_string(json_object_array_get_idx(r->res->options, i)));
    } else if (r->res->status == OSR_AGENT_MAX_ITERATIONS || r->res->status == OSR_AGENT_TIMED_OUT) {
        osr_buf_appendf(&b, "%s[stopped: %s]", sep,
                        r->res->status == OSR_AGENT_MAX_ITERATIONS ? "the iteration budget ran out"
                                                                   : "the time budget ran out");
    }
    if (b.len) {
        struct osr_event ev = {.kind = OSR_EV_TEXT_DELTA, .text = osr_str_make(b.data, b.len)};
        emit(r, &ev);
    }
    osr_buf_release(&b);
    struct osr_event u = {.kind = OSR_EV_USAGE, .usage = r->res->usage};
    emit(r, &u);
    struct osr_event fe = {.kind = OSR_EV_FINISH, .finish = f};
    emit(r, &fe);
    return r->gone ? OSR_ECANCELED : OSR_OK;
}

static int fail(struct run *r, int status, const char *msg)
{
    r->res->status = OSR_AGENT_FAILED;
    free(r->res->error);
    r->res->error = osr_xstrdup(msg);
    struct osr_event ev = {.kind = OSR_EV_ERROR, .status = status, .text = osr_str_cstr(msg)};
    emit(r, &ev);
    return r->gone ? OSR_ECANCELED : OSR_OK;
}

static int cancelled(struct run *r)
{
    r->res->status = OSR_AGENT_CANCELLED;
    if (!r->gone) {
        struct osr_event fe = {.kind = OSR_EV_FINISH, .finish = OSR_FINISH_CANCELLED};
        emit(r, &fe);
    }
    return OSR_ECANCELED;
}

/* Creates the directory a log file goes in (a failure shows later as the log's warning). */
static void make_parent_dir(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        osr_mkdir_p(dir, 0700, NULL);
    }
}

/* Sets up the run's own tools and offers every tool on the request.  Returns OSR_OK, or an
 * error with diag. */
static int setup_tools(struct run *r, struct osr_diag *d)
{
    r->own = osr_tools_new();
    r->own_names = json_object_new_object();
    /* the user's tools.json (enabled, policy) holds for the run's own tools too */
    struct osr_diag cd;
    osr_diag_clear(&cd);
    if (r->o->home && osr_tools_load_config(r->own, r->o->home, &cd) != OSR_OK)
        OSR_WARN("config/tools.json ignored for this run: %s", cd.msg);
    int rc = osr_agent_loop_tools_add(r->own, &r->st, d);
    if (!rc && r->st.folder) {
        struct osr_folder_opts fo = {.log_path = r->o->folder_log};
        if (r->o->folder_log)
            make_parent_dir(r->o->folder_log);
        rc = osr_folder_tools_add(r->own, r->st.folder, &fo, d);
    }
    if (rc)
        return rc;
    struct json_object *own = osr_tools_list(r->own, false);
    for (size_t i = 0; i < json_object_array_length(own); i++)
        json_object_object_add(
            r->own_names,
            json_object_get_string(json_object_object_get(json_object_array_get_idx(own, i), "name")),
            json_object_new_boolean(1));
    struct json_object *shared = r->o->tools ? osr_tools_list(r->o->tools, false) : NULL;
    struct json_object *offered = json_object_new_object();
    r->req->n_tools = 0; /* the caller's own tools cannot run here */
    rc = offer_tools(r, own, offered);
    if (!rc && shared)
        rc = offer_tools(r, shared, offered);
    json_object_put(offered);
    json_object_put(own);
    json_object_put(shared);
    if (rc)
        osr_diag_set(d, OSR_ETOOBIG, "the tool list is too large for the request");
    r->req->tool_choice = OSR_TOOL_CHOICE_AUTO;
    r->req->tool_choice_name = NULL;
    return rc;
}

int osr_agent_run(const struct osr_agent_run_opts *o, struct osr_chat_request *req,
                  struct osr_sink *sink, struct osr_agent_result *res)
{
    memset(res, 0, sizeof(*res));
    res->usage = osr_usage_unknown();
    res->usage.cached_tokens = 0;
    struct run r = {.o = o, .req = req, .sink = sink, .res = res};
    struct osr_diag d;
    osr_diag_clear(&d);

    const char *model = osr_agent_model(o);
    struct osr_chat_backend *backend;
    if (!model || osr_chat_service_resolve(o->svc, model, &backend, NULL) != OSR_OK) {
        res->status = OSR_AGENT_FAILED;
        res->error = osr_xstrdup(model ? "the model is not available" : "no model is set");
        return OSR_ENOTFOUND;
    }
    req->model = osr_chat_request_strndup(req, model, strlen(model));
    size_t n_before = conversation_length(req);
    r.st.home = o->home;
    r.st.folder = o->folder && o->folder[0] ? o->folder : agent_string(o->agent, "workingFolderPath");
    if (o->session_id && o->session_id[0])
        snprintf(r.st.session_id, sizeof(r.st.session_id), "%s", o->session_id);
    else
        osr_uuid_v4(r.st.session_id);
    struct json_object *et = NULL;
    if (o->agent && json_object_object_get_ex(o->agent, "enabledTools", &et) &&
        json_object_is_type(et, json_type_object))
        r.disabled = et;

    int rc;
    if (osr_sink_role(sink)) {
        r.gone = true;
        rc = cancelled(&r);
        goto out;
    }
    if (!req->model || setup_tools(&r, &d) || add_system_prompt(&r)) {
        char msg[600];
        snprintf(msg, sizeof(msg), "the agent could not start: %s",
                 d.msg[0] ? d.msg : "the request is too large");
        rc = fail(&r, d.msg[0] ? 400 : 413, msg);
        goto out;
    }
    apply_agent_sampling(&r);

    int max_it = o->max_iterations > 0 ? o->max_iterations : OSR_AGENT_MAX_ITERATIONS_DEFAULT;
    if (max_it > OSR_AGENT_MAX_ITERATIONS_CAP)
        max_it = OSR_AGENT_MAX_ITERATIONS_CAP;
    int64_t budget_ns = (o->time_budget_ms > 0 ? o->time_budget_ms : OSR_AGENT_TIME_BUDGET_DEFAULT_MS) *
                        1000000;
    int64_t start = osr_mono_ns();
    for (;;) {
        if (osr_chat_cancelled(o->cancel)) {
            rc = cancelled(&r);
            goto out;
        }
        if (res->iterations >= max_it || osr_mono_ns() - start > budget_ns) {
            res->status = res->iterations >= max_it ? OSR_AGENT_MAX_ITERATIONS : OSR_AGENT_TIMED_OUT;
            rc = finish(&r, OSR_FINISH_LENGTH);
            goto out;
        }
        struct turn t;
        turn_init(&t, sink);
        int crc = osr_chat_service_chat(o->svc, req, &t.sink, o->cancel);
        res->iterations++;
        if (t.have_usage)
            add_usage(&res->usage, &t.usage);
        if (t.text.len) {
            r.said_text = true;
            free(res->text);
            res->text = osr_xstrndup(t.text.data, t.text.len);
        }
        if (t.gone || crc == OSR_ECANCELED) {
            r.gone = t.gone;
            turn_release(&t);
            rc = cancelled(&r);
            goto out;
        }
        if (crc || t.failed || !t.finished) {
            int status = t.failed ? t.status : crc == OSR_ENOTFOUND ? 404 : 502;
            char msg[700];
            snprintf(msg, sizeof(msg), "the model failed: %s",
                     t.failed ? t.error : crc == OSR_ENOTFOUND ? "it is not available"
                                                               : "it stopped without finishing");
            turn_release(&t);
            rc = fail(&r, status, msg);
            goto out;
        }
        if (append_assistant(&r, &t)) {
            turn_release(&t);
            rc = fail(&r, 413, "the conversation grew past its size limit");
            goto out;
        }
        if (t.n_calls == 0) {
            res->status = OSR_AGENT_ANSWERED;
            enum osr_finish f = t.finish == OSR_FINISH_LENGTH ? OSR_FINISH_LENGTH : OSR_FINISH_STOP;
            turn_release(&t);
            rc = finish(&r, f);
            goto out;
        }
        int trc = run_calls(&r, &t);
        turn_release(&t);
        if (trc == OSR_ECANCELED) {
            rc = cancelled(&r);
            goto out;
        }
        if (trc) {
            rc = fail(&r, 413, "the conversation grew past its size limit");
            goto out;
        }
        if (res->status == OSR_AGENT_COMPLETED || res->status == OSR_AGENT_CLARIFY) {
            rc = finish(&r, OSR_FINISH_STOP);
            goto out;
        }
    }
out:
    if (o->record && res->iterations > 0)
        o->record(o->record_ctx, req, n_before, agent_string(o->agent, "id"));
    osr_tools_free(r.own);
    json_object_put(r.own_names);
    return rc;
}

struct json_object *osr_agent_run_tools(const char *home)
{
    struct osr_tools *reg = osr_tools_new();
    struct osr_agent_loop_state st = {.home = home};
    if (home)
        osr_tools_load_config(reg, home, NULL);
    osr_agent_loop_tools_add(reg, &st, NULL);
    /* the folder tools are bound to a folder; "/" serves for their definitions (nothing is
     * called) */
    osr_folder_tools_add(reg, "/", NULL, NULL);
    struct json_object *list = osr_tools_list(reg, true);
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        struct json_object *t = json_object_array_get_idx(list, i);
        const char *name = json_object_get_string(json_object_object_get(t, "name"));
        for (size_t k = 0; name && k < sizeof(loop_tool_names) / sizeof(loop_tool_names[0]); k++)
            if (strcmp(name, loop_tool_names[k]) == 0)
                json_object_object_add(t, "source", json_object_new_string("loop"));
    }
    osr_tools_free(reg);
    return list;
}

void osr_agent_result_release(struct osr_agent_result *res)
{
    free(res->summary);
    free(res->question);
    json_object_put(res->options);
    free(res->todo);
    free(res->text);
    free(res->error);
    memset(res, 0, sizeof(*res));
}

const char *osr_agent_status_name(enum osr_agent_status s)
{
    switch (s) {
    case OSR_AGENT_RUNNING:
        return "running";
    case OSR_AGENT_COMPLETED:
        return "completed";
    case OSR_AGENT_CLARIFY:
        return "awaiting_clarification";
    case OSR_AGENT_ANSWERED:
        return "answered";
    case OSR_AGENT_MAX_ITERATIONS:
        return "max_iterations";
    case OSR_AGENT_TIMED_OUT:
        return "timed_out";
    case OSR_AGENT_CANCELLED:
        return "cancelled";
    case OSR_AGENT_FAILED:
        return "failed";
    }
    return "failed";
}
