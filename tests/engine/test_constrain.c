/* test_constrain.c - the JSON automaton (valid and invalid texts, every prefix, agreement with
 * json-c on generated texts), constraint programs (names, literals, the end), and the mask on
 * real vocabularies from OSR_TESTDATA: every token it allows keeps the program valid, every
 * token it forbids would break it, and forced literals spell their text exactly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "osr/alloc.h"
#include "osr/clock.h"
#include "osr/config.h"
#include "osr/constrain.h"
#include "osr/gguf.h"
#include "osr/json.h"
#include "osr/jsonfsm.h"
#include "osr/str.h"
#include "osr/tokenizer.h"

static bool fsm_accepts(const char *s, unsigned flags, bool *done)
{
    struct osr_jsonfsm f;
    osr_jsonfsm_init(&f, flags);
    bool ok = osr_jsonfsm_feed(&f, s, strlen(s));
    *done = ok && osr_jsonfsm_done(&f);
    return ok;
}

static void test_fsm_valid(void)
{
    static const char *const ok[] = {
        "{}",
        "{\"a\":1}",
        "{\"a\": [1, 2.5e-3, -0, 0.5, 1E+9, true, false, null, \"x\\u00e9\\n\\\"\"]}",
        "{\"b\":{\"c\":{}},\"d\":[],\"e\":[[[]]]}",
        "{\n  \"k\": \"v\",\n  \"n\": -12.75\n}",
        "{\"utf8\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}",
        "{\"esc\":\"\\/\\b\\f\\r\\t\\\\\"}",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        bool done;
        CHECK(fsm_accepts(ok[i], OSR_JSONFSM_OBJECT, &done));
        CHECK(done);
        /* Every proper prefix is accepted and not yet complete. */
        size_t n = strlen(ok[i]);
        for (size_t k = 0; k < n; k++) {
            struct osr_jsonfsm f;
            osr_jsonfsm_init(&f, OSR_JSONFSM_OBJECT);
            CHECK(osr_jsonfsm_feed(&f, ok[i], k));
            CHECK(!osr_jsonfsm_done(&f));
        }
        struct json_object *o = NULL;
        CHECK(osr_json_parse(ok[i], n, &o, NULL) == OSR_OK);
        json_object_put(o);
    }
    /* Without the object flag, any value is a document; a number is complete but may go on. */
    bool done;
    CHECK(fsm_accepts("[1,2]", 0, &done) && done);
    CHECK(fsm_accepts("\"s\"", 0, &done) && done);
    CHECK(fsm_accepts("12", 0, &done) && done);
    CHECK(fsm_accepts("12.", 0, &done) && !done);
    CHECK(fsm_accepts("true", 0, &done) && done);
    CHECK(fsm_accepts("nul", 0, &done) && !done);
}

static void test_fsm_invalid(void)
{
    static const char *const bad[] = {
        "[1]",              /* the top level must be an object */
        " {}",              /* nothing before it */
        "{} ",              /* nor after it */
        "{}{}",             /* one value only */
        "{\"a\":}",         /* a missing value */
        "{\"a\" 1}",        /* a missing colon */
        "{,}",              /* a bare comma */
        "{\"a\":1,}",       /* a trailing comma */
        "{\"a\":01}",       /* a leading zero */
        "{\"a\":1.}",       /* a fraction without digits */
        "{\"a\":-}",        /* a sign alone */
        "{\"a\":1e}",       /* an exponent without digits */
        "{\"a\":tru}",      /* a literal cut short */
        "{\"a\":True}",     /* literals are lower case */
        "{a:1}",            /* keys are strings */
        "{\"a\":\"\x01\"}", /* a raw control byte */
        "{\"a\":\"\\q\"}",  /* an unknown escape */
        "{\"a\":\"\\u12g4\"}",
        "{\"a\":\"\xc0\x80\"}",     /* an overlong form */
        "{\"a\":\"\xed\xa0\x80\"}", /* a UTF-16 surrogate in UTF-8 */
        "{\"a\":\"\xf5\x80\x80\x80\"}",
        "{\"a\":\"\xc3(\"}", /* a lead byte without its continuation */
        "{\"a\":[1}",        /* mismatched closers */
        "{\"a\":{]}",
        "{\"a\":1         }", /* nine spaces: more whitespace than allowed */
        "{\"a\":123456789012345678901234567890123456789012345}", /* a number too long */
        "{\"a\":-1234567890123456789}",                          /* an integer past 64 bits */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bool done = false;
        bool ok = fsm_accepts(bad[i], OSR_JSONFSM_OBJECT, &done);
        if (ok && done)
            fprintf(stderr, "accepted: %s\n", bad[i]);
        CHECK(!(ok && done));
    }
    /* The depth cap. */
    struct osr_jsonfsm f;
    osr_jsonfsm_init(&f, OSR_JSONFSM_OBJECT);
    CHECK(osr_jsonfsm_feed(&f, "{\"a\":", 5));
    int opened = 1;
    while (opened < OSR_JSONFSM_MAX_DEPTH) {
        REQUIRE(osr_jsonfsm_push(&f, '['));
        opened++;
    }
    CHECK(!osr_jsonfsm_push(&f, '['));
}

