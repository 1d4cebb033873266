/* loop_tools.c - the four loop tools of an agent run (todo, complete, clarify,
 * share_artifact) and the checks behind them (agent_loop.h).
 *
 * They are ordinary tools in the run's own registry: the schema validator checks their
 * arguments, the functions here check the rest (a placeholder summary, an empty checklist, an
 * artifact name that would leave its directory) and answer with a plain result.  The loop
 * reads the successful results to decide whether the run is over; a failure goes back to the
 * model as its envelope like any other tool error.
 *
 * share_artifact copies a file of the working folder (checked and opened beneath the folder
 * by the folder tools' own confined open, so no path leaves it) or writes the given content into
 * <home>/artifacts/<session>/<file name>.
 *
 * Not here: the loop itself (loop.c) and the folder tools (folder_tools.c).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "folder_internal.h"
#include "loop_internal.h"
#include "osr/alloc.h"
#include "osr/buf.h"
#include "osr/config.h"
#include "osr/json.h"

#define TODO_MAX_ITEMS 200
#define TODO_ITEM_MAX 1000

/* ---------------------------------------------------------------- checks */

const char *osr_agent_check_summary(const char *summary)
{
    static const char *const placeholders[] = {"done", "ok", "okay", "looks good", "complete",
                                               "completed", "finished", "task complete",
                                               "all done"};
    if (!summary)
        return "summary is required";
    struct osr_str s = osr_str_trim(osr_str_cstr(summary));
    char low[32];
    if (s.n < sizeof(low)) {
        size_t n = 0;
        for (size_t i = 0; i < s.n; i++)
            if (s.p[i] != '.' && s.p[i] != '!')
                low[n++] = (char)tolower((unsigned char)s.p[i]);
        low[n] = '\0';
        for (size_t i = 0; i < sizeof(placeholders) / sizeof(placeholders[0]); i++)
            if (strcmp(low, placeholders[i]) == 0)
                return "the summary is a placeholder: say what was done, what changed and how "
                       "it was checked";
    }
    if (s.n < OSR_AGENT_SUMMARY_MIN)
        return "the summary is too short: write a meaningful paragraph (at least 30 characters) "
               "saying what was done";
    return NULL;
}

struct json_object *osr_agent_parse_todo(const char *markdown)
{
    struct json_object *items = json_object_new_array();
    struct osr_str rest = osr_str_cstr(markdown ? markdown : "");
    while (rest.n && json_object_array_length(items) < TODO_MAX_ITEMS) {
        struct osr_str line;
        rest = osr_str_split(rest, '\n', &line);
        size_t i = 0;
        while (i < line.n && line.p[i] == ' ')
            i++;
        if (i > 6 || line.n - i < 5)
            continue;
        const char *p = line.p + i;
        if ((p[0] != '-' && p[0] != '*') || p[1] != ' ' || p[2] != '[' || p[4] != ']')
            continue;
        bool done;
        if (p[3] == ' ')
            done = false;
        else if (p[3] == 'x' || p[3] == 'X')
            done = true;
        else
            continue;
        struct osr_str text = osr_str_trim(osr_str_make(p + 5, line.n - i - 5));
        if (text.n == 0)
            continue;
        if (text.n > TODO_ITEM_MAX)
            text.n = TODO_ITEM_MAX;
        struct json_object *it = json_object_new_object();
        json_object_object_add(it, "text", json_object_new_string_len(text.p, (int)text.n));
        json_object_object_add(it, "done", json_object_new_boolean(done));
        json_object_array_add(items, it);
    }
    return items;
}

/* ---------------------------------------------------------------- the tools */

