/*
 * client_res.c - the operations every resource command shares: create, show,
 * list, update and delete of namespaces, devices and assets, and add, list,
 * show, update and remove of the item lists inside an asset (datasets, data
 * points, event groups, events, streams, management groups and actions).
 *
 * Changes are read-modify-write: GET the document and its ETag, change it,
 * PUT it back with If-Match; when someone else wrote in between (412) the whole
 * cycle runs again, so a concurrent edit is never overwritten.
 */
#include <string.h>

#include "client.h"
#include "fp_alloc.h"

#define FP_MODIFY_ATTEMPTS 5

char *fp_res_path(fp_ctx *ctx, const fp_res_desc *desc, const char *name)
{
    if (desc->kind == FP_RK_NAMESPACE)
        return fp_api_path(name, NULL, NULL, NULL);
    return fp_api_path(fp_arg_str(ctx, "namespace"), fp_kind_collection(desc->model), name, NULL);
}

/* "device 'pump-1'" for messages, into buf. */
static const char *label(char *buf, size_t len, const char *what, const char *name)
{
    snprintf(buf, len, "%s '%s'", what, name ? name : "");
    return buf;
}

int fp_res_modify(fp_ctx *ctx, const char *path, const char *what, fp_modify_fn fn, void *arg,
                  json_t **out)
{
    fp_client *c = fp_ctx_client(ctx);
    fp_resp r;
    int rc = FP_EXIT_ERROR;

    if (out)
        *out = NULL;
    if (!c)
        return FP_EXIT_ERROR;
    for (int attempt = 0; attempt < FP_MODIFY_ATTEMPTS; attempt++) {
        char etag[256];
        json_t *doc;

        rc = fp_client_send(c, "GET", path, NULL, NULL, NULL, &r);
        if (rc) {
            fp_report(ctx, rc, &r, what);
            fp_resp_clear(&r);
            return rc;
        }
        snprintf(etag, sizeof etag, "%s", r.etag[0] ? r.etag : "*");
        if (!r.etag[0] && json_is_string(json_object_get(r.body, "etag")))
            snprintf(etag, sizeof etag, "%s", json_string_value(json_object_get(r.body, "etag")));
        doc = json_incref(r.body);
        fp_resp_clear(&r);
        if (!json_is_object(doc)) {
            json_decref(doc);
            fp_errorf(ctx, "%s: the server sent no document", what);
            return FP_EXIT_ERROR;
        }
        /* Status belongs to the connectors: a spec write does not carry it. */
        json_object_del(json_object_get(doc, "properties"), "status");
        rc = fn(ctx, doc, arg);
        if (rc) {
            json_decref(doc);
            return rc < 0 ? FP_EXIT_OK : rc;
        }
        rc = fp_client_send(c, "PUT", path, doc, etag, NULL, &r);
        json_decref(doc);
        if (rc == FP_EXIT_OK) {
            if (out)
                *out = json_incref(r.body);
            fp_resp_clear(&r);
            return FP_EXIT_OK;
        }
        if (r.status != 412) {
            fp_report(ctx, rc, &r, what);
            fp_resp_clear(&r);
            return rc;
        }
        fp_resp_clear(&r); /* changed meanwhile: read again */
    }
    fp_errorf(ctx, "%s: changed by someone else %d times in a row; giving up", what,
              FP_MODIFY_ATTEMPTS);
    return FP_EXIT_CONFLICT;
}

/* ---------------------------------------------------------------------------
 * Top-level resources
 * ------------------------------------------------------------------------- */

int fp_res_create(fp_ctx *ctx)
{
    const fp_res_desc *desc = ctx->cmd->data;
    const char *name = fp_arg_str(ctx, "name");
    fp_client *c = fp_ctx_client(ctx);
    json_t *doc;
    char *path, what[300];
    fp_resp r;
    int rc;

    if (!c)
        return FP_EXIT_ERROR;
    /* The server sets the type; the document carries what the flags say. */
    doc = json_pack("{s:s,s:{}}", "name", name, "properties");
    if (!doc)
        return FP_EXIT_ERROR;
    rc = fp_apply_flags(ctx, doc);
    if (rc) {
        json_decref(doc);
        return rc;
    }
    path = fp_res_path(ctx, desc, name);
    rc = fp_client_send(c, "PUT", path, doc, NULL, "*", &r);
    label(what, sizeof what, fp_kind_noun(desc->model), name);
    if (rc == FP_EXIT_CONFLICT && r.status == 412) {
        fp_errorf(ctx, "%s exists already (use update)", what);
    } else if (rc) {
        fp_report(ctx, rc, &r, what);
    } else {
        fp_print(ctx, r.body ? r.body : doc, desc->cols);
    }
    fp_resp_clear(&r);
    fp_free(path);
    json_decref(doc);
    return rc;
}

