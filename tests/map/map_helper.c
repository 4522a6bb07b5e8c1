/* map_helper.c - the program the map_ tests look at, run with glassheap
 * preloaded.
 *
 *   map_helper tick   build the fixed heap below, print "ready <pid>\n",
 *                     then call malloc_usable_size() on a live block every
 *                     millisecond (an allocator call that changes nothing,
 *                     so the library answers map requests) until stdin
 *                     reaches end of file
 *   map_helper quiet  the same heap, then wait for end of file on stdin
 *                     without a single allocator call (a map request is
 *                     never answered)
 *   map_helper regions  first put an inaccessible page right above the
 *                     break, so that the break cannot grow and the heap is
 *                     made of mmap regions; then 200 blocks of 2000 bytes,
 *                     every other one freed (several regions), and tick as
 *                     above.  Prints "unsupported" and exits 77 when the
 *                     page cannot be placed.
 *   map_helper large  the fixed heap, then EXTRA_LARGE more large blocks of
 *                     1 MiB each (each its own mapping), and tick as above.
 *   map_helper blocked  the fixed heap, then block in read(2) on stdin (no
 *                     allocator call) until one byte arrives; then tick as
 *                     above (so the library answers map requests).
 *   map_helper nodump  the fixed heap, made undumpable (prctl
 *                     PR_SET_DUMPABLE 0: a reader without CAP_SYS_PTRACE may
 *                     not read its memory), and tick as above.
 *   map_helper threads  first THREADS threads each make the fixed list's
 *                     blocks (every third freed) and then block for good
 *                     (each in an arena of its own unless GLASSHEAP_ARENAS=1);
 *                     then the fixed heap, and tick as above.
 *
 * The heap is the same on every run of the same binary with the same
 * library, policy and environment: a fixed list of sizes, every third block
 * freed (holes the next requests fall into under first fit), two requests
 * that reuse holes, and one large block (mmap path).  Output uses write(2)
 * only: stdio would allocate a buffer and change the heap.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#define TICK_MS 1
#define LARGE_BLOCK (256u * 1024u) /* above the default 128 KiB mmap threshold */
#define PAGE 4096u
#define REGION_BLOCKS 200
#define REGION_BLOCK_SIZE 2000
#define EXIT_UNSUPPORTED 77
#define EXTRA_LARGE 3
#define EXTRA_LARGE_SIZE (1024u * 1024u)

static const size_t sizes[] = { 24, 100, 200, 48, 1000, 64, 16, 300, 500,
                                32, 2000, 80, 128, 40, 700, 256, 3000, 90 };
#define NSIZES (sizeof sizes / sizeof sizes[0])

#define THREADS 3

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static int threads_done;

/* A thread's blocks: the fixed list, every third freed; then wait forever
 * (it stays attached to its arena while the map is read). */
static void *thread_main(void *arg)
{
    (void)arg;
    void *q[NSIZES];
    for (size_t i = 0; i < NSIZES; i++)
        if ((q[i] = malloc(sizes[i])))
            memset(q[i], 0x77, sizes[i]);
    for (size_t i = 1; i < NSIZES; i += 3)
        free(q[i]);
    pthread_mutex_lock(&gate);
    threads_done++;
    pthread_cond_broadcast(&done_cv);
    pthread_mutex_unlock(&gate);
    for (;;)
        pause();
    return NULL;
}

static void say(const char *s)
{
    size_t n = strlen(s);
    while (n) {
        ssize_t w = write(STDOUT_FILENO, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(3);
        s += w;
        n -= (size_t)w;
    }
}

int main(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "tick") && strcmp(argv[1], "quiet") && strcmp(argv[1], "regions")
                      && strcmp(argv[1], "large") && strcmp(argv[1], "blocked") && strcmp(argv[1], "nodump")
                      && strcmp(argv[1], "threads"))) {
        say("usage: map_helper tick|quiet|regions|large|blocked|nodump|threads\n");
        return 2;
    }
    if (!strcmp(argv[1], "nodump") && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        return 3;
    int tick = strcmp(argv[1], "quiet") != 0;
    int regions = !strcmp(argv[1], "regions");
#ifdef PR_SET_PTRACER
    /* Let a non-root inspector read our memory under Yama ptrace_scope=1
     * (glassheap layout probes large blocks); harmless elsewhere. */
    prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
#endif

    void *keep[REGION_BLOCKS] = { 0 };
    if (regions) {
        /* Before the first allocation: nothing may follow the break. */
        uintptr_t brk0 = (uintptr_t)sbrk(0);
        void *at = (void *)((brk0 + PAGE - 1) & ~(uintptr_t)(PAGE - 1));
        void *m = mmap(at, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (m != at) {
            say("unsupported\n");
            return EXIT_UNSUPPORTED;
        }
        for (size_t i = 0; i < REGION_BLOCKS; i++)
            if (!(keep[i] = malloc(REGION_BLOCK_SIZE)))
                return 3;
        for (size_t i = 0; i < REGION_BLOCKS; i += 2) {
            free(keep[i]);
            keep[i] = NULL;
        }
    }

    if (!strcmp(argv[1], "threads")) {
        pthread_t t;
        for (int i = 0; i < THREADS; i++)
            if (pthread_create(&t, NULL, thread_main, NULL) != 0)
                return 3;
        pthread_mutex_lock(&gate);
        while (threads_done < THREADS)
            pthread_cond_wait(&done_cv, &gate);
        pthread_mutex_unlock(&gate);
    }

    void *p[NSIZES];
    for (size_t i = 0; i < NSIZES; i++) {
        p[i] = malloc(sizes[i]);
        if (!p[i])
            return 3;
        memset(p[i], (int)i, sizes[i]);
    }
    for (size_t i = 1; i < NSIZES; i += 3) {
        free(p[i]);
        p[i] = NULL;
    }
    void *reuse1 = malloc(60);  /* first fit: into the hole of sizes[1] */
    void *reuse2 = malloc(150); /* the next hole big enough */
    void *large = malloc(LARGE_BLOCK);
    if (!reuse1 || !reuse2 || !large)
        return 3;
    memset(large, 0x5a, LARGE_BLOCK);
    void *extra[EXTRA_LARGE] = { 0 };
    if (!strcmp(argv[1], "large"))
        for (size_t i = 0; i < EXTRA_LARGE; i++) {
            if (!(extra[i] = malloc(EXTRA_LARGE_SIZE)))
                return 3;
            memset(extra[i], 0x33, EXTRA_LARGE_SIZE);
        }

    char line[64];
    snprintf(line, sizeof line, "ready %ld\n", (long)getpid());
    say(line);

    if (!strcmp(argv[1], "blocked")) {
        char c;
        ssize_t n;
        do
            n = read(STDIN_FILENO, &c, 1);
        while (n < 0 && errno == EINTR);
        if (n <= 0)
            tick = -1; /* end of file: done */
    }
    struct pollfd in = { .fd = STDIN_FILENO, .events = POLLIN };
    while (tick >= 0) {
        int r = poll(&in, 1, tick ? TICK_MS : -1);
        if (r < 0 && errno != EINTR)
            return 3;
        if (r > 0) {
            char buf[64];
            ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
            if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
                break;
        }
        if (tick && malloc_usable_size(reuse1) < 60)
            return 3;
    }
    for (size_t i = 0; i < NSIZES; i++)
        free(p[i]);
    free(reuse1);
    free(reuse2);
    free(large);
    for (size_t i = 0; i < EXTRA_LARGE; i++)
        free(extra[i]);
    for (size_t i = 0; i < REGION_BLOCKS; i++)
        free(keep[i]);
    return 0;
}
