/* test_tokenizer_vectors.c - llama.cpp's tokenizer conformance cases: for every
 * ggml-vocab-*.gguf in OSR_TESTDATA that has .inp/.out files beside it, every input (split on
 * "\n__ggml_vocab_test__\n") must tokenize, without BOS/EOS and without special-token parsing,
 * to exactly the ids on the matching line of .out.  Prints a pass count per vocabulary. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "osr/config.h"
#include "osr/gguf.h"
#include "osr/tokenizer.h"

#define SEP "\n__ggml_vocab_test__\n"

static char *read_all(const char *dir, const char *name, const char *suffix, size_t *n)
{
    char file[512];
    snprintf(file, sizeof(file), "%s%s", name, suffix);
    char *path = osr_path_join(dir, file);
    char *data = NULL;
    if (osr_read_file(path, (size_t)1 << 24, &data, n, NULL) != OSR_OK)
        data = NULL;
    free(path);
    return data;
}

/* Parses one line of space-separated ids into ids (capacity cap); returns the count, or -1. */
static long parse_ids(const char *line, size_t len, int32_t *ids, size_t cap)
{
    size_t n = 0, i = 0;
    while (i < len) {
        while (i < len && line[i] == ' ')
            i++;
        if (i >= len)
            break;
        char *end;
        char tmp[16];
        size_t j = i;
        while (j < len && line[j] != ' ')
            j++;
        if (j - i >= sizeof(tmp) || n >= cap)
            return -1;
        memcpy(tmp, line + i, j - i);
        tmp[j - i] = '\0';
        long v = strtol(tmp, &end, 10);
        if (*end)
            return -1;
        ids[n++] = (int32_t)v;
        i = j;
    }
    return (long)n;
}

static int run_vocab(const char *dir, const char *name, int *cases_out)
{
    char *path = osr_path_join(dir, name);
    size_t inp_n, out_n;
    char *inp = read_all(dir, name, ".inp", &inp_n);
    char *exp = read_all(dir, name, ".out", &out_n);
    struct osr_gguf *g = NULL;
    struct osr_tokenizer *tok = NULL;
    struct osr_diag d = {0};
    int passed = 0, total = 0;
    *cases_out = 0;
    if (!inp || !exp) {
        printf("skipping %s: no .inp/.out beside it\n", name);
        passed = -1;
        goto out;
    }
    int rc = osr_gguf_open(path, &g, &d);
    if (!rc)
        rc = osr_tokenizer_from_gguf(g, &tok, &d);
    if (rc) {
        fprintf(stderr, "%s: cannot load: %s\n", name, d.msg);
        CHECK(rc == OSR_OK);
        goto out;
    }
    const char *p = inp, *end = inp + inp_n;
    const char *line = exp, *lend = exp + out_n;
    int shown = 0;
    for (;;) {
        const char *sep = memmem(p, (size_t)(end - p), SEP, strlen(SEP));
        if (!sep)
            break;
        const char *nl = memchr(line, '\n', (size_t)(lend - line));
        size_t ll = nl ? (size_t)(nl - line) : (size_t)(lend - line);
        int32_t want[1024], *got = NULL;
        long nw = parse_ids(line, ll, want, 1024);
        size_t ng = 0;
        total++;
        int erc = osr_tokenizer_encode_alloc(tok, p, (size_t)(sep - p), false, false, &got, &ng);
        bool ok = nw >= 0 && erc == OSR_OK && (size_t)nw == ng &&
                  (ng == 0 || memcmp(got, want, ng * sizeof(int32_t)) == 0);
        if (ok) {
            passed++;
        } else if (shown++ < 3) {
            fprintf(stderr, "%s case %d: \"%.*s\"\n  want:%.*s\n  got: ", name, total,
                    (int)(sep - p), p, (int)ll, line);
            for (size_t k = 0; k < ng; k++)
                fprintf(stderr, " %d", got[k]);
            fprintf(stderr, "\n");
        }
        free(got);
        p = sep + strlen(SEP);
        line = nl ? nl + 1 : lend;
    }
    CHECK(total > 0);
    CHECK_INT_EQ(passed, total);
    printf("%-36s %d/%d\n", name, passed, total);
    *cases_out = total;
out:
    osr_tokenizer_free(tok);
    osr_gguf_close(g);
    free(inp);
    free(exp);
    free(path);
    return passed;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_all_vocab_vectors(void)
{
    const char *dir = getenv("OSR_TESTDATA");
    DIR *dd = dir ? opendir(dir) : NULL;
    if (!dd) {
        printf("skipping: OSR_TESTDATA is not set or not readable\n");
        return;
    }
    char *names[128];
    size_t nn = 0;
    struct dirent *e;
    while ((e = readdir(dd)) != NULL && nn < 128) {
        size_t l = strlen(e->d_name);
        if (strncmp(e->d_name, "ggml-vocab-", 11) == 0 && l > 5 &&
            strcmp(e->d_name + l - 5, ".gguf") == 0)
            names[nn++] = strdup(e->d_name);
    }
    closedir(dd);
    qsort(names, nn, sizeof(names[0]), cmp_str);
    int vocabs = 0, cases = 0, passed = 0;
    for (size_t i = 0; i < nn; i++) {
        int c;
        int p = run_vocab(dir, names[i], &c);
        if (p >= 0 && c > 0) {
            vocabs++;
            cases += c;
            passed += p;
        }
        free(names[i]);
    }
    printf("tokenizer vectors: %d vocabularies, %d/%d cases\n", vocabs, passed, cases);
    if (vocabs == 0)
        printf("skipping: no vocab files with test vectors in OSR_TESTDATA\n");
}

TEST_MAIN(test_all_vocab_vectors)
