/*
 * test_opcua_codec.c - unit tests of the OPC UA binary codec (lib/opcua/ua_encoding.c,
 * ua_types.c): byte-exact vectors for every built-in type (the examples of OPC 10000-6
 * where it gives one), service messages, deep copies, status code names, and hostile
 * input (truncation, huge lengths, deep nesting, bad ExtensionObject lengths, failing
 * allocations) that must give the right status and leak nothing (run under ASan).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include <cmocka.h>

#include "fp_alloc.h"
#include "opcua/ua_nodeids.h"
#include "opcua/ua_types.h"

/* ------------------------------------------------------------------ helpers */

/* Parse "01 02 ab" into buf; returns the byte count. */
static size_t hex(const char *z, uint8_t *buf, size_t cap)
{
    size_t n = 0;
    while (*z) {
        if (*z == ' ' || *z == '\n') {
            z++;
            continue;
        }
        unsigned v;
        char tmp[3] = {z[0], z[1], 0};
        v = (unsigned)strtoul(tmp, NULL, 16);
        assert_true(n < cap);
        buf[n++] = (uint8_t)v;
        z += 2;
    }
    return n;
}

/* Encode *p and compare with the hex vector; decode the vector, re-encode, compare;
 * every truncation of the vector must fail to decode. */
static void check_vector(const void *p, const ua_type *t, const char *want_hex)
{
    uint8_t want[512], got[512];
    size_t n = hex(want_hex, want, sizeof want);
    uint8_t *pos = got;
    assert_int_equal(ua_encode(p, t, &pos, got + sizeof got), UA_STATUS_GOOD);
    assert_int_equal((size_t)(pos - got), n);
    assert_memory_equal(got, want, n);
    assert_int_equal(ua_encoded_size(p, t), n);

    void *v = ua_new(t);
    assert_non_null(v);
    assert_int_equal(ua_decode_buf(want, n, v, t, NULL), UA_STATUS_GOOD);
    pos = got;
    assert_int_equal(ua_encode(v, t, &pos, got + sizeof got), UA_STATUS_GOOD);
    assert_int_equal((size_t)(pos - got), n);
    assert_memory_equal(got, want, n);

    /* a copy encodes the same */
    void *c = ua_new(t);
    assert_int_equal(ua_copy(v, c, t), UA_STATUS_GOOD);
    pos = got;
    assert_int_equal(ua_encode(c, t, &pos, got + sizeof got), UA_STATUS_GOOD);
    assert_memory_equal(got, want, n);
    ua_delete(c, t);
    ua_delete(v, t);

    for (size_t k = 0; k < n; k++) {
        v = ua_new(t);
        ua_status rc = ua_decode_buf(want, k, v, t, NULL);
        assert_int_equal(rc, UA_STATUS_BAD_DECODING_ERROR);
        ua_delete(v, t);
    }
    /* a buffer one byte too small is refused */
    if (n > 0) {
        pos = got;
        assert_int_equal(ua_encode(p, t, &pos, got + n - 1),
                         UA_STATUS_BAD_ENCODING_LIMITS_EXCEEDED);
    }
}

/* ---------------------------------------------------------- built-in types */

static void test_numbers(void **state)
{
    (void)state;
    bool b = true;
    check_vector(&b, UA_TYPE(BOOLEAN), "01");
    int8_t sb = -2;
    check_vector(&sb, UA_TYPE(SBYTE), "FE");
    uint8_t by = 0xAB;
    check_vector(&by, UA_TYPE(BYTE), "AB");
    int16_t i16 = -2;
    check_vector(&i16, UA_TYPE(INT16), "FE FF");
    uint16_t u16 = 0x1234;
    check_vector(&u16, UA_TYPE(UINT16), "34 12");
    int32_t i32 = 1000000000; /* Part 6 5.2.2.2 */
    check_vector(&i32, UA_TYPE(INT32), "00 CA 9A 3B");
    uint32_t u32 = 0xDEADBEEF;
    check_vector(&u32, UA_TYPE(UINT32), "EF BE AD DE");
    int64_t i64 = -1;
    check_vector(&i64, UA_TYPE(INT64), "FF FF FF FF FF FF FF FF");
    uint64_t u64 = 0x0102030405060708ull;
    check_vector(&u64, UA_TYPE(UINT64), "08 07 06 05 04 03 02 01");
    float f = -6.5f; /* Part 6 5.2.2.3 */
    check_vector(&f, UA_TYPE(FLOAT), "00 00 D0 C0");
    double d = 1.0;
    check_vector(&d, UA_TYPE(DOUBLE), "00 00 00 00 00 00 F0 3F");
    ua_datetime dt = UA_DATETIME_UNIX_EPOCH;
    check_vector(&dt, UA_TYPE(DATETIME), "00 80 3E D5 DE B1 9D 01");
    ua_status_code sc = 0x80340000u;
    check_vector(&sc, UA_TYPE(STATUS_CODE), "00 00 34 80");
}

static void test_strings(void **state)
{
    (void)state;
    ua_string s = ua_string_view("\xE6\xB0\xB4"
                                 "Boy"); /* Part 6 5.2.2.4 */
    check_vector(&s, UA_TYPE(STRING), "06 00 00 00 E6 B0 B4 42 6F 79");
    ua_string null_s = {0, NULL};
    check_vector(&null_s, UA_TYPE(STRING), "FF FF FF FF");
    ua_string empty = ua_string_view("");
    check_vector(&empty, UA_TYPE(STRING), "00 00 00 00");
    uint8_t raw[3] = {0, 1, 2};
    ua_bytestring bs = {3, raw};
    check_vector(&bs, UA_TYPE(BYTESTRING), "03 00 00 00 00 01 02");
    ua_xml_element x = ua_string_view("<a/>");
    check_vector(&x, UA_TYPE(XML_ELEMENT), "04 00 00 00 3C 61 2F 3E");

    /* null and empty decode differently */
    uint8_t buf[4] = {0xFF, 0xFF, 0xFF, 0xFF};
    ua_string out;
    assert_int_equal(ua_decode_buf(buf, 4, &out, UA_TYPE(STRING), NULL), UA_STATUS_GOOD);
    assert_null(out.data);
    memset(buf, 0, 4);
    assert_int_equal(ua_decode_buf(buf, 4, &out, UA_TYPE(STRING), NULL), UA_STATUS_GOOD);
    assert_ptr_equal(out.data, UA_EMPTY_ARRAY);
    ua_string_clear(&out);
}

