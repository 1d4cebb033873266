/* chat_template.c - the public face of the chat-template interpreter: compile, render, free,
 * and the built-in fallback template.
 *
 * Compile checks the source (size, UTF-8), lexes and parses it into a tree kept in the
 * template's own arena.  Render converts the caller's JSON variables into values, runs the
 * tree in a fresh arena capped at limits.max_memory, collects output in a buffer capped at
 * limits.max_output, and copies it to the caller's buffer only when the whole render
 * succeeded.  The language itself is in chat_template_{lex,parse,eval,value,filters,
 * builtins}.c; docs/internals/CHAT_TEMPLATES.md describes it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_template_int.h"
#include "osr/alloc.h"

#define SOURCE_MAX (1u << 20)
#define DEFAULT_OUTPUT (4u << 20)
#define DEFAULT_MEMORY (64u << 20)
#define DEFAULT_STEPS 5000000u
#define DEFAULT_DEPTH 64

static void to_diag(const struct osr_chat_template_error *e, struct osr_diag *diag)
{
    if (e->line > 0)
        osr_diag_set(diag, OSR_EINVAL, "line %d, column %d: %s: %s", e->line, e->col, e->kind,
                     e->msg);
    else
        osr_diag_set(diag, OSR_EINVAL, "%s: %s", e->kind, e->msg);
}

static bool valid_utf8(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t need;
        uint32_t min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c >> 5) == 6) {
            need = 1;
            min = 0x80;
        } else if ((c >> 4) == 14) {
            need = 2;
            min = 0x800;
        } else if ((c >> 3) == 30) {
            need = 3;
            min = 0x10000;
        } else {
            return false;
        }
        uint32_t cp = c & (0x3f >> need);
        for (size_t k = 1; k <= need; k++) {
            if (i + k >= n || (p[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += need + 1;
    }
    return true;
}

int osr_chat_template_compile(const char *src, size_t len, struct osr_chat_template **out,
                              struct osr_chat_template_error *err, struct osr_diag *diag)
{
    OSR_ASSERT(out && (src || len == 0));
    struct osr_chat_template_error local;
    struct osr_chat_template_error *e = err ? err : &local;
    memset(e, 0, sizeof(*e));
    *out = NULL;
    if (len > SOURCE_MAX) {
        snprintf(e->kind, sizeof(e->kind), "TemplateSyntaxError");
        snprintf(e->msg, sizeof(e->msg), "template is larger than %u bytes", SOURCE_MAX);
        to_diag(e, diag);
        return OSR_ETOOBIG;
    }
    if (!valid_utf8(src, len)) {
        snprintf(e->kind, sizeof(e->kind), "TemplateSyntaxError");
        snprintf(e->msg, sizeof(e->msg), "template is not valid UTF-8");
        to_diag(e, diag);
        return OSR_EINVAL;
    }
    struct osr_chat_template *t = osr_xcalloc(1, sizeof(*t));
    /* Tokens and tree are a small multiple of the source; the cap only stops pathologies. */
    osr_arena_init(&t->arena, 64 * (size_t)len + (1u << 20));
    struct ct_tokens toks = {0};
    int rc = ct_lex(&t->arena, src, len, &toks, e);
    if (rc == OSR_OK) {
        rc = ct_parse(&t->arena, &toks, &t->root, e);
        free(toks.v);
    }
    if (rc) {
        if (e->kind[0] == '\0') {
            snprintf(e->kind, sizeof(e->kind), "TemplateSyntaxError");
            snprintf(e->msg, sizeof(e->msg), "template too large to compile");
        }
        to_diag(e, diag);
        osr_chat_template_free(t);
        return rc == OSR_ENOMEM ? OSR_ETOOBIG : rc;
    }
    *out = t;
    return OSR_OK;
}

void osr_chat_template_free(struct osr_chat_template *t)
{
    if (!t)
        return;
    osr_arena_release(&t->arena);
    free(t);
}

