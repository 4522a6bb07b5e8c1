/* cmd_stat.c - glassheap stat: one process's counters, fragmentation,
 * free-block histogram and buddy orders, from one consistent snapshot.
 *
 *   glassheap stat [--json] [--timeout MS] PID
 *
 * Owns: turning the reader's view of one segment into text a person reads
 * (sizes in B/KiB/MiB with the exact byte count in parentheses) or into one
 * JSON object of exact integers; and the error messages for every way a
 * PID can fail to be readable.  Never does: read the segment itself (the
 * reader library validates and copies), write into it beyond the reader's
 * request word, or remove it (ps reaps stale segments).
 *
 * Freshness: a process that keeps its counters in place (glassheap/live.h)
 * is read as it is, with no request and no wait: every counter as of each
 * arena's last completed call, also while it sleeps, blocks or is stopped
 * ("counters_source": "in place").  With an older writer stat asks the
 * process to publish its counters now and waits up to --timeout ms
 * (default 1000); a process that makes no allocator call in that time
 * cannot answer: stat then says so in one line on stderr and shows the
 * counters it published last, with their age, and still exits 0 ("fresh":
 * false in JSON).  Either way the snapshot is consistent: copied under the
 * writer's sequence locks.
 *
 * The heap as it is now - live, free, largest free, heap bytes, the
 * free-block histogram and the buddy orders, the large blocks from the
 * segment's list - is walked from outside (the
 * reader's walker, walk.h) whenever the kernel lets us read the process, so
 * an idle or stopped process shows its heap exactly; the headings say
 * "read from outside" ("heap_source": "outside"), else "as published" and
 * why ("heap_source": "counters", "heap_source_note").
 *
 * Exit: 0 shown; 1 no such process, no glassheap in it, stale segment,
 * counters kept locked; 2 usage; 3 another user's segment, another layout
 * version, a corrupt segment, a failed system call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
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
#include "reader.h"
#include "walk.h"

#define DEFAULT_TIMEOUT_MS 1000
#define MAX_TIMEOUT_MS     600000
#define BYTES_BUF          64
#define COMM_BUF           64
#define NS_PER_S           1e9

static void help(FILE *f)
{
    fprintf(f,
            "usage: glassheap stat [--json] [--timeout MS] PID\n\n"
            "Prints the counters of process PID in one consistent snapshot: calls, heap\n"
            "bytes, fragmentation, system calls, the free-block size histogram and, under\n"
            "the buddy policy, free blocks per order; with several arenas, each one's.\n"
            "Sizes are shown in B/KiB/MiB with the exact byte count in parentheses;\n"
            "--json prints one object with every counter as an exact integer.\n\n"
            "The counters are read where the process keeps them, current as of its last\n"
            "allocator call, also while it sleeps, blocks or is stopped (\"counters in\n"
            "place\").  A process of an older glassheap is asked to publish them and\n"
            "waited for up to --timeout milliseconds (default %d); if it makes no\n"
            "allocator call meanwhile, stat says so on stderr and shows the counters it\n"
            "published last, with their age (\"fresh\": false in JSON).\n"
            "The heap's figures and histogram are read from outside (process_vm_readv),\n"
            "exact also for an idle or stopped process, where the kernel allows it; the\n"
            "headings say which source was used.\n\n"
            "Exit status: 0 shown; 1 no such process, not running glassheap, stale segment;\n"
            "2 usage; 3 another user's segment, another layout version, a corrupt segment.\n",
            DEFAULT_TIMEOUT_MS);
}

/* ---- small helpers ---------------------------------------------------- */

