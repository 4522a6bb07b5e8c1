/* test_config.c - config.c in-process: every GLASSHEAP_* variable.
 *
 * Proves: with nothing set every option has its documented default and
 * nothing is written to stderr; every good value of every variable
 * (each policy of glassheap/policies.h, sizes with and without K/M/G,
 * 0/1, each stats mode, paths) is taken, silently; every bad value gives
 * exactly the one documented line on fd 2 and the default, and the return
 * value counts the bad values; a very long bad value still gives one
 * newline-terminated line; the size parser's overflow limits and the %p
 * expansion's bounds hold; gh_config_load reads the real environment.
 *
 * Variables come from a table through gh_config_parse's lookup, except in
 * the gh_config_load test, which uses setenv.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "core_util.h"
#include "glassheap/policies.h"

/* ---- the environment as a table ------------------------------------------ */

struct var {
    const char *name, *value;
};

static const char *table_lookup(const char *name, void *arg)
{
    for (const struct var *v = arg; v->name; v++)
        if (strcmp(v->name, name) == 0)
            return v->value;
    return NULL;
}

/* Parse vars (NULL-terminated), catching stderr into err. */
static int parse_vars(struct gh_config *c, const struct var *vars, struct capture *err)
{
    stderr_begin(err);
    int bad = gh_config_parse(c, table_lookup, (void *)vars);
    stderr_end(err);
    return bad;
}

/* One variable set to value. */
static int parse_one(struct gh_config *c, const char *name, const char *value, struct capture *err)
{
    const struct var vars[] = { { name, value }, { NULL, NULL } };
    return parse_vars(c, vars, err);
}

static void assert_defaults(const struct gh_config *c)
{
    assert_string_equal(c->policy, GLASSHEAP_POLICY_DEFAULT);
    assert_int_equal(c->mmap_threshold, 128 * 1024);
    assert_true(c->shm);
    assert_int_equal(c->stats, GH_STATS_OFF);
    assert_string_equal(c->stats_file, "");
    assert_string_equal(c->trace, "");
}

/* The line config.c writes for a bad value. */
static void expect_warning(const struct capture *err, const char *var, const char *value,
                           const char *accepted, const char *def)
{
    char want[2048];
    snprintf(want, sizeof want, "glassheap: %s='%s' is not valid (accepted: %s); using '%s'\n", var, value,
             accepted, def);
    assert_string_equal(err->text, want);
}

/* ---- defaults ------------------------------------------------------------- */

static void test_defaults(void **state)
{
    (void)state;
    struct gh_config c;
    struct capture err;
    const struct var none[] = { { NULL, NULL } };
    memset(&c, 0xa5, sizeof c);
    assert_int_equal(parse_vars(&c, none, &err), 0);
    assert_defaults(&c);
    assert_int_equal(err.len, 0);
}

/* ---- GLASSHEAP_POLICY ----------------------------------------------------- */

static void test_policy_good(void **state)
{
    (void)state;
    static const char *const names[] = {
#define X(name) #name,
        GLASSHEAP_POLICIES(X)
#undef X
    };
    assert_int_equal(sizeof names / sizeof names[0], GLASSHEAP_POLICY_COUNT);
    for (size_t i = 0; i < GLASSHEAP_POLICY_COUNT; i++) {
        struct gh_config c;
        struct capture err;
        assert_int_equal(parse_one(&c, "GLASSHEAP_POLICY", names[i], &err), 0);
        assert_string_equal(c.policy, names[i]);
        assert_int_equal(err.len, 0);
    }
}

static void test_policy_bad(void **state)
{
    (void)state;
    static const char *const bad[] = { "bogus", "firstfit", "BEST", "", " best", "best ", "buddyy" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct gh_config c;
        struct capture err;
        assert_int_equal(parse_one(&c, "GLASSHEAP_POLICY", bad[i], &err), 1);
        assert_defaults(&c);
        expect_warning(&err, "GLASSHEAP_POLICY", bad[i], GLASSHEAP_POLICY_NAMES, GLASSHEAP_POLICY_DEFAULT);
    }
}

