/*
 * model_validate.c - validation of resource documents, one walker over
 * tables that describe each kind.
 *
 * Every object the model knows (an asset's properties, a dataset, a data
 * point, a device endpoint, a destination's configuration, ...) is a "shape":
 * a table of rows {key, type, flags, sub-shape, enum values, range}. One
 * walker checks a JSON object against a shape, recursing into sub-shapes, so
 * the rules of the resource model read as data in one place (and
 * docs/resource-model.md follows the same tables). Fields a shape does not
 * list are left alone: documents exported from Azure carry fields this
 * version does not know, and they are kept, not refused. A JSON null counts
 * as an absent field.
 *
 * The walker stops at the first error and reports it with the JSON path of
 * the field (see model_internal.h for how the path is kept cheaply). It
 * allocates nothing except, for lists longer than 64 entries, one array used
 * to find duplicate names by sorting.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fp_alloc.h"
#include "model.h"
#include "model_internal.h"

typedef enum ftype {
    FT_STRING,        /* a string (F_NONEMPTY: at least one character) */
    FT_BOOL,          /* true or false */
    FT_INT,           /* an integer in [min, max] */
    FT_ENUM,          /* one of the strings in enums */
    FT_CONFIG,        /* a string holding a JSON object */
    FT_SECRET,        /* a secret reference: "name" or "name/key" */
    FT_TOPIC,         /* an MQTT topic name (no wildcards) */
    FT_ENDPOINT_TYPE, /* a non-empty string without white space */
    FT_STRING_ARRAY,  /* an array of strings */
    FT_ENUM_ARRAY,    /* an array of strings from enums */
    FT_STRING_MAP,    /* an object whose values are strings */
    FT_MAP,           /* an object, values of any type */
    FT_OBJECT,        /* an object of shape */
    FT_OBJECT_ARRAY,  /* an array of objects of shape (F_UNIQUE: unique "name") */
    FT_OBJECT_MAP,    /* an object whose values are objects of shape */
    FT_DESTINATIONS,  /* an array of destinations whose target is one of enums */
} ftype;

#define F_REQUIRED 0x1u   /* absent or null is a MissingField error */
#define F_NONEMPTY 0x2u   /* strings: the empty string is refused */
#define F_UNIQUE 0x4u     /* object arrays: the items' names are unique */
#define F_DISCOVERED 0x8u /* checked only on discovered kinds */

typedef struct vctx vctx;
typedef struct shape shape;

typedef struct field {
    const char *key;
    ftype type;
    unsigned flags;
    const shape *shape;
    const char *const *enums;
    json_int_t min, max;
} field;

struct shape {
    const field *fields;
    size_t n_field;
    /* A rule across fields, run after the rows; NULL if none. */
    fp_status (*check)(vctx *c, const json_t *obj);
};