int fp_res_show(fp_ctx *ctx)
{
    const fp_res_desc *desc = ctx->cmd->data;
    const char *name = fp_arg_str(ctx, "name");
    fp_client *c = fp_ctx_client(ctx);
    char *path, what[300];
    fp_resp r;
    int rc;

    if (!c)
        return FP_EXIT_ERROR;
    path = fp_res_path(ctx, desc, name);
    rc = fp_client_send(c, "GET", path, NULL, NULL, NULL, &r);
    if (rc)
        fp_report(ctx, rc, &r, label(what, sizeof what, fp_kind_noun(desc->model), name));
    else
        fp_print(ctx, r.body, desc->cols);
    fp_resp_clear(&r);
    fp_free(path);
    return rc;
}

/* Append the list query built from the command's '?' flags to b. */
void fp_list_query(fp_ctx *ctx, fp_buf *b)
{
    char sep = '?';
    for (int i = 0; i < ctx->n_args; i++) {
        const fp_argval *a = &ctx->args[i];
        if (!a->flag->target || a->flag->target[0] != '?')
            continue;
        for (int j = 0; j < a->n_val; j++) {
            fp_buf_printf(b, "%c%s=", sep, a->flag->target + 1);
            fp_buf_append_pct(b, a->vals[j]);
            sep = '&';
        }
    }
}

/* True when doc passes the command's '=' filter flags. */
static bool passes_filters(const fp_ctx *ctx, const json_t *doc)
{
    for (int i = 0; i < ctx->n_args; i++) {
        const fp_argval *a = &ctx->args[i];
        const json_t *v;
        if (!a->flag->target || a->flag->target[0] != '=')
            continue;
        v = fp_json_get(doc, a->flag->target + 1);
        if (json_is_string(v) ? strcmp(json_string_value(v), a->vals[a->n_val - 1]) != 0
                              : !(json_is_boolean(v) && !strcmp(json_is_true(v) ? "true" : "false",
                                                                a->vals[a->n_val - 1])))
            return false;
    }
    return true;
}

int fp_res_list(fp_ctx *ctx)
{
    const fp_res_desc *desc = ctx->cmd->data;
    fp_client *c = fp_ctx_client(ctx);
    json_t *items, *kept;
    char *path;
    fp_buf b;
    fp_resp r;
    int rc;
    size_t i;
    json_t *e;

    if (!c)
        return FP_EXIT_ERROR;
    path = desc->kind == FP_RK_NAMESPACE ? fp_api_path(NULL, NULL, NULL, NULL)
                                         : fp_api_path(fp_arg_str(ctx, "namespace"),
                                                       fp_kind_collection(desc->model), NULL, NULL);
    fp_buf_init(&b, 1 << 16);
    fp_buf_append_str(&b, path);
    fp_list_query(ctx, &b);
    fp_free(path);
    if (b.err)
        return FP_EXIT_ERROR;
    rc = fp_client_list(c, b.data, &items, NULL, &r);
    fp_buf_clear(&b);
    if (rc) {
        fp_report(ctx, rc, &r, fp_kind_noun(desc->model));
        fp_resp_clear(&r);
        return rc;
    }
    fp_resp_clear(&r);
    kept = json_array();
    json_array_foreach(items, i, e) if (passes_filters(ctx, e)) json_array_append(kept, e);
    fp_print(ctx, kept, desc->cols);
    json_decref(kept);
    json_decref(items);
    return FP_EXIT_OK;
}

/* True when the command was given a flag that changes a field. */
static bool has_field_flags(const fp_ctx *ctx)
{
    for (int i = 0; i < ctx->n_args; i++) {
        const char *t = ctx->args[i].flag->target;
        if (t && t[0] != '?' && t[0] != '=' && strcmp(t, "name"))
            return true;
    }
    return false;
}

static int apply_flags_fn(fp_ctx *ctx, json_t *doc, void *arg)
{
    (void)arg;
    return fp_apply_flags(ctx, doc);
}

