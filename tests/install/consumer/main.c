/* main.c - a program built against an installed glassheap.
 *
 * Prints, one per line:
 *   glassheap_version=<the library's version>
 *   loaded=<path of the libglassheap.so the loader mapped>
 *   malloc=ok          (malloc/calloc/realloc/free worked, 16-byte aligned)
 * and exits 0; anything wrong exits 1 with a line on stderr.
 */
#define _GNU_SOURCE
#include <glassheap.h>

#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int find_glassheap(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    if (info->dlpi_name && strstr(info->dlpi_name, "libglassheap.so")) {
        *(const char **)data = info->dlpi_name;
        return 1;
    }
    return 0;
}

int main(void)
{
    const char *version = glassheap_version();
    if (version == NULL || strcmp(version, GLASSHEAP_VERSION) != 0 ||
        strcmp(version, GH_EXPECT_VERSION) != 0) {
        fprintf(stderr, "version mismatch: library '%s', header '%s', expected '%s'\n",
                version ? version : "(null)", GLASSHEAP_VERSION, GH_EXPECT_VERSION);
        return 1;
    }
    printf("glassheap_version=%s\n", version);

    const char *path = NULL;
    dl_iterate_phdr(find_glassheap, &path);
    if (path == NULL) {
        fprintf(stderr, "libglassheap.so is not loaded\n");
        return 1;
    }
    printf("loaded=%s\n", path);

    char *p = malloc(100);
    char *q = calloc(10, 1000);
    if (p == NULL || q == NULL || (uintptr_t)p % 16 != 0 || (uintptr_t)q % 16 != 0) {
        fprintf(stderr, "malloc/calloc failed or misaligned: %p %p\n", (void *)p, (void *)q);
        return 1;
    }
    memset(p, 'x', 100);
    for (size_t i = 0; i < 10000; i++) {
        if (q[i] != 0) {
            fprintf(stderr, "calloc memory not zero at %zu\n", i);
            return 1;
        }
    }
    char *r = realloc(p, 5000);
    if (r == NULL || r[0] != 'x' || r[99] != 'x') {
        fprintf(stderr, "realloc lost the contents\n");
        return 1;
    }
    free(r);
    free(q);
    printf("malloc=ok\n");
    return 0;
}
