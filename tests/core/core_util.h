/* core_util.h - what the core unit tests share: catching what the code
 * under test writes to fd 2 (its warnings go out with write(2), not stdio),
 * and a temporary directory for files it writes.
 *
 * Everything here is static inline.  cmocka.h must be included first.
 */
#ifndef GH_CORE_UTIL_H
#define GH_CORE_UTIL_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* fd 2 redirected to an unlinked temporary file until stderr_end. */
struct capture {
    int saved; /* the real fd 2 */
    int fd;    /* the temporary file */
    char text[8192];
    size_t len;
};

static inline void stderr_begin(struct capture *c)
{
    char path[] = "/tmp/gh_core_stderr.XXXXXX";
    fflush(stderr);
    c->fd = mkstemp(path);
    assert_true(c->fd >= 0);
    unlink(path);
    c->saved = dup(2);
    assert_true(c->saved >= 0);
    assert_true(dup2(c->fd, 2) == 2);
    c->len = 0;
    c->text[0] = '\0';
}

/* Restore fd 2; c->text holds what was written (NUL-terminated). */
static inline const char *stderr_end(struct capture *c)
{
    fflush(stderr);
    assert_true(dup2(c->saved, 2) == 2);
    close(c->saved);
    off_t end = lseek(c->fd, 0, SEEK_END);
    assert_true(end >= 0 && (size_t)end < sizeof c->text);
    ssize_t r = pread(c->fd, c->text, (size_t)end, 0);
    assert_true(r == end);
    close(c->fd);
    c->len = (size_t)r;
    c->text[c->len] = '\0';
    return c->text;
}

/* A fresh directory under /tmp (path in dir, size cap). */
static inline void tmpdir_make(char *dir, size_t cap)
{
    assert_true(cap > 32);
    strcpy(dir, "/tmp/gh_core.XXXXXX");
    assert_non_null(mkdtemp(dir));
}

/* Read a whole file into a malloc'd buffer; *len gets its size. */
static inline unsigned char *file_read(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fail_msg("cannot open %s", path);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    unsigned char *buf = malloc((size_t)st.st_size + 1);
    assert_non_null(buf);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        assert_true(r > 0);
        got += (size_t)r;
    }
    close(fd);
    *len = got;
    return buf;
}

#endif
