/* tracefile.h - allocation traces in memory, read from and written to
 * files: what `replay`, `trace-stats` and `convert` share (tools/lib,
 * tracefile.c loads, tracefile_write.c writes).
 *
 * Two formats on disk, one list of operations in memory:
 *
 *   binary   include/glassheap/trace.h (GLASSHEAP_TRACE, `glassheap
 *            record`): a header, then 48-byte records whose addresses name
 *            blocks;
 *   rep      the CS:APP malloc-lab text format: four header numbers
 *            (suggested heap size, number of ids, number of operations,
 *            weight), then one operation a line: `a ID SIZE`, `f ID`,
 *            `r ID SIZE`.
 *
 * In memory a block is a small integer id from allocation to free; a
 * realloc keeps its block's id (moved or not).  Binary addresses become ids
 * as they are read, freed ids being reused (last freed, first reused) so
 * that ids stay below the peak number of live blocks.  A rep file's ids
 * are read as dense ids in the order they first appear; when the file's
 * own ids are about as many (the largest below TF_DENSE_FACTOR times the
 * ids used + TF_DENSE_SLACK) the trace keeps the file's, else the dense
 * ones, with t->file_ids holding the file's for writing it back.  Either
 * way what a trace costs in memory follows what the file holds, never what
 * its header claims or how large an id it names.  Byte sums over a trace
 * are tf_sum (128 bits): they cannot wrap.
 *
 * Invariant of a loaded trace (tf_load checks it; the replay relies on it):
 * every TF_ALLOC names an id that is not live, every TF_FREE and TF_REALLOC
 * one that is.  A file that breaks it is a bad trace: the loader stops at
 * the offending line or record and says so; it never hands on a trace that
 * would free an unknown block.  Calls that failed in the recorded program
 * (result 0) are counted and left out.
 */
#ifndef GH_TOOLS_TRACEFILE_H
#define GH_TOOLS_TRACEFILE_H

#include <errno.h>   /* the commands that load traces rely on these */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glassheap/trace.h>

#define TF_DEFAULT_MMAP_THRESHOLD (128u * 1024u)  /* the library's default */
#define TF_MAX_SIZE ((uint64_t)1 << 47)          /* larger requests are not sizes */
#define TF_MAX_IDS  ((uint64_t)1 << 31)
#define TF_DENSE_FACTOR 2u     /* a rep file's ids kept when at most this many per id used, */
#define TF_DENSE_SLACK  1024u  /* plus this many */

enum tf_kind { TF_ALLOC = 1, TF_FREE = 2, TF_REALLOC = 3 };
enum tf_format { TF_BINARY = 1, TF_REP = 2 };

/* Why tf_load failed: the file is not there (exit 1) or not a good trace
 * (exit 3). */
enum tf_status { TF_OK = 0, TF_NOFILE = 1, TF_BAD = 3 };

struct tf_op {
    uint64_t size;     /* bytes asked for (TF_ALLOC, TF_REALLOC) */
    uint64_t time_ns;  /* binary: since the recording began; rep: 0 */
    uint32_t id;
    uint32_t align;    /* > 16 for memalign-family calls, else 0 */
    uint32_t tid;      /* the calling thread (binary), else 0 */
    uint8_t kind;      /* enum tf_kind */
    uint8_t call;      /* the recorded call (enum gh_trace_op); 0 for rep */
    uint16_t pad;      /* keeps the record 32 bytes */
};

/* A sum of byte counts over a trace: 128 bits, so that no trace can wrap
 * it (at most 2^64 operations of at most TF_MAX_SIZE = 2^47 bytes). */
typedef unsigned __int128 tf_sum;

struct tf_trace {
    struct tf_op *ops;
    size_t n, cap;
    uint32_t nids;            /* ids run from 0 to nids - 1: as many as the file uses */
    uint32_t *file_ids;       /* sparse rep ids renumbered: the file's id of each (else NULL) */
    enum tf_format format;
    uint64_t failed;          /* recorded calls that failed (not in ops) */
    uint64_t mmap_threshold;  /* binary: the recording's; rep: the default */
    /* binary header */
    int32_t pid;
    uint64_t start_ns;
    char policy[17];
    char cmdline[257];
    /* rep header */
    uint64_t rep_heap, rep_weight;
    uint32_t rep_ids;         /* the header's number of ids (nids: those used) */
};

/* Append op to t->ops (growing it); false when out of memory. */
bool tf_push(struct tf_trace *t, const struct tf_op *op);

/* Free t's operations and zero it; a zeroed or freed t is fine. */
void tf_free(struct tf_trace *t);

/* Load FILE (binary or rep, told apart by the binary magic) into t.
 * TF_OK; TF_NOFILE (cannot open) or TF_BAD (not a good trace), with a
 * message in err naming the line or record.  On failure t is freed. */
int tf_load(const char *path, struct tf_trace *t, char *err, size_t errcap);

/* The format's name as the tools print it: "binary" or "rep". */
const char *tf_format_name(const struct tf_trace *t);

/* Parse an unsigned decimal number at *s (leading blanks skipped), moving
 * *s past it; false when there is none or it overflows. */
bool tf_parse_u64(const char **s, uint64_t *out);

/* Parse a byte count with an optional K/M/G suffix (powers of 1024). */
bool tf_parse_bytes(const char *s, uint64_t *out);

/* The peak of live requested bytes over the trace (0 when out of memory). */
tf_sum tf_peak_live(const struct tf_trace *t);

/* Block addresses tf_write_binary makes up: TF_ADDR_BASE + 16 * id. */
#define TF_ADDR_BASE 0x10000000000ULL

/* Write t as malloc-lab text: the four header numbers (a rep trace keeps
 * its own, and its ids; a binary one gets heap = tf_peak_live, saturated at
 * 2^64 - 1, its ids, operations, weight 1), then one line per operation.  *aligned counts the allocations
 * whose alignment the format cannot keep.  False on a write error. */
bool tf_write_rep(FILE *out, const struct tf_trace *t, uint64_t *aligned);

/* Write t as a binary trace (include/glassheap/trace.h): block i at
 * TF_ADDR_BASE + 16 i, a rep trace's header naming `in` as its source and
 * the library's default mmap threshold.  False on a write error. */
bool tf_write_binary(FILE *out, const struct tf_trace *t, const char *in);

#endif
