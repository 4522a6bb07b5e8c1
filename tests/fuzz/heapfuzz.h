/* heapfuzz.h - one fuzz case: a stream of bytes turned into heap operations
 * on a fresh arena heap, with writes into slack, neighbours, headers and
 * freed blocks (tests/fuzz: the seeded CTest driver and the libFuzzer target
 * share it).
 *
 * The case keeps its own model of every live block (address, usable size,
 * the pattern it wrote) and stops with GH_FUZZ_BUG (a line on stderr) when
 * the heap hands out memory over a live block, or a block's contents change
 * that no write of the case touched.  Corrupting writes ("dirty" ones) are
 * made only when the case allows them; a case without them must end with a
 * clean heap.  glassheap's own fatal lines (error.h) abort the process.
 */
#ifndef GH_HEAPFUZZ_H
#define GH_HEAPFUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where the case's bytes come from: a PRNG, or a fuzzer's input. */
struct gh_fuzz_src {
    const uint8_t *data; /* NULL: the PRNG */
    size_t len, pos;
    uint64_t x;          /* PRNG state */
};

enum gh_fuzz_result {
    GH_FUZZ_CLEAN = 0,   /* ran out of operations; the heap checks clean */
    GH_FUZZ_BUG = 3,     /* the model caught the heap out (a line on stderr) */
};

struct gh_fuzz_stats {
    uint64_t ops;        /* operations run (counted before each one) */
    uint64_t dirty;      /* corrupting writes made */
};

/* Run one case of at most max_ops operations of `policy` on an arena of
 * arena_len bytes at arena (zeroed pages).  dirty: corrupting writes
 * allowed.  Aborts (SIGABRT, one glassheap line) when glassheap finds a
 * corruption, the final heap check included ("heap_check(): <why>"). */
enum gh_fuzz_result gh_fuzz_case(const char *policy, void *arena, size_t arena_len, struct gh_fuzz_src *src,
                                 uint64_t max_ops, bool dirty, volatile struct gh_fuzz_stats *st);

#endif
