/* api_internal.h - helpers shared by the protocol translators in src/api (not a public API).
 *
 * Decoding helpers read one field of a json-c object, check its type and range, copy strings
 * into the request's arena, and on failure fill a struct osr_api_error whose param is the
 * field's full path ("messages[2].content[0].text").  The encoder core keeps what every
 * protocol needs (accumulated text, reasoning, tool calls, finish, usage) and dispatches to a
 * per-protocol table of functions.
 */
#ifndef OSR_API_INTERNAL_H
#define OSR_API_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "osr/api.h"
#include "osr/buf.h"
#include "osr/chat.h"

#define API_PATH_MAX 64
#define API_MAX_TOOL_CALLS 128

/* ---------------------------------------------------------------- decoding */

/* Fills err and returns OSR_EINVAL (OSR_ETOOBIG for status 413). */
int osr_api_fail(struct osr_api_error *err, int status, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes "<where>.<key>" (or key alone when where is empty) into out. */
void osr_api_path(char out[API_PATH_MAX], const char *where, const char *key);
/* Writes "<where>[i]" into out. */
void osr_api_path_index(char out[API_PATH_MAX], const char *where, size_t i);

/* Parses body as a JSON object; the root is held by req.  400 for bad JSON or a non-object. */
int osr_api_parse_body(struct osr_chat_request *req, const char *body, size_t n,
                       struct json_object **root, struct osr_api_error *err);

/* Looks key up; *val NULL when absent or JSON null. */
struct json_object *osr_api_field(struct json_object *obj, const char *key);

/* Typed optional/required getters.  Strings are copied into req's arena; *len may be NULL. */
int osr_api_get_str(struct osr_chat_request *req, struct osr_api_error *err,
                    struct json_object *obj, const char *where, const char *key, bool required,
                    const char **out, size_t *len);
int osr_api_get_double(struct osr_api_error *err, struct json_object *obj, const char *where,
                       const char *key, double min, double max, double *out);
int osr_api_get_int(struct osr_api_error *err, struct json_object *obj, const char *where,
                    const char *key, int64_t min, int64_t max, int64_t *out, bool *present);
int osr_api_get_bool(struct osr_api_error *err, struct json_object *obj, const char *where,
                     const char *key, bool *out, bool *present);
/* type: json_type_object or json_type_array. */
int osr_api_get_typed(struct osr_api_error *err, struct json_object *obj, const char *where,
                      const char *key, enum json_type type, bool required,
                      struct json_object **out);

/* Copies n bytes into req's arena; OSR_ETOOBIG (413) when it is full. */
int osr_api_copy(struct osr_chat_request *req, struct osr_api_error *err, const char *s, size_t n,
                 const char **out);

/* A string-valued JSON value, copied; 400 naming path when v is not a string. */
int osr_api_string_value(struct osr_chat_request *req, struct osr_api_error *err,
                         struct json_object *v, const char *path, struct osr_str *out);

/* Serializes any JSON value compactly into req's arena. */
int osr_api_json_text(struct osr_chat_request *req, struct osr_api_error *err,
                      struct json_object *v, struct osr_str *out);

/* Holds v (a new reference) in req and returns it. */
struct json_object *osr_api_hold(struct osr_chat_request *req, struct json_object *v);

/* Parses "stop": a string or an array of strings (empty strings are skipped). */
int osr_api_stop(struct osr_chat_request *req, struct osr_api_error *err, struct json_object *v,
                 const char *path);

/* Fills img from an image URL: a data URL ("data:image/png;base64,...") is decoded to bytes,
 * an http(s) URL is kept as it is; anything else is a 400. */
int osr_api_image_url(struct osr_chat_request *req, struct osr_api_error *err, const char *url,
                      size_t n, const char *path, struct osr_image *img);

/* Fills img from base64 data; mime may be NULL (then sniffed from the bytes). */
int osr_api_image_base64(struct osr_chat_request *req, struct osr_api_error *err, const char *b64,
                         size_t n, const char *mime, const char *path, struct osr_image *img);

/* Checks a function name: 1-64 of [A-Za-z0-9_-] (and '.', ':' which local models emit). */
bool osr_api_valid_tool_name(const char *s);

/* Checks that tool object t (at path) has "type":"function".  OSR_OK or a 400 in err. */
int osr_api_check_function_type(struct osr_chat_request *req, struct osr_api_error *err,
                                struct json_object *t, const char *path);

/* Reads a function definition - name, description, parameters, strict - from fn (at path:
 * OpenAI chat nests it under "function", Responses keeps it flat) into a new tool of req. */
int osr_api_decode_function(struct osr_chat_request *req, struct osr_api_error *err,
                            struct json_object *fn, const char *path);

/* Sets req->tool_choice from a NAMED choice after checking the tool exists. */
int osr_api_named_choice(struct osr_chat_request *req, struct osr_api_error *err, const char *name,
                         const char *path);


/* ---------------------------------------------------------------- encoding */

struct api_tool_acc {
    int index;
    char *id;
    char *name;
    char item_id[64]; /* Responses output item id */
    struct osr_buf args;
};

enum api_item_kind {
    API_ITEM_MESSAGE,
    API_ITEM_REASONING,
    API_ITEM_FUNCTION_CALL,
};

/* An output item of a Responses answer, in the order it opened. */
struct api_item {
    enum api_item_kind kind;
    int tool; /* tools[] slot of a function call */
    char id[64];
    struct osr_buf text; /* message / reasoning text of this item */
    bool done;
};

struct osr_api_encoder;

struct api_encoder_ops {
    const char *stream_type;
    const char *body_type;
    /* Streaming: one event (already accumulated in enc), and the closing frames. */
    int (*event)(struct osr_api_encoder *enc, const struct osr_event *ev, struct osr_buf *out);
    int (*stream_end)(struct osr_api_encoder *enc, struct osr_buf *out);
    /* Not streaming: the whole body (enc->failed: an error body). */
    int (*body)(struct osr_api_encoder *enc, struct osr_buf *out);
    /* true: event is called when not streaming too, with out NULL (to track items). */
    bool track;
};

enum api_block {
    API_BLOCK_NONE,
    API_BLOCK_TEXT,
    API_BLOCK_REASONING,
    API_BLOCK_TOOL,
};

struct osr_api_encoder {
    enum osr_api_proto proto;
    const struct api_encoder_ops *ops;
    char *model;
    bool stream;
    bool include_usage;
    int64_t now_ms;
    osr_api_id_fn make_id;
    void *id_ctx;
    const struct osr_chat_request *req;
    size_t max_text;

    char id[96];
    int status;
    bool ended;
    bool finished; /* FINISH seen */
    bool failed;   /* ERROR seen */
    enum osr_finish finish;
    char *stop_seq;
    char *error_msg;
    struct osr_usage usage;
    bool have_usage;

    struct osr_buf text;
    struct osr_buf reasoning;
    /* OpenAI Chat: LOGPROBS entries as comma-separated JSON objects, all of them (body) or
     * those not yet written (stream). */
    struct osr_buf logprobs;
    struct api_tool_acc tools[API_MAX_TOOL_CALLS];
    size_t n_tools;

    /* Streaming state, used as each protocol needs. */
    bool started;        /* the opening frames are out */
    enum api_block open; /* the open content block / output item */
    int open_tool;       /* tools[] slot of an open tool block */
    int block_index;     /* index of the open block (Anthropic) or output item (Responses) */
    int next_block;
    int64_t seq;            /* Responses sequence_number */
    struct api_item *items; /* Responses output items */
    size_t n_items;
    size_t cap_items;
};

/* Per-protocol tables. */
extern const struct api_encoder_ops osr_api_openai_chat_ops;
extern const struct api_encoder_ops osr_api_anthropic_ops;
extern const struct api_encoder_ops osr_api_responses_ops;
extern const struct api_encoder_ops osr_api_ollama_chat_ops;
extern const struct api_encoder_ops osr_api_ollama_generate_ops;
extern const struct api_encoder_ops osr_api_openai_completions_ops;

/* Writes a new id: prefix + nhex random hex digits (upper case when upper), or what the
 * injected make_id writes. */
void osr_api_new_id(struct osr_api_encoder *enc, const char *prefix, size_t nhex, bool upper,
                    char *out, size_t cap);

/* Returns the accumulated tool call with this event index, or NULL. */
struct api_tool_acc *osr_api_tool_find(struct osr_api_encoder *enc, int index);

/* Final token counts: what USAGE said, else estimates (chars / 4). */
int64_t osr_api_prompt_tokens(const struct osr_api_encoder *enc);
int64_t osr_api_completion_tokens(const struct osr_api_encoder *enc);

/* Appends a JSON string. */
int osr_api_put_str(struct osr_buf *out, const char *s, size_t n);
static inline int osr_api_put_cstr(struct osr_buf *out, const char *s)
{
    return osr_api_put_str(out, s ? s : "", s ? strlen(s) : 0);
}

/* Appends the arguments text as a JSON object value: the text itself when it parses to an
 * object, "{}" when it is empty or not an object (a model's broken JSON is not passed on as
 * invalid JSON). */
int osr_api_put_args_object(struct osr_buf *out, const struct osr_buf *args);

/* Appends one OpenAI ChatCompletionTokenLogprob object for lp, with at most max_top
 * alternatives. */
int osr_api_openai_logprob_entry(struct osr_buf *out, const struct osr_logprobs *lp, int max_top);

/* Appends "event: <name>\ndata: " ... the caller writes the JSON and then "\n\n". */
int osr_api_sse_event(struct osr_buf *out, const char *name);

#endif
