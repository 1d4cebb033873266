/* folder_tools.c - the folder tools' context, confined opens, the operation log, file_read of
 * files, file_write, file_edit, and registration.
 *
 * Confinement is the kernel's: the folder is opened once as an O_PATH directory fd and every
 * path argument is resolved from it with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS), so
 * "..", absolute symlinks, symlinks climbing out and /proc magic links fail inside the path
 * walk itself (EXDEV / ELOOP) instead of being guessed at by string checks; there is no
 * fallback to plain open when openat2 is missing.  A short lexical check in front only turns
 * the obvious cases (absolute paths, ".." above the folder) into clearer messages.  Writes go
 * to a temporary file in the already-opened parent directory and are renamed over the target,
 * so a reader never sees half a file.  Directory listings, search and commands live in
 * folder_search.c and folder_shell.c; the diff in folder_diff.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "folder_internal.h"
#include "osr/alloc.h"
#include "osr/clock.h"
#include "osr/json.h"
#include "osr/uuid.h"

#define FILE_READ_CHARS_DEFAULT 100000
#define LOG_LINE_MAX (64u * 1024)

/* --- confined opens ------------------------------------------------------------------------- */

int osr_folder_openat(int dirfd, const char *path, int flags, unsigned mode, uint64_t extra_resolve)
{
    struct open_how how;
    memset(&how, 0, sizeof(how));
    how.flags = (uint64_t)(unsigned)(flags | O_CLOEXEC);
    how.mode = (flags & O_CREAT) ? mode : 0; /* the kernel refuses a mode without O_CREAT */
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | extra_resolve;
    for (int attempt = 0; attempt < 16; attempt++) {
        long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
        if (fd >= 0)
            return (int)fd;
        /* EAGAIN: a concurrent rename made the ".." check unsure; the kernel asks to retry. */
        if (errno != EAGAIN && errno != EINTR)
            return -errno;
    }
    return -EAGAIN;
}

bool osr_folder_path_ok(const char *field, const char *path, size_t path_len,
                        struct osr_tool_out *out)
{
    if (path_len == 0) {
        osr_tool_out_fail(out, OSR_TOOL_INVALID_ARGS, field, "a path relative to the folder",
                          "'%s' is empty", field);
        return false;
    }
    if (strlen(path) != path_len) {
        osr_tool_out_fail(out, OSR_TOOL_INVALID_ARGS, field, "a path without NUL characters",
                          "'%s' contains a NUL character", field);
        return false;
    }
    if (path_len >= FOLDER_PATH_MAX) {
        osr_tool_out_fail(out, OSR_TOOL_INVALID_ARGS, field, "a shorter path",
                          "'%s' is longer than %d bytes", field, FOLDER_PATH_MAX - 1);
        return false;
    }
    if (path[0] == '/') {
        osr_tool_out_fail(out, OSR_TOOL_REJECTED, field, "a path relative to the folder",
                          "'%.200s' is an absolute path; paths are relative to the working "
                          "folder",
                          path);
        return false;
    }
    /* ".." that climbs above the folder in the text itself; symlinks are the kernel's job. */
    long depth = 0;
    for (const char *p = path; *p;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            depth--;
        else if (n > 0 && !(n == 1 && p[0] == '.'))
            depth++;
        if (depth < 0) {
            osr_tool_out_fail(out, OSR_TOOL_REJECTED, field, "a path inside the folder",
                              "'%.200s' leads outside the working folder", path);
            return false;
        }
        p += n;
        if (*p == '/')
            p++;
    }
    return true;
}

void osr_folder_open_fail(struct osr_tool_out *out, const char *field, const char *path, int err)
{
    switch (err) {
    case EXDEV:
    case ELOOP:
        osr_tool_out_fail(out, OSR_TOOL_REJECTED, field, "a path inside the folder",
                          "'%.200s' leads outside the working folder (through '..', a symlink "
                          "or a /proc magic link)",
                          path);
        break;
    case ENOSYS:
        osr_tool_out_fail(out, OSR_TOOL_UNAVAILABLE, NULL, NULL,
                          "this kernel lacks openat2(2), which folder tools need to stay inside "
                          "the folder");
        break;
    case ENOENT:
        osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, field, NULL, "'%.200s' does not exist",
                          path);
        break;
    case ENOTDIR:
        osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, field, NULL,
                          "a parent of '%.200s' is not a directory", path);
        break;
    default:
        osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, field, NULL, "cannot open '%.200s': %s",
                          path, strerror(err));
        break;
    }
}

int osr_folder_open(struct osr_folder *f, const char *field, const char *path, size_t path_len,
                    int flags, uint64_t extra_resolve, struct osr_tool_out *out)
{
    if (!osr_folder_path_ok(field, path, path_len, out))
        return -1;
    int fd = osr_folder_openat(f->dirfd, path, flags, 0, extra_resolve);
    if (fd < 0) {
        osr_folder_open_fail(out, field, path, -fd);
        return -1;
    }
    return fd;
}

/* --- helpers -------------------------------------------------------------------------------- */

bool osr_folder_looks_binary(const char *s, size_t n)
{
    return memchr(s, '\0', n < FOLDER_BINARY_PROBE ? n : FOLDER_BINARY_PROBE) != NULL;
}

