/* test_tools.c - the schema validator (every keyword, valid and invalid), the Tool Contract
 * envelopes, the registry (policies, removal, threads) and the built-in tools. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "osr/json.h"
#include "osr/schema.h"
#include "osr/tools.h"

static struct json_object *parse(const char *s)
{
    struct json_object *o = NULL;
    if (osr_json_parse(s, strlen(s), &o, NULL) != OSR_OK)
        fprintf(stderr, "test json does not parse: %s\n", s);
    return o;
}

/* Validates inst against schema; returns the rc and leaves the error in *e. */
static int validate(const char *schema, const char *inst, struct osr_schema_error *e)
{
    struct json_object *s = parse(schema), *i = parse(inst);
    int rc = osr_schema_validate(s, i, e);
    json_object_put(s);
    json_object_put(i);
    return rc;
}

static void test_schema_type(void)
{
    struct osr_schema_error e;
    CHECK_INT_EQ(validate("{\"type\":\"integer\"}", "3", &e), OSR_OK);
    CHECK_INT_EQ(validate("{\"type\":\"integer\"}", "3.0", &e), OSR_OK);
    CHECK_INT_EQ(validate("{\"type\":\"integer\"}", "3.5", &e), OSR_EINVAL);
    CHECK_STR_EQ(e.expected, "integer");
    CHECK_STR_EQ(e.message, "'arguments' must be an integer");
    CHECK_INT_EQ(validate("{\"type\":\"number\"}", "3.5", &e), OSR_OK);
    CHECK_INT_EQ(validate("{\"type\":\"number\"}", "\"3\"", &e), OSR_EINVAL);
    CHECK_INT_EQ(validate("{\"type\":\"string\"}", "\"x\"", &e), OSR_OK);
    CHECK_INT_EQ(validate("{\"type\":\"boolean\"}", "0", &e), OSR_EINVAL);
    CHECK_INT_EQ(validate("{\"type\":\"null\"}", "null", &e), OSR_OK);
    CHECK_INT_EQ(validate("{\"type\":\"array\"}", "{}", &e), OSR_EINVAL);
    CHECK_INT_EQ(validate("{\"type\":[\"string\",\"null\"]}", "null", &e), OSR_OK);
    CHECK_INT_EQ(validate("{\"type\":[\"string\",\"null\"]}", "1", &e), OSR_EINVAL);
    CHECK_STR_EQ(e.expected, "string or null");
    CHECK_INT_EQ(validate("{\"type\":\"float\"}", "1", &e), OSR_ECONFIG);
    CHECK_INT_EQ(validate("{\"type\":7}", "1", &e), OSR_ECONFIG);
    CHECK_INT_EQ(validate("{}", "[1,{\"a\":null}]", &e), OSR_OK);
    CHECK_INT_EQ(validate("false", "1", &e), OSR_EINVAL);
}

static void test_schema_enum_const(void)
{
    struct osr_schema_error e;
    const char *s = "{\"enum\":[\"a\",\"b\",2]}";
    CHECK_INT_EQ(validate(s, "\"b\"", &e), OSR_OK);
    CHECK_INT_EQ(validate(s, "2.0", &e), OSR_OK);
    CHECK_INT_EQ(validate(s, "\"c\"", &e), OSR_EINVAL);
    CHECK_STR_EQ(e.expected, "one of: a, b, 2");
    CHECK_INT_EQ(validate("{\"const\":{\"x\":[1,2]}}", "{\"x\":[1,2]}", &e), OSR_OK);
    CHECK_INT_EQ(validate("{\"const\":{\"x\":[1,2]}}", "{\"x\":[2,1]}", &e), OSR_EINVAL);
    CHECK_INT_EQ(validate("{\"const\":true}", "true", &e), OSR_OK);
    CHECK_INT_EQ(validate("{\"const\":true}", "false", &e), OSR_EINVAL);
    CHECK_STR_EQ(e.expected, "true");
    CHECK_INT_EQ(validate("{\"enum\":\"a\"}", "\"a\"", &e), OSR_ECONFIG);
}

