/* bytes.c - byte counts as the tools print them (bytes.h). */
#include "bytes.h"

#include <stdio.h>

/* n / 1024^(u+1) with u the largest unit index (< 4) that keeps it >= 1
 * where it can: the scaling both labels share. */
static double scaled(uint64_t n, int *u)
{
    double v = (double)n / 1024;
    *u = 0;
    while (v >= 1024 && *u < 3) {
        v /= 1024;
        (*u)++;
    }
    return v;
}

const char *short_bytes(uint64_t n, char *buf, size_t cap)
{
    static const char units[] = "KMGT";
    if (n < SHORT_EXACT_BELOW) {
        snprintf(buf, cap, "%llu", (unsigned long long)n);
        return buf;
    }
    int u;
    double v = scaled(n, &u);
    snprintf(buf, cap, v < 100 ? "%.1f%c" : "%.0f%c", v, units[u]);
    return buf;
}

const char *human_bytes(uint64_t n, char *buf, size_t cap)
{
    static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
    if (n < 1024) {
        snprintf(buf, cap, "%llu B", (unsigned long long)n);
        return buf;
    }
    int u;
    double v = scaled(n, &u);
    snprintf(buf, cap, "%.1f %s", v, units[u]);
    return buf;
}

const char *human_bytes_wide(unsigned __int128 n, char *buf, size_t cap)
{
    if (n <= UINT64_MAX)
        return human_bytes((uint64_t)n, buf, cap);
    double v = (double)n / 1024 / 1024 / 1024 / 1024; /* beyond 2^64: TiB */
    snprintf(buf, cap, "%.1f TiB", v);
    return buf;
}

const char *decimal_wide(unsigned __int128 n, char *buf, size_t cap)
{
    char tmp[48];
    size_t k = 0;
    do {
        tmp[k++] = (char)('0' + (unsigned)(n % 10));
        n /= 10;
    } while (n && k < sizeof tmp);
    size_t i = 0;
    for (; i < k && i + 1 < cap; i++)
        buf[i] = tmp[k - 1 - i];
    buf[i] = '\0';
    return buf;
}
