/* cli_identity.h - `osaurus identity show|init|export-phrase|recover`.
 *
 * Thread rules: called once from the command dispatcher on the main thread.
 */
#ifndef OSR_CLI_IDENTITY_H
#define OSR_CLI_IDENTITY_H

/* argv[0] is "identity"; returns an exit code from enum osr_exit (osr/cli.h).  Output goes to
 * stdout (the address, or the phrase for export-phrase), messages to stderr. */
int osr_cmd_identity(int argc, char **argv);

#endif