static void test_schema_numbers_strings_arrays(void)
{
    struct osr_schema_error e;
    const char *n = "{\"type\":\"number\",\"minimum\":1,\"maximum\":10}";
    CHECK_INT_EQ(validate(n, "1", &e), OSR_OK);
    CHECK_INT_EQ(validate(n, "10", &e), OSR_OK);
    CHECK_INT_EQ(validate(n, "0.5", &e), OSR_EINVAL);
    CHECK_STR_EQ(e.expected, "at least 1");
    CHECK_INT_EQ(validate(n, "11", &e), OSR_EINVAL);
    CHECK_STR_EQ(e.expected, "at most 10");
    CHECK_INT_EQ(validate("{\"exclusiveMinimum\":0}", "0", &e), OSR_EINVAL);
    CHECK_INT_EQ(validate("{\"exclusiveMaximum\":5}", "4.9", &e), OSR_OK);
    CHECK_INT_EQ(validate("{\"minimum\":\"1\"}", "4", &e), OSR_ECONFIG);
    const char *s = "{\"type\":\"string\",\"minLength\":2,\"maxLength\":3}";
    CHECK_INT_EQ(validate(s, "\"ab\"", &e), OSR_OK);
    CHECK_INT_EQ(validate(s, "\"\\u00e9\\u00e9\\u00e9\"", &e), OSR_OK); /* 3 code points, 6 bytes */
    CHECK_INT_EQ(validate(s, "\"a\"", &e), OSR_EINVAL);
    CHECK_INT_EQ(validate(s, "\"abcd\"", &e), OSR_EINVAL);
    CHECK_STR_EQ(e.expected, "at most 3 characters");
    CHECK_INT_EQ(validate("{\"minLength\":-1}", "\"a\"", &e), OSR_ECONFIG);
    const char *a =
        "{\"type\":\"array\",\"minItems\":1,\"maxItems\":2,\"items\":{\"type\":\"integer\"}}";
    CHECK_INT_EQ(validate(a, "[1,2]", &e), OSR_OK);
    CHECK_INT_EQ(validate(a, "[]", &e), OSR_EINVAL);
    CHECK_STR_EQ(e.expected, "at least 1 items");
    CHECK_INT_EQ(validate(a, "[1,2,3]", &e), OSR_EINVAL);
    CHECK_INT_EQ(validate(a, "[1,\"x\"]", &e), OSR_EINVAL);
    CHECK_STR_EQ(e.path, "[1]");
}

