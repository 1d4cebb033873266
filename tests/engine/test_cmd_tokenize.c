/* test_cmd_tokenize.c - `osaurus tokenize` run in-process (in a forked child, with stdin and
 * stdout redirected to temporary files): output format, flags and exit codes. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "osr/cli.h"
#include "osr/cli_tokenize.h"
#include "osr/config.h"

struct run {
    int code;
    char out[4096];
    char err[4096];
};

static void slurp_fd(int fd, char *buf, size_t cap)
{
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, buf, cap - 1);
    buf[n > 0 ? n : 0] = '\0';
}

/* Runs osr_cmd_tokenize(argv) with `input` on stdin. */
static void run_cmd(char **argv, const char *input, struct run *r)
{
    char in_t[] = "/tmp/osr_tok_inXXXXXX", out_t[] = "/tmp/osr_tok_outXXXXXX",
         err_t[] = "/tmp/osr_tok_errXXXXXX";
    int in = mkstemp(in_t), out = mkstemp(out_t), err = mkstemp(err_t);
    unlink(in_t);
    unlink(out_t);
    unlink(err_t);
    if (write(in, input, strlen(input)) != (ssize_t)strlen(input))
        r->code = -1;
    lseek(in, 0, SEEK_SET);
    int argc = 0;
    while (argv[argc])
        argc++;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in, 0);
        dup2(out, 1);
        dup2(err, 2);
        int code = osr_cmd_tokenize(argc, argv);
        fflush(stdout);
        fflush(stderr);
        _exit(code);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    r->code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    slurp_fd(out, r->out, sizeof(r->out));
    slurp_fd(err, r->err, sizeof(r->err));
    close(in);
    close(out);
    close(err);
}

static void test_usage_errors(void)
{
    struct run r;
    char *a1[] = {"tokenize", NULL};
    run_cmd(a1, "x", &r);
    CHECK_INT_EQ(r.code, OSR_EXIT_USAGE);
    CHECK(strstr(r.err, "--model is required") != NULL);
    char *a2[] = {"tokenize", "--bogus", NULL};
    run_cmd(a2, "x", &r);
    CHECK_INT_EQ(r.code, OSR_EXIT_USAGE);
    char *a3[] = {"tokenize", "--model", "x.gguf", "extra", NULL};
    run_cmd(a3, "x", &r);
    CHECK_INT_EQ(r.code, OSR_EXIT_USAGE);
    CHECK(strstr(r.err, "unexpected argument 'extra'") != NULL);
    char *a4[] = {"tokenize", "--help", NULL};
    run_cmd(a4, "", &r);
    CHECK_INT_EQ(r.code, OSR_EXIT_OK);
    CHECK(strstr(r.out, "usage: osaurus tokenize") != NULL);
    char *a5[] = {"tokenize", "--model", "/nonexistent/model.gguf", NULL};
    run_cmd(a5, "x", &r);
    CHECK_INT_EQ(r.code, OSR_EXIT_FAILURE);
    CHECK(strstr(r.err, "cannot open") != NULL);
}

static void test_tokenize_llama3(void)
{
    const char *dir = getenv("OSR_TESTDATA");
    if (!dir) {
        printf("skipping: OSR_TESTDATA not set\n");
        return;
    }
    char *model = osr_path_join(dir, "ggml-vocab-llama-bpe.gguf");
    if (access(model, R_OK) != 0) {
        printf("skipping: %s not present\n", model);
        free(model);
        return;
    }
    struct run r;
    char *a1[] = {"tokenize", "--model", model, NULL};
    run_cmd(a1, "Hello world", &r);
    CHECK_INT_EQ(r.code, OSR_EXIT_OK);
    CHECK_STR_EQ(r.out, "9906 1917\n");
    char *a2[] = {"tokenize", "--add-special", "--model", model, NULL};
    run_cmd(a2, "Hello world", &r);
    CHECK_STR_EQ(r.out, "128000 9906 1917\n");
    char *a3[] = {"tokenize", "-m", model, "--parse-special", NULL};
    run_cmd(a3, "<|eot_id|>", &r);
    CHECK_STR_EQ(r.out, "128009\n");
    run_cmd(a1, "", &r);
    CHECK_INT_EQ(r.code, OSR_EXIT_OK);
    CHECK_STR_EQ(r.out, "\n");
    char *dir_copy = strdup(dir);
    char *a4[] = {"tokenize", "--model", dir_copy, NULL}; /* a directory, not a file */
    run_cmd(a4, "x", &r);
    CHECK_INT_EQ(r.code, OSR_EXIT_FAILURE);
    free(dir_copy);
    free(model);
}

TEST_MAIN(test_usage_errors, test_tokenize_llama3)
