/* chat_template_value.c - the value type of the chat-template interpreter.
 *
 * Values behave like the Python objects Jinja2 would hold: str()/repr() as Python prints
 * them (None, True, {'a': 1}, 1.0), == and ordering as Python compares, json.dumps with
 * ensure_ascii=False for |tojson, and the conversion of json-c input (object key order kept,
 * strings borrowed from the json-c tree, which outlives the render).  It does not evaluate
 * anything; chat_template_eval.c does.  Every allocation comes from the render's arena.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_template_int.h"
#include "osr/alloc.h"

#define CT_NEST_MAX 200 /* repr/json/== recursion: deeper structures are refused */

/* ---- errors ------------------------------------------------------------------------------ */

int ct_fail(struct ct_render *r, int line, int col, const char *kind, const char *fmt, ...)
{
    if (r->err.set)
        return OSR_EINVAL;
    r->err.set = true;
    snprintf(r->err.e.kind, sizeof(r->err.e.kind), "%s", kind);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err.e.msg, sizeof(r->err.e.msg), fmt, ap);
    va_end(ap);
    r->err.e.line = line;
    r->err.e.col = col;
    return OSR_EINVAL;
}

int ct_fail_limit(struct ct_render *r, const char *what)
{
    if (!r->err.set) {
        r->err.set = true;
        snprintf(r->err.e.kind, sizeof(r->err.e.kind), "LimitError");
        snprintf(r->err.e.msg, sizeof(r->err.e.msg), "%s", what);
    }
    return OSR_ETOOBIG;
}

/* ---- UTF-8 ------------------------------------------------------------------------------- */

uint32_t ct_utf8_decode(const char *p, size_t n, size_t *len)
{
    const unsigned char *s = (const unsigned char *)p;
    if (n == 0) {
        *len = 0;
        return 0;
    }
    unsigned c = s[0];
    size_t need = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (need == 0 || need > n) {
        *len = 1;
        return c;
    }
    uint32_t cp = need == 1 ? c : need == 2 ? (c & 0x1f) : need == 3 ? (c & 0x0f) : (c & 0x07);
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *len = 1;
            return c;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    *len = need;
    return cp;
}

size_t ct_utf8_len(const char *p, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)p[i] & 0xc0) != 0x80)
            count++;
    return count;
}

bool ct_py_isspace(uint32_t cp)
{
    return (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20) || cp == 0x85 || cp == 0xa0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

/* Python's str.isprintable(), approximated by the ranges that matter in practice. */
static bool py_isprintable(uint32_t cp)
{
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0xa0) || cp == 0xad)
        return false;
    if ((cp >= 0x2000 && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202f) ||
        (cp >= 0x205f && cp <= 0x206f) || cp == 0x1680 || cp == 0x3000 || cp == 0xfeff)
        return false;
    if ((cp >= 0xd800 && cp <= 0xf8ff) || (cp >= 0xfff9 && cp <= 0xfffb) || cp > 0x10ffff)
        return false;
    return true;
}

/* ---- containers -------------------------------------------------------------------------- */

struct ct_list *ct_list_new(struct ct_render *r, size_t cap)
{
    struct ct_list *l = osr_arena_alloc(r->arena, sizeof(*l));
    if (!l)
        return NULL;
    l->n = 0;
    l->cap = cap;
    l->v = NULL;
    if (cap) {
        l->v = osr_arena_calloc(r->arena, cap, sizeof(*l->v));
        if (!l->v)
            return NULL;
    }
    return l;
}

int ct_list_push(struct ct_render *r, struct ct_list *l, struct ct_value v)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 8;
        struct ct_value *nv = osr_arena_calloc(r->arena, ncap, sizeof(*nv));
        if (!nv)
            return ct_fail_limit(r, "render memory cap reached");
        if (l->n)
            memcpy(nv, l->v, l->n * sizeof(*nv));
        l->v = nv;
        l->cap = ncap;
    }
    l->v[l->n++] = v;
    return OSR_OK;
}

