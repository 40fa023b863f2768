/*
 * rt_model.c - the lifecycle of the connector runtime's objects.
 *
 * The sync thread (rt_sync.c) decides what exists; rt_build.c turns documents into the
 * objects of connector.h (with their config structs from rt_config.c and secrets from
 * rt_secrets.c), and this file applies changes as the smallest set of callbacks: a child whose
 * inputs did not change (equal JSON, rt_canon) is left alone, a changed one is updated (or removed
 * and added), and nothing else restarts. Every callback runs on the endpoint's strand; the sync
 * thread hands work over with rt_strand_run and waits, so the model is only ever changed
 * from one strand at a time and the connector sees changes in order.
 *
 * A child object holds a reference to its own element of the asset document and to the
 * parsed configurations its config struct borrows from, so a child that did not change
 * stays valid when the asset document around it is replaced.
 *
 * An add that fails leaves the object not started and Unavailable; one retry timer per
 * endpoint (5 s, doubling to 60 s) tries every object of the endpoint that is not started
 * again, on the strand.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fp_json.h"
#include "fp_alloc.h"
#include "fp_log.h"
#include "fp_sha256.h"
#include "rt_internal.h"

#define RETRY_FIRST_MS 5000u
#define RETRY_MAX_MS 60000u

/* ---- small helpers ----------------------------------------------------------------------------
 */

rt_endpoint *rt_endpoint_of(fp_endpoint *ep)
{
    return ep ? RT_OF(ep, rt_endpoint, pub) : NULL;
}

rt_asset *rt_asset_of(fp_asset *as)
{
    return as ? RT_OF(as, rt_asset, pub) : NULL;
}

/* A non-empty string member, else def. */
const char *rt_jstr_or(const json_t *o, const char *key, const char *def)
{
    const char *s = rt_jstr(o, key);
    return s && *s ? s : def;
}

char *rt_str_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *z = fp_malloc((size_t)n + 1);
    if (!z)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(z, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return z;
}

/* fp_json_kind, telling integers apart: configuration keys are typed that finely. */

/* Canonical text of a JSON value for comparisons (NULL-safe; "" on failure). */
char *rt_canon_of(json_t *v)
{
    char *z = v ? json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    char *out = fp_strdup(z ? z : "");
    free(z);
    return out;
}

json_t *rt_jref(const json_t *v)
{
    return v ? json_incref((json_t *)v) : json_null();
}

/* ---- health and errors of the objects -----------------------------------------------------------
 */

void rt_out_error(rt_out *o, const char *code, const char *msg)
{
    pthread_mutex_lock(&o->lock);
    if (!o->error.set)
        rt_error_set(&o->error, code, msg);
    pthread_mutex_unlock(&o->lock);
}

/* Mark an object Unavailable after its add failed, unless the connector said why. */
static void health_failed(pthread_mutex_t *lock, rt_health *h, const char *what)
{
    pthread_mutex_lock(lock);
    if (!h->set || h->available) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s failed; retrying", what);
        rt_health_set(h, false, "StartFailed", msg);
    }
    pthread_mutex_unlock(lock);
}

/* After a successful add, clear what health_failed set (the connector reports its own). */
static void health_started(pthread_mutex_t *lock, rt_health *h)
{
    pthread_mutex_lock(lock);
    if (h->set && !h->available && !strcmp(h->reason, "StartFailed"))
        rt_health_set(h, true, "", "");
    pthread_mutex_unlock(lock);
}

/* ---- sampling owned by the runtime ---------------------------------------------------------- */

/* One tick of a dataset's sampling (on its strand): the connector fills the payload, the
 * runtime publishes it. */
static void sample_tick(void *arg)
{
    rt_dataset *d = arg;
    rt_endpoint *ep = rt_endpoint_of(d->pub.asset->endpoint);
    fp_rt *rt = ep->rt;

    atomic_fetch_add(&ep->samples, 1);
    fp_payload_reset(d->payload);
    if (rt->conn->dataset_sample(&d->pub, d->payload) == 0)
        fp_dataset_publish_payload(&d->pub, d->payload, NULL);
}

/* The interval of the dataset's sampling in ms, from the connector's sampling_key row; 0 when
 * the connector samples itself or the interval is not positive. */
static uint64_t sample_interval_ms(const fp_connector *c, const rt_dataset *d)
{
    if (!c->dataset_sample || !c->sampling_key || !d->pub.config)
        return 0;
    for (const fp_config_key *k = c->config; k && k->key; k++)
        if (k->scope == FP_CFG_DATASET && k->type == FP_CFG_INT &&
            !strcmp(k->key, c->sampling_key)) {
            int64_t v;
            memcpy(&v, (const char *)d->pub.config + k->offset, sizeof v);
            return v > 0 ? (uint64_t)v : 0;
        }
    return 0;
}

/* Start the runtime's sampling of a started dataset (on the strand). -1 when out of memory. */
static int sample_start(fp_rt *rt, rt_dataset *d)
{
    uint64_t interval = sample_interval_ms(rt->conn, d);
    if (!interval)
        return 0;
    if (!d->payload && !(d->payload = fp_payload_new(0)))
        return -1;
    rt_endpoint *ep = rt_endpoint_of(d->pub.asset->endpoint);
    d->sample_timer = rt_timer_sample(d->pub.asset, interval, sample_tick, d, &ep->samples_skipped);
    return d->sample_timer ? 0 : -1;
}

static void sample_stop(rt_dataset *d)
{
    fp_timer_cancel(d->sample_timer);
    d->sample_timer = NULL;
}

