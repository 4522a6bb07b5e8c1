/* unit_tools_safe.c - the safety rules of tools/lib in process: escape.c's
 * one rule for untrusted strings (which characters pass, the text and JSON
 * spellings, cuts only between whole pieces), outfile.c's rule for created
 * files (no symlink, no other user's file, no second link, not a
 * non-regular file, 0600, emptied only after the checks), proc.c's Uid
 * parser, and bytes.c's 128-bit sums.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytes.h"
#include "escape.h"
#include "outfile.h"
#include "proc.h"

#define NOBODY_UID 65534

static char *json_of(const char *s)
{
    char *out = NULL;
    size_t len;
    FILE *f = open_memstream(&out, &len);
    assert_non_null(f);
    gh_esc_json(f, s);
    assert_int_equal(fclose(f), 0);
    return out;
}

static void expect_text(const char *in, const char *want)
{
    char buf[256];
    assert_string_equal(gh_esc_text(in, buf, sizeof buf), want);
    char *out = NULL;
    size_t len;
    FILE *f = open_memstream(&out, &len);
    assert_non_null(f);
    gh_esc_fputs(f, in);
    assert_int_equal(fclose(f), 0);
    assert_string_equal(out, want);
    free(out);
}

static void expect_json(const char *in, const char *want)
{
    char *out = json_of(in);
    assert_string_equal(out, want);
    free(out);
}

static void test_escape_text(void **state)
{
    (void)state;
    expect_text("plain ascii ~", "plain ascii ~");
    expect_text("\x1b]0;title\x07", "\\x1b]0;title\\x07");
    expect_text("a\nb\tc\rd\x7f", "a\\x0ab\\x09c\\x0dd\\x7f");
    expect_text("back\\slash", "back\\\\slash");
    expect_text("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    expect_text("\xc2\x9b" "2J", "\\xc2\\x9b2J");                     /* C1 CSI, well formed */
    expect_text("\xe2\x80\xae" "x", "\\xe2\\x80\\xaex");               /* right-to-left override */
    expect_text("\xe2\x80\xa8", "\\xe2\\x80\\xa8");                    /* line separator */
    expect_text("\x9b" "2J", "\\x9b2J");                               /* a lone C1 byte */
    expect_text("\xc0\xaf", "\\xc0\\xaf");                             /* overlong '/' */
    expect_text("\xed\xa0\x80", "\\xed\\xa0\\x80");                    /* a surrogate */
    expect_text("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");           /* past U+10FFFF */
    expect_text("\xe2\x82", "\\xe2\\x82");                             /* cut short */
}

static void test_escape_cuts_whole_pieces(void **state)
{
    (void)state;
    char buf[8];
    /* "ab" then an escape that needs 4 bytes: 2 + 4 + NUL fits 8, the next does not */
    assert_string_equal(gh_esc_text("ab\x1b\x1b", buf, sizeof buf), "ab\\x1b");
    char small[3];
    assert_string_equal(gh_esc_text("\xc3\xa9\xc3\xa9", small, sizeof small), "\xc3\xa9");
    char one[1];
    assert_string_equal(gh_esc_text("x", one, sizeof one), "");
    assert_int_equal(gh_esc_span("\xc3\xa9"), 2);
    assert_int_equal(gh_esc_span("\x1b"), 0);
    assert_int_equal(gh_esc_span(""), 0);
}

static void test_escape_json(void **state)
{
    (void)state;
    expect_json("a\"b\\c", "\"a\\\"b\\\\c\"");
    expect_json("\x1b]0;t\x07", "\"\\u001b]0;t\\u0007\"");
    expect_json("\n\t\r\x7f", "\"\\n\\t\\r\\u007f\"");
    expect_json("caf\xc3\xa9", "\"caf\xc3\xa9\"");
    expect_json("\xc2\x9b", "\"\\u009b\"");        /* C1: its code point */
    expect_json("\xe2\x80\xae", "\"\\u202e\"");
    expect_json("\xff\xc0", "\"\\u00ff\\u00c0\""); /* malformed: bytes read as Latin-1 */
    expect_json("", "\"\"");
}

