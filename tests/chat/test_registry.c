/* test_registry.c - the model registry over a fake machine (see model_fixture.h): all four
 * sources, ids and their disambiguation, split and broken files, sizes, digests (free ones,
 * computed ones and the cache), metadata, lookup, and rescans while snapshots are held. */
#include <pthread.h>

#include "check.h"
#include "chat/model_fixture.h"
#include "osr/log.h"
#include "osr/model_store.h"
#include "osr/registry.h"

static const struct osr_model_entry *by_id(struct osr_registry_snapshot *s, const char *id)
{
    for (size_t i = 0; i < osr_registry_count(s); i++)
        if (strcmp(osr_registry_model(s, i)->id, id) == 0)
            return osr_registry_model(s, i);
    return NULL;
}

static void test_helpers(void)
{
    unsigned part = 0, count = 0;
    size_t stem = 0;
    CHECK(osr_registry_split_name("Model-Q4-00002-of-00005.gguf", &part, &count, &stem));
    CHECK_INT_EQ(part, 2);
    CHECK_INT_EQ(count, 5);
    CHECK_INT_EQ(stem, strlen("Model-Q4"));
    CHECK(!osr_registry_split_name("model-00006-of-00005.gguf", &part, &count, &stem));
    CHECK(!osr_registry_split_name("model-0001-of-0002.gguf", &part, &count, &stem));
    CHECK(!osr_registry_split_name("model-00001-of-00002.bin", &part, &count, &stem));
    CHECK(!osr_registry_split_name("-00001-of-00002.gguf", &part, &count, &stem));

    char buf[64];
    osr_registry_format_params(8030261248ull, buf, sizeof(buf));
    CHECK_STR_EQ(buf, "8.0B");
    osr_registry_format_params(1100048384ull, buf, sizeof(buf));
    CHECK_STR_EQ(buf, "1.1B");
    osr_registry_format_params(134515008ull, buf, sizeof(buf));
    CHECK_STR_EQ(buf, "135M");
    osr_registry_format_params(4170048ull, buf, sizeof(buf));
    CHECK_STR_EQ(buf, "4.2M");
    osr_registry_format_params(513048ull, buf, sizeof(buf));
    CHECK_STR_EQ(buf, "513K");

    CHECK_STR_EQ(osr_registry_ftype_name(15), "Q4_K_M");
    CHECK_STR_EQ(osr_registry_ftype_name(7), "Q8_0");
    CHECK_STR_EQ(osr_registry_ftype_name(1), "F16");
    CHECK_STR_EQ(osr_registry_ftype_name(32), "BF16");
    CHECK(osr_registry_ftype_name(5) == NULL);
    CHECK(osr_registry_ftype_name(1000) == NULL);

    osr_registry_make_id("Llama 3.2 3B Instruct", buf, sizeof(buf));
    CHECK_STR_EQ(buf, "llama-3.2-3b-instruct");
}

static void test_sha256_known(void)
{
    char p[1200], hex[OSR_SHA256_HEX_LEN + 1];
    fx_testfile("reference/synth-micro-Q4_0.gguf", p, sizeof(p));
    char *paths[1] = {p};
    REQUIRE(osr_registry_sha256_files(paths, 1, hex, NULL, NULL, NULL) == OSR_OK);
    CHECK_STR_EQ(hex, FIXTURE_Q4_0_SHA256);
    char *missing[1] = {(char *)"/nonexistent/x.gguf"};
    struct osr_diag d;
    osr_diag_clear(&d);
    CHECK_INT_EQ(osr_registry_sha256_files(missing, 1, hex, NULL, NULL, &d), OSR_EIO);
    CHECK(strstr(d.msg, "x.gguf") != NULL);
}

