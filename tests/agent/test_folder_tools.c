/* test_folder_tools.c - the folder tools on real temporary folders: each tool's normal path
 * checked on disk, dry runs, edits with 0 and 2 matches, commands (exit codes, timeout that
 * kills a whole process group, output cap), git in a real repository, the operation log, the
 * unified diff (exact output and a patch-applying property check), and path escapes against
 * every tool that takes a path. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "diff_apply.h"
#include "osr/buf.h"
#include "osr/folder_tools.h"
#include "osr/json.h"
#include "osr/tools.h"

static char g_base[512]; /* the temporary root: holds secret.txt and work/ */
static char g_work[600]; /* the working folder given to the tools */
static char g_log[600];  /* the operation log */
static struct osr_tools *g_reg;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* Removes a tree without following symlinks (the tests plant links to / and to ..). */
static void rm_tree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void put(const char *rel, const char *content)
{
    char p[1200];
    snprintf(p, sizeof(p), "%s/%s", g_work, rel);
    FILE *fp = fopen(p, "wb");
    if (!fp) {
        fprintf(stderr, "cannot write %s\n", p);
        return;
    }
    fwrite(content, 1, strlen(content), fp);
    fclose(fp);
}

/* Reads a file (absolute path) into buf; returns -1 when it does not exist. */
static long slurp_abs(const char *p, char *buf, size_t cap)
{
    FILE *fp = fopen(p, "rb");
    if (!fp)
        return -1;
    size_t n = fread(buf, 1, cap - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return (long)n;
}

static long slurp(const char *rel, char *buf, size_t cap)
{
    char p[1200];
    snprintf(p, sizeof(p), "%s/%s", g_work, rel);
    return slurp_abs(p, buf, cap);
}

static bool exists_rel(const char *rel)
{
    char p[1200];
    struct stat st;
    snprintf(p, sizeof(p), "%s/%s", g_work, rel);
    return lstat(p, &st) == 0;
}

static void mkdir_rel(const char *rel)
{
    char p[1200];
    snprintf(p, sizeof(p), "%s/%s", g_work, rel);
    mkdir(p, 0755);
}

static void link_rel(const char *target, const char *rel)
{
    char p[1200];
    snprintf(p, sizeof(p), "%s/%s", g_work, rel);
    if (symlink(target, p) != 0)
        fprintf(stderr, "symlink %s failed\n", p);
}

static void setup_opts(const struct osr_folder_opts *o)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(g_base, sizeof(g_base), "%s/osr-folder-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_base)) {
        fprintf(stderr, "mkdtemp failed\n");
        exit(1);
    }
    snprintf(g_work, sizeof(g_work), "%s/work", g_base);
    mkdir(g_work, 0755);
    snprintf(g_log, sizeof(g_log), "%s/ops.jsonl", g_base);
    char p[700];
    snprintf(p, sizeof(p), "%s/secret.txt", g_base);
    FILE *fp = fopen(p, "w");
    fputs("TOPSECRET\n", fp);
    fclose(fp);
    g_reg = osr_tools_new();
    struct osr_folder_opts def = {.log_path = g_log, .shell_timeout_ms = 20000};
    struct osr_diag d;
    osr_diag_clear(&d);
    int rc = osr_folder_tools_add(g_reg, g_work, o ? o : &def, &d);
    if (rc) {
        fprintf(stderr, "osr_folder_tools_add: %s\n", d.msg);
        exit(1);
    }
}

static void setup(void)
{
    setup_opts(NULL);
}

static void teardown(void)
{
    osr_tools_free(g_reg);
    g_reg = NULL;
    rm_tree(g_base);
}

static bool approve_all(void *ctx, const char *tool, struct json_object *args)
{
    (void)ctx;
    (void)tool;
    (void)args;
    return true;
}

static bool approve_none(void *ctx, const char *tool, struct json_object *args)
{
    (void)ctx;
    (void)tool;
    (void)args;
    return false;
}

static struct json_object *obj(const char *text)
{
    struct json_object *o = NULL;
    if (osr_json_parse(text, strlen(text), &o, NULL) != OSR_OK)
        fprintf(stderr, "test json does not parse: %s\n", text);
    return o;
}

/* Calls tool with the JSON arguments text; the caller puts the envelope. */
static struct json_object *call(const char *tool, const char *args)
{
    struct json_object *a = NULL;
    if (osr_json_parse(args, strlen(args), &a, NULL) != OSR_OK)
        fprintf(stderr, "test json does not parse: %s\n", args);
    const struct osr_tool_call_opts opts = {.approve = approve_all};
    struct json_object *env = osr_tools_call(g_reg, tool, a, &opts);
    json_object_put(a);
    return env;
}

static const char *kind(struct json_object *env)
{
    struct json_object *k = NULL;
    if (osr_tool_envelope_is_ok(env))
        return "ok";
    if (json_object_object_get_ex(env, "kind", &k))
        return json_object_get_string(k);
    return "?";
}

static struct json_object *res(struct json_object *env)
{
    struct json_object *r = NULL;
    json_object_object_get_ex(env, "result", &r);
    return r;
}

static const char *rstr(struct json_object *env, const char *key)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(res(env), key, &v) || !v)
        return "";
    return json_object_get_string(v);
}

static int64_t rnum(struct json_object *env, const char *key)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(res(env), key, &v) || !v)
        return -999;
    return json_object_get_int64(v);
}

static bool rbool(struct json_object *env, const char *key)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(res(env), key, &v) && v && json_object_get_boolean(v);
}

static const char *msg(struct json_object *env)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(env, "message", &v) ? json_object_get_string(v) : "";
}

static bool has_warning(struct json_object *env, const char *needle)
{
    struct json_object *w = NULL;
    if (!json_object_object_get_ex(env, "warnings", &w))
        return false;
    for (size_t i = 0; i < json_object_array_length(w); i++)
        if (strstr(json_object_get_string(json_object_array_get_idx(w, i)), needle))
            return true;
    return false;
}

/* --- registration --------------------------------------------------------------------------- */

