/* test_tokenizer.c - tokenizer behaviour beyond the conformance vectors: BOS/EOS, special-token
 * parsing, detokenization and round trips, the streaming decoder, error paths, speed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>

#include "check.h"
#include "osr/alloc.h"
#include "osr/buf.h"
#include "osr/config.h"
#include "osr/gguf.h"
#include "osr/tokenizer.h"

struct loaded {
    struct osr_gguf *g;
    struct osr_tokenizer *t;
};

static bool load(const char *name, struct loaded *l)
{
    l->g = NULL;
    l->t = NULL;
    const char *dir = getenv("OSR_TESTDATA");
    if (!dir || !*dir) {
        printf("skipping %s: OSR_TESTDATA not set\n", name);
        return false;
    }
    char *path = osr_path_join(dir, name);
    struct osr_diag d = {0};
    int rc = osr_gguf_open(path, &l->g, &d);
    free(path);
    if (rc == OSR_EIO) {
        printf("skipping %s: not present\n", name);
        return false;
    }
    if (rc == OSR_OK)
        rc = osr_tokenizer_from_gguf(l->g, &l->t, &d);
    if (rc) {
        fprintf(stderr, "%s: %s\n", name, d.msg);
        CHECK(rc == OSR_OK);
        osr_gguf_close(l->g);
        return false;
    }
    return true;
}

static void unload(struct loaded *l)
{
    osr_tokenizer_free(l->t);
    osr_gguf_close(l->g);
}

/* Encodes s and compares with the expected ids. */
static bool enc_eq(const struct osr_tokenizer *t, const char *s, bool add_special,
                   bool parse_special, const int32_t *want, size_t n_want)
{
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = osr_tokenizer_encode_alloc(t, s, strlen(s), add_special, parse_special, &ids, &n);
    bool ok = rc == OSR_OK && n == n_want && (n == 0 || memcmp(ids, want, n * 4) == 0);
    if (!ok) {
        fprintf(stderr, "encode \"%s\": got", s);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, "\n");
    }
    free(ids);
    return ok;
}

static bool contains(const struct osr_tokenizer *t, const char *s, bool parse_special, int32_t id)
{
    int32_t *ids = NULL;
    size_t n = 0;
    bool found = false;
    if (osr_tokenizer_encode_alloc(t, s, strlen(s), false, parse_special, &ids, &n) == OSR_OK)
        for (size_t i = 0; i < n; i++)
            found |= ids[i] == id;
    free(ids);
    return found;
}

static char *decode(const struct osr_tokenizer *t, const char *s)
{
    int32_t *ids = NULL;
    size_t n = 0;
    struct osr_buf b;
    osr_buf_init(&b, 1 << 20);
    if (osr_tokenizer_encode_alloc(t, s, strlen(s), false, false, &ids, &n) == OSR_OK)
        osr_tokenizer_decode(t, ids, n, false, &b);
    free(ids);
    return osr_buf_detach(&b, NULL);
}

static const char *const samples[] = {
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "  leading spaces and\ttabs\nand newlines\n\n",
    "Unicode: caf\xc3\xa9, na\xc3\xafve, \xe4\xbd\xa0\xe5\xa5\xbd, \xf0\x9f\xa6\x99 llama",
    "code: for (int i = 0; i < 10; i++) { x += i * 3; }",
    "numbers 1234567 and 3.14159",
};

