/* chat_template_eval.c - executes the syntax tree: statements, expressions, scopes, macros.
 *
 * Semantics follow Jinja2 3.1 in its immutable sandbox: a for-loop body gets a fresh scope
 * per iteration (assignments do not leak out of the loop, or into the next iteration), if
 * bodies share their enclosing scope, macros see the scope they were defined in with late
 * binding, `and`/`or` return an operand, `+` and friends behave as Python's operators
 * (including their TypeError messages), and an undefined value prints as "" but raises
 * UndefinedError when used for arithmetic, attribute access, calls or comparisons.  Filters,
 * tests, methods and globals live in chat_template_filters.c.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "chat_template_int.h"
#include "osr/alloc.h"

#define POS(e) ((e) ? (e)->line : 0), ((e) ? (e)->col : 0)

int ct_step(struct ct_render *r, const struct ct_expr *at)
{
    if (++r->steps > r->lim.max_steps) {
        int rc = ct_fail_limit(r, "template evaluation step limit reached");
        if (at && r->err.e.line == 0) {
            r->err.e.line = at->line;
            r->err.e.col = at->col;
        }
        return rc;
    }
    return OSR_OK;
}

int ct_undefined_error(struct ct_render *r, const struct ct_expr *at, struct ct_value v)
{
    return ct_fail(r, POS(at), (v.flags & VF_UNSAFE) ? "SecurityError" : "UndefinedError", "%s",
                   v.u.hint ? v.u.hint : "value is undefined");
}

static const char *obj_type_repr(struct ct_value v)
{
    switch (v.type) {
    case V_NONE:
        return "None";
    case V_BOOL:
        return "bool object";
    case V_INT:
        return "int object";
    case V_FLOAT:
        return "float object";
    case V_STR:
        return (v.flags & VF_MARKUP) ? "markupsafe.Markup object" : "str object";
    case V_LIST:
        return (v.flags & VF_TUPLE) ? "tuple object" : "list object";
    case V_DICT:
        return "dict object";
    case V_NS:
        return "jinja2.utils.Namespace object";
    case V_MACRO:
        return "jinja2.runtime.Macro object";
    case V_LOOP:
        return "jinja2.runtime.LoopContext object";
    default:
        return "object";
    }
}

static struct ct_value missing_attr(struct ct_render *r, struct ct_value obj, const char *name)
{
    const char *t = obj_type_repr(obj);
    return ct_undef(osr_arena_printf(r->arena, "'%s' has no attribute '%s'", t, name));
}

/* ---- scopes ------------------------------------------------------------------------------ */

static struct ct_scope *scope_new(struct ct_render *r, struct ct_scope *parent)
{
    struct ct_scope *s = osr_arena_calloc(r->arena, 1, sizeof(*s));
    if (s)
        s->parent = parent;
    return s;
}

static int scope_set(struct ct_render *r, struct ct_scope *s, const char *name, struct ct_value v)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->names[i], name) == 0) {
            s->vals[i] = v;
            return OSR_OK;
        }
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 4;
        const char **nn = osr_arena_calloc(r->arena, ncap, sizeof(*nn));
        struct ct_value *nv = osr_arena_calloc(r->arena, ncap, sizeof(*nv));
        if (!nn || !nv)
            return ct_fail_limit(r, "render memory cap reached");
        if (s->n) {
            memcpy(nn, s->names, s->n * sizeof(*nn));
            memcpy(nv, s->vals, s->n * sizeof(*nv));
        }
        s->names = nn;
        s->vals = nv;
        s->cap = ncap;
    }
    s->names[s->n] = name;
    s->vals[s->n] = v;
    s->n++;
    return OSR_OK;
}

static bool lookup(struct ct_render *r, struct ct_scope *s, const char *name, struct ct_value *out)
{
    for (; s; s = s->parent)
        for (size_t i = s->n; i-- > 0;)
            if (strcmp(s->names[i], name) == 0) {
                *out = s->vals[i];
                return true;
            }
    struct ct_value *v = ct_dict_get_cstr(r->vars, name);
    if (v) {
        *out = *v;
        return true;
    }
    return ct_global_lookup(r, name, out);
}

/* ---- output ------------------------------------------------------------------------------ */

static int emit(struct ct_render *r, const char *p, size_t n)
{
    if (osr_buf_append(r->out, p, n) != OSR_OK)
        return ct_fail_limit(r, "rendered output is larger than the output cap");
    return OSR_OK;
}

static int emit_value(struct ct_render *r, struct ct_value v)
{
    if (v.type == V_STR)
        return emit(r, v.u.s.p, v.u.s.n);
    return ct_append_str(r, r->out, v);
}

/* Renders body into a fresh string (macro calls, block set, filter blocks). */
static int capture(struct ct_render *r, struct ct_scope *s, const struct ct_body *body,
                   struct ct_value *out)
{
    struct osr_buf tmp;
    osr_buf_init(&tmp, r->lim.max_output);
    struct osr_buf *saved = r->out;
    r->out = &tmp;
    int rc = ct_exec_body(r, s, body);
    r->out = saved;
    if (rc == OSR_OK)
        rc = ct_buf_to_value(r, &tmp, 0, out);
    osr_buf_release(&tmp);
    return rc;
}

/* ---- attribute and item access ----------------------------------------------------------- */

static int loop_attr(struct ct_render *r, struct ct_value lv, const char *name,
                     struct ct_value *out)
{
    const struct ct_loop *L = lv.u.loop;
    size_t n = L->items->n, i = L->i;
    if (strcmp(name, "index") == 0)
        *out = ct_int((int64_t)i + 1);
    else if (strcmp(name, "index0") == 0)
        *out = ct_int((int64_t)i);
    else if (strcmp(name, "revindex") == 0)
        *out = ct_int((int64_t)(n - i));
    else if (strcmp(name, "revindex0") == 0)
        *out = ct_int((int64_t)(n - i - 1));
    else if (strcmp(name, "first") == 0)
        *out = ct_bool(i == 0);
    else if (strcmp(name, "last") == 0)
        *out = ct_bool(i + 1 == n);
    else if (strcmp(name, "length") == 0)
        *out = ct_int((int64_t)n);
    else if (strcmp(name, "depth") == 0)
        *out = ct_int(1);
    else if (strcmp(name, "depth0") == 0)
        *out = ct_int(0);
    else if (strcmp(name, "previtem") == 0)
        *out = i > 0 ? L->items->v[i - 1] : ct_undef("there is no previous item");
    else if (strcmp(name, "nextitem") == 0)
        *out = i + 1 < n ? L->items->v[i + 1] : ct_undef("there is no next item");
    else if (!ct_method_lookup(r, lv, name, out))
        *out = missing_attr(r, lv, name);
    return OSR_OK;
}

