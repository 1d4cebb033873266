/* chat_template_builtins.c - methods of values and the global functions of the template.
 *
 * Methods are what Python objects offer and Jinja2's immutable sandbox allows: str (strip,
 * split, startswith, replace, ...), dict (items, keys, values, get), list (index, count) and
 * loop.cycle.  Methods that mutate a list or dict are refused with SecurityError, as the
 * sandbox does.  Globals: range, namespace, dict, raise_exception (TemplateError with the
 * template's message) and strftime_now (an injectable clock for tests).  Filters and tests are
 * in chat_template_filters.c.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <utf8proc.h>

#include "chat_template_int.h"

#define POS(e) ((e) ? (e)->line : 0), ((e) ? (e)->col : 0)
#define MAX_RANGE 100000 /* as Jinja2's sandbox */

enum fid {
    F_STR_STRIP,
    F_STR_LSTRIP,
    F_STR_RSTRIP,
    F_STR_SPLIT,
    F_STR_STARTSWITH,
    F_STR_ENDSWITH,
    F_STR_LOWER,
    F_STR_UPPER,
    F_STR_REPLACE,
    F_STR_TITLE,
    F_STR_CAPITALIZE,
    F_STR_JOIN,
    F_STR_FIND,
    F_STR_COUNT,
    F_STR_SPLITLINES,
    F_STR_ISDIGIT,
    F_STR_ISSPACE,
    F_STR_FORMAT,
    F_DICT_ITEMS,
    F_DICT_KEYS,
    F_DICT_VALUES,
    F_DICT_GET,
    F_LIST_INDEX,
    F_LIST_COUNT,
    F_LOOP_CYCLE,
    F_G_RANGE,
    F_G_NAMESPACE,
    F_G_DICT,
    F_G_RAISE,
    F_G_STRFTIME,
};

struct method {
    uint8_t type;
    const char *name;
    int id;
};

static const struct method METHODS[] = {
    {V_STR, "strip", F_STR_STRIP},
    {V_STR, "lstrip", F_STR_LSTRIP},
    {V_STR, "rstrip", F_STR_RSTRIP},
    {V_STR, "split", F_STR_SPLIT},
    {V_STR, "startswith", F_STR_STARTSWITH},
    {V_STR, "endswith", F_STR_ENDSWITH},
    {V_STR, "lower", F_STR_LOWER},
    {V_STR, "upper", F_STR_UPPER},
    {V_STR, "replace", F_STR_REPLACE},
    {V_STR, "title", F_STR_TITLE},
    {V_STR, "capitalize", F_STR_CAPITALIZE},
    {V_STR, "join", F_STR_JOIN},
    {V_STR, "find", F_STR_FIND},
    {V_STR, "count", F_STR_COUNT},
    {V_STR, "splitlines", F_STR_SPLITLINES},
    {V_STR, "isdigit", F_STR_ISDIGIT},
    {V_STR, "isspace", F_STR_ISSPACE},
    {V_STR, "format", F_STR_FORMAT},
    {V_DICT, "items", F_DICT_ITEMS},
    {V_DICT, "keys", F_DICT_KEYS},
    {V_DICT, "values", F_DICT_VALUES},
    {V_DICT, "get", F_DICT_GET},
    {V_LIST, "index", F_LIST_INDEX},
    {V_LIST, "count", F_LIST_COUNT},
    {V_LOOP, "cycle", F_LOOP_CYCLE},
};

static const char *const UNSAFE_LIST[] = {"append",  "extend", "insert", "pop", "remove",
                                          "reverse", "sort",   "clear",  NULL};
static const char *const UNSAFE_DICT[] = {"pop", "popitem", "update", "setdefault", "clear", NULL};

static int make_func(struct ct_render *r, const char *name, struct ct_value self, int id,
                     struct ct_value *out)
{
    struct ct_func *f = osr_arena_calloc(r->arena, 1, sizeof(*f));
    if (!f)
        return ct_fail_limit(r, "render memory cap reached");
    f->name = name;
    f->self = self;
    f->id = id;
    *out = (struct ct_value){.type = V_FUNC};
    out->u.fn = f;
    return OSR_OK;
}

bool ct_method_lookup(struct ct_render *r, struct ct_value obj, const char *name,
                      struct ct_value *out)
{
    *out = ct_undef(NULL);
    uint8_t t = obj.type;
    if (t == V_LIST && (obj.flags & VF_GENERATOR))
        return false;
    for (size_t i = 0; i < sizeof(METHODS) / sizeof(METHODS[0]); i++)
        if (METHODS[i].type == t && strcmp(METHODS[i].name, name) == 0)
            return make_func(r, METHODS[i].name, obj, METHODS[i].id, out) == OSR_OK;
    const char *const *unsafe = t == V_LIST ? UNSAFE_LIST : t == V_DICT ? UNSAFE_DICT : NULL;
    for (; unsafe && *unsafe; unsafe++)
        if (strcmp(*unsafe, name) == 0) {
            *out = ct_undef(osr_arena_printf(r->arena,
                                             "access to attribute '%s' of '%s' object is unsafe.",
                                             name, ct_type_name(obj)));
            out->flags = VF_UNSAFE;
            return false;
        }
    return false;
}

bool ct_global_lookup(struct ct_render *r, const char *name, struct ct_value *out)
{
    static const struct {
        const char *name;
        int id;
    } G[] = {{"range", F_G_RANGE},
             {"namespace", F_G_NAMESPACE},
             {"dict", F_G_DICT},
             {"raise_exception", F_G_RAISE},
             {"strftime_now", F_G_STRFTIME}};
    for (size_t i = 0; i < sizeof(G) / sizeof(G[0]); i++)
        if (strcmp(G[i].name, name) == 0)
            return make_func(r, G[i].name, ct_undef(NULL), G[i].id, out) == OSR_OK;
    return false;
}

