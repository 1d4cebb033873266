/* test_chat_template_golden.c - renders every real chat template of the test data with every
 * conversation of golden/cases.json and compares the result byte for byte with the render
 * Python's Jinja2 made (or, for renders that raise, with "ExceptionClass: message").
 *
 * Data: the .jinja files in $OSR_TESTDATA/templates and its golden/ folder.  Without them the test
 * says it skips and passes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "osr/chat_template.h"
#include "osr/json.h"

/* strftime_now's fixed clock in the goldens: 2025-02-21 09:30:00 */
#define GOLDEN_TIME 1740130200

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct osr_buf b;
    osr_buf_init(&b, 64u << 20);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (osr_buf_append(&b, chunk, n) != OSR_OK)
            break;
    fclose(f);
    char *s = osr_buf_detach(&b, len);
    if (!s) {
        s = calloc(1, 1);
        *len = 0;
    }
    return s;
}

static void show_diff(const char *got, size_t glen, const char *want, size_t wlen)
{
    size_t i = 0;
    while (i < glen && i < wlen && got[i] == want[i])
        i++;
    size_t from = i > 60 ? i - 60 : 0;
    fprintf(stderr, "    first difference at byte %zu (got %zu bytes, want %zu)\n", i, glen, wlen);
    fprintf(stderr, "    got:  \"");
    for (size_t k = from; k < glen && k < i + 60; k++)
        fputc(got[k] == '\n' ? '|' : got[k], stderr);
    fprintf(stderr, "\"\n    want: \"");
    for (size_t k = from; k < wlen && k < i + 60; k++)
        fputc(want[k] == '\n' ? '|' : want[k], stderr);
    fprintf(stderr, "\"\n");
}

static struct json_object *find_by(struct json_object *arr, const char *key, const char *val)
{
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        struct json_object *o = json_object_array_get_idx(arr, i), *k;
        if (json_object_object_get_ex(o, key, &k) && strcmp(json_object_get_string(k), val) == 0)
            return o;
    }
    return NULL;
}

