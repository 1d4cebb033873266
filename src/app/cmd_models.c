/* cmd_models.c - `osaurus models`: list, add, rm and inspect local GGUF models.
 *
 * list asks the registry (every source); add and rm change only the Osaurus store through
 * model_store.c; inspect reads any GGUF file with the reader and prints what it holds, with
 * long arrays (vocabularies, merges) summarized.  None of them talks to a server: a running
 * server notices store changes on its next listing.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "osr/alloc.h"
#include "osr/buf.h"
#include "osr/cli.h"
#include "osr/cli_models.h"
#include "osr/clock.h"
#include "osr/config.h"
#include "osr/gguf.h"
#include "osr/json.h"
#include "osr/model_store.h"
#include "osr/registry.h"

#define INSPECT_ARRAY_HEAD 8 /* elements shown of an array too long to print whole */
#define INSPECT_ARRAY_FULL 16

static const char models_usage[] =
    "usage: osaurus models <list|add|rm|inspect> [options]\n"
    "\n"
    "  list [--json]                  list the models found in the Osaurus store,\n"
    "                                 OSU_MODELS_DIR, Ollama's store and the Hugging Face cache\n"
    "  add PATH [--name N] [--link]   copy a GGUF model (all parts of a split model) into\n"
    "                                 the store, or symlink it with --link; prints its sha256\n"
    "  rm NAME                        delete a model from the store\n"
    "  inspect FILE [--json]          print a GGUF file's header, metadata and tensors\n"
    "\n"
    "  --home DIR                     use DIR instead of $OSAURUS_HOME or ~/.osaurus\n";

struct args {
    const char *home;
    const char *name;
    bool json;
    bool link;
    const char *pos[4];
    int n_pos;
};

/* Parses the options every subcommand shares.  Returns -1 to go on, else an exit code. */
static int parse_args(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {
        {"home", required_argument, NULL, 'H'}, {"name", required_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},       {"link", no_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof(*a));
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'H':
            a->home = optarg;
            break;
        case 'n':
            a->name = optarg;
            break;
        case 'j':
            a->json = true;
            break;
        case 'l':
            a->link = true;
            break;
        case 'h':
            fputs(models_usage, stdout);
            return OSR_EXIT_OK;
        default:
            fputs(models_usage, stderr);
            return OSR_EXIT_USAGE;
        }
    }
    for (; optind < argc; optind++) {
        if (a->n_pos == 4) {
            fprintf(stderr, "osaurus models: too many arguments\n");
            return OSR_EXIT_USAGE;
        }
        a->pos[a->n_pos++] = argv[optind];
    }
    return -1;
}

static void human_size(uint64_t n, char *out, size_t cap)
{
    if (n >= 1000000000ull)
        snprintf(out, cap, "%.1f GB", (double)n / 1e9);
    else if (n >= 1000000ull)
        snprintf(out, cap, "%.1f MB", (double)n / 1e6);
    else if (n >= 1000ull)
        snprintf(out, cap, "%.1f KB", (double)n / 1e3);
    else
        snprintf(out, cap, "%" PRIu64 " B", n);
}

/* ---- list --------------------------------------------------------------------------------- */

