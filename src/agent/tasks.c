/* tasks.c - background agent tasks (tasks.h).
 *
 * Each task owns a thread that runs osr_agent_run with a sink of its own: the sink turns the
 * run's events into the task's state (output text, activity feed, todo progress, current
 * step) under the manager's one mutex.  When the run pauses on clarify, the thread waits on
 * the manager's condition variable for an answer or a cancel.  Cancelling sets the task's
 * flag, which the loop sees through its cancel callback (between tokens of the model, and
 * before each tool) and wakes a waiting task.
 *
 * Threads of finished tasks are joined when the next task is dispatched or the manager is
 * freed; the oldest finished tasks are forgotten past max_kept.
 *
 * Not here: HTTP (src/api/agent_run_routes.c), the loop (loop.c).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osr/agent_loop.h"
#include "osr/alloc.h"
#include "osr/buf.h"
#include "osr/clock.h"
#include "osr/json.h"
#include "osr/log.h"
#include "osr/tasks.h"

#define OUTPUT_MAX ((size_t)1024 * 1024)
#define ACTIVITY_MAX 200
#define STEP_MAX 256

enum task_state { T_RUNNING, T_AWAITING, T_COMPLETED, T_FAILED, T_CANCELLED };

struct task {
    struct task *next; /* newest first */
    struct osr_tasks *owner;
    char id[OSR_UUID_STRLEN + 1];
    char *agent_id, *title, *model, *folder, *session_id;
    struct json_object *agent;
    int max_iterations;
    struct osr_chat_request req;

    /* guarded by owner->lock */
    enum task_state state;
    struct osr_buf output;
    struct json_object *activity; /* array, at most ACTIVITY_MAX */
    struct json_object *todo;     /* {"markdown","items"} or NULL */
    char step[STEP_MAX];
    double progress;
    char *summary, *question, *error;
    struct json_object *options;
    char *answer; /* a clarify answer not yet taken */
    int64_t created_ms, updated_ms;

    atomic_int cancel;
    pthread_t thread;
    bool done;   /* the thread has returned (guarded) */
    bool joined; /* only the manager's callers touch it, under the lock */
};

struct osr_tasks {
    struct osr_chat_service *svc;
    struct osr_tools *tools;
    char *home;
    int max_running, max_kept;
    osr_agent_record_fn record;
    void *record_ctx;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct task *tasks;
    bool closing;
};

static const char *state_name(enum task_state s)
{
    static const char *const names[] = {"running", "awaiting_clarification", "completed", "failed",
                                        "cancelled"};
    return names[s];
}

/* ---------------------------------------------------------------- the task's sink */

struct task_sink {
    struct osr_sink sink;
    struct task *t;
};

static void add_activity(struct task *t, struct json_object *entry)
{
    char when[OSR_ISO8601_MAX];
    osr_time_iso8601(when, osr_wall_ms(), 1);
    json_object_object_add(entry, "time", json_object_new_string(when));
    if (json_object_array_length(t->activity) >= ACTIVITY_MAX)
        json_object_array_del_idx(t->activity, 0, 1);
    json_object_array_add(t->activity, entry);
}

/* The first unchecked item of the checklist, and the share done. */
static void todo_progress(struct task *t)
{
    struct json_object *items = json_object_object_get(t->todo, "items");
    size_t n = items ? json_object_array_length(items) : 0, done = 0;
    const char *next = NULL;
    for (size_t i = 0; i < n; i++) {
        struct json_object *it = json_object_array_get_idx(items, i);
        if (json_object_get_boolean(json_object_object_get(it, "done")))
            done++;
        else if (!next)
            next = json_object_get_string(json_object_object_get(it, "text"));
    }
    t->progress = n ? (double)done / (double)n : 0.0;
    if (next)
        snprintf(t->step, sizeof(t->step), "%s", next);
}