int osr_folder_read_fd(int fd, size_t max, char **data, size_t *len, bool *truncated)
{
    struct osr_buf b;
    osr_buf_init(&b, max);
    char chunk[16384];
    *truncated = false;
    for (;;) {
        size_t want = sizeof(chunk);
        if (max - b.len < want)
            want = max - b.len + 1; /* one byte more tells "exactly max" from "more" */
        ssize_t r = read(fd, chunk, want);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            osr_buf_release(&b);
            return OSR_EIO;
        }
        if (r == 0)
            break;
        size_t take = (size_t)r;
        if (b.len + take > max) {
            take = max - b.len;
            *truncated = true;
        }
        osr_buf_append(&b, chunk, take);
        if (*truncated)
            break;
    }
    *data = osr_buf_detach(&b, len);
    return OSR_OK;
}

void osr_folder_log(struct osr_folder *f, const char *tool, struct json_object *entry,
                    struct osr_tool_out *out)
{
    if (!f->log_path) {
        json_object_put(entry);
        return;
    }
    struct json_object *line = json_object_new_object();
    char stamp[OSR_ISO8601_MAX];
    osr_time_iso8601(stamp, osr_wall_ms(), 1);
    json_object_object_add(line, "time", json_object_new_string(stamp));
    json_object_object_add(line, "tool", json_object_new_string(tool));
    json_object_object_foreach(entry, k, v) json_object_object_add(line, k, json_object_get(v));
    json_object_put(entry);
    struct osr_buf b;
    osr_buf_init(&b, LOG_LINE_MAX);
    int rc = osr_json_append(&b, line);
    json_object_put(line);
    if (rc == OSR_OK)
        rc = osr_buf_putc(&b, '\n');
    const char *why = "the entry is too large";
    if (rc == OSR_OK) {
        pthread_mutex_lock(&f->log_mu);
        int fd = open(f->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            rc = OSR_EIO;
            why = strerror(errno);
        } else {
            /* O_APPEND and one write: lines from several processes do not interleave. */
            ssize_t w = write(fd, b.data, b.len);
            if (w != (ssize_t)b.len) {
                rc = OSR_EIO;
                why = w < 0 ? strerror(errno) : "short write";
            }
            close(fd);
        }
        pthread_mutex_unlock(&f->log_mu);
    }
    osr_buf_release(&b);
    if (rc) {
        char msg[512];
        snprintf(msg, sizeof(msg), "could not append to the operation log '%.300s': %s",
                 f->log_path, why);
        osr_tool_out_warn(out, msg);
    }
}

static const char *arg_str(struct json_object *args, const char *key, size_t *len)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(args, key, &v) || !json_object_is_type(v, json_type_string)) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = (size_t)json_object_get_string_len(v);
    return json_object_get_string(v);
}

static int64_t arg_int(struct json_object *args, const char *key, int64_t def)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(args, key, &v) || !v)
        return def;
    return json_object_get_int64(v);
}

static bool arg_bool(struct json_object *args, const char *key)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(args, key, &v) && v && json_object_get_boolean(v);
}

/* --- file_read (files; directories go to osr_folder_listing) --------------------------------- */

/* Byte offset just past the first max_chars code points of s (n bytes). */
static size_t cut_chars(const char *s, size_t n, size_t max_chars, bool *cut)
{
    size_t chars = 0;
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (chars == max_chars) {
                *cut = true;
                return i;
            }
            chars++;
        }
    }
    *cut = false;
    return n;
}

