/* mcp_transport_stdio.c - the MCP client's stdio transport: a child process speaking
 * newline-delimited JSON-RPC on its stdin and stdout.
 *
 * The command is started with posix_spawnp in a process group of its own, with the inherited
 * environment plus the provider's "env" and its secret variables.  Its stdin is one end of a
 * socket pair (so a write to a dead child fails with EPIPE instead of raising SIGPIPE in the
 * daemon).  A reader thread splits stdout into lines (each capped), hands responses to the
 * waiting requester by id, notifications to the client, and answers ping; another thread
 * copies stderr into the log, line by line, up to a cap per child.  When stdout ends the
 * connection is dead.  Shutdown closes stdin, sends SIGTERM to the group, SIGKILL after a
 * grace period, reaps the child and joins both threads.
 *
 * Not here: the sandbox (the command runs as the daemon's user, on the host).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "mcp_transport.h"
#include "osr/alloc.h"
#include "osr/clock.h"
#include "osr/json.h"
#include "osr/log.h"
#include "osr/sse.h"

extern char **environ;

#define STDERR_LOG_MAX ((size_t)64 * 1024) /* bytes of a child's stderr copied to the log */
#define STDERR_LINE_MAX 1024
#define TERM_GRACE_MS 1500
#define POLL_MS 200
#define MAX_ENV 4096

struct pending {
    int64_t id;
    struct json_object *reply; /* guarded by mu */
    struct pending *next;
};

struct stdio_conn {
    struct mcp_conn base;
    pid_t pid;
    int in_fd;  /* our end of the child's stdin (a socket) */
    int out_fd; /* the child's stdout */
    int err_fd; /* the child's stderr */
    bool reaped;
    pthread_t reader, err_reader;
    bool threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct pending *pending; /* guarded by mu */
    pthread_mutex_t write_mu;
    size_t stderr_logged;
};

static int write_all(struct stdio_conn *c, const char *p, size_t n)
{
    pthread_mutex_lock(&c->write_mu);
    int rc = OSR_OK;
    while (n > 0) {
        ssize_t w = send(c->in_fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = OSR_EIO;
            break;
        }
        p += w;
        n -= (size_t)w;
    }
    pthread_mutex_unlock(&c->write_mu);
    return rc;
}

static int send_line(struct stdio_conn *c, const char *text, size_t n)
{
    int rc = write_all(c, text, n);
    if (rc == OSR_OK)
        rc = write_all(c, "\n", 1);
    if (rc)
        mcp_conn_mark_dead(&c->base, "cannot write to the child: %s", strerror(errno));
    return rc;
}

/* --- the reader threads --------------------------------------------------------------------- */

static int on_line(void *ctx, const char *line, size_t n)
{
    struct stdio_conn *c = ctx;
    struct json_object *msg = NULL;
    if (osr_json_parse(line, n, &msg, NULL) != OSR_OK) {
        OSR_DEBUG("mcp '%s': dropped a stdout line that is not JSON", c->base.label);
        return 0;
    }
    /* Responses: find the waiter by id under the lock. */
    struct json_object *id = NULL;
    if (json_object_is_type(msg, json_type_object) &&
        !json_object_object_get_ex(msg, "method", NULL) &&
        json_object_object_get_ex(msg, "id", &id) && json_object_is_type(id, json_type_int)) {
        int64_t want = json_object_get_int64(id);
        pthread_mutex_lock(&c->mu);
        for (struct pending *p = c->pending; p; p = p->next)
            if (p->id == want && !p->reply) {
                /* Handed over whole: json-c's reference counts are not atomic, so no object
                 * may be shared between this thread and the waiter's. */
                p->reply = msg;
                msg = NULL;
                pthread_cond_broadcast(&c->cv);
                break;
            }
        pthread_mutex_unlock(&c->mu);
        json_object_put(msg);
        return 0;
    }
    char *answer = NULL;
    json_object_put(mcp_conn_incoming(&c->base, msg, -1, &answer));
    json_object_put(msg);
    if (answer) {
        send_line(c, answer, strlen(answer));
        free(answer);
    }
    return 0;
}

/* Reads fd until EOF or closing, feeding the parser.  Returns the parser's stop code or 0. */
static int pump(struct stdio_conn *c, int fd, struct osr_ndjson_parser *p)
{
    char chunk[16384];
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int pr = poll(&pfd, 1, POLL_MS);
        if (pr < 0 && errno == EINTR)
            continue;
        if (atomic_load(&c->base.closing) && pr == 0)
            return 0;
        if (pr <= 0)
            continue;
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 0;
        int rc = osr_ndjson_feed(p, chunk, (size_t)r);
        if (rc)
            return rc;
    }
}

