/* history.h - chat history: sessions, messages, stored OpenAI Responses and full-text search,
 * in <home>/chat-history/history.sqlite with large attachments in chat-history/blobs/.
 *
 * Messages keep their content parts as JSON.  A non-text part whose JSON is 16 KB or more is
 * spilled to a content-addressed blob (an .osec file when the database is encrypted) and the
 * row keeps {"ref":"<sha256>"} in its place; reads put the part back unless asked not to.
 * Message text (a string content, or the "text" of text parts) is indexed with FTS5; triggers
 * keep the index in step with inserts, updates and deletes.
 *
 * Thread rules: a struct osr_history belongs to one thread at a time.  Several processes may
 * open the same history (WAL mode; writers wait up to the busy timeout).
 */
#ifndef OSR_HISTORY_H
#define OSR_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osr/err.h"
#include "osr/store.h"

#define OSR_HISTORY_PATH "chat-history/history.sqlite"
#define OSR_HISTORY_BLOBS "chat-history/blobs"
#define OSR_HISTORY_ID_MAX 128           /* session and response ids, bytes including the NUL */
#define OSR_HISTORY_JSON_MAX (64u << 20) /* one message's content, tool calls or usage */
#define OSR_HISTORY_CHAIN_MAX 1000       /* previous_response_id hops followed at most */

enum osr_history_source {
    OSR_HISTORY_CHAT,
    OSR_HISTORY_HTTP,
    OSR_HISTORY_PLUGIN,
    OSR_HISTORY_SCHEDULE,
    OSR_HISTORY_WATCHER,
};

const char *osr_history_source_name(enum osr_history_source s);
/* Returns OSR_OK, or OSR_EINVAL for a name that is not one of the five tags. */
int osr_history_source_parse(const char *name, enum osr_history_source *out);

struct osr_history;

/* Opens (creating and migrating) the history database of home.  keys is borrowed for the
 * duration of the call and copied when the database is encrypted (blobs are sealed with it).
 * encrypt_new: create a missing database encrypted.  Errors as osr_store_open. */
int osr_history_open(struct osr_history **out, const char *home, const struct osr_store_keys *keys,
                     bool encrypt_new, struct osr_diag *diag);
void osr_history_close(struct osr_history *h);
/* The database underneath, valid until osr_history_close. */
struct osr_store *osr_history_store(struct osr_history *h);

/* The schema, for tools that open the database themselves (maintenance, tests). */
extern const struct osr_store_migration osr_history_migrations[];
extern const size_t osr_history_n_migrations;

struct osr_history_session {
    char id[OSR_HISTORY_ID_MAX];
    char *title; /* owned; never NULL */
    char *agent; /* owned; NULL when none */
    char *model; /* owned; NULL when none */
    enum osr_history_source source;
    int64_t created_ms;
    int64_t updated_ms;
    int64_t n_messages;
};

void osr_history_session_release(struct osr_history_session *s);
/* Releases and frees an array from osr_history_session_list. */
void osr_history_sessions_free(struct osr_history_session *arr, size_t n);

/* Creates a session.  id may be NULL (a UUID is made) or a caller's id (printable ASCII, at
 * most OSR_HISTORY_ID_MAX - 1 bytes; OSR_EEXIST when taken).  title/agent/model are borrowed
 * and may be NULL.  The id is written to id_out. */
int osr_history_session_create(struct osr_history *h, const char *id, const char *title,
                               const char *agent, const char *model, enum osr_history_source source,
                               char id_out[OSR_HISTORY_ID_MAX], struct osr_diag *diag);
/* Fills *out (release with osr_history_session_release).  OSR_ENOTFOUND when unknown. */
int osr_history_session_get(struct osr_history *h, const char *id, struct osr_history_session *out,
                            struct osr_diag *diag);
/* Most recently updated first.  *out is a heap array (free with osr_history_sessions_free). */
int osr_history_session_list(struct osr_history *h, size_t limit, size_t offset,
                             struct osr_history_session **out, size_t *n, struct osr_diag *diag);
int osr_history_session_set_title(struct osr_history *h, const char *id, const char *title,
                                  struct osr_diag *diag);
/* Deletes the session and its messages (and their index entries).  Blobs stay: they are
 * content addressed and may be shared.  OSR_ENOTFOUND when unknown. */
int osr_history_session_delete(struct osr_history *h, const char *id, struct osr_diag *diag);

struct osr_history_message {
    int64_t seq;        /* 1, 2, ... within the session */
    char *role;         /* "system", "user", "assistant", "tool" */
    char *content;      /* JSON: a string or an array of content parts */
    char *tool_calls;   /* JSON array, or NULL */
    char *tool_call_id; /* or NULL */
    char *usage;        /* JSON object, or NULL */
    int64_t created_ms;
};

/* Appends a message to a session (m->seq and m->created_ms are ignored; fields are
 * borrowed).  JSON fields are validated (OSR_EINVAL names the field).  Returns the new seq
 * in *seq_out when non-NULL.  OSR_ENOTFOUND for an unknown session. */
int osr_history_message_append(struct osr_history *h, const char *session_id,
                               const struct osr_history_message *m, int64_t *seq_out,
                               struct osr_diag *diag);
/* All messages of a session in order.  With resolve_blobs, {"ref":...} parts are replaced by
 * the stored part.  *out is a heap array freed with osr_history_messages_free. */
int osr_history_messages_get(struct osr_history *h, const char *session_id, bool resolve_blobs,
                             struct osr_history_message **out, size_t *n, struct osr_diag *diag);
void osr_history_messages_free(struct osr_history_message *arr, size_t n);

struct osr_history_hit {
    char session_id[OSR_HISTORY_ID_MAX];
    int64_t seq;
    char *snippet; /* owned; the match marked with [ and ] */
};

/* Full-text search over message text.  query is plain words (every word must match, prefix
 * matching with a trailing '*'); FTS5 syntax characters are neutralized.  Best match first.
 * *out is a heap array freed with osr_history_hits_free. */
int osr_history_search(struct osr_history *h, const char *query, size_t limit,
                       struct osr_history_hit **out, size_t *n, struct osr_diag *diag);
void osr_history_hits_free(struct osr_history_hit *arr, size_t n);

struct osr_history_response {
    char *id;          /* "resp_..." */
    char *previous_id; /* or NULL */
    char *session_id;  /* or NULL */
    char *model;       /* or NULL */
    char *input;       /* JSON */
    char *output;      /* JSON */
    int64_t created_ms;
};

/* Stores a response (fields borrowed; created_ms 0 means now).  OSR_EEXIST if the id is
 * taken. */
int osr_history_response_put(struct osr_history *h, const struct osr_history_response *r,
                             struct osr_diag *diag);
/* Fills *out (release with osr_history_response_release).  OSR_ENOTFOUND when unknown. */
int osr_history_response_get(struct osr_history *h, const char *id,
                             struct osr_history_response *out, struct osr_diag *diag);
void osr_history_response_release(struct osr_history_response *r);
/* Follows previous_id from id back to the first response and returns the chain oldest
 * first (a heap array freed with osr_history_responses_free).  OSR_ENOTFOUND names the first
 * id that is missing; OSR_ECORRUPT on a cycle or a chain longer than OSR_HISTORY_CHAIN_MAX. */
int osr_history_response_chain(struct osr_history *h, const char *id,
                               struct osr_history_response **out, size_t *n, struct osr_diag *diag);
void osr_history_responses_free(struct osr_history_response *arr, size_t n);

#endif