int ct_getattr(struct ct_render *r, const struct ct_expr *at, struct ct_value obj, const char *name,
               struct ct_value *out)
{
    if (obj.type == V_UNDEF)
        return ct_undefined_error(r, at, obj);
    if (obj.type == V_LOOP)
        return loop_attr(r, obj, name, out);
    if (obj.type == V_NS) {
        struct ct_value *v = ct_dict_get_cstr(obj.u.d, name);
        *out = v ? *v : missing_attr(r, obj, name);
        return OSR_OK;
    }
    /* Python attributes (methods) first, then the item, as Jinja2's getattr does. */
    if (ct_method_lookup(r, obj, name, out))
        return OSR_OK;
    if (out->type == V_UNDEF && (out->flags & VF_UNSAFE))
        return OSR_OK;
    if (obj.type == V_DICT) {
        struct ct_value *v = ct_dict_get_cstr(obj.u.d, name);
        if (v) {
            *out = *v;
            return OSR_OK;
        }
    }
    *out = missing_attr(r, obj, name);
    return OSR_OK;
}

static bool as_index(struct ct_value k, int64_t *i)
{
    if (k.type == V_INT) {
        *i = k.u.i;
        return true;
    }
    if (k.type == V_BOOL) {
        *i = k.u.b;
        return true;
    }
    return false;
}

/* Byte offset of code point number idx in s (idx <= number of code points). */
static size_t utf8_offset(const char *p, size_t n, size_t idx)
{
    size_t off = 0;
    while (idx > 0 && off < n) {
        size_t len;
        ct_utf8_decode(p + off, n - off, &len);
        off += len;
        idx--;
    }
    return off;
}

int ct_getitem(struct ct_render *r, const struct ct_expr *at, struct ct_value obj,
               struct ct_value key, struct ct_value *out)
{
    if (obj.type == V_UNDEF)
        return ct_undefined_error(r, at, obj);
    int64_t i;
    if (obj.type == V_DICT) {
        struct ct_value *v = ct_dict_get(obj.u.d, key);
        if (v) {
            *out = *v;
            return OSR_OK;
        }
    } else if ((obj.type == V_LIST && !(obj.flags & VF_GENERATOR)) && as_index(key, &i)) {
        int64_t n = (int64_t)obj.u.l->n;
        if (i < 0)
            i += n;
        if (i >= 0 && i < n) {
            *out = obj.u.l->v[i];
            return OSR_OK;
        }
    } else if (obj.type == V_STR && as_index(key, &i)) {
        int64_t n = (int64_t)ct_utf8_len(obj.u.s.p, obj.u.s.n);
        if (i < 0)
            i += n;
        if (i >= 0 && i < n) {
            size_t off = utf8_offset(obj.u.s.p, obj.u.s.n, (size_t)i), len;
            ct_utf8_decode(obj.u.s.p + off, obj.u.s.n - off, &len);
            return ct_new_str(r, obj.u.s.p + off, len, out);
        }
    }
    if (key.type == V_STR) {
        char *name = osr_arena_strndup(r->arena, key.u.s.p, key.u.s.n);
        if (!name)
            return ct_fail_limit(r, "render memory cap reached");
        if (obj.type == V_LOOP || obj.type == V_NS)
            return ct_getattr(r, at, obj, name, out);
        if (ct_method_lookup(r, obj, name, out))
            return OSR_OK;
        if (out->type == V_UNDEF && (out->flags & VF_UNSAFE))
            return OSR_OK;
        *out = missing_attr(r, obj, name);
        return OSR_OK;
    }
    if (key.type == V_INT)
        *out = ct_undef(osr_arena_printf(r->arena, "%s has no element %lld", obj_type_repr(obj),
                                         (long long)key.u.i));
    else
        *out = ct_undef(osr_arena_printf(r->arena, "%s has no element of type %s",
                                         obj_type_repr(obj), ct_type_name(key)));
    return OSR_OK;
}

static int slice_index(struct ct_render *r, struct ct_scope *s, const struct ct_expr *e,
                       bool *present, int64_t *v)
{
    *present = false;
    if (!e)
        return OSR_OK;
    struct ct_value x;
    int rc = ct_eval(r, s, e, &x);
    if (rc)
        return rc;
    if (x.type == V_NONE)
        return OSR_OK;
    if (x.type == V_UNDEF)
        return ct_undefined_error(r, e, x);
    if (!as_index(x, v))
        return ct_fail(r, POS(e), "TypeError",
                       "slice indices must be integers or None or have an __index__ method");
    *present = true;
    return OSR_OK;
}

/* Python slice semantics over n elements: fills the chosen indices' count and a generator. */
static void slice_bounds(int64_t n, bool hs, int64_t start, bool he, int64_t stop, int64_t step,
                         int64_t *first, int64_t *count)
{
    if (step > 0) {
        int64_t lo =
            hs ? (start < 0 ? (start + n < 0 ? 0 : start + n) : (start > n ? n : start)) : 0;
        int64_t hi = he ? (stop < 0 ? (stop + n < 0 ? 0 : stop + n) : (stop > n ? n : stop)) : n;
        *first = lo;
        *count = hi > lo ? (hi - lo + step - 1) / step : 0;
    } else {
        int64_t lo =
            hs ? (start < 0 ? (start + n < 0 ? -1 : start + n) : (start >= n ? n - 1 : start))
               : n - 1;
        int64_t hi =
            he ? (stop < 0 ? (stop + n < 0 ? -1 : stop + n) : (stop >= n ? n - 1 : stop)) : -1;
        *first = lo;
        *count = lo > hi ? (lo - hi + (-step) - 1) / (-step) : 0;
    }
}

