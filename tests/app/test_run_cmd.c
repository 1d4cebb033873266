/* test_run_cmd.c - `osaurus run` as a user runs it: the real binary (OSR_BINARY) in its own
 * session (no terminal), a temporary home whose providers/remote.json points at the scripted
 * model server in this process.  Checks the answer on standard output, the plan and tool
 * lines on standard error, exit codes, agent lookup by name, the interactive mode reading
 * standard input, a clarify without a terminal, and usage errors. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/script_upstream.h"
#include "check.h"
#include "osr/agents.h"
#include "osr/log.h"

static const char *const script_json =
    "{"
    "\"plan\":["
    " {\"text\":\"Planning.\",\"calls\":[{\"name\":\"todo\",\"arguments\":{\"markdown\":"
    "   \"- [ ] multiply\\n- [ ] report\"}}]},"
    " {\"calls\":[{\"name\":\"calculator\",\"arguments\":{\"expression\":\"6*7\"}},"
    "             {\"name\":\"todo\",\"arguments\":{\"markdown\":\"- [x] multiply\\n- [ ] "
    "report\"}}]},"
    " {\"calls\":[{\"name\":\"complete\",\"arguments\":{\"summary\":\"Multiplied six by seven "
    "with the calculator and got 42.\"}}]}"
    "],"
    "\"chat\":[{\"text\":\"Hello there.\"},{\"text\":\"Second answer.\"}],"
    "\"files\":["
    " {\"calls\":[{\"name\":\"file_read\",\"arguments\":{\"path\":\"greet.sh\"}}]},"
    " {\"calls\":[{\"name\":\"file_edit\",\"arguments\":{\"path\":\"greet.sh\",\"old_string\":"
    "   \"helo\",\"new_string\":\"hello\"}}]},"
    " {\"calls\":[{\"name\":\"shell_run\",\"arguments\":{\"command\":\"sh greet.sh > out.txt\"}}]},"
    " {\"calls\":[{\"name\":\"complete\",\"arguments\":{\"summary\":\"Fixed the typo in greet.sh "
    "and ran it into out.txt.\"}}]}"
    "],"
    "\"ask\":[{\"calls\":[{\"name\":\"clarify\",\"arguments\":{\"question\":\"Which one?\"}}]}]"
    "}";

static char home[256];
static struct script_upstream su;
static char out_text[65536], err_text[65536];

static void slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

/* Runs the binary with args and stdin_text; returns its exit status. */
static int run_bin(const char *stdin_text, const char *const *args)
{
    const char *bin = getenv("OSR_BINARY");
    if (!bin)
        return -1;
    char in[300], out[300], err[300];
    snprintf(in, sizeof(in), "%s/stdin.txt", home);
    snprintf(out, sizeof(out), "%s/stdout.txt", home);
    snprintf(err, sizeof(err), "%s/stderr.txt", home);
    FILE *f = fopen(in, "w");
    if (!f)
        return -1;
    fputs(stdin_text ? stdin_text : "", f);
    fclose(f);
    char *argv[24];
    int n = 0;
    argv[n++] = (char *)bin;
    argv[n++] = "run";
    argv[n++] = "--home";
    argv[n++] = home;
    for (int i = 0; args[i] && n < 22; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        setsid(); /* no controlling terminal: nobody to ask */
        int fi = open(in, O_RDONLY), fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600),
            fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fi, 0);
        dup2(fo, 1);
        dup2(fe, 2);
        execv(bin, argv);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    slurp(out, out_text, sizeof(out_text));
    slurp(err, err_text, sizeof(err_text));
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void test_setup(void)
{
    osr_log_set_level(OSR_LOG_ERROR);
    const char *tmp = getenv("TMPDIR");
    snprintf(home, sizeof(home), "%s/osr_run_cmd_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE(mkdtemp(home) != NULL);
    REQUIRE(getenv("OSR_BINARY") != NULL);
    setenv("HOME", home, 1);
    unsetenv("OLLAMA_MODELS");
    unsetenv("OSU_MODELS_DIR");
    unsetenv("HF_HOME");
    unsetenv("HF_HUB_CACHE");
    REQUIRE(script_upstream_start(&su, script_json) == 0);
    REQUIRE(script_upstream_write_remote(&su, home) == 0);
    struct osr_agents *st = osr_agents_open(home);
    struct json_object *f = NULL;
    const char *fj = "{\"name\":\"Calculator Helper\",\"defaultModel\":\"fake/plan\"}";
    osr_json_parse(fj, strlen(fj), &f, NULL);
    CHECK(osr_agents_create(st, f, NULL, NULL) == OSR_OK);
    json_object_put(f);
    osr_agents_free(st);
}

static void test_one_shot(void)
{
    const char *args[] = {"--agent", "calculator helper", "what", "is", "6*7?", NULL};
    CHECK_INT_EQ(run_bin(NULL, args), 0);
    CHECK_STR_EQ(out_text, "Planning.\n\nMultiplied six by seven with the calculator and got 42.\n");
    CHECK(strstr(err_text, "plan:\n  [ ] multiply\n  [ ] report\n") != NULL);
    CHECK(strstr(err_text, "  [x] multiply\n") != NULL);
    CHECK(strstr(err_text, "-> calculator {\"expression\":\"6*7\"}\n") != NULL);
    CHECK(strstr(err_text, "  ok: calculator (") != NULL);
    CHECK(strstr(err_text, "  ok: complete (") != NULL);

    const char *quiet[] = {"--quiet", "--model", "fake/plan", "6*7", NULL};
    CHECK_INT_EQ(run_bin(NULL, quiet), 0);
    CHECK(strstr(out_text, "got 42.") != NULL);
    CHECK_STR_EQ(err_text, "");
}

static void test_interactive(void)
{
    const char *args[] = {"--model", "fake/chat", NULL};
    CHECK_INT_EQ(run_bin("hi\n\nagain\n/exit\nnever sent\n", args), 0);
    CHECK_STR_EQ(out_text, "Hello there.\nSecond answer.\n");
    CHECK_INT_EQ(atomic_load(&su.requests) >= 2, 1);
}

static void test_clarify_without_terminal(void)
{
    const char *args[] = {"--model", "fake/ask", "do it", NULL};
    CHECK_INT_EQ(run_bin(NULL, args), 0);
    CHECK(strstr(out_text, "Which one?") != NULL);
    CHECK(strstr(err_text, "needs an answer") != NULL);
}

static void test_folder_task(void)
{
    char folder[512], path[700];
    snprintf(folder, sizeof(folder), "%s/proj", home);
    REQUIRE(osr_mkdir_p(folder, 0700, NULL) == OSR_OK);
    snprintf(path, sizeof(path), "%s/greet.sh", folder);
    REQUIRE(osr_write_file_atomic(path, "echo helo world\n", 16, 0600, NULL) == OSR_OK);
    /* without a terminal and without --yes, shell_run is refused */
    const char *refused[] = {"--model", "fake/files", "--folder", folder, "fix it", NULL};
    CHECK_INT_EQ(run_bin(NULL, refused), 0);
    CHECK(strstr(err_text, "failed: shell_run") != NULL);
    snprintf(path, sizeof(path), "%s/out.txt", folder);
    CHECK(access(path, F_OK) != 0);
    /* with --yes it runs */
    snprintf(path, sizeof(path), "%s/greet.sh", folder);
    REQUIRE(osr_write_file_atomic(path, "echo helo world\n", 16, 0600, NULL) == OSR_OK);
    const char *yes[] = {"--model", "fake/files", "--folder", folder, "--yes", "fix it", NULL};
    CHECK_INT_EQ(run_bin(NULL, yes), 0);
    CHECK(strstr(err_text, "ok: file_edit") != NULL);
    CHECK(strstr(err_text, "ok: shell_run") != NULL);
    CHECK(strstr(out_text, "ran it into out.txt") != NULL);
    char *data = NULL;
    size_t n = 0;
    CHECK(osr_read_file(path, 1024, &data, &n, NULL) == OSR_OK &&
          strcmp(data, "echo hello world\n") == 0);
    free(data);
    snprintf(path, sizeof(path), "%s/out.txt", folder);
    CHECK(osr_read_file(path, 1024, &data, &n, NULL) == OSR_OK && strcmp(data, "hello world\n") == 0);
    free(data);
    /* the commands were logged under the home, outside the folder */
    snprintf(path, sizeof(path), "%s/logs/folder-actions.jsonl", home);
    CHECK(osr_read_file(path, 1 << 20, &data, &n, NULL) == OSR_OK && strstr(data, "shell_run"));
    free(data);
}

static void test_errors(void)
{
    const char *noagent[] = {"--agent", "nobody", "x", NULL};
    CHECK_INT_EQ(run_bin(NULL, noagent), 1);
    CHECK(strstr(err_text, "no agent 'nobody'") != NULL);
    const char *nomodel[] = {"x", NULL}; /* the built-in agent has no default model */
    CHECK_INT_EQ(run_bin(NULL, nomodel), 2);
    CHECK(strstr(err_text, "no model") != NULL);
    const char *unknown[] = {"--model", "nowhere/none", "x", NULL};
    CHECK_INT_EQ(run_bin(NULL, unknown), 1);
    CHECK(strstr(err_text, "not found") != NULL);
    const char *badflag[] = {"--max-iterations", "0", "x", NULL};
    CHECK_INT_EQ(run_bin(NULL, badflag), 2);
    const char *help[] = {"--help", NULL};
    CHECK_INT_EQ(run_bin(NULL, help), 0);
    CHECK(strstr(out_text, "usage: osaurus run") != NULL);
}

static void test_teardown(void)
{
    script_upstream_stop(&su);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
    CHECK(system(cmd) == 0);
}

TEST_MAIN(test_setup, test_one_shot, test_interactive, test_clarify_without_terminal,
          test_folder_task, test_errors,
          test_teardown)
