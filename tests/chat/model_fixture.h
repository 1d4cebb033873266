/* model_fixture.h - a fake machine full of models for the registry, route and CLI tests.
 *
 * make_fixture() builds, under a fresh temp dir:
 *   home/models/            the Osaurus store: llama-2-tiny-random.gguf (id "llama-v2"),
 *                           synth-micro-Q4_0.gguf ("synth-micro"), synth-micro-F16.gguf (same
 *                           general.name, so "synth-micro-f16"), a two-part split model
 *                           ("split-test-model"), the first part of a three-part split whose
 *                           other parts are missing (skipped) and a corrupt .gguf (skipped)
 *   extra/sub/thing.gguf    a folder of OSU_MODELS_DIR; no general.name, so id "thing"; its
 *                           chat template mentions tools
 *   ollama/                 OLLAMA_MODELS: manifests/models.example/library/tiny/latest (the
 *                           blob is synth-micro-Q8_0.gguf, named by its real sha256, with
 *                           template, params and system layers) and a user-namespace manifest
 *                           manifests/models.example/someone/other/v1 (same blob)
 *   hf/                     HF_HUB_CACHE: models--org--repo with refs/main -> rev "abc123",
 *                           whose model.gguf links to blobs/<its sha256> ("hf-model"), and an
 *                           older revision that must be ignored
 * and points HOME, OSAURUS_HOME, OSU_MODELS_DIR, OLLAMA_MODELS and HF_HUB_CACHE at them.
 *
 * The split model is two small GGUF files written here, each valid on its own and carrying
 * split.no / split.count metadata as llama.cpp's gguf-split writes them; cutting a real model
 * in two would need a GGUF writer the project does not otherwise have.
 *
 * Needs OSR_TESTDATA; fixture_skip() says so when it is absent.  Include after check.h. */
#ifndef OSR_TEST_MODEL_FIXTURE_H
#define OSR_TEST_MODEL_FIXTURE_H

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "osr/alloc.h"
#include "osr/buf.h"
#include "osr/config.h"
#include "osr/err.h"
#include "osr/registry.h"

/* The sha256 of synth-micro-Q4_0.gguf, as testdata/reference/README.md lists it. */
#define FIXTURE_Q4_0_SHA256 "b2431aa848a5ddbb6117cf4b522cef2f47931d4aba55294005721828c20458b1"
#define FIXTURE_Q8_0_SHA256 "bd027a28acf99b954a534058fa00321d24543a8f9d111fbfe5aca213b09429b0"
#define FIXTURE_TINY_SIZE 1750560
#define FIXTURE_TEMPLATE "{{ if .Tools }}tools{{ end }}{{ .Prompt }}"
#define FIXTURE_PARAMS "{\"stop\":[\"<|end|>\",\"<|user|>\"],\"temperature\":0.7}"
#define FIXTURE_SYSTEM "You are a tiny test model."

struct fixture {
    char root[256];
    char home[300];
    char store[320];
    char extra[300];
    char ollama[300];
    char hf[300];
    char testdata[1024];
    char hf_blob_hex[OSR_SHA256_HEX_LEN + 1];
    uint64_t split_size;
};

static struct fixture fx;

/* ---- a tiny GGUF writer ------------------------------------------------------------------- */

enum { GB_STR = 8, GB_U32 = 4, GB_U16 = 2 };

struct gb_kv {
    const char *key;
    int type;
    const char *s;
    uint32_t u;
};

static void gb_u32(struct osr_buf *b, uint32_t v)
{
    osr_buf_append(b, &v, 4);
}

static void gb_u64(struct osr_buf *b, uint64_t v)
{
    osr_buf_append(b, &v, 8);
}

static void gb_str(struct osr_buf *b, const char *s)
{
    gb_u64(b, strlen(s));
    osr_buf_append(b, s, strlen(s));
}

/* Writes a valid GGUF v3 file with the given metadata and one F32 tensor of n_elems (a
 * multiple of 4) elements. */
