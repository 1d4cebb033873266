/* registry.c - finds the GGUF models on this machine and describes them.
 *
 * A scan walks four sources in a fixed order (the Osaurus store, OSU_MODELS_DIR, Ollama's
 * store, the Hugging Face cache), opens every candidate with the GGUF reader (a file that does
 * not parse is logged and skipped), groups split files, reads the metadata the APIs report and
 * gives every model a unique id.  The result is an immutable, reference-counted snapshot.
 *
 * Digests that are not free (Ollama and Hugging Face blobs are named by their sha256) are
 * computed by one background thread, on demand, and cached in models/.digests.json.
 *
 * This module does not change the store (model_store.c does) and does not load weights.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "osr/alloc.h"
#include "osr/clock.h"
#include "osr/config.h"
#include "osr/gguf.h"
#include "osr/json.h"
#include "osr/log.h"
#include "osr/model_store.h"
#include "osr/registry.h"

#define MAX_MODELS 4096            /* models per scan */
#define MAX_FILES_PER_SOURCE 20000 /* directory entries looked at per source */
#define MAX_WALK_DEPTH 8
#define MAX_MANIFEST_BYTES (1u << 20)
#define MAX_LAYER_TEXT_BYTES (1u << 20)
#define MAX_DIGEST_CACHE_BYTES (16u << 20)
#define HASH_CHUNK (1u << 20)

struct osr_registry_snapshot {
    atomic_int refs;
    struct osr_model_entry *models;
    size_t n;
    int64_t scanned_ns;
    pthread_mutex_t dmu;                     /* guards digests and tried */
    char (*digests)[OSR_SHA256_HEX_LEN + 1]; /* guarded by dmu */
    bool *tried;                             /* guarded by dmu: hashing was attempted */
};

struct osr_registry {
    char *home;
    char *store_dir;
    struct osr_registry_options opts;
    pthread_mutex_t scan_mu; /* one scan at a time */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct osr_registry_snapshot *current; /* guarded by mu */
    struct json_object *digest_cache;      /* guarded by mu: path -> {size, mtime_ms, sha256} */
    bool worker_running;                   /* guarded by mu */
    bool worker_joinable;                  /* guarded by mu */
    atomic_bool stopping;
    pthread_t worker;
};

/* ---- small pure helpers ------------------------------------------------------------------ */

const char *osr_model_source_name(enum osr_model_source s)
{
    switch (s) {
    case OSR_MODEL_SOURCE_OSAURUS:
        return "osaurus";
    case OSR_MODEL_SOURCE_DIR:
        return "dir";
    case OSR_MODEL_SOURCE_OLLAMA:
        return "ollama";
    case OSR_MODEL_SOURCE_HUGGINGFACE:
        return "huggingface";
    }
    return "?";
}

/* llama.cpp's llama_ftype values (general.file_type); the retired ones are left out. */
const char *osr_registry_ftype_name(uint32_t ftype)
{
    static const char *const names[] = {
        [0] = "F32",     [1] = "F16",      [2] = "Q4_0",     [3] = "Q4_1",    [4] = "Q4_1_F16",
        [7] = "Q8_0",    [8] = "Q5_0",     [9] = "Q5_1",     [10] = "Q2_K",   [11] = "Q3_K_S",
        [12] = "Q3_K_M", [13] = "Q3_K_L",  [14] = "Q4_K_S",  [15] = "Q4_K_M", [16] = "Q5_K_S",
        [17] = "Q5_K_M", [18] = "Q6_K",    [19] = "IQ2_XXS", [20] = "IQ2_XS", [21] = "Q2_K_S",
        [22] = "IQ3_XS", [23] = "IQ3_XXS", [24] = "IQ1_S",   [25] = "IQ4_NL", [26] = "IQ3_S",
        [27] = "IQ3_M",  [28] = "IQ2_S",   [29] = "IQ2_M",   [30] = "IQ4_XS", [31] = "IQ1_M",
        [32] = "BF16",   [36] = "TQ1_0",   [37] = "TQ2_0",   [38] = "MXFP4",
    };
    if (ftype >= sizeof(names) / sizeof(names[0]))
        return NULL;
    return names[ftype];
}

void osr_registry_format_params(uint64_t n, char *out, size_t cap)
{
    if (n >= 1000000000000ull)
        snprintf(out, cap, "%.1fT", (double)n / 1e12);
    else if (n >= 1000000000ull)
        snprintf(out, cap, "%.1fB", (double)n / 1e9);
    else if (n >= 100000000ull)
        snprintf(out, cap, "%.0fM", (double)n / 1e6);
    else if (n >= 1000000ull)
        snprintf(out, cap, "%.1fM", (double)n / 1e6);
    else if (n >= 1000ull)
        snprintf(out, cap, "%lluK", (unsigned long long)(n / 1000));
    else
        snprintf(out, cap, "%llu", (unsigned long long)n);
}

void osr_registry_make_id(const char *name, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; name[i] && j + 1 < cap; i++) {
        unsigned char c = (unsigned char)name[i];
        out[j++] = c == ' ' ? '-' : (char)tolower(c);
    }
    if (cap)
        out[j] = '\0';
}

bool osr_registry_split_name(const char *file, unsigned *part, unsigned *count, size_t *stem_len)
{
    /* "<stem>-NNNNN-of-NNNNN.gguf": the suffix is exactly 20 characters. */
    static const size_t suffix = 20;
    size_t n = strlen(file);
    if (n <= suffix || strcasecmp(file + n - 5, ".gguf") != 0)
        return false;
    const char *s = file + n - suffix;
    if (s[0] != '-' || strncmp(s + 6, "-of-", 4) != 0)
        return false;
    unsigned a = 0, b = 0;
    for (int i = 0; i < 5; i++) {
        if (!isdigit((unsigned char)s[1 + i]) || !isdigit((unsigned char)s[10 + i]))
            return false;
        a = a * 10 + (unsigned)(s[1 + i] - '0');
        b = b * 10 + (unsigned)(s[10 + i] - '0');
    }
    if (a == 0 || b == 0 || a > b)
        return false;
    *part = a;
    *count = b;
    *stem_len = n - suffix;
    return true;
}