/* ---- string helpers ---------------------------------------------------------------------- */

static int finish(struct ct_render *r, struct osr_buf *b, int rc, struct ct_value *out)
{
    if (rc == OSR_OK)
        rc = ct_buf_to_value(r, b, 0, out);
    else if (!r->err.set)
        rc = ct_fail_limit(r, "string result is too large");
    osr_buf_release(b);
    return rc;
}

static int put_cp(struct osr_buf *b, utf8proc_int32_t cp)
{
    utf8proc_uint8_t enc[4];
    utf8proc_ssize_t n = utf8proc_encode_char(cp, enc);
    return osr_buf_append(b, enc, (size_t)n);
}

static bool is_cased_letter(uint32_t cp)
{
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LL || c == UTF8PROC_CATEGORY_LT;
}

int ct_str_case(struct ct_render *r, struct ct_value s, enum ct_case mode, struct ct_value *out)
{
    struct osr_buf b;
    osr_buf_init(&b, r->lim.max_output);
    int rc = OSR_OK;
    bool word_start = true, prev_cased = false;
    size_t i = 0, k = 0;
    while (rc == OSR_OK && i < s.u.s.n) {
        size_t len;
        uint32_t cp = ct_utf8_decode(s.u.s.p + i, s.u.s.n - i, &len);
        utf8proc_int32_t c = (utf8proc_int32_t)cp;
        bool up;
        switch (mode) {
        case CASE_LOWER:
            up = false;
            break;
        case CASE_UPPER:
            up = true;
            break;
        case CASE_CAPITALIZE:
            up = k == 0;
            break;
        case CASE_TITLE_FILTER: /* Jinja2: words start after - ( { [ < or whitespace */
            up = word_start;
            word_start =
                ct_py_isspace(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
            break;
        default: /* str.title(): a cased letter after an uncased character starts a word */
            up = !prev_cased;
            prev_cased = is_cased_letter(cp);
            break;
        }
        if (len == 1 && cp >= 0x80) /* invalid byte: keep it */
            rc = osr_buf_append(&b, s.u.s.p + i, 1);
        else
            rc = put_cp(&b, up ? utf8proc_toupper(c) : utf8proc_tolower(c));
        i += len;
        k++;
    }
    return finish(r, &b, rc, out);
}

static bool in_chars(uint32_t cp, const struct ct_value *chars)
{
    if (!chars)
        return ct_py_isspace(cp);
    size_t i = 0;
    while (i < chars->u.s.n) {
        size_t len;
        if (ct_utf8_decode(chars->u.s.p + i, chars->u.s.n - i, &len) == cp)
            return true;
        i += len;
    }
    return false;
}

int ct_str_strip(struct ct_render *r, struct ct_value s, const struct ct_value *chars, bool left,
                 bool right, struct ct_value *out)
{
    const char *p = s.u.s.p;
    size_t a = 0, z = s.u.s.n;
    if (left)
        while (a < z) {
            size_t len;
            if (!in_chars(ct_utf8_decode(p + a, z - a, &len), chars))
                break;
            a += len;
        }
    if (right)
        while (z > a) {
            size_t st = z - 1;
            while (st > a && ((unsigned char)p[st] & 0xc0) == 0x80)
                st--;
            size_t len;
            if (!in_chars(ct_utf8_decode(p + st, z - st, &len), chars))
                break;
            z = st;
        }
    *out = ct_str(p + a, z - a);
    out->flags = s.flags & VF_MARKUP;
    (void)r;
    return OSR_OK;
}

int ct_str_replace(struct ct_render *r, struct ct_value s, struct ct_value old,
                   struct ct_value repl, int64_t count, struct ct_value *out)
{
    struct osr_buf b;
    osr_buf_init(&b, r->lim.max_output);
    int rc = OSR_OK;
    size_t i = 0;
    int64_t done = 0;
    if (old.u.s.n == 0) {
        /* Python inserts repl before every character and at the end. */
        while (rc == OSR_OK && i <= s.u.s.n) {
            if (count < 0 || done < count) {
                rc = osr_buf_append(&b, repl.u.s.p, repl.u.s.n);
                done++;
            }
            if (i == s.u.s.n)
                break;
            size_t len;
            ct_utf8_decode(s.u.s.p + i, s.u.s.n - i, &len);
            if (rc == OSR_OK)
                rc = osr_buf_append(&b, s.u.s.p + i, len);
            i += len;
        }
        return finish(r, &b, rc, out);
    }
    while (rc == OSR_OK && i < s.u.s.n) {
        const char *hit = (count < 0 || done < count)
                              ? memmem(s.u.s.p + i, s.u.s.n - i, old.u.s.p, old.u.s.n)
                              : NULL;
        if (!hit) {
            rc = osr_buf_append(&b, s.u.s.p + i, s.u.s.n - i);
            break;
        }
        size_t at = (size_t)(hit - s.u.s.p);
        rc = osr_buf_append(&b, s.u.s.p + i, at - i);
        if (rc == OSR_OK)
            rc = osr_buf_append(&b, repl.u.s.p, repl.u.s.n);
        i = at + old.u.s.n;
        done++;
    }
    return finish(r, &b, rc, out);
}

/* ---- argument helpers -------------------------------------------------------------------- */

static int need_str(struct ct_render *r, const struct ct_expr *at, const char *fn,
                    struct ct_value v)
{
    if (v.type == V_STR)
        return OSR_OK;
    if (v.type == V_UNDEF)
        return ct_undefined_error(r, at, v);
    return ct_fail(r, POS(at), "TypeError", "%s() argument must be str, not %s", fn,
                   ct_type_name(v));
}

static int list_value(struct ct_render *r, struct ct_list *l, uint8_t flags, struct ct_value *out)
{
    if (!l)
        return ct_fail_limit(r, "render memory cap reached");
    *out = (struct ct_value){.type = V_LIST, .flags = flags};
    out->u.l = l;
    return OSR_OK;
}

static int tuple2(struct ct_render *r, struct ct_value a, struct ct_value b, struct ct_value *out)
{
    struct ct_list *l = ct_list_new(r, 2);
    if (!l)
        return ct_fail_limit(r, "render memory cap reached");
    l->v[0] = a;
    l->v[1] = b;
    l->n = 2;
    return list_value(r, l, VF_TUPLE, out);
}

/* str.split(sep=None, maxsplit=-1) */
static int str_split(struct ct_render *r, const struct ct_expr *at, struct ct_value s,
                     const struct ct_fargs *a, struct ct_value *out)
{
    struct ct_value sep = ct_none(), ms = ct_int(-1);
    ct_arg(a, 0, "sep", &sep);
    ct_arg(a, 1, "maxsplit", &ms);
    int64_t maxsplit = ms.type == V_INT ? ms.u.i : -1;
    struct ct_list *l = ct_list_new(r, 0);
    if (!l)
        return ct_fail_limit(r, "render memory cap reached");
    const char *p = s.u.s.p;
    size_t n = s.u.s.n, i = 0;
    int rc = OSR_OK;
    int64_t splits = 0;
    if (sep.type == V_NONE) {
        for (;;) {
            size_t len;
            while (i < n && ct_py_isspace(ct_utf8_decode(p + i, n - i, &len)))
                i += len;
            if (i >= n)
                break;
            size_t start = i;
            if (maxsplit >= 0 && splits >= maxsplit) {
                /* the rest, with trailing whitespace removed */
                struct ct_value rest;
                ct_str_strip(r, ct_str(p + start, n - start), NULL, false, true, &rest);
                rc = ct_list_push(r, l, rest);
                break;
            }
            while (i < n && !ct_py_isspace(ct_utf8_decode(p + i, n - i, &len)))
                i += len;
            if ((rc = ct_list_push(r, l, ct_str(p + start, i - start))))
                break;
            splits++;
        }
        if (rc)
            return rc;
        return list_value(r, l, 0, out);
    }
    if (sep.type != V_STR)
        return ct_fail(r, POS(at), "TypeError", "must be str or None, not %s", ct_type_name(sep));
    if (sep.u.s.n == 0)
        return ct_fail(r, POS(at), "ValueError", "empty separator");
    for (;;) {
        const char *hit =
            (maxsplit < 0 || splits < maxsplit) ? memmem(p + i, n - i, sep.u.s.p, sep.u.s.n) : NULL;
        if (!hit) {
            rc = ct_list_push(r, l, ct_str(p + i, n - i));
            break;
        }
        size_t at_ = (size_t)(hit - p);
        if ((rc = ct_list_push(r, l, ct_str(p + i, at_ - i))))
            break;
        i = at_ + sep.u.s.n;
        splits++;
    }
    if (rc)
        return rc;
    return list_value(r, l, 0, out);
}

static int str_affix(struct ct_render *r, const struct ct_expr *at, struct ct_value s,
                     const struct ct_fargs *a, bool start, struct ct_value *out)
{
    struct ct_value x;
    if (!ct_arg(a, 0, NULL, &x))
        return ct_fail(r, POS(at), "TypeError", "%s() takes at least 1 argument (0 given)",
                       start ? "startswith" : "endswith");
    struct ct_value one[1] = {x};
    const struct ct_value *cands = one;
    size_t nc = 1;
    if (x.type == V_LIST && (x.flags & VF_TUPLE)) {
        cands = x.u.l->v;
        nc = x.u.l->n;
    }
    bool ok = false;
    for (size_t i = 0; i < nc && !ok; i++) {
        if (cands[i].type != V_STR)
            return ct_fail(r, POS(at), "TypeError",
                           "%s first arg must be str or a tuple of str, not %s",
                           start ? "startswith" : "endswith", ct_type_name(cands[i]));
        size_t k = cands[i].u.s.n;
        if (k <= s.u.s.n)
            ok = memcmp(start ? s.u.s.p : s.u.s.p + s.u.s.n - k, cands[i].u.s.p, k) == 0;
    }
    *out = ct_bool(ok);
    return OSR_OK;
}

static int str_join(struct ct_render *r, const struct ct_expr *at, struct ct_value sep,
                    const struct ct_fargs *a, struct ct_value *out)
{
    struct ct_value it;
    struct ct_list *items;
    int rc;
    if (!ct_arg(a, 0, NULL, &it))
        return ct_fail(r, POS(at), "TypeError", "join() takes exactly one argument (0 given)");
    if ((rc = ct_iterate(r, at, it, &items)))
        return rc;
    struct osr_buf b;
    osr_buf_init(&b, r->lim.max_output);
    for (size_t i = 0; rc == OSR_OK && i < items->n; i++) {
        if (items->v[i].type != V_STR) {
            osr_buf_release(&b);
            return ct_fail(r, POS(at), "TypeError",
                           "sequence item %zu: expected str instance, %s found", i,
                           ct_type_name(items->v[i]));
        }
        if (i)
            rc = osr_buf_append(&b, sep.u.s.p, sep.u.s.n);
        if (rc == OSR_OK)
            rc = osr_buf_append(&b, items->v[i].u.s.p, items->v[i].u.s.n);
    }
    return finish(r, &b, rc, out);
}

static int str_splitlines(struct ct_render *r, struct ct_value s, struct ct_value *out)
{
    struct ct_list *l = ct_list_new(r, 0);
    if (!l)
        return ct_fail_limit(r, "render memory cap reached");
    size_t i = 0, start = 0;
    const char *p = s.u.s.p;
    int rc = OSR_OK;
    while (i < s.u.s.n && rc == OSR_OK) {
        size_t len;
        uint32_t cp = ct_utf8_decode(p + i, s.u.s.n - i, &len);
        bool brk = cp == '\n' || cp == '\r' || cp == 0x0b || cp == 0x0c || cp == 0x1c ||
                   cp == 0x1d || cp == 0x1e || cp == 0x85 || cp == 0x2028 || cp == 0x2029;
        if (!brk) {
            i += len;
            continue;
        }
        rc = ct_list_push(r, l, ct_str(p + start, i - start));
        i += len;
        if (cp == '\r' && i < s.u.s.n && p[i] == '\n')
            i++;
        start = i;
    }
    if (rc == OSR_OK && start < s.u.s.n)
        rc = ct_list_push(r, l, ct_str(p + start, s.u.s.n - start));
    if (rc)
        return rc;
    return list_value(r, l, 0, out);
}

/* ---- string formatting: fmt % args and str.format() ------------------------------------- */

struct spec {
    char fill, align; /* align: '<', '>', '^' or 0 for the default */
    bool minus, plus, space, zero, alt;
    int width, prec; /* -1 when absent */
    char type;
};

static int pad_append(struct osr_buf *b, const struct spec *sp, const char *p, size_t n,
                      bool numeric)
{
    size_t len = ct_utf8_len(p, n);
    size_t padn = sp->width > 0 && (size_t)sp->width > len ? (size_t)sp->width - len : 0;
    char align = sp->align ? sp->align : sp->minus ? '<' : numeric ? '>' : '<';
    char fill = sp->fill ? sp->fill : ' ';
    size_t left = align == '>' ? padn : align == '^' ? padn / 2 : 0;
    int rc = OSR_OK;
    if (numeric && fill == '0' && align == '>' && n > 0 &&
        (p[0] == '-' || p[0] == '+' || p[0] == ' ')) {
        rc = osr_buf_append(b, p, 1); /* zero padding goes after the sign */
        p++;
        n--;
    }
    for (size_t i = 0; rc == OSR_OK && i < left; i++)
        rc = osr_buf_putc(b, fill);
    if (rc == OSR_OK)
        rc = osr_buf_append(b, p, n);
    for (size_t i = left; rc == OSR_OK && i < padn; i++)
        rc = osr_buf_putc(b, fill);
    return rc;
}

/* Formats one value by a conversion type (s r d i f F e E g G x X o c %). */
static int format_one(struct ct_render *r, const struct ct_expr *at, struct osr_buf *b,
                      struct ct_value v, const struct spec *sp)
{
    char t = sp->type ? sp->type : 's';
    char num[512];
    int rc;
    if (t == 's' || t == 'r' || t == 'a') {
        struct osr_buf tmp;
        osr_buf_init(&tmp, r->lim.max_output);
        if (t == 's' && v.type == V_STR)
            rc = osr_buf_append(&tmp, v.u.s.p, v.u.s.n) ? ct_fail_limit(r, "string too large") : 0;
        else if (t == 's')
            rc = ct_append_str(r, &tmp, v);
        else if (v.type == V_STR) {
            struct ct_list one = {&v, 1, 1};
            struct ct_value lv = {.type = V_LIST};
            lv.u.l = &one;
            rc = ct_append_str(r, &tmp, lv); /* "['x']": strip the brackets for repr('x') */
            if (rc == OSR_OK && tmp.len >= 2) {
                memmove(tmp.data, tmp.data + 1, tmp.len - 2);
                tmp.len -= 2;
                tmp.data[tmp.len] = '\0';
            }
        } else {
            rc = ct_append_str(r, &tmp, v);
        }
        size_t n = tmp.len;
        if (rc == OSR_OK && sp->prec >= 0) {
            size_t off = 0, k = 0;
            while (off < tmp.len && k < (size_t)sp->prec) {
                size_t len;
                ct_utf8_decode(tmp.data + off, tmp.len - off, &len);
                off += len;
                k++;
            }
            n = off;
        }
        if (rc == OSR_OK && pad_append(b, sp, osr_buf_str(&tmp), n, false))
            rc = ct_fail_limit(r, "string too large");
        osr_buf_release(&tmp);
        return rc;
    }
    if (t == 'c') {
        char c[8];
        size_t n = 0;
        if (v.type == V_STR && ct_utf8_len(v.u.s.p, v.u.s.n) == 1) {
            n = v.u.s.n < sizeof(c) ? v.u.s.n : 0;
            memcpy(c, v.u.s.p, n);
        } else if (v.type == V_INT && v.u.i >= 0 && v.u.i <= 0x10ffff) {
            utf8proc_uint8_t enc[4];
            n = (size_t)utf8proc_encode_char((utf8proc_int32_t)v.u.i, enc);
            memcpy(c, enc, n);
        } else {
            return ct_fail(r, POS(at), "TypeError", "%%c requires int or char");
        }
        return pad_append(b, sp, c, n, false) ? ct_fail_limit(r, "string too large") : OSR_OK;
    }
    if (!ct_is_number(v))
        return ct_fail(r, POS(at), "TypeError", "%%%c format: a real number is required, not %s", t,
                       ct_type_name(v));
    char cf[32];
    size_t k = 0;
    cf[k++] = '%';
    if (sp->plus)
        cf[k++] = '+';
    else if (sp->space)
        cf[k++] = ' ';
    if (sp->alt && t != 'o')
        cf[k++] = '#';
        /* cf is built here from a fixed set of flags and conversions, never taken from input. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    if (strchr("diuxXo", t)) {
        if (v.type == V_FLOAT && (t == 'x' || t == 'X' || t == 'o'))
            return ct_fail(r, POS(at), "TypeError",
                           "%%%c format: an integer is required, not float", t);
        double f = v.type == V_FLOAT ? v.u.f : 0;
        if (v.type == V_FLOAT && !(f > -9.2e18 && f < 9.2e18))
            return ct_fail(r, POS(at), "OverflowError", "cannot convert float to integer");
        long long x = v.type == V_FLOAT ? (long long)f : v.type == V_INT ? v.u.i : v.u.b;
        char conv = (t == 'i' || t == 'u') ? 'd' : t;
        if ((conv == 'x' || conv == 'X' || conv == 'o') && x < 0) {
            /* Python prints a sign and the magnitude */
            snprintf(cf + k, sizeof(cf) - k, "ll%c", conv);
            int n = snprintf(num, sizeof(num), "-%s", sp->alt && conv == 'o' ? "0o" : "");
            snprintf(num + n, sizeof(num) - (size_t)n, cf,
                     (unsigned long long)0 - (unsigned long long)x);
        } else {
            snprintf(cf + k, sizeof(cf) - k, "ll%c", conv);
            int n = snprintf(num, sizeof(num), "%s", sp->alt && conv == 'o' ? "0o" : "");
            snprintf(num + n, sizeof(num) - (size_t)n, cf, x);
        }
    } else if (strchr("fFeEgG%", t)) {
        double f = v.type == V_FLOAT ? v.u.f : v.type == V_INT ? (double)v.u.i : v.u.b;
        int prec = sp->prec >= 0 ? (sp->prec > 100 ? 100 : sp->prec) : 6;
        if (t == '%')
            f *= 100.0;
        snprintf(cf + k, sizeof(cf) - k, ".%d%c", prec, t == '%' ? 'f' : t);
        snprintf(num, sizeof(num), cf, f);
        if (t == '%') {
            size_t n = strlen(num);
            if (n + 1 < sizeof(num)) {
                num[n] = '%';
                num[n + 1] = '\0';
            }
        }
    } else {
        return ct_fail(r, POS(at), "ValueError", "unsupported format character '%c'", t);
    }
