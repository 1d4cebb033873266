/* tasks.h - background agent tasks: POST /agents/{id}/dispatch starts one, GET /tasks/{id}
 * follows it, DELETE /tasks/{id} cancels it, POST /tasks/{id}/clarify answers its question.
 *
 * A task is one agent run (agent_loop.h) on a thread of its own, started from a prompt.  While
 * it runs, its state is kept in memory: status (running, awaiting_clarification, completed,
 * failed, cancelled), progress (the share of its todo checklist done), the current step, an
 * activity feed of tool calls, the model's output, and at the end the summary or the error.
 * A task that calls clarify waits (still counted as running) until it is answered or
 * cancelled, then goes on with the answer as the user's next message.
 *
 * At most max_running tasks run at once (a further dispatch is refused with OSR_EBUSY); the
 * newest max_kept finished tasks stay queryable.
 *
 * Thread rules: every function is safe from any thread.  osr_tasks_free cancels what still
 * runs and waits for it.
 */
#ifndef OSR_TASKS_H
#define OSR_TASKS_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "osr/agent_loop.h"
#include "osr/chat.h"
#include "osr/chat_service.h"
#include "osr/err.h"
#include "osr/tools.h"
#include "osr/uuid.h"

#define OSR_TASKS_MAX_RUNNING_DEFAULT 4
#define OSR_TASKS_MAX_KEPT_DEFAULT 200
#define OSR_TASK_PROMPT_MAX ((size_t)1024 * 1024)

struct osr_tasks_opts {
    struct osr_chat_service *svc; /* borrowed */
    struct osr_tools *tools;      /* borrowed; may be NULL */
    const char *home;             /* copied; for artifacts and the folder log */
    int max_running;              /* 0: the default */
    int max_kept;                 /* 0: the default */
    osr_agent_record_fn record;   /* stores each run's conversation; may be NULL */
    void *record_ctx;
};

struct osr_task_spec {
    struct json_object *agent; /* the agent document (a reference is taken) */
    const char *agent_id;
    const char *prompt;
    const char *title;      /* or NULL: the prompt's first line */
    const char *model;      /* or NULL: the agent's default model */
    const char *session_id; /* or NULL: the task id */
    const char *folder;     /* or NULL: the agent's working folder */
    int max_iterations;     /* 0: the loop's default */
};

struct osr_tasks;

struct osr_tasks *osr_tasks_new(const struct osr_tasks_opts *o);
void osr_tasks_free(struct osr_tasks *t);

/* Starts a task; its id goes to id.  OSR_EBUSY when max_running tasks are running,
 * OSR_EINVAL (diag) for an empty prompt, OSR_ENOTFOUND (diag) when no model is known. */
int osr_tasks_dispatch(struct osr_tasks *t, const struct osr_task_spec *spec,
                       char id[OSR_UUID_STRLEN + 1], struct osr_diag *diag);

/* *out: a new object {id, agent_id, title, status, progress, current_step, activity[], output,
 * summary?, question?, options?, error?, todo?, created_at, updated_at}.  OSR_ENOTFOUND. */
int osr_tasks_get(struct osr_tasks *t, const char *id, struct json_object **out);

/* Asks a task to stop (a finished task is left as it is).  OSR_ENOTFOUND. */
int osr_tasks_cancel(struct osr_tasks *t, const char *id);

/* Answers a task waiting on clarify.  OSR_ENOTFOUND, OSR_EINVAL (diag) when it is not
 * waiting or the answer is empty. */
int osr_tasks_clarify(struct osr_tasks *t, const char *id, const char *answer,
                      struct osr_diag *diag);

/* Waits until the task is no longer running (finished, or waiting on clarify when
 * or_clarify), at most timeout_ms.  Returns OSR_OK, OSR_ETIMEOUT or OSR_ENOTFOUND.  For
 * tests and the CLI. */
int osr_tasks_wait(struct osr_tasks *t, const char *id, bool or_clarify, int64_t timeout_ms);

#endif
