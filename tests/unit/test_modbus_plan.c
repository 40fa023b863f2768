/*
 * test_modbus_plan.c - grouping a dataset's points into Modbus read requests: the worst
 * cases of the issue (scattered addresses, gaps exactly at the limit and one past it,
 * requests exactly at 125 registers / 2000 bits and one past, mixed tables and units,
 * overlapping points), and that every point is served by exactly one request that covers it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mb_plan.h"

static const mb_limits k_default = {125, 2000, 8, 64};

/* Every span is a member of exactly one request, which covers it within the limits. */
static void check_plan(const mb_span *s, size_t n, const mb_limits *lim, const mb_plan *p)
{
    int *seen = calloc(n ? n : 1, sizeof *seen);
    assert_int_equal(p->n_members, n);
    for (size_t r = 0; r < p->n_reqs; r++) {
        const mb_request *q = &p->reqs[r];
        bool bits = mb_table_is_bits(q->table);
        assert_true(q->count <= (bits ? lim->max_bits : lim->max_regs) || q->n == 1);
        for (size_t k = q->first; k < q->first + q->n; k++) {
            const mb_span *x = &s[p->members[k]];
            seen[p->members[k]]++;
            assert_int_equal(x->table, q->table);
            assert_int_equal(x->unit, q->unit);
            assert_true(x->address >= q->address);
            assert_true((unsigned)x->address + x->count <= (unsigned)q->address + q->count);
        }
    }
    for (size_t i = 0; i < n; i++)
        assert_int_equal(seen[i], 1);
    free(seen);
}

static mb_plan build(const mb_span *s, size_t n, const mb_limits *lim)
{
    mb_plan p;
    assert_int_equal(mb_plan_build(s, n, lim, &p), 0);
    check_plan(s, n, lim, &p);
    return p;
}

static void test_empty(void **state)
{
    mb_plan p;
    (void)state;
    assert_int_equal(mb_plan_build(NULL, 0, &k_default, &p), 0);
    assert_int_equal(p.n_reqs, 0);
    mb_plan_clear(&p);
}

static void test_contiguous_one_request(void **state)
{
    /* 500 float32 points are 1000 registers: 9 requests of at most 125 registers (62 whole
     * points, 124 registers, each), not 500. */
    mb_span s[500];
    (void)state;
    for (size_t i = 0; i < 500; i++)
        s[i] = (mb_span){1, MB_HOLDING, (uint16_t)(2 * i), 2};
    mb_plan p = build(s, 500, &k_default);
    assert_int_equal(p.n_reqs, 9);
    assert_int_equal(p.reqs[0].address, 0);
    assert_int_equal(p.reqs[0].count, 124);
    mb_plan_clear(&p);
}

static void test_gap_at_limit(void **state)
{
    /* A hole of exactly 8 registers is bridged; 9 is not. */
    mb_span s[] = {{1, MB_HOLDING, 0, 1}, {1, MB_HOLDING, 9, 1}, {1, MB_HOLDING, 19, 1}};
    (void)state;
    mb_plan p = build(s, 3, &k_default);
    assert_int_equal(p.n_reqs, 2);
    assert_int_equal(p.reqs[0].address, 0);
    assert_int_equal(p.reqs[0].count, 10);
    assert_int_equal(p.reqs[1].address, 19);
    mb_plan_clear(&p);
    mb_limits none = k_default;
    none.gap_regs = 0;
    mb_span t[] = {{1, MB_HOLDING, 0, 2}, {1, MB_HOLDING, 2, 2}, {1, MB_HOLDING, 5, 1}};
    p = build(t, 3, &none);
    assert_int_equal(p.n_reqs, 2); /* adjacent joins, a hole of one does not */
    mb_plan_clear(&p);
}

static void test_size_at_limit(void **state)
{
    /* Exactly 125 registers in one request; one more register starts another. */
    mb_span s[] = {{1, MB_HOLDING, 0, 1}, {1, MB_HOLDING, 124, 1}, {1, MB_HOLDING, 125, 1}};
    mb_span b[] = {{1, MB_COILS, 0, 1}, {1, MB_COILS, 1999, 1}, {1, MB_COILS, 2000, 1}};
    mb_limits wide = {125, 2000, 124, 1999};
    (void)state;
    mb_plan p = build(s, 2, &wide);
    assert_int_equal(p.n_reqs, 1);
    assert_int_equal(p.reqs[0].count, 125);
    mb_plan_clear(&p);
    p = build(s, 3, &wide);
    assert_int_equal(p.n_reqs, 2);
    mb_plan_clear(&p);
    p = build(b, 2, &wide);
    assert_int_equal(p.n_reqs, 1);
    assert_int_equal(p.reqs[0].count, 2000);
    mb_plan_clear(&p);
    p = build(b, 3, &wide);
    assert_int_equal(p.n_reqs, 2);
    mb_plan_clear(&p);
    /* A span that would straddle the limit is not split: it starts the next request. */
    mb_span f[] = {{1, MB_HOLDING, 0, 2}, {1, MB_HOLDING, 123, 4}};
    p = build(f, 2, &wide);
    assert_int_equal(p.n_reqs, 2);
    mb_plan_clear(&p);
}

