/* chat_template_filters.c - Jinja2's filters and tests, as the chat templates use them.
 *
 * Each filter takes the value on the left of "|" and its arguments (by position or keyword,
 * with Jinja2's parameter names) and behaves as the Jinja2 3.1 filter does, including the
 * quirks templates depend on: |tojson is Hugging Face's json.dumps(ensure_ascii=False) with no
 * HTML escaping; |safe makes Markup (which HTML-escapes what is concatenated to it); map,
 * select, reject, selectattr, rejectattr and unique return generators (no len(), not JSON
 * serializable, always true) until |list; unique and sort compare strings case-insensitively
 * by default.  Tests ("is defined", "is string", ...) come after the filters.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_template_int.h"

#define POS(e) ((e) ? (e)->line : 0), ((e) ? (e)->col : 0)

typedef int (*filter_fn)(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                         struct ct_value v, const struct ct_fargs *a, struct ct_value *out);

static int oom(struct ct_render *r)
{
    return ct_fail_limit(r, "render memory cap reached");
}

static int list_out(struct ct_render *r, struct ct_list *l, uint8_t flags, struct ct_value *out)
{
    if (!l)
        return oom(r);
    *out = (struct ct_value){.type = V_LIST, .flags = flags};
    out->u.l = l;
    return OSR_OK;
}

/* Jinja2's soft_str: str(v) but strings (and Markup) unchanged. */
static int soft_str(struct ct_render *r, struct ct_value v, struct ct_value *out)
{
    return ct_to_str(r, v, out);
}

static int64_t int_arg(const struct ct_fargs *a, size_t idx, const char *name, int64_t def)
{
    struct ct_value v;
    if (!ct_arg(a, idx, name, &v))
        return def;
    if (v.type == V_INT)
        return v.u.i;
    if (v.type == V_BOOL)
        return v.u.b;
    if (v.type == V_FLOAT)
        return (int64_t)v.u.f;
    return def;
}

static bool bool_arg(const struct ct_fargs *a, size_t idx, const char *name, bool def)
{
    struct ct_value v;
    return ct_arg(a, idx, name, &v) ? ct_truthy(v) : def;
}

/* Jinja2's environment.getattr for "attribute=" arguments; dotted paths and integer parts
 * index into nested values. */
static int attr_path(struct ct_render *r, const struct ct_expr *at, struct ct_value v,
                     struct ct_value attr, struct ct_value *out)
{
    if (attr.type == V_INT)
        return ct_getitem(r, at, v, attr, out);
    struct ct_value sattr;
    int rc = soft_str(r, attr, &sattr);
    if (rc)
        return rc;
    const char *p = sattr.u.s.p, *end = p + sattr.u.s.n;
    *out = v;
    while (p <= end) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        size_t n = dot ? (size_t)(dot - p) : (size_t)(end - p);
        char *part = osr_arena_strndup(r->arena, p, n);
        if (!part)
            return oom(r);
        char *e;
        long long idx = strtoll(part, &e, 10);
        if (n > 0 && *e == '\0')
            rc = ct_getitem(r, at, *out, ct_int(idx), out);
        else
            rc = ct_getitem(r, at, *out, ct_str(part, n), out);
        if (rc)
            return rc;
        if (!dot)
            break;
        p = dot + 1;
    }
    return OSR_OK;
}

static int py_len(struct ct_render *r, const struct ct_expr *at, struct ct_value v, int64_t *n)
{
    switch (v.type) {
    case V_UNDEF:
        *n = 0;
        return OSR_OK;
    case V_STR:
        *n = (int64_t)ct_utf8_len(v.u.s.p, v.u.s.n);
        return OSR_OK;
    case V_LIST:
        if (!(v.flags & VF_GENERATOR)) {
            *n = (int64_t)v.u.l->n;
            return OSR_OK;
        }
        break;
    case V_DICT:
        *n = (int64_t)v.u.d->n;
        return OSR_OK;
    case V_LOOP:
        *n = (int64_t)v.u.loop->items->n;
        return OSR_OK;
    default:
        break;
    }
    return ct_fail(r, POS(at), "TypeError", "object of type '%s' has no len()", ct_type_name(v));
}

/* ---- filters ----------------------------------------------------------------------------- */

static int f_length(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                    struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    int64_t n = 0;
    int rc = py_len(r, at, v, &n);
    if (rc == OSR_OK)
        *out = ct_int(n);
    return rc;
}

static int f_default(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                     struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    struct ct_value def = ct_str("", 0);
    ct_arg(a, 0, "default_value", &def);
    bool boolean = bool_arg(a, 1, "boolean", false);
    *out = (v.type == V_UNDEF || (boolean && !ct_truthy(v))) ? def : v;
    return OSR_OK;
}

static int f_trim(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                  struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    struct ct_value sv, chars;
    int rc = soft_str(r, v, &sv);
    if (rc)
        return rc;
    bool has = ct_arg(a, 0, "chars", &chars) && chars.type == V_STR;
    return ct_str_strip(r, sv, has ? &chars : NULL, true, true, out);
}

static int case_filter(struct ct_render *r, struct ct_value v, enum ct_case mode,
                       struct ct_value *out)
{
    struct ct_value sv;
    int rc = soft_str(r, v, &sv);
    if (rc == OSR_OK)
        rc = ct_str_case(r, sv, mode, out);
    return rc;
}

static int f_lower(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                   struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    return case_filter(r, v, CASE_LOWER, out);
}

static int f_upper(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                   struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    return case_filter(r, v, CASE_UPPER, out);
}

static int f_title(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                   struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    return case_filter(r, v, CASE_TITLE_FILTER, out);
}

static int f_capitalize(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                        struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    return case_filter(r, v, CASE_CAPITALIZE, out);
}

static int f_string(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                    struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    return soft_str(r, v, out);
}

