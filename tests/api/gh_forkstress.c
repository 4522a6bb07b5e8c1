/* gh_forkstress.c - fork while other threads allocate, the scenario of
 * glibc's malloc/tst-malloc-fork-deadlock.c: threads call malloc/free in a
 * loop, some of them while holding stdio locks (flockfile, getline on a
 * stream, fopen/fprintf/fclose, fflush(NULL) which takes the stream-list
 * lock and then each stream's lock), and the main thread forks again and
 * again; each child allocates, uses stdio, checks the heap and _exit()s.
 *
 * A lock-order problem between glassheap's fork handlers and libc's stdio
 * locks shows up as a hang: children have alarm(10), the parent alarm(50),
 * and CTest a TIMEOUT, so a deadlock fails the test instead of hanging it.
 *
 *   gh_forkstress [seconds]     (default 3)
 *
 * Exit 0 = pass, 1 = fail.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gh_api_test.h"

#define MIN_FORKS 10

static atomic_int stop;
static atomic_uint_fast64_t thread_ops;
static struct gh_t_api gh;

static void *malloc_thread(void *arg)
{
    uint64_t seed = (uintptr_t)arg * 0x2545F4914F6CDD1Dull + 7;
    void *keep[16] = { 0 };
    uint64_t n = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        uint64_t r = gh_t_rand(&seed);
        int k = (int)(r % 16);
        size_t s = r % 64 == 0 ? 200 * 1024 : r % 2000;
        if (r & 64) {
            void *p = realloc(keep[k], s + 1);
            if (!p)
                abort();
            keep[k] = p;
        } else {
            free(keep[k]);
            keep[k] = malloc(s);
            if (!keep[k])
                abort();
            memset(keep[k], 0x42, s);
        }
        n++;
    }
    for (int k = 0; k < 16; k++)
        free(keep[k]);
    atomic_fetch_add(&thread_ops, n);
    return NULL;
}

/* malloc inside flockfile(stdout) ... funlockfile(stdout). */
static void *flockfile_thread(void *arg)
{
    (void)arg;
    uint64_t n = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        flockfile(stdout);
        void *p = malloc(100 + n % 1000);
        free(p);
        funlockfile(stdout);
        n++;
    }
    atomic_fetch_add(&thread_ops, n);
    return NULL;
}

/* fopen/fprintf/fclose: FILE objects and their buffers come from malloc
 * while libc holds its stream-list lock or the stream's lock. */
static void *fopen_thread(void *arg)
{
    (void)arg;
    uint64_t n = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        FILE *f = fopen("/dev/null", "w");
        if (!f)
            abort();
        fprintf(f, "%" PRIu64 " %s %f\n", n, "glassheap", n * 0.5);
        fclose(f);
        n++;
    }
    atomic_fetch_add(&thread_ops, n);
    return NULL;
}

/* getline: realloc under the stream's lock (glibc's test does the same). */
static void *getline_thread(void *arg)
{
    (void)arg;
    static char text[] = "a short line\na somewhat longer line of text to read\nx\n";
    uint64_t n = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        FILE *f = fmemopen(text, sizeof text - 1, "r");
        if (!f)
            abort();
        char *line = NULL;
        size_t cap = 0;
        while (getline(&line, &cap, f) > 0)
            n++;
        free(line);
        fclose(f);
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        if (!m)
            abort();
        for (int i = 0; i < 50; i++)
            fprintf(m, "%d,", i);
        fclose(m);
        free(buf);
    }
    atomic_fetch_add(&thread_ops, n);
    return NULL;
}

/* fflush(NULL): the stream-list lock, then every stream's lock. */
static void *fflush_thread(void *arg)
{
    (void)arg;
    uint64_t n = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        fflush(NULL);
        n++;
    }
    atomic_fetch_add(&thread_ops, n);
    return NULL;
}

static void child(int i)
{
    signal(SIGALRM, SIG_DFL); /* a hung child dies of SIGALRM */
    alarm(10);
    void *v[64];
    for (int k = 0; k < 64; k++) {
        v[k] = malloc((size_t)(k * 97 + i) % 3000);
        if (!v[k])
            _exit(3);
        memset(v[k], k, (size_t)(k * 97 + i) % 3000);
    }
    void *big = malloc(300 * 1024);
    if (!big)
        _exit(3);
    memset(big, 1, 300 * 1024);
    FILE *f = fopen("/dev/null", "w");
    if (!f)
        _exit(4);
    fprintf(f, "child %d\n", i);
    fclose(f);
    for (int k = 0; k < 64; k++)
        free(v[k]);
    free(big);
    if (gh.check() != 1)
        _exit(5);
    _exit(0);
}

static void on_alarm(int sig)
{
    static const char msg[] = "FAIL: the parent made no progress for 50 s: deadlock\n";
    (void)sig;
    if (write(2, msg, sizeof msg - 1) < 0) {
    }
    _exit(1);
}

int main(int argc, char **argv)
{
    gh = gh_t_api();
    double seconds = argc > 1 ? atof(argv[1]) : 3.0;
    signal(SIGALRM, on_alarm);
    alarm(50);
    setvbuf(stdout, NULL, _IOFBF, 4096);

    void *(*fns[])(void *) = {
        malloc_thread, malloc_thread, malloc_thread, flockfile_thread,
        fopen_thread,  getline_thread, fflush_thread,
    };
    enum { NT = sizeof fns / sizeof *fns };
    pthread_t t[NT];
    for (int i = 0; i < NT; i++)
        GH_T_CHECK(pthread_create(&t[i], NULL, fns[i], (void *)(uintptr_t)(i + 1)) == 0,
                   "pthread_create");

    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int forks = 0, bad = 0;
    char shm[64];
    int shm_left = 0;
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        /* At least `seconds` and at least MIN_FORKS forks (a loaded machine
         * forks a multi-threaded process slowly). */
        if ((now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) * 1e-9 > seconds &&
            forks >= MIN_FORKS)
            break;
        pid_t pid = fork();
        GH_T_CHECK(pid >= 0, "fork: %s", strerror(errno));
        if (pid == 0)
            child(forks);
        /* The parent allocates too while the child runs. */
        void *p = malloc(1000 + forks % 500);
        GH_T_CHECK(p != NULL, "parent malloc after fork");
        free(p);
        int st;
        GH_T_CHECK(waitpid(pid, &st, 0) == pid, "waitpid: %s", strerror(errno));
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            if (WIFSIGNALED(st))
                fprintf(stderr, "child %d (pid %d) killed by signal %d%s\n", forks, (int)pid,
                        WTERMSIG(st), WTERMSIG(st) == SIGALRM ? " (hung: deadlock?)" : "");
            else
                fprintf(stderr, "child %d (pid %d) exited with %d\n", forks, (int)pid,
                        WEXITSTATUS(st));
            bad++;
        }
        /* A child that _exit()s cannot unlink its segment; tidy up. */
        snprintf(shm, sizeof shm, "/dev/shm/glassheap.%d", (int)pid);
        if (unlink(shm) == 0)
            shm_left++;
        forks++;
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < NT; i++)
        pthread_join(t[i], NULL);
    GH_T_CHECK(gh.check() == 1, "glassheap_check() in the parent");
    printf("policy %s: %d forks, %d bad children, %" PRIu64 " thread operations, "
           "%d child shm segments left behind (removed)\n",
           gh.policy(), forks, bad, (uint64_t)atomic_load(&thread_ops), shm_left);
    fflush(stdout);
    GH_T_CHECK(bad == 0, "%d of %d children failed", bad, forks);
    printf("ok\n");
    return 0;
}