static void test_scan_all_sources(void)
{
    struct osr_registry *reg = osr_registry_new(NULL);
    struct osr_registry_snapshot *s = osr_registry_acquire(reg, -1);
    for (size_t i = 0; i < osr_registry_count(s); i++)
        fprintf(stderr, "  found %-45s %s\n", osr_registry_model(s, i)->id,
                osr_model_source_name(osr_registry_model(s, i)->source));
    /* 4 store models (corrupt and incomplete split skipped), 1 dir, 2 Ollama, 1 HF. */
    CHECK_INT_EQ(osr_registry_count(s), 8);

    const struct osr_model_entry *tiny = by_id(s, "llama-v2");
    REQUIRE(tiny);
    CHECK_INT_EQ(tiny->source, OSR_MODEL_SOURCE_OSAURUS);
    CHECK_STR_EQ(tiny->name, "LLaMA v2");
    CHECK_INT_EQ(tiny->size, FIXTURE_TINY_SIZE);
    CHECK_STR_EQ(tiny->family, "llama");
    CHECK_STR_EQ(tiny->quantization, "F16");
    CHECK_INT_EQ(tiny->context_length, 4096);
    CHECK_STR_EQ(tiny->parameter_size, "513K");
    CHECK_INT_EQ(tiny->n_paths, 1);
    CHECK_STR_EQ(tiny->store_file, "llama-2-tiny-random.gguf");

    /* Same general.name: the later one (in file-name order: F16 < Q4_0) gets its
     * quantization. */
    const struct osr_model_entry *q4 = by_id(s, "synth-micro-q4_0");
    const struct osr_model_entry *f16 = by_id(s, "synth-micro");
    REQUIRE(q4 && f16);
    CHECK_STR_EQ(q4->quantization, "Q4_0");
    CHECK_STR_EQ(f16->quantization, "F16");
    CHECK_INT_EQ(q4->context_length, 512);

    const struct osr_model_entry *split = by_id(s, "split-test-model");
    REQUIRE(split);
    CHECK_INT_EQ(split->n_paths, 2);
    CHECK_INT_EQ(split->size, fx.split_size);
    CHECK(strstr(split->paths[1], "-00002-of-00002.gguf") != NULL);
    CHECK_STR_EQ(split->quantization, "F32");
    CHECK_INT_EQ(split->parameter_count, 2000); /* both parts' tensors */
    CHECK(by_id(s, "half") == NULL);
    CHECK(by_id(s, "corrupt") == NULL);

    const struct osr_model_entry *thing = by_id(s, "thing");
    REQUIRE(thing);
    CHECK_INT_EQ(thing->source, OSR_MODEL_SOURCE_DIR);
    CHECK_STR_EQ(thing->family, "qwen2");
    CHECK_STR_EQ(thing->quantization, "Q8_0");
    CHECK_INT_EQ(thing->context_length, 32768);
    CHECK(thing->has_template && thing->template_tools);

    const struct osr_model_entry *ol = by_id(s, "tiny:latest");
    REQUIRE(ol);
    CHECK_INT_EQ(ol->source, OSR_MODEL_SOURCE_OLLAMA);
    CHECK_STR_EQ(ol->quantization, "Q8_0");
    CHECK_INT_EQ(ol->size, 5157184);
    CHECK_STR_EQ(ol->ollama_template, FIXTURE_TEMPLATE);
    CHECK_STR_EQ(ol->ollama_params, FIXTURE_PARAMS);
    CHECK_STR_EQ(ol->ollama_system, FIXTURE_SYSTEM);
    CHECK(ol->template_tools);
    char d[OSR_SHA256_HEX_LEN + 1];
    osr_registry_digest(s, ol, d);
    CHECK_STR_EQ(d, FIXTURE_Q8_0_SHA256);
    CHECK(by_id(s, "models.example/someone/other:v1") != NULL);
    CHECK(by_id(s, "broken:latest") == NULL);

    const struct osr_model_entry *hf = by_id(s, "hf-model");
    REQUIRE(hf);
    CHECK_INT_EQ(hf->source, OSR_MODEL_SOURCE_HUGGINGFACE);
    CHECK(strstr(hf->paths[0], "abc123") != NULL); /* refs/main's revision only */
    CHECK_STR_EQ(hf->quantization, "Q4_K_M");
    CHECK_STR_EQ(hf->family, "gemma2");
    osr_registry_digest(s, hf, d);
    CHECK_STR_EQ(d, fx.hf_blob_hex);

    /* Sources come in order: store, dirs, Ollama, Hugging Face. */
    enum osr_model_source last = OSR_MODEL_SOURCE_OSAURUS;
    bool ordered = true;
    for (size_t i = 0; i < osr_registry_count(s); i++) {
        if (osr_registry_model(s, i)->source < last)
            ordered = false;
        last = osr_registry_model(s, i)->source;
    }
    CHECK(ordered);
    osr_registry_snapshot_release(s);
    osr_registry_free(reg);
}