/* ---- the children, generically ------------------------------------------------------------
 *
 * The lifecycle (asset_diff, asset_start_kids, asset_stop_kids) treats datasets, event groups,
 * streams and actions alike through one row per kind: where each keeps its key, diff inputs
 * and flags, and what adding, removing, updating and marking it means. A new kind is a row,
 * not a case in every function.
 */

/* Each kind's own steps. */
static void ds_mark(void *o, bool started)
{
    rt_dataset *d = o;
    if (started)
        health_started(&d->out.lock, &d->out.health);
    else
        health_failed(&d->out.lock, &d->out.health, "dataset_add");
}

static int ds_add(fp_rt *rt, void *o)
{
    const fp_connector *c = rt->conn;
    rt_dataset *d = o;
    int rc = c->dataset_add ? c->dataset_add(&d->pub) : 0;
    if (rc == 0 && sample_start(rt, d) != 0) {
        if (c->dataset_remove)
            c->dataset_remove(&d->pub);
        rc = -1;
    }
    return rc;
}

static void ds_remove(fp_rt *rt, void *o)
{
    rt_dataset *d = o;
    sample_stop(d);
    if (rt->conn->dataset_remove)
        rt->conn->dataset_remove(&d->pub);
}

static bool ds_has_update(const fp_connector *c)
{
    return c->dataset_update != NULL;
}

static int ds_update(fp_rt *rt, void *nw, void *old)
{
    const fp_connector *c = rt->conn;
    rt_dataset *n = nw, *o = old;
    n->pub.user = o->pub.user;
    for (size_t i = 0; i < n->pub.n_points; i++)
        for (size_t j = 0; j < o->pub.n_points; j++)
            if (!strcmp(n->pub.points[i].name, o->pub.points[j].name))
                n->pub.points[i].user = o->pub.points[j].user;
    rt_out_take_state(&n->out, &o->out);
    sample_stop(o);
    int rc = c->dataset_update(&n->pub, &o->pub);
    if (rc == 0 && sample_start(rt, n) != 0) {
        if (c->dataset_remove)
            c->dataset_remove(&n->pub);
        rc = -1;
    }
    return rc;
}

static void eg_mark(void *o, bool started)
{
    rt_event_group *g = o;
    if (started)
        health_started(&g->out.lock, &g->out.health);
    else
        health_failed(&g->out.lock, &g->out.health, "event_group_add");
    for (size_t j = 0; j < g->pub.n_events; j++) {
        if (started)
            health_started(&g->ev_out[j].lock, &g->ev_out[j].health);
        else
            health_failed(&g->ev_out[j].lock, &g->ev_out[j].health, "event_group_add");
    }
}

static int eg_add(fp_rt *rt, void *o)
{
    const fp_connector *c = rt->conn;
    return c->event_group_add ? c->event_group_add(&((rt_event_group *)o)->pub) : 0;
}

static void eg_remove(fp_rt *rt, void *o)
{
    if (rt->conn->event_group_remove)
        rt->conn->event_group_remove(&((rt_event_group *)o)->pub);
}

static bool eg_has_update(const fp_connector *c)
{
    return c->event_group_update != NULL;
}

static int eg_update(fp_rt *rt, void *nw, void *old)
{
    rt_event_group *n = nw, *o = old;
    n->pub.user = o->pub.user;
    rt_out_take_state(&n->out, &o->out);
    for (size_t i = 0; i < n->pub.n_events; i++)
        for (size_t j = 0; j < o->pub.n_events; j++)
            if (!strcmp(n->pub.events[i].name, o->pub.events[j].name)) {
                n->pub.events[i].user = o->pub.events[j].user;
                rt_out_take_state(&n->ev_out[i], &o->ev_out[j]);
            }
    return rt->conn->event_group_update(&n->pub, &o->pub);
}

static void st_mark(void *o, bool started)
{
    rt_stream *st = o;
    if (started)
        health_started(&st->out.lock, &st->out.health);
    else
        health_failed(&st->out.lock, &st->out.health, "stream_add");
}

static int st_add(fp_rt *rt, void *o)
{
    const fp_connector *c = rt->conn;
    return c->stream_add ? c->stream_add(&((rt_stream *)o)->pub) : 0;
}

static void st_remove(fp_rt *rt, void *o)
{
    if (rt->conn->stream_remove)
        rt->conn->stream_remove(&((rt_stream *)o)->pub);
}

static bool st_has_update(const fp_connector *c)
{
    return c->stream_update != NULL;
}

static int st_update(fp_rt *rt, void *nw, void *old)
{
    rt_stream *n = nw, *o = old;
    n->pub.user = o->pub.user;
    rt_out_take_state(&n->out, &o->out);
    return rt->conn->stream_update(&n->pub, &o->pub);
}

static void ac_mark(void *o, bool started)
{
    rt_action *a = o;
    if (!started) {
        health_failed(&a->lock, &a->health, "action_add");
        return;
    }
    /* Added and subscribed: an error left by an earlier failed subscribe is over. */
    pthread_mutex_lock(&a->lock);
    rt_error_set(&a->error, NULL, NULL);
    pthread_mutex_unlock(&a->lock);
    health_started(&a->lock, &a->health);
}

static int ac_add(fp_rt *rt, void *o)
{
    const fp_connector *c = rt->conn;
    rt_action *a = o;
    int rc = c->action_add ? c->action_add(&a->pub) : 0;
    if (rc == 0 && rt_action_subscribe(a) != 0) {
        if (c->action_remove)
            c->action_remove(&a->pub);
        rc = -1;
    }
    return rc;
}

static void ac_remove(fp_rt *rt, void *o)
{
    rt_action_unsubscribe(o);
    if (rt->conn->action_remove)
        rt->conn->action_remove(&((rt_action *)o)->pub);
}