static void test_guid(void **state)
{
    (void)state;
    /* Part 6 5.2.2.7: {72962B91-FA75-4AE6-8D28-B404DC7DAF63} */
    ua_guid g = {0x72962B91, 0xFA75, 0x4AE6, {0x8D, 0x28, 0xB4, 0x04, 0xDC, 0x7D, 0xAF, 0x63}};
    check_vector(&g, UA_TYPE(GUID), "91 2B 96 72 75 FA E6 4A 8D 28 B4 04 DC 7D AF 63");
}

static void test_node_ids(void **state)
{
    (void)state;
    ua_node_id n = ua_node_id_numeric(0, 72); /* two-byte form, Part 6 Figure 8 */
    check_vector(&n, UA_TYPE(NODE_ID), "00 48");
    n = ua_node_id_numeric(5, 1025); /* four-byte form, Part 6 Figure 9 */
    check_vector(&n, UA_TYPE(NODE_ID), "01 05 01 04");
    n = ua_node_id_numeric(2, 70000);
    check_vector(&n, UA_TYPE(NODE_ID), "02 02 00 70 11 01 00");
    n = ua_node_id_numeric(256, 1);
    check_vector(&n, UA_TYPE(NODE_ID), "02 00 01 01 00 00 00");

    ua_node_id s = {1, UA_NODEID_STRING, {.string = ua_string_view("Hot\xE6\xB0\xB4")}};
    check_vector(&s, UA_TYPE(NODE_ID), "03 01 00 06 00 00 00 48 6F 74 E6 B0 B4"); /* Figure 7 */
    ua_node_id g = {
        4,
        UA_NODEID_GUID,
        {.guid = {0x72962B91, 0xFA75, 0x4AE6, {0x8D, 0x28, 0xB4, 0x04, 0xDC, 0x7D, 0xAF, 0x63}}}};
    check_vector(&g, UA_TYPE(NODE_ID), "04 04 00 91 2B 96 72 75 FA E6 4A 8D 28 B4 04 DC 7D AF 63");
    uint8_t raw[2] = {0xCA, 0xFE};
    ua_node_id b = {1, UA_NODEID_BYTESTRING, {.string = {2, raw}}};
    check_vector(&b, UA_TYPE(NODE_ID), "05 01 00 02 00 00 00 CA FE");

    ua_expanded_node_id x;
    memset(&x, 0, sizeof x);
    x.node_id = ua_node_id_numeric(0, 72);
    check_vector(&x, UA_TYPE(EXPANDED_NODE_ID), "00 48");
    x.namespace_uri = ua_string_view("urn:a");
    x.server_index = 2;
    check_vector(&x, UA_TYPE(EXPANDED_NODE_ID), "C0 48 05 00 00 00 75 72 6E 3A 61 02 00 00 00");

    /* a plain NodeId must not carry the ExpandedNodeId flags; unknown forms are errors */
    uint8_t bad[] = {0x80, 0x48};
    ua_node_id out;
    assert_int_equal(ua_decode_buf(bad, 2, &out, UA_TYPE(NODE_ID), NULL),
                     UA_STATUS_BAD_DECODING_ERROR);
    uint8_t bad2[] = {0x06, 0x00, 0x00};
    assert_int_equal(ua_decode_buf(bad2, 3, &out, UA_TYPE(NODE_ID), NULL),
                     UA_STATUS_BAD_DECODING_ERROR);
}

static void test_names_and_texts(void **state)
{
    (void)state;
    ua_qualified_name q = {1, ua_string_view("Tag")};
    check_vector(&q, UA_TYPE(QUALIFIED_NAME), "01 00 03 00 00 00 54 61 67");
    ua_localized_text l = {ua_string_view("en"), ua_string_view("Hi")};
    check_vector(&l, UA_TYPE(LOCALIZED_TEXT), "03 02 00 00 00 65 6E 02 00 00 00 48 69");
    ua_localized_text t = {{0, NULL}, ua_string_view("Hi")};
    check_vector(&t, UA_TYPE(LOCALIZED_TEXT), "02 02 00 00 00 48 69");
    ua_localized_text none = {{0, NULL}, {0, NULL}};
    check_vector(&none, UA_TYPE(LOCALIZED_TEXT), "00");
}

static void test_extension_object(void **state)
{
    (void)state;
    /* a known structure: Range {0, 100}, DefaultBinary 886 = 0x376 */
    ua_range r = {0.0, 100.0};
    ua_extension_object eo;
    memset(&eo, 0, sizeof eo);
    eo.encoding = UA_EO_DECODED;
    eo.type = UA_TYPE(RANGE);
    eo.data = &r;
    check_vector(&eo, UA_TYPE(EXTENSION_OBJECT),
                 "01 00 76 03 01 10 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 59 40");
    uint8_t buf[64];
    size_t n = hex("01 00 76 03 01 10 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 59 40",
                   buf, sizeof buf);
    ua_extension_object out;
    assert_int_equal(ua_decode_buf(buf, n, &out, UA_TYPE(EXTENSION_OBJECT), NULL), UA_STATUS_GOOD);
    assert_int_equal(out.encoding, UA_EO_DECODED);
    assert_ptr_equal(out.type, UA_TYPE(RANGE));
    assert_true(((ua_range *)out.data)->high == 100.0);
    ua_extension_object_clear(&out);

    /* an unknown structure stays opaque */
    ua_extension_object opaque;
    memset(&opaque, 0, sizeof opaque);
    uint8_t body[3] = {1, 2, 3};
    opaque.encoding = UA_EO_BINARY;
    opaque.type_id = ua_node_id_numeric(2, 5000);
    opaque.body.data = body;
    opaque.body.length = 3;
    check_vector(&opaque, UA_TYPE(EXTENSION_OBJECT), "01 02 88 13 01 03 00 00 00 01 02 03");

    ua_extension_object empty;
    memset(&empty, 0, sizeof empty);
    check_vector(&empty, UA_TYPE(EXTENSION_OBJECT), "00 00 00");

    /* body length disagreeing with what the Range decoder consumed */
    n = hex(
        "01 00 76 03 01 14 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 59 40 00 00 00 00",
        buf, sizeof buf);
    assert_int_equal(ua_decode_buf(buf, n, &out, UA_TYPE(EXTENSION_OBJECT), NULL),
                     UA_STATUS_BAD_DECODING_ERROR);
    n = hex("01 00 76 03 01 0C 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 59 40", buf,
            sizeof buf);
    assert_int_equal(ua_decode_buf(buf, n, &out, UA_TYPE(EXTENSION_OBJECT), NULL),
                     UA_STATUS_BAD_DECODING_ERROR);
    /* negative length other than -1 */
    n = hex("01 02 88 13 01 FE FF FF FF", buf, sizeof buf);
    assert_int_equal(ua_decode_buf(buf, n, &out, UA_TYPE(EXTENSION_OBJECT), NULL),
                     UA_STATUS_BAD_DECODING_ERROR);
    /* unknown encoding byte */
    n = hex("00 00 03", buf, sizeof buf);
    assert_int_equal(ua_decode_buf(buf, n, &out, UA_TYPE(EXTENSION_OBJECT), NULL),
                     UA_STATUS_BAD_DECODING_ERROR);
}

