/* gh_misuse.c - one heap misuse per run, for the death tests.
 *
 *   gh_misuse CASE
 *
 * Prints the pointer it is about to misuse ("%p", i.e. 0x + lowercase hex)
 * on stdout, flushes, then commits the misuse.  glassheap must write exactly
 * one line on stderr and abort(); run_death.sh checks the line and SIGABRT.
 * If the program survives the misuse it says so and exits 0, which the
 * script counts as a failure.
 *
 * Blocks are fenced by live neighbours so that a freed block cannot
 * coalesce: its header stays a valid, free header (a true double free).
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gh_api_test.h"

static void *volatile sink;

/* A 1 MiB block, which must be a large one (a mapping of its own). */
static unsigned char *large_block(struct gh_t_api *gh)
{
    unsigned char *p = malloc(1 << 20);
    if (!p)
        GH_T_FAIL("malloc(1 MiB) failed");
    struct glassheap_counters c0 = gh_t_counters(gh);
    if (c0.large_blocks < 1)
        GH_T_FAIL("a 1 MiB block is not a large block");
    return p;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gh_misuse CASE\n");
        return 2;
    }
    struct gh_t_api gh = gh_t_api();
    const char *c = argv[1];
    if (gh.check() != 1)
        GH_T_FAIL("heap check failed before the misuse");

    if (strcmp(c, "double_free") == 0) {
        unsigned char *p = gh_t_fenced(64);
        free(p);
        gh_t_announce(p);
        free(p);
    } else if (strcmp(c, "invalid_free_stack") == 0) {
        _Alignas(16) unsigned char buf[256];
        memset(buf, 0, sizeof buf);
        unsigned char *p = buf + 64; /* 16-aligned, zeroed "header" below it */
        sink = buf;
        gh_t_announce(p);
        free(p);
    } else if (strcmp(c, "invalid_free_interior8") == 0) {
        unsigned char *p = gh_t_fenced(256);
        gh_t_announce(p + 8);
        free(p + 8);
    } else if (strcmp(c, "invalid_free_interior16") == 0) {
        unsigned char *p = gh_t_fenced(256);
        memset(p, 0xA5, 256); /* garbage where a header would be */
        gh_t_announce(p + 32);
        free(p + 32);
    } else if (strcmp(c, "header_underflow") == 0) {
        unsigned char *p = gh_t_fenced(64);
        /* Announced first: printf's first write mallocs stdout's buffer,
         * and under GLASSHEAP_CHECKS that malloc's heap walk would meet the
         * corrupt header before free() does.  So free() is the only heap
         * call after the corruption, in every build. */
        gh_t_announce(p);
        /* An 8-byte underflow: p[-8..-1] get garbage.  XOR, so the word
         * surely changes (the check bits in particular). */
        for (int i = 1; i <= 8; i++)
            p[-i] ^= 0xA5;
        free(p);
    } else if (strcmp(c, "large_double_free") == 0) {
        unsigned char *p = large_block(&gh);
        memset(p, 1, 1 << 20);
        free(p);
        gh_t_announce(p);
        free(p);
    } else if (strcmp(c, "large_interior") == 0 || strcmp(c, "large_interior_realloc") == 0) {
        unsigned char *p = large_block(&gh);
        gh_t_announce(p + 4096);
        if (strcmp(c, "large_interior_realloc") == 0)
            sink = realloc(p + 4096, 100);
        else
            free(p + 4096);
    } else if (strcmp(c, "realloc_freed") == 0) {
        unsigned char *p = gh_t_fenced(64);
        free(p);
        gh_t_announce(p);
        sink = realloc(p, 128);
    } else if (strcmp(c, "realloc_stack") == 0) {
        _Alignas(16) unsigned char buf[256];
        memset(buf, 0, sizeof buf);
        sink = buf;
        gh_t_announce(buf + 64);
        sink = realloc(buf + 64, 100);
    } else if (strcmp(c, "usable_size_stack") == 0) {
        _Alignas(16) unsigned char buf[256];
        memset(buf, 0, sizeof buf);
        sink = buf;
        gh_t_announce(buf + 64);
        sink = (void *)(uintptr_t)malloc_usable_size(buf + 64);
    } else {
        fprintf(stderr, "gh_misuse: unknown case '%s'\n", c);
        return 2;
    }
    printf("survived\n");
    fflush(stdout);
    return 0;
}
