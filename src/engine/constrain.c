/* constrain.c - token masks that keep a local model's answer inside a small program: literal
 * text, special tokens, one of a set of names, a JSON object, then the end.
 *
 * The per-step work is one pass over the vocabulary grouped by first byte.  For each of the
 * 256 possible first bytes the program state after that byte is computed once; a group whose
 * first byte is refused is masked wholesale, and inside an accepted group each token only
 * replays its remaining bytes from the precomputed state.  Inside a JSON string, tokens that
 * are plain string content (whole UTF-8 characters, no quote, backslash or control byte) are
 * accepted without replaying anything, which is where most of an argument's tokens live.
 *
 * It does not know JSON Schema (the object's keys and value types are free) and it does not
 * choose what to generate: the program is built by the caller (local_backend.c builds the
 * tool-call and response-format programs).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "osr/alloc.h"
#include "osr/buf.h"
#include "osr/constrain.h"
#include "osr/json.h"
#include "osr/jsonfsm.h"

#define VOCAB_BYTES_MAX ((size_t)256 << 20)
#define VOCAB_N_MAX (1 << 22)
#define PIECE_MAX 4096
#define SEGS_MAX 64
#define SCHEMA_DEPTH_MAX 4
#define EOG_MAX 8
#define FORCED_MAX 1024
#define CLOSE_WINDOW 24 /* tokens before the forced ending where costly tokens are refused */
#define CLOSE_MAX 768   /* bytes that close the deepest JSON (64 levels) with room to spare */

struct osr_constrain_vocab {
    int32_t n;
    uint32_t *off;        /* n + 1 offsets into bytes */
    unsigned char *bytes; /* every allowed token's bytes, back to back */
    uint8_t *plain;       /* 1: string content as it stands - whole UTF-8 characters, no '"',
                           * no '\\', no control byte - so inside a string it keeps the string
                           * open and ready for more */
    int32_t *by_first;    /* ids ordered by first byte; ids without bytes last */
    uint32_t start[257];  /* by_first[start[b] .. start[b + 1]) begin with byte b */
};

/* A user-defined token that looks like a marker ("<tool_call>", "[INST]") is structure, not
 * text: a constrained span must not produce it by accident. */
static bool marker_like(struct osr_str s)
{
    if (s.n < 3)
        return false;
    return (s.p[0] == '<' && s.p[s.n - 1] == '>') || (s.p[0] == '[' && s.p[s.n - 1] == ']');
}

