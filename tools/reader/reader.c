/* reader.c - opens, validates and reads glassheap segments (reader.h).
 *
 * Liveness asks /proc through tools/lib (proc.h); time is clock.h's.  The
 * directory of segments (listing, stale removal, file identity) is
 * reader_dir.c.
 *
 * Owns: one handle per open segment (a private, validated copy of the
 * header plus the mapping of the whole file).  Never does: print, abort,
 * allocate anything but the handle, follow a symbolic link at the last path
 * component, read a byte of the mapping whose place open did not check, or
 * touch the mapping without first checking that the file still holds it
 * (ghr_still_whole).
 *
 * The layout is checked once, at open, on a private copy of the header
 * (reader_layout.c's ghr_validate_header says what holds after it): so
 * every 64-bit word the reader loads atomically is aligned and inside the
 * file, and every copy is bounded by min(the reader's struct, the size the
 * header gives).  ghr_still_whole is shared with walk_target.c
 * (reader_private.h).
 */
#define _GNU_SOURCE
#include "reader.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "glassheap/frag.h"
#include "proc.h"
#include "reader_private.h"

_Static_assert(GH_SHM_VERSION == 2u, "update the GHR_BAD_VERSION message");
_Static_assert(sizeof(struct gh_shm_block) % 8 == 0, "blocks are copied by words");

#ifndef GHR_SEQ_TRIES
#define GHR_SEQ_TRIES    1000     /* sequence-lock attempts before GHR_BUSY (~0.1 s) */
#endif
#define SEQ_TRIES        GHR_SEQ_TRIES
#define SEQ_SPIN_TRIES   8        /* of which the first ones only yield */
#define SEQ_SLEEP_NS     20000L   /* then sleep this long between tries */
#define POLL_NS          1000000L /* 1 ms between looks at `answered` */
#define POLL_LIVENESS    100      /* polls between two liveness checks */

/* The smallest sizes this reader accepts: the fields it uses. */
#define MAP_HEAD     sizeof(struct gh_shm_map)
#define LARGE_HEAD   sizeof(struct gh_shm_large)


const char *ghr_strerror(enum ghr_error err)
{
    switch (err) {
    case GHR_OK:          return "no error";
    case GHR_NO_PROCESS:  return "no such process";
    case GHR_NO_SEGMENT:  return "the process is not running glassheap (no /dev/shm/glassheap.<pid>)";
    case GHR_STALE:       return "the segment is stale: its process has exited, or the pid now belongs to another process";
    case GHR_NOT_OWNER:   return "the segment belongs to another user (only its owner or root may read it)";
    case GHR_TRUNCATED:   return "the segment file is shorter than its header says, or not a regular file";
    case GHR_BAD_MAGIC:   return "not a glassheap segment (wrong magic number)";
    case GHR_BAD_VERSION: return "the segment has another layout version than the one this reader knows (2)";
    case GHR_BAD_LAYOUT:  return "the segment is corrupt: its sizes, offsets or map entries do not fit";
    case GHR_BUSY:        return "the process kept its counters locked on every try; try again";
    case GHR_TIMEOUT:     return "the process did not answer in time (it makes no allocator calls, or it is stopped)";
    case GHR_IO:          return "a system call failed while reading the segment";
    case GHR_ALIVE:       return "the process is still running; its segment was kept";
    case GHR_FORGED:      return "the segment file is not owned by the process's user: forged, not shown";
    }
    return "unknown glassheap reader error";
}

/* ---- small helpers ---------------------------------------------------- */

/* GHR_OK while the file still holds all that is mapped of it; checked by
 * every call that reads through the mapping, so a file shrunk under us is
 * an error and not a SIGBUS. */
int ghr_still_whole(const struct ghr_segment *seg)
{
    struct stat st;
    if (fstat(seg->fd, &st) != 0)
        return GHR_IO;
    return st.st_size >= 0 && (uint64_t)st.st_size >= seg->size ? GHR_OK : GHR_TRUNCATED;
}

