/*
 * test_registry_model_validate.c - the validation rules of every kind, one
 * table row per rule.
 *
 * Each row names a kind, a valid base document for it, a JSON merge patch
 * that breaks one rule, and the error code and JSON path the registry must
 * answer with. Writing the bad documents as patches keeps each row to the
 * one field it is about. Fixture documents (the project's examples and
 * documents shaped like Azure exports) must all validate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fp_alloc.h"
#include "model.h"

static const char *const k_base_asset =
    "{\"properties\":{\"deviceRef\":{\"deviceName\":\"plc-1\",\"endpointName\":\"opc\"},"
    "\"datasets\":[{\"name\":\"ds1\",\"dataPoints\":[{\"name\":\"p1\",\"dataSource\":\"ns=1;s=a\"}]"
    "}]}}";
static const char *const k_base_device =
    "{\"properties\":{\"endpoints\":{\"inbound\":{\"opc\":{\"endpointType\":\"Microsoft.OpcUa\","
    "\"address\":\"opc.tcp://x:4840\"}}}}}";
static const char *const k_base_discovered_device =
    "{\"properties\":{\"discoveryId\":\"d1\",\"version\":1}}";
static const char *const k_base_discovered_asset =
    "{\"properties\":{\"discoveryId\":\"d1\",\"version\":1,"
    "\"deviceRef\":{\"deviceName\":\"plc-1\",\"endpointName\":\"opc\"},"
    "\"datasets\":[{\"name\":\"ds1\",\"dataPoints\":[{\"name\":\"p1\",\"dataSource\":\"ns=1;s=a\"}]"
    "}]}}";
static const char *const k_base_namespace = "{\"properties\":{}}";
static const char *const k_base_schema =
    "{\"properties\":{\"format\":\"Delta/1.0\",\"schemaType\":\"MessageSchema\"}}";
static const char *const k_base_version = "{\"properties\":{\"schemaContent\":\"{}\"}}";

static const char *base_for(fp_kind kind)
{
    switch (kind) {
    case FP_KIND_NAMESPACE:
        return k_base_namespace;
    case FP_KIND_DEVICE:
        return k_base_device;
    case FP_KIND_ASSET:
        return k_base_asset;
    case FP_KIND_DISCOVERED_DEVICE:
        return k_base_discovered_device;
    case FP_KIND_DISCOVERED_ASSET:
        return k_base_discovered_asset;
    case FP_KIND_SCHEMA:
        return k_base_schema;
    default:
        return k_base_version;
    }
}

typedef struct vcase {
    fp_kind kind;
    const char *patch; /* merge patch over the kind's base; NULL: the base itself */
    const char *code;  /* NULL: the document is valid */
    const char *target;
} vcase;

#define A FP_KIND_ASSET
#define D FP_KIND_DEVICE
#define DD FP_KIND_DISCOVERED_DEVICE
#define DA FP_KIND_DISCOVERED_ASSET
#define NS FP_KIND_NAMESPACE
#define SC FP_KIND_SCHEMA
#define SV FP_KIND_SCHEMA_VERSION

#define MQTT_DEST(extra) "[{\"target\":\"Mqtt\",\"configuration\":{\"topic\":\"a/b\"" extra "}}]"

