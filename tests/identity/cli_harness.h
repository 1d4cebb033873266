/* cli_harness.h - runs a command function with standard input, output and error redirected
 * to temporary files, for the CLI tests of this folder.  Include after check.h. */
#ifndef OSR_TEST_CLI_HARNESS_H
#define OSR_TEST_CLI_HARNESS_H

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "osr/cli.h"
#include "osr/cli_identity.h"
#include "osr/config.h"
#include "osr/err.h"

static char home[256];
static char out_text[8192], err_text[8192];

static void slurp(int fd, char *buf, size_t cap)
{
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, buf, cap - 1);
    buf[n > 0 ? n : 0] = 0;
}

/* Runs `identity <args...>` with the given standard input; returns the exit code. */
static int run(int (*cmd)(int, char **), const char *name, const char *stdin_text, int argc,
               const char **args)
{
    char *argv[16];
    argv[0] = (char *)name;
    for (int i = 0; i < argc && i < 14; i++)
        argv[i + 1] = (char *)args[i];
    argv[argc + 1] = NULL;

    FILE *in = tmpfile(), *out = tmpfile(), *err = tmpfile();
    OSR_ASSERT(in && out && err);
    if (stdin_text)
        fputs(stdin_text, in);
    fflush(in);
    lseek(fileno(in), 0, SEEK_SET);
    fflush(stdout);
    fflush(stderr);
    int saved[3] = {dup(0), dup(1), dup(2)};
    dup2(fileno(in), 0);
    dup2(fileno(out), 1);
    dup2(fileno(err), 2);
    int rc = cmd(argc + 1, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved[0], 0);
    dup2(saved[1], 1);
    dup2(saved[2], 2);
    for (int i = 0; i < 3; i++)
        close(saved[i]);
    slurp(fileno(out), out_text, sizeof(out_text));
    slurp(fileno(err), err_text, sizeof(err_text));
    fclose(in);
    fclose(out);
    fclose(err);
    return rc;
}

#define RUN_CMD(cmd, name, input, ...)                                                             \
    run(cmd, name, input, (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)),     \
        (const char *[]){__VA_ARGS__})
#define RUN_ID(input, ...) RUN_CMD(osr_cmd_identity, "identity", input, __VA_ARGS__)
#define RUN_KEYS(input, ...) RUN_CMD(osr_cmd_keys, "keys", input, __VA_ARGS__)

static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *p = osr_path_join(dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            rm_tree(p);
        else
            unlink(p);
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

static void make_home(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(home, sizeof(home), "%s/osr-cli-XXXXXX", t && *t ? t : "/tmp");
    OSR_ASSERT(mkdtemp(home) != NULL);
}

#endif
