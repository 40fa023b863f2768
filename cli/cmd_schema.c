/*
 * cmd_schema.c - `fieldplane schema`: the message schemas of a namespace and
 * their numbered versions. A version's content comes from a file (or stdin)
 * and never changes once written; the registry adds its SHA-256 hash.
 */
#include <errno.h>
#include <string.h>

#include "client.h"
#include "fp_alloc.h"

static const fp_col schema_cols[] = {
    {"NAME", "name", FP_COL_VALUE},
    {"FORMAT", "properties.format", FP_COL_VALUE},
    {"TYPE", "properties.schemaType", FP_COL_VALUE},
    {"DISPLAY NAME", "properties.displayName", FP_COL_VALUE},
    {0},
};

static const fp_col version_cols[] = {
    {"VERSION", "name", FP_COL_VALUE},
    {"HASH", "properties.hash", FP_COL_VALUE},
    {"DESCRIPTION", "properties.description", FP_COL_VALUE},
    {0},
};

static const fp_res_desc schema_desc = {FP_RK_UNKNOWN, FP_KIND_SCHEMA, schema_cols};

#define S_NS                                                                                       \
    {                                                                                              \
        "namespace", 0, FP_FLAG_STR, FP_F_REQUIRED, NULL, "NS", "the namespace"                    \
    }
#define S_NAME                                                                                     \
    {                                                                                              \
        "name", 'n', FP_FLAG_STR, FP_F_REQUIRED | FP_F_POSITIONAL, NULL, "NAME",                   \
            "the schema's name"                                                                    \
    }

static const fp_flag s_name_flags[] = {S_NAME, S_NS, {0}};
static const fp_flag s_create_flags[] = {
    S_NAME,
    S_NS,
    {"format", 0, FP_FLAG_STR, 0, "properties.format", "FORMAT",
     "JsonSchema/draft-07 (default) or Delta/1.0"},
    {"schema-type", 0, FP_FLAG_STR, 0, "properties.schemaType", "TYPE", "MessageSchema (default)"},
    {"display-name", 0, FP_FLAG_STR, 0, "properties.displayName", "TEXT", "display name"},
    {"desc", 0, FP_FLAG_STR, 0, "properties.description", "TEXT", "description"},
    {"tag", 0, FP_FLAG_KV, 0, "tags", NULL, "a tag"},
    {0},
};
static const fp_flag s_delete_flags[] = {
    S_NAME, S_NS, {"yes", 'y', FP_FLAG_BOOL, 0, NULL, NULL, "do not ask for confirmation"}, {0}};
static const fp_flag s_list_flags[] = {
    S_NS,
    {"name-prefix", 0, FP_FLAG_STR, 0, "?namePrefix", "PREFIX", "only names starting so"},
    {0},
};

static int schema_create(fp_ctx *ctx)
{
    /* Defaults the model requires, unless the flags say otherwise. */
    static const fp_flag defaults[] = {
        {"format", 0, FP_FLAG_STR, 0, "properties.format", NULL, ""},
        {"schema-type", 0, FP_FLAG_STR, 0, "properties.schemaType", NULL, ""},
    };
    static char format[] = "JsonSchema/draft-07", type[] = "MessageSchema";
    char *fv[1] = {format}, *tv[1] = {type};
    fp_argval extra[2] = {{&defaults[0], 1, fv}, {&defaults[1], 1, tv}};
    fp_argval *all;
    int n = ctx->n_args, added = 0, rc;

    all = fp_calloc((size_t)n + 2, sizeof *all);
    if (!all)
        return FP_EXIT_ERROR;
    /* Defaults first, so that given flags (applied later) win. */
    if (!fp_arg_given(ctx, "format"))
        all[added++] = extra[0];
    if (!fp_arg_given(ctx, "schema-type"))
        all[added++] = extra[1];
    memcpy(all + added, ctx->args, (size_t)n * sizeof *all);
    fp_argval *saved = ctx->args;
    ctx->args = all;
    ctx->n_args = n + added;
    rc = fp_res_create(ctx);
    ctx->args = saved;
    ctx->n_args = n;
    fp_free(all);
    return rc;
}