static void *reader_main(void *arg)
{
    struct stdio_conn *c = arg;
    struct osr_ndjson_parser p;
    osr_ndjson_init(&p, OSR_MCP_CLIENT_MESSAGE_MAX, on_line, c);
    int rc = pump(c, c->out_fd, &p);
    osr_ndjson_release(&p);
    if (rc == OSR_ETOOBIG)
        mcp_conn_mark_dead(&c->base, "the child sent a message larger than %zu bytes",
                           OSR_MCP_CLIENT_MESSAGE_MAX);
    else
        mcp_conn_mark_dead(&c->base, "the child closed its output");
    pthread_mutex_lock(&c->mu);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static int on_err_line(void *ctx, const char *line, size_t n)
{
    struct stdio_conn *c = ctx;
    if (c->stderr_logged >= STDERR_LOG_MAX)
        return 0;
    c->stderr_logged += n;
    if (c->stderr_logged >= STDERR_LOG_MAX)
        OSR_WARN("mcp '%s': stderr: %.*s (further output not logged)", c->base.label, (int)n, line);
    else
        OSR_INFO("mcp '%s': stderr: %.*s", c->base.label, (int)n, line);
    return 0;
}

static void *err_reader_main(void *arg)
{
    struct stdio_conn *c = arg;
    struct osr_ndjson_parser p;
    for (;;) {
        osr_ndjson_init(&p, STDERR_LINE_MAX, on_err_line, c);
        int rc = pump(c, c->err_fd, &p);
        if (rc != OSR_ETOOBIG) {
            osr_ndjson_finish(&p);
            osr_ndjson_release(&p);
            break;
        }
        osr_ndjson_release(&p); /* an over-long line: drop it and go on */
    }
    return NULL;
}

/* --- requests ------------------------------------------------------------------------------- */

static int stdio_send(struct mcp_conn *base, int64_t id, const char *text, size_t n, int timeout_ms,
                      struct json_object **reply, struct osr_diag *diag)
{
    struct stdio_conn *c = (struct stdio_conn *)base;
    if (!reply) {
        if (send_line(c, text, n))
            return osr_diag_set(diag, OSR_EIO, "cannot write to the child");
        return OSR_OK;
    }
    struct pending me = {.id = id};
    pthread_mutex_lock(&c->mu);
    me.next = c->pending;
    c->pending = &me;
    pthread_mutex_unlock(&c->mu);

    int rc = OSR_OK;
    if (send_line(c, text, n)) {
        rc = osr_diag_set(diag, OSR_EIO, "cannot write to the child");
    } else {
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&c->mu);
        while (!me.reply && !atomic_load(&c->base.dead) && rc == OSR_OK) {
            int w = pthread_cond_timedwait(&c->cv, &c->mu, &deadline);
            if (w == ETIMEDOUT && !me.reply)
                rc = osr_diag_set(diag, OSR_ETIMEOUT, "no answer within %d ms", timeout_ms);
        }
        pthread_mutex_unlock(&c->mu);
        if (rc == OSR_OK && !me.reply)
            rc = osr_diag_set(diag, OSR_ECLOSED, "the child went away (%s)", c->base.dead_reason);
    }
    pthread_mutex_lock(&c->mu);
    for (struct pending **pp = &c->pending; *pp; pp = &(*pp)->next)
        if (*pp == &me) {
            *pp = me.next;
            break;
        }
    pthread_mutex_unlock(&c->mu);
    if (rc) {
        json_object_put(me.reply);
        return rc;
    }
    *reply = me.reply;
    return OSR_OK;
}

static int stdio_pid(struct mcp_conn *base)
{
    struct stdio_conn *c = (struct stdio_conn *)base;
    return c->reaped ? -1 : (int)c->pid;
}

static void stdio_shutdown(struct mcp_conn *base)
{
    struct stdio_conn *c = (struct stdio_conn *)base;
    if (c->in_fd >= 0) {
        shutdown(c->in_fd, SHUT_RDWR);
    }
    if (c->pid > 0 && !c->reaped) {
        int status = 0;
        kill(-c->pid, SIGTERM);
        int64_t end = osr_mono_ns() + (int64_t)TERM_GRACE_MS * 1000000;
        while (!c->reaped) {
            pid_t r = waitpid(c->pid, &status, WNOHANG);
            if (r == c->pid || (r < 0 && errno != EINTR)) {
                c->reaped = true;
                break;
            }
            if (osr_mono_ns() >= end) {
                kill(-c->pid, SIGKILL);
                while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR) {
                }
                c->reaped = true;
                break;
            }
            osr_sleep_ms(10);
        }
        kill(-c->pid, SIGKILL); /* anything the child left behind in its group */
    }
    pthread_mutex_lock(&c->mu);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (c->threads) {
        pthread_join(c->reader, NULL);
        pthread_join(c->err_reader, NULL);
        c->threads = false;
    }
}

static void stdio_destroy(struct mcp_conn *base)
{
    struct stdio_conn *c = (struct stdio_conn *)base;
    if (c->in_fd >= 0)
        close(c->in_fd);
    if (c->out_fd >= 0)
        close(c->out_fd);
    if (c->err_fd >= 0)
        close(c->err_fd);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->write_mu);
    free(c);
}