static bool ac_has_update(const fp_connector *c)
{
    (void)c;
    return false; /* actions have no update: remove + add */
}

static void ds_free_v(fp_rt *rt, void *o)
{
    rt_dataset_free(rt, o);
}

static void eg_free_v(fp_rt *rt, void *o)
{
    rt_group_free(rt, o);
}

static void st_free_v(fp_rt *rt, void *o)
{
    rt_stream_free(rt, o);
}

static void ac_free_v(fp_rt *rt, void *o)
{
    rt_action_free(rt, o);
}

/* One row per kind. */
typedef struct kid_ops {
    size_t key_off;     /* its key (const char *): the name; an action's "group/name" */
    size_t canon_off;   /* rt_canon *: the inputs a change is compared by */
    size_t started_off; /* bool: its add succeeded */
    size_t cfg_bad_off; /* bool: a configuration error keeps it from starting */
    void (*free)(fp_rt *rt, void *o);
    void (*mark)(void *o, bool started); /* health after an add or update */
    int (*add)(fp_rt *rt, void *o);      /* the add callback (a missing one succeeds) */
    void (*remove)(fp_rt *rt, void *o);
    bool (*has_update)(const fp_connector *c);
    /* Hand old's connector and output state to nw, then call the update callback. */
    int (*update)(fp_rt *rt, void *nw, void *old);
} kid_ops;

#define KID_OFFSETS(type, key)                                                                     \
    offsetof(type, key), offsetof(type, canon), offsetof(type, started), offsetof(type, cfg_bad)

static const kid_ops k_kid_ops[K_COUNT] = {
    [K_DS] = {KID_OFFSETS(rt_dataset, pub.name), ds_free_v, ds_mark, ds_add, ds_remove,
              ds_has_update, ds_update},
    [K_EG] = {KID_OFFSETS(rt_event_group, pub.name), eg_free_v, eg_mark, eg_add, eg_remove,
              eg_has_update, eg_update},
    [K_ST] = {KID_OFFSETS(rt_stream, pub.name), st_free_v, st_mark, st_add, st_remove,
              st_has_update, st_update},
    [K_AC] = {KID_OFFSETS(rt_action, key), ac_free_v, ac_mark, ac_add, ac_remove, ac_has_update,
              NULL},
};

static void *field(void *o, size_t off)
{
    return (char *)o + off;
}

static const char *kid_key(int kind, void *o)
{
    return *(const char **)field(o, k_kid_ops[kind].key_off);
}

static const rt_canon *kid_canon(int kind, void *o)
{
    return *(rt_canon **)field(o, k_kid_ops[kind].canon_off);
}

static bool *kid_started(int kind, void *o)
{
    return field(o, k_kid_ops[kind].started_off);
}

static bool kid_cfg_bad(int kind, void *o)
{
    return *(bool *)field(o, k_kid_ops[kind].cfg_bad_off);
}

static void kid_free(fp_rt *rt, int kind, void *o)
{
    k_kid_ops[kind].free(rt, o);
}

void rt_kids_free(fp_rt *rt, kids *k)
{
    for (int kind = 0; kind < K_COUNT; kind++) {
        for (size_t i = 0; i < k->n[kind]; i++)
            kid_free(rt, kind, k->v[kind][i]);
        fp_free(k->v[kind]);
        k->v[kind] = NULL;
        k->n[kind] = 0;
    }
}

static void kid_mark_failed(int kind, void *o)
{
    k_kid_ops[kind].mark(o, false);
}

static void kid_mark_started(int kind, void *o)
{
    k_kid_ops[kind].mark(o, true);
}

static int kid_add(fp_rt *rt, int kind, void *o)
{
    return k_kid_ops[kind].add(rt, o);
}

static void kid_remove(fp_rt *rt, int kind, void *o)
{
    bool *started = kid_started(kind, o);
    if (!*started)
        return;
    k_kid_ops[kind].remove(rt, o);
    *started = false;
}

static bool kid_has_update(fp_rt *rt, int kind)
{
    return k_kid_ops[kind].has_update(rt->conn);
}

static int kid_update(fp_rt *rt, int kind, void *nw, void *old)
{
    return k_kid_ops[kind].update ? k_kid_ops[kind].update(rt, nw, old) : -1;
}

/* Point the asset's public arrays at k (with the asset lock: the status writer reads them). */
static void asset_publish_kids(rt_asset *as, kids *k)
{
    pthread_mutex_lock(&as->lock);
    fp_free(as->pub.datasets);
    fp_free(as->pub.event_groups);
    fp_free(as->pub.streams);
    fp_free(as->pub.actions);
    /* The public member is the first of each wrapper, so the wrapper's address is the
     * public object's. */
    as->pub.n_datasets = k->n[K_DS];
    as->pub.datasets = (fp_dataset **)k->v[K_DS];
    as->pub.n_event_groups = k->n[K_EG];
    as->pub.event_groups = (fp_event_group **)k->v[K_EG];
    as->pub.n_streams = k->n[K_ST];
    as->pub.streams = (fp_stream **)k->v[K_ST];
    as->pub.n_actions = k->n[K_AC];
    as->pub.actions = (fp_action **)k->v[K_AC];
    pthread_mutex_unlock(&as->lock);
    memset(k, 0, sizeof *k);
}

static void asset_kids(rt_asset *as, kids *k)
{
    k->n[K_DS] = as->pub.n_datasets;
    k->v[K_DS] = (void **)as->pub.datasets;
    k->n[K_EG] = as->pub.n_event_groups;
    k->v[K_EG] = (void **)as->pub.event_groups;
    k->n[K_ST] = as->pub.n_streams;
    k->v[K_ST] = (void **)as->pub.streams;
    k->n[K_AC] = as->pub.n_actions;
    k->v[K_AC] = (void **)as->pub.actions;
}

