/* tokenizer.c - loading a GGUF vocabulary, the steps every algorithm shares, detokenization.
 *
 * Loading reads tokenizer.ggml.* (tokens, scores, token types, merges, special ids, add_bos /
 * add_eos, the pre-tokenizer name) and builds the text -> id index.  Encoding first cuts the
 * text at special-token strings (user-defined tokens always; control and unknown tokens only
 * when asked), then hands each plain run to the algorithm's encoder.  Decoding maps ids back to
 * bytes and, for streaming, holds back an unfinished UTF-8 character.
 *
 * The algorithms themselves live in tokenizer_spm.c, tokenizer_bpe.c and tokenizer_wpm.c.  Chat
 * templates are not handled here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osr/alloc.h"
#include "tokenizer_impl.h"

/* ---- small shared helpers -------------------------------------------------------------------- */

int osr_tok_vec_push(struct tok_vec *o, int32_t id)
{
    if (o->n == o->cap) {
        if (o->cap >= o->max)
            return OSR_ETOOBIG;
        size_t ncap = o->cap ? o->cap * 2 : 64;
        if (ncap > o->max)
            ncap = o->max;
        int32_t *nv = realloc(o->v, ncap * sizeof(*nv));
        if (!nv)
            return OSR_ENOMEM;
        o->v = nv;
        o->cap = ncap;
    }
    o->v[o->n++] = id;
    return OSR_OK;
}

static bool bigram_better(const struct tok_bigram *a, const struct tok_bigram *b)
{
    return a->prio > b->prio || (a->prio == b->prio && a->left < b->left);
}

int osr_tok_heap_push(struct tok_heap *h, struct tok_bigram b)
{
    if (h->n == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 64;
        struct tok_bigram *na = realloc(h->a, ncap * sizeof(*na));
        if (!na)
            return OSR_ENOMEM;
        h->a = na;
        h->cap = ncap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!bigram_better(&b, &h->a[parent]))
            break;
        h->a[i] = h->a[parent];
        i = parent;
    }
    h->a[i] = b;
    return OSR_OK;
}

bool osr_tok_heap_pop(struct tok_heap *h, struct tok_bigram *out)
{
    if (h->n == 0)
        return false;
    *out = h->a[0];
    struct tok_bigram last = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        const struct tok_bigram *bv = &last;
        if (l < h->n && bigram_better(&h->a[l], bv)) {
            best = l;
            bv = &h->a[l];
        }
        if (r < h->n && bigram_better(&h->a[r], bv))
            best = r;
        if (best == i)
            break;
        h->a[i] = h->a[best];
        i = best;
    }
    if (h->n)
        h->a[i] = last;
    return true;
}

void osr_tok_heap_release(struct tok_heap *h)
{
    free(h->a);
    h->a = NULL;
    h->n = h->cap = 0;
}

int32_t osr_tok_lookup(const struct osr_tokenizer *t, const char *s, size_t n)
{
    uint32_t v;
    if (n == 0 || !osr_strmap_get(&t->index, s, n, &v))
        return -1;
    return (int32_t)v;
}

/* ---- loading --------------------------------------------------------------------------------- */

static int32_t read_id(const struct osr_gguf *g, const char *key, int32_t dflt, uint32_t n_vocab)
{
    int64_t v;
    long k = osr_gguf_find_key(g, key);
    if (k < 0 || osr_gguf_kv_i64(g, (size_t)k, &v) != OSR_OK)
        v = dflt;
    if (v < 0 || v >= (int64_t)n_vocab)
        return -1; /* ids outside the vocabulary mean "none" (converters write -1 or 2^32-1) */
    return (int32_t)v;
}

static void read_bool(const struct osr_gguf *g, const char *key, bool *v)
{
    bool b;
    if (osr_gguf_get_bool(g, key, &b) == OSR_OK)
        *v = b;
}