#pragma GCC diagnostic pop
    struct spec sp2 = *sp;
    if (sp->zero && !sp->fill && !sp->minus) {
        sp2.fill = '0';
        if (!sp2.align)
            sp2.align = '>';
    }
    return pad_append(b, &sp2, num, strlen(num), true) ? ct_fail_limit(r, "string too large")
                                                       : OSR_OK;
}

static int read_int(const char *p, size_t n, size_t *i)
{
    int v = 0;
    while (*i < n && p[*i] >= '0' && p[*i] <= '9') {
        if (v < 100000)
            v = v * 10 + (p[*i] - '0');
        (*i)++;
    }
    return v;
}

int ct_str_percent(struct ct_render *r, const struct ct_expr *at, struct ct_value fmt,
                   struct ct_value args, struct ct_value *out)
{
    const struct ct_value *items = &args;
    size_t nitems = 1, next_arg = 0;
    const struct ct_dict *map = args.type == V_DICT ? args.u.d : NULL;
    if (args.type == V_LIST && (args.flags & VF_TUPLE)) {
        items = args.u.l->v;
        nitems = args.u.l->n;
    }
    bool used_map = false;
    struct osr_buf b;
    osr_buf_init(&b, r->lim.max_output);
    const char *p = fmt.u.s.p;
    size_t n = fmt.u.s.n, i = 0;
    int rc = OSR_OK;
    while (rc == OSR_OK && i < n) {
        if (p[i] != '%') {
            size_t j = i;
            while (j < n && p[j] != '%')
                j++;
            if (osr_buf_append(&b, p + i, j - i))
                rc = ct_fail_limit(r, "string too large");
            i = j;
            continue;
        }
        i++;
        if (i < n && p[i] == '%') {
            if (osr_buf_putc(&b, '%'))
                rc = ct_fail_limit(r, "string too large");
            i++;
            continue;
        }
        struct spec sp = {.width = -1, .prec = -1};
        struct ct_value v;
        bool have = false;
        if (i < n && p[i] == '(') {
            size_t j = i + 1;
            while (j < n && p[j] != ')')
                j++;
            if (j >= n) {
                rc = ct_fail(r, POS(at), "ValueError", "incomplete format key");
                break;
            }
            if (!map) {
                rc = ct_fail(r, POS(at), "TypeError", "format requires a mapping");
                break;
            }
            char *key = osr_arena_strndup(r->arena, p + i + 1, j - i - 1);
            const struct ct_value *hit = key ? ct_dict_get_cstr(map, key) : NULL;
            if (!hit) {
                rc = ct_fail(r, POS(at), "KeyError", "'%s'", key ? key : "");
                break;
            }
            v = *hit;
            have = used_map = true;
            i = j + 1;
        }
        for (; i < n && strchr("-+ 0#", p[i]); i++) {
            sp.minus |= p[i] == '-';
            sp.plus |= p[i] == '+';
            sp.space |= p[i] == ' ';
            sp.zero |= p[i] == '0';
            sp.alt |= p[i] == '#';
        }
        if (i < n && p[i] >= '0' && p[i] <= '9')
            sp.width = read_int(p, n, &i);
        if (i < n && p[i] == '.') {
            i++;
            sp.prec = read_int(p, n, &i);
        }
        while (i < n && strchr("hlL", p[i]))
            i++;
        if (i >= n) {
            rc = ct_fail(r, POS(at), "ValueError", "incomplete format");
            break;
        }
        sp.type = p[i++];
        sp.align = sp.minus ? '<' : '>'; /* printf-style: right-aligned unless '-' */
        if (!have) {
            if (next_arg >= nitems) {
                rc = ct_fail(r, POS(at), "TypeError", "not enough arguments for format string");
                break;
            }
            v = items[next_arg++];
        }
        rc = format_one(r, at, &b, v, &sp);
    }
    if (rc == OSR_OK && !map && !used_map && next_arg < nitems)
        rc = ct_fail(r, POS(at), "TypeError",
                     "not all arguments converted during string formatting");
    if (rc == OSR_OK)
        rc = ct_buf_to_value(r, &b, 0, out);
    osr_buf_release(&b);
    return rc;
}

