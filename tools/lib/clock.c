/* clock.c - gh_now_ns and gh_now_s (clock.h). */
#include "clock.h"

#include <time.h>

uint64_t gh_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * GH_NS_PER_S + (uint64_t)ts.tv_nsec;
}

double gh_now_s(void)
{
    return (double)gh_now_ns() / GH_NS_PER_S;
}