static void todo_fn(void *ctx, struct json_object *args, struct osr_tool_out *out)
{
    (void)ctx;
    const char *md = NULL;
    osr_json_get_string(args, "markdown", true, &md, NULL);
    struct json_object *items = osr_agent_parse_todo(md);
    size_t n = json_object_array_length(items), done = 0;
    if (n == 0) {
        json_object_put(items);
        osr_tool_out_fail(out, OSR_TOOL_INVALID_ARGS, "markdown", "- [ ] item lines",
                          "the checklist has no items: write one \"- [ ] step\" line per step");
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (json_object_get_boolean(
                json_object_object_get(json_object_array_get_idx(items, i), "done")))
            done++;
    struct json_object *res = json_object_new_object();
    json_object_object_add(res, "items", items);
    json_object_object_add(res, "total", json_object_new_int64((int64_t)n));
    json_object_object_add(res, "done", json_object_new_int64((int64_t)done));
    out->result = res;
}

static void complete_fn(void *ctx, struct json_object *args, struct osr_tool_out *out)
{
    (void)ctx;
    const char *summary = NULL;
    osr_json_get_string(args, "summary", true, &summary, NULL);
    const char *why = osr_agent_check_summary(summary);
    if (why) {
        osr_tool_out_fail(out, OSR_TOOL_INVALID_ARGS, "summary", "a meaningful paragraph", "%s",
                          why);
        return;
    }
    struct json_object *res = json_object_new_object();
    json_object_object_add(res, "summary", json_object_new_string(summary));
    out->result = res;
}

static void clarify_fn(void *ctx, struct json_object *args, struct osr_tool_out *out)
{
    (void)ctx;
    const char *q = NULL;
    osr_json_get_string(args, "question", true, &q, NULL);
    if (osr_str_trim(osr_str_cstr(q)).n == 0) {
        osr_tool_out_fail(out, OSR_TOOL_INVALID_ARGS, "question", "a question",
                          "the question is empty");
        return;
    }
    struct json_object *res = json_object_new_object();
    json_object_object_add(res, "question", json_object_new_string(q));
    struct json_object *opts = NULL, *multi = NULL;
    if (json_object_object_get_ex(args, "options", &opts))
        json_object_object_add(res, "options", json_object_get(opts));
    if (json_object_object_get_ex(args, "allowMultiple", &multi))
        json_object_object_add(res, "allowMultiple", json_object_get(multi));
    json_object_object_add(res, "status", json_object_new_string("awaiting_user"));
    out->result = res;
}

/* A safe file name: the last path element, [A-Za-z0-9._ -] only, not starting with a dot. */
static int artifact_name(const char *in, char *out, size_t cap)
{
    const char *base = strrchr(in, '/');
    base = base ? base + 1 : in;
    size_t n = 0;
    for (const char *p = base; *p && n + 1 < cap; p++) {
        unsigned char c = (unsigned char)*p;
        out[n++] = (isalnum(c) || c == '.' || c == '_' || c == '-' || c == ' ') ? (char)c : '_';
    }
    out[n] = '\0';
    while (out[0] == '.' || out[0] == ' ')
        memmove(out, out + 1, strlen(out));
    return out[0] ? OSR_OK : OSR_EINVAL;
}

static void share_fn(void *ctx, struct json_object *args, struct osr_tool_out *out)
{
    struct osr_agent_loop_state *st = ctx;
    const char *path = NULL, *content = NULL, *filename = NULL, *desc = NULL;
    osr_json_get_string(args, "path", false, &path, NULL);
    osr_json_get_string(args, "content", false, &content, NULL);
    osr_json_get_string(args, "filename", false, &filename, NULL);
    osr_json_get_string(args, "description", false, &desc, NULL);
    if (!st->home) {
        osr_tool_out_fail(out, OSR_TOOL_UNAVAILABLE, NULL, NULL,
                          "artifacts cannot be stored: this run has no home directory");
        return;
    }
    if ((path != NULL) == (content != NULL)) {
        osr_tool_out_fail(out, OSR_TOOL_INVALID_ARGS, path ? "content" : "path",
                          "path, or content with filename",
                          "give either path (a file in the working folder) or content with "
                          "filename");
        return;
    }
    char name[256];
    if (artifact_name(path ? path : (filename ? filename : ""), name, sizeof(name))) {
        osr_tool_out_fail(out, OSR_TOOL_INVALID_ARGS, path ? "path" : "filename", "a file name",
                          "no usable file name");
        return;
    }
    struct osr_buf data;
    osr_buf_init(&data, OSR_AGENT_ARTIFACT_MAX);
    if (path) {
        if (!st->folder) {
            osr_tool_out_fail(out, OSR_TOOL_UNAVAILABLE, "path", NULL,
                              "this run has no working folder; share content instead");
            goto out;
        }
        /* confined as the folder tools are: lexical checks, then openat2 beneath the folder */
        if (!osr_folder_path_ok("path", path, strlen(path), out))
            goto out;
        int dir = open(st->folder, O_PATH | O_DIRECTORY | O_CLOEXEC);
        int fd = dir < 0 ? -errno : osr_folder_openat(dir, path, O_RDONLY | O_NOFOLLOW, 0, 0);
        if (dir >= 0)
            close(dir);
        if (fd < 0) {
            osr_folder_open_fail(out, "path", path, -fd);
            goto out;
        }
        char *bytes = NULL;
        size_t n = 0;
        bool cut = false;
        int rc = osr_folder_read_fd(fd, OSR_AGENT_ARTIFACT_MAX, &bytes, &n, &cut);
        close(fd);
        if (rc || cut || osr_buf_append(&data, bytes, n)) {
            osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, "path", NULL,
                              cut ? "'%s' is larger than %d MiB" : "'%s' could not be read", path,
                              (int)(OSR_AGENT_ARTIFACT_MAX >> 20));
            free(bytes);
            goto out;
        }
        free(bytes);
    } else if (osr_buf_puts(&data, content)) {
        osr_tool_out_fail(out, OSR_TOOL_INVALID_ARGS, "content", NULL,
                          "content is larger than %d MiB", (int)(OSR_AGENT_ARTIFACT_MAX >> 20));
        goto out;
    }
    char rel[512], dir[4096], file[4096];
    snprintf(rel, sizeof(rel), "artifacts/%s/%s", st->session_id, name);
    snprintf(dir, sizeof(dir), "%s/artifacts/%s", st->home, st->session_id);
    snprintf(file, sizeof(file), "%s/%s", st->home, rel);
    struct osr_diag d;
    osr_diag_clear(&d);
    if (osr_mkdir_p(dir, 0700, &d) || osr_write_file_atomic(file, data.data, data.len, 0600, &d)) {
        osr_tool_out_fail(out, OSR_TOOL_EXECUTION_ERROR, NULL, NULL, "storing the artifact: %s",
                          d.msg);
        goto out;
    }
    struct json_object *res = json_object_new_object();
    json_object_object_add(res, "filename", json_object_new_string(name));
    json_object_object_add(res, "path", json_object_new_string(rel));
    json_object_object_add(res, "size", json_object_new_int64((int64_t)data.len));
    if (desc)
        json_object_object_add(res, "description", json_object_new_string(desc));
    out->result = res;
out:
    osr_buf_release(&data);
}