static void read_file(int fd, const struct stat *st, const char *path, struct json_object *args,
                      struct osr_tool_out *out)
{
    int64_t start_line = arg_int(args, "start_line", 0);
    int64_t end_line = arg_int(args, "end_line", 0);
    int64_t tail_lines = arg_int(args, "tail_lines", 0);
    int64_t max_chars = arg_int(args, "max_chars", FILE_READ_CHARS_DEFAULT);
    if (tail_lines && (start_line || end_line)) {
        osr_tool_out_fail(out, OSR_TOOL_INVALID_ARGS, "tail_lines",
                          "either tail_lines or start_line/end_line",
                          "tail_lines cannot be combined with start_line or end_line");
        return;
    }
    if (start_line && end_line && end_line < start_line) {
        osr_tool_out_fail(out, OSR_TOOL_INVALID_ARGS, "end_line", "end_line >= start_line",
                          "end_line (%lld) is before start_line (%lld)", (long long)end_line,
                          (long long)start_line);
        return;
    }
    /* A tail of a file larger than the read cap reads the cap's worth from the end. */
    bool from_end = tail_lines && (uint64_t)st->st_size > FOLDER_READ_MAX;
    if (from_end && lseek(fd, st->st_size - (off_t)FOLDER_READ_MAX, SEEK_SET) < 0) {
        osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, NULL, NULL, "cannot seek in '%.200s': %s",
                          path, strerror(errno));
        return;
    }
    char *data = NULL;
    size_t len = 0;
    bool more = false;
    if (osr_folder_read_fd(fd, FOLDER_READ_MAX, &data, &len, &more)) {
        osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, NULL, NULL, "cannot read '%.200s': %s",
                          path, strerror(errno));
        return;
    }
    if (osr_folder_looks_binary(data, len)) {
        osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, "path", "a text file",
                          "'%.200s' looks like a binary file (it contains NUL bytes); not shown",
                          path);
        free(data);
        return;
    }
    const char *text = data;
    size_t tlen = len;
    if (from_end) { /* drop the partial first line */
        const char *nl = memchr(text, '\n', tlen);
        if (nl) {
            tlen -= (size_t)(nl + 1 - text);
            text = nl + 1;
        }
    }
    /* A last line without a newline still counts. */
    size_t nlines = 0;
    for (size_t i = 0; i < tlen; i++)
        if (text[i] == '\n')
            nlines++;
    if (tlen > 0 && text[tlen - 1] != '\n')
        nlines++;
    size_t first = 1, last = nlines;
    if (tail_lines)
        first = (size_t)tail_lines >= nlines ? 1 : nlines - (size_t)tail_lines + 1;
    if (start_line)
        first = (size_t)start_line;
    if (end_line && (size_t)end_line < last)
        last = (size_t)end_line;
    size_t b0 = tlen, b1 = tlen;
    if (first <= last) { /* then also last <= nlines, so every memchr below finds its '\n' */
        size_t pos = 0;
        for (size_t line = 1; line < last; line++) {
            if (line == first)
                b0 = pos;
            pos = (size_t)((const char *)memchr(text + pos, '\n', tlen - pos) + 1 - text);
        }
        if (first == last)
            b0 = pos;
        const char *nl = memchr(text + pos, '\n', tlen - pos);
        b1 = nl ? (size_t)(nl + 1 - text) : tlen;
    }
    bool cut = false;
    size_t shown = cut_chars(text + b0, b1 - b0, (size_t)max_chars, &cut);
    /* The last line at least partly shown. */
    size_t shown_last = first - 1;
    for (size_t i = b0; i < b0 + shown; i++)
        if (text[i] == '\n')
            shown_last++;
    if (shown > 0 && text[b0 + shown - 1] != '\n')
        shown_last++;
    struct json_object *res = json_object_new_object();
    json_object_object_add(res, "kind", json_object_new_string("file"));
    json_object_object_add(res, "path", osr_json_new_string(path, strlen(path)));
    json_object_object_add(res, "size", json_object_new_int64((int64_t)st->st_size));
    if (!more && !from_end)
        json_object_object_add(res, "total_lines", json_object_new_int64((int64_t)nlines));
    if (first <= nlines) {
        json_object_object_add(res, "start_line", json_object_new_int64((int64_t)first));
        json_object_object_add(res, "end_line", json_object_new_int64((int64_t)shown_last));
    } else if (nlines > 0) {
        char w[160];
        snprintf(w, sizeof(w), "start_line %zu is past the end of the file (%zu lines)", first,
                 nlines);
        osr_tool_out_warn(out, w);
    }
    json_object_object_add(res, "content", osr_json_new_string(text + b0, shown));
    json_object_object_add(res, "truncated", json_object_new_boolean(cut || more));
    if (more && !from_end) {
        char w[160];
        snprintf(w, sizeof(w), "only the first %u bytes of the file were read", FOLDER_READ_MAX);
        osr_tool_out_warn(out, w);
    }
    if (from_end) {
        char w[160];
        snprintf(w, sizeof(w),
                 "only the last %u bytes of the file were read; line numbers "
                 "count from there",
                 FOLDER_READ_MAX);
        osr_tool_out_warn(out, w);
    }
    out->result = res;
    free(data);
}

void osr_folder_tool_file_read(void *ctx, struct json_object *args, struct osr_tool_out *out)
{
    struct osr_folder *f = ctx;
    size_t plen = 0;
    const char *path = arg_str(args, "path", &plen);
    int fd = osr_folder_open(f, "path", path, plen, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0, out);
    if (fd < 0)
        return;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, NULL, NULL, "cannot stat '%.200s': %s",
                          path, strerror(errno));
    } else if (S_ISDIR(st.st_mode)) {
        bool cut = false;
        struct json_object *entries =
            osr_folder_listing(fd, path, (int)arg_int(args, "max_depth", 2), &cut, out);
        fd = -1; /* the listing owns it now */
        if (entries) {
            struct json_object *res = json_object_new_object();
            json_object_object_add(res, "kind", json_object_new_string("listing"));
            json_object_object_add(res, "path", osr_json_new_string(path, plen));
            json_object_object_add(res, "entries", entries);
            json_object_object_add(res, "truncated", json_object_new_boolean(cut));
            out->result = res;
        }
    } else if (S_ISREG(st.st_mode)) {
        /* Back to blocking reads: O_NONBLOCK only kept the open from hanging on a FIFO. */
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        read_file(fd, &st, path, args, out);
    } else {
        osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, "path", "a file or a directory",
                          "'%.200s' is neither a regular file nor a directory", path);
    }
    if (fd >= 0)
        close(fd);
}

/* --- writing -------------------------------------------------------------------------------- */

/* Splits path into its parent ("." when none) and its last name.  false with out failed when
 * the path does not name a file (ends in '/', ".", ".."). */
