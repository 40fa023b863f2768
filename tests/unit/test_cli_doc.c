/*
 * test_cli_doc.c - the document conversions of the client: ARM documents and
 * Kubernetes custom resources into apply documents, ARM to Kubernetes and back,
 * list and template expansion, the old flat events[] shape, discovered
 * resources into real ones, and the spec a user wrote.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "client.h"

static json_t *load(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    if (!v)
        fail_msg("bad test JSON: %s", e.text);
    return v;
}

static const char *asset_arm =
    "{\"name\": \"oven-1\", \"type\": \"Microsoft.DeviceRegistry/namespaces/assets\","
    " \"id\": \"/subscriptions/s/resourceGroups/g/providers/Microsoft.DeviceRegistry/namespaces/"
    "plant-a/assets/oven-1\", \"location\": \"westeurope\", \"tags\": {\"line\": \"3\"},"
    " \"etag\": \"\\\"7\\\"\", \"systemData\": {\"createdBy\": \"x\"},"
    " \"properties\": {\"uuid\": \"u\", \"version\": 3, \"provisioningState\": \"Succeeded\","
    " \"deviceRef\": {\"deviceName\": \"press-1\", \"endpointName\": \"main\"},"
    " \"datasets\": [{\"name\": \"d\", \"dataPoints\": [{\"name\": \"t\", \"dataSource\": "
    "\"s\"}]}],"
    " \"status\": {\"config\": {\"version\": 3}}}}";

static void test_arm_normalize(void **state)
{
    json_t *in = load(asset_arm), *spec;
    fp_apply_doc ad;
    char err[256];
    (void)state;

    assert_int_equal(fp_doc_normalize(in, NULL, &ad, err, sizeof err), 0);
    assert_int_equal(ad.kind, FP_RK_ASSET);
    assert_string_equal(ad.ns, "plant-a");
    assert_string_equal(ad.name, "oven-1");
    spec = fp_doc_spec(ad.doc);
    assert_null(json_object_get(spec, "etag"));
    assert_null(json_object_get(spec, "systemData"));
    assert_null(fp_json_get(spec, "properties.status"));
    assert_null(fp_json_get(spec, "properties.uuid"));
    assert_string_equal(fp_json_str(spec, "location"), "westeurope");
    assert_string_equal(fp_json_str(spec, "properties.deviceRef.deviceName"), "press-1");
    json_decref(spec);
    json_decref(ad.doc);

    /* --namespace wins over the id. */
    assert_int_equal(fp_doc_normalize(in, "other", &ad, err, sizeof err), 0);
    assert_string_equal(ad.ns, "other");
    json_decref(ad.doc);
    json_decref(in);
}

static void test_arm_template_and_errors(void **state)
{
    json_t *tpl =
        load("{\"resources\": [{\"type\": \"Microsoft.DeviceRegistry/namespaces\","
             " \"apiVersion\": \"2025-10-01\", \"name\": \"plant-a\", \"properties\": {}},"
             " {\"type\": \"Microsoft.DeviceRegistry/namespaces/devices\","
             " \"name\": \"plant-a/press-1\", \"dependsOn\": [\"x\"], \"properties\": {}}]}");
    json_t *list = fp_doc_expand(tpl);
    fp_apply_doc ad;
    char err[256];
    (void)state;

    assert_int_equal(json_array_size(list), 2);
    /* An ARM template's apiVersion is a date, not a Kubernetes group/version. */
    assert_int_equal(fp_doc_normalize(json_array_get(list, 0), NULL, &ad, err, sizeof err), 0);
    assert_int_equal(ad.kind, FP_RK_NAMESPACE);
    assert_string_equal(ad.ns, "plant-a");
    json_decref(ad.doc);
    assert_int_equal(fp_doc_normalize(json_array_get(list, 1), NULL, &ad, err, sizeof err), 0);
    assert_int_equal(ad.kind, FP_RK_DEVICE);
    assert_string_equal(ad.ns, "plant-a");
    assert_string_equal(ad.name, "press-1");
    assert_null(json_object_get(ad.doc, "dependsOn"));
    json_decref(ad.doc);
    json_decref(list);
    json_decref(tpl);

    json_t *bad = load("{\"type\": \"Microsoft.Compute/vm\", \"name\": \"x\"}");
    assert_int_not_equal(fp_doc_normalize(bad, NULL, &ad, err, sizeof err), 0);
    assert_non_null(strstr(err, "type"));
    json_decref(bad);
    bad = load("{\"type\": \"Microsoft.DeviceRegistry/namespaces/devices\", \"name\": \"x\"}");
    assert_int_not_equal(fp_doc_normalize(bad, NULL, &ad, err, sizeof err), 0);
    assert_non_null(strstr(err, "namespace"));
    json_decref(bad);
}

