/* fuzz_json_constraint.c - the JSON automaton of constrained decoding on arbitrary bytes.
 *
 * The first byte picks the mode (top-level object required or any value); the rest is fed a
 * byte at a time until the automaton refuses one.  Whatever it calls complete must be JSON that
 * json-c parses (an object in object mode).  Then the accepted prefix is closed the short way
 * the constraint takes when the token budget runs out: the prefix plus those bytes must be
 * complete for the automaton and parse (as an object in object mode), and be no longer than
 * the automaton's cost bound. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osr/err.h"
#include "osr/json.h"

/* Compiled in so a libFuzzer build instruments them (see fuzz_json.c). */
#include "engine/constrain.c"
#include "engine/jsonfsm.c"

static void must_parse(const uint8_t *p, size_t n, bool object)
{
    struct json_object *o = NULL;
    OSR_ASSERT(osr_json_parse((const char *)p, n, &o, NULL) == OSR_OK);
    OSR_ASSERT(!object || json_object_is_type(o, json_type_object));
    json_object_put(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    bool object = data[0] & 1;
    const uint8_t *p = data + 1;
    size_t n = size - 1;

    struct osr_jsonfsm f;
    osr_jsonfsm_init(&f, object ? OSR_JSONFSM_OBJECT : 0);
    size_t k = 0;
    while (k < n) {
        struct osr_jsonfsm g = f;
        if (!osr_jsonfsm_push(&g, p[k]))
            break;
        f = g;
        k++;
        if (osr_jsonfsm_done(&f))
            must_parse(p, k, object);
    }

    /* Close the accepted prefix through a one-piece program, as constrain.c does: a JSON
     * object, or (bit 1 of the mode byte) any value. */
    bool any_value = !object && (data[0] & 2);
    if (!object && !any_value)
        return 0;
    struct osr_constrain_vocab v;
    memset(&v, 0, sizeof(v));
    v.n = 1;
    struct osr_constraint *c = osr_constraint_new(&v, NULL, 0);
    OSR_ASSERT((any_value ? osr_constraint_add_value(c, NULL)
                          : osr_constraint_add_json_object(c)) == OSR_OK);
    bool fits = k == 0 || osr_constraint_try(c, p, k);
    OSR_ASSERT(fits);
    struct cstate s = c->cur;
    OSR_ASSERT(push_all(c, &s, p, k));
    if (s.seg < c->n_segs) {
        char tail[CLOSE_MAX];
        long t = close_piece(c, &s, tail, sizeof(tail));
        OSR_ASSERT(t >= 0);
        OSR_ASSERT(s.seg >= c->n_segs);
        uint8_t *all = malloc(k + (size_t)t);
        OSR_ASSERT(all != NULL);
        memcpy(all, p, k);
        memcpy(all + k, tail, (size_t)t);
        struct osr_jsonfsm h;
        osr_jsonfsm_init(&h, object ? OSR_JSONFSM_OBJECT : 0);
        OSR_ASSERT(osr_jsonfsm_feed(&h, all, k + (size_t)t) && osr_jsonfsm_done(&h));
        /* The cost bound the budget logic trusts really bounds the ending. */
        OSR_ASSERT(t <= (long)osr_jsonfsm_close_cost(&f) || (any_value && k == 0 && t <= 4));
        must_parse(all, k + (size_t)t, object);
        free(all);
    }
    osr_constraint_free(c);
    return 0;
}
