/*
 * test_modbus_point.c - the Modbus connector's parsers: data sources in both spellings,
 * types and orders, the bad input a user writes (address out of range, a type longer than
 * the registers left, an odd byte order, a float in a coil), and endpoint addresses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mb_point.h"

static char err[512];

/* Parse with defaults (no type, ABCD, no length, no bit, scale 1). */
static int parse(const char *src, const char *type, mb_point *p)
{
    err[0] = '\0';
    return mb_point_parse(src, type, NULL, 0, -1, 1.0, 0.0, p, err, sizeof err);
}

static void test_short_forms(void **state)
{
    mb_point p;
    (void)state;
    assert_int_equal(parse("hr:0", NULL, &p), 0);
    assert_int_equal(p.table, MB_HOLDING);
    assert_int_equal(p.address, 0);
    assert_int_equal(p.type, MB_T_UINT16);
    assert_int_equal(p.count, 1);
    assert_int_equal(parse("ir:0x10", NULL, &p), 0);
    assert_int_equal(p.table, MB_INPUT_REGISTERS);
    assert_int_equal(p.address, 16);
    assert_int_equal(parse("COIL:7", NULL, &p), 0);
    assert_int_equal(p.table, MB_COILS);
    assert_int_equal(p.type, MB_T_BOOL);
    assert_int_equal(parse("di:65535", NULL, &p), 0);
    assert_int_equal(p.table, MB_DISCRETE_INPUTS);
    assert_int_equal(p.address, 65535);
}

static void test_modicon_forms(void **state)
{
    mb_point p;
    (void)state;
    assert_int_equal(parse("holding:40001", NULL, &p), 0);
    assert_int_equal(p.table, MB_HOLDING);
    assert_int_equal(p.address, 0);
    assert_int_equal(parse("holding:49999", NULL, &p), 0);
    assert_int_equal(p.address, 9998);
    assert_int_equal(parse("holding:465536", NULL, &p), 0);
    assert_int_equal(p.address, 65535);
    assert_int_equal(parse("input:30010", NULL, &p), 0);
    assert_int_equal(p.table, MB_INPUT_REGISTERS);
    assert_int_equal(p.address, 9);
    assert_int_equal(parse("discrete:10001", NULL, &p), 0);
    assert_int_equal(p.table, MB_DISCRETE_INPUTS);
    assert_int_equal(parse("coils:00002", NULL, &p), 0);
    assert_int_equal(p.table, MB_COILS);
    assert_int_equal(p.address, 1);
    /* The digit names the table; a reference is 1-based. */
    assert_int_equal(parse("holding:30001", NULL, &p), -1);
    assert_non_null(strstr(err, "40001..49999"));
    assert_int_equal(parse("holding:40000", NULL, &p), -1);
    assert_int_equal(parse("holding:465537", NULL, &p), -1);
    assert_int_equal(parse("holding:4001", NULL, &p), -1);
    assert_int_equal(parse("holding:1", NULL, &p), -1);
    assert_non_null(strstr(err, "hr:N"));
}

static void test_bad_sources(void **state)
{
    mb_point p;
    (void)state;
    assert_int_equal(parse("40001", NULL, &p), -1);
    assert_non_null(strstr(err, "no table"));
    assert_int_equal(parse("xx:1", NULL, &p), -1);
    assert_non_null(strstr(err, "\"xx\" is unknown"));
    assert_int_equal(parse("hr:65536", NULL, &p), -1);
    assert_non_null(strstr(err, "0..65535"));
    assert_int_equal(parse("hr:-1", NULL, &p), -1);
    assert_int_equal(parse("hr: 1", NULL, &p), -1);
    assert_int_equal(parse("hr:", NULL, &p), -1);
    assert_int_equal(parse("hr:0x", NULL, &p), -1);
    assert_int_equal(parse("hr:0x10000", NULL, &p), -1);
    assert_int_equal(parse("hr:1.16", NULL, &p), -1);
    assert_int_equal(parse("coil:1.2", NULL, &p), -1);
    assert_non_null(strstr(err, "one bit"));
}

static void test_types(void **state)
{
    static const struct {
        const char *type;
        unsigned regs;
    } cases[] = {{"bool", 1},  {"int16", 1},  {"UINT16", 1},  {"int32", 2},  {"uint32", 2},
                 {"int64", 4}, {"uint64", 4}, {"float32", 2}, {"float64", 4}};
    mb_point p;
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(parse("hr:100", cases[i].type, &p), 0);
        assert_int_equal(p.count, cases[i].regs);
    }
    assert_int_equal(parse("hr:100", "double", &p), -1);
    assert_non_null(strstr(err, "\"double\" is unknown"));
    assert_int_equal(parse("coil:1", "float32", &p), -1);
    assert_non_null(strstr(err, "holds one bit"));
    assert_int_equal(parse("di:1", "bool", &p), 0);
}