static void test_k8s_both_ways(void **state)
{
    const char *y = "apiVersion: namespaces.deviceregistry.microsoft.com/v1\n"
                    "kind: Asset\n"
                    "metadata:\n  name: oven-1\n  namespace: plant-a\n  labels: {line: \"3\"}\n"
                    "spec:\n  deviceRef: {deviceName: press-1, endpointName: main}\n"
                    "  datasets:\n  - name: d\n    dataPoints:\n    - {name: t, dataSource: s}\n";
    char err[256];
    json_t *docs = fp_yaml_parse(y, strlen(y), err, sizeof err);
    fp_apply_doc ad;
    json_t *k8s, *arm;
    (void)state;

    assert_non_null(docs);
    assert_int_equal(fp_doc_normalize(json_array_get(docs, 0), NULL, &ad, err, sizeof err), 0);
    assert_int_equal(ad.kind, FP_RK_ASSET);
    assert_string_equal(ad.ns, "plant-a");
    assert_string_equal(fp_json_str(ad.doc, "tags.line"), "3");
    assert_string_equal(fp_json_str(ad.doc, "type"), "Microsoft.DeviceRegistry/namespaces/assets");

    /* ARM -> Kubernetes -> ARM keeps the spec. */
    arm = load(asset_arm);
    k8s = fp_doc_to_k8s(arm, FP_RK_ASSET, "plant-a");
    assert_string_equal(fp_json_str(k8s, "kind"), "Asset");
    assert_string_equal(fp_json_str(k8s, "metadata.namespace"), "plant-a");
    assert_null(fp_json_get(k8s, "spec.status"));
    assert_non_null(fp_json_get(k8s, "status.config"));
    json_decref(ad.doc);
    assert_int_equal(fp_doc_normalize(k8s, NULL, &ad, err, sizeof err), 0);
    json_t *a = fp_doc_spec(ad.doc), *b = fp_doc_spec(arm);
    json_object_del(b, "location"); /* ARM envelope fields have no Kubernetes place */
    assert_true(json_equal(json_object_get(a, "properties"), json_object_get(b, "properties")));
    assert_true(json_equal(json_object_get(a, "tags"), json_object_get(b, "tags")));
    json_decref(a);
    json_decref(b);
    json_decref(ad.doc);
    json_decref(k8s);
    json_decref(arm);
    json_decref(docs);

    json_t *wrong = load("{\"apiVersion\": \"namespaces.deviceregistry.microsoft.com/v1\","
                         " \"kind\": \"Pod\", \"metadata\": {\"name\": \"x\"}}");
    assert_int_not_equal(fp_doc_normalize(wrong, "ns", &ad, err, sizeof err), 0);
    json_decref(wrong);
}

