/* cmd_top.c - glassheap top: watch one process's heap live.
 *
 *   glassheap top [--interval MS] [--iterations N] [--batch] [--json] PID
 *
 * Owns the sampling loop and both views of it.  Each interval it reads the
 * counters the process keeps in place and walks the heap from outside
 * (hm_counters_now, walk.h: no cooperation needed, so an idle or stopped
 * process shows its counters and heap as they are; an older writer is
 * asked for fresh counters, ghr_request_counters): the
 * heap's figures and, in the terminal view, the heap map come from the
 * walk; where the kernel refuses it, from the counters and a map asked for
 * (ghr_map), as the view says.
 *
 * The terminal view (ncurses, htop's keys: q quits, p pauses, + and -
 * lengthen and shorten the interval; a shows each arena in place of the
 * free-block bars and back): the counters, sparklines of external
 * fragmentation and utilisation over the last intervals, a one-line heap map
 * (each cell: the share of its bytes in use), and the free blocks by size as
 * horizontal bars.  When the process exits the view says so and stays until
 * q.  When stdout or stdin is not a terminal (or with --batch / --json) it
 * prints one line per interval instead and stops, exit 0, when the process
 * exits.  A process that execs a program with glassheap preloaded gets a new
 * segment under the same name: top follows it (and tells an exec from an
 * exit by /proc).
 *
 * Files: this one owns the options, the sampling and the line view;
 * top_screen.c the terminal view.
 *
 * Never writes to the process beyond the request counters the ABI provides;
 * every figure is read through the reader, which validates the segment.
 * Built without ncurses (GLASSHEAP_HAVE_CURSES undefined), the terminal view
 * falls back to the line view with a note.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <langinfo.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "escape.h"
#include "clock.h"
#include "heapmap.h"
#include "proc.h"
#include "reader.h"
#include "top.h"

#define TOP_DEFAULT_INTERVAL_MS 1000
#define TOP_MIN_INTERVAL_MS 50
#define TOP_MAX_INTERVAL_MS 60000
#define TOP_WAIT_MIN_MS 20      /* how long one request may wait for the writer */
#define TOP_WAIT_MAX_MS 200
#define NS_PER_S 1000000000ull


static void help(FILE *f)
{
    fprintf(f,
            "usage: glassheap top [--interval MS] [--iterations N] [--batch] [--json] PID\n\n"
            "Watches the heap of process PID (which runs with glassheap preloaded) live.\n"
            "In a terminal: its counters, sparklines of external fragmentation and\n"
            "utilisation over the last intervals, a one-line heap map (each cell shows the\n"
            "share of its bytes in use: '#'/full block in use, '.'/dot free), and the free\n"
            "blocks by size (buddy: by order).  Keys: q quits, p pauses and resumes, +\n"
            "lengthens and - shortens the refresh interval.  When the process exits the\n"
            "view says so and stays until q.\n\n"
            "When stdout (or stdin) is not a terminal, or with --batch, prints one line per\n"
            "interval: seconds since start, heap bytes, live requested bytes, utilisation,\n"
            "external fragmentation, allocator calls per second; and 'process PID exited'\n"
            "when it exits (exit status 0).  --json prints one JSON object per line instead.\n"
            "The heap's figures and map are read from outside (process_vm_readv), so an\n"
            "idle or stopped process shows its heap as it is; where the kernel does not\n"
            "allow that, they come from the counters it publishes and a map it answers\n"
            "(\"heap_source\" in JSON says which).\n\n"
            "  --interval MS    refresh interval in milliseconds (%d..%d, default %d)\n"
            "  --iterations N   stop after N refreshes (default: until the process exits,\n"
            "                   or q)\n"
            "  --batch          the line view even on a terminal\n"
            "  --json           the line view, one JSON object per line\n\n"
            "Exit status: 0 done; 1 no such process, no glassheap segment, or the process\n"
            "has already exited; 2 usage; 3 other failures.\n",
            TOP_MIN_INTERVAL_MS, TOP_MAX_INTERVAL_MS, TOP_DEFAULT_INTERVAL_MS);
}

/* ---- sampling ---------------------------------------------------------- */

static uint64_t total_calls(const struct gh_shm_counters *c)
{
    return c->malloc_calls + c->calloc_calls + c->realloc_calls + c->free_calls + c->aligned_calls;
}

static int request_wait_ms(const struct top *t)
{
    int w = t->interval_ms / 4;
    if (w < TOP_WAIT_MIN_MS)
        w = TOP_WAIT_MIN_MS;
    if (w > TOP_WAIT_MAX_MS)
        w = TOP_WAIT_MAX_MS;
    return w;
}

/* A process that exec'd a program with glassheap preloaded publishes a new
 * segment file under the same name (the old one is stale): follow it. */
static void follow_exec(struct top *t)
{
    dev_t dev;
    ino_t ino;
    if (!ghr_file_id(t->pid, &dev, &ino) || (dev == t->dev && ino == t->ino))
        return;
    struct ghr_segment *fresh = NULL;
    if (ghr_open_pid(t->pid, &fresh) == GHR_OK) {
        ghr_close(t->seg);
        t->seg = fresh;
        t->dev = dev;
        t->ino = ino;
        t->execd = false;
        t->samples = 0; /* new counters: no rate against the old image's */
        t->hist_n = 0;
        t->have_map = false;
        ghr_config(t->seg, &t->cfg);
    } else {
        ghr_close(fresh);
    }
}