static void test_register(void)
{
    setup();
    CHECK_INT_EQ(osr_tools_count(g_reg), 8);
    struct json_object *list = osr_tools_list(g_reg, true);
    size_t n = json_object_array_length(list);
    CHECK_INT_EQ(n, 8);
    for (size_t i = 0; i < n; i++) {
        struct json_object *t = json_object_array_get_idx(list, i), *v = NULL, *s = NULL;
        json_object_object_get_ex(t, "name", &v);
        const char *name = json_object_get_string(v);
        json_object_object_get_ex(t, "inputSchema", &s);
        CHECK(json_object_object_get_ex(s, "additionalProperties", &v) &&
              !json_object_get_boolean(v));
        json_object_object_get_ex(t, "source", &v);
        CHECK_STR_EQ(json_object_get_string(v), "folder");
        json_object_object_get_ex(t, "policy", &v);
        bool ask = strcmp(name, "shell_run") == 0 || strcmp(name, "git_commit") == 0;
        CHECK_STR_EQ(json_object_get_string(v), ask ? "ask" : "auto");
    }
    json_object_put(list);

    /* A second set in the same registry clashes and leaves the first working. */
    struct osr_diag d;
    osr_diag_clear(&d);
    CHECK_INT_EQ(osr_folder_tools_add(g_reg, g_work, NULL, &d), OSR_EEXIST);
    CHECK_INT_EQ(osr_tools_count(g_reg), 8);
    put("a.txt", "hello\n");
    struct json_object *env = call("file_read", "{\"path\":\"a.txt\"}");
    CHECK_STR_EQ(rstr(env, "content"), "hello\n");
    json_object_put(env);

    /* A missing folder; a file instead of a folder. */
    struct osr_tools *other = osr_tools_new();
    char missing[1400];
    snprintf(missing, sizeof(missing), "%s/nope", g_base);
    CHECK_INT_EQ(osr_folder_tools_add(other, missing, NULL, &d), OSR_ENOTFOUND);
    CHECK(strstr(d.msg, "nope") != NULL);
    snprintf(missing, sizeof(missing), "%s/secret.txt", g_base);
    CHECK(osr_folder_tools_add(other, missing, NULL, &d) != OSR_OK);
    CHECK_INT_EQ(osr_tools_count(other), 0);

    /* Two folders at once, each in its own registry. */
    char second[800];
    snprintf(second, sizeof(second), "%s/second", g_base);
    mkdir(second, 0755);
    CHECK_INT_EQ(osr_folder_tools_add(other, second, NULL, &d), OSR_OK);
    struct json_object *a = NULL;
    a = obj("{\"path\":\"b.txt\",\"content\":\"two\"}");
    struct json_object *e2 = osr_tools_call(other, "file_write", a, NULL);
    json_object_put(a);
    CHECK_STR_EQ(kind(e2), "ok");
    json_object_put(e2);
    char buf[64];
    snprintf(missing, sizeof(missing), "%s/b.txt", second);
    CHECK_INT_EQ(slurp_abs(missing, buf, sizeof(buf)), 3);
    CHECK(!exists_rel("b.txt"));
    /* Removing one tool keeps the shared context alive for the others. */
    CHECK_INT_EQ(osr_tools_remove(other, "file_write"), OSR_OK);
    a = obj("{\"path\":\"b.txt\"}");
    e2 = osr_tools_call(other, "file_read", a, NULL);
    json_object_put(a);
    CHECK_STR_EQ(rstr(e2, "content"), "two");
    json_object_put(e2);
    osr_tools_free(other);
    teardown();
}

/* --- file_read ------------------------------------------------------------------------------ */

static void test_file_read(void)
{
    setup();
    put("lines.txt", "one\ntwo\nthree\nfour\nfive\n");
    struct json_object *env = call("file_read", "{\"path\":\"lines.txt\"}");
    CHECK_STR_EQ(kind(env), "ok");
    CHECK_STR_EQ(rstr(env, "kind"), "file");
    CHECK_STR_EQ(rstr(env, "content"), "one\ntwo\nthree\nfour\nfive\n");
    CHECK_INT_EQ(rnum(env, "total_lines"), 5);
    CHECK_INT_EQ(rnum(env, "size"), 24);
    CHECK(!rbool(env, "truncated"));
    json_object_put(env);

    env = call("file_read", "{\"path\":\"./lines.txt\",\"start_line\":2,\"end_line\":3}");
    CHECK_STR_EQ(rstr(env, "content"), "two\nthree\n");
    CHECK_INT_EQ(rnum(env, "start_line"), 2);
    CHECK_INT_EQ(rnum(env, "end_line"), 3);
    json_object_put(env);

    env = call("file_read", "{\"path\":\"lines.txt\",\"start_line\":4}");
    CHECK_STR_EQ(rstr(env, "content"), "four\nfive\n");
    json_object_put(env);

    env = call("file_read", "{\"path\":\"lines.txt\",\"tail_lines\":2}");
    CHECK_STR_EQ(rstr(env, "content"), "four\nfive\n");
    CHECK_INT_EQ(rnum(env, "start_line"), 4);
    json_object_put(env);

    env = call("file_read", "{\"path\":\"lines.txt\",\"max_chars\":6}");
    CHECK_STR_EQ(rstr(env, "content"), "one\ntw");
    CHECK(rbool(env, "truncated"));
    CHECK_INT_EQ(rnum(env, "end_line"), 2);
    json_object_put(env);

    env = call("file_read", "{\"path\":\"lines.txt\",\"start_line\":9}");
    CHECK_STR_EQ(kind(env), "ok");
    CHECK_STR_EQ(rstr(env, "content"), "");
    CHECK(has_warning(env, "past the end"));
    json_object_put(env);

    env = call("file_read", "{\"path\":\"lines.txt\",\"start_line\":3,\"end_line\":2}");
    CHECK_STR_EQ(kind(env), "invalid_args");
    json_object_put(env);
    env = call("file_read", "{\"path\":\"lines.txt\",\"tail_lines\":2,\"start_line\":1}");
    CHECK_STR_EQ(kind(env), "invalid_args");
    json_object_put(env);
    env = call("file_read", "{\"path\":\"lines.txt\",\"bogus\":1}");
    CHECK_STR_EQ(kind(env), "invalid_args");
    json_object_put(env);

    /* UTF-8 is cut at a character, not a byte; no newline at the end is kept. */
    put("u.txt", "h\xc3\xa9llo");
    env = call("file_read", "{\"path\":\"u.txt\",\"max_chars\":2}");
    CHECK_STR_EQ(rstr(env, "content"), "h\xc3\xa9");
    json_object_put(env);
    env = call("file_read", "{\"path\":\"u.txt\"}");
    CHECK_INT_EQ(rnum(env, "total_lines"), 1);
    CHECK_INT_EQ(rnum(env, "end_line"), 1);
    json_object_put(env);

    /* Binary files are refused. */
    char p[1200];
    snprintf(p, sizeof(p), "%s/bin.dat", g_work);
    FILE *fp = fopen(p, "wb");
    fwrite("ab\0cd", 1, 5, fp);
    fclose(fp);
    env = call("file_read", "{\"path\":\"bin.dat\"}");
    CHECK_STR_EQ(kind(env), "execution_error");
    CHECK(strstr(msg(env), "binary") != NULL);
    json_object_put(env);

    env = call("file_read", "{\"path\":\"missing.txt\"}");
    CHECK_STR_EQ(kind(env), "execution_error");
    CHECK(strstr(msg(env), "does not exist") != NULL);
    json_object_put(env);
    teardown();
}

