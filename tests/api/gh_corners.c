/* gh_corners.c - corners of glibc's API contract that glibc's own malloc
 * tests probe (issue 14), written for glassheap:
 *
 *   gh_corners mallopt_values      every parameter glibc 2.36 documents, with
 *                                  glibc's results (1 done, 0 out of range)
 *   gh_corners mallopt_trim        M_TRIM_THRESHOLD: -1 never trims, 0 trims
 *   gh_corners mallopt_top_pad     M_TOP_PAD: the heap grows by the pad
 *   gh_corners mallopt_mmap_threshold  M_MMAP_THRESHOLD up to 32 MiB moves
 *                                  the heap/large boundary; above, 0, unchanged
 *   gh_corners mallopt_mmap_max    M_MMAP_MAX: at most that many large blocks
 *                                  live, the rest in the heap (calloc still zero)
 *   gh_corners mallopt_perturb     M_PERTURB: new blocks read byte ^ 0xff,
 *                                  freed ones the byte, calloc zero
 *   gh_corners aligned_fail        RLIMIT_AS, four threads, each aligned call
 *                                  until it fails: posix_memalign returns
 *                                  ENOMEM and leaves errno ENOMEM, the others
 *                                  return NULL with errno ENOMEM
 *   gh_corners stats_cancel        malloc_stats() in a thread with a
 *                                  cancellation pending writes its whole
 *                                  report; the thread ends at the next
 *                                  cancellation point
 *   gh_corners memalign_reuse      freed aligned blocks are found again by the
 *                                  next request of that size and alignment
 *
 * Exit 0 = pass, 1 = fail (a line saying what), 77 = cannot be set up here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gh_api_test.h"

#define KiB ((size_t)1024)
#define MiB (KiB * KiB)

static struct gh_t_api gh;
static size_t page;

static volatile size_t vsz;
static size_t opaque(size_t n)
{
    vsz = n;
    return vsz;
}

static int fit_policy(void)
{
    return strcmp(gh.policy(), "buddy") != 0;
}

static struct glassheap_counters ctr(void)
{
    return gh_t_counters(&gh);
}

/* ---- mallopt --------------------------------------------------------------- */