int osr_chat_template_render(const struct osr_chat_template *t, struct json_object *vars,
                             const struct osr_chat_template_opts *opts, struct osr_buf *out,
                             struct osr_chat_template_error *err, struct osr_diag *diag)
{
    OSR_ASSERT(t && out); /* caller bugs, not input */
    struct osr_arena arena;
    struct ct_render r;
    memset(&r, 0, sizeof(r));
    if (opts) {
        r.lim = opts->limits;
        r.has_fixed_time = opts->has_fixed_time;
        r.fixed_time = opts->fixed_time;
    }
    if (!r.lim.max_output)
        r.lim.max_output = DEFAULT_OUTPUT;
    if (!r.lim.max_memory)
        r.lim.max_memory = DEFAULT_MEMORY;
    if (!r.lim.max_steps)
        r.lim.max_steps = DEFAULT_STEPS;
    if (r.lim.max_depth <= 0)
        r.lim.max_depth = DEFAULT_DEPTH;
    osr_arena_init(&arena, r.lim.max_memory);
    r.arena = &arena;
    struct osr_buf text;
    osr_buf_init(&text, r.lim.max_output);
    r.out = &text;

    int rc = OSR_OK;
    r.vars = ct_dict_new(&r, 0);
    r.root = osr_arena_calloc(&arena, 1, sizeof(*r.root));
    if (!r.vars || !r.root) {
        rc = ct_fail_limit(&r, "render memory cap reached");
        goto out;
    }
    if (vars && json_object_is_type(vars, json_type_object)) {
        struct ct_value v;
        rc = ct_from_json(&r, vars, &v, 0);
        if (rc)
            goto out;
        r.vars = v.u.d;
    } else if (vars && !json_object_is_type(vars, json_type_null)) {
        rc = ct_fail(&r, 0, 0, "TypeError", "template variables must be a JSON object");
        goto out;
    }
    rc = ct_exec_body(&r, r.root, &t->root);
    if (rc == CT_BREAK || rc == CT_CONTINUE) /* the parser keeps these inside loops */
        rc = OSR_OK;
    if (rc == OSR_OK && osr_buf_append(out, text.data ? text.data : "", text.len) != OSR_OK)
        rc = ct_fail_limit(&r, "rendered output is larger than the output buffer");
out:
    if (rc != OSR_OK) {
        if (!r.err.set)
            ct_fail(&r, 0, 0, "RuntimeError", "%s", osr_strerror(rc));
        if (err)
            *err = r.err.e;
        to_diag(&r.err.e, diag);
        rc = rc == OSR_ETOOBIG ? OSR_ETOOBIG : OSR_EINVAL;
    } else if (err) {
        memset(err, 0, sizeof(*err));
    }
    osr_buf_release(&text);
    osr_arena_release(&arena);
    return rc;
}

/* ChatML: the common denominator of instruction-tuned models, and what llama.cpp falls back
 * to as well.  Tool calls are shown the Hermes/Qwen way. */
static const char FALLBACK[] =
    "{%- for message in messages -%}\n"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}\n"
    "{%- if message['content'] is string -%}{{- message['content'] -}}\n"
    "{%- elif message['content'] is not none and message['content'] is defined -%}"
    "{{- message['content'] | tojson -}}{%- endif -%}\n"
    "{%- for tc in message['tool_calls'] | default([], true) -%}\n"
    "{%- set f = tc['function'] if tc['function'] is defined else tc -%}\n"
    "{{- '\\n' if (message['content'] or not loop.first) else '' -}}\n"
    "{{- '<tool_call>\\n{\"name\": ' + f['name'] | tojson + ', \"arguments\": ' -}}\n"
    "{{- (f['arguments'] if f['arguments'] is string else f['arguments'] | tojson) + "
    "'}\\n</tool_call>' -}}\n"
    "{%- endfor -%}\n"
    "{{- '<|im_end|>\\n' -}}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}\n";

const char *osr_chat_template_fallback(void)
{
    return FALLBACK;
}
