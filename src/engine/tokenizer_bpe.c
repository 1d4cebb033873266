/* tokenizer_bpe.c - byte-level BPE (GPT-2, Llama 3, Qwen 2, DeepSeek, Falcon, StarCoder, ...).
 *
 * Encoding one run of text: the pre-tokenizer cuts it into words with the family's split
 * regexes (each regex cuts every piece the previous one produced; matches and the text between
 * them both become pieces), every word's bytes are mapped to GPT-2's printable byte alphabet,
 * and the word's characters are merged pairwise, lowest merge rank first (ties: leftmost).
 * Families with `ignore_merges` (Llama 3) take a word that is itself a token as is.
 *
 * The regexes run on PCRE2 with UTF and UCP (so \p{L}, \p{N}, \s are Unicode-aware) and JIT.
 * This file does not handle special tokens (tokenizer.c cuts them out first) and does not
 * normalize text.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "osr/alloc.h"
#include "osr/log.h"
#include "tokenizer_impl.h"

/* ---- pre-tokenizer patterns ------------------------------------------------------------------ */

#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define RE_LLAMA3_HEAD                                                                             \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
#define RE_LLAMA3_TAIL " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_CJK "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+"

struct pre_family {
    const char *names; /* '|'-separated tokenizer.ggml.pre values */
    bool ignore_merges;
    const char *regex[TOK_MAX_REGEX];
};

