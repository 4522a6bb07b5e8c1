/* test_os.c - os.c in-process: every call counted, the ENOMEM hook, and a
 * failure that is not running out stopping the program with one line. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "os.h"
#include "../child_stderr.h"

static int reset(void **state)
{
    (void)state;
    gh_os_fail_reset();
    return 0;
}

static void test_map_unmap_remap_counted(void **state)
{
    (void)state;
    size_t ps = gh_os_page_size();
    struct gh_os_counts a, b;
    gh_os_counts(&a);
    void *p, *q;
    assert_int_equal(gh_os_map(2 * ps, &p), 0);
    memset(p, 0x5a, 2 * ps);
    assert_int_equal(gh_os_remap(p, 2 * ps, 4 * ps, 1, &q), 0);
    assert_int_equal(((unsigned char *)q)[ps], 0x5a);
    assert_int_equal(gh_os_decommit(q, ps), 0);
    assert_int_equal(((unsigned char *)q)[0], 0); /* dropped pages read back zero */
    assert_int_equal(gh_os_unmap(q, 4 * ps), 0);
    gh_os_counts(&b);
    assert_int_equal(b.mmap_calls - a.mmap_calls, 1);
    assert_int_equal(b.mmap_bytes - a.mmap_bytes, 2 * ps);
    assert_int_equal(b.mremap_calls - a.mremap_calls, 1);
    assert_int_equal(b.mremap_bytes - a.mremap_bytes, 4 * ps);
    assert_int_equal(b.madvise_calls - a.madvise_calls, 1);
    assert_int_equal(b.madvise_bytes - a.madvise_bytes, ps);
    assert_int_equal(b.munmap_calls - a.munmap_calls, 1);
    assert_int_equal(b.munmap_bytes - a.munmap_bytes, 4 * ps);
    assert_int_equal(b.shm_maps, a.shm_maps);
}

static void test_sbrk_counted(void **state)
{
    (void)state;
    struct gh_os_counts a, b;
    gh_os_counts(&a);
    void *old, *old2;
    assert_int_equal(gh_os_sbrk(4096, &old), 0);
    assert_ptr_equal((char *)gh_os_brk_current(), (char *)old + 4096);
    assert_int_equal(gh_os_sbrk(-4096, &old2), 0);
    assert_ptr_equal(gh_os_brk_current(), old);
    gh_os_counts(&b);
    assert_int_equal(b.brk_calls - a.brk_calls, 2);
    assert_int_equal(b.brk_grow_bytes - a.brk_grow_bytes, 4096);
    assert_int_equal(b.brk_shrink_bytes - a.brk_shrink_bytes, 4096);
}

static void test_shm_counted_and_apart(void **state)
{
    (void)state;
    char name[64];
    snprintf(name, sizeof name, "/gh_test_os.%ld", (long)getpid());
    gh_os_shm_unlink(name);
    struct gh_os_counts a, b;
    gh_os_counts(&a);
    int fd;
    void *m;
    assert_int_equal(gh_os_shm_create(name, 8192, &fd, &m), 0);
    ((char *)m)[8191] = 1; /* sized and mapped */
    int fd2;
    void *m2;
    assert_int_equal(gh_os_shm_create(name, 8192, &fd2, &m2), EEXIST); /* O_EXCL */
    assert_int_equal(gh_os_shm_unmap(m, 8192), 0);
    close(fd);
    assert_int_equal(gh_os_shm_unlink(name), 0);
    assert_int_equal(gh_os_shm_unlink(name), ENOENT);
    gh_os_counts(&b);
    assert_int_equal(b.shm_creates - a.shm_creates, 1);
    assert_int_equal(b.shm_maps - a.shm_maps, 1);
    assert_int_equal(b.shm_map_bytes - a.shm_map_bytes, 8192);
    assert_int_equal(b.shm_unmaps - a.shm_unmaps, 1);
    assert_int_equal(b.shm_unlinks - a.shm_unlinks, 1);
    /* the segment is not the heap's: its mmap is not in mmap_calls */
    assert_int_equal(b.mmap_calls, a.mmap_calls);
    assert_int_equal(b.munmap_calls, a.munmap_calls);
}