static int eval_slice(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                      struct ct_value obj, const struct ct_expr *sl, struct ct_value *out)
{
    bool hs, he, hstep;
    int64_t start = 0, stop = 0, step = 1;
    int rc;
    if ((rc = slice_index(r, s, sl->a, &hs, &start)) ||
        (rc = slice_index(r, s, sl->b, &he, &stop)) ||
        (rc = slice_index(r, s, sl->c, &hstep, &step)))
        return rc;
    if (!hstep)
        step = 1;
    if (step == 0)
        return ct_fail(r, POS(sl), "ValueError", "slice step cannot be zero");
    if (obj.type == V_UNDEF)
        return ct_undefined_error(r, at, obj);
    int64_t first, count;
    if (obj.type == V_LIST && !(obj.flags & VF_GENERATOR)) {
        slice_bounds((int64_t)obj.u.l->n, hs, start, he, stop, step, &first, &count);
        struct ct_list *l = ct_list_new(r, (size_t)count);
        if (!l)
            return ct_fail_limit(r, "render memory cap reached");
        for (int64_t k = 0; k < count; k++)
            l->v[k] = obj.u.l->v[first + k * step];
        l->n = (size_t)count;
        *out = (struct ct_value){.type = V_LIST, .flags = obj.flags & VF_TUPLE};
        out->u.l = l;
        return OSR_OK;
    }
    if (obj.type == V_STR) {
        /* Index the code points once, then copy the chosen ones. */
        size_t ncp = ct_utf8_len(obj.u.s.p, obj.u.s.n);
        size_t *offs = osr_arena_calloc(r->arena, ncp + 1, sizeof(*offs));
        if (!offs)
            return ct_fail_limit(r, "render memory cap reached");
        size_t off = 0;
        for (size_t k = 0; k < ncp; k++) {
            offs[k] = off;
            size_t len;
            ct_utf8_decode(obj.u.s.p + off, obj.u.s.n - off, &len);
            off += len;
        }
        offs[ncp] = obj.u.s.n;
        slice_bounds((int64_t)ncp, hs, start, he, stop, step, &first, &count);
        if (step == 1)
            return ct_new_str(r, obj.u.s.p + offs[first], offs[first + count] - offs[first], out);
        char *buf = osr_arena_alloc(r->arena, obj.u.s.n + 1);
        if (!buf)
            return ct_fail_limit(r, "render memory cap reached");
        size_t o = 0;
        for (int64_t k = 0; k < count; k++) {
            size_t idx = (size_t)(first + k * step);
            memcpy(buf + o, obj.u.s.p + offs[idx], offs[idx + 1] - offs[idx]);
            o += offs[idx + 1] - offs[idx];
        }
        buf[o] = '\0';
        *out = ct_str(buf, o);
        return OSR_OK;
    }
    return ct_fail(r, POS(at), "TypeError", "'%s' object is not subscriptable", ct_type_name(obj));
}

int ct_iterate(struct ct_render *r, const struct ct_expr *at, struct ct_value v,
               struct ct_list **items)
{
    switch (v.type) {
    case V_UNDEF:
        *items = ct_list_new(r, 0);
        break;
    case V_LIST:
        *items = v.u.l;
        return OSR_OK;
    case V_DICT: {
        struct ct_list *l = ct_list_new(r, v.u.d->n);
        if (!l)
            return ct_fail_limit(r, "render memory cap reached");
        if (v.u.d->n)
            memcpy(l->v, v.u.d->keys, v.u.d->n * sizeof(*l->v));
        l->n = v.u.d->n;
        *items = l;
        return OSR_OK;
    }
    case V_STR: {
        size_t n = ct_utf8_len(v.u.s.p, v.u.s.n);
        struct ct_list *l = ct_list_new(r, n);
        if (!l)
            return ct_fail_limit(r, "render memory cap reached");
        size_t off = 0;
        for (size_t k = 0; k < n; k++) {
            size_t len;
            ct_utf8_decode(v.u.s.p + off, v.u.s.n - off, &len);
            l->v[k] = ct_str(v.u.s.p + off, len);
            off += len;
        }
        l->n = n;
        *items = l;
        return OSR_OK;
    }
    default:
        return ct_fail(r, POS(at), "TypeError", "'%s' object is not iterable", ct_type_name(v));
    }
    if (!*items)
        return ct_fail_limit(r, "render memory cap reached");
    return OSR_OK;
}

/* ---- operators --------------------------------------------------------------------------- */

static int64_t int_of(struct ct_value v)
{
    return v.type == V_INT ? v.u.i : v.type == V_BOOL ? (int64_t)v.u.b : 0;
}

static double dbl_of(struct ct_value v)
{
    return v.type == V_FLOAT ? v.u.f : (double)int_of(v);
}

static int unsupported(struct ct_render *r, const struct ct_expr *at, const char *op,
                       struct ct_value a, struct ct_value b)
{
    return ct_fail(r, POS(at), "TypeError", "unsupported operand type(s) for %s: '%s' and '%s'", op,
                   ct_type_name(a), ct_type_name(b));
}

static int overflow(struct ct_render *r, const struct ct_expr *at)
{
    return ct_fail(r, POS(at), "OverflowError", "integer result out of 64-bit range");
}

static int repeat(struct ct_render *r, const struct ct_expr *at, struct ct_value seq, int64_t times,
                  struct ct_value *out)
{
    if (times < 0)
        times = 0;
    /* Nothing to repeat: answer at once (looping "times" times could take forever). */
    if ((seq.type == V_STR ? seq.u.s.n : seq.u.l->n) == 0 || times == 0) {
        if (seq.type == V_STR)
            return ct_new_str(r, "", 0, out);
        *out = (struct ct_value){.type = V_LIST, .flags = seq.flags & VF_TUPLE};
        out->u.l = ct_list_new(r, 0);
        return out->u.l ? OSR_OK : ct_fail_limit(r, "render memory cap reached");
    }
    if (seq.type == V_STR) {
        size_t total;
        if (!osr_size_mul(seq.u.s.n, (size_t)times, &total) || total > r->lim.max_output)
            return ct_fail_limit(r, "string repetition result is too large");
        char *buf = osr_arena_alloc(r->arena, total + 1);
        if (!buf)
            return ct_fail_limit(r, "render memory cap reached");
        for (int64_t k = 0; k < times; k++)
            memcpy(buf + (size_t)k * seq.u.s.n, seq.u.s.p, seq.u.s.n);
        buf[total] = '\0';
        *out = ct_str(buf, total);
        return OSR_OK;
    }
    size_t total;
    if (!osr_size_mul(seq.u.l->n, (size_t)times, &total) || total > (r->lim.max_memory / 16))
        return ct_fail_limit(r, "list repetition result is too large");
    struct ct_list *l = ct_list_new(r, total);
    if (!l)
        return ct_fail_limit(r, "render memory cap reached");
    for (int64_t k = 0; k < times; k++)
        memcpy(l->v + (size_t)k * seq.u.l->n, seq.u.l->v, seq.u.l->n * sizeof(*l->v));
    l->n = total;
    *out = (struct ct_value){.type = V_LIST, .flags = seq.flags & VF_TUPLE};
    out->u.l = l;
    (void)at;
    return OSR_OK;
}

