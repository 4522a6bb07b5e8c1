/* trace.h - recording every allocator call (GLASSHEAP_TRACE=FILE).
 *
 * Records (include/glassheap/trace.h) are buffered and written with
 * write(2) when the buffer fills, at fork (the parent's part) and at exit.
 * gh_trace_add() is called with the allocator lock held, inside the same
 * critical section as the operation it records.  Nothing here allocates.
 */
#ifndef GH_TRACE_H
#define GH_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "glassheap/trace.h"

#define GH_TRACE_BUFFER 2048 /* records (80 KiB) */

struct gh_trace {
    int fd;                    /* -1: not recording */
    uint32_t n;                /* records in buf */
    uint64_t t0;               /* CLOCK_MONOTONIC at the start */
    uint64_t records;          /* written so far, for the summary */
    long pid;                  /* the process the file belongs to */
    char pattern[GH_PATH_MAX];
    struct gh_trace_record buf[GH_TRACE_BUFFER];
};

/* Start recording into pattern (%p = pid), the file opened with
 * gh_os_open_private().  0, or its code (an errno or a gh_os_refusal):
 * then one line on stderr has said why and the program runs on unrecorded. */
int gh_trace_open(struct gh_trace *t, const char *pattern, const char *policy, uint64_t mmap_threshold);

/* Append one record (lock held). */
void gh_trace_add(struct gh_trace *t, enum gh_trace_op op, const void *ptr, const void *result, uint64_t size,
                  uint32_t align);

/* Write out what is buffered. */
void gh_trace_flush(struct gh_trace *t);

/* In a forked child: forget the parent's buffered records and file, and
 * start this process's own file (the same rule and line as gh_trace_open). */
void gh_trace_forked(struct gh_trace *t, const char *policy, uint64_t mmap_threshold);

void gh_trace_close(struct gh_trace *t);

#endif
