/* fuzz_reader.c - the segment reader on arbitrary file contents.
 *
 * LLVMFuzzerTestOneInput() writes the bytes to a file and runs every reader
 * call on it: open, header, config, counters, the map (read and requested
 * with timeout 0), the map head, the large-block list, a counters request,
 * the liveness check.  It asserts that nothing crashes, every call returns
 * an error code in range, and what the bounded calls hand back is bounded:
 * no more entries than asked for, none on an error, map states and large
 * entries that pass the reader's own rules.
 *
 * Built two ways (tests/shm/CMakeLists.txt):
 *   shm_fuzz_reader       always; its own main() mutates a valid segment
 *                         (seeded xorshift: byte flips, truncations and
 *                         extensions, chosen values in header fields and in
 *                         the words the reader loads) and checks that every
 *                         kind of verdict was reached.  Registered in CTest.
 *                         Usage: shm_fuzz_reader [iterations [seed]]
 *                                shm_fuzz_reader --write-seed FILE
 *   shm_libfuzzer_reader  with clang only: libFuzzer + ASan over reader.c.
 *                         A minute of it:
 *     mkdir -p corpus && ./shm_fuzz_reader --write-seed corpus/valid
 *     ./shm_libfuzzer_reader -max_total_time=60 corpus
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reader.h"
#include "shm_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_path[] = "/tmp/gh_shm_fuzz.XXXXXX";
static int g_made;
static unsigned g_verdicts[GHR_ERROR_MAX + 1];
static unsigned g_large_listed, g_large_bad; /* lists read with entries; entries refused */

static void cleanup(void)
{
    if (g_made)
        unlink(g_path);
}

static void check(int rc, const char *what)
{
    if (rc < GHR_OK || rc > GHR_ERROR_MAX) {
        fprintf(stderr, "fuzz_reader: %s returned %d, out of range\n", what, rc);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_made) {
        int fd = mkstemp(g_path);
        if (fd < 0)
            abort();
        close(fd);
        g_made = 1;
        atexit(cleanup);
    }
    if (img_write(g_path, data, size) != 0)
        abort();

    struct ghr_segment *seg = NULL;
    int rc = ghr_open_path(g_path, 0, &seg);
    check(rc, "open");
    g_verdicts[rc]++;
    if ((rc == GHR_OK || rc == GHR_STALE || rc == GHR_BAD_VERSION) != (seg != NULL))
        abort();
    if (!seg)
        return 0;

    (void)ghr_version_found(seg);
    const struct gh_shm_header *h = ghr_header(seg);
    if ((h == NULL) != (rc == GHR_BAD_VERSION))
        abort();
    struct gh_shm_config cfg;
    check(ghr_config(seg, &cfg), "config");
    if (rc != GHR_BAD_VERSION && (cfg.policy[15] != '\0' || cfg.cmdline[GH_SHM_CMDLINE_MAX - 1]))
        abort();
    struct gh_shm_counters c;
    check(ghr_counters(seg, &c), "counters");
    struct ghr_frag f;
    ghr_fragmentation(&c, &f);
    check(ghr_check(seg), "check");

    struct gh_shm_block b[2 * IMG_CAP];
    size_t n = 0;
    uint64_t total = 0;
    int mrc = ghr_map(seg, -1, b, 2 * IMG_CAP, &n, &total);
    check(mrc, "map");
    if (n > 2 * IMG_CAP || (mrc != GHR_OK && n != 0))
        abort();
    for (size_t i = 0; i < n; i++)
        if (b[i].state != GH_SHM_BLOCK_USED && b[i].state != GH_SHM_BLOCK_FREE && b[i].state != GH_SHM_BLOCK_CACHED)
            abort();
    struct gh_shm_map head;
    check(ghr_map_head(seg, &head), "map head");

    struct gh_shm_large_block lb[2 * IMG_LARGE_CAP];
    size_t ln = 0;
    uint64_t ltotal = 0;
    int lrc = ghr_large(seg, lb, 2 * IMG_LARGE_CAP, &ln, &ltotal);
    check(lrc, "large");
    if (ln > 2 * IMG_LARGE_CAP || (lrc != GHR_OK && ln != 0) || (lrc == GHR_OK && ltotal < ln))
        abort();
    if (h && ln > h->large_capacity)
        abort();
    g_large_listed += ln > 0;
    g_large_bad += lrc == GHR_BAD_LAYOUT;
    for (size_t i = 0; i < ln; i++) {
        const struct gh_shm_large_block *e = &lb[i];
        uint64_t end = e->map_base + e->map_len;
        if (e->map_len == 0 || end < e->map_base || e->addr < e->map_base || e->addr >= end ||
            e->requested > end - e->addr)
            abort();
    }
    struct gh_shm_arena ab[2 * IMG_ARENA_CAP];
    size_t an = 0;
    int arc = ghr_arenas(seg, ab, 2 * IMG_ARENA_CAP, &an);
    check(arc, "arenas");
    if (an > 2 * IMG_ARENA_CAP || (arc != GHR_OK && an != 0) || (h && an > h->arenas_capacity))
        abort();
    for (size_t i = 0; i < an; i++) {
        const struct gh_shm_arena *e = &ab[i];
        if (e->index != i || e->used_block_bytes + e->free_bytes + e->overhead_bytes > e->heap_bytes ||
            e->largest_free > e->free_bytes)
            abort();
    }
    struct gh_shm_counters lc;
    struct ghr_live_info li;
    memset(&lc, 0, sizeof lc);
    int vrc = ghr_live(seg, &lc, ab, 2 * IMG_ARENA_CAP, &an, &li);
    check(vrc, "live");
    if (vrc == GHR_OK && li.in_place && (li.arenas == 0 || li.arenas > GH_SHM_ARENAS_CAPACITY || li.torn > li.arenas))
        abort();
    check(ghr_map(seg, 0, b, 2 * IMG_CAP, &n, &total), "map request");
    check(ghr_request_counters(seg, 0), "counters request");
    ghr_close(seg);
    return 0;
}