static void test_variant(void **state)
{
    (void)state;
    ua_variant v;
    memset(&v, 0, sizeof v);
    check_vector(&v, UA_TYPE(VARIANT), "00");

    int32_t i = 7;
    assert_int_equal(ua_variant_set_scalar_copy(&v, &i, UA_TYPE(INT32)), UA_STATUS_GOOD);
    assert_null(v.data); /* held inline */
    assert_int_equal(*(int32_t *)ua_variant_data(&v), 7);
    check_vector(&v, UA_TYPE(VARIANT), "06 07 00 00 00");

    ua_string s = ua_string_view("ab");
    assert_int_equal(ua_variant_set_scalar_copy(&v, &s, UA_TYPE(STRING)), UA_STATUS_GOOD);
    check_vector(&v, UA_TYPE(VARIANT), "0C 02 00 00 00 61 62");

    ua_node_id n = ua_node_id_numeric(1, 300);
    assert_int_equal(ua_variant_set_scalar_copy(&v, &n, UA_TYPE(NODE_ID)), UA_STATUS_GOOD);
    assert_non_null(v.data); /* too big to be inline */
    check_vector(&v, UA_TYPE(VARIANT), "11 01 01 2C 01");

    int32_t arr[4] = {1, 2, 3, 4};
    assert_int_equal(ua_variant_set_array_copy(&v, arr, 4, UA_TYPE(INT32)), UA_STATUS_GOOD);
    check_vector(&v, UA_TYPE(VARIANT),
                 "86 04 00 00 00 01 00 00 00 02 00 00 00 03 00 00 00 04 00 00 00");
    /* with ArrayDimensions 2x2 */
    uint32_t dims[2] = {2, 2};
    v.dims = dims;
    v.dims_count = 2;
    check_vector(&v, UA_TYPE(VARIANT),
                 "C6 04 00 00 00 01 00 00 00 02 00 00 00 03 00 00 00 04 00 00 00 02 00 00 00 02 00 "
                 "00 00 02 00 00 00");
    v.dims = NULL;
    v.dims_count = 0;
    /* array of strings */
    ua_string strs[2] = {ua_string_view("a"), {0, NULL}};
    assert_int_equal(ua_variant_set_array_copy(&v, strs, 2, UA_TYPE(STRING)), UA_STATUS_GOOD);
    check_vector(&v, UA_TYPE(VARIANT), "8C 02 00 00 00 01 00 00 00 61 FF FF FF FF");
    /* a structure travels as an ExtensionObject */
    ua_range r = {1.0, 2.0};
    assert_int_equal(ua_variant_set_scalar_copy(&v, &r, UA_TYPE(RANGE)), UA_STATUS_GOOD);
    uint8_t buf[64], *pos = buf;
    assert_int_equal(ua_encode(&v, UA_TYPE(VARIANT), &pos, buf + sizeof buf), UA_STATUS_GOOD);
    uint8_t want[64];
    size_t wn = hex("16 01 00 76 03 01 10 00 00 00 00 00 00 00 00 00 F0 3F 00 00 00 00 00 00 00 40",
                    want, sizeof want);
    assert_int_equal((size_t)(pos - buf), wn);
    assert_memory_equal(buf, want, wn);
    ua_variant_clear(&v);

    /* a scalar Variant inside a Variant, dimensions on a scalar, bad type ids */
    ua_variant out;
    uint8_t bad1[] = {0x18, 0x00};
    assert_int_equal(ua_decode_buf(bad1, 2, &out, UA_TYPE(VARIANT), NULL),
                     UA_STATUS_BAD_DECODING_ERROR);
    uint8_t bad2[] = {0x46, 0, 0, 0, 0};
    assert_int_equal(ua_decode_buf(bad2, 5, &out, UA_TYPE(VARIANT), NULL),
                     UA_STATUS_BAD_DECODING_ERROR);
    uint8_t bad3[] = {0x1A};
    assert_int_equal(ua_decode_buf(bad3, 1, &out, UA_TYPE(VARIANT), NULL),
                     UA_STATUS_BAD_DECODING_ERROR);
    uint8_t bad4[] = {0x40};
    assert_int_equal(ua_decode_buf(bad4, 1, &out, UA_TYPE(VARIANT), NULL),
                     UA_STATUS_BAD_DECODING_ERROR);
}

