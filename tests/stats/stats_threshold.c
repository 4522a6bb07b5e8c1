/* stats_threshold.c - the dynamic mmap threshold in a real preloaded
 * process (LD_PRELOAD=libglassheap.so, GLASSHEAP_POLICY as CTest sets it):
 * where a block lands after a large block of its size was freed, and what
 * the summary (malloc_stats(), the exit summary's text) says about it; and
 * the cache of freed mappings (alloc/large.h) as a program sees it.
 *
 * A block is in the heap when it lies below the break (the library's heap
 * grows the break); a large block has a mapping of its own, far above it.
 *
 * usage: stats_threshold MODE
 *   dynamic        free(malloc(200000)) raises the threshold to the
 *                  mapping's 200704 bytes: the next malloc(200000) is a heap
 *                  block; the summary says "mmap threshold 200704 B
 *                  (dynamic, raised 1 time)"
 *   env            run with GLASSHEAP_MMAP_THRESHOLD=128K: the threshold was
 *                  chosen, so it stays and the block is mapped again
 *   trim|top_pad|mmap_threshold|mmap_max
 *                  mallopt of that parameter first: the same as env
 *   max            (fit policies) a mapping of exactly 32 MiB raises it to
 *                  32 MiB, one a page longer does not
 *   cache          run with GLASSHEAP_MMAP_THRESHOLD=128K: a freed large
 *                  block's mapping is kept, and calloc of a size it fits
 *                  gets it back (same address, no mmap) cleared to zero;
 *                  malloc_trim gives it back; the summary counts it
 * Exit 0 when every check held; 1 with one line per failed check.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIB ((size_t)1 << 20)

static int failed;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "stats_threshold: FAIL: %s\n", what);
        failed = 1;
    }
}

static int in_heap(const void *p)
{
    return (uintptr_t)p < (uintptr_t)sbrk(0);
}

static void *get(size_t n)
{
    char *p = malloc(n);
    if (!p) {
        fprintf(stderr, "stats_threshold: out of memory\n");
        exit(1);
    }
    memset(p, 1, n); /* written, as a program would */
    return p;
}

/* What malloc_stats() writes on fd 2 (glibc's lines, then the summary). */
static void stats_text(char *buf, size_t cap)
{
    int fds[2];
    if (pipe(fds) != 0) {
        buf[0] = '\0';
        return;
    }
    int saved = dup(2);
    dup2(fds[1], 2);
    malloc_stats();
    dup2(saved, 2);
    close(saved);
    close(fds[1]);
    size_t len = 0;
    ssize_t n;
    while (len + 1 < cap && (n = read(fds[0], buf + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    close(fds[0]);
}

static void summary_says(const char *want)
{
    char buf[8192];
    stats_text(buf, sizeof buf);
    if (!strstr(buf, want)) {
        fprintf(stderr, "stats_threshold: FAIL: the summary lacks \"%s\":\n%s", want, buf);
        failed = 1;
    }
}

/* The cycle every mode runs: a 200000-byte block, freed, asked for again. */
static void cycle(int dynamic)
{
    void *a = get(200000);
    check(!in_heap(a), "the first malloc(200000) is mapped apart");
    free(a);
    void *b = get(200000);
    if (dynamic)
        check(in_heap(b), "after the free, malloc(200000) is a heap block");
    else
        check(!in_heap(b), "with a chosen threshold, malloc(200000) is mapped again");
    free(b);
    summary_says(dynamic ? "mmap threshold 200704 B (dynamic, raised 1 time)"
                         : "mmap threshold 131072 B (fixed, raised 0 times)");
}

static void at_the_max(void)
{
    size_t exact = 32 * MIB - 64; /* record and header: a mapping of exactly 32 MiB */
    void *over = get(32 * MIB);   /* a page longer */
    free(over);
    summary_says("mmap threshold 131072 B (dynamic, raised 0 times)");
    void *a = get(exact);
    check(!in_heap(a), "malloc(32 MiB - 64) is mapped apart at first");
    free(a);
    summary_says("mmap threshold 33554432 B (dynamic, raised 1 time)");
    a = get(exact);
    check(in_heap(a), "then malloc(32 MiB - 64) is a heap block");
    over = get(32 * MIB);
    check(!in_heap(over), "malloc(32 MiB) stays mapped apart");
    free(over);
    free(a);
    summary_says("mmap threshold 33554432 B (dynamic, raised 1 time)");
}

static void cache(void)
{
    char *a = get(200000);
    memset(a, 0xab, 200000);
    free(a);
    summary_says("freed mappings cached 1 (200704 B), reused 0 times");
    char *b = calloc(1, 190000); /* needs 192512 B of the 200704 kept */
    check(b == a, "calloc(1, 190000) reuses the mapping freed just before");
    int zero = 1;
    for (size_t i = 0; b && i < 190000; i++)
        zero &= b[i] == 0;
    check(b && zero, "calloc's block from a cached mapping reads as zero");
    summary_says("freed mappings cached 0 (0 B), reused 1 time");
    free(b);
    char *c = get(140000); /* needs 143360 B: 200704 is more than a third longer */
    check(c != a, "a mapping much longer than the request is not reused");
    free(c);
    summary_says("freed mappings cached 2 (344064 B), reused 1 time");
    malloc_trim(0);
    summary_says("freed mappings cached 0 (0 B), reused 1 time");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: stats_threshold dynamic|env|trim|top_pad|mmap_threshold|mmap_max|max|cache\n");
        return 2;
    }
    const char *m = argv[1];
    if (!strcmp(m, "dynamic") || !strcmp(m, "env")) {
        cycle(!strcmp(m, "dynamic"));
    } else if (!strcmp(m, "trim")) {
        check(mallopt(M_TRIM_THRESHOLD, 128 * 1024) == 1, "mallopt(M_TRIM_THRESHOLD)");
        cycle(0);
    } else if (!strcmp(m, "top_pad")) {
        check(mallopt(M_TOP_PAD, 128 * 1024) == 1, "mallopt(M_TOP_PAD)");
        cycle(0);
    } else if (!strcmp(m, "mmap_threshold")) {
        check(mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 1, "mallopt(M_MMAP_THRESHOLD)");
        cycle(0);
    } else if (!strcmp(m, "mmap_max")) {
        check(mallopt(M_MMAP_MAX, 1000) == 1, "mallopt(M_MMAP_MAX)");
        cycle(0);
    } else if (!strcmp(m, "cache")) {
        cache();
    } else if (!strcmp(m, "max")) {
        at_the_max();
    } else {
        fprintf(stderr, "stats_threshold: unknown mode %s\n", m);
        return 2;
    }
    return failed;
}
