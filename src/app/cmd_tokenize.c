/* cmd_tokenize.c - `osaurus tokenize`: text on standard input -> token ids on standard output.
 *
 * Opens the GGUF file, builds its tokenizer, reads stdin to the end (capped at the tokenizer's
 * input limit) and prints the ids on one line.  Both flags are off by default, which is how
 * llama.cpp's conformance vectors were made.  It does not load weights or run a model.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "osr/buf.h"
#include "osr/cli.h"
#include "osr/cli_tokenize.h"
#include "osr/gguf.h"
#include "osr/tokenizer.h"

static const char tokenize_usage[] =
    "usage: osaurus tokenize --model FILE [--add-special] [--parse-special]\n"
    "\n"
    "Reads all of standard input as UTF-8 text and prints its token ids on one line,\n"
    "separated by single spaces.\n"
    "\n"
    "  -m, --model FILE    the GGUF file whose vocabulary to use\n"
    "      --add-special   add the BOS/EOS tokens the model asks for\n"
    "      --parse-special turn special-token text such as <|eot_id|> into those tokens\n";

static int read_stdin(struct osr_buf *in)
{
    char chunk[65536];
    for (;;) {
        ssize_t r = read(STDIN_FILENO, chunk, sizeof(chunk));
        if (r == 0)
            return OSR_OK;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return OSR_EIO;
        }
        int rc = osr_buf_append(in, chunk, (size_t)r);
        if (rc)
            return rc;
    }
}

int osr_cmd_tokenize(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"add-special", no_argument, NULL, 'a'},
        {"parse-special", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *model = NULL;
    bool add_special = false, parse_special = false;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            model = optarg;
            break;
        case 'a':
            add_special = true;
            break;
        case 's':
            parse_special = true;
            break;
        case 'h':
            fputs(tokenize_usage, stdout);
            return OSR_EXIT_OK;
        default:
            fputs(tokenize_usage, stderr);
            return OSR_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "osaurus tokenize: unexpected argument '%s'\n%s", argv[optind],
                tokenize_usage);
        return OSR_EXIT_USAGE;
    }
    if (!model) {
        fprintf(stderr, "osaurus tokenize: --model is required\n%s", tokenize_usage);
        return OSR_EXIT_USAGE;
    }

    int ret = OSR_EXIT_FAILURE;
    struct osr_gguf *g = NULL;
    struct osr_tokenizer *tok = NULL;
    struct osr_diag diag = {0};
    struct osr_buf in, out;
    int32_t *ids = NULL;
    size_t n = 0;
    osr_buf_init(&in, OSR_TOKENIZER_MAX_INPUT);
    osr_buf_init(&out, (size_t)1 << 30);
    int rc = osr_gguf_open(model, &g, &diag);
    if (rc == OSR_OK)
        rc = osr_tokenizer_from_gguf(g, &tok, &diag);
    if (rc) {
        fprintf(stderr, "osaurus tokenize: %s\n", diag.msg[0] ? diag.msg : osr_strerror(rc));
        goto out;
    }
    rc = read_stdin(&in);
    if (rc) {
        fprintf(stderr, "osaurus tokenize: cannot read standard input: %s\n",
                rc == OSR_ETOOBIG ? "input too large" : strerror(errno));
        goto out;
    }
    rc = osr_tokenizer_encode_alloc(tok, osr_buf_str(&in), in.len, add_special, parse_special, &ids,
                                    &n);
    if (rc) {
        fprintf(stderr, "osaurus tokenize: %s\n", osr_strerror(rc));
        goto out;
    }
    for (size_t i = 0; i < n && !rc; i++)
        rc = osr_buf_appendf(&out, i ? " %d" : "%d", ids[i]);
    if (!rc)
        rc = osr_buf_putc(&out, '\n');
    if (rc || fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
        fprintf(stderr, "osaurus tokenize: cannot write the ids\n");
        goto out;
    }
    ret = OSR_EXIT_OK;
out:
    free(ids);
    osr_buf_release(&in);
    osr_buf_release(&out);
    osr_tokenizer_free(tok);
    osr_gguf_close(g);
    return ret;
}
