/*
 * cmd_asset.c - `fieldplane asset`: assets of a namespace and the item lists
 * inside them (datasets and their data points, event groups and their events,
 * streams, management groups and their actions), each with add, list, show,
 * update and remove, plus import and export of data points and datasets.
 *
 * Every sub-group is the same five generic operations (client_res.c) over an
 * fp_sub_desc that says where its list lives; the field flags of each item kind
 * are one table, shared by add and update.
 */
#include "client.h"

static const fp_col asset_cols[] = {
    {"NAME", "name", FP_COL_VALUE},
    {"DEVICE", "properties.deviceRef.deviceName", FP_COL_VALUE},
    {"ENDPOINT", "properties.deviceRef.endpointName", FP_COL_VALUE},
    {"DATASETS", "properties.datasets", FP_COL_COUNT},
    {"EVENT GROUPS", "properties.eventGroups", FP_COL_COUNT},
    {"ENABLED", "properties.enabled", FP_COL_VALUE},
    {"VERSION", "properties.version", FP_COL_VALUE},
    {0},
};

static const fp_res_desc asset_desc = {FP_RK_ASSET, FP_KIND_ASSET, asset_cols};

#define A_NS                                                                                       \
    {                                                                                              \
        "namespace", 0, FP_FLAG_STR, FP_F_REQUIRED, NULL, "NS", "the namespace"                    \
    }
#define A_NAME                                                                                     \
    {                                                                                              \
        "name", 'n', FP_FLAG_STR, FP_F_REQUIRED | FP_F_POSITIONAL, NULL, "NAME",                   \
            "the asset's name"                                                                     \
    }
#define A_ASSET                                                                                    \
    {                                                                                              \
        "asset", 'a', FP_FLAG_STR, FP_F_REQUIRED, NULL, "ASSET", "the asset"                       \
    }

static const fp_flag asset_name_flags[] = {A_NAME, A_NS, {0}};

static const fp_flag asset_fields[] = {
    {"device", 'd', FP_FLAG_STR, FP_F_REQ_ADD | FP_F_CREATE_ONLY, "properties.deviceRef.deviceName",
     "DEVICE", "the device the asset is reached through"},
    {"endpoint", 'e', FP_FLAG_STR, FP_F_REQ_ADD | FP_F_CREATE_ONLY,
     "properties.deviceRef.endpointName", "ENDPOINT", "the device's inbound endpoint"},
    {"attr", 0, FP_FLAG_KV, 0, "properties.attributes", NULL, "a custom attribute"},
    {"remove-attr", 0, FP_FLAG_UNSET, 0, "properties.attributes", NULL, "remove an attribute"},
    {"display-name", 0, FP_FLAG_STR, 0, "properties.displayName", "TEXT", "display name"},
    {"desc", 0, FP_FLAG_STR, 0, "properties.description", "TEXT", "description"},
    {"disabled", 0, FP_FLAG_BOOL, FP_F_NEGATE | FP_F_CREATE_ONLY, "properties.enabled", NULL,
     "create the asset disabled"},
    {"enabled", 0, FP_FLAG_TF, 0, "properties.enabled", NULL, "enable or disable the asset"},
    {"external-id", 0, FP_FLAG_STR, FP_F_CREATE_ONLY, "properties.externalAssetId", "ID",
     "external asset id (the CloudEvents subject)"},
    {"manufacturer", 0, FP_FLAG_STR, 0, "properties.manufacturer", NULL, "manufacturer"},
    {"manufacturer-uri", 0, FP_FLAG_STR, 0, "properties.manufacturerUri", "URI",
     "manufacturer URI"},
    {"model", 0, FP_FLAG_STR, 0, "properties.model", NULL, "model"},
    {"product-code", 0, FP_FLAG_STR, 0, "properties.productCode", "CODE", "product code"},
    {"serial-number", 0, FP_FLAG_STR, 0, "properties.serialNumber", "SN", "serial number"},
    {"hardware-revision", 0, FP_FLAG_STR, 0, "properties.hardwareRevision", "REV",
     "hardware revision"},
    {"software-revision", 0, FP_FLAG_STR, 0, "properties.softwareRevision", "REV",
     "software revision"},
    {"documentation-uri", 0, FP_FLAG_STR, 0, "properties.documentationUri", "URI",
     "documentation URI"},
    {"asset-type-ref", 0, FP_FLAG_LIST, 0, "properties.assetTypeRefs", "REF",
     "an asset type reference"},
    {"tag", 0, FP_FLAG_KV, 0, "tags", NULL, "a tag"},
    {"dataset-config", 0, FP_FLAG_JSON, 0, "properties.defaultDatasetsConfiguration", NULL,
     "default dataset configuration"},
    {"dataset-publishing-interval", 0, FP_FLAG_INT, 0,
     "properties.defaultDatasetsConfiguration#publishingInterval", "MS",
     "default dataset publishing interval"},
    {"dataset-sampling-interval", 0, FP_FLAG_INT, 0,
     "properties.defaultDatasetsConfiguration#samplingInterval", "MS",
     "default dataset sampling interval"},
    {"dataset-queue-size", 0, FP_FLAG_INT, 0, "properties.defaultDatasetsConfiguration#queueSize",
     NULL, "default dataset queue size"},
    {"dataset-key-frame-count", 0, FP_FLAG_INT, 0,
     "properties.defaultDatasetsConfiguration#keyFrameCount", NULL, "default key frame count"},
    {"events-config", 0, FP_FLAG_JSON, 0, "properties.defaultEventsConfiguration", NULL,
     "default event configuration"},
    {"event-publishing-interval", 0, FP_FLAG_INT, 0,
     "properties.defaultEventsConfiguration#publishingInterval", "MS",
     "default event publishing interval"},
    {"event-queue-size", 0, FP_FLAG_INT, 0, "properties.defaultEventsConfiguration#queueSize", NULL,
     "default event queue size"},
    {"streams-config", 0, FP_FLAG_JSON, 0, "properties.defaultStreamsConfiguration", NULL,
     "default stream configuration"},
    {"mgmt-config", 0, FP_FLAG_JSON, 0, "properties.defaultManagementGroupsConfiguration", NULL,
     "default management group configuration"},
    {"dataset-dest", 0, FP_FLAG_DEST, 0, "properties.defaultDatasetsDestinations", NULL,
     "default dataset destination: topic=T [qos=1] [retain=Keep] [ttl=S] | key=K | path=P"},
    {"event-dest", 0, FP_FLAG_DEST, 0, "properties.defaultEventsDestinations", NULL,
     "default event destination"},
    {"stream-dest", 0, FP_FLAG_DEST, 0, "properties.defaultStreamsDestinations", NULL,
     "default stream destination"},
    {0},
};

