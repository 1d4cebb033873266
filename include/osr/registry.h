/* registry.h - the local model registry: every GGUF model this machine already has.
 *
 * A scan looks, in this order, at $OSAURUS_HOME/models (the store `osaurus models add` fills),
 * the folders listed in OSU_MODELS_DIR (colon-separated), Ollama's store ($OLLAMA_MODELS or
 * ~/.ollama/models) and the Hugging Face cache ($HF_HUB_CACHE, $HF_HOME/hub,
 * $XDG_CACHE_HOME/huggingface/hub or ~/.cache/huggingface/hub).  Only files whose header
 * parses as GGUF count; split files (name-00001-of-00003.gguf) are one model.  The rules for
 * ids, digests and each source are in docs/internals/REGISTRY.md.
 *
 * A scan produces an immutable snapshot.  Readers take a reference with osr_registry_acquire
 * and drop it with osr_registry_snapshot_release; osr_registry_refresh swaps in a new snapshot
 * while old ones stay valid until their last reader lets go.
 *
 * Digests: Ollama blobs are named by their sha256.  Other files are hashed on a background
 * thread (started by osr_registry_want_digests) and remembered in
 * $OSAURUS_HOME/models/.digests.json keyed by path, size and mtime; until then the digest is
 * "".  The digest of a model is the only field of a snapshot that changes (from "" to the
 * hex), so read it with osr_registry_digest.
 *
 * Thread rules: every function is thread-safe unless it says otherwise.
 */
#ifndef OSR_REGISTRY_H
#define OSR_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osr/err.h"

enum osr_model_source {
    OSR_MODEL_SOURCE_OSAURUS,     /* $OSAURUS_HOME/models */
    OSR_MODEL_SOURCE_DIR,         /* a folder of OSU_MODELS_DIR */
    OSR_MODEL_SOURCE_OLLAMA,      /* Ollama's manifests and blobs */
    OSR_MODEL_SOURCE_HUGGINGFACE, /* the Hugging Face hub cache */
};

#define OSR_SHA256_HEX_LEN 64
#define OSR_MODEL_MAX_PARTS 256

/* One model.  Every string is owned by the snapshot and valid until its release. */
struct osr_model_entry {
    char *id;       /* unique: lowercase display name, spaces -> '-'; Ollama's name:tag as it is */
    char *name;     /* display name (general.name, the file stem, or Ollama's name:tag) */
    char **paths;   /* the GGUF file of each part, in part order */
    size_t n_paths; /* 1 unless split */
    uint64_t size;  /* bytes, all parts */
    char *family;   /* general.architecture ("llama"), "" when absent */
    char *parameter_size;     /* "8.0B", "135M", "" when unknown */
    char *quantization;       /* "Q4_K_M", "F16", ... or "unknown" */
    uint64_t parameter_count; /* sum of tensor elements, 0 when unknown */
    uint32_t context_length;  /* <arch>.context_length, 0 when absent */
    bool has_template;        /* tokenizer.chat_template or an Ollama template layer */
    bool template_tools;      /* that template mentions tools */
    int64_t modified_ms;      /* newest mtime of the parts (Ollama: of the manifest) */
    enum osr_model_source source;
    char *ollama_template; /* Ollama's template/params/system layers, NULL when absent */
    char *ollama_params;   /* the params layer's JSON text */
    char *ollama_system;
    char *store_file; /* osaurus store: the first part's file name in the store, else NULL */
};

struct osr_registry;
struct osr_registry_snapshot;

struct osr_registry_options {
    const char *home; /* the Osaurus home (borrowed, copied); NULL: osr_home_resolve(NULL) */
    bool no_env_dirs; /* ignore OSU_MODELS_DIR */
    bool no_ollama;   /* do not look at Ollama's store */
    bool no_hf;       /* do not look at the Hugging Face cache */
};

/* Creates a registry and runs the first scan.  opts may be NULL.  The caller frees it with
 * osr_registry_free (which waits for the digest thread). */