static int f_safe(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                  struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    int rc = soft_str(r, v, out);
    if (rc == OSR_OK)
        out->flags = VF_MARKUP;
    return rc;
}

static int f_escape(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                    struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    if (v.type == V_STR && (v.flags & VF_MARKUP)) {
        *out = v;
        return OSR_OK;
    }
    struct ct_value sv;
    int rc = soft_str(r, v, &sv);
    if (rc)
        return rc;
    struct osr_buf b;
    osr_buf_init(&b, r->lim.max_output);
    rc = ct_append_escaped(&b, sv.u.s.p, sv.u.s.n);
    rc = rc ? ct_fail_limit(r, "string result is too large")
            : ct_buf_to_value(r, &b, VF_MARKUP, out);
    osr_buf_release(&b);
    return rc;
}

static int f_replace(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                     struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    struct ct_value sv, old, repl;
    int rc = soft_str(r, v, &sv);
    if (rc)
        return rc;
    if (!ct_arg(a, 0, "old", &old) || !ct_arg(a, 1, "new", &repl))
        return ct_fail(r, POS(at), "TypeError", "replace() missing required arguments");
    if ((rc = soft_str(r, old, &old)) || (rc = soft_str(r, repl, &repl)))
        return rc;
    struct ct_value c;
    int64_t count = -1;
    if (ct_arg(a, 2, "count", &c) && c.type == V_INT)
        count = c.u.i;
    return ct_str_replace(r, sv, old, repl, count, out);
}

static int f_tojson(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                    struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    /* Hugging Face: tojson(x, ensure_ascii=False, indent=None, separators=None,
     * sort_keys=False) calling json.dumps. */
    bool ascii = bool_arg(a, 0, "ensure_ascii", false);
    struct ct_value iv, sep;
    int indent = -1;
    if (ct_arg(a, 1, "indent", &iv) && iv.type != V_NONE) {
        if (iv.type == V_INT || iv.type == V_BOOL)
            indent = (int)(iv.type == V_INT ? (iv.u.i < 0    ? 0
                                               : iv.u.i > 64 ? 64
                                                             : iv.u.i)
                                            : iv.u.b);
        else
            return ct_fail(r, POS(at), "TypeError", "tojson indent must be an integer");
    }
    const char *item_sep = NULL, *key_sep = NULL;
    if (ct_arg(a, 2, "separators", &sep) && sep.type != V_NONE) {
        if (sep.type != V_LIST || sep.u.l->n != 2 || sep.u.l->v[0].type != V_STR ||
            sep.u.l->v[1].type != V_STR)
            return ct_fail(r, POS(at), "ValueError", "separators must be a pair of strings");
        item_sep = osr_arena_strndup(r->arena, sep.u.l->v[0].u.s.p, sep.u.l->v[0].u.s.n);
        key_sep = osr_arena_strndup(r->arena, sep.u.l->v[1].u.s.p, sep.u.l->v[1].u.s.n);
        if (!item_sep || !key_sep)
            return oom(r);
    }
    bool sort_keys = bool_arg(a, 3, "sort_keys", false);
    struct osr_buf b;
    osr_buf_init(&b, r->lim.max_output);
    int rc = ct_append_json(r, at, &b, v, indent, item_sep, key_sep, sort_keys, ascii);
    if (rc == OSR_OK)
        rc = ct_buf_to_value(r, &b, 0, out);
    osr_buf_release(&b);
    return rc;
}

static bool is_line_break(uint32_t cp)
{
    return cp == '\n' || cp == '\r' || cp == 0x0b || cp == 0x0c || cp == 0x1c || cp == 0x1d ||
           cp == 0x1e || cp == 0x85 || cp == 0x2028 || cp == 0x2029;
}

static int f_indent(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                    struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    struct ct_value sv, w;
    int rc = soft_str(r, v, &sv);
    if (rc)
        return rc;
    const char *ind = "    ";
    size_t indn = 4;
    char spaces[257];
    if (ct_arg(a, 0, "width", &w)) {
        if (w.type == V_STR) {
            ind = w.u.s.p;
            indn = w.u.s.n;
        } else {
            int64_t n = w.type == V_INT ? w.u.i : w.type == V_BOOL ? w.u.b : 4;
            if (n < 0)
                n = 0;
            if (n > 256)
                return ct_fail(r, POS(at), "ValueError", "indent width is too large");
            memset(spaces, ' ', (size_t)n);
            ind = spaces;
            indn = (size_t)n;
        }
    }
    bool first = bool_arg(a, 1, "first", false), blank = bool_arg(a, 2, "blank", false);
    /* Jinja2 appends "\n", splits into lines, indents every line after the first that is not
     * empty (all of them with blank=True) and joins with "\n"; first=True indents line one. */
    struct osr_buf b;
    osr_buf_init(&b, r->lim.max_output);
    if (first)
        rc = osr_buf_append(&b, ind, indn);
    const char *p = sv.u.s.p;
    size_t n = sv.u.s.n, i = 0, line = 0;
    /* The pieces between line breaks, the last one included even when empty. */
    for (;;) {
        size_t start = i, len = 0;
        bool broke = false;
        while (i < n) {
            uint32_t cp = ct_utf8_decode(p + i, n - i, &len);
            if (is_line_break(cp))
                break;
            i += len;
        }
        size_t end = i;
        if (i < n) {
            uint32_t cp = ct_utf8_decode(p + i, n - i, &len);
            i += len;
            if (cp == '\r' && i < n && p[i] == '\n')
                i++;
            broke = true;
        }
        if (rc == OSR_OK && line > 0) {
            rc = osr_buf_putc(&b, '\n');
            if (rc == OSR_OK && (blank || end > start))
                rc = osr_buf_append(&b, ind, indn);
        }
        if (rc == OSR_OK)
            rc = osr_buf_append(&b, p + start, end - start);
        line++;
        if (!broke)
            break;
    }
    rc = rc ? ct_fail_limit(r, "string result is too large") : ct_buf_to_value(r, &b, 0, out);
    osr_buf_release(&b);
    return rc;
}