struct ct_dict *ct_dict_new(struct ct_render *r, size_t cap)
{
    struct ct_dict *d = osr_arena_alloc(r->arena, sizeof(*d));
    if (!d)
        return NULL;
    d->n = 0;
    d->cap = 0;
    d->keys = d->vals = NULL;
    if (cap) {
        d->keys = osr_arena_calloc(r->arena, cap, sizeof(*d->keys));
        d->vals = osr_arena_calloc(r->arena, cap, sizeof(*d->vals));
        if (!d->keys || !d->vals)
            return NULL;
        d->cap = cap;
    }
    return d;
}

struct ct_value *ct_dict_get(const struct ct_dict *d, struct ct_value k)
{
    for (size_t i = 0; i < d->n; i++)
        if (ct_equal(d->keys[i], k))
            return &d->vals[i];
    return NULL;
}

struct ct_value *ct_dict_get_cstr(const struct ct_dict *d, const char *k)
{
    size_t n = strlen(k);
    for (size_t i = 0; i < d->n; i++)
        if (d->keys[i].type == V_STR && d->keys[i].u.s.n == n &&
            memcmp(d->keys[i].u.s.p, k, n) == 0)
            return &d->vals[i];
    return NULL;
}

int ct_dict_set(struct ct_render *r, struct ct_dict *d, struct ct_value k, struct ct_value v)
{
    struct ct_value *slot = ct_dict_get(d, k);
    if (slot) {
        *slot = v;
        return OSR_OK;
    }
    if (d->n == d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 8;
        struct ct_value *nk = osr_arena_calloc(r->arena, ncap, sizeof(*nk));
        struct ct_value *nv = osr_arena_calloc(r->arena, ncap, sizeof(*nv));
        if (!nk || !nv)
            return ct_fail_limit(r, "render memory cap reached");
        if (d->n) {
            memcpy(nk, d->keys, d->n * sizeof(*nk));
            memcpy(nv, d->vals, d->n * sizeof(*nv));
        }
        d->keys = nk;
        d->vals = nv;
        d->cap = ncap;
    }
    d->keys[d->n] = k;
    d->vals[d->n] = v;
    d->n++;
    return OSR_OK;
}

/* ---- predicates -------------------------------------------------------------------------- */

bool ct_truthy(struct ct_value v)
{
    switch (v.type) {
    case V_UNDEF:
    case V_NONE:
        return false;
    case V_BOOL:
        return v.u.b;
    case V_INT:
        return v.u.i != 0;
    case V_FLOAT:
        return v.u.f != 0.0;
    case V_STR:
        return v.u.s.n > 0;
    case V_LIST:
        return (v.flags & VF_GENERATOR) || v.u.l->n > 0;
    case V_DICT:
        return v.u.d->n > 0;
    default:
        return true;
    }
}

bool ct_is_number(struct ct_value v)
{
    return v.type == V_INT || v.type == V_FLOAT || v.type == V_BOOL;
}

const char *ct_type_name(struct ct_value v)
{
    switch (v.type) {
    case V_UNDEF:
        return "Undefined";
    case V_NONE:
        return "NoneType";
    case V_BOOL:
        return "bool";
    case V_INT:
        return "int";
    case V_FLOAT:
        return "float";
    case V_STR:
        return (v.flags & VF_MARKUP) ? "Markup" : "str";
    case V_LIST:
        return (v.flags & VF_GENERATOR) ? "generator" : (v.flags & VF_TUPLE) ? "tuple" : "list";
    case V_DICT:
        return "dict";
    case V_NS:
        return "Namespace";
    case V_MACRO:
        return "Macro";
    case V_FUNC:
        return "builtin_function_or_method";
    case V_LOOP:
        return "LoopContext";
    }
    return "object";
}

static double num_of(struct ct_value v)
{
    return v.type == V_FLOAT ? v.u.f : v.type == V_INT ? (double)v.u.i : (double)v.u.b;
}

