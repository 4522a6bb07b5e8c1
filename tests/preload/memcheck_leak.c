/* memcheck_leak.c - a program with a known leak, for the memcheck cases.
 *
 * Prints which allocator serves it (glassheap when the symbol
 * glassheap_version can be found), churns some blocks, and loses
 * LEAK_BYTES bytes in LEAK_BLOCKS blocks (100 + 200 + 477 bytes) whose last
 * pointers are overwritten.  Built twice: memcheck_leak, and
 * memcheck_noleak (-DGH_NO_LEAK) which frees those blocks instead, so
 * memcheck must find nothing lost in it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEAK_BLOCKS 3
static const size_t leak_sizes[LEAK_BLOCKS] = {100, 200, 477};   /* 777 bytes */

static void *volatile keep[LEAK_BLOCKS];

static __attribute__((noinline)) void make_blocks(void)
{
    for (int i = 0; i < LEAK_BLOCKS; i++) {
        keep[i] = malloc(leak_sizes[i]);
        memset(keep[i], 'x', leak_sizes[i]);
    }
}

static __attribute__((noinline)) void drop_blocks(void)
{
    for (int i = 0; i < LEAK_BLOCKS; i++) {
#ifdef GH_NO_LEAK
        free(keep[i]);
#endif
        keep[i] = NULL;                 /* the last pointer is gone */
    }
}

static __attribute__((noinline)) void churn(void)
{
    void *ring[32] = {0};
    for (int i = 0; i < 2000; i++) {
        free(ring[i % 32]);
        ring[i % 32] = malloc((size_t)(16 + (i * 37) % 3000));
        if (i % 7 == 0)
            ring[i % 32] = realloc(ring[i % 32], (size_t)(64 + i % 500));
    }
    for (int i = 0; i < 32; i++)
        free(ring[i]);
    void *big = calloc(1, 300 * 1024);  /* a large (mmap) block too */
    free(big);
}

static __attribute__((noinline)) void scrub_stack(void)
{
    volatile char pad[4096];
    memset((char *)pad, 0, sizeof pad);
}

int main(void)
{
    const char *(*ver)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "glassheap_version");
    printf("allocator: %s %s\n", ver ? "glassheap" : "not-glassheap", ver ? ver() : "-");
    make_blocks();
    churn();
    drop_blocks();
    scrub_stack();
    printf("done\n");
    return 0;
}
