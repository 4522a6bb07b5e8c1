/* test_reader.c - the segment reader (tools/reader) against hand-made
 * segment files.
 *
 * Proves: a valid segment opens and every value round-trips (header, config,
 * counters, map); each kind of damage gives its exact error - an empty file,
 * a file cut inside the header or inside the counters, wrong magic, another
 * version (and which one), every region outside the file or overflowing,
 * overlapping or misaligned regions, sizes too small for the fields the
 * reader uses, a map that does not hold its capacity, a bad pid, another
 * user's file, a file of another user than its live process's (forged; root
 * reads another user's segment when that user's process wrote it), things
 * that are not regular files; staleness - a reaped
 * child's pid, a live pid with other start ticks, the exited flag, a pid
 * other than the one expected, and the writer exiting while a reader waits;
 * a map entry with a bad state; the fragmentation formulas; the directory
 * scan and stale removal.  Sequence locks and requests: test_seqlock.c;
 * the large-block list: test_large.c.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "reader.h"
#include "reader_fixture.h"
#include "shm_image.h"

#define OTHER_UID  65534u   /* nobody: owns the "other user" file */
#define CHILD_UID  65533u   /* a third user the child becomes */

/* A pid that names no process: a child already reaped. */
static int reaped_pid(void)
{
    pid_t p = fork();
    if (p == 0)
        _exit(0);
    assert_true(p > 0);
    assert_int_equal(waitpid(p, NULL, 0), p);
    return (int)p;
}

/* ---- valid segments --------------------------------------------------- */

static void test_valid_roundtrip(void **state)
{
    (void)state;
    struct img m;
    img_init(&m);
    struct ghr_segment *seg = NULL;
    assert_int_equal(open_img("valid", &m, &seg), GHR_OK);
    assert_non_null(seg);
    assert_int_equal(ghr_version_found(seg), GH_SHM_VERSION);
    assert_int_equal(ghr_check(seg), GHR_OK);

    const struct gh_shm_header *h = ghr_header(seg);
    assert_non_null(h);
    assert_memory_equal(h, &m.h, sizeof m.h);

    struct gh_shm_config cfg;
    assert_int_equal(ghr_config(seg, &cfg), GHR_OK);
    assert_memory_equal(&cfg, &m.cfg, sizeof cfg);
    assert_string_equal(cfg.policy, "best");
    assert_string_equal(cfg.cmdline, "./prog --flag x");

    struct gh_shm_counters c;
    assert_int_equal(ghr_counters(seg, &c), GHR_OK);
    assert_memory_equal(&c, &m.cnt, sizeof c);

    struct gh_shm_block b[IMG_CAP];
    size_t n = 99;
    uint64_t total = 99;
    assert_int_equal(ghr_map(seg, -1, b, IMG_CAP, &n, &total), GHR_OK);
    assert_int_equal(n, 3);
    assert_int_equal(total, 5);
    assert_memory_equal(b, m.blocks, 3 * sizeof b[0]);
    assert_int_equal(ghr_map(seg, -1, b, 2, &n, &total), GHR_OK);   /* cap */
    assert_int_equal(n, 2);
    assert_int_equal(ghr_map(seg, -1, NULL, 0, &n, NULL), GHR_OK);
    assert_int_equal(n, 0);
    ghr_close(seg);

    /* nblocks beyond the capacity: capacity entries */
    m.map.nblocks = 1000;
    assert_int_equal(open_img("valid", &m, &seg), GHR_OK);
    assert_int_equal(ghr_map(seg, -1, b, IMG_CAP, &n, &total), GHR_OK);
    assert_int_equal(n, IMG_CAP);
    ghr_close(seg);

    /* a file longer than total_size is fine */
    img_init(&m);
    char big[sizeof m + 100];
    memset(big, 0xee, sizeof big);
    memcpy(big, &m, sizeof m);
    assert_int_equal(img_write(tpath("long"), big, sizeof big), 0);
    assert_int_equal(ghr_open_path(tpath("long"), getpid(), &seg), GHR_OK);
    ghr_close(seg);
}

