/* provider.c - cloud providers: remote.json and secrets.json, the provider chat backend, and
 * the libcurl transfer that streams an upstream answer into canonical events.
 *
 * Each request configures one libcurl easy handle and hands it to the network thread
 * (netloop.c), which drives every upstream transfer of the process on one multi handle.  The
 * calling thread (the HTTP server's producer thread for streamed answers, the connection
 * thread otherwise) takes the answer's bytes from the transfer's bounded queue and parses
 * them itself, so the sink is only ever called on that thread; it also watches the client's
 * cancel, the provider's idle timeout and the drain of a finished answer.  The per-protocol
 * work - the request body and the reading of each SSE event or NDJSON line - is in openai.c,
 * anthropic.c, responses.c, gemini.c and ollama.c.  This file knows no wire format except the
 * model listings of GET /models.
 *
 * Finished transfers leave their connection in the multi handle's connection cache, for the
 * next request to the same upstream.
 *
 * Not here: retries of a streamed answer once it has begun, and the encrypted secret store
 * (secrets.json is the interim 0600 file).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "osr/alloc.h"
#include "osr/clock.h"
#include "osr/codec.h"
#include "osr/config.h"
#include "osr/json.h"
#include "osr/log.h"
#include "osr/netloop.h"
#include "osr/secrets.h"
#include "provider_internal.h"

#define CONNECT_TIMEOUT_S 15L
#define LIST_TIMEOUT_S 10L
#define LIST_TTL_MS ((int64_t)300 * 1000)
#define LIST_FAIL_TTL_MS ((int64_t)30 * 1000)
#define MAX_LIST_BODY ((size_t)8 * 1024 * 1024)
#define MAX_EMBED_BODY ((size_t)256 * 1024 * 1024)
#define MAX_RETRIES 2     /* extra attempts after a 429 or 5xx before the first byte */
#define RETRY_BASE_MS 250 /* then 500 ms; Retry-After when the upstream sends one */
#define RETRY_MAX_MS 4000
#define TICK_MS 100 /* how often a waiting transfer looks at cancel and the idle timeout */
#define DRAIN_NS ((int64_t)250 * 1000000) /* reading the end of an answer already finished */

static void curl_global_init_default(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---------------------------------------------------------------- JSON helpers */

struct json_object *jget(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
        return NULL;
    return v;
}

const char *jstr(struct json_object *o, const char *key)
{
    struct json_object *v = jget(o, key);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

bool jint(struct json_object *o, const char *key, int64_t *out)
{
    struct json_object *v = jget(o, key);
    if (!v || !json_object_is_type(v, json_type_int))
        return false;
    *out = json_object_get_int64(v);
    return true;
}

struct json_object *jparse(const char *s, size_t n)
{
    struct json_object *o = NULL;
    if (osr_json_parse(s, n, &o, NULL) != OSR_OK)
        return NULL;
    return o;
}

struct json_object *up_args_object(struct osr_str args)
{
    struct json_object *o = args.n ? jparse(args.p, args.n) : NULL;
    if (o && json_object_is_type(o, json_type_object))
        return o;
    json_object_put(o);
    return json_object_new_object();
}

int up_message_text(const struct osr_message *m, struct osr_buf *out)
{
    bool first = true;
    for (size_t i = 0; i < m->n_parts; i++) {
        if (m->parts[i].kind != OSR_PART_TEXT)
            continue;
        if (!first && osr_buf_putc(out, '\n'))
            return OSR_ETOOBIG;
        if (osr_buf_append(out, m->parts[i].text.p, m->parts[i].text.n))
            return OSR_ETOOBIG;
        first = false;
    }
    return OSR_OK;
}

int64_t up_reasoning_budget(const struct osr_chat_request *req)
{
    const char *effort = req->x.reasoning_effort;
    if (effort && (strcmp(effort, "none") == 0 || strcmp(effort, "minimal") == 0))
        return 0;
    if (effort && strcmp(effort, "high") == 0)
        return 16384;
    if (effort && strcmp(effort, "medium") == 0)
        return 4096;
    if (effort || req->x.think == 1)
        return 1024;
    return 0;
}

int up_emit_json(struct json_object *obj, struct osr_buf *out)
{
    int rc = osr_json_append(out, obj);
    json_object_put(obj);
    return rc;
}

void up_error_message(const char *body, size_t n, char *out, size_t cap)
{
    struct json_object *o = jparse(body, n);
    const char *msg = NULL;
    if (o && json_object_is_type(o, json_type_array) && json_object_array_length(o) > 0) {
        /* Gemini answers errors in a one-element array on some endpoints. */
        struct json_object *first = json_object_array_get_idx(o, 0);
        msg = jstr(jget(first, "error"), "message");
    }
    if (!msg)
        msg = jstr(jget(o, "error"), "message");
    if (!msg)
        msg = jstr(o, "error");
    if (!msg)
        msg = jstr(o, "message");
    if (!msg)
        msg = jstr(o, "detail");
    if (msg) {
        snprintf(out, cap, "%s", msg);
    } else if (n == 0) {
        snprintf(out, cap, "(no details)");
    } else {
        size_t k = n < cap - 1 ? n : cap - 1;
        memcpy(out, body, k);
        out[k] = '\0';
        for (size_t i = 0; i < k; i++)
            if ((unsigned char)out[i] < 0x20)
                out[i] = ' ';
    }
    json_object_put(o);
}

/* ---------------------------------------------------------------- stream state */

void up_state_init(struct up_state *st, struct osr_sink *sink, const char *provider_id)
{
    memset(st, 0, sizeof(*st));
    st->sink = sink;
    st->provider_id = provider_id;
    st->open_call = -1;
    st->usage = osr_usage_unknown();
    st->early_prompt = -1;
    osr_stopmatch_init(&st->stop, NULL, 0);
}

void up_state_stops(struct up_state *st, const char *const *stops, size_t n)
{
    osr_stopmatch_release(&st->stop);
    osr_stopmatch_init(&st->stop, stops, n);
}

void up_state_release(struct up_state *st)
{
    osr_stopmatch_release(&st->stop);
}

static int check(struct up_state *st, int rc)
{
    if (rc)
        st->gone = true;
    return rc;
}

int up_role(struct up_state *st)
{
    if (st->role_sent || st->done)
        return st->gone;
    st->role_sent = true;
    if (check(st, osr_sink_role(st->sink)))
        return 1;
    if (st->early_prompt >= 0) {
        /* Anthropic clients want the prompt's size in message_start, before the upstream
         * reports it; the real numbers still come at the end. */
        struct osr_usage u = osr_usage_unknown();
        u.prompt_tokens = st->early_prompt;
        return check(st, osr_sink_usage(st->sink, &u));
    }
    return 0;
}

/* Sends text that has passed the stop matcher. */
static int send_text(struct up_state *st, const char *s, size_t n)
{
    if (n == 0)
        return 0;
    if (up_role(st))
        return 1;
    st->open_call = -1;
    return check(st, osr_sink_text(st->sink, s, n));
}

/* Sends the text the stop matcher held back, before an event of another kind: the answer
 * went on with something that is not text, so no stop string can complete. */
static int flush_held(struct up_state *st)
{
    if (!osr_stopmatch_holding(&st->stop))
        return 0;
    struct osr_str t;
    osr_stopmatch_flush(&st->stop, &t);
    return send_text(st, t.p, t.n);
}

int up_text(struct up_state *st, const char *s, size_t n)
{
    if (st->done)
        return st->gone;
    if (n == 0)
        return 0;
    struct osr_str out;
    int m = osr_stopmatch_push(&st->stop, s, n, &out);
    if (m < 0)
        return up_error(st, 502, "provider '%s' sent more text than the stop strings can hold back",
                        st->provider_id);
    if (send_text(st, out.p, out.n))
        return 1;
    if (m == OSR_STOPMATCH_HIT) {
        /* Matched here: the answer ends now and the caller aborts the transfer. */
        st->cut = true;
        up_set_finish(st, OSR_FINISH_STOP_SEQUENCE, NULL);
        return up_finish(st);
    }
    return 0;
}

int up_reasoning(struct up_state *st, const char *s, size_t n)
{
    if (st->done)
        return st->gone;
    if (n == 0)
        return 0;
    if (flush_held(st) || up_role(st))
        return 1;
    st->open_call = -1;
    return check(st, osr_sink_reasoning(st->sink, s, n));
}

int up_call_index(const struct up_state *st, long key)
{
    for (int i = 0; i < st->n_calls; i++)
        if (st->call_keys[i] == key)
            return i;
    return -1;
}

int up_call_start(struct up_state *st, long key, const char *id, const char *name, int *index)
{
    *index = -1;
    if (st->done)
        return st->gone;
    int i = up_call_index(st, key);
    if (i >= 0) {
        *index = i;
        return 0;
    }
    if (st->n_calls >= UP_MAX_CALLS)
        return 0; /* further calls are dropped; the encoder caps calls at 128 as well */
    if (flush_held(st) || up_role(st))
        return 1;
    i = st->n_calls++;
    st->call_keys[i] = key;
    st->open_call = i;
    *index = i;
    return check(st, osr_sink_tool_start(st->sink, i, id ? id : "", name ? name : ""));
}

int up_call_args(struct up_state *st, int index, const char *s, size_t n)
{
    if (st->done || index < 0 || index >= st->n_calls || n == 0)
        return st->gone;
    st->args_seen[index] = true;
    return check(st, osr_sink_tool_args(st->sink, index, s, n));
}

void up_set_finish(struct up_state *st, enum osr_finish f, const char *stop_seq)
{
    st->finish_seen = true;
    st->finish = f;
    snprintf(st->stop_seq, sizeof(st->stop_seq), "%s", stop_seq ? stop_seq : "");
}

void up_set_usage(struct up_state *st, int64_t prompt, int64_t completion)
{
    if (prompt >= 0)
        st->usage.prompt_tokens = prompt;
    if (completion >= 0)
        st->usage.completion_tokens = completion;
    st->has_usage = true;
}

int up_usage_now(struct up_state *st)
{
    if (st->done)
        return st->gone;
    return check(st, osr_sink_usage(st->sink, &st->usage));
}

int up_finish(struct up_state *st)
{
    if (st->done)
        return st->gone;
    if (flush_held(st) || up_role(st))
        return 1;
    if (st->has_usage && check(st, osr_sink_usage(st->sink, &st->usage)))
        return 1;
    enum osr_finish f = st->finish_seen ? st->finish : OSR_FINISH_STOP;
    if (st->n_calls > 0 && f == OSR_FINISH_STOP)
        f = OSR_FINISH_TOOL_CALLS;
    /* A stop string matched here is named in full (stop_seq is a bounded copy). */
    const char *seq = st->stop.matched ? st->stop.matched : st->stop_seq;
    st->done = true;
    return check(st, osr_sink_finish(st->sink, f, f == OSR_FINISH_STOP_SEQUENCE ? seq : NULL));
}

int up_error(struct up_state *st, int status, const char *fmt, ...)
{
    if (st->done)
        return st->gone;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (flush_held(st))
        return 1; /* the text before the failure is the client's too */
    st->done = true;
    st->cut = true;
    return check(st, osr_sink_error(st->sink, status, msg));
}

/* ---------------------------------------------------------------- configuration */

void osr_providers_global_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, curl_global_init_default);
}

