/* chat_template_int.h - shared internals of the chat-template interpreter.
 *
 * The interpreter is split by concern: chat_template_lex.c (source -> tokens),
 * chat_template_parse.c (tokens -> tree), chat_template_value.c (the value type, Python-style
 * str()/repr(), JSON output, equality and ordering), chat_template_eval.c (statements and
 * expressions), chat_template_filters.c (filters, tests, methods and globals) and
 * chat_template.c (the public API).  Nothing here is visible outside src/engine.
 *
 * Memory: a compiled template's tree lives in the template's own arena; every value made
 * while rendering lives in the render's arena, freed at once when the render ends.  Values are
 * small structs passed by value; strings, lists and dicts they point to are never freed
 * one by one.
 */
#ifndef OSR_CHAT_TEMPLATE_INT_H
#define OSR_CHAT_TEMPLATE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osr/arena.h"
#include "osr/buf.h"
#include "osr/chat_template.h"

/* ---- tokens ------------------------------------------------------------------------------ */

enum ct_tok {
    T_EOF,
    T_TEXT,      /* template data between tags */
    T_VAR_BEGIN, /* {{ */
    T_VAR_END,   /* }} */
    T_BLOCK_BEGIN,
    T_BLOCK_END,
    T_NAME,
    T_STRING, /* already unescaped */
    T_INT,
    T_FLOAT,
    T_ADD,
    T_SUB,
    T_MUL,
    T_DIV,
    T_FLOORDIV,
    T_MOD,
    T_POW,
    T_TILDE,
    T_LBRACKET,
    T_RBRACKET,
    T_LPAREN,
    T_RPAREN,
    T_LBRACE,
    T_RBRACE,
    T_EQ,
    T_NE,
    T_GT,
    T_GTEQ,
    T_LT,
    T_LTEQ,
    T_ASSIGN,
    T_DOT,
    T_COLON,
    T_PIPE,
    T_COMMA,
    T_SEMICOLON,
};

struct ct_token {
    enum ct_tok type;
    int line, col;
    const char *s; /* text, name or string value (arena, NUL-terminated) */
    size_t n;
    int64_t i;
    double f;
};

struct ct_tokens {
    struct ct_token *v;
    size_t n;
};

/* ---- values ------------------------------------------------------------------------------ */

enum ct_vtype {
    V_UNDEF,
    V_NONE,
    V_BOOL,
    V_INT,
    V_FLOAT,
    V_STR,
    V_LIST, /* list, tuple (VF_TUPLE) or the result of map/select (VF_GENERATOR) */
    V_DICT,
    V_NS, /* namespace(): a dict whose attributes may be assigned */
    V_MACRO,
    V_FUNC, /* built-in global function or bound method */
    V_LOOP,
};

#define VF_MARKUP 1u /* a str that came from |safe: concatenation HTML-escapes the other side */
#define VF_TUPLE 2u
#define VF_GENERATOR 4u /* Jinja2 returns a generator here: not JSON-serializable, no len() */
#define VF_UNSAFE                                                                                  \
    8u /* V_UNDEF standing for a sandbox-blocked attribute: using it raises                        \
        * SecurityError instead of UndefinedError */

struct ct_list;
struct ct_dict;
struct ct_macro;
struct ct_func;
struct ct_loop;

struct ct_value {
    uint8_t type;
    uint8_t flags;
    union {
        bool b;
        int64_t i;
        double f;
        struct {
            const char *p;
            size_t n;
        } s;
        struct ct_list *l;
        struct ct_dict *d;
        struct ct_macro *m;
        struct ct_func *fn;
        struct ct_loop *loop;
        const char *hint; /* V_UNDEF: why it is undefined ("'x' is undefined"), or NULL */
    } u;
};

struct ct_list {
    struct ct_value *v;
    size_t n, cap;
};

struct ct_dict {
    struct ct_value *keys;
    struct ct_value *vals;
    size_t n, cap;
};

struct ct_loop {
    struct ct_list *items;
    size_t i; /* index of the current item */
};

struct ct_macro_def;
struct ct_scope;

struct ct_macro {
    const struct ct_macro_def *def;
    struct ct_scope *closure; /* the scope the macro was defined in (late binding, as Jinja2) */
};

/* ---- syntax tree ------------------------------------------------------------------------- */

