/* test_seqlock.c - the reader's sequence locks and requests against
 * hand-made segment files shared with a thread acting as the writer.
 *
 * Proves: the sequence locks - held forever gives GHR_BUSY, a writer thread
 * hammering two related fields is never seen torn; requests - answered by
 * a thread acting as the writer, or timed out (also when the writer exits
 * while a reader waits).
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
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "reader_fixture.h"
#include "shm_image.h"

/* ---- sequence locks --------------------------------------------------- */

static void test_seqlock_held(void **state)
{
    (void)state;
    struct img m;
    img_init(&m);
    m.cnt.seq = 7;
    m.map.seq = 9;
    struct ghr_segment *seg = NULL;
    assert_int_equal(open_img("held", &m, &seg), GHR_OK);
    struct gh_shm_counters c;
    uint64_t t0 = ms_now();
    assert_int_equal(ghr_counters(seg, &c), GHR_BUSY);
    struct gh_shm_block b[4];
    assert_int_equal(ghr_map(seg, -1, b, 4, NULL, NULL), GHR_BUSY);
    assert_true(ms_now() - t0 < 3000);
    ghr_close(seg);
}

/* Maps a test file read-write: the test acts as the writer through it. */
static struct img *map_file(const char *name)
{
    int fd = open(tpath(name), O_RDWR);
    assert_true(fd >= 0);
    void *p = mmap(NULL, sizeof(struct img), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    assert_true(p != MAP_FAILED);
    return p;
}

static void spin_us(unsigned us)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do
        clock_gettime(CLOCK_MONOTONIC, &b);
    while ((b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000 < us);
}

struct writer {
    struct img *m;
    int stop;              /* __atomic */
    uint64_t done;         /* publishes made */
};

#define W_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

/* Writes a, then b = 2a, inside the lock, slowly: a reader that ignored the
 * lock would catch b == 2(a - 1).  Sometimes holds the lock for 3 ms. */
static void *torn_writer(void *arg)
{
    struct writer *w = arg;
    struct gh_shm_counters *c = &w->m->cnt;
    for (uint64_t i = 1; !__atomic_load_n(&w->stop, __ATOMIC_RELAXED); i++) {
        uint64_t s = __atomic_load_n(&c->seq, __ATOMIC_RELAXED);
        W_STORE(&c->seq, s + 1);
        __atomic_thread_fence(__ATOMIC_RELEASE);
        W_STORE(&c->malloc_calls, i);
        spin_us(i % 64 == 0 ? 3000 : 20);
        W_STORE(&c->free_calls, 2 * i);
        __atomic_store_n(&c->seq, s + 2, __ATOMIC_RELEASE);
        w->done = i;
        spin_us(30);
    }
    return NULL;
}

static void test_seqlock_never_torn(void **state)
{
    (void)state;
    struct img m;
    img_init(&m);
    m.cnt.malloc_calls = 0;
    m.cnt.free_calls = 0;
    struct ghr_segment *seg = NULL;
    assert_int_equal(open_img("torn", &m, &seg), GHR_OK);
    struct writer w = { .m = map_file("torn") };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, torn_writer, &w), 0);
    unsigned ok = 0, busy = 0;
    uint64_t t0 = ms_now();
    while (ms_now() - t0 < 400) {
        struct gh_shm_counters c;
        int rc = ghr_counters(seg, &c);
        if (rc == GHR_OK) {
            ok++;
            if (c.free_calls != 2 * c.malloc_calls)
                fail_msg("torn read: a = %llu, b = %llu", (unsigned long long)c.malloc_calls,
                         (unsigned long long)c.free_calls);
            assert_int_equal(c.seq % 2, 0);
        } else {
            assert_int_equal(rc, GHR_BUSY);
            busy++;
        }
    }
    __atomic_store_n(&w.stop, 1, __ATOMIC_RELAXED);
    pthread_join(t, NULL);
    print_message("seqlock: %u consistent reads, %u busy, %llu writes\n", ok, busy,
                  (unsigned long long)w.done);
    assert_true(ok > 10);
    assert_true(w.done > 10);
    munmap(w.m, sizeof *w.m);
    ghr_close(seg);
}

/* ---- requests --------------------------------------------------------- */

