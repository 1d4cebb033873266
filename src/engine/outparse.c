/* outparse.c - streaming post-processing of generated text: stop strings, <think> blocks and
 * the tool-call formats of the common model families, emitted as canonical events.
 *
 * The parser keeps two buffers: pend, text not yet classified (held back only while it may
 * still be the beginning of a marker or a stop string), and acc, the body of a tool call being
 * collected.  Both are capped.  It does not know tokens: the caller feeds whole UTF-8 text.
 * The search for stop strings and markers is the shared one of stopmatch.h, which the cloud
 * providers use on their text too.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "osr/alloc.h"
#include "osr/buf.h"
#include "osr/json.h"
#include "osr/outparse.h"
#include "osr/stopmatch.h"
#include "osr/uuid.h"

#define PEND_MAX (1u << 20)
#define ACC_MAX (4u << 20)

enum state {
    ST_TEXT,
    ST_THINK,
    ST_TOOL, /* inside <tool_call> ... </tool_call> */
    ST_ALL,  /* the rest of the output is one tool-call document */
    ST_DONE, /* a stop string matched */
};

enum all_kind {
    ALL_OBJECT,  /* the whole answer is {"name":..., "parameters"|"arguments":...} */
    ALL_MISTRAL, /* [TOOL_CALLS] followed by a JSON array of calls */
    ALL_PYTHON,  /* <|python_tag|> followed by one JSON call */
};

static const char THINK_OPEN[] = "<think>";
static const char THINK_CLOSE[] = "</think>";
static const char TOOL_OPEN[] = "<tool_call>";
static const char TOOL_CLOSE[] = "</tool_call>";
static const char MISTRAL_OPEN[] = "[TOOL_CALLS]";
static const char PYTHON_OPEN[] = "<|python_tag|>";

struct osr_outparse {
    struct osr_outparse_opts opts;
    struct osr_sink *sink;
    enum state state;
    enum all_kind all_kind;
    struct osr_buf pend;
    struct osr_buf acc;
    bool seen_text;    /* a non-space character was seen in the answer */
    bool trim_leading; /* drop whitespace before the next text (after </think>) */
    bool gone;
    int n_calls;
    const char *stop_matched;
};

struct osr_outparse *osr_outparse_new(const struct osr_outparse_opts *opts, struct osr_sink *sink)
{
    struct osr_outparse *p = osr_xcalloc(1, sizeof(*p));
    p->opts = *opts;
    if (!p->opts.id_prefix)
        p->opts.id_prefix = "call_";
    p->sink = sink;
    p->state = opts->in_think ? ST_THINK : ST_TEXT;
    osr_buf_init(&p->pend, PEND_MAX);
    osr_buf_init(&p->acc, ACC_MAX);
    return p;
}

void osr_outparse_free(struct osr_outparse *p)
{
    if (!p)
        return;
    osr_buf_release(&p->pend);
    osr_buf_release(&p->acc);
    free(p);
}

int osr_outparse_tool_calls(const struct osr_outparse *p)
{
    return p->n_calls;
}

/* Drops the first n bytes of b. */
static void consume(struct osr_buf *b, size_t n)
{
    if (n == 0 || !b->data)
        return;
    memmove(b->data, b->data + n, b->len - n + 1);
    b->len -= n;
}

/* The position of needle in hay (n bytes), or -1. */
static long find(const char *hay, size_t n, const char *needle)
{
    size_t which;
    return osr_stopmatch_find(hay, n, &needle, 1, &which);
}

static bool all_space(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i]))
            return false;
    return true;
}

static bool emit_text(struct osr_outparse *p, const char *s, size_t n)
{
    if (p->trim_leading) {
        while (n && isspace((unsigned char)*s)) {
            s++;
            n--;
        }
        if (n)
            p->trim_leading = false;
    }
    if (n == 0 || p->gone)
        return !p->gone;
    if (osr_sink_text(p->sink, s, n)) {
        p->gone = true;
        return false;
    }
    return true;
}

static bool emit_reasoning(struct osr_outparse *p, const char *s, size_t n)
{
    if (n == 0 || p->gone)
        return !p->gone;
    if (osr_sink_reasoning(p->sink, s, n)) {
        p->gone = true;
        return false;
    }
    return true;
}

/* Emits one call from a parsed JSON object {"name", "arguments"|"parameters"}.  Returns false
 * when obj is not such an object. */
