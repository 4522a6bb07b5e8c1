/* test_trace.c - trace.c in-process: the file it writes, read back as raw
 * bytes and checked against include/glassheap/trace.h's format.
 *
 * Proves: the header is 344 bytes at the documented offsets (magic
 * "GHHTRAC1", version, sizes, pid, start time, policy, threshold, command
 * line with NULs turned into spaces, forked_from 0, reserved words 0); each
 * record is 48 bytes at the documented offsets with its fields as given,
 * the calling thread's id, a time since the start that never goes back and
 * zero padding; records past the buffer (GH_TRACE_BUFFER) are flushed in
 * order and none is lost or repeated; %p becomes the pid; a forked child
 * writes its own file (the pattern's %p, or ".<pid>" appended) marked with
 * forked_from, and leaves the parent's file alone; a file that cannot be
 * opened, is not a regular file or whose header cannot be written is an
 * error from gh_trace_open, a write failure later
 * stops recording with one line on stderr, and a closed trace ignores
 * records.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core_util.h"
#include "os.h"
#include "trace.h"

/* The format, as include/glassheap/trace.h lays it out (x86_64). */
#define HEADER_SIZE 344u
#define RECORD_SIZE 48u
#define H_MAGIC 0
#define H_VERSION 8
#define H_HEADER_SIZE 12
#define H_RECORD_SIZE 16
#define H_PID 20
#define H_START_NS 24
#define H_POLICY 32
#define H_THRESHOLD 48
#define H_CMDLINE 56
#define H_FORKED_FROM 312
#define H_RESERVED32 316
#define H_RESERVED 320
#define R_TIME 0
#define R_PTR 8
#define R_RESULT 16
#define R_SIZE 24
#define R_ALIGN 32
#define R_TID 36
#define R_OP 40
#define R_PAD 41

static struct gh_trace T; /* 2048 buffered records: not on the stack */

