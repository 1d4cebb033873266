/* main.c - the osaurus command: dispatches to a subcommand in app/cli.c. */
#include "osr/cli.h"

int main(int argc, char **argv)
{
    return osr_cli_main(argc, argv);
}
