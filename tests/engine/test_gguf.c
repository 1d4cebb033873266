/* test_gguf.c - the GGUF reader: real files from the shared test data, a synthetic file with
 * every value type, and hostile files made by truncating and corrupting real ones. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "osr/alloc.h"
#include "osr/buf.h"
#include "osr/config.h"
#include "osr/gguf.h"

static char *testdata(const char *name)
{
    const char *dir = getenv("OSR_TESTDATA");
    if (!dir || !*dir)
        return NULL;
    char *p = osr_path_join(dir, name);
    FILE *f = fopen(p, "rb");
    if (!f) {
        free(p);
        return NULL;
    }
    fclose(f);
    return p;
}

static unsigned char *slurp(const char *path, size_t *n)
{
    char *data = NULL;
    if (osr_read_file(path, (size_t)64 << 20, &data, n, NULL) != OSR_OK)
        return NULL;
    return (unsigned char *)data;
}

/* ---- a little GGUF writer for synthetic files ------------------------------------------------ */

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

static void w_key(struct osr_buf *b, const char *key, uint32_t type)
{
    w_str(b, key);
    w_u32(b, type);
}

static void w_pad(struct osr_buf *b, size_t align)
{
    while (b->len % align)
        osr_buf_putc(b, 0);
}

/* Builds a v3 file with one key of every type and two tensors (F32 [4,2] and Q8_0 [32]). */
static void build_synthetic(struct osr_buf *b, uint32_t alignment)
{
    osr_buf_init(b, 1 << 20);
    osr_buf_append(b, "GGUF", 4);
    w_u32(b, 3);
    w_u64(b, 2);  /* tensors */
    w_u64(b, 16); /* kvs */
    uint8_t u8 = 200;
    int8_t i8 = -5;
    uint16_t u16 = 60000;
    int16_t i16 = -30000;
    int32_t i32 = -123456;
    float f32 = 1.5f;
    int64_t i64 = -(1ll << 40);
    double f64 = 2.25;
    w_key(b, "t.u8", OSR_GGUF_TYPE_UINT8);
    osr_buf_append(b, &u8, 1);
    w_key(b, "t.i8", OSR_GGUF_TYPE_INT8);
    osr_buf_append(b, &i8, 1);
    w_key(b, "t.u16", OSR_GGUF_TYPE_UINT16);
    osr_buf_append(b, &u16, 2);
    w_key(b, "t.i16", OSR_GGUF_TYPE_INT16);
    osr_buf_append(b, &i16, 2);
    w_key(b, "t.u32", OSR_GGUF_TYPE_UINT32);
    w_u32(b, 4000000000u);
    w_key(b, "t.i32", OSR_GGUF_TYPE_INT32);
    osr_buf_append(b, &i32, 4);
    w_key(b, "t.f32", OSR_GGUF_TYPE_FLOAT32);
    osr_buf_append(b, &f32, 4);
    w_key(b, "t.bool", OSR_GGUF_TYPE_BOOL);
    osr_buf_putc(b, 1);
    w_key(b, "t.str", OSR_GGUF_TYPE_STRING);
    w_str(b, "hello");
    w_key(b, "t.u64", OSR_GGUF_TYPE_UINT64);
    w_u64(b, (1ull << 63) + 7);
    w_key(b, "t.i64", OSR_GGUF_TYPE_INT64);
    osr_buf_append(b, &i64, 8);
    w_key(b, "t.f64", OSR_GGUF_TYPE_FLOAT64);
    osr_buf_append(b, &f64, 8);
    w_key(b, "t.arr_i16", OSR_GGUF_TYPE_ARRAY);
    w_u32(b, OSR_GGUF_TYPE_INT16);
    w_u64(b, 3);
    for (int16_t v = -1; v <= 1; v++)
        osr_buf_append(b, &v, 2);
    w_key(b, "t.arr_str", OSR_GGUF_TYPE_ARRAY);
    w_u32(b, OSR_GGUF_TYPE_STRING);
    w_u64(b, 2);
    w_str(b, "a");
    w_str(b, "bc");
    /* [[1,2],[],["x"]] as an array of arrays */
    w_key(b, "t.nested", OSR_GGUF_TYPE_ARRAY);
    w_u32(b, OSR_GGUF_TYPE_ARRAY);
    w_u64(b, 3);
    w_u32(b, OSR_GGUF_TYPE_UINT32);
    w_u64(b, 2);
    w_u32(b, 1);
    w_u32(b, 2);
    w_u32(b, OSR_GGUF_TYPE_FLOAT64);
    w_u64(b, 0);
    w_u32(b, OSR_GGUF_TYPE_STRING);
    w_u64(b, 1);
    w_str(b, "x");
    w_key(b, "general.alignment", OSR_GGUF_TYPE_UINT32);
    w_u32(b, alignment);
    /* tensors */
    w_str(b, "a.weight");
    w_u32(b, 2);
    w_u64(b, 4);
    w_u64(b, 2);
    w_u32(b, OSR_GGML_TYPE_F32);
    w_u64(b, 0);
    w_str(b, "b.weight");
    w_u32(b, 1);
    w_u64(b, 32);
    w_u32(b, OSR_GGML_TYPE_Q8_0);
    w_u64(b, alignment >= 32 ? alignment : 32);
    w_pad(b, alignment);
    size_t data_start = b->len;
    for (int i = 0; i < 8; i++) {
        float v = (float)i;
        osr_buf_append(b, &v, 4);
    }
    while (b->len < data_start + (alignment >= 32 ? alignment : 32))
        osr_buf_putc(b, 0);
    for (int i = 0; i < 34; i++)
        osr_buf_putc(b, (char)i);
}