static bool listing_has(struct json_object *env, const char *path, const char *type)
{
    struct json_object *entries = NULL;
    if (!json_object_object_get_ex(res(env), "entries", &entries))
        return false;
    for (size_t i = 0; i < json_object_array_length(entries); i++) {
        struct json_object *e = json_object_array_get_idx(entries, i), *p = NULL, *t = NULL;
        json_object_object_get_ex(e, "path", &p);
        json_object_object_get_ex(e, "type", &t);
        if (strcmp(json_object_get_string(p), path) == 0 &&
            strcmp(json_object_get_string(t), type) == 0)
            return true;
    }
    return false;
}

static void test_listing(void)
{
    setup();
    mkdir_rel("src");
    mkdir_rel("src/deep");
    mkdir_rel("src/deep/deeper");
    mkdir_rel(".git");
    put(".git/HEAD", "ref: refs/heads/main\n");
    put("README.md", "# hi\n");
    put("src/main.c", "int main(void) { return 0; }\n");
    put("src/deep/x.txt", "x");
    put("src/deep/deeper/y.txt", "y");
    link_rel("README.md", "readme-link");
    struct json_object *env = call("file_read", "{\"path\":\".\"}");
    CHECK_STR_EQ(kind(env), "ok");
    CHECK_STR_EQ(rstr(env, "kind"), "listing");
    CHECK(listing_has(env, "README.md", "file"));
    CHECK(listing_has(env, "src", "dir"));
    CHECK(listing_has(env, "src/main.c", "file"));
    CHECK(listing_has(env, "src/deep", "dir"));
    CHECK(!listing_has(env, "src/deep/x.txt", "file")); /* depth 2 by default */
    CHECK(listing_has(env, "readme-link", "symlink"));
    CHECK(!listing_has(env, ".git", "dir"));
    CHECK(!listing_has(env, ".git/HEAD", "file"));
    CHECK(!rbool(env, "truncated"));
    json_object_put(env);

    env = call("file_read", "{\"path\":\"src/\",\"max_depth\":5}");
    CHECK(listing_has(env, "src/deep/deeper/y.txt", "file"));
    json_object_put(env);
    env = call("file_read", "{\"path\":\"src\",\"max_depth\":1}");
    CHECK(listing_has(env, "src/main.c", "file"));
    CHECK(!listing_has(env, "src/deep/x.txt", "file"));
    json_object_put(env);
    mkdir_rel("many");
    for (int i = 0; i < 1100; i++) {
        char name[64];
        snprintf(name, sizeof(name), "many/f%04d", i);
        put(name, "");
    }
    env = call("file_read", "{\"path\":\"many\"}");
    CHECK(rbool(env, "truncated"));
    CHECK(has_warning(env, "1000 entries"));
    CHECK(listing_has(env, "many/f0999", "file"));
    CHECK(!listing_has(env, "many/f1000", "file"));
    json_object_put(env);
    env = call("file_read", "{\"path\":\".\",\"max_depth\":11}");
    CHECK_STR_EQ(kind(env), "invalid_args");
    json_object_put(env);
    teardown();
}

/* --- file_write / file_edit ----------------------------------------------------------------- */

static size_t count_lines(const char *path)
{
    char buf[65536];
    if (slurp_abs(path, buf, sizeof(buf)) < 0)
        return 0;
    size_t n = 0;
    for (char *p = buf; *p; p++)
        n += *p == '\n';
    return n;
}

static void test_file_write(void)
{
    setup();
    char buf[4096];
    struct json_object *env =
        call("file_write", "{\"path\":\"new/dir/f.txt\",\"content\":\"alpha\\nbeta\\n\"}");
    CHECK_STR_EQ(kind(env), "ok");
    CHECK(rbool(env, "created"));
    CHECK_INT_EQ(rnum(env, "bytes"), 11);
    CHECK(strstr(rstr(env, "diff"), "--- /dev/null\n+++ b/new/dir/f.txt\n@@ -0,0 +1,2 @@\n+alpha\n"
                                    "+beta\n") != NULL);
    json_object_put(env);
    CHECK_INT_EQ(slurp("new/dir/f.txt", buf, sizeof(buf)), 11);
    CHECK_STR_EQ(buf, "alpha\nbeta\n");
    CHECK_INT_EQ(count_lines(g_log), 1);

    /* Overwrite keeps the file's mode and reports the diff. */
    char p[1200];
    snprintf(p, sizeof(p), "%s/new/dir/f.txt", g_work);
    chmod(p, 0640);
    env = call("file_write", "{\"path\":\"new/dir/f.txt\",\"content\":\"alpha\\ngamma\\n\"}");
    CHECK_STR_EQ(kind(env), "ok");
    CHECK(!rbool(env, "created"));
    CHECK(strstr(rstr(env, "diff"), "-beta\n+gamma\n") != NULL);
    json_object_put(env);
    struct stat st;
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0640);
    slurp("new/dir/f.txt", buf, sizeof(buf));
    CHECK_STR_EQ(buf, "alpha\ngamma\n");

    /* Dry runs change nothing: neither a new file nor an existing one, and are not logged. */
    env = call("file_write",
               "{\"path\":\"new/dir/f.txt\",\"content\":\"changed\\n\",\"dry_run\":true}");
    CHECK_STR_EQ(kind(env), "ok");
    CHECK(rbool(env, "dry_run"));
    CHECK(strstr(rstr(env, "diff"), "-alpha\n-gamma\n+changed\n") != NULL);
    json_object_put(env);
    slurp("new/dir/f.txt", buf, sizeof(buf));
    CHECK_STR_EQ(buf, "alpha\ngamma\n");
    env = call("file_write", "{\"path\":\"other/g.txt\",\"content\":\"x\",\"dry_run\":true}");
    CHECK_STR_EQ(kind(env), "ok");
    CHECK(strstr(rstr(env, "diff"), "+x\n\\ No newline at end of file\n") != NULL);
    json_object_put(env);
    CHECK(!exists_rel("other"));
    CHECK_INT_EQ(count_lines(g_log), 2);

    /* No temporary files are left behind. */
    env = call("file_search", "{\"pattern\":\"*osr-tmp*\",\"target\":\"files\"}");
    CHECK_INT_EQ(rnum(env, "count"), 0);
    json_object_put(env);

    /* Not a file name; a directory in the way; .git is off limits. */
    env = call("file_write", "{\"path\":\"new/dir/\",\"content\":\"x\"}");
    CHECK_STR_EQ(kind(env), "invalid_args");
    json_object_put(env);
    env = call("file_write", "{\"path\":\"new\",\"content\":\"x\"}");
    CHECK_STR_EQ(kind(env), "execution_error");
    json_object_put(env);
    env = call("file_write", "{\"path\":\"new/dir/f.txt/under\",\"content\":\"x\"}");
    CHECK_STR_EQ(kind(env), "execution_error");
    json_object_put(env);
    mkdir_rel(".git");
    mkdir_rel(".git/hooks");
    link_rel(".git/hooks", "hooks-link");
    env = call("file_write", "{\"path\":\".git/hooks/pre-commit\",\"content\":\"#!/bin/sh\\n\"}");
    CHECK_STR_EQ(kind(env), "rejected");
    json_object_put(env);
    env = call("file_write", "{\"path\":\"hooks-link/pre-commit\",\"content\":\"#!/bin/sh\\n\"}");
    CHECK_STR_EQ(kind(env), "rejected");
    json_object_put(env);
    CHECK(!exists_rel(".git/hooks/pre-commit"));
    /* Nor may a .git be created elsewhere (a gitfile could name another repository). */
    env = call("file_write", "{\"path\":\"sub/.git\",\"content\":\"gitdir: /tmp/x\\n\"}");
    CHECK_STR_EQ(kind(env), "rejected");
    json_object_put(env);
    CHECK(!exists_rel("sub"));
    teardown();
}

