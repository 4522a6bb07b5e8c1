/* malloc_life.c - the process around the allocator: state, start, fork, exit.
 *
 * Owns: the process state G and the lock word, initialisation (first call
 * or constructor, whichever comes first), the segment's creation, the
 * trace's opening and a forked child's inherited blocks, the summary file,
 * the fork handlers, _exit/_Exit, and the destructor (trace, segment, exit
 * summary).
 *
 * The summary file (GLASSHEAP_STATS_FILE) is checked in the constructor
 * by the rule of gh_os_open_private() (gh_os_check_private: nothing is
 * written), so a path that cannot be used is said at once (one line) and
 * the summary goes to stderr instead; it is opened and written at exit, so
 * a process that never gets there (_exit, a signal) leaves no file.  A
 * forked child writes its own file (%p) at its exit; an exit that finds
 * the path unusable after all says so then and writes to stderr.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "error.h"
#include "exports.h"
#include "harden.h"
#include "os.h"

/* glibc's stdio list lock (exported by libc.so.6 since 2.2.5). */
extern void _IO_list_lock(void) __attribute__((weak));
extern void _IO_list_unlock(void) __attribute__((weak));
extern void _IO_list_resetlock(void) __attribute__((weak));

int gh_init_lock;

/* Zero-initialised, so in .bss (with an initialiser its 105 KiB, the trace
 * buffer most of it, were the library's file-backed .data, mapped in at the
 * first read): the two descriptors are set to "none" first thing in
 * gh_exports_init_locked, which every call and the constructor run before
 * either is looked at. */
struct gh_exports_state gh_exports;

__thread struct gh_self gh_self;

static pthread_key_t exit_key;
static int exit_key_ready; /* set once the key exists (initialisation) */

static void thread_exit(void *arg);

/* Run once, before anything else touches a heap. */
void gh_exports_init_locked(void)
{
    G.stats_fd = -1;
    G.trace.fd = -1;
    gh_config_load(&G.cfg);
    const unsigned char *rnd = (const unsigned char *)getauxval(AT_RANDOM);
    uint64_t secret = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)&G;
    if (rnd)
        memcpy(&secret, rnd + 8, sizeof secret);
    gh_block_set_secret(secret);
#ifdef GH_HAVE_VALGRIND
    G.valgrind = RUNNING_ON_VALGRIND ? 1 : 0;
#endif
    /* One heap, every free seen: a trace, the hardened mode, valgrind. */
    bool single = G.cfg.trace[0] || G.cfg.harden || G.valgrind;
    gh_arenas_init(G.cfg.policy, G.cfg.mmap_threshold, single ? 1 : G.cfg.arenas);
    gh_harden_init(&GH_MAIN_ARENA->front, G.cfg.harden);
    gh_front_set_dynamic(&GH_MAIN_ARENA->front, !G.cfg.mmap_threshold_set); /* glibc's rule (front.h) */
    gh_front_set_cache(&GH_MAIN_ARENA->front, true);                       /* freed mappings kept (large.h) */
    G.cache = G.cfg.cache && !single;
    /* The exit handler of every thread's cache, made here: a program may
     * allocate before our constructor runs (pthread_key_create allocates
     * nothing and takes no lock). */
    if (G.cache && pthread_key_create(&exit_key, thread_exit) == 0)
        __atomic_store_n(&exit_key_ready, 1, __ATOMIC_RELEASE);
    G.cache_pow2 = GH_MAIN_ARENA->heap.d == &gh_discipline_buddy;
    GH_MAIN_ARENA->front.cache_marks = G.cache;
    __atomic_store_n(&G.ready, 1, __ATOMIC_RELEASE);
}

/* ---- threads ---------------------------------------------------------- */

/* A thread's exit (the key's destructor): its cache goes back to the heaps,
 * its arena is left for the next thread. */
static void thread_exit(void *arg)
{
    (void)arg;
    gh_self.state = GH_SELF_GONE;
    gh_exports_retire_cache(&gh_self.tc);
    if (gh_self.arena)
        gh_arena_detach(gh_self.arena);
}