static int add_values(struct ct_render *r, const struct ct_expr *at, struct ct_value a,
                      struct ct_value b, struct ct_value *out)
{
    if (a.type == V_STR && b.type == V_STR) {
        bool ma = a.flags & VF_MARKUP, mb = b.flags & VF_MARKUP;
        struct osr_buf buf;
        osr_buf_init(&buf, r->lim.max_output);
        int rc;
        /* Markup + str escapes the plain operand (markupsafe), the result stays Markup. */
        if (ma == mb || ma)
            rc = osr_buf_append(&buf, a.u.s.p, a.u.s.n);
        else
            rc = ct_append_escaped(&buf, a.u.s.p, a.u.s.n);
        if (rc == OSR_OK) {
            if (ma == mb || mb)
                rc = osr_buf_append(&buf, b.u.s.p, b.u.s.n);
            else
                rc = ct_append_escaped(&buf, b.u.s.p, b.u.s.n);
        }
        if (rc == OSR_OK)
            rc = ct_buf_to_value(r, &buf, (ma || mb) ? VF_MARKUP : 0, out);
        else
            rc = ct_fail_limit(r, "string concatenation result is too large");
        osr_buf_release(&buf);
        return rc;
    }
    if (a.type == V_STR) {
        if (a.flags & VF_MARKUP)
            return unsupported(r, at, "+", a, b);
        return ct_fail(r, POS(at), "TypeError", "can only concatenate str (not \"%s\") to str",
                       ct_type_name(b));
    }
    if (ct_is_number(a) && ct_is_number(b)) {
        if (a.type == V_FLOAT || b.type == V_FLOAT) {
            *out = ct_float(dbl_of(a) + dbl_of(b));
            return OSR_OK;
        }
        int64_t s;
        if (__builtin_add_overflow(int_of(a), int_of(b), &s))
            return overflow(r, at);
        *out = ct_int(s);
        return OSR_OK;
    }
    if (a.type == V_LIST && !(a.flags & VF_GENERATOR)) {
        if (b.type != V_LIST || (b.flags & VF_GENERATOR) ||
            (a.flags & VF_TUPLE) != (b.flags & VF_TUPLE))
            return ct_fail(r, POS(at), "TypeError", "can only concatenate %s (not \"%s\") to %s",
                           ct_type_name(a), ct_type_name(b), ct_type_name(a));
        struct ct_list *l = ct_list_new(r, a.u.l->n + b.u.l->n);
        if (!l)
            return ct_fail_limit(r, "render memory cap reached");
        if (a.u.l->n)
            memcpy(l->v, a.u.l->v, a.u.l->n * sizeof(*l->v));
        if (b.u.l->n)
            memcpy(l->v + a.u.l->n, b.u.l->v, b.u.l->n * sizeof(*l->v));
        l->n = a.u.l->n + b.u.l->n;
        *out = (struct ct_value){.type = V_LIST, .flags = a.flags & VF_TUPLE};
        out->u.l = l;
        return OSR_OK;
    }
    return unsupported(r, at, "+", a, b);
}

static int binop(struct ct_render *r, const struct ct_expr *at, enum ct_tok op, struct ct_value a,
                 struct ct_value b, struct ct_value *out)
{
    if (a.type == V_UNDEF)
        return ct_undefined_error(r, at, a);
    if (b.type == V_UNDEF)
        return ct_undefined_error(r, at, b);
    if (op == T_ADD)
        return add_values(r, at, a, b, out);
    static const char *const names[] = {
        [T_SUB] = "-",       [T_MUL] = "*", [T_DIV] = "/",
        [T_FLOORDIV] = "//", [T_MOD] = "%", [T_POW] = "** or pow()"};
    const char *opname = names[op];
    if (op == T_MUL) {
        if ((a.type == V_STR || (a.type == V_LIST && !(a.flags & VF_GENERATOR))) &&
            (b.type == V_INT || b.type == V_BOOL))
            return repeat(r, at, a, int_of(b), out);
        if ((b.type == V_STR || (b.type == V_LIST && !(b.flags & VF_GENERATOR))) &&
            (a.type == V_INT || a.type == V_BOOL))
            return repeat(r, at, b, int_of(a), out);
        if (a.type == V_STR || a.type == V_LIST)
            return ct_fail(r, POS(at), "TypeError",
                           "can't multiply sequence by non-int of type '%s'", ct_type_name(b));
    }
    if (op == T_MOD && a.type == V_STR)
        return ct_str_percent(r, at, a, b, out);
    if (!ct_is_number(a) || !ct_is_number(b))
        return unsupported(r, at, opname, a, b);
    bool fl = a.type == V_FLOAT || b.type == V_FLOAT;
    int64_t x = int_of(a), y = int_of(b), res;
    double fx = dbl_of(a), fy = dbl_of(b);
    switch (op) {
    case T_SUB:
        if (fl) {
            *out = ct_float(fx - fy);
            return OSR_OK;
        }
        if (__builtin_sub_overflow(x, y, &res))
            return overflow(r, at);
        *out = ct_int(res);
        return OSR_OK;
    case T_MUL:
        if (fl) {
            *out = ct_float(fx * fy);
            return OSR_OK;
        }
        if (__builtin_mul_overflow(x, y, &res))
            return overflow(r, at);
        *out = ct_int(res);
        return OSR_OK;
    case T_DIV:
        if (fy == 0.0)
            return ct_fail(r, POS(at), "ZeroDivisionError",
                           fl ? "float division by zero" : "division by zero");
        *out = ct_float(fx / fy);
        return OSR_OK;
    case T_FLOORDIV:
    case T_MOD:
        if (fl) {
            if (fy == 0.0)
                return ct_fail(r, POS(at), "ZeroDivisionError",
                               op == T_MOD ? "float modulo" : "float floor division by zero");
            double m = fmod(fx, fy);
            if (m != 0.0 && ((m < 0) != (fy < 0)))
                m += fy;
            *out = op == T_MOD ? ct_float(m) : ct_float(floor(fx / fy));
            return OSR_OK;
        }
        if (y == 0)
            return ct_fail(r, POS(at), "ZeroDivisionError",
                           op == T_MOD ? "integer modulo by zero"
                                       : "integer division or modulo by zero");
        if (x == INT64_MIN && y == -1)
            return op == T_MOD ? (*out = ct_int(0), OSR_OK) : overflow(r, at);
        {
            int64_t q = x / y, m = x % y;
            if (m != 0 && ((m < 0) != (y < 0))) {
                q -= 1;
                m += y;
            }
            *out = ct_int(op == T_MOD ? m : q);
        }
        return OSR_OK;
    case T_POW:
        if (!fl && y >= 0) {
            int64_t acc = 1, base = x;
            int64_t e = y;
            while (e > 0) {
                if (e & 1) {
                    if (__builtin_mul_overflow(acc, base, &acc))
                        return overflow(r, at);
                }
                e >>= 1;
                if (e > 0 && __builtin_mul_overflow(base, base, &base))
                    return overflow(r, at);
            }
            *out = ct_int(acc);
            return OSR_OK;
        }
        if (fx == 0.0 && fy < 0)
            return ct_fail(r, POS(at), "ZeroDivisionError",
                           "0.0 cannot be raised to a negative power");
        *out = ct_float(pow(fx, fy));
        return OSR_OK;
    default:
        return unsupported(r, at, opname, a, b);
    }
}

