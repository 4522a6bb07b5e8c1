/* stats_helper.c - the program stats_probe runs under LD_PRELOAD=libglassheap.so.
 *
 * Owns: nothing of the library; it only calls the C allocator API in known
 * patterns and talks to the test over its stdin/stdout pipes, one line at
 * a time, with read(2)/write(2) only: stdio would allocate (its buffers)
 * at points the test cannot predict.
 *
 * While it waits for a line it calls mallopt(M_PERTURB, 0) every 10 ms: an
 * allocator call that changes no counter, so a reader's request for
 * counters or a map is answered while the program is otherwise idle (the
 * library answers only on an allocator call).
 *
 * Modes (argv[1]):
 *   script      "ready"; line; the scripted sequence below; "done"; line; exit
 *   churn       "ready"; line; two threads churn malloc/calloc/realloc/
 *               posix_memalign/free, "churning"; line: they stop and free
 *               everything; "done"; line; exit
 *   idle [TAG]  "ready"; line; exit(0)          (TAG only shows in cmdline)
 *   fork        "ready"; line; fork(); the parent writes "forked <pid>" and
 *               waits for the child; the child waits for a line and exits;
 *               then the parent writes "reaped <status>", waits for a line,
 *               exits
 *   exec        "ready"; line; execs itself as "idle exec-image"
 * A closed stdin (the test died) ends the program like a line would, but
 * with exit status 3, so no helper outlives its test.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TICK_MS         10   /* idle allocator call period */
#define CHURN_THREADS   2
#define CHURN_SLOTS     512
#define LARGE_SIZE      (200u * 1024u)  /* above the 128K mmap threshold */

/* ---- output and input without stdio ------------------------------------ */

