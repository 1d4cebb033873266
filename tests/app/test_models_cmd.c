/* test_models_cmd.c - `osaurus models` run in-process (in a forked child with stdout and
 * stderr captured) over the fake machine of chat/model_fixture.h: list, add (copy, --name,
 * --link, split parts, refusals), rm and inspect, with their exit codes and output. */
#include <sys/wait.h>

#include "check.h"
#include "chat/model_fixture.h"
#include "osr/cli.h"
#include "osr/cli_models.h"
#include "osr/json.h"
#include "osr/log.h"

struct run {
    int code;
    char out[1 << 17];
    char err[8192];
};

static struct run r;
static bool skipped;

static void slurp_fd(int fd, char *buf, size_t cap)
{
    lseek(fd, 0, SEEK_SET);
    size_t n = 0;
    ssize_t k;
    while (n + 1 < cap && (k = read(fd, buf + n, cap - 1 - n)) > 0)
        n += (size_t)k;
    buf[n] = '\0';
}

/* Runs `models <args>`; NULL ends the list. */
static int run_models(const char *a0, ...)
{
    char *argv[16];
    int argc = 0;
    argv[argc++] = (char *)"models";
    va_list ap;
    va_start(ap, a0);
    for (const char *a = a0; a && argc < 15; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    char out_t[] = "/tmp/osr_models_outXXXXXX", err_t[] = "/tmp/osr_models_errXXXXXX";
    int out = mkstemp(out_t), err = mkstemp(err_t);
    unlink(out_t);
    unlink(err_t);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out, 1);
        dup2(err, 2);
        int code = osr_cmd_models(argc, argv);
        fflush(stdout);
        fflush(stderr);
        _exit(code);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    slurp_fd(out, r.out, sizeof(r.out));
    slurp_fd(err, r.err, sizeof(r.err));
    close(out);
    close(err);
    if (r.code != 0)
        fprintf(stderr, "  (models %s -> %d: %s)\n", a0 ? a0 : "", r.code, r.err);
    return r.code;
}

static void test_usage(void)
{
    CHECK_INT_EQ(run_models(NULL), OSR_EXIT_USAGE);
    CHECK_INT_EQ(run_models("frobnicate", NULL), OSR_EXIT_USAGE);
    CHECK(strstr(r.err, "unknown subcommand 'frobnicate'") != NULL);
    CHECK_INT_EQ(run_models("--help", NULL), OSR_EXIT_OK);
    CHECK(strstr(r.out, "inspect FILE") != NULL);
    CHECK_INT_EQ(run_models("add", NULL), OSR_EXIT_USAGE);
    CHECK_INT_EQ(run_models("rm", NULL), OSR_EXIT_USAGE);
    CHECK_INT_EQ(run_models("list", "--bogus", NULL), OSR_EXIT_USAGE);
}

static void test_list(void)
{
    CHECK_INT_EQ(run_models("list", NULL), OSR_EXIT_OK);
    CHECK(strstr(r.out, "ID") == r.out);
    CHECK(strstr(r.out, "llama-v2") != NULL);
    CHECK(strstr(r.out, "tiny:latest") != NULL);
    CHECK(strstr(r.out, "hf-model") != NULL);
    CHECK(strstr(r.out, "thing") != NULL);
    CHECK(strstr(r.out, "huggingface") != NULL);
    CHECK(strstr(r.out, "bd027a28acf9") != NULL); /* the Ollama blob's digest, shortened */

    CHECK_INT_EQ(run_models("list", "--json", NULL), OSR_EXIT_OK);
    struct json_object *arr = NULL;
    REQUIRE(osr_json_parse(r.out, strlen(r.out), &arr, NULL) == OSR_OK);
    REQUIRE(arr && json_object_is_type(arr, json_type_array));
    CHECK_INT_EQ(json_object_array_length(arr), 8);
    struct json_object *first = json_object_array_get_idx(arr, 0), *v;
    CHECK(json_object_object_get_ex(first, "id", &v) &&
          strcmp(json_object_get_string(v), "llama-v2") == 0);
    CHECK(json_object_object_get_ex(first, "size", &v) &&
          json_object_get_int64(v) == FIXTURE_TINY_SIZE);
    CHECK(json_object_object_get_ex(first, "context_length", &v) && json_object_get_int(v) == 4096);
    json_object_put(arr);
}