static const char *jstr(struct json_object *o, const char *key)
{
    struct json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

struct tally {
    char name[128];
    int pass, total;
};

static void test_goldens(void)
{
    const char *td = getenv("OSR_TESTDATA");
    char dir[1024], path[1400];
    if (!td) {
        printf("skipping: OSR_TESTDATA is not set\n");
        return;
    }
    snprintf(dir, sizeof(dir), "%s/templates", td);
    snprintf(path, sizeof(path), "%s/golden/cases.json", dir);
    struct json_object *cj = json_object_from_file(path);
    if (!cj) {
        printf("skipping: %s not found\n", path);
        return;
    }
    struct json_object *cases, *templates, *results;
    REQUIRE(json_object_object_get_ex(cj, "cases", &cases));
    REQUIRE(json_object_object_get_ex(cj, "templates", &templates));
    REQUIRE(json_object_object_get_ex(cj, "results", &results));

    struct tally tallies[64];
    size_t ntally = 0;
    int total_pass = 0, total = 0;
    struct osr_chat_template_opts opts = {.has_fixed_time = true, .fixed_time = GOLDEN_TIME};

    for (size_t i = 0; i < json_object_array_length(results); i++) {
        struct json_object *res = json_object_array_get_idx(results, i);
        const char *tname = jstr(res, "template"), *cid = jstr(res, "case");
        const char *status = jstr(res, "status"), *file = jstr(res, "file");
        REQUIRE(tname && cid && status && file);
        struct json_object *tinfo = find_by(templates, "template", tname);
        struct json_object *cinfo = find_by(cases, "id", cid);
        REQUIRE(tinfo && cinfo);

        size_t ti;
        for (ti = 0; ti < ntally; ti++)
            if (strcmp(tallies[ti].name, tname) == 0)
                break;
        if (ti == ntally) {
            REQUIRE(ntally < 64);
            snprintf(tallies[ntally].name, sizeof(tallies[ntally].name), "%s", tname);
            tallies[ntally].pass = tallies[ntally].total = 0;
            ntally++;
        }
        tallies[ti].total++;
        total++;

        /* Variables: messages, add_generation_prompt, tools when the case has them,
         * bos/eos when not null, and the per-result extras. */
        struct json_object *vars = json_object_new_object(), *v;
        json_object_object_get_ex(cinfo, "messages", &v);
        json_object_object_add(vars, "messages", json_object_get(v));
        json_object_object_get_ex(cinfo, "add_generation_prompt", &v);
        json_object_object_add(vars, "add_generation_prompt", json_object_get(v));
        if (json_object_object_get_ex(cinfo, "tools", &v))
            json_object_object_add(vars, "tools", json_object_get(v));
        const char *bos = jstr(tinfo, "bos_token"), *eos = jstr(tinfo, "eos_token");
        if (bos)
            json_object_object_add(vars, "bos_token", json_object_new_string(bos));
        if (eos)
            json_object_object_add(vars, "eos_token", json_object_new_string(eos));
        if (json_object_object_get_ex(res, "extra_variables", &v)) {
            json_object_object_foreach(v, k, x) json_object_object_add(vars, k, json_object_get(x));
        }

        snprintf(path, sizeof(path), "%s/%s", dir, jstr(tinfo, "file"));
        size_t slen, wlen;
        char *src = read_file(path, &slen);
        snprintf(path, sizeof(path), "%s/golden/%s", dir, file);
        char *want = read_file(path, &wlen);
        REQUIRE(src && want);

        struct osr_chat_template *t = NULL;
        struct osr_chat_template_error err;
        struct osr_diag diag;
        struct osr_buf out;
        osr_buf_init(&out, 16u << 20);
        bool ok = false;
        int rc = osr_chat_template_compile(src, slen, &t, &err, &diag);
        if (rc != OSR_OK) {
            fprintf(stderr, "FAIL %s.%s: compile: %s\n", tname, cid, diag.msg);
        } else {
            rc = osr_chat_template_render(t, vars, &opts, &out, &err, &diag);
            if (strcmp(status, "ok") == 0) {
                if (rc != OSR_OK) {
                    fprintf(stderr, "FAIL %s.%s: render: %s\n", tname, cid, diag.msg);
                } else if (out.len != wlen || memcmp(osr_buf_str(&out), want, wlen) != 0) {
                    fprintf(stderr, "FAIL %s.%s: output differs\n", tname, cid);
                    show_diff(osr_buf_str(&out), out.len, want, wlen);
                } else {
                    ok = true;
                }
            } else {
                char got[sizeof(err.kind) + sizeof(err.msg) + 4];
                snprintf(got, sizeof(got), "%s: %s", err.kind, err.msg);
                if (rc == OSR_OK) {
                    fprintf(stderr, "FAIL %s.%s: rendered, but Jinja2 raised '%s'\n", tname, cid,
                            want);
                } else if (strlen(got) != wlen || memcmp(got, want, wlen) != 0) {
                    fprintf(stderr, "FAIL %s.%s: error '%s', want '%s'\n", tname, cid, got, want);
                } else {
                    ok = true;
                }
            }
        }
        CHECK(ok);
        if (ok) {
            tallies[ti].pass++;
            total_pass++;
        }
        osr_buf_release(&out);
        osr_chat_template_free(t);
        free(src);
        free(want);
        json_object_put(vars);
    }
    for (size_t ti = 0; ti < ntally; ti++)
        printf("  %-50s %d/%d\n", tallies[ti].name, tallies[ti].pass, tallies[ti].total);
    printf("golden renders: %d/%d byte-identical\n", total_pass, total);
    CHECK(total > 0);
    json_object_put(cj);
}

TEST_MAIN(test_goldens)
