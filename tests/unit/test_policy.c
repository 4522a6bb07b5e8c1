/* test_policy.c - the policy table.
 *
 * Proves: every name GLASSHEAP_POLICIES lists (include/glassheap/policies.h)
 * resolves to its own line of the table, in that order and no other, with
 * the right discipline (buddy for buddy, fit for the rest) and, for the fit
 * policies, the index order DESIGN.md gives (address for first and next,
 * size for best and worst); GLASSHEAP_POLICY_NAMES, _COUNT and _DEFAULT
 * agree with the list; a heap set up by name runs its line's discipline and
 * index order; unknown names (wrong case, prefixes, empty) resolve to
 * nothing and set up no heap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "unit_util.h"

#define NAME_STR(name) #name,
static const char *const names[] = { GLASSHEAP_POLICIES(NAME_STR) };
#undef NAME_STR
#define LINE_PTR(name) &gh_policy_##name,
static const struct gh_policy_ops *const lines[] = { GLASSHEAP_POLICIES(LINE_PTR) };
#undef LINE_PTR
#define N_NAMES (sizeof names / sizeof names[0])

static void test_every_name_resolves(void **state)
{
    (void)state;
    assert_int_equal(N_NAMES, GLASSHEAP_POLICY_COUNT);
    char joined[128] = "";
    for (size_t i = 0; i < N_NAMES; i++) {
        const struct gh_policy_ops *e = gh_policy_by_name(names[i]);
        assert_ptr_equal(e, lines[i]);
        assert_string_equal(e->name, names[i]);
        assert_non_null(e->discipline);
        assert_true(gh_heap_policy_exists(names[i]));
        for (size_t j = 0; j < i; j++)
            assert_ptr_not_equal(lines[j], e);
        if (i)
            strcat(joined, "|");
        strcat(joined, names[i]);
    }
    assert_string_equal(joined, GLASSHEAP_POLICY_NAMES);
    assert_non_null(gh_policy_by_name(GLASSHEAP_POLICY_DEFAULT));
}

static void test_discipline_and_order(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const struct gh_discipline *d;
        enum gh_tree_order order;
    } want[] = {
        { "first", &gh_discipline_fit, GH_TREE_BY_ADDR },
        { "next", &gh_discipline_fit, GH_TREE_BY_ADDR },
        { "best", &gh_discipline_fit, GH_TREE_BY_SIZE },
        { "worst", &gh_discipline_fit, GH_TREE_BY_SIZE },
        { "buddy", &gh_discipline_buddy, GH_TREE_BY_ADDR /* unused */ },
    };
    assert_int_equal(sizeof want / sizeof want[0], N_NAMES);
    for (size_t i = 0; i < N_NAMES; i++) {
        const struct gh_policy_ops *e = gh_policy_by_name(want[i].name);
        assert_non_null(e);
        assert_ptr_equal(e->discipline, want[i].d);
        if (e->discipline == &gh_discipline_fit) {
            assert_int_equal(e->order, want[i].order);
            assert_non_null(e->find);
            assert_non_null(e->insert);
        } else {
            assert_null(e->find); /* no fit index */
        }
    }
}

/* A heap set up by name runs that line: its discipline, its index order,
 * its name and the discipline's block sizes. */
static void test_heap_by_name(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_NAMES; i++) {
        struct fx f;
        fx_open(&f, 16u << 20, &gh_policy_first);
        assert_true(gh_heap_init_named(&f.h, &f.src, names[i], 128u * 1024u));
        const struct gh_policy_ops *e = lines[i];
        assert_ptr_equal(f.h.entry, e);
        assert_ptr_equal(f.h.d, e->discipline);
        assert_string_equal(gh_heap_policy_name(&f.h), names[i]);
        struct gh_heap_desc d;
        gh_heap_describe(&f.h, &d);
        assert_string_equal(d.policy, names[i]);
        if (e->discipline == &gh_discipline_fit) {
            assert_int_equal(f.h.policy.tree.order, e->order);
            assert_int_equal(d.min_block, GH_MIN_BLOCK);
            assert_int_equal(d.max_order, 0);
        } else {
            assert_int_equal(d.min_block, 32);
            assert_int_equal(d.max_order, 20); /* 2^20 >= 128 KiB + header */
        }
        void *p = gh_heap_alloc(&f.h, 1000);
        assert_non_null(p);
        HEAP_OK(&f.h);
        gh_heap_free(&f.h, p, "free");
        HEAP_OK(&f.h);
        fx_close(&f);
    }
}

static void test_unknown_names(void **state)
{
    (void)state;
    static const char *const bad[] = { "", "Best", "BUDDY", "fir", "firstt", "fit", "buddy ", " best", "glibc" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_null(gh_policy_by_name(bad[i]));
        assert_false(gh_heap_policy_exists(bad[i]));
        struct gh_heap h;
        struct gh_source src;
        gh_source_init_arena(&src, NULL, 0);
        assert_false(gh_heap_init_named(&h, &src, bad[i], 0));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_name_resolves),
        cmocka_unit_test(test_discipline_and_order),
        cmocka_unit_test(test_heap_by_name),
        cmocka_unit_test(test_unknown_names),
    };
    return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