static const struct pre_family families[] = {
    {"default", false, {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"}},
    {"llama3|llama-v3|llama-bpe|falcon3|falcon-h1|pixtral|midm-2.0|lfm2",
     true,
     {RE_LLAMA3_HEAD "\\p{N}{1,3}|" RE_LLAMA3_TAIL}},
    {"dbrx|smaug-bpe|chatglm-bpe|glm4", false, {RE_LLAMA3_HEAD "\\p{N}{1,3}|" RE_LLAMA3_TAIL}},
    {"qwen2|deepseek-r1-qwen|stablelm2|megrez|hunyuan",
     false,
     {RE_LLAMA3_HEAD "\\p{N}|" RE_LLAMA3_TAIL}},
    {"deepseek-llm",
     false,
     {"[\r\n]",
      "\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}"
      "\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}"
      "\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}"
      "\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}"
      "\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}"
      "\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}"
      "\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}"
      "\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}"
      "\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}"
      "\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}"
      "\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}"
      "\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}"
      "\\x{214E}\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}"
      "\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}"
      "\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}"
      "\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}"
      "\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}"
      "\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]+",
      "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+",
      "\\s+$", RE_CJK, "\\p{N}+"}},
    {"deepseek-coder", false, {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_CJK, "\\p{N}"}},
    {"deepseek-v3",
     false,
     {"\\p{N}{1,3}", "[\\x{4E00}-\\x{9FA5}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}]+",
      "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}"
      "\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"}},
    {"falcon", false, {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]"}},
    {"starcoder|refact|command-r|smollm|codeshell|exaone|minerva-7b", false, {"\\p{N}", RE_GPT2}},
    {"gpt-2|gpt2|phi-2|mpt|olmo|jais|trillion|roberta-bpe|gigachat|jina-es|jina-de|jina-v1-en|"
     "jina-v2-es|jina-v2-de|jina-v2-code|gpt-neox",
     false,
     {RE_GPT2}},
    {"poro-chat|bloom|gpt3-finnish",
     false,
     {" ?[^(\\s|.,!?\\x{2026}\\x{3002}\\x{FF0C}\\x{3001}\\x{964}\\x{6D4}\\x{60C})]+"}},
    {"viking",
     false,
     {" ?[^(\\s|.,!?\\x{2026}\\x{3002}\\x{FF0C}\\x{3001}\\x{964}\\x{6D4}\\x{60C})]+", "\\p{N}"}},
    {"tekken",
     true,
     {"[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|"
      "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|"
      "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {"gpt-4o|llama4",
     false,
     {"[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+"
      "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}"
      "\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {"chameleon",
     false,
     {"<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )", "\\p{N}",
      "[\\p{P}!-/:-@\\[-`{-~]", RE_GPT2}},
};

static bool name_in(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *bar = strchr(p, '|');
        size_t l = bar ? (size_t)(bar - p) : strlen(p);
        if (l == n && memcmp(p, name, n) == 0)
            return true;
        if (!bar)
            break;
        p = bar + 1;
    }
    return false;
}

/* ---- GPT-2's byte alphabet ------------------------------------------------------------------- */

/* Printable bytes stand for themselves; the other 68 (0-32, 127-160, 173) map in order to
 * U+0100 upwards. */
uint32_t osr_tok_byte_to_cp(uint8_t b)
{
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174)
        return b;
    if (b <= 32)
        return 256u + b;
    if (b <= 160)
        return 256u + 33u + (uint32_t)(b - 127);
    return 256u + 33u + 34u; /* 173 */
}

int osr_tok_cp_to_byte(uint32_t cp)
{
    if ((cp >= 33 && cp <= 126) || (cp >= 161 && cp <= 172) || (cp >= 174 && cp <= 255))
        return (int)cp;
    if (cp >= 256 && cp <= 288)
        return (int)(cp - 256);
    if (cp >= 289 && cp <= 322)
        return (int)(cp - 289 + 127);
    if (cp == 323)
        return 173;
    return -1;
}

/* ---- set-up ---------------------------------------------------------------------------------- */

int osr_tok_bpe_init(struct osr_tokenizer *t, struct osr_diag *diag)
{
    struct osr_gguf_array merges;
    int rc = osr_gguf_get_arr(t->g, "tokenizer.ggml.merges", &merges);
    if (rc == OSR_ENOTFOUND)
        return osr_diag_set(diag, OSR_ECORRUPT, "BPE vocabulary without 'tokenizer.ggml.merges'");
    if (rc || merges.type != OSR_GGUF_TYPE_STRING || merges.n > INT32_MAX)
        return osr_diag_set(diag, OSR_ECORRUPT, "'tokenizer.ggml.merges' is not a string array");
    size_t total = 1;
    for (uint64_t i = 0; i < merges.n; i++)
        if (!osr_size_add(total, merges.strs[i].n, &total))
            return osr_diag_set(diag, OSR_ECORRUPT, "merges too large");
    t->merge_keys = malloc(total);
    if (!t->merge_keys || osr_strmap_init(&t->merges, (size_t)merges.n))
        return osr_diag_set(diag, OSR_ENOMEM, "out of memory for the merges");
    size_t off = 0;
    for (uint64_t i = 0; i < merges.n; i++) {
        const struct osr_str *m = &merges.strs[i];
        /* "left right": the separator is the first space after the first byte */
        const char *sp = m->n > 1 ? memchr(m->p + 1, ' ', m->n - 1) : NULL;
        if (!sp)
            continue;
        char *key = t->merge_keys + off;
        memcpy(key, m->p, m->n);
        key[sp - m->p] = '\0';
        off += m->n;
        osr_strmap_put(&t->merges, key, m->n, (uint32_t)i, NULL); /* first rank wins */
    }

    const struct pre_family *fam = NULL;
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]) && !fam; i++)
        if (name_in(families[i].names, t->pre))
            fam = &families[i];
    if (!fam) {
        OSR_WARN("tokenizer: unknown pre-tokenizer '%s', using the default one", t->pre);
        fam = &families[0];
    }
    t->ignore_merges = fam->ignore_merges;
    for (size_t i = 0; i < TOK_MAX_REGEX && fam->regex[i]; i++) {
        int err;
        PCRE2_SIZE erroff;
        pcre2_code *re =
            pcre2_compile((PCRE2_SPTR)fam->regex[i], PCRE2_ZERO_TERMINATED,
                          PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &err, &erroff, NULL);
        if (!re) {
            PCRE2_UCHAR msg[128];
            pcre2_get_error_message(err, msg, sizeof(msg));
            return osr_diag_set(diag, OSR_EINVAL, "pre-tokenizer '%s' regex %zu: %s at %zu", t->pre,
                                i, (const char *)msg, (size_t)erroff);
        }
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter */
        t->regex[t->n_regex++] = re;
    }
    return OSR_OK;
}

