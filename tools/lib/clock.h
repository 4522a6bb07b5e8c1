/* clock.h - the tools' one clock: CLOCK_MONOTONIC in nanoseconds (the
 * clock the library stamps the segment with, so a tool can subtract). */
#ifndef GH_TOOLS_CLOCK_H
#define GH_TOOLS_CLOCK_H

#include <stdint.h>

#define GH_NS_PER_S 1000000000u

/* CLOCK_MONOTONIC now, in ns; never goes backwards. */
uint64_t gh_now_ns(void);

/* The same clock in seconds. */
double gh_now_s(void);

#endif
