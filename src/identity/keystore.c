/* keystore.c - access-key metadata, revocations and the device counter in JSON files.
 *
 * The Linux stand-in for the original's Keychain items (com.osaurus.access-keys,
 * com.osaurus.revocations, com.osaurus.whitelist, the device counter).  It reads and writes
 * files and keeps an in-memory snapshot; it never sees a full key.  The validator's context is
 * built from a snapshot by osr_keystore_fill_ctx; the auth gate decides when to reload.
 */
#include "osr/keystore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "osr/alloc.h"
#include "osr/buf.h"
#include "osr/clock.h"
#include "osr/config.h"
#include "osr/json.h"

static char *identity_file(const char *home, const char *name)
{
    char *dir = osr_path_join(home, "identity");
    char *p = osr_path_join(dir, name);
    free(dir);
    return p;
}

int osr_keystore_lock(const char *home, int *fd, struct osr_diag *diag)
{
    char *dir = osr_path_join(home, "identity");
    char *path = identity_file(home, ".keys.lock");
    int rc = osr_mkdir_p(dir, 0700, diag);
    *fd = -1;
    if (rc)
        goto out;
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (*fd < 0) {
        rc = osr_diag_set(diag, OSR_EIO, "cannot open '%s': %s", path, strerror(errno));
        goto out;
    }
    while (flock(*fd, LOCK_EX) != 0) {
        if (errno == EINTR)
            continue;
        rc = osr_diag_set(diag, OSR_EIO, "cannot lock '%s': %s", path, strerror(errno));
        close(*fd);
        *fd = -1;
        goto out;
    }
out:
    free(path);
    free(dir);
    return rc;
}

void osr_keystore_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* closing releases the flock */
}

void osr_keystore_release(struct osr_keystore *ks)
{
    free(ks->keys);
    for (size_t i = 0; i < ks->n_revoked; i++) {
        free((char *)ks->revoked[i].address);
        free((char *)ks->revoked[i].nonce);
    }
    free(ks->revoked);
    for (size_t i = 0; i < ks->n_thresholds; i++)
        free((char *)ks->thresholds[i].address);
    free(ks->thresholds);
    for (size_t i = 0; i < ks->n_whitelist; i++)
        free(ks->whitelist[i]);
    free(ks->whitelist);
    memset(ks, 0, sizeof(*ks));
}

static char *lower_dup(const char *s)
{
    char *d = osr_xstrdup(s);
    for (char *p = d; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return d;
}

/* ---- dates: the original's .iso8601 strategy, "2025-12-02T00:00:00Z" ------------------- */

static int parse_iso8601(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, se, used = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &se, &used) != 6 ||
        used == 0 || s[used] != 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        se > 60)
        return OSR_EINVAL;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = se};
    *out = (int64_t)timegm(&tm);
    return OSR_OK;
}

static void format_iso8601(char out[OSR_ISO8601_MAX], int64_t secs)
{
    osr_time_iso8601(out, secs * 1000, 0);
}

/* ---- loading ------------------------------------------------------------------------- */

/* Reads and parses a JSON file; *root stays NULL for a missing file. */
static int read_json(const char *path, struct json_object **root, struct osr_diag *diag)
{
    char *text = NULL;
    size_t len = 0;
    *root = NULL;
    int rc = osr_read_file(path, OSR_KEYSTORE_FILE_MAX, &text, &len, diag);
    if (rc == OSR_ENOTFOUND) {
        osr_diag_clear(diag);
        return OSR_OK;
    }
    if (rc)
        return rc;
    struct osr_diag jd = {0};
    rc = osr_json_parse(text, len, root, &jd);
    free(text);
    if (rc)
        return osr_diag_set(diag, OSR_ECORRUPT, "'%s' is not valid JSON: %s", path, jd.msg);
    return OSR_OK;
}

static int copy_field(struct json_object *o, const char *key, char *dst, size_t cap, bool required)
{
    const char *s = NULL;
    if (osr_json_get_string(o, key, required, &s, NULL) != OSR_OK)
        return OSR_EINVAL;
    if (!s)
        s = "";
    if (strlen(s) >= cap)
        return OSR_EINVAL;
    snprintf(dst, cap, "%s", s);
    return OSR_OK;
}