static void test_add_and_rm(void)
{
    char src[1200], p[700];
    fx_testfile("reference/synth-micro-Q4_0.gguf", src, sizeof(src));
    CHECK_INT_EQ(run_models("add", src, "--name", "Custom Name", NULL), OSR_EXIT_OK);
    CHECK(strstr(r.out, "added custom-name") == r.out);
    CHECK(strstr(r.out, "sha256 " FIXTURE_Q4_0_SHA256) != NULL);
    snprintf(p, sizeof(p), "%s/Custom_Name.gguf", fx.store);
    CHECK_INT_EQ(fx_size(p), 3072320);
    CHECK_INT_EQ(run_models("list", NULL), OSR_EXIT_OK);
    CHECK(strstr(r.out, "custom-name") != NULL);

    /* The same destination again is refused; so is a file that is not GGUF. */
    CHECK_INT_EQ(run_models("add", src, "--name", "Custom Name", NULL), OSR_EXIT_FAILURE);
    CHECK(strstr(r.err, "already exists") != NULL);
    snprintf(p, sizeof(p), "%s/corrupt.gguf", fx.store);
    CHECK_INT_EQ(run_models("add", p, "--name", "bad", NULL), OSR_EXIT_FAILURE);
    CHECK(strstr(r.err, "not a GGUF model file") != NULL);
    CHECK_INT_EQ(run_models("add", "/nonexistent/file.gguf", NULL), OSR_EXIT_FAILURE);
    snprintf(p, sizeof(p), "%s/half-00001-of-00003.gguf", fx.store);
    CHECK_INT_EQ(run_models("add", p, "--name", "half2", NULL), OSR_EXIT_FAILURE);
    CHECK(strstr(r.err, "part 2 of 3") != NULL);

    /* --link: a symlink, and the digest printed all the same. */
    fx_testfile("llama-2-tiny-random.gguf", src, sizeof(src));
    CHECK_INT_EQ(run_models("add", src, "--link", "--name", "linked tiny", NULL), OSR_EXIT_OK);
    CHECK(strstr(r.out, "linked linked-tiny") == r.out);
    snprintf(p, sizeof(p), "%s/linked_tiny.gguf", fx.store);
    struct stat st;
    CHECK(lstat(p, &st) == 0 && S_ISLNK(st.st_mode));

    /* Naming any part of a split model adds every part. */
    snprintf(p, sizeof(p), "%s/split-model-00002-of-00002.gguf", fx.store);
    CHECK_INT_EQ(run_models("add", p, "--name", "split copy", NULL), OSR_EXIT_OK);
    CHECK(strstr(r.out, "added split-copy") == r.out && strstr(r.out, "2 files") != NULL);
    snprintf(p, sizeof(p), "%s/split_copy-00001-of-00002.gguf", fx.store);
    CHECK(access(p, F_OK) == 0);
    snprintf(p, sizeof(p), "%s/split_copy-00002-of-00002.gguf", fx.store);
    CHECK(access(p, F_OK) == 0);

    CHECK_INT_EQ(run_models("rm", "split-copy", NULL), OSR_EXIT_OK);
    CHECK(strstr(r.out, "deleted split-copy") != NULL);
    CHECK(access(p, F_OK) != 0);
    CHECK_INT_EQ(run_models("rm", "Custom Name", NULL), OSR_EXIT_OK);
    snprintf(p, sizeof(p), "%s/Custom_Name.gguf", fx.store);
    CHECK(access(p, F_OK) != 0);
    CHECK_INT_EQ(run_models("rm", "linked-tiny", NULL), OSR_EXIT_OK);
    CHECK(access(src, R_OK) == 0); /* the link's target is untouched */

    CHECK_INT_EQ(run_models("rm", "tiny", NULL), OSR_EXIT_FAILURE);
    CHECK(strstr(r.err, "Ollama") != NULL);
    CHECK_INT_EQ(run_models("rm", "thing", NULL), OSR_EXIT_FAILURE);
    CHECK(strstr(r.err, "OSU_MODELS_DIR") != NULL);
    CHECK_INT_EQ(run_models("rm", "no-such-model", NULL), OSR_EXIT_FAILURE);
    CHECK(strstr(r.err, "not found") != NULL);
    CHECK_INT_EQ(run_models("list", "--json", NULL), OSR_EXIT_OK);
    CHECK(strstr(r.out, "custom-name") == NULL);
}

