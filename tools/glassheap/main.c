/* main.c - the glassheap command: dispatch to a subcommand.
 *
 *   glassheap run [--policy P] [--stats[=json]] -- CMD [ARGS...]
 *   glassheap <subcommand> --help
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <glassheap/version.h>

#include "cli.h"

struct subcommand {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
};

static const struct subcommand subcommands[] = {
    { "run", cmd_run, "run a program on glassheap" },
#ifdef GH_CLI_EXTRA
    GH_CLI_EXTRA
#endif
};

static void usage(FILE *f)
{
    fprintf(f, "usage: glassheap <subcommand> [options]\n\nsubcommands:\n");
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        fprintf(f, "  %-12s %s\n", subcommands[i].name, subcommands[i].summary);
    fprintf(f, "\n'glassheap <subcommand> --help' tells more.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return GH_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return GH_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("glassheap %s\n", GLASSHEAP_VERSION);
        return GH_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        if (!strcmp(argv[1], subcommands[i].name))
            return subcommands[i].fn(argc - 1, argv + 1);
    cli_error("'%s' is not a glassheap subcommand (see 'glassheap --help')", argv[1]);
    return GH_EXIT_USAGE;
}