static int cmp_special(const void *a, const void *b, void *ctx)
{
    const struct osr_tokenizer *t = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    size_t lx = t->text[x].n, ly = t->text[y].n;
    if (lx != ly)
        return lx > ly ? -1 : 1;
    return x < y ? -1 : (x > y);
}

static void add_eog(struct osr_tokenizer *t, int32_t id)
{
    if (id < 0)
        return;
    for (size_t i = 0; i < t->n_eog; i++)
        if (t->eog[i] == id)
            return;
    t->eog = osr_xrealloc(t->eog, (t->n_eog + 1) * sizeof(*t->eog));
    t->eog[t->n_eog++] = id;
}

/* End-of-turn markers that converters do not always record as eot_token_id. */
static const char *const eot_texts[] = {
    "<|eot_id|>",    "<|im_end|>", "<|end|>",         "<end_of_turn>",
    "<|endoftext|>", "<EOT>",      "<|end_of_text|>", "<｜end▁of▁sentence｜>",
};

static int load_vocab(struct osr_tokenizer *t, const struct osr_gguf *g, struct osr_diag *diag)
{
    struct osr_gguf_array toks, arr;
    int rc = osr_gguf_get_arr(g, "tokenizer.ggml.tokens", &toks);
    if (rc == OSR_ENOTFOUND)
        return osr_diag_set(diag, OSR_ENOTFOUND, "the file has no 'tokenizer.ggml.tokens'");
    if (rc || toks.type != OSR_GGUF_TYPE_STRING)
        return osr_diag_set(diag, OSR_ECORRUPT, "'tokenizer.ggml.tokens' is not a string array");
    if (toks.n == 0 || toks.n > INT32_MAX)
        return osr_diag_set(diag, OSR_ECORRUPT, "vocabulary size %llu is out of range",
                            (unsigned long long)toks.n);
    t->n_vocab = (uint32_t)toks.n;
    t->text = toks.strs;

    t->types = calloc(t->n_vocab, 1);
    if (!t->types)
        return osr_diag_set(diag, OSR_ENOMEM, "out of memory for the vocabulary");
    memset(t->types, OSR_TOKEN_NORMAL, t->n_vocab);
    if (osr_gguf_get_arr(g, "tokenizer.ggml.token_type", &arr) == OSR_OK) {
        if (arr.n != t->n_vocab)
            return osr_diag_set(diag, OSR_ECORRUPT,
                                "'tokenizer.ggml.token_type' has %llu entries for %u tokens",
                                (unsigned long long)arr.n, t->n_vocab);
        for (uint32_t i = 0; i < t->n_vocab; i++) {
            int64_t v;
            if (osr_gguf_arr_int(&arr, i, &v) != OSR_OK || v < 0 || v > OSR_TOKEN_BYTE)
                return osr_diag_set(diag, OSR_ECORRUPT, "token %u has an invalid type", i);
            t->types[i] = (uint8_t)v;
        }
    }
    if (osr_gguf_get_arr(g, "tokenizer.ggml.scores", &arr) == OSR_OK) {
        if (arr.n != t->n_vocab)
            return osr_diag_set(diag, OSR_ECORRUPT,
                                "'tokenizer.ggml.scores' has %llu entries for %u tokens",
                                (unsigned long long)arr.n, t->n_vocab);
        t->scores = malloc((size_t)t->n_vocab * sizeof(float));
        if (!t->scores)
            return osr_diag_set(diag, OSR_ENOMEM, "out of memory for the scores");
        for (uint32_t i = 0; i < t->n_vocab; i++) {
            double d;
            if (osr_gguf_arr_f64(&arr, i, &d) != OSR_OK)
                return osr_diag_set(diag, OSR_ECORRUPT,
                                    "'tokenizer.ggml.scores' is not a float "
                                    "array");
            t->scores[i] = (float)d;
        }
    }

    if (osr_strmap_init(&t->index, t->n_vocab))
        return osr_diag_set(diag, OSR_ENOMEM, "out of memory for the token index");
    size_t n_special = 0;
    for (uint32_t i = 0; i < t->n_vocab; i++) {
        const struct osr_str *s = &t->text[i];
        if (s->n == 0)
            continue;
        /* a later duplicate wins, as in the reference implementation */
        osr_strmap_set(&t->index, s->p, s->n, i);
        if (s->n > t->max_token_len)
            t->max_token_len = s->n;
        uint8_t ty = t->types[i];
        if (ty == OSR_TOKEN_CONTROL || ty == OSR_TOKEN_USER_DEFINED || ty == OSR_TOKEN_UNKNOWN)
            n_special++;
    }
    t->specials = calloc(n_special ? n_special : 1, sizeof(int32_t));
    if (!t->specials)
        return osr_diag_set(diag, OSR_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < t->n_vocab; i++) {
        uint8_t ty = t->types[i];
        if (t->text[i].n &&
            (ty == OSR_TOKEN_CONTROL || ty == OSR_TOKEN_USER_DEFINED || ty == OSR_TOKEN_UNKNOWN))
            t->specials[t->n_specials++] = (int32_t)i;
    }
    qsort_r(t->specials, t->n_specials, sizeof(int32_t), cmp_special, t);
    return OSR_OK;
}

