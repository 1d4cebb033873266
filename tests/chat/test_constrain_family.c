/* test_constrain_family.c - the forced tool-call syntax follows the model's family, decided
 * from its vocabulary: a Llama 3 vocabulary (with <|python_tag|>, from OSR_TESTDATA) gets the
 * whole-answer {"name", "parameters"} form, a vocabulary without markers the Hermes
 * <tool_call> block; a Mistral-style program opens with the [TOOL_CALLS] token itself.  The
 * local backend is included to reach its static helpers. */
#include "check.h"
#include "chat/local_backend.c"
#include "osr/config.h"

struct vocab {
    struct osr_gguf *g;
    struct osr_tokenizer *t;
    struct osr_constrain_vocab *v;
};

static bool open_vocab(const char *file, struct vocab *out)
{
    memset(out, 0, sizeof(*out));
    const char *dir = getenv("OSR_TESTDATA");
    if (!dir || !*dir) {
        printf("skipping %s: OSR_TESTDATA not set\n", file);
        return false;
    }
    char *path = osr_path_join(dir, file);
    struct osr_diag d = {0};
    int rc = osr_gguf_open(path, &out->g, &d);
    free(path);
    if (rc == OSR_EIO) {
        printf("skipping %s: not present\n", file);
        return false;
    }
    CHECK(rc == OSR_OK);
    if (rc == OSR_OK)
        rc = osr_tokenizer_from_gguf(out->g, &out->t, &d);
    if (rc == OSR_OK)
        rc = osr_constrain_vocab_new(out->t, &out->v);
    CHECK(rc == OSR_OK);
    return rc == OSR_OK;
}

static void close_vocab(struct vocab *v)
{
    osr_constrain_vocab_free(v->v);
    osr_tokenizer_free(v->t);
    osr_gguf_close(v->g);
}

static bool tryz(const struct osr_constraint *c, const char *s)
{
    return osr_constraint_try(c, s, strlen(s));
}

static const char *const NAMES[] = {"get_time", "get_weather"};

static void test_llama3(void)
{
    struct vocab v;
    if (!open_vocab("ggml-vocab-llama-bpe.gguf", &v))
        return;
    struct loaded l;
    memset(&l, 0, sizeof(l));
    l.tok = v.t;
    detect_family(&l);
    CHECK_INT_EQ(l.family, FAMILY_LLAMA3);
    CHECK(l.python_tag >= 0 && is_marker(&l, l.python_tag));
    struct osr_constraint *c = osr_constraint_new(v.v, NULL, 0);
    CHECK_INT_EQ(add_tool_call(&l, c, NAMES, 2, NULL), OSR_OK);
    CHECK(tryz(c, "{\"name\": \"get_time\", \"parameters\": {\"tz\": \"UTC\"}}"));
    CHECK(!tryz(c, "{\"name\": \"get_time\", \"arguments\": {}}"));
    CHECK(!tryz(c, "<tool_call>"));
    /* The first step forces the opening literal, which spells it exactly. */
    int32_t n_vocab = osr_tokenizer_n_vocab(v.t);
    float *logits = osr_xcalloc((size_t)n_vocab, sizeof(float));
    const int32_t *forced = NULL;
    size_t nf = 0;
    CHECK_INT_EQ(osr_constraint_next(c, v.t, logits, &forced, &nf), OSR_CONSTRAINT_FORCE);
    struct osr_buf text;
    osr_buf_init(&text, 4096);
    for (size_t i = 0; i < nf; i++)
        osr_tokenizer_token_to_piece(v.t, forced[i], false, &text);
    CHECK_STR_EQ(osr_buf_str(&text), "{\"name\": \"");
    osr_buf_release(&text);
    free(logits);
    osr_constraint_free(c);
    close_vocab(&v);
}

static void test_hermes_and_mistral(void)
{
    struct vocab v;
    if (!open_vocab("ggml-vocab-llama-spm.gguf", &v))
        return;
    struct loaded l;
    memset(&l, 0, sizeof(l));
    l.tok = v.t;
    detect_family(&l);
    CHECK_INT_EQ(l.family, FAMILY_HERMES);
    CHECK(l.tool_open < 0 && l.mistral_tag < 0);
    struct osr_constraint *c = osr_constraint_new(v.v, NULL, 0);
    CHECK_INT_EQ(add_tool_call(&l, c, NAMES, 2, NULL), OSR_OK);
    CHECK(tryz(c, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {}}\n</tool_call>"));
    CHECK(!tryz(c, "{\"name\""));
    osr_constraint_free(c);

    /* Mistral's program begins with its marker token: no bytes can stand for it. */
    l.family = FAMILY_MISTRAL;
    l.mistral_tag = osr_tokenizer_bos(v.t);
    c = osr_constraint_new(v.v, NULL, 0);
    CHECK_INT_EQ(add_tool_call(&l, c, NAMES, 2, NULL), OSR_OK);
    CHECK(!tryz(c, "["));
    int32_t n_vocab = osr_tokenizer_n_vocab(v.t);
    float *logits = osr_xcalloc((size_t)n_vocab, sizeof(float));
    const int32_t *forced = NULL;
    size_t nf = 0;
    CHECK_INT_EQ(osr_constraint_next(c, v.t, logits, &forced, &nf), OSR_CONSTRAINT_FORCE);
    CHECK(nf > 1 && forced[0] == l.mistral_tag);
    CHECK(tryz(c, "get_time\", \"arguments\": {}}]"));
    free(logits);
    osr_constraint_free(c);
    close_vocab(&v);
}

TEST_MAIN(test_llama3, test_hermes_and_mistral)
