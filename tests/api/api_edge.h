/* api_edge.h - what the parts of api_edge share (api_edge.c tells the
 * story): the API handle, the page size, helpers, and the tests, one file
 * per group of edge cases.
 */
#ifndef GH_API_EDGE_H
#define GH_API_EDGE_H

#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gh_api_test.h"

/* Some tests use a block after a realloc that failed on purpose. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wuse-after-free"
#endif

#define KiB ((size_t)1024)
#define MiB (KiB * KiB)
#define DEFAULT_MMAP_THRESHOLD (128 * KiB)

extern struct gh_t_api gh;  /* set by the group setup (api_edge.c) */
extern size_t page;

/* Sizes go through a volatile so the compiler neither folds nor warns about
 * the deliberately absurd requests. */
extern volatile size_t vsz;
static inline size_t opaque(size_t n)
{
    vsz = n;
    return vsz;
}

/* A sink the optimiser cannot see through. */
extern void *volatile sink;

static inline struct glassheap_counters ctr(void)
{
    return gh_t_counters(&gh);
}

static inline int is_buddy(void)
{
    return strcmp(gh.policy(), "buddy") == 0;
}

static inline size_t round_up(size_t n, size_t a)
{
    return (n + a - 1) / a * a;
}

/* Usable size the contract promises for a heap block of n bytes. */
static inline size_t contract_usable(size_t n)
{
    size_t u = round_up(n + 16, 16) - 16;
    return u < 32 ? 32 : u;
}

static inline void assert_heap_ok(void)
{
    assert_int_equal(gh.check(), 1);
}


/* The tests, by file. */
/* api_edge_basic.c */
void test_served_by_glassheap(void **state);
void test_malloc0(void **state);
void test_free_null(void **state);
void test_realloc_null(void **state);
void test_realloc_zero(void **state);
void test_calloc_overflow(void **state);
void test_reallocarray_overflow(void **state);
void test_calloc_zeroes(void **state);
/* api_edge_aligned.c */
void test_posix_memalign_einval(void **state);
void test_posix_memalign_ok(void **state);
void test_aligned_alloc(void **state);
void test_memalign(void **state);
void test_aligned_alloc_bad_alignment(void **state);
void test_memalign_bad_alignment(void **state);
void test_valloc(void **state);
void test_pvalloc(void **state);
/* api_edge_limits.c */
void test_huge_sizes(void **state);
void test_realloc_fail_intact(void **state);
void test_free_keeps_errno(void **state);
void test_align16_all(void **state);
void test_usable_size_all(void **state);
void test_usable_size_formula(void **state);
/* api_edge_info.c */
void test_malloc_trim(void **state);
void test_mallinfo(void **state);
void test_mallopt_mmap_threshold(void **state);
void test_realloc_contents(void **state);

#endif
