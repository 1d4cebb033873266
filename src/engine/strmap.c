/* strmap.c - open-addressing (linear probing) hash map from borrowed byte strings to uint32.
 *
 * The map never grows: it is sized once for the number of keys the caller will insert (the
 * count is known up front for vocabularies and tensor tables), at a load factor of at most
 * one half.  It does not copy keys and does not support removal.
 */
#include <stdlib.h>
#include <string.h>

#include "osr/alloc.h"
#include "osr/err.h"
#include "strmap.h"

int osr_strmap_init(struct osr_strmap *m, size_t expected)
{
    size_t cap = 16;
    while (cap < expected * 2 + 1) {
        if (cap > (SIZE_MAX / 4) / sizeof(struct osr_strmap_slot))
            return OSR_ENOMEM;
        cap *= 2;
    }
    m->slots = calloc(cap, sizeof(struct osr_strmap_slot));
    if (!m->slots)
        return OSR_ENOMEM;
    m->mask = cap - 1;
    m->count = 0;
    return OSR_OK;
}

void osr_strmap_release(struct osr_strmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->mask = 0;
    m->count = 0;
}

uint32_t osr_strmap_hash(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 16777619u;
    }
    return h;
}

bool osr_strmap_put(struct osr_strmap *m, const char *key, size_t len, uint32_t value,
                    uint32_t *existing)
{
    if (!m->slots || len > UINT32_MAX || m->count + 1 > (m->mask + 1) / 2)
        return false;
    if (!key)
        key = "";
    uint32_t h = osr_strmap_hash(key, len);
    for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
        struct osr_strmap_slot *s = &m->slots[i];
        if (!s->key) {
            s->key = key;
            s->len = (uint32_t)len;
            s->hash = h;
            s->value = value;
            m->count++;
            return true;
        }
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0) {
            if (existing)
                *existing = s->value;
            return false;
        }
    }
}

bool osr_strmap_set(struct osr_strmap *m, const char *key, size_t len, uint32_t value)
{
    if (!m->slots || len > UINT32_MAX)
        return false;
    if (!key)
        key = "";
    uint32_t h = osr_strmap_hash(key, len);
    for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
        struct osr_strmap_slot *s = &m->slots[i];
        if (!s->key) {
            if (m->count + 1 > (m->mask + 1) / 2)
                return false;
            s->key = key;
            s->len = (uint32_t)len;
            s->hash = h;
            s->value = value;
            m->count++;
            return true;
        }
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0) {
            s->value = value;
            return true;
        }
    }
}

bool osr_strmap_get(const struct osr_strmap *m, const char *key, size_t len, uint32_t *value)
{
    if (!m->slots || len > UINT32_MAX)
        return false;
    if (!key)
        key = "";
    uint32_t h = osr_strmap_hash(key, len);
    for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
        const struct osr_strmap_slot *s = &m->slots[i];
        if (!s->key)
            return false;
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0) {
            *value = s->value;
            return true;
        }
    }
}
