/* cli_run.h - `osaurus run`: one agent task, or an interactive chat with an agent, in the
 * terminal (in this process, no server needed). */
#ifndef OSR_CLI_RUN_H
#define OSR_CLI_RUN_H

/* argv[0] is "run".  Returns 0 when the agent completed, answered or asked a question, 1 when
 * it failed or ran out of budget, 2 for a usage error, 3 for a bad configuration, 130 when
 * interrupted. */
int osr_cmd_run(int argc, char **argv);

#endif
