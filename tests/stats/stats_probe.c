/* stats_probe.c - the segment of a real preloaded program, read from outside
 * with the reader library (tools/reader).
 *
 * Runs stats_helper under LD_PRELOAD=libglassheap.so and proves:
 *   preload  the deltas of the published counters over the helper's script
 *            (calls, system calls, live/free/heap bytes, peaks, large
 *            blocks, the free-block histogram, buddy orders) are the ones
 *            worked out by hand for each policy, the heap map is exactly the
 *            blocks listed, and the header and configuration are the
 *            program's;
 *   live     while two threads churn, every snapshot of hundreds keeps
 *            live + free + overhead == heap, largest <= free, peaks >= now,
 *            histogram total == free blocks, and every map tiles its heap;
 *   life_*   the segment lives exactly as long as its process image: exit
 *            unlinks it, a forked child has its own, an exec'd image
 *            replaces it, SIGKILL leaves a stale one the reader can remove,
 *            GLASSHEAP_SHM=0 makes none.
 *
 * usage: stats_probe TEST POLICY HELPER LIBRARY
 *   TEST: preload | live | life_exit | life_fork | life_exec | life_kill | life_noshm
 *
 * Every helper is killed and every segment file of a helper removed in the
 * teardown, whatever happened; a helper also exits when its stdin closes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "reader.h"

#define LINE_TIMEOUT_MS   15000  /* slow shared machines: generous, never slept */
#define ANSWER_TIMEOUT_MS 5000
#define EXIT_TIMEOUT_MS   10000
#define CHURN_MIN_MS      3000   /* churn at least this long ... */
#define CHURN_MAX_MS      30000  /* ... and until the minimum counts, at most this */
#define MIN_SNAPSHOTS     200
#define MIN_MAPS          20
#define MAP_EVERY         8      /* one map per this many counter snapshots */
#define RACING_READS      100    /* unrequested reads after each requested one */
#define MAP_CAP           GH_SHM_MAP_CAPACITY
#define DEFAULT_THRESHOLD (128u * 1024u)
#define FIT_REGION_OVERHEAD 64u  /* 48-byte record + 16-byte end marker */
#define BUDDY_REGION_HEADER 48u
#define MAX_PROCS         4
#define MAX_TRACKED       8

extern char **environ;

static const char *policy, *helper_path, *library_path;

static bool is_buddy(void)
{
    return strcmp(policy, "buddy") == 0;
}

/* ---- helpers as child processes ------------------------------------------ */

struct proc {
    pid_t pid;               /* 0 once reaped */
    int to, from;            /* its stdin (we write), its stdout (we read) */
    char buf[4096];
    size_t len;
};

static struct proc procs[MAX_PROCS];
static int nprocs;
static pid_t tracked[MAX_TRACKED];   /* every pid whose segment we may leave */
static int ntracked;

static void track(pid_t pid)
{
    if (ntracked < MAX_TRACKED)
        tracked[ntracked++] = pid;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Start the helper with args (args[0] is argv[0]) under LD_PRELOAD and the
 * policy; GLASSHEAP_SHM=0 when !shm.  Every other GLASSHEAP_* variable and
 * any LD_PRELOAD of ours are left out. */
static struct proc *spawn(char *const args[], bool shm)
{
    assert_true(nprocs < MAX_PROCS);
    int in[2], out[2];
    assert_int_equal(pipe2(in, O_CLOEXEC), 0);
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);

    static char env_preload[4200], env_policy[64];
    snprintf(env_preload, sizeof env_preload, "LD_PRELOAD=%s", library_path);
    snprintf(env_policy, sizeof env_policy, "GLASSHEAP_POLICY=%s", policy);
    char *env[256];
    size_t ne = 0;
    for (char **e = environ; *e && ne < 250; e++)
        if (strncmp(*e, "GLASSHEAP_", 10) != 0 && strncmp(*e, "LD_PRELOAD=", 11) != 0)
            env[ne++] = *e;
    env[ne++] = env_preload;
    env[ne++] = env_policy;
    if (!shm)
        env[ne++] = "GLASSHEAP_SHM=0";
    env[ne] = NULL;

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        execve(helper_path, args, env);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    struct proc *p = &procs[nprocs++];
    memset(p, 0, sizeof *p);
    p->pid = pid;
    p->to = in[1];
    p->from = out[0];
    track(pid);
    return p;
}

/* The next line from p (without '\n'), waiting up to LINE_TIMEOUT_MS. */
static void read_line(struct proc *p, char *line, size_t cap)
{
    uint64_t deadline = mono_ms() + LINE_TIMEOUT_MS;
    for (;;) {
        char *nl = memchr(p->buf, '\n', p->len);
        if (nl) {
            size_t l = (size_t)(nl - p->buf);
            if (l >= cap)
                l = cap - 1;
            memcpy(line, p->buf, l);
            line[l] = '\0';
            size_t used = (size_t)(nl - p->buf) + 1;
            memmove(p->buf, p->buf + used, p->len - used);
            p->len -= used;
            return;
        }
        uint64_t now = mono_ms();
        if (now >= deadline)
            fail_msg("helper %d wrote no line in %d ms", (int)p->pid, LINE_TIMEOUT_MS);
        struct pollfd pf = { .fd = p->from, .events = POLLIN };
        int r = poll(&pf, 1, (int)(deadline - now));
        if (r < 0 && errno == EINTR)
            continue;
        assert_true(r >= 0);
        if (r == 0)
            continue;
        assert_true(p->len < sizeof p->buf);
        ssize_t n = read(p->from, p->buf + p->len, sizeof p->buf - p->len);
        if (n == 0)
            fail_msg("helper %d closed its stdout (it died?)", (int)p->pid);
        if (n > 0)
            p->len += (size_t)n;
    }
}