static int mallopt_values(void)
{
    static const struct {
        const char *name;
        int param, value, want;
    } cases[] = {
        { "M_TRIM_THRESHOLD", M_TRIM_THRESHOLD, -1, 1 },
        { "M_TRIM_THRESHOLD", M_TRIM_THRESHOLD, 256 * 1024, 1 },
        { "M_TOP_PAD", M_TOP_PAD, 64 * 1024, 1 },
        { "M_TOP_PAD", M_TOP_PAD, 0, 1 },
        { "M_MMAP_THRESHOLD", M_MMAP_THRESHOLD, 64 * 1024, 1 },
        { "M_MMAP_THRESHOLD", M_MMAP_THRESHOLD, 32 * 1024 * 1024, 1 },
        { "M_MMAP_THRESHOLD", M_MMAP_THRESHOLD, 32 * 1024 * 1024 + 1, 0 },
        { "M_MMAP_THRESHOLD", M_MMAP_THRESHOLD, -1, 0 },
        { "M_MMAP_THRESHOLD", M_MMAP_THRESHOLD, 128 * 1024, 1 },
        { "M_MMAP_MAX", M_MMAP_MAX, 64 * 1024, 1 },
        { "M_MMAP_MAX", M_MMAP_MAX, 0, 1 },
        { "M_MMAP_MAX", M_MMAP_MAX, 65536, 1 },
        { "M_ARENA_MAX", M_ARENA_MAX, 2, 1 },
        { "M_ARENA_MAX", M_ARENA_MAX, 0, 1 },
        { "M_ARENA_TEST", M_ARENA_TEST, 8, 1 },
        { "M_ARENA_TEST", M_ARENA_TEST, -3, 1 },
        { "M_PERTURB", M_PERTURB, 0xa5, 1 },
        { "M_PERTURB", M_PERTURB, 0, 1 },
        { "M_CHECK_ACTION", M_CHECK_ACTION, 1, 1 },
        { "M_CHECK_ACTION", M_CHECK_ACTION, 3, 1 },
        { "M_MXFAST", M_MXFAST, 0, 1 },
        { "M_MXFAST", M_MXFAST, (int)(80 * sizeof(size_t) / 4), 1 },
        { "M_MXFAST", M_MXFAST, (int)(80 * sizeof(size_t) / 4) + 1, 0 },
        { "M_MXFAST", M_MXFAST, -1, 0 },
        { "unknown parameter 12345", 12345, 1, 1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int got = mallopt(cases[i].param, cases[i].value);
        GH_T_CHECK(got == cases[i].want, "mallopt(%s, %d) = %d, glibc gives %d", cases[i].name, cases[i].value, got,
                   cases[i].want);
    }
    GH_T_CHECK(gh.check(), "heap check");
    return 0;
}

/* A free block at the top larger than 1 MiB: kept with the threshold at -1
 * (as large as can be), given back with it at 0. */
static int mallopt_trim(void)
{
    if (!fit_policy()) {
        printf("skip: buddy gives back whole chunks, whatever the threshold\n");
        return GH_T_SKIP;
    }
    GH_T_CHECK(mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024) == 1, "threshold");
    GH_T_CHECK(mallopt(M_TRIM_THRESHOLD, -1) == 1, "trim -1");
    void *p = malloc(opaque(4 * MiB));
    GH_T_CHECK(p, "malloc");
    memset(p, 1, 4 * MiB);
    uint64_t before = ctr().heap_bytes;
    free(p);
    uint64_t kept = ctr().heap_bytes;
    GH_T_CHECK(kept == before, "threshold -1: the heap went from %llu to %llu bytes on free",
               (unsigned long long)before, (unsigned long long)kept);
    GH_T_CHECK(mallopt(M_TRIM_THRESHOLD, 0) == 1 && mallopt(M_TOP_PAD, 0) == 1, "trim 0");
    p = malloc(opaque(4 * MiB));
    GH_T_CHECK(p, "malloc again");
    free(p);
    uint64_t after = ctr().heap_bytes;
    GH_T_CHECK(after + 4 * MiB <= kept, "threshold 0: the heap kept %llu of %llu bytes", (unsigned long long)after,
               (unsigned long long)kept);
    GH_T_CHECK(gh.check(), "heap check");
    return 0;
}

/* What the heap grows by when a 64 KiB request finds no room: the request
 * plus the pad (rounded to pages).  The free memory is used up first. */
static uint64_t growth_with_pad(int pad)
{
    GH_T_CHECK(mallopt(M_TOP_PAD, pad) == 1, "top pad %d", pad);
    void *fill[4096];
    size_t nfill = 0;
    uint64_t grew = 0;
    while (nfill < 4096 && grew == 0) {
        uint64_t h = ctr().heap_bytes;
        fill[nfill++] = malloc(opaque(64 * KiB));
        grew = ctr().heap_bytes - h;
    }
    while (nfill)
        free(fill[--nfill]);
    return grew;
}

static int mallopt_top_pad(void)
{
    if (!fit_policy()) {
        printf("skip: buddy grows by whole chunks, no pad\n");
        return GH_T_SKIP;
    }
    GH_T_CHECK(mallopt(M_TRIM_THRESHOLD, -1) == 1, "no trim");
    uint64_t small = growth_with_pad(0);
    uint64_t big = growth_with_pad(4 * 1024 * 1024);
    GH_T_CHECK(small < 1 * MiB, "top pad 0: the heap grew by %llu bytes for 64 KiB", (unsigned long long)small);
    GH_T_CHECK(big >= 4 * MiB, "top pad 4 MiB: the heap grew by %llu bytes", (unsigned long long)big);
    GH_T_CHECK(mallopt(M_TOP_PAD, -1) == 1, "top pad -1");
    void *p = malloc(opaque(100 * KiB)); /* the pad cannot be had: the request still can */
    GH_T_CHECK(p, "malloc with an impossible pad");
    free(p);
    GH_T_CHECK(gh.check(), "heap check");
    return 0;
}

