/* script_model.h - a scripted fake model for the agent tests: it answers each turn of a
 * conversation with the turn the script plans for it, so a test can make "the model" call
 * todo, then file_read, then complete, and check what the loop did.
 *
 * A script is a JSON object mapping a model name to an array of turns:
 *   {"edit": [ {"text": "...", "calls": [{"name": "todo", "arguments": {...}}]},
 *              {"calls": [{"name": "complete", "arguments": {"summary": "..."}}]} ]}
 * A turn may hold "text", "reasoning", "calls" (each with "arguments" as an object, or "raw"
 * as the arguments' text), "finish" ("stop"|"length"), "error" (an ERROR event with that
 * message) and "delay_ms" (a pause before answering, cut short when the consumer goes).
 * The turn played is the number of assistant messages already in the request, so a
 * conversation continued after clarify goes on with the next turn.  Past the end the model
 * says "script exhausted" and stops.
 *
 * script_backend_new makes an osr_chat_backend claiming "script/<name>"; script_play feeds
 * one turn's events to any sink (the HTTP fake in test_agent_run.c puts an OpenAI encoder
 * there).  Test-only code. */
#ifndef OSR_TEST_SCRIPT_MODEL_H
#define OSR_TEST_SCRIPT_MODEL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osr/alloc.h"
#include "osr/chat_service.h"
#include "osr/clock.h"
#include "osr/json.h"

struct script_backend {
    struct osr_chat_backend b;
    struct json_object *script; /* model name -> turns */
    atomic_int requests;
    /* the last request as the model saw it (osr_chat_request_dump), for assertions */
    pthread_mutex_t lock;
    char *last_dump;
    size_t last_tools;
};

static int script_turn_index(const struct osr_chat_request *req)
{
    int n = 0;
    for (size_t i = 0; i < req->n_messages; i++)
        if (req->messages[i].role == OSR_ROLE_ASSISTANT)
            n++;
    return n;
}

/* Plays turn number idx of the named script on sink.  Returns OSR_OK or OSR_ECANCELED. */
static int script_play(struct json_object *script, const char *name, int idx,
                       struct osr_sink *sink, const struct osr_chat_cancel *cancel)
{
    struct json_object *turns = NULL, *turn = NULL, *v = NULL;
    json_object_object_get_ex(script, name, &turns);
    if (turns && idx < (int)json_object_array_length(turns))
        turn = json_object_array_get_idx(turns, (size_t)idx);
    if (osr_sink_role(sink))
        return OSR_ECANCELED;
    if (!turn) {
        if (osr_sink_text(sink, "script exhausted", 16))
            return OSR_ECANCELED;
        return osr_sink_finish(sink, OSR_FINISH_STOP, NULL) ? OSR_ECANCELED : OSR_OK;
    }
    if (json_object_object_get_ex(turn, "delay_ms", &v)) {
        int64_t end = osr_mono_ns() + json_object_get_int64(v) * 1000000;
        while (osr_mono_ns() < end) {
            if (osr_chat_cancelled(cancel))
                return OSR_ECANCELED;
            osr_sleep_ms(5);
        }
    }
    if (json_object_object_get_ex(turn, "error", &v))
        return osr_sink_error(sink, 502, json_object_get_string(v)) ? OSR_ECANCELED : OSR_OK;
    if (json_object_object_get_ex(turn, "reasoning", &v) &&
        osr_sink_reasoning(sink, json_object_get_string(v), (size_t)json_object_get_string_len(v)))
        return OSR_ECANCELED;
    if (json_object_object_get_ex(turn, "text", &v)) {
        /* in two deltas, as a real stream would */
        const char *s = json_object_get_string(v);
        size_t n = (size_t)json_object_get_string_len(v), h = n / 2;
        if (osr_sink_text(sink, s, h) || osr_sink_text(sink, s + h, n - h))
            return OSR_ECANCELED;
    }
    struct json_object *calls = NULL;
    json_object_object_get_ex(turn, "calls", &calls);
    for (size_t i = 0; calls && i < json_object_array_length(calls); i++) {
        struct json_object *c = json_object_array_get_idx(calls, i), *a = NULL, *raw = NULL;
        char id[64];
        snprintf(id, sizeof(id), "call_s%d_%zu", idx, i);
        json_object_object_get_ex(c, "arguments", &a);
        json_object_object_get_ex(c, "raw", &raw);
        const char *args = raw ? json_object_get_string(raw)
                               : json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN);
        if (osr_sink_tool_start(sink, (int)i, id,
                                json_object_get_string(json_object_object_get(c, "name"))) ||
            osr_sink_tool_args(sink, (int)i, args, strlen(args)))
            return OSR_ECANCELED;
    }
    struct osr_usage u = osr_usage_unknown();
    u.prompt_tokens = 100;
    u.completion_tokens = 10;
    if (osr_sink_usage(sink, &u))
        return OSR_ECANCELED;
    enum osr_finish f = calls ? OSR_FINISH_TOOL_CALLS : OSR_FINISH_STOP;
    if (json_object_object_get_ex(turn, "finish", &v) &&
        strcmp(json_object_get_string(v), "length") == 0)
        f = OSR_FINISH_LENGTH;
    return osr_sink_finish(sink, f, NULL) ? OSR_ECANCELED : OSR_OK;
}

