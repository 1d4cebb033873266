/* folder_shell.c - commands in the working folder: the runner, shell_run and the git tools.
 *
 * The runner spawns with posix_spawn (no fork of a multithreaded daemon): the child gets the
 * folder as its working directory through the folder's fd (never a path string), a process
 * group of its own, /dev/null as stdin, one pipe for stdout and stderr, and no other inherited
 * fds.  The parent keeps the output's head and (for shell_run) its tail within the cap and
 * drains what lies between, so the child never blocks on a full pipe; at the deadline sends SIGTERM
 * to the whole group, then SIGKILL after a grace second.  When the command ends, whatever it left
 * running in its group is killed before the exit status is reaped, so the group id cannot have been
 * reused. Variables named OSAURUS_* (the daemon's own secrets) are not passed on.
 *
 * git runs through the same runner without a shell (argv exec), confined to the folder's own
 * repository (GIT_DIR=.git, GIT_WORK_TREE=.), never a repository above it, with literal
 * pathspecs and the fsmonitor hook, external diff drivers and textconv filters off.  Other
 * programs a configuration can name (clean filters) need a write to .git/config, which the
 * file tools refuse; git_commit runs the repository's hooks, as an approved commit should.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "folder_internal.h"
#include "osr/alloc.h"
#include "osr/clock.h"
#include "osr/json.h"

#define KILL_GRACE_MS 1000
#define EXIT_DRAIN_MS 500
#define ENV_MAX 4096

extern char **environ;

/* A new NULL-terminated environment: ours without OSAURUS_*, plus extra (which wins). */
static char **build_env(const char *const *extra)
{
    size_t n = 0, ne = 0;
    while (environ && environ[n])
        n++;
    while (extra && extra[ne])
        ne++;
    if (n > ENV_MAX)
        n = ENV_MAX;
    char **env = osr_xcalloc(n + ne + 1, sizeof(*env));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *e = environ[i];
        if (strncmp(e, "OSAURUS_", 8) == 0)
            continue;
        bool overridden = false;
        const char *eq = strchr(e, '=');
        for (size_t j = 0; eq && j < ne && !overridden; j++)
            overridden = strncmp(extra[j], e, (size_t)(eq - e) + 1) == 0;
        if (!overridden)
            env[k++] = (char *)e;
    }
    for (size_t j = 0; j < ne; j++)
        env[k++] = (char *)extra[j];
    env[k] = NULL;
    return env;
}

/* True once pid has ended; it stays a zombie (not reaped) so its group id stays ours. */
static bool has_exited(pid_t pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
        return errno == ECHILD; /* someone else reaped it: nothing left to wait for */
    return si.si_pid == pid;
}

/* The capped output: the first head_cap bytes, then a ring of the last tail_cap bytes. */
struct capture {
    struct osr_buf *head;
    size_t head_cap;
    char *ring;
    size_t tail_cap, ring_start, ring_len;
    unsigned long long dropped;
};

static void capture_add(struct capture *c, const char *p, size_t n)
{
    size_t room = c->head_cap - c->head->len;
    size_t take = n < room ? n : room;
    if (take)
        osr_buf_append(c->head, p, take);
    p += take;
    n -= take;
    if (n == 0)
        return;
    if (c->tail_cap == 0) {
        c->dropped += n;
        return;
    }
    if (n >= c->tail_cap) {
        c->dropped += c->ring_len + (n - c->tail_cap);
        memcpy(c->ring, p + n - c->tail_cap, c->tail_cap);
        c->ring_start = 0;
        c->ring_len = c->tail_cap;
        return;
    }
    size_t over = c->ring_len + n > c->tail_cap ? c->ring_len + n - c->tail_cap : 0;
    c->dropped += over;
    c->ring_start = (c->ring_start + over) % c->tail_cap;
    c->ring_len -= over;
    for (size_t i = 0; i < n; i++)
        c->ring[(c->ring_start + c->ring_len + i) % c->tail_cap] = p[i];
    c->ring_len += n;
}