static bool is_hex64(const char *s, size_t n)
{
    if (n != OSR_SHA256_HEX_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* Copies a checked 64-digit hex string (is_hex64) into out. */
static void copy_hex(char out[OSR_SHA256_HEX_LEN + 1], const char *hex)
{
    memcpy(out, hex, OSR_SHA256_HEX_LEN);
    out[OSR_SHA256_HEX_LEN] = '\0';
}

static bool has_gguf_ext(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && strcasecmp(name + n - 5, ".gguf") == 0;
}

static int64_t mtime_ms(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}

int osr_registry_sha256_files(char *const *paths, size_t n, char out[OSR_SHA256_HEX_LEN + 1],
                              int (*progress)(uint64_t done, void *ctx), void *ctx,
                              struct osr_diag *diag)
{
    int rc = OSR_OK;
    out[0] = '\0';
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *chunk = osr_xmalloc(HASH_CHUNK);
    uint64_t done = 0;
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        rc = osr_diag_set(diag, OSR_ENOMEM, "cannot start sha256");
        goto out;
    }
    for (size_t i = 0; i < n && rc == OSR_OK; i++) {
        int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            rc = osr_diag_set(diag, OSR_EIO, "cannot open '%s': %s", paths[i], strerror(errno));
            break;
        }
        for (;;) {
            ssize_t r = read(fd, chunk, HASH_CHUNK);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                rc = osr_diag_set(diag, OSR_EIO, "cannot read '%s': %s", paths[i], strerror(errno));
                break;
            }
            if (r == 0)
                break;
            EVP_DigestUpdate(md, chunk, (size_t)r);
            done += (uint64_t)r;
            if (progress && progress(done, ctx)) {
                rc = OSR_ECANCELED;
                break;
            }
        }
        close(fd);
    }
    if (rc == OSR_OK) {
        unsigned char d[32];
        unsigned int dl = 0;
        EVP_DigestFinal_ex(md, d, &dl);
        for (unsigned i = 0; i < 32; i++)
            snprintf(out + 2 * i, 3, "%02x", d[i]);
    }
out:
    EVP_MD_CTX_free(md);
    free(chunk);
    return rc;
}

/* ---- growable lists ---------------------------------------------------------------------- */

struct strlist {
    char **v;
    size_t n, cap;
};

static void strlist_push(struct strlist *l, char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = osr_xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = s;
}

static void strlist_release(struct strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the entries of dir (no "." names), sorted.  Returns false when it cannot be read. */
static bool list_dir(const char *dir, struct strlist *out, size_t *budget)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (*budget == 0) {
            OSR_WARN("model scan: too many entries, stopped in '%s'", dir);
            break;
        }
        (*budget)--;
        strlist_push(out, osr_xstrdup(e->d_name));
    }
    closedir(d);
    if (out->n)
        qsort(out->v, out->n, sizeof(*out->v), cmp_str);
    return true;
}

/* Collects *.gguf files under dir (files may be symlinks; folders that are symlinks are not
 * followed, so a link loop cannot trap the walk). */
static void walk_gguf(const char *dir, int depth, struct strlist *files, size_t *budget)
{
    struct strlist names = {0};
    if (!list_dir(dir, &names, budget))
        return;
    for (size_t i = 0; i < names.n; i++) {
        char *p = osr_path_join(dir, names.v[i]);
        struct stat lst, st;
        if (lstat(p, &lst) != 0) {
            free(p);
            continue;
        }
        if (S_ISDIR(lst.st_mode)) {
            if (depth < MAX_WALK_DEPTH)
                walk_gguf(p, depth + 1, files, budget);
            free(p);
        } else if (has_gguf_ext(names.v[i]) && stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            strlist_push(files, p);
        } else {
            free(p);
        }
    }
    strlist_release(&names);
}

/* ---- building one model ------------------------------------------------------------------ */

struct scan {
    struct osr_model_entry *models;
    size_t n, cap;
    struct json_object *names;        /* store display names (borrowed) */
    struct json_object *digest_cache; /* borrowed, read under the registry's mu */
    struct osr_registry *reg;
    char (*digests)[OSR_SHA256_HEX_LEN + 1];
};

static void model_release(struct osr_model_entry *m)
{
    free(m->id);
    free(m->name);
    for (size_t i = 0; i < m->n_paths; i++)
        free(m->paths[i]);
    free(m->paths);
    free(m->family);
    free(m->parameter_size);
    free(m->quantization);
    free(m->ollama_template);
    free(m->ollama_params);
    free(m->ollama_system);
    free(m->store_file);
    memset(m, 0, sizeof(*m));
}

static char *str_dup_view(struct osr_str s)
{
    return osr_xstrndup(s.p, s.n);
}

/* The quantization of a file without general.file_type: the type holding most bytes among
 * the 2-D tensors. */
static const char *dominant_type(const struct osr_gguf *g)
{
    uint64_t bytes[OSR_GGML_TYPE_COUNT_] = {0};
    for (size_t i = 0; i < osr_gguf_n_tensors(g); i++) {
        const struct osr_gguf_tensor *t = osr_gguf_tensor(g, i);
        if (t && t->n_dims >= 2 && (unsigned)t->type < OSR_GGML_TYPE_COUNT_)
            bytes[t->type] += t->n_bytes;
    }
    int best = -1;
    for (int i = 0; i < OSR_GGML_TYPE_COUNT_; i++)
        if (bytes[i] && (best < 0 || bytes[i] > bytes[best]))
            best = i;
    return best < 0 ? NULL : osr_ggml_type_name((enum osr_ggml_type)best);
}