static int contains(struct ct_render *r, const struct ct_expr *at, struct ct_value container,
                    struct ct_value item, bool *out)
{
    *out = false;
    switch (container.type) {
    case V_UNDEF:
        return OSR_OK;
    case V_STR:
        if (item.type != V_STR)
            return ct_fail(r, POS(at), "TypeError",
                           "'in <string>' requires string as left operand, not %s",
                           ct_type_name(item));
        *out = item.u.s.n == 0 ||
               memmem(container.u.s.p, container.u.s.n, item.u.s.p, item.u.s.n) != NULL;
        return OSR_OK;
    case V_LIST:
        for (size_t i = 0; i < container.u.l->n; i++)
            if (ct_equal(container.u.l->v[i], item)) {
                *out = true;
                break;
            }
        return OSR_OK;
    case V_DICT:
        *out = ct_dict_get(container.u.d, item) != NULL;
        return OSR_OK;
    default:
        return ct_fail(r, POS(at), "TypeError", "argument of type '%s' is not iterable",
                       ct_type_name(container));
    }
}

static int eval_compare(struct ct_render *r, struct ct_scope *s, const struct ct_expr *e,
                        struct ct_value *out)
{
    struct ct_value left;
    int rc = ct_eval(r, s, e->a, &left);
    if (rc)
        return rc;
    for (size_t k = 0; k < e->nitems; k++) {
        struct ct_value right;
        if ((rc = ct_eval(r, s, e->items[k], &right)))
            return rc;
        bool ok;
        int op = (int)e->ops[k];
        if (op == CT_OP_IN || op == CT_OP_NOTIN) {
            if ((rc = contains(r, e, right, left, &ok)))
                return rc;
            if (op == CT_OP_NOTIN)
                ok = !ok;
        } else if (op == T_EQ || op == T_NE) {
            ok = ct_equal(left, right) == (op == T_EQ);
        } else {
            const char *opname = op == T_LT ? "<" : op == T_LTEQ ? "<=" : op == T_GT ? ">" : ">=";
            int c;
            if ((rc = ct_compare(r, e, left, right, opname, &c)))
                return rc;
            ok = c != 2 && (op == T_LT     ? c < 0
                            : op == T_LTEQ ? c <= 0
                            : op == T_GT   ? c > 0
                                           : c >= 0);
        }
        if (!ok) {
            *out = ct_bool(false);
            return OSR_OK;
        }
        left = right;
    }
    *out = ct_bool(true);
    return OSR_OK;
}

/* ---- calls ------------------------------------------------------------------------------- */

struct argv {
    struct ct_value *pos;
    size_t npos;
    const char **kwn;
    struct ct_value *kwv;
    size_t nkw;
};

static int eval_args(struct ct_render *r, struct ct_scope *s, const struct ct_args *a,
                     size_t extra_kw, struct argv *out)
{
    struct ct_list *star = NULL;
    struct ct_dict *dstar = NULL;
    int rc;
    if (a->star) {
        struct ct_value v;
        if ((rc = ct_eval(r, s, a->star, &v)) || (rc = ct_iterate(r, a->star, v, &star)))
            return rc;
    }
    if (a->dstar) {
        struct ct_value v;
        if ((rc = ct_eval(r, s, a->dstar, &v)))
            return rc;
        if (v.type != V_DICT)
            return ct_fail(r, POS(a->dstar), "TypeError", "argument after ** must be a mapping");
        dstar = v.u.d;
    }
    size_t npos = a->npos + (star ? star->n : 0);
    size_t nkw = a->nkw + (dstar ? dstar->n : 0) + extra_kw;
    out->pos = osr_arena_calloc(r->arena, npos + 1, sizeof(*out->pos));
    out->kwn = osr_arena_calloc(r->arena, nkw + 1, sizeof(*out->kwn));
    out->kwv = osr_arena_calloc(r->arena, nkw + 1, sizeof(*out->kwv));
    if (!out->pos || !out->kwn || !out->kwv)
        return ct_fail_limit(r, "render memory cap reached");
    for (size_t i = 0; i < a->npos; i++)
        if ((rc = ct_eval(r, s, a->pos[i], &out->pos[i])))
            return rc;
    if (star && star->n)
        memcpy(out->pos + a->npos, star->v, star->n * sizeof(*star->v));
    out->npos = npos;
    for (size_t i = 0; i < a->nkw; i++) {
        out->kwn[i] = a->kwname[i];
        if ((rc = ct_eval(r, s, a->kwval[i], &out->kwv[i])))
            return rc;
    }
    size_t k = a->nkw;
    if (dstar)
        for (size_t i = 0; i < dstar->n; i++) {
            if (dstar->keys[i].type != V_STR)
                return ct_fail(r, POS(a->dstar), "TypeError", "keywords must be strings");
            out->kwn[k] = osr_arena_strndup(r->arena, dstar->keys[i].u.s.p, dstar->keys[i].u.s.n);
            if (!out->kwn[k])
                return ct_fail_limit(r, "render memory cap reached");
            out->kwv[k++] = dstar->vals[i];
        }
    out->nkw = k;
    return OSR_OK;
}