static void test_scattered(void **state)
{
    /* Addresses far apart, in random order: one request each, sorted. */
    mb_span s[64];
    (void)state;
    for (size_t i = 0; i < 64; i++)
        s[i] = (mb_span){1, MB_HOLDING, (uint16_t)((i * 7919) % 64 * 1000), 2};
    mb_plan p = build(s, 64, &k_default);
    assert_int_equal(p.n_reqs, 64);
    for (size_t r = 1; r < p.n_reqs; r++)
        assert_true(p.reqs[r].address > p.reqs[r - 1].address);
    mb_plan_clear(&p);
}

static void test_mixed_tables_and_units(void **state)
{
    /* The same addresses in four tables and two units are eight requests. */
    mb_span s[16];
    size_t n = 0;
    (void)state;
    for (int u = 1; u <= 2; u++)
        for (int t = 0; t < MB_TABLE_COUNT; t++) {
            s[n++] = (mb_span){(uint8_t)u, (mb_table)t, 10, 1};
            s[n++] = (mb_span){(uint8_t)u, (mb_table)t, 11, 1};
        }
    mb_plan p = build(s, n, &k_default);
    assert_int_equal(p.n_reqs, 8);
    mb_plan_clear(&p);
}

static void test_overlap(void **state)
{
    /* A float32 and the bit view of its first register, and a uint16 inside an int64. */
    mb_span s[] = {{1, MB_HOLDING, 100, 2},
                   {1, MB_HOLDING, 100, 1},
                   {1, MB_HOLDING, 200, 4},
                   {1, MB_HOLDING, 202, 1}};
    (void)state;
    mb_plan p = build(s, 4, &k_default);
    assert_int_equal(p.n_reqs, 2);
    assert_int_equal(p.reqs[0].count, 2);
    assert_int_equal(p.reqs[1].count, 4);
    mb_plan_clear(&p);
}

static void test_random_invariants(void **state)
{
    /* Random spans and limits: the covering invariants always hold, and with the widest gap
     * no two neighbouring requests of one table could have been joined. */
    unsigned seed = 12345;
    (void)state;
    for (int round = 0; round < 200; round++) {
        size_t n = 1 + (size_t)(rand_r(&seed) % 200);
        mb_span *s = calloc(n, sizeof *s);
        mb_limits lim = {(uint16_t)(1 + rand_r(&seed) % 125), (uint16_t)(1 + rand_r(&seed) % 2000),
                         (uint16_t)(rand_r(&seed) % 20), (uint16_t)(rand_r(&seed) % 100)};
        for (size_t i = 0; i < n; i++) {
            mb_table t = (mb_table)(rand_r(&seed) % MB_TABLE_COUNT);
            uint16_t c = mb_table_is_bits(t) ? 1 : (uint16_t)(1 + rand_r(&seed) % 4);
            if (!mb_table_is_bits(t) && c > lim.max_regs)
                c = lim.max_regs;
            s[i] =
                (mb_span){(uint8_t)(1 + rand_r(&seed) % 2), t, (uint16_t)(rand_r(&seed) % 3000), c};
        }
        mb_plan p = build(s, n, &lim);
        for (size_t r = 1; r < p.n_reqs; r++) {
            const mb_request *a = &p.reqs[r - 1], *b = &p.reqs[r];
            if (a->unit != b->unit || a->table != b->table)
                continue;
            bool bits = mb_table_is_bits(a->table);
            unsigned gap = bits ? lim.gap_bits : lim.gap_regs;
            unsigned max = bits ? lim.max_bits : lim.max_regs;
            /* b was not joined: it starts beyond the gap or would overflow the limit. */
            assert_true(b->address > (unsigned)a->address + a->count + gap ||
                        (unsigned)b->address + p.reqs[r].count - a->address > max ||
                        (unsigned)s[p.members[b->first]].address + s[p.members[b->first]].count -
                                a->address >
                            max);
        }
        mb_plan_clear(&p);
        free(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),        cmocka_unit_test(test_contiguous_one_request),
        cmocka_unit_test(test_gap_at_limit), cmocka_unit_test(test_size_at_limit),
        cmocka_unit_test(test_scattered),    cmocka_unit_test(test_mixed_tables_and_units),
        cmocka_unit_test(test_overlap),      cmocka_unit_test(test_random_invariants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