static bool equal_depth(struct ct_value a, struct ct_value b, int depth)
{
    if (depth > CT_NEST_MAX)
        return false;
    if (ct_is_number(a) && ct_is_number(b)) {
        if (a.type != V_FLOAT && b.type != V_FLOAT) {
            int64_t x = a.type == V_INT ? a.u.i : a.u.b, y = b.type == V_INT ? b.u.i : b.u.b;
            return x == y;
        }
        return num_of(a) == num_of(b);
    }
    if (a.type != b.type)
        return false;
    switch (a.type) {
    case V_UNDEF:
    case V_NONE:
        return true;
    case V_STR:
        return a.u.s.n == b.u.s.n && memcmp(a.u.s.p, b.u.s.p, a.u.s.n) == 0;
    case V_LIST:
        if ((a.flags & VF_GENERATOR) || (b.flags & VF_GENERATOR))
            return a.u.l == b.u.l;
        if ((a.flags & VF_TUPLE) != (b.flags & VF_TUPLE) || a.u.l->n != b.u.l->n)
            return false;
        for (size_t i = 0; i < a.u.l->n; i++)
            if (!equal_depth(a.u.l->v[i], b.u.l->v[i], depth + 1))
                return false;
        return true;
    case V_DICT:
        if (a.u.d->n != b.u.d->n)
            return false;
        for (size_t i = 0; i < a.u.d->n; i++) {
            struct ct_value *o = ct_dict_get(b.u.d, a.u.d->keys[i]);
            if (!o || !equal_depth(a.u.d->vals[i], *o, depth + 1))
                return false;
        }
        return true;
    case V_NS:
        return a.u.d == b.u.d;
    case V_MACRO:
        return a.u.m == b.u.m;
    case V_FUNC:
        return a.u.fn == b.u.fn;
    case V_LOOP:
        return a.u.loop == b.u.loop;
    default:
        return false;
    }
}

bool ct_equal(struct ct_value a, struct ct_value b)
{
    return equal_depth(a, b, 0);
}

static int compare_depth(struct ct_render *r, const struct ct_expr *at, struct ct_value a,
                         struct ct_value b, const char *op, int *cmp, int depth);

int ct_compare(struct ct_render *r, const struct ct_expr *at, struct ct_value a, struct ct_value b,
               const char *op, int *cmp)
{
    return compare_depth(r, at, a, b, op, cmp, 0);
}

static int compare_depth(struct ct_render *r, const struct ct_expr *at, struct ct_value a,
                         struct ct_value b, const char *op, int *cmp, int depth)
{
    if (depth > CT_NEST_MAX)
        return ct_fail(r, at ? at->line : 0, at ? at->col : 0, "RecursionError",
                       "maximum recursion depth exceeded in comparison");
    if (a.type == V_UNDEF)
        return ct_undefined_error(r, at, a);
    if (b.type == V_UNDEF)
        return ct_undefined_error(r, at, b);
    if (ct_is_number(a) && ct_is_number(b)) {
        if (a.type != V_FLOAT && b.type != V_FLOAT) {
            int64_t x = a.type == V_INT ? a.u.i : a.u.b, y = b.type == V_INT ? b.u.i : b.u.b;
            *cmp = x < y ? -1 : x > y;
        } else {
            double x = num_of(a), y = num_of(b);
            *cmp = x < y ? -1 : x > y ? 1 : 0;
            if (x != x || y != y)
                *cmp = 2; /* NaN: every ordering is false; caller treats 2 as unordered */
        }
        return OSR_OK;
    }
    if (a.type == V_STR && b.type == V_STR) {
        size_t n = a.u.s.n < b.u.s.n ? a.u.s.n : b.u.s.n;
        int c = n ? memcmp(a.u.s.p, b.u.s.p, n) : 0;
        if (c == 0)
            c = a.u.s.n < b.u.s.n ? -1 : a.u.s.n > b.u.s.n;
        *cmp = c < 0 ? -1 : c > 0;
        return OSR_OK;
    }
    if (a.type == V_LIST && b.type == V_LIST && !((a.flags | b.flags) & VF_GENERATOR) &&
        (a.flags & VF_TUPLE) == (b.flags & VF_TUPLE)) {
        size_t n = a.u.l->n < b.u.l->n ? a.u.l->n : b.u.l->n;
        for (size_t i = 0; i < n; i++) {
            if (ct_equal(a.u.l->v[i], b.u.l->v[i]))
                continue;
            return compare_depth(r, at, a.u.l->v[i], b.u.l->v[i], op, cmp, depth + 1);
        }
        *cmp = a.u.l->n < b.u.l->n ? -1 : a.u.l->n > b.u.l->n;
        return OSR_OK;
    }
    return ct_fail(r, at ? at->line : 0, at ? at->col : 0, "TypeError",
                   "'%s' not supported between instances of '%s' and '%s'", op, ct_type_name(a),
                   ct_type_name(b));
}