static int f_first(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                   struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    struct ct_list *items;
    int rc = ct_iterate(r, at, v, &items);
    if (rc)
        return rc;
    *out = items->n ? items->v[0] : ct_undef("No first item, sequence was empty.");
    return OSR_OK;
}

static int f_last(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                  struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    if (v.type == V_LIST && (v.flags & VF_GENERATOR))
        return ct_fail(r, POS(at), "TypeError", "'generator' object is not reversible");
    struct ct_list *items;
    int rc = ct_iterate(r, at, v, &items);
    if (rc)
        return rc;
    *out = items->n ? items->v[items->n - 1] : ct_undef("No last item, sequence was empty.");
    return OSR_OK;
}

static int f_items(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                   struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    if (v.type == V_UNDEF)
        return list_out(r, ct_list_new(r, 0), VF_GENERATOR, out);
    if (v.type != V_DICT)
        return ct_fail(r, POS(at), "TypeError", "Can only get item pairs from a mapping.");
    struct ct_list *l = ct_list_new(r, v.u.d->n);
    if (!l)
        return oom(r);
    for (size_t i = 0; i < v.u.d->n; i++) {
        struct ct_list *t = ct_list_new(r, 2);
        if (!t)
            return oom(r);
        t->v[0] = v.u.d->keys[i];
        t->v[1] = v.u.d->vals[i];
        t->n = 2;
        l->v[i] = (struct ct_value){.type = V_LIST, .flags = VF_TUPLE};
        l->v[i].u.l = t;
    }
    l->n = v.u.d->n;
    return list_out(r, l, VF_GENERATOR, out);
}

static int f_list(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                  struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    struct ct_list *items;
    int rc = ct_iterate(r, at, v, &items);
    if (rc)
        return rc;
    if (v.type == V_LIST) { /* copy: the result is a new, plain list */
        struct ct_list *l = ct_list_new(r, items->n);
        if (!l)
            return oom(r);
        if (items->n)
            memcpy(l->v, items->v, items->n * sizeof(*l->v));
        l->n = items->n;
        items = l;
    }
    return list_out(r, items, 0, out);
}

static int f_join(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                  struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    struct ct_value sep = ct_str("", 0), attr;
    ct_arg(a, 0, "d", &sep);
    bool has_attr = ct_arg(a, 1, "attribute", &attr) && attr.type != V_NONE;
    struct ct_list *items;
    int rc = soft_str(r, sep, &sep);
    if (rc || (rc = ct_iterate(r, at, v, &items)))
        return rc;
    struct osr_buf b;
    osr_buf_init(&b, r->lim.max_output);
    for (size_t i = 0; rc == OSR_OK && i < items->n; i++) {
        struct ct_value it = items->v[i];
        if (has_attr && (rc = attr_path(r, at, it, attr, &it)))
            break;
        if (i && osr_buf_append(&b, sep.u.s.p, sep.u.s.n))
            rc = ct_fail_limit(r, "string result is too large");
        if (rc == OSR_OK)
            rc = ct_append_str(r, &b, it);
    }
    if (rc == OSR_OK)
        rc = ct_buf_to_value(r, &b, 0, out);
    osr_buf_release(&b);
    return rc;
}

static int f_int(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                 struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    int64_t def = int_arg(a, 0, "default", 0), base = int_arg(a, 1, "base", 10);
    switch (v.type) {
    case V_INT:
        *out = v;
        return OSR_OK;
    case V_BOOL:
        *out = ct_int(v.u.b);
        return OSR_OK;
    case V_FLOAT:
        *out = (isfinite(v.u.f) && fabs(v.u.f) < 9.2e18) ? ct_int((int64_t)v.u.f) : ct_int(def);
        return OSR_OK;
    case V_STR: {
        char buf[64];
        struct ct_value t;
        ct_str_strip(r, v, NULL, true, true, &t);
        size_t k = 0;
        for (size_t i = 0; i < t.u.s.n && k < sizeof(buf) - 1; i++)
            if (t.u.s.p[i] != '_')
                buf[k++] = t.u.s.p[i];
        buf[k] = '\0';
        if (k == 0 || k != t.u.s.n - (t.u.s.n - k) || t.u.s.n >= sizeof(buf)) {
            *out = ct_int(def);
            return OSR_OK;
        }
        char *end;
        errno = 0;
        long long x = strtoll(buf, &end, (int)(base >= 2 && base <= 36 ? base : 10));
        if (*end == '\0' && errno == 0) {
            *out = ct_int(x);
            return OSR_OK;
        }
        double d = strtod(buf, &end);
        *out = (*end == '\0' && isfinite(d) && fabs(d) < 9.2e18) ? ct_int((int64_t)d) : ct_int(def);
        return OSR_OK;
    }
    default:
        *out = ct_int(def);
        return OSR_OK;
    }
}

static int f_float(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                   struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    struct ct_value def = ct_float(0.0);
    ct_arg(a, 0, "default", &def);
    if (v.type == V_FLOAT) {
        *out = v;
    } else if (v.type == V_INT || v.type == V_BOOL) {
        *out = ct_float(v.type == V_INT ? (double)v.u.i : v.u.b);
    } else if (v.type == V_STR) {
        char buf[128];
        struct ct_value t;
        ct_str_strip(r, v, NULL, true, true, &t);
        if (t.u.s.n == 0 || t.u.s.n >= sizeof(buf)) {
            *out = def;
            return OSR_OK;
        }
        memcpy(buf, t.u.s.p, t.u.s.n);
        buf[t.u.s.n] = '\0';
        char *end;
        double d = strtod(buf, &end);
        *out = *end == '\0' ? ct_float(d) : def;
    } else {
        *out = def;
    }
    return OSR_OK;
}