static bool mentions_tools(struct osr_str t)
{
    for (size_t i = 0; i + 5 <= t.n; i++)
        if (memcmp(t.p + i, "tools", 5) == 0)
            return true;
    return false;
}

/* Opens every part and fills m (whose paths, source and Ollama fields are already set).
 * Returns OSR_OK or an error with diag saying why the model is skipped. */
static int read_model(struct osr_model_entry *m, const char *stem, struct osr_diag *diag)
{
    int rc = OSR_OK;
    uint64_t params = 0;
    for (size_t i = 0; i < m->n_paths; i++) {
        struct stat st;
        if (stat(m->paths[i], &st) != 0)
            return osr_diag_set(diag, OSR_EIO, "cannot stat '%s': %s", m->paths[i],
                                strerror(errno));
        m->size += (uint64_t)st.st_size;
        if (m->source != OSR_MODEL_SOURCE_OLLAMA && mtime_ms(&st) > m->modified_ms)
            m->modified_ms = mtime_ms(&st);
        struct osr_gguf *g = NULL;
        struct osr_diag gd;
        osr_diag_clear(&gd);
        rc = osr_gguf_open(m->paths[i], &g, &gd);
        if (rc)
            return osr_diag_set(diag, rc, "not a usable GGUF file: %s",
                                gd.msg[0] ? gd.msg : osr_strerror(rc));
        for (size_t t = 0; t < osr_gguf_n_tensors(g); t++)
            params += osr_gguf_tensor(g, t)->n_elements;
        if (i == 0) {
            uint32_t split_count = 0;
            if (osr_gguf_get_u32(g, "split.count", &split_count) == OSR_OK && split_count > 1 &&
                split_count != m->n_paths) {
                osr_gguf_close(g);
                return osr_diag_set(diag, OSR_ECORRUPT,
                                    "'%s' says it has %u parts but %zu were found", m->paths[i],
                                    split_count, m->n_paths);
            }
            struct osr_str s;
            if (!m->name) {
                if (osr_gguf_get_str(g, "general.name", &s) == OSR_OK && s.n > 0)
                    m->name = str_dup_view(osr_str_trim(s));
                else
                    m->name = osr_xstrdup(stem);
            }
            m->family = str_dup_view(osr_gguf_arch(g));
            uint32_t ftype;
            const char *q = NULL;
            if (osr_gguf_get_u32(g, "general.file_type", &ftype) == OSR_OK)
                q = osr_registry_ftype_name(ftype);
            if (!q)
                q = dominant_type(g);
            m->quantization = osr_xstrdup(q ? q : "unknown");
            uint32_t ctx = 0;
            if (osr_gguf_get_arch_u32(g, "context_length", &ctx) == OSR_OK)
                m->context_length = ctx;
            if (osr_gguf_get_str(g, "tokenizer.chat_template", &s) == OSR_OK && s.n > 0) {
                m->has_template = true;
                m->template_tools = mentions_tools(s);
            }
            if (osr_gguf_get_str(g, "general.size_label", &s) == OSR_OK && s.n > 0 && s.n < 32) {
                m->parameter_size = str_dup_view(s);
            }
        }
        osr_gguf_close(g);
    }
    if (m->ollama_template) {
        m->has_template = true;
        m->template_tools = mentions_tools(osr_str_cstr(m->ollama_template));
    }
    m->parameter_count = params;
    if (params > 0) {
        /* Counted from the tensors, as Ollama does; the label is only a fallback. */
        char buf[32];
        osr_registry_format_params(params, buf, sizeof(buf));
        free(m->parameter_size);
        m->parameter_size = osr_xstrdup(buf);
    } else if (!m->parameter_size) {
        m->parameter_size = osr_xstrdup("");
    }
    return OSR_OK;
}

/* Looks the model up in the digest cache; the caller holds the registry's mu. */
static void cached_digest(struct json_object *cache, const struct osr_model_entry *m,
                          char out[OSR_SHA256_HEX_LEN + 1])
{
    out[0] = '\0';
    struct json_object *e, *v;
    if (!cache || !json_object_object_get_ex(cache, m->paths[0], &e) ||
        !json_object_is_type(e, json_type_object))
        return;
    if (!json_object_object_get_ex(e, "size", &v) || (uint64_t)json_object_get_int64(v) != m->size)
        return;
    if (!json_object_object_get_ex(e, "mtime_ms", &v) || json_object_get_int64(v) != m->modified_ms)
        return;
    if (!json_object_object_get_ex(e, "sha256", &v) || !json_object_is_type(v, json_type_string))
        return;
    const char *s = json_object_get_string(v);
    if (is_hex64(s, strlen(s)))
        copy_hex(out, s);
}

/* A Hugging Face cache file is a link to blobs/<sha256>: the name is the digest. */
static void hf_blob_digest(const char *path, char out[OSR_SHA256_HEX_LEN + 1])
{
    char target[4096];
    ssize_t n = readlink(path, target, sizeof(target) - 1);
    if (n <= 0)
        return;
    target[n] = '\0';
    const char *base = strrchr(target, '/');
    base = base ? base + 1 : target;
    if (is_hex64(base, strlen(base)))
        copy_hex(out, base);
}

