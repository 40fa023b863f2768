/*
 * opc_data.c - datasets of the OPC UA connector: monitored items and their messages.
 *
 * Each data point of a dataset is one monitored item (attribute Value) in a subscription of
 * the dataset's publishing interval, shared with other datasets of that interval
 * (opc_sub_get). A data change stores the point's last DataValue and marks the dataset
 * dirty; once the strand callback that ran the loop is done, opc_data_flush (from
 * opc_ep_settle) publishes one message per dirty dataset
 * with only the changed points, and every keyFrameCount-th message all of them, so a reader
 * that joins late gets the whole dataset within a few messages. A point that changes again
 * before its message went out (queueSize > 1) first sends the pending message: every value
 * the server reports reaches MQTT.
 *
 * Everything here runs on the endpoint's strand, the runtime's callbacks and the client's
 * alike (opc_ep.c). The fp_dataset a callback names lives until its remove callback
 * returns, and its points only until the next update, so the state keeps what it needs
 * (asked intervals) and re-points at the new fp_dataset in the update. Each point's state is its
 * own allocation, and the monitored item's ctx points into it, so a notification reaches the right
 * point however the dataset changes.
 *
 * An update applies in place: points added get items, points gone are unmonitored, points
 * with a new sampling interval or queue size get ModifyMonitoredItems, and a new publishing
 * interval moves the dataset's items to a subscription of that interval. Other datasets and
 * the session are not touched.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fieldplane/fp_alloc.h>
#include <fieldplane/fp_buf.h>
#include <fieldplane/fp_log.h>
#include "opc_internal.h"

#define LOG_MOD "opcua"
#define MSG_MAX (16u << 20) /* largest dataset message */

typedef struct opc_pt {
    opc_item_ref ref;    /* first: the item's ctx is &pt->ref; index: its place in ds->points */
    double sampling_ms;  /* asked (after defaults) */
    uint32_t queue_size; /* asked (after defaults) */
    uint32_t handle;     /* 0: no item on the server */
    opc_sub *sub;
    ua_status error; /* why it has no item (0: none yet / not tried) */
    ua_data_value last;
    bool have_last;
    bool changed;
} opc_pt;

typedef struct opc_ds {
    struct opc_ds *next;
    opc_ep *ep;
    fp_dataset *ds;
    opc_pt **pts; /* in the order of ds->points */
    size_t n;
    double publishing_ms;
    int64_t key_frame_count;
    uint64_t messages;
    bool dirty;
    fp_payload *msg; /* the message being built (the SDK's payload builder) */
} opc_ds;

/* ------------------------------------------------------------------- settings */

static double publishing_of(const opc_ep *ep, const fp_dataset *ds)
{
    const opc_ds_cfg *c = ds->config;
    if (c && c->publishing_ms >= 0)
        return (double)c->publishing_ms;
    return ep->cfg ? (double)ep->cfg->def_publishing_ms : 1000.0;
}

static int64_t key_frames_of(const opc_ep *ep, const fp_dataset *ds)
{
    const opc_ds_cfg *c = ds->config;
    if (c && c->key_frame_count >= 0)
        return c->key_frame_count;
    return ep->cfg ? ep->cfg->def_key_frame_count : 0;
}

/* Sampling interval and queue size of a point: the point's, then the dataset's (the runtime
 * already fell through to both and to the asset's defaults), then the endpoint's. */
static void item_params_of(const opc_ep *ep, const fp_dataset *ds, const fp_datapoint *dp,
                           double *sampling_ms, uint32_t *queue_size)
{
    const opc_dp_cfg *pc = dp->config;
    const opc_ds_cfg *dc = ds->config;
    int64_t s = pc && pc->sampling_ms >= 0   ? pc->sampling_ms
                : dc && dc->sampling_ms >= 0 ? dc->sampling_ms
                : ep->cfg                    ? ep->cfg->def_sampling_ms
                                             : 1000;
    int64_t q = pc && pc->queue_size >= 0   ? pc->queue_size
                : dc && dc->queue_size >= 0 ? dc->queue_size
                : ep->cfg                   ? ep->cfg->def_queue_size
                                            : 1;
    *sampling_ms = (double)s;
    *queue_size = q <= 0 ? 1 : q > UINT32_MAX ? UINT32_MAX : (uint32_t)q;
}

/* ------------------------------------------------------------------ points */

/* The point's data point (name, node) in the dataset object it belongs to now: points borrow
 * their strings from it rather than keep copies (12,500 allocations on the reference
 * workload). */
