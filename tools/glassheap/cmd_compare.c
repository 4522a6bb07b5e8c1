/* cmd_compare.c - glassheap compare: run one program under every placement
 * policy and under other allocators, and print one table.
 *
 *   glassheap compare [--policies LIST] [--baselines LIST] [--runs N]
 *                     [--json] [--svg FILE] -- CMD [ARGS...]
 *
 * Owns: running CMD once per allocator and round (rounds interleave the
 * allocators, so a machine that slows down slows them all), measuring each
 * run, comparing each run's output with the reference run's, and the three
 * ways of showing the result (table, JSON, SVG bar chart).
 *
 * Per run: wall time from fork to reaping (CLOCK_MONOTONIC), peak RSS from
 * wait4()'s rusage (the process and the children it waited for).  For a
 * glassheap policy the library runs preloaded with GLASSHEAP_STATS=json and
 * GLASSHEAP_STATS_FILE in a private directory: peak heap, peak requested
 * bytes, brk and mmap calls come from that exit summary.  External
 * fragmentation "at peak" is sampled: every SAMPLE_MS compare asks the
 * program for fresh counters through its segment and keeps the figure of
 * the sample where the heap was largest; a run too short to be sampled, or
 * whose samples are not of the image that wrote the summary, gets the figure
 * at exit instead, marked so.  Baselines (glibc: no preload; jemalloc,
 * mimalloc or any library path: LD_PRELOAD) have no heap figures.
 *
 * Every run reads /dev/null as stdin; its stdout goes to a file and is
 * compared byte for byte, with its exit status, against the reference (the
 * first run of the first baseline, or of the first policy when there are no
 * baselines).  Never does: interpret CMD's output, or keep anything after it
 * returns (the private directory is removed).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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
#include "clock.h"
#include "glassheap/frag.h"
#include "summary.h"
#include "svg.h"
#include "reader.h"

#ifndef GH_MULTIARCH
#define GH_MULTIARCH ""
#endif

#define DEFAULT_RUNS 3
#define MAX_RUNS 1000
#define MAX_ROWS 32
#define SAMPLE_MS 10            /* how often a glassheap run is asked for counters */
#define NAME_MAX_LEN 64
#define STDERR_TAIL 600         /* bytes of a failed run's stderr shown */
#define NS_PER_S 1000000000.0

extern char **environ;


/* Where the known baselines live (first readable wins). */
struct known_baseline {
    const char *name;
    const char *soname;
};
static const struct known_baseline known_baselines[] = {
    { "jemalloc", "libjemalloc.so.2" },
    { "mimalloc", "libmimalloc.so.2" },
    { "tcmalloc", "libtcmalloc_minimal.so.4" },
};

enum row_kind { ROW_POLICY, ROW_BASELINE };

/* What one run measured.  Heap figures only for policy rows. */
struct run {
    double wall_s;
    double rss_bytes;
    int status;                 /* wait status */
    bool differs;               /* stdout or exit status not the reference's */
    uint64_t differ_at;         /* first differing byte, or UINT64_MAX: the status */
    bool have_summary;
    char policy_ran[16];        /* the policy the summary names */
    double peak_heap, peak_requested, brk_calls, mmap_calls;
    double peak_large;          /* blocks above the mmap threshold, at their peak */
    double ext_at_peak;
    bool ext_sampled;           /* ext_at_peak from a sample, not the exit summary */
    bool have_ext;
    int other_summaries;        /* processes CMD started that ran glassheap too */
};

struct row {
    char name[NAME_MAX_LEN];
    enum row_kind kind;
    const char *policy;         /* ROW_POLICY */
    char lib[PATH_MAX];         /* what LD_PRELOAD gets; "" for none (glibc) */
    bool missing;               /* a baseline whose library is not there */
    struct run *runs;
    int done;
};

