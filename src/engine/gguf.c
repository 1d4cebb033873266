/* gguf.c - the GGUF v2/v3 reader: mapping, validation and lookups.
 *
 * The whole file is parsed once at open time by a bounds-checked cursor; every length, count,
 * offset and dimension is checked against the bytes that remain and every product or sum is
 * overflow-checked, so a truncated or hostile file ends in an error message that names the
 * bad field.  After that the accessors only index into tables this file built.
 *
 * Split models (llama.cpp's gguf-split layout: every part a complete GGUF file, the first one
 * holding the metadata, each holding a share of the tensors) are joined after each part has
 * been validated on its own: osr_gguf_join checks the split.* keys and the tensor counts and
 * gives one object whose tensor table spans every part.
 *
 * It does not interpret the metadata (that is the tokenizer's and the model loader's job),
 * does not convert tensor data and does not support GGUF v1 or big-endian files.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "osr/alloc.h"
#include "osr/gguf.h"
#include "strmap.h"

/* Sanity caps.  They bound what a hostile file can make us allocate beyond the per-element
 * bounds implied by the file size. */
#define KEY_MAX_LEN 65535u
#define TENSOR_NAME_MAX_LEN 1024u
#define ARRAY_MAX_DEPTH 8
#define ALIGNMENT_MAX (1u << 30)

struct kv {
    char *key;
    enum osr_gguf_type type;
    const uint8_t *scalar; /* numeric and bool values: the bytes in the file */
    struct osr_str str;
    struct osr_gguf_array arr;
};

struct osr_gguf {
    const uint8_t *base;
    uint64_t size;
    bool mapped;
    uint32_t version;
    uint64_t alignment;
    uint64_t data_offset;
    size_t n_kv;
    struct kv *kvs;
    size_t n_tensors;
    struct osr_gguf_tensor *tensors;
    struct osr_strmap tensor_index;
    /* Every allocation made for arrays, freed at close. */
    void **allocs;
    size_t n_allocs, cap_allocs;
    /* A joined split model: the other parts (whose mappings the tensors of this one point
     * into), owned and closed with this one. */
    struct osr_gguf **parts;
    size_t n_parts;
};

struct cursor {
    const uint8_t *base;
    uint64_t size;
    uint64_t pos;
    struct osr_diag *diag;
};

static const char *const gguf_type_names[OSR_GGUF_TYPE_COUNT_] = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64",
};

static const uint8_t gguf_type_sizes[OSR_GGUF_TYPE_COUNT_] = {
    1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8,
};

struct ggml_layout {
    const char *name;
    uint32_t block_elems;
    uint32_t block_bytes;
};

/* Block layouts of the ggml types (QK_K = 256 for the k-quants and i-quants). */
static const struct ggml_layout ggml_layouts[OSR_GGML_TYPE_COUNT_] = {
    [OSR_GGML_TYPE_F32] = {"F32", 1, 4},
    [OSR_GGML_TYPE_F16] = {"F16", 1, 2},
    [OSR_GGML_TYPE_Q4_0] = {"Q4_0", 32, 2 + 16},
    [OSR_GGML_TYPE_Q4_1] = {"Q4_1", 32, 2 + 2 + 16},
    [OSR_GGML_TYPE_Q5_0] = {"Q5_0", 32, 2 + 4 + 16},
    [OSR_GGML_TYPE_Q5_1] = {"Q5_1", 32, 2 + 2 + 4 + 16},
    [OSR_GGML_TYPE_Q8_0] = {"Q8_0", 32, 2 + 32},
    [OSR_GGML_TYPE_Q8_1] = {"Q8_1", 32, 2 + 2 + 32},
    [OSR_GGML_TYPE_Q2_K] = {"Q2_K", 256, 16 + 64 + 2 + 2},
    [OSR_GGML_TYPE_Q3_K] = {"Q3_K", 256, 32 + 64 + 12 + 2},
    [OSR_GGML_TYPE_Q4_K] = {"Q4_K", 256, 2 + 2 + 12 + 128},
    [OSR_GGML_TYPE_Q5_K] = {"Q5_K", 256, 2 + 2 + 12 + 32 + 128},
    [OSR_GGML_TYPE_Q6_K] = {"Q6_K", 256, 128 + 64 + 16 + 2},
    [OSR_GGML_TYPE_Q8_K] = {"Q8_K", 256, 4 + 256 + 32},
    [OSR_GGML_TYPE_IQ2_XXS] = {"IQ2_XXS", 256, 2 + 64},
    [OSR_GGML_TYPE_IQ2_XS] = {"IQ2_XS", 256, 2 + 64 + 8},
    [OSR_GGML_TYPE_IQ3_XXS] = {"IQ3_XXS", 256, 2 + 96},
    [OSR_GGML_TYPE_IQ1_S] = {"IQ1_S", 256, 2 + 32 + 16},
    [OSR_GGML_TYPE_IQ4_NL] = {"IQ4_NL", 32, 2 + 16},
    [OSR_GGML_TYPE_IQ3_S] = {"IQ3_S", 256, 2 + 64 + 8 + 32 + 4},
    [OSR_GGML_TYPE_IQ2_S] = {"IQ2_S", 256, 2 + 64 + 8 + 8},
    [OSR_GGML_TYPE_IQ4_XS] = {"IQ4_XS", 256, 2 + 2 + 4 + 128},
    [OSR_GGML_TYPE_I8] = {"I8", 1, 1},
    [OSR_GGML_TYPE_I16] = {"I16", 1, 2},
    [OSR_GGML_TYPE_I32] = {"I32", 1, 4},
    [OSR_GGML_TYPE_I64] = {"I64", 1, 8},
    [OSR_GGML_TYPE_F64] = {"F64", 1, 8},
    [OSR_GGML_TYPE_IQ1_M] = {"IQ1_M", 256, 32 + 16 + 8},
    [OSR_GGML_TYPE_BF16] = {"BF16", 1, 2},
    [OSR_GGML_TYPE_TQ1_0] = {"TQ1_0", 256, 48 + 4 + 2},
    [OSR_GGML_TYPE_TQ2_0] = {"TQ2_0", 256, 64 + 2},
    [OSR_GGML_TYPE_MXFP4] = {"MXFP4", 32, 1 + 16},
};