struct vctx {
    fp_mpath path;
    fp_verr *err;
    bool discovered;
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define SHAPE(rows)                                                                                \
    {                                                                                              \
        rows, N_OF(rows), NULL                                                                     \
    }

#define INT32_MAXV ((json_int_t)2147483647)
#define UINT32_MAXV ((json_int_t)4294967295LL)
#define INT64_MAXV ((json_int_t)INT64_MAX)

/* ---------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------- */

/* Report "<path>.<key> <what>." with code; returns FP_ERR_INVALID. */
static fp_status fail(vctx *c, const char *code, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static fp_status fail(vctx *c, const char *code, const char *key, const char *fmt, ...)
{
    char target[sizeof c->err->target];
    char what[400];
    va_list ap;

    fp_mpath_render(&c->path, key, target, sizeof target);
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return fp_verr_set(c->err, FP_ERR_INVALID, code, target, "%s %s.",
                       target[0] ? target : "The document", what);
}

/* "A, B or C" from a NULL-terminated list. */
static void enum_list(const char *const *enums, char *out, size_t out_len)
{
    size_t pos = 0;

    out[0] = '\0';
    for (size_t i = 0; enums[i]; i++) {
        const char *sep = i == 0 ? "" : enums[i + 1] ? ", " : " or ";
        int n = snprintf(out + pos, out_len - pos, "%s%s", sep, enums[i]);
        if (n < 0 || (size_t)n >= out_len - pos)
            return;
        pos += (size_t)n;
    }
}

static bool in_enum(const char *const *enums, const char *z)
{
    for (size_t i = 0; enums[i]; i++) {
        if (strcmp(enums[i], z) == 0)
            return true;
    }
    return false;
}

/* ---------------------------------------------------------------------------
 * Enumerations
 * ------------------------------------------------------------------------- */

static const char *const k_auth_methods[] = {"Anonymous", "Certificate", "UsernamePassword", NULL};
static const char *const k_dataset_targets[] = {"Mqtt", "BrokerStateStore", "Storage", NULL};
static const char *const k_event_targets[] = {"Mqtt", "Storage", NULL};
static const char *const k_qos[] = {"Qos0", "Qos1", NULL};
static const char *const k_retain[] = {"Keep", "Never", NULL};
static const char *const k_action_types[] = {"Call", "Read", "Write", NULL};
static const char *const k_schema_formats[] = {"JsonSchema/draft-07", "Delta/1.0", NULL};
static const char *const k_schema_types[] = {"MessageSchema", NULL};

/* ---------------------------------------------------------------------------
 * Shapes: destinations
 * ------------------------------------------------------------------------- */

static const field k_mqtt_dest_rows[] = {
    {"topic", FT_TOPIC, F_REQUIRED, NULL, NULL, 0, 0},
    {"qos", FT_ENUM, 0, NULL, k_qos, 0, 0},
    {"retain", FT_ENUM, 0, NULL, k_retain, 0, 0},
    {"ttl", FT_INT, 0, NULL, NULL, 0, UINT32_MAXV},
};
static const shape k_mqtt_dest = SHAPE(k_mqtt_dest_rows);

static const field k_bss_dest_rows[] = {
    {"key", FT_STRING, F_REQUIRED | F_NONEMPTY, NULL, NULL, 0, 0},
};
static const shape k_bss_dest = SHAPE(k_bss_dest_rows);

static const field k_storage_dest_rows[] = {
    {"path", FT_STRING, F_REQUIRED | F_NONEMPTY, NULL, NULL, 0, 0},
};
static const shape k_storage_dest = SHAPE(k_storage_dest_rows);

/* ---------------------------------------------------------------------------
 * Shapes: assets and discovered assets
 * ------------------------------------------------------------------------- */

static const field k_device_ref_rows[] = {
    {"deviceName", FT_STRING, F_REQUIRED | F_NONEMPTY, NULL, NULL, 0, 0},
    {"endpointName", FT_STRING, F_REQUIRED | F_NONEMPTY, NULL, NULL, 0, 0},
};
static const shape k_device_ref = SHAPE(k_device_ref_rows);

static const field k_data_point_rows[] = {
    {"name", FT_STRING, F_REQUIRED | F_NONEMPTY, NULL, NULL, 0, 0},
    {"dataSource", FT_STRING, F_REQUIRED | F_NONEMPTY, NULL, NULL, 0, 0},
    {"dataPointConfiguration", FT_CONFIG, 0, NULL, NULL, 0, 0},
    {"typeRef", FT_STRING, 0, NULL, NULL, 0, 0},
    {"lastUpdatedOn", FT_STRING, F_DISCOVERED, NULL, NULL, 0, 0},
};
static const shape k_data_point = SHAPE(k_data_point_rows);

static const field k_dataset_rows[] = {
    {"name", FT_STRING, F_REQUIRED | F_NONEMPTY, NULL, NULL, 0, 0},
    {"dataSource", FT_STRING, 0, NULL, NULL, 0, 0},
    {"typeRef", FT_STRING, 0, NULL, NULL, 0, 0},
    {"datasetConfiguration", FT_CONFIG, 0, NULL, NULL, 0, 0},
    {"destinations", FT_DESTINATIONS, 0, NULL, k_dataset_targets, 0, 0},
    {"dataPoints", FT_OBJECT_ARRAY, F_UNIQUE, &k_data_point, NULL, 0, 0},
    {"lastUpdatedOn", FT_STRING, F_DISCOVERED, NULL, NULL, 0, 0},
};
static const shape k_dataset = SHAPE(k_dataset_rows);

static const field k_event_rows[] = {
    {"name", FT_STRING, F_REQUIRED | F_NONEMPTY, NULL, NULL, 0, 0},
    {"dataSource", FT_STRING, 0, NULL, NULL, 0, 0},
    {"eventConfiguration", FT_CONFIG, 0, NULL, NULL, 0, 0},
    {"typeRef", FT_STRING, 0, NULL, NULL, 0, 0},
    {"destinations", FT_DESTINATIONS, 0, NULL, k_event_targets, 0, 0},
    {"lastUpdatedOn", FT_STRING, F_DISCOVERED, NULL, NULL, 0, 0},
};
static const shape k_event = SHAPE(k_event_rows);

static const field k_event_group_rows[] = {
    {"name", FT_STRING, F_REQUIRED | F_NONEMPTY, NULL, NULL, 0, 0},
    {"dataSource", FT_STRING, 0, NULL, NULL, 0, 0},
    {"eventGroupConfiguration", FT_CONFIG, 0, NULL, NULL, 0, 0},
    {"typeRef", FT_STRING, 0, NULL, NULL, 0, 0},
    {"defaultDestinations", FT_DESTINATIONS, 0, NULL, k_event_targets, 0, 0},
    {"events", FT_OBJECT_ARRAY, F_UNIQUE, &k_event, NULL, 0, 0},
    {"lastUpdatedOn", FT_STRING, F_DISCOVERED, NULL, NULL, 0, 0},
};
static const shape k_event_group = SHAPE(k_event_group_rows);

static const field k_stream_rows[] = {
    {"name", FT_STRING, F_REQUIRED | F_NONEMPTY, NULL, NULL, 0, 0},
    {"streamConfiguration", FT_CONFIG, 0, NULL, NULL, 0, 0},
    {"typeRef", FT_STRING, 0, NULL, NULL, 0, 0},
    {"destinations", FT_DESTINATIONS, 0, NULL, k_event_targets, 0, 0},
    {"lastUpdatedOn", FT_STRING, F_DISCOVERED, NULL, NULL, 0, 0},
};
static const shape k_stream = SHAPE(k_stream_rows);

static const field k_action_rows[] = {
    {"name", FT_STRING, F_REQUIRED | F_NONEMPTY, NULL, NULL, 0, 0},
    {"targetUri", FT_STRING, F_REQUIRED | F_NONEMPTY, NULL, NULL, 0, 0},
    {"actionType", FT_ENUM, 0, NULL, k_action_types, 0, 0},
    {"actionConfiguration", FT_CONFIG, 0, NULL, NULL, 0, 0},
    {"typeRef", FT_STRING, 0, NULL, NULL, 0, 0},
    {"topic", FT_TOPIC, 0, NULL, NULL, 0, 0},
    {"timeoutInSeconds", FT_INT, 0, NULL, NULL, 1, INT32_MAXV},
    {"lastUpdatedOn", FT_STRING, F_DISCOVERED, NULL, NULL, 0, 0},
};
static const shape k_action = SHAPE(k_action_rows);

static const field k_management_group_rows[] = {
    {"name", FT_STRING, F_REQUIRED | F_NONEMPTY, NULL, NULL, 0, 0},
    {"dataSource", FT_STRING, 0, NULL, NULL, 0, 0},
    {"managementGroupConfiguration", FT_CONFIG, 0, NULL, NULL, 0, 0},
    {"typeRef", FT_STRING, 0, NULL, NULL, 0, 0},
    {"defaultTopic", FT_TOPIC, 0, NULL, NULL, 0, 0},
    {"defaultTimeoutInSeconds", FT_INT, 0, NULL, NULL, 1, INT32_MAXV},
    {"actions", FT_OBJECT_ARRAY, F_UNIQUE, &k_action, NULL, 0, 0},
    {"lastUpdatedOn", FT_STRING, F_DISCOVERED, NULL, NULL, 0, 0},
};
static const shape k_management_group = SHAPE(k_management_group_rows);

static const field k_asset_rows[] = {
    {"discoveryId", FT_STRING, F_DISCOVERED | F_REQUIRED | F_NONEMPTY, NULL, NULL, 0, 0},
    {"version", FT_INT, F_DISCOVERED | F_REQUIRED, NULL, NULL, 0, INT64_MAXV},
    {"enabled", FT_BOOL, 0, NULL, NULL, 0, 0},
    {"externalAssetId", FT_STRING, 0, NULL, NULL, 0, 0},
    {"displayName", FT_STRING, 0, NULL, NULL, 0, 0},
    {"description", FT_STRING, 0, NULL, NULL, 0, 0},
    {"deviceRef", FT_OBJECT, F_REQUIRED, &k_device_ref, NULL, 0, 0},
    {"assetTypeRefs", FT_STRING_ARRAY, 0, NULL, NULL, 0, 0},
    {"discoveredAssetRefs", FT_STRING_ARRAY, 0, NULL, NULL, 0, 0},
    {"manufacturer", FT_STRING, 0, NULL, NULL, 0, 0},
    {"manufacturerUri", FT_STRING, 0, NULL, NULL, 0, 0},
    {"model", FT_STRING, 0, NULL, NULL, 0, 0},
    {"productCode", FT_STRING, 0, NULL, NULL, 0, 0},
    {"hardwareRevision", FT_STRING, 0, NULL, NULL, 0, 0},
    {"softwareRevision", FT_STRING, 0, NULL, NULL, 0, 0},
    {"documentationUri", FT_STRING, 0, NULL, NULL, 0, 0},
    {"serialNumber", FT_STRING, 0, NULL, NULL, 0, 0},
    {"attributes", FT_MAP, 0, NULL, NULL, 0, 0},
    {"defaultDatasetsConfiguration", FT_CONFIG, 0, NULL, NULL, 0, 0},
    {"defaultEventsConfiguration", FT_CONFIG, 0, NULL, NULL, 0, 0},
    {"defaultStreamsConfiguration", FT_CONFIG, 0, NULL, NULL, 0, 0},
    {"defaultManagementGroupsConfiguration", FT_CONFIG, 0, NULL, NULL, 0, 0},
    {"defaultDatasetsDestinations", FT_DESTINATIONS, 0, NULL, k_dataset_targets, 0, 0},
    {"defaultEventsDestinations", FT_DESTINATIONS, 0, NULL, k_event_targets, 0, 0},
    {"defaultStreamsDestinations", FT_DESTINATIONS, 0, NULL, k_event_targets, 0, 0},
    {"datasets", FT_OBJECT_ARRAY, F_UNIQUE, &k_dataset, NULL, 0, 0},
    {"eventGroups", FT_OBJECT_ARRAY, F_UNIQUE, &k_event_group, NULL, 0, 0},
    {"streams", FT_OBJECT_ARRAY, F_UNIQUE, &k_stream, NULL, 0, 0},
    {"managementGroups", FT_OBJECT_ARRAY, F_UNIQUE, &k_management_group, NULL, 0, 0},
};
static const shape k_asset = SHAPE(k_asset_rows);

/* ---------------------------------------------------------------------------
 * Shapes: devices and discovered devices
 * ------------------------------------------------------------------------- */

static const field k_userpass_rows[] = {
    {"usernameSecretName", FT_SECRET, F_REQUIRED, NULL, NULL, 0, 0},
    {"passwordSecretName", FT_SECRET, F_REQUIRED, NULL, NULL, 0, 0},
};
static const shape k_userpass = SHAPE(k_userpass_rows);

static const field k_x509_rows[] = {
    {"certificateSecretName", FT_SECRET, F_REQUIRED, NULL, NULL, 0, 0},
    {"intermediateCertificatesSecretName", FT_SECRET, 0, NULL, NULL, 0, 0},
    {"keySecretName", FT_SECRET, 0, NULL, NULL, 0, 0},
};
static const shape k_x509 = SHAPE(k_x509_rows);

static fp_status check_authentication(vctx *c, const json_t *obj);

static const field k_authentication_rows[] = {
    {"method", FT_ENUM, F_REQUIRED, NULL, k_auth_methods, 0, 0},
    {"usernamePasswordCredentials", FT_OBJECT, 0, &k_userpass, NULL, 0, 0},
    {"x509Credentials", FT_OBJECT, 0, &k_x509, NULL, 0, 0},
};
static const shape k_authentication = {k_authentication_rows, N_OF(k_authentication_rows),
                                       check_authentication};

static const field k_trust_rows[] = {
    {"trustList", FT_SECRET, 0, NULL, NULL, 0, 0},
};
static const shape k_trust = SHAPE(k_trust_rows);

static fp_status check_inbound(vctx *c, const json_t *obj);

static const field k_inbound_rows[] = {
    {"endpointType", FT_ENDPOINT_TYPE, F_REQUIRED, NULL, NULL, 0, 0},
    {"address", FT_STRING, F_REQUIRED | F_NONEMPTY, NULL, NULL, 0, 0},
    {"version", FT_STRING, 0, NULL, NULL, 0, 0},
    {"authentication", FT_OBJECT, 0, &k_authentication, NULL, 0, 0},
    {"trustSettings", FT_OBJECT, 0, &k_trust, NULL, 0, 0},
    {"additionalConfiguration", FT_CONFIG, 0, NULL, NULL, 0, 0},
};
static const shape k_inbound = {k_inbound_rows, N_OF(k_inbound_rows), check_inbound};

static const field k_outbound_endpoint_rows[] = {
    {"address", FT_STRING, F_REQUIRED | F_NONEMPTY, NULL, NULL, 0, 0},
    {"endpointType", FT_STRING, 0, NULL, NULL, 0, 0},
};
static const shape k_outbound_endpoint = SHAPE(k_outbound_endpoint_rows);

static const field k_outbound_rows[] = {
    {"assigned", FT_OBJECT_MAP, F_REQUIRED, &k_outbound_endpoint, NULL, 0, 0},
    {"unassigned", FT_OBJECT_MAP, 0, &k_outbound_endpoint, NULL, 0, 0},
};
static const shape k_outbound = SHAPE(k_outbound_rows);

static const field k_device_endpoints_rows[] = {
    {"inbound", FT_OBJECT_MAP, 0, &k_inbound, NULL, 0, 0},
    {"outbound", FT_OBJECT, 0, &k_outbound, NULL, 0, 0},
};
static const shape k_device_endpoints = SHAPE(k_device_endpoints_rows);

static const field k_device_rows[] = {
    {"enabled", FT_BOOL, 0, NULL, NULL, 0, 0},
    {"externalDeviceId", FT_STRING, 0, NULL, NULL, 0, 0},
    {"discoveredDeviceRef", FT_STRING, 0, NULL, NULL, 0, 0},
    {"manufacturer", FT_STRING, 0, NULL, NULL, 0, 0},
    {"model", FT_STRING, 0, NULL, NULL, 0, 0},
    {"operatingSystem", FT_STRING, 0, NULL, NULL, 0, 0},
    {"operatingSystemVersion", FT_STRING, 0, NULL, NULL, 0, 0},
    {"attributes", FT_MAP, 0, NULL, NULL, 0, 0},
    {"endpoints", FT_OBJECT, 0, &k_device_endpoints, NULL, 0, 0},
};
static const shape k_device = SHAPE(k_device_rows);

static const field k_discovered_inbound_rows[] = {
    {"endpointType", FT_ENDPOINT_TYPE, F_REQUIRED, NULL, NULL, 0, 0},
    {"address", FT_STRING, F_REQUIRED | F_NONEMPTY, NULL, NULL, 0, 0},
    {"version", FT_STRING, 0, NULL, NULL, 0, 0},
    {"additionalConfiguration", FT_CONFIG, 0, NULL, NULL, 0, 0},
    {"supportedAuthenticationMethods", FT_ENUM_ARRAY, 0, NULL, k_auth_methods, 0, 0},
    {"lastUpdatedOn", FT_STRING, 0, NULL, NULL, 0, 0},
};
static const shape k_discovered_inbound = SHAPE(k_discovered_inbound_rows);

static const field k_discovered_endpoints_rows[] = {
    {"inbound", FT_OBJECT_MAP, 0, &k_discovered_inbound, NULL, 0, 0},
    {"outbound", FT_OBJECT, 0, &k_outbound, NULL, 0, 0},
};
static const shape k_discovered_endpoints = SHAPE(k_discovered_endpoints_rows);

static const field k_discovered_device_rows[] = {
    {"discoveryId", FT_STRING, F_REQUIRED | F_NONEMPTY, NULL, NULL, 0, 0},
    {"version", FT_INT, F_REQUIRED, NULL, NULL, 0, INT64_MAXV},
    {"externalDeviceId", FT_STRING, 0, NULL, NULL, 0, 0},
    {"manufacturer", FT_STRING, 0, NULL, NULL, 0, 0},
    {"model", FT_STRING, 0, NULL, NULL, 0, 0},
    {"operatingSystem", FT_STRING, 0, NULL, NULL, 0, 0},
    {"operatingSystemVersion", FT_STRING, 0, NULL, NULL, 0, 0},
    {"attributes", FT_MAP, 0, NULL, NULL, 0, 0},
    {"endpoints", FT_OBJECT, 0, &k_discovered_endpoints, NULL, 0, 0},
};
static const shape k_discovered_device = SHAPE(k_discovered_device_rows);

/* ---------------------------------------------------------------------------
 * Shapes: namespaces and schemas
 * ------------------------------------------------------------------------- */

static const field k_ns_endpoint_rows[] = {
    {"endpointType", FT_STRING, 0, NULL, NULL, 0, 0},
    {"address", FT_STRING, F_REQUIRED | F_NONEMPTY, NULL, NULL, 0, 0},
    {"resourceId", FT_STRING, 0, NULL, NULL, 0, 0},
};
static const shape k_ns_endpoint = SHAPE(k_ns_endpoint_rows);

static const field k_messaging_rows[] = {
    {"endpoints", FT_OBJECT_MAP, 0, &k_ns_endpoint, NULL, 0, 0},
};
static const shape k_messaging = SHAPE(k_messaging_rows);

static const field k_namespace_rows[] = {
    {"messaging", FT_OBJECT, 0, &k_messaging, NULL, 0, 0},
};
static const shape k_namespace = SHAPE(k_namespace_rows);

static const field k_schema_rows[] = {
    {"format", FT_ENUM, F_REQUIRED, NULL, k_schema_formats, 0, 0},
    {"schemaType", FT_ENUM, F_REQUIRED, NULL, k_schema_types, 0, 0},
    {"displayName", FT_STRING, 0, NULL, NULL, 0, 0},
    {"description", FT_STRING, 0, NULL, NULL, 0, 0},
    {"tags", FT_STRING_MAP, 0, NULL, NULL, 0, 0},
};
static const shape k_schema = SHAPE(k_schema_rows);

static const field k_schema_version_rows[] = {
    {"schemaContent", FT_STRING, F_REQUIRED | F_NONEMPTY, NULL, NULL, 0, 0},
    {"description", FT_STRING, 0, NULL, NULL, 0, 0},
};
static const shape k_schema_version = SHAPE(k_schema_version_rows);

static const shape *const k_kind_shapes[FP_KIND_COUNT] = {
    [FP_KIND_NAMESPACE] = &k_namespace,
    [FP_KIND_DEVICE] = &k_device,
    [FP_KIND_ASSET] = &k_asset,
    [FP_KIND_DISCOVERED_DEVICE] = &k_discovered_device,
    [FP_KIND_DISCOVERED_ASSET] = &k_asset,
    [FP_KIND_SCHEMA] = &k_schema,
    [FP_KIND_SCHEMA_VERSION] = &k_schema_version,
};

/* ---------------------------------------------------------------------------
 * The walker
 * ------------------------------------------------------------------------- */

static fp_status check_shape(vctx *c, const shape *sh, const json_t *obj);

static fp_status check_string(vctx *c, const field *f, const json_t *v)
{
    if (!json_is_string(v))
        return fail(c, "InvalidField", f->key, "must be a string");
    if ((f->flags & F_NONEMPTY) && json_string_length(v) == 0)
        return fail(c, "InvalidField", f->key, "must not be empty");
    return FP_OK;
}

static fp_status check_int(vctx *c, const field *f, const json_t *v)
{
    json_int_t n;

    if (!json_is_integer(v))
        return fail(c, "InvalidField", f->key, "must be an integer");
    n = json_integer_value(v);
    if (n < f->min || n > f->max) {
        if (f->max == INT64_MAXV)
            return fail(c, "InvalidField", f->key, "must be an integer of at least %lld",
                        (long long)f->min);
        return fail(c, "InvalidField", f->key, "must be an integer from %lld to %lld",
                    (long long)f->min, (long long)f->max);
    }
    return FP_OK;
}

static fp_status check_enum_value(vctx *c, const char *key, const char *const *enums,
                                  const json_t *v)
{
    char list[200];

    if (json_is_string(v) && in_enum(enums, json_string_value(v)))
        return FP_OK;
    enum_list(enums, list, sizeof list);
    return fail(c, "InvalidField", key, "must be one of %s", list);
}

/* An MQTT topic name a connector can publish to: no wildcards, no NUL. */
static fp_status check_topic(vctx *c, const field *f, const json_t *v)
{
    const char *z;
    size_t n;

    if (!json_is_string(v))
        return fail(c, "InvalidField", f->key, "must be a string");
    z = json_string_value(v);
    n = json_string_length(v);
    if (n == 0 || n > FP_MODEL_TOPIC_MAX)
        return fail(c, "InvalidField", f->key, "must be an MQTT topic of 1 to %d bytes",
                    FP_MODEL_TOPIC_MAX);
    if (strlen(z) != n || strpbrk(z, "+#"))
        return fail(c, "InvalidField", f->key,
                    "must be an MQTT topic name without the wildcards '+' and '#'");
    return FP_OK;
}

/* "name" or "name/key" by lib/model's secret rules, whose message says what is wrong. */
static fp_status check_secret_ref(vctx *c, const field *f, const json_t *v)
{
    char why[256];

    if (!json_is_string(v))
        return fail(c, "InvalidField", f->key, "must be a string");
    if (strlen(json_string_value(v)) != json_string_length(v))
        return fail(c, "InvalidField", f->key,
                    "must name a secret as 'name' or 'name/key' (it holds a NUL byte)");
    if (fp_model_secret_ref_check(json_string_value(v), why, sizeof why) != FP_OK)
        return fail(c, "InvalidField", f->key, "must name a secret as 'name' or 'name/key': %s",
                    why);
    return FP_OK;
}

static fp_status check_endpoint_type(vctx *c, const field *f, const json_t *v)
{
    const char *z;
    size_t n;

    if (!json_is_string(v))
        return fail(c, "InvalidField", f->key, "must be a string");
    z = json_string_value(v);
    n = json_string_length(v);
    if (n == 0 || n > 255)
        return fail(c, "InvalidField", f->key, "must be 1 to 255 characters long");
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)z[i];
        if (ch <= ' ' || ch == 0x7f)
            return fail(c, "InvalidField", f->key, "must not contain spaces or control characters");
    }
    return FP_OK;
}