_Static_assert(offsetof(rt_dataset, pub) == 0, "pub first");
_Static_assert(offsetof(rt_event_group, pub) == 0, "pub first");
_Static_assert(offsetof(rt_stream, pub) == 0, "pub first");
_Static_assert(offsetof(rt_action, pub) == 0, "pub first");

/* Remove every started child of the asset, in reverse order (on the strand). */
static void asset_stop_kids(fp_rt *rt, rt_asset *as)
{
    kids cur;
    asset_kids(as, &cur);
    for (int kind = K_COUNT - 1; kind >= 0; kind--)
        for (size_t i = cur.n[kind]; i-- > 0;)
            kid_remove(rt, kind, cur.v[kind][i]);
}

/* Add what is not started (on the strand). Returns the number of adds that failed. */
static int asset_start_kids(fp_rt *rt, rt_asset *as)
{
    kids cur;
    int failed = 0;
    asset_kids(as, &cur);
    for (int kind = 0; kind < K_COUNT; kind++) {
        for (size_t i = 0; i < cur.n[kind]; i++) {
            void *o = cur.v[kind][i];
            bool *started = kid_started(kind, o);
            if (*started || kid_cfg_bad(kind, o))
                continue;
            if (kid_add(rt, kind, o) == 0) {
                *started = true;
                kid_mark_started(kind, o);
            } else {
                fp_log_warn("runtime", "asset %s: add of %s failed; retrying later", as->pub.name,
                            kid_key(kind, o));
                kid_mark_failed(kind, o);
                failed++;
            }
        }
    }
    return failed;
}

static void *kid_find(kids *k, int kind, const char *key, size_t *idx)
{
    for (size_t i = 0; i < k->n[kind]; i++)
        if (k->v[kind][i] && !strcmp(kid_key(kind, k->v[kind][i]), key)) {
            if (idx)
                *idx = i;
            return k->v[kind][i];
        }
    return NULL;
}

/* Diff nk (new children) against the asset's current children and call back: removes of
 * what is gone (reverse order), updates of what changed, then the new arrays go live. The
 * adds of what is new follow in asset_start_kids. Takes nk. */
static void asset_diff(fp_rt *rt, rt_asset *as, kids *nk)
{
    kids cur, dead;
    memset(&dead, 0, sizeof dead);
    asset_kids(as, &cur);

    /* 1. gone: remove, in reverse order. */
    for (int kind = K_COUNT - 1; kind >= 0; kind--)
        for (size_t i = cur.n[kind]; i-- > 0;) {
            void *o = cur.v[kind][i];
            if (!kid_find(nk, kind, kid_key(kind, o), NULL)) {
                kid_remove(rt, kind, o);
                rt_kids_push(&dead, kind, o);
            }
        }
    /* 2. same: keep the old object; changed: update, or remove (the add comes later). */
    for (int kind = 0; kind < K_COUNT; kind++)
        for (size_t i = 0; i < nk->n[kind]; i++) {
            void *nw = nk->v[kind][i];
            void *old = kid_find(&cur, kind, kid_key(kind, nw), NULL);
            if (!old)
                continue;
            if (rt_canon_equal(kid_canon(kind, old), kid_canon(kind, nw))) {
                nk->v[kind][i] = old;
                rt_kids_push(&dead, kind, nw);
                continue;
            }
            bool *old_started = kid_started(kind, old);
            if (*old_started && !kid_cfg_bad(kind, nw) && kid_has_update(rt, kind)) {
                if (kid_update(rt, kind, nw, old) == 0) {
                    *kid_started(kind, nw) = true;
                    kid_mark_started(kind, nw);
                } else {
                    fp_log_warn("runtime", "asset %s: update of %s failed; adding it again later",
                                as->pub.name, kid_key(kind, nw));
                    kid_mark_failed(kind, nw);
                }
                *old_started = false; /* its state moved to nw */
            } else {
                kid_remove(rt, kind, old);
            }
            rt_kids_push(&dead, kind, old);
        }
    /* 3. the new arrays go live; then what they replaced is freed. */
    asset_publish_kids(as, nk); /* frees the old arrays (cur) under the lock */
    rt_kids_free(rt, &dead);
}

/* ---- endpoints
 * ------------------------------------------------------------------------------------ */

static void ep_retry_fire(void *arg);

/* Arm the endpoint's retry timer (on the strand), unless it is armed already. */
static void ep_schedule_retry(rt_endpoint *ep)
{
    if (ep->retry_timer)
        return;
    ep->retry_ms = ep->retry_ms ? ep->retry_ms * 2 : RETRY_FIRST_MS;
    if (ep->retry_ms > RETRY_MAX_MS)
        ep->retry_ms = RETRY_MAX_MS;
    ep->retry_timer = rt_timer_after(ep->strand, ep->retry_ms, ep_retry_fire, ep);
}

static void ep_cancel_retry(rt_endpoint *ep)
{
    fp_timer_cancel(ep->retry_timer);
    ep->retry_timer = NULL;
}

/* The endpoint's assets in list order (rt->lock guards the list). Caller frees. */
static size_t ep_assets(rt_endpoint *ep, rt_asset ***out)
{
    fp_rt *rt = ep->rt;
    size_t n = 0;
    pthread_mutex_lock(&rt->lock);
    for (rt_asset *as = ep->assets; as; as = as->next)
        n++;
    rt_asset **v = fp_calloc(n ? n : 1, sizeof *v);
    n = 0;
    if (v)
        for (rt_asset *as = ep->assets; as; as = as->next)
            v[n++] = as;
    pthread_mutex_unlock(&rt->lock);
    *out = v;
    return n;
}

