/* test_source.c - the source's error rule.
 *
 * Proves: running out stays recoverable (the break and mmap both refused
 * through the os test hooks: gh_source_grow returns ENOMEM and changes
 * nothing), while an munmap error (a span the source never mapped) stops
 * the process with one line naming the call, errno and the span, and
 * SIGABRT.  (An mmap error other than ENOMEM takes the same path; the os
 * hooks can only make mmap run out, so it is not forced here.)
 */
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
#include "unit_util.h"
#include "../child_stderr.h"

static void test_out_of_memory_is_enomem(void **state)
{
    (void)state;
    struct gh_source src;
    gh_source_init_break(&src);
    gh_os_fail_after(GH_OS_BRK, 0);
    gh_os_fail_after(GH_OS_MAP, 0);
    struct gh_span span = { NULL, 0, false };
    assert_int_equal(gh_source_grow(&src, NULL, 1u << 20, &span), ENOMEM);
    assert_null(span.base);
    assert_int_equal(src.brk_failures, 1);
    gh_os_fail_reset();
}

static void release_span(void *span)
{
    struct gh_source src;
    gh_source_init_break(&src);
    gh_source_release(&src, span);
}

/* Run gh_source_release on a span starting one byte into a mapping, in a
 * child; its stderr and status come back. */
static void test_munmap_error_is_fatal(void **state)
{
    (void)state;
    size_t ps = (size_t)sysconf(_SC_PAGESIZE);
    char *page = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(page != MAP_FAILED);
    struct gh_span span = { page + 1, ps, true }; /* not page aligned: EINVAL */
    char err[256];
    int st = gh_t_child(release_span, &span, err, sizeof err);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    char want[128];
    snprintf(want, sizeof want, "glassheap: munmap(): errno %d for the heap span at %p\n", EINVAL, (void *)(page + 1));
    assert_string_equal(err, want);
    munmap(page, ps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_out_of_memory_is_enomem),
        cmocka_unit_test(test_munmap_error_is_fatal),
    };
    return cmocka_run_group_tests_name("source", tests, NULL, NULL);
}
