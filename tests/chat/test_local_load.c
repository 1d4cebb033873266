/* test_local_load.c - the local backend loads models outside its lock.  Two copies of
 * llama-2-tiny-random.gguf ("Fast Model", "Slow Model") in a temporary Osaurus store; a test
 * load hook holds the slow model's load until told to go.  Meanwhile the fast model loads and
 * answers, a second request for the slow model waits for the same load (the hook runs once), a
 * model still loading is not reported as loaded, and a failed load gives its error to every
 * request that waited for it while the next request loads afresh. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "check.h"
#include "engine/gguf_splitter.h"
#include "osr/clock.h"
#include "osr/config.h"
#include "osr/local_backend.h"
#include "osr/registry.h"

static char home[256];
static int skip;

struct hook_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int slow_calls;
    int fast_calls;
    bool in_slow;
    bool go;
    bool fail;
};

static struct hook_state hs = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

static int load_hook(void *arg, const char *id, struct osr_diag *diag)
{
    struct hook_state *h = arg;
    pthread_mutex_lock(&h->mu);
    if (strcmp(id, "slow-model") != 0) {
        h->fast_calls++;
        pthread_mutex_unlock(&h->mu);
        return OSR_OK;
    }
    h->slow_calls++;
    h->in_slow = true;
    pthread_cond_broadcast(&h->cv);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 20; /* never hang the test run */
    while (!h->go)
        if (pthread_cond_timedwait(&h->cv, &h->mu, &dl) != 0)
            break;
    h->in_slow = false;
    bool fail = h->fail;
    h->fail = false;
    pthread_mutex_unlock(&h->mu);
    return fail ? osr_diag_set(diag, OSR_EIO, "injected load failure") : OSR_OK;
}

static void hook_reset(bool fail)
{
    pthread_mutex_lock(&hs.mu);
    hs.slow_calls = hs.fast_calls = 0;
    hs.in_slow = hs.go = false;
    hs.fail = fail;
    pthread_mutex_unlock(&hs.mu);
}

static bool wait_in_slow(void)
{
    for (int i = 0; i < 2000; i++) {
        pthread_mutex_lock(&hs.mu);
        bool in = hs.in_slow;
        pthread_mutex_unlock(&hs.mu);
        if (in)
            return true;
        osr_sleep_ms(5);
    }
    return false;
}

static void hook_go(void)
{
    pthread_mutex_lock(&hs.mu);
    hs.go = true;
    pthread_cond_broadcast(&hs.cv);
    pthread_mutex_unlock(&hs.mu);
}

struct req {
    struct osr_chat_backend *b;
    const char *model;
    int rc;
    int status;
    size_t dim;
    char msg[OSR_DIAG_MAX];
    atomic_bool done;
    pthread_t th;
};

static void *embed_thread(void *arg)
{
    struct req *r = arg;
    struct osr_str in = osr_str_cstr("hello there");
    struct osr_embeddings out;
    struct osr_diag d;
    osr_diag_clear(&d);
    r->status = 200;
    r->rc = r->b->ops->embed(r->b, r->model, &in, 1, &out, &r->status, &d);
    r->dim = r->rc == OSR_OK ? out.dim : 0;
    if (r->rc == OSR_OK)
        free(out.data);
    snprintf(r->msg, sizeof(r->msg), "%s", d.msg);
    atomic_store(&r->done, true);
    return NULL;
}

static void start(struct req *r, struct osr_chat_backend *b, const char *model)
{
    memset(r, 0, sizeof(*r));
    r->b = b;
    r->model = model;
    pthread_create(&r->th, NULL, embed_thread, r);
}

static struct osr_chat_backend *new_backend(struct osr_registry *reg)
{
    struct osr_local_backend_opts o = {
        .reg = reg, .n_threads = 1, .n_ctx_max = 256, .load_hook = load_hook, .load_hook_arg = &hs};
    return osr_local_backend_new(&o);
}

static bool loaded_has(struct osr_chat_backend *b, const char *id)
{
    struct json_object *arr = json_object_new_array();
    osr_local_backend_loaded(b, arr);
    bool found = false;
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        struct json_object *o = json_object_array_get_idx(arr, i), *n;
        if (json_object_object_get_ex(o, "name", &n) && strcmp(json_object_get_string(n), id) == 0)
            found = true;
    }
    json_object_put(arr);
    return found;
}

