/* cmd_ps.c - glassheap ps: every live process that publishes a glassheap
 * segment, one line each; stale segments are reported and removed.
 *
 *   glassheap ps [--json] [--keep-stale] [--timeout MS]
 *
 * Owns: the scan of GH_SHM_DIR (through the reader's ghr_list), reading
 * every live process's counters (in place, glassheap/live.h, with its heap
 * walked from outside where the kernel allows it: hm_counters_now; an
 * older writer is asked for fresh counters, all at once, under one shared
 * deadline), the table and its JSON form, and reaping stale segments
 * (ghr_remove_stale re-checks each one before it unlinks it).
 *
 * Columns: PID, POLICY, HEAP (heap bytes: break and regions), LIVE (live
 * requested bytes in the heap), UTIL% (LIVE / HEAP), EXTFRAG% (1 - largest
 * free block / free bytes), COMMAND.  Large mmap blocks are apart from HEAP
 * and LIVE, as in DESIGN.md's definitions (stat shows them).  A process of
 * an older writer that did not answer in time shows the counters it
 * published last, marked '*'.
 *
 * Stale segments (the process exited without its exit handler, or the pid
 * now names another process) go to stderr as "stale: <pid> (removed)", or
 * "(kept)" with --keep-stale.  Other users' segments are counted in one
 * line on stderr (only root reads them); segments that cannot be read
 * (another layout version, corrupt) get one line each.
 *
 * Exit: 0 listed (also when there is nothing to list); 2 usage; 3 the
 * directory cannot be read, or out of memory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "escape.h"
#include "clock.h"
#include "heapmap.h"
#include "reader.h"

#define DEFAULT_TIMEOUT_MS 200
#define MAX_TIMEOUT_MS     600000
#define POLL_NS            2000000L   /* 2 ms between looks at the answers */
#define BYTES_BUF          32
#define COMMAND_WIDTH_MAX  512

static void help(FILE *f)
{
    fprintf(f,
            "usage: glassheap ps [--json] [--keep-stale] [--timeout MS]\n\n"
            "Lists every live process running glassheap (every /dev/shm/glassheap.<pid>):\n"
            "  PID  POLICY  HEAP  LIVE  UTIL%%  EXTFRAG%%  COMMAND\n"
            "HEAP is what the heap holds from the OS (break and regions), LIVE the bytes\n"
            "its callers asked for and still hold, UTIL%% = LIVE / HEAP, EXTFRAG%% =\n"
            "1 - largest free block / free bytes.  Large mmap blocks are not in HEAP or\n"
            "LIVE ('glassheap stat PID' shows them).\n\n"
            "ps asks every process for fresh counters and waits up to --timeout\n"
            "milliseconds (default %d) for all of them together; a process that makes no\n"
            "allocator call meanwhile shows the counters it published last, marked '*'.\n\n"
            "Segments whose process is gone (killed, or the pid reused) are stale: each\n"
            "is reported on stderr as 'stale: <pid> (removed)' and removed, or kept with\n"
            "--keep-stale.  --json prints one object:\n"
            "  {\"processes\":[{\"pid\":..,\"policy\":..,\"heap_bytes\":..,...}],\"stale\":[pids],...}\n",
            DEFAULT_TIMEOUT_MS);
}

/* ---- the scan --------------------------------------------------------- */

struct entry {
    int pid;
    enum ghr_error status;         /* from the scan */
    struct ghr_segment *seg;       /* live ones, while waiting */
    uint64_t want;                 /* answered >= want: fresh */
    int fresh;
    int have;                      /* c and cfg hold data */
    uint32_t version;              /* found, for GHR_BAD_VERSION */
    struct gh_shm_config cfg;
    struct gh_shm_counters c;
    struct ghr_frag frag;
};

struct list {
    struct entry *e;
    size_t n, cap;
    int oom;
};

