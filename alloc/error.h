/* error.h - fatal errors, the glibc way.
 *
 * One line on stderr written with write(2) - no stdio, no allocation - then
 * abort().  Format: "glassheap: <fn>(): <what> 0x<addr>\n", e.g.
 *   glassheap: free(): double free of 0x55d0c0a2b2a0
 *
 * The misuse and corruption lines are the GH_MSG_* below, the same words
 * under every policy (docs/errors.md lists them with what each means);
 * <addr> is the pointer the program passed, or for a free list the free
 * block whose links are bad.
 */
#ifndef GH_ERROR_H
#define GH_ERROR_H

/* free() of a block that is free already (its header says so). */
#define GH_MSG_DOUBLE_FREE  "double free of"
/* realloc() or malloc_usable_size() of a block that is free. */
#define GH_MSG_FREED        "pointer to a freed block"
/* Not a block glassheap gave out: in none of its regions or large blocks,
 * or the payload position of free space no call handed out. */
#define GH_MSG_INVALID      "invalid pointer"
/* Inside a block (or misaligned inside a heap region), not its start. */
#define GH_MSG_INTERIOR     "pointer into the middle of a block"
/* The block's own header fails its keyed check or holds impossible values. */
#define GH_MSG_HEADER       "corrupted header of block"
/* A free-list or index link points outside the heap, is misaligned, or does
 * not point back; or an indexed block is not the free block it should be. */
#define GH_MSG_FREE_LIST    "corrupted free list at"
/* The block's neighbour (the next block, the previous block's footer, the
 * buddy) fails its check or disagrees with the block. */
#define GH_MSG_NEIGHBOUR    "corrupted neighbour of block"

__attribute__((noreturn, cold)) void gh_fatal(const char *fn, const char *what, const void *addr);

/* A system call that failed in a way that is not running out:
 *   glassheap: <call>(): errno <err> <what> 0x<addr>
 * e.g. "glassheap: mmap(): errno 22 for a mapping of length 0x1000". */
__attribute__((noreturn, cold)) void gh_fatal_errno(const char *call, int err, const char *what,
                                                    const void *addr);

/* Write a NUL-terminated string to fd with write(2), retrying on EINTR. */
void gh_write_str(int fd, const char *s);

/* Format v in hex ("0x..."), or decimal, into buf; returns the length. */
int gh_fmt_hex(char *buf, unsigned long v);
int gh_fmt_dec(char *buf, unsigned long v);

#endif