static bool split_path(const char *path, size_t plen, char *parent, char *base,
                       struct osr_tool_out *out)
{
    const char *slash = memrchr(path, '/', plen);
    const char *b = slash ? slash + 1 : path;
    size_t blen = plen - (size_t)(b - path);
    if (blen == 0 || blen > NAME_MAX || (blen == 1 && b[0] == '.') ||
        (blen == 2 && b[0] == '.' && b[1] == '.')) {
        osr_tool_out_fail(out, OSR_TOOL_INVALID_ARGS, "path", "a path naming a file",
                          "'%.200s' does not name a file", path);
        return false;
    }
    memcpy(base, b, blen);
    base[blen] = '\0';
    if (!slash) {
        parent[0] = '.';
        parent[1] = '\0';
    } else {
        size_t n = (size_t)(slash - path);
        memcpy(parent, path, n);
        parent[n] = '\0';
        if (n == 0) { /* unreachable: absolute paths were refused */
            parent[0] = '.';
            parent[1] = '\0';
        }
    }
    return true;
}

/* Opens the parent directory of a file beneath the folder, creating missing directories
 * (each one inside the directory just opened) when create is set.  Returns an O_PATH fd or a
 * negative errno; out is failed for every error but ENOENT without create (which only means
 * the file will be new). */
static int open_parent(struct osr_folder *f, const char *parent, bool create,
                       struct osr_tool_out *out)
{
    int cur = osr_folder_openat(f->dirfd, ".", O_PATH | O_DIRECTORY, 0, 0);
    if (cur < 0) {
        osr_folder_open_fail(out, "path", parent, -cur);
        return cur;
    }
    size_t n = strlen(parent);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && parent[j] != '/')
            j++;
        size_t clen = j - i;
        if (clen == 0 || (clen == 1 && parent[i] == '.')) {
            i = j + 1;
            continue;
        }
        char prefix[FOLDER_PATH_MAX];
        memcpy(prefix, parent, j);
        prefix[j] = '\0';
        int next = osr_folder_openat(f->dirfd, prefix, O_PATH | O_DIRECTORY, 0, 0);
        if (next == -ENOENT && create && clen <= NAME_MAX) {
            char comp[NAME_MAX + 1];
            memcpy(comp, parent + i, clen);
            comp[clen] = '\0';
            /* comp is one name and cur a directory already beneath the folder. */
            if (mkdirat(cur, comp, 0777) != 0 && errno != EEXIST) {
                int e = errno;
                close(cur);
                osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, "path", NULL,
                                  "cannot create the directory '%.200s': %s", prefix, strerror(e));
                return -e;
            }
            next = osr_folder_openat(f->dirfd, prefix, O_PATH | O_DIRECTORY, 0, 0);
        }
        close(cur);
        if (next < 0) {
            if (!(next == -ENOENT && !create))
                osr_folder_open_fail(out, "path", prefix, -next);
            return next;
        }
        cur = next;
        i = j + 1;
    }
    return cur;
}

/* True when the directory dirfd is the folder's .git directory or inside it: the file tools
 * never write there (a hook or a config entry written by a tool would let the auto-approved
 * git tools run a program).  Walks up with ".." fds to the folder root. */
static bool inside_git(struct osr_folder *f, int dirfd)
{
    struct stat git, root, st;
    if (fstatat(f->dirfd, ".git", &git, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(git.st_mode) ||
        fstat(f->dirfd, &root) != 0)
        return false;
    int cur = openat(dirfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    bool inside = false;
    for (int depth = 0; cur >= 0 && depth < FOLDER_PATH_MAX / 2; depth++) {
        if (fstat(cur, &st) != 0)
            break;
        if (st.st_dev == git.st_dev && st.st_ino == git.st_ino) {
            inside = true;
            break;
        }
        if (st.st_dev == root.st_dev && st.st_ino == root.st_ino)
            break;
        int up = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
        close(cur);
        cur = up;
    }
    if (cur >= 0)
        close(cur);
    return inside;
}

/* True when a component of path is ".git": creating or replacing a .git (a gitfile naming
 * another repository) would be as dangerous as writing inside one. */
static bool names_git(const char *path)
{
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 4 && memcmp(p, ".git", 4) == 0)
            return true;
        p += n;
        p += *p == '/';
    }
    return false;
}

/* Reads the current content of path for a diff: *exists false when there is none.  false with
 * out failed when path leads outside, is not a regular file, is too large or binary. */
