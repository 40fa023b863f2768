/*
 * test_common_status.c - fp_choices_text: the accepted values of a configuration row as a
 * message names them, and cut (never overrun) when the buffer is small.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <string.h>

#include "fp_status.h"

static void test_choices_text(void **state)
{
    static const char *const three[] = {"auto", "basic", "bearer", NULL};
    static const char *const two[] = {"none", "sign", NULL};
    static const char *const one[] = {"only", NULL};
    static const char *const none[] = {NULL};
    char out[64];

    (void)state;
    fp_choices_text(three, out, sizeof out);
    assert_string_equal(out, "\"auto\", \"basic\" or \"bearer\"");
    fp_choices_text(two, out, sizeof out);
    assert_string_equal(out, "\"none\" or \"sign\"");
    fp_choices_text(one, out, sizeof out);
    assert_string_equal(out, "\"only\"");
    fp_choices_text(none, out, sizeof out);
    assert_string_equal(out, "");
    fp_choices_text(NULL, out, sizeof out);
    assert_string_equal(out, "");
}

/* A buffer too small for the list gets a NUL-terminated prefix and nothing past its end. */
static void test_choices_text_cut(void **state)
{
    static const char *const three[] = {"auto", "basic", "bearer", NULL};
    char out[16];

    (void)state;
    memset(out, 'x', sizeof out);
    fp_choices_text(three, out, 10);
    assert_int_equal(strlen(out), 9);
    assert_memory_equal(out, "\"auto\", \"", 9);
    assert_int_equal(out[10], 'x');
    fp_choices_text(three, NULL, 10); /* no buffer: nothing written, no crash */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_choices_text),
        cmocka_unit_test(test_choices_text_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
