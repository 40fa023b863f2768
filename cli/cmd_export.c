/*
 * cmd_export.c - `fieldplane export`: write a namespace (the namespace itself,
 * its devices and its assets) as ARM JSON or as Kubernetes custom-resource
 * YAML, in a form `fieldplane apply` (and Azure's tooling) reads back.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client.h"
#include "fp_alloc.h"

static const fp_flag export_flags[] = {
    {"namespace", 0, FP_FLAG_STR, FP_F_REQUIRED | FP_F_POSITIONAL, NULL, "NS", "the namespace"},
    {"format", 0, FP_FLAG_STR, 0, NULL, "arm|k8s",
     "ARM JSON (default) or Kubernetes custom-resource YAML"},
    {"output-file", 0, FP_FLAG_STR, 0, NULL, "FILE", "write here (default: stdout)"},
    {"kinds", 0, FP_FLAG_LIST, 0, NULL, "KIND", "only these kinds: Namespace, Device, Asset"},
    {0},
};

static bool wanted(fp_ctx *ctx, fp_rkind k)
{
    int n = fp_arg_count(ctx, "kinds");

    if (!n)
        return true;
    for (int i = 0; i < n; i++)
        if (!strcasecmp(fp_arg_at(ctx, "kinds", i), fp_rkind_name(k)))
            return true;
    return false;
}

static int export_run(fp_ctx *ctx)
{
    const char *ns = fp_arg_str(ctx, "namespace");
    const char *format = fp_arg_str(ctx, "format") ? fp_arg_str(ctx, "format") : "arm";
    bool k8s = !strcmp(format, "k8s") || !strcmp(format, "kubernetes") || !strcmp(format, "yaml");
    fp_client *c = fp_ctx_client(ctx);
    json_t *out = json_array();
    fp_buf b;
    fp_resp r;
    char *path;
    int rc;

    if (!k8s && strcmp(format, "arm")) {
        fp_errorf(ctx, "--format must be arm or k8s, not '%s'", format);
        json_decref(out);
        return FP_EXIT_USAGE;
    }
    if (!c) {
        json_decref(out);
        return FP_EXIT_ERROR;
    }
    /* The namespace itself (ARM only: there is no Kubernetes kind for it). */
    path = fp_api_path(ns, NULL, NULL, NULL);
    rc = fp_client_send(c, "GET", path, NULL, NULL, NULL, &r);
    fp_free(path);
    if (rc) {
        char what[300];
        snprintf(what, sizeof what, "namespace '%s'", ns);
        fp_report(ctx, rc, &r, what);
        fp_resp_clear(&r);
        json_decref(out);
        return rc;
    }
    if (!k8s && wanted(ctx, FP_RK_NAMESPACE))
        json_array_append(out, r.body);
    fp_resp_clear(&r);
    for (fp_rkind k = FP_RK_DEVICE; k <= FP_RK_ASSET; k++) {
        json_t *items;
        size_t i;
        json_t *e;
        if (!wanted(ctx, k))
            continue;
        path = fp_api_path(ns, fp_rkind_collection(k), NULL, NULL);
        rc = fp_client_list(c, path, &items, NULL, &r);
        fp_free(path);
        if (rc) {
            fp_report(ctx, rc, &r, fp_rkind_collection(k));
            fp_resp_clear(&r);
            json_decref(out);
            return rc;
        }
        fp_resp_clear(&r);
        json_array_foreach(items, i, e)
        {
            if (k8s)
                json_array_append_new(out, fp_doc_to_k8s(e, k, ns));
            else
                json_array_append(out, e);
        }
        json_decref(items);
    }
    fp_buf_init(&b, 1u << 30);
    if (k8s) {
        fp_yaml_emit_all(&b, out);
    } else {
        char *s = json_dumps(out, JSON_INDENT(2));
        fp_buf_append_str(&b, s ? s : "[]");
        fp_buf_append_str(&b, "\n");
        free(s);
    }
    rc = b.err ? FP_EXIT_ERROR
               : fp_write_output(ctx, fp_arg_str(ctx, "output-file"), b.data ? b.data : "", b.len);
    fp_buf_clear(&b);
    json_decref(out);
    return rc;
}

const fp_cli_cmd fp_cli_export = {
    "export",
    "Write a namespace's devices and assets as ARM JSON or Kubernetes YAML",
    "fieldplane export plant-a --format k8s --output-file plant-a.yaml\n"
    "fieldplane export plant-a > plant-a.json && fieldplane apply -f plant-a.json",
    export_flags,
    NULL,
    export_run,
    NULL,
    NULL,
    FP_OP_NONE,
    "ARM output is one JSON array: the namespace, its devices, its assets. Kubernetes output "
    "is one YAML document per device and asset (there is no Kubernetes kind for a namespace)."};
