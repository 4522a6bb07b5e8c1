/* os.c - system calls, one place.
 *
 * Owns: brk/sbrk, mmap, munmap, mremap, madvise, mprotect, the segment's
 * shm_open/ftruncate/mmap/munmap/shm_unlink, their counters, the fatal
 * line for an error that is not running out (os.h says which calls), and
 * the rule for opening a file named in the environment
 * (gh_os_open_private) with its warning line, and the SIGBUS guard of the
 * segment's mapping (the one signal handler glassheap installs).
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
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

#define OPEN_TRIES 4 /* gh_os_open_private: create, else open the existing file */

static size_t page_size;
static long fail_after[GH_OS_NCALLS] = { -1, -1, -1, -1 };
static int fail_err[GH_OS_NCALLS];
static struct gh_os_counts counts_own;
static struct gh_os_counts *counts = &counts_own; /* here, or in place (gh_os_counts_place) */

#define COUNT(field, n) \
    __atomic_fetch_add(&__atomic_load_n(&counts, __ATOMIC_RELAXED)->field, (uint64_t)(n), __ATOMIC_RELAXED)

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

int gh_os_reserve(size_t len, size_t align, void **out)
{
    int err = hooked_failure(GH_OS_MAP);
    size_t total = len + align;
    void *p = MAP_FAILED;
    if (!err && total < len)
        err = ENOMEM;
    if (!err) {
        int saved = errno;
        p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED)
            err = failure(saved);
    }
    if (err)
        return memory_error("mmap", err, "for a reservation of length", (const void *)len);
    COUNT(mmap_calls, 1);
    COUNT(mmap_bytes, total);
    uintptr_t a = (uintptr_t)p, b = (a + align - 1) & ~(uintptr_t)(align - 1);
    /* Cut the unaligned head and the tail: what is left is [b, b + len). */
    int e;
    if (b > a && (e = gh_os_unmap(p, b - a)) != 0)
        gh_fatal_errno("munmap", e, "for the head of a reservation at", p);
    if (a + total > b + len && (e = gh_os_unmap((char *)b + len, a + total - (b + len))) != 0)
        gh_fatal_errno("munmap", e, "for the tail of a reservation at", (void *)(b + len));
    *out = (void *)b;
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

/* ---- files named in the environment --------------------------------- */

#define PRIVATE_FLAGS (O_WRONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)

/* The checks of an opened descriptor: 0 or why it must not be used. */
static int usable_file(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return errno ? errno : EIO;
    if (!S_ISREG(st.st_mode))
        return GH_OS_NOT_REGULAR;
    if (st.st_uid != geteuid())
        return GH_OS_NOT_OWNER;
    if (st.st_nlink != 1)
        return GH_OS_LINKED;
    return 0;
}

/* An existing file: its descriptor (no O_CREAT, no O_TRUNC), or -1 with
 * errno (ENOENT: there is none). */
static int open_existing(const char *path)
{
    return open(path, PRIVATE_FLAGS);
}

int gh_os_open_private(const char *path, int *out)
{
    int saved = errno;
    *out = -1;
    /* A new file, or else the existing one; an existing file is emptied
     * only once it passed.  (Retried when the name comes and goes between
     * the two opens.) */
    int fd = -1;
    for (int try = 0; fd < 0 && try < OPEN_TRIES; try++) {
        errno = 0;
        fd = open(path, PRIVATE_FLAGS | O_CREAT | O_EXCL, 0600);
        if (fd >= 0)
            break;
        if (errno != EEXIST)
            return failure(saved);
        fd = open_existing(path);
        if (fd < 0 && errno != ENOENT)
            return failure(saved);
    }
    if (fd < 0)
        return failure(saved);
    int err = usable_file(fd);
    if (!err && (fcntl(fd, F_SETFL, 0) != 0 || ftruncate(fd, 0) != 0))
        err = failure(saved);
    if (err) {
        close(fd);
        errno = saved;
        return err;
    }
    *out = fd;
    errno = saved;
    return 0;
}

