/* cli_mcp.h - `osaurus mcp`: an MCP server on standard input/output for desktop clients.
 *
 * Thread rules: called once from the command dispatcher on the main thread.
 */
#ifndef OSR_CLI_MCP_H
#define OSR_CLI_MCP_H

/* argv[0] is "mcp"; returns an exit code from enum osr_exit. */
int osr_cmd_mcp(int argc, char **argv);

#endif
