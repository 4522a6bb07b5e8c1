/* bench_run.c - run one command and report its wall time and peak RSS.
 *
 *   bench_run [--stdin FILE] -- CMD [ARG...]
 *
 * Forks, runs CMD with its standard output on /dev/null (standard input
 * from FILE, or /dev/null), waits for it and prints one JSON line:
 *   {"wall_s":1.234,"peak_rss_kib":5678,"status":0}
 * peak_rss_kib is the largest resident set of CMD or any child it waited
 * for (getrusage RUSAGE_CHILDREN: for gcc, its cc1).  The fork happens in
 * this small process, so the figure does not start from the caller's size
 * (a Python driver forking the command itself would lend it its own
 * pages).  status is the exit status, or 128 + the signal.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    const char *in = "/dev/null";
    int i = 1;
    if (i + 1 < argc && strcmp(argv[i], "--stdin") == 0) {
        in = argv[i + 1];
        i += 2;
    }
    if (i >= argc || strcmp(argv[i], "--") != 0 || i + 1 >= argc) {
        fprintf(stderr, "usage: bench_run [--stdin FILE] -- CMD [ARG...]\n");
        return 2;
    }
    char **cmd = &argv[i + 1];
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0) {
        perror("bench_run: fork");
        return 1;
    }
    if (pid == 0) {
        int fin = open(in, O_RDONLY | O_CLOEXEC);
        int fout = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (fin < 0 || fout < 0 || dup2(fin, 0) < 0 || dup2(fout, 1) < 0) {
            fprintf(stderr, "bench_run: cannot open %s: %m\n", fin < 0 ? in : "/dev/null");
            _exit(127);
        }
        execvp(cmd[0], cmd);
        fprintf(stderr, "bench_run: %s: %m\n", cmd[0]);
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid) {
        perror("bench_run: waitpid");
        return 1;
    }
    double wall = now_s() - t0;
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    int status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    printf("{\"wall_s\":%.6f,\"peak_rss_kib\":%ld,\"status\":%d}\n", wall, ru.ru_maxrss, status);
    return 0;
}
