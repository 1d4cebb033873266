/* gguf.h - a validating reader for GGUF model files (versions 2 and 3).
 *
 * A GGUF file is a header, a list of typed key/value pairs (metadata), a table of tensor
 * descriptions and an aligned data section holding the tensors' bytes.  osr_gguf_open maps the
 * file read-only and checks everything before returning: every count, length, offset and
 * dimension against the file size with overflow-checked arithmetic, every tensor's byte range
 * inside the data section and aligned, duplicate keys and tensor names.  After a successful
 * open no accessor can read outside the mapping.  The format is described in
 * docs/internals/GGUF.md.
 *
 * Strings in GGUF are length-prefixed and not NUL-terminated: string values come back as
 * struct osr_str views into the mapping.  Key names and tensor names are copied once and are
 * NUL-terminated.
 *
 * Thread rules: opening is single-threaded; an opened file is immutable, so every accessor
 * may be called from any thread concurrently.  osr_gguf_close must not race with readers.
 */
#ifndef OSR_GGUF_H
#define OSR_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osr/err.h"
#include "osr/str.h"

/* Metadata value types, numbered as in the GGUF specification. */
enum osr_gguf_type {
    OSR_GGUF_TYPE_UINT8 = 0,
    OSR_GGUF_TYPE_INT8 = 1,
    OSR_GGUF_TYPE_UINT16 = 2,
    OSR_GGUF_TYPE_INT16 = 3,
    OSR_GGUF_TYPE_UINT32 = 4,
    OSR_GGUF_TYPE_INT32 = 5,
    OSR_GGUF_TYPE_FLOAT32 = 6,
    OSR_GGUF_TYPE_BOOL = 7,
    OSR_GGUF_TYPE_STRING = 8,
    OSR_GGUF_TYPE_ARRAY = 9,
    OSR_GGUF_TYPE_UINT64 = 10,
    OSR_GGUF_TYPE_INT64 = 11,
    OSR_GGUF_TYPE_FLOAT64 = 12,
    OSR_GGUF_TYPE_COUNT_ = 13,
};

/* Tensor element types, numbered as in ggml (gaps are types ggml has retired). */
enum osr_ggml_type {
    OSR_GGML_TYPE_F32 = 0,
    OSR_GGML_TYPE_F16 = 1,
    OSR_GGML_TYPE_Q4_0 = 2,
    OSR_GGML_TYPE_Q4_1 = 3,
    OSR_GGML_TYPE_Q5_0 = 6,
    OSR_GGML_TYPE_Q5_1 = 7,
    OSR_GGML_TYPE_Q8_0 = 8,
    OSR_GGML_TYPE_Q8_1 = 9,
    OSR_GGML_TYPE_Q2_K = 10,
    OSR_GGML_TYPE_Q3_K = 11,
    OSR_GGML_TYPE_Q4_K = 12,
    OSR_GGML_TYPE_Q5_K = 13,
    OSR_GGML_TYPE_Q6_K = 14,
    OSR_GGML_TYPE_Q8_K = 15,
    OSR_GGML_TYPE_IQ2_XXS = 16,
    OSR_GGML_TYPE_IQ2_XS = 17,
    OSR_GGML_TYPE_IQ3_XXS = 18,
    OSR_GGML_TYPE_IQ1_S = 19,
    OSR_GGML_TYPE_IQ4_NL = 20,
    OSR_GGML_TYPE_IQ3_S = 21,
    OSR_GGML_TYPE_IQ2_S = 22,
    OSR_GGML_TYPE_IQ4_XS = 23,
    OSR_GGML_TYPE_I8 = 24,
    OSR_GGML_TYPE_I16 = 25,
    OSR_GGML_TYPE_I32 = 26,
    OSR_GGML_TYPE_I64 = 27,
    OSR_GGML_TYPE_F64 = 28,
    OSR_GGML_TYPE_IQ1_M = 29,
    OSR_GGML_TYPE_BF16 = 30,
    OSR_GGML_TYPE_TQ1_0 = 34,
    OSR_GGML_TYPE_TQ2_0 = 35,
    OSR_GGML_TYPE_MXFP4 = 39,
    OSR_GGML_TYPE_COUNT_ = 40,
};

#define OSR_GGUF_MAX_DIMS 4
#define OSR_GGUF_DEFAULT_ALIGNMENT 32