static void test_old_events(void **state)
{
    json_t *in = load("{\"type\": \"Microsoft.DeviceRegistry/namespaces/assets\", \"name\": "
                      "\"a\", \"properties\": {\"events\": [{\"name\": \"e1\", \"eventNotifier\": "
                      "\"ns=3;s=N1\"}, {\"name\": \"e2\", \"eventNotifier\": \"ns=3;s=N1\"},"
                      " {\"name\": \"e3\", \"eventNotifier\": \"i=2253\"}]}}");
    fp_apply_doc ad;
    char err[256];
    json_t *groups;
    (void)state;

    assert_int_equal(fp_doc_normalize(in, "ns", &ad, err, sizeof err), 0);
    assert_null(fp_json_get(ad.doc, "properties.events"));
    /* As the registry stores it (lib/model's fp_model_legacy_events): a group per event, of
     * the event's name, with the notifier as its dataSource. */
    groups = fp_json_get(ad.doc, "properties.eventGroups");
    assert_int_equal(json_array_size(groups), 3);
    assert_string_equal(fp_json_str(json_array_get(groups, 1), "name"), "e2");
    assert_string_equal(fp_json_str(json_array_get(groups, 1), "dataSource"), "ns=3;s=N1");
    assert_int_equal(json_array_size(json_object_get(json_array_get(groups, 0), "events")), 1);
    assert_null(fp_json_get(json_array_get(json_object_get(json_array_get(groups, 0), "events"), 0),
                            "eventNotifier"));
    assert_string_equal(fp_json_str(json_array_get(groups, 2), "dataSource"), "i=2253");
    json_decref(ad.doc);
    json_decref(in);
}

static void test_discovered(void **state)
{
    json_t *da =
        load("{\"name\": \"disc-1\", \"properties\": {\"discoveryId\": \"x\", \"version\": "
             "2, \"deviceRef\": {\"deviceName\": \"d\", \"endpointName\": \"e\"},"
             " \"datasets\": [{\"name\": \"s\", \"lastUpdatedOn\": \"t\", \"dataPoints\":"
             " [{\"name\": \"p\", \"dataSource\": \"q\", \"lastUpdatedOn\": \"t\"}]}]}}");
    json_t *dd =
        load("{\"name\": \"dd\", \"properties\": {\"discoveryId\": \"x\", \"version\": 1,"
             " \"endpoints\": {\"inbound\": {\"m\": {\"endpointType\": \"Microsoft.OpcUa\","
             " \"address\": \"opc.tcp://x\", \"supportedAuthenticationMethods\": "
             "[\"Anonymous\"]}}}}}");
    json_t *a, *d;
    (void)state;

    a = fp_doc_from_discovered(da, FP_RK_ASSET, "disc-1", "oven-1");
    assert_string_equal(fp_json_str(a, "name"), "oven-1");
    assert_null(fp_json_get(a, "properties.discoveryId"));
    assert_null(fp_json_get(a, "properties.version"));
    assert_string_equal(
        json_string_value(json_array_get(fp_json_get(a, "properties.discoveredAssetRefs"), 0)),
        "disc-1");
    json_t *ds = json_array_get(fp_json_get(a, "properties.datasets"), 0);
    assert_null(json_object_get(ds, "lastUpdatedOn"));
    assert_null(
        json_object_get(json_array_get(json_object_get(ds, "dataPoints"), 0), "lastUpdatedOn"));
    d = fp_doc_from_discovered(dd, FP_RK_DEVICE, "dd", "dd");
    assert_string_equal(fp_json_str(d, "properties.discoveredDeviceRef"), "dd");
    assert_null(fp_json_get(d, "properties.endpoints.inbound.m.supportedAuthenticationMethods"));
    assert_string_equal(fp_json_str(d, "properties.endpoints.inbound.m.authentication.method"),
                        "Anonymous");
    json_decref(a);
    json_decref(d);
    json_decref(da);
    json_decref(dd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arm_normalize), cmocka_unit_test(test_arm_template_and_errors),
        cmocka_unit_test(test_k8s_both_ways), cmocka_unit_test(test_old_events),
        cmocka_unit_test(test_discovered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