/* The fixed part of the file header, as laid out on disk. */
struct gguf_header_disk {
    char magic[4];
    uint32_t version;
    uint64_t n_tensors;
    uint64_t n_kv;
};
static_assert(sizeof(struct gguf_header_disk) == 24, "GGUF header is 24 bytes");
static_assert(sizeof(float) == 4 && sizeof(double) == 8, "IEEE float sizes");
/* Values are read with memcpy straight into host integers: GGUF is little-endian, so is the
 * host (x86-64). */
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "little-endian host required");

const char *osr_gguf_type_name(enum osr_gguf_type t)
{
    return (unsigned)t < OSR_GGUF_TYPE_COUNT_ ? gguf_type_names[t] : "?";
}

const char *osr_ggml_type_name(enum osr_ggml_type t)
{
    return (unsigned)t < OSR_GGML_TYPE_COUNT_ ? ggml_layouts[t].name : NULL;
}

bool osr_ggml_type_layout(enum osr_ggml_type t, uint32_t *block_elems, uint32_t *block_bytes)
{
    if ((unsigned)t >= OSR_GGML_TYPE_COUNT_ || !ggml_layouts[t].name)
        return false;
    if (block_elems)
        *block_elems = ggml_layouts[t].block_elems;
    if (block_bytes)
        *block_bytes = ggml_layouts[t].block_bytes;
    return true;
}

/* ---- cursor ---------------------------------------------------------------------------------- */

static uint64_t remaining(const struct cursor *c)
{
    return c->size - c->pos;
}

static int need(struct cursor *c, uint64_t n, const char *what)
{
    if (n > remaining(c))
        return osr_diag_set(
            c->diag, OSR_ECORRUPT, "%s at offset %llu needs %llu bytes but the file ends at %llu",
            what, (unsigned long long)c->pos, (unsigned long long)n, (unsigned long long)c->size);
    return OSR_OK;
}

static int rd_u32(struct cursor *c, uint32_t *out, const char *what)
{
    int rc = need(c, 4, what);
    if (rc)
        return rc;
    memcpy(out, c->base + c->pos, 4);
    c->pos += 4;
    return OSR_OK;
}

static int rd_u64(struct cursor *c, uint64_t *out, const char *what)
{
    int rc = need(c, 8, what);
    if (rc)
        return rc;
    memcpy(out, c->base + c->pos, 8);
    c->pos += 8;
    return OSR_OK;
}

static int rd_str(struct cursor *c, struct osr_str *out, const char *what)
{
    uint64_t len;
    int rc = rd_u64(c, &len, what);
    if (rc)
        return rc;
    if (len > remaining(c))
        return osr_diag_set(c->diag, OSR_ECORRUPT,
                            "%s at offset %llu has length %llu but only %llu bytes remain", what,
                            (unsigned long long)(c->pos - 8), (unsigned long long)len,
                            (unsigned long long)remaining(c));
    out->p = (const char *)c->base + c->pos;
    out->n = (size_t)len;
    c->pos += len;
    return OSR_OK;
}

/* ---- allocation bookkeeping ------------------------------------------------------------------ */

/* Allocates count*size zeroed bytes owned by g; NULL on overflow or out of memory. */
static void *g_calloc(struct osr_gguf *g, uint64_t count, size_t size)
{
    size_t bytes;
    if (count > SIZE_MAX || !osr_size_mul((size_t)count, size, &bytes))
        return NULL;
    if (g->n_allocs == g->cap_allocs) {
        size_t ncap = g->cap_allocs ? g->cap_allocs * 2 : 16;
        void **na = realloc(g->allocs, ncap * sizeof(*na));
        if (!na)
            return NULL;
        g->allocs = na;
        g->cap_allocs = ncap;
    }
    void *p = calloc(bytes ? bytes : 1, 1);
    if (!p)
        return NULL;
    g->allocs[g->n_allocs++] = p;
    return p;
}

/* ---- values ---------------------------------------------------------------------------------- */

static int read_array(struct osr_gguf *g, struct cursor *c, struct osr_gguf_array *arr,
                      const char *key, int depth);

static int check_type(struct cursor *c, uint32_t t, const char *key)
{
    if (t >= OSR_GGUF_TYPE_COUNT_)
        return osr_diag_set(c->diag, OSR_ECORRUPT, "key '%s': unknown value type %u", key, t);
    return OSR_OK;
}

