/* history.c - chat sessions, messages, stored Responses and FTS5 search.
 *
 * The schema is this file's migrations; the database handling (keys, WAL, conversion) is
 * store.c's.  Large non-text content parts are spilled to content-addressed blobs through
 * osec.c before the row is written, so a crash can leave an unreferenced blob but never a
 * row pointing at a missing one.  This file does not decide what is stored when: the HTTP
 * and chat layers call it as requests complete.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "osr/alloc.h"
#include "osr/buf.h"
#include "osr/clock.h"
#include "osr/config.h"
#include "osr/history.h"
#include "osr/json.h"
#include "osr/osec.h"
#include "osr/uuid.h"

struct osr_history {
    struct osr_store *store;
    char *blob_dir;
    uint8_t key[OSR_STORE_KEY_BYTES]; /* seals new blobs when encrypted */
    uint8_t alt[OSR_STORE_KEY_BYTES]; /* the other key during an interrupted rekey */
    bool has_alt;
    bool encrypted;
};

static const char *const source_names[] = {"chat", "http", "plugin", "schedule", "watcher"};

const struct osr_store_migration osr_history_migrations[] = {
    {1, "CREATE TABLE IF NOT EXISTS sessions ("
        " id TEXT PRIMARY KEY,"
        " title TEXT NOT NULL DEFAULT '',"
        " agent_id TEXT,"
        " model TEXT,"
        " source TEXT NOT NULL DEFAULT 'chat'"
        "  CHECK (source IN ('chat','http','plugin','schedule','watcher')),"
        " created_at INTEGER NOT NULL,"
        " updated_at INTEGER NOT NULL);"
        "CREATE INDEX IF NOT EXISTS sessions_by_update ON sessions(updated_at DESC);"
        "CREATE TABLE IF NOT EXISTS messages ("
        " id INTEGER PRIMARY KEY,"
        " session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,"
        " seq INTEGER NOT NULL,"
        " role TEXT NOT NULL,"
        " content TEXT NOT NULL,"
        " tool_calls TEXT,"
        " tool_call_id TEXT,"
        " usage TEXT,"
        " text TEXT NOT NULL DEFAULT '',"
        " created_at INTEGER NOT NULL,"
        " UNIQUE (session_id, seq));"
        "CREATE TABLE IF NOT EXISTS responses ("
        " id TEXT PRIMARY KEY,"
        " previous_id TEXT,"
        " session_id TEXT REFERENCES sessions(id) ON DELETE SET NULL,"
        " model TEXT,"
        " input TEXT NOT NULL,"
        " output TEXT NOT NULL,"
        " created_at INTEGER NOT NULL);"
        "CREATE INDEX IF NOT EXISTS responses_by_previous ON responses(previous_id);"},
    {2, "CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5("
        " text, content='messages', content_rowid='id',"
        " tokenize='unicode61 remove_diacritics 2');"
        "CREATE TRIGGER IF NOT EXISTS messages_fts_ai AFTER INSERT ON messages BEGIN"
        " INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text); END;"
        "CREATE TRIGGER IF NOT EXISTS messages_fts_ad AFTER DELETE ON messages BEGIN"
        " INSERT INTO messages_fts(messages_fts, rowid, text)"
        "  VALUES ('delete', old.id, old.text); END;"
        "CREATE TRIGGER IF NOT EXISTS messages_fts_au AFTER UPDATE OF text ON messages BEGIN"
        " INSERT INTO messages_fts(messages_fts, rowid, text)"
        "  VALUES ('delete', old.id, old.text);"
        " INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text); END;"
        "INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');"},
};
const size_t osr_history_n_migrations =
    sizeof(osr_history_migrations) / sizeof(osr_history_migrations[0]);

const char *osr_history_source_name(enum osr_history_source s)
{
    if ((unsigned)s < sizeof(source_names) / sizeof(source_names[0]))
        return source_names[s];
    return "chat";
}

