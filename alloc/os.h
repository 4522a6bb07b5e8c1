/* os.h - the only door to the operating system.
 *
 * Every brk/sbrk/mmap/munmap/mremap/madvise/mprotect call glassheap makes, and every
 * shm_open/ftruncate/mmap/munmap/shm_unlink of the segment, goes through
 * these functions (only os.c includes <sys/mman.h>).  They never allocate
 * and never take a lock, so they are safe to call with the allocator lock
 * held and without it (the large-block path maps and unmaps outside it).
 *
 * Errors: running out is ENOMEM, returned (the caller's NULL + errno).  Any
 * other error of a call that gets or drops memory for the heap or a large
 * block - sbrk, mmap, madvise - means glassheap's own arguments are
 * wrong and is fatal here: one line via gh_fatal naming the call and
 * errno, e.g. "glassheap: mmap(): errno 22 for a mapping of length 0x1000".
 * munmap errors are returned: the caller names the span (source.c makes
 * them fatal).  mremap errors are returned too: the kernel answers EINVAL
 * for a length past its limits, which is running out for realloc.  The
 * segment calls (gh_os_shm_*) are never fatal: the segment is optional and
 * its caller warns and runs on.
 *
 * Files named in the environment (GLASSHEAP_STATS_FILE, GLASSHEAP_TRACE):
 * gh_os_open_private() is the one rule for opening them, never fatal.
 * The segment's SIGBUS guard (a handler for a file shrunk under its
 * mapping) is here too: gh_os_shm_guard.
 *
 * Counters: one per call kind, added to with relaxed atomics, since the
 * large-block calls run outside the heap lock.  A snapshot reads each word
 * on its own (words may be from slightly different moments).  The
 * segment's own MAP_SHARED mapping is counted apart (shm_*), not in
 * mmap_calls/munmap_calls, so those stay what the program's allocations
 * caused and the segment's counters keep their layout and meaning.
 *
 * Test hooks: gh_os_fail_after() makes the next calls of one kind fail with
 * ENOMEM (or, with gh_os_fail_errno(), another errno), so unit tests can
 * exercise "the break cannot grow", "address space exhausted" and a fatal
 * error without touching real limits.  The hooks are plain variables: set
 * them from a single thread.
 */
#ifndef GH_OS_H
#define GH_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "glassheap/live.h" /* struct gh_os_counts */

/* Kinds of OS call that a test can make fail. */
enum gh_os_call {
    GH_OS_BRK = 0,  /* growing the break (shrinking never fails on demand) */
    GH_OS_MAP = 1,  /* new anonymous mappings and mremap growth */
    GH_OS_SHM = 2,  /* creating the segment (shm_open) */
    GH_OS_DECOMMIT = 3, /* madvise */
    GH_OS_NCALLS
};

/* Counters of every call made (struct gh_os_counts, glassheap/live.h). */

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

/* A reservation: `len` bytes (a multiple of the page size) of private
 * anonymous read/write memory at an address that is a multiple of `align`
 * (a power of two, at least a page), mapped without swap reservation
 * (MAP_NORESERVE): a page costs memory only once touched.  0, or ENOMEM. */
int gh_os_reserve(size_t len, size_t align, void **out);

/* Unmap [p, p+len); p and len page aligned.  0 or errno (not fatal). */
int gh_os_unmap(void *p, size_t len);

/* Resize a mapping with mremap; may move it when may_move is nonzero.
 * On success *out is the (possibly new) address.  0, or errno (never fatal). */
int gh_os_remap(void *p, size_t oldlen, size_t newlen, int may_move, void **out);

/* Tell the kernel the pages of [p, p+len) may be dropped (MADV_DONTNEED);
 * they read back as zero.  Page-aligned range.  0, or ENOMEM (part of the
 * range is not mapped). */
int gh_os_decommit(void *p, size_t len);

/* Access to a page-aligned range [p, p+len) of a glassheap mapping, for
 * GLASSHEAP_HARDEN's guard pages and zero-size region (harden.c). */
enum gh_os_access { GH_OS_NO_ACCESS, GH_OS_READ_WRITE };

/* mprotect [p, p+len) to `access`.  0, or ENOMEM (the kernel could not
 * split the mapping); any other error is fatal, like mmap's. */
int gh_os_protect(void *p, size_t len, enum gh_os_access access);

/* The segment: create the POSIX shared memory object `name` (O_EXCL, mode
 * 0600, close-on-exec), size it to `size` bytes and map it shared
 * read/write.  0 with *fd and *addr set, or errno with nothing left open
 * (the object is unlinked again).  Never fatal. */
