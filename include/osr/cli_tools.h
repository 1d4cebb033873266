/* cli_tools.h - `osaurus tools`: list every tool the server would offer (built-ins and the
 * MCP providers' tools, connecting to each provider), and store MCP provider secrets.
 *
 * Thread rules: called once from the command dispatcher on the main thread.
 */
#ifndef OSR_CLI_TOOLS_H
#define OSR_CLI_TOOLS_H

/* argv[0] is "tools".  Returns an exit code from enum osr_exit: 0 on success, 2 for a usage
 * error, 3 when providers/mcp.json or config/tools.json is invalid, 1 for other failures. */
int osr_cmd_tools(int argc, char **argv);

#endif
