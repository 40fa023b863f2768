/*
 * test_opcua_codec_interop.c - the codec against an independent implementation: service
 * messages encoded by node-opcua 2.186 (node-opcua-types, the encoder of the test peer)
 * are decoded here, checked field by field, and re-encoded to the very same bytes.
 *
 * The vectors were produced once with node-opcua's BinaryStream encoders (ReadResponse
 * with values of many built-in types, a matrix, ExtensionObjects of Range and
 * EUInformation; PublishResponse with a DataChangeNotification; BrowseResponse;
 * GetEndpointsResponse; Argument; the requests a client sends: CreateSession,
 * ActivateSession with a UserNameIdentityToken, CreateMonitoredItems with a
 * DataChangeFilter and with an EventFilter (select clause, where clause OfType), Call,
 * Write, CreateSubscription, OpenSecureChannel, TranslateBrowsePathsToNodeIds; a
 * PublishResponse with events, a status change and DiagnosticInfos; a ServiceFault) and
 * are kept here as hex so the test needs no node (tools/opcua-gen/interop/vectors.js
 * printed them).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "opcua/ua_types.h"

static const char vec_read_response[] = "e034b058283dda01070000000000000000000000000000000f0000000d"
                                        "0b0000000000000a40e034b058283dda01e034"
                                        "b058283dda01018c03000000010000006103000000e6b0b40000000001"
                                        "c6040000000100000002000000030000000400"
                                        "000002000000020000000200000001150302000000656e050000006865"
                                        "6c6c6f011103020003000000546167010e912b"
                                        "967275fae64a8d28b404dc7daf63010f03000000010203018102000000"
                                        "01000200003480010de034b058283dda010116"
                                        "010076030110000000000000000000f0bf000000000000f03f01160100"
                                        "790301520000002f000000687474703a2f2f77"
                                        "77772e6f7063666f756e646174696f6e2e6f72672f55412f756e697473"
                                        "2f756e2f6365666163744c4543000203000000"
                                        "c2b043020e0000006465677265652043656c7369757301140100010000"
                                        "005101090807060504030201018a0200000000"
                                        "00c03f0000d0c000000000";
static const char vec_publish_response[] = "e034b058283dda01090000000000000000000000000000000400000"
                                           "00200000001000000020000000002000000e034b0"
                                           "58283dda010100000001002b03014a0000000300000000000000050"
                                           "b0000000000000000e034b058283dda0101000000"
                                           "050b000000000000f83fe034b058283dda0102000000050b0000000"
                                           "000000840e034b058283dda010000000001000000"
                                           "0000000000000000";
static const char vec_browse_response[] =
    "e034b058283dda01030000000000000000000000000000000100000000000000020000000909010000000023010101"
    "e9"
    "03010006000000426f696c65720206000000426f696c657201000000003a00000000";
static const char vec_get_endpoints_response[] = "e034b058283dda01010000000000000000000000000000000"
                                                 "1000000180000006f70632e7463703a2f2f6c6f63616c68"
                                                 "6f73743a343834300500000075726e3a780500000075726e3"
                                                 "a7002010000005800000000000000000000000001000000"
                                                 "180000006f70632e7463703a2f2f6c6f63616c686f73743a3"
                                                 "4383430020000003082010000002f000000687474703a2f"
                                                 "2f6f7063666f756e646174696f6e2e6f72672f55412f53656"
                                                 "37572697479506f6c696379234e6f6e6501000000090000"
                                                 "00616e6f6e796d6f757300000000000000000000000000000"
                                                 "00041000000687474703a2f2f6f7063666f756e64617469"
                                                 "6f6e2e6f72672f55412d50726f66696c652f5472616e73706"
                                                 "f72742f75617463702d756173632d756162696e61727900";
static const char vec_argument[] = "0100000078000bffffffff000000000205000000696e707574";

static const char vec_create_session_request[] =
    "040000912b967275fae64a8d28b404dc7daf63e034b058283dda010b0000000000000000000000881300000000000e"
    "00"
    "000075726e3a6669656c64706c616e6500000000020200000066700100000000000000000000000000000000000000"
    "10"
    "0000006f70632e7463703a2f2f683a3438343002000000733120000000070707070707070707070707070707070707"
    "07"
    "07070707070707070707070707ffffffff00000000004ced4000000000";
static const char vec_activate_session_request[] =
    "040000912b967275fae64a8d28b404dc7daf63e034b058283dda010b000000000000000000000088130000000000ff"
    "ff"
    "ffffffffffff000000000100000002000000656e01004401014900000008000000757365726e616d65040000007573"
    "65"
    "72040000000102030429000000687474703a2f2f7777772e77332e6f72672f323030312f30342f786d6c656e632372"
    "73"
    "612d6f61657000000000ffffffff";
static const char vec_create_monitored_items_request[] =
    "040000912b967275fae64a8d28b404dc7daf63e034b058283dda010b00000000000000000000008813000000000003"
    "00"
    "000002000000010000000302000400000054656d700d000000ffffffff0000ffffffff020000002a00000000000000"
    "00"
    "0059400100d40201100000000100000001000000000000000000e03f0a00000001";
static const char vec_create_monitored_items_request_event[] =
    "040000912b967275fae64a8d28b404dc7daf63e034b058283dda010b00000000000000000000008813000000000003"
    "00"
    "000000000000010000000100cd080c000000ffffffff0000ffffffff020000002b00000000000000000000000100d7"
    "02"
    "013b000000010000000100f907010000000000070000004d6573736167650d000000ffffffff010000000e00000001"
    "00"
    "000001005502010500000011010288136400000001";
static const char vec_call_request[] = "040000912b967275fae64a8d28b404dc7daf63e034b058283dda010b000"
                                       "0000000000000000000881300000000000100"
                                       "00000102010001020200020000000b00000000000000400c0100000078";
static const char vec_write_request[] = "040000912b967275fae64a8d28b404dc7daf63e034b058283dda010b00"
                                        "00000000000000000000881300000000000100"
                                        "000003020001000000570d000000ffffffff0104fdff";
static const char vec_create_subscription_request[] =
    "040000912b967275fae64a8d28b404dc7daf63e034b058283dda010b00000000000000000000008813000000000000"
    "00"
    "0000000059403c0000000a000000000000000100";
static const char vec_open_secure_channel_request[] =
    "0000e034b058283dda0101000000000000000000000000000000000000000000000000000001000000ffffffff80ee"
    "36"
    "00";
static const char vec_publish_response_events[] =
    "e034b058283dda010200000000000000210300000000000a800000000000000001000000000000000009000000e034"
    "b0"
    "58283dda010200000001009403011a000000010000002b00000002000000150205000000616c61726d05f401010034"
    "03"
    "010500000000000a800000000000010000001004000000696e666f";
static const char vec_service_fault[] =
    "e034b058283dda010500000000002580000200000001000000610100000062000000";
static const char vec_translate_request[] = "040000912b967275fae64a8d28b404dc7daf63e034b058283dda01"
                                            "0b0000000000000000000000881300000000000100"
                                            "000000550100000000210001020006000000426f696c6572";

static uint8_t *unhex(const char *z, size_t *n)
{
    size_t len = strlen(z) / 2;
    uint8_t *p = malloc(len);
    for (size_t i = 0; i < len; i++) {
        char tmp[3] = {z[2 * i], z[2 * i + 1], 0};
        p[i] = (uint8_t)strtoul(tmp, NULL, 16);
    }
    *n = len;
    return p;
}

/* Decode vec as t into *v (heap), re-encode and compare with the original bytes. */
static void *decode_same(const char *vec, const ua_type *t)
{
    size_t n;
    uint8_t *want = unhex(vec, &n);
    void *v = ua_new(t);
    assert_int_equal(ua_decode_buf(want, n, v, t, NULL), UA_STATUS_GOOD);
    ua_bytestring again;
    assert_int_equal(ua_encode_alloc(v, t, &again), UA_STATUS_GOOD);
    assert_int_equal(again.length, n);
    assert_memory_equal(again.data, want, n);
    assert_int_equal(ua_encoded_size(v, t), n);
    ua_bytestring_clear(&again);
    free(want);
    return v;
}

