/* chat.h - the canonical chat model: one request shape, one event stream, one sink.
 *
 * Everything that talks to a model goes through these types.  A protocol decoder (src/api)
 * turns an OpenAI, Anthropic, Responses or Ollama body into a struct osr_chat_request; a
 * backend answers with a sequence of struct osr_event handed to a struct osr_sink; a protocol
 * encoder turns those events back into wire frames.
 *
 * Memory: everything a request points to lives in the request's own arena, or (for JSON
 * values such as tool schemas) in json-c objects the request holds a reference to, so
 * osr_chat_request_release frees it all in one call.  Strings are NUL-terminated; text that
 * may hold NUL bytes is a struct osr_str whose bytes are NUL-terminated as well.
 *
 * Thread rules: a request belongs to one thread at a time (it may be handed over).  An event
 * is borrowed by the sink for the duration of emit only.
 */
#ifndef OSR_CHAT_H
#define OSR_CHAT_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "osr/arena.h"
#include "osr/buf.h"
#include "osr/err.h"
#include "osr/str.h"

/* Caps a decoder enforces on untrusted requests. */
#define OSR_CHAT_ARENA_MAX ((size_t)128 * 1024 * 1024)
#define OSR_CHAT_MAX_MESSAGES 100000
#define OSR_CHAT_MAX_PARTS 4096 /* per message */
#define OSR_CHAT_MAX_TOOLS 1024
#define OSR_CHAT_MAX_STOP 16

enum osr_role {
    OSR_ROLE_SYSTEM,
    OSR_ROLE_DEVELOPER,
    OSR_ROLE_USER,
    OSR_ROLE_ASSISTANT,
    OSR_ROLE_TOOL,
};

enum osr_part_kind {
    OSR_PART_TEXT,        /* text */
    OSR_PART_IMAGE,       /* image */
    OSR_PART_TOOL_CALL,   /* call: an assistant's request to run a tool */
    OSR_PART_TOOL_RESULT, /* result + text: what the tool answered */
    OSR_PART_REASONING,   /* text: an assistant's earlier reasoning ("thinking") */
};

struct osr_image {
    const char *url;           /* a remote URL (http/https), or NULL when data is set */
    const unsigned char *data; /* decoded bytes of a data URL or base64 payload */
    size_t len;
    const char *mime;   /* "image/png", ...; NULL when unknown */
    const char *detail; /* OpenAI "detail" (auto|low|high) or NULL */
};

struct osr_tool_call {
    const char *id; /* never NULL ("" when the client gave none) */
    const char *name;
    struct osr_str arguments; /* JSON text of the arguments object */
};

struct osr_tool_result {
    const char *call_id; /* never NULL ("" when the client gave none, as Ollama does) */
    const char *name;    /* tool name when the protocol gives one (Ollama tool_name), or NULL */
    bool is_error;       /* Anthropic is_error */
};

struct osr_part {
    enum osr_part_kind kind;
    struct osr_str text; /* TEXT, REASONING and TOOL_RESULT content */
    struct osr_image image;
    struct osr_tool_call call;
    struct osr_tool_result result;
};

struct osr_message {
    enum osr_role role;
    const char *name; /* OpenAI participant "name", or NULL */
    struct osr_part *parts;
    size_t n_parts;
    size_t cap_parts;
};

struct osr_tool {
    const char *name;
    const char *description;        /* or NULL */
    struct json_object *parameters; /* JSON Schema object, held by the request; or NULL */
    bool strict;
};

enum osr_tool_choice {
    OSR_TOOL_CHOICE_AUTO, /* the default */
    OSR_TOOL_CHOICE_NONE,
    OSR_TOOL_CHOICE_REQUIRED,
    OSR_TOOL_CHOICE_NAMED, /* tool_choice_name must be called */
};

enum osr_format_kind {
    OSR_FORMAT_TEXT,
    OSR_FORMAT_JSON_OBJECT,
    OSR_FORMAT_JSON_SCHEMA,
};

struct osr_response_format {
    enum osr_format_kind kind;
    const char *name;           /* json_schema name, or NULL */
    struct json_object *schema; /* JSON_SCHEMA only; held by the request */
    bool strict;
};

/* Sampling settings.  Doubles are NAN when unset (test with isnan); integers are 0 when unset
 * unless a has_ flag says otherwise. */
struct osr_sampling {
    double temperature;
    double top_p;
    double min_p;
    double presence_penalty;
    double frequency_penalty;
    double repeat_penalty;
    int64_t top_k;
    int64_t repeat_last_n;
    int64_t max_tokens; /* completion budget */
    bool has_seed;
    int64_t seed;
    const char **stop; /* n_stop strings, each non-empty */
    size_t n_stop;
};

enum osr_source {
    OSR_SOURCE_HTTP, /* an API client */
    OSR_SOURCE_CHAT, /* the web UI or terminal chat */
    OSR_SOURCE_PLUGIN,
    OSR_SOURCE_SCHEDULE,
    OSR_SOURCE_WATCHER,
};

