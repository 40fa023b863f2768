/*
 * test_common_alloc.c - failure injection counts allocations as fp_alloc.h says, and reaches
 * jansson: fpcommon routes jansson's allocations through fp_malloc at process start, so a
 * parse or a build made to fail returns NULL cleanly (ASan checks that nothing leaks on the
 * way) and the next attempt, without injection, succeeds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fp_alloc.h"
#include "fp_buf.h"
#include "fp_json.h"

static void test_fail_after_counts(void **state)
{
    void *p[3];
    (void)state;

    fp_alloc_fail_after(2);
    p[0] = fp_malloc(8);
    p[1] = fp_calloc(2, 8);
    p[2] = fp_strdup("x");
    assert_non_null(p[0]);
    assert_non_null(p[1]);
    assert_null(p[2]);
    assert_null(fp_realloc(NULL, 8)); /* and every later one */
    fp_alloc_fail_after(-1);
    p[2] = fp_malloc(8);
    assert_non_null(p[2]);
    for (int i = 0; i < 3; i++)
        fp_free(p[i]);
}

static void test_jansson_uses_fp_alloc(void **state)
{
    json_malloc_t m = NULL;
    json_free_t f = NULL;
    json_error_t err;
    (void)state;

    json_get_alloc_funcs(&m, &f);
    assert_ptr_equal(m, fp_malloc);
    assert_ptr_equal(f, fp_free);

    fp_alloc_fail_after(0);
    assert_null(json_object());
    assert_null(json_string("x"));
    assert_null(json_loads("{\"a\":[1,2]}", 0, &err));
    fp_alloc_fail_after(-1);
    json_t *v = json_loads("{\"a\":[1,2]}", 0, &err);
    assert_non_null(v);
    json_decref(v);
}

/* Each allocation of a parse failing in turn: NULL each time, never a crash or a half-built
 * tree; once the injection passes the last allocation, the whole document. */
static void test_jansson_parse_every_failure(void **state)
{
    const char *text = "{\"name\":\"press-1\",\"labels\":{\"line\":\"4\",\"site\":\"Graz\"},"
                       "\"points\":[{\"n\":\"t\",\"v\":21.5},{\"n\":\"p\",\"v\":1013}]}";
    int failed = 0;
    bool done = false;
    (void)state;

    for (long n = 0; n < 500 && !done; n++) {
        json_error_t err;
        fp_alloc_fail_after(n);
        json_t *v = json_loads(text, 0, &err);
        fp_alloc_fail_after(-1);
        if (!v) {
            failed++;
            continue;
        }
        fp_buf b;
        fp_buf_init(&b, 4096);
        assert_int_equal(fp_json_dump_compact(&b, v), FP_OK);
        assert_string_equal(b.data, text);
        fp_buf_clear(&b);
        json_decref(v);
        done = true;
    }
    assert_true(done);
    assert_true(failed > 10); /* every value, key and container of the document allocates */
}

/* Building a value with json_pack and json_object_set_new when allocation fails: the NULL
 * each returns is handled (set_new takes and frees its value even when it fails), so the
 * caller's check of the result is all it needs. */
static void test_jansson_build_every_failure(void **state)
{
    bool done = false;
    (void)state;

    for (long n = 0; n < 200 && !done; n++) {
        fp_alloc_fail_after(n);
        json_t *o = json_pack("{s:s,s:[i,i]}", "kind", "Asset", "v", 1, 2);
        int rc = o ? json_object_set_new(o, "extra", json_string("yes")) : -1;
        fp_alloc_fail_after(-1);
        if (o && rc == 0) {
            assert_string_equal(json_string_value(json_object_get(o, "extra")), "yes");
            assert_int_equal(json_array_size(json_object_get(o, "v")), 2);
            done = true;
        }
        json_decref(o);
    }
    assert_true(done);
}

/* fp_buf_append_pct: unreserved bytes as they are, every other byte as %XX (upper case), UTF-8
 * byte by byte; a buffer at its maximum fails as any append does. */
static void test_buf_append_pct(void **state)
{
    (void)state;
    fp_buf b;
    fp_buf_init(&b, 64);
    assert_int_equal(fp_buf_append_pct(&b, "a-Z_0.~"), FP_OK);
    assert_int_equal(fp_buf_append_pct(&b, " /?&=%#\xc3\xa9"), FP_OK);
    assert_string_equal(b.data, "a-Z_0.~%20%2F%3F%26%3D%25%23%C3%A9");
    fp_buf_clear(&b);
    fp_buf_init(&b, 8);
    assert_int_equal(fp_buf_append_pct(&b, "////"), FP_ERR_TOO_LARGE);
    assert_int_equal(b.err, FP_ERR_TOO_LARGE);
    fp_buf_clear(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fail_after_counts),
        cmocka_unit_test(test_jansson_uses_fp_alloc),
        cmocka_unit_test(test_jansson_parse_every_failure),
        cmocka_unit_test(test_jansson_build_every_failure),
        cmocka_unit_test(test_buf_append_pct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