int osr_history_source_parse(const char *name, enum osr_history_source *out)
{
    for (size_t i = 0; name && i < sizeof(source_names) / sizeof(source_names[0]); i++) {
        if (strcmp(name, source_names[i]) == 0) {
            *out = (enum osr_history_source)i;
            return OSR_OK;
        }
    }
    return OSR_EINVAL;
}

int osr_history_open(struct osr_history **out, const char *home, const struct osr_store_keys *keys,
                     bool encrypt_new, struct osr_diag *diag)
{
    *out = NULL;
    struct osr_history *h = osr_xcalloc(1, sizeof(*h));
    char *path = osr_path_join(home, OSR_HISTORY_PATH);
    struct osr_store_options o = {
        .home = home,
        .keys = keys,
        .encrypt_new = encrypt_new,
        .migrations = osr_history_migrations,
        .n_migrations = osr_history_n_migrations,
    };
    int rc = osr_store_open(&h->store, path, &o, diag);
    free(path);
    if (rc) {
        free(h);
        return rc;
    }
    h->encrypted = osr_store_is_encrypted(h->store);
    if (h->encrypted) {
        /* New blobs are sealed with the key the database is under (next, during an
         * interrupted rekey); the CLI's rekey reseals old blobs. */
        bool on_next = osr_store_key_slot(h->store) == 2;
        memcpy(h->key, on_next ? keys->next : keys->key, OSR_STORE_KEY_BYTES);
        /* Old blobs may still be under the other key until the rekey finishes. */
        if (on_next ? keys->has_key : keys->has_next) {
            memcpy(h->alt, on_next ? keys->key : keys->next, OSR_STORE_KEY_BYTES);
            h->has_alt = true;
        }
    }
    h->blob_dir = osr_path_join(home, OSR_HISTORY_BLOBS);
    *out = h;
    return OSR_OK;
}

void osr_history_close(struct osr_history *h)
{
    if (!h)
        return;
    osr_store_close(h->store);
    OPENSSL_cleanse(h->key, sizeof(h->key));
    OPENSSL_cleanse(h->alt, sizeof(h->alt));
    free(h->blob_dir);
    free(h);
}

struct osr_store *osr_history_store(struct osr_history *h)
{
    return h->store;
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? osr_xstrdup((const char *)t) : NULL;
}

static void col_copy(sqlite3_stmt *st, int i, char *out, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(out, cap, "%s", t ? (const char *)t : "");
}

static void bind_opt(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static bool valid_id(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n >= OSR_HISTORY_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)id[i] <= 0x20 || (unsigned char)id[i] >= 0x7f)
            return false;
    return true;
}

void osr_history_session_release(struct osr_history_session *s)
{
    if (!s)
        return;
    free(s->title);
    free(s->agent);
    free(s->model);
    memset(s, 0, sizeof(*s));
}

void osr_history_sessions_free(struct osr_history_session *arr, size_t n)
{
    for (size_t i = 0; arr && i < n; i++)
        osr_history_session_release(&arr[i]);
    free(arr);
}

int osr_history_session_create(struct osr_history *h, const char *id, const char *title,
                               const char *agent, const char *model, enum osr_history_source source,
                               char id_out[OSR_HISTORY_ID_MAX], struct osr_diag *diag)
{
    char made[OSR_UUID_STRLEN + 1];
    if (!id) {
        osr_uuid_v4(made);
        id = made;
    } else if (!valid_id(id)) {
        return osr_diag_set(diag, OSR_EINVAL, "session id must be 1 to %d printable characters",
                            OSR_HISTORY_ID_MAX - 1);
    }
    sqlite3_stmt *st = NULL;
    int rc = osr_store_prepare(h->store,
                               "INSERT INTO sessions(id, title, agent_id, model, source,"
                               " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                               &st, diag);
    if (rc)
        return rc;
    int64_t now = osr_wall_ms();
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, title ? title : "", -1, SQLITE_TRANSIENT);
    bind_opt(st, 3, agent);
    bind_opt(st, 4, model);
    sqlite3_bind_text(st, 5, osr_history_source_name(source), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, now);
    rc = osr_store_step_done(h->store, st, diag);
    sqlite3_finalize(st);
    if (rc == OSR_EEXIST)
        return osr_diag_set(diag, OSR_EEXIST, "session '%s' already exists", id);
    if (!rc)
        snprintf(id_out, OSR_HISTORY_ID_MAX, "%s", id);
    return rc;
}

