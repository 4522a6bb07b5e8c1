/* child_stderr.h - run a function in a forked child with its stderr on a
 * pipe, for the unit tests that expect a fatal line (tests/unit, tests/os).
 *
 * gh_t_child(fn, arg, err, cap) forks; the child runs fn(arg) with SIGABRT
 * at its default and _exit(0)s if fn returns; the parent collects at most
 * cap - 1 bytes of the child's stderr into err (NUL-terminated) and returns
 * the child's wait status.  cmocka.h must be included before this header.
 */
#ifndef GH_T_CHILD_STDERR_H
#define GH_T_CHILD_STDERR_H

#include <signal.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static inline int gh_t_child(void (*fn)(void *), void *arg, char *err, size_t cap)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        signal(SIGABRT, SIG_DFL);
        fn(arg);
        _exit(0);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while (n < cap - 1 && (r = read(fds[0], err + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    err[n] = '\0';
    close(fds[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return st;
}

#endif
