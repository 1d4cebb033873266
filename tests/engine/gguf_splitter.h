/* gguf_splitter.h - cuts an opened GGUF file into the parts of a split model, for tests.
 *
 * The parts follow llama.cpp's gguf-split layout: every part is a complete GGUF v3 file with
 * split.no (0-based), split.count and split.tensors.count; the first part also carries every
 * key/value of the source, the others only the split keys.  The tensors are dealt out in order:
 * part i receives the tensors whose index falls in its share (first[i] .. first[i + 1]).
 *
 * The writer re-encodes the metadata through the reader's accessors (the reader exposes no raw
 * key/value bytes), so it also serves as a round-trip check of them.  It writes with the
 * project's osr_buf and aborts the test on a write error.  Include after check.h.
 */
#ifndef OSR_TEST_GGUF_SPLITTER_H
#define OSR_TEST_GGUF_SPLITTER_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osr/buf.h"
#include "osr/gguf.h"

#define SPLITTER_BUF_CAP (64u << 20)

static const uint8_t splitter_type_size[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

static void sp_raw(struct osr_buf *b, const void *p, size_t n)
{
    if (osr_buf_append(b, p, n) != OSR_OK) {
        fprintf(stderr, "gguf_splitter: buffer cap hit\n");
        abort();
    }
}

static void sp_u32(struct osr_buf *b, uint32_t v)
{
    sp_raw(b, &v, 4);
}

static void sp_u64(struct osr_buf *b, uint64_t v)
{
    sp_raw(b, &v, 8);
}

static void sp_str(struct osr_buf *b, const char *p, size_t n)
{
    sp_u64(b, n);
    sp_raw(b, p, n);
}

static void sp_array(struct osr_buf *b, const struct osr_gguf_array *a)
{
    sp_u32(b, (uint32_t)a->type);
    sp_u64(b, a->n);
    if (a->type == OSR_GGUF_TYPE_STRING) {
        for (uint64_t i = 0; i < a->n; i++) {
            struct osr_str s;
            osr_gguf_arr_str(a, i, &s);
            sp_str(b, s.p, s.n);
        }
    } else if (a->type == OSR_GGUF_TYPE_ARRAY) {
        for (uint64_t i = 0; i < a->n; i++) {
            struct osr_gguf_array sub;
            osr_gguf_arr_arr(a, i, &sub);
            sp_array(b, &sub);
        }
    } else if (a->n) {
        sp_raw(b, a->data, (size_t)a->n * splitter_type_size[a->type]);
    }
}

/* Writes the i-th key/value of g. */
static void sp_kv(struct osr_buf *b, const struct osr_gguf *g, size_t i)
{
    const char *key = osr_gguf_kv_key(g, i);
    enum osr_gguf_type t = osr_gguf_kv_type(g, i);
    sp_str(b, key, strlen(key));
    sp_u32(b, (uint32_t)t);
    int64_t iv = 0;
    uint64_t uv = 0;
    double dv = 0;
    struct osr_str s;
    struct osr_gguf_array a;
    switch (t) {
    case OSR_GGUF_TYPE_STRING:
        osr_gguf_kv_str(g, i, &s);
        sp_str(b, s.p, s.n);
        break;
    case OSR_GGUF_TYPE_ARRAY:
        osr_gguf_kv_arr(g, i, &a);
        sp_array(b, &a);
        break;
    case OSR_GGUF_TYPE_FLOAT32: {
        osr_gguf_kv_f64(g, i, &dv);
        float f = (float)dv;
        sp_raw(b, &f, 4);
        break;
    }
    case OSR_GGUF_TYPE_FLOAT64:
        osr_gguf_kv_f64(g, i, &dv);
        sp_raw(b, &dv, 8);
        break;
    case OSR_GGUF_TYPE_UINT64:
        osr_gguf_kv_u64(g, i, &uv);
        sp_raw(b, &uv, 8);
        break;
    default: /* the other integers and bool: little-endian, truncated to their size */
        osr_gguf_kv_i64(g, i, &iv);
        sp_raw(b, &iv, splitter_type_size[t]);
        break;
    }
}

static void sp_kv_int(struct osr_buf *b, const char *key, enum osr_gguf_type t, int64_t v)
{
    sp_str(b, key, strlen(key));
    sp_u32(b, (uint32_t)t);
    sp_raw(b, &v, splitter_type_size[t]);
}

static void sp_pad(struct osr_buf *b, uint64_t align)
{
    static const uint8_t zeros[64];
    while (b->len % align)
        sp_raw(b, zeros, (size_t)((align - b->len % align) < 64 ? align - b->len % align : 64));
}

/* A key/value added to the first part (replacing a source key of the same name). */
struct splitter_kv {
    const char *key;
    enum osr_gguf_type type; /* STRING, FLOAT32 or UINT32 */
    const char *s;
    float f;
    uint32_t u;
};

/* A 1-D F32 tensor added to the first part. */
struct splitter_tensor {
    const char *name;
    const float *v;
    uint64_t n;
};

struct splitter_opts {
    int n_parts;
    /* first tensor index of each part (n_parts entries, non-decreasing, first[0] = 0); NULL
     * deals the tensors out evenly */
    const size_t *first;
    int extra_dup;                /* when > 0: part 1 also repeats the first tensor of part 0 */
    int tensors_count_d;          /* added to the split.tensors.count written */
    int no_offset;                /* added to every split.no written */
    const char *name;             /* when set, replaces general.name in the first part */
    const struct splitter_kv *kv; /* added to the first part */
    size_t n_kv;
    const struct splitter_tensor *tensors; /* added to the first part */
    size_t n_tensors;
};

static bool sp_replaced(const struct splitter_opts *o, const char *key)
{
    if (o->name && strcmp(key, "general.name") == 0)
        return true;
    for (size_t i = 0; i < o->n_kv; i++)
        if (strcmp(o->kv[i].key, key) == 0)
            return true;
    return false;
}

static void sp_extra_kv(struct osr_buf *b, const struct splitter_kv *kv)
{
    sp_str(b, kv->key, strlen(kv->key));
    sp_u32(b, (uint32_t)kv->type);
    if (kv->type == OSR_GGUF_TYPE_STRING)
        sp_str(b, kv->s, strlen(kv->s));
    else if (kv->type == OSR_GGUF_TYPE_FLOAT32)
        sp_raw(b, &kv->f, 4);
    else
        sp_u32(b, kv->u);
}

/* Writes part `part` of the split of g to path.  Returns 0 or -1 (with a message). */
static int splitter_write_part(const struct osr_gguf *g, const struct splitter_opts *o, int part,
                               const char *path)
{
    size_t nt = osr_gguf_n_tensors(g);
    size_t lo, hi;
    if (o->first) {
        lo = o->first[part];
        hi = part + 1 < o->n_parts ? o->first[part + 1] : nt;
    } else {
        lo = nt * (size_t)part / (size_t)o->n_parts;
        hi = nt * (size_t)(part + 1) / (size_t)o->n_parts;
    }
    bool dup = o->extra_dup > 0 && part == 1;
    size_t n_add = part == 0 ? o->n_tensors : 0;
    uint64_t align = part == 0 ? osr_gguf_alignment(g) : OSR_GGUF_DEFAULT_ALIGNMENT;
    struct osr_buf b;
    osr_buf_init(&b, SPLITTER_BUF_CAP);
    sp_raw(&b, "GGUF", 4);
    sp_u32(&b, 3);
    sp_u64(&b, (uint64_t)(hi - lo + (dup ? 1 : 0) + n_add));
    size_t n_kv = 0;
    for (size_t i = 0; part == 0 && i < osr_gguf_n_kv(g); i++)
        n_kv += !sp_replaced(o, osr_gguf_kv_key(g, i));
    size_t n_new = part == 0 ? o->n_kv + (o->name ? 1 : 0) : 0;
    sp_u64(&b, n_kv + n_new + 3);
    for (size_t i = 0; part == 0 && i < osr_gguf_n_kv(g); i++)
        if (!sp_replaced(o, osr_gguf_kv_key(g, i)))
            sp_kv(&b, g, i);
    if (part == 0 && o->name) {
        struct splitter_kv nk = {"general.name", OSR_GGUF_TYPE_STRING, o->name, 0, 0};
        sp_extra_kv(&b, &nk);
    }
    for (size_t i = 0; part == 0 && i < o->n_kv; i++)
        sp_extra_kv(&b, &o->kv[i]);
    sp_kv_int(&b, "split.no", OSR_GGUF_TYPE_UINT16, part + o->no_offset);
    sp_kv_int(&b, "split.count", OSR_GGUF_TYPE_UINT16, o->n_parts);
    sp_kv_int(&b, "split.tensors.count", OSR_GGUF_TYPE_INT32,
              (int64_t)(nt + o->n_tensors) + (o->extra_dup > 0 ? 1 : 0) + o->tensors_count_d);
    /* tensor infos, then the data in the same order */
    size_t idx[4096];
    size_t n = 0;
    if (dup)
        idx[n++] = 0;
    for (size_t i = lo; i < hi && n < 4096; i++)
        idx[n++] = i;
    uint64_t off = 0;
    for (size_t k = 0; k < n; k++) {
        const struct osr_gguf_tensor *t = osr_gguf_tensor(g, idx[k]);
        sp_str(&b, t->name, strlen(t->name));
        sp_u32(&b, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++)
            sp_u64(&b, t->dims[d]);
        sp_u32(&b, (uint32_t)t->type);
        sp_u64(&b, off);
        off += (t->n_bytes + align - 1) / align * align;
    }
    for (size_t k = 0; k < n_add; k++) {
        const struct splitter_tensor *t = &o->tensors[k];
        sp_str(&b, t->name, strlen(t->name));
        sp_u32(&b, 1);
        sp_u64(&b, t->n);
        sp_u32(&b, OSR_GGML_TYPE_F32);
        sp_u64(&b, off);
        off += (t->n * 4 + align - 1) / align * align;
    }
    sp_pad(&b, align);
    for (size_t k = 0; k < n; k++) {
        const struct osr_gguf_tensor *t = osr_gguf_tensor(g, idx[k]);
        sp_raw(&b, t->data, (size_t)t->n_bytes);
        sp_pad(&b, align);
    }
    for (size_t k = 0; k < n_add; k++) {
        sp_raw(&b, o->tensors[k].v, (size_t)o->tensors[k].n * 4);
        sp_pad(&b, align);
    }
    FILE *f = fopen(path, "wb");
    int rc = 0;
    if (!f || fwrite(b.data, 1, b.len, f) != b.len) {
        fprintf(stderr, "gguf_splitter: cannot write %s\n", path);
        rc = -1;
    }
    if (f && fclose(f) != 0)
        rc = -1;
    osr_buf_release(&b);
    return rc;
}

/* Writes every part to "<prefix>-0000i-of-0000n.gguf" and stores the names in paths (each
 * PATH_MAX-sized by the caller).  Returns 0 or -1. */
static int splitter_write(const struct osr_gguf *g, const struct splitter_opts *o,
                          const char *prefix, char (*paths)[512])
{
    for (int i = 0; i < o->n_parts; i++) {
        snprintf(paths[i], 512, "%s-%05d-of-%05d.gguf", prefix, i + 1, o->n_parts);
        if (splitter_write_part(g, o, i, paths[i]) != 0)
            return -1;
    }
    return 0;
}

#endif
