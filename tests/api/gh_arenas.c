/* gh_arenas.c - arenas and per-thread caches under threads (issue 10).
 *
 *   gh_arenas shadow      8 threads share 4096 slots; each step takes a
 *                          random slot and, under the slot's lock, either
 *                          allocates it (malloc, calloc, realloc(NULL),
 *                          memalign, posix_memalign, aligned_alloc; small to
 *                          large sizes) or checks its bytes and then frees
 *                          or reallocs it - so most frees come from another
 *                          thread than the allocation.  Every block carries
 *                          a pattern checked before it is freed or resized:
 *                          an overlap or a lost byte fails the test.  After
 *                          the join the heap checker must be clean and the
 *                          live count back to what it was.
 *   gh_arenas fork        8 threads churn while the main thread forks 32
 *                          times; each child allocates, frees, runs the
 *                          checker and exits 0 (a deadlock is the timeout).
 *   gh_arenas exit_flush  threads fill their caches and exit: every cached
 *                          block goes back to its heap (cached_blocks 0, the
 *                          live count as before), and arenas are reused by
 *                          later threads (bounded count).
 *   gh_arenas trim_flush  malloc_trim empties the calling thread's cache.
 *   gh_arenas realloc_moved  64 reallocs that must move (a live block
 *                          right after each): every old block goes back to
 *                          its heap, none into the cache (cached_blocks as
 *                          before, the free blocks at least as many more as
 *                          the blocks that moved).
 *   gh_arenas arenas      threads get arenas of their own (a block of a
 *                          second thread is not in the main heap) and each
 *                          arena places by the policy: a freed block of a
 *                          thread's own arena is found again (first/best).
 *   gh_arenas double_free_other   a block freed by one thread and again by
 *                          another: "double free" (death test).
 *   gh_arenas cache_link  a write after free over a cached block's link,
 *                          then a malloc of its size: "corrupted free list"
 *                          (death test).
 *   gh_arenas handed      (cache off) a thread of its own arena frees 200
 *                          of the main thread's blocks: they are handed
 *                          over without the main arena's lock (the handed
 *                          count moves, by at least the frees beyond the
 *                          lists' bound), and the main arena frees every
 *                          one: free calls counted, live count as before,
 *                          checker clean.
 *   gh_arenas handed_refill (cache on) a thread of its own arena frees 100
 *                          of the main thread's 64-byte blocks and exits
 *                          (its cache flushed: every one handed over); the
 *                          main thread's next 100 malloc(64) get at least 60
 *                          of those very blocks from its cache (a miss takes
 *                          the handed blocks into it), every handed block
 *                          counted once, every free once, checker clean.
 *   gh_arenas handed_link a write after free over a block another thread
 *                          handed over, then the owner's next call, which
 *                          frees it first: "free(): corrupted free list"
 *                          (death test); handed_link_cached the same with
 *                          the cache on: the owner's cache miss finds it.
 *   gh_arenas handed_twice a block handed over and freed again before its
 *                          owner's next call: "double free" (death test).
 * Exit 0 pass, 1 fail, 77 skip (a mode the case needs is off).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "gh_api_test.h"

#define SLOTS 4096
#define THREADS 8

static struct gh_t_api api;

struct slot {
    pthread_mutex_t lock;
    void *p;
    size_t n;
    uint64_t id;
};

static struct slot slots[SLOTS];
static atomic_int stop;
static atomic_uint_fast64_t next_id = 1;

static uint64_t rnd(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static size_t pick_size(uint64_t *x)
{
    uint64_t r = rnd(x) % 1000;
    if (r < 700)
        return 1 + rnd(x) % 256;
    if (r < 960)
        return 1 + rnd(x) % 4096;
    if (r < 997)
        return 4096 + rnd(x) % 60000;
    return 128 * 1024 + rnd(x) % (256 * 1024); /* large */
}

static void *alloc_some(uint64_t *x, size_t n)
{
    void *p = NULL;
    switch (rnd(x) % 8) {
    case 0:
        p = calloc(1, n);
        if (p)
            for (size_t i = 0; i < n; i++)
                if (((unsigned char *)p)[i])
                    GH_T_FAIL("calloc(%zu) byte %zu not zero", n, i);
        break;
    case 1:
        p = realloc(NULL, n);
        break;
    case 2:
        p = memalign((size_t)1 << (4 + rnd(x) % 6), n);
        break;
    case 3:
        if (posix_memalign(&p, 64, n) != 0)
            p = NULL;
        break;
    case 4:
        p = aligned_alloc(256, (n + 255) & ~(size_t)255);
        break;
    default:
        p = malloc(n);
        break;
    }
    return p;
}

