/* cli_serve.h - `osaurus serve`, `osaurus status`, `osaurus stop`.
 *
 * Thread rules: called once from the command dispatcher on the main thread.
 */
#ifndef OSR_CLI_SERVE_H
#define OSR_CLI_SERVE_H

/* Each takes argv with argv[0] being the subcommand name and returns an exit code from
 * enum osr_exit. */
int osr_cmd_serve(int argc, char **argv);
int osr_cmd_status(int argc, char **argv);
int osr_cmd_stop(int argc, char **argv);

#endif