/* Answers counter and map requests the way shm.h says the library does. */
static void *answering_writer(void *arg)
{
    struct writer *w = arg;
    struct gh_shm_counters *c = &w->m->cnt;
    struct gh_shm_map *mp = &w->m->map;
    while (!__atomic_load_n(&w->stop, __ATOMIC_RELAXED)) {
        uint64_t rq = __atomic_load_n(&c->request, __ATOMIC_ACQUIRE);
        if (rq > __atomic_load_n(&c->answered, __ATOMIC_RELAXED)) {
            uint64_t s = c->seq;
            W_STORE(&c->seq, s + 1);
            __atomic_thread_fence(__ATOMIC_RELEASE);
            W_STORE(&c->publishes, c->publishes + 1);
            __atomic_store_n(&c->seq, s + 2, __ATOMIC_RELEASE);
            __atomic_store_n(&c->answered, rq, __ATOMIC_RELEASE);
        }
        rq = __atomic_load_n(&mp->request, __ATOMIC_ACQUIRE);
        if (rq > __atomic_load_n(&mp->answered, __ATOMIC_RELAXED)) {
            uint64_t s = mp->seq;
            W_STORE(&mp->seq, s + 1);
            __atomic_thread_fence(__ATOMIC_RELEASE);
            for (unsigned i = 0; i < 4; i++) {
                w->m->blocks[i].addr = 0x900000 + 0x40 * i;
                w->m->blocks[i].size = 0x40;
                w->m->blocks[i].state = GH_SHM_BLOCK_USED;
            }
            W_STORE(&mp->nblocks, 4);
            W_STORE(&mp->total_blocks, 4);
            __atomic_store_n(&mp->seq, s + 2, __ATOMIC_RELEASE);
            __atomic_store_n(&mp->answered, rq, __ATOMIC_RELEASE);
        }
        spin_us(200);
    }
    return NULL;
}

static void test_request_answered(void **state)
{
    (void)state;
    struct img m;
    img_init(&m);
    uint64_t before = m.cnt.publishes;
    struct ghr_segment *seg = NULL;
    assert_int_equal(open_img("answer", &m, &seg), GHR_OK);
    struct writer w = { .m = map_file("answer") };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, answering_writer, &w), 0);

    assert_int_equal(ghr_request_counters(seg, 5000), GHR_OK);
    struct gh_shm_counters c;
    assert_int_equal(ghr_counters(seg, &c), GHR_OK);
    assert_int_equal(c.publishes, before + 1);
    assert_int_equal(c.answered, 1);
    assert_int_equal(ghr_request_counters(seg, 5000), GHR_OK);
    assert_int_equal(ghr_counters(seg, &c), GHR_OK);
    assert_int_equal(c.publishes, before + 2);

    struct gh_shm_block b[IMG_CAP];
    size_t n = 0;
    uint64_t total = 0;
    assert_int_equal(ghr_map(seg, 5000, b, IMG_CAP, &n, &total), GHR_OK);
    assert_int_equal(n, 4);
    assert_int_equal(total, 4);
    assert_int_equal(b[3].addr, 0x9000c0);
    assert_int_equal(w.m->map.request, 1);

    __atomic_store_n(&w.stop, 1, __ATOMIC_RELAXED);
    pthread_join(t, NULL);
    munmap(w.m, sizeof *w.m);
    ghr_close(seg);
}

static void test_request_timeout(void **state)
{
    (void)state;
    struct img m;
    img_init(&m);
    struct ghr_segment *seg = NULL;
    assert_int_equal(open_img("silent", &m, &seg), GHR_OK);
    struct img *file = map_file("silent");

    uint64_t t0 = ms_now();
    assert_int_equal(ghr_request_counters(seg, 80), GHR_TIMEOUT);
    uint64_t dt = ms_now() - t0;
    assert_true(dt >= 80 && dt < 1500);
    assert_int_equal(file->cnt.request, 1);      /* the request was made */

    t0 = ms_now();
    assert_int_equal(ghr_map(seg, 0, NULL, 0, NULL, NULL), GHR_TIMEOUT);
    assert_true(ms_now() - t0 < 500);
    assert_int_equal(file->map.request, 1);

    /* the writer exits while we wait: stale, long before the timeout */
    t0 = ms_now();
    pid_t p = fork();
    if (p == 0) {
        spin_us(30000);
        __atomic_store_n(&file->h.exited, 1, __ATOMIC_RELEASE);
        _exit(0);
    }
    assert_int_equal(ghr_request_counters(seg, 10000), GHR_STALE);
    assert_true(ms_now() - t0 < 3000);
    waitpid(p, NULL, 0);
    assert_int_equal(ghr_check(seg), GHR_STALE);

    munmap(file, sizeof *file);
    ghr_close(seg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seqlock_held),
        cmocka_unit_test(test_seqlock_never_torn),
        cmocka_unit_test(test_request_answered),
        cmocka_unit_test(test_request_timeout),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