static void step(uint64_t *x)
{
    struct slot *s = &slots[rnd(x) % SLOTS];
    pthread_mutex_lock(&s->lock);
    if (!s->p) {
        size_t n = pick_size(x);
        void *p = alloc_some(x, n);
        if (!p)
            GH_T_FAIL("allocation of %zu bytes failed", n);
        s->id = atomic_fetch_add(&next_id, 1);
        s->p = p;
        s->n = n;
        gh_t_fill(p, n, s->id);
    } else {
        size_t bad = gh_t_verify(s->p, s->n, s->id);
        if (bad != (size_t)-1)
            GH_T_FAIL("block %p (%zu bytes) changed at byte %zu: an overlap or a lost write", s->p, s->n, bad);
        if (rnd(x) % 4 == 0) {
            size_t n = pick_size(x);
            unsigned char *q = realloc(s->p, n);
            if (!q)
                GH_T_FAIL("realloc to %zu failed", n);
            size_t keep = n < s->n ? n : s->n;
            bad = gh_t_verify(q, keep, s->id);
            if (bad != (size_t)-1)
                GH_T_FAIL("realloc lost byte %zu of %zu", bad, keep);
            s->id = atomic_fetch_add(&next_id, 1);
            s->p = q;
            s->n = n;
            gh_t_fill(q, n, s->id);
        } else {
            free(s->p);
            s->p = NULL;
        }
    }
    pthread_mutex_unlock(&s->lock);
}

static void *churn(void *arg)
{
    uint64_t x = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
    long steps = gh_t_checked() ? 3000 : 40000;
    for (long i = 0; i < steps && !atomic_load(&stop); i++)
        step(&x);
    return NULL;
}

static void *churn_forever(void *arg)
{
    uint64_t x = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ull + 7;
    while (!atomic_load(&stop))
        step(&x);
    return NULL;
}

static void free_all(void)
{
    for (int i = 0; i < SLOTS; i++) {
        if (slots[i].p) {
            size_t bad = gh_t_verify(slots[i].p, slots[i].n, slots[i].id);
            if (bad != (size_t)-1)
                GH_T_FAIL("block %p changed at byte %zu", slots[i].p, bad);
            free(slots[i].p);
            slots[i].p = NULL;
        }
    }
}

static void run_threads(void *(*fn)(void *), pthread_t *t)
{
    for (int i = 0; i < THREADS; i++)
        if (pthread_create(&t[i], NULL, fn, (void *)(uintptr_t)(i + 1)) != 0)
            GH_T_FAIL("pthread_create");
}

static void join_threads(pthread_t *t)
{
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
}

/* Start and join THREADS idle threads once, so that glibc's own blocks for
 * threads (kept with its cache of thread stacks) exist before a count. */
static void *idle(void *arg)
{
    return arg;
}

static void warm_up(void)
{
    pthread_t t[THREADS];
    run_threads(idle, t);
    join_threads(t);
    malloc_trim(0); /* and the main thread's cache is empty */
}

static int case_shadow(void)
{
    warm_up();
    struct glassheap_counters before = gh_t_counters(&api);
    pthread_t t[THREADS];
    run_threads(churn, t);
    join_threads(t);
    free_all();
    if (!api.check())
        GH_T_FAIL("the heap checker found a broken invariant after the threads");
    struct glassheap_counters after = gh_t_counters(&api);
    /* the threads have exited: their caches are back in the heaps; the
     * main thread's cache may hold what it freed in free_all */
    if (after.live_blocks != before.live_blocks)
        GH_T_FAIL("live blocks %llu before, %llu after every block was freed",
                  (unsigned long long)before.live_blocks, (unsigned long long)after.live_blocks);
    if (after.live_block_bytes + after.cached_bytes + after.free_bytes > after.heap_bytes)
        GH_T_FAIL("live + cached + free exceed the heap");
    printf("shadow: %llu arenas, %llu cache hits, %llu blocks cached by the main thread\n",
           (unsigned long long)after.arenas, (unsigned long long)after.cache_hits,
           (unsigned long long)after.cached_blocks);
    return 0;
}