const char *osr_provider_type_name(enum osr_provider_type t)
{
    switch (t) {
    case OSR_PROVIDER_OPENAI:
        return "openai";
    case OSR_PROVIDER_ANTHROPIC:
        return "anthropic";
    case OSR_PROVIDER_RESPONSES:
        return "openResponses";
    case OSR_PROVIDER_GEMINI:
        return "gemini";
    case OSR_PROVIDER_OLLAMA:
        return "ollama";
    }
    return "?";
}

static void wipe_free(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

void osr_provider_release(struct osr_provider *p)
{
    free(p->id);
    free(p->name);
    free(p->host);
    free(p->base_path);
    for (size_t i = 0; i < p->n_headers; i++) {
        free(p->headers[i].name);
        if (p->headers[i].secret)
            wipe_free(p->headers[i].value);
        else
            free(p->headers[i].value);
    }
    free(p->headers);
    wipe_free(p->api_key);
    for (size_t i = 0; i < p->n_models; i++)
        free(p->models[i]);
    free(p->models);
    free(p->api_version);
    free(p->proxy);
    memset(p, 0, sizeof(*p));
}

static void add_header(struct osr_provider *p, const char *name, const char *value, bool secret)
{
    p->headers = osr_xrealloc(p->headers, (p->n_headers + 1) * sizeof(*p->headers));
    p->headers[p->n_headers].name = osr_xstrdup(name);
    p->headers[p->n_headers].value = osr_xstrdup(value);
    p->headers[p->n_headers].secret = secret;
    p->n_headers++;
}

static bool header_token_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s <= ' ' || *s == ':' || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

static bool header_value_ok(const char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n' || *s == '\0')
            return false;
    return true;
}

int osr_provider_parse(struct json_object *obj, struct json_object *secrets,
                       struct osr_provider *out, struct osr_diag *diag)
{
    memset(out, 0, sizeof(*out));
    int rc = OSR_OK;
    const char *id = NULL, *name = NULL, *host = NULL, *proto = "https", *base = "", *auth = "none",
               *type = "openai";
    int64_t port = 0, timeout = 60;
    bool enabled = true, autoc = true;
    const char *api_version = NULL;
    struct json_object *custom = NULL, *secret_keys = NULL, *models = NULL;
    if (!json_object_is_type(obj, json_type_object))
        return osr_diag_set(diag, OSR_ECONFIG, "a provider must be an object");
    if ((rc = osr_json_get_string(obj, "id", true, &id, diag)) ||
        (rc = osr_json_get_string(obj, "name", false, &name, diag)) ||
        (rc = osr_json_get_string(obj, "host", true, &host, diag)) ||
        (rc = osr_json_get_string(obj, "providerProtocol", false, &proto, diag)) ||
        (rc = osr_json_get_int(obj, "port", false, 0, 65535, &port, diag)) ||
        (rc = osr_json_get_string(obj, "basePath", false, &base, diag)) ||
        (rc = osr_json_get_object(obj, "customHeaders", false, &custom, diag)) ||
        (rc = osr_json_get_string(obj, "authType", false, &auth, diag)) ||
        (rc = osr_json_get_string(obj, "providerType", false, &type, diag)) ||
        (rc = osr_json_get_bool(obj, "enabled", false, &enabled, diag)) ||
        (rc = osr_json_get_bool(obj, "autoConnect", false, &autoc, diag)) ||
        (rc = osr_json_get_int(obj, "timeout", false, 1, 86400, &timeout, diag)) ||
        (rc = osr_json_get_array(obj, "secretHeaderKeys", false, &secret_keys, diag)) ||
        (rc = osr_json_get_array(obj, "models", false, &models, diag)) ||
        (rc = osr_json_get_string(obj, "apiVersion", false, &api_version, diag)))
        return OSR_ECONFIG;
    if (!*id || strchr(id, '/'))
        return osr_diag_set(diag, OSR_ECONFIG, "provider id '%s' must be non-empty without '/'",
                            id);
    if (!*host || strpbrk(host, "/ \t\r\n@"))
        return osr_diag_set(diag, OSR_ECONFIG, "provider '%s': invalid host '%s'", id, host);
    out->id = osr_xstrdup(id);
    out->name = osr_xstrdup(name ? name : id);
    out->host = osr_xstrdup(host);
    if (strcmp(proto, "https") == 0) {
        out->https = true;
    } else if (strcmp(proto, "http") != 0) {
        rc = osr_diag_set(diag, OSR_ECONFIG,
                          "provider '%s': providerProtocol must be http or https", id);
        goto out;
    }
    out->port = (int)port;
    /* basePath: one leading slash, no trailing one. */
    while (*base == '/')
        base++;
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    out->base_path = osr_xmalloc(bl + 2);
    out->base_path[0] = '\0';
    if (bl) {
        out->base_path[0] = '/';
        memcpy(out->base_path + 1, base, bl);
        out->base_path[bl + 1] = '\0';
    }
    if (strpbrk(out->base_path, " \t\r\n?#")) {
        rc = osr_diag_set(diag, OSR_ECONFIG, "provider '%s': invalid basePath", id);
        goto out;
    }
    if (strcmp(auth, "apiKey") == 0) {
        out->api_key_auth = true;
    } else if (strcmp(auth, "none") != 0) {
        rc = osr_diag_set(diag, OSR_ECONFIG, "provider '%s': authType must be none or apiKey", id);
        goto out;
    }
    static const char *const types[] = {"openai", "anthropic", "openResponses", "gemini", "ollama"};
    size_t t;
    for (t = 0; t < 5; t++)
        if (strcmp(type, types[t]) == 0)
            break;
    if (t == 5) {
        rc = osr_diag_set(diag, OSR_ECONFIG,
                          "provider '%s': providerType must be openai, anthropic, openResponses, "
                          "gemini or ollama",
                          id);
        goto out;
    }
    out->type = (enum osr_provider_type)t;
    if (api_version && *api_version) {
        for (const char *c = api_version; *c; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '-' || *c == '.' || *c == '_')) {
                rc = osr_diag_set(diag, OSR_ECONFIG, "provider '%s': invalid apiVersion", id);
                goto out;
            }
        out->api_version = osr_xstrdup(api_version);
    }
    out->enabled = enabled;
    out->auto_connect = autoc;
    out->timeout_s = (int)timeout;
    if (custom) {
        json_object_object_foreach(custom, k, v)
        {
            if (!json_object_is_type(v, json_type_string) || !header_token_ok(k) ||
                !header_value_ok(json_object_get_string(v))) {
                rc = osr_diag_set(diag, OSR_ECONFIG, "provider '%s': invalid custom header '%s'",
                                  id, k);
                goto out;
            }
            add_header(out, k, json_object_get_string(v), false);
        }
    }
    for (size_t i = 0; models && i < json_object_array_length(models); i++) {
        struct json_object *m = json_object_array_get_idx(models, i);
        if (!json_object_is_type(m, json_type_string) || !*json_object_get_string(m))
            continue;
        out->models = osr_xrealloc(out->models, (out->n_models + 1) * sizeof(char *));
        out->models[out->n_models++] = osr_xstrdup(json_object_get_string(m));
    }
    /* Secrets: the API key and the values of secretHeaderKeys. */
    const char *key = jstr(secrets, "apiKey");
    if (key && *key) {
        if (!header_value_ok(key)) {
            rc = osr_diag_set(diag, OSR_ECONFIG, "provider '%s': invalid apiKey", id);
            goto out;
        }
        out->api_key = osr_xstrdup(key);
    }
    struct json_object *sh = jget(secrets, "headers");
    for (size_t i = 0; secret_keys && i < json_object_array_length(secret_keys); i++) {
        struct json_object *k = json_object_array_get_idx(secret_keys, i);
        const char *kn = json_object_is_type(k, json_type_string) ? json_object_get_string(k) : "";
        const char *v = jstr(sh, kn);
        if (!header_token_ok(kn) || !v)
            continue; /* a secret header without a stored value is simply not sent */
        if (!header_value_ok(v)) {
            rc = osr_diag_set(diag, OSR_ECONFIG, "provider '%s': invalid secret header '%s'", id,
                              kn);
            goto out;
        }
        add_header(out, kn, v, true);
    }
out:
    if (rc)
        osr_provider_release(out);
    return rc;
}