static const fp_flag asset_delete_flags[] = {
    A_NAME,
    A_NS,
    {"yes", 'y', FP_FLAG_BOOL, 0, NULL, NULL, "do not ask for confirmation"},
    {0},
};

static const fp_flag asset_list_flags[] = {
    A_NS,
    {"name-prefix", 0, FP_FLAG_STR, 0, "?namePrefix", "PREFIX", "only names starting so"},
    {"tag", 0, FP_FLAG_LIST, 0, "?tag", "KEY[=VALUE]", "only assets with this tag"},
    {"device", 'd', FP_FLAG_STR, 0, "?deviceRef", "DEVICE", "only assets of this device"},
    {0},
};

static const fp_flag asset_query_flags[] = {
    A_NS,
    {"name-prefix", 0, FP_FLAG_STR, 0, "?namePrefix", "PREFIX", "only names starting so"},
    {"tag", 0, FP_FLAG_LIST, 0, "?tag", "KEY[=VALUE]", "only assets with this tag"},
    {"device", 'd', FP_FLAG_STR, 0, "?deviceRef", "DEVICE", "only assets of this device"},
    {"endpoint", 'e', FP_FLAG_STR, 0, "=properties.deviceRef.endpointName", "ENDPOINT",
     "only assets on this endpoint"},
    {"display-name", 0, FP_FLAG_STR, 0, "=properties.displayName", "TEXT", "display name"},
    {"manufacturer", 0, FP_FLAG_STR, 0, "=properties.manufacturer", NULL, "manufacturer"},
    {"model", 0, FP_FLAG_STR, 0, "=properties.model", NULL, "model"},
    {"serial-number", 0, FP_FLAG_STR, 0, "=properties.serialNumber", "SN", "serial number"},
    {"external-id", 0, FP_FLAG_STR, 0, "=properties.externalAssetId", "ID", "external asset id"},
    {"enabled", 0, FP_FLAG_TF, 0, "=properties.enabled", NULL, "enabled or not"},
    {0},
};

