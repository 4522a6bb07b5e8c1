/* cmd_map.c - glassheap map: draw one process's heap, block by block.
 *
 *   glassheap map PID [--width N] [--cell BYTES] [--rows N] [--relative]
 *                     [--color[=auto|always|never]] [--timeout MS]
 *                     [--source auto|outside|process] [--svg FILE] [--json]
 *
 * Walks the heap in the process's memory itself (the reader's walker,
 * walk.h: the region table from the segment, the boundary tags read with
 * process_vm_readv), so a sleeping, blocked or stopped process is drawn
 * too; when the kernel refuses (another user, Yama) or the walk fails, it
 * asks the process for a map through its segment (the library answers on
 * its next allocator call) and says so.  Every output names the source.
 * It draws the map:
 *
 *   - in the terminal: one row per address range of --width cells of
 *     --cell bytes each, labelled with the row's start address; a cell shows
 *     what fills most of it: '#' requested bytes of a used block, 'h' header
 *     or padding (a used block's header and the slack between what was
 *     requested and the block's size; region records and end markers), '.'
 *     a free block, ' ' not heap (between regions).  Rows identical to the
 *     one above and all of one kind are folded into one line; colour when
 *     stdout is a terminal;
 *   - as SVG (--svg): a handout picture: wrapped rows of a fixed number of
 *     bytes, blocks to scale, address labels at both ends of each row, block
 *     sizes on the blocks wide enough to hold them, a legend, and a caption
 *     with the policy and the fragmentation figures;
 *   - as JSON (--json): the block list and the figures.
 *
 * Each output also shows the large blocks the segment lists (mmap blocks,
 * outside the heap), when it lists any: a short list after the terminal
 * map, a strip under the SVG's rows, "large" in the JSON.
 *
 * This file: the options and the command.  The view (pieces, rows,
 * labels) is map_model.c, the terminal and JSON map_text.c, the SVG
 * map_svg.c.  Owns only presentation: the data comes from the reader
 * library; the fragmentation figures are ghr_fragmentation()'s.
 * A process that does not answer within --timeout gets one line saying so
 * and the last counters it published (exit 1).  A walked map's heap
 * figures (live, free, largest free, heap bytes) are the walk's; the call
 * counts and peaks are the segment's, as last published.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "map.h"

#define DEFAULT_TIMEOUT_MS 2000
#define MAX_WIDTH          1024
#define COUNTERS_WAIT_MS   500

/* ---- options ---------------------------------------------------------- */


static void help(FILE *f)
{
    fprintf(f,
            "usage: glassheap map PID [--width N] [--cell BYTES] [--rows N] [--relative]\n"
            "                         [--color[=auto|always|never]] [--timeout MS]\n"
            "                         [--source auto|outside|process] [--svg FILE] [--json]\n\n"
            "Draws the heap of process PID (running glassheap), block by block.  The heap\n"
            "is read from outside (process_vm_readv: the process need not make a call, it\n"
            "may sleep or be stopped); where the kernel does not allow that, the process\n"
            "is asked for its map instead.  The output says which was used.\n"
            "Terminal: rows of N cells (--width, default %d or the terminal's width), each\n"
            "cell BYTES bytes (--cell, a power of two; default: the smallest that fits the\n"
            "heap in about --rows lines, default %d), each row labelled with its start\n"
            "address.  A cell shows what fills most of it:\n"
            "  '#' requested bytes of a used block\n"
            "  'h' header or padding: a used block's header, the slack between its\n"
            "      requested and its block size, region records and end markers\n"
            "  '.' a free block\n"
            "  ' ' not heap (between regions)\n"
            "Rows like the one above, all of one kind, are folded into one line.\n\n"
            "--svg FILE    write an SVG picture instead ('-': stdout): blocks to scale,\n"
            "              addresses, sizes, a legend, policy and fragmentation figures\n"
            "--json        print the block list and the figures as one JSON object\n"
            "--relative    show heap addresses as offsets from the heap's start (large\n"
            "              blocks, outside the heap, are then listed without addresses)\n"
            "--color WHEN  colour the terminal map: auto (when stdout is a terminal),\n"
            "              always, never\n"
            "--timeout MS  how long to wait for the process to answer (default %d);\n"
            "              a process that makes no allocator calls never answers\n"
            "--source S    auto (default): read from outside, else ask the process;\n"
            "              outside: only read from outside; process: only ask\n\n"
            "Exit status: 0 drawn, 1 no such process, not running glassheap, exited or\n"
            "not answering, 2 usage, 3 other failures.\n",
            DEFAULT_WIDTH, DEFAULT_ROWS, DEFAULT_TIMEOUT_MS);
}