/* Random texts over a JSON-ish alphabet: whenever the automaton says "complete", json-c must
 * parse the text as an object. */
static void test_fsm_vs_jsonc(void)
{
    static const char *const atoms[] = {"{",    "}",     "[",     "]",           ",",
                                        ":",    "\"k\"", "\"v\"", "1",           "-2.5",
                                        "true", "null",  " ",     "\"\\u0041\"", "0"};
    uint64_t x = 0x9e3779b97f4a7c15ull;
    int complete = 0;
    for (int trial = 0; trial < 20000; trial++) {
        char text[256];
        size_t n = 0;
        struct osr_jsonfsm f;
        osr_jsonfsm_init(&f, OSR_JSONFSM_OBJECT);
        bool alive = osr_jsonfsm_push(&f, '{');
        text[n++] = '{';
        while (alive && !osr_jsonfsm_done(&f) && n < 200) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            const char *a = atoms[x % (sizeof(atoms) / sizeof(atoms[0]))];
            struct osr_jsonfsm g = f;
            if (!osr_jsonfsm_feed(&g, a, strlen(a)))
                continue; /* try another atom: the sampler would never pick this one */
            f = g;
            memcpy(text + n, a, strlen(a));
            n += strlen(a);
        }
        if (!osr_jsonfsm_done(&f))
            continue;
        complete++;
        struct json_object *o = NULL;
        int rc = osr_json_parse(text, n, &o, NULL);
        if (rc != OSR_OK)
            fprintf(stderr, "json-c refused: %.*s\n", (int)n, text);
        CHECK(rc == OSR_OK && json_object_is_type(o, json_type_object));
        json_object_put(o);
    }
    CHECK(complete > 1000);
}

/* A fake vocabulary is not needed for programs: osr_constraint_try works on bytes. */
static struct osr_constrain_vocab *vocab_of(const char *file, struct osr_gguf **g,
                                            struct osr_tokenizer **t)
{
    const char *dir = getenv("OSR_TESTDATA");
    if (!dir || !*dir) {
        printf("skipping %s: OSR_TESTDATA not set\n", file);
        return NULL;
    }
    char *path = osr_path_join(dir, file);
    struct osr_diag d = {0};
    int rc = osr_gguf_open(path, g, &d);
    free(path);
    if (rc == OSR_EIO) {
        printf("skipping %s: not present\n", file);
        return NULL;
    }
    CHECK(rc == OSR_OK);
    if (rc == OSR_OK) {
        rc = osr_tokenizer_from_gguf(*g, t, &d);
        CHECK(rc == OSR_OK);
    }
    struct osr_constrain_vocab *v = NULL;
    if (rc == OSR_OK) {
        rc = osr_constrain_vocab_new(*t, &v);
        CHECK(rc == OSR_OK);
    }
    return v;
}

