/* walk_target.c - the walker's source for a live process (walk.h): the
 * region table copied from its segment, its memory read with
 * process_vm_readv, and the line that says why the kernel refused.
 *
 * Owns: the one place the tools read another process's memory.  Never:
 * writes to the process, reads the table without first checking that the
 * segment file still holds it (ghr_still_whole), or reads more than
 * GHW_CHUNK bytes in one call.
 */
#define _GNU_SOURCE
#include "walk.h"

#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "reader_private.h"

#define YAMA_SCOPE  "/proc/sys/kernel/yama/ptrace_scope"
#define SPIN_TRIES  4          /* tries that only yield; then 1 ms sleeps */
#define PAUSE_NS    1000000L

struct target {
    const struct ghr_segment *seg;
    int pid;
    uint64_t table;            /* the offset of the table walked (main: heap_offset) */
    uint64_t cap;              /* the entries it holds */
    uint64_t seq;              /* the offset of its arena's seq word; 0: none */
};

static int t_seq(void *ctx, uint64_t *seq)
{
    const struct target *t = ctx;
    if (ghr_still_whole(t->seg) != GHR_OK || t->seq == 0)
        return EIO;
    *seq = ghr_load_seq(t->seg->base + t->seq);
    return 0;
}

static int t_table(void *ctx, struct gh_shm_heap *head, struct gh_shm_region *regions, size_t cap, size_t *n)
{
    const struct target *t = ctx;
    const struct gh_shm_header *h = &t->seg->hdr;
    *n = 0;
    if (h->heap_offset == 0 || t->seq == 0)
        return ENOENT;
    if (ghr_still_whole(t->seg) != GHR_OK)
        return EIO;
    const uint8_t *at = t->seg->base + t->table;
    const uint8_t *seq = t->seg->base + t->seq;
    uint64_t s1 = ghr_load_seq(seq);
    ghr_load_words(head, at, sizeof *head);
    head->seq = s1;
    if (s1 & 1)
        return EAGAIN;
    uint64_t k = head->count;
    if (k > t->cap)
        k = t->cap;
    if (k > cap)
        k = cap;
    for (uint64_t i = 0; i < k; i++)
        ghr_load_words(&regions[i], at + sizeof *head + i * h->heap_region_size, sizeof regions[i]);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n((const uint64_t *)(const void *)seq, __ATOMIC_RELAXED) != s1)
        return EAGAIN;
    /* a table that claims more entries than it holds: the walker says so */
    *n = (size_t)k;
    if (head->count > k && head->total < head->count)
        head->total = head->count;
    return 0;
}

static int t_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
    const struct target *t = ctx;
    struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };
    ssize_t r = process_vm_readv(t->pid, &local, 1, &remote, 1, 0);
    if (r < 0)
        return errno ? errno : EIO;
    return (size_t)r == len ? 0 : EFAULT;   /* a short read: the rest is not mapped */
}

static void t_pause(void *ctx, int try)
{
    (void)ctx;
    if (try < SPIN_TRIES) {
        sched_yield();
        return;
    }
    struct timespec ts = { 0, PAUSE_NS };
    nanosleep(&ts, NULL);
}

/* b += a sub-walk of arena k's table (blocks, regions numbered on, sums). */
static int add_walk(struct ghw_heap *out, struct ghw_heap *sub)
{
    if (sub->n) {
        struct gh_shm_block *b = realloc(out->blocks, (out->n + sub->n) * sizeof *b);
        if (!b)
            return GHW_NOMEM;
        memcpy(b + out->n, sub->blocks, sub->n * sizeof *b);
        for (size_t i = 0; i < sub->n; i++)
            b[out->n + i].region += (uint32_t)out->nregions; /* numbered on, as the process numbers them */
        out->blocks = b;
    }
    if (sub->nregions) {
        struct ghw_region *r = realloc(out->regions, (out->nregions + sub->nregions) * sizeof *r);
        if (!r)
            return GHW_NOMEM;
        for (size_t i = 0; i < sub->nregions; i++) {
            r[out->nregions + i] = sub->regions[i];
            r[out->nregions + i].first += out->n;
        }
        out->regions = r;
    }
    out->n += sub->n;
    out->nregions += sub->nregions;
    out->total += sub->total;
    out->used_blocks += sub->used_blocks;
    out->used_bytes += sub->used_bytes;
    out->live_requested += sub->live_requested;
    out->free_blocks += sub->free_blocks;
    out->free_bytes += sub->free_bytes;
    if (sub->largest_free > out->largest_free)
        out->largest_free = sub->largest_free;
    out->heap_bytes += sub->heap_bytes;
    out->overhead_bytes += sub->overhead_bytes;
    for (unsigned i = 0; i < GH_SHM_HIST_BUCKETS; i++)
        out->free_hist[i] += sub->free_hist[i];
    for (unsigned i = 0; i < GH_SHM_ORDERS; i++)
        out->buddy_free[i] += sub->buddy_free[i];
    if (!out->discipline)
        out->discipline = sub->discipline;
    out->tries += sub->tries;
    out->reads += sub->reads;
    out->read_bytes += sub->read_bytes;
    return GHW_OK;
}

static int region_cmp(const void *a, const void *b)
{
    const struct ghw_region *x = a, *y = b;
    return x->base < y->base ? -1 : x->base > y->base;
}

/* The arenas added up in arena order, put back in address order (walk.h's
 * promise): regions sorted by base, each one's blocks moved with it. */