/* Appends the marker and the tail to the head; true when bytes were left out. */
static bool capture_finish(struct capture *c)
{
    if (c->dropped)
        osr_buf_appendf(c->head, "\n[... %llu bytes omitted ...]\n", c->dropped);
    size_t first = c->ring_len;
    if (c->ring_start + first > c->tail_cap)
        first = c->tail_cap - c->ring_start;
    if (first)
        osr_buf_append(c->head, c->ring + c->ring_start, first);
    if (c->ring_len > first)
        osr_buf_append(c->head, c->ring, c->ring_len - first);
    free(c->ring);
    c->ring = NULL;
    return c->dropped != 0;
}

int osr_folder_run(struct osr_folder *f, char *const argv[], const char *const *env_extra,
                   int timeout_ms, bool keep_tail, struct osr_folder_run *run,
                   struct osr_tool_out *out)
{
    memset(run, 0, sizeof(*run));
    /* Room for the omission marker on top of the cap. */
    osr_buf_init(&run->output, f->output_cap + 64);
    struct capture cap = {.head = &run->output,
                          .head_cap = keep_tail ? f->output_cap / 2 : f->output_cap};
    cap.tail_cap = f->output_cap - cap.head_cap;
    cap.ring = cap.tail_cap ? osr_xmalloc(cap.tail_cap) : NULL;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, NULL, NULL, "cannot create a pipe: %s",
                          strerror(errno));
        free(cap.ring);
        osr_buf_release(&run->output);
        return OSR_EIO;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_adddup2(&fa, p[1], 2);
    posix_spawn_file_actions_addfchdir_np(&fa, f->dirfd);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    int sigs[] = {SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaddset(&defaults, sigs[i]);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    char **env = build_env(env_extra);
    pid_t pid = -1;
    int64_t t0 = osr_mono_ns();
    int err = strchr(argv[0], '/') ? posix_spawn(&pid, argv[0], &fa, &attr, argv, env)
                                   : posix_spawnp(&pid, argv[0], &fa, &attr, argv, env);
    free(env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(p[1]);
    if (err) {
        close(p[0]);
        free(cap.ring);
        osr_buf_release(&run->output);
        osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, NULL, NULL, "cannot run '%.100s': %s",
                          argv[0], strerror(err));
        return OSR_EIO;
    }
    int64_t deadline = t0 + (int64_t)timeout_ms * 1000000;
    int64_t term_at = 0, exit_at = 0;
    bool exited = false, eof = false, killed = false;
    char chunk[16384];
    for (;;) {
        int64_t now = osr_mono_ns();
        if (!exited && has_exited(pid)) {
            exited = true;
            exit_at = now;
        }
        if (exited && (eof || now - exit_at >= (int64_t)EXIT_DRAIN_MS * 1000000))
            break; /* done, or a leftover background process still holds the pipe */
        if (!exited && !term_at && now >= deadline) {
            run->timed_out = true;
            kill(-pid, SIGTERM);
            term_at = now;
        } else if (!exited && !term_at && osr_tool_cancelled()) {
            run->cancelled = true; /* the agent run was cancelled: stop the command too */
            kill(-pid, SIGTERM);
            term_at = now;
        }
        if (!exited && term_at && !killed && now - term_at >= (int64_t)KILL_GRACE_MS * 1000000) {
            kill(-pid, SIGKILL);
            killed = true;
        }
        if (eof) {
            osr_sleep_ms(10);
            continue;
        }
        struct pollfd pfd = {.fd = p[0], .events = POLLIN};
        int pr = poll(&pfd, 1, 20);
        if (pr <= 0)
            continue;
        ssize_t r = read(p[0], chunk, sizeof(chunk));
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0) {
            eof = true;
            continue;
        }
        capture_add(&cap, chunk, (size_t)r); /* past the cap: keep reading, drop bytes */
    }
    run->truncated = capture_finish(&cap);
    close(p[0]);
    kill(-pid, SIGKILL); /* what it left behind in its group; the zombie keeps the id ours */
    int status = 0;
    pid_t w;
    while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    run->duration_ms = (osr_mono_ns() - t0) / 1000000;
    if (w != pid) {
        /* Reaped behind our back (SIGCHLD ignored by the embedding program). */
        run->exit_code = -1;
        osr_tool_out_warn(out, "the command's exit status was lost (SIGCHLD is ignored)");
    } else if (WIFEXITED(status)) {
        run->exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        run->signal = WTERMSIG(status);
        run->exit_code = 128 + run->signal;
    }
    if (!run->output.data)
        osr_buf_puts(&run->output, ""); /* an empty output is still a string */
    return OSR_OK;
}