static bool read_existing(struct osr_folder *f, const char *path, size_t plen, char **data,
                          size_t *len, bool *exists, mode_t *mode, struct osr_tool_out *out)
{
    *exists = false;
    *data = NULL;
    *len = 0;
    int fd = osr_folder_openat(f->dirfd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0, 0);
    if (fd == -ENOENT)
        return true;
    if (fd < 0) {
        osr_folder_open_fail(out, "path", path, -fd);
        return false;
    }
    (void)plen;
    struct stat st;
    bool ok = false;
    bool more = false;
    if (fstat(fd, &st) != 0) {
        osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, "path", NULL, "cannot stat '%.200s': %s",
                          path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, "path", "a regular file",
                          "'%.200s' exists and is not a regular file", path);
    } else if ((uint64_t)st.st_size > FOLDER_READ_MAX) {
        osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, "path", NULL,
                          "'%.200s' is larger than %u bytes; folder tools do not rewrite it", path,
                          FOLDER_READ_MAX);
    } else if (fcntl(fd, F_SETFL, 0) != 0 ||
               osr_folder_read_fd(fd, FOLDER_READ_MAX, data, len, &more) != OSR_OK) {
        osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, "path", NULL, "cannot read '%.200s': %s",
                          path, strerror(errno));
    } else if (more) {
        osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, "path", NULL,
                          "'%.200s' grew past %u bytes while being read", path, FOLDER_READ_MAX);
    } else {
        *exists = true;
        *mode = st.st_mode & 07777;
        ok = true;
    }
    close(fd);
    if (!ok) {
        free(*data);
        *data = NULL;
    }
    return ok;
}

/* Writes data to base inside parentfd through a temporary file and a rename. */
static bool write_atomic(int parentfd, const char *path, const char *base, const char *data,
                         size_t n, bool keep_mode, mode_t mode, struct osr_tool_out *out)
{
    char tmp[64];
    int fd = -1;
    for (int attempt = 0; attempt < 8 && fd < 0; attempt++) {
        osr_random_id(tmp, sizeof(tmp), ".osr-tmp-", 16, 0);
        fd = openat(parentfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, "path", NULL,
                          "cannot create a temporary file beside '%.200s': %s", path,
                          strerror(errno));
        return false;
    }
    int err = 0;
    if (keep_mode && fchmod(fd, mode) != 0)
        err = errno;
    for (size_t off = 0; !err && off < n;) {
        ssize_t w = write(fd, data + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            err = errno;
        else
            off += (size_t)w;
    }
    if (!err && fsync(fd) != 0)
        err = errno;
    if (close(fd) != 0 && !err)
        err = errno;
    /* A symlink at the target is replaced by the file, never followed. */
    if (!err && renameat(parentfd, tmp, parentfd, base) != 0)
        err = errno;
    if (err) {
        unlinkat(parentfd, tmp, 0);
        osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, "path", NULL, "cannot write '%.200s': %s",
                          path, strerror(err));
        return false;
    }
    int dfd = openat(parentfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd); /* the rename itself survives a crash */
        close(dfd);
    }
    return true;
}

/* Adds "diff" (and "diff_truncated") for old -> new to res. */
static void add_diff(struct json_object *res, const char *path, const char *old, size_t nold,
                     bool existed, const char *text, size_t ntext)
{
    struct osr_buf d;
    osr_buf_init(&d, FOLDER_DIFF_CAP);
    int rc = osr_folder_diff(old ? old : "", nold, existed, text, ntext, true, path, &d);
    json_object_object_add(res, "diff", osr_json_new_string(osr_buf_str(&d), d.len));
    json_object_object_add(res, "diff_truncated", json_object_new_boolean(rc == OSR_ETOOBIG));
    osr_buf_release(&d);
}

/* The shared tail of file_write and file_edit: diff, or write + log. */
static void finish_write(struct osr_folder *f, const char *tool, const char *path, size_t plen,
                         const char *old, size_t nold, bool existed, mode_t mode, const char *text,
                         size_t ntext, bool dry_run, struct json_object *extra,
                         struct osr_tool_out *out)
{
    struct json_object *res = extra ? extra : json_object_new_object();
    json_object_object_add(res, "path", osr_json_new_string(path, plen));
    json_object_object_add(res, "dry_run", json_object_new_boolean(dry_run));
    json_object_object_add(res, "created", json_object_new_boolean(!existed));
    json_object_object_add(res, "bytes", json_object_new_int64((int64_t)ntext));
    if (!dry_run) {
        char parent[FOLDER_PATH_MAX], base[NAME_MAX + 1];
        if (!split_path(path, plen, parent, base, out)) {
            json_object_put(res);
            return;
        }
        if (names_git(path)) {
            json_object_put(res);
            osr_tool_out_fail(out, OSR_TOOL_REJECTED, "path", "a path outside .git",
                              "'%.200s' names a .git; folder tools do not write there", path);
            return;
        }
        int pfd = open_parent(f, parent, true, out);
        if (pfd < 0) {
            json_object_put(res);
            return;
        }
        if (inside_git(f, pfd)) {
            close(pfd);
            json_object_put(res);
            osr_tool_out_fail(out, OSR_TOOL_REJECTED, "path", "a path outside .git",
                              "'%.200s' is inside the repository's .git directory; folder tools "
                              "do not write there",
                              path);
            return;
        }
        bool ok = write_atomic(pfd, path, base, text, ntext, existed, mode, out);
        close(pfd);
        if (!ok) {
            json_object_put(res);
            return;
        }
        struct json_object *entry = json_object_new_object();
        json_object_object_add(entry, "path", osr_json_new_string(path, plen));
        json_object_object_add(entry, "bytes", json_object_new_int64((int64_t)ntext));
        json_object_object_add(entry, "created", json_object_new_boolean(!existed));
        osr_folder_log(f, tool, entry, out);
    }
    add_diff(res, path, old, nold, existed, text, ntext);
    out->result = res;
}

