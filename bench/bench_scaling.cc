// bench_scaling.cc - cost of one malloc+free pair as the number of free
// blocks grows, for every policy, on the arena heap (the very code the
// preloaded library runs), and for a linear free list as the contrast.
//
// The heap is the classic splinter pattern that hurts address-ordered
// search: N small free blocks (48-240 B) separated by live 48-byte blocks,
// then 64 free 4 KiB blocks at the top.  The requests cycle through sizes
// 16-3000 B, so most of them fit only the big blocks at the top and an
// address-ordered list scan would step over every splinter.  Each malloc is
// freed at once: the split piece coalesces back, so the free set (and N)
// is the same for every iteration.
#include <benchmark/benchmark.h>

#include <sys/mman.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

extern "C" {
#include "heap.h"
}

namespace {

struct Arena {
    void *mem = nullptr;
    size_t len = 0;
    explicit Arena(size_t n) : len(n)
    {
        mem = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (mem == MAP_FAILED)
            mem = nullptr;
    }
    ~Arena()
    {
        if (mem)
            munmap(mem, len);
    }
};

constexpr int kTopBlocks = 64;
constexpr size_t kTopSize = 4096;

// Build the splinter heap with n free blocks; returns the live blocks.
std::vector<void *> build(gh_heap *h, int64_t n)
{
    std::mt19937_64 rng(42);
    std::vector<void *> live;
    std::vector<void *> to_free;
    live.reserve(n + kTopBlocks + 1);
    for (int64_t i = 0; i < n; i++) {
        size_t small = 32 + 16 * (rng() % 13); // 48..240-byte blocks
        to_free.push_back(gh_heap_alloc(h, small));
        live.push_back(gh_heap_alloc(h, 32)); // separator
    }
    for (int i = 0; i < kTopBlocks; i++) {
        to_free.push_back(gh_heap_alloc(h, kTopSize - 16));
        live.push_back(gh_heap_alloc(h, 32));
    }
    for (void *p : to_free)
        gh_heap_free(h, p, "free");
    return live;
}

void BM_Policy(benchmark::State &state, const char *policy)
{
    const int64_t n = state.range(0);
    Arena arena((size_t)(n + kTopBlocks) * 400 + (64u << 20));
    gh_source src;
    gh_source_init_arena(&src, arena.mem, arena.len);
    gh_heap h;
    gh_heap_init_named(&h, &src, policy, 24);
    h.trim_threshold = SIZE_MAX; // keep the heap still while timing
    std::vector<void *> live = build(&h, n);
    std::vector<size_t> sizes(4096);
    std::mt19937_64 rng(7);
    for (auto &s : sizes)
        s = 16 + rng() % 2985;
    size_t i = 0;
    uint64_t visits = gh_tree_visits;
    for (auto _ : state) {
        void *p = gh_heap_alloc(&h, sizes[i++ & 4095]);
        benchmark::DoNotOptimize(p);
        gh_heap_free(&h, p, "free");
    }
    // tree nodes stepped onto per malloc+free pair: searches, inserts, removes
    state.counters["node_visits"] = (double)(gh_tree_visits - visits) / (double)state.iterations();
    state.counters["free_blocks"] = (double)gh_heap_free_blocks(&h);
    state.SetItemsProcessed(state.iterations());
    const char *why = nullptr;
    if (!gh_heap_check(&h, &why, nullptr))
        state.SkipWithError(why);
}

// The contrast: first fit over an address-ordered singly linked list of the
// same free sizes, searched from the front every time.
void BM_LinearFirstFit(benchmark::State &state)
{
    const int64_t n = state.range(0);
    struct Node {
        size_t size;
        Node *next;
    };
    std::vector<Node> nodes((size_t)n + kTopBlocks);
    std::mt19937_64 rng(42);
    for (int64_t i = 0; i < n; i++)
        nodes[(size_t)i].size = 48 + 16 * (rng() % 13);
    for (int i = 0; i < kTopBlocks; i++)
        nodes[(size_t)n + (size_t)i].size = kTopSize;
    for (size_t i = 0; i + 1 < nodes.size(); i++)
        nodes[i].next = &nodes[i + 1];
    nodes.back().next = nullptr;
    std::vector<size_t> sizes(4096);
    std::mt19937_64 rng2(7);
    for (auto &s : sizes)
        s = (16 + rng2() % 2985 + 16 + 15) & ~(size_t)15;
    size_t i = 0;
    for (auto _ : state) {
        size_t want = sizes[i++ & 4095];
        Node *p = &nodes[0];
        while (p && p->size < want)
            p = p->next;
        benchmark::DoNotOptimize(p);
    }
    state.SetItemsProcessed(state.iterations());
}

void counts(benchmark::internal::Benchmark *b)
{
    for (int64_t n : { 100, 1000, 10000, 100000, 1000000 })
        b->Arg(n);
}

} // namespace

BENCHMARK_CAPTURE(BM_Policy, first, "first")->Apply(counts);
BENCHMARK_CAPTURE(BM_Policy, next, "next")->Apply(counts);
BENCHMARK_CAPTURE(BM_Policy, best, "best")->Apply(counts);
BENCHMARK_CAPTURE(BM_Policy, worst, "worst")->Apply(counts);
BENCHMARK_CAPTURE(BM_Policy, buddy, "buddy")->Apply(counts);
BENCHMARK(BM_LinearFirstFit)->Apply(counts);

BENCHMARK_MAIN();
