/* os.c - system calls, one place.
 *
 * Owns: brk/sbrk, mmap, munmap, mremap, madvise, mprotect, the segment's
 * shm_open/ftruncate/mmap/munmap/shm_unlink, their counters, and the fatal
 * line for an error that is not running out (os.h says which calls).
 * Never: decides placement, allocates, or locks.  The counters are added
 * to with relaxed atomics: the large-block path calls in here without the
 * allocator lock.
 *
 * sbrk() (not the raw brk system call) is used so glibc's cached break stays
 * in step with ours: a program that also calls sbrk() then sees the truth.
 */
#define _GNU_SOURCE
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

static size_t page_size;
static long fail_after[GH_OS_NCALLS] = { -1, -1, -1, -1 };
static int fail_err[GH_OS_NCALLS];
static struct gh_os_counts counts;

#define COUNT(field, n) __atomic_fetch_add(&counts.field, (uint64_t)(n), __ATOMIC_RELAXED)

/* The errno a test hook makes this call fail with, or 0. */
static int hooked_failure(enum gh_os_call call)
{
    if (fail_after[call] < 0)
        return 0;
    if (fail_after[call] == 0)
        return fail_err[call] ? fail_err[call] : ENOMEM;
    fail_after[call]--;
    return 0;
}

/* errno of a failed call (ENOMEM when it left none), errno itself restored. */
static int failure(int saved)
{
    int err = errno ? errno : ENOMEM;
    errno = saved;
    return err;
}

/* Running out is the caller's; anything else stops the program. */
static int memory_error(const char *call, int err, const char *what, const void *at)
{
    if (err != ENOMEM)
        gh_fatal_errno(call, err, what, at);
    return ENOMEM;
}

size_t gh_os_page_size(void)
{
    if (page_size == 0) {
        long ps = sysconf(_SC_PAGESIZE);
        page_size = ps > 0 ? (size_t)ps : 4096;
    }
    return page_size;
}

void *gh_os_brk_current(void)
{
    return sbrk(0);
}

int gh_os_sbrk(intptr_t incr, void **old_brk)
{
    int err = incr > 0 ? hooked_failure(GH_OS_BRK) : 0;
    void *old = (void *)-1;
    if (!err) {
        int saved = errno;
        old = sbrk(incr);
        if (old == (void *)-1)
            err = failure(saved);
    }
    if (err)
        return memory_error("sbrk", err, "for an increment of", (const void *)incr);
    COUNT(brk_calls, 1);
    if (incr > 0)
        COUNT(brk_grow_bytes, incr);
    else
        COUNT(brk_shrink_bytes, -incr);
    *old_brk = old;
    return 0;
}

int gh_os_map(size_t len, void **out)
{
    int err = hooked_failure(GH_OS_MAP);
    void *p = MAP_FAILED;
    if (!err) {
        int saved = errno;
        p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            err = failure(saved);
    }
    if (err)
        return memory_error("mmap", err, "for a mapping of length", (const void *)len);
    COUNT(mmap_calls, 1);
    COUNT(mmap_bytes, len);
    *out = p;
    return 0;
}

int gh_os_unmap(void *p, size_t len)
{
    int saved = errno;
    if (munmap(p, len) != 0)
        return failure(saved);
    COUNT(munmap_calls, 1);
    COUNT(munmap_bytes, len);
    return 0;
}

int gh_os_remap(void *p, size_t oldlen, size_t newlen, int may_move, void **out)
{
    int err = newlen > oldlen ? hooked_failure(GH_OS_MAP) : 0;
    void *q = MAP_FAILED;
    if (!err) {
        int saved = errno;
        q = mremap(p, oldlen, newlen, may_move ? MREMAP_MAYMOVE : 0);
        if (q == MAP_FAILED)
            err = failure(saved);
    }
    if (err)
        return err; /* the kernel says EINVAL for a length past its limits: not fatal */
    COUNT(mremap_calls, 1);
    COUNT(mremap_bytes, newlen);
    *out = q;
    return 0;
}

int gh_os_decommit(void *p, size_t len)
{
    int err = hooked_failure(GH_OS_DECOMMIT);
    if (!err) {
        int saved = errno;
        if (madvise(p, len, MADV_DONTNEED) != 0)
            err = failure(saved);
    }
    if (err)
        return memory_error("madvise", err, "for the range at", p);
    COUNT(madvise_calls, 1);
    COUNT(madvise_bytes, len);
    return 0;
}

int gh_os_protect(void *p, size_t len, enum gh_os_access access)
{
    int saved = errno;
    int prot = access == GH_OS_READ_WRITE ? PROT_READ | PROT_WRITE : PROT_NONE;
    if (mprotect(p, len, prot) != 0)
        return memory_error("mprotect", failure(saved), "for the range at", p);
    COUNT(mprotect_calls, 1);
    COUNT(mprotect_bytes, len);
    return 0;
}

int gh_os_shm_create(const char *name, size_t size, int *fd, void **addr)
{
    int saved = errno;
    int err = hooked_failure(GH_OS_SHM);
    if (err)
        return err;
    int f = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (f < 0)
        return failure(saved);
    COUNT(shm_creates, 1);
    void *m = MAP_FAILED;
    if (ftruncate(f, (off_t)size) == 0)
        m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
    if (m == MAP_FAILED) {
        err = failure(saved);
        close(f);
        gh_os_shm_unlink(name);
        errno = saved;
        return err;
    }
    COUNT(shm_maps, 1);
    COUNT(shm_map_bytes, size);
    *fd = f;
    *addr = m;
    return 0;
}

int gh_os_shm_unmap(void *addr, size_t size)
{
    int saved = errno;
    if (munmap(addr, size) != 0)
        return failure(saved);
    COUNT(shm_unmaps, 1);
    return 0;
}

int gh_os_shm_unlink(const char *name)
{
    int saved = errno;
    if (shm_unlink(name) != 0)
        return failure(saved);
    COUNT(shm_unlinks, 1);
    return 0;
}

void gh_os_fail_after(enum gh_os_call call, long after)
{
    gh_os_fail_errno(call, after, ENOMEM);
}

void gh_os_fail_errno(enum gh_os_call call, long after, int err)
{
    fail_after[call] = after;
    fail_err[call] = err;
}

void gh_os_fail_reset(void)
{
    for (int i = 0; i < GH_OS_NCALLS; i++) {
        fail_after[i] = -1;
        fail_err[i] = 0;
    }
}

void gh_os_counts(struct gh_os_counts *out)
{
    const uint64_t *from = (const uint64_t *)&counts;
    uint64_t *to = (uint64_t *)out;
    for (size_t i = 0; i < sizeof counts / sizeof(uint64_t); i++)
        to[i] = __atomic_load_n(&from[i], __ATOMIC_RELAXED);
}
