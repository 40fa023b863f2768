/*
 * cmd_watch.c - `fieldplane watch`: print changes as they happen, from the
 * registry's watch stream (one JSON event per line). Without --since it starts
 * from now; --count ends it after that many changes, for scripts.
 *
 * When the stream ends (the registry restarted, a proxy timed out) the command
 * resumes from the last revision it saw, as every watcher of the registry
 * does. When the registry's history was compacted past the watch (it fell
 * behind, or was away while more changes than --history were made; the stream
 * ends with an ERROR event, or the resume answers 410) some changes are lost:
 * the command says so on stderr, with the revisions, and goes on from the
 * current revision. With --since REV older than the history, or newer than the
 * registry's revision (its database was restored from a backup), it exits with
 * FP_EXIT_NOT_FOUND before printing anything, so a script can list again.
 */
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "fp_alloc.h"

static const fp_flag watch_flags[] = {
    {"namespace", 0, FP_FLAG_STR, 0, NULL, "NS", "only this namespace"},
    {"kinds", 0, FP_FLAG_LIST, 0, NULL, "KIND",
     "only these kinds: Namespace, Device, Asset, DiscoveredDevice, DiscoveredAsset, Schema, "
     "SchemaVersion, Secret"},
    {"since", 0, FP_FLAG_INT, 0, NULL, "REV", "start after this revision (default: now)"},
    {"count", 'c', FP_FLAG_INT, 0, NULL, "N", "stop after N changes"},
    {"bookmarks", 0, FP_FLAG_BOOL, 0, NULL, NULL, "print BOOKMARK keep-alives too"},
    {0},
};

typedef fp_watch_state watch_state;

/* Say that changes after `after` are lost and go on from `current`. A current revision
 * below `after` means the registry went back in time (its database was restored from a
 * backup): the changes it made since are not those this watch saw. */
static void compacted(watch_state *w, long long after, long long current)
{
    w->gaps++;
    if (current < after)
        fp_errorf(w->ctx,
                  "watch: the registry is at revision %lld, behind this watch's %lld (was its "
                  "database restored from a backup?); going on from revision %lld (list again "
                  "for the current state)",
                  current, after, current);
    else
        fp_errorf(w->ctx,
                  "watch: the registry's history was compacted past this watch: changes after "
                  "revision %lld are no longer kept and some were missed; going on from "
                  "revision %lld (list again for the current state)",
                  after, current);
    w->last = current;
}

static int on_event(const char *line, size_t len, void *arg)
{
    return fp_watch_line(arg, line, len);
}