static void push_history(struct top *t)
{
    struct ghr_frag f;
    ghr_fragmentation(&t->cur, &f);
    if (t->hist_n == TOP_HISTORY) {
        memmove(t->ext_hist, t->ext_hist + 1, (TOP_HISTORY - 1) * sizeof t->ext_hist[0]);
        memmove(t->util_hist, t->util_hist + 1, (TOP_HISTORY - 1) * sizeof t->util_hist[0]);
        t->hist_n--;
    }
    t->ext_hist[t->hist_n] = f.external;
    t->util_hist[t->hist_n] = f.utilisation;
    t->hist_n++;
}

/* One refresh: fresh counters (and the map when want_map), the rate, the
 * history; notices the exit.  Once exited it reads nothing more. */
void top_sample(struct top *t, bool want_map)
{
    if (t->exited)
        return;
    follow_exec(t);
    int wait = request_wait_ms(t);
    /* counters kept in place need no request */
    const struct gh_shm_header *hdr = ghr_header(t->seg);
    int rc = hdr && hdr->live_offset && !t->exited ? ghr_check(t->seg) : ghr_request_counters(t->seg, wait);
    t->fresh = rc == GHR_OK;
    t->execd = false;
    if (rc == GHR_STALE || ghr_check(t->seg) == GHR_STALE) {
        if (gh_proc_alive(t->pid))
            t->execd = true; /* until its new program publishes a segment */
        else
            t->exited = true; /* its last publish, at exit, is what we read now */
    }
    struct ghw_heap w;
    int wrc = t->exited ? GHW_GONE : ghw_walk_segment(t->seg, want_map && t->blocks ? TOP_MAP_CAP : 0, &w);
    t->outside = wrc == GHW_OK;
    struct gh_shm_counters c;
    struct hm_now_info now;
    size_t narenas = 0;
    if (hm_counters_now(t->seg, t->outside ? &w : NULL, &c, t->arenas, GH_SHM_ARENAS_CAPACITY, &narenas, &now)
        == GHR_OK) {
        t->in_place = now.live.in_place;
        t->prev = t->cur;
        t->cur = c;
        t->samples++;
        t->have_rate = false;
        if (t->samples > 1) {
            t->have_rate = true;
            t->rate = 0;
            if (c.time_ns > t->prev.time_ns && total_calls(&c) >= total_calls(&t->prev))
                t->rate = (double)(total_calls(&c) - total_calls(&t->prev)) * NS_PER_S /
                          (double)(c.time_ns - t->prev.time_ns);
        }
        push_history(t);
        t->narenas = narenas;
    }
    if (t->outside) {
        if (want_map && t->blocks) {
            memcpy(t->blocks, w.blocks, w.n * sizeof *t->blocks);
            t->nblocks = w.n;
            t->total_blocks = w.total;
            t->have_map = true;
            t->map_outside = true;
        }
        ghw_free(&w);
    } else if (want_map) {
        size_t n = 0;
        uint64_t total = 0;
        /* after the exit: the last map it wrote, if any */
        int mrc = ghr_map(t->seg, t->exited ? -1 : wait, t->blocks, TOP_MAP_CAP, &n, &total);
        if (mrc == GHR_OK && (n > 0 || !t->exited)) {
            t->nblocks = n;
            t->total_blocks = total;
            t->have_map = true;
            t->map_outside = false;
        }
    }
}

/* ---- the line view ----------------------------------------------------- */

static double elapsed_s(const struct top *t)
{
    return (double)(gh_now_ns() - t->start_ns) / NS_PER_S;
}

static void print_line(const struct top *t, bool json)
{
    struct ghr_frag f;
    ghr_fragmentation(&t->cur, &f);
    const struct gh_shm_counters *c = &t->cur;
    if (json) {
        printf("{\"time_s\":%.3f,\"pid\":%d,\"policy\":", elapsed_s(t), t->pid);
        cli_json_string(stdout, t->cfg.policy);
        printf(",\"heap_bytes\":%llu,"
               "\"live_requested\":%llu,\"live_blocks\":%llu,\"free_bytes\":%llu,"
               "\"free_blocks\":%llu,\"largest_free\":%llu,\"peak_heap_bytes\":%llu,"
               "\"utilisation\":%.6f,\"external_fragmentation\":%.6f,"
               "\"internal_fragmentation\":%.6f,\"calls\":%llu,",
               (unsigned long long)c->heap_bytes,
               (unsigned long long)c->live_requested, (unsigned long long)c->live_blocks,
               (unsigned long long)c->free_bytes, (unsigned long long)c->free_blocks,
               (unsigned long long)c->largest_free, (unsigned long long)c->peak_heap_bytes,
               f.utilisation, f.external, f.internal, (unsigned long long)total_calls(c));
        if (t->have_rate)
            printf("\"calls_per_s\":%.1f,", t->rate);
        else
            printf("\"calls_per_s\":null,");
        printf("\"heap_source\":\"%s\",", t->outside ? "outside" : "counters");
        printf("\"fresh\":%s,\"execd\":%s,\"exited\":%s", t->fresh ? "true" : "false",
               t->execd ? "true" : "false", t->exited ? "true" : "false");
        printf(",\"cached_bytes\":%llu", (unsigned long long)c->cached_bytes);
        cli_json_arenas(stdout, t->arenas, t->narenas);
        fputs("}\n", stdout);
    } else {
        char heap[32], live[32], rate[32];
        if (t->have_rate)
            snprintf(rate, sizeof rate, "%.0f", t->rate);
        else
            snprintf(rate, sizeof rate, "-");
        printf("%8.3f %11s %11s %6.1f%% %6.1f%% %10s\n", elapsed_s(t),
               cli_bytes(c->heap_bytes, heap, sizeof heap),
               cli_bytes(c->live_requested, live, sizeof live), 100 * f.utilisation,
               100 * f.external, rate);
    }
    fflush(stdout);
}