#ifndef GH_LIBFUZZER

#define DEFAULT_ITERATIONS 20000u
#define DEFAULT_SEED       0x9e3779b97f4a7c15ull
#define MAX_FILE           (2 * sizeof(struct img))

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Values that sit on the edges the reader checks. */
static uint64_t edge_value(uint64_t *s)
{
    const uint64_t v[] = {
        0, 1, 7, 8, 16, 24, 32, 36, 40, 64, 128, 152,
        sizeof(struct img), sizeof(struct img) - 8, sizeof(struct img) + 8,
        offsetof(struct img, cfg), offsetof(struct img, cnt), offsetof(struct img, map),
        IMG_CAP, IMG_CAP + 1, 0x7fffffff, 0x80000000u, 0xfffffff8u, 0xffffffffu,
        offsetof(struct img, large), offsetof(struct img, lblocks), IMG_LARGE_CAP, IMG_LARGE_CAP + 1,
        sizeof(struct gh_shm_large), sizeof(struct gh_shm_large_block),
        UINT64_MAX, (uint64_t)getpid(),
    };
    uint64_t r = xorshift(s);
    return (r & 1) ? v[(r >> 1) % (sizeof v / sizeof v[0])] : xorshift(s);
}

/* Offsets and widths of the fields worth hitting: every header field, and
 * the words of the other regions the reader acts on. */
struct spot { size_t off, width; };
#define HF(f) { offsetof(struct gh_shm_header, f), sizeof(((struct gh_shm_header *)0)->f) }
#define CF(f) { offsetof(struct img, cnt) + offsetof(struct gh_shm_counters, f), 8 }
#define MF(f) { offsetof(struct img, map) + offsetof(struct gh_shm_map, f), 8 }
#define LF(f) { offsetof(struct img, large) + offsetof(struct gh_shm_large, f), 8 }
#define LE(i, f) { offsetof(struct img, lblocks[i]) + offsetof(struct gh_shm_large_block, f), 8 }
static const struct spot SPOTS[] = {
    HF(magic), HF(version), HF(header_size), HF(total_size), HF(config_offset),
    HF(config_size), HF(counters_offset), HF(counters_size), HF(map_offset),
    HF(map_size), HF(map_capacity), HF(block_size), HF(pid), HF(uid),
    HF(proc_start_ticks), HF(exited),
    HF(large_offset), HF(large_size), HF(large_capacity), HF(large_block_size),
    LF(seq), LF(count), LF(count), LF(total),
    LE(0, addr), LE(0, map_base), LE(0, map_len), LE(1, requested), LE(1, map_len),
    CF(seq), CF(request), CF(answered),
    MF(request), MF(answered), MF(seq), MF(nblocks), MF(total_blocks),
    { offsetof(struct img, blocks) + offsetof(struct gh_shm_block, state), 4 },
    { offsetof(struct img, blocks[2]) + offsetof(struct gh_shm_block, state), 4 },
};

