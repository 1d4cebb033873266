/* api_routes.h - the live protocol routes: chat, messages, responses, Ollama chat/generate,
 * legacy completions, embeddings and the Ollama version.
 *
 *   POST /chat/completions        OpenAI Chat Completions (JSON or SSE)
 *   POST /messages                Anthropic Messages (JSON or SSE)
 *   POST /messages/count_tokens   Anthropic token count (an estimate: bytes / 4)
 *   POST /responses               OpenAI Responses (JSON or SSE), stored and chained
 *   POST /chat, /generate         Ollama's own bodies (NDJSON or JSON)
 *   POST /completions             OpenAI legacy completions
 *   POST /embeddings              OpenAI at /v1/embeddings, Ollama's legacy body at /api/embeddings
 *   POST /embed                   Ollama
 *   GET  /version                 Ollama {"version":..}
 * Every route is behind the global gate (OSR_AUTH_GATED).  The model id picks the backend
 * through the chat service; an unknown model is a 404 in the protocol's own error shape.
 *
 * Thread rules: register before the server starts; handlers run on connection and producer
 * threads and share the routes object read-only (the history is used under a lock).
 */
#ifndef OSR_API_ROUTES_H
#define OSR_API_ROUTES_H

#include "osr/chat_service.h"
#include "osr/history.h"
#include "osr/http_server.h"

struct osr_chat_routes;

/* Returns the routes object; svc and history (may be NULL: no stored responses) are borrowed
 * and must outlive the server.  Free with osr_chat_routes_free after the server is freed. */
struct osr_chat_routes *osr_chat_routes_new(struct osr_chat_service *svc,
                                            struct osr_history *history);
void osr_chat_routes_free(struct osr_chat_routes *r);
void osr_chat_routes_register(struct osr_http_server *srv, struct osr_chat_routes *r);

/* Runs fn(history, ctx) under the routes' history lock (a history belongs to one thread at a
 * time), so other writers such as the agent routes share it.  Returns fn's result, or
 * OSR_ENOTFOUND (fn not called) when there is no history. */
int osr_chat_routes_with_history(struct osr_chat_routes *r,
                                 int (*fn)(struct osr_history *h, void *ctx), void *ctx);

#endif