/* ---------------------------------------------------------------- registration */

static const char todo_schema[] =
    "{\"type\":\"object\",\"properties\":{\"markdown\":{\"type\":\"string\",\"description\":"
    "\"The whole checklist, one '- [ ] step' or '- [x] step' line per item\"}},"
    "\"required\":[\"markdown\"],\"additionalProperties\":false}";
static const char complete_schema[] =
    "{\"type\":\"object\",\"properties\":{\"summary\":{\"type\":\"string\",\"description\":"
    "\"A paragraph saying what was done, what changed and how it was checked\"}},"
    "\"required\":[\"summary\"],\"additionalProperties\":false}";
static const char clarify_schema[] =
    "{\"type\":\"object\",\"properties\":{\"question\":{\"type\":\"string\"},"
    "\"options\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "\"allowMultiple\":{\"type\":\"boolean\"}},\"required\":[\"question\"],"
    "\"additionalProperties\":false}";
static const char share_schema[] =
    "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\",\"description\":"
    "\"A file in the working folder\"},\"content\":{\"type\":\"string\"},"
    "\"filename\":{\"type\":\"string\"},\"description\":{\"type\":\"string\"}},"
    "\"additionalProperties\":false}";

int osr_agent_loop_tools_add(struct osr_tools *reg, struct osr_agent_loop_state *st,
                             struct osr_diag *diag)
{
    const struct osr_tool_def defs[] = {
        {"todo",
         "Write or replace your plan as a markdown checklist. Call it first for multi-step "
         "work and again as steps are done.",
         todo_schema, OSR_TOOL_POLICY_AUTO, OSR_TOOL_SOURCE_BUILTIN, todo_fn, NULL, NULL},
        {"complete",
         "Finish the task: give a summary of what was done and how it was verified. Call it "
         "only when the work is really done.",
         complete_schema, OSR_TOOL_POLICY_AUTO, OSR_TOOL_SOURCE_BUILTIN, complete_fn, NULL, NULL},
        {"clarify",
         "Ask the user a question when the task is ambiguous and you cannot go on without an "
         "answer. The run pauses until the user answers.",
         clarify_schema, OSR_TOOL_POLICY_AUTO, OSR_TOOL_SOURCE_BUILTIN, clarify_fn, NULL, NULL},
        {"share_artifact",
         "Share a file with the user: a file of the working folder (path) or new content "
         "(content and filename).",
         share_schema, OSR_TOOL_POLICY_AUTO, OSR_TOOL_SOURCE_BUILTIN, share_fn, st, NULL},
    };
    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
        int rc = osr_tools_add(reg, &defs[i], diag);
        if (rc)
            return rc;
    }
    return OSR_OK;
}