static void test_schema_objects(void)
{
    struct osr_schema_error e;
    const char *s = "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},"
                    "\"opts\":{\"type\":\"object\",\"properties\":{\"tags\":{\"type\":\"array\","
                    "\"items\":{\"type\":\"string\"}}},\"required\":[\"tags\"],"
                    "\"additionalProperties\":false}},\"required\":[\"name\"],"
                    "\"additionalProperties\":false}";
    CHECK_INT_EQ(validate(s, "{\"name\":\"x\",\"opts\":{\"tags\":[\"a\"]}}", &e), OSR_OK);
    CHECK_INT_EQ(validate(s, "{}", &e), OSR_EINVAL);
    CHECK_STR_EQ(e.path, "name");
    CHECK_STR_EQ(e.expected, "string");
    CHECK_STR_EQ(e.message, "'name' is required");
    CHECK_INT_EQ(validate(s, "{\"name\":\"x\",\"extra\":1}", &e), OSR_EINVAL);
    CHECK_STR_EQ(e.path, "extra");
    CHECK_INT_EQ(validate(s, "{\"name\":\"x\",\"opts\":{}}", &e), OSR_EINVAL);
    CHECK_STR_EQ(e.path, "opts.tags");
    CHECK_INT_EQ(validate(s, "{\"name\":\"x\",\"opts\":{\"tags\":[\"a\",3]}}", &e), OSR_EINVAL);
    CHECK_STR_EQ(e.path, "opts.tags[1]");
    CHECK_STR_EQ(e.message, "'opts.tags[1]' must be a string");
    CHECK_INT_EQ(validate(s, "{\"name\":\"x\",\"opts\":{\"tags\":[],\"z\":0}}", &e), OSR_EINVAL);
    CHECK_STR_EQ(e.path, "opts.z");
    /* additionalProperties as a schema */
    const char *m = "{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}";
    CHECK_INT_EQ(validate(m, "{\"a\":1,\"b\":2}", &e), OSR_OK);
    CHECK_INT_EQ(validate(m, "{\"a\":1,\"b\":\"2\"}", &e), OSR_EINVAL);
    CHECK_STR_EQ(e.path, "b");
    CHECK_INT_EQ(validate("{\"required\":\"a\"}", "{}", &e), OSR_ECONFIG);
    CHECK_INT_EQ(validate("{\"properties\":[]}", "{}", &e), OSR_ECONFIG);
    /* Too deep: 40 nested arrays against a recursive-looking schema chain. */
    struct osr_buf di, ds;
    osr_buf_init(&di, 4096);
    osr_buf_init(&ds, 4096);
    for (int i = 0; i < 40; i++) {
        osr_buf_putc(&di, '[');
        osr_buf_puts(&ds, "{\"items\":");
    }
    osr_buf_puts(&ds, "{}");
    for (int i = 0; i < 40; i++) {
        osr_buf_putc(&di, ']');
        osr_buf_putc(&ds, '}');
    }
    const char *deep_inst = osr_buf_str(&di), *deep_schema = osr_buf_str(&ds);
    CHECK_INT_EQ(validate(deep_schema, deep_inst, &e), OSR_EINVAL);
    CHECK(strstr(e.message, "nested too deeply") != NULL);
    osr_buf_release(&di);
    osr_buf_release(&ds);
}

static void test_envelopes(void)
{
    struct json_object *ok =
        osr_tool_envelope_ok("t", json_object_new_int(5), json_object_new_array());
    CHECK_STR_EQ(json_object_to_json_string_ext(ok, JSON_C_TO_STRING_PLAIN),
                 "{\"ok\":true,\"tool\":\"t\",\"result\":5}");
    CHECK(osr_tool_envelope_is_ok(ok));
    json_object_put(ok);
    struct json_object *w = json_object_new_array();
    json_object_array_add(w, json_object_new_string("careful"));
    ok = osr_tool_envelope_ok(NULL, NULL, w);
    CHECK_STR_EQ(json_object_to_json_string_ext(ok, JSON_C_TO_STRING_PLAIN),
                 "{\"ok\":true,\"result\":null,\"warnings\":[\"careful\"]}");
    json_object_put(ok);
    struct json_object *er =
        osr_tool_envelope_error("t", OSR_TOOL_INVALID_ARGS, "'a' is required", "a", "string");
    CHECK_STR_EQ(json_object_to_json_string_ext(er, JSON_C_TO_STRING_PLAIN),
                 "{\"ok\":false,\"kind\":\"invalid_args\",\"message\":\"'a' is required\","
                 "\"field\":\"a\",\"expected\":\"string\",\"tool\":\"t\",\"retryable\":true}");
    CHECK(!osr_tool_envelope_is_ok(er));
    json_object_put(er);
    /* The seven kinds and their default retryability. */
    static const struct {
        const char *name;
        bool retry;
    } kinds[] = {{"invalid_args", true},   {"rejected", false},       {"user_denied", false},
                 {"timeout", true},        {"execution_error", true}, {"unavailable", true},
                 {"tool_not_found", false}};
    for (size_t i = 0; i < 7; i++) {
        enum osr_tool_error_kind k;
        REQUIRE(osr_tool_kind_parse(kinds[i].name, &k) == OSR_OK);
        CHECK_STR_EQ(osr_tool_kind_name(k), kinds[i].name);
        CHECK_INT_EQ(osr_tool_kind_retryable(k), kinds[i].retry);
    }
    enum osr_tool_error_kind k;
    CHECK_INT_EQ(osr_tool_kind_parse("nope", &k), OSR_EINVAL);
}