static bool has_sub(struct osr_str hay, const char *needle)
{
    return hay.n && memmem(hay.p, hay.n, needle, strlen(needle)) != NULL;
}

/* Hugging Face marks a few added tokens lstrip/rstrip (whitespace beside them belongs to the
 * token).  GGUF does not record this, so, as llama.cpp does, it is set by model: all special
 * tokens of Phi-3 except <unk>, <s> and <|endoftext|> eat the whitespace after them; Jina v2
 * and nomic-bert-moe's <mask> eats the whitespace before it. */
static void set_strip_attrs(struct osr_tokenizer *t, const struct osr_gguf *g)
{
    struct osr_str name = OSR_STR_LIT(""), arch = OSR_STR_LIT("");
    char lower[256];
    osr_gguf_get_str(g, "general.name", &name);
    osr_gguf_get_str(g, "general.architecture", &arch);
    size_t n = name.n < sizeof(lower) ? name.n : sizeof(lower);
    for (size_t i = 0; i < n; i++)
        lower[i] = (char)((name.p[i] >= 'A' && name.p[i] <= 'Z') ? name.p[i] + 32 : name.p[i]);
    struct osr_str lname = osr_str_make(lower, n);
    bool jina = strcmp(t->pre, "jina-v2-de") == 0 || strcmp(t->pre, "jina-v2-es") == 0 ||
                strcmp(t->pre, "jina-v2-code") == 0 || osr_str_eq_cstr(arch, "nomic-bert-moe") ||
                osr_str_eq_cstr(arch, "jina-bert-v3");
    bool phi3 = has_sub(lname, "phi-3") || has_sub(lname, "phi3");
    for (size_t i = 0; i < t->n_specials; i++) {
        struct osr_str s = t->text[t->specials[i]];
        if (jina && osr_str_eq_cstr(s, "<mask>"))
            t->special_strip[i] = TOK_LSTRIP;
        else if (!jina && phi3 && !osr_str_eq_cstr(s, "<unk>") && !osr_str_eq_cstr(s, "<s>") &&
                 !osr_str_eq_cstr(s, "<|endoftext|>"))
            t->special_strip[i] = TOK_RSTRIP;
    }
}