enum ct_ekind {
    E_CONST,
    E_NAME,
    E_LIST,
    E_TUPLE,
    E_DICT,
    E_GETATTR,
    E_GETITEM,
    E_SLICE,
    E_CALL,
    E_FILTER,
    E_TEST,
    E_NOT,
    E_NEG,
    E_POS,
    E_BINOP,
    E_AND,
    E_OR,
    E_COMPARE,
    E_COND,
    E_CONCAT,
};

struct ct_expr;

struct ct_args {
    struct ct_expr **pos;
    size_t npos;
    const char **kwname;
    struct ct_expr **kwval;
    size_t nkw;
    struct ct_expr *star;  /* *args, or NULL */
    struct ct_expr *dstar; /* **kwargs, or NULL */
};

struct ct_expr {
    enum ct_ekind kind;
    int line, col;
    enum ct_tok op;            /* E_BINOP operator; E_COMPARE uses ops[] */
    bool negated;              /* E_TEST: "is not" */
    struct ct_value cval;      /* E_CONST */
    const char *name;          /* E_NAME, E_GETATTR attribute, E_FILTER / E_TEST name */
    struct ct_expr *a, *b, *c; /* operands: object/index, slice start/stop/step, cond parts */
    struct ct_expr **items;    /* E_LIST/E_TUPLE/E_CONCAT items, E_DICT keys, E_COMPARE operands */
    struct ct_expr **vals;     /* E_DICT values */
    enum ct_tok *ops; /* E_COMPARE operators (T_EQ..., T_NAME for "in", T_NE+100 "not in") */
    size_t nitems;
    struct ct_args args; /* E_CALL, E_FILTER, E_TEST */
};

#define CT_OP_IN 200
#define CT_OP_NOTIN 201

enum ct_nkind {
    N_TEXT,
    N_OUTPUT,
    N_IF,
    N_FOR,
    N_SET,
    N_SET_BLOCK,
    N_MACRO,
    N_CALL_BLOCK,
    N_FILTER_BLOCK,
    N_BREAK,
    N_CONTINUE,
    N_WITH,
};

struct ct_node;

struct ct_body {
    struct ct_node **v;
    size_t n;
};

/* An assignment target: a name, a namespace attribute (ns.attr) or a tuple of names. */
struct ct_target {
    const char *name; /* NULL for a tuple */
    const char *attr; /* ns.attr when non-NULL */
    struct ct_target *items;
    size_t nitems;
};

struct ct_macro_def {
    const char *name;
    const char **params;
    struct ct_expr **defaults; /* NULL entries for parameters without a default */
    size_t nparams;
    struct ct_body body;
    bool uses_caller, uses_varargs, uses_kwargs; /* the body names them (Jinja2's rule) */
};

struct ct_node {
    enum ct_nkind kind;
    int line, col;
    const char *text; /* N_TEXT */
    size_t ntext;
    struct ct_expr *expr;    /* N_OUTPUT, N_IF test, N_FOR iterable, N_SET value, N_CALL_BLOCK */
    struct ct_expr *cond;    /* N_FOR filter condition */
    struct ct_expr *filter;  /* N_SET_BLOCK / N_FILTER_BLOCK filter chain (operand NULL) */
    struct ct_target target; /* N_FOR, N_SET, N_SET_BLOCK */
    struct ct_body body;
    struct ct_body else_body;   /* N_IF else/elif, N_FOR else */
    struct ct_macro_def *macro; /* N_MACRO, N_CALL_BLOCK (the caller) */
    struct ct_target *wtargets; /* N_WITH */
    struct ct_expr **wvals;
    size_t nwith;
};

/* ---- compile and render state ------------------------------------------------------------ */

struct osr_chat_template {
    struct osr_arena arena; /* tokens, tree and strings */
    struct ct_body root;
};

struct ct_error_state {
    bool set;
    struct osr_chat_template_error e;
};

struct ct_scope {
    struct ct_scope *parent;
    const char **names;
    struct ct_value *vals;
    size_t n, cap;
};

struct ct_render {
    struct osr_arena *arena;
    struct osr_buf *out;  /* where output goes now (a macro call swaps in its own) */
    struct ct_dict *vars; /* the caller's variables */
    struct ct_scope *root;
    struct osr_chat_template_limits lim;
    uint64_t steps;
    int depth;      /* macro calls */
    int eval_depth; /* nested expression evaluation (C stack) */
    bool has_fixed_time;
    int64_t fixed_time;
    struct ct_error_state err;
};

