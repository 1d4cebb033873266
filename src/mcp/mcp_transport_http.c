/* mcp_transport_http.c - the MCP client's Streamable HTTP transport over libcurl.
 *
 * Every message is one POST to the provider's URL with "Accept: application/json,
 * text/event-stream".  The answer is either one JSON body (a response, or a batch of them) or
 * an event stream whose events carry JSON-RPC messages: notifications on the way are handed to
 * the client, and the transfer ends as soon as the response with our id has arrived.  The
 * Mcp-Session-Id the server gives at initialize is sent back on every later message, with
 * MCP-Protocol-Version once it is negotiated; a 404 for our session means the server forgot
 * it (restarted), which marks the connection dead so the client reconnects.  On shutdown the
 * session is ended with DELETE.
 *
 * When asked (streamingEnabled), a listener thread also keeps the GET event stream open for
 * messages the server sends unprompted (notifications/tools/list_changed); a server that
 * answers 405 has none, which is fine.  Requests from the server (only ping gets a real
 * answer: we declare no client capabilities) are answered with a POST once the transfer that
 * carried them returns, since libcurl must not be called from its own callbacks.  Not here:
 * resumption (Last-Event-ID) and OAuth. Secret header values are wiped when the connection goes.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "mcp_transport.h"
#include "osr/alloc.h"
#include "osr/clock.h"
#include "osr/json.h"
#include "osr/log.h"
#include "osr/sse.h"

#define SESSION_MAX 256
#define CONNECT_TIMEOUT_MS 10000L
#define DELETE_TIMEOUT_MS 2000L
#define ERROR_BODY_MAX 300
#define MAX_ANSWERS 8 /* server requests answered per transfer; more are dropped */
#define LISTEN_RETRY_MIN_MS 500
#define LISTEN_RETRY_MAX_MS 10000

struct http_conn {
    struct mcp_conn base;
    char *url;
    struct curl_slist *headers; /* custom and secret headers; values wiped on destroy */
    pthread_mutex_t mu;
    char session[SESSION_MAX]; /* guarded by mu; "" until the server names one */
    pthread_t listener;
    bool listening; /* guarded by mu: a listener thread runs and must be joined */
};

struct xfer {
    struct http_conn *c;
    int64_t want_id;
    bool sse;
    bool decided;
    bool too_big;
    struct osr_buf body;
    struct osr_sse_parser parser;
    struct json_object *reply;
    char content_type[128];
    char session[SESSION_MAX];
    char *answers[MAX_ANSWERS]; /* to server requests, sent once the transfer returns */
    int n_answers;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Sends a server's request answer back (a POST of its own; errors only logged). */
static void post_answer(struct http_conn *c, const char *text);

static int on_event(void *ctx, const struct osr_sse_event *ev)
{
    struct xfer *x = ctx;
    if (ev->data.n == 0)
        return 0;
    struct json_object *msg = NULL;
    if (osr_json_parse(ev->data.p, ev->data.n, &msg, NULL) != OSR_OK) {
        OSR_DEBUG("mcp '%s': dropped an event that is not JSON", x->c->base.label);
        return 0;
    }
    char *answer = NULL;
    struct json_object *r = mcp_conn_incoming(&x->c->base, msg, x->want_id, &answer);
    json_object_put(msg);
    /* libcurl must not be re-entered from its own callback: answer after the transfer. */
    if (answer && x->n_answers < MAX_ANSWERS)
        x->answers[x->n_answers++] = answer;
    else
        free(answer);
    if (r) {
        x->reply = r;
        return 1; /* stop: the answer is here */
    }
    return 0;
}

/* Sends and frees the answers a transfer collected. */
static void flush_answers(struct xfer *x)
{
    for (int i = 0; i < x->n_answers; i++) {
        post_answer(x->c, x->answers[i]);
        free(x->answers[i]);
    }
    x->n_answers = 0;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    size_t n = size * nmemb;
    struct osr_str line = osr_str_trim(osr_str_make(p, n));
    struct osr_str head;
    struct osr_str value = osr_str_trim(osr_str_split(line, ':', &head));
    if (!value.p)
        return n;
    if (osr_str_case_eq(head, OSR_STR_LIT("content-type")))
        snprintf(x->content_type, sizeof(x->content_type), "%.*s", (int)value.n, value.p);
    else if (osr_str_case_eq(head, OSR_STR_LIT("mcp-session-id"))) {
        bool visible = value.n > 0 && value.n < SESSION_MAX;
        for (size_t i = 0; visible && i < value.n; i++)
            visible = value.p[i] >= 0x21 && value.p[i] <= 0x7e;
        if (visible)
            snprintf(x->session, sizeof(x->session), "%.*s", (int)value.n, value.p);
    }
    return n;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    size_t n = size * nmemb;
    if (!x->decided) {
        x->decided = true;
        x->sse = strncasecmp(x->content_type, "text/event-stream", 17) == 0;
    }
    if (x->sse) {
        int rc = osr_sse_feed(&x->parser, p, n);
        if (rc == OSR_ETOOBIG)
            x->too_big = true;
        return rc ? 0 : n; /* 0 ends the transfer (answer found, or too big) */
    }
    if (osr_buf_append(&x->body, p, n)) {
        x->too_big = true;
        return 0;
    }
    return n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    struct http_conn *c = ud;
    return atomic_load(&c->base.closing) ? 1 : 0;
}

static CURL *new_handle(struct http_conn *c, long timeout_ms)
{
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms); /* 0: none (the GET stream) */
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     timeout_ms > 0 && timeout_ms < CONNECT_TIMEOUT_MS ? timeout_ms
                                                                       : CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
    return h;
}