/* 2024-01-02T03:04:05.678Z */
#define TS (UA_DATETIME_UNIX_EPOCH + 1704164645678LL * 10000)

static void test_read_response(void **state)
{
    (void)state;
    ua_read_response *rr = decode_same(vec_read_response, UA_TYPE(READ_RESPONSE));
    assert_int_equal(rr->response_header.request_handle, 7);
    assert_int_equal(rr->response_header.timestamp, TS);
    assert_int_equal(rr->results_count, 15);
    ua_data_value *r = rr->results;
    assert_true(*(double *)ua_variant_data(&r[0].value) == 3.25);
    assert_int_equal(r[0].source_timestamp, TS);
    assert_true(r[1].value.is_array);
    assert_int_equal(r[1].value.array_length, 3);
    ua_string *s = r[1].value.data;
    assert_int_equal(s[1].length, 3); /* 水 in UTF-8 */
    assert_ptr_equal(s[2].data, UA_EMPTY_ARRAY);
    assert_int_equal(r[2].value.dims_count, 2);
    assert_int_equal(r[2].value.dims[0], 2);
    assert_int_equal(((int32_t *)r[2].value.data)[3], 4);
    char buf[128];
    ua_print(&r[3].value, UA_TYPE(VARIANT), buf, sizeof buf);
    assert_string_equal(buf, "hello");
    ua_print(&r[4].value, UA_TYPE(VARIANT), buf, sizeof buf);
    assert_string_equal(buf, "ns=2;s=Tag");
    ua_print(&r[5].value, UA_TYPE(VARIANT), buf, sizeof buf);
    assert_string_equal(buf, "72962b91-fa75-4ae6-8d28-b404dc7daf63");
    ua_print(&r[6].value, UA_TYPE(VARIANT), buf, sizeof buf);
    assert_string_equal(buf, "0x010203");
    ua_print(&r[7].value, UA_TYPE(VARIANT), buf, sizeof buf);
    assert_string_equal(buf, "true,false");
    assert_int_equal(r[8].has, UA_DV_STATUS);
    assert_string_equal(ua_status_name(r[8].status), "BadNodeIdUnknown");
    ua_print(&r[9].value, UA_TYPE(VARIANT), buf, sizeof buf);
    assert_string_equal(buf, "2024-01-02T03:04:05.678Z");
    ua_range *range = ua_variant_struct(&r[10].value, UA_TYPE(RANGE));
    assert_non_null(range);
    assert_true(range->low == -1.0 && range->high == 1.0);
    ua_eu_information *eu = ua_variant_struct(&r[11].value, UA_TYPE(EU_INFORMATION));
    assert_non_null(eu);
    assert_int_equal(eu->unit_id, 4408652);
    ua_print(&r[12].value, UA_TYPE(VARIANT), buf, sizeof buf);
    assert_string_equal(buf, "1:Q");
    assert_int_equal(*(uint64_t *)ua_variant_data(&r[13].value), 0x0102030405060708ull);
    ua_print(&r[14].value, UA_TYPE(VARIANT), buf, sizeof buf);
    assert_string_equal(buf, "1.5,-6.5");
    ua_delete(rr, UA_TYPE(READ_RESPONSE));
}

