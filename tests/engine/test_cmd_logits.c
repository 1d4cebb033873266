/* test_cmd_logits.c - `osaurus logits` and `osaurus bench` run in-process (in a forked child
 * with stdout and stderr in temporary files): the JSON format against a llama.cpp reference
 * file, usage errors, and a short bench run. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "osr/cli.h"
#include "osr/cli_engine.h"
#include "osr/json.h"

struct run {
    int code;
    char *out; /* heap, NUL-terminated */
    size_t out_len;
    char err[4096];
};

static char *slurp_fd(int fd, size_t *len)
{
    struct stat st;
    fstat(fd, &st);
    char *buf = malloc((size_t)st.st_size + 1);
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, buf, (size_t)st.st_size);
    buf[n > 0 ? n : 0] = '\0';
    *len = n > 0 ? (size_t)n : 0;
    return buf;
}

static void run_cmd(int (*fn)(int, char **), char **argv, struct run *r)
{
    char out_t[] = "/tmp/osr_logits_outXXXXXX", err_t[] = "/tmp/osr_logits_errXXXXXX";
    int out = mkstemp(out_t), err = mkstemp(err_t);
    unlink(out_t);
    unlink(err_t);
    int argc = 0;
    while (argv[argc])
        argc++;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out, 1);
        dup2(err, 2);
        int code = fn(argc, argv);
        fflush(stdout);
        fflush(stderr);
        _exit(code);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    r->code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r->out = slurp_fd(out, &r->out_len);
    size_t n;
    char *e = slurp_fd(err, &n);
    snprintf(r->err, sizeof(r->err), "%s", e);
    free(e);
    close(out);
    close(err);
}

static struct json_object *jget(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static struct json_object *load_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct stat st;
    fstat(fileno(f), &st);
    char *buf = malloc((size_t)st.st_size + 1);
    size_t n = fread(buf, 1, (size_t)st.st_size, f);
    fclose(f);
    struct json_object *o = NULL;
    osr_json_parse(buf, n, &o, NULL);
    free(buf);
    return o;
}

static void test_usage(void)
{
    struct run r;
    char *a1[] = {"logits", "--model", "x.gguf", NULL};
    run_cmd(osr_cmd_logits, a1, &r);
    CHECK_INT_EQ(r.code, OSR_EXIT_USAGE);
    CHECK(strstr(r.err, "--tokens are required") != NULL);
    free(r.out);
    char *a2[] = {"logits", "--model", "x.gguf", "--tokens", "1 2", "--kv", "q8", NULL};
    run_cmd(osr_cmd_logits, a2, &r);
    CHECK_INT_EQ(r.code, OSR_EXIT_USAGE);
    free(r.out);
    char *a3[] = {"logits", "--model", "x.gguf", "--tokens", "1 x", NULL};
    run_cmd(osr_cmd_logits, a3, &r);
    CHECK_INT_EQ(r.code, OSR_EXIT_USAGE);
    CHECK(strstr(r.err, "bad --tokens") != NULL);
    free(r.out);
    char *a4[] = {"logits", "--model", "/nonexistent/x.gguf", "--tokens", "1", NULL};
    run_cmd(osr_cmd_logits, a4, &r);
    CHECK_INT_EQ(r.code, OSR_EXIT_FAILURE);
    CHECK(strstr(r.err, "x.gguf") != NULL);
    free(r.out);
    char *a5[] = {"bench", NULL};
    run_cmd(osr_cmd_bench, a5, &r);
    CHECK_INT_EQ(r.code, OSR_EXIT_USAGE);
    CHECK(strstr(r.err, "--model is required") != NULL);
    free(r.out);
    char *a6[] = {"bench", "-m", "x.gguf", "-r", "0", NULL};
    run_cmd(osr_cmd_bench, a6, &r);
    CHECK_INT_EQ(r.code, OSR_EXIT_USAGE);
    free(r.out);
}

