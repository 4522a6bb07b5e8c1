/* summary.h - the library's exit summary (GLASSHEAP_STATS=json), read
 * back by the tools through jansson (summary.c).  The summary is one JSON
 * object: "policy", the mmap threshold's counts, and the objects "calls",
 * "heap", "large", "os" of unsigned counts (alloc/stats.c writes it).  Its content is untrusted:
 * a field of the wrong type counts as missing.
 */
#ifndef GH_TOOLS_SUMMARY_H
#define GH_TOOLS_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GH_SUMMARY_MAX (64u * 1024u) /* read at most this much (a summary is one short line) */

struct gh_summary {
    char policy[32];         /* "" when absent or not a string */
    uint64_t peak_heap_bytes, peak_requested;  /* heap */
    uint64_t brk_calls, mmap_calls;            /* os */
    uint64_t peak_large_bytes;                 /* large.peak_bytes; 0 when absent */
    bool have_free;                            /* both of these were there: */
    uint64_t free_bytes, largest_free;         /* heap, at exit */
    bool have_calls;                           /* both of these were there: */
    uint64_t malloc_calls, free_calls;         /* calls.malloc, calls.free */
    bool have_threshold;                       /* all three were there (a library
                                                * older than the dynamic threshold
                                                * wrote only mmap_threshold): */
    uint64_t mmap_threshold;                   /* at exit */
    bool threshold_dynamic;                    /* mmap_threshold_dynamic != 0 */
    uint64_t threshold_rises;                  /* mmap_threshold_rises */
    bool have_cache;                           /* both of these were there: */
    uint64_t cached_bytes, reused;             /* large.cached_bytes, large.reused */
};

/* Parse the len bytes at text.  False when they are not one JSON object
 * or lack heap.peak_heap_bytes, heap.peak_requested, os.brk_calls or
 * os.mmap_calls (the fields every tool needs); *out is zeroed first. */
bool gh_summary_parse(const char *text, size_t len, struct gh_summary *out);

/* gh_summary_parse() of the file at path (at most GH_SUMMARY_MAX bytes);
 * false also when it cannot be read. */
bool gh_summary_read(const char *path, struct gh_summary *out);

#endif