static uint64_t u64_at(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t u32_at(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t now_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* The header at raw: everything but the start time, which is checked
 * against [t0, t1] when t1 is nonzero. */
static void check_header(const unsigned char *raw, long pid, const char *policy, uint64_t threshold,
                         long forked_from, uint64_t t0, uint64_t t1)
{
    assert_memory_equal(raw + H_MAGIC, "GHHTRAC1", 8);
    assert_int_equal(u64_at(raw + H_MAGIC), GH_TRACE_MAGIC);
    assert_int_equal(u32_at(raw + H_VERSION), GH_TRACE_VERSION);
    assert_int_equal(u32_at(raw + H_HEADER_SIZE), HEADER_SIZE);
    assert_int_equal(u32_at(raw + H_RECORD_SIZE), RECORD_SIZE);
    assert_int_equal((int32_t)u32_at(raw + H_PID), pid);
    if (t1) {
        uint64_t start = u64_at(raw + H_START_NS);
        assert_true(start >= t0 && start <= t1);
    }
    char pol[16];
    memset(pol, 0, sizeof pol);
    strncpy(pol, policy, sizeof pol - 1);
    assert_memory_equal(raw + H_POLICY, pol, 16);
    assert_int_equal(u64_at(raw + H_THRESHOLD), threshold);
    assert_int_equal((int32_t)u32_at(raw + H_FORKED_FROM), forked_from);
    assert_true(all_zero(raw + H_RESERVED32, 4));
    assert_true(all_zero(raw + H_RESERVED, 24));

    /* The command line: /proc/self/cmdline, NULs as spaces, cut to 255. */
    char want[256];
    memset(want, 0, sizeof want);
    FILE *f = fopen("/proc/self/cmdline", "r");
    assert_non_null(f);
    size_t r = fread(want, 1, sizeof want - 1, f);
    fclose(f);
    for (size_t i = 0; i + 1 < r; i++)
        if (want[i] == '\0')
            want[i] = ' ';
    assert_memory_equal(raw + H_CMDLINE, want, 256);
}

static void test_layout(void **state)
{
    (void)state;
    /* The C structs are the documented layout. */
    assert_int_equal(sizeof(struct gh_trace_header), HEADER_SIZE);
    assert_int_equal(sizeof(struct gh_trace_record), RECORD_SIZE);
    assert_int_equal(offsetof(struct gh_trace_header, policy), H_POLICY);
    assert_int_equal(offsetof(struct gh_trace_header, cmdline), H_CMDLINE);
    assert_int_equal(offsetof(struct gh_trace_header, forked_from), H_FORKED_FROM);
    assert_int_equal(offsetof(struct gh_trace_record, op), R_OP);
}

/* Records as gh_trace_add gets them: i-th is (op, ptr, result, size, align). */
static void record_i(size_t i, enum gh_trace_op *op, uint64_t *ptr, uint64_t *result, uint64_t *size,
                     uint32_t *align)
{
    static const enum gh_trace_op ops[] = { GH_TRACE_MALLOC, GH_TRACE_CALLOC, GH_TRACE_REALLOC,
                                            GH_TRACE_FREE, GH_TRACE_ALIGNED };
    *op = ops[i % 5];
    *ptr = *op == GH_TRACE_REALLOC || *op == GH_TRACE_FREE ? 0x10000 + i * 16 : 0;
    *result = *op == GH_TRACE_FREE ? 0 : UINT64_C(0x7f0000000000) + i * 32;
    *size = *op == GH_TRACE_FREE ? 0 : i * 7 + 1;
    *align = *op == GH_TRACE_ALIGNED ? 64u << (i % 4) : 0;
}

static void test_records(void **state)
{
    (void)state;
    char dir[64], pattern[128], path[128];
    tmpdir_make(dir, sizeof dir);
    snprintf(pattern, sizeof pattern, "%s/t.%%p.bin", dir);
    snprintf(path, sizeof path, "%s/t.%ld.bin", dir, (long)getpid());

    const size_t n = 2 * GH_TRACE_BUFFER + 123; /* two full buffers and a part */
    uint64_t t0 = now_ns(CLOCK_REALTIME), m0 = now_ns(CLOCK_MONOTONIC);
    assert_int_equal(gh_trace_open(&T, pattern, "next", 65536), 0);
    uint64_t t1 = now_ns(CLOCK_REALTIME);
    for (size_t i = 0; i < n; i++) {
        enum gh_trace_op op;
        uint64_t ptr, result, size;
        uint32_t align;
        record_i(i, &op, &ptr, &result, &size, &align);
        gh_trace_add(&T, op, (void *)(uintptr_t)ptr, (void *)(uintptr_t)result, size, align);
    }
    uint64_t elapsed = now_ns(CLOCK_MONOTONIC) - m0;
    gh_trace_close(&T);
    assert_int_equal(T.fd, -1);
    assert_int_equal(T.records, n);

    size_t len;
    unsigned char *raw = file_read(path, &len);
    assert_int_equal(len, HEADER_SIZE + n * RECORD_SIZE);
    check_header(raw, (long)getpid(), "next", 65536, 0, t0, t1);

    uint32_t tid = (uint32_t)syscall(SYS_gettid);
    uint64_t last = 0;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *r = raw + HEADER_SIZE + i * RECORD_SIZE;
        enum gh_trace_op op;
        uint64_t ptr, result, size;
        uint32_t align;
        record_i(i, &op, &ptr, &result, &size, &align);
        uint64_t t = u64_at(r + R_TIME);
        assert_true(t >= last && t <= elapsed);
        last = t;
        assert_int_equal(u64_at(r + R_PTR), ptr);
        assert_int_equal(u64_at(r + R_RESULT), result);
        assert_int_equal(u64_at(r + R_SIZE), size);
        assert_int_equal(u32_at(r + R_ALIGN), align);
        assert_int_equal(u32_at(r + R_TID), tid);
        assert_int_equal(r[R_OP], op);
        assert_true(all_zero(r + R_PAD, 7));
    }
    free(raw);

    /* Closed: records are ignored, closing again is harmless. */
    gh_trace_add(&T, GH_TRACE_MALLOC, NULL, (void *)1, 1, 0);
    gh_trace_flush(&T);
    gh_trace_close(&T);
    raw = file_read(path, &len);
    assert_int_equal(len, HEADER_SIZE + n * RECORD_SIZE);
    free(raw);
    unlink(path);
    rmdir(dir);
}

/* An empty trace is a header alone; a long policy name is cut to 15 bytes. */
static void test_header_only(void **state)
{
    (void)state;
    char dir[64], path[128];
    tmpdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/plain.bin", dir);
    assert_int_equal(gh_trace_open(&T, path, "a-very-long-policy-name", 0), 0);
    gh_trace_close(&T);
    size_t len;
    unsigned char *raw = file_read(path, &len);
    assert_int_equal(len, HEADER_SIZE);
    check_header(raw, (long)getpid(), "a-very-long-pol", 0, 0, 0, 0);
    free(raw);
    unlink(path);
    rmdir(dir);
}

/* fork, then in the child gh_trace_forked and one record; the parent checks
 * the child's file and that its own still has only its own records.  The
 * formats take the directory, then (except pattern_fmt) a pid. */
static void fork_case(const char *pattern_fmt, const char *parent_fmt, const char *child_fmt)
{
    char dir[64], pattern[128], parent_path[160], child_path[160];
    tmpdir_make(dir, sizeof dir);
    snprintf(pattern, sizeof pattern, pattern_fmt, dir);
    long parent = (long)getpid();
    snprintf(parent_path, sizeof parent_path, parent_fmt, dir, parent);

    assert_int_equal(gh_trace_open(&T, pattern, "best", 4096), 0);
    gh_trace_add(&T, GH_TRACE_MALLOC, NULL, (void *)0x1000, 10, 0);
    gh_trace_flush(&T); /* as malloc.c does before fork */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        gh_trace_forked(&T, "buddy", 8192);
        gh_trace_add(&T, GH_TRACE_FREE, (void *)0x1000, NULL, 0, 0);
        gh_trace_close(&T);
        _exit(T.records == 1 ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    gh_trace_add(&T, GH_TRACE_MALLOC, NULL, (void *)0x2000, 20, 0);
    gh_trace_close(&T);

    snprintf(child_path, sizeof child_path, child_fmt, dir, (long)pid);
    size_t len;
    unsigned char *raw = file_read(child_path, &len);
    assert_int_equal(len, HEADER_SIZE + RECORD_SIZE);
    assert_int_equal((int32_t)u32_at(raw + H_PID), pid);
    assert_int_equal((int32_t)u32_at(raw + H_FORKED_FROM), parent);
    assert_memory_equal(raw + H_POLICY, "buddy\0", 6);
    assert_int_equal(u64_at(raw + H_THRESHOLD), 8192);
    const unsigned char *r = raw + HEADER_SIZE;
    assert_int_equal(r[R_OP], GH_TRACE_FREE);
    assert_int_equal(u64_at(r + R_PTR), 0x1000);
    assert_int_equal(u32_at(r + R_TID), (uint32_t)pid); /* the child's one thread */
    free(raw);

    raw = file_read(parent_path, &len);
    assert_int_equal(len, HEADER_SIZE + 2 * RECORD_SIZE);
    assert_int_equal((int32_t)u32_at(raw + H_FORKED_FROM), 0);
    assert_int_equal(u64_at(raw + HEADER_SIZE + R_RESULT), 0x1000);
    assert_int_equal(u64_at(raw + HEADER_SIZE + RECORD_SIZE + R_RESULT), 0x2000);
    free(raw);
    unlink(child_path);
    unlink(parent_path);
    rmdir(dir);
}

static void test_fork_with_pid(void **state)
{
    (void)state;
    fork_case("%s/f.%%p.bin", "%s/f.%ld.bin", "%s/f.%ld.bin");
}

static void test_fork_without_pid(void **state)
{
    (void)state;
    fork_case("%s/f.bin", "%s/f.bin", "%s/f.bin.%ld"); /* (the parent format ignores the pid) */
}

static void test_open_errors(void **state)
{
    (void)state;
    assert_int_equal(gh_trace_open(&T, "/nonexistent-dir/t.bin", "best", 0), ENOENT);
    assert_int_equal(T.fd, -1);
    gh_trace_add(&T, GH_TRACE_MALLOC, NULL, (void *)1, 1, 0); /* ignored */
    assert_int_equal(T.n, 0);

    static char long_pattern[GH_PATH_MAX + 8];
    memset(long_pattern, 'x', sizeof long_pattern - 1);
    assert_int_equal(gh_trace_open(&T, long_pattern, "best", 0), ENAMETOOLONG);
    assert_int_equal(T.fd, -1);

    /* Not a regular file: refused (os.c's gh_os_open_private). */
    assert_int_equal(gh_trace_open(&T, "/dev/full", "best", 0), GH_OS_NOT_REGULAR);
    assert_int_equal(T.fd, -1);

    /* The header cannot be written: a file size limit of 0. */
    char dir[64], path[128];
    tmpdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/h.bin", dir);
    struct rlimit was, none;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &was), 0);
    none = was;
    none.rlim_cur = 0;
    void (*old)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &none), 0);
    int err = gh_trace_open(&T, path, "best", 0);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &was), 0);
    signal(SIGXFSZ, old);
    assert_int_equal(err, EFBIG);
    assert_int_equal(T.fd, -1);
    unlink(path);
    rmdir(dir);
}

