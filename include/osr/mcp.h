/* mcp.h - the Model Context Protocol server: the method dispatcher and its HTTP transports.
 *
 * The dispatcher answers JSON-RPC 2.0 messages for the MCP methods initialize, ping,
 * tools/list and tools/call (and accepts notifications such as notifications/initialized).
 * Tools come from a backend: the local tool registry for the server, or a proxy to a running
 * server for `osaurus mcp`.  Every tools/call result carries the Tool Contract envelope as its
 * text content; isError is true when the envelope says "ok":false.
 *
 * Protocol versions 2025-06-18, 2025-03-26 and 2024-11-05 are spoken.  initialize answers the
 * client's version when it is one of them, else the newest.  Batches (JSON arrays of
 * messages) are accepted for 2025-03-26 and 2024-11-05 and refused for 2025-06-18, which
 * removed them.  structuredContent is added for 2025-06-18.
 *
 * HTTP (osr_mcp_http_register): Streamable HTTP at POST/DELETE /mcp with Mcp-Session-Id
 * sessions, and the original's REST projection GET /mcp/health, GET /mcp/tools and
 * POST /mcp/call; all behind the global auth gate.
 *
 * Ownership: backends are borrowed and must outlive the server objects; returned JSON is new.
 * Thread rules: osr_mcp_handle is reentrant (state lives in the caller's session struct); the
 * HTTP side keeps its session table behind a mutex.
 */
#ifndef OSR_MCP_H
#define OSR_MCP_H

#include <stdbool.h>

#include <json-c/json.h>

#include "osr/http_server.h"
#include "osr/tools.h"

#define OSR_MCP_LATEST_VERSION "2025-06-18"
#define OSR_MCP_MAX_BODY (4u * 1024 * 1024)
#define OSR_MCP_MAX_BATCH 64

struct osr_mcp_backend {
    /* A new array of {"name","description","inputSchema"}. */
    struct json_object *(*list)(void *ctx);
    /* A new Tool Contract envelope for calling name with args (an object, borrowed). */
    struct json_object *(*call)(void *ctx, const char *name, struct json_object *args);
    /* True when a tool by that name is listed (unknown tools are a JSON-RPC error). */
    bool (*has)(void *ctx, const char *name);
    void *ctx;
};

/* Per-connection protocol state; zero-initialize before the first message. */
struct osr_mcp_session {
    char protocol[16]; /* negotiated version; "" until initialize */
    bool initialized;  /* notifications/initialized seen */
};

struct osr_mcp_info {
    const char *name;         /* serverInfo.name */
    const char *version;      /* serverInfo.version */
    const char *instructions; /* may be NULL */
};

/* True for the protocol versions this server speaks. */
bool osr_mcp_version_supported(const char *version);

/* Handles one message or a batch.  Returns the reply (object, or array for a batch) or NULL
 * when nothing is to be sent (notifications and responses only). */
struct json_object *osr_mcp_handle(const struct osr_mcp_info *info,
                                   const struct osr_mcp_backend *be, struct osr_mcp_session *s,
                                   struct json_object *msg);

/* Handles raw text (n bytes): malformed JSON gets a -32700 reply.  Returns the reply text
 * (heap, caller frees) or NULL when nothing is to be sent. */
char *osr_mcp_handle_text(const struct osr_mcp_info *info, const struct osr_mcp_backend *be,
                          struct osr_mcp_session *s, const char *text, size_t n);

/* The backend over a tool registry (ctx = the registry; calls use no approver, so "ask"
 * tools are rejected and "deny" tools are neither listed nor callable). */
void osr_mcp_backend_tools(struct osr_mcp_backend *be, struct osr_tools *tools);

/* The {content:[{type:"text",text}],isError} result for an envelope (borrowed). */
struct json_object *osr_mcp_call_result(struct json_object *envelope, bool structured);

/* --- HTTP ----------------------------------------------------------------------------------- */
struct osr_mcp_http;

/* Creates the HTTP side over tools (borrowed). */
struct osr_mcp_http *osr_mcp_http_new(struct osr_tools *tools);
void osr_mcp_http_free(struct osr_mcp_http *h);
/* Browser origins allowed to call the POST/DELETE routes besides loopback pages (copied; "*"
 * allows any).  Requests carrying another Origin get 403 (DNS-rebinding and cross-site
 * protection, as the Streamable HTTP spec requires); requests without Origin (non-browser
 * clients) are not affected. */
void osr_mcp_http_set_origins(struct osr_mcp_http *h, char *const *origins, size_t n);
/* Registers /mcp, /mcp/health, /mcp/tools and /mcp/call on srv (before it starts). */
void osr_mcp_http_register(struct osr_http_server *srv, struct osr_mcp_http *h);

#endif