/* str.format(): {} {0} {name}, with .attr / [key] lookups, !s / !r and a format spec
 * [[fill]align][sign][0][width][.precision][type]. */
static int str_format(struct ct_render *r, const struct ct_expr *at, struct ct_value fmt,
                      const struct ct_fargs *a, struct ct_value *out)
{
    struct osr_buf b;
    osr_buf_init(&b, r->lim.max_output);
    const char *p = fmt.u.s.p;
    size_t n = fmt.u.s.n, i = 0, auto_idx = 0;
    int rc = OSR_OK, numbering = 0; /* 1 automatic, 2 manual */
    while (rc == OSR_OK && i < n) {
        char c = p[i];
        if ((c == '{' || c == '}') && i + 1 < n && p[i + 1] == c) {
            rc = osr_buf_putc(&b, c) ? ct_fail_limit(r, "string too large") : OSR_OK;
            i += 2;
            continue;
        }
        if (c == '}') {
            rc = ct_fail(r, POS(at), "ValueError", "Single '}' encountered in format string");
            break;
        }
        if (c != '{') {
            rc = osr_buf_putc(&b, c) ? ct_fail_limit(r, "string too large") : OSR_OK;
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < n && p[j] != '}')
            j++;
        if (j >= n) {
            rc = ct_fail(r, POS(at), "ValueError", "Single '{' encountered in format string");
            break;
        }
        const char *f = p + i + 1;
        size_t fn = j - i - 1, k = 0;
        while (k < fn && f[k] != '.' && f[k] != '[' && f[k] != '!' && f[k] != ':')
            k++;
        struct ct_value v;
        if (k == 0) {
            if (numbering == 2) {
                rc = ct_fail(r, POS(at), "ValueError",
                             "cannot switch from manual field specification to automatic field "
                             "numbering");
                break;
            }
            numbering = 1;
            if (!ct_arg(a, auto_idx, NULL, &v)) {
                rc = ct_fail(r, POS(at), "IndexError",
                             "Replacement index %zu out of range for positional args tuple",
                             auto_idx);
                break;
            }
            auto_idx++;
        } else if (f[0] >= '0' && f[0] <= '9') {
            if (numbering == 1) {
                rc = ct_fail(r, POS(at), "ValueError",
                             "cannot switch from manual field specification to automatic field "
                             "numbering");
                break;
            }
            numbering = 2;
            size_t q = 0;
            size_t idx = (size_t)read_int(f, k, &q);
            if (q != k || !ct_arg(a, idx, NULL, &v)) {
                rc = ct_fail(r, POS(at), "IndexError", "tuple index out of range");
                break;
            }
        } else {
            char *name = osr_arena_strndup(r->arena, f, k);
            if (!name || !ct_arg(a, SIZE_MAX, name, &v)) {
                rc = ct_fail(r, POS(at), "KeyError", "'%s'", name ? name : "");
                break;
            }
        }
        /* .attr and [key] parts */
        while (rc == OSR_OK && k < fn && (f[k] == '.' || f[k] == '[')) {
            bool dot = f[k] == '.';
            size_t s0 = ++k;
            while (k < fn &&
                   (dot ? (f[k] != '.' && f[k] != '[' && f[k] != '!' && f[k] != ':') : f[k] != ']'))
                k++;
            char *part = osr_arena_strndup(r->arena, f + s0, k - s0);
            if (!part) {
                rc = ct_fail_limit(r, "render memory cap reached");
                break;
            }
            if (!dot && k < fn)
                k++; /* ] */
            char *end;
            long long ix = strtoll(part, &end, 10);
            if (dot)
                rc = ct_getattr(r, at, v, part, &v);
            else if (*part && *end == '\0')
                rc = ct_getitem(r, at, v, ct_int(ix), &v);
            else
                rc = ct_getitem(r, at, v, ct_str(part, strlen(part)), &v);
        }
        if (rc)
            break;
        struct spec sp = {.width = -1, .prec = -1};
        bool repr = false;
        if (k + 1 < fn && f[k] == '!') {
            repr = f[k + 1] == 'r' || f[k + 1] == 'a';
            k += 2;
        }
        if (k < fn && f[k] == ':') {
            k++;
            if (k + 1 < fn && strchr("<>^", f[k + 1])) {
                sp.fill = f[k];
                sp.align = f[k + 1];
                k += 2;
            } else if (k < fn && strchr("<>^", f[k])) {
                sp.align = f[k++];
            }
            if (k < fn && (f[k] == '+' || f[k] == '-' || f[k] == ' ')) {
                sp.plus = f[k] == '+';
                sp.space = f[k] == ' ';
                k++;
            }
            if (k < fn && f[k] == '0') {
                sp.zero = true;
                k++;
            }
            if (k < fn && f[k] >= '0' && f[k] <= '9')
                sp.width = read_int(f, fn, &k);
            if (k < fn && f[k] == '.') {
                k++;
                sp.prec = read_int(f, fn, &k);
            }
            if (k < fn)
                sp.type = f[k++];
        }
        if (k != fn) {
            rc = ct_fail(r, POS(at), "ValueError", "Invalid format specifier");
            break;
        }
        if (repr)
            sp.type = 'r';
        else if (!sp.type)
            sp.type = ct_is_number(v) && v.type != V_BOOL ? (v.type == V_FLOAT ? 'g' : 'd') : 's';
        if (!sp.type || (sp.type == 'g' && sp.prec < 0 && v.type == V_FLOAT && !sp.width)) {
            sp.type = 's'; /* format(1.5) is str(1.5) */
        }
        if (sp.type == 'g' && v.type == V_FLOAT && sp.prec < 0)
            sp.type = 's';
        rc = format_one(r, at, &b, v, &sp);
        i = j + 1;
    }
    if (rc == OSR_OK)
        rc = ct_buf_to_value(r, &b, 0, out);
    osr_buf_release(&b);
    return rc;
}