/* ---------------------------------------------------------------------------
 * Item kinds
 * ------------------------------------------------------------------------- */

static const fp_col dataset_cols[] = {
    {"NAME", "name", FP_COL_VALUE},
    {"DATA SOURCE", "dataSource", FP_COL_VALUE},
    {"POINTS", "dataPoints", FP_COL_COUNT},
    {"DESTINATIONS", "destinations", FP_COL_COUNT},
    {"CONFIG", "datasetConfiguration", FP_COL_VALUE},
    {0},
};
static const fp_col point_cols[] = {
    {"NAME", "name", FP_COL_VALUE},
    {"DATA SOURCE", "dataSource", FP_COL_VALUE},
    {"TYPE REF", "typeRef", FP_COL_VALUE},
    {"CONFIG", "dataPointConfiguration", FP_COL_VALUE},
    {0},
};
static const fp_col egroup_cols[] = {
    {"NAME", "name", FP_COL_VALUE},
    {"DATA SOURCE", "dataSource", FP_COL_VALUE},
    {"EVENTS", "events", FP_COL_NAMES},
    {"DESTINATIONS", "defaultDestinations", FP_COL_COUNT},
    {0},
};
static const fp_col event_cols[] = {
    {"NAME", "name", FP_COL_VALUE},
    {"DATA SOURCE", "dataSource", FP_COL_VALUE},
    {"DESTINATIONS", "destinations", FP_COL_COUNT},
    {"CONFIG", "eventConfiguration", FP_COL_VALUE},
    {0},
};
static const fp_col stream_cols[] = {
    {"NAME", "name", FP_COL_VALUE},
    {"TYPE REF", "typeRef", FP_COL_VALUE},
    {"DESTINATIONS", "destinations", FP_COL_COUNT},
    {"CONFIG", "streamConfiguration", FP_COL_VALUE},
    {0},
};
static const fp_col mgroup_cols[] = {
    {"NAME", "name", FP_COL_VALUE},
    {"DATA SOURCE", "dataSource", FP_COL_VALUE},
    {"DEFAULT TOPIC", "defaultTopic", FP_COL_VALUE},
    {"ACTIONS", "actions", FP_COL_NAMES},
    {0},
};
static const fp_col action_cols[] = {
    {"NAME", "name", FP_COL_VALUE},
    {"TYPE", "actionType", FP_COL_VALUE},
    {"TARGET URI", "targetUri", FP_COL_VALUE},
    {"TOPIC", "topic", FP_COL_VALUE},
    {0},
};

static const fp_sub_desc dataset_desc = {"dataset", NULL, NULL, "datasets", dataset_cols};
static const fp_sub_desc point_desc = {"data point", "datasets", "dataset", "dataPoints",
                                       point_cols};
static const fp_sub_desc egroup_desc = {"event group", NULL, NULL, "eventGroups", egroup_cols};
static const fp_sub_desc event_desc = {"event", "eventGroups", "event-group", "events", event_cols};
static const fp_sub_desc stream_desc = {"stream", NULL, NULL, "streams", stream_cols};
static const fp_sub_desc mgroup_desc = {"management group", NULL, NULL, "managementGroups",
                                        mgroup_cols};
static const fp_sub_desc action_desc = {"management action", "managementGroups", "mgmt-group",
                                        "actions", action_cols};

#define ITEM_NAME(what)                                                                            \
    {                                                                                              \
        "name", 'n', FP_FLAG_STR, FP_F_REQUIRED | FP_F_POSITIONAL, "name", "NAME",                 \
            "the " what "'s name"                                                                  \
    }
#define PARENT(flag, what)                                                                         \
    {                                                                                              \
        flag, 0, FP_FLAG_STR, FP_F_REQUIRED, NULL, "NAME", "the " what " it belongs to"            \
    }

static const fp_flag top_list_keys[] = {A_NS, A_ASSET, {0}};
static const fp_flag dataset_keys[] = {A_NS, A_ASSET, ITEM_NAME("dataset"), {0}};
static const fp_flag egroup_keys[] = {A_NS, A_ASSET, ITEM_NAME("event group"), {0}};
static const fp_flag stream_keys[] = {A_NS, A_ASSET, ITEM_NAME("stream"), {0}};
static const fp_flag mgroup_keys[] = {A_NS, A_ASSET, ITEM_NAME("management group"), {0}};
static const fp_flag point_list_keys[] = {A_NS, A_ASSET, PARENT("dataset", "dataset"), {0}};
static const fp_flag point_keys[] = {
    A_NS, A_ASSET, PARENT("dataset", "dataset"), ITEM_NAME("data point"), {0}};
