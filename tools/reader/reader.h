/* reader.h - the reader side of the glassheap shared-memory segment.
 *
 * Opens /dev/shm/glassheap.<pid> (the ABI is include/glassheap/shm.h),
 * validates every byte it relies on before it reads it, copies counters and
 * heap maps out under the writer's sequence locks, asks the writer for fresh
 * data, and tells stale segments (the writer is gone) from live ones.
 *
 * It never prints, never aborts, keeps no global state and allocates nothing
 * but one handle per open segment.  (The heap walked from outside, with the
 * segment's region table, is walk.h's, in the same library.)  Every function returns an enum ghr_error
 * (GHR_OK = 0); ghr_strerror() turns one into a line a person can read.
 *
 * Trust: the file's content is untrusted; no content makes the reader crash
 * or read outside the file.  The header and the configuration are read
 * with pread(); the counters, map and large-block list through the mapping,
 * each call first checking (fstat) that the file still holds everything
 * mapped: a file shrunk by someone else is GHR_TRUNCATED, not a SIGBUS.
 * (A shrink in the microseconds between that check and the copy can still
 * raise one: the kernel's rule for any shared mapping.)  A live process's
 * segment must be owned by that process's user (its effective or file-system
 * uid, or root): any other owner is GHR_FORGED.
 */
#ifndef GLASSHEAP_READER_H
#define GLASSHEAP_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "glassheap/shm.h"

enum ghr_error {
    GHR_OK = 0,
    GHR_NO_PROCESS,  /* no such process */
    GHR_NO_SEGMENT,  /* no segment file (the process runs without glassheap) */
    GHR_STALE,       /* the writer exited, or the pid now names another process */
    GHR_NOT_OWNER,   /* the segment belongs to another user */
    GHR_TRUNCATED,   /* shorter than its header says, or not a regular file */
    GHR_BAD_MAGIC,   /* not a glassheap segment */
    GHR_BAD_VERSION, /* a glassheap segment of another version: ghr_version_found() */
    GHR_BAD_LAYOUT,  /* sizes or offsets that do not fit, or a bad map entry */
    GHR_BUSY,        /* the writer held its sequence lock for every try */
    GHR_TIMEOUT,     /* the writer did not answer a request in time */
    GHR_IO,          /* a system call failed (out of memory, EIO, ...) */
    GHR_ALIVE,       /* ghr_remove_stale(): the writer runs, nothing removed */
    GHR_FORGED,      /* the file's owner is not the process's user: not its segment */
};
#define GHR_ERROR_MAX GHR_FORGED /* every return value is in [GHR_OK, GHR_ERROR_MAX] */

/* One line, no newline, never NULL (an unknown value has its own line). */
const char *ghr_strerror(enum ghr_error err);

struct ghr_segment; /* opaque; one malloc */

/* Open the segment of `pid` (GH_SHM_DIR "/glassheap.<pid>").
 * GHR_NO_PROCESS when pid <= 0 or no such process exists and there is no
 * file either; otherwise as ghr_open_path() with expect_pid = pid. */
int ghr_open_pid(int pid, struct ghr_segment **out);

/* Open a segment file.  expect_pid: the pid the file must belong to, or 0 to
 * take it from the header.  *out is set on GHR_OK, GHR_STALE (fully usable:
 * a tool may still show the last counters and map) and GHR_BAD_VERSION (only
 * ghr_version_found() and ghr_close() are meaningful; every other call
 * answers GHR_BAD_VERSION); on every other error *out = NULL.  Rule for the
 * caller: ghr_close() whatever is non-NULL.  Owner only: a file of another
 * uid is GHR_NOT_OWNER, except for root, who may read anyone's.  A file
 * whose owner is neither root nor the live process's effective or
 * file-system uid (/proc/<pid>/status) is GHR_FORGED. */
int ghr_open_path(const char *path, int expect_pid, struct ghr_segment **out);