/* Read exactly n bytes at off; false when the file is shorter or on error. */
static bool read_at(int fd, void *buf, size_t n, off_t off)
{
    uint8_t *p = buf;
    while (n) {
        ssize_t r = pread(fd, p, n, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        p += r;
        n -= (size_t)r;
        off += r;
    }
    return true;
}

static void sleep_ns(long ns)
{
    struct timespec ts = { 0, ns };
    nanosleep(&ts, NULL);
}

static void seq_pause(int try)
{
    if (try < SEQ_SPIN_TRIES)
        sched_yield();
    else
        sleep_ns(SEQ_SLEEP_NS);
}

/* A region written under a sequence lock: a head of head_size bytes (a
 * multiple of 8) at `at` whose word at seq_off is the lock, then up to
 * `capacity` entries `stride` bytes apart, of which the head's word at
 * count_off says how many are valid (capacity 0: a head alone). */
struct locked {
    const uint8_t *at;
    size_t head_size, seq_off, count_off;
    uint64_t capacity;
    size_t stride, entry_size;
};

/* Copy the head into `head` and min(count, capacity, cap) entries into
 * buf (entry_size bytes each; *k of them) from one consistent moment:
 * retried while the lock is held or moves; GHR_BUSY after SEQ_TRIES. */
static int locked_copy(const struct locked *l, void *head, void *buf, size_t cap, uint64_t *k)
{
    const uint8_t *seqp = l->at + l->seq_off;
    for (int try = 0; try < SEQ_TRIES; try++) {
        uint64_t s1 = ghr_load_seq(seqp);
        if (!(s1 & 1)) {
            ghr_load_words(head, l->at, l->head_size);
            uint64_t count = 0;
            if (l->capacity)
                memcpy(&count, (const uint8_t *)head + l->count_off, sizeof count);
            if (count > l->capacity)
                count = l->capacity;
            if (count > cap)
                count = cap;
            for (uint64_t i = 0; i < count; i++)
                ghr_load_words((uint8_t *)buf + i * l->entry_size, l->at + l->head_size + i * l->stride,
                           l->entry_size);
            __atomic_thread_fence(__ATOMIC_ACQUIRE);
            if (s1 == __atomic_load_n((const uint64_t *)(const void *)seqp, __ATOMIC_RELAXED)) {
                *k = count;
                return GHR_OK;
            }
        }
        seq_pause(try);
    }
    *k = 0;
    return GHR_BUSY;
}

/* ---- liveness --------------------------------------------------------- */

/* The writer holds a shared flock on the segment while it lives; it is
 * gone when it exits, is killed, or execs (the descriptor is close-on-exec)
 * even when the pid and start time stay the same.  Taking the lock
 * exclusively, without waiting, succeeds only when no writer is left. */
static bool writer_gone(int fd)
{
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0)
        return false;
    flock(fd, LOCK_UN);
    return true;
}

/* GHR_OK when process `pid` is the one that wrote the header (and still
 * holds the segment), else GHR_STALE. */
static int liveness(int pid, uint64_t start_ticks, uint64_t exited, int fd)
{
    if (exited != 0)
        return GHR_STALE;
    if (writer_gone(fd))
        return GHR_STALE;
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return GHR_STALE;          /* EPERM: alive, another user's */
    struct gh_proc_stat st;
    int r = gh_proc_stat_read(pid, &st);
    if (r == 0)
        return GHR_STALE;
    if (r < 0)
        return GHR_OK;             /* cannot prove it stale */
    if (st.state == 'Z' || st.state == 'X')
        return GHR_STALE;          /* died without its exit handler */
    return st.start_ticks == start_ticks ? GHR_OK : GHR_STALE;
}

/* ---- open ------------------------------------------------------------- */

/* The writer creates its segment with its effective uid (its file-system
 * uid, unless changed); a process started as root that drops its privileges
 * keeps a root-owned one.  Any other owner wrote the file for a process
 * that is not theirs.  A process whose ids /proc does not give cannot be
 * proven forged. */
static bool owner_matches(int pid, uid_t owner)
{
    struct gh_proc_uids u;
    if (owner == 0 || gh_proc_uids_read(pid, &u) != 1)
        return true;
    return owner == (uid_t)u.effective || owner == (uid_t)u.fs;
}

static int open_errno(int e)
{
    switch (e) {
    case ENOENT: case ENOTDIR:          return GHR_NO_SEGMENT;
    case EACCES: case EPERM:            return GHR_NOT_OWNER;
    case ELOOP: case EISDIR: case ENXIO: return GHR_TRUNCATED; /* not a plain file */
    default:                            return GHR_IO;
    }
}