static void test_inspect(void)
{
    char src[1200];
    fx_testfile("llama-2-tiny-random.gguf", src, sizeof(src));
    CHECK_INT_EQ(run_models("inspect", src, NULL), OSR_EXIT_OK);
    CHECK(strstr(r.out, "GGUF v3") != NULL);
    CHECK(strstr(r.out, "metadata (18 keys)") != NULL);
    CHECK(strstr(r.out, "general.name") && strstr(r.out, "\"LLaMA v2\""));
    CHECK(strstr(r.out, "31992 more] (string[32000])") != NULL);
    CHECK(strstr(r.out, "tensors (12)") != NULL);
    CHECK(strstr(r.out, "token_embd.weight") != NULL);
    CHECK(strstr(r.out, "8 x 32000") != NULL);

    CHECK_INT_EQ(run_models("inspect", src, "--json", NULL), OSR_EXIT_OK);
    struct json_object *o = NULL, *md, *v, *ts;
    REQUIRE(osr_json_parse(r.out, strlen(r.out), &o, NULL) == OSR_OK);
    REQUIRE(json_object_object_get_ex(o, "metadata", &md));
    CHECK(json_object_object_get_ex(md, "llama.context_length", &v) &&
          json_object_get_int(v) == 4096);
    CHECK(json_object_object_get_ex(md, "tokenizer.ggml.tokens", &v) &&
          json_object_object_get_ex(v, "count", &v) && json_object_get_int(v) == 32000);
    REQUIRE(json_object_object_get_ex(o, "tensors", &ts));
    CHECK_INT_EQ(json_object_array_length(ts), 12);
    struct json_object *t0 = json_object_array_get_idx(ts, 0);
    CHECK(json_object_object_get_ex(t0, "size", &v) && json_object_get_int(v) == 512000);
    CHECK(json_object_object_get_ex(t0, "type", &v) &&
          strcmp(json_object_get_string(v), "F16") == 0);
    json_object_put(o);

    char p[700];
    snprintf(p, sizeof(p), "%s/corrupt.gguf", fx.store);
    CHECK_INT_EQ(run_models("inspect", p, NULL), OSR_EXIT_FAILURE);
    CHECK(strstr(r.err, "corrupt.gguf") != NULL);
    CHECK_INT_EQ(run_models("inspect", NULL), OSR_EXIT_USAGE);
}

static void test_setup(void)
{
    osr_log_set_level(OSR_LOG_ERROR);
    skipped = fixture_skip();
    if (!skipped)
        make_fixture();
}

#define RUN(fn)                                                                                    \
    static void run_##fn(void)                                                                     \
    {                                                                                              \
        if (!skipped)                                                                              \
            fn();                                                                                  \
    }

RUN(test_list)
RUN(test_add_and_rm)
RUN(test_inspect)

static void cleanup(void)
{
    remove_fixture();
}

TEST_MAIN(test_setup, test_usage, run_test_list, run_test_add_and_rm, run_test_inspect, cleanup)
