/* chat.c - the canonical request's life cycle, builders, a stable dump, and event helpers.
 *
 * A request owns an arena and a json-c array of held values; release frees both.  Arrays of
 * messages, parts and tools grow by doubling inside the arena (the old copy is simply left
 * there: requests are short-lived).  This module knows no protocol and does no I/O; the chat
 * service and model registry live elsewhere.
 */
#include <stdio.h>
#include <string.h>

#include "osr/chat.h"
#include "osr/json.h"

void osr_chat_request_init(struct osr_chat_request *req, size_t arena_max)
{
    memset(req, 0, sizeof(*req));
    osr_arena_init(&req->arena, arena_max);
    req->tool_choice = OSR_TOOL_CHOICE_AUTO;
    req->parallel_tool_calls = true;
    req->sampling.temperature = NAN;
    req->sampling.top_p = NAN;
    req->sampling.min_p = NAN;
    req->sampling.presence_penalty = NAN;
    req->sampling.frequency_penalty = NAN;
    req->sampling.repeat_penalty = NAN;
    req->format.kind = OSR_FORMAT_TEXT;
    req->source = OSR_SOURCE_HTTP;
    req->x.think = -1;
    req->x.store = -1;
}

void osr_chat_request_release(struct osr_chat_request *req)
{
    if (!req)
        return;
    json_object_put(req->held);
    req->held = NULL;
    osr_arena_release(&req->arena);
}

struct json_object *osr_chat_request_hold(struct osr_chat_request *req, struct json_object *obj)
{
    if (!obj)
        return NULL;
    if (!req->held)
        req->held = json_object_new_array();
    OSR_ASSERT(req->held != NULL);
    json_object_array_add(req->held, obj);
    return obj;
}

char *osr_chat_request_strndup(struct osr_chat_request *req, const char *s, size_t n)
{
    return osr_arena_strndup(&req->arena, s ? s : "", s ? n : 0);
}

/* Grows an arena array of elem-sized items so one more fits.  Returns false past max. */
static bool grow(struct osr_arena *a, void **items, size_t *cap, size_t n, size_t elem, size_t max)
{
    if (n < *cap)
        return true;
    if (n >= max)
        return false;
    size_t ncap = *cap ? *cap * 2 : 4;
    if (ncap > max)
        ncap = max;
    void *p = osr_arena_calloc(a, ncap, elem);
    if (!p)
        return false;
    if (n)
        memcpy(p, *items, n * elem);
    *items = p;
    *cap = ncap;
    return true;
}

struct osr_message *osr_chat_request_add_message(struct osr_chat_request *req, enum osr_role role)
{
    if (!grow(&req->arena, (void **)&req->messages, &req->cap_messages, req->n_messages,
              sizeof(struct osr_message), OSR_CHAT_MAX_MESSAGES))
        return NULL;
    struct osr_message *m = &req->messages[req->n_messages++];
    memset(m, 0, sizeof(*m));
    m->role = role;
    return m;
}

struct osr_part *osr_chat_message_add_part(struct osr_chat_request *req, struct osr_message *msg,
                                           enum osr_part_kind kind)
{
    if (!grow(&req->arena, (void **)&msg->parts, &msg->cap_parts, msg->n_parts,
              sizeof(struct osr_part), OSR_CHAT_MAX_PARTS))
        return NULL;
    struct osr_part *p = &msg->parts[msg->n_parts++];
    memset(p, 0, sizeof(*p));
    p->kind = kind;
    p->call.id = "";
    p->result.call_id = "";
    return p;
}

int osr_chat_message_add_text(struct osr_chat_request *req, struct osr_message *msg, const char *s,
                              size_t n)
{
    struct osr_part *p = osr_chat_message_add_part(req, msg, OSR_PART_TEXT);
    if (!p)
        return OSR_ETOOBIG;
    char *copy = osr_chat_request_strndup(req, s, n);
    if (!copy)
        return OSR_ETOOBIG;
    p->text = osr_str_make(copy, n);
    return OSR_OK;
}