static int call_macro(struct ct_render *r, const struct ct_expr *at, const struct ct_macro *m,
                      struct ct_value *pos, size_t npos, const char **kwn, struct ct_value *kwv,
                      size_t nkw, struct ct_value *out)
{
    const struct ct_macro_def *d = m->def;
    if (r->depth >= r->lim.max_depth)
        return ct_fail_limit(r, "macro calls nested too deeply");
    struct ct_scope *s = scope_new(r, m->closure);
    if (!s)
        return ct_fail_limit(r, "render memory cap reached");
    int rc;
    bool *given = osr_arena_calloc(r->arena, d->nparams + 1, sizeof(*given));
    struct ct_list *varargs = ct_list_new(r, 0);
    struct ct_dict *kwargs = ct_dict_new(r, 0);
    if (!given || !varargs || !kwargs)
        return ct_fail_limit(r, "render memory cap reached");
    for (size_t i = 0; i < npos; i++) {
        if (i < d->nparams) {
            if ((rc = scope_set(r, s, d->params[i], pos[i])))
                return rc;
            given[i] = true;
        } else if (!d->uses_varargs) {
            return ct_fail(r, POS(at), "TypeError",
                           "macro '%s' takes not more than %zu argument(s)", d->name, d->nparams);
        } else if ((rc = ct_list_push(r, varargs, pos[i]))) {
            return rc;
        }
    }
    for (size_t k = 0; k < nkw; k++) {
        size_t i;
        for (i = 0; i < d->nparams; i++)
            if (strcmp(d->params[i], kwn[k]) == 0)
                break;
        if (i < d->nparams) {
            if (given[i])
                return ct_fail(r, POS(at), "TypeError",
                               "macro '%s' got multiple values for argument '%s'", d->name, kwn[k]);
            given[i] = true;
            if ((rc = scope_set(r, s, d->params[i], kwv[k])))
                return rc;
        } else if (strcmp(kwn[k], "caller") == 0) {
            if ((rc = scope_set(r, s, "caller", kwv[k])))
                return rc;
        } else if (!d->uses_kwargs) {
            return ct_fail(r, POS(at), "TypeError", "macro '%s' takes no keyword argument '%s'",
                           d->name, kwn[k]);
        } else if ((rc = ct_dict_set(r, kwargs, ct_str(kwn[k], strlen(kwn[k])), kwv[k]))) {
            return rc;
        }
    }
    /* Defaults are evaluated in the macro's own scope, so they may use earlier parameters. */
    for (size_t i = 0; i < d->nparams; i++) {
        if (given[i])
            continue;
        struct ct_value v;
        if (d->defaults[i]) {
            if ((rc = ct_eval(r, s, d->defaults[i], &v)))
                return rc;
        } else {
            v = ct_undef(
                osr_arena_printf(r->arena, "parameter '%s' was not provided", d->params[i]));
        }
        if ((rc = scope_set(r, s, d->params[i], v)))
            return rc;
    }
    struct ct_value vv = {.type = V_LIST, .flags = VF_TUPLE}, kv = {.type = V_DICT};
    vv.u.l = varargs;
    kv.u.d = kwargs;
    if ((rc = scope_set(r, s, "varargs", vv)) || (rc = scope_set(r, s, "kwargs", kv)))
        return rc;
    r->depth++;
    rc = capture(r, s, &d->body, out);
    r->depth--;
    return rc;
}

int ct_call_value(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                  struct ct_value fn, struct ct_value *pos, size_t npos, const char **kwn,
                  struct ct_value *kwv, size_t nkw, struct ct_value *out)
{
    switch (fn.type) {
    case V_MACRO:
        return call_macro(r, at, fn.u.m, pos, npos, kwn, kwv, nkw, out);
    case V_FUNC:
        return ct_call_func(r, s, at, fn.u.fn, pos, npos, kwn, kwv, nkw, out);
    case V_UNDEF:
        return ct_undefined_error(r, at, fn);
    default:
        return ct_fail(r, POS(at), "TypeError", "'%s' object is not callable", ct_type_name(fn));
    }
}

/* ---- expressions ------------------------------------------------------------------------- */

/* Left-associative chains (a + b + c ..., x|f|g ..., a.b.c ...) are parsed without
 * recursion, so a long one makes a deep tree: this bounds the C stack evaluation uses. */
#define EVAL_MAX_DEPTH 1000

static int eval_expr(struct ct_render *r, struct ct_scope *s, const struct ct_expr *e,
                     struct ct_value *out);

int ct_eval(struct ct_render *r, struct ct_scope *s, const struct ct_expr *e, struct ct_value *out)
{
    if (r->eval_depth >= EVAL_MAX_DEPTH) {
        int rc = ct_fail_limit(r, "expression nested too deeply to evaluate");
        if (r->err.e.line == 0) {
            r->err.e.line = e->line;
            r->err.e.col = e->col;
        }
        return rc;
    }
    r->eval_depth++;
    int rc = eval_expr(r, s, e, out);
    r->eval_depth--;
    return rc;
}