static const vcase k_cases[] = {
    /* the bases are valid */
    {A, NULL, NULL, NULL},
    {D, NULL, NULL, NULL},
    {DD, NULL, NULL, NULL},
    {DA, NULL, NULL, NULL},
    {NS, NULL, NULL, NULL},
    {SC, NULL, NULL, NULL},
    {SV, NULL, NULL, NULL},

    /* envelope */
    {A, "{\"tags\":{\"a\":1}}", "InvalidField", "tags.a"},
    {A, "{\"tags\":[]}", "InvalidField", "tags"},
    {A, "{\"tags\":{\"a\":\"b\"}}", NULL, NULL},
    {A, "{\"type\":\"Microsoft.DeviceRegistry/namespaces/devices\"}", "InvalidField", "type"},
    {A, "{\"type\":\"microsoft.deviceregistry/namespaces/assets\"}", NULL, NULL},
    {A, "{\"type\":7}", "InvalidField", "type"},
    {SC, "{\"type\":\"Microsoft.DeviceRegistry/schemaRegistries/schemas\"}", NULL, NULL},
    {A, "{\"properties\":\"x\"}", "InvalidField", "properties"},
    {A,
     "{\"id\":\"/x\",\"etag\":\"e\",\"location\":\"l\",\"extendedLocation\":{\"name\":\"n\"},"
     "\"systemData\":{\"createdBy\":\"me\"},\"somethingNew\":[1,2]}",
     NULL, NULL},
    {A, "{\"properties\":{\"futureField\":{\"x\":1},\"displayName\":null}}", NULL, NULL},

    /* asset top level */
    {A, "{\"properties\":{\"deviceRef\":null}}", "MissingField", "properties.deviceRef"},
    {A, "{\"properties\":{\"deviceRef\":\"plc-1\"}}", "InvalidField", "properties.deviceRef"},
    {A, "{\"properties\":{\"deviceRef\":{\"deviceName\":null}}}", "MissingField",
     "properties.deviceRef.deviceName"},
    {A, "{\"properties\":{\"deviceRef\":{\"endpointName\":\"\"}}}", "InvalidField",
     "properties.deviceRef.endpointName"},
    {A, "{\"properties\":{\"enabled\":\"yes\"}}", "InvalidField", "properties.enabled"},
    {A, "{\"properties\":{\"externalAssetId\":5}}", "InvalidField", "properties.externalAssetId"},
    {A, "{\"properties\":{\"displayName\":true}}", "InvalidField", "properties.displayName"},
    {A, "{\"properties\":{\"serialNumber\":{}}}", "InvalidField", "properties.serialNumber"},
    {A, "{\"properties\":{\"attributes\":[]}}", "InvalidField", "properties.attributes"},
    {A, "{\"properties\":{\"attributes\":{\"n\":1,\"b\":true,\"s\":\"x\"}}}", NULL, NULL},
    {A, "{\"properties\":{\"assetTypeRefs\":[\"a\",1]}}", "InvalidField",
     "properties.assetTypeRefs[1]"},
    {A, "{\"properties\":{\"discoveredAssetRefs\":\"x\"}}", "InvalidField",
     "properties.discoveredAssetRefs"},
    {A, "{\"properties\":{\"defaultDatasetsConfiguration\":\"{\\\"a\\\":1} x\"}}", "InvalidField",
     "properties.defaultDatasetsConfiguration"},
    {A, "{\"properties\":{\"defaultEventsConfiguration\":\"[1]\"}}", "InvalidField",
     "properties.defaultEventsConfiguration"},
    {A, "{\"properties\":{\"defaultStreamsConfiguration\":\"\"}}", "InvalidField",
     "properties.defaultStreamsConfiguration"},
    {A, "{\"properties\":{\"defaultManagementGroupsConfiguration\":{\"a\":1}}}", "InvalidField",
     "properties.defaultManagementGroupsConfiguration"},
    {A,
     "{\"properties\":{\"defaultManagementGroupsConfiguration\":\" {\\\"a\\\":[1,2.5e3,null]} \"}}",
     NULL, NULL},

    /* destinations */
    {A,
     "{\"properties\":{\"defaultDatasetsDestinations\":" MQTT_DEST(
         ",\"qos\":\"Qos1\",\"retain\":\"Keep\",\"ttl\":0") "}}",
     NULL, NULL},
    {A, "{\"properties\":{\"defaultDatasetsDestinations\":{}}}", "InvalidField",
     "properties.defaultDatasetsDestinations"},
    {A, "{\"properties\":{\"defaultDatasetsDestinations\":[5]}}", "InvalidField",
     "properties.defaultDatasetsDestinations[0]"},
    {A, "{\"properties\":{\"defaultDatasetsDestinations\":[{\"configuration\":{}}]}}",
     "MissingField", "properties.defaultDatasetsDestinations[0].target"},
    {A, "{\"properties\":{\"defaultDatasetsDestinations\":[{\"target\":\"Kafka\"}]}}",
     "InvalidField", "properties.defaultDatasetsDestinations[0].target"},
    {A,
     "{\"properties\":{\"defaultEventsDestinations\":[{\"target\":\"BrokerStateStore\","
     "\"configuration\":{\"key\":\"k\"}}]}}",
     "InvalidField", "properties.defaultEventsDestinations[0].target"},
    {A,
     "{\"properties\":{\"defaultStreamsDestinations\":[{\"target\":\"BrokerStateStore\","
     "\"configuration\":{\"key\":\"k\"}}]}}",
     "InvalidField", "properties.defaultStreamsDestinations[0].target"},
    {A, "{\"properties\":{\"defaultDatasetsDestinations\":[{\"target\":\"Mqtt\"}]}}",
     "MissingField", "properties.defaultDatasetsDestinations[0].configuration"},
    {A,
     "{\"properties\":{\"defaultDatasetsDestinations\":[{\"target\":\"Mqtt\",\"configuration\":"
     "\"t\"}]}}",
     "InvalidField", "properties.defaultDatasetsDestinations[0].configuration"},
    {A,
     "{\"properties\":{\"defaultDatasetsDestinations\":[{\"target\":\"Mqtt\",\"configuration\":{}}]"
     "}}",
     "MissingField", "properties.defaultDatasetsDestinations[0].configuration.topic"},
    {A, "{\"properties\":{\"defaultDatasetsDestinations\":" MQTT_DEST(",\"qos\":\"Qos2\"") "}}",
     "InvalidField", "properties.defaultDatasetsDestinations[0].configuration.qos"},
    {A,
     "{\"properties\":{\"defaultDatasetsDestinations\":" MQTT_DEST(",\"retain\":\"Always\"") "}}",
     "InvalidField", "properties.defaultDatasetsDestinations[0].configuration.retain"},
    {A, "{\"properties\":{\"defaultDatasetsDestinations\":" MQTT_DEST(",\"ttl\":-1") "}}",
     "InvalidField", "properties.defaultDatasetsDestinations[0].configuration.ttl"},
    {A, "{\"properties\":{\"defaultDatasetsDestinations\":" MQTT_DEST(",\"ttl\":1.5") "}}",
     "InvalidField", "properties.defaultDatasetsDestinations[0].configuration.ttl"},
    {A, "{\"properties\":{\"defaultDatasetsDestinations\":" MQTT_DEST(",\"ttl\":4294967296") "}}",
     "InvalidField", "properties.defaultDatasetsDestinations[0].configuration.ttl"},
    {A,
     "{\"properties\":{\"defaultDatasetsDestinations\":[{\"target\":\"Mqtt\",\"configuration\":"
     "{\"topic\":\"a/#\"}}]}}",
     "InvalidField", "properties.defaultDatasetsDestinations[0].configuration.topic"},
    {A,
     "{\"properties\":{\"defaultDatasetsDestinations\":[{\"target\":\"Mqtt\",\"configuration\":"
     "{\"topic\":\"\"}}]}}",
     "InvalidField", "properties.defaultDatasetsDestinations[0].configuration.topic"},
    {A,
     "{\"properties\":{\"datasets\":[{\"name\":\"d\",\"destinations\":[{\"target\":"
     "\"BrokerStateStore\",\"configuration\":{}}]}]}}",
     "MissingField", "properties.datasets[0].destinations[0].configuration.key"},
    {A,
     "{\"properties\":{\"datasets\":[{\"name\":\"d\",\"destinations\":[{\"target\":"
     "\"Storage\",\"configuration\":{\"path\":5}}]}]}}",
     "InvalidField", "properties.datasets[0].destinations[0].configuration.path"},

    /* datasets and data points */
    {A, "{\"properties\":{\"datasets\":{}}}", "InvalidField", "properties.datasets"},
    {A, "{\"properties\":{\"datasets\":[1]}}", "InvalidField", "properties.datasets[0]"},
    {A, "{\"properties\":{\"datasets\":[{\"dataSource\":\"x\"}]}}", "MissingField",
     "properties.datasets[0].name"},
    {A, "{\"properties\":{\"datasets\":[{\"name\":\"\"}]}}", "InvalidField",
     "properties.datasets[0].name"},
    {A,
     "{\"properties\":{\"datasets\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"c\","
     "\"dataPoints\":[{\"name\":\"x\"}]}]}}",
     "MissingField", "properties.datasets[2].dataPoints[0].dataSource"},
    {A,
     "{\"properties\":{\"datasets\":[{\"name\":\"a\",\"dataPoints\":[{\"name\":\"x\","
     "\"dataSource\":\"\"}]}]}}",
     "InvalidField", "properties.datasets[0].dataPoints[0].dataSource"},
    {A, "{\"properties\":{\"datasets\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"a\"}]}}",
     "DuplicateName", "properties.datasets[2].name"},
    {A,
     "{\"properties\":{\"datasets\":[{\"name\":\"a\",\"dataPoints\":[{\"name\":\"x\","
     "\"dataSource\":\"1\"},{\"name\":\"y\",\"dataSource\":\"2\"},{\"name\":\"y\",\"dataSource\":"
     "\"3\"},{\"name\":\"x\",\"dataSource\":\"4\"}]}]}}",
     "DuplicateName", "properties.datasets[0].dataPoints[2].name"},
    {A, "{\"properties\":{\"datasets\":[{\"name\":\"a\"},{\"name\":\"A\"},{\"name\":\"a \"}]}}",
     NULL, NULL},
    {A, "{\"properties\":{\"datasets\":[{\"name\":\"a\",\"datasetConfiguration\":\"not json\"}]}}",
     "InvalidField", "properties.datasets[0].datasetConfiguration"},
    {A,
     "{\"properties\":{\"datasets\":[{\"name\":\"a\",\"datasetConfiguration\":\"{\\\"a\\\":}\"}]}}",
     "InvalidField", "properties.datasets[0].datasetConfiguration"},
    {A,
     "{\"properties\":{\"datasets\":[{\"name\":\"a\",\"dataPoints\":[{\"name\":\"x\","
     "\"dataSource\":\"1\",\"dataPointConfiguration\":5}]}]}}",
     "InvalidField", "properties.datasets[0].dataPoints[0].dataPointConfiguration"},
    {A,
     "{\"properties\":{\"datasets\":[{\"name\":\"a\",\"dataPoints\":[{\"name\":\"x\","
     "\"dataSource\":\"1\",\"typeRef\":[]}]}]}}",
     "InvalidField", "properties.datasets[0].dataPoints[0].typeRef"},
    {A, "{\"properties\":{\"datasets\":[{\"name\":\"a\",\"dataPoints\":{}}]}}", "InvalidField",
     "properties.datasets[0].dataPoints"},
    {A, "{\"properties\":{\"datasets\":[{\"name\":\"a\",\"lastUpdatedOn\":5}]}}", NULL, NULL},

    /* event groups and events */
    {A, "{\"properties\":{\"eventGroups\":[{\"name\":\"g\"},{\"name\":\"g\"}]}}", "DuplicateName",
     "properties.eventGroups[1].name"},
    {A,
     "{\"properties\":{\"eventGroups\":[{\"name\":\"g\",\"events\":[{\"name\":\"e\"},"
     "{\"name\":\"e\"}]}]}}",
     "DuplicateName", "properties.eventGroups[0].events[1].name"},
    {A,
     "{\"properties\":{\"eventGroups\":[{\"name\":\"g\",\"events\":[{\"name\":\"e\"}]},"
     "{\"name\":\"h\",\"events\":[{\"name\":\"e\"}]}]}}",
     NULL, NULL},
    {A, "{\"properties\":{\"eventGroups\":[{\"name\":\"g\",\"events\":[{\"dataSource\":\"x\"}]}]}}",
     "MissingField", "properties.eventGroups[0].events[0].name"},
    {A,
     "{\"properties\":{\"eventGroups\":[{\"name\":\"g\",\"events\":[{\"name\":\"e\","
     "\"eventConfiguration\":\"{\"}]}]}}",
     "InvalidField", "properties.eventGroups[0].events[0].eventConfiguration"},
    {A, "{\"properties\":{\"eventGroups\":[{\"name\":\"g\",\"eventGroupConfiguration\":\"1\"}]}}",
     "InvalidField", "properties.eventGroups[0].eventGroupConfiguration"},
    {A,
     "{\"properties\":{\"eventGroups\":[{\"name\":\"g\",\"defaultDestinations\":[{\"target\":"
     "\"Storage\",\"configuration\":{}}]}]}}",
     "MissingField", "properties.eventGroups[0].defaultDestinations[0].configuration.path"},
    {A,
     "{\"properties\":{\"eventGroups\":[{\"name\":\"g\",\"events\":[{\"name\":\"e\","
     "\"destinations\":[{\"target\":\"Mqtt\",\"configuration\":{\"topic\":\"t/+\"}}]}]}]}}",
     "InvalidField", "properties.eventGroups[0].events[0].destinations[0].configuration.topic"},

    /* streams */
    {A, "{\"properties\":{\"streams\":[{\"name\":\"s\"},{\"name\":\"s\"}]}}", "DuplicateName",
     "properties.streams[1].name"},
    {A, "{\"properties\":{\"streams\":[{\"name\":\"s\",\"streamConfiguration\":\"x\"}]}}",
     "InvalidField", "properties.streams[0].streamConfiguration"},
    {A,
     "{\"properties\":{\"streams\":[{\"name\":\"s\",\"destinations\":[{\"target\":"
     "\"BrokerStateStore\",\"configuration\":{\"key\":\"k\"}}]}]}}",
     "InvalidField", "properties.streams[0].destinations[0].target"},

    /* management groups and actions */
    {A, "{\"properties\":{\"managementGroups\":[{\"name\":\"m\"},{\"name\":\"m\"}]}}",
     "DuplicateName", "properties.managementGroups[1].name"},
    {A, "{\"properties\":{\"managementGroups\":[{\"name\":\"m\",\"actions\":[{\"name\":\"a\"}]}]}}",
     "MissingField", "properties.managementGroups[0].actions[0].targetUri"},
    {A,
     "{\"properties\":{\"managementGroups\":[{\"name\":\"m\",\"actions\":[{\"name\":\"a\","
     "\"targetUri\":\"x\",\"actionType\":\"Delete\"}]}]}}",
     "InvalidField", "properties.managementGroups[0].actions[0].actionType"},
    {A,
     "{\"properties\":{\"managementGroups\":[{\"name\":\"m\",\"actions\":[{\"name\":\"a\","
     "\"targetUri\":\"x\"},{\"name\":\"a\",\"targetUri\":\"y\"}]}]}}",
     "DuplicateName", "properties.managementGroups[0].actions[1].name"},
    {A, "{\"properties\":{\"managementGroups\":[{\"name\":\"m\",\"defaultTimeoutInSeconds\":0}]}}",
     "InvalidField", "properties.managementGroups[0].defaultTimeoutInSeconds"},
    {A,
     "{\"properties\":{\"managementGroups\":[{\"name\":\"m\",\"actions\":[{\"name\":\"a\","
     "\"targetUri\":\"x\",\"timeoutInSeconds\":\"5\"}]}]}}",
     "InvalidField", "properties.managementGroups[0].actions[0].timeoutInSeconds"},
    {A,
     "{\"properties\":{\"managementGroups\":[{\"name\":\"m\",\"actions\":[{\"name\":\"a\","
     "\"targetUri\":\"x\",\"timeoutInSeconds\":2147483648}]}]}}",
     "InvalidField", "properties.managementGroups[0].actions[0].timeoutInSeconds"},
    {A,
     "{\"properties\":{\"managementGroups\":[{\"name\":\"m\",\"actions\":[{\"name\":\"a\","
     "\"targetUri\":\"x\",\"actionConfiguration\":\"[]\"}]}]}}",
     "InvalidField", "properties.managementGroups[0].actions[0].actionConfiguration"},
    {A,
     "{\"properties\":{\"managementGroups\":[{\"name\":\"m\",\"managementGroupConfiguration\":"
     "\"{\\\"a\\\":\\\"\\\\q\\\"}\"}]}}",
     "InvalidField", "properties.managementGroups[0].managementGroupConfiguration"},
    {A, "{\"properties\":{\"managementGroups\":[{\"name\":\"m\",\"defaultTopic\":\"a/+/b\"}]}}",
     "InvalidField", "properties.managementGroups[0].defaultTopic"},
    {A,
     "{\"properties\":{\"managementGroups\":[{\"name\":\"m\",\"actions\":[{\"name\":\"a\","
     "\"targetUri\":\"x\",\"topic\":\"#\"}]}]}}",
     "InvalidField", "properties.managementGroups[0].actions[0].topic"},

    /* devices: an address the endpoint type's connector can open (lib/model's schemes) */
    {D, "{\"properties\":{\"endpoints\":{\"inbound\":{\"opc\":{\"address\":\"http//nonsense\"}}}}}",
     "InvalidField", "properties.endpoints.inbound.opc.address"},
    {D, "{\"properties\":{\"endpoints\":{\"inbound\":{\"opc\":{\"address\":\"OPC.TCP://plc\"}}}}}",
     NULL, NULL},
    {D,
     "{\"properties\":{\"endpoints\":{\"inbound\":{\"opc\":{\"endpointType\":\"Contoso.Modbus\","
     "\"address\":\"10.0.0.4:502\"}}}}}",
     NULL, NULL},
    {DD,
     "{\"properties\":{\"endpoints\":{\"inbound\":{\"opc\":{\"endpointType\":\"Microsoft.OpcUa\","
     "\"address\":\"10.0.0.4\"}}}}}",
     NULL, NULL},

    /* devices */
    {D, "{\"properties\":{\"enabled\":1}}", "InvalidField", "properties.enabled"},
    {D, "{\"properties\":{\"attributes\":\"x\"}}", "InvalidField", "properties.attributes"},
    {D, "{\"properties\":{\"operatingSystem\":1}}", "InvalidField", "properties.operatingSystem"},
    {D, "{\"properties\":{\"endpoints\":[]}}", "InvalidField", "properties.endpoints"},
    {D, "{\"properties\":{\"endpoints\":{\"inbound\":{\"opc\":5}}}}", "InvalidField",
     "properties.endpoints.inbound.opc"},
    {D, "{\"properties\":{\"endpoints\":{\"inbound\":{\"opc\":{\"endpointType\":null}}}}}",
     "MissingField", "properties.endpoints.inbound.opc.endpointType"},
    {D,
     "{\"properties\":{\"endpoints\":{\"inbound\":{\"opc\":{\"endpointType\":\"Microsoft "
     "OpcUa\"}}}}}",
     "InvalidField", "properties.endpoints.inbound.opc.endpointType"},
    {D, "{\"properties\":{\"endpoints\":{\"inbound\":{\"opc\":{\"address\":null}}}}}",
     "MissingField", "properties.endpoints.inbound.opc.address"},
    {D, "{\"properties\":{\"endpoints\":{\"inbound\":{\"a.b\":{\"endpointType\":\"x\"}}}}}",
     "MissingField", "properties.endpoints.inbound[\"a.b\"].address"},
    {D, "{\"properties\":{\"endpoints\":{\"inbound\":{\"opc\":{\"version\":2}}}}}", "InvalidField",
     "properties.endpoints.inbound.opc.version"},
    {D, "{\"properties\":{\"endpoints\":{\"inbound\":{\"opc\":{\"authentication\":{}}}}}}",
     "MissingField", "properties.endpoints.inbound.opc.authentication.method"},
    {D,
     "{\"properties\":{\"endpoints\":{\"inbound\":{\"opc\":{\"authentication\":"
     "{\"method\":\"Kerberos\"}}}}}}",
     "InvalidField", "properties.endpoints.inbound.opc.authentication.method"},
    {D,
     "{\"properties\":{\"endpoints\":{\"inbound\":{\"opc\":{\"authentication\":"
     "{\"method\":\"UsernamePassword\"}}}}}}",
     "MissingField", "properties.endpoints.inbound.opc.authentication.usernamePasswordCredentials"},
    {D,
     "{\"properties\":{\"endpoints\":{\"inbound\":{\"opc\":{\"authentication\":"
     "{\"method\":\"UsernamePassword\",\"usernamePasswordCredentials\":{\"passwordSecretName\":"
     "\"p\"}}}}}}}",
     "MissingField",
     "properties.endpoints.inbound.opc.authentication.usernamePasswordCredentials."
     "usernameSecretName"},
    {D,
     "{\"properties\":{\"endpoints\":{\"inbound\":{\"opc\":{\"authentication\":"
     "{\"method\":\"UsernamePassword\",\"usernamePasswordCredentials\":{\"usernameSecretName\":"
     "\"u\",\"passwordSecretName\":\"Bad_Name\"}}}}}}}",
     "InvalidField",
     "properties.endpoints.inbound.opc.authentication.usernamePasswordCredentials."
     "passwordSecretName"},
    {D,
     "{\"properties\":{\"endpoints\":{\"inbound\":{\"opc\":{\"authentication\":"
     "{\"method\":\"Certificate\",\"x509Credentials\":{}}}}}}}",
     "MissingField",
     "properties.endpoints.inbound.opc.authentication.x509Credentials.certificateSecretName"},
    {D,
     "{\"properties\":{\"endpoints\":{\"inbound\":{\"opc\":{\"authentication\":"
     "{\"method\":\"Certificate\",\"x509Credentials\":{\"certificateSecretName\":\"c/tls.crt\","
     "\"keySecretName\":\"c/\"}}}}}}}",
     "InvalidField",
     "properties.endpoints.inbound.opc.authentication.x509Credentials.keySecretName"},
    {D,
     "{\"properties\":{\"endpoints\":{\"inbound\":{\"opc\":{\"authentication\":"
     "{\"method\":\"Anonymous\"}}}}}}",
     NULL, NULL},
    {D,
     "{\"properties\":{\"endpoints\":{\"inbound\":{\"opc\":{\"trustSettings\":"
     "{\"trustList\":\"a/b/c\"}}}}}}",
     "InvalidField", "properties.endpoints.inbound.opc.trustSettings.trustList"},
    {D, "{\"properties\":{\"endpoints\":{\"inbound\":{\"opc\":{\"trustSettings\":\"ca\"}}}}}",
     "InvalidField", "properties.endpoints.inbound.opc.trustSettings"},
    {D,
     "{\"properties\":{\"endpoints\":{\"inbound\":{\"opc\":{\"additionalConfiguration\":\"{\"}}}}}",
     "InvalidField", "properties.endpoints.inbound.opc.additionalConfiguration"},
    {D, "{\"properties\":{\"endpoints\":{\"outbound\":{}}}}", "MissingField",
     "properties.endpoints.outbound.assigned"},
    {D,
     "{\"properties\":{\"endpoints\":{\"outbound\":{\"assigned\":{\"b\":{\"endpointType\":"
     "\"Microsoft.Mqtt\"}}}}}}",
     "MissingField", "properties.endpoints.outbound.assigned.b.address"},
    {D,
     "{\"properties\":{\"endpoints\":{\"outbound\":{\"assigned\":{},\"unassigned\":{\"b\":1}}}}}",
     "InvalidField", "properties.endpoints.outbound.unassigned.b"},

    /* discovered devices */
    {DD, "{\"properties\":{\"discoveryId\":null}}", "MissingField", "properties.discoveryId"},
    {DD, "{\"properties\":{\"version\":null}}", "MissingField", "properties.version"},
    {DD, "{\"properties\":{\"version\":-1}}", "InvalidField", "properties.version"},
    {DD, "{\"properties\":{\"version\":\"1\"}}", "InvalidField", "properties.version"},
    {DD,
     "{\"properties\":{\"endpoints\":{\"inbound\":{\"e\":{\"endpointType\":\"x\","
     "\"address\":\"a\",\"supportedAuthenticationMethods\":[\"Anonymous\",\"Foo\"]}}}}}",
     "InvalidField", "properties.endpoints.inbound.e.supportedAuthenticationMethods[1]"},
    {DD,
     "{\"properties\":{\"endpoints\":{\"inbound\":{\"e\":{\"endpointType\":\"x\","
     "\"address\":\"a\",\"lastUpdatedOn\":1}}}}}",
     "InvalidField", "properties.endpoints.inbound.e.lastUpdatedOn"},
    {DD, "{\"properties\":{\"endpoints\":{\"inbound\":{\"e\":{\"endpointType\":\"x\"}}}}}",
     "MissingField", "properties.endpoints.inbound.e.address"},

    /* discovered assets */
    {DA, "{\"properties\":{\"version\":null}}", "MissingField", "properties.version"},
    {DA, "{\"properties\":{\"discoveryId\":\"\"}}", "InvalidField", "properties.discoveryId"},
    {DA, "{\"properties\":{\"deviceRef\":null}}", "MissingField", "properties.deviceRef"},
    {DA, "{\"properties\":{\"datasets\":[{\"name\":\"a\",\"lastUpdatedOn\":5}]}}", "InvalidField",
     "properties.datasets[0].lastUpdatedOn"},
    {DA,
     "{\"properties\":{\"datasets\":[{\"name\":\"a\",\"dataPoints\":[{\"name\":\"p\","
     "\"dataSource\":\"s\",\"lastUpdatedOn\":[]}]}]}}",
     "InvalidField", "properties.datasets[0].dataPoints[0].lastUpdatedOn"},
    {DA, "{\"properties\":{\"datasets\":[{\"name\":\"a\"},{\"name\":\"a\"}]}}", "DuplicateName",
     "properties.datasets[1].name"},

    /* namespaces */
    {NS, "{\"properties\":{\"messaging\":\"x\"}}", "InvalidField", "properties.messaging"},
    {NS,
     "{\"properties\":{\"messaging\":{\"endpoints\":{\"m\":{\"endpointType\":\"Microsoft.Mqtt\"}}}}"
     "}",
     "MissingField", "properties.messaging.endpoints.m.address"},
    {NS,
     "{\"properties\":{\"messaging\":{\"endpoints\":{\"m\":{\"address\":\"a\",\"endpointType\":3}}}"
     "}}",
     "InvalidField", "properties.messaging.endpoints.m.endpointType"},

    /* schemas and versions */
    {SC, "{\"properties\":{\"format\":null}}", "MissingField", "properties.format"},
    {SC, "{\"properties\":{\"format\":\"Avro\"}}", "InvalidField", "properties.format"},
    {SC, "{\"properties\":{\"format\":\"JsonSchema/draft-07\"}}", NULL, NULL},
    {SC, "{\"properties\":{\"schemaType\":null}}", "MissingField", "properties.schemaType"},
    {SC, "{\"properties\":{\"schemaType\":\"Other\"}}", "InvalidField", "properties.schemaType"},
    {SC, "{\"properties\":{\"tags\":{\"a\":1}}}", "InvalidField", "properties.tags.a"},
    {SC, "{\"properties\":{\"displayName\":1}}", "InvalidField", "properties.displayName"},
    {SV, "{\"properties\":{\"schemaContent\":null}}", "MissingField", "properties.schemaContent"},
    {SV, "{\"properties\":{\"schemaContent\":\"\"}}", "InvalidField", "properties.schemaContent"},
    {SV, "{\"properties\":{\"schemaContent\":{}}}", "InvalidField", "properties.schemaContent"},
    {SV, "{\"properties\":{\"description\":[]}}", "InvalidField", "properties.description"},
};