static void test_data_value(void **state)
{
    (void)state;
    ua_data_value dv;
    memset(&dv, 0, sizeof dv);
    check_vector(&dv, UA_TYPE(DATA_VALUE), "00");
    double d = 1.0;
    assert_int_equal(ua_variant_set_scalar_copy(&dv.value, &d, UA_TYPE(DOUBLE)), UA_STATUS_GOOD);
    dv.has = UA_DV_VALUE | UA_DV_STATUS | UA_DV_SOURCE_TIMESTAMP | UA_DV_SERVER_PICOSECONDS;
    dv.status = 0x40000000u;
    dv.source_timestamp = UA_DATETIME_UNIX_EPOCH;
    dv.server_picoseconds = 5;
    check_vector(&dv, UA_TYPE(DATA_VALUE),
                 "27 0B 00 00 00 00 00 00 F0 3F 00 00 00 40 00 80 3E D5 DE B1 9D 01 05 00");
    ua_data_value_clear(&dv);
}

static void test_diagnostic_info(void **state)
{
    (void)state;
    ua_diagnostic_info inner;
    memset(&inner, 0, sizeof inner);
    inner.has = UA_DI_SYMBOLIC_ID;
    inner.symbolic_id = 3;
    ua_diagnostic_info di;
    memset(&di, 0, sizeof di);
    di.has = UA_DI_SYMBOLIC_ID | UA_DI_LOCALE | UA_DI_ADDITIONAL_INFO | UA_DI_INNER_STATUS_CODE |
             UA_DI_INNER_DIAGNOSTIC_INFO;
    di.symbolic_id = 1;
    di.locale = 2;
    di.additional_info = ua_string_view("x");
    di.inner_status_code = 0x80340000u;
    di.inner = &inner;
    check_vector(&di, UA_TYPE(DIAGNOSTIC_INFO),
                 "79 01 00 00 00 02 00 00 00 01 00 00 00 78 00 00 34 80 01 03 00 00 00");
}

/* ----------------------------------------------------------- service messages */

static void test_read_request(void **state)
{
    (void)state;
    ua_read_value_id ids[2];
    memset(ids, 0, sizeof ids);
    ids[0].node_id = ua_node_id_numeric(0, 2258); /* Server_ServerStatus_CurrentTime */
    ids[0].attribute_id = 13;
    ids[1].node_id = (ua_node_id){3, UA_NODEID_STRING, {.string = ua_string_view("Tag")}};
    ids[1].attribute_id = 13;
    ua_read_request rq;
    ua_read_request_init(&rq);
    rq.request_header.authentication_token = ua_node_id_numeric(0, 0);
    rq.request_header.request_handle = 42;
    rq.request_header.timeout_hint = 10000;
    rq.max_age = 0;
    rq.timestamps_to_return = UA_TIMESTAMPS_TO_RETURN_BOTH;
    rq.nodes_to_read = ids;
    rq.nodes_to_read_count = 2;
    check_vector(&rq, UA_TYPE(READ_REQUEST),
                 /* RequestHeader */
                 "00 00"                    /* authenticationToken i=0 */
                 " 00 00 00 00 00 00 00 00" /* timestamp */
                 " 2A 00 00 00"             /* requestHandle */
                 " 00 00 00 00"             /* returnDiagnostics */
                 " FF FF FF FF"             /* auditEntryId null */
                 " 10 27 00 00"             /* timeoutHint */
                 " 00 00 00"                /* additionalHeader */
                 " 00 00 00 00 00 00 00 00" /* maxAge */
                 " 02 00 00 00"             /* Both */
                 " 02 00 00 00"             /* 2 nodes */
                 " 01 00 D2 08 0D 00 00 00 FF FF FF FF 00 00 FF FF FF FF"
                 " 03 03 00 03 00 00 00 54 61 67 0D 00 00 00 FF FF FF FF 00 00 FF FF FF FF");
}

/* A PublishResponse carrying a DataChangeNotification with n Double values. */
static size_t build_publish_response(uint8_t *buf, size_t cap, size_t n)
{
    ua_monitored_item_notification *items = calloc(n, sizeof *items);
    for (size_t i = 0; i < n; i++) {
        items[i].client_handle = (uint32_t)i;
        double d = (double)i * 0.5;
        ua_variant_set_scalar_copy(&items[i].value.value, &d, UA_TYPE(DOUBLE));
        items[i].value.has = UA_DV_VALUE | UA_DV_SOURCE_TIMESTAMP;
        items[i].value.source_timestamp = UA_DATETIME_UNIX_EPOCH + (int64_t)i;
    }
    ua_data_change_notification dcn;
    ua_data_change_notification_init(&dcn);
    dcn.monitored_items = items;
    dcn.monitored_items_count = n;
    ua_extension_object eo;
    memset(&eo, 0, sizeof eo);
    eo.encoding = UA_EO_DECODED;
    eo.type = UA_TYPE(DATA_CHANGE_NOTIFICATION);
    eo.data = &dcn;
    ua_publish_response pr;
    ua_publish_response_init(&pr);
    pr.subscription_id = 9;
    pr.notification_message.sequence_number = 5;
    pr.notification_message.notification_data = &eo;
    pr.notification_message.notification_data_count = 1;
    uint32_t avail[1] = {5};
    pr.available_sequence_numbers = avail;
    pr.available_sequence_numbers_count = 1;
    pr.results = UA_EMPTY_ARRAY;
    uint8_t *pos = buf;
    assert_int_equal(ua_encode(&pr, UA_TYPE(PUBLISH_RESPONSE), &pos, buf + cap), UA_STATUS_GOOD);
    for (size_t i = 0; i < n; i++)
        ua_data_value_clear(&items[i].value);
    free(items);
    return (size_t)(pos - buf);
}

