/* cli_models.h - `osaurus models list|add|rm|inspect`.
 *
 *   list [--json]                 every model the registry finds, from every source
 *   add PATH [--name N] [--link]  copy (or symlink) a GGUF model into $OSAURUS_HOME/models
 *   rm NAME                       delete a model from the store (only from the store)
 *   inspect FILE [--json]         header, metadata and tensor table of a GGUF file
 *
 * Every subcommand accepts --home DIR.  Documented in docs/models.md.
 *
 * Thread rules: called once from the command dispatcher on the main thread.
 */
#ifndef OSR_CLI_MODELS_H
#define OSR_CLI_MODELS_H

/* argv[0] is "models".  Returns an exit code from enum osr_exit: 0 on success, 2 for a usage
 * error, 1 when the command fails (a file that is not GGUF, a model that is not found or not
 * in the store, an I/O error). */
int osr_cmd_models(int argc, char **argv);

#endif
