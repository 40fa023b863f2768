/*
 * cmd_watch.c - `fieldplane watch`: print changes as they happen, from the
 * registry's watch stream (one JSON event per line). Without --since it starts
 * from now; --count ends it after that many changes, for scripts.
 */
#include <string.h>

#include "client.h"
#include "fp_alloc.h"

static const fp_flag watch_flags[] = {
    {"namespace", 0, FP_FLAG_STR, 0, "?namespace", "NS", "only this namespace"},
    {"kinds", 0, FP_FLAG_LIST, 0, NULL, "KIND",
     "only these kinds: Namespace, Device, Asset, DiscoveredDevice, DiscoveredAsset, Schema, "
     "SchemaVersion, Secret"},
    {"since", 0, FP_FLAG_INT, 0, "?since", "REV", "start after this revision (default: now)"},
    {"count", 'c', FP_FLAG_INT, 0, NULL, "N", "stop after N changes"},
    {"bookmarks", 0, FP_FLAG_BOOL, 0, NULL, NULL, "print BOOKMARK keep-alives too"},
    {NULL},
};

typedef struct watch_state {
    fp_ctx *ctx;
    long long left; /* changes still to print, -1 for no limit */
    bool header_done;
} watch_state;

static int on_event(const char *line, size_t len, void *arg)
{
    watch_state *w = arg;
    fp_ctx *ctx = w->ctx;
    json_t *ev = json_loadb(line, len, 0, NULL);
    const char *type = json_string_value(json_object_get(ev, "type"));
    bool bookmark = type && !strcmp(type, "BOOKMARK");

    if (!ev)
        return 0;
    if (bookmark && !fp_arg_given(ctx, "bookmarks")) {
        json_decref(ev);
        return 0;
    }
    if (ctx->output == FP_OUT_TABLE) {
        if (!w->header_done)
            fprintf(ctx->out, "%-10s %-9s %-16s %s\n", "REVISION", "TYPE", "KIND", "NAME");
        w->header_done = true;
        const char *ns = json_string_value(json_object_get(ev, "namespace"));
        const char *name = json_string_value(json_object_get(ev, "name"));
        fprintf(ctx->out, "%-10" JSON_INTEGER_FORMAT " %-9s %-16s %s%s%s\n",
                json_integer_value(json_object_get(ev, "revision")), type ? type : "?",
                json_string_value(json_object_get(ev, "kind"))
                    ? json_string_value(json_object_get(ev, "kind"))
                    : "-",
                ns ? ns : "", ns && name ? "/" : "", name ? name : "");
    } else if (ctx->output == FP_OUT_YAML) {
        fp_buf b;
        fp_buf_init(&b, 1u << 30);
        fputs("---\n", ctx->out);
        if (!fp_yaml_emit(&b, ev) && b.data)
            fputs(b.data, ctx->out);
        fp_buf_clear(&b);
    } else {
        fwrite(line, 1, len, ctx->out);
        fputc('\n', ctx->out);
    }
    fflush(ctx->out);
    json_decref(ev);
    if (!bookmark && w->left > 0 && --w->left == 0)
        return 1;
    return 0;
}

static int watch_run(fp_ctx *ctx)
{
    fp_client *c = fp_ctx_client(ctx);
    watch_state w = {ctx, -1, false};
    long long n;
    fp_buf b;
    fp_resp r;
    int rc;

    if (!c)
        return FP_EXIT_ERROR;
    if (fp_parse_long(fp_arg_str(ctx, "count"), &n))
        w.left = n > 0 ? n : -1;
    fp_buf_init(&b, 1 << 16);
    fp_buf_append_str(&b, "/api/v1/watch");
    fp_list_query(ctx, &b);
    if (fp_arg_given(ctx, "kinds")) {
        fp_buf_append_str(&b, strchr(b.data, '?') ? "&kinds=" : "?kinds=");
        for (int i = 0; i < fp_arg_count(ctx, "kinds"); i++) {
            if (i)
                fp_buf_append_str(&b, ",");
            fp_buf_append_escaped(&b, fp_arg_at(ctx, "kinds", i));
        }
    }
    if (b.err)
        return FP_EXIT_ERROR;
    rc = fp_client_stream(c, b.data, on_event, &w, &r);
    fp_buf_clear(&b);
    if (rc) {
        fp_report(ctx, rc, &r, "watch");
        if (r.status == 410)
            fprintf(ctx->err, "  hint: that revision is no longer kept; list again and watch "
                              "from the list's revision\n");
    }
    fp_resp_clear(&r);
    return rc;
}

const fp_cli_cmd fp_cli_watch = {
    "watch",
    "Print changes to the registry as they happen",
    "fieldplane watch --namespace plant-a --kinds Asset --kinds Device\n"
    "fieldplane watch --since 1200 --count 10 -o json",
    watch_flags,
    NULL,
    watch_run,
    NULL,
    NULL,
    FP_OP_NONE,
    "Table output prints one line per change; JSON prints each event as the registry sends it "
    "(one object per line)."};