struct osr_registry *osr_registry_new(const struct osr_registry_options *opts);
void osr_registry_free(struct osr_registry *reg);

/* The home folder the registry uses (valid until free). */
const char *osr_registry_home(const struct osr_registry *reg);

/* Rescans every source and swaps in the new snapshot.  Problems with single files are logged
 * (warn) and the file skipped; this never fails except for OSR_ENOMEM. */
int osr_registry_refresh(struct osr_registry *reg);

/* Returns the current snapshot with a reference the caller drops with
 * osr_registry_snapshot_release.  When max_age_ms >= 0 and the snapshot is older, rescans
 * first. */
struct osr_registry_snapshot *osr_registry_acquire(struct osr_registry *reg, int64_t max_age_ms);
void osr_registry_snapshot_release(struct osr_registry_snapshot *snap);

size_t osr_registry_count(const struct osr_registry_snapshot *snap);
/* The i-th model (i < count) in scan order, or NULL.  Valid until the snapshot's release. */
const struct osr_model_entry *osr_registry_model(const struct osr_registry_snapshot *snap,
                                                 size_t i);

/* Finds a model by id (case-insensitive), by Ollama name without tag (":latest" implied), or
 * by a '/'-suffix of an Ollama name ("namespace/name:tag").  NULL when none matches. */
const struct osr_model_entry *osr_registry_find(const struct osr_registry_snapshot *snap,
                                                const char *name);

/* Copies the model's sha256 (64 hex digits, or "" while unknown) into out. */
void osr_registry_digest(const struct osr_registry_snapshot *snap, const struct osr_model_entry *m,
                         char out[OSR_SHA256_HEX_LEN + 1]);

/* Starts (once) the background thread that hashes models whose digest is unknown and saves
 * the digest cache.  Returns at once. */
void osr_registry_want_digests(struct osr_registry *reg);

/* Waits until the digest thread has nothing left to do (tests, the CLI).  Returns OSR_OK or
 * OSR_ETIMEOUT after timeout_ms. */
int osr_registry_wait_digests(struct osr_registry *reg, int64_t timeout_ms);

/* Records in <home>/models/.digests.json that the n files (a model's parts, in order) hash to
 * hex, so no registry hashes them again (used by `osaurus models add`, which hashes while
 * copying).  Returns OSR_OK, OSR_EINVAL or OSR_EIO. */
int osr_registry_remember_digest(const char *home, char *const *paths, size_t n, const char *hex,
                                 struct osr_diag *diag);

/* "osaurus", "dir", "ollama" or "huggingface". */
const char *osr_model_source_name(enum osr_model_source s);

/* ---- pure helpers, exposed for the CLI, the routes and tests ------------------------------ */

/* Name of a llama.cpp file type (general.file_type): "Q4_K_M", "F16", ... or NULL. */
const char *osr_registry_ftype_name(uint32_t ftype);

/* Formats a parameter count as Ollama does: "8.0B", "1.1B", "135M", "22K". */
void osr_registry_format_params(uint64_t n, char *out, size_t cap);

/* Writes the id for a display name: lowercase ASCII, spaces -> '-'. */
void osr_registry_make_id(const char *name, char *out, size_t cap);

/* Recognizes a split part name "<stem>-00001-of-00003.gguf": returns true and the part number
 * (1-based), the count and the length of the stem. */
bool osr_registry_split_name(const char *file, unsigned *part, unsigned *count, size_t *stem_len);

/* Writes the sha256 (lower-case hex) of the n files' contents concatenated in order (one
 * file: its sha256).  progress (may be NULL) is called after every chunk with the bytes done
 * so far; when it returns non-zero hashing stops with OSR_ECANCELED.  Returns OSR_OK or
 * OSR_EIO (diag names the file). */
int osr_registry_sha256_files(char *const *paths, size_t n, char out[OSR_SHA256_HEX_LEN + 1],
                              int (*progress)(uint64_t done, void *ctx), void *ctx,
                              struct osr_diag *diag);

#endif
