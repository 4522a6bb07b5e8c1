/* gh_api_test.h - helpers shared by the front-end (API) test programs.
 *
 * The programs link libglassheap.so directly (it comes before libc in the
 * link line, so its malloc interposes) or run under LD_PRELOAD; either way
 * they reach the glassheap_* extensions through dlsym(RTLD_DEFAULT, ...), so
 * one source serves both and a program that is NOT running on glassheap
 * fails loudly instead of silently testing glibc.
 *
 * Test-program conventions: exit 0 = pass, 1 = fail (with a line saying
 * what), 77 = skip (CTest SKIP_RETURN_CODE).
 */
#ifndef GH_API_TEST_H
#define GH_API_TEST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "glassheap.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GH_T_SKIP 77

/* Fail: print "FAIL file:line: message" and exit(1). */
#define GH_T_FAIL(...)                                                      \
    do {                                                                    \
        fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);               \
        fprintf(stderr, __VA_ARGS__);                                       \
        fputc('\n', stderr);                                                \
        fflush(NULL);                                                       \
        exit(1);                                                            \
    } while (0)

#define GH_T_CHECK(cond, ...)                                               \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                   \
            fputc('\n', stderr);                                            \
            fflush(NULL);                                                   \
            exit(1);                                                        \
        }                                                                   \
    } while (0)

/* The glassheap extensions, looked up at run time. */
struct gh_t_api {
    const char *(*version)(void);
    const char *(*policy)(void);
    int (*check)(void);
    int (*counters)(struct glassheap_counters *, size_t);
};

/* Look the extensions up; exit(1) when the process does not run on
 * glassheap or when malloc is not glassheap's. */
static inline struct gh_t_api gh_t_api(void)
{
    struct gh_t_api a;
    a.version = (const char *(*)(void))dlsym(RTLD_DEFAULT, "glassheap_version");
    a.policy = (const char *(*)(void))dlsym(RTLD_DEFAULT, "glassheap_policy");
    a.check = (int (*)(void))dlsym(RTLD_DEFAULT, "glassheap_check");
    a.counters = (int (*)(struct glassheap_counters *, size_t))dlsym(RTLD_DEFAULT,
                                                                     "glassheap_counters");
    if (!a.version || !a.policy || !a.check || !a.counters)
        GH_T_FAIL("not running on glassheap (glassheap_* not found)");
    /* malloc as the program sees it must be glassheap's. */
    void *m = dlsym(RTLD_DEFAULT, "malloc");
    Dl_info mi, vi;
    if (!m || !dladdr(m, &mi) || !dladdr((void *)a.version, &vi) ||
        mi.dli_fbase != vi.dli_fbase)
        GH_T_FAIL("malloc is not served by the library that exports glassheap_version "
                  "(malloc from %s)", m && dladdr(m, &mi) ? mi.dli_fname : "?");
    return a;
}

static inline struct glassheap_counters gh_t_counters(const struct gh_t_api *a)
{
    struct glassheap_counters c;
    memset(&c, 0, sizeof c);
    if (a->counters(&c, sizeof c) != 0)
        GH_T_FAIL("glassheap_counters() refused sizeof(struct glassheap_counters)");
    return c;
}

/* Deterministic fill/verify of a block: byte i of block `id` is a function
 * of (id, i), so a block that moved or was overwritten is noticed. */
static inline unsigned char gh_t_byte(uint64_t id, size_t i)
{
    uint64_t x = id * 0x9E3779B97F4A7C15ull + i * 0xBF58476D1CE4E5B9ull;
    x ^= x >> 29;
    return (unsigned char)(x ^ (x >> 8) ^ (x >> 17));
}

static inline void gh_t_fill(void *p, size_t n, uint64_t id)
{
    unsigned char *b = (unsigned char *)p;
    for (size_t i = 0; i < n; i++)
        b[i] = gh_t_byte(id, i);
}

/* Index of the first wrong byte, or (size_t)-1 when all n are right. */
static inline size_t gh_t_verify(const void *p, size_t n, uint64_t id)
{
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != gh_t_byte(id, i))
            return i;
    return (size_t)-1;
}

/* The same idea a word at a time, for workloads that fill many MiB: the
 * 8 bytes at offset 8k of block `id` hold gh_t_word(id, k) (a tail shorter
 * than a word holds its first bytes), so any prefix of a filled block
 * verifies as a block of that length. */
static inline uint64_t gh_t_word(uint64_t id, size_t k)
{
    uint64_t x = (id + 1) * 0x9E3779B97F4A7C15ull ^ (k + 1) * 0xD6E8FEB86659FD93ull;
    return x ^ (x >> 31);
}

static inline void gh_t_fill_fast(void *p, size_t n, uint64_t id)
{
    unsigned char *b = (unsigned char *)p;
    size_t k, words = n / 8;
    for (k = 0; k < words; k++) {
        uint64_t w = gh_t_word(id, k);
        memcpy(b + 8 * k, &w, 8);
    }
    if (n % 8) {
        uint64_t w = gh_t_word(id, words);
        memcpy(b + 8 * words, &w, n % 8);
    }
}

/* Offset of the first wrong word (or tail), or (size_t)-1. */
static inline size_t gh_t_verify_fast(const void *p, size_t n, uint64_t id)
{
    const unsigned char *b = (const unsigned char *)p;
    size_t k, words = n / 8;
    for (k = 0; k < words; k++) {
        uint64_t w = gh_t_word(id, k);
        if (memcmp(b + 8 * k, &w, 8) != 0)
            return 8 * k;
    }
    if (n % 8) {
        uint64_t w = gh_t_word(id, words);
        if (memcmp(b + 8 * words, &w, n % 8) != 0)
            return 8 * words;
    }
    return (size_t)-1;
}

/* xorshift64*, for seeded random workloads. */
static inline uint64_t gh_t_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* The policy the test was started with (GLASSHEAP_POLICY), default best. */
static inline const char *gh_t_env_policy(void)
{
    const char *p = getenv("GLASSHEAP_POLICY");
    return p && *p ? p : "best";
}

/* True when CTest says the library was built with GLASSHEAP_CHECKS
 * (GH_T_CHECKED=1): its checker walks the whole heap after every operation,
 * so a workload of k blocks costs k^2 and a test may run a smaller one. */
static inline int gh_t_checked(void)
{
    const char *c = getenv("GH_T_CHECKED");
    return c && strcmp(c, "1") == 0;
}

/* The misuse programs (gh_misuse.c, gh_corrupt.c, tests/harden): the
 * pointer a case is about to misuse, on a line of its own (their stdout is
 * unbuffered, so printing allocates nothing and the heap stays as the case
 * built it). */
static inline void gh_t_announce(const void *p)
{
    printf("%p\n", p);
    fflush(stdout);
}

/* A heap block of n bytes, filled with 0x3C, between two live neighbours:
 * freeing it cannot coalesce it, so its header stays a valid free header. */
static inline unsigned char *gh_t_fenced(size_t n)
{
    static void *volatile keep __attribute__((unused)); /* the neighbours stay live */
    keep = malloc(64);
    unsigned char *p = (unsigned char *)malloc(n);
    keep = malloc(64);
    if (!p)
        GH_T_FAIL("malloc(%zu) failed", n);
    memset(p, 0x3C, n);
    return p;
}

#ifdef __cplusplus
}
#endif

#endif