static void test_program_names(void)
{
    struct osr_gguf *g = NULL;
    struct osr_tokenizer *t = NULL;
    struct osr_constrain_vocab *v = vocab_of("llama-2-tiny-random.gguf", &g, &t);
    if (!v)
        return;
    int32_t eos = osr_tokenizer_eos(t);
    struct osr_constraint *c = osr_constraint_new(v, &eos, 1);
    const char *names[] = {"get_weather", "get", "set", "get"};
    CHECK(osr_constraint_add_names(c, names, 4) == OSR_OK);
    CHECK(osr_constraint_add_literal(c, ", ", 2) == OSR_OK);
    CHECK(osr_constraint_add_json_object(c) == OSR_OK);
    CHECK(osr_constraint_try(c, "get\"", 4));
    CHECK(osr_constraint_try(c, "get_weather\", {}", 16));
    CHECK(osr_constraint_try(c, "set\", {\"a\":[1]}", 15));
    CHECK(!osr_constraint_try(c, "get_\"", 5));
    CHECK(!osr_constraint_try(c, "gex", 3));
    CHECK(!osr_constraint_try(c, "\"", 1));
    CHECK(!osr_constraint_try(c, "set\",{}", 7));
    CHECK(!osr_constraint_try(c, "set\", {}}", 9)); /* nothing after the end */
    const char *badname[] = {"a\"b"};
    CHECK(osr_constraint_add_names(c, badname, 1) == OSR_EINVAL);
    CHECK(osr_constraint_add_names(c, badname, 0) == OSR_EINVAL);
    CHECK(osr_constraint_add_literal(c, "", 0) == OSR_EINVAL);
    CHECK(!osr_constraint_complete(c));
    osr_constraint_free(c);
    osr_constrain_vocab_free(v);
    osr_tokenizer_free(t);
    osr_gguf_close(g);
}

static int lit(struct osr_constraint *c, const char *s)
{
    return osr_constraint_add_literal(c, s, strlen(s));
}

/* Walks a target answer token by token through the mask: at every step, the allowed set is
 * exactly the tokens whose bytes keep the program valid, and the target's token is in it. */