struct osr_tool *osr_chat_request_add_tool(struct osr_chat_request *req)
{
    if (!grow(&req->arena, (void **)&req->tools, &req->cap_tools, req->n_tools,
              sizeof(struct osr_tool), OSR_CHAT_MAX_TOOLS))
        return NULL;
    struct osr_tool *t = &req->tools[req->n_tools++];
    memset(t, 0, sizeof(*t));
    return t;
}

const struct osr_tool *osr_chat_request_find_tool(const struct osr_chat_request *req,
                                                  const char *name)
{
    for (size_t i = 0; i < req->n_tools; i++)
        if (req->tools[i].name && strcmp(req->tools[i].name, name) == 0)
            return &req->tools[i];
    return NULL;
}

const char *osr_chat_role_name(enum osr_role role)
{
    switch (role) {
    case OSR_ROLE_SYSTEM:
        return "system";
    case OSR_ROLE_DEVELOPER:
        return "developer";
    case OSR_ROLE_USER:
        return "user";
    case OSR_ROLE_ASSISTANT:
        return "assistant";
    case OSR_ROLE_TOOL:
        return "tool";
    }
    return "?";
}

const char *osr_event_kind_name(enum osr_event_kind kind)
{
    switch (kind) {
    case OSR_EV_ROLE:
        return "role";
    case OSR_EV_TEXT_DELTA:
        return "text";
    case OSR_EV_REASONING_DELTA:
        return "reasoning";
    case OSR_EV_TOOL_CALL_START:
        return "tool_start";
    case OSR_EV_TOOL_CALL_ARGS_DELTA:
        return "tool_args";
    case OSR_EV_FINISH:
        return "finish";
    case OSR_EV_USAGE:
        return "usage";
    case OSR_EV_ERROR:
        return "error";
    case OSR_EV_TOOL_STARTED:
        return "tool_started";
    case OSR_EV_TOOL_DONE:
        return "tool_done";
    case OSR_EV_TODO:
        return "todo";
    case OSR_EV_PREFILL_PROGRESS:
        return "prefill_progress";
    case OSR_EV_ARTIFACT:
        return "artifact";
    case OSR_EV_LOGPROBS:
        return "logprobs";
    }
    return "?";
}

const char *osr_finish_name(enum osr_finish finish)
{
    switch (finish) {
    case OSR_FINISH_STOP:
        return "stop";
    case OSR_FINISH_LENGTH:
        return "length";
    case OSR_FINISH_TOOL_CALLS:
        return "tool_calls";
    case OSR_FINISH_CANCELLED:
        return "cancelled";
    case OSR_FINISH_ERROR:
        return "error";
    case OSR_FINISH_STOP_SEQUENCE:
        return "stop_sequence";
    }
    return "?";
}

/* ---------------------------------------------------------------- dump */

static int dump_key(struct osr_buf *out, bool *first, const char *key)
{
    int rc = osr_buf_puts(out, *first ? "\"" : ",\"");
    *first = false;
    if (!rc)
        rc = osr_buf_puts(out, key);
    if (!rc)
        rc = osr_buf_puts(out, "\":");
    return rc;
}

static int dump_str(struct osr_buf *out, bool *first, const char *key, const char *s)
{
    if (!s)
        return OSR_OK;
    int rc = dump_key(out, first, key);
    return rc ? rc : osr_json_append_string(out, s, strlen(s));
}

static int dump_view(struct osr_buf *out, bool *first, const char *key, struct osr_str s)
{
    int rc = dump_key(out, first, key);
    return rc ? rc : osr_json_append_string(out, s.p ? s.p : "", s.n);
}

static int dump_double(struct osr_buf *out, bool *first, const char *key, double v)
{
    if (isnan(v))
        return OSR_OK;
    int rc = dump_key(out, first, key);
    return rc ? rc : osr_buf_appendf(out, "%.17g", v);
}

static int dump_int(struct osr_buf *out, bool *first, const char *key, int64_t v)
{
    int rc = dump_key(out, first, key);
    return rc ? rc : osr_buf_appendf(out, "%lld", (long long)v);
}

static int dump_json(struct osr_buf *out, bool *first, const char *key, struct json_object *v)
{
    if (!v)
        return OSR_OK;
    int rc = dump_key(out, first, key);
    return rc ? rc : osr_json_append(out, v);
}

