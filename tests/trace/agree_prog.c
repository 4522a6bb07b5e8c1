/* agree_prog.c - a program whose allocations take every way through the
 * front end, for trace_agree (agree_test.py): small blocks that grow and
 * shrink in place, reallocs that move, calloc, aligned requests (small,
 * a page, and one larger than a buddy heap can hold with its slack), large
 * blocks that are remapped bigger and smaller and that shrink back into the
 * heap, a large block freed and asked for again (the dynamic threshold
 * sends it to the heap the second time), a heap that grows past the trim threshold and gives its top back.
 * Deterministic: the same calls in the same order on every run.
 *
 * Where a heap block aligned beyond a page lands depends on where the heap
 * lies in the address space (the 2 MiB boundaries), which replay's arena
 * does not share; so the 2 MiB-aligned request comes last, when the heap is
 * far below its peak, and the peaks compared stay independent of it.  Prints
 * one checksum line (so that nothing is optimised away); exit 0.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KIB 1024u
#define MIB (1024u * 1024u)
#define NSMALL 400

static uint64_t sum;

static void touch(void *p, size_t n)
{
    if (!p) {
        fprintf(stderr, "agree_prog: out of memory\n");
        exit(1);
    }
    memset(p, (int)(n & 0x7f), n < 64 ? n : 64);
    sum += (uintptr_t)n;
}

int main(void)
{
    static void *small[NSMALL];
    uint32_t x = 12345;
    /* Small blocks of mixed sizes, every other one freed, then regrown. */
    for (int i = 0; i < NSMALL; i++) {
        x = x * 1103515245u + 12345u;
        size_t n = 16 + (x >> 16) % 2000;
        touch(small[i] = malloc(n), n);
    }
    for (int i = 0; i < NSMALL; i += 2)
        free(small[i]);
    for (int i = 1; i < NSMALL; i += 2) {
        size_t n = (size_t)(i % 7 == 0 ? 24 : 3000 + i); /* shrink in place, or grow (may move) */
        touch(small[i] = realloc(small[i], n), n);
    }
    /* calloc, small and large. */
    void *c1 = calloc(100, 33), *c2 = calloc(3, 100 * KIB);
    touch(c1, 3300);
    touch(c2, 300 * KIB);
    /* Aligned requests: 64 B, a page, and a large one. */
    void *a1 = NULL, *a2 = NULL, *a3 = NULL;
    if (posix_memalign(&a1, 64, 1000) || posix_memalign(&a2, 4096, 5000))
        return 1;
    touch(a1, 1000);
    touch(a2, 5000);
    void *a4 = aligned_alloc(256, 512 * KIB);
    touch(a4, 512 * KIB);
    /* Large blocks: remapped bigger, smaller, and back into the heap. */
    void *l1 = malloc(200 * KIB), *l2 = malloc(1 * MIB);
    touch(l1, 200 * KIB);
    touch(l2, 1 * MIB);
    touch(l1 = realloc(l1, 3 * MIB), 3 * MIB);
    touch(l2 = realloc(l2, 600 * KIB), 600 * KIB);
    touch(l2 = realloc(l2, 20 * KIB), 20 * KIB);
    /* A large block freed raises the dynamic mmap threshold (alloc/front.h):
     * the same request again lands in the heap. */
    void *cy = malloc(256 * KIB);
    touch(cy, 256 * KIB);
    free(cy);
    touch(cy = malloc(256 * KIB), 256 * KIB);
    free(cy);
    /* A heap block that grows into a large one. */
    void *g = malloc(100 * KIB);
    touch(g, 100 * KIB);
    touch(g = realloc(g, 400 * KIB), 400 * KIB);
    /* Grow the heap well past the trim threshold, then give it back. */
    void *big[64];
    for (int i = 0; i < 64; i++)
        touch(big[i] = malloc(100 * KIB - 64), 100 * KIB - 64);
    for (int i = 63; i >= 0; i--)
        free(big[i]);
    for (int i = 0; i < 32; i++)
        touch(big[i] = malloc(50 * KIB), 50 * KIB);
    for (int i = 0; i < 32; i++)
        free(big[i]);
    free(a1), free(a2), free(a4), free(c1), free(c2);
    free(l1), free(l2), free(g);
    for (int i = 1; i < NSMALL; i += 2)
        free(small[i]);
    /* 2 MiB-aligned, 70 KiB: more than a buddy heap's largest block holds
     * with the slack, so buddy maps it; a fit heap places it (see above). */
    if (posix_memalign(&a3, 2 * MIB, 70 * KIB))
        return 1;
    touch(a3, 70 * KIB);
    free(a3);
    printf("agree_prog %llu\n", (unsigned long long)sum);
    return 0;
}