static void test_llama_spm(void)
{
    struct loaded l;
    if (!load("ggml-vocab-llama-spm.gguf", &l))
        return;
    const struct osr_tokenizer *t = l.t;
    CHECK(osr_tokenizer_kind(t) == OSR_TOK_SPM);
    CHECK_INT_EQ(osr_tokenizer_n_vocab(t), 32000);
    CHECK_INT_EQ(osr_tokenizer_bos(t), 1);
    CHECK_INT_EQ(osr_tokenizer_eos(t), 2);
    CHECK(osr_tokenizer_add_bos(t) && !osr_tokenizer_add_eos(t));
    CHECK(osr_tokenizer_is_eog(t, 2) && !osr_tokenizer_is_eog(t, 1));
    static const int32_t hw[] = {1, 15043, 3186};
    CHECK(enc_eq(t, "Hello world", true, false, hw, 3));
    CHECK(enc_eq(t, "Hello world", false, false, hw + 1, 2));
    /* "<s>" is a control token: text unless parse_special */
    static const int32_t sp[] = {1, 15043};
    CHECK(enc_eq(t, "<s>Hello", false, true, sp, 2));
    CHECK(!contains(t, "<s>Hello", false, 1));
    /* empty input: nothing, or just BOS */
    CHECK(enc_eq(t, "", false, false, NULL, 0));
    CHECK(enc_eq(t, "", true, false, hw, 1));
    /* round trips: SentencePiece adds one leading space */
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        char *out = decode(t, samples[i]);
        char want[256];
        snprintf(want, sizeof(want), " %s", samples[i]);
        CHECK_STR_EQ(out, want);
        free(out);
    }
    /* pieces */
    struct osr_buf b;
    osr_buf_init(&b, 64);
    CHECK(osr_tokenizer_token_to_piece(t, 15043, false, &b) == OSR_OK);
    CHECK_STR_EQ(osr_buf_str(&b), " Hello");
    osr_buf_reset(&b);
    CHECK(osr_tokenizer_token_to_piece(t, 1, false, &b) == OSR_OK && b.len == 0);
    CHECK(osr_tokenizer_token_to_piece(t, 1, true, &b) == OSR_OK);
    CHECK_STR_EQ(osr_buf_str(&b), "<s>");
    CHECK(osr_tokenizer_token_to_piece(t, 32000, false, &b) == OSR_EINVAL);
    CHECK(osr_tokenizer_token_to_piece(t, -1, false, &b) == OSR_EINVAL);
    osr_buf_release(&b);
    CHECK_INT_EQ(osr_tokenizer_find(t, "<0x0A>", 6), 13);
    CHECK(osr_tokenizer_token_type(t, 13) == OSR_TOKEN_BYTE);
    unload(&l);
}

/* The llama emoji is not in the SentencePiece vocabulary: it falls back to four byte tokens,
 * and the streaming decoder must not emit it before the fourth. */
static void test_streaming_decoder(void)
{
    struct loaded l;
    if (!load("ggml-vocab-llama-spm.gguf", &l))
        return;
    const char *s = "a\xf0\x9f\xa6\x99z";
    int32_t *ids = NULL;
    size_t n = 0;
    REQUIRE(osr_tokenizer_encode_alloc(l.t, s, strlen(s), false, false, &ids, &n) == OSR_OK);
    int byte_tokens = 0;
    for (size_t i = 0; i < n; i++)
        byte_tokens += osr_tokenizer_token_type(l.t, ids[i]) == OSR_TOKEN_BYTE;
    CHECK_INT_EQ(byte_tokens, 4);
    struct osr_detok d;
    struct osr_buf out;
    osr_buf_init(&out, 1024);
    osr_detok_init(&d, l.t, false);
    for (size_t i = 0; i < n; i++) {
        size_t before = out.len;
        CHECK(osr_detok_push(&d, ids[i], &out) == OSR_OK);
        /* whatever was emitted so far is complete UTF-8: no lead byte at the end */
        if (out.len > before) {
            unsigned char last = (unsigned char)out.data[out.len - 1];
            CHECK(last < 0x80 || (last & 0xC0) == 0x80);
        }
        if (osr_tokenizer_token_type(l.t, ids[i]) == OSR_TOKEN_BYTE &&
            (unsigned char)osr_tokenizer_token_text(l.t, ids[i]).p[3] != '9')
            CHECK(out.len == before); /* F0, 9F, A6 are held back */
    }
    CHECK(osr_detok_finish(&d, &out) == OSR_OK);
    CHECK_STR_EQ(osr_buf_str(&out), " a\xf0\x9f\xa6\x99z");
    /* an unfinished character at the end becomes U+FFFD */
    osr_buf_reset(&out);
    osr_detok_init(&d, l.t, false);
    CHECK(osr_detok_push(&d, osr_tokenizer_find(l.t, "<0xF0>", 6), &out) == OSR_OK);
    CHECK(out.len == 0);
    CHECK(osr_detok_finish(&d, &out) == OSR_OK);
    CHECK_STR_EQ(osr_buf_str(&out), "\xef\xbf\xbd");
    /* a stray continuation byte is replaced at once */
    osr_buf_reset(&out);
    osr_detok_init(&d, l.t, false);
    CHECK(osr_detok_push(&d, osr_tokenizer_find(l.t, "<0x80>", 6), &out) == OSR_OK);
    CHECK_STR_EQ(osr_buf_str(&out), "\xef\xbf\xbd");
    /* a lead byte followed by ASCII: replacement, then the ASCII */
    osr_buf_reset(&out);
    osr_detok_init(&d, l.t, false);
    CHECK(osr_detok_push(&d, osr_tokenizer_find(l.t, "<0xE2>", 6), &out) == OSR_OK);
    CHECK(osr_detok_push(&d, osr_tokenizer_find(l.t, "<0x41>", 6), &out) == OSR_OK);
    CHECK_STR_EQ(osr_buf_str(&out), "\xef\xbf\xbd"
                                    "A");
    osr_buf_release(&out);
    free(ids);
    unload(&l);
}