static const struct mcp_conn_ops stdio_ops = {
    .send = stdio_send,
    .shutdown = stdio_shutdown,
    .destroy = stdio_destroy,
    .pid = stdio_pid,
    .listen = NULL,
};

/* --- starting the child --------------------------------------------------------------------- */

static bool overridden(const char *entry, const struct mcp_conn_opts *o)
{
    const char *eq = strchr(entry, '=');
    size_t n = eq ? (size_t)(eq - entry) : strlen(entry);
    for (size_t i = 0; i < o->cfg->n_env; i++)
        if (strlen(o->cfg->env[i].name) == n && strncmp(entry, o->cfg->env[i].name, n) == 0)
            return true;
    for (size_t i = 0; i < o->n_secret_env; i++)
        if (strlen(o->secret_env[i].name) == n && strncmp(entry, o->secret_env[i].name, n) == 0)
            return true;
    return false;
}

static char *env_entry(const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 2;
    char *s = osr_xmalloc(n);
    snprintf(s, n, "%s=%s", name, value);
    return s;
}

/* The child's environment: ours minus what the provider sets, then the provider's. */
static char **build_env(const struct mcp_conn_opts *o, size_t *count)
{
    size_t n = 0;
    char **env = osr_xcalloc(MAX_ENV + 1, sizeof(char *));
    for (char **e = environ; e && *e && n < MAX_ENV - OSR_MCP_CLIENT_MAX_ITEMS * 2; e++)
        if (!overridden(*e, o))
            env[n++] = osr_xstrdup(*e);
    for (size_t i = 0; i < o->cfg->n_env; i++)
        env[n++] = env_entry(o->cfg->env[i].name, o->cfg->env[i].value);
    for (size_t i = 0; i < o->n_secret_env; i++)
        env[n++] = env_entry(o->secret_env[i].name, o->secret_env[i].value);
    *count = n;
    return env;
}

static void free_env(char **env, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        OPENSSL_cleanse(env[i], strlen(env[i]));
        free(env[i]);
    }
    free(env);
}

int mcp_conn_open_stdio(const struct mcp_conn_opts *opts, struct mcp_conn **out,
                        struct osr_diag *diag)
{
    const struct osr_mcp_provider_config *cfg = opts->cfg;
    int in_sp[2] = {-1, -1}, out_p[2] = {-1, -1}, err_p[2] = {-1, -1};
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_sp) != 0 ||
        pipe2(out_p, O_CLOEXEC) != 0 || pipe2(err_p, O_CLOEXEC) != 0) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            if (in_sp[i] >= 0)
                close(in_sp[i]);
            if (out_p[i] >= 0)
                close(out_p[i]);
            if (err_p[i] >= 0)
                close(err_p[i]);
        }
        return osr_diag_set(diag, OSR_EIO, "cannot create pipes: %s", strerror(e));
    }
    char **argv = osr_xcalloc(cfg->n_args + 2, sizeof(char *));
    argv[0] = cfg->command;
    for (size_t i = 0; i < cfg->n_args; i++)
        argv[i + 1] = cfg->args[i];
    size_t n_env = 0;
    char **env = build_env(opts, &n_env);

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&fa, in_sp[1], 0);
    posix_spawn_file_actions_adddup2(&fa, out_p[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err_p[1], 2);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGHUP);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    int se = posix_spawnp(&pid, cfg->command, &fa, &attr, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    free_env(env, n_env);
    free(argv);
    close(in_sp[1]);
    close(out_p[1]);
    close(err_p[1]);
    if (se != 0) {
        close(in_sp[0]);
        close(out_p[0]);
        close(err_p[0]);
        return osr_diag_set(diag, OSR_EIO, "cannot start '%s': %s", cfg->command, strerror(se));
    }

    struct stdio_conn *c = osr_xcalloc(1, sizeof(*c));
    mcp_conn_base_init(&c->base, &stdio_ops, opts);
    c->pid = pid;
    c->in_fd = in_sp[0];
    c->out_fd = out_p[0];
    c->err_fd = err_p[0];
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->write_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&c->reader, NULL, reader_main, c) != 0) {
        atomic_store(&c->base.closing, true);
        stdio_shutdown(&c->base);
        stdio_destroy(&c->base);
        return osr_diag_set(diag, OSR_EIO, "cannot start a reader thread");
    }
    if (pthread_create(&c->err_reader, NULL, err_reader_main, c) != 0) {
        atomic_store(&c->base.closing, true);
        pthread_join(c->reader, NULL); /* ends: closing is set and the child is killed below */
        stdio_shutdown(&c->base);
        stdio_destroy(&c->base);
        return osr_diag_set(diag, OSR_EIO, "cannot start a reader thread");
    }
    c->threads = true;
    *out = &c->base;
    return OSR_OK;
}