static void test_synthetic_all_types(void)
{
    struct osr_buf b;
    build_synthetic(&b, 64);
    struct osr_gguf *g = NULL;
    struct osr_diag d = {0};
    int rc = osr_gguf_open_memory(b.data, b.len, &g, &d);
    if (rc)
        fprintf(stderr, "open: %s\n", d.msg);
    REQUIRE(rc == OSR_OK);
    CHECK_INT_EQ(osr_gguf_version(g), 3);
    CHECK_INT_EQ(osr_gguf_n_kv(g), 16);
    CHECK_INT_EQ(osr_gguf_alignment(g), 64);
    CHECK_INT_EQ(osr_gguf_data_offset(g) % 64, 0);

    uint32_t u32;
    int32_t i32;
    uint64_t u64;
    int64_t i64;
    float f;
    double dd;
    bool bo;
    struct osr_str s;
    CHECK(osr_gguf_get_u32(g, "t.u8", &u32) == OSR_OK && u32 == 200);
    CHECK(osr_gguf_get_i32(g, "t.i8", &i32) == OSR_OK && i32 == -5);
    CHECK(osr_gguf_get_u32(g, "t.i8", &u32) == OSR_EINVAL); /* negative into unsigned */
    CHECK(osr_gguf_get_u32(g, "t.u16", &u32) == OSR_OK && u32 == 60000);
    CHECK(osr_gguf_get_i32(g, "t.i16", &i32) == OSR_OK && i32 == -30000);
    CHECK(osr_gguf_get_u32(g, "t.u32", &u32) == OSR_OK && u32 == 4000000000u);
    CHECK(osr_gguf_get_i32(g, "t.u32", &i32) == OSR_EINVAL); /* does not fit */
    CHECK(osr_gguf_get_i32(g, "t.i32", &i32) == OSR_OK && i32 == -123456);
    CHECK(osr_gguf_get_f32(g, "t.f32", &f) == OSR_OK && f == 1.5f);
    CHECK(osr_gguf_get_bool(g, "t.bool", &bo) == OSR_OK && bo);
    CHECK(osr_gguf_get_str(g, "t.str", &s) == OSR_OK && osr_str_eq_cstr(s, "hello"));
    CHECK(osr_gguf_get_u64(g, "t.u64", &u64) == OSR_OK && u64 == (1ull << 63) + 7);
    CHECK(osr_gguf_get_i64(g, "t.u64", &i64) == OSR_EINVAL);
    CHECK(osr_gguf_get_i64(g, "t.i64", &i64) == OSR_OK && i64 == -(1ll << 40));
    CHECK(osr_gguf_get_f64(g, "t.f64", &dd) == OSR_OK && dd == 2.25);
    CHECK(osr_gguf_get_str(g, "t.u32", &s) == OSR_EINVAL);
    CHECK(osr_gguf_get_u32(g, "no.such.key", &u32) == OSR_ENOTFOUND);
    CHECK(osr_gguf_find_key(g, "t.nested") == 14);

    struct osr_gguf_array a, sub;
    CHECK(osr_gguf_get_arr(g, "t.arr_i16", &a) == OSR_OK);
    CHECK(a.type == OSR_GGUF_TYPE_INT16 && a.n == 3);
    CHECK(osr_gguf_arr_int(&a, 0, &i64) == OSR_OK && i64 == -1);
    CHECK(osr_gguf_arr_int(&a, 2, &i64) == OSR_OK && i64 == 1);
    CHECK(osr_gguf_arr_int(&a, 3, &i64) == OSR_EINVAL); /* out of range */
    CHECK(osr_gguf_arr_str(&a, 0, &s) == OSR_EINVAL);   /* wrong type */
    CHECK(osr_gguf_get_arr(g, "t.arr_str", &a) == OSR_OK && a.n == 2);
    CHECK(osr_gguf_arr_str(&a, 1, &s) == OSR_OK && osr_str_eq_cstr(s, "bc"));
    CHECK(osr_gguf_get_arr(g, "t.nested", &a) == OSR_OK && a.type == OSR_GGUF_TYPE_ARRAY);
    CHECK_INT_EQ(a.n, 3);
    CHECK(osr_gguf_arr_arr(&a, 0, &sub) == OSR_OK && sub.n == 2 &&
          sub.type == OSR_GGUF_TYPE_UINT32);
    CHECK(osr_gguf_arr_u64(&sub, 1, &u64) == OSR_OK && u64 == 2);
    CHECK(osr_gguf_arr_arr(&a, 1, &sub) == OSR_OK && sub.n == 0 &&
          sub.type == OSR_GGUF_TYPE_FLOAT64);
    CHECK(osr_gguf_arr_arr(&a, 2, &sub) == OSR_OK && sub.n == 1);
    CHECK(osr_gguf_arr_str(&sub, 0, &s) == OSR_OK && osr_str_eq_cstr(s, "x"));

    CHECK_INT_EQ(osr_gguf_n_tensors(g), 2);
    const struct osr_gguf_tensor *t = osr_gguf_find_tensor(g, "a.weight");
    REQUIRE(t != NULL);
    CHECK(t->n_dims == 2 && t->dims[0] == 4 && t->dims[1] == 2 && t->dims[2] == 1);
    CHECK_INT_EQ(t->n_bytes, 32);
    float v7;
    memcpy(&v7, (const char *)t->data + 28, 4);
    CHECK(v7 == 7.0f);
    t = osr_gguf_find_tensor(g, "b.weight");
    REQUIRE(t != NULL);
    CHECK(t->type == OSR_GGML_TYPE_Q8_0 && t->n_bytes == 34 && t->n_elements == 32);
    CHECK(((const unsigned char *)t->data)[33] == 33);
    CHECK(osr_gguf_find_tensor(g, "c.weight") == NULL);
    osr_gguf_close(g);
    osr_buf_release(&b);
}

