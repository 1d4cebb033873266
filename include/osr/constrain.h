/* constrain.h - constrained decoding: which tokens may come next so the answer keeps a shape.
 *
 * Two objects:
 *   struct osr_constrain_vocab  every token's decoded bytes, computed once per loaded model and
 *                               grouped by first byte, so a step can skip whole groups whose
 *                               first byte the grammar refuses.  Control, unknown and unused
 *                               tokens (and marker-like user-defined tokens such as
 *                               "<tool_call>") have no bytes here: the mask never allows them.
 *   struct osr_constraint       one request's program: a sequence of pieces - literal text,
 *                               one special token, a choice among names (a JSON string body
 *                               and its closing quote), a JSON object or any JSON value
 *                               (jsonfsm.h), or the shape a JSON Schema gives - followed by
 *                               the end of the answer.
 * Each step of generation asks osr_constraint_next: when the program is at literal text or a
 * special token, it returns those tokens to feed as if sampled (the literal tokenized by the
 * model's tokenizer); otherwise it masks the logits (forbidden tokens become -INFINITY) and the
 * sampler chooses among the rest; osr_constraint_accept then advances the program by the
 * chosen token's bytes.  At the end only the end-of-generation ids are allowed.
 *
 * Memory: building allocates; osr_constraint_next and _accept allocate nothing except when
 * tokenizing a literal (the tokenizer's own scratch).  Thread rules: a vocab is immutable once
 * built and may be shared; a constraint belongs to one thread.
 */
#ifndef OSR_CONSTRAIN_H
#define OSR_CONSTRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osr/err.h"
#include "osr/str.h"
#include "osr/tokenizer.h"

struct osr_constrain_vocab;

/* Decodes every token of t (borrowed; must outlive the vocab).  The caller frees *out with
 * osr_constrain_vocab_free.  Returns OSR_OK, or OSR_ENOMEM / OSR_ETOOBIG for an absurd
 * vocabulary. */
int osr_constrain_vocab_new(const struct osr_tokenizer *t, struct osr_constrain_vocab **out);
void osr_constrain_vocab_free(struct osr_constrain_vocab *v);

/* The bytes the mask treats token id as (borrowed, valid while v lives); an empty view for a
 * token the mask never allows. */
struct osr_str osr_constrain_vocab_bytes(const struct osr_constrain_vocab *v, int32_t id);

struct osr_constraint;

/* Starts an empty program over v (borrowed).  eog (copied, at most 8) are the ids that end
 * generation: the only ones allowed once the program is complete. */
struct osr_constraint *osr_constraint_new(const struct osr_constrain_vocab *v, const int32_t *eog,
                                          size_t n_eog);
void osr_constraint_free(struct osr_constraint *c);

/* Program pieces, in order.  Each returns OSR_OK, OSR_EINVAL (an empty literal, a name
 * holding '"', '\\' or a control byte, no names, a token id out of range) or OSR_ETOOBIG (more
 * than 64 pieces).  Text and names are copied. */
int osr_constraint_add_literal(struct osr_constraint *c, const char *s, size_t n);
int osr_constraint_add_token(struct osr_constraint *c, int32_t id);
int osr_constraint_add_names(struct osr_constraint *c, const char *const *names, size_t n);
int osr_constraint_add_json_object(struct osr_constraint *c);
/* Any JSON value; first (borrowed, static) lists the bytes it may begin with, NULL: any. */
int osr_constraint_add_value(struct osr_constraint *c, const char *first);

/* Pieces for a JSON object following schema (borrowed during the call), as far as this
 * understands it: an object schema with "properties" and "required" gives exactly the
 * required keys in that order, each value following its own schema the same way (to 4 levels);
 * a string "enum" becomes a choice of names, a string "const" literal text, a "type" limits a
 * value's first byte (string, number, integer, boolean, null, object, array).  Anything else -
 * optional properties, patterns, bounds, item schemas - is free JSON.  A schema without a
 * "type", or an object schema without required properties, gives a free JSON object; a
 * top-level "type" other than object gives a value of that type.  Returns what the other adders
 * return. */
struct json_object;
int osr_constraint_add_schema(struct osr_constraint *c, struct json_object *schema);

enum osr_constraint_step {
    OSR_CONSTRAINT_SAMPLE = 0, /* logits were masked: sample, then call _accept */
    OSR_CONSTRAINT_FORCE = 1,  /* feed *forced (the program already advanced past them) */
    OSR_CONSTRAINT_END = 2,    /* complete, and no end-of-generation id exists: stop */
};

/* Decides the next step.  For SAMPLE, logits (n_vocab floats, written) get -INFINITY on every
 * forbidden token.  For FORCE, *forced / *n_forced (borrowed, valid until the next call) are
 * the tokens to feed.  Returns a step >= 0, or OSR_EINVAL when no token can continue the
 * program (a vocabulary that cannot spell it). */
int osr_constraint_next(struct osr_constraint *c, const struct osr_tokenizer *t, float *logits,
                        const int32_t **forced, size_t *n_forced);

/* Tells the program how many tokens the answer may still use (< 0: unlimited, the default).
 * When that barely covers the shortest way to the end, osr_constraint_next stops sampling and
 * forces that ending (the first matching name, closing quotes and brackets, "0" or "" for a
 * value still missing), so an answer cut short by the token limit still parses. */
void osr_constraint_set_budget(struct osr_constraint *c, long tokens);

/* Advances past a sampled token.  Returns false when its bytes do not fit the program (the
 * program is then left as it was). */
bool osr_constraint_accept(struct osr_constraint *c, int32_t id);

/* True when the program has reached its end. */
bool osr_constraint_complete(const struct osr_constraint *c);

/* Whether the bytes p..p+n could be the start of (or all of) the program's remaining text from
 * where it stands now; for tests and the fuzz target. */
bool osr_constraint_try(const struct osr_constraint *c, const void *p, size_t n);

#endif