static int read_array(struct osr_gguf *g, struct cursor *c, struct osr_gguf_array *arr,
                      const char *key, int depth)
{
    uint32_t et;
    uint64_t n;
    int rc;
    if (depth > ARRAY_MAX_DEPTH)
        return osr_diag_set(c->diag, OSR_ECORRUPT, "key '%s': arrays nested deeper than %d", key,
                            ARRAY_MAX_DEPTH);
    if ((rc = rd_u32(c, &et, "array element type")) || (rc = check_type(c, et, key)) ||
        (rc = rd_u64(c, &n, "array length")))
        return rc;
    arr->type = (enum osr_gguf_type)et;
    arr->n = n;
    if (et == OSR_GGUF_TYPE_STRING) {
        /* each element needs at least its 8-byte length */
        if (n > remaining(c) / 8)
            return osr_diag_set(c->diag, OSR_ECORRUPT,
                                "key '%s': array of %llu strings cannot fit in the %llu bytes "
                                "left",
                                key, (unsigned long long)n, (unsigned long long)remaining(c));
        struct osr_str *strs = g_calloc(g, n, sizeof(*strs));
        if (!strs)
            return osr_diag_set(c->diag, OSR_ENOMEM, "key '%s': out of memory", key);
        for (uint64_t i = 0; i < n; i++)
            if ((rc = rd_str(c, &strs[i], "array string")))
                return rc;
        arr->strs = strs;
    } else if (et == OSR_GGUF_TYPE_ARRAY) {
        /* each nested array needs at least its type and length: 12 bytes */
        if (n > remaining(c) / 12)
            return osr_diag_set(c->diag, OSR_ECORRUPT,
                                "key '%s': array of %llu arrays cannot fit in the %llu bytes left",
                                key, (unsigned long long)n, (unsigned long long)remaining(c));
        struct osr_gguf_array *arrs = g_calloc(g, n, sizeof(*arrs));
        if (!arrs)
            return osr_diag_set(c->diag, OSR_ENOMEM, "key '%s': out of memory", key);
        for (uint64_t i = 0; i < n; i++)
            if ((rc = read_array(g, c, &arrs[i], key, depth + 1)))
                return rc;
        arr->arrs = arrs;
    } else {
        uint64_t esz = gguf_type_sizes[et];
        if (n > remaining(c) / esz)
            return osr_diag_set(c->diag, OSR_ECORRUPT,
                                "key '%s': array of %llu %s values at offset %llu runs past the "
                                "end of the file (size %llu)",
                                key, (unsigned long long)n, gguf_type_names[et],
                                (unsigned long long)c->pos, (unsigned long long)c->size);
        arr->data = c->base + c->pos;
        c->pos += n * esz;
    }
    return OSR_OK;
}

static int read_kv(struct osr_gguf *g, struct cursor *c, size_t idx)
{
    struct kv *kv = &g->kvs[idx];
    struct osr_str key;
    uint32_t t;
    int rc;
    char what[48];
    snprintf(what, sizeof(what), "key %zu", idx);
    if ((rc = rd_str(c, &key, what)))
        return rc;
    if (key.n == 0 || key.n > KEY_MAX_LEN)
        return osr_diag_set(c->diag, OSR_ECORRUPT, "key %zu has invalid length %zu", idx, key.n);
    if (memchr(key.p, '\0', key.n))
        return osr_diag_set(c->diag, OSR_ECORRUPT, "key %zu contains a NUL byte", idx);
    kv->key = osr_xstrndup(key.p, key.n);
    if ((rc = rd_u32(c, &t, "value type")) || (rc = check_type(c, t, kv->key)))
        return rc;
    kv->type = (enum osr_gguf_type)t;
    switch (kv->type) {
    case OSR_GGUF_TYPE_STRING:
        return rd_str(c, &kv->str, kv->key);
    case OSR_GGUF_TYPE_ARRAY:
        return read_array(g, c, &kv->arr, kv->key, 0);
    default:
        if ((rc = need(c, gguf_type_sizes[t], kv->key)))
            return rc;
        kv->scalar = c->base + c->pos;
        c->pos += gguf_type_sizes[t];
        if (kv->type == OSR_GGUF_TYPE_BOOL && *kv->scalar > 1)
            return osr_diag_set(c->diag, OSR_ECORRUPT, "key '%s': bool value %u is not 0 or 1",
                                kv->key, *kv->scalar);
        return OSR_OK;
    }
}

/* ---- scalar conversion ----------------------------------------------------------------------- */

static bool is_int_type(enum osr_gguf_type t)
{
    switch (t) {
    case OSR_GGUF_TYPE_UINT8:
    case OSR_GGUF_TYPE_INT8:
    case OSR_GGUF_TYPE_UINT16:
    case OSR_GGUF_TYPE_INT16:
    case OSR_GGUF_TYPE_UINT32:
    case OSR_GGUF_TYPE_INT32:
    case OSR_GGUF_TYPE_UINT64:
    case OSR_GGUF_TYPE_INT64:
    case OSR_GGUF_TYPE_BOOL:
        return true;
    default:
        return false;
    }
}

/* Reads an integer of type t at p into either a signed or an unsigned 64-bit value;
 * *is_neg says whether it is negative (then only *s is meaningful). */
static void load_int(enum osr_gguf_type t, const uint8_t *p, int64_t *s, uint64_t *u, bool *is_neg)
{
    *is_neg = false;
    switch (t) {
    case OSR_GGUF_TYPE_UINT8:
    case OSR_GGUF_TYPE_BOOL:
        *u = p[0];
        break;
    case OSR_GGUF_TYPE_INT8: {
        int8_t v;
        memcpy(&v, p, 1);
        *s = v;
        break;
    }
    case OSR_GGUF_TYPE_UINT16: {
        uint16_t v;
        memcpy(&v, p, 2);
        *u = v;
        break;
    }
    case OSR_GGUF_TYPE_INT16: {
        int16_t v;
        memcpy(&v, p, 2);
        *s = v;
        break;
    }
    case OSR_GGUF_TYPE_UINT32: {
        uint32_t v;
        memcpy(&v, p, 4);
        *u = v;
        break;
    }
    case OSR_GGUF_TYPE_INT32: {
        int32_t v;
        memcpy(&v, p, 4);
        *s = v;
        break;
    }
    case OSR_GGUF_TYPE_UINT64:
        memcpy(u, p, 8);
        break;
    case OSR_GGUF_TYPE_INT64:
        memcpy(s, p, 8);
        break;
    default:
        *u = 0;
        break;
    }
    switch (t) {
    case OSR_GGUF_TYPE_INT8:
    case OSR_GGUF_TYPE_INT16:
    case OSR_GGUF_TYPE_INT32:
    case OSR_GGUF_TYPE_INT64:
        if (*s < 0)
            *is_neg = true;
        else
            *u = (uint64_t)*s;
        break;
    default:
        break;
    }
}

