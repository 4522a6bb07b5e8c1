/* test_open.c - os.c's rule for files named in the environment
 * (gh_os_open_private, gh_os_check_private), in-process.
 *
 * Proves: a new file is created 0600 (umask 0); an existing own file is
 * emptied only after its checks; a symbolic link (to a file with content,
 * or dangling), a file owned by another user (chown nobody: needs root,
 * else skipped), a file with a second hard link, a directory, a FIFO (with
 * and without a reader: the open never blocks), /dev/null, /proc/self/x and
 * a missing directory are refused with their own codes and leave every
 * existing file untouched; the check at start-up answers as the open would
 * and writes nothing (an existing file keeps its content, a missing one is
 * not left behind); the warning line reads as documented.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "os.h"
#include "../child_stderr.h"

#define CONTENT "precious contents\n"
#define NOBODY_UID 65534

static char dir[64];

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/gh-open-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void path_in(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", dir, name);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void assert_content(const char *path, const char *text)
{
    char buf[256] = { 0 };
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    assert_string_equal(buf, text);
}

static void test_new_file_0600(void **state)
{
    (void)state;
    char p[128];
    path_in(p, sizeof p, "new");
    mode_t old = umask(0);
    int fd;
    int rc = gh_os_open_private(p, &fd);
    umask(old);
    assert_int_equal(rc, 0);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(fcntl(fd, F_GETFL) & (O_NONBLOCK | O_ACCMODE), O_WRONLY);
    close(fd);
}

static void test_existing_own_file_emptied(void **state)
{
    (void)state;
    char p[128];
    path_in(p, sizeof p, "own");
    write_file(p, CONTENT);
    assert_int_equal(gh_os_check_private(p), 0);
    assert_content(p, CONTENT); /* the check writes nothing */
    int fd;
    assert_int_equal(gh_os_open_private(p, &fd), 0);
    assert_int_equal(write(fd, "x", 1), 1);
    close(fd);
    assert_content(p, "x");
}

static void test_symlink_refused(void **state)
{
    (void)state;
    char target[128], link[128];
    path_in(target, sizeof target, "target");
    path_in(link, sizeof link, "link");
    write_file(target, CONTENT);
    assert_int_equal(symlink(target, link), 0);
    int f;
    assert_int_equal(gh_os_open_private(link, &f), ELOOP);
    assert_int_equal(f, -1);
    assert_content(target, CONTENT);
    /* a dangling link is not followed to create its target either */
    char dangling[128], absent[128];
    path_in(dangling, sizeof dangling, "dangling");
    path_in(absent, sizeof absent, "absent");
    assert_int_equal(symlink(absent, dangling), 0);
    assert_int_equal(gh_os_open_private(dangling, &f), ELOOP);
    assert_int_equal(access(absent, F_OK), -1);
}

static void test_other_owner_refused(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip(); /* chown to another user needs root */
    char p[128];
    path_in(p, sizeof p, "theirs");
    write_file(p, CONTENT);
    assert_int_equal(chmod(p, 0666), 0); /* world-writable, pre-created by someone else */
    assert_int_equal(chown(p, NOBODY_UID, NOBODY_UID), 0);
    int f;
    assert_int_equal(gh_os_open_private(p, &f), GH_OS_NOT_OWNER);
    assert_int_equal(f, -1);
    assert_content(p, CONTENT);
}

static void test_hard_link_refused(void **state)
{
    (void)state;
    char a[128], b[128];
    path_in(a, sizeof a, "orig");
    path_in(b, sizeof b, "alias");
    write_file(a, CONTENT);
    assert_int_equal(link(a, b), 0);
    int f;
    assert_int_equal(gh_os_open_private(b, &f), GH_OS_LINKED);
    assert_content(a, CONTENT);
}

static void test_not_a_file_refused(void **state)
{
    (void)state;
    char p[128];
    int f;
    assert_int_equal(gh_os_open_private(dir, &f), EISDIR);
    path_in(p, sizeof p, "missing/s.json");
    assert_int_equal(gh_os_open_private(p, &f), ENOENT);
    assert_int_equal(gh_os_open_private("/proc/self/x", &f), ENOENT);
    assert_int_equal(gh_os_open_private("/dev/null", &f), GH_OS_NOT_REGULAR);
    /* A FIFO: no reader gives ENXIO at once; with a reader, refused as not
     * regular - the open never waits. */
    path_in(p, sizeof p, "fifo");
    assert_int_equal(mkfifo(p, 0600), 0);
    assert_int_equal(gh_os_open_private(p, &f), ENXIO);
    int r = open(p, O_RDONLY | O_NONBLOCK);
    assert_true(r >= 0);
    assert_int_equal(gh_os_open_private(p, &f), GH_OS_NOT_REGULAR);
    close(r);
    assert_int_equal(f, -1);
}

/* The check at start-up: the open's answer, nothing written, nothing left. */
static void test_check_writes_nothing(void **state)
{
    (void)state;
    char p[128], link[128];
    path_in(p, sizeof p, "to-be");
    assert_int_equal(gh_os_check_private(p), 0);
    assert_int_equal(access(p, F_OK), -1); /* not left behind */
    path_in(p, sizeof p, "kept");
    write_file(p, CONTENT);
    path_in(link, sizeof link, "kept-link");
    assert_int_equal(symlink(p, link), 0);
    assert_int_equal(gh_os_check_private(link), ELOOP);
    assert_int_equal(gh_os_check_private(dir), EISDIR);
    path_in(p, sizeof p, "missing/s.json");
    assert_int_equal(gh_os_check_private(p), ENOENT);
    assert_int_equal(gh_os_check_private("/proc/self/x"), ENOENT);
    assert_int_equal(gh_os_check_private("/dev/null"), GH_OS_NOT_REGULAR);
    path_in(p, sizeof p, "kept");
    assert_content(p, CONTENT);
    if (geteuid() == 0) {
        assert_int_equal(chown(p, NOBODY_UID, NOBODY_UID), 0);
        assert_int_equal(gh_os_check_private(p), GH_OS_NOT_OWNER);
        assert_content(p, CONTENT);
    }
}

static void warn_symlink(void *arg)
{
    (void)arg;
    gh_os_warn_unusable("GLASSHEAP_TRACE", "/tmp/t", ELOOP, "not recording");
    gh_os_warn_unusable("GLASSHEAP_STATS_FILE", "/x", EDOM, "the summary goes to stderr");
}

static void test_warning_line(void **state)
{
    (void)state;
    char err[512];
    int st = gh_t_child(warn_symlink, NULL, err, sizeof err);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char want[512];
    snprintf(want, sizeof want,
             "glassheap: GLASSHEAP_TRACE: cannot use '/tmp/t': it is a symbolic link; not recording\n"
             "glassheap: GLASSHEAP_STATS_FILE: cannot use '/x': errno %d; the summary goes to stderr\n",
             EDOM);
    assert_string_equal(err, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_file_0600),
        cmocka_unit_test(test_existing_own_file_emptied),
        cmocka_unit_test(test_symlink_refused),
        cmocka_unit_test(test_other_owner_refused),
        cmocka_unit_test(test_hard_link_refused),
        cmocka_unit_test(test_not_a_file_refused),
        cmocka_unit_test(test_check_writes_nothing),
        cmocka_unit_test(test_warning_line),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
