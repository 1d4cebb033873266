/* chat_record.c - the history recorder: a pass-through sink, then one write per request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "osr/chat_record.h"
#include "osr/json.h"

#define ANSWER_MAX (16u << 20)
#define ARGS_MAX (4u << 20)
#define TITLE_MAX 60

static int record_emit(struct osr_sink *sink, const struct osr_event *ev)
{
    struct osr_chat_recorder *r = sink->ctx;
    switch (ev->kind) {
    case OSR_EV_TEXT_DELTA:
        osr_buf_append(&r->text, ev->text.p, ev->text.n);
        break;
    case OSR_EV_TOOL_CALL_START:
        if (ev->index >= 0 && ev->index < OSR_CHAT_RECORD_MAX_CALLS) {
            struct osr_chat_record_call *c = &r->calls[ev->index];
            snprintf(c->id, sizeof(c->id), "%.*s", (int)ev->id.n, ev->id.p ? ev->id.p : "");
            snprintf(c->name, sizeof(c->name), "%.*s", (int)ev->name.n,
                     ev->name.p ? ev->name.p : "");
            if (ev->index >= r->n_calls)
                r->n_calls = ev->index + 1;
        }
        break;
    case OSR_EV_TOOL_CALL_ARGS_DELTA:
        if (ev->index >= 0 && ev->index < OSR_CHAT_RECORD_MAX_CALLS)
            osr_buf_append(&r->calls[ev->index].args, ev->text.p, ev->text.n);
        break;
    case OSR_EV_USAGE:
        r->usage = ev->usage;
        break;
    case OSR_EV_FINISH:
        r->finished = true;
        break;
    case OSR_EV_ERROR:
        r->failed = true;
        break;
    default:
        break;
    }
    return osr_sink_emit(r->inner, ev);
}

void osr_chat_record_init(struct osr_chat_recorder *r, struct osr_sink *inner)
{
    memset(r, 0, sizeof(*r));
    r->sink.emit = record_emit;
    r->sink.ctx = r;
    r->inner = inner;
    osr_buf_init(&r->text, ANSWER_MAX);
    for (int i = 0; i < OSR_CHAT_RECORD_MAX_CALLS; i++)
        osr_buf_init(&r->calls[i].args, ARGS_MAX);
    r->usage = osr_usage_unknown();
}

void osr_chat_record_release(struct osr_chat_recorder *r)
{
    osr_buf_release(&r->text);
    for (int i = 0; i < OSR_CHAT_RECORD_MAX_CALLS; i++)
        osr_buf_release(&r->calls[i].args);
}

/* The text of a message's text and tool-result parts. */
static void message_text(const struct osr_message *m, struct osr_buf *out)
{
    for (size_t k = 0; k < m->n_parts; k++) {
        const struct osr_part *p = &m->parts[k];
        if (p->kind == OSR_PART_TEXT || p->kind == OSR_PART_TOOL_RESULT)
            osr_buf_append(out, p->text.p, p->text.n);
    }
}

static char *json_text(struct json_object *o)
{
    const char *s =
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    return strdup(s ? s : "null");
}

static int append_request_message(struct osr_history *h, const char *sid,
                                  const struct osr_message *m, struct osr_diag *diag)
{
    struct osr_buf text;
    osr_buf_init(&text, ANSWER_MAX);
    message_text(m, &text);
    struct json_object *content = osr_json_new_string(osr_buf_str(&text), text.len);
    struct json_object *calls = NULL;
    const char *call_id = NULL;
    for (size_t k = 0; k < m->n_parts; k++) {
        const struct osr_part *p = &m->parts[k];
        if (p->kind == OSR_PART_TOOL_RESULT)
            call_id = p->result.call_id;
        if (p->kind != OSR_PART_TOOL_CALL)
            continue;
        if (!calls)
            calls = json_object_new_array();
        struct json_object *fn = json_object_new_object();
        json_object_object_add(fn, "name", json_object_new_string(p->call.name));
        json_object_object_add(fn, "arguments",
                               osr_json_new_string(p->call.arguments.p, p->call.arguments.n));
        struct json_object *c = json_object_new_object();
        json_object_object_add(c, "id", json_object_new_string(p->call.id));
        json_object_object_add(c, "type", json_object_new_string("function"));
        json_object_object_add(c, "function", fn);
        json_object_array_add(calls, c);
    }
    char *content_s = json_text(content);
    char *calls_s = calls ? json_text(calls) : NULL;
    struct osr_history_message hm = {
        .role = (char *)(m->role == OSR_ROLE_DEVELOPER ? "system" : osr_chat_role_name(m->role)),
        .content = content_s,
        .tool_calls = calls_s,
        .tool_call_id = (char *)(call_id && *call_id ? call_id : NULL),
    };
    int rc = osr_history_message_append(h, sid, &hm, NULL, diag);
    free(content_s);
    free(calls_s);
    json_object_put(content);
    json_object_put(calls);
    osr_buf_release(&text);
    return rc;
}