/* ---- GLASSHEAP_MMAP_THRESHOLD --------------------------------------------- */

#define SIZE_ACCEPTED "a byte count with optional K, M or G"

static void test_threshold_good(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t value;
    } good[] = {
        { "0", 0 },
        { "1", 1 },
        { "262144", 262144 },
        { "64K", 64u << 10 },
        { "64k", 64u << 10 },
        { "1M", 1u << 20 },
        { "3m", 3u << 20 },
        { "1G", (size_t)1 << 30 },
        { "2g", (size_t)2 << 30 },
        { "007", 7 },
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct gh_config c;
        struct capture err;
        assert_int_equal(parse_one(&c, "GLASSHEAP_MMAP_THRESHOLD", good[i].text, &err), 0);
        assert_int_equal(c.mmap_threshold, good[i].value);
        assert_int_equal(err.len, 0);
    }
}

static void test_threshold_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "12Q", "-5", "", "K", "1T", "1K2", "1KB", " 1", "1 ", "+4", "0x10",
        "99999999999999999999G",  /* the digits overflow */
        "17179869184G",           /* 2^34 G: the shift overflows */
        "8589934592G",            /* 2^63: past SIZE_MAX / 2 */
        "9223372036854775808",    /* 2^63 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct gh_config c;
        struct capture err;
        assert_int_equal(parse_one(&c, "GLASSHEAP_MMAP_THRESHOLD", bad[i], &err), 1);
        assert_defaults(&c);
        expect_warning(&err, "GLASSHEAP_MMAP_THRESHOLD", bad[i], SIZE_ACCEPTED, "128K");
    }
}

static void test_parse_size_limits(void **state)
{
    (void)state;
    size_t v = 12345;
    assert_true(gh_config_parse_size("9223372036854775807", &v)); /* SIZE_MAX / 2 */
    assert_int_equal(v, SIZE_MAX / 2);
    assert_true(gh_config_parse_size("8589934591G", &v)); /* 2^63 - 2^30 */
    assert_int_equal(v, ((size_t)1 << 63) - ((size_t)1 << 30));
    assert_true(gh_config_parse_size("8796093022207M", &v)); /* 2^63 - 2^20 */
    assert_int_equal(v, ((size_t)1 << 63) - ((size_t)1 << 20));
    v = 12345;
    assert_false(gh_config_parse_size("8796093022208M", &v));
    assert_false(gh_config_parse_size("18446744073709551616", &v)); /* 2^64 */
    assert_false(gh_config_parse_size(NULL, &v));
    assert_int_equal(v, 12345); /* untouched on failure */
}

/* ---- GLASSHEAP_SHM -------------------------------------------------------- */

static void test_shm(void **state)
{
    (void)state;
    struct gh_config c;
    struct capture err;
    assert_int_equal(parse_one(&c, "GLASSHEAP_SHM", "0", &err), 0);
    assert_false(c.shm);
    assert_int_equal(err.len, 0);
    assert_int_equal(parse_one(&c, "GLASSHEAP_SHM", "1", &err), 0);
    assert_true(c.shm);
    assert_int_equal(err.len, 0);
    static const char *const bad[] = { "2", "yes", "true", "", "01", "1 " };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse_one(&c, "GLASSHEAP_SHM", bad[i], &err), 1);
        assert_defaults(&c);
        expect_warning(&err, "GLASSHEAP_SHM", bad[i], "0|1", "1");
    }
}

/* ---- GLASSHEAP_STATS ------------------------------------------------------ */

static void test_stats_mode(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        enum gh_stats_mode mode;
    } good[] = {
        { "0", GH_STATS_OFF }, { "", GH_STATS_OFF }, { "off", GH_STATS_OFF },
        { "1", GH_STATS_TEXT }, { "text", GH_STATS_TEXT }, { "json", GH_STATS_JSON },
    };
    struct gh_config c;
    struct capture err;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(parse_one(&c, "GLASSHEAP_STATS", good[i].text, &err), 0);
        assert_int_equal(c.stats, good[i].mode);
        assert_int_equal(err.len, 0);
    }
    static const char *const bad[] = { "loud", "2", "JSON", "Text", "on" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse_one(&c, "GLASSHEAP_STATS", bad[i], &err), 1);
        assert_defaults(&c);
        expect_warning(&err, "GLASSHEAP_STATS", bad[i], "0|1|text|json", "0");
    }
}