static json_t *load(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, 0, &jerr);

    if (!v)
        fail_msg("bad test JSON at %d:%d: %s\n%s", jerr.line, jerr.column, jerr.text, text);
    return v;
}

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++) {
        const vcase *c = &k_cases[i];
        json_t *doc = load(base_for(c->kind));
        fp_verr err;
        fp_status rc;

        memset(&err, 0, sizeof err);
        if (c->patch) {
            json_t *patch = load(c->patch);
            doc = fp_json_merge_patch(doc, patch);
            json_decref(patch);
        }
        assert_non_null(doc);
        rc = fp_model_normalize(c->kind, doc, &err);
        if (rc == FP_OK)
            rc = fp_model_validate(c->kind, doc, &err);
        if (!c->code) {
            if (rc != FP_OK)
                fail_msg("case %zu (%s): expected valid, got %s at %s: %s", i,
                         c->patch ? c->patch : "base", err.code, err.target, err.message);
        } else {
            if (rc != FP_ERR_INVALID || strcmp(err.code, c->code) != 0 ||
                strcmp(err.target, c->target) != 0)
                fail_msg("case %zu (%s): expected %s at %s, got rc %d %s at %s: %s", i, c->patch,
                         c->code, c->target, (int)rc, err.code, err.target, err.message);
            /* the message is one sentence that names the field */
            assert_non_null(strstr(err.message, c->target));
            assert_int_equal(err.message[strlen(err.message) - 1], '.');
            assert_int_equal(err.status, FP_ERR_INVALID);
        }
        json_decref(doc);
    }
}

