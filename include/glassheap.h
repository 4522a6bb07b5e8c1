/* glassheap.h - the public extensions of glassheap.
 *
 * The C allocator API itself (malloc, free, ...) is the standard one from
 * <stdlib.h> and <malloc.h>; glassheap exports those names.  The functions
 * here let a program that knows it runs on glassheap ask about it.  To test
 * for glassheap at run time without linking to it, look up
 * "glassheap_version" with dlsym(RTLD_DEFAULT, ...).
 */
#ifndef GLASSHEAP_H
#define GLASSHEAP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GLASSHEAP_VERSION "0.1.0"

/* The library's version string, e.g. "0.1.0". */
const char *glassheap_version(void);

/* The placement policy in force: "first", "next", "best", "worst", "buddy". */
const char *glassheap_policy(void);

/* Run the heap checker over the whole process heap.  Returns 1 when every
 * invariant holds; otherwise 0 and one line on stderr naming the broken
 * invariant and the address. */
int glassheap_check(void);

/* A consistent snapshot of the main counters. */
struct glassheap_counters {
    uint64_t malloc_calls, calloc_calls, realloc_calls, free_calls;
    uint64_t aligned_calls, failed_calls;
    uint64_t live_requested, live_block_bytes, live_blocks;
    uint64_t free_bytes, free_blocks, largest_free;
    uint64_t heap_bytes, large_bytes, large_blocks;
    uint64_t peak_requested, peak_heap_bytes;
};

/* Fill *out (size = sizeof *out, for forward compatibility).  0, or -1 when
 * size is smaller than this version's struct. */
int glassheap_counters(struct glassheap_counters *out, size_t size);

#ifdef __cplusplus
}
#endif

#endif
