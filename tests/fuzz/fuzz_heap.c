/* fuzz_heap.c - the seeded heap fuzzer (CTest; tests/fuzz/README.md).
 *
 *   gh_fuzz_heap POLICY OPS [SEED [CASE...]]
 *
 * Runs fuzz cases (heapfuzz.h) of up to CASE_OPS operations on a fresh arena
 * heap of POLICY, each in a forked child, until OPS operations have run.
 * Every case's bytes come from a PRNG seeded with (SEED, case number), so a
 * failing case is rerun alone with its SEED and CASE; with several CASEs,
 * just those (the regressions of regressions.txt).  Half the cases make
 * corrupting writes (into neighbours, headers, freed blocks), half only
 * legal ones (slack).  The parent requires of each child: exit 0 (the heap
 * checks clean at the end), or - only for a corrupting case - death by
 * SIGABRT with exactly one line on stderr, "glassheap: <fn>(): <what> 0x...",
 * <what> one of error.h's lines or the checker's ("heap_check()"; in a
 * GLASSHEAP_CHECKS build, any call's checker line).
 * Anything else - another signal (SIGSEGV inside the allocator), a hang, a
 * block handed out over a live one, contents changed behind the program's
 * back, an abort of a clean case - fails the run, naming the case.
 *
 * Prints: operations, cases, clean ones, aborts by message, time.  With
 * GH_FUZZ_SECONDS=N in the environment it stops after N seconds (and says
 * so), for a long run that must end by a deadline (long_run.sh).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "heapfuzz.h"

#define CASE_OPS 2000
#define ARENA (32u << 20)
#define CASE_SECONDS 20

static const char *const messages[] = {
    GH_MSG_DOUBLE_FREE, GH_MSG_FREED, GH_MSG_INVALID, GH_MSG_INTERIOR,
    GH_MSG_HEADER, GH_MSG_FREE_LIST, GH_MSG_NEIGHBOUR, "(checker)",
};
#define NMSG (sizeof messages / sizeof messages[0])

static uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ULL;
    x ^= x >> 27;
    x *= 0x81dadef4bc2dd44dULL;
    return x ^ (x >> 33);
}

/* Which of the messages is the single line in err (-1: none, or not one
 * line of glassheap's form). */
static int classify(const char *err)
{
    const char *nl = strchr(err, '\n');
    if (strncmp(err, "glassheap: ", 11) != 0 || !nl || nl[1] != '\0')
        return -1;
    const char *call = err + 11, *paren = strstr(call, "(): ");
    if (!paren || paren > nl)
        return -1;
    const char *what = paren + 4;
    if (strncmp(call, "heap_check(): ", 14) == 0)
        return (int)NMSG - 1;
    for (size_t m = 0; m + 1 < NMSG; m++) {
        size_t l = strlen(messages[m]);
        if (strncmp(what, messages[m], l) == 0 && strncmp(what + l, " 0x", 3) == 0)
            return (int)m;
    }
#ifdef GH_CHECKS
    /* A checker build walks the heap after every operation: its finding,
     * in the checker's words, often comes first. */
    const char *hex = strstr(what, " 0x");
    if (hex && hex < nl)
        return (int)NMSG - 1;
#endif
    return -1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: gh_fuzz_heap POLICY OPS [SEED [CASE...]]\n");
        return 2;
    }
    const char *policy = argv[1];
    /* OPS as a number or in floating notation ("1e8", long_run.sh's). */
    char *end;
    double want_d = strtod(argv[2], &end);
    if (end == argv[2] || *end || !(want_d >= 0 && want_d < 1e19)) {
        fprintf(stderr, "gh_fuzz_heap: OPS must be a count, not %s\n", argv[2]);
        return 2;
    }
    uint64_t want = (uint64_t)want_d;
    uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 0) : 1;
    /* CASE...: only those cases, OPS ignored. */
    int nonly = argc > 4 ? argc - 4 : 0, next_only = 0;
    volatile struct gh_fuzz_stats *st = mmap(NULL, sizeof *st, PROT_READ | PROT_WRITE,
                                             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (st == MAP_FAILED)
        return 2;
    uint64_t ops = 0, cases = 0, clean = 0, dirty_writes = 0, by[NMSG] = { 0 };
    int failures = 0;
    struct timespec t0, t1;
    const char *limit_env = getenv("GH_FUZZ_SECONDS");
    double limit = limit_env ? strtod(limit_env, NULL) : 0;
    bool stopped = false;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t k = 0; nonly ? next_only < nonly : ops < want; k++) {
        if (nonly)
            k = strtoull(argv[4 + next_only++], NULL, 0);
        bool dirty = (k & 1) != 0;
        uint64_t case_seed = mix(seed ^ mix(k + 1));
        int fds[2];
        if (pipe(fds) != 0)
            return 2;
        st->ops = st->dirty = 0;
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
            return 2;
        if (pid == 0) {
            close(fds[0]);
            dup2(fds[1], 2);
            signal(SIGABRT, SIG_DFL);
            alarm(CASE_SECONDS);
            void *arena = mmap(NULL, ARENA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (arena == MAP_FAILED)
                _exit(2);
            struct gh_fuzz_src src = { .x = case_seed };
            _exit(gh_fuzz_case(policy, arena, ARENA, &src, CASE_OPS, dirty, st));
        }
        close(fds[1]);
        char err[1024];
        size_t n = 0;
        ssize_t r;
        while ((r = read(fds[0], err + n, sizeof err - 1 - n)) > 0 || (r < 0 && errno == EINTR))
            if (r > 0)
                n += (size_t)r;
        err[n] = '\0';
        close(fds[0]);
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        cases++;
        ops += st->ops;
        dirty_writes += st->dirty;
        const char *bad = NULL;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && n == 0) {
            clean++;
        } else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && dirty && st->dirty > 0) {
            int m = classify(err);
            if (m < 0)
                bad = "abort without one glassheap line";
            else
                by[m]++;
        } else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
            bad = "hang";
        } else if (WIFSIGNALED(status)) {
            bad = WTERMSIG(status) == SIGABRT ? "abort of a case without corrupting writes" : strsignal(WTERMSIG(status));
        } else {
            bad = "exit";
        }
        if (bad) {
            failures++;
            fflush(stdout);
            fprintf(stderr, "FAIL %s case %llu (seed %llu, %s, status %#x, %llu ops): %s\n  stderr: %s\n  rerun: %s %s 1 %llu %llu\n",
                    policy, (unsigned long long)k, (unsigned long long)seed, dirty ? "dirty" : "clean", status,
                    (unsigned long long)st->ops, bad, n ? err : "(none)\n", argv[0], policy,
                    (unsigned long long)seed, (unsigned long long)k);
            if (failures >= 10)
                break;
        }
        if (limit > 0 && (cases & 63) == 0) {
            clock_gettime(CLOCK_MONOTONIC, &t1);
            if ((double)(t1.tv_sec - t0.tv_sec) > limit) {
                stopped = true;
                break;
            }
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("policy %s seed %llu: %llu operations, %llu cases (%llu clean), %llu corrupting writes, %.1f s\n", policy,
           (unsigned long long)seed, (unsigned long long)ops, (unsigned long long)cases, (unsigned long long)clean,
           (unsigned long long)dirty_writes, secs);
    for (size_t m = 0; m < NMSG; m++)
        printf("  aborts \"%s\": %llu\n", messages[m], (unsigned long long)by[m]);
    if (stopped)
        printf("  stopped by GH_FUZZ_SECONDS=%s before %llu operations\n", limit_env, (unsigned long long)want);
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