/* ---------------------------------------------------------------------------
 * Versions
 * ------------------------------------------------------------------------- */

#define V_SCHEMA                                                                                   \
    {                                                                                              \
        "schema", 's', FP_FLAG_STR, FP_F_REQUIRED, NULL, "SCHEMA", "the schema"                    \
    }
#define V_VERSION                                                                                  \
    {                                                                                              \
        "version", 'v', FP_FLAG_INT, FP_F_REQUIRED | FP_F_POSITIONAL, NULL, "N",                   \
            "the version number (a positive integer)"                                              \
    }

static const fp_flag v_key_flags[] = {V_VERSION, S_NS, V_SCHEMA, {0}};
static const fp_flag v_list_flags[] = {S_NS, V_SCHEMA, {0}};
static const fp_flag v_add_flags[] = {
    V_VERSION,
    S_NS,
    V_SCHEMA,
    {"content-file", 'f', FP_FLAG_STR, FP_F_REQUIRED, NULL, "FILE",
     "file holding the schema content (- for stdin)"},
    {"desc", 0, FP_FLAG_STR, 0, NULL, "TEXT", "description"},
    {0},
};
static const fp_flag v_remove_flags[] = {
    V_VERSION,
    S_NS,
    V_SCHEMA,
    {"yes", 'y', FP_FLAG_BOOL, 0, NULL, NULL, "do not ask for confirmation"},
    {0}};

static char *version_path(fp_ctx *ctx, bool with_version)
{
    char suffix[64];

    snprintf(suffix, sizeof suffix, "/versions%s%s", with_version ? "/" : "",
             with_version ? fp_arg_str(ctx, "version") : "");
    return fp_api_path(fp_arg_str(ctx, "namespace"), fp_kind_collection(FP_KIND_SCHEMA),
                       fp_arg_str(ctx, "schema"), suffix);
}

static int version_send(fp_ctx *ctx, const char *method, const json_t *body, bool print)
{
    fp_client *c = fp_ctx_client(ctx);
    char *path, what[300];
    fp_resp r;
    int rc;
    long long n;

    if (!c)
        return FP_EXIT_ERROR;
    if (!fp_parse_long(fp_arg_str(ctx, "version"), &n) || n < 1) {
        fp_errorf(ctx, "a schema version is a positive integer");
        return FP_EXIT_USAGE;
    }
    path = version_path(ctx, true);
    rc = fp_client_send(c, method, path, body, NULL, NULL, &r);
    fp_free(path);
    snprintf(what, sizeof what, "version %s of schema '%s'", fp_arg_str(ctx, "version"),
             fp_arg_str(ctx, "schema"));
    if (rc)
        fp_report(ctx, rc, &r, what);
    else if (print && r.body)
        fp_print(ctx, r.body, version_cols);
    else if (!print && ctx->output == FP_OUT_TABLE)
        fprintf(ctx->out, "removed %s\n", what);
    fp_resp_clear(&r);
    return rc;
}

static int version_add(fp_ctx *ctx)
{
    const char *file = fp_arg_str(ctx, "content-file");
    size_t len;
    char *text = fp_read_file(file, &len);
    json_t *body;
    int rc;

    if (!text) {
        fp_errorf(ctx, "cannot read %s: %s", file, strerror(errno));
        return FP_EXIT_USAGE;
    }
    body = json_pack("{s:{s:s%}}", "properties", "schemaContent", text, len);
    fp_free(text);
    if (!body) {
        fp_errorf(ctx, "%s is not UTF-8 text", file);
        return FP_EXIT_USAGE;
    }
    if (fp_arg_str(ctx, "desc"))
        json_object_set_new(json_object_get(body, "properties"), "description",
                            json_string(fp_arg_str(ctx, "desc")));
    rc = version_send(ctx, "PUT", body, true);
    json_decref(body);
    return rc;
}