static int parse_key(struct json_object *o, struct osr_osk_info *k)
{
    const char *s = NULL;
    int64_t v = 0;
    memset(k, 0, sizeof(*k));
    if (!json_object_is_type(o, json_type_object))
        return OSR_EINVAL;
    if (copy_field(o, "id", k->id, sizeof(k->id), true) ||
        copy_field(o, "label", k->label, sizeof(k->label), false) ||
        copy_field(o, "prefix", k->prefix, sizeof(k->prefix), false) ||
        copy_field(o, "nonce", k->nonce, sizeof(k->nonce), true) ||
        copy_field(o, "iss", k->iss, sizeof(k->iss), true) ||
        copy_field(o, "aud", k->aud, sizeof(k->aud), true))
        return OSR_EINVAL;
    if (osr_json_get_int(o, "cnt", true, 0, INT64_MAX, &v, NULL) != OSR_OK)
        return OSR_EINVAL;
    k->cnt = (uint64_t)v;
    if (osr_json_get_string(o, "createdAt", true, &s, NULL) || parse_iso8601(s, &k->created))
        return OSR_EINVAL;
    s = NULL;
    if (osr_json_get_string(o, "expiration", true, &s, NULL) ||
        osr_osk_expiry_parse(s, &k->expiration))
        return OSR_EINVAL;
    s = NULL;
    if (osr_json_get_string(o, "expiresAt", false, &s, NULL))
        return OSR_EINVAL;
    if (s) {
        if (parse_iso8601(s, &k->expires))
            return OSR_EINVAL;
        k->has_expires = true;
    }
    if (osr_json_get_bool(o, "revoked", false, &k->revoked, NULL))
        return OSR_EINVAL;
    return OSR_OK;
}

static int load_keys(const char *home, struct osr_keystore *ks, struct osr_diag *diag)
{
    char *path = identity_file(home, "access-keys.json");
    struct json_object *root = NULL;
    int rc = read_json(path, &root, diag);
    if (rc || !root)
        goto out;
    if (!json_object_is_type(root, json_type_array)) {
        rc = osr_diag_set(diag, OSR_ECORRUPT, "'%s' must hold a JSON array", path);
        goto out;
    }
    size_t n = json_object_array_length(root);
    if (n > OSR_KEYSTORE_MAX_KEYS) {
        rc = osr_diag_set(diag, OSR_ECORRUPT, "'%s' lists more than %d keys", path,
                          OSR_KEYSTORE_MAX_KEYS);
        goto out;
    }
    ks->keys = osr_xcalloc(n ? n : 1, sizeof(*ks->keys));
    for (size_t i = 0; i < n; i++) {
        if (parse_key(json_object_array_get_idx(root, i), &ks->keys[i]) != OSR_OK) {
            rc = osr_diag_set(diag, OSR_ECORRUPT, "'%s': entry %zu is not a valid key record", path,
                              i);
            goto out;
        }
        ks->n_keys++;
    }
out:
    if (root)
        json_object_put(root);
    free(path);
    return rc;
}

static int load_revocations(const char *home, struct osr_keystore *ks, struct osr_diag *diag)
{
    char *path = identity_file(home, "revocations.json");
    struct json_object *root = NULL, *arr = NULL, *th = NULL;
    int rc = read_json(path, &root, diag);
    if (rc || !root)
        goto out;
    if (!json_object_is_type(root, json_type_object) ||
        osr_json_get_array(root, "revokedKeys", false, &arr, NULL) ||
        osr_json_get_object(root, "counterThresholds", false, &th, NULL)) {
        rc = osr_diag_set(diag, OSR_ECORRUPT, "'%s' does not have the expected shape", path);
        goto out;
    }
    size_t n = arr ? json_object_array_length(arr) : 0;
    if (n > 16 * OSR_KEYSTORE_MAX_KEYS) {
        rc = osr_diag_set(diag, OSR_ECORRUPT, "'%s' lists too many revocations", path);
        goto out;
    }
    ks->revoked = osr_xcalloc(n ? n : 1, sizeof(*ks->revoked));
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(arr, i);
        const char *s = json_object_is_type(e, json_type_string) ? json_object_get_string(e) : "";
        const char *colon = strchr(s, ':');
        if (!colon || colon == s || !colon[1]) {
            rc = osr_diag_set(diag, OSR_ECORRUPT, "'%s': revocation %zu is not 'address:nonce'",
                              path, i);
            goto out;
        }
        ks->revoked[i].address = osr_xstrndup(s, (size_t)(colon - s));
        ks->revoked[i].nonce = osr_xstrdup(colon + 1);
        ks->n_revoked++;
    }
    size_t nt = th ? (size_t)json_object_object_length(th) : 0;
    ks->thresholds = osr_xcalloc(nt ? nt : 1, sizeof(*ks->thresholds));
    if (th) {
        json_object_object_foreach(th, key, val)
        {
            if (!json_object_is_type(val, json_type_int) || json_object_get_int64(val) < 0) {
                rc = osr_diag_set(diag, OSR_ECORRUPT, "'%s': threshold of '%s' is not a count",
                                  path, key);
                goto out;
            }
            ks->thresholds[ks->n_thresholds].address = lower_dup(key);
            ks->thresholds[ks->n_thresholds].cnt = json_object_get_uint64(val);
            ks->n_thresholds++;
        }
    }
