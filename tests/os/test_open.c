/* test_open.c - os.c's rule for files named in the environment
 * (gh_os_open_private), in-process.
 *
 * Proves: a new file is created 0600 (umask 0) and marked created; an
 * existing own file is emptied only after its checks; a symbolic link (to a
 * file with content), a file owned by another user (chown nobody: needs
 * root, else skipped), a file with a second hard link, a directory, a FIFO
 * (with and without a reader: the open never blocks) and a missing
 * directory are refused with their own codes and leave every existing file
 * untouched; a descriptor the program replaced is not "ours" and is never
 * closed; gh_os_file_remove takes back only an empty file it created; the
 * warning line reads as documented.
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
    struct gh_os_file f;
    int rc = gh_os_open_private(p, &f);
    umask(old);
    assert_int_equal(rc, 0);
    assert_true(f.fd >= 0);
    assert_true(f.created);
    struct stat st;
    assert_int_equal(fstat(f.fd, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_true(fcntl(f.fd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(fcntl(f.fd, F_GETFL) & (O_NONBLOCK | O_ACCMODE), O_WRONLY);
    assert_true(gh_os_file_ours(&f));
    gh_os_file_close(&f);
    assert_int_equal(f.fd, -1);
}

static void test_existing_own_file_emptied(void **state)
{
    (void)state;
    char p[128];
    path_in(p, sizeof p, "own");
    write_file(p, CONTENT);
    struct gh_os_file f;
    assert_int_equal(gh_os_open_private(p, &f), 0);
    assert_false(f.created);
    assert_int_equal(write(f.fd, "x", 1), 1);
    gh_os_file_close(&f);
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
    struct gh_os_file f;
    assert_int_equal(gh_os_open_private(link, &f), ELOOP);
    assert_int_equal(f.fd, -1);
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
    struct gh_os_file f;
    assert_int_equal(gh_os_open_private(p, &f), GH_OS_NOT_OWNER);
    assert_int_equal(f.fd, -1);
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
    struct gh_os_file f;
    assert_int_equal(gh_os_open_private(b, &f), GH_OS_LINKED);
    assert_content(a, CONTENT);
}

static void test_not_a_file_refused(void **state)
{
    (void)state;
    char p[128];
    struct gh_os_file f;
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
    assert_int_equal(f.fd, -1);
}

/* The program closed our descriptor and put another file on its number:
 * not ours, and closing leaves that file open. */
static void test_replaced_descriptor(void **state)
{
    (void)state;
    char p[128], q[128];
    path_in(p, sizeof p, "mine");
    path_in(q, sizeof q, "program");
    struct gh_os_file f;
    assert_int_equal(gh_os_open_private(p, &f), 0);
    int other = open(q, O_WRONLY | O_CREAT, 0600);
    assert_true(other >= 0);
    assert_int_equal(dup2(other, f.fd), f.fd);
    close(other);
    int fd = f.fd;
    assert_false(gh_os_file_ours(&f));
    gh_os_file_close(&f);
    assert_int_equal(fcntl(fd, F_GETFD) >= 0, 1); /* still open: the program's */
    close(fd);
}

static void test_remove_only_empty_created(void **state)
{
    (void)state;
    char p[128];
    path_in(p, sizeof p, "taken-back");
    struct gh_os_file f;
    assert_int_equal(gh_os_open_private(p, &f), 0);
    assert_int_equal(gh_os_file_remove(&f, p), 0);
    assert_int_equal(access(p, F_OK), -1);
    /* written to: kept */
    assert_int_equal(gh_os_open_private(p, &f), 0);
    assert_int_equal(write(f.fd, "y", 1), 1);
    assert_int_equal(gh_os_file_remove(&f, p), EEXIST);
    assert_content(p, "y");
    /* existing before: kept, even empty */
    assert_int_equal(gh_os_open_private(p, &f), 0);
    assert_false(f.created);
    assert_int_equal(gh_os_file_remove(&f, p), EEXIST);
    assert_int_equal(access(p, F_OK), 0);
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
        cmocka_unit_test(test_replaced_descriptor),
        cmocka_unit_test(test_remove_only_empty_created),
        cmocka_unit_test(test_warning_line),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