/* Adds a model built from paths (taken over) unless it fails to read. */
static void add_model(struct scan *sc, struct osr_model_entry *m, const char *stem,
                      const char *free_digest)
{
    struct osr_diag diag;
    osr_diag_clear(&diag);
    if (sc->n >= MAX_MODELS) {
        OSR_WARN("model scan: more than %d models, skipping '%s'", MAX_MODELS, m->paths[0]);
        model_release(m);
        return;
    }
    if (read_model(m, stem, &diag) != OSR_OK) {
        OSR_WARN("model scan: skipping: %s", diag.msg);
        model_release(m);
        return;
    }
    if (sc->n == sc->cap) {
        sc->cap = sc->cap ? sc->cap * 2 : 16;
        sc->models = osr_xrealloc(sc->models, sc->cap * sizeof(*sc->models));
        sc->digests = osr_xrealloc(sc->digests, sc->cap * sizeof(*sc->digests));
    }
    char *d = sc->digests[sc->n];
    d[0] = '\0';
    if (free_digest && is_hex64(free_digest, strlen(free_digest)))
        copy_hex(d, free_digest);
    else if (m->source == OSR_MODEL_SOURCE_HUGGINGFACE && m->n_paths == 1)
        hf_blob_digest(m->paths[0], d);
    if (!d[0]) {
        pthread_mutex_lock(&sc->reg->mu);
        cached_digest(sc->reg->digest_cache, m, d);
        pthread_mutex_unlock(&sc->reg->mu);
    }
    sc->models[sc->n++] = *m;
}

/* Turns a sorted list of *.gguf files into models, grouping split parts. */
static void add_files(struct scan *sc, struct strlist *files, enum osr_model_source src,
                      const char *store_dir)
{
    for (size_t i = 0; i < files->n; i++) {
        const char *path = files->v[i];
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        size_t dir_len = (size_t)(base - path);
        unsigned part, count;
        size_t stem_len;
        struct osr_model_entry m = {0};
        m.source = src;
        char stem[512];
        if (osr_registry_split_name(base, &part, &count, &stem_len)) {
            snprintf(stem, sizeof(stem), "%.*s", (int)stem_len, base);
            if (part != 1) {
                char first[4096];
                snprintf(first, sizeof(first), "%.*s%s-00001-of-%05u.gguf", (int)dir_len, path,
                         stem, count);
                if (access(first, F_OK) != 0)
                    OSR_WARN("model scan: skipping '%s': part %u of %u without part 1", path, part,
                             count);
                continue;
            }
            if (count > OSR_MODEL_MAX_PARTS) {
                OSR_WARN("model scan: skipping '%s': %u parts is too many", path, count);
                continue;
            }
            m.paths = osr_xcalloc(count, sizeof(char *));
            bool complete = true;
            for (unsigned k = 1; k <= count; k++) {
                char p[4096];
                snprintf(p, sizeof(p), "%.*s%s-%05u-of-%05u.gguf", (int)dir_len, path, stem, k,
                         count);
                struct stat st;
                if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
                    OSR_WARN("model scan: skipping incomplete split model '%s': part %u of %u "
                             "is missing",
                             path, k, count);
                    complete = false;
                    break;
                }
                m.paths[m.n_paths++] = osr_xstrdup(p);
            }
            if (!complete) {
                model_release(&m);
                continue;
            }
        } else {
            size_t bl = strlen(base);
            snprintf(stem, sizeof(stem), "%.*s", (int)(bl - 5), base);
            m.paths = osr_xcalloc(1, sizeof(char *));
            m.paths[m.n_paths++] = osr_xstrdup(path);
        }
        if (src == OSR_MODEL_SOURCE_OSAURUS) {
            size_t sl = strlen(store_dir);
            const char *rel = path + sl + (path[sl] == '/' ? 1 : 0);
            m.store_file = osr_xstrdup(rel);
            struct json_object *nm;
            if (sc->names && json_object_object_get_ex(sc->names, rel, &nm) &&
                json_object_is_type(nm, json_type_string) && json_object_get_string_len(nm) > 0)
                m.name = osr_xstrdup(json_object_get_string(nm));
        }
        add_model(sc, &m, stem, NULL);
    }
}

static void scan_dir_source(struct scan *sc, const char *dir, enum osr_model_source src)
{
    struct strlist files = {0};
    size_t budget = MAX_FILES_PER_SOURCE;
    walk_gguf(dir, 0, &files, &budget);
    add_files(sc, &files, src, dir);
    strlist_release(&files);
}

/* ---- Ollama ------------------------------------------------------------------------------- */

static char *read_text(const char *path, size_t max)
{
    char *s = NULL;
    size_t n;
    if (osr_read_file(path, max, &s, &n, NULL) != OSR_OK)
        return NULL;
    return s;
}

/* Reads the layer's blob as text when the layer is well-formed. */
static char *layer_text(const char *root, struct json_object *layer)
{
    struct json_object *d;
    if (!json_object_object_get_ex(layer, "digest", &d) ||
        !json_object_is_type(d, json_type_string))
        return NULL;
    const char *digest = json_object_get_string(d);
    if (strncmp(digest, "sha256:", 7) != 0 || !is_hex64(digest + 7, strlen(digest + 7)))
        return NULL;
    char p[4096];
    snprintf(p, sizeof(p), "%s/blobs/sha256-%s", root, digest + 7);
    return read_text(p, MAX_LAYER_TEXT_BYTES);
}