/* An array value.  Elements of fixed-size types are packed little-endian at `data` (which may
 * be unaligned: read them with the accessors below).  For string arrays `strs` holds one view
 * per element, for arrays of arrays `arrs` one nested array per element.  Valid until
 * osr_gguf_close. */
struct osr_gguf_array {
    enum osr_gguf_type type; /* element type */
    uint64_t n;
    const uint8_t *data;
    const struct osr_str *strs;
    const struct osr_gguf_array *arrs;
};

/* One tensor description.  `offset` is relative to the data section; `data` points at the
 * tensor's first byte in the mapping.  Valid until osr_gguf_close. */
struct osr_gguf_tensor {
    const char *name; /* NUL-terminated copy */
    uint32_t n_dims;
    uint64_t dims[OSR_GGUF_MAX_DIMS]; /* unused dimensions are 1 */
    enum osr_ggml_type type;
    uint64_t offset;
    uint64_t n_elements;
    uint64_t n_bytes;
    const void *data;
};

struct osr_gguf;

/* Maps the file at path read-only and validates it.  On success *out owns the mapping; the
 * caller closes it with osr_gguf_close.  Returns OSR_EIO when the file cannot be opened or
 * mapped, OSR_ECORRUPT (with a message naming the bad field) when it is malformed,
 * OSR_EUNSUPPORTED for a valid but unsupported file (other version, big-endian), OSR_ENOMEM. */
int osr_gguf_open(const char *path, struct osr_gguf **out, struct osr_diag *diag);

/* As osr_gguf_open over size bytes at data, which are borrowed: they must stay valid and
 * unchanged until osr_gguf_close.  Used by the fuzzer and by tests. */
int osr_gguf_open_memory(const void *data, size_t size, struct osr_gguf **out,
                         struct osr_diag *diag);

/* The most parts a split model may have (split.count is a u16 in llama.cpp's layout). */
#define OSR_GGUF_MAX_PARTS 65535

/* Joins the n parts of a split model, in order, into one file object: the metadata is the
 * first part's, the tensor table holds every part's tensors (each tensor's `data` points into
 * the part that holds it; its `offset` stays relative to that part's data section).  Takes
 * ownership of every parts[i] (set to NULL), also on failure.  With more than one part every
 * part must carry split.count = n and split.no = its 0-based index; split.tensors.count, when
 * present in the first part, must equal the tensors of all parts; a tensor name may appear
 * in one part only.  A single part without split keys is returned as it is.  Returns OSR_OK,
 * OSR_ECORRUPT with a message naming the bad part, OSR_EINVAL, OSR_ENOMEM. */
int osr_gguf_join(struct osr_gguf **parts, size_t n, struct osr_gguf **out, struct osr_diag *diag);

/* Opens the files at paths[0..n) (the parts in order: name-00001-of-0000n.gguf first) and joins
 * them as osr_gguf_join does.  Returns what osr_gguf_open and osr_gguf_join return. */
int osr_gguf_open_split(const char *const *paths, size_t n, struct osr_gguf **out,
                        struct osr_diag *diag);

/* Number of files behind g: 1 unless it was joined from a split model. */
size_t osr_gguf_n_parts(const struct osr_gguf *g);

/* Unmaps and frees everything; every pointer obtained from g becomes invalid.  NULL is a
 * no-op. */
void osr_gguf_close(struct osr_gguf *g);

uint32_t osr_gguf_version(const struct osr_gguf *g);
uint64_t osr_gguf_alignment(const struct osr_gguf *g);
/* The whole file / buffer and the offset of the data section within it (of the first part
 * for a joined split model). */
const uint8_t *osr_gguf_base(const struct osr_gguf *g);
uint64_t osr_gguf_size(const struct osr_gguf *g);
uint64_t osr_gguf_data_offset(const struct osr_gguf *g);

/* ---- metadata ------------------------------------------------------------------------------ */

size_t osr_gguf_n_kv(const struct osr_gguf *g);
/* Returns the index of key, or -1 when absent. */
long osr_gguf_find_key(const struct osr_gguf *g, const char *key);
/* The name and type of the i-th key/value (i < osr_gguf_n_kv); the name is valid until close. */
const char *osr_gguf_kv_key(const struct osr_gguf *g, size_t i);
enum osr_gguf_type osr_gguf_kv_type(const struct osr_gguf *g, size_t i);