int osr_tokenizer_from_gguf(const struct osr_gguf *g, struct osr_tokenizer **out,
                            struct osr_diag *diag)
{
    *out = NULL;
    struct osr_tokenizer *t = osr_xcalloc(1, sizeof(*t));
    t->g = g;
    for (int i = 0; i < 256; i++)
        t->byte_token[i] = -1;
    int rc;
    struct osr_str model = OSR_STR_LIT(""), pre = OSR_STR_LIT("");
    if (osr_gguf_get_str(g, "tokenizer.ggml.model", &model) != OSR_OK) {
        rc = osr_diag_set(diag, OSR_ENOTFOUND, "the file has no 'tokenizer.ggml.model'");
        goto out;
    }
    osr_gguf_get_str(g, "tokenizer.ggml.pre", &pre);
    if (pre.n == 0 || pre.n >= sizeof(t->pre))
        pre = OSR_STR_LIT("default");
    snprintf(t->pre, sizeof(t->pre), "%.*s", (int)pre.n, pre.p);

    if ((rc = load_vocab(t, g, diag)))
        goto out;
    t->special_strip = osr_xcalloc(t->n_specials ? t->n_specials : 1, 1);
    set_strip_attrs(t, g);

    /* defaults per model, then what the file says */
    int32_t d_bos = -1, d_eos = -1, d_unk = -1, d_sep = -1, d_pad = -1, d_cls = -1, d_mask = -1;
    if (osr_str_eq_cstr(model, "llama")) {
        t->kind = OSR_TOK_SPM;
        d_bos = 1;
        d_eos = 2;
        d_unk = 0;
        t->add_bos = true;
        t->add_space_prefix = true;
    } else if (osr_str_eq_cstr(model, "gpt2")) {
        t->kind = OSR_TOK_BPE;
        d_bos = 11;
        d_eos = 11;
    } else if (osr_str_eq_cstr(model, "bert")) {
        t->kind = OSR_TOK_WPM;
        d_bos = 101;
        d_unk = 100;
        d_sep = 102;
        d_pad = 0;
        d_cls = 101;
        d_mask = 103;
        t->add_bos = true;
        t->add_eos = true;
    } else {
        rc = osr_diag_set(diag, OSR_EUNSUPPORTED, "tokenizer model '%.*s' is not supported",
                          (int)model.n, model.p);
        goto out;
    }
    if (t->kind == OSR_TOK_BPE && (rc = osr_tok_bpe_init(t, diag)))
        goto out;

    t->bos = read_id(g, "tokenizer.ggml.bos_token_id", d_bos, t->n_vocab);
    t->eos = read_id(g, "tokenizer.ggml.eos_token_id", d_eos, t->n_vocab);
    t->unk = read_id(g, "tokenizer.ggml.unknown_token_id", d_unk, t->n_vocab);
    t->sep = read_id(g, "tokenizer.ggml.seperator_token_id", d_sep, t->n_vocab);
    t->pad = read_id(g, "tokenizer.ggml.padding_token_id", d_pad, t->n_vocab);
    t->cls = read_id(g, "tokenizer.ggml.cls_token_id", d_cls, t->n_vocab);
    t->mask = read_id(g, "tokenizer.ggml.mask_token_id", d_mask, t->n_vocab);
    t->eot = read_id(g, "tokenizer.ggml.eot_token_id", -1, t->n_vocab);
    t->eom = read_id(g, "tokenizer.ggml.eom_token_id", -1, t->n_vocab);
    if (t->kind == OSR_TOK_WPM && t->cls >= 0)
        t->bos = t->cls;
    read_bool(g, "tokenizer.ggml.add_bos_token", &t->add_bos);
    read_bool(g, "tokenizer.ggml.add_eos_token", &t->add_eos);
    read_bool(g, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix);

    for (size_t i = 0; t->eot < 0 && i < sizeof(eot_texts) / sizeof(eot_texts[0]); i++)
        t->eot = osr_tok_lookup(t, eot_texts[i], strlen(eot_texts[i]));
    add_eog(t, t->eos);
    add_eog(t, t->eot);
    add_eog(t, t->eom);