void osr_providers_release(struct osr_provider_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        osr_provider_release(&set->items[i]);
    free(set->items);
    free(set->proxy);
    memset(set, 0, sizeof(*set));
}

static int read_json_file(const char *path, bool secret, struct json_object **out,
                          struct osr_diag *diag)
{
    *out = NULL;
    if (secret) {
        struct stat sb;
        if (stat(path, &sb) != 0)
            return OSR_OK; /* no secrets */
        if (sb.st_mode & 077)
            return osr_diag_set(diag, OSR_EPERM, "'%s' is readable by others; run 'chmod 600 %s'",
                                path, path);
    }
    char *text = NULL;
    size_t len = 0;
    int rc = osr_read_file(path, OSR_PROVIDERS_FILE_MAX, &text, &len, diag);
    if (rc == OSR_ENOTFOUND)
        return OSR_OK;
    if (rc)
        return rc;
    struct osr_diag jd;
    osr_diag_clear(&jd);
    rc = osr_json_parse(text, len, out, &jd);
    if (secret)
        OPENSSL_cleanse(text, len);
    free(text);
    if (rc)
        return osr_diag_set(diag, OSR_ECONFIG, "'%s': %s", path, jd.msg);
    if (*out && !json_object_is_type(*out, json_type_object)) {
        json_object_put(*out);
        *out = NULL;
        return osr_diag_set(diag, OSR_ECONFIG, "'%s' must hold a JSON object", path);
    }
    return OSR_OK;
}

/* Moves an interim secrets.json (already checked: a JSON object, mode 0600) into the encrypted
 * store, then reads the providers' secrets from the store.  When the store cannot be used the
 * secrets read from the file stay in *secrets and serving goes on; the reason is logged. */
static void load_stored_secrets(const char *home, struct json_object **secrets)
{
    struct osr_diag d;
    osr_diag_clear(&d);
    int moved = osr_secrets_migrate_providers(home, &d);
    if (moved < 0) {
        OSR_WARN("providers: secrets stay in providers/secrets.json: %s", d.msg);
        return;
    }
    if (moved > 0)
        OSR_INFO("providers: moved %d secret(s) from providers/secrets.json into the encrypted "
                 "store",
                 moved);
    struct osr_secrets *s = NULL;
    struct json_object *stored = NULL;
    osr_diag_clear(&d);
    if (osr_secrets_open(&s, home, &d) == OSR_OK &&
        osr_secrets_scope_json(s, "provider", &stored, &d) == OSR_OK) {
        json_object_put(*secrets);
        *secrets = stored;
    } else if (moved > 0 || *secrets == NULL) {
        OSR_WARN("providers: cannot read the secret store: %s", d.msg);
    }
    osr_secrets_close(s);
}