static void mutate(uint8_t *buf, size_t *size, uint64_t *s)
{
    unsigned rounds = 1 + (unsigned)(xorshift(s) % 4);
    for (unsigned r = 0; r < rounds; r++) {
        switch (xorshift(s) % 4) {
        case 0: {                                  /* byte flips */
            unsigned k = 1 + (unsigned)(xorshift(s) % 8);
            for (unsigned i = 0; i < k && *size; i++)
                buf[xorshift(s) % *size] ^= (uint8_t)(1 + xorshift(s) % 255);
            break;
        }
        case 1:                                    /* cut or extend */
            *size = (size_t)(xorshift(s) % (MAX_FILE + 1));
            break;
        case 2:
        case 3: {                                  /* a field, an edge value */
            const struct spot *sp = &SPOTS[xorshift(s) % (sizeof SPOTS / sizeof SPOTS[0])];
            uint64_t v = edge_value(s);
            if (sp->off + sp->width <= MAX_FILE)
                memcpy(buf + sp->off, &v, sp->width);
            break;
        }
        }
    }
}

int main(int argc, char **argv)
{
    struct img seed;
    img_init(&seed);
    img_live(&seed); /* the region tables and the counters in place too */
    if (argc == 3 && strcmp(argv[1], "--write-seed") == 0)
        return img_write(argv[2], &seed, sizeof seed) == 0 ? 0 : 1;

    unsigned long iterations = argc > 1 ? strtoul(argv[1], NULL, 0) : DEFAULT_ITERATIONS;
    uint64_t s = argc > 2 ? strtoull(argv[2], NULL, 0) : DEFAULT_SEED;
    if (s == 0)
        s = DEFAULT_SEED;

    static uint8_t buf[MAX_FILE];
    for (unsigned long it = 0; it < iterations; it++) {
        memset(buf, 0, sizeof buf);
        memcpy(buf, &seed, sizeof seed);
        size_t size = sizeof seed;
        if (it % 16 != 0)                          /* every 16th: the seed itself */
            mutate(buf, &size, &s);
        /* An odd seq costs the reader ~0.1 s of retries before GHR_BUSY:
         * keep that to one input in 64. */
        if (it % 64 != 1) {
            buf[offsetof(struct img, cnt) + offsetof(struct gh_shm_counters, seq)] &= 0xfe;
            buf[offsetof(struct img, map) + offsetof(struct gh_shm_map, seq)] &= 0xfe;
            buf[offsetof(struct img, large) + offsetof(struct gh_shm_large, seq)] &= 0xfe;
        }
        LLVMFuzzerTestOneInput(buf, size);
    }

    printf("fuzz_reader: %lu inputs, open verdicts:\n", iterations);
    for (int i = 0; i <= GHR_ERROR_MAX; i++)
        if (g_verdicts[i])
            printf("  %6u  %s\n", g_verdicts[i], ghr_strerror((enum ghr_error)i));
    printf("  large-block lists read with entries: %u; refused for a bad entry: %u\n", g_large_listed,
           g_large_bad);
    if (iterations >= DEFAULT_ITERATIONS && (g_large_listed == 0 || g_large_bad == 0)) {
        printf("fuzz_reader: the large-block list was never read, or never refused\n");
        return 1;
    }
    /* A mutator that never reached a verdict tests nothing about it. */
    const int must[] = { GHR_OK, GHR_STALE, GHR_TRUNCATED, GHR_BAD_MAGIC,
                         GHR_BAD_VERSION, GHR_BAD_LAYOUT };
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
        if (iterations >= DEFAULT_ITERATIONS && g_verdicts[must[i]] == 0) {
            printf("fuzz_reader: no input reached \"%s\"\n", ghr_strerror((enum ghr_error)must[i]));
            return 1;
        }
    return 0;
}

#endif
