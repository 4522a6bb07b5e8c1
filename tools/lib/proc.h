/* proc.h - what the tools read from /proc/PID: the stat line (state, start
 * time, start of the break), the user ids (status) and the mappings (maps).  The kernel's text is parsed, never trusted:
 * the command name (field 2) may hold spaces and ')', so fields are counted
 * after the last ')'; a line without the fields asked for is unparsable.
 */
#ifndef GH_TOOLS_PROC_H
#define GH_TOOLS_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GH_PROC_STAT_STATE      3  /* R, S, D, Z, X, ... */
#define GH_PROC_STAT_STARTTIME 22  /* clock ticks after boot */
#define GH_PROC_STAT_START_BRK 47  /* 0 when the kernel hides it */
#define GH_PROC_STAT_MAX     2048  /* longer than any /proc/PID/stat line */

struct gh_proc_stat {
    char state;            /* field 3 */
    uint64_t start_ticks;  /* field 22 */
    uint64_t start_brk;    /* field 47; 0 when the line stops before it */
};

/* Parse one stat line (NUL-terminated).  False when it has no ')' or no
 * number in fields 3 to 22; field 47 is optional (older kernels, hidden). */
bool gh_proc_stat_parse(const char *line, struct gh_proc_stat *out);

/* Read and parse /proc/<pid>/stat (pid 0: this process).  1 when read, 0
 * when the process is gone (ENOENT, ESRCH), -1 when /proc could not tell
 * (not mounted, unreadable, unparsable). */
int gh_proc_stat_read(int pid, struct gh_proc_stat *out);

/* The process runs and is not a zombie (a state other than Z or X). */
bool gh_proc_alive(int pid);

/* The user ids of a process: the "Uid:" line of /proc/<pid>/status. */
struct gh_proc_uids {
    unsigned real, effective, saved, fs;
};

/* Parse the "Uid:" line out of a status text (NUL-terminated); false when
 * there is none or it does not hold four numbers. */
bool gh_proc_uids_parse(const char *status, struct gh_proc_uids *out);

/* Read /proc/<pid>/status's Uid line: 1 when read, 0 when the process is
 * gone, -1 when /proc could not tell. */
int gh_proc_uids_read(int pid, struct gh_proc_uids *out);

/* One line of /proc/PID/maps. */
struct gh_proc_map {
    uint64_t start, end, offset;
    char perms[5];          /* "r-xp" */
    unsigned long long inode;
    char *path;             /* "" for anonymous; "[heap]", "[stack]", ... */
};

/* Parse one maps line ("start-end perms offset dev inode [path]").  False
 * when it does not parse or end <= start.  On true, *path points into line
 * at the path (its newline cut off). */
bool gh_proc_maps_line(char *line, struct gh_proc_map *out, char **path);

/* Read /proc/<pid>/maps into *maps (malloc'd, n entries, each path
 * strdup'd; lines that do not parse are skipped).  False with errno set
 * when the file cannot be opened or holds no mapping. */
bool gh_proc_maps_read(int pid, struct gh_proc_map **maps, size_t *n);
void gh_proc_maps_free(struct gh_proc_map *maps, size_t n);

#endif