static int freed;
static void count_free(void *ctx)
{
    (void)ctx;
    freed++;
}
static void echo_fn(void *ctx, struct json_object *args, struct osr_tool_out *out)
{
    (void)ctx;
    struct json_object *v = NULL;
    json_object_object_get_ex(args, "v", &v);
    if (v && json_object_is_type(v, json_type_string) &&
        strcmp(json_object_get_string(v), "boom") == 0) {
        osr_tool_out_fail(out, OSR_TOOL_TIMEOUT, NULL, NULL, "took %d s", 3);
        return;
    }
    out->result = json_object_get(v);
    osr_tool_out_warn(out, "echoed");
}
static bool say_no(void *ctx, const char *tool, struct json_object *args)
{
    (void)ctx;
    (void)tool;
    (void)args;
    return false;
}
static bool say_yes(void *ctx, const char *tool, struct json_object *args)
{
    (void)ctx;
    (void)args;
    return strcmp(tool, "echo") == 0;
}

static const char *call_str(struct osr_tools *reg, const char *name, const char *args,
                            const struct osr_tool_call_opts *opts, char *out, size_t cap)
{
    struct json_object *a = args ? parse(args) : NULL;
    struct json_object *env = osr_tools_call(reg, name, a, opts);
    snprintf(out, cap, "%s", json_object_to_json_string_ext(env, JSON_C_TO_STRING_PLAIN));
    json_object_put(env);
    json_object_put(a);
    return out;
}