static bool emit_call(struct osr_outparse *p, struct json_object *obj)
{
    struct json_object *name = NULL, *args = NULL;
    if (!json_object_is_type(obj, json_type_object) ||
        !json_object_object_get_ex(obj, "name", &name) ||
        !json_object_is_type(name, json_type_string))
        return false;
    if (!json_object_object_get_ex(obj, "arguments", &args))
        json_object_object_get_ex(obj, "parameters", &args);
    struct osr_buf a;
    osr_buf_init(&a, ACC_MAX);
    if (!args)
        osr_buf_puts(&a, "{}");
    else if (json_object_is_type(args, json_type_string))
        osr_buf_puts(&a, json_object_get_string(args));
    else
        osr_json_append(&a, args);
    char id[64];
    osr_random_id(id, sizeof(id), p->opts.id_prefix, 24, 0);
    int index = p->n_calls++;
    if (osr_sink_tool_start(p->sink, index, id, json_object_get_string(name)) ||
        osr_sink_tool_args(p->sink, index, osr_buf_str(&a), a.len))
        p->gone = true;
    osr_buf_release(&a);
    return true;
}

/* Parses s as one call, or (when list_ok) an array of calls.  Returns true when at least one
 * call was emitted and nothing in s was left unused. */
static bool emit_calls_from(struct osr_outparse *p, const char *s, size_t n, bool list_ok)
{
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    struct json_object *doc = NULL;
    if (n == 0 || osr_json_parse(s, n, &doc, NULL) != OSR_OK || !doc)
        return false;
    bool ok = false;
    if (json_object_is_type(doc, json_type_array) && list_ok) {
        size_t k = json_object_array_length(doc);
        ok = k > 0;
        for (size_t i = 0; i < k && ok; i++) {
            struct json_object *e = json_object_array_get_idx(doc, i);
            struct json_object *nm;
            ok = json_object_is_type(e, json_type_object) &&
                 json_object_object_get_ex(e, "name", &nm) &&
                 json_object_is_type(nm, json_type_string);
        }
        for (size_t i = 0; i < k && ok; i++)
            emit_call(p, json_object_array_get_idx(doc, i));
    } else {
        ok = emit_call(p, doc);
    }
    json_object_put(doc);
    return ok;
}

/* Ends a <tool_call> body: a call when it parses, else the original text. */
static void close_tool(struct osr_outparse *p, bool closed)
{
    if (emit_calls_from(p, osr_buf_str(&p->acc), p->acc.len, true)) {
        p->trim_leading = true; /* the newline between two calls is layout */
    } else if (!p->gone) {
        emit_text(p, TOOL_OPEN, sizeof(TOOL_OPEN) - 1);
        emit_text(p, osr_buf_str(&p->acc), p->acc.len);
        if (closed)
            emit_text(p, TOOL_CLOSE, sizeof(TOOL_CLOSE) - 1);
    }
    osr_buf_reset(&p->acc);
}

static const char *all_marker(enum all_kind k)
{
    return k == ALL_MISTRAL ? MISTRAL_OPEN : k == ALL_PYTHON ? PYTHON_OPEN : "";
}

/* Processes pend in the TEXT state; returns false to stop feeding. */
static bool step_text(struct osr_outparse *p, bool final)
{
    const char *s = osr_buf_str(&p->pend);
    size_t n = p->pend.len;

    /* An answer that opens with '{' while tools are offered may be a bare JSON call: keep it
     * whole until the end. */
    if (p->opts.tools && !p->seen_text) {
        size_t i = 0;
        while (i < n && isspace((unsigned char)s[i]))
            i++;
        if (i == n)
            return final ? emit_text(p, s, n) && (consume(&p->pend, n), true) : true;
        p->seen_text = true;
        if (s[i] == '{') {
            p->state = ST_ALL;
            p->all_kind = ALL_OBJECT;
            osr_buf_append(&p->acc, s + i, n - i);
            osr_buf_reset(&p->pend);
            return true;
        }
    }
    p->seen_text = p->seen_text || !all_space(s, n);

    /* Stop strings and markers are searched together: whichever comes first wins. */
    const char *marks[OSR_CHAT_MAX_STOP + 4];
    int whats[OSR_CHAT_MAX_STOP + 4]; /* 0 stop, 1 think, 2 tool, 3 mistral, 4 python */
    size_t nm = 0;
    for (size_t i = 0; i < p->opts.n_stops && nm < OSR_CHAT_MAX_STOP; i++) {
        marks[nm] = p->opts.stops[i];
        whats[nm++] = 0;
    }
    marks[nm] = THINK_OPEN;
    whats[nm++] = 1;
    if (p->opts.tools) {
        marks[nm] = TOOL_OPEN;
        whats[nm++] = 2;
        marks[nm] = MISTRAL_OPEN;
        whats[nm++] = 3;
        marks[nm] = PYTHON_OPEN;
        whats[nm++] = 4;
    }
    size_t best_k = 0;
    long best = osr_stopmatch_find(s, n, marks, nm, &best_k);
    if (best < 0) {
        size_t hold = final ? 0 : osr_stopmatch_hold(s, n, marks, nm);
        if (!emit_text(p, s, n - hold))
            return false;
        consume(&p->pend, n - hold);
        return true;
    }
    int what = whats[best_k];
    size_t mlen = strlen(marks[best_k]);
    /* Whitespace alone before a tool call is layout, not an answer. */
    if (!(what >= 2 && all_space(s, (size_t)best)) && !emit_text(p, s, (size_t)best))
        return false;
    switch (what) {
    case 0:
        p->stop_matched = marks[best_k];
        p->state = ST_DONE;
        osr_buf_reset(&p->pend);
        return false;
    case 1:
        p->state = ST_THINK;
        break;
    case 2:
        p->state = ST_TOOL;
        break;
    default:
        p->state = ST_ALL;
        p->all_kind = what == 3 ? ALL_MISTRAL : ALL_PYTHON;
        break;
    }
    consume(&p->pend, (size_t)best + mlen);
    return true;
}