static void test_llama3_bpe(void)
{
    struct loaded l;
    if (!load("ggml-vocab-llama-bpe.gguf", &l))
        return;
    const struct osr_tokenizer *t = l.t;
    CHECK(osr_tokenizer_kind(t) == OSR_TOK_BPE);
    CHECK_STR_EQ(osr_tokenizer_pre(t), "llama-bpe");
    CHECK_INT_EQ(osr_tokenizer_n_vocab(t), 128256);
    static const int32_t hw[] = {128000, 9906, 1917};
    CHECK(enc_eq(t, "Hello world", true, false, hw, 3));
    CHECK_INT_EQ(osr_tokenizer_eot(t), 128009);
    CHECK(osr_tokenizer_is_eog(t, 128009));
    const char *chat = "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>";
    CHECK(contains(t, chat, true, 128006));
    CHECK(contains(t, chat, true, 128007));
    CHECK(contains(t, chat, true, 128009));
    CHECK(!contains(t, chat, false, 128006));
    CHECK(!contains(t, chat, false, 128009));
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        char *out = decode(t, samples[i]);
        CHECK_STR_EQ(out, samples[i]);
        free(out);
    }
    /* invalid UTF-8 is tokenized as U+FFFD, not rejected */
    int32_t *ids = NULL;
    size_t n = 0;
    CHECK(osr_tokenizer_encode_alloc(t,
                                     "a\xff"
                                     "b",
                                     3, false, false, &ids, &n) == OSR_OK);
    CHECK(n >= 2);
    free(ids);
    /* a too-small output array */
    int32_t small[2];
    CHECK(osr_tokenizer_encode(t, "one two three four", 18, false, false, small, 2, &n) ==
          OSR_ETOOBIG);
    CHECK_INT_EQ(n, 4);
    CHECK(osr_tokenizer_encode(t, "one", 3, false, false, small, 2, &n) == OSR_OK && n == 1);
    unload(&l);
}

static void test_other_bpe_round_trips(void)
{
    static const char *const files[] = {
        "ggml-vocab-gpt-2.gguf",        "ggml-vocab-falcon.gguf",
        "ggml-vocab-deepseek-llm.gguf", "ggml-vocab-deepseek-coder.gguf",
        "ggml-vocab-starcoder.gguf",    "ggml-vocab-mpt.gguf",
        "ggml-vocab-gpt-neox.gguf",     "ggml-vocab-refact.gguf",
    };
    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        struct loaded l;
        if (!load(files[f], &l))
            continue;
        for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
            char *out = decode(l.t, samples[i]);
            if (strcmp(out, samples[i]) != 0)
                fprintf(stderr, "%s: round trip of sample %zu\n", files[f], i);
            CHECK_STR_EQ(out, samples[i]);
            free(out);
        }
        unload(&l);
    }
}

