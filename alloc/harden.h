/* harden.h - GLASSHEAP_HARDEN=1: the hardened mode, every rule of it.
 *
 * Off by default: the front end (front.c) tests f->harden once per call and
 * comes here only when it is set.  In hardened mode:
 *   - canary: every block gets bytes after its requested size (up to
 *     GH_HARDEN_CANARY_MAX of them, keyed by the per-process secret and the
 *     block's address), checked at free, realloc and quarantine eviction
 *     ("overflow past the end of block").  A heap block is asked of the
 *     heap for n + 1 bytes, so its header holds n + 1 and there is always
 *     room for at least one canary byte;
 *   - free pattern: a freed heap block's requested and canary bytes are
 *     filled with GH_HARDEN_FREE_BYTE (a shrinking realloc moves, so its
 *     old block is freed whole), so a read after free finds no stale data, and
 *     checked, all of them, when it leaves the quarantine ("write after
 *     free of block");
 *   - quarantine: freed heap blocks wait in a FIFO of at most
 *     GH_HARDEN_QUARANTINE_BLOCKS blocks and GH_HARDEN_QUARANTINE_BYTES
 *     bytes before the heap gets them back (delayed reuse); a second free
 *     of a quarantined block is a "double free".  Emptied by malloc_trim
 *     and when the heap runs out; checked (not emptied) at exit;
 *   - large blocks end right at a PROT_NONE guard page (the payload is
 *     right-aligned in its mapping, the slack below 16 bytes holds the
 *     canary) and are unmapped, guard included, on free, so an overflow
 *     or a use after free faults;
 *   - malloc(0) (alignment up to 16) returns a distinct pointer into a
 *     PROT_NONE region, so any read or write through it faults; its free
 *     is recognised ("double free" when it is not live);
 *   - the sized frees (free_sized, free_aligned_sized, sized operator
 *     delete) must pass the requested size ("wrong size for block");
 *   - realloc of a large block always moves (no mremap: the guard page
 *     stays at the end of every mapping), and so does a shrinking realloc
 *     of a heap block; a growing one may stay in place.
 *
 * Locking: everything runs under the allocator lock except
 * gh_harden_large_map (no lock; its only shared state is an atomic
 * counter).  Never allocates through libc; maps only through the front
 * end's mapper and os.c.  Fatal lines go through gh_fatal (error.h).
 */
#ifndef GH_HARDEN_H
#define GH_HARDEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "front.h"
#include "heap.h"

#define GH_HARDEN_CANARY_MAX         16u
#define GH_HARDEN_FREE_BYTE          0xdf
/* The quarantine's bounds, chosen by measurement (bench/HARDEN.md): 1024
 * blocks cost BM_FixedSmall 2.5x the default's time, 512 blocks 1.7x.
 * Overridable with -D for such measurements (at most 1024: the set). */
#ifndef GH_HARDEN_QUARANTINE_BLOCKS
#define GH_HARDEN_QUARANTINE_BLOCKS  512u
#endif
#ifndef GH_HARDEN_QUARANTINE_BYTES
#define GH_HARDEN_QUARANTINE_BYTES   (512u * 1024u)
#endif
/* Blocks larger than this skip the quarantine (filled, then freed). */
#define GH_HARDEN_QUARANTINE_BLOCK_MAX (GH_HARDEN_QUARANTINE_BYTES / 4u)
/* The no-access region malloc(0) hands out 16-byte slots of. */
#define GH_HARDEN_ZERO_REGION        (1024u * 1024u)

/* Lock held, at start-up: turn the mode on for f (or leave it off). */
void gh_harden_init(struct gh_front *f, bool on);

/* Lock held: a heap block for n bytes aligned to align (front.c's
 * gh_front_heap_alloc when f->harden); NULL when out of memory. */
void *gh_harden_heap_alloc(struct gh_front *f, size_t align, size_t n);

/* No lock: a guarded large block (gh_front_large_map when f->harden). */
void *gh_harden_large_map(const struct gh_front *f, size_t align, size_t n);

/* Lock held: gh_front_release when f->harden (same contract). */
void gh_harden_release(struct gh_front *f, void *p, const char *fn, struct gh_front_unmap *u, size_t *usable);

/* Lock held: gh_front_usable when f->harden: the requested size. */
size_t gh_harden_usable(struct gh_front *f, const void *p, const char *fn);

/* Lock held: gh_front_realloc_begin when f->harden (never REMAP; *r's
 * old_usable is the old requested size, so a move copies no canary). */
enum gh_realloc_step gh_harden_realloc_begin(struct gh_front *f, void *p, size_t n, const char *fn,
                                             struct gh_realloc *r);

/* Lock held: fatal ("wrong size for block", named after fn) unless size is
 * p's requested size (or, with `rounded`, that size rounded up to align:
 * what libstdc++'s aligned operator new asks aligned_alloc for) and, with
 * align > 1, p is aligned to align.  A pointer that is not a live block is
 * left to the free that follows.  No-op when off. */
void gh_harden_check_size(struct gh_front *f, const void *p, size_t size, size_t align, bool rounded,
                          const char *fn);

/* Lock held: check every quarantined block and give it back to the heap
 * (malloc_trim).  No-op when off. */
void gh_harden_flush(struct gh_front *f, const char *fn);

/* Lock held: check every quarantined block, keeping it (at exit, before
 * the summary, which then counts them).  No-op when off. */
void gh_harden_verify(struct gh_front *f, const char *fn);

/* The main arena's lock held: count from now on in *c and
 * *large_canary_bytes (the segment's live section; copied first), or at
 * home again (c NULL: a forked child), in the copy gh_harden_copy_home
 * made (fork's prepare handler, every lock held). */
void gh_harden_place(struct gh_harden_counts *c, uint64_t *large_canary_bytes);
void gh_harden_copy_home(void);

/* Lock held: the counts, and the heap's counters made the program's view
 * (gh_live_program_view, glassheap/live.h): quarantined blocks leave
 * live_blocks/live_block_bytes/live_requested (they are a term of their
 * own: live + quarantined + free + overhead = heap), the one reserve byte
 * per heap block leaves live_requested, and the live zero-size blocks join
 * live_blocks (with 0 bytes). */
void gh_harden_account(struct gh_harden_counts *out, struct gh_heap_counters *heap);

#endif