/* Start what is not started below ep (on the strand): the endpoint, then the children of
 * each of its assets. A failure arms the retry timer. */
static void ep_start_pending(rt_endpoint *ep)
{
    fp_rt *rt = ep->rt;
    const fp_connector *c = rt->conn;
    int failed = 0;

    if (!ep->started) {
        pthread_mutex_lock(&ep->lock);
        bool bad = ep->error.set;
        pthread_mutex_unlock(&ep->lock);
        if (bad)
            return; /* configuration or secret error: waits for a change */
        if (c->endpoint_add && c->endpoint_add(&ep->pub) != 0) {
            fp_log_warn("runtime", "endpoint %s/%s/%s: endpoint_add failed; retrying later", ep->ns,
                        ep->pub.device, ep->pub.name);
            health_failed(&ep->lock, &ep->health, "endpoint_add");
            rt_status_endpoint_dirty(ep);
            ep_schedule_retry(ep);
            return;
        }
        ep->started = true;
        health_started(&ep->lock, &ep->health);
        rt_status_endpoint_dirty(ep);
    }
    rt_asset **v;
    size_t n = ep_assets(ep, &v);
    for (size_t i = 0; i < n; i++) {
        int f = asset_start_kids(rt, v[i]);
        failed += f;
        rt_status_asset_dirty(v[i]);
    }
    fp_free(v);
    if (failed)
        ep_schedule_retry(ep);
    else if (!ep->retry_timer)
        ep->retry_ms = 0;
}

static void ep_retry_fire(void *arg)
{
    rt_endpoint *ep = arg;
    fp_timer *t = ep->retry_timer;
    ep->retry_timer = NULL;
    fp_timer_cancel(t); /* from its own tick: frees it when the tick returns */
    ep_start_pending(ep);
}

static void ep_error_set(rt_endpoint *ep, const char *code, const char *msg)
{
    pthread_mutex_lock(&ep->lock);
    if (!ep->error.set)
        rt_error_set(&ep->error, code, msg);
    pthread_mutex_unlock(&ep->lock);
}

/* What an endpoint is built from and owns (swapped as a whole on a change). */
static void ep_content_free(fp_rt *rt, rt_endpoint *ep)
{
    rt_config_free(rt->conn, FP_CFG_ENDPOINT, ep->pub.config);
    ep->pub.config = NULL;
    json_decref(ep->device_doc);
    json_decref(ep->config_doc);
    ep->device_doc = ep->config_doc = NULL;
    fp_free(ep->canon);
    ep->canon = NULL;
    rt_secrets_free(ep->sec);
    ep->sec = NULL;
}

static void ep_swap_content(rt_endpoint *a, rt_endpoint *b)
{
    fp_endpoint tp = a->pub;
    a->pub = b->pub;
    b->pub = tp;
    a->pub.ns = a->ns;
    b->pub.ns = b->ns;
#define SWAP(f)                                                                                    \
    do {                                                                                           \
        __typeof__(a->f) t_ = a->f;                                                                \
        a->f = b->f;                                                                               \
        b->f = t_;                                                                                 \
    } while (0)
    SWAP(canon);
    SWAP(device_doc);
    SWAP(config_doc);
    SWAP(device_version);
    SWAP(sec);
#undef SWAP
}

static void ep_free(fp_rt *rt, rt_endpoint *ep)
{
    if (!ep)
        return;
    ep_content_free(rt, ep);
    pthread_mutex_destroy(&ep->lock);
    fp_free(ep->ns);
    fp_free(ep);
}