static int f_abs(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                 struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    if (v.type == V_FLOAT)
        *out = ct_float(fabs(v.u.f));
    else if ((v.type == V_INT && v.u.i != INT64_MIN) || v.type == V_BOOL)
        *out = ct_int(v.type == V_INT ? llabs(v.u.i) : v.u.b);
    else
        return ct_fail(r, POS(at), "TypeError", "bad operand type for abs(): '%s'",
                       ct_type_name(v));
    return OSR_OK;
}

static int f_round(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                   struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    if (!ct_is_number(v))
        return ct_fail(r, POS(at), "TypeError", "type %s doesn't define __round__ method",
                       ct_type_name(v));
    int64_t prec = int_arg(a, 0, "precision", 0);
    struct ct_value m = ct_str("common", 6);
    ct_arg(a, 1, "method", &m);
    double x = v.type == V_FLOAT ? v.u.f : v.type == V_INT ? (double)v.u.i : v.u.b;
    if (prec < 0 || prec > 15)
        prec = prec < 0 ? 0 : 15;
    double p10 = pow(10.0, (double)prec);
    if (m.type == V_STR && m.u.s.n == 4 && memcmp(m.u.s.p, "ceil", 4) == 0) {
        x = ceil(x * p10) / p10;
    } else if (m.type == V_STR && m.u.s.n == 5 && memcmp(m.u.s.p, "floor", 5) == 0) {
        x = floor(x * p10) / p10;
    } else if (isfinite(x)) {
        /* Python's round(): correctly rounded, ties to even - what %.*f does in glibc. */
        char buf[400];
        snprintf(buf, sizeof(buf), "%.*f", (int)prec, x);
        x = strtod(buf, NULL);
    }
    *out = ct_float(x);
    return OSR_OK;
}

/* Applies a named test or a filter to one item (select/reject/map). */
static int item_test(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                     struct ct_value item, const struct ct_fargs *a, size_t first, bool *ok)
{
    struct ct_value tn;
    if (!ct_arg(a, first, NULL, &tn)) {
        *ok = ct_truthy(item);
        return OSR_OK;
    }
    if (tn.type != V_STR)
        return ct_fail(r, POS(at), "TypeError", "test name must be a string");
    char *name = osr_arena_strndup(r->arena, tn.u.s.p, tn.u.s.n);
    if (!name)
        return oom(r);
    size_t extra = a->npos > first + 1 ? a->npos - first - 1 : 0;
    return ct_apply_test(r, s, at, name, item, a->pos + first + 1, extra, ok);
}

static int select_impl(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                       struct ct_value v, const struct ct_fargs *a, bool by_attr, bool keep,
                       struct ct_value *out)
{
    struct ct_list *items, *res = ct_list_new(r, 0);
    if (!res)
        return oom(r);
    int rc = OSR_OK;
    if (!ct_truthy(v)) /* Jinja2: "if value:" guards the loop, so None gives nothing */
        return list_out(r, res, VF_GENERATOR, out);
    if ((rc = ct_iterate(r, at, v, &items)))
        return rc;
    struct ct_value attr;
    if (by_attr && !ct_arg(a, 0, "attribute", &attr))
        return ct_fail(r, POS(at), "TypeError", "missing attribute argument");
    for (size_t i = 0; i < items->n; i++) {
        struct ct_value x = items->v[i];
        if (by_attr && (rc = attr_path(r, at, x, attr, &x)))
            return rc;
        bool ok;
        if ((rc = item_test(r, s, at, x, a, by_attr ? 1 : 0, &ok)))
            return rc;
        if (ok == keep && (rc = ct_list_push(r, res, items->v[i])))
            return rc;
    }
    return list_out(r, res, VF_GENERATOR, out);
}

static int f_select(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                    struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    return select_impl(r, s, at, v, a, false, true, out);
}

static int f_reject(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                    struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    return select_impl(r, s, at, v, a, false, false, out);
}

static int f_selectattr(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                        struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    return select_impl(r, s, at, v, a, true, true, out);
}

static int f_rejectattr(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                        struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    return select_impl(r, s, at, v, a, true, false, out);
}

static int f_map(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                 struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    struct ct_list *items, *res = ct_list_new(r, 0);
    if (!res)
        return oom(r);
    if (!ct_truthy(v))
        return list_out(r, res, VF_GENERATOR, out);
    int rc = ct_iterate(r, at, v, &items);
    if (rc)
        return rc;
    struct ct_value attr, def, fname;
    bool by_attr = ct_arg(a, SIZE_MAX, "attribute", &attr);
    bool has_def = ct_arg(a, SIZE_MAX, "default", &def);
    char *name = NULL;
    if (!by_attr) {
        if (!ct_arg(a, 0, NULL, &fname) || fname.type != V_STR)
            return ct_fail(r, POS(at), "FilterArgumentError", "map requires a filter argument");
        if (!(name = osr_arena_strndup(r->arena, fname.u.s.p, fname.u.s.n)))
            return oom(r);
    }
    for (size_t i = 0; i < items->n; i++) {
        struct ct_value x;
        if (by_attr) {
            if ((rc = attr_path(r, at, items->v[i], attr, &x)))
                return rc;
            if (x.type == V_UNDEF && has_def)
                x = def;
        } else {
            size_t extra = a->npos > 1 ? a->npos - 1 : 0;
            if ((rc = ct_apply_filter(r, s, at, name, items->v[i], a->pos + 1, extra, a->kwn,
                                      a->kwv, a->nkw, &x)))
                return rc;
        }
        if ((rc = ct_list_push(r, res, x)))
            return rc;
    }
    return list_out(r, res, VF_GENERATOR, out);
}