static int dump_bool(struct osr_buf *out, bool *first, const char *key, bool v)
{
    int rc = dump_key(out, first, key);
    return rc ? rc : osr_buf_puts(out, v ? "true" : "false");
}

static int dump_part(const struct osr_part *p, struct osr_buf *out)
{
    bool first = true;
    int rc = osr_buf_putc(out, '{');
    switch (p->kind) {
    case OSR_PART_TEXT:
        rc = rc ? rc : dump_str(out, &first, "type", "text");
        rc = rc ? rc : dump_view(out, &first, "text", p->text);
        break;
    case OSR_PART_REASONING:
        rc = rc ? rc : dump_str(out, &first, "type", "reasoning");
        rc = rc ? rc : dump_view(out, &first, "text", p->text);
        break;
    case OSR_PART_IMAGE:
        rc = rc ? rc : dump_str(out, &first, "type", "image");
        rc = rc ? rc : dump_str(out, &first, "url", p->image.url);
        rc = rc ? rc : dump_str(out, &first, "mime", p->image.mime);
        if (p->image.data)
            rc = rc ? rc : dump_int(out, &first, "bytes", (int64_t)p->image.len);
        rc = rc ? rc : dump_str(out, &first, "detail", p->image.detail);
        break;
    case OSR_PART_TOOL_CALL:
        rc = rc ? rc : dump_str(out, &first, "type", "tool_call");
        rc = rc ? rc : dump_str(out, &first, "id", p->call.id);
        rc = rc ? rc : dump_str(out, &first, "name", p->call.name);
        rc = rc ? rc : dump_view(out, &first, "arguments", p->call.arguments);
        break;
    case OSR_PART_TOOL_RESULT:
        rc = rc ? rc : dump_str(out, &first, "type", "tool_result");
        rc = rc ? rc : dump_str(out, &first, "call_id", p->result.call_id);
        rc = rc ? rc : dump_str(out, &first, "name", p->result.name);
        if (p->result.is_error)
            rc = rc ? rc : dump_bool(out, &first, "is_error", true);
        rc = rc ? rc : dump_view(out, &first, "content", p->text);
        break;
    }
    return rc ? rc : osr_buf_putc(out, '}');
}

static const char *tool_choice_name(enum osr_tool_choice c)
{
    switch (c) {
    case OSR_TOOL_CHOICE_AUTO:
        return "auto";
    case OSR_TOOL_CHOICE_NONE:
        return "none";
    case OSR_TOOL_CHOICE_REQUIRED:
        return "required";
    case OSR_TOOL_CHOICE_NAMED:
        return "named";
    }
    return "?";
}

static int dump_sampling(const struct osr_sampling *s, struct osr_buf *out)
{
    bool first = true;
    int rc = osr_buf_putc(out, '{');
    rc = rc ? rc : dump_double(out, &first, "temperature", s->temperature);
    rc = rc ? rc : dump_double(out, &first, "top_p", s->top_p);
    rc = rc ? rc : dump_double(out, &first, "min_p", s->min_p);
    rc = rc ? rc : dump_double(out, &first, "presence_penalty", s->presence_penalty);
    rc = rc ? rc : dump_double(out, &first, "frequency_penalty", s->frequency_penalty);
    rc = rc ? rc : dump_double(out, &first, "repeat_penalty", s->repeat_penalty);
    if (s->top_k)
        rc = rc ? rc : dump_int(out, &first, "top_k", s->top_k);
    if (s->repeat_last_n)
        rc = rc ? rc : dump_int(out, &first, "repeat_last_n", s->repeat_last_n);
    if (s->max_tokens)
        rc = rc ? rc : dump_int(out, &first, "max_tokens", s->max_tokens);
    if (s->has_seed)
        rc = rc ? rc : dump_int(out, &first, "seed", s->seed);
    if (s->n_stop) {
        rc = rc ? rc : dump_key(out, &first, "stop");
        rc = rc ? rc : osr_buf_putc(out, '[');
        for (size_t i = 0; i < s->n_stop && !rc; i++) {
            if (i)
                rc = osr_buf_putc(out, ',');
            rc = rc ? rc : osr_json_append_string(out, s->stop[i], strlen(s->stop[i]));
        }
        rc = rc ? rc : osr_buf_putc(out, ']');
    }
    return rc ? rc : osr_buf_putc(out, '}');
}