static void test_config_strings_terminated(void **state)
{
    (void)state;
    struct img m;
    img_init(&m);
    memset(m.cfg.policy, 'p', sizeof m.cfg.policy);
    memset(m.cfg.cmdline, 'c', sizeof m.cfg.cmdline);
    struct ghr_segment *seg = NULL;
    assert_int_equal(open_img("strings", &m, &seg), GHR_OK);
    struct gh_shm_config cfg;
    assert_int_equal(ghr_config(seg, &cfg), GHR_OK);
    assert_int_equal(strlen(cfg.policy), sizeof cfg.policy - 1);
    assert_int_equal(strlen(cfg.cmdline), sizeof cfg.cmdline - 1);
    ghr_close(seg);

    /* a config cut after the policy: the rest reads 0 */
    img_init(&m);
    m.h.config_size = sizeof m.cfg.policy;
    assert_int_equal(open_img("strings", &m, &seg), GHR_OK);
    assert_int_equal(ghr_config(seg, &cfg), GHR_OK);
    assert_string_equal(cfg.policy, "best");
    assert_int_equal(cfg.mmap_threshold, 0);
    assert_string_equal(cfg.cmdline, "");
    ghr_close(seg);
}

static void test_short_counters_zero_filled(void **state)
{
    (void)state;
    struct img m;
    img_init(&m);
    m.h.counters_size = offsetof(struct gh_shm_counters, calloc_calls) + 8;
    struct ghr_segment *seg = NULL;
    assert_int_equal(open_img("shortcnt", &m, &seg), GHR_OK);
    struct gh_shm_counters c;
    memset(&c, 0xff, sizeof c);
    assert_int_equal(ghr_counters(seg, &c), GHR_OK);
    assert_int_equal(c.malloc_calls, m.cnt.malloc_calls);
    assert_int_equal(c.calloc_calls, m.cnt.calloc_calls);
    assert_int_equal(c.realloc_calls, 0);
    assert_int_equal(c.free_hist[3], 0);
    assert_int_equal(c.reserved[2], 0);
    assert_int_equal(c.large_reused, 0); /* the last word */
    assert_int_equal(c.mmap_threshold_rises, 0);
    assert_int_equal(c.zero_blocks, 0);
    ghr_close(seg);

    /* a partial last word is not copied */
    m.h.counters_size = offsetof(struct gh_shm_counters, realloc_calls) + 4;
    assert_int_equal(open_img("shortcnt", &m, &seg), GHR_OK);
    assert_int_equal(ghr_counters(seg, &c), GHR_OK);
    assert_int_equal(c.calloc_calls, m.cnt.calloc_calls);
    assert_int_equal(c.realloc_calls, 0);
    ghr_close(seg);
}

/* ---- damaged segments ------------------------------------------------- */

static void test_truncated(void **state)
{
    (void)state;
    struct img m;
    img_init(&m);
    expect_open_error("empty", &m, 0, GHR_TRUNCATED);
    expect_open_error("inheader", &m, sizeof m.h - 1, GHR_TRUNCATED);
    expect_open_error("incounters", &m, offsetof(struct img, cnt) + 100, GHR_TRUNCATED);
    expect_open_error("inmap", &m, sizeof m - 1, GHR_TRUNCATED);
}

static void test_magic_and_version(void **state)
{
    (void)state;
    struct img m;
    img_init(&m);
    m.h.magic ^= 1;
    expect_open_error("magic", &m, sizeof m, GHR_BAD_MAGIC);

    img_init(&m);
    m.h.version = 7;
    struct ghr_segment *seg = NULL;
    assert_int_equal(open_img("version", &m, &seg), GHR_BAD_VERSION);
    assert_non_null(seg);
    assert_int_equal(ghr_version_found(seg), 7);
    assert_null(ghr_header(seg));
    struct gh_shm_counters c;
    struct gh_shm_config cfg;
    assert_int_equal(ghr_counters(seg, &c), GHR_BAD_VERSION);
    assert_int_equal(ghr_config(seg, &cfg), GHR_BAD_VERSION);
    assert_int_equal(ghr_map(seg, -1, NULL, 0, NULL, NULL), GHR_BAD_VERSION);
    assert_int_equal(ghr_request_counters(seg, 0), GHR_BAD_VERSION);
    ghr_close(seg);
}

struct mutation {
    const char *what;
    size_t off1; uint64_t val1;     /* header field offset, value */
    size_t off2; uint64_t val2;     /* a second one, or off2 = 0 */
    int want;
};

#define HOFF(f) offsetof(struct gh_shm_header, f)
#define U32MAX  0xffffffffull

