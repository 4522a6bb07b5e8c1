/* error.c - the one way glassheap reports a fatal misuse or a failed system call
 * (the words of each misuse are error.h's GH_MSG_*). */
#include "error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int gh_fmt_hex(char *buf, unsigned long v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    buf[0] = '0';
    buf[1] = 'x';
    for (int i = 0; i < n; i++)
        buf[2 + i] = tmp[n - 1 - i];
    buf[2 + n] = '\0';
    return 2 + n;
}

int gh_fmt_dec(char *buf, unsigned long v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return n;
}

void gh_write_str(int fd, const char *s)
{
    size_t len = strlen(s);
    while (len > 0) {
        ssize_t w = write(fd, s, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        len -= (size_t)w;
    }
}

void gh_fatal(const char *fn, const char *what, const void *addr)
{
    char line[256];
    char hex[24];
    size_t n = 0;
    const char *parts[] = { "glassheap: ", fn, "(): ", what, " ", NULL };
    for (int i = 0; parts[i]; i++) {
        size_t l = strlen(parts[i]);
        if (n + l >= sizeof line - 32)
            l = sizeof line - 32 - n;
        memcpy(line + n, parts[i], l);
        n += l;
    }
    int h = gh_fmt_hex(hex, (unsigned long)addr);
    memcpy(line + n, hex, (size_t)h);
    n += (size_t)h;
    line[n++] = '\n';
    line[n] = '\0';
    gh_write_str(2, line);
    abort();
}

void gh_fatal_errno(const char *call, int err, const char *what, const void *addr)
{
    char line[96] = "errno ";
    size_t n = 6 + (size_t)gh_fmt_dec(line + 6, (unsigned long)err);
    line[n++] = ' ';
    for (size_t i = 0; what[i] && n < sizeof line - 1; i++)
        line[n++] = what[i];
    line[n] = '\0';
    gh_fatal(call, line, addr);
}
