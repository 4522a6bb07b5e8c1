/* bench_threads.c - wall-clock throughput of malloc/free with threads.
 *
 *   bench_threads WORKLOAD THREADS [OPS_PER_THREAD]
 *
 * Runs THREADS threads that each do OPS_PER_THREAD operations of one
 * workload through plain malloc/free/realloc (so it runs under any
 * allocator, preloaded), and prints one JSON line with the wall-clock
 * time from the moment every thread is released to the moment the last
 * one finishes.  Wall time, not CPU time: a thread parked on a futex
 * costs no CPU but the program still waits for it.  The work per thread
 * is fixed, so with more threads than cores (8 on a 2-core machine) the
 * time grows even for a perfect allocator; compare allocators, not
 * thread counts.  The line also gives the process's peak RSS (VmHWM).
 *
 * Workloads:
 *   local     thread-local churn: a window of 1024 slots per thread, each
 *             operation frees one slot at random and allocates a new block
 *             of 16-512 bytes (mostly small) into it.
 *   server    blocks freed by other threads: one shared table of slots;
 *             each operation allocates a block and swaps it into a random
 *             slot (atomically), freeing the block that was there, which
 *             another thread most likely allocated.
 *   prodcons  producer/consumer pairs: thread 2k allocates blocks and
 *             passes them through a bounded ring to thread 2k+1, which
 *             frees them (one thread alone alternates the two roles).
 *   realloc   realloc-heavy mix: 256 slots per thread, each operation
 *             grows or shrinks a random slot to a new size 8 B - 8 KiB.
 *
 * Every block is written at both ends so the allocator's pages are
 * really touched.  bench/threads.py runs this under each allocator.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum workload { W_LOCAL, W_SERVER, W_PRODCONS, W_REALLOC };

static const char *const workload_names[] = { "local", "server", "prodcons", "realloc" };

#define LOCAL_SLOTS 1024u
#define SERVER_SLOTS_PER_THREAD 1024u
#define RING_SIZE 256u
#define REALLOC_SLOTS 256u

struct ring {
    _Atomic(void *) slot[RING_SIZE];
    _Atomic uint64_t head; /* next slot the producer fills */
    _Atomic uint64_t tail; /* next slot the consumer empties */
};

static enum workload g_work;
static unsigned g_threads;
static uint64_t g_ops;
static _Atomic(void *) *g_table;
static size_t g_table_len;
static struct ring *g_rings;
static pthread_barrier_t g_start;
static _Atomic uint64_t g_first_start_ns = UINT64_MAX;
static _Atomic uint64_t g_last_end_ns;

static uint64_t next_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* 16-512 bytes, three quarters of them at most 128. */
static size_t small_size(uint64_t *rng)
{
    uint64_t r = next_rand(rng);
    if ((r & 3u) != 0)
        return 16 + (size_t)((r >> 8) % 113);
    return 16 + (size_t)((r >> 8) % 497);
}

static void *touch(void *p, size_t n)
{
    if (p == NULL) {
        fprintf(stderr, "bench_threads: allocation of %zu bytes failed\n", n);
        exit(1);
    }
    unsigned char *b = p;
    b[0] = (unsigned char)n;
    b[n - 1] = (unsigned char)n;
    return p;
}

static void run_local(uint64_t *rng)
{
    void *slot[LOCAL_SLOTS] = { 0 };
    for (uint64_t i = 0; i < g_ops; i++) {
        unsigned k = (unsigned)(next_rand(rng) % LOCAL_SLOTS);
        free(slot[k]);
        size_t n = small_size(rng);
        slot[k] = touch(malloc(n), n);
    }
    for (unsigned k = 0; k < LOCAL_SLOTS; k++)
        free(slot[k]);
}

static void run_server(uint64_t *rng)
{
    for (uint64_t i = 0; i < g_ops; i++) {
        size_t n = small_size(rng);
        void *p = touch(malloc(n), n);
        size_t k = (size_t)(next_rand(rng) % g_table_len);
        free(atomic_exchange_explicit(&g_table[k], p, memory_order_acq_rel));
    }
}

static void ring_put(struct ring *r, void *p)
{
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    while (h - atomic_load_explicit(&r->tail, memory_order_acquire) >= RING_SIZE)
        sched_yield();
    atomic_store_explicit(&r->slot[h % RING_SIZE], p, memory_order_relaxed);
    atomic_store_explicit(&r->head, h + 1, memory_order_release);
}

static void *ring_take(struct ring *r)
{
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    while (atomic_load_explicit(&r->head, memory_order_acquire) == t)
        sched_yield();
    void *p = atomic_load_explicit(&r->slot[t % RING_SIZE], memory_order_relaxed);
    atomic_store_explicit(&r->tail, t + 1, memory_order_release);
    return p;
}