static void set_field(struct img *m, size_t off, uint64_t val)
{
    uint8_t *p = (uint8_t *)&m->h + off;
    size_t width = (off == HOFF(total_size) || off == HOFF(magic) ||
                    off == HOFF(proc_start_ticks) || off == HOFF(exited)) ? 8 : 4;
    memcpy(p, &val, width);
}

static void test_layout(void **state)
{
    (void)state;
    const size_t IMG = sizeof(struct img);
    const size_t CNT = offsetof(struct img, cnt), CFG = offsetof(struct img, cfg);
    const struct mutation table[] = {
        { "control", 0, 0, 0, 0, GHR_OK },
        { "header_size tiny", HOFF(header_size), 8, 0, 0, GHR_BAD_LAYOUT },
        { "header_size past file", HOFF(header_size), IMG + 1, 0, 0, GHR_TRUNCATED },
        { "header_size past total", HOFF(total_size), 100, 0, 0, GHR_BAD_LAYOUT },
        { "total_size past file", HOFF(total_size), IMG + 8, 0, 0, GHR_TRUNCATED },
        { "total_size huge", HOFF(total_size), UINT64_MAX, 0, 0, GHR_TRUNCATED },
        { "config outside", HOFF(config_offset), IMG, 0, 0, GHR_BAD_LAYOUT },
        { "config over header", HOFF(config_offset), 0, 0, 0, GHR_BAD_LAYOUT },
        { "config too small", HOFF(config_size), 8, 0, 0, GHR_BAD_LAYOUT },
        { "counters offset overflow", HOFF(counters_offset), U32MAX - 7, 0, 0, GHR_BAD_LAYOUT },
        { "counters size overflow", HOFF(counters_size), U32MAX, 0, 0, GHR_BAD_LAYOUT },
        { "counters too small", HOFF(counters_size), 32, 0, 0, GHR_BAD_LAYOUT },
        { "counters misaligned", HOFF(counters_offset), CNT + 4,
          HOFF(counters_size), sizeof(struct gh_shm_counters) - 8, GHR_BAD_LAYOUT },
        { "counters over config", HOFF(counters_offset), CFG, 0, 0, GHR_BAD_LAYOUT },
        { "map offset overflow", HOFF(map_offset), U32MAX - 7, 0, 0, GHR_BAD_LAYOUT },
        { "map size overflow", HOFF(map_size), U32MAX, 0, 0, GHR_BAD_LAYOUT },
        { "map smaller than its head", HOFF(map_size), 64, HOFF(map_capacity), 0, GHR_BAD_LAYOUT },
        { "capacity one too many", HOFF(map_capacity), IMG_CAP + 1, 0, 0, GHR_BAD_LAYOUT },
        { "capacity huge", HOFF(map_capacity), U32MAX, 0, 0, GHR_BAD_LAYOUT },
        { "capacity*block overflow", HOFF(map_capacity), U32MAX, HOFF(block_size), U32MAX - 7, GHR_BAD_LAYOUT },
        { "block too small", HOFF(block_size), 24, 0, 0, GHR_BAD_LAYOUT },
        { "block misaligned", HOFF(block_size), 36, HOFF(map_capacity), 1, GHR_BAD_LAYOUT },
        { "block larger than map", HOFF(block_size), 40, 0, 0, GHR_BAD_LAYOUT },
        { "pid 0", HOFF(pid), 0, 0, 0, GHR_BAD_LAYOUT },
        { "pid -1", HOFF(pid), U32MAX, 0, 0, GHR_BAD_LAYOUT },
        /* accepted: a smaller capacity, a wider block that still fits */
        { "capacity smaller", HOFF(map_capacity), 2, 0, 0, GHR_OK },
        { "wider block", HOFF(block_size), 40, HOFF(map_capacity), 12, GHR_OK },
        { "minimal counters", HOFF(counters_size), 40, 0, 0, GHR_OK },
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        struct img m;
        img_init(&m);
        if (table[i].off1 || table[i].val1)
            set_field(&m, table[i].off1, table[i].val1);
        if (table[i].off2)
            set_field(&m, table[i].off2, table[i].val2);
        struct ghr_segment *seg = NULL;
        write_img("layout", &m, sizeof m);
        int rc = ghr_open_path(tpath("layout"), 0, &seg);
        if (rc != table[i].want)
            fail_msg("%s: got %d (%s), want %d", table[i].what, rc, ghr_strerror(rc),
                     table[i].want);
        assert_true(rc == GHR_OK ? seg != NULL : seg == NULL);
        ghr_close(seg);
    }
}