static const fp_datapoint *pt_dp(const opc_ds *st, const opc_pt *pt)
{
    return &st->ds->points[pt->ref.index];
}

static void pt_free(opc_pt *pt)
{
    if (!pt)
        return;
    ua_data_value_clear(&pt->last);
    fp_free(pt);
}

static opc_pt *pt_new(opc_ds *st, const fp_datapoint *dp)
{
    opc_pt *pt = fp_calloc(1, sizeof *pt);
    if (!pt)
        return NULL;
    pt->ref.kind = OPC_ITEM_DATA;
    pt->ref.owner = st;
    item_params_of(st->ep, st->ds, dp, &pt->sampling_ms, &pt->queue_size);
    return pt;
}

/* The point's error by name in the dataset's status (NULL clears). */
static void pt_report(opc_ds *st, size_t i, ua_status err, const char *detail)
{
    fp_datapoint *dp = &st->ds->points[i];
    opc_pt *pt = st->pts[i];

    pt->error = err;
    if (!err) {
        fp_datapoint_error(dp, NULL, NULL);
        return;
    }
    fp_datapoint_error(dp, ua_status_name(err), "node \"%s\": %s%s%s", dp->data_source,
                       ua_status_description(err), detail ? ": " : "", detail ? detail : "");
}

/* Health of the dataset from its points. */
static void ds_health(opc_ds *st)
{
    size_t ok = 0;
    for (size_t i = 0; i < st->n; i++)
        ok += st->pts[i]->handle != 0;
    if (!st->ep->connected) {
        fp_dataset_health(st->ds, false, "EndpointUnavailable", "%s",
                          st->ep->last_error[0] ? st->ep->last_error : "connecting");
        return;
    }
    if (ok == 0 && st->n > 0) {
        fp_dataset_health(st->ds, false, "NoDataPoints",
                          "0 of %zu data points monitored (see "
                          "the data points' errors)",
                          st->n);
        return;
    }
    fp_dataset_health(st->ds, true, "Monitoring", "%zu of %zu data points monitored", ok, st->n);
}

/* ------------------------------------------------------------- monitored items */

/* Delete k items of sub and release them. */
static void unmonitor_some(opc_ep *ep, opc_sub *sub, const uint32_t *handles, size_t k)
{
    if (sub->sub && k) {
        ua_status rc = ua_subscription_unmonitor_sync(sub->sub, handles, k, NULL);
        if (rc && rc != UA_STATUS_BAD_NOT_CONNECTED)
            fp_log_info(LOG_MOD, "DeleteMonitoredItems: %s", ua_status_name(rc));
    }
    opc_sub_release(ep, sub, k);
}

/* Unmonitor the points that have items, one call per subscription, and release them. Even
 * when the call fails the client forgets the items, so none comes back on a reconnect. */
static void unmonitor(opc_ep *ep, opc_pt **pts, size_t n)
{
    uint32_t one;
    uint32_t *handles = fp_calloc(n ? n : 1, sizeof *handles);
    size_t cap = handles ? n : 1;

    if (!handles)
        handles = &one; /* out of memory: one at a time */
    for (size_t i = 0; i < n; i++) {
        opc_sub *sub = pts[i]->sub;
        size_t k = 0;
        if (!sub || !pts[i]->handle)
            continue;
        for (size_t j = i; j < n; j++) {
            if (pts[j]->sub != sub || !pts[j]->handle)
                continue;
            if (k == cap) {
                unmonitor_some(ep, sub, handles, k);
                k = 0;
            }
            handles[k++] = pts[j]->handle;
            pts[j]->handle = 0;
            pts[j]->sub = NULL;
        }
        /* sub may be freed by this release: nothing refers to it any more. */
        unmonitor_some(ep, sub, handles, k);
    }
    if (handles != &one)
        fp_free(handles);
}