/* Build (not link, not start) the endpoint `name` of device_doc. Takes sec. */
static rt_endpoint *ep_build(fp_rt *rt, const char *ns, json_t *device_doc, const char *name,
                             rt_secrets *sec)
{
    rt_endpoint *ep = fp_calloc(1, sizeof *ep);
    if (!ep) {
        rt_secrets_free(sec);
        return NULL;
    }
    ep->rt = rt;
    pthread_mutex_init(&ep->lock, NULL);
    atomic_init(&ep->status_dirty, false);
    ep->ns = fp_strdup(ns);
    ep->sec = sec ? sec : fp_calloc(1, sizeof *ep->sec);
    ep->device_doc = json_incref(device_doc);
    if (!ep->ns || !ep->sec) {
        ep_free(rt, ep);
        return NULL;
    }
    const json_t *props = json_object_get(device_doc, "properties");
    json_t *inbound = json_object_get(json_object_get(props, "endpoints"), "inbound");
    void *it = json_object_iter_at(inbound, name);
    const json_t *ep_json = it ? json_object_iter_value(it) : NULL;

    ep->pub.ns = ep->ns;
    ep->pub.device = rt_jstr_or(device_doc, "name", "");
    ep->pub.name = it ? json_object_iter_key(it) : "";
    ep->pub.type = rt_jstr_or(ep_json, "endpointType", "");
    ep->pub.address = rt_jstr_or(ep_json, "address", "");
    ep->pub.source = rt_jstr_or(props, "externalDeviceId", ep->pub.device);
    ep->pub.device_doc = device_doc;
    ep->pub.username = ep->sec->username;
    ep->pub.password = ep->sec->password;
    ep->pub.cert_pem = ep->sec->cert;
    ep->pub.key_pem = ep->sec->key;
    ep->pub.intermediate_pem = ep->sec->intermediate;
    ep->pub.trust_list_pem = ep->sec->trust;
    ep->device_version = json_integer_value(json_object_get(props, "version"));

    char digest[65];
    rt_secrets_digest(ep->sec, digest);
    json_t *c = json_object();
    json_object_set_new(c, "endpoint", rt_jref(ep_json));
    json_object_set_new(c, "device", json_string(ep->pub.device));
    json_object_set_new(c, "source", json_string(ep->pub.source));
    json_object_set_new(c, "secrets", json_string(digest));
    ep->canon = rt_canon_of(c);
    json_decref(c);

    char label[300], err[700];
    if (!ep_json) {
        snprintf(err, sizeof err, "device %s has no inbound endpoint %s", ep->pub.device, name);
        ep_error_set(ep, "InvalidConfiguration", err);
    }
    const char *method = rt_jstr(json_object_get(ep_json, "authentication"), "method");
    if (!method || !strcasecmp(method, "Anonymous"))
        ep->pub.auth = FP_AUTH_ANONYMOUS;
    else if (!strcasecmp(method, "UsernamePassword"))
        ep->pub.auth = FP_AUTH_USERNAME_PASSWORD;
    else if (!strcasecmp(method, "Certificate"))
        ep->pub.auth = FP_AUTH_CERTIFICATE;
    else {
        snprintf(err, sizeof err,
                 "endpoints.inbound.%s.authentication.method: unknown method \"%s\" (Anonymous, "
                 "UsernamePassword or Certificate)",
                 ep->pub.name, method);
        ep_error_set(ep, "InvalidConfiguration", err);
    }
    if (ep->sec->error.set)
        ep_error_set(ep, ep->sec->error.code, ep->sec->error.message);

    snprintf(label, sizeof label, "endpoints.inbound.%s.additionalConfiguration", ep->pub.name);
    ep->config_doc = rt_config_parse(ep_json, "additionalConfiguration", label, err, sizeof err);
    if (!ep->config_doc) {
        ep_error_set(ep, "InvalidConfiguration", err);
        ep->config_doc = json_object();
    } else {
        rt_cfg_level chain[1] = {{ep->config_doc, label}};
        if (rt_config_fill(rt->conn, FP_CFG_ENDPOINT, chain, 1, &ep->pub.config, err, sizeof err) !=
            0)
            ep_error_set(ep, "InvalidConfiguration", err);
    }
    ep->pub.config_json = ep->config_doc;
    if (!ep->canon || !ep->config_doc) {
        ep_free(rt, ep);
        return NULL;
    }
    return ep;
}

static void ep_log_error(rt_endpoint *ep)
{
    pthread_mutex_lock(&ep->lock);
    if (ep->error.set)
        fp_log_warn("runtime", "endpoint %s/%s/%s not started: %s: %s", ep->ns, ep->pub.device,
                    ep->pub.name, ep->error.code, ep->error.message);
    pthread_mutex_unlock(&ep->lock);
}

/* ---- assets
 * ---------------------------------------------------------------------------------------- */

static const char *const DEF_CFG_KEYS[4] = {
    "defaultDatasetsConfiguration",
    "defaultEventsConfiguration",
    "defaultStreamsConfiguration",
    "defaultManagementGroupsConfiguration",
};

/* Apply doc to the asset (on the strand): rebuild its children, diff, go live, start. */
static void asset_apply(fp_rt *rt, rt_asset *as, json_t *doc)
{
    const json_t *props = json_object_get(doc, "properties");
    json_t *def_cfg[4] = {NULL, NULL, NULL, NULL};
    char err[700] = "";
    bool bad = false;
    for (int i = 0; i < 4; i++) {
        def_cfg[i] = rt_config_parse(props, DEF_CFG_KEYS[i], DEF_CFG_KEYS[i], err, sizeof err);
        if (!def_cfg[i]) {
            bad = true;
            def_cfg[i] = json_object();
            break;
        }
    }
    for (int i = 0; i < 4; i++)
        if (!def_cfg[i])
            def_cfg[i] = json_object();

    kids nk;
    memset(&nk, 0, sizeof nk);
    const char *name = rt_jstr_or(doc, "name", "");
    build_ctx b = {
        .rt = rt,
        .as = as,
        .doc = doc,
        .props = props,
        .asset_name = name,
        .subject = rt_jstr_or(props, "externalAssetId", name),
        .ep_source = as->ep->pub.source,
        .def_cfg = def_cfg,
    };
    if (!bad)
        rt_kids_build(&b, &nk);
    else
        fp_log_warn("runtime", "asset %s/%s: %s", as->ns, name, err);

    asset_diff(rt, as, &nk);

    /* The document goes live; children keep their own references to their parts. */
    json_incref(doc);
    pthread_mutex_lock(&as->lock);
    json_t *old_doc = as->doc;
    json_t *old_cfg[4];
    memcpy(old_cfg, as->def_cfg, sizeof old_cfg);
    memcpy(as->def_cfg, def_cfg, sizeof def_cfg);
    as->doc = doc;
    as->pub.doc = doc;
    as->pub.name = name;
    as->pub.subject = b.subject;
    as->version = json_integer_value(json_object_get(props, "version"));
    if (bad) {
        rt_error_set(&as->config_error, "InvalidConfiguration", err);
    } else {
        rt_error_set(&as->config_error, NULL, NULL);
    }
    pthread_mutex_unlock(&as->lock);
    json_decref(old_doc);
    for (int i = 0; i < 4; i++)
        json_decref(old_cfg[i]);

    if (as->ep->started && asset_start_kids(rt, as) > 0)
        ep_schedule_retry(as->ep);
    rt_status_asset_dirty(as);
}

static void asset_free(fp_rt *rt, rt_asset *as)
{
    kids cur;
    asset_kids(as, &cur);
    rt_kids_free(rt, &cur);
    json_decref(as->doc);
    for (int i = 0; i < 4; i++)
        json_decref(as->def_cfg[i]);
    pthread_mutex_destroy(&as->lock);
    fp_free(as->ns);
    fp_free(as);
}