/* ---- GLASSHEAP_STATS_FILE and GLASSHEAP_TRACE ------------------------------ */

#define PATH_ACCEPTED "a file path; %p is replaced by the PID"

static void test_paths(void **state)
{
    (void)state;
    static const char *const vars[] = { "GLASSHEAP_STATS_FILE", "GLASSHEAP_TRACE" };
    static char longest[GH_PATH_MAX], too_long[GH_PATH_MAX + 1];
    memset(longest, 'a', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    memset(too_long, 'b', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = '\0';
    for (size_t i = 0; i < 2; i++) {
        struct gh_config c;
        struct capture err;
        const char *const good[] = { "/tmp/gh.%p.json", "relative", "", longest };
        for (size_t j = 0; j < sizeof good / sizeof good[0]; j++) {
            assert_int_equal(parse_one(&c, vars[i], good[j], &err), 0);
            assert_string_equal(i == 0 ? c.stats_file : c.trace, good[j]);
            assert_string_equal(i == 0 ? c.trace : c.stats_file, "");
            assert_int_equal(err.len, 0);
        }
        assert_int_equal(parse_one(&c, vars[i], too_long, &err), 1);
        assert_defaults(&c);
        /* One line, cut to GH_CONFIG_WARN_MAX bytes and still ending in a
         * newline: the head of the documented line and no more. */
        char head[GH_CONFIG_WARN_MAX + 1];
        int n = snprintf(head, sizeof head, "glassheap: %s='%s", vars[i], too_long);
        assert_true(n >= GH_CONFIG_WARN_MAX);
        assert_int_equal(err.len, GH_CONFIG_WARN_MAX);
        assert_memory_equal(err.text, head, GH_CONFIG_WARN_MAX - 1);
        assert_int_equal(err.text[GH_CONFIG_WARN_MAX - 1], '\n');
    }
}

/* ---- several variables at once -------------------------------------------- */

static void test_all_good(void **state)
{
    (void)state;
    const struct var vars[] = {
        { "GLASSHEAP_POLICY", "worst" },
        { "GLASSHEAP_MMAP_THRESHOLD", "1M" },
        { "GLASSHEAP_SHM", "0" },
        { "GLASSHEAP_STATS", "json" },
        { "GLASSHEAP_STATS_FILE", "/tmp/s.%p" },
        { "GLASSHEAP_TRACE", "/tmp/t.%p" },
        { "GLASSHEAP_UNKNOWN", "whatever" }, /* not an option: ignored */
        { NULL, NULL },
    };
    struct gh_config c;
    struct capture err;
    assert_int_equal(parse_vars(&c, vars, &err), 0);
    assert_string_equal(c.policy, "worst");
    assert_int_equal(c.mmap_threshold, 1u << 20);
    assert_false(c.shm);
    assert_int_equal(c.stats, GH_STATS_JSON);
    assert_string_equal(c.stats_file, "/tmp/s.%p");
    assert_string_equal(c.trace, "/tmp/t.%p");
    assert_int_equal(err.len, 0);
}

/* Bad values are reported in options.def's order, one line each; the good
 * ones among them still count. */
static void test_several_bad(void **state)
{
    (void)state;
    const struct var vars[] = {
        { "GLASSHEAP_STATS", "loud" },
        { "GLASSHEAP_SHM", "0" },
        { "GLASSHEAP_MMAP_THRESHOLD", "12Q" },
        { "GLASSHEAP_POLICY", "bogus" },
        { NULL, NULL },
    };
    struct gh_config c;
    struct capture err;
    assert_int_equal(parse_vars(&c, vars, &err), 3);
    assert_string_equal(c.policy, GLASSHEAP_POLICY_DEFAULT);
    assert_int_equal(c.mmap_threshold, 128 * 1024);
    assert_false(c.shm);
    assert_int_equal(c.stats, GH_STATS_OFF);
    char want[1024];
    snprintf(want, sizeof want,
             "glassheap: GLASSHEAP_POLICY='bogus' is not valid (accepted: %s); using '%s'\n"
             "glassheap: GLASSHEAP_MMAP_THRESHOLD='12Q' is not valid (accepted: " SIZE_ACCEPTED
             "); using '128K'\n"
             "glassheap: GLASSHEAP_STATS='loud' is not valid (accepted: 0|1|text|json); using '0'\n",
             GLASSHEAP_POLICY_NAMES, GLASSHEAP_POLICY_DEFAULT);
    assert_string_equal(err.text, want);
}

/* ---- gh_config_load: the real environment -------------------------------- */

static void test_load_environment(void **state)
{
    (void)state;
    static const char *const all[] = { "GLASSHEAP_POLICY", "GLASSHEAP_MMAP_THRESHOLD", "GLASSHEAP_SHM",
                                       "GLASSHEAP_STATS", "GLASSHEAP_STATS_FILE", "GLASSHEAP_TRACE" };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        unsetenv(all[i]);
    struct gh_config c;
    struct capture err;
    stderr_begin(&err);
    assert_int_equal(gh_config_load(&c), 0);
    stderr_end(&err);
    assert_defaults(&c);
    assert_int_equal(err.len, 0);

    setenv("GLASSHEAP_POLICY", "first", 1);
    setenv("GLASSHEAP_MMAP_THRESHOLD", "64K", 1);
    setenv("GLASSHEAP_STATS", "bad", 1);
    stderr_begin(&err);
    assert_int_equal(gh_config_load(&c), 1);
    stderr_end(&err);
    assert_string_equal(c.policy, "first");
    assert_int_equal(c.mmap_threshold, 64u << 10);
    assert_int_equal(c.stats, GH_STATS_OFF);
    expect_warning(&err, "GLASSHEAP_STATS", "bad", "0|1|text|json", "0");
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        unsetenv(all[i]);
}

/* ---- gh_config_expand_path ------------------------------------------------ */

static void test_expand_path(void **state)
{
    (void)state;
    char out[64];
    assert_true(gh_config_expand_path("a%pb", 42, out, sizeof out));
    assert_string_equal(out, "a42b");
    assert_true(gh_config_expand_path("%p.%p", 7, out, sizeof out));
    assert_string_equal(out, "7.7");
    assert_true(gh_config_expand_path("plain", 42, out, sizeof out));
    assert_string_equal(out, "plain");
    assert_true(gh_config_expand_path("x%", 42, out, sizeof out)); /* a lone % stays */
    assert_string_equal(out, "x%");
    assert_true(gh_config_expand_path("%%p", 42, out, sizeof out));
    assert_string_equal(out, "%42");
    assert_true(gh_config_expand_path("%d%s", 42, out, sizeof out));
    assert_string_equal(out, "%d%s");
    assert_true(gh_config_expand_path("", 42, out, sizeof out));
    assert_string_equal(out, "");

    /* Bounds: the result and its NUL must fit outlen. */
    assert_true(gh_config_expand_path("abc", 1, out, 4));
    assert_string_equal(out, "abc");
    assert_false(gh_config_expand_path("abcd", 1, out, 4));
    assert_true(gh_config_expand_path("%p", 12345, out, 6));
    assert_string_equal(out, "12345");
    assert_false(gh_config_expand_path("%p", 12345, out, 5));
    assert_false(gh_config_expand_path("a%p", 12345, out, 6));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_policy_good),
        cmocka_unit_test(test_policy_bad),
        cmocka_unit_test(test_threshold_good),
        cmocka_unit_test(test_threshold_bad),
        cmocka_unit_test(test_parse_size_limits),
        cmocka_unit_test(test_shm),
        cmocka_unit_test(test_stats_mode),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_all_good),
        cmocka_unit_test(test_several_bad),
        cmocka_unit_test(test_load_environment),
        cmocka_unit_test(test_expand_path),
    };
    return cmocka_run_group_tests_name("core_config", tests, NULL, NULL);
}