#define SESSION_COLUMNS                                                                            \
    "SELECT s.id, s.title, s.agent_id, s.model, s.source, s.created_at, s.updated_at,"             \
    " (SELECT count(*) FROM messages m WHERE m.session_id = s.id) FROM sessions s"

static void read_session(sqlite3_stmt *st, struct osr_history_session *s)
{
    memset(s, 0, sizeof(*s));
    col_copy(st, 0, s->id, sizeof(s->id));
    s->title = col_dup(st, 1);
    if (!s->title)
        s->title = osr_xstrdup("");
    s->agent = col_dup(st, 2);
    s->model = col_dup(st, 3);
    const unsigned char *src = sqlite3_column_text(st, 4);
    if (osr_history_source_parse((const char *)src, &s->source) != OSR_OK)
        s->source = OSR_HISTORY_CHAT;
    s->created_ms = sqlite3_column_int64(st, 5);
    s->updated_ms = sqlite3_column_int64(st, 6);
    s->n_messages = sqlite3_column_int64(st, 7);
}

int osr_history_session_get(struct osr_history *h, const char *id, struct osr_history_session *out,
                            struct osr_diag *diag)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *st = NULL;
    int rc = osr_store_prepare(h->store, SESSION_COLUMNS " WHERE s.id = ?1", &st, diag);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        read_session(st, out);
    else if (src == SQLITE_DONE)
        rc = osr_diag_set(diag, OSR_ENOTFOUND, "no session '%s'", id);
    else
        rc = osr_store_error(h->store, src, "cannot read", diag);
    sqlite3_finalize(st);
    return rc;
}

int osr_history_session_list(struct osr_history *h, size_t limit, size_t offset,
                             struct osr_history_session **out, size_t *n, struct osr_diag *diag)
{
    *out = NULL;
    *n = 0;
    if (limit == 0 || limit > 10000)
        limit = 10000;
    sqlite3_stmt *st = NULL;
    int rc = osr_store_prepare(h->store,
                               SESSION_COLUMNS " ORDER BY s.updated_at DESC, s.rowid DESC"
                                               " LIMIT ?1 OFFSET ?2",
                               &st, diag);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)limit);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)offset);
    size_t cap = limit < 64 ? limit : 64, got = 0;
    struct osr_history_session *arr = osr_xcalloc(cap, sizeof(*arr));
    int src = SQLITE_DONE;
    while (got < limit && (src = sqlite3_step(st)) == SQLITE_ROW) {
        if (got == cap) {
            cap = cap * 2 < limit ? cap * 2 : limit;
            arr = osr_xrealloc(arr, cap * sizeof(*arr));
        }
        read_session(st, &arr[got++]);
    }
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        rc = osr_store_error(h->store, src, "cannot read", diag);
    sqlite3_finalize(st);
    if (rc) {
        osr_history_sessions_free(arr, got);
        return rc;
    }
    *out = arr;
    *n = got;
    return OSR_OK;
}

/* Runs an UPDATE/DELETE with one or two text parameters and reports whether it hit a row. */
static int change_one(struct osr_history *h, const char *sql, const char *a, const char *b,
                      const char *id, struct osr_diag *diag)
{
    sqlite3_stmt *st = NULL;
    int rc = osr_store_prepare(h->store, sql, &st, diag);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, a, -1, SQLITE_TRANSIENT);
    if (b)
        sqlite3_bind_text(st, 2, b, -1, SQLITE_TRANSIENT);
    rc = osr_store_step_done(h->store, st, diag);
    sqlite3_finalize(st);
    if (!rc && sqlite3_changes(osr_store_db(h->store)) == 0)
        rc = osr_diag_set(diag, OSR_ENOTFOUND, "no session '%s'", id);
    return rc;
}

