/* api_agents.h - the /agents HTTP routes over the agents store.
 *
 *   GET /agents          {"agents":[{id,name,description,default_model,is_built_in,
 *                         memory_entry_count,created_at,updated_at}]}
 *   GET /agents/{id}     the agent: the list fields plus system_prompt, temperature,
 *                         max_tokens, enabled_tools
 *   POST /agents         create (201); PUT or PATCH /agents/{id} update (200);
 *   DELETE /agents/{id}  204, 403 for the built-in agent.
 * Bodies accept the original's camelCase keys or their snake_case forms.  Unknown ids get a 404
 * in OpenAI error shape.  All routes are behind the auth gate.
 *
 * Ownership: the store is borrowed and must outlive the server.
 */
#ifndef OSR_API_AGENTS_H
#define OSR_API_AGENTS_H

#include <json-c/json.h>

#include "osr/agents.h"
#include "osr/http_server.h"

void osr_api_agents_register(struct osr_http_server *srv, struct osr_agents *store);

/* The wire form (snake_case) of a stored agent document; full adds the detail fields.  The
 * caller owns the result. */
struct json_object *osr_api_agents_wire(struct json_object *doc, int full);

/* A new object with the body's keys renamed to the stored camelCase names (snake_case keys
 * mapped, others copied as they are).  The caller owns the result. */
struct json_object *osr_api_agents_fields(struct json_object *body);

#endif
