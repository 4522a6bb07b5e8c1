/* stats_probe.c - the segment of a real preloaded program, read from outside
 * with the reader library (tools/reader).
 *
 * Runs stats_helper under LD_PRELOAD=libglassheap.so and proves:
 *   preload  the deltas of the published counters over the helper's script
 *            (calls, system calls, live/free/heap bytes, peaks, large
 *            blocks, the free-block histogram, buddy orders) are the ones
 *            worked out by hand for each policy, the heap map is exactly the
 *            blocks listed, and the header and configuration are the
 *            program's;
 *   live     while two threads churn, every snapshot of hundreds keeps
 *            live + free + overhead == heap, largest <= free, peaks >= now,
 *            histogram total == free blocks, and every map tiles its heap;
 *   life_*   the segment lives exactly as long as its process image: exit
 *            unlinks it, a forked child has its own, an exec'd image
 *            replaces it, SIGKILL leaves a stale one the reader can remove,
 *            GLASSHEAP_SHM=0 makes none.
 *
 * usage: stats_probe TEST POLICY HELPER LIBRARY
 *   TEST: preload | live | life_exit | life_fork | life_exec | life_kill | life_noshm
 *
 * Every helper is killed and every segment file of a helper removed in the
 * teardown, whatever happened; a helper also exits when its stdin closes.
 *
 * Files: this one holds the harness (helpers as child processes, segment
 * files, setup and teardown, the header and configuration checks) and
 * main; stats_probe_preload.c, stats_probe_live.c and stats_probe_life.c
 * one part each; stats_probe.h what they share.
 */
#include "stats_probe.h"

const char *policy, *helper_path, *library_path;

bool is_buddy(void)
{
    return strcmp(policy, "buddy") == 0;
}

/* ---- helpers as child processes ------------------------------------------ */


struct proc procs[MAX_PROCS];
int nprocs;
pid_t tracked[MAX_TRACKED];   /* every pid whose segment we may leave */
int ntracked;

void track(pid_t pid)
{
    if (ntracked < MAX_TRACKED)
        tracked[ntracked++] = pid;
}

uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Start the helper with args (args[0] is argv[0]) under LD_PRELOAD and the
 * policy; GLASSHEAP_SHM=0 when !shm.  The mode the test runs in
 * (GLASSHEAP_CACHE, GLASSHEAP_ARENAS) is passed on; every other GLASSHEAP_*
 * variable and any LD_PRELOAD of ours are left out. */
struct proc *spawn(char *const args[], bool shm)
{
    assert_true(nprocs < MAX_PROCS);
    int in[2], out[2];
    assert_int_equal(pipe2(in, O_CLOEXEC), 0);
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);

    static char env_preload[4200], env_policy[64];
    snprintf(env_preload, sizeof env_preload, "LD_PRELOAD=%s", library_path);
    snprintf(env_policy, sizeof env_policy, "GLASSHEAP_POLICY=%s", policy);
    char *env[256];
    size_t ne = 0;
    for (char **e = environ; *e && ne < 250; e++)
        if ((strncmp(*e, "GLASSHEAP_", 10) != 0 && strncmp(*e, "LD_PRELOAD=", 11) != 0)
            || strncmp(*e, "GLASSHEAP_CACHE=", 16) == 0 || strncmp(*e, "GLASSHEAP_ARENAS=", 17) == 0)
            env[ne++] = *e;
    env[ne++] = env_preload;
    env[ne++] = env_policy;
    if (!shm)
        env[ne++] = "GLASSHEAP_SHM=0";
    env[ne] = NULL;

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        execve(helper_path, args, env);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    struct proc *p = &procs[nprocs++];
    memset(p, 0, sizeof *p);
    p->pid = pid;
    p->to = in[1];
    p->from = out[0];
    track(pid);
    return p;
}