struct compare {
    struct row rows[MAX_ROWS];
    int nrows;
    int ref;                    /* index of the reference row, -1 none */
    int runs;
    char **cmd;
    char tmpdir[PATH_MAX];
    char ref_out[PATH_MAX + 32];
    int ref_status;
    bool have_ref;
};

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void help(FILE *f)
{
    fprintf(f,
            "usage: glassheap compare [--policies LIST] [--baselines LIST] [--runs N]\n"
            "                         [--json] [--svg FILE] -- CMD [ARGS...]\n\n"
            "Runs CMD under each glassheap policy and each baseline allocator, N times each\n"
            "(the allocators take turns), and prints one table:\n"
            "  wall       wall-clock time, fork to exit: the median of the N runs\n"
            "  peak RSS   the largest resident set (wait4's ru_maxrss: CMD and the children\n"
            "             it waited for)\n"
            "  peak heap  the most memory glassheap's heap held from the OS (break and\n"
            "             regions; blocks above the mmap threshold are apart: --json has\n"
            "             them as peak_large_bytes)\n"
            "  peak util  peak requested bytes / peak heap bytes\n"
            "  ext frag   external fragmentation, 1 - largest free block / free bytes, when\n"
            "             the heap was largest: compare asks the program for its counters\n"
            "             every %d ms and keeps the sample with the largest heap; '*' marks\n"
            "             a run too short to sample, whose figure is the one at exit\n"
            "  brk, mmap  system calls glassheap made (brk/sbrk; mmap, large blocks included)\n"
            "  output     stdout and exit status, compared byte for byte with the reference\n"
            "             (the first baseline's first run; the first policy's without\n"
            "             baselines): 'same', or 'DIFFERS'\n"
            "Figures other than wall are medians too.  Heap figures come from glassheap's exit\n"
            "summary of the process compare started (an exec keeps it); baselines have none.\n\n"
            "  --policies LIST   glassheap policies (default first,next,best,worst,buddy;\n"
            "                    '' for none)\n"
            "  --baselines LIST  other allocators: glibc (no preload), jemalloc, mimalloc,\n"
            "                    tcmalloc, NAME=LIBRARY or a library path (default\n"
            "                    glibc,jemalloc,mimalloc; '' for none).  One not installed\n"
            "                    is listed as such and skipped.\n"
            "  --runs N          runs per allocator (default %d)\n"
            "  --json            print one JSON object instead of the table\n"
            "  --svg FILE        also draw the figures as bar charts, one panel per figure\n\n"
            "CMD reads /dev/null as its stdin; its stderr is kept apart and shown when a run\n"
            "fails.  LD_PRELOAD and GLASSHEAP_* are set per allocator (GLASSHEAP_MMAP_THRESHOLD\n"
            "is passed on).  Exit status: 0 every run ran and matched the reference; 2 usage;\n"
            "3 some run's output differed, or compare could not run CMD.\n",
            SAMPLE_MS, DEFAULT_RUNS);
}

/* ---- the allocators ---------------------------------------------------- */

static bool readable(const char *path)
{
    return access(path, R_OK) == 0;
}

static void find_known(const char *soname, char *out, size_t cap)
{
    const char *dirs[] = { "/usr/lib/" GH_MULTIARCH, "/usr/lib", "/usr/local/lib", "/usr/lib64", "/lib/" GH_MULTIARCH };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(out, cap, "%s/%s", dirs[i], soname);
        if (readable(out))
            return;
    }
    snprintf(out, cap, "/usr/lib/%s%s%s", GH_MULTIARCH, GH_MULTIARCH[0] ? "/" : "", soname);
}

static struct row *add_row(struct compare *cx, const char *name)
{
    if (cx->nrows == MAX_ROWS) {
        cli_error("compare: at most %d allocators", MAX_ROWS);
        return NULL;
    }
    for (int i = 0; i < cx->nrows; i++)
        if (!strcmp(cx->rows[i].name, name)) {
            cli_error("compare: '%s' is listed twice", name);
            return NULL;
        }
    struct row *r = &cx->rows[cx->nrows++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    return r;
}

static bool add_policies(struct compare *cx, char *list, const char *lib)
{
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        const char *found = cli_policy(tok);
        if (!found) {
            cli_error("compare: '%s' is not a policy (first, next, best, worst, buddy)", tok);
            return false;
        }
        struct row *r = add_row(cx, found);
        if (!r)
            return false;
        r->kind = ROW_POLICY;
        r->policy = found;
        snprintf(r->lib, sizeof r->lib, "%s", lib);
    }
    return true;
}