int osr_providers_load(const char *home, struct osr_provider_set *set, struct osr_diag *diag)
{
    memset(set, 0, sizeof(*set));
    char *dir = osr_path_join(home, "providers");
    char *remote = osr_path_join(dir, "remote.json");
    char *secrets_path = osr_path_join(dir, "secrets.json");
    struct json_object *root = NULL, *secrets = NULL, *list = NULL;
    int rc = read_json_file(remote, false, &root, diag);
    if (rc == OSR_OK)
        rc = read_json_file(secrets_path, true, &secrets, diag);
    if (rc == OSR_OK)
        load_stored_secrets(home, &secrets);
    if (rc || !root)
        goto out;
    struct osr_diag fd;
    osr_diag_clear(&fd);
    if (osr_json_get_array(root, "providers", false, &list, &fd)) {
        rc = osr_diag_set(diag, OSR_ECONFIG, "'%s': %s", remote, fd.msg);
        goto out;
    }
    const char *proxy = NULL;
    osr_diag_clear(&fd);
    if (osr_json_get_string(root, "proxy", false, &proxy, &fd) ||
        (proxy && *proxy && osr_provider_proxy_check(proxy, &fd))) {
        rc = osr_diag_set(diag, OSR_ECONFIG, "'%s': %s", remote, fd.msg);
        goto out;
    }
    if (proxy && *proxy)
        set->proxy = osr_xstrdup(proxy);
    size_t n = list ? json_object_array_length(list) : 0;
    set->items = osr_xcalloc(n ? n : 1, sizeof(*set->items));
    for (size_t i = 0; i < n; i++) {
        struct json_object *po = json_object_array_get_idx(list, i);
        const char *pid = jstr(po, "id");
        osr_diag_clear(&fd);
        rc = osr_provider_parse(po, pid ? jget(secrets, pid) : NULL, &set->items[set->n], &fd);
        if (rc) {
            rc = osr_diag_set(diag, OSR_ECONFIG, "'%s': providers[%zu]: %s", remote, i, fd.msg);
            goto out;
        }
        for (size_t j = 0; j < set->n; j++)
            if (strcmp(set->items[j].id, set->items[set->n].id) == 0) {
                rc = osr_diag_set(diag, OSR_ECONFIG, "'%s': provider id '%s' is used twice", remote,
                                  set->items[j].id);
                osr_provider_release(&set->items[set->n]);
                goto out;
            }
        if (proxy && *proxy)
            set->items[set->n].proxy = osr_xstrdup(proxy);
        set->n++;
    }
out:
    json_object_put(root);
    json_object_put(secrets);
    if (rc)
        osr_providers_release(set);
    free(dir);
    free(remote);
    free(secrets_path);
    return rc;
}

int osr_provider_base_url(const struct osr_provider *p, struct osr_buf *out)
{
    if (p->port)
        return osr_buf_appendf(out, "%s://%s:%d%s", p->https ? "https" : "http", p->host, p->port,
                               p->base_path);
    return osr_buf_appendf(out, "%s://%s%s", p->https ? "https" : "http", p->host, p->base_path);
}

static void provider_copy(struct osr_provider *dst, const struct osr_provider *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->id = osr_xstrdup(src->id);
    dst->name = osr_xstrdup(src->name ? src->name : src->id);
    dst->host = osr_xstrdup(src->host);
    dst->https = src->https;
    dst->port = src->port;
    dst->base_path = osr_xstrdup(src->base_path ? src->base_path : "");
    for (size_t i = 0; i < src->n_headers; i++)
        add_header(dst, src->headers[i].name, src->headers[i].value, src->headers[i].secret);
    dst->api_key_auth = src->api_key_auth;
    dst->api_key = src->api_key ? osr_xstrdup(src->api_key) : NULL;
    dst->type = src->type;
    dst->enabled = src->enabled;
    dst->auto_connect = src->auto_connect;
    dst->timeout_s = src->timeout_s > 0 ? src->timeout_s : 60;
    dst->api_version = src->api_version ? osr_xstrdup(src->api_version) : NULL;
    dst->proxy = src->proxy ? osr_xstrdup(src->proxy) : NULL;
    for (size_t i = 0; i < src->n_models; i++) {
        dst->models = osr_xrealloc(dst->models, (dst->n_models + 1) * sizeof(char *));
        dst->models[dst->n_models++] = osr_xstrdup(src->models[i]);
    }
}

/* Appends the provider's api-version query parameter, if it has one, to a URL. */
static int add_api_version(const struct osr_provider *p, struct osr_buf *url)
{
    if (!p->api_version)
        return OSR_OK;
    return osr_buf_appendf(url, "%capi-version=%s", strchr(osr_buf_str(url), '?') ? '&' : '?',
                           p->api_version);
}

/* ---------------------------------------------------------------- the backend */

struct provider_backend {
    struct osr_chat_backend base;
    struct osr_provider p;
    const struct upstream_proto *proto;
    pthread_mutex_t lock; /* guards the model cache */
    char **cached;
    size_t n_cached;
    int64_t cached_at_ms;
    bool cache_valid;
    struct up_memo memo; /* prompt token counts the upstream reported */
    /* A reference on the network thread for the backend's life: its multi handle keeps the
     * open upstream connections between requests only while the thread lives. */
    bool loop_ref;
};

static const struct upstream_proto *proto_for(enum osr_provider_type t)
{
    switch (t) {
    case OSR_PROVIDER_OPENAI:
        return &osr_up_openai;
    case OSR_PROVIDER_ANTHROPIC:
        return &osr_up_anthropic;
    case OSR_PROVIDER_RESPONSES:
        return &osr_up_responses;
    case OSR_PROVIDER_GEMINI:
        return &osr_up_gemini;
    case OSR_PROVIDER_OLLAMA:
        return &osr_up_ollama;
    }
    return &osr_up_openai;
}

/* Request headers: content type, auth by provider type, custom and secret headers. */
static struct curl_slist *build_headers(const struct osr_provider *p, const char *accept,
                                        bool json_body)
{
    struct curl_slist *h = NULL;
    struct osr_buf line;
    osr_buf_init(&line, 64 * 1024);
    if (json_body)
        h = curl_slist_append(h, "Content-Type: application/json");
    if (accept) {
        osr_buf_appendf(&line, "Accept: %s", accept);
        h = curl_slist_append(h, osr_buf_str(&line));
        osr_buf_reset(&line);
    }
    if (p->type == OSR_PROVIDER_ANTHROPIC)
        h = curl_slist_append(h, "anthropic-version: 2023-06-01");
    if (p->api_key) {
        switch (p->type) {
        case OSR_PROVIDER_ANTHROPIC:
            osr_buf_appendf(&line, "x-api-key: %s", p->api_key);
            break;
        case OSR_PROVIDER_GEMINI:
            osr_buf_appendf(&line, "x-goog-api-key: %s", p->api_key);
            break;
        default:
            osr_buf_appendf(&line, "Authorization: Bearer %s", p->api_key);
            break;
        }
        h = curl_slist_append(h, osr_buf_str(&line));
        OPENSSL_cleanse(line.data, line.len);
        osr_buf_reset(&line);
    }
    for (size_t i = 0; i < p->n_headers; i++) {
        osr_buf_appendf(&line, "%s: %s", p->headers[i].name, p->headers[i].value);
        h = curl_slist_append(h, osr_buf_str(&line));
        if (line.data)
            OPENSSL_cleanse(line.data, line.len);
        osr_buf_reset(&line);
    }
    osr_buf_release(&line);
    return h;
}

static void free_headers(struct curl_slist *h)
{
    for (struct curl_slist *i = h; i; i = i->next)
        OPENSSL_cleanse(i->data, strlen(i->data));
    curl_slist_free_all(h);
}

static void common_opts(CURL *c, const struct osr_provider *p)
{
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    if (p->proxy) {
        /* The configured proxy wins over http_proxy/https_proxy/all_proxy and no_proxy. */
        curl_easy_setopt(c, CURLOPT_PROXY, p->proxy);
        curl_easy_setopt(c, CURLOPT_NOPROXY, "");
    }
}