static void test_publish_response(void **state)
{
    (void)state;
    static uint8_t buf[4096];
    size_t n = build_publish_response(buf, sizeof buf, 3);
    ua_publish_response pr;
    assert_int_equal(ua_decode_buf(buf, n, &pr, UA_TYPE(PUBLISH_RESPONSE), NULL), UA_STATUS_GOOD);
    assert_int_equal(pr.subscription_id, 9);
    assert_int_equal(pr.notification_message.notification_data_count, 1);
    ua_extension_object *eo = &pr.notification_message.notification_data[0];
    assert_int_equal(eo->encoding, UA_EO_DECODED);
    assert_ptr_equal(eo->type, UA_TYPE(DATA_CHANGE_NOTIFICATION));
    ua_data_change_notification *dcn = eo->data;
    assert_int_equal(dcn->monitored_items_count, 3);
    assert_int_equal(dcn->monitored_items[2].client_handle, 2);
    assert_true(*(double *)ua_variant_data(&dcn->monitored_items[2].value.value) == 1.0);
    assert_null(dcn->diagnostic_infos);
    assert_ptr_equal(pr.results, UA_EMPTY_ARRAY);

    /* deep copy, re-encode: same bytes */
    ua_publish_response cp;
    assert_int_equal(ua_publish_response_copy(&pr, &cp), UA_STATUS_GOOD);
    ua_publish_response_clear(&pr);
    static uint8_t again[4096];
    uint8_t *pos = again;
    assert_int_equal(ua_encode(&cp, UA_TYPE(PUBLISH_RESPONSE), &pos, again + sizeof again),
                     UA_STATUS_GOOD);
    assert_int_equal((size_t)(pos - again), n);
    assert_memory_equal(again, buf, n);
    ua_publish_response_clear(&cp);

    /* every truncation fails cleanly */
    for (size_t k = 0; k < n; k++) {
        ua_status rc = ua_decode_buf(buf, k, &pr, UA_TYPE(PUBLISH_RESPONSE), NULL);
        assert_true(rc == UA_STATUS_BAD_DECODING_ERROR);
    }
    /* every allocation failing in turn: BadOutOfMemory, no leak */
    for (long k = 0;; k++) {
        fp_alloc_fail_after(k);
        ua_status rc = ua_decode_buf(buf, n, &pr, UA_TYPE(PUBLISH_RESPONSE), NULL);
        fp_alloc_fail_after(-1);
        if (rc == UA_STATUS_GOOD) {
            ua_publish_response_clear(&pr);
            break;
        }
        assert_int_equal(rc, UA_STATUS_BAD_OUT_OF_MEMORY);
    }
    assert_int_equal(ua_decode_buf(buf, n, &pr, UA_TYPE(PUBLISH_RESPONSE), NULL), UA_STATUS_GOOD);
    for (long k = 0;; k++) {
        fp_alloc_fail_after(k);
        ua_status rc = ua_publish_response_copy(&pr, &cp);
        fp_alloc_fail_after(-1);
        if (rc == UA_STATUS_GOOD) {
            ua_publish_response_clear(&cp);
            break;
        }
        assert_int_equal(rc, UA_STATUS_BAD_OUT_OF_MEMORY);
    }
    ua_publish_response_clear(&pr);
}

static void test_every_type_roundtrips_empty(void **state)
{
    (void)state;
    /* an initialised value of every type encodes, decodes and re-encodes the same */
    static uint8_t a[8192], b[8192];
    for (size_t i = 0; i < UA_TYPE_COUNT; i++) {
        const ua_type *t = &ua_types[i];
        void *v = ua_new(t);
        uint8_t *pos = a;
        assert_int_equal(ua_encode(v, t, &pos, a + sizeof a), UA_STATUS_GOOD);
        size_t n = (size_t)(pos - a);
        assert_true(n >= t->min_encoded_size);
        void *w = ua_new(t);
        assert_int_equal(ua_decode_buf(a, n, w, t, NULL), UA_STATUS_GOOD);
        pos = b;
        assert_int_equal(ua_encode(w, t, &pos, b + sizeof b), UA_STATUS_GOOD);
        assert_int_equal((size_t)(pos - b), n);
        assert_memory_equal(a, b, n);
        void *c = ua_new(t);
        assert_int_equal(ua_copy(w, c, t), UA_STATUS_GOOD);
        char text[64];
        ua_print(c, t, text, sizeof text);
        ua_delete(c, t);
        ua_delete(v, t);
        ua_delete(w, t);
        if (t->kind == UA_KIND_STRUCTURE && t->binary_encoding_id) {
            assert_ptr_equal(ua_find_type_by_encoding_id(t->binary_encoding_id), t);
        }
        assert_ptr_equal(ua_find_type_by_name(t->name), t);
    }
    assert_ptr_equal(ua_find_type_by_encoding_id(UA_NS0ID_READ_REQUEST_ENCODING_DEFAULT_BINARY),
                     UA_TYPE(READ_REQUEST));
    assert_ptr_equal(ua_find_type_by_type_id(UA_NS0ID_RANGE), UA_TYPE(RANGE));
    assert_null(ua_find_type_by_encoding_id(1));
    assert_non_null(UA_TYPE(EVENT_FILTER));
    assert_non_null(UA_TYPE(ARGUMENT));
    assert_non_null(UA_TYPE(EU_INFORMATION));
    assert_non_null(UA_TYPE(CREATE_SESSION_REQUEST));
    assert_non_null(UA_TYPE(OPEN_SECURE_CHANNEL_RESPONSE));
}

/* ---------------------------------------------------------------- hostile */

