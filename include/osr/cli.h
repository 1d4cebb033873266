/* cli.h - the osaurus command line: serve, status, stop, version, help.
 *
 * Thread rules: called once, from main.
 */
#ifndef OSR_CLI_H
#define OSR_CLI_H

/* Exit codes, documented in docs/cli.md. */
enum osr_exit {
    OSR_EXIT_OK = 0,
    OSR_EXIT_FAILURE = 1,     /* the command ran and failed (server not running, ...) */
    OSR_EXIT_USAGE = 2,       /* bad flags or arguments */
    OSR_EXIT_CONFIG = 3,      /* invalid configuration file */
    OSR_EXIT_UNAVAILABLE = 4, /* the port is in use or the address cannot be bound */
};

/* Runs the command line; returns the process exit code. */
int osr_cli_main(int argc, char **argv);

#endif