/* Offsets of the synthetic file's fields, found by searching for their bytes. */
static size_t find_bytes(const struct osr_buf *b, const void *needle, size_t n)
{
    for (size_t i = 0; i + n <= b->len; i++)
        if (memcmp(b->data + i, needle, n) == 0)
            return i;
    return SIZE_MAX;
}

static int open_expect_error(const void *p, size_t n, const char *want_substr)
{
    struct osr_gguf *g = NULL;
    struct osr_diag d = {0};
    int rc = osr_gguf_open_memory(p, n, &g, &d);
    if (rc == OSR_OK) {
        osr_gguf_close(g);
        fprintf(stderr, "expected an error containing '%s'\n", want_substr);
        return 0;
    }
    if (want_substr && !strstr(d.msg, want_substr)) {
        fprintf(stderr, "error '%s' does not contain '%s'\n", d.msg, want_substr);
        return 0;
    }
    return 1;
}

static void test_synthetic_corruptions(void)
{
    struct osr_buf b;
    build_synthetic(&b, 32);
    char *copy = osr_xmalloc(b.len);
    size_t off;

    /* magic and version */
    memcpy(copy, b.data, b.len);
    copy[0] = 'X';
    CHECK(open_expect_error(copy, b.len, "bad magic"));
    memcpy(copy, b.data, b.len);
    copy[4] = 1;
    CHECK(open_expect_error(copy, b.len, "version 1"));
    memcpy(copy, b.data, b.len);
    memcpy(copy + 4, "\0\0\0\3", 4);
    CHECK(open_expect_error(copy, b.len, "big-endian"));

    /* huge counts */
    memcpy(copy, b.data, b.len);
    memset(copy + 8, 0xff, 8);
    CHECK(open_expect_error(copy, b.len, "tensor count"));
    memcpy(copy, b.data, b.len);
    memset(copy + 16, 0xff, 8);
    CHECK(open_expect_error(copy, b.len, "key/value count"));

    /* a string length that runs past the end */
    memcpy(copy, b.data, b.len);
    off = find_bytes(&b, "\5\0\0\0\0\0\0\0hello", 13);
    REQUIRE(off != SIZE_MAX);
    memset(copy + off, 0x7f, 8);
    CHECK(open_expect_error(copy, b.len, "t.str"));

    /* unknown value type */
    memcpy(copy, b.data, b.len);
    off = find_bytes(&b, "t.bool", 6);
    REQUIRE(off != SIZE_MAX);
    copy[off + 6] = 99;
    CHECK(open_expect_error(copy, b.len, "unknown value type 99"));
    /* bool that is not 0/1 */
    memcpy(copy, b.data, b.len);
    copy[off + 10] = 7;
    CHECK(open_expect_error(copy, b.len, "bool value"));

    /* duplicate key: rename t.i8 to t.u8 */
    memcpy(copy, b.data, b.len);
    off = find_bytes(&b, "t.i8", 4);
    memcpy(copy + off, "t.u8", 4);
    CHECK(open_expect_error(copy, b.len, "appears twice"));

    /* alignment that is not a power of two */
    memcpy(copy, b.data, b.len);
    off = find_bytes(&b, "general.alignment", 17);
    REQUIRE(off != SIZE_MAX);
    copy[off + 17 + 4] = 24;
    CHECK(open_expect_error(copy, b.len, "general.alignment"));

    /* tensor with 5 dims, unknown ggml type, misaligned offset, data past the end */
    size_t tb = find_bytes(&b, "b.weight", 8);
    REQUIRE(tb != SIZE_MAX);
    memcpy(copy, b.data, b.len);
    copy[tb + 8] = 5;
    CHECK(open_expect_error(copy, b.len, "5 dimensions"));
    memcpy(copy, b.data, b.len);
    copy[tb + 8 + 4 + 8] = 4; /* type 4 was retired */
    CHECK(open_expect_error(copy, b.len, "unknown ggml type 4"));
    memcpy(copy, b.data, b.len);
    copy[tb + 8 + 4 + 8 + 4] = 33;
    CHECK(open_expect_error(copy, b.len, "not a multiple of the alignment"));
    memcpy(copy, b.data, b.len);
    copy[tb + 8 + 4 + 8 + 4 + 1] = 1; /* offset += 256 */
    CHECK(open_expect_error(copy, b.len, "tensor 'b.weight': data ["));
    memcpy(copy, b.data, b.len);
    memset(copy + tb + 8 + 4 + 8 + 4, 0xe0, 8); /* offset near 2^64 */
    CHECK(open_expect_error(copy, b.len, "lies outside the file"));
    /* Q8_0 with a first dimension that is not a multiple of 32 */
    memcpy(copy, b.data, b.len);
    copy[tb + 8 + 4] = 31;
    CHECK(open_expect_error(copy, b.len, "block size"));
    /* duplicate tensor name */
    memcpy(copy, b.data, b.len);
    copy[tb] = 'a';
    CHECK(open_expect_error(copy, b.len, "appears twice"));

    /* every truncation fails */
    int ok = 1;
    for (size_t n = 0; n < b.len; n++)
        ok &= open_expect_error(b.data, n, NULL);
    CHECK(ok);
    /* every single-byte corruption of the header and metadata either opens or fails cleanly
     * (ASan would catch a bad read); at least most of them must be caught */
    int failures = 0, total = 0;
    for (size_t i = 0; i < tb + 40 && i < b.len; i++) {
        static const unsigned char vals[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
        for (size_t k = 0; k < sizeof(vals); k++) {
            memcpy(copy, b.data, b.len);
            if ((unsigned char)copy[i] == vals[k])
                continue;
            copy[i] = (char)vals[k];
            struct osr_gguf *g = NULL;
            total++;
            if (osr_gguf_open_memory(copy, b.len, &g, NULL) != OSR_OK)
                failures++;
            osr_gguf_close(g);
        }
    }
    CHECK(failures > total / 4);
    free(copy);
    osr_buf_release(&b);
}

static void test_empty_and_tiny_buffers(void)
{
    struct osr_gguf *g = (struct osr_gguf *)1;
    struct osr_diag d = {0};
    CHECK(osr_gguf_open_memory(NULL, 0, &g, &d) == OSR_ECORRUPT);
    CHECK(g == NULL);
    CHECK(strstr(d.msg, "too small") != NULL);
    /* header only, zero tensors and keys: valid */
    unsigned char h[24] = {'G', 'G', 'U', 'F', 3};
    CHECK(osr_gguf_open_memory(h, sizeof(h), &g, &d) == OSR_OK);
    CHECK(osr_gguf_n_kv(g) == 0 && osr_gguf_n_tensors(g) == 0);
    osr_gguf_close(g);
    osr_gguf_close(NULL);
    CHECK(osr_gguf_open("/nonexistent/dir/x.gguf", &g, &d) == OSR_EIO);
    CHECK(strstr(d.msg, "cannot open") != NULL);
}

static void test_type_layouts(void)
{
    uint32_t be, bb;
    CHECK(osr_ggml_type_layout(OSR_GGML_TYPE_Q4_K, &be, &bb) && be == 256 && bb == 144);
    CHECK(osr_ggml_type_layout(OSR_GGML_TYPE_Q6_K, &be, &bb) && be == 256 && bb == 210);
    CHECK(osr_ggml_type_layout(OSR_GGML_TYPE_Q8_0, &be, &bb) && be == 32 && bb == 34);
    CHECK(osr_ggml_type_layout(OSR_GGML_TYPE_BF16, &be, &bb) && be == 1 && bb == 2);
    CHECK(!osr_ggml_type_layout((enum osr_ggml_type)4, &be, &bb));
    CHECK(!osr_ggml_type_layout((enum osr_ggml_type)1000, &be, &bb));
    CHECK_STR_EQ(osr_ggml_type_name(OSR_GGML_TYPE_Q5_K), "Q5_K");
    CHECK_STR_EQ(osr_gguf_type_name(OSR_GGUF_TYPE_FLOAT64), "f64");
}

struct vocab_expect {
    const char *file;
    const char *arch;
    const char *model;
    uint64_t n_tokens;
};

static void test_vocab_files(void)
{
    static const struct vocab_expect ex[] = {
        {"ggml-vocab-llama-spm.gguf", "llama", "llama", 32000},
        {"ggml-vocab-bert-bge.gguf", "bert", "bert", 30522},
        {"ggml-vocab-gpt-2.gguf", "gpt2", "gpt2", 50257},
        {"ggml-vocab-falcon.gguf", "falcon", "gpt2", 65024},
        {"ggml-vocab-llama-bpe.gguf", "llama", "gpt2", 128256},
        {"ggml-vocab-phi-3.gguf", "phi3", "llama", 32064},
        {"ggml-vocab-deepseek-llm.gguf", "llama", "gpt2", 102400},
        {"ggml-vocab-starcoder.gguf", "starcoder2", "gpt2", 49152},
    };
    int seen = 0;
    for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
        char *path = testdata(ex[i].file);
        if (!path) {
            printf("skipping %s: not in OSR_TESTDATA\n", ex[i].file);
            continue;
        }
        seen++;
        struct osr_gguf *g = NULL;
        struct osr_diag d = {0};
        int rc = osr_gguf_open(path, &g, &d);
        if (rc)
            fprintf(stderr, "%s: %s\n", ex[i].file, d.msg);
        CHECK(rc == OSR_OK);
        if (rc == OSR_OK) {
            struct osr_str s;
            struct osr_gguf_array toks, types;
            CHECK(osr_gguf_get_str(g, "general.architecture", &s) == OSR_OK &&
                  osr_str_eq_cstr(s, ex[i].arch));
            CHECK(osr_gguf_get_str(g, "tokenizer.ggml.model", &s) == OSR_OK &&
                  osr_str_eq_cstr(s, ex[i].model));
            CHECK(osr_gguf_get_arr(g, "tokenizer.ggml.tokens", &toks) == OSR_OK &&
                  toks.type == OSR_GGUF_TYPE_STRING && toks.n == ex[i].n_tokens);
            CHECK(osr_gguf_get_arr(g, "tokenizer.ggml.token_type", &types) == OSR_OK &&
                  types.n == ex[i].n_tokens);
            CHECK_INT_EQ(osr_gguf_n_tensors(g), 0);
            CHECK_INT_EQ(osr_gguf_version(g), 3);
        }
        osr_gguf_close(g);
        free(path);
    }
    /* the llama-spm vocab: token 1 is "<s>", and "▁the" is token 278 */
    char *path = testdata("ggml-vocab-llama-spm.gguf");
    if (path) {
        struct osr_gguf *g = NULL;
        REQUIRE(osr_gguf_open(path, &g, NULL) == OSR_OK);
        struct osr_gguf_array toks;
        struct osr_str s;
        CHECK(osr_gguf_get_arr(g, "tokenizer.ggml.tokens", &toks) == OSR_OK);
        CHECK(osr_gguf_arr_str(&toks, 1, &s) == OSR_OK && osr_str_eq_cstr(s, "<s>"));
        CHECK(osr_gguf_arr_str(&toks, 278, &s) == OSR_OK && osr_str_eq_cstr(s, "\xe2\x96\x81the"));
        uint32_t bos;
        CHECK(osr_gguf_get_u32(g, "tokenizer.ggml.bos_token_id", &bos) == OSR_OK && bos == 1);
        osr_gguf_close(g);
        free(path);
    }
    printf("%d vocab files opened\n", seen);
}