/* ---- str() / repr() ---------------------------------------------------------------------- */

void ct_format_float(double f, char *out, size_t n)
{
    if (f != f) {
        snprintf(out, n, "nan");
        return;
    }
    if (isinf(f)) {
        snprintf(out, n, f < 0 ? "-inf" : "inf");
        return;
    }
    /* Shortest digits that read back to the same double, then Python's layout: plain
     * notation for exponents in [-4, 16), scientific otherwise. */
    char tmp[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, f);
        if (strtod(tmp, NULL) == f)
            break;
    }
    char digits[24];
    size_t nd = 0;
    const char *p = tmp;
    bool neg = false;
    if (*p == '-') {
        neg = true;
        p++;
    }
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9' && nd < sizeof(digits) - 1)
            digits[nd++] = *p;
    digits[nd] = '\0';
    int exp = (int)strtol(p + 1, NULL, 10);
    while (nd > 1 && digits[nd - 1] == '0')
        digits[--nd] = '\0';
    struct osr_buf b;
    osr_buf_init(&b, 64);
    if (neg)
        osr_buf_putc(&b, '-');
    if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            osr_buf_puts(&b, "0.");
            for (int i = 0; i < -exp - 1; i++)
                osr_buf_putc(&b, '0');
            osr_buf_puts(&b, digits);
        } else {
            for (int i = 0; i <= exp; i++)
                osr_buf_putc(&b, (size_t)i < nd ? digits[i] : '0');
            osr_buf_putc(&b, '.');
            if ((size_t)exp + 1 < nd)
                osr_buf_puts(&b, digits + exp + 1);
            else
                osr_buf_putc(&b, '0');
        }
    } else {
        osr_buf_putc(&b, digits[0]);
        if (nd > 1) {
            osr_buf_putc(&b, '.');
            osr_buf_puts(&b, digits + 1);
        }
        osr_buf_appendf(&b, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    }
    snprintf(out, n, "%s", osr_buf_str(&b));
    osr_buf_release(&b);
}

static int put(struct ct_render *r, int rc)
{
    if (rc != OSR_OK)
        return ct_fail_limit(r, "output or string size cap reached");
    return OSR_OK;
}

static int append_py_string_repr(struct ct_render *r, struct osr_buf *b, const char *s, size_t n)
{
    bool has_sq = memchr(s, '\'', n) != NULL, has_dq = memchr(s, '"', n) != NULL;
    char q = (has_sq && !has_dq) ? '"' : '\'';
    int rc = put(r, osr_buf_putc(b, q));
    size_t i = 0;
    while (rc == OSR_OK && i < n) {
        size_t len;
        uint32_t cp = ct_utf8_decode(s + i, n - i, &len);
        char esc[16];
        if (cp == (uint32_t)q || cp == '\\') {
            esc[0] = '\\';
            esc[1] = (char)cp;
            rc = put(r, osr_buf_append(b, esc, 2));
        } else if (cp == '\n') {
            rc = put(r, osr_buf_puts(b, "\\n"));
        } else if (cp == '\r') {
            rc = put(r, osr_buf_puts(b, "\\r"));
        } else if (cp == '\t') {
            rc = put(r, osr_buf_puts(b, "\\t"));
        } else if (!py_isprintable(cp)) {
            if (cp < 0x100)
                snprintf(esc, sizeof(esc), "\\x%02x", cp);
            else if (cp < 0x10000)
                snprintf(esc, sizeof(esc), "\\u%04x", cp);
            else
                snprintf(esc, sizeof(esc), "\\U%08x", cp);
            rc = put(r, osr_buf_puts(b, esc));
        } else {
            rc = put(r, osr_buf_append(b, s + i, len));
        }
        i += len;
    }
    if (rc == OSR_OK)
        rc = put(r, osr_buf_putc(b, q));
    return rc;
}

static int append_repr_depth(struct ct_render *r, struct osr_buf *b, struct ct_value v, int depth);

