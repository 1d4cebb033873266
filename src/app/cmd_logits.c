/* cmd_logits.c - `osaurus logits`: token ids in, llama.cpp-comparable logits out, as JSON.
 *
 * For each --tokens list: a fresh context, the whole list in one decode with logits for every
 * position (the top K of each), the full logits of the last position, then --greedy N
 * single-token steps feeding the argmax (lowest id on ties, no EOS stop) with the top K of
 * each.  The output is the refdump-logits-v1 format of the reference files made with llama.cpp
 * (docs/internals/ENGINE.md), so the two can be compared number by number.  Floats are printed
 * with %.9g (they round-trip to the same float32); a non-finite logit is printed as null.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osr/cli.h"
#include "osr/cli_engine.h"
#include "osr/gguf.h"
#include "osr/model.h"
#include "osr/osec.h"
#include "osr/sampler.h"

#define MAX_PROMPTS 16
#define MAX_TOP 1024
#define MAX_GEN 100000

static const char logits_usage[] =
    "usage: osaurus logits --model FILE --tokens \"ID ID ...\" [--tokens ...] [--greedy N]\n"
    "                      [--top K] [--threads N] [--kv f16|f32] [--ctx N]\n"
    "\n"
    "Runs the token ids through the model and prints, as JSON, the top K logits at every\n"
    "position, the full logits of the last one, and N greedy steps after it.\n"
    "\n"
    "  -m, --model FILE     the GGUF model\n"
    "  -p, --tokens IDS     token ids separated by spaces or commas (repeat for more prompts)\n"
    "  -n, --greedy N       greedy steps after each prompt (default 0)\n"
    "  -k, --top K          logits listed per position (default 32)\n"
    "  -t, --threads N      compute threads (default 1)\n"
    "      --kv TYPE        KV cache type: f16 (default) or f32\n"
    "  -c, --ctx N          context size (default: the model's, at most 4096)\n";

struct prompt {
    int32_t *ids;
    int n;
};

static int parse_int(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return OSR_EINVAL;
    *out = v;
    return OSR_OK;
}

static int parse_ids(const char *s, struct prompt *p)
{
    size_t cap = strlen(s) / 2 + 1;
    p->ids = calloc(cap, sizeof(*p->ids));
    p->n = 0;
    if (!p->ids)
        return OSR_ENOMEM;
    while (*s) {
        if (*s == ' ' || *s == ',' || *s == '\t' || *s == '\n') {
            s++;
            continue;
        }
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || v < 0 || v > INT32_MAX || (size_t)p->n >= cap)
            return OSR_EINVAL;
        p->ids[p->n++] = (int32_t)v;
        s = end;
    }
    return p->n > 0 ? OSR_OK : OSR_EINVAL;
}

static void print_float(FILE *out, float v)
{
    if (isfinite(v))
        fprintf(out, "%.9g", (double)v);
    else
        fputs("null", out);
}

static void print_top(FILE *out, const float *logits, int32_t n_vocab, int k, int32_t *ids)
{
    int m = osr_logits_top_k(logits, n_vocab, k, ids);
    fputc('[', out);
    for (int i = 0; i < m; i++) {
        fprintf(out, "%s[%d, ", i ? ", " : "", ids[i]);
        print_float(out, logits[ids[i]]);
        fputc(']', out);
    }
    fputc(']', out);
}

static int run_prompt(FILE *out, struct osr_model_ctx *c, const struct prompt *p, int index,
                      int n_gen, int top, int32_t n_vocab, float *all, int32_t *ids,
                      struct osr_diag *diag)
{
    osr_model_ctx_truncate(c, 0);
    int rc = osr_model_ctx_decode(c, p->ids, p->n, true, all, diag);
    if (rc)
        return rc;
    fprintf(out, "%s  {\"name\": \"p%d\", \"n_tokens\": %d,\n   \"tokens\": [", index ? ",\n" : "",
            index, p->n);
    for (int i = 0; i < p->n; i++)
        fprintf(out, "%s%d", i ? ", " : "", p->ids[i]);
    fputs("],\n   \"prompt_top\": [", out);
    for (int i = 0; i < p->n; i++) {
        fprintf(out, "%s\n    {\"pos\": %d, \"top\": ", i ? "," : "", i);
        print_top(out, all + (size_t)i * (size_t)n_vocab, n_vocab, top, ids);
        fputc('}', out);
    }
    const float *last = all + (size_t)(p->n - 1) * (size_t)n_vocab;
    fputs("],\n   \"last_logits\": [", out);
    for (int32_t v = 0; v < n_vocab; v++) {
        if (v)
            fputs(", ", out);
        print_float(out, last[v]);
    }
    fputs("],\n   \"generation\": [", out);
    /* Keep the current logits at the start of `all` for the greedy steps. */
    memmove(all, last, (size_t)n_vocab * sizeof(float));
    for (int step = 0; step < n_gen; step++) {
        int32_t t = osr_logits_argmax(all, n_vocab);
        if (t < 0)
            return osr_diag_set(diag, OSR_EINVAL, "all logits are NaN at step %d", step);
        int pos = osr_model_ctx_n_past(c);
        if ((rc = osr_model_ctx_decode(c, &t, 1, false, all, diag)))
            return rc;
        fprintf(out,
                "%s\n    {\"step\": %d, \"pos\": %d, \"token\": %d, \"top\": ", step ? "," : "",
                step, pos, t);
        print_top(out, all, n_vocab, top, ids);
        fputc('}', out);
    }
    fprintf(out, "],\n   \"next_token\": %d}", osr_logits_argmax(all, n_vocab));
    return OSR_OK;
}