static void sleep_until(uint64_t deadline_ns)
{
    struct timespec ts = { (time_t)(deadline_ns / NS_PER_S), (long)(deadline_ns % NS_PER_S) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static int run_lines(struct top *t, long iterations, bool json)
{
    char policy[GH_ESC_BUF(sizeof t->cfg.policy)];
    if (!json)
        printf("# glassheap top: pid %d (%s), every %d ms; heap read from outside where the kernel allows\n"
               "%8s %11s %11s %7s %7s %10s\n",
               t->pid, gh_esc_text(t->cfg.policy, policy, sizeof policy), t->interval_ms, "time_s", "heap",
               "live", "util", "ext", "calls/s");
    uint64_t next = t->start_ns;
    for (long i = 0; iterations == 0 || i < iterations; i++) {
        if (i > 0) {
            next += (uint64_t)t->interval_ms * NS_PER_MS;
            sleep_until(next);
        }
        top_sample(t, /* map */ false);
        print_line(t, json);
        if (t->exited) {
            if (!json)
                printf("process %d exited\n", t->pid);
            fflush(stdout);
            break;
        }
    }
    return GH_EXIT_OK;
}

/* ---- the command ------------------------------------------------------- */

int cmd_top(int argc, char **argv)
{
    static const struct option opts[] = {
        { "interval", required_argument, NULL, 'i' },
        { "iterations", required_argument, NULL, 'n' },
        { "batch", no_argument, NULL, 'b' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    long interval = TOP_DEFAULT_INTERVAL_MS, iterations = 0;
    bool batch = false, json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "i:n:bjh", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            if (!cli_parse_long(optarg, TOP_MIN_INTERVAL_MS, TOP_MAX_INTERVAL_MS, &interval)) {
                cli_error("top: --interval takes milliseconds from %d to %d, not '%s'",
                          TOP_MIN_INTERVAL_MS, TOP_MAX_INTERVAL_MS, optarg);
                return GH_EXIT_USAGE;
            }
            break;
        case 'n':
            if (!cli_parse_long(optarg, 1, LONG_MAX, &iterations)) {
                cli_error("top: --iterations takes a positive count, not '%s'", optarg);
                return GH_EXIT_USAGE;
            }
            break;
        case 'b':
            batch = true;
            break;
        case 'j':
            json = batch = true;
            break;
        case 'h':
            help(stdout);
            return GH_EXIT_OK;
        default:
            help(stderr);
            return GH_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        cli_error("top: give one process id (glassheap top [options] PID)");
        return GH_EXIT_USAGE;
    }
    struct top *t = calloc(1, sizeof *t);
    if (!t) {
        cli_error("top: out of memory");
        return GH_EXIT_FAIL;
    }
    if (!cli_parse_pid(argv[optind], &t->pid)) {
        free(t);
        return GH_EXIT_USAGE;
    }
    t->interval_ms = (int)interval;
    ghr_file_id(t->pid, &t->dev, &t->ino);
    int rc = ghr_open_pid(t->pid, &t->seg);
    if (rc != GHR_OK) {
        int pid = t->pid;
        ghr_close(t->seg);
        free(t);
        return cli_open_failed("top", pid, rc);
    }
    ghr_config(t->seg, &t->cfg);
    t->start_ns = gh_now_ns();

    if (!batch && !(isatty(STDOUT_FILENO) && isatty(STDIN_FILENO)))
        batch = true; /* the terminal view reads its keys from stdin */
#ifndef GLASSHEAP_HAVE_CURSES
    if (!batch) {
        cli_error("top: this glassheap was built without ncurses; printing one line per interval");
        batch = true;
    }
#endif
    int status = GH_EXIT_OK;
    if (batch)
        status = run_lines(t, iterations, json);
#ifdef GLASSHEAP_HAVE_CURSES
    else
        status = top_run_terminal(t, iterations);
#endif
    ghr_close(t->seg);
    free(t->blocks);
    free(t);
    return status;
}
