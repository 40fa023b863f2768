/*
 * test_connector_payload.c - the payload builder and the one JSON string escaper: names and
 * strings with quotes, backslashes, control characters and bytes that are not UTF-8 always
 * make valid JSON that reads back as the text (invalid bytes as U+FFFD); numbers read back
 * the same; non-finite reals are null; a builder over its limit fails as a whole and never
 * hands out a cut message; fp_json_quote tells how much room it needs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include <math.h>
#include <string.h>

#include "../../lib/connector/rt_internal.h"
#include "fp_json.h"

static json_t *parse(fp_payload *p)
{
    size_t len;
    const char *t = fp_payload_text(p, &len);
    assert_non_null(t);
    assert_int_equal(strlen(t), len);
    json_error_t e;
    json_t *doc = json_loadb(t, len, JSON_ALLOW_NUL, &e);
    if (!doc)
        fail_msg("not JSON: %s (%s)", t, e.text);
    return doc;
}

static void test_hostile_names_and_strings(void **state)
{
    (void)state;
    fp_payload *p = fp_payload_new(0);
    assert_non_null(p);
    const char *names[] = {"temp \"inner\"", "back\\slash", "tab\there", "nl\nx",
                           "\x01\x1f",       "caf\xc3\xa9", ""};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        assert_int_equal(fp_payload_add_int(p, names[i], (int64_t)i), 0);
    /* a lone continuation byte, an overlong '/', a surrogate: each becomes U+FFFD */
    assert_int_equal(fp_payload_add_string(p, "bad",
                                           "a\x80"
                                           "b\xc0\xaf"
                                           "c\xed\xa0\x80",
                                           9),
                     0);
    assert_int_equal(fp_payload_add_string(p, "nul", "x\0y", 3), 0);
    assert_int_equal(fp_payload_count(p), 9);
    json_t *doc = parse(p);
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        assert_int_equal(json_integer_value(json_object_get(doc, names[i])), (json_int_t)i);
    json_t *nul = json_object_get(doc, "nul");
    assert_int_equal(json_string_length(nul), 3);
    assert_memory_equal(json_string_value(nul), "x\0y", 3);
    assert_string_equal(json_string_value(json_object_get(doc, "bad")), "a\xef\xbf\xbd"
                                                                        "b\xef\xbf\xbd\xef\xbf\xbd"
                                                                        "c\xef\xbf\xbd\xef\xbf\xbd"
                                                                        "\xef\xbf\xbd");
    /* members keep their order */
    const char *t = fp_payload_text(p, NULL);
    assert_true(strstr(t, "\"temp \\\"inner\\\"\":0") == t + 1);
    json_decref(doc);
    fp_payload_free(p);
}

static void test_numbers_and_values(void **state)
{
    (void)state;
    fp_payload *p = fp_payload_new(0);
    fp_payload_add_int(p, "min", INT64_MIN);
    fp_payload_add_double(p, "d", 21.1);
    fp_payload_add_double(p, "tiny", 5e-324);
    fp_payload_add_double(p, "nan", NAN);
    fp_payload_add_double(p, "inf", -INFINITY);
    fp_payload_add_bool(p, "b", true);
    fp_payload_add_null(p, "z");
    json_t *v = json_pack("{s:[i,s]}", "k", 1, "two");
    fp_payload_add_json(p, "obj", v);
    json_decref(v);
    fp_payload_add_raw(p, "raw", "[1,2]", 5);
    size_t len;
    const char *t = fp_payload_text(p, &len);
    assert_non_null(t);
    assert_non_null(strstr(t, "\"d\":21.1,")); /* the shortest form, not 21.100000000000001 */
    json_t *doc = parse(p);
    assert_int_equal(json_integer_value(json_object_get(doc, "min")), INT64_MIN);
    assert_true(json_real_value(json_object_get(doc, "tiny")) == 5e-324);
    assert_true(json_is_null(json_object_get(doc, "nan")));
    assert_true(json_is_null(json_object_get(doc, "inf")));
    assert_true(json_is_true(json_object_get(doc, "b")));
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(json_object_get(doc, "obj"), "k"), 1)),
        "two");
    assert_int_equal(json_array_size(json_object_get(doc, "raw")), 2);
    json_decref(doc);
    /* text taken, then more members: the object is reopened */
    assert_int_equal(fp_payload_add_int(p, "late", 7), 0);
    doc = parse(p);
    assert_int_equal(json_integer_value(json_object_get(doc, "late")), 7);
    json_decref(doc);
    /* reset: an empty object again */
    fp_payload_reset(p);
    assert_string_equal(fp_payload_text(p, NULL), "{}");
    fp_payload_free(p);
}