int osr_cmd_logits(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"tokens", required_argument, NULL, 'p'},
        {"greedy", required_argument, NULL, 'n'},
        {"top", required_argument, NULL, 'k'},
        {"threads", required_argument, NULL, 't'},
        {"kv", required_argument, NULL, 'v'},
        {"ctx", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *model = NULL;
    struct prompt prompts[MAX_PROMPTS] = {{0}};
    int n_prompts = 0, ret = OSR_EXIT_USAGE;
    long n_gen = 0, top = 32, threads = 1, n_ctx = 0;
    enum osr_kv_type kv = OSR_KV_F16;
    struct osr_model *m = NULL;
    struct osr_model_ctx *c = NULL;
    float *all = NULL;
    int32_t *ids = NULL;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "m:p:n:k:t:c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'm':
            model = optarg;
            break;
        case 'p':
            if (n_prompts == MAX_PROMPTS) {
                fprintf(stderr, "osaurus logits: at most %d --tokens lists\n", MAX_PROMPTS);
                goto out;
            }
            if (parse_ids(optarg, &prompts[n_prompts++])) {
                fprintf(stderr, "osaurus logits: bad --tokens '%s'\n", optarg);
                goto out;
            }
            break;
        case 'n':
        case 'k':
        case 't':
        case 'c': {
            long *dst = ch == 'n' ? &n_gen : ch == 'k' ? &top : ch == 't' ? &threads : &n_ctx;
            long lo = ch == 'k' || ch == 't' ? 1 : 0;
            long hi = ch == 'n' ? MAX_GEN : ch == 'k' ? MAX_TOP : ch == 't' ? 256 : 1 << 22;
            if (parse_int(optarg, lo, hi, dst)) {
                fprintf(stderr, "osaurus logits: bad value '%s' (expected %ld .. %ld)\n", optarg,
                        lo, hi);
                goto out;
            }
            break;
        }
        case 'v':
            if (strcmp(optarg, "f16") == 0) {
                kv = OSR_KV_F16;
            } else if (strcmp(optarg, "f32") == 0) {
                kv = OSR_KV_F32;
            } else {
                fprintf(stderr, "osaurus logits: --kv must be f16 or f32\n");
                goto out;
            }
            break;
        case 'h':
            fputs(logits_usage, stdout);
            ret = OSR_EXIT_OK;
            goto out;
        default:
            fputs(logits_usage, stderr);
            goto out;
        }
    }
    if (optind < argc || !model || n_prompts == 0) {
        fprintf(stderr, "osaurus logits: %s\n%s",
                optind < argc ? "unexpected argument" : "--model and --tokens are required",
                logits_usage);
        goto out;
    }

    ret = OSR_EXIT_FAILURE;
    struct osr_diag diag = {0};
    int rc = osr_model_load(model, &m, &diag);
    if (rc) {
        fprintf(stderr, "osaurus logits: %s\n", diag.msg[0] ? diag.msg : osr_strerror(rc));
        goto out;
    }
    const struct osr_model_hparams *hp = osr_model_hparams(m);
    struct osr_model_ctx_params cp;
    osr_model_ctx_params_init(&cp);
    cp.n_threads = (int)threads;
    cp.kv_type = kv;
    cp.n_ctx = (int)n_ctx;
    if ((rc = osr_model_ctx_new(m, &cp, &c, &diag))) {
        fprintf(stderr, "osaurus logits: %s\n", diag.msg[0] ? diag.msg : osr_strerror(rc));
        goto out;
    }
    int max_n = 0;
    for (int i = 0; i < n_prompts; i++) {
        if (prompts[i].n + n_gen > osr_model_ctx_n_ctx(c)) {
            fprintf(stderr, "osaurus logits: %d tokens + %ld steps exceed the context of %d\n",
                    prompts[i].n, n_gen, osr_model_ctx_n_ctx(c));
            goto out;
        }
        if (prompts[i].n > max_n)
            max_n = prompts[i].n;
    }
    all = malloc((size_t)max_n * (size_t)hp->n_vocab * sizeof(float));
    ids = malloc((size_t)top * sizeof(*ids));
    if (!all || !ids) {
        fprintf(stderr, "osaurus logits: out of memory\n");
        goto out;
    }

    const struct osr_gguf *g = osr_model_gguf(m);
    char sha[OSR_SHA256_HEX + 1], desc[128];
    osr_osec_sha256_hex(osr_gguf_base(g), (size_t)osr_gguf_size(g), sha);
    FILE *out = stdout;
    fputs("{\n \"format\": \"refdump-logits-v1\",\n \"engine\": \"osaurus\",\n \"model\": ", out);
    /* The path is printed as a JSON string: escape what needs it. */
    fputc('"', out);
    for (const char *s = model; *s; s++) {
        unsigned char u = (unsigned char)*s;
        if (u == '"' || u == '\\')
            fprintf(out, "\\%c", u);
        else if (u < 0x20)
            fprintf(out, "\\u%04x", u);
        else
            fputc(u, out);
    }
    fprintf(out,
            "\",\n \"model_sha256\": \"%s\",\n \"model_desc\": \"%s\",\n \"n_vocab\": %d,\n"
            " \"settings\": {\"n_threads\": %ld, \"n_ctx\": %d, \"type_k\": \"%s\", \"type_v\": "
            "\"%s\", \"top_k\": %ld, \"n_gen\": %ld, \"sampling\": \"greedy argmax over raw "
            "logits, lowest id on ties, no EOS stop\"},\n \"prompts\": [\n",
            sha, osr_model_desc(m, desc, sizeof(desc)), hp->n_vocab, threads,
            osr_model_ctx_n_ctx(c), kv == OSR_KV_F16 ? "f16" : "f32",
            kv == OSR_KV_F16 ? "f16" : "f32", top, n_gen);
    for (int i = 0; i < n_prompts; i++) {
        if ((rc = run_prompt(out, c, &prompts[i], i, (int)n_gen, (int)top, hp->n_vocab, all, ids,
                             &diag))) {
            fflush(out);
            fprintf(stderr, "\nosaurus logits: %s\n", diag.msg[0] ? diag.msg : osr_strerror(rc));
            goto out;
        }
    }
    fputs("\n ]\n}\n", out);
    if (fflush(out) != 0 || ferror(out)) {
        fprintf(stderr, "osaurus logits: cannot write the output\n");
        goto out;
    }
    ret = OSR_EXIT_OK;
out:
    for (int i = 0; i < n_prompts; i++)
        free(prompts[i].ids);
    free(all);
    free(ids);
    osr_model_ctx_free(c);
    osr_model_free(m);
    return ret;
}
