/*
 * fp_model.h - the resource model's kinds, name rules and shared limits, written once.
 *
 * The registry, the connector runtime (discovery reports) and the CLI all need to know
 * which kinds of resource exist, what their collections and ARM types are called, which
 * names each kind accepts and a few limits of fields. Each used to keep its own copy, and
 * the copies drifted: the runtime accepted a discovered device named "-plc" that the
 * registry refused. This library is the one copy; the registry's answers are the
 * contract, and they are Azure Device Registry's (stable API 2025-10-01) so that names
 * valid there are valid here (docs/resource-model.md lists them).
 *
 * Everything here is pure: no allocation, no JSON, no I/O, callable from any thread.
 * Messages are written into a caller's buffer and name the kind, the name and what is
 * wrong ("discovered device name \"-plc\" must start with a lowercase letter or digit"),
 * so that the registry's 400 answer and the runtime's log line say the same thing.
 */
#ifndef FP_MODEL_H
#define FP_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "fp_status.h"

/* ---------------------------------------------------------------------------
 * Kinds
 * ------------------------------------------------------------------------- */

/* The values are stored (the registry's store keeps the kind as an integer): append only. */
typedef enum fp_kind {
    FP_KIND_NAMESPACE = 0,
    FP_KIND_DEVICE,
    FP_KIND_ASSET,
    FP_KIND_DISCOVERED_DEVICE,
    FP_KIND_DISCOVERED_ASSET,
    FP_KIND_SCHEMA,
    FP_KIND_SCHEMA_VERSION,
    FP_KIND_COUNT
} fp_kind;

/* Secrets are stored beside the resources under this number but are not a kind of the ARM
 * model (no collection of their own in Azure, no documents): fp_kind_* functions treat it
 * as unknown. They have a name rule all the same, so fp_model_name_check accepts it. */
#define FP_KIND_SECRET FP_KIND_COUNT

/* "Namespace", "Device", "Asset", "DiscoveredDevice", "DiscoveredAsset", "Schema",
 * "SchemaVersion": the Kubernetes kind and the kind name in watch events; "Unknown"
 * outside the enum. */
const char *fp_kind_name(fp_kind kind);
/* The URL segment of the collection: "namespaces", "devices", "assets",
 * "discoveredDevices", "discoveredAssets", "schemas", "versions", and "secrets" for
 * FP_KIND_SECRET; "" outside the enum. */
const char *fp_kind_collection(fp_kind kind);
/* ARM type, e.g. "Microsoft.DeviceRegistry/namespaces/assets"; "" outside the enum. */
const char *fp_kind_arm_type(fp_kind kind);
/* Words for messages: "namespace", "discovered device", "schema version" (and "secret"
 * for FP_KIND_SECRET); "resource" outside the enum. */
const char *fp_kind_noun(fp_kind kind);
/* True for the kinds that live inside a namespace (every kind but Namespace; a schema
 * version lives in a schema of a namespace). */
bool fp_kind_namespaced(fp_kind kind);
/* Parse a collection segment or a kind name (case-insensitive; also Azure's
 * "schemaVersions"); *out is set only on success. Secrets are not parsed. */
bool fp_kind_parse(const char *z, fp_kind *out);

/* ---------------------------------------------------------------------------
 * Limits of fields that more than one part of the tree checks or fills
 * ------------------------------------------------------------------------- */

/* The longest resource name of any kind (namespaces and schemas): a buffer of
 * FP_MODEL_NAME_MAX + 1 bytes holds any valid name. */
#define FP_MODEL_NAME_MAX 64
/* Secret names, and the key after '/' in a secret reference "name/key". */
#define FP_MODEL_SECRET_NAME_MAX 253
#define FP_MODEL_SECRET_KEY_MAX 253
/* An MQTT topic name (a destination's topic, an action's topic): 1 to 65535 bytes. */
#define FP_MODEL_TOPIC_MAX 65535
/* A management group's defaultTimeoutInSeconds when the document leaves it out. */
#define FP_MODEL_ACTION_TIMEOUT_DEFAULT_S 100

