/* model_store.c - adds, copies and removes models in $OSAURUS_HOME/models.
 *
 * Adding copies each part to a hidden temporary file beside its destination, hashing while it
 * copies, and renames it into place only when the whole part arrived; --link makes a symlink
 * to the absolute path instead (and hashes by reading).  Names chosen by the user live in
 * models/.names.json.  This module does not scan (registry.c does) and never touches models
 * of other tools.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "osr/alloc.h"
#include "osr/buf.h"
#include "osr/config.h"
#include "osr/gguf.h"
#include "osr/json.h"
#include "osr/log.h"
#include "osr/model_store.h"

#define MAX_NAMES_BYTES (4u << 20)
#define COPY_CHUNK (1u << 20)

struct json_object *osr_model_store_names_load(const char *store_dir)
{
    char *p = osr_path_join(store_dir, OSR_MODEL_STORE_NAMES_FILE);
    char *text = NULL;
    size_t n = 0;
    struct json_object *doc = NULL;
    int rc = osr_read_file(p, MAX_NAMES_BYTES, &text, &n, NULL);
    if (rc == OSR_OK && (osr_json_parse(text, n, &doc, NULL) != OSR_OK ||
                         !json_object_is_type(doc, json_type_object))) {
        OSR_WARN("ignoring unreadable '%s'", p);
        json_object_put(doc);
        doc = NULL;
    } else if (rc != OSR_OK && rc != OSR_ENOTFOUND) {
        OSR_WARN("cannot read '%s': %s", p, osr_strerror(rc));
    }
    free(text);
    free(p);
    return doc ? doc : json_object_new_object();
}

static int names_save(const char *store_dir, struct json_object *names, struct osr_diag *diag)
{
    struct osr_buf b;
    osr_buf_init(&b, MAX_NAMES_BYTES);
    int rc = osr_json_append(&b, names);
    if (rc == OSR_OK) {
        char *p = osr_path_join(store_dir, OSR_MODEL_STORE_NAMES_FILE);
        rc = osr_write_file_atomic(p, osr_buf_str(&b), b.len, 0600, diag);
        free(p);
    } else {
        osr_diag_set(diag, rc, "the model name list is too large");
    }
    osr_buf_release(&b);
    return rc;
}

static int names_set(const char *store_dir, const char *file, const char *name,
                     struct osr_diag *diag)
{
    struct json_object *names = osr_model_store_names_load(store_dir);
    if (name)
        json_object_object_add(names, file, json_object_new_string(name));
    else
        json_object_object_del(names, file);
    int rc = names_save(store_dir, names, diag);
    json_object_put(names);
    return rc;
}

const char *osr_model_store_owner_hint(enum osr_model_source s)
{
    switch (s) {
    case OSR_MODEL_SOURCE_OLLAMA:
        return "it belongs to Ollama (use 'ollama rm' / 'ollama cp')";
    case OSR_MODEL_SOURCE_HUGGINGFACE:
        return "it belongs to the Hugging Face cache (use 'hf cache delete')";
    case OSR_MODEL_SOURCE_DIR:
        return "it lives in a folder of OSU_MODELS_DIR, which Osaurus only reads";
    case OSR_MODEL_SOURCE_OSAURUS:
        break;
    }
    return "it is in the Osaurus store";
}

/* File-name-safe form of a display name. */
static void safe_file_stem(const char *name, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; name[i] && j + 1 < cap && j < 200; i++) {
        unsigned char c = (unsigned char)name[i];
        bool ok = isalnum(c) || c == '.' || c == '-' || c == '_' || c == ':' || c >= 0x80;
        out[j++] = ok ? (char)c : '_';
    }
    out[j] = '\0';
    if (out[0] == '.')
        out[0] = '_';
}