/* The next line from p (without '\n'), waiting up to LINE_TIMEOUT_MS. */
void read_line(struct proc *p, char *line, size_t cap)
{
    uint64_t deadline = mono_ms() + LINE_TIMEOUT_MS;
    for (;;) {
        char *nl = memchr(p->buf, '\n', p->len);
        if (nl) {
            size_t l = (size_t)(nl - p->buf);
            if (l >= cap)
                l = cap - 1;
            memcpy(line, p->buf, l);
            line[l] = '\0';
            size_t used = (size_t)(nl - p->buf) + 1;
            memmove(p->buf, p->buf + used, p->len - used);
            p->len -= used;
            return;
        }
        uint64_t now = mono_ms();
        if (now >= deadline)
            fail_msg("helper %d wrote no line in %d ms", (int)p->pid, LINE_TIMEOUT_MS);
        struct pollfd pf = { .fd = p->from, .events = POLLIN };
        int r = poll(&pf, 1, (int)(deadline - now));
        if (r < 0 && errno == EINTR)
            continue;
        assert_true(r >= 0);
        if (r == 0)
            continue;
        assert_true(p->len < sizeof p->buf);
        ssize_t n = read(p->from, p->buf + p->len, sizeof p->buf - p->len);
        if (n == 0)
            fail_msg("helper %d closed its stdout (it died?)", (int)p->pid);
        if (n > 0)
            p->len += (size_t)n;
    }
}

/* Has p written a whole line yet?  Does not wait. */
bool line_ready(struct proc *p)
{
    struct pollfd pf = { .fd = p->from, .events = POLLIN };
    if (!memchr(p->buf, '\n', p->len) && poll(&pf, 1, 0) > 0 && p->len < sizeof p->buf) {
        ssize_t n = read(p->from, p->buf + p->len, sizeof p->buf - p->len);
        if (n > 0)
            p->len += (size_t)n;
    }
    return memchr(p->buf, '\n', p->len) != NULL;
}

void expect_line(struct proc *p, const char *want)
{
    char line[256];
    read_line(p, line, sizeof line);
    if (strcmp(line, want) != 0)
        fail_msg("helper %d wrote '%s', expected '%s'", (int)p->pid, line, want);
}

/* "word <number>" -> number. */
long expect_word_num(struct proc *p, const char *word)
{
    char line[256];
    read_line(p, line, sizeof line);
    size_t l = strlen(word);
    if (strncmp(line, word, l) != 0 || line[l] != ' ')
        fail_msg("helper %d wrote '%s', expected '%s <n>'", (int)p->pid, line, word);
    return strtol(line + l + 1, NULL, 10);
}

void send_line(struct proc *p)
{
    assert_int_equal(write(p->to, "\n", 1), 1);
}

/* Wait for p to end; returns its wait status. */
int wait_exit(struct proc *p)
{
    uint64_t deadline = mono_ms() + EXIT_TIMEOUT_MS;
    for (;;) {
        int status;
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        assert_true(r >= 0);
        if (r == p->pid) {
            p->pid = 0;
            return status;
        }
        if (mono_ms() >= deadline)
            fail_msg("helper %d did not exit in %d ms", (int)p->pid, EXIT_TIMEOUT_MS);
        struct timespec ts = { 0, 2000000 };
        nanosleep(&ts, NULL);
    }
}

void expect_clean_exit(struct proc *p)
{
    pid_t pid = p->pid;
    int st = wait_exit(p);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("helper %d ended with wait status 0x%x, expected exit 0", (int)pid, st);
}

/* ---- segment files -------------------------------------------------------- */

void seg_file(char *buf, size_t cap, pid_t pid)
{
    snprintf(buf, cap, "%s%s%d", GH_SHM_DIR, GH_SHM_NAME_PREFIX, (int)pid);
}

bool seg_exists(pid_t pid)
{
    char path[128];
    struct stat st;
    seg_file(path, sizeof path, pid);
    return stat(path, &st) == 0;
}

