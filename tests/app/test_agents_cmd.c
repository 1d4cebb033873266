/* test_agents_cmd.c - `osaurus agents` through the real binary with a temporary --home:
 * create, list (text and --json), show, rm, the built-in refusal and usage errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "check.h"
#include "osr/agents.h"

static char g_home[256];
static const char *g_bin;

/* Runs `osaurus agents ARGS --home HOME`, captures stdout into out; returns the exit code. */
static int run(const char *args, char *out, size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s' agents %s --home '%s' 2>/dev/null", g_bin, args, g_home);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_cli(void)
{
    g_bin = getenv("OSR_BINARY");
    if (!g_bin) {
        printf("skipping: OSR_BINARY not set\n");
        return;
    }
    snprintf(g_home, sizeof(g_home), "/tmp/osr_agents_cmd_XXXXXX");
    REQUIRE(mkdtemp(g_home) != NULL);
    static char out[65536];

    CHECK_INT_EQ(run("create --name Helper --model qwen --prompt 'be kind' --temperature 0.4",
                     out, sizeof(out)),
                 0);
    char id[64] = "";
    sscanf(out, "%63s", id);
    CHECK_INT_EQ(strlen(id), 36);

    CHECK_INT_EQ(run("list", out, sizeof(out)), 0);
    CHECK(strstr(out, "Helper") != NULL);
    CHECK(strstr(out, OSR_AGENT_DEFAULT_ID) != NULL);
    CHECK_INT_EQ(run("list --json", out, sizeof(out)), 0);
    CHECK(strstr(out, "\"be kind\"") != NULL);

    char args[128];
    snprintf(args, sizeof(args), "show %s", id);
    CHECK_INT_EQ(run(args, out, sizeof(out)), 0);
    CHECK(strstr(out, "\"qwen\"") != NULL);

    CHECK_INT_EQ(run("create --name Bad --temperature 9", out, sizeof(out)), 2);
    CHECK_INT_EQ(run("create --model x", out, sizeof(out)), 2);
    CHECK_INT_EQ(run("frobnicate", out, sizeof(out)), 2);
    CHECK_INT_EQ(run("rm " OSR_AGENT_DEFAULT_ID, out, sizeof(out)), 1);

    snprintf(args, sizeof(args), "rm %s", id);
    CHECK_INT_EQ(run(args, out, sizeof(out)), 0);
    snprintf(args, sizeof(args), "show %s", id);
    CHECK_INT_EQ(run(args, out, sizeof(out)), 1);
    CHECK_INT_EQ(run("list", out, sizeof(out)), 0);
    CHECK(strstr(out, "Helper") == NULL);

    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_home);
    CHECK(system(cmd) == 0);
}

TEST_MAIN(test_cli)
