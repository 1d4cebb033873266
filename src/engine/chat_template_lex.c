/* chat_template_lex.c - turns template source into tokens, as Jinja2's lexer does.
 *
 * It reproduces the whitespace rules Hugging Face templates are rendered with: newlines are
 * normalized to "\n" and one trailing newline is dropped (keep_trailing_newline=False);
 * trim_blocks removes the first newline after a block or comment tag; lstrip_blocks removes
 * spaces and tabs between the start of a line and a block or comment tag; "-" beside a tag
 * strips all whitespace on that side and "+" turns the trim/lstrip rules off.  Inside tags it
 * produces names, numbers, strings (unescaped as Python's unicode-escape does) and operators;
 * while brackets are open a "}}" or "%}" does not end the tag.  It does not parse: see
 * chat_template_parse.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_template_int.h"
#include "osr/alloc.h"

#define LEX_MAX_TOKENS (1u << 22)
#define LEX_MAX_BRACKETS 256

struct lexer {
    struct osr_arena *a;
    const char *s; /* normalized source */
    size_t n;
    size_t pos;
    /* line/column of position lc_pos, advanced lazily */
    size_t lc_pos;
    int line, col;
    struct ct_token *v;
    size_t nv, cap;
    struct osr_chat_template_error *err;
};

static void advance_lc(struct lexer *L, size_t to)
{
    while (L->lc_pos < to) {
        unsigned char c = (unsigned char)L->s[L->lc_pos++];
        if (c == '\n') {
            L->line++;
            L->col = 1;
        } else if ((c & 0xc0) != 0x80) {
            L->col++;
        }
    }
}

