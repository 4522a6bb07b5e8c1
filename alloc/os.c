/* os.c - system calls, one place.
 *
 * Owns: brk/sbrk, mmap, munmap, mremap, madvise and their counters.
 * Never: decides placement, allocates, prints, or locks.  Callers hold the
 * allocator lock where one is needed, so the counters are plain integers.
 *
 * sbrk() (not the raw brk system call) is used so glibc's cached break stays
 * in step with ours: a program that also calls sbrk() then sees the truth.
 */
#define _GNU_SOURCE
#include "os.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

static size_t page_size;
static long fail_after[GH_OS_NCALLS] = { -1, -1 };
static struct gh_os_counts counts;

/* True when a test hook says this call must fail. */
static int hooked_failure(enum gh_os_call call)
{
    if (fail_after[call] < 0)
        return 0;
    if (fail_after[call] == 0)
        return 1;
    fail_after[call]--;
    return 0;
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
    if (incr > 0 && hooked_failure(GH_OS_BRK))
        return ENOMEM;
    int saved = errno;
    void *old = sbrk(incr);
    if (old == (void *)-1) {
        int err = errno ? errno : ENOMEM;
        errno = saved;
        return err;
    }
    counts.brk_calls++;
    if (incr > 0)
        counts.brk_grow_bytes += (uint64_t)incr;
    else
        counts.brk_shrink_bytes += (uint64_t)-incr;
    *old_brk = old;
    return 0;
}

int gh_os_map(size_t len, void **out)
{
    if (hooked_failure(GH_OS_MAP))
        return ENOMEM;
    int saved = errno;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        int err = errno ? errno : ENOMEM;
        errno = saved;
        return err;
    }
    counts.mmap_calls++;
    counts.mmap_bytes += len;
    *out = p;
    return 0;
}

int gh_os_unmap(void *p, size_t len)
{
    int saved = errno;
    if (munmap(p, len) != 0) {
        int err = errno;
        errno = saved;
        return err;
    }
    counts.munmap_calls++;
    counts.munmap_bytes += len;
    return 0;
}

int gh_os_remap(void *p, size_t oldlen, size_t newlen, int may_move, void **out)
{
    if (newlen > oldlen && hooked_failure(GH_OS_MAP))
        return ENOMEM;
    int saved = errno;
    void *q = mremap(p, oldlen, newlen, may_move ? MREMAP_MAYMOVE : 0);
    if (q == MAP_FAILED) {
        int err = errno ? errno : ENOMEM;
        errno = saved;
        return err;
    }
    counts.mremap_calls++;
    counts.mremap_bytes += newlen;
    *out = q;
    return 0;
}

int gh_os_decommit(void *p, size_t len)
{
    int saved = errno;
    if (madvise(p, len, MADV_DONTNEED) != 0) {
        int err = errno;
        errno = saved;
        return err;
    }
    counts.madvise_calls++;
    counts.madvise_bytes += len;
    return 0;
}

void gh_os_fail_after(enum gh_os_call call, long after)
{
    fail_after[call] = after;
}

void gh_os_fail_reset(void)
{
    for (int i = 0; i < GH_OS_NCALLS; i++)
        fail_after[i] = -1;
}

void gh_os_counts(struct gh_os_counts *out)
{
    *out = counts;
}