out:
    if (root)
        json_object_put(root);
    free(path);
    return rc;
}

static int load_whitelist(const char *home, struct osr_keystore *ks, struct osr_diag *diag)
{
    char *path = identity_file(home, "whitelist.json");
    struct json_object *root = NULL;
    int rc = read_json(path, &root, diag);
    if (rc || !root)
        goto out;
    if (!json_object_is_type(root, json_type_array) ||
        json_object_array_length(root) > OSR_KEYSTORE_MAX_KEYS) {
        rc = osr_diag_set(diag, OSR_ECORRUPT, "'%s' must hold an array of addresses", path);
        goto out;
    }
    size_t n = json_object_array_length(root);
    ks->whitelist = osr_xcalloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(root, i);
        if (!json_object_is_type(e, json_type_string)) {
            rc = osr_diag_set(diag, OSR_ECORRUPT, "'%s': entry %zu is not a string", path, i);
            goto out;
        }
        ks->whitelist[ks->n_whitelist++] = osr_xstrdup(json_object_get_string(e));
    }
out:
    if (root)
        json_object_put(root);
    free(path);
    return rc;
}

static int load_counter(const char *home, struct osr_keystore *ks, struct osr_diag *diag)
{
    char *path = identity_file(home, "device-counter");
    char *text = NULL;
    size_t len = 0;
    int rc = osr_read_file(path, 64, &text, &len, diag);
    if (rc == OSR_ENOTFOUND) {
        osr_diag_clear(diag);
        rc = OSR_OK;
        goto out;
    }
    if (rc)
        goto out;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    while (end && (*end == '\n' || *end == ' '))
        end++;
    if (errno || !end || *end || text[0] < '0' || text[0] > '9') {
        rc = osr_diag_set(diag, OSR_ECORRUPT, "'%s' does not hold a counter", path);
        goto out;
    }
    ks->counter = v;
out:
    free(text);
    free(path);
    return rc;
}

int osr_keystore_load(const char *home, struct osr_keystore *ks, struct osr_diag *diag)
{
    memset(ks, 0, sizeof(*ks));
    int rc = load_keys(home, ks, diag);
    if (!rc)
        rc = load_revocations(home, ks, diag);
    if (!rc)
        rc = load_whitelist(home, ks, diag);
    if (!rc)
        rc = load_counter(home, ks, diag);
    return rc;
}

/* ---- saving -------------------------------------------------------------------------- */

static int save_keys(const char *home, const struct osr_keystore *ks, struct osr_diag *diag)
{
    struct json_object *arr = json_object_new_array();
    for (size_t i = 0; i < ks->n_keys; i++) {
        const struct osr_osk_info *k = &ks->keys[i];
        char date[OSR_ISO8601_MAX];
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_string(k->id));
        json_object_object_add(o, "label", json_object_new_string(k->label));
        json_object_object_add(o, "prefix", json_object_new_string(k->prefix));
        json_object_object_add(o, "nonce", json_object_new_string(k->nonce));
        json_object_object_add(o, "cnt", json_object_new_uint64(k->cnt));
        json_object_object_add(o, "iss", json_object_new_string(k->iss));
        json_object_object_add(o, "aud", json_object_new_string(k->aud));
        format_iso8601(date, k->created);
        json_object_object_add(o, "createdAt", json_object_new_string(date));
        json_object_object_add(o, "expiration",
                               json_object_new_string(osr_osk_expiry_name(k->expiration)));
        if (k->has_expires) {
            format_iso8601(date, k->expires);
            json_object_object_add(o, "expiresAt", json_object_new_string(date));
        }
        json_object_object_add(o, "revoked", json_object_new_boolean(k->revoked));
        json_object_array_add(arr, o);
    }
    const char *text = json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE);
    char *path = identity_file(home, "access-keys.json");
    int rc = osr_write_file_atomic(path, text, strlen(text), 0600, diag);
    free(path);
    json_object_put(arr);
    return rc;
}

static int save_revocations(const char *home, const struct osr_keystore *ks, struct osr_diag *diag)
{
    struct json_object *root = json_object_new_object();
    struct json_object *arr = json_object_new_array();
    struct json_object *th = json_object_new_object();
    struct osr_buf b;
    osr_buf_init(&b, 1024);
    for (size_t i = 0; i < ks->n_revoked; i++) {
        osr_buf_reset(&b);
        char *addr = lower_dup(ks->revoked[i].address);
        int rc = osr_buf_appendf(&b, "%s:%s", addr, ks->revoked[i].nonce);
        free(addr);
        if (rc == OSR_OK)
            json_object_array_add(arr, json_object_new_string(osr_buf_str(&b)));
    }
    for (size_t i = 0; i < ks->n_thresholds; i++)
        json_object_object_add(th, ks->thresholds[i].address,
                               json_object_new_uint64(ks->thresholds[i].cnt));
    osr_buf_release(&b);
    json_object_object_add(root, "revokedKeys", arr);
    json_object_object_add(root, "counterThresholds", th);
    const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE);
    char *path = identity_file(home, "revocations.json");
    int rc = osr_write_file_atomic(path, text, strlen(text), 0600, diag);
    free(path);
    json_object_put(root);
    return rc;
}