static bool add_baselines(struct compare *cx, char *list)
{
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char name[NAME_MAX_LEN], lib[PATH_MAX] = "";
        char *eq = strchr(tok, '=');
        if (eq) { /* NAME=LIBRARY */
            snprintf(name, sizeof name, "%.*s", (int)(eq - tok), tok);
            snprintf(lib, sizeof lib, "%s", eq + 1);
        } else if (strchr(tok, '/')) { /* a library path: named after its file */
            const char *base = strrchr(tok, '/') + 1;
            size_t len = strcspn(base, ".");
            snprintf(name, sizeof name, "%.*s", (int)(len ? len : strlen(base)), base);
            if (!strncmp(name, "lib", 3) && name[3])
                memmove(name, name + 3, strlen(name + 3) + 1);
            snprintf(lib, sizeof lib, "%s", tok);
        } else if (!strcmp(tok, "glibc")) {
            snprintf(name, sizeof name, "glibc");
        } else {
            const struct known_baseline *k = NULL;
            for (size_t i = 0; i < sizeof known_baselines / sizeof known_baselines[0]; i++)
                if (!strcmp(tok, known_baselines[i].name))
                    k = &known_baselines[i];
            if (!k) {
                cli_error("compare: '%s' is not a baseline (glibc, jemalloc, mimalloc, tcmalloc, "
                          "NAME=LIBRARY or a library path)", tok);
                return false;
            }
            snprintf(name, sizeof name, "%s", k->name);
            find_known(k->soname, lib, sizeof lib);
        }
        if (!name[0]) {
            cli_error("compare: baseline '%s' has no name", tok);
            return false;
        }
        for (size_t i = 0; i < CLI_NPOLICIES; i++)
            if (!strcmp(name, cli_policies[i])) {
                cli_error("compare: a baseline cannot be named like the policy '%s'", name);
                return false;
            }
        struct row *r = add_row(cx, name);
        if (!r)
            return false;
        r->kind = ROW_BASELINE;
        snprintf(r->lib, sizeof r->lib, "%s", lib);
        r->missing = lib[0] && !readable(lib);
    }
    return true;
}

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