static void test_baichuan_and_phi3(void)
{
    struct loaded l;
    if (load("ggml-vocab-baichuan.gguf", &l)) {
        CHECK(osr_tokenizer_kind(l.t) == OSR_TOK_SPM);
        char *out = decode(l.t, "Hello world \xe4\xbd\xa0\xe5\xa5\xbd");
        CHECK_STR_EQ(out, " Hello world \xe4\xbd\xa0\xe5\xa5\xbd");
        free(out);
        unload(&l);
    }
    if (load("ggml-vocab-phi-3.gguf", &l)) {
        /* <|endoftext|> (32000) is a control token in Phi-3 */
        CHECK(contains(l.t, "hi<|endoftext|>", true, 32000));
        CHECK(!contains(l.t, "hi<|endoftext|>", false, 32000));
        /* </s> is user-defined here: recognised even without parse_special */
        CHECK(contains(l.t, "a</s>b", false, 2));
        /* Phi-3's chat tokens eat the whitespace after them (rstrip), <|endoftext|> does not */
        int32_t *a = NULL, *b = NULL;
        size_t na = 0, nb = 0;
        const char *x = "<|user|>\n Hi<|end|>\n<|assistant|>",
                   *y = "<|user|>Hi<|end|><|assistant|>";
        CHECK(osr_tokenizer_encode_alloc(l.t, x, strlen(x), false, true, &a, &na) == OSR_OK);
        CHECK(osr_tokenizer_encode_alloc(l.t, y, strlen(y), false, true, &b, &nb) == OSR_OK);
        CHECK(na == nb && na == 4 && memcmp(a, b, na * 4) == 0);
        CHECK(na == 4 && a[0] == 32010 && a[2] == 32007 && a[3] == 32001);
        free(a);
        free(b);
        x = "<|endoftext|> Hi";
        CHECK(osr_tokenizer_encode_alloc(l.t, x, strlen(x), false, true, &a, &na) == OSR_OK);
        CHECK(na == 3 && a[0] == 32000); /* "<|endoftext|>", " ", "Hi"... the space stays */
        free(a);
        unload(&l);
    }
}

static void test_bert(void)
{
    struct loaded l;
    if (!load("ggml-vocab-bert-bge.gguf", &l))
        return;
    CHECK(osr_tokenizer_kind(l.t) == OSR_TOK_WPM);
    int32_t *ids = NULL;
    size_t n = 0;
    CHECK(osr_tokenizer_encode_alloc(l.t, "Hello world", 11, true, false, &ids, &n) == OSR_OK);
    REQUIRE(n == 4);
    CHECK(ids[0] == 101 && ids[3] == 102);
    free(ids);
    /* upper case and accents fold away */
    CHECK(osr_tokenizer_encode_alloc(l.t, "CAF\xc3\x89", 5, false, false, &ids, &n) == OSR_OK);
    int32_t *ids2 = NULL;
    size_t n2 = 0;
    CHECK(osr_tokenizer_encode_alloc(l.t, "cafe", 4, false, false, &ids2, &n2) == OSR_OK);
    CHECK(n == n2 && n > 0 && memcmp(ids, ids2, n * 4) == 0);
    free(ids);
    free(ids2);
    char *out = decode(l.t, "hello, world");
    CHECK_STR_EQ(out, " hello , world");
    free(out);
    unload(&l);
}

static void test_missing_vocab(void)
{
    /* a GGUF file with no tokenizer keys */
    unsigned char h[24] = {'G', 'G', 'U', 'F', 3};
    struct osr_gguf *g = NULL;
    struct osr_tokenizer *t = NULL;
    struct osr_diag d = {0};
    REQUIRE(osr_gguf_open_memory(h, sizeof(h), &g, NULL) == OSR_OK);
    CHECK(osr_tokenizer_from_gguf(g, &t, &d) == OSR_ENOTFOUND);
    CHECK(t == NULL);
    CHECK(strstr(d.msg, "tokenizer.ggml.model") != NULL);
    osr_gguf_close(g);
    osr_tokenizer_free(NULL);
}

/* ---- synthetic vocabularies for the error paths ------------------------------------------- */

static void w_u32(struct osr_buf *b, uint32_t v)
{
    osr_buf_append(b, &v, 4);
}

static void w_u64(struct osr_buf *b, uint64_t v)
{
    osr_buf_append(b, &v, 8);
}

static void w_str(struct osr_buf *b, const char *s)
{
    w_u64(b, strlen(s));
    osr_buf_append(b, s, strlen(s));
}

