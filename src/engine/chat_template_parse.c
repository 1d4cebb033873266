/* chat_template_parse.c - builds the syntax tree from tokens, following Jinja2's grammar.
 *
 * Expression precedence, loosest first: conditional (a if c else b), or, and, not,
 * comparisons (== != < <= > >= in, not in; chained as in Python), + and -, ~, * / // %, **,
 * unary - and +, then primaries with postfix .attr, [index or slice] and (call), followed by
 * |filter, "is" tests and calls at the same level.  Statements: if/elif/else, for (with a
 * filter condition, else and loop controls), set (expression or block form, namespace
 * attributes), macro, call, filter, with.  extends/include/import/block are refused: a chat
 * template is one self-contained file.  Every node records its line and column.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "chat_template_int.h"

#define PARSE_MAX_DEPTH 100

struct parser {
    struct osr_arena *a;
    const struct ct_token *t;
    size_t n, pos;
    int depth;      /* expression and statement nesting */
    int loop_depth; /* for break/continue */
    struct osr_chat_template_error *err;
};

static const struct ct_token *cur(struct parser *P)
{
    return &P->t[P->pos];
}

static const struct ct_token *peek(struct parser *P, size_t k)
{
    size_t i = P->pos + k;
    return i < P->n ? &P->t[i] : &P->t[P->n - 1];
}

static void next(struct parser *P)
{
    if (P->pos + 1 < P->n)
        P->pos++;
}

static const char *tok_desc(const struct ct_token *t)
{
    switch (t->type) {
    case T_EOF:
        return "end of template";
    case T_TEXT:
        return "template data";
    case T_VAR_BEGIN:
        return "begin of print statement";
    case T_VAR_END:
        return "end of print statement";
    case T_BLOCK_BEGIN:
        return "begin of statement block";
    case T_BLOCK_END:
        return "end of statement block";
    case T_NAME:
        return t->s;
    case T_STRING:
        return "string";
    case T_INT:
        return "integer";
    case T_FLOAT:
        return "float";
    default:
        return "operator";
    }
}

