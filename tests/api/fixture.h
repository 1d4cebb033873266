/* fixture.h - the data-driven protocol test runner shared by tests/api/test_*.c.
 *
 * Each case is a folder tests/data/api/<protocol>/<case>/ holding:
 *   request.json  the request body, byte for byte (it may be malformed on purpose)
 *   error         when decoding must fail: the HTTP status on the first line, then the exact
 *                 error body
 *   decoded.json  optional: the canonical request (osr_chat_request_dump), compared as JSON
 *   events        optional: canonical events, one per line (format below), fed to the
 *                 protocol's encoder through the stream-sink adapter
 *   stream        expected frames, byte for byte, when the request streams
 *   body.json     expected body, compared as JSON, when it does not
 *   status        optional: the expected HTTP status of the answer (default 200)
 *
 * Event lines ('#' starts a comment; strings are JSON string literals):
 *   role | text "s" | reasoning "s" | tool_start IDX "id" "name" | tool_args IDX "s"
 *   finish REASON ["matched stop"] | usage PROMPT COMPLETION [key=N ...] | error STATUS "msg"
 *   progress | tool_started        (extension events; encoders skip them)
 *   logprobs TOK LP [TOK LP ...]   the chosen token and its logprob, then the alternatives;
 *                                  TOK is a JSON string or 0x<hex bytes> (partial characters)
 * Ids come from a counter ("<prefix>1", "<prefix>2", ...) and the clock is fixed at
 * 1700000000000 ms, so every output is reproducible.
 */
#ifndef OSR_TEST_API_FIXTURE_H
#define OSR_TEST_API_FIXTURE_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "osr/api.h"
#include "osr/chat.h"
#include "osr/config.h"
#include "osr/json.h"

#define FIXTURE_NOW_MS 1700000000000LL

typedef int (*fixture_decode_fn)(struct osr_chat_request *, const char *, size_t,
                                 struct osr_api_error *);

static void fixture_make_id(void *ctx, const char *prefix, char *out, size_t cap)
{
    int *n = ctx;
    snprintf(out, cap, "%s%d", prefix, ++*n);
}

/* Reads dir/name; returns NULL when absent. */
static char *fixture_read(const char *dir, const char *name, size_t *len)
{
    char *path = osr_path_join(dir, name);
    char *data = NULL;
    size_t n = 0;
    if (osr_read_file(path, 16u * 1024 * 1024, &data, &n, NULL) != OSR_OK)
        data = NULL;
    free(path);
    if (len)
        *len = n;
    return data;
}

static void fixture_chomp(char *s, size_t *n)
{
    while (*n && (s[*n - 1] == '\n' || s[*n - 1] == '\r'))
        s[--*n] = '\0';
}

/* Parses one token at *p: a JSON string literal or a bare word.  Returns a heap string. */
static char *fixture_token(const char **p, size_t *len)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s)
        return NULL;
    if (*s == '"') {
        const char *e = s + 1;
        while (*e && *e != '"') {
            if (*e == '\\' && e[1])
                e++;
            e++;
        }
        if (*e != '"')
            return NULL;
        struct json_object *o = NULL;
        if (osr_json_parse(s, (size_t)(e + 1 - s), &o, NULL) != OSR_OK)
            return NULL;
        size_t n = (size_t)json_object_get_string_len(o);
        char *out = malloc(n + 1);
        memcpy(out, json_object_get_string(o), n);
        out[n] = '\0';
        json_object_put(o);
        *p = e + 1;
        if (len)
            *len = n;
        return out;
    }
    const char *e = s;
    while (*e && *e != ' ' && *e != '\t')
        e++;
    char *out = strndup(s, (size_t)(e - s));
    *p = e;
    if (len)
        *len = (size_t)(e - s);
    return out;
}

static long long fixture_ll(const char *s)
{
    char *end = NULL;
    long long v = strtoll(s ? s : "", &end, 10);
    return v;
}

static int fixture_finish(const char *s, enum osr_finish *out)
{
    static const char *names[] = {"stop",      "length", "tool_calls",
                                  "cancelled", "error",  "stop_sequence"};
    for (int i = 0; i < 6; i++)
        if (s && strcmp(s, names[i]) == 0) {
            *out = (enum osr_finish)i;
            return 0;
        }
    return -1;
}