struct xfer {
    CURL *curl;
    struct osr_netloop_xfer *nx;
    const struct upstream_proto *proto;
    struct up_state st;
    struct osr_sse_parser sse;
    struct osr_ndjson_parser nd;
    long status;
    struct osr_buf errbody;
    bool too_big;
    const struct osr_chat_cancel *cancel; /* or NULL */
    int64_t last_data_ns; /* when the upstream last sent something (or the attempt began) */
    int64_t idle_ns;      /* the provider's timeout */
    bool timed_out;
    bool stopped;   /* the answer's reader stopped the transfer (like a failed write) */
    bool typed;     /* the content type was looked at */
    bool json_body; /* the answer is one JSON body, collected in body */
    struct osr_buf body;
    /* The answer finished normally and the rest of the upstream's bytes (the end of the
     * chunked body, after "[DONE]" or "message_stop") are read and dropped, so the connection
     * can serve the next request; an upstream that does not end its body soon is cut. */
    bool draining;
    int64_t done_ns;
};

/* After an event: go on, drain the rest (finished), or stop the transfer (non-zero). */
static int after_event(struct xfer *x, int rc)
{
    if (rc || x->st.gone)
        return 1;
    if (!x->st.done)
        return 0;
    if (x->st.cut)
        return 1;
    if (!x->draining) {
        x->draining = true;
        x->done_ns = osr_mono_ns();
    }
    return 0;
}

static int on_sse(void *ctx, const struct osr_sse_event *ev)
{
    struct xfer *x = ctx;
    return after_event(x, x->proto->on_event(&x->st, ev));
}

static int on_line(void *ctx, const char *line, size_t n)
{
    struct xfer *x = ctx;
    return after_event(x, x->proto->on_line(&x->st, line, n));
}

/* One piece of the answer's body, on the caller's thread.  Returns false when the transfer
 * must stop. */
static bool on_data(struct xfer *x, const char *ptr, size_t n)
{
    x->last_data_ns = osr_mono_ns();
    if (x->status == 0 || !x->typed) {
        struct osr_netloop_info info;
        osr_netloop_xfer_info(x->nx, &info);
        x->status = info.status;
        if (x->status < 300 && !x->typed) {
            /* A server that ignored "stream": true answers one JSON body instead of SSE. */
            const char *ct = info.content_type;
            x->json_body =
                x->proto->on_body && ct && strncasecmp(ct, "application/json", 16) == 0;
            x->typed = true;
        }
    }
    if (x->status >= 300) {
        size_t room = UP_MAX_ERROR_BODY - x->errbody.len;
        osr_buf_append(&x->errbody, ptr, n < room ? n : room);
        return true;
    }
    if (x->draining)
        return osr_mono_ns() - x->done_ns <= DRAIN_NS;
    if (x->json_body) {
        if (osr_buf_append(&x->body, ptr, n) == OSR_OK)
            return true;
        x->too_big = true;
        return false;
    }
    int rc = x->proto->ndjson ? osr_ndjson_feed(&x->nd, ptr, n) : osr_sse_feed(&x->sse, ptr, n);
    if (rc == OSR_ETOOBIG)
        x->too_big = true;
    return rc == OSR_OK && !(x->st.gone || (x->st.done && x->st.cut));
}

/* Reads one attempt's answer from the network thread until it ends or must be stopped: the
 * client left (cancel, or the sink said so), nothing came for the provider's timeout, a
 * finished answer's body does not end within DRAIN_NS, or the reader refused the bytes. */
static void pump(struct xfer *x)
{
    char chunk[16 * 1024];
    for (;;) {
        size_t n = 0;
        bool ended = false;
        osr_netloop_xfer_read(x->nx, chunk, sizeof(chunk), &n, &ended, TICK_MS);
        if (n && !on_data(x, chunk, n)) {
            x->stopped = true;
            break;
        }
        if (ended)
            return;
        int64_t now = osr_mono_ns();
        /* Checked every tick even while the upstream is silent, so a client that left during
         * a long prefill is noticed without waiting for the next chunk. */
        if (!x->st.gone && osr_chat_cancelled(x->cancel))
            x->st.gone = true;
        /* The idle timeout: nothing from the upstream for the provider's timeout. */
        if (!x->st.gone && !x->draining && now - x->last_data_ns > x->idle_ns)
            x->timed_out = true;
        if (x->draining && now - x->done_ns > DRAIN_NS)
            break; /* finished, but the upstream does not end its body: cut it */
        if (x->st.gone || x->timed_out)
            break;
    }
    osr_netloop_xfer_cancel(x->nx);
}

static int backend_chat(struct osr_chat_backend *b, const char *model, struct osr_chat_request *req,
                        struct osr_sink *sink, const struct osr_chat_cancel *cancel)
{
    struct provider_backend *pb = b->ctx;
    const struct osr_provider *p = &pb->p;
    struct xfer x;
    memset(&x, 0, sizeof(x));
    x.proto = pb->proto;
    x.cancel = cancel;
    up_state_init(&x.st, sink, p->id);
    osr_buf_init(&x.errbody, UP_MAX_ERROR_BODY);
    osr_sse_init(&x.sse, 0, on_sse, &x);
    osr_buf_init(&x.body, UP_MAX_JSON_BODY);
    osr_ndjson_init(&x.nd, 0, on_line, &x);
    struct osr_buf url, body;
    osr_buf_init(&url, 16 * 1024);
    osr_buf_init(&body, UP_MAX_REQUEST_BODY);
    struct curl_slist *hdrs = NULL;
    int rc = OSR_OK;
    unsigned char memo_key[UP_MEMO_KEY_LEN];
    bool memo = false; /* memo_key holds this prompt's key */