static const fp_flag event_list_keys[] = {A_NS, A_ASSET, PARENT("event-group", "event group"), {0}};
static const fp_flag event_keys[] = {
    A_NS, A_ASSET, PARENT("event-group", "event group"), ITEM_NAME("event"), {0}};
static const fp_flag action_list_keys[] = {
    A_NS, A_ASSET, PARENT("mgmt-group", "management group"), {0}};
static const fp_flag action_keys[] = {
    A_NS, A_ASSET, PARENT("mgmt-group", "management group"), ITEM_NAME("action"), {0}};

#define DEST_HELP "destination: topic=T [qos=0|1] [retain=Keep|Never] [ttl=S] | key=K | path=P"

static const fp_flag dataset_fields[] = {
    {"data-source", 0, FP_FLAG_STR, 0, "dataSource", "SOURCE", "the dataset's data source"},
    {"type-ref", 0, FP_FLAG_STR, 0, "typeRef", "REF", "type reference"},
    {"config", 0, FP_FLAG_JSON, 0, "datasetConfiguration", NULL, "datasetConfiguration as JSON"},
    {"publishing-interval", 0, FP_FLAG_INT, 0, "datasetConfiguration#publishingInterval", "MS",
     "OPC UA publishing interval"},
    {"sampling-interval", 0, FP_FLAG_INT, 0, "datasetConfiguration#samplingInterval", "MS",
     "OPC UA sampling interval"},
    {"queue-size", 0, FP_FLAG_INT, 0, "datasetConfiguration#queueSize", NULL, "OPC UA queue size"},
    {"key-frame-count", 0, FP_FLAG_INT, 0, "datasetConfiguration#keyFrameCount", NULL,
     "a full dataset every N messages (0 off, -1 default)"},
    {"dest", 0, FP_FLAG_DEST, 0, "destinations", NULL, DEST_HELP},
    {0},
};
static const fp_flag point_fields[] = {
    {"data-source", 0, FP_FLAG_STR, FP_F_REQ_ADD, "dataSource", "SOURCE",
     "where the value comes from (an OPC UA node id such as ns=3;s=Temp)"},
    {"type-ref", 0, FP_FLAG_STR, 0, "typeRef", "REF", "type reference"},
    {"config", 0, FP_FLAG_JSON, 0, "dataPointConfiguration", NULL,
     "dataPointConfiguration as JSON"},
    {"sampling-interval", 0, FP_FLAG_INT, 0, "dataPointConfiguration#samplingInterval", "MS",
     "OPC UA sampling interval"},
    {"queue-size", 0, FP_FLAG_INT, 0, "dataPointConfiguration#queueSize", NULL,
     "OPC UA queue size"},
    {0},
};
static const fp_flag egroup_fields[] = {
    {"data-source", 0, FP_FLAG_STR, 0, "dataSource", "SOURCE", "the event notifier"},
    {"type-ref", 0, FP_FLAG_STR, 0, "typeRef", "REF", "type reference"},
    {"config", 0, FP_FLAG_JSON, 0, "eventGroupConfiguration", NULL,
     "eventGroupConfiguration as JSON"},
    {"dest", 0, FP_FLAG_DEST, 0, "defaultDestinations", NULL, "default " DEST_HELP},
    {0},
};
static const fp_flag event_fields[] = {
    {"data-source", 0, FP_FLAG_STR, 0, "dataSource", "SOURCE", "the event's data source"},
    {"type-ref", 0, FP_FLAG_STR, 0, "typeRef", "REF", "type reference"},
    {"config", 0, FP_FLAG_JSON, 0, "eventConfiguration", NULL, "eventConfiguration as JSON"},
    {"publishing-interval", 0, FP_FLAG_INT, 0, "eventConfiguration#publishingInterval", "MS",
     "OPC UA publishing interval"},
    {"queue-size", 0, FP_FLAG_INT, 0, "eventConfiguration#queueSize", NULL, "OPC UA queue size"},
    {"dest", 0, FP_FLAG_DEST, 0, "destinations", NULL, DEST_HELP},
    {0},
};
static const fp_flag stream_fields[] = {
    {"type-ref", 0, FP_FLAG_STR, 0, "typeRef", "REF", "type reference"},
    {"config", 0, FP_FLAG_JSON, 0, "streamConfiguration", NULL, "streamConfiguration as JSON"},
    {"task-type", 0, FP_FLAG_STR, 0, "streamConfiguration#taskType", "TASK",
     "snapshot-to-mqtt, snapshot-to-fs, clip-to-fs, stream-to-rtsp or stream-to-rtsps"},
    {"format", 0, FP_FLAG_STR, 0, "streamConfiguration#format", "FORMAT", "media format"},
    {"dest", 0, FP_FLAG_DEST, 0, "destinations", NULL, DEST_HELP},
    {0},
};
static const fp_flag mgroup_fields[] = {
    {"data-source", 0, FP_FLAG_STR, 0, "dataSource", "SOURCE", "the group's data source"},
    {"type-ref", 0, FP_FLAG_STR, 0, "typeRef", "REF", "type reference"},
    {"config", 0, FP_FLAG_JSON, 0, "managementGroupConfiguration", NULL,
     "managementGroupConfiguration as JSON"},
    {"default-topic", 0, FP_FLAG_STR, 0, "defaultTopic", "TOPIC", "default request topic"},
    {"default-timeout", 0, FP_FLAG_INT, 0, "defaultTimeoutInSeconds", "S",
     "default timeout in seconds (100)"},
    {0},
};
static const fp_flag action_fields[] = {
    {"target-uri", 0, FP_FLAG_STR, FP_F_REQ_ADD, "targetUri", "URI",
     "what the action acts on (an OPC UA method or variable node id)"},
    {"action-type", 0, FP_FLAG_STR, 0, "actionType", "TYPE", "Call, Read or Write (Call)"},
    {"type-ref", 0, FP_FLAG_STR, 0, "typeRef", "REF", "type reference"},
    {"config", 0, FP_FLAG_JSON, 0, "actionConfiguration", NULL, "actionConfiguration as JSON"},
    {"topic", 0, FP_FLAG_STR, 0, "topic", "TOPIC", "request topic"},
    {"timeout", 0, FP_FLAG_INT, 0, "timeoutInSeconds", "S", "timeout in seconds"},
    {0},
};

