/* stopmatch.h - finding a client's stop strings in text that arrives in pieces.
 *
 * A stop string may be split across two deltas ("Hel" + "lo" for the stop "ello"), so text
 * that could still be the beginning of one is held back until the next delta decides.  Two
 * layers:
 *   - osr_stopmatch_find / osr_stopmatch_hold: the pure search over one block of text, for
 *     any set of markers (the local engine's output parser mixes stop strings with its own
 *     markers such as "<think>" and uses these directly);
 *   - struct osr_stopmatch: a streaming matcher over stop strings alone, as the cloud
 *     providers use it on the text deltas of an upstream answer.
 * Neither knows events or sinks; callers emit what they are handed.
 *
 * Thread rules: the functions are pure; a matcher belongs to one thread.
 */
#ifndef OSR_STOPMATCH_H
#define OSR_STOPMATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "osr/buf.h"
#include "osr/str.h"

/* Held-back and pending text of a matcher may not grow past this (a hostile upstream could
 * otherwise make it hold one endless delta). */
#define OSR_STOPMATCH_MAX ((size_t)32 * 1024 * 1024)

/* Returns the offset of the occurrence in s[0..n) of any of the k needles that ends first
 * (empty needles never match), or -1.  When two end at the same byte the longer wins.  This is
 * the first needle a stream would have completed, so the answer does not depend on how the
 * text was cut into pieces.  *which receives the winner's index (untouched when nothing
 * matches). */
long osr_stopmatch_find(const char *s, size_t n, const char *const *needles, size_t k,
                        size_t *which);

/* Returns the length of the longest tail of s[0..n) that is a proper prefix of one of the k
 * needles: the bytes to hold back because the next text may complete a needle. */
size_t osr_stopmatch_hold(const char *s, size_t n, const char *const *needles, size_t k);

struct osr_stopmatch {
    const char *const *stops; /* borrowed for the matcher's life */
    size_t n_stops;
    struct osr_buf pend; /* held back: may be the start of a stop string */
    struct osr_buf out;  /* what the last call handed out, when it had to be copied */
    const char *matched; /* the stop string found (one of stops), or NULL */
};

enum osr_stopmatch_status {
    OSR_STOPMATCH_MORE = 0, /* no stop string yet */
    OSR_STOPMATCH_HIT = 1,  /* a stop string matched: m->matched names it; drop what follows */
};

/* Initializes a matcher for n_stops stop strings (may be 0: every push passes its text
 * through untouched).  Allocates nothing until text has to be held back. */
void osr_stopmatch_init(struct osr_stopmatch *m, const char *const *stops, size_t n_stops);
void osr_stopmatch_release(struct osr_stopmatch *m);

/* Feeds n bytes.  *out receives the text that can be emitted now: everything before a match,
 * or everything that can no longer begin a stop string.  It points into s or into the
 * matcher and is valid until the next call.  Returns OSR_STOPMATCH_MORE, OSR_STOPMATCH_HIT
 * (also for every push after a hit, with nothing in *out), or OSR_ETOOBIG (nothing in *out)
 * when the held-back text would pass OSR_STOPMATCH_MAX. */
int osr_stopmatch_push(struct osr_stopmatch *m, const char *s, size_t n, struct osr_str *out);

/* Hands out the held-back text (the answer ended without completing a stop string) in *out,
 * valid until the next call, and empties the hold.  Nothing after a hit. */
void osr_stopmatch_flush(struct osr_stopmatch *m, struct osr_str *out);

/* True when text is being held back. */
static inline bool osr_stopmatch_holding(const struct osr_stopmatch *m)
{
    return m->pend.len > 0;
}

#endif