static int version_show(fp_ctx *ctx)
{
    return version_send(ctx, "GET", NULL, true);
}

static int version_remove(fp_ctx *ctx)
{
    char what[300];

    snprintf(what, sizeof what, "version %s of schema '%s'", fp_arg_str(ctx, "version"),
             fp_arg_str(ctx, "schema"));
    if (!fp_confirm(ctx, what)) {
        fp_errorf(ctx, "not deleted");
        return FP_EXIT_ERROR;
    }
    return version_send(ctx, "DELETE", NULL, false);
}

static int version_list(fp_ctx *ctx)
{
    fp_client *c = fp_ctx_client(ctx);
    char *path, what[300];
    json_t *items;
    fp_resp r;
    int rc;

    if (!c)
        return FP_EXIT_ERROR;
    path = version_path(ctx, false);
    rc = fp_client_list(c, path, &items, NULL, &r);
    fp_free(path);
    snprintf(what, sizeof what, "schema '%s'", fp_arg_str(ctx, "schema"));
    if (rc) {
        fp_report(ctx, rc, &r, what);
    } else {
        fp_print(ctx, items, version_cols);
        json_decref(items);
    }
    fp_resp_clear(&r);
    return rc;
}

static const fp_cli_cmd version_cmds[] = {
    {"add", "Add a version to a schema",
     "fieldplane schema version add 1 --namespace plant-a --schema oven-line --content-file "
     "oven-line.schema.json",
     v_add_flags, NULL, version_add, NULL, NULL, FP_OP_ADD, NULL},
    {"show", "Show a schema version",
     "fieldplane schema version show 1 --namespace plant-a --schema oven-line -o yaml", v_key_flags,
     NULL, version_show, NULL, NULL, FP_OP_NONE, NULL},
    {"list", "List a schema's versions",
     "fieldplane schema version list --namespace plant-a --schema oven-line", v_list_flags, NULL,
     version_list, NULL, NULL, FP_OP_NONE, NULL},
    {"remove", "Remove a schema version",
     "fieldplane schema version remove 1 --namespace plant-a --schema oven-line --yes",
     v_remove_flags, NULL, version_remove, NULL, NULL, FP_OP_NONE, NULL},
    {0},
};

static const fp_cli_cmd schema_cmds[] = {
    {"create", "Create a schema",
     "fieldplane schema create oven-line --namespace plant-a --display-name 'Oven line'",
     s_create_flags, NULL, schema_create, NULL, &schema_desc, FP_OP_ADD, NULL},
    {"show", "Show a schema", "fieldplane schema show oven-line --namespace plant-a", s_name_flags,
     NULL, fp_res_show, NULL, &schema_desc, FP_OP_NONE, NULL},
    {"list", "List the schemas of a namespace", "fieldplane schema list --namespace plant-a",
     s_list_flags, NULL, fp_res_list, NULL, &schema_desc, FP_OP_NONE, NULL},
    {"delete", "Delete a schema and its versions",
     "fieldplane schema delete oven-line --namespace plant-a --yes", s_delete_flags, NULL,
     fp_res_delete, NULL, &schema_desc, FP_OP_NONE, NULL},
    {"version", "Manage a schema's versions", NULL, NULL, NULL, NULL, version_cmds, NULL,
     FP_OP_NONE, NULL},
    {0},
};

const fp_cli_cmd fp_cli_schema = {"schema",
                                  "Manage message schemas and their versions",
                                  "fieldplane schema create oven-line --namespace plant-a",
                                  NULL,
                                  NULL,
                                  NULL,
                                  schema_cmds,
                                  NULL,
                                  FP_OP_NONE,
                                  NULL};