static void test_registry(void)
{
    struct osr_tools *reg = osr_tools_new();
    struct osr_tool_def d = {.name = "echo",
                             .description = "echo v",
                             .input_schema = "{\"type\":\"object\",\"properties\":{\"v\":{}},"
                                             "\"additionalProperties\":false}",
                             .policy = OSR_TOOL_POLICY_AUTO,
                             .fn = echo_fn,
                             .ctx_free = count_free};
    struct osr_diag diag;
    freed = 0;
    REQUIRE(osr_tools_add(reg, &d, &diag) == OSR_OK);
    CHECK_INT_EQ(osr_tools_add(reg, &d, &diag), OSR_EEXIST);
    CHECK_INT_EQ(freed, 0);
    struct osr_tool_def bad = d;
    bad.name = "no spaces";
    CHECK_INT_EQ(osr_tools_add(reg, &bad, &diag), OSR_EINVAL);
    bad.name = "bad_schema";
    bad.input_schema = "{\"type\":\"string\"}";
    CHECK_INT_EQ(osr_tools_add(reg, &bad, &diag), OSR_EINVAL);
    bad.input_schema = "{\"type\":\"object\",\"required\":5}";
    CHECK_INT_EQ(osr_tools_add(reg, &bad, &diag), OSR_EINVAL);
    bad.input_schema = "{\"type\":\"object\"";
    CHECK_INT_EQ(osr_tools_add(reg, &bad, &diag), OSR_EINVAL);
    REQUIRE(osr_tools_add_builtins(reg, &diag) == OSR_OK);
    CHECK_INT_EQ(osr_tools_count(reg), 3);

    char buf[1024];
    CHECK_STR_EQ(call_str(reg, "echo", "{\"v\":[1]}", NULL, buf, sizeof(buf)),
                 "{\"ok\":true,\"tool\":\"echo\",\"result\":[1],\"warnings\":[\"echoed\"]}");
    CHECK_STR_EQ(call_str(reg, "echo", NULL, NULL, buf, sizeof(buf)),
                 "{\"ok\":true,\"tool\":\"echo\",\"result\":null,\"warnings\":[\"echoed\"]}");
    CHECK_STR_EQ(call_str(reg, "echo", "{\"w\":1}", NULL, buf, sizeof(buf)),
                 "{\"ok\":false,\"kind\":\"invalid_args\",\"message\":\"'w' is not an accepted "
                 "property\",\"field\":\"w\",\"expected\":\"no such property\",\"tool\":\"echo\","
                 "\"retryable\":true}");
    CHECK(strstr(call_str(reg, "echo", "[1]", NULL, buf, sizeof(buf)),
                 "\"kind\":\"invalid_args\"") != NULL);
    CHECK_STR_EQ(call_str(reg, "echo", "{\"v\":\"boom\"}", NULL, buf, sizeof(buf)),
                 "{\"ok\":false,\"kind\":\"timeout\",\"message\":\"took 3 s\",\"tool\":\"echo\","
                 "\"retryable\":true}");
    CHECK_STR_EQ(call_str(reg, "nope", "{}", NULL, buf, sizeof(buf)),
                 "{\"ok\":false,\"kind\":\"tool_not_found\",\"message\":\"no tool named 'nope'\","
                 "\"retryable\":false}");

    /* Policies. */
    REQUIRE(osr_tools_set_policy(reg, "echo", OSR_TOOL_POLICY_ASK) == OSR_OK);
    CHECK(strstr(call_str(reg, "echo", "{}", NULL, buf, sizeof(buf)), "\"kind\":\"rejected\"") !=
          NULL);
    struct osr_tool_call_opts no = {.approve = say_no}, yes = {.approve = say_yes};
    CHECK(strstr(call_str(reg, "echo", "{}", &no, buf, sizeof(buf)), "\"kind\":\"user_denied\"") !=
          NULL);
    CHECK(strstr(call_str(reg, "echo", "{}", &yes, buf, sizeof(buf)), "\"ok\":true") != NULL);
    REQUIRE(osr_tools_set_policy(reg, "echo", OSR_TOOL_POLICY_DENY) == OSR_OK);
    CHECK(strstr(call_str(reg, "echo", "{}", &yes, buf, sizeof(buf)), "\"kind\":\"rejected\"") !=
          NULL);
    struct json_object *list = osr_tools_list(reg, false);
    CHECK_INT_EQ(json_object_array_length(list), 2); /* denied tools are not listed */
    CHECK_STR_EQ(
        json_object_get_string(json_object_object_get(json_object_array_get_idx(list, 0), "name")),
        "calculator");
    json_object_put(list);
    list = osr_tools_list(reg, true);
    CHECK_INT_EQ(json_object_array_length(list), 3);
    json_object_put(list);
    REQUIRE(osr_tools_set_policy(reg, "echo", OSR_TOOL_POLICY_AUTO) == OSR_OK);
    REQUIRE(osr_tools_set_enabled(reg, "echo", false) == OSR_OK);
    CHECK(strstr(call_str(reg, "echo", "{}", NULL, buf, sizeof(buf)), "tool_not_found") != NULL);
    CHECK_INT_EQ(osr_tools_set_enabled(reg, "zzz", true), OSR_ENOTFOUND);

    CHECK_INT_EQ(osr_tools_remove(reg, "echo"), OSR_OK);
    CHECK_INT_EQ(freed, 1);
    CHECK_INT_EQ(osr_tools_remove(reg, "echo"), OSR_ENOTFOUND);
    osr_tools_free(reg);
}

