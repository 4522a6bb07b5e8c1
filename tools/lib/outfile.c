/* outfile.c - the tools' files, created by the rule of outfile.h. */
#define _GNU_SOURCE
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OPEN_TRIES 4 /* create, else open the existing file, when the name comes and goes */

int gh_outfile_open(const char *path, int *fd)
{
    const int flags = O_WRONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC;
    *fd = -1;
    int f = -1;
    for (int try = 0; f < 0 && try < OPEN_TRIES; try++) {
        f = open(path, flags | O_CREAT | O_EXCL, 0600);
        if (f >= 0)
            break;
        if (errno != EEXIST)
            return errno;
        f = open(path, flags);
        if (f < 0 && errno != ENOENT)
            return errno;
    }
    if (f < 0)
        return errno;
    struct stat st;
    int err = 0;
    if (fstat(f, &st) != 0)
        err = errno;
    else if (!S_ISREG(st.st_mode))
        err = GH_OUTFILE_NOT_REGULAR;
    else if (st.st_uid != geteuid())
        err = GH_OUTFILE_NOT_OWNER;
    else if (st.st_nlink != 1)
        err = GH_OUTFILE_LINKED;
    else if (fcntl(f, F_SETFL, 0) != 0 || ftruncate(f, 0) != 0)
        err = errno;
    if (err) {
        close(f);
        return err;
    }
    *fd = f;
    return 0;
}

FILE *gh_outfile_fopen(const char *path, int *code)
{
    int fd;
    *code = gh_outfile_open(path, &fd);
    if (*code)
        return NULL;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        *code = errno;
        close(fd);
    }
    return f;
}

const char *gh_outfile_strerror(int code)
{
    switch (code) {
    case GH_OUTFILE_NOT_REGULAR: return "it is not a regular file (write '-' for stdout)";
    case GH_OUTFILE_NOT_OWNER:   return "it is owned by another user";
    case GH_OUTFILE_LINKED:      return "it has other hard links";
    case ELOOP:                  return "it is a symbolic link";
    default:                     return strerror(code);
    }
}