static int to_i64(enum osr_gguf_type t, const uint8_t *p, int64_t *out)
{
    int64_t s = 0;
    uint64_t u = 0;
    bool neg;
    if (!is_int_type(t))
        return OSR_EINVAL;
    load_int(t, p, &s, &u, &neg);
    if (neg) {
        *out = s;
        return OSR_OK;
    }
    if (u > INT64_MAX)
        return OSR_EINVAL;
    *out = (int64_t)u;
    return OSR_OK;
}

static int to_u64(enum osr_gguf_type t, const uint8_t *p, uint64_t *out)
{
    int64_t s = 0;
    uint64_t u = 0;
    bool neg;
    if (!is_int_type(t))
        return OSR_EINVAL;
    load_int(t, p, &s, &u, &neg);
    if (neg)
        return OSR_EINVAL;
    *out = u;
    return OSR_OK;
}

static int to_f64(enum osr_gguf_type t, const uint8_t *p, double *out)
{
    if (t == OSR_GGUF_TYPE_FLOAT32) {
        float f;
        memcpy(&f, p, 4);
        *out = f;
        return OSR_OK;
    }
    if (t == OSR_GGUF_TYPE_FLOAT64) {
        memcpy(out, p, 8);
        return OSR_OK;
    }
    return OSR_EINVAL;
}

/* ---- tensors --------------------------------------------------------------------------------- */

static int read_tensor_info(struct osr_gguf *g, struct cursor *c, size_t idx)
{
    struct osr_gguf_tensor *t = &g->tensors[idx];
    struct osr_str name;
    uint32_t n_dims, type;
    int rc;
    char what[48];
    snprintf(what, sizeof(what), "tensor %zu name", idx);
    if ((rc = rd_str(c, &name, what)))
        return rc;
    if (name.n == 0 || name.n > TENSOR_NAME_MAX_LEN || memchr(name.p, '\0', name.n))
        return osr_diag_set(c->diag, OSR_ECORRUPT, "tensor %zu has an invalid name (length %zu)",
                            idx, name.n);
    t->name = osr_xstrndup(name.p, name.n);
    if ((rc = rd_u32(c, &n_dims, t->name)))
        return rc;
    if (n_dims == 0 || n_dims > OSR_GGUF_MAX_DIMS)
        return osr_diag_set(c->diag, OSR_ECORRUPT, "tensor '%s': %u dimensions (1 to %d allowed)",
                            t->name, n_dims, OSR_GGUF_MAX_DIMS);
    t->n_dims = n_dims;
    uint64_t n_el = 1;
    for (uint32_t d = 0; d < OSR_GGUF_MAX_DIMS; d++) {
        t->dims[d] = 1;
        if (d >= n_dims)
            continue;
        if ((rc = rd_u64(c, &t->dims[d], t->name)))
            return rc;
        if (t->dims[d] > INT64_MAX)
            return osr_diag_set(c->diag, OSR_ECORRUPT, "tensor '%s': dimension %u is too large",
                                t->name, d);
        if (__builtin_mul_overflow(n_el, t->dims[d], &n_el) || n_el > INT64_MAX)
            return osr_diag_set(c->diag, OSR_ECORRUPT,
                                "tensor '%s': element count overflows 63 bits", t->name);
    }
    if ((rc = rd_u32(c, &type, t->name)))
        return rc;
    uint32_t be, bb;
    if (!osr_ggml_type_layout((enum osr_ggml_type)type, &be, &bb))
        return osr_diag_set(c->diag, OSR_ECORRUPT, "tensor '%s': unknown ggml type %u", t->name,
                            type);
    t->type = (enum osr_ggml_type)type;
    if (t->dims[0] % be != 0)
        return osr_diag_set(c->diag, OSR_ECORRUPT,
                            "tensor '%s': first dimension %llu is not a multiple of the %s block "
                            "size %u",
                            t->name, (unsigned long long)t->dims[0], ggml_layouts[type].name, be);
    t->n_elements = n_el;
    if (__builtin_mul_overflow(n_el / be, (uint64_t)bb, &t->n_bytes))
        return osr_diag_set(c->diag, OSR_ECORRUPT, "tensor '%s': byte size overflows", t->name);
    if ((rc = rd_u64(c, &t->offset, t->name)))
        return rc;
    uint32_t prev;
    if (!osr_strmap_put(&g->tensor_index, t->name, name.n, (uint32_t)idx, &prev))
        return osr_diag_set(c->diag, OSR_ECORRUPT, "tensor '%s' appears twice (%u and %zu)",
                            t->name, prev, idx);
    return OSR_OK;
}

static int check_tensor_data(struct osr_gguf *g, struct osr_diag *diag)
{
    for (size_t i = 0; i < g->n_tensors; i++) {
        struct osr_gguf_tensor *t = &g->tensors[i];
        uint64_t start, end;
        if (t->offset % g->alignment != 0)
            return osr_diag_set(diag, OSR_ECORRUPT,
                                "tensor '%s': data offset %llu is not a multiple of the alignment "
                                "%llu",
                                t->name, (unsigned long long)t->offset,
                                (unsigned long long)g->alignment);
        bool ovf = __builtin_add_overflow(g->data_offset, t->offset, &start);
        ovf = ovf || __builtin_add_overflow(start, t->n_bytes, &end);
        if (ovf || end > g->size) {
            if (ovf)
                return osr_diag_set(diag, OSR_ECORRUPT,
                                    "tensor '%s': data at offset %llu (%llu bytes) lies outside "
                                    "the file (size %llu)",
                                    t->name, (unsigned long long)t->offset,
                                    (unsigned long long)t->n_bytes, (unsigned long long)g->size);
            return osr_diag_set(diag, OSR_ECORRUPT,
                                "tensor '%s': data [%llu, %llu) lies outside the file (size %llu)",
                                t->name, (unsigned long long)start, (unsigned long long)end,
                                (unsigned long long)g->size);
        }
        t->data = g->base + start;
    }
    return OSR_OK;
}