static void scan_ollama_manifest(struct scan *sc, const char *root, const char *mpath,
                                 const char *host, const char *ns, const char *name,
                                 const char *tag)
{
    char *text = read_text(mpath, MAX_MANIFEST_BYTES);
    struct json_object *doc = NULL, *layers = NULL;
    struct osr_diag diag;
    osr_diag_clear(&diag);
    struct osr_model_entry m = {0};
    char digest[OSR_SHA256_HEX_LEN + 1] = "";
    if (!text) {
        OSR_WARN("model scan: cannot read Ollama manifest '%s'", mpath);
        return;
    }
    if (osr_json_parse(text, strlen(text), &doc, &diag) != OSR_OK || !doc ||
        osr_json_get_array(doc, "layers", true, &layers, &diag) != OSR_OK) {
        OSR_WARN("model scan: skipping Ollama manifest '%s': %s", mpath,
                 diag.msg[0] ? diag.msg : "not a JSON object");
        goto out;
    }
    m.source = OSR_MODEL_SOURCE_OLLAMA;
    char display[1024];
    if (strcmp(ns, "library") == 0)
        snprintf(display, sizeof(display), "%s:%s", name, tag);
    else
        snprintf(display, sizeof(display), "%s/%s/%s:%s", host, ns, name, tag);
    m.name = osr_xstrdup(display);
    size_t nl = json_object_array_length(layers);
    for (size_t i = 0; i < nl; i++) {
        struct json_object *l = json_object_array_get_idx(layers, i), *mt, *d;
        if (!json_object_is_type(l, json_type_object) ||
            !json_object_object_get_ex(l, "mediaType", &mt))
            continue;
        const char *type = json_object_get_string(mt);
        if (strcmp(type, "application/vnd.ollama.image.model") == 0) {
            if (!json_object_object_get_ex(l, "digest", &d) ||
                !json_object_is_type(d, json_type_string))
                continue;
            const char *dg = json_object_get_string(d);
            if (strncmp(dg, "sha256:", 7) != 0 || !is_hex64(dg + 7, strlen(dg + 7))) {
                OSR_WARN("model scan: skipping Ollama manifest '%s': bad layer digest", mpath);
                goto out;
            }
            if (m.n_paths >= OSR_MODEL_MAX_PARTS)
                continue;
            if (!digest[0])
                copy_hex(digest, dg + 7);
            char p[4096];
            snprintf(p, sizeof(p), "%s/blobs/sha256-%s", root, dg + 7);
            m.paths = osr_xrealloc(m.paths, (m.n_paths + 1) * sizeof(char *));
            m.paths[m.n_paths++] = osr_xstrdup(p);
        } else if (strcmp(type, "application/vnd.ollama.image.template") == 0 &&
                   !m.ollama_template) {
            m.ollama_template = layer_text(root, l);
        } else if (strcmp(type, "application/vnd.ollama.image.params") == 0 && !m.ollama_params) {
            m.ollama_params = layer_text(root, l);
        } else if (strcmp(type, "application/vnd.ollama.image.system") == 0 && !m.ollama_system) {
            m.ollama_system = layer_text(root, l);
        }
    }
    if (m.n_paths == 0) {
        /* Not a GGUF model (an embedding projector, a safetensors import...): nothing to list. */
        OSR_DEBUG("model scan: Ollama manifest '%s' has no model layer", mpath);
        goto out;
    }
    struct stat st;
    if (stat(mpath, &st) == 0)
        m.modified_ms = mtime_ms(&st);
    add_model(sc, &m, name, digest);
    memset(&m, 0, sizeof(m));
out:
    model_release(&m);
    json_object_put(doc);
    free(text);
}

/* manifests/<host>/<namespace>/<name>/<tag> */
static void scan_ollama(struct scan *sc, const char *root)
{
    char *mroot = osr_path_join(root, "manifests");
    size_t budget = MAX_FILES_PER_SOURCE;
    struct strlist hosts = {0};
    list_dir(mroot, &hosts, &budget);
    for (size_t a = 0; a < hosts.n; a++) {
        char *hp = osr_path_join(mroot, hosts.v[a]);
        struct strlist nss = {0};
        list_dir(hp, &nss, &budget);
        for (size_t b = 0; b < nss.n; b++) {
            char *np = osr_path_join(hp, nss.v[b]);
            struct strlist names = {0};
            list_dir(np, &names, &budget);
            for (size_t c = 0; c < names.n; c++) {
                char *mp = osr_path_join(np, names.v[c]);
                struct strlist tags = {0};
                list_dir(mp, &tags, &budget);
                for (size_t d = 0; d < tags.n; d++) {
                    char *tp = osr_path_join(mp, tags.v[d]);
                    struct stat st;
                    if (stat(tp, &st) == 0 && S_ISREG(st.st_mode))
                        scan_ollama_manifest(sc, root, tp, hosts.v[a], nss.v[b], names.v[c],
                                             tags.v[d]);
                    free(tp);
                }
                strlist_release(&tags);
                free(mp);
            }
            strlist_release(&names);
            free(np);
        }
        strlist_release(&nss);
        free(hp);
    }
    strlist_release(&hosts);
    free(mroot);
}

/* ---- Hugging Face ------------------------------------------------------------------------- */

/* models--<org>--<name>/snapshots/<rev>/...: the revision refs/main names, else all. */
static void scan_hf(struct scan *sc, const char *root)
{
    size_t budget = MAX_FILES_PER_SOURCE;
    struct strlist repos = {0};
    list_dir(root, &repos, &budget);
    for (size_t i = 0; i < repos.n; i++) {
        if (strncmp(repos.v[i], "models--", 8) != 0)
            continue;
        char *rp = osr_path_join(root, repos.v[i]);
        char *refp = osr_path_join(rp, "refs/main");
        char *snaps = osr_path_join(rp, "snapshots");
        char *ref = read_text(refp, 256);
        struct strlist files = {0};
        bool done = false;
        if (ref) {
            struct osr_str r = osr_str_trim(osr_str_cstr(ref));
            if (r.n > 0 && memchr(r.p, '/', r.n) == NULL && r.p[0] != '.') {
                char *rev = osr_xstrndup(r.p, r.n);
                char *sp = osr_path_join(snaps, rev);
                struct stat st;
                if (stat(sp, &st) == 0 && S_ISDIR(st.st_mode)) {
                    walk_gguf(sp, 0, &files, &budget);
                    done = true;
                }
                free(sp);
                free(rev);
            }
        }
        if (!done)
            walk_gguf(snaps, 0, &files, &budget);
        add_files(sc, &files, OSR_MODEL_SOURCE_HUGGINGFACE, NULL);
        strlist_release(&files);
        free(ref);
        free(snaps);
        free(refp);
        free(rp);
    }
    strlist_release(&repos);
}

