/* cli_storage.h - `osaurus storage encrypt|decrypt|rekey|status [--home DIR]`.
 *
 * Thread rules: called once from the command dispatcher on the main thread.
 */
#ifndef OSR_CLI_STORAGE_H
#define OSR_CLI_STORAGE_H

/* argv[0] is "storage"; returns an exit code from enum osr_exit. */
int osr_cmd_storage(int argc, char **argv);

#endif
