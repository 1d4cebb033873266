/* folder_internal.h - what the folder tool files share: the context, confined opens, the
 * operation log and the command runner.  Not a public header.
 *
 * Thread rules: a struct osr_folder is read-only after creation except its reference count
 * (atomic) and the log (guarded by log_mu); every function here is reentrant.
 */
#ifndef OSR_FOLDER_INTERNAL_H
#define OSR_FOLDER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "osr/buf.h"
#include "osr/folder_tools.h"
#include "osr/tools.h"

#define FOLDER_PATH_MAX 4096
#define FOLDER_READ_MAX (8u * 1024 * 1024) /* bytes of one file read, edited or diffed */
#define FOLDER_DIFF_CAP (64u * 1024)       /* bytes of a diff in a result */
#define FOLDER_BINARY_PROBE 8000           /* a NUL in this many first bytes: binary */

struct osr_folder {
    atomic_int refs; /* one per registered tool, plus the adder's while adding */
    int dirfd;       /* O_PATH | O_DIRECTORY: the root every path is resolved beneath */
    char *log_path;  /* NULL: no log */
    pthread_mutex_t log_mu;
    int shell_timeout_ms;
    size_t output_cap;
};

/* Returns an fd for path beneath f's folder (openat2 with RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS, plus extra_resolve), or -1 with out failed: "rejected" for anything
 * leading outside, "unavailable" without openat2, "execution_error" otherwise.  path_len is
 * the JSON string's length (an embedded NUL is refused).  flags gets O_CLOEXEC added. */
int osr_folder_open(struct osr_folder *f, const char *field, const char *path, size_t path_len,
                    int flags, uint64_t extra_resolve, struct osr_tool_out *out);

/* openat2 relative to dirfd with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | extra_resolve;
 * returns the fd or -errno. */
int osr_folder_openat(int dirfd, const char *path, int flags, unsigned mode,
                      uint64_t extra_resolve);

/* Lexical checks shared by every path argument: not empty, no NUL, not absolute, no ".."
 * climbing above the folder, not too long.  false with out failed. */
bool osr_folder_path_ok(const char *field, const char *path, size_t path_len,
                        struct osr_tool_out *out);

/* Fills out for an errno from a confined open of path. */
void osr_folder_open_fail(struct osr_tool_out *out, const char *field, const char *path, int err);

/* Appends {"time", "tool", ...entry} as one line to the log (takes entry).  A failure adds a
 * warning to out and is otherwise ignored. */
void osr_folder_log(struct osr_folder *f, const char *tool, struct json_object *entry,
                    struct osr_tool_out *out);

/* True when the first FOLDER_BINARY_PROBE bytes of s hold a NUL. */
bool osr_folder_looks_binary(const char *s, size_t n);

/* Reads the whole regular file fd (at most max bytes; *truncated says whether there was
 * more).  Returns OSR_OK and a NUL-terminated heap copy the caller frees, or OSR_EIO. */
int osr_folder_read_fd(int fd, size_t max, char **data, size_t *len, bool *truncated);

/* --- the command runner (folder_shell.c) ---------------------------------------------------- */

struct osr_folder_run {
    int exit_code;  /* the exit status, or 128 + signal when killed */
    int signal;     /* the signal that ended it, or 0 */
    bool timed_out; /* killed at the deadline */
    bool cancelled; /* killed because the caller gave up (osr_tool_cancelled) */
    bool truncated; /* output passed the cap (the middle or the rest was dropped) */
    int64_t duration_ms;
    struct osr_buf output; /* stdout and stderr interleaved, capped */
};

/* Runs argv[0] (a path, no PATH search unless it has no '/') with the folder as working
 * directory, in a new process group, stdin from /dev/null, stdout and stderr into one pipe
 * kept up to f->output_cap bytes (with keep_tail, the first and last halves around an
 * "[... N bytes omitted ...]" line; else the first bytes); kills the group (SIGTERM, then SIGKILL
 * after a grace) at the deadline.  env_extra is a NULL-terminated list of "NAME=value" added to the
 * environment (may be NULL).  Returns OSR_OK with run filled (release run->output), or OSR_EIO with
 * a message in out. */
int osr_folder_run(struct osr_folder *f, char *const argv[], const char *const *env_extra,
                   int timeout_ms, bool keep_tail, struct osr_folder_run *run,
                   struct osr_tool_out *out);

/* --- tool functions (one file each concern) ------------------------------------------------- */
void osr_folder_tool_file_read(void *ctx, struct json_object *args, struct osr_tool_out *out);
void osr_folder_tool_file_search(void *ctx, struct json_object *args, struct osr_tool_out *out);
void osr_folder_tool_shell_run(void *ctx, struct json_object *args, struct osr_tool_out *out);
void osr_folder_tool_git_status(void *ctx, struct json_object *args, struct osr_tool_out *out);
void osr_folder_tool_git_diff(void *ctx, struct json_object *args, struct osr_tool_out *out);
void osr_folder_tool_git_commit(void *ctx, struct json_object *args, struct osr_tool_out *out);

/* The directory listing of file_read (folder_search.c): entries beneath the open directory
 * fd dirfd (taken) named rel for display, down to max_depth levels; *truncated tells whether
 * a cap cut it. */
struct json_object *osr_folder_listing(int dirfd, const char *rel, int max_depth, bool *truncated,
                                       struct osr_tool_out *out);

#endif
