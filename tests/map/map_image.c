/* map_image.c - a process that publishes a hand-made glassheap segment
 * (tests/shm/shm_image.h) with a small heap map and a large-block list,
 * and answers map and counter requests the way the library does (by
 * setting `answered` to `request`), for map_test.py's map_large case:
 * `glassheap map` must show the listed large blocks, and nothing more when
 * none are listed.
 *
 *   map_image COUNT TOTAL   list COUNT large blocks (at most IMG_LARGE_CAP)
 *                           of TOTAL live ones
 *
 * Block i of the list: mapping 0x7f0000000000 + i * 0x100000, 0x21000
 * bytes; payload 0x40 into it; 0x20000 + i bytes requested.  The heap map:
 * four blocks of 0x100 bytes from 0x10000, used and free in turn.
 * Not preloaded.  Prints "ready PID\n", answers until end of input, removes
 * its segment and exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shm_image.h"

#define TICK_MS 1

/* Answer a pending request of a region whose request and answered words
 * are at req and ans. */
static void answer(uint64_t *req, uint64_t *ans)
{
    uint64_t r = __atomic_load_n(req, __ATOMIC_ACQUIRE);
    if (__atomic_load_n(ans, __ATOMIC_RELAXED) != r)
        __atomic_store_n(ans, r, __ATOMIC_RELEASE);
}

int main(int argc, char **argv)
{
    char *end1, *end2;
    unsigned long count = argc == 3 ? strtoul(argv[1], &end1, 10) : 0;
    unsigned long total = argc == 3 ? strtoul(argv[2], &end2, 10) : 0;
    if (argc != 3 || *end1 || *end2 || count > IMG_LARGE_CAP || total < count) {
        fprintf(stderr, "usage: map_image COUNT TOTAL (COUNT <= %u <= TOTAL)\n", IMG_LARGE_CAP);
        return 2;
    }
    struct img m;
    img_init(&m);
    m.map.nblocks = 4;
    m.map.total_blocks = 4;
    m.map.heap_start = 0x10000;
    m.map.heap_end = 0x10400 + m.cfg.header_bytes;
    m.large.count = count;
    m.large.total = total;

    char path[64];
    snprintf(path, sizeof path, GH_SHM_DIR "/glassheap.%d", (int)getpid());
    if (img_write(path, &m, sizeof m) != 0)
        return 1;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    struct img *seg = fd < 0 ? MAP_FAILED : mmap(NULL, sizeof m, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (seg == MAP_FAILED) {
        unlink(path);
        return 1;
    }
    printf("ready %d\n", (int)getpid());
    fflush(stdout);

    struct pollfd in = { .fd = STDIN_FILENO, .events = POLLIN };
    for (;;) {
        answer(&seg->map.request, &seg->map.answered);
        answer(&seg->cnt.request, &seg->cnt.answered);
        int r = poll(&in, 1, TICK_MS);
        if (r < 0 && errno != EINTR)
            break;
        if (r > 0) {
            char buf[64];
            ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
            if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
                break;
        }
    }
    munmap(seg, sizeof m);
    close(fd);
    unlink(path);
    return 0;
}
