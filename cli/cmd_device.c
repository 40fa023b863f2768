/*
 * cmd_device.c - `fieldplane device`: devices of a namespace and their inbound
 * endpoints. `device endpoint inbound add TYPE` has one row per endpoint type
 * whose typed flags write the keys of the endpoint's additionalConfiguration
 * (OPC UA session, subscription and security settings, ONVIF certificate
 * checks, MQTT topic filters), so the JSON never has to be written by hand.
 */
#include <string.h>
#include <strings.h>

#include "client.h"
#include "fp_alloc.h"
#include "fp_model.h"

static const fp_col dev_cols[] = {
    {"NAME", "name", FP_COL_VALUE},
    {"ENABLED", "properties.enabled", FP_COL_VALUE},
    {"ENDPOINTS", "properties.endpoints.inbound", FP_COL_KEYS},
    {"MANUFACTURER", "properties.manufacturer", FP_COL_VALUE},
    {"MODEL", "properties.model", FP_COL_VALUE},
    {"VERSION", "properties.version", FP_COL_VALUE},
    {0},
};

static const fp_res_desc dev_desc = {FP_RK_DEVICE, FP_KIND_DEVICE, dev_cols};

#define DEV_NS                                                                                     \
    {                                                                                              \
        "namespace", 0, FP_FLAG_STR, FP_F_REQUIRED, NULL, "NS", "the namespace"                    \
    }
#define DEV_NAME                                                                                   \
    {                                                                                              \
        "name", 'n', FP_FLAG_STR, FP_F_REQUIRED | FP_F_POSITIONAL, NULL, "NAME",                   \
            "the device's name"                                                                    \
    }

static const fp_flag dev_name_flags[] = {DEV_NAME, DEV_NS, {0}};

static const fp_flag dev_fields[] = {
    {"attr", 0, FP_FLAG_KV, 0, "properties.attributes", NULL, "a custom attribute"},
    {"remove-attr", 0, FP_FLAG_UNSET, 0, "properties.attributes", NULL, "remove an attribute"},
    {"disabled", 0, FP_FLAG_BOOL, FP_F_NEGATE | FP_F_CREATE_ONLY, "properties.enabled", NULL,
     "create the device disabled"},
    {"enabled", 0, FP_FLAG_TF, 0, "properties.enabled", NULL, "enable or disable the device"},
    {"manufacturer", 0, FP_FLAG_STR, 0, "properties.manufacturer", NULL, "manufacturer"},
    {"model", 0, FP_FLAG_STR, 0, "properties.model", NULL, "model"},
    {"os", 0, FP_FLAG_STR, FP_F_CREATE_ONLY, "properties.operatingSystem", NULL,
     "operating system"},
    {"os-version", 0, FP_FLAG_STR, 0, "properties.operatingSystemVersion", NULL,
     "operating system version"},
    {"external-id", 0, FP_FLAG_STR, FP_F_CREATE_ONLY, "properties.externalDeviceId", "ID",
     "external device id (the CloudEvents source)"},
    {"tag", 0, FP_FLAG_KV, 0, "tags", NULL, "a tag"},
    {0},
};

static const fp_flag dev_delete_flags[] = {
    DEV_NAME,
    DEV_NS,
    {"yes", 'y', FP_FLAG_BOOL, 0, NULL, NULL, "do not ask for confirmation"},
    {"cascade", 0, FP_FLAG_BOOL, 0, NULL, NULL, "delete the assets that refer to it too"},
    {0},
};

static const fp_flag dev_list_flags[] = {
    DEV_NS,
    {"name-prefix", 0, FP_FLAG_STR, 0, "?namePrefix", "PREFIX", "only names starting so"},
    {"tag", 0, FP_FLAG_LIST, 0, "?tag", "KEY[=VALUE]", "only devices with this tag"},
    {"endpoint-type", 0, FP_FLAG_STR, 0, "?endpointType", "TYPE",
     "only devices with an inbound endpoint of this type (Microsoft.OpcUa, ...)"},
    {"manufacturer", 0, FP_FLAG_STR, 0, "=properties.manufacturer", NULL, "only this manufacturer"},
    {"model", 0, FP_FLAG_STR, 0, "=properties.model", NULL, "only this model"},
    {0},
};

/* ---------------------------------------------------------------------------
 * Endpoints
 * ------------------------------------------------------------------------- */