static int append_str_depth(struct ct_render *r, struct osr_buf *b, struct ct_value v, int depth)
{
    char num[64];
    switch (v.type) {
    case V_UNDEF:
        return OSR_OK;
    case V_NONE:
        return put(r, osr_buf_puts(b, "None"));
    case V_BOOL:
        return put(r, osr_buf_puts(b, v.u.b ? "True" : "False"));
    case V_INT:
        snprintf(num, sizeof(num), "%lld", (long long)v.u.i);
        return put(r, osr_buf_puts(b, num));
    case V_FLOAT:
        ct_format_float(v.u.f, num, sizeof(num));
        return put(r, osr_buf_puts(b, num));
    case V_STR:
        return put(r, osr_buf_append(b, v.u.s.p, v.u.s.n));
    default:
        return append_repr_depth(r, b, v, depth);
    }
}

static int append_repr_depth(struct ct_render *r, struct osr_buf *b, struct ct_value v, int depth)
{
    if (depth > CT_NEST_MAX)
        return ct_fail(r, 0, 0, "RecursionError", "maximum recursion depth exceeded");
    int rc = OSR_OK;
    switch (v.type) {
    case V_UNDEF:
        return put(r, osr_buf_puts(b, "Undefined"));
    case V_STR:
        return append_py_string_repr(r, b, v.u.s.p, v.u.s.n);
    case V_LIST: {
        if (v.flags & VF_GENERATOR)
            return put(r, osr_buf_puts(b, "<generator object>"));
        bool tuple = v.flags & VF_TUPLE;
        rc = put(r, osr_buf_putc(b, tuple ? '(' : '['));
        for (size_t i = 0; rc == OSR_OK && i < v.u.l->n; i++) {
            if (i)
                rc = put(r, osr_buf_puts(b, ", "));
            if (rc == OSR_OK)
                rc = append_repr_depth(r, b, v.u.l->v[i], depth + 1);
        }
        if (rc == OSR_OK && tuple && v.u.l->n == 1)
            rc = put(r, osr_buf_putc(b, ','));
        if (rc == OSR_OK)
            rc = put(r, osr_buf_putc(b, tuple ? ')' : ']'));
        return rc;
    }
    case V_DICT:
    case V_NS:
        if (v.type == V_NS)
            rc = put(r, osr_buf_puts(b, "<Namespace "));
        if (rc == OSR_OK)
            rc = put(r, osr_buf_putc(b, '{'));
        for (size_t i = 0; rc == OSR_OK && i < v.u.d->n; i++) {
            if (i)
                rc = put(r, osr_buf_puts(b, ", "));
            if (rc == OSR_OK)
                rc = append_repr_depth(r, b, v.u.d->keys[i], depth + 1);
            if (rc == OSR_OK)
                rc = put(r, osr_buf_puts(b, ": "));
            if (rc == OSR_OK)
                rc = append_repr_depth(r, b, v.u.d->vals[i], depth + 1);
        }
        if (rc == OSR_OK)
            rc = put(r, osr_buf_putc(b, '}'));
        if (rc == OSR_OK && v.type == V_NS)
            rc = put(r, osr_buf_putc(b, '>'));
        return rc;
    case V_MACRO:
        return put(r, osr_buf_puts(b, "<Macro>"));
    case V_FUNC:
        return put(r, osr_buf_appendf(b, "<built-in method %s>", v.u.fn->name));
    case V_LOOP:
        return put(r, osr_buf_puts(b, "<LoopContext>"));
    default:
        return append_str_depth(r, b, v, depth);
    }
}

int ct_append_str(struct ct_render *r, struct osr_buf *b, struct ct_value v)
{
    return append_str_depth(r, b, v, 0);
}

int ct_new_str(struct ct_render *r, const char *p, size_t n, struct ct_value *out)
{
    char *c = osr_arena_strndup(r->arena, p, n);
    if (!c)
        return ct_fail_limit(r, "render memory cap reached");
    *out = ct_str(c, n);
    return OSR_OK;
}

int ct_buf_to_value(struct ct_render *r, struct osr_buf *b, uint8_t flags, struct ct_value *out)
{
    int rc = ct_new_str(r, osr_buf_str(b), b->len, out);
    if (rc == OSR_OK)
        out->flags = flags;
    return rc;
}