/* Tensors of a model file are packed back to back, each starting at the next aligned offset:
 * checking that against our computed byte sizes checks the type layouts. */
static void check_packed(struct osr_gguf *g)
{
    size_t n = osr_gguf_n_tensors(g);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const struct osr_gguf_tensor *t = osr_gguf_tensor(g, i);
        /* find the tensor that starts right after it, or the end of the file */
        uint64_t end = t->offset + t->n_bytes;
        uint64_t next = UINT64_MAX;
        for (size_t j = 0; j < n; j++) {
            const struct osr_gguf_tensor *u = osr_gguf_tensor(g, j);
            if (u->offset > t->offset && u->offset < next)
                next = u->offset;
        }
        if (next == UINT64_MAX)
            next = osr_gguf_size(g) - osr_gguf_data_offset(g);
        uint64_t a = osr_gguf_alignment(g);
        uint64_t padded = (end + a - 1) / a * a;
        if (padded != next && end != next)
            fprintf(stderr, "tensor '%s' ends at %llu, next starts at %llu\n", t->name,
                    (unsigned long long)end, (unsigned long long)next);
        CHECK(padded == next || end == next);
        total += t->n_bytes;
    }
    CHECK(total > 0);
}

static void test_model_files(void)
{
    char *path = testdata("llama-2-tiny-random.gguf");
    if (!path) {
        printf("skipping llama-2-tiny-random.gguf: not in OSR_TESTDATA\n");
        return;
    }
    struct osr_gguf *g = NULL;
    struct osr_diag d = {0};
    int rc = osr_gguf_open(path, &g, &d);
    if (rc)
        fprintf(stderr, "%s\n", d.msg);
    REQUIRE(rc == OSR_OK);
    uint32_t u;
    float eps;
    struct osr_str s;
    CHECK(osr_gguf_get_str(g, "general.architecture", &s) == OSR_OK && osr_str_eq_cstr(s, "llama"));
    CHECK(osr_gguf_get_u32(g, "llama.embedding_length", &u) == OSR_OK && u == 8);
    CHECK(osr_gguf_get_u32(g, "llama.attention.head_count", &u) == OSR_OK && u == 2);
    CHECK(osr_gguf_get_u32(g, "llama.feed_forward_length", &u) == OSR_OK && u == 32);
    CHECK(osr_gguf_get_u32(g, "llama.context_length", &u) == OSR_OK && u == 4096);
    CHECK(osr_gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &eps) == OSR_OK &&
          eps > 0.9e-5f && eps < 1.1e-5f);
    CHECK(osr_str_eq_cstr(osr_gguf_arch(g), "llama"));
    CHECK(osr_gguf_get_arch_u32(g, "block_count", &u) == OSR_OK && u == 1);
    CHECK(osr_gguf_get_arch_u32(g, "no_such_key", &u) == OSR_ENOTFOUND);
    CHECK(osr_gguf_get_arch_f32(g, "attention.layer_norm_rms_epsilon", &eps) == OSR_OK);
    CHECK_INT_EQ(osr_gguf_n_tensors(g), 12);
    const struct osr_gguf_tensor *t = osr_gguf_find_tensor(g, "token_embd.weight");
    REQUIRE(t != NULL);
    CHECK(t->type == OSR_GGML_TYPE_F16 && t->n_dims == 2 && t->dims[0] == 8 && t->dims[1] == 32000);
    CHECK_INT_EQ(t->n_bytes, 8 * 32000 * 2);
    t = osr_gguf_find_tensor(g, "blk.0.ffn_down.weight");
    REQUIRE(t != NULL);
    CHECK(t->dims[0] == 32 && t->dims[1] == 8);
    t = osr_gguf_find_tensor(g, "output_norm.weight");
    REQUIRE(t != NULL);
    CHECK(t->type == OSR_GGML_TYPE_F32 && t->n_dims == 1 && t->n_bytes == 32);
    check_packed(g);
    osr_gguf_close(g);

    /* hostile variants of the real file */
    size_t n;
    unsigned char *buf = slurp(path, &n);
    REQUIRE(buf != NULL);
    int all_failed = 1;
    /* truncation at every byte of the header area and at 2000 points over the rest */
    for (size_t cut = 0; cut < n; cut += (cut < 4096 ? 1 : n / 2000 + 1)) {
        struct osr_gguf *h = NULL;
        if (osr_gguf_open_memory(buf, cut, &h, NULL) == OSR_OK) {
            fprintf(stderr, "truncation at %zu was accepted\n", cut);
            all_failed = 0;
        }
        osr_gguf_close(h);
    }
    CHECK(all_failed);
    /* a truncation inside the last tensor names that tensor */
    struct osr_gguf *h = NULL;
    CHECK(osr_gguf_open_memory(buf, n - 1, &h, &d) == OSR_ECORRUPT);
    CHECK(strstr(d.msg, "tensor 'output.weight': data [") != NULL);
    CHECK(strstr(d.msg, "lies outside the file") != NULL);
    /* corrupt the length fields of the string array elements */
    uint64_t big = 0x7fffffffffffffffull;
    unsigned char *copy = osr_xmalloc(n);
    int caught = 0;
    for (size_t pos = 24; pos < 4096; pos += 7) {
        memcpy(copy, buf, n);
        memcpy(copy + pos, &big, 8);
        h = NULL;
        if (osr_gguf_open_memory(copy, n, &h, NULL) != OSR_OK)
            caught++;
        osr_gguf_close(h);
    }
    CHECK(caught > 400);
    free(copy);
    free(buf);
    free(path);
}