/* Has p written a whole line yet?  Does not wait. */
static bool line_ready(struct proc *p)
{
    struct pollfd pf = { .fd = p->from, .events = POLLIN };
    if (!memchr(p->buf, '\n', p->len) && poll(&pf, 1, 0) > 0 && p->len < sizeof p->buf) {
        ssize_t n = read(p->from, p->buf + p->len, sizeof p->buf - p->len);
        if (n > 0)
            p->len += (size_t)n;
    }
    return memchr(p->buf, '\n', p->len) != NULL;
}

static void expect_line(struct proc *p, const char *want)
{
    char line[256];
    read_line(p, line, sizeof line);
    if (strcmp(line, want) != 0)
        fail_msg("helper %d wrote '%s', expected '%s'", (int)p->pid, line, want);
}

/* "word <number>" -> number. */
static long expect_word_num(struct proc *p, const char *word)
{
    char line[256];
    read_line(p, line, sizeof line);
    size_t l = strlen(word);
    if (strncmp(line, word, l) != 0 || line[l] != ' ')
        fail_msg("helper %d wrote '%s', expected '%s <n>'", (int)p->pid, line, word);
    return strtol(line + l + 1, NULL, 10);
}

static void send_line(struct proc *p)
{
    assert_int_equal(write(p->to, "\n", 1), 1);
}

/* Wait for p to end; returns its wait status. */
static int wait_exit(struct proc *p)
{
    uint64_t deadline = mono_ms() + EXIT_TIMEOUT_MS;
    for (;;) {
        int status;
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        assert_true(r >= 0);
        if (r == p->pid) {
            p->pid = 0;
            return status;
        }
        if (mono_ms() >= deadline)
            fail_msg("helper %d did not exit in %d ms", (int)p->pid, EXIT_TIMEOUT_MS);
        struct timespec ts = { 0, 2000000 };
        nanosleep(&ts, NULL);
    }
}

static void expect_clean_exit(struct proc *p)
{
    pid_t pid = p->pid;
    int st = wait_exit(p);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("helper %d ended with wait status 0x%x, expected exit 0", (int)pid, st);
}

/* ---- segment files -------------------------------------------------------- */

static void seg_file(char *buf, size_t cap, pid_t pid)
{
    snprintf(buf, cap, "%s%s%d", GH_SHM_DIR, GH_SHM_NAME_PREFIX, (int)pid);
}

static bool seg_exists(pid_t pid)
{
    char path[128];
    struct stat st;
    seg_file(path, sizeof path, pid);
    return stat(path, &st) == 0;
}

/* Poll until the file exists (or not), up to LINE_TIMEOUT_MS. */
static void wait_seg(pid_t pid, bool exists)
{
    uint64_t deadline = mono_ms() + LINE_TIMEOUT_MS;
    while (seg_exists(pid) != exists) {
        if (mono_ms() >= deadline)
            fail_msg("%s%s%d still %s", GH_SHM_DIR, GH_SHM_NAME_PREFIX, (int)pid,
                     exists ? "missing" : "present");
        struct timespec ts = { 0, 2000000 };
        nanosleep(&ts, NULL);
    }
}

/* Open pid's segment.  A file being made (a forked child creates its own
 * while the test looks) has no magic yet, or no size: retry those until
 * LINE_TIMEOUT_MS. */
static struct ghr_segment *open_seg(pid_t pid)
{
    uint64_t deadline = mono_ms() + LINE_TIMEOUT_MS;
    for (;;) {
        struct ghr_segment *seg = NULL;
        int rc = ghr_open_pid((int)pid, &seg);
        if (rc == GHR_OK)
            return seg;
        ghr_close(seg);
        bool in_making = rc == GHR_BAD_MAGIC || rc == GHR_TRUNCATED || rc == GHR_NO_SEGMENT;
        if (!in_making || mono_ms() >= deadline)
            fail_msg("ghr_open_pid(%d): %s", (int)pid, ghr_strerror((enum ghr_error)rc));
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
}

static void get_counters(struct ghr_segment *seg, struct gh_shm_counters *c)
{
    int rc = ghr_request_counters(seg, ANSWER_TIMEOUT_MS);
    if (rc != GHR_OK)
        fail_msg("ghr_request_counters: %s", ghr_strerror((enum ghr_error)rc));
    rc = ghr_counters(seg, c);
    if (rc != GHR_OK)
        fail_msg("ghr_counters: %s", ghr_strerror((enum ghr_error)rc));
}

/* The heap's extent as the last map gives it (map.heap_start/heap_end),
 * read straight from the file: the reader API does not return it.  Only our
 * requests make the writer write a map, so it is the one ghr_map copied. */
static void map_bounds(pid_t pid, uint64_t *start, uint64_t *end)
{
    char path[128];
    seg_file(path, sizeof path, pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    const uint8_t *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    assert_true(m != MAP_FAILED);
    const struct gh_shm_header *h = (const void *)m;
    assert_true(h->map_offset + sizeof(struct gh_shm_map) <= (uint64_t)st.st_size);
    const struct gh_shm_map *map = (const void *)(m + h->map_offset);
    bool ok = false;
    for (int tries = 0; tries < 1000 && !ok; tries++) {
        uint64_t s1 = __atomic_load_n(&map->seq, __ATOMIC_ACQUIRE);
        *start = __atomic_load_n(&map->heap_start, __ATOMIC_RELAXED);
        *end = __atomic_load_n(&map->heap_end, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        ok = !(s1 & 1) && s1 == __atomic_load_n(&map->seq, __ATOMIC_RELAXED);
    }
    munmap((void *)m, (size_t)st.st_size);
    assert_true(ok);
}

/* ---- setup / teardown ----------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    nprocs = 0;
    ntracked = 0;
    return 0;
}

/* Kill what still runs and remove every segment file our helpers (and
 * their children) may have left.  Runs after failures too. */
static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < nprocs; i++) {
        struct proc *p = &procs[i];
        if (p->to >= 0)
            close(p->to);
        if (p->from >= 0)
            close(p->from);
        p->to = p->from = -1;
        if (p->pid > 0) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, NULL, 0);
            p->pid = 0;
        }
    }
    for (int i = 0; i < ntracked; i++) {
        /* A helper's forked child is not ours to reap: kill it, then wait
         * until it is gone so its segment reads as stale. */
        if (kill(tracked[i], 0) == 0) {
            kill(tracked[i], SIGKILL);
            for (int t = 0; t < 2000 && kill(tracked[i], 0) == 0; t++) {
                struct timespec ts = { 0, 1000000 };
                nanosleep(&ts, NULL);
            }
        }
        /* The reader removes a stale segment; a file killed while being
         * made (no magic yet) it keeps, but it is our dead helper's. */
        if (seg_exists(tracked[i]) && ghr_remove_stale((int)tracked[i]) != GHR_ALIVE
            && kill(tracked[i], 0) != 0 && errno == ESRCH) {
            char path[128];
            seg_file(path, sizeof path, tracked[i]);
            unlink(path);
        }
    }
    nprocs = 0;
    ntracked = 0;
    return 0;
}