/* Settings only some protocols carry; backends may use or ignore them. */
struct osr_chat_extras {
    int think;                         /* -1 unset, 0 off, 1 on (Ollama think, reasoning) */
    const char *reasoning_effort;      /* "low", "medium", "high", ... or NULL */
    bool raw;                          /* Ollama generate: no chat template */
    const char *suffix;                /* Ollama generate: text after the insertion point */
    const char *keep_alive;            /* Ollama: "5m", "0", "-1", ... as given, or NULL */
    int64_t num_ctx;                   /* Ollama options.num_ctx, 0 when unset */
    const char *template_override;     /* Ollama "template", or NULL */
    const char *previous_response_id;  /* Responses: chain onto a stored response */
    const char *instructions;          /* Responses "instructions" (also a system message) */
    int store;                         /* Responses "store": -1 unset, 0, 1 */
    struct json_object *model_options; /* Osaurus "modelOptions", held; or NULL */
};

struct osr_chat_request {
    struct osr_arena arena;   /* owns every string and array below */
    struct json_object *held; /* json-c values the request keeps alive (an array) */

    const char *model; /* never NULL after a successful decode */
    struct osr_message *messages;
    size_t n_messages;
    size_t cap_messages;

    struct osr_tool *tools;
    size_t n_tools;
    size_t cap_tools;
    enum osr_tool_choice tool_choice;
    const char *tool_choice_name; /* NAMED only */
    bool parallel_tool_calls;     /* default true */

    struct osr_sampling sampling;
    struct osr_response_format format;

    bool stream;
    bool include_usage; /* OpenAI stream_options.include_usage */
    const char *session_id;
    const char *cache_hint;
    const char *user;             /* OpenAI "user", Anthropic metadata.user_id */
    struct json_object *metadata; /* held; or NULL */
    enum osr_source source;
    struct osr_chat_extras x;
    /* OpenAI Chat "logprobs" / "top_logprobs": the producer reports, for every generated
     * token, its log-probability and those of the top_logprobs (0..OSR_LOGPROBS_TOP_MAX) most
     * likely tokens as OSR_EV_LOGPROBS events.  Backends that cannot ignore it. */
    bool logprobs;
    int top_logprobs;
};

/* Initializes an empty request whose arena may grow to arena_max bytes.  Sampling values start
 * unset, tool_choice AUTO, parallel tool calls on, source HTTP. */
void osr_chat_request_init(struct osr_chat_request *req, size_t arena_max);

/* Frees everything the request owns; the struct may be initialized again. */
void osr_chat_request_release(struct osr_chat_request *req);

/* Takes ownership of one reference to obj: it stays alive until the request is released.
 * Returns obj (NULL stays NULL). */
struct json_object *osr_chat_request_hold(struct osr_chat_request *req, struct json_object *obj);

/* Copies n bytes at s into the request's arena.  Returns the NUL-terminated copy, or NULL when
 * the arena cap is reached. */
char *osr_chat_request_strndup(struct osr_chat_request *req, const char *s, size_t n);

/* Appends an empty message.  Returns it (valid until the next add_message or the release), or
 * NULL when the cap or the arena cap is reached. */
struct osr_message *osr_chat_request_add_message(struct osr_chat_request *req, enum osr_role role);

/* Appends a zeroed part of the given kind to msg, whose arena is req's.  Returns it (valid until
 * the next add_part on msg), or NULL past the caps. */
struct osr_part *osr_chat_message_add_part(struct osr_chat_request *req, struct osr_message *msg,
                                           enum osr_part_kind kind);

/* Convenience: appends a text part copying n bytes at s.  Returns OSR_OK or OSR_ETOOBIG. */
int osr_chat_message_add_text(struct osr_chat_request *req, struct osr_message *msg, const char *s,
                              size_t n);

/* Appends a tool.  Returns it, or NULL past the caps. */
struct osr_tool *osr_chat_request_add_tool(struct osr_chat_request *req);

/* Returns the first tool named name, or NULL. */
const struct osr_tool *osr_chat_request_find_tool(const struct osr_chat_request *req,
                                                  const char *name);

/* Appends a stable JSON description of the request to out (for tests, logs and the fuzzer):
 * every field that is set, in a fixed order, image bytes as their length.  Returns OSR_OK or
 * OSR_ETOOBIG. */
int osr_chat_request_dump(const struct osr_chat_request *req, struct osr_buf *out);

const char *osr_chat_role_name(enum osr_role role);

/* ---------------------------------------------------------------- events */