int osr_history_session_set_title(struct osr_history *h, const char *id, const char *title,
                                  struct osr_diag *diag)
{
    return change_one(h, "UPDATE sessions SET title = ?2 WHERE id = ?1", id, title ? title : "", id,
                      diag);
}

int osr_history_session_delete(struct osr_history *h, const char *id, struct osr_diag *diag)
{
    return change_one(h, "DELETE FROM sessions WHERE id = ?1", id, NULL, id, diag);
}

/* Parses one JSON field of a message, naming it in the error. */
static int parse_field(const char *json, const char *field, struct json_object **out,
                       struct osr_diag *diag)
{
    *out = NULL;
    size_t n = strlen(json);
    if (n > OSR_HISTORY_JSON_MAX)
        return osr_diag_set(diag, OSR_ETOOBIG, "'%s' is larger than %u bytes", field,
                            OSR_HISTORY_JSON_MAX);
    int rc = osr_json_parse(json, n, out, diag);
    if (rc) {
        char why[OSR_DIAG_MAX];
        snprintf(why, sizeof(why), "%s", diag ? diag->msg : "");
        osr_diag_set(diag, rc, "'%s' is not valid JSON: %s", field, why);
        osr_diag_set_param(diag, field);
    }
    return rc;
}

/* Collects the searchable text: a string content, or the "text" of each text part. */
static int collect_text(struct json_object *content, struct osr_buf *text)
{
    if (json_object_is_type(content, json_type_string))
        return osr_buf_append(text, json_object_get_string(content),
                              (size_t)json_object_get_string_len(content));
    if (!json_object_is_type(content, json_type_array))
        return OSR_OK;
    size_t n = json_object_array_length(content);
    for (size_t i = 0; i < n; i++) {
        struct json_object *part = json_object_array_get_idx(content, i);
        struct json_object *type = NULL, *t = NULL;
        if (!json_object_object_get_ex(part, "type", &type) ||
            !json_object_object_get_ex(part, "text", &t) ||
            !json_object_is_type(t, json_type_string))
            continue;
        const char *ty = json_object_get_string(type);
        if (strcmp(ty, "text") != 0 && strcmp(ty, "input_text") != 0 &&
            strcmp(ty, "output_text") != 0)
            continue;
        if (text->len && osr_buf_putc(text, '\n'))
            return OSR_ETOOBIG;
        if (osr_buf_append(text, json_object_get_string(t), (size_t)json_object_get_string_len(t)))
            return OSR_ETOOBIG;
    }
    return OSR_OK;
}

