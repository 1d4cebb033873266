/* cli_tokenize.h - `osaurus tokenize --model FILE [--add-special] [--parse-special]`.
 *
 * Reads all of standard input as UTF-8 text, tokenizes it with the vocabulary of the GGUF file
 * and prints the ids on one line, separated by single spaces.
 *
 * Thread rules: called once from the command dispatcher on the main thread.
 */
#ifndef OSR_CLI_TOKENIZE_H
#define OSR_CLI_TOKENIZE_H

/* argv[0] is the subcommand name ("tokenize").  Returns an exit code from enum osr_exit:
 * 0 on success, 2 for a usage error, 1 when the model cannot be loaded or the input read. */
int osr_cmd_tokenize(int argc, char **argv);

#endif