/* ---- header and configuration ------------------------------------------- */

static void check_header(struct ghr_segment *seg, pid_t pid, uint64_t started_after)
{
    const struct gh_shm_header *h = ghr_header(seg);
    assert_non_null(h);
    assert_true(h->magic == GH_SHM_MAGIC);
    assert_int_equal(h->version, GH_SHM_VERSION);
    assert_int_equal(h->header_size, sizeof(struct gh_shm_header));
    assert_int_equal(h->config_size, sizeof(struct gh_shm_config));
    assert_int_equal(h->counters_size, sizeof(struct gh_shm_counters));
    assert_int_equal(h->block_size, sizeof(struct gh_shm_block));
    assert_int_equal(h->map_capacity, GH_SHM_MAP_CAPACITY);
    assert_int_equal(h->pid, pid);
    assert_int_equal(h->uid, getuid());
    assert_int_equal(h->exited, 0);
    assert_true(h->proc_start_ticks != 0);
    if (h->start_time_ns < started_after || h->start_time_ns > real_ns())
        fail_msg("start_time_ns %llu not between the spawn (%llu) and now",
                 (unsigned long long)h->start_time_ns, (unsigned long long)started_after);
}

static void check_config(struct ghr_segment *seg, const char *cmdline_has)
{
    struct gh_shm_config c;
    assert_int_equal(ghr_config(seg, &c), GHR_OK);
    assert_string_equal(c.policy, policy);
    assert_int_equal(c.mmap_threshold, DEFAULT_THRESHOLD);
    assert_int_equal(c.trim_threshold, is_buddy() ? 0 : 128u * 1024u);   /* buddy: chunks */
    assert_int_equal(c.top_pad, is_buddy() ? 0 : 128u * 1024u);
    assert_int_equal(c.buddy_max_order, is_buddy() ? 20 : 0);
    assert_int_equal(c.alignment, 16);
    assert_int_equal(c.header_bytes, 16);
    assert_int_equal(c.min_block, is_buddy() ? 32 : 48);
    if (!strstr(c.cmdline, "stats_helper") || !strstr(c.cmdline, cmdline_has))
        fail_msg("cmdline '%s' lacks 'stats_helper' or '%s'", c.cmdline, cmdline_has);
}

/* ---- 2. the script, predicted -------------------------------------------- *
 *
 * The helper's heap is empty when it says "ready" (checked): the script's
 * first malloc makes the heap.  Fit policies: the break grows by
 * round_up(128 + 64 + 128K top pad, 4K) = 135168, one region at a page
 * boundary R, blocks from R + 48 (offsets below are from there):
 *
 *   a = malloc(100)        128  at 0
 *   b = calloc(25, 40)     1024 at 128
 *   c = malloc(3000)       3024 at 1152
 *   d = malloc(200)        224  at 4176        top block (4400, 130704)
 *   free(b)                hole (128, 1024)
 *   e = malloc(500)        528: first, best: at 128 (hole 656,496 left);
 *                          worst, next (rover at d): from the top, at 4400
 *   realloc(c, 1000)       in place: 1024, tail (2176, 2000) free
 *   posix_memalign(64,300) 320, searched as 432: first, best: the 496 hole
 *                          at 656 -> payload R+768: gap (656,48) free, block
 *                          704, rest (1024,128) free; worst, next: the top
 *                          at 4928, already aligned
 *   g = malloc(200000)     a mapping of 200704
 *   realloc(a, 150000)     a mapping of 151552; a's 128 freed (worst, next:
 *                          merges with the 1024 hole -> (0,1152))
 *   h = realloc(NULL, 64)  80: first, best: at 0, (80,48) left; worst, next:
 *                          top, at 5248
 *   free(d)                first, best: joins (2176,2000) and the top;
 *                          worst, next: joins (2176,2000) -> (2176,2224)
 *   free(g)                unmapped
 *
 * Buddy: max order 20 (smallest 2^k >= 128K + 16, at least 2^20); the break
 * grows by 48 + 2^20; a 128, b 1024, c 4096 -> 1024 in place, d 256,
 * e 1024 (b's block again), f 512 (payload aligned already), h 128 (a's
 * merged order-8 block split again); see the map below. */

struct want_block {
    uint64_t off, size, requested;
    uint32_t state;
};

