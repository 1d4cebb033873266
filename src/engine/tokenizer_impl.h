/* tokenizer_impl.h - what the tokenizer's source files share (engine-internal).
 *
 * tokenizer.c loads the vocabulary and runs the common steps (special-token partitioning,
 * BOS/EOS, detokenization); tokenizer_spm.c, tokenizer_bpe.c and tokenizer_wpm.c each encode one
 * run of plain text with their algorithm, appending ids to a capped vector.
 */
#ifndef OSR_ENGINE_TOKENIZER_IMPL_H
#define OSR_ENGINE_TOKENIZER_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osr/tokenizer.h"
#include "strmap.h"

#define TOK_MAX_REGEX 8
#define TOK_LSTRIP 1
#define TOK_RSTRIP 2

struct osr_tokenizer {
    const struct osr_gguf *g; /* borrowed */
    enum osr_tok_kind kind;
    char pre[64];
    uint32_t n_vocab;
    const struct osr_str *text; /* token strings, views into g */
    float *scores;              /* NULL when the file has none */
    uint8_t *types;             /* enum osr_token_type per token */
    struct osr_strmap index;    /* text -> id */
    size_t max_token_len;

    int32_t bos, eos, eot, eom, unk, sep, pad, cls, mask;
    bool add_bos, add_eos, add_space_prefix, ignore_merges;

    /* ids of control, user-defined and unknown tokens, longest text first */
    int32_t *specials;
    size_t n_specials;
    /* per entry of specials: TOK_LSTRIP / TOK_RSTRIP (whitespace next to the token is eaten) */
    uint8_t *special_strip;
    /* end-of-generation ids */
    int32_t *eog;
    size_t n_eog;

    /* byte -> token: <0xNN> for SentencePiece, the byte-level character for BPE; -1 if none */
    int32_t byte_token[256];

    /* BPE */
    struct osr_strmap merges;   /* "left\0right" -> rank */
    char *merge_keys;           /* backing store of the merge keys */
    void *regex[TOK_MAX_REGEX]; /* pcre2_code_8 * */
    size_t n_regex;
};

/* A capped, growable id vector. */
struct tok_vec {
    int32_t *v;
    size_t n, cap, max;
};

int osr_tok_vec_push(struct tok_vec *o, int32_t id);

/* A priority queue of candidate merges: the highest `prio` first, ties to the lowest `left`. */
struct tok_bigram {
    double prio;
    int32_t left, right;
    size_t size; /* byte length of the merged text */
};

struct tok_heap {
    struct tok_bigram *a;
    size_t n, cap;
};

int osr_tok_heap_push(struct tok_heap *h, struct tok_bigram b);
bool osr_tok_heap_pop(struct tok_heap *h, struct tok_bigram *out);
void osr_tok_heap_release(struct tok_heap *h);

/* Length of the UTF-8 sequence that starts with byte c, as the llama tokenizers count it (a
 * stray continuation byte counts as 1). */
static inline size_t osr_tok_utf8_len(unsigned char c)
{
    static const uint8_t lens[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lens[c >> 4];
}

int32_t osr_tok_lookup(const struct osr_tokenizer *t, const char *s, size_t n);

/* Per-algorithm encoders of one run of text with no special tokens in it. */
int osr_tok_spm_encode(const struct osr_tokenizer *t, const char *text, size_t n, bool add_prefix,
                       struct tok_vec *out);
int osr_tok_bpe_encode(const struct osr_tokenizer *t, const char *text, size_t n,
                       struct tok_vec *out);
int osr_tok_wpm_encode(const struct osr_tokenizer *t, const char *text, size_t n,
                       struct tok_vec *out);

/* BPE set-up and tear-down (merges and pre-tokenizer regexes). */
int osr_tok_bpe_init(struct osr_tokenizer *t, struct osr_diag *diag);
void osr_tok_bpe_release(struct osr_tokenizer *t);

/* The GPT-2 byte-to-unicode mapping: the code point standing for byte b, and back (-1 when cp
 * stands for no byte). */
uint32_t osr_tok_byte_to_cp(uint8_t b);
int osr_tok_cp_to_byte(uint32_t cp);

#endif
