/*
 * api_watch.c - the watch stream: change events in revision order, as they
 * commit, as newline-delimited JSON.
 *
 * A watcher lists, then watches from the list's revision; after a disconnect or
 * a registry restart it resumes from the last revision it saw. Events come from
 * the store's change table, so nothing is lost across restarts; a revision
 * whose documents were compacted away answers 410 with the current revision, and so
 * does a revision newer than the registry's (its database was restored from a backup:
 * resuming there would skip the changes in between without a word).
 *
 * Each stream runs on its connection's own thread (libmicrohttpd thread per
 * connection) and sleeps on the store's condition variable between commits, in
 * short waits between which it rechecks its token: a revoked token's watch ends
 * with an ERROR line (code Unauthorized) within a second.
 */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fp_alloc.h"
#include "fp_log.h"
#include "fp_time.h"

#define WATCH_BATCH 256

typedef struct watch {
    fp_registry *reg;
    int64_t since;
    char ns[80];
    unsigned kinds; /* bit per kind (FP_KIND_SECRET included); 0 = all */
    int keepalive_ms;
    fp_buf pending;
    size_t off;
    uint64_t last_write_ms; /* fp_mono_ms() when bytes last went out */
    fp_token_hold hold;     /* the watcher's token, rechecked while the stream is open */
    bool ended;
} watch;

static const char *change_type(int type)
{
    return type == FP_CHANGE_ADDED ? "ADDED" : type == FP_CHANGE_DELETED ? "DELETED" : "MODIFIED";
}

/* Append one change as an event line (if it passes the filters). */
static bool watch_row(void *ctx, const fp_change *ch)
{
    watch *w = ctx;
    const char *kind = ch->kind == FP_KIND_SECRET ? "Secret" : fp_kind_name((fp_kind)ch->kind);
    const char *ns = ch->kind == FP_KIND_NAMESPACE ? ch->name : ch->ns;

    if (w->ended)
        return false;
    w->since = ch->rev;
    if (w->kinds && !(w->kinds & (1u << ch->kind)))
        return true;
    if (w->ns[0] && strcmp(ns, w->ns) != 0)
        return true;
    if (!ch->doc && ch->kind != FP_KIND_SECRET) {
        fp_buf_printf(&w->pending,
                      "{\"type\":\"ERROR\",\"error\":{\"code\":\"Gone\",\"message\":\"revision "
                      "%lld was compacted while this watch was behind; list again and watch from "
                      "the list's revision\",\"currentRevision\":%lld}}\n",
                      (long long)ch->rev, (long long)fp_store_revision(w->reg->store));
        w->ended = true;
        return false;
    }
    fp_buf_printf(&w->pending, "{\"type\":\"%s\",\"revision\":%lld,\"kind\":\"%s\",\"namespace\":",
                  change_type(ch->type), (long long)ch->rev, kind);
    {
        json_t *s = json_string(ns);
        char *z = json_dumps(s, JSON_ENCODE_ANY);
        fp_buf_append_str(&w->pending, z ? z : "\"\"");
        free(z);
        json_decref(s);
    }
    if (ch->kind == FP_KIND_SCHEMA_VERSION && strchr(ch->name, '/')) {
        const char *slash = strchr(ch->name, '/');
        fp_buf_printf(&w->pending, ",\"schema\":\"%.*s\",\"name\":\"%lld\"",
                      (int)(slash - ch->name), ch->name, atoll(slash + 1));
    } else {
        fp_buf_printf(&w->pending, ",\"name\":\"%s\"", ch->name);
    }
    fp_buf_append_str(&w->pending, ",\"object\":");
    fp_buf_append_str(&w->pending, ch->doc ? ch->doc : "null");
    fp_buf_append_str(&w->pending, "}\n");
    return w->pending.len < 1u << 20;
}