static void w_key(struct osr_buf *b, const char *k, uint32_t type)
{
    w_str(b, k);
    w_u32(b, type);
}

static void w_str_arr(struct osr_buf *b, const char *key, const char *const *v, size_t n)
{
    w_key(b, key, OSR_GGUF_TYPE_ARRAY);
    w_u32(b, OSR_GGUF_TYPE_STRING);
    w_u64(b, n);
    for (size_t i = 0; i < n; i++)
        w_str(b, v[i]);
}

/* A vocabulary file: model, tokens, optional types (n_types entries), merges, add_space_prefix
 * (-1: absent). */
static void vocab_file(struct osr_buf *b, const char *model, const char *const *toks, size_t n,
                       size_t n_types, const char *const *merges, size_t n_merges, int space_prefix)
{
    osr_buf_init(b, 1 << 16);
    osr_buf_append(b, "GGUF", 4);
    w_u32(b, 3);
    w_u64(b, 0);
    w_u64(b, 2 + (n_types ? 1 : 0) + (merges ? 1 : 0) + (space_prefix >= 0 ? 1 : 0));
    w_key(b, "tokenizer.ggml.model", OSR_GGUF_TYPE_STRING);
    w_str(b, model);
    w_str_arr(b, "tokenizer.ggml.tokens", toks, n);
    if (n_types) {
        w_key(b, "tokenizer.ggml.token_type", OSR_GGUF_TYPE_ARRAY);
        w_u32(b, OSR_GGUF_TYPE_INT32);
        w_u64(b, n_types);
        for (size_t i = 0; i < n_types; i++)
            w_u32(b, i == 0 ? OSR_TOKEN_UNKNOWN : OSR_TOKEN_NORMAL);
    }
    if (merges)
        w_str_arr(b, "tokenizer.ggml.merges", merges, n_merges);
    if (space_prefix >= 0) {
        w_key(b, "tokenizer.ggml.add_space_prefix", OSR_GGUF_TYPE_BOOL);
        osr_buf_putc(b, (char)space_prefix);
    }
}

static int try_load(struct osr_buf *b, struct osr_gguf **g, struct osr_tokenizer **t,
                    struct osr_diag *d)
{
    *t = NULL;
    int rc = osr_gguf_open_memory(b->data, b->len, g, d);
    if (rc)
        return rc;
    return osr_tokenizer_from_gguf(*g, t, d);
}

