/* tokenizer.h - text <-> token ids for the vocabularies stored in GGUF files.
 *
 * Three algorithms, chosen by `tokenizer.ggml.model`:
 *   "llama"  SentencePiece-style: scores, byte fallback (<0xNN>), "▁" for spaces;
 *   "gpt2"   byte-level BPE: merges ranked by their order in the file, a pre-tokenizer (split
 *            regexes run with PCRE2) chosen by `tokenizer.ggml.pre`;
 *   "bert"   WordPiece: NFD, lower case, punctuation split, greedy longest match.
 * Special tokens: control and unknown tokens are recognised in text only when parse_special is
 * set; user-defined tokens always are.  docs/internals/TOKENIZER.md explains the details.
 *
 * Thread rules: building a tokenizer is single-threaded; a built tokenizer is immutable and
 * osr_tokenizer_encode / _token_to_piece may run on many threads at once.  A struct osr_detok
 * belongs to one thread.
 */
#ifndef OSR_TOKENIZER_H
#define OSR_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osr/buf.h"
#include "osr/err.h"
#include "osr/gguf.h"
#include "osr/str.h"

enum osr_tok_kind {
    OSR_TOK_SPM = 1, /* SentencePiece-style ("llama") */
    OSR_TOK_BPE = 2, /* byte-level BPE ("gpt2") */
    OSR_TOK_WPM = 3, /* WordPiece ("bert") */
};

/* Token types, numbered as in GGUF's tokenizer.ggml.token_type. */
enum osr_token_type {
    OSR_TOKEN_UNDEFINED = 0,
    OSR_TOKEN_NORMAL = 1,
    OSR_TOKEN_UNKNOWN = 2,
    OSR_TOKEN_CONTROL = 3,
    OSR_TOKEN_USER_DEFINED = 4,
    OSR_TOKEN_UNUSED = 5,
    OSR_TOKEN_BYTE = 6,
};

/* Longest input osr_tokenizer_encode accepts, in bytes. */
#define OSR_TOKENIZER_MAX_INPUT ((size_t)64 << 20)

struct osr_tokenizer;

/* Builds a tokenizer from the tokenizer.* keys of g.  Borrows g: token strings point into its
 * mapping, so g must stay open until osr_tokenizer_free.  On success the caller frees *out with
 * osr_tokenizer_free.  Returns OSR_ENOTFOUND when g has no vocabulary, OSR_EUNSUPPORTED for an
 * unknown tokenizer model or pre-tokenizer, OSR_ECORRUPT for inconsistent metadata (message in
 * diag), OSR_ENOMEM. */
int osr_tokenizer_from_gguf(const struct osr_gguf *g, struct osr_tokenizer **out,
                            struct osr_diag *diag);

/* Frees t; NULL is a no-op. */
void osr_tokenizer_free(struct osr_tokenizer *t);

enum osr_tok_kind osr_tokenizer_kind(const struct osr_tokenizer *t);
/* The pre-tokenizer name in effect ("default" when the file names none). */
const char *osr_tokenizer_pre(const struct osr_tokenizer *t);
int32_t osr_tokenizer_n_vocab(const struct osr_tokenizer *t);
/* Special ids, -1 when the vocabulary has none. */
int32_t osr_tokenizer_bos(const struct osr_tokenizer *t);
int32_t osr_tokenizer_eos(const struct osr_tokenizer *t);
int32_t osr_tokenizer_eot(const struct osr_tokenizer *t);
int32_t osr_tokenizer_unk(const struct osr_tokenizer *t);
/* Whether add_special adds BOS / EOS (from the file, else the model's default). */
bool osr_tokenizer_add_bos(const struct osr_tokenizer *t);
bool osr_tokenizer_add_eos(const struct osr_tokenizer *t);
/* True when id ends generation (EOS, EOT, EOM and the like). */
bool osr_tokenizer_is_eog(const struct osr_tokenizer *t, int32_t id);

/* The stored text of a token (borrowed from the GGUF mapping; empty view for a bad id) and its
 * type (OSR_TOKEN_UNDEFINED for a bad id). */
struct osr_str osr_tokenizer_token_text(const struct osr_tokenizer *t, int32_t id);
enum osr_token_type osr_tokenizer_token_type(const struct osr_tokenizer *t, int32_t id);
/* The id of the token whose stored text is exactly s, or -1. */
int32_t osr_tokenizer_find(const struct osr_tokenizer *t, const char *s, size_t n);

/* Tokenizes len bytes of UTF-8 text.  add_special adds BOS/EOS (CLS/SEP for WordPiece) as the
 * vocabulary asks; parse_special turns control-token text ("<|eot_id|>") into that token.
 * Writes at most cap ids to out and stores the total count in *n_out; returns OSR_ETOOBIG when
 * that total is larger than cap (the first cap ids are still written), OSR_ETOOBIG also for
 * input longer than OSR_TOKENIZER_MAX_INPUT, OSR_ENOMEM. */
int osr_tokenizer_encode(const struct osr_tokenizer *t, const char *text, size_t len,
                         bool add_special, bool parse_special, int32_t *out, size_t cap,
                         size_t *n_out);

/* As osr_tokenizer_encode but returns a heap array the caller frees with free(). */
int osr_tokenizer_encode_alloc(const struct osr_tokenizer *t, const char *text, size_t len,
                               bool add_special, bool parse_special, int32_t **out, size_t *n_out);

/* Appends the bytes token id stands for to out: "▁" becomes a space, byte tokens their byte,
 * byte-level BPE text its bytes.  Control tokens give nothing unless special is set (then their
 * text).  The bytes may be part of a multi-byte character: use struct osr_detok to stream.
 * Returns OSR_OK, OSR_EINVAL for an id out of range, OSR_ETOOBIG when out is full. */
int osr_tokenizer_token_to_piece(const struct osr_tokenizer *t, int32_t id, bool special,
                                 struct osr_buf *out);

/* Streaming detokenizer: never emits part of a multi-byte UTF-8 character.  Bytes that cannot
 * start or continue a valid character are replaced with U+FFFD. */
struct osr_detok {
    const struct osr_tokenizer *tok; /* borrowed */
    bool special;                    /* render control tokens */
    unsigned char pending[4];
    size_t n_pending;
};

void osr_detok_init(struct osr_detok *d, const struct osr_tokenizer *t, bool special);
/* Appends to out every complete character now known after token id. */
int osr_detok_push(struct osr_detok *d, int32_t id, struct osr_buf *out);
/* Flushes what is held back (an unfinished character becomes U+FFFD). */
int osr_detok_finish(struct osr_detok *d, struct osr_buf *out);

/* Decodes a whole id sequence into out (a convenience over osr_detok). */
int osr_tokenizer_decode(const struct osr_tokenizer *t, const int32_t *ids, size_t n, bool special,
                         struct osr_buf *out);

#endif
