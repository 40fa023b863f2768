/*
 * cmd_audit.c - `fieldplane audit list`: who changed what, newest first, from
 * the registry's audit log.
 */
#include <string.h>

#include "client.h"

static const fp_col audit_cols[] = {
    {"REVISION", "revision", FP_COL_VALUE}, {"TIME", "time", FP_COL_VALUE},
    {"TOKEN", "tokenId", FP_COL_VALUE},     {"ACTION", "action", FP_COL_VALUE},
    {"KIND", "kind", FP_COL_VALUE},         {"NAMESPACE", "namespace", FP_COL_VALUE},
    {"NAME", "name", FP_COL_VALUE},         {0},
};

static const fp_flag audit_flags[] = {
    {"namespace", 0, FP_FLAG_STR, 0, "?namespace", "NS", "only this namespace"},
    {"kind", 0, FP_FLAG_STR, 0, "?kind", "KIND", "only this kind (Device, Asset, ...)"},
    {"name", 'n', FP_FLAG_STR, 0, "?name", "NAME", "only this resource name"},
    {"token-id", 0, FP_FLAG_STR, 0, "?tokenId", "ID", "only changes made with this token"},
    {"action", 0, FP_FLAG_STR, 0, "?action", "ACTION",
     "create, replace, update, delete, status, secret-set or secret-delete"},
    {"top", 0, FP_FLAG_INT, 0, "?top", "N", "at most N entries (default 100)"},
    {0},
};

static int audit_list(fp_ctx *ctx)
{
    fp_client *c = fp_ctx_client(ctx);
    fp_buf b;
    fp_resp r;
    int rc;

    if (!c)
        return FP_EXIT_ERROR;
    fp_buf_init(&b, 1 << 16);
    fp_buf_append_str(&b, "/api/v1/audit");
    fp_list_query(ctx, &b);
    if (!fp_arg_given(ctx, "top"))
        fp_buf_printf(&b, "%ctop=100", strchr(b.data ? b.data : "", '?') ? '&' : '?');
    if (b.err)
        return FP_EXIT_ERROR;
    rc = fp_client_send(c, "GET", b.data, NULL, NULL, NULL, &r);
    fp_buf_clear(&b);
    if (rc)
        fp_report(ctx, rc, &r, "audit");
    else
        fp_print(ctx, json_object_get(r.body, "value") ? json_object_get(r.body, "value") : r.body,
                 audit_cols);
    fp_resp_clear(&r);
    return rc;
}

static const fp_cli_cmd audit_cmds[] = {
    {"list", "List audit entries, newest first",
     "fieldplane audit list --namespace plant-a --kind Asset --top 20", audit_flags, NULL,
     audit_list, NULL, NULL, FP_OP_NONE, NULL},
    {0},
};

const fp_cli_cmd fp_cli_audit = {"audit",
                                 "Read the audit log",
                                 "fieldplane audit list --top 20",
                                 NULL,
                                 NULL,
                                 NULL,
                                 audit_cmds,
                                 NULL,
                                 FP_OP_NONE,
                                 NULL};