/* Uniqueness over thousands of data points, with the duplicate far apart. */
static void test_many_data_points(void **state)
{
    json_t *doc = load(k_base_asset);
    json_t *points = json_array();
    fp_verr err;
    char name[32];

    (void)state;
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "p%d", (i * 7919) % 5000);
        json_array_append_new(points, json_pack("{s:s, s:s}", "name", name, "dataSource", "x"));
    }
    json_object_set_new(
        json_array_get(json_object_get(json_object_get(doc, "properties"), "datasets"), 0),
        "dataPoints", points);
    assert_int_equal(fp_model_validate(FP_KIND_ASSET, doc, &err), FP_OK);
    json_array_append_new(points, json_pack("{s:s, s:s}", "name", "p4321", "dataSource", "x"));
    json_array_append_new(points, json_pack("{s:s, s:s}", "name", "p17", "dataSource", "x"));
    assert_int_equal(fp_model_validate(FP_KIND_ASSET, doc, &err), FP_ERR_INVALID);
    assert_string_equal(err.code, "DuplicateName");
    assert_string_equal(err.target, "properties.datasets[0].dataPoints[5000].name");
    assert_non_null(strstr(err.message, "'p4321'"));
    json_decref(doc);
}

/* The configuration recogniser against edge cases of the JSON grammar. */
static void test_config_strings(void **state)
{
    static const struct {
        const char *conf;
        bool ok;
    } k_conf[] = {
        {"{}", true},
        {" \t\r\n{ } \n", true},
        {"{\"a\":{\"b\":[1,-2,3.5,-0.5e-3,1E+9,true,false,null,\"x\\u00e9\\n\\\"\"]}}", true},
        {"{\"a\":1,}", false},
        {"{\"a\" 1}", false},
        {"{a:1}", false},
        {"{\"a\":01}", false},
        {"{\"a\":1.}", false},
        {"{\"a\":-}", false},
        {"{\"a\":1e}", false},
        {"{\"a\":\"\\x\"}", false},
        {"{\"a\":\"\\u12G4\"}", false},
        {"{\"a\":tru}", false},
        {"{\"a\":[1 2]}", false},
        {"{} {}", false},
        {"[]", false},
        {"\"{}\"", false},
        {"", false},
        {"{\"a\":\"tab\there\"}", false},
    };
    char deep[1200];
    size_t n = 0;

    (void)state;
    for (size_t i = 0; i < sizeof k_conf / sizeof k_conf[0]; i++) {
        json_t *doc = load(k_base_asset);
        fp_verr err;
        fp_status rc;

        json_object_set_new(json_object_get(doc, "properties"), "defaultDatasetsConfiguration",
                            json_string(k_conf[i].conf));
        rc = fp_model_validate(FP_KIND_ASSET, doc, &err);
        if ((rc == FP_OK) != k_conf[i].ok)
            fail_msg("configuration %s: expected %s", k_conf[i].conf,
                     k_conf[i].ok ? "valid" : "invalid");
        json_decref(doc);
    }
    /* nesting: 200 levels pass, 300 do not */
    for (int depth = 200; depth <= 300; depth += 100) {
        json_t *doc = load(k_base_asset);
        fp_verr err;

        n = 0;
        deep[n++] = '{';
        deep[n++] = '"';
        deep[n++] = 'a';
        deep[n++] = '"';
        deep[n++] = ':';
        for (int i = 0; i < depth; i++)
            deep[n++] = '[';
        for (int i = 0; i < depth; i++)
            deep[n++] = ']';
        deep[n++] = '}';
        deep[n] = '\0';
        json_object_set_new(json_object_get(doc, "properties"), "defaultDatasetsConfiguration",
                            json_string(deep));
        assert_int_equal(fp_model_validate(FP_KIND_ASSET, doc, &err),
                         depth == 200 ? FP_OK : FP_ERR_INVALID);
        json_decref(doc);
    }
}