static int case_fork(void)
{
    pthread_t t[THREADS];
    run_threads(churn_forever, t);
    int forks = gh_t_checked() ? 4 : 32;
    for (int i = 0; i < forks; i++) {
        pid_t pid = fork();
        if (pid < 0)
            GH_T_FAIL("fork: %s", strerror(errno));
        if (pid == 0) {
            void *v[64];
            for (int k = 0; k < 64; k++)
                v[k] = malloc((size_t)(16 + 40 * k));
            for (int k = 0; k < 64; k++)
                free(v[k]);
            _exit(api.check() ? 0 : 1);
        }
        int st = 0;
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            GH_T_FAIL("child %d of fork %d failed (status %#x)", (int)pid, i, st);
        struct timespec ts = { 0, 2000000 };
        nanosleep(&ts, NULL);
    }
    atomic_store(&stop, 1);
    join_threads(t);
    free_all();
    if (!api.check())
        GH_T_FAIL("heap checker after the forks");
    return 0;
}

static void *fill_cache(void *arg)
{
    (void)arg;
    void *v[200];
    for (int r = 0; r < 50; r++) {
        for (int k = 0; k < 200; k++)
            v[k] = malloc((size_t)(8 + 5 * k));
        for (int k = 0; k < 200; k++)
            free(v[k]);
    }
    return NULL;
}

static int case_exit_flush(void)
{
    warm_up();
    struct glassheap_counters before = gh_t_counters(&api);
    uint64_t most = 0;
    for (int round = 0; round < 20; round++) {
        pthread_t t[THREADS];
        run_threads(fill_cache, t);
        join_threads(t);
        /* glibc frees a joined thread's blocks in the joining thread: they
         * are in the main thread's cache, which malloc_trim empties; what
         * the exited threads cached must be back already */
        malloc_trim(0);
        struct glassheap_counters c = gh_t_counters(&api);
        if (c.cached_blocks != before.cached_blocks)
            GH_T_FAIL("round %d: %llu blocks cached after every thread exited (%llu before)", round,
                      (unsigned long long)c.cached_blocks, (unsigned long long)before.cached_blocks);
        if (c.live_blocks != before.live_blocks)
            GH_T_FAIL("round %d: live blocks %llu, %llu before", round, (unsigned long long)c.live_blocks,
                      (unsigned long long)before.live_blocks);
        if (getenv("GH_T_DEBUG"))
            fprintf(stderr, "round %d: %llu arenas\n", round, (unsigned long long)c.arenas);
        if (c.arenas > most)
            most = c.arenas;
    }
    /* 20 rounds of 8 threads: arenas of exited threads are reused */
    if (most > THREADS + 1)
        GH_T_FAIL("%llu arenas for at most %d threads at a time", (unsigned long long)most, THREADS);
    if (!api.check())
        GH_T_FAIL("heap checker");
    return 0;
}

static int case_trim_flush(void)
{
    void *v[100];
    for (int k = 0; k < 100; k++)
        v[k] = malloc((size_t)(16 + 8 * k));
    for (int k = 0; k < 100; k++)
        free(v[k]);
    struct glassheap_counters c = gh_t_counters(&api);
    if (c.cached_blocks == 0)
        return GH_T_SKIP; /* the cache is off */
    malloc_trim(0);
    c = gh_t_counters(&api);
    if (c.cached_blocks != 0)
        GH_T_FAIL("%llu blocks still cached after malloc_trim", (unsigned long long)c.cached_blocks);
    return 0;
}

