/*
 * test_uaconn_json.c - unit tests of the OPC UA connector's values <-> JSON mapping
 * (connectors/opcua/opc_json.c): every built-in type in both directions, arrays and
 * matrices, decoded and opaque structures, enumerations, DataValues with and without
 * status, escapes and invalid UTF-8, range errors, non-finite numbers, 64-bit integers past
 * 2^53 and the depth bound. Every text the writer produces is parsed back with jansson, so
 * each test also proves the output is valid JSON.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fp_alloc.h"
#include "fp_json.h"
#include "opc_internal.h"
#include "opcua/ua_nodeid.h"

/* ------------------------------------------------------------------------ helpers */

/* Parse a writer output with jansson; fail the test when it is not valid JSON. */
static void assert_valid_json(const char *z, size_t len)
{
    json_error_t je;
    json_t *j = json_loadb(z, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (j == NULL)
        fail_msg("invalid JSON (%s at %d): %s", je.text, je.position, z);
    json_decref(j);
}

/* v as JSON, checked valid; the caller frees it (fp_free). */
static char *vjson(const ua_variant *v)
{
    fp_buf b;
    fp_buf_init(&b, 1 << 20);
    assert_int_equal(opc_json_variant(&b, v), FP_OK);
    assert_valid_json(b.data, b.len);
    return fp_buf_take(&b, NULL);
}

static void expect_variant(const ua_variant *v, const char *want)
{
    char *z = vjson(v);
    assert_string_equal(z, want);
    fp_free(z);
}

/* A scalar *p of type t as JSON must be `want`. */
static void expect_scalar(const void *p, const ua_type *t, const char *want)
{
    ua_variant v;
    memset(&v, 0, sizeof v);
    assert_int_equal(ua_variant_set_scalar_copy(&v, p, t), UA_STATUS_GOOD);
    expect_variant(&v, want);
    ua_variant_clear(&v);
}

static void expect_dv(const ua_data_value *dv, const char *want)
{
    fp_buf b;
    fp_buf_init(&b, 1 << 20);
    assert_int_equal(opc_json_data_value(&b, dv), FP_OK);
    assert_valid_json(b.data, b.len);
    assert_string_equal(b.data, want);
    fp_buf_clear(&b);
}

/* Parse the JSON text z, convert it to `kind`, expect success; the variant is the
 * caller's (ua_variant_clear). */
static void from_text(const char *z, uint8_t kind, bool array, ua_variant *out)
{
    char err[256];
    json_t *j = json_loads(z, JSON_DECODE_ANY, NULL);
    assert_non_null(j);
    int rc = opc_json_to_variant(j, kind, array, out, err, sizeof err);
    if (rc != 0)
        fail_msg("%s as kind %d: %s", z, kind, err);
    json_decref(j);
}

/* Convert z to `kind` and write it back: the JSON must be `want` (z itself when NULL). */
static void roundtrip(const char *z, uint8_t kind, bool array, const char *want)
{
    ua_variant v;
    from_text(z, kind, array, &v);
    assert_non_null(v.type);
    assert_int_equal(v.type->kind, kind == UA_KIND_ENUM ? UA_KIND_INT32 : kind);
    expect_variant(&v, want ? want : z);
    ua_variant_clear(&v);
}

/* Converting z to `kind` must fail with an error containing `want`. */
static void expect_error(const char *z, uint8_t kind, bool array, const char *want)
{
    char err[256];
    ua_variant v;
    json_t *j = json_loads(z, JSON_DECODE_ANY, NULL);
    assert_non_null(j);
    assert_int_equal(opc_json_to_variant(j, kind, array, &v, err, sizeof err), -1);
    assert_null(v.type);
    if (strstr(err, want) == NULL)
        fail_msg("%s as kind %d: error \"%s\" lacks \"%s\"", z, kind, err, want);
    json_t *msg = json_string(err); /* NULL unless valid UTF-8 */
    assert_non_null(msg);
    json_decref(msg);
    json_decref(j);
}

static ua_datetime dt_parse(const char *z)
{
    ua_variant v;
    char q[64];
    snprintf(q, sizeof q, "\"%s\"", z);
    from_text(q, UA_KIND_DATETIME, false, &v);
    ua_datetime t = *(ua_datetime *)ua_variant_data(&v);
    ua_variant_clear(&v);
    return t;
}

/* ------------------------------------------------------------- writer: scalars */

static void test_write_numbers(void **state)
{
    (void)state;
    bool bt = true, bf = false;
    int8_t sb = -128;
    uint8_t by = 255;
    int16_t i16 = -32768;
    uint16_t u16 = 65535;
    int32_t i32 = INT32_MIN;
    uint32_t u32 = UINT32_MAX;
    expect_scalar(&bt, UA_TYPE(BOOLEAN), "true");
    expect_scalar(&bf, UA_TYPE(BOOLEAN), "false");
    expect_scalar(&sb, UA_TYPE(SBYTE), "-128");
    expect_scalar(&by, UA_TYPE(BYTE), "255");
    expect_scalar(&i16, UA_TYPE(INT16), "-32768");
    expect_scalar(&u16, UA_TYPE(UINT16), "65535");
    expect_scalar(&i32, UA_TYPE(INT32), "-2147483648");
    expect_scalar(&u32, UA_TYPE(UINT32), "4294967295");

    /* 64-bit integers: numbers while exact in a double, strings beyond 2^53 */
    int64_t i64 = 9007199254740992LL;
    expect_scalar(&i64, UA_TYPE(INT64), "9007199254740992");
    i64 = -9007199254740992LL;
    expect_scalar(&i64, UA_TYPE(INT64), "-9007199254740992");
    i64 = 9007199254740993LL;
    expect_scalar(&i64, UA_TYPE(INT64), "\"9007199254740993\"");
    i64 = INT64_MIN;
    expect_scalar(&i64, UA_TYPE(INT64), "\"-9223372036854775808\"");
    uint64_t u64 = 9007199254740992ULL;
    expect_scalar(&u64, UA_TYPE(UINT64), "9007199254740992");
    u64 = UINT64_MAX;
    expect_scalar(&u64, UA_TYPE(UINT64), "\"18446744073709551615\"");

    /* floating point: the shortest text that reads back the same */
    float f = 0.1f;
    expect_scalar(&f, UA_TYPE(FLOAT), "0.1");
    f = 1.5f;
    expect_scalar(&f, UA_TYPE(FLOAT), "1.5");
    f = 16777216.0f;
    expect_scalar(&f, UA_TYPE(FLOAT), "16777216");
    f = 3.4028234663852886e38f;
    expect_scalar(&f, UA_TYPE(FLOAT), "3.4028235e+38");
    f = -0.0f;
    expect_scalar(&f, UA_TYPE(FLOAT), "-0");
    double d = 0.1;
    expect_scalar(&d, UA_TYPE(DOUBLE), "0.1");
    d = 1.0 / 3.0;
    expect_scalar(&d, UA_TYPE(DOUBLE), "0.3333333333333333");
    d = 0.1 + 0.2;
    expect_scalar(&d, UA_TYPE(DOUBLE), "0.30000000000000004");
    d = 5e-324;
    expect_scalar(&d, UA_TYPE(DOUBLE), "4.94065645841247e-324");
    d = 1e300;
    expect_scalar(&d, UA_TYPE(DOUBLE), "1e+300");
    d = 42;
    expect_scalar(&d, UA_TYPE(DOUBLE), "42");
    /* integral values print as digits below 10^15 (Double) / 10^6 (Float), as %g there */
    d = -7;
    expect_scalar(&d, UA_TYPE(DOUBLE), "-7");
    d = 0;
    expect_scalar(&d, UA_TYPE(DOUBLE), "0");
    d = -0.0;
    expect_scalar(&d, UA_TYPE(DOUBLE), "-0");
    d = 999999999999999.0;
    expect_scalar(&d, UA_TYPE(DOUBLE), "999999999999999");
    d = -999999999999999.0;
    expect_scalar(&d, UA_TYPE(DOUBLE), "-999999999999999");
    d = 1e15;
    expect_scalar(&d, UA_TYPE(DOUBLE), "1e+15");
    d = 1234567890123456.0;
    expect_scalar(&d, UA_TYPE(DOUBLE), "1234567890123456");
    f = 999999.0f;
    expect_scalar(&f, UA_TYPE(FLOAT), "999999");
    f = -123.0f;
    expect_scalar(&f, UA_TYPE(FLOAT), "-123");
    f = 1e6f;
    expect_scalar(&f, UA_TYPE(FLOAT), "1e+06");
    d = NAN;
    expect_scalar(&d, UA_TYPE(DOUBLE), "\"NaN\"");
    d = INFINITY;
    expect_scalar(&d, UA_TYPE(DOUBLE), "\"Infinity\"");
    d = -INFINITY;
    expect_scalar(&d, UA_TYPE(DOUBLE), "\"-Infinity\"");
    f = NAN;
    expect_scalar(&f, UA_TYPE(FLOAT), "\"NaN\"");
    f = -INFINITY;
    expect_scalar(&f, UA_TYPE(FLOAT), "\"-Infinity\"");

    /* every double printed reads back exactly */
    uint64_t bits = 0x3FF0000000000001ULL;
    for (int i = 0; i < 2000; i++) {
        double x, back;
        bits = bits * 6364136223846793005ULL + 1442695040888963407ULL;
        memcpy(&x, &bits, sizeof x);
        if (!isfinite(x))
            continue;
        ua_variant v;
        memset(&v, 0, sizeof v);
        ua_variant_set_scalar_copy(&v, &x, UA_TYPE(DOUBLE));
        char *z = vjson(&v);
        back = strtod(z, NULL);
        assert_true(memcmp(&back, &x, sizeof x) == 0 || (x == 0 && back == 0));
        fp_free(z);
        if (fabs(x) <= FLT_MAX) {
            float fx = (float)x;
            ua_variant_set_scalar_copy(&v, &fx, UA_TYPE(FLOAT));
            z = vjson(&v);
            assert_true(strtof(z, NULL) == fx);
            fp_free(z);
        }
        ua_variant_clear(&v);
    }
}

static void test_write_strings(void **state)
{
    (void)state;
    ua_string s = ua_string_view("plain text");
    expect_scalar(&s, UA_TYPE(STRING), "\"plain text\"");
    s = ua_string_view("q\"b\\s/\n\r\t\b\f\x01\x1f\x7f");
    expect_scalar(&s, UA_TYPE(STRING), "\"q\\\"b\\\\s/\\n\\r\\t\\b\\f\\u0001\\u001f\x7f\"");
    s = ua_string_view("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    expect_scalar(&s, UA_TYPE(STRING), "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    /* invalid UTF-8: each offending byte becomes U+FFFD */
    s = ua_string_view("a\xff"
                       "b");
    expect_scalar(&s, UA_TYPE(STRING),
                  "\"a\xef\xbf\xbd"
                  "b\"");
    s = ua_string_view("\xc3\x28");
    expect_scalar(&s, UA_TYPE(STRING), "\"\xef\xbf\xbd(\"");
    s = ua_string_view("\xc0\xaf"); /* overlong '/' */
    expect_scalar(&s, UA_TYPE(STRING), "\"\xef\xbf\xbd\xef\xbf\xbd\"");
    s = ua_string_view("\xed\xa0\x80"); /* a surrogate */
    expect_scalar(&s, UA_TYPE(STRING), "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    s = ua_string_view("\xf4\x90\x80\x80"); /* past U+10FFFF */
    expect_scalar(&s, UA_TYPE(STRING), "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    s = ua_string_view("end\xe2\x82"); /* truncated at the end */
    expect_scalar(&s, UA_TYPE(STRING), "\"end\xef\xbf\xbd\xef\xbf\xbd\"");
    /* an embedded NUL */
    uint8_t nul[] = {'a', 0, 'b'};
    ua_string sn = {3, nul};
    expect_scalar(&sn, UA_TYPE(STRING), "\"a\\u0000b\"");
    /* null and empty */
    ua_string null_s = {0, NULL}, empty = {0, UA_EMPTY_ARRAY};
    expect_scalar(&null_s, UA_TYPE(STRING), "null");
    expect_scalar(&empty, UA_TYPE(STRING), "\"\"");
    ua_xml_element x = ua_string_view("<a b=\"1\"/>");
    expect_scalar(&x, UA_TYPE(XML_ELEMENT), "\"<a b=\\\"1\\\"/>\"");
}

static void test_write_datetime(void **state)
{
    (void)state;
    char out[40];
    ua_datetime t = UA_DATETIME_UNIX_EPOCH;
    expect_scalar(&t, UA_TYPE(DATETIME), "\"1970-01-01T00:00:00.000Z\"");
    t = UA_DATETIME_UNIX_EPOCH + 1795708800LL * 10000000 + 1234567; /* 2026-11-26T16:00:00.123 */
    expect_scalar(&t, UA_TYPE(DATETIME), "\"2026-11-26T16:00:00.123Z\"");
    t = UA_DATETIME_UNIX_EPOCH - 10000;
    expect_scalar(&t, UA_TYPE(DATETIME), "\"1969-12-31T23:59:59.999Z\"");
    t = 1;
    expect_scalar(&t, UA_TYPE(DATETIME), "\"1601-01-01T00:00:00.000Z\"");
    t = UA_DATETIME_UNIX_EPOCH + 951782400LL * 10000000; /* a leap day */
    expect_scalar(&t, UA_TYPE(DATETIME), "\"2000-02-29T00:00:00.000Z\"");
    /* no time and the end of time */
    t = 0;
    expect_scalar(&t, UA_TYPE(DATETIME), "null");
    t = -5;
    expect_scalar(&t, UA_TYPE(DATETIME), "null");
    t = INT64_MAX;
    expect_scalar(&t, UA_TYPE(DATETIME), "\"9999-12-31T23:59:59.000Z\"");
    opc_json_datetime(out, 0);
    assert_string_equal(out, "");
    opc_json_datetime(out, INT64_MAX);
    assert_string_equal(out, "9999-12-31T23:59:59.000Z");
}

static void test_write_ids(void **state)
{
    (void)state;
    ua_bytestring bs = ua_string_view("hello");
    expect_scalar(&bs, UA_TYPE(BYTESTRING), "\"aGVsbG8=\"");
    bs = ua_string_view("hi");
    expect_scalar(&bs, UA_TYPE(BYTESTRING), "\"aGk=\"");
    ua_bytestring empty = {0, UA_EMPTY_ARRAY}, null_b = {0, NULL};
    expect_scalar(&empty, UA_TYPE(BYTESTRING), "\"\"");
    expect_scalar(&null_b, UA_TYPE(BYTESTRING), "null");

    ua_guid g = {0x09087e75, 0x8e5e, 0x499b, {0x95, 0x4f, 0xf2, 0xa9, 0x60, 0x3d, 0xb2, 0x8a}};
    expect_scalar(&g, UA_TYPE(GUID), "\"09087e75-8e5e-499b-954f-f2a9603db28a\"");

    ua_node_id n = ua_node_id_numeric(0, 85);
    expect_scalar(&n, UA_TYPE(NODE_ID), "\"i=85\"");
    const char *forms[] = {"ns=1;s=Name", "ns=2;g=09087e75-8e5e-499b-954f-f2a9603db28a",
                           "ns=3;b=AQID", "ns=1;s=with \"quote\""};
    const char *want[] = {"\"ns=1;s=Name\"", "\"ns=2;g=09087e75-8e5e-499b-954f-f2a9603db28a\"",
                          "\"ns=3;b=AQID\"", "\"ns=1;s=with \\\"quote\\\"\""};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(ua_node_id_parse(&n, forms[i], NULL, 0), UA_STATUS_GOOD);
        expect_scalar(&n, UA_TYPE(NODE_ID), want[i]);
        ua_node_id_clear(&n);
    }
    /* a string id longer than the writer's stack buffer */
    char long_id[600] = "ns=4;s=";
    memset(long_id + 7, 'x', 500);
    long_id[507] = '\0';
    assert_int_equal(ua_node_id_parse(&n, long_id, NULL, 0), UA_STATUS_GOOD);
    char *z;
    {
        ua_variant v;
        memset(&v, 0, sizeof v);
        ua_variant_set_scalar_copy(&v, &n, UA_TYPE(NODE_ID));
        z = vjson(&v);
        assert_int_equal(strlen(z), 509);
        assert_memory_equal(z + 1, long_id, 507);
        fp_free(z);
        ua_variant_clear(&v);
    }
    ua_node_id_clear(&n);

    ua_expanded_node_id x;
    assert_int_equal(ua_expanded_node_id_parse(&x, "nsu=http://example.org/UA/;s=Tag"),
                     UA_STATUS_GOOD);
    expect_scalar(&x, UA_TYPE(EXPANDED_NODE_ID), "\"nsu=http://example.org/UA/;s=Tag\"");
    ua_expanded_node_id_clear(&x);
    assert_int_equal(ua_expanded_node_id_parse(&x, "svr=2;ns=1;i=7"), UA_STATUS_GOOD);
    expect_scalar(&x, UA_TYPE(EXPANDED_NODE_ID), "\"svr=2;ns=1;i=7\"");
    ua_expanded_node_id_clear(&x);

    ua_status_code sc = UA_STATUS_BAD_NODE_ID_UNKNOWN;
    expect_scalar(&sc, UA_TYPE(STATUS_CODE), "\"BadNodeIdUnknown\"");
    sc = UA_STATUS_GOOD;
    expect_scalar(&sc, UA_TYPE(STATUS_CODE), "\"Good\"");
    sc = UA_STATUS_BAD_NODE_ID_UNKNOWN | 0x0400; /* info bits do not change the name */
    expect_scalar(&sc, UA_TYPE(STATUS_CODE), "\"BadNodeIdUnknown\"");
    sc = 0x80FE0000u; /* no such code */
    expect_scalar(&sc, UA_TYPE(STATUS_CODE), "\"0x80FE0000\"");

    ua_qualified_name q = {0, ua_string_view("Temperature")};
    expect_scalar(&q, UA_TYPE(QUALIFIED_NAME), "\"Temperature\"");
    q.ns = 2;
    expect_scalar(&q, UA_TYPE(QUALIFIED_NAME), "\"2:Temperature\"");
    q.name = ua_string_view("a\"b");
    expect_scalar(&q, UA_TYPE(QUALIFIED_NAME), "\"2:a\\\"b\"");
    /* Namespace 0 with a name that would read as "ns:name" keeps its "0:" (found by the
     * fuzzer: "0:y" was written as it is and read back as namespace 0, name "y"). */
    q.ns = 0;
    q.name = ua_string_view("0:y");
    expect_scalar(&q, UA_TYPE(QUALIFIED_NAME), "\"0:0:y\"");
    q.name = ua_string_view("70000:y"); /* no namespace index: as it is */
    expect_scalar(&q, UA_TYPE(QUALIFIED_NAME), "\"70000:y\"");

    ua_localized_text lt = {ua_string_view("en"), ua_string_view("Pump 1")};
    expect_scalar(&lt, UA_TYPE(LOCALIZED_TEXT), "\"Pump 1\"");
    lt.text.data = NULL;
    lt.text.length = 0;
    expect_scalar(&lt, UA_TYPE(LOCALIZED_TEXT), "null");
}

/* ------------------------------------------------------------- writer: containers */

static void test_write_arrays(void **state)
{
    (void)state;
    ua_variant v;
    memset(&v, 0, sizeof v);
    int32_t six[] = {1, 2, 3, 4, 5, 6};
    assert_int_equal(ua_variant_set_array_copy(&v, six, 3, UA_TYPE(INT32)), UA_STATUS_GOOD);
    expect_variant(&v, "[1,2,3]");
    assert_int_equal(ua_variant_set_array_copy(&v, six, 0, UA_TYPE(INT32)), UA_STATUS_GOOD);
    expect_variant(&v, "[]");
    ua_variant_clear(&v);
    v.type = UA_TYPE(INT32);
    v.is_array = true; /* a null array */
    expect_variant(&v, "null");
    memset(&v, 0, sizeof v);
    expect_variant(&v, "null"); /* an empty variant */

    /* a 2x3 matrix: the last index varies fastest */
    assert_int_equal(ua_variant_set_array_copy(&v, six, 6, UA_TYPE(INT32)), UA_STATUS_GOOD);
    uint32_t *dims = fp_malloc(2 * sizeof *dims);
    dims[0] = 2;
    dims[1] = 3;
    v.dims = dims;
    v.dims_count = 2;
    expect_variant(&v, "[[1,2,3],[4,5,6]]");
    dims[0] = 3;
    dims[1] = 2;
    expect_variant(&v, "[[1,2],[3,4],[5,6]]");
    /* dimensions that do not match the items are ignored */
    dims[0] = 4;
    expect_variant(&v, "[1,2,3,4,5,6]");
    ua_variant_clear(&v);

    /* 3 dimensions, of strings */
    ua_string strs[8];
    const char *names[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    for (int i = 0; i < 8; i++)
        strs[i] = ua_string_view(names[i]);
    assert_int_equal(ua_variant_set_array_copy(&v, strs, 8, UA_TYPE(STRING)), UA_STATUS_GOOD);
    dims = fp_malloc(3 * sizeof *dims);
    dims[0] = dims[1] = dims[2] = 2;
    v.dims = dims;
    v.dims_count = 3;
    expect_variant(&v, "[[[\"a\",\"b\"],[\"c\",\"d\"]],[[\"e\",\"f\"],[\"g\",\"h\"]]]");
    ua_variant_clear(&v);

    /* an array of Variants, one of them an array itself */
    ua_variant items[3];
    memset(items, 0, sizeof items);
    double dd = 2.5;
    ua_string s = ua_string_view("x");
    ua_variant_set_scalar_copy(&items[0], &dd, UA_TYPE(DOUBLE));
    ua_variant_set_scalar_copy(&items[1], &s, UA_TYPE(STRING));
    ua_variant_set_array_copy(&items[2], six, 2, UA_TYPE(INT32));
    assert_int_equal(ua_variant_set_array_copy(&v, items, 3, UA_TYPE(VARIANT)), UA_STATUS_GOOD);
    expect_variant(&v, "[2.5,\"x\",[1,2]]");
    ua_variant_clear(&v);
    for (int i = 0; i < 3; i++)
        ua_variant_clear(&items[i]);
}

static void test_write_structures(void **state)
{
    (void)state;
    ua_variant v;
    memset(&v, 0, sizeof v);
    ua_range r = {-10.5, 100};
    /* a structure held directly, and inside a decoded ExtensionObject */
    assert_int_equal(ua_variant_set_scalar_copy(&v, &r, UA_TYPE(RANGE)), UA_STATUS_GOOD);
    expect_variant(&v, "{\"Low\":-10.5,\"High\":100}");
    ua_extension_object eo;
    memset(&eo, 0, sizeof eo);
    assert_int_equal(ua_extension_object_set_copy(&eo, &r, UA_TYPE(RANGE)), UA_STATUS_GOOD);
    assert_int_equal(ua_variant_set_scalar_copy(&v, &eo, UA_TYPE(EXTENSION_OBJECT)),
                     UA_STATUS_GOOD);
    expect_variant(&v, "{\"Low\":-10.5,\"High\":100}");
    ua_extension_object_clear(&eo);

    ua_eu_information eu = {ua_string_view("http://www.opcfoundation.org/UA/units/un/cefact"),
                            4408652,
                            {ua_string_view("en"), ua_string_view("\xc2\xb0"
                                                                  "C")},
                            {ua_string_view("en"), ua_string_view("degree Celsius")}};
    assert_int_equal(ua_extension_object_set_copy(&eo, &eu, UA_TYPE(EU_INFORMATION)),
                     UA_STATUS_GOOD);
    assert_int_equal(ua_variant_set_scalar_copy(&v, &eo, UA_TYPE(EXTENSION_OBJECT)),
                     UA_STATUS_GOOD);
    expect_variant(&v, "{\"NamespaceUri\":\"http://www.opcfoundation.org/UA/units/un/cefact\","
                       "\"UnitId\":4408652,\"DisplayName\":\"\xc2\xb0"
                       "C\",\"Description\":\"degree Celsius\"}");
    ua_extension_object_clear(&eo);

    /* nested structure, an enumeration member, a DateTime member */
    ua_server_status_data_type st;
    memset(&st, 0, sizeof st);
    st.start_time = UA_DATETIME_UNIX_EPOCH;
    st.state = UA_SERVER_STATE_RUNNING;
    st.build_info.product_name = ua_string_view("Peer");
    st.build_info.build_date = UA_DATETIME_UNIX_EPOCH + 864000000000LL;
    st.seconds_till_shutdown = 7;
    assert_int_equal(ua_variant_set_scalar_copy(&v, &st, UA_TYPE(SERVER_STATUS_DATA_TYPE)),
                     UA_STATUS_GOOD);
    expect_variant(&v, "{\"StartTime\":\"1970-01-01T00:00:00.000Z\",\"CurrentTime\":null,"
                       "\"State\":0,\"BuildInfo\":{\"ProductUri\":null,\"ManufacturerName\":null,"
                       "\"ProductName\":\"Peer\",\"SoftwareVersion\":null,\"BuildNumber\":null,"
                       "\"BuildDate\":\"1970-01-02T00:00:00.000Z\"},\"SecondsTillShutdown\":7,"
                       "\"ShutdownReason\":null}");

    /* an enumeration value held directly: its number */
    ua_server_state ss = UA_SERVER_STATE_SHUTDOWN;
    assert_int_equal(ua_variant_set_scalar_copy(&v, &ss, UA_TYPE(SERVER_STATE)), UA_STATUS_GOOD);
    expect_variant(&v, "4");

    /* an array member: Argument's ArrayDimensions */
    ua_argument arg;
    memset(&arg, 0, sizeof arg);
    arg.name = ua_string_view("Speed");
    arg.data_type = ua_node_id_numeric(0, 11);
    arg.value_rank = 1;
    uint32_t adims[] = {4};
    arg.array_dimensions = adims;
    arg.array_dimensions_count = 1;
    assert_int_equal(ua_variant_set_scalar_copy(&v, &arg, UA_TYPE(ARGUMENT)), UA_STATUS_GOOD);
    expect_variant(&v, "{\"Name\":\"Speed\",\"DataType\":\"i=11\",\"ValueRank\":1,"
                       "\"ArrayDimensions\":[4],\"Description\":null}");
    ua_variant_clear(&v);

    /* opaque bodies */
    eo.encoding = UA_EO_BINARY;
    eo.type_id = ua_node_id_numeric(2, 5001);
    eo.body = ua_string_view("\x01\x02\x03");
    expect_scalar(&eo, UA_TYPE(EXTENSION_OBJECT),
                  "{\"TypeId\":\"ns=2;i=5001\",\"Encoding\":\"Binary\",\"Body\":\"AQID\"}");
    eo.encoding = UA_EO_XML;
    eo.body = ua_string_view("<V>1</V>");
    expect_scalar(&eo, UA_TYPE(EXTENSION_OBJECT),
                  "{\"TypeId\":\"ns=2;i=5001\",\"Encoding\":\"Xml\",\"Body\":\"<V>1</V>\"}");
    memset(&eo, 0, sizeof eo);
    expect_scalar(&eo, UA_TYPE(EXTENSION_OBJECT), "null");
}

static void test_write_nested(void **state)
{
    (void)state;
    /* a DataValue inside a Variant */
    ua_data_value dv;
    memset(&dv, 0, sizeof dv);
    int32_t i = 5;
    ua_variant_set_scalar_copy(&dv.value, &i, UA_TYPE(INT32));
    dv.has = UA_DV_VALUE | UA_DV_SOURCE_TIMESTAMP;
    dv.source_timestamp = UA_DATETIME_UNIX_EPOCH;
    expect_scalar(&dv, UA_TYPE(DATA_VALUE),
                  "{\"SourceTimestamp\":\"1970-01-01T00:00:00.000Z\",\"Value\":5}");
    ua_data_value_clear(&dv);

    /* DiagnosticInfo: the fields present */
    ua_diagnostic_info inner;
    memset(&inner, 0, sizeof inner);
    inner.has = UA_DI_INNER_STATUS_CODE;
    inner.inner_status_code = UA_STATUS_BAD_TIMEOUT;
    ua_diagnostic_info di;
    memset(&di, 0, sizeof di);
    di.has = UA_DI_SYMBOLIC_ID | UA_DI_LOCALE | UA_DI_ADDITIONAL_INFO | UA_DI_INNER_DIAGNOSTIC_INFO;
    di.symbolic_id = 3;
    di.locale = -1;
    di.additional_info = ua_string_view("line\n2");
    di.inner = &inner;
    expect_scalar(&di, UA_TYPE(DIAGNOSTIC_INFO),
                  "{\"SymbolicId\":3,\"Locale\":-1,\"AdditionalInfo\":\"line\\n2\","
                  "\"InnerDiagnosticInfo\":{\"InnerStatusCode\":\"BadTimeout\"}}");
    memset(&di, 0, sizeof di);
    expect_scalar(&di, UA_TYPE(DIAGNOSTIC_INFO), "{}");
}

/* Variants nested n deep (each an array of one Variant) around an Int32. */
static void nest(ua_variant *v, int n)
{
    int32_t x = 1;
    memset(v, 0, sizeof *v);
    ua_variant_set_scalar_copy(v, &x, UA_TYPE(INT32));
    for (int i = 0; i < n; i++) {
        ua_variant outer;
        memset(&outer, 0, sizeof outer);
        assert_int_equal(ua_variant_set_array_copy(&outer, v, 1, UA_TYPE(VARIANT)), UA_STATUS_GOOD);
        ua_variant_clear(v);
        *v = outer;
    }
}

static void test_write_limits(void **state)
{
    (void)state;
    ua_variant v;
    fp_buf b;
    /* within the bound: fine */
    nest(&v, 10);
    expect_variant(&v, "[[[[[[[[[[1]]]]]]]]]]");
    ua_variant_clear(&v);
    /* past it: FP_ERR_TOO_LARGE and the buffer as it was */
    nest(&v, OPC_JSON_MAX_DEPTH + 5);
    fp_buf_init(&b, 1 << 20);
    fp_buf_append_str(&b, "{\"a\":");
    assert_int_equal(opc_json_variant(&b, &v), FP_ERR_TOO_LARGE);
    assert_int_equal(b.err, FP_OK);
    assert_string_equal(b.data, "{\"a\":");
    assert_int_equal(b.len, 5);
    fp_buf_clear(&b);
    ua_variant_clear(&v);

    /* a matrix with more dimensions than the bound */
    int32_t one = 1;
    memset(&v, 0, sizeof v);
    ua_variant_set_array_copy(&v, &one, 1, UA_TYPE(INT32));
    v.dims_count = OPC_JSON_MAX_DEPTH + 1;
    v.dims = fp_malloc(v.dims_count * sizeof *v.dims);
    for (size_t i = 0; i < v.dims_count; i++)
        v.dims[i] = 1;
    fp_buf_init(&b, 1 << 20);
    assert_int_equal(opc_json_variant(&b, &v), FP_ERR_TOO_LARGE);
    assert_int_equal(b.len, 0);
    fp_buf_clear(&b);
    ua_variant_clear(&v);

    /* the buffer's own maximum */
    ua_string s = ua_string_view("a string longer than sixteen bytes");
    ua_variant_set_scalar_copy(&v, &s, UA_TYPE(STRING));
    fp_buf_init(&b, 16);
    assert_int_equal(opc_json_variant(&b, &v), FP_ERR_TOO_LARGE);
    fp_buf_clear(&b);
    ua_variant_clear(&v);
}

/* ------------------------------------------------------------------- DataValues */

static void test_data_value(void **state)
{
    (void)state;
    ua_data_value dv;
    memset(&dv, 0, sizeof dv);
    double d = 21.5;
    ua_variant_set_scalar_copy(&dv.value, &d, UA_TYPE(DOUBLE));
    ua_datetime src = UA_DATETIME_UNIX_EPOCH + 1795708800LL * 10000000 + 1230000;
    ua_datetime srv = UA_DATETIME_UNIX_EPOCH + 1795708801LL * 10000000;

    dv.has = UA_DV_VALUE | UA_DV_SOURCE_TIMESTAMP | UA_DV_SERVER_TIMESTAMP;
    dv.source_timestamp = src;
    dv.server_timestamp = srv;
    expect_dv(&dv, "{\"SourceTimestamp\":\"2026-11-26T16:00:00.123Z\",\"Value\":21.5}");
    /* no source timestamp: the server's */
    dv.has = UA_DV_VALUE | UA_DV_SERVER_TIMESTAMP;
    expect_dv(&dv, "{\"SourceTimestamp\":\"2026-11-26T16:00:01.000Z\",\"Value\":21.5}");
    /* a source timestamp flagged but 0 counts as none */
    dv.has = UA_DV_VALUE | UA_DV_SOURCE_TIMESTAMP | UA_DV_SERVER_TIMESTAMP;
    dv.source_timestamp = 0;
    expect_dv(&dv, "{\"SourceTimestamp\":\"2026-11-26T16:00:01.000Z\",\"Value\":21.5}");
    /* neither */
    dv.has = UA_DV_VALUE;
    expect_dv(&dv, "{\"Value\":21.5}");
    /* explicit Good status: nothing added */
    dv.has = UA_DV_VALUE | UA_DV_STATUS;
    dv.status = UA_STATUS_GOOD;
    expect_dv(&dv, "{\"Value\":21.5}");
    /* Uncertain: the value and the status */
    dv.has = UA_DV_VALUE | UA_DV_STATUS | UA_DV_SOURCE_TIMESTAMP;
    dv.source_timestamp = src;
    dv.status = UA_STATUS_UNCERTAIN_LAST_USABLE_VALUE;
    char want[256];
    snprintf(want, sizeof want,
             "{\"SourceTimestamp\":\"2026-11-26T16:00:00.123Z\",\"Value\":21.5,"
             "\"StatusCode\":{\"Code\":%u,\"Symbol\":\"UncertainLastUsableValue\"}}",
             (unsigned)UA_STATUS_UNCERTAIN_LAST_USABLE_VALUE);
    expect_dv(&dv, want);
    /* Bad with a value: the value is not shown */
    dv.status = UA_STATUS_BAD_NODE_ID_UNKNOWN;
    snprintf(want, sizeof want,
             "{\"SourceTimestamp\":\"2026-11-26T16:00:00.123Z\",\"Value\":null,"
             "\"StatusCode\":{\"Code\":%u,\"Symbol\":\"BadNodeIdUnknown\"}}",
             (unsigned)UA_STATUS_BAD_NODE_ID_UNKNOWN);
    expect_dv(&dv, want);
    ua_data_value_clear(&dv);
    /* Bad, no value, no timestamp, unknown code */
    dv.has = UA_DV_STATUS;
    dv.status = 0x80FE0000u;
    expect_dv(&dv, "{\"Value\":null,\"StatusCode\":{\"Code\":2164129792,\"Symbol\":"
                   "\"0x80FE0000\"}}");
    /* an empty DataValue */
    memset(&dv, 0, sizeof dv);
    expect_dv(&dv, "{\"Value\":null}");
}

/* A DataValue decoded from bytes (the path the connector takes) writes valid JSON. */
static void test_decoded_bytes(void **state)
{
    (void)state;
    /* Variant: array of 2 Strings with ArrayDimensions [1,2] */
    const uint8_t enc[] = {0x8C | 0x40, 2,   0, 0, 0, 1, 0, 0, 0, 'a', 2, 0, 0, 0,
                           0xff,        'b', 2, 0, 0, 0, 1, 0, 0, 0,   2, 0, 0, 0};
    ua_variant v;
    assert_int_equal(ua_decode_buf(enc, sizeof enc, &v, UA_TYPE(VARIANT), NULL), UA_STATUS_GOOD);
    expect_variant(&v, "[[\"a\",\"\xef\xbf\xbd"
                       "b\"]]");
    ua_variant_clear(&v);
}

/* ------------------------------------------------------------------- the reader */

static void test_read_scalars(void **state)
{
    (void)state;
    roundtrip("true", UA_KIND_BOOLEAN, false, NULL);
    roundtrip("false", UA_KIND_BOOLEAN, false, NULL);
    roundtrip("1", UA_KIND_BOOLEAN, false, "true");
    roundtrip("-128", UA_KIND_SBYTE, false, NULL);
    roundtrip("255", UA_KIND_BYTE, false, NULL);
    roundtrip("-32768", UA_KIND_INT16, false, NULL);
    roundtrip("65535", UA_KIND_UINT16, false, NULL);
    roundtrip("-2147483648", UA_KIND_INT32, false, NULL);
    roundtrip("4294967295", UA_KIND_UINT32, false, NULL);
    roundtrip("7", UA_KIND_ENUM, false, NULL);
    roundtrip("-9223372036854775808", UA_KIND_INT64, false, "\"-9223372036854775808\"");
    roundtrip("\"9007199254740993\"", UA_KIND_INT64, false, NULL);
    roundtrip("\"18446744073709551615\"", UA_KIND_UINT64, false, NULL);
    roundtrip("12.0", UA_KIND_INT32, false, "12");
    roundtrip("\"42\"", UA_KIND_BYTE, false, "42");
    roundtrip("0.1", UA_KIND_FLOAT, false, NULL);
    roundtrip("3", UA_KIND_DOUBLE, false, NULL);
    roundtrip("-2.5e-10", UA_KIND_DOUBLE, false, "-2.5e-10");
    roundtrip("\"NaN\"", UA_KIND_DOUBLE, false, NULL);
    roundtrip("\"Infinity\"", UA_KIND_FLOAT, false, NULL);
    roundtrip("\"-Infinity\"", UA_KIND_DOUBLE, false, NULL);
    roundtrip("\"text \\\"q\\\" \\u00e9\"", UA_KIND_STRING, false, "\"text \\\"q\\\" \xc3\xa9\"");
    roundtrip("\"\"", UA_KIND_STRING, false, NULL);
    roundtrip("null", UA_KIND_STRING, false, NULL);
    roundtrip("\"<a/>\"", UA_KIND_XMLELEMENT, false, NULL);
    roundtrip("\"2026-11-26T16:00:00.123Z\"", UA_KIND_DATETIME, false, NULL);
    roundtrip("\"2026-11-26T17:30:00.123+01:30\"", UA_KIND_DATETIME, false,
              "\"2026-11-26T16:00:00.123Z\"");
    roundtrip("\"2026-11-26t16:00:00z\"", UA_KIND_DATETIME, false, "\"2026-11-26T16:00:00.000Z\"");
    roundtrip("\"9999-12-31T23:59:59Z\"", UA_KIND_DATETIME, false, "\"9999-12-31T23:59:59.000Z\"");
    roundtrip("null", UA_KIND_DATETIME, false, NULL);
    roundtrip("\"aGVsbG8=\"", UA_KIND_BYTESTRING, false, NULL);
    roundtrip("\"\"", UA_KIND_BYTESTRING, false, NULL);
    roundtrip("\"09087E75-8E5E-499B-954F-F2A9603DB28A\"", UA_KIND_GUID, false,
              "\"09087e75-8e5e-499b-954f-f2a9603db28a\"");
    roundtrip("\"i=85\"", UA_KIND_NODEID, false, NULL);
    roundtrip("\"ns=1;s=Name\"", UA_KIND_NODEID, false, NULL);
    roundtrip("\"ns=2;g=09087e75-8e5e-499b-954f-f2a9603db28a\"", UA_KIND_NODEID, false, NULL);
    roundtrip("\"ns=3;b=AQID\"", UA_KIND_NODEID, false, NULL);
    roundtrip("\"nsu=http://example.org/UA/;s=Tag\"", UA_KIND_EXPANDEDNODEID, false, NULL);
    roundtrip("\"BadNodeIdUnknown\"", UA_KIND_STATUSCODE, false, NULL);
    roundtrip("\"0x80FE0000\"", UA_KIND_STATUSCODE, false, NULL);
    roundtrip("0", UA_KIND_STATUSCODE, false, "\"Good\"");
    roundtrip("\"2:Temperature\"", UA_KIND_QUALIFIEDNAME, false, NULL);
    roundtrip("\"Temperature\"", UA_KIND_QUALIFIEDNAME, false, NULL);
    roundtrip("\"Pump 1\"", UA_KIND_LOCALIZEDTEXT, false, NULL);
    roundtrip("{\"locale\": \"de\", \"text\": \"Pumpe\"}", UA_KIND_LOCALIZEDTEXT, false,
              "\"Pumpe\"");

    /* values the writer's output does not show */
    ua_variant v;
    from_text("{\"Locale\": \"de\", \"Text\": \"Pumpe\"}", UA_KIND_LOCALIZEDTEXT, false, &v);
    ua_localized_text *lt = ua_variant_data(&v);
    assert_int_equal(lt->locale.length, 2);
    assert_memory_equal(lt->locale.data, "de", 2);
    ua_variant_clear(&v);
    from_text("\"2:Temperature\"", UA_KIND_QUALIFIEDNAME, false, &v);
    ua_qualified_name *q = ua_variant_data(&v);
    assert_int_equal(q->ns, 2);
    assert_int_equal(q->name.length, 11);
    ua_variant_clear(&v);
    from_text("\"70000:x\"", UA_KIND_QUALIFIEDNAME, false, &v); /* not an index: all name */
    q = ua_variant_data(&v);
    assert_int_equal(q->ns, 0);
    assert_int_equal(q->name.length, 7);
    ua_variant_clear(&v);
    from_text("\"1601-01-01T00:00:00Z\"", UA_KIND_DATETIME, false, &v);
    assert_int_equal(*(ua_datetime *)ua_variant_data(&v), 0);
    ua_variant_clear(&v);
    assert_int_equal(dt_parse("9999-12-31T23:59:59.5Z"), INT64_MAX);
    assert_int_equal(dt_parse("1970-01-01T00:00:00.0000001Z"), UA_DATETIME_UNIX_EPOCH + 1);
    assert_int_equal(dt_parse("1970-01-01T00:00:00.123456789Z"), UA_DATETIME_UNIX_EPOCH + 1234567);
    assert_int_equal(dt_parse("2016-12-31T23:59:60Z"), dt_parse("2017-01-01T00:00:00Z"));
    assert_int_equal(dt_parse("2000-02-29T00:00:00-00:00"),
                     UA_DATETIME_UNIX_EPOCH + 951782400LL * 10000000);
    from_text("\"NaN\"", UA_KIND_DOUBLE, false, &v);
    assert_true(isnan(*(double *)ua_variant_data(&v)));
    ua_variant_clear(&v);
}

static void test_read_arrays(void **state)
{
    (void)state;
    roundtrip("[1,2,3]", UA_KIND_INT32, true, NULL);
    roundtrip("[]", UA_KIND_DOUBLE, true, NULL);
    roundtrip("[\"a\",null,\"c\"]", UA_KIND_STRING, true, NULL);
    roundtrip("[true,false]", UA_KIND_BOOLEAN, true, NULL);
    roundtrip("[\"i=1\",\"ns=1;s=x\"]", UA_KIND_NODEID, true, NULL);
    roundtrip("[\"2026-11-26T16:00:00.123Z\",null]", UA_KIND_DATETIME, true, NULL);
    roundtrip("[\"AQID\",\"\"]", UA_KIND_BYTESTRING, true, NULL);
    roundtrip("[1.5,\"NaN\"]", UA_KIND_FLOAT, true, NULL);
    /* array allowed, scalar given: a scalar */
    ua_variant v;
    from_text("5", UA_KIND_UINT16, true, &v);
    assert_false(v.is_array);
    ua_variant_clear(&v);
    from_text("[5]", UA_KIND_UINT16, true, &v);
    assert_true(v.is_array);
    assert_int_equal(v.array_length, 1);
    ua_variant_clear(&v);
}

static void test_read_errors(void **state)
{
    (void)state;
    expect_error("300", UA_KIND_BYTE, false, "300 does not fit in a Byte");
    expect_error("-1", UA_KIND_UINT32, false, "-1 does not fit in a UInt32");
    expect_error("128", UA_KIND_SBYTE, false, "128 does not fit in an SByte");
    expect_error("-32769", UA_KIND_INT16, false, "-32769 does not fit in an Int16");
    expect_error("2147483648", UA_KIND_INT32, false, "does not fit in an Int32");
    expect_error("\"18446744073709551616\"", UA_KIND_UINT64, false, "does not fit in a UInt64");
    expect_error("\"9223372036854775808\"", UA_KIND_INT64, false, "does not fit in an Int64");
    expect_error("\"-1\"", UA_KIND_UINT64, false, "does not fit in a UInt64");
    expect_error("1e20", UA_KIND_INT64, false, "does not fit in an Int64");
    expect_error("1.5", UA_KIND_INT32, false, "1.5 is not a whole number (Int32)");
    expect_error("\"12x\"", UA_KIND_INT32, false, "\"12x\" is not a whole number (Int32)");
    expect_error("\" 12\"", UA_KIND_INT32, false, "is not a whole number");
    expect_error("true", UA_KIND_INT32, false, "expected a number for Int32, got a boolean");
    expect_error("1e39", UA_KIND_FLOAT, false, "1e+39 does not fit in a Float");
    expect_error("-1e39", UA_KIND_FLOAT, false, "-1e+39 does not fit in a Float");
    /* a long value is cut in the message, between characters */
    expect_error("\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\u00e9\u00e9\"", UA_KIND_INT32, false,
                 "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\" is not a whole number");
    expect_error(
        "{\"text\":\"x\",\"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
        "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\":1}",
        UA_KIND_LOCALIZEDTEXT, false, "unknown member");
    expect_error("\"nan\"", UA_KIND_DOUBLE, false, "is not a number (Double");
    expect_error("{}", UA_KIND_DOUBLE, false, "expected a number for Double, got an object");
    expect_error("2", UA_KIND_BOOLEAN, false, "expected true or false for Boolean, got 2");
    expect_error("5", UA_KIND_STRING, false, "expected a string for String, got a number");
    expect_error("\"2026-13-01T00:00:00Z\"", UA_KIND_DATETIME, false, "not an RFC 3339");
    expect_error("\"2026-02-29T00:00:00Z\"", UA_KIND_DATETIME, false, "not an RFC 3339");
    expect_error("\"2026-11-26T16:00:00\"", UA_KIND_DATETIME, false, "not an RFC 3339");
    expect_error("\"2026-11-26 16:00:00Z\"", UA_KIND_DATETIME, false, "not an RFC 3339");
    expect_error("\"2026-11-26T16:00:00.Z\"", UA_KIND_DATETIME, false, "not an RFC 3339");
    expect_error("\"1600-12-31T23:59:59Z\"", UA_KIND_DATETIME, false, "before 1601-01-01");
    expect_error("\"a*b\"", UA_KIND_BYTESTRING, false, "is not base64");
    expect_error("\"09087e75\"", UA_KIND_GUID, false, "is not a Guid");
    expect_error("\"x=1\"", UA_KIND_NODEID, false, "is not a NodeId");
    expect_error("\"nsu=urn:x;s=a\"", UA_KIND_NODEID, false, "namespace URI (nsu=)");
    expect_error("\"BadNoSuchThing\"", UA_KIND_STATUSCODE, false, "is not a StatusCode");
    expect_error("5", UA_KIND_QUALIFIEDNAME, false, "expected a string for QualifiedName");
    expect_error("{\"lang\":\"en\"}", UA_KIND_LOCALIZEDTEXT, false,
                 "unknown member \"lang\" in a LocalizedText");
    expect_error("{\"text\":5}", UA_KIND_LOCALIZEDTEXT, false, "expected a string");
    expect_error("[1,2]", UA_KIND_INT32, false, "expected one Int32, got an array");
    expect_error("[1,300,3]", UA_KIND_BYTE, true, "element 1: 300 does not fit in a Byte");
    expect_error("[[1]]", UA_KIND_BYTE, true, "element 0: expected a Byte, got an array");
    expect_error("[\"a\",5]", UA_KIND_STRING, true, "element 1: expected a string");
    expect_error("{}", UA_KIND_EXTENSIONOBJECT, false,
                 "values of type ExtensionObject cannot be given in JSON");
    expect_error("1", UA_KIND_VARIANT, false, "Variant");
    expect_error("1", UA_KIND_DATAVALUE, false, "DataValue");
    expect_error("1", UA_KIND_DIAGNOSTICINFO, false, "DiagnosticInfo");
    expect_error("1", UA_KIND_STRUCTURE, false, "Structure");
    expect_error("1", 0, false, "unknown type");
    expect_error("1", 99, false, "unknown type");

    /* NUL inside a string that must be parsed as text */
    char err[256];
    ua_variant v;
    json_t *j = json_stringn("i=1\0x", 5);
    assert_int_equal(opc_json_to_variant(j, UA_KIND_NODEID, false, &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "NUL"));
    json_decref(j);
    assert_int_equal(opc_json_to_variant(NULL, UA_KIND_INT32, false, &v, err, sizeof err), -1);
}

/* Every allocation of a conversion failing in turn: a clean error, nothing leaked (ASan). */
static void test_read_alloc_failures(void **state)
{
    (void)state;
    const char *texts[] = {"[\"a\",\"\",\"bb\"]", "[\"i=1\",\"ns=1;s=x\",\"ns=2;b=AQID\"]",
                           "{\"locale\":\"en\",\"text\":\"t\"}"};
    const uint8_t kinds[] = {UA_KIND_STRING, UA_KIND_NODEID, UA_KIND_LOCALIZEDTEXT};
    for (size_t k = 0; k < 3; k++) {
        json_t *j = json_loads(texts[k], 0, NULL);
        assert_non_null(j);
        for (long n = 0;; n++) {
            char err[256];
            ua_variant v;
            fp_alloc_fail_after(n);
            int rc = opc_json_to_variant(j, kinds[k], true, &v, err, sizeof err);
            fp_alloc_fail_after(-1);
            if (rc == 0) {
                ua_variant_clear(&v);
                break;
            }
            assert_non_null(strstr(err, "out of memory"));
            assert_null(v.type);
            assert_true(n < 100);
        }
        json_decref(j);
    }
}

/* Names and keys as JSON strings: plain text as it is, escapes, invalid UTF-8 replaced. */
static void test_json_string(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t n;
        const char *out;
    } cases[] = {
        {"temperature", 11, "\"temperature\""}, {"", 0, "\"\""},
        {"a\"b\\c", 5, "\"a\\\"b\\\\c\""},      {"tab\there\n", 9, "\"tab\\there\\n\""},
        {"caf\xc3\xa9", 5, "\"caf\xc3\xa9\""},  {"bad\xff!", 5, "\"bad\xef\xbf\xbd!\""},
        {"nul\0in", 6, "\"nul\\u0000in\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fp_buf b;
        fp_buf_init(&b, 1024);
        fp_json_quote_buf(&b, cases[i].in, cases[i].n);
        assert_int_equal(b.err, FP_OK);
        fp_buf_append(&b, "", 1);
        assert_string_equal(b.data, cases[i].out);
        fp_buf_clear(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_string),         cmocka_unit_test(test_write_numbers),
        cmocka_unit_test(test_write_strings),       cmocka_unit_test(test_write_datetime),
        cmocka_unit_test(test_write_ids),           cmocka_unit_test(test_write_arrays),
        cmocka_unit_test(test_write_structures),    cmocka_unit_test(test_write_nested),
        cmocka_unit_test(test_write_limits),        cmocka_unit_test(test_data_value),
        cmocka_unit_test(test_decoded_bytes),       cmocka_unit_test(test_read_scalars),
        cmocka_unit_test(test_read_arrays),         cmocka_unit_test(test_read_errors),
        cmocka_unit_test(test_read_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