/* Lists longer than 64 entries take one allocation; its failure is reported. */
static void test_out_of_memory(void **state)
{
    json_t *doc = load(k_base_asset);
    json_t *points = json_array();
    fp_verr err;
    char name[32];

    (void)state;
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof name, "p%d", i);
        json_array_append_new(points, json_pack("{s:s, s:s}", "name", name, "dataSource", "x"));
    }
    json_object_set_new(
        json_array_get(json_object_get(json_object_get(doc, "properties"), "datasets"), 0),
        "dataPoints", points);
    fp_alloc_fail_after(0);
    assert_int_equal(fp_model_validate(FP_KIND_ASSET, doc, &err), FP_ERR_NOMEM);
    fp_alloc_fail_after(-1);
    assert_int_equal(err.status, FP_ERR_NOMEM);
    assert_int_equal(fp_model_validate(FP_KIND_ASSET, doc, &err), FP_OK);
    json_decref(doc);

    /* short lists need no allocation at all */
    doc = load(k_base_asset);
    fp_alloc_fail_after(0);
    assert_int_equal(fp_model_validate(FP_KIND_ASSET, doc, &err), FP_OK);
    fp_alloc_fail_after(-1);
    json_decref(doc);
}

/* Map keys that are not identifiers are quoted in targets; long ones are cut
 * without overflowing the fixed fields of fp_verr. */