/* A destination: {target, configuration{...}} with target from targets. */
static fp_status check_destination(vctx *c, const json_t *d, const char *const *targets)
{
    const json_t *target, *conf;
    const char *t;
    const shape *sh;
    fp_status rc;

    if (!json_is_object(d))
        return fail(c, "InvalidField", NULL, "must be an object");
    target = json_object_get(d, "target");
    if (!target || json_is_null(target))
        return fail(c, "MissingField", "target", "is required");
    rc = check_enum_value(c, "target", targets, target);
    if (rc)
        return rc;
    t = json_string_value(target);
    sh = strcmp(t, "Mqtt") == 0      ? &k_mqtt_dest
         : strcmp(t, "Storage") == 0 ? &k_storage_dest
                                     : &k_bss_dest;
    conf = json_object_get(d, "configuration");
    if (!conf || json_is_null(conf))
        return fail(c, "MissingField", "configuration", "is required");
    if (!json_is_object(conf))
        return fail(c, "InvalidField", "configuration", "must be an object");
    fp_mpath_push_key(&c->path, "configuration");
    rc = check_shape(c, sh, conf);
    fp_mpath_pop(&c->path);
    return rc;
}

typedef struct name_ref {
    const char *z;
    size_t n;
    size_t idx;
} name_ref;