#define U GH_SHM_BLOCK_USED
#define F GH_SHM_BLOCK_FREE
static const struct want_block map_first_best[] = {
    { 0, 80, 64, U }, { 80, 48, 0, F }, { 128, 528, 500, U }, { 656, 48, 0, F },
    { 704, 320, 300, U }, { 1024, 128, 0, F }, { 1152, 1024, 1000, U }, { 2176, 132928, 0, F },
};
static const struct want_block map_worst_next[] = {
    { 0, 1152, 0, F }, { 1152, 1024, 1000, U }, { 2176, 2224, 0, F }, { 4400, 528, 500, U },
    { 4928, 320, 300, U }, { 5248, 80, 64, U }, { 5328, 129776, 0, F },
};
static const struct want_block map_buddy[] = {
    { 0, 128, 64, U }, { 128, 128, 0, F }, { 256, 256, 0, F }, { 512, 512, 300, U },
    { 1024, 1024, 500, U }, { 2048, 2048, 0, F }, { 4096, 1024, 1000, U }, { 5120, 1024, 0, F },
    { 6144, 2048, 0, F }, { 8192, 8192, 0, F }, { 16384, 16384, 0, F }, { 32768, 32768, 0, F },
    { 65536, 65536, 0, F }, { 131072, 131072, 0, F }, { 262144, 262144, 0, F },
    { 524288, 524288, 0, F },
};
#undef U
#undef F

/* One expected delta: the counter's name, what it moved by, what it should. */
#define DELTA(field, want)                                                                  \
    do {                                                                                    \
        uint64_t d_ = c1.field - c0.field;                                                  \
        if (d_ != (uint64_t)(want)) {                                                       \
            fprintf(stderr, "%s: delta of %s is %llu, expected %llu\n", policy, #field,     \
                    (unsigned long long)d_, (unsigned long long)(want));                    \
            bad++;                                                                          \
        }                                                                                   \
    } while (0)

static void test_preload(void **state)
{
    (void)state;
    bool buddy = is_buddy();
    bool low_first = !buddy && (strcmp(policy, "first") == 0 || strcmp(policy, "best") == 0);
    uint64_t t0 = real_ns();
    char *args[] = { "stats_helper", "script", NULL };
    struct proc *p = spawn(args, true);
    expect_line(p, "ready");
    struct ghr_segment *seg = open_seg(p->pid);
    check_header(seg, p->pid, t0);
    check_config(seg, "script");

    struct gh_shm_counters c0, c1;
    get_counters(seg, &c0);
    /* The precondition of every prediction: nothing allocated yet. */
    if (c0.heap_bytes || c0.live_blocks || c0.regions || c0.large_blocks)
        fail_msg("the helper's heap is not empty at 'ready' (heap %llu, %llu blocks): the "
                 "predictions assume it is", (unsigned long long)c0.heap_bytes,
                 (unsigned long long)c0.live_blocks);

    send_line(p);
    expect_line(p, "done");
    get_counters(seg, &c1);
    assert_true(c1.publishes > c0.publishes);
    assert_true(c1.time_ns >= c0.time_ns);

    int bad = 0;
    uint64_t heap = buddy ? BUDDY_REGION_HEADER + (1u << 20) : 135168;
    /* API calls: each call counts once, under its own name (a moving
     * realloc and realloc(p, 0) are realloc calls, not free calls). */
    DELTA(malloc_calls, 5);
    DELTA(calloc_calls, 1);
    DELTA(realloc_calls, 3);
    DELTA(realloc_in_place, 1);
    DELTA(realloc_moved, 1);
    DELTA(free_calls, 3); /* free() calls only: a moving realloc is a realloc */
    DELTA(aligned_calls, 1);
    DELTA(failed_calls, 0);
    /* System calls. */
    DELTA(brk_calls, 1);
    DELTA(brk_grow_bytes, heap);
    DELTA(brk_shrink_bytes, 0);
    DELTA(mmap_calls, 2);
    DELTA(mmap_bytes, 200704 + 151552);
    DELTA(munmap_calls, 1);
    DELTA(munmap_bytes, 200704);
    DELTA(mremap_calls, 0);
    DELTA(madvise_calls, 0);
    DELTA(madvise_bytes, 0);
    DELTA(trims, 0);
    DELTA(trimmed_bytes, 0);
    /* The heap now. */
    DELTA(live_requested, 64 + 500 + 300 + 1000);
    DELTA(live_block_bytes, buddy ? 128 + 1024 + 512 + 1024 : 80 + 528 + 320 + 1024);
    DELTA(live_blocks, 4);
    DELTA(free_bytes, buddy ? (1u << 20) - 2688 : 135104 - 1952);
    DELTA(free_blocks, buddy ? 12 : low_first ? 4 : 3);
    DELTA(largest_free, buddy ? 524288 : low_first ? 132928 : 129776);
    DELTA(heap_bytes, heap);
    DELTA(overhead_bytes, buddy ? BUDDY_REGION_HEADER : FIT_REGION_OVERHEAD);
    DELTA(regions, 1);
    /* Large blocks: a's new mapping stays, g's is gone. */
    DELTA(large_requested, 150000);
    DELTA(large_bytes, 151552);
    DELTA(large_blocks, 1);
    /* Peaks (from 0): requested after d = 100+1000+3000+200; blocks then
     * (buddy: after e, 128+4096+256+1024); the heap never shrank. */
    DELTA(peak_requested, 4300);
    DELTA(peak_block_bytes, buddy ? 5504 : 4400);
    DELTA(peak_heap_bytes, heap);
    DELTA(peak_large_bytes, 200704 + 151552);
    if (bad)
        fail_msg("%d counter deltas differ (listed above)", bad);

    /* The histogram moved by exactly the free blocks of the map. */
    uint64_t want_hist[GH_SHM_HIST_BUCKETS] = { 0 };
    const struct want_block *wm = buddy ? map_buddy : low_first ? map_first_best : map_worst_next;
    size_t nwm = buddy ? sizeof map_buddy / sizeof map_buddy[0]
               : low_first ? sizeof map_first_best / sizeof map_first_best[0]
               : sizeof map_worst_next / sizeof map_worst_next[0];
    for (size_t i = 0; i < nwm; i++)
        if (wm[i].state == GH_SHM_BLOCK_FREE)
            want_hist[63 - __builtin_clzll(wm[i].size)]++;
    for (unsigned k = 0; k < GH_SHM_HIST_BUCKETS; k++) {
        if (c1.free_hist[k] - c0.free_hist[k] != want_hist[k])
            fail_msg("free_hist[%u] moved by %lld, expected %llu", k,
                     (long long)(c1.free_hist[k] - c0.free_hist[k]), (unsigned long long)want_hist[k]);
        uint64_t want_order = buddy && k < GH_SHM_ORDERS ? want_hist[k] : 0;
        if (k < GH_SHM_ORDERS && c1.buddy_free[k] - c0.buddy_free[k] != want_order)
            fail_msg("buddy_free[%u] moved by %lld, expected %llu", k,
                     (long long)(c1.buddy_free[k] - c0.buddy_free[k]), (unsigned long long)want_order);
    }
    struct ghr_frag fr;
    ghr_fragmentation(&c1, &fr);
    assert_true(fabs(fr.internal - (1.0 - (double)c1.live_requested / (double)c1.live_block_bytes)) < 1e-12);
    assert_true(fabs(fr.external - (1.0 - (double)c1.largest_free / (double)c1.free_bytes)) < 1e-12);

    /* The map: exactly the blocks above, the first at a page boundary + 48. */
    static struct gh_shm_block blocks[64];
    size_t n = 0;
    uint64_t total = 0;
    int rc = ghr_map(seg, ANSWER_TIMEOUT_MS, blocks, 64, &n, &total);
    if (rc != GHR_OK)
        fail_msg("ghr_map: %s", ghr_strerror((enum ghr_error)rc));
    assert_int_equal(total, n);
    assert_int_equal(n, nwm);
    uint64_t base = blocks[0].addr;
    assert_int_equal(base % 4096, 48);
    for (size_t i = 0; i < n; i++) {
        const struct gh_shm_block *b = &blocks[i];
        if (b->addr - base != wm[i].off || b->size != wm[i].size || b->requested != wm[i].requested
            || b->state != wm[i].state || b->region != 0)
            fail_msg("map block %zu is (%llu, %llu, %llu, %s, region %u), expected (%llu, %llu, %llu, %s)", i,
                     (unsigned long long)(b->addr - base), (unsigned long long)b->size,
                     (unsigned long long)b->requested, b->state == GH_SHM_BLOCK_FREE ? "free" : "used",
                     b->region, (unsigned long long)wm[i].off, (unsigned long long)wm[i].size,
                     (unsigned long long)wm[i].requested, wm[i].state == GH_SHM_BLOCK_FREE ? "free" : "used");
    }
    uint64_t hs, he;
    map_bounds(p->pid, &hs, &he);
    assert_int_equal(hs, base - 48);
    assert_int_equal(he, hs + heap);

    send_line(p);
    expect_clean_exit(p);
    assert_false(seg_exists(tracked[0]));
    assert_int_equal(ghr_check(seg), GHR_STALE);
    ghr_close(seg);
}