static void test_reference_models(void)
{
    static const char *const files[] = {
        "reference/synth-micro-F32.gguf",     "reference/synth-micro-F16.gguf",
        "reference/synth-micro-Q4_0.gguf",    "reference/synth-micro-Q8_0.gguf",
        "reference/synth-micro256-Q4_K.gguf", "reference/synth-micro256-Q5_0.gguf",
        "reference/synth-micro256-Q6_K.gguf",
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char *path = testdata(files[i]);
        if (!path) {
            printf("skipping %s: not in OSR_TESTDATA\n", files[i]);
            continue;
        }
        struct osr_gguf *g = NULL;
        struct osr_diag d = {0};
        int rc = osr_gguf_open(path, &g, &d);
        if (rc)
            fprintf(stderr, "%s: %s\n", files[i], d.msg);
        CHECK(rc == OSR_OK);
        if (rc == OSR_OK) {
            CHECK_INT_EQ(osr_gguf_n_tensors(g), 21);
            check_packed(g);
            CHECK(osr_gguf_find_tensor(g, "blk.1.ffn_up.weight") != NULL);
        }
        osr_gguf_close(g);
        free(path);
    }
}

TEST_MAIN(test_synthetic_all_types, test_synthetic_corruptions, test_empty_and_tiny_buffers,
          test_type_layouts, test_vocab_files, test_model_files, test_reference_models)