int ghr_open_path(const char *path, int expect_pid, struct ghr_segment **out)
{
    if (!out)
        return GHR_IO;
    *out = NULL;
    if (!path || expect_pid < 0)
        return GHR_NO_SEGMENT;

    int fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return open_errno(errno);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return GHR_IO;
    }
    uid_t me = geteuid();
    if (st.st_uid != me && me != 0) {
        close(fd);
        return GHR_NOT_OWNER;
    }
    if (!S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(struct gh_shm_header)) {
        close(fd);
        return GHR_TRUNCATED;
    }
    size_t fsize = (size_t)st.st_size;
    void *m = mmap(NULL, fsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        close(fd);
        return GHR_IO;
    }

    struct ghr_segment *seg = malloc(sizeof *seg);
    if (!seg) {
        munmap(m, fsize);
        close(fd);
        return GHR_IO;
    }
    memset(seg, 0, sizeof *seg);
    seg->fd = fd;
    seg->base = m;
    seg->size = fsize;
    seg->dev = st.st_dev;
    seg->ino = st.st_ino;

    /* One private copy, read from the file (not the mapping: a file shrunk
     * meanwhile is a short read); every check below is on it. */
    struct gh_shm_header *h = &seg->hdr;
    if (!read_at(fd, h, sizeof *h, 0)) {
        ghr_close(seg);
        return GHR_TRUNCATED;
    }
    seg->version = h->version;
    int rc = GHR_OK;
    if (h->magic != GH_SHM_MAGIC) {
        rc = GHR_BAD_MAGIC;
    } else if (h->version != GH_SHM_VERSION) {
        munmap(seg->base, seg->size);
        seg->base = NULL;
        seg->size = 0;
        seg->bad_version = true;
        *out = seg;
        return GHR_BAD_VERSION;
    } else {
        /* A writer with a shorter header: the words it lacks read 0 (what
         * lies past its header is the next section), before any check. */
        if (h->header_size >= HEADER_MIN && h->header_size < sizeof *h)
            memset((uint8_t *)h + h->header_size, 0, sizeof *h - h->header_size);
        rc = ghr_validate_header(h, fsize);
    }
    if (rc != GHR_OK) {
        ghr_close(seg);
        return rc;
    }

    if ((expect_pid != 0 && h->pid != expect_pid) ||
        liveness(h->pid, h->proc_start_ticks, h->exited, seg->fd) != GHR_OK) {
        seg->stale = true;
        rc = GHR_STALE;
    } else if (!owner_matches(h->pid, st.st_uid)) {
        ghr_close(seg);
        return GHR_FORGED;
    }
    *out = seg;
    return rc;
}

int ghr_open_pid(int pid, struct ghr_segment **out)
{
    char path[PATH_BUF];
    if (!out)
        return GHR_IO;
    *out = NULL;
    if (pid <= 0 || !ghr_seg_path(path, sizeof path, GH_SHM_DIR, pid))
        return GHR_NO_PROCESS;
    int rc = ghr_open_path(path, pid, out);
    if (rc == GHR_NO_SEGMENT && kill(pid, 0) != 0 && errno == ESRCH)
        return GHR_NO_PROCESS;
    return rc;
}

void ghr_close(struct ghr_segment *seg)
{
    if (!seg)
        return;
    if (seg->base)
        munmap(seg->base, seg->size);
    if (seg->fd >= 0)
        close(seg->fd);
    free(seg);
}

uint32_t ghr_version_found(const struct ghr_segment *seg)
{
    return seg ? seg->version : 0;
}

const struct gh_shm_header *ghr_header(const struct ghr_segment *seg)
{
    return (seg && !seg->bad_version) ? &seg->hdr : NULL;
}

static uint64_t exited_now(const struct ghr_segment *seg)
{
    return ghr_load_seq(seg->base + offsetof(struct gh_shm_header, exited));
}

int ghr_check(const struct ghr_segment *seg)
{
    if (!seg)
        return GHR_NO_SEGMENT;
    if (seg->bad_version)
        return GHR_BAD_VERSION;
    if (seg->stale)
        return GHR_STALE;
    int rc = ghr_still_whole(seg);
    if (rc != GHR_OK)
        return rc;
    return liveness(seg->hdr.pid, seg->hdr.proc_start_ticks, exited_now(seg), seg->fd);
}

/* ---- reading ---------------------------------------------------------- */

/* GHR_OK when seg can be read through its mapping now. */
static int usable(const struct ghr_segment *seg)
{
    if (!seg)
        return GHR_NO_SEGMENT;
    return seg->bad_version ? GHR_BAD_VERSION : ghr_still_whole(seg);
}

int ghr_config(const struct ghr_segment *seg, struct gh_shm_config *out)
{
    int rc = usable(seg);
    if (rc != GHR_OK || !out)
        return rc != GHR_OK ? rc : GHR_IO;
    size_t n = seg->hdr.config_size;
    if (n > sizeof *out)
        n = sizeof *out;
    memset(out, 0, sizeof *out);
    /* written once before the writer publishes the header: a plain copy,
     * read from the file */
    if (!read_at(seg->fd, out, n, (off_t)seg->hdr.config_offset)) {
        memset(out, 0, sizeof *out);
        return GHR_TRUNCATED;
    }
    out->policy[sizeof out->policy - 1] = '\0';
    out->cmdline[sizeof out->cmdline - 1] = '\0';
    return GHR_OK;
}

