// gh_cxx.cpp - C++ new/delete, new[]/delete[] and aligned new are served by
// glassheap (libstdc++'s operator new calls malloc, its aligned form
// aligned_alloc): glassheap's counters move, alignment holds, and the
// failure paths (bad_alloc, nothrow) behave.
//
// Exit 0 = pass, 1 = fail.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "gh_api_test.h"

static struct gh_t_api gh;
static void *volatile sink;
static volatile size_t vsz;

struct alignas(256) Wide {
    unsigned char b[300];
};
struct alignas(4096) Paged {
    int x;
};

static struct glassheap_counters ctr()
{
    return gh_t_counters(&gh);
}

int main()
{
    gh = gh_t_api();

    struct glassheap_counters c0 = ctr();
    int *one = new int(42);
    sink = one;
    struct glassheap_counters c1 = ctr();
    GH_T_CHECK(c1.malloc_calls == c0.malloc_calls + 1, "new int: malloc calls %llu -> %llu",
               (unsigned long long)c0.malloc_calls, (unsigned long long)c1.malloc_calls);
    GH_T_CHECK(c1.live_blocks == c0.live_blocks + 1, "new int: no new live block");
    delete one;
    struct glassheap_counters c2 = ctr();
    GH_T_CHECK(c2.free_calls == c1.free_calls + 1, "delete: free calls %llu -> %llu",
               (unsigned long long)c1.free_calls, (unsigned long long)c2.free_calls);
    GH_T_CHECK(c2.live_blocks == c0.live_blocks, "delete: live blocks not back");

    vsz = 1000;
    int *arr = new int[vsz];
    sink = arr;
    for (size_t i = 0; i < vsz; i++)
        arr[i] = (int)i;
    struct glassheap_counters c3 = ctr();
    GH_T_CHECK(c3.malloc_calls == c2.malloc_calls + 1, "new[]: not a glassheap malloc");
    GH_T_CHECK(c3.live_requested >= c2.live_requested + 4000, "new[]: live bytes");
    delete[] arr;
    struct glassheap_counters c4 = ctr();
    GH_T_CHECK(c4.free_calls == c3.free_calls + 1, "delete[]: not a glassheap free");

    Wide *w = new Wide;
    sink = w;
    struct glassheap_counters c5 = ctr();
    GH_T_CHECK((uintptr_t)w % 256 == 0, "new alignas(256): %p", (void *)w);
    GH_T_CHECK(c5.aligned_calls == c4.aligned_calls + 1,
               "aligned new: aligned calls %llu -> %llu", (unsigned long long)c4.aligned_calls,
               (unsigned long long)c5.aligned_calls);
    memset(w->b, 0x77, sizeof w->b);
    delete w;
    struct glassheap_counters c6 = ctr();
    GH_T_CHECK(c6.free_calls == c5.free_calls + 1, "aligned delete: not a glassheap free");
    GH_T_CHECK(c6.live_blocks == c0.live_blocks, "aligned delete: live blocks not back");

    vsz = 17;
    Wide *wa = new Wide[vsz];
    sink = wa;
    GH_T_CHECK((uintptr_t)wa % 256 == 0, "new alignas(256)[17]: %p", (void *)wa);
    for (size_t i = 0; i < vsz; i++)
        memset(wa[i].b, (int)i, sizeof wa[i].b);
    Paged *pg = new Paged[3];
    sink = pg;
    GH_T_CHECK((uintptr_t)pg % 4096 == 0, "new alignas(4096)[3]: %p", (void *)pg);
    struct glassheap_counters c7 = ctr();
    GH_T_CHECK(c7.aligned_calls == c6.aligned_calls + 2, "aligned new[]: aligned calls");
    delete[] pg;
    delete[] wa;

    // Failure paths.
    vsz = SIZE_MAX / 8;
    bool threw = false;
    try {
        sink = new char[vsz];
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    GH_T_CHECK(threw, "new char[huge] did not throw bad_alloc");
    sink = new (std::nothrow) char[vsz];
    GH_T_CHECK(sink == nullptr, "nothrow new char[huge] != nullptr");
    sink = new (std::nothrow) Wide[vsz / 1024];
    GH_T_CHECK(sink == nullptr, "nothrow aligned new[huge] != nullptr");

    // Ordinary C++ churn (a quarter of it under the debug checker, which
    // walks every live string after every call).
    {
        const int strings = gh_t_checked() ? 5000 : 20000;
        std::vector<std::string> v;
        std::map<int, std::unique_ptr<std::vector<int>>> m;
        for (int i = 0; i < strings; i++) {
            v.push_back(std::to_string(i) + std::string(i % 100, 'q'));
            m[i % 777] = std::make_unique<std::vector<int>>(i % 300, i);
        }
        for (int i = 0; i < strings; i++)
            GH_T_CHECK(v[i] == std::to_string(i) + std::string(i % 100, 'q'), "string %d", i);
        for (auto &kv : m)
            for (int x : *kv.second)
                GH_T_CHECK(x % 777 == kv.first, "map value");
    }
    struct glassheap_counters c8 = ctr();
    GH_T_CHECK(c8.live_blocks == c0.live_blocks, "live blocks %llu -> %llu after C++ churn",
               (unsigned long long)c0.live_blocks, (unsigned long long)c8.live_blocks);
    GH_T_CHECK(gh.check() == 1, "glassheap_check()");
    printf("ok\n");
    return 0;
}