static void collect(void *ctx, int pid, enum ghr_error status)
{
    struct list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        struct entry *e = realloc(l->e, cap * sizeof *e);
        if (!e) {
            l->oom = 1;
            return;
        }
        l->e = e;
        l->cap = cap;
    }
    struct entry *e = &l->e[l->n++];
    memset(e, 0, sizeof *e);
    e->pid = pid;
    e->status = status;
}

static int by_pid(const void *a, const void *b)
{
    int x = ((const struct entry *)a)->pid, y = ((const struct entry *)b)->pid;
    return (x > y) - (x < y);
}

/* Open every live entry and ask it for counters (without waiting). */
static void ask_all(struct list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        struct entry *e = &l->e[i];
        if (e->status != GHR_OK && e->status != GHR_BAD_VERSION)
            continue;
        struct ghr_segment *seg = NULL;
        int rc = ghr_open_pid(e->pid, &seg);
        if (rc == GHR_OK && ghr_header(seg)->live_offset) {
            e->fresh = 1; /* counters kept in place: nothing to ask */
        } else if (rc == GHR_OK) {
            rc = ghr_request_counters(seg, 0);
            if (rc == GHR_OK || rc == GHR_TIMEOUT) {
                e->fresh = rc == GHR_OK;
                /* our request, or a later one: answered >= it means fresh */
                struct gh_shm_counters c;
                rc = ghr_counters(seg, &c);
                e->want = c.request;
            }
        }
        if (rc == GHR_OK) {
            e->seg = seg;
            continue;
        }
        if (rc == GHR_BAD_VERSION)
            e->version = ghr_version_found(seg);
        ghr_close(seg);
        e->status = (enum ghr_error)rc; /* it changed since the scan */
    }
}

/* Read the counters of every open entry, waiting until each answered or
 * the deadline passed; then close them. */
static void gather(struct list *l, int timeout_ms)
{
    uint64_t deadline = gh_now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        int waiting = 0;
        for (size_t i = 0; i < l->n; i++) {
            struct entry *e = &l->e[i];
            if (!e->seg || e->fresh)
                continue;
            struct gh_shm_counters c;
            if (ghr_counters(e->seg, &c) == GHR_OK && c.answered >= e->want)
                e->fresh = 1;
            else
                waiting = 1;
        }
        if (!waiting || gh_now_ns() >= deadline)
            break;
        struct timespec ts = { 0, POLL_NS };
        nanosleep(&ts, NULL);
    }
    for (size_t i = 0; i < l->n; i++) {
        struct entry *e = &l->e[i];
        if (!e->seg)
            continue;
        int rc = ghr_config(e->seg, &e->cfg);
        struct hm_now_info now;
        struct ghw_heap w; /* counted only: the largest free block now */
        bool walked = rc == GHR_OK && ghw_walk_segment(e->seg, 0, &w) == GHW_OK;
        if (rc == GHR_OK)
            rc = hm_counters_now(e->seg, walked ? &w : NULL, &e->c, NULL, 0, NULL, &now);
        if (walked)
            ghw_free(&w);
        if (rc == GHR_OK) {
            e->have = 1;
            ghr_fragmentation(&e->c, &e->frag);
        } else {
            e->status = (enum ghr_error)rc;
        }
        ghr_close(e->seg);
        e->seg = NULL;
    }
}

/* Remove (or keep) the stale segments; reports on stderr.  An entry whose
 * segment turned out live meanwhile (a new process took the pid and the
 * name) is left for the next run. */
static void reap(const struct list *l, int keep)
{
    for (size_t i = 0; i < l->n; i++) {
        const struct entry *e = &l->e[i];
        if (e->status != GHR_STALE)
            continue;
        if (keep) {
            fprintf(stderr, "stale: %d (kept)\n", e->pid);
            continue;
        }
        int rc = ghr_remove_stale(e->pid);
        if (rc == GHR_OK)
            fprintf(stderr, "stale: %d (removed)\n", e->pid);
        else if (rc == GHR_ALIVE)
            fprintf(stderr, "stale: %d (kept: a live process has taken its place)\n", e->pid);
        else
            fprintf(stderr, "stale: %d (not removed: %s)\n", e->pid, ghr_strerror((enum ghr_error)rc));
    }
}