/* --- shell_run ------------------------------------------------------------------------------ */

static struct json_object *run_result(struct osr_folder_run *run)
{
    struct json_object *res = json_object_new_object();
    json_object_object_add(res, "exit_code", json_object_new_int(run->exit_code));
    if (run->signal)
        json_object_object_add(res, "signal", json_object_new_int(run->signal));
    json_object_object_add(res, "output",
                           osr_json_new_string(osr_buf_str(&run->output), run->output.len));
    json_object_object_add(res, "output_truncated", json_object_new_boolean(run->truncated));
    json_object_object_add(res, "timed_out", json_object_new_boolean(run->timed_out));
    json_object_object_add(res, "duration_ms", json_object_new_int64(run->duration_ms));
    return res;
}

static void log_run(struct osr_folder *f, const char *tool, const char *command,
                    const struct osr_folder_run *run, struct osr_tool_out *out)
{
    struct json_object *e = json_object_new_object();
    json_object_object_add(e, "command", osr_json_new_string(command, strlen(command)));
    json_object_object_add(e, "exit_code", json_object_new_int(run->exit_code));
    json_object_object_add(e, "timed_out", json_object_new_boolean(run->timed_out));
    json_object_object_add(e, "bytes", json_object_new_int64((int64_t)run->output.len));
    osr_folder_log(f, tool, e, out);
}

void osr_folder_tool_shell_run(void *ctx, struct json_object *args, struct osr_tool_out *out)
{
    struct osr_folder *f = ctx;
    struct json_object *v = NULL;
    json_object_object_get_ex(args, "command", &v);
    const char *command = json_object_get_string(v);
    if (strlen(command) != (size_t)json_object_get_string_len(v)) {
        osr_tool_out_fail(out, OSR_TOOL_INVALID_ARGS, "command", "a command without NUL",
                          "command contains a NUL character");
        return;
    }
    int timeout = f->shell_timeout_ms;
    if (json_object_object_get_ex(args, "timeout_ms", &v) && v) {
        int64_t t = json_object_get_int64(v);
        timeout = t > OSR_FOLDER_SHELL_TIMEOUT_MAX_MS ? OSR_FOLDER_SHELL_TIMEOUT_MAX_MS : (int)t;
    }
    char *argv[] = {"/bin/sh", "-c", (char *)command, NULL};
    struct osr_folder_run run;
    if (osr_folder_run(f, argv, NULL, timeout, true, &run, out))
        return;
    log_run(f, "shell_run", command, &run, out);
    if (run.cancelled)
        osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, NULL, NULL,
                          "the command was stopped after %lld ms: the run was cancelled",
                          (long long)run.duration_ms);
    else
        out->result = run_result(&run);
    osr_buf_release(&run.output);
}

/* --- git ------------------------------------------------------------------------------------ */

#define GIT_ARGV_MAX 128

static const char *const git_env[] = {
    "GIT_DIR=.git",         "GIT_WORK_TREE=.", "GIT_TERMINAL_PROMPT=0", "GIT_LITERAL_PATHSPECS=1",
    "GIT_OPTIONAL_LOCKS=0", "LC_ALL=C",        "GIT_PAGER=cat",         NULL};

/* The folder must hold its own repository: .git beneath it (a directory, or a gitfile). */
static bool git_repo_ok(struct osr_folder *f, struct osr_tool_out *out)
{
    int fd = osr_folder_openat(f->dirfd, ".git", O_PATH, 0, 0);
    if (fd >= 0) {
        close(fd);
        return true;
    }
    if (fd == -ENOENT)
        osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, NULL, NULL,
                          "the working folder is not a git repository (it has no .git)");
    else
        osr_folder_open_fail(out, NULL, ".git", -fd);
    return false;
}

