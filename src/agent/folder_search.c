/* folder_search.c - directory walks for the folder tools: file_read's listing and
 * file_search (regular expressions over file contents, globs over names).
 *
 * A walk holds one directory fd per level and opens each child with openat2 relative to its
 * parent's fd, refusing symlinks (RESOLVE_NO_SYMLINKS), so it never leaves the folder and
 * never builds a real path out of strings: the "path" strings in results are for people.
 * Names are read whole per directory and sorted, so results are stable.  .git is skipped,
 * symlinks are listed but never followed, binary files (a NUL in the first 8000 bytes) are
 * skipped by the content search.  Everything is capped: depth, names per directory, entries,
 * results, bytes read per file and in total.  Regular expressions are PCRE2 with match and
 * depth limits, so a catastrophic pattern fails that line instead of hanging the tool.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "folder_internal.h"
#include "osr/alloc.h"
#include "osr/json.h"

#define LIST_MAX_ENTRIES 1000
#define WALK_MAX_NAMES_PER_DIR 20000
#define WALK_MAX_NAMES_TOTAL 200000
#define SEARCH_MAX_DEPTH 32
#define SEARCH_FILE_MAX (2u * 1024 * 1024)
#define SEARCH_TOTAL_MAX (64u * 1024 * 1024)
#define SEARCH_DEFAULT_RESULTS 100
#define SEARCH_LINE_TEXT_MAX 400

struct walk;
/* Called for every entry but .git; returns false to stop the walk. */
typedef bool (*walk_fn)(struct walk *w, int dirfd, const char *name, const char *rel,
                        const struct stat *st);

struct walk {
    int max_depth;
    size_t names_seen;
    bool truncated; /* a cap stopped the walk early */
    bool stopped;
    walk_fn fn;
    void *ud;
};

static int by_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void join_rel(char *out, size_t cap, const char *rel, const char *name)
{
    if (!rel[0] || (rel[0] == '.' && !rel[1]))
        snprintf(out, cap, "%s", name);
    else
        snprintf(out, cap, "%s/%s", rel, name);
}

