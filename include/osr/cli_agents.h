/* cli_agents.h - `osaurus agents`: list, create, show and remove agents by editing the files
 * under <home>/agents directly (no server needed). */
#ifndef OSR_CLI_AGENTS_H
#define OSR_CLI_AGENTS_H

/* argv[0] is "agents".  Returns an exit code from enum osr_exit: 0 on success, 2 for a usage
 * error, 1 when the agent is unknown, invalid or cannot be written. */
int osr_cmd_agents(int argc, char **argv);

#endif