static void test_not_regular(void **state)
{
    (void)state;
    struct ghr_segment *seg = (struct ghr_segment *)1;
    assert_int_equal(mkdir(tpath("adir"), 0700), 0);
    assert_int_equal(ghr_open_path(tpath("adir"), 0, &seg), GHR_TRUNCATED);
    assert_null(seg);
    assert_int_equal(mkfifo(tpath("afifo"), 0600), 0);
    assert_int_equal(ghr_open_path(tpath("afifo"), 0, &seg), GHR_TRUNCATED);
    struct img m;
    img_init(&m);
    write_img("target", &m, sizeof m);
    char target[256];
    snprintf(target, sizeof target, "%s", tpath("target"));   /* tpath's buffer is shared */
    assert_int_equal(symlink(target, tpath("alink")), 0);
    assert_int_equal(ghr_open_path(tpath("alink"), 0, &seg), GHR_TRUNCATED);
    assert_int_equal(ghr_open_path(tpath("missing"), 0, &seg), GHR_NO_SEGMENT);
    assert_null(seg);
}

static void test_other_user(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    struct img m;
    img_init(&m);
    write_img("other", &m, sizeof m);
    write_img("other600", &m, sizeof m);
    assert_int_equal(chown(tpath("other"), OTHER_UID, OTHER_UID), 0);
    assert_int_equal(chmod(tpath("other"), 0666), 0);   /* open works: fstat decides */
    assert_int_equal(chown(tpath("other600"), OTHER_UID, OTHER_UID), 0);
    assert_int_equal(chmod(g_dir, 0711), 0);

    /* A file of another user that names root's own process: forged. */
    struct ghr_segment *seg = (struct ghr_segment *)1;
    assert_int_equal(ghr_open_path(tpath("other"), 0, &seg), GHR_FORGED);
    assert_null(seg);

    /* root reads anyone's: the same owner as a live process of OTHER_UID */
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t owner = fork();
    if (owner == 0) {
        if (setresgid(OTHER_UID, OTHER_UID, OTHER_UID) != 0 || setresuid(OTHER_UID, OTHER_UID, OTHER_UID) != 0)
            _exit(100);
        close(ready[0]);
        assert_int_equal(write(ready[1], "r", 1), 1);
        pause();
        _exit(0);
    }
    char r;
    close(ready[1]);
    assert_int_equal(read(ready[0], &r, 1), 1);
    close(ready[0]);
    struct gh_proc_stat pst;
    assert_int_equal(gh_proc_stat_read(owner, &pst), 1);
    struct img theirs;
    img_init(&theirs);
    theirs.h.pid = owner;
    theirs.h.proc_start_ticks = pst.start_ticks;
    write_img("theirs", &theirs, sizeof theirs);
    assert_int_equal(chown(tpath("theirs"), OTHER_UID, OTHER_UID), 0);
    seg = NULL;
    int rc = ghr_open_path(tpath("theirs"), 0, &seg);
    ghr_close(seg);
    kill(owner, SIGKILL);
    waitpid(owner, NULL, 0);
    assert_int_equal(rc, GHR_OK);

    pid_t p = fork();
    if (p == 0) {
        if (setresgid(CHILD_UID, CHILD_UID, CHILD_UID) != 0 ||
            setresuid(CHILD_UID, CHILD_UID, CHILD_UID) != 0)
            _exit(100);
        struct ghr_segment *s = NULL;
        int a = ghr_open_path(tpath("other"), 0, &s);
        int b = ghr_open_path(tpath("other600"), 0, &s);
        _exit(a == GHR_NOT_OWNER && b == GHR_NOT_OWNER && s == NULL ? 0 : 10 + a);
    }
    int status = 0;
    assert_int_equal(waitpid(p, &status, 0), p);
    assert_int_equal(chmod(g_dir, 0700), 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- staleness -------------------------------------------------------- */

static void expect_stale(const char *name, const struct img *m, int expect_pid)
{
    struct ghr_segment *seg = NULL;
    write_img(name, m, sizeof *m);
    assert_int_equal(ghr_open_path(tpath(name), expect_pid, &seg), GHR_STALE);
    assert_non_null(seg);                        /* still readable */
    struct gh_shm_counters c;
    assert_int_equal(ghr_counters(seg, &c), GHR_OK);
    assert_int_equal(c.malloc_calls, m->cnt.malloc_calls);
    assert_int_equal(ghr_check(seg), GHR_STALE);
    assert_int_equal(ghr_request_counters(seg, 1000), GHR_STALE);   /* at once */
    assert_int_equal(ghr_map(seg, 1000, NULL, 0, NULL, NULL), GHR_STALE);
    assert_int_equal(ghr_map(seg, -1, NULL, 0, NULL, NULL), GHR_OK);
    ghr_close(seg);
}

static void test_stale(void **state)
{
    (void)state;
    struct img m;
    img_init(&m);
    m.h.pid = reaped_pid();
    expect_stale("reaped", &m, 0);

    img_init(&m);
    m.h.proc_start_ticks += 1;                   /* pid reused */
    expect_stale("ticks", &m, 0);

    img_init(&m);
    m.h.exited = 1;
    expect_stale("exited", &m, 0);

    img_init(&m);
    expect_stale("otherpid", &m, getpid() == 1 ? 2 : 1);

    /* the control: the same image with the right pid is live */
    struct ghr_segment *seg = NULL;
    write_img("live", &m, sizeof m);
    assert_int_equal(ghr_open_path(tpath("live"), getpid(), &seg), GHR_OK);
    ghr_close(seg);
}

static void test_open_pid(void **state)
{
    (void)state;
    struct ghr_segment *seg = (struct ghr_segment *)1;
    assert_int_equal(ghr_open_pid(0, &seg), GHR_NO_PROCESS);
    assert_null(seg);
    assert_int_equal(ghr_open_pid(-5, &seg), GHR_NO_PROCESS);
    assert_int_equal(ghr_open_pid(reaped_pid(), &seg), GHR_NO_PROCESS);
    /* this test program is alive and not under glassheap */
    char path[64];
    snprintf(path, sizeof path, GH_SHM_DIR "/glassheap.%d", (int)getpid());
    if (access(path, F_OK) != 0)
        assert_int_equal(ghr_open_pid(getpid(), &seg), GHR_NO_SEGMENT);
    assert_null(seg);
}

/* ---- the map ---------------------------------------------------------- */

static void test_map_bad_state(void **state)
{
    (void)state;
    struct gh_shm_block b[IMG_CAP];
    size_t n;
    const uint32_t bad[] = { 0, 4, 0xffffffffu }; /* 3 is GH_SHM_BLOCK_CACHED */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct img m;
        img_init(&m);
        m.blocks[1].state = bad[i];
        struct ghr_segment *seg = NULL;
        assert_int_equal(open_img("badstate", &m, &seg), GHR_OK);
        assert_int_equal(ghr_map(seg, -1, b, IMG_CAP, &n, NULL), GHR_BAD_LAYOUT);
        assert_int_equal(ghr_map(seg, -1, b, 1, &n, NULL), GHR_OK);  /* not read */
        assert_int_equal(n, 1);
        ghr_close(seg);
    }
    /* past nblocks nothing is judged */
    struct img m;
    img_init(&m);
    m.blocks[5].state = 9;
    struct ghr_segment *seg = NULL;
    assert_int_equal(open_img("badstate", &m, &seg), GHR_OK);
    assert_int_equal(ghr_map(seg, -1, b, IMG_CAP, &n, NULL), GHR_OK);
    ghr_close(seg);
}

/* ---- fragmentation ---------------------------------------------------- */

static void test_fragmentation(void **state)
{
    (void)state;
    struct gh_shm_counters c;
    memset(&c, 0, sizeof c);
    struct ghr_frag f;
    memset(&f, 0xff, sizeof f);
    ghr_fragmentation(&c, &f);                   /* every denominator 0 */
    assert_true(f.internal == 0.0 && f.external == 0.0);
    assert_true(f.utilisation == 0.0 && f.peak_utilisation == 0.0);

    c.live_requested = 750;
    c.live_block_bytes = 1000;
    c.largest_free = 100;
    c.free_bytes = 400;
    c.heap_bytes = 3000;
    c.peak_requested = 900;
    c.peak_heap_bytes = 1200;
    ghr_fragmentation(&c, &f);
    assert_true(f.internal == 0.25);
    assert_true(f.external == 0.75);
    assert_true(f.utilisation == 0.25);
    assert_true(f.peak_utilisation == 0.75);

    c.largest_free = 400;                        /* one free block: none external */
    ghr_fragmentation(&c, &f);
    assert_true(f.external == 0.0);
}

/* ---- the directory ---------------------------------------------------- */

struct seen {
    int n;
    int pid[16];
    int status[16];
};

static void record(void *ctx, int pid, enum ghr_error status)
{
    struct seen *s = ctx;
    if (s->n < 16) {
        s->pid[s->n] = pid;
        s->status[s->n] = status;
    }
    s->n++;
}

static int status_of(const struct seen *s, int pid)
{
    for (int i = 0; i < s->n && i < 16; i++)
        if (s->pid[i] == pid)
            return s->status[i];
    return -1;
}

static void test_list_and_remove(void **state)
{
    (void)state;
    char dir[] = "/tmp/gh_shm_list.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[512];
    struct img m;

    int live = (int)getpid(), dead = reaped_pid(), junk = 4242;
    img_init(&m);
    snprintf(path, sizeof path, "%s/glassheap.%d", dir, live);
    assert_int_equal(img_write(path, &m, sizeof m), 0);
    m.h.pid = dead;
    snprintf(path, sizeof path, "%s/glassheap.%d", dir, dead);
    assert_int_equal(img_write(path, &m, sizeof m), 0);
    snprintf(path, sizeof path, "%s/glassheap.%d", dir, junk);
    assert_int_equal(img_write(path, "not a segment", 13), 0);
    /* names that are not glassheap.<pid> are skipped, whatever they hold */
    const char *skipped[] = { "glassheap.", "glassheap.0123", "glassheap.12x", "glassheap.-3",
                              "glassheap.99999999999", "glassheap.2147483648", "other.1" };
    img_init(&m);
    for (size_t i = 0; i < sizeof skipped / sizeof skipped[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, skipped[i]);
        assert_int_equal(img_write(path, &m, sizeof m), 0);
    }

    struct seen s = { 0 };
    assert_int_equal(ghr_list_dir(dir, record, &s), GHR_OK);
    assert_int_equal(s.n, 3);
    assert_int_equal(status_of(&s, live), GHR_OK);
    assert_int_equal(status_of(&s, dead), GHR_STALE);
    assert_int_equal(status_of(&s, junk), GHR_TRUNCATED);  /* 13 bytes */

    assert_int_equal(ghr_remove_stale_dir(dir, live), GHR_ALIVE);
    assert_int_equal(ghr_remove_stale_dir(dir, junk), GHR_TRUNCATED);
    assert_int_equal(ghr_remove_stale_dir(dir, dead), GHR_OK);
    assert_int_equal(ghr_remove_stale_dir(dir, dead), GHR_NO_SEGMENT);
    assert_int_equal(ghr_remove_stale_dir(dir, 0), GHR_NO_SEGMENT);
    snprintf(path, sizeof path, "%s/glassheap.%d", dir, dead);
    assert_int_not_equal(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/glassheap.%d", dir, live);
    assert_int_equal(access(path, F_OK), 0);

    s.n = 0;
    assert_int_equal(ghr_list_dir(dir, record, &s), GHR_OK);
    assert_int_equal(s.n, 2);
    assert_int_equal(ghr_list_dir("/nonexistent/dir", record, &s), GHR_IO);
    assert_int_equal(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static void test_strerror(void **state)
{
    (void)state;
    for (int i = GHR_OK; i <= GHR_ERROR_MAX; i++) {
        const char *a = ghr_strerror((enum ghr_error)i);
        assert_non_null(a);
        assert_true(strlen(a) > 5);
        assert_null(strchr(a, '\n'));
        for (int j = GHR_OK; j < i; j++)
            assert_string_not_equal(a, ghr_strerror((enum ghr_error)j));
    }
    assert_non_null(ghr_strerror((enum ghr_error)999));
    assert_non_null(strstr(ghr_strerror(GHR_NO_SEGMENT), "/dev/shm/glassheap.<pid>"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_roundtrip),
        cmocka_unit_test(test_config_strings_terminated),
        cmocka_unit_test(test_short_counters_zero_filled),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_magic_and_version),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_not_regular),
        cmocka_unit_test(test_other_user),
        cmocka_unit_test(test_stale),
        cmocka_unit_test(test_open_pid),
        cmocka_unit_test(test_map_bad_state),
        cmocka_unit_test(test_fragmentation),
        cmocka_unit_test(test_list_and_remove),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
