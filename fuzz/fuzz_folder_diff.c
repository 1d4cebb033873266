/* fuzz_folder_diff.c - the unified diff of file_write / file_edit on arbitrary texts.  The
 * input is two texts separated by the first NUL byte (no NUL: the second text is empty); the
 * first byte's low bits pick the output cap, so the cut-at-the-cap path is exercised too.
 * Beyond memory errors it checks that equal texts give no diff, different texts a diff that
 * starts with its header, the cap holds, and that an uncut diff applied to the first text
 * gives the second (when neither holds a NUL, which the small applier cannot carry). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/agent/diff_apply.h"
#include "osr/alloc.h"
#include "osr/buf.h"
#include "osr/folder_tools.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    static const size_t caps[] = {16, 200, 4096, 1 << 20};
    size_t cap = caps[data[0] & 3];
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    const char *sep = memchr(s, '\0', n);
    size_t na = sep ? (size_t)(sep - s) : n;
    const char *b = sep ? sep + 1 : s + n;
    size_t nb = sep ? n - na - 1 : 0;
    struct osr_buf out;
    osr_buf_init(&out, cap);
    int rc = osr_folder_diff(s, na, (data[0] & 4) == 0, b, nb, true, "f", &out);
    bool same = na == nb && memcmp(s, b, na) == 0;
    if (rc == OSR_OK && same && out.len != 0)
        abort();
    if (rc == OSR_OK && !same && (out.len < 4 || memcmp(out.data, "--- ", 4) != 0))
        abort();
    if (out.len > cap)
        abort();
    if (rc == OSR_OK && (data[0] & 4) == 0 && !memchr(b, '\0', nb)) {
        char *ta = osr_xstrndup(s, na), *tb = osr_xstrndup(b, nb);
        char *got = diff_apply(ta, osr_buf_str(&out));
        if (!got || strcmp(got, tb) != 0)
            abort();
        free(got);
        free(ta);
        free(tb);
    }
    osr_buf_release(&out);
    return 0;
}
