/* compare_run.c - one run of `glassheap compare` (compare.h): CMD forked
 * with the row's allocator preloaded (GLASSHEAP_STATS=json and
 * GLASSHEAP_STATS_FILE for a policy), stdin /dev/null, stdout to a file;
 * wall time from fork to reaping, peak RSS from wait4(); for a policy the
 * exit summary (read through summary.h) and the counters sampled every
 * SAMPLE_MS through the segment, the sample where the heap was largest
 * kept; the output compared byte for byte with the reference's.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "outfile.h"
#include "compare.h"
#include "clock.h"
#include "glassheap/frag.h"
#include "reader.h"
#include "summary.h"

#define STDERR_TAIL 600         /* bytes of a failed run's stderr shown */

extern char **environ;

/* ---- one run ------------------------------------------------------------ */

/* Follows the program's segment while it runs and keeps the counters of
 * the moment its heap was largest.  An exec'd image publishes a new file
 * under the same name: the samples of the old image are dropped. */
struct sampler {
    int pid;
    struct ghr_segment *seg;
    dev_t dev;
    ino_t ino;
    bool have;
    struct gh_shm_counters best;
    struct gh_shm_counters last;
};

static void sampler_read(struct sampler *s)
{
    struct gh_shm_counters c;
    if (!s->seg || ghr_counters(s->seg, &c) != GHR_OK || c.publishes == 0)
        return;
    s->last = c;
    if (!s->have || c.heap_bytes > s->best.heap_bytes ||
        (c.heap_bytes == s->best.heap_bytes && c.live_requested > s->best.live_requested)) {
        s->best = c;
        s->have = true;
    }
}

static void sampler_step(struct sampler *s)
{
    dev_t dev;
    ino_t ino;
    if (ghr_file_id(s->pid, &dev, &ino) && (!s->seg || dev != s->dev || ino != s->ino)) {
        struct ghr_segment *seg = NULL;
        int rc = ghr_open_pid(s->pid, &seg);
        if (rc == GHR_OK || rc == GHR_STALE) {
            ghr_close(s->seg);
            s->seg = seg;
            s->dev = dev;
            s->ino = ino;
            s->have = false;
        } else {
            ghr_close(seg); /* not written yet (no magic), or not ours: later */
        }
    }
    if (!s->seg)
        return;
    ghr_request_counters(s->seg, 0); /* answered on its next allocator call */
    sampler_read(s);
}

static void put_env(const struct row *r, const char *stats_file, bool cache)
{
    /* start from the user's environment without our variables */
    for (char **e = environ; e && *e;) {
        if (!strncmp(*e, "GLASSHEAP_", 10) && strncmp(*e, "GLASSHEAP_MMAP_THRESHOLD=", 25)) {
            char name[256];
            size_t len = strcspn(*e, "=");
            snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), *e);
            unsetenv(name); /* environ shifts down: look at *e again */
        } else {
            e++;
        }
    }
    unsetenv("LD_PRELOAD");
    if (r->lib[0])
        setenv("LD_PRELOAD", r->lib, 1);
    if (r->kind == ROW_POLICY) {
        setenv("GLASSHEAP_POLICY", r->policy, 1);
        setenv("GLASSHEAP_STATS", "json", 1);
        setenv("GLASSHEAP_STATS_FILE", stats_file, 1);
        setenv("GLASSHEAP_SHM", "1", 1);
        if (!cache) { /* the pure policy: every block placed by it, one heap */
            setenv("GLASSHEAP_CACHE", "0", 1);
            setenv("GLASSHEAP_ARENAS", "1", 1);
        }
    }
}

static char *slurp(const char *path, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char *buf = malloc(max + 1);
    size_t len = 0;
    ssize_t n;
    while (buf && len < max && (n = read(fd, buf + len, max - len)) > 0)
        len += (size_t)n;
    close(fd);
    if (buf)
        buf[len] = '\0';
    return buf;
}

/* Read the exit summary of `pid` into *sum (zeroed when there is none)
 * and forget every summary file. */
static void read_summaries(struct compare *cx, int pid, struct run *out, struct gh_summary *sum)
{
    DIR *d = opendir(cx->tmpdir);
    if (!d)
        return;
    char mine[32];
    snprintf(mine, sizeof mine, "%d.json", pid);
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".json"))
            continue;
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", cx->tmpdir, de->d_name);
        if (!strcmp(de->d_name, mine)) {
            if (gh_summary_read(path, sum)) {
                out->have_summary = true;
                out->peak_heap = (double)sum->peak_heap_bytes;
                out->peak_requested = (double)sum->peak_requested;
                out->brk_calls = (double)sum->brk_calls;
                out->mmap_calls = (double)sum->mmap_calls;
                out->peak_large = (double)sum->peak_large_bytes;
                if (sum->policy[0])
                    snprintf(out->policy_ran, sizeof out->policy_ran, "%.*s", (int)sizeof out->policy_ran - 1, sum->policy);
                /* the figure at exit, for a run no sample describes */
                if (sum->have_free) {
                    out->ext_at_peak = gh_frag_value(gh_frag_external(sum->largest_free, sum->free_bytes));
                    out->have_ext = true;
                }
            }
        } else {
            out->other_summaries++;
        }
        unlink(path);
    }
    closedir(d);
}

/* The samples describe the run when they are of the image that wrote the
 * summary: its final counters (published at exit, just before the summary)
 * name the same calls. */