/* ---- 3. live reading ------------------------------------------------------ */

/* One snapshot; prev is the one before (NULL: none).  fresh: it answered a
 * request of ours, so the writer published since prev. */
static void check_snapshot(const struct gh_shm_counters *c, const struct gh_shm_counters *prev, unsigned i,
                           bool fresh)
{
#define INV(cond, ...) do { if (!(cond)) fail_msg("snapshot %u: " __VA_ARGS__); } while (0)
    INV(c->live_block_bytes + c->free_bytes + c->overhead_bytes == c->heap_bytes,
        "live %llu + free %llu + overhead %llu != heap %llu", i, (unsigned long long)c->live_block_bytes,
        (unsigned long long)c->free_bytes, (unsigned long long)c->overhead_bytes, (unsigned long long)c->heap_bytes);
    INV(c->largest_free <= c->free_bytes, "largest free %llu > free %llu", i,
        (unsigned long long)c->largest_free, (unsigned long long)c->free_bytes);
    INV((c->free_blocks == 0) == (c->free_bytes == 0), "free blocks %llu, free bytes %llu", i,
        (unsigned long long)c->free_blocks, (unsigned long long)c->free_bytes);
    INV(c->live_requested <= c->live_block_bytes, "requested %llu > block bytes %llu", i,
        (unsigned long long)c->live_requested, (unsigned long long)c->live_block_bytes);
    INV(c->peak_requested >= c->live_requested, "peak requested %llu < %llu", i,
        (unsigned long long)c->peak_requested, (unsigned long long)c->live_requested);
    INV(c->peak_block_bytes >= c->live_block_bytes, "peak block bytes %llu < %llu", i,
        (unsigned long long)c->peak_block_bytes, (unsigned long long)c->live_block_bytes);
    INV(c->peak_heap_bytes >= c->heap_bytes, "peak heap %llu < %llu", i,
        (unsigned long long)c->peak_heap_bytes, (unsigned long long)c->heap_bytes);
    INV(c->peak_large_bytes >= c->large_bytes, "peak large %llu < %llu", i,
        (unsigned long long)c->peak_large_bytes, (unsigned long long)c->large_bytes);
    INV(c->large_requested <= c->large_bytes, "large requested %llu > large bytes %llu", i,
        (unsigned long long)c->large_requested, (unsigned long long)c->large_bytes);
    uint64_t hist = 0, hist_bytes_lo = 0;
    for (unsigned k = 0; k < GH_SHM_HIST_BUCKETS; k++) {
        hist += c->free_hist[k];
        hist_bytes_lo += c->free_hist[k] << k;   /* each block >= 2^k */
    }
    INV(hist == c->free_blocks, "histogram holds %llu blocks, free_blocks %llu", i,
        (unsigned long long)hist, (unsigned long long)c->free_blocks);
    INV(hist_bytes_lo <= c->free_bytes, "histogram floor %llu > free bytes %llu", i,
        (unsigned long long)hist_bytes_lo, (unsigned long long)c->free_bytes);
    if (is_buddy()) {
        uint64_t bytes = 0;
        for (unsigned k = 0; k < GH_SHM_ORDERS; k++) {
            INV(c->buddy_free[k] == c->free_hist[k], "order %u: %llu free, histogram %llu", i, k,
                (unsigned long long)c->buddy_free[k], (unsigned long long)c->free_hist[k]);
            bytes += c->buddy_free[k] << k;
        }
        INV(bytes == c->free_bytes, "orders hold %llu bytes, free_bytes %llu", i,
            (unsigned long long)bytes, (unsigned long long)c->free_bytes);
    }
    struct ghr_frag fr;
    ghr_fragmentation(c, &fr);
    INV(fr.internal >= 0 && fr.internal <= 1 && fr.external >= 0 && fr.external <= 1
        && fr.utilisation >= 0 && fr.utilisation <= 1 && fr.peak_utilisation >= 0 && fr.peak_utilisation <= 1,
        "fragmentation outside [0, 1]: %f %f %f %f", i, fr.internal, fr.external, fr.utilisation,
        fr.peak_utilisation);
    if (prev) {
        INV(c->publishes > prev->publishes || (!fresh && c->publishes == prev->publishes),
            "publishes went from %llu to %llu", i,
            (unsigned long long)prev->publishes, (unsigned long long)c->publishes);
        INV(c->time_ns >= prev->time_ns, "time went back", i);
        INV(c->peak_requested >= prev->peak_requested && c->peak_block_bytes >= prev->peak_block_bytes
            && c->peak_heap_bytes >= prev->peak_heap_bytes && c->peak_large_bytes >= prev->peak_large_bytes,
            "a peak went down", i);
    }
#undef INV
}