/* ---- strftime_now ------------------------------------------------------------------------ */

static int strftime_now(struct ct_render *r, const struct ct_expr *at, const struct ct_fargs *a,
                        struct ct_value *out)
{
    struct ct_value fmt;
    int rc;
    if (!ct_arg(a, 0, "format", &fmt))
        return ct_fail(r, POS(at), "TypeError", "strftime_now() missing 1 required argument");
    if ((rc = need_str(r, at, "strftime_now", fmt)))
        return rc;
    if (fmt.u.s.n > 256)
        return ct_fail(r, POS(at), "ValueError", "strftime_now() format is too long");
    char f[260];
    memcpy(f, fmt.u.s.p, fmt.u.s.n);
    f[fmt.u.s.n] = '\0';
    if (strlen(f) != fmt.u.s.n)
        return ct_fail(r, POS(at), "ValueError", "embedded null character");
    struct tm tm;
    time_t t = r->has_fixed_time ? (time_t)r->fixed_time : time(NULL);
    if (r->has_fixed_time ? !gmtime_r(&t, &tm) : !localtime_r(&t, &tm))
        return ct_fail(r, POS(at), "OverflowError", "timestamp out of range");
    char buf[1024];
    /* The format comes from the template by design (strftime_now's whole purpose). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    size_t n = fmt.u.s.n ? strftime(buf, sizeof(buf), f, &tm) : 0;
#pragma GCC diagnostic pop
    if (n == 0 && fmt.u.s.n > 0)
        return ct_fail(r, POS(at), "ValueError", "strftime_now() result is too long or empty");
    return ct_new_str(r, buf, n, out);
}

/* ---- calls ------------------------------------------------------------------------------- */

int ct_call_func(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                 const struct ct_func *fn, struct ct_value *pos, size_t npos, const char **kwn,
                 struct ct_value *kwv, size_t nkw, struct ct_value *out)
{
    const struct ct_fargs A = {pos, npos, kwn, kwv, nkw};
    const struct ct_fargs *a = &A;
    struct ct_value self = fn->self, x, y;
    int rc;
    (void)s;
    switch ((enum fid)fn->id) {
    case F_STR_STRIP:
    case F_STR_LSTRIP:
    case F_STR_RSTRIP: {
        bool has = ct_arg(a, 0, "chars", &x) && x.type != V_NONE;
        if (has && (rc = need_str(r, at, fn->name, x)))
            return rc;
        return ct_str_strip(r, self, has ? &x : NULL, fn->id != F_STR_RSTRIP,
                            fn->id != F_STR_LSTRIP, out);
    }
    case F_STR_SPLIT:
        return str_split(r, at, self, a, out);
    case F_STR_STARTSWITH:
    case F_STR_ENDSWITH:
        return str_affix(r, at, self, a, fn->id == F_STR_STARTSWITH, out);
    case F_STR_LOWER:
        return ct_str_case(r, self, CASE_LOWER, out);
    case F_STR_UPPER:
        return ct_str_case(r, self, CASE_UPPER, out);
    case F_STR_TITLE:
        return ct_str_case(r, self, CASE_TITLE_METHOD, out);
    case F_STR_CAPITALIZE:
        return ct_str_case(r, self, CASE_CAPITALIZE, out);
    case F_STR_REPLACE: {
        struct ct_value c = ct_int(-1);
        if (!ct_arg(a, 0, "old", &x) || !ct_arg(a, 1, "new", &y))
            return ct_fail(r, POS(at), "TypeError", "replace() takes at least 2 arguments");
        ct_arg(a, 2, "count", &c);
        if ((rc = need_str(r, at, "replace", x)) || (rc = need_str(r, at, "replace", y)))
            return rc;
        return ct_str_replace(r, self, x, y, c.type == V_INT ? c.u.i : -1, out);
    }
    case F_STR_JOIN:
        return str_join(r, at, self, a, out);
    case F_STR_FIND:
    case F_STR_COUNT: {
        if (!ct_arg(a, 0, NULL, &x))
            return ct_fail(r, POS(at), "TypeError", "%s() takes at least 1 argument", fn->name);
        if ((rc = need_str(r, at, fn->name, x)))
            return rc;
        if (fn->id == F_STR_FIND) {
            const char *hit =
                x.u.s.n ? memmem(self.u.s.p, self.u.s.n, x.u.s.p, x.u.s.n) : self.u.s.p;
            *out = ct_int(hit ? (int64_t)ct_utf8_len(self.u.s.p, (size_t)(hit - self.u.s.p)) : -1);
            return OSR_OK;
        }
        if (x.u.s.n == 0) {
            *out = ct_int((int64_t)ct_utf8_len(self.u.s.p, self.u.s.n) + 1);
            return OSR_OK;
        }
        int64_t count = 0;
        size_t i = 0;
        const char *hit;
        while ((hit = memmem(self.u.s.p + i, self.u.s.n - i, x.u.s.p, x.u.s.n)) != NULL) {
            count++;
            i = (size_t)(hit - self.u.s.p) + x.u.s.n;
        }
        *out = ct_int(count);
        return OSR_OK;
    }
    case F_STR_SPLITLINES:
        return str_splitlines(r, self, out);
    case F_STR_ISDIGIT:
    case F_STR_ISSPACE: {
        bool ok = self.u.s.n > 0;
        for (size_t i = 0; i < self.u.s.n && ok;) {
            size_t len;
            uint32_t cp = ct_utf8_decode(self.u.s.p + i, self.u.s.n - i, &len);
            ok = fn->id == F_STR_ISDIGIT ? (cp >= '0' && cp <= '9') : ct_py_isspace(cp);
            i += len;
        }
        *out = ct_bool(ok);
        return OSR_OK;
    }
    case F_STR_FORMAT:
        return str_format(r, at, self, a, out);
    case F_DICT_ITEMS:
    case F_DICT_KEYS:
    case F_DICT_VALUES: {
        const struct ct_dict *d = self.u.d;
        struct ct_list *l = ct_list_new(r, d->n);
        if (!l)
            return ct_fail_limit(r, "render memory cap reached");
        for (size_t i = 0; i < d->n; i++) {
            if (fn->id == F_DICT_ITEMS) {
                if ((rc = tuple2(r, d->keys[i], d->vals[i], &l->v[i])))
                    return rc;
            } else {
                l->v[i] = fn->id == F_DICT_KEYS ? d->keys[i] : d->vals[i];
            }
        }
        l->n = d->n;
        return list_value(r, l, 0, out);
    }
    case F_DICT_GET: {
        if (!ct_arg(a, 0, NULL, &x))
            return ct_fail(r, POS(at), "TypeError", "get expected at least 1 argument, got 0");
        struct ct_value *v = ct_dict_get(self.u.d, x);
        if (v)
            *out = *v;
        else if (!ct_arg(a, 1, NULL, out))
            *out = ct_none();
        return OSR_OK;
    }
    case F_LIST_INDEX:
    case F_LIST_COUNT: {
        if (!ct_arg(a, 0, NULL, &x))
            return ct_fail(r, POS(at), "TypeError", "%s() takes exactly one argument (0 given)",
                           fn->name);
        int64_t count = 0;
        for (size_t i = 0; i < self.u.l->n; i++) {
            if (!ct_equal(self.u.l->v[i], x))
                continue;
            if (fn->id == F_LIST_INDEX) {
                *out = ct_int((int64_t)i);
                return OSR_OK;
            }
            count++;
        }
        if (fn->id == F_LIST_INDEX)
            return ct_fail(r, POS(at), "ValueError", "value is not in list");
        *out = ct_int(count);
        return OSR_OK;
    }
    case F_LOOP_CYCLE:
        if (npos == 0)
            return ct_fail(r, POS(at), "TypeError", "no items for cycling given");
        *out = pos[self.u.loop->i % npos];
        return OSR_OK;
    case F_G_RANGE: {
        int64_t v[3] = {0, 0, 1};
        if (npos < 1 || npos > 3)
            return ct_fail(r, POS(at), "TypeError", "range expected 1 to 3 arguments, got %zu",
                           npos);
        for (size_t i = 0; i < npos; i++) {
            if (pos[i].type != V_INT && pos[i].type != V_BOOL)
                return ct_fail(r, POS(at), "TypeError",
                               "'%s' object cannot be interpreted as an integer",
                               ct_type_name(pos[i]));
            v[npos == 1 ? 1 : i] = pos[i].type == V_INT ? pos[i].u.i : pos[i].u.b;
        }
        if (v[2] == 0)
            return ct_fail(r, POS(at), "ValueError", "range() arg 3 must not be zero");
        double cnt = v[2] > 0 ? ((double)v[1] - (double)v[0]) / (double)v[2]
                              : ((double)v[0] - (double)v[1]) / (double)-v[2];
        if (cnt > MAX_RANGE)
            return ct_fail(
                r, POS(at), "OverflowError",
                "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
        struct ct_list *l = ct_list_new(r, 0);
        if (!l)
            return ct_fail_limit(r, "render memory cap reached");
        for (int64_t i = v[0]; v[2] > 0 ? i < v[1] : i > v[1]; i += v[2])
            if ((rc = ct_list_push(r, l, ct_int(i))))
                return rc;
        return list_value(r, l, 0, out);
    }
    case F_G_NAMESPACE:
    case F_G_DICT: {
        struct ct_dict *d = ct_dict_new(r, nkw);
        if (!d)
            return ct_fail_limit(r, "render memory cap reached");
        if (npos > 1)
            return ct_fail(r, POS(at), "TypeError", "%s expected at most 1 argument, got %zu",
                           fn->name, npos);
        if (npos == 1) {
            if (pos[0].type != V_DICT)
                return ct_fail(r, POS(at), "TypeError", "%s() argument must be a mapping",
                               fn->name);
            for (size_t i = 0; i < pos[0].u.d->n; i++)
                if ((rc = ct_dict_set(r, d, pos[0].u.d->keys[i], pos[0].u.d->vals[i])))
                    return rc;
        }
        for (size_t i = 0; i < nkw; i++)
            if ((rc = ct_dict_set(r, d, ct_str(kwn[i], strlen(kwn[i])), kwv[i])))
                return rc;
        *out = (struct ct_value){.type = fn->id == F_G_NAMESPACE ? V_NS : V_DICT};
        out->u.d = d;
        return OSR_OK;
    }
    case F_G_RAISE: {
        struct ct_value msg = ct_str("", 0), sm;
        ct_arg(a, 0, "message", &msg);
        if ((rc = ct_to_str(r, msg, &sm)))
            return rc;
        return ct_fail(r, POS(at), "TemplateError", "%.*s", (int)sm.u.s.n, sm.u.s.p);
    }
    case F_G_STRFTIME:
        return strftime_now(r, at, a, out);
    }
    return ct_fail(r, POS(at), "TypeError", "'%s' is not callable", fn->name);
}
