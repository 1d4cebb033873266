/* jsonfsm.c - the JSON syntax automaton behind constrained decoding.
 *
 * A hand-written state machine over bytes: which container is open is a bit stack (object or
 * array per level), so the whole state fits in a few words and copying it is how callers try
 * a byte without committing to it.  It recognises RFC 8259 syntax with two deliberate limits
 * that matter for a sampler rather than a parser: whitespace runs and numbers are capped, and
 * nothing may surround the top-level value; and integer parts stay within 64 bits.  It does not
 * build values, check duplicate keys or pair UTF-16 surrogate escapes.
 */
#include <string.h>

#include "osr/jsonfsm.h"

enum state {
    S_VALUE,     /* a value must come */
    S_ARR_FIRST, /* just after '[': a value or ']' */
    S_OBJ_FIRST, /* just after '{': a key or '}' */
    S_OBJ_KEY,   /* after ',' in an object: a key */
    S_COLON,     /* after a key */
    S_AFTER,     /* after a value inside a container: ',' or the closer */
    S_STR,
    S_ESC,
    S_HEX,
    S_NUM,
    S_LIT,
    S_DONE,
};

/* Phases of a number; the ones marked terminal may end it. */
enum num_phase {
    N_MINUS, /* '-' seen */
    N_ZERO,  /* a leading 0 (terminal) */
    N_INT,   /* integer digits (terminal) */
    N_DOT,   /* '.' seen */
    N_FRAC,  /* fraction digits (terminal) */
    N_E,     /* 'e' seen */
    N_ESIGN, /* exponent sign seen */
    N_EXP,   /* exponent digits (terminal) */
};

#define F_KEY 0x80u /* private flag: the open string is an object key */

static const char *const LITERALS[3] = {"true", "false", "null"};

void osr_jsonfsm_init(struct osr_jsonfsm *f, unsigned flags)
{
    f->stack = 0;
    f->depth = 0;
    f->state = S_VALUE;
    f->sub = 0;
    f->ws = 0;
    f->flags = (uint8_t)(flags & OSR_JSONFSM_OBJECT);
    f->u_need = 0;
    f->u_lo = 0x80;
    f->u_hi = 0xbf;
}

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool top_is_object(const struct osr_jsonfsm *f)
{
    return (f->stack >> (f->depth - 1)) & 1u;
}

static void value_done(struct osr_jsonfsm *f)
{
    f->state = f->depth == 0 ? S_DONE : S_AFTER;
}

static bool open_container(struct osr_jsonfsm *f, bool object)
{
    if (f->depth >= OSR_JSONFSM_MAX_DEPTH)
        return false;
    if (object)
        f->stack |= (uint64_t)1 << f->depth;
    else
        f->stack &= ~((uint64_t)1 << f->depth);
    f->depth++;
    f->state = object ? S_OBJ_FIRST : S_ARR_FIRST;
    return true;
}

static bool close_container(struct osr_jsonfsm *f, bool object)
{
    if (f->depth == 0 || top_is_object(f) != object)
        return false;
    f->depth--;
    value_done(f);
    return true;
}

static void open_string(struct osr_jsonfsm *f, bool key)
{
    f->state = S_STR;
    f->u_need = 0;
    f->flags = (uint8_t)(key ? (f->flags | F_KEY) : (f->flags & ~F_KEY));
}

/* The first byte of a value. */
static bool value_start(struct osr_jsonfsm *f, unsigned char c)
{
    if (f->depth == 0 && (f->flags & OSR_JSONFSM_OBJECT) && c != '{')
        return false;
    switch (c) {
    case '{':
        return open_container(f, true);
    case '[':
        return open_container(f, false);
    case '"':
        open_string(f, false);
        return true;
    case 't':
    case 'f':
    case 'n':
        f->state = S_LIT;
        f->u_need = c == 't' ? 0 : c == 'f' ? 1 : 2;
        f->sub = 1;
        return true;
    default:
        break;
    }
    if (c == '-' || is_digit(c)) {
        f->state = S_NUM;
        f->sub = c == '-' ? N_MINUS : c == '0' ? N_ZERO : N_INT;
        f->u_lo = 1;                   /* bytes in the number */
        f->u_hi = is_digit(c) ? 1 : 0; /* digits before any '.' or 'e' */
        return true;
    }
    return false;
}

/* A byte inside a string (not after a backslash). */
static bool string_byte(struct osr_jsonfsm *f, unsigned char c)
{
    if (f->u_need) {
        if (c < f->u_lo || c > f->u_hi)
            return false;
        f->u_need--;
        f->u_lo = 0x80;
        f->u_hi = 0xbf;
        return true;
    }
    if (c == '"') {
        if (f->flags & F_KEY)
            f->state = S_COLON;
        else
            value_done(f);
        return true;
    }
    if (c == '\\') {
        f->state = S_ESC;
        return true;
    }
    if (c < 0x20)
        return false;
    if (c < 0x80)
        return true;
    /* UTF-8 lead bytes, with the ranges that rule out overlong forms and surrogates. */
    f->u_lo = 0x80;
    f->u_hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        f->u_need = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
        f->u_need = 2;
        if (c == 0xe0)
            f->u_lo = 0xa0;
        else if (c == 0xed)
            f->u_hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        f->u_need = 3;
        if (c == 0xf0)
            f->u_lo = 0x90;
        else if (c == 0xf4)
            f->u_hi = 0x8f;
    } else {
        return false;
    }
    return true;
}

/* A byte while a number is open.  *ended says the byte is not part of the number (which was
 * complete) and must be handled by the enclosing state. */