/* Is p a large block?  One allocation of n bytes, counted. */
static int is_large(size_t n, void **out)
{
    uint64_t l0 = ctr().large_blocks;
    *out = malloc(opaque(n));
    GH_T_CHECK(*out, "malloc(%zu)", n);
    return ctr().large_blocks == l0 + 1;
}

static int mallopt_mmap_threshold(void)
{
    void *p;
    GH_T_CHECK(mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024) == 1, "32 MiB");
    GH_T_CHECK(!is_large(600 * KiB, &p), "600 KiB is large under a 32 MiB threshold");
    free(p);
    GH_T_CHECK(mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024 + 1) == 0, "above 32 MiB accepted");
    GH_T_CHECK(mallopt(M_MMAP_THRESHOLD, -1) == 0, "-1 accepted");
    GH_T_CHECK(!is_large(600 * KiB, &p), "a refused threshold changed the boundary");
    free(p);
    GH_T_CHECK(mallopt(M_MMAP_THRESHOLD, 256 * 1024) == 1, "256 KiB");
    GH_T_CHECK(is_large(300 * KiB, &p), "300 KiB is not large under a 256 KiB threshold");
    free(p);
    GH_T_CHECK(gh.check(), "heap check");
    return 0;
}

static int mallopt_mmap_max(void)
{
    void *p[4];
    /* Two large blocks at most: the third large request goes to the heap. */
    GH_T_CHECK(mallopt(M_MMAP_MAX, 2) == 1, "mmap max 2");
    GH_T_CHECK(is_large(256 * KiB, &p[0]) && is_large(256 * KiB, &p[1]), "the first two are not large");
    GH_T_CHECK(!is_large(256 * KiB, &p[2]), "a third large block while M_MMAP_MAX is 2");
    free(p[0]);
    GH_T_CHECK(is_large(256 * KiB, &p[0]), "a large block again once one was freed");
    for (int i = 0; i < 3; i++)
        free(p[i]);
    /* None: every request in the heap, calloc's still zero (the heap block
     * comes from memory this test dirtied). */
    GH_T_CHECK(mallopt(M_MMAP_MAX, 0) == 1, "mmap max 0");
    GH_T_CHECK(!is_large(256 * KiB, &p[0]), "a large block under M_MMAP_MAX 0");
    memset(p[0], 0x77, 256 * KiB);
    free(p[0]);
    unsigned char *c = calloc(1, opaque(256 * KiB));
    GH_T_CHECK(c, "calloc");
    for (size_t i = 0; i < 256 * KiB; i++)
        GH_T_CHECK(c[i] == 0, "calloc byte %zu is %#x under M_MMAP_MAX 0", i, c[i]);
    free(c);
    GH_T_CHECK(mallopt(M_MMAP_MAX, 65536) == 1, "mmap max back");
    GH_T_CHECK(is_large(256 * KiB, &p[0]), "not large again");
    free(p[0]);
    GH_T_CHECK(gh.check(), "heap check");
    return 0;
}

static int all_bytes(const unsigned char *p, size_t from, size_t to, unsigned char b)
{
    for (size_t i = from; i < to; i++)
        if (p[i] != b)
            return 0;
    return 1;
}