static int cmd_list(const struct args *a)
{
    struct osr_registry_options o = {.home = a->home};
    struct osr_registry *reg = osr_registry_new(&o);
    struct osr_registry_snapshot *s = osr_registry_acquire(reg, -1);
    if (a->json) {
        struct json_object *arr = json_object_new_array();
        for (size_t i = 0; i < osr_registry_count(s); i++) {
            const struct osr_model_entry *m = osr_registry_model(s, i);
            char digest[OSR_SHA256_HEX_LEN + 1], ts[OSR_ISO8601_MAX];
            osr_registry_digest(s, m, digest);
            osr_time_iso8601(ts, m->modified_ms, 0);
            struct json_object *e = json_object_new_object();
            json_object_object_add(e, "id", json_object_new_string(m->id));
            json_object_object_add(e, "name", json_object_new_string(m->name));
            json_object_object_add(e, "source",
                                   json_object_new_string(osr_model_source_name(m->source)));
            struct json_object *paths = json_object_new_array();
            for (size_t k = 0; k < m->n_paths; k++)
                json_object_array_add(paths, json_object_new_string(m->paths[k]));
            json_object_object_add(e, "paths", paths);
            json_object_object_add(e, "size", json_object_new_int64((int64_t)m->size));
            json_object_object_add(e, "digest", json_object_new_string(digest));
            json_object_object_add(e, "family", json_object_new_string(m->family));
            json_object_object_add(e, "parameter_size", json_object_new_string(m->parameter_size));
            json_object_object_add(e, "parameter_count",
                                   json_object_new_uint64(m->parameter_count));
            json_object_object_add(e, "quantization", json_object_new_string(m->quantization));
            json_object_object_add(e, "context_length", json_object_new_int64(m->context_length));
            json_object_object_add(e, "chat_template", json_object_new_boolean(m->has_template));
            json_object_object_add(e, "modified_at", json_object_new_string(ts));
            json_object_array_add(arr, e);
        }
        puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
                                                     JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(arr);
    } else if (osr_registry_count(s) == 0) {
        puts("no models found (add one with 'osaurus models add FILE')");
    } else {
        printf("%-40s %-10s %-8s %-9s %-10s %-12s %s\n", "ID", "SIZE", "PARAMS", "QUANT", "FAMILY",
               "SOURCE", "DIGEST");
        for (size_t i = 0; i < osr_registry_count(s); i++) {
            const struct osr_model_entry *m = osr_registry_model(s, i);
            char size[32], digest[OSR_SHA256_HEX_LEN + 1];
            human_size(m->size, size, sizeof(size));
            osr_registry_digest(s, m, digest);
            digest[12] = '\0';
            printf("%-40s %-10s %-8s %-9s %-10s %-12s %s\n", m->id, size, m->parameter_size,
                   m->quantization, m->family[0] ? m->family : "-",
                   osr_model_source_name(m->source), digest[0] ? digest : "-");
        }
    }
    osr_registry_snapshot_release(s);
    osr_registry_free(reg);
    return OSR_EXIT_OK;
}

/* ---- add ---------------------------------------------------------------------------------- */

struct bar {
    int64_t last_ns;
};