/* Create items for the points of st that have none (when connected). */
static void monitor_missing(opc_ds *st)
{
    opc_ep *ep = st->ep;
    size_t max = ep->cfg && ep->cfg->sub_max_items > 0 ? (size_t)ep->cfg->sub_max_items : 1000;
    size_t *idx = NULL;
    ua_monitor_item *items = NULL;
    ua_node_id *nodes = NULL;
    uint32_t *handles = NULL;
    ua_status *results = NULL;
    size_t n = 0;

    if (!ep->connected || st->n == 0)
        goto out;
    idx = fp_calloc(st->n, sizeof *idx);
    items = fp_calloc(st->n, sizeof *items);
    nodes = fp_calloc(st->n, sizeof *nodes);
    handles = fp_calloc(st->n, sizeof *handles);
    results = fp_calloc(st->n, sizeof *results);
    if (!idx || !items || !nodes || !handles || !results) {
        fp_dataset_health(st->ds, false, "OutOfMemory", "out of memory creating monitored items");
        goto out;
    }
    /* Parse the node ids; a bad one is that point's error only. */
    for (size_t i = 0; i < st->n; i++) {
        opc_pt *pt = st->pts[i];
        if (pt->handle)
            continue;
        ua_status rc = opc_parse_node_id(ep, pt_dp(st, pt)->data_source, &nodes[n]);
        if (rc) {
            pt_report(st, i, rc == UA_STATUS_BAD_NODE_ID_INVALID ? rc : rc,
                      rc == UA_STATUS_BAD_NODE_ID_INVALID
                          ? "not a node id (i=, s=, g=, b= with ns= or nsu=)"
                          : NULL);
            continue;
        }
        items[n].node_id = nodes[n];
        items[n].sampling_interval_ms = pt->sampling_ms;
        items[n].queue_size = pt->queue_size;
        items[n].discard_oldest = true;
        items[n].ctx = &pt->ref;
        idx[n++] = i;
    }
    /* In chunks that fit one subscription each. */
    for (size_t off = 0; off < n && ep->connected;) {
        size_t k = n - off < max ? n - off : max;
        char err[300];
        opc_sub *sub = opc_sub_get(ep, st->publishing_ms, k, err, sizeof err);
        if (!sub) {
            fp_dataset_health(st->ds, false, "BadSubscription", "%s", err);
            break;
        }
        for (size_t j = 0; j < k; j++)
            results[off + j] = UA_STATUS_BAD_NOT_CONNECTED;
        ua_status rc =
            ua_subscription_monitor_sync(sub->sub, items + off, k, handles + off, results + off);
        size_t failed = 0;
        for (size_t j = off; j < off + k; j++) {
            size_t i = idx[j];
            opc_pt *pt = st->pts[i];
            if (handles[j] && !ua_status_is_bad(results[j])) {
                pt->handle = handles[j];
                pt->sub = sub;
                if (pt->error)
                    pt_report(st, i, 0, NULL);
            } else {
                failed++;
                ua_status why = ua_status_is_bad(results[j]) ? results[j] : rc;
                /* A lost connection is not the point's fault: it is retried on reconnect. */
                if (why != UA_STATUS_BAD_NOT_CONNECTED && why != UA_STATUS_BAD_CONNECTION_CLOSED &&
                    why != UA_STATUS_BAD_SHUTDOWN)
                    pt_report(st, i, why ? why : UA_STATUS_BAD_UNEXPECTED_ERROR, NULL);
            }
        }
        if (failed)
            opc_sub_release(ep, sub, failed);
        if (rc)
            fp_log_warn(LOG_MOD, "%s/%s: CreateMonitoredItems: %s", st->ds->asset->name,
                        st->ds->name, ua_status_name(rc));
        off += k;
    }
out:
    for (size_t j = 0; nodes && j < n; j++)
        ua_node_id_clear(&nodes[j]);
    fp_free(idx);
    fp_free(items);
    fp_free(nodes);
    fp_free(handles);
    fp_free(results);
    ds_health(st);
}

/* ------------------------------------------------------------------ messages */

/* One message of the changed points (all of them for a key frame). */
static void ds_publish(opc_ds *st)
{
    bool full = st->key_frame_count > 0 && st->messages % (uint64_t)st->key_frame_count == 0;
    ua_datetime latest = 0;
    char time_iso[40];
    size_t count = 0;

    fp_payload_reset(st->msg);
    for (size_t i = 0; i < st->n; i++) {
        opc_pt *pt = st->pts[i];
        if (!pt->have_last || !(pt->changed || full))
            continue;
        pt->changed = false;
        count++;
        /* The value is written by the OPC UA encoder straight into the message. */
        fp_buf *b = fp_payload_member_begin(st->msg, pt_dp(st, pt)->name);
        if (b)
            opc_json_data_value(b, &pt->last);
        fp_payload_member_end(st->msg);
        ua_datetime t = pt->last.has & UA_DV_SOURCE_TIMESTAMP ? pt->last.source_timestamp
                                                              : pt->last.server_timestamp;
        if (t > latest)
            latest = t;
    }
    st->dirty = false;
    if (count == 0)
        return;
    if (!fp_payload_text(st->msg, NULL)) {
        fp_dataset_health(st->ds, false, "TooLarge", "the dataset message is over %u bytes",
                          MSG_MAX);
        return;
    }
    opc_json_datetime(time_iso, latest);
    fp_dataset_publish_payload(st->ds, st->msg, latest ? time_iso : NULL);
    st->messages++;
}