static void put(const char *s)
{
    size_t n = strlen(s);
    while (n) {
        ssize_t w = write(1, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(4);
        s += w;
        n -= (size_t)w;
    }
}

/* "word <decimal>\n" */
static void put_num(const char *word, long v)
{
    char buf[64], digits[24];
    int nd = 0;
    unsigned long u = v < 0 ? (unsigned long)-v : (unsigned long)v;
    do {
        digits[nd++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t l = strlen(word);
    memcpy(buf, word, l);
    buf[l++] = ' ';
    if (v < 0)
        buf[l++] = '-';
    while (nd)
        buf[l++] = digits[--nd];
    buf[l++] = '\n';
    buf[l] = '\0';
    put(buf);
}

/* Wait for one line on stdin, ticking the allocator meanwhile; a closed
 * stdin ends the program. */
static void wait_line(void)
{
    for (;;) {
        struct pollfd p = { .fd = 0, .events = POLLIN };
        int r = poll(&p, 1, TICK_MS);
        if (r < 0 && errno != EINTR)
            _exit(5);
        if (r <= 0) {
            mallopt(M_PERTURB, 0);
            continue;
        }
        char c;
        ssize_t n = read(0, &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            exit(3);
        if (c == '\n')
            return;
    }
}

/* ---- script ------------------------------------------------------------- */

/* Keep the compiler from dropping a store or an allocation. */
static void *volatile sink;

static void touch(void *p, size_t n)
{
    if (p && n)
        memset(p, 0x5a, n);
    sink = p;
}

/* The sequence stats_probe predicts (its comments give the blocks each
 * policy makes of it). */
static int run_script(void)
{
    char *a = malloc(100);
    touch(a, 100);
    char *b = calloc(25, 40);
    touch(b, 1000);
    char *c = malloc(3000);
    touch(c, 3000);
    char *d = malloc(200);
    touch(d, 200);
    free(b);
    char *e = malloc(500);
    touch(e, 500);
    char *c2 = realloc(c, 1000);     /* shrinks in place */
    if (c2 != c)
        return 10;
    void *f = NULL;
    if (posix_memalign(&f, 64, 300) != 0 || ((uintptr_t)f & 63))
        return 11;
    touch(f, 300);
    char *g = malloc(200000);        /* above the threshold: its own mapping */
    touch(g, 200000);
    char *a2 = realloc(a, 150000);   /* to a mapping: moves */
    if (!a2 || a2 == a)
        return 12;
    touch(a2, 150000);
    char *h = realloc(NULL, 64);
    touch(h, 64);
    free(d);
    free(g);
    sink = c2;
    sink = e;
    sink = f;
    sink = a2;
    sink = h;
    return 0;
}

/* ---- churn -------------------------------------------------------------- */

static int churn_stop;

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Mostly small blocks, some up to 16K, a few above the mmap threshold. */
static size_t churn_size(uint64_t *rng)
{
    uint64_t r = xorshift(rng);
    switch (r % 64) {
    case 0:
        return LARGE_SIZE + r % 4096;
    case 1: case 2: case 3: case 4:
        return 4096 + (size_t)(r >> 8) % 12288;
    default:
        return 1 + (size_t)(r >> 8) % 512;
    }
}

static void *churn(void *arg)
{
    uint64_t rng = 0x9e3779b97f4a7c15ULL * (uint64_t)(uintptr_t)arg + 1;
    void *slot[CHURN_SLOTS] = { 0 };
    for (unsigned long i = 0;; i++) {
        if ((i & 1023) == 0 && __atomic_load_n(&churn_stop, __ATOMIC_RELAXED))
            break;
        size_t k = (size_t)(xorshift(&rng) % CHURN_SLOTS);
        uint64_t op = xorshift(&rng) % 16;
        if (!slot[k]) {
            size_t n = churn_size(&rng);
            if (op == 0) {
                slot[k] = calloc(1, n);
            } else if (op == 1) {
                void *p = NULL;
                slot[k] = posix_memalign(&p, (size_t)64 << (op % 4), n) == 0 ? p : NULL;
            } else {
                slot[k] = malloc(n);
            }
            if (slot[k])
                ((char *)slot[k])[n - 1] = (char)k;
        } else if (op < 4) {
            size_t n = churn_size(&rng);
            void *q = realloc(slot[k], n);
            if (q) {
                slot[k] = q;
                ((char *)q)[n - 1] = (char)k;
            }
        } else {
            free(slot[k]);
            slot[k] = NULL;
        }
    }
    for (size_t k = 0; k < CHURN_SLOTS; k++)
        free(slot[k]);
    return NULL;
}

static int run_churn(void)
{
    pthread_t t[CHURN_THREADS];
    for (uintptr_t i = 0; i < CHURN_THREADS; i++)
        if (pthread_create(&t[i], NULL, churn, (void *)(i + 1)) != 0)
            return 20;
    put("churning\n");
    wait_line();
    __atomic_store_n(&churn_stop, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < CHURN_THREADS; i++)
        pthread_join(t[i], NULL);
    return 0;
}

/* ---- main --------------------------------------------------------------- */

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    const char *mode = argv[1];
    put("ready\n");
    wait_line();
    if (strcmp(mode, "script") == 0) {
        int rc = run_script();
        if (rc)
            return rc;
    } else if (strcmp(mode, "churn") == 0) {
        int rc = run_churn();
        if (rc)
            return rc;
    } else if (strcmp(mode, "idle") == 0) {
        return 0;
    } else if (strcmp(mode, "fork") == 0) {
        pid_t child = fork();
        if (child < 0)
            return 30;
        if (child == 0) {
            wait_line();
            exit(0);
        }
        put_num("forked", (long)child);
        int status = 0;
        while (waitpid(child, &status, 0) < 0)
            if (errno != EINTR)
                return 31;
        put_num("reaped", (long)status);
        wait_line();
        return 0;
    } else if (strcmp(mode, "exec") == 0) {
        char *args[] = { argv[0], "idle", "exec-image", NULL };
        execv("/proc/self/exe", args);
        return 40;
    } else {
        return 2;
    }
    put("done\n");
    wait_line();
    return 0;
}