/* Remove the children (reverse order) and cancel the asset's timers (on the strand). */
static void asset_teardown(fp_rt *rt, rt_asset *as)
{
    asset_stop_kids(rt, as);
    rt_timers_cancel_asset(&as->pub);
}

/* ---- what the sync thread calls
 * -------------------------------------------------------------------- */

rt_endpoint *rt_model_endpoint_find(fp_rt *rt, const char *ns, const char *device, const char *name)
{
    rt_endpoint *found = NULL;
    pthread_mutex_lock(&rt->lock);
    for (rt_endpoint *ep = rt->endpoints; ep && !found; ep = ep->next)
        if (!strcmp(ep->ns, ns) && !strcmp(ep->pub.device, device) && !strcmp(ep->pub.name, name))
            found = ep;
    pthread_mutex_unlock(&rt->lock);
    return found;
}

rt_asset *rt_model_asset_find(fp_rt *rt, const char *ns, const char *name)
{
    rt_asset *found = NULL;
    pthread_mutex_lock(&rt->lock);
    for (rt_endpoint *ep = rt->endpoints; ep && !found; ep = ep->next)
        for (rt_asset *as = ep->assets; as && !found; as = as->next)
            if (!strcmp(as->ns, ns) && !strcmp(as->pub.name, name))
                found = as;
    pthread_mutex_unlock(&rt->lock);
    return found;
}

static void ep_add_run(void *arg)
{
    ep_start_pending(arg);
}

rt_endpoint *rt_model_endpoint_add(fp_rt *rt, const char *ns, json_t *device_doc, const char *name,
                                   rt_secrets *sec)
{
    rt_endpoint *ep = ep_build(rt, ns, device_doc, name, sec);
    if (!ep)
        return NULL;
    ep->strand = rt_strand_new(rt);
    if (!ep->strand) {
        ep_free(rt, ep);
        return NULL;
    }
    pthread_mutex_lock(&rt->lock);
    rt_endpoint **pp = &rt->endpoints;
    while (*pp)
        pp = &(*pp)->next;
    *pp = ep;
    pthread_mutex_unlock(&rt->lock);
    fp_log_info("runtime", "endpoint %s/%s/%s (%s %s) appeared", ep->ns, ep->pub.device,
                ep->pub.name, ep->pub.type, ep->pub.address);
    ep_log_error(ep);
    rt_strand_run(ep->strand, ep_add_run, ep);
    rt_status_endpoint_dirty(ep);
    return ep;
}

typedef struct ep_change_ctx {
    rt_endpoint *ep;
    rt_endpoint *nw; /* built from the new document; gets the old content */
} ep_change_ctx;

static void ep_stop_all_kids(rt_endpoint *ep)
{
    rt_asset **v;
    size_t n = ep_assets(ep, &v);
    for (size_t i = n; i-- > 0;)
        asset_stop_kids(ep->rt, v[i]);
    fp_free(v);
}

static void ep_change_run(void *arg)
{
    ep_change_ctx *cx = arg;
    rt_endpoint *ep = cx->ep, *nw = cx->nw;
    fp_rt *rt = ep->rt;
    const fp_connector *c = rt->conn;

    bool update_failed = false;
    pthread_mutex_lock(&nw->lock);
    rt_error nerr = nw->error;
    pthread_mutex_unlock(&nw->lock);

    if (ep->started && c->endpoint_update && !nerr.set) {
        fp_endpoint old_pub = ep->pub; /* its strings live in nw after the swap */
        pthread_mutex_lock(&rt->lock);
        ep_swap_content(ep, nw);
        ep->pub.user = old_pub.user;
        pthread_mutex_unlock(&rt->lock);
        if (c->endpoint_update(&ep->pub, &old_pub) != 0) {
            fp_log_warn("runtime",
                        "endpoint %s/%s/%s: endpoint_update failed; adding it again "
                        "later",
                        ep->ns, ep->pub.device, ep->pub.name);
            /* The connector's state is released once, through the usual removes, before
             * the add is retried from nothing (an add over a kept `user` would leak it). */
            ep_stop_all_kids(ep);
            if (c->endpoint_remove)
                c->endpoint_remove(&ep->pub);
            ep->pub.user = NULL;
            rt_timers_cancel_endpoint(&ep->pub);
            rt_watches_cancel_endpoint(&ep->pub);
            ep->started = false;
            health_failed(&ep->lock, &ep->health, "endpoint_update");
            update_failed = true;
        }
    } else {
        if (ep->started) {
            ep_stop_all_kids(ep);
            if (c->endpoint_remove)
                c->endpoint_remove(&ep->pub);
            ep->started = false;
            rt_timers_cancel_endpoint(&ep->pub);
            rt_watches_cancel_endpoint(&ep->pub);
        }
        pthread_mutex_lock(&rt->lock);
        ep_swap_content(ep, nw);
        ep->pub.user = NULL;
        pthread_mutex_unlock(&rt->lock);
    }
    pthread_mutex_lock(&ep->lock);
    ep->error = nerr;
    pthread_mutex_unlock(&ep->lock);
    ep_log_error(ep);

    /* The children follow (their source comes from the endpoint). */
    rt_asset **v;
    size_t n = ep_assets(ep, &v);
    for (size_t i = 0; i < n; i++)
        if (v[i]->doc)
            asset_apply(rt, v[i], v[i]->doc);
    fp_free(v);
    if (update_failed)
        ep_schedule_retry(ep); /* the add, after the back-off */
    else
        ep_start_pending(ep);
    rt_status_endpoint_dirty(ep);
}

