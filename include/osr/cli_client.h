/* cli_client.h - commands that ask the running server: `osaurus list`, `osaurus show MODEL`.
 *
 * Thread rules: called once from the command dispatcher on the main thread.
 */
#ifndef OSR_CLI_CLIENT_H
#define OSR_CLI_CLIENT_H

int osr_cmd_list(int argc, char **argv);
int osr_cmd_show(int argc, char **argv);

#endif