static void progress_bar(uint64_t done, uint64_t total, void *ctx)
{
    struct bar *b = ctx;
    int64_t now = osr_mono_ns();
    if (done < total && now - b->last_ns < 100000000)
        return;
    b->last_ns = now;
    int pct = total ? (int)(done * 100 / total) : 100;
    char bar[41];
    int fill = pct * 40 / 100;
    for (int i = 0; i < 40; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[40] = '\0';
    char d[32], t[32];
    human_size(done, d, sizeof(d));
    human_size(total, t, sizeof(t));
    fprintf(stderr, "\r[%s] %3d%% %s / %s", bar, pct, d, t);
    if (done >= total)
        fputc('\n', stderr);
    fflush(stderr);
}

static int cmd_add(const struct args *a)
{
    if (a->n_pos != 1) {
        fprintf(stderr, "usage: osaurus models add PATH [--name N] [--link]\n");
        return OSR_EXIT_USAGE;
    }
    char *home = osr_home_resolve(a->home);
    struct bar bar = {0};
    struct osr_model_store_add_opts o = {.name = a->name, .link = a->link};
    if (isatty(STDERR_FILENO)) {
        o.progress = progress_bar;
        o.ctx = &bar;
    }
    struct osr_model_store_added added;
    struct osr_diag diag;
    osr_diag_clear(&diag);
    int rc = osr_model_store_add(home, a->pos[0], &o, &added, &diag);
    if (rc) {
        fprintf(stderr, "osaurus models add: %s\n", diag.msg[0] ? diag.msg : osr_strerror(rc));
        free(home);
        return OSR_EXIT_FAILURE;
    }
    /* Find the id the registry gives the new files. */
    struct osr_registry_options ro = {
        .home = home, .no_env_dirs = true, .no_ollama = true, .no_hf = true};
    struct osr_registry *reg = osr_registry_new(&ro);
    struct osr_registry_snapshot *s = osr_registry_acquire(reg, -1);
    const char *id = NULL;
    for (size_t i = 0; i < osr_registry_count(s); i++) {
        const struct osr_model_entry *m = osr_registry_model(s, i);
        if (m->store_file && strcmp(m->store_file, added.first_file) == 0)
            id = m->id;
    }
    char size[32];
    human_size(added.size, size, sizeof(size));
    printf("%s %s (%s, %u file%s)\nsha256 %s\n", a->link ? "linked" : "added", id ? id : "?", size,
           added.n_parts, added.n_parts == 1 ? "" : "s", added.digest);
    osr_registry_snapshot_release(s);
    osr_registry_free(reg);
    free(home);
    return OSR_EXIT_OK;
}

/* ---- rm ----------------------------------------------------------------------------------- */

static int cmd_rm(const struct args *a)
{
    if (a->n_pos != 1) {
        fprintf(stderr, "usage: osaurus models rm NAME\n");
        return OSR_EXIT_USAGE;
    }
    struct osr_registry_options o = {.home = a->home};
    struct osr_registry *reg = osr_registry_new(&o);
    struct osr_registry_snapshot *s = osr_registry_acquire(reg, -1);
    const struct osr_model_entry *m = osr_registry_find(s, a->pos[0]);
    int code = OSR_EXIT_OK;
    struct osr_diag diag;
    osr_diag_clear(&diag);
    if (!m) {
        fprintf(stderr, "osaurus models rm: model '%s' not found\n", a->pos[0]);
        code = OSR_EXIT_FAILURE;
    } else if (osr_model_store_remove(osr_registry_home(reg), m, &diag) != OSR_OK) {
        fprintf(stderr, "osaurus models rm: %s\n", diag.msg);
        code = OSR_EXIT_FAILURE;
    } else {
        printf("deleted %s\n", m->id);
    }
    osr_registry_snapshot_release(s);
    osr_registry_free(reg);
    return code;
}

/* ---- inspect ------------------------------------------------------------------------------ */

/* Appends one array element (text form). */
static void elem_text(struct osr_buf *b, const struct osr_gguf_array *arr, uint64_t k)
{
    struct osr_str s;
    int64_t iv;
    double dv;
    if (arr->type == OSR_GGUF_TYPE_STRING && osr_gguf_arr_str(arr, k, &s) == OSR_OK)
        osr_json_append_string(b, s.p, s.n < 200 ? s.n : 200);
    else if ((arr->type == OSR_GGUF_TYPE_FLOAT32 || arr->type == OSR_GGUF_TYPE_FLOAT64) &&
             osr_gguf_arr_f64(arr, k, &dv) == OSR_OK)
        osr_buf_appendf(b, "%g", dv);
    else if (arr->type == OSR_GGUF_TYPE_ARRAY)
        osr_buf_puts(b, "[...]");
    else if (osr_gguf_arr_int(arr, k, &iv) == OSR_OK)
        osr_buf_appendf(b, "%" PRId64, iv);
    else
        osr_buf_puts(b, "?");
}

static void value_text(struct osr_buf *b, const struct osr_gguf *g, size_t i)
{
    enum osr_gguf_type t = osr_gguf_kv_type(g, i);
    struct osr_str s;
    int64_t iv;
    uint64_t uv;
    double dv;
    struct osr_gguf_array arr;
    if (t == OSR_GGUF_TYPE_STRING && osr_gguf_kv_str(g, i, &s) == OSR_OK) {
        bool cut = s.n > 300;
        osr_json_append_string(b, s.p, cut ? 300 : s.n);
        if (cut)
            osr_buf_appendf(b, " ... (%zu bytes)", s.n);
    } else if (t == OSR_GGUF_TYPE_ARRAY && osr_gguf_kv_arr(g, i, &arr) == OSR_OK) {
        uint64_t show = arr.n <= INSPECT_ARRAY_FULL ? arr.n : INSPECT_ARRAY_HEAD;
        osr_buf_putc(b, '[');
        for (uint64_t k = 0; k < show; k++) {
            if (k)
                osr_buf_puts(b, ", ");
            elem_text(b, &arr, k);
        }
        if (show < arr.n)
            osr_buf_appendf(b, ", ... %" PRIu64 " more", arr.n - show);
        osr_buf_appendf(b, "] (%s[%" PRIu64 "])", osr_gguf_type_name(arr.type), arr.n);
    } else if ((t == OSR_GGUF_TYPE_FLOAT32 || t == OSR_GGUF_TYPE_FLOAT64) &&
               osr_gguf_kv_f64(g, i, &dv) == OSR_OK) {
        osr_buf_appendf(b, "%g", dv);
    } else if (t == OSR_GGUF_TYPE_UINT64 && osr_gguf_kv_u64(g, i, &uv) == OSR_OK) {
        osr_buf_appendf(b, "%" PRIu64, uv);
    } else if (t == OSR_GGUF_TYPE_BOOL && osr_gguf_kv_i64(g, i, &iv) == OSR_OK) {
        osr_buf_puts(b, iv ? "true" : "false");
    } else if (osr_gguf_kv_i64(g, i, &iv) == OSR_OK) {
        osr_buf_appendf(b, "%" PRId64, iv);
    }
}

static struct json_object *elem_json(const struct osr_gguf_array *arr, uint64_t k)
{
    struct osr_str s;
    int64_t iv;
    double dv;
    if (arr->type == OSR_GGUF_TYPE_STRING && osr_gguf_arr_str(arr, k, &s) == OSR_OK)
        return osr_json_new_string(s.p, s.n);
    if ((arr->type == OSR_GGUF_TYPE_FLOAT32 || arr->type == OSR_GGUF_TYPE_FLOAT64) &&
        osr_gguf_arr_f64(arr, k, &dv) == OSR_OK && dv == dv && dv < 1.7e308 && dv > -1.7e308)
        return json_object_new_double(dv);
    if (arr->type != OSR_GGUF_TYPE_ARRAY && osr_gguf_arr_int(arr, k, &iv) == OSR_OK)
        return json_object_new_int64(iv);
    return NULL;
}

static struct json_object *value_json(const struct osr_gguf *g, size_t i)
{
    enum osr_gguf_type t = osr_gguf_kv_type(g, i);
    struct osr_str s;
    int64_t iv;
    uint64_t uv;
    double dv;
    struct osr_gguf_array arr;
    if (t == OSR_GGUF_TYPE_STRING && osr_gguf_kv_str(g, i, &s) == OSR_OK)
        return osr_json_new_string(s.p, s.n);
    if (t == OSR_GGUF_TYPE_ARRAY && osr_gguf_kv_arr(g, i, &arr) == OSR_OK) {
        struct json_object *items = json_object_new_array();
        uint64_t show = arr.n <= INSPECT_ARRAY_FULL ? arr.n : INSPECT_ARRAY_HEAD;
        for (uint64_t k = 0; k < show; k++)
            json_object_array_add(items, elem_json(&arr, k));
        if (show == arr.n)
            return items;
        /* Summarized: the element type, the count and the first few elements. */
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "type", json_object_new_string(osr_gguf_type_name(arr.type)));
        json_object_object_add(o, "count", json_object_new_uint64(arr.n));
        json_object_object_add(o, "head", items);
        return o;
    }
    if ((t == OSR_GGUF_TYPE_FLOAT32 || t == OSR_GGUF_TYPE_FLOAT64) &&
        osr_gguf_kv_f64(g, i, &dv) == OSR_OK)
        return dv == dv && dv < 1.7e308 && dv > -1.7e308 ? json_object_new_double(dv) : NULL;
    if (t == OSR_GGUF_TYPE_UINT64 && osr_gguf_kv_u64(g, i, &uv) == OSR_OK)
        return json_object_new_uint64(uv);
    if (t == OSR_GGUF_TYPE_BOOL && osr_gguf_kv_i64(g, i, &iv) == OSR_OK)
        return json_object_new_boolean(iv != 0);
    if (osr_gguf_kv_i64(g, i, &iv) == OSR_OK)
        return json_object_new_int64(iv);
    return NULL;
}

