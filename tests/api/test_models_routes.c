/* test_models_routes.c - the model routes over real loopback HTTP against the fake machine of
 * chat/model_fixture.h: OpenAI's list, Ollama's tags/show/ps/delete/copy/pull with the shapes
 * the official ollama-js client reads, errors as {"error":"<string>"}. */
#include <stdlib.h>

#include "check.h"
#include "chat/model_fixture.h"
#include "net/http_test_client.h"
#include "osr/api_models.h"
#include "osr/http_server.h"
#include "osr/json.h"
#include "osr/log.h"

static struct osr_http_server *srv;
static struct osr_server_config cfg;
static struct osr_registry *reg;
static struct osr_api_models api;
static char base[64];
static bool skipped;
static int remote_calls;

static void remote_hook(struct json_object *data, void *ctx)
{
    (void)ctx;
    remote_calls++;
    struct json_object *e = json_object_new_object();
    json_object_object_add(e, "id", json_object_new_string("provider/remote-model"));
    json_object_object_add(e, "object", json_object_new_string("model"));
    json_object_array_add(data, e);
}

static void remote_tags_hook(struct json_object *models, void *ctx)
{
    (void)ctx;
    json_object_array_add(models, osr_api_models_remote_tag("provider/remote-model", 1700000000,
                                                            "provider"));
}

static struct json_object *req_json(const char *method, const char *path, const char *body,
                                    long *status)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", base, path);
    struct test_resp r = test_request(NULL, method, url, body, body ? strlen(body) : 0, NULL);
    *status = r.status;
    struct json_object *o = NULL;
    if (r.body.len && osr_json_parse(osr_buf_str(&r.body), r.body.len, &o, NULL) != OSR_OK) {
        fprintf(stderr, "not JSON: %s\n", osr_buf_str(&r.body));
        o = NULL;
    }
    test_resp_release(&r);
    return o;
}

static struct json_object *find_entry(struct json_object *arr, const char *key, const char *val)
{
    for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
        struct json_object *e = json_object_array_get_idx(arr, i), *v;
        if (json_object_object_get_ex(e, key, &v) && strcmp(json_object_get_string(v), val) == 0)
            return e;
    }
    return NULL;
}

