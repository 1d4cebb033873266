/* agent_loop.h - the agent loop: one implementation of "the model plans, calls tools, reads
 * their results and goes on until it is done", used by every caller (/agents/{id}/run,
 * background tasks, `osaurus run`).
 *
 * One run takes a conversation (a canonical chat request whose messages end with the user's
 * turn) and an agent document (agents.h), and repeats:
 *   1. ask the model (through the chat service) with the agent's system prompt and the tools
 *      the agent may use;
 *   2. stream its text and reasoning to the caller's sink;
 *   3. run the tool calls it made, in the model's order, each through the Tool Contract
 *      (tools.h), and append the calls and their envelopes to the conversation;
 * until the model calls `complete` (done), calls `clarify` (paused for the user's answer),
 * answers without calling a tool, runs out of iterations or time, or the caller cancels.
 *
 * The four loop tools are ordinary tools of a per-run registry whose results the loop reads:
 *   todo {markdown}                     replaces the run's checklist (an OSR_EV_TODO event)
 *   complete {summary}                  ends the run; placeholder summaries are refused
 *   clarify {question, options?, allowMultiple?}   pauses the run
 *   share_artifact {path | content+filename, description?}  copies a file of the working
 *                                       folder, or writes content, into
 *                                       <home>/artifacts/<session>/ (an OSR_EV_ARTIFACT event)
 * With a working folder (the agent's "workingFolderPath" or the caller's), the folder tools
 * (folder_tools.h) join them; every other tool comes from the shared registry.  The agent's
 * "enabledTools" map turns tools off by name.
 *
 * Events the sink sees: ROLE once, then the model's TEXT/REASONING deltas of every iteration,
 * TOOL_STARTED / TOOL_DONE around each tool call (id, name, arguments / envelope), TODO,
 * ARTIFACT, the summed USAGE, and one FINISH (stop when completed, clarified or answered;
 * length when a budget ran out) or ERROR.  The model's own tool-call deltas are not passed on:
 * the tools run here.  When the run ends with complete or clarify, the summary or question is
 * also sent as text, so a plain chat client shows it.
 *
 * Thread rules: osr_agent_run runs on the caller's thread; tools run on it too.  Everything it
 * borrows must stay alive for the call.
 */
#ifndef OSR_AGENT_LOOP_H
#define OSR_AGENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "osr/chat.h"
#include "osr/chat_service.h"
#include "osr/err.h"
#include "osr/tools.h"

#define OSR_AGENT_MAX_ITERATIONS_DEFAULT 30
#define OSR_AGENT_MAX_ITERATIONS_CAP 200
#define OSR_AGENT_TIME_BUDGET_DEFAULT_MS ((int64_t)30 * 60 * 1000)
#define OSR_AGENT_SUMMARY_MIN 30 /* a complete summary shorter than this is refused */

enum osr_agent_status {
    OSR_AGENT_RUNNING,    /* not ended yet (never the status of a returned run) */
    OSR_AGENT_COMPLETED,  /* the model called complete */
    OSR_AGENT_CLARIFY,    /* the model called clarify: waiting for the user's answer */
    OSR_AGENT_ANSWERED,   /* the model answered without a tool call */
    OSR_AGENT_MAX_ITERATIONS,
    OSR_AGENT_TIMED_OUT,
    OSR_AGENT_CANCELLED,
    OSR_AGENT_FAILED, /* the model could not be reached or answered with an error */
};

/* What the caller learns about a run; fields are heap strings owned by the result (NULL when
 * absent).  Release with osr_agent_result_release. */
struct osr_agent_result {
    enum osr_agent_status status;
    char *summary;                /* COMPLETED: the complete summary */
    char *question;               /* CLARIFY: the question */
    struct json_object *options;  /* CLARIFY: array of option strings, or NULL */
    bool allow_multiple;          /* CLARIFY */
    char *todo;                   /* the last checklist (markdown), or NULL */
    char *text;                   /* the model's text of the last iteration */
    char *error;                  /* FAILED: what went wrong */
    int iterations;               /* model turns taken */
    int tool_calls;               /* tools run */
    struct osr_usage usage;       /* summed over the iterations (-1 when unknown) */
};

/* Stores a finished run's conversation (chat history); n_before is the number of messages
 * other than system/developer ones the conversation had before the run, agent_id the agent's "id" (or NULL). */
typedef void (*osr_agent_record_fn)(void *ctx, const struct osr_chat_request *req,
                                    size_t n_before, const char *agent_id);

/* Called after each tool call (for progress displays and task activity feeds); may be NULL. */
typedef void (*osr_agent_step_fn)(void *ctx, const char *tool, const char *arguments,
                                  struct json_object *envelope);

struct osr_agent_run_opts {
    struct osr_chat_service *svc;   /* the models */
    struct osr_tools *tools;        /* shared tools (built-ins, MCP); may be NULL */
    const char *home;               /* for artifacts/; NULL: share_artifact is unavailable */
    struct json_object *agent;      /* the agent document (borrowed); NULL: no agent settings */
    const char *model;              /* overrides the agent's defaultModel when non-NULL */
    const char *folder;             /* overrides the agent's workingFolderPath when non-NULL */
    const char *session_id;         /* for artifacts; NULL: one is made up */
    int max_iterations;             /* 0: the default */
    int64_t time_budget_ms;         /* 0: the default */
    osr_tool_approve_fn approve;    /* for tools whose policy is "ask"; NULL refuses them */
    void *approve_ctx;
    const struct osr_chat_cancel *cancel; /* may be NULL */
    osr_agent_step_fn on_step;
    void *step_ctx;
    const char *folder_log;         /* JSONL log of folder writes and commands, or NULL */
    osr_agent_record_fn record;     /* called once when the run ends (not for a run that never
                                     * reached the model); may be NULL */
    void *record_ctx;
};

/* Runs the loop on req (its messages are the conversation; its model, tools and tool choice
 * are set here).  req grows by the turns taken, so a caller can continue it (after clarify,
 * append the user's answer and run again).  Returns OSR_OK when the run ended in any of the
 * statuses above (an ERROR or FINISH was emitted), OSR_ECANCELED when the sink said the
 * consumer is gone, or OSR_ENOTFOUND (nothing emitted) when no model is set or the model is
 * unknown.  res is filled in every case. */
int osr_agent_run(const struct osr_agent_run_opts *o, struct osr_chat_request *req,
                  struct osr_sink *sink, struct osr_agent_result *res);

void osr_agent_result_release(struct osr_agent_result *res);

/* The tools an agent run adds of its own, as osr_tools_list(verbose) entries with the policies
 * of home's config/tools.json (home may be NULL): the loop tools (source "loop") and the
 * folder tools of a run with a working folder (source "folder").  For listings such as
 * `osaurus tools list`.  Returns a new array (never NULL). */
struct json_object *osr_agent_run_tools(const char *home);
const char *osr_agent_status_name(enum osr_agent_status s);

/* The model a run uses: o->model, else the agent's defaultModel, else NULL. */
const char *osr_agent_model(const struct osr_agent_run_opts *o);

/* Checks a complete summary as the original does: at least OSR_AGENT_SUMMARY_MIN characters
 * and not a placeholder ("done", "ok", "looks good", "complete", "finished").  Returns NULL
 * when acceptable, else the reason. */
const char *osr_agent_check_summary(const char *summary);

/* Parses a todo checklist: items are "- [ ] text" / "- [x] text" lines indented at most six
 * spaces; other lines are ignored.  Returns a new array of {"text","done"} (never NULL). */
struct json_object *osr_agent_parse_todo(const char *markdown);

#endif