/* ---- open / close ---------------------------------------------------------------------------- */

static int parse(struct osr_gguf *g, struct osr_diag *diag)
{
    struct cursor c = {g->base, g->size, 0, diag};
    struct gguf_header_disk h;
    int rc;
    if (g->size < sizeof(h))
        return osr_diag_set(diag, OSR_ECORRUPT,
                            "file too small for a GGUF header (%llu bytes, need 24)",
                            (unsigned long long)g->size);
    memcpy(&h, g->base, sizeof(h));
    if (memcmp(h.magic, "GGUF", 4) != 0)
        return osr_diag_set(diag, OSR_ECORRUPT, "not a GGUF file (bad magic)");
    if (h.version != 2 && h.version != 3) {
        if ((h.version & 0xffff) == 0 && ((h.version >> 24) == 2 || (h.version >> 24) == 3))
            return osr_diag_set(diag, OSR_EUNSUPPORTED, "big-endian GGUF files are not supported");
        return osr_diag_set(diag, OSR_EUNSUPPORTED, "GGUF version %u is not supported (2 or 3)",
                            h.version);
    }
    g->version = h.version;
    c.pos = sizeof(h);
    /* a key/value needs at least 8 (key length) + 1 (key) + 4 (type) + 1 (value) bytes, a
     * tensor info 8 + 1 + 4 + 8 + 4 + 8 */
    if (h.n_kv > remaining(&c) / 14)
        return osr_diag_set(diag, OSR_ECORRUPT, "key/value count %llu cannot fit in the file",
                            (unsigned long long)h.n_kv);
    if (h.n_tensors > remaining(&c) / 33 || h.n_tensors >= UINT32_MAX)
        return osr_diag_set(diag, OSR_ECORRUPT, "tensor count %llu cannot fit in the file",
                            (unsigned long long)h.n_tensors);
    g->kvs = calloc(h.n_kv ? h.n_kv : 1, sizeof(*g->kvs));
    g->tensors = calloc(h.n_tensors ? h.n_tensors : 1, sizeof(*g->tensors));
    if (!g->kvs || !g->tensors)
        return osr_diag_set(diag, OSR_ENOMEM, "out of memory for the GGUF tables");
    if (osr_strmap_init(&g->tensor_index, h.n_tensors))
        return osr_diag_set(diag, OSR_ENOMEM, "out of memory for the tensor index");

    for (size_t i = 0; i < h.n_kv; i++) {
        g->n_kv = i + 1; /* so close frees the key name even if the value fails */
        if ((rc = read_kv(g, &c, i)))
            return rc;
    }
    /* duplicate keys: a hash set over the names parsed so far */
    struct osr_strmap keys;
    if (osr_strmap_init(&keys, g->n_kv))
        return osr_diag_set(diag, OSR_ENOMEM, "out of memory");
    for (size_t i = 0; i < g->n_kv; i++) {
        if (!osr_strmap_put(&keys, g->kvs[i].key, strlen(g->kvs[i].key), (uint32_t)i, NULL)) {
            rc = osr_diag_set(diag, OSR_ECORRUPT, "key '%s' appears twice", g->kvs[i].key);
            osr_strmap_release(&keys);
            return rc;
        }
    }
    osr_strmap_release(&keys);

    g->alignment = OSR_GGUF_DEFAULT_ALIGNMENT;
    long ai = osr_gguf_find_key(g, "general.alignment");
    if (ai >= 0) {
        uint64_t a;
        if (osr_gguf_kv_u64(g, (size_t)ai, &a) || a == 0 || (a & (a - 1)) != 0 || a > ALIGNMENT_MAX)
            return osr_diag_set(diag, OSR_ECORRUPT,
                                "'general.alignment' must be a power of two integer up to %u",
                                ALIGNMENT_MAX);
        g->alignment = a;
    }

    for (size_t i = 0; i < h.n_tensors; i++) {
        g->n_tensors = i + 1;
        if ((rc = read_tensor_info(g, &c, i)))
            return rc;
    }
    uint64_t pad = (g->alignment - c.pos % g->alignment) % g->alignment;
    g->data_offset = c.pos + pad; /* c.pos <= size < 2^63, no overflow */
    if (g->n_tensors > 0 && g->data_offset > g->size)
        return osr_diag_set(diag, OSR_ECORRUPT,
                            "data section at %llu starts past the end of the file (size %llu)",
                            (unsigned long long)g->data_offset, (unsigned long long)g->size);
    return check_tensor_data(g, diag);
}

static int open_common(struct osr_gguf *g, struct osr_gguf **out, struct osr_diag *diag)
{
    int rc = parse(g, diag);
    if (rc) {
        osr_gguf_close(g);
        return rc;
    }
    *out = g;
    return OSR_OK;
}

int osr_gguf_open_memory(const void *data, size_t size, struct osr_gguf **out,
                         struct osr_diag *diag)
{
    *out = NULL;
    if (!data && size)
        return osr_diag_set(diag, OSR_EINVAL, "no buffer");
    if ((uint64_t)size > INT64_MAX)
        return osr_diag_set(diag, OSR_ETOOBIG, "buffer too large");
    struct osr_gguf *g = osr_xcalloc(1, sizeof(*g));
    g->base = data ? data : (const uint8_t *)"";
    g->size = size;
    return open_common(g, out, diag);
}