static int eval_expr(struct ct_render *r, struct ct_scope *s, const struct ct_expr *e,
                     struct ct_value *out)
{
    int rc = ct_step(r, e);
    if (rc)
        return rc;
    struct ct_value a, b;
    switch (e->kind) {
    case E_CONST:
        *out = e->cval;
        return OSR_OK;
    case E_NAME:
        if (!lookup(r, s, e->name, out))
            *out = ct_undef(osr_arena_printf(r->arena, "'%s' is undefined", e->name));
        return OSR_OK;
    case E_LIST:
    case E_TUPLE: {
        struct ct_list *l = ct_list_new(r, e->nitems);
        if (!l)
            return ct_fail_limit(r, "render memory cap reached");
        for (size_t i = 0; i < e->nitems; i++)
            if ((rc = ct_eval(r, s, e->items[i], &l->v[i])))
                return rc;
        l->n = e->nitems;
        *out = (struct ct_value){.type = V_LIST, .flags = e->kind == E_TUPLE ? VF_TUPLE : 0};
        out->u.l = l;
        return OSR_OK;
    }
    case E_DICT: {
        struct ct_dict *d = ct_dict_new(r, e->nitems);
        if (!d)
            return ct_fail_limit(r, "render memory cap reached");
        for (size_t i = 0; i < e->nitems; i++) {
            if ((rc = ct_eval(r, s, e->items[i], &a)) || (rc = ct_eval(r, s, e->vals[i], &b)))
                return rc;
            if (a.type == V_LIST && !(a.flags & VF_TUPLE))
                return ct_fail(r, POS(e->items[i]), "TypeError", "unhashable type: 'list'");
            if (a.type == V_DICT)
                return ct_fail(r, POS(e->items[i]), "TypeError", "unhashable type: 'dict'");
            if ((rc = ct_dict_set(r, d, a, b)))
                return rc;
        }
        *out = (struct ct_value){.type = V_DICT};
        out->u.d = d;
        return OSR_OK;
    }
    case E_GETATTR:
        if ((rc = ct_eval(r, s, e->a, &a)))
            return rc;
        return ct_getattr(r, e, a, e->name, out);
    case E_GETITEM:
        if ((rc = ct_eval(r, s, e->a, &a)))
            return rc;
        if (e->b->kind == E_SLICE)
            return eval_slice(r, s, e, a, e->b, out);
        if ((rc = ct_eval(r, s, e->b, &b)))
            return rc;
        return ct_getitem(r, e, a, b, out);
    case E_SLICE:
        return ct_fail(r, POS(e), "TypeError", "a slice is only allowed inside []");
    case E_CALL: {
        if ((rc = ct_eval(r, s, e->a, &a)))
            return rc;
        struct argv av;
        if ((rc = eval_args(r, s, &e->args, 0, &av)))
            return rc;
        return ct_call_value(r, s, e, a, av.pos, av.npos, av.kwn, av.kwv, av.nkw, out);
    }
    case E_FILTER: {
        if ((rc = ct_eval(r, s, e->a, &a)))
            return rc;
        struct argv av;
        if ((rc = eval_args(r, s, &e->args, 0, &av)))
            return rc;
        return ct_apply_filter(r, s, e, e->name, a, av.pos, av.npos, av.kwn, av.kwv, av.nkw, out);
    }
    case E_TEST: {
        if ((rc = ct_eval(r, s, e->a, &a)))
            return rc;
        struct argv av;
        if ((rc = eval_args(r, s, &e->args, 0, &av)))
            return rc;
        bool res;
        if ((rc = ct_apply_test(r, s, e, e->name, a, av.pos, av.npos, &res)))
            return rc;
        *out = ct_bool(res != e->negated);
        return OSR_OK;
    }
    case E_NOT:
        if ((rc = ct_eval(r, s, e->a, &a)))
            return rc;
        *out = ct_bool(!ct_truthy(a));
        return OSR_OK;
    case E_NEG:
    case E_POS:
        if ((rc = ct_eval(r, s, e->a, &a)))
            return rc;
        if (a.type == V_UNDEF)
            return ct_undefined_error(r, e, a);
        if (!ct_is_number(a))
            return ct_fail(r, POS(e), "TypeError", "bad operand type for unary %c: '%s'",
                           e->kind == E_NEG ? '-' : '+', ct_type_name(a));
        if (e->kind == E_POS)
            *out = a.type == V_BOOL ? ct_int(a.u.b) : a;
        else if (a.type == V_FLOAT)
            *out = ct_float(-a.u.f);
        else if (int_of(a) == INT64_MIN)
            return overflow(r, e);
        else
            *out = ct_int(-int_of(a));
        return OSR_OK;
    case E_BINOP:
        if ((rc = ct_eval(r, s, e->a, &a)) || (rc = ct_eval(r, s, e->b, &b)))
            return rc;
        return binop(r, e, e->op, a, b, out);
    case E_AND:
        if ((rc = ct_eval(r, s, e->a, &a)))
            return rc;
        if (!ct_truthy(a)) {
            *out = a;
            return OSR_OK;
        }
        return ct_eval(r, s, e->b, out);
    case E_OR:
        if ((rc = ct_eval(r, s, e->a, &a)))
            return rc;
        if (ct_truthy(a)) {
            *out = a;
            return OSR_OK;
        }
        return ct_eval(r, s, e->b, out);
    case E_COMPARE:
        return eval_compare(r, s, e, out);
    case E_COND:
        if ((rc = ct_eval(r, s, e->a, &a)))
            return rc;
        if (ct_truthy(a))
            return ct_eval(r, s, e->b, out);
        if (e->c)
            return ct_eval(r, s, e->c, out);
        *out =
            ct_undef("the inline if-expression evaluated to false and no else section was defined");
        return OSR_OK;
    case E_CONCAT: {
        struct osr_buf buf;
        osr_buf_init(&buf, r->lim.max_output);
        for (size_t i = 0; i < e->nitems && rc == OSR_OK; i++) {
            if ((rc = ct_eval(r, s, e->items[i], &a)) == OSR_OK)
                rc = ct_append_str(r, &buf, a);
        }
        if (rc == OSR_OK)
            rc = ct_buf_to_value(r, &buf, 0, out);
        osr_buf_release(&buf);
        return rc;
    }
    }
    return ct_fail(r, POS(e), "TemplateError", "unknown expression");
}

/* ---- statements -------------------------------------------------------------------------- */

static int assign(struct ct_render *r, struct ct_scope *s, const struct ct_target *t,
                  struct ct_value v, const struct ct_node *at)
{
    if (t->attr) {
        struct ct_value ns;
        if (!lookup(r, s, t->name, &ns) || ns.type != V_NS)
            return ct_fail(r, at->line, at->col, "TemplateRuntimeError",
                           "cannot assign attribute on non-namespace object");
        return ct_dict_set(r, ns.u.d, ct_str(t->attr, strlen(t->attr)), v);
    }
    if (t->name)
        return scope_set(r, s, t->name, v);
    struct ct_list *items;
    if (v.type != V_LIST && v.type != V_DICT && v.type != V_STR && v.type != V_UNDEF)
        return ct_fail(r, at->line, at->col, "TypeError", "cannot unpack non-iterable %s object",
                       ct_type_name(v));
    int rc = ct_iterate(r, NULL, v, &items);
    if (rc)
        return rc;
    if (items->n < t->nitems)
        return ct_fail(r, at->line, at->col, "ValueError",
                       "not enough values to unpack (expected %zu, got %zu)", t->nitems, items->n);
    if (items->n > t->nitems)
        return ct_fail(r, at->line, at->col, "ValueError",
                       "too many values to unpack (expected %zu)", t->nitems);
    for (size_t i = 0; i < t->nitems; i++)
        if ((rc = assign(r, s, &t->items[i], items->v[i], at)))
            return rc;
    return OSR_OK;
}