/* Replaces every large non-text part of content (an array) with {"ref":"<sha256>"}. */
static int spill_parts(struct osr_history *h, struct json_object *content, struct osr_diag *diag)
{
    if (!json_object_is_type(content, json_type_array))
        return OSR_OK;
    size_t n = json_object_array_length(content);
    for (size_t i = 0; i < n; i++) {
        struct json_object *part = json_object_array_get_idx(content, i);
        struct json_object *type = NULL;
        if (!json_object_is_type(part, json_type_object))
            continue;
        if (json_object_object_get_ex(part, "type", &type) &&
            strcmp(json_object_get_string(type), "text") == 0)
            continue;
        size_t len = 0;
        const char *s = json_object_to_json_string_length(
            part, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        if (len < OSR_OSEC_BLOB_MIN)
            continue;
        char sha[OSR_SHA256_HEX + 1];
        int rc = osr_osec_blob_put(h->blob_dir, h->encrypted ? h->key : NULL, s, len, sha, diag);
        if (rc)
            return rc;
        struct json_object *ref = json_object_new_object();
        json_object_object_add(ref, "ref", json_object_new_string(sha));
        json_object_array_put_idx(content, i, ref);
    }
    return OSR_OK;
}

int osr_history_message_append(struct osr_history *h, const char *session_id,
                               const struct osr_history_message *m, int64_t *seq_out,
                               struct osr_diag *diag)
{
    struct json_object *content = NULL, *calls = NULL, *usage = NULL;
    struct osr_buf text, stored;
    osr_buf_init(&text, OSR_HISTORY_JSON_MAX);
    osr_buf_init(&stored, OSR_HISTORY_JSON_MAX);
    sqlite3_stmt *st = NULL;
    bool in_tx = false;
    int rc = OSR_OK;
    if (!m->role || !*m->role) {
        rc = osr_diag_set(diag, OSR_EINVAL, "'role' is required");
        goto out;
    }
    rc = parse_field(m->content ? m->content : "\"\"", "content", &content, diag);
    if (!rc && m->tool_calls)
        rc = parse_field(m->tool_calls, "tool_calls", &calls, diag);
    if (!rc && m->usage)
        rc = parse_field(m->usage, "usage", &usage, diag);
    if (rc)
        goto out;
    if (!json_object_is_type(content, json_type_string) &&
        !json_object_is_type(content, json_type_array) && content != NULL) {
        rc = osr_diag_set(diag, OSR_EINVAL, "'content' must be a string or an array of parts");
        goto out;
    }
    if (collect_text(content, &text)) {
        rc = osr_diag_set(diag, OSR_ETOOBIG, "message text is too large");
        goto out;
    }
    /* Blobs first: a crash after this leaves an unreferenced blob, never a dangling ref. */
    rc = spill_parts(h, content, diag);
    if (rc)
        goto out;
    if (content)
        rc = osr_json_append(&stored, content);
    else
        rc = osr_buf_puts(&stored, "null");
    if (rc) {
        rc = osr_diag_set(diag, OSR_ETOOBIG, "message content is too large");
        goto out;
    }
    rc = osr_store_begin(h->store, diag);
    if (rc)
        goto out;
    in_tx = true;
    rc = osr_store_prepare(
        h->store,
        "INSERT INTO messages(session_id, seq, role, content, tool_calls, tool_call_id, usage,"
        " text, created_at) SELECT ?1, coalesce(max(seq), 0) + 1, ?2, ?3, ?4, ?5, ?6, ?7, ?8"
        " FROM messages WHERE session_id = ?1 RETURNING seq",
        &st, diag);
    if (rc)
        goto out;
    int64_t now = osr_wall_ms();
    sqlite3_bind_text(st, 1, session_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, m->role, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, osr_buf_str(&stored), (int)stored.len, SQLITE_STATIC);
    bind_opt(st, 4, m->tool_calls);
    bind_opt(st, 5, m->tool_call_id);
    bind_opt(st, 6, m->usage);
    sqlite3_bind_text(st, 7, osr_buf_str(&text), (int)text.len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, now);
    int src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        rc = osr_store_error(h->store, src, "cannot append to", diag);
        if ((src & 0xff) == SQLITE_CONSTRAINT)
            rc = osr_diag_set(diag, OSR_ENOTFOUND, "no session '%s'", session_id);
        goto out;
    }
    int64_t seq = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    rc =
        osr_store_prepare(h->store, "UPDATE sessions SET updated_at = ?2 WHERE id = ?1", &st, diag);
    if (rc)
        goto out;
    sqlite3_bind_text(st, 1, session_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, now);
    rc = osr_store_step_done(h->store, st, diag);
    if (rc)
        goto out;
    in_tx = false;
    rc = osr_store_commit(h->store, diag);
    if (!rc && seq_out)
        *seq_out = seq;
out:
    sqlite3_finalize(st);
    if (in_tx)
        osr_store_rollback(h->store);
    if (content)
        json_object_put(content);
    if (calls)
        json_object_put(calls);
    if (usage)
        json_object_put(usage);
    osr_buf_release(&stored);
    osr_buf_release(&text);
    return rc;
}

