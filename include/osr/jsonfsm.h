/* jsonfsm.h - an incremental JSON syntax automaton, one byte at a time.
 *
 * Used by constrained decoding (constrain.h) to ask "can this byte continue a valid JSON
 * text?" for every candidate token, so the state is a small plain struct that is copied freely
 * (no pointers, no allocation).  It checks syntax only: strings with escapes and well-formed
 * UTF-8, numbers, true/false/null, objects and arrays nested at most OSR_JSONFSM_MAX_DEPTH
 * deep.  To keep a sampler from looping, whitespace between tokens is limited to
 * OSR_JSONFSM_MAX_WS consecutive bytes, numbers to OSR_JSONFSM_MAX_NUM bytes (integer parts
 * to OSR_JSONFSM_MAX_INT_DIGITS digits, as the project's JSON parser keeps to 64 bits), and no
 * whitespace is accepted before the top-level value or after it.
 *
 * Thread rules: a state belongs to its owner; the functions keep no global state.
 */
#ifndef OSR_JSONFSM_H
#define OSR_JSONFSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OSR_JSONFSM_MAX_DEPTH 64
#define OSR_JSONFSM_MAX_WS 8
#define OSR_JSONFSM_MAX_NUM 40
#define OSR_JSONFSM_MAX_INT_DIGITS 18 /* any 18-digit integer fits in int64 */

/* osr_jsonfsm_init flags. */
#define OSR_JSONFSM_OBJECT 1u /* the top-level value must be an object */

struct osr_jsonfsm {
    uint64_t stack; /* bit d set: the container at depth d + 1 is an object */
    uint8_t depth;  /* open containers */
    uint8_t state;  /* private: enum state in jsonfsm.c */
    uint8_t sub;    /* private: progress inside a literal, number or \u escape */
    uint8_t ws;     /* consecutive whitespace bytes */
    uint8_t flags;  /* OSR_JSONFSM_* and private bits */
    uint8_t u_need; /* UTF-8 continuation bytes still expected inside a string */
    uint8_t u_lo;   /* allowed range of the next continuation byte */
    uint8_t u_hi;
};

/* Starts a state expecting one JSON value. */
void osr_jsonfsm_init(struct osr_jsonfsm *f, unsigned flags);

/* Feeds one byte.  Returns true when the text so far is still the prefix of a valid JSON
 * value (within the caps above); on false the state is left unspecified and must not be fed
 * again. */
bool osr_jsonfsm_push(struct osr_jsonfsm *f, unsigned char c);

/* Feeds n bytes; false as soon as one is refused. */
bool osr_jsonfsm_feed(struct osr_jsonfsm *f, const void *p, size_t n);

/* True when the bytes so far form one complete JSON value (a top-level number counts: it
 * could also go on). */
bool osr_jsonfsm_done(const struct osr_jsonfsm *f);

/* An upper bound on the bytes that complete the value from here the short way (close the
 * string, give a missing value "", close every container). */
unsigned osr_jsonfsm_close_cost(const struct osr_jsonfsm *f);

/* True when the value is complete and nothing can extend it (everything but a number). */
bool osr_jsonfsm_closed(const struct osr_jsonfsm *f);

/* True inside a string (also after a backslash or within a \u escape). */
bool osr_jsonfsm_in_string(const struct osr_jsonfsm *f);

/* True when the next byte is plain string content: inside a string, not after a backslash,
 * not inside a multi-byte character.  Any byte 0x20..0x7e other than '"' and '\\' is then
 * accepted without changing anything but the state's identity. */
bool osr_jsonfsm_in_plain_string(const struct osr_jsonfsm *f);

#endif
