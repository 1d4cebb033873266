/* model_store.h - changes to the Osaurus model store, $OSAURUS_HOME/models.
 *
 * The store is a plain folder of GGUF files (split models keep their -0000k-of-0000N names).
 * A model added with a name of its own gets an entry in models/.names.json, which maps the
 * first part's file name (relative to the store) to the display name the registry uses.
 * Only the store is ever changed: models found in Ollama's store, the Hugging Face cache or
 * OSU_MODELS_DIR belong to those tools and are refused with OSR_EPERM.
 *
 * Thread rules: the functions are reentrant; two processes changing the store at once may
 * lose a .names.json update (the last writer wins), never corrupt it (writes are atomic).
 */
#ifndef OSR_MODEL_STORE_H
#define OSR_MODEL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "osr/err.h"
#include "osr/registry.h"

#define OSR_MODEL_STORE_NAMES_FILE ".names.json"

/* Returns the parsed models/.names.json of store_dir, or a new empty object when it is
 * missing or unreadable (logged).  The caller releases it with json_object_put. */
struct json_object *osr_model_store_names_load(const char *store_dir);

struct osr_model_store_add_opts {
    const char *name; /* display name; NULL keeps the file's own (general.name or stem) */
    bool link;        /* symlink instead of copying */
    /* Called while copying/hashing with bytes done and the total; may be NULL. */
    void (*progress)(uint64_t done, uint64_t total, void *ctx);
    void *ctx;
};

struct osr_model_store_added {
    char digest[OSR_SHA256_HEX_LEN + 1]; /* sha256 of the parts concatenated */
    char first_file[512];                /* the first part's file name in the store */
    unsigned n_parts;
    uint64_t size;
};

/* Copies (or links) the GGUF model at path into the store; when path is one part of a split
 * model every part is added.  Refuses files that do not parse as GGUF (OSR_ECORRUPT or
 * OSR_EUNSUPPORTED), a missing part (OSR_ENOTFOUND), an existing destination (OSR_EEXIST).
 * The digest is computed while copying and remembered in the digest cache. */
int osr_model_store_add(const char *home, const char *path,
                        const struct osr_model_store_add_opts *opts,
                        struct osr_model_store_added *out, struct osr_diag *diag);

/* Deletes a store model's files and its name entry.  OSR_EPERM (diag says who owns it) for a
 * model from another source. */
int osr_model_store_remove(const char *home, const struct osr_model_entry *m,
                           struct osr_diag *diag);

/* Makes the store model m available under a second name, dest (hard links, or copies when
 * the file system cannot link).  OSR_EPERM for a model from another source, OSR_EEXIST when
 * the destination files exist, OSR_EINVAL for an empty name. */
int osr_model_store_copy(const char *home, const struct osr_model_entry *m, const char *dest,
                         struct osr_diag *diag);

/* A sentence saying which tool owns a model that is not in the store ("it belongs to
 * Ollama: remove it with 'ollama rm'"). */
const char *osr_model_store_owner_hint(enum osr_model_source s);

#endif