static int lex_fail(struct lexer *L, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int lex_fail(struct lexer *L, size_t at, const char *fmt, ...)
{
    advance_lc(L, at);
    if (L->err) {
        snprintf(L->err->kind, sizeof(L->err->kind), "TemplateSyntaxError");
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(L->err->msg, sizeof(L->err->msg), fmt, ap);
        va_end(ap);
        L->err->line = L->line;
        L->err->col = L->col;
    }
    return OSR_EINVAL;
}

static struct ct_token *push(struct lexer *L, enum ct_tok type, size_t at)
{
    if (L->nv == L->cap) {
        if (L->cap >= LEX_MAX_TOKENS)
            return NULL;
        size_t ncap = L->cap ? L->cap * 2 : 256;
        struct ct_token *nv = realloc(L->v, ncap * sizeof(*nv));
        if (!nv)
            return NULL;
        L->v = nv;
        L->cap = ncap;
    }
    advance_lc(L, at);
    struct ct_token *t = &L->v[L->nv++];
    memset(t, 0, sizeof(*t));
    t->type = type;
    t->line = L->line;
    t->col = L->col;
    return t;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Byte length of the whitespace code point at i (Python's str.isspace()), or 0. */
static size_t ws_at(const struct lexer *L, size_t i)
{
    if (i >= L->n)
        return 0;
    if ((unsigned char)L->s[i] < 0x80)
        return is_ws(L->s[i]) || (L->s[i] >= 0x1c && L->s[i] <= 0x1f) ? 1 : 0;
    size_t len;
    uint32_t cp = ct_utf8_decode(L->s + i, L->n - i, &len);
    return ct_py_isspace(cp) ? len : 0;
}

static size_t skip_ws(const struct lexer *L, size_t i)
{
    size_t k;
    while ((k = ws_at(L, i)) > 0)
        i += k;
    return i;
}

/* Moves end back over whitespace, not before start. */
static size_t back_ws(const struct lexer *L, size_t start, size_t end)
{
    while (end > start) {
        size_t st = end - 1;
        while (st > start && ((unsigned char)L->s[st] & 0xc0) == 0x80)
            st--;
        if (ws_at(L, st) != end - st)
            break;
        end = st;
    }
    return end;
}

static bool starts(const struct lexer *L, size_t at, const char *lit)
{
    size_t k = strlen(lit);
    return at + k <= L->n && memcmp(L->s + at, lit, k) == 0;
}

static int emit_text(struct lexer *L, size_t start, size_t end)
{
    if (end <= start)
        return OSR_OK;
    struct ct_token *t = push(L, T_TEXT, start);
    if (!t)
        return lex_fail(L, start, "%s", "template has too many tokens");
    t->s = L->s + start; /* the normalized source lives in the template's arena */
    t->n = end - start;
    return OSR_OK;
}

/* Applies "-"/lstrip_blocks to the text [start, end) that precedes a tag; returns the new end. */
static size_t strip_before(const struct lexer *L, size_t start, size_t end, char sign, bool lstrip)
{
    if (sign == '-')
        return back_ws(L, start, end);
    if (sign == '+' || !lstrip)
        return end;
    /* Jinja2 3: only whitespace (\s, Unicode) between the line start and the tag. */
    size_t l = back_ws(L, start, end);
    const char *nl = l < end ? memrchr(L->s + l, '\n', end - l) : NULL;
    if (nl)
        l = (size_t)(nl - L->s) + 1;
    bool line_start = (l > start) ? L->s[l - 1] == '\n' : (l == 0 || L->s[l - 1] == '\n');
    return line_start ? l : end;
}

static void append_utf8(char *out, size_t *o, uint32_t cp)
{
    if (cp < 0x80) {
        out[(*o)++] = (char)cp;
    } else if (cp < 0x800) {
        out[(*o)++] = (char)(0xc0 | (cp >> 6));
        out[(*o)++] = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out[(*o)++] = (char)(0xe0 | (cp >> 12));
        out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[(*o)++] = (char)(0x80 | (cp & 0x3f));
    } else {
        out[(*o)++] = (char)(0xf0 | (cp >> 18));
        out[(*o)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
        out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[(*o)++] = (char)(0x80 | (cp & 0x3f));
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Lexes a string literal starting at the quote; Python unicode-escape semantics. */
static int lex_string(struct lexer *L, size_t *pos)
{
    size_t start = *pos;
    char q = L->s[start];
    size_t i = start + 1;
    while (i < L->n && L->s[i] != q) {
        if (L->s[i] == '\\' && i + 1 < L->n)
            i++;
        i++;
    }
    if (i >= L->n)
        return lex_fail(L, start, "%s", "unexpected end of string literal");
    const char *raw = L->s + start + 1;
    size_t rn = i - start - 1;
    char *out = osr_arena_alloc(L->a, rn + 1); /* escapes never make the text longer */
    if (!out)
        return lex_fail(L, start, "%s", "template too large");
    size_t o = 0;
    for (size_t k = 0; k < rn; k++) {
        char c = raw[k];
        if (c != '\\' || k + 1 >= rn) {
            out[o++] = c;
            continue;
        }
        char e = raw[++k];
        int digits = 0;
        switch (e) {
        case '\n':
            break;
        case '\\':
        case '\'':
        case '"':
            out[o++] = e;
            break;
        case 'a':
            out[o++] = '\a';
            break;
        case 'b':
            out[o++] = '\b';
            break;
        case 'f':
            out[o++] = '\f';
            break;
        case 'n':
            out[o++] = '\n';
            break;
        case 'r':
            out[o++] = '\r';
            break;
        case 't':
            out[o++] = '\t';
            break;
        case 'v':
            out[o++] = '\v';
            break;
        case 'x':
            digits = 2;
            break;
        case 'u':
            digits = 4;
            break;
        case 'U':
            digits = 8;
            break;
        default:
            if (e >= '0' && e <= '7') {
                uint32_t cp = (uint32_t)(e - '0');
                for (int d = 0; d < 2 && k + 1 < rn && raw[k + 1] >= '0' && raw[k + 1] <= '7'; d++)
                    cp = cp * 8 + (uint32_t)(raw[++k] - '0');
                append_utf8(out, &o, cp);
            } else {
                out[o++] = '\\';
                out[o++] = e;
            }
            break;
        }
        if (digits) {
            uint32_t cp = 0;
            for (int d = 0; d < digits; d++) {
                int h = (k + 1 < rn) ? hexval(raw[k + 1]) : -1;
                if (h < 0)
                    return lex_fail(L, start, "%s", "truncated \\x, \\u or \\U escape in string");
                cp = cp * 16 + (uint32_t)h;
                k++;
            }
            if (cp > 0x10ffff)
                return lex_fail(L, start, "%s", "illegal Unicode character in string");
            append_utf8(out, &o, cp);
        }
    }
    out[o] = '\0';
    struct ct_token *t = push(L, T_STRING, start);
    if (!t)
        return lex_fail(L, start, "%s", "template has too many tokens");
    t->s = out;
    t->n = o;
    *pos = i + 1;
    return OSR_OK;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* Digits with single underscores between them, as Python allows. */
static size_t scan_digits(const struct lexer *L, size_t i)
{
    while (i < L->n &&
           (is_digit(L->s[i]) || (L->s[i] == '_' && i + 1 < L->n && is_digit(L->s[i + 1]))))
        i++;
    return i;
}

static int lex_number(struct lexer *L, size_t *pos)
{
    size_t start = *pos, i = *pos;
    char buf[128];
    size_t bn = 0;
    if (L->s[i] == '0' && i + 1 < L->n && strchr("xXoObB", L->s[i + 1]) && L->s[i + 1]) {
        int base = (L->s[i + 1] | 0x20) == 'x' ? 16 : (L->s[i + 1] | 0x20) == 'o' ? 8 : 2;
        i += 2;
        while (i < L->n && (hexval(L->s[i]) >= 0 || L->s[i] == '_') && bn < sizeof(buf) - 1) {
            if (L->s[i] != '_') {
                if (hexval(L->s[i]) >= base)
                    break;
                buf[bn++] = L->s[i];
            }
            i++;
        }
        buf[bn] = '\0';
        if (bn == 0)
            return lex_fail(L, start, "%s", "invalid integer literal");
        char *end;
        unsigned long long v = strtoull(buf, &end, base);
        if (v > INT64_MAX)
            return lex_fail(L, start, "%s", "integer literal too large");
        struct ct_token *t = push(L, T_INT, start);
        if (!t)
            return lex_fail(L, start, "%s", "template has too many tokens");
        t->i = (int64_t)v;
        *pos = i;
        return OSR_OK;
    }
    i = scan_digits(L, i);
    bool is_float = false;
    if (i + 1 < L->n && L->s[i] == '.' && is_digit(L->s[i + 1])) {
        is_float = true;
        i = scan_digits(L, i + 1);
    }
    if (i < L->n && (L->s[i] == 'e' || L->s[i] == 'E')) {
        size_t j = i + 1;
        if (j < L->n && (L->s[j] == '+' || L->s[j] == '-'))
            j++;
        if (j < L->n && is_digit(L->s[j])) {
            is_float = true;
            i = scan_digits(L, j);
        }
    }
    for (size_t k = start; k < i && bn < sizeof(buf) - 1; k++)
        if (L->s[k] != '_')
            buf[bn++] = L->s[k];
    buf[bn] = '\0';
    if (i - start >= sizeof(buf) - 1)
        return lex_fail(L, start, "%s", "number literal too long");
    struct ct_token *t = push(L, is_float ? T_FLOAT : T_INT, start);
    if (!t)
        return lex_fail(L, start, "%s", "template has too many tokens");
    if (is_float) {
        t->f = strtod(buf, NULL);
    } else {
        char *end;
        errno = 0;
        long long v = strtoll(buf, &end, 10);
        if (errno || *end)
            return lex_fail(L, start, "%s", "integer literal too large");
        t->i = v;
    }
    *pos = i;
    return OSR_OK;
}

struct op {
    const char *s;
    enum ct_tok t;
};

static const struct op OPS[] = {
    {"//", T_FLOORDIV}, {"**", T_POW},   {"==", T_EQ},      {"!=", T_NE},      {">=", T_GTEQ},
    {"<=", T_LTEQ},     {"+", T_ADD},    {"-", T_SUB},      {"*", T_MUL},      {"/", T_DIV},
    {"%", T_MOD},       {"~", T_TILDE},  {"[", T_LBRACKET}, {"]", T_RBRACKET}, {"(", T_LPAREN},
    {")", T_RPAREN},    {"{", T_LBRACE}, {"}", T_RBRACE},   {">", T_GT},       {"<", T_LT},
    {"=", T_ASSIGN},    {".", T_DOT},    {":", T_COLON},    {"|", T_PIPE},     {",", T_COMMA},
    {";", T_SEMICOLON},
};

/* Lexes the inside of a {{ }} or {% %} tag starting at *pos, up to and including its end. */
static int lex_tag(struct lexer *L, size_t *pos, bool block, size_t tag_start)
{
    char stack[LEX_MAX_BRACKETS];
    int depth = 0;
    size_t i = *pos;
    for (;;) {
        if (i >= L->n)
            return lex_fail(L, tag_start, "%s",
                            block ? "unexpected end of template: missing '%}'"
                                  : "unexpected end of template: missing '}}'");
        if (depth == 0) {
            if (block) {
                if (starts(L, i, "+%}") || starts(L, i, "-%}") || starts(L, i, "%}")) {
                    if (!push(L, T_BLOCK_END, i))
                        return lex_fail(L, i, "%s", "template has too many tokens");
                    if (L->s[i] == '+') {
                        i += 3;
                    } else if (L->s[i] == '-') {
                        i = skip_ws(L, i + 3);
                    } else {
                        i += 2;
                        if (i < L->n && L->s[i] == '\n') /* trim_blocks */
                            i++;
                    }
                    *pos = i;
                    return OSR_OK;
                }
            } else if (starts(L, i, "-}}") || starts(L, i, "}}")) {
                if (!push(L, T_VAR_END, i))
                    return lex_fail(L, i, "%s", "template has too many tokens");
                if (L->s[i] == '-') {
                    i = skip_ws(L, i + 3);
                } else {
                    i += 2;
                }
                *pos = i;
                return OSR_OK;
            }
        }
        char c = L->s[i];
        size_t wl = ws_at(L, i);
        if (wl) {
            i += wl;
            continue;
        }
        int rc = OSR_OK;
        if (c == '\'' || c == '"') {
            rc = lex_string(L, &i);
        } else if (is_digit(c)) {
            rc = lex_number(L, &i);
        } else if (is_name_start(c)) {
            size_t s0 = i;
            while (i < L->n && (is_name_start(L->s[i]) || is_digit(L->s[i])))
                i++;
            struct ct_token *t = push(L, T_NAME, s0);
            if (!t)
                return lex_fail(L, s0, "%s", "template has too many tokens");
            char *nm = osr_arena_strndup(L->a, L->s + s0, i - s0);
            if (!nm)
                return lex_fail(L, s0, "%s", "template too large");
            t->s = nm;
            t->n = i - s0;
        } else {
            const struct op *found = NULL;
            for (size_t k = 0; k < sizeof(OPS) / sizeof(OPS[0]); k++)
                if (starts(L, i, OPS[k].s)) {
                    found = &OPS[k];
                    break;
                }
            if (!found) {
                char what[8];
                size_t len;
                ct_utf8_decode(L->s + i, L->n - i, &len);
                snprintf(what, sizeof(what), "%.*s", (int)(len < 5 ? len : 4), L->s + i);
                return lex_fail(L, i, "unexpected char '%s'", what);
            }
            if (found->t == T_LPAREN || found->t == T_LBRACKET || found->t == T_LBRACE) {
                if (depth >= LEX_MAX_BRACKETS)
                    return lex_fail(L, i, "%s", "brackets nested too deeply");
                stack[depth++] = found->s[0];
            } else if (found->t == T_RPAREN || found->t == T_RBRACKET || found->t == T_RBRACE) {
                char want = found->t == T_RPAREN ? '(' : found->t == T_RBRACKET ? '[' : '{';
                if (depth == 0)
                    return lex_fail(L, i, "unexpected '%s'", found->s);
                if (stack[depth - 1] != want)
                    return lex_fail(L, i, "unexpected '%s'", found->s);
                depth--;
            }
            if (!push(L, found->t, i))
                return lex_fail(L, i, "%s", "template has too many tokens");
            i += strlen(found->s);
        }
        if (rc)
            return rc;
    }
}

/* Finds the "{% endraw %}" closing a raw block; returns its start or SIZE_MAX. */
static size_t find_endraw(const struct lexer *L, size_t from, size_t *after, char *sign)
{
    for (size_t i = from; i + 1 < L->n; i++) {
        if (L->s[i] != '{' || L->s[i + 1] != '%')
            continue;
        size_t j = i + 2;
        char sg = 0;
        if (j < L->n && (L->s[j] == '-' || L->s[j] == '+'))
            sg = L->s[j++];
        j = skip_ws(L, j);
        if (!starts(L, j, "endraw"))
            continue;
        j += 6;
        j = skip_ws(L, j);
        if (starts(L, j, "+%}")) {
            j += 3;
        } else if (starts(L, j, "-%}")) {
            j += 3;
            j = skip_ws(L, j);
        } else if (starts(L, j, "%}")) {
            j += 2;
            if (j < L->n && L->s[j] == '\n')
                j++;
        } else {
            continue;
        }
        *after = j;
        *sign = sg;
        return i;
    }
    return SIZE_MAX;
}

/* Is "{%[-+]? raw [-]?%}" at i?  Returns the position after it (trim rules applied). */
static size_t match_raw_begin(const struct lexer *L, size_t i)
{
    size_t j = i + 2;
    if (j < L->n && (L->s[j] == '-' || L->s[j] == '+'))
        j++;
    j = skip_ws(L, j);
    if (!starts(L, j, "raw"))
        return 0;
    j += 3;
    if (j < L->n && (is_name_start(L->s[j]) || is_digit(L->s[j])))
        return 0;
    j = skip_ws(L, j);
    if (starts(L, j, "-%}")) {
        j += 3;
        j = skip_ws(L, j);
        return j;
    }
    if (starts(L, j, "%}"))
        return j + 2;
    return 0;
}

int ct_lex(struct osr_arena *a, const char *src, size_t len, struct ct_tokens *out,
           struct osr_chat_template_error *err)
{
    struct lexer L = {.a = a, .line = 1, .col = 1, .err = err};
    /* Normalize newlines and drop one trailing newline, as Jinja2 does before lexing. */
    char *s = osr_arena_alloc(a, len + 1);
    if (!s)
        return OSR_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            s[n++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n')
                i++;
        } else {
            s[n++] = src[i];
        }
    }
    if (n > 0 && s[n - 1] == '\n')
        n--;
    s[n] = '\0';
    L.s = s;
    L.n = n;

    int rc = OSR_OK;
    size_t i = 0;
    while (i < n) {
        /* Find the next tag opener. */
        size_t t = i;
        while (t + 1 < n &&
               !(s[t] == '{' && (s[t + 1] == '{' || s[t + 1] == '%' || s[t + 1] == '#')))
            t++;
        if (t + 1 >= n) {
            rc = emit_text(&L, i, n);
            break;
        }
        char kind = s[t + 1];
        char sign = (t + 2 < n && (s[t + 2] == '-' || s[t + 2] == '+')) ? s[t + 2] : 0;
        if (kind == '%') {
            size_t after_raw = match_raw_begin(&L, t);
            if (after_raw) {
                rc = emit_text(&L, i, strip_before(&L, i, t, sign, true));
                if (rc)
                    break;
                size_t after;
                char esign;
                size_t e = find_endraw(&L, after_raw, &after, &esign);
                if (e == SIZE_MAX) {
                    rc = lex_fail(&L, t, "%s", "missing end of raw directive");
                    break;
                }
                rc = emit_text(&L, after_raw, strip_before(&L, after_raw, e, esign, true));
                i = after;
                if (rc)
                    break;
                continue;
            }
        }
        bool lstrip = kind != '{'; /* lstrip_blocks applies to blocks and comments */
        rc =
            emit_text(&L, i, strip_before(&L, i, t, kind == '{' && sign == '+' ? 0 : sign, lstrip));
        if (rc)
            break;
        size_t p = t + 2 + (sign ? 1 : 0);
        if (kind == '#') {
            size_t e = p;
            bool found = false;
            for (; e + 1 < n; e++) {
                if (s[e] == '+' && e + 2 < n && s[e + 1] == '#' && s[e + 2] == '}') {
                    i = e + 3;
                    found = true;
                    break;
                }
                if (s[e] == '-' && e + 2 < n && s[e + 1] == '#' && s[e + 2] == '}') {
                    i = skip_ws(&L, e + 3);
                    found = true;
                    break;
                }
                if (s[e] == '#' && s[e + 1] == '}') {
                    i = e + 2;
                    if (i < n && s[i] == '\n')
                        i++;
                    found = true;
                    break;
                }
            }
            if (!found) {
                rc = lex_fail(&L, t, "%s", "Missing end of comment tag");
                break;
            }
            continue;
        }
        if (!push(&L, kind == '{' ? T_VAR_BEGIN : T_BLOCK_BEGIN, t)) {
            rc = lex_fail(&L, t, "%s", "template has too many tokens");
            break;
        }
        rc = lex_tag(&L, &p, kind == '%', t);
        if (rc)
            break;
        i = p;
    }
    if (rc == OSR_OK && !push(&L, T_EOF, n))
        rc = lex_fail(&L, n, "%s", "template has too many tokens");
    if (rc) {
        free(L.v);
        return rc;
    }
    out->v = L.v;
    out->n = L.nv;
    return OSR_OK;
}