static void test_fail_after_gives_enomem(void **state)
{
    (void)state;
    size_t ps = gh_os_page_size();
    struct gh_os_counts a, b;
    void *p = NULL, *q = NULL, *old;
    gh_os_counts(&a);
    gh_os_fail_after(GH_OS_MAP, 1);
    assert_int_equal(gh_os_map(ps, &p), 0);
    assert_int_equal(gh_os_map(ps, &q), ENOMEM);
    assert_int_equal(gh_os_remap(p, ps, 2 * ps, 1, &q), ENOMEM); /* growth is a map */
    assert_int_equal(gh_os_remap(p, ps, ps, 1, &q), 0);           /* not growing: allowed */
    gh_os_fail_after(GH_OS_BRK, 0);
    assert_int_equal(gh_os_sbrk(4096, &old), ENOMEM);
    gh_os_fail_after(GH_OS_SHM, 0);
    int fd;
    void *m;
    assert_int_equal(gh_os_shm_create("/gh_test_os.never", 4096, &fd, &m), ENOMEM);
    gh_os_fail_reset();
    gh_os_counts(&b);
    assert_int_equal(b.mmap_calls - a.mmap_calls, 1); /* failures are not counted */
    assert_int_equal(b.mremap_calls - a.mremap_calls, 1);
    assert_int_equal(b.brk_calls, a.brk_calls);
    assert_int_equal(b.shm_creates, a.shm_creates);
    assert_int_equal(gh_os_map(ps, &q), 0); /* reset: calls succeed again */
    assert_int_equal(gh_os_unmap(q, ps), 0);
    assert_int_equal(gh_os_unmap(p, ps), 0);
}

static void test_unmap_error_returned(void **state)
{
    (void)state;
    size_t ps = gh_os_page_size();
    void *p;
    assert_int_equal(gh_os_map(2 * ps, &p), 0);
    errno = 1234;
    assert_int_equal(gh_os_unmap((char *)p + 1, ps), EINVAL); /* not fatal: the caller names the span */
    assert_int_equal(errno, 1234);
    assert_int_equal(gh_os_unmap(p, 2 * ps), 0);
}

/* Run fn in a child with stderr on a pipe; the child must abort and write
 * exactly `want`. */
static void run_fn(void *fn)
{
    (*(void (**)(void))fn)(); /* returns only when not fatal: exit 0 */
}

static void expect_fatal(void (*fn)(void), const char *want)
{
    char got[512];
    int st = gh_t_child(run_fn, &fn, got, sizeof got);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGABRT);
    assert_string_equal(got, want);
}

static void map_einval(void)
{
    void *p;
    gh_os_fail_errno(GH_OS_MAP, 0, EINVAL);
    gh_os_map(8192, &p);
}

static void real_map_einval(void)
{
    void *p;
    gh_os_map(0, &p); /* the kernel's own EINVAL: a zero length */
}

static void decommit_einval(void)
{
    gh_os_decommit((void *)(uintptr_t)0x10001, 4096); /* not page aligned */
}

static void sbrk_eagain(void)
{
    void *old;
    gh_os_fail_errno(GH_OS_BRK, 0, EAGAIN);
    gh_os_sbrk(4096, &old);
}

static void test_not_running_out_is_fatal(void **state)
{
    (void)state;
    char want[160];
    snprintf(want, sizeof want, "glassheap: mmap(): errno %d for a mapping of length 0x2000\n", EINVAL);
    expect_fatal(map_einval, want);
    snprintf(want, sizeof want, "glassheap: mmap(): errno %d for a mapping of length 0x0\n", EINVAL);
    expect_fatal(real_map_einval, want);
    snprintf(want, sizeof want, "glassheap: madvise(): errno %d for the range at 0x10001\n", EINVAL);
    expect_fatal(decommit_einval, want);
    snprintf(want, sizeof want, "glassheap: sbrk(): errno %d for an increment of 0x1000\n", EAGAIN);
    expect_fatal(sbrk_eagain, want);
}

static void test_remap_error_returned(void **state)
{
    (void)state;
    size_t ps = gh_os_page_size();
    void *p, *q;
    assert_int_equal(gh_os_map(ps, &p), 0);
    assert_int_equal(gh_os_unmap(p, ps), 0);
    assert_int_equal(gh_os_remap(p, ps, 2 * ps, 1, &q), EFAULT); /* not mapped any more */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_map_unmap_remap_counted, reset),
        cmocka_unit_test_setup(test_sbrk_counted, reset),
        cmocka_unit_test_setup(test_shm_counted_and_apart, reset),
        cmocka_unit_test_setup(test_fail_after_gives_enomem, reset),
        cmocka_unit_test_setup(test_unmap_error_returned, reset),
        cmocka_unit_test_setup(test_not_running_out_is_fatal, reset),
        cmocka_unit_test_setup(test_remap_error_returned, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