/* Runs git with the fixed safety options followed by args (NULL-terminated). */
static int run_git(struct osr_folder *f, const char *const *args, struct osr_folder_run *run,
                   struct osr_tool_out *out)
{
    const char *argv[GIT_ARGV_MAX + 8];
    size_t n = 0;
    argv[n++] = "git";
    argv[n++] = "--no-pager";
    argv[n++] = "-c";
    argv[n++] = "core.fsmonitor=false";
    argv[n++] = "-c";
    argv[n++] = "core.quotepath=off";
    for (size_t i = 0; args[i] && i < GIT_ARGV_MAX; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    return osr_folder_run(f, (char *const *)argv, git_env, f->shell_timeout_ms, false, run, out);
}

/* A pathspec for git must name something inside the folder (it need not exist). */
static bool git_path_ok(struct osr_folder *f, const char *field, struct json_object *v,
                        struct osr_tool_out *out)
{
    const char *p = json_object_get_string(v);
    size_t n = (size_t)json_object_get_string_len(v);
    if (!osr_folder_path_ok(field, p, n, out))
        return false;
    int fd = osr_folder_openat(f->dirfd, p, O_PATH, 0, 0);
    if (fd >= 0) {
        close(fd);
        return true;
    }
    if (fd == -ENOENT || fd == -ENOTDIR)
        return true; /* e.g. a deleted file */
    osr_folder_open_fail(out, field, p, -fd);
    return false;
}

static void git_failed(struct osr_tool_out *out, const char *what, struct osr_folder_run *run)
{
    const char *o = osr_buf_str(&run->output);
    size_t n = run->output.len;
    while (n > 0 && (o[n - 1] == '\n' || o[n - 1] == ' '))
        n--;
    int shown = n > 300 ? 300 : (int)n;
    if (n)
        osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, NULL, NULL, "%s failed (exit %d)%s: %.*s",
                          what, run->exit_code, run->timed_out ? ", timed out" : "", shown, o);
    else
        osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, NULL, NULL, "%s failed (exit %d)%s", what,
                          run->exit_code, run->timed_out ? ", timed out" : "");
}

void osr_folder_tool_git_status(void *ctx, struct json_object *args, struct osr_tool_out *out)
{
    (void)args;
    struct osr_folder *f = ctx;
    if (!git_repo_ok(f, out))
        return;
    static const char *const a[] = {"status", "--porcelain=v1", "--branch", "--untracked-files=all",
                                    NULL};
    struct osr_folder_run run;
    if (run_git(f, a, &run, out))
        return;
    log_run(f, "git_status", "git status", &run, out);
    if (run.exit_code != 0 || run.timed_out) {
        git_failed(out, "git status", &run);
        osr_buf_release(&run.output);
        return;
    }
    struct json_object *res = json_object_new_object();
    struct json_object *entries = json_object_new_array();
    const char *s = osr_buf_str(&run.output);
    for (const char *line = s; *line;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        if (n > 3 && line[0] == '#' && line[1] == '#' && line[2] == ' ') {
            const char *b = line + 3;
            size_t bn = n - 3;
            const char *dots = memmem(b, bn, "...", 3);
            if (dots)
                bn = (size_t)(dots - b);
            json_object_object_add(res, "branch", osr_json_new_string(b, bn));
        } else if (n > 3) {
            struct json_object *e = json_object_new_object();
            json_object_object_add(e, "status", osr_json_new_string(line, 2));
            json_object_object_add(e, "path", osr_json_new_string(line + 3, n - 3));
            json_object_array_add(entries, e);
        }
        line += n;
        if (*line == '\n')
            line++;
    }
    json_object_object_add(res, "clean",
                           json_object_new_boolean(json_object_array_length(entries) == 0));
    json_object_object_add(res, "entries", entries);
    json_object_object_add(res, "output", osr_json_new_string(s, run.output.len));
    json_object_object_add(res, "output_truncated", json_object_new_boolean(run.truncated));
    out->result = res;
    osr_buf_release(&run.output);
}