static void put_env(const struct row *r, const char *stats_file)
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
static bool run_once(struct compare *cx, struct row *r, int round, struct run *out)
{
    char out_path[PATH_MAX + 32], err_path[PATH_MAX + 32], stats_file[PATH_MAX + 32];
    snprintf(out_path, sizeof out_path, "%s/out.%d", cx->tmpdir, round);
    snprintf(err_path, sizeof err_path, "%s/err", cx->tmpdir);
    snprintf(stats_file, sizeof stats_file, "%s/%%p.json", cx->tmpdir);
    int ofd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int efd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int nfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (ofd < 0 || efd < 0 || nfd < 0) {
        cli_error("compare: cannot create files in %s: %s", cx->tmpdir, strerror(errno));
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
        put_env(r, stats_file);
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

/* ---- figures ------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

enum metric { M_WALL, M_RSS, M_HEAP, M_UTIL, M_EXT, M_BRK, M_MMAP, M_LARGE, N_METRICS };

static bool run_has(const struct row *r, const struct run *u, enum metric m)
{
    switch (m) {
    case M_WALL:
    case M_RSS:
        return true;
    case M_EXT:
        return r->kind == ROW_POLICY && u->have_ext;
    case M_UTIL:
        return r->kind == ROW_POLICY && u->have_summary && u->peak_heap > 0;
    default:
        return r->kind == ROW_POLICY && u->have_summary;
    }
}

static double run_value(const struct run *u, enum metric m)
{
    switch (m) {
    case M_WALL: return u->wall_s;
    case M_RSS: return u->rss_bytes;
    case M_HEAP: return u->peak_heap;
    case M_UTIL:
        return gh_frag_value(gh_frag_utilisation((uint64_t)u->peak_requested, (uint64_t)u->peak_heap));
    case M_EXT: return u->ext_at_peak;
    case M_BRK: return u->brk_calls;
    case M_MMAP: return u->mmap_calls;
    case M_LARGE: return u->peak_large;
    default: return 0;
    }
}

/* The median over the row's runs that have the figure; false: none has. */
static bool median(const struct row *r, enum metric m, double *out)
{
    double v[MAX_RUNS];
    int n = 0;
    for (int i = 0; i < r->done; i++)
        if (run_has(r, &r->runs[i], m))
            v[n++] = run_value(&r->runs[i], m);
    if (n == 0)
        return false;
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    *out = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    return true;
}

/* Every run's ext figure sampled (no '*'). */
static bool ext_all_sampled(const struct row *r)
{
    for (int i = 0; i < r->done; i++)
        if (r->runs[i].have_ext && !r->runs[i].ext_sampled)
            return false;
    return true;
}

static int first_differing(const struct row *r)
{
    for (int i = 0; i < r->done; i++)
        if (r->runs[i].differs)
            return i;
    return -1;
}

static bool policy_mismatch(const struct row *r)
{
    for (int i = 0; i < r->done; i++)
        if (r->runs[i].have_summary && strcmp(r->runs[i].policy_ran, r->policy))
            return true;
    return false;
}

static void status_text(int st, char *buf, size_t cap)
{
    if (WIFEXITED(st))
        snprintf(buf, cap, "exit %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(buf, cap, "signal %d", WTERMSIG(st));
    else
        snprintf(buf, cap, "?");
}

/* ---- the table ---------------------------------------------------------- */

static void print_cmd(FILE *f, char **cmd)
{
    for (int i = 0; cmd[i]; i++)
        fprintf(f, "%s%s", i ? " " : "", cmd[i]);
}

static void print_table(const struct compare *cx)
{
    printf("glassheap compare: ");
    print_cmd(stdout, cx->cmd);
    printf("\n(%d run%s each; medians)\n\n", cx->runs, cx->runs == 1 ? "" : "s");
    printf("%-10s %9s %11s %11s %9s %9s %6s %6s  %s\n", "allocator", "wall", "peak RSS", "peak heap",
           "peak util", "ext frag", "brk", "mmap", "output");
    bool any_star = false;
    for (int i = 0; i < cx->nrows; i++) {
        const struct row *r = &cx->rows[i];
        if (r->missing) {
            printf("%-10s not installed (%s)\n", r->name, r->lib);
            continue;
        }
        char f[N_METRICS][32];
        double v;
        for (int m = 0; m < N_METRICS; m++) {
            if (!median(r, (enum metric)m, &v)) {
                snprintf(f[m], sizeof f[m], "-");
                continue;
            }
            switch ((enum metric)m) {
            case M_WALL: snprintf(f[m], sizeof f[m], "%.3f s", v); break;
            case M_RSS:
            case M_HEAP: cli_bytes((uint64_t)v, f[m], sizeof f[m]); break;
            case M_UTIL: snprintf(f[m], sizeof f[m], "%.1f%%", 100 * v); break;
            case M_EXT:
                snprintf(f[m], sizeof f[m], "%.1f%%%s", 100 * v, ext_all_sampled(r) ? "" : "*");
                any_star |= !ext_all_sampled(r);
                break;
            default: snprintf(f[m], sizeof f[m], "%.0f", v); break;
            }
        }
        char out[96], st[32];
        int d = first_differing(r);
        if (d >= 0)
            snprintf(out, sizeof out, "DIFFERS (run %d)", d + 1);
        else
            snprintf(out, sizeof out, "%s", i == cx->ref ? "reference" : "same");
        if (r->done > 0 && r->runs[0].status != 0) {
            status_text(r->runs[0].status, st, sizeof st);
            snprintf(out + strlen(out), sizeof out - strlen(out), " (%s)", st);
        }
        if (r->kind == ROW_POLICY && policy_mismatch(r))
            snprintf(out + strlen(out), sizeof out - strlen(out), " (ran %s)", r->runs[0].policy_ran);
        printf("%-10s %9s %11s %11s %9s %9s %6s %6s  %s\n", r->name, f[M_WALL], f[M_RSS], f[M_HEAP],
               f[M_UTIL], f[M_EXT], f[M_BRK], f[M_MMAP], out);
    }
    printf("\n");
    printf("ext frag: external fragmentation (1 - largest free block / free bytes) when the heap was largest\n");
    if (any_star)
        printf("* external fragmentation at exit: the run ended before a sample described it\n");
    bool header = false;
    for (int i = 0; i < cx->nrows; i++) {
        const struct row *r = &cx->rows[i];
        int d = first_differing(r);
        if (d < 0)
            continue;
        if (!header)
            printf("outputs differing from %s's first run:\n", cx->rows[cx->ref].name);
        header = true;
        const struct run *u = &r->runs[d];
        if (u->differ_at == UINT64_MAX) {
            char a[32], b[32];
            status_text(u->status, a, sizeof a);
            status_text(cx->ref_status, b, sizeof b);
            printf("  %s, run %d: the same stdout, but %s (the reference: %s)\n", r->name, d + 1, a, b);
        } else {
            printf("  %s, run %d: stdout differs from byte %llu on\n", r->name, d + 1,
                   (unsigned long long)u->differ_at);
        }
    }
    for (int i = 0; i < cx->nrows; i++) {
        const struct row *r = &cx->rows[i];
        if (r->kind == ROW_POLICY && policy_mismatch(r))
            printf("note: %s: the library ran the policy '%s' instead\n", r->name, r->runs[0].policy_ran);
    }
}

/* ---- JSON --------------------------------------------------------------- */

static void json_metric(FILE *f, const struct row *r, enum metric m, const char *key, bool integer)
{
    double v;
    fprintf(f, ",\"%s\":", key);
    if (!median(r, m, &v))
        fprintf(f, "null");
    else if (integer)
        fprintf(f, "%.0f", v);
    else
        fprintf(f, "%.6g", v);
}

static bool all_match(const struct compare *cx)
{
    for (int i = 0; i < cx->nrows; i++)
        if (first_differing(&cx->rows[i]) >= 0)
            return false;
    return true;
}

static void print_json(const struct compare *cx)
{
    FILE *f = stdout;
    fprintf(f, "{\"command\":[");
    for (int i = 0; cx->cmd[i]; i++) {
        if (i)
            fputc(',', f);
        cli_json_string(f, cx->cmd[i]);
    }
    fprintf(f, "],\"runs\":%d,\"sample_interval_ms\":%d,\"reference\":", cx->runs, SAMPLE_MS);
    if (cx->ref >= 0)
        cli_json_string(f, cx->rows[cx->ref].name);
    else
        fprintf(f, "null");
    fprintf(f, ",\"all_outputs_match\":%s,\"rows\":[", all_match(cx) ? "true" : "false");
    for (int i = 0; i < cx->nrows; i++) {
        const struct row *r = &cx->rows[i];
        fprintf(f, "%s{\"name\":", i ? "," : "");
        cli_json_string(f, r->name);
        fprintf(f, ",\"kind\":\"%s\",\"library\":", r->kind == ROW_POLICY ? "policy" : "baseline");
        if (r->lib[0])
            cli_json_string(f, r->lib);
        else
            fprintf(f, "null");
        fprintf(f, ",\"installed\":%s", r->missing ? "false" : "true");
        if (r->missing) {
            fprintf(f, "}");
            continue;
        }
        fprintf(f, ",\"wall_s_runs\":[");
        for (int k = 0; k < r->done; k++)
            fprintf(f, "%s%.6f", k ? "," : "", r->runs[k].wall_s);
        fprintf(f, "]");
        json_metric(f, r, M_WALL, "wall_s", false);
        json_metric(f, r, M_RSS, "peak_rss_bytes", true);
        json_metric(f, r, M_HEAP, "peak_heap_bytes", true);
        json_metric(f, r, M_UTIL, "peak_utilisation", false);
        json_metric(f, r, M_EXT, "external_fragmentation_at_peak", false);
        double v;
        fprintf(f, ",\"external_fragmentation_source\":%s",
                !median(r, M_EXT, &v) ? "null" : ext_all_sampled(r) ? "\"sampled\"" : "\"exit\"");
        json_metric(f, r, M_BRK, "brk_calls", true);
        json_metric(f, r, M_MMAP, "mmap_calls", true);
        json_metric(f, r, M_LARGE, "peak_large_bytes", true);
        int d = first_differing(r);
        fprintf(f, ",\"output_matches\":%s,\"first_differing_run\":", d < 0 ? "true" : "false");
        if (d < 0)
            fprintf(f, "null");
        else
            fprintf(f, "%d", d + 1);
        fprintf(f, ",\"exit_statuses\":[");
        for (int k = 0; k < r->done; k++) {
            const int st = r->runs[k].status;
            fprintf(f, "%s%d", k ? "," : "", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        }
        fprintf(f, "]");
        if (r->kind == ROW_POLICY) {
            fprintf(f, ",\"policy_ran\":");
            if (r->done > 0 && r->runs[0].have_summary)
                cli_json_string(f, r->runs[0].policy_ran);
            else
                fprintf(f, "null");
            int others = 0;
            for (int k = 0; k < r->done; k++)
                others += r->runs[k].other_summaries;
            fprintf(f, ",\"other_processes\":%d", r->done ? others / r->done : 0);
        }
        fprintf(f, "}");
    }
    fprintf(f, "]}\n");
}

/* ---- SVG ---------------------------------------------------------------- */

/* Text as compare's chart has always escaped it: quotes as &quot;,
 * control characters left out. */
static void chart_text(FILE *f, const char *s)
{
    svg_escape(f, s, SIZE_MAX, SVG_ESC_QUOT | SVG_ESC_DROP_CTRL);
}

#define SVG_W 760
#define SVG_LABEL_W 120
#define SVG_BAR_W 470
#define SVG_BAR_H 14
#define SVG_ROW_H 18
#define SVG_PANEL_HEAD 26
#define SVG_PANEL_GAP 14
#define SVG_TOP 46
#define SVG_TITLE_MAX 80  /* characters of the command in the title */

static bool write_svg(const struct compare *cx, const char *path)
{
    static const struct {
        enum metric m;
        const char *title;
    } panels[] = {
        { M_WALL, "wall time (median, s)" },
        { M_RSS, "peak RSS" },
        { M_HEAP, "peak heap (glassheap)" },
        { M_UTIL, "peak utilisation (peak requested / peak heap)" },
        { M_EXT, "external fragmentation at peak heap" },
    };
    const size_t npanels = sizeof panels / sizeof panels[0];
    int shown = 0;
    for (int i = 0; i < cx->nrows; i++)
        shown += !cx->rows[i].missing;
    int panel_h = SVG_PANEL_HEAD + shown * SVG_ROW_H + SVG_PANEL_GAP;
    int height = SVG_TOP + (int)npanels * panel_h + 30;
    FILE *f = fopen(path, "w");
    if (!f) {
        cli_error("compare: cannot write '%s': %s", path, strerror(errno));
        return false;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
               "<text x=\"10\" y=\"20\" font-size=\"15\" font-weight=\"bold\">glassheap compare: ",
            SVG_W, height, SVG_W, height);
    char cmd[SVG_TITLE_MAX + 4] = "";
    for (int i = 0; cx->cmd[i] && strlen(cmd) < SVG_TITLE_MAX; i++)
        snprintf(cmd + strlen(cmd), SVG_TITLE_MAX + 1 - strlen(cmd), "%s%s", i ? " " : "", cx->cmd[i]);
    if (strlen(cmd) == SVG_TITLE_MAX) {
        while (strlen(cmd) > 0 && ((unsigned char)cmd[strlen(cmd) - 1] & 0xc0) == 0x80)
            cmd[strlen(cmd) - 1] = '\0'; /* no cut UTF-8 sequence */
        if (strlen(cmd) > 0)
            cmd[strlen(cmd) - 1] = '\0';
        strcat(cmd, "...");
    }
    chart_text(f, cmd);
    fprintf(f, "</text>\n<text x=\"10\" y=\"36\" fill=\"#555\">%d run%s per allocator; "
               "blue: glassheap policies, orange: other allocators; red label: output differs</text>\n",
            cx->runs, cx->runs == 1 ? "" : "s");
    int y = SVG_TOP;
    for (size_t p = 0; p < npanels; p++) {
        enum metric m = panels[p].m;
        double max = 0, v;
        for (int i = 0; i < cx->nrows; i++)
            if (!cx->rows[i].missing && median(&cx->rows[i], m, &v) && v > max)
                max = v;
        if (m == M_UTIL || m == M_EXT)
            max = max > 1 ? max : 1; /* fractions: the whole bar is 100% */
        fprintf(f, "<g>\n<text x=\"10\" y=\"%d\" font-weight=\"bold\">%s</text>\n", y + 16, panels[p].title);
        int ry = y + SVG_PANEL_HEAD;
        for (int i = 0; i < cx->nrows; i++) {
            const struct row *r = &cx->rows[i];
            if (r->missing)
                continue;
            bool differs = first_differing(r) >= 0;
            fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\"%s>", SVG_LABEL_W - 6, ry + 11,
                    differs ? " fill=\"#c00\"" : "");
            chart_text(f, r->name);
            fprintf(f, "</text>\n");
            char label[48];
            if (median(r, m, &v)) {
                int w = max > 0 ? (int)(v / max * SVG_BAR_W + 0.5) : 0;
                fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>\n",
                        SVG_LABEL_W, ry, w, SVG_BAR_H, r->kind == ROW_POLICY ? "#4e79a7" : "#f28e2b");
                switch (m) {
                case M_WALL: snprintf(label, sizeof label, "%.3f s", v); break;
                case M_RSS:
                case M_HEAP: cli_bytes((uint64_t)v, label, sizeof label); break;
                default: snprintf(label, sizeof label, "%.1f%%", 100 * v); break;
                }
                fprintf(f, "<text x=\"%d\" y=\"%d\">%s</text>\n", SVG_LABEL_W + w + 6, ry + 11, label);
            } else {
                fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"#888\">-</text>\n", SVG_LABEL_W + 6, ry + 11);
            }
            ry += SVG_ROW_H;
        }
        fprintf(f, "</g>\n");
        y += panel_h;
    }
    fprintf(f, "</svg>\n");
    if (fclose(f) != 0) {
        cli_error("compare: cannot write '%s': %s", path, strerror(errno));
        return false;
    }
    return true;
}

/* ---- the command -------------------------------------------------------- */

static void remove_tmpdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char path[PATH_MAX + 300];
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

static int run_all(struct compare *cx)
{
    /* each round: the reference first, then the others in table order */
    int order[MAX_ROWS], n = 0;
    if (cx->ref >= 0)
        order[n++] = cx->ref;
    for (int i = 0; i < cx->nrows; i++)
        if (i != cx->ref && !cx->rows[i].missing)
            order[n++] = i;
    bool progress = isatty(STDERR_FILENO);
    for (int round = 0; round < cx->runs; round++) {
        for (int k = 0; k < n; k++) {
            struct row *r = &cx->rows[order[k]];
            if (progress)
                fprintf(stderr, "\rglassheap compare: run %d/%d, %-10s", round + 1, cx->runs, r->name);
            if (!run_once(cx, r, round, &r->runs[r->done]))
                return GH_EXIT_FAIL;
            r->done++;
            if (interrupted)
                return 130;
        }
    }
    if (progress)
        fprintf(stderr, "\r%*s\r", 50, "");
    return GH_EXIT_OK;
}

int cmd_compare(int argc, char **argv)
{
    static const struct option opts[] = {
        { "policies", required_argument, NULL, 'p' },
        { "baselines", required_argument, NULL, 'b' },
        { "runs", required_argument, NULL, 'n' },
        { "json", no_argument, NULL, 'j' },
        { "svg", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    char policies[256] = "first,next,best,worst,buddy", baselines[4096] = "glibc,jemalloc,mimalloc";
    const char *svg = NULL;
    bool json = false;
    long runs = DEFAULT_RUNS;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+p:b:n:js:h", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'p':
            snprintf(policies, sizeof policies, "%s", optarg);
            break;
        case 'b':
            snprintf(baselines, sizeof baselines, "%s", optarg);
            break;
        case 'n':
            errno = 0;
            runs = strtol(optarg, &end, 10);
            if (errno || *end || runs < 1 || runs > MAX_RUNS) {
                cli_error("compare: --runs takes a count from 1 to %d, not '%s'", MAX_RUNS, optarg);
                return GH_EXIT_USAGE;
            }
            break;
        case 'j':
            json = true;
            break;
        case 's':
            svg = optarg;
            break;
        case 'h':
            help(stdout);
            return GH_EXIT_OK;
        default:
            help(stderr);
            return GH_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        cli_error("compare: no command given (glassheap compare [options] -- CMD [ARGS...])");
        return GH_EXIT_USAGE;
    }
    struct compare *cx = calloc(1, sizeof *cx);
    if (!cx) {
        cli_error("compare: out of memory");
        return GH_EXIT_FAIL;
    }
    cx->cmd = argv + optind;
    cx->runs = (int)runs;
    cx->ref = -1;
    char lib[PATH_MAX] = "";
    int status = GH_EXIT_USAGE;
    if (policies[0] && !cli_find_library(lib, sizeof lib)) {
        cli_error("compare: libglassheap.so not found (set GLASSHEAP_LIBRARY, or run the glassheap of a build tree or an installation)");
        status = GH_EXIT_FAIL;
        goto out;
    }
    /* table order: the policies, then the baselines */
    if (!add_policies(cx, policies, lib) || !add_baselines(cx, baselines))
        goto out;
    if (cx->nrows == 0) {
        cli_error("compare: no policies and no baselines: nothing to compare");
        goto out;
    }
    for (int i = 0; i < cx->nrows && cx->ref < 0; i++)
        if (cx->rows[i].kind == ROW_BASELINE && !cx->rows[i].missing)
            cx->ref = i;
    for (int i = 0; i < cx->nrows && cx->ref < 0; i++)
        if (!cx->rows[i].missing)
            cx->ref = i;
    if (cx->ref < 0) {
        cli_error("compare: none of the allocators is installed");
        status = GH_EXIT_FAIL;
        goto out;
    }
    for (int i = 0; i < cx->nrows; i++) {
        cx->rows[i].runs = calloc((size_t)cx->runs, sizeof *cx->rows[i].runs);
        if (!cx->rows[i].runs) {
            cli_error("compare: out of memory");
            status = GH_EXIT_FAIL;
            goto out;
        }
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(cx->tmpdir, sizeof cx->tmpdir, "%s/glassheap-compare.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(cx->tmpdir)) {
        cli_error("compare: cannot make a directory in %s: %s", tmp && *tmp ? tmp : "/tmp", strerror(errno));
        cx->tmpdir[0] = '\0';
        status = GH_EXIT_FAIL;
        goto out;
    }
    struct sigaction sa, old_int;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigaction(SIGINT, &sa, &old_int);
    status = run_all(cx);
    sigaction(SIGINT, &old_int, NULL);
    if (status != GH_EXIT_OK)
        goto out;
    if (json)
        print_json(cx);
    else
        print_table(cx);
    fflush(stdout);
    if (svg && !write_svg(cx, svg)) {
        status = GH_EXIT_FAIL;
        goto out;
    }
    {
        /* CMD could not run at all: say so (its stderr was shown) */
        const struct run *u = &cx->rows[cx->ref].runs[0];
        if (WIFEXITED(u->status) && (WEXITSTATUS(u->status) == 127 || WEXITSTATUS(u->status) == 126))
            status = GH_EXIT_FAIL;
    }
    if (!all_match(cx))
        status = GH_EXIT_FAIL;
out:
    if (cx->tmpdir[0])
        remove_tmpdir(cx->tmpdir);
    for (int i = 0; i < cx->nrows; i++)
        free(cx->rows[i].runs);
    free(cx);
    return status;
}