int fp_res_update(fp_ctx *ctx)
{
    const fp_res_desc *desc = ctx->cmd->data;
    const char *name = fp_arg_str(ctx, "name");
    char *path, what[300];
    json_t *out;
    int rc;

    if (!has_field_flags(ctx)) {
        fp_errorf(ctx, "nothing to update: give at least one field flag (see --help)");
        return FP_EXIT_USAGE;
    }
    path = fp_res_path(ctx, desc, name);
    rc = fp_res_modify(ctx, path, label(what, sizeof what, fp_kind_noun(desc->model), name),
                       apply_flags_fn, NULL, &out);
    if (!rc && out)
        fp_print(ctx, out, desc->cols);
    json_decref(out);
    fp_free(path);
    return rc;
}

int fp_res_delete(fp_ctx *ctx)
{
    const fp_res_desc *desc = ctx->cmd->data;
    const char *name = fp_arg_str(ctx, "name");
    fp_client *c = fp_ctx_client(ctx);
    char *path, *full, what[300];
    fp_resp r;
    int rc;

    if (!c)
        return FP_EXIT_ERROR;
    label(what, sizeof what, fp_kind_noun(desc->model), name);
    if (!fp_confirm(ctx, what)) {
        fp_errorf(ctx, "not deleted");
        return FP_EXIT_ERROR;
    }
    path = fp_res_path(ctx, desc, name);
    full = NULL;
    if (fp_arg_given(ctx, "cascade")) {
        fp_buf b;
        fp_buf_init(&b, 1 << 16);
        fp_buf_printf(&b, "%s?cascade=true", path);
        full = fp_buf_take(&b, NULL);
    }
    rc = fp_client_send(c, "DELETE", full ? full : path, NULL, NULL, NULL, &r);
    if (rc) {
        fp_report(ctx, rc, &r, what);
        if (r.status == 409 && !fp_arg_given(ctx, "cascade") && desc->kind != FP_RK_ASSET)
            fprintf(ctx->err, "  hint: --cascade deletes what refers to it too\n");
    } else if (ctx->output == FP_OUT_TABLE) {
        fprintf(ctx->out, "deleted %s\n", what);
    }
    fp_resp_clear(&r);
    fp_free(full);
    fp_free(path);
    return rc;
}

/* ---------------------------------------------------------------------------
 * Item lists inside an asset
 * ------------------------------------------------------------------------- */

/* What a sub-command works on, and what it leaves for printing. */
typedef struct sub_op {
    const fp_sub_desc *desc;
    const char *name; /* the item's name, NULL for list */
    int mode;         /* 0 add, 1 update, 2 remove */
    json_t *item;     /* the item as written (for printing), owned */
} sub_op;

/* The array of items in doc for desc, created when create is true. Prints why
 * and sets *rc when the parent item is missing. */
static json_t *sub_list(fp_ctx *ctx, const fp_sub_desc *desc, json_t *doc, bool create, int *rc)
{
    json_t *props = json_object_get(doc, "properties");
    json_t *container = props, *arr;

    *rc = FP_EXIT_OK;
    if (!json_is_object(props)) {
        props = json_object();
        json_object_set_new(doc, "properties", props);
        container = props;
    }
    if (desc->parent_list) {
        const char *pname = fp_arg_str(ctx, desc->parent_flag);
        json_t *parents = json_object_get(props, desc->parent_list);
        int pi = fp_json_find_named(parents, pname);
        if (pi < 0) {
            fp_errorf(ctx, "%s '%s' not found in asset '%s'", desc->parent_flag, pname,
                      fp_arg_str(ctx, "asset"));
            *rc = FP_EXIT_NOT_FOUND;
            return NULL;
        }
        container = json_array_get(parents, (size_t)pi);
    }
    arr = json_object_get(container, desc->list);
    if (!json_is_array(arr) && create) {
        arr = json_array();
        json_object_set_new(container, desc->list, arr);
    }
    return arr;
}