void osr_folder_tool_git_diff(void *ctx, struct json_object *args, struct osr_tool_out *out)
{
    struct osr_folder *f = ctx;
    struct json_object *path = NULL, *staged = NULL;
    json_object_object_get_ex(args, "path", &path);
    json_object_object_get_ex(args, "staged", &staged);
    if (path && !git_path_ok(f, "path", path, out))
        return;
    if (!git_repo_ok(f, out))
        return;
    const char *a[8];
    size_t n = 0;
    a[n++] = "diff";
    a[n++] = "--no-ext-diff";
    a[n++] = "--no-textconv";
    a[n++] = "--no-color";
    if (staged && json_object_get_boolean(staged))
        a[n++] = "--cached";
    if (path) {
        a[n++] = "--";
        a[n++] = json_object_get_string(path);
    }
    a[n] = NULL;
    struct osr_folder_run run;
    if (run_git(f, a, &run, out))
        return;
    log_run(f, "git_diff", "git diff", &run, out);
    if (run.exit_code != 0 || run.timed_out) {
        git_failed(out, "git diff", &run);
        osr_buf_release(&run.output);
        return;
    }
    struct json_object *res = json_object_new_object();
    json_object_object_add(res, "diff",
                           osr_json_new_string(osr_buf_str(&run.output), run.output.len));
    json_object_object_add(res, "empty", json_object_new_boolean(run.output.len == 0));
    json_object_object_add(res, "output_truncated", json_object_new_boolean(run.truncated));
    out->result = res;
    osr_buf_release(&run.output);
}

void osr_folder_tool_git_commit(void *ctx, struct json_object *args, struct osr_tool_out *out)
{
    struct osr_folder *f = ctx;
    struct json_object *msg = NULL, *paths = NULL;
    json_object_object_get_ex(args, "message", &msg);
    json_object_object_get_ex(args, "paths", &paths);
    const char *message = json_object_get_string(msg);
    if (strlen(message) != (size_t)json_object_get_string_len(msg)) {
        osr_tool_out_fail(out, OSR_TOOL_INVALID_ARGS, "message", "text without NUL",
                          "message contains a NUL character");
        return;
    }
    size_t np = paths ? json_object_array_length(paths) : 0;
    for (size_t i = 0; i < np; i++) {
        char field[32];
        snprintf(field, sizeof(field), "paths[%zu]", i);
        if (!git_path_ok(f, field, json_object_array_get_idx(paths, i), out))
            return;
    }
    if (!git_repo_ok(f, out))
        return;
    const char *a[GIT_ARGV_MAX];
    size_t n = 0;
    a[n++] = "add";
    a[n++] = "-A";
    a[n++] = "--";
    for (size_t i = 0; i < np && n < GIT_ARGV_MAX - 1; i++)
        a[n++] = json_object_get_string(json_object_array_get_idx(paths, i));
    a[n] = NULL;
    struct osr_folder_run run;
    if (run_git(f, a, &run, out))
        return;
    if (run.exit_code != 0 || run.timed_out) {
        log_run(f, "git_commit", "git add", &run, out);
        git_failed(out, "git add", &run);
        osr_buf_release(&run.output);
        return;
    }
    osr_buf_release(&run.output);
    n = 0;
    a[n++] = "commit";
    a[n++] = "-q";
    a[n++] = "-m";
    a[n++] = message;
    if (np) {
        a[n++] = "--";
        for (size_t i = 0; i < np && n < GIT_ARGV_MAX - 1; i++)
            a[n++] = json_object_get_string(json_object_array_get_idx(paths, i));
    }
    a[n] = NULL;
    if (run_git(f, a, &run, out))
        return;
    log_run(f, "git_commit", "git commit", &run, out);
    if (run.exit_code != 0 || run.timed_out) {
        git_failed(out, "git commit", &run);
        osr_buf_release(&run.output);
        return;
    }
    struct json_object *res = json_object_new_object();
    json_object_object_add(res, "output",
                           osr_json_new_string(osr_buf_str(&run.output), run.output.len));
    osr_buf_release(&run.output);
    static const char *const head[] = {"rev-parse", "HEAD", NULL};
    if (run_git(f, head, &run, out) == OSR_OK) {
        const char *s = osr_buf_str(&run.output);
        size_t len = strcspn(s, "\n");
        if (run.exit_code == 0 && len > 0)
            json_object_object_add(res, "commit", osr_json_new_string(s, len));
        osr_buf_release(&run.output);
    }
    out->failed = false; /* a failed rev-parse only loses the hash */
    out->result = res;
}
