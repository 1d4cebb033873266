/* diff_apply.h - a small patch(1) for unified diffs, enough to check osr_folder_diff's
 * output by applying it back (shared by the folder tools test and the diff fuzz target).
 * Test code: it trusts the diff's shape and only reports whether the lines match. */
#ifndef OSR_TEST_DIFF_APPLY_H
#define OSR_TEST_DIFF_APPLY_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "osr/buf.h"

/* Applies a unified diff to a; returns the result (caller frees) or NULL when it does not
 * apply.  Enough of patch(1) to check our own output. */
static inline char *diff_apply(const char *a, const char *diff)
{
    struct osr_buf r;
    osr_buf_init(&r, 1 << 24);
    const char *ap = a; /* the next unread line of a */
    size_t aline = 0;   /* lines of a consumed */
    const char *d = diff;
    bool ok = true;
    char last = 0;        /* the kind of the previous hunk line */
    bool in_hunk = false; /* past the first "@@": "--- x" is then a removed "-- x" */
    while (*d && ok) {
        const char *nl = strchr(d, '\n');
        size_t n = nl ? (size_t)(nl - d) : strlen(d);
        if (!in_hunk && (strncmp(d, "--- ", 4) == 0 || strncmp(d, "+++ ", 4) == 0)) {
            d += n + (nl ? 1 : 0);
            continue;
        }
        if (strncmp(d, "@@ -", 4) == 0) {
            char *end = NULL;
            long s = strtol(d + 4, &end, 10);
            long l = 1;
            if (*end == ',')
                l = strtol(end + 1, &end, 10);
            size_t start = l == 0 ? (size_t)s : (size_t)s - 1;
            while (aline < start && *ap) {
                const char *e = strchr(ap, '\n');
                size_t len = e ? (size_t)(e - ap) + 1 : strlen(ap);
                osr_buf_append(&r, ap, len);
                ap += len;
                aline++;
            }
            ok = aline == start;
            in_hunk = true;
            d += n + (nl ? 1 : 0);
            continue;
        }
        if (d[0] == '\\') { /* no newline at the end of the previous line */
            /* Only an added line was written with a newline of its own; removed and context
             * lines come from a as they are. */
            if (last == '+' && r.len > 0 && r.data[r.len - 1] == '\n')
                r.data[--r.len] = '\0';
            d += n + (nl ? 1 : 0);
            continue;
        }
        last = d[0];
        const char *e = strchr(ap, '\n');
        size_t alen = e ? (size_t)(e - ap) : strlen(ap);
        if (d[0] == ' ' || d[0] == '-') {
            ok = alen == n - 1 && memcmp(ap, d + 1, alen) == 0 && *ap;
            if (d[0] == ' ')
                osr_buf_append(&r, ap, alen + (e ? 1 : 0));
            ap += alen + (e ? 1 : 0);
            aline++;
        } else if (d[0] == '+') {
            osr_buf_append(&r, d + 1, n - 1);
            osr_buf_putc(&r, '\n');
        } else {
            ok = false;
        }
        d += n + (nl ? 1 : 0);
    }
    osr_buf_puts(&r, ap);
    if (!ok) {
        osr_buf_release(&r);
        return NULL;
    }
    if (!r.data)
        osr_buf_puts(&r, "");
    return osr_buf_detach(&r, NULL);
}

#endif