static void test_bad_vocabularies(void)
{
    static const char *const toks[] = {"<unk>", "a", "b", "ab",
                                       "\xe2\x96\x81"
                                       "a"};
    static const char *const merges[] = {"a b"};
    struct osr_buf b;
    struct osr_gguf *g = NULL;
    struct osr_tokenizer *t = NULL;
    struct osr_diag d = {0};

    vocab_file(&b, "t5", toks, 5, 0, NULL, 0, -1);
    CHECK(try_load(&b, &g, &t, &d) == OSR_EUNSUPPORTED);
    CHECK(strstr(d.msg, "'t5'") != NULL);
    osr_gguf_close(g);
    osr_buf_release(&b);

    vocab_file(&b, "llama", toks, 5, 4, NULL, 0, -1);
    CHECK(try_load(&b, &g, &t, &d) == OSR_ECORRUPT);
    CHECK(strstr(d.msg, "has 4 entries for 5 tokens") != NULL);
    osr_gguf_close(g);
    osr_buf_release(&b);

    vocab_file(&b, "gpt2", toks, 5, 5, NULL, 0, -1);
    CHECK(try_load(&b, &g, &t, &d) == OSR_ECORRUPT);
    CHECK(strstr(d.msg, "merges") != NULL);
    osr_gguf_close(g);
    osr_buf_release(&b);

    /* a BPE vocabulary with one merge and no byte tokens: unknown bytes are dropped */
    vocab_file(&b, "gpt2", toks, 5, 5, merges, 1, -1);
    REQUIRE(try_load(&b, &g, &t, &d) == OSR_OK);
    CHECK_STR_EQ(osr_tokenizer_pre(t), "default");
    static const int32_t ab[] = {3};
    CHECK(enc_eq(t, "ab", false, false, ab, 1));
    static const int32_t abq[] = {3, 1};
    CHECK(enc_eq(t, "ab?a", false, false, abq, 2));
    osr_tokenizer_free(t);
    osr_gguf_close(g);
    osr_buf_release(&b);

    /* SentencePiece without a space prefix (as Gemma): "a" is "a", not "▁a"; no byte tokens,
     * so an unknown character becomes <unk> */
    vocab_file(&b, "llama", toks, 5, 5, NULL, 0, 0);
    REQUIRE(try_load(&b, &g, &t, &d) == OSR_OK);
    static const int32_t a_[] = {1};
    CHECK(enc_eq(t, "a", false, false, a_, 1));
    static const int32_t ab_unk[] = {3, 0}; /* "ab" is a token, "?" is not */
    CHECK(enc_eq(t, "ab?", false, false, ab_unk, 2));
    osr_tokenizer_free(t);
    osr_gguf_close(g);
    osr_buf_release(&b);

    /* with the default space prefix */
    vocab_file(&b, "llama", toks, 5, 5, NULL, 0, -1);
    REQUIRE(try_load(&b, &g, &t, &d) == OSR_OK);
    static const int32_t spa[] = {4};
    CHECK(enc_eq(t, "a", false, false, spa, 1));
    osr_tokenizer_free(t);
    osr_gguf_close(g);
    osr_buf_release(&b);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A few KB must take milliseconds: 8 KB of mixed text, generous bound for sanitizer builds. */
static void test_speed(void)
{
    static const char *const files[] = {"ggml-vocab-llama-spm.gguf", "ggml-vocab-llama-bpe.gguf",
                                        "ggml-vocab-bert-bge.gguf", "ggml-vocab-deepseek-llm.gguf"};
    struct osr_buf text;
    osr_buf_init(&text, 1 << 20);
    while (text.len < 8192)
        for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
            osr_buf_appendf(&text, "%s ", samples[i]);
    osr_buf_appendf(&text, "%s",
                    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        struct loaded l;
        if (!load(files[f], &l))
            continue;
        double t0 = now_ms();
        int32_t *ids = NULL;
        size_t n = 0;
        CHECK(osr_tokenizer_encode_alloc(l.t, text.data, text.len, false, false, &ids, &n) ==
              OSR_OK);
        double ms = now_ms() - t0;
        printf("%s: %zu bytes -> %zu tokens in %.2f ms\n", files[f], text.len, n, ms);
        CHECK(n > 1000);
        CHECK(ms < 1000.0);
        free(ids);
        unload(&l);
    }
    osr_buf_release(&text);
}

struct thread_job {
    const struct osr_tokenizer *t;
    const int32_t *want;
    size_t n_want;
    int mismatches;
};

static void *encode_many(void *arg)
{
    struct thread_job *j = arg;
    for (int it = 0; it < 50; it++) {
        for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
            int32_t *ids = NULL;
            size_t n = 0;
            if (osr_tokenizer_encode_alloc(j->t, samples[i], strlen(samples[i]), true, true, &ids,
                                           &n) != OSR_OK)
                j->mismatches++;
            if (i == 3 && (n != j->n_want || memcmp(ids, j->want, n * 4) != 0))
                j->mismatches++;
            free(ids);
        }
    }
    return NULL;
}

/* One tokenizer, four threads encoding at once, results identical to a single thread's. */
static void test_threads(void)
{
    struct loaded l;
    if (!load("ggml-vocab-llama-bpe.gguf", &l))
        return;
    int32_t *want = NULL;
    size_t n_want = 0;
    REQUIRE(osr_tokenizer_encode_alloc(l.t, samples[3], strlen(samples[3]), true, true, &want,
                                       &n_want) == OSR_OK);
    struct thread_job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (struct thread_job){l.t, want, n_want, 0};
        CHECK(pthread_create(&th[i], NULL, encode_many, &jobs[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT_EQ(jobs[i].mismatches, 0);
    }
    free(want);
    unload(&l);
}

TEST_MAIN(test_threads, test_llama_spm, test_streaming_decoder, test_llama3_bpe,
          test_other_bpe_round_trips, test_baichuan_and_phi3, test_bert, test_missing_vocab,
          test_bad_vocabularies, test_speed)
