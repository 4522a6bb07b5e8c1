/* gh_corrupt.c - one heap corruption or misuse per run, for the death tests
 * of glassheap's messages (docs/errors.md) and of the findings of issue 11.
 *
 *   gh_corrupt CASE
 *
 * The same protocol as gh_misuse: print the pointer the fatal line must
 * name ("%p"), flush, commit the corruption, then make the one call that
 * must find it.  run_death.sh checks the exact line and SIGABRT; surviving
 * prints "survived" (a failure), and a malloc that returns memory over a
 * live block prints "overlap" too.
 *
 * stdout is unbuffered, so printing the pointer allocates nothing: the heap
 * between the corruption and the call is exactly as the case built it.
 * Overflows go through malloc_usable_size(p): p[usable] is the first byte
 * of the next block's header under every policy.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gh_api_test.h"

static void *volatile sink;



static int overlaps(const void *a, size_t na, const void *b, size_t nb)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    return x < y + nb && y < x + na;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gh_corrupt CASE\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    struct gh_t_api gh = gh_t_api();
    const char *c = argv[1];
    if (gh.check() != 1)
        GH_T_FAIL("heap check failed before the corruption");

    if (strcmp(c, "usable_size_freed") == 0) {
        /* A freed block is not "a double free" when nothing frees it. */
        unsigned char *p = gh_t_fenced(64);
        free(p);
        gh_t_announce(p);
        sink = (void *)(uintptr_t)malloc_usable_size(p);
    } else if (strcmp(c, "free_space") == 0) {
        /* The payload position of the free space after a fresh block: a
         * valid free header, but no call ever had this pointer. */
        unsigned char *p = malloc(5000);
        if (!p)
            GH_T_FAIL("malloc(5000) failed");
        unsigned char *q = p + malloc_usable_size(p) + 16;
        gh_t_announce(q);
        free(q);
    } else if (strcmp(c, "header_requested") == 0) {
        /* The requested size (low bits of the header's second word): the
         * check covers it, so the counters cannot be made to underflow. */
        unsigned char *p = gh_t_fenced(64);
        gh_t_announce(p);
        p[-8] ^= 0x10;
        free(p);
    } else if (strcmp(c, "header_flags") == 0) {
        /* PREV_FREE set on a live block: without the check it would send
         * free() through a footer that is the previous block's data. */
        unsigned char *p = gh_t_fenced(64);
        gh_t_announce(p);
        p[-16] ^= 0x02;
        free(p);
    } else if (strcmp(c, "neighbour_overflow") == 0) {
        /* One byte past the usable size flips the next header's FREE flag. */
        unsigned char *p = gh_t_fenced(64);
        size_t n = malloc_usable_size(p);
        gh_t_announce(p);
        p[n] ^= 0x01;
        free(p);
    } else if (strcmp(c, "overflow_then_malloc") == 0) {
        /* Issue 11: a one-byte overflow sets FREE on a live neighbour (under
         * buddy its size byte 0x40 becomes 0x41); then free and malloc(96).
         * Must stop at the free: no write through the neighbour's data, no
         * block handed out over it. */
        unsigned char *p = malloc(40), *q = malloc(40);
        sink = malloc(40);
        if (!p || !q)
            GH_T_FAIL("malloc(40) failed");
        memset(q, 0x5A, 40);
        size_t n = malloc_usable_size(p);
        gh_t_announce(p);
        p[n] |= 0x01;
        free(p);
        unsigned char *x = malloc(96);
        if (x && overlaps(x, 96, q, 40))
            printf("overlap\n");
    } else if (strcmp(c, "free_list_overwrite") == 0 || strcmp(c, "free_list_overwrite_coalesce") == 0) {
        /* Issue 11: 0x41 bytes over a free block's header and index links
         * (a tree or bin node in the fit policies, list links in buddy),
         * then a malloc of its size: a message, not a load through
         * 0x4141...  _coalesce: where that malloc does not take the block
         * (worst fit, no cache: the top is larger), the free of its lower
         * neighbour coalesces, and must check the header before it follows
         * a link. */
        bool coalesce = strcmp(c, "free_list_overwrite_coalesce") == 0;
        unsigned char *p = malloc(96), *q = malloc(96);
        sink = malloc(96);
        if (!p || !q)
            GH_T_FAIL("malloc(96) failed");
        size_t n = malloc_usable_size(p);
        free(q);
        gh_t_announce(coalesce ? p : q);
        memset(p + n, 0x41, 16 + 24);
        sink = malloc(96);
        if (coalesce)
            free(p);
    } else if (strcmp(c, "fake_footer") == 0) {
        /* Issue 11 (fit policies): a write after free puts a fake size in the
         * freed block's footer; freeing the block after it must bounds-check
         * the footer before following it. */
        sink = malloc(64);
        unsigned char *p = malloc(200), *q = malloc(200);
        sink = malloc(64);
        if (!p || !q)
            GH_T_FAIL("malloc(200) failed");
        size_t n = malloc_usable_size(p);
        if (q != p + n + 16)
            GH_T_FAIL("q %p does not follow p %p (usable %zu)", (void *)q, (void *)p, n);
        free(p);
        gh_t_announce(q);
        uint64_t fake = (uint64_t)1 << 40;
        memcpy(p + n - 8, &fake, sizeof fake);
        free(q);
    } else {
        fprintf(stderr, "gh_corrupt: unknown case '%s'\n", c);
        return 2;
    }
    printf("survived\n");
    fflush(stdout);
    return 0;
}