static int task_emit(struct osr_sink *s, const struct osr_event *ev)
{
    struct task *t = ((struct task_sink *)s->ctx)->t;
    pthread_mutex_lock(&t->owner->lock);
    t->updated_ms = osr_wall_ms();
    struct json_object *e;
    switch (ev->kind) {
    case OSR_EV_TEXT_DELTA:
        osr_buf_append(&t->output, ev->text.p, ev->text.n); /* past the cap: dropped */
        break;
    case OSR_EV_TOOL_STARTED:
        snprintf(t->step, sizeof(t->step), "running %.*s", (int)ev->name.n, ev->name.p);
        break;
    case OSR_EV_TOOL_DONE:
        e = json_object_new_object();
        json_object_object_add(e, "type", json_object_new_string("tool"));
        json_object_object_add(e, "tool", json_object_new_string_len(ev->name.p, (int)ev->name.n));
        json_object_object_add(e, "call_id", json_object_new_string_len(ev->id.p, (int)ev->id.n));
        json_object_object_add(e, "is_error", json_object_new_boolean(ev->is_error));
        json_object_object_add(e, "duration_ms", json_object_new_int64(ev->duration_ms));
        add_activity(t, e);
        break;
    case OSR_EV_TODO: {
        struct json_object *o = NULL;
        if (osr_json_parse(ev->text.p, ev->text.n, &o, NULL) == OSR_OK) {
            json_object_put(t->todo);
            t->todo = o;
            todo_progress(t);
            e = json_object_new_object();
            json_object_object_add(e, "type", json_object_new_string("todo"));
            json_object_object_add(e, "progress", json_object_new_double(t->progress));
            add_activity(t, e);
        }
        break;
    }
    case OSR_EV_ARTIFACT:
        e = json_object_new_object();
        json_object_object_add(e, "type", json_object_new_string("artifact"));
        json_object_object_add(e, "filename",
                               json_object_new_string_len(ev->name.p, (int)ev->name.n));
        json_object_object_add(e, "path", json_object_new_string_len(ev->id.p, (int)ev->id.n));
        add_activity(t, e);
        break;
    default:
        break;
    }
    pthread_mutex_unlock(&t->owner->lock);
    return 0;
}

static bool task_cancelled(void *ctx)
{
    struct task *t = ctx;
    return atomic_load(&t->cancel) != 0;
}

/* ---------------------------------------------------------------- the task's thread */

/* Records how a run ended; returns true when the task waits for a clarify answer. */
static bool record_end(struct task *t, int rc, struct osr_agent_result *res)
{
    free(t->summary);
    t->summary = NULL;
    switch (res->status) {
    case OSR_AGENT_COMPLETED:
    case OSR_AGENT_ANSWERED:
        t->state = T_COMPLETED;
        t->summary = osr_xstrdup(res->summary ? res->summary : res->text ? res->text : "");
        t->progress = 1.0;
        snprintf(t->step, sizeof(t->step), "done");
        return false;
    case OSR_AGENT_CLARIFY:
        t->state = T_AWAITING;
        free(t->question);
        t->question = osr_xstrdup(res->question ? res->question : "");
        json_object_put(t->options);
        t->options = json_object_get(res->options);
        snprintf(t->step, sizeof(t->step), "waiting for an answer");
        return true;
    case OSR_AGENT_CANCELLED:
        t->state = T_CANCELLED;
        return false;
    case OSR_AGENT_MAX_ITERATIONS:
    case OSR_AGENT_TIMED_OUT:
    case OSR_AGENT_FAILED:
    case OSR_AGENT_RUNNING:
        break;
    }
    t->state = atomic_load(&t->cancel) ? T_CANCELLED : T_FAILED;
    free(t->error);
    t->error = osr_xstrdup(res->status == OSR_AGENT_MAX_ITERATIONS ? "the iteration budget ran out"
                           : res->status == OSR_AGENT_TIMED_OUT   ? "the time budget ran out"
                           : res->error                           ? res->error
                           : rc == OSR_ENOTFOUND                  ? "the model is not available"
                                                                  : "the run failed");
    return false;
}