void opc_data_flush(opc_ep *ep)
{
    for (opc_ds *st = ep->datasets; st; st = st->next)
        if (st->dirty)
            ds_publish(st);
}

void opc_data_on_change(opc_ep *ep, opc_item_ref *ref, const ua_data_value *v)
{
    opc_pt *pt = (opc_pt *)ref;
    opc_ds *st = ref->owner;
    ua_data_value copy;

    (void)ep;
    /* A second value of a point before its first was published (a queue of several, or two
     * publishes in one loop iteration): publish the pending message first, so no value is
     * dropped and each message holds one value per point. */
    if (pt->changed)
        ds_publish(st);
    if (ua_data_value_copy(v, &copy))
        return;
    ua_data_value_clear(&pt->last);
    pt->last = copy;
    pt->have_last = true;
    pt->changed = true;
    st->dirty = true;
}

/* ------------------------------------------------------------------ hooks */

void opc_data_on_connected(opc_ep *ep)
{
    for (opc_ds *st = ep->datasets; st; st = st->next)
        monitor_missing(st);
}

void opc_data_on_lost(opc_ep *ep, const char *why)
{
    for (opc_ds *st = ep->datasets; st; st = st->next)
        fp_dataset_health(st->ds, false, "EndpointUnavailable", "%s", why);
}

void opc_data_on_reset(opc_ep *ep)
{
    for (opc_ds *st = ep->datasets; st; st = st->next)
        for (size_t i = 0; i < st->n; i++) {
            opc_pt *pt = st->pts[i];
            if (pt->sub)
                opc_sub_release(ep, pt->sub, 1); /* sub->sub is NULL: nothing is sent */
            pt->handle = 0;
            pt->sub = NULL;
        }
}

static void ds_free(opc_ds *st)
{
    for (size_t i = 0; i < st->n; i++)
        pt_free(st->pts[i]);
    fp_free(st->pts);
    fp_payload_free(st->msg);
    fp_free(st);
}

void opc_data_free_all(opc_ep *ep)
{
    while (ep->datasets) {
        opc_ds *st = ep->datasets;
        ep->datasets = st->next;
        if (st->ds)
            st->ds->user = NULL;
        ds_free(st);
    }
}

/* ------------------------------------------------------------- callbacks */

/* The dataset's state, and its items when connected. 0, or -1 when out of memory. */
static int ds_add(opc_ep *ep, fp_dataset *ds)
{
    opc_ds *st = fp_calloc(1, sizeof *st);

    if (!st)
        return -1;
    st->ep = ep;
    st->ds = ds;
    st->publishing_ms = publishing_of(ep, ds);
    st->key_frame_count = key_frames_of(ep, ds);
    st->msg = fp_payload_new(MSG_MAX);
    st->pts = fp_calloc(ds->n_points ? ds->n_points : 1, sizeof *st->pts);
    if (!st->pts || !st->msg)
        goto out_free;
    for (size_t i = 0; i < ds->n_points; i++) {
        st->pts[i] = pt_new(st, &ds->points[i]);
        if (!st->pts[i])
            goto out_free;
        st->pts[i]->ref.index = (uint32_t)i;
        st->n++;
    }
    st->next = ep->datasets;
    ep->datasets = st;
    ds->user = st;
    monitor_missing(st);
    return 0;

out_free:
    ds_free(st);
    return -1;
}

int opc_dataset_add(fp_dataset *ds)
{
    opc_ep *ep = ds->asset->endpoint->user;

    if (!ep)
        return -1;
    int rc = ds_add(ep, ds);
    opc_ep_settle(ep);
    return rc;
}

/* The old point (of st->ds, the dataset object before the change) with this name and node
 * that is not taken yet, or -1. */
static long find_old(const opc_ds *st, opc_pt **old, const bool *taken, size_t n,
                     const fp_datapoint *dp)
{
    for (size_t i = 0; i < n; i++) {
        const fp_datapoint *o = pt_dp(st, old[i]);
        if (!taken[i] && !strcmp(o->name, dp->name) && !strcmp(o->data_source, dp->data_source))
            return (long)i;
    }
    return -1;
}

/* Apply a change of the dataset in place (see the top of the file). 0, or -1 when out of
 * memory (nothing changed then). */