static const fp_col ep_cols[] = {
    {"NAME", "name", FP_COL_VALUE},
    {"TYPE", "endpointType", FP_COL_VALUE},
    {"ADDRESS", "address", FP_COL_VALUE},
    {"AUTH", "authentication.method", FP_COL_VALUE},
    {0},
};

#define EP_DEVICE                                                                                  \
    {                                                                                              \
        "device", 'd', FP_FLAG_STR, FP_F_REQUIRED, NULL, "DEVICE", "the device"                    \
    }

static const fp_flag ep_list_flags[] = {DEV_NS, EP_DEVICE, {0}};

static const fp_flag ep_remove_flags[] = {
    DEV_NS,
    EP_DEVICE,
    {"name", 'n', FP_FLAG_STR, FP_F_REQUIRED | FP_F_POSITIONAL, NULL, "NAME",
     "the endpoint's name"},
    {0},
};

/* Flags every endpoint type takes. */
#define EP_COMMON_FLAGS                                                                            \
    DEV_NS, EP_DEVICE, {"name", 'n',    FP_FLAG_STR,          FP_F_REQUIRED | FP_F_POSITIONAL,     \
                        NULL,   "NAME", "the endpoint's name"},                                    \
        {"address", 'a', FP_FLAG_STR, FP_F_REQUIRED, "address", "URL", "the endpoint's address"},  \
        {"user-ref",                                                                               \
         0,                                                                                        \
         FP_FLAG_STR,                                                                              \
         0,                                                                                        \
         "authentication.usernamePasswordCredentials.usernameSecretName",                          \
         "SECRET[/KEY]",                                                                           \
         "secret holding the user name (UsernamePassword authentication)"},                        \
        {"password-ref",                                                                           \
         0,                                                                                        \
         FP_FLAG_STR,                                                                              \
         0,                                                                                        \
         "authentication.usernamePasswordCredentials.passwordSecretName",                          \
         "SECRET[/KEY]",                                                                           \
         "secret holding the password"},                                                           \
        {"cert-ref",                                                                               \
         0,                                                                                        \
         FP_FLAG_STR,                                                                              \
         0,                                                                                        \
         "authentication.x509Credentials.certificateSecretName",                                   \
         "SECRET[/KEY]",                                                                           \
         "secret holding the client certificate (Certificate authentication)"},                    \
        {"key-ref",                                                                                \
         0,                                                                                        \
         FP_FLAG_STR,                                                                              \
         0,                                                                                        \
         "authentication.x509Credentials.keySecretName",                                           \
         "SECRET[/KEY]",                                                                           \
         "secret holding the client key"},                                                         \
        {"intermediate-certs-ref",                                                                 \
         0,                                                                                        \
         FP_FLAG_STR,                                                                              \
         0,                                                                                        \
         "authentication.x509Credentials.intermediateCertificatesSecretName",                      \
         "SECRET[/KEY]",                                                                           \
         "secret holding intermediate certificates"},                                              \
        {"trust-list",                                                                             \
         0,                                                                                        \
         FP_FLAG_STR,                                                                              \
         0,                                                                                        \
         "trustSettings.trustList",                                                                \
         "SECRET",                                                                                 \
         "secret holding the trusted certificates"},                                               \
        {"config",                                                                                 \
         0,                                                                                        \
         FP_FLAG_JSON,                                                                             \
         0,                                                                                        \
         "additionalConfiguration",                                                                \
         NULL,                                                                                     \
         "additionalConfiguration as JSON (typed flags change keys in it)"},                       \
    {                                                                                              \
        "replace", 0, FP_FLAG_BOOL, 0, NULL, NULL, "replace an endpoint of that name"              \
    }