/* THINK and TOOL: collect until the closing marker. */
static bool step_until(struct osr_outparse *p, const char *close, bool final)
{
    const char *s = osr_buf_str(&p->pend);
    size_t n = p->pend.len;
    long at = find(s, n, close);
    size_t take = at >= 0 ? (size_t)at : n - (final ? 0 : osr_stopmatch_hold(s, n, &close, 1));
    if (p->state == ST_THINK) {
        if (!emit_reasoning(p, s, take))
            return false;
    } else if (osr_buf_append(&p->acc, s, take)) {
        return false;
    }
    if (at < 0) {
        consume(&p->pend, take);
        return true;
    }
    consume(&p->pend, take + strlen(close));
    if (p->state == ST_THINK) {
        p->trim_leading = true;
    } else {
        close_tool(p, true);
    }
    p->state = ST_TEXT;
    return !p->gone;
}

/* Runs the state machine over pend until it needs more text. */
static enum osr_outparse_status run(struct osr_outparse *p, bool final)
{
    for (;;) {
        enum state before = p->state;
        size_t len_before = p->pend.len;
        bool go = true;
        switch (p->state) {
        case ST_TEXT:
            go = step_text(p, final);
            break;
        case ST_THINK:
            go = step_until(p, THINK_CLOSE, final);
            break;
        case ST_TOOL:
            go = step_until(p, TOOL_CLOSE, final);
            if (!go && !p->gone && p->acc.len >= ACC_MAX)
                return OSR_OUTPARSE_TOOBIG;
            break;
        case ST_ALL:
            if (osr_buf_append(&p->acc, osr_buf_str(&p->pend), p->pend.len))
                return OSR_OUTPARSE_TOOBIG;
            osr_buf_reset(&p->pend);
            break;
        case ST_DONE:
            osr_buf_reset(&p->pend);
            return OSR_OUTPARSE_STOP;
        }
        if (p->gone)
            return OSR_OUTPARSE_GONE;
        if (p->state == ST_DONE)
            return OSR_OUTPARSE_STOP;
        if (!go)
            return OSR_OUTPARSE_MORE;
        if (p->state == before && p->pend.len == len_before)
            return OSR_OUTPARSE_MORE; /* nothing more to do until more text comes */
        if (p->pend.len == 0)
            return OSR_OUTPARSE_MORE;
    }
}

enum osr_outparse_status osr_outparse_push(struct osr_outparse *p, const char *text, size_t n)
{
    if (p->gone)
        return OSR_OUTPARSE_GONE;
    if (p->state == ST_DONE)
        return OSR_OUTPARSE_STOP;
    if (osr_buf_append(&p->pend, text, n))
        return OSR_OUTPARSE_TOOBIG;
    return run(p, false);
}

enum osr_outparse_status osr_outparse_finish(struct osr_outparse *p, enum osr_finish gen_finish,
                                             enum osr_finish *finish, const char **stop_seq)
{
    if (!p->gone && p->state != ST_DONE)
        run(p, true);
    if (!p->gone) {
        if (p->state == ST_TOOL) {
            /* The model ended without </tool_call>: a complete body still counts. */
            close_tool(p, false);
        } else if (p->state == ST_ALL) {
            const char *s = osr_buf_str(&p->acc);
            bool ok = emit_calls_from(p, s, p->acc.len, p->all_kind == ALL_MISTRAL);
            if (!ok && !p->gone) {
                emit_text(p, all_marker(p->all_kind), strlen(all_marker(p->all_kind)));
                emit_text(p, s, p->acc.len);
            }
            osr_buf_reset(&p->acc);
        }
    }
    *stop_seq = p->stop_matched;
    if (p->n_calls > 0)
        *finish = OSR_FINISH_TOOL_CALLS;
    else if (p->stop_matched)
        *finish = OSR_FINISH_STOP_SEQUENCE;
    else
        *finish = gen_finish;
    return p->gone ? OSR_OUTPARSE_GONE : OSR_OUTPARSE_MORE;
}
