/*
 * test_registry_etag.c - ETag formatting and If-Match / If-None-Match lists.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "etag.h"

static void test_format(void **state)
{
    char e[32];
    fp_etag_format(1234, e, sizeof e);
    assert_string_equal(e, "\"1234\"");
}

static void test_if_match(void **state)
{
    const char *e = "\"12\"";
    assert_true(fp_etag_if_match("\"12\"", e, true));
    assert_true(fp_etag_if_match(" \"7\", \"12\" ", e, true));
    assert_true(fp_etag_if_match("*", e, true));
    assert_false(fp_etag_if_match("*", e, false));
    assert_false(fp_etag_if_match("\"123\"", e, true));
    assert_false(fp_etag_if_match("\"1\"", e, true));
    assert_false(fp_etag_if_match("W/\"12\"", e, true)); /* strong comparison */
    assert_false(fp_etag_if_match("12", e, true));       /* unquoted: malformed */
    assert_false(fp_etag_if_match("\"12", e, true));
    assert_false(fp_etag_if_match("", e, true));
    assert_false(fp_etag_if_match("\"12\"", e, false));
}

static void test_if_none_match(void **state)
{
    const char *e = "\"12\"";
    assert_true(fp_etag_if_none_match_fails("*", e, true));
    assert_false(fp_etag_if_none_match_fails("*", e, false));
    assert_true(fp_etag_if_none_match_fails("W/\"12\"", e, true)); /* weak comparison */
    assert_true(fp_etag_if_none_match_fails("\"3\", \"12\"", e, true));
    assert_false(fp_etag_if_none_match_fails("\"3\"", e, true));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_if_match),
        cmocka_unit_test(test_if_none_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