static const fp_flag ep_opcua_flags[] = {
    EP_COMMON_FLAGS,
    {"app", 0, FP_FLAG_STR, 0, "additionalConfiguration#applicationName", "NAME",
     "OPC UA application name"},
    {"keep-alive", 0, FP_FLAG_INT, 0, "additionalConfiguration#keepAliveMilliseconds", "MS",
     "keep-alive in milliseconds (10000)"},
    {"publishing-interval", 0, FP_FLAG_INT, 0,
     "additionalConfiguration#defaults.publishingIntervalMilliseconds", "MS",
     "default publishing interval (1000)"},
    {"sampling-interval", 0, FP_FLAG_INT, 0,
     "additionalConfiguration#defaults.samplingIntervalMilliseconds", "MS",
     "default sampling interval (1000)"},
    {"queue-size", 0, FP_FLAG_INT, 0, "additionalConfiguration#defaults.queueSize", NULL,
     "default queue size (1)"},
    {"key-frame-count", 0, FP_FLAG_INT, 0, "additionalConfiguration#defaults.keyFrameCount", NULL,
     "default key frame count (0)"},
    {"session-timeout", 0, FP_FLAG_INT, 0, "additionalConfiguration#session.timeoutMilliseconds",
     "MS", "session timeout (60000)"},
    {"session-keep-alive", 0, FP_FLAG_INT, 0,
     "additionalConfiguration#session.keepAliveIntervalMilliseconds", "MS",
     "session keep-alive interval (10000)"},
    {"session-reconnect-period", 0, FP_FLAG_INT, 0,
     "additionalConfiguration#session.reconnectPeriodMilliseconds", "MS",
     "reconnect period (2000)"},
    {"session-reconnect-backoff", 0, FP_FLAG_INT, 0,
     "additionalConfiguration#session.reconnectExponentialBackOffMilliseconds", "MS",
     "reconnect exponential back-off (10000)"},
    {"subscription-max-items", 0, FP_FLAG_INT, 0, "additionalConfiguration#subscription.maxItems",
     NULL, "monitored items per subscription (1000)"},
    {"subscription-life-time", 0, FP_FLAG_INT, 0,
     "additionalConfiguration#subscription.lifeTimeMilliseconds", "MS",
     "subscription life time (60000)"},
    {"security-policy", 0, FP_FLAG_STR, 0, "additionalConfiguration#security.securityPolicy",
     "POLICY", "None, Basic256Sha256, Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss or a URI"},
    {"security-mode", 0, FP_FLAG_STR, 0, "additionalConfiguration#security.securityMode", "MODE",
     "none, sign or signAndEncrypt"},
    {"accept-untrusted-certs", 0, FP_FLAG_BOOL, 0,
     "additionalConfiguration#security.autoAcceptUntrustedServerCertificates", NULL,
     "accept server certificates that are not trusted"},
    {"run-asset-discovery", 0, FP_FLAG_BOOL, 0, "additionalConfiguration#runAssetDiscovery", NULL,
     "browse the server and report discovered assets"},
    {0},
};

static const fp_flag ep_onvif_flags[] = {
    EP_COMMON_FLAGS,
    {"accept-invalid-hostnames", 0, FP_FLAG_BOOL, 0,
     "additionalConfiguration#acceptInvalidHostnames", NULL, "accept certificate host mismatches"},
    {"accept-invalid-certs", 0, FP_FLAG_BOOL, 0,
     "additionalConfiguration#acceptInvalidCertificates", NULL, "accept invalid certificates"},
    {0},
};

static const fp_flag ep_mqtt_flags[] = {
    EP_COMMON_FLAGS,
    {"topic-filter", 0, FP_FLAG_STR, 0, "additionalConfiguration#topicFilter", "FILTER",
     "topics to subscribe to"},
    {"topic-mapping-prefix", 0, FP_FLAG_STR, 0, "additionalConfiguration#topicMappingPrefix",
     "PREFIX", "prefix of the republished topics"},
    {0},
};

static const fp_flag ep_modbus_flags[] = {
    EP_COMMON_FLAGS,
    {"unit-id", 0, FP_FLAG_INT, 0, "additionalConfiguration#unitId", "ID",
     "unit id (slave address), 1..247 (1)"},
    {"timeout", 0, FP_FLAG_INT, 0, "additionalConfiguration#timeoutMilliseconds", "MS",
     "time allowed for one answer (1000)"},
    {"inter-request-delay", 0, FP_FLAG_INT, 0,
     "additionalConfiguration#interRequestDelayMilliseconds", "MS",
     "pause between two requests (0)"},
    {"retries", 0, FP_FLAG_INT, 0, "additionalConfiguration#retries", "N",
     "tries after the first without an answer (1)"},
    {0},
};

static const fp_flag ep_plain_flags[] = {EP_COMMON_FLAGS, {0}};