/* The identity (device, inode) of GH_SHM_DIR/glassheap.<pid> now: a new
 * one means a new writer (an exec'd image publishes a new file under the
 * same name).  False when there is no such file. */
bool ghr_file_id(int pid, dev_t *dev, ino_t *ino);

/* Unmap and free; NULL is fine. */
void ghr_close(struct ghr_segment *seg);

/* The version the file declares (any value, also after GHR_BAD_VERSION);
 * 0 for NULL. */
uint32_t ghr_version_found(const struct ghr_segment *seg);

/* The validated private copy of the header taken at open (fields the file's
 * header_size does not cover are 0); NULL for NULL or a bad-version handle. */
const struct gh_shm_header *ghr_header(const struct ghr_segment *seg);

/* Re-check liveness now: GHR_OK while the writer runs, GHR_STALE once it set
 * `exited`, died, or its pid was reused. */
int ghr_check(const struct ghr_segment *seg);

/* Copy the configuration: min(config_size, sizeof *out) bytes, the rest 0,
 * policy and cmdline always NUL-terminated. */
int ghr_config(const struct ghr_segment *seg, struct gh_shm_config *out);

/* Consistent snapshot of the counters under their sequence lock.  A file
 * whose counters_size is smaller than sizeof *out (an older writer) gives
 * what it has and 0 for the rest (open insists on at least seq..answered).
 * GHR_BUSY after ~1000 tries (~0.1 s) that all met the lock held or moving. */
int ghr_counters(const struct ghr_segment *seg, struct gh_shm_counters *out);

/* Ask the writer to publish its counters now and wait up to timeout_ms (0:
 * look once) until it answered.  GHR_TIMEOUT when it did not (a program
 * that makes no allocator calls never answers); GHR_STALE at once when the
 * writer is gone.  Then read them with ghr_counters(). */
int ghr_request_counters(struct ghr_segment *seg, int timeout_ms);

/* Ask for a heap map and wait up to timeout_ms for the answer as above;
 * timeout_ms < 0 asks nothing and reads the last map written.  Copies
 * min(nblocks, map_capacity, cap) entries into buf (*n of them) under the
 * map's sequence lock; *total = the heap's block count (> *n: truncated).
 * An entry whose state is neither USED nor FREE is GHR_BAD_LAYOUT.
 * n and total may be NULL; buf may be NULL when cap is 0. */
int ghr_map(struct ghr_segment *seg, int timeout_ms, struct gh_shm_block *buf,
            size_t cap, size_t *n, uint64_t *total);

/* Copy the map's head (struct gh_shm_map, no entries) under its sequence
 * lock, asking nothing: heap_start and heap_end of the last map written,
 * untrusted (a caller checks them against the blocks).  GHR_BUSY as
 * ghr_counters(). */
int ghr_map_head(const struct ghr_segment *seg, struct gh_shm_map *out);

/* Copy the large-block list (shm.h's struct gh_shm_large) under its
 * sequence lock: min(count, large_capacity, cap) entries into buf (*n of
 * them); *total = the live large blocks, never less than the entries the
 * segment lists (> *n: some not listed).  A writer older than the list
 * (header large_offset 0) gives GHR_OK, *n = 0, *total = 0.  An entry
 * whose mapping is empty or wraps, whose payload lies outside its mapping
 * or whose request outruns it is GHR_BAD_LAYOUT.  Open has checked the
 * list's place: inside the file, apart from the other regions, 8-aligned,
 * large_block_size >= sizeof(struct gh_shm_large_block), and capacity *
 * large_block_size within large_size.  n and total may be NULL; buf may
 * be NULL when cap is 0. */
int ghr_large(const struct ghr_segment *seg, struct gh_shm_large_block *buf, size_t cap, size_t *n,
              uint64_t *total);

