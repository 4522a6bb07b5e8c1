/* api_edge.c - the C allocator API's edge cases, against frontend-contract.md.
 *
 * cmocka tests, one per edge case.  `api_edge NAME` runs the test NAME only
 * (CTest runs each test in its own process, once per policy, with
 * GLASSHEAP_POLICY set); `api_edge` alone runs them all.  The program links
 * libglassheap.so ahead of libc, and the group setup checks that malloc
 * really is glassheap's and that the policy in force is the one asked for.
 *
 * Files: this one holds the group setup, the table of tests and main;
 * api_edge_basic.c, api_edge_aligned.c, api_edge_limits.c and
 * api_edge_info.c the tests, by group; api_edge.h what they share.
 */
#include "api_edge.h"

struct gh_t_api gh;
size_t page;
volatile size_t vsz;
void *volatile sink;

/* ------------------------------------------------------------------ */

static int group_setup(void **state)
{
    (void)state;
    gh = gh_t_api();
    page = (size_t)sysconf(_SC_PAGESIZE);
    return 0;
}

#define T(name) cmocka_unit_test(test_##name)
static const struct CMUnitTest all_tests[] = {
    T(served_by_glassheap),
    T(malloc0),
    T(free_null),
    T(realloc_null),
    T(realloc_zero),
    T(calloc_overflow),
    T(reallocarray_overflow),
    T(calloc_zeroes),
    T(posix_memalign_einval),
    T(posix_memalign_ok),
    T(aligned_alloc),
    T(memalign),
    T(aligned_alloc_bad_alignment),
    T(memalign_bad_alignment),
    T(valloc),
    T(pvalloc),
    T(huge_sizes),
    T(realloc_fail_intact),
    T(free_keeps_errno),
    T(align16_all),
    T(usable_size_all),
    T(usable_size_formula),
    T(malloc_trim),
    T(mallinfo),
    T(mallopt_mmap_threshold),
    T(realloc_contents),
};

int main(int argc, char **argv)
{
    size_t n = sizeof all_tests / sizeof *all_tests;
    if (argc < 2)
        return _cmocka_run_group_tests("api_edge", all_tests, n, group_setup, NULL);
    if (strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < n; i++)
            printf("%s\n", all_tests[i].name + strlen("test_"));
        return 0;
    }
    char want[128];
    snprintf(want, sizeof want, "test_%s", argv[1]);
    for (size_t i = 0; i < n; i++)
        if (strcmp(all_tests[i].name, want) == 0)
            return _cmocka_run_group_tests(argv[1], &all_tests[i], 1, group_setup, NULL);
    fprintf(stderr, "api_edge: no test named '%s' (try --list)\n", argv[1]);
    return 2;
}