/* Fails out when the file's last component is a symlink (one that stays inside: the others
 * were rejected when the target was opened).  Writing would replace the link, not its target,
 * so the model is told where it points instead. */
static bool last_is_link(struct osr_folder *f, const char *path, size_t plen,
                         struct osr_tool_out *out)
{
    char parent[FOLDER_PATH_MAX], base[NAME_MAX + 1];
    if (!split_path(path, plen, parent, base, out))
        return true;
    struct osr_tool_out ignored;
    memset(&ignored, 0, sizeof(ignored));
    int pfd = open_parent(f, parent, false, &ignored);
    json_object_put(ignored.warnings);
    if (pfd < 0)
        return false; /* no parent yet: no link either */
    struct stat st;
    bool link = fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
    if (link) {
        char target[256];
        ssize_t n = readlinkat(pfd, base, target, sizeof(target) - 1);
        target[n > 0 ? n : 0] = '\0';
        osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, "path", "a regular file",
                          "'%.200s' is a symbolic link (to '%.200s'); write to the file it points "
                          "to instead",
                          path, target);
    }
    close(pfd);
    return link;
}

static void file_write_tool(void *ctx, struct json_object *args, struct osr_tool_out *out)
{
    struct osr_folder *f = ctx;
    size_t plen = 0, clen = 0;
    const char *path = arg_str(args, "path", &plen);
    const char *content = arg_str(args, "content", &clen);
    bool dry_run = arg_bool(args, "dry_run");
    if (!osr_folder_path_ok("path", path, plen, out))
        return;
    char parent[FOLDER_PATH_MAX], base[NAME_MAX + 1];
    if (!split_path(path, plen, parent, base, out))
        return;
    if (clen > FOLDER_READ_MAX) {
        osr_tool_out_fail(out, OSR_TOOL_INVALID_ARGS, "content", "at most 8 MiB",
                          "content is %zu bytes; the limit is %u", clen, FOLDER_READ_MAX);
        return;
    }
    /* The parent must resolve inside even when it does not exist yet: its existing part is
     * checked here, the rest is created one directory at a time beneath it. */
    int pfd = open_parent(f, parent, false, out);
    if (pfd < 0 && pfd != -ENOENT)
        return;
    if (pfd >= 0)
        close(pfd);
    char *old = NULL;
    size_t nold = 0;
    bool existed = false;
    mode_t mode = 0;
    if (pfd >= 0 && !read_existing(f, path, plen, &old, &nold, &existed, &mode, out))
        return;
    if (last_is_link(f, path, plen, out)) {
        free(old);
        return;
    }
    finish_write(f, "file_write", path, plen, old, nold, existed, mode, content, clen, dry_run,
                 NULL, out);
    free(old);
}

static void file_edit_tool(void *ctx, struct json_object *args, struct osr_tool_out *out)
{
    struct osr_folder *f = ctx;
    size_t plen = 0, olen = 0, nlen = 0;
    const char *path = arg_str(args, "path", &plen);
    const char *old_s = arg_str(args, "old_string", &olen);
    const char *new_s = arg_str(args, "new_string", &nlen);
    bool dry_run = arg_bool(args, "dry_run");
    if (!osr_folder_path_ok("path", path, plen, out))
        return;
    if (olen == 0) {
        osr_tool_out_fail(out, OSR_TOOL_INVALID_ARGS, "old_string", "a non-empty string",
                          "old_string is empty");
        return;
    }
    if (olen == nlen && memcmp(old_s, new_s, olen) == 0) {
        osr_tool_out_fail(out, OSR_TOOL_INVALID_ARGS, "new_string", "a different string",
                          "new_string is the same as old_string; nothing would change");
        return;
    }
    char *data = NULL;
    size_t len = 0;
    bool existed = false;
    mode_t mode = 0;
    if (!read_existing(f, path, plen, &data, &len, &existed, &mode, out))
        return;
    if (existed && last_is_link(f, path, plen, out)) {
        free(data);
        return;
    }
    if (!existed) {
        osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, "path", "an existing file",
                          "'%.200s' does not exist (use file_write to create it)", path);
        return;
    }
    if (osr_folder_looks_binary(data, len)) {
        osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, "path", "a text file",
                          "'%.200s' looks like a binary file; not edited", path);
        free(data);
        return;
    }
    /* Overlapping occurrences count: "aa" in "aaa" is ambiguous, so it is refused too. */
    size_t count = 0, at = 0;
    for (const char *p = data; (size_t)(p - data) + olen <= len;) {
        const char *hit = memmem(p, len - (size_t)(p - data), old_s, olen);
        if (!hit)
            break;
        if (count++ == 0)
            at = (size_t)(hit - data);
        p = hit + 1;
    }
    if (count != 1) {
        if (count == 0)
            osr_tool_out_fail(out, OSR_TOOL_INVALID_ARGS, "old_string",
                              "text that occurs exactly once in the file",
                              "old_string was not found in '%.200s' (0 matches); read the file "
                              "and copy the text exactly, whitespace included",
                              path);
        else
            osr_tool_out_fail(out, OSR_TOOL_INVALID_ARGS, "old_string",
                              "text that occurs exactly once in the file",
                              "old_string matches %zu times in '%.200s'; it must match exactly "
                              "once: include more surrounding lines",
                              count, path);
        free(data);
        return;
    }
    size_t ntext = len - olen + nlen;
    if (ntext > FOLDER_READ_MAX) {
        osr_tool_out_fail(out, OSR_TOOL_INVALID_ARGS, "new_string", "a smaller edit",
                          "the edited file would pass %u bytes", FOLDER_READ_MAX);
        free(data);
        return;
    }
    char *text = osr_xmalloc(ntext + 1);
    memcpy(text, data, at);
    memcpy(text + at, new_s, nlen);
    memcpy(text + at + nlen, data + at + olen, len - at - olen);
    text[ntext] = '\0';
    size_t line = 1;
    for (size_t i = 0; i < at; i++)
        if (data[i] == '\n')
            line++;
    struct json_object *extra = json_object_new_object();
    json_object_object_add(extra, "line", json_object_new_int64((int64_t)line));
    finish_write(f, "file_edit", path, plen, data, len, true, mode, text, ntext, dry_run, extra,
                 out);
    free(text);
    free(data);
}

