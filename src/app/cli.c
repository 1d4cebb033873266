/* cli.c - the command dispatcher: `osaurus <command> [args]`.
 *
 * Each command is a function taking (argc, argv) with argv[0] the command's name; this file
 * only finds it, and prints the overview for help.
 */
#include <stdio.h>
#include <string.h>

#include "osr/cli.h"
#include "osr/cli_agents.h"
#include "osr/cli_client.h"
#include "osr/cli_engine.h"
#include "osr/cli_identity.h"
#include "osr/cli_mcp.h"
#include "osr/cli_models.h"
#include "osr/cli_providers.h"
#include "osr/cli_run.h"
#include "osr/cli_serve.h"
#include "osr/cli_storage.h"
#include "osr/cli_tokenize.h"
#include "osr/cli_tools.h"

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
};

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct command commands[] = {
    {"serve", osr_cmd_serve, "run the server in the foreground"},
    {"status", osr_cmd_status, "tell whether a server is running and where"},
    {"stop", osr_cmd_stop, "stop the running server"},
    {"list", osr_cmd_list, "list the models the running server offers"},
    {"show", osr_cmd_show, "show what the running server knows of a model"},
    {"identity", osr_cmd_identity, "show, create, back up or recover this install's identity"},
    {"keys", osr_cmd_keys, "create, list, revoke and verify osk-v1 access keys"},
    {"storage", osr_cmd_storage, "show or change the encryption of stored data"},
    {"models", osr_cmd_models, "list, add, remove and inspect local GGUF models"},
    {"providers", osr_cmd_providers, "list, add, remove and test cloud providers; set a proxy"},
    {"agents", osr_cmd_agents, "list, create, show and remove agents (agents/<uuid>.json)"},
    {"run", osr_cmd_run, "run an agent on a task, or chat with it, in this terminal"},
    {"mcp", osr_cmd_mcp, "speak MCP on stdin/stdout for desktop clients (proxies to the server)"},
    {"tools", osr_cmd_tools, "list the tools (built-in and MCP providers'); store MCP secrets"},
    {"tokenize", osr_cmd_tokenize, "print the token ids of standard input for a GGUF model"},
    {"logits", osr_cmd_logits,
     "print a model's logits for token ids as JSON (llama.cpp-comparable)"},
    {"bench", osr_cmd_bench, "measure a model's prompt and generation speed (llama-bench style)"},
    {"version", cmd_version, "print the version"},
    {"help", cmd_help, "show help for a command"},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void overview(FILE *out)
{
    fputs("usage: osaurus <command> [options]\n\n"
          "Osaurus: a local AI harness with OpenAI, Anthropic, Ollama and MCP APIs on one port.\n\n"
          "commands:\n",
          out);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fputs("\nRun 'osaurus <command> --help' for a command's options.\n", out);
}

static const struct command *find(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static int cmd_version(int argc, char **argv)
{
    (void)argv;
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        puts("usage: osaurus version\n\nPrints the version.");
        return OSR_EXIT_OK;
    }
    printf("osaurus %s\n", OSR_VERSION);
    return OSR_EXIT_OK;
}

static int cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        overview(stdout);
        return OSR_EXIT_OK;
    }
    const struct command *c = find(argv[1]);
    if (!c) {
        fprintf(stderr, "osaurus help: unknown command '%s'\n", argv[1]);
        return OSR_EXIT_USAGE;
    }
    char *sub[] = {(char *)c->name, (char *)"--help", NULL};
    return c->fn(2, sub);
}

int osr_cli_main(int argc, char **argv)
{
    if (argc < 2) {
        overview(stderr);
        return OSR_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        overview(stdout);
        return OSR_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-v") == 0)
        name = "version";
    const struct command *c = find(name);
    if (!c) {
        fprintf(stderr, "osaurus: unknown command '%s'\n\n", name);
        overview(stderr);
        return OSR_EXIT_USAGE;
    }
    return c->fn(argc - 1, argv + 1);
}