void gh_self_setup(void)
{
    if (gh_self.state != GH_SELF_NEW || !__atomic_load_n(&G.ready, __ATOMIC_ACQUIRE))
        return;
    gh_self.state = GH_SELF_SETTING_UP; /* calls made meanwhile use the main arena, no cache */
    unsigned before = __atomic_load_n(&gh_arena_count, __ATOMIC_ACQUIRE);
    gh_self.arena = gh_arena_pick();
    if (__atomic_load_n(&gh_arena_count, __ATOMIC_ACQUIRE) != before) { /* a new arena: walkers must know */
        gh_lock(&GH_MAIN_ARENA->lock);
        shm_note_arenas(false);
        gh_unlock(&GH_MAIN_ARENA->lock);
        shm_show_threads();
    }
    /* The cache needs the exit handler to give its blocks back. */
    bool cache = G.cache && __atomic_load_n(&exit_key_ready, __ATOMIC_ACQUIRE)
                 && pthread_setspecific(exit_key, &gh_self) == 0;
    if (cache)
        gh_tcache_register(&gh_self.tc, G.cache_pow2);
    else
        gh_self.tc.state = GH_TCACHE_DEAD;
    gh_self.state = GH_SELF_READY;
}

/* ---- the summary file ------------------------------------------------ */

/* This process's summary path into buf, or a line saying it is too long. */
static bool stats_path(char *buf, size_t cap)
{
    if (gh_config_expand_path(G.cfg.stats_file, (long)getpid(), buf, cap))
        return true;
    gh_os_warn_unusable("GLASSHEAP_STATS_FILE", G.cfg.stats_file, ENAMETOOLONG, "the summary goes to stderr");
    return false;
}

/* At start-up: whether the summary file can be used; otherwise one line
 * said why. */
static bool stats_file_usable(void)
{
    char path[GH_PATH_MAX + 32];
    if (!stats_path(path, sizeof path))
        return false;
    int err = gh_os_check_private(path);
    if (err)
        gh_os_warn_unusable("GLASSHEAP_STATS_FILE", path, err, "the summary goes to stderr");
    return err == 0;
}

/* At exit: the summary file opened by the rule, or -1 after one line. */
static int stats_file_open(void)
{
    char path[GH_PATH_MAX + 32];
    if (!stats_path(path, sizeof path))
        return -1;
    int fd;
    int err = gh_os_open_private(path, &fd);
    if (err) {
        gh_os_warn_unusable("GLASSHEAP_STATS_FILE", path, err, "the summary goes to stderr");
        return -1;
    }
    return fd;
}

/* Create this process's segment and publish a first snapshot. */
static void shm_start(void)
{
    if (!G.cfg.shm)
        return;
    struct gh_shm fresh;
    if (gh_shm_open_large(&fresh, &G.cfg, &GH_MAIN_ARENA->heap, &GH_MAIN_ARENA->front.large) != 0)
        return; /* no segment: the program runs on, unobserved */
    unsigned n = gh_arenas_lock_all();
    G.shm = fresh;
    /* From here on every counter counts in place (glassheap/live.h). */
    struct gh_arena *m = GH_MAIN_ARENA;
    gh_shm_place_main(&G.shm, &m->shm_seq, &m->heap, &m->calls, &m->front);
    place_handed_count(m);
    gh_harden_place(&G.shm.live->harden, &G.shm.live->large_canary_bytes);
    shm_note_arenas(true);
    gh_os_counts_place(&G.shm.live->os);
    gh_tcache_place(&G.shm.live->exited, G.shm.live_caches, GH_SHM_LIVE_CACHES, &G.shm.live->caches_unplaced);
    gh_arenas_unlock_all(n);
    shm_show_threads();
    gh_exports_shm_service();
}

/* fork: each arena's counters copied home while the prepare handler holds
 * every arena lock (in the child the mapping is still shared with the
 * parent, whose threads count on in it as soon as its handler lets go),
 * and in the child every pointer turned home to those copies before
 * anything counts again. */
static void counters_copy_home(void)
{
    unsigned n = __atomic_load_n(&gh_arena_count, __ATOMIC_ACQUIRE);
    for (unsigned k = 0; k < n; k++) {
        struct gh_arena *a = gh_arena_list[k];
        if (a->heap.c != &a->heap.own)
            a->heap.own = *a->heap.c;
        if (a->calls != &a->calls_own)
            a->calls_own = *a->calls;
        a->handed_count_own = *a->handed_count;
    }
    gh_harden_copy_home();
}

static void counters_home(void)
{
    unsigned n = __atomic_load_n(&gh_arena_count, __ATOMIC_ACQUIRE);
    for (unsigned k = 0; k < n; k++) {
        struct gh_arena *a = gh_arena_list[k];
        a->heap.c = &a->heap.own;
        a->calls = &a->calls_own;
        a->handed_count = &a->handed_count_own;
    }
    gh_harden_place(NULL, NULL);
    gh_os_counts_place(NULL);
    G.shm.placed = false;   /* (the caches' counts: gh_tcache_forked) */
}

/* ---- process life: constructor, fork, exit --------------------------- */

static bool trace_heap_block(void *ctx, const struct gh_block_info *b)
{
    (void)ctx;
    if (!b->free)
        TRACE(GH_TRACE_MALLOC, NULL, (char *)b->addr + GH_HEADER_SIZE, b->requested, 0);
    return true;
}