static const char *str_at(struct json_object *o, const char *key)
{
    struct json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static struct json_object *get_at(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    if (o)
        json_object_object_get_ex(o, key, &v);
    return v;
}

static void test_openai_models(void)
{
    long st;
    struct json_object *o = req_json("GET", "/v1/models", NULL, &st);
    CHECK_INT_EQ(st, 200);
    REQUIRE(o);
    CHECK_STR_EQ(str_at(o, "object"), "list");
    struct json_object *data = get_at(o, "data");
    REQUIRE(data && json_object_is_type(data, json_type_array));
    CHECK_INT_EQ(json_object_array_length(data), 8 + 1);
    struct json_object *e = find_entry(data, "id", "llama-v2");
    REQUIRE(e);
    CHECK_STR_EQ(str_at(e, "object"), "model");
    CHECK_STR_EQ(str_at(e, "owned_by"), "osaurus");
    char p[600];
    snprintf(p, sizeof(p), "%s/llama-2-tiny-random.gguf", fx.store);
    struct stat sb;
    REQUIRE(stat(p, &sb) == 0);
    CHECK_INT_EQ(json_object_get_int64(get_at(e, "created")), (int64_t)sb.st_mtime);
    CHECK(find_entry(data, "id", "tiny:latest") != NULL);
    CHECK(find_entry(data, "id", "hf-model") != NULL);
    CHECK(find_entry(data, "id", "thing") != NULL);
    /* Remote providers come last, through the hook. */
    struct json_object *last = json_object_array_get_idx(data, json_object_array_length(data) - 1);
    CHECK_STR_EQ(str_at(last, "id"), "provider/remote-model");
    CHECK(remote_calls > 0);
    json_object_put(o);
}

static void test_tags(void)
{
    long st;
    struct json_object *o = req_json("GET", "/api/tags", NULL, &st);
    CHECK_INT_EQ(st, 200);
    struct json_object *models = get_at(o, "models");
    REQUIRE(models && json_object_array_length(models) == 9);
    /* Remote providers come last, through their hook, in Ollama's shape. */
    struct json_object *rm = json_object_array_get_idx(models, 8);
    CHECK_STR_EQ(str_at(rm, "name"), "provider/remote-model");
    CHECK_STR_EQ(str_at(rm, "modified_at"), "2023-11-14T22:13:20Z");
    CHECK_STR_EQ(str_at(get_at(rm, "details"), "format"), "remote");
    CHECK_INT_EQ(json_object_get_int64(get_at(rm, "created")), 1700000000);
    struct json_object *e = find_entry(models, "name", "tiny:latest");
    REQUIRE(e);
    CHECK_STR_EQ(str_at(e, "model"), "tiny:latest");
    CHECK_INT_EQ(json_object_get_int64(get_at(e, "size")), 5157184);
    CHECK_STR_EQ(str_at(e, "digest"), FIXTURE_Q8_0_SHA256);
    const char *mod = str_at(e, "modified_at");
    CHECK(mod && strlen(mod) == 20 && mod[10] == 'T' && mod[19] == 'Z');
    struct json_object *d = get_at(e, "details");
    REQUIRE(d);
    CHECK_STR_EQ(str_at(d, "format"), "gguf");
    CHECK_STR_EQ(str_at(d, "family"), "llama");
    CHECK_STR_EQ(str_at(d, "parent_model"), "");
    CHECK_STR_EQ(str_at(d, "quantization_level"), "Q8_0");
    CHECK_STR_EQ(str_at(d, "parameter_size"), "4.2M");
    struct json_object *fams = get_at(d, "families");
    CHECK(fams && json_object_array_length(fams) == 1 &&
          strcmp(json_object_get_string(json_object_array_get_idx(fams, 0)), "llama") == 0);

    e = find_entry(models, "name", "hf-model");
    REQUIRE(e);
    CHECK_STR_EQ(str_at(e, "digest"), fx.hf_blob_hex);
    CHECK_STR_EQ(str_at(get_at(e, "details"), "quantization_level"), "Q4_K_M");
    CHECK_STR_EQ(str_at(get_at(e, "details"), "family"), "gemma2");
    json_object_put(o);

    /* Digests of plain files arrive once the background hashing is done. */
    CHECK_INT_EQ(osr_registry_wait_digests(reg, 20000), OSR_OK);
    o = req_json("GET", "/api/tags", NULL, &st);
    e = find_entry(get_at(o, "models"), "name", "synth-micro-q4_0");
    REQUIRE(e);
    CHECK_STR_EQ(str_at(e, "digest"), FIXTURE_Q4_0_SHA256);
    CHECK_INT_EQ(json_object_get_int64(get_at(e, "size")), 3072320);
    json_object_put(o);
}

static void test_show(void)
{
    long st;
    struct json_object *o = req_json("POST", "/api/show", "{\"model\":\"tiny\"}", &st);
    CHECK_INT_EQ(st, 200);
    REQUIRE(o);
    CHECK_STR_EQ(str_at(o, "template"), FIXTURE_TEMPLATE);
    CHECK_STR_EQ(str_at(o, "system"), FIXTURE_SYSTEM);
    CHECK_STR_EQ(str_at(o, "parameters"), "stop \"<|end|>\"\nstop \"<|user|>\"\ntemperature 0.7");
    const char *mf = str_at(o, "modelfile");
    CHECK(mf && strstr(mf, "FROM ") && strstr(mf, "PARAMETER temperature 0.7") &&
          strstr(mf, "TEMPLATE \"\"\""));
    struct json_object *info = get_at(o, "model_info");
    REQUIRE(info);
    CHECK_STR_EQ(str_at(info, "general.architecture"), "llama");
    CHECK_INT_EQ(json_object_get_int64(get_at(info, "llama.context_length")), 512);
    CHECK_INT_EQ(json_object_get_int64(get_at(info, "general.parameter_count")), 4170048);
    /* Vocabulary arrays are summarized as null, as Ollama does without verbose. */
    CHECK(json_object_object_get_ex(info, "tokenizer.ggml.tokens", NULL));
    CHECK(get_at(info, "tokenizer.ggml.tokens") == NULL);
    CHECK_STR_EQ(str_at(get_at(o, "details"), "quantization_level"), "Q8_0");
    struct json_object *caps = get_at(o, "capabilities");
    REQUIRE(caps);
    CHECK_INT_EQ(json_object_array_length(caps), 2);
    CHECK_STR_EQ(json_object_get_string(json_object_array_get_idx(caps, 0)), "completion");
    CHECK_STR_EQ(json_object_get_string(json_object_array_get_idx(caps, 1)), "tools");
    json_object_put(o);

    /* "name" also works; a GGUF template comes from tokenizer.chat_template. */
    o = req_json("POST", "/api/show", "{\"name\":\"thing\"}", &st);
    CHECK_INT_EQ(st, 200);
    const char *tmpl = str_at(o, "template");
    CHECK(tmpl && strstr(tmpl, "{% if tools %}") == tmpl);
    CHECK_STR_EQ(str_at(o, "parameters"), "");
    CHECK(get_at(o, "model_info") &&
          !json_object_object_get_ex(get_at(o, "model_info"), "tokenizer.chat_template", NULL));
    CHECK_INT_EQ(json_object_get_int64(get_at(get_at(o, "model_info"), "qwen2.context_length")),
                 32768);
    json_object_put(o);

    o = req_json("POST", "/api/show", "{\"model\":\"llama-v2\"}", &st);
    CHECK_INT_EQ(st, 200);
    CHECK_STR_EQ(str_at(o, "template"), "");
    caps = get_at(o, "capabilities");
    CHECK(caps && json_object_array_length(caps) == 1);
    json_object_put(o);

    /* float32 metadata is written as short as it reads back (1e-05, as Ollama shows). */
    char url[512];
    snprintf(url, sizeof(url), "%s/api/show", base);
    const char *body = "{\"model\":\"tiny\"}";
    struct test_resp raw = test_request(NULL, "POST", url, body, strlen(body), NULL);
    CHECK(strstr(osr_buf_str(&raw.body), "\"llama.attention.layer_norm_rms_epsilon\":1e-05,") !=
          NULL);
    test_resp_release(&raw);

    o = req_json("POST", "/api/show", "{\"model\":\"no-such-model\"}", &st);
    CHECK_INT_EQ(st, 404);
    CHECK_STR_EQ(str_at(o, "error"), "model 'no-such-model' not found");
    json_object_put(o);

    o = req_json("POST", "/api/show", "{\"model\": ", &st);
    CHECK_INT_EQ(st, 400);
    CHECK(str_at(o, "error") != NULL);
    json_object_put(o);

    o = req_json("POST", "/api/show", "{}", &st);
    CHECK_INT_EQ(st, 400);
    CHECK(str_at(o, "error") && strstr(str_at(o, "error"), "model"));
    json_object_put(o);

    o = req_json("POST", "/api/show", "{\"model\":5}", &st);
    CHECK_INT_EQ(st, 400);
    json_object_put(o);
}

static void test_ps_and_pull(void)
{
    long st;
    struct json_object *o = req_json("GET", "/api/ps", NULL, &st);
    CHECK_INT_EQ(st, 200);
    struct json_object *m = get_at(o, "models");
    CHECK(m && json_object_is_type(m, json_type_array) && json_object_array_length(m) == 0);
    json_object_put(o);

    o = req_json("POST", "/api/pull", "{\"model\":\"llama3.2\"}", &st);
    CHECK_INT_EQ(st, 501);
    CHECK(str_at(o, "error") && strstr(str_at(o, "error"), "osaurus models add"));
    json_object_put(o);
}

static void test_copy_and_delete(void)
{
    long st;
    struct json_object *o =
        req_json("POST", "/api/copy", "{\"source\":\"llama-v2\",\"destination\":\"my-copy\"}", &st);
    CHECK_INT_EQ(st, 200);
    json_object_put(o);
    o = req_json("GET", "/api/tags", NULL, &st);
    struct json_object *e = find_entry(get_at(o, "models"), "name", "my-copy");
    CHECK(e && json_object_get_int64(get_at(e, "size")) == FIXTURE_TINY_SIZE);
    json_object_put(o);

    o = req_json("POST", "/api/copy", "{\"source\":\"llama-v2\",\"destination\":\"my-copy\"}", &st);
    CHECK_INT_EQ(st, 400);
    json_object_put(o);
    o = req_json("POST", "/api/copy", "{\"source\":\"hf-model\",\"destination\":\"x\"}", &st);
    CHECK_INT_EQ(st, 403);
    CHECK(str_at(o, "error") && strstr(str_at(o, "error"), "Hugging Face"));
    json_object_put(o);
    o = req_json("POST", "/api/copy", "{\"source\":\"nope\",\"destination\":\"x\"}", &st);
    CHECK_INT_EQ(st, 404);
    json_object_put(o);

    o = req_json("DELETE", "/api/delete", "{\"model\":\"tiny:latest\"}", &st);
    CHECK_INT_EQ(st, 403);
    CHECK(str_at(o, "error") && strstr(str_at(o, "error"), "Ollama"));
    json_object_put(o);
    o = req_json("DELETE", "/api/delete", "{\"model\":\"nope\"}", &st);
    CHECK_INT_EQ(st, 404);
    CHECK_STR_EQ(str_at(o, "error"), "model 'nope' not found");
    json_object_put(o);

    o = req_json("DELETE", "/api/delete", "{\"model\":\"my-copy\"}", &st);
    CHECK_INT_EQ(st, 200);
    json_object_put(o);
    o = req_json("GET", "/api/tags", NULL, &st);
    CHECK(find_entry(get_at(o, "models"), "name", "my-copy") == NULL);
    CHECK(find_entry(get_at(o, "models"), "name", "llama-v2") != NULL); /* the source stays */
    json_object_put(o);
    char p[600];
    snprintf(p, sizeof(p), "%s/my-copy.gguf", fx.store);
    CHECK(access(p, F_OK) != 0);
}

static void test_setup(void)
{
    osr_log_set_level(OSR_LOG_ERROR);
    skipped = fixture_skip();
    if (skipped)
        return;
    make_fixture();
    reg = osr_registry_new(NULL);
    api.reg = reg;
    api.remote = remote_hook;
    api.remote_tags = remote_tags_hook;
    osr_server_config_defaults(&cfg);
    srv = osr_http_server_new(&cfg, 0);
    osr_api_models_register_with(srv, &api);
    struct osr_diag d;
    osr_diag_clear(&d);
    if (osr_http_server_start(srv, &d) != OSR_OK) {
        fprintf(stderr, "cannot start server: %s\n", d.msg);
        exit(1);
    }
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", osr_http_server_port(srv));
}

static void test_params_text(void)
{
    char *t = osr_api_models_params_text("{\"num_ctx\":4096,\"stop\":[\"a\\\"b\"],\"x\":true}");
    CHECK_STR_EQ(t, "num_ctx 4096\nstop \"a\\\"b\"\nx true");
    free(t);
    t = osr_api_models_params_text("not json");
    CHECK_STR_EQ(t, "");
    free(t);
    t = osr_api_models_params_text(NULL);
    CHECK_STR_EQ(t, "");
    free(t);
}

#define RUN(fn)                                                                                    \
    static void run_##fn(void)                                                                     \
    {                                                                                              \
        if (!skipped)                                                                              \
            fn();                                                                                  \
    }

RUN(test_openai_models)
RUN(test_tags)
RUN(test_show)
RUN(test_ps_and_pull)
RUN(test_copy_and_delete)

static void cleanup(void)
{
    if (srv)
        osr_http_server_free(srv);
    osr_server_config_release(&cfg);
    osr_registry_free(reg);
    remove_fixture();
}

TEST_MAIN(test_setup, test_params_text, run_test_openai_models, run_test_tags, run_test_show,
          run_test_ps_and_pull, run_test_copy_and_delete, cleanup)
