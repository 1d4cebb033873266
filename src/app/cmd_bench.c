/* cmd_bench.c - `osaurus bench`: prompt-processing and generation speed of a local model.
 *
 * Follows llama.cpp's llama-bench definitions so the numbers compare directly: ppN evaluates N
 * random tokens from an empty cache in batches of n_batch (logits of the last one only);
 * tgN generates N tokens one decode at a time from an empty cache; each test runs once
 * untimed (warm-up) and then r times, and reports tokens per second as mean +- sample
 * standard deviation over the runs.  Also reports the load time (opening and validating the
 * file, creating the context), the process's peak resident set size and the machine's load
 * average before and after (other processes skew the numbers on a shared machine).  It does not
 * sample: the fed tokens are fixed pseudo-random ids, as in llama-bench.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "osr/cli.h"
#include "osr/cli_engine.h"
#include "osr/clock.h"
#include "osr/gguf.h"
#include "osr/model.h"

#define MAX_REPS 1000
#define MAX_TOKENS 65536

static const char bench_usage[] =
    "usage: osaurus bench --model FILE [-p N] [-n N] [-t THREADS] [-r REPS] [-b BATCH]\n"
    "                     [--kv f16|f32] [--json]\n"
    "\n"
    "Measures prompt processing (ppN) and generation (tgN) speed in tokens per second with\n"
    "the definitions of llama.cpp's llama-bench, plus load time and peak memory.\n"
    "\n"
    "  -m, --model FILE    the GGUF model\n"
    "  -p, --n-prompt N    prompt tokens per pp run (default 512; 0 skips the test)\n"
    "  -n, --n-gen N       generated tokens per tg run (default 128; 0 skips the test)\n"
    "  -t, --threads N     compute threads (default: the number of CPUs)\n"
    "  -r, --repetitions N timed runs per test (default 5)\n"
    "  -b, --batch N       tokens per forward step in pp (default 512)\n"
    "      --kv TYPE       KV cache type: f16 (default) or f32\n"
    "      --json          print one JSON object instead of a table\n";

struct result {
    const char *test; /* "pp" or "tg" */
    int n;
    double mean, sd;
};

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return OSR_EINVAL;
    *out = v;
    return OSR_OK;
}

/* One run: from an empty cache, either n tokens as a prompt or n single-token steps.
 * Returns seconds, or a negative value on error. */
static double run_once(struct osr_model_ctx *c, const int32_t *toks, int n, bool gen, float *logits,
                       struct osr_diag *diag)
{
    osr_model_ctx_truncate(c, 0);
    int64_t t0 = osr_mono_ns();
    int rc = OSR_OK;
    if (gen) {
        for (int i = 0; i < n && rc == OSR_OK; i++)
            rc = osr_model_ctx_decode(c, &toks[i], 1, false, logits, diag);
    } else {
        rc = osr_model_ctx_decode(c, toks, n, false, logits, diag);
    }
    int64_t t1 = osr_mono_ns();
    return rc ? -1.0 : (double)(t1 - t0) * 1e-9;
}

/* The 1-minute load average, or -1 when it cannot be read: printed with the results because
 * on a shared machine other processes' load changes them. */
static double load_average(void)
{
    double la = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &la) != 1)
            la = -1;
        fclose(f);
    }
    return la;
}

static int run_test(struct osr_model_ctx *c, const int32_t *toks, int n, bool gen, int reps,
                    float *logits, struct result *r, struct osr_diag *diag)
{
    r->test = gen ? "tg" : "pp";
    r->n = n;
    /* llama-bench's warm-up: a whole prompt for pp, one token for tg. */
    if (run_once(c, toks, gen ? 1 : n, gen, logits, diag) < 0)
        return OSR_EINVAL;
    double sum = 0, sum2 = 0;
    for (int i = 0; i < reps; i++) {
        double s = run_once(c, toks, n, gen, logits, diag);
        if (s <= 0)
            return OSR_EINVAL;
        double tps = n / s;
        sum += tps;
        sum2 += tps * tps;
    }
    r->mean = sum / reps;
    r->sd = reps > 1 ? sqrt(fmax(0.0, (sum2 - sum * sum / reps) / (reps - 1))) : 0.0;
    return OSR_OK;
}