/* --- registration --------------------------------------------------------------------------- */

static void folder_unref(void *ctx)
{
    struct osr_folder *f = ctx;
    if (!f || atomic_fetch_sub(&f->refs, 1) != 1)
        return;
    close(f->dirfd);
    pthread_mutex_destroy(&f->log_mu);
    free(f->log_path);
    free(f);
}

#define PATH_PROP "\"path\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4095,"
#define NO_MORE "\"additionalProperties\":false}"

static const struct osr_tool_def folder_defs[] = {
    {.name = "file_read",
     .description =
         "Reads a text file in the working folder (optionally a line range or the last lines), "
         "or lists a directory as {kind:\"listing\", entries:[{path,type,size}]}.",
     .input_schema =
         "{\"type\":\"object\",\"properties\":{" PATH_PROP
         "\"description\":\"file or directory, relative to the working folder (\\\".\\\" for "
         "the folder itself)\"},"
         "\"start_line\":{\"type\":\"integer\",\"minimum\":1,\"description\":\"first line, "
         "1-based\"},"
         "\"end_line\":{\"type\":\"integer\",\"minimum\":1,\"description\":\"last line, "
         "inclusive\"},"
         "\"tail_lines\":{\"type\":\"integer\",\"minimum\":1,\"description\":\"only the last N "
         "lines\"},"
         "\"max_chars\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000000,"
         "\"description\":\"characters of content returned at most (default 100000)\"},"
         "\"max_depth\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":10,\"description\":"
         "\"directory levels listed (default 2)\"}},"
         "\"required\":[\"path\"]," NO_MORE,
     .policy = OSR_TOOL_POLICY_AUTO,
     .source = OSR_TOOL_SOURCE_FOLDER,
     .fn = osr_folder_tool_file_read},
    {.name = "file_write",
     .description = "Creates or overwrites a file in the working folder (parent directories are "
                    "created). With dry_run, returns the unified diff and changes nothing.",
     .input_schema = "{\"type\":\"object\",\"properties\":{" PATH_PROP
                     "\"description\":\"file, relative to the working folder\"},"
                     "\"content\":{\"type\":\"string\",\"description\":\"the whole new "
                     "content\"},"
                     "\"dry_run\":{\"type\":\"boolean\"}},"
                     "\"required\":[\"path\",\"content\"]," NO_MORE,
     .policy = OSR_TOOL_POLICY_AUTO,
     .source = OSR_TOOL_SOURCE_FOLDER,
     .fn = file_write_tool},
    {.name = "file_edit",
     .description = "Replaces old_string with new_string in a file of the working folder; "
                    "old_string must occur exactly once. Returns a unified diff; with dry_run "
                    "nothing is changed.",
     .input_schema = "{\"type\":\"object\",\"properties\":{" PATH_PROP
                     "\"description\":\"file, relative to the working folder\"},"
                     "\"old_string\":{\"type\":\"string\",\"minLength\":1,\"description\":"
                     "\"exact text to replace, whitespace included\"},"
                     "\"new_string\":{\"type\":\"string\"},"
                     "\"dry_run\":{\"type\":\"boolean\"}},"
                     "\"required\":[\"path\",\"old_string\",\"new_string\"]," NO_MORE,
     .policy = OSR_TOOL_POLICY_AUTO,
     .source = OSR_TOOL_SOURCE_FOLDER,
     .fn = file_edit_tool},
    {.name = "file_search",
     .description = "Searches the working folder: target \"content\" (default) finds lines "
                    "matching a regular expression (PCRE2) in text files; target \"files\" "
                    "finds names matching a glob. .git and binary files are skipped.",
     .input_schema =
         "{\"type\":\"object\",\"properties\":{"
         "\"pattern\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":1000,\"description\":"
         "\"a regular expression (content) or a glob such as *.c (files)\"},"
         "\"path\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4095,\"description\":"
         "\"directory to search, relative to the working folder (default .)\"},"
         "\"target\":{\"type\":\"string\",\"enum\":[\"content\",\"files\"]},"
         "\"glob\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":1000,\"description\":"
         "\"only files whose name matches this glob\"},"
         "\"max_results\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000}},"
         "\"required\":[\"pattern\"]," NO_MORE,
     .policy = OSR_TOOL_POLICY_AUTO,
     .source = OSR_TOOL_SOURCE_FOLDER,
     .fn = osr_folder_tool_file_search},
    {.name = "shell_run",
     .description = "Runs a shell command (/bin/sh -c) in the working folder with a timeout; "
                    "returns exit_code, the combined stdout and stderr, timed_out and "
                    "duration_ms.",
     .input_schema = "{\"type\":\"object\",\"properties\":{"
                     "\"command\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":16384},"
                     "\"timeout_ms\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":600000}},"
                     "\"required\":[\"command\"]," NO_MORE,
     .policy = OSR_TOOL_POLICY_ASK,
     .source = OSR_TOOL_SOURCE_FOLDER,
     .fn = osr_folder_tool_shell_run},
    {.name = "git_status",
     .description = "Shows the branch and the changed files of the working folder's git "
                    "repository.",
     .input_schema = "{\"type\":\"object\",\"properties\":{}," NO_MORE,
     .policy = OSR_TOOL_POLICY_AUTO,
     .source = OSR_TOOL_SOURCE_FOLDER,
     .fn = osr_folder_tool_git_status},
    {.name = "git_diff",
     .description = "Shows the uncommitted changes (or with staged, the staged ones) of the "
                    "working folder's git repository, optionally for one path.",
     .input_schema = "{\"type\":\"object\",\"properties\":{"
                     "\"path\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4095},"
                     "\"staged\":{\"type\":\"boolean\"}}," NO_MORE,
     .policy = OSR_TOOL_POLICY_AUTO,
     .source = OSR_TOOL_SOURCE_FOLDER,
     .fn = osr_folder_tool_git_diff},
    {.name = "git_commit",
     .description = "Stages and commits changes in the working folder's git repository: the "
                    "given paths, or every change when paths is left out.",
     .input_schema = "{\"type\":\"object\",\"properties\":{"
                     "\"message\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":10000},"
                     "\"paths\":{\"type\":\"array\",\"maxItems\":100,\"items\":{\"type\":"
                     "\"string\",\"minLength\":1,\"maxLength\":4095}}},"
                     "\"required\":[\"message\"]," NO_MORE,
     .policy = OSR_TOOL_POLICY_ASK,
     .source = OSR_TOOL_SOURCE_FOLDER,
     .fn = osr_folder_tool_git_commit},
};