int fp_watch_line(fp_watch_state *w, const char *line, size_t len)
{
    fp_ctx *ctx = w->ctx;
    json_t *ev = json_loadb(line, len, 0, NULL);
    const char *type = json_string_value(json_object_get(ev, "type"));
    bool bookmark = type && !strcmp(type, "BOOKMARK");

    if (!ev)
        return 0;
    w->got_data = true;
    if (type && !strcmp(type, "ERROR")) {
        /* The registry ends a stream that fell behind its history this way. */
        const json_t *e = json_object_get(ev, "error");
        const json_t *cur = json_object_get(e, "currentRevision");
        const char *code = json_string_value(json_object_get(e, "code"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        if (ctx->output != FP_OUT_TABLE) {
            /* Scripts reading events see the gap in the stream too. */
            fwrite(line, 1, len, ctx->out);
            fputc('\n', ctx->out);
            fflush(ctx->out);
        }
        if (code && !strcmp(code, "Gone") && json_is_integer(cur) && json_integer_value(cur) >= 0)
            compacted(w, w->last, json_integer_value(cur));
        else
            fp_errorf(ctx, "watch: the registry ended the stream: %s", msg ? msg : "error");
        json_decref(ev);
        return 1; /* reconnect from w->last */
    }
    if (json_is_integer(json_object_get(ev, "revision")))
        w->last = json_integer_value(json_object_get(ev, "revision"));
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

/* The watch path with the query: since=REV when rev >= 0 (else --since). */
static char *watch_path(fp_ctx *ctx, long long rev)
{
    fp_buf b;
    char sep;

    fp_buf_init(&b, 1 << 16);
    fp_buf_append_str(&b, "/api/v1/watch");
    sep = '?';
    if (fp_arg_str(ctx, "namespace")) {
        fp_buf_append_str(&b, "?namespace=");
        fp_buf_append_pct(&b, fp_arg_str(ctx, "namespace"));
        sep = '&';
    }
    if (rev >= 0)
        fp_buf_printf(&b, "%csince=%lld", sep, rev);
    else if (fp_arg_str(ctx, "since"))
        fp_buf_printf(&b, "%csince=%s", sep, fp_arg_str(ctx, "since"));
    if (rev >= 0 || fp_arg_str(ctx, "since"))
        sep = '&';
    if (fp_arg_given(ctx, "kinds")) {
        fp_buf_printf(&b, "%ckinds=", sep);
        for (int i = 0; i < fp_arg_count(ctx, "kinds"); i++) {
            if (i)
                fp_buf_append_str(&b, ",");
            fp_buf_append_pct(&b, fp_arg_at(ctx, "kinds", i));
        }
    }
    return fp_buf_take(&b, NULL);
}

static int watch_run(fp_ctx *ctx)
{
    fp_client *c = fp_ctx_client(ctx);
    watch_state w = {ctx, -1, -1, false, false, 0};
    int failures = 0, rc;
    long long n;

    if (!c)
        return FP_EXIT_ERROR;
    if (fp_parse_long(fp_arg_str(ctx, "count"), &n))
        w.left = n > 0 ? n : -1;
    for (;;) {
        char *path = watch_path(ctx, w.last);
        fp_resp r;

        if (!path)
            return FP_EXIT_ERROR;
        w.got_data = false;
        rc = fp_client_stream(c, path, on_event, &w, &r);
        fp_free(path);
        if (w.left == 0) {
            fp_resp_clear(&r);
            return FP_EXIT_OK;
        }
        if (rc == FP_EXIT_OK || (rc == FP_EXIT_UNREACHABLE && w.got_data)) {
            /* The stream ended: resume from the last revision seen. */
            fp_resp_clear(&r);
            failures = 0;
            continue;
        }
        if (r.status == 410 && w.last >= 0) {
            json_t *cur = json_object_get(json_object_get(r.body, "error"), "currentRevision");
            if (json_is_integer(cur) && json_integer_value(cur) >= 0) {
                compacted(&w, w.last, json_integer_value(cur));
                fp_resp_clear(&r);
                continue;
            }
        }
        if (r.status == 410 && w.last < 0) {
            /* --since is older than what the registry keeps. */
            json_t *cur = json_object_get(json_object_get(r.body, "error"), "currentRevision");
            long long since = -1;
            if (fp_arg_str(ctx, "since"))
                fp_parse_long(fp_arg_str(ctx, "since"), &since);
            if (json_is_integer(cur) && since > json_integer_value(cur))
                fp_errorf(ctx,
                          "watch: revision %lld is newer than the registry's (was its database "
                          "restored from a backup?). List again and watch from the list's "
                          "revision (the current revision is %" JSON_INTEGER_FORMAT ")",
                          since, json_integer_value(cur));
            else
                fp_errorf(ctx,
                          "watch: revision %s is no longer kept: the registry's history was "
                          "compacted. List again and watch from the list's revision (the "
                          "current revision is %" JSON_INTEGER_FORMAT ")",
                          fp_arg_str(ctx, "since") ? fp_arg_str(ctx, "since") : "?",
                          json_integer_value(cur));
            fp_resp_clear(&r);
            return FP_EXIT_NOT_FOUND;
        }
        if (rc == FP_EXIT_UNREACHABLE && w.last >= 0 && ++failures < 30) {
            /* Was connected before: wait for the registry to come back. */
            fp_resp_clear(&r);
            sleep(1);
            continue;
        }
        fp_report(ctx, rc, &r, "watch");
        fp_resp_clear(&r);
        return rc;
    }
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
    "(one object per line). The registry keeps the documents of its last --history changes: "
    "a watch that falls further behind (or whose registry was away meanwhile) has missed "
    "changes; it says so on stderr (\"the registry's history was compacted past this watch\"), "
    "JSON output passes the registry's ERROR event on, and it goes on from the current "
    "revision. --since REV older than that history, or newer than the registry's revision (its "
    "database was restored from a backup), exits with code 3 before printing anything: list "
    "again and watch from the list's revision."};
