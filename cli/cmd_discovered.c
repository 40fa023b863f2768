/*
 * cmd_discovered.c - `fieldplane discovered`: the devices and assets that
 * connectors found, shown to operators, deleted or onboarded into real
 * resources. Onboarding copies the discovered document into a new device or
 * asset and links it back (discoveredDeviceRef / discoveredAssetRefs).
 */
#include <string.h>

#include "client.h"
#include "fp_alloc.h"

static const fp_col ddev_cols[] = {
    {"NAME", "name", FP_COL_VALUE},
    {"DISCOVERY ID", "properties.discoveryId", FP_COL_VALUE},
    {"ENDPOINTS", "properties.endpoints.inbound", FP_COL_KEYS},
    {"MANUFACTURER", "properties.manufacturer", FP_COL_VALUE},
    {"MODEL", "properties.model", FP_COL_VALUE},
    {0},
};

static const fp_col dasset_cols[] = {
    {"NAME", "name", FP_COL_VALUE},
    {"DISCOVERY ID", "properties.discoveryId", FP_COL_VALUE},
    {"DEVICE", "properties.deviceRef.deviceName", FP_COL_VALUE},
    {"ENDPOINT", "properties.deviceRef.endpointName", FP_COL_VALUE},
    {"DATASETS", "properties.datasets", FP_COL_COUNT},
    {0},
};

static const fp_res_desc ddev_desc = {FP_RK_DEVICE, FP_KIND_DISCOVERED_DEVICE, ddev_cols};
static const fp_res_desc dasset_desc = {FP_RK_ASSET, FP_KIND_DISCOVERED_ASSET, dasset_cols};

#define D_NS                                                                                       \
    {                                                                                              \
        "namespace", 0, FP_FLAG_STR, FP_F_REQUIRED, NULL, "NS", "the namespace"                    \
    }
#define D_NAME                                                                                     \
    {                                                                                              \
        "name", 'n', FP_FLAG_STR, FP_F_REQUIRED | FP_F_POSITIONAL, NULL, "NAME",                   \
            "the discovered resource's name"                                                       \
    }

static const fp_flag d_name_flags[] = {D_NAME, D_NS, {0}};
static const fp_flag d_delete_flags[] = {
    D_NAME, D_NS, {"yes", 'y', FP_FLAG_BOOL, 0, NULL, NULL, "do not ask for confirmation"}, {0}};
static const fp_flag d_list_flags[] = {
    D_NS,
    {"name-prefix", 0, FP_FLAG_STR, 0, "?namePrefix", "PREFIX", "only names starting so"},
    {0},
};
static const fp_flag d_onboard_flags[] = {
    D_NAME,
    D_NS,
    {"as", 0, FP_FLAG_STR, 0, NULL, "NEW", "name of the new resource (default: the same name)"},
    {0},
};

/* GET the discovered resource, PUT the new one (create only). */
static int onboard(fp_ctx *ctx)
{
    const fp_res_desc *desc = ctx->cmd->data;
    const char *ns = fp_arg_str(ctx, "namespace");
    const char *name = fp_arg_str(ctx, "name");
    const char *as = fp_arg_str(ctx, "as") ? fp_arg_str(ctx, "as") : name;
    fp_client *c = fp_ctx_client(ctx);
    char *path, what[300];
    json_t *doc;
    fp_resp r;
    int rc;

    if (!c)
        return FP_EXIT_ERROR;
    snprintf(what, sizeof what, "%s '%s'", fp_kind_noun(desc->model), name);
    path = fp_api_path(ns, fp_kind_collection(desc->model), name, NULL);
    rc = fp_client_send(c, "GET", path, NULL, NULL, NULL, &r);
    fp_free(path);
    if (rc) {
        fp_report(ctx, rc, &r, what);
        fp_resp_clear(&r);
        return rc;
    }
    doc = fp_doc_from_discovered(r.body, desc->kind, name, as);
    fp_resp_clear(&r);
    if (!doc)
        return FP_EXIT_ERROR;
    path = fp_api_path(ns, fp_rkind_collection(desc->kind), as, NULL);
    rc = fp_client_send(c, "PUT", path, doc, NULL, "*", &r);
    fp_free(path);
    snprintf(what, sizeof what, "%s '%s'", desc->kind == FP_RK_ASSET ? "asset" : "device", as);
    if (rc == FP_EXIT_CONFLICT && r.status == 412)
        fp_errorf(ctx, "%s exists already (onboard --as ANOTHER-NAME)", what);
    else if (rc)
        fp_report(ctx, rc, &r, what);
    else
        fp_print(ctx, r.body ? r.body : doc, desc->cols);
    fp_resp_clear(&r);
    json_decref(doc);
    return rc;
}

#define D_CMDS(word, desc, what)                                                                   \
    {"list",                                                                                       \
     "List discovered " what "s",                                                                  \
     "fieldplane discovered " word " list --namespace plant-a",                                    \
     d_list_flags,                                                                                 \
     NULL,                                                                                         \
     fp_res_list,                                                                                  \
     NULL,                                                                                         \
     &desc,                                                                                        \
     FP_OP_NONE,                                                                                   \
     NULL},                                                                                        \
        {"show",                                                                                   \
         "Show a discovered " what,                                                                \
         "fieldplane discovered " word " show NAME --namespace plant-a -o yaml",                   \
         d_name_flags,                                                                             \
         NULL,                                                                                     \
         fp_res_show,                                                                              \
         NULL,                                                                                     \
         &desc,                                                                                    \
         FP_OP_NONE,                                                                               \
         NULL},                                                                                    \
        {"delete",                                                                                 \
         "Delete a discovered " what,                                                              \
         "fieldplane discovered " word " delete NAME --namespace plant-a --yes",                   \
         d_delete_flags,                                                                           \
         NULL,                                                                                     \
         fp_res_delete,                                                                            \
         NULL,                                                                                     \
         &desc,                                                                                    \
         FP_OP_NONE,                                                                               \
         NULL},                                                                                    \
    {                                                                                              \
        "onboard", "Create a real " what " from a discovered one",                                 \
            "fieldplane discovered " word " onboard NAME --namespace plant-a --as NEW-NAME",       \
            d_onboard_flags, NULL, onboard, NULL, &desc, FP_OP_NONE, NULL                          \
    }

static const fp_cli_cmd ddev_cmds[] = {D_CMDS("device", ddev_desc, "device"), {0}};
static const fp_cli_cmd dasset_cmds[] = {D_CMDS("asset", dasset_desc, "asset"), {0}};

static const fp_cli_cmd d_cmds[] = {
    {"device", "Discovered devices", NULL, NULL, NULL, NULL, ddev_cmds, NULL, FP_OP_NONE, NULL},
    {"asset", "Discovered assets", NULL, NULL, NULL, NULL, dasset_cmds, NULL, FP_OP_NONE, NULL},
    {0},
};

const fp_cli_cmd fp_cli_discovered = {
    "discovered",
    "Review, delete and onboard what connectors discovered",
    "fieldplane discovered asset onboard opc-oven-1 --namespace plant-a --as oven-1",
    NULL,
    NULL,
    NULL,
    d_cmds,
    NULL,
    FP_OP_NONE,
    NULL};