enum osr_event_kind {
    OSR_EV_ROLE,                 /* the answer begins (role assistant) */
    OSR_EV_TEXT_DELTA,           /* text */
    OSR_EV_REASONING_DELTA,      /* text */
    OSR_EV_TOOL_CALL_START,      /* index, id, name */
    OSR_EV_TOOL_CALL_ARGS_DELTA, /* index, text (a fragment of the arguments' JSON text) */
    OSR_EV_FINISH,               /* finish, text = the matched stop sequence (STOP_SEQUENCE) */
    OSR_EV_USAGE,                /* usage */
    OSR_EV_ERROR,                /* status, text = message */
    /* Agent extensions; protocol encoders that have no frame for them skip them. */
    OSR_EV_TOOL_STARTED,     /* id, name, text = arguments */
    OSR_EV_TOOL_DONE,        /* id, name, text = result envelope, is_error, duration_ms */
    OSR_EV_TODO,             /* text = {"markdown":..,"items":[{"text","done"}]} */
    OSR_EV_PREFILL_PROGRESS, /* progress in [0, 1] */
    OSR_EV_ARTIFACT,         /* name = file name, id = path under home, text = description */
    /* logprobs: one generated token's log-probability and the most likely alternatives
     * (only when the request asked for logprobs); comes before the delta holding that
     * token's text.  Encoders without a field for it skip it. */
    OSR_EV_LOGPROBS,
};

enum osr_finish {
    OSR_FINISH_STOP,
    OSR_FINISH_LENGTH,
    OSR_FINISH_TOOL_CALLS,
    OSR_FINISH_CANCELLED,
    OSR_FINISH_ERROR,
    OSR_FINISH_STOP_SEQUENCE, /* stopped on a client stop string; event text names it */
};

struct osr_usage {
    int64_t prompt_tokens;     /* -1 when unknown */
    int64_t completion_tokens; /* -1 when unknown */
    int64_t cached_tokens;     /* prompt tokens served from a cache; 0 when unknown */
    int64_t reasoning_tokens;  /* part of completion_tokens; 0 when unknown */
    /* Timings in nanoseconds, 0 when unknown (Ollama reports them). */
    int64_t total_ns;
    int64_t load_ns;
    int64_t prompt_ns;
    int64_t eval_ns;
};

#define OSR_LOGPROBS_TOP_MAX 20

/* One token and its natural-log probability (<= 0) under the model's distribution at
 * temperature 1, before any sampling filter. */
struct osr_token_logprob {
    struct osr_str token; /* the token's bytes, special tokens as nothing; may be part of a
                           * multi-byte UTF-8 character */
    double logprob;       /* may be -INFINITY for a banned token; encoders clamp it */
};

/* The payload of OSR_EV_LOGPROBS. */
struct osr_logprobs {
    struct osr_token_logprob chosen;                         /* the token generated */
    struct osr_token_logprob top[OSR_LOGPROBS_TOP_MAX]; /* most likely first */
    int n_top;                                               /* 0 .. OSR_LOGPROBS_TOP_MAX */
};

/* One event.  All pointers are borrowed and valid only during the emit call.
 *
 * Order a producer follows: ROLE, then any mix of deltas (TOOL_CALL_START before the
 * TOOL_CALL_ARGS_DELTA of the same index; indexes count from 0 in order of appearance; a
 * call's arguments arrive before the next call or text starts, as streaming protocols such as
 * Anthropic's cannot reopen a closed block), then
 * FINISH; USAGE may come at any time (a producer that knows the prompt size early sends it
 * right after ROLE) and the last one counts.  ERROR ends the stream in place of FINISH. */
struct osr_event {
    enum osr_event_kind kind;
    struct osr_str text;
    int index;
    struct osr_str id;
    struct osr_str name;
    enum osr_finish finish;
    struct osr_usage usage;
    int status;    /* ERROR: the HTTP status it would have had (500 when unsure) */
    bool is_error; /* TOOL_DONE */
    int64_t duration_ms; /* TOOL_DONE */
    double progress;
    const struct osr_logprobs *logprobs; /* LOGPROBS */
};

const char *osr_event_kind_name(enum osr_event_kind kind);
const char *osr_finish_name(enum osr_finish finish);

/* A consumer of events.  emit returns 0 to go on, non-zero when the consumer is gone (the
 * client disconnected, a cap was hit): the producer must stop work at once and not emit again.
 * Thread rules: emit is called from the producer's thread, one call at a time. */
struct osr_sink {
    int (*emit)(struct osr_sink *sink, const struct osr_event *ev);
    void *ctx;
};

static inline int osr_sink_emit(struct osr_sink *sink, const struct osr_event *ev)
{
    return sink->emit(sink, ev);
}

/* Convenience emitters; each builds the event and returns what emit returned. */
int osr_sink_role(struct osr_sink *sink);
int osr_sink_text(struct osr_sink *sink, const char *s, size_t n);
int osr_sink_reasoning(struct osr_sink *sink, const char *s, size_t n);
int osr_sink_tool_start(struct osr_sink *sink, int index, const char *id, const char *name);
int osr_sink_tool_args(struct osr_sink *sink, int index, const char *s, size_t n);
int osr_sink_finish(struct osr_sink *sink, enum osr_finish finish, const char *stop_seq);
int osr_sink_usage(struct osr_sink *sink, const struct osr_usage *usage);
int osr_sink_error(struct osr_sink *sink, int status, const char *message);
int osr_sink_logprobs(struct osr_sink *sink, const struct osr_logprobs *lp);

/* Returns a usage with every count unknown (-1) and every timing 0. */
struct osr_usage osr_usage_unknown(void);

#endif