void osr_tok_bpe_release(struct osr_tokenizer *t)
{
    for (size_t i = 0; i < t->n_regex; i++)
        pcre2_code_free((pcre2_code *)t->regex[i]);
    t->n_regex = 0;
    osr_strmap_release(&t->merges);
    free(t->merge_keys);
    t->merge_keys = NULL;
}

/* ---- encoding -------------------------------------------------------------------------------- */

struct span {
    size_t off, len;
};

struct span_list {
    struct span *a;
    size_t n, cap;
};

static void span_push(struct span_list *l, size_t off, size_t len)
{
    if (len == 0)
        return;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->a = osr_xrealloc(l->a, l->cap * sizeof(*l->a));
    }
    l->a[l->n++] = (struct span){off, len};
}

/* Length of the valid UTF-8 sequence at s (n bytes available), 0 when invalid. */
static size_t valid_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t l;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        l = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        l = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        l = 4;
    else
        return 0;
    if (l > n)
        return 0;
    for (size_t i = 1; i < l; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) || (c == 0xF0 && s[1] < 0x90) ||
        (c == 0xF4 && s[1] > 0x8F))
        return 0;
    return l;
}

/* Returns text, or a heap copy (stored in *copy) with each invalid byte replaced by U+FFFD,
 * which is what the regexes need. */
static const char *sanitize(const char *text, size_t n, char **copy, size_t *out_n)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0, l;
    while (i < n && (l = valid_seq(s + i, n - i)) != 0)
        i += l;
    *copy = NULL;
    *out_n = n;
    if (i == n)
        return text;
    char *c = osr_xmalloc(3 * n + 1);
    size_t o = 0;
    for (i = 0; i < n;) {
        l = valid_seq(s + i, n - i);
        if (l == 0) {
            memcpy(c + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        } else {
            memcpy(c + o, s + i, l);
            o += l;
            i += l;
        }
    }
    *copy = c;
    *out_n = o;
    return c;
}

/* Splits every span of *in with one regex: matches and the gaps between them. */
static int split_regex(const pcre2_code *re, const char *text, const struct span_list *in,
                       struct span_list *out, pcre2_match_data *md)
{
    out->n = 0;
    for (size_t i = 0; i < in->n; i++) {
        const char *subj = text + in->a[i].off;
        size_t len = in->a[i].len, pos = 0, last = 0;
        while (pos <= len) {
            int rc = pcre2_match(re, (PCRE2_SPTR)subj, len, pos, PCRE2_NO_UTF_CHECK, md, NULL);
            if (rc == PCRE2_ERROR_NOMATCH)
                break;
            if (rc < 0)
                return OSR_EINVAL;
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            size_t ms = ov[0], me = ov[1];
            if (me == ms) {
                /* an empty match cuts nothing: step over one character */
                if (ms >= len)
                    break;
                pos = ms + osr_tok_utf8_len((unsigned char)subj[ms]);
                continue;
            }
            span_push(out, in->a[i].off + last, ms - last);
            span_push(out, in->a[i].off + ms, me - ms);
            last = pos = me;
        }
        span_push(out, in->a[i].off + last, len - last);
    }
    return OSR_OK;
}

struct bpe_sym {
    int32_t prev, next;
    const char *text;
    size_t n;
};

static int try_merge(const struct osr_tokenizer *t, const struct bpe_sym *syms, int32_t left,
                     int32_t right, char *key, struct tok_heap *heap)
{
    if (left < 0 || right < 0)
        return OSR_OK;
    const struct bpe_sym *l = &syms[left], *r = &syms[right];
    memcpy(key, l->text, l->n);
    key[l->n] = '\0';
    memcpy(key + l->n + 1, r->text, r->n);
    uint32_t rank;
    if (!osr_strmap_get(&t->merges, key, l->n + 1 + r->n, &rank))
        return OSR_OK;
    return osr_tok_heap_push(heap, (struct tok_bigram){-(double)rank, left, right, l->n + r->n});
}