/* The part paths of the model at path: itself, or every part of its split set. */
static int find_parts(const char *path, char ***parts, unsigned *n, struct osr_diag *diag)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t dir_len = (size_t)(base - path);
    unsigned part, count;
    size_t stem_len;
    if (!osr_registry_split_name(base, &part, &count, &stem_len)) {
        *parts = osr_xcalloc(1, sizeof(char *));
        (*parts)[0] = osr_xstrdup(path);
        *n = 1;
        return OSR_OK;
    }
    if (count > OSR_MODEL_MAX_PARTS)
        return osr_diag_set(diag, OSR_EINVAL, "'%s': %u parts is too many", path, count);
    *parts = osr_xcalloc(count, sizeof(char *));
    *n = 0;
    for (unsigned k = 1; k <= count; k++) {
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%.*s%.*s-%05u-of-%05u.gguf", (int)dir_len, path, (int)stem_len,
                 base, k, count);
        if (access(p, R_OK) != 0) {
            int rc = osr_diag_set(diag, OSR_ENOTFOUND,
                                  "split model is incomplete: part %u of %u ('%s') is missing", k,
                                  count, p);
            for (unsigned i = 0; i < *n; i++)
                free((*parts)[i]);
            free(*parts);
            *parts = NULL;
            *n = 0;
            return rc;
        }
        (*parts)[(*n)++] = osr_xstrdup(p);
    }
    return OSR_OK;
}

static void free_parts(char **parts, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        free(parts[i]);
    free(parts);
}

/* Destination file name of part i of n for the given stem ("x.gguf" or "x-00002-of-00003.gguf"). */
static void part_file(const char *stem, unsigned i, unsigned n, char *out, size_t cap)
{
    if (n == 1)
        snprintf(out, cap, "%s.gguf", stem);
    else
        snprintf(out, cap, "%s-%05u-of-%05u.gguf", stem, i + 1, n);
}

struct copy_state {
    EVP_MD_CTX *md;
    uint64_t done, total;
    const struct osr_model_store_add_opts *opts;
};

/* Copies src to dst through a temporary file, hashing the bytes. */
static int copy_part(const char *src, const char *dst, struct copy_state *cs, struct osr_diag *diag)
{
    int rc = OSR_OK;
    char tmp[PATH_MAX];
    const char *base = strrchr(dst, '/');
    base = base ? base + 1 : dst;
    snprintf(tmp, sizeof(tmp), "%.*s.%s.partial", (int)(base - dst), dst, base);
    unsigned char *chunk = osr_xmalloc(COPY_CHUNK);
    int in = open(src, O_RDONLY | O_CLOEXEC);
    int out = -1;
    if (in < 0) {
        rc = osr_diag_set(diag, OSR_EIO, "cannot open '%s': %s", src, strerror(errno));
        goto out;
    }
    out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        rc = osr_diag_set(diag, OSR_EIO, "cannot create '%s': %s", tmp, strerror(errno));
        goto out;
    }
    for (;;) {
        ssize_t r = read(in, chunk, COPY_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = osr_diag_set(diag, OSR_EIO, "cannot read '%s': %s", src, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        EVP_DigestUpdate(cs->md, chunk, (size_t)r);
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(out, chunk + off, (size_t)(r - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = osr_diag_set(diag, OSR_EIO, "cannot write '%s': %s", tmp, strerror(errno));
                goto out;
            }
            off += w;
        }
        cs->done += (uint64_t)r;
        if (cs->opts->progress)
            cs->opts->progress(cs->done, cs->total, cs->opts->ctx);
    }
    if (fsync(out) != 0 || close(out) != 0) {
        out = -1;
        rc = osr_diag_set(diag, OSR_EIO, "cannot write '%s': %s", tmp, strerror(errno));
        goto out;
    }
    out = -1;
    if (rename(tmp, dst) != 0)
        rc = osr_diag_set(diag, OSR_EIO, "cannot rename '%s': %s", tmp, strerror(errno));
out:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    if (rc)
        unlink(tmp);
    free(chunk);
    return rc;
}

/* Hashes src for --link (the bytes are not copied). */
static int hash_part(const char *src, struct copy_state *cs, struct osr_diag *diag)
{
    unsigned char *chunk = osr_xmalloc(COPY_CHUNK);
    int rc = OSR_OK;
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        rc = osr_diag_set(diag, OSR_EIO, "cannot open '%s': %s", src, strerror(errno));
        goto out;
    }
    for (;;) {
        ssize_t r = read(in, chunk, COPY_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = osr_diag_set(diag, OSR_EIO, "cannot read '%s': %s", src, strerror(errno));
            break;
        }
        if (r == 0)
            break;
        EVP_DigestUpdate(cs->md, chunk, (size_t)r);
        cs->done += (uint64_t)r;
        if (cs->opts->progress)
            cs->opts->progress(cs->done, cs->total, cs->opts->ctx);
    }
    close(in);
out:
    free(chunk);
    return rc;
}