static int to_address_order(struct ghw_heap *out)
{
    bool sorted = true;
    for (size_t i = 1; i < out->nregions; i++)
        sorted = sorted && out->regions[i - 1].base < out->regions[i].base;
    if (sorted)
        return GHW_OK;
    qsort(out->regions, out->nregions, sizeof *out->regions, region_cmp);
    if (!out->n)
        return GHW_OK;
    struct gh_shm_block *b = malloc(out->n * sizeof *b);
    if (!b)
        return GHW_NOMEM;
    size_t at = 0;
    for (size_t i = 0; i < out->nregions; i++) {
        struct ghw_region *r = &out->regions[i];
        memcpy(b + at, out->blocks + r->first, r->n * sizeof *b);
        r->first = at;
        at += r->n;
    }
    free(out->blocks);
    out->blocks = b;
    return GHW_OK;
}

int ghw_walk_segment(const struct ghr_segment *seg, size_t max_blocks, struct ghw_heap *out)
{
    const struct gh_shm_header *h = ghr_header(seg);
    if (!h) {
        memset(out, 0, sizeof *out);
        snprintf(out->why, sizeof out->why, "no segment to walk");
        return GHW_NO_TABLE;
    }
    struct target t = { seg, h->pid, h->heap_offset, h->heap_capacity,
                        ghr_still_whole(seg) == GHR_OK ? ghr_arena_seq_offset(seg, 0) : 0 };
    const struct ghw_source src = { t_table, t_seq, t_read, t_pause, &t };
    int rc = ghw_walk(&src, max_blocks, out);
    out->arenas_walked = rc == GHW_OK;
    out->arena_largest[0] = out->largest_free;
    /* The other arenas, each at a moment of its own (its own seq). */
    uint64_t arenas = out->arenas;
    for (uint64_t k = 1; rc == GHW_OK && k < arenas; k++) {
        if (k > h->arena_tables || h->arena_tables_offset == 0) {
            ghw_free(out);
            memset(out, 0, sizeof *out);
            snprintf(out->why, sizeof out->why, "the process runs %llu arenas; the segment has region tables for %u",
                     (unsigned long long)arenas, h->arena_tables_offset ? h->arena_tables + 1 : 1);
            return GHW_NO_TABLE;
        }
        struct target tk = { seg, h->pid, ghr_table_offset(h, k), h->arena_table_regions,
                             ghr_still_whole(seg) == GHR_OK ? ghr_arena_seq_offset(seg, k) : 0 };
        const struct ghw_source sk = { t_table, t_seq, t_read, t_pause, &tk };
        struct ghw_heap sub;
        size_t room = max_blocks > out->n ? max_blocks - out->n : 0;
        rc = ghw_walk(&sk, room, &sub);
        if (rc == GHW_OK) {
            if (k < GH_SHM_ARENAS_CAPACITY)
                out->arena_largest[k] = sub.largest_free;
            rc = add_walk(out, &sub);
            ghw_free(&sub);
            if (rc != GHW_OK) {
                ghw_free(out);
                memset(out, 0, sizeof *out);
                snprintf(out->why, sizeof out->why, "out of memory for the walk");
                return rc;
            }
            out->arenas_walked++;
        } else {
            unsigned tries = out->tries;
            ghw_free(out);
            *out = sub;    /* its status line, prefixed with the arena */
            char why[GHW_WHY_MAX - 32];
            memcpy(why, sub.why, sizeof why - 1);
            why[sizeof why - 1] = 0;
            snprintf(out->why, sizeof out->why, "arena %llu: %s", (unsigned long long)k, why);
            out->tries += tries;
        }
    }
    if (rc == GHW_OK && out->arenas_walked > 1 && to_address_order(out) != GHW_OK) {
        ghw_free(out);
        memset(out, 0, sizeof *out);
        snprintf(out->why, sizeof out->why, "out of memory for the walk");
        return GHW_NOMEM;
    }
    if (rc == GHW_REFUSED) {
        /* name the causes the kernel can have */
        ghw_refusal_line(h->pid, out->read_errno, out->why, sizeof out->why);
    }
    return rc;
}

/* Yama's ptrace_scope, or -1 when Yama is not there. */
static int yama_scope(void)
{
    int fd = open(YAMA_SCOPE, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[16];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0 || buf[0] < '0' || buf[0] > '9')
        return -1;
    return buf[0] - '0';
}

void ghw_refusal_line(int pid, int err, char *buf, size_t cap)
{
    const char *cause;
    char uidmsg[96];
    struct gh_proc_uids u;
    int scope = yama_scope();
    if (scope == 1)
        cause = "Yama ptrace_scope is 1: only the process's ancestors, or a process it names with "
                "prctl(PR_SET_PTRACER), may read it";
    else if (scope == 2)
        cause = "Yama ptrace_scope is 2: only a process with CAP_SYS_PTRACE may read another";
    else if (scope >= 3)
        cause = "Yama ptrace_scope is 3: no process may read another";
    else if (gh_proc_uids_read(pid, &u) == 1 && u.real != (unsigned)geteuid()) {
        snprintf(uidmsg, sizeof uidmsg, "it runs as uid %u, not as this reader's uid %u", u.real,
                 (unsigned)geteuid());
        cause = uidmsg;
    } else {
        cause = scope == 0 ? "Yama ptrace_scope is 0; the process made itself undumpable, or holds capabilities "
                             "this reader lacks"
                           : "the process made itself undumpable, or holds capabilities this reader lacks "
                             "(Yama is not loaded)";
    }
    snprintf(buf, cap, "process_vm_readv on process %d was refused (%s): %s", pid, strerror(err), cause);
}
