/* top_churn.c - a program that keeps allocating, for the top tests.
 *
 *   top_churn [MAX_SECONDS]
 *
 * Run with libglassheap.so preloaded.  Keeps a pool of blocks of mixed sizes
 * and replaces a few hundred of them every few milliseconds (so the heap
 * holds used and free blocks of many sizes, and the counters move), prints
 * "ready <pid>" once its first blocks are live, and exits normally - so the
 * library's exit handler runs and removes its segment - on SIGTERM or
 * SIGINT, or after MAX_SECONDS (default 60) as a guard against a test that
 * forgets it.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define POOL 4096
#define OPS_PER_ROUND 256
#define ROUND_PAUSE_NS 3000000L /* 3 ms: a few hundred thousand calls/s at most */
#define DEFAULT_MAX_SECONDS 60

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Mostly small blocks, some medium, a few near the mmap threshold. */
static size_t pick_size(void)
{
    uint64_t r = rng() % 100;
    if (r < 70)
        return 16 + rng() % 240;
    if (r < 97)
        return 256 + rng() % 8000;
    return 32768 + rng() % 65536;
}

int main(int argc, char **argv)
{
    long max_seconds = argc > 1 ? strtol(argv[1], NULL, 10) : DEFAULT_MAX_SECONDS;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    static void *pool[POOL];
    for (size_t i = 0; i < POOL; i += 2) {
        size_t n = pick_size();
        pool[i] = malloc(n);
        if (pool[i])
            memset(pool[i], (int)i, n);
    }
    printf("ready %d\n", (int)getpid());
    fflush(stdout);

    time_t end = time(NULL) + max_seconds;
    struct timespec pause = { 0, ROUND_PAUSE_NS };
    while (!stop && time(NULL) < end) {
        for (int op = 0; op < OPS_PER_ROUND; op++) {
            size_t i = rng() % POOL;
            if (pool[i]) {
                free(pool[i]);
                pool[i] = NULL;
            } else {
                size_t n = pick_size();
                pool[i] = malloc(n);
                if (pool[i])
                    memset(pool[i], 0x5a, n < 64 ? n : 64);
            }
        }
        nanosleep(&pause, NULL);
    }
    for (size_t i = 0; i < POOL; i++)
        free(pool[i]);
    return 0;
}
