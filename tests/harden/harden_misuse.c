/* harden_misuse.c - the misuse cases of hardened_malloc's test list, one per
 * run, for the hardened-mode death tests (run_misuse.sh).
 *
 *   harden_misuse CASE
 *
 * Prints the pointer it is about to misuse ("%p") on stdout and flushes,
 * then commits the misuse.  What must follow depends on the case and the
 * mode (CMakeLists.txt lists it): an abort with one line, a SIGSEGV, or, for
 * the cases that are not a crash by nature, a last stdout line saying what
 * the program saw ("no stale data", "NULL ENOMEM").  Surviving a misuse that
 * should have stopped it prints "survived" and exits 0.
 *
 * Heap blocks are fenced by live neighbours, so a freed block never
 * coalesces: its header stays a block header (a true double free).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "gh_api_test.h"

void free_sized(void *p, size_t size);
void free_aligned_sized(void *p, size_t align, size_t size);

#define SMALL 64
#define LARGE (256 * 1024)
#define MANY 4096 /* frees enough to push a block through any quarantine */

static void *volatile sink;
static volatile unsigned char vsink;
/* Sizes the compiler cannot see (it would warn about malloc(0) reads). */
static volatile size_t zero = 0, huge1 = SIZE_MAX - 4096, huge2 = PTRDIFF_MAX;



static unsigned char *large(size_t n)
{
    unsigned char *p = malloc(n);
    if (!p)
        GH_T_FAIL("malloc(%zu) failed", n);
    memset(p, 0x3C, n);
    return p;
}

/* MANY blocks of 64 bytes, allocated before the misused block so that
 * freeing them later only pushes the quarantine along. */
static void **batch(void)
{
    static void *b[MANY];
    for (int i = 0; i < MANY; i++)
        b[i] = malloc(SMALL);
    return b;
}

static void free_batch(void **b)
{
    for (int i = 0; i < MANY; i++)
        free(b[i]);
}

/* Leave a pointer into the middle of a live block in this frame's stack
 * slots; uninit_read() below reads them back as "uninitialised" garbage. */
__attribute__((noinline)) static void leave_garbage(void *p)
{
    volatile uintptr_t slots[32];
    for (int i = 0; i < 32; i++)
        slots[i] = (uintptr_t)p;
    __asm__ volatile("" ::"r"(slots) : "memory");
}

