/* front_util.h - what the front-end unit tests share: a front end over a
 * heap on its own paged arena (grows and trims like the break) and a
 * counted mapper, and a way to run a call that must be fatal.
 *
 * cmocka.h must be included before this header.
 */
#ifndef GH_FRONT_UTIL_H
#define GH_FRONT_UTIL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "front.h"
#include "os.h"

#define FX_ARENA ((size_t)256 << 20)
#define FX_THRESHOLD ((size_t)128 * 1024)

struct ffx {
    void *mem;
    struct gh_source src;
    struct gh_heap h;
    struct gh_mapper mapper;
    struct gh_mapper_counts mapped;
    struct gh_front f;
    unsigned observed;   /* calls of the front end's observe hook */
};

static inline void ffx_observe(void *ctx)
{
    ((struct ffx *)ctx)->observed++;
}

static inline void ffx_open(struct ffx *x, const char *policy, size_t threshold)
{
    memset(x, 0, sizeof *x);
    x->mem = mmap(NULL, FX_ARENA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    assert_true(x->mem != MAP_FAILED);
    gh_source_init_arena_paged(&x->src, x->mem, FX_ARENA, gh_os_page_size());
    assert_true(gh_heap_init_named(&x->h, &x->src, policy, threshold));
    gh_mapper_counted(&x->mapper, &x->mapped);
    gh_front_init(&x->f, &x->h, &x->mapper, threshold);
    x->f.observe = ffx_observe;
    x->f.observe_ctx = x;
}

static inline void ffx_close(struct ffx *x)
{
    munmap(x->mem, FX_ARENA);
}

/* Run fn(arg) in a child; true when it died of SIGABRT (a gh_fatal). */
static inline bool dies_of_abort(void (*fn)(void *), void *arg)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", 1);
        if (devnull >= 0)
            dup2(devnull, 2); /* the one-line message is not the test's output */
        fn(arg);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

#endif