/* A write that fails later stops recording, with one line on stderr. */
static void test_write_failure(void **state)
{
    (void)state;
    char dir[64], path[128];
    tmpdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/w.bin", dir);
    assert_int_equal(gh_trace_open(&T, path, "first", 0), 0);
    int full = open("/dev/full", O_WRONLY | O_CLOEXEC);
    assert_true(full >= 0);
    assert_int_equal(dup2(full, T.fd), T.fd); /* the disk fills up */
    close(full);
    struct capture err;
    stderr_begin(&err);
    for (size_t i = 0; i < GH_TRACE_BUFFER; i++)
        gh_trace_add(&T, GH_TRACE_MALLOC, NULL, (void *)(uintptr_t)(0x1000 + i), 1, 0);
    gh_trace_add(&T, GH_TRACE_MALLOC, NULL, (void *)1, 1, 0); /* after the stop: ignored */
    gh_trace_close(&T);
    stderr_end(&err);
    assert_string_equal(err.text, "glassheap: GLASSHEAP_TRACE: write failed; recording stopped\n");
    assert_int_equal(T.fd, -1);
    size_t len;
    unsigned char *raw = file_read(path, &len);
    assert_int_equal(len, HEADER_SIZE); /* the header, written before */
    free(raw);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_header_only),
        cmocka_unit_test(test_fork_with_pid),
        cmocka_unit_test(test_fork_without_pid),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_write_failure),
    };
    return cmocka_run_group_tests_name("core_trace", tests, NULL, NULL);
}