/* Runs the len7 prompt of the tiny model's reference and compares the output with it. */
static void test_against_reference(void)
{
    const char *dir = getenv("OSR_TESTDATA");
    char model[1024], refpath[1024];
    if (!dir) {
        fprintf(stderr, "skipping: OSR_TESTDATA is not set\n");
        return;
    }
    snprintf(model, sizeof(model), "%s/llama-2-tiny-random.gguf", dir);
    snprintf(refpath, sizeof(refpath), "%s/reference/llama-2-tiny-random.logits.json", dir);
    struct json_object *ref = load_json(refpath);
    if (!ref || access(model, R_OK) != 0) {
        fprintf(stderr, "skipping: llama-2-tiny-random model or reference not present\n");
        json_object_put(ref);
        return;
    }
    struct json_object *rp = NULL, *prompts = jget(ref, "prompts");
    for (size_t i = 0; i < json_object_array_length(prompts); i++)
        if (strcmp(json_object_get_string(jget(json_object_array_get_idx(prompts, i), "name")),
                   "len7") == 0)
            rp = json_object_array_get_idx(prompts, i);
    REQUIRE(rp != NULL);
    char ids[256] = "";
    struct json_object *toks = jget(rp, "tokens");
    for (size_t i = 0; i < json_object_array_length(toks); i++) {
        size_t l = strlen(ids);
        snprintf(ids + l, sizeof(ids) - l, "%s%d", i ? " " : "",
                 json_object_get_int(json_object_array_get_idx(toks, i)));
    }

    struct run r;
    char *argv[] = {"logits",   "--model", model,   "--tokens", ids,         "--tokens", "1",
                    "--greedy", "3",       "--top", "5",        "--threads", "2",        NULL};
    run_cmd(osr_cmd_logits, argv, &r);
    CHECK_INT_EQ(r.code, OSR_EXIT_OK);
    struct json_object *got = NULL;
    CHECK(osr_json_parse(r.out, r.out_len, &got, NULL) == OSR_OK);
    free(r.out);
    if (!got) {
        fprintf(stderr, "%s\n", r.err);
        json_object_put(ref);
        return;
    }
    CHECK_STR_EQ(json_object_get_string(jget(got, "format")), "refdump-logits-v1");
    CHECK_STR_EQ(json_object_get_string(jget(got, "model_sha256")),
                 json_object_get_string(jget(ref, "model_sha256")));
    CHECK_INT_EQ(json_object_get_int(jget(got, "n_vocab")), 32000);
    CHECK_INT_EQ(json_object_get_int(jget(jget(got, "settings"), "top_k")), 5);
    struct json_object *gp = jget(got, "prompts");
    REQUIRE(json_object_array_length(gp) == 2);
    struct json_object *p0 = json_object_array_get_idx(gp, 0);
    CHECK_INT_EQ(json_object_get_int(jget(p0, "n_tokens")), 7);

    /* prompt_top: 5 entries per position, sorted, matching the reference's first 5. */
    const double tol = 3e-4; /* 6e-3 of this model's logit std 0.056, as the reference test */
    struct json_object *pt = jget(p0, "prompt_top"), *rpt = jget(rp, "prompt_top");
    REQUIRE(json_object_array_length(pt) == 7);
    for (size_t i = 0; i < 7; i++) {
        struct json_object *top = jget(json_object_array_get_idx(pt, i), "top");
        struct json_object *rtop = jget(json_object_array_get_idx(rpt, i), "top");
        CHECK_INT_EQ(json_object_get_int(jget(json_object_array_get_idx(pt, i), "pos")), (int)i);
        REQUIRE(json_object_array_length(top) == 5);
        double prev = INFINITY;
        for (size_t k = 0; k < 5; k++) {
            struct json_object *e = json_object_array_get_idx(top, k);
            struct json_object *re = json_object_array_get_idx(rtop, k);
            double v = json_object_get_double(json_object_array_get_idx(e, 1));
            CHECK(v <= prev);
            prev = v;
            CHECK_INT_EQ(json_object_get_int(json_object_array_get_idx(e, 0)),
                         json_object_get_int(json_object_array_get_idx(re, 0)));
            CHECK(fabs(v - json_object_get_double(json_object_array_get_idx(re, 1))) < tol);
        }
    }
    struct json_object *last = jget(p0, "last_logits"), *rlast = jget(rp, "last_logits");
    REQUIRE(json_object_array_length(last) == 32000);
    double worst = 0;
    for (size_t v = 0; v < 32000; v++) {
        double d = fabs(json_object_get_double(json_object_array_get_idx(last, v)) -
                        json_object_get_double(json_object_array_get_idx(rlast, v)));
        worst = d > worst ? d : worst;
    }
    CHECK(worst < tol);
    /* Greedy steps: positions 7, 8, 9 and llama.cpp's tokens (its margins here are >= 3.4e-4). */
    struct json_object *gen = jget(p0, "generation"), *rgen = jget(rp, "generation");
    REQUIRE(json_object_array_length(gen) == 3);
    for (size_t s = 0; s < 3; s++) {
        struct json_object *g = json_object_array_get_idx(gen, s);
        struct json_object *rg = json_object_array_get_idx(rgen, s);
        CHECK_INT_EQ(json_object_get_int(jget(g, "step")), (int)s);
        CHECK_INT_EQ(json_object_get_int(jget(g, "pos")), 7 + (int)s);
        CHECK_INT_EQ(json_object_get_int(jget(g, "token")), json_object_get_int(jget(rg, "token")));
    }
    CHECK_INT_EQ(json_object_get_int(jget(p0, "next_token")),
                 json_object_get_int(jget(json_object_array_get_idx(rgen, 3), "token")));
    /* The second prompt ran in a fresh context: the BOS-only reference. */
    struct json_object *p1 = json_object_array_get_idx(gp, 1);
    CHECK_INT_EQ(json_object_get_int(jget(p1, "n_tokens")), 1);
    json_object_put(got);
    json_object_put(ref);
}