/* Copy every arena's own entry (shm.h's struct gh_shm_arena) under the
 * table's sequence lock: min(count, arenas_capacity, cap) entries into buf
 * (*n of them), written with the counters' last publish.  A writer older
 * than the table (header arenas_offset 0) gives GHR_OK and *n = 0.  An
 * entry whose index is not its place, or whose used, free and overhead
 * bytes exceed its heap, is GHR_BAD_LAYOUT.  Open has checked the table's
 * place as ghr_large's.  n may be NULL; buf may be NULL when cap is 0. */
int ghr_arenas(const struct ghr_segment *seg, struct gh_shm_arena *buf, size_t cap, size_t *n);

/* What ghr_live found. */
struct ghr_live_info {
    bool in_place;           /* the counters came from the live section */
    bool absent;             /* the writer keeps none (it only publishes) */
    bool large;              /* the large-block words too (else as published) */
    unsigned arenas;         /* arenas added up */
    unsigned torn;           /* arenas found inside a call on every try for some 50 ms
                              * (a process stopped inside one): as last copied */
    unsigned caches;         /* thread caches counted in place */
    uint64_t caches_unplaced;/* live caches without an entry (not counted) */
};

/* The counters the process keeps in place (glassheap/live.h), as of each
 * arena's last completed call - current for a process that sleeps, blocks
 * or is stopped, with no request and no wait.  c holds the counters the
 * process published (ghr_counters); what is kept in place replaces them
 * (calls, system calls, the heap now, peaks, the free-block histogram,
 * caches, quarantine, large blocks, the threshold), the rest stays: the
 * largest free block (bounded by the free bytes now; the walker has it
 * exact); the buddy orders are the histogram's buckets (every buddy block
 * is a power of two).  With arenas (cap entries, filled by
 * ghr_arenas first, or zeroed), each arena's counters are replaced too
 * (*narenas of them; the largest free block kept).  A writer without the
 * section: GHR_OK, info->absent, nothing changed.  Every sum saturates; a
 * section whose sizes do not fit, or an arena entry (read at one moment)
 * whose used, free and overhead bytes exceed its heap, or whose requests
 * exceed its blocks, is GHR_BAD_LAYOUT (c may be changed in part then). */
int ghr_live(const struct ghr_segment *seg, struct gh_shm_counters *c, struct gh_shm_arena *arenas, size_t cap,
             size_t *narenas, struct ghr_live_info *info);

/* Fragmentation as glassheap/frag.h defines it (DESIGN.md,
 * "Fragmentation, defined once"): a figure whose whole is 0 is 0, and the
 * untrusted counters are clamped so that every figure lies in [0, 1]. */
struct ghr_frag {
    double internal;         /* gh_frag_internal */
    double external;         /* gh_frag_external */
    double utilisation;      /* gh_frag_utilisation, now */
    double peak_utilisation; /* gh_frag_utilisation of the peaks */
};
void ghr_fragmentation(const struct gh_shm_counters *c, struct ghr_frag *out);

/* Call fn once per file of GH_SHM_DIR named glassheap.<pid> (decimal, no
 * sign, no leading zero, 0 < pid <= INT_MAX; every other name is skipped),
 * with the status ghr_open_path(file, pid) gave.  GHR_IO when the directory
 * cannot be read. */
int ghr_list(void (*fn)(void *ctx, int pid, enum ghr_error status), void *ctx);
int ghr_list_dir(const char *dir,
                 void (*fn)(void *ctx, int pid, enum ghr_error status), void *ctx);

/* Unlink GH_SHM_DIR/glassheap.<pid> if, checked again now, it is stale.
 * GHR_OK: removed; GHR_ALIVE: the writer runs, kept; any other open error
 * (GHR_NO_SEGMENT, GHR_BAD_MAGIC, ...): kept; GHR_IO: unlink failed. */
int ghr_remove_stale(int pid);
int ghr_remove_stale_dir(const char *dir, int pid);

#endif
