// gh_before_main.cpp - allocations before main and after it.
//
// A __attribute__((constructor)) and a C++ global object allocate before
// main (libstdc++'s own start-up allocates even earlier, possibly before
// glassheap's constructor has run); main checks that those blocks are intact
// and are glassheap's (malloc_usable_size works, freeing them lowers
// glassheap's live-block count); an atexit handler and the global's
// destructor allocate and free after main.  Built twice: linked to
// libglassheap.so, and not linked (run under LD_PRELOAD only).
//
// Exit 0 = pass, 1 = fail.
#include <cstdlib>
#include <cstring>
#include <malloc.h>
#include <string>
#include <vector>

#include "gh_api_test.h"

static void *ctor_block[4];
static const size_t ctor_size[4] = { 10, 100, 1000, 200000 };

__attribute__((constructor(101))) static void early_ctor(void)
{
    for (int i = 0; i < 4; i++) {
        ctor_block[i] = malloc(ctor_size[i]);
        if (ctor_block[i])
            gh_t_fill(ctor_block[i], ctor_size[i], 100 + i);
    }
}

struct Global {
    std::vector<std::string> strings;
    char *raw;
    int *array;
    Global()
    {
        for (int i = 0; i < 100; i++)
            strings.push_back(std::string(50 + i, char('a' + i % 26)));
        raw = static_cast<char *>(malloc(5000));
        if (raw)
            gh_t_fill(raw, 5000, 7);
        array = new int[1000];
        for (int i = 0; i < 1000; i++)
            array[i] = i * 3;
    }
    ~Global()
    {
        // After main: the heap must still work.
        strings.push_back(std::string(1000, 'z'));
        for (int i = 0; i < 100; i++)
            if (strings[i] != std::string(50 + i, char('a' + i % 26)))
                _exit(11);
        delete[] array;
    }
};
static Global g;

static void at_exit_handler(void)
{
    void *p = malloc(12345);
    if (!p)
        _exit(12);
    memset(p, 1, 12345);
    free(p);
}

int main()
{
    struct gh_t_api gh = gh_t_api();
    for (int i = 0; i < 4; i++) {
        GH_T_CHECK(ctor_block[i] != NULL, "constructor malloc(%zu) failed", ctor_size[i]);
        GH_T_CHECK(gh_t_verify(ctor_block[i], ctor_size[i], 100 + i) == (size_t)-1,
                   "constructor block %d corrupted", i);
        GH_T_CHECK(malloc_usable_size(ctor_block[i]) >= ctor_size[i], "usable size");
    }
    GH_T_CHECK(g.raw != NULL && gh_t_verify(g.raw, 5000, 7) == (size_t)-1,
               "global object's block corrupted");
    for (int i = 0; i < 1000; i++)
        GH_T_CHECK(g.array[i] == i * 3, "global new[] array corrupted");
    for (int i = 0; i < 100; i++)
        GH_T_CHECK(g.strings[i] == std::string(50 + i, char('a' + i % 26)), "string %d", i);

    struct glassheap_counters c0 = gh_t_counters(&gh);
    GH_T_CHECK(c0.malloc_calls >= 100, "glassheap saw only %llu mallocs",
               (unsigned long long)c0.malloc_calls);
    for (int i = 0; i < 3; i++)
        free(ctor_block[i]);
    free(g.raw);
    g.raw = NULL;
    struct glassheap_counters c1 = gh_t_counters(&gh);
    GH_T_CHECK(c1.live_blocks + 4 == c0.live_blocks,
               "freeing 4 pre-main heap blocks took live blocks from %llu to %llu",
               (unsigned long long)c0.live_blocks, (unsigned long long)c1.live_blocks);
    free(ctor_block[3]); // large
    struct glassheap_counters c2 = gh_t_counters(&gh);
    GH_T_CHECK(c2.large_blocks + 1 == c1.large_blocks,
               "freeing the pre-main large block: large blocks %llu -> %llu",
               (unsigned long long)c1.large_blocks, (unsigned long long)c2.large_blocks);
    // Preloaded with gh_dso: its constructor's block is glassheap's too.
    void *(*dso_block)(void) = (void *(*)(void))dlsym(RTLD_DEFAULT, "gh_dso_ctor_block");
    if (dso_block) {
        void *b = dso_block();
        GH_T_CHECK(b != NULL, "gh_dso's constructor malloc failed");
        GH_T_CHECK(gh_t_verify(b, 3000, 31) == (size_t)-1, "gh_dso's block corrupted");
        GH_T_CHECK(malloc_usable_size(b) >= 3000, "usable size of gh_dso's block");
        struct glassheap_counters d0 = gh_t_counters(&gh);
        free(b);
        struct glassheap_counters d1 = gh_t_counters(&gh);
        GH_T_CHECK(d1.live_blocks + 1 == d0.live_blocks, "gh_dso's block was not glassheap's");
        printf("gh_dso's constructor block checked\n");
    }
    GH_T_CHECK(gh.check() == 1, "glassheap_check()");
    atexit(at_exit_handler);
    printf("ok\n");
    return 0;
}
