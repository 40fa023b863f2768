/*
 * fuzz_registry_model.c - libFuzzer harness for the resource model.
 *
 * The bytes are parsed as JSON; for every kind the document is normalised
 * and validated, its references and index values are read, it is compared
 * with a valid document of the same kind (create-only and spec change), and
 * it is applied as a merge patch onto a copy of that document, whose result
 * goes through normalisation and validation again. Nothing may crash, leak
 * or read out of bounds, and every error must carry a code and a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const k_fixtures[FP_KIND_COUNT] = {
    [FP_KIND_NAMESPACE] =
        ("{\"properties\":{\"messaging\":{\"endpoints\":{\"b\":{\"address\":\"mqtt://b\"}}}}}"),
    [FP_KIND_DEVICE] =
        ("{\"tags\":{\"a\":\"b\"},\"properties\":{\"externalDeviceId\":\"x\",\"endpoints\":{"
         "\"inbound\":"
         "{\"plc\":{\"endpointType\":\"Microsoft.OpcUa\",\"address\":\"opc.tcp://p:4840\","
         "\"authentication\":{\"method\":\"UsernamePassword\",\"usernamePasswordCredentials\":"
         "{\"usernameSecretName\":\"s/u\",\"passwordSecretName\":\"s/p\"}},\"trustSettings\":"
         "{\"trustList\":\"ca\"},\"additionalConfiguration\":\"{\\\"a\\\":1}\"}}}}}"),
    [FP_KIND_ASSET] =
        ("{\"properties\":{\"deviceRef\":{\"deviceName\":\"plc\",\"endpointName\":\"plc\"},"
         "\"defaultDatasetsDestinations\":[{\"target\":\"Mqtt\",\"configuration\":{\"topic\":\"a/"
         "b\","
         "\"qos\":\"Qos1\",\"ttl\":5}}],\"datasets\":[{\"name\":\"d\",\"dataPoints\":[{\"name\":"
         "\"p\","
         "\"dataSource\":\"ns=1;i=1\",\"dataPointConfiguration\":\"{}\"}]}],\"eventGroups\":[{"
         "\"name\":"
         "\"g\",\"events\":[{\"name\":\"e\"}]}],\"managementGroups\":[{\"name\":\"m\",\"actions\":"
         "[{\"name\":\"a\",\"targetUri\":\"t\"}]}]}}"),
    [FP_KIND_DISCOVERED_DEVICE] = ("{\"properties\":{\"discoveryId\":\"d\",\"version\":1}}"),
    [FP_KIND_DISCOVERED_ASSET] =
        ("{\"properties\":{\"discoveryId\":\"d\",\"version\":1,\"deviceRef\":{\"deviceName\":\"p\","
         "\"endpointName\":\"e\"},\"events\":[{\"name\":\"e\",\"eventNotifier\":\"n\"}]}}"),
    [FP_KIND_SCHEMA] =
        ("{\"properties\":{\"format\":\"Delta/1.0\",\"schemaType\":\"MessageSchema\"}}"),
    [FP_KIND_SCHEMA_VERSION] = ("{\"properties\":{\"schemaContent\":\"{}\"}}"),
};

static fp_status count_ref(void *ctx, const fp_ref *ref, fp_verr *err)
{
    size_t *n = ctx;

    (void)err;
    if (!ref->name || !ref->target || (ref->type == FP_REF_DEVICE_ENDPOINT && !ref->endpoint))
        abort();
    *n += strlen(ref->name) + strlen(ref->target);
    return FP_OK;
}

static void check_err(fp_status rc, const fp_verr *err)
{
    if (rc != FP_OK && (err->code[0] == '\0' || err->message[0] == '\0'))
        abort();
}

/* Normalise, validate and read everything the API layer reads. */
static void exercise(fp_kind kind, json_t *doc, const json_t *fixture)
{
    fp_verr err;
    fp_status rc;
    char types[64];
    size_t n = 0;

    memset(&err, 0, sizeof err);
    rc = fp_model_normalize(kind, doc, &err);
    check_err(rc, &err);
    if (rc == FP_OK) {
        rc = fp_model_validate(kind, doc, &err);
        check_err(rc, &err);
    }
    if (rc == FP_OK) {
        rc = fp_model_check_create_only(kind, fixture, doc, &err);
        check_err(rc, &err);
    }
    (void)fp_model_each_ref(kind, doc, count_ref, &n, &err);
    (void)fp_model_endpoint_types(kind, doc, types, sizeof types);
    (void)fp_model_device_ref(kind, doc);
    (void)fp_model_spec_changed(kind, fixture, doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *input = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);

    if (!input)
        return 0;
    for (int k = 0; k < FP_KIND_COUNT; k++) {
        fp_kind kind = (fp_kind)k;
        json_t *fixture = json_loads(k_fixtures[k], 0, NULL);
        json_t *doc = json_deep_copy(input);
        json_t *patched;

        if (!fixture || !doc)
            abort();
        exercise(kind, doc, fixture);
        json_decref(doc);

        /* the input as a merge patch over a copy of a valid document */
        patched = fp_json_merge_patch(json_deep_copy(fixture), input);
        if (!patched)
            abort();
        exercise(kind, patched, fixture);
        json_decref(patched);
        json_decref(fixture);
    }
    {
        fp_verr err;
        if (json_is_string(input)) {
            for (int k = 0; k < FP_KIND_COUNT; k++)
                (void)fp_model_name_valid((fp_kind)k, json_string_value(input), &err);
            (void)fp_model_secret_name_valid(json_string_value(input), &err);
        }
    }
    json_decref(input);
    return 0;
}