static bool trace_large_block(void *ctx, struct gh_tnode *n)
{
    (void)ctx;
    const char *p = gh_large_payload(gh_large_rec_of_node(n));
    TRACE(GH_TRACE_MALLOC, NULL, p, gh_large_requested(p), 0);
    return true;
}

/* A forked child's trace starts with the blocks it inherited, as mallocs at
 * time 0, so that it replays on its own.  (An aligned heap block is
 * recorded at its block's payload: the walk does not know the alignment.) */
static void trace_inherited(void)
{
    struct gh_arena *a = GH_MAIN_ARENA; /* tracing: the only arena */
    enter(a);
    gh_heap_walk(&a->heap, trace_heap_block, NULL);
    gh_tree_walk(&a->front.large.tree, trace_large_block, NULL);
    leave(a);
}

static void fork_prepare(void)
{
    if (_IO_list_lock)
        _IO_list_lock();
    gh_arenas_fork_prepare();
    counters_copy_home();
    gh_trace_flush(&G.trace); /* the parent's records, before the child copies them */
}

static void fork_parent(void)
{
    gh_arenas_fork_parent();
    if (_IO_list_unlock)
        _IO_list_unlock();
}

static void fork_child(void)
{
    counters_home();
    gh_arenas_fork_child(gh_self.arena);
    gh_tcache_forked(gh_self.tc.state == GH_TCACHE_ACTIVE ? &gh_self.tc : NULL);
    if (_IO_list_resetlock)
        _IO_list_resetlock();
    /* The mapping is the parent's: leave it to the parent, make our own. */
    gh_shm_close(&G.shm, /* unlink */ false);
    shm_start();
    gh_trace_forked(&G.trace, gh_heap_policy_name(&GH_MAIN_ARENA->heap), G.cfg.mmap_threshold);
    if (G.trace.fd >= 0)
        trace_inherited();
}

__attribute__((constructor)) static void glassheap_start(void)
{
    ensure_init();
    if (G.cfg.stats != GH_STATS_OFF && !(G.cfg.stats_file[0] && stats_file_usable()))
        G.stats_fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    shm_start();
    if (G.cfg.trace[0]) /* a file that cannot be used: trace.c says so */
        gh_trace_open(&G.trace, G.cfg.trace, gh_heap_policy_name(&GH_MAIN_ARENA->heap), G.cfg.mmap_threshold);
}

/* _exit and _Exit skip destructors: take the segment away (and write out
 * the trace) here, then leave.  Only for the process that owns them: a
 * vfork child (posix_spawn) shares our memory but has its own pid. */
static void quick_exit_cleanup(void)
{
    long pid = (long)getpid();
    if (G.shm.hdr && G.shm.pid == pid)
        gh_shm_close(&G.shm, /* unlink */ true);
    if (G.trace.fd >= 0 && G.trace.pid == pid) {
        /* Another thread may be inside the allocator: never wait for it. */
        if (gh_trylock(&GH_MAIN_ARENA->lock)) {
            gh_trace_close(&G.trace);
            gh_unlock(&GH_MAIN_ARENA->lock);
        }
    }
}

GH_EXPORT __attribute__((noreturn)) void _exit(int status)
{
    quick_exit_cleanup();
    for (;;)
        syscall(SYS_exit_group, status);
}

GH_EXPORT __attribute__((noreturn)) void _Exit(int status)
{
    quick_exit_cleanup();
    for (;;)
        syscall(SYS_exit_group, status);
}

__attribute__((destructor)) static void glassheap_end(void)
{
    struct gh_arena *m = GH_MAIN_ARENA;
    enter(m);
    gh_harden_verify(&m->front, "exit"); /* kept: the summary counts them */
    gh_trace_close(&G.trace);
    leave(m);
    if (G.shm.hdr) {
        gh_exports_shm_service();
        unsigned n = gh_arenas_lock_all();
        struct gh_shm s = G.shm;
        gh_shm_stop(&G.shm); /* no more publishing, no more seq moves */
        gh_arenas_unlock_all(n);
        gh_shm_close(&s, /* unlink */ true);
    }
    if (G.cfg.stats == GH_STATS_OFF)
        return;
    if (G.cfg.stats_file[0] && G.stats_fd < 0) {
        int fd = stats_file_open();
        gh_exports_write_summary(fd >= 0 ? fd : 2, G.cfg.stats);
        if (fd >= 0)
            close(fd);
    } else if (G.stats_fd >= 0) {
        gh_exports_write_summary(G.stats_fd, G.cfg.stats);
    }
}
