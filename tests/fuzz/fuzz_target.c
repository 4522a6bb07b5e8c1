/* fuzz_target.c - the libFuzzer target (built with GLASSHEAP_FUZZ, the
 * clang preset): each input is one fuzz case (heapfuzz.h).
 *
 * Byte 0 picks the policy and whether the case may make corrupting writes;
 * the rest are the case's operations.  A crash, a hang, or a FUZZ-BUG exit
 * is a finding.  glassheap's abort() after its fatal line is expected only
 * once the input has made a corrupting write: then the handler jumps back
 * and the next input runs on a fresh arena heap (the heap lives in the
 * arena and a static, both rebuilt per input); any other abort is a finding.
 *
 *   build/clang/tests/fuzz/gh_fuzz_target -max_total_time=600 corpus/
 */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "glassheap/policies.h"
#include "heapfuzz.h"

#define ARENA (32u << 20)

#define GH_FUZZ_NAME(name) #name,
static const char *const policies[] = { GLASSHEAP_POLICIES(GH_FUZZ_NAME) };
#undef GH_FUZZ_NAME
#define NPOL (sizeof policies / sizeof policies[0])

static sigjmp_buf back;
static volatile struct gh_fuzz_stats stats;
static volatile sig_atomic_t may_abort;

static void on_abort(int sig)
{
    if (may_abort && stats.dirty > 0)
        siglongjmp(back, 1);
    signal(sig, SIG_DFL);
    raise(sig);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static void *arena;
    if (!arena) {
        arena = mmap(NULL, ARENA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (arena == MAP_FAILED)
            __builtin_trap();
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_abort;
        sa.sa_flags = SA_NODEFER;
        sigaction(SIGABRT, &sa, NULL);
    }
    if (size < 1)
        return 0;
    struct gh_fuzz_src src = { .data = data + 1, .len = size - 1 };
    stats.ops = stats.dirty = 0;
    may_abort = (data[0] & 0x80) != 0;
    if (sigsetjmp(back, 1) == 0)
        gh_fuzz_case(policies[(data[0] & 0x7f) % NPOL], arena, ARENA, &src, UINT64_MAX, may_abort, &stats);
    may_abort = 0;
    return 0;
}