/* Walks the directory dfd (taken; closed here) named rel, at depth (1 = its children). */
static void walk_dir(struct walk *w, int dfd, const char *rel, int depth)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return;
    }
    size_t n = 0, cap = 64;
    char **names = osr_xmalloc(cap * sizeof(*names));
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            strcmp(e->d_name, ".git") == 0)
            continue;
        if (n >= WALK_MAX_NAMES_PER_DIR || w->names_seen >= WALK_MAX_NAMES_TOTAL) {
            w->truncated = true;
            break;
        }
        w->names_seen++;
        if (n == cap) {
            cap *= 2;
            names = osr_xrealloc(names, cap * sizeof(*names));
        }
        names[n++] = osr_xstrdup(e->d_name);
    }
    qsort(names, n, sizeof(*names), by_str);
    int fd = dirfd(d);
    for (size_t i = 0; i < n && !w->stopped; i++) {
        struct stat st;
        if (fstatat(fd, names[i], &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue; /* vanished meanwhile */
        char child[FOLDER_PATH_MAX];
        join_rel(child, sizeof(child), rel, names[i]);
        if (!w->fn(w, fd, names[i], child, &st)) {
            w->stopped = true;
            break;
        }
        if (S_ISDIR(st.st_mode) && depth < w->max_depth) {
            int cfd = osr_folder_openat(fd, names[i], O_RDONLY | O_DIRECTORY | O_NOCTTY, 0,
                                        RESOLVE_NO_SYMLINKS);
            if (cfd >= 0)
                walk_dir(w, cfd, child, depth + 1);
        } else if (S_ISDIR(st.st_mode)) {
            w->truncated = w->truncated || w->max_depth >= SEARCH_MAX_DEPTH;
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
}

/* A display form of a user's relative path: no "./" prefix, no trailing '/'. */
static void clean_rel(char *out, size_t cap, const char *path)
{
    while (path[0] == '.' && path[1] == '/')
        path += 2;
    snprintf(out, cap, "%s", path[0] ? path : ".");
    size_t n = strlen(out);
    while (n > 1 && out[n - 1] == '/')
        out[--n] = '\0';
}

static const char *type_name(mode_t m)
{
    return S_ISREG(m) ? "file" : S_ISDIR(m) ? "dir" : S_ISLNK(m) ? "symlink" : "other";
}

/* --- listing -------------------------------------------------------------------------------- */

static bool list_entry(struct walk *w, int dirfd, const char *name, const char *rel,
                       const struct stat *st)
{
    (void)dirfd;
    (void)name;
    struct json_object *arr = w->ud;
    if (json_object_array_length(arr) >= LIST_MAX_ENTRIES) {
        w->truncated = true;
        return false;
    }
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "path", osr_json_new_string(rel, strlen(rel)));
    json_object_object_add(o, "type", json_object_new_string(type_name(st->st_mode)));
    if (!S_ISDIR(st->st_mode))
        json_object_object_add(o, "size", json_object_new_int64((int64_t)st->st_size));
    json_object_array_add(arr, o);
    return true;
}

struct json_object *osr_folder_listing(int dirfd, const char *rel, int max_depth, bool *truncated,
                                       struct osr_tool_out *out)
{
    struct json_object *arr = json_object_new_array();
    char clean[FOLDER_PATH_MAX];
    clean_rel(clean, sizeof(clean), rel);
    struct walk w = {.max_depth = max_depth < 1 ? 1 : max_depth, .fn = list_entry, .ud = arr};
    walk_dir(&w, dirfd, clean, 1);
    *truncated = w.truncated;
    if (w.truncated) {
        char msg[128];
        snprintf(msg, sizeof(msg), "the listing was cut at %d entries or by a limit",
                 LIST_MAX_ENTRIES);
        osr_tool_out_warn(out, msg);
    }
    return arr;
}

/* --- file_search ---------------------------------------------------------------------------- */

struct search {
    bool files; /* target "files": pattern is a glob over names */
    const char *pattern;
    const char *glob; /* optional name filter, or NULL */
    pcre2_code *re;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    struct json_object *matches;
    size_t max_results;
    size_t files_searched;
    size_t skipped_binary;
    size_t skipped_large;
    size_t bytes_read;
    size_t match_errors;
    bool capped;
};

/* fnmatch on the name, or on the whole relative path when the glob has a '/'. */
static bool glob_match(const char *glob, const char *name, const char *rel)
{
    if (strchr(glob, '/'))
        return fnmatch(glob, rel, FNM_PATHNAME) == 0;
    return fnmatch(glob, name, 0) == 0;
}

static void add_line_match(struct search *s, const char *rel, size_t line, const char *p, size_t n)
{
    if (n > 0 && p[n - 1] == '\r')
        n--;
    bool cut = false;
    if (n > SEARCH_LINE_TEXT_MAX) {
        n = SEARCH_LINE_TEXT_MAX;
        while (n > 0 && ((unsigned char)p[n] & 0xC0) == 0x80)
            n--; /* not inside a UTF-8 sequence */
        cut = true;
    }
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "path", osr_json_new_string(rel, strlen(rel)));
    json_object_object_add(o, "line", json_object_new_int64((int64_t)line));
    json_object_object_add(o, "text", osr_json_new_string(p, n));
    if (cut)
        json_object_object_add(o, "text_truncated", json_object_new_boolean(1));
    json_object_array_add(s->matches, o);
}

/* Searches one open regular file; false when the result cap was reached. */
static bool search_fd(struct search *s, int fd, const char *rel, off_t size)
{
    if ((uint64_t)size > SEARCH_FILE_MAX) {
        s->skipped_large++;
        return true;
    }
    if (s->bytes_read + (size_t)size > SEARCH_TOTAL_MAX) {
        s->capped = true;
        return false;
    }
    char *data = NULL;
    size_t len = 0;
    bool more = false;
    if (osr_folder_read_fd(fd, SEARCH_FILE_MAX, &data, &len, &more) != OSR_OK)
        return true;
    s->bytes_read += len;
    s->files_searched++;
    if (osr_folder_looks_binary(data, len)) {
        s->skipped_binary++;
        free(data);
        return true;
    }
    size_t line = 1;
    bool go_on = true;
    for (size_t pos = 0; pos < len && go_on; line++) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len;
        int rc = pcre2_match(s->re, (PCRE2_SPTR)(data + pos), end - pos, 0, 0, s->md, s->mctx);
        if (rc >= 0) {
            if (json_object_array_length(s->matches) >= s->max_results) {
                s->capped = true;
                go_on = false;
            } else {
                add_line_match(s, rel, line, data + pos, end - pos);
            }
        } else if (rc != PCRE2_ERROR_NOMATCH) {
            s->match_errors++; /* a match limit: this line counts as not matching */
        }
        pos = end + 1;
    }
    free(data);
    return go_on;
}

static bool search_entry(struct walk *w, int dirfd, const char *name, const char *rel,
                         const struct stat *st)
{
    struct search *s = w->ud;
    if (s->files) {
        if (!glob_match(s->pattern, name, rel) || (s->glob && !glob_match(s->glob, name, rel)))
            return true;
        if (json_object_array_length(s->matches) >= s->max_results) {
            s->capped = true;
            return false;
        }
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "path", osr_json_new_string(rel, strlen(rel)));
        json_object_object_add(o, "type", json_object_new_string(type_name(st->st_mode)));
        if (!S_ISDIR(st->st_mode))
            json_object_object_add(o, "size", json_object_new_int64((int64_t)st->st_size));
        json_object_array_add(s->matches, o);
        return true;
    }
    if (!S_ISREG(st->st_mode) || (s->glob && !glob_match(s->glob, name, rel)))
        return true;
    int fd =
        osr_folder_openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0, RESOLVE_NO_SYMLINKS);
    if (fd < 0)
        return true;
    bool go_on = search_fd(s, fd, rel, st->st_size);
    close(fd);
    return go_on;
}