/* The request's header list: ours, then the provider's (the caller frees it). */
static struct curl_slist *request_headers(struct http_conn *c, bool *had_session, bool get)
{
    struct curl_slist *h = NULL;
    if (get) {
        h = curl_slist_append(h, "Accept: text/event-stream");
    } else {
        h = curl_slist_append(h, "Content-Type: application/json");
        h = curl_slist_append(h, "Accept: application/json, text/event-stream");
    }
    char line[SESSION_MAX + 32];
    pthread_mutex_lock(&c->mu);
    if (c->session[0]) {
        snprintf(line, sizeof(line), "Mcp-Session-Id: %s", c->session);
        h = curl_slist_append(h, line);
    }
    if (had_session)
        *had_session = c->session[0] != '\0';
    pthread_mutex_unlock(&c->mu);
    if (c->base.protocol[0]) {
        snprintf(line, sizeof(line), "MCP-Protocol-Version: %s", c->base.protocol);
        h = curl_slist_append(h, line);
    }
    for (struct curl_slist *s = c->headers; s; s = s->next)
        h = curl_slist_append(h, s->data);
    return h;
}

/* Finds the response with want_id in a JSON body (one message or a batch). */
static struct json_object *from_json_body(struct xfer *x, struct osr_diag *diag, int *rc)
{
    struct json_object *doc = NULL;
    struct osr_diag d;
    osr_diag_clear(&d);
    if (osr_json_parse(x->body.data ? x->body.data : "", x->body.len, &doc, &d) != OSR_OK) {
        *rc = osr_diag_set(diag, OSR_EPROTO, "the server's answer is not JSON: %s", d.msg);
        return NULL;
    }
    struct json_object *found = NULL;
    size_t n = doc && json_object_is_type(doc, json_type_array) ? json_object_array_length(doc) : 1;
    for (size_t i = 0; i < n; i++) {
        struct json_object *m =
            json_object_is_type(doc, json_type_array) ? json_object_array_get_idx(doc, i) : doc;
        char *answer = NULL;
        struct json_object *r = mcp_conn_incoming(&x->c->base, m, x->want_id, &answer);
        if (answer) {
            post_answer(x->c, answer);
            free(answer);
        }
        if (r && !found)
            found = r;
        else
            json_object_put(r);
    }
    json_object_put(doc);
    if (!found)
        *rc =
            osr_diag_set(diag, OSR_EPROTO, "the server's answer holds no response to our request");
    return found;
}

static void error_excerpt(const struct osr_buf *b, char *out, size_t cap)
{
    size_t n = b->len < cap - 1 ? b->len : cap - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)b->data[i];
        out[i] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
    }
    out[n] = '\0';
}

