/* Tests the OSR_KERNELS override: the table is chosen once per process, so each choice runs
 * in a child process (this same executable, re-executed with the variable set) which checks
 * the name it got. */
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "osr/kernels.h"

extern char **environ;

/* Runs this executable with OSR_KERNELS=value; returns its exit status (or -1). */
static int run_child(const char *value)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    char kv[128];
    snprintf(kv, sizeof(kv), "OSR_KERNELS=%s", value);
    /* the parent's environment minus any OSR_KERNELS, plus ours */
    char *envp[512];
    size_t k = 0;
    for (char **e = environ; *e && k < 510; e++)
        if (strncmp(*e, "OSR_KERNELS=", 12) != 0)
            envp[k++] = *e;
    envp[k++] = kv;
    envp[k] = NULL;
    char *argv[] = { self, NULL };
    pid_t pid;
    if (posix_spawn(&pid, self, NULL, NULL, argv, envp) != 0)
        return -1;
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static void test_override(void)
{
    const char *want = getenv("OSR_KERNELS");
    const struct osr_kernels *k = osr_kernels_get();
    if (want) { /* the child: the table must be the one asked for, or the best as fallback */
        const struct osr_kernels *named = osr_kernels_by_name(want);
        if (named) {
            CHECK_STR_EQ(k->name, want);
        } else {
            const struct osr_kernels *best = NULL;
            for (int i = 0; i < OSR_ISA_COUNT; i++)
                if (osr_kernels_for_isa((enum osr_isa)i))
                    best = osr_kernels_for_isa((enum osr_isa)i);
            CHECK(k == best);
        }
        return;
    }
    const char *names[] = { "scalar", "avx2", "avx512", "avx512vnni", "nonsense" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (i < 4 && !osr_kernels_by_name(names[i])) {
            printf("skipping %s: this CPU lacks it\n", names[i]);
            continue;
        }
        int rc = run_child(names[i]);
        if (rc != 0)
            fprintf(stderr, "child with OSR_KERNELS=%s exited %d\n", names[i], rc);
        CHECK_INT_EQ(rc, 0);
    }
}

/* OSR_GEMM16=off clears the panel kernels of every table; without it the VNNI table has them
 * for Q4_0 and Q8_0. */
static void test_gemm16_switch(void)
{
    const char *g = getenv("OSR_GEMM16");
    if (g) { /* the child */
        for (int i = 0; i < OSR_ISA_COUNT; i++) {
            const struct osr_kernels *k = osr_kernels_for_isa((enum osr_isa)i);
            for (int t = 0; k && t < OSR_QTYPE_COUNT; t++)
                CHECK(k->gemm16[t] == NULL);
        }
        return;
    }
    if (getenv("OSR_KERNELS"))
        return; /* a child of test_override */
    const struct osr_kernels *v = osr_kernels_by_name("avx512vnni");
    if (!v) {
        printf("skipping gemm16 switch: this CPU lacks avx512vnni\n");
        return;
    }
    CHECK(v->gemm16[OSR_QTYPE_Q4_0] != NULL && v->gemm16[OSR_QTYPE_Q8_0] != NULL);
    CHECK(v->gemm16[OSR_QTYPE_F16] == NULL);
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    REQUIRE(n > 0);
    self[n] = '\0';
    char *envp[512];
    size_t k = 0;
    for (char **e = environ; *e && k < 509; e++)
        if (strncmp(*e, "OSR_KERNELS=", 12) != 0)
            envp[k++] = *e;
    envp[k++] = "OSR_KERNELS=avx512vnni"; /* so the child's test_override only checks */
    envp[k++] = "OSR_GEMM16=off";
    envp[k] = NULL;
    char *argv[] = {self, NULL};
    pid_t pid;
    REQUIRE(posix_spawn(&pid, self, NULL, NULL, argv, envp) == 0);
    int status;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST_MAIN(test_override, test_gemm16_switch)