static char *hf_root(void)
{
    const char *v = getenv("HF_HUB_CACHE");
    if (v && *v)
        return osr_xstrdup(v);
    v = getenv("HF_HOME");
    if (v && *v)
        return osr_path_join(v, "hub");
    v = getenv("XDG_CACHE_HOME");
    if (v && *v)
        return osr_path_join(v, "huggingface/hub");
    v = getenv("HOME");
    if (v && *v)
        return osr_path_join(v, ".cache/huggingface/hub");
    return NULL;
}

static char *ollama_root(void)
{
    const char *v = getenv("OLLAMA_MODELS");
    if (v && *v)
        return osr_xstrdup(v);
    v = getenv("HOME");
    if (v && *v)
        return osr_path_join(v, ".ollama/models");
    return NULL;
}

/* ---- ids ---------------------------------------------------------------------------------- */

static bool id_taken(const struct scan *sc, size_t upto, const char *id)
{
    for (size_t i = 0; i < upto; i++)
        if (strcasecmp(sc->models[i].id, id) == 0)
            return true;
    return false;
}

/* Earlier models keep the plain id; a later duplicate gets "-<quantization>", then "-2",
 * "-3", ... (see docs/internals/REGISTRY.md). */
static void assign_ids(struct scan *sc)
{
    for (size_t i = 0; i < sc->n; i++) {
        struct osr_model_entry *m = &sc->models[i];
        char base[1024], id[1100];
        /* Ollama's names are kept as Ollama shows them; the rest follow the original's rule. */
        if (m->source == OSR_MODEL_SOURCE_OLLAMA)
            snprintf(base, sizeof(base), "%s", m->name);
        else
            osr_registry_make_id(m->name, base, sizeof(base));
        if (!base[0])
            snprintf(base, sizeof(base), "model");
        snprintf(id, sizeof(id), "%s", base);
        if (id_taken(sc, i, id)) {
            char q[64];
            osr_registry_make_id(m->quantization, q, sizeof(q));
            snprintf(id, sizeof(id), "%s-%s", base, q);
            for (unsigned k = 2; id_taken(sc, i, id); k++)
                snprintf(id, sizeof(id), "%s-%u", base, k);
        }
        m->id = osr_xstrdup(id);
    }
}

/* ---- snapshots and the registry ------------------------------------------------------------ */

static void snapshot_free(struct osr_registry_snapshot *s)
{
    for (size_t i = 0; i < s->n; i++)
        model_release(&s->models[i]);
    free(s->models);
    free(s->digests);
    free(s->tried);
    pthread_mutex_destroy(&s->dmu);
    free(s);
}

void osr_registry_snapshot_release(struct osr_registry_snapshot *snap)
{
    if (snap && atomic_fetch_sub(&snap->refs, 1) == 1)
        snapshot_free(snap);
}

static struct osr_registry_snapshot *scan_all(struct osr_registry *reg)
{
    struct scan sc = {0};
    sc.reg = reg;
    sc.names = osr_model_store_names_load(reg->store_dir);

    scan_dir_source(&sc, reg->store_dir, OSR_MODEL_SOURCE_OSAURUS);
    const char *dirs = getenv("OSU_MODELS_DIR");
    if (!reg->opts.no_env_dirs && dirs && *dirs) {
        char *copy = osr_xstrdup(dirs);
        char *save = NULL;
        for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save))
            if (*d)
                scan_dir_source(&sc, d, OSR_MODEL_SOURCE_DIR);
        free(copy);
    }
    if (!reg->opts.no_ollama) {
        char *root = ollama_root();
        if (root)
            scan_ollama(&sc, root);
        free(root);
    }
    if (!reg->opts.no_hf) {
        char *root = hf_root();
        if (root)
            scan_hf(&sc, root);
        free(root);
    }
    assign_ids(&sc);
    json_object_put(sc.names);

    struct osr_registry_snapshot *s = osr_xcalloc(1, sizeof(*s));
    atomic_init(&s->refs, 1);
    pthread_mutex_init(&s->dmu, NULL);
    s->models = sc.models;
    s->n = sc.n;
    s->digests = sc.digests;
    s->tried = osr_xcalloc(sc.n ? sc.n : 1, sizeof(bool));
    s->scanned_ns = osr_mono_ns();
    return s;
}

static void load_digest_cache(struct osr_registry *reg)
{
    char *p = osr_path_join(reg->store_dir, ".digests.json");
    char *text = NULL;
    size_t n = 0;
    struct json_object *doc = NULL;
    if (osr_read_file(p, MAX_DIGEST_CACHE_BYTES, &text, &n, NULL) == OSR_OK &&
        (osr_json_parse(text, n, &doc, NULL) != OSR_OK ||
         !json_object_is_type(doc, json_type_object))) {
        OSR_WARN("ignoring unreadable digest cache '%s'", p);
        json_object_put(doc);
        doc = NULL;
    }
    reg->digest_cache = doc ? doc : json_object_new_object();
    free(text);
    free(p);
}

struct osr_registry *osr_registry_new(const struct osr_registry_options *opts)
{
    struct osr_registry *reg = osr_xcalloc(1, sizeof(*reg));
    if (opts)
        reg->opts = *opts;
    reg->home = osr_home_resolve(opts ? opts->home : NULL);
    reg->opts.home = reg->home;
    reg->store_dir = osr_path_join(reg->home, "models");
    pthread_mutex_init(&reg->scan_mu, NULL);
    pthread_mutex_init(&reg->mu, NULL);
    pthread_cond_init(&reg->cv, NULL);
    atomic_init(&reg->stopping, false);
    load_digest_cache(reg);
    osr_registry_refresh(reg);
    return reg;
}