static void *task_main(void *arg)
{
    struct task *t = arg;
    struct osr_tasks *m = t->owner;
    struct osr_chat_cancel cancel = {.fn = task_cancelled, .ctx = t};
    struct task_sink ts = {.sink = {.emit = task_emit}, .t = t};
    ts.sink.ctx = &ts;
    char log[4096];
    snprintf(log, sizeof(log), "%s/logs/folder-actions.jsonl", m->home);
    struct osr_agent_run_opts o = {
        .svc = m->svc,
        .tools = m->tools,
        .home = m->home,
        .agent = t->agent,
        .model = t->model,
        .folder = t->folder,
        .session_id = t->session_id,
        .max_iterations = t->max_iterations,
        .cancel = &cancel,
        .folder_log = log,
        .record = m->record,
        .record_ctx = m->record_ctx,
    };
    for (;;) {
        struct osr_agent_result res;
        int rc = osr_agent_run(&o, &t->req, &ts.sink, &res);
        pthread_mutex_lock(&m->lock);
        bool wait = record_end(t, rc, &res);
        t->updated_ms = osr_wall_ms();
        osr_agent_result_release(&res);
        pthread_cond_broadcast(&m->cond);
        while (wait && !t->answer && !atomic_load(&t->cancel))
            pthread_cond_wait(&m->cond, &m->lock);
        char *answer = wait && !atomic_load(&t->cancel) ? t->answer : NULL;
        if (wait && !answer)
            t->state = T_CANCELLED;
        if (answer) {
            t->answer = NULL;
            t->state = T_RUNNING;
            snprintf(t->step, sizeof(t->step), "going on with the answer");
        }
        pthread_mutex_unlock(&m->lock);
        if (!answer)
            break;
        struct osr_message *msg = osr_chat_request_add_message(&t->req, OSR_ROLE_USER);
        int arc = msg ? osr_chat_message_add_text(&t->req, msg, answer, strlen(answer)) : OSR_ETOOBIG;
        free(answer);
        if (arc) {
            pthread_mutex_lock(&m->lock);
            t->state = T_FAILED;
            t->error = osr_xstrdup("the conversation grew past its size limit");
            pthread_mutex_unlock(&m->lock);
            break;
        }
    }
    pthread_mutex_lock(&m->lock);
    t->done = true;
    t->updated_ms = osr_wall_ms();
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
    OSR_INFO("task %s: %s", t->id, state_name(t->state));
    return NULL;
}

/* ---------------------------------------------------------------- the manager */

static void task_free(struct task *t)
{
    free(t->agent_id);
    free(t->title);
    free(t->model);
    free(t->folder);
    free(t->session_id);
    json_object_put(t->agent);
    osr_chat_request_release(&t->req);
    osr_buf_release(&t->output);
    json_object_put(t->activity);
    json_object_put(t->todo);
    free(t->summary);
    free(t->question);
    free(t->error);
    json_object_put(t->options);
    free(t->answer);
    free(t);
}

struct osr_tasks *osr_tasks_new(const struct osr_tasks_opts *o)
{
    struct osr_tasks *m = osr_xcalloc(1, sizeof(*m));
    m->svc = o->svc;
    m->tools = o->tools;
    m->record = o->record;
    m->record_ctx = o->record_ctx;
    m->home = osr_xstrdup(o->home ? o->home : ".");
    m->max_running = o->max_running > 0 ? o->max_running : OSR_TASKS_MAX_RUNNING_DEFAULT;
    m->max_kept = o->max_kept > 0 ? o->max_kept : OSR_TASKS_MAX_KEPT_DEFAULT;
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->cond, NULL);
    return m;
}

/* Joins finished threads and forgets the oldest finished tasks past max_kept.  Called with
 * the lock held (the joined threads have returned already, so the joins are quick). */
static void reap(struct osr_tasks *m)
{
    int kept = 0;
    struct task **pp = &m->tasks;
    while (*pp) {
        struct task *t = *pp;
        if (t->done && !t->joined) {
            pthread_join(t->thread, NULL);
            t->joined = true;
        }
        if (t->joined && ++kept > m->max_kept) {
            *pp = t->next;
            task_free(t);
            continue;
        }
        pp = &t->next;
    }
}