static bool script_claims(struct osr_chat_backend *b, const char *model_id, const char **local)
{
    struct script_backend *sb = b->ctx;
    if (strncmp(model_id, "script/", 7) != 0 ||
        !json_object_object_get_ex(sb->script, model_id + 7, NULL))
        return false;
    if (local)
        *local = model_id + 7;
    return true;
}

static int script_chat(struct osr_chat_backend *b, const char *local, struct osr_chat_request *req,
                       struct osr_sink *sink, const struct osr_chat_cancel *cancel)
{
    struct script_backend *sb = b->ctx;
    atomic_fetch_add(&sb->requests, 1);
    struct osr_buf dump;
    osr_buf_init(&dump, 64u << 20);
    osr_chat_request_dump(req, &dump);
    pthread_mutex_lock(&sb->lock);
    free(sb->last_dump);
    sb->last_dump = osr_buf_detach(&dump, NULL);
    sb->last_tools = req->n_tools;
    pthread_mutex_unlock(&sb->lock);
    osr_buf_release(&dump);
    return script_play(sb->script, local, script_turn_index(req), sink, cancel);
}

static void script_list(struct osr_chat_backend *b, struct osr_model_list *out)
{
    struct script_backend *sb = b->ctx;
    json_object_object_foreach(sb->script, k, v)
    {
        (void)v;
        char id[256];
        snprintf(id, sizeof(id), "script/%s", k);
        osr_model_list_add(out, id, "script", 0);
    }
}

static void script_free(struct osr_chat_backend *b)
{
    struct script_backend *sb = b->ctx;
    json_object_put(sb->script);
    free(sb->last_dump);
    pthread_mutex_destroy(&sb->lock);
    free(sb);
}

static const struct osr_chat_backend_ops script_ops = {
    .claims = script_claims,
    .chat = script_chat,
    .list_models = script_list,
    .free = script_free,
};

/* A backend playing script (JSON text); the chat service that takes it frees it. */
__attribute__((unused)) static struct script_backend *script_backend_new(const char *script_json)
{
    struct script_backend *sb = osr_xcalloc(1, sizeof(*sb));
    if (osr_json_parse(script_json, strlen(script_json), &sb->script, NULL) != OSR_OK) {
        fprintf(stderr, "script_model: the script is not valid JSON\n");
        abort();
    }
    pthread_mutex_init(&sb->lock, NULL);
    sb->b.ops = &script_ops;
    sb->b.ctx = sb;
    return sb;
}

__attribute__((unused)) static char *script_last_dump(struct script_backend *sb)
{
    pthread_mutex_lock(&sb->lock);
    char *s = sb->last_dump ? osr_xstrdup(sb->last_dump) : osr_xstrdup("");
    pthread_mutex_unlock(&sb->lock);
    return s;
}

#endif