static int mallopt_perturb(void)
{
    GH_T_CHECK(mallopt(M_PERTURB, 0xa5) == 1, "perturb");
    unsigned char *a = malloc(opaque(256)), *b = malloc(opaque(256)), *c = malloc(opaque(256));
    GH_T_CHECK(a && b && c, "malloc");
    GH_T_CHECK(all_bytes(b, 0, 256, 0x5a), "a new block does not read 0xa5 ^ 0xff");
    unsigned char *z = calloc(1, opaque(256));
    GH_T_CHECK(z && all_bytes(z, 0, 256, 0), "calloc is not zero under M_PERTURB");
    void *al = memalign(64, opaque(100));
    GH_T_CHECK(al && all_bytes(al, 0, 100, 0x5a), "memalign's block does not read 0x5a");
    memset(b, 0, 256);
    volatile unsigned char *fb = b;
    free(b);
    /* The freed block's middle (past the free-block index node, before its
     * footer; its neighbours are live, so it stays a block of its own). */
    for (size_t i = 64; i < 200; i++)
        GH_T_CHECK(fb[i] == 0xa5, "freed byte %zu is %#x, not the perturb byte", i, fb[i]);
    GH_T_CHECK(mallopt(M_PERTURB, 0) == 1, "perturb off");
    free(a);
    free(c);
    free(z);
    free(al);
    GH_T_CHECK(gh.check(), "heap check");
    return 0;
}

/* ---- the aligned calls under RLIMIT_AS, in threads ------------------------- */

enum how { H_POSIX_MEMALIGN, H_ALIGNED_ALLOC, H_MEMALIGN, H_VALLOC, H_PVALLOC, H_N };
static const char *const how_name[H_N] = { "posix_memalign", "aligned_alloc", "memalign", "valloc", "pvalloc" };

struct fail_arg {
    enum how how;
    size_t size;
    pthread_barrier_t *bar;
    int bad;             /* a wrong failure result */
    char why[160];
    size_t got;
};

/* One call; NULL when it failed (after checking how it said so). */
static void *one_call(struct fail_arg *a)
{
    void *p = NULL;
    errno = 0;
    switch (a->how) {
    case H_POSIX_MEMALIGN: {
        int rc = posix_memalign(&p, 128, a->size);
        if (rc != 0) {
            if (rc != ENOMEM || errno != ENOMEM) {
                a->bad = 1;
                snprintf(a->why, sizeof a->why, "posix_memalign(p, 128, %zu) = %d, errno %d (%s)", a->size, rc,
                         errno, strerror(errno));
            }
            return NULL;
        }
        return p;
    }
    case H_ALIGNED_ALLOC: p = aligned_alloc(128, a->size); break;
    case H_MEMALIGN: p = memalign(128, a->size); break;
    case H_VALLOC: p = valloc(a->size); break;
    case H_PVALLOC: p = pvalloc(a->size); break;
    default: break;
    }
    if (!p && errno != ENOMEM) {
        a->bad = 1;
        snprintf(a->why, sizeof a->why, "%s(%zu) = NULL with errno %d (%s)", how_name[a->how], a->size, errno,
                 strerror(errno));
    }
    size_t align = a->how >= H_VALLOC ? page : 128;
    if (p && ((uintptr_t)p & (align - 1))) {
        a->bad = 1;
        snprintf(a->why, sizeof a->why, "%s(%zu) = %p, not aligned to %zu", how_name[a->how], a->size, p, align);
    }
    return p;
}

static void *fail_thread(void *v)
{
    struct fail_arg *a = v;
    pthread_barrier_wait(a->bar);
    void **head = NULL;
    for (;;) {
        void **e = one_call(a);
        if (!e)
            break;
        *e = head;
        head = e;
        a->got++;
    }
    pthread_barrier_wait(a->bar);
    while (head) {
        void **next = *head;
        free(head);
        head = next;
    }
    return NULL;
}

