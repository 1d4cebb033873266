/* cli_engine.h - the commands that run a local model: `osaurus logits` and `osaurus bench`.
 *
 * logits: evaluates token ids with a GGUF model and prints llama.cpp-comparable logits as JSON
 *         (the refdump-logits-v1 format, see docs/internals/ENGINE.md).
 * bench:  measures prompt processing and generation speed like llama-bench (pp / tg).
 *
 * Thread rules: called once from the command dispatcher on the main thread.
 */
#ifndef OSR_CLI_ENGINE_H
#define OSR_CLI_ENGINE_H

/* argv[0] is the subcommand name.  Return an exit code from enum osr_exit: 0 on success, 2 for
 * a usage error, 1 when the model cannot be loaded or run. */
int osr_cmd_logits(int argc, char **argv);
int osr_cmd_bench(int argc, char **argv);

#endif
