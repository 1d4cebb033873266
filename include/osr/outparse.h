/* outparse.h - turns a local model's generated text into canonical chat events.
 *
 * The engine produces plain text; clients want text deltas, reasoning deltas, tool calls and a
 * finish reason.  This streaming parser sits between the two:
 *   - client stop strings end generation at the first match, even across token boundaries,
 *     and no part of a stop string ever reaches the client;
 *   - "<think>…</think>" becomes reasoning deltas (a prompt that ends inside an open <think>
 *     starts in reasoning, as Qwen3 and DeepSeek-R1 templates do);
 *   - with tools offered, tool calls in the formats of the common families become
 *     TOOL_CALL_START + TOOL_CALL_ARGS_DELTA events: Hermes/Qwen
 *     "<tool_call>{"name":…,"arguments":{…}}</tool_call>", Mistral "[TOOL_CALLS][{…}]",
 *     Llama 3 "<|python_tag|>{…}" and a whole answer that is one JSON object
 *     {"name":…,"parameters"|"arguments":…}.  Text that only looks like a call but does not
 *     parse is passed on as text, never lost.
 * Text is held back only while it could still be the start of a marker or a stop string.
 *
 * Thread rules: a parser belongs to one thread (the producer's).
 */
#ifndef OSR_OUTPARSE_H
#define OSR_OUTPARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "osr/chat.h"

struct osr_outparse_opts {
    const char *const *stops; /* client stop strings (borrowed for the parser's life) */
    size_t n_stops;
    bool tools;            /* the request offered tools: look for tool calls */
    bool in_think;         /* the prompt ended inside an open <think> */
    const char *id_prefix; /* tool call ids: prefix + 24 hex digits; NULL: "call_" */
};

struct osr_outparse;

/* Creates a parser that emits to sink (borrowed).  The caller frees it with
 * osr_outparse_free. */
struct osr_outparse *osr_outparse_new(const struct osr_outparse_opts *opts, struct osr_sink *sink);
void osr_outparse_free(struct osr_outparse *p);

enum osr_outparse_status {
    OSR_OUTPARSE_MORE = 0,   /* go on generating */
    OSR_OUTPARSE_STOP = 1,   /* a stop string matched: stop generating */
    OSR_OUTPARSE_GONE = 2,   /* the sink's consumer is gone: stop at once */
    OSR_OUTPARSE_TOOBIG = 3, /* a held-back tool call passed its cap */
};

/* Feeds n bytes of generated text (whole UTF-8 characters).  Returns a status above. */
enum osr_outparse_status osr_outparse_push(struct osr_outparse *p, const char *text, size_t n);

/* Ends the text: flushes what was held back and works out the finish reason.  gen_finish is
 * why generation ended (STOP or LENGTH); *finish receives the reason to report (TOOL_CALLS
 * when calls were emitted, STOP_SEQUENCE after a stop string, else gen_finish) and *stop_seq
 * the matched stop string or NULL.  Emits no FINISH event itself.  Returns OSR_OUTPARSE_MORE
 * or OSR_OUTPARSE_GONE. */
enum osr_outparse_status osr_outparse_finish(struct osr_outparse *p, enum osr_finish gen_finish,
                                             enum osr_finish *finish, const char **stop_seq);

/* Tool calls emitted so far. */
int osr_outparse_tool_calls(const struct osr_outparse *p);

#endif