/* Internal return codes beyond enum osr_err: loop control travelling up to the loop. */
#define CT_BREAK 1
#define CT_CONTINUE 2

/* ---- lexer / parser ---------------------------------------------------------------------- */

int ct_lex(struct osr_arena *a, const char *src, size_t len, struct ct_tokens *out,
           struct osr_chat_template_error *err);
int ct_parse(struct osr_arena *a, const struct ct_tokens *toks, struct ct_body *root,
             struct osr_chat_template_error *err);

/* ---- values ------------------------------------------------------------------------------ */

static inline struct ct_value ct_undef(const char *hint)
{
    struct ct_value v = {.type = V_UNDEF};
    v.u.hint = hint;
    return v;
}
static inline struct ct_value ct_none(void)
{
    return (struct ct_value){.type = V_NONE};
}
static inline struct ct_value ct_bool(bool b)
{
    struct ct_value v = {.type = V_BOOL};
    v.u.b = b;
    return v;
}
static inline struct ct_value ct_int(int64_t i)
{
    struct ct_value v = {.type = V_INT};
    v.u.i = i;
    return v;
}
static inline struct ct_value ct_float(double f)
{
    struct ct_value v = {.type = V_FLOAT};
    v.u.f = f;
    return v;
}
static inline struct ct_value ct_str(const char *p, size_t n)
{
    struct ct_value v = {.type = V_STR};
    v.u.s.p = p;
    v.u.s.n = n;
    return v;
}

/* Raises an error at (line, col) of kind ("TypeError") and returns OSR_EINVAL.  Keeps the
 * first error only. */
