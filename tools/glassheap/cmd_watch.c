/* cmd_watch.c - glassheap watch: sample one process's heap over time,
 * without its cooperation, for scripts and plots.
 *
 *   glassheap watch PID [--interval MS] [--count N] [--json]
 *
 * Each interval: the counters as the segment holds them (never asked for:
 * the process need not make a call), and the heap walked from outside
 * (walk.h) - heap bytes, live and free bytes and blocks, the largest free
 * block, the free-block histogram, buddy orders - and the large blocks from
 * the segment's list.  --json prints one JSON object per line (strings
 * escaped by tools/lib/escape.c's rule, through cli_json_string), the text
 * view one line per sample under a header.  Where the kernel does not let
 * us read the process, a sample carries the counters' figures and says so
 * ("source": "counters" and a "note").  Stops after --count samples, or
 * when the process exits (one last sample with "exited": true).
 *
 * Owns only the loop and the two line formats; the walk is the reader's,
 * the figures' formulas ghr_fragmentation's and heapmap.c's overlays.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "clock.h"
#include "escape.h"
#include "heapmap.h"
#include "reader.h"
#include "walk.h"

#define WATCH_DEFAULT_INTERVAL_MS 1000
#define WATCH_MIN_INTERVAL_MS     10
#define WATCH_MAX_INTERVAL_MS     3600000
#define NS_PER_MS                 1000000ull
#define NS_PER_S                  1000000000ull

static void help(FILE *f)
{
    fprintf(f,
            "usage: glassheap watch PID [--interval MS] [--count N] [--json]\n\n"
            "Samples the heap of process PID (running glassheap) every MS milliseconds\n"
            "(%d..%d, default %d) without its cooperation: the counters as its segment\n"
            "holds them, and the heap read from outside (process_vm_readv): heap bytes,\n"
            "live and free bytes and blocks, the largest free block, the free blocks by\n"
            "size (buddy: by order), fragmentation.  A sleeping, blocked or stopped\n"
            "process is sampled all the same.  Where the kernel does not allow reading\n"
            "it, a sample shows the figures of its counters and says so.\n\n"
            "  --interval MS   time between samples\n"
            "  --count N       stop after N samples (default: until the process exits)\n"
            "  --json          one JSON object per sample and line (for scripts, plots)\n\n"
            "Without --json: a header, then one line per sample.  When the process exits,\n"
            "one last sample says so and watch stops (exit 0).\n\n"
            "Exit status: 0 done; 1 no such process, not running glassheap, already\n"
            "exited; 2 usage; 3 other failures.\n",
            WATCH_MIN_INTERVAL_MS, WATCH_MAX_INTERVAL_MS, WATCH_DEFAULT_INTERVAL_MS);
}

struct sample {
    double time_s;
    struct gh_shm_counters c;
    struct ghr_frag frag;
    bool outside, exited;
    uint64_t seq;
    char note[GHW_WHY_MAX];
    struct gh_shm_arena arenas[GH_SHM_ARENAS_CAPACITY]; /* each arena's own */
    size_t narenas;
    bool in_place;           /* the counters kept in place (else as published) */
};

static void take(struct ghr_segment *seg, uint64_t start_ns, struct sample *s)
{
    memset(s, 0, sizeof *s);
    s->exited = ghr_check(seg) == GHR_STALE;
    struct ghw_heap w;
    int rc = s->exited ? GHW_GONE : ghw_walk_segment(seg, 0, &w);
    struct hm_now_info now;
    if (hm_counters_now(seg, rc == GHW_OK ? &w : NULL, &s->c, s->arenas, GH_SHM_ARENAS_CAPACITY, &s->narenas, &now)
        != GHR_OK) {
        memset(&s->c, 0, sizeof s->c);
        s->narenas = 0;
    }
    s->in_place = now.live.in_place;
    if (rc == GHW_OK) {
        s->outside = true;
        s->seq = w.seq;
        ghw_free(&w);
    } else if (s->exited) {
        snprintf(s->note, sizeof s->note, "the process has exited: its last published counters");
    } else {
        snprintf(s->note, sizeof s->note, "%s", w.why);
    }
    ghr_fragmentation(&s->c, &s->frag);
    s->time_s = (double)(gh_now_ns() - start_ns) / NS_PER_S;
}

