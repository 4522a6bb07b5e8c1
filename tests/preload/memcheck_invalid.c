/* memcheck_invalid.c - two invalid reads memcheck must report, for the memcheck case.
 *
 * Reads one byte past the end of a 40-byte block (the block's usable size is
 * larger: memcheck must still know the requested size), then one byte of a
 * 64-byte block after freeing it (before any other allocation could reuse
 * it).  Prints which allocator serves it, and exits 0.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    const char *(*ver)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "glassheap_version");
    printf("allocator: %s %s\n", ver ? "glassheap" : "not-glassheap", ver ? ver() : "-");
    fflush(stdout);

    char *p = malloc(40);
    memset(p, 'a', 40);
    volatile char past_end = p[40];         /* Invalid read: 0 bytes after a block of size 40 */
    (void)past_end;

    char *q = malloc(64);
    memset(q, 'b', 64);
    free(q);
    volatile char after_free = q[10];       /* Invalid read: 10 bytes inside a freed block of size 64 */
    (void)after_free;

    free(p);
    printf("done\n");
    return 0;
}