static void test_find(void)
{
    struct osr_registry *reg = osr_registry_new(NULL);
    struct osr_registry_snapshot *s = osr_registry_acquire(reg, -1);
    const struct osr_model_entry *m = osr_registry_find(s, "tiny");
    CHECK(m && strcmp(m->id, "tiny:latest") == 0);
    m = osr_registry_find(s, "TINY:Latest");
    CHECK(m && strcmp(m->id, "tiny:latest") == 0);
    m = osr_registry_find(s, "someone/other:v1");
    CHECK(m && strcmp(m->id, "models.example/someone/other:v1") == 0);
    m = osr_registry_find(s, "LLaMA v2");
    CHECK(m && strcmp(m->id, "llama-v2") == 0);
    m = osr_registry_find(s, "Llama-V2");
    CHECK(m && strcmp(m->id, "llama-v2") == 0);
    CHECK(osr_registry_find(s, "tiny:other") == NULL);

    /* Ollama names keep their spelling; lookups ignore case. */
    char src[700], dir[700], dst[800];
    snprintf(src, sizeof(src), "%s/manifests/models.example/library/tiny/latest", fx.ollama);
    snprintf(dir, sizeof(dir), "%s/manifests/models.example/library/Upper", fx.ollama);
    fx_mkdirs(dir);
    snprintf(dst, sizeof(dst), "%s/Q4_K_M", dir);
    fx_copy(src, dst);
    osr_registry_snapshot_release(s);
    osr_registry_refresh(reg);
    s = osr_registry_acquire(reg, -1);
    CHECK(by_id(s, "Upper:Q4_K_M") != NULL);
    m = osr_registry_find(s, "upper:q4_k_m");
    CHECK(m && strcmp(m->id, "Upper:Q4_K_M") == 0);
    unlink(dst);
    rmdir(dir);
    CHECK(osr_registry_find(s, "nope") == NULL);
    CHECK(osr_registry_find(s, "") == NULL);
    osr_registry_snapshot_release(s);
    osr_registry_free(reg);
}

static void test_digests_cached(void)
{
    char cache[600];
    snprintf(cache, sizeof(cache), "%s/.digests.json", fx.store);
    unlink(cache);
    struct osr_registry *reg = osr_registry_new(NULL);
    struct osr_registry_snapshot *s = osr_registry_acquire(reg, -1);
    char d[OSR_SHA256_HEX_LEN + 1];
    const struct osr_model_entry *q4 = by_id(s, "synth-micro-q4_0");
    REQUIRE(q4);
    osr_registry_digest(s, q4, d);
    CHECK_STR_EQ(d, ""); /* not known until computed */
    osr_registry_want_digests(reg);
    CHECK_INT_EQ(osr_registry_wait_digests(reg, 20000), OSR_OK);
    osr_registry_digest(s, q4, d);
    CHECK_STR_EQ(d, FIXTURE_Q4_0_SHA256);
    const struct osr_model_entry *split = by_id(s, "split-test-model");
    REQUIRE(split);
    char want[OSR_SHA256_HEX_LEN + 1];
    REQUIRE(osr_registry_sha256_files(split->paths, split->n_paths, want, NULL, NULL, NULL) ==
            OSR_OK);
    osr_registry_digest(s, split, d);
    CHECK_STR_EQ(d, want);
    osr_registry_snapshot_release(s);
    osr_registry_free(reg);
    CHECK(access(cache, R_OK) == 0);

    /* A new registry knows the digests at once, from the cache. */
    reg = osr_registry_new(NULL);
    s = osr_registry_acquire(reg, -1);
    q4 = by_id(s, "synth-micro-q4_0");
    REQUIRE(q4);
    osr_registry_digest(s, q4, d);
    CHECK_STR_EQ(d, FIXTURE_Q4_0_SHA256);
    osr_registry_snapshot_release(s);
    osr_registry_free(reg);

    /* A changed file (other mtime) is not trusted to the cache. */
    char p[600];
    snprintf(p, sizeof(p), "%s/synth-micro-Q4_0.gguf", fx.store);
    struct timespec ts[2] = {{0, UTIME_OMIT}, {1000000, 0}};
    REQUIRE(utimensat(AT_FDCWD, p, ts, 0) == 0);
    reg = osr_registry_new(NULL);
    s = osr_registry_acquire(reg, -1);
    q4 = by_id(s, "synth-micro-q4_0");
    REQUIRE(q4);
    osr_registry_digest(s, q4, d);
    CHECK_STR_EQ(d, "");
    osr_registry_snapshot_release(s);
    osr_registry_free(reg);
}