static void take_sample(const struct sampler *s, const struct gh_summary *sum, struct run *out)
{
    if (!s->have || !sum->have_calls)
        return;
    if (s->last.malloc_calls != sum->malloc_calls || s->last.free_calls != sum->free_calls)
        return;
    const struct gh_shm_counters *b = &s->best;
    out->ext_at_peak = gh_frag_value(gh_frag_external(b->largest_free, b->free_bytes));
    out->ext_sampled = true;
    out->have_ext = true;
}

/* 0: same; else 1 and *at = the first differing byte. */
static int compare_files(const char *a, const char *b, uint64_t *at)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int rc = 0;
    uint64_t pos = 0;
    if (!fa || !fb) {
        rc = 1;
    } else {
        for (;; pos++) {
            int ca = getc(fa), cb = getc(fb);
            if (ca != cb) {
                rc = 1;
                break;
            }
            if (ca == EOF)
                break;
        }
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    *at = pos;
    return rc;
}

static int wait_child(pid_t pid, bool sample, struct sampler *s, int *status, struct rusage *ru)
{
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    for (;;) {
        pid_t w = wait4(pid, status, sample ? WNOHANG : 0, ru);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            if (pidfd >= 0)
                close(pidfd);
            return -1;
        }
        if (!sample)
            continue;
        sampler_step(s);
        if (pidfd >= 0) {
            struct pollfd p = { pidfd, POLLIN, 0 };
            poll(&p, 1, SAMPLE_MS);
        } else {
            struct timespec ts = { 0, 1000000L }; /* no pidfd: look every ms */
            nanosleep(&ts, NULL);
            static int ticks;
            if (++ticks % SAMPLE_MS)
                continue;
        }
    }
    if (pidfd >= 0)
        close(pidfd);
    return 0;
}

/* Run CMD once for row r; fills *out.  false: compare itself failed. */
bool compare_run_once(struct compare *cx, struct row *r, int round, struct run *out)
{
    char out_path[PATH_MAX + 32], err_path[PATH_MAX + 32], stats_file[PATH_MAX + 32];
    snprintf(out_path, sizeof out_path, "%s/out.%d", cx->tmpdir, round);
    snprintf(err_path, sizeof err_path, "%s/err", cx->tmpdir);
    snprintf(stats_file, sizeof stats_file, "%s/%%p.json", cx->tmpdir);
    int ofd, efd;
    int refused = gh_outfile_open(out_path, &ofd);
    if (!refused && (refused = gh_outfile_open(err_path, &efd)) != 0)
        close(ofd);
    int nfd = refused ? -1 : open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (refused || nfd < 0) {
        cli_error("compare: cannot create files in %s: %s", cx->tmpdir,
                  refused ? gh_outfile_strerror(refused) : strerror(errno));
        if (!refused) {
            close(ofd);
            close(efd);
        }
        return false;
    }
    memset(out, 0, sizeof *out);
    fflush(NULL);
    double t0 = gh_now_s();
    pid_t pid = fork();
    if (pid == 0) {
        dup2(nfd, 0);
        dup2(ofd, 1);
        dup2(efd, 2);
        signal(SIGINT, SIG_DFL);
        put_env(r, stats_file, cx->cache);
        execvp(cx->cmd[0], cx->cmd);
        dprintf(2, "glassheap: compare: cannot run '%s': %s\n", cx->cmd[0], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }
    close(ofd);
    close(efd);
    close(nfd);
    if (pid < 0) {
        cli_error("compare: fork: %s", strerror(errno));
        return false;
    }
    struct sampler s = { .pid = pid };
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    if (wait_child(pid, r->kind == ROW_POLICY, &s, &out->status, &ru) != 0) {
        cli_error("compare: waiting for '%s': %s", cx->cmd[0], strerror(errno));
        ghr_close(s.seg);
        return false;
    }
    out->wall_s = gh_now_s() - t0;
    out->rss_bytes = (double)ru.ru_maxrss * 1024.0;
    if (r->kind == ROW_POLICY) {
        sampler_read(&s); /* the counters it published at exit */
        struct gh_summary sum;
        memset(&sum, 0, sizeof sum);
        read_summaries(cx, pid, out, &sum);
        take_sample(&s, &sum, out);
    }
    ghr_close(s.seg);
    if (r->kind == ROW_POLICY)
        ghr_remove_stale(pid); /* left by a program that ended in _exit() */

    /* the output, against the reference's */
    if (!cx->have_ref) {
        snprintf(cx->ref_out, sizeof cx->ref_out, "%s/reference", cx->tmpdir);
        if (rename(out_path, cx->ref_out) != 0) {
            cli_error("compare: %s: %s", cx->ref_out, strerror(errno));
            return false;
        }
        cx->ref_status = out->status;
        cx->have_ref = true;
    } else {
        uint64_t at = 0;
        if (compare_files(cx->ref_out, out_path, &at)) {
            out->differs = true;
            out->differ_at = at;
        } else if (out->status != cx->ref_status) {
            out->differs = true;
            out->differ_at = UINT64_MAX;
        }
        unlink(out_path);
    }
    if (!(WIFEXITED(out->status) && WEXITSTATUS(out->status) == 0)) {
        static bool told;
        if (!told) { /* once is enough to see why */
            char *err = slurp(err_path, 1 << 20);
            const char *tail = err ? err : "";
            size_t len = strlen(tail);
            if (len > STDERR_TAIL)
                tail += len - STDERR_TAIL;
            cli_error("compare: %s, run %d: %s %d; its stderr ends:\n%s", r->name, round + 1,
                      WIFEXITED(out->status) ? "exit status" : "signal",
                      WIFEXITED(out->status) ? WEXITSTATUS(out->status) : WTERMSIG(out->status), tail);
            free(err);
            told = true;
        }
    }
    unlink(err_path);
    return true;
}

