/* gh_fault.c - the allocator when the operating system says no.
 *
 *   gh_fault brk_blocked    a page mapped right above the break stops it
 *                           from growing: glassheap must go on in mmap
 *                           regions (DESIGN.md: the source falls back).
 *   gh_fault as_exhausted   RLIMIT_AS a few MiB above current use: malloc
 *                           fails with ENOMEM, nothing crashes, every block
 *                           stays intact, and memory freed is usable again.
 *
 * Exit 0 = pass, 1 = fail, 77 = the kernel cannot set the test up.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gh_api_test.h"

#define KiB ((size_t)1024)
#define MiB (KiB * KiB)

static struct gh_t_api gh;
static size_t page;

/* The kernel's break (glibc's sbrk(0) caches it; glassheap may not use it). */
static uintptr_t kernel_brk(void)
{
    return (uintptr_t)syscall(SYS_brk, 0);
}

/* Start of the [heap] mapping, or 0 when there is none. */
static uintptr_t heap_start(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    uintptr_t lo = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "[heap]")) {
            lo = (uintptr_t)strtoull(line, NULL, 16);
            break;
        }
    }
    fclose(f);
    return lo;
}

static int brk_blocked(void)
{
    uintptr_t brk0 = kernel_brk();
    uintptr_t hs = heap_start();
    uintptr_t lo = hs && hs < brk0 ? hs : brk0;
    uintptr_t block = (brk0 + page - 1) & ~(uintptr_t)(page - 1);

    uint64_t *wall = mmap((void *)block, page, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (wall == MAP_FAILED) {
        printf("SKIP: cannot map the page above the break at %#" PRIxPTR ": %s\n", block,
               strerror(errno));
        return GH_T_SKIP;
    }
    if ((uintptr_t)wall != block) {
        munmap(wall, page);
        printf("SKIP: kernel ignores MAP_FIXED_NOREPLACE\n");
        return GH_T_SKIP;
    }
    wall[0] = 0x57414c4c57414c4cull;
    wall[page / 8 - 1] = 0x57414c4c57414c4cull;
    /* Make sure the kernel now refuses to grow the break. */
    uintptr_t tried = (uintptr_t)syscall(SYS_brk, (void *)(block + 4 * page));
    if (tried != brk0) {
        syscall(SYS_brk, (void *)brk0);
        printf("SKIP: the break still grows past a mapping\n");
        return GH_T_SKIP;
    }
    printf("break %#" PRIxPTR ", [heap] from %#" PRIxPTR ", wall page at %#" PRIxPTR "\n",
           brk0, hs, block);

    struct glassheap_counters c0 = gh_t_counters(&gh);
    enum { CAP = 64 * 1024 };
    void **v = mmap(NULL, CAP * sizeof *v, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    size_t *sz = mmap(NULL, CAP * sizeof *sz, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    GH_T_CHECK(v != MAP_FAILED && sz != MAP_FAILED, "test arrays");
    /* Under the debug checker every call walks every block (and here the
     * headers are cache misses, one per 1-4 KiB): 16 MiB, not 64. */
    const size_t want = gh_t_checked() ? 16 * MiB : 64 * MiB;
    uint64_t seed = 0xB10CCAFE;
    size_t total = 0, n = 0, inside = 0;
    while (total < want && n < CAP) {
        size_t s = 1024 + gh_t_rand(&seed) % (3 * 1024 + 1);
        errno = 0;
        v[n] = malloc(s);
        GH_T_CHECK(v[n] != NULL, "malloc(%zu) #%zu failed (errno %d) after %zu MiB with the "
                   "break blocked", s, n, errno, total / MiB);
        GH_T_CHECK((uintptr_t)v[n] % 16 == 0, "%p not 16-aligned", v[n]);
        sz[n] = s;
        gh_t_fill_fast(v[n], s, n);
        if ((uintptr_t)v[n] >= lo && (uintptr_t)v[n] < block + page)
            inside++;
        total += s;
        n++;
    }
    struct glassheap_counters c1 = gh_t_counters(&gh);
    uintptr_t brk1 = kernel_brk();
    printf("%zu blocks, %zu MiB; %zu inside [heap start, wall); break now %#" PRIxPTR "\n",
           n, total / MiB, inside, brk1);
    GH_T_CHECK(gh.check() == 1, "glassheap_check() after allocating");
    GH_T_CHECK(brk1 <= block, "the break moved past the wall?");
    GH_T_CHECK(inside * 10 <= n, "%zu of %zu blocks lie in the (blocked) break heap", inside,
               n);
    GH_T_CHECK(c1.large_blocks == c0.large_blocks,
               "1-4 KiB blocks were served as large blocks (%" PRIu64 " -> %" PRIu64 ")",
               c0.large_blocks, c1.large_blocks);
    GH_T_CHECK(c1.heap_bytes >= c0.heap_bytes + want,
               "heap_bytes %" PRIu64 " -> %" PRIu64 ": the heap did not grow by %zu MiB",
               c0.heap_bytes, c1.heap_bytes, want / MiB);
    for (size_t i = 0; i < n; i++) {
        size_t bad = gh_t_verify_fast(v[i], sz[i], i);
        GH_T_CHECK(bad == (size_t)-1, "block %zu (%p, %zu bytes) byte %zu changed", i, v[i],
                   sz[i], bad);
    }
    GH_T_CHECK(wall[0] == 0x57414c4c57414c4cull && wall[page / 8 - 1] == wall[0],
               "the page above the break was overwritten");
    /* Free half, reuse, free all. */
    for (size_t i = 0; i < n; i += 2)
        free(v[i]);
    GH_T_CHECK(gh.check() == 1, "glassheap_check() after freeing half");
    for (size_t i = 0; i < n; i += 2) {
        v[i] = malloc(sz[i]);
        GH_T_CHECK(v[i] != NULL, "re-malloc(%zu) failed", sz[i]);
        gh_t_fill_fast(v[i], sz[i], i);
    }
    for (size_t i = 0; i < n; i++) {
        GH_T_CHECK(gh_t_verify_fast(v[i], sz[i], i) == (size_t)-1, "block %zu changed", i);
        free(v[i]);
    }
    GH_T_CHECK(gh.check() == 1, "glassheap_check() after freeing all");
    GH_T_CHECK(wall[0] == 0x57414c4c57414c4cull, "the wall page was touched");
    munmap(wall, page);
    printf("ok\n");
    return 0;
}

static size_t vm_size(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t kb = 0;
    GH_T_CHECK(f != NULL, "/proc/self/status");
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %zu kB", &kb) == 1)
            break;
    fclose(f);
    return kb * KiB;
}

static int as_exhausted(void)
{
    enum { CAP = 1 << 20 };
    void **v = mmap(NULL, CAP * sizeof *v, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint32_t *sz = mmap(NULL, CAP * sizeof *sz, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    GH_T_CHECK(v != MAP_FAILED && sz != MAP_FAILED, "test arrays");
    printf("setting RLIMIT_AS\n");
    fflush(stdout); /* stdout's buffer exists before the limit */

    struct rlimit old, lim;
    GH_T_CHECK(getrlimit(RLIMIT_AS, &old) == 0, "getrlimit");
    size_t use = vm_size();
    lim = old;
    lim.rlim_cur = use + 24 * MiB;
    GH_T_CHECK(setrlimit(RLIMIT_AS, &lim) == 0, "setrlimit: %s", strerror(errno));

    uint64_t seed = 0xA55E00000001ull;
    size_t n = 0, total = 0;
    int failed_errno = 0;
    /* Mixed sizes until the first failure. */
    for (;;) {
        GH_T_CHECK(n < CAP, "no failure after %zu allocations", n);
        uint64_t r = gh_t_rand(&seed);
        size_t s = r % 10 == 0 ? 150 * KiB + r % (450 * KiB) : 16 + r % 4080;
        errno = 0;
        void *p = malloc(s);
        if (!p) {
            failed_errno = errno;
            printf("malloc(%zu) failed after %zu blocks, %zu KiB, errno %d\n", s, n,
                   total / KiB, errno);
            break;
        }
        v[n] = p;
        sz[n] = (uint32_t)s;
        gh_t_fill_fast(p, s, n);
        total += s;
        n++;
    }
    GH_T_CHECK(failed_errno == ENOMEM, "errno %d after a failed malloc, not ENOMEM",
               failed_errno);
    GH_T_CHECK(total >= 4 * MiB, "only %zu KiB allocated under a 24 MiB margin", total / KiB);
    /* Then small blocks until those fail too. */
    for (;;) {
        GH_T_CHECK(n < CAP, "small blocks never fail");
        errno = 0;
        void *p = malloc(64);
        if (!p) {
            GH_T_CHECK(errno == ENOMEM, "errno %d after malloc(64) failed", errno);
            break;
        }
        v[n] = p;
        sz[n] = 64;
        gh_t_fill_fast(p, 64, n);
        n++;
    }
    printf("%zu blocks live when even malloc(64) fails\n", n);
    /* Every entry point fails cleanly. */
    errno = 0;
    GH_T_CHECK(calloc(1, 8 * MiB) == NULL && errno == ENOMEM, "calloc(8 MiB): errno %d",
               errno);
    errno = 0;
    GH_T_CHECK(malloc(8 * MiB) == NULL && errno == ENOMEM, "malloc(8 MiB): errno %d", errno);
    errno = 0;
    GH_T_CHECK(aligned_alloc(4096, 8 * MiB) == NULL && errno == ENOMEM,
               "aligned_alloc(8 MiB): errno %d", errno);
    errno = 0;
    GH_T_CHECK(realloc(v[0], 8 * MiB) == NULL && errno == ENOMEM,
               "realloc(v[0], 8 MiB): errno %d", errno);
    errno = 0;
    GH_T_CHECK(realloc(v[n - 1], 8 * MiB) == NULL && errno == ENOMEM,
               "realloc(v[n-1], 8 MiB): errno %d", errno);
    for (size_t i = 0; i < n; i++) {
        size_t bad = gh_t_verify_fast(v[i], sz[i], i);
        GH_T_CHECK(bad == (size_t)-1, "block %zu (%p, %u bytes) byte %zu changed", i, v[i],
                   sz[i], bad);
    }
    GH_T_CHECK(gh.check() == 1, "glassheap_check() at exhaustion");

    /* Free every other block: allocation works again. */
    for (size_t i = 0; i < n; i += 2) {
        free(v[i]);
        v[i] = NULL;
    }
    GH_T_CHECK(gh.check() == 1, "glassheap_check() after freeing half");
    void *a = malloc(64), *b = malloc(1000), *c = malloc(200 * KiB);
    GH_T_CHECK(a && b && c, "malloc after freeing half: %p %p %p", a, b, c);
    free(a);
    free(b);
    free(c);
    for (size_t i = 1; i < n; i += 2) {
        GH_T_CHECK(gh_t_verify_fast(v[i], sz[i], i) == (size_t)-1, "block %zu changed", i);
        free(v[i]);
    }
    GH_T_CHECK(gh.check() == 1, "glassheap_check() after freeing all");
    a = malloc(4 * MiB);
    GH_T_CHECK(a != NULL, "malloc(4 MiB) after freeing everything");
    memset(a, 1, 4 * MiB);
    free(a);
    /* Lift the limit: big allocations work again. */
    GH_T_CHECK(setrlimit(RLIMIT_AS, &old) == 0, "restore RLIMIT_AS");
    a = malloc(64 * MiB);
    GH_T_CHECK(a != NULL, "malloc(64 MiB) after lifting the limit");
    free(a);
    GH_T_CHECK(gh.check() == 1, "glassheap_check() at the end");
    printf("ok\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gh_fault brk_blocked|as_exhausted\n");
        return 2;
    }
    gh = gh_t_api();
    page = (size_t)sysconf(_SC_PAGESIZE);
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("policy %s\n", gh.policy());
    if (strcmp(argv[1], "brk_blocked") == 0)
        return brk_blocked();
    if (strcmp(argv[1], "as_exhausted") == 0)
        return as_exhausted();
    fprintf(stderr, "gh_fault: unknown case '%s'\n", argv[1]);
    return 2;
}