static void test_publish_response(void **state)
{
    (void)state;
    ua_publish_response *pr = decode_same(vec_publish_response, UA_TYPE(PUBLISH_RESPONSE));
    assert_int_equal(pr->subscription_id, 4);
    assert_int_equal(pr->available_sequence_numbers_count, 2);
    assert_int_equal(pr->notification_message.sequence_number, 2);
    ua_extension_object *eo = &pr->notification_message.notification_data[0];
    assert_ptr_equal(eo->type, UA_TYPE(DATA_CHANGE_NOTIFICATION));
    ua_data_change_notification *dcn = eo->data;
    assert_int_equal(dcn->monitored_items_count, 3);
    assert_true(*(double *)ua_variant_data(&dcn->monitored_items[2].value.value) == 3.0);
    ua_delete(pr, UA_TYPE(PUBLISH_RESPONSE));
}

static void test_browse_response(void **state)
{
    (void)state;
    ua_browse_response *br = decode_same(vec_browse_response, UA_TYPE(BROWSE_RESPONSE));
    assert_int_equal(br->results_count, 1);
    ua_browse_result *res = &br->results[0];
    assert_int_equal(res->continuation_point.length, 2);
    assert_int_equal(res->references_count, 1);
    ua_reference_description *ref = &res->references[0];
    assert_int_equal(ref->reference_type_id.id.numeric, 35);
    assert_true(ref->is_forward);
    assert_int_equal(ref->node_id.node_id.ns, 1);
    assert_int_equal(ref->node_id.node_id.id.numeric, 1001);
    assert_int_equal(ref->node_class, UA_NODE_CLASS_OBJECT);
    char buf[64];
    ua_print(&ref->browse_name, UA_TYPE(QUALIFIED_NAME), buf, sizeof buf);
    assert_string_equal(buf, "1:Boiler");
    ua_delete(br, UA_TYPE(BROWSE_RESPONSE));
}

static void test_get_endpoints_response(void **state)
{
    (void)state;
    ua_get_endpoints_response *ge =
        decode_same(vec_get_endpoints_response, UA_TYPE(GET_ENDPOINTS_RESPONSE));
    assert_int_equal(ge->endpoints_count, 1);
    ua_endpoint_description *ep = &ge->endpoints[0];
    ua_string url = ua_string_view("opc.tcp://localhost:4840");
    assert_true(ua_string_equal(&ep->endpoint_url, &url));
    assert_int_equal(ep->security_mode, UA_MESSAGE_SECURITY_MODE_NONE);
    assert_int_equal(ep->user_identity_tokens_count, 1);
    assert_int_equal(ep->server.discovery_urls_count, 1);
    ua_delete(ge, UA_TYPE(GET_ENDPOINTS_RESPONSE));
}

static void test_argument(void **state)
{
    (void)state;
    ua_argument *a = decode_same(vec_argument, UA_TYPE(ARGUMENT));
    assert_int_equal(a->data_type.id.numeric, 11);
    assert_int_equal(a->value_rank, -1);
    assert_ptr_equal(a->array_dimensions, UA_EMPTY_ARRAY);
    ua_delete(a, UA_TYPE(ARGUMENT));
}

