/* layout_image.c - a process that publishes a hand-made glassheap segment
 * (tests/shm/shm_image.h) whose large-block list names two anonymous
 * mappings of its own and one address range it does not have, for
 * map_test.py's layout_list case: `glassheap layout` must draw the two
 * from the list (not from the process's memory) and leave the third out.
 *
 * Not preloaded.  Prints "ready PID BASE1 LEN1 BASE2 LEN2 BOGUS\n" (hex
 * addresses), waits for end of input, removes its segment and exits 0.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shm_image.h"

#define LARGE_LEN 0x21000u /* a 128 KiB request and its page, like the library's */

int main(void)
{
    /* a no-access page between the two keeps the kernel from merging them */
    uint8_t *area = mmap(NULL, 2 * LARGE_LEN + 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED)
        return 1;
    uint8_t *a = area, *b = area + LARGE_LEN + 4096;
    if (mprotect(a, LARGE_LEN, PROT_READ | PROT_WRITE) || mprotect(b, LARGE_LEN, PROT_READ | PROT_WRITE))
        return 1;
    a[0] = b[0] = 1;

    struct img m;
    img_init(&m);
    m.large.count = 3;
    m.large.total = 3;
    const uint64_t base[3] = { (uint64_t)(uintptr_t)a, (uint64_t)(uintptr_t)b, 0x100000000000ull };
    for (int i = 0; i < 3; i++) {
        m.lblocks[i].map_base = base[i];
        m.lblocks[i].map_len = LARGE_LEN;
        m.lblocks[i].addr = base[i] + 64;
        m.lblocks[i].requested = 128 * 1024;
    }
    char path[64];
    snprintf(path, sizeof path, GH_SHM_DIR "/glassheap.%d", (int)getpid());
    if (img_write(path, &m, sizeof m) != 0)
        return 1;
    printf("ready %d %llx %x %llx %x %llx\n", (int)getpid(), (unsigned long long)base[0], LARGE_LEN,
           (unsigned long long)base[1], LARGE_LEN, (unsigned long long)base[2]);
    fflush(stdout);
    int c;
    while ((c = getchar()) != EOF)
        ;
    unlink(path);
    return 0;
}