int osr_constrain_vocab_new(const struct osr_tokenizer *t, struct osr_constrain_vocab **out)
{
    int32_t n = osr_tokenizer_n_vocab(t);
    if (n < 1 || n > VOCAB_N_MAX)
        return OSR_ETOOBIG;
    struct osr_constrain_vocab *v = osr_xcalloc(1, sizeof(*v));
    v->n = n;
    v->off = osr_xcalloc((size_t)n + 1, sizeof(*v->off));
    v->plain = osr_xcalloc((size_t)n, 1);
    v->by_first = osr_xcalloc((size_t)n, sizeof(*v->by_first));
    struct osr_buf blob, piece;
    osr_buf_init(&blob, VOCAB_BYTES_MAX);
    osr_buf_init(&piece, PIECE_MAX);
    int rc = OSR_OK;
    uint32_t count[257] = {0};
    for (int32_t id = 0; id < n; id++) {
        v->off[id] = (uint32_t)blob.len;
        enum osr_token_type ty = osr_tokenizer_token_type(t, id);
        if (ty == OSR_TOKEN_CONTROL || ty == OSR_TOKEN_UNKNOWN || ty == OSR_TOKEN_UNUSED)
            continue;
        if (ty == OSR_TOKEN_USER_DEFINED && marker_like(osr_tokenizer_token_text(t, id)))
            continue;
        osr_buf_reset(&piece);
        if (osr_tokenizer_token_to_piece(t, id, false, &piece) != OSR_OK)
            continue; /* a piece too long to hold is simply never allowed */
        if ((rc = osr_buf_append(&blob, piece.data, piece.len)) != OSR_OK)
            goto out;
        struct osr_jsonfsm f;
        osr_jsonfsm_init(&f, 0);
        osr_jsonfsm_push(&f, '"');
        bool plain = piece.len > 0;
        for (size_t k = 0; k < piece.len && plain; k++) {
            unsigned char c = (unsigned char)piece.data[k];
            plain = c != '"' && c != '\\' && osr_jsonfsm_push(&f, c);
        }
        v->plain[id] = plain && osr_jsonfsm_in_plain_string(&f);
    }
    v->off[n] = (uint32_t)blob.len;
    /* Counting sort by first byte; tokens without bytes go to group 256. */
    for (int32_t id = 0; id < n; id++) {
        size_t len = v->off[id + 1] - v->off[id];
        count[len ? blob.data[v->off[id]] & 0xff : 256]++;
    }
    uint32_t pos[257];
    uint32_t acc = 0;
    for (int b = 0; b < 257; b++) {
        v->start[b] = acc;
        pos[b] = acc;
        acc += count[b];
    }
    for (int32_t id = 0; id < n; id++) {
        size_t len = v->off[id + 1] - v->off[id];
        int b = len ? (unsigned char)blob.data[v->off[id]] : 256;
        v->by_first[pos[b]++] = id;
    }
    v->bytes = (unsigned char *)osr_buf_detach(&blob, NULL);
out:
    osr_buf_release(&blob);
    osr_buf_release(&piece);
    if (rc) {
        osr_constrain_vocab_free(v);
        return rc;
    }
    *out = v;
    return OSR_OK;
}

void osr_constrain_vocab_free(struct osr_constrain_vocab *v)
{
    if (!v)
        return;
    free(v->off);
    free(v->bytes);
    free(v->plain);
    free(v->by_first);
    free(v);
}

struct osr_str osr_constrain_vocab_bytes(const struct osr_constrain_vocab *v, int32_t id)
{
    if (id < 0 || id >= v->n)
        return osr_str_make(NULL, 0);
    return osr_str_make((const char *)v->bytes + v->off[id], v->off[id + 1] - v->off[id]);
}

/* ---------------------------------------------------------------------------------------- */
/* Programs.                                                                                  */

enum seg_kind {
    SEG_LIT,
    SEG_TOKEN,
    SEG_NAMES,
    SEG_JSON,  /* a JSON object */
    SEG_VALUE, /* any JSON value, optionally limited by its first byte */
};

struct seg {
    enum seg_kind kind;
    char *text; /* SEG_LIT */
    size_t n;
    int32_t token;     /* SEG_TOKEN */
    const char *first; /* SEG_VALUE: the bytes it may start with (static), NULL: any */
    char **names;      /* SEG_NAMES: sorted, distinct */
    size_t *lens;
    size_t n_names;
};

/* Where the program stands: small and copied freely. */
struct cstate {
    uint32_t seg;
    uint32_t off; /* bytes matched in a literal, a name or a value */
    uint32_t lo;  /* SEG_NAMES: names[lo .. hi) still match */
    uint32_t hi;
    struct osr_jsonfsm js;
};

struct osr_constraint {
    const struct osr_constrain_vocab *v;
    int32_t eog[EOG_MAX];
    size_t n_eog;
    struct seg segs[SEGS_MAX];
    size_t n_segs;
    struct cstate cur;
    long budget;               /* tokens the answer may still use; < 0: unlimited */
    long suffix[SEGS_MAX + 1]; /* fresh_cost of pieces i.. (filled by the first step) */
    bool have_suffix;
    /* Scratch of osr_constraint_next, kept here so a step allocates nothing. */
    struct cstate after[256];
    bool ok[256];
    int32_t forced[FORCED_MAX];
};