static void test_huge_lengths(void **state)
{
    (void)state;
    ua_read_response rr;
    /* ResponseHeader: ts, handle, result, diag(00), stringTable(-1), additionalHeader; then
     * results with a huge count and no bytes behind it */
    uint8_t buf[64];
    size_t n = hex("00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 FF FF FF FF 00 00 00"
                   " FF FF FF 7F",
                   buf, sizeof buf);
    assert_int_equal(ua_decode_buf(buf, n, &rr, UA_TYPE(READ_RESPONSE), NULL),
                     UA_STATUS_BAD_DECODING_ERROR);
    /* negative count other than -1 */
    buf[n - 1] = 0x80;
    buf[n - 4] = 0x00;
    assert_int_equal(ua_decode_buf(buf, n, &rr, UA_TYPE(READ_RESPONSE), NULL),
                     UA_STATUS_BAD_DECODING_ERROR);
    /* a string longer than the limit */
    ua_string s;
    uint8_t sb[8] = {0x05, 0, 0, 0, 'a', 'b', 'c', 'd'};
    ua_decode_limits lim = {4, 0, 0, 0};
    assert_int_equal(ua_decode_buf(sb, 8, &s, UA_TYPE(STRING), &lim),
                     UA_STATUS_BAD_ENCODING_LIMITS_EXCEEDED);
    /* a string longer than the input */
    assert_int_equal(ua_decode_buf(sb, 8, &s, UA_TYPE(STRING), NULL), UA_STATUS_BAD_DECODING_ERROR);
    /* an array longer than the array limit */
    uint8_t ab[12] = {0x02, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0};
    ua_decode_limits alim = {0, 1, 0, 0};
    ua_variant v;
    uint8_t vb[13] = {0x86};
    memcpy(vb + 1, ab, 12);
    assert_int_equal(ua_decode_buf(vb, 13, &v, UA_TYPE(VARIANT), &alim),
                     UA_STATUS_BAD_ENCODING_LIMITS_EXCEEDED);
    assert_int_equal(ua_decode_buf(vb, 13, &v, UA_TYPE(VARIANT), NULL), UA_STATUS_GOOD);
    ua_variant_clear(&v);

    /* memory amplification: 100000 empty DataValues are 100 KB on the wire and about 8 MB
     * in memory; the allocation budget stops them */
    enum { N_DV = 100000 };
    uint8_t *big = calloc(1, 5 + N_DV);
    big[0] = 0x97; /* array of DataValue */
    big[1] = (uint8_t)N_DV;
    big[2] = (uint8_t)(N_DV >> 8);
    big[3] = (uint8_t)(N_DV >> 16);
    ua_decode_limits blim = {0, 0, 0, 1 << 20};
    assert_int_equal(ua_decode_buf(big, 5 + N_DV, &v, UA_TYPE(VARIANT), &blim),
                     UA_STATUS_BAD_ENCODING_LIMITS_EXCEEDED);
    assert_int_equal(ua_decode_buf(big, 5 + N_DV, &v, UA_TYPE(VARIANT), NULL), UA_STATUS_GOOD);
    assert_int_equal(v.array_length, N_DV);
    ua_variant_clear(&v);
    free(big);
}

static void test_deep_nesting(void **state)
{
    (void)state;
    /* Variant array of one Variant, nested 1000 times */
    enum { DEPTH = 1000 };
    uint8_t *buf = malloc(DEPTH * 5 + 1);
    size_t n = 0;
    for (int i = 0; i < DEPTH; i++) {
        buf[n++] = 0x98; /* array of Variant */
        buf[n++] = 1;
        buf[n++] = 0;
        buf[n++] = 0;
        buf[n++] = 0;
    }
    buf[n++] = 0x00;
    ua_variant v;
    assert_int_equal(ua_decode_buf(buf, n, &v, UA_TYPE(VARIANT), NULL),
                     UA_STATUS_BAD_ENCODING_LIMITS_EXCEEDED);
    /* within the limit it decodes */
    ua_decode_limits lim = {0, 0, 2 * DEPTH + 2, 0};
    assert_int_equal(ua_decode_buf(buf, n, &v, UA_TYPE(VARIANT), &lim), UA_STATUS_GOOD);
    ua_variant_clear(&v);
    free(buf);

    /* DiagnosticInfo with 2000 inner levels */
    enum { DI_DEPTH = 2000 };
    buf = malloc(DI_DEPTH + 1);
    memset(buf, 0x40, DI_DEPTH);
    buf[DI_DEPTH] = 0x00;
    ua_diagnostic_info di;
    assert_int_equal(ua_decode_buf(buf, DI_DEPTH + 1, &di, UA_TYPE(DIAGNOSTIC_INFO), NULL),
                     UA_STATUS_BAD_ENCODING_LIMITS_EXCEEDED);
    ua_decode_limits dlim = {0, 0, DI_DEPTH + 10, 0};
    assert_int_equal(ua_decode_buf(buf, DI_DEPTH + 1, &di, UA_TYPE(DIAGNOSTIC_INFO), &dlim),
                     UA_STATUS_GOOD);
    ua_diagnostic_info cp;
    assert_int_equal(ua_diagnostic_info_copy(&di, &cp), UA_STATUS_GOOD);
    ua_diagnostic_info_clear(&di);
    ua_diagnostic_info_clear(&cp);
    free(buf);

    /* ExtensionObjects nested through LiteralOperands: Variant(EO(LiteralOperand{Variant(
     * EO(...))})), 100 levels, built from the inside out */
    enum { EO_DEPTH = 100 };
    uint32_t enc_id = UA_NS0ID_LITERAL_OPERAND_ENCODING_DEFAULT_BINARY;
    size_t cap = 1 + EO_DEPTH * 10, len = 1;
    buf = malloc(cap);
    uint8_t *tmp = malloc(cap);
    buf[0] = 0x00; /* innermost: an empty Variant */
    for (int i = 0; i < EO_DEPTH; i++) {
        tmp[0] = 0x16; /* Variant: ExtensionObject scalar */
        tmp[1] = 0x01; /* four-byte NodeId */
        tmp[2] = 0x00;
        tmp[3] = (uint8_t)enc_id;
        tmp[4] = (uint8_t)(enc_id >> 8);
        tmp[5] = 0x01; /* binary body */
        tmp[6] = (uint8_t)len;
        tmp[7] = (uint8_t)(len >> 8);
        tmp[8] = 0;
        tmp[9] = 0;
        memcpy(tmp + 10, buf, len);
        len += 10;
        memcpy(buf, tmp, len);
    }
    assert_int_equal(ua_decode_buf(buf, len, &v, UA_TYPE(VARIANT), NULL),
                     UA_STATUS_BAD_ENCODING_LIMITS_EXCEEDED);
    ua_decode_limits elim = {0, 0, 4 * EO_DEPTH + 4, 0};
    assert_int_equal(ua_decode_buf(buf, len, &v, UA_TYPE(VARIANT), &elim), UA_STATUS_GOOD);
    ua_extension_object *eo = ua_variant_data(&v);
    assert_ptr_equal(eo->type, UA_TYPE(LITERAL_OPERAND));
    ua_variant_clear(&v);
    free(tmp);
    free(buf);
}

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(ua_status_name(0x80340000u), "BadNodeIdUnknown");
    assert_string_equal(ua_status_name(UA_STATUS_BAD_DECODING_ERROR), "BadDecodingError");
    assert_string_equal(ua_status_name(0x80340000u | 0x0400u), "BadNodeIdUnknown");
    assert_string_equal(ua_status_name(0), "Good");
    assert_string_equal(ua_status_name(0x80FF0000u), "Bad");
    assert_true(strlen(ua_status_description(0x80340000u)) > 0);
    ua_status s;
    assert_true(ua_status_from_name("BadTimeout", &s));
    assert_int_equal(s, UA_STATUS_BAD_TIMEOUT);
    assert_false(ua_status_from_name("NoSuchThing", &s));
    assert_true(ua_status_is_bad(UA_STATUS_BAD_TIMEOUT));
    assert_true(ua_status_is_good(UA_STATUS_GOOD));
}