static int http_send(struct mcp_conn *base, int64_t id, const char *text, size_t n, int timeout_ms,
                     struct json_object **reply, struct osr_diag *diag)
{
    struct http_conn *c = (struct http_conn *)base;
    struct xfer x;
    memset(&x, 0, sizeof(x));
    x.c = c;
    x.want_id = reply ? id : -1;
    osr_buf_init(&x.body, OSR_MCP_CLIENT_MESSAGE_MAX);
    osr_sse_init(&x.parser, OSR_MCP_CLIENT_MESSAGE_MAX, on_event, &x);
    int rc = OSR_OK;
    bool had_session = false;
    struct curl_slist *hdrs = request_headers(c, &had_session, false);
    CURL *h = new_handle(c, timeout_ms);
    if (!h) {
        rc = osr_diag_set(diag, OSR_ENOMEM, "cannot create an HTTP transfer");
        goto out;
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (x.session[0]) {
        pthread_mutex_lock(&c->mu);
        if (!c->session[0])
            snprintf(c->session, sizeof(c->session), "%s", x.session);
        pthread_mutex_unlock(&c->mu);
    }
    if (x.reply && cc == CURLE_WRITE_ERROR)
        cc = CURLE_OK; /* we stopped the stream ourselves once the answer was in */
    if (x.too_big) {
        rc = osr_diag_set(diag, OSR_ETOOBIG, "the server's message is larger than %zu bytes",
                          OSR_MCP_CLIENT_MESSAGE_MAX);
        goto out;
    }
    if (cc == CURLE_OPERATION_TIMEDOUT) {
        rc = osr_diag_set(diag, OSR_ETIMEOUT, "no answer within %d ms", timeout_ms);
        goto out;
    }
    if (cc == CURLE_ABORTED_BY_CALLBACK) {
        rc = osr_diag_set(diag, OSR_ECLOSED, "the connection was closed");
        goto out;
    }
    if (cc != CURLE_OK) {
        rc = osr_diag_set(diag, OSR_EIO, "cannot reach '%s': %s", c->url, curl_easy_strerror(cc));
        mcp_conn_mark_dead(base, "%s", diag ? diag->msg : "unreachable");
        goto out;
    }
    if (status == 404 && had_session) {
        rc = osr_diag_set(diag, OSR_ECLOSED, "the server no longer knows our session (404)");
        mcp_conn_mark_dead(base, "session expired");
        goto out;
    }
    if (status < 200 || status > 299) {
        char excerpt[ERROR_BODY_MAX];
        error_excerpt(&x.body, excerpt, sizeof(excerpt));
        rc = osr_diag_set(diag, status == 401 || status == 403 ? OSR_EAUTH : OSR_EPROTO,
                          "HTTP %ld from '%s': %s", status, c->url,
                          excerpt[0] ? excerpt : "(no details)");
        goto out;
    }
    if (!reply)
        goto out; /* a notification: 202 and no body */
    if (x.sse) {
        if (!x.reply)
            rc = osr_diag_set(diag, OSR_EPROTO, "the event stream ended without our answer");
    } else {
        x.reply = from_json_body(&x, diag, &rc);
    }
    if (rc == OSR_OK) {
        *reply = x.reply;
        x.reply = NULL;
    }
out:
    json_object_put(x.reply);
    if (h)
        curl_easy_cleanup(h);
    flush_answers(&x);
    curl_slist_free_all(hdrs);
    osr_sse_release(&x.parser);
    osr_buf_release(&x.body);
    return rc;
}

static size_t discard(char *p, size_t size, size_t nmemb, void *ud)
{
    (void)p, (void)ud;
    return size * nmemb;
}

static void post_answer(struct http_conn *c, const char *text)
{
    if (atomic_load(&c->base.closing))
        return;
    struct curl_slist *hdrs = request_headers(c, NULL, false);
    CURL *h = new_handle(c, DELETE_TIMEOUT_MS);
    if (h) {
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
        CURLcode cc = curl_easy_perform(h);
        if (cc != CURLE_OK)
            OSR_DEBUG("mcp '%s': cannot answer the server: %s", c->base.label,
                      curl_easy_strerror(cc));
        curl_easy_cleanup(h);
    }
    curl_slist_free_all(hdrs);
}

static void http_shutdown(struct mcp_conn *base)
{
    struct http_conn *c = (struct http_conn *)base;
    /* closing is already set, so no listener starts after this look (see http_listen). */
    pthread_mutex_lock(&c->mu);
    bool listening = c->listening;
    c->listening = false;
    pthread_mutex_unlock(&c->mu);
    if (listening)
        pthread_join(c->listener, NULL); /* its transfer aborts through on_progress */
    pthread_mutex_lock(&c->mu);
    bool has_session = c->session[0] != '\0';
    pthread_mutex_unlock(&c->mu);
    if (!has_session)
        return;
    /* Tell the server the session is over; closing is set, so bypass the progress abort. */
    struct curl_slist *hdrs = request_headers(c, NULL, false);
    CURL *h = curl_easy_init();
    if (h) {
        curl_easy_setopt(h, CURLOPT_URL, c->url);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, DELETE_TIMEOUT_MS);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
        (void)curl_easy_perform(h);
        curl_easy_cleanup(h);
    }
    curl_slist_free_all(hdrs);
}

static void wipe_list(struct curl_slist *l)
{
    for (struct curl_slist *s = l; s; s = s->next)
        OPENSSL_cleanse(s->data, strlen(s->data));
    curl_slist_free_all(l);
}

static void http_destroy(struct mcp_conn *base)
{
    struct http_conn *c = (struct http_conn *)base;
    wipe_list(c->headers);
    pthread_mutex_destroy(&c->mu);
    free(c->url);
    free(c);
}