/* Reads a logprobs token: "json string" or 0x<hex>.  Returns a heap buffer or NULL. */
static char *fixture_lp_token(const char **p, size_t *len)
{
    char *t = fixture_token(p, len);
    if (!t || strncmp(t, "0x", 2) != 0)
        return t;
    size_t hex = strlen(t + 2), n = hex / 2;
    char *out = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        char two[3] = {t[2 + 2 * i], t[3 + 2 * i], 0};
        out[i] = (char)strtol(two, NULL, 16);
    }
    out[n] = '\0';
    *len = n;
    free(t);
    return out;
}

/* Emits a logprobs line (after its kind word).  Returns 0, -1 or -2 as fixture_emit_line. */
static int fixture_emit_logprobs(struct osr_sink *sink, const char *p)
{
    struct osr_logprobs lp;
    char *toks[OSR_LOGPROBS_TOP_MAX + 1] = {0};
    int n = 0, rc = 0;
    memset(&lp, 0, sizeof(lp));
    for (;;) {
        size_t tl = 0;
        char *t = fixture_lp_token(&p, &tl);
        if (!t)
            break;
        char *v = fixture_token(&p, NULL);
        if (!v || n > OSR_LOGPROBS_TOP_MAX) {
            free(t);
            free(v);
            rc = -1;
            break;
        }
        toks[n] = t;
        struct osr_token_logprob *e = n == 0 ? &lp.chosen : &lp.top[n - 1];
        e->token = osr_str_make(t, tl);
        e->logprob = strtod(v, NULL);
        free(v);
        n++;
    }
    if (n == 0)
        rc = -1;
    lp.n_top = n > 0 ? n - 1 : 0;
    if (rc == 0)
        rc = osr_sink_logprobs(sink, &lp) ? -2 : 0;
    for (int i = 0; i < n; i++)
        free(toks[i]);
    return rc;
}

/* Emits one event line into sink.  Returns 0, or -1 for a line it cannot read. */
static int fixture_emit_line(struct osr_sink *sink, const char *line)
{
    const char *p = line;
    char *kind = fixture_token(&p, NULL);
    int rc = 0;
    struct osr_event ev = {0};
    char *a = NULL, *b = NULL, *c = NULL;
    size_t alen = 0, blen = 0, clen = 0;
    if (!kind)
        return 0;
    if (strcmp(kind, "logprobs") == 0) {
        free(kind);
        return fixture_emit_logprobs(sink, p);
    }
    if (strcmp(kind, "role") == 0) {
        ev.kind = OSR_EV_ROLE;
    } else if (strcmp(kind, "text") == 0 || strcmp(kind, "reasoning") == 0) {
        ev.kind = kind[0] == 't' ? OSR_EV_TEXT_DELTA : OSR_EV_REASONING_DELTA;
        a = fixture_token(&p, &alen);
        if (!a)
            rc = -1;
        ev.text = osr_str_make(a, alen);
    } else if (strcmp(kind, "tool_start") == 0) {
        ev.kind = OSR_EV_TOOL_CALL_START;
        a = fixture_token(&p, NULL);
        b = fixture_token(&p, &blen);
        c = fixture_token(&p, &clen);
        if (!a || !b || !c)
            rc = -1;
        ev.index = (int)fixture_ll(a);
        ev.id = osr_str_make(b, blen);
        ev.name = osr_str_make(c, clen);
    } else if (strcmp(kind, "tool_args") == 0) {
        ev.kind = OSR_EV_TOOL_CALL_ARGS_DELTA;
        a = fixture_token(&p, NULL);
        b = fixture_token(&p, &blen);
        if (!a || !b)
            rc = -1;
        ev.index = (int)fixture_ll(a);
        ev.text = osr_str_make(b, blen);
    } else if (strcmp(kind, "finish") == 0) {
        ev.kind = OSR_EV_FINISH;
        a = fixture_token(&p, NULL);
        b = fixture_token(&p, &blen);
        if (fixture_finish(a, &ev.finish))
            rc = -1;
        ev.text = osr_str_make(b ? b : "", b ? blen : 0);
    } else if (strcmp(kind, "usage") == 0) {
        ev.kind = OSR_EV_USAGE;
        ev.usage = osr_usage_unknown();
        a = fixture_token(&p, NULL);
        b = fixture_token(&p, NULL);
        if (!a || !b)
            rc = -1;
        ev.usage.prompt_tokens = fixture_ll(a);
        ev.usage.completion_tokens = fixture_ll(b);
        char *kv;
        while ((kv = fixture_token(&p, NULL)) != NULL) {
            char *eq = strchr(kv, '=');
            long long v = eq ? fixture_ll(eq + 1) : 0;
            if (eq)
                *eq = '\0';
            if (strcmp(kv, "cached") == 0)
                ev.usage.cached_tokens = v;
            else if (strcmp(kv, "reasoning") == 0)
                ev.usage.reasoning_tokens = v;
            else if (strcmp(kv, "total_ns") == 0)
                ev.usage.total_ns = v;
            else if (strcmp(kv, "load_ns") == 0)
                ev.usage.load_ns = v;
            else if (strcmp(kv, "prompt_ns") == 0)
                ev.usage.prompt_ns = v;
            else if (strcmp(kv, "eval_ns") == 0)
                ev.usage.eval_ns = v;
            else
                rc = -1;
            free(kv);
        }
    } else if (strcmp(kind, "error") == 0) {
        ev.kind = OSR_EV_ERROR;
        a = fixture_token(&p, NULL);
        b = fixture_token(&p, &blen);
        if (!a || !b)
            rc = -1;
        ev.status = (int)fixture_ll(a);
        ev.text = osr_str_make(b, blen);
    } else if (strcmp(kind, "progress") == 0) {
        ev.kind = OSR_EV_PREFILL_PROGRESS;
        ev.progress = 0.5;
    } else if (strcmp(kind, "tool_started") == 0) {
        ev.kind = OSR_EV_TOOL_STARTED;
        ev.name = OSR_STR_LIT("shell");
    } else {
        rc = -1;
    }
    if (rc == 0)
        rc = osr_sink_emit(sink, &ev) ? -2 : 0;
    free(kind);
    free(a);
    free(b);
    free(c);
    return rc;
}