static void test_calculator(void)
{
    static const struct {
        const char *expr;
        double want;
    } good[] = {{"1+2", 3},         {"2*3+4", 10}, {"2*(3+4)", 14}, {"-2^2", -4},
                {"2^3^2", 512},     {"2^-1", 0.5}, {"7%3", 1},      {"--3", 3},
                {" 1.5e1 / 3 ", 5}, {".5+.5", 1},  {"(((1)))", 1},  {"10-2-3", 5},
                {"-(2+3)*+2", -10}, {"8/4/2", 1}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        double v = -1;
        struct osr_diag d;
        int rc = osr_calc_eval(good[i].expr, strlen(good[i].expr), &v, &d);
        CHECK_INT_EQ(rc, OSR_OK);
        if (rc != OSR_OK || v != good[i].want)
            fprintf(stderr, "  calc '%s' = %g (rc %d), want %g\n", good[i].expr, v, rc,
                    good[i].want);
        CHECK(v == good[i].want);
    }
    static const struct {
        const char *expr;
        int rc;
    } bad[] = {{"", OSR_EINVAL},    {"1+", OSR_EINVAL},  {"(1", OSR_EINVAL},
               {"1)", OSR_EINVAL},  {"a", OSR_EINVAL},   {"1 2", OSR_EINVAL},
               {"1/0", OSR_EPROTO}, {"5%0", OSR_EPROTO}, {"10^400", OSR_EPROTO},
               {"2**3", OSR_EINVAL}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        double v = 0;
        struct osr_diag d;
        osr_diag_clear(&d);
        CHECK_INT_EQ(osr_calc_eval(bad[i].expr, strlen(bad[i].expr), &v, &d), bad[i].rc);
        CHECK(d.msg[0] != '\0');
    }
    char deep[300];
    memset(deep, '(', 200);
    deep[200] = '1';
    memset(deep + 201, ')', 98);
    deep[299] = '\0';
    double v;
    CHECK_INT_EQ(osr_calc_eval(deep, strlen(deep), &v, NULL), OSR_EINVAL);
    memset(deep, '-', 299);
    CHECK_INT_EQ(osr_calc_eval(deep, 299, &v, NULL), OSR_EINVAL);

    struct osr_tools *reg = osr_tools_new();
    REQUIRE(osr_tools_add_builtins(reg, NULL) == OSR_OK);
    char buf[1024];
    CHECK_STR_EQ(
        call_str(reg, "calculator", "{\"expression\":\"(2+3)*4^2\"}", NULL, buf, sizeof(buf)),
        "{\"ok\":true,\"tool\":\"calculator\",\"result\":{\"expression\":\"(2+3)*4^2\","
        "\"value\":80,\"text\":\"80\"}}");
    CHECK(strstr(call_str(reg, "calculator", "{\"expression\":\"1/0\"}", NULL, buf, sizeof(buf)),
                 "\"kind\":\"execution_error\",\"message\":\"division by zero\"") != NULL);
    CHECK(strstr(call_str(reg, "calculator", "{\"expression\":\"1+\"}", NULL, buf, sizeof(buf)),
                 "\"field\":\"expression\"") != NULL);
    CHECK(strstr(call_str(reg, "calculator", "{}", NULL, buf, sizeof(buf)),
                 "\"message\":\"'expression' is required\",\"field\":\"expression\"") != NULL);
    CHECK(strstr(call_str(reg, "calculator", "{\"expression\":7}", NULL, buf, sizeof(buf)),
                 "\"field\":\"expression\",\"expected\":\"string\"") != NULL);
    osr_tools_free(reg);
}