static void walk(const char *file, const char *answer)
{
    struct osr_gguf *g = NULL;
    struct osr_tokenizer *t = NULL;
    struct osr_constrain_vocab *v = vocab_of(file, &g, &t);
    if (!v)
        return;
    int32_t n_vocab = osr_tokenizer_n_vocab(t);
    int32_t eos = osr_tokenizer_eos(t);
    struct osr_constraint *c = osr_constraint_new(v, &eos, eos >= 0 ? 1 : 0);
    CHECK(lit(c, "<tool_call>\n{\"name\": \"") == OSR_OK);
    const char *names[] = {"lookup", "look", "search_web"};
    CHECK(osr_constraint_add_names(c, names, 3) == OSR_OK);
    CHECK(lit(c, ", \"arguments\": ") == OSR_OK);
    CHECK(osr_constraint_add_json_object(c) == OSR_OK);
    CHECK(lit(c, "}\n</tool_call>") == OSR_OK);

    float *logits = osr_xmalloc((size_t)n_vocab * sizeof(float));
    struct osr_buf text;
    osr_buf_init(&text, 1 << 16);
    size_t pos = 0, len = strlen(answer);
    int steps = 0, forced_runs = 0;
    while (!osr_constraint_complete(c)) {
        for (int32_t i = 0; i < n_vocab; i++)
            logits[i] = 0.0f;
        const int32_t *forced = NULL;
        size_t nf = 0;
        int r = osr_constraint_next(c, t, logits, &forced, &nf);
        REQUIRE(r >= 0);
        if (r == OSR_CONSTRAINT_FORCE) {
            forced_runs++;
            REQUIRE(nf > 0);
            for (size_t k = 0; k < nf; k++) {
                struct osr_str b = osr_constrain_vocab_bytes(v, forced[k]);
                REQUIRE(pos + b.n <= len);
                if (memcmp(answer + pos, b.p, b.n) != 0)
                    fprintf(stderr, "forced [%.*s] at %zu\n", (int)b.n, b.p, pos);
                CHECK(memcmp(answer + pos, b.p, b.n) == 0);
                pos += b.n;
            }
            continue;
        }
        REQUIRE(r == OSR_CONSTRAINT_SAMPLE);
        steps++;
        /* The mask agrees with the program on every token. */
        int disagree = 0;
        for (int32_t i = 0; i < n_vocab; i++) {
            struct osr_str b = osr_constrain_vocab_bytes(v, i);
            bool fits = b.n > 0 && i != eos && osr_constraint_try(c, b.p, b.n);
            bool allowed = !isinf(logits[i]);
            disagree += fits != allowed;
        }
        CHECK_INT_EQ(disagree, 0);
        /* Pick the longest allowed token that matches the target. */
        int32_t best = -1;
        size_t best_n = 0;
        for (int32_t i = 0; i < n_vocab; i++) {
            struct osr_str b = osr_constrain_vocab_bytes(v, i);
            if (!isinf(logits[i]) && b.n > best_n && pos + b.n <= len &&
                memcmp(answer + pos, b.p, b.n) == 0) {
                best = i;
                best_n = b.n;
            }
        }
        REQUIRE(best >= 0);
        CHECK(osr_constraint_accept(c, best));
        pos += best_n;
        REQUIRE(steps < 500);
    }
    CHECK_INT_EQ(pos, len);
    CHECK(forced_runs >= 3);
    /* Complete: only the end-of-generation token is left. */
    if (eos >= 0) {
        for (int32_t i = 0; i < n_vocab; i++)
            logits[i] = 0.0f;
        const int32_t *forced = NULL;
        size_t nf = 0;
        CHECK_INT_EQ(osr_constraint_next(c, t, logits, &forced, &nf), OSR_CONSTRAINT_SAMPLE);
        int n_allowed = 0;
        for (int32_t i = 0; i < n_vocab; i++)
            n_allowed += !isinf(logits[i]);
        CHECK_INT_EQ(n_allowed, 1);
        CHECK(!isinf(logits[eos]));
    }
    osr_buf_release(&text);
    free(logits);
    osr_constraint_free(c);
    osr_constrain_vocab_free(v);
    osr_tokenizer_free(t);
    osr_gguf_close(g);
}

static const char ANSWER[] =
    "<tool_call>\n{\"name\": \"look\", \"arguments\": {\"query\": \"caf\xc3\xa9 \\\"x\\\"\", "
    "\"n\": [1, -2.5e3, true, null], \"o\": {}}}\n</tool_call>";

static void test_mask_spm(void)
{
    walk("ggml-vocab-llama-spm.gguf", ANSWER);
}

static void test_mask_bpe(void)
{
    walk("ggml-vocab-llama-bpe.gguf", ANSWER);
}

static void test_mask_tiny(void)
{
    walk("llama-2-tiny-random.gguf", ANSWER);
}

static const char SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},"
    "\"unit\":{\"enum\":[\"celsius\",\"fahrenheit\"]},\"n\":{\"type\":\"integer\"},"
    "\"ok\":{\"type\":\"boolean\"},\"kind\":{\"const\":\"weather\"},"
    "\"where\":{\"type\":\"object\",\"properties\":{\"lat\":{\"type\":\"number\"}},"
    "\"required\":[\"lat\"]},\"extra\":{\"type\":\"string\"}},"
    "\"required\":[\"city\",\"unit\",\"n\",\"ok\",\"kind\",\"where\"]}";

static bool tryz(const struct osr_constraint *c, const char *s)
{
    return osr_constraint_try(c, s, strlen(s));
}

static struct osr_constraint *schema_program(struct osr_constrain_vocab *v, int32_t eos)
{
    struct json_object *sch = NULL;
    CHECK(osr_json_parse(SCHEMA, strlen(SCHEMA), &sch, NULL) == OSR_OK);
    struct osr_constraint *c = osr_constraint_new(v, &eos, eos >= 0 ? 1 : 0);
    CHECK(osr_constraint_add_schema(c, sch) == OSR_OK);
    json_object_put(sch);
    return c;
}