void osr_registry_free(struct osr_registry *reg)
{
    if (!reg)
        return;
    atomic_store(&reg->stopping, true);
    pthread_mutex_lock(&reg->mu);
    bool join = reg->worker_joinable;
    reg->worker_joinable = false;
    pthread_mutex_unlock(&reg->mu);
    if (join)
        pthread_join(reg->worker, NULL);
    osr_registry_snapshot_release(reg->current);
    json_object_put(reg->digest_cache);
    pthread_cond_destroy(&reg->cv);
    pthread_mutex_destroy(&reg->mu);
    pthread_mutex_destroy(&reg->scan_mu);
    free(reg->store_dir);
    free(reg->home);
    free(reg);
}

const char *osr_registry_home(const struct osr_registry *reg)
{
    return reg->home;
}

/* Scans and swaps in the result; the caller holds scan_mu. */
static void refresh_locked(struct osr_registry *reg)
{
    struct osr_registry_snapshot *s = scan_all(reg);
    pthread_mutex_lock(&reg->mu);
    struct osr_registry_snapshot *old = reg->current;
    reg->current = s;
    pthread_mutex_unlock(&reg->mu);
    osr_registry_snapshot_release(old);
}

int osr_registry_refresh(struct osr_registry *reg)
{
    pthread_mutex_lock(&reg->scan_mu);
    refresh_locked(reg);
    pthread_mutex_unlock(&reg->scan_mu);
    return OSR_OK;
}

static bool is_stale(struct osr_registry *reg, int64_t max_age_ms)
{
    pthread_mutex_lock(&reg->mu);
    bool stale = osr_mono_ns() - reg->current->scanned_ns > max_age_ms * 1000000;
    pthread_mutex_unlock(&reg->mu);
    return stale;
}

struct osr_registry_snapshot *osr_registry_acquire(struct osr_registry *reg, int64_t max_age_ms)
{
    if (max_age_ms >= 0 && is_stale(reg, max_age_ms)) {
        /* Requests that find the snapshot stale together wait for one scan, not one each. */
        pthread_mutex_lock(&reg->scan_mu);
        if (is_stale(reg, max_age_ms))
            refresh_locked(reg);
        pthread_mutex_unlock(&reg->scan_mu);
    }
    pthread_mutex_lock(&reg->mu);
    struct osr_registry_snapshot *s = reg->current;
    atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&reg->mu);
    return s;
}

size_t osr_registry_count(const struct osr_registry_snapshot *snap)
{
    return snap->n;
}

const struct osr_model_entry *osr_registry_model(const struct osr_registry_snapshot *snap, size_t i)
{
    return i < snap->n ? &snap->models[i] : NULL;
}

const struct osr_model_entry *osr_registry_find(const struct osr_registry_snapshot *snap,
                                                const char *name)
{
    if (!name || !*name)
        return NULL;
    char want[1100], tagged[1110];
    osr_registry_make_id(name, want, sizeof(want));
    snprintf(tagged, sizeof(tagged), "%s:latest", want);
    bool has_tag = strchr(want, ':') != NULL;
    for (size_t i = 0; i < snap->n; i++)
        if (strcasecmp(snap->models[i].id, name) == 0 || strcasecmp(snap->models[i].id, want) == 0)
            return &snap->models[i];
    for (size_t i = 0; i < snap->n; i++) {
        const struct osr_model_entry *m = &snap->models[i];
        if (m->source != OSR_MODEL_SOURCE_OLLAMA)
            continue;
        const char *key = has_tag ? want : tagged;
        if (strcasecmp(m->id, key) == 0)
            return m;
        size_t il = strlen(m->id), kl = strlen(key);
        if (il > kl && m->id[il - kl - 1] == '/' && strcasecmp(m->id + il - kl, key) == 0)
            return m;
    }
    return NULL;
}

void osr_registry_digest(const struct osr_registry_snapshot *snap, const struct osr_model_entry *m,
                         char out[OSR_SHA256_HEX_LEN + 1])
{
    out[0] = '\0';
    if (m < snap->models || m >= snap->models + snap->n)
        return;
    size_t i = (size_t)(m - snap->models);
    pthread_mutex_lock((pthread_mutex_t *)&snap->dmu);
    memcpy(out, snap->digests[i], OSR_SHA256_HEX_LEN + 1);
    pthread_mutex_unlock((pthread_mutex_t *)&snap->dmu);
}

/* ---- the digest thread -------------------------------------------------------------------- */

static int hash_progress(uint64_t done, void *ctx)
{
    (void)done;
    struct osr_registry *reg = ctx;
    return atomic_load(&reg->stopping) ? 1 : 0;
}

/* Writes the cache, first merging what another process (the CLI) saved meanwhile and dropping
 * entries for files that no longer exist. */
static void save_digest_cache(struct osr_registry *reg)
{
    char *p = osr_path_join(reg->store_dir, ".digests.json");
    char *text = NULL;
    size_t n = 0;
    struct json_object *disk = NULL;
    if (osr_read_file(p, MAX_DIGEST_CACHE_BYTES, &text, &n, NULL) == OSR_OK &&
        (osr_json_parse(text, n, &disk, NULL) != OSR_OK ||
         !json_object_is_type(disk, json_type_object))) {
        json_object_put(disk);
        disk = NULL;
    }
    free(text);
    struct json_object *merged = json_object_new_object();
    pthread_mutex_lock(&reg->mu);
    struct json_object *srcs[2] = {disk, reg->digest_cache};
    for (int k = 0; k < 2; k++) {
        if (!srcs[k])
            continue;
        json_object_object_foreach(srcs[k], key, val)
        {
            if (access(key, F_OK) == 0)
                json_object_object_add(merged, key, json_object_get(val));
        }
    }
    json_object_put(reg->digest_cache);
    reg->digest_cache = json_object_get(merged);
    struct osr_buf b;
    osr_buf_init(&b, MAX_DIGEST_CACHE_BYTES);
    int rc = osr_json_append(&b, merged);
    pthread_mutex_unlock(&reg->mu);
    json_object_put(merged);
    json_object_put(disk);
    struct osr_diag diag;
    osr_diag_clear(&diag);
    if (rc == OSR_OK && osr_mkdir_p(reg->store_dir, 0700, &diag) == OSR_OK)
        rc = osr_write_file_atomic(p, osr_buf_str(&b), b.len, 0600, &diag);
    else if (rc == OSR_OK)
        rc = OSR_EIO;
    if (rc)
        OSR_WARN("cannot save digest cache '%s': %s", p, diag.msg[0] ? diag.msg : osr_strerror(rc));
    free(p);
    osr_buf_release(&b);
}

