/* arena.c - making arenas and attaching threads to them (arena.h).
 *
 * Owns: the arena list, the limit, the creation lock, each arena's thread
 * count, and the order in which every lock is taken for fork and for the
 * snapshot.  Never: decides anything about blocks (front.h, heap.h).
 */
#define _GNU_SOURCE
#include "arena.h"

#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "error.h"
#include "os.h"

static struct gh_arena main_arena;
struct gh_arena *gh_arena_list[GH_ARENAS_MAX] = { &main_arena };
unsigned gh_arena_count = 1;
unsigned gh_arena_limit = 1;
static int create_lock;

/* The creation lock held: a's thread count where a reader sees it. */
static void show(struct gh_arena *a)
{
    if (a->threads_shown)
        __atomic_store_n(a->threads_shown, (uint64_t)a->threads, __ATOMIC_RELAXED);
}

/* CPUs this process may run on (sched_getaffinity: no allocation). */
static unsigned cpus(void)
{
    cpu_set_t set;
    memset(&set, 0, sizeof set);
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 1;
    int n = CPU_COUNT(&set);
    return n > 0 ? (unsigned)n : 1;
}

static void setup(struct gh_arena *a, unsigned index, const char *policy, size_t mmap_threshold)
{
    a->index = index;
    a->calls = &a->calls_own;
    a->handed_count = &a->handed_count_own;
    gh_heap_init_named_zeroed(&a->heap, &a->src, policy, mmap_threshold); /* .bss, or a fresh mapping */
    gh_front_init(&a->front, &a->heap, &gh_mapper_os, mmap_threshold);
}

void gh_arenas_init(const char *policy, size_t mmap_threshold, unsigned limit)
{
    gh_source_init_break(&main_arena.src);
    setup(&main_arena, 0, policy, mmap_threshold);
    if (limit == 0) {
        unsigned n = cpus();
        limit = n > GH_ARENAS_MAX / 8 ? GH_ARENAS_MAX : 8 * n;
    }
    gh_arena_limit = limit < GH_ARENAS_MAX ? limit : GH_ARENAS_MAX;
}

/* A new arena k with the main arena's policy and its settings as they are
 * now (mallopt may have changed them); NULL when out of memory. */
static struct gh_arena *create(unsigned k)
{
    const struct gh_arena *m = &main_arena;
    size_t ps = gh_os_page_size(), len = (sizeof(struct gh_arena) + ps - 1) & ~(ps - 1);
    void *mem;
    if (gh_os_map(len, &mem) != 0)
        return NULL;
    struct gh_arena *a = mem;
    gh_source_init_map(&a->src, k);
    gh_lock((int *)&m->lock); /* a consistent copy of the settings */
    setup(a, k, gh_heap_policy_name(&m->heap), m->front.mmap_threshold);
    a->heap.top_pad = m->heap.top_pad;
    a->heap.trim_threshold = m->heap.trim_threshold;
    a->heap.trim_adaptive = m->heap.trim_adaptive;
    a->front.mmap_max = m->front.mmap_max;
    a->front.cache_marks = m->front.cache_marks;
    gh_unlock((int *)&m->lock);
    return a;
}

struct gh_arena *gh_arena_pick(void)
{
    /* The main thread (its id is the process's) keeps the main arena, also
     * when its first call comes after other threads exist. */
    if (gh_arena_limit <= 1 || gh_single_threaded() || syscall(SYS_gettid) == getpid()) {
        gh_lock(&create_lock);
        main_arena.threads++;
        show(&main_arena);
        gh_unlock(&create_lock);
        return &main_arena;
    }
    gh_lock(&create_lock);
    unsigned n = gh_arena_count;
    struct gh_arena *best = NULL;
    for (unsigned k = 1; k < n && !best; k++)
        if (gh_arena_list[k]->threads == 0)
            best = gh_arena_list[k];
    if (!best && n < gh_arena_limit && (best = create(n)) != NULL) {
        gh_arena_list[n] = best;
        __atomic_store_n(&gh_arena_count, n + 1, __ATOMIC_RELEASE);
    }
    if (!best) {
        best = &main_arena;
        for (unsigned k = 1; k < n; k++)
            if (gh_arena_list[k]->threads < best->threads)
                best = gh_arena_list[k];
    }
    best->threads++;
    show(best);
    gh_unlock(&create_lock);
    return best;
}

void gh_arena_detach(struct gh_arena *a)
{
    gh_lock(&create_lock);
    if (a->threads)
        a->threads--;
    show(a);
    gh_unlock(&create_lock);
}

void gh_arena_show_threads(struct gh_arena *a, uint64_t *at)
{
    gh_lock(&create_lock);
    a->threads_shown = at;
    show(a);
    gh_unlock(&create_lock);
}

unsigned gh_arenas_lock_all(void)
{
    unsigned n = __atomic_load_n(&gh_arena_count, __ATOMIC_ACQUIRE);
    for (unsigned k = 0; k < n; k++)
        gh_lock(&gh_arena_list[k]->lock);
    return n;
}

void gh_arenas_unlock_all(unsigned n)
{
    for (unsigned k = n; k-- > 0;)
        gh_unlock(&gh_arena_list[k]->lock);
}

static unsigned forked_count;

void gh_arenas_fork_prepare(void)
{
    gh_lock(&create_lock);
    forked_count = gh_arenas_lock_all();
}

void gh_arenas_fork_parent(void)
{
    gh_arenas_unlock_all(forked_count);
    gh_unlock(&create_lock);
}

void gh_arenas_fork_child(struct gh_arena *self)
{
    create_lock = 0;
    unsigned n = gh_arena_count;
    for (unsigned k = 0; k < n; k++) {
        gh_arena_list[k]->lock = 0;
        gh_arena_list[k]->threads = 0;
        gh_arena_list[k]->threads_shown = NULL; /* the parent's segment */
    }
    if (self)
        self->threads = 1;
}
