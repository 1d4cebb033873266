/* test_cli.c - the real osaurus binary as a user runs it: version, help, exit codes, serve in
 * a temporary home, the discovery file, status, stop, SIGTERM, OSU_PORT, a bad config file,
 * a port in use. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "net/http_test_client.h"
#include "osr/clock.h"
#include "osr/config.h"
#include "osr/discovery.h"
#include "osr/json.h"

static const char *binary;
static char home[256];

/* Starts the binary with args (NULL-terminated, without argv[0]); stdout and stderr go to
 * <home>/out.txt and <home>/err.txt.  extra_env is "NAME=value" or NULL. */
static pid_t spawn(const char *const *args, const char *extra_env)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    char path[512];
    snprintf(path, sizeof(path), "%s/out.txt", home);
    int out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    snprintf(path, sizeof(path), "%s/err.txt", home);
    int err = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(out, 1);
    dup2(err, 2);
    const char *argv[16];
    int n = 0;
    argv[n++] = binary;
    for (int i = 0; args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    setenv("OSAURUS_HOME", home, 1);
    unsetenv("OSU_PORT");
    if (extra_env)
        putenv((char *)extra_env);
    execv(binary, (char *const *)argv);
    _exit(127);
}

static int wait_exit(pid_t pid)
{
    int st = 0;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int run(const char *const *args, const char *extra_env)
{
    return wait_exit(spawn(args, extra_env));
}

static char *slurp(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", home, name);
    char *text = NULL;
    size_t len;
    if (osr_read_file(path, 1 << 20, &text, &len, NULL) != OSR_OK)
        return strdup("");
    return text;
}

/* Waits (bounded) until a running instance shows up; returns its port or -1. */
static int wait_running(struct osr_instance *inst)
{
    for (int i = 0; i < 1000; i++) {
        if (osr_discovery_find(home, inst) == OSR_OK && inst->port > 0)
            return inst->port;
        osr_sleep_ms(10);
    }
    return -1;
}

static void test_version_and_help(void)
{
    const char *v[] = {"version", NULL};
    CHECK_INT_EQ(run(v, NULL), 0);
    char *out = slurp("out.txt");
    CHECK(strncmp(out, "osaurus ", 8) == 0 && strstr(out, OSR_VERSION));
    free(out);
    const char *v2[] = {"--version", NULL};
    CHECK_INT_EQ(run(v2, NULL), 0);
    const char *h[] = {"help", NULL};
    CHECK_INT_EQ(run(h, NULL), 0);
    out = slurp("out.txt");
    CHECK(strstr(out, "serve") && strstr(out, "status") && strstr(out, "stop"));
    free(out);
    const char *cmds[] = {"serve", "status", "stop", "version"};
    for (size_t i = 0; i < 4; i++) {
        const char *a[] = {cmds[i], "--help", NULL};
        CHECK_INT_EQ(run(a, NULL), 0);
        out = slurp("out.txt");
        CHECK(strstr(out, "usage: osaurus") != NULL);
        free(out);
        const char *b[] = {"help", cmds[i], NULL};
        CHECK_INT_EQ(run(b, NULL), 0);
    }
    const char *none[] = {NULL};
    CHECK_INT_EQ(run(none, NULL), 2);
    const char *bogus[] = {"bogus", NULL};
    CHECK_INT_EQ(run(bogus, NULL), 2);
    const char *badport[] = {"serve", "--port", "70000", NULL};
    CHECK_INT_EQ(run(badport, NULL), 2);
    const char *extra[] = {"status", "extra", NULL};
    CHECK_INT_EQ(run(extra, NULL), 2);
    /* Exposing needs a yes when nobody can be asked. */
    const char *expose[] = {"serve", "--expose", "--port", "0", NULL};
    CHECK_INT_EQ(run(expose, NULL), 2);
}

static void test_serve_status_stop(void)
{
    const char *status[] = {"status", "--port", "1", NULL};
    CHECK_INT_EQ(run(status, NULL), 1);
    const char *stop[] = {"stop", NULL};
    CHECK_INT_EQ(run(stop, NULL), 1);

    const char *serve[] = {"serve", "--port", "0", NULL};
    pid_t pid = spawn(serve, NULL);
    struct osr_instance inst;
    int port = wait_running(&inst);
    REQUIRE(port > 0);
    CHECK_INT_EQ(inst.pid, pid);
    CHECK_STR_EQ(inst.address, "127.0.0.1");
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/health", port);
    struct test_resp r = test_request(NULL, "GET", url, NULL, 0, NULL);
    CHECK_INT_EQ(r.status, 200);
    CHECK(strstr(osr_buf_str(&r.body), "\"healthy\"") != NULL);
    test_resp_release(&r);

    /* status finds it through the discovery file (this spawn overwrites out.txt). */
    const char *st[] = {"status", NULL};
    int rc = wait_exit(spawn(st, NULL));
    CHECK_INT_EQ(rc, 0);
    char *out = slurp("out.txt");
    char want[64];
    snprintf(want, sizeof(want), ":%d", port);
    CHECK(strstr(out, "is running") && strstr(out, want));
    free(out);

    /* A second server on the same port cannot start: exit 4. */
    char portarg[16];
    snprintf(portarg, sizeof(portarg), "%d", port);
    const char *again[] = {"serve", "--port", portarg, NULL};
    CHECK_INT_EQ(run(again, NULL), 4);
    char *err = slurp("err.txt");
    CHECK(strstr(err, "in use") != NULL);
    free(err);

    /* stop signals it and waits; the server exits 0 and removes its file. */
    CHECK_INT_EQ(run(stop, NULL), 0);
    CHECK_INT_EQ(wait_exit(pid), 0);
    CHECK(osr_discovery_find(home, &inst) == OSR_ENOTFOUND);
    char path[512];
    snprintf(path, sizeof(path), "%s/runtime/%s", home, inst.instance_id);
    struct stat sb;
    CHECK(stat(path, &sb) != 0);
    CHECK_INT_EQ(run(status, NULL), 1);
}

static void test_sigint_and_osu_port(void)
{
    /* Pick a free port, then ask for it through OSU_PORT. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {0};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&sin, sizeof(sin));
    socklen_t sl = sizeof(sin);
    getsockname(fd, (struct sockaddr *)&sin, &sl);
    int want = ntohs(sin.sin_port);
    close(fd);
    static char env[32];
    snprintf(env, sizeof(env), "OSU_PORT=%d", want);
    const char *serve[] = {"serve", NULL};
    pid_t pid = spawn(serve, env);
    struct osr_instance inst;
    CHECK_INT_EQ(wait_running(&inst), want);
    kill(pid, SIGINT);
    CHECK_INT_EQ(wait_exit(pid), 0);
    char *err = slurp("err.txt");
    CHECK(strstr(err, "SIGINT") != NULL);
    free(err);
    CHECK(osr_discovery_find(home, &inst) == OSR_ENOTFOUND);
}

static void test_stale_discovery_file(void)
{
    /* A file left by a killed server is ignored by status and cleaned by the next serve. */
    struct osr_instance dead = {0};
    snprintf(dead.instance_id, sizeof(dead.instance_id), "dead-instance");
    snprintf(dead.health, sizeof(dead.health), "running");
    snprintf(dead.address, sizeof(dead.address), "127.0.0.1");
    dead.port = 1;
    dead.pid = 999999;
    REQUIRE(osr_discovery_write(home, &dead, NULL) == OSR_OK);
    struct osr_instance found;
    CHECK(osr_discovery_find(home, &found) == OSR_ENOTFOUND);
    CHECK_INT_EQ(osr_discovery_clean_stale(home), 1);
    CHECK_INT_EQ(osr_discovery_clean_stale(home), 0);
}

static void test_bad_config(void)
{
    char dir[512], file[600];
    snprintf(dir, sizeof(dir), "%s/config", home);
    osr_mkdir_p(dir, 0700, NULL);
    snprintf(file, sizeof(file), "%s/server.json", dir);
    const char *bad = "{\"port\": \"1337\", \"hideDockIcon\": true}";
    REQUIRE(osr_write_file_atomic(file, bad, strlen(bad), 0600, NULL) == OSR_OK);
    const char *serve[] = {"serve", NULL};
    CHECK_INT_EQ(run(serve, NULL), 3);
    char *err = slurp("err.txt");
    CHECK(strstr(err, "server.json") && strstr(err, "'port'") && strstr(err, "integer"));
    free(err);
    const char *broken = "{\"port\": 13";
    osr_write_file_atomic(file, broken, strlen(broken), 0600, NULL);
    CHECK_INT_EQ(run(serve, NULL), 3);
    err = slurp("err.txt");
    CHECK(strstr(err, "server.json") && strstr(err, "invalid JSON"));
    free(err);
    unlink(file);
}

static void setup(void)
{
    binary = getenv("OSR_BINARY");
    const char *tmp = getenv("TMPDIR");
    snprintf(home, sizeof(home), "%s/osr-cli-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!binary || !mkdtemp(home)) {
        fprintf(stderr, "OSR_BINARY not set or no temp dir\n");
        exit(1);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void test_setup(void)
{
    setup();
    CHECK(binary != NULL);
}

static void cleanup(void)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
    CHECK(system(cmd) == 0);
}

TEST_MAIN(test_setup, test_version_and_help, test_serve_status_stop, test_sigint_and_osu_port,
          test_stale_discovery_file, test_bad_config, cleanup)