/* ---- output ----------------------------------------------------------- */

/* A command line on one table row: escaped (escape.h), at most
 * COMMAND_WIDTH_MAX bytes of it shown. */
static void print_command(const char *s)
{
    char cut[COMMAND_WIDTH_MAX + 1], shown[GH_ESC_BUF(COMMAND_WIDTH_MAX)];
    snprintf(cut, sizeof cut, "%s", s);
    fputs(gh_esc_text(cut, shown, sizeof shown), stdout);
}

static int is_live(const struct entry *e)
{
    return e->status == GHR_OK && e->have;
}

static void print_json(const struct list *l)
{
    FILE *f = stdout;
    const char *sep = "";
    fprintf(f, "{\"processes\":[");
    for (size_t i = 0; i < l->n; i++) {
        const struct entry *e = &l->e[i];
        if (!is_live(e))
            continue;
        const struct gh_shm_counters *c = &e->c;
        fprintf(f, "%s{\"pid\":%d,\"command\":", sep, e->pid);
        cli_json_string(f, e->cfg.cmdline);
        fprintf(f, ",\"policy\":");
        cli_json_string(f, e->cfg.policy);
        fprintf(f,
                ",\"fresh\":%s,\"heap_bytes\":%" PRIu64 ",\"live_requested\":%" PRIu64
                ",\"live_block_bytes\":%" PRIu64 ",\"live_blocks\":%" PRIu64
                ",\"free_bytes\":%" PRIu64 ",\"free_blocks\":%" PRIu64 ",\"largest_free\":%" PRIu64
                ",\"large_requested\":%" PRIu64 ",\"large_bytes\":%" PRIu64
                ",\"peak_requested\":%" PRIu64 ",\"peak_heap_bytes\":%" PRIu64
                ",\"utilisation\":%.17g,\"external_fragmentation\":%.17g"
                ",\"internal_fragmentation\":%.17g}",
                e->fresh ? "true" : "false", c->heap_bytes, c->live_requested,
                c->live_block_bytes, c->live_blocks, c->free_bytes, c->free_blocks,
                c->largest_free, c->large_requested, c->large_bytes, c->peak_requested,
                c->peak_heap_bytes, e->frag.utilisation, e->frag.external, e->frag.internal);
        sep = ",";
    }
    fprintf(f, "],\"stale\":[");
    sep = "";
    for (size_t i = 0; i < l->n; i++)
        if (l->e[i].status == GHR_STALE) {
            fprintf(f, "%s%d", sep, l->e[i].pid);
            sep = ",";
        }
    fprintf(f, "],\"other_users\":[");
    sep = "";
    for (size_t i = 0; i < l->n; i++)
        if (l->e[i].status == GHR_NOT_OWNER) {
            fprintf(f, "%s%d", sep, l->e[i].pid);
            sep = ",";
        }
    fprintf(f, "],\"unreadable\":[");
    sep = "";
    for (size_t i = 0; i < l->n; i++) {
        const struct entry *e = &l->e[i];
        if (is_live(e) || e->status == GHR_STALE || e->status == GHR_NOT_OWNER ||
            e->status == GHR_NO_SEGMENT || e->status == GHR_NO_PROCESS)
            continue;
        fprintf(f, "%s{\"pid\":%d,\"error\":", sep, e->pid);
        cli_json_string(f, ghr_strerror(e->status));
        if (e->status == GHR_BAD_VERSION)
            fprintf(f, ",\"version\":%" PRIu32, e->version);
        fprintf(f, "}");
        sep = ",";
    }
    fprintf(f, "]}\n");
}