/* Every map: blocks in address order tiling their regions, valid sizes,
 * no two free neighbours (fit), the first at the heap's start + 48 and
 * the last ending at its end.  Returns the map's totals in *sum. */
struct map_sum {
    uint64_t used, used_bytes, requested, free, free_bytes, largest, regions, bytes;
};

static void check_map(const struct gh_shm_block *b, size_t n, uint64_t hs, uint64_t he, struct map_sum *sum)
{
    bool buddy = is_buddy();
    memset(sum, 0, sizeof *sum);
    if (n == 0)
        return;
    if (b[0].region != 0 || b[0].addr != hs + 48)
        fail_msg("first block at %#llx region %u, heap starts at %#llx", (unsigned long long)b[0].addr,
                 b[0].region, (unsigned long long)hs);
    sum->regions = 1;
    for (size_t i = 0; i < n; i++) {
        uint64_t s = b[i].size;
        if (buddy ? (s < 32 || (s & (s - 1))) : (s < 48 || s % 16))
            fail_msg("map block %zu at %#llx has size %llu", i, (unsigned long long)b[i].addr, (unsigned long long)s);
        if (b[i].state == GH_SHM_BLOCK_USED) {
            if (b[i].requested > s - 16)
                fail_msg("map block %zu: requested %llu in %llu", i, (unsigned long long)b[i].requested,
                         (unsigned long long)s);
            sum->used++;
            sum->used_bytes += s;
            sum->requested += b[i].requested;
        } else {
            if (b[i].requested != 0)
                fail_msg("free map block %zu has requested %llu", i, (unsigned long long)b[i].requested);
            sum->free++;
            sum->free_bytes += s;
            if (s > sum->largest)
                sum->largest = s;
        }
        sum->bytes += s;
        if (i == 0)
            continue;
        const struct gh_shm_block *a = &b[i - 1];
        if (b[i].region == a->region) {
            if (b[i].addr != a->addr + a->size)
                fail_msg("map block %zu at %#llx: the one before ends at %#llx", i,
                         (unsigned long long)b[i].addr, (unsigned long long)(a->addr + a->size));
            if (!buddy && a->state == GH_SHM_BLOCK_FREE && b[i].state == GH_SHM_BLOCK_FREE)
                fail_msg("map blocks %zu and %zu are free neighbours", i - 1, i);
        } else {
            if (b[i].region != a->region + 1 || b[i].addr < a->addr + a->size)
                fail_msg("map block %zu: region %u after region %u", i, b[i].region, a->region);
            sum->regions++;
        }
    }
    uint64_t last_end = b[n - 1].addr + b[n - 1].size;
    if (last_end + (buddy ? 0 : 16) != he)
        fail_msg("the last block ends at %#llx, the heap at %#llx", (unsigned long long)last_end,
                 (unsigned long long)he);
}