/* Sort key: the (optionally attribute-selected, optionally lower-cased) value. */
static int sort_key(struct ct_render *r, const struct ct_expr *at, struct ct_value v, bool has_attr,
                    struct ct_value attr, bool cs, struct ct_value *key)
{
    int rc = OSR_OK;
    *key = v;
    if (has_attr && (rc = attr_path(r, at, v, attr, key)))
        return rc;
    if (!cs && key->type == V_STR)
        rc = ct_str_case(r, *key, CASE_LOWER, key);
    return rc;
}

static int f_unique(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                    struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    bool cs = bool_arg(a, 0, "case_sensitive", false);
    struct ct_value attr;
    bool has_attr = ct_arg(a, 1, "attribute", &attr) && attr.type != V_NONE;
    struct ct_list *items, *res = ct_list_new(r, 0), *seen = ct_list_new(r, 0);
    if (!res || !seen)
        return oom(r);
    int rc = ct_iterate(r, at, v, &items);
    if (rc)
        return rc;
    for (size_t i = 0; i < items->n; i++) {
        struct ct_value k;
        if ((rc = sort_key(r, at, items->v[i], has_attr, attr, cs, &k)))
            return rc;
        bool dup = false;
        for (size_t j = 0; j < seen->n && !dup; j++)
            dup = ct_equal(seen->v[j], k);
        if (dup)
            continue;
        if ((rc = ct_list_push(r, seen, k)) || (rc = ct_list_push(r, res, items->v[i])))
            return rc;
    }
    return list_out(r, res, VF_GENERATOR, out);
}

static int f_sort(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                  struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    bool rev = bool_arg(a, 0, "reverse", false), cs = bool_arg(a, 1, "case_sensitive", false);
    struct ct_value attr;
    bool has_attr = ct_arg(a, 2, "attribute", &attr) && attr.type != V_NONE;
    struct ct_list *items;
    int rc = ct_iterate(r, at, v, &items);
    if (rc)
        return rc;
    size_t n = items->n;
    struct ct_list *res = ct_list_new(r, n), *keys = ct_list_new(r, n);
    if (!res || !keys)
        return oom(r);
    for (size_t i = 0; i < n; i++) {
        res->v[i] = items->v[i];
        if ((rc = sort_key(r, at, items->v[i], has_attr, attr, cs, &keys->v[i])))
            return rc;
    }
    /* Stable insertion sort (Python's sort is stable; reverse keeps equal items' order). */
    for (size_t i = 1; i < n; i++) {
        size_t j = i;
        while (j > 0) {
            int c;
            if ((rc = ct_compare(r, at, keys->v[j - 1], keys->v[j], "<", &c)))
                return rc;
            if (rev ? c >= 0 : c <= 0)
                break;
            struct ct_value t = keys->v[j];
            keys->v[j] = keys->v[j - 1];
            keys->v[j - 1] = t;
            t = res->v[j];
            res->v[j] = res->v[j - 1];
            res->v[j - 1] = t;
            j--;
            if ((rc = ct_step(r, at)))
                return rc;
        }
    }
    res->n = n;
    return list_out(r, res, 0, out);
}

static int f_reverse(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                     struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    struct ct_list *items;
    int rc = ct_iterate(r, at, v, &items);
    if (rc)
        return rc;
    if (v.type == V_STR) {
        struct osr_buf b;
        osr_buf_init(&b, r->lim.max_output);
        for (size_t i = items->n; rc == OSR_OK && i-- > 0;)
            rc = osr_buf_append(&b, items->v[i].u.s.p, items->v[i].u.s.n);
        rc = rc ? ct_fail_limit(r, "string result is too large") : ct_buf_to_value(r, &b, 0, out);
        osr_buf_release(&b);
        return rc;
    }
    struct ct_list *l = ct_list_new(r, items->n);
    if (!l)
        return oom(r);
    for (size_t i = 0; i < items->n; i++)
        l->v[i] = items->v[items->n - 1 - i];
    l->n = items->n;
    return list_out(r, l, VF_GENERATOR, out);
}

static int f_sum(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                 struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    struct ct_value attr, acc = ct_int(0);
    bool has_attr = ct_arg(a, 0, "attribute", &attr) && attr.type != V_NONE;
    ct_arg(a, 1, "start", &acc);
    struct ct_list *items;
    int rc = ct_iterate(r, at, v, &items);
    for (size_t i = 0; rc == OSR_OK && i < items->n; i++) {
        struct ct_value x = items->v[i];
        if (has_attr && (rc = attr_path(r, at, x, attr, &x)))
            break;
        if (!ct_is_number(x) || !ct_is_number(acc)) {
            rc =
                ct_fail(r, POS(at), "TypeError", "unsupported operand type(s) for +: '%s' and '%s'",
                        ct_type_name(acc), ct_type_name(x));
            break;
        }
        if (acc.type == V_FLOAT || x.type == V_FLOAT) {
            double xa = acc.type == V_FLOAT ? acc.u.f
                        : acc.type == V_INT ? (double)acc.u.i
                                            : acc.u.b;
            double xb = x.type == V_FLOAT ? x.u.f : x.type == V_INT ? (double)x.u.i : x.u.b;
            acc = ct_float(xa + xb);
        } else {
            int64_t res;
            if (__builtin_add_overflow(acc.type == V_INT ? acc.u.i : acc.u.b,
                                       x.type == V_INT ? x.u.i : x.u.b, &res)) {
                rc = ct_fail(r, POS(at), "OverflowError", "integer result out of 64-bit range");
                break;
            }
            acc = ct_int(res);
        }
    }
    if (rc == OSR_OK)
        *out = acc;
    return rc;
}

