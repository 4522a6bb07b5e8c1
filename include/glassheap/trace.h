/* glassheap/trace.h - the binary allocation trace (GLASSHEAP_TRACE=FILE,
 * `glassheap record`), read by `glassheap replay` and `trace-stats`.
 *
 * A file is one struct gh_trace_header, then struct gh_trace_record
 * entries (record_size bytes each) until the end of the file, in the order
 * the allocator served the calls (its lock serialises them, so the order is
 * one the program really had).  Native x86_64 little-endian integers.
 *
 * Identity: `result` is the address malloc returned (0 for a failed call),
 * `ptr` the address a call was given (free, realloc).  An address names a
 * block from the call that returned it until the call that frees it (or
 * the realloc that moves it); a reader turns addresses into ids so that a
 * reused address is a new block.
 *
 * A forked child writes its own file (the pattern's %p is its pid; a
 * pattern without %p gets ".<pid>" appended in the child), marked with
 * forked_from, and starting with one MALLOC record (time 0) per block it
 * inherited, so that it replays alone.  Calls that change the heap's
 * settings (mallopt, malloc_trim) are not recorded.
 *
 * Every writer (the library's alloc/trace.c, the tools' tracefile.c)
 * starts its header with gh_trace_header_init below.
 */
#ifndef GLASSHEAP_TRACE_H
#define GLASSHEAP_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define GH_TRACE_MAGIC   0x3143415254484847ULL /* "GHHTRAC1" */
#define GH_TRACE_VERSION 1u

enum gh_trace_op {
    GH_TRACE_MALLOC = 1,   /* size -> result */
    GH_TRACE_CALLOC = 2,   /* size (nmemb*size) -> result */
    GH_TRACE_REALLOC = 3,  /* ptr, size -> result (realloc(p, 0) is recorded as a FREE,
                              realloc(NULL, n) as a MALLOC) */
    GH_TRACE_FREE = 4,     /* ptr */
    GH_TRACE_ALIGNED = 5,  /* align, size -> result (memalign family) */
};

struct gh_trace_header {
    uint64_t magic;        /* GH_TRACE_MAGIC */
    uint32_t version;      /* GH_TRACE_VERSION */
    uint32_t header_size;  /* sizeof(struct gh_trace_header) */
    uint32_t record_size;  /* sizeof(struct gh_trace_record) */
    int32_t pid;
    uint64_t start_ns;     /* CLOCK_REALTIME when recording began */
    char policy[16];       /* the policy the program ran under */
    uint64_t mmap_threshold;
    char cmdline[256];     /* argv joined by spaces, maybe cut */
    int32_t forked_from;   /* a forked child's trace: the parent's pid (its first
                              records are the blocks it inherited); else 0 */
    uint32_t reserved32;
    uint64_t reserved[3];
};

struct gh_trace_record {
    uint64_t time_ns;      /* CLOCK_MONOTONIC, since the header's start */
    uint64_t ptr;          /* the block given (free, realloc), else 0 */
    uint64_t result;       /* the block returned, 0 if none or failed */
    uint64_t size;         /* bytes asked for */
    uint32_t align;        /* GH_TRACE_ALIGNED: the alignment; else 0 */
    uint32_t tid;          /* the calling thread (gettid) */
    uint8_t op;            /* enum gh_trace_op */
    uint8_t pad[7];
};

/* A header as every writer starts it: all zero but the format's identity
 * (magic, version, header_size, record_size) and the fields given; policy
 * (NULL: none) cut to fit, NUL-terminated.  cmdline is left empty for the
 * writer to fill.  Allocates nothing (the library calls it). */
static inline void gh_trace_header_init(struct gh_trace_header *h, int32_t pid, uint64_t start_ns,
                                        const char *policy, uint64_t mmap_threshold, int32_t forked_from)
{
    memset(h, 0, sizeof *h);
    h->magic = GH_TRACE_MAGIC;
    h->version = GH_TRACE_VERSION;
    h->header_size = sizeof *h;
    h->record_size = sizeof(struct gh_trace_record);
    h->pid = pid;
    h->start_ns = start_ns;
    for (size_t i = 0; policy && policy[i] && i < sizeof h->policy - 1; i++)
        h->policy[i] = policy[i];
    h->mmap_threshold = mmap_threshold;
    h->forked_from = forked_from;
}

#endif