static const fp_flag ep_custom_flags[] = {
    EP_COMMON_FLAGS,
    {"endpoint-type", 't', FP_FLAG_STR, FP_F_REQUIRED, "endpointType", "TYPE",
     "the custom connector's endpoint type string"},
    {0},
};

/* A security policy's short name becomes its URI. */
static int fix_opcua(fp_ctx *ctx, json_t *ep)
{
    const char *cfg = fp_json_str(ep, "additionalConfiguration");
    json_t *c = cfg ? json_loads(cfg, 0, NULL) : NULL;
    const char *policy = fp_json_str(c, "security.securityPolicy");
    const char *mode = fp_json_str(c, "security.securityMode");
    char uri[256], err[128];
    int rc = FP_EXIT_OK;

    if (mode && strcmp(mode, "none") && strcmp(mode, "sign") && strcmp(mode, "signAndEncrypt")) {
        fp_errorf(ctx, "--security-mode must be none, sign or signAndEncrypt, not '%s'", mode);
        rc = FP_EXIT_USAGE;
    } else if (policy && !strstr(policy, "://")) {
        snprintf(uri, sizeof uri, "http://opcfoundation.org/UA/SecurityPolicy#%s", policy);
        if (fp_json_set(ep, "additionalConfiguration#security.securityPolicy", json_string(uri),
                        err, sizeof err))
            rc = FP_EXIT_ERROR;
    }
    json_decref(c);
    return rc;
}

/* Set authentication.method from the credentials the flags gave. */
static int fix_auth(fp_ctx *ctx, json_t *ep)
{
    json_t *auth = json_object_get(ep, "authentication");
    bool up = json_object_get(auth, "usernamePasswordCredentials") != NULL;
    bool x509 = json_object_get(auth, "x509Credentials") != NULL;
    char err[128];

    if (up && x509) {
        fp_errorf(ctx, "give either --user-ref/--password-ref or --cert-ref/--key-ref, not both");
        return FP_EXIT_USAGE;
    }
    if (up && (!fp_json_get(auth, "usernamePasswordCredentials.usernameSecretName") ||
               !fp_json_get(auth, "usernamePasswordCredentials.passwordSecretName"))) {
        fp_errorf(ctx, "--user-ref and --password-ref go together");
        return FP_EXIT_USAGE;
    }
    if (x509 && !fp_json_get(auth, "x509Credentials.certificateSecretName")) {
        fp_errorf(ctx, "--cert-ref is required with --key-ref or --intermediate-certs-ref");
        return FP_EXIT_USAGE;
    }
    return fp_json_set(ep, "authentication.method",
                       json_string(up     ? "UsernamePassword"
                                   : x509 ? "Certificate"
                                          : "Anonymous"),
                       err, sizeof err)
               ? FP_EXIT_ERROR
               : FP_EXIT_OK;
}

static int ep_add_fn(fp_ctx *ctx, json_t *doc, void *arg)
{
    json_t **made = arg;
    const char *type = ctx->cmd->data;
    const char *name = fp_arg_str(ctx, "name");
    json_t *inbound, *ep;
    char err[128];
    int rc;

    inbound = fp_json_get(doc, "properties.endpoints.inbound");
    if (!json_is_object(inbound)) {
        if (fp_json_set(doc, "properties.endpoints.inbound", json_object(), err, sizeof err))
            return FP_EXIT_ERROR;
        inbound = fp_json_get(doc, "properties.endpoints.inbound");
    }
    if (json_object_get(inbound, name) && !fp_arg_given(ctx, "replace")) {
        fp_errorf(ctx, "endpoint '%s' exists already on device '%s' (add --replace)", name,
                  fp_arg_str(ctx, "device"));
        return FP_EXIT_CONFLICT;
    }
    ep = json_object();
    if (type)
        json_object_set_new(ep, "endpointType", json_string(type));
    rc = fp_apply_flags(ctx, ep);
    if (!rc && type && !strcmp(type, FP_ENDPOINT_OPCUA))
        rc = fix_opcua(ctx, ep);
    if (!rc)
        rc = fix_auth(ctx, ep);
    if (rc) {
        json_decref(ep);
        return rc;
    }
    json_decref(*made);
    *made = json_deep_copy(ep);
    json_object_set_new(*made, "name", json_string(name));
    json_object_set_new(inbound, name, ep);
    return FP_EXIT_OK;
}

