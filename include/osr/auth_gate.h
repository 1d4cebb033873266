/* auth_gate.h - the access-key validator behind the HTTP server's gate.
 *
 * The server trusts loopback on its own (while not exposed, and never for relayed requests);
 * every other request to a gated route comes here.  The gate reads the osk-v1 key from
 * `Authorization: Bearer …` or Anthropic's `x-api-key`, verifies it against this install's
 * master address, the agents its keys were minted for, the whitelist and the revocations in
 * <home>/identity/, and answers with the original's 401 messages.  An agent-scoped key is
 * confined to its own agent's routes (/agents/{address}/…): anywhere else is a 403.
 *
 * The key store is re-read when its files change (checked on every request by mtime), so
 * `osaurus keys revoke` takes effect without a restart.
 *
 * Thread rules: osr_auth_gate_check may be called from any connection thread.
 */
#ifndef OSR_AUTH_GATE_H
#define OSR_AUTH_GATE_H

#include <stddef.h>

#include "osr/err.h"
#include "osr/http_server.h"

struct osr_auth_gate;

/* Creates a gate for the identity under home (which need not exist yet). */
struct osr_auth_gate *osr_auth_gate_new(const char *home);
void osr_auth_gate_free(struct osr_auth_gate *g);

/* An osr_http_auth_fn: ctx is the gate. */
int osr_auth_gate_check(void *ctx, struct osr_http_request *req, int *status, char *message,
                        size_t message_cap);

#endif
