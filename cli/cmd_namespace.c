/*
 * cmd_namespace.c - `fieldplane namespace`: create, show, list, update and
 * delete the namespaces that hold devices, assets, discovered resources and
 * schemas. The commands are table rows over the generic operations in
 * client_res.c.
 */
#include "client.h"

static const fp_col ns_cols[] = {
    {"NAME", "name", FP_COL_VALUE},
    {"ENDPOINTS", "properties.messaging.endpoints", FP_COL_KEYS},
    {"STATE", "properties.provisioningState", FP_COL_VALUE},
    {"UUID", "properties.uuid", FP_COL_VALUE},
    {0},
};

static const fp_res_desc ns_desc = {FP_RK_NAMESPACE, FP_KIND_NAMESPACE, ns_cols};

#define NS_NAME                                                                                    \
    {                                                                                              \
        "name", 'n', FP_FLAG_STR, FP_F_REQUIRED | FP_F_POSITIONAL, NULL, "NAME",                   \
            "the namespace's name"                                                                 \
    }

#define NS_ENDPOINTS "properties.messaging.endpoints"

static const fp_flag ns_create_flags[] = {
    NS_NAME,
    {"tag", 0, FP_FLAG_KV, 0, "tags", NULL, "a tag"},
    {"location", 0, FP_FLAG_STR, 0, "location", NULL, "ARM location, kept and echoed"},
    {"endpoint", 0, FP_FLAG_MSG_EP, 0, NS_ENDPOINTS, NULL,
     "a messaging endpoint: its name, type (optional) and address"},
    {0},
};

static const fp_flag ns_update_flags[] = {
    NS_NAME,
    {"tag", 0, FP_FLAG_KV, 0, "tags", NULL, "a tag"},
    {"location", 0, FP_FLAG_STR, 0, "location", NULL, "ARM location, kept and echoed"},
    {"endpoint", 0, FP_FLAG_MSG_EP, 0, NS_ENDPOINTS, NULL,
     "add a messaging endpoint, or replace the one of that name"},
    {"remove-endpoint", 0, FP_FLAG_UNSET, 0, NS_ENDPOINTS, "NAME",
     "remove the messaging endpoint of that name"},
    {0},
};

static const fp_flag ns_name_flags[] = {NS_NAME, {0}};

static const fp_flag ns_delete_flags[] = {
    NS_NAME,
    {"yes", 'y', FP_FLAG_BOOL, 0, NULL, NULL, "do not ask for confirmation"},
    {"cascade", 0, FP_FLAG_BOOL, 0, NULL, NULL, "delete everything the namespace holds"},
    {0},
};

static const fp_flag ns_list_flags[] = {
    {"name-prefix", 0, FP_FLAG_STR, 0, "?namePrefix", "PREFIX", "only names starting so"},
    {"tag", 0, FP_FLAG_LIST, 0, "?tag", "KEY[=VALUE]", "only namespaces with this tag"},
    {0},
};

static const fp_cli_cmd ns_cmds[] = {
    {"create", "Create a namespace",
     "fieldplane namespace create plant-a --tag site=lyon --endpoint "
     "broker=Microsoft.Mqtt,mqtts://broker.plant-a:8883",
     ns_create_flags, NULL, fp_res_create, NULL, &ns_desc, FP_OP_ADD,
     "--endpoint NAME=TYPE,ADDRESS sets properties.messaging.endpoints.NAME to "
     "{endpointType: TYPE, address: ADDRESS}; NAME=ADDRESS leaves the type out. TYPE is a word "
     "without ',', ':' or '/' (Microsoft.Mqtt); the address may hold commas."},
    {"show", "Show a namespace", "fieldplane namespace show plant-a -o yaml", ns_name_flags, NULL,
     fp_res_show, NULL, &ns_desc, FP_OP_NONE, NULL},
    {"list", "List namespaces", "fieldplane namespace list", ns_list_flags, NULL, fp_res_list, NULL,
     &ns_desc, FP_OP_NONE, NULL},
    {"update", "Change a namespace's tags, location and messaging endpoints",
     "fieldplane namespace update plant-a --tag owner=ops\n"
     "fieldplane namespace update plant-a --endpoint cloud=Microsoft.Mqtt,mqtts://cloud:8883 "
     "--remove-endpoint broker",
     ns_update_flags, NULL, fp_res_update, NULL, &ns_desc, FP_OP_UPDATE,
     "--endpoint adds an endpoint or replaces the one of that name, and leaves the others; "
     "--remove-endpoint removes one. The change is a read-modify-write with If-Match."},
    {"delete", "Delete a namespace", "fieldplane namespace delete plant-a --cascade --yes",
     ns_delete_flags, NULL, fp_res_delete, NULL, &ns_desc, FP_OP_NONE,
     "A namespace that still holds resources is kept unless --cascade."},
    {0},
};

const fp_cli_cmd fp_cli_namespace = {
    "namespace",
    "Manage namespaces (ADR namespaces: the home of devices and assets)",
    "fieldplane namespace create plant-a",
    NULL,
    NULL,
    NULL,
    ns_cmds,
    NULL,
    FP_OP_NONE,
    NULL};