/* Poll until the file exists (or not), up to LINE_TIMEOUT_MS. */
void wait_seg(pid_t pid, bool exists)
{
    uint64_t deadline = mono_ms() + LINE_TIMEOUT_MS;
    while (seg_exists(pid) != exists) {
        if (mono_ms() >= deadline)
            fail_msg("%s%s%d still %s", GH_SHM_DIR, GH_SHM_NAME_PREFIX, (int)pid,
                     exists ? "missing" : "present");
        struct timespec ts = { 0, 2000000 };
        nanosleep(&ts, NULL);
    }
}

/* Open pid's segment.  A file being made (a forked child creates its own
 * while the test looks) has no magic yet, or no size: retry those until
 * LINE_TIMEOUT_MS. */
struct ghr_segment *open_seg(pid_t pid)
{
    uint64_t deadline = mono_ms() + LINE_TIMEOUT_MS;
    for (;;) {
        struct ghr_segment *seg = NULL;
        int rc = ghr_open_pid((int)pid, &seg);
        if (rc == GHR_OK)
            return seg;
        ghr_close(seg);
        bool in_making = rc == GHR_BAD_MAGIC || rc == GHR_TRUNCATED || rc == GHR_NO_SEGMENT;
        if (!in_making || mono_ms() >= deadline)
            fail_msg("ghr_open_pid(%d): %s", (int)pid, ghr_strerror((enum ghr_error)rc));
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
}

void get_counters(struct ghr_segment *seg, struct gh_shm_counters *c)
{
    int rc = ghr_request_counters(seg, ANSWER_TIMEOUT_MS);
    if (rc != GHR_OK)
        fail_msg("ghr_request_counters: %s", ghr_strerror((enum ghr_error)rc));
    rc = ghr_counters(seg, c);
    if (rc != GHR_OK)
        fail_msg("ghr_counters: %s", ghr_strerror((enum ghr_error)rc));
}

/* The heap's extent as the last map gives it (map.heap_start/heap_end),
 * read straight from the file: the reader API does not return it.  Only our
 * requests make the writer write a map, so it is the one ghr_map copied. */
void map_bounds(pid_t pid, uint64_t *start, uint64_t *end)
{
    char path[128];
    seg_file(path, sizeof path, pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    const uint8_t *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    assert_true(m != MAP_FAILED);
    const struct gh_shm_header *h = (const void *)m;
    assert_true(h->map_offset + sizeof(struct gh_shm_map) <= (uint64_t)st.st_size);
    const struct gh_shm_map *map = (const void *)(m + h->map_offset);
    bool ok = false;
    for (int tries = 0; tries < 1000 && !ok; tries++) {
        uint64_t s1 = __atomic_load_n(&map->seq, __ATOMIC_ACQUIRE);
        *start = __atomic_load_n(&map->heap_start, __ATOMIC_RELAXED);
        *end = __atomic_load_n(&map->heap_end, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        ok = !(s1 & 1) && s1 == __atomic_load_n(&map->seq, __ATOMIC_RELAXED);
    }
    munmap((void *)m, (size_t)st.st_size);
    assert_true(ok);
}

/* ---- setup / teardown ----------------------------------------------------- */

int setup(void **state)
{
    (void)state;
    nprocs = 0;
    ntracked = 0;
    return 0;
}

/* Kill what still runs and remove every segment file our helpers (and
 * their children) may have left.  Runs after failures too. */
int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < nprocs; i++) {
        struct proc *p = &procs[i];
        if (p->to >= 0)
            close(p->to);
        if (p->from >= 0)
            close(p->from);
        p->to = p->from = -1;
        if (p->pid > 0) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, NULL, 0);
            p->pid = 0;
        }
    }
    for (int i = 0; i < ntracked; i++) {
        /* A helper's forked child is not ours to reap: kill it, then wait
         * until it is gone so its segment reads as stale. */
        if (kill(tracked[i], 0) == 0) {
            kill(tracked[i], SIGKILL);
            for (int t = 0; t < 2000 && kill(tracked[i], 0) == 0; t++) {
                struct timespec ts = { 0, 1000000 };
                nanosleep(&ts, NULL);
            }
        }
        /* The reader removes a stale segment; a file killed while being
         * made (no magic yet) it keeps, but it is our dead helper's. */
        if (seg_exists(tracked[i]) && ghr_remove_stale((int)tracked[i]) != GHR_ALIVE
            && kill(tracked[i], 0) != 0 && errno == ESRCH) {
            char path[128];
            seg_file(path, sizeof path, tracked[i]);
            unlink(path);
        }
    }
    nprocs = 0;
    ntracked = 0;
    return 0;
}