static char *device_path(fp_ctx *ctx)
{
    return fp_api_path(fp_arg_str(ctx, "namespace"), fp_kind_collection(FP_KIND_DEVICE),
                       fp_arg_str(ctx, "device"), NULL);
}

static int ep_add(fp_ctx *ctx)
{
    char *path = device_path(ctx), what[300];
    json_t *made = NULL;
    int rc;

    snprintf(what, sizeof what, "device '%s'", fp_arg_str(ctx, "device"));
    rc = fp_res_modify(ctx, path, what, ep_add_fn, &made, NULL);
    if (!rc && made)
        fp_print(ctx, made, ep_cols);
    json_decref(made);
    fp_free(path);
    return rc;
}

static int ep_remove_fn(fp_ctx *ctx, json_t *doc, void *arg)
{
    json_t *inbound = fp_json_get(doc, "properties.endpoints.inbound");
    const char *name = fp_arg_str(ctx, "name");

    (void)arg;
    if (!json_object_get(inbound, name)) {
        fp_errorf(ctx, "endpoint '%s' not found on device '%s'", name, fp_arg_str(ctx, "device"));
        return FP_EXIT_NOT_FOUND;
    }
    json_object_del(inbound, name);
    return FP_EXIT_OK;
}

static int ep_remove(fp_ctx *ctx)
{
    char *path = device_path(ctx), what[300];
    int rc;

    snprintf(what, sizeof what, "device '%s'", fp_arg_str(ctx, "device"));
    rc = fp_res_modify(ctx, path, what, ep_remove_fn, NULL, NULL);
    if (!rc && ctx->output == FP_OUT_TABLE)
        fprintf(ctx->out, "removed endpoint '%s'\n", fp_arg_str(ctx, "name"));
    fp_free(path);
    return rc;
}

static int ep_list(fp_ctx *ctx)
{
    fp_client *c = fp_ctx_client(ctx);
    char *path, what[300];
    fp_resp r;
    int rc;

    if (!c)
        return FP_EXIT_ERROR;
    path = device_path(ctx);
    rc = fp_client_send(c, "GET", path, NULL, NULL, NULL, &r);
    fp_free(path);
    snprintf(what, sizeof what, "device '%s'", fp_arg_str(ctx, "device"));
    if (rc) {
        fp_report(ctx, rc, &r, what);
    } else {
        json_t *rows = json_array();
        const char *key;
        json_t *ep;
        json_object_foreach(fp_json_get(r.body, "properties.endpoints.inbound"), key, ep)
        {
            json_t *row = json_deep_copy(ep);
            json_object_set_new(row, "name", json_string(key));
            json_array_append_new(rows, row);
        }
        fp_print(ctx, rows, ep_cols);
        json_decref(rows);
    }
    fp_resp_clear(&r);
    return rc;
}

#define EP_EXAMPLE(t, extra)                                                                       \
    "fieldplane device endpoint inbound add " t " --namespace plant-a --device press-1 "           \
    "--name main --address " extra

static const fp_cli_cmd ep_add_cmds[] = {
    {"opcua", "Add an OPC UA endpoint",
     EP_EXAMPLE("opcua", "opc.tcp://10.0.0.5:4840 --security-policy Basic256Sha256 "
                         "--security-mode signAndEncrypt --user-ref opc-user --password-ref "
                         "opc-pass"),
     ep_opcua_flags, NULL, ep_add, NULL, FP_ENDPOINT_OPCUA, FP_OP_ADD, NULL},
    {"rest", "Add an HTTP (REST) endpoint", EP_EXAMPLE("rest", "http://10.0.0.7/api"),
     ep_plain_flags, NULL, ep_add, NULL, FP_ENDPOINT_HTTP, FP_OP_ADD, NULL},
    {"sse", "Add a server-sent events endpoint", EP_EXAMPLE("sse", "http://10.0.0.7/events"),
     ep_plain_flags, NULL, ep_add, NULL, FP_ENDPOINT_SSE, FP_OP_ADD, NULL},
    {"onvif", "Add an ONVIF camera endpoint",
     EP_EXAMPLE("onvif", "http://10.0.0.9/onvif/device_service --accept-invalid-certs"),
     ep_onvif_flags, NULL, ep_add, NULL, FP_ENDPOINT_ONVIF, FP_OP_ADD, NULL},
    {"media", "Add a media (RTSP, snapshots) endpoint",
     EP_EXAMPLE("media", "rtsp://10.0.0.9:554/stream1"), ep_plain_flags, NULL, ep_add, NULL,
     FP_ENDPOINT_MEDIA, FP_OP_ADD, NULL},
    {"mqtt", "Add an MQTT broker endpoint",
     EP_EXAMPLE("mqtt", "mqtt://10.0.0.3:1883 --topic-filter 'plc/#'"), ep_mqtt_flags, NULL, ep_add,
     NULL, FP_ENDPOINT_MQTT, FP_OP_ADD, NULL},
    {"modbus", "Add a Modbus TCP or RTU endpoint",
     EP_EXAMPLE("modbus", "modbus-tcp://10.0.0.4:502 --unit-id 3 --timeout 500"), ep_modbus_flags,
     NULL, ep_add, NULL, FP_ENDPOINT_MODBUS, FP_OP_ADD, NULL},
    {"custom", "Add an endpoint of a custom connector's type",
     EP_EXAMPLE("custom", "tcp://10.0.0.4:47808 --endpoint-type Contoso.Bacnet "
                          "--config '{\"deviceInstance\":1}'"),
     ep_custom_flags, NULL, ep_add, NULL, NULL, FP_OP_ADD, NULL},
    {0},
};