static void enter(const struct osr_constraint *c, struct cstate *s)
{
    s->off = 0;
    if (s->seg >= c->n_segs)
        return;
    const struct seg *g = &c->segs[s->seg];
    if (g->kind == SEG_NAMES) {
        s->lo = 0;
        s->hi = (uint32_t)g->n_names;
    } else if (g->kind == SEG_JSON) {
        osr_jsonfsm_init(&s->js, OSR_JSONFSM_OBJECT);
    } else if (g->kind == SEG_VALUE) {
        osr_jsonfsm_init(&s->js, 0);
    }
}

static void advance(const struct osr_constraint *c, struct cstate *s)
{
    s->seg++;
    enter(c, s);
}

/* Feeds one byte to a program state. */
static bool push(const struct osr_constraint *c, struct cstate *s, unsigned char b)
{
    if (s->seg >= c->n_segs)
        return false;
    const struct seg *g = &c->segs[s->seg];
    switch (g->kind) {
    case SEG_LIT:
        if ((unsigned char)g->text[s->off] != b)
            return false;
        if (++s->off == g->n)
            advance(c, s);
        return true;
    case SEG_TOKEN:
        return false;
    case SEG_NAMES: {
        if (b == '"') {
            /* Sorted order puts a name that ends here first among those still matching. */
            if (s->lo >= s->hi || g->lens[s->lo] != s->off)
                return false;
            advance(c, s);
            return true;
        }
        uint32_t i = s->lo;
        while (i < s->hi && (g->lens[i] <= s->off || (unsigned char)g->names[i][s->off] != b))
            i++;
        if (i == s->hi)
            return false;
        uint32_t j = i;
        while (j < s->hi && g->lens[j] > s->off && (unsigned char)g->names[j][s->off] == b)
            j++;
        s->lo = i;
        s->hi = j;
        s->off++;
        return true;
    }
    case SEG_JSON:
        if (!osr_jsonfsm_push(&s->js, b))
            return false;
        if (osr_jsonfsm_closed(&s->js))
            advance(c, s);
        return true;
    case SEG_VALUE: {
        if (s->off == 0 && g->first && !memchr(g->first, b, strlen(g->first)))
            return false;
        struct osr_jsonfsm before = s->js;
        if (!osr_jsonfsm_push(&s->js, b)) {
            /* A number ends at the first byte that cannot extend it: that byte belongs to the
             * next piece. */
            if (s->off == 0 || !osr_jsonfsm_done(&before))
                return false;
            advance(c, s);
            return push(c, s, b);
        }
        s->off++;
        if (osr_jsonfsm_closed(&s->js))
            advance(c, s);
        return true;
    }
    }
    return false;
}

static bool push_all(const struct osr_constraint *c, struct cstate *s, const unsigned char *p,
                     size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!push(c, s, p[i]))
            return false;
    return true;
}

struct osr_constraint *osr_constraint_new(const struct osr_constrain_vocab *v, const int32_t *eog,
                                          size_t n_eog)
{
    struct osr_constraint *c = osr_xcalloc(1, sizeof(*c));
    c->v = v;
    c->budget = -1;
    for (size_t i = 0; i < n_eog && c->n_eog < EOG_MAX; i++)
        if (eog[i] >= 0 && eog[i] < v->n)
            c->eog[c->n_eog++] = eog[i];
    return c;
}

void osr_constraint_free(struct osr_constraint *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_segs; i++) {
        struct seg *g = &c->segs[i];
        free(g->text);
        for (size_t k = 0; k < g->n_names; k++)
            free(g->names[k]);
        free(g->names);
        free(g->lens);
    }
    free(c);
}

static struct seg *new_seg(struct osr_constraint *c, enum seg_kind kind)
{
    if (c->n_segs >= SEGS_MAX)
        return NULL;
    struct seg *g = &c->segs[c->n_segs++];
    memset(g, 0, sizeof(*g));
    g->kind = kind;
    if (c->n_segs == 1)
        enter(c, &c->cur);
    return g;
}