int ghr_counters(const struct ghr_segment *seg, struct gh_shm_counters *out)
{
    int rc = usable(seg);
    if (rc != GHR_OK || !out)
        return rc != GHR_OK ? rc : GHR_IO;
    size_t n = seg->hdr.counters_size;
    if (n > sizeof *out)
        n = sizeof *out;
    n &= ~(size_t)7;     /* a partial last word is left 0 */
    memset(out, 0, sizeof *out);
    const struct locked l = { .at = seg->base + seg->hdr.counters_offset, .head_size = n,
                              .seq_off = offsetof(struct gh_shm_counters, seq) };
    uint64_t none;
    rc = locked_copy(&l, out, NULL, 0, &none);
    if (rc != GHR_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

/* Bump *request and wait until *answered reaches the new value. */
static int ask_and_wait(const struct ghr_segment *seg, uint8_t *request,
                        const uint8_t *answered, int timeout_ms)
{
    if (seg->stale || exited_now(seg))
        return GHR_STALE;
    uint64_t want = __atomic_add_fetch((uint64_t *)(void *)request, 1, __ATOMIC_ACQ_REL);
    uint64_t deadline = gh_now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (unsigned polls = 0;; polls++) {
        if (polls && ghr_still_whole(seg) != GHR_OK)
            return GHR_TRUNCATED;
        if (ghr_load_seq(answered) >= want)
            return GHR_OK;
        if (exited_now(seg))
            return GHR_STALE;
        if (polls % POLL_LIVENESS == POLL_LIVENESS - 1 && ghr_check(seg) != GHR_OK)
            return GHR_STALE;
        if (gh_now_ns() >= deadline)
            return GHR_TIMEOUT;
        sleep_ns(POLL_NS);
    }
}

int ghr_request_counters(struct ghr_segment *seg, int timeout_ms)
{
    int rc = usable(seg);
    if (rc != GHR_OK)
        return rc;
    uint8_t *c = seg->base + seg->hdr.counters_offset;
    return ask_and_wait(seg, c + offsetof(struct gh_shm_counters, request),
                        c + offsetof(struct gh_shm_counters, answered),
                        timeout_ms < 0 ? 0 : timeout_ms);
}

int ghr_map(struct ghr_segment *seg, int timeout_ms, struct gh_shm_block *buf,
            size_t cap, size_t *n, uint64_t *total)
{
    if (n)
        *n = 0;
    if (total)
        *total = 0;
    int rc = usable(seg);
    if (rc != GHR_OK)
        return rc;
    if (!buf)
        cap = 0;
    uint8_t *m = seg->base + seg->hdr.map_offset;
    if (timeout_ms >= 0) {
        rc = ask_and_wait(seg, m + offsetof(struct gh_shm_map, request),
                          m + offsetof(struct gh_shm_map, answered), timeout_ms);
        if (rc != GHR_OK)
            return rc;
    }
    struct gh_shm_map head;
    uint64_t k;
    rc = locked_copy(&(struct locked){ .at = m, .head_size = MAP_HEAD,
                                       .seq_off = offsetof(struct gh_shm_map, seq),
                                       .count_off = offsetof(struct gh_shm_map, nblocks),
                                       .capacity = seg->hdr.map_capacity, .stride = seg->hdr.block_size,
                                       .entry_size = sizeof *buf },
                     &head, buf, cap, &k);
    if (rc != GHR_OK)
        return rc;
    /* a consistent copy: now judge it */
    for (uint64_t i = 0; i < k; i++)
        if (buf[i].state != GH_SHM_BLOCK_USED && buf[i].state != GH_SHM_BLOCK_FREE
            && buf[i].state != GH_SHM_BLOCK_CACHED)
            return GHR_BAD_LAYOUT;
    if (n)
        *n = (size_t)k;
    if (total)
        *total = head.total_blocks;
    return GHR_OK;
}

int ghr_map_head(const struct ghr_segment *seg, struct gh_shm_map *out)
{
    int rc = usable(seg);
    if (rc != GHR_OK || !out)
        return rc != GHR_OK ? rc : GHR_IO;
    uint64_t none;
    rc = locked_copy(&(struct locked){ .at = seg->base + seg->hdr.map_offset, .head_size = MAP_HEAD,
                                       .seq_off = offsetof(struct gh_shm_map, seq) },
                     out, NULL, 0, &none);
    if (rc != GHR_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

/* An entry that describes a mapping the reader can draw: a non-empty
 * mapping that does not wrap, the payload inside it, the request inside
 * what follows the payload. */
static bool large_entry_ok(const struct gh_shm_large_block *b)
{
    if (b->map_len == 0 || b->map_base + b->map_len < b->map_base)
        return false;
    if (b->addr < b->map_base || b->addr >= b->map_base + b->map_len)
        return false;
    return b->requested <= b->map_base + b->map_len - b->addr;
}

int ghr_large(const struct ghr_segment *seg, struct gh_shm_large_block *buf, size_t cap, size_t *n,
              uint64_t *total)
{
    if (n)
        *n = 0;
    if (total)
        *total = 0;
    int rc = usable(seg);
    if (rc != GHR_OK)
        return rc;
    if (seg->hdr.large_offset == 0)
        return GHR_OK;                 /* an older writer: no list */
    if (!buf)
        cap = 0;
    struct gh_shm_large head;
    uint64_t k;
    rc = locked_copy(&(struct locked){ .at = seg->base + seg->hdr.large_offset, .head_size = LARGE_HEAD,
                                       .seq_off = offsetof(struct gh_shm_large, seq),
                                       .count_off = offsetof(struct gh_shm_large, count),
                                       .capacity = seg->hdr.large_capacity,
                                       .stride = seg->hdr.large_block_size, .entry_size = sizeof *buf },
                     &head, buf, cap, &k);
    if (rc != GHR_OK)
        return rc;
    for (uint64_t i = 0; i < k; i++)
        if (!large_entry_ok(&buf[i]))
            return GHR_BAD_LAYOUT;
    uint64_t listed = head.count < seg->hdr.large_capacity ? head.count : seg->hdr.large_capacity;
    if (n)
        *n = (size_t)k;
    if (total)
        *total = head.total > listed ? head.total : listed;
    return GHR_OK;
}

/* An entry whose bytes can be true: its index is its place, and what is
 * used, free and overhead fits in its heap (each term, and their sum,
 * without wrapping). */
static bool arena_entry_ok(const struct gh_shm_arena *e, uint64_t place)
{
    if (e->index != place)
        return false;
    uint64_t h = e->heap_bytes;
    if (e->used_block_bytes > h || e->free_bytes > h || e->overhead_bytes > h)
        return false;
    if (e->used_block_bytes + e->free_bytes > h - e->overhead_bytes)
        return false;
    return e->largest_free <= e->free_bytes && e->used_requested <= e->used_block_bytes;
}

int ghr_arenas(const struct ghr_segment *seg, struct gh_shm_arena *buf, size_t cap, size_t *n)
{
    if (n)
        *n = 0;
    int rc = usable(seg);
    if (rc != GHR_OK)
        return rc;
    if (seg->hdr.arenas_offset == 0)
        return GHR_OK;                 /* an older writer: no table */
    if (!buf)
        cap = 0;
    struct gh_shm_arenas head;
    uint64_t k;
    rc = locked_copy(&(struct locked){ .at = seg->base + seg->hdr.arenas_offset,
                                       .head_size = sizeof(struct gh_shm_arenas),
                                       .seq_off = offsetof(struct gh_shm_arenas, seq),
                                       .count_off = offsetof(struct gh_shm_arenas, count),
                                       .capacity = seg->hdr.arenas_capacity,
                                       .stride = seg->hdr.arena_entry_size, .entry_size = sizeof *buf },
                     &head, buf, cap, &k);
    if (rc != GHR_OK)
        return rc;
    for (uint64_t i = 0; i < k; i++)
        if (!arena_entry_ok(&buf[i], i))
            return GHR_BAD_LAYOUT;
    if (n)
        *n = (size_t)k;
    return GHR_OK;
}

/* ---- derived figures -------------------------------------------------- */

void ghr_fragmentation(const struct gh_shm_counters *c, struct ghr_frag *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!c)
        return;
    out->internal = gh_frag_value(gh_frag_internal(c->live_requested, c->live_block_bytes));
    out->external = gh_frag_value(gh_frag_external(c->largest_free, c->free_bytes));
    out->utilisation = gh_frag_value(gh_frag_utilisation(c->live_requested, c->heap_bytes));
    out->peak_utilisation = gh_frag_value(gh_frag_utilisation(c->peak_requested, c->peak_heap_bytes));
}
