/* fuzz_tokenizer.c - libFuzzer target for the tokenizers.
 *
 * On first use it builds small vocabularies in memory (one SentencePiece, one WordPiece and a
 * byte-level BPE vocabulary under several pre-tokenizers).  Each input's first byte picks the
 * vocabulary and the add_special / parse_special flags; the rest is the text.  The target
 * checks that every id is inside the vocabulary and that streaming detokenization yields valid
 * UTF-8.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osr/buf.h"
#include "osr/gguf.h"
#include "osr/tokenizer.h"

/* Compiled in so libFuzzer's instrumentation covers them (see fuzz_gguf.c). */
#include "engine/gguf.c"
#include "engine/strmap.c"
#include "engine/tokenizer.c"
#include "engine/tokenizer_bpe.c"
#include "engine/tokenizer_spm.c"
#include "engine/tokenizer_wpm.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void w_u32(struct osr_buf *b, uint32_t v)
{
    osr_buf_append(b, &v, 4);
}

static void w_u64(struct osr_buf *b, uint64_t v)
{
    osr_buf_append(b, &v, 8);
}

static void w_str(struct osr_buf *b, const char *s, size_t n)
{
    w_u64(b, n);
    osr_buf_append(b, s, n);
}

static void w_key(struct osr_buf *b, const char *k, uint32_t type)
{
    w_str(b, k, strlen(k));
    w_u32(b, type);
}

struct vocab {
    const char *model;
    const char *pre;
    const char *const *extra; /* NULL-terminated token texts beyond the alphabet */
    const char *const *merges;
    const char *name; /* general.name, or NULL */
};

static void utf8_cp(char *out, size_t *n, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        *n = 1;
    } else {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        *n = 2;
    }
}

/* Builds a vocabulary-only GGUF: for SentencePiece the 256 <0xNN> tokens, for BPE the 256
 * byte-level characters, then the extra tokens; types and scores follow the texts. */
static void build(struct osr_buf *b, const struct vocab *v)
{
    char texts[600][32];
    size_t lens[600];
    int32_t types[600];
    size_t n = 0;
    bool spm = strcmp(v->model, "llama") == 0, bpe = strcmp(v->model, "gpt2") == 0;
    for (int i = 0; i < 256 && (spm || bpe); i++) {
        if (spm) {
            lens[n] = (size_t)snprintf(texts[n], sizeof(texts[n]), "<0x%02X>", i);
            types[n] = OSR_TOKEN_BYTE;
        } else {
            utf8_cp(texts[n], &lens[n], osr_tok_byte_to_cp((uint8_t)i));
            types[n] = OSR_TOKEN_NORMAL;
        }
        n++;
    }
    for (size_t i = 0; v->extra[i]; i++) {
        const char *e = v->extra[i];
        int32_t ty = OSR_TOKEN_NORMAL;
        if (e[0] == '!') { /* control */
            ty = OSR_TOKEN_CONTROL;
            e++;
        } else if (e[0] == '?') { /* user-defined */
            ty = OSR_TOKEN_USER_DEFINED;
            e++;
        }
        lens[n] = strlen(e);
        memcpy(texts[n], e, lens[n]);
        types[n++] = ty;
    }
    size_t n_merges = 0;
    while (v->merges && v->merges[n_merges])
        n_merges++;
    osr_buf_init(b, 1 << 20);
    osr_buf_append(b, "GGUF", 4);
    w_u32(b, 3);
    w_u64(b, 0);
    w_u64(b, (n_merges ? 6 : 5) + (v->name ? 1 : 0));
    if (v->name) {
        w_key(b, "general.name", OSR_GGUF_TYPE_STRING);
        w_str(b, v->name, strlen(v->name));
    }
    w_key(b, "tokenizer.ggml.model", OSR_GGUF_TYPE_STRING);
    w_str(b, v->model, strlen(v->model));
    w_key(b, "tokenizer.ggml.pre", OSR_GGUF_TYPE_STRING);
    w_str(b, v->pre, strlen(v->pre));
    w_key(b, "tokenizer.ggml.tokens", OSR_GGUF_TYPE_ARRAY);
    w_u32(b, OSR_GGUF_TYPE_STRING);
    w_u64(b, n);
    for (size_t i = 0; i < n; i++)
        w_str(b, texts[i], lens[i]);
    w_key(b, "tokenizer.ggml.token_type", OSR_GGUF_TYPE_ARRAY);
    w_u32(b, OSR_GGUF_TYPE_INT32);
    w_u64(b, n);
    osr_buf_append(b, types, n * 4);
    w_key(b, "tokenizer.ggml.scores", OSR_GGUF_TYPE_ARRAY);
    w_u32(b, OSR_GGUF_TYPE_FLOAT32);
    w_u64(b, n);
    for (size_t i = 0; i < n; i++) {
        float s = -(float)i;
        osr_buf_append(b, &s, 4);
    }
    if (n_merges) {
        w_key(b, "tokenizer.ggml.merges", OSR_GGUF_TYPE_ARRAY);
        w_u32(b, OSR_GGUF_TYPE_STRING);
        w_u64(b, n_merges);
        for (size_t i = 0; i < n_merges; i++)
            w_str(b, v->merges[i], strlen(v->merges[i]));
    }
}

