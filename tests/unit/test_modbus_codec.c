/*
 * test_modbus_codec.c - Modbus registers to JSON and back: every type in every byte and
 * word order against registers written out by hand, scale and offset, strings, bits, the
 * raw form, and writes that encode what a read decodes (and refuse what does not fit).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mb_codec.h"

static char err[256];

static mb_point point(const char *type, const char *order, int length)
{
    mb_point p;
    assert_int_equal(mb_point_parse("hr:0", type, order, length, -1, 1.0, 0.0, &p, err, sizeof err),
                     0);
    return p;
}

/* The JSON text of p over regs. */
static const char *text(const mb_point *p, const uint16_t *regs, bool raw)
{
    static char out[1024];
    fp_buf b;
    uint8_t bit = regs[0] != 0;
    fp_buf_init(&b, 4096);
    assert_int_equal(mb_value_json(p, regs, &bit, raw, &b), FP_OK);
    snprintf(out, sizeof out, "%.*s", (int)b.len, b.data);
    fp_buf_clear(&b);
    return out;
}

static void test_orders_32(void **state)
{
    /* 0x12345678 as the four orders put it on the wire. */
    static const struct {
        const char *order;
        uint16_t regs[2];
    } cases[] = {{"ABCD", {0x1234, 0x5678}},
                 {"CDAB", {0x5678, 0x1234}},
                 {"BADC", {0x3412, 0x7856}},
                 {"DCBA", {0x7856, 0x3412}}};
    (void)state;
    for (size_t i = 0; i < 4; i++) {
        mb_point p = point("uint32", cases[i].order, 0);
        assert_string_equal(text(&p, cases[i].regs, false), "305419896");
        uint16_t back[2];
        uint8_t bit;
        json_t *v = json_integer(0x12345678);
        assert_int_equal(mb_value_encode(&p, v, back, &bit, err, sizeof err), 0);
        json_decref(v);
        assert_memory_equal(back, cases[i].regs, sizeof back);
    }
}

static void test_orders_64_and_floats(void **state)
{
    /* 1.5 as float64 is 0x3FF8000000000000; as float32 0x3FC00000. */
    uint16_t abcd[4] = {0x3FF8, 0, 0, 0}, cdab[4] = {0, 0, 0, 0x3FF8};
    uint16_t badc[4] = {0xF83F, 0, 0, 0}, dcba[4] = {0, 0, 0, 0xF83F};
    uint16_t f32[2] = {0x3FC0, 0x0000}, f32_cdab[2] = {0x0000, 0x3FC0};
    (void)state;
    mb_point p = point("float64", "ABCD", 0);
    assert_string_equal(text(&p, abcd, false), "1.5");
    p = point("float64", "CDAB", 0);
    assert_string_equal(text(&p, cdab, false), "1.5");
    p = point("float64", "BADC", 0);
    assert_string_equal(text(&p, badc, false), "1.5");
    p = point("float64", "DCBA", 0);
    assert_string_equal(text(&p, dcba, false), "1.5");
    p = point("float32", NULL, 0);
    assert_string_equal(text(&p, f32, false), "1.5");
    p = point("float32", "CDAB", 0);
    assert_string_equal(text(&p, f32_cdab, false), "1.5");
    /* 0.1f is published as 0.1, not as the double it widens to. */
    uint16_t tenth[2] = {0x3DCC, 0xCCCD};
    p = point("float32", NULL, 0);
    assert_string_equal(text(&p, tenth, false), "0.1");
    uint16_t nan[2] = {0x7FC0, 0};
    assert_string_equal(text(&p, nan, false), "null");
}

static void test_integers(void **state)
{
    uint16_t m1[4] = {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF};
    uint16_t big[4] = {0x8000, 0, 0, 0};
    (void)state;
    mb_point p = point("int16", NULL, 0);
    assert_string_equal(text(&p, m1, false), "-1");
    p = point("uint16", NULL, 0);
    assert_string_equal(text(&p, m1, false), "65535");
    p = point("int16", "BADC", 0);
    uint16_t r = 0x0180; /* 0x8001 with its bytes swapped */
    assert_string_equal(text(&p, &r, false), "-32767");
    p = point("int32", NULL, 0);
    assert_string_equal(text(&p, m1, false), "-1");
    p = point("uint32", NULL, 0);
    assert_string_equal(text(&p, m1, false), "4294967295");
    p = point("int64", NULL, 0);
    assert_string_equal(text(&p, big, false), "-9223372036854775808");
    p = point("uint64", NULL, 0);
    assert_string_equal(text(&p, m1, false), "18446744073709551615");
}

static void test_scale(void **state)
{
    uint16_t r = 215;
    mb_point p;
    (void)state;
    assert_int_equal(mb_point_parse("ir:3", "int16", NULL, 0, -1, 0.1, -40, &p, err, sizeof err),
                     0);
    assert_string_equal(text(&p, &r, false), "-18.5");
    /* A write takes the engineering value back to the raw one, rounded. */
    uint16_t back;
    uint8_t bit;
    json_t *v = json_real(-18.5);
    assert_int_equal(mb_value_encode(&p, v, &back, &bit, err, sizeof err), 0);
    assert_int_equal(back, 215);
    json_decref(v);
    v = json_real(5000.0); /* raw 50400: beyond int16 */
    assert_int_equal(mb_value_encode(&p, v, &back, &bit, err, sizeof err), -1);
    assert_non_null(strstr(err, "int16"));
    json_decref(v);
}

