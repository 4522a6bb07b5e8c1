/* reader_dir.c - the directory of segments (reader.h): listing every
 * glassheap.<pid> file, removing the stale ones, and the identity of one
 * file.  Reads the directory with getdents64 into a stack buffer (opendir
 * would allocate) and judges each file through ghr_open_path.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reader_private.h"

#define PID_DIGITS_MAX   10       /* INT_MAX has 10 digits */

bool ghr_seg_path(char *buf, size_t cap, const char *dir, int pid)
{
    int n = snprintf(buf, cap, "%s/" NAME_PREFIX "%d", dir, pid);
    return n > 0 && (size_t)n < cap;
}

/* pid from a name "glassheap.<digits>": no sign, no leading zero, fits int.
 * 0 when the name has another shape. */
static int pid_from_name(const char *name)
{
    size_t plen = strlen(NAME_PREFIX);
    if (strncmp(name, NAME_PREFIX, plen) != 0)
        return 0;
    const char *d = name + plen;
    size_t len = strlen(d);
    if (len == 0 || len > PID_DIGITS_MAX || d[0] == '0')
        return 0;
    long long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (d[i] < '0' || d[i] > '9')
            return 0;
        v = v * 10 + (d[i] - '0');
    }
    return v > INT_MAX ? 0 : (int)v;
}

bool ghr_file_id(int pid, dev_t *dev, ino_t *ino)
{
    char path[PATH_BUF];
    struct stat st;
    if (pid <= 0 || !ghr_seg_path(path, sizeof path, GH_SHM_DIR, pid) || stat(path, &st) != 0)
        return false;
    *dev = st.st_dev;
    *ino = st.st_ino;
    return true;
}

/* ---- the directory ---------------------------------------------------- */

/* The kernel's struct linux_dirent64, read by offsets. */
#define DIRENT_RECLEN_AT 16
#define DIRENT_NAME_AT   19

int ghr_list_dir(const char *dir,
                 void (*fn)(void *ctx, int pid, enum ghr_error status), void *ctx)
{
    if (!dir || !fn)
        return GHR_IO;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return GHR_IO;
    /* getdents64 into a stack buffer: opendir would allocate */
    _Alignas(8) char buf[8192];
    for (;;) {
        ssize_t got = getdents64(dfd, buf, sizeof buf);
        if (got < 0) {
            close(dfd);
            return GHR_IO;
        }
        if (got == 0)
            break;
        for (ssize_t at = 0; at < got;) {
            unsigned short reclen;
            memcpy(&reclen, buf + at + DIRENT_RECLEN_AT, sizeof reclen);
            if (reclen == 0)
                break;
            const char *name = buf + at + DIRENT_NAME_AT;
            at += reclen;
            int pid = pid_from_name(name);
            if (pid == 0)
                continue;
            char path[PATH_BUF];
            struct ghr_segment *seg = NULL;
            int st = ghr_seg_path(path, sizeof path, dir, pid)
                   ? ghr_open_path(path, pid, &seg) : GHR_IO;
            ghr_close(seg);
            fn(ctx, pid, (enum ghr_error)st);
        }
    }
    close(dfd);
    return GHR_OK;
}

int ghr_list(void (*fn)(void *ctx, int pid, enum ghr_error status), void *ctx)
{
    return ghr_list_dir(GH_SHM_DIR, fn, ctx);
}

int ghr_remove_stale_dir(const char *dir, int pid)
{
    char path[PATH_BUF];
    if (!dir || pid <= 0 || !ghr_seg_path(path, sizeof path, dir, pid))
        return GHR_NO_SEGMENT;
    struct ghr_segment *seg = NULL;
    int rc = ghr_open_path(path, pid, &seg);
    if (rc != GHR_STALE) {
        ghr_close(seg);
        return rc == GHR_OK ? GHR_ALIVE : rc;
    }
    /* Unlink only the file judged: a new writer may have replaced it. */
    struct stat st;
    int gone = stat(path, &st) != 0 && errno == ENOENT;
    bool same = !gone && st.st_dev == seg->dev && st.st_ino == seg->ino;
    ghr_close(seg);
    if (gone)
        return GHR_OK;           /* someone else removed it */
    if (!same)
        return GHR_ALIVE;
    if (unlink(path) != 0)
        return errno == ENOENT ? GHR_OK : GHR_IO;
    return GHR_OK;
}

int ghr_remove_stale(int pid)
{
    return ghr_remove_stale_dir(GH_SHM_DIR, pid);
}