    /* byte tokens */
    for (int b = 0; b < 256; b++) {
        if (t->kind == OSR_TOK_SPM) {
            char hex[8];
            snprintf(hex, sizeof(hex), "<0x%02X>", b);
            t->byte_token[b] = osr_tok_lookup(t, hex, 6);
            if (t->byte_token[b] < 0) {
                char c = (char)b;
                t->byte_token[b] = osr_tok_lookup(t, &c, 1);
            }
        } else if (t->kind == OSR_TOK_BPE) {
            uint32_t cp = osr_tok_byte_to_cp((uint8_t)b);
            char u[2];
            size_t n;
            if (cp < 0x80) {
                u[0] = (char)cp;
                n = 1;
            } else {
                u[0] = (char)(0xC0 | (cp >> 6));
                u[1] = (char)(0x80 | (cp & 0x3F));
                n = 2;
            }
            t->byte_token[b] = osr_tok_lookup(t, u, n);
        }
    }
    rc = OSR_OK;
out:
    if (rc) {
        osr_tokenizer_free(t);
        return rc;
    }
    *out = t;
    return OSR_OK;
}

void osr_tokenizer_free(struct osr_tokenizer *t)
{
    if (!t)
        return;
    osr_tok_bpe_release(t);
    osr_strmap_release(&t->index);
    free(t->scores);
    free(t->types);
    free(t->specials);
    free(t->special_strip);
    free(t->eog);
    free(t);
}

/* ---- accessors ------------------------------------------------------------------------------- */

enum osr_tok_kind osr_tokenizer_kind(const struct osr_tokenizer *t)
{
    return t->kind;
}

const char *osr_tokenizer_pre(const struct osr_tokenizer *t)
{
    return t->pre;
}

int32_t osr_tokenizer_n_vocab(const struct osr_tokenizer *t)
{
    return (int32_t)t->n_vocab;
}

int32_t osr_tokenizer_bos(const struct osr_tokenizer *t)
{
    return t->bos;
}

int32_t osr_tokenizer_eos(const struct osr_tokenizer *t)
{
    return t->eos;
}

int32_t osr_tokenizer_eot(const struct osr_tokenizer *t)
{
    return t->eot;
}

int32_t osr_tokenizer_unk(const struct osr_tokenizer *t)
{
    return t->unk;
}

bool osr_tokenizer_add_bos(const struct osr_tokenizer *t)
{
    return t->add_bos;
}

bool osr_tokenizer_add_eos(const struct osr_tokenizer *t)
{
    return t->add_eos;
}

bool osr_tokenizer_is_eog(const struct osr_tokenizer *t, int32_t id)
{
    for (size_t i = 0; i < t->n_eog; i++)
        if (t->eog[i] == id)
            return true;
    return false;
}

struct osr_str osr_tokenizer_token_text(const struct osr_tokenizer *t, int32_t id)
{
    if (id < 0 || (uint32_t)id >= t->n_vocab)
        return osr_str_make("", 0);
    return t->text[id];
}

enum osr_token_type osr_tokenizer_token_type(const struct osr_tokenizer *t, int32_t id)
{
    if (id < 0 || (uint32_t)id >= t->n_vocab)
        return OSR_TOKEN_UNDEFINED;
    return (enum osr_token_type)t->types[id];
}

int32_t osr_tokenizer_find(const struct osr_tokenizer *t, const char *s, size_t n)
{
    return osr_tok_lookup(t, s, n);
}

/* ---- encoding -------------------------------------------------------------------------------- */

/* A piece of the input: plain text [off, off+len) or one special token. */
struct frag {
    int32_t id; /* -1 for text */
    size_t off, len;
};

struct frag_list {
    struct frag *a;
    size_t n, cap;
};

static void frag_push(struct frag_list *l, struct frag f)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->a = osr_xrealloc(l->a, l->cap * sizeof(*l->a));
    }
    l->a[l->n++] = f;
}

static bool is_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Cuts the text fragments of *l at every occurrence of each special token, longest tokens
 * first, leftmost occurrence first. */