static int dump_extras(const struct osr_chat_extras *x, struct osr_buf *out)
{
    bool first = true;
    int rc = osr_buf_putc(out, '{');
    if (x->think >= 0)
        rc = rc ? rc : dump_bool(out, &first, "think", x->think);
    rc = rc ? rc : dump_str(out, &first, "reasoning_effort", x->reasoning_effort);
    if (x->raw)
        rc = rc ? rc : dump_bool(out, &first, "raw", true);
    rc = rc ? rc : dump_str(out, &first, "suffix", x->suffix);
    rc = rc ? rc : dump_str(out, &first, "keep_alive", x->keep_alive);
    if (x->num_ctx)
        rc = rc ? rc : dump_int(out, &first, "num_ctx", x->num_ctx);
    rc = rc ? rc : dump_str(out, &first, "template", x->template_override);
    rc = rc ? rc : dump_str(out, &first, "previous_response_id", x->previous_response_id);
    rc = rc ? rc : dump_str(out, &first, "instructions", x->instructions);
    if (x->store >= 0)
        rc = rc ? rc : dump_bool(out, &first, "store", x->store);
    rc = rc ? rc : dump_json(out, &first, "model_options", x->model_options);
    return rc ? rc : osr_buf_putc(out, '}');
}

int osr_chat_request_dump(const struct osr_chat_request *req, struct osr_buf *out)
{
    bool first = true;
    int rc = osr_buf_putc(out, '{');
    rc = rc ? rc : dump_str(out, &first, "model", req->model);
    rc = rc ? rc : dump_key(out, &first, "messages");
    rc = rc ? rc : osr_buf_putc(out, '[');
    for (size_t i = 0; i < req->n_messages && !rc; i++) {
        const struct osr_message *m = &req->messages[i];
        bool mfirst = true;
        rc = osr_buf_puts(out, i ? ",{" : "{");
        rc = rc ? rc : dump_str(out, &mfirst, "role", osr_chat_role_name(m->role));
        rc = rc ? rc : dump_str(out, &mfirst, "name", m->name);
        rc = rc ? rc : dump_key(out, &mfirst, "parts");
        rc = rc ? rc : osr_buf_putc(out, '[');
        for (size_t j = 0; j < m->n_parts && !rc; j++) {
            if (j)
                rc = osr_buf_putc(out, ',');
            rc = rc ? rc : dump_part(&m->parts[j], out);
        }
        rc = rc ? rc : osr_buf_puts(out, "]}");
    }
    rc = rc ? rc : osr_buf_putc(out, ']');
    if (req->n_tools) {
        rc = rc ? rc : dump_key(out, &first, "tools");
        rc = rc ? rc : osr_buf_putc(out, '[');
        for (size_t i = 0; i < req->n_tools && !rc; i++) {
            const struct osr_tool *t = &req->tools[i];
            bool tfirst = true;
            rc = osr_buf_puts(out, i ? ",{" : "{");
            rc = rc ? rc : dump_str(out, &tfirst, "name", t->name);
            rc = rc ? rc : dump_str(out, &tfirst, "description", t->description);
            rc = rc ? rc : dump_json(out, &tfirst, "parameters", t->parameters);
            if (t->strict)
                rc = rc ? rc : dump_bool(out, &tfirst, "strict", true);
            rc = rc ? rc : osr_buf_putc(out, '}');
        }
        rc = rc ? rc : osr_buf_putc(out, ']');
    }
    rc = rc ? rc : dump_str(out, &first, "tool_choice", tool_choice_name(req->tool_choice));
    rc = rc ? rc : dump_str(out, &first, "tool_choice_name", req->tool_choice_name);
    if (!req->parallel_tool_calls)
        rc = rc ? rc : dump_bool(out, &first, "parallel_tool_calls", false);
    rc = rc ? rc : dump_key(out, &first, "sampling");
    rc = rc ? rc : dump_sampling(&req->sampling, out);
    if (req->format.kind != OSR_FORMAT_TEXT) {
        rc = rc ? rc
                : dump_str(out, &first, "format",
                           req->format.kind == OSR_FORMAT_JSON_OBJECT ? "json_object"
                                                                      : "json_schema");
        rc = rc ? rc : dump_str(out, &first, "format_name", req->format.name);
        rc = rc ? rc : dump_json(out, &first, "format_schema", req->format.schema);
        if (req->format.strict)
            rc = rc ? rc : dump_bool(out, &first, "format_strict", true);
    }
    rc = rc ? rc : dump_bool(out, &first, "stream", req->stream);
    if (req->include_usage)
        rc = rc ? rc : dump_bool(out, &first, "include_usage", true);
    if (req->logprobs) {
        rc = rc ? rc : dump_bool(out, &first, "logprobs", true);
        rc = rc ? rc : dump_int(out, &first, "top_logprobs", req->top_logprobs);
    }
    rc = rc ? rc : dump_str(out, &first, "session_id", req->session_id);
    rc = rc ? rc : dump_str(out, &first, "cache_hint", req->cache_hint);
    rc = rc ? rc : dump_str(out, &first, "user", req->user);
    rc = rc ? rc : dump_json(out, &first, "metadata", req->metadata);
    rc = rc ? rc : dump_key(out, &first, "extras");
    rc = rc ? rc : dump_extras(&req->x, out);
    return rc ? rc : osr_buf_putc(out, '}');
}

