/* api_agent_run.h - the routes that run agents on the server:
 *
 *   POST   /agents/{id}/run       an OpenAI Chat Completions body ("model" optional: the
 *                                 agent's defaultModel) -> the agent loop; with "stream":true
 *                                 OpenAI SSE whose content is the model's text, plus extension
 *                                 chunks with "choices":[] carrying "osaurus_agent_tool"
 *                                 {phase:"started"|"completed", name, call_id, category,
 *                                 arguments (scrubbed, <= 8000 chars), result (<= 16000,
 *                                 result_truncated), is_error, duration_ms} and
 *                                 "osaurus_artifacts"; ends with data: [DONE].  Without stream,
 *                                 one chat.completion body.
 *   POST   /agents/{id}/dispatch  {"prompt", "title"?, "model"?, "session_id"?} -> 202
 *                                 {"id","status":"running","poll_url":"/v1/tasks/<id>"}
 *   GET    /tasks/{id}            the task's state (tasks.h)
 *   DELETE /tasks/{id}            cancel -> 204
 *   POST   /tasks/{id}/clarify    {"response"} -> {"status":"ok"}
 *
 * As the original, running an agent is refused with 426 secure_channel_required to callers
 * that are not on this machine (the secure channel is not built yet), and agent-scoped access
 * keys reach only their own agent (the auth gate's rule for /agents/{id}/...).  Tools that
 * need approval ("ask") are refused here: there is nobody to ask; tools.json can allow them.
 *
 * Ownership: everything in the context is borrowed and must outlive the server.
 */
#ifndef OSR_API_AGENT_RUN_H
#define OSR_API_AGENT_RUN_H

#include "osr/agent_loop.h"
#include "osr/agents.h"
#include "osr/chat_service.h"
#include "osr/http_server.h"
#include "osr/tasks.h"
#include "osr/tools.h"

struct osr_api_agent_run {
    struct osr_agents *agents;
    struct osr_chat_service *svc;
    struct osr_tools *tools; /* may be NULL */
    struct osr_tasks *tasks;
    const char *home;
    osr_agent_record_fn record; /* stores each run's conversation; may be NULL */
    void *record_ctx;
};

void osr_api_agent_run_register(struct osr_http_server *srv, struct osr_api_agent_run *ctx);

/* The "osaurus_agent_tool" chunk for a TOOL_STARTED or TOOL_DONE event (exposed for tests):
 * appends "data: {...}\n\n" to out.  Returns OSR_OK or OSR_ETOOBIG. */
int osr_api_agent_tool_chunk(struct osr_buf *out, const char *id, const char *model,
                             int64_t created, const struct osr_event *ev);

/* A copy of a tool's arguments (JSON text) with the values of secret-looking keys (password,
 * secret, token, api_key, authorization, ...) replaced by "[redacted]", cut to max bytes.  The
 * caller frees it. */
char *osr_api_agent_scrub_args(const char *json, size_t n, size_t max);

#endif