/* vm size from /proc/self/statm, in bytes */
static size_t vm_size(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (f) {
        if (fscanf(f, "%lu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    return pages * page;
}

enum { NTHREADS = 4 };

/* In a child: threads run `how` on `size` until each fails. */
static int fail_child(enum how how, size_t size)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * KiB);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, NTHREADS);
    struct fail_arg args[NTHREADS];
    struct rlimit lim;
    GH_T_CHECK(getrlimit(RLIMIT_AS, &lim) == 0, "getrlimit");
    /* A checking build walks the heap after every call: less to fill. */
    lim.rlim_cur = vm_size() + NTHREADS * 256 * KiB + (gh_t_checked() ? 4 : 48) * MiB;
    if (setrlimit(RLIMIT_AS, &lim) != 0)
        return GH_T_SKIP;
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        args[i] = (struct fail_arg){ .how = how, .size = size, .bar = &bar };
        GH_T_CHECK(pthread_create(&t[i], &attr, fail_thread, &args[i]) == 0, "pthread_create");
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    size_t got = 0; /* one thread may find the memory gone before its first call */
    for (int i = 0; i < NTHREADS; i++) {
        GH_T_CHECK(!args[i].bad, "%s", args[i].why);
        got += args[i].got;
    }
    GH_T_CHECK(got > 0, "%s(%zu): no call succeeded", how_name[how], size);
    GH_T_CHECK(gh.check(), "heap check after %s", how_name[how]);
    return 0;
}

static int aligned_fail(void)
{
    size_t sizes[] = { 512, page, 17 * page };
    for (int h = 0; h < H_N; h++) {
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            fflush(NULL);
            pid_t pid = fork();
            GH_T_CHECK(pid >= 0, "fork");
            if (pid == 0)
                _exit(fail_child((enum how)h, sizes[s]));
            int st;
            GH_T_CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
            if (WIFEXITED(st) && WEXITSTATUS(st) == GH_T_SKIP)
                return GH_T_SKIP;
            GH_T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s(%zu) under RLIMIT_AS: child status %#x",
                       how_name[h], sizes[s], st);
        }
    }
    return 0;
}

/* ---- malloc_stats in a thread being cancelled ------------------------------ */

static void *stats_thread(void *v)
{
    pthread_barrier_wait(v); /* not a cancellation point: the cancel is pending after it */
    malloc_stats();
    fputs("after the report: the thread should have been cancelled here\n", stderr);
    return NULL;
}

static int stats_cancel(void)
{
    int fds[2];
    GH_T_CHECK(pipe(fds) == 0, "pipe");
    int saved = dup(2);
    GH_T_CHECK(saved >= 0 && dup2(fds[1], 2) == 2, "dup2");
    close(fds[1]);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    pthread_t t;
    GH_T_CHECK(pthread_create(&t, NULL, stats_thread, &bar) == 0, "pthread_create");
    GH_T_CHECK(pthread_cancel(t) == 0, "pthread_cancel");
    pthread_barrier_wait(&bar);
    void *rv;
    GH_T_CHECK(pthread_join(t, &rv) == 0, "pthread_join");
    dup2(saved, 2); /* closes the pipe's last write end */
    close(saved);
    static char buf[64 * 1024];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
    GH_T_CHECK(rv == PTHREAD_CANCELED, "the thread was not cancelled; it wrote:\n%s", buf);
    GH_T_CHECK(strstr(buf, "max mmap bytes"), "glibc's part of the report is incomplete:\n%s", buf);
    GH_T_CHECK(strstr(buf, "glassheap: system calls"), "the summary is incomplete:\n%s", buf);
    GH_T_CHECK(!strstr(buf, "after the report"), "the thread ran past its next cancellation point:\n%s", buf);
    return 0;
}

/* ---- aligned blocks found again ---------------------------------------------- */