/* The answer has every required key, in order, with values of the right kinds. */
static void check_schema_answer(const char *text, size_t n)
{
    struct json_object *o = NULL;
    if (osr_json_parse(text, n, &o, NULL) != OSR_OK) {
        fprintf(stderr, "not JSON: %.*s\n", (int)n, text);
        CHECK(0);
        return;
    }
    struct json_object *v;
    CHECK(json_object_object_get_ex(o, "city", &v) && json_object_is_type(v, json_type_string));
    CHECK(json_object_object_get_ex(o, "unit", &v) && json_object_is_type(v, json_type_string) &&
          (strcmp(json_object_get_string(v), "celsius") == 0 ||
           strcmp(json_object_get_string(v), "fahrenheit") == 0));
    CHECK(json_object_object_get_ex(o, "n", &v) &&
          (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)));
    CHECK(json_object_object_get_ex(o, "ok", &v) && json_object_is_type(v, json_type_boolean));
    CHECK(json_object_object_get_ex(o, "kind", &v) &&
          strcmp(json_object_get_string(v), "weather") == 0);
    CHECK(json_object_object_get_ex(o, "where", &v) && json_object_is_type(v, json_type_object) &&
          json_object_object_get_ex(v, "lat", NULL));
    CHECK(!json_object_object_get_ex(o, "extra", NULL));
    json_object_put(o);
}

static struct osr_constraint *tool_program(struct osr_constrain_vocab *v, int32_t eos)
{
    struct osr_constraint *c = osr_constraint_new(v, &eos, eos >= 0 ? 1 : 0);
    const char *names[] = {"lookup", "look", "search_web"};
    CHECK(lit(c, "<tool_call>\n{\"name\": \"") == OSR_OK);
    CHECK(osr_constraint_add_names(c, names, 3) == OSR_OK);
    CHECK(lit(c, ", \"arguments\": ") == OSR_OK);
    CHECK(osr_constraint_add_json_object(c) == OSR_OK);
    CHECK(lit(c, "}\n</tool_call>") == OSR_OK);
    return c;
}

static void check_tool_answer(const char *text, size_t n)
{
    static const char open[] = "<tool_call>\n", close[] = "\n</tool_call>";
    size_t no = sizeof(open) - 1, nc = sizeof(close) - 1;
    REQUIRE(n > no + nc);
    CHECK(memcmp(text, open, no) == 0 && memcmp(text + n - nc, close, nc) == 0);
    struct json_object *o = NULL, *name = NULL, *args = NULL;
    if (osr_json_parse(text + no, n - no - nc, &o, NULL) != OSR_OK) {
        fprintf(stderr, "not JSON: %.*s\n", (int)n, text);
        CHECK(0);
        return;
    }
    CHECK(json_object_object_get_ex(o, "name", &name) &&
          json_object_is_type(name, json_type_string));
    CHECK(json_object_object_get_ex(o, "arguments", &args) &&
          json_object_is_type(args, json_type_object));
    json_object_put(o);
}