    if (osr_provider_base_url(p, &url) || pb->proto->url(p, model, &url) ||
        add_api_version(p, &url)) {
        up_error(&x.st, 400, "model name '%s' is too long", model);
        goto out;
    }
    /* Stop strings are matched on the answer's text here (up_text); an upstream that cannot
     * say which one it stopped on does not get them (see reports_stop_sequence). */
    up_state_stops(&x.st, req->sampling.stop, req->sampling.n_stop);
    struct osr_chat_request upreq = *req; /* shallow: encode only reads it */
    if (!pb->proto->reports_stop_sequence) {
        upreq.sampling.stop = NULL;
        upreq.sampling.n_stop = 0;
    }
    if (pb->proto->encode(&upreq, model, &body)) {
        up_error(&x.st, 413, "the request is too large for provider '%s'", p->id);
        goto out;
    }
    memo = !pb->proto->early_usage && up_memo_key(pb->proto, req, model, memo_key);
    int64_t known = -1;
    if (memo && up_memo_get(&pb->memo, memo_key, &known))
        x.st.early_prompt = known;
    x.curl = curl_easy_init();
    x.nx = x.curl ? osr_netloop_xfer_new(x.curl, 0) : NULL;
    if (!x.nx) {
        up_error(&x.st, 500, "cannot start an HTTP client");
        goto out;
    }
    hdrs = build_headers(p, pb->proto->ndjson ? "application/x-ndjson" : "text/event-stream", true);
    common_opts(x.curl, p);
    curl_easy_setopt(x.curl, CURLOPT_URL, osr_buf_str(&url));
    curl_easy_setopt(x.curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(x.curl, CURLOPT_POSTFIELDS, osr_buf_str(&body));
    curl_easy_setopt(x.curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
    OSR_DEBUG("provider %s: POST %s (%zu bytes)", p->id, osr_buf_str(&url), body.len);

    CURLcode cc;
    for (int attempt = 0;; attempt++) {
        x.status = 0;
        x.typed = false;
        x.idle_ns = (int64_t)p->timeout_s * 1000000000;
        x.stopped = false;
        x.last_data_ns = osr_mono_ns();
        osr_buf_reset(&x.errbody);
        struct osr_netloop_info info;
        if (osr_netloop_xfer_start(x.nx) == OSR_OK)
            pump(&x);
        osr_netloop_xfer_info(x.nx, &info);
        cc = x.stopped ? CURLE_WRITE_ERROR : info.result;
        if (x.status == 0)
            x.status = info.status;
        /* Retry a refusal (429, 5xx) only while nothing has reached the client. */
        bool refused = x.status == 429 || (x.status >= 500 && x.status != 501);
        if (!refused || attempt >= MAX_RETRIES || x.st.role_sent || x.st.done || x.st.gone)
            break;
        long after = info.retry_after;
        int64_t delay = after > 0 ? (int64_t)after * 1000 : (int64_t)RETRY_BASE_MS << attempt;
        if (delay > RETRY_MAX_MS)
            delay = RETRY_MAX_MS;
        OSR_INFO("provider %s: upstream answered %ld, retrying in %lld ms", p->id, x.status,
                 (long long)delay);
        osr_sleep_ms(delay);
    }
    if (x.st.gone) {
        OSR_INFO("provider %s: client gone, upstream request aborted", p->id);
        rc = OSR_ECANCELED;
        goto out;
    }
    if (x.st.done)
        goto out; /* finished or failed inside the stream; the transfer was cut short on purpose */
    if (x.too_big) {
        up_error(&x.st, 502, "provider '%s' sent an event larger than the limit", p->id);
        goto out;
    }
    if (x.timed_out) {
        up_error(&x.st, 504, "provider '%s' timed out (nothing for %d s)", p->id, p->timeout_s);
        goto out;
    }
    if (cc != CURLE_OK && x.status < 300) {
        if (cc == CURLE_OPERATION_TIMEDOUT)
            up_error(&x.st, 504, "provider '%s' timed out", p->id);
        else
            up_error(&x.st, 502, "cannot reach provider '%s': %s", p->id, curl_easy_strerror(cc));
        goto out;
    }
    if (x.status >= 300) {
        char msg[512];
        up_error_message(osr_buf_str(&x.errbody), x.errbody.len, msg, sizeof(msg));
        OSR_WARN("provider %s: upstream answered %ld", p->id, x.status);
        /* A redirect is not followed (it could lead the key elsewhere): a bad gateway. */
        up_error(&x.st, x.status >= 400 && x.status <= 599 ? (int)x.status : 502,
                 "provider '%s' answered %ld: %s", p->id, x.status, msg);
        goto out;
    }
    if (x.json_body)
        pb->proto->on_body(&x.st, osr_buf_str(&x.body), x.body.len);
    else if (pb->proto->ndjson)
        osr_ndjson_finish(&x.nd);
    else
        osr_sse_finish(&x.sse);
    if (x.st.gone) {
        rc = OSR_ECANCELED;
        goto out;
    }
    if (!x.st.done) {
        if (pb->proto->at_end)
            pb->proto->at_end(&x.st);
        else if (x.st.finish_seen)
            up_finish(&x.st);
        else
            up_error(&x.st, 502, "provider '%s' ended its stream before finishing", p->id);
    }
    if (x.st.gone)
        rc = OSR_ECANCELED;
out:
    if (memo && x.st.usage.prompt_tokens > 0)
        up_memo_put(&pb->memo, memo_key, x.st.usage.prompt_tokens);
    up_state_release(&x.st);
    osr_netloop_xfer_free(x.nx);
    if (x.curl)
        curl_easy_cleanup(x.curl);
    free_headers(hdrs);
    osr_buf_release(&url);
    osr_buf_release(&body);
    osr_buf_release(&x.errbody);
    osr_buf_release(&x.body);
    osr_sse_release(&x.sse);
    osr_ndjson_release(&x.nd);
    return rc;
}

static bool backend_claims(struct osr_chat_backend *b, const char *model_id, const char **local)
{
    struct provider_backend *pb = b->ctx;
    size_t n = strlen(pb->p.id);
    if (!pb->p.enabled || strncmp(model_id, pb->p.id, n) != 0 || model_id[n] != '/' ||
        model_id[n + 1] == '\0')
        return false;
    if (local)
        *local = model_id + n + 1;
    return true;
}

/* A plain request (GET when body is NULL) with the provider's headers; the answer body is
 * collected into out.  Returns the HTTP status, or -1 when the transfer failed. */
static long simple_request(const struct osr_provider *p, const char *url, const char *body,
                           size_t body_len, long timeout_s, struct osr_buf *out)
{
    CURL *c = curl_easy_init();
    if (!c)
        return -1;
    struct curl_slist *h = build_headers(p, "application/json", body != NULL);
    common_opts(c, p);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    long status = -1;
    CURLcode cc;
    /* A body longer than out's cap ends the transfer: a failure, like no answer at all. */
    if (osr_netloop_perform(c, out, &status, &cc) != OSR_OK)
        status = -1;
    curl_easy_cleanup(c);
    free_headers(h);
    return status;
}

int osr_provider_proxy_check(const char *url, struct osr_diag *diag)
{
    static const char *const schemes[] = {"http://",    "https://",  "socks4://",
                                          "socks4a://", "socks5://", "socks5h://"};
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        size_t k = strlen(schemes[i]);
        if (strncasecmp(url, schemes[i], k) != 0)
            continue;
        if (url[k] == '\0' || url[k] == '/' || url[k] == ':')
            return osr_diag_set(diag, OSR_EINVAL, "proxy '%s' has no host", url);
        for (const char *c = url; *c; c++)
            if ((unsigned char)*c <= 0x20 || *c == 0x7f)
                return osr_diag_set(diag, OSR_EINVAL, "proxy URL holds a space or control byte");
        return OSR_OK;
    }
    return osr_diag_set(diag, OSR_EINVAL,
                        "proxy '%s' must start with http://, https://, socks4://, socks4a://, "
                        "socks5:// or socks5h://",
                        url);
}

/* Fetches the upstream's model list into a heap array of names (without our prefix). */
int osr_provider_fetch_models(const struct osr_provider *p, char ***out, size_t *n_out,
                              struct osr_diag *diag)
{
    *out = NULL;
    *n_out = 0;
    struct osr_buf url, body;
    osr_buf_init(&url, 16 * 1024);
    osr_buf_init(&body, MAX_LIST_BODY);
    osr_provider_base_url(p, &url);
    const char *list_key = "data", *name_key = "id";
    if (p->type == OSR_PROVIDER_OLLAMA) {
        size_t bl = url.len;
        osr_buf_puts(&url, bl >= 4 && strcmp(osr_buf_str(&url) + bl - 4, "/api") == 0
                               ? "/tags"
                               : "/api/tags");
        list_key = "models";
        name_key = "name";
    } else {
        osr_buf_puts(&url, "/models");
        if (p->type == OSR_PROVIDER_GEMINI) {
            list_key = "models";
            name_key = "name";
        }
    }
    add_api_version(p, &url);
    long status = simple_request(p, osr_buf_str(&url), NULL, 0, LIST_TIMEOUT_S, &body);
    int rc = OSR_EIO;
    struct json_object *root = NULL;
    if (status < 0) {
        osr_diag_set(diag, OSR_EIO, "provider '%s': cannot reach %s%s%s", p->id, osr_buf_str(&url),
                     p->proxy ? " through the proxy " : "", p->proxy ? p->proxy : "");
        goto out;
    }
    if (status < 200 || status >= 300) {
        char msg[512];
        up_error_message(osr_buf_str(&body), body.len, msg, sizeof(msg));
        osr_diag_set(diag, OSR_EIO, "provider '%s' answered %ld: %s", p->id, status, msg);
        goto out;
    }
    root = jparse(osr_buf_str(&body), body.len);
    struct json_object *arr = jget(root, list_key);
    if (!arr || !json_object_is_type(arr, json_type_array)) {
        osr_diag_set(diag, OSR_EIO, "provider '%s': the model list has no '%s' array", p->id,
                     list_key);
        goto out;
    }
    size_t n = json_object_array_length(arr);
    if (n > 100000)
        n = 100000;
    *out = osr_xcalloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        const char *name = jstr(json_object_array_get_idx(arr, i), name_key);
        if (!name || !*name)
            continue;
        if (p->type == OSR_PROVIDER_GEMINI && strncmp(name, "models/", 7) == 0)
            name += 7;
        (*out)[(*n_out)++] = osr_xstrdup(name);
    }
    rc = OSR_OK;
out:
    json_object_put(root);
    osr_buf_release(&url);
    osr_buf_release(&body);
    return rc;
}