int osr_model_store_add(const char *home, const char *path,
                        const struct osr_model_store_add_opts *opts,
                        struct osr_model_store_added *out, struct osr_diag *diag)
{
    static const struct osr_model_store_add_opts no_opts = {0};
    if (!opts)
        opts = &no_opts;
    memset(out, 0, sizeof(*out));
    char **parts = NULL, **dsts = NULL;
    unsigned n = 0, made = 0;
    char *store = osr_path_join(home, "models");
    struct copy_state cs = {0};
    cs.opts = opts;
    int rc = find_parts(path, &parts, &n, diag);
    if (rc)
        goto out;
    for (unsigned i = 0; i < n; i++) {
        struct stat st;
        if (stat(parts[i], &st) != 0) {
            rc = osr_diag_set(diag, errno == ENOENT ? OSR_ENOTFOUND : OSR_EIO,
                              "cannot read '%s': %s", parts[i], strerror(errno));
            goto out;
        }
        if (!S_ISREG(st.st_mode)) {
            rc = osr_diag_set(diag, OSR_EINVAL, "'%s' is not a regular file", parts[i]);
            goto out;
        }
        struct osr_gguf *g = NULL;
        struct osr_diag gd;
        osr_diag_clear(&gd);
        rc = osr_gguf_open(parts[i], &g, &gd);
        osr_gguf_close(g);
        if (rc) {
            rc = osr_diag_set(diag, rc, "not a GGUF model file: %s", gd.msg);
            goto out;
        }
        cs.total += (uint64_t)st.st_size;
    }
    if (opts->name && !*opts->name) {
        rc = osr_diag_set(diag, OSR_EINVAL, "the model name must not be empty");
        goto out;
    }
    char stem[256];
    if (opts->name) {
        safe_file_stem(opts->name, stem, sizeof(stem));
    } else {
        const char *base = strrchr(parts[0], '/');
        base = base ? base + 1 : parts[0];
        unsigned pn, pc;
        size_t sl = strlen(base) - 5;
        osr_registry_split_name(base, &pn, &pc, &sl);
        snprintf(stem, sizeof(stem), "%.*s", (int)(sl < 200 ? sl : 200), base);
    }
    rc = osr_mkdir_p(store, 0700, diag);
    if (rc)
        goto out;
    dsts = osr_xcalloc(n, sizeof(char *));
    for (unsigned i = 0; i < n; i++) {
        char f[300];
        part_file(stem, i, n, f, sizeof(f));
        dsts[i] = osr_path_join(store, f);
        if (access(dsts[i], F_OK) == 0 || errno != ENOENT) {
            rc = osr_diag_set(diag, OSR_EEXIST, "'%s' already exists in the model store", f);
            goto out;
        }
        if (i == 0)
            snprintf(out->first_file, sizeof(out->first_file), "%s", f);
    }
    cs.md = EVP_MD_CTX_new();
    if (!cs.md || EVP_DigestInit_ex(cs.md, EVP_sha256(), NULL) != 1) {
        rc = osr_diag_set(diag, OSR_ENOMEM, "cannot start sha256");
        goto out;
    }
    for (; made < n; made++) {
        if (opts->link) {
            char abs[PATH_MAX];
            if (!realpath(parts[made], abs)) {
                rc = osr_diag_set(diag, OSR_EIO, "cannot resolve '%s': %s", parts[made],
                                  strerror(errno));
                goto out;
            }
            rc = hash_part(abs, &cs, diag);
            if (rc)
                goto out;
            if (symlink(abs, dsts[made]) != 0) {
                rc = osr_diag_set(diag, OSR_EIO, "cannot link '%s': %s", dsts[made],
                                  strerror(errno));
                goto out;
            }
        } else {
            rc = copy_part(parts[made], dsts[made], &cs, diag);
            if (rc)
                goto out;
        }
    }
    unsigned char d[32];
    unsigned int dl = 0;
    EVP_DigestFinal_ex(cs.md, d, &dl);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out->digest + 2 * i, 3, "%02x", d[i]);
    out->n_parts = n;
    out->size = cs.total;
    if (opts->name) {
        rc = names_set(store, out->first_file, opts->name, diag);
        if (rc)
            goto out;
    }
    struct osr_diag dd;
    osr_diag_clear(&dd);
    if (osr_registry_remember_digest(home, dsts, n, out->digest, &dd) != OSR_OK)
        OSR_WARN("cannot remember the digest: %s", dd.msg);
