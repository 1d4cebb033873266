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
