/* os.h - the only door to the operating system.
 *
 * Every brk/sbrk/mmap/munmap/mremap/madvise call glassheap makes goes through
 * these functions (only os.c includes <sys/mman.h>).  They return 0 or an
 * errno value; they never allocate, never print and never take a lock, so
 * they are safe to call with the allocator lock held.
 *
 * Test hooks: gh_os_fail_after() makes the next calls of one kind fail with
 * ENOMEM, so unit tests can exercise "the break cannot grow" and "address
 * space exhausted" without touching real limits.
 */
#ifndef GH_OS_H
#define GH_OS_H

#include <stddef.h>
#include <stdint.h>

/* Kinds of OS call that a test can make fail. */
enum gh_os_call {
    GH_OS_BRK = 0,  /* growing the break (shrinking never fails on demand) */
    GH_OS_MAP = 1,  /* new anonymous mappings and mremap growth */
    GH_OS_NCALLS
};

/* Counters of every call made, for the statistics layer. */
struct gh_os_counts {
    uint64_t brk_calls, brk_grow_bytes, brk_shrink_bytes;
    uint64_t mmap_calls, mmap_bytes;
    uint64_t munmap_calls, munmap_bytes;
    uint64_t mremap_calls, mremap_bytes; /* bytes: the new length of each mremap */
    uint64_t madvise_calls, madvise_bytes;
};

/* Page size, read once (sysconf does not allocate). */
size_t gh_os_page_size(void);

/* The current program break. */
void *gh_os_brk_current(void);

/* Move the break by `incr` bytes (may be negative).  On success stores the
 * old break in *old_brk and returns 0.  Returns ENOMEM when the kernel
 * refuses (RLIMIT_DATA, a mapping in the way) or a test hook says so. */
int gh_os_sbrk(intptr_t incr, void **old_brk);

/* A fresh private anonymous read/write mapping of `len` bytes (a multiple of
 * the page size), zero-filled.  0, or ENOMEM. */
int gh_os_map(size_t len, void **out);

/* Unmap [p, p+len); p and len page aligned.  0 or errno. */
int gh_os_unmap(void *p, size_t len);

/* Resize a mapping with mremap; may move it when may_move is nonzero.
 * On success *out is the (possibly new) address.  0, or ENOMEM. */
int gh_os_remap(void *p, size_t oldlen, size_t newlen, int may_move, void **out);

/* Tell the kernel the pages of [p, p+len) may be dropped (MADV_DONTNEED);
 * they read back as zero.  Page-aligned range.  0 or errno. */
int gh_os_decommit(void *p, size_t len);

/* Test hook: after `after` more successful calls of kind `call`, every call
 * of that kind fails with ENOMEM until gh_os_fail_reset().  after < 0 turns
 * the hook off for that kind. */
void gh_os_fail_after(enum gh_os_call call, long after);
void gh_os_fail_reset(void);

/* Snapshot of the call counters (not locked: called with the heap lock). */
void gh_os_counts(struct gh_os_counts *out);

#endif
