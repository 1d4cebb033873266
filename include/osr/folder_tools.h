/* folder_tools.h - agent tools confined to one working folder.
 *
 * osr_folder_tools_add registers file_read, file_write, file_edit, file_search, shell_run,
 * git_status, git_diff and git_commit (REFERENCE §7.1) in a tool registry, all bound to one
 * folder.  Every path argument is relative to that folder and resolved by the kernel with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) from a directory fd opened once: an absolute
 * path, a ".." that climbs out, a symlink leading out or a /proc magic link is refused with a
 * "rejected" envelope before anything outside is opened.  Commands run with the folder as
 * their working directory in their own process group, with a timeout and an output cap.
 * Every write, edit and command is appended as one JSON line to an optional log.
 *
 * Ownership: the tools share one context (the folder fd, the options) which the registry
 * frees through ctx_free when the last of them is removed or the registry is freed.
 *
 * Thread rules: the tools may be called from several threads at once; many folders (each in
 * its own registry, or under different registries) may be active at the same time.
 */
#ifndef OSR_FOLDER_TOOLS_H
#define OSR_FOLDER_TOOLS_H

#include <stdbool.h>
#include <stddef.h>

#include "osr/buf.h"
#include "osr/err.h"
#include "osr/tools.h"

#define OSR_FOLDER_SHELL_TIMEOUT_DEFAULT_MS 120000
#define OSR_FOLDER_SHELL_TIMEOUT_MAX_MS 600000
#define OSR_FOLDER_OUTPUT_CAP_DEFAULT (64u * 1024)
#define OSR_FOLDER_OUTPUT_CAP_MAX (4u * 1024 * 1024)

struct osr_folder_opts {
    const char *log_path; /* JSONL file every write/edit/command is appended to, or NULL;
                           * keep it outside the folder, or the tools can rewrite it */
    int shell_timeout_ms; /* default timeout of shell_run and git; 0: 120000, cap 600000 */
    size_t output_cap;    /* bytes of stdout+stderr kept per command; 0: 64 KiB, cap 4 MiB */
};

/* Adds the folder tools for folder (an existing directory, opened once with
 * O_PATH|O_DIRECTORY) to reg.  o may be NULL (defaults).  Borrows folder and o (log_path is
 * copied).  Returns OSR_OK; OSR_ENOTFOUND / OSR_EIO when the folder cannot be opened;
 * OSR_EUNSUPPORTED when the kernel lacks openat2; or the registry's error (OSR_EEXIST when a
 * tool of the same name is already there).  On failure none of the tools stays in reg. */
int osr_folder_tools_add(struct osr_tools *reg, const char *folder, const struct osr_folder_opts *o,
                         struct osr_diag *diag);

/* Appends a unified diff (3 lines of context) turning a (na bytes) into b (nb bytes) to out,
 * with "--- a/<path>" / "+++ b/<path>" headers ("/dev/null" when a_exists / b_exists is
 * false).  Nothing is appended when the texts are equal.  The line diff is Myers' algorithm
 * over at most OSR_DIFF_MAX_LINES lines with an edit distance of at most OSR_DIFF_MAX_EDITS
 * after the common head and tail are removed; past that, the differing middle is shown as
 * removed and re-added.  Returns OSR_OK, or OSR_ETOOBIG when out reached its cap (out then
 * holds the diff up to the last whole line that fitted). */
#define OSR_DIFF_MAX_LINES 200000
#define OSR_DIFF_MAX_EDITS 2000
int osr_folder_diff(const char *a, size_t na, bool a_exists, const char *b, size_t nb,
                    bool b_exists, const char *path, struct osr_buf *out);

#endif