void osr_provider_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static void backend_list_models(struct osr_chat_backend *b, struct osr_model_list *out)
{
    struct provider_backend *pb = b->ctx;
    const struct osr_provider *p = &pb->p;
    if (!p->enabled)
        return;
    struct osr_buf id;
    osr_buf_init(&id, 64 * 1024);
    if (p->n_models) {
        for (size_t i = 0; i < p->n_models; i++) {
            osr_buf_reset(&id);
            if (osr_buf_appendf(&id, "%s/%s", p->id, p->models[i]) == OSR_OK)
                osr_model_list_add(out, osr_buf_str(&id), p->id, 0);
        }
        osr_buf_release(&id);
        return;
    }
    pthread_mutex_lock(&pb->lock);
    int64_t now = osr_mono_ns() / 1000000;
    int64_t ttl = pb->n_cached ? LIST_TTL_MS : LIST_FAIL_TTL_MS;
    if (!pb->cache_valid || now - pb->cached_at_ms > ttl) {
        char **names;
        size_t n;
        struct osr_diag d;
        osr_diag_clear(&d);
        if (osr_provider_fetch_models(p, &names, &n, &d) == OSR_OK) {
            osr_provider_names_free(pb->cached, pb->n_cached);
            pb->cached = names;
            pb->n_cached = n;
        } else {
            OSR_WARN("listing models: %s", d.msg);
        }
        pb->cache_valid = true;
        pb->cached_at_ms = now;
    }
    for (size_t i = 0; i < pb->n_cached; i++) {
        osr_buf_reset(&id);
        if (osr_buf_appendf(&id, "%s/%s", p->id, pb->cached[i]) == OSR_OK)
            osr_model_list_add(out, osr_buf_str(&id), p->id, 0);
    }
    pthread_mutex_unlock(&pb->lock);
    osr_buf_release(&id);
}

/* Embeddings: OpenAI-style POST {base}/embeddings, or Ollama's /api/embed. */
static int backend_embed(struct osr_chat_backend *b, const char *model,
                         const struct osr_str *inputs, size_t n_inputs, struct osr_embeddings *out,
                         int *status, struct osr_diag *diag)
{
    struct provider_backend *pb = b->ctx;
    const struct osr_provider *p = &pb->p;
    memset(out, 0, sizeof(*out));
    out->prompt_tokens = -1;
    bool ollama = p->type == OSR_PROVIDER_OLLAMA;
    if (!ollama && p->type != OSR_PROVIDER_OPENAI && p->type != OSR_PROVIDER_RESPONSES) {
        *status = 400;
        return osr_diag_set(diag, OSR_EUNSUPPORTED, "provider '%s' (%s) has no embeddings", p->id,
                            osr_provider_type_name(p->type));
    }
    struct osr_buf url, body, answer;
    osr_buf_init(&url, 16 * 1024);
    osr_buf_init(&body, UP_MAX_REQUEST_BODY);
    osr_buf_init(&answer, MAX_EMBED_BODY);
    struct json_object *root = NULL;
    int rc = OSR_OK;
    osr_provider_base_url(p, &url);
    osr_buf_puts(&url, ollama ? "/api/embed" : "/embeddings");
    add_api_version(p, &url);
    struct json_object *req = json_object_new_object();
    json_object_object_add(req, "model", json_object_new_string(model));
    struct json_object *arr = json_object_new_array();
    for (size_t i = 0; i < n_inputs; i++)
        json_object_array_add(arr, osr_json_new_string(inputs[i].p, inputs[i].n));
    json_object_object_add(req, "input", arr);
    if (up_emit_json(req, &body)) {
        *status = 413;
        rc = osr_diag_set(diag, OSR_ETOOBIG, "the embedding request is too large");
        goto out;
    }
    long st = simple_request(p, osr_buf_str(&url), osr_buf_str(&body), body.len, (long)p->timeout_s,
                             &answer);
    if (st < 0) {
        *status = 502;
        rc = osr_diag_set(diag, OSR_EIO, "cannot reach provider '%s'", p->id);
        goto out;
    }
    if (st >= 300) {
        char msg[512];
        up_error_message(osr_buf_str(&answer), answer.len, msg, sizeof(msg));
        *status = (int)st;
        rc = osr_diag_set(diag, OSR_EIO, "provider '%s' answered %ld: %s", p->id, st, msg);
        goto out;
    }
    root = jparse(osr_buf_str(&answer), answer.len);
    struct json_object *rows = jget(root, ollama ? "embeddings" : "data");
    size_t n =
        rows && json_object_is_type(rows, json_type_array) ? json_object_array_length(rows) : 0;
    if (n != n_inputs) {
        *status = 502;
        rc = osr_diag_set(diag, OSR_EPROTO, "provider '%s' returned %zu vectors for %zu inputs",
                          p->id, n, n_inputs);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct json_object *row = json_object_array_get_idx(rows, i);
        struct json_object *vec = ollama ? row : jget(row, "embedding");
        size_t dim =
            vec && json_object_is_type(vec, json_type_array) ? json_object_array_length(vec) : 0;
        if (dim == 0 || (i > 0 && dim != out->dim) || dim > 65536) {
            *status = 502;
            rc = osr_diag_set(diag, OSR_EPROTO, "provider '%s' returned a malformed vector", p->id);
            goto out;
        }
        if (i == 0) {
            out->dim = dim;
            out->data = osr_xcalloc(n * dim, sizeof(float));
        }
        for (size_t k = 0; k < dim; k++)
            out->data[i * dim + k] =
                (float)json_object_get_double(json_object_array_get_idx(vec, k));
    }
    out->n = n;
    int64_t pt;
    if (jint(jget(root, "usage"), "prompt_tokens", &pt) || jint(root, "prompt_eval_count", &pt))
        out->prompt_tokens = pt;
out:
    if (rc) {
        free(out->data);
        out->data = NULL;
        out->n = 0;
    }
    json_object_put(root);
    osr_buf_release(&url);
    osr_buf_release(&body);
    osr_buf_release(&answer);
    return rc;
}