static int case_realloc_moved(void)
{
    enum { N = 64 };
    void *v[N], *after[N];
    warm_up();
    for (int k = 0; k < N; k++) {
        v[k] = malloc(64);
        after[k] = malloc(64); /* live: v[k] cannot grow in place */
        memset(v[k], k, 64);
    }
    struct glassheap_counters before = gh_t_counters(&api);
    for (int k = 0; k < N; k++) {
        unsigned char *q = realloc(v[k], 400);
        if (!q)
            GH_T_FAIL("realloc %d failed", k);
        for (int i = 0; i < 64; i++)
            if (q[i] != (unsigned char)k)
                GH_T_FAIL("realloc %d: byte %d lost", k, i);
        v[k] = q;
    }
    struct glassheap_counters c = gh_t_counters(&api);
    if (c.cached_blocks != before.cached_blocks)
        GH_T_FAIL("%llu blocks cached after %d moving reallocs, %llu before", (unsigned long long)c.cached_blocks, N,
                  (unsigned long long)before.cached_blocks);
    if (c.free_blocks < before.free_blocks + N / 2)
        GH_T_FAIL("free blocks %llu after %d moving reallocs, %llu before: the old blocks are not free",
                  (unsigned long long)c.free_blocks, N, (unsigned long long)before.free_blocks);
    for (int k = 0; k < N; k++) {
        free(v[k]);
        free(after[k]);
    }
    if (!api.check())
        GH_T_FAIL("heap checker");
    return 0;
}

static void *arena_place(void *arg)
{
    void **out = arg;
    char *a = malloc(200), *b = malloc(200), *c = malloc(200);
    free(b);
    char *d = malloc(200);
    out[0] = a;
    out[1] = b;
    out[2] = d;
    free(a);
    free(c);
    free(d);
    return NULL;
}

static int case_arenas(void)
{
    void *mine = malloc(200);
    void *got[3];
    pthread_t t;
    pthread_create(&t, NULL, arena_place, got);
    pthread_join(t, NULL);
    struct glassheap_counters c = gh_t_counters(&api);
    free(mine);
    if (c.arenas < 2)
        return GH_T_SKIP; /* GLASSHEAP_ARENAS=1 */
    /* the thread's blocks are in a reservation of its own: 64 MiB apart */
    uintptr_t m = (uintptr_t)mine >> 26, a = (uintptr_t)got[0] >> 26;
    if (m == a)
        GH_T_FAIL("the second thread's block %p is in the main heap's granule (%p)", got[0], mine);
    const char *pol = api.policy();
    if ((!strcmp(pol, "first") || !strcmp(pol, "best")) && got[2] != got[1])
        GH_T_FAIL("%s fit in the thread's arena: malloc(200) after free(%p) gave %p", pol, got[1], got[2]);
    return 0;
}

static void *free_it(void *p)
{
    free(p);
    return NULL;
}

/* The same from a thread with an arena of its own. */
static void *free_it_attached(void *p)
{
    free(malloc(100));
    free(p);
    return NULL;
}

#define HANDED 200
#define REFILL 100

static void *free_many(void *arg)
{
    void **v = arg;
    free(malloc(100)); /* an arena of its own */
    for (int k = 0; k < HANDED; k++)
        free(v[k]);
    return NULL;
}

static void *free_many_refill(void *arg)
{
    void **v = arg;
    free(malloc(100)); /* an arena of its own */
    for (int k = 0; k < REFILL; k++)
        free(v[k]);
    return NULL; /* its cache, flushed at exit, hands over what it kept */
}

static int case_handed(void)
{
    void *v[HANDED];
    warm_up();
    struct glassheap_counters before = gh_t_counters(&api);
    for (int k = 0; k < HANDED; k++)
        v[k] = malloc((size_t)(24 + k % 40 * 8));
    pthread_t t;
    pthread_create(&t, NULL, free_many, v);
    pthread_join(t, NULL);
    struct glassheap_counters c = gh_t_counters(&api);
    if (c.arenas < 2)
        return GH_T_SKIP; /* GLASSHEAP_ARENAS=1: every free takes the one lock */
    uint64_t handed = c.handed_frees - before.handed_frees;
    /* the main thread made no call meanwhile: a list takes GH_HANDED_MAX
     * blocks, then a free takes the lock and empties it, and so on */
    if (handed < HANDED / 2)
        GH_T_FAIL("%llu of %d frees of another arena's blocks were handed over", (unsigned long long)handed,
                  HANDED);
    if (c.free_calls - before.free_calls != HANDED + 1) /* and its own */
        GH_T_FAIL("%llu frees counted, %d made", (unsigned long long)(c.free_calls - before.free_calls), HANDED + 1);
    if (c.live_blocks != before.live_blocks)
        GH_T_FAIL("live blocks %llu, %llu before", (unsigned long long)c.live_blocks,
                  (unsigned long long)before.live_blocks);
    if (!api.check())
        GH_T_FAIL("heap checker");
    return 0;
}

