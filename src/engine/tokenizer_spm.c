/* tokenizer_spm.c - SentencePiece-style encoding (llama 2, mistral, phi-3, gemma vocabularies).
 *
 * Spaces become "▁" (U+2581), optionally with one prepended.  The text starts as one symbol per
 * UTF-8 character; adjacent symbols whose concatenation is a vocabulary token are merged,
 * always taking the candidate with the highest score first (ties: leftmost).  Each final symbol
 * is its token, or, when a single character is not in the vocabulary, one byte token (<0xNN>)
 * per byte.  This file does not handle special tokens (tokenizer.c cuts them out first).
 */
#include <stdlib.h>
#include <string.h>

#include "osr/alloc.h"
#include "tokenizer_impl.h"

struct spm_sym {
    int32_t prev, next;
    const char *text;
    size_t n;
};

static int try_bigram(const struct osr_tokenizer *t, const struct spm_sym *syms, int32_t left,
                      int32_t right, struct tok_heap *heap)
{
    if (left < 0 || right < 0)
        return OSR_OK;
    size_t n = syms[left].n + syms[right].n;
    /* symbols are adjacent in the text, so their concatenation is contiguous */
    int32_t id = osr_tok_lookup(t, syms[left].text, n);
    if (id < 0)
        return OSR_OK;
    double score = t->scores ? t->scores[id] : 0.0;
    return osr_tok_heap_push(heap, (struct tok_bigram){score, left, right, n});
}

static int emit_symbol(const struct osr_tokenizer *t, const struct spm_sym *s, struct tok_vec *out)
{
    int32_t id = osr_tok_lookup(t, s->text, s->n);
    if (id >= 0)
        return osr_tok_vec_push(out, id);
    for (size_t i = 0; i < s->n; i++) {
        int32_t b = t->byte_token[(unsigned char)s->text[i]];
        if (b < 0)
            b = t->unk;
        if (b < 0)
            continue;
        int rc = osr_tok_vec_push(out, b);
        if (rc)
            return rc;
    }
    return OSR_OK;
}

int osr_tok_spm_encode(const struct osr_tokenizer *t, const char *text, size_t n, bool add_prefix,
                       struct tok_vec *out)
{
    /* escape: ' ' -> "▁" (3 bytes), so at most 3n + 3 bytes */
    size_t cap = 3 * n + 4;
    char *buf = malloc(cap);
    struct spm_sym *syms = NULL;
    struct tok_heap heap = {0};
    int rc = OSR_OK;
    if (!buf)
        return OSR_ENOMEM;
    size_t len = 0;
    if (add_prefix) {
        memcpy(buf, "\xe2\x96\x81", 3);
        len = 3;
    }
    for (size_t i = 0; i < n; i++) {
        if (text[i] == ' ') {
            memcpy(buf + len, "\xe2\x96\x81", 3);
            len += 3;
        } else {
            buf[len++] = text[i];
        }
    }
    if (len == 0)
        goto out;
    syms = malloc(len * sizeof(*syms));
    if (!syms) {
        rc = OSR_ENOMEM;
        goto out;
    }
    int32_t count = 0;
    for (size_t off = 0; off < len;) {
        size_t l = osr_tok_utf8_len((unsigned char)buf[off]);
        if (l > len - off)
            l = len - off;
        syms[count] = (struct spm_sym){count - 1, off + l == len ? -1 : count + 1, buf + off, l};
        count++;
        off += l;
    }
    for (int32_t i = 1; i < count; i++)
        if ((rc = try_bigram(t, syms, i - 1, i, &heap)))
            goto out;
    struct tok_bigram b;
    while (osr_tok_heap_pop(&heap, &b)) {
        struct spm_sym *l = &syms[b.left], *r = &syms[b.right];
        /* stale: one side was merged away or grew since this candidate was queued */
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size)
            continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            syms[r->next].prev = b.left;
        if ((rc = try_bigram(t, syms, l->prev, b.left, &heap)) ||
            (rc = try_bigram(t, syms, b.left, l->next, &heap)))
            goto out;
    }
    for (int32_t i = 0; i != -1; i = syms[i].next)
        if ((rc = emit_symbol(t, &syms[i], out)))
            goto out;
out:
    osr_tok_heap_release(&heap);
    free(syms);
    free(buf);
    return rc;
}