/* ---------------------------------------------------------------- sink helpers */

struct osr_usage osr_usage_unknown(void)
{
    struct osr_usage u = {0};
    u.prompt_tokens = -1;
    u.completion_tokens = -1;
    return u;
}

static int emit_simple(struct osr_sink *sink, enum osr_event_kind kind, const char *s, size_t n)
{
    struct osr_event ev = {0};
    ev.kind = kind;
    ev.text = osr_str_make(s ? s : "", s ? n : 0);
    return osr_sink_emit(sink, &ev);
}

int osr_sink_role(struct osr_sink *sink)
{
    return emit_simple(sink, OSR_EV_ROLE, NULL, 0);
}

int osr_sink_text(struct osr_sink *sink, const char *s, size_t n)
{
    return emit_simple(sink, OSR_EV_TEXT_DELTA, s, n);
}

int osr_sink_reasoning(struct osr_sink *sink, const char *s, size_t n)
{
    return emit_simple(sink, OSR_EV_REASONING_DELTA, s, n);
}

int osr_sink_tool_start(struct osr_sink *sink, int index, const char *id, const char *name)
{
    struct osr_event ev = {0};
    ev.kind = OSR_EV_TOOL_CALL_START;
    ev.index = index;
    ev.id = osr_str_cstr(id ? id : "");
    ev.name = osr_str_cstr(name ? name : "");
    return osr_sink_emit(sink, &ev);
}

int osr_sink_tool_args(struct osr_sink *sink, int index, const char *s, size_t n)
{
    struct osr_event ev = {0};
    ev.kind = OSR_EV_TOOL_CALL_ARGS_DELTA;
    ev.index = index;
    ev.text = osr_str_make(s ? s : "", s ? n : 0);
    return osr_sink_emit(sink, &ev);
}

int osr_sink_finish(struct osr_sink *sink, enum osr_finish finish, const char *stop_seq)
{
    struct osr_event ev = {0};
    ev.kind = OSR_EV_FINISH;
    ev.finish = finish;
    ev.text = osr_str_cstr(stop_seq ? stop_seq : "");
    return osr_sink_emit(sink, &ev);
}

int osr_sink_usage(struct osr_sink *sink, const struct osr_usage *usage)
{
    struct osr_event ev = {0};
    ev.kind = OSR_EV_USAGE;
    ev.usage = *usage;
    return osr_sink_emit(sink, &ev);
}

int osr_sink_error(struct osr_sink *sink, int status, const char *message)
{
    struct osr_event ev = {0};
    ev.kind = OSR_EV_ERROR;
    ev.status = status ? status : 500;
    ev.text = osr_str_cstr(message ? message : "");
    return osr_sink_emit(sink, &ev);
}

int osr_sink_logprobs(struct osr_sink *sink, const struct osr_logprobs *lp)
{
    struct osr_event ev = {0};
    ev.kind = OSR_EV_LOGPROBS;
    ev.logprobs = lp;
    return osr_sink_emit(sink, &ev);
}