static void *reuse_thread(void *v)
{
    int *failed = v;
    static const struct {
        size_t size, align;
    } one[] = { { 24, 32 }, { 24, 64 }, { 128, 128 }, { 500, 128 }, { 3000, 4096 } };
    /* One block: freed, then asked for again with its usable size. */
    for (size_t i = 0; i < sizeof one / sizeof *one; i++) {
        void *p = memalign(one[i].align, opaque(one[i].size));
        size_t u = malloc_usable_size(p);
        free(p);
        void *q = memalign(one[i].align, opaque(u));
        free(q);
        if (p != q) {
            fprintf(stderr, "FAIL: memalign(%zu, %zu) = %p, freed; memalign(%zu, %zu) = %p\n", one[i].align,
                    one[i].size, p, one[i].align, u, q);
            *failed = 1;
        }
    }
    /* An aligned block among plain ones, all freed: the next aligned
     * request of that size lands on one of them. */
    void *v10[10];
    for (int i = 0; i < 10; i++)
        v10[i] = i == 4 ? memalign(64, opaque(256)) : malloc(opaque(256));
    for (int i = 0; i < 10; i++)
        free(v10[i]);
    void *p = memalign(64, opaque(256));
    int hit = 0;
    for (int i = 0; i < 10; i++)
        hit |= v10[i] == p;
    free(p);
    if (!hit) {
        fprintf(stderr, "FAIL: memalign(64, 256) = %p, none of the ten blocks just freed\n", p);
        *failed = 1;
    }
    /* Larger aligned blocks kept apart by live fences, freed, asked for
     * again after an unrelated allocation: most land where they were. */
    enum { L = 8 };
    static const size_t lsize[L] = { 23450, 23450, 23550, 23550, 23650, 23650, 33650, 33650 };
    void *first[L], *again[L], *fence[L];
    for (int i = 0; i < L; i++) {
        first[i] = memalign(64, opaque(lsize[i]));
        fence[i] = malloc(opaque(512));
    }
    for (int i = 0; i < L; i++)
        free(first[i]);
    void *big = malloc(opaque(60000));
    for (int i = 0; i < L; i++)
        again[i] = memalign(64, opaque(lsize[i]));
    int same = 0;
    for (int i = 0; i < L; i++)
        for (int j = 0; j < L; j++)
            same += first[i] == again[j];
    if (same <= L / 2) {
        fprintf(stderr, "FAIL: %d of %d aligned blocks found again\n", same, L);
        *failed = 1;
    }
    for (int i = 0; i < L; i++) {
        free(again[i]);
        free(fence[i]);
    }
    free(big);
    return NULL;
}

static int memalign_reuse(void)
{
    int failed = 0;
    reuse_thread(&failed); /* in the main thread, then in another */
    pthread_t t;
    GH_T_CHECK(pthread_create(&t, NULL, reuse_thread, &failed) == 0, "pthread_create");
    pthread_join(t, NULL);
    GH_T_CHECK(!failed, "aligned blocks not found again under %s", gh.policy());
    GH_T_CHECK(gh.check(), "heap check");
    return 0;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(void);
    } cases[] = {
        { "mallopt_values", mallopt_values },
        { "mallopt_trim", mallopt_trim },
        { "mallopt_top_pad", mallopt_top_pad },
        { "mallopt_mmap_threshold", mallopt_mmap_threshold },
        { "mallopt_mmap_max", mallopt_mmap_max },
        { "mallopt_perturb", mallopt_perturb },
        { "aligned_fail", aligned_fail },
        { "stats_cancel", stats_cancel },
        { "memalign_reuse", memalign_reuse },
    };
    gh = gh_t_api();
    page = (size_t)sysconf(_SC_PAGESIZE);
    if (argc == 2 && !strcmp(argv[1], "--list")) {
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
            printf("%s\n", cases[i].name);
        return 0;
    }
    for (size_t i = 0; argc == 2 && i < sizeof cases / sizeof *cases; i++)
        if (!strcmp(argv[1], cases[i].name)) {
            int rc = cases[i].fn();
            if (rc == 0)
                printf("ok %s under %s\n", cases[i].name, gh.policy());
            return rc;
        }
    fprintf(stderr, "usage: gh_corners CASE (--list for the cases)\n");
    return 2;
}