/* Puts spilled parts back into a content array; returns the new JSON (caller frees). */
static int resolve_refs(struct osr_history *h, const char *json, char **out, struct osr_diag *diag)
{
    *out = NULL;
    struct json_object *content = NULL;
    struct osr_buf buf;
    osr_buf_init(&buf, OSR_HISTORY_JSON_MAX);
    int rc = osr_json_parse(json, strlen(json), &content, diag);
    if (rc) {
        rc = osr_diag_set(diag, OSR_ECORRUPT, "stored message content is not JSON");
        goto out;
    }
    bool changed = false;
    size_t n =
        json_object_is_type(content, json_type_array) ? json_object_array_length(content) : 0;
    for (size_t i = 0; i < n; i++) {
        struct json_object *part = json_object_array_get_idx(content, i), *ref = NULL;
        if (!json_object_is_type(part, json_type_object) || json_object_object_length(part) != 1 ||
            !json_object_object_get_ex(part, "ref", &ref))
            continue;
        char *blob = NULL;
        size_t len = 0;
        rc =
            osr_osec_blob_get(h->blob_dir, h->encrypted ? h->key : NULL,
                              json_object_get_string(ref), OSR_HISTORY_JSON_MAX, &blob, &len, diag);
        if (rc == OSR_EAUTH && h->has_alt)
            rc = osr_osec_blob_get(h->blob_dir, h->alt, json_object_get_string(ref),
                                   OSR_HISTORY_JSON_MAX, &blob, &len, diag);
        if (rc)
            goto out;
        struct json_object *back = NULL;
        rc = osr_json_parse(blob, len, &back, diag);
        free(blob);
        if (rc) {
            rc = osr_diag_set(diag, OSR_ECORRUPT, "blob '%s' is not JSON",
                              json_object_get_string(ref));
            goto out;
        }
        json_object_array_put_idx(content, i, back);
        changed = true;
    }
    if (changed)
        rc = osr_json_append(&buf, content);
    else
        rc = osr_buf_puts(&buf, json);
    if (rc) {
        rc = osr_diag_set(diag, OSR_ETOOBIG, "message content is too large");
        goto out;
    }
    *out = osr_buf_detach(&buf, NULL);
out:
    if (content)
        json_object_put(content);
    osr_buf_release(&buf);
    return rc;
}

void osr_history_messages_free(struct osr_history_message *arr, size_t n)
{
    for (size_t i = 0; arr && i < n; i++) {
        free(arr[i].role);
        free(arr[i].content);
        free(arr[i].tool_calls);
        free(arr[i].tool_call_id);
        free(arr[i].usage);
    }
    free(arr);
}

int osr_history_messages_get(struct osr_history *h, const char *session_id, bool resolve_blobs,
                             struct osr_history_message **out, size_t *n, struct osr_diag *diag)
{
    *out = NULL;
    *n = 0;
    struct osr_history_session s;
    int rc = osr_history_session_get(h, session_id, &s, diag);
    if (rc)
        return rc;
    osr_history_session_release(&s);
    sqlite3_stmt *st = NULL;
    rc = osr_store_prepare(h->store,
                           "SELECT seq, role, content, tool_calls, tool_call_id, usage,"
                           " created_at FROM messages WHERE session_id = ?1 ORDER BY seq",
                           &st, diag);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, session_id, -1, SQLITE_TRANSIENT);
    size_t cap = 16, got = 0;
    struct osr_history_message *arr = osr_xcalloc(cap, sizeof(*arr));
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (got == cap) {
            cap *= 2;
            arr = osr_xrealloc(arr, cap * sizeof(*arr));
        }
        struct osr_history_message *m = &arr[got];
        memset(m, 0, sizeof(*m));
        got++;
        m->seq = sqlite3_column_int64(st, 0);
        m->role = col_dup(st, 1);
        m->content = col_dup(st, 2);
        m->tool_calls = col_dup(st, 3);
        m->tool_call_id = col_dup(st, 4);
        m->usage = col_dup(st, 5);
        m->created_ms = sqlite3_column_int64(st, 6);
        if (resolve_blobs && m->content && strstr(m->content, "\"ref\"")) {
            char *full = NULL;
            rc = resolve_refs(h, m->content, &full, diag);
            if (rc)
                break;
            free(m->content);
            m->content = full;
        }
    }
    if (!rc && src != SQLITE_DONE)
        rc = osr_store_error(h->store, src, "cannot read", diag);
    sqlite3_finalize(st);
    if (rc) {
        osr_history_messages_free(arr, got);
        return rc;
    }
    *out = arr;
    *n = got;
    return OSR_OK;
}