static void gb_write(const char *path, const struct gb_kv *kvs, size_t n_kv, uint32_t n_elems)
{
    struct osr_buf b;
    osr_buf_init(&b, 1u << 24);
    osr_buf_append(&b, "GGUF", 4);
    gb_u32(&b, 3);
    gb_u64(&b, 1);
    gb_u64(&b, n_kv);
    for (size_t i = 0; i < n_kv; i++) {
        gb_str(&b, kvs[i].key);
        gb_u32(&b, (uint32_t)kvs[i].type);
        if (kvs[i].type == GB_STR) {
            gb_str(&b, kvs[i].s);
        } else if (kvs[i].type == GB_U16) {
            uint16_t v = (uint16_t)kvs[i].u;
            osr_buf_append(&b, &v, 2);
        } else {
            gb_u32(&b, kvs[i].u);
        }
    }
    gb_str(&b, "token_embd.weight");
    gb_u32(&b, 2);
    gb_u64(&b, 4);
    gb_u64(&b, n_elems / 4);
    gb_u32(&b, 0); /* F32 */
    gb_u64(&b, 0);
    while (b.len % 32)
        osr_buf_putc(&b, 0);
    for (uint32_t i = 0; i < n_elems; i++) {
        float f = (float)i * 0.5f;
        osr_buf_append(&b, &f, 4);
    }
    FILE *f = fopen(path, "wb");
    OSR_ASSERT(f);
    OSR_ASSERT(fwrite(b.data, 1, b.len, f) == b.len);
    fclose(f);
    osr_buf_release(&b);
}

/* ---- file helpers ------------------------------------------------------------------------- */

static void fx_mkdirs(const char *p)
{
    OSR_ASSERT(osr_mkdir_p(p, 0700, NULL) == OSR_OK);
}

static void fx_copy(const char *src, const char *dst)
{
    char *data = NULL;
    size_t n = 0;
    OSR_ASSERT(osr_read_file(src, 64u << 20, &data, &n, NULL) == OSR_OK);
    FILE *f = fopen(dst, "wb");
    OSR_ASSERT(f);
    OSR_ASSERT(fwrite(data, 1, n, f) == n);
    fclose(f);
    free(data);
}

static void fx_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    OSR_ASSERT(f);
    fputs(text, f);
    fclose(f);
}

static uint64_t fx_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void fx_sha(const char *path, char out[OSR_SHA256_HEX_LEN + 1])
{
    char *p[1] = {(char *)path};
    OSR_ASSERT(osr_registry_sha256_files(p, 1, out, NULL, NULL, NULL) == OSR_OK);
}

/* Writes text as an Ollama blob named by its sha256; returns the hex in out. */
static void fx_blob_text(const char *blobs, const char *text, char out[OSR_SHA256_HEX_LEN + 1])
{
    char tmp[600], dst[700];
    snprintf(tmp, sizeof(tmp), "%s/tmp-blob", blobs);
    fx_write(tmp, text);
    fx_sha(tmp, out);
    snprintf(dst, sizeof(dst), "%s/sha256-%s", blobs, out);
    OSR_ASSERT(rename(tmp, dst) == 0);
}