int osr_keystore_save(const char *home, const struct osr_keystore *ks, struct osr_diag *diag)
{
    char *dir = osr_path_join(home, "identity");
    int rc = osr_mkdir_p(dir, 0700, diag);
    free(dir);
    if (rc)
        return rc;
    /* Revocations first: a crash between the writes must never un-revoke a key. */
    rc = save_revocations(home, ks, diag);
    if (!rc) {
        char text[32];
        int n = snprintf(text, sizeof(text), "%llu\n", (unsigned long long)ks->counter);
        char *path = identity_file(home, "device-counter");
        rc = osr_write_file_atomic(path, text, (size_t)n, 0600, diag);
        free(path);
    }
    if (!rc)
        rc = save_keys(home, ks, diag);
    return rc;
}

/* ---- operations ---------------------------------------------------------------------- */

uint64_t osr_keystore_next_counter(struct osr_keystore *ks)
{
    return ++ks->counter;
}

int osr_keystore_add(struct osr_keystore *ks, const struct osr_osk_info *info)
{
    if (ks->n_keys >= OSR_KEYSTORE_MAX_KEYS)
        return OSR_ETOOBIG;
    ks->keys = osr_xrealloc(ks->keys, (ks->n_keys + 1) * sizeof(*ks->keys));
    ks->keys[ks->n_keys++] = *info;
    return OSR_OK;
}

int osr_keystore_find(const struct osr_keystore *ks, const char *id_prefix)
{
    size_t len = id_prefix ? strlen(id_prefix) : 0;
    if (len < 4)
        return OSR_EINVAL;
    int found = OSR_ENOTFOUND;
    for (size_t i = 0; i < ks->n_keys; i++) {
        if (strncasecmp(ks->keys[i].id, id_prefix, len) != 0)
            continue;
        if (strlen(ks->keys[i].id) == len)
            return (int)i; /* an exact id wins over prefixes */
        if (found >= 0)
            return OSR_EINVAL;
        found = (int)i;
    }
    return found;
}

int osr_keystore_revoke(struct osr_keystore *ks, size_t index)
{
    if (index >= ks->n_keys)
        return OSR_EINVAL;
    struct osr_osk_info *k = &ks->keys[index];
    for (size_t i = 0; i < ks->n_revoked; i++)
        if (!strcasecmp(ks->revoked[i].address, k->iss) && !strcmp(ks->revoked[i].nonce, k->nonce))
            goto mark;
    ks->revoked = osr_xrealloc(ks->revoked, (ks->n_revoked + 1) * sizeof(*ks->revoked));
    ks->revoked[ks->n_revoked].address = lower_dup(k->iss);
    ks->revoked[ks->n_revoked].nonce = osr_xstrdup(k->nonce);
    ks->n_revoked++;
mark:
    k->revoked = true;
    return OSR_OK;
}

size_t osr_keystore_revoke_all(struct osr_keystore *ks, const char *address)
{
    size_t i = 0;
    for (; i < ks->n_thresholds; i++)
        if (!strcasecmp(ks->thresholds[i].address, address))
            break;
    if (i == ks->n_thresholds) {
        ks->thresholds =
            osr_xrealloc(ks->thresholds, (ks->n_thresholds + 1) * sizeof(*ks->thresholds));
        ks->thresholds[i].address = lower_dup(address);
        ks->n_thresholds++;
    }
    ks->thresholds[i].cnt = ks->counter;
    size_t marked = 0;
    for (size_t k = 0; k < ks->n_keys; k++) {
        if (!ks->keys[k].revoked && !strcasecmp(ks->keys[k].iss, address)) {
            ks->keys[k].revoked = true;
            marked++;
        }
    }
    return marked;
}

void osr_keystore_fill_ctx(const struct osr_keystore *ks, struct osr_osk_ctx *ctx)
{
    ctx->revoked = ks->revoked;
    ctx->n_revoked = ks->n_revoked;
    ctx->thresholds = ks->thresholds;
    ctx->n_thresholds = ks->n_thresholds;
    ctx->whitelist = (const char *const *)ks->whitelist;
    ctx->n_whitelist = ks->n_whitelist;
}
