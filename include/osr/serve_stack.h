/* serve_stack.h - everything `osaurus serve` puts behind the HTTP server, built in one place:
 * the model registry, the chat service with its backends (the local engine first, then the
 * cloud providers of providers/remote.json), the chat history (encrypted by default), the
 * protocol routes and the model routes.
 *
 * Thread rules: init before the server starts and release after it is freed, on one thread.
 */
#ifndef OSR_SERVE_STACK_H
#define OSR_SERVE_STACK_H

#include "osr/agents.h"
#include "osr/api_agent_run.h"
#include "osr/api_models.h"
#include "osr/api_routes.h"
#include "osr/chat_service.h"
#include "osr/config.h"
#include "osr/history.h"
#include "osr/http_server.h"
#include "osr/mcp.h"
#include "osr/mcp_client.h"
#include "osr/registry.h"

struct osr_serve_stack {
    struct osr_registry *reg;
    struct osr_chat_service *svc;
    struct osr_chat_backend *local; /* owned by svc */
    struct osr_history *history;    /* NULL when it could not be opened (logged) */
    struct osr_chat_routes *routes;
    struct osr_api_models models;
    struct osr_tools *tools;  /* the tools the MCP routes serve: built-ins, MCP providers' */
    struct osr_mcp_clients *mcp_clients; /* providers/mcp.json; NULL when it is unusable */
    struct osr_mcp_http *mcp; /* /mcp and the /mcp/ REST routes */
    struct osr_agents *agents; /* agents/<uuid>.json behind the /agents routes */
    struct osr_tasks *tasks;   /* background agent tasks (/agents/{id}/dispatch, /tasks) */
    struct osr_api_agent_run run; /* the context of /agents/{id}/run and the task routes */
    char *home;
};

/* Builds the stack for home and registers its routes on srv (NULL: no routes, for in-process
 * use such as `osaurus run`).  Problems with providers or the history are logged and leave
 * those parts out; the routes are always registered. */
void osr_serve_stack_init(struct osr_serve_stack *st, struct osr_http_server *srv, const char *home,
                          const struct osr_server_config *cfg);
void osr_serve_stack_release(struct osr_serve_stack *st);

/* Appends the local models loaded now (/api/ps objects) to models; ctx: the stack. */
void osr_serve_stack_loaded(struct json_object *models, void *ctx);

/* An osr_agent_record_fn (ctx: the stack) that stores an agent run's conversation in the chat
 * history, tagged with the agent and the request's source. */
void osr_serve_stack_record_run(void *ctx, const struct osr_chat_request *req, size_t n_before,
                                const char *agent_id);

#endif
