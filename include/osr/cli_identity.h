/* cli_identity.h - `osaurus identity show|init|export-phrase|recover` and
 * `osaurus keys create|list|revoke|verify`.
 *
 * Thread rules: called once from the command dispatcher on the main thread.
 */
#ifndef OSR_CLI_IDENTITY_H
#define OSR_CLI_IDENTITY_H

/* argv[0] is "identity"; returns an exit code from enum osr_exit (osr/cli.h).  Output goes to
 * stdout (the address, or the phrase for export-phrase), messages to stderr. */
int osr_cmd_identity(int argc, char **argv);

/* argv[0] is "keys"; returns an exit code from enum osr_exit.  `create` prints the full key on
 * stdout once (it is never stored); `list` prints metadata only. */
int osr_cmd_keys(int argc, char **argv);

#endif