int osr_folder_tools_add(struct osr_tools *reg, const char *folder, const struct osr_folder_opts *o,
                         struct osr_diag *diag)
{
    int dirfd = open(folder, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return osr_diag_set(diag, errno == ENOENT ? OSR_ENOTFOUND : OSR_EIO,
                            "cannot open the folder '%s': %s", folder, strerror(errno));
    int probe = osr_folder_openat(dirfd, ".", O_PATH | O_DIRECTORY, 0, 0);
    if (probe < 0) {
        close(dirfd);
        if (probe == -ENOSYS)
            return osr_diag_set(diag, OSR_EUNSUPPORTED,
                                "this kernel lacks openat2(2); folder tools are not available");
        return osr_diag_set(diag, OSR_EIO, "cannot open the folder '%s': %s", folder,
                            strerror(-probe));
    }
    close(probe);
    struct osr_folder *f = osr_xcalloc(1, sizeof(*f));
    atomic_init(&f->refs, 1);
    f->dirfd = dirfd;
    pthread_mutex_init(&f->log_mu, NULL);
    if (o && o->log_path && o->log_path[0])
        f->log_path = osr_xstrdup(o->log_path);
    int t = o ? o->shell_timeout_ms : 0;
    f->shell_timeout_ms = t <= 0 ? OSR_FOLDER_SHELL_TIMEOUT_DEFAULT_MS
                          : t > OSR_FOLDER_SHELL_TIMEOUT_MAX_MS ? OSR_FOLDER_SHELL_TIMEOUT_MAX_MS
                                                                : t;
    size_t cap = o ? o->output_cap : 0;
    f->output_cap = cap == 0                          ? OSR_FOLDER_OUTPUT_CAP_DEFAULT
                    : cap > OSR_FOLDER_OUTPUT_CAP_MAX ? OSR_FOLDER_OUTPUT_CAP_MAX
                                                      : cap;
    size_t n = sizeof(folder_defs) / sizeof(folder_defs[0]);
    size_t added = 0;
    int rc = OSR_OK;
    for (; added < n; added++) {
        struct osr_tool_def def = folder_defs[added];
        def.ctx = f;
        def.ctx_free = folder_unref;
        atomic_fetch_add(&f->refs, 1);
        rc = osr_tools_add(reg, &def, diag);
        if (rc) {
            atomic_fetch_sub(&f->refs, 1); /* not taken on failure */
            break;
        }
    }
    if (rc)
        while (added > 0)
            osr_tools_remove(reg, folder_defs[--added].name);
    folder_unref(f); /* the adder's reference */
    return rc;
}
