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
};

static uint64_t load_seq(const uint8_t *p)
{
    return __atomic_load_n((const uint64_t *)(const void *)p, __ATOMIC_ACQUIRE);
}

static int t_seq(void *ctx, uint64_t *seq)
{
    const struct target *t = ctx;
    if (ghr_still_whole(t->seg) != GHR_OK)
        return EIO;
    *seq = load_seq(t->seg->base + t->seg->hdr.heap_offset + offsetof(struct gh_shm_heap, seq));
    return 0;
}

/* Copy n bytes (a multiple of 8) of shared memory a word at a time. */
static void copy_words(void *dst, const uint8_t *src, size_t n)
{
    const uint64_t *s = (const uint64_t *)(const void *)src;
    uint8_t *d = dst;
    for (size_t i = 0; i < n / 8; i++) {
        uint64_t w = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
        memcpy(d + 8 * i, &w, 8);
    }
}

static int t_table(void *ctx, struct gh_shm_heap *head, struct gh_shm_region *regions, size_t cap, size_t *n)
{
    const struct target *t = ctx;
    const struct gh_shm_header *h = &t->seg->hdr;
    *n = 0;
    if (h->heap_offset == 0)
        return ENOENT;
    if (ghr_still_whole(t->seg) != GHR_OK)
        return EIO;
    const uint8_t *at = t->seg->base + h->heap_offset;
    uint64_t s1 = load_seq(at + offsetof(struct gh_shm_heap, seq));
    copy_words(head, at, sizeof *head);
    head->seq = s1;
    if (s1 & 1)
        return EAGAIN;
    uint64_t k = head->count;
    if (k > h->heap_capacity)
        k = h->heap_capacity;
    if (k > cap)
        k = cap;
    for (uint64_t i = 0; i < k; i++)
        copy_words(&regions[i], at + sizeof *head + i * h->heap_region_size, sizeof regions[i]);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n((const uint64_t *)(const void *)(at + offsetof(struct gh_shm_heap, seq)), __ATOMIC_RELAXED)
        != s1)
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

int ghw_walk_segment(const struct ghr_segment *seg, size_t max_blocks, struct ghw_heap *out)
{
    const struct gh_shm_header *h = ghr_header(seg);
    if (!h) {
        memset(out, 0, sizeof *out);
        snprintf(out->why, sizeof out->why, "no segment to walk");
        return GHW_NO_TABLE;
    }
    struct target t = { seg, h->pid };
    const struct ghw_source src = { t_table, t_seq, t_read, t_pause, &t };
    int rc = ghw_walk(&src, max_blocks, out);
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