static void fx_rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *p = osr_path_join(dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            fx_rm_tree(p);
        else
            unlink(p);
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

static const char *fx_testfile(const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", fx.testdata, name);
    return out;
}

/* Returns false (after printing "skipping") when the test data is absent. */
static bool fixture_skip(void)
{
    const char *td = getenv("OSR_TESTDATA");
    char p[1100];
    snprintf(p, sizeof(p), "%s/reference/synth-micro-Q4_0.gguf", td ? td : "");
    if (!td || !*td || access(p, R_OK) != 0) {
        printf("skipping: OSR_TESTDATA with llama-2-tiny-random.gguf and reference/ is needed\n");
        return true;
    }
    return false;
}

static void make_fixture(void)
{
    char a[1200], b[1300];
    snprintf(fx.testdata, sizeof(fx.testdata), "%s", getenv("OSR_TESTDATA"));
    const char *t = getenv("TMPDIR");
    snprintf(fx.root, sizeof(fx.root), "%s/osr-models-XXXXXX", t && *t ? t : "/tmp");
    OSR_ASSERT(mkdtemp(fx.root) != NULL);
    snprintf(fx.home, sizeof(fx.home), "%s/home", fx.root);
    snprintf(fx.store, sizeof(fx.store), "%s/models", fx.home);
    snprintf(fx.extra, sizeof(fx.extra), "%s/extra", fx.root);
    snprintf(fx.ollama, sizeof(fx.ollama), "%s/ollama", fx.root);
    snprintf(fx.hf, sizeof(fx.hf), "%s/hf", fx.root);

    /* The Osaurus store. */
    fx_mkdirs(fx.store);
    snprintf(b, sizeof(b), "%s/llama-2-tiny-random.gguf", fx.store);
    fx_copy(fx_testfile("llama-2-tiny-random.gguf", a, sizeof(a)), b);
    snprintf(b, sizeof(b), "%s/synth-micro-Q4_0.gguf", fx.store);
    fx_copy(fx_testfile("reference/synth-micro-Q4_0.gguf", a, sizeof(a)), b);
    snprintf(b, sizeof(b), "%s/synth-micro-F16.gguf", fx.store);
    fx_copy(fx_testfile("reference/synth-micro-F16.gguf", a, sizeof(a)), b);
    for (unsigned part = 1; part <= 2; part++) {
        const struct gb_kv kv[] = {
            {"general.architecture", GB_STR, "llama", 0},
            {"general.name", GB_STR, "Split Test Model", 0},
            {"general.file_type", GB_U32, NULL, 0},
            {"llama.context_length", GB_U32, NULL, 2048},
            {"split.no", GB_U16, NULL, part - 1},
            {"split.count", GB_U16, NULL, 2},
        };
        snprintf(b, sizeof(b), "%s/split-model-%05u-of-00002.gguf", fx.store, part);
        gb_write(b, kv, sizeof(kv) / sizeof(kv[0]), 1000);
        fx.split_size += fx_size(b);
    }
    const struct gb_kv half[] = {{"general.architecture", GB_STR, "llama", 0}};
    snprintf(b, sizeof(b), "%s/half-00001-of-00003.gguf", fx.store);
    gb_write(b, half, 1, 8);
    /* A real header claiming a billion tensors in a 64-byte file. */
    static const unsigned char corrupt[64] = {'G', 'G', 'U', 'F', 3, 0, 0, 0, 0, 0xca, 0x9a, 0x3b};
    snprintf(b, sizeof(b), "%s/corrupt.gguf", fx.store);
    FILE *cf = fopen(b, "wb");
    OSR_ASSERT(cf && fwrite(corrupt, 1, sizeof(corrupt), cf) == sizeof(corrupt));
    fclose(cf);

    /* A folder of OSU_MODELS_DIR. */
    snprintf(a, sizeof(a), "%s/sub", fx.extra);
    fx_mkdirs(a);
    const struct gb_kv thing[] = {
        {"general.architecture", GB_STR, "qwen2", 0},
        {"general.file_type", GB_U32, NULL, 7},
        {"qwen2.context_length", GB_U32, NULL, 32768},
        {"tokenizer.chat_template", GB_STR,
         "{% if tools %}You may call tools.{% endif %}{{ messages[0].content }}", 0},
    };
    snprintf(b, sizeof(b), "%s/sub/thing.gguf", fx.extra);
    gb_write(b, thing, sizeof(thing) / sizeof(thing[0]), 400);

    /* Ollama's store. */
    char blobs[600], hex_t[65], hex_p[65], hex_s[65];
    snprintf(blobs, sizeof(blobs), "%s/blobs", fx.ollama);
    fx_mkdirs(blobs);
    snprintf(b, sizeof(b), "%s/sha256-%s", blobs, FIXTURE_Q8_0_SHA256);
    fx_copy(fx_testfile("reference/synth-micro-Q8_0.gguf", a, sizeof(a)), b);
    fx_blob_text(blobs, FIXTURE_TEMPLATE, hex_t);
    fx_blob_text(blobs, FIXTURE_PARAMS, hex_p);
    fx_blob_text(blobs, FIXTURE_SYSTEM, hex_s);
    char manifest[4096];
    snprintf(manifest, sizeof(manifest),
             "{\"schemaVersion\":2,\"mediaType\":\"application/"
             "vnd.docker.distribution.manifest.v2+json\",\"config\":{\"mediaType\":"
             "\"application/vnd.docker.container.image.v1+json\",\"digest\":\"sha256:%s\","
             "\"size\":10},\"layers\":["
             "{\"mediaType\":\"application/vnd.ollama.image.model\",\"digest\":\"sha256:%s\","
             "\"size\":5157184},"
             "{\"mediaType\":\"application/vnd.ollama.image.template\",\"digest\":\"sha256:%s\","
             "\"size\":1},"
             "{\"mediaType\":\"application/vnd.ollama.image.params\",\"digest\":\"sha256:%s\","
             "\"size\":1},"
             "{\"mediaType\":\"application/vnd.ollama.image.system\",\"digest\":\"sha256:%s\","
             "\"size\":1}]}",
             hex_s, FIXTURE_Q8_0_SHA256, hex_t, hex_p, hex_s);
    snprintf(a, sizeof(a), "%s/manifests/models.example/library/tiny", fx.ollama);
    fx_mkdirs(a);
    snprintf(b, sizeof(b), "%s/latest", a);
    fx_write(b, manifest);
    snprintf(a, sizeof(a), "%s/manifests/models.example/someone/other", fx.ollama);
    fx_mkdirs(a);
    snprintf(b, sizeof(b), "%s/v1", a);
    fx_write(b, manifest);
    /* A manifest whose JSON is broken: skipped. */
    snprintf(a, sizeof(a), "%s/manifests/models.example/library/broken", fx.ollama);
    fx_mkdirs(a);
    snprintf(b, sizeof(b), "%s/latest", a);
    fx_write(b, "{\"layers\": [");

    /* The Hugging Face cache. */
    char repo[600];
    snprintf(repo, sizeof(repo), "%s/models--org--repo", fx.hf);
    snprintf(a, sizeof(a), "%s/blobs", repo);
    fx_mkdirs(a);
    snprintf(a, sizeof(a), "%s/refs", repo);
    fx_mkdirs(a);
    snprintf(a, sizeof(a), "%s/snapshots/abc123/q8", repo);
    fx_mkdirs(a);
    snprintf(a, sizeof(a), "%s/snapshots/old000", repo);
    fx_mkdirs(a);
    snprintf(a, sizeof(a), "%s/refs/main", repo);
    fx_write(a, "abc123");
    const struct gb_kv hfm[] = {
        {"general.architecture", GB_STR, "gemma2", 0},
        {"general.name", GB_STR, "HF Model", 0},
        {"general.file_type", GB_U32, NULL, 15},
        {"general.size_label", GB_STR, "2B", 0},
    };
    snprintf(a, sizeof(a), "%s/blobs/tmp", repo);
    gb_write(a, hfm, sizeof(hfm) / sizeof(hfm[0]), 800);
    fx_sha(a, fx.hf_blob_hex);
    snprintf(b, sizeof(b), "%s/blobs/%s", repo, fx.hf_blob_hex);
    OSR_ASSERT(rename(a, b) == 0);
    snprintf(a, sizeof(a), "%s/snapshots/abc123/q8/model.gguf", repo);
    snprintf(b, sizeof(b), "../../../blobs/%s", fx.hf_blob_hex);
    OSR_ASSERT(symlink(b, a) == 0);
    snprintf(a, sizeof(a), "%s/snapshots/old000/old.gguf", repo);
    snprintf(b, sizeof(b), "../../blobs/%s", fx.hf_blob_hex);
    OSR_ASSERT(symlink(b, a) == 0);

    setenv("HOME", fx.root, 1);
    setenv("OSAURUS_HOME", fx.home, 1);
    setenv("OSU_MODELS_DIR", fx.extra, 1);
    setenv("OLLAMA_MODELS", fx.ollama, 1);
    setenv("HF_HUB_CACHE", fx.hf, 1);
    unsetenv("HF_HOME");
    unsetenv("XDG_CACHE_HOME");
}

static void remove_fixture(void)
{
    if (fx.root[0])
        fx_rm_tree(fx.root);
}

#endif
