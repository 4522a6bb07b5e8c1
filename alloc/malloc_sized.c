/* malloc_sized.c - the sized deallocation calls glassheap exports.
 *
 * Owns: free_sized and free_aligned_sized (C23) and the sized C++ operator
 * delete variants (mangled names: this library is C and links no C++
 * runtime).  Each checks, in hardened mode only (GLASSHEAP_HARDEN=1,
 * harden.h), that the size (and alignment) passed is the block's, then
 * frees the way its unsized form does: free() for the C calls; the unsized
 * operator delete the process resolves (the C++ runtime's, or the
 * program's own replacement) for the C++ ones, or free() in a process
 * without one.  In the default mode the check is one predictable branch.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#include "exports.h"
#include "harden.h"

/* Lock held around the check, which is fatal on a mismatch. */
static void check(void *p, size_t size, size_t align, bool rounded, const char *fn)
{
    struct gh_arena *m = GH_MAIN_ARENA; /* hardened: the only arena */
    if (__builtin_expect(!m->front.harden, 1) || !p)
        return;
    enter(m);
    gh_harden_check_size(&m->front, p, size, align, rounded, fn);
    leave(m);
}

GH_EXPORT void free_sized(void *p, size_t size);
GH_EXPORT void free_aligned_sized(void *p, size_t align, size_t size);

GH_EXPORT void free_sized(void *p, size_t size)
{
    ensure_init();
    check(p, size, 0, false, "free_sized");
    free(p);
}

GH_EXPORT void free_aligned_sized(void *p, size_t align, size_t size)
{
    ensure_init();
    check(p, size, align, false, "free_aligned_sized");
    free(p);
}

/* The unsized forms: operator delete(void*), delete[](void*), and their
 * std::align_val_t overloads. */
extern void _ZdlPv(void *p) __attribute__((weak));
extern void _ZdaPv(void *p) __attribute__((weak));
extern void _ZdlPvSt11align_val_t(void *p, size_t align) __attribute__((weak));
extern void _ZdaPvSt11align_val_t(void *p, size_t align) __attribute__((weak));

/* operator delete(void*, std::size_t) and delete[](void*, std::size_t) */
GH_EXPORT void _ZdlPvm(void *p, size_t size);
GH_EXPORT void _ZdaPvm(void *p, size_t size);
/* operator delete(void*, std::size_t, std::align_val_t), and delete[] */
GH_EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t size, size_t align);
GH_EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t size, size_t align);

GH_EXPORT void _ZdlPvm(void *p, size_t size)
{
    ensure_init();
    check(p, size, 0, false, "operator delete");
    if (_ZdlPv)
        _ZdlPv(p);
    else
        free(p);
}

GH_EXPORT void _ZdaPvm(void *p, size_t size)
{
    ensure_init();
    check(p, size, 0, false, "operator delete[]");
    if (_ZdaPv)
        _ZdaPv(p);
    else
        free(p);
}

GH_EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t size, size_t align)
{
    ensure_init();
    check(p, size, align, true, "operator delete");
    if (_ZdlPvSt11align_val_t)
        _ZdlPvSt11align_val_t(p, align);
    else
        free(p);
}

GH_EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t size, size_t align)
{
    ensure_init();
    check(p, size, align, true, "operator delete[]");
    if (_ZdaPvSt11align_val_t)
        _ZdaPvSt11align_val_t(p, align);
    else
        free(p);
}