static char dir[64];

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/gh-outfile-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void put(const char *name, char *path, size_t cap, const char *text)
{
    snprintf(path, cap, "%s/%s", dir, name);
    if (text) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
    }
}

static bool holds(const char *path, const char *text)
{
    char buf[64] = { 0 };
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strcmp(buf, text) == 0;
}

static void test_outfile_rule(void **state)
{
    (void)state;
    char p[128], q[128];
    int fd;
    mode_t old = umask(0);
    put("new", p, sizeof p, NULL);
    assert_int_equal(gh_outfile_open(p, &fd), 0);
    umask(old);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    close(fd);

    put("mine", p, sizeof p, "old contents");
    FILE *f;
    int code = -99;
    f = gh_outfile_fopen(p, &code);
    assert_non_null(f);
    assert_int_equal(code, 0);
    fputs("new", f);
    fclose(f);
    assert_true(holds(p, "new"));

    put("target", p, sizeof p, "precious");
    put("link", q, sizeof q, NULL);
    assert_int_equal(symlink(p, q), 0);
    assert_int_equal(gh_outfile_open(q, &fd), ELOOP);
    assert_int_equal(fd, -1);
    assert_true(holds(p, "precious"));
    assert_string_equal(gh_outfile_strerror(ELOOP), "it is a symbolic link");

    put("alias", q, sizeof q, NULL);
    assert_int_equal(link(p, q), 0);
    assert_int_equal(gh_outfile_open(q, &fd), GH_OUTFILE_LINKED);
    assert_true(holds(p, "precious"));

    assert_int_equal(gh_outfile_open(dir, &fd), EISDIR);
    assert_int_equal(gh_outfile_open("/dev/null", &fd), GH_OUTFILE_NOT_REGULAR);
    put("missing/x.svg", q, sizeof q, NULL);
    assert_int_equal(gh_outfile_open(q, &fd), ENOENT);

    if (geteuid() == 0) {
        put("theirs", q, sizeof q, "theirs");
        assert_int_equal(chmod(q, 0666), 0);
        assert_int_equal(chown(q, NOBODY_UID, NOBODY_UID), 0);
        assert_int_equal(gh_outfile_open(q, &fd), GH_OUTFILE_NOT_OWNER);
        assert_true(holds(q, "theirs"));
        assert_string_equal(gh_outfile_strerror(GH_OUTFILE_NOT_OWNER), "it is owned by another user");
    }
}

static void test_proc_uids(void **state)
{
    (void)state;
    struct gh_proc_uids u;
    assert_true(gh_proc_uids_parse("Name:\tx\nUmask:\t0022\nUid:\t1000\t1001\t1002\t1003\nGid:\t5\t5\t5\t5\n", &u));
    assert_int_equal(u.real, 1000);
    assert_int_equal(u.effective, 1001);
    assert_int_equal(u.saved, 1002);
    assert_int_equal(u.fs, 1003);
    assert_false(gh_proc_uids_parse("Name:\tx\nGid:\t1\t1\t1\t1\n", &u));
    assert_false(gh_proc_uids_parse("Uid:\t1\t2\n", &u));
    assert_int_equal(gh_proc_uids_read((int)getpid(), &u), 1);
    assert_int_equal(u.effective, geteuid());
}

static void test_wide_sums(void **state)
{
    (void)state;
    char b[64];
    unsigned __int128 total = (unsigned __int128)200000 * ((uint64_t)1 << 47);
    assert_string_equal(decimal_wide(total, b, sizeof b), "28147497671065600000");
    assert_string_equal(decimal_wide(0, b, sizeof b), "0");
    assert_string_equal(decimal_wide(~(unsigned __int128)0, b, sizeof b),
                        "340282366920938463463374607431768211455");
    assert_string_equal(human_bytes_wide(total, b, sizeof b), "25600000.0 TiB");
    assert_string_equal(human_bytes_wide(1536, b, sizeof b), "1.5 KiB");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_text),
        cmocka_unit_test(test_escape_cuts_whole_pieces),
        cmocka_unit_test(test_escape_json),
        cmocka_unit_test(test_outfile_rule),
        cmocka_unit_test(test_proc_uids),
        cmocka_unit_test(test_wide_sums),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
