/* bytes.h - byte counts as the tools print them (bytes.c): one scaling
 * (powers of 1024, at most TiB) for the long and the short form, and for
 * 128-bit sums. */
#ifndef GH_TOOLS_BYTES_H
#define GH_TOOLS_BYTES_H

#include <stddef.h>
#include <stdint.h>

#define SHORT_EXACT_BELOW 10000u /* bytes shown exactly below this */

/* Short sizes for labels: "48", "2016", "12.5K", "300K", "12M". */
const char *short_bytes(uint64_t n, char *buf, size_t cap);

/* A byte count as a person reads it: "512 B", "1.5 KiB", "12.0 MiB". */
const char *human_bytes(uint64_t n, char *buf, size_t cap);

/* The same for a 128-bit sum (a total over a trace): exact below 2^64,
 * as a double above (still scaled to at most TiB). */
const char *human_bytes_wide(unsigned __int128 n, char *buf, size_t cap);

/* n in decimal, every digit (cap >= 40 holds any). */
const char *decimal_wide(unsigned __int128 n, char *buf, size_t cap);

#endif