static void test_live(void **state)
{
    (void)state;
    bool buddy = is_buddy();
    char *args[] = { "stats_helper", "churn", NULL };
    struct proc *p = spawn(args, true);
    expect_line(p, "ready");
    struct ghr_segment *seg = open_seg(p->pid);
    static struct gh_shm_block blocks[MAP_CAP];
    struct gh_shm_counters c, prev;
    unsigned snaps = 0, racing = 0, maps = 0, whole_maps = 0, tiled = 0;
    uint64_t most_blocks = 0, max_live = 0;
    get_counters(seg, &prev);
    check_snapshot(&prev, NULL, 0, true);
    send_line(p);
    expect_line(p, "churning");
    uint64_t t0 = mono_ms();
    for (;;) {
        uint64_t ms = mono_ms() - t0;
        if (ms >= CHURN_MAX_MS || (ms >= CHURN_MIN_MS && snaps >= MIN_SNAPSHOTS && whole_maps >= MIN_MAPS))
            break;
        if (line_ready(p))
            fail_msg("the helper wrote a line while churning (it failed?)");
        get_counters(seg, &c);
        check_snapshot(&c, &prev, ++snaps, true);
        if (c.live_blocks > max_live)
            max_live = c.live_blocks;
        prev = c;
        /* Plain reads back to back, racing the writer's own publishes
         * (every GH_SHM_PUBLISH_EVERY calls): the sequence lock must keep
         * every copy whole. */
        for (unsigned k = 0; k < RACING_READS; k++, racing++) {
            int rc = ghr_counters(seg, &c);
            if (rc != GHR_OK)
                fail_msg("ghr_counters: %s", ghr_strerror((enum ghr_error)rc));
            check_snapshot(&c, &prev, snaps, false);
            prev = c;
        }
        if (snaps % MAP_EVERY)
            continue;
        size_t n = 0;
        uint64_t total = 0;
        int rc = ghr_map(seg, ANSWER_TIMEOUT_MS, blocks, MAP_CAP, &n, &total);
        if (rc != GHR_OK)
            fail_msg("ghr_map: %s", ghr_strerror((enum ghr_error)rc));
        maps++;
        if (total != n)
            continue;  /* truncated: not a whole heap */
        whole_maps++;
        uint64_t hs, he;
        map_bounds(p->pid, &hs, &he);
        struct map_sum sum;
        check_map(blocks, n, hs, he, &sum);
        if (sum.regions == 1) {
            /* one region: its blocks tile it exactly */
            uint64_t over = buddy ? BUDDY_REGION_HEADER : FIT_REGION_OVERHEAD;
            if (sum.bytes + over != he - hs)
                fail_msg("blocks of %llu bytes + %llu do not tile the region of %llu",
                         (unsigned long long)sum.bytes, (unsigned long long)over,
                         (unsigned long long)(he - hs));
            tiled++;
        }
        if (n > most_blocks)
            most_blocks = n;
    }
    send_line(p);   /* stop churning */
    expect_line(p, "done");
    if (snaps < MIN_SNAPSHOTS || whole_maps < MIN_MAPS)
        fail_msg("only %u snapshots and %u whole maps while the helper churned", snaps, whole_maps);
    assert_true(max_live > 0);
    assert_true(tiled > 0);

    /* Idle now: a map and counters taken together agree exactly. */
    size_t n = 0;
    uint64_t total = 0;
    assert_int_equal(ghr_map(seg, ANSWER_TIMEOUT_MS, blocks, MAP_CAP, &n, &total), GHR_OK);
    assert_int_equal(total, n);
    get_counters(seg, &c);
    check_snapshot(&c, &prev, ++snaps, true);
    uint64_t hs, he;
    map_bounds(p->pid, &hs, &he);
    struct map_sum sum;
    check_map(blocks, n, hs, he, &sum);
    assert_int_equal(sum.used, c.live_blocks);
    assert_int_equal(sum.used_bytes, c.live_block_bytes);
    assert_int_equal(sum.requested, c.live_requested);
    assert_int_equal(sum.free, c.free_blocks);
    assert_int_equal(sum.free_bytes, c.free_bytes);
    assert_int_equal(sum.largest, c.largest_free);
    assert_int_equal(sum.regions, c.regions);
    fprintf(stderr, "%s: %u requested snapshots, %u racing reads, %u maps (%u whole, up to %llu blocks), "
            "up to %llu live blocks\n", policy, snaps, racing, maps, whole_maps,
            (unsigned long long)most_blocks, (unsigned long long)max_live);

    send_line(p);
    expect_clean_exit(p);
    ghr_close(seg);
    assert_false(seg_exists(tracked[0]));
}

/* ---- 4. lifecycle --------------------------------------------------------- */

static void test_life_exit(void **state)
{
    (void)state;
    uint64_t t0 = real_ns();
    char *args[] = { "stats_helper", "idle", NULL };
    struct proc *p = spawn(args, true);
    pid_t pid = p->pid;
    expect_line(p, "ready");
    assert_true(seg_exists(pid));
    struct ghr_segment *seg = open_seg(pid);
    check_header(seg, pid, t0);
    assert_int_equal(ghr_check(seg), GHR_OK);
    send_line(p);
    expect_clean_exit(p);
    /* The exit handler unlinked it before the process ended. */
    assert_false(seg_exists(pid));
    assert_int_equal(ghr_check(seg), GHR_STALE);
    assert_int_equal(ghr_request_counters(seg, 100), GHR_STALE);
    ghr_close(seg);
    struct ghr_segment *none = NULL;
    int rc = ghr_open_pid((int)pid, &none);
    assert_true(rc == GHR_NO_PROCESS || rc == GHR_NO_SEGMENT);
    assert_null(none);
}