static void test_schema(void)
{
    struct osr_gguf *g = NULL;
    struct osr_tokenizer *t = NULL;
    struct osr_constrain_vocab *v = vocab_of("llama-2-tiny-random.gguf", &g, &t);
    if (!v)
        return;
    int32_t eos = osr_tokenizer_eos(t);
    struct osr_constraint *c = schema_program(v, eos);
    const char *good = "{\"city\": \"Paris\", \"unit\": \"celsius\", \"n\": -12, \"ok\": true, "
                       "\"kind\": \"weather\", \"where\": {\"lat\": 48.85}}";
    CHECK(osr_constraint_try(c, good, strlen(good)));
    check_schema_answer(good, strlen(good));
    CHECK(!tryz(c, "{\"city\": 1"));
    CHECK(!tryz(c, "{\"unit\""));
    CHECK(tryz(c, "{\"city\": \"P\", \"unit\": \"c"));
    CHECK(!tryz(c, "{\"city\": \"P\", \"unit\": \"kelvin"));
    CHECK(!tryz(c, "{\"city\": \"P\", \"unit\": \"celsius\", \"n\": \""));
    CHECK(!tryz(c, "{\"city\": \"P\", \"unit\": \"celsius\", \"n\": 1.5e3, \"ok\": 1"));
    CHECK(tryz(c, "{\"city\": \"P\", \"unit\": \"celsius\", \"n\": 1.5e3, \"ok\": f"));
    CHECK(osr_constraint_try(c, good, strlen(good) - 1));
    CHECK(!tryz(c, "{\"city\": \"P\", \"unit\": \"celsius\", \"n\": 1, \"ok\": false, "
                   "\"kind\": \"other\""));

    /* Random walks through the mask with a shrinking budget: whatever is chosen, the result is
     * the schema's shape and ends within the budget. */
    int32_t n_vocab = osr_tokenizer_n_vocab(t);
    float *logits = osr_xmalloc((size_t)n_vocab * sizeof(float));
    int32_t *allowed = osr_xmalloc((size_t)n_vocab * sizeof(int32_t));
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (int walk_i = 0; walk_i < 12; walk_i++) {
        osr_constraint_free(c);
        bool tool = walk_i % 2; /* every other walk: a tool call with a free JSON object */
        c = tool ? tool_program(v, eos) : schema_program(v, eos);
        struct osr_buf text;
        osr_buf_init(&text, 1 << 16);
        long budget = 60 + walk_i * 10, used = 0; /* the shortest answer takes about 45 */
        bool ended = false;
        while (!ended && used < budget) {
            osr_constraint_set_budget(c, budget - used);
            for (int32_t i = 0; i < n_vocab; i++)
                logits[i] = 0.0f;
            const int32_t *forced = NULL;
            size_t nf = 0;
            int r = osr_constraint_next(c, t, logits, &forced, &nf);
            REQUIRE(r >= 0);
            if (r == OSR_CONSTRAINT_FORCE) {
                for (size_t k = 0; k < nf; k++) {
                    struct osr_str b = osr_constrain_vocab_bytes(v, forced[k]);
                    osr_buf_append(&text, b.p, b.n);
                }
                used += (long)nf;
                continue;
            }
            if (r == OSR_CONSTRAINT_END)
                break;
            size_t na = 0;
            for (int32_t i = 0; i < n_vocab; i++)
                if (!isinf(logits[i]))
                    allowed[na++] = i;
            REQUIRE(na > 0);
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            int32_t pick = allowed[x % na];
            if (pick == eos) {
                ended = true;
                break;
            }
            CHECK(osr_constraint_accept(c, pick));
            struct osr_str b = osr_constrain_vocab_bytes(v, pick);
            osr_buf_append(&text, b.p, b.n);
            used++;
        }
        CHECK(osr_constraint_complete(c));
        if (used > budget)
            fprintf(stderr, "budget %ld used %ld: %s\n", budget, used, osr_buf_str(&text));
        CHECK(used <= budget);
        if (tool)
            check_tool_answer(osr_buf_str(&text), text.len);
        else
            check_schema_answer(osr_buf_str(&text), text.len);
        osr_buf_release(&text);
    }
    free(allowed);
    free(logits);
    osr_constraint_free(c);
    osr_constrain_vocab_free(v);
    osr_tokenizer_free(t);
    osr_gguf_close(g);
}