void rt_model_endpoint_change(rt_endpoint *ep, json_t *device_doc, rt_secrets *sec)
{
    fp_rt *rt = ep->rt;
    rt_endpoint *nw = ep_build(rt, ep->ns, device_doc, ep->pub.name, sec);
    if (!nw)
        return;
    bool same = !strcmp(nw->canon, ep->canon);
    if (same) {
        pthread_mutex_lock(&ep->lock);
        pthread_mutex_lock(&nw->lock);
        same = ep->error.set == nw->error.set &&
               (!ep->error.set || !strcmp(ep->error.message, nw->error.message));
        pthread_mutex_unlock(&nw->lock);
        pthread_mutex_unlock(&ep->lock);
    }
    if (!same) {
        fp_log_info("runtime", "endpoint %s/%s/%s changed", ep->ns, ep->pub.device, ep->pub.name);
        ep_change_ctx cx = {ep, nw};
        rt_strand_run(ep->strand, ep_change_run, &cx);
    }
    ep_free(rt, nw);
}

static void ep_teardown_run(void *arg)
{
    rt_endpoint *ep = arg;
    ep_cancel_retry(ep);
    rt_asset **v;
    size_t n = ep_assets(ep, &v);
    for (size_t i = n; i-- > 0;)
        asset_teardown(ep->rt, v[i]);
    fp_free(v);
    if (ep->started && ep->rt->conn->endpoint_remove)
        ep->rt->conn->endpoint_remove(&ep->pub);
    ep->started = false;
    rt_timers_cancel_endpoint(&ep->pub);
    rt_watches_cancel_endpoint(&ep->pub);
}

void rt_model_endpoint_remove(rt_endpoint *ep)
{
    fp_rt *rt = ep->rt;
    atomic_store(&ep->closing, true);
    rt_strand_run(ep->strand, ep_teardown_run, ep);
    pthread_mutex_lock(&rt->lock);
    for (rt_endpoint **pp = &rt->endpoints; *pp; pp = &(*pp)->next)
        if (*pp == ep) {
            *pp = ep->next;
            break;
        }
    rt_asset *assets = ep->assets;
    ep->assets = NULL;
    pthread_mutex_unlock(&rt->lock);
    fp_log_info("runtime", "endpoint %s/%s/%s removed", ep->ns, ep->pub.device, ep->pub.name);
    rt_strand_free(ep->strand);
    /* The status writer lets go of them before they are freed. */
    while (assets) {
        rt_asset *next = assets->next;
        rt_status_asset_forget(assets);
        asset_free(rt, assets);
        assets = next;
    }
    rt_status_endpoint_forget(ep);
    ep_free(rt, ep);
}

typedef struct asset_ctx {
    rt_asset *as;
    json_t *doc;
} asset_ctx;

static void asset_apply_run(void *arg)
{
    asset_ctx *cx = arg;
    asset_apply(cx->as->ep->rt, cx->as, cx->doc);
}

rt_asset *rt_model_asset_set(rt_endpoint *ep, json_t *doc)
{
    fp_rt *rt = ep->rt;
    const char *name = rt_jstr_or(doc, "name", "");
    rt_asset *as = NULL;
    pthread_mutex_lock(&rt->lock);
    for (rt_asset *a = ep->assets; a && !as; a = a->next)
        if (!strcmp(a->pub.name, name))
            as = a;
    pthread_mutex_unlock(&rt->lock);

    if (!as) {
        as = fp_calloc(1, sizeof *as);
        if (!as)
            return NULL;
        as->ns = fp_strdup(ep->ns);
        if (!as->ns) {
            fp_free(as);
            return NULL;
        }
        pthread_mutex_init(&as->lock, NULL);
        atomic_init(&as->status_dirty, false);
        as->ep = ep;
        as->pub.endpoint = &ep->pub;
        as->pub.ns = as->ns;
        /* Named before it is linked: the status writer may see it at once. */
        as->doc = json_incref(doc);
        as->pub.doc = doc;
        as->pub.name = name;
        as->pub.subject = rt_jstr_or(json_object_get(doc, "properties"), "externalAssetId", name);
        pthread_mutex_lock(&rt->lock);
        rt_asset **pp = &ep->assets;
        while (*pp)
            pp = &(*pp)->next;
        *pp = as;
        pthread_mutex_unlock(&rt->lock);
        fp_log_info("runtime", "asset %s/%s on %s/%s appeared", as->ns, name, ep->pub.device,
                    ep->pub.name);
    }
    asset_ctx cx = {as, doc};
    rt_strand_run(ep->strand, asset_apply_run, &cx);
    return as;
}

static void asset_teardown_run(void *arg)
{
    rt_asset *as = arg;
    asset_teardown(as->ep->rt, as);
}

void rt_model_asset_remove(rt_asset *as)
{
    rt_endpoint *ep = as->ep;
    fp_rt *rt = ep->rt;
    rt_strand_run(ep->strand, asset_teardown_run, as);
    pthread_mutex_lock(&rt->lock);
    for (rt_asset **pp = &ep->assets; *pp; pp = &(*pp)->next)
        if (*pp == as) {
            *pp = as->next;
            break;
        }
    pthread_mutex_unlock(&rt->lock);
    fp_log_info("runtime", "asset %s/%s removed", as->ns, as->pub.name);
    rt_status_asset_forget(as);
    asset_free(rt, as);
}

void rt_model_shutdown(fp_rt *rt)
{
    for (;;) {
        pthread_mutex_lock(&rt->lock);
        rt_endpoint *last = rt->endpoints;
        while (last && last->next)
            last = last->next;
        pthread_mutex_unlock(&rt->lock);
        if (!last)
            break;
        rt_model_endpoint_remove(last);
    }
}