static int minmax(struct ct_render *r, const struct ct_expr *at, struct ct_value v,
                  const struct ct_fargs *a, bool want_max, struct ct_value *out)
{
    bool cs = bool_arg(a, 0, "case_sensitive", false);
    struct ct_value attr;
    bool has_attr = ct_arg(a, 1, "attribute", &attr) && attr.type != V_NONE;
    struct ct_list *items;
    int rc = ct_iterate(r, at, v, &items);
    if (rc)
        return rc;
    if (items->n == 0) {
        *out = ct_undef("No aggregated item, sequence was empty.");
        return OSR_OK;
    }
    size_t best = 0;
    struct ct_value bk;
    if ((rc = sort_key(r, at, items->v[0], has_attr, attr, cs, &bk)))
        return rc;
    for (size_t i = 1; i < items->n; i++) {
        struct ct_value k;
        int c;
        if ((rc = sort_key(r, at, items->v[i], has_attr, attr, cs, &k)) ||
            (rc = ct_compare(r, at, k, bk, want_max ? ">" : "<", &c)))
            return rc;
        if (want_max ? c > 0 : c < 0) {
            best = i;
            bk = k;
        }
    }
    *out = items->v[best];
    return OSR_OK;
}

static int f_max(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                 struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    return minmax(r, at, v, a, true, out);
}

static int f_min(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                 struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    return minmax(r, at, v, a, false, out);
}