/* Merges one byte-encoded word and appends its tokens. */
static int bpe_encode_word(const struct osr_tokenizer *t, const char *w, size_t n,
                           struct bpe_sym **syms, size_t *syms_cap, char **key, size_t *key_cap,
                           struct tok_heap *heap, struct tok_vec *out)
{
    if (t->ignore_merges) {
        int32_t id = osr_tok_lookup(t, w, n);
        if (id >= 0)
            return osr_tok_vec_push(out, id);
    }
    if (n > *syms_cap) {
        *syms = osr_xrealloc(*syms, n * sizeof(**syms));
        *syms_cap = n;
    }
    if (n + 1 > *key_cap) {
        *key = osr_xrealloc(*key, n + 1);
        *key_cap = n + 1;
    }
    struct bpe_sym *s = *syms;
    int32_t count = 0;
    for (size_t off = 0; off < n;) {
        size_t l = osr_tok_utf8_len((unsigned char)w[off]);
        if (l > n - off)
            l = n - off;
        s[count] = (struct bpe_sym){count - 1, off + l == n ? -1 : count + 1, w + off, l};
        count++;
        off += l;
    }
    heap->n = 0;
    int rc;
    for (int32_t i = 1; i < count; i++)
        if ((rc = try_merge(t, s, i - 1, i, *key, heap)))
            return rc;
    struct tok_bigram b;
    while (osr_tok_heap_pop(heap, &b)) {
        struct bpe_sym *l = &s[b.left], *r = &s[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size)
            continue; /* stale candidate */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            s[r->next].prev = b.left;
        if ((rc = try_merge(t, s, l->prev, b.left, *key, heap)) ||
            (rc = try_merge(t, s, b.left, l->next, *key, heap)))
            return rc;
    }
    for (int32_t i = 0; i != -1 && count > 0; i = s[i].next) {
        int32_t id = osr_tok_lookup(t, s[i].text, s[i].n);
        if (id >= 0) {
            if ((rc = osr_tok_vec_push(out, id)))
                return rc;
            continue;
        }
        /* no token for this piece: fall back to single-byte tokens where they exist */
        for (size_t k = 0; k < s[i].n; k++) {
            int32_t b1 = osr_tok_lookup(t, s[i].text + k, 1);
            if (b1 >= 0 && (rc = osr_tok_vec_push(out, b1)))
                return rc;
        }
    }
    return OSR_OK;
}

int osr_tok_bpe_encode(const struct osr_tokenizer *t, const char *text, size_t n,
                       struct tok_vec *out)
{
    char *copy;
    size_t len;
    const char *s = sanitize(text, n, &copy, &len);
    struct span_list a = {0}, b = {0};
    struct tok_heap heap = {0};
    struct bpe_sym *syms = NULL;
    char *key = NULL, *word = NULL;
    size_t syms_cap = 0, key_cap = 0, word_cap = 0;
    pcre2_match_data *md = NULL;
    int rc = OSR_OK;

    span_push(&a, 0, len);
    for (size_t r = 0; r < t->n_regex; r++) {
        const pcre2_code *re = t->regex[r];
        pcre2_match_data_free(md);
        md = pcre2_match_data_create_from_pattern(re, NULL);
        if (!md) {
            rc = OSR_ENOMEM;
            goto out;
        }
        if ((rc = split_regex(re, s, &a, &b, md)))
            goto out;
        struct span_list tmp = a;
        a = b;
        b = tmp;
    }
    for (size_t i = 0; i < a.n; i++) {
        const unsigned char *w = (const unsigned char *)s + a.a[i].off;
        size_t wl = a.a[i].len;
        if (2 * wl > word_cap) {
            word_cap = 2 * wl;
            word = osr_xrealloc(word, word_cap);
        }
        size_t o = 0;
        for (size_t k = 0; k < wl; k++) {
            uint32_t cp = osr_tok_byte_to_cp(w[k]);
            if (cp < 0x80) {
                word[o++] = (char)cp;
            } else {
                word[o++] = (char)(0xC0 | (cp >> 6));
                word[o++] = (char)(0x80 | (cp & 0x3F));
            }
        }
        if ((rc = bpe_encode_word(t, word, o, &syms, &syms_cap, &key, &key_cap, &heap, out)))
            goto out;
    }
out:
    pcre2_match_data_free(md);
    osr_tok_heap_release(&heap);
    free(syms);
    free(key);
    free(word);
    free(a.a);
    free(b.a);
    free(copy);
    return rc;
}
