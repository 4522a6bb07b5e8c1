/* trace.c - the allocation trace writer (see trace.h).
 *
 * The file is opened through gh_os_open_private() (os.h: no symbolic link,
 * no other user's file, new files 0600); a file that cannot be used gets
 * gh_os_warn_unusable()'s one line here, for the first process and for a
 * forked child alike, and nothing is recorded. */
#define _GNU_SOURCE
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "os.h"

/* The calling thread's id, cached (reset in a forked child, whose one
 * thread has a new id). */
static __thread uint32_t tls_tid;

static uint64_t now(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool write_all(int fd, const void *p, size_t len)
{
    const char *c = p;
    while (len) {
        ssize_t w = write(fd, c, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        c += w;
        len -= (size_t)w;
    }
    return true;
}

/* The file name for this pid: %p expanded, or ".<pid>" appended when the
 * pattern has no %p and this is not the process that started recording. */
static bool path_for(const struct gh_trace *t, bool child, char *out, size_t cap)
{
    long pid = (long)getpid();
    if (!gh_config_expand_path(t->pattern, pid, out, cap))
        return false;
    if (child && !strstr(t->pattern, "%p")) {
        size_t l = strlen(out);
        char num[24];
        int n = gh_fmt_dec(num, (unsigned long)pid);
        if (l + 1 + (size_t)n + 1 > cap)
            return false;
        out[l] = '.';
        memcpy(out + l + 1, num, (size_t)n + 1);
    }
    return true;
}

static int start(struct gh_trace *t, bool child, const char *policy, uint64_t mmap_threshold)
{
    long parent = child ? t->pid : 0;
    char path[GH_PATH_MAX + 32];
    t->fd = -1;
    t->n = 0;
    t->records = 0;
    if (!path_for(t, child, path, sizeof path)) {
        gh_os_warn_unusable("GLASSHEAP_TRACE", t->pattern, ENAMETOOLONG, "not recording");
        return ENAMETOOLONG;
    }
    int fd;
    int err = gh_os_open_private(path, &fd);
    if (err) {
        gh_os_warn_unusable("GLASSHEAP_TRACE", path, err, "not recording");
        return err;
    }
    struct gh_trace_header h;
    gh_trace_header_init(&h, (int32_t)getpid(), now(CLOCK_REALTIME), policy, mmap_threshold, (int32_t)parent);
    int cfd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (cfd >= 0) {
        ssize_t r = read(cfd, h.cmdline, sizeof h.cmdline - 1);
        for (ssize_t i = 0; i + 1 < r; i++)
            if (h.cmdline[i] == '\0')
                h.cmdline[i] = ' ';
        close(cfd);
    }
    if (!write_all(fd, &h, sizeof h)) {
        err = errno ? errno : EIO;
        close(fd);
        gh_os_warn_unusable("GLASSHEAP_TRACE", path, err, "not recording");
        return err;
    }
    t->t0 = now(CLOCK_MONOTONIC);
    t->pid = (long)getpid();
    t->fd = fd;
    return 0;
}

int gh_trace_open(struct gh_trace *t, const char *pattern, const char *policy, uint64_t mmap_threshold)
{
    size_t l = strlen(pattern);
    if (l >= sizeof t->pattern) {
        t->fd = -1;
        gh_os_warn_unusable("GLASSHEAP_TRACE", "(a pattern longer than the limit)", ENAMETOOLONG, "not recording");
        return ENAMETOOLONG;
    }
    memcpy(t->pattern, pattern, l + 1);
    return start(t, false, policy, mmap_threshold);
}

void gh_trace_flush(struct gh_trace *t)
{
    if (t->fd < 0 || t->n == 0)
        return;
    if (!write_all(t->fd, t->buf, t->n * sizeof t->buf[0])) {
        /* Disk full or closed under us: stop recording, say so once. */
        gh_write_str(2, "glassheap: GLASSHEAP_TRACE: write failed; recording stopped\n");
        close(t->fd);
        t->fd = -1;
    }
    t->records += t->n;
    t->n = 0;
}

void gh_trace_add(struct gh_trace *t, enum gh_trace_op op, const void *ptr, const void *result, uint64_t size,
                  uint32_t align)
{
    if (t->fd < 0)
        return;
    struct gh_trace_record *r = &t->buf[t->n++];
    r->time_ns = now(CLOCK_MONOTONIC) - t->t0;
    r->ptr = (uint64_t)(uintptr_t)ptr;
    r->result = (uint64_t)(uintptr_t)result;
    r->size = size;
    r->align = align;
    if (!tls_tid)
        tls_tid = (uint32_t)syscall(SYS_gettid);
    r->tid = tls_tid;
    r->op = (uint8_t)op;
    memset(r->pad, 0, sizeof r->pad);
    if (t->n == GH_TRACE_BUFFER)
        gh_trace_flush(t);
}

void gh_trace_forked(struct gh_trace *t, const char *policy, uint64_t mmap_threshold)
{
    if (t->fd < 0)
        return;
    tls_tid = 0;
    close(t->fd); /* the parent's file: the parent writes its own records */
    start(t, true, policy, mmap_threshold);
}

void gh_trace_close(struct gh_trace *t)
{
    if (t->fd < 0)
        return;
    gh_trace_flush(t);
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}