/* The kernel's short name of pid (/proc/<pid>/comm), or "" when unknown. */
static void proc_comm(int pid, char *buf, size_t cap)
{
    char path[64];
    buf[0] = '\0';
    snprintf(path, sizeof path, "/proc/%d/comm", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    if (n <= 0) {
        buf[0] = '\0';
        return;
    }
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
}

/* "1.5 KiB (1536 B)", or "512 B" below 1 KiB. */
static const char *bytes_exact(uint64_t n, char *buf, size_t cap)
{
    char human[BYTES_BUF];
    cli_bytes(n, human, sizeof human);
    if (n < 1024)
        snprintf(buf, cap, "%s", human);
    else
        snprintf(buf, cap, "%s (%" PRIu64 " B)", human, n);
    return buf;
}

/* 2^k in the largest unit that keeps it whole: "64 B", "4 KiB", "2 MiB". */
static const char *pow2_size(unsigned k, char *buf, size_t cap)
{
    static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
    unsigned u = k / 10;
    if (u >= sizeof units / sizeof units[0])
        u = sizeof units / sizeof units[0] - 1;
    snprintf(buf, cap, "%" PRIu64 " %s", (uint64_t)1 << (k - 10 * u), units[u]);
    return buf;
}

/* The smallest buddy order shown: log2 of the minimum block (0 when unset). */
static unsigned first_order(const struct gh_shm_config *cfg)
{
    unsigned k = 0;
    while (k + 1 < GH_SHM_ORDERS && ((uint64_t)1 << (k + 1)) <= cfg->min_block)
        k++;
    return cfg->min_block ? k : 0;
}

/* The largest buddy order shown: the configured maximum, or the highest
 * order holding a free block, whichever is larger (the counters are
 * untrusted: never index past GH_SHM_ORDERS). */
static unsigned last_order(const struct gh_shm_config *cfg, const struct gh_shm_counters *c)
{
    unsigned k = cfg->buddy_max_order < GH_SHM_ORDERS ? cfg->buddy_max_order : GH_SHM_ORDERS - 1;
    for (unsigned i = k + 1; i < GH_SHM_ORDERS; i++)
        if (c->buddy_free[i])
            k = i;
    return k;
}

static int is_buddy(const struct gh_shm_config *cfg)
{
    return strcmp(cfg->policy, "buddy") == 0;
}

/* ---- errors ----------------------------------------------------------- */

/* The owner of the segment file of pid, for the "another user" message. */
static void owner_name(int pid, char *buf, size_t cap)
{
    char path[64];
    struct stat st;
    buf[0] = '\0';
    snprintf(path, sizeof path, GH_SHM_DIR "/glassheap.%d", pid);
    if (stat(path, &st) != 0)
        return;
    struct passwd *pw = getpwuid(st.st_uid);
    if (pw)
        snprintf(buf, cap, " (uid %u, %s)", (unsigned)st.st_uid, pw->pw_name);
    else
        snprintf(buf, cap, " (uid %u)", (unsigned)st.st_uid);
}

/* One line for an open/read error; returns the exit status. */
static int report(int pid, int err, const struct ghr_segment *seg)
{
    char comm[COMM_BUF], who[COMM_BUF + 32];
    switch (err) {
    case GHR_NO_PROCESS:
        cli_error("stat: no process %d", pid);
        return GH_EXIT_NOTFOUND;
    case GHR_NO_SEGMENT:
        proc_comm(pid, comm, sizeof comm);
        if (comm[0])
            cli_error("stat: process %d (%s) is not running glassheap", pid, comm);
        else
            cli_error("stat: process %d is not running glassheap", pid);
        return GH_EXIT_NOTFOUND;
    case GHR_STALE:
        cli_error("stat: the segment of %d is stale: the process exited or was replaced "
                  "('glassheap ps' removes it)", pid);
        return GH_EXIT_NOTFOUND;
    case GHR_NOT_OWNER:
        owner_name(pid, who, sizeof who);
        cli_error("stat: segment of %d belongs to another user%s; only that user or root may read it",
                  pid, who);
        return GH_EXIT_FAIL;
    case GHR_FORGED:
        owner_name(pid, who, sizeof who);
        cli_error("stat: segment of %d is owned by another user than the process's%s: forged, not shown",
                  pid, who);
        return GH_EXIT_FAIL;
    case GHR_BAD_VERSION:
        cli_error("stat: segment of %d has layout version %" PRIu32 "; this glassheap reads version %u",
                  pid, ghr_version_found(seg), GH_SHM_VERSION);
        return GH_EXIT_FAIL;
    case GHR_BUSY:
        cli_error("stat: process %d: %s", pid, ghr_strerror(GHR_BUSY));
        return GH_EXIT_NOTFOUND;
    default:
        cli_error("stat: segment of %d: %s", pid, ghr_strerror((enum ghr_error)err));
        return GH_EXIT_FAIL;
    }
}

/* ---- output ----------------------------------------------------------- */

struct view {
    int pid;
    int fresh;                       /* in place, or the process answered our request */
    struct hm_now_info now;          /* now.live.in_place: the counters kept in place */
    uint64_t age_ns;                 /* since the counters were published */
    const struct gh_shm_header *hdr;
    struct gh_shm_config cfg;
    struct gh_shm_counters c;
    struct ghr_frag frag;
    int outside;                     /* the heap's figures were walked from outside */
    char heap_note[GHW_WHY_MAX];     /* else why not */
    struct gh_shm_arena arenas[GH_SHM_ARENAS_CAPACITY]; /* each arena's own, as published */
    size_t narenas;                  /* 0: a writer without the table */
};


static const char *heap_source(const struct view *v)
{
    return v->outside ? ghw_source_name(true) : "as published";
}

/* Every counter of struct gh_shm_counters but the sequence and request
 * words and the arrays, in layout order, under its shm.h name. */
#define COUNTER_FIELDS(X)                                                          \
    X(publishes) X(time_ns)                                                        \
    X(malloc_calls) X(calloc_calls) X(realloc_calls) X(realloc_in_place)           \
    X(realloc_moved) X(free_calls) X(aligned_calls) X(failed_calls)                \
    X(brk_calls) X(brk_grow_bytes) X(brk_shrink_bytes)                             \
    X(mmap_calls) X(mmap_bytes) X(munmap_calls) X(munmap_bytes) X(mremap_calls)    \
    X(madvise_calls) X(madvise_bytes) X(trims) X(trimmed_bytes)                    \
    X(live_requested) X(live_block_bytes) X(live_blocks)                           \
    X(free_bytes) X(free_blocks) X(largest_free)                                   \
    X(heap_bytes) X(overhead_bytes) X(regions)                                     \
    X(large_requested) X(large_bytes) X(large_blocks)                              \
    X(peak_requested) X(peak_block_bytes) X(peak_heap_bytes) X(peak_large_bytes) \
    X(mremap_bytes)                                                                \
    X(harden_on) X(quarantined_blocks) X(quarantined_bytes)                        \
    X(quarantined_requested) X(canary_bytes) X(zero_blocks)                        \
    X(cache_on) X(cached_blocks) X(cached_bytes) X(cached_requested) X(cache_hits) \
    X(arenas)                                                                      \
    X(mmap_threshold_now) X(mmap_threshold_dynamic) X(mmap_threshold_rises)        \
    X(large_cached_blocks) X(large_cached_bytes) X(large_reused)

static void print_json(const struct view *v)
{
    FILE *f = stdout;
    const struct gh_shm_counters *c = &v->c;
    fprintf(f, "{\"pid\":%d,\"command\":", v->pid);
    cli_json_string(f, v->cfg.cmdline);
    fprintf(f, ",\"policy\":");
    cli_json_string(f, v->cfg.policy);
    fprintf(f, ",\"fresh\":%s,\"age_ns\":%" PRIu64, v->fresh ? "true" : "false", v->age_ns);
    fprintf(f, ",\"counters_source\":\"%s\",\"torn_arenas\":%u", v->now.live.in_place ? "in place" : "published",
            v->now.live.torn);
    fprintf(f, ",\"heap_source\":\"%s\"", v->outside ? "outside" : "counters");
    if (!v->outside) {
        fputs(",\"heap_source_note\":", f);
        cli_json_string(f, v->heap_note);
    }
    fprintf(f, ",\"segment\":{\"version\":%" PRIu32 ",\"uid\":%" PRIu32 ",\"start_time_ns\":%" PRIu64 "}",
            v->hdr->version, v->hdr->uid, v->hdr->start_time_ns);
    fprintf(f,
            ",\"config\":{\"mmap_threshold\":%" PRIu64 ",\"trim_threshold\":%" PRIu64
            ",\"top_pad\":%" PRIu64 ",\"buddy_max_order\":%" PRIu32 ",\"alignment\":%" PRIu32
            ",\"header_bytes\":%" PRIu32 ",\"min_block\":%" PRIu32 "}",
            v->cfg.mmap_threshold, v->cfg.trim_threshold, v->cfg.top_pad, v->cfg.buddy_max_order,
            v->cfg.alignment, v->cfg.header_bytes, v->cfg.min_block);
    fprintf(f, ",\"counters\":{");
    const char *sep = "";
#define X(name)                                                      \
    fprintf(f, "%s\"" #name "\":%" PRIu64, sep, c->name);            \
    sep = ",";
    COUNTER_FIELDS(X)
#undef X
    fprintf(f, "}");
    fprintf(f, ",\"fragmentation\":{\"internal\":%.17g,\"external\":%.17g,"
               "\"utilisation\":%.17g,\"peak_utilisation\":%.17g}",
            v->frag.internal, v->frag.external, v->frag.utilisation, v->frag.peak_utilisation);
    fprintf(f, ",\"histogram\":[");
    sep = "";
    for (unsigned k = 0; k < GH_SHM_HIST_BUCKETS; k++) {
        if (!c->free_hist[k])
            continue;
        /* [2^k, 2^(k+1)); the top bucket's bound would overflow: 2^64 - 1 */
        uint64_t hi = k + 1 < 64 ? (uint64_t)1 << (k + 1) : UINT64_MAX;
        fprintf(f, "%s{\"min\":%" PRIu64 ",\"max\":%" PRIu64 ",\"count\":%" PRIu64 "}",
                sep, (uint64_t)1 << k, hi, c->free_hist[k]);
        sep = ",";
    }
    fprintf(f, "],\"buddy_orders\":[");
    if (is_buddy(&v->cfg)) {
        sep = "";
        for (unsigned k = first_order(&v->cfg); k <= last_order(&v->cfg, c); k++) {
            fprintf(f, "%s{\"order\":%u,\"size\":%" PRIu64 ",\"free\":%" PRIu64 "}",
                    sep, k, (uint64_t)1 << k, c->buddy_free[k]);
            sep = ",";
        }
    }
    fputc(']', f);
    cli_json_arenas(f, v->arenas, v->narenas);
    fputs("}\n", f);
}

/* Each arena's own figures and their totals, when there are several. */
static void print_arenas(const struct view *v)
{
    if (v->narenas < 2)
        return;
    printf("each arena, %s (its heap counts cached blocks as used)\n",
           v->now.live.in_place ? (v->outside ? "in place, largest free read from outside" : "in place, largest free as published")
                            : "as published");
    printf("  %5s %7s %12s %14s %14s %14s %12s %14s %7s\n", "arena", "threads", "calls", "heap B",
           "used B", "free B", "overhead B", "largest free", "regions");
    for (size_t k = 0; k < v->narenas; k++) {
        const struct gh_shm_arena *a = &v->arenas[k];
        printf("  %5" PRIu64 " %7" PRIu64 " %12" PRIu64 " %14" PRIu64 " %14" PRIu64 " %14" PRIu64 " %12" PRIu64
               " %14" PRIu64 " %7" PRIu64 "\n", a->index, a->threads, a->calls, a->heap_bytes,
               a->used_block_bytes, a->free_bytes, a->overhead_bytes, a->largest_free, a->regions);
    }
    struct gh_shm_arena t = cli_arenas_total(v->arenas, v->narenas);
    printf("  %5s %7" PRIu64 " %12" PRIu64 " %14" PRIu64 " %14" PRIu64 " %14" PRIu64 " %12" PRIu64
           " %14" PRIu64 " %7" PRIu64 "\n", "total", t.threads, t.calls, t.heap_bytes,
           t.used_block_bytes, t.free_bytes, t.overhead_bytes, t.largest_free, t.regions);
}

#define LABEL "  %-18s "

static void line_bytes(const char *label, uint64_t n)
{
    char b[2 * BYTES_BUF];
    printf(LABEL "%s\n", label, bytes_exact(n, b, sizeof b));
}

static void line_count(const char *label, uint64_t n)
{
    printf(LABEL "%" PRIu64 "\n", label, n);
}

static void line_calls_bytes(const char *label, uint64_t calls, uint64_t bytes)
{
    char b[2 * BYTES_BUF];
    printf(LABEL "%" PRIu64 " %s, %s\n", label, calls, calls == 1 ? "call" : "calls",
           bytes_exact(bytes, b, sizeof b));
}

static void line_percent(const char *label, double fraction)
{
    printf(LABEL "%.2f %%\n", label, 100.0 * fraction);
}

static void print_text(const struct view *v)
{
    const struct gh_shm_counters *c = &v->c;
    char b1[2 * BYTES_BUF], b2[BYTES_BUF];

    printf("process\n");
    printf(LABEL "%d\n", "pid", v->pid);
    char shown[GH_ESC_BUF(sizeof v->cfg.cmdline)];
    printf(LABEL "%s\n", "command", v->cfg.cmdline[0] ? gh_esc_text(v->cfg.cmdline, shown, sizeof shown) : "?");
    printf(LABEL "%s\n", "policy", gh_esc_text(v->cfg.policy, shown, sizeof shown));
    printf(LABEL "mmap threshold %s, alignment %" PRIu32 " B, block header %" PRIu32
           " B, minimum block %" PRIu32 " B", "config",
           bytes_exact(v->cfg.mmap_threshold, b1, sizeof b1), v->cfg.alignment,
           v->cfg.header_bytes, v->cfg.min_block);
    if (is_buddy(&v->cfg))
        printf(", largest order %" PRIu32 " (%s)", v->cfg.buddy_max_order,
               v->cfg.buddy_max_order < 64 ? pow2_size(v->cfg.buddy_max_order, b2, sizeof b2) : "?");
    printf("\n");
    if (v->now.live.in_place)
        printf(LABEL "in place (current: as of each arena's last call); last published %.3f s ago (#%" PRIu64
               ")\n", "counters", (double)v->age_ns / NS_PER_S, c->publishes);
    else
        printf(LABEL "%s, published %.3f s ago (#%" PRIu64 ")\n", "counters",
               v->fresh ? "fresh" : "NOT fresh (the process did not answer)",
               (double)v->age_ns / NS_PER_S, c->publishes);

    printf("calls\n");
    line_count("malloc", c->malloc_calls);
    line_count("calloc", c->calloc_calls);
    printf(LABEL "%" PRIu64 " (in place %" PRIu64 ", moved %" PRIu64 ")\n", "realloc",
           c->realloc_calls, c->realloc_in_place, c->realloc_moved);
    line_count("free", c->free_calls);
    line_count("aligned", c->aligned_calls);
    line_count("failed", c->failed_calls);

    printf("heap (%s)\n", heap_source(v));
    if (!v->outside && v->heap_note[0]) {
        char note[GH_ESC_BUF(GHW_WHY_MAX)];
        printf(LABEL "%s\n", "not walked", gh_esc_text(v->heap_note, note, sizeof note));
    }
    line_bytes("heap bytes", c->heap_bytes);
    line_count("regions", c->regions);
    line_bytes("live requested", c->live_requested);
    line_bytes("live block bytes", c->live_block_bytes);
    line_count("live blocks", c->live_blocks);
    line_bytes("free bytes", c->free_bytes);
    line_count("free blocks", c->free_blocks);
    line_bytes("largest free", c->largest_free);
    line_bytes("overhead", c->overhead_bytes);

    if (c->harden_on) {
        printf("hardened (GLASSHEAP_HARDEN=1; live excludes the quarantine)\n");
        line_bytes("quarantined", c->quarantined_bytes);
        line_count("quarantined blocks", c->quarantined_blocks);
        line_bytes("quarantined req.", c->quarantined_requested);
        line_bytes("canary bytes", c->canary_bytes);
        line_count("zero-size blocks", c->zero_blocks);
    }

    if (c->cache_on || c->arenas > 1) {
        printf("arenas and thread caches (GLASSHEAP_ARENAS, GLASSHEAP_CACHE; live excludes the cached)\n");
        line_count("arenas", c->arenas ? c->arenas : 1);
        printf("  %-18s %s\n", "thread caches", c->cache_on ? "on" : "off");
        line_bytes("cached", c->cached_bytes);
        line_count("cached blocks", c->cached_blocks);
        line_bytes("cached req.", c->cached_requested);
        line_count("cache hits", c->cache_hits);
    }

    print_arenas(v);

    printf("large blocks (own mmap, at or above the threshold)\n");
    line_bytes("requested", c->large_requested);
    line_bytes("mapped", c->large_bytes);
    line_count("blocks", c->large_blocks);
    if (c->mmap_threshold_now)
        printf(LABEL "%s, %s, raised %" PRIu64 " %s\n", "threshold", bytes_exact(c->mmap_threshold_now, b1, sizeof b1),
               c->mmap_threshold_dynamic ? "dynamic" : "fixed", c->mmap_threshold_rises,
               c->mmap_threshold_rises == 1 ? "time" : "times");
    else /* a writer older than the field: the one at start */
        printf(LABEL "%s at start\n", "threshold", bytes_exact(v->cfg.mmap_threshold, b1, sizeof b1));
    printf(LABEL "%" PRIu64 " %s, %s, reused %" PRIu64 " %s\n", "cached", c->large_cached_blocks,
           c->large_cached_blocks == 1 ? "mapping" : "mappings", bytes_exact(c->large_cached_bytes, b1, sizeof b1),
           c->large_reused, c->large_reused == 1 ? "time" : "times");

    printf("peaks\n");
    line_bytes("requested", c->peak_requested);
    line_bytes("block bytes", c->peak_block_bytes);
    line_bytes("heap bytes", c->peak_heap_bytes);
    line_bytes("large bytes", c->peak_large_bytes);

    printf("fragmentation\n");
    line_percent("internal", v->frag.internal);
    line_percent("external", v->frag.external);
    line_percent("utilisation", v->frag.utilisation);
    line_percent("peak utilisation", v->frag.peak_utilisation);

    printf("system calls\n");
    printf(LABEL "%" PRIu64 " %s, grew %s", "brk", c->brk_calls, c->brk_calls == 1 ? "call" : "calls",
           bytes_exact(c->brk_grow_bytes, b1, sizeof b1));
    printf(", shrank %s\n", bytes_exact(c->brk_shrink_bytes, b1, sizeof b1));
    line_calls_bytes("mmap", c->mmap_calls, c->mmap_bytes);
    line_calls_bytes("munmap", c->munmap_calls, c->munmap_bytes);
    line_calls_bytes("mremap", c->mremap_calls, c->mremap_bytes);
    line_calls_bytes("madvise", c->madvise_calls, c->madvise_bytes);
    printf(LABEL "%" PRIu64 " %s, %s\n", "trims", c->trims, c->trims == 1 ? "time" : "times",
           bytes_exact(c->trimmed_bytes, b1, sizeof b1));

    printf("free blocks by size (%s)\n", heap_source(v));
    int any = 0;
    for (unsigned k = 0; k < GH_SHM_HIST_BUCKETS; k++) {
        if (!c->free_hist[k])
            continue;
        char lo[BYTES_BUF], hi[BYTES_BUF], range[2 * BYTES_BUF + 8];
        pow2_size(k, lo, sizeof lo);
        if (k + 1 < GH_SHM_HIST_BUCKETS)
            pow2_size(k + 1, hi, sizeof hi);
        else
            snprintf(hi, sizeof hi, "inf");
        snprintf(range, sizeof range, "[%s, %s)", lo, hi);
        printf("  %-22s %" PRIu64 "\n", range, c->free_hist[k]);
        any = 1;
    }
    if (!any)
        printf("  (none)\n");

    if (is_buddy(&v->cfg)) {
        printf("buddy free blocks by order (as in /proc/buddyinfo), %s\n", heap_source(v));
        unsigned lo = first_order(&v->cfg), hi = last_order(&v->cfg, c);
        printf("  %-6s", "order");
        for (unsigned k = lo; k <= hi; k++)
            printf(" %7u", k);
        printf("\n  %-6s", "size");
        for (unsigned k = lo; k <= hi; k++)
            printf(" %7s", pow2_size(k, b2, sizeof b2));
        printf("\n  %-6s", "free");
        for (unsigned k = lo; k <= hi; k++)
            printf(" %7" PRIu64, c->buddy_free[k]);
        printf("\n");
    }
}

/* ---- the command ------------------------------------------------------ */

static int parse_timeout(const char *s, int *ms)
{
    long v;
    if (!cli_parse_long(s, 0, MAX_TIMEOUT_MS, &v)) {
        cli_error("stat: --timeout takes milliseconds from 0 to %d, not '%s'", MAX_TIMEOUT_MS, s);
        return 0;
    }
    *ms = (int)v;
    return 1;
}

int cmd_stat(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' },
        { "timeout", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int json = 0, timeout_ms = DEFAULT_TIMEOUT_MS, opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "jt:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'j':
            json = 1;
            break;
        case 't':
            if (!parse_timeout(optarg, &timeout_ms))
                return GH_EXIT_USAGE;
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
        cli_error("stat: %s (glassheap stat [--json] [--timeout MS] PID)",
                  optind >= argc ? "no process id given" : "one process id only");
        return GH_EXIT_USAGE;
    }
    struct view v;
    memset(&v, 0, sizeof v);
    if (!cli_parse_pid(argv[optind], &v.pid))
        return GH_EXIT_USAGE;

    struct ghr_segment *seg = NULL;
    int rc = ghr_open_pid(v.pid, &seg);
    if (rc != GHR_OK) {
        int status = report(v.pid, rc, seg);
        ghr_close(seg);
        return status;
    }
    /* In place: nothing to ask.  Else ask for a publish and wait. */
    rc = ghr_header(seg) && ghr_header(seg)->live_offset ? GHR_OK : ghr_request_counters(seg, timeout_ms);
    if (rc == GHR_OK) {
        v.fresh = 1;
    } else if (rc != GHR_TIMEOUT) {
        int status = report(v.pid, rc, seg);
        ghr_close(seg);
        return status;
    }
    struct ghw_heap w;
    int wrc = ghw_walk_segment(seg, 0, &w);
    v.outside = wrc == GHW_OK;
    if (!v.outside)
        snprintf(v.heap_note, sizeof v.heap_note, "%s", w.why);
    if ((rc = ghr_config(seg, &v.cfg)) != GHR_OK ||
        (rc = hm_counters_now(seg, v.outside ? &w : NULL, &v.c, v.arenas, GH_SHM_ARENAS_CAPACITY, &v.narenas,
                              &v.now)) != GHR_OK) {
        if (v.outside)
            ghw_free(&w);
        int status = report(v.pid, rc, seg);
        ghr_close(seg);
        return status;
    }
    if (v.outside)
        ghw_free(&w);
    if (v.now.live.torn)
        cli_error("stat: process %d: %u arena%s inside an allocator call on every look (stopped inside one?): "
                  "%s counters as last read", v.pid, v.now.live.torn, v.now.live.torn == 1 ? " was" : "s were",
                  v.now.live.torn == 1 ? "its" : "their");
    uint64_t now = gh_now_ns();
    v.age_ns = now > v.now.published_ns ? now - v.now.published_ns : 0;
    v.hdr = ghr_header(seg);
    ghr_fragmentation(&v.c, &v.frag);
    if (!v.fresh)
        cli_error("stat: process %d did not answer within %d ms (it makes no allocator calls, "
                  "or it is stopped); showing the counters it published %.3f s ago",
                  v.pid, timeout_ms, (double)v.age_ns / NS_PER_S);
    if (json)
        print_json(&v);
    else
        print_text(&v);
    ghr_close(seg);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("stat: cannot write the output: %s", strerror(errno));
        return GH_EXIT_FAIL;
    }
    return GH_EXIT_OK;
}
