/* gh_threads.c - 8 threads allocate, pass blocks to each other through a
 * shared queue, resize and free them; every block's contents are checked
 * when it changes hands and when it is freed (mimalloc's test-stress idea).
 *
 *   gh_threads [seconds]     (default 1.5)
 *
 * Exit 0 = pass, 1 = fail.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gh_api_test.h"

#define NTHREADS 8
#define QCAP 4096
#define NLOCAL 32

struct item {
    unsigned char *p;
    size_t n;
    uint64_t id;
};

static struct {
    pthread_mutex_t lock;
    struct item it[QCAP];
    size_t head, count;
} q = { .lock = PTHREAD_MUTEX_INITIALIZER };

static atomic_int stop;
static atomic_uint_fast64_t next_id = 1;
static atomic_uint_fast64_t ops;

#define TFAIL(...)                                                                  \
    do {                                                                            \
        char m_[512];                                                               \
        int l_ = snprintf(m_, sizeof m_, "FAIL %s:%d: ", __FILE__, __LINE__);      \
        l_ += snprintf(m_ + l_, sizeof m_ - l_, __VA_ARGS__);                       \
        if (l_ > (int)sizeof m_ - 2)                                                \
            l_ = (int)sizeof m_ - 2;                                                \
        m_[l_++] = '\n';                                                            \
        if (write(2, m_, l_) < 0) {}                                                \
        _exit(1);                                                                   \
    } while (0)

static int push(struct item it)
{
    int ok = 0;
    pthread_mutex_lock(&q.lock);
    if (q.count < QCAP) {
        q.it[(q.head + q.count) % QCAP] = it;
        q.count++;
        ok = 1;
    }
    pthread_mutex_unlock(&q.lock);
    return ok;
}

static int pop(struct item *out)
{
    int ok = 0;
    pthread_mutex_lock(&q.lock);
    if (q.count) {
        *out = q.it[q.head];
        q.head = (q.head + 1) % QCAP;
        q.count--;
        ok = 1;
    }
    pthread_mutex_unlock(&q.lock);
    return ok;
}

static void verify(const struct item *it, const char *when)
{
    size_t bad = gh_t_verify_fast(it->p, it->n, it->id);
    if (bad != (size_t)-1)
        TFAIL("block %p (%zu bytes, id %" PRIu64 ") byte %zu corrupted (%s)", (void *)it->p,
              it->n, it->id, bad, when);
}

static size_t pick_size(uint64_t *seed)
{
    uint64_t r = gh_t_rand(seed);
    switch (r % 100) {
    case 0: return 128 * 1024 + r % (300 * 1024); /* large (mmap) */
    case 1: case 2: case 3: return 4096 + r % 60000;
    default: return r % 600;
    }
}

static struct item make(uint64_t *seed)
{
    struct item it;
    it.n = pick_size(seed);
    it.id = atomic_fetch_add(&next_id, 1);
    uint64_t r = gh_t_rand(seed) % 10;
    if (r == 0) {
        it.p = calloc(1, it.n);
        if (it.p)
            for (size_t i = 0; i < it.n; i++)
                if (it.p[i])
                    TFAIL("calloc(%zu) byte %zu not zero", it.n, i);
    } else if (r == 1) {
        it.p = aligned_alloc(64, it.n ? it.n : 1);
        if (it.p && (uintptr_t)it.p % 64)
            TFAIL("aligned_alloc(64) gave %p", (void *)it.p);
    } else {
        it.p = malloc(it.n);
    }
    if (!it.p)
        TFAIL("allocation of %zu bytes failed, errno %d", it.n, errno);
    if ((uintptr_t)it.p % 16)
        TFAIL("%p not 16-aligned", (void *)it.p);
    gh_t_fill_fast(it.p, it.n, it.id);
    return it;
}