/* ---------------------------------------------------------------------------
 * Names
 * ------------------------------------------------------------------------- */

/* The name rule of one kind, for those who show it rather than check it (docs, forms). */
typedef struct fp_name_rule {
    size_t min_len, max_len; /* in bytes; names are ASCII */
    const char *text;        /* "lowercase letters, digits and '-', starting and ending ..." */
    const char *pattern;     /* the same as a regular expression (ERE and JavaScript) */
} fp_name_rule;

/* The rule of kind (FP_KIND_SECRET included), or NULL for an unknown kind. */
const fp_name_rule *fp_model_name_rule(fp_kind kind);

/*
 * Check a name against kind's rule (FP_KIND_SECRET included). Returns FP_OK, or
 * FP_ERR_INVALID with one sentence in why (if why is not NULL; always NUL-terminated,
 * truncated to why_len) that names the kind, the name and the first thing wrong:
 *   device name "-plc" must start with a letter or digit
 *   asset name "Press-1" may hold only lowercase letters, digits and '-' (not 'P')
 * NULL is checked as the empty name. The name is quoted with control characters,
 * quotes and bytes outside ASCII shown as '?' and long names cut, so the message is
 * safe to log and to put in a JSON answer.
 */
fp_status fp_model_name_check(fp_kind kind, const char *name, char *why, size_t why_len);

/*
 * Check a secret reference as devices write it: "name" or "name/key", the name by the
 * secret rule and the key 1 to FP_MODEL_SECRET_KEY_MAX letters, digits, '-', '_' or '.'.
 * Returns FP_OK or FP_ERR_INVALID with why filled as for fp_model_name_check.
 */
fp_status fp_model_secret_ref_check(const char *ref, char *why, size_t why_len);

/* ---------------------------------------------------------------------------
 * Endpoint types
 * ------------------------------------------------------------------------- */

/* The endpoint types Fieldplane knows by name. The registry takes any endpointType (a
 * custom connector brings its own); these are the ones the CLI has a command for
 * (cli/cmd_device.c) and the UI a label and an address example for (through /ui/model.js). Each
 * name is written here once. */
#define FP_ENDPOINT_OPCUA "Microsoft.OpcUa"
#define FP_ENDPOINT_ONVIF "Microsoft.Onvif"
#define FP_ENDPOINT_MEDIA "Microsoft.Media"
#define FP_ENDPOINT_HTTP "Microsoft.Http"
#define FP_ENDPOINT_SSE "Microsoft.SSEHttp"
#define FP_ENDPOINT_MQTT "Microsoft.Mqtt"
#define FP_ENDPOINT_MODBUS "Fieldplane.Modbus"

typedef struct fp_endpoint_type {
    const char *type;    /* endpointType as documents write it: FP_ENDPOINT_OPCUA */
    const char *label;   /* for people: "OPC UA", "ONVIF camera" */
    const char *example; /* an address of this type: "opc.tcp://192.168.1.20:4840" */
    const char *schemes; /* the URL schemes its address may have, space separated: "http https" */
} fp_endpoint_type;

/* The known endpoint types in the order forms list them; *n_out gets their number. */
const fp_endpoint_type *fp_endpoint_types(size_t *n_out);
/* The row of type (compared case-insensitively, as connectors compare), or NULL. */
const fp_endpoint_type *fp_endpoint_type_find(const char *type);

/*
 * Check an inbound endpoint's address against its type: for a type of the table, a URL of one
 * of its schemes (compared case-insensitively) with something after "://"; any address for
 * another type (a custom connector knows its own). Returns FP_OK, or FP_ERR_INVALID with what
 * is wrong in why, to follow the field's name (NUL-terminated, truncated to why_len):
 *   must be a URL starting opc.tcp:// for endpoint type Microsoft.OpcUa, not "http//nonsense"
 */
fp_status fp_endpoint_address_check(const char *type, const char *address, char *why,
                                    size_t why_len);

#endif
