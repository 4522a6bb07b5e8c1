/* gh_envcheck.c - runs under LD_PRELOAD with some GLASSHEAP_* setting and
 * checks that the library runs with the expected configuration:
 *
 *   gh_envcheck POLICY THRESHOLD
 *
 * glassheap_policy() must be POLICY; a request THRESHOLD - 8 KiB must be a
 * heap block and THRESHOLD + 8 KiB a large (mmap) block.  Then some ordinary
 * work.  Prints "ok" and exits 0, or says what is wrong and exits 1. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gh_api_test.h"

int main(int argc, char **argv)
{
    GH_T_CHECK(argc == 3, "usage: gh_envcheck POLICY THRESHOLD");
    struct gh_t_api gh = gh_t_api();
    const char *want = argv[1];
    size_t t = strtoull(argv[2], NULL, 0);
    GH_T_CHECK(strcmp(gh.policy(), want) == 0, "glassheap_policy() is '%s', expected '%s'",
               gh.policy(), want);

    size_t below = t - 8192, above = t + 8192;
    struct glassheap_counters c0 = gh_t_counters(&gh);
    void *a = malloc(below);
    struct glassheap_counters c1 = gh_t_counters(&gh);
    void *b = malloc(above);
    struct glassheap_counters c2 = gh_t_counters(&gh);
    GH_T_CHECK(a && b, "malloc failed");
    GH_T_CHECK(c1.large_blocks == c0.large_blocks,
               "malloc(%zu) was a large block: the threshold is not %zu", below, t);
    GH_T_CHECK(c2.large_blocks == c1.large_blocks + 1,
               "malloc(%zu) was not a large block: the threshold is not %zu", above, t);
    free(a);
    free(b);

    void *v[1000];
    for (int i = 0; i < 1000; i++) {
        v[i] = malloc((size_t)i * 13);
        GH_T_CHECK(v[i] != NULL, "malloc");
        gh_t_fill(v[i], (size_t)i * 13, i);
    }
    for (int i = 0; i < 1000; i++) {
        GH_T_CHECK(gh_t_verify(v[i], (size_t)i * 13, i) == (size_t)-1, "block %d", i);
        free(v[i]);
    }
    GH_T_CHECK(gh.check() == 1, "glassheap_check()");
    printf("ok\n");
    return 0;
}