static struct osr_registry *setup(void)
{
    const char *td = getenv("OSR_TESTDATA");
    char model[1024];
    snprintf(model, sizeof(model), "%s/llama-2-tiny-random.gguf", td ? td : "");
    if (!td || access(model, R_OK) != 0) {
        printf("skipping: llama-2-tiny-random.gguf is not available\n");
        skip = 1;
        return NULL;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(home, sizeof(home), "%s/osr-load-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(home))
        return NULL;
    char dir[320];
    snprintf(dir, sizeof(dir), "%s/models", home);
    if (mkdir(dir, 0700) != 0)
        return NULL;
    struct osr_gguf *g = NULL;
    if (osr_gguf_open(model, &g, NULL) != OSR_OK)
        return NULL;
    char parts[1][512], prefix[400];
    struct splitter_opts fast = {.n_parts = 1, .name = "Fast Model"};
    struct splitter_opts slow = {.n_parts = 1, .name = "Slow Model"};
    snprintf(prefix, sizeof(prefix), "%s/fast", dir);
    int rc = splitter_write(g, &fast, prefix, parts);
    snprintf(prefix, sizeof(prefix), "%s/slow", dir);
    rc = rc ? rc : splitter_write(g, &slow, prefix, parts);
    osr_gguf_close(g);
    if (rc)
        return NULL;
    struct osr_registry_options ro = {
        .home = home, .no_env_dirs = true, .no_ollama = true, .no_hf = true};
    return osr_registry_new(&ro);
}

static struct osr_registry *reg;

static void test_setup(void)
{
    reg = setup();
    CHECK(skip || reg != NULL);
    if (!reg)
        return;
    struct osr_registry_snapshot *s = osr_registry_acquire(reg, 0);
    CHECK(osr_registry_find(s, "fast-model") != NULL);
    CHECK(osr_registry_find(s, "slow-model") != NULL);
    osr_registry_snapshot_release(s);
}

static void test_other_model_served_while_loading(void)
{
    if (!reg)
        return;
    hook_reset(false);
    struct osr_chat_backend *b = new_backend(reg);
    struct req slow1, slow2;
    start(&slow1, b, "slow-model");
    REQUIRE(wait_in_slow());
    start(&slow2, b, "slow-model");
    /* the fast model loads and answers while the slow one is held in its load */
    struct req f = {.b = b, .model = "fast-model"};
    embed_thread(&f);
    CHECK_INT_EQ(f.rc, OSR_OK);
    CHECK(f.dim > 0);
    CHECK(!atomic_load(&slow1.done));
    CHECK(!atomic_load(&slow2.done));
    CHECK(loaded_has(b, "fast-model"));
    CHECK(!loaded_has(b, "slow-model")); /* still loading */
    hook_go();
    pthread_join(slow1.th, NULL);
    pthread_join(slow2.th, NULL);
    CHECK_INT_EQ(slow1.rc, OSR_OK);
    CHECK_INT_EQ(slow2.rc, OSR_OK);
    CHECK_INT_EQ(slow1.dim, f.dim);
    CHECK_INT_EQ(slow2.dim, f.dim);
    CHECK_INT_EQ(hs.slow_calls, 1); /* one load for both requests */
    CHECK_INT_EQ(hs.fast_calls, 1);
    CHECK(loaded_has(b, "slow-model"));
    b->ops->free(b);
}

static void test_failed_load_shared(void)
{
    if (!reg)
        return;
    hook_reset(true);
    struct osr_chat_backend *b = new_backend(reg);
    struct req slow1, slow2;
    start(&slow1, b, "slow-model");
    REQUIRE(wait_in_slow());
    start(&slow2, b, "slow-model");
    osr_sleep_ms(300); /* let the second request reach its wait */
    hook_go();
    pthread_join(slow1.th, NULL);
    pthread_join(slow2.th, NULL);
    CHECK_INT_EQ(slow1.rc, OSR_EIO);
    CHECK_INT_EQ(slow2.rc, OSR_EIO);
    CHECK(strstr(slow1.msg, "injected load failure") != NULL);
    CHECK(strstr(slow2.msg, "injected load failure") != NULL);
    CHECK_INT_EQ(hs.slow_calls, 1);
    CHECK(!loaded_has(b, "slow-model"));
    /* the next request loads afresh */
    struct req again = {.b = b, .model = "slow-model"};
    embed_thread(&again);
    CHECK_INT_EQ(again.rc, OSR_OK);
    CHECK_INT_EQ(hs.slow_calls, 2);
    CHECK(loaded_has(b, "slow-model"));
    b->ops->free(b);
}

/* The original's "Strict (One Model)": loading a model unloads the idle others;
 * "Flexible (Multi Model)" keeps them. */
static void test_eviction_policy(void)
{
    if (!reg)
        return;
    hook_reset(false);
    hook_go();
    for (int single = 0; single <= 1; single++) {
        struct osr_local_backend_opts o = {.reg = reg,
                                           .n_threads = 1,
                                           .n_ctx_max = 256,
                                           .single_model = single,
                                           .load_hook = load_hook,
                                           .load_hook_arg = &hs};
        struct osr_chat_backend *b = osr_local_backend_new(&o);
        struct req f = {.b = b, .model = "fast-model"}, s = {.b = b, .model = "slow-model"};
        embed_thread(&f);
        CHECK_INT_EQ(f.rc, OSR_OK);
        embed_thread(&s);
        CHECK_INT_EQ(s.rc, OSR_OK);
        CHECK(loaded_has(b, "slow-model"));
        CHECK(loaded_has(b, "fast-model") == !single);
        b->ops->free(b);
    }
    CHECK_INT_EQ(osr_model_policy_parse("Strict (One Model)"), 1);
    CHECK_INT_EQ(osr_model_policy_parse("flexible"), 0);
    CHECK_INT_EQ(osr_model_policy_parse("Flexible (Multi Model)"), 0);
    CHECK_INT_EQ(osr_model_policy_parse("lru"), -1);
}

static void cleanup(void)
{
    if (!reg)
        return;
    osr_registry_free(reg);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
    CHECK(system(cmd) == 0);
}

TEST_MAIN(test_setup, test_other_model_served_while_loading, test_failed_load_shared,
          test_eviction_policy, cleanup)
