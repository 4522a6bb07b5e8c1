/* gh_dso.c - a small shared library for gh_dlopen: it allocates in its
 * constructor, hands blocks to the main program and frees blocks that the
 * main program allocated (in a function and in its destructor).  It is not
 * linked to glassheap: its malloc/free are whatever the process uses. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gh_api_test.h"

#define EXPORT __attribute__((visibility("default")))

static void *ctor_block;
static char *ctor_string;
static void *kept; /* a main-program block, freed at dlclose */

__attribute__((constructor)) static void dso_init(void)
{
    ctor_block = malloc(3000);
    if (ctor_block)
        gh_t_fill(ctor_block, 3000, 31);
    ctor_string = strdup("allocated in the constructor of gh_dso");
}

__attribute__((destructor)) static void dso_fini(void)
{
    if (kept) {
        if (gh_t_verify(kept, 500, 77) != (size_t)-1)
            abort();
        free(kept);
    }
    free(ctor_string);
}

EXPORT void *gh_dso_ctor_block(void)
{
    void *b = ctor_block;
    ctor_block = NULL;
    return b;
}

EXPORT const char *gh_dso_ctor_string(void)
{
    return ctor_string;
}

EXPORT void *gh_dso_alloc(size_t n, uint64_t id)
{
    void *p = malloc(n);
    if (p)
        gh_t_fill(p, n, id);
    return p;
}

/* Checks and frees a block of n bytes filled with id; 1 when it was intact. */
EXPORT int gh_dso_check_free(void *p, size_t n, uint64_t id)
{
    int ok = gh_t_verify(p, n, id) == (size_t)-1;
    free(p);
    return ok;
}

EXPORT void gh_dso_keep(void *p)
{
    kept = p;
}