static int case_handed_refill(void)
{
    void *v[REFILL], *w[REFILL];
    warm_up();
    struct glassheap_counters before = gh_t_counters(&api);
    for (int k = 0; k < REFILL; k++)
        v[k] = malloc(64);
    pthread_t t;
    pthread_create(&t, NULL, free_many_refill, v);
    pthread_join(t, NULL);
    /* No counters read here: a snapshot frees every handed block first. */
    for (int k = 0; k < REFILL; k++)
        w[k] = malloc(64);
    struct glassheap_counters c = gh_t_counters(&api);
    if (c.arenas < 2)
        return GH_T_SKIP; /* GLASSHEAP_ARENAS=1: no block is handed over */
    int again = 0;
    for (int k = 0; k < REFILL; k++)
        for (int j = 0; j < REFILL; j++)
            again += w[k] == v[j];
    uint64_t hits = c.cache_hits - before.cache_hits; /* the first 100 found the cache empty */
    if (hits < 60 || again < 60)
        GH_T_FAIL("after another thread freed %d of this thread's blocks, %d malloc(64): %llu cache hits, %d of "
                  "the freed blocks again", REFILL, REFILL, (unsigned long long)hits, again);
    if (c.handed_frees - before.handed_frees != REFILL)
        GH_T_FAIL("%llu handed blocks counted, %d handed", (unsigned long long)(c.handed_frees - before.handed_frees),
                  REFILL);
    if (c.free_calls - before.free_calls != REFILL + 1) /* and the thread's own */
        GH_T_FAIL("%llu frees counted, %d made", (unsigned long long)(c.free_calls - before.free_calls), REFILL + 1);
    if (c.live_blocks != before.live_blocks + REFILL)
        GH_T_FAIL("live blocks %llu, %llu before %d mallocs", (unsigned long long)c.live_blocks,
                  (unsigned long long)before.live_blocks, REFILL);
    for (int k = 0; k < REFILL; k++)
        free(w[k]);
    if (!api.check())
        GH_T_FAIL("heap checker");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gh_arenas CASE\n");
        return 2;
    }
    api = gh_t_api();
    for (int i = 0; i < SLOTS; i++)
        pthread_mutex_init(&slots[i].lock, NULL);
    const char *c = argv[1];
    if (!strcmp(c, "shadow"))
        return case_shadow();
    if (!strcmp(c, "fork"))
        return case_fork();
    if (!strcmp(c, "exit_flush"))
        return case_exit_flush();
    if (!strcmp(c, "trim_flush"))
        return case_trim_flush();
    if (!strcmp(c, "realloc_moved"))
        return case_realloc_moved();
    if (!strcmp(c, "arenas"))
        return case_arenas();
    if (!strcmp(c, "double_free_other")) {
        void *p = malloc(64);
        pthread_t t;
        pthread_create(&t, NULL, free_it, p);
        pthread_join(t, NULL);
        gh_t_announce(p);
        free(p); /* the other thread's cache holds it */
        printf("survived\n");
        return 0;
    }
    if (!strcmp(c, "handed"))
        return case_handed();
    if (!strcmp(c, "handed_refill"))
        return case_handed_refill();
    if (!strcmp(c, "handed_link") || !strcmp(c, "handed_link_cached") || !strcmp(c, "handed_twice")) {
        warm_up();
        unsigned char *p = malloc(64);
        gh_t_announce(p); /* first: its stdio buffer would take the handed block back */
        pthread_t t;
        pthread_create(&t, NULL, free_it_attached, p); /* handed to the main arena */
        pthread_join(t, NULL);
        if (strcmp(c, "handed_twice"))
            memset(p, 0x41, 16); /* the link and its mark */
        else
            free(p); /* its mark says it is handed over already */
        void *volatile r = malloc(64);
        (void)r;
        printf("survived\n");
        return 0;
    }
    if (!strcmp(c, "cache_link")) {
        unsigned char *p = malloc(64), *q = malloc(64);
        free(p);
        free(q);
        gh_t_announce(q);
        memset(q, 0x41, 16); /* the link and its mark */
        void *volatile r = malloc(64);
        (void)r;
        printf("survived\n");
        return 0;
    }
    fprintf(stderr, "gh_arenas: unknown case '%s'\n", c);
    return 2;
}