/* 0 ok, else an exit code. */
static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option opts[] = {
        { "svg", required_argument, NULL, 's' },
        { "width", required_argument, NULL, 'w' },
        { "cell", required_argument, NULL, 'c' },
        { "rows", required_argument, NULL, 'r' },
        { "timeout", required_argument, NULL, 't' },
        { "json", no_argument, NULL, 'j' },
        { "relative", no_argument, NULL, 'R' },
        { "color", optional_argument, NULL, 'C' },
        { "colour", optional_argument, NULL, 'C' },
        { "source", required_argument, NULL, 'S' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    memset(o, 0, sizeof *o);
    o->timeout_ms = DEFAULT_TIMEOUT_MS;
    o->color = -1;
    int c;
    long v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            o->svg = optarg;
            break;
        case 'w':
            if (!cli_parse_long(optarg, 8, MAX_WIDTH, &v)) {
                cli_error("map: --width takes a number of cells from 8 to %d, not '%s'", MAX_WIDTH, optarg);
                return GH_EXIT_USAGE;
            }
            o->width = (int)v;
            break;
        case 'c':
            if (!cli_parse_long(optarg, MIN_CELL, 1L << 30, &v) || (v & (v - 1))) {
                cli_error("map: --cell takes a power of two from %u bytes, not '%s'", MIN_CELL, optarg);
                return GH_EXIT_USAGE;
            }
            o->cell = (uint64_t)v;
            break;
        case 'r':
            if (!cli_parse_long(optarg, 1, 100000, &v)) {
                cli_error("map: --rows takes a positive number, not '%s'", optarg);
                return GH_EXIT_USAGE;
            }
            o->rows = (int)v;
            break;
        case 't':
            if (!cli_parse_long(optarg, 0, INT_MAX / 2, &v)) {
                cli_error("map: --timeout takes milliseconds, not '%s'", optarg);
                return GH_EXIT_USAGE;
            }
            o->timeout_ms = (int)v;
            break;
        case 'j':
            o->json = true;
            break;
        case 'S':
            if (!hm_parse_mode(optarg, &o->mode)) {
                cli_error("map: --source takes auto, outside or process, not '%s'", optarg);
                return GH_EXIT_USAGE;
            }
            break;
        case 'R':
            o->relative = true;
            break;
        case 'C':
            if (!optarg || !strcmp(optarg, "always"))
                o->color = 1;
            else if (!strcmp(optarg, "never"))
                o->color = 0;
            else if (!strcmp(optarg, "auto"))
                o->color = -1;
            else {
                cli_error("map: --color takes auto, always or never, not '%s'", optarg);
                return GH_EXIT_USAGE;
            }
            break;
        case 'h':
            help(stdout);
            return -1;
        default:
            help(stderr);
            return GH_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        cli_error(optind >= argc ? "map: which process? (glassheap map PID)"
                                 : "map: one process id only");
        return GH_EXIT_USAGE;
    }
    if (!cli_parse_pid(argv[optind], &o->pid))
        return GH_EXIT_USAGE;
    return 0;
}

/* ---- the command ------------------------------------------------------- */

static int not_answering(struct view *v, struct ghr_segment *seg, const struct options *o)
{
    int crc = ghr_counters(seg, &v->ctr);
    ghr_fragmentation(&v->ctr, &v->frag);
    cli_error("map: process %d did not answer within %d ms (it makes no allocator calls?); counters:", v->pid,
              o->timeout_ms);
    if (crc == GHR_OK)
        map_counters_summary(stderr, &v->cfg, &v->ctr, &v->frag);
    else
        fprintf(stderr, "  (none readable: %s)\n", ghr_strerror((enum ghr_error)crc));
    if (o->json) {
        printf("{\"pid\":%d,\"error\":\"timeout\",\"timeout_ms\":%d,\"policy\":", v->pid, o->timeout_ms);
        cli_json_string(stdout, v->cfg.policy);
        fputc(',', stdout);
        map_json_counters(stdout, &v->ctr, &v->frag);
        fputs("}\n", stdout);
    }
    return GH_EXIT_NOTFOUND;
}