static void test_strings_and_bits(void **state)
{
    mb_point p;
    (void)state;
    assert_int_equal(mb_point_parse("hr:10", "string", NULL, 8, -1, 1, 0, &p, err, sizeof err), 0);
    assert_int_equal(p.count, 8);
    assert_int_equal(mb_point_parse("hr:10", "string", NULL, 0, -1, 1, 0, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "length"));
    assert_int_equal(mb_point_parse("hr:10", "string", NULL, 126, -1, 1, 0, &p, err, sizeof err),
                     -1);
    assert_int_equal(mb_point_parse("hr:10.3", NULL, NULL, 0, -1, 1, 0, &p, err, sizeof err), 0);
    assert_int_equal(p.type, MB_T_BIT);
    assert_int_equal(p.bit, 3);
    assert_int_equal(mb_point_parse("hr:10", "bit", NULL, 0, 15, 1, 0, &p, err, sizeof err), 0);
    assert_int_equal(p.bit, 15);
    assert_int_equal(mb_point_parse("hr:10", "bit", NULL, 0, -1, 1, 0, &p, err, sizeof err), -1);
    assert_int_equal(mb_point_parse("hr:10.3", "bit", NULL, 0, 4, 1, 0, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "disagrees"));
    assert_int_equal(mb_point_parse("hr:10.3", "int16", NULL, 0, -1, 1, 0, &p, err, sizeof err),
                     -1);
}

static void test_end_of_table(void **state)
{
    mb_point p;
    (void)state;
    assert_int_equal(parse("hr:65535", "uint16", &p), 0);
    assert_int_equal(parse("hr:65534", "float32", &p), 0);
    assert_int_equal(parse("hr:65535", "float32", &p), -1);
    assert_string_equal(err, "hr:65535 float32 needs 2 registers, only 1 left before the end of "
                             "the table at 65535");
    assert_int_equal(parse("ir:65533", "int64", &p), -1);
    assert_int_equal(mb_point_parse("hr:65500", "string", NULL, 40, -1, 1, 0, &p, err, sizeof err),
                     -1);
}

static void test_orders_and_scale(void **state)
{
    mb_point p;
    (void)state;
    const char *ok[] = {"ABCD", "CDAB", "BADC", "DCBA", "cdab"};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(mb_point_parse("hr:0", "float32", ok[i], 0, -1, 1, 0, &p, err, sizeof err),
                         0);
    assert_int_equal(p.order, MB_CDAB);
    assert_int_equal(mb_point_parse("hr:0", "float32", "ACBD", 0, -1, 1, 0, &p, err, sizeof err),
                     -1);
    assert_string_equal(err,
                        "order \"ACBD\" is not a byte order: expected ABCD, CDAB, BADC or DCBA");
    assert_int_equal(mb_point_parse("hr:0", "int16", NULL, 0, -1, 0, 0, &p, err, sizeof err), -1);
    assert_int_equal(mb_point_parse("hr:0", "int16", NULL, 0, -1, 0.1, -40, &p, err, sizeof err),
                     0);
    assert_true(p.scale == 0.1 && p.offset == -40);
}

static void test_addresses(void **state)
{
    mb_address a;
    (void)state;
    assert_int_equal(mb_address_parse("modbus-tcp://10.0.0.5:1502", &a, err, sizeof err), 0);
    assert_false(a.rtu);
    assert_string_equal(a.host, "10.0.0.5");
    assert_int_equal(a.port, 1502);
    assert_int_equal(mb_address_parse("modbus-tcp://plc.local", &a, err, sizeof err), 0);
    assert_int_equal(a.port, 502);
    assert_int_equal(mb_address_parse("modbus-tcp://[::1]:5020/", &a, err, sizeof err), 0);
    assert_string_equal(a.host, "::1");
    assert_int_equal(a.port, 5020);
    assert_int_equal(mb_address_parse("modbus-rtu:///dev/ttyUSB0?baud=9600&parity=N&data=7&stop=2",
                                      &a, err, sizeof err),
                     0);
    assert_true(a.rtu);
    assert_string_equal(a.device, "/dev/ttyUSB0");
    assert_int_equal(a.baud, 9600);
    assert_int_equal(a.parity, 'N');
    assert_int_equal(a.data_bits, 7);
    assert_int_equal(a.stop_bits, 2);
    assert_int_equal(mb_address_parse("modbus-rtu:///dev/ttyS1", &a, err, sizeof err), 0);
    assert_int_equal(a.baud, 19200);
    assert_int_equal(a.parity, 'E');

    assert_int_equal(mb_address_parse("tcp://10.0.0.5:502", &a, err, sizeof err), -1);
    assert_int_equal(mb_address_parse("modbus-tcp://:502", &a, err, sizeof err), -1);
    assert_int_equal(mb_address_parse("modbus-tcp://h:0", &a, err, sizeof err), -1);
    assert_int_equal(mb_address_parse("modbus-tcp://h:70000", &a, err, sizeof err), -1);
    assert_int_equal(mb_address_parse("modbus-tcp://h:502/x", &a, err, sizeof err), -1);
    assert_int_equal(mb_address_parse("modbus-rtu://", &a, err, sizeof err), -1);
    assert_int_equal(mb_address_parse("modbus-rtu:///dev/x?parity=X", &a, err, sizeof err), -1);
    assert_int_equal(mb_address_parse("modbus-rtu:///dev/x?speed=1", &a, err, sizeof err), -1);
    assert_non_null(strstr(err, "speed"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_forms),      cmocka_unit_test(test_modicon_forms),
        cmocka_unit_test(test_bad_sources),      cmocka_unit_test(test_types),
        cmocka_unit_test(test_strings_and_bits), cmocka_unit_test(test_end_of_table),
        cmocka_unit_test(test_orders_and_scale), cmocka_unit_test(test_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