static void backend_free(struct osr_chat_backend *b)
{
    struct provider_backend *pb = b->ctx;
    osr_provider_release(&pb->p);
    osr_provider_names_free(pb->cached, pb->n_cached);
    pthread_mutex_destroy(&pb->lock);
    up_memo_release(&pb->memo);
    if (pb->loop_ref)
        osr_netloop_release();
    free(pb);
}

/* The upstream's own token count for req: Anthropic's POST {base}/messages/count_tokens with
 * the translator's body cut down to the fields that endpoint takes (it refuses max_tokens,
 * stream and the sampling settings), or Gemini's POST {base}/models/{model}:countTokens with
 * the whole generateContent body as its generateContentRequest.  Returns OSR_OK with *n, or
 * an error with diag. */
static int count_upstream(struct provider_backend *pb, const char *model,
                          const struct osr_chat_request *req, int64_t *n, struct osr_diag *diag)
{
    static const char *const keep[] = {"model", "messages",    "system",
                                       "tools", "tool_choice", "thinking"};
    const struct osr_provider *p = &pb->p;
    bool gemini = p->type == OSR_PROVIDER_GEMINI;
    struct osr_buf url, body, answer, name;
    osr_buf_init(&url, 16 * 1024);
    osr_buf_init(&body, UP_MAX_REQUEST_BODY);
    osr_buf_init(&answer, 64 * 1024);
    osr_buf_init(&name, 16 * 1024);
    struct json_object *full = NULL, *cut = NULL, *root = NULL;
    int rc = OSR_EIO;
    if (pb->proto->encode(req, model, &body) || !(full = jparse(body.data, body.len)) ||
        osr_provider_base_url(p, &url)) {
        rc = osr_diag_set(diag, OSR_ETOOBIG, "the request is too large for provider '%s'", p->id);
        goto out;
    }
    cut = json_object_new_object();
    if (gemini) {
        /* The URL of the generate call, with :countTokens for its method. */
        if (pb->proto->url(p, model, &name) || !strstr(osr_buf_str(&name), ":") ||
            osr_buf_appendf(&url, "%.*s:countTokens",
                            (int)(strchr(osr_buf_str(&name), ':') - osr_buf_str(&name)),
                            osr_buf_str(&name))) {
            rc = osr_diag_set(diag, OSR_EINVAL, "model name '%s' is not valid for provider '%s'",
                              model, p->id);
            goto out;
        }
        osr_buf_reset(&name);
        osr_buf_appendf(&name, "models/%s", model);
        json_object_object_add(full, "model", json_object_new_string(osr_buf_str(&name)));
        json_object_object_add(cut, "generateContentRequest", json_object_get(full));
    } else {
        for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
            struct json_object *v = jget(full, keep[i]);
            if (v)
                json_object_object_add(cut, keep[i], json_object_get(v));
        }
        osr_buf_puts(&url, "/messages/count_tokens");
    }
    add_api_version(p, &url);
    osr_buf_reset(&body);
    if (osr_json_append(&body, cut)) {
        rc = osr_diag_set(diag, OSR_ETOOBIG, "the request is too large for provider '%s'", p->id);
        goto out;
    }
    long status =
        simple_request(p, osr_buf_str(&url), osr_buf_str(&body), body.len, LIST_TIMEOUT_S, &answer);
    root = status >= 200 && status < 300 ? jparse(answer.data, answer.len) : NULL;
    if (!jint(root, gemini ? "totalTokens" : "input_tokens", n) || *n < 0) {
        char msg[512];
        up_error_message(osr_buf_str(&answer), answer.len, msg, sizeof(msg));
        rc = osr_diag_set(diag, OSR_EIO, "provider '%s' could not count tokens (%ld): %s", p->id,
                          status, status < 0 ? "unreachable" : msg);
        goto out;
    }
    rc = OSR_OK;
out:
    json_object_put(full);
    json_object_put(cut);
    json_object_put(root);
    osr_buf_release(&url);
    osr_buf_release(&body);
    osr_buf_release(&answer);
    osr_buf_release(&name);
    return rc;
}

/* Exact when the upstream counted this very prompt before, or (Anthropic, Gemini) when it
 * counts it now; otherwise the caller estimates (no provider's tokenizer is local). */
static int backend_count_tokens(struct osr_chat_backend *b, const char *model,
                                struct osr_chat_request *req, int64_t *n, struct osr_diag *diag)
{
    struct provider_backend *pb = b->ctx;
    unsigned char key[UP_MEMO_KEY_LEN];
    bool keyed = up_memo_key(pb->proto, req, model, key);
    if (keyed && up_memo_get(&pb->memo, key, n))
        return OSR_OK;
    if (pb->p.type != OSR_PROVIDER_ANTHROPIC && pb->p.type != OSR_PROVIDER_GEMINI)
        return osr_diag_set(diag, OSR_ENOTFOUND, "provider '%s' has not counted this prompt",
                            pb->p.id);
    int rc = count_upstream(pb, model, req, n, diag);
    if (rc == OSR_OK && keyed)
        up_memo_put(&pb->memo, key, *n);
    if (rc)
        OSR_WARN("count_tokens: %s", diag->msg);
    return rc;
}

static const struct osr_chat_backend_ops provider_ops = {
    .claims = backend_claims,
    .chat = backend_chat,
    .embed = backend_embed,
    .list_models = backend_list_models,
    .free = backend_free,
    .count_tokens = backend_count_tokens,
};

struct osr_chat_backend *osr_provider_backend_new(const struct osr_provider *p)
{
    struct provider_backend *pb = osr_xcalloc(1, sizeof(*pb));
    provider_copy(&pb->p, p);
    pb->proto = proto_for(p->type);
    pthread_mutex_init(&pb->lock, NULL);
    pb->loop_ref = osr_netloop_acquire() == OSR_OK; /* without it, each transfer takes one */
    up_memo_init(&pb->memo);
    pb->base.ops = &provider_ops;
    pb->base.ctx = pb;
    return &pb->base;
}

int osr_providers_attach(struct osr_chat_service *svc, const char *home, struct osr_diag *diag)
{
    struct osr_provider_set set;
    int rc = osr_providers_load(home, &set, diag);
    if (rc)
        return rc;
    int added = 0;
    for (size_t i = 0; i < set.n; i++) {
        if (!set.items[i].enabled)
            continue;
        osr_chat_service_add_backend(svc, osr_provider_backend_new(&set.items[i]));
        OSR_INFO("provider %s (%s) ready", set.items[i].id,
                 osr_provider_type_name(set.items[i].type));
        added++;
    }
    osr_providers_release(&set);
    return added;
}

/* ---------------------------------------------------------------- images */

#define MAX_IMAGE_B64 ((size_t)64 * 1024 * 1024)

struct json_object *up_image_base64(const struct osr_image *img)
{
    struct osr_buf b;
    osr_buf_init(&b, MAX_IMAGE_B64);
    struct json_object *o = NULL;
    if (osr_base64_encode(&b, img->data, img->len, OSR_B64_STD) == OSR_OK)
        o = json_object_new_string_len(osr_buf_str(&b), (int)b.len);
    osr_buf_release(&b);
    return o;
}

struct json_object *up_image_url(const struct osr_image *img)
{
    if (img->url)
        return json_object_new_string(img->url);
    struct osr_buf b;
    osr_buf_init(&b, MAX_IMAGE_B64 + 128);
    struct json_object *o = NULL;
    if (osr_buf_appendf(&b, "data:%s;base64,", img->mime ? img->mime : "image/png") == OSR_OK &&
        osr_base64_encode(&b, img->data, img->len, OSR_B64_STD) == OSR_OK)
        o = json_object_new_string_len(osr_buf_str(&b), (int)b.len);
    osr_buf_release(&b);
    return o;
}