static int ds_update(opc_ep *ep, fp_dataset *ds)
{
    opc_ds *st = ds->user;
    opc_pt **old = st->pts, **pts;
    size_t n_old = st->n;
    double pub = publishing_of(ep, ds);
    bool *taken;

    pts = fp_calloc(ds->n_points ? ds->n_points : 1, sizeof *pts);
    taken = fp_calloc(n_old ? n_old : 1, sizeof *taken);
    if (!pts || !taken)
        goto out_free;
    /* Match points by name and node; new ones get a fresh state. */
    for (size_t i = 0; i < ds->n_points; i++) {
        long k = find_old(st, old, taken, n_old, &ds->points[i]);
        if (k >= 0) {
            taken[k] = true;
            pts[i] = old[k];
        } else if (!(pts[i] = pt_new(st, &ds->points[i]))) {
            /* Out of memory: drop the new ones; nothing changed. */
            for (size_t m = 0; m < i; m++)
                if (pts[m]->ref.index == UINT32_MAX)
                    pt_free(pts[m]);
            goto out_free;
        } else {
            pts[i]->ref.index = UINT32_MAX; /* marks it new until committed */
        }
    }
    for (size_t i = 0; i < ds->n_points; i++)
        pts[i]->ref.index = (uint32_t)i;
    /* From here on nothing fails: switch to the new object and points. */
    st->ds = ds;
    st->pts = pts;
    st->n = ds->n_points;
    st->key_frame_count = key_frames_of(ep, ds);

    /* Points gone: unmonitor and free. */
    size_t n_gone = 0;
    for (size_t i = 0; i < n_old; i++)
        if (!taken[i])
            old[n_gone++] = old[i];
    unmonitor(ep, old, n_gone);
    for (size_t i = 0; i < n_gone; i++)
        pt_free(old[i]);
    fp_free(old);
    fp_free(taken);
    taken = NULL;
    pts = NULL;

    if (pub != st->publishing_ms) {
        /* Another publishing interval: move every item to a subscription of it. */
        st->publishing_ms = pub;
        unmonitor(ep, st->pts, st->n);
    } else {
        /* Same subscription: ModifyMonitoredItems for points asked differently. */
        for (size_t i = 0; i < st->n; i++) {
            opc_pt *pt = st->pts[i];
            double s;
            uint32_t q;
            item_params_of(ep, ds, &ds->points[i], &s, &q);
            if (s == pt->sampling_ms && q == pt->queue_size)
                continue;
            pt->sampling_ms = s;
            pt->queue_size = q;
            if (!pt->handle || !pt->sub || !pt->sub->sub)
                continue;
            ua_status res = UA_STATUS_GOOD;
            ua_status rc =
                ua_subscription_modify_items_sync(pt->sub->sub, &pt->handle, 1, s, q, &res);
            if (rc || ua_status_is_bad(res))
                fp_log_info(LOG_MOD, "%s/%s: point %s: ModifyMonitoredItems: %s", ds->asset->name,
                            ds->name, ds->points[i].name, ua_status_name(rc ? rc : res));
        }
    }
    for (size_t i = 0; i < st->n; i++) {
        double s;
        uint32_t q;
        item_params_of(ep, ds, &ds->points[i], &s, &q);
        st->pts[i]->sampling_ms = s;
        st->pts[i]->queue_size = q;
        /* Errors are by point: the new object starts without them. */
        if (st->pts[i]->error && !st->pts[i]->handle)
            pt_report(st, i, st->pts[i]->error, NULL);
    }
    monitor_missing(st);
    /* The next message carries every point, so readers see the new shape at once. */
    st->messages = 0;
    st->dirty = true;
    for (size_t i = 0; i < st->n; i++)
        st->pts[i]->changed = st->pts[i]->have_last;
    return 0;

out_free:
    fp_free(pts);
    fp_free(taken);
    return -1;
}

int opc_dataset_update(fp_dataset *ds, const fp_dataset *old)
{
    opc_ep *ep = ds->asset->endpoint->user;

    (void)old;
    if (!ep || !ds->user)
        return -1;
    int rc = ds_update(ep, ds);
    opc_ep_settle(ep);
    return rc;
}

void opc_dataset_remove(fp_dataset *ds)
{
    opc_ep *ep = ds->asset->endpoint->user;
    opc_ds *st = ds->user;

    if (!ep || !st)
        return;
    for (opc_ds **pp = &ep->datasets; *pp; pp = &(*pp)->next)
        if (*pp == st) {
            *pp = st->next;
            break;
        }
    unmonitor(ep, st->pts, st->n);
    ds_free(st);
    ds->user = NULL;
    opc_ep_settle(ep);
}