int osr_gguf_open(const char *path, struct osr_gguf **out, struct osr_diag *diag)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return osr_diag_set(diag, OSR_EIO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return osr_diag_set(diag, OSR_EIO, "cannot stat '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return osr_diag_set(diag, OSR_EINVAL, "'%s' is not a regular file", path);
    }
    if (st.st_size < (off_t)sizeof(struct gguf_header_disk)) {
        close(fd);
        return osr_diag_set(diag, OSR_ECORRUPT, "'%s' is too small to be a GGUF file (%lld bytes)",
                            path, (long long)st.st_size);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED)
        return osr_diag_set(diag, OSR_EIO, "cannot map '%s': %s", path, strerror(e));
    struct osr_gguf *g = osr_xcalloc(1, sizeof(*g));
    g->base = map;
    g->size = (uint64_t)st.st_size;
    g->mapped = true;
    int rc = open_common(g, out, diag);
    if (rc && diag) {
        /* prefix the file name so the message stands on its own */
        char tmp[OSR_DIAG_MAX];
        snprintf(tmp, sizeof(tmp), "%s", diag->msg);
        osr_diag_set(diag, rc, "'%s': %s", path, tmp);
    }
    return rc;
}

void osr_gguf_close(struct osr_gguf *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n_kv; i++)
        free(g->kvs[i].key);
    free(g->kvs);
    for (size_t i = 0; i < g->n_tensors; i++)
        free((char *)g->tensors[i].name);
    free(g->tensors);
    osr_strmap_release(&g->tensor_index);
    for (size_t i = 0; i < g->n_allocs; i++)
        free(g->allocs[i]);
    free(g->allocs);
    if (g->mapped)
        munmap((void *)g->base, (size_t)g->size);
    for (size_t i = 0; i < g->n_parts; i++)
        osr_gguf_close(g->parts[i]);
    free(g->parts);
    free(g);
}

/* ---- split models ------------------------------------------------------------------------ */

/* Reads an integer split.* key of part i into *out.  A missing key is an error only when
 * required. */
static int split_key(const struct osr_gguf *p, size_t i, const char *key, bool required,
                     uint64_t *out, struct osr_diag *diag)
{
    int64_t v;
    int rc = osr_gguf_get_i64(p, key, &v);
    if (rc == OSR_ENOTFOUND && !required)
        return OSR_ENOTFOUND;
    if (rc == OSR_ENOTFOUND)
        return osr_diag_set(diag, OSR_ECORRUPT, "part %zu of the split model has no '%s' key",
                            i + 1, key);
    if (rc || v < 0)
        return osr_diag_set(diag, OSR_ECORRUPT,
                            "part %zu of the split model: '%s' must be a non-negative integer",
                            i + 1, key);
    *out = (uint64_t)v;
    return OSR_OK;
}

/* Checks the split.* keys of every part and that the tensor counts add up. */
static int check_split(struct osr_gguf *const *parts, size_t n, uint64_t *total,
                       struct osr_diag *diag)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t count, no;
        int rc = split_key(parts[i], i, "split.count", n > 1, &count, diag);
        if (rc == OSR_ENOTFOUND) { /* a single unsplit file */
            sum += parts[i]->n_tensors;
            continue;
        }
        if (rc)
            return rc;
        if (count != n)
            return osr_diag_set(diag, OSR_ECORRUPT,
                                "part %zu of the split model says there are %llu parts, but %zu "
                                "were given",
                                i + 1, (unsigned long long)count, n);
        if ((rc = split_key(parts[i], i, "split.no", true, &no, diag)))
            return rc;
        if (no != i)
            return osr_diag_set(diag, OSR_ECORRUPT,
                                "part %zu of the split model says it is part %llu (split.no "
                                "counts from 0)",
                                i + 1, (unsigned long long)no + 1);
        sum += parts[i]->n_tensors;
    }
    uint64_t want;
    int rc = split_key(parts[0], 0, "split.tensors.count", false, &want, diag);
    if (rc == OSR_OK && want != sum)
        return osr_diag_set(diag, OSR_ECORRUPT,
                            "the split model declares %llu tensors but its parts hold %llu",
                            (unsigned long long)want, (unsigned long long)sum);
    if (rc != OSR_OK && rc != OSR_ENOTFOUND)
        return rc;
    if (sum >= UINT32_MAX)
        return osr_diag_set(diag, OSR_ECORRUPT, "the split model has too many tensors");
    *total = sum;
    return OSR_OK;
}

/* Appends the tensors of g's other parts to its own table (names copied) and rebuilds its
 * index, rejecting a name held by two parts. */
static int merge_tensors(struct osr_gguf *g, uint64_t total, struct osr_diag *diag)
{
    struct osr_gguf_tensor *t = realloc(g->tensors, (size_t)(total ? total : 1) * sizeof(*t));
    if (!t)
        return osr_diag_set(diag, OSR_ENOMEM, "out of memory for the tensor table");
    g->tensors = t;
    for (size_t i = 0; i < g->n_parts; i++) {
        const struct osr_gguf *p = g->parts[i];
        for (size_t k = 0; k < p->n_tensors && g->n_tensors < total; k++) {
            struct osr_gguf_tensor *d = &g->tensors[g->n_tensors];
            *d = p->tensors[k];
            d->name = strdup(p->tensors[k].name);
            if (!d->name)
                return osr_diag_set(diag, OSR_ENOMEM, "out of memory for the tensor table");
            g->n_tensors++;
        }
    }
    osr_strmap_release(&g->tensor_index);
    if (osr_strmap_init(&g->tensor_index, g->n_tensors))
        return osr_diag_set(diag, OSR_ENOMEM, "out of memory for the tensor index");
    for (size_t i = 0; i < g->n_tensors; i++) {
        const char *name = g->tensors[i].name;
        if (!osr_strmap_put(&g->tensor_index, name, strlen(name), (uint32_t)i, NULL))
            return osr_diag_set(diag, OSR_ECORRUPT,
                                "tensor '%s' appears in more than one part of the split model",
                                name);
    }
    return OSR_OK;
}