static void test_bench_runs(void)
{
    const char *dir = getenv("OSR_TESTDATA");
    char model[1024];
    if (!dir) {
        fprintf(stderr, "skipping: OSR_TESTDATA is not set\n");
        return;
    }
    snprintf(model, sizeof(model), "%s/llama-2-tiny-random.gguf", dir);
    if (access(model, R_OK) != 0) {
        fprintf(stderr, "skipping: llama-2-tiny-random.gguf not present\n");
        return;
    }
    struct run r;
    char *argv[] = {"bench", "-m", model, "-p", "16",     "-n", "4",
                    "-r",    "2",  "-t",  "1",  "--json", NULL};
    run_cmd(osr_cmd_bench, argv, &r);
    CHECK_INT_EQ(r.code, OSR_EXIT_OK);
    struct json_object *o = NULL;
    CHECK(osr_json_parse(r.out, r.out_len, &o, NULL) == OSR_OK);
    free(r.out);
    REQUIRE(o != NULL);
    struct json_object *res = jget(o, "results");
    REQUIRE(json_object_array_length(res) == 2);
    CHECK_STR_EQ(json_object_get_string(jget(json_object_array_get_idx(res, 0), "test")), "pp16");
    CHECK_STR_EQ(json_object_get_string(jget(json_object_array_get_idx(res, 1), "test")), "tg4");
    CHECK(json_object_get_double(jget(json_object_array_get_idx(res, 1), "avg_ts")) > 0);
    CHECK(json_object_get_double(jget(o, "peak_rss_mib")) > 0);
    CHECK(jget(o, "loadavg_start") != NULL);
    json_object_put(o);
}

TEST_MAIN(test_usage, test_against_reference, test_bench_runs)