int ct_fail(struct ct_render *r, int line, int col, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Raises an out-of-memory / limit error (OSR_ETOOBIG). */
int ct_fail_limit(struct ct_render *r, const char *what);

struct ct_list *ct_list_new(struct ct_render *r, size_t cap);
int ct_list_push(struct ct_render *r, struct ct_list *l, struct ct_value v);
struct ct_dict *ct_dict_new(struct ct_render *r, size_t cap);
/* Inserts or replaces (Python dict order: a replaced key keeps its place). */
int ct_dict_set(struct ct_render *r, struct ct_dict *d, struct ct_value k, struct ct_value v);
/* Returns the value for key, or NULL. */
struct ct_value *ct_dict_get(const struct ct_dict *d, struct ct_value k);
struct ct_value *ct_dict_get_cstr(const struct ct_dict *d, const char *k);

bool ct_truthy(struct ct_value v);
bool ct_is_number(struct ct_value v); /* int, float or bool, as Python's numbers.Number */
/* Python type name for error messages ("str", "NoneType", "dict", ...). */
const char *ct_type_name(struct ct_value v);
/* Python ==. */
bool ct_equal(struct ct_value a, struct ct_value b);
/* Python ordering: *cmp < 0, 0 or > 0; OSR_EINVAL with a TypeError when not comparable. */
int ct_compare(struct ct_render *r, const struct ct_expr *at, struct ct_value a, struct ct_value b,
               const char *op, int *cmp);

/* Appends Python str(v) (containers inside are shown with repr()). */
int ct_append_str(struct ct_render *r, struct osr_buf *b, struct ct_value v);
/* Returns str(v) as an arena string value (strings are returned as they are). */
int ct_to_str(struct ct_render *r, struct ct_value v, struct ct_value *out);
/* json.dumps(v, ensure_ascii=False, indent=indent (<0: None), separators default). */
int ct_append_json(struct ct_render *r, const struct ct_expr *at, struct osr_buf *b,
                   struct ct_value v, int indent, const char *item_sep, const char *key_sep,
                   bool sort_keys, bool ensure_ascii);
/* Python float repr. */
void ct_format_float(double f, char *out, size_t n);
/* Converts json-c input into a value (keys keep their order). */
int ct_from_json(struct ct_render *r, struct json_object *j, struct ct_value *out, int depth);

/* Makes an arena string from a capped build buffer. */
int ct_buf_to_value(struct ct_render *r, struct osr_buf *b, uint8_t flags, struct ct_value *out);
int ct_new_str(struct ct_render *r, const char *p, size_t n, struct ct_value *out);
/* Appends HTML-escaped text (markupsafe: & < > ' ") */
int ct_append_escaped(struct osr_buf *b, const char *p, size_t n);

/* UTF-8 helpers shared by filters and methods. */
size_t ct_utf8_len(const char *p, size_t n); /* code points */
/* Decodes one code point at p (n bytes left); stores its length in *len (>= 1). */
uint32_t ct_utf8_decode(const char *p, size_t n, size_t *len);
bool ct_py_isspace(uint32_t cp);

/* ---- evaluation -------------------------------------------------------------------------- */

int ct_exec_body(struct ct_render *r, struct ct_scope *s, const struct ct_body *body);
int ct_eval(struct ct_render *r, struct ct_scope *s, const struct ct_expr *e, struct ct_value *out);
/* Calls a callable value (macro, function, bound method) with evaluated arguments. */
int ct_call_value(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                  struct ct_value fn, struct ct_value *pos, size_t npos, const char **kwn,
                  struct ct_value *kwv, size_t nkw, struct ct_value *out);
/* Jinja2 getattr(obj, name) and getitem(obj, key). */
int ct_getattr(struct ct_render *r, const struct ct_expr *at, struct ct_value obj, const char *name,
               struct ct_value *out);
int ct_getitem(struct ct_render *r, const struct ct_expr *at, struct ct_value obj,
               struct ct_value key, struct ct_value *out);
/* Iterates: fills *items with the elements (dict keys for a dict, characters for a str). */
int ct_iterate(struct ct_render *r, const struct ct_expr *at, struct ct_value v,
               struct ct_list **items);
/* Fails with UndefinedError for the undefined value v. */
int ct_undefined_error(struct ct_render *r, const struct ct_expr *at, struct ct_value v);
int ct_step(struct ct_render *r, const struct ct_expr *at);

/* ---- filters, tests, methods, globals ---------------------------------------------------- */

/* A bound method or built-in function. */
struct ct_func {
    const char *name;
    struct ct_value self; /* V_UNDEF for globals */
    int id;
};

int ct_apply_filter(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                    const char *name, struct ct_value v, struct ct_value *pos, size_t npos,
                    const char **kwn, struct ct_value *kwv, size_t nkw, struct ct_value *out);
int ct_apply_test(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                  const char *name, struct ct_value v, struct ct_value *pos, size_t npos,
                  bool *out);
bool ct_test_exists(const char *name);
bool ct_filter_exists(const char *name);
/* Returns a bound method of obj named name, or false when obj has no such method. */
bool ct_method_lookup(struct ct_render *r, struct ct_value obj, const char *name,
                      struct ct_value *out);
int ct_call_func(struct ct_render *r, struct ct_scope *s, const struct ct_expr *at,
                 const struct ct_func *fn, struct ct_value *pos, size_t npos, const char **kwn,
                 struct ct_value *kwv, size_t nkw, struct ct_value *out);
/* Evaluated call arguments, and the lookup of one by position or keyword. */
struct ct_fargs {
    struct ct_value *pos;
    size_t npos;
    const char **kwn;
    struct ct_value *kwv;
    size_t nkw;
};

static inline bool ct_arg(const struct ct_fargs *a, size_t idx, const char *name,
                          struct ct_value *out)
{
    if (idx < a->npos) {
        *out = a->pos[idx];
        return true;
    }
    for (size_t k = 0; name && k < a->nkw; k++)
        if (__builtin_strcmp(a->kwn[k], name) == 0) {
            *out = a->kwv[k];
            return true;
        }
    return false;
}

/* String helpers shared by filters and methods (results are arena strings). */
enum ct_case { CASE_LOWER, CASE_UPPER, CASE_CAPITALIZE, CASE_TITLE_FILTER, CASE_TITLE_METHOD };
int ct_str_case(struct ct_render *r, struct ct_value s, enum ct_case mode, struct ct_value *out);
/* strip: chars NULL means whitespace. */
int ct_str_strip(struct ct_render *r, struct ct_value s, const struct ct_value *chars, bool left,
                 bool right, struct ct_value *out);
int ct_str_replace(struct ct_render *r, struct ct_value s, struct ct_value old,
                   struct ct_value repl, int64_t count, struct ct_value *out);

/* Python's fmt % args (args a tuple, a mapping for %(name)s, or one value). */
int ct_str_percent(struct ct_render *r, const struct ct_expr *at, struct ct_value fmt,
                   struct ct_value args, struct ct_value *out);

/* Looks up a global function (range, namespace, dict, raise_exception, strftime_now ...). */
bool ct_global_lookup(struct ct_render *r, const char *name, struct ct_value *out);

#endif