void osr_tasks_free(struct osr_tasks *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    m->closing = true;
    for (struct task *t = m->tasks; t; t = t->next)
        atomic_store(&t->cancel, 1);
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
    for (struct task *t = m->tasks; t; t = t->next)
        if (!t->joined)
            pthread_join(t->thread, NULL);
    while (m->tasks) {
        struct task *t = m->tasks;
        m->tasks = t->next;
        task_free(t);
    }
    pthread_cond_destroy(&m->cond);
    pthread_mutex_destroy(&m->lock);
    free(m->home);
    free(m);
}

static struct task *find(struct osr_tasks *m, const char *id)
{
    for (struct task *t = m->tasks; t; t = t->next)
        if (strcmp(t->id, id) == 0)
            return t;
    return NULL;
}

int osr_tasks_dispatch(struct osr_tasks *m, const struct osr_task_spec *s,
                       char id[OSR_UUID_STRLEN + 1], struct osr_diag *diag)
{
    if (!s->prompt || osr_str_trim(osr_str_cstr(s->prompt)).n == 0)
        return osr_diag_set(diag, OSR_EINVAL, "prompt is required");
    if (strlen(s->prompt) > OSR_TASK_PROMPT_MAX)
        return osr_diag_set(diag, OSR_ETOOBIG, "prompt is longer than %zu bytes",
                            OSR_TASK_PROMPT_MAX);
    struct osr_agent_run_opts probe = {.agent = s->agent, .model = s->model};
    const char *model = osr_agent_model(&probe);
    struct osr_chat_backend *b;
    if (!model)
        return osr_diag_set(diag, OSR_ENOTFOUND,
                            "no model: the agent has no default model and none was given");
    if (osr_chat_service_resolve(m->svc, model, &b, NULL) != OSR_OK)
        return osr_diag_set(diag, OSR_ENOTFOUND, "model '%s' not found", model);

    struct task *t = osr_xcalloc(1, sizeof(*t));
    t->owner = m;
    osr_uuid_v4(t->id);
    t->agent_id = osr_xstrdup(s->agent_id ? s->agent_id : "");
    struct osr_str first;
    osr_str_split(osr_str_cstr(s->prompt), '\n', &first);
    t->title = s->title && s->title[0] ? osr_xstrdup(s->title)
                                       : osr_xstrndup(first.p, first.n > 120 ? 120 : first.n);
    t->model = osr_xstrdup(model);
    t->folder = s->folder ? osr_xstrdup(s->folder) : NULL;
    t->session_id = osr_xstrdup(s->session_id && s->session_id[0] ? s->session_id : t->id);
    t->agent = json_object_get(s->agent);
    t->max_iterations = s->max_iterations;
    osr_chat_request_init(&t->req, OSR_CHAT_ARENA_MAX);
    t->req.source = OSR_SOURCE_HTTP;
    t->req.session_id = osr_chat_request_strndup(&t->req, t->session_id, strlen(t->session_id));
    struct osr_message *msg = osr_chat_request_add_message(&t->req, OSR_ROLE_USER);
    osr_chat_message_add_text(&t->req, msg, s->prompt, strlen(s->prompt));
    osr_buf_init(&t->output, OUTPUT_MAX);
    t->activity = json_object_new_array();
    t->state = T_RUNNING;
    t->created_ms = t->updated_ms = osr_wall_ms();
    snprintf(t->step, sizeof(t->step), "starting");

    pthread_mutex_lock(&m->lock);
    reap(m);
    int running = 0;
    for (struct task *x = m->tasks; x; x = x->next)
        running += !x->done;
    int rc = OSR_OK;
    if (m->closing) {
        rc = osr_diag_set(diag, OSR_ECLOSED, "the server is shutting down");
    } else if (running >= m->max_running) {
        rc = osr_diag_set(diag, OSR_EBUSY, "%d tasks are running already; try again later",
                          running);
    } else if (pthread_create(&t->thread, NULL, task_main, t) != 0) {
        rc = osr_diag_set(diag, OSR_EIO, "cannot start a thread for the task");
    } else {
        t->next = m->tasks;
        m->tasks = t;
        memcpy(id, t->id, sizeof(t->id));
    }
    pthread_mutex_unlock(&m->lock);
    if (rc)
        task_free(t);
    return rc;
}

