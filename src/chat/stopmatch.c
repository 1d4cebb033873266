/* stopmatch.c - stop strings in streamed text (see stopmatch.h).
 *
 * A match is the occurrence that ends first, not the one that begins first: a stream has to
 * decide as soon as a stop string is complete, so for overlapping ones ("abcd" and "bc" in
 * "abcd") this is the only rule that gives the same answer however the text was cut.
 *
 * The search is plain memmem per needle: a request carries at most OSR_CHAT_MAX_STOP stop
 * strings and the text searched at once is one delta plus a short held-back tail, so nothing
 * cleverer pays.  The streaming matcher copies only when it holds text back; a delta that
 * neither holds nor completes a stop string is handed back as the caller's own bytes.  It does
 * not look at tokens or UTF-8: a held-back tail starts where a stop string would start, so
 * text cut there ends on the same character boundary the stop string begins on.
 */
#include <string.h>

#include "osr/err.h"
#include "osr/stopmatch.h"

long osr_stopmatch_find(const char *s, size_t n, const char *const *needles, size_t k,
                        size_t *which)
{
    long best = -1;
    size_t best_end = 0;
    for (size_t i = 0; i < k; i++) {
        size_t m = strlen(needles[i]);
        if (m == 0 || m > n)
            continue;
        /* Only occurrences ending no later than the best so far can win. */
        size_t span = best < 0 ? n : best_end;
        if (m > span)
            continue;
        const char *at = memmem(s, span, needles[i], m);
        if (!at)
            continue;
        size_t off = (size_t)(at - s);
        if (best < 0 || off + m < best_end || (off + m == best_end && (long)off < best)) {
            best = (long)off;
            best_end = off + m;
            *which = i;
        }
    }
    return best;
}

size_t osr_stopmatch_hold(const char *s, size_t n, const char *const *needles, size_t k)
{
    size_t hold = 0;
    for (size_t i = 0; i < k; i++) {
        size_t m = strlen(needles[i]);
        if (m < 2)
            continue; /* a one-byte needle is either there or not */
        size_t most = m - 1 < n ? m - 1 : n;
        for (size_t t = most; t > hold; t--)
            if (memcmp(s + n - t, needles[i], t) == 0) {
                hold = t;
                break;
            }
    }
    return hold;
}

void osr_stopmatch_init(struct osr_stopmatch *m, const char *const *stops, size_t n_stops)
{
    m->stops = stops;
    m->n_stops = n_stops;
    osr_buf_init(&m->pend, OSR_STOPMATCH_MAX);
    osr_buf_init(&m->out, OSR_STOPMATCH_MAX);
    m->matched = NULL;
}

void osr_stopmatch_release(struct osr_stopmatch *m)
{
    osr_buf_release(&m->pend);
    osr_buf_release(&m->out);
    m->matched = NULL;
}

/* Copies t[0..n) to m->out and points *out at it. */
static int hand_out(struct osr_stopmatch *m, const char *t, size_t n, struct osr_str *out)
{
    osr_buf_reset(&m->out);
    if (osr_buf_append(&m->out, t, n))
        return OSR_ETOOBIG;
    *out = osr_str_make(osr_buf_str(&m->out), m->out.len);
    return OSR_OK;
}

int osr_stopmatch_push(struct osr_stopmatch *m, const char *s, size_t n, struct osr_str *out)
{
    *out = osr_str_make("", 0);
    if (m->matched)
        return OSR_STOPMATCH_HIT;
    if (m->n_stops == 0) {
        *out = osr_str_make(s, n);
        return OSR_STOPMATCH_MORE;
    }
    const char *t = s;
    size_t tn = n;
    bool held = m->pend.len > 0;
    if (held) {
        if (osr_buf_append(&m->pend, s, n))
            return OSR_ETOOBIG;
        t = m->pend.data;
        tn = m->pend.len;
    }
    size_t which = 0;
    long at = osr_stopmatch_find(t, tn, m->stops, m->n_stops, &which);
    size_t give = 0, keep_from = tn;
    if (at >= 0) {
        m->matched = m->stops[which];
        give = (size_t)at;
    } else {
        give = tn - osr_stopmatch_hold(t, tn, m->stops, m->n_stops);
        keep_from = give;
    }
    if (!held) {
        /* The caller's own bytes; only a new tail is copied. */
        if (keep_from < tn && osr_buf_append(&m->pend, t + keep_from, tn - keep_from))
            return OSR_ETOOBIG;
        *out = osr_str_make(s, give);
    } else {
        int rc = hand_out(m, t, give, out);
        if (rc)
            return rc;
        /* Keep the undecided tail at the front of pend (nothing of it after a match). */
        size_t tail = tn - keep_from;
        if (tail)
            memmove(m->pend.data, m->pend.data + keep_from, tail);
        m->pend.len = tail;
        m->pend.data[tail] = '\0';
    }
    if (m->matched)
        osr_buf_reset(&m->pend);
    return m->matched ? OSR_STOPMATCH_HIT : OSR_STOPMATCH_MORE;
}

void osr_stopmatch_flush(struct osr_stopmatch *m, struct osr_str *out)
{
    *out = osr_str_make("", 0);
    if (m->matched || m->pend.len == 0)
        return;
    /* out's cap equals pend's, so the copy cannot fail. */
    if (hand_out(m, m->pend.data, m->pend.len, out) != OSR_OK)
        *out = osr_str_make("", 0);
    osr_buf_reset(&m->pend);
}
