/* agents.h - agents as files: <home>/agents/<uuid>.json, one JSON document per agent with the
 * original's camelCase field names (id, name, description, systemPrompt, enabledTools{},
 * enabledSkills{}, defaultModel, temperature, maxTokens, isBuiltIn, createdAt, updatedAt, ...).
 * Fields this code does not know are kept as they are on update.
 *
 * A built-in default agent (OSR_AGENT_DEFAULT_ID, isBuiltIn true) is always listed first; it
 * lives in memory unless a file overrides it, and it cannot be deleted.
 *
 * Ownership: documents handed out are new json trees the caller releases with json_object_put;
 * documents passed in are borrowed.
 * Thread rules: one mutex guards every operation; a store may be shared by threads.
 */
#ifndef OSR_AGENTS_H
#define OSR_AGENTS_H

#include <json-c/json.h>

#include "osr/err.h"

#define OSR_AGENT_DEFAULT_ID "00000000-0000-0000-0000-000000000001"
#define OSR_AGENT_MAX_FILE (1024 * 1024)
#define OSR_AGENT_MAX_COUNT 4096

struct osr_agents;

/* Opens the store for home (copied).  Nothing is created until the first write.  Returns NULL
 * only when out of memory. */
struct osr_agents *osr_agents_open(const char *home);
void osr_agents_free(struct osr_agents *st);

/* *out: a new array of agent documents, the built-in first, then by createdAt.  Malformed
 * files are skipped with a logged warning. */
int osr_agents_list(struct osr_agents *st, struct json_object **out, struct osr_diag *diag);

/* *out: the agent, or OSR_ENOTFOUND (also for ids that are not UUIDs). */
int osr_agents_get(struct osr_agents *st, const char *id, struct json_object **out,
                   struct osr_diag *diag);

/* Creates an agent from fields (camelCase keys; id, isBuiltIn, createdAt and updatedAt are
 * set here).  OSR_EINVAL with a message naming the field when validation fails.  *out (may be
 * NULL) receives the stored document. */
int osr_agents_create(struct osr_agents *st, struct json_object *fields, struct json_object **out,
                      struct osr_diag *diag);

/* Merges fields over the stored agent (null removes a field); id, isBuiltIn and createdAt
 * cannot change.  OSR_ENOTFOUND, OSR_EINVAL. */
int osr_agents_update(struct osr_agents *st, const char *id, struct json_object *fields,
                      struct json_object **out, struct osr_diag *diag);

/* Removes the agent's file.  OSR_EPERM for the built-in, OSR_ENOTFOUND. */
int osr_agents_delete(struct osr_agents *st, const char *id, struct osr_diag *diag);

/* Checks a whole document: name a non-empty string, temperature a number in 0..2, maxTokens an
 * integer > 0, string fields strings, enabledTools/enabledSkills/settings objects. */
int osr_agents_validate(struct json_object *doc, struct osr_diag *diag);

#endif