static void print_table(const struct list *l)
{
    int stars = 0;
    printf("%7s  %-6s %10s %10s %6s %8s  %s\n", "PID", "POLICY", "HEAP", "LIVE", "UTIL%",
           "EXTFRAG%", "COMMAND");
    for (size_t i = 0; i < l->n; i++) {
        const struct entry *e = &l->e[i];
        if (!is_live(e))
            continue;
        char heap[BYTES_BUF], live[BYTES_BUF];
        cli_bytes(e->c.heap_bytes, heap, sizeof heap);
        cli_bytes(e->c.live_requested, live, sizeof live);
        char policy[GH_ESC_BUF(sizeof e->cfg.policy)];
        printf("%6d%c  %-6s %10s %10s %6.1f %8.1f  ", e->pid, e->fresh ? ' ' : '*',
               gh_esc_text(e->cfg.policy, policy, sizeof policy), heap, live, 100.0 * e->frag.utilisation,
               100.0 * e->frag.external);
        print_command(e->cfg.cmdline[0] ? e->cfg.cmdline : "?");
        putchar('\n');
        stars |= !e->fresh;
    }
    if (stars)
        printf("* did not answer in time: the counters it published last\n");
}

/* Lines on stderr for what the table does not show (stale ones: reap()). */
static void print_notes(const struct list *l)
{
    size_t others = 0;
    for (size_t i = 0; i < l->n; i++) {
        const struct entry *e = &l->e[i];
        switch (e->status) {
        case GHR_OK: case GHR_STALE: case GHR_NO_SEGMENT: case GHR_NO_PROCESS:
            break;
        case GHR_NOT_OWNER:
            others++;
            break;
        case GHR_BAD_VERSION:
            cli_error("ps: segment of %d has layout version %" PRIu32 "; this glassheap reads version %u",
                      e->pid, e->version, GH_SHM_VERSION);
            break;
        default:
            cli_error("ps: segment of %d: %s", e->pid, ghr_strerror(e->status));
        }
    }
    if (others)
        cli_error("ps: %zu segment%s of other users not shown (only root may read them)",
                  others, others == 1 ? "" : "s");
}

/* ---- the command ------------------------------------------------------ */

int cmd_ps(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' },
        { "keep-stale", no_argument, NULL, 'k' },
        { "timeout", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int json = 0, keep = 0, timeout_ms = DEFAULT_TIMEOUT_MS, opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "jkt:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'j':
            json = 1;
            break;
        case 'k':
            keep = 1;
            break;
        case 't': {
            long v;
            if (!cli_parse_long(optarg, 0, MAX_TIMEOUT_MS, &v)) {
                cli_error("ps: --timeout takes milliseconds from 0 to %d, not '%s'",
                          MAX_TIMEOUT_MS, optarg);
                return GH_EXIT_USAGE;
            }
            timeout_ms = (int)v;
            break;
        }
        case 'h':
            help(stdout);
            return GH_EXIT_OK;
        default:
            help(stderr);
            return GH_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        cli_error("ps: unexpected argument '%s' (glassheap ps [--json] [--keep-stale] [--timeout MS])",
                  argv[optind]);
        return GH_EXIT_USAGE;
    }

    struct list l = { 0 };
    int rc = ghr_list(collect, &l);
    if (rc != GHR_OK || l.oom) {
        cli_error("ps: cannot read %s: %s", GH_SHM_DIR,
                  l.oom ? strerror(ENOMEM) : ghr_strerror((enum ghr_error)rc));
        free(l.e);
        return GH_EXIT_FAIL;
    }
    if (l.n)
        qsort(l.e, l.n, sizeof *l.e, by_pid);
    ask_all(&l);
    gather(&l, timeout_ms);

    if (json)
        print_json(&l);
    else
        print_table(&l);
    fflush(stdout);
    print_notes(&l);
    reap(&l, keep);
    free(l.e);
    if (ferror(stdout)) {
        cli_error("ps: cannot write the output");
        return GH_EXIT_FAIL;
    }
    return GH_EXIT_OK;
}