static int exec_for(struct ct_render *r, struct ct_scope *s, const struct ct_node *n)
{
    struct ct_value it;
    struct ct_list *items;
    int rc;
    if ((rc = ct_eval(r, s, n->expr, &it)) || (rc = ct_iterate(r, n->expr, it, &items)))
        return rc;
    if (n->cond) {
        struct ct_list *kept = ct_list_new(r, items->n);
        if (!kept)
            return ct_fail_limit(r, "render memory cap reached");
        for (size_t i = 0; i < items->n; i++) {
            struct ct_scope *fs = scope_new(r, s);
            struct ct_value ok;
            if (!fs)
                return ct_fail_limit(r, "render memory cap reached");
            if ((rc = assign(r, fs, &n->target, items->v[i], n)) ||
                (rc = ct_eval(r, fs, n->cond, &ok)))
                return rc;
            if (ct_truthy(ok))
                kept->v[kept->n++] = items->v[i];
        }
        items = kept;
    }
    if (items->n == 0) {
        struct ct_scope *es = scope_new(r, s);
        if (!es)
            return ct_fail_limit(r, "render memory cap reached");
        return ct_exec_body(r, es, &n->else_body);
    }
    struct ct_loop *loop = osr_arena_calloc(r->arena, 1, sizeof(*loop));
    if (!loop)
        return ct_fail_limit(r, "render memory cap reached");
    loop->items = items;
    struct ct_value lv = {.type = V_LOOP};
    lv.u.loop = loop;
    for (size_t i = 0; i < items->n; i++) {
        loop->i = i;
        if ((rc = ct_step(r, NULL)))
            return rc;
        struct ct_scope *is = scope_new(r, s);
        if (!is)
            return ct_fail_limit(r, "render memory cap reached");
        if ((rc = scope_set(r, is, "loop", lv)) || (rc = assign(r, is, &n->target, items->v[i], n)))
            return rc;
        rc = ct_exec_body(r, is, &n->body);
        if (rc == CT_BREAK)
            break;
        if (rc == CT_CONTINUE)
            continue;
        if (rc)
            return rc;
    }
    return OSR_OK;
}

/* Applies a filter chain (parsed with a NULL innermost operand) to v. */
static int apply_filter_chain(struct ct_render *r, struct ct_scope *s, const struct ct_expr *f,
                              struct ct_value v, struct ct_value *out)
{
    if (!f) {
        *out = v;
        return OSR_OK;
    }
    if (r->eval_depth >= EVAL_MAX_DEPTH)
        return ct_fail_limit(r, "filter chain too long to evaluate");
    struct ct_value inner;
    r->eval_depth++;
    int rc = apply_filter_chain(r, s, f->a, v, &inner);
    r->eval_depth--;
    if (rc)
        return rc;
    struct argv av;
    if ((rc = eval_args(r, s, &f->args, 0, &av)))
        return rc;
    return ct_apply_filter(r, s, f, f->name, inner, av.pos, av.npos, av.kwn, av.kwv, av.nkw, out);
}

static int exec_node(struct ct_render *r, struct ct_scope *s, const struct ct_node *n)
{
    struct ct_value v;
    int rc;
    switch (n->kind) {
    case N_TEXT:
        return emit(r, n->text, n->ntext);
    case N_OUTPUT:
        if ((rc = ct_eval(r, s, n->expr, &v)))
            return rc;
        return emit_value(r, v);
    case N_IF:
        if ((rc = ct_eval(r, s, n->expr, &v)))
            return rc;
        return ct_exec_body(r, s, ct_truthy(v) ? &n->body : &n->else_body);
    case N_FOR:
        return exec_for(r, s, n);
    case N_SET:
        if ((rc = ct_eval(r, s, n->expr, &v)))
            return rc;
        return assign(r, s, &n->target, v, n);
    case N_SET_BLOCK: {
        struct ct_scope *bs = scope_new(r, s);
        if (!bs)
            return ct_fail_limit(r, "render memory cap reached");
        struct ct_value body;
        if ((rc = capture(r, bs, &n->body, &body)) ||
            (rc = apply_filter_chain(r, s, n->filter, body, &v)))
            return rc;
        return assign(r, s, &n->target, v, n);
    }
    case N_FILTER_BLOCK: {
        struct ct_scope *bs = scope_new(r, s);
        if (!bs)
            return ct_fail_limit(r, "render memory cap reached");
        struct ct_value body;
        if ((rc = capture(r, bs, &n->body, &body)) ||
            (rc = apply_filter_chain(r, s, n->filter, body, &v)))
            return rc;
        return emit_value(r, v);
    }
    case N_MACRO: {
        struct ct_macro *m = osr_arena_calloc(r->arena, 1, sizeof(*m));
        if (!m)
            return ct_fail_limit(r, "render memory cap reached");
        m->def = n->macro;
        m->closure = s;
        v = (struct ct_value){.type = V_MACRO};
        v.u.m = m;
        return scope_set(r, s, n->macro->name, v);
    }
    case N_CALL_BLOCK: {
        struct ct_macro *m = osr_arena_calloc(r->arena, 1, sizeof(*m));
        if (!m)
            return ct_fail_limit(r, "render memory cap reached");
        m->def = n->macro;
        m->closure = s;
        struct ct_value caller = {.type = V_MACRO}, fn;
        caller.u.m = m;
        const struct ct_expr *call = n->expr;
        struct argv av;
        if ((rc = ct_eval(r, s, call->a, &fn)) || (rc = eval_args(r, s, &call->args, 1, &av)))
            return rc;
        av.kwn[av.nkw] = "caller";
        av.kwv[av.nkw++] = caller;
        if ((rc = ct_call_value(r, s, call, fn, av.pos, av.npos, av.kwn, av.kwv, av.nkw, &v)))
            return rc;
        return emit_value(r, v);
    }
    case N_WITH: {
        struct ct_scope *ws = scope_new(r, s);
        if (!ws)
            return ct_fail_limit(r, "render memory cap reached");
        for (size_t i = 0; i < n->nwith; i++) {
            if ((rc = ct_eval(r, s, n->wvals[i], &v)) ||
                (rc = assign(r, ws, &n->wtargets[i], v, n)))
                return rc;
        }
        return ct_exec_body(r, ws, &n->body);
    }
    case N_BREAK:
        return CT_BREAK;
    case N_CONTINUE:
        return CT_CONTINUE;
    }
    return OSR_OK;
}

static int exec_body(struct ct_render *r, struct ct_scope *s, const struct ct_body *body);

int ct_exec_body(struct ct_render *r, struct ct_scope *s, const struct ct_body *body)
{
    /* Nested bodies share the expression depth budget: recursion through macros nests
     * statements as well as expressions. */
    if (r->eval_depth >= EVAL_MAX_DEPTH)
        return ct_fail_limit(r, "statements nested too deeply to execute");
    r->eval_depth++;
    int rc = exec_body(r, s, body);
    r->eval_depth--;
    return rc;
}

static int exec_body(struct ct_render *r, struct ct_scope *s, const struct ct_body *body)
{
    for (size_t i = 0; i < body->n; i++) {
        const struct ct_node *n = body->v[i];
        if (++r->steps > r->lim.max_steps) {
            int rc = ct_fail_limit(r, "template evaluation step limit reached");
            r->err.e.line = n->line;
            r->err.e.col = n->col;
            return rc;
        }
        int rc = exec_node(r, s, n);
        if (rc)
            return rc;
    }
    return OSR_OK;
}
