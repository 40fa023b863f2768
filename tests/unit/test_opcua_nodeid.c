/*
 * test_opcua_nodeid.c - unit tests of NodeId / ExpandedNodeId string forms
 * (lib/opcua/ua_nodeid.c): parsing every form users write, printing them back, nsu
 * resolution through a NamespaceArray, and rejection of malformed strings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fp_alloc.h"
#include "opcua/ua_nodeid.h"

/* Parse z, print it, expect `printed` (z itself when NULL). */
static void roundtrip(const char *z, const char *printed)
{
    ua_node_id n;
    char buf[256];
    assert_int_equal(ua_node_id_parse(&n, z, NULL, 0), UA_STATUS_GOOD);
    size_t len = ua_node_id_print(&n, buf, sizeof buf);
    assert_string_equal(buf, printed ? printed : z);
    assert_int_equal(len, strlen(buf));
    char *h = ua_node_id_to_string(&n);
    assert_string_equal(h, buf);
    fp_free(h);
    ua_node_id_clear(&n);
}

static void test_forms(void **state)
{
    (void)state;
    roundtrip("i=2258", NULL);
    roundtrip("ns=0;i=2258", "i=2258");
    roundtrip("ns=3;s=Tag", NULL);
    roundtrip("ns=3;s=a;b=c", NULL); /* the string runs to the end, ';' and '=' included */
    roundtrip("ns=65535;i=4294967295", NULL);
    roundtrip("ns=1;g=09087e75-8e5e-499b-954f-f2a9603db28a", NULL);
    roundtrip("ns=1;g=09087E75-8E5E-499B-954F-F2A9603DB28A",
              "ns=1;g=09087e75-8e5e-499b-954f-f2a9603db28a");
    roundtrip("ns=1;b=M/RbKBsRVkePCePcx24oRA==", NULL);
    roundtrip("ns=1;b=AQI=", NULL);
    roundtrip("s=", NULL);

    ua_node_id n;
    assert_int_equal(ua_node_id_parse(&n, "ns=1;g=09087e75-8e5e-499b-954f-f2a9603db28a", NULL, 0),
                     UA_STATUS_GOOD);
    assert_int_equal(n.id_type, UA_NODEID_GUID);
    assert_int_equal(n.id.guid.data1, 0x09087e75);
    assert_int_equal(n.id.guid.data2, 0x8e5e);
    assert_int_equal(n.id.guid.data4[0], 0x95);
    assert_int_equal(n.id.guid.data4[7], 0x8a);
    assert_int_equal(ua_node_id_parse(&n, "ns=1;b=AQI=", NULL, 0), UA_STATUS_GOOD);
    assert_int_equal(n.id.string.length, 2);
    assert_int_equal(n.id.string.data[1], 2);
    ua_node_id_clear(&n);
}

static void test_nsu(void **state)
{
    (void)state;
    ua_string ns[3] = {ua_string_view("http://opcfoundation.org/UA/"), ua_string_view("urn:x"),
                       ua_string_view("http://example.org/a;b")};
    ua_node_id n;
    assert_int_equal(ua_node_id_parse(&n, "nsu=urn:x;s=Tag", ns, 3), UA_STATUS_GOOD);
    assert_int_equal(n.ns, 1);
    assert_int_equal(n.id_type, UA_NODEID_STRING);
    ua_node_id_clear(&n);
    assert_int_equal(ua_node_id_parse(&n, "nsu=http://example.org/a%3Bb;i=5", ns, 3),
                     UA_STATUS_GOOD);
    assert_int_equal(n.ns, 2);
    assert_int_equal(n.id.numeric, 5);
    assert_int_equal(ua_node_id_parse(&n, "nsu=urn:other;i=1", ns, 3),
                     UA_STATUS_BAD_NODE_ID_UNKNOWN);
    assert_int_equal(ua_node_id_parse(&n, "nsu=urn:x;i=1", NULL, 0), UA_STATUS_BAD_NODE_ID_UNKNOWN);

    ua_expanded_node_id x;
    char buf[128];
    assert_int_equal(ua_expanded_node_id_parse(&x, "svr=2;nsu=http://example.org/a%3Bb;s=T"),
                     UA_STATUS_GOOD);
    assert_int_equal(x.server_index, 2);
    ua_expanded_node_id_print(&x, buf, sizeof buf);
    assert_string_equal(buf, "svr=2;nsu=http://example.org/a%3Bb;s=T");
    assert_int_equal(ua_expanded_node_id_resolve(&x, ns, 3, &n), UA_STATUS_GOOD);
    assert_int_equal(n.ns, 2);
    ua_node_id_clear(&n);
    ua_expanded_node_id_clear(&x);
    assert_int_equal(ua_expanded_node_id_parse(&x, "ns=4;i=7"), UA_STATUS_GOOD);
    ua_expanded_node_id_print(&x, buf, sizeof buf);
    assert_string_equal(buf, "ns=4;i=7");
}

static void test_invalid(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "i=",
        "i=abc",
        "i=4294967296",
        "i=-1",
        "ns=65536;i=1",
        "ns=;i=1",
        "ns=1",
        "ns=1;",
        "ns=1;x=1",
        "x=1",
        "ns=1;g=09087e75-8e5e-499b-954f-f2a9603db28",
        "ns=1;g=09087e75x8e5e-499b-954f-f2a9603db28a",
        "ns=1;g=g9087e75-8e5e-499b-954f-f2a9603db28a",
        "ns=1;b=A",
        "ns=1;b=@@@@",
        "nsu=;i=1",
        "nsu=urn:x%;i=1",
        "nsu=urn:x%4;i=1",
        "svr=1;i=1", /* svr only in ExpandedNodeIds */
        "i=12345678901",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ua_node_id n;
        ua_status rc = ua_node_id_parse(&n, bad[i], NULL, 0);
        if (rc != UA_STATUS_BAD_NODE_ID_INVALID)
            fail_msg("'%s' gave %s", bad[i], ua_status_name(rc));
    }
    ua_expanded_node_id x;
    assert_int_equal(ua_expanded_node_id_parse(&x, "svr=x;i=1"), UA_STATUS_BAD_NODE_ID_INVALID);
    assert_int_equal(ua_expanded_node_id_parse(&x, "svr=1;nsu=urn:%zz;i=1"),
                     UA_STATUS_BAD_NODE_ID_INVALID);
}

static void test_truncated_print(void **state)
{
    (void)state;
    ua_node_id n = ua_node_id_numeric(3, 123456);
    char buf[6];
    size_t len = ua_node_id_print(&n, buf, sizeof buf);
    assert_int_equal(len, strlen("ns=3;i=123456"));
    assert_string_equal(buf, "ns=3;");
    assert_int_equal(ua_node_id_print(&n, NULL, 0), len);
}

static void test_alloc_failure(void **state)
{
    (void)state;
    ua_string ns[2] = {ua_string_view("a"), ua_string_view("urn:x")};
    for (long k = 0;; k++) {
        ua_node_id n;
        fp_alloc_fail_after(k);
        ua_status rc = ua_node_id_parse(&n, "nsu=urn:x;s=Tag", ns, 2);
        fp_alloc_fail_after(-1);
        if (rc == UA_STATUS_GOOD) {
            ua_node_id_clear(&n);
            break;
        }
        assert_int_equal(rc, UA_STATUS_BAD_OUT_OF_MEMORY);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),         cmocka_unit_test(test_nsu),
        cmocka_unit_test(test_invalid),       cmocka_unit_test(test_truncated_print),
        cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