#define EX "fieldplane asset "
#define EXA " --namespace plant-a --asset oven-1"

/* The five commands of one sub-group. */
#define SUB_CMDS(word, what, desc, keys, list_keys, fields, add_ex)                                \
    {"add",                                                                                        \
     "Add a " what " to an asset",                                                                 \
     EX word " add" EXA add_ex,                                                                    \
     keys,                                                                                         \
     fields,                                                                                       \
     fp_sub_add,                                                                                   \
     NULL,                                                                                         \
     &desc,                                                                                        \
     FP_OP_ADD,                                                                                    \
     NULL},                                                                                        \
        {"list",                                                                                   \
         "List an asset's " what "s",                                                              \
         EX word " list" EXA,                                                                      \
         list_keys,                                                                                \
         NULL,                                                                                     \
         fp_sub_list,                                                                              \
         NULL,                                                                                     \
         &desc,                                                                                    \
         FP_OP_NONE,                                                                               \
         NULL},                                                                                    \
        {"show", "Show a " what, EX word " show" EXA " --name NAME -o yaml",                       \
         keys,   NULL,           fp_sub_show,                                                      \
         NULL,   &desc,          FP_OP_NONE,                                                       \
         NULL},                                                                                    \
        {"update",                                                                                 \
         "Change a " what " (read, change, write with If-Match)",                                  \
         EX word " update" EXA " --name NAME --type-ref REF",                                      \
         keys,                                                                                     \
         fields,                                                                                   \
         fp_sub_update,                                                                            \
         NULL,                                                                                     \
         &desc,                                                                                    \
         FP_OP_UPDATE,                                                                             \
         NULL},                                                                                    \
    {                                                                                              \
        "remove", "Remove a " what " from an asset", EX word " remove" EXA " --name NAME", keys,   \
            NULL, fp_sub_remove, NULL, &desc, FP_OP_NONE, NULL                                     \
    }