static void test_current_time(void)
{
    struct osr_tools *reg = osr_tools_new();
    REQUIRE(osr_tools_add_builtins(reg, NULL) == OSR_OK);
    struct json_object *env = osr_tools_call(reg, "current_time", NULL, NULL);
    REQUIRE(osr_tool_envelope_is_ok(env));
    struct json_object *res = json_object_object_get(env, "result");
    const char *iso = json_object_get_string(json_object_object_get(res, "iso8601"));
    REQUIRE(iso != NULL);
    CHECK_INT_EQ(strlen(iso), 20);
    CHECK(iso[19] == 'Z' && iso[10] == 'T');
    json_object_put(env);
    struct json_object *a = parse("{\"timezone\":\"+05:30\"}");
    env = osr_tools_call(reg, "current_time", a, NULL);
    json_object_put(a);
    REQUIRE(osr_tool_envelope_is_ok(env));
    res = json_object_object_get(env, "result");
    iso = json_object_get_string(json_object_object_get(res, "iso8601"));
    CHECK(iso && strlen(iso) == 25 && strcmp(iso + 19, "+05:30") == 0);
    CHECK_INT_EQ(json_object_get_int(json_object_object_get(res, "utc_offset_minutes")), 330);
    json_object_put(env);
    static const char *const zones[] = {"UTC-8", "GMT", "-0800", "Z", "+14"};
    static const int mins[] = {-480, 0, -480, 0, 840};
    for (int i = 0; i < 5; i++) {
        char args[64];
        snprintf(args, sizeof(args), "{\"timezone\":\"%s\"}", zones[i]);
        a = parse(args);
        env = osr_tools_call(reg, "current_time", a, NULL);
        json_object_put(a);
        CHECK(osr_tool_envelope_is_ok(env));
        CHECK_INT_EQ(json_object_get_int(json_object_object_get(
                         json_object_object_get(env, "result"), "utc_offset_minutes")),
                     mins[i]);
        json_object_put(env);
    }
    a = parse("{\"timezone\":\"UTC\"}");
    env = osr_tools_call(reg, "current_time", a, NULL);
    json_object_put(a);
    CHECK(osr_tool_envelope_is_ok(env));
    json_object_put(env);
    a = parse("{\"timezone\":\"Asia/Kolkata\"}");
    env = osr_tools_call(reg, "current_time", a, NULL);
    json_object_put(a);
    if (osr_tool_envelope_is_ok(env)) {
        res = json_object_object_get(env, "result");
        CHECK_INT_EQ(json_object_get_int(json_object_object_get(res, "utc_offset_minutes")), 330);
        CHECK_STR_EQ(json_object_get_string(json_object_object_get(res, "abbreviation")), "IST");
    } else {
        printf("skipping: no zoneinfo for Asia/Kolkata\n");
    }
    json_object_put(env);
    a = parse("{\"timezone\":\"../../etc/passwd\"}");
    env = osr_tools_call(reg, "current_time", a, NULL);
    json_object_put(a);
    CHECK_STR_EQ(json_object_get_string(json_object_object_get(env, "kind")), "invalid_args");
    json_object_put(env);
    a = parse("{\"timezone\":\"Mars/Olympus\"}");
    env = osr_tools_call(reg, "current_time", a, NULL);
    json_object_put(a);
    CHECK_STR_EQ(json_object_get_string(json_object_object_get(env, "kind")), "invalid_args");
    CHECK_STR_EQ(json_object_get_string(json_object_object_get(env, "field")), "timezone");
    json_object_put(env);
    osr_tools_free(reg);
}

struct race {
    struct osr_tools *reg;
    int ok;
};
static void *race_caller(void *p)
{
    struct race *r = p;
    struct json_object *a = parse("{\"expression\":\"6*7\"}");
    for (int i = 0; i < 300; i++) {
        struct json_object *env = osr_tools_call(r->reg, i % 2 ? "calculator" : "echo2", a, NULL);
        if (osr_tool_envelope_is_ok(env) || i % 2 == 0)
            r->ok++;
        json_object_put(env);
        struct json_object *l = osr_tools_list(r->reg, false);
        json_object_put(l);
    }
    json_object_put(a);
    return NULL;
}

static void test_threads(void)
{
    struct osr_tools *reg = osr_tools_new();
    REQUIRE(osr_tools_add_builtins(reg, NULL) == OSR_OK);
    struct race r[3] = {{reg, 0}, {reg, 0}, {reg, 0}};
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, race_caller, &r[i]);
    struct osr_tool_def d = {.name = "echo2", .fn = echo_fn};
    for (int i = 0; i < 200; i++) {
        osr_tools_add(reg, &d, NULL);
        osr_tools_remove(reg, "echo2");
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT_EQ(r[i].ok, 300);
    }
    osr_tools_free(reg);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fputs(text, f);
    fclose(f);
}

