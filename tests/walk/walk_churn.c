/* walk_churn.c - a multi-threaded program that keeps allocating, for the
 * race between the walker outside and the heap changing (walk_race.py).
 *
 *   walk_churn THREADS MAX_SECONDS
 *
 * Run with libglassheap.so preloaded.  Each thread keeps its own pool of
 * blocks of mixed sizes and replaces BURST of them, then pauses PAUSE_NS,
 * for ever: the heap changes in bursts from several threads at once, with
 * quiet moments between.  Prints "ready <pid>" once every thread has its
 * first blocks, and exits normally (the library removes its segment) on
 * SIGTERM or after MAX_SECONDS.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define POOL 1024
#define BURST 2000
#define PAUSE_NS 4000000L
#define MAX_THREADS 16

static volatile sig_atomic_t stop;
static pthread_barrier_t started;
static time_t end;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static size_t pick_size(uint64_t *s)
{
    uint64_t r = next_rand(s) % 100;
    if (r < 75)
        return 1 + next_rand(s) % 256;
    if (r < 98)
        return 256 + next_rand(s) % 6000;
    return 20000 + next_rand(s) % 90000;
}

static void *churn(void *arg)
{
    uint64_t s = 0x9e3779b97f4a7c15ull * ((uintptr_t)arg + 1);
    void **pool = calloc(POOL, sizeof *pool);
    if (!pool)
        exit(3);
    for (size_t i = 0; i < POOL; i += 2)
        pool[i] = malloc(pick_size(&s));
    pthread_barrier_wait(&started);
    struct timespec pause = { 0, PAUSE_NS };
    while (!stop && time(NULL) < end) {
        for (int op = 0; op < BURST; op++) {
            size_t i = next_rand(&s) % POOL;
            if (pool[i]) {
                free(pool[i]);
                pool[i] = NULL;
            } else {
                size_t n = pick_size(&s);
                if ((pool[i] = malloc(n)))
                    memset(pool[i], 0x5a, n < 32 ? n : 32);
            }
        }
        nanosleep(&pause, NULL);
    }
    for (size_t i = 0; i < POOL; i++)
        free(pool[i]);
    free(pool);
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 4;
    long max_seconds = argc > 2 ? strtol(argv[2], NULL, 10) : 60;
    if (threads < 1 || threads > MAX_THREADS)
        return 2;
#ifdef PR_SET_PTRACER
    prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0); /* Yama ptrace_scope=1: let glassheap read us */
#endif
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    end = time(NULL) + max_seconds;
    pthread_barrier_init(&started, NULL, (unsigned)threads + 1);
    pthread_t t[MAX_THREADS];
    for (int i = 0; i < threads; i++)
        if (pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)i) != 0)
            return 3;
    pthread_barrier_wait(&started);
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    return 0;
}
