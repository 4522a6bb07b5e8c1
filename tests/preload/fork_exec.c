/* fork_exec.c - fork and exec under a preloaded allocator, for the preload suite.
 *
 * The parent builds a list of heap strings, starts a thread that allocates
 * and frees without pause (so forks land while the allocator may be busy in
 * another thread: the child must still be able to allocate), then runs
 * ROUNDS rounds of KINDS * PER_KIND children at once, each writing into its
 * own pipe:
 *   kind 0: checks and frees the parent's blocks it inherited, allocates its
 *           own, forks a grandchild that allocates too, waits for it, and
 *           returns from main (two processes, each writes a summary);
 *   kind 1: allocates, then execs this program with "--exec-child N"; the new
 *           image allocates and prints (one summary, from the new image);
 *   kind 2: allocates, then execs /bin/echo (one summary, from echo).
 * The parent reads the pipes in order, reaps every child and prints what
 * each said and how it ended, so the output does not depend on scheduling.
 *
 * Processes that write an exit summary: 1 + ROUNDS * PER_KIND * (2 + 1 + 1)
 * = 1 + 3 * 2 * 4 = 25 (CMakeLists.txt passes --summaries 25).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define ROUNDS 3
#define KINDS 3
#define PER_KIND 2
#define NCHILD (KINDS * PER_KIND)
#define NSTRINGS 3000

struct node {
    struct node *next;
    char *s;
};

static volatile int stop_churn;

static uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x9e3779b97f4a7c15ULL;
    x ^= x >> 29;
    return x;
}

static char *make_string(uint64_t i)
{
    size_t n = 8 + mix(i) % 300;
    char *s = malloc(n + 1);
    if (!s) {
        perror("malloc");
        exit(3);
    }
    for (size_t k = 0; k < n; k++)
        s[k] = (char)('a' + (i + k * 7) % 26);
    s[n] = 0;
    return s;
}

static uint64_t string_sum(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static struct node *build_list(uint64_t base, int n)
{
    struct node *head = NULL;
    for (int i = 0; i < n; i++) {
        struct node *nd = malloc(sizeof *nd);
        if (!nd) {
            perror("malloc");
            exit(3);
        }
        nd->s = make_string(base + (uint64_t)i);
        nd->next = head;
        head = nd;
    }
    return head;
}

static uint64_t list_sum(const struct node *l)
{
    uint64_t h = 0;
    for (; l; l = l->next)
        h += string_sum(l->s);
    return h;
}

static void free_list(struct node *l)
{
    while (l) {
        struct node *next = l->next;
        free(l->s);
        free(l);
        l = next;
    }
}

/* Allocation work whose result depends only on seed. */
static uint64_t work(uint64_t seed, int n)
{
    struct node *l = build_list(seed, n);
    uint64_t h = list_sum(l);
    char *grow = NULL;
    size_t len = 0;
    for (int i = 0; i < 200; i++) {
        char *g = realloc(grow, len + 64);
        if (!g) {
            perror("realloc");
            exit(3);
        }
        grow = g;
        len += (size_t)snprintf(grow + len, 64, "%d,", i * 17);
    }
    h ^= string_sum(grow);
    free(grow);
    free_list(l);
    return h;
}

static void *churn(void *arg)
{
    (void)arg;
    void *ring[64] = {0};
    uint64_t i = 0;
    while (!stop_churn) {
        unsigned slot = (unsigned)(i % 64);
        free(ring[slot]);
        ring[slot] = malloc(16 + mix(i) % 2000);
        i++;
    }
    for (int k = 0; k < 64; k++)
        free(ring[k]);
    return NULL;
}

static int exec_child(int id)
{
    printf("exec-child %d: work %016llx\n", id, (unsigned long long)work(1000 + (uint64_t)id, 500));
    return 0;
}

static void run_child(int kind, int id, struct node *inherited, uint64_t expected)
{
    uint64_t mine = work((uint64_t)id * 7919, 800);
    char buf[64];
    switch (kind) {
    case 0: {
        uint64_t got = list_sum(inherited);
        free_list(inherited);           /* blocks the parent allocated */
        fflush(stdout);
        pid_t g = fork();
        if (g < 0) {
            perror("fork");
            exit(4);
        }
        if (g == 0) {
            printf("  grandchild of %d: work %016llx\n", id, (unsigned long long)work((uint64_t)id + 77, 300));
            exit(0);
        }
        int st;
        if (waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            printf("  grandchild of %d ended badly (status 0x%x)\n", id, st);
        printf("child %d: inherited list %s, work %016llx\n", id, got == expected ? "intact" : "CORRUPTED",
               (unsigned long long)mine);
        exit(got == expected ? 0 : 1);
    }
    case 1:
        snprintf(buf, sizeof buf, "%d", id);
        printf("child %d: exec self, work %016llx\n", id, (unsigned long long)mine);
        fflush(stdout);
        execl("/proc/self/exe", "fork_exec", "--exec-child", buf, (char *)NULL);
        perror("execl self");
        _exit(5);
    default:
        snprintf(buf, sizeof buf, "echo-child %d: work %016llx", id, (unsigned long long)mine);
        execl("/bin/echo", "echo", buf, (char *)NULL);
        perror("execl /bin/echo");
        _exit(5);
    }
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--exec-child") == 0)
        return exec_child(atoi(argv[2]));

    struct node *list = build_list(42, NSTRINGS);
    uint64_t expected = list_sum(list);
    pthread_t th;
    if (pthread_create(&th, NULL, churn, NULL)) {
        fprintf(stderr, "pthread_create failed\n");
        return 2;
    }
    int failures = 0;
    for (int round = 0; round < ROUNDS; round++) {
        pid_t pid[NCHILD];
        int fd[NCHILD];
        for (int c = 0; c < NCHILD; c++) {
            int p[2];
            if (pipe(p)) {
                perror("pipe");
                return 2;
            }
            fflush(stdout);
            pid[c] = fork();
            if (pid[c] < 0) {
                perror("fork");
                return 2;
            }
            if (pid[c] == 0) {
                close(p[0]);
                if (dup2(p[1], STDOUT_FILENO) < 0)
                    _exit(6);
                close(p[1]);
                run_child(c % KINDS, round * NCHILD + c, list, expected);
                _exit(7);               /* not reached */
            }
            close(p[1]);
            fd[c] = p[0];
            /* The parent keeps allocating between forks. */
            free(malloc(100 + (size_t)c));
        }
        for (int c = 0; c < NCHILD; c++) {
            char buf[4096];
            ssize_t n;
            printf("round %d child %d says:\n", round, c);
            fflush(stdout);
            while ((n = read(fd[c], buf, sizeof buf)) != 0) {
                if (n < 0 && errno == EINTR)
                    continue;
                if (n < 0) {
                    perror("read");
                    return 2;
                }
                fwrite(buf, 1, (size_t)n, stdout);
            }
            close(fd[c]);
            int st;
            if (waitpid(pid[c], &st, 0) != pid[c]) {
                perror("waitpid");
                return 2;
            }
            if (WIFEXITED(st))
                printf("round %d child %d: exit %d\n", round, c, WEXITSTATUS(st));
            else
                printf("round %d child %d: killed by signal %d\n", round, c, WTERMSIG(st));
            failures += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
        }
    }
    stop_churn = 1;
    pthread_join(th, NULL);
    int intact = list_sum(list) == expected;
    printf("parent: list %s, %d failed children\n", intact ? "intact" : "CORRUPTED", failures);
    free_list(list);
    return intact && failures == 0 ? 0 : 1;
}