static int sub_modify_fn(fp_ctx *ctx, json_t *doc, void *arg)
{
    sub_op *op = arg;
    int rc, idx;
    json_t *arr = sub_list(ctx, op->desc, doc, op->mode == 0, &rc);

    if (rc)
        return rc;
    idx = fp_json_find_named(arr, op->name);
    if (op->mode == 0 && idx >= 0) {
        fp_errorf(ctx, "%s '%s' exists already in asset '%s' (use update)", op->desc->what,
                  op->name, fp_arg_str(ctx, "asset"));
        return FP_EXIT_CONFLICT;
    }
    if (op->mode != 0 && idx < 0) {
        fp_errorf(ctx, "%s '%s' not found in asset '%s'", op->desc->what, op->name,
                  fp_arg_str(ctx, "asset"));
        return FP_EXIT_NOT_FOUND;
    }
    if (op->mode == 2)
        return json_array_remove(arr, (size_t)idx) ? FP_EXIT_ERROR : FP_EXIT_OK;
    json_t *item = op->mode == 0 ? json_pack("{s:s}", "name", op->name)
                                 : json_incref(json_array_get(arr, (size_t)idx));
    rc = fp_apply_flags(ctx, item);
    if (!rc && op->mode == 0)
        json_array_append(arr, item);
    json_decref(op->item);
    op->item = rc ? NULL : json_deep_copy(item);
    json_decref(item);
    return rc;
}

static char *asset_path(fp_ctx *ctx)
{
    return fp_api_path(fp_arg_str(ctx, "namespace"), fp_kind_collection(FP_KIND_ASSET),
                       fp_arg_str(ctx, "asset"), NULL);
}

/* add (0), update (1), remove (2) of one item. */
static int sub_change(fp_ctx *ctx, int mode)
{
    sub_op op = {ctx->cmd->data, fp_arg_str(ctx, "name"), mode, NULL};
    char what[300];
    char *path = asset_path(ctx);
    int rc;

    if (mode == 1 && !has_field_flags(ctx)) {
        fp_free(path);
        fp_errorf(ctx, "nothing to update: give at least one field flag (see --help)");
        return FP_EXIT_USAGE;
    }
    label(what, sizeof what, "asset", fp_arg_str(ctx, "asset"));
    rc = fp_res_modify(ctx, path, what, sub_modify_fn, &op, NULL);
    if (!rc && op.item)
        fp_print(ctx, op.item, op.desc->cols);
    else if (!rc && mode == 2 && ctx->output == FP_OUT_TABLE)
        fprintf(ctx->out, "removed %s '%s'\n", op.desc->what, op.name);
    json_decref(op.item);
    fp_free(path);
    return rc;
}

int fp_sub_add(fp_ctx *ctx)
{
    return sub_change(ctx, 0);
}

int fp_sub_update(fp_ctx *ctx)
{
    return sub_change(ctx, 1);
}

int fp_sub_remove(fp_ctx *ctx)
{
    return sub_change(ctx, 2);
}

/* GET the asset and hand back its item list (new reference) or an exit code. */
static int sub_read(fp_ctx *ctx, json_t **list_out)
{
    fp_client *c = fp_ctx_client(ctx);
    char *path, what[300];
    fp_resp r;
    int rc;
    json_t *arr;

    *list_out = NULL;
    if (!c)
        return FP_EXIT_ERROR;
    path = asset_path(ctx);
    rc = fp_client_send(c, "GET", path, NULL, NULL, NULL, &r);
    fp_free(path);
    if (rc) {
        fp_report(ctx, rc, &r, label(what, sizeof what, "asset", fp_arg_str(ctx, "asset")));
        fp_resp_clear(&r);
        return rc;
    }
    arr = sub_list(ctx, ctx->cmd->data, r.body, false, &rc);
    if (!rc)
        *list_out = json_is_array(arr) ? json_incref(arr) : json_array();
    fp_resp_clear(&r);
    return rc;
}

int fp_sub_list(fp_ctx *ctx)
{
    const fp_sub_desc *desc = ctx->cmd->data;
    json_t *arr;
    int rc = sub_read(ctx, &arr);

    if (rc)
        return rc;
    fp_print(ctx, arr, desc->cols);
    json_decref(arr);
    return FP_EXIT_OK;
}

int fp_sub_show(fp_ctx *ctx)
{
    const fp_sub_desc *desc = ctx->cmd->data;
    const char *name = fp_arg_str(ctx, "name");
    json_t *arr;
    int idx, rc = sub_read(ctx, &arr);

    if (rc)
        return rc;
    idx = fp_json_find_named(arr, name);
    if (idx < 0) {
        fp_errorf(ctx, "%s '%s' not found in asset '%s'", desc->what, name,
                  fp_arg_str(ctx, "asset"));
        rc = FP_EXIT_NOT_FOUND;
    } else {
        fp_print(ctx, json_array_get(arr, (size_t)idx), desc->cols);
    }
    json_decref(arr);
    return rc;
}
