/* cmd_compare.c - glassheap compare: run one program under every placement
 * policy and under other allocators, and print one table.
 *
 *   glassheap compare [--policies LIST] [--baselines LIST] [--runs N]
 *                     [--cache] [--json] [--svg FILE] -- CMD [ARGS...]
 *
 * Files: this one parses the options and the allocator lists and runs the
 * rounds; compare_run.c runs and measures one run; compare_output.c the
 * figures, table, JSON and SVG.
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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "compare.h"

#ifndef GH_MULTIARCH
#define GH_MULTIARCH ""
#endif

#define DEFAULT_RUNS 3

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
            "                         [--cache] [--json] [--svg FILE] -- CMD [ARGS...]\n\n"
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
            "  --policies LIST   glassheap policies (default %s;\n"
            "                    '' for none)\n"
            "  --baselines LIST  other allocators: glibc (no preload), jemalloc, mimalloc,\n"
            "                    tcmalloc, NAME=LIBRARY or a library path (default\n"
            "                    glibc,jemalloc,mimalloc; '' for none).  One not installed\n"
            "                    is listed as such and skipped.\n"
            "  --runs N          runs per allocator (default %d)\n"
            "  --cache           run the policies with their per-thread caches and arenas\n"
            "                    (default: the pure policy, GLASSHEAP_CACHE=0 GLASSHEAP_ARENAS=1,\n"
            "                    every block placed by it; docs/cache-and-arenas.md)\n"
            "  --json            print one JSON object instead of the table\n"
            "  --svg FILE        also draw the figures as bar charts, one panel per figure\n\n"
            "CMD reads /dev/null as its stdin; its stderr is kept apart and shown when a run\n"
            "fails.  LD_PRELOAD and GLASSHEAP_* are set per allocator (GLASSHEAP_MMAP_THRESHOLD\n"
            "is passed on).  Exit status: 0 every run ran and matched the reference; 2 usage;\n"
            "3 some run's output differed, or compare could not run CMD.\n",
            SAMPLE_MS, CLI_POLICIES_CSV, DEFAULT_RUNS);
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
            cli_error("compare: '%s' is not a policy (" GLASSHEAP_POLICY_LIST ")", tok);
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
            if (!compare_run_once(cx, r, round, &r->runs[r->done]))
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
        { "cache", no_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    char policies[256], baselines[4096] = "glibc,jemalloc,mimalloc";
    snprintf(policies, sizeof policies, "%s", CLI_POLICIES_CSV);
    const char *svg = NULL;
    bool json = false;
    long runs = DEFAULT_RUNS;
    int c;
    optind = 1;
    bool cache = false;
    while ((c = getopt_long(argc, argv, "+p:b:n:js:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            cache = true;
            break;
        case 'p':
            snprintf(policies, sizeof policies, "%s", optarg);
            break;
        case 'b':
            snprintf(baselines, sizeof baselines, "%s", optarg);
            break;
        case 'n':
            if (!cli_parse_long(optarg, 1, MAX_RUNS, &runs)) {
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
    cx->cache = cache;
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
        compare_print_json(cx);
    else
        compare_print_table(cx);
    fflush(stdout);
    if (svg && !compare_write_svg(cx, svg)) {
        status = GH_EXIT_FAIL;
        goto out;
    }
    {
        /* CMD could not run at all: say so (its stderr was shown) */
        const struct run *u = &cx->rows[cx->ref].runs[0];
        if (WIFEXITED(u->status) && (WEXITSTATUS(u->status) == 127 || WEXITSTATUS(u->status) == 126))
            status = GH_EXIT_FAIL;
    }
    if (!compare_all_match(cx))
        status = GH_EXIT_FAIL;
out:
    if (cx->tmpdir[0])
        remove_tmpdir(cx->tmpdir);
    for (int i = 0; i < cx->nrows; i++)
        free(cx->rows[i].runs);
    free(cx);
    return status;
}