static int fixture_append(void *ctx, const char *p, size_t n)
{
    return osr_buf_append((struct osr_buf *)ctx, p, n);
}

static int fixture_json_equal(const char *a, size_t an, const char *b, size_t bn)
{
    struct json_object *x = NULL, *y = NULL;
    int eq = osr_json_parse(a, an, &x, NULL) == OSR_OK &&
             osr_json_parse(b, bn, &y, NULL) == OSR_OK && json_object_equal(x, y);
    json_object_put(x);
    json_object_put(y);
    return eq;
}

static void fixture_run_case(const char *dir, const char *name, enum osr_api_proto proto,
                             fixture_decode_fn decode)
{
    size_t req_len = 0, n = 0;
    char *body = fixture_read(dir, "request.json", &req_len);
    char *expect_err = fixture_read(dir, "error", &n);
    struct osr_chat_request req;
    struct osr_api_error err = {0};
    struct osr_buf out;
    osr_chat_request_init(&req, OSR_CHAT_ARENA_MAX);
    osr_buf_init(&out, 64u * 1024 * 1024);
    int before = check_failed;
    if (!body) {
        fprintf(stderr, "%s: no request.json\n", name);
        CHECK(body != NULL);
        goto out;
    }
    int rc = decode(&req, body, req_len, &err);
    if (expect_err) {
        fixture_chomp(expect_err, &n);
        char *nl = strchr(expect_err, '\n');
        CHECK(rc != OSR_OK);
        if (nl && rc != OSR_OK) {
            *nl = '\0';
            CHECK_INT_EQ(err.status, fixture_ll(expect_err));
            CHECK(osr_api_error_body(proto, &err, &out) == OSR_OK);
            CHECK_STR_EQ(osr_buf_str(&out), nl + 1);
        }
        goto out;
    }
    if (rc != OSR_OK)
        fprintf(stderr, "%s: decode failed: %d %s (param %s)\n", name, err.status, err.diag.msg,
                err.diag.param);
    REQUIRE(rc == OSR_OK);

    size_t dn = 0;
    char *decoded = fixture_read(dir, "decoded.json", &dn);
    if (decoded) {
        struct osr_buf dump;
        osr_buf_init(&dump, 64u * 1024 * 1024);
        CHECK(osr_chat_request_dump(&req, &dump) == OSR_OK);
        int eq = fixture_json_equal(dump.data, dump.len, decoded, dn);
        if (!eq)
            fprintf(stderr, "%s: decoded request differs:\n  got:  %s\n", name, osr_buf_str(&dump));
        CHECK(eq);
        osr_buf_release(&dump);
        free(decoded);
    }

    size_t en = 0;
    char *events = fixture_read(dir, "events", &en);
    if (events) {
        int ids = 0;
        struct osr_api_encode_opts o = {0};
        o.model = req.model;
        o.stream = req.stream;
        o.include_usage = req.include_usage;
        o.now_ms = FIXTURE_NOW_MS;
        o.make_id = fixture_make_id;
        o.id_ctx = &ids;
        o.req = &req;
        struct osr_api_encoder *enc = osr_api_encoder_new(proto, &o);
        struct osr_api_stream_sink ss;
        osr_api_stream_sink_init(&ss, enc, fixture_append, &out);
        char *save = NULL;
        for (char *line = strtok_r(events, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            if (line[0] == '#' || line[0] == '\0')
                continue;
            int erc = fixture_emit_line(&ss.sink, line);
            if (erc == -1)
                fprintf(stderr, "%s: bad event line: %s\n", name, line);
            CHECK(erc == 0);
        }
        CHECK(osr_api_stream_sink_end(&ss) == OSR_OK);
        size_t sn = 0;
        char *status = fixture_read(dir, "status", &sn);
        CHECK_INT_EQ(osr_api_encoder_status(enc), status ? fixture_ll(status) : 200);
        free(status);
        const char *ctype = osr_api_encoder_content_type(enc);
        char *want = fixture_read(dir, req.stream ? "stream" : "body.json", &sn);
        if (!want) {
            fprintf(stderr, "%s: events but no expected '%s'\n", name,
                    req.stream ? "stream" : "body.json");
            CHECK(want != NULL);
        } else if (req.stream) {
            CHECK(strstr(ctype, "json") == NULL || proto == OSR_API_OLLAMA_CHAT ||
                  proto == OSR_API_OLLAMA_GENERATE);
            CHECK_STR_EQ(osr_buf_str(&out), want);
        } else {
            CHECK(strstr(ctype, "application/json") != NULL);
            int eq = fixture_json_equal(out.data, out.len, want, sn);
            if (!eq)
                fprintf(stderr, "%s: body differs:\n  got:  %s\n  want: %s\n", name,
                        osr_buf_str(&out), want);
            CHECK(eq);
        }
        free(want);
        osr_api_stream_sink_release(&ss);
        osr_api_encoder_free(enc);
        free(events);
    }
out:
    if (check_failed != before)
        fprintf(stderr, "  ^ in case %s\n", name);
    osr_buf_release(&out);
    osr_chat_request_release(&req);
    free(body);
    free(expect_err);
}

static int fixture_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every case folder of tests/data/api/<proto_dir>.  Returns how many ran. */
static int fixture_run_all(const char *proto_dir, enum osr_api_proto proto,
                           fixture_decode_fn decode)
{
    const char *src = getenv("OSR_SOURCE_DIR");
    if (!src) {
        fprintf(stderr, "OSR_SOURCE_DIR is not set\n");
        CHECK(src != NULL);
        return 0;
    }
    char rel[256];
    snprintf(rel, sizeof(rel), "tests/data/api/%s", proto_dir);
    char *root = osr_path_join(src, rel);
    DIR *d = opendir(root);
    CHECK(d != NULL);
    if (!d) {
        free(root);
        return 0;
    }
    char *names[512];
    size_t count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && count < 512)
        if (e->d_name[0] != '.')
            names[count++] = strdup(e->d_name);
    closedir(d);
    qsort(names, count, sizeof(names[0]), fixture_cmp);
    for (size_t i = 0; i < count; i++) {
        char *dir = osr_path_join(root, names[i]);
        fixture_run_case(dir, names[i], proto, decode);
        free(dir);
        free(names[i]);
    }
    free(root);
    fprintf(stderr, "%zu %s fixture cases\n", count, proto_dir);
    return (int)count;
}

#endif
