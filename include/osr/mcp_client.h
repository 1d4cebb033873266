/* mcp_client.h - the MCP client: remote MCP providers whose tools join the tool registry.
 *
 * Providers are configured in <home>/providers/mcp.json, the original's shape plus the newer
 * original's command (stdio) providers:
 *   {"providers":[{"id","name","url","enabled":true,"customHeaders":{},
 *     "streamingEnabled":false,"discoveryTimeout":20,"toolCallTimeout":45,"autoConnect":true,
 *     "secretHeaderKeys":[],  "command","args":[],"env":{},"secretEnvKeys":[]}]}
 * A provider has either "url" (Streamable HTTP) or "command" (stdio, newline-delimited JSON-RPC
 * with a child process).  Unknown fields are accepted and ignored (the file is never written
 * here).  Values of secretHeaderKeys / secretEnvKeys come from the encrypted secret store
 * (secrets.h), scope "mcp:<provider id>", name = the header or variable name; they are never
 * read from mcp.json and never logged.
 *
 * On connect the client sends initialize (protocol 2025-06-18; an older version the server
 * answers with is accepted when it is one we speak), notifications/initialized and tools/list
 * (following nextCursor), and registers every tool as "<provider id>_<tool>" (characters
 * outside [A-Za-z0-9_-] become '_', cut to 64) with source "mcp" and policy "ask" (tools.json
 * may override it).  Calling such a tool sends tools/call and maps the answer to the Tool
 * Contract: text items -> result {"text"} (+ "structuredContent"), isError -> execution_error,
 * transport failure -> unavailable, no answer within toolCallTimeout -> timeout.
 *
 * A manager (osr_mcp_clients_*) owns every provider.  With a background thread it connects,
 * pings connected providers, notices drops (a dead child, a refused connection, an expired
 * session) and reconnects with exponential backoff (1 s, 2 s, 4 s ... 60 s), removing and
 * re-registering the provider's tools; notifications/tools/list_changed re-lists.
 *
 * Thread rules: the manager's functions may be called from any thread, but start/free once.
 * Registered tools are called from any thread (calls to one provider run concurrently).
 */
#ifndef OSR_MCP_CLIENT_H
#define OSR_MCP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "osr/err.h"
#include "osr/tools.h"

#define OSR_MCP_CLIENT_FILE_MAX ((size_t)1024 * 1024)        /* mcp.json */
#define OSR_MCP_CLIENT_MESSAGE_MAX ((size_t)8 * 1024 * 1024) /* one JSON-RPC message */
#define OSR_MCP_CLIENT_MAX_PROVIDERS 64
#define OSR_MCP_CLIENT_MAX_TOOLS 256 /* per provider */
#define OSR_MCP_CLIENT_MAX_ITEMS 64  /* header, argument, env entries each */

struct osr_mcp_kv {
    char *name;
    char *value;
};

/* One entry of mcp.json. */
struct osr_mcp_provider_config {
    char *id;
    char *name;
    char *url;     /* Streamable HTTP endpoint, or NULL for a command provider */
    char *command; /* stdio: the program (a path or a name looked up in PATH), or NULL */
    char **args;
    size_t n_args;
    struct osr_mcp_kv *headers; /* customHeaders */
    size_t n_headers;
    struct osr_mcp_kv *env; /* env (added to the inherited environment) */
    size_t n_env;
    char **secret_headers; /* secretHeaderKeys */
    size_t n_secret_headers;
    char **secret_env; /* secretEnvKeys */
    size_t n_secret_env;
    bool enabled;
    bool streaming;           /* streamingEnabled: also listen on the GET event stream */
    bool auto_connect;        /* connect at start (else only shown) */
    int discovery_timeout_ms; /* discoveryTimeout (seconds in the file) */
    int call_timeout_ms;      /* toolCallTimeout */
};

struct osr_mcp_config {
    struct osr_mcp_provider_config *items;
    size_t n;
};

/* Parses the text of an mcp.json (n bytes, untrusted).  path names the file in messages
 * ("'<path>': providers[1].url must be a string").  Returns OSR_OK, or OSR_ECONFIG with
 * diag; on error cfg is empty. */
int osr_mcp_config_parse(const char *text, size_t n, const char *path, struct osr_mcp_config *cfg,
                         struct osr_diag *diag);
/* Reads <home>/providers/mcp.json; a missing file is an empty config. */
int osr_mcp_config_load(const char *home, struct osr_mcp_config *cfg, struct osr_diag *diag);
void osr_mcp_config_release(struct osr_mcp_config *cfg);
/* Frees one entry's fields (the struct itself is the caller's). */
void osr_mcp_provider_config_release(struct osr_mcp_provider_config *p);

/* The registry name for a provider's tool into out (OSR_TOOL_NAME_MAX + 1 bytes). */
void osr_mcp_tool_name(const char *provider_id, const char *tool, char *out, size_t cap);

/* --- the manager ---------------------------------------------------------------------------- */

struct osr_mcp_clients_opts {
    bool wait;            /* connect the autoConnect providers before start returns */
    bool background;      /* run the connect / health / reconnect thread */
    int backoff_min_ms;   /* first reconnect delay; 0: 1000 */
    int backoff_max_ms;   /* delay cap; 0: 60000 */
    int ping_interval_ms; /* health ping of connected providers; 0: 30000, < 0: never */
};

struct osr_mcp_clients;

/* Loads home's mcp.json and starts the providers as opts says, registering their tools in
 * tools (borrowed: it must outlive the manager).  A broken mcp.json is OSR_ECONFIG (diag names
 * the file and field) and no manager; providers that fail to connect are not errors (see
 * status).  Returns OSR_OK and *out, freed with osr_mcp_clients_free. */
int osr_mcp_clients_start(const char *home, struct osr_tools *tools,
                          const struct osr_mcp_clients_opts *opts, struct osr_mcp_clients **out,
                          struct osr_diag *diag);
/* Stops the thread, removes every registered tool, disconnects (a stdio child is killed with
 * its process group and reaped).  NULL is a no-op. */
void osr_mcp_clients_free(struct osr_mcp_clients *m);

/* A new array [{"id","name","transport":"http"|"stdio","enabled","connected","tool_count",
 * "tools":[registry names],"last_error":string|null}] in mcp.json's order.  "connected" turns
 * true once the provider's tools are registered; "last_error" is why it is not connected
 * (null once a connection succeeds). */
struct json_object *osr_mcp_clients_status(struct osr_mcp_clients *m);

/* Drops the provider's connection as a failure would (tests; the background thread then
 * reconnects).  OSR_ENOTFOUND for an unknown id. */
int osr_mcp_clients_disconnect(struct osr_mcp_clients *m, const char *id);

/* The process id of a connected stdio provider's child, or -1. */
int osr_mcp_clients_child_pid(struct osr_mcp_clients *m, const char *id);

#endif