static void test_life_fork(void **state)
{
    (void)state;
    char *args[] = { "stats_helper", "fork", NULL };
    struct proc *p = spawn(args, true);
    pid_t parent = p->pid;
    expect_line(p, "ready");
    struct ghr_segment *ps = open_seg(parent);
    send_line(p);
    pid_t child = (pid_t)expect_word_num(p, "forked");
    track(child);
    assert_true(child > 0 && child != parent);
    wait_seg(child, true);
    assert_true(seg_exists(parent));

    /* Two segments, each with its own pid, both answering. */
    struct ghr_segment *cs = open_seg(child);
    assert_int_equal(ghr_header(cs)->pid, child);
    assert_int_equal(ghr_header(ps)->pid, parent);
    assert_true(ghr_header(cs)->start_time_ns >= ghr_header(ps)->start_time_ns);
    assert_true(ghr_header(cs)->magic == GH_SHM_MAGIC);
    struct gh_shm_counters cc, pc;
    get_counters(cs, &cc);
    assert_int_equal(ghr_check(ps), GHR_OK);
    assert_int_equal(ghr_check(cs), GHR_OK);

    /* The child's exit removes its own segment, not the parent's. */
    send_line(p);
    assert_int_equal(expect_word_num(p, "reaped"), 0);
    assert_false(seg_exists(child));
    assert_int_equal(ghr_check(cs), GHR_STALE);
    assert_true(seg_exists(parent));
    assert_int_equal(ghr_check(ps), GHR_OK);
    get_counters(ps, &pc);
    assert_int_equal(ghr_header(ps)->exited, 0);

    send_line(p);
    expect_clean_exit(p);
    assert_false(seg_exists(parent));
    ghr_close(cs);
    ghr_close(ps);
}

static void test_life_exec(void **state)
{
    (void)state;
    uint64_t t0 = real_ns();
    char *args[] = { "stats_helper", "exec", NULL };
    struct proc *p = spawn(args, true);
    pid_t pid = p->pid;
    expect_line(p, "ready");
    struct ghr_segment *old = open_seg(pid);
    check_header(old, pid, t0);
    check_config(old, "stats_helper exec");
    uint64_t old_start = ghr_header(old)->start_time_ns;

    send_line(p);
    expect_line(p, "ready");   /* the new image's */
    assert_true(seg_exists(pid));
    struct ghr_segment *seg = open_seg(pid);
    check_header(seg, pid, old_start);
    assert_true(ghr_header(seg)->start_time_ns > old_start);
    check_config(seg, "idle exec-image");
    struct gh_shm_counters c;
    get_counters(seg, &c);
    /* The old image is gone: its (unlinked) segment reads as stale. */
    assert_int_equal(ghr_check(old), GHR_STALE);
    ghr_close(old);

    send_line(p);
    expect_clean_exit(p);
    assert_false(seg_exists(pid));
    ghr_close(seg);
}

static void test_life_kill(void **state)
{
    (void)state;
    char *args[] = { "stats_helper", "idle", NULL };
    struct proc *p = spawn(args, true);
    pid_t pid = p->pid;
    expect_line(p, "ready");
    struct ghr_segment *seg = open_seg(pid);
    ghr_close(seg);
    assert_int_equal(ghr_remove_stale((int)pid), GHR_ALIVE);
    assert_true(seg_exists(pid));

    assert_int_equal(kill(pid, SIGKILL), 0);
    int st = wait_exit(p);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    /* No exit handler ran: the file stays, and reads as stale. */
    assert_true(seg_exists(pid));
    seg = NULL;
    assert_int_equal(ghr_open_pid((int)pid, &seg), GHR_STALE);
    assert_non_null(seg);
    assert_int_equal(ghr_header(seg)->pid, pid);
    assert_int_equal(ghr_header(seg)->exited, 0);
    struct gh_shm_counters c;
    assert_int_equal(ghr_counters(seg, &c), GHR_OK);   /* the last ones stay readable */
    assert_int_equal(ghr_request_counters(seg, 100), GHR_STALE);
    ghr_close(seg);
    assert_int_equal(ghr_remove_stale((int)pid), GHR_OK);
    assert_false(seg_exists(pid));
}

static void test_life_noshm(void **state)
{
    (void)state;
    char *args[] = { "stats_helper", "idle", NULL };
    struct proc *p = spawn(args, false);
    pid_t pid = p->pid;
    expect_line(p, "ready");
    assert_false(seg_exists(pid));
    struct ghr_segment *seg = NULL;
    assert_int_equal(ghr_open_pid((int)pid, &seg), GHR_NO_SEGMENT);
    assert_null(seg);
    send_line(p);
    expect_clean_exit(p);
    assert_false(seg_exists(pid));
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s TEST POLICY HELPER LIBRARY\n", argv[0]);
        return 2;
    }
    policy = argv[2];
    helper_path = argv[3];
    library_path = argv[4];
    signal(SIGPIPE, SIG_IGN);
    static const struct {
        const char *name;
        const struct CMUnitTest test;
    } tests[] = {
        { "preload", cmocka_unit_test_setup_teardown(test_preload, setup, teardown) },
        { "live", cmocka_unit_test_setup_teardown(test_live, setup, teardown) },
        { "life_exit", cmocka_unit_test_setup_teardown(test_life_exit, setup, teardown) },
        { "life_fork", cmocka_unit_test_setup_teardown(test_life_fork, setup, teardown) },
        { "life_exec", cmocka_unit_test_setup_teardown(test_life_exec, setup, teardown) },
        { "life_kill", cmocka_unit_test_setup_teardown(test_life_kill, setup, teardown) },
        { "life_noshm", cmocka_unit_test_setup_teardown(test_life_noshm, setup, teardown) },
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (strcmp(argv[1], tests[i].name) != 0)
            continue;
        const struct CMUnitTest one[] = { tests[i].test };
        return cmocka_run_group_tests_name(tests[i].name, one, NULL, NULL);
    }
    fprintf(stderr, "%s: unknown test '%s'\n", argv[0], argv[1]);
    return 2;
}
