/* lock.h - the allocator's locks: futex mutexes (0 free, 1 held, 2 held
 * with waiters), one per arena and one for the cache registry.
 *
 * glibc (2.32+) keeps __libc_single_threaded true until the process first
 * creates a thread; while it is true nobody else can be inside the
 * allocator, so a lock needs no atomic instruction.  It cannot flip inside
 * a critical section: the allocator never creates threads there.
 *
 * gh_trylock never waits; gh_lock spins briefly, then sleeps in the kernel.
 */
#ifndef GH_LOCK_H
#define GH_LOCK_H

#include <errno.h>
#include <linux/futex.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char __libc_single_threaded __attribute__((weak));

static inline bool gh_single_threaded(void)
{
    return &__libc_single_threaded && __libc_single_threaded;
}

static inline void gh_lock_slow(int *w)
{
    for (int spin = 0; spin < 100; spin++) {
        if (__atomic_load_n(w, __ATOMIC_RELAXED) == 0 && __atomic_exchange_n(w, 1, __ATOMIC_ACQUIRE) == 0)
            return;
        __builtin_ia32_pause();
    }
    while (__atomic_exchange_n(w, 2, __ATOMIC_ACQUIRE) != 0)
        syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
}

static inline void gh_lock(int *w)
{
    if (gh_single_threaded()) {
        *w = 1;
        return;
    }
    int expected = 0;
    if (!__atomic_compare_exchange_n(w, &expected, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        gh_lock_slow(w);
}

/* Take the lock only if it is free now. */
static inline bool gh_trylock(int *w)
{
    if (gh_single_threaded()) {
        if (*w)
            return false;
        *w = 1;
        return true;
    }
    int expected = 0;
    return __atomic_load_n(w, __ATOMIC_RELAXED) == 0
        && __atomic_compare_exchange_n(w, &expected, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static inline void gh_unlock(int *w)
{
    if (gh_single_threaded()) {
        *w = 0;
        return;
    }
    if (__atomic_exchange_n(w, 0, __ATOMIC_RELEASE) == 2) {
        int saved = errno;
        syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
        errno = saved;
    }
}

#endif