int ct_to_str(struct ct_render *r, struct ct_value v, struct ct_value *out)
{
    if (v.type == V_STR) {
        *out = v;
        return OSR_OK;
    }
    struct osr_buf b;
    osr_buf_init(&b, r->lim.max_output);
    int rc = ct_append_str(r, &b, v);
    if (rc == OSR_OK)
        rc = ct_buf_to_value(r, &b, 0, out);
    osr_buf_release(&b);
    return rc;
}

int ct_append_escaped(struct osr_buf *b, const char *p, size_t n)
{
    int rc = OSR_OK;
    size_t start = 0;
    for (size_t i = 0; rc == OSR_OK && i < n; i++) {
        const char *rep = NULL;
        switch (p[i]) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&#34;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            break;
        }
        if (rep) {
            rc = osr_buf_append(b, p + start, i - start);
            if (rc == OSR_OK)
                rc = osr_buf_puts(b, rep);
            start = i + 1;
        }
    }
    if (rc == OSR_OK)
        rc = osr_buf_append(b, p + start, n - start);
    return rc;
}

/* ---- JSON -------------------------------------------------------------------------------- */

static int json_string(struct ct_render *r, struct osr_buf *b, const char *s, size_t n, bool ascii)
{
    int rc = put(r, osr_buf_putc(b, '"'));
    size_t start = 0;
    for (size_t i = 0; rc == OSR_OK && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80 && ascii) {
            /* ensure_ascii: \uXXXX, with a surrogate pair above the BMP */
            size_t len;
            uint32_t cp = ct_utf8_decode(s + i, n - i, &len);
            rc = put(r, osr_buf_append(b, s + start, i - start));
            char esc[16];
            if (cp >= 0x10000)
                snprintf(esc, sizeof(esc), "\\u%04x\\u%04x", 0xd800 + ((cp - 0x10000) >> 10),
                         0xdc00 + ((cp - 0x10000) & 0x3ff));
            else
                snprintf(esc, sizeof(esc), "\\u%04x", cp);
            if (rc == OSR_OK)
                rc = put(r, osr_buf_puts(b, esc));
            i += len - 1;
            start = i + 1;
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        rc = put(r, osr_buf_append(b, s + start, i - start));
        char esc[8];
        switch (c) {
        case '"':
            snprintf(esc, sizeof(esc), "\\\"");
            break;
        case '\\':
            snprintf(esc, sizeof(esc), "\\\\");
            break;
        case '\n':
            snprintf(esc, sizeof(esc), "\\n");
            break;
        case '\r':
            snprintf(esc, sizeof(esc), "\\r");
            break;
        case '\t':
            snprintf(esc, sizeof(esc), "\\t");
            break;
        case '\b':
            snprintf(esc, sizeof(esc), "\\b");
            break;
        case '\f':
            snprintf(esc, sizeof(esc), "\\f");
            break;
        default:
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            break;
        }
        if (rc == OSR_OK)
            rc = put(r, osr_buf_puts(b, esc));
        start = i + 1;
    }
    if (rc == OSR_OK)
        rc = put(r, osr_buf_append(b, s + start, n - start));
    if (rc == OSR_OK)
        rc = put(r, osr_buf_putc(b, '"'));
    return rc;
}

struct json_style {
    bool ascii;
    int indent;
    const char *item_sep, *key_sep;
    bool sort_keys;
};

static int json_newline(struct ct_render *r, struct osr_buf *b, const struct json_style *st,
                        int level)
{
    int rc = put(r, osr_buf_putc(b, '\n'));
    for (int i = 0; rc == OSR_OK && i < st->indent * level; i++)
        rc = put(r, osr_buf_putc(b, ' '));
    return rc;
}

