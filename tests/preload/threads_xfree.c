/* threads_xfree.c - cross-thread allocation for the preload suite.
 *
 * NTHREADS threads in a ring: thread t allocates blocks (malloc, calloc,
 * aligned_alloc, now and then one above the mmap threshold), fills each with
 * a pattern derived from its seed, and hands it to thread t+1 through that
 * thread's locked queue; thread t+1 checks every byte, sometimes grows the
 * block with realloc (checking that the prefix survived), and frees it.  So
 * almost every block is freed by a thread other than the one that allocated
 * it.  Each thread also churns a private pool of blocks.  A wrong byte, a
 * misaligned pointer or a failed allocation is reported and makes the exit
 * status 1.  The output (counts and order-independent checksums) does not
 * depend on scheduling.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS 8
#define PER_THREAD 40000        /* blocks each thread hands on */
#define POOL 256                /* private blocks each thread churns */
#define LARGE_EVERY 997         /* one block in this many is large */
#define LARGE_SIZE (200 * 1024) /* above the default 128K mmap threshold */

struct item {
    struct item *next;
    unsigned char *p;
    size_t size;
    uint64_t seed;
};

struct queue {
    pthread_mutex_t lock;
    pthread_cond_t nonempty;
    struct item *head, *tail;
};

struct result {
    uint64_t produced, consumed, bytes_checked, checksum, reallocs, bad;
};

static struct queue queues[NTHREADS];
static struct result results[NTHREADS];

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static unsigned char pattern(uint64_t seed, size_t i)
{
    return (unsigned char)(seed + i * 131 + (i >> 8));
}

static void fill(unsigned char *p, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = pattern(seed, i);
}

/* Returns the number of wrong bytes in p[0, n). */
static size_t verify(const unsigned char *p, size_t n, uint64_t seed)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += p[i] != pattern(seed, i);
    return bad;
}

static void push(struct queue *q, struct item *it)
{
    it->next = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    pthread_cond_signal(&q->nonempty);
    pthread_mutex_unlock(&q->lock);
}

/* Pops one item; waits for one when wait is true, else may return NULL. */
static struct item *pop(struct queue *q, int wait)
{
    pthread_mutex_lock(&q->lock);
    while (wait && !q->head)
        pthread_cond_wait(&q->nonempty, &q->lock);
    struct item *it = q->head;
    if (it) {
        q->head = it->next;
        if (!q->head)
            q->tail = NULL;
    }
    pthread_mutex_unlock(&q->lock);
    return it;
}

static void consume(struct result *r, struct item *it, int t)
{
    size_t bad = verify(it->p, it->size, it->seed);
    if (bad) {
        fprintf(stderr, "thread %d: block of %zu bytes (seed %llu) has %zu wrong bytes\n", t, it->size,
                (unsigned long long)it->seed, bad);
        r->bad++;
    }
    r->bytes_checked += it->size;
    r->checksum += mix(it->seed ^ it->size);
    if (it->seed % 5 == 0) {            /* grow it, the prefix must survive */
        size_t nsize = it->size * 2 + 40;
        unsigned char *q = realloc(it->p, nsize);
        if (!q) {
            fprintf(stderr, "thread %d: realloc(%zu) failed\n", t, nsize);
            r->bad++;
        } else {
            if (verify(q, it->size, it->seed)) {
                fprintf(stderr, "thread %d: realloc lost the contents of a %zu-byte block\n", t, it->size);
                r->bad++;
            }
            memset(q + it->size, 0xA5, nsize - it->size);
            it->p = q;
            r->reallocs++;
        }
    }
    free(it->p);
    free(it);
    r->consumed++;
}