int osr_cmd_bench(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"n-prompt", required_argument, NULL, 'p'},
        {"n-gen", required_argument, NULL, 'n'},
        {"threads", required_argument, NULL, 't'},
        {"repetitions", required_argument, NULL, 'r'},
        {"batch", required_argument, NULL, 'b'},
        {"kv", required_argument, NULL, 'v'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *model = NULL;
    long n_prompt = 512, n_gen = 128, reps = 5, n_batch = 512;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    long threads = cpus > 0 ? (cpus > 256 ? 256 : cpus) : 1;
    bool json = false;
    enum osr_kv_type kv = OSR_KV_F16;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "m:p:n:t:r:b:h", opts, NULL)) != -1) {
        long *dst = NULL, lo = 0, hi = MAX_TOKENS;
        switch (ch) {
        case 'm':
            model = optarg;
            continue;
        case 'p':
            dst = &n_prompt;
            break;
        case 'n':
            dst = &n_gen;
            break;
        case 't':
            dst = &threads, lo = 1, hi = 256;
            break;
        case 'r':
            dst = &reps, lo = 1, hi = MAX_REPS;
            break;
        case 'b':
            dst = &n_batch, lo = 1, hi = 8192;
            break;
        case 'v':
            if (strcmp(optarg, "f16") != 0 && strcmp(optarg, "f32") != 0) {
                fprintf(stderr, "osaurus bench: --kv must be f16 or f32\n");
                return OSR_EXIT_USAGE;
            }
            kv = strcmp(optarg, "f32") == 0 ? OSR_KV_F32 : OSR_KV_F16;
            continue;
        case 'j':
            json = true;
            continue;
        case 'h':
            fputs(bench_usage, stdout);
            return OSR_EXIT_OK;
        default:
            fputs(bench_usage, stderr);
            return OSR_EXIT_USAGE;
        }
        if (parse_long(optarg, lo, hi, dst)) {
            fprintf(stderr, "osaurus bench: bad value '%s' (expected %ld .. %ld)\n", optarg, lo,
                    hi);
            return OSR_EXIT_USAGE;
        }
    }
    if (optind < argc || !model) {
        fprintf(stderr, "osaurus bench: %s\n%s",
                optind < argc ? "unexpected argument" : "--model is required", bench_usage);
        return OSR_EXIT_USAGE;
    }
    if (n_prompt == 0 && n_gen == 0) {
        fprintf(stderr, "osaurus bench: nothing to measure (-p 0 and -n 0)\n");
        return OSR_EXIT_USAGE;
    }

    int ret = OSR_EXIT_FAILURE, rc;
    struct osr_model *m = NULL;
    struct osr_model_ctx *c = NULL;
    struct osr_diag diag = {0};
    int32_t *toks = NULL;
    float *logits = NULL;
    struct result res[2];
    int n_res = 0;

    double load_start = load_average();
    int64_t t0 = osr_mono_ns();
    rc = osr_model_load(model, &m, &diag);
    if (rc)
        goto fail;
    const struct osr_model_hparams *hp = osr_model_hparams(m);
    struct osr_model_ctx_params cp;
    osr_model_ctx_params_init(&cp);
    cp.n_ctx = (int)(n_prompt > n_gen ? n_prompt : n_gen);
    cp.n_batch = (int)n_batch;
    cp.n_threads = (int)threads;
    cp.kv_type = kv;
    if ((rc = osr_model_ctx_new(m, &cp, &c, &diag)))
        goto fail;
    double load_ms = (double)(osr_mono_ns() - t0) * 1e-6;

    long n_toks = n_prompt > n_gen ? n_prompt : n_gen;
    toks = malloc((size_t)n_toks * sizeof(*toks));
    logits = malloc((size_t)hp->n_vocab * sizeof(float));
    if (!toks || !logits) {
        rc = osr_diag_set(&diag, OSR_ENOMEM, "out of memory");
        goto fail;
    }
    /* Fixed pseudo-random ids (a 32-bit LCG), the first one 1 like a BOS. */
    uint32_t x = 1234567;
    for (long i = 0; i < n_toks; i++) {
        x = x * 1664525u + 1013904223u;
        toks[i] = i == 0 && hp->n_vocab > 1 ? 1 : (int32_t)((x >> 8) % (uint32_t)hp->n_vocab);
    }
    if (n_prompt > 0 &&
        (rc = run_test(c, toks, (int)n_prompt, false, (int)reps, logits, &res[n_res++], &diag)))
        goto fail;
    if (n_gen > 0 &&
        (rc = run_test(c, toks, (int)n_gen, true, (int)reps, logits, &res[n_res++], &diag)))
        goto fail;

    double load_end = load_average();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss_mib = (double)ru.ru_maxrss / 1024.0;
    const struct osr_gguf *g = osr_model_gguf(m);
    uint64_t bytes = 0, params = 0;
    for (size_t i = 0; i < osr_gguf_n_tensors(g); i++) {
        bytes += osr_gguf_tensor(g, i)->n_bytes;
        params += osr_gguf_tensor(g, i)->n_elements;
    }
    char desc[128];
    osr_model_desc(m, desc, sizeof(desc));
    if (json) {
        printf("{\"model\": \"%s\", \"size_bytes\": %llu, \"params\": %llu, \"threads\": %ld, "
               "\"n_batch\": %ld, \"type_kv\": \"%s\", \"repetitions\": %ld, \"load_ms\": %.1f, "
               "\"peak_rss_mib\": %.1f, \"loadavg_start\": %.2f, \"loadavg_end\": %.2f, "
               "\"results\": [",
               desc, (unsigned long long)bytes, (unsigned long long)params, threads, n_batch,
               kv == OSR_KV_F16 ? "f16" : "f32", reps, load_ms, rss_mib, load_start, load_end);
        for (int i = 0; i < n_res; i++)
            printf("%s{\"test\": \"%s%d\", \"n_prompt\": %d, \"n_gen\": %d, \"avg_ts\": %.3f, "
                   "\"stddev_ts\": %.3f}",
                   i ? ", " : "", res[i].test, res[i].n, res[i].test[0] == 'p' ? res[i].n : 0,
                   res[i].test[0] == 't' ? res[i].n : 0, res[i].mean, res[i].sd);
        printf("]}\n");
    } else {
        printf("model: %s\nsize: %.2f MiB, %.2f B params, load %.1f ms, peak RSS %.1f MiB\n"
               "machine load (1-minute average): %.2f before, %.2f after\n\n",
               desc, (double)bytes / (1024.0 * 1024.0), (double)params * 1e-9, load_ms, rss_mib,
               load_start, load_end);
        printf("| threads | test  |            t/s |\n| ------: | ----- | -------------: |\n");
        for (int i = 0; i < n_res; i++)
            printf("| %7ld | %s%-3d | %7.2f +- %4.2f |\n", threads, res[i].test, res[i].n,
                   res[i].mean, res[i].sd);
    }
    if (fflush(stdout) != 0)
        goto out;
    ret = OSR_EXIT_OK;
    goto out;
fail:
    fprintf(stderr, "osaurus bench: %s\n", diag.msg[0] ? diag.msg : osr_strerror(rc));
out:
    free(toks);
    free(logits);
    osr_model_ctx_free(c);
    osr_model_free(m);
    return ret;
}