#define IMPORT_FLAGS                                                                               \
    {"input-file",                                                                                 \
     'f',                                                                                          \
     FP_FLAG_STR,                                                                                  \
     FP_F_REQUIRED,                                                                                \
     NULL,                                                                                         \
     "FILE",                                                                                       \
     "CSV, JSON or YAML file (- for stdin)"},                                                      \
        {"format",                                                                                 \
         0,                                                                                        \
         FP_FLAG_STR,                                                                              \
         0,                                                                                        \
         NULL,                                                                                     \
         "csv|json|yaml",                                                                          \
         "the file's format (default: from its extension)"},                                       \
        {"replace",                                                                                \
         0,                                                                                        \
         FP_FLAG_BOOL,                                                                             \
         0,                                                                                        \
         NULL,                                                                                     \
         NULL,                                                                                     \
         "replace the whole list instead of merging by name"},                                     \
        {"skip-invalid",                                                                           \
         0,                                                                                        \
         FP_FLAG_BOOL,                                                                             \
         0,                                                                                        \
         NULL,                                                                                     \
         NULL,                                                                                     \
         "import the valid rows and report the others (default: import nothing)"},                 \
    {                                                                                              \
        "dry-run", 0, FP_FLAG_BOOL, 0, NULL, NULL, "check the file and report, write nothing"      \
    }
#define EXPORT_FLAGS                                                                               \
    {"output-file", 0, FP_FLAG_STR, 0, NULL, "FILE", "write here (default: stdout)"},              \
    {                                                                                              \
        "format", 0, FP_FLAG_STR, 0, NULL, "csv|json|yaml",                                        \
            "the format (default: from --output-file's extension, else csv)"                       \
    }

static const fp_flag point_import_flags[] = {
    A_NS, A_ASSET, PARENT("dataset", "dataset"), IMPORT_FLAGS, {0}};
static const fp_flag point_export_flags[] = {
    A_NS, A_ASSET, PARENT("dataset", "dataset"), EXPORT_FLAGS, {0}};
static const fp_flag dataset_import_flags[] = {A_NS, A_ASSET, IMPORT_FLAGS, {0}};
static const fp_flag dataset_export_flags[] = {A_NS, A_ASSET, EXPORT_FLAGS, {0}};

#define IMPORT_DESC                                                                                \
    "CSV has a header row; its columns are name, dataSource, typeRef, dataPointConfiguration "     \
    "(JSON text), samplingInterval and queueSize"
#define POINT_IMPORT_DESC                                                                          \
    IMPORT_DESC                                                                                    \
    ". JSON and YAML hold a list of data points. Each bad row is reported with its "               \
    "line (and item number for JSON and YAML), and nothing is written when any row is "            \
    "bad, unless --skip-invalid."
#define DATASET_IMPORT_DESC                                                                        \
    IMPORT_DESC ", plus a dataset column naming the dataset of each row. JSON and YAML hold a "    \
                "list of datasets, each with its dataPoints. Bad rows are handled as for "         \
                "datapoint import; a bad data point inside a dataset is reported with its own "    \
                "line, the dataset's name and its number in the dataset."

static const fp_cli_cmd dataset_cmds[] = {
    SUB_CMDS("dataset", "dataset", dataset_desc, dataset_keys, top_list_keys, dataset_fields,
             " --name line --publishing-interval 500 --dest topic=plant/oven-1/line qos=1"),
    {"import", "Import datasets with their data points from a file",
     EX "dataset import" EXA " --input-file datasets.yaml", dataset_import_flags, NULL,
     fp_import_datasets, NULL, NULL, FP_OP_NONE, DATASET_IMPORT_DESC},
    {"export", "Export an asset's datasets to a file",
     EX "dataset export" EXA " --output-file datasets.csv", dataset_export_flags, NULL,
     fp_export_datasets, NULL, NULL, FP_OP_NONE, NULL},
    {0},
};
static const fp_cli_cmd point_cmds[] = {
    SUB_CMDS("datapoint", "data point", point_desc, point_keys, point_list_keys, point_fields,
             " --dataset line --name temp --data-source 'ns=3;s=Temp' --sampling-interval 250"),
    {"import", "Import data points into a dataset from a CSV, JSON or YAML file",
     EX "datapoint import" EXA " --dataset line --input-file points.csv", point_import_flags, NULL,
     fp_import_points, NULL, NULL, FP_OP_NONE, POINT_IMPORT_DESC},
    {"export", "Export a dataset's data points to a file",
     EX "datapoint export" EXA " --dataset line --output-file points.csv", point_export_flags, NULL,
     fp_export_points, NULL, NULL, FP_OP_NONE, NULL},
    {0},
};
static const fp_cli_cmd egroup_cmds[] = {
    SUB_CMDS("event-group", "event group", egroup_desc, egroup_keys, top_list_keys, egroup_fields,
             " --name alarms --data-source 'ns=3;s=Alarms' --dest topic=plant/oven-1/alarms"),
    {0},
};
static const fp_cli_cmd event_cmds[] = {
    SUB_CMDS("event", "event", event_desc, event_keys, event_list_keys, event_fields,
             " --event-group alarms --name overheat --data-source 'ns=3;s=Overheat'"),
    {0},
};
static const fp_cli_cmd stream_cmds[] = {
    SUB_CMDS("stream", "stream", stream_desc, stream_keys, top_list_keys, stream_fields,
             " --name snapshots --task-type snapshot-to-mqtt --dest topic=plant/cam-1/snap"),
    {0},
};
static const fp_cli_cmd mgroup_cmds[] = {
    SUB_CMDS("mgmt-group", "management group", mgroup_desc, mgroup_keys, top_list_keys,
             mgroup_fields, " --name control --default-topic plant/oven-1/control"),
    {0},
};
static const fp_cli_cmd action_cmds[] = {
    SUB_CMDS("mgmt-action", "management action", action_desc, action_keys, action_list_keys,
             action_fields,
             " --mgmt-group control --name start --target-uri 'ns=3;s=Start' --action-type Call"),
    {0},
};