static void *worker(void *arg)
{
    int t = (int)(intptr_t)arg;
    struct result *r = &results[t];
    struct queue *mine = &queues[t], *next = &queues[(t + 1) % NTHREADS];
    unsigned char *pool[POOL] = {0};
    size_t pool_size[POOL] = {0};
    uint64_t rng = mix((uint64_t)t + 1);

    for (uint64_t k = 0; k < PER_THREAD; k++) {
        rng = mix(rng + k);
        uint64_t seed = ((uint64_t)t << 40) | k;
        size_t size;
        unsigned char *p;
        if (k % LARGE_EVERY == LARGE_EVERY - 1)
            size = LARGE_SIZE + rng % 4096;
        else if (rng % 8 == 0)
            size = 1 + rng % 4000;
        else
            size = 1 + rng % 200;
        switch (rng % 16) {
        case 0: {                       /* calloc: must come back zeroed */
            p = calloc(1, size);
            if (p)
                for (size_t i = 0; i < size; i++)
                    if (p[i]) {
                        fprintf(stderr, "thread %d: calloc(%zu) byte %zu not zero\n", t, size, i);
                        r->bad++;
                        break;
                    }
            break;
        }
        case 1:
            p = aligned_alloc(64, (size + 63) & ~(size_t)63);
            if (p && (uintptr_t)p % 64) {
                fprintf(stderr, "thread %d: aligned_alloc(64) gave %p\n", t, (void *)p);
                r->bad++;
            }
            break;
        default:
            p = malloc(size);
        }
        struct item *it = malloc(sizeof *it);
        if (!p || !it || (uintptr_t)p % 16) {
            fprintf(stderr, "thread %d: allocation of %zu bytes failed or misaligned (%p)\n", t, size, (void *)p);
            exit(1);                    /* its consumer would wait for it forever */
        }
        fill(p, size, seed);
        it->p = p;
        it->size = size;
        it->seed = seed;
        push(next, it);
        r->produced++;

        /* Private churn: replace one pool slot. */
        unsigned slot = (unsigned)(rng >> 20) % POOL;
        if (pool[slot]) {
            if (verify(pool[slot], pool_size[slot], (uint64_t)slot * 7 + t)) {
                fprintf(stderr, "thread %d: private block %u corrupted\n", t, slot);
                r->bad++;
            }
            free(pool[slot]);
        }
        pool_size[slot] = 1 + (rng >> 32) % 600;
        pool[slot] = malloc(pool_size[slot]);
        if (pool[slot])
            fill(pool[slot], pool_size[slot], (uint64_t)slot * 7 + t);
        else
            r->bad++;

        /* Take what has arrived so far, without waiting. */
        for (struct item *in; (in = pop(mine, 0));)
            consume(r, in, t);
    }
    while (r->consumed < PER_THREAD)    /* the rest, waiting */
        consume(r, pop(mine, 1), t);
    for (unsigned i = 0; i < POOL; i++)
        free(pool[i]);
    return NULL;
}

int main(void)
{
    pthread_t th[NTHREADS];
    for (int t = 0; t < NTHREADS; t++) {
        pthread_mutex_init(&queues[t].lock, NULL);
        pthread_cond_init(&queues[t].nonempty, NULL);
    }
    for (int t = 0; t < NTHREADS; t++)
        if (pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t)) {
            fprintf(stderr, "pthread_create failed\n");
            return 2;
        }
    for (int t = 0; t < NTHREADS; t++)
        pthread_join(th[t], NULL);

    uint64_t bad = 0, sum = 0;
    for (int t = 0; t < NTHREADS; t++) {
        struct result *r = &results[t];
        printf("thread %d: produced %llu consumed %llu checked %llu bytes reallocs %llu checksum %016llx\n", t,
               (unsigned long long)r->produced, (unsigned long long)r->consumed,
               (unsigned long long)r->bytes_checked, (unsigned long long)r->reallocs,
               (unsigned long long)r->checksum);
        bad += r->bad;
        sum += r->checksum;
    }
    printf("total checksum %016llx, %llu problems\n", (unsigned long long)sum, (unsigned long long)bad);
    return bad ? 1 : 0;
}
