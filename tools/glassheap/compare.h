/* compare.h - what `glassheap compare`'s files share: the rows (one per
 * allocator) and the runs they measured.  cmd_compare.c parses the options
 * and the allocator lists and runs the rounds; compare_run.c runs and
 * measures one run; compare_output.c computes the figures and shows them
 * (table, JSON, SVG).
 */
#ifndef GH_CLI_COMPARE_H
#define GH_CLI_COMPARE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define MAX_RUNS 1000
#define MAX_ROWS 32
#define SAMPLE_MS 10            /* how often a glassheap run is asked for counters */
#define NAME_MAX_LEN 64

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
    bool cache;                 /* --cache: policies run with the per-thread caches and
                                 * arenas; default: the pure policy (GLASSHEAP_CACHE=0,
                                 * GLASSHEAP_ARENAS=1), every block placed by it */
    int ref;                    /* index of the reference row, -1 none */
    int runs;
    char **cmd;
    char tmpdir[PATH_MAX];
    char ref_out[PATH_MAX + 32];
    int ref_status;
    bool have_ref;
};

/* Run r once (round `round`), measure it into *out, compare its output
 * with the reference's (the first run becomes the reference).  False on a
 * failure that stops the whole comparison (a message said why). */
bool compare_run_once(struct compare *cx, struct row *r, int round, struct run *out);

/* The outputs (compare_output.c). */
void compare_print_table(const struct compare *cx);
void compare_print_json(const struct compare *cx);
bool compare_write_svg(const struct compare *cx, const char *path);
/* Every run's output and status matched the reference's. */
bool compare_all_match(const struct compare *cx);

#endif