static const char *tensor_type(const struct osr_gguf_tensor *t)
{
    const char *n = osr_ggml_type_name(t->type);
    return n ? n : "?";
}

static int cmd_inspect(const struct args *a)
{
    if (a->n_pos != 1) {
        fprintf(stderr, "usage: osaurus models inspect FILE [--json]\n");
        return OSR_EXIT_USAGE;
    }
    struct osr_gguf *g = NULL;
    struct osr_diag diag;
    osr_diag_clear(&diag);
    int rc = osr_gguf_open(a->pos[0], &g, &diag);
    if (rc) {
        if (diag.msg[0])
            fprintf(stderr, "osaurus models inspect: %s\n", diag.msg);
        else
            fprintf(stderr, "osaurus models inspect: '%s': %s\n", a->pos[0], osr_strerror(rc));
        return OSR_EXIT_FAILURE;
    }
    size_t nkv = osr_gguf_n_kv(g), nt = osr_gguf_n_tensors(g);
    if (a->json) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "file", json_object_new_string(a->pos[0]));
        json_object_object_add(o, "version", json_object_new_int64(osr_gguf_version(g)));
        json_object_object_add(o, "size", json_object_new_uint64(osr_gguf_size(g)));
        json_object_object_add(o, "alignment", json_object_new_uint64(osr_gguf_alignment(g)));
        json_object_object_add(o, "data_offset", json_object_new_uint64(osr_gguf_data_offset(g)));
        struct json_object *md = json_object_new_object();
        for (size_t i = 0; i < nkv; i++)
            json_object_object_add(md, osr_gguf_kv_key(g, i), value_json(g, i));
        json_object_object_add(o, "metadata", md);
        struct json_object *ts = json_object_new_array();
        for (size_t i = 0; i < nt; i++) {
            const struct osr_gguf_tensor *t = osr_gguf_tensor(g, i);
            struct json_object *e = json_object_new_object();
            json_object_object_add(e, "name", json_object_new_string(t->name));
            json_object_object_add(e, "type", json_object_new_string(tensor_type(t)));
            struct json_object *dims = json_object_new_array();
            for (uint32_t d = 0; d < t->n_dims; d++)
                json_object_array_add(dims, json_object_new_uint64(t->dims[d]));
            json_object_object_add(e, "dims", dims);
            json_object_object_add(e, "offset", json_object_new_uint64(t->offset));
            json_object_object_add(e, "size", json_object_new_uint64(t->n_bytes));
            json_object_array_add(ts, e);
        }
        json_object_object_add(o, "tensors", ts);
        struct osr_buf b;
        osr_buf_init(&b, 256u << 20);
        if (osr_json_append(&b, o) == OSR_OK)
            puts(osr_buf_str(&b));
        osr_buf_release(&b);
        json_object_put(o);
        osr_gguf_close(g);
        return OSR_EXIT_OK;
    }
    printf("file:        %s\n", a->pos[0]);
    printf("version:     GGUF v%u\n", osr_gguf_version(g));
    printf("size:        %" PRIu64 " bytes\n", osr_gguf_size(g));
    printf("alignment:   %" PRIu64 "\n", osr_gguf_alignment(g));
    printf("data offset: %" PRIu64 "\n", osr_gguf_data_offset(g));
    printf("\nmetadata (%zu keys):\n", nkv);
    struct osr_buf b;
    osr_buf_init(&b, 1u << 20);
    for (size_t i = 0; i < nkv; i++) {
        osr_buf_reset(&b);
        value_text(&b, g, i);
        printf("  %-44s %-7s %s\n", osr_gguf_kv_key(g, i),
               osr_gguf_type_name(osr_gguf_kv_type(g, i)), osr_buf_str(&b));
    }
    osr_buf_release(&b);
    printf("\ntensors (%zu):\n", nt);
    printf("  %-40s %-7s %-28s %14s %14s\n", "NAME", "TYPE", "DIMS", "OFFSET", "SIZE");
    for (size_t i = 0; i < nt; i++) {
        const struct osr_gguf_tensor *t = osr_gguf_tensor(g, i);
        char dims[96];
        size_t dl = 0;
        dims[0] = '\0';
        for (uint32_t d = 0; d < t->n_dims && dl < sizeof(dims); d++)
            dl += (size_t)snprintf(dims + dl, sizeof(dims) - dl, "%s%" PRIu64, d ? " x " : "",
                                   t->dims[d]);
        printf("  %-40s %-7s %-28s %14" PRIu64 " %14" PRIu64 "\n", t->name, tensor_type(t), dims,
               t->offset, t->n_bytes);
    }
    osr_gguf_close(g);
    return OSR_EXIT_OK;
}

int osr_cmd_models(int argc, char **argv)
{
    if (argc < 2) {
        fputs(models_usage, stderr);
        return OSR_EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        fputs(models_usage, stdout);
        return OSR_EXIT_OK;
    }
    struct args a;
    int code = parse_args(argc - 1, argv + 1, &a);
    if (code >= 0)
        return code;
    if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0) {
        if (a.n_pos) {
            fprintf(stderr, "usage: osaurus models list [--json]\n");
            return OSR_EXIT_USAGE;
        }
        return cmd_list(&a);
    }
    if (strcmp(sub, "add") == 0)
        return cmd_add(&a);
    if (strcmp(sub, "rm") == 0 || strcmp(sub, "remove") == 0)
        return cmd_rm(&a);
    if (strcmp(sub, "inspect") == 0)
        return cmd_inspect(&a);
    fprintf(stderr, "osaurus models: unknown subcommand '%s'\n%s", sub, models_usage);
    return OSR_EXIT_USAGE;
}