static const char *const spm_extra[] = {
    "<unk>",
    "!<s>",
    "!</s>",
    "\xe2\x96\x81",
    "a",
    "b",
    "ab",
    "\xe2\x96\x81"
    "a",
    "\xe2\x96\x81"
    "ab",
    "?<|user|>",
    "\xe4\xbd\xa0",
    NULL,
};
static const char *const bpe_extra[] = {
    "ab",
    "\xc4\xa0"
    "a",
    "\xc4\xa0"
    "ab",
    "!<|endoftext|>",
    "?<tag>",
    "12",
    NULL,
};
static const char *const bpe_merges[] = {"a b", "\xc4\xa0 a",
                                         "\xc4\xa0"
                                         "a b",
                                         "1 2", NULL};
static const char *const wpm_extra[] = {
    "!<|pad|>",
    "[UNK]",
    "!<|cls|>",
    "!<|sep|>",
    "\xe2\x96\x81"
    "a",
    "a",
    "b",
    ",",
    "\xe2\x96\x81"
    "hello",
    "llo",
    "\xe2\x96\x81"
    "he",
    "?<mask>",
    NULL,
};

static const struct vocab vocabs[] = {
    {"llama", "default", spm_extra, NULL, NULL},
    {"bert", "bert-bge", wpm_extra, NULL, NULL},
    {"llama", "default", spm_extra, NULL, "Phi3"},
    {"bert", "jina-v2-code", wpm_extra, NULL, NULL},
    {"gpt2", "default", bpe_extra, bpe_merges, NULL},
    {"gpt2", "llama-bpe", bpe_extra, bpe_merges, NULL},
    {"gpt2", "qwen2", bpe_extra, bpe_merges, NULL},
    {"gpt2", "deepseek-llm", bpe_extra, bpe_merges, NULL},
    {"gpt2", "deepseek-coder", bpe_extra, bpe_merges, NULL},
    {"gpt2", "falcon", bpe_extra, bpe_merges, NULL},
};
#define N_VOCABS (sizeof(vocabs) / sizeof(vocabs[0]))

static struct osr_buf files[N_VOCABS];
static struct osr_gguf *ggufs[N_VOCABS];
static struct osr_tokenizer *toks[N_VOCABS];

static void setup(void)
{
    for (size_t i = 0; i < N_VOCABS; i++) {
        struct osr_diag d = {0};
        build(&files[i], &vocabs[i]);
        if (osr_gguf_open_memory(files[i].data, files[i].len, &ggufs[i], &d) != OSR_OK ||
            osr_tokenizer_from_gguf(ggufs[i], &toks[i], &d) != OSR_OK) {
            fprintf(stderr, "fuzz_tokenizer setup %zu: %s\n", i, d.msg);
            abort();
        }
    }
}

static bool valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t l = valid_seq(s + i, n - i);
        if (!l)
            return false;
        i += l;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        setup();
        ready = true;
    }
    if (size < 1)
        return 0;
    const struct osr_tokenizer *t = toks[data[0] % N_VOCABS];
    bool add_special = data[0] & 0x40, parse_special = data[0] & 0x80;
    int32_t *ids = NULL;
    size_t n = 0;
    if (osr_tokenizer_encode_alloc(t, (const char *)data + 1, size - 1, add_special, parse_special,
                                   &ids, &n) != OSR_OK)
        abort(); /* inputs are small: encoding must not fail */
    struct osr_buf out;
    osr_buf_init(&out, 1 << 20);
    struct osr_detok d;
    osr_detok_init(&d, t, parse_special);
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= osr_tokenizer_n_vocab(t))
            abort();
        if (osr_detok_push(&d, ids[i], &out) != OSR_OK)
            abort();
    }
    osr_detok_finish(&d, &out);
    if (!valid_utf8((const unsigned char *)osr_buf_str(&out), out.len))
        abort();
    osr_buf_release(&out);
    free(ids);
    return 0;
}