int osr_gguf_join(struct osr_gguf **parts, size_t n, struct osr_gguf **out, struct osr_diag *diag)
{
    *out = NULL;
    int rc = OSR_OK;
    if (n == 0 || n > OSR_GGUF_MAX_PARTS) {
        rc = osr_diag_set(diag, OSR_EINVAL, "a split model has 1 to %d parts, not %zu",
                          OSR_GGUF_MAX_PARTS, n);
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        if (!parts[i] || parts[i]->n_parts) {
            rc = osr_diag_set(diag, OSR_EINVAL, "part %zu is missing or already joined", i + 1);
            goto fail;
        }
    }
    uint64_t total = 0;
    if ((rc = check_split(parts, n, &total, diag)))
        goto fail;
    struct osr_gguf *g = parts[0];
    if (n > 1) {
        g->parts = calloc(n - 1, sizeof(*g->parts));
        if (!g->parts) {
            rc = osr_diag_set(diag, OSR_ENOMEM, "out of memory");
            goto fail;
        }
        /* from here on g owns the other parts, so a failure closes them through g */
        for (size_t i = 1; i < n; i++) {
            g->parts[i - 1] = parts[i];
            parts[i] = NULL;
        }
        g->n_parts = n - 1;
        if ((rc = merge_tensors(g, total, diag))) {
            parts[0] = NULL;
            osr_gguf_close(g);
            return rc;
        }
    }
    parts[0] = NULL;
    *out = g;
    return OSR_OK;
fail:
    for (size_t i = 0; i < n; i++) {
        osr_gguf_close(parts[i]);
        parts[i] = NULL;
    }
    return rc;
}

int osr_gguf_open_split(const char *const *paths, size_t n, struct osr_gguf **out,
                        struct osr_diag *diag)
{
    *out = NULL;
    if (n == 0 || n > OSR_GGUF_MAX_PARTS)
        return osr_diag_set(diag, OSR_EINVAL, "a split model has 1 to %d parts, not %zu",
                            OSR_GGUF_MAX_PARTS, n);
    struct osr_gguf **parts = calloc(n, sizeof(*parts));
    if (!parts)
        return osr_diag_set(diag, OSR_ENOMEM, "out of memory");
    int rc = OSR_OK;
    for (size_t i = 0; i < n; i++) {
        if ((rc = osr_gguf_open(paths[i], &parts[i], diag))) {
            for (size_t k = 0; k < i; k++)
                osr_gguf_close(parts[k]);
            goto out;
        }
    }
    rc = osr_gguf_join(parts, n, out, diag);
out:
    free(parts);
    return rc;
}

size_t osr_gguf_n_parts(const struct osr_gguf *g)
{
    return 1 + g->n_parts;
}

/* ---- accessors ------------------------------------------------------------------------------- */

uint32_t osr_gguf_version(const struct osr_gguf *g)
{
    return g->version;
}

uint64_t osr_gguf_alignment(const struct osr_gguf *g)
{
    return g->alignment;
}

const uint8_t *osr_gguf_base(const struct osr_gguf *g)
{
    return g->base;
}

uint64_t osr_gguf_size(const struct osr_gguf *g)
{
    return g->size;
}

uint64_t osr_gguf_data_offset(const struct osr_gguf *g)
{
    return g->data_offset;
}

size_t osr_gguf_n_kv(const struct osr_gguf *g)
{
    return g->n_kv;
}

long osr_gguf_find_key(const struct osr_gguf *g, const char *key)
{
    for (size_t i = 0; i < g->n_kv; i++)
        if (g->kvs[i].key && strcmp(g->kvs[i].key, key) == 0)
            return (long)i;
    return -1;
}

const char *osr_gguf_kv_key(const struct osr_gguf *g, size_t i)
{
    return i < g->n_kv ? g->kvs[i].key : NULL;
}

enum osr_gguf_type osr_gguf_kv_type(const struct osr_gguf *g, size_t i)
{
    return i < g->n_kv ? g->kvs[i].type : OSR_GGUF_TYPE_COUNT_;
}

int osr_gguf_kv_str(const struct osr_gguf *g, size_t i, struct osr_str *out)
{
    if (i >= g->n_kv || g->kvs[i].type != OSR_GGUF_TYPE_STRING)
        return OSR_EINVAL;
    *out = g->kvs[i].str;
    return OSR_OK;
}

int osr_gguf_kv_i64(const struct osr_gguf *g, size_t i, int64_t *out)
{
    if (i >= g->n_kv || !g->kvs[i].scalar)
        return OSR_EINVAL;
    return to_i64(g->kvs[i].type, g->kvs[i].scalar, out);
}

int osr_gguf_kv_u64(const struct osr_gguf *g, size_t i, uint64_t *out)
{
    if (i >= g->n_kv || !g->kvs[i].scalar)
        return OSR_EINVAL;
    return to_u64(g->kvs[i].type, g->kvs[i].scalar, out);
}

int osr_gguf_kv_f64(const struct osr_gguf *g, size_t i, double *out)
{
    if (i >= g->n_kv || !g->kvs[i].scalar)
        return OSR_EINVAL;
    return to_f64(g->kvs[i].type, g->kvs[i].scalar, out);
}

int osr_gguf_kv_arr(const struct osr_gguf *g, size_t i, struct osr_gguf_array *out)
{
    if (i >= g->n_kv || g->kvs[i].type != OSR_GGUF_TYPE_ARRAY)
        return OSR_EINVAL;
    *out = g->kvs[i].arr;
    return OSR_OK;
}

static int key_index(const struct osr_gguf *g, const char *key, size_t *i)
{
    long k = osr_gguf_find_key(g, key);
    if (k < 0)
        return OSR_ENOTFOUND;
    *i = (size_t)k;
    return OSR_OK;
}

int osr_gguf_get_str(const struct osr_gguf *g, const char *key, struct osr_str *out)
{
    size_t i;
    int rc = key_index(g, key, &i);
    return rc ? rc : osr_gguf_kv_str(g, i, out);
}

