/* folder_diff.c - the unified diffs shown by file_write and file_edit.
 *
 * Lines are compared whole, newline included, so a change to the last line's missing newline
 * is a change.  The common head and tail are stripped first (an edit usually touches a few
 * lines of a long file), then Myers' O(ND) greedy algorithm finds a shortest edit script of
 * the middle, keeping each round's diagonal frontier for the backtrack (memory grows with the
 * square of the edit distance, hence the cap on it).  Past the caps the middle is shown as
 * removed and re-added, which is still a correct diff, only a longer one.  It does not
 * detect moves, ignore whitespace or produce anything but unified format with 3 lines of
 * context; it does no I/O.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osr/alloc.h"
#include "osr/folder_tools.h"

#define DIFF_CONTEXT 3

struct line {
    const char *p;
    size_t n; /* bytes, the '\n' included when there is one */
    uint64_t hash;
};

struct side {
    struct line *lines;
    size_t n;
    unsigned char *changed; /* per line: deleted (side a) or inserted (side b) */
};

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Splits text into lines; false when there are more than OSR_DIFF_MAX_LINES. */
static bool split_lines(const char *s, size_t n, struct side *out)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\n')
            count++;
    if (n > 0 && s[n - 1] != '\n')
        count++;
    if (count > OSR_DIFF_MAX_LINES)
        return false;
    out->lines = osr_xcalloc(count ? count : 1, sizeof(*out->lines));
    out->changed = osr_xcalloc(count ? count : 1, 1);
    out->n = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n ? i > start : s[i] == '\n') {
            size_t end = i == n ? n : i + 1;
            struct line *l = &out->lines[out->n++];
            l->p = s + start;
            l->n = end - start;
            l->hash = hash_bytes(l->p, l->n);
            start = end;
        }
    }
    return true;
}

static bool same(const struct line *x, const struct line *y)
{
    return x->hash == y->hash && x->n == y->n && memcmp(x->p, y->p, x->n) == 0;
}

/* Myers over a[a0..a1) and b[b0..b1); marks the changed lines.  false when the edit distance
 * is above OSR_DIFF_MAX_EDITS (nothing marked). */
static bool myers(struct side *a, size_t a0, size_t a1, struct side *b, size_t b0, size_t b1)
{
    long n = (long)(a1 - a0), m = (long)(b1 - b0);
    long dmax = n + m < OSR_DIFF_MAX_EDITS ? n + m : OSR_DIFF_MAX_EDITS;
    long off = dmax + 1; /* v[k + off] for k in -(dmax+1)..dmax+1 */
    int32_t *v = osr_xcalloc((size_t)(2 * off + 1), sizeof(*v));
    /* trace[d] holds v[-(d+1)..d+1] as it was before round d: 2d+3 values at offset d*d+2d. */
    size_t trace_cap = 64, trace_len = 0;
    int32_t *trace = osr_xmalloc(trace_cap * sizeof(*trace));
    long found = -1;
    v[1 + off] = 0;
    for (long d = 0; d <= dmax && found < 0; d++) {
        size_t need = (size_t)(2 * d + 3);
        if (trace_len + need > trace_cap) {
            while (trace_len + need > trace_cap)
                trace_cap *= 2;
            trace = osr_xrealloc(trace, trace_cap * sizeof(*trace));
        }
        memcpy(trace + trace_len, v + off - (d + 1), need * sizeof(*v));
        trace_len += need;
        for (long k = -d; k <= d; k += 2) {
            long x = (k == -d || (k != d && v[k - 1 + off] < v[k + 1 + off])) ? v[k + 1 + off]
                                                                              : v[k - 1 + off] + 1;
            long y = x - k;
            while (x < n && y < m && same(&a->lines[a0 + (size_t)x], &b->lines[b0 + (size_t)y])) {
                x++;
                y++;
            }
            v[k + off] = (int32_t)x;
            if (x >= n && y >= m) {
                found = d;
                break;
            }
        }
    }
    if (found >= 0) {
        long x = n, y = m;
        for (long d = found; d > 0; d--) {
            const int32_t *tv = trace + d * d + 2 * d; /* tv[k + d + 1] is v[k] */
            long k = x - y;
            long pk =
                (k == -d || (k != d && tv[k - 1 + d + 1] < tv[k + 1 + d + 1])) ? k + 1 : k - 1;
            long px = tv[pk + d + 1], py = px - pk;
            while (x > px && y > py) {
                x--;
                y--;
            }
            if (x == px)
                b->changed[b0 + (size_t)py] = 1; /* a step down: b[py] inserted */
            else
                a->changed[a0 + (size_t)px] = 1; /* a step right: a[px] deleted */
            x = px;
            y = py;
        }
    }
    free(trace);
    free(v);
    return found >= 0;
}

/* Appends one line with its prefix; false (nothing appended) when it would pass the cap. */
static bool put_line(struct osr_buf *out, char prefix, const struct line *l)
{
    bool nl = l->n > 0 && l->p[l->n - 1] == '\n';
    size_t body = nl ? l->n - 1 : l->n;
    static const char no_nl[] = "\\ No newline at end of file\n";
    size_t need = 1 + body + 1 + (nl ? 0 : sizeof(no_nl) - 1);
    if (out->len + need > out->max)
        return false;
    osr_buf_putc(out, prefix);
    osr_buf_append(out, l->p, body);
    osr_buf_putc(out, '\n');
    if (!nl)
        osr_buf_puts(out, no_nl);
    return true;
}

