/* cli.c - helpers shared by the subcommands. */
#define _GNU_SOURCE
#include "cli.h"

#include "bytes.h"
#include "escape.h"
#include "reader.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef GH_INSTALL_LIBDIR
#define GH_INSTALL_LIBDIR "/usr/local/lib"
#endif

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("glassheap: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

const char *cli_bytes(uint64_t n, char *buf, size_t cap)
{
    return human_bytes(n, buf, cap);
}

#define CLI_POLICY_NAME(name) #name,
const char *const cli_policies[CLI_NPOLICIES] = { GLASSHEAP_POLICIES(CLI_POLICY_NAME) };

const char *cli_policy(const char *name)
{
    for (size_t i = 0; i < CLI_NPOLICIES; i++)
        if (!strcmp(name, cli_policies[i]))
            return cli_policies[i];
    return NULL;
}

void cli_json_string(FILE *f, const char *s)
{
    gh_esc_json(f, s);
}

/* struct gh_shm_arena's words, in layout order, under their shm.h names. */
#define ARENA_FIELDS(X)                                                            \
    X(index) X(threads) X(calls) X(used_blocks) X(used_block_bytes)                \
    X(used_requested) X(free_blocks) X(free_bytes) X(largest_free)                 \
    X(heap_bytes) X(overhead_bytes) X(regions) X(peak_heap_bytes)

struct gh_shm_arena cli_arenas_total(const struct gh_shm_arena *a, size_t n)
{
    struct gh_shm_arena t = { 0 };
    for (size_t k = 0; k < n; k++) {
        t.threads += a[k].threads;
        t.calls += a[k].calls;
        t.used_blocks += a[k].used_blocks;
        t.used_block_bytes += a[k].used_block_bytes;
        t.used_requested += a[k].used_requested;
        t.free_blocks += a[k].free_blocks;
        t.free_bytes += a[k].free_bytes;
        t.largest_free = a[k].largest_free > t.largest_free ? a[k].largest_free : t.largest_free;
        t.heap_bytes += a[k].heap_bytes;
        t.overhead_bytes += a[k].overhead_bytes;
        t.regions += a[k].regions;
        t.peak_heap_bytes += a[k].peak_heap_bytes;
    }
    return t;
}

void cli_json_arenas(FILE *f, const struct gh_shm_arena *a, size_t n)
{
    fputs(",\"arenas\":[", f);
    for (size_t k = 0; k < n; k++) {
        const char *sep = "";
        fputs(k ? ",{" : "{", f);
#define X(name)                                                      \
        fprintf(f, "%s\"" #name "\":%" PRIu64, sep, a[k].name);      \
        sep = ",";
        ARENA_FIELDS(X)
#undef X
        fputc('}', f);
    }
    fputc(']', f);
}

bool cli_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *s == '\0' || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

bool cli_parse_pid(const char *s, int *pid)
{
    long v;
    if (!cli_parse_long(s, 1, INT_MAX, &v)) {
        cli_error("'%s' is not a process id", s);
        return false;
    }
    *pid = (int)v;
    return true;
}

static bool usable(const char *path)
{
    return access(path, R_OK) == 0;
}

const char *cli_find_library(char *buf, size_t cap)
{
    const char *env = getenv("GLASSHEAP_LIBRARY");
    if (env && *env) {
        snprintf(buf, cap, "%s", env);
        return usable(buf) ? buf : NULL;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            /* build tree: <build>/tools/glassheap/glassheap, library at <build>/libglassheap.so */
            static const char *rel[] = { "/../../libglassheap.so", "/../lib/libglassheap.so",
                                         "/../lib/" GH_MULTIARCH "/libglassheap.so" };
            for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
                snprintf(buf, cap, "%s%s", self, rel[i]);
                if (usable(buf)) {
                    char real[PATH_MAX];
                    if (realpath(buf, real))
                        snprintf(buf, cap, "%s", real);
                    return buf;
                }
            }
        }
    }
    snprintf(buf, cap, "%s/libglassheap.so", GH_INSTALL_LIBDIR);
    return usable(buf) ? buf : NULL;
}

int cli_open_failed(const char *cmd, int pid, int rc)
{
    switch (rc) {
    case GHR_NO_PROCESS:
        cli_error("%s: no process %d", cmd, pid);
        return GH_EXIT_NOTFOUND;
    case GHR_NO_SEGMENT:
        cli_error("%s: process %d does not run glassheap (no %s/glassheap.%d)", cmd, pid, GH_SHM_DIR, pid);
        return GH_EXIT_NOTFOUND;
    case GHR_STALE:
        cli_error("%s: process %d has exited (its segment is stale)", cmd, pid);
        return GH_EXIT_NOTFOUND;
    default:
        cli_error("%s: process %d: %s", cmd, pid, ghr_strerror((enum ghr_error)rc));
        return GH_EXIT_FAIL;
    }
}
