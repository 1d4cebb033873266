/* provider_internal.h - what the per-protocol upstream translators share with provider.c:
 * the stream state that turns upstream frames into canonical events, and small JSON readers.
 *
 * Each translator (openai.c, anthropic.c, responses.c, gemini.c, ollama.c) supplies a
 * struct upstream_proto: how to write the request body and URL, and how to read one SSE event
 * or NDJSON line of the answer.  provider.c does the I/O.
 */
#ifndef OSR_PROVIDER_INTERNAL_H
#define OSR_PROVIDER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "osr/buf.h"
#include "osr/chat.h"
#include "osr/provider.h"
#include "osr/sse.h"
#include "osr/stopmatch.h"

#define UP_MAX_CALLS 128
#define UP_MAX_ERROR_BODY ((size_t)64 * 1024)
#define UP_MAX_REQUEST_BODY ((size_t)256 * 1024 * 1024)
#define UP_MAX_JSON_BODY ((size_t)64 * 1024 * 1024)

/* Where one upstream answer stands. */
struct up_state {
    struct osr_sink *sink;
    const char *provider_id;
    bool role_sent;
    bool done; /* FINISH or ERROR emitted */
    bool gone; /* the sink's consumer went away */
    bool cut;  /* done, and the upstream must be cut off (a local stop string, an error)
                * rather than read to its end */
    bool finish_seen;
    enum osr_finish finish;
    char stop_seq[256];
    int n_calls;
    int open_call; /* index of the call whose arguments are streaming, -1 none */
    /* Upstream call keys (index or output_index) mapped to our indexes. */
    long call_keys[UP_MAX_CALLS];
    bool args_seen[UP_MAX_CALLS]; /* a call got argument text */
    struct osr_usage usage;
    bool has_usage;
    /* Scratch for translators (Anthropic: the content block kinds by index). */
    int block_kind[UP_MAX_CALLS];
    int block_call[UP_MAX_CALLS];
    /* The client's stop strings, matched here on the answer's text (see up_state_stops). */
    struct osr_stopmatch stop;
    /* A prompt token count known before the upstream reports one (the provider's memo of
     * earlier answers), sent as USAGE right after ROLE; -1 none. */
    int64_t early_prompt;
};

void up_state_init(struct up_state *st, struct osr_sink *sink, const char *provider_id);
/* Matches stops (borrowed until up_state_release) on the text of the answer: the text is cut
 * before the first one, the stream finishes as STOP_SEQUENCE naming it, and the translator's
 * callbacks are told to stop (st->done).  Text that may begin a stop string is held back
 * until the next text decides (and sent before any other event). */
void up_state_stops(struct up_state *st, const char *const *stops, size_t n);
void up_state_release(struct up_state *st);

/* Each returns non-zero when the consumer is gone (st->gone is then set). */
int up_role(struct up_state *st);
int up_text(struct up_state *st, const char *s, size_t n);
int up_reasoning(struct up_state *st, const char *s, size_t n);
/* Opens call number key (an upstream index); returns our index in *index.  A key seen before
 * returns the same index without a new START. */
