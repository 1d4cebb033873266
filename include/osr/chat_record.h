/* chat_record.h - writes finished chat requests into the chat history.
 *
 * A recorder is a sink that passes every event on unchanged and remembers the answer: its
 * text, reasoning, tool calls and usage.  When the request has ended well, osr_chat_record_save
 * writes it to the history as the original keeps HTTP conversations: a session tagged "http"
 * (the request's session_id when it has one, so a conversation continued under the same id
 * grows one session), the request's messages (for a new session all of them; for a known
 * session only the newest turn, since clients resend the whole conversation) and the
 * assistant's answer with its usage.
 *
 * Thread rules: a recorder belongs to the producer thread of its request.
 */
#ifndef OSR_CHAT_RECORD_H
#define OSR_CHAT_RECORD_H

#include <stdbool.h>

#include "osr/buf.h"
#include "osr/chat.h"
#include "osr/history.h"

#define OSR_CHAT_RECORD_MAX_CALLS 64

struct osr_chat_record_call {
    char id[128];
    char name[128];
    struct osr_buf args;
};

struct osr_chat_recorder {
    struct osr_sink sink; /* give this to the producer */
    struct osr_sink *inner;
    struct osr_buf text;
    struct osr_chat_record_call calls[OSR_CHAT_RECORD_MAX_CALLS];
    int n_calls;
    struct osr_usage usage;
    bool finished; /* a FINISH event passed */
    bool failed;   /* an ERROR event passed */
};

/* Starts a recorder in front of inner (borrowed). */
void osr_chat_record_init(struct osr_chat_recorder *r, struct osr_sink *inner);
void osr_chat_record_release(struct osr_chat_recorder *r);

/* Saves the finished exchange (nothing when it did not finish or failed).  history is used
 * by this thread only for the call's duration.  Returns OSR_OK or the history's error. */
int osr_chat_record_save(struct osr_chat_recorder *r, struct osr_history *history,
                         const struct osr_chat_request *req, struct osr_diag *diag);

/* Writes a whole conversation (an agent run's, whose answers are already messages of req) to
 * the history: a new session (id req->session_id when set; tagged agent and source; titled
 * with the first user message) gets every message but the system ones; a known session gets
 * the messages from the last one of the n_before (the count of messages other than system
 * ones before the run, so the user's newest message) on.  Returns OSR_OK or the history's error. */
int osr_chat_record_conversation(struct osr_history *history, const struct osr_chat_request *req,
                                 size_t n_before, const char *agent,
                                 enum osr_history_source source, struct osr_diag *diag);

#endif