static int f_wordcount(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                       struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    struct ct_value sv;
    int rc = soft_str(r, v, &sv);
    if (rc)
        return rc;
    int64_t words = 0;
    bool in_word = false;
    for (size_t i = 0; i < sv.u.s.n;) {
        size_t len;
        uint32_t cp = ct_utf8_decode(sv.u.s.p + i, sv.u.s.n - i, &len);
        bool w = cp >= 0x80 || (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') ||
                 (cp >= 'A' && cp <= 'Z') || cp == '_';
        if (cp >= 0x80 && (ct_py_isspace(cp)))
            w = false;
        if (w && !in_word)
            words++;
        in_word = w;
        i += len;
    }
    *out = ct_int(words);
    return OSR_OK;
}

static int f_attr(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                  struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    struct ct_value name;
    if (!ct_arg(a, 0, "name", &name) || name.type != V_STR)
        return ct_fail(r, POS(at), "TypeError", "attr() needs an attribute name");
    char *n = osr_arena_strndup(r->arena, name.u.s.p, name.u.s.n);
    if (!n)
        return oom(r);
    return ct_getattr(r, at, v, n, out);
}

static int f_dictsort(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                      struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    if (v.type != V_DICT)
        return ct_fail(r, POS(at), "TypeError", "dictsort needs a mapping");
    bool cs = bool_arg(a, 0, "case_sensitive", false);
    struct ct_value by = ct_str("key", 3);
    ct_arg(a, 1, "by", &by);
    bool by_value = by.type == V_STR && by.u.s.n == 5 && memcmp(by.u.s.p, "value", 5) == 0;
    bool rev = bool_arg(a, 2, "reverse", false);
    struct ct_value items;
    int rc = f_items(r, s, at, v, a, &items);
    if (rc)
        return rc;
    struct ct_value idx = ct_int(by_value ? 1 : 0);
    struct ct_fargs sa = {NULL, 0, (const char *[]){"reverse", "case_sensitive", "attribute"},
                          (struct ct_value[]){ct_bool(rev), ct_bool(cs), idx}, 3};
    items.flags = 0;
    return f_sort(r, s, at, items, &sa, out);
}

static int f_center(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                    struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    struct ct_value sv;
    int rc = soft_str(r, v, &sv);
    if (rc)
        return rc;
    int64_t width = int_arg(a, 0, "width", 80), len = (int64_t)ct_utf8_len(sv.u.s.p, sv.u.s.n);
    if (width > 100000)
        return ct_fail(r, POS(at), "ValueError", "center width is too large");
    if (width <= len) {
        *out = sv;
        return OSR_OK;
    }
    int64_t pad = width - len, left = pad / 2 + (pad & width & 1);
    struct osr_buf b;
    osr_buf_init(&b, r->lim.max_output);
    for (int64_t i = 0; rc == OSR_OK && i < left; i++)
        rc = osr_buf_putc(&b, ' ');
    if (rc == OSR_OK)
        rc = osr_buf_append(&b, sv.u.s.p, sv.u.s.n);
    for (int64_t i = 0; rc == OSR_OK && i < pad - left; i++)
        rc = osr_buf_putc(&b, ' ');
    rc = rc ? ct_fail_limit(r, "string result is too large") : ct_buf_to_value(r, &b, 0, out);
    osr_buf_release(&b);
    return rc;
}

/* Jinja2's format filter: value % args, or value % kwargs when keywords are given. */
static int f_format(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                    struct ct_value v, const struct ct_fargs *a, struct ct_value *out)
{
    struct ct_value sv, args;
    int rc = soft_str(r, v, &sv);
    if (rc)
        return rc;
    if (a->nkw && a->npos)
        return ct_fail(r, POS(at), "FilterArgumentError",
                       "can't handle positional and keyword arguments at the same time");
    if (a->nkw) {
        struct ct_dict *d = ct_dict_new(r, a->nkw);
        if (!d)
            return oom(r);
        for (size_t i = 0; i < a->nkw; i++)
            if ((rc = ct_dict_set(r, d, ct_str(a->kwn[i], strlen(a->kwn[i])), a->kwv[i])))
                return rc;
        args = (struct ct_value){.type = V_DICT};
        args.u.d = d;
    } else {
        struct ct_list *l = ct_list_new(r, a->npos);
        if (!l)
            return oom(r);
        if (a->npos)
            memcpy(l->v, a->pos, a->npos * sizeof(*l->v));
        l->n = a->npos;
        args = (struct ct_value){.type = V_LIST, .flags = VF_TUPLE};
        args.u.l = l;
    }
    return ct_str_percent(r, at, sv, args, out);
}

struct filter {
    const char *name;
    filter_fn fn;
};

static const struct filter FILTERS[] = {
    {"abs", f_abs},
    {"attr", f_attr},
    {"capitalize", f_capitalize},
    {"center", f_center},
    {"count", f_length},
    {"d", f_default},
    {"default", f_default},
    {"dictsort", f_dictsort},
    {"e", f_escape},
    {"escape", f_escape},
    {"first", f_first},
    {"float", f_float},
    {"forceescape", f_escape},
    {"format", f_format},
    {"indent", f_indent},
    {"int", f_int},
    {"items", f_items},
    {"join", f_join},
    {"last", f_last},
    {"length", f_length},
    {"list", f_list},
    {"lower", f_lower},
    {"map", f_map},
    {"max", f_max},
    {"min", f_min},
    {"reject", f_reject},
    {"rejectattr", f_rejectattr},
    {"replace", f_replace},
    {"reverse", f_reverse},
    {"round", f_round},
    {"safe", f_safe},
    {"select", f_select},
    {"selectattr", f_selectattr},
    {"sort", f_sort},
    {"string", f_string},
    {"sum", f_sum},
    {"title", f_title},
    {"tojson", f_tojson},
    {"trim", f_trim},
    {"unique", f_unique},
    {"upper", f_upper},
    {"wordcount", f_wordcount},
};

static const struct filter *find_filter(const char *name)
{
    for (size_t i = 0; i < sizeof(FILTERS) / sizeof(FILTERS[0]); i++)
        if (strcmp(FILTERS[i].name, name) == 0)
            return &FILTERS[i];
    return NULL;
}

bool ct_filter_exists(const char *name)
{
    return find_filter(name) != NULL;
}

int ct_apply_filter(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                    const char *name, struct ct_value v, struct ct_value *pos, size_t npos,
                    const char **kwn, struct ct_value *kwv, size_t nkw, struct ct_value *out)
{
    const struct filter *f = find_filter(name);
    if (!f)
        return ct_fail(r, POS(at), "TemplateAssertionError", "No filter named '%s'.", name);
    int rc = ct_step(r, at);
    if (rc)
        return rc;
    const struct ct_fargs a = {pos, npos, kwn, kwv, nkw};
    return f->fn(r, s, at, v, &a, out);
}

/* ---- tests ------------------------------------------------------------------------------- */

enum test_id {
    TS_DEFINED,
    TS_UNDEFINED,
    TS_NONE,
    TS_BOOLEAN,
    TS_FALSE,
    TS_TRUE,
    TS_INTEGER,
    TS_FLOAT,
    TS_NUMBER,
    TS_STRING,
    TS_MAPPING,
    TS_ITERABLE,
    TS_SEQUENCE,
    TS_CALLABLE,
    TS_SAMEAS,
    TS_ESCAPED,
    TS_ODD,
    TS_EVEN,
    TS_DIVISIBLEBY,
    TS_LOWER,
    TS_UPPER,
    TS_IN,
    TS_EQ,
    TS_NE,
    TS_LT,
    TS_LE,
    TS_GT,
    TS_GE,
    TS_FILTER,
    TS_TEST,
};

static const struct {
    const char *name;
    enum test_id id;
} TESTS[] = {
    {"defined", TS_DEFINED},
    {"undefined", TS_UNDEFINED},
    {"none", TS_NONE},
    {"boolean", TS_BOOLEAN},
    {"false", TS_FALSE},
    {"true", TS_TRUE},
    {"integer", TS_INTEGER},
    {"float", TS_FLOAT},
    {"number", TS_NUMBER},
    {"string", TS_STRING},
    {"mapping", TS_MAPPING},
    {"iterable", TS_ITERABLE},
    {"sequence", TS_SEQUENCE},
    {"callable", TS_CALLABLE},
    {"sameas", TS_SAMEAS},
    {"escaped", TS_ESCAPED},
    {"odd", TS_ODD},
    {"even", TS_EVEN},
    {"divisibleby", TS_DIVISIBLEBY},
    {"lower", TS_LOWER},
    {"upper", TS_UPPER},
    {"in", TS_IN},
    {"eq", TS_EQ},
    {"equalto", TS_EQ},
    {"==", TS_EQ},
    {"ne", TS_NE},
    {"!=", TS_NE},
    {"lt", TS_LT},
    {"lessthan", TS_LT},
    {"<", TS_LT},
    {"le", TS_LE},
    {"<=", TS_LE},
    {"gt", TS_GT},
    {"greaterthan", TS_GT},
    {">", TS_GT},
    {"ge", TS_GE},
    {">=", TS_GE},
    {"filter", TS_FILTER},
    {"test", TS_TEST},
};

static int find_test(const char *name)
{
    for (size_t i = 0; i < sizeof(TESTS) / sizeof(TESTS[0]); i++)
        if (strcmp(TESTS[i].name, name) == 0)
            return (int)TESTS[i].id;
    return -1;
}

bool ct_test_exists(const char *name)
{
    return find_test(name) >= 0;
}

static int int_value(struct ct_render *r, const struct ct_expr *at, struct ct_value v, int64_t *out)
{
    if (v.type == V_UNDEF)
        return ct_undefined_error(r, at, v);
    if (v.type == V_INT || v.type == V_BOOL) {
        *out = v.type == V_INT ? v.u.i : v.u.b;
        return OSR_OK;
    }
    return ct_fail(r, POS(at), "TypeError", "expected an integer, got '%s'", ct_type_name(v));
}

int ct_apply_test(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                  const char *name, struct ct_value v, struct ct_value *pos, size_t npos, bool *out)
{
    int id = find_test(name);
    if (id < 0)
        return ct_fail(r, POS(at), "TemplateAssertionError", "No test named '%s'.", name);
    struct ct_value x = npos ? pos[0] : ct_undef("missing test argument");
    int rc = OSR_OK, c;
    int64_t i, d;
    bool need_arg = id == TS_SAMEAS || id == TS_DIVISIBLEBY || id == TS_IN || id >= TS_EQ;
    if (need_arg && npos == 0)
        return ct_fail(r, POS(at), "TypeError", "test '%s' needs an argument", name);
    switch ((enum test_id)id) {
    case TS_DEFINED:
        *out = v.type != V_UNDEF;
        break;
    case TS_UNDEFINED:
        *out = v.type == V_UNDEF;
        break;
    case TS_NONE:
        *out = v.type == V_NONE;
        break;
    case TS_BOOLEAN:
        *out = v.type == V_BOOL;
        break;
    case TS_FALSE:
        *out = v.type == V_BOOL && !v.u.b;
        break;
    case TS_TRUE:
        *out = v.type == V_BOOL && v.u.b;
        break;
    case TS_INTEGER:
        *out = v.type == V_INT;
        break;
    case TS_FLOAT:
        *out = v.type == V_FLOAT;
        break;
    case TS_NUMBER:
        *out = ct_is_number(v);
        break;
    case TS_STRING:
        *out = v.type == V_STR;
        break;
    case TS_MAPPING:
        *out = v.type == V_DICT;
        break;
    case TS_ITERABLE: /* Undefined is iterable (empty) in Jinja2 */
        *out = v.type == V_STR || v.type == V_LIST || v.type == V_DICT || v.type == V_UNDEF;
        break;
    case TS_SEQUENCE:
        *out = v.type == V_STR || (v.type == V_LIST && !(v.flags & VF_GENERATOR)) ||
               v.type == V_DICT || v.type == V_UNDEF;
        break;
    case TS_CALLABLE:
        *out = v.type == V_MACRO || v.type == V_FUNC;
        break;
    case TS_SAMEAS:
        *out = v.type == x.type &&
               ((v.type == V_NONE || v.type == V_UNDEF) || (v.type == V_BOOL && v.u.b == x.u.b) ||
                (v.type == V_LIST && v.u.l == x.u.l) ||
                ((v.type == V_DICT || v.type == V_NS) && v.u.d == x.u.d) ||
                (v.type == V_INT && v.u.i == x.u.i && v.u.i >= -5 && v.u.i <= 256) ||
                (v.type == V_STR && v.u.s.p == x.u.s.p && v.u.s.n == x.u.s.n));
        break;
    case TS_ESCAPED:
        *out = v.type == V_STR && (v.flags & VF_MARKUP);
        break;
    case TS_ODD:
    case TS_EVEN:
        if ((rc = int_value(r, at, v, &i)))
            return rc;
        *out = ((i % 2) != 0) == (id == TS_ODD);
        break;
    case TS_DIVISIBLEBY:
        if ((rc = int_value(r, at, v, &i)) || (rc = int_value(r, at, x, &d)))
            return rc;
        if (d == 0)
            return ct_fail(r, POS(at), "ZeroDivisionError", "integer modulo by zero");
        *out = d == -1 || i % d == 0;
        break;
    case TS_LOWER:
    case TS_UPPER: {
        struct ct_value sv, conv;
        if ((rc = ct_to_str(r, v, &sv)) ||
            (rc = ct_str_case(r, sv, id == TS_LOWER ? CASE_LOWER : CASE_UPPER, &conv)))
            return rc;
        /* str.islower(): has a cased character and equals its lower-cased self */
        bool cased = false;
        for (size_t k = 0; k < sv.u.s.n; k++) {
            char ch = sv.u.s.p[k];
            if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (unsigned char)ch >= 0x80)
                cased = true;
        }
        *out = cased && ct_equal(sv, conv);
        break;
    }
    case TS_IN: {
        if (x.type == V_STR) {
            if (v.type != V_STR)
                return ct_fail(r, POS(at), "TypeError",
                               "'in <string>' requires string as left operand, not %s",
                               ct_type_name(v));
            *out = v.u.s.n == 0 || memmem(x.u.s.p, x.u.s.n, v.u.s.p, v.u.s.n) != NULL;
        } else if (x.type == V_LIST) {
            *out = false;
            for (size_t k = 0; k < x.u.l->n && !*out; k++)
                *out = ct_equal(x.u.l->v[k], v);
        } else if (x.type == V_DICT) {
            *out = ct_dict_get(x.u.d, v) != NULL;
        } else if (x.type == V_UNDEF) {
            *out = false;
        } else {
            return ct_fail(r, POS(at), "TypeError", "argument of type '%s' is not iterable",
                           ct_type_name(x));
        }
        break;
    }
    case TS_EQ:
        *out = ct_equal(v, x);
        break;
    case TS_NE:
        *out = !ct_equal(v, x);
        break;
    case TS_LT:
    case TS_LE:
    case TS_GT:
    case TS_GE: {
        const char *op = id == TS_LT ? "<" : id == TS_LE ? "<=" : id == TS_GT ? ">" : ">=";
        if ((rc = ct_compare(r, at, v, x, op, &c)))
            return rc;
        *out = c != 2 && (id == TS_LT   ? c < 0
                          : id == TS_LE ? c <= 0
                          : id == TS_GT ? c > 0
                                        : c >= 0);
        break;
    }
    case TS_FILTER:
    case TS_TEST: {
        struct ct_value sv;
        if ((rc = ct_to_str(r, v, &sv)))
            return rc;
        char *nm = osr_arena_strndup(r->arena, sv.u.s.p, sv.u.s.n);
        if (!nm)
            return oom(r);
        *out = id == TS_FILTER ? ct_filter_exists(nm) : ct_test_exists(nm);
        break;
    }
    }
    (void)s;
    return OSR_OK;
}