int up_call_start(struct up_state *st, long key, const char *id, const char *name, int *index);
/* Our index of upstream key, or -1. */
int up_call_index(const struct up_state *st, long key);
int up_call_args(struct up_state *st, int index, const char *s, size_t n);
/* Records the finish reason (the FINISH event goes out at the end, after usage). */
void up_set_finish(struct up_state *st, enum osr_finish f, const char *stop_seq);
void up_set_usage(struct up_state *st, int64_t prompt, int64_t completion);
/* Emits the usage known so far as a USAGE event now (it is sent again at the end). */
int up_usage_now(struct up_state *st);
/* Emits USAGE (when known) and FINISH; no-op once done. */
int up_finish(struct up_state *st);
/* Emits ERROR (no-op once done). */
int up_error(struct up_state *st, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* JSON readers: NULL / 0 / false when absent or of another type. */
struct json_object *jget(struct json_object *o, const char *key);
const char *jstr(struct json_object *o, const char *key);
bool jint(struct json_object *o, const char *key, int64_t *out);

/* Parses the n bytes at s; NULL when not JSON. */
struct json_object *jparse(const char *s, size_t n);

/* The JSON object for a tool call's argument text: the parsed object, or {} when the text is
 * not an object.  The caller puts it. */
struct json_object *up_args_object(struct osr_str args);

/* Text of a message's TEXT parts joined with "\n" (appended to out). */
int up_message_text(const struct osr_message *m, struct osr_buf *out);

/* A string object of an image as a URL: the remote URL, or a data: URL of its bytes.  NULL
 * when the image is too large. */
struct json_object *up_image_url(const struct osr_image *img);
/* The base64 text of the image's bytes as a new string object, or NULL. */
struct json_object *up_image_base64(const struct osr_image *img);

/* The thinking budget in tokens for the reasoning the client asked for (reasoning_effort
 * low/medium/high, or Ollama think): 0 when none was asked for. */
int64_t up_reasoning_budget(const struct osr_chat_request *req);

/* Serializes obj into out and puts obj.  Returns OSR_OK or OSR_ETOOBIG. */
int up_emit_json(struct json_object *obj, struct osr_buf *out);

/* Extracts a readable message from an upstream error body (error.message, error as a string,
 * message, detail...), else the body itself (truncated). */
void up_error_message(const char *body, size_t n, char *out, size_t cap);

struct upstream_proto {
    bool ndjson;
    /* Appends the URL after the base URL ("/chat/completions") for model. */
    int (*url)(const struct osr_provider *p, const char *model, struct osr_buf *out);
    /* Writes the request body for model. */
    int (*encode)(const struct osr_chat_request *req, const char *model, struct osr_buf *out);
    int (*on_event)(struct up_state *st, const struct osr_sse_event *ev);
    int (*on_line)(struct up_state *st, const char *line, size_t n);
    /* Optional: the whole answer when the server sent one JSON body instead of a stream
     * (it ignored "stream": true).  Emits every event, FINISH included. */
    int (*on_body)(struct up_state *st, const char *body, size_t n);
    /* The stream ended (upstream closed it): emit FINISH or an error.  NULL: up_finish when a
     * finish was seen, else an "ended early" error. */
    int (*at_end)(struct up_state *st);
    /* The upstream names the stop string it stopped on (Anthropic's stop_sequence): the
     * client's stop strings are sent to it.  Otherwise they are matched here only, because
     * its "stop" cannot tell a stop string from the natural end (and OpenAI takes 4 at most). */
    bool reports_stop_sequence;
    /* The upstream reports the prompt's token count before the answer (Anthropic's
     * message_start); otherwise only at the end. */
    bool early_usage;
};

/* Prompt token counts an upstream reported before (prompt_memo.c): thread-safe. */
#define UP_MEMO_SLOTS 256
#define UP_MEMO_KEY_LEN 32

struct up_memo {
    pthread_mutex_t mu;
    struct {
        unsigned char key[UP_MEMO_KEY_LEN];
        int64_t tokens;
        uint64_t used;      /* 0: empty; else the tick of the last use */
    } slots[UP_MEMO_SLOTS]; /* guarded by mu */
    uint64_t tick;          /* guarded by mu */
};

void up_memo_init(struct up_memo *m);
void up_memo_release(struct up_memo *m);
/* The key of req's prompt for model as proto would send it.  False when the prompt is too
 * large to remember or cannot be encoded. */
bool up_memo_key(const struct upstream_proto *proto, const struct osr_chat_request *req,
                 const char *model, unsigned char key[UP_MEMO_KEY_LEN]);
/* True, with *tokens, when the prompt was counted before. */
bool up_memo_get(struct up_memo *m, const unsigned char key[UP_MEMO_KEY_LEN], int64_t *tokens);
void up_memo_put(struct up_memo *m, const unsigned char key[UP_MEMO_KEY_LEN], int64_t tokens);

extern const struct upstream_proto osr_up_openai;
extern const struct upstream_proto osr_up_anthropic;
extern const struct upstream_proto osr_up_responses;
extern const struct upstream_proto osr_up_gemini;
extern const struct upstream_proto osr_up_ollama;

#endif