static void partition(const struct osr_tokenizer *t, const char *text, bool parse_special,
                      struct frag_list *l)
{
    struct frag_list next = {0};
    /* vocabularies can have thousands of special tokens: skip those whose first byte does not
     * occur in the text without searching for them */
    bool present[256] = {false};
    for (size_t i = 0; i < l->n; i++)
        for (size_t k = 0; k < l->a[i].len; k++)
            present[(unsigned char)text[l->a[i].off + k]] = true;
    for (size_t s = 0; s < t->n_specials; s++) {
        int32_t id = t->specials[s];
        uint8_t ty = t->types[id];
        if (!parse_special && (ty == OSR_TOKEN_CONTROL || ty == OSR_TOKEN_UNKNOWN))
            continue;
        const struct osr_str *tok = &t->text[id];
        if (!present[(unsigned char)tok->p[0]])
            continue;
        bool any = false;
        for (size_t i = 0; i < l->n && !any; i++)
            any = l->a[i].id < 0 && l->a[i].len >= tok->n &&
                  memmem(text + l->a[i].off, l->a[i].len, tok->p, tok->n);
        if (!any)
            continue;
        next.n = 0;
        for (size_t i = 0; i < l->n; i++) {
            struct frag f = l->a[i];
            if (f.id >= 0) {
                frag_push(&next, f);
                continue;
            }
            size_t pos = f.off, end = f.off + f.len;
            while (pos < end) {
                const char *hit =
                    end - pos >= tok->n ? memmem(text + pos, end - pos, tok->p, tok->n) : NULL;
                if (!hit) {
                    frag_push(&next, (struct frag){-1, pos, end - pos});
                    break;
                }
                size_t h = (size_t)(hit - text), left_end = h;
                if (t->special_strip[s] & TOK_LSTRIP)
                    while (left_end > pos && is_space(text[left_end - 1]))
                        left_end--;
                if (left_end > pos)
                    frag_push(&next, (struct frag){-1, pos, left_end - pos});
                frag_push(&next, (struct frag){id, h, tok->n});
                pos = h + tok->n;
                if (t->special_strip[s] & TOK_RSTRIP)
                    while (pos < end && is_space(text[pos]))
                        pos++;
            }
        }
        struct frag_list tmp = *l;
        *l = next;
        next = tmp;
    }
    free(next.a);
}

static int encode_into(const struct osr_tokenizer *t, const char *text, size_t len,
                       bool add_special, bool parse_special, struct tok_vec *out)
{
    int rc = OSR_OK;
    struct frag_list frags = {0};
    if (add_special && t->add_bos && t->bos >= 0 && (rc = osr_tok_vec_push(out, t->bos)))
        goto out;
    if (len > 0) {
        frag_push(&frags, (struct frag){-1, 0, len});
        partition(t, text, parse_special, &frags);
    }
    bool prev_special = true;
    for (size_t i = 0; i < frags.n; i++) {
        const struct frag *f = &frags.a[i];
        if (f->id >= 0) {
            if ((rc = osr_tok_vec_push(out, f->id)))
                goto out;
            prev_special = true;
            continue;
        }
        switch (t->kind) {
        case OSR_TOK_SPM:
            rc = osr_tok_spm_encode(t, text + f->off, f->len, t->add_space_prefix && prev_special,
                                    out);
            break;
        case OSR_TOK_BPE:
            rc = osr_tok_bpe_encode(t, text + f->off, f->len, out);
            break;
        case OSR_TOK_WPM:
            rc = osr_tok_wpm_encode(t, text + f->off, f->len, out);
            break;
        }
        if (rc)
            goto out;
        prev_special = false;
    }
    if (add_special) {
        int32_t end = t->kind == OSR_TOK_WPM ? t->sep : t->eos;
        if (t->add_eos && end >= 0 && (rc = osr_tok_vec_push(out, end)))
            goto out;
    }
out:
    free(frags.a);
    return rc;
}

