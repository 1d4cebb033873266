/* provider.h - cloud model providers: their configuration and the chat backends that call them.
 *
 * Configuration lives in <home>/providers/remote.json in the original's shape:
 *   {"providers":[{"id","name","host","providerProtocol":"http"|"https","port"?,"basePath",
 *     "customHeaders":{},"authType":"none"|"apiKey","providerType":"openai"|"anthropic"|
 *     "openResponses"|"gemini"|"ollama","enabled","autoConnect","timeout","secretHeaderKeys":[],
 *     "models"?:[..],"apiVersion"?:".."}], "proxy"?:"http://host:port"|"socks5://.."}
 * ("ollama", "models" - a manual model list for upstreams without GET /models -,
 * "apiVersion" - Azure OpenAI's api-version query parameter - and "proxy" - one proxy for every
 * upstream request, overriding the *_proxy environment variables - are ours.)
 * Secrets are kept apart in the encrypted secret store (include/osr/secrets.h), fed by
 * <home>/providers/secrets.json (which must be 0600 and is moved into the store and removed
 * when read):
 *   {"<provider id>":{"apiKey":"..","headers":{"<secret header>":".."}}}
 * Secrets are never logged and are wiped when released.
 *
 * A provider backend (osr_provider_backend_new) claims model ids "<provider id>/<model>" and
 * answers them over libcurl: the canonical request is written in the upstream's wire format,
 * the upstream's stream (SSE or NDJSON) is read back into canonical events.  One easy handle
 * per request, on the calling (producer) thread; the transfer is aborted as soon as the sink
 * reports its consumer gone.
 *
 * Thread rules: a struct osr_provider_set belongs to one thread; backends are thread-safe.
 */
#ifndef OSR_PROVIDER_H
#define OSR_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>

#include "osr/buf.h"
#include "osr/chat_service.h"
#include "osr/err.h"

#define OSR_PROVIDERS_FILE_MAX ((size_t)4 * 1024 * 1024)

enum osr_provider_type {
    OSR_PROVIDER_OPENAI,    /* POST {base}/chat/completions, SSE */
    OSR_PROVIDER_ANTHROPIC, /* POST {base}/messages, SSE */
    OSR_PROVIDER_RESPONSES, /* POST {base}/responses, SSE ("openResponses") */
    OSR_PROVIDER_GEMINI,    /* POST {base}/models/{m}:streamGenerateContent?alt=sse */
    OSR_PROVIDER_OLLAMA,    /* POST {base}/api/chat, NDJSON */
};

struct osr_provider_header {
    char *name;
    char *value;
    bool secret; /* from secrets.json: never logged */
};

struct osr_provider {
    char *id;
    char *name;
    char *host;
    bool https;
    int port; /* 0: the scheme's default */
    char *base_path;
    struct osr_provider_header *headers; /* custom headers, then secret headers */
    size_t n_headers;
    bool api_key_auth;
    char *api_key; /* or NULL */
    enum osr_provider_type type;
    bool enabled;
    bool auto_connect;
    int timeout_s;     /* idle timeout of a transfer (default 60) */
    char **models;     /* manual model ids (without the provider prefix) */
    char *api_version; /* "apiVersion" (ours): sent as ?api-version= (Azure OpenAI), or NULL */
    size_t n_models;
    char *proxy; /* the file's top-level "proxy" URL (ours), or NULL: libcurl's environment */
};

struct osr_provider_set {
    struct osr_provider *items;
    size_t n;
    char *proxy; /* the file's "proxy" (also copied into each item), or NULL */
};

/* Initializes the HTTP client library once per process; call from the main thread before
 * threads that use provider backends start (libcurl's global init is not thread-safe in every
 * build).  Idempotent. */
void osr_providers_global_init(void);

/* Reads remote.json and secrets.json of home into set.  Missing files are an empty set.  A
 * malformed file is OSR_ECONFIG naming the file and field; a secrets file readable by group or
 * others is OSR_EPERM. */
int osr_providers_load(const char *home, struct osr_provider_set *set, struct osr_diag *diag);
void osr_providers_release(struct osr_provider_set *set);

/* Parses one provider object (for tests and the CLI); secrets is the provider's entry of
 * secrets.json or NULL. */
int osr_provider_parse(struct json_object *obj, struct json_object *secrets,
                       struct osr_provider *out, struct osr_diag *diag);
void osr_provider_release(struct osr_provider *p);

const char *osr_provider_type_name(enum osr_provider_type t);

/* Appends "{http|https}://host[:port]{basePath}" (no trailing slash) to out. */
int osr_provider_base_url(const struct osr_provider *p, struct osr_buf *out);

/* Checks a proxy URL for remote.json's "proxy": scheme http, https, socks4, socks4a, socks5 or
 * socks5h, then a host.  OSR_EINVAL (diag says why) otherwise. */
int osr_provider_proxy_check(const char *url, struct osr_diag *diag);

/* Asks the upstream for its model list (GET {base}/models, Ollama's /api/tags) with p's
 * headers and key; the names (without the provider prefix) go into a heap array the caller
 * frees with osr_provider_names_free.  An unreachable upstream or a non-2xx answer is OSR_EIO
 * with the status and the upstream's own message in diag. */
int osr_provider_fetch_models(const struct osr_provider *p, char ***names, size_t *n,
                              struct osr_diag *diag);
void osr_provider_names_free(char **names, size_t n);

/* Returns a backend for p (p is copied) that claims "<p->id>/<model>". */
struct osr_chat_backend *osr_provider_backend_new(const struct osr_provider *p);

/* Adds a backend for every enabled provider of home's remote.json to svc.  Returns the number
 * added, or a negative error (diag says why) when the files are unusable. */
int osr_providers_attach(struct osr_chat_service *svc, const char *home, struct osr_diag *diag);

#endif