static int json_scalar(struct ct_render *r, struct osr_buf *b, struct ct_value v, bool ascii,
                       bool *done)
{
    char num[64];
    *done = true;
    switch (v.type) {
    case V_NONE:
        return put(r, osr_buf_puts(b, "null"));
    case V_BOOL:
        return put(r, osr_buf_puts(b, v.u.b ? "true" : "false"));
    case V_INT:
        snprintf(num, sizeof(num), "%lld", (long long)v.u.i);
        return put(r, osr_buf_puts(b, num));
    case V_FLOAT:
        if (v.u.f != v.u.f)
            return put(r, osr_buf_puts(b, "NaN"));
        if (isinf(v.u.f))
            return put(r, osr_buf_puts(b, v.u.f < 0 ? "-Infinity" : "Infinity"));
        ct_format_float(v.u.f, num, sizeof(num));
        return put(r, osr_buf_puts(b, num));
    case V_STR:
        return json_string(r, b, v.u.s.p, v.u.s.n, ascii);
    default:
        *done = false;
        return OSR_OK;
    }
}

static int json_value(struct ct_render *r, const struct ct_expr *at, struct osr_buf *b,
                      struct ct_value v, const struct json_style *st, int level);

static int json_key(struct ct_render *r, const struct ct_expr *at, struct osr_buf *b,
                    struct ct_value k, bool ascii)
{
    if (k.type == V_STR)
        return json_string(r, b, k.u.s.p, k.u.s.n, ascii);
    if (k.type == V_NONE || k.type == V_BOOL || k.type == V_INT || k.type == V_FLOAT) {
        struct osr_buf tmp;
        osr_buf_init(&tmp, 128);
        bool done;
        int rc = json_scalar(r, &tmp, k, ascii, &done);
        if (rc == OSR_OK)
            rc = json_string(r, b, osr_buf_str(&tmp), tmp.len, ascii);
        osr_buf_release(&tmp);
        return rc;
    }
    return ct_fail(r, at ? at->line : 0, at ? at->col : 0, "TypeError",
                   "keys must be str, int, float, bool or None, not %s", ct_type_name(k));
}

static int json_dict(struct ct_render *r, const struct ct_expr *at, struct osr_buf *b,
                     const struct ct_dict *d, const struct json_style *st, int level)
{
    if (d->n == 0)
        return put(r, osr_buf_puts(b, "{}"));
    size_t *order = osr_arena_calloc(r->arena, d->n, sizeof(*order));
    if (!order)
        return ct_fail_limit(r, "render memory cap reached");
    for (size_t i = 0; i < d->n; i++)
        order[i] = i;
    if (st->sort_keys) { /* insertion sort keeps it simple; dicts here are small */
        for (size_t i = 1; i < d->n; i++) {
            size_t j = i;
            while (j > 0) {
                int c = 0;
                int rc = ct_compare(r, at, d->keys[order[j - 1]], d->keys[order[j]], "<", &c);
                if (rc)
                    return rc;
                if (c <= 0)
                    break;
                size_t t = order[j];
                order[j] = order[j - 1];
                order[j - 1] = t;
                j--;
            }
        }
    }
    int rc = put(r, osr_buf_putc(b, '{'));
    for (size_t i = 0; rc == OSR_OK && i < d->n; i++) {
        if (i)
            rc = put(r, osr_buf_puts(b, st->item_sep));
        if (rc == OSR_OK && st->indent >= 0)
            rc = json_newline(r, b, st, level + 1);
        if (rc == OSR_OK)
            rc = json_key(r, at, b, d->keys[order[i]], st->ascii);
        if (rc == OSR_OK)
            rc = put(r, osr_buf_puts(b, st->key_sep));
        if (rc == OSR_OK)
            rc = json_value(r, at, b, d->vals[order[i]], st, level + 1);
    }
    if (rc == OSR_OK && st->indent >= 0)
        rc = json_newline(r, b, st, level);
    if (rc == OSR_OK)
        rc = put(r, osr_buf_putc(b, '}'));
    return rc;
}

