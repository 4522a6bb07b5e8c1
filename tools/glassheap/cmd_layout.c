/* cmd_layout.c - glassheap layout: one process's address space, drawn the
 * way OS textbooks draw it.
 *
 *   glassheap layout PID [--svg FILE] [--json] [--timeout MS]
 *                        [--source auto|outside|process]
 *
 * This file: the options.  The model (every mapping of /proc/PID/maps
 * classified, and what the glassheap segment adds: its own segment, its
 * heap regions, its large blocks) is layout_model.c; the text diagram,
 * --svg and --json are layout_output.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "layout.h"

#define DEFAULT_TIMEOUT_MS 1000

/* ---- the command ------------------------------------------------------- */

static void help(FILE *f)
{
    fprintf(f,
            "usage: glassheap layout PID [--svg FILE] [--json] [--timeout MS]\n"
            "                            [--source auto|outside|process]\n\n"
            "Draws the address space of process PID as OS textbooks do, high addresses at\n"
            "the top: the executable's text, read-only data, data and bss; the heap from\n"
            "the start of the break to the current break; anonymous mmap regions; shared\n"
            "libraries; the stack and its guard gap; the kernel's vvar/vdso; with the\n"
            "boundary addresses and sizes.  From /proc/PID/maps; when PID runs glassheap,\n"
            "its segment marks glassheap's own mappings (the segment, the heap and its\n"
            "regions, large blocks).\n\n"
            "--svg FILE    write an SVG picture ('-': stdout); box heights grow with the\n"
            "              logarithm of the size so that small regions stay visible\n"
            "--json        print the regions in address order as one JSON object\n"
            "--timeout MS  how long to wait for a heap map (default %d); without an\n"
            "              answer the last map the process wrote is used\n"
            "--source S    where the heap's regions come from: auto (default) reads the\n"
            "              heap from outside (process_vm_readv) and asks the process only\n"
            "              when that is refused; outside: only read; process: only ask\n\n"
            "Exit status: 0 drawn, 1 no such process, 2 usage, 3 other failures.\n",
            DEFAULT_TIMEOUT_MS);
}

int cmd_layout(int argc, char **argv)
{
    static const struct option opts[] = {
        { "svg", required_argument, NULL, 's' },
        { "json", no_argument, NULL, 'j' },
        { "timeout", required_argument, NULL, 't' },
        { "source", required_argument, NULL, 'S' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *svg = NULL;
    bool json = false;
    int timeout_ms = DEFAULT_TIMEOUT_MS;
    enum hm_mode mode = HM_AUTO;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            svg = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 't': {
            long v;
            if (!cli_parse_long(optarg, 0, INT_MAX / 2, &v)) {
                cli_error("layout: --timeout takes milliseconds, not '%s'", optarg);
                return GH_EXIT_USAGE;
            }
            timeout_ms = (int)v;
            break;
        }
        case 'S':
            if (!hm_parse_mode(optarg, &mode)) {
                cli_error("layout: --source takes auto, outside or process, not '%s'", optarg);
                return GH_EXIT_USAGE;
            }
            break;
        case 'h':
            help(stdout);
            return GH_EXIT_OK;
        default:
            help(stderr);
            return GH_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        cli_error(optind >= argc ? "layout: which process? (glassheap layout PID)" : "layout: one process id only");
        return GH_EXIT_USAGE;
    }
    struct layout l = { .mode = mode };
    if (!cli_parse_pid(argv[optind], &l.pid))
        return GH_EXIT_USAGE;
    if (!layout_read(&l, timeout_ms)) {
        int err = errno;
        layout_free(&l);
        if (kill(l.pid, 0) != 0 && errno == ESRCH) {
            cli_error("layout: no process %d", l.pid);
            return GH_EXIT_NOTFOUND;
        }
        cli_error("layout: cannot read /proc/%d/maps: %s", l.pid, strerror(err));
        return err == ENOENT ? GH_EXIT_NOTFOUND : GH_EXIT_FAIL;
    }
    int rc = GH_EXIT_OK;
    if (svg)
        rc = layout_write_svg(&l, svg);
    if (rc == GH_EXIT_OK && json)
        layout_print_json(&l);
    else if (rc == GH_EXIT_OK && !svg)
        layout_print_text(&l);
    if (fflush(stdout) != 0)
        rc = GH_EXIT_FAIL;
    layout_free(&l);
    return rc;
}
