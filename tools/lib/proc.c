/* proc.c - /proc/PID/stat and /proc/PID/maps, parsed once for every tool
 * (proc.h). */
#define _GNU_SOURCE
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The unsigned decimal at p; false when there is none or it overflows. */
static bool number(const char *p, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p, &end, 10);
    if (end == p || errno || (*end && *end != ' ' && *end != '\n'))
        return false;
    *out = v;
    return true;
}

bool gh_proc_stat_parse(const char *line, struct gh_proc_stat *out)
{
    struct gh_proc_stat st = { 0, 0, 0 };
    const char *p = strrchr(line, ')');
    if (!p)
        return false;
    p++;
    /* after ')': " S ppid ..." - field 3 is the state */
    int field = 2;
    bool have_start = false;
    while (*p && *p != '\n') {
        while (*p == ' ')
            p++;
        if (!*p || *p == '\n')
            break;
        field++;
        if (field == GH_PROC_STAT_STATE)
            st.state = *p;
        else if (field == GH_PROC_STAT_STARTTIME && !(have_start = number(p, &st.start_ticks)))
            return false;
        else if (field == GH_PROC_STAT_START_BRK) {
            if (!number(p, &st.start_brk))
                st.start_brk = 0;
            break;
        }
        while (*p && *p != ' ' && *p != '\n')
            p++;
    }
    if (!have_start || st.state == '\0')
        return false;
    *out = st;
    return true;
}

int gh_proc_stat_read(int pid, struct gh_proc_stat *out)
{
    char path[64], buf[GH_PROC_STAT_MAX];
    if (pid > 0)
        snprintf(path, sizeof path, "/proc/%d/stat", pid);
    else
        snprintf(path, sizeof path, "/proc/self/stat");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return (errno == ENOENT || errno == ESRCH) ? 0 : -1;
    ssize_t len = read(fd, buf, sizeof buf - 1);
    int saved = errno;
    close(fd);
    if (len < 0)
        return saved == ESRCH ? 0 : -1;
    buf[len] = '\0';
    return gh_proc_stat_parse(buf, out) ? 1 : -1;
}

bool gh_proc_alive(int pid)
{
    struct gh_proc_stat st;
    return gh_proc_stat_read(pid, &st) == 1 && st.state != 'Z' && st.state != 'X';
}

#define STATUS_MAX 8192 /* longer than any /proc/PID/status */

bool gh_proc_uids_parse(const char *status, struct gh_proc_uids *out)
{
    const char *p = status;
    while (p && strncmp(p, "Uid:", 4) != 0) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    if (!p)
        return false;
    struct gh_proc_uids u;
    if (sscanf(p + 4, "%u %u %u %u", &u.real, &u.effective, &u.saved, &u.fs) != 4)
        return false;
    *out = u;
    return true;
}

int gh_proc_uids_read(int pid, struct gh_proc_uids *out)
{
    char path[64];
    char buf[STATUS_MAX];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return (errno == ENOENT || errno == ESRCH) ? 0 : -1;
    size_t n = 0;
    ssize_t r;
    while (n + 1 < sizeof buf && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    int saved = errno;
    close(fd);
    if (n == 0)
        return saved == ESRCH ? 0 : -1;
    buf[n] = '\0';
    return gh_proc_uids_parse(buf, out) ? 1 : -1;
}

bool gh_proc_maps_line(char *line, struct gh_proc_map *out, char **path)
{
    struct gh_proc_map m = { 0 };
    unsigned long long s, e, off;
    int pos = 0;
    if (sscanf(line, "%llx-%llx %4s %llx %*s %llu %n", &s, &e, m.perms, &off, &m.inode, &pos) < 5 || e <= s ||
        pos == 0)
        return false;
    char *p = line + pos;
    p[strcspn(p, "\n")] = '\0';
    m.start = s;
    m.end = e;
    m.offset = off;
    *out = m;
    *path = p;
    return true;
}

bool gh_proc_maps_read(int pid, struct gh_proc_map **maps, size_t *n)
{
    *maps = NULL;
    *n = 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    size_t cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    while (getline(&line, &lcap, f) > 0) {
        struct gh_proc_map m;
        char *p;
        if (!gh_proc_maps_line(line, &m, &p))
            continue;
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            struct gh_proc_map *v = realloc(*maps, nc * sizeof *v);
            if (!v)
                break;
            *maps = v;
            cap = nc;
        }
        m.path = strdup(p);
        if (!m.path)
            break;
        (*maps)[(*n)++] = m;
    }
    free(line);
    fclose(f);
    return *n > 0;
}

void gh_proc_maps_free(struct gh_proc_map *maps, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(maps[i].path);
    free(maps);
}