static void test_file_edit(void)
{
    setup();
    char buf[4096];
    put("e.txt", "alpha\nbeta\ngamma\nbeta\n");
    struct json_object *env =
        call("file_edit", "{\"path\":\"e.txt\",\"old_string\":\"gamma\",\"new_string\":\"GAMMA\"}");
    CHECK_STR_EQ(kind(env), "ok");
    CHECK_INT_EQ(rnum(env, "line"), 3);
    CHECK(strstr(rstr(env, "diff"), "@@ -1,4 +1,4 @@\n alpha\n beta\n-gamma\n+GAMMA\n beta\n") !=
          NULL);
    json_object_put(env);
    slurp("e.txt", buf, sizeof(buf));
    CHECK_STR_EQ(buf, "alpha\nbeta\nGAMMA\nbeta\n");
    CHECK_INT_EQ(count_lines(g_log), 1);

    env = call("file_edit", "{\"path\":\"e.txt\",\"old_string\":\"beta\",\"new_string\":\"B\"}");
    CHECK_STR_EQ(kind(env), "invalid_args");
    CHECK(strstr(msg(env), "matches 2 times") != NULL);
    json_object_put(env);
    env = call("file_edit", "{\"path\":\"e.txt\",\"old_string\":\"delta\",\"new_string\":\"D\"}");
    CHECK_STR_EQ(kind(env), "invalid_args");
    CHECK(strstr(msg(env), "0 matches") != NULL);
    json_object_put(env);
    put("o.txt", "aaa");
    env = call("file_edit", "{\"path\":\"o.txt\",\"old_string\":\"aa\",\"new_string\":\"b\"}");
    CHECK(strstr(msg(env), "matches 2 times") != NULL); /* overlapping counts */
    json_object_put(env);
    slurp("e.txt", buf, sizeof(buf));
    CHECK_STR_EQ(buf, "alpha\nbeta\nGAMMA\nbeta\n");

    env = call("file_edit", "{\"path\":\"e.txt\",\"old_string\":\"alpha\\nbeta\",\"new_string\":"
                            "\"A\\nB\",\"dry_run\":true}");
    CHECK_STR_EQ(kind(env), "ok");
    CHECK(strstr(rstr(env, "diff"), "-alpha\n-beta\n+A\n+B\n") != NULL);
    json_object_put(env);
    slurp("e.txt", buf, sizeof(buf));
    CHECK_STR_EQ(buf, "alpha\nbeta\nGAMMA\nbeta\n");
    CHECK_INT_EQ(count_lines(g_log), 1);

    env = call("file_edit", "{\"path\":\"e.txt\",\"old_string\":\"x\",\"new_string\":\"x\"}");
    CHECK_STR_EQ(kind(env), "invalid_args");
    json_object_put(env);
    env = call("file_edit", "{\"path\":\"none.txt\",\"old_string\":\"x\",\"new_string\":\"y\"}");
    CHECK_STR_EQ(kind(env), "execution_error");
    json_object_put(env);
    teardown();
}

/* --- file_search ---------------------------------------------------------------------------- */