static const fp_cli_cmd ep_inbound_cmds[] = {
    {"add", "Add an inbound endpoint of a given type", NULL, NULL, NULL, NULL, ep_add_cmds, NULL,
     FP_OP_NONE, NULL},
    {"list", "List a device's inbound endpoints",
     "fieldplane device endpoint inbound list --namespace plant-a --device press-1", ep_list_flags,
     NULL, ep_list, NULL, NULL, FP_OP_NONE, NULL},
    {"remove", "Remove an inbound endpoint",
     "fieldplane device endpoint inbound remove --namespace plant-a --device press-1 --name main",
     ep_remove_flags, NULL, ep_remove, NULL, NULL, FP_OP_NONE, NULL},
    {0},
};

static const fp_cli_cmd ep_cmds[] = {
    {"list", "List a device's endpoints",
     "fieldplane device endpoint list --namespace plant-a --device press-1", ep_list_flags, NULL,
     ep_list, NULL, NULL, FP_OP_NONE, NULL},
    {"inbound", "Add and remove inbound endpoints", NULL, NULL, NULL, NULL, ep_inbound_cmds, NULL,
     FP_OP_NONE, NULL},
    {0},
};

static const fp_cli_cmd dev_cmds[] = {
    {"create", "Create a device",
     "fieldplane device create press-1 --namespace plant-a --manufacturer Contoso --attr line=3",
     dev_name_flags, dev_fields, fp_res_create, NULL, &dev_desc, FP_OP_ADD, NULL},
    {"show", "Show a device", "fieldplane device show press-1 --namespace plant-a -o yaml",
     dev_name_flags, NULL, fp_res_show, NULL, &dev_desc, FP_OP_NONE, NULL},
    {"list", "List the devices of a namespace",
     "fieldplane device list --namespace plant-a --endpoint-type Microsoft.OpcUa", dev_list_flags,
     NULL, fp_res_list, NULL, &dev_desc, FP_OP_NONE, NULL},
    {"update", "Change a device (read, change, write with If-Match)",
     "fieldplane device update press-1 --namespace plant-a --model X200 --enabled false",
     dev_name_flags, dev_fields, fp_res_update, NULL, &dev_desc, FP_OP_UPDATE, NULL},
    {"delete", "Delete a device", "fieldplane device delete press-1 --namespace plant-a --yes",
     dev_delete_flags, NULL, fp_res_delete, NULL, &dev_desc, FP_OP_NONE,
     "A device that assets refer to is kept unless --cascade, which deletes them too."},
    {"endpoint", "Manage a device's endpoints", NULL, NULL, NULL, NULL, ep_cmds, NULL, FP_OP_NONE,
     NULL},
    {0},
};

const fp_cli_cmd fp_cli_device = {"device",
                                  "Manage devices and their endpoints",
                                  "fieldplane device create press-1 --namespace plant-a",
                                  NULL,
                                  NULL,
                                  NULL,
                                  dev_cmds,
                                  NULL,
                                  FP_OP_NONE,
                                  NULL};