static void print_json(int pid, const char *policy, bool buddy, const struct sample *s)
{
    const struct gh_shm_counters *c = &s->c;
    printf("{\"time_s\":%.3f,\"pid\":%d,\"policy\":", s->time_s, pid);
    cli_json_string(stdout, policy);
    printf(",\"source\":\"%s\",\"counters_source\":\"%s\"", s->outside ? "outside" : "counters",
           s->in_place ? "in place" : "published");
    if (!s->outside) {
        fputs(",\"note\":", stdout);
        cli_json_string(stdout, s->note);
    } else {
        printf(",\"seq\":%" PRIu64, s->seq);
    }
    printf(",\"heap_bytes\":%" PRIu64 ",\"live_requested\":%" PRIu64 ",\"live_blocks\":%" PRIu64
           ",\"live_block_bytes\":%" PRIu64 ",\"free_bytes\":%" PRIu64 ",\"free_blocks\":%" PRIu64
           ",\"largest_free\":%" PRIu64 ",\"overhead_bytes\":%" PRIu64 ",\"regions\":%" PRIu64
           ",\"large_blocks\":%" PRIu64 ",\"large_bytes\":%" PRIu64,
           c->heap_bytes, c->live_requested, c->live_blocks, c->live_block_bytes, c->free_bytes, c->free_blocks,
           c->largest_free, c->overhead_bytes, c->regions, c->large_blocks, c->large_bytes);
    printf(",\"utilisation\":%.6f,\"external_fragmentation\":%.6f,\"internal_fragmentation\":%.6f",
           s->frag.utilisation, s->frag.external, s->frag.internal);
    printf(",\"calls\":{\"malloc\":%" PRIu64 ",\"calloc\":%" PRIu64 ",\"realloc\":%" PRIu64 ",\"free\":%" PRIu64
           ",\"aligned\":%" PRIu64 ",\"failed\":%" PRIu64 "},\"publishes\":%" PRIu64,
           c->malloc_calls, c->calloc_calls, c->realloc_calls, c->free_calls, c->aligned_calls, c->failed_calls,
           c->publishes);
    fputs(",\"histogram\":[", stdout);
    const char *sep = "";
    for (unsigned k = 0; k < GH_SHM_HIST_BUCKETS; k++) {
        if (!c->free_hist[k])
            continue;
        uint64_t hi = k + 1 < 64 ? (uint64_t)1 << (k + 1) : UINT64_MAX;
        printf("%s{\"min\":%" PRIu64 ",\"max\":%" PRIu64 ",\"count\":%" PRIu64 "}", sep, (uint64_t)1 << k, hi,
               c->free_hist[k]);
        sep = ",";
    }
    fputs("]", stdout);
    if (buddy) {
        fputs(",\"buddy_orders\":[", stdout);
        sep = "";
        for (unsigned k = 0; k < GH_SHM_ORDERS; k++) {
            if (!c->buddy_free[k])
                continue;
            printf("%s{\"order\":%u,\"free\":%" PRIu64 "}", sep, k, c->buddy_free[k]);
            sep = ",";
        }
        fputs("]", stdout);
    }
    printf(",\"cached_bytes\":%" PRIu64, c->cached_bytes);
    cli_json_arenas(stdout, s->arenas, s->narenas);
    printf(",\"exited\":%s}\n", s->exited ? "true" : "false");
}

static void print_text(const struct sample *s)
{
    char heap[32], live[32], freeb[32], largest[32];
    printf("%9.3f %11s %11s %11s %11s %6.1f%% %6.1f%% %s\n", s->time_s, cli_bytes(s->c.heap_bytes, heap, sizeof heap),
           cli_bytes(s->c.live_requested, live, sizeof live), cli_bytes(s->c.free_bytes, freeb, sizeof freeb),
           cli_bytes(s->c.largest_free, largest, sizeof largest), 100 * s->frag.utilisation,
           100 * s->frag.external, s->exited ? "exited" : s->outside ? "outside" : "counters");
}

static void sleep_until(uint64_t deadline_ns)
{
    struct timespec ts = { (time_t)(deadline_ns / NS_PER_S), (long)(deadline_ns % NS_PER_S) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

int cmd_watch(int argc, char **argv)
{
    static const struct option opts[] = {
        { "interval", required_argument, NULL, 'i' },
        { "count", required_argument, NULL, 'n' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    long interval = WATCH_DEFAULT_INTERVAL_MS, count = 0;
    bool json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "i:n:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            if (!cli_parse_long(optarg, WATCH_MIN_INTERVAL_MS, WATCH_MAX_INTERVAL_MS, &interval)) {
                cli_error("watch: --interval takes milliseconds from %d to %d, not '%s'", WATCH_MIN_INTERVAL_MS,
                          WATCH_MAX_INTERVAL_MS, optarg);
                return GH_EXIT_USAGE;
            }
            break;
        case 'n':
            if (!cli_parse_long(optarg, 1, LONG_MAX, &count)) {
                cli_error("watch: --count takes a positive number of samples, not '%s'", optarg);
                return GH_EXIT_USAGE;
            }
            break;
        case 'j':
            json = true;
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
        cli_error("watch: give one process id (glassheap watch PID [--interval MS] [--count N] [--json])");
        return GH_EXIT_USAGE;
    }
    int pid;
    if (!cli_parse_pid(argv[optind], &pid))
        return GH_EXIT_USAGE;
    struct ghr_segment *seg = NULL;
    int rc = ghr_open_pid(pid, &seg);
    if (rc != GHR_OK) {
        ghr_close(seg);
        return cli_open_failed("watch", pid, rc);
    }
    struct gh_shm_config cfg;
    if ((rc = ghr_config(seg, &cfg)) != GHR_OK) {
        ghr_close(seg);
        return cli_open_failed("watch", pid, rc);
    }
    bool buddy = !strcmp(cfg.policy, "buddy");
    char policy[GH_ESC_BUF(sizeof cfg.policy)];
    if (!json)
        printf("# glassheap watch: pid %d (%s), every %ld ms; source: outside = read from outside, counters = "
               "as published\n%9s %11s %11s %11s %11s %7s %7s %s\n",
               pid, gh_esc_text(cfg.policy, policy, sizeof policy), interval, "time_s", "heap", "live", "free",
               "largest", "util", "ext", "source");
    uint64_t start = gh_now_ns(), next = start;
    struct sample s;
    for (long i = 0; count == 0 || i < count; i++) {
        if (i > 0) {
            next += (uint64_t)interval * NS_PER_MS;
            sleep_until(next);
        }
        take(seg, start, &s);
        if (json)
            print_json(pid, cfg.policy, buddy, &s);
        else
            print_text(&s);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            cli_error("watch: cannot write the output: %s", strerror(errno));
            ghr_close(seg);
            return GH_EXIT_FAIL;
        }
        if (s.exited)
            break;
    }
    ghr_close(seg);
    return GH_EXIT_OK;
}
