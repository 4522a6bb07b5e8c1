/* error.h - fatal errors, the glibc way.
 *
 * One line on stderr written with write(2) - no stdio, no allocation - then
 * abort().  Format: "glassheap: <fn>(): <what> 0x<addr>\n", e.g.
 *   glassheap: free(): double free of 0x55d0c0a2b2a0
 */
#ifndef GH_ERROR_H
#define GH_ERROR_H

__attribute__((noreturn, cold)) void gh_fatal(const char *fn, const char *what, const void *addr);

/* A system call that failed in a way that is not running out:
 *   glassheap: <call>(): errno <err> <what> 0x<addr>
 * e.g. "glassheap: mmap(): errno 22 for a mapping of length 0x1000". */
__attribute__((noreturn, cold)) void gh_fatal_errno(const char *call, int err, const char *what,
                                                    const void *addr);

/* Write a NUL-terminated string to fd with write(2), retrying on EINTR. */
void gh_write_str(int fd, const char *s);

/* Format v in hex ("0x..."), or decimal, into buf; returns the length. */
int gh_fmt_hex(char *buf, unsigned long v);
int gh_fmt_dec(char *buf, unsigned long v);

#endif