static void test_tools_json(void)
{
    const char *tmp = getenv("TMPDIR");
    char home[256], cfg[300], file[340];
    snprintf(home, sizeof(home), "%s/osr-tools-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE(mkdtemp(home) != NULL);
    snprintf(cfg, sizeof(cfg), "%s/config", home);
    REQUIRE(mkdir(cfg, 0700) == 0);
    snprintf(file, sizeof(file), "%s/tools.json", cfg);

    struct osr_tools *reg = osr_tools_new();
    struct osr_diag d;
    CHECK_INT_EQ(osr_tools_load_config(reg, home, &d), OSR_OK); /* no file yet */
    REQUIRE(osr_tools_add_builtins(reg, NULL) == OSR_OK);
    write_text(file, "{\"enabled\":{\"calculator\":false},\"policy\":{\"current_time\":\"deny\","
                     "\"later_tool\":\"auto\"},\"grants\":{\"x\":{\"net\":true}}}");
    CHECK_INT_EQ(osr_tools_load_config(reg, home, &d), OSR_OK);
    struct json_object *list = osr_tools_list(reg, false);
    CHECK_INT_EQ(json_object_array_length(list), 0);
    json_object_put(list);
    char buf[512];
    CHECK(strstr(call_str(reg, "calculator", "{\"expression\":\"1\"}", NULL, buf, sizeof(buf)),
                 "tool_not_found") != NULL);
    CHECK(strstr(call_str(reg, "current_time", "{}", NULL, buf, sizeof(buf)),
                 "\"kind\":\"rejected\"") != NULL);
    /* A tool added later picks up its override: "ask" becomes "auto". */
    struct osr_tool_def later = {
        .name = "later_tool", .policy = OSR_TOOL_POLICY_ASK, .fn = echo_fn};
    REQUIRE(osr_tools_add(reg, &later, NULL) == OSR_OK);
    CHECK(strstr(call_str(reg, "later_tool", "{}", NULL, buf, sizeof(buf)), "\"ok\":true") != NULL);

    /* Malformed files are refused and change nothing. */
    static const char *const bad[] = {"[1]", "{\"enabled\":{\"a\":1}}",
                                      "{\"policy\":{\"a\":\"sometimes\"}}", "{\"policy\":[]}",
                                      "{nope"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_text(file, bad[i]);
        osr_diag_clear(&d);
        CHECK_INT_EQ(osr_tools_load_config(reg, home, &d), OSR_ECONFIG);
        CHECK(d.msg[0] != '\0');
    }
    CHECK(strstr(call_str(reg, "later_tool", "{}", NULL, buf, sizeof(buf)), "\"ok\":true") != NULL);
    osr_tools_free(reg);
    unlink(file);
    rmdir(cfg);
    rmdir(home);
}

static void saw_cancel_fn(void *ctx, struct json_object *args, struct osr_tool_out *out)
{
    (void)ctx;
    (void)args;
    out->result = json_object_new_boolean(osr_tool_cancelled());
}

static bool always(void *ctx)
{
    return ctx != NULL;
}

static void test_cancelled(void)
{
    struct osr_tools *reg = osr_tools_new();
    struct osr_tool_def def = {.name = "probe", .fn = saw_cancel_fn};
    REQUIRE(osr_tools_add(reg, &def, NULL) == OSR_OK);
    int flag = 1;
    struct osr_tool_call_opts yes = {.cancelled = always, .cancel_ctx = &flag};
    struct osr_tool_call_opts no = {.cancelled = always, .cancel_ctx = NULL};
    struct json_object *e = osr_tools_call(reg, "probe", NULL, &yes);
    CHECK(json_object_get_boolean(json_object_object_get(e, "result")));
    json_object_put(e);
    e = osr_tools_call(reg, "probe", NULL, &no);
    CHECK(!json_object_get_boolean(json_object_object_get(e, "result")));
    json_object_put(e);
    e = osr_tools_call(reg, "probe", NULL, NULL);
    CHECK(!json_object_get_boolean(json_object_object_get(e, "result")));
    json_object_put(e);
    CHECK(!osr_tool_cancelled()); /* outside a call */
    osr_tools_free(reg);
}

TEST_MAIN(test_schema_type, test_schema_enum_const, test_schema_numbers_strings_arrays,
          test_schema_objects, test_envelopes, test_registry, test_calculator, test_current_time,
          test_threads, test_tools_json, test_cancelled)
