/* cli_helper.c - the program the cli_ tests inspect with glassheap ps/stat.
 *
 * Runs preloaded (LD_PRELOAD=libglassheap.so).  Talks to its driver in
 * lines, with write(2)/read(2) only, so that nothing but the script touches
 * the allocator:
 *
 *   start          -> "ready <pid>"
 *   "go"           runs the script given on the command line, then
 *                  -> "done <slot>:<usable> ..." for every live slot
 *   "quit" or EOF  exits 0 (the library then removes its segment)
 *
 *   cli_helper [--idle] [STEP ...]
 *   STEP: m:SLOT:N        p = malloc(N)
 *         c:SLOT:K:N      p = calloc(K, N)
 *         r:SLOT:N        p = realloc(p, N)  (the slot may be empty: realloc(NULL, N))
 *         a:SLOT:ALIGN:N  p = aligned_alloc(ALIGN, N)
 *         q:SLOT:ALIGN:N  posix_memalign(&p, ALIGN, N)
 *         f:SLOT          free(p)
 *         t:SLOT:K:N      a new thread mallocs N bytes into slots SLOT..SLOT+K-1,
 *                         then blocks (it stays attached to its arena until exit)
 *
 * While it waits for a line it stays responsive: every WAIT_MS it makes one
 * allocator call that changes no counter (mallinfo2), so a reader asking for
 * fresh counters is answered, as in any busy program.  --idle blocks in
 * read(2) instead: a process that never answers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define SLOTS    256
#define WAIT_MS  2
#define LINE_MAX_ 256
#define OUT_MAX  (SLOTS * 24 + 16)

static void *slot[SLOTS];
static int responsive = 1;

static void say(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(1, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(3);
        s += w;
        n -= (size_t)w;
    }
}

static void die(const char *why, const char *step)
{
    char buf[LINE_MAX_];
    int n = snprintf(buf, sizeof buf, "cli_helper: %s: '%s'\n", why, step);
    if (write(2, buf, (size_t)n) < 0)
        _exit(4);
    _exit(2);
}

/* Next line from stdin into buf (no newline); 0 at EOF.  Waits responsively. */
static int next_line(char *buf, size_t cap)
{
    size_t n = 0;
    for (;;) {
        if (responsive) {
            struct pollfd p = { .fd = 0, .events = POLLIN };
            int r = poll(&p, 1, WAIT_MS);
            if (r == 0) {
                struct mallinfo2 mi = mallinfo2(); /* answers a waiting reader */
                (void)mi;
                continue;
            }
            if (r < 0 && errno == EINTR)
                continue;
        }
        char ch;
        ssize_t r = read(0, &ch, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 0;
        if (ch == '\n') {
            buf[n] = '\0';
            return 1;
        }
        if (n + 1 < cap)
            buf[n++] = ch;
    }
}

static unsigned long field(char **p, const char *step)
{
    if (**p != ':')
        die("bad step", step);
    (*p)++;
    char *end;
    errno = 0;
    unsigned long v = strtoul(*p, &end, 10);
    if (errno || end == *p)
        die("bad number in step", step);
    *p = end;
    return v;
}

struct fill {
    unsigned long first, count, size;
    sem_t done;
};

/* A 't' step's thread: its blocks, then it waits for the process to end. */
static void *fill_thread(void *arg)
{
    struct fill *f = arg;
    for (unsigned long i = 0; i < f->count; i++)
        slot[f->first + i] = malloc(f->size);
    sem_post(&f->done);
    for (;;)
        pause();
    return NULL;
}

static void run_thread(unsigned long s, unsigned long k, unsigned long n, const char *step)
{
    static struct fill f;
    if (k > SLOTS - s)
        die("slots out of range", step);
    f = (struct fill){ .first = s, .count = k, .size = n };
    sem_init(&f.done, 0, 0);
    pthread_t t;
    if (pthread_create(&t, NULL, fill_thread, &f) != 0)
        die("cannot start a thread", step);
    while (sem_wait(&f.done) != 0)
        ;
    sem_destroy(&f.done);
    for (unsigned long i = 0; i < k; i++)
        if (!slot[s + i])
            die("allocation failed", step);
}

static void run_step(const char *step)
{
    char *p = (char *)step + 1;
    unsigned long s = field(&p, step);
    if (s >= SLOTS)
        die("slot out of range", step);
    unsigned long a = 0, b = 0;
    switch (step[0]) {
    case 'm':
        a = field(&p, step);
        slot[s] = malloc(a);
        break;
    case 'c':
        a = field(&p, step);
        b = field(&p, step);
        slot[s] = calloc(a, b);
        break;
    case 'r':
        a = field(&p, step);
        slot[s] = realloc(slot[s], a);
        if (!slot[s] && a)
            die("realloc failed", step);
        break;
    case 'a':
        a = field(&p, step);
        b = field(&p, step);
        slot[s] = aligned_alloc(a, b);
        break;
    case 'q':
        a = field(&p, step);
        b = field(&p, step);
        if (posix_memalign(&slot[s], a, b) != 0)
            slot[s] = NULL;
        break;
    case 'f':
        free(slot[s]);
        slot[s] = NULL;
        break;
    case 't':
        a = field(&p, step);
        b = field(&p, step);
        run_thread(s, a, b, step);
        break;
    default:
        die("unknown step", step);
    }
    if (*p != '\0')
        die("trailing characters in step", step);
    if (step[0] != 'f' && step[0] != 'r' && !slot[s])
        die("allocation failed", step);
}

int main(int argc, char **argv)
{
    int first = 1;
#ifdef PR_SET_PTRACER
    /* Let a non-root glassheap read our heap from outside under Yama
     * ptrace_scope=1 (it is not our parent); harmless elsewhere. */
    prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
#endif
    if (argc > 1 && strcmp(argv[1], "--idle") == 0) {
        responsive = 0;
        first = 2;
    }
    char line[LINE_MAX_];
    int n = snprintf(line, sizeof line, "ready %d\n", (int)getpid());
    say(line, (size_t)n);
    while (next_line(line, sizeof line)) {
        if (strcmp(line, "quit") == 0)
            break;
        if (strcmp(line, "go") != 0)
            die("unknown command", line);
        for (int i = first; i < argc; i++)
            run_step(argv[i]);
        static char out[OUT_MAX];
        size_t len = (size_t)snprintf(out, sizeof out, "done");
        for (int i = 0; i < SLOTS; i++)
            if (slot[i])
                len += (size_t)snprintf(out + len, sizeof out - len, " %d:%zu", i,
                                        malloc_usable_size(slot[i]));
        out[len++] = '\n';
        say(out, len);
    }
    return 0;
}
