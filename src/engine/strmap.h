/* strmap.h - an open-addressing hash map from byte strings to 32-bit values (engine-internal).
 *
 * Used for GGUF tensor names, tokenizer token -> id and BPE merge -> rank lookups.  Keys are
 * borrowed: the map stores pointer+length views, so the bytes must stay valid (the mmapped
 * file or the vocabulary arrays) for as long as the map is used.  Inserting a key that is
 * already present leaves the old value and reports it.
 *
 * Thread rules: building is single-threaded; once built, concurrent lookups are safe.
 */
#ifndef OSR_ENGINE_STRMAP_H
#define OSR_ENGINE_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct osr_strmap_slot {
    const char *key; /* NULL when the slot is empty */
    uint32_t len;
    uint32_t hash;
    uint32_t value;
};

struct osr_strmap {
    struct osr_strmap_slot *slots;
    size_t mask; /* capacity - 1 (capacity is a power of two) */
    size_t count;
};

/* Sizes the map for at least `expected` keys.  Returns OSR_OK or OSR_ENOMEM (the size comes
 * from input, so the allocation is fallible). */
int osr_strmap_init(struct osr_strmap *m, size_t expected);
void osr_strmap_release(struct osr_strmap *m);

/* FNV-1a over the bytes; exposed so callers can hash a pair without concatenating it. */
uint32_t osr_strmap_hash(const void *p, size_t n);

/* Inserts key -> value.  Returns true when inserted, false when the key was already present
 * (its value is stored in *existing when existing is non-NULL) or the map is full. */
bool osr_strmap_put(struct osr_strmap *m, const char *key, size_t len, uint32_t value,
                    uint32_t *existing);

/* Inserts key -> value, replacing the value when the key is present.  Returns false only when the
 * map is full. */
bool osr_strmap_set(struct osr_strmap *m, const char *key, size_t len, uint32_t value);

/* Looks key up; returns true and stores its value in *value when present. */
bool osr_strmap_get(const struct osr_strmap *m, const char *key, size_t len, uint32_t *value);

#endif