static void cache_put(struct json_object *cache, const struct osr_model_entry *m, const char *hex)
{
    struct json_object *e = json_object_new_object();
    json_object_object_add(e, "size", json_object_new_int64((int64_t)m->size));
    json_object_object_add(e, "mtime_ms", json_object_new_int64(m->modified_ms));
    json_object_object_add(e, "sha256", json_object_new_string(hex));
    json_object_object_add(cache, m->paths[0], e);
}

static void *digest_worker(void *arg)
{
    struct osr_registry *reg = arg;
    while (!atomic_load(&reg->stopping)) {
        struct osr_registry_snapshot *s = osr_registry_acquire(reg, -1);
        ssize_t pick = -1;
        pthread_mutex_lock(&s->dmu);
        for (size_t i = 0; i < s->n && pick < 0; i++) {
            if (s->digests[i][0] || s->tried[i])
                continue;
            s->tried[i] = true;
            pick = (ssize_t)i;
        }
        pthread_mutex_unlock(&s->dmu);
        if (pick < 0) {
            osr_registry_snapshot_release(s);
            break;
        }
        const struct osr_model_entry *m = &s->models[pick];
        char hex[OSR_SHA256_HEX_LEN + 1];
        pthread_mutex_lock(&reg->mu);
        cached_digest(reg->digest_cache, m, hex);
        pthread_mutex_unlock(&reg->mu);
        int rc = OSR_OK;
        struct osr_diag diag;
        osr_diag_clear(&diag);
        bool computed = false;
        if (!hex[0]) {
            rc = osr_registry_sha256_files(m->paths, m->n_paths, hex, hash_progress, reg, &diag);
            computed = rc == OSR_OK;
        }
        if (rc == OSR_OK) {
            pthread_mutex_lock(&s->dmu);
            memcpy(s->digests[pick], hex, sizeof(hex));
            pthread_mutex_unlock(&s->dmu);
            if (computed) {
                pthread_mutex_lock(&reg->mu);
                cache_put(reg->digest_cache, m, hex);
                pthread_mutex_unlock(&reg->mu);
                save_digest_cache(reg);
            }
        } else if (rc != OSR_ECANCELED) {
            OSR_WARN("cannot compute the digest of '%s': %s", m->id, diag.msg);
        }
        osr_registry_snapshot_release(s);
    }
    pthread_mutex_lock(&reg->mu);
    reg->worker_running = false;
    pthread_cond_broadcast(&reg->cv);
    pthread_mutex_unlock(&reg->mu);
    return NULL;
}

void osr_registry_want_digests(struct osr_registry *reg)
{
    pthread_mutex_lock(&reg->mu);
    if (!reg->worker_running && !atomic_load(&reg->stopping)) {
        if (reg->worker_joinable) {
            /* The previous worker has finished (worker_running is false): reap it. */
            pthread_join(reg->worker, NULL);
            reg->worker_joinable = false;
        }
        if (pthread_create(&reg->worker, NULL, digest_worker, reg) == 0) {
            reg->worker_running = true;
            reg->worker_joinable = true;
        } else {
            OSR_WARN("cannot start the digest thread");
        }
    }
    pthread_mutex_unlock(&reg->mu);
}

int osr_registry_wait_digests(struct osr_registry *reg, int64_t timeout_ms)
{
    int64_t deadline = osr_mono_ns() + timeout_ms * 1000000;
    pthread_mutex_lock(&reg->mu);
    while (reg->worker_running && osr_mono_ns() < deadline) {
        pthread_mutex_unlock(&reg->mu);
        osr_sleep_ms(5);
        pthread_mutex_lock(&reg->mu);
    }
    bool running = reg->worker_running;
    pthread_mutex_unlock(&reg->mu);
    return running ? OSR_ETIMEOUT : OSR_OK;
}

int osr_registry_remember_digest(const char *home, char *const *paths, size_t n, const char *hex,
                                 struct osr_diag *diag)
{
    if (n == 0 || !is_hex64(hex, strlen(hex)))
        return osr_diag_set(diag, OSR_EINVAL, "invalid digest");
    struct osr_model_entry m = {0};
    m.paths = (char **)paths;
    m.n_paths = n;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0)
            return osr_diag_set(diag, OSR_EIO, "cannot stat '%s': %s", paths[i], strerror(errno));
        m.size += (uint64_t)st.st_size;
        if (mtime_ms(&st) > m.modified_ms)
            m.modified_ms = mtime_ms(&st);
    }
    struct osr_registry reg = {0};
    reg.store_dir = osr_path_join(home, "models");
    pthread_mutex_init(&reg.mu, NULL);
    load_digest_cache(&reg);
    cache_put(reg.digest_cache, &m, hex);
    save_digest_cache(&reg);
    json_object_put(reg.digest_cache);
    pthread_mutex_destroy(&reg.mu);
    free(reg.store_dir);
    return OSR_OK;
}
