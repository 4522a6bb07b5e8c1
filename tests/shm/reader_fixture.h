/* reader_fixture.h - what the cmocka tests of the reader share: a private
 * directory for segment images (created by fixture_setup, removed by
 * fixture_teardown) and writing and opening images there.  Include after
 * <cmocka.h> and shm_image.h.
 */
#ifndef GH_READER_FIXTURE_H
#define GH_READER_FIXTURE_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "clock.h"
#include "reader.h"
#include "shm_image.h"

static char g_dir[] = "/tmp/gh_shm_test.XXXXXX";

static inline const char *tpath(const char *name)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s/%s", g_dir, name);
    return buf;
}

static inline uint64_t ms_now(void)
{
    return gh_now_ns() / 1000000u;
}

static inline void write_img(const char *name, const struct img *m, size_t size)
{
    assert_int_equal(img_write(tpath(name), m, size), 0);
}

/* Write m to name and open it; returns the status, *seg as open left it. */
static inline int open_img(const char *name, const struct img *m, struct ghr_segment **seg)
{
    write_img(name, m, sizeof *m);
    return ghr_open_path(tpath(name), 0, seg);
}

/* Open expecting `want` and no handle (every error but STALE/BAD_VERSION). */
static inline void expect_open_error(const char *name, const struct img *m, size_t size, int want)
{
    struct ghr_segment *seg = (struct ghr_segment *)1;
    write_img(name, m, size);
    int rc = ghr_open_path(tpath(name), 0, &seg);
    if (rc != want)
        fail_msg("%s: got %d (%s), want %d (%s)", name, rc, ghr_strerror(rc), want,
                 ghr_strerror(want));
    assert_null(seg);
}

static inline int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

static inline int setup(void **state)
{
    (void)state;
    if (!mkdtemp(g_dir))
        return -1;
    return img_self_start_ticks() != 0 ? 0 : -1;
}

static inline int teardown(void **state)
{
    (void)state;
    return nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
