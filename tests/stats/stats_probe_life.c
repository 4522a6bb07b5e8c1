/* stats_probe_life.c - gh_stats_probe life_*: the segment lives exactly as long as its process image (stats_probe.c tells the whole story). */
#include "stats_probe.h"

/* ---- 4. lifecycle --------------------------------------------------------- */

void test_life_exit(void **state)
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

void test_life_fork(void **state)
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

void test_life_exec(void **state)
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

void test_life_kill(void **state)
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

void test_life_noshm(void **state)
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