__attribute__((noinline)) static void *uninit_read(void)
{
    volatile uintptr_t slots[32]; /* never written: whatever the stack held */
    __asm__ volatile("" ::"r"(slots) : "memory");
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
    return (void *)slots[16];
#pragma GCC diagnostic pop
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: harden_misuse CASE\n");
        return 2;
    }
    struct gh_t_api gh = gh_t_api();
    (void)gh;
    const char *c = argv[1];
    gh_t_announce(NULL); /* stdout's buffer is allocated before any misuse */

    if (!strcmp(c, "double_free_small")) {
        unsigned char *p = gh_t_fenced(SMALL);
        free(p);
        gh_t_announce(p);
        free(p);
    } else if (!strcmp(c, "double_free_large")) {
        unsigned char *p = large(LARGE);
        free(p);
        gh_t_announce(p);
        free(p);
    } else if (!strcmp(c, "double_free_delayed")) {
        /* Other frees between the two: p is still in the quarantine. */
        void **b = batch();
        unsigned char *p = gh_t_fenced(SMALL);
        free(p);
        for (int i = 0; i < 8; i++)
            free(b[i]);
        gh_t_announce(p);
        free(p);
    } else if (!strcmp(c, "double_free_delayed_evicted")) {
        /* Enough frees between the two to push p out of the quarantine. */
        void **b = batch();
        unsigned char *p = gh_t_fenced(SMALL);
        free(p);
        free_batch(b);
        gh_t_announce(p);
        free(p);
    } else if (!strcmp(c, "unaligned_free_small")) {
        unsigned char *p = gh_t_fenced(SMALL);
        gh_t_announce(p + 1);
        free(p + 1);
    } else if (!strcmp(c, "unaligned_free_large")) {
        unsigned char *p = large(LARGE);
        gh_t_announce(p + 1);
        free(p + 1);
    } else if (!strcmp(c, "invalid_free_stack")) {
        _Alignas(16) unsigned char buf[256];
        memset(buf, 0, sizeof buf);
        sink = buf;
        gh_t_announce(buf + 64);
        free(buf + 64);
    } else if (!strcmp(c, "invalid_free_foreign")) {
        /* A block of someone else's memory (a mapping glassheap never made). */
        unsigned char *m = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            GH_T_FAIL("mmap failed");
        memset(m, 0, 65536);
        gh_t_announce(m + 4096);
        free(m + 4096);
    } else if (!strcmp(c, "uninit_free")) {
        unsigned char *p = gh_t_fenced(256);
        leave_garbage(p + 96);
        void *g = uninit_read();
        if (g != p + 96) {
            printf("setup: the stack slot holds %p, not the planted %p\n", g, (void *)(p + 96));
            return 2;
        }
        gh_t_announce(g);
        free(g);
    } else if (!strcmp(c, "read_after_free_small")) {
        unsigned char *p = gh_t_fenced(SMALL);
        free(p);
        gh_t_announce(p);
        int stale = 0;
        for (int i = 0; i < SMALL; i++)
            stale += ((volatile unsigned char *)p)[i] == 0x3C;
        printf(stale ? "stale data: %d of the freed bytes\n" : "no stale data\n", stale);
        return 0;
    } else if (!strcmp(c, "read_after_free_large")) {
        unsigned char *p = large(LARGE);
        free(p);
        gh_t_announce(p);
        vsink = ((volatile unsigned char *)p)[0];
    } else if (!strcmp(c, "write_after_free_small")) {
        void **b = batch();
        unsigned char *p = gh_t_fenced(SMALL);
        free(p);
        gh_t_announce(p);
        p[32] = 0x41;
        free_batch(b); /* the quarantine hands p back: checked then */
    } else if (!strcmp(c, "write_after_free_large")) {
        unsigned char *p = large(LARGE);
        free(p);
        gh_t_announce(p);
        ((volatile unsigned char *)p)[0] = 0x41;
    } else if (!strcmp(c, "overflow_small_1")) {
        unsigned char *p = gh_t_fenced(SMALL);
        gh_t_announce(p);
        p[SMALL] ^= 0x41; /* surely a change (a chosen byte matches a canary byte 1 time in 128) */
        free(p);
    } else if (!strcmp(c, "overflow_small_8")) {
        unsigned char *p = gh_t_fenced(SMALL);
        gh_t_announce(p);
        for (int i = 0; i < 8; i++)
            p[SMALL + i] ^= 0x41;
        free(p);
    } else if (!strcmp(c, "overflow_large_1")) {
        /* 256 KiB + 1: right-aligned at its guard page, 15 bytes of canary. */
        unsigned char *p = large(LARGE + 1);
        gh_t_announce(p);
        ((volatile unsigned char *)p)[LARGE + 1] ^= 0x41;
        free(p);
    } else if (!strcmp(c, "overflow_large_8")) {
        /* 256 KiB: a multiple of 16, so the payload ends at the guard page. */
        unsigned char *p = large(LARGE);
        gh_t_announce(p);
        for (int i = 0; i < 8; i++)
            ((volatile unsigned char *)p)[LARGE + i] ^= 0x41;
        free(p);
    } else if (!strcmp(c, "zero_read")) {
        unsigned char *p = malloc(zero);
        gh_t_announce(p);
        vsink = ((volatile unsigned char *)p)[0];
        free(p);
    } else if (!strcmp(c, "zero_write")) {
        unsigned char *p = malloc(zero);
        gh_t_announce(p);
        ((volatile unsigned char *)p)[0] = 0x41;
        free(p);
    } else if (!strcmp(c, "free_sized_mismatch")) {
        unsigned char *p = gh_t_fenced(SMALL);
        gh_t_announce(p);
        free_sized(p, SMALL / 2);
    } else if (!strcmp(c, "free_aligned_sized_mismatch")) {
        unsigned char *p = aligned_alloc(64, 128);
        if (!p)
            GH_T_FAIL("aligned_alloc failed");
        free_aligned_sized(p, 64, 128); /* the right size: no complaint */
        p = aligned_alloc(64, 128);
        gh_t_announce(p);
        free_aligned_sized(p, 64, 120); /* 128 rounded to 64 too, but not 128 */
    } else if (!strcmp(c, "realloc_overflow")) {
        unsigned char *p = gh_t_fenced(SMALL);
        gh_t_announce(p);
        p[SMALL] ^= 0x41;
        sink = realloc(p, 4 * SMALL);
    } else if (!strcmp(c, "realloc_freed")) {
        unsigned char *p = gh_t_fenced(SMALL);
        free(p);
        gh_t_announce(p);
        sink = realloc(p, 4 * SMALL);
    } else if (!strcmp(c, "usable_size_freed")) {
        unsigned char *p = gh_t_fenced(SMALL);
        free(p);
        gh_t_announce(p);
        sink = (void *)(uintptr_t)malloc_usable_size(p);
    } else if (!strcmp(c, "double_free_zero")) {
        unsigned char *p = malloc(zero);
        free(p);
        gh_t_announce(p);
        free(p);
    } else if (!strcmp(c, "realloc_shrink_stale")) {
        /* Shrunk (in place or moved), then freed: none of the 200 bytes
         * the program wrote may still be there. */
        unsigned char *p = gh_t_fenced(200);
        unsigned char *q = realloc(p, 40);
        if (!q)
            GH_T_FAIL("realloc failed");
        free(q);
        gh_t_announce(p);
        int stale = 0;
        for (int i = 0; i < 200; i++)
            stale += ((volatile unsigned char *)p)[i] == 0x3C;
        printf(stale ? "stale data: %d of the freed bytes\n" : "no stale data\n", stale);
        return 0;
    } else if (!strcmp(c, "write_after_free_trim")) {
        unsigned char *p = gh_t_fenced(SMALL);
        free(p);
        gh_t_announce(p);
        p[8] = 0x41;
        malloc_trim(0); /* empties the quarantine: checked then */
    } else if (!strcmp(c, "write_after_free_exit")) {
        unsigned char *p = gh_t_fenced(SMALL);
        free(p);
        gh_t_announce(p);
        p[8] = 0x41;
        printf("exiting\n");
        fflush(stdout);
        return 0; /* checked at exit, before the summary */
    } else if (!strcmp(c, "impossibly_large")) {
        gh_t_announce(NULL);
        errno = 0;
        void *a = malloc(huge1);
        int ea = errno;
        errno = 0;
        void *b = malloc(huge2);
        int eb = errno;
        printf(a == NULL && b == NULL && ea == ENOMEM && eb == ENOMEM ? "NULL ENOMEM\n"
                                                                        : "got %p/%p errno %d/%d\n",
               a, b, ea, eb);
        return 0;
    } else {
        fprintf(stderr, "harden_misuse: unknown case '%s'\n", c);
        return 2;
    }
    printf("survived\n");
    fflush(stdout);
    return 0;
}