static int cmp_name_ref(const void *pa, const void *pb)
{
    const name_ref *a = pa, *b = pb;
    size_t n = a->n < b->n ? a->n : b->n;
    int r = memcmp(a->z, b->z, n);

    if (r)
        return r;
    if (a->n != b->n)
        return a->n < b->n ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* The items of arr (already checked: objects with a string "name") have
 * different names. Sorting keeps this O(n log n) for lists of thousands. */
static fp_status check_unique_names(vctx *c, const char *key, const json_t *arr)
{
    name_ref small[64];
    name_ref *refs = small;
    size_t n = json_array_size(arr), dup = SIZE_MAX, first = 0;

    if (n < 2)
        return FP_OK;
    if (n > N_OF(small)) {
        refs = fp_malloc(n * sizeof *refs);
        if (!refs)
            return fp_verr_set(c->err, FP_ERR_NOMEM, "OutOfMemory", "",
                               "Out of memory while checking names.");
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *name = json_object_get(json_array_get(arr, i), "name");
        refs[i].z = json_string_value(name);
        refs[i].n = json_string_length(name);
        refs[i].idx = i;
    }
    qsort(refs, n, sizeof *refs, cmp_name_ref);
    /* Runs of equal names are adjacent, each in index order; report the run
     * whose second entry comes first in the document. */
    for (size_t g = 0, i = 1; i <= n; i++) {
        if (i < n && refs[i].n == refs[g].n && memcmp(refs[i].z, refs[g].z, refs[g].n) == 0)
            continue;
        if (i - g >= 2 && refs[g + 1].idx < dup) {
            dup = refs[g + 1].idx;
            first = refs[g].idx;
        }
        g = i;
    }
    if (refs != small)
        fp_free(refs);
    if (dup == SIZE_MAX)
        return FP_OK;
    {
        char first_path[sizeof c->err->target];
        fp_status rc;

        fp_mpath_push_key(&c->path, key);
        fp_mpath_push_idx(&c->path, first);
        fp_mpath_render(&c->path, NULL, first_path, sizeof first_path);
        fp_mpath_pop(&c->path);
        fp_mpath_push_idx(&c->path, dup);
        rc = fail(c, "DuplicateName", "name", "'%s' is already used by %s",
                  json_string_value(json_object_get(json_array_get(arr, dup), "name")), first_path);
        fp_mpath_pop(&c->path);
        fp_mpath_pop(&c->path);
        return rc;
    }
}

static fp_status check_field(vctx *c, const field *f, const json_t *v)
{
    fp_status rc = FP_OK;
    size_t i;
    const char *k;
    const json_t *item;

    switch (f->type) {
    case FT_STRING:
        return check_string(c, f, v);
    case FT_BOOL:
        if (!json_is_boolean(v))
            return fail(c, "InvalidField", f->key, "must be true or false");
        return FP_OK;
    case FT_INT:
        return check_int(c, f, v);
    case FT_ENUM:
        return check_enum_value(c, f->key, f->enums, v);
    case FT_CONFIG:
        if (!json_is_string(v) ||
            !fp_json_text_is_object(json_string_value(v), json_string_length(v)))
            return fail(c, "InvalidField", f->key, "must be a string holding a JSON object");
        return FP_OK;
    case FT_SECRET:
        return check_secret_ref(c, f, v);
    case FT_TOPIC:
        return check_topic(c, f, v);
    case FT_ENDPOINT_TYPE:
        return check_endpoint_type(c, f, v);
    case FT_STRING_ARRAY:
    case FT_ENUM_ARRAY:
        if (!json_is_array(v))
            return fail(c, "InvalidField", f->key, "must be an array of strings");
        fp_mpath_push_key(&c->path, f->key);
        json_array_foreach(v, i, item)
        {
            fp_mpath_push_idx(&c->path, i);
            if (f->type == FT_ENUM_ARRAY)
                rc = check_enum_value(c, NULL, f->enums, item);
            else if (!json_is_string(item))
                rc = fail(c, "InvalidField", NULL, "must be a string");
            fp_mpath_pop(&c->path);
            if (rc)
                break;
        }
        fp_mpath_pop(&c->path);
        return rc;
    case FT_STRING_MAP:
        if (!json_is_object(v))
            return fail(c, "InvalidField", f->key, "must be an object of strings");
        fp_mpath_push_key(&c->path, f->key);
        json_object_foreach((json_t *)v, k, item)
        {
            if (!json_is_string(item)) {
                rc = fail(c, "InvalidField", k, "must be a string");
                break;
            }
        }
        fp_mpath_pop(&c->path);
        return rc;
    case FT_MAP:
        if (!json_is_object(v))
            return fail(c, "InvalidField", f->key, "must be an object");
        return FP_OK;
    case FT_OBJECT:
        if (!json_is_object(v))
            return fail(c, "InvalidField", f->key, "must be an object");
        fp_mpath_push_key(&c->path, f->key);
        rc = check_shape(c, f->shape, v);
        fp_mpath_pop(&c->path);
        return rc;
    case FT_OBJECT_ARRAY:
        if (!json_is_array(v))
            return fail(c, "InvalidField", f->key, "must be an array");
        fp_mpath_push_key(&c->path, f->key);
        json_array_foreach(v, i, item)
        {
            fp_mpath_push_idx(&c->path, i);
            if (!json_is_object(item))
                rc = fail(c, "InvalidField", NULL, "must be an object");
            else
                rc = check_shape(c, f->shape, item);
            fp_mpath_pop(&c->path);
            if (rc)
                break;
        }
        fp_mpath_pop(&c->path);
        if (!rc && (f->flags & F_UNIQUE))
            rc = check_unique_names(c, f->key, v);
        return rc;
    case FT_OBJECT_MAP:
        if (!json_is_object(v))
            return fail(c, "InvalidField", f->key, "must be an object");
        fp_mpath_push_key(&c->path, f->key);
        json_object_foreach((json_t *)v, k, item)
        {
            if (!*k) {
                rc = fail(c, "InvalidField", NULL, "must not have an empty key");
                break;
            }
            if (!json_is_object(item)) {
                rc = fail(c, "InvalidField", k, "must be an object");
                break;
            }
            fp_mpath_push_key(&c->path, k);
            rc = check_shape(c, f->shape, item);
            fp_mpath_pop(&c->path);
            if (rc)
                break;
        }
        fp_mpath_pop(&c->path);
        return rc;
    case FT_DESTINATIONS:
        if (!json_is_array(v))
            return fail(c, "InvalidField", f->key, "must be an array");
        fp_mpath_push_key(&c->path, f->key);
        json_array_foreach(v, i, item)
        {
            fp_mpath_push_idx(&c->path, i);
            rc = check_destination(c, item, f->enums);
            fp_mpath_pop(&c->path);
            if (rc)
                break;
        }
        fp_mpath_pop(&c->path);
        return rc;
    }
    return FP_OK;
}

static fp_status check_shape(vctx *c, const shape *sh, const json_t *obj)
{
    for (size_t i = 0; i < sh->n_field; i++) {
        const field *f = &sh->fields[i];
        const json_t *v;
        fp_status rc;

        if ((f->flags & F_DISCOVERED) && !c->discovered)
            continue;
        v = json_object_get(obj, f->key);
        if (!v || json_is_null(v)) {
            if (f->flags & F_REQUIRED)
                return fail(c, "MissingField", f->key, "is required");
            continue;
        }
        rc = check_field(c, f, v);
        if (rc)
            return rc;
    }
    return sh->check ? sh->check(c, obj) : FP_OK;
}

/* UsernamePassword needs the two secret names to be usable at all. */
static fp_status check_authentication(vctx *c, const json_t *obj)
{
    const char *method = json_string_value(json_object_get(obj, "method"));
    const json_t *cred = json_object_get(obj, "usernamePasswordCredentials");

    if (method && strcmp(method, "UsernamePassword") == 0 && (!cred || json_is_null(cred)))
        return fail(c, "MissingField", "usernamePasswordCredentials",
                    "is required when method is UsernamePassword");
    return FP_OK;
}

/* A device's inbound endpoint: an address the type's connector can open (lib/model's table),
 * refused now rather than saved and reported Unavailable later. Discovered endpoints are
 * reported as found and not checked. */
static fp_status check_inbound(vctx *c, const json_t *obj)
{
    const char *type = json_string_value(json_object_get(obj, "endpointType"));
    const char *address = json_string_value(json_object_get(obj, "address"));
    char why[256];

    if (type && address && fp_endpoint_address_check(type, address, why, sizeof why) != FP_OK)
        return fail(c, "InvalidField", "address", "%s", why);
    return FP_OK;
}

/* ---------------------------------------------------------------------------
 * Envelope and entry point
 * ------------------------------------------------------------------------- */

/* Other spellings of the ARM type that documents exported from Azure carry. */
static bool arm_type_ok(fp_kind kind, const char *t)
{
    if (strcasecmp(t, fp_kind_arm_type(kind)) == 0)
        return true;
    if (kind == FP_KIND_SCHEMA)
        return strcasecmp(t, "Microsoft.DeviceRegistry/schemaRegistries/schemas") == 0;
    if (kind == FP_KIND_SCHEMA_VERSION)
        return strcasecmp(t, "Microsoft.DeviceRegistry/schemaRegistries/schemas/schemaVersions") ==
                   0 ||
               strcasecmp(t, "Microsoft.DeviceRegistry/namespaces/schemas/schemaVersions") == 0;
    return false;
}

static const field k_tags_row = {"tags", FT_STRING_MAP, 0, NULL, NULL, 0, 0};

/* Check doc (borrowed, not changed) against the shape of kind: the envelope
 * (type, tags), then properties. Returns FP_OK, FP_ERR_INVALID with err
 * naming the first offending field, or FP_ERR_NOMEM. */
fp_status fp_model_validate(fp_kind kind, const json_t *doc, fp_verr *err)
{
    vctx c;
    const json_t *props, *type, *tags;
    fp_status rc;

    if ((unsigned)kind >= FP_KIND_COUNT)
        return fp_verr_set(err, FP_ERR_INVALID, "InvalidField", "",
                           "The resource kind is unknown.");
    fp_mpath_init(&c.path);
    c.err = err;
    c.discovered = fp_model_kind_client_version(kind);
    if (!json_is_object(doc))
        return fp_verr_set(err, FP_ERR_INVALID, "InvalidField", "",
                           "The document must be a JSON object.");
    type = json_object_get(doc, "type");
    if (type && !json_is_null(type)) {
        if (!json_is_string(type) || !arm_type_ok(kind, json_string_value(type)))
            return fp_verr_set(err, FP_ERR_INVALID, "InvalidField", "type",
                               "type must be \"%s\" for a %s.", fp_kind_arm_type(kind),
                               fp_kind_name(kind));
    }
    tags = json_object_get(doc, "tags");
    if (tags && !json_is_null(tags)) {
        rc = check_field(&c, &k_tags_row, tags);
        if (rc)
            return rc;
    }
    props = json_object_get(doc, "properties");
    if (json_is_null(props))
        props = NULL;
    if (props && !json_is_object(props))
        return fp_verr_set(err, FP_ERR_INVALID, "InvalidField", "properties",
                           "properties must be an object.");
    /* An absent properties object is checked as an empty one (json_object_get
     * of NULL is NULL), so required fields are reported as missing. */
    fp_mpath_push_key(&c.path, "properties");
    rc = check_shape(&c, k_kind_shapes[kind], props);
    fp_mpath_pop(&c.path);
    return rc;
}