static void test_strings(void **state)
{
    uint16_t regs[4] = {('F' << 8) | 'i', ('e' << 8) | 'l', ('d' << 8) | 0, 0};
    uint16_t swapped[4] = {('i' << 8) | 'F', ('l' << 8) | 'e', 'd', 0};
    (void)state;
    mb_point p = point("string", NULL, 4);
    assert_string_equal(text(&p, regs, false), "\"Field\"");
    uint16_t back[4];
    uint8_t bit;
    json_t *v = json_string("Field");
    assert_int_equal(mb_value_encode(&p, v, back, &bit, err, sizeof err), 0);
    assert_memory_equal(back, regs, sizeof back);
    p = point("string", "BADC", 4);
    assert_string_equal(text(&p, swapped, false), "\"Field\"");
    assert_int_equal(mb_value_encode(&p, v, back, &bit, err, sizeof err), 0);
    assert_memory_equal(back, swapped, sizeof back);
    json_decref(v);
    v = json_string("123456789");
    assert_int_equal(mb_value_encode(&p, v, back, &bit, err, sizeof err), -1);
    json_decref(v);
    /* Quotes and bytes that are not UTF-8 still make valid JSON. */
    uint16_t odd[2] = {('"' << 8) | 0xff, 0};
    p = point("string", NULL, 2);
    assert_string_equal(text(&p, odd, false), "\"\\\"\xef\xbf\xbd\"");
}

static void test_bits_and_raw(void **state)
{
    uint16_t r = 0x0008;
    mb_point p;
    (void)state;
    assert_int_equal(mb_point_parse("hr:5.3", NULL, NULL, 0, -1, 1, 0, &p, err, sizeof err), 0);
    assert_string_equal(text(&p, &r, false), "true");
    assert_int_equal(mb_point_parse("hr:5.2", NULL, NULL, 0, -1, 1, 0, &p, err, sizeof err), 0);
    assert_string_equal(text(&p, &r, false), "false");
    p = point("uint32", NULL, 0);
    uint16_t two[2] = {1, 2};
    assert_string_equal(text(&p, two, true), "{\"Value\":65538,\"Raw\":[1,2]}");
    assert_int_equal(mb_point_parse("coil:1", NULL, NULL, 0, -1, 1, 0, &p, err, sizeof err), 0);
    uint16_t one = 1;
    assert_string_equal(text(&p, &one, true), "{\"Value\":true,\"Raw\":[1]}");
    uint8_t bit = 0;
    json_t *v = json_true();
    assert_int_equal(mb_value_encode(&p, v, &one, &bit, err, sizeof err), 0);
    assert_int_equal(bit, 1);
    json_decref(v);
    v = json_string("on");
    assert_int_equal(mb_value_encode(&p, v, &one, &bit, err, sizeof err), -1);
    json_decref(v);
}

static void test_encode_ranges(void **state)
{
    uint16_t regs[4];
    uint8_t bit;
    (void)state;
    mb_point p = point("uint16", NULL, 0);
    json_t *v = json_integer(-1);
    assert_int_equal(mb_value_encode(&p, v, regs, &bit, err, sizeof err), -1);
    json_decref(v);
    v = json_integer(65536);
    assert_int_equal(mb_value_encode(&p, v, regs, &bit, err, sizeof err), -1);
    json_decref(v);
    p = point("int64", "DCBA", 0);
    v = json_integer(INT64_MIN);
    assert_int_equal(mb_value_encode(&p, v, regs, &bit, err, sizeof err), 0);
    assert_string_equal(text(&p, regs, false), "-9223372036854775808");
    json_decref(v);
    p = point("float32", "BADC", 0);
    v = json_real(3.25);
    assert_int_equal(mb_value_encode(&p, v, regs, &bit, err, sizeof err), 0);
    assert_string_equal(text(&p, regs, false), "3.25");
    json_decref(v);
    v = json_real(1e300);
    assert_int_equal(mb_value_encode(&p, v, regs, &bit, err, sizeof err), -1);
    json_decref(v);
}

static void test_exception_names(void **state)
{
    (void)state;
    assert_string_equal(mb_exception_name(2), "IllegalDataAddress");
    assert_string_equal(mb_exception_name(11), "GatewayTargetDeviceFailedToRespond");
    assert_null(mb_exception_name(9));
    assert_null(mb_exception_name(0));
    assert_null(mb_exception_name(12));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orders_32),     cmocka_unit_test(test_orders_64_and_floats),
        cmocka_unit_test(test_integers),      cmocka_unit_test(test_scale),
        cmocka_unit_test(test_strings),       cmocka_unit_test(test_bits_and_raw),
        cmocka_unit_test(test_encode_ranges), cmocka_unit_test(test_exception_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