static void test_file_search(void)
{
    setup();
    mkdir_rel("src");
    mkdir_rel(".git");
    put("src/a.c", "int alpha = 1;\nint beta = 2;\n");
    put("src/b.h", "#define ALPHA 3\n");
    put("notes.md", "alpha notes\n");
    put(".git/config", "alpha in git\n");
    char p[1200];
    snprintf(p, sizeof(p), "%s/blob.bin", g_work);
    FILE *fp = fopen(p, "wb");
    fwrite("alpha\0\0\0", 1, 8, fp);
    fclose(fp);
    link_rel("/", "root-link");

    struct json_object *env = call("file_search", "{\"pattern\":\"alpha\"}");
    CHECK_STR_EQ(kind(env), "ok");
    CHECK_INT_EQ(rnum(env, "count"), 2);
    CHECK_INT_EQ(rnum(env, "skipped_binary"), 1);
    struct json_object *m = NULL;
    json_object_object_get_ex(res(env), "matches", &m);
    struct json_object *first = json_object_array_get_idx(m, 0), *v = NULL;
    json_object_object_get_ex(first, "path", &v);
    CHECK_STR_EQ(json_object_get_string(v), "notes.md");
    json_object_object_get_ex(json_object_array_get_idx(m, 1), "path", &v);
    CHECK_STR_EQ(json_object_get_string(v), "src/a.c");
    json_object_object_get_ex(json_object_array_get_idx(m, 1), "line", &v);
    CHECK_INT_EQ(json_object_get_int(v), 1);
    json_object_object_get_ex(json_object_array_get_idx(m, 1), "text", &v);
    CHECK_STR_EQ(json_object_get_string(v), "int alpha = 1;");
    json_object_put(env);

    env = call("file_search", "{\"pattern\":\"(?i)alpha\",\"path\":\"src\",\"glob\":\"*.h\"}");
    CHECK_INT_EQ(rnum(env, "count"), 1);
    json_object_put(env);
    env = call("file_search", "{\"pattern\":\"^int \\\\w+\",\"max_results\":1}");
    CHECK_INT_EQ(rnum(env, "count"), 1);
    CHECK(rbool(env, "truncated"));
    json_object_put(env);
    env = call("file_search", "{\"pattern\":\"beta\",\"path\":\"src/a.c\"}");
    CHECK_INT_EQ(rnum(env, "count"), 1);
    json_object_put(env);
    env = call("file_search", "{\"pattern\":\"(unclosed\"}");
    CHECK_STR_EQ(kind(env), "invalid_args");
    CHECK(strstr(msg(env), "offset") != NULL);
    json_object_put(env);
    /* A catastrophic pattern is stopped by the match limit, not left to run. */
    put("slow.txt", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\n");
    env = call("file_search", "{\"pattern\":\"^(a|a?)+$\",\"path\":\"slow.txt\"}");
    CHECK_STR_EQ(kind(env), "ok");
    CHECK_INT_EQ(rnum(env, "count"), 0);
    json_object_put(env);

    env = call("file_search", "{\"pattern\":\"*.c\",\"target\":\"files\"}");
    CHECK_INT_EQ(rnum(env, "count"), 1);
    json_object_put(env);
    env = call("file_search", "{\"pattern\":\"src/*\",\"target\":\"files\"}");
    CHECK_INT_EQ(rnum(env, "count"), 2);
    json_object_put(env);
    env = call("file_search", "{\"pattern\":\"config\",\"target\":\"files\"}");
    CHECK_INT_EQ(rnum(env, "count"), 0); /* .git skipped */
    json_object_put(env);
    env = call("file_search", "{\"pattern\":\"passwd\",\"target\":\"files\"}");
    CHECK_INT_EQ(rnum(env, "count"), 0); /* the link to / is not followed */
    json_object_put(env);
    env = call("file_search", "{\"pattern\":\"x\",\"target\":\"everything\"}");
    CHECK_STR_EQ(kind(env), "invalid_args");
    json_object_put(env);
    teardown();
}

/* --- shell_run ------------------------------------------------------------------------------ */

/* True when the process is gone or a zombie. */
static bool process_dead(long pid)
{
    char p[64], buf[512];
    snprintf(p, sizeof(p), "/proc/%ld/stat", pid);
    if (slurp_abs(p, buf, sizeof(buf)) < 0)
        return true;
    const char *rp = strrchr(buf, ')');
    return rp && (rp[2] == 'Z' || rp[2] == 'X');
}

static void test_shell_run(void)
{
    setup();
    put("here.txt", "x");
    struct json_object *env =
        call("shell_run", "{\"command\":\"ls; echo out; echo err >&2; exit 3\"}");
    CHECK_STR_EQ(kind(env), "ok");
    CHECK_INT_EQ(rnum(env, "exit_code"), 3);
    CHECK(strstr(rstr(env, "output"), "here.txt\n") != NULL);
    CHECK(strstr(rstr(env, "output"), "out\n") != NULL);
    CHECK(strstr(rstr(env, "output"), "err\n") != NULL);
    CHECK(!rbool(env, "timed_out"));
    CHECK(!rbool(env, "output_truncated"));
    CHECK(rnum(env, "duration_ms") >= 0);
    json_object_put(env);

    /* stdin is /dev/null; the daemon's OSAURUS_* variables stay behind. */
    setenv("OSAURUS_TEST_SECRET", "hush", 1);
    env = call("shell_run", "{\"command\":\"cat; echo \\\"[$OSAURUS_TEST_SECRET]\\\"\"}");
    CHECK_STR_EQ(rstr(env, "output"), "[]\n");
    CHECK_INT_EQ(rnum(env, "exit_code"), 0);
    json_object_put(env);
    unsetenv("OSAURUS_TEST_SECRET");

    env = call("shell_run", "{\"command\":\"kill -9 $$\"}");
    CHECK_INT_EQ(rnum(env, "exit_code"), 137);
    CHECK_INT_EQ(rnum(env, "signal"), 9);
    json_object_put(env);

    /* The timeout kills the whole group: the shell, its sleep and a background sleep. */
    env = call("shell_run", "{\"command\":\"sleep 30 & echo $! > bg.pid; sleep 30\","
                            "\"timeout_ms\":300}");
    CHECK_STR_EQ(kind(env), "ok");
    CHECK(rbool(env, "timed_out"));
    CHECK(rnum(env, "duration_ms") < 5000);
    json_object_put(env);
    char buf[64];
    REQUIRE(slurp("bg.pid", buf, sizeof(buf)) > 0);
    long bg = strtol(buf, NULL, 10);
    bool dead = false;
    for (int i = 0; i < 100 && !dead; i++) {
        dead = process_dead(bg);
        if (!dead)
            usleep(20000);
    }
    CHECK(dead);

    /* A background job left behind after the shell exits is stopped too. */
    env = call("shell_run", "{\"command\":\"sleep 30 > /dev/null 2>&1 & echo $! > bg2.pid\"}");
    CHECK_INT_EQ(rnum(env, "exit_code"), 0);
    CHECK(rnum(env, "duration_ms") < 5000);
    json_object_put(env);
    REQUIRE(slurp("bg2.pid", buf, sizeof(buf)) > 0);
    bg = strtol(buf, NULL, 10);
    dead = false;
    for (int i = 0; i < 100 && !dead; i++) {
        dead = process_dead(bg);
        if (!dead)
            usleep(20000);
    }
    CHECK(dead);

    CHECK_INT_EQ(count_lines(g_log), 5);

    /* Approval: no approver -> rejected; a "no" -> user_denied; nothing ran. */
    struct json_object *a = NULL;
    a = obj("{\"command\":\"touch ran.txt\"}");
    env = osr_tools_call(g_reg, "shell_run", a, NULL);
    CHECK_STR_EQ(kind(env), "rejected");
    json_object_put(env);
    const struct osr_tool_call_opts no = {.approve = approve_none};
    env = osr_tools_call(g_reg, "shell_run", a, &no);
    CHECK_STR_EQ(kind(env), "user_denied");
    json_object_put(env);
    json_object_put(a);
    CHECK(!exists_rel("ran.txt"));
    teardown();

    /* The output cap. */
    struct osr_folder_opts o = {.output_cap = 1000, .shell_timeout_ms = 20000};
    setup_opts(&o);
    env = call("shell_run", "{\"command\":\"head -c 300000 /dev/zero | tr '\\\\0' a; echo; "
                            "echo done\"}");
    CHECK_STR_EQ(kind(env), "ok");
    CHECK(rbool(env, "output_truncated"));
    const char *text = rstr(env, "output");
    size_t olen = strlen(text);
    CHECK(olen > 1000 && olen <= 1064);
    CHECK(strncmp(text, "aaaa", 4) == 0);
    CHECK(strstr(text, "\n[... 299006 bytes omitted ...]\n") != NULL); /* 300006 - 1000 */
    CHECK(olen > 5 && strcmp(text + olen - 5, "done\n") == 0);
    CHECK_INT_EQ(rnum(env, "exit_code"), 0);
    json_object_put(env);
    /* Many small writes go through the ring too. */
    env = call("shell_run", "{\"command\":\"for i in $(seq 1 400); do echo line$i; done\"}");
    text = rstr(env, "output");
    olen = strlen(text);
    CHECK(strncmp(text, "line1\nline2\n", 12) == 0);
    CHECK(olen > 16 && strcmp(text + olen - 16, "line399\nline400\n") == 0);
    CHECK(rbool(env, "output_truncated"));
    json_object_put(env);
    /* Output that fits is whole, with no marker. */
    env = call("shell_run", "{\"command\":\"echo short\"}");
    CHECK_STR_EQ(rstr(env, "output"), "short\n");
    CHECK(!rbool(env, "output_truncated"));
    json_object_put(env);
    teardown();
}

/* --- git ------------------------------------------------------------------------------------ */

static void git_env(void)
{
    setenv("GIT_AUTHOR_NAME", "Test", 1);
    setenv("GIT_AUTHOR_EMAIL", "test@example.invalid", 1);
    setenv("GIT_COMMITTER_NAME", "Test", 1);
    setenv("GIT_COMMITTER_EMAIL", "test@example.invalid", 1);
    setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
    setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
}

static void test_git(void)
{
    git_env();
    setup();
    /* Not a repository (even though it may sit inside one): a clear envelope. */
    struct json_object *env = call("git_status", "{}");
    CHECK_STR_EQ(kind(env), "execution_error");
    CHECK(strstr(msg(env), "not a git repository") != NULL);
    json_object_put(env);

    env = call("shell_run", "{\"command\":\"git init -q -b main .\"}");
    CHECK_INT_EQ(rnum(env, "exit_code"), 0);
    json_object_put(env);
    put("a.txt", "one\n");
    put("b.txt", "bee\n");
    env = call("git_status", "{}");
    CHECK_STR_EQ(kind(env), "ok");
    CHECK(!rbool(env, "clean"));
    CHECK(strstr(rstr(env, "output"), "?? a.txt") != NULL);
    CHECK(strstr(rstr(env, "branch"), "main") != NULL);
    json_object_put(env);

    env = call("git_commit", "{\"message\":\"first\",\"paths\":[\"a.txt\"]}");
    CHECK_STR_EQ(kind(env), "ok");
    CHECK_INT_EQ(strlen(rstr(env, "commit")), 40);
    json_object_put(env);
    env = call("git_status", "{}");
    CHECK(strstr(rstr(env, "output"), "a.txt") == NULL);
    CHECK(strstr(rstr(env, "output"), "?? b.txt") != NULL);
    CHECK_STR_EQ(rstr(env, "branch"), "main");
    json_object_put(env);

    put("a.txt", "two\n");
    env = call("git_diff", "{}");
    CHECK_STR_EQ(kind(env), "ok");
    CHECK(strstr(rstr(env, "diff"), "-one\n+two\n") != NULL);
    json_object_put(env);
    env = call("git_diff", "{\"path\":\"b.txt\"}");
    CHECK(rbool(env, "empty"));
    json_object_put(env);
    env = call("git_diff", "{\"staged\":true}");
    CHECK(rbool(env, "empty"));
    json_object_put(env);

    env = call("git_commit", "{\"message\":\"-everything\"}");
    CHECK_STR_EQ(kind(env), "ok");
    json_object_put(env);
    env = call("git_status", "{}");
    CHECK(rbool(env, "clean"));
    json_object_put(env);
    env = call("shell_run", "{\"command\":\"git log --format=%s\"}");
    CHECK_STR_EQ(rstr(env, "output"), "-everything\nfirst\n");
    json_object_put(env);

    env = call("git_commit", "{\"message\":\"nothing\"}");
    CHECK_STR_EQ(kind(env), "execution_error");
    CHECK(strstr(msg(env), "git commit failed") != NULL);
    json_object_put(env);

    /* git_commit asks first. */
    struct json_object *a = NULL;
    a = obj("{\"message\":\"m\"}");
    env = osr_tools_call(g_reg, "git_commit", a, NULL);
    CHECK_STR_EQ(kind(env), "rejected");
    json_object_put(env);
    json_object_put(a);
    teardown();
}

/* --- confinement ---------------------------------------------------------------------------- */

/* Copies tmpl into out with its one "%s" replaced by p. */
static void fill(char *out, size_t cap, const char *tmpl, const char *p)
{
    const char *at = strstr(tmpl, "%s");
    snprintf(out, cap, "%.*s%s%s", (int)(at - tmpl), tmpl, p, at + 2);
}

static int64_t count_entries(const char *dir)
{
    struct stat st;
    int64_t n = 0;
    /* The names an escape could have created or replaced beside the folder. */
    static const char *const names[] = {"secret.txt", "x", "pwned", "new", "passwd", "f"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char p[1400];
        snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
        n += lstat(p, &st) == 0;
    }
    return n;
}

static void test_escapes(void)
{
    git_env();
    setup();
    char outside[700];
    snprintf(outside, sizeof(outside), "%s", g_base);
    mkdir_rel("a");
    put("inside.txt", "fine\n");
    link_rel("/", "to_root");
    link_rel("..", "to_parent");
    link_rel(outside, "dir_out");
    link_rel("../secret.txt", "file_out");
    link_rel("/proc/self/root", "proc_root");
    link_rel("a/../../secret.txt", "sneaky");
    static const char *const bad[] = {
        "../x",
        "/etc/passwd",
        "a/../../x",
        "to_root/etc/passwd",
        "to_root",
        "to_parent/secret.txt",
        "to_parent",
        "dir_out/secret.txt",
        "dir_out/pwned",
        "file_out",
        "/proc/self/root",
        "proc_root/etc/passwd",
        "sneaky",
        "../secret.txt",
        "a/../../secret.txt",
        "/proc/self/root/etc/passwd",
    };
    int64_t before = count_entries(outside);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *p = bad[i];
        char args[800];
        struct json_object *env;
        const char *forms[] = {
            "file_read",
            "{\"path\":\"%s\"}",
            "file_read",
            "{\"path\":\"%s\",\"tail_lines\":1}",
            "file_write",
            "{\"path\":\"%s\",\"content\":\"pwned\"}",
            "file_write",
            "{\"path\":\"%s\",\"content\":\"pwned\",\"dry_run\":true}",
            "file_write",
            "{\"path\":\"%s/pwned\",\"content\":\"pwned\"}",
            "file_edit",
            "{\"path\":\"%s\",\"old_string\":\"TOPSECRET\",\"new_string\":\"pwned\"}",
            "file_edit",
            "{\"path\":\"%s\",\"old_string\":\"root\",\"new_string\":\"pwned\","
            "\"dry_run\":true}",
            "file_search",
            "{\"pattern\":\"TOPSECRET|root\",\"path\":\"%s\"}",
            "file_search",
            "{\"pattern\":\"*\",\"target\":\"files\",\"path\":\"%s\"}",
            "git_diff",
            "{\"path\":\"%s\"}",
            "git_commit",
            "{\"message\":\"m\",\"paths\":[\"inside.txt\",\"%s\"]}",
        };
        for (size_t k = 0; k < sizeof(forms) / sizeof(forms[0]); k += 2) {
            fill(args, sizeof(args), forms[k + 1], p);
            env = call(forms[k], args);
            if (strcmp(kind(env), "rejected") != 0)
                fprintf(stderr, "not rejected: %s %s -> %s\n", forms[k], args,
                        json_object_to_json_string(env));
            CHECK_STR_EQ(kind(env), "rejected");
            const char *text = json_object_to_json_string(env);
            CHECK(strstr(text, "TOPSECRET") == NULL);
            CHECK(strstr(text, "root:") == NULL);
            json_object_put(env);
        }
    }
    /* Nothing outside changed or appeared. */
    char buf[64];
    char sp[800];
    snprintf(sp, sizeof(sp), "%s/secret.txt", outside);
    slurp_abs(sp, buf, sizeof(buf));
    CHECK_STR_EQ(buf, "TOPSECRET\n");
    CHECK_INT_EQ(count_entries(outside), before);
    /* The link to the outside is still a link: it was not replaced or written through. */
    struct stat st;
    char lp[1200];
    snprintf(lp, sizeof(lp), "%s/file_out", g_work);
    CHECK(lstat(lp, &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(!exists_rel("a/pwned"));
    /* Nothing was logged: no write happened. */
    CHECK_INT_EQ(count_lines(g_log), 0);

    /* ".." that stays inside, and links that stay inside, are fine. */
    link_rel("inside.txt", "in_link");
    struct json_object *env = call("file_read", "{\"path\":\"a/../inside.txt\"}");
    CHECK_STR_EQ(rstr(env, "content"), "fine\n");
    json_object_put(env);
    env = call("file_read", "{\"path\":\"in_link\"}");
    CHECK_STR_EQ(rstr(env, "content"), "fine\n");
    json_object_put(env);
    /* Writes do not replace a link inside with a file: they say where it points. */
    env =
        call("file_edit", "{\"path\":\"in_link\",\"old_string\":\"fine\",\"new_string\":\"FINE\"}");
    CHECK_STR_EQ(kind(env), "execution_error");
    CHECK(strstr(msg(env), "symbolic link (to 'inside.txt')") != NULL);
    json_object_put(env);
    link_rel("not-yet.txt", "dangling");
    env = call("file_write", "{\"path\":\"dangling\",\"content\":\"x\"}");
    CHECK_STR_EQ(kind(env), "execution_error");
    json_object_put(env);
    char lp2[1200];
    snprintf(lp2, sizeof(lp2), "%s/in_link", g_work);
    CHECK(lstat(lp2, &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(!exists_rel("not-yet.txt"));
    /* A NUL inside a path is refused before any open. */
    env = call("file_read", "{\"path\":\"inside.txt\\u0000../../x\"}");
    CHECK_STR_EQ(kind(env), "invalid_args");
    json_object_put(env);
    /* A folder under /proc: its magic links (root, cwd, exe, fd/N) are refused, while plain
     * files there still read. */
    struct osr_tools *proc = osr_tools_new();
    struct osr_diag d;
    osr_diag_clear(&d);
    if (osr_folder_tools_add(proc, "/proc/self", NULL, &d) == OSR_OK) {
        static const char *const magic[] = {"{\"path\":\"root/etc/passwd\"}", "{\"path\":\"root\"}",
                                            "{\"path\":\"cwd\"}", "{\"path\":\"exe\"}",
                                            "{\"path\":\"fd/0\"}"};
        for (size_t i = 0; i < sizeof(magic) / sizeof(magic[0]); i++) {
            struct json_object *a = obj(magic[i]);
            struct json_object *e = osr_tools_call(proc, "file_read", a, NULL);
            CHECK_STR_EQ(kind(e), "rejected");
            CHECK(strstr(json_object_to_json_string(e), "root:") == NULL);
            json_object_put(e);
            json_object_put(a);
        }
        struct json_object *a = obj("{\"path\":\"comm\"}");
        struct json_object *e = osr_tools_call(proc, "file_read", a, NULL);
        CHECK_STR_EQ(kind(e), "ok");
        json_object_put(e);
        json_object_put(a);
    } else {
        fprintf(stderr, "skipping the /proc magic-link checks: %s\n", d.msg);
    }
    osr_tools_free(proc);
    /* git refuses a .git that is a link out of the folder. */
    link_rel(outside, ".git");
    env = call("git_status", "{}");
    CHECK_STR_EQ(kind(env), "rejected");
    json_object_put(env);
    teardown();
}

/* --- the log -------------------------------------------------------------------------------- */

static void test_log(void)
{
    setup();
    struct json_object *env = call("file_write", "{\"path\":\"l.txt\",\"content\":\"abc\"}");
    json_object_put(env);
    env = call("file_edit", "{\"path\":\"l.txt\",\"old_string\":\"b\",\"new_string\":\"B\"}");
    json_object_put(env);
    env = call("shell_run", "{\"command\":\"exit 4\"}");
    json_object_put(env);
    char buf[8192];
    REQUIRE(slurp_abs(g_log, buf, sizeof(buf)) > 0);
    const char *want_tool[] = {"file_write", "file_edit", "shell_run"};
    size_t i = 0;
    for (char *line = buf; *line && i < 3; i++) {
        char *nl = strchr(line, '\n');
        REQUIRE(nl != NULL);
        struct json_object *o = NULL, *v = NULL;
        CHECK_INT_EQ(osr_json_parse(line, (size_t)(nl - line), &o, NULL), OSR_OK);
        CHECK(json_object_object_get_ex(o, "time", &v) && strlen(json_object_get_string(v)) > 19);
        CHECK(json_object_object_get_ex(o, "tool", &v));
        CHECK_STR_EQ(json_object_get_string(v), want_tool[i]);
        if (i < 2) {
            CHECK(json_object_object_get_ex(o, "path", &v));
            CHECK_STR_EQ(json_object_get_string(v), "l.txt");
            CHECK(json_object_object_get_ex(o, "bytes", &v) && json_object_get_int(v) == 3);
        } else {
            CHECK(json_object_object_get_ex(o, "command", &v));
            CHECK_STR_EQ(json_object_get_string(v), "exit 4");
            CHECK(json_object_object_get_ex(o, "exit_code", &v) && json_object_get_int(v) == 4);
        }
        json_object_put(o);
        line = nl + 1;
    }
    CHECK_INT_EQ(i, 3);
    teardown();

    /* A log that cannot be written is a warning; the write itself still happens. */
    struct osr_folder_opts o = {.log_path = "/nonexistent-dir/osr/ops.jsonl"};
    setup_opts(&o);
    env = call("file_write", "{\"path\":\"w.txt\",\"content\":\"ok\"}");
    CHECK_STR_EQ(kind(env), "ok");
    CHECK(has_warning(env, "operation log"));
    json_object_put(env);
    CHECK(exists_rel("w.txt"));
    teardown();
}

/* --- large files and threads ---------------------------------------------------------------- */

static void test_large_file(void)
{
    setup();
    char p[1200];
    snprintf(p, sizeof(p), "%s/big.log", g_work);
    FILE *fp = fopen(p, "w");
    REQUIRE(fp != NULL);
    for (int i = 1; i <= 1000000; i++) /* about 12.9 MB, past the 8 MiB read cap */
        fprintf(fp, "line %07d\n", i);
    fclose(fp);
    struct json_object *env = call("file_read", "{\"path\":\"big.log\",\"tail_lines\":2}");
    CHECK_STR_EQ(kind(env), "ok");
    CHECK_STR_EQ(rstr(env, "content"), "line 0999999\nline 1000000\n");
    CHECK(has_warning(env, "last"));
    json_object_put(env);
    env = call("file_read", "{\"path\":\"big.log\",\"start_line\":3,\"end_line\":3}");
    CHECK_STR_EQ(rstr(env, "content"), "line 0000003\n");
    CHECK(rbool(env, "truncated"));
    CHECK(has_warning(env, "first"));
    json_object_put(env);
    env = call("file_edit",
               "{\"path\":\"big.log\",\"old_string\":\"line 0000003\",\"new_string\":\"x\"}");
    CHECK_STR_EQ(kind(env), "execution_error");
    CHECK(strstr(msg(env), "larger than") != NULL);
    json_object_put(env);
    teardown();
}

static void *writer(void *arg)
{
    int id = (int)(intptr_t)arg;
    int bad = 0;
    for (int i = 0; i < 20; i++) {
        char args[200];
        snprintf(args, sizeof(args), "{\"path\":\"t%d/f%d.txt\",\"content\":\"%d-%d\"}", id, i, id,
                 i);
        struct json_object *env = call("file_write", args);
        bad += strcmp(kind(env), "ok") != 0;
        json_object_put(env);
        snprintf(args, sizeof(args), "{\"path\":\"t%d/f%d.txt\"}", id, i);
        env = call("file_read", args);
        char want[32];
        snprintf(want, sizeof(want), "%d-%d", id, i);
        bad += strcmp(rstr(env, "content"), want) != 0;
        json_object_put(env);
    }
    return (void *)(intptr_t)bad;
}

static void test_threads(void)
{
    setup();
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, writer, (void *)(intptr_t)i);
    int bad = 0;
    for (int i = 0; i < 4; i++) {
        void *r = NULL;
        pthread_join(th[i], &r);
        bad += (int)(intptr_t)r;
    }
    CHECK_INT_EQ(bad, 0);
    CHECK_INT_EQ(count_lines(g_log), 80); /* one whole line per write */
    teardown();
}

/* --- the diff ------------------------------------------------------------------------------- */

static const char *diff_of(const char *a, const char *b, struct osr_buf *out)
{
    osr_buf_reset(out);
    osr_folder_diff(a, strlen(a), true, b, strlen(b), true, "f", out);
    return osr_buf_str(out);
}

static void test_diff(void)
{
    struct osr_buf out;
    osr_buf_init(&out, 1 << 20);
    CHECK_STR_EQ(diff_of("a\nb\n", "a\nb\n", &out), "");
    CHECK_STR_EQ(diff_of("a\nb\nc\n", "a\nB\nc\n", &out),
                 "--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n");
    CHECK_STR_EQ(diff_of("a\n", "a", &out),
                 "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+a\n\\ No newline at end of file\n");
    CHECK_STR_EQ(diff_of("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n",
                         "1\nX\n3\n4\n5\n6\n7\n8\n9\n10\nY\n12\n", &out),
                 "--- a/f\n+++ b/f\n@@ -1,5 +1,5 @@\n 1\n-2\n+X\n 3\n 4\n 5\n@@ -8,5 +8,5 @@\n"
                 " 8\n 9\n 10\n-11\n+Y\n 12\n");
    CHECK_STR_EQ(diff_of("x\n", "", &out), "--- a/f\n+++ b/f\n@@ -1 +0,0 @@\n-x\n");
    osr_buf_reset(&out);
    osr_folder_diff("", 0, false, "n\n", 2, true, "new.txt", &out);
    CHECK_STR_EQ(osr_buf_str(&out), "--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+n\n");

    /* The cap: whole lines only, and OSR_ETOOBIG. */
    struct osr_buf small;
    osr_buf_init(&small, 40);
    CHECK_INT_EQ(osr_folder_diff("a\n", 2, true, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n", 39,
                                 true, "f", &small),
                 OSR_ETOOBIG);
    CHECK(small.len <= 40 && small.len > 0 && small.data[small.len - 1] == '\n');
    osr_buf_release(&small);

    /* Property: on random texts the diff applies back (small alphabet: many equal lines). */
    unsigned seed = 12345;
    char a[4096], b[4096];
    int bad = 0;
    for (int round = 0; round < 300; round++) {
        size_t na = 0, nb = 0;
        int la = (int)((seed = seed * 1103515245u + 12345u) >> 16) % 60;
        int lb = (int)((seed = seed * 1103515245u + 12345u) >> 16) % 60;
        for (int i = 0; i < la; i++) {
            a[na++] = (char)('a' + ((seed = seed * 1103515245u + 12345u) >> 16) % 4);
            a[na++] = '\n';
        }
        for (int i = 0; i < lb; i++) {
            b[nb++] = (char)('a' + ((seed = seed * 1103515245u + 12345u) >> 16) % 4);
            b[nb++] = '\n';
        }
        if (round % 3 == 0 && nb > 0)
            nb--; /* no newline at the end */
        a[na] = '\0';
        b[nb] = '\0';
        osr_buf_reset(&out);
        CHECK_INT_EQ(osr_folder_diff(a, na, true, b, nb, true, "f", &out), OSR_OK);
        char *got = diff_apply(a, osr_buf_str(&out));
        if (!got || strcmp(got, b) != 0)
            bad++;
        free(got);
    }
    CHECK_INT_EQ(bad, 0);

    /* Past the edit cap the diff is longer but still right. */
    size_t big = 6000;
    char *x = malloc(big * 2 + 1), *y = malloc(big * 2 + 1);
    for (size_t i = 0; i < big; i++) {
        x[2 * i] = (char)('a' + i % 7);
        x[2 * i + 1] = '\n';
        y[2 * i] = (char)('a' + (i * 5) % 11);
        y[2 * i + 1] = '\n';
    }
    x[big * 2] = y[big * 2] = '\0';
    osr_buf_release(&out);
    osr_buf_init(&out, 1 << 24);
    CHECK_INT_EQ(osr_folder_diff(x, big * 2, true, y, big * 2, true, "f", &out), OSR_OK);
    char *got = diff_apply(x, osr_buf_str(&out));
    CHECK(got && strcmp(got, y) == 0);
    free(got);
    free(x);
    free(y);
    osr_buf_release(&out);
}

TEST_MAIN(test_register, test_file_read, test_listing, test_file_write, test_file_edit,
          test_file_search, test_shell_run, test_git, test_escapes, test_log, test_large_file,
          test_threads, test_diff)
