/* gh_dlopen.c - dlopen a library (gh_dso) that allocates in its
 * constructor; blocks cross the boundary both ways and are freed on the
 * other side; dlclose runs the library's destructor, which frees a block of
 * the main program.  The heap checks clean and the counters balance.
 *
 *   gh_dlopen PATH/libgh_dso.so
 *
 * Exit 0 = pass, 1 = fail.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gh_api_test.h"

int main(int argc, char **argv)
{
    GH_T_CHECK(argc == 2, "usage: gh_dlopen LIB");
    struct gh_t_api gh = gh_t_api();
    struct glassheap_counters c0 = gh_t_counters(&gh);

    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    GH_T_CHECK(h != NULL, "dlopen: %s", dlerror());
    void *(*ctor_block)(void) = (void *(*)(void))dlsym(h, "gh_dso_ctor_block");
    const char *(*ctor_string)(void) = (const char *(*)(void))dlsym(h, "gh_dso_ctor_string");
    void *(*dso_alloc)(size_t, uint64_t) = (void *(*)(size_t, uint64_t))dlsym(h, "gh_dso_alloc");
    int (*dso_check_free)(void *, size_t, uint64_t) =
        (int (*)(void *, size_t, uint64_t))dlsym(h, "gh_dso_check_free");
    void (*dso_keep)(void *) = (void (*)(void *))dlsym(h, "gh_dso_keep");
    GH_T_CHECK(ctor_block && ctor_string && dso_alloc && dso_check_free && dso_keep,
               "dlsym: %s", dlerror());

    /* The constructor's block is glassheap's, intact, and freed here. */
    void *cb = ctor_block();
    GH_T_CHECK(cb != NULL, "the library's constructor malloc failed");
    GH_T_CHECK(gh_t_verify(cb, 3000, 31) == (size_t)-1, "constructor block corrupted");
    GH_T_CHECK(malloc_usable_size(cb) >= 3000, "usable size of the constructor block");
    struct glassheap_counters c1 = gh_t_counters(&gh);
    free(cb);
    struct glassheap_counters c2 = gh_t_counters(&gh);
    GH_T_CHECK(c2.live_blocks + 1 == c1.live_blocks,
               "freeing the constructor's block: live blocks %" PRIu64 " -> %" PRIu64,
               c1.live_blocks, c2.live_blocks);
    GH_T_CHECK(strcmp(ctor_string(), "allocated in the constructor of gh_dso") == 0,
               "constructor strdup");

    /* Library allocates, main frees; main allocates, library frees. */
    void *blocks[64];
    for (int i = 0; i < 64; i++) {
        size_t n = i == 63 ? 300000 : (size_t)i * 61 + 1;
        blocks[i] = dso_alloc(n, 1000 + i);
        GH_T_CHECK(blocks[i] != NULL, "gh_dso_alloc(%zu)", n);
    }
    for (int i = 0; i < 64; i++) {
        size_t n = i == 63 ? 300000 : (size_t)i * 61 + 1;
        GH_T_CHECK(gh_t_verify(blocks[i], n, 1000 + i) == (size_t)-1, "dso block %d", i);
        free(blocks[i]);
    }
    for (int i = 0; i < 64; i++) {
        size_t n = i == 63 ? 250000 : (size_t)i * 53 + 7;
        void *p = malloc(n);
        GH_T_CHECK(p != NULL, "malloc(%zu)", n);
        gh_t_fill(p, n, 2000 + i);
        GH_T_CHECK(dso_check_free(p, n, 2000 + i) == 1, "main block %d seen corrupted by the "
                   "library", i);
    }
    void *k = malloc(500);
    GH_T_CHECK(k != NULL, "malloc(500)");
    gh_t_fill(k, 500, 77);
    dso_keep(k);
    GH_T_CHECK(gh.check() == 1, "glassheap_check() with the library loaded");

    GH_T_CHECK(dlclose(h) == 0, "dlclose: %s", dlerror());
    GH_T_CHECK(gh.check() == 1, "glassheap_check() after dlclose");
    struct glassheap_counters c3 = gh_t_counters(&gh);
    /* dlopen/dlclose's own allocations (link maps, ...) may stay cached. */
    printf("live blocks: %" PRIu64 " before dlopen, %" PRIu64 " after dlclose; large %" PRIu64
           " -> %" PRIu64 "\n", c0.live_blocks, c3.live_blocks, c0.large_blocks,
           c3.large_blocks);
    GH_T_CHECK(c3.large_blocks == c0.large_blocks, "large blocks leaked");
    GH_T_CHECK(c3.live_blocks <= c0.live_blocks + 16, "blocks leaked across dlopen/dlclose");
    printf("ok\n");
    return 0;
}
