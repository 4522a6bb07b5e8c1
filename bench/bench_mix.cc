// bench_mix.cc - malloc/free throughput for size mixes, through whatever
// allocator the process runs on (glibc by default; glassheap, jemalloc or
// mimalloc when preloaded).  compare.py runs it under each, side by side.
//
// Each benchmark reports items = malloc+free pairs, so ns per item is the
// cost of one pair.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

namespace {

// Touch the first bytes of a block, as a program would.
inline void touch(void *p, size_t n)
{
    if (p && n)
        static_cast<volatile char *>(p)[0] = 1;
}

// Fixed small size: allocate a batch of 64-byte blocks, free them in order.
void BM_FixedSmall(benchmark::State &state)
{
    const size_t batch = 1000;
    std::vector<void *> v(batch);
    for (auto _ : state) {
        for (size_t i = 0; i < batch; i++) {
            v[i] = malloc(64);
            touch(v[i], 64);
        }
        for (size_t i = 0; i < batch; i++)
            free(v[i]);
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations() * (int64_t)batch);
}

// Random sizes 16 B - 4 KiB over a working set of 10,000 live blocks: each
// item frees a random live block and allocates a new one in its place.
void BM_RandomMix(benchmark::State &state)
{
    const size_t slots = 10000;
    std::vector<void *> v(slots);
    std::mt19937_64 rng(1);
    std::vector<uint32_t> sizes(1 << 16), picks(1 << 16);
    for (auto &s : sizes)
        s = 16 + (uint32_t)(rng() % (4096 - 16 + 1));
    for (auto &p : picks)
        p = (uint32_t)(rng() % slots);
    for (size_t i = 0; i < slots; i++)
        v[i] = malloc(sizes[i]);
    size_t i = 0;
    for (auto _ : state) {
        uint32_t k = picks[i & 0xffff];
        free(v[k]);
        v[k] = malloc(sizes[i & 0xffff]);
        touch(v[k], 1);
        i++;
    }
    for (void *p : v)
        free(p);
    state.SetItemsProcessed(state.iterations());
}

// Producer/consumer: this thread allocates (sizes 32-512 B) and hands the
// blocks to a consumer thread that frees them, through a bounded ring.
void BM_ProducerConsumer(benchmark::State &state)
{
    constexpr size_t ring = 1024;
    std::vector<std::atomic<void *>> q(ring);
    for (auto &s : q)
        s.store(nullptr);
    std::atomic<bool> done{ false };
    std::thread consumer([&] {
        size_t head = 0;
        for (;;) {
            void *p = q[head].exchange(nullptr, std::memory_order_acquire);
            if (p) {
                free(p);
                head = (head + 1) % ring;
            } else if (done.load(std::memory_order_acquire)) {
                if (!q[head].load(std::memory_order_acquire))
                    break;
            } else {
                std::this_thread::yield();
            }
        }
    });
    std::mt19937 rng(3);
    size_t tail = 0;
    for (auto _ : state) {
        size_t n = 32 + rng() % 481;
        void *p = malloc(n);
        touch(p, n);
        while (q[tail].load(std::memory_order_acquire) != nullptr)
            std::this_thread::yield();
        q[tail].store(p, std::memory_order_release);
        tail = (tail + 1) % ring;
    }
    done.store(true, std::memory_order_release);
    consumer.join();
    state.SetItemsProcessed(state.iterations());
}

// Fragmentation-inducing: allocate 10,000 blocks of 100 B, free every other
// one, then allocate 5,000 blocks of 200 B (which do not fit the holes),
// then free everything.  Items are malloc+free pairs (15,000 per round).
void BM_Fragmentation(benchmark::State &state)
{
    const size_t n = 10000;
    std::vector<void *> a(n), b(n / 2);
    for (auto _ : state) {
        for (size_t i = 0; i < n; i++) {
            a[i] = malloc(100);
            touch(a[i], 100);
        }
        for (size_t i = 0; i < n; i += 2)
            free(a[i]);
        for (size_t i = 0; i < n / 2; i++) {
            b[i] = malloc(200);
            touch(b[i], 200);
        }
        for (size_t i = 1; i < n; i += 2)
            free(a[i]);
        for (size_t i = 0; i < n / 2; i++)
            free(b[i]);
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations() * (int64_t)(n + n / 2));
}

// Large blocks: each item allocates one block of 128 KiB - 1 MiB (sizes
// from a fixed random table), writes one byte in each of its pages, as a
// program filling a buffer would fault them in, and frees it.  Above
// glibc's initial mmap threshold (128 KiB), so it measures what an
// allocator does with a freed large block: unmap it (and map and fault it
// anew next time) or keep it.
void BM_LargeCycle(benchmark::State &state)
{
    constexpr size_t lo = 128 * 1024, hi = 1024 * 1024, page = 4096;
    std::mt19937_64 rng(5);
    std::vector<uint32_t> sizes(1 << 12);
    for (auto &s : sizes)
        s = (uint32_t)(lo + rng() % (hi - lo + 1));
    size_t i = 0;
    for (auto _ : state) {
        size_t n = sizes[i++ & (sizes.size() - 1)];
        auto *p = static_cast<volatile char *>(malloc(n));
        for (size_t off = 0; off < n; off += page)
            p[off] = 1;
        p[n - 1] = 1;
        free(const_cast<char *>(p));
    }
    state.SetItemsProcessed(state.iterations());
}

} // namespace

BENCHMARK(BM_FixedSmall);
BENCHMARK(BM_RandomMix);
BENCHMARK(BM_ProducerConsumer)->UseRealTime();
BENCHMARK(BM_Fragmentation);
BENCHMARK(BM_LargeCycle);

// With GH_BENCH_PEAK_RSS set, print the process's own peak resident set
// (VmHWM) to stderr at exit, for compare.py: getrusage in the parent would
// also count the parent's pages at fork, which hides a small benchmark.
__attribute__((destructor)) static void print_peak_rss()
{
    if (std::getenv("GH_BENCH_PEAK_RSS") == nullptr)
        return;
    FILE *f = std::fopen("/proc/self/status", "r");
    if (f == nullptr)
        return;
    char line[256];
    while (std::fgets(line, sizeof line, f))
        if (std::strncmp(line, "VmHWM:", 6) == 0)
            std::fprintf(stderr, "bench_mix: peak_rss_kib %ld\n", std::strtol(line + 6, nullptr, 10));
    std::fclose(f);
}

BENCHMARK_MAIN();