static void put_time(struct json_object *o, const char *key, int64_t ms)
{
    char when[OSR_ISO8601_MAX];
    osr_time_iso8601(when, ms, 1);
    json_object_object_add(o, key, json_object_new_string(when));
}

int osr_tasks_get(struct osr_tasks *m, const char *id, struct json_object **out)
{
    pthread_mutex_lock(&m->lock);
    struct task *t = find(m, id);
    if (!t) {
        pthread_mutex_unlock(&m->lock);
        return OSR_ENOTFOUND;
    }
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(t->id));
    json_object_object_add(o, "agent_id", json_object_new_string(t->agent_id));
    json_object_object_add(o, "title", json_object_new_string(t->title));
    json_object_object_add(o, "model", json_object_new_string(t->model));
    json_object_object_add(o, "session_id", json_object_new_string(t->session_id));
    json_object_object_add(o, "status", json_object_new_string(state_name(t->state)));
    json_object_object_add(o, "progress", json_object_new_double(t->progress));
    json_object_object_add(o, "current_step", json_object_new_string(t->step));
    json_object_object_add(o, "activity", json_object_get(t->activity));
    json_object_object_add(o, "output",
                           json_object_new_string_len(t->output.len ? t->output.data : "",
                                                      (int)t->output.len));
    if (t->todo)
        json_object_object_add(o, "todo", json_object_get(t->todo));
    if (t->summary)
        json_object_object_add(o, "summary", json_object_new_string(t->summary));
    if (t->state == T_AWAITING && t->question) {
        json_object_object_add(o, "question", json_object_new_string(t->question));
        if (t->options)
            json_object_object_add(o, "options", json_object_get(t->options));
    }
    if (t->error && t->state == T_FAILED)
        json_object_object_add(o, "error", json_object_new_string(t->error));
    put_time(o, "created_at", t->created_ms);
    put_time(o, "updated_at", t->updated_ms);
    pthread_mutex_unlock(&m->lock);
    /* a deep copy, so the caller never shares the live activity array */
    struct json_object *copy = NULL;
    json_object_deep_copy(o, &copy, NULL);
    json_object_put(o);
    *out = copy;
    return copy ? OSR_OK : OSR_ENOMEM;
}

int osr_tasks_cancel(struct osr_tasks *m, const char *id)
{
    pthread_mutex_lock(&m->lock);
    struct task *t = find(m, id);
    if (t && !t->done) {
        atomic_store(&t->cancel, 1);
        pthread_cond_broadcast(&m->cond);
    }
    pthread_mutex_unlock(&m->lock);
    return t ? OSR_OK : OSR_ENOTFOUND;
}

int osr_tasks_clarify(struct osr_tasks *m, const char *id, const char *answer,
                      struct osr_diag *diag)
{
    if (!answer || osr_str_trim(osr_str_cstr(answer)).n == 0)
        return osr_diag_set(diag, OSR_EINVAL, "response is required");
    pthread_mutex_lock(&m->lock);
    struct task *t = find(m, id);
    int rc = OSR_OK;
    if (!t) {
        rc = osr_diag_set(diag, OSR_ENOTFOUND, "task '%s' not found", id);
    } else if (t->state != T_AWAITING || t->answer) {
        rc = osr_diag_set(diag, OSR_EINVAL, "the task is %s, not waiting for an answer",
                          state_name(t->state));
    } else {
        t->answer = osr_xstrdup(answer);
        pthread_cond_broadcast(&m->cond);
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

int osr_tasks_wait(struct osr_tasks *m, const char *id, bool or_clarify, int64_t timeout_ms)
{
    int64_t end = osr_mono_ns() + timeout_ms * 1000000;
    pthread_mutex_lock(&m->lock);
    int rc = OSR_OK;
    for (;;) {
        struct task *t = find(m, id);
        if (!t) {
            rc = OSR_ENOTFOUND;
            break;
        }
        if (t->done || (or_clarify && t->state == T_AWAITING && !t->answer))
            break;
        if (osr_mono_ns() >= end) {
            rc = OSR_ETIMEOUT;
            break;
        }
        pthread_mutex_unlock(&m->lock);
        osr_sleep_ms(10);
        pthread_mutex_lock(&m->lock);
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}