static void resize(struct item *it, uint64_t *seed)
{
    size_t n = pick_size(seed) + 1;
    unsigned char *p = realloc(it->p, n);
    if (!p)
        TFAIL("realloc(%zu -> %zu) failed", it->n, n);
    size_t keep = n < it->n ? n : it->n;
    size_t bad = gh_t_verify_fast(p, keep, it->id);
    if (bad != (size_t)-1)
        TFAIL("realloc(%zu -> %zu) lost byte %zu", it->n, n, bad);
    it->p = p;
    it->n = n;
    it->id = atomic_fetch_add(&next_id, 1);
    gh_t_fill_fast(p, n, it->id);
}

static void *worker(void *arg)
{
    uint64_t seed = 0x9E3779B97F4A7C15ull * (uintptr_t)arg + 1;
    struct item local[NLOCAL];
    uint64_t n_ops = 0;
    for (int i = 0; i < NLOCAL; i++)
        local[i] = make(&seed);
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        uint64_t r = gh_t_rand(&seed) % 8;
        struct item it;
        if (r <= 1) {
            it = make(&seed);
            if (!push(it)) {
                verify(&it, "queue full");
                free(it.p);
            }
        } else if (r <= 4) {
            if (pop(&it)) {
                verify(&it, "taken from the queue");
                if (gh_t_rand(&seed) % 3 == 0) {
                    resize(&it, &seed);
                    if (push(it))
                        continue;
                    verify(&it, "after resize");
                }
                free(it.p);
            }
        } else {
            int k = (int)(gh_t_rand(&seed) % NLOCAL);
            verify(&local[k], "local");
            if (r == 5) {
                resize(&local[k], &seed);
            } else {
                free(local[k].p);
                local[k] = make(&seed);
            }
        }
        n_ops++;
    }
    for (int i = 0; i < NLOCAL; i++) {
        verify(&local[i], "at the end");
        free(local[i].p);
    }
    atomic_fetch_add(&ops, n_ops);
    return NULL;
}

int main(int argc, char **argv)
{
    struct gh_t_api gh = gh_t_api();
    double seconds = argc > 1 ? atof(argv[1]) : 1.5;
    pthread_t t[NTHREADS];
    /* Start-up allocations of pthread (TLS, stacks) happen once, here. */
    for (int i = 0; i < NTHREADS; i++) {
        atomic_store(&stop, 1);
        GH_T_CHECK(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 100)) == 0,
                   "pthread_create");
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    struct glassheap_counters c0 = gh_t_counters(&gh);

    atomic_store(&stop, 0);
    for (int i = 0; i < NTHREADS; i++)
        GH_T_CHECK(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1)) == 0,
                   "pthread_create");
    struct timespec ts = { (time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9) };
    nanosleep(&ts, NULL);
    atomic_store(&stop, 1);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    struct item it;
    size_t left = 0;
    while (pop(&it)) {
        verify(&it, "draining the queue");
        free(it.p);
        left++;
    }
    GH_T_CHECK(gh.check() == 1, "glassheap_check() after the threads");
    struct glassheap_counters c1 = gh_t_counters(&gh);
    printf("policy %s: %" PRIu64 " operations in %.1f s by %d threads, %zu blocks left in the "
           "queue; live blocks %" PRIu64 " -> %" PRIu64 ", large %" PRIu64 " -> %" PRIu64 "\n",
           gh.policy(), (uint64_t)atomic_load(&ops), seconds, NTHREADS, left, c0.live_blocks,
           c1.live_blocks, c0.large_blocks, c1.large_blocks);
    GH_T_CHECK(atomic_load(&ops) > 5000, "too few operations: the threads barely ran");
    GH_T_CHECK(c1.live_blocks <= c0.live_blocks + 2 * NTHREADS,
               "live blocks grew from %" PRIu64 " to %" PRIu64 " (a lost free?)",
               c0.live_blocks, c1.live_blocks);
    GH_T_CHECK(c1.large_blocks == c0.large_blocks, "large blocks %" PRIu64 " -> %" PRIu64,
               c0.large_blocks, c1.large_blocks);
    GH_T_CHECK(c1.malloc_calls + c1.calloc_calls > c0.malloc_calls + c0.calloc_calls + 2000,
               "the counters did not see the threads' calls");
    printf("ok\n");
    return 0;
}