static void test_requests(void **state)
{
    (void)state;
    static const struct {
        const char *vec;
        const ua_type *type;
    } cases[] = {
        {vec_create_session_request, UA_TYPE(CREATE_SESSION_REQUEST)},
        {vec_activate_session_request, UA_TYPE(ACTIVATE_SESSION_REQUEST)},
        {vec_create_monitored_items_request, UA_TYPE(CREATE_MONITORED_ITEMS_REQUEST)},
        {vec_create_monitored_items_request_event, UA_TYPE(CREATE_MONITORED_ITEMS_REQUEST)},
        {vec_call_request, UA_TYPE(CALL_REQUEST)},
        {vec_write_request, UA_TYPE(WRITE_REQUEST)},
        {vec_create_subscription_request, UA_TYPE(CREATE_SUBSCRIPTION_REQUEST)},
        {vec_open_secure_channel_request, UA_TYPE(OPEN_SECURE_CHANNEL_REQUEST)},
        {vec_translate_request, UA_TYPE(TRANSLATE_BROWSE_PATHS_TO_NODE_IDS_REQUEST)},
        {vec_publish_response_events, UA_TYPE(PUBLISH_RESPONSE)},
        {vec_service_fault, UA_TYPE(SERVICE_FAULT)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ua_delete(decode_same(cases[i].vec, cases[i].type), cases[i].type);

    ua_activate_session_request *as =
        decode_same(vec_activate_session_request, UA_TYPE(ACTIVATE_SESSION_REQUEST));
    assert_int_equal(as->request_header.authentication_token.id_type, UA_NODEID_GUID);
    ua_user_name_identity_token *tok = as->user_identity_token.data;
    assert_ptr_equal(as->user_identity_token.type, UA_TYPE(USER_NAME_IDENTITY_TOKEN));
    assert_int_equal(tok->password.length, 4);
    ua_delete(as, UA_TYPE(ACTIVATE_SESSION_REQUEST));

    ua_create_monitored_items_request *cm =
        decode_same(vec_create_monitored_items_request, UA_TYPE(CREATE_MONITORED_ITEMS_REQUEST));
    ua_monitoring_parameters *mp = &cm->items_to_create[0].requested_parameters;
    assert_int_equal(mp->client_handle, 42);
    ua_data_change_filter *dcf = mp->filter.data;
    assert_ptr_equal(mp->filter.type, UA_TYPE(DATA_CHANGE_FILTER));
    assert_true(dcf->deadband_value == 0.5);
    ua_delete(cm, UA_TYPE(CREATE_MONITORED_ITEMS_REQUEST));

    cm = decode_same(vec_create_monitored_items_request_event,
                     UA_TYPE(CREATE_MONITORED_ITEMS_REQUEST));
    ua_event_filter *ef = cm->items_to_create[0].requested_parameters.filter.data;
    assert_ptr_equal(cm->items_to_create[0].requested_parameters.filter.type,
                     UA_TYPE(EVENT_FILTER));
    assert_int_equal(ef->select_clauses_count, 1);
    assert_int_equal(ef->where_clause.elements[0].filter_operator, UA_FILTER_OPERATOR_OF_TYPE);
    ua_literal_operand *lit = ef->where_clause.elements[0].filter_operands[0].data;
    char buf[64];
    ua_print(&lit->value, UA_TYPE(VARIANT), buf, sizeof buf);
    assert_string_equal(buf, "ns=2;i=5000");
    ua_delete(cm, UA_TYPE(CREATE_MONITORED_ITEMS_REQUEST));

    ua_publish_response *pr = decode_same(vec_publish_response_events, UA_TYPE(PUBLISH_RESPONSE));
    assert_int_equal(pr->notification_message.notification_data_count, 2);
    ua_event_notification_list *evl = pr->notification_message.notification_data[0].data;
    assert_int_equal(evl->events[0].client_handle, 43);
    assert_int_equal(evl->events[0].event_fields_count, 2);
    ua_status_change_notification *sc = pr->notification_message.notification_data[1].data;
    assert_int_equal(sc->status, UA_STATUS_BAD_TIMEOUT);
    assert_int_equal(pr->response_header.service_diagnostics.inner_status_code,
                     UA_STATUS_BAD_TIMEOUT);
    assert_int_equal(pr->diagnostic_infos_count, 1);
    ua_delete(pr, UA_TYPE(PUBLISH_RESPONSE));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_response),   cmocka_unit_test(test_publish_response),
        cmocka_unit_test(test_browse_response), cmocka_unit_test(test_get_endpoints_response),
        cmocka_unit_test(test_argument),        cmocka_unit_test(test_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
