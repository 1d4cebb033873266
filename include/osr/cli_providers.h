/* cli_providers.h - `osaurus providers list|add|remove|test`.
 *
 *   list [--json]            every provider of providers/remote.json: id, type, URL, enabled,
 *                            whether a key is stored (never the key), and the proxy
 *   add [--preset P] [--id ID] [--type T] [--host H] [--https|--http] [--port N]
 *       [--base-path P] [--name N] [--model M]... [--disabled] [--api-key-stdin]
 *                            add a provider; the key, read from standard input, goes into the
 *                            encrypted secret store as {"apiKey": ...} under scope "provider"
 *   remove ID                remove a provider and its stored secrets
 *   test ID                  ask the upstream for its models with the stored key; print the
 *                            count, or the upstream's error
 *   proxy [URL | --clear]    show, set or clear the proxy for every upstream request
 *
 * remote.json is rewritten atomically; fields this command does not know are kept.  Every
 * subcommand accepts --home DIR.  Documented in docs/providers.md and docs/cli.md.
 *
 * Thread rules: called once from the command dispatcher on the main thread.
 */
#ifndef OSR_CLI_PROVIDERS_H
#define OSR_CLI_PROVIDERS_H

/* argv[0] is "providers".  Returns an exit code from enum osr_exit: 0 on success, 2 for a
 * usage error, 3 for an unusable remote.json, 1 when the command fails (unknown provider, an
 * upstream that fails the test, an I/O error). */
int osr_cmd_providers(int argc, char **argv);

#endif