static void test_limit_fails_as_a_whole(void **state)
{
    (void)state;
    fp_payload *p = fp_payload_new(32);
    assert_int_equal(fp_payload_add_int(p, "a", 1), 0);
    assert_int_equal(
        fp_payload_add_string(p, "long", "0123456789012345678901234567890", (size_t)-1), -1);
    assert_int_equal(fp_payload_add_int(p, "b", 2), -1); /* failed stays failed */
    assert_null(fp_payload_text(p, NULL));
    assert_int_equal(fp_dataset_publish_payload(NULL, p, NULL), -1);
    fp_payload_reset(p); /* clears the failure */
    assert_int_equal(fp_payload_add_int(p, "a", 1), 0);
    assert_string_equal(fp_payload_text(p, NULL), "{\"a\":1}");
    fp_payload_free(p);
    fp_payload_free(NULL);
}

static void test_json_quote(void **state)
{
    (void)state;
    char out[8];
    size_t need = fp_json_quote(out, sizeof out, "a\"b", (size_t)-1);
    assert_int_equal(need, 6); /* "a\"b" */
    assert_string_equal(out, "\"a\\\"b\"");
    need = fp_json_quote(out, sizeof out, "\x01\x02", 2);
    assert_int_equal(need, 14); /* two \u00XX escapes and the quotes: too long for 8 */
    char big[32];
    assert_int_equal(fp_json_quote(big, sizeof big, "\x01\x02", 2), 14);
    assert_string_equal(big, "\"\\u0001\\u0002\"");
    /* the same escaper behind fp_json_quote_buf */
    fp_buf b;
    fp_buf_init(&b, 64);
    assert_int_equal(fp_json_quote_buf(&b, "q\"\n", 3), FP_OK);
    assert_string_equal(b.data, "\"q\\\"\\n\"");
    fp_buf_clear(&b);
}

/* fp_real_text: the one number formatter; the shortest text that reads back the same. */
static void test_real_text(void **state)
{
    (void)state;
    char t[FP_REAL_TEXT_LEN];
    const struct {
        double v;
        bool is_float;
        const char *want;
    } cases[] = {
        {21.1, false, "21.1"},
        {0.1, false, "0.1"},
        {-3, false, "-3"},
        {1e100, false, "1e+100"},
        {-0.0, false, "-0"},
        {0.1f, true, "0.1"},
        {16777217.0, true, "16777216"},
        {1.0 / 3, false, "0.3333333333333333"},
        {NAN, false, "NaN"},
        {-INFINITY, true, "-Infinity"},
        {1e15, false, "1e+15"},
        {123456, true, "123456"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n =
            fp_real_text(t, cases[i].is_float ? (float)cases[i].v : cases[i].v, cases[i].is_float);
        assert_string_equal(t, cases[i].want);
        assert_int_equal(n, strlen(cases[i].want));
    }
    /* Every double reads back: a few thousand of awkward ones. */
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 5000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double d;
        memcpy(&d, &x, sizeof d);
        if (!isfinite(d))
            continue;
        fp_real_text(t, d, false);
        assert_true(strtod(t, NULL) == d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_names_and_strings),
        cmocka_unit_test(test_numbers_and_values),
        cmocka_unit_test(test_limit_fails_as_a_whole),
        cmocka_unit_test(test_json_quote),
        cmocka_unit_test(test_real_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