struct block {
    size_t a0, a1, b0, b1; /* a[a0..a1) replaced by b[b0..b1) */
};

static int emit(struct side *a, struct side *b, const char *path, bool a_exists, bool b_exists,
                struct osr_buf *out)
{
    /* Collect the change blocks: unchanged lines of a and b pair up in order. */
    size_t nblocks = 0, cap = 16;
    struct block *blocks = osr_xmalloc(cap * sizeof(*blocks));
    size_t i = 0, j = 0;
    while (i < a->n || j < b->n) {
        bool di = i < a->n && a->changed[i], ij = j < b->n && b->changed[j];
        if (!di && !ij) {
            i++;
            j++;
            continue;
        }
        struct block blk = {i, i, j, j};
        while ((i < a->n && a->changed[i]) || (j < b->n && b->changed[j])) {
            while (i < a->n && a->changed[i])
                i++;
            while (j < b->n && b->changed[j])
                j++;
        }
        blk.a1 = i;
        blk.b1 = j;
        if (nblocks == cap) {
            cap *= 2;
            blocks = osr_xrealloc(blocks, cap * sizeof(*blocks));
        }
        blocks[nblocks++] = blk;
    }
    int rc = OSR_OK;
    if (nblocks == 0)
        goto out;
    if (osr_buf_appendf(out, "--- %s%s\n+++ %s%s\n", a_exists ? "a/" : "",
                        a_exists ? path : "/dev/null", b_exists ? "b/" : "",
                        b_exists ? path : "/dev/null")) {
        rc = OSR_ETOOBIG;
        goto out;
    }
    for (size_t h = 0; h < nblocks;) {
        size_t last = h;
        while (last + 1 < nblocks && blocks[last + 1].a0 - blocks[last].a1 <= 2 * DIFF_CONTEXT)
            last++;
        size_t sa = blocks[h].a0 > DIFF_CONTEXT ? blocks[h].a0 - DIFF_CONTEXT : 0;
        size_t sb = blocks[h].b0 - (blocks[h].a0 - sa);
        size_t ea = blocks[last].a1 + DIFF_CONTEXT < a->n ? blocks[last].a1 + DIFF_CONTEXT : a->n;
        size_t eb = blocks[last].b1 + (ea - blocks[last].a1);
        size_t la = ea - sa, lb = eb - sb;
        char hdr[96];
        char ra[40], rb[40];
        if (la == 1)
            snprintf(ra, sizeof(ra), "%zu", sa + 1);
        else
            snprintf(ra, sizeof(ra), "%zu,%zu", la ? sa + 1 : sa, la);
        if (lb == 1)
            snprintf(rb, sizeof(rb), "%zu", sb + 1);
        else
            snprintf(rb, sizeof(rb), "%zu,%zu", lb ? sb + 1 : sb, lb);
        snprintf(hdr, sizeof(hdr), "@@ -%s +%s @@\n", ra, rb);
        if (osr_buf_puts(out, hdr)) {
            rc = OSR_ETOOBIG;
            goto out;
        }
        i = sa;
        j = sb;
        while (i < ea || j < eb) {
            bool ok = true;
            if (i < ea && a->changed[i])
                ok = put_line(out, '-', &a->lines[i++]);
            else if (j < eb && b->changed[j])
                ok = put_line(out, '+', &b->lines[j++]);
            else {
                ok = put_line(out, ' ', &a->lines[i]);
                i++;
                j++;
            }
            if (!ok) {
                rc = OSR_ETOOBIG;
                goto out;
            }
        }
        h = last + 1;
    }
out:
    free(blocks);
    return rc;
}

int osr_folder_diff(const char *a, size_t na, bool a_exists, const char *b, size_t nb,
                    bool b_exists, const char *path, struct osr_buf *out)
{
    struct side sa = {0}, sb = {0};
    int rc = OSR_OK;
    bool split = split_lines(a, na, &sa) && split_lines(b, nb, &sb);
    if (!split) {
        /* Too many lines to diff line by line: say so in one line instead. */
        rc = osr_buf_appendf(out, "--- a/%s\n+++ b/%s\n(files of more than %d lines differ)\n",
                             path, path, OSR_DIFF_MAX_LINES);
        goto out;
    }
    size_t head = 0;
    while (head < sa.n && head < sb.n && same(&sa.lines[head], &sb.lines[head]))
        head++;
    size_t tail = 0;
    while (tail < sa.n - head && tail < sb.n - head &&
           same(&sa.lines[sa.n - 1 - tail], &sb.lines[sb.n - 1 - tail]))
        tail++;
    if (!myers(&sa, head, sa.n - tail, &sb, head, sb.n - tail)) {
        memset(sa.changed + head, 1, sa.n - tail - head);
        memset(sb.changed + head, 1, sb.n - tail - head);
    }
    rc = emit(&sa, &sb, path, a_exists, b_exists, out);
out:
    free(sa.lines);
    free(sa.changed);
    free(sb.lines);
    free(sb.changed);
    return rc;
}