out:
    if (rc && dsts) {
        for (unsigned i = 0; i < made; i++)
            unlink(dsts[i]);
    }
    if (dsts)
        free_parts(dsts, n);
    free_parts(parts, n);
    EVP_MD_CTX_free(cs.md);
    free(store);
    return rc;
}

int osr_model_store_remove(const char *home, const struct osr_model_entry *m, struct osr_diag *diag)
{
    if (m->source != OSR_MODEL_SOURCE_OSAURUS)
        return osr_diag_set(diag, OSR_EPERM, "model '%s' is not in the Osaurus store: %s", m->id,
                            osr_model_store_owner_hint(m->source));
    int rc = OSR_OK;
    for (size_t i = 0; i < m->n_paths; i++) {
        if (unlink(m->paths[i]) != 0 && errno != ENOENT)
            rc =
                osr_diag_set(diag, OSR_EIO, "cannot delete '%s': %s", m->paths[i], strerror(errno));
    }
    if (rc == OSR_OK && m->store_file) {
        char *store = osr_path_join(home, "models");
        struct json_object *names = osr_model_store_names_load(store);
        bool had = json_object_object_get_ex(names, m->store_file, NULL);
        json_object_put(names);
        if (had)
            rc = names_set(store, m->store_file, NULL, diag);
        free(store);
    }
    return rc;
}

/* Links src to dst, or copies it when hard links are not possible. */
static int link_or_copy(const char *src, const char *dst, struct osr_diag *diag)
{
    if (link(src, dst) == 0)
        return OSR_OK;
    if (errno == EEXIST)
        return osr_diag_set(diag, OSR_EEXIST, "'%s' already exists", dst);
    struct osr_model_store_add_opts o = {0};
    struct copy_state cs = {0};
    cs.opts = &o;
    cs.md = EVP_MD_CTX_new();
    if (!cs.md || EVP_DigestInit_ex(cs.md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(cs.md);
        return osr_diag_set(diag, OSR_ENOMEM, "cannot start sha256");
    }
    int rc = copy_part(src, dst, &cs, diag);
    EVP_MD_CTX_free(cs.md);
    return rc;
}

int osr_model_store_copy(const char *home, const struct osr_model_entry *m, const char *dest,
                         struct osr_diag *diag)
{
    if (m->source != OSR_MODEL_SOURCE_OSAURUS)
        return osr_diag_set(diag, OSR_EPERM, "model '%s' is not in the Osaurus store: %s", m->id,
                            osr_model_store_owner_hint(m->source));
    if (!dest || !*dest)
        return osr_diag_set(diag, OSR_EINVAL, "the destination name must not be empty");
    char stem[256];
    safe_file_stem(dest, stem, sizeof(stem));
    char *store = osr_path_join(home, "models");
    unsigned n = (unsigned)m->n_paths, made = 0;
    char **dsts = osr_xcalloc(n, sizeof(char *));
    int rc = OSR_OK;
    for (unsigned i = 0; i < n; i++) {
        char f[300];
        part_file(stem, i, n, f, sizeof(f));
        dsts[i] = osr_path_join(store, f);
        if (access(dsts[i], F_OK) == 0) {
            rc = osr_diag_set(diag, OSR_EEXIST, "'%s' already exists in the model store", f);
            goto out;
        }
    }
    for (; made < n; made++) {
        rc = link_or_copy(m->paths[made], dsts[made], diag);
        if (rc)
            goto out;
    }
    const char *first = strrchr(dsts[0], '/') + 1;
    rc = names_set(store, first, dest, diag);
out:
    if (rc)
        for (unsigned i = 0; i < made; i++)
            unlink(dsts[i]);
    free_parts(dsts, n);
    free(store);
    return rc;
}