static int json_value(struct ct_render *r, const struct ct_expr *at, struct osr_buf *b,
                      struct ct_value v, const struct json_style *st, int level)
{
    if (level > CT_NEST_MAX)
        return ct_fail(r, at ? at->line : 0, at ? at->col : 0, "RecursionError",
                       "maximum recursion depth exceeded while encoding a JSON object");
    bool done;
    int rc = json_scalar(r, b, v, st->ascii, &done);
    if (rc || done)
        return rc;
    if (v.type == V_LIST && !(v.flags & VF_GENERATOR)) {
        const struct ct_list *l = v.u.l;
        if (l->n == 0)
            return put(r, osr_buf_puts(b, "[]"));
        rc = put(r, osr_buf_putc(b, '['));
        for (size_t i = 0; rc == OSR_OK && i < l->n; i++) {
            if (i)
                rc = put(r, osr_buf_puts(b, st->item_sep));
            if (rc == OSR_OK && st->indent >= 0)
                rc = json_newline(r, b, st, level + 1);
            if (rc == OSR_OK)
                rc = json_value(r, at, b, l->v[i], st, level + 1);
        }
        if (rc == OSR_OK && st->indent >= 0)
            rc = json_newline(r, b, st, level);
        if (rc == OSR_OK)
            rc = put(r, osr_buf_putc(b, ']'));
        return rc;
    }
    if (v.type == V_DICT)
        return json_dict(r, at, b, v.u.d, st, level);
    return ct_fail(r, at ? at->line : 0, at ? at->col : 0, "TypeError",
                   "Object of type %s is not JSON serializable", ct_type_name(v));
}

int ct_append_json(struct ct_render *r, const struct ct_expr *at, struct osr_buf *b,
                   struct ct_value v, int indent, const char *item_sep, const char *key_sep,
                   bool sort_keys, bool ensure_ascii)
{
    struct json_style st = {
        .ascii = ensure_ascii,
        .indent = indent,
        .item_sep = item_sep ? item_sep : (indent >= 0 ? "," : ", "),
        .key_sep = key_sep ? key_sep : ": ",
        .sort_keys = sort_keys,
    };
    return json_value(r, at, b, v, &st, 0);
}

int ct_from_json(struct ct_render *r, struct json_object *j, struct ct_value *out, int depth)
{
    if (depth > CT_NEST_MAX)
        return ct_fail(r, 0, 0, "ValueError", "input variables are nested too deeply");
    switch (json_object_get_type(j)) {
    case json_type_null:
        *out = ct_none();
        return OSR_OK;
    case json_type_boolean:
        *out = ct_bool(json_object_get_boolean(j));
        return OSR_OK;
    case json_type_int:
        *out = ct_int(json_object_get_int64(j));
        return OSR_OK;
    case json_type_double:
        *out = ct_float(json_object_get_double(j));
        return OSR_OK;
    case json_type_string:
        /* Borrowed: the json-c tree outlives the render. */
        *out = ct_str(json_object_get_string(j), (size_t)json_object_get_string_len(j));
        return OSR_OK;
    case json_type_array: {
        size_t n = json_object_array_length(j);
        struct ct_list *l = ct_list_new(r, n);
        if (!l)
            return ct_fail_limit(r, "render memory cap reached");
        for (size_t i = 0; i < n; i++) {
            int rc = ct_from_json(r, json_object_array_get_idx(j, i), &l->v[i], depth + 1);
            if (rc)
                return rc;
        }
        l->n = n;
        *out = (struct ct_value){.type = V_LIST};
        out->u.l = l;
        return OSR_OK;
    }
    case json_type_object: {
        struct ct_dict *d = ct_dict_new(r, (size_t)json_object_object_length(j));
        if (!d)
            return ct_fail_limit(r, "render memory cap reached");
        struct json_object_iterator it = json_object_iter_begin(j);
        struct json_object_iterator end = json_object_iter_end(j);
        while (!json_object_iter_equal(&it, &end)) {
            const char *k = json_object_iter_peek_name(&it);
            struct ct_value v;
            int rc = ct_from_json(r, json_object_iter_peek_value(&it), &v, depth + 1);
            if (rc)
                return rc;
            /* json-c keys are unique, so append without the lookup ct_dict_set would do. */
            if (d->n == d->cap) {
                rc = ct_dict_set(r, d, ct_str(k, strlen(k)), v);
                if (rc)
                    return rc;
            } else {
                d->keys[d->n] = ct_str(k, strlen(k));
                d->vals[d->n] = v;
                d->n++;
            }
            json_object_iter_next(&it);
        }
        *out = (struct ct_value){.type = V_DICT};
        out->u.d = d;
        return OSR_OK;
    }
    }
    *out = ct_none();
    return OSR_OK;
}