static int pfail_at(struct parser *P, const struct ct_token *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int pfail(struct parser *P, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int pfail_at(struct parser *P, const struct ct_token *t, const char *fmt, ...)
{
    if (P->err && P->err->kind[0] == '\0') {
        snprintf(P->err->kind, sizeof(P->err->kind), "TemplateSyntaxError");
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(P->err->msg, sizeof(P->err->msg), fmt, ap);
        va_end(ap);
        P->err->line = t->line;
        P->err->col = t->col;
    }
    return OSR_EINVAL;
}

static int pfail(struct parser *P, const char *fmt, ...)
{
    if (P->err && P->err->kind[0] == '\0') {
        snprintf(P->err->kind, sizeof(P->err->kind), "TemplateSyntaxError");
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(P->err->msg, sizeof(P->err->msg), fmt, ap);
        va_end(ap);
        P->err->line = cur(P)->line;
        P->err->col = cur(P)->col;
    }
    return OSR_EINVAL;
}

static void *pnew(struct parser *P, size_t size)
{
    return osr_arena_calloc(P->a, 1, size);
}

static bool is_name(struct parser *P, const char *name)
{
    return cur(P)->type == T_NAME && strcmp(cur(P)->s, name) == 0;
}

static bool skip_name(struct parser *P, const char *name)
{
    if (!is_name(P, name))
        return false;
    next(P);
    return true;
}

static int expect(struct parser *P, enum ct_tok type, const char *what)
{
    if (cur(P)->type != type)
        return pfail(P, "expected %s", what);
    next(P);
    return OSR_OK;
}

static struct ct_expr *new_expr(struct parser *P, enum ct_ekind kind, const struct ct_token *at)
{
    struct ct_expr *e = pnew(P, sizeof(*e));
    if (e) {
        e->kind = kind;
        e->line = at->line;
        e->col = at->col;
    }
    return e;
}

/* A growable pointer array in the arena while parsing. */
struct vec {
    void **v;
    size_t n, cap;
};

static int vec_push(struct parser *P, struct vec *v, void *p)
{
    if (v->n == v->cap) {
        size_t ncap = v->cap ? v->cap * 2 : 4;
        void **nv = osr_arena_calloc(P->a, ncap, sizeof(*nv));
        if (!nv)
            return pfail(P, "%s", "template too large");
        if (v->n)
            memcpy(nv, v->v, v->n * sizeof(*nv));
        v->v = nv;
        v->cap = ncap;
    }
    v->v[v->n++] = p;
    return OSR_OK;
}

static int parse_expression(struct parser *P, bool with_condexpr, struct ct_expr **out);
static int parse_or(struct parser *P, struct ct_expr **out);
static int parse_unary(struct parser *P, bool with_filter, struct ct_expr **out);
static int parse_primary(struct parser *P, struct ct_expr **out);
static int parse_postfix(struct parser *P, struct ct_expr **node);
static int parse_filter_expr(struct parser *P, struct ct_expr **node);
static int parse_filter(struct parser *P, struct ct_expr **node, bool start_inline);

#define ENTER()                                                                                    \
    do {                                                                                           \
        if (++P->depth > PARSE_MAX_DEPTH)                                                          \
            return pfail(P, "%s", "expression nested too deeply");                                 \
    } while (0)
#define LEAVE() (P->depth--)

static bool tuple_end(struct parser *P, const char *extra_end)
{
    enum ct_tok t = cur(P)->type;
    if (t == T_VAR_END || t == T_BLOCK_END || t == T_RPAREN || t == T_EOF)
        return true;
    return extra_end && is_name(P, extra_end);
}

/* expr, expr, ... -> a tuple, or the single expression without a trailing comma. */
static int parse_tuple(struct parser *P, bool with_condexpr, const char *extra_end,
                       bool explicit_parens, struct ct_expr **out)
{
    const struct ct_token *start = cur(P);
    struct vec items = {0};
    bool is_tuple = false;
    for (;;) {
        if (items.n && expect(P, T_COMMA, "','"))
            return OSR_EINVAL;
        if (tuple_end(P, extra_end))
            break;
        struct ct_expr *e = NULL;
        int rc = with_condexpr ? parse_expression(P, true, &e) : parse_or(P, &e);
        if (rc)
            return rc;
        if (vec_push(P, &items, e))
            return OSR_EINVAL;
        if (cur(P)->type == T_COMMA)
            is_tuple = true;
        else
            break;
    }
    if (!is_tuple) {
        if (items.n) {
            *out = items.v[0];
            return OSR_OK;
        }
        if (!explicit_parens)
            return pfail(P, "Expected an expression, got '%s'", tok_desc(cur(P)));
    }
    struct ct_expr *t = new_expr(P, E_TUPLE, start);
    if (!t)
        return pfail(P, "%s", "template too large");
    t->items = (struct ct_expr **)items.v;
    t->nitems = items.n;
    *out = t;
    return OSR_OK;
}

static int parse_call_args(struct parser *P, struct ct_args *args)
{
    if (expect(P, T_LPAREN, "'('"))
        return OSR_EINVAL;
    struct vec pos = {0}, kwn = {0}, kwv = {0};
    bool need_comma = false;
    while (cur(P)->type != T_RPAREN) {
        if (need_comma) {
            if (expect(P, T_COMMA, "','"))
                return OSR_EINVAL;
            if (cur(P)->type == T_RPAREN)
                break;
        }
        struct ct_expr *e = NULL;
        if (cur(P)->type == T_MUL || cur(P)->type == T_POW) {
            bool dstar = cur(P)->type == T_POW;
            if (args->star || args->dstar)
                return pfail(P, "%s", "invalid syntax for function call expression");
            next(P);
            if (parse_expression(P, true, &e))
                return OSR_EINVAL;
            if (dstar)
                args->dstar = e;
            else
                args->star = e;
        } else if (cur(P)->type == T_NAME && peek(P, 1)->type == T_ASSIGN) {
            if (args->dstar)
                return pfail(P, "%s", "invalid syntax for function call expression");
            const char *key = cur(P)->s;
            next(P);
            next(P);
            if (parse_expression(P, true, &e))
                return OSR_EINVAL;
            if (vec_push(P, &kwn, (void *)key) || vec_push(P, &kwv, e))
                return OSR_EINVAL;
        } else {
            if (args->star || args->dstar || kwn.n)
                return pfail(P, "%s", "invalid syntax for function call expression");
            if (parse_expression(P, true, &e))
                return OSR_EINVAL;
            if (vec_push(P, &pos, e))
                return OSR_EINVAL;
        }
        need_comma = true;
    }
    if (expect(P, T_RPAREN, "')'"))
        return OSR_EINVAL;
    args->pos = (struct ct_expr **)pos.v;
    args->npos = pos.n;
    args->kwname = (const char **)kwn.v;
    args->kwval = (struct ct_expr **)kwv.v;
    args->nkw = kwn.n;
    return OSR_OK;
}

/* A dotted name (filters and tests may be "a.b"). */
static int parse_dotted_name(struct parser *P, const char **out)
{
    if (cur(P)->type != T_NAME)
        return pfail(P, "%s", "expected a filter or test name");
    const char *name = cur(P)->s;
    next(P);
    while (cur(P)->type == T_DOT && peek(P, 1)->type == T_NAME) {
        next(P);
        char *joined = osr_arena_printf(P->a, "%s.%s", name, cur(P)->s);
        if (!joined)
            return pfail(P, "%s", "template too large");
        name = joined;
        next(P);
    }
    *out = name;
    return OSR_OK;
}

static int parse_filter(struct parser *P, struct ct_expr **node, bool start_inline)
{
    while (cur(P)->type == T_PIPE || start_inline) {
        if (!start_inline)
            next(P);
        const struct ct_token *at = cur(P);
        struct ct_expr *f = new_expr(P, E_FILTER, at);
        if (!f)
            return pfail(P, "%s", "template too large");
        if (parse_dotted_name(P, &f->name))
            return OSR_EINVAL;
        if (cur(P)->type == T_LPAREN && parse_call_args(P, &f->args))
            return OSR_EINVAL;
        f->a = *node;
        *node = f;
        start_inline = false;
    }
    return OSR_OK;
}

static int parse_test(struct parser *P, struct ct_expr **node)
{
    const struct ct_token *at = cur(P);
    next(P); /* is */
    bool negated = skip_name(P, "not");
    struct ct_expr *t = new_expr(P, E_TEST, at);
    if (!t)
        return pfail(P, "%s", "template too large");
    if (parse_dotted_name(P, &t->name))
        return OSR_EINVAL;
    enum ct_tok ty = cur(P)->type;
    if (ty == T_LPAREN) {
        if (parse_call_args(P, &t->args))
            return OSR_EINVAL;
    } else if ((ty == T_NAME || ty == T_STRING || ty == T_INT || ty == T_FLOAT ||
                ty == T_LBRACKET || ty == T_LBRACE) &&
               !is_name(P, "else") && !is_name(P, "or") && !is_name(P, "and")) {
        if (is_name(P, "is"))
            return pfail(P, "%s", "You cannot chain multiple tests with is");
        struct ct_expr *arg;
        if (parse_primary(P, &arg) || parse_postfix(P, &arg))
            return OSR_EINVAL;
        t->args.pos = pnew(P, sizeof(*t->args.pos));
        if (!t->args.pos)
            return pfail(P, "%s", "template too large");
        t->args.pos[0] = arg;
        t->args.npos = 1;
    }
    t->a = *node;
    t->negated = negated;
    *node = t;
    return OSR_OK;
}

static int parse_subscribed(struct parser *P, struct ct_expr **out)
{
    const struct ct_token *at = cur(P);
    struct ct_expr *parts[3] = {NULL, NULL, NULL};
    if (cur(P)->type == T_COLON) {
        next(P);
    } else {
        struct ct_expr *e = NULL;
        if (parse_expression(P, true, &e))
            return OSR_EINVAL;
        if (cur(P)->type != T_COLON) {
            *out = e;
            return OSR_OK;
        }
        next(P);
        parts[0] = e;
    }
    if (cur(P)->type != T_COLON && cur(P)->type != T_RBRACKET && cur(P)->type != T_COMMA) {
        if (parse_expression(P, true, &parts[1]))
            return OSR_EINVAL;
    }
    if (cur(P)->type == T_COLON) {
        next(P);
        if (cur(P)->type != T_RBRACKET && cur(P)->type != T_COMMA &&
            parse_expression(P, true, &parts[2]))
            return OSR_EINVAL;
    }
    struct ct_expr *s = new_expr(P, E_SLICE, at);
    if (!s)
        return pfail(P, "%s", "template too large");
    s->a = parts[0];
    s->b = parts[1];
    s->c = parts[2];
    *out = s;
    return OSR_OK;
}

static int parse_subscript(struct parser *P, struct ct_expr **node)
{
    const struct ct_token *at = cur(P);
    if (at->type == T_DOT) {
        next(P);
        const struct ct_token *nt = cur(P);
        if (nt->type == T_NAME) {
            struct ct_expr *g = new_expr(P, E_GETATTR, at);
            if (!g)
                return pfail(P, "%s", "template too large");
            g->a = *node;
            g->name = nt->s;
            next(P);
            *node = g;
            return OSR_OK;
        }
        if (nt->type == T_INT) {
            struct ct_expr *g = new_expr(P, E_GETITEM, at);
            struct ct_expr *k = new_expr(P, E_CONST, nt);
            if (!g || !k)
                return pfail(P, "%s", "template too large");
            k->cval = ct_int(nt->i);
            g->a = *node;
            g->b = k;
            next(P);
            *node = g;
            return OSR_OK;
        }
        return pfail(P, "%s", "expected name or number");
    }
    next(P); /* [ */
    struct vec args = {0};
    while (cur(P)->type != T_RBRACKET) {
        if (args.n && expect(P, T_COMMA, "','"))
            return OSR_EINVAL;
        if (cur(P)->type == T_RBRACKET)
            break;
        struct ct_expr *e = NULL;
        if (parse_subscribed(P, &e) || vec_push(P, &args, e))
            return OSR_EINVAL;
    }
    if (expect(P, T_RBRACKET, "']'"))
        return OSR_EINVAL;
    if (args.n == 0)
        return pfail_at(P, at, "%s", "expected an index");
    struct ct_expr *idx = args.v[0];
    if (args.n > 1) {
        idx = new_expr(P, E_TUPLE, at);
        if (!idx)
            return pfail(P, "%s", "template too large");
        idx->items = (struct ct_expr **)args.v;
        idx->nitems = args.n;
    }
    struct ct_expr *g = new_expr(P, E_GETITEM, at);
    if (!g)
        return pfail(P, "%s", "template too large");
    g->a = *node;
    g->b = idx;
    *node = g;
    return OSR_OK;
}

static int parse_call(struct parser *P, struct ct_expr **node)
{
    struct ct_expr *c = new_expr(P, E_CALL, cur(P));
    if (!c)
        return pfail(P, "%s", "template too large");
    if (parse_call_args(P, &c->args))
        return OSR_EINVAL;
    c->a = *node;
    c->line = (*node)->line; /* errors point at what is called, not at its "(" */
    c->col = (*node)->col;
    *node = c;
    return OSR_OK;
}

static int parse_postfix(struct parser *P, struct ct_expr **node)
{
    for (;;) {
        enum ct_tok t = cur(P)->type;
        int rc;
        if (t == T_DOT || t == T_LBRACKET)
            rc = parse_subscript(P, node);
        else if (t == T_LPAREN)
            rc = parse_call(P, node);
        else
            return OSR_OK;
        if (rc)
            return rc;
    }
}

static int parse_filter_expr(struct parser *P, struct ct_expr **node)
{
    for (;;) {
        int rc;
        if (cur(P)->type == T_PIPE)
            rc = parse_filter(P, node, false);
        else if (is_name(P, "is"))
            rc = parse_test(P, node);
        else if (cur(P)->type == T_LPAREN)
            rc = parse_call(P, node);
        else
            return OSR_OK;
        if (rc)
            return rc;
    }
}

static int parse_primary(struct parser *P, struct ct_expr **out)
{
    ENTER();
    const struct ct_token *t = cur(P);
    struct ct_expr *e = NULL;
    int rc = OSR_OK;
    switch (t->type) {
    case T_NAME: {
        static const char *const consts[] = {"true", "false", "none", "True", "False", "None"};
        int which = -1;
        for (int k = 0; k < 6; k++)
            if (strcmp(t->s, consts[k]) == 0)
                which = k;
        e = new_expr(P, which >= 0 ? E_CONST : E_NAME, t);
        if (!e)
            return pfail(P, "%s", "template too large");
        if (which >= 0)
            e->cval = (which % 3 == 2) ? ct_none() : ct_bool(which % 3 == 0);
        else
            e->name = t->s;
        next(P);
        break;
    }
    case T_STRING: {
        /* Adjacent string literals concatenate. */
        size_t total = 0, k = 0;
        while (peek(P, k)->type == T_STRING)
            total += peek(P, k++)->n;
        char *s = osr_arena_alloc(P->a, total + 1);
        e = new_expr(P, E_CONST, t);
        if (!s || !e)
            return pfail(P, "%s", "template too large");
        size_t o = 0;
        while (cur(P)->type == T_STRING) {
            memcpy(s + o, cur(P)->s, cur(P)->n);
            o += cur(P)->n;
            next(P);
        }
        s[o] = '\0';
        e->cval = ct_str(s, o);
        break;
    }
    case T_INT:
    case T_FLOAT:
        e = new_expr(P, E_CONST, t);
        if (!e)
            return pfail(P, "%s", "template too large");
        e->cval = t->type == T_INT ? ct_int(t->i) : ct_float(t->f);
        next(P);
        break;
    case T_LPAREN:
        next(P);
        rc = parse_tuple(P, true, NULL, true, &e);
        if (rc == OSR_OK)
            rc = expect(P, T_RPAREN, "')'");
        break;
    case T_LBRACKET: {
        next(P);
        struct vec items = {0};
        while (cur(P)->type != T_RBRACKET) {
            if (items.n && expect(P, T_COMMA, "','"))
                return OSR_EINVAL;
            if (cur(P)->type == T_RBRACKET)
                break;
            struct ct_expr *x = NULL;
            if (parse_expression(P, true, &x) || vec_push(P, &items, x))
                return OSR_EINVAL;
        }
        if (expect(P, T_RBRACKET, "']'"))
            return OSR_EINVAL;
        e = new_expr(P, E_LIST, t);
        if (!e)
            return pfail(P, "%s", "template too large");
        e->items = (struct ct_expr **)items.v;
        e->nitems = items.n;
        break;
    }
    case T_LBRACE: {
        next(P);
        struct vec keys = {0}, vals = {0};
        while (cur(P)->type != T_RBRACE) {
            if (keys.n && expect(P, T_COMMA, "','"))
                return OSR_EINVAL;
            if (cur(P)->type == T_RBRACE)
                break;
            struct ct_expr *k = NULL, *v = NULL;
            if (parse_expression(P, true, &k) || expect(P, T_COLON, "':'") ||
                parse_expression(P, true, &v) || vec_push(P, &keys, k) || vec_push(P, &vals, v))
                return OSR_EINVAL;
        }
        if (expect(P, T_RBRACE, "'}'"))
            return OSR_EINVAL;
        e = new_expr(P, E_DICT, t);
        if (!e)
            return pfail(P, "%s", "template too large");
        e->items = (struct ct_expr **)keys.v;
        e->vals = (struct ct_expr **)vals.v;
        e->nitems = keys.n;
        break;
    }
    default:
        return pfail(P, "unexpected '%s'", tok_desc(t));
    }
    LEAVE();
    *out = e;
    return rc;
}

static int parse_unary(struct parser *P, bool with_filter, struct ct_expr **out)
{
    ENTER();
    const struct ct_token *t = cur(P);
    struct ct_expr *node;
    int rc;
    if (t->type == T_SUB || t->type == T_ADD) {
        next(P);
        struct ct_expr *operand;
        if ((rc = parse_unary(P, false, &operand)))
            return rc;
        node = new_expr(P, t->type == T_SUB ? E_NEG : E_POS, t);
        if (!node)
            return pfail(P, "%s", "template too large");
        node->a = operand;
    } else if ((rc = parse_primary(P, &node))) {
        return rc;
    }
    if ((rc = parse_postfix(P, &node)))
        return rc;
    if (with_filter && (rc = parse_filter_expr(P, &node)))
        return rc;
    LEAVE();
    *out = node;
    return OSR_OK;
}

static int binop(struct parser *P, const struct ct_token *at, enum ct_tok op, struct ct_expr *l,
                 struct ct_expr *r, struct ct_expr **out)
{
    struct ct_expr *e = new_expr(P, E_BINOP, at);
    if (!e)
        return pfail(P, "%s", "template too large");
    e->op = op;
    e->a = l;
    e->b = r;
    *out = e;
    return OSR_OK;
}

static int parse_pow(struct parser *P, struct ct_expr **out)
{
    struct ct_expr *left, *right;
    if (parse_unary(P, true, &left))
        return OSR_EINVAL;
    while (cur(P)->type == T_POW) {
        const struct ct_token *at = cur(P);
        next(P);
        if (parse_unary(P, true, &right) || binop(P, at, T_POW, left, right, &left))
            return OSR_EINVAL;
    }
    *out = left;
    return OSR_OK;
}

static int parse_math2(struct parser *P, struct ct_expr **out)
{
    struct ct_expr *left, *right;
    if (parse_pow(P, &left))
        return OSR_EINVAL;
    for (;;) {
        enum ct_tok t = cur(P)->type;
        if (t != T_MUL && t != T_DIV && t != T_FLOORDIV && t != T_MOD)
            break;
        const struct ct_token *at = cur(P);
        next(P);
        if (parse_pow(P, &right) || binop(P, at, t, left, right, &left))
            return OSR_EINVAL;
    }
    *out = left;
    return OSR_OK;
}

static int parse_concat(struct parser *P, struct ct_expr **out)
{
    const struct ct_token *at = cur(P);
    struct ct_expr *first;
    if (parse_math2(P, &first))
        return OSR_EINVAL;
    if (cur(P)->type != T_TILDE) {
        *out = first;
        return OSR_OK;
    }
    struct vec items = {0};
    if (vec_push(P, &items, first))
        return OSR_EINVAL;
    while (cur(P)->type == T_TILDE) {
        next(P);
        struct ct_expr *e = NULL;
        if (parse_math2(P, &e) || vec_push(P, &items, e))
            return OSR_EINVAL;
    }
    struct ct_expr *c = new_expr(P, E_CONCAT, at);
    if (!c)
        return pfail(P, "%s", "template too large");
    c->items = (struct ct_expr **)items.v;
    c->nitems = items.n;
    *out = c;
    return OSR_OK;
}

static int parse_math1(struct parser *P, struct ct_expr **out)
{
    struct ct_expr *left, *right;
    if (parse_concat(P, &left))
        return OSR_EINVAL;
    while (cur(P)->type == T_ADD || cur(P)->type == T_SUB) {
        const struct ct_token *at = cur(P);
        enum ct_tok t = at->type;
        next(P);
        if (parse_concat(P, &right) || binop(P, at, t, left, right, &left))
            return OSR_EINVAL;
    }
    *out = left;
    return OSR_OK;
}

static int parse_compare(struct parser *P, struct ct_expr **out)
{
    const struct ct_token *at = cur(P);
    struct ct_expr *first;
    if (parse_math1(P, &first))
        return OSR_EINVAL;
    struct vec operands = {0};
    enum ct_tok ops[64];
    size_t nops = 0;
    for (;;) {
        enum ct_tok t = cur(P)->type;
        enum ct_tok op;
        if (t == T_EQ || t == T_NE || t == T_LT || t == T_LTEQ || t == T_GT || t == T_GTEQ) {
            op = t;
            next(P);
        } else if (is_name(P, "in")) {
            op = (enum ct_tok)CT_OP_IN;
            next(P);
        } else if (is_name(P, "not") && peek(P, 1)->type == T_NAME &&
                   strcmp(peek(P, 1)->s, "in") == 0) {
            op = (enum ct_tok)CT_OP_NOTIN;
            next(P);
            next(P);
        } else {
            break;
        }
        if (nops == 64)
            return pfail(P, "%s", "too many chained comparisons");
        struct ct_expr *e = NULL;
        if (parse_math1(P, &e) || vec_push(P, &operands, e))
            return OSR_EINVAL;
        ops[nops++] = op;
    }
    if (nops == 0) {
        *out = first;
        return OSR_OK;
    }
    struct ct_expr *c = new_expr(P, E_COMPARE, at);
    if (!c)
        return pfail(P, "%s", "template too large");
    c->a = first;
    c->items = (struct ct_expr **)operands.v;
    c->nitems = nops;
    c->ops = osr_arena_alloc(P->a, nops * sizeof(*c->ops));
    if (!c->ops)
        return pfail(P, "%s", "template too large");
    memcpy(c->ops, ops, nops * sizeof(*ops));
    *out = c;
    return OSR_OK;
}

static int parse_not(struct parser *P, struct ct_expr **out)
{
    if (is_name(P, "not")) {
        ENTER();
        const struct ct_token *at = cur(P);
        next(P);
        struct ct_expr *operand;
        if (parse_not(P, &operand))
            return OSR_EINVAL;
        struct ct_expr *e = new_expr(P, E_NOT, at);
        if (!e)
            return pfail(P, "%s", "template too large");
        e->a = operand;
        *out = e;
        LEAVE();
        return OSR_OK;
    }
    return parse_compare(P, out);
}

static int parse_and(struct parser *P, struct ct_expr **out)
{
    struct ct_expr *left, *right;
    if (parse_not(P, &left))
        return OSR_EINVAL;
    while (is_name(P, "and")) {
        const struct ct_token *at = cur(P);
        next(P);
        if (parse_not(P, &right))
            return OSR_EINVAL;
        struct ct_expr *e = new_expr(P, E_AND, at);
        if (!e)
            return pfail(P, "%s", "template too large");
        e->a = left;
        e->b = right;
        left = e;
    }
    *out = left;
    return OSR_OK;
}

static int parse_or(struct parser *P, struct ct_expr **out)
{
    struct ct_expr *left, *right;
    if (parse_and(P, &left))
        return OSR_EINVAL;
    while (is_name(P, "or")) {
        const struct ct_token *at = cur(P);
        next(P);
        if (parse_and(P, &right))
            return OSR_EINVAL;
        struct ct_expr *e = new_expr(P, E_OR, at);
        if (!e)
            return pfail(P, "%s", "template too large");
        e->a = left;
        e->b = right;
        left = e;
    }
    *out = left;
    return OSR_OK;
}

static int parse_expression(struct parser *P, bool with_condexpr, struct ct_expr **out)
{
    ENTER();
    struct ct_expr *e = NULL;
    if (parse_or(P, &e))
        return OSR_EINVAL;
    while (with_condexpr && is_name(P, "if")) {
        const struct ct_token *at = cur(P);
        next(P);
        struct ct_expr *test, *other = NULL;
        if (parse_or(P, &test))
            return OSR_EINVAL;
        if (skip_name(P, "else") && parse_expression(P, true, &other))
            return OSR_EINVAL;
        struct ct_expr *c = new_expr(P, E_COND, at);
        if (!c)
            return pfail(P, "%s", "template too large");
        c->a = test;
        c->b = e;
        c->c = other;
        e = c;
    }
    LEAVE();
    *out = e;
    return OSR_OK;
}

/* ---- statements -------------------------------------------------------------------------- */

static int subparse(struct parser *P, const char *const *end, struct ct_body *body);

/* name | name, name, ... | (name, ...) ; with_ns also accepts name.attr */
static int parse_assign_target(struct parser *P, bool with_ns, struct ct_target *out)
{
    memset(out, 0, sizeof(*out));
    if (with_ns && cur(P)->type == T_NAME && peek(P, 1)->type == T_DOT &&
        peek(P, 2)->type == T_NAME) {
        out->name = cur(P)->s;
        out->attr = peek(P, 2)->s;
        next(P);
        next(P);
        next(P);
        return OSR_OK;
    }
    bool paren = false;
    if (cur(P)->type == T_LPAREN) {
        paren = true;
        next(P);
    }
    struct ct_target items[32];
    size_t n = 0;
    bool tuple = paren;
    for (;;) {
        if (cur(P)->type != T_NAME)
            return pfail(P, "%s", "can't assign to this expression");
        if (n == 32)
            return pfail(P, "%s", "too many assignment targets");
        memset(&items[n], 0, sizeof(items[n]));
        items[n++].name = cur(P)->s;
        next(P);
        if (cur(P)->type != T_COMMA)
            break;
        tuple = true;
        next(P);
        if (paren && cur(P)->type == T_RPAREN)
            break;
        if (!paren && cur(P)->type != T_NAME)
            break;
    }
    if (paren && expect(P, T_RPAREN, "')'"))
        return OSR_EINVAL;
    if (!tuple) {
        *out = items[0];
        return OSR_OK;
    }
    out->items = osr_arena_calloc(P->a, n, sizeof(*out->items));
    if (!out->items)
        return pfail(P, "%s", "template too large");
    memcpy(out->items, items, n * sizeof(*items));
    out->nitems = n;
    return OSR_OK;
}

static int parse_signature(struct parser *P, struct ct_macro_def *m)
{
    if (expect(P, T_LPAREN, "'('"))
        return OSR_EINVAL;
    struct vec names = {0}, defs = {0};
    while (cur(P)->type != T_RPAREN) {
        if (names.n && expect(P, T_COMMA, "','"))
            return OSR_EINVAL;
        if (cur(P)->type == T_RPAREN)
            break;
        if (cur(P)->type != T_NAME)
            return pfail(P, "%s", "expected a parameter name");
        const char *name = cur(P)->s;
        next(P);
        struct ct_expr *def = NULL;
        if (cur(P)->type == T_ASSIGN) {
            next(P);
            if (parse_expression(P, true, &def))
                return OSR_EINVAL;
        } else if (defs.n && defs.v[defs.n - 1]) {
            return pfail(P, "%s", "non-default argument follows default argument");
        }
        if (vec_push(P, &names, (void *)name) || vec_push(P, &defs, def))
            return OSR_EINVAL;
    }
    if (expect(P, T_RPAREN, "')'"))
        return OSR_EINVAL;
    m->params = (const char **)names.v;
    m->defaults = (struct ct_expr **)defs.v;
    m->nparams = names.n;
    return OSR_OK;
}

static bool body_uses(const struct ct_token *from, const struct ct_token *to, const char *name)
{
    for (const struct ct_token *t = from; t < to; t++)
        if (t->type == T_NAME && strcmp(t->s, name) == 0)
            return true;
    return false;
}

static struct ct_node *new_node(struct parser *P, enum ct_nkind kind, const struct ct_token *at)
{
    struct ct_node *n = pnew(P, sizeof(*n));
    if (n) {
        n->kind = kind;
        n->line = at->line;
        n->col = at->col;
    }
    return n;
}

static int end_block(struct parser *P)
{
    if (cur(P)->type != T_BLOCK_END)
        return pfail(P, "expected end of statement block, got '%s'", tok_desc(cur(P)));
    next(P);
    return OSR_OK;
}

/* At "{% name": consume the name token the subparse stopped on. */
static const char *take_end_name(struct parser *P)
{
    const char *s = cur(P)->s;
    next(P);
    return s;
}

static int parse_if(struct parser *P, const struct ct_token *at, struct ct_node **out)
{
    static const char *const ends[] = {"elif", "else", "endif", NULL};
    static const char *const endif[] = {"endif", NULL};
    struct ct_node *n = new_node(P, N_IF, at);
    if (!n)
        return pfail(P, "%s", "template too large");
    *out = n;
    for (;;) {
        if (parse_tuple(P, false, NULL, false, &n->expr) || end_block(P) ||
            subparse(P, ends, &n->body))
            return OSR_EINVAL;
        const struct ct_token *kw = cur(P);
        const char *which = take_end_name(P);
        if (strcmp(which, "elif") == 0) {
            struct ct_node *e = new_node(P, N_IF, kw);
            if (!e)
                return pfail(P, "%s", "template too large");
            n->else_body.v = pnew(P, sizeof(*n->else_body.v));
            if (!n->else_body.v)
                return pfail(P, "%s", "template too large");
            n->else_body.v[0] = e;
            n->else_body.n = 1;
            n = e;
            continue;
        }
        if (strcmp(which, "else") == 0) {
            if (end_block(P) || subparse(P, endif, &n->else_body))
                return OSR_EINVAL;
            take_end_name(P);
        }
        return end_block(P);
    }
}

static int parse_for(struct parser *P, const struct ct_token *at, struct ct_node **out)
{
    static const char *const ends[] = {"endfor", "else", NULL};
    static const char *const endfor[] = {"endfor", NULL};
    struct ct_node *n = new_node(P, N_FOR, at);
    if (!n)
        return pfail(P, "%s", "template too large");
    *out = n;
    if (parse_assign_target(P, false, &n->target))
        return OSR_EINVAL;
    if (!skip_name(P, "in"))
        return pfail(P, "%s", "expected 'in'");
    if (parse_tuple(P, false, "recursive", false, &n->expr))
        return OSR_EINVAL;
    if (skip_name(P, "if") && parse_expression(P, true, &n->cond))
        return OSR_EINVAL;
    if (is_name(P, "recursive"))
        return pfail(P, "%s", "recursive loops are not supported");
    if (end_block(P))
        return OSR_EINVAL;
    P->loop_depth++;
    int rc = subparse(P, ends, &n->body);
    P->loop_depth--;
    if (rc)
        return rc;
    if (strcmp(take_end_name(P), "else") == 0) {
        if (end_block(P) || subparse(P, endfor, &n->else_body))
            return OSR_EINVAL;
        take_end_name(P);
    }
    return end_block(P);
}

static int parse_set(struct parser *P, const struct ct_token *at, struct ct_node **out)
{
    static const char *const endset[] = {"endset", NULL};
    struct ct_node *n = new_node(P, N_SET, at);
    if (!n)
        return pfail(P, "%s", "template too large");
    *out = n;
    if (parse_assign_target(P, true, &n->target))
        return OSR_EINVAL;
    if (cur(P)->type == T_ASSIGN) {
        next(P);
        if (parse_tuple(P, true, NULL, false, &n->expr))
            return OSR_EINVAL;
        return end_block(P);
    }
    n->kind = N_SET_BLOCK;
    if (n->target.items)
        return pfail(P, "%s", "a block assignment needs a single name");
    if (cur(P)->type == T_PIPE && parse_filter(P, &n->filter, false))
        return OSR_EINVAL;
    if (end_block(P) || subparse(P, endset, &n->body))
        return OSR_EINVAL;
    take_end_name(P);
    return end_block(P);
}

static int parse_macro(struct parser *P, const struct ct_token *at, struct ct_node **out)
{
    static const char *const endmacro[] = {"endmacro", NULL};
    struct ct_node *n = new_node(P, N_MACRO, at);
    struct ct_macro_def *m = pnew(P, sizeof(*m));
    if (!n || !m)
        return pfail(P, "%s", "template too large");
    *out = n;
    n->macro = m;
    if (cur(P)->type != T_NAME)
        return pfail(P, "%s", "expected a macro name");
    m->name = cur(P)->s;
    next(P);
    if (parse_signature(P, m) || end_block(P))
        return OSR_EINVAL;
    const struct ct_token *body_start = cur(P);
    int saved_loops = P->loop_depth;
    P->loop_depth = 0;
    int rc = subparse(P, endmacro, &m->body);
    P->loop_depth = saved_loops;
    if (rc)
        return rc;
    m->uses_caller = body_uses(body_start, cur(P), "caller");
    m->uses_varargs = body_uses(body_start, cur(P), "varargs");
    m->uses_kwargs = body_uses(body_start, cur(P), "kwargs");
    take_end_name(P);
    return end_block(P);
}

static int parse_call_block(struct parser *P, const struct ct_token *at, struct ct_node **out)
{
    static const char *const endcall[] = {"endcall", NULL};
    struct ct_node *n = new_node(P, N_CALL_BLOCK, at);
    struct ct_macro_def *m = pnew(P, sizeof(*m));
    if (!n || !m)
        return pfail(P, "%s", "template too large");
    *out = n;
    n->macro = m;
    m->name = "caller";
    if (cur(P)->type == T_LPAREN && parse_signature(P, m))
        return OSR_EINVAL;
    if (parse_expression(P, true, &n->expr))
        return OSR_EINVAL;
    if (n->expr->kind != E_CALL)
        return pfail(P, "%s", "expected call");
    const struct ct_token *body_start = cur(P);
    if (end_block(P) || subparse(P, endcall, &m->body))
        return OSR_EINVAL;
    m->uses_varargs = body_uses(body_start, cur(P), "varargs");
    m->uses_kwargs = body_uses(body_start, cur(P), "kwargs");
    take_end_name(P);
    return end_block(P);
}

static int parse_filter_block(struct parser *P, const struct ct_token *at, struct ct_node **out)
{
    static const char *const endfilter[] = {"endfilter", NULL};
    struct ct_node *n = new_node(P, N_FILTER_BLOCK, at);
    if (!n)
        return pfail(P, "%s", "template too large");
    *out = n;
    if (parse_filter(P, &n->filter, true) || end_block(P) || subparse(P, endfilter, &n->body))
        return OSR_EINVAL;
    take_end_name(P);
    return end_block(P);
}

static int parse_with(struct parser *P, const struct ct_token *at, struct ct_node **out)
{
    static const char *const endwith[] = {"endwith", NULL};
    struct ct_node *n = new_node(P, N_WITH, at);
    if (!n)
        return pfail(P, "%s", "template too large");
    *out = n;
    struct vec targets = {0}, vals = {0};
    while (cur(P)->type != T_BLOCK_END) {
        if (targets.n && expect(P, T_COMMA, "','"))
            return OSR_EINVAL;
        struct ct_target *t = pnew(P, sizeof(*t));
        struct ct_expr *v;
        if (!t)
            return pfail(P, "%s", "template too large");
        if (cur(P)->type != T_NAME)
            return pfail(P, "%s", "expected a name");
        t->name = cur(P)->s;
        next(P);
        if (expect(P, T_ASSIGN, "'='") || parse_expression(P, true, &v) ||
            vec_push(P, &targets, t) || vec_push(P, &vals, v))
            return OSR_EINVAL;
    }
    n->nwith = targets.n;
    n->wtargets = osr_arena_calloc(P->a, targets.n ? targets.n : 1, sizeof(*n->wtargets));
    if (!n->wtargets)
        return pfail(P, "%s", "template too large");
    for (size_t i = 0; i < targets.n; i++)
        n->wtargets[i] = *(struct ct_target *)targets.v[i];
    n->wvals = (struct ct_expr **)vals.v;
    if (end_block(P) || subparse(P, endwith, &n->body))
        return OSR_EINVAL;
    take_end_name(P);
    return end_block(P);
}

static int parse_statement(struct parser *P, struct ct_node **out)
{
    const struct ct_token *at = cur(P); /* the tag name */
    if (at->type != T_NAME)
        return pfail(P, "%s", "tag name expected");
    if (++P->depth > PARSE_MAX_DEPTH)
        return pfail(P, "%s", "statements nested too deeply");
    const char *name = at->s;
    next(P);
    int rc;
    if (strcmp(name, "if") == 0) {
        rc = parse_if(P, at, out);
    } else if (strcmp(name, "for") == 0) {
        rc = parse_for(P, at, out);
    } else if (strcmp(name, "set") == 0) {
        rc = parse_set(P, at, out);
    } else if (strcmp(name, "macro") == 0) {
        rc = parse_macro(P, at, out);
    } else if (strcmp(name, "call") == 0) {
        rc = parse_call_block(P, at, out);
    } else if (strcmp(name, "filter") == 0) {
        rc = parse_filter_block(P, at, out);
    } else if (strcmp(name, "with") == 0) {
        rc = parse_with(P, at, out);
    } else if (strcmp(name, "generation") == 0) {
        /* transformers' AssistantTracker tag: the body renders as it is, in its own scope
         * (a with-block without names). */
        static const char *const endgen[] = {"endgeneration", NULL};
        struct ct_node *n = new_node(P, N_WITH, at);
        if (!n)
            return pfail(P, "%s", "template too large");
        *out = n;
        rc = end_block(P);
        if (rc == OSR_OK)
            rc = subparse(P, endgen, &n->body);
        if (rc == OSR_OK) {
            take_end_name(P);
            rc = end_block(P);
        }
    } else if (strcmp(name, "break") == 0 || strcmp(name, "continue") == 0) {
        if (P->loop_depth == 0)
            return pfail_at(P, at, "'%s' outside of a loop", name);
        *out = new_node(P, name[0] == 'b' ? N_BREAK : N_CONTINUE, at);
        rc = *out ? end_block(P) : pfail(P, "%s", "template too large");
    } else {
        return pfail_at(P, at, "Encountered unknown tag '%s'.", name);
    }
    P->depth--;
    return rc;
}

static int body_push(struct parser *P, struct vec *v, struct ct_node *n)
{
    return vec_push(P, v, n);
}

/* "<what> Jinja was looking for the following tags: 'a' or 'b'. The innermost block that
 * needs to be closed is 'x'." - the block name comes from its last end tag ("endif"). */
static int looking_for(struct parser *P, const struct ct_token *at, const char *what,
                       const char *const *end)
{
    char tags[256] = "";
    size_t k = 0;
    const char *last = end[0];
    for (const char *const *e = end; *e; e++) {
        k += (size_t)snprintf(tags + k, sizeof(tags) - k, "%s'%s'", e == end ? "" : " or ", *e);
        if (k >= sizeof(tags))
            k = sizeof(tags) - 1;
        last = *e;
    }
    return pfail_at(P, at,
                    "%s Jinja was looking for the following tags: %s. The innermost block that "
                    "needs to be closed is '%s'.",
                    what, tags, last + 3);
}

/* Parses nodes until "{% <one of end>" (left unconsumed, at the name) or the end. */
static int subparse(struct parser *P, const char *const *end, struct ct_body *body)
{
    struct vec nodes = {0};
    const struct ct_token *opened = P->pos > 0 ? &P->t[P->pos - 1] : cur(P);
    for (;;) {
        const struct ct_token *t = cur(P);
        if (t->type == T_EOF) {
            if (end)
                return looking_for(P, opened, "Unexpected end of template.", end);
            break;
        }
        if (t->type == T_TEXT) {
            struct ct_node *n = new_node(P, N_TEXT, t);
            if (!n)
                return pfail(P, "%s", "template too large");
            n->text = t->s;
            n->ntext = t->n;
            if (body_push(P, &nodes, n))
                return OSR_EINVAL;
            next(P);
        } else if (t->type == T_VAR_BEGIN) {
            next(P);
            struct ct_node *n = new_node(P, N_OUTPUT, t);
            if (!n)
                return pfail(P, "%s", "template too large");
            if (parse_tuple(P, true, NULL, false, &n->expr))
                return OSR_EINVAL;
            if (cur(P)->type != T_VAR_END)
                return pfail(P, "expected end of print statement, got '%s'", tok_desc(cur(P)));
            next(P);
            if (body_push(P, &nodes, n))
                return OSR_EINVAL;
        } else if (t->type == T_BLOCK_BEGIN) {
            next(P);
            if (end && cur(P)->type == T_NAME) {
                for (const char *const *e = end; *e; e++)
                    if (strcmp(cur(P)->s, *e) == 0)
                        goto done;
            }
            if (cur(P)->type == T_NAME &&
                ((strncmp(cur(P)->s, "end", 3) == 0 && strcmp(cur(P)->s, "endraw") != 0) ||
                 strcmp(cur(P)->s, "elif") == 0 || strcmp(cur(P)->s, "else") == 0)) {
                char what[160];
                snprintf(what, sizeof(what), "Encountered unknown tag '%s'.", cur(P)->s);
                if (end)
                    return looking_for(P, cur(P), what, end);
                return pfail(P, "%s", what);
            }
            struct ct_node *n = NULL;
            if (parse_statement(P, &n) || body_push(P, &nodes, n))
                return OSR_EINVAL;
        } else {
            return pfail(P, "unexpected '%s'", tok_desc(t));
        }
    }
done:
    body->v = (struct ct_node **)nodes.v;
    body->n = nodes.n;
    return OSR_OK;
}

int ct_parse(struct osr_arena *a, const struct ct_tokens *toks, struct ct_body *root,
             struct osr_chat_template_error *err)
{
    struct parser P = {.a = a, .t = toks->v, .n = toks->n, .err = err};
    if (err)
        err->kind[0] = '\0';
    return subparse(&P, NULL, root);
}