static void test_refresh_keeps_snapshots(void)
{
    struct osr_registry *reg = osr_registry_new(NULL);
    struct osr_registry_snapshot *old = osr_registry_acquire(reg, -1);
    size_t n = osr_registry_count(old);
    char src[1200], dst[600];
    snprintf(dst, sizeof(dst), "%s/again.gguf", fx.extra);
    fx_copy(fx_testfile("reference/synth-micro-Q4_0.gguf", src, sizeof(src)), dst);
    CHECK_INT_EQ(osr_registry_refresh(reg), OSR_OK);
    struct osr_registry_snapshot *now = osr_registry_acquire(reg, -1);
    CHECK_INT_EQ(osr_registry_count(now), n + 1);
    /* A third synth-micro: the name and the "-q4_0" form are taken, so it gets "-2". */
    const struct osr_model_entry *again = by_id(now, "synth-micro-2");
    CHECK(again && again->source == OSR_MODEL_SOURCE_DIR);
    /* The old snapshot is intact. */
    CHECK_INT_EQ(osr_registry_count(old), n);
    CHECK(by_id(old, "llama-v2") != NULL);
    osr_registry_snapshot_release(old);
    unlink(dst);
    /* A stale snapshot is rescanned on acquire when asked. */
    struct osr_registry_snapshot *fresh = osr_registry_acquire(reg, 0);
    CHECK_INT_EQ(osr_registry_count(fresh), n);
    osr_registry_snapshot_release(fresh);
    osr_registry_snapshot_release(now);
    osr_registry_free(reg);
}

static struct osr_registry *race_reg;

static void *reader(void *arg)
{
    (void)arg;
    size_t seen = 0;
    for (int i = 0; i < 30; i++) {
        struct osr_registry_snapshot *s = osr_registry_acquire(race_reg, -1);
        for (size_t k = 0; k < osr_registry_count(s); k++)
            seen += strlen(osr_registry_model(s, k)->id);
        osr_registry_snapshot_release(s);
    }
    return (void *)seen;
}

static void test_concurrent_refresh(void)
{
    race_reg = osr_registry_new(NULL);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, reader, NULL);
    osr_registry_want_digests(race_reg);
    for (int i = 0; i < 3; i++)
        osr_registry_refresh(race_reg);
    for (int i = 0; i < 2; i++) {
        void *seen = NULL;
        pthread_join(t[i], &seen);
        CHECK(seen != NULL);
    }
    osr_registry_free(race_reg);
}

static void test_options_and_missing_sources(void)
{
    struct osr_registry_options o = {
        .home = fx.home, .no_env_dirs = true, .no_ollama = true, .no_hf = true};
    struct osr_registry *reg = osr_registry_new(&o);
    struct osr_registry_snapshot *s = osr_registry_acquire(reg, -1);
    CHECK_INT_EQ(osr_registry_count(s), 4);
    osr_registry_snapshot_release(s);
    osr_registry_free(reg);

    /* Sources that do not exist are simply empty. */
    setenv("OLLAMA_MODELS", "/nonexistent/ollama", 1);
    setenv("HF_HUB_CACHE", "/nonexistent/hf", 1);
    setenv("OSU_MODELS_DIR", "/nonexistent/a::/nonexistent/b", 1);
    reg = osr_registry_new(NULL);
    s = osr_registry_acquire(reg, -1);
    CHECK_INT_EQ(osr_registry_count(s), 4);
    osr_registry_snapshot_release(s);
    osr_registry_free(reg);
    setenv("OLLAMA_MODELS", fx.ollama, 1);
    setenv("HF_HUB_CACHE", fx.hf, 1);
    setenv("OSU_MODELS_DIR", fx.extra, 1);
}

/* Skipped files are logged with their reason, one warning each. */
static void test_skips_are_logged(void)
{
    FILE *logf = tmpfile();
    REQUIRE(logf);
    int old_fd = osr_log_set_fd(fileno(logf));
    osr_log_set_level(OSR_LOG_WARN);
    struct osr_registry *reg = osr_registry_new(NULL);
    osr_log_set_level(OSR_LOG_ERROR);
    osr_log_set_fd(old_fd);
    osr_registry_free(reg);
    static char text[16384];
    rewind(logf);
    size_t n = fread(text, 1, sizeof(text) - 1, logf);
    text[n] = '\0';
    fclose(logf);
    CHECK(strstr(text, "corrupt.gguf': tensor count") != NULL);
    CHECK(strstr(text, "incomplete split model") && strstr(text, "part 2 of 3 is missing"));
    CHECK(strstr(text, "broken/latest") != NULL);
    CHECK(strstr(text, "llama-2-tiny-random") == NULL); /* good files are not mentioned */
}

struct prog {
    int calls;
    uint64_t last_done, last_total;
};

static void on_progress(uint64_t done, uint64_t total, void *ctx)
{
    struct prog *p = ctx;
    p->calls++;
    p->last_done = done;
    p->last_total = total;
}

