/* gh_workload.c - a small known workload for the exit-summary tests, run
 * under LD_PRELOAD.
 *
 *   gh_workload [exit|_exit]
 *
 * Prints its pid on stdout, makes 1000 mallocs, 10 callocs, 10 reallocs,
 * frees most, and leaves live at exit: one 10000-byte heap block and two
 * 300000-byte large blocks.  `_exit` ends with _exit(0) (no summary may be
 * written), the default returns from main. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *volatile keep[3];

int main(int argc, char **argv)
{
    printf("%d\n", (int)getpid());
    fflush(stdout);
    void *v[1000];
    for (int i = 0; i < 1000; i++) {
        v[i] = malloc((size_t)i + 1);
        if (!v[i])
            return 1;
        memset(v[i], i, (size_t)i + 1);
    }
    for (int i = 0; i < 10; i++) {
        void *c = calloc(10, (size_t)i + 1);
        void *r = realloc(c, 1000 + (size_t)i);
        if (!r)
            return 1;
        free(r);
    }
    for (int i = 0; i < 1000; i++)
        free(v[i]);
    keep[0] = malloc(10000);
    keep[1] = malloc(300000);
    keep[2] = malloc(300000);
    if (!keep[0] || !keep[1] || !keep[2])
        return 1;
    memset(keep[0], 1, 10000);
    if (argc > 1 && strcmp(argv[1], "_exit") == 0)
        _exit(0);
    return 0;
}