int osr_constraint_add_literal(struct osr_constraint *c, const char *s, size_t n)
{
    if (n == 0)
        return OSR_EINVAL;
    if (c->n_segs >= SEGS_MAX)
        return OSR_ETOOBIG;
    char *text = osr_xstrndup(s, n);
    struct seg *g = new_seg(c, SEG_LIT);
    g->text = text;
    g->n = n;
    return OSR_OK;
}

int osr_constraint_add_token(struct osr_constraint *c, int32_t id)
{
    if (id < 0 || id >= c->v->n)
        return OSR_EINVAL;
    struct seg *g = new_seg(c, SEG_TOKEN);
    if (!g)
        return OSR_ETOOBIG;
    g->token = id;
    return OSR_OK;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int osr_constraint_add_names(struct osr_constraint *c, const char *const *names, size_t n)
{
    if (n == 0)
        return OSR_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!names[i] || !names[i][0])
            return OSR_EINVAL;
        for (const unsigned char *p = (const unsigned char *)names[i]; *p; p++)
            if (*p < 0x20 || *p == '"' || *p == '\\')
                return OSR_EINVAL;
    }
    if (c->n_segs >= SEGS_MAX)
        return OSR_ETOOBIG;
    char **copy = osr_xcalloc(n, sizeof(*copy));
    for (size_t i = 0; i < n; i++)
        copy[i] = osr_xstrdup(names[i]);
    qsort(copy, n, sizeof(*copy), cmp_names);
    size_t k = 0; /* drop duplicates */
    for (size_t i = 0; i < n; i++) {
        if (k && strcmp(copy[k - 1], copy[i]) == 0)
            free(copy[i]);
        else
            copy[k++] = copy[i];
    }
    size_t *lens = osr_xcalloc(k, sizeof(*lens));
    for (size_t i = 0; i < k; i++)
        lens[i] = strlen(copy[i]);
    struct seg *g = new_seg(c, SEG_NAMES);
    g->names = copy;
    g->lens = lens;
    g->n_names = k;
    if (c->n_segs == 1)
        enter(c, &c->cur); /* the ranges need n_names, set just now */
    return OSR_OK;
}

int osr_constraint_add_json_object(struct osr_constraint *c)
{
    return new_seg(c, SEG_JSON) ? OSR_OK : OSR_ETOOBIG;
}

int osr_constraint_add_value(struct osr_constraint *c, const char *first)
{
    struct seg *g = new_seg(c, SEG_VALUE);
    if (!g)
        return OSR_ETOOBIG;
    g->first = first;
    return OSR_OK;
}

/* ---- JSON Schema -------------------------------------------------------------------------- */

/* Literal text waiting to become one piece, so "{\"a\": " is one literal, not three. */
struct schema_build {
    struct osr_constraint *c;
    struct osr_buf lit;
};

static int flush(struct schema_build *b)
{
    if (b->lit.len == 0)
        return OSR_OK;
    int rc = osr_constraint_add_literal(b->c, b->lit.data, b->lit.len);
    osr_buf_reset(&b->lit);
    return rc;
}

static bool name_ok(const char *s)
{
    if (!*s)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == '"' || *p == '\\')
            return false;
    return true;
}

