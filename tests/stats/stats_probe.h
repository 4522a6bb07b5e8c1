/* stats_probe.h - what the parts of gh_stats_probe share (stats_probe.c
 * has the whole story): the child-process harness, the segment helpers and
 * the checks of header and configuration (stats_probe.c), and the tests,
 * one file per part: stats_probe_preload.c (the script, predicted),
 * stats_probe_live.c (live reading), stats_probe_life.c (the segment's
 * life).
 */
#ifndef GH_STATS_PROBE_H
#define GH_STATS_PROBE_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "reader.h"

#define LINE_TIMEOUT_MS   15000  /* slow shared machines: generous, never slept */
#define ANSWER_TIMEOUT_MS 5000
#define EXIT_TIMEOUT_MS   10000
#define CHURN_MIN_MS      3000   /* churn at least this long ... */
#define CHURN_MAX_MS      30000  /* ... and until the minimum counts, at most this */
#define MIN_SNAPSHOTS     200
#define MIN_MAPS          20
#define MAP_EVERY         8      /* one map per this many counter snapshots */
#define RACING_READS      100    /* unrequested reads after each requested one */
#define LIVE_READS        8      /* reads of the counters in place after each requested one */
#define MAP_CAP           GH_SHM_MAP_CAPACITY
#define DEFAULT_THRESHOLD (128u * 1024u)
#define FIT_REGION_OVERHEAD 64u  /* 48-byte record + 16-byte end marker */
#define BUDDY_REGION_HEADER 48u
#define MAX_PROCS         4
#define MAX_TRACKED       8

extern char **environ;

/* TEST POLICY HELPER LIBRARY from the command line. */
extern const char *policy, *helper_path, *library_path;

/* ---- helpers as child processes ---- */

struct proc {
    pid_t pid;               /* 0 once reaped */
    int to, from;            /* its stdin (we write), its stdout (we read) */
    char buf[4096];
    size_t len;
};

extern struct proc procs[MAX_PROCS];
extern int nprocs;
extern pid_t tracked[MAX_TRACKED];   /* every pid whose segment we may leave */
extern int ntracked;

bool is_buddy(void);
void track(pid_t pid);
uint64_t mono_ms(void);
uint64_t real_ns(void);
struct proc *spawn(char *const args[], bool shm);
void read_line(struct proc *p, char *line, size_t cap);
bool line_ready(struct proc *p);
void expect_line(struct proc *p, const char *want);
long expect_word_num(struct proc *p, const char *word);
void send_line(struct proc *p);
int wait_exit(struct proc *p);
void expect_clean_exit(struct proc *p);
void seg_file(char *buf, size_t cap, pid_t pid);
bool seg_exists(pid_t pid);
void wait_seg(pid_t pid, bool exists);
struct ghr_segment *open_seg(pid_t pid);
void get_counters(struct ghr_segment *seg, struct gh_shm_counters *c);
void map_bounds(pid_t pid, uint64_t *start, uint64_t *end);
int setup(void **state);
int teardown(void **state);
void check_header(struct ghr_segment *seg, pid_t pid, uint64_t started_after);
void check_config(struct ghr_segment *seg, const char *cmdline_has);

/* The tests (cmocka), one file per part. */
void test_preload(void **state);
void test_live(void **state);
void test_life_exit(void **state);
void test_life_fork(void **state);
void test_life_exec(void **state);
void test_life_kill(void **state);
void test_life_noshm(void **state);

#endif