/* ---- header and configuration ------------------------------------------- */

void check_header(struct ghr_segment *seg, pid_t pid, uint64_t started_after)
{
    const struct gh_shm_header *h = ghr_header(seg);
    assert_non_null(h);
    assert_true(h->magic == GH_SHM_MAGIC);
    assert_int_equal(h->version, GH_SHM_VERSION);
    assert_int_equal(h->header_size, sizeof(struct gh_shm_header));
    assert_int_equal(h->config_size, sizeof(struct gh_shm_config));
    assert_int_equal(h->counters_size, sizeof(struct gh_shm_counters));
    assert_int_equal(h->block_size, sizeof(struct gh_shm_block));
    assert_int_equal(h->map_capacity, GH_SHM_MAP_CAPACITY);
    assert_int_equal(h->pid, pid);
    assert_int_equal(h->uid, getuid());
    assert_int_equal(h->exited, 0);
    assert_true(h->proc_start_ticks != 0);
    if (h->start_time_ns < started_after || h->start_time_ns > real_ns())
        fail_msg("start_time_ns %llu not between the spawn (%llu) and now",
                 (unsigned long long)h->start_time_ns, (unsigned long long)started_after);
}

void check_config(struct ghr_segment *seg, const char *cmdline_has)
{
    struct gh_shm_config c;
    assert_int_equal(ghr_config(seg, &c), GHR_OK);
    assert_string_equal(c.policy, policy);
    assert_int_equal(c.mmap_threshold, DEFAULT_THRESHOLD);
    assert_int_equal(c.trim_threshold, is_buddy() ? 0 : 128u * 1024u);   /* buddy: chunks */
    assert_int_equal(c.top_pad, is_buddy() ? 0 : 128u * 1024u);
    assert_int_equal(c.buddy_max_order, is_buddy() ? 20 : 0);
    assert_int_equal(c.alignment, 16);
    assert_int_equal(c.header_bytes, 16);
    assert_int_equal(c.min_block, is_buddy() ? 32 : 48);
    if (!strstr(c.cmdline, "stats_helper") || !strstr(c.cmdline, cmdline_has))
        fail_msg("cmdline '%s' lacks 'stats_helper' or '%s'", c.cmdline, cmdline_has);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s TEST POLICY HELPER LIBRARY\n", argv[0]);
        return 2;
    }
    policy = argv[2];
    helper_path = argv[3];
    library_path = argv[4];
    signal(SIGPIPE, SIG_IGN);
    static const struct {
        const char *name;
        const struct CMUnitTest test;
    } tests[] = {
        { "preload", cmocka_unit_test_setup_teardown(test_preload, setup, teardown) },
        { "live", cmocka_unit_test_setup_teardown(test_live, setup, teardown) },
        { "life_exit", cmocka_unit_test_setup_teardown(test_life_exit, setup, teardown) },
        { "life_fork", cmocka_unit_test_setup_teardown(test_life_fork, setup, teardown) },
        { "life_exec", cmocka_unit_test_setup_teardown(test_life_exec, setup, teardown) },
        { "life_kill", cmocka_unit_test_setup_teardown(test_life_kill, setup, teardown) },
        { "life_noshm", cmocka_unit_test_setup_teardown(test_life_noshm, setup, teardown) },
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (strcmp(argv[1], tests[i].name) != 0)
            continue;
        const struct CMUnitTest one[] = { tests[i].test };
        return cmocka_run_group_tests_name(tests[i].name, one, NULL, NULL);
    }
    fprintf(stderr, "%s: unknown test '%s'\n", argv[0], argv[1]);
    return 2;
}
