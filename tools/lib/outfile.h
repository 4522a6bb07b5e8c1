/* outfile.h - every file a glassheap tool creates (record's trace, SVG and
 * HTML pages, converted traces, compare's scratch files) is opened here.
 *
 * The rule is the library's (alloc/os.c, gh_os_open_private): the last
 * path component is never followed through a symbolic link, a FIFO never
 * blocks the open, a terminal never becomes the controlling one, a new file
 * is created 0600, and an existing file is used only when, seen through the
 * opened descriptor, it is a regular file owned by the effective user with
 * one link - and is emptied only after those checks.  A user who wants
 * the output on a terminal or a pipe writes "-" (stdout) where the command
 * accepts it.
 */
#ifndef GH_TOOLS_OUTFILE_H
#define GH_TOOLS_OUTFILE_H

#include <stdio.h>

/* Why gh_outfile_open() refused a file it could open (errno values are
 * positive, these negative). */
enum gh_outfile_refusal {
    GH_OUTFILE_NOT_REGULAR = -1, /* a directory, device, FIFO, socket */
    GH_OUTFILE_NOT_OWNER = -2,   /* owned by another user */
    GH_OUTFILE_LINKED = -3,      /* has other hard links */
};

/* Open path for writing by the rule above: 0 with *fd (write-only,
 * close-on-exec, empty), else a positive errno or a gh_outfile_refusal,
 * nothing left open and an existing file untouched. */
int gh_outfile_open(const char *path, int *fd);

/* The same as a stdio stream ("w"): NULL with *code set on failure. */
FILE *gh_outfile_fopen(const char *path, int *code);

/* A phrase for a code of gh_outfile_open(): "it is a symbolic link", "it
 * is owned by another user", strerror() for the other errno values. */
const char *gh_outfile_strerror(int code);

#endif
