/* cli.h - what the glassheap command's subcommands share.
 *
 * Each subcommand is one file cmd_<name>.c defining
 *     int cmd_<name>(int argc, char **argv);   argv[0] is the subcommand name
 * and a line in the table in main.c.  Exit codes: 0 success, 1 the thing
 * asked about is not there or not answering (no such process, stale
 * segment, timeout), 2 usage errors, 3 other failures.
 */
#ifndef GH_CLI_H
#define GH_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <glassheap/policies.h>
#include <glassheap/shm.h>

#define GH_EXIT_OK 0
#define GH_EXIT_NOTFOUND 1
#define GH_EXIT_USAGE 2
#define GH_EXIT_FAIL 3

/* Print "glassheap: <message>\n" on stderr (printf-style). */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Say why the segment of process pid could not be opened (rc, a reader
 * error) as subcommand cmd, and return the exit status for it: not found
 * for no process, no segment or a stale one; a failure otherwise. */
int cli_open_failed(const char *cmd, int pid, int rc);

/* A byte count as a person reads it: "512 B", "1.5 KiB", "12.0 MiB". */
const char *cli_bytes(uint64_t n, char *buf, size_t cap);

/* s as a JSON string literal on f: tools/lib's gh_esc_json (escape.h), the
 * one rule for untrusted strings. */
void cli_json_string(FILE *f, const char *s);

/* ,"arenas":[{...},...] on f: every word of each struct gh_shm_arena
 * (shm.h) under its name, the one shape stat, top and watch print. */
void cli_json_arenas(FILE *f, const struct gh_shm_arena *a, size_t n);

/* The n arenas' entries added up (largest_free: the largest of them; index 0). */
struct gh_shm_arena cli_arenas_total(const struct gh_shm_arena *a, size_t n);

/* The placement policies, in the order every table lists them: the
 * GLASSHEAP_POLICIES(X) table of <glassheap/policies.h>. */
#define CLI_NPOLICIES GLASSHEAP_POLICY_COUNT
extern const char *const cli_policies[CLI_NPOLICIES];
/* The names joined by commas, "first,next,...": a --policies default. */
#define CLI_POLICY_COMMA(name) "," #name
#define CLI_POLICIES_CSV (&GLASSHEAP_POLICIES(CLI_POLICY_COMMA)[1])

/* name's entry in cli_policies (the same pointer), or NULL. */
const char *cli_policy(const char *name);

/* s as a decimal integer in [lo, hi]: the whole string, no overflow;
 * false (no message) otherwise. */
bool cli_parse_long(const char *s, long lo, long hi, long *out);

/* The options `run` takes and `record` passes on to it (struct option
 * entries, for a table of <getopt.h>). */
#define CLI_RUN_OPTIONS                                    \
    { "policy", required_argument, NULL, 'p' },            \
    { "stats", optional_argument, NULL, 's' },             \
    { "stats-file", required_argument, NULL, 'f' },        \
    { "mmap-threshold", required_argument, NULL, 't' }

/* Parse a PID argument; false (and a message) when it is not one. */
bool cli_parse_pid(const char *s, int *pid);

/* Find libglassheap.so: $GLASSHEAP_LIBRARY, next to this executable in the
 * build tree (../libglassheap.so), or the installed lib dir.  Returns a
 * path in buf, or NULL when none exists. */
const char *cli_find_library(char *buf, size_t cap);

/* The subcommands (one file each; main.c's table lists those built). */
int cmd_run(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_map(int argc, char **argv);
int cmd_layout(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_trace_stats(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_watch(int argc, char **argv);

#define GH_SUMMARY_ps "list the processes running glassheap"
#define GH_SUMMARY_stat "print one process's counters and fragmentation"
#define GH_SUMMARY_top "watch one process's heap live"
#define GH_SUMMARY_map "draw one process's heap, block by block (terminal or SVG)"
#define GH_SUMMARY_layout "draw one process's address space (terminal or SVG)"
#define GH_SUMMARY_compare "run a program under every policy and allocator, one table"
#define GH_SUMMARY_record "record a program's allocation trace"
#define GH_SUMMARY_replay "replay a trace through every policy"
#define GH_SUMMARY_trace_stats "summarise a trace: sizes, lifetimes, peak live"
#define GH_SUMMARY_convert "convert a trace between binary and malloc-lab text"
#define GH_SUMMARY_watch "sample one process's heap over time, from outside (JSON lines)"

#endif