/* A top-level number may end the answer wherever it is complete. */
static void test_schema_number(void)
{
    struct osr_gguf *g = NULL;
    struct osr_tokenizer *t = NULL;
    struct osr_constrain_vocab *v = vocab_of("llama-2-tiny-random.gguf", &g, &t);
    if (!v)
        return;
    int32_t eos = osr_tokenizer_eos(t);
    struct json_object *sch = NULL;
    CHECK(osr_json_parse("{\"type\":\"integer\"}", 18, &sch, NULL) == OSR_OK);
    struct osr_constraint *c = osr_constraint_new(v, &eos, 1);
    CHECK(osr_constraint_add_schema(c, sch) == OSR_OK);
    json_object_put(sch);
    int32_t n_vocab = osr_tokenizer_n_vocab(t);
    float *logits = osr_xmalloc((size_t)n_vocab * sizeof(float));
    for (int32_t i = 0; i < n_vocab; i++)
        logits[i] = 0.0f;
    const int32_t *forced = NULL;
    size_t nf = 0;
    CHECK_INT_EQ(osr_constraint_next(c, t, logits, &forced, &nf), OSR_CONSTRAINT_SAMPLE);
    CHECK(isinf(logits[eos])); /* nothing yet: cannot end */
    CHECK(!osr_constraint_try(c, "\"", 1));
    int32_t one = osr_tokenizer_find(t, "1", 1);
    if (one < 0)
        one = osr_tokenizer_find(t,
                                 "\xe2\x96\x81"
                                 "1",
                                 4);
    REQUIRE(one >= 0);
    struct osr_str b = osr_constrain_vocab_bytes(v, one);
    if (b.n == 1 && b.p[0] == '1') {
        CHECK(osr_constraint_accept(c, one));
        for (int32_t i = 0; i < n_vocab; i++)
            logits[i] = 0.0f;
        CHECK_INT_EQ(osr_constraint_next(c, t, logits, &forced, &nf), OSR_CONSTRAINT_SAMPLE);
        CHECK(!isinf(logits[eos])); /* "1" may be the whole answer */
        CHECK(!isinf(logits[one])); /* or go on */
    }
    free(logits);
    osr_constraint_free(c);
    osr_constrain_vocab_free(v);
    osr_tokenizer_free(t);
    osr_gguf_close(g);
}

/* Time of one mask step on a 128k vocabulary, in a string and between values (printed). */
static void test_mask_speed(void)
{
    struct osr_gguf *g = NULL;
    struct osr_tokenizer *t = NULL;
    struct osr_constrain_vocab *v = vocab_of("ggml-vocab-llama-bpe.gguf", &g, &t);
    if (!v)
        return;
    int32_t n_vocab = osr_tokenizer_n_vocab(t);
    float *logits = osr_xmalloc((size_t)n_vocab * sizeof(float));
    static const char *const prefixes[] = {"{\"key\": \"some text", "{\"key\": [1, 2",
                                           "{\"k\": {\"a\": true}, "};
    for (size_t i = 0; i < 3; i++) {
        struct osr_constraint *c = osr_constraint_new(v, NULL, 0);
        CHECK(osr_constraint_add_json_object(c) == OSR_OK);
        /* Walk the prefix in by single bytes where the vocabulary has them. */
        for (const char *p = prefixes[i]; *p; p++) {
            int32_t id = -1;
            for (int32_t k = 0; k < n_vocab && id < 0; k++) {
                struct osr_str b = osr_constrain_vocab_bytes(v, k);
                if (b.n == 1 && b.p[0] == *p)
                    id = k;
            }
            REQUIRE(id >= 0);
            REQUIRE(osr_constraint_accept(c, id));
        }
        int64_t t0 = osr_mono_ns();
        int reps = 20;
        for (int r = 0; r < reps; r++) {
            const int32_t *forced = NULL;
            size_t nf = 0;
            CHECK_INT_EQ(osr_constraint_next(c, t, logits, &forced, &nf), OSR_CONSTRAINT_SAMPLE);
        }
        double us = (double)(osr_mono_ns() - t0) / 1e3 / reps;
        int n_allowed = 0;
        for (int32_t k = 0; k < n_vocab; k++)
            n_allowed += !isinf(logits[k]);
        printf("mask step after '%s': %.0f us, %d of %d tokens allowed\n", prefixes[i], us,
               n_allowed, n_vocab);
        CHECK(n_allowed > 0);
        osr_constraint_free(c);
    }
    free(logits);
    osr_constrain_vocab_free(v);
    osr_tokenizer_free(t);
    osr_gguf_close(g);
}

TEST_MAIN(test_fsm_valid, test_fsm_invalid, test_fsm_vs_jsonc, test_program_names, test_mask_spm,
          test_mask_bpe, test_mask_tiny, test_schema, test_schema_number, test_mask_speed)