/* Turns user words into an FTS5 query: each word quoted (so operators and punctuation are
 * just text), a trailing '*' kept as a prefix match, all words required. */
static int fts_query(const char *q, struct osr_buf *out)
{
    const char *p = q;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            p++;
        size_t len = (size_t)(p - start);
        bool prefix = len > 1 && start[len - 1] == '*';
        if (prefix)
            len--;
        if (out->len && osr_buf_putc(out, ' '))
            return OSR_ETOOBIG;
        if (osr_buf_putc(out, '"'))
            return OSR_ETOOBIG;
        for (size_t i = 0; i < len; i++) {
            if (start[i] == '"' && osr_buf_putc(out, '"'))
                return OSR_ETOOBIG;
            if (osr_buf_putc(out, start[i]))
                return OSR_ETOOBIG;
        }
        if (osr_buf_putc(out, '"') || (prefix && osr_buf_putc(out, '*')))
            return OSR_ETOOBIG;
    }
    return OSR_OK;
}

void osr_history_hits_free(struct osr_history_hit *arr, size_t n)
{
    for (size_t i = 0; arr && i < n; i++)
        free(arr[i].snippet);
    free(arr);
}

int osr_history_search(struct osr_history *h, const char *query, size_t limit,
                       struct osr_history_hit **out, size_t *n, struct osr_diag *diag)
{
    *out = NULL;
    *n = 0;
    if (limit == 0 || limit > 1000)
        limit = 1000;
    struct osr_buf q;
    osr_buf_init(&q, 4096);
    if (fts_query(query ? query : "", &q)) {
        osr_buf_release(&q);
        return osr_diag_set(diag, OSR_ETOOBIG, "search query is too long");
    }
    if (q.len == 0) {
        osr_buf_release(&q);
        return OSR_OK;
    }
    sqlite3_stmt *st = NULL;
    int rc = osr_store_prepare(
        h->store,
        "SELECT m.session_id, m.seq, snippet(messages_fts, 0, '[', ']', '...', 16)"
        " FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid"
        " WHERE messages_fts MATCH ?1 ORDER BY rank LIMIT ?2",
        &st, diag);
    if (rc) {
        osr_buf_release(&q);
        return rc;
    }
    sqlite3_bind_text(st, 1, osr_buf_str(&q), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
    struct osr_history_hit *arr = osr_xcalloc(limit, sizeof(*arr));
    size_t got = 0;
    int src = SQLITE_DONE;
    while (got < limit && (src = sqlite3_step(st)) == SQLITE_ROW) {
        col_copy(st, 0, arr[got].session_id, sizeof(arr[got].session_id));
        arr[got].seq = sqlite3_column_int64(st, 1);
        arr[got].snippet = col_dup(st, 2);
        if (!arr[got].snippet)
            arr[got].snippet = osr_xstrdup("");
        got++;
    }
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        rc = osr_store_error(h->store, src, "cannot search", diag);
    sqlite3_finalize(st);
    osr_buf_release(&q);
    if (rc) {
        osr_history_hits_free(arr, got);
        return rc;
    }
    *out = arr;
    *n = got;
    return OSR_OK;
}

int osr_history_response_put(struct osr_history *h, const struct osr_history_response *r,
                             struct osr_diag *diag)
{
    if (!valid_id(r->id))
        return osr_diag_set(diag, OSR_EINVAL, "response id must be 1 to %d printable characters",
                            OSR_HISTORY_ID_MAX - 1);
    struct json_object *a = NULL, *b = NULL;
    int rc = parse_field(r->input ? r->input : "null", "input", &a, diag);
    if (!rc)
        rc = parse_field(r->output ? r->output : "null", "output", &b, diag);
    if (a)
        json_object_put(a);
    if (b)
        json_object_put(b);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    rc = osr_store_prepare(h->store,
                           "INSERT INTO responses(id, previous_id, session_id, model, input,"
                           " output, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                           &st, diag);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_TRANSIENT);
    bind_opt(st, 2, r->previous_id);
    bind_opt(st, 3, r->session_id);
    bind_opt(st, 4, r->model);
    sqlite3_bind_text(st, 5, r->input ? r->input : "null", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 6, r->output ? r->output : "null", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 7, r->created_ms ? r->created_ms : osr_wall_ms());
    rc = osr_store_step_done(h->store, st, diag);
    sqlite3_finalize(st);
    if (rc == OSR_EEXIST)
        rc = osr_diag_set(diag, OSR_EEXIST,
                          "response '%s' already exists, or its session is unknown", r->id);
    return rc;
}

void osr_history_response_release(struct osr_history_response *r)
{
    if (!r)
        return;
    free(r->id);
    free(r->previous_id);
    free(r->session_id);
    free(r->model);
    free(r->input);
    free(r->output);
    memset(r, 0, sizeof(*r));
}

void osr_history_responses_free(struct osr_history_response *arr, size_t n)
{
    for (size_t i = 0; arr && i < n; i++)
        osr_history_response_release(&arr[i]);
    free(arr);
}

int osr_history_response_get(struct osr_history *h, const char *id,
                             struct osr_history_response *out, struct osr_diag *diag)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *st = NULL;
    int rc = osr_store_prepare(h->store,
                               "SELECT id, previous_id, session_id, model, input, output,"
                               " created_at FROM responses WHERE id = ?1",
                               &st, diag);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        out->id = col_dup(st, 0);
        out->previous_id = col_dup(st, 1);
        out->session_id = col_dup(st, 2);
        out->model = col_dup(st, 3);
        out->input = col_dup(st, 4);
        out->output = col_dup(st, 5);
        out->created_ms = sqlite3_column_int64(st, 6);
    } else if (src == SQLITE_DONE) {
        rc = osr_diag_set(diag, OSR_ENOTFOUND, "previous response '%s' not found", id);
    } else {
        rc = osr_store_error(h->store, src, "cannot read", diag);
    }
    sqlite3_finalize(st);
    return rc;
}