/* Typed getters by key.  Each returns OSR_OK, OSR_ENOTFOUND when the key is absent or
 * OSR_EINVAL when it holds another type.  The integer getters accept any integer type whose
 * value fits the requested one (a u32 key read as u64, an i32 holding 5 read as u32, ...). */
int osr_gguf_get_str(const struct osr_gguf *g, const char *key, struct osr_str *out);
int osr_gguf_get_u32(const struct osr_gguf *g, const char *key, uint32_t *out);
int osr_gguf_get_i32(const struct osr_gguf *g, const char *key, int32_t *out);
int osr_gguf_get_u64(const struct osr_gguf *g, const char *key, uint64_t *out);
int osr_gguf_get_i64(const struct osr_gguf *g, const char *key, int64_t *out);
/* Accepts FLOAT32 and FLOAT64 keys. */
int osr_gguf_get_f32(const struct osr_gguf *g, const char *key, float *out);
int osr_gguf_get_f64(const struct osr_gguf *g, const char *key, double *out);
int osr_gguf_get_bool(const struct osr_gguf *g, const char *key, bool *out);
/* The array stored at key; *out is valid until close. */
int osr_gguf_get_arr(const struct osr_gguf *g, const char *key, struct osr_gguf_array *out);

/* `general.architecture` ("llama", "qwen2", ...); an empty view when absent. */
struct osr_str osr_gguf_arch(const struct osr_gguf *g);
/* Getters for "<architecture>.<suffix>" keys ("llama.embedding_length" for suffix
 * "embedding_length"); OSR_ENOTFOUND also when the file names no architecture. */
int osr_gguf_get_arch_u32(const struct osr_gguf *g, const char *suffix, uint32_t *out);
int osr_gguf_get_arch_f32(const struct osr_gguf *g, const char *suffix, float *out);

/* The same getters by index (for iterating). */
int osr_gguf_kv_str(const struct osr_gguf *g, size_t i, struct osr_str *out);
int osr_gguf_kv_i64(const struct osr_gguf *g, size_t i, int64_t *out); /* any integer or bool */
int osr_gguf_kv_u64(const struct osr_gguf *g, size_t i, uint64_t *out);
int osr_gguf_kv_f64(const struct osr_gguf *g, size_t i, double *out); /* either float type */
int osr_gguf_kv_arr(const struct osr_gguf *g, size_t i, struct osr_gguf_array *out);

/* Array element access: i must be < a->n (checked: OSR_EINVAL otherwise, or when the element
 * type does not convert).  _int accepts every integer type and bool, _f64 both float types,
 * _str string arrays, _arr arrays of arrays. */
int osr_gguf_arr_int(const struct osr_gguf_array *a, uint64_t i, int64_t *out);
int osr_gguf_arr_u64(const struct osr_gguf_array *a, uint64_t i, uint64_t *out);
int osr_gguf_arr_f64(const struct osr_gguf_array *a, uint64_t i, double *out);
int osr_gguf_arr_str(const struct osr_gguf_array *a, uint64_t i, struct osr_str *out);
int osr_gguf_arr_arr(const struct osr_gguf_array *a, uint64_t i, struct osr_gguf_array *out);

/* ---- tensors ------------------------------------------------------------------------------- */

size_t osr_gguf_n_tensors(const struct osr_gguf *g);
/* The i-th tensor (i < osr_gguf_n_tensors) or NULL; valid until close. */
const struct osr_gguf_tensor *osr_gguf_tensor(const struct osr_gguf *g, size_t i);
/* The tensor called name, or NULL. */
const struct osr_gguf_tensor *osr_gguf_find_tensor(const struct osr_gguf *g, const char *name);

/* ---- type tables ---------------------------------------------------------------------------- */

/* Name of a metadata type ("u32", "string", ...) or "?" */
const char *osr_gguf_type_name(enum osr_gguf_type t);
/* Name of a ggml type ("F16", "Q4_K", ...) or NULL when unknown. */
const char *osr_ggml_type_name(enum osr_ggml_type t);
/* Elements per block and bytes per block of a ggml type; false when the type is unknown. */
bool osr_ggml_type_layout(enum osr_ggml_type t, uint32_t *block_elems, uint32_t *block_bytes);

#endif