int osr_gguf_get_u64(const struct osr_gguf *g, const char *key, uint64_t *out)
{
    size_t i;
    int rc = key_index(g, key, &i);
    return rc ? rc : osr_gguf_kv_u64(g, i, out);
}

int osr_gguf_get_i64(const struct osr_gguf *g, const char *key, int64_t *out)
{
    size_t i;
    int rc = key_index(g, key, &i);
    return rc ? rc : osr_gguf_kv_i64(g, i, out);
}

int osr_gguf_get_u32(const struct osr_gguf *g, const char *key, uint32_t *out)
{
    uint64_t v;
    int rc = osr_gguf_get_u64(g, key, &v);
    if (rc)
        return rc;
    if (v > UINT32_MAX)
        return OSR_EINVAL;
    *out = (uint32_t)v;
    return OSR_OK;
}

int osr_gguf_get_i32(const struct osr_gguf *g, const char *key, int32_t *out)
{
    int64_t v;
    int rc = osr_gguf_get_i64(g, key, &v);
    if (rc)
        return rc;
    if (v < INT32_MIN || v > INT32_MAX)
        return OSR_EINVAL;
    *out = (int32_t)v;
    return OSR_OK;
}

int osr_gguf_get_f64(const struct osr_gguf *g, const char *key, double *out)
{
    size_t i;
    int rc = key_index(g, key, &i);
    return rc ? rc : osr_gguf_kv_f64(g, i, out);
}

int osr_gguf_get_f32(const struct osr_gguf *g, const char *key, float *out)
{
    double d;
    int rc = osr_gguf_get_f64(g, key, &d);
    if (rc)
        return rc;
    *out = (float)d;
    return OSR_OK;
}

int osr_gguf_get_bool(const struct osr_gguf *g, const char *key, bool *out)
{
    size_t i;
    int rc = key_index(g, key, &i);
    if (rc)
        return rc;
    if (g->kvs[i].type != OSR_GGUF_TYPE_BOOL)
        return OSR_EINVAL;
    *out = g->kvs[i].scalar[0] != 0;
    return OSR_OK;
}

int osr_gguf_get_arr(const struct osr_gguf *g, const char *key, struct osr_gguf_array *out)
{
    size_t i;
    int rc = key_index(g, key, &i);
    return rc ? rc : osr_gguf_kv_arr(g, i, out);
}

struct osr_str osr_gguf_arch(const struct osr_gguf *g)
{
    struct osr_str a;
    if (osr_gguf_get_str(g, "general.architecture", &a) != OSR_OK)
        return osr_str_make("", 0);
    return a;
}

static int arch_key(const struct osr_gguf *g, const char *suffix, char *key, size_t cap)
{
    struct osr_str a = osr_gguf_arch(g);
    if (a.n == 0)
        return OSR_ENOTFOUND;
    int n = snprintf(key, cap, "%.*s.%s", (int)a.n, a.p, suffix);
    return n < 0 || (size_t)n >= cap ? OSR_ENOTFOUND : OSR_OK;
}

int osr_gguf_get_arch_u32(const struct osr_gguf *g, const char *suffix, uint32_t *out)
{
    char key[256];
    int rc = arch_key(g, suffix, key, sizeof(key));
    return rc ? rc : osr_gguf_get_u32(g, key, out);
}

int osr_gguf_get_arch_f32(const struct osr_gguf *g, const char *suffix, float *out)
{
    char key[256];
    int rc = arch_key(g, suffix, key, sizeof(key));
    return rc ? rc : osr_gguf_get_f32(g, key, out);
}

static const uint8_t *elem_ptr(const struct osr_gguf_array *a, uint64_t i)
{
    if (i >= a->n || !a->data || (unsigned)a->type >= OSR_GGUF_TYPE_COUNT_ ||
        gguf_type_sizes[a->type] == 0)
        return NULL;
    return a->data + i * gguf_type_sizes[a->type];
}

int osr_gguf_arr_int(const struct osr_gguf_array *a, uint64_t i, int64_t *out)
{
    const uint8_t *p = elem_ptr(a, i);
    return p ? to_i64(a->type, p, out) : OSR_EINVAL;
}

int osr_gguf_arr_u64(const struct osr_gguf_array *a, uint64_t i, uint64_t *out)
{
    const uint8_t *p = elem_ptr(a, i);
    return p ? to_u64(a->type, p, out) : OSR_EINVAL;
}

int osr_gguf_arr_f64(const struct osr_gguf_array *a, uint64_t i, double *out)
{
    const uint8_t *p = elem_ptr(a, i);
    return p ? to_f64(a->type, p, out) : OSR_EINVAL;
}

int osr_gguf_arr_str(const struct osr_gguf_array *a, uint64_t i, struct osr_str *out)
{
    if (i >= a->n || a->type != OSR_GGUF_TYPE_STRING || !a->strs)
        return OSR_EINVAL;
    *out = a->strs[i];
    return OSR_OK;
}

int osr_gguf_arr_arr(const struct osr_gguf_array *a, uint64_t i, struct osr_gguf_array *out)
{
    if (i >= a->n || a->type != OSR_GGUF_TYPE_ARRAY || !a->arrs)
        return OSR_EINVAL;
    *out = a->arrs[i];
    return OSR_OK;
}

size_t osr_gguf_n_tensors(const struct osr_gguf *g)
{
    return g->n_tensors;
}

const struct osr_gguf_tensor *osr_gguf_tensor(const struct osr_gguf *g, size_t i)
{
    return i < g->n_tensors ? &g->tensors[i] : NULL;
}

const struct osr_gguf_tensor *osr_gguf_find_tensor(const struct osr_gguf *g, const char *name)
{
    uint32_t idx;
    if (!osr_strmap_get(&g->tensor_index, name, strlen(name), &idx) || idx >= g->n_tensors)
        return NULL;
    return &g->tensors[idx];
}