static int append_answer(struct osr_chat_recorder *r, struct osr_history *h, const char *sid,
                         struct osr_diag *diag)
{
    struct json_object *content = osr_json_new_string(osr_buf_str(&r->text), r->text.len);
    struct json_object *calls = NULL;
    for (int i = 0; i < r->n_calls; i++) {
        if (!calls)
            calls = json_object_new_array();
        struct json_object *fn = json_object_new_object();
        json_object_object_add(fn, "name", json_object_new_string(r->calls[i].name));
        json_object_object_add(
            fn, "arguments",
            osr_json_new_string(osr_buf_str(&r->calls[i].args), r->calls[i].args.len));
        struct json_object *c = json_object_new_object();
        json_object_object_add(c, "id", json_object_new_string(r->calls[i].id));
        json_object_object_add(c, "type", json_object_new_string("function"));
        json_object_object_add(c, "function", fn);
        json_object_array_add(calls, c);
    }
    struct json_object *usage = json_object_new_object();
    if (r->usage.prompt_tokens >= 0)
        json_object_object_add(usage, "prompt_tokens",
                               json_object_new_int64(r->usage.prompt_tokens));
    if (r->usage.completion_tokens >= 0)
        json_object_object_add(usage, "completion_tokens",
                               json_object_new_int64(r->usage.completion_tokens));
    char *content_s = json_text(content);
    char *calls_s = calls ? json_text(calls) : NULL;
    char *usage_s = json_text(usage);
    struct osr_history_message hm = {
        .role = (char *)"assistant",
        .content = content_s,
        .tool_calls = calls_s,
        .usage = usage_s,
    };
    int rc = osr_history_message_append(h, sid, &hm, NULL, diag);
    free(content_s);
    free(calls_s);
    free(usage_s);
    json_object_put(content);
    json_object_put(calls);
    json_object_put(usage);
    return rc;
}

/* Finds the session the request continues (*known true), or creates one titled with the start
 * of the first user message.  sid receives its id. */
static int open_session(struct osr_history *history, const struct osr_chat_request *req,
                        const char *agent, enum osr_history_source source,
                        char sid[OSR_HISTORY_ID_MAX], bool *known, struct osr_diag *diag)
{
    const char *want = req->session_id && *req->session_id ? req->session_id : NULL;
    struct osr_history_session s;
    *known = false;
    if (want && osr_history_session_get(history, want, &s, NULL) == OSR_OK) {
        osr_history_session_release(&s);
        snprintf(sid, OSR_HISTORY_ID_MAX, "%s", want);
        *known = true;
        return OSR_OK;
    }
    struct osr_buf title;
    osr_buf_init(&title, ANSWER_MAX);
    for (size_t i = 0; i < req->n_messages && title.len == 0; i++)
        if (req->messages[i].role == OSR_ROLE_USER)
            message_text(&req->messages[i], &title);
    size_t cut = title.len < TITLE_MAX ? title.len : TITLE_MAX;
    while (cut > 0 && cut < title.len && ((unsigned char)title.data[cut] & 0xc0) == 0x80)
        cut--; /* never split a character */
    char t[TITLE_MAX + 1];
    snprintf(t, sizeof(t), "%.*s", (int)cut, osr_buf_str(&title));
    int rc = osr_history_session_create(history, want, t, agent, req->model, source, sid, diag);
    osr_buf_release(&title);
    return rc;
}

int osr_chat_record_save(struct osr_chat_recorder *r, struct osr_history *history,
                         const struct osr_chat_request *req, struct osr_diag *diag)
{
    if (!history || !r->finished || r->failed || req->x.store == 0 || req->n_messages == 0)
        return OSR_OK;
    char sid[OSR_HISTORY_ID_MAX];
    bool known;
    int rc = open_session(history, req, NULL, OSR_HISTORY_HTTP, sid, &known, diag);
    if (rc)
        return rc;
    /* a known conversation is stored already, but for its newest message */
    for (size_t i = known ? req->n_messages - 1 : 0; i < req->n_messages; i++) {
        rc = append_request_message(history, sid, &req->messages[i], diag);
        if (rc)
            return rc;
    }
    return append_answer(r, history, sid, diag);
}

int osr_chat_record_conversation(struct osr_history *history, const struct osr_chat_request *req,
                                 size_t n_before, const char *agent,
                                 enum osr_history_source source, struct osr_diag *diag)
{
    if (!history || req->x.store == 0 || req->n_messages == 0)
        return OSR_OK;
    char sid[OSR_HISTORY_ID_MAX];
    bool known;
    int rc = open_session(history, req, agent, source, sid, &known, diag);
    size_t ordinal = 0, from = known && n_before > 0 ? n_before - 1 : 0;
    for (size_t i = 0; !rc && i < req->n_messages; i++) {
        const struct osr_message *m = &req->messages[i];
        if (m->role == OSR_ROLE_SYSTEM || m->role == OSR_ROLE_DEVELOPER)
            continue;
        if (ordinal++ >= from)
            rc = append_request_message(history, sid, m, diag);
    }
    return rc;
}