static ssize_t watch_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    watch *w = cls;
    fp_store *st = w->reg->store;

    for (;;) {
        if (w->off < w->pending.len) {
            size_t n = w->pending.len - w->off;
            if (n > max)
                n = max;
            memcpy(buf, w->pending.data + w->off, n);
            w->off += n;
            w->last_write_ms = fp_mono_ms();
            return (ssize_t)n;
        }
        fp_buf_reset(&w->pending);
        w->off = 0;
        if (w->ended || w->reg->stopping)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (fp_token_hold_revoked(&w->hold)) {
            fp_buf_append_str(&w->pending,
                              "{\"type\":\"ERROR\",\"error\":{\"code\":\"Unauthorized\","
                              "\"message\":\"the token of this watch was revoked\"}}\n");
            w->ended = true;
            continue;
        }
        /* Nothing committed since the last row: no query (streams wake every
         * FP_TOKEN_RECHECK_MS, and a thousand of them must not query the store). */
        if (fp_store_revision(st) > w->since &&
            fp_store_changes(st, w->since, WATCH_BATCH, watch_row, w)) {
            w->ended = true;
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (w->pending.err) {
            w->ended = true;
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (w->pending.len)
            continue;
        {
            long left = w->keepalive_ms - (long)(fp_mono_ms() - w->last_write_ms);
            int64_t rev;
            if (left <= 0) {
                fp_buf_printf(&w->pending, "{\"type\":\"BOOKMARK\",\"revision\":%lld}\n",
                              (long long)(w->since > fp_store_revision(st) ? fp_store_revision(st)
                                                                           : w->since));
                continue;
            }
            /* Short waits: the token is rechecked between them (FP_TOKEN_RECHECK_MS). */
            rev = fp_store_wait(st, w->since,
                                (int)(left > FP_TOKEN_RECHECK_MS ? FP_TOKEN_RECHECK_MS : left));
            (void)rev;
        }
    }
}

static void watch_free(void *cls)
{
    watch *w = cls;
    fp_metrics_watch_clients(-1);
    fp_buf_clear(&w->pending);
    fp_free(w);
}

/* Parse "Device,Asset" into a kind mask; false on an unknown kind. */
static bool parse_kinds(const char *z, unsigned *mask, char *bad, size_t bad_len)
{
    char tmp[512], *p, *save = NULL;

    *mask = 0;
    snprintf(tmp, sizeof tmp, "%s", z);
    for (p = strtok_r(tmp, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        fp_kind k;
        while (*p == ' ')
            p++;
        if (strcmp(p, "Secret") == 0 || strcmp(p, "secrets") == 0)
            *mask |= 1u << FP_KIND_SECRET;
        else if (fp_kind_parse(p, &k))
            *mask |= 1u << k;
        else {
            snprintf(bad, bad_len, "%s", p);
            return false;
        }
    }
    return true;
}

void fp_api_watch(fp_req *q, fp_resp *r)
{
    fp_store *st = q->reg->store;
    const char *zsince = fp_req_arg(q, "since"), *zns = fp_req_arg(q, "namespace");
    const char *zkinds = fp_req_arg(q, "kinds"), *zka = fp_req_arg(q, "keepaliveSeconds");
    int64_t since, oldest, current;
    char bad[128];
    watch *w;
    char *end;

    if (strcmp(q->method, "GET") != 0) {
        fp_resp_error(r, 405, "MethodNotAllowed", NULL, NULL, "watch is GET only");
        return;
    }
    if (q->tok.ns[0] && !zns)
        zns = q->tok.ns;
    if (!fp_req_can(q, "read", zns, r))
        return;
    current = fp_store_revision(st);
    since = current;
    if (zsince) {
        since = strtoll(zsince, &end, 10);
        if (!*zsince || *end || since < 0) {
            fp_resp_error(r, 400, "InvalidQuery", "since", NULL,
                          "since must be a revision (a non-negative integer)");
            return;
        }
    }
    w = fp_calloc(1, sizeof *w);
    if (!w) {
        fp_resp_status(r, FP_ERR_NOMEM, "out of memory");
        return;
    }
    if (zkinds && !parse_kinds(zkinds, &w->kinds, bad, sizeof bad)) {
        fp_free(w);
        fp_resp_error(r, 400, "InvalidQuery", "kinds", NULL,
                      "unknown kind '%s' (Namespace, Device, Asset, DiscoveredDevice, "
                      "DiscoveredAsset, Schema, SchemaVersion, Secret)",
                      bad);
        return;
    }
    /* A revision the registry has not reached comes from a client that saw a newer
     * history: the database was restored from a backup (or replaced). Streaming from
     * here would skip every change up to that revision, so the client must relist. */
    if (since > current) {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "revision %lld is newer than the registry's revision %lld (was its database "
                 "restored from a backup?); list again and watch from the list's revision",
                 (long long)since, (long long)current);
        fp_free(w);
        fp_resp_json(r, 410,
                     json_pack("{s:{s:s, s:s, s:I, s:I, s:[]}}", "error", "code", "Gone", "message",
                               msg, "currentRevision", (json_int_t)current, "oldestRevision",
                               (json_int_t)fp_store_oldest_resumable(st), "details"));
        return;
    }
    oldest = fp_store_oldest_resumable(st);
    if (since < oldest) {
        fp_free(w);
        fp_resp_json(r, 410,
                     json_pack("{s:{s:s, s:s+, s:I, s:I, s:[]}}", "error", "code", "Gone",
                               "message", "revision is older than the history the registry keeps; ",
                               "list again and watch from the list's revision", "currentRevision",
                               (json_int_t)current, "oldestRevision", (json_int_t)oldest,
                               "details"));
        return;
    }
    w->reg = q->reg;
    fp_token_hold_init(&w->hold, q);
    w->since = since;
    w->keepalive_ms = 1000 * q->reg->opts.keepalive_s;
    if (zka) {
        long ka = atol(zka);
        if (ka >= 1 && ka <= 3600)
            w->keepalive_ms = (int)ka * 1000;
    }
    if (zns)
        snprintf(w->ns, sizeof w->ns, "%s", zns);
    fp_buf_init(&w->pending, 64u << 20);
    w->last_write_ms = fp_mono_ms();
    /* The first line tells the client where the stream starts. */
    fp_buf_printf(&w->pending, "{\"type\":\"BOOKMARK\",\"revision\":%lld}\n", (long long)since);
    r->stream =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, watch_read, w, watch_free);
    if (!r->stream) {
        fp_buf_clear(&w->pending);
        fp_free(w);
        fp_resp_status(r, FP_ERR_NOMEM, "out of memory");
        return;
    }
    fp_metrics_watch_clients(1);
    MHD_add_response_header(r->stream, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-ndjson");
    r->status = 200;
}
