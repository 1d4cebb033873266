/* chat_template.h - renders a model's `tokenizer.chat_template` (a Jinja2 subset).
 *
 * A template is compiled once from its source and rendered many times with variables given
 * as a json-c object (messages, tools, add_generation_prompt, bos_token, eos_token and any
 * extra names).  Rendering follows Python Jinja2 3.1 as Hugging Face transformers configures
 * it: trim_blocks and lstrip_blocks on, loop controls (break/continue) on, the immutable
 * sandbox, `tojson` as json.dumps(ensure_ascii=False), and the globals raise_exception(msg)
 * and strftime_now(fmt).  docs/internals/CHAT_TEMPLATES.md lists what is supported and where
 * we differ.
 *
 * Hostile templates are safe to render: every render runs in its own memory arena with a hard
 * cap, output has a cap, and evaluation steps and call depth are counted and capped, so a
 * template that loops forever or recurses without end gets an error, not a hang.
 *
 * Thread rules: a compiled template is immutable after compile and may be rendered from
 * several threads at once; each render uses only its own memory.
 */
#ifndef OSR_CHAT_TEMPLATE_H
#define OSR_CHAT_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "osr/buf.h"
#include "osr/err.h"

struct osr_chat_template;

/* What went wrong, Jinja2-style.  kind is the Python exception class a Jinja2 render would
 * raise ("TemplateSyntaxError", "TemplateError" for raise_exception, "TypeError",
 * "UndefinedError", "ValueError", "SecurityError", "ZeroDivisionError", "LimitError" for our
 * caps); msg is its message (for TemplateError exactly the template's text); line and col
 * are 1-based positions in the template source (0 when unknown). */
struct osr_chat_template_error {
    char kind[32];
    char msg[OSR_DIAG_MAX];
    int line, col;
};

/* Caps for one render; a zero field takes the default shown. */
struct osr_chat_template_limits {
    size_t max_output;  /* bytes of rendered text (4 MiB) */
    size_t max_memory;  /* bytes of the render's arena (64 MiB) */
    uint64_t max_steps; /* evaluated expressions, statements and loop iterations (5,000,000) */
    int max_depth;      /* nested macro calls (64) */
};

struct osr_chat_template_opts {
    struct osr_chat_template_limits limits;
    /* strftime_now(fmt) formats fixed_time (seconds since the epoch, as UTC) when
     * has_fixed_time; otherwise the current local time. */
    bool has_fixed_time;
    int64_t fixed_time;
};

/* Compiles the len bytes at src (need not be NUL-terminated; borrowed only during the call).
 * Returns OSR_OK and *out (the caller frees it with osr_chat_template_free), or OSR_EINVAL
 * with a TemplateSyntaxError in err (optional) and "line L, column C: ..." in diag, or
 * OSR_ETOOBIG when the source is larger than 1 MiB. */
int osr_chat_template_compile(const char *src, size_t len, struct osr_chat_template **out,
                              struct osr_chat_template_error *err, struct osr_diag *diag);

/* Renders t with the variables of the JSON object vars (borrowed; NULL means none): each key
 * becomes a template variable, JSON null becomes None; a name that is absent is undefined.
 * The text is appended to out, which must have been initialized by the caller; on an error
 * out is reset to empty.  opts may be NULL (defaults).  Returns OSR_OK; OSR_EINVAL when the
 * template raised (err and diag say what, where); OSR_ETOOBIG when a cap was hit. */
int osr_chat_template_render(const struct osr_chat_template *t, struct json_object *vars,
                             const struct osr_chat_template_opts *opts, struct osr_buf *out,
                             struct osr_chat_template_error *err, struct osr_diag *diag);

/* Frees a compiled template; NULL is a no-op. */
void osr_chat_template_free(struct osr_chat_template *t);

/* The built-in template for a GGUF file that ships none: ChatML
 * ("<|im_start|>role\ncontent<|im_end|>\n" per message, "<|im_start|>assistant\n" when
 * add_generation_prompt), documented in docs/internals/CHAT_TEMPLATES.md.  Static string. */
const char *osr_chat_template_fallback(void);

#endif