void osr_folder_tool_file_search(void *ctx, struct json_object *args, struct osr_tool_out *out)
{
    struct osr_folder *f = ctx;
    struct json_object *v = NULL;
    struct search s;
    memset(&s, 0, sizeof(s));
    json_object_object_get_ex(args, "pattern", &v);
    s.pattern = json_object_get_string(v);
    if (strlen(s.pattern) != (size_t)json_object_get_string_len(v)) {
        osr_tool_out_fail(out, OSR_TOOL_INVALID_ARGS, "pattern", "a pattern without NUL",
                          "pattern contains a NUL character");
        return;
    }
    const char *path = ".";
    size_t plen = 1;
    if (json_object_object_get_ex(args, "path", &v) && v) {
        path = json_object_get_string(v);
        plen = (size_t)json_object_get_string_len(v);
    }
    if (json_object_object_get_ex(args, "glob", &v) && v)
        s.glob = json_object_get_string(v);
    s.files = json_object_object_get_ex(args, "target", &v) && v &&
              strcmp(json_object_get_string(v), "files") == 0;
    s.max_results = SEARCH_DEFAULT_RESULTS;
    if (json_object_object_get_ex(args, "max_results", &v) && v)
        s.max_results = (size_t)json_object_get_int64(v);

    if (!s.files) {
        int err = 0;
        PCRE2_SIZE erroff = 0;
        s.re = pcre2_compile((PCRE2_SPTR)s.pattern, PCRE2_ZERO_TERMINATED,
                             PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err, &erroff, NULL);
        if (!s.re) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(err, msg, sizeof(msg));
            osr_tool_out_fail(out, OSR_TOOL_INVALID_ARGS, "pattern", "a PCRE2 regular expression",
                              "pattern: %s at offset %zu", (const char *)msg, (size_t)erroff);
            return;
        }
        pcre2_jit_compile(s.re, PCRE2_JIT_COMPLETE); /* the interpreter is the fallback */
        s.md = pcre2_match_data_create_from_pattern(s.re, NULL);
        s.mctx = pcre2_match_context_create(NULL);
        pcre2_set_match_limit(s.mctx, 1000000);
        pcre2_set_depth_limit(s.mctx, 10000);
        pcre2_set_heap_limit(s.mctx, 20000); /* KiB */
    }
    int fd = osr_folder_open(f, "path", path, plen, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0, out);
    if (fd < 0)
        goto out;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, "path", NULL, "cannot stat '%.200s'",
                          path);
        goto out;
    }
    s.matches = json_object_new_array();
    char rel[FOLDER_PATH_MAX];
    clean_rel(rel, sizeof(rel), path);
    struct walk w = {.max_depth = SEARCH_MAX_DEPTH, .fn = search_entry, .ud = &s};
    if (S_ISDIR(st.st_mode)) {
        walk_dir(&w, fd, rel, 1);
    } else if (S_ISREG(st.st_mode) && !s.files) {
        const char *slash = strrchr(rel, '/');
        if (!s.glob || glob_match(s.glob, slash ? slash + 1 : rel, rel))
            search_fd(&s, fd, rel, st.st_size);
        close(fd);
    } else {
        close(fd);
        osr_tool_out_fail(out, OSR_TOOL_INVALID_ARGS, "path", "a directory",
                          "'%.200s' is not a directory", path);
        goto out;
    }
    struct json_object *res = json_object_new_object();
    json_object_object_add(res, "target", json_object_new_string(s.files ? "files" : "content"));
    json_object_object_add(res, "pattern", json_object_new_string(s.pattern));
    json_object_object_add(res, "count",
                           json_object_new_int64((int64_t)json_object_array_length(s.matches)));
    json_object_object_add(res, "matches", s.matches);
    s.matches = NULL;
    json_object_object_add(res, "truncated", json_object_new_boolean(s.capped || w.truncated));
    if (!s.files) {
        json_object_object_add(res, "files_searched",
                               json_object_new_int64((int64_t)s.files_searched));
        if (s.skipped_binary)
            json_object_object_add(res, "skipped_binary",
                                   json_object_new_int64((int64_t)s.skipped_binary));
        if (s.skipped_large)
            json_object_object_add(res, "skipped_large",
                                   json_object_new_int64((int64_t)s.skipped_large));
        if (s.match_errors)
            osr_tool_out_warn(out, "some lines hit the regular expression's match limit and "
                                   "were treated as not matching");
    }
    out->result = res;
out:
    json_object_put(s.matches);
    pcre2_match_context_free(s.mctx);
    pcre2_match_data_free(s.md);
    pcre2_code_free(s.re);
}