static void test_targets_of_odd_keys(void **state)
{
    json_t *doc = load(k_base_device);
    json_t *inbound = json_object_get(
        json_object_get(json_object_get(doc, "properties"), "endpoints"), "inbound");
    char long_key[600];
    fp_verr err;

    (void)state;
    json_object_set_new(inbound, "say \"hi\"", json_pack("{s:s}", "endpointType", "x"));
    assert_int_equal(fp_model_validate(FP_KIND_DEVICE, doc, &err), FP_ERR_INVALID);
    assert_string_equal(err.target, "properties.endpoints.inbound[\"say \\\"hi\\\"\"].address");
    json_object_del(inbound, "say \"hi\"");

    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    json_object_set_new(inbound, long_key, json_pack("{s:s}", "endpointType", "x"));
    assert_int_equal(fp_model_validate(FP_KIND_DEVICE, doc, &err), FP_ERR_INVALID);
    assert_string_equal(err.code, "MissingField");
    assert_int_equal(strlen(err.target), sizeof err.target - 1);
    assert_true(strlen(err.message) < sizeof err.message);
    json_decref(doc);

    doc = load(k_base_asset);
    json_object_set_new(doc, "tags", json_pack("{s:i}", "cost centre", 5));
    assert_int_equal(fp_model_validate(FP_KIND_ASSET, doc, &err), FP_ERR_INVALID);
    assert_string_equal(err.target, "tags[\"cost centre\"]");
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_many_data_points),
        cmocka_unit_test(test_config_strings),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_targets_of_odd_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