/* The store module directly: progress, names, copy, remove, and refusals. */
static void test_store_operations(void)
{
    char src[1200];
    fx_testfile("reference/synth-micro-Q4_0.gguf", src, sizeof(src));
    struct prog pg = {0};
    struct osr_model_store_add_opts o = {.name = "Store Test", .progress = on_progress, .ctx = &pg};
    struct osr_model_store_added added;
    struct osr_diag d;
    osr_diag_clear(&d);
    REQUIRE(osr_model_store_add(fx.home, src, &o, &added, &d) == OSR_OK);
    CHECK_STR_EQ(added.digest, FIXTURE_Q4_0_SHA256);
    CHECK_STR_EQ(added.first_file, "Store_Test.gguf");
    CHECK(pg.calls >= 1 && pg.last_done == 3072320 && pg.last_total == 3072320);
    struct json_object *names = osr_model_store_names_load(fx.store), *v;
    CHECK(json_object_object_get_ex(names, "Store_Test.gguf", &v) &&
          strcmp(json_object_get_string(v), "Store Test") == 0);
    json_object_put(names);

    struct osr_registry *reg = osr_registry_new(NULL);
    struct osr_registry_snapshot *s = osr_registry_acquire(reg, -1);
    const struct osr_model_entry *m = by_id(s, "store-test");
    REQUIRE(m);
    char dg[OSR_SHA256_HEX_LEN + 1];
    osr_registry_digest(s, m, dg);
    CHECK_STR_EQ(dg, FIXTURE_Q4_0_SHA256); /* remembered by add, not recomputed */
    CHECK_INT_EQ(osr_model_store_copy(fx.home, m, "Second Name", &d), OSR_OK);
    CHECK_INT_EQ(osr_model_store_copy(fx.home, m, "Second Name", &d), OSR_EEXIST);
    CHECK_INT_EQ(osr_model_store_copy(fx.home, m, "", &d), OSR_EINVAL);
    const struct osr_model_entry *ol = by_id(s, "tiny:latest");
    REQUIRE(ol);
    CHECK_INT_EQ(osr_model_store_remove(fx.home, ol, &d), OSR_EPERM);
    CHECK(strstr(d.msg, "Ollama") != NULL);
    CHECK_INT_EQ(osr_model_store_copy(fx.home, ol, "x", &d), OSR_EPERM);
    CHECK_INT_EQ(osr_model_store_remove(fx.home, m, &d), OSR_OK);
    osr_registry_snapshot_release(s);

    osr_registry_refresh(reg);
    s = osr_registry_acquire(reg, -1);
    CHECK(by_id(s, "store-test") == NULL);
    m = by_id(s, "second-name");
    REQUIRE(m);
    CHECK_INT_EQ(m->size, 3072320);
    CHECK_INT_EQ(osr_model_store_remove(fx.home, m, &d), OSR_OK);
    osr_registry_snapshot_release(s);
    osr_registry_free(reg);
    names = osr_model_store_names_load(fx.store);
    CHECK_INT_EQ(json_object_object_length(names), 0);
    json_object_put(names);

    /* Nothing half-copied stays behind when the source is refused. */
    char bad[700];
    snprintf(bad, sizeof(bad), "%s/corrupt.gguf", fx.store);
    struct osr_model_store_add_opts o2 = {.name = "never"};
    CHECK_INT_EQ(osr_model_store_add(fx.home, bad, &o2, &added, &d), OSR_ECORRUPT);
    snprintf(bad, sizeof(bad), "%s/never.gguf", fx.store);
    CHECK(access(bad, F_OK) != 0);
}

static bool skipped;

static void test_setup(void)
{
    osr_log_set_level(OSR_LOG_ERROR);
    skipped = fixture_skip();
    if (!skipped)
        make_fixture();
}

#define RUN(fn)                                                                                    \
    static void run_##fn(void)                                                                     \
    {                                                                                              \
        if (!skipped)                                                                              \
            fn();                                                                                  \
    }

RUN(test_sha256_known)
RUN(test_scan_all_sources)
RUN(test_find)
RUN(test_digests_cached)
RUN(test_refresh_keeps_snapshots)
RUN(test_concurrent_refresh)
RUN(test_options_and_missing_sources)
RUN(test_skips_are_logged)
RUN(test_store_operations)

static void cleanup(void)
{
    remove_fixture();
}

TEST_MAIN(test_setup, test_helpers, run_test_sha256_known, run_test_scan_all_sources, run_test_find,
          run_test_digests_cached, run_test_refresh_keeps_snapshots, run_test_concurrent_refresh,
          run_test_options_and_missing_sources, run_test_skips_are_logged,
          run_test_store_operations, cleanup)