static const fp_cli_cmd asset_cmds[] = {
    {"create", "Create an asset",
     "fieldplane asset create oven-1 --namespace plant-a --device press-1 --endpoint main "
     "--display-name 'Oven 1' --dataset-dest topic=plant/oven-1 qos=1",
     asset_name_flags, asset_fields, fp_res_create, NULL, &asset_desc, FP_OP_ADD, NULL},
    {"show", "Show an asset", "fieldplane asset show oven-1 --namespace plant-a -o yaml",
     asset_name_flags, NULL, fp_res_show, NULL, &asset_desc, FP_OP_NONE, NULL},
    {"list", "List the assets of a namespace", "fieldplane asset list --namespace plant-a",
     asset_list_flags, NULL, fp_res_list, NULL, &asset_desc, FP_OP_NONE, NULL},
    {"query", "Find assets by their fields",
     "fieldplane asset query --namespace plant-a --device press-1 --manufacturer Contoso",
     asset_query_flags, NULL, fp_res_list, NULL, &asset_desc, FP_OP_NONE, NULL},
    {"update", "Change an asset (read, change, write with If-Match)",
     "fieldplane asset update oven-1 --namespace plant-a --serial-number SN-42", asset_name_flags,
     asset_fields, fp_res_update, NULL, &asset_desc, FP_OP_UPDATE, NULL},
    {"delete", "Delete an asset", "fieldplane asset delete oven-1 --namespace plant-a --yes",
     asset_delete_flags, NULL, fp_res_delete, NULL, &asset_desc, FP_OP_NONE, NULL},
    {"dataset", "Manage an asset's datasets", NULL, NULL, NULL, NULL, dataset_cmds, NULL,
     FP_OP_NONE, NULL},
    {"datapoint", "Manage the data points of a dataset", NULL, NULL, NULL, NULL, point_cmds, NULL,
     FP_OP_NONE, NULL},
    {"event-group", "Manage an asset's event groups", NULL, NULL, NULL, NULL, egroup_cmds, NULL,
     FP_OP_NONE, NULL},
    {"event", "Manage the events of an event group", NULL, NULL, NULL, NULL, event_cmds, NULL,
     FP_OP_NONE, NULL},
    {"stream", "Manage an asset's streams", NULL, NULL, NULL, NULL, stream_cmds, NULL, FP_OP_NONE,
     NULL},
    {"mgmt-group", "Manage an asset's management groups", NULL, NULL, NULL, NULL, mgroup_cmds, NULL,
     FP_OP_NONE, NULL},
    {"mgmt-action", "Manage the actions of a management group", NULL, NULL, NULL, NULL, action_cmds,
     NULL, FP_OP_NONE, NULL},
    {0},
};

const fp_cli_cmd fp_cli_asset = {"asset",
                                 "Manage assets and their datasets, events, streams and actions",
                                 "fieldplane asset create oven-1 --namespace plant-a --device "
                                 "press-1 --endpoint main",
                                 NULL,
                                 NULL,
                                 NULL,
                                 asset_cmds,
                                 NULL,
                                 FP_OP_NONE,
                                 NULL};