static void expect_print(const void *p, const ua_type *t, const char *want)
{
    char buf[256];
    size_t n = ua_print(p, t, buf, sizeof buf);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static void test_print(void **state)
{
    (void)state;
    double d = 0.1;
    expect_print(&d, UA_TYPE(DOUBLE), "0.1");
    float f = -6.5f;
    expect_print(&f, UA_TYPE(FLOAT), "-6.5");
    int32_t i = -42;
    expect_print(&i, UA_TYPE(INT32), "-42");
    uint64_t u = UINT64_MAX;
    expect_print(&u, UA_TYPE(UINT64), "18446744073709551615");
    bool b = true;
    expect_print(&b, UA_TYPE(BOOLEAN), "true");
    ua_datetime dt = UA_DATETIME_UNIX_EPOCH + 10000000LL * 86400 * 365 + 1234 * 10000;
    expect_print(&dt, UA_TYPE(DATETIME), "1971-01-01T00:00:01.234Z");
    dt = 0;
    expect_print(&dt, UA_TYPE(DATETIME), "1601-01-01T00:00:00.000Z");
    dt = 133801632000000000LL; /* 2025-01-01 */
    expect_print(&dt, UA_TYPE(DATETIME), "2025-01-01T00:00:00.000Z");
    ua_status_code sc = 0x80340000u;
    expect_print(&sc, UA_TYPE(STATUS_CODE), "BadNodeIdUnknown");
    ua_guid g = {0x72962B91, 0xFA75, 0x4AE6, {0x8D, 0x28, 0xB4, 0x04, 0xDC, 0x7D, 0xAF, 0x63}};
    expect_print(&g, UA_TYPE(GUID), "72962b91-fa75-4ae6-8d28-b404dc7daf63");
    ua_qualified_name q = {2, ua_string_view("Name")};
    expect_print(&q, UA_TYPE(QUALIFIED_NAME), "2:Name");
    ua_localized_text l = {ua_string_view("en"), ua_string_view("Hi")};
    expect_print(&l, UA_TYPE(LOCALIZED_TEXT), "Hi");
    uint8_t raw[2] = {1, 2};
    ua_bytestring bs = {2, raw};
    expect_print(&bs, UA_TYPE(BYTESTRING), "0x0102");
    ua_node_id n = {3, UA_NODEID_STRING, {.string = ua_string_view("Tag")}};
    expect_print(&n, UA_TYPE(NODE_ID), "ns=3;s=Tag");

    ua_variant v;
    memset(&v, 0, sizeof v);
    expect_print(&v, UA_TYPE(VARIANT), "null");
    double arr[3] = {1.5, 2, -3};
    assert_int_equal(ua_variant_set_array_copy(&v, arr, 3, UA_TYPE(DOUBLE)), UA_STATUS_GOOD);
    expect_print(&v, UA_TYPE(VARIANT), "1.5,2,-3");
    ua_range r = {0, 100};
    ua_extension_object eo;
    memset(&eo, 0, sizeof eo);
    assert_int_equal(ua_extension_object_set_copy(&eo, &r, UA_TYPE(RANGE)), UA_STATUS_GOOD);
    assert_int_equal(ua_variant_set_scalar_copy(&v, &eo, UA_TYPE(EXTENSION_OBJECT)),
                     UA_STATUS_GOOD);
    ua_extension_object_clear(&eo);
    expect_print(&v, UA_TYPE(VARIANT), "Range{Low=0,High=100}");
    ua_range *rp = ua_variant_struct(&v, UA_TYPE(RANGE));
    assert_non_null(rp);
    assert_true(rp->high == 100.0);
    assert_null(ua_variant_struct(&v, UA_TYPE(EU_INFORMATION)));
    ua_variant_clear(&v);

    ua_data_value dv;
    memset(&dv, 0, sizeof dv);
    dv.has = UA_DV_STATUS;
    dv.status = UA_STATUS_BAD_NODE_ID_UNKNOWN;
    expect_print(&dv, UA_TYPE(DATA_VALUE), "BadNodeIdUnknown");
    dv.has = UA_DV_STATUS | UA_DV_VALUE;
    dv.status = UA_STATUS_UNCERTAIN_LAST_USABLE_VALUE;
    double last = 21.5;
    assert_int_equal(ua_variant_set_scalar_copy(&dv.value, &last, UA_TYPE(DOUBLE)), UA_STATUS_GOOD);
    expect_print(&dv, UA_TYPE(DATA_VALUE), "21.5 (UncertainLastUsableValue)");
    ua_variant_clear(&dv.value);
    float nan = NAN, inf = -INFINITY, tenth = 0.1f;
    expect_print(&nan, UA_TYPE(FLOAT), "NaN");
    expect_print(&inf, UA_TYPE(FLOAT), "-Infinity");
    expect_print(&tenth, UA_TYPE(FLOAT), "0.1");
    ua_datetime far = INT64_MAX;
    expect_print(&far, UA_TYPE(DATETIME), "9223372036854775807");

    ua_node_class nc = UA_NODE_CLASS_VARIABLE;
    expect_print(&nc, UA_TYPE(NODE_CLASS), "Variable");
    assert_string_equal(ua_enum_name(UA_TYPE(TIMESTAMPS_TO_RETURN), 2), "Both");
    assert_null(ua_enum_name(UA_TYPE(NODE_CLASS), 3));
    nc = 3;
    expect_print(&nc, UA_TYPE(NODE_CLASS), "3");
    ua_read_value_id rv;
    memset(&rv, 0, sizeof rv);
    rv.node_id = ua_node_id_numeric(0, 2258);
    rv.attribute_id = 13;
    expect_print(&rv, UA_TYPE(READ_VALUE_ID),
                 "{NodeId=i=2258,AttributeId=13,IndexRange=,DataEncoding=}");

    /* truncation reports the full length */
    char small[4];
    size_t len = ua_print(&n, UA_TYPE(NODE_ID), small, sizeof small);
    assert_int_equal(len, strlen("ns=3;s=Tag"));
    assert_string_equal(small, "ns=");
}

static void test_message(void **state)
{
    (void)state;
    ua_read_request rq;
    ua_read_request_init(&rq);
    rq.request_header.request_handle = 5;
    uint8_t buf[128], *pos = buf;
    assert_int_equal(ua_encode_message(&rq, UA_TYPE(READ_REQUEST), &pos, buf + sizeof buf),
                     UA_STATUS_GOOD);
    /* ReadRequest_Encoding_DefaultBinary = 631 = 0x277, four-byte NodeId */
    assert_int_equal(buf[0], 0x01);
    assert_int_equal(buf[1], 0x00);
    assert_int_equal(buf[2], 0x77);
    assert_int_equal(buf[3], 0x02);
    const ua_type *t;
    void *m;
    assert_int_equal(ua_decode_message(buf, (size_t)(pos - buf), &t, &m, NULL), UA_STATUS_GOOD);
    assert_ptr_equal(t, UA_TYPE(READ_REQUEST));
    assert_int_equal(((ua_read_request *)m)->request_header.request_handle, 5);
    assert_int_equal(ua_request_header_of(m, t)->request_handle, 5);
    assert_null(ua_response_header_of(m, t));
    /* every service request and response type has its header first */
    for (size_t k = 0; k < UA_TYPE_COUNT; k++) {
        const ua_type *x = &ua_types[k];
        size_t len = strlen(x->name);
        uint8_t dummy[4096];
        assert_true(x->size <= sizeof dummy);
        if (len > 7 && strcmp(x->name + len - 7, "Request") == 0 && x->binary_encoding_id &&
            strcmp(x->name, "CallMethodRequest") != 0 &&
            strncmp(x->name, "MonitoredItem", 13) != 0) /* items, not services */
            assert_non_null(ua_request_header_of(dummy, x));
        if (len > 8 && strcmp(x->name + len - 8, "Response") == 0 && x->binary_encoding_id)
            assert_non_null(ua_response_header_of(dummy, x));
    }
    ua_delete(m, t);
    /* trailing byte, unknown type, truncated */
    buf[pos - buf] = 0;
    assert_int_equal(ua_decode_message(buf, (size_t)(pos - buf) + 1, &t, &m, NULL),
                     UA_STATUS_BAD_DECODING_ERROR);
    assert_null(m);
    uint8_t unk[] = {0x01, 0x00, 0x01, 0x00};
    assert_int_equal(ua_decode_message(unk, 4, &t, &m, NULL), UA_STATUS_BAD_UNKNOWN_RESPONSE);
    assert_int_equal(ua_decode_message(buf, 10, &t, &m, NULL), UA_STATUS_BAD_DECODING_ERROR);
    /* a type without a binary encoding */
    pos = buf;
    int32_t i = 0;
    assert_int_equal(ua_encode_message(&i, UA_TYPE(INT32), &pos, buf + sizeof buf),
                     UA_STATUS_BAD_ENCODING_ERROR);
}

static void test_read_response(void **state)
{
    (void)state;
    /* as a server sends it: one Int32 value with a source timestamp, a Bad result */
    static const char *vec = "00 80 3E D5 DE B1 9D 01" /* timestamp */
                             " 2A 00 00 00"            /* requestHandle */
                             " 00 00 00 00"            /* serviceResult Good */
                             " 00"                     /* serviceDiagnostics */
                             " 00 00 00 00"            /* stringTable: empty */
                             " 00 00 00"               /* additionalHeader */
                             " 02 00 00 00"            /* 2 results */
                             " 05 06 2A 00 00 00 00 80 3E D5 DE B1 9D 01"
                             " 02 00 00 34 80" /* status only: BadNodeIdUnknown */
                             " FF FF FF FF";   /* diagnosticInfos: null */
    uint8_t buf[128];
    size_t n = hex(vec, buf, sizeof buf);
    ua_read_response rr;
    assert_int_equal(ua_decode_buf(buf, n, &rr, UA_TYPE(READ_RESPONSE), NULL), UA_STATUS_GOOD);
    assert_int_equal(rr.response_header.request_handle, 42);
    assert_ptr_equal(rr.response_header.string_table, UA_EMPTY_ARRAY);
    assert_int_equal(rr.results_count, 2);
    assert_ptr_equal(rr.results[0].value.type, UA_TYPE(INT32));
    assert_int_equal(*(int32_t *)ua_variant_data(&rr.results[0].value), 42);
    assert_int_equal(rr.results[0].source_timestamp, UA_DATETIME_UNIX_EPOCH);
    assert_int_equal(rr.results[1].has, UA_DV_STATUS);
    assert_string_equal(ua_status_name(rr.results[1].status), "BadNodeIdUnknown");
    assert_null(rr.diagnostic_infos);
    ua_read_response_clear(&rr);
    ua_read_response empty;
    ua_read_response_init(&empty);
    check_vector(&empty, UA_TYPE(READ_RESPONSE),
                 "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 FF FF FF FF 00 00 00"
                 " FF FF FF FF FF FF FF FF");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_guid),
        cmocka_unit_test(test_node_ids),
        cmocka_unit_test(test_names_and_texts),
        cmocka_unit_test(test_extension_object),
        cmocka_unit_test(test_variant),
        cmocka_unit_test(test_data_value),
        cmocka_unit_test(test_diagnostic_info),
        cmocka_unit_test(test_read_request),
        cmocka_unit_test(test_read_response),
        cmocka_unit_test(test_publish_response),
        cmocka_unit_test(test_every_type_roundtrips_empty),
        cmocka_unit_test(test_huge_lengths),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_print),
        cmocka_unit_test(test_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