/* Sleeps ms in small steps; returns true when the connection is closing or dead. */
static bool listen_nap(struct http_conn *c, int ms)
{
    for (int waited = 0; waited < ms; waited += 50) {
        if (atomic_load(&c->base.closing) || atomic_load(&c->base.dead))
            return true;
        osr_sleep_ms(50);
    }
    return atomic_load(&c->base.closing) || atomic_load(&c->base.dead);
}

/* The GET stream: open, read events until it ends, reopen after a pause; stop for good on
 * 405 (the server has no such stream), a forgotten session, or shutdown. */
static void *listener_main(void *arg)
{
    struct http_conn *c = arg;
    int pause = LISTEN_RETRY_MIN_MS;
    while (!atomic_load(&c->base.closing) && !atomic_load(&c->base.dead)) {
        struct xfer x;
        memset(&x, 0, sizeof(x));
        x.c = c;
        x.want_id = -1;
        osr_buf_init(&x.body, 64 * 1024); /* a non-stream answer: only an error excerpt */
        osr_sse_init(&x.parser, OSR_MCP_CLIENT_MESSAGE_MAX, on_event, &x);
        bool had_session = false;
        struct curl_slist *hdrs = request_headers(c, &had_session, true);
        CURL *h = new_handle(c, 0);
        CURLcode cc = CURLE_FAILED_INIT;
        long status = 0;
        if (h) {
            curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
            curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
            curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
            curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
            curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
            curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
            cc = curl_easy_perform(h);
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
            curl_easy_cleanup(h);
        }
        flush_answers(&x);
        curl_slist_free_all(hdrs);
        osr_sse_release(&x.parser);
        osr_buf_release(&x.body);
        if (atomic_load(&c->base.closing))
            break;
        if (status == 405) {
            OSR_DEBUG("mcp '%s': the server offers no GET event stream", c->base.label);
            break;
        }
        if (status == 404 && had_session) {
            mcp_conn_mark_dead(&c->base, "session expired");
            break;
        }
        if (cc == CURLE_OK && status >= 200 && status < 300)
            pause = LISTEN_RETRY_MIN_MS; /* a stream that ended normally: reopen soon */
        else
            pause = pause * 2 > LISTEN_RETRY_MAX_MS ? LISTEN_RETRY_MAX_MS : pause * 2;
        if (listen_nap(c, pause))
            break;
    }
    return NULL;
}

static int http_listen(struct mcp_conn *base)
{
    struct http_conn *c = (struct http_conn *)base;
    int rc = OSR_OK;
    pthread_mutex_lock(&c->mu);
    if (atomic_load(&c->base.closing))
        rc = OSR_ECLOSED;
    else if (!c->listening && pthread_create(&c->listener, NULL, listener_main, c) != 0)
        rc = OSR_EIO;
    else
        c->listening = true;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static const struct mcp_conn_ops http_ops = {
    .send = http_send,
    .shutdown = http_shutdown,
    .destroy = http_destroy,
    .pid = NULL,
    .listen = http_listen,
};

static int add_header(struct curl_slist **l, const char *name, const char *value,
                      struct osr_diag *diag)
{
    struct osr_buf b;
    osr_buf_init(&b, 16384);
    int rc = osr_buf_appendf(&b, "%s: %s", name, value);
    if (rc == OSR_OK) {
        struct curl_slist *n = curl_slist_append(*l, osr_buf_str(&b));
        if (!n)
            rc = OSR_ENOMEM;
        else
            *l = n;
    }
    if (b.data)
        OPENSSL_cleanse(b.data, b.len);
    osr_buf_release(&b);
    if (rc)
        return osr_diag_set(diag, rc, "header '%s' is too large", name);
    return OSR_OK;
}

int mcp_conn_open_http(const struct mcp_conn_opts *opts, struct mcp_conn **out,
                       struct osr_diag *diag)
{
    pthread_once(&curl_once, curl_init_once);
    struct http_conn *c = osr_xcalloc(1, sizeof(*c));
    mcp_conn_base_init(&c->base, &http_ops, opts);
    c->url = osr_xstrdup(opts->cfg->url);
    pthread_mutex_init(&c->mu, NULL);
    int rc = OSR_OK;
    for (size_t i = 0; rc == OSR_OK && i < opts->cfg->n_headers; i++)
        rc = add_header(&c->headers, opts->cfg->headers[i].name, opts->cfg->headers[i].value, diag);
    for (size_t i = 0; rc == OSR_OK && i < opts->n_secret_headers; i++)
        rc = add_header(&c->headers, opts->secret_headers[i].name, opts->secret_headers[i].value,
                        diag);
    if (rc) {
        http_destroy(&c->base);
        return rc;
    }
    *out = &c->base;
    return OSR_OK;
}