int gh_os_shm_create(const char *name, size_t size, int *fd, void **addr);

/* Unmap the segment's mapping.  0 or errno.  Never fatal. */
int gh_os_shm_unmap(void *addr, size_t size);

/* Remove the name `name` (the mapping and open fds stay valid).  0 or
 * errno (ENOENT when there was none).  Never fatal. */
int gh_os_shm_unlink(const char *name);

/* ---- files named in the environment --------------------------------- */

/* Why gh_os_open_private() refused a file it could open (errno values are
 * positive; these are negative so both fit one return value). */
enum gh_os_refusal {
    GH_OS_NOT_REGULAR = -1, /* a directory, device, FIFO, socket */
    GH_OS_NOT_OWNER = -2,   /* owned by a user other than the effective one */
    GH_OS_LINKED = -3,      /* has other hard links (may name someone else's file) */
};

/* Open `path` for writing the way a file named in the environment must be:
 * the last component is never followed through a symbolic link
 * (O_NOFOLLOW), a terminal never becomes the controlling one, a FIFO never
 * blocks the open; a new file is created 0600; an existing one is used only
 * when, seen through the opened descriptor (fstat), it is a regular file
 * owned by the effective uid with one link, and is truncated only after
 * those checks.  0 with *fd (write-only, close-on-exec, blocking, empty), or
 * a positive errno (ELOOP: a symbolic link, ENOENT: a missing directory,
 * EISDIR ...) or a gh_os_refusal, with nothing left open and an existing
 * file untouched.  Never fatal, never allocates. */
int gh_os_open_private(const char *path, int *fd);

/* Whether gh_os_open_private(path) would succeed now, without writing
 * anything: an existing file is opened and checked (never emptied); for a
 * missing one a file is created and removed again at once.  0 or the code
 * gh_os_open_private() would give.  For a check at start-up of a file
 * written at exit (a process that dies before then leaves nothing). */
int gh_os_check_private(const char *path);

/* A phrase for a code of gh_os_open_private(), e.g. "it is a symbolic
 * link"; NULL for an errno it has no phrase for. */
const char *gh_os_open_why(int code);

/* The one line for a file that cannot be used, on stderr:
 *   glassheap: <var>: cannot use '<path>': <why>; <then>
 * e.g. "glassheap: GLASSHEAP_TRACE: cannot use '/tmp/t': it is a symbolic
 * link; not recording". */
void gh_os_warn_unusable(const char *var, const char *path, int code, const char *then);

/* ---- the segment's mapping against SIGBUS ---------------------------- */

/* Anyone who may write the segment's file may shrink it; a shared mapping
 * of a shrunk file raises SIGBUS on its next touch.  gh_os_shm_guard()
 * installs a SIGBUS handler when the program left SIGBUS at its default:
 * a fault inside [addr, addr+len) puts zero-filled private memory over the
 * whole range (so the program goes on, writing into memory no reader
 * sees) and is remembered; any other SIGBUS gets the default action, as
 * without glassheap.  A program that installs its own handler later
 * replaces this one.  One range at a time; gh_os_shm_unguard() ends it. */
void gh_os_shm_guard(void *addr, size_t len);
void gh_os_shm_unguard(void);

/* Whether the segment mapped at [addr, addr+len) from fd is lost: the
 * guard caught a fault in it, or (fstat) the file now holds fewer than len
 * bytes - then the range is replaced by private memory at once, before
 * anything touches it.  Cheap enough for every publish: one fstat. */
bool gh_os_shm_lost(int fd, void *addr, size_t len);

/* Test hook: after `after` more successful calls of kind `call`, every call
 * of that kind fails with ENOMEM until gh_os_fail_reset().  after < 0 turns
 * the hook off for that kind. */
void gh_os_fail_after(enum gh_os_call call, long after);
/* The same, failing with `err` instead of ENOMEM (a non-ENOMEM error of a
 * memory call then takes the fatal path, as a real one would). */
void gh_os_fail_errno(enum gh_os_call call, long after, int err);
void gh_os_fail_reset(void);

/* Snapshot of the call counters. */
void gh_os_counts(struct gh_os_counts *out);

/* Count from now on in *to (the segment's live section; copied first), or
 * at home again (to NULL: a forked child, whose segment is its parent's).
 * A call counted by another thread while they move may be lost. */
void gh_os_counts_place(struct gh_os_counts *to);

#endif
