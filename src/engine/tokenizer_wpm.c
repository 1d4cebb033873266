/* tokenizer_wpm.c - WordPiece encoding for BERT-style vocabularies (bge, nomic, jina, ...).
 *
 * Normalization follows BERT's uncased tokenizer: control characters are dropped, whitespace
 * separates words, text is decomposed (NFD, via utf8proc) with the combining marks removed and
 * lower-cased; every punctuation character and every CJK ideograph is a word by itself.  Each
 * word, with the "▁" that GGUF vocabularies use to mark a word start, is then cut greedily
 * into the longest vocabulary pieces; a word that cannot be cut becomes the unknown token.
 * Special tokens are handled in tokenizer.c; CLS/SEP are added there too.
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "osr/alloc.h"
#include "tokenizer_impl.h"

static bool is_ws(utf8proc_int32_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
           utf8proc_category(c) == UTF8PROC_CATEGORY_ZS;
}

static bool is_control(utf8proc_int32_t c)
{
    utf8proc_category_t cat = utf8proc_category(c);
    return cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF;
}

static bool is_punct(utf8proc_int32_t c)
{
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
        (c >= 123 && c <= 126))
        return true;
    utf8proc_category_t cat = utf8proc_category(c);
    return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

static bool is_cjk(utf8proc_int32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* Tokenizes one normalized word (UTF-8, without the word-start mark). */
static int wpm_encode_word(const struct osr_tokenizer *t, const char *w, size_t n, char *scratch,
                           struct tok_vec *out)
{
    memcpy(scratch, "\xe2\x96\x81", 3);
    memcpy(scratch + 3, w, n);
    size_t len = n + 3, start = out->n;
    int rc;
    for (size_t i = 0; i < len;) {
        size_t j = len - i > t->max_token_len ? i + t->max_token_len : len;
        int32_t id = -1;
        for (; j > i; j--)
            if ((id = osr_tok_lookup(t, scratch + i, j - i)) >= 0)
                break;
        if (id < 0) {
            out->n = start; /* the word cannot be cut: drop its pieces */
            break;
        }
        if ((rc = osr_tok_vec_push(out, id)))
            return rc;
        i = j;
    }
    if (out->n == start && t->unk >= 0)
        return osr_tok_vec_push(out, t->unk);
    return OSR_OK;
}

int osr_tok_wpm_encode(const struct osr_tokenizer *t, const char *text, size_t n,
                       struct tok_vec *out)
{
    /* NFD can grow the text; the normalized word buffer is grown as needed */
    size_t cap = n + 16, wl = 0;
    char *word = osr_xmalloc(cap + 3);
    char *scratch = NULL;
    size_t scratch_cap = 0;
    int rc = OSR_OK;
    const utf8proc_uint8_t *s = (const utf8proc_uint8_t *)text;
    size_t i = 0;

#define FLUSH()                                                                                    \
    do {                                                                                           \
        if (wl) {                                                                                  \
            if (wl + 3 > scratch_cap) {                                                            \
                scratch_cap = wl + 3;                                                              \
                scratch = osr_xrealloc(scratch, scratch_cap);                                      \
            }                                                                                      \
            if ((rc = wpm_encode_word(t, word, wl, scratch, out)))                                 \
                goto out;                                                                          \
            wl = 0;                                                                                \
        }                                                                                          \
    } while (0)

    while (i < n) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t l = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (l <= 0) {
            i++; /* invalid byte: dropped, like U+FFFD */
            continue;
        }
        i += (size_t)l;
        if (is_ws(cp)) {
            FLUSH();
            continue;
        }
        if (cp == 0 || cp == 0xFFFD || is_control(cp))
            continue;
        utf8proc_int32_t dec[32];
        int bound = 0;
        utf8proc_ssize_t nd = utf8proc_decompose_char(cp, dec, 32, UTF8PROC_DECOMPOSE, &bound);
        if (nd <= 0 || nd > 32) {
            dec[0] = cp;
            nd = 1;
        }
        for (utf8proc_ssize_t k = 0; k < nd; k++) {
            utf8proc_int32_t c = dec[k];
            if (utf8proc_category(c) == UTF8PROC_CATEGORY_MN)
                continue; /* accents are stripped */
            c = utf8proc_tolower(c);
            utf8proc_uint8_t enc[4];
            utf8proc_ssize_t el = utf8proc_encode_char(c, enc);
            bool alone = is_punct(c) || is_cjk(c);
            if (alone)
                FLUSH();
            if (wl + (size_t)el > cap) {
                cap = 2 * cap + (size_t)el;
                word = osr_xrealloc(word, cap + 3);
            }
            memcpy(word + wl, enc, (size_t)el);
            wl += (size_t)el;
            if (alone)
                FLUSH();
        }
    }
    FLUSH();
#undef FLUSH
out:
    free(word);
    free(scratch);
    return rc;
}