int gh_os_check_private(const char *path)
{
    int saved = errno;
    int fd = open_existing(path);
    if (fd >= 0) {
        int err = usable_file(fd);
        close(fd);
        errno = saved;
        return err;
    }
    if (errno != ENOENT)
        return failure(saved);
    /* None yet: make one and take it back at once, which proves that the
     * directory takes it (a missing directory, /proc, a read-only file
     * system answer here). */
    fd = open(path, PRIVATE_FLAGS | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return errno == EEXIST ? (errno = saved, 0) : failure(saved);
    struct stat mine, named;
    if (fstat(fd, &mine) == 0 && lstat(path, &named) == 0 && mine.st_dev == named.st_dev &&
        mine.st_ino == named.st_ino)
        unlink(path);
    close(fd);
    errno = saved;
    return 0;
}

const char *gh_os_open_why(int code)
{
    switch (code) {
    case GH_OS_NOT_REGULAR: return "it is not a regular file";
    case GH_OS_NOT_OWNER:   return "it is owned by another user";
    case GH_OS_LINKED:      return "it has other hard links";
    case ELOOP:             return "it is a symbolic link";
    case ENOENT:            return "no such directory";
    case ENOTDIR:           return "a part of the path is not a directory";
    case EISDIR:            return "it is a directory";
    case EACCES:
    case EPERM:             return "permission denied";
    case EROFS:             return "read-only file system";
    case ENXIO:             return "it is a FIFO or device nobody reads";
    case ENAMETOOLONG:      return "the path is too long";
    case ENOSPC:            return "no space left on the device";
    case EDQUOT:            return "the disk quota is used up";
    case EFBIG:             return "the file size limit is reached";
    default:                return NULL;
    }
}

void gh_os_warn_unusable(const char *var, const char *path, int code, const char *then)
{
    char num[24];
    const char *why = gh_os_open_why(code);
    gh_write_str(2, "glassheap: ");
    gh_write_str(2, var);
    gh_write_str(2, ": cannot use '");
    gh_write_str(2, path);
    gh_write_str(2, "': ");
    if (why) {
        gh_write_str(2, why);
    } else {
        gh_fmt_dec(num, (unsigned long)(code < 0 ? -code : code));
        gh_write_str(2, "errno ");
        gh_write_str(2, num);
    }
    gh_write_str(2, "; ");
    gh_write_str(2, then);
    gh_write_str(2, "\n");
}

/* ---- the segment's mapping against SIGBUS ---------------------------- */

static char *guard_addr;
static size_t guard_len;
static volatile sig_atomic_t guard_hit;
static bool guard_installed;

/* Private zero pages over [addr, addr+len) (async-signal-safe: one mmap). */
static bool replace_with_private(void *addr, size_t len)
{
    return mmap(addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED;
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    char *a = si->si_addr;
    if (si->si_code > 0 && guard_len && a >= guard_addr && a < guard_addr + guard_len) {
        if (replace_with_private(guard_addr, guard_len)) {
            guard_hit = 1;
            return; /* the faulting access runs again, on the new pages */
        }
    }
    /* Not ours: what would have happened without glassheap. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL);
    raise(sig); /* delivered when this returns (a fault also repeats) */
}

void gh_os_shm_guard(void *addr, size_t len)
{
    int saved = errno;
    guard_len = 0;
    guard_hit = 0;
    guard_addr = addr;
    if (!guard_installed) {
        struct sigaction old, sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_sigbus;
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGBUS, NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL &&
            sigaction(SIGBUS, &sa, NULL) == 0)
            guard_installed = true;
    }
    guard_len = len;
    errno = saved;
}

void gh_os_shm_unguard(void)
{
    guard_len = 0;
}

bool gh_os_shm_lost(int fd, void *addr, size_t len)
{
    if (guard_hit && guard_len && (char *)addr == guard_addr)
        return true;
    int saved = errno;
    struct stat st;
    bool shrunk = fd >= 0 && fstat(fd, &st) == 0 && (st.st_size < 0 || (uint64_t)st.st_size < len);
    if (shrunk)
        replace_with_private(addr, len);
    errno = saved;
    return shrunk;
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
    const uint64_t *from = (const uint64_t *)__atomic_load_n(&counts, __ATOMIC_ACQUIRE);
    uint64_t *to = (uint64_t *)out;
    for (size_t i = 0; i < sizeof *out / sizeof(uint64_t); i++)
        to[i] = __atomic_load_n(&from[i], __ATOMIC_RELAXED);
}

void gh_os_counts_place(struct gh_os_counts *to)
{
    if (!to)
        to = &counts_own;
    if (to == counts)
        return;
    gh_os_counts(to);
    __atomic_store_n(&counts, to, __ATOMIC_RELEASE);
}