int cmd_map(int argc, char **argv)
{
    struct options o;
    int rc = parse_options(argc, argv, &o);
    if (rc)
        return rc < 0 ? GH_EXIT_OK : rc;

    struct view v = { .pid = o.pid, .relative = o.relative };
    struct ghr_segment *seg = NULL;
    rc = ghr_open_pid(o.pid, &seg);
    if (rc != GHR_OK) {
        ghr_close(seg);
        return cli_open_failed("map", o.pid, rc);
    }
    int exit_code = GH_EXIT_OK;
    char prog[128];
    rc = ghr_config(seg, &v.cfg);
    if (rc != GHR_OK) {
        exit_code = cli_open_failed("map", o.pid, rc);
        goto out;
    }
    v.program = map_program_name(&v.cfg, prog, sizeof prog);
    struct hm_source from;
    struct ghw_heap walked;
    rc = hm_fetch_from(seg, o.mode, o.timeout_ms, v.cfg.header_bytes, &v.map, &from, &walked);
    if (rc == HM_WALK_FAILED) {
        cli_error("map: process %d: the heap cannot be read from outside: %s", o.pid, from.why);
        exit_code = from.walk_rc == GHW_REFUSED || from.walk_rc == GHW_NO_TABLE ? GH_EXIT_FAIL : GH_EXIT_NOTFOUND;
        goto out;
    }
    if (from.fell_back)
        cli_error("map: process %d: not read from outside (%s); asking the process", o.pid, from.why);
    if (rc == GHR_TIMEOUT) {
        exit_code = not_answering(&v, seg, &o);
        goto out;
    }
    if (rc != GHR_OK) {
        exit_code = cli_open_failed("map", o.pid, rc);
        goto out;
    }
    v.outside = from.outside;
    /* Asked: the library publishes its counters right after the map, ask
     * for a fresh copy so the figures describe the same heap.  Walked: the
     * heap's figures are the walk's, the rest as last published. */
    if (!v.outside && !ghr_header(seg)->live_offset) /* in place: current without asking */
        ghr_request_counters(seg, o.timeout_ms < COUNTERS_WAIT_MS ? o.timeout_ms : COUNTERS_WAIT_MS);
    struct hm_now_info now;
    rc = hm_counters_now(seg, v.outside ? &walked : NULL, &v.ctr, NULL, 0, NULL, &now);
    if (rc != GHR_OK) {
        exit_code = cli_open_failed("map", o.pid, rc);
        goto out;
    }
    ghr_fragmentation(&v.ctr, &v.frag);
    rc = map_fetch_large(&v, seg);
    if (rc != GHR_OK) {
        /* the heap map stands without them */
        cli_error("map: process %d: large-block list: %s; large blocks not shown", o.pid,
                  ghr_strerror((enum ghr_error)rc));
        v.nlarge = 0;
        v.large_total = 0;
    } else if (v.outside) {
        hm_overlay_large(v.large, v.nlarge, v.large_total, &v.ctr);
        ghr_fragmentation(&v.ctr, &v.frag);
    }
    v.base = v.relative && v.map.n ? v.map.heap_start : 0;
    if (!map_build_pieces(&v)) {
        cli_error("map: out of memory");
        exit_code = GH_EXIT_FAIL;
        goto out;
    }
    if (o.svg)
        exit_code = map_write_svg(&v, &o);
    if (exit_code == GH_EXIT_OK && o.json)
        exit_code = map_print_json(&v);
    else if (exit_code == GH_EXIT_OK && !o.svg)
        exit_code = map_draw_terminal(&v, &o);
out:
    free(v.large);
    free(v.pieces);
    hm_free(&v.map);
    ghr_close(seg);
    return exit_code;
}