static void run_prodcons(unsigned id, uint64_t *rng)
{
    if (g_threads == 1) {
        /* One thread: fill the ring, then empty it, round after round. */
        void *batch[RING_SIZE];
        for (uint64_t i = 0; i < g_ops; i += RING_SIZE) {
            unsigned n = (unsigned)(g_ops - i < RING_SIZE ? g_ops - i : RING_SIZE);
            for (unsigned k = 0; k < n; k++) {
                size_t sz = small_size(rng);
                batch[k] = touch(malloc(sz), sz);
            }
            for (unsigned k = 0; k < n; k++)
                free(batch[k]);
        }
        return;
    }
    if (id >= g_threads / 2 * 2) {
        /* The odd thread out of an odd count churns on its own. */
        run_local(rng);
        return;
    }
    struct ring *r = &g_rings[id / 2];
    if (id % 2 == 0) {
        for (uint64_t i = 0; i < g_ops; i++) {
            size_t sz = small_size(rng);
            ring_put(r, touch(malloc(sz), sz));
        }
    } else {
        for (uint64_t i = 0; i < g_ops; i++)
            free(ring_take(r));
    }
}

static void run_realloc(uint64_t *rng)
{
    void *slot[REALLOC_SLOTS] = { 0 };
    for (uint64_t i = 0; i < g_ops; i++) {
        unsigned k = (unsigned)(next_rand(rng) % REALLOC_SLOTS);
        uint64_t r = next_rand(rng);
        size_t n = (r & 7u) == 0 ? 8 + (size_t)((r >> 8) % 8185) : 8 + (size_t)((r >> 8) % 1017);
        void *p = realloc(slot[k], n);
        slot[k] = touch(p, n);
    }
    for (unsigned k = 0; k < REALLOC_SLOTS; k++)
        free(slot[k]);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The wall time runs from the first thread's start to the last one's end,
 * each taken by the worker itself (the main thread may not run at once
 * when the barrier opens on an oversubscribed machine). */
static void note_start(void)
{
    uint64_t t = now_ns(), seen = atomic_load(&g_first_start_ns);
    while (t < seen && !atomic_compare_exchange_weak(&g_first_start_ns, &seen, t)) {
    }
}

static void note_end(void)
{
    uint64_t t = now_ns(), seen = atomic_load(&g_last_end_ns);
    while (t > seen && !atomic_compare_exchange_weak(&g_last_end_ns, &seen, t)) {
    }
}

static void *worker(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    uint64_t rng = 0x9E3779B97F4A7C15ull * (id + 1);
    pthread_barrier_wait(&g_start);
    note_start();
    switch (g_work) {
    case W_LOCAL: run_local(&rng); break;
    case W_SERVER: run_server(&rng); break;
    case W_PRODCONS: run_prodcons(id, &rng); break;
    case W_REALLOC: run_realloc(&rng); break;
    }
    note_end();
    return NULL;
}

/* The process's own peak resident set (VmHWM, KiB): getrusage in the
 * parent would also count the parent's pages at fork, which a small
 * benchmark never exceeds. */
static long peak_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    fclose(f);
    return kib;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_threads local|server|prodcons|realloc THREADS [OPS_PER_THREAD]\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4)
        return usage();
    int found = 0;
    for (unsigned w = 0; w < sizeof workload_names / sizeof *workload_names; w++)
        if (strcmp(argv[1], workload_names[w]) == 0) {
            g_work = (enum workload)w;
            found = 1;
        }
    char *end;
    unsigned long t = strtoul(argv[2], &end, 10);
    if (!found || *end != '\0' || t == 0 || t > 256)
        return usage();
    g_threads = (unsigned)t;
    g_ops = 1000000;
    if (argc == 4) {
        unsigned long long o = strtoull(argv[3], &end, 10);
        if (*end != '\0' || o == 0)
            return usage();
        g_ops = o;
    }
    if (g_work == W_SERVER) {
        g_table_len = (size_t)SERVER_SLOTS_PER_THREAD * g_threads;
        g_table = calloc(g_table_len, sizeof *g_table);
    }
    if (g_work == W_PRODCONS)
        g_rings = calloc(g_threads / 2 + 1, sizeof *g_rings);
    if ((g_work == W_SERVER && g_table == NULL) || (g_work == W_PRODCONS && g_rings == NULL)) {
        fprintf(stderr, "bench_threads: no memory for the shared tables\n");
        return 1;
    }
    pthread_t *tid = calloc(g_threads, sizeof *tid);
    if (tid == NULL || pthread_barrier_init(&g_start, NULL, g_threads + 1) != 0) {
        fprintf(stderr, "bench_threads: cannot set up %u threads\n", g_threads);
        return 1;
    }
    for (unsigned i = 0; i < g_threads; i++)
        if (pthread_create(&tid[i], NULL, worker, (void *)(uintptr_t)i) != 0) {
            fprintf(stderr, "bench_threads: pthread_create failed\n");
            return 1;
        }
    pthread_barrier_wait(&g_start);
    for (unsigned i = 0; i < g_threads; i++)
        pthread_join(tid[i], NULL);
    double wall = (double)(g_last_end_ns - g_first_start_ns) * 1e-9;
    if (g_work == W_SERVER)
        for (size_t k = 0; k < g_table_len; k++)
            free(atomic_load(&g_table[k]));
    printf("{\"workload\":\"%s\",\"threads\":%u,\"ops_per_thread\":%llu,\"wall_s\":%.6f,"
           "\"peak_rss_kib\":%ld}\n",
           workload_names[g_work], g_threads, (unsigned long long)g_ops, wall, peak_rss_kib());
    free(g_table);
    free(g_rings);
    free(tid);
    return 0;
}