int osr_history_response_chain(struct osr_history *h, const char *id,
                               struct osr_history_response **out, size_t *n, struct osr_diag *diag)
{
    *out = NULL;
    *n = 0;
    size_t cap = 8, got = 0;
    struct osr_history_response *arr = osr_xcalloc(cap, sizeof(*arr));
    int rc = OSR_OK;
    char *next = osr_xstrdup(id);
    while (next) {
        if (got == OSR_HISTORY_CHAIN_MAX) {
            rc = osr_diag_set(diag, OSR_ECORRUPT,
                              "response chain from '%s' is longer than %d (a cycle?)", id,
                              OSR_HISTORY_CHAIN_MAX);
            break;
        }
        for (size_t i = 0; i < got; i++) {
            if (strcmp(arr[i].id, next) == 0) {
                rc = osr_diag_set(diag, OSR_ECORRUPT, "response chain from '%s' loops at '%s'", id,
                                  next);
                break;
            }
        }
        if (rc)
            break;
        if (got == cap) {
            cap *= 2;
            arr = osr_xrealloc(arr, cap * sizeof(*arr));
        }
        rc = osr_history_response_get(h, next, &arr[got], diag);
        if (rc)
            break;
        free(next);
        next = arr[got].previous_id ? osr_xstrdup(arr[got].previous_id) : NULL;
        got++;
    }
    free(next);
    if (rc) {
        osr_history_responses_free(arr, got);
        return rc;
    }
    /* Oldest first. */
    for (size_t i = 0; i < got / 2; i++) {
        struct osr_history_response t = arr[i];
        arr[i] = arr[got - 1 - i];
        arr[got - 1 - i] = t;
    }
    *out = arr;
    *n = got;
    return OSR_OK;
}