static const char *str_field(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* The required keys of an object schema, when every one of them is a property: the fixed keys
 * the answer will have.  NULL when the schema does not say. */
static struct json_object *fixed_keys(struct json_object *sch, struct json_object **props)
{
    struct json_object *req = NULL;
    if (!json_object_object_get_ex(sch, "properties", props) ||
        !json_object_is_type(*props, json_type_object) ||
        !json_object_object_get_ex(sch, "required", &req) ||
        !json_object_is_type(req, json_type_array) || json_object_array_length(req) == 0 ||
        json_object_array_length(req) > 32)
        return NULL;
    for (size_t i = 0; i < json_object_array_length(req); i++) {
        struct json_object *k = json_object_array_get_idx(req, i);
        if (!json_object_is_type(k, json_type_string) ||
            !json_object_object_get_ex(*props, json_object_get_string(k), NULL))
            return NULL;
    }
    return req;
}

/* Pieces for one value described by sch. */
static int schema_value(struct schema_build *b, struct json_object *sch, int depth)
{
    int rc;
    if (!sch || !json_object_is_type(sch, json_type_object)) {
        if ((rc = flush(b)))
            return rc;
        return osr_constraint_add_value(b->c, NULL);
    }
    struct json_object *en = NULL;
    if (json_object_object_get_ex(sch, "enum", &en) && json_object_is_type(en, json_type_array) &&
        json_object_array_length(en) > 0 && json_object_array_length(en) <= 256) {
        size_t n = json_object_array_length(en);
        const char *names[256];
        bool all = true;
        for (size_t i = 0; i < n && all; i++) {
            struct json_object *e = json_object_array_get_idx(en, i);
            all = json_object_is_type(e, json_type_string) && name_ok(json_object_get_string(e));
            names[i] = all ? json_object_get_string(e) : NULL;
        }
        if (all) {
            if ((rc = osr_buf_putc(&b->lit, '"')) || (rc = flush(b)))
                return rc;
            return osr_constraint_add_names(b->c, names, n);
        }
    }
    struct json_object *cv = NULL;
    if (json_object_object_get_ex(sch, "const", &cv) && json_object_is_type(cv, json_type_string))
        return osr_json_append_string(&b->lit, json_object_get_string(cv),
                                      (size_t)json_object_get_string_len(cv));
    const char *type = str_field(sch, "type");
    struct json_object *props = NULL, *keys = NULL;
    if (type && strcmp(type, "object") == 0 && depth < SCHEMA_DEPTH_MAX &&
        (keys = fixed_keys(sch, &props)) != NULL) {
        if ((rc = osr_buf_putc(&b->lit, '{')))
            return rc;
        for (size_t i = 0; i < json_object_array_length(keys); i++) {
            const char *k = json_object_get_string(json_object_array_get_idx(keys, i));
            struct json_object *ps = NULL;
            json_object_object_get_ex(props, k, &ps);
            if ((i && (rc = osr_buf_puts(&b->lit, ", "))) ||
                (rc = osr_json_append_string(&b->lit, k, strlen(k))) ||
                (rc = osr_buf_puts(&b->lit, ": ")) || (rc = schema_value(b, ps, depth + 1)))
                return rc;
        }
        return osr_buf_putc(&b->lit, '}');
    }
    const char *first = NULL;
    if (type && strcmp(type, "object") == 0)
        first = "{";
    else if (type && strcmp(type, "array") == 0)
        first = "[";
    else if (type && strcmp(type, "string") == 0)
        first = "\"";
    else if (type && (strcmp(type, "number") == 0 || strcmp(type, "integer") == 0))
        first = "-0123456789";
    else if (type && strcmp(type, "boolean") == 0)
        first = "tf";
    else if (type && strcmp(type, "null") == 0)
        first = "n";
    if ((rc = flush(b)))
        return rc;
    return osr_constraint_add_value(b->c, first);
}

int osr_constraint_add_schema(struct osr_constraint *c, struct json_object *schema)
{
    struct json_object *props = NULL;
    const char *type =
        schema && json_object_is_type(schema, json_type_object) ? str_field(schema, "type") : NULL;
    if (!type || (strcmp(type, "object") == 0 && !fixed_keys(schema, &props)))
        return osr_constraint_add_json_object(c);
    struct schema_build b = {c, {0}};
    osr_buf_init(&b.lit, 1 << 16);
    int rc = schema_value(&b, schema, 0);
    if (rc == OSR_OK)
        rc = flush(&b);
    osr_buf_release(&b.lit);
    return rc;
}

bool osr_constraint_complete(const struct osr_constraint *c)
{
    return c->cur.seg >= c->n_segs;
}

bool osr_constraint_try(const struct osr_constraint *c, const void *p, size_t n)
{
    struct cstate s = c->cur;
    return push_all(c, &s, p, n);
}

bool osr_constraint_accept(struct osr_constraint *c, int32_t id)
{
    struct osr_str b = osr_constrain_vocab_bytes(c->v, id);
    if (b.n == 0)
        return false;
    struct cstate s = c->cur;
    if (!push_all(c, &s, (const unsigned char *)b.p, b.n))
        return false;
    c->cur = s;
    return true;
}

static bool is_eog(const struct osr_constraint *c, int32_t id)
{
    for (size_t i = 0; i < c->n_eog; i++)
        if (c->eog[i] == id)
            return true;
    return false;
}

/* Tokens spelling text exactly: the tokenizer's own answer when its bytes round-trip (a
 * SentencePiece vocabulary may add a leading space), else the longest vocabulary match at each
 * position.  Writes at most cap ids; returns how many, or -1. */
static long spell(const struct osr_constraint *c, const struct osr_tokenizer *t, const char *text,
                  size_t n, int32_t *ids, size_t cap)
{
    const struct osr_constrain_vocab *v = c->v;
    size_t got = 0;
    if (t && osr_tokenizer_encode(t, text, n, false, false, ids, cap, &got) == OSR_OK) {
        size_t at = 0;
        bool same = true;
        for (size_t i = 0; i < got && same; i++) {
            struct osr_str b = osr_constrain_vocab_bytes(v, ids[i]);
            same = b.n > 0 && at + b.n <= n && memcmp(text + at, b.p, b.n) == 0;
            at += b.n;
        }
        if (same && at == n)
            return (long)got;
    }
    got = 0;
    for (size_t at = 0; at < n;) {
        unsigned char first = (unsigned char)text[at];
        int32_t best = -1;
        size_t best_n = 0;
        for (uint32_t k = v->start[first]; k < v->start[first + 1]; k++) {
            struct osr_str b = osr_constrain_vocab_bytes(v, v->by_first[k]);
            if (b.n > best_n && b.n <= n - at && memcmp(text + at, b.p, b.n) == 0) {
                best = v->by_first[k];
                best_n = b.n;
            }
        }
        if (best < 0 || got >= cap)
            return -1;
        ids[got++] = best;
        at += best_n;
    }
    return (long)got;
}

/* Bytes tried, in order, to find the short way out of a JSON state.  Inside a string: the
 * quote (after a backslash it is an escape, then the next one ends the string), a hex digit,
 * the smallest UTF-8 continuation bytes.  Elsewhere: closers first, then what opens and closes
 * a key or an empty string value, the colon, a digit, the letters of true/false/null, and the
 * brackets a value limited to an object or an array opens with. */
static const unsigned char CLOSE_IN_STRING[] = "\"0\x80\x90\xa0";
static const unsigned char CLOSE_OTHER[] = "}]\":0nrulaset{[";

/* Finishes the NAMES or JSON piece s stands in, the short way: the first name still matching,
 * or the JSON closed at once.  Writes the bytes to out and advances s.  Returns how many, or
 * -1 when it cannot (never expected: every JSON state has a way out). */
static long close_piece(const struct osr_constraint *c, struct cstate *s, char *out, size_t cap)
{
    uint32_t seg = s->seg;
    const struct seg *g = &c->segs[seg];
    size_t n = 0;
    if (g->kind == SEG_NAMES) {
        if (s->lo >= s->hi)
            return -1;
        const char *name = g->names[s->lo];
        size_t len = g->lens[s->lo];
        if (len - s->off + 1 > cap)
            return -1;
        for (size_t i = s->off; i < len; i++)
            out[n++] = name[i];
        out[n++] = '"';
        return push_all(c, s, (const unsigned char *)out, n) ? (long)n : -1;
    }
    while (s->seg == seg) {
        if (g->kind == SEG_VALUE && s->off > 0 && osr_jsonfsm_done(&s->js)) {
            advance(c, s); /* a number that may end here */
            break;
        }
        bool pushed = false;
        bool in_str = osr_jsonfsm_in_string(&s->js);
        const unsigned char *pref = in_str ? CLOSE_IN_STRING : CLOSE_OTHER;
        size_t n_pref = in_str ? sizeof(CLOSE_IN_STRING) - 1 : sizeof(CLOSE_OTHER) - 1;
        for (size_t k = 0; k < n_pref && !pushed; k++) {
            struct cstate t = *s;
            if (push(c, &t, pref[k])) {
                *s = t;
                if (n >= cap)
                    return -1;
                out[n++] = (char)pref[k];
                pushed = true;
            }
        }
        if (!pushed)
            return -1;
    }
    return (long)n;
}

/* Tokens a piece costs from its start when closed the short way (bytes, an upper bound). */
static long fresh_cost(const struct seg *g)
{
    switch (g->kind) {
    case SEG_LIT:
        return (long)g->n;
    case SEG_TOKEN:
        return 1;
    case SEG_NAMES: {
        size_t m = g->lens[0];
        for (size_t i = 1; i < g->n_names; i++)
            m = g->lens[i] < m ? g->lens[i] : m;
        return (long)m + 1;
    }
    case SEG_JSON:
        return 2;
    case SEG_VALUE:
        return 4; /* "" 0 {} [] or at most true / null */
    }
    return 0;
}

/* An upper bound on the tokens that end the program from s the short way; O(1) but for a
 * name range. */
static long cost_bound(const struct osr_constraint *c, const struct cstate *s)
{
    if (s->seg >= c->n_segs)
        return 0;
    const struct seg *g = &c->segs[s->seg];
    long here;
    switch (g->kind) {
    case SEG_LIT:
        here = (long)(g->n - s->off);
        break;
    case SEG_NAMES: {
        size_t m = (size_t)-1;
        for (uint32_t i = s->lo; i < s->hi; i++)
            m = g->lens[i] < m ? g->lens[i] : m;
        here = s->lo < s->hi ? (long)(m - s->off) + 1 : 1;
        break;
    }
    case SEG_VALUE:
        here = s->off == 0 ? 4 : (long)osr_jsonfsm_close_cost(&s->js);
        break;
    case SEG_JSON:
        here = (long)osr_jsonfsm_close_cost(&s->js);
        break;
    default:
        here = 1;
        break;
    }
    return here + c->suffix[s->seg + 1];
}

/* Feeds the literal text and special tokens from where the program stands; when closing is
 * set, also ends the NAMES and JSON pieces the short way, through to the end. */
static int force(struct osr_constraint *c, const struct osr_tokenizer *t, bool closing,
                 const int32_t **forced, size_t *n_forced)
{
    size_t n = 0;
    char tmp[CLOSE_MAX];
    while (c->cur.seg < c->n_segs) {
        const struct seg *g = &c->segs[c->cur.seg];
        long k;
        if (g->kind == SEG_TOKEN) {
            if (n >= FORCED_MAX)
                return OSR_EINVAL;
            c->forced[n++] = g->token;
            advance(c, &c->cur);
            continue;
        }
        if (g->kind == SEG_LIT) {
            k = spell(c, t, g->text + c->cur.off, g->n - c->cur.off, c->forced + n, FORCED_MAX - n);
            advance(c, &c->cur);
        } else if (closing) {
            long nb = close_piece(c, &c->cur, tmp, sizeof(tmp));
            if (nb < 0)
                return OSR_EINVAL;
            k = spell(c, t, tmp, (size_t)nb, c->forced + n, FORCED_MAX - n);
        } else {
            break;
        }
        if (k < 0)
            return OSR_EINVAL;
        n += (size_t)k;
    }
    *forced = c->forced;
    *n_forced = n;
    return OSR_CONSTRAINT_FORCE;
}

void osr_constraint_set_budget(struct osr_constraint *c, long tokens)
{
    c->budget = tokens;
}

int osr_constraint_next(struct osr_constraint *c, const struct osr_tokenizer *t, float *logits,
                        const int32_t **forced, size_t *n_forced)
{
    const struct osr_constrain_vocab *v = c->v;
    *forced = NULL;
    *n_forced = 0;
    if (c->cur.seg >= c->n_segs) {
        if (c->n_eog == 0)
            return OSR_CONSTRAINT_END;
        for (int32_t id = 0; id < v->n; id++)
            if (!is_eog(c, id))
                logits[id] = -INFINITY;
        return OSR_CONSTRAINT_SAMPLE;
    }
    enum seg_kind kind = c->segs[c->cur.seg].kind;
    if (kind == SEG_LIT || kind == SEG_TOKEN)
        return force(c, t, false, forced, n_forced);
    if (!c->have_suffix) {
        c->suffix[c->n_segs] = 0;
        for (size_t i = c->n_segs; i-- > 0;)
            c->suffix[i] = fresh_cost(&c->segs[i]) + c->suffix[i + 1];
        c->have_suffix = true;
    }
    /* Close in time: when the tokens left barely cover the shortest ending, take it, so an
     * answer cut by max_tokens still parses; shortly before that, refuse tokens that would
     * make the ending longer than the tokens left. */
    long tight = -1; /* >= 0: the most a token may leave the ending costing */
    if (c->budget >= 0) {
        long need = cost_bound(c, &c->cur);
        if (c->budget <= need + 2)
            return force(c, t, true, forced, n_forced);
        if (c->budget <= need + 2 + CLOSE_WINDOW)
            tight = c->budget - 3;
    }

    /* A number closing the program may stop where it is: the end-of-generation ids keep their
     * logits then. */
    bool can_end = kind == SEG_VALUE && c->cur.seg + 1 == c->n_segs && c->cur.off > 0 &&
                   osr_jsonfsm_done(&c->cur.js);
    float eog_logit[EOG_MAX];
    for (size_t i = 0; i < c->n_eog; i++)
        eog_logit[i] = logits[c->eog[i]];
    bool any = false;
    for (int b = 0; b < 256; b++) {
        c->after[b] = c->cur;
        c->ok[b] = push(c, &c->after[b], (unsigned char)b);
        any = any || c->ok[b];
    }
    if (!any && !can_end)
        return OSR_EINVAL;
    bool plain_ok = tight < 0 && (kind == SEG_JSON || kind == SEG_VALUE) &&
                    osr_jsonfsm_in_plain_string(&c->cur.js);
    size_t n_allowed = 0;
    for (int b = 0; b < 256; b++) {
        const int32_t *ids = v->by_first + v->start[b];
        uint32_t cnt = v->start[b + 1] - v->start[b];
        if (!c->ok[b]) {
            for (uint32_t k = 0; k < cnt; k++)
                logits[ids[k]] = -INFINITY;
            continue;
        }
        for (uint32_t k = 0; k < cnt; k++) {
            int32_t id = ids[k];
            if (plain_ok && v->plain[id]) {
                n_allowed++;
                continue;
            }
            struct cstate s = c->after[b];
            const unsigned char *p = v->bytes + v->off[id];
            size_t len = v->off[id + 1] - v->off[id];
            if (push_all(c, &s, p + 1, len - 1) && (tight < 0 || cost_bound(c, &s) <= tight))
                n_allowed++;
            else
                logits[id] = -INFINITY;
        }
    }
    for (uint32_t k = v->start[256]; k < (uint32_t)v->n; k++)
        logits[v->by_first[k]] = -INFINITY;
    /* An end-of-generation id must not end a partial answer, even one that has bytes. */
    for (size_t i = 0; i < c->n_eog; i++) {
        if (!isinf(logits[c->eog[i]]) || logits[c->eog[i]] > 0)
            n_allowed -= n_allowed > 0;
        logits[c->eog[i]] = can_end ? eog_logit[i] : -INFINITY;
        n_allowed += can_end;
    }
    if (can_end && c->n_eog == 0 && n_allowed == 0)
        return OSR_CONSTRAINT_END;
    return n_allowed ? OSR_CONSTRAINT_SAMPLE : OSR_EINVAL;
}