static bool number_byte(struct osr_jsonfsm *f, unsigned char c, bool *ended)
{
    *ended = false;
    enum num_phase ph = (enum num_phase)f->sub;
    bool digit = is_digit(c);
    enum num_phase next = ph;
    bool ok = true;
    switch (ph) {
    case N_MINUS:
        ok = digit;
        next = c == '0' ? N_ZERO : N_INT;
        break;
    case N_ZERO:
    case N_INT:
        if (digit && ph == N_INT)
            next = N_INT;
        else if (c == '.')
            next = N_DOT;
        else if (c == 'e' || c == 'E')
            next = N_E;
        else
            *ended = true;
        break;
    case N_DOT:
        ok = digit;
        next = N_FRAC;
        break;
    case N_FRAC:
        if (digit)
            next = N_FRAC;
        else if (c == 'e' || c == 'E')
            next = N_E;
        else
            *ended = true;
        break;
    case N_E:
        ok = digit || c == '+' || c == '-';
        next = digit ? N_EXP : N_ESIGN;
        break;
    case N_ESIGN:
        ok = digit;
        next = N_EXP;
        break;
    case N_EXP:
        if (digit)
            next = N_EXP;
        else
            *ended = true;
        break;
    }
    if (*ended || !ok)
        return ok;
    if (f->u_lo >= OSR_JSONFSM_MAX_NUM)
        return false;
    if (digit && (next == N_INT || (ph == N_MINUS))) {
        /* Integers stay within 64 bits (osr_json_parse refuses larger ones). */
        if (f->u_hi >= OSR_JSONFSM_MAX_INT_DIGITS)
            return false;
        f->u_hi++;
    }
    f->u_lo++;
    f->sub = (uint8_t)next;
    return true;
}

static bool number_terminal(const struct osr_jsonfsm *f)
{
    return f->sub == N_ZERO || f->sub == N_INT || f->sub == N_FRAC || f->sub == N_EXP;
}

bool osr_jsonfsm_push(struct osr_jsonfsm *f, unsigned char c)
{
    switch ((enum state)f->state) {
    case S_STR:
        return string_byte(f, c);
    case S_ESC:
        if (c == 'u') {
            f->state = S_HEX;
            f->sub = 4;
            return true;
        }
        if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' ||
            c == 't') {
            f->state = S_STR;
            return true;
        }
        return false;
    case S_HEX:
        if (!is_hex(c))
            return false;
        if (--f->sub == 0)
            f->state = S_STR;
        return true;
    case S_LIT: {
        const char *lit = LITERALS[f->u_need];
        if ((unsigned char)lit[f->sub] != c)
            return false;
        if (lit[++f->sub] == '\0')
            value_done(f);
        return true;
    }
    case S_NUM: {
        bool ended;
        if (!number_byte(f, c, &ended))
            return false;
        if (!ended)
            return true;
        if (!number_terminal(f))
            return false;
        value_done(f);
        break; /* the byte belongs to the enclosing state */
    }
    case S_DONE:
        return false;
    default:
        break;
    }

    /* Structural states: whitespace, then the byte's meaning in the state. */
    if (is_ws(c)) {
        if (f->depth == 0 || f->state == S_DONE || f->ws >= OSR_JSONFSM_MAX_WS)
            return false;
        f->ws++;
        return true;
    }
    f->ws = 0;
    switch ((enum state)f->state) {
    case S_VALUE:
        return value_start(f, c);
    case S_ARR_FIRST:
        return c == ']' ? close_container(f, false) : value_start(f, c);
    case S_OBJ_FIRST:
        if (c == '}')
            return close_container(f, true);
        if (c != '"')
            return false;
        open_string(f, true);
        return true;
    case S_OBJ_KEY:
        if (c != '"')
            return false;
        open_string(f, true);
        return true;
    case S_COLON:
        if (c != ':')
            return false;
        f->state = S_VALUE;
        return true;
    case S_AFTER:
        if (c == ',') {
            f->state = top_is_object(f) ? S_OBJ_KEY : S_VALUE;
            return true;
        }
        if (c == '}')
            return close_container(f, true);
        if (c == ']')
            return close_container(f, false);
        return false;
    default:
        return false;
    }
}

bool osr_jsonfsm_feed(struct osr_jsonfsm *f, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        if (!osr_jsonfsm_push(f, s[i]))
            return false;
    return true;
}

bool osr_jsonfsm_done(const struct osr_jsonfsm *f)
{
    return f->state == S_DONE || (f->state == S_NUM && f->depth == 0 && number_terminal(f));
}

unsigned osr_jsonfsm_close_cost(const struct osr_jsonfsm *f)
{
    unsigned key = (f->flags & F_KEY) ? 3 : 0; /* a key still needs ':' and a value ("") */
    unsigned n = f->depth;                     /* one closer per open container */
    switch ((enum state)f->state) {
    case S_STR:
        return n + f->u_need + 1 + key;
    case S_ESC:
        return n + 2 + key;
    case S_HEX:
        return n + f->sub + 1 + key;
    case S_NUM:
        return n + (number_terminal(f) ? 0 : 1);
    case S_LIT:
        return n + (unsigned)strlen(LITERALS[f->u_need]) - f->sub;
    case S_VALUE:
        return n + 2;
    case S_OBJ_KEY:
        return n + 5;
    case S_COLON:
        return n + 3;
    case S_DONE:
        return 0;
    default:
        return n;
    }
}

bool osr_jsonfsm_closed(const struct osr_jsonfsm *f)
{
    return f->state == S_DONE;
}

bool osr_jsonfsm_in_string(const struct osr_jsonfsm *f)
{
    return f->state == S_STR || f->state == S_ESC || f->state == S_HEX;
}

bool osr_jsonfsm_in_plain_string(const struct osr_jsonfsm *f)
{
    return f->state == S_STR && f->u_need == 0;
}