int osr_tokenizer_encode_alloc(const struct osr_tokenizer *t, const char *text, size_t len,
                               bool add_special, bool parse_special, int32_t **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (len > OSR_TOKENIZER_MAX_INPUT)
        return OSR_ETOOBIG;
    /* no algorithm yields more than three tokens per input byte (a "▁" that falls back to
     * its three byte tokens), plus BOS/EOS */
    struct tok_vec v = {NULL, 0, 0, 4 * len + 16};
    int rc = encode_into(t, text, len, add_special, parse_special, &v);
    if (rc) {
        free(v.v);
        return rc;
    }
    if (!v.v)
        v.v = osr_xmalloc(sizeof(int32_t));
    *out = v.v;
    *n_out = v.n;
    return OSR_OK;
}

int osr_tokenizer_encode(const struct osr_tokenizer *t, const char *text, size_t len,
                         bool add_special, bool parse_special, int32_t *out, size_t cap,
                         size_t *n_out)
{
    int32_t *ids;
    size_t n;
    *n_out = 0;
    int rc = osr_tokenizer_encode_alloc(t, text, len, add_special, parse_special, &ids, &n);
    if (rc)
        return rc;
    if (n && cap)
        memcpy(out, ids, (n < cap ? n : cap) * sizeof(int32_t));
    free(ids);
    *n_out = n;
    return n > cap ? OSR_ETOOBIG : OSR_OK;
}

/* ---- decoding -------------------------------------------------------------------------------- */

/* Appends s with every "▁" (U+2581) replaced by a space. */
static int append_unescaped(struct osr_buf *out, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + 3 <= n && (unsigned char)s[i] == 0xE2 && (unsigned char)s[i + 1] == 0x96 &&
            (unsigned char)s[i + 2] == 0x81) {
            int rc = osr_buf_append(out, s + start, i - start);
            if (rc || (rc = osr_buf_putc(out, ' ')))
                return rc;
            i += 2;
            start = i + 1;
        }
    }
    return osr_buf_append(out, s + start, n - start);
}

/* Appends the bytes a byte-level BPE token stands for. */
static int append_bytelevel(struct osr_buf *out, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        uint32_t cp;
        size_t l = osr_tok_utf8_len(c);
        if (l == 2 && i + 1 < n) {
            cp = ((uint32_t)(c & 0x1F) << 6) | ((unsigned char)s[i + 1] & 0x3F);
        } else {
            cp = l == 1 ? c : 0xFFFFFFFFu;
        }
        int b = cp == 0xFFFFFFFFu ? -1 : osr_tok_cp_to_byte(cp);
        int rc;
        if (b >= 0)
            rc = osr_buf_putc(out, (char)b);
        else /* not from the byte alphabet: keep the text as it is */
            rc = osr_buf_append(out, s + i, i + l <= n ? l : n - i);
        if (rc)
            return rc;
        i += l;
    }
    return OSR_OK;
}

int osr_tokenizer_token_to_piece(const struct osr_tokenizer *t, int32_t id, bool special,
                                 struct osr_buf *out)
{
    if (id < 0 || (uint32_t)id >= t->n_vocab)
        return OSR_EINVAL;
    const struct osr_str *s = &t->text[id];
    switch (t->types[id]) {
    case OSR_TOKEN_CONTROL:
        return special ? osr_buf_append(out, s->p, s->n) : OSR_OK;
    case OSR_TOKEN_UNKNOWN:
        if (t->kind == OSR_TOK_SPM)
            return osr_buf_append(out, "\xe2\x96\x85", 3); /* "▅", as SentencePiece shows it */
        return special ? osr_buf_append(out, s->p, s->n) : OSR_OK;
    case OSR_TOKEN_USER_DEFINED:
        return t->kind == OSR_TOK_BPE ? osr_buf_append(out, s->p, s->n)
                                      : append_unescaped(out, s->p, s->n);
    case OSR_TOKEN_BYTE:
        if (t->kind == OSR_TOK_SPM && s->n == 6 && memcmp(s->p, "<0x", 3) == 0) {
            char hex[3] = {s->p[3], s->p[4], 0};
            char *end;
            long v = strtol(hex, &end, 16);
            if (*end == '\0')
                return osr_buf_putc(out, (char)v);
        }
        return osr_buf_append(out, s->p, s->n);
    case OSR_TOKEN_UNUSED:
        return OSR_OK;
    default:
        if (t->kind == OSR_TOK_BPE)
            return append_bytelevel(out, s->p, s->n);
        return append_unescaped(out, s->p, s->n);
    }
}

void osr_detok_init(struct osr_detok *d, const struct osr_tokenizer *t, bool special)
{
    memset(d, 0, sizeof(*d));
    d->tok = t;
    d->special = special;
}

static const char replacement[] = "\xEF\xBF\xBD";

/* Expected length of a sequence starting with c, 0 for a byte that cannot start one. */
static size_t seq_len(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    if (c >= 0xE0 && c <= 0xEF)
        return 3;
    if (c >= 0xF0 && c <= 0xF4)
        return 4;
    return 0;
}

/* Whether byte c may follow the bytes p[0..k) of a sequence (with the overlong and surrogate
 * rules for the second byte). */
static bool cont_ok(const unsigned char *p, size_t k, unsigned char c)
{
    if ((c & 0xC0) != 0x80)
        return false;
    if (k == 1) {
        if (p[0] == 0xE0 && c < 0xA0)
            return false;
        if (p[0] == 0xED && c > 0x9F)
            return false;
        if (p[0] == 0xF0 && c < 0x90)
            return false;
        if (p[0] == 0xF4 && c > 0x8F)
            return false;
    }
    return true;
}

/* Feeds bytes through the validator, emitting whole characters. */
static int detok_feed(struct osr_detok *d, const unsigned char *s, size_t n, struct osr_buf *out)
{
    int rc = OSR_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        unsigned char c = s[i];
        if (d->n_pending == 0) {
            size_t l = seq_len(c);
            if (l == 1)
                rc = osr_buf_putc(out, (char)c);
            else if (l == 0)
                rc = osr_buf_append(out, replacement, 3);
            else
                d->pending[d->n_pending++] = c;
            continue;
        }
        if (!cont_ok(d->pending, d->n_pending, c)) {
            /* the held sequence is broken: replace it and look at c afresh */
            d->n_pending = 0;
            if ((rc = osr_buf_append(out, replacement, 3)))
                break;
            i--;
            continue;
        }
        d->pending[d->n_pending++] = c;
        if (d->n_pending == seq_len(d->pending[0])) {
            rc = osr_buf_append(out, d->pending, d->n_pending);
            d->n_pending = 0;
        }
    }
    return rc;
}

int osr_detok_push(struct osr_detok *d, int32_t id, struct osr_buf *out)
{
    struct osr_buf piece;
    osr_buf_init(&piece, 1 << 16);
    int rc = osr_tokenizer_token_to_piece(d->tok, id, d->special, &piece);
    if (!rc)
        rc = detok_feed(d, (const unsigned char *)osr_buf_str(&piece), piece.len, out);
    osr_buf_release(&piece);
    return rc;
}

int osr_detok_finish(struct osr_detok *d, struct osr_buf *out)
{
    if (d->n_pending == 0)
        return OSR_OK;
    d->n_pending = 0;
    return osr_buf_append(out, replacement, 3);
}

int osr_tokenizer_decode(const struct osr_tokenizer *t, const int32_t *ids, size_t n, bool special,
                         struct osr_buf *out)
{
    struct osr_detok d;
    osr_detok_init(&d, t, special);
    for (size_t i = 0; i < n; i++) {
        int rc = osr_detok_push(&d, ids[i], out);
        if (rc)
            return rc;
    }
    return osr_detok_finish(&d, out);
}
