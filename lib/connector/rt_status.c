/*
 * rt_status.c - errors and health, and the thread that writes them to the registry.
 *
 * Connectors report health from any thread and often (every poll); the registry should
 * see a resource's status change at most a few times per second and never the same body
 * twice. So a report only updates memory and marks the asset or endpoint dirty; the
 * writer thread wakes every 100 ms, builds the status of what is dirty and was not
 * written in the last 250 ms, and writes it when the body differs from the last one it
 * wrote. A failed write is retried with back-off (0.5 s doubling to 30 s).
 *
 * Lifetime. The writer builds a body under rt->lock and the asset's lock, then writes it
 * with no lock held. To keep the object alive during that write it sets the object's
 * status_inflight (under the status lock); rt_status_asset_forget() marks the object
 * forgotten and waits until no write of it is in flight. The model frees an asset only
 * after forget returned, so the writer never touches freed memory, and nothing more is
 * written for a removed asset.
 *
 * The same file runs the schema registrar: publish marks a schema dirty and wakes it; it
 * waits for 500 ms of quiet (a new dataset's first messages change the schema several
 * times) and then registers what changed, off the publish path.
 *
 * Once a second the writer also looks at the MQTT queue: when messages were dropped from
 * a full queue, every endpoint shows runtime health Unavailable "QueueFull" (instead of
 * the connector's own) until the queue has stayed below 90 % of its size for 10 s.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fp_alloc.h"
#include "fp_cond.h"
#include "fp_log.h"
#include "fp_time.h"
#include "rt_internal.h"

#define MOD "status"
#define COALESCE_MS 250
#define TICK_MS 100
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
#define SCHEMA_QUIET_MS 500
#define SCHEMA_RETRY_MS 5000
#define QUEUE_CLEAR_MS 10000
#define N_BUCKETS 512

/* What was last written for one resource (keyed "a/<ns>/<asset>" or "e/<ns>/<dev>/<ep>"). */
typedef struct written {
    char *key;
    char *body; /* last body written, NULL before the first */
    int64_t last_ms, next_try_ms, backoff_ms;
    char transition[40]; /* config.lastTransitionTime */
    int64_t cfg_version;
    char cfg_code[64];
    struct written *next;
} written;

struct rt_status {
    fp_rt *rt;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* wakes the writer (stop) */
    pthread_cond_t done_cv; /* a write finished (forget waits on it) */
    pthread_t writer;
    bool writer_started;
    atomic_bool kick_all;
    bool stop;
    written *buckets[N_BUCKETS];
    /* registrar */
    pthread_mutex_t smu;
    pthread_cond_t scv;
    pthread_t registrar;
    bool registrar_started;
    bool sstop;
    bool swake;
    int64_t swake_ms;
    /* queue watch */
    uint64_t last_dropped;
    uint64_t last_write_failed; /* the queue's failed appends when last seen */
    bool disk_error;            /* endpoints say the disk queue cannot be written */
    bool queue_full;
    int64_t below_since_ms;
};

/* ---- health and errors ---------------------------------------------------------------------- */

void rt_health_set(rt_health *h, bool available, const char *reason, const char *message)
{
    if (!reason)
        reason = "";
    if (!message)
        message = "";
    if (h->set && h->available == available && !strncmp(h->reason, reason, sizeof h->reason - 1) &&
        !strncmp(h->message, message, sizeof h->message - 1))
        return;
    h->set = true;
    h->available = available;
    snprintf(h->reason, sizeof h->reason, "%s", reason);
    snprintf(h->message, sizeof h->message, "%s", message);
    fp_time_now_rfc3339(h->time);
    h->version++;
}

void rt_error_set(rt_error *e, const char *code, const char *message)
{
    if (!code) {
        memset(e, 0, sizeof *e);
        return;
    }
    e->set = true;
    snprintf(e->code, sizeof e->code, "%s", code);
    snprintf(e->message, sizeof e->message, "%s", message ? message : "");
}

int rt_error_set_alloc(rt_error **slot, const char *code, const char *message)
{
    if (!code) {
        fp_free(*slot);
        *slot = NULL;
        return 0;
    }
    if (!*slot) {
        *slot = fp_calloc(1, sizeof **slot);
        if (!*slot)
            return -1;
    }
    rt_error_set(*slot, code, message);
    return 0;
}

json_t *rt_health_json(const rt_health *h)
{
    json_t *o;

    if (!h->set)
        return NULL;
    o = json_pack("{s:I, s:s, s:s}", "version", (json_int_t)h->version, "status",
                  h->available ? "Available" : "Unavailable", "lastUpdateTime", h->time);
    if (o && h->message[0])
        json_object_set_new(o, "message", json_string(h->message));
    if (o && h->reason[0])
        json_object_set_new(o, "reasonCode", json_string(h->reason));
    return o;
}

static json_t *error_json(const rt_error *e)
{
    return e->set ? json_pack("{s:s, s:s}", "code", e->code, "message", e->message) : NULL;
}

/* Set (or with NULL value, skip) a member. */
static void set_opt(json_t *o, const char *key, json_t *value)
{
    if (value)
        json_object_set_new(o, key, value);
}

/* The public health calls: format, store, mark dirty. */
static void health_vset(rt_health *h, pthread_mutex_t *lock, bool available, const char *reason,
                        const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
static void health_vset(rt_health *h, pthread_mutex_t *lock, bool available, const char *reason,
                        const char *fmt, va_list ap)
{
    char msg[512] = "";

    if (fmt)
        vsnprintf(msg, sizeof msg, fmt, ap);
    pthread_mutex_lock(lock);
    rt_health_set(h, available, reason, msg);
    h->by_runtime = false;
    pthread_mutex_unlock(lock);
}

void fp_endpoint_health(fp_endpoint *ep, bool available, const char *reason_code, const char *fmt,
                        ...)
{
    rt_endpoint *e;
    va_list ap;

    if (!ep)
        return;
    e = RT_OF(ep, rt_endpoint, pub);
    va_start(ap, fmt);
    health_vset(&e->health, &e->lock, available, reason_code, fmt, ap);
    va_end(ap);
    rt_status_endpoint_dirty(e);
}

static void out_health(rt_out *out, fp_asset *as, bool available, const char *reason,
                       const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
static void out_health(rt_out *out, fp_asset *as, bool available, const char *reason,
                       const char *fmt, va_list ap)
{
    health_vset(&out->health, &out->lock, available, reason, fmt, ap);
    if (as)
        rt_status_asset_dirty(RT_OF(as, rt_asset, pub));
}

void fp_dataset_health(fp_dataset *ds, bool available, const char *reason_code, const char *fmt,
                       ...)
{
    va_list ap;

    if (!ds)
        return;
    va_start(ap, fmt);
    out_health(&RT_OF(ds, rt_dataset, pub)->out, ds->asset, available, reason_code, fmt, ap);
    va_end(ap);
}

void fp_event_health(fp_event *ev, bool available, const char *reason_code, const char *fmt, ...)
{
    rt_event_group *g;
    size_t idx;
    va_list ap;

    if (!ev || !ev->group)
        return;
    g = RT_OF(ev->group, rt_event_group, pub);
    idx = (size_t)(ev - g->pub.events);
    if (idx >= g->pub.n_events || !g->ev_out)
        return;
    va_start(ap, fmt);
    out_health(&g->ev_out[idx], g->pub.asset, available, reason_code, fmt, ap);
    va_end(ap);
}

void fp_event_group_health(fp_event_group *eg, bool available, const char *reason_code,
                           const char *fmt, ...)
{
    va_list ap;

    if (!eg)
        return;
    va_start(ap, fmt);
    out_health(&RT_OF(eg, rt_event_group, pub)->out, eg->asset, available, reason_code, fmt, ap);
    va_end(ap);
}

void fp_stream_health(fp_stream *st, bool available, const char *reason_code, const char *fmt, ...)
{
    va_list ap;

    if (!st)
        return;
    va_start(ap, fmt);
    out_health(&RT_OF(st, rt_stream, pub)->out, st->asset, available, reason_code, fmt, ap);
    va_end(ap);
}

void fp_action_health(fp_action *ac, bool available, const char *reason_code, const char *fmt, ...)
{
    rt_action *a;
    va_list ap;

    if (!ac)
        return;
    a = RT_OF(ac, rt_action, pub);
    va_start(ap, fmt);
    health_vset(&a->health, &a->lock, available, reason_code, fmt, ap);
    va_end(ap);
    if (ac->asset)
        rt_status_asset_dirty(RT_OF(ac->asset, rt_asset, pub));
}

void fp_datapoint_error(fp_datapoint *dp, const char *code, const char *fmt, ...)
{
    rt_dataset *d;
    size_t idx;
    char msg[512] = "";
    va_list ap;

    if (!dp || !dp->dataset)
        return;
    d = RT_OF(dp->dataset, rt_dataset, pub);
    idx = (size_t)(dp - d->pub.points);
    if (idx >= d->pub.n_points || !d->point_errors)
        return;
    if (fmt) {
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_lock(&d->out.lock);
    rt_error_set_alloc(&d->point_errors[idx],
                       fmt ? (code && *code ? code : "DataPointError") : NULL, msg);
    pthread_mutex_unlock(&d->out.lock);
    if (d->pub.asset)
        rt_status_asset_dirty(RT_OF(d->pub.asset, rt_asset, pub));
}

/* ---- status documents ----------------------------------------------------------------------- */

/* Entry of one publishing object: name, messageSchemaReference, error, health. */
static json_t *out_entry(rt_out *out, const char *ns, const char *name, rt_error *const *points,
                         const fp_datapoint *pts, size_t n_points)
{
    json_t *o = json_pack("{s:s}", "name", name);
    json_t *details = NULL;
    size_t n_bad = 0;

    if (!o)
        return NULL;
    pthread_mutex_lock(&out->lock);
    if (out->schema_version > 0 && out->schema_name) {
        char v[24];
        snprintf(v, sizeof v, "%lld", (long long)out->schema_version);
        json_object_set_new(o, "messageSchemaReference",
                            json_pack("{s:s, s:s, s:s}", "schemaRegistryNamespace", ns,
                                      "schemaName", out->schema_name, "schemaVersion", v));
    }
    for (size_t i = 0; points && i < n_points; i++) {
        if (!points[i] || !points[i]->set)
            continue;
        if (!details)
            details = json_array();
        json_array_append_new(details,
                              json_pack("{s:s, s:s, s:s}", "code", points[i]->code, "message",
                                        points[i]->message, "target", pts[i].name));
        n_bad++;
    }
    if (out->error.set || n_bad) {
        json_t *e;
        char msg[160];
        if (out->error.set) {
            e = error_json(&out->error);
        } else {
            snprintf(msg, sizeof msg, "%zu of %zu data points have errors", n_bad, n_points);
            e = json_pack("{s:s, s:s}", "code", "DataPointError", "message", msg);
        }
        if (e && details)
            json_object_set_new(e, "details", details);
        else
            json_decref(details);
        set_opt(o, "error", e);
    }
    set_opt(o, "health", rt_health_json(&out->health));
    pthread_mutex_unlock(&out->lock);
    return o;
}

json_t *rt_status_asset_doc(rt_asset *as, const char *transition_time)
{
    const char *ns = as->pub.ns ? as->pub.ns : "";
    json_t *doc = json_object();
    json_t *cfg = json_pack("{s:I}", "version", (json_int_t)as->version);

    if (!doc || !cfg) {
        json_decref(doc);
        json_decref(cfg);
        return NULL;
    }
    if (transition_time && *transition_time)
        json_object_set_new(cfg, "lastTransitionTime", json_string(transition_time));
    set_opt(cfg, "error", error_json(&as->config_error));
    json_object_set_new(doc, "config", cfg);

    if (as->pub.n_datasets) {
        json_t *arr = json_array();
        for (size_t i = 0; i < as->pub.n_datasets; i++) {
            rt_dataset *d = RT_OF(as->pub.datasets[i], rt_dataset, pub);
            json_array_append_new(arr, out_entry(&d->out, ns, d->pub.name, d->point_errors,
                                                 d->pub.points, d->pub.n_points));
        }
        json_object_set_new(doc, "datasets", arr);
    }
    if (as->pub.n_event_groups) {
        json_t *arr = json_array();
        for (size_t i = 0; i < as->pub.n_event_groups; i++) {
            rt_event_group *g = RT_OF(as->pub.event_groups[i], rt_event_group, pub);
            json_t *events = json_array();
            /* The group's own entry carries its health and error; messageSchemaReference
             * belongs to events in the model, so the group's is left out. */
            json_t *ge = out_entry(&g->out, ns, g->pub.name, NULL, NULL, 0);
            json_object_del(ge, "messageSchemaReference");
            for (size_t j = 0; g->ev_out && j < g->pub.n_events; j++)
                json_array_append_new(
                    events, out_entry(&g->ev_out[j], ns, g->pub.events[j].name, NULL, NULL, 0));
            json_object_set_new(ge, "events", events);
            json_array_append_new(arr, ge);
        }
        json_object_set_new(doc, "eventGroups", arr);
    }
    if (as->pub.n_streams) {
        json_t *arr = json_array();
        for (size_t i = 0; i < as->pub.n_streams; i++) {
            rt_stream *s = RT_OF(as->pub.streams[i], rt_stream, pub);
            json_t *se = out_entry(&s->out, ns, s->pub.name, NULL, NULL, 0);
            json_object_del(se, "messageSchemaReference");
            json_array_append_new(arr, se);
        }
        json_object_set_new(doc, "streams", arr);
    }
    if (as->pub.n_actions) {
        json_t *groups = json_array();
        for (size_t i = 0; i < as->pub.n_actions; i++) {
            rt_action *a = RT_OF(as->pub.actions[i], rt_action, pub);
            const char *gname = a->pub.group ? a->pub.group : "";
            json_t *g = NULL, *ae;
            size_t k;
            for (k = 0; k < json_array_size(groups); k++) {
                json_t *c = json_array_get(groups, k);
                if (!strcmp(json_string_value(json_object_get(c, "name")), gname)) {
                    g = c;
                    break;
                }
            }
            if (!g) {
                g = json_pack("{s:s, s:[]}", "name", gname, "actions");
                json_array_append_new(groups, g);
            }
            ae = json_pack("{s:s}", "name", a->pub.name);
            pthread_mutex_lock(&a->lock);
            set_opt(ae, "error", error_json(&a->error));
            set_opt(ae, "health", rt_health_json(&a->health));
            pthread_mutex_unlock(&a->lock);
            json_array_append_new(json_object_get(g, "actions"), ae);
        }
        json_object_set_new(doc, "managementGroups", groups);
    }
    return doc;
}

json_t *rt_status_endpoint_doc(rt_endpoint *ep)
{
    json_t *entry = json_object(), *doc;

    pthread_mutex_lock(&ep->lock);
    /* null removes an error the merge patch wrote before. */
    json_object_set_new(entry, "error", ep->error.set ? error_json(&ep->error) : json_null());
    set_opt(entry, "health",
            rt_health_json(ep->runtime_health.set ? &ep->runtime_health : &ep->health));
    pthread_mutex_unlock(&ep->lock);
    doc = json_pack("{s:{s:I}, s:{s:{s:o}}}", "config", "version", (json_int_t)ep->device_version,
                    "endpoints", "inbound", ep->pub.name ? ep->pub.name : "", entry);
    return doc;
}

/* ---- dirty marks ---------------------------------------------------------------------------- */

void rt_status_asset_dirty(rt_asset *as)
{
    if (as)
        atomic_store(&as->status_dirty, true);
}

void rt_status_endpoint_dirty(rt_endpoint *ep)
{
    if (ep)
        atomic_store(&ep->status_dirty, true);
}

void rt_status_kick(fp_rt *rt)
{
    if (rt && rt->status)
        atomic_store(&rt->status->kick_all, true);
}

/* ---- what was written ------------------------------------------------------------------------ */

static unsigned hash_key(const char *k)
{
    unsigned h = 5381;
    while (*k)
        h = h * 33 + (unsigned char)*k++;
    return h % N_BUCKETS;
}

/* Find or (create) the entry for key; caller holds st->mu. */
static written *written_get(struct rt_status *st, const char *key, bool create)
{
    unsigned b = hash_key(key);
    written *w;

    for (w = st->buckets[b]; w; w = w->next)
        if (!strcmp(w->key, key))
            return w;
    if (!create)
        return NULL;
    w = fp_calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->key = fp_strdup(key);
    if (!w->key) {
        fp_free(w);
        return NULL;
    }
    w->cfg_version = -1;
    w->next = st->buckets[b];
    st->buckets[b] = w;
    return w;
}

static void written_drop(struct rt_status *st, const char *key)
{
    written **pp = &st->buckets[hash_key(key)];

    for (; *pp; pp = &(*pp)->next) {
        if (!strcmp((*pp)->key, key)) {
            written *w = *pp;
            *pp = w->next;
            fp_free(w->key);
            fp_free(w->body);
            fp_free(w);
            return;
        }
    }
}

static void asset_key(const rt_asset *as, char *k, size_t n)
{
    snprintf(k, n, "a/%s/%s", as->pub.ns ? as->pub.ns : "", as->pub.name ? as->pub.name : "");
}

static void endpoint_key(const rt_endpoint *ep, char *k, size_t n)
{
    snprintf(k, n, "e/%s/%s/%s", ep->pub.ns ? ep->pub.ns : "", ep->pub.device ? ep->pub.device : "",
             ep->pub.name ? ep->pub.name : "");
}

void rt_status_asset_forget(rt_asset *as)
{
    fp_rt *rt = fp_rt_get();
    struct rt_status *st = rt ? rt->status : NULL;
    char key[600];

    if (!as)
        return;
    if (!st) {
        as->status_forgotten = true;
        return;
    }
    asset_key(as, key, sizeof key);
    pthread_mutex_lock(&st->mu);
    as->status_forgotten = true;
    while (as->status_inflight)
        pthread_cond_wait(&st->done_cv, &st->mu);
    written_drop(st, key);
    pthread_mutex_unlock(&st->mu);
}

void rt_status_endpoint_forget(rt_endpoint *ep)
{
    fp_rt *rt = fp_rt_get();
    struct rt_status *st = rt ? rt->status : NULL;
    char key[600];

    if (!ep)
        return;
    if (!st) {
        ep->status_forgotten = true;
        return;
    }
    endpoint_key(ep, key, sizeof key);
    pthread_mutex_lock(&st->mu);
    ep->status_forgotten = true;
    while (ep->status_inflight)
        pthread_cond_wait(&st->done_cv, &st->mu);
    written_drop(st, key);
    pthread_mutex_unlock(&st->mu);
}

/* ---- the writer ------------------------------------------------------------------------------ */

/* One write decided under the locks, carried out without them. */
typedef struct job {
    char key[600];
    char path[700];
    const char *method;
    char *body;
    rt_asset *as; /* kept alive by status_inflight */
    rt_endpoint *ep;
    struct job *next;
} job;

/* May this resource be written now? (caller holds st->mu) */
static bool due(struct rt_status *st, const char *key, int64_t now, bool final)
{
    written *w = written_get(st, key, false);

    if (!w || final)
        return true;
    return now - w->last_ms >= COALESCE_MS && now >= w->next_try_ms;
}

/* Build the jobs for everything dirty and due. */
static job *collect_jobs(struct rt_status *st, bool final)
{
    fp_rt *rt = st->rt;
    job *jobs = NULL, **tail = &jobs;
    int64_t now = fp_mono_ms();
    bool all = atomic_exchange(&st->kick_all, false);

    pthread_mutex_lock(&rt->lock);
    for (rt_endpoint *ep = rt->endpoints; ep; ep = ep->next) {
        char key[600];
        endpoint_key(ep, key, sizeof key);
        if (atomic_load(&ep->status_dirty)) {
            pthread_mutex_lock(&st->mu);
            bool go = !ep->status_forgotten && !ep->status_inflight && due(st, key, now, final);
            pthread_mutex_unlock(&st->mu);
            if (go) {
                json_t *doc = rt_status_endpoint_doc(ep);
                job *j = fp_calloc(1, sizeof *j);
                char *body = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
                json_decref(doc);
                if (j && body) {
                    atomic_store(&ep->status_dirty, false);
                    snprintf(j->key, sizeof j->key, "%s", key);
                    snprintf(j->path, sizeof j->path, "/api/v1/namespaces/%s/devices/%s/status",
                             ep->pub.ns, ep->pub.device);
                    j->method = "PATCH";
                    j->body = body;
                    j->ep = ep;
                    pthread_mutex_lock(&st->mu);
                    ep->status_inflight = true;
                    pthread_mutex_unlock(&st->mu);
                    *tail = j;
                    tail = &j->next;
                } else {
                    free(body);
                    fp_free(j);
                }
            }
        }
        for (rt_asset *as = ep->assets; as; as = as->next) {
            const char *tt;
            written *w;
            if (all)
                atomic_store(&as->status_dirty, true);
            if (!atomic_load(&as->status_dirty))
                continue;
            asset_key(as, key, sizeof key);
            pthread_mutex_lock(&st->mu);
            bool go = !as->status_forgotten && !as->status_inflight && due(st, key, now, final);
            w = go ? written_get(st, key, true) : NULL;
            /* config.lastTransitionTime: when the asset's version or config error last
             * changed, as this process saw it. */
            if (w && (w->cfg_version != as->version ||
                      strcmp(w->cfg_code, as->config_error.set ? as->config_error.code : ""))) {
                w->cfg_version = as->version;
                snprintf(w->cfg_code, sizeof w->cfg_code, "%s",
                         as->config_error.set ? as->config_error.code : "");
                fp_time_now_rfc3339(w->transition);
            }
            char transition[40] = "";
            if (w)
                snprintf(transition, sizeof transition, "%s", w->transition);
            pthread_mutex_unlock(&st->mu);
            if (!go)
                continue;
            tt = transition;
            pthread_mutex_lock(&as->lock);
            json_t *doc = rt_status_asset_doc(as, tt);
            pthread_mutex_unlock(&as->lock);
            job *j = fp_calloc(1, sizeof *j);
            char *body = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
            json_decref(doc);
            if (!j || !body) {
                free(body);
                fp_free(j);
                continue;
            }
            atomic_store(&as->status_dirty, false);
            snprintf(j->key, sizeof j->key, "%s", key);
            snprintf(j->path, sizeof j->path, "/api/v1/namespaces/%s/assets/%s/status", as->pub.ns,
                     as->pub.name);
            j->method = "PUT";
            j->body = body;
            j->as = as;
            pthread_mutex_lock(&st->mu);
            as->status_inflight = true;
            pthread_mutex_unlock(&st->mu);
            *tail = j;
            tail = &j->next;
        }
    }
    pthread_mutex_unlock(&rt->lock);
    return jobs;
}

static void run_job(struct rt_status *st, job *j)
{
    fp_rt *rt = st->rt;
    written *w;
    bool skip, ok = false;
    char err[512] = "";
    long http = 0;
    json_t *body = NULL, *answer = NULL;
    fp_status rc = FP_OK;

    pthread_mutex_lock(&st->mu);
    skip = j->as ? j->as->status_forgotten : j->ep->status_forgotten;
    w = skip ? NULL : written_get(st, j->key, true);
    if (w && w->body && !strcmp(w->body, j->body))
        skip = true; /* the registry has this already */
    pthread_mutex_unlock(&st->mu);

    if (!skip) {
        body = json_loads(j->body, 0, NULL);
        rc = rt->reg ? fpc_reg_request(rt->reg, j->method, j->path, body, &http, &answer, err,
                                       sizeof err)
                     : FP_ERR_UNAVAILABLE;
        ok = rc == FP_OK && http >= 200 && http < 300;
        if (!ok) {
            char *ans = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
            fp_log_warn(MOD, "%s %s failed: %s%s%s", j->method, j->path,
                        rc != FP_OK ? (err[0] ? err : fp_status_name(rc)) : "", ans ? ans : "",
                        rc == FP_OK && !ans ? "no answer body" : "");
            if (rc == FP_OK && http)
                fp_log_debug(MOD, "status write answered HTTP %ld", http);
            free(ans);
        }
        json_decref(body);
        json_decref(answer);
    }

    pthread_mutex_lock(&st->mu);
    bool forgotten = j->as ? j->as->status_forgotten : j->ep->status_forgotten;
    w = (!skip && !forgotten) ? written_get(st, j->key, true) : NULL;
    if (w) {
        int64_t now = fp_mono_ms();
        w->last_ms = now;
        if (ok) {
            fp_free(w->body);
            w->body = fp_strdup(j->body);
            w->backoff_ms = 0;
            w->next_try_ms = 0;
        } else {
            w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : BACKOFF_MIN_MS;
            if (w->backoff_ms > BACKOFF_MAX_MS)
                w->backoff_ms = BACKOFF_MAX_MS;
            w->next_try_ms = now + w->backoff_ms;
            /* Try again: it is dirty until written. */
            if (j->as)
                atomic_store(&j->as->status_dirty, true);
            else
                atomic_store(&j->ep->status_dirty, true);
        }
    }
    if (j->as)
        j->as->status_inflight = false;
    else
        j->ep->status_inflight = false;
    pthread_cond_broadcast(&st->done_cv);
    pthread_mutex_unlock(&st->mu);
}

static void write_dirty(struct rt_status *st, bool final)
{
    job *jobs = collect_jobs(st, final), *j;

    while ((j = jobs)) {
        jobs = j->next;
        run_job(st, j);
        free(j->body);
        fp_free(j);
    }
}

/* Set the runtime health of every endpoint (Unavailable with reason and msg), or clear it
 * when reason is NULL. */
static void endpoints_health(fp_rt *rt, const char *reason, const char *msg)
{
    pthread_mutex_lock(&rt->lock);
    for (rt_endpoint *ep = rt->endpoints; ep; ep = ep->next) {
        pthread_mutex_lock(&ep->lock);
        if (reason)
            rt_health_set(&ep->runtime_health, false, reason, msg);
        else
            ep->runtime_health.set = false;
        pthread_mutex_unlock(&ep->lock);
        rt_status_endpoint_dirty(ep);
    }
    pthread_mutex_unlock(&rt->lock);
}

/* Runtime health on every endpoint while the disk queue cannot be written (DiskFull on
 * ENOSPC or EDQUOT, QueueWriteFailed on other errors): messages are lost then, and the
 * queue logs it only once in a while. */
static bool watch_disk(struct rt_status *st, const fpc_mqtt_stats *s)
{
    if (s->write_failed > st->last_write_failed && s->write_errno) {
        bool full = s->write_errno == ENOSPC || s->write_errno == EDQUOT;
        char msg[200];
        snprintf(msg, sizeof msg, "%s: the disk queue cannot be written (%s); %llu messages lost",
                 full ? "disk full" : "disk error", strerror(s->write_errno),
                 (unsigned long long)s->write_failed);
        st->last_write_failed = s->write_failed;
        st->disk_error = true;
        endpoints_health(st->rt, full ? "DiskFull" : "QueueWriteFailed", msg);
        return true;
    }
    if (st->disk_error && !s->write_errno) {
        st->disk_error = false;
        endpoints_health(st->rt, NULL, NULL);
    }
    return st->disk_error;
}

/* Runtime health QueueFull on every endpoint while the disk queue drops messages. */
static void watch_queue(struct rt_status *st)
{
    fp_rt *rt = st->rt;
    fpc_mqtt_stats s;
    uint64_t max;
    int64_t now = fp_mono_ms();

    if (!rt->mqtt)
        return;
    fpc_mqtt_get_stats(rt->mqtt, &s);
    if (watch_disk(st, &s))
        return;
    max = rt->opt.mqtt.queue_max_bytes ? rt->opt.mqtt.queue_max_bytes : 64ull << 20;
    if (s.dropped > st->last_dropped) {
        char msg[160];
        snprintf(msg, sizeof msg, "disk queue full: %llu messages dropped (policy %s)",
                 (unsigned long long)s.dropped, rt->opt.mqtt.drop_newest ? "newest" : "oldest");
        st->last_dropped = s.dropped;
        st->queue_full = true;
        st->below_since_ms = 0;
        endpoints_health(rt, "QueueFull", msg);
        fp_log_warn(MOD, "%s", msg);
        return;
    }
    if (!st->queue_full)
        return;
    if ((double)s.queued_bytes >= 0.9 * (double)max) {
        st->below_since_ms = 0;
        return;
    }
    if (!st->below_since_ms) {
        st->below_since_ms = now;
        return;
    }
    if (now - st->below_since_ms < QUEUE_CLEAR_MS)
        return;
    st->queue_full = false;
    st->below_since_ms = 0;
    endpoints_health(rt, NULL, NULL);
    fp_log_info(MOD, "disk queue has room again (%llu of %llu bytes)",
                (unsigned long long)s.queued_bytes, (unsigned long long)max);
}

static void *writer_main(void *arg)
{
    struct rt_status *st = arg;
    int64_t last_queue = 0;

    for (;;) {
        bool stop;

        pthread_mutex_lock(&st->mu);
        if (!st->stop) {
            fp_cond_wait_ms(&st->cv, &st->mu, TICK_MS);
        }
        stop = st->stop;
        pthread_mutex_unlock(&st->mu);
        if (stop)
            break;
        if (fp_mono_ms() - last_queue >= 1000) {
            last_queue = fp_mono_ms();
            watch_queue(st);
        }
        write_dirty(st, false);
    }
    /* What is dirty now is written once more, coalescing and back-off aside. */
    write_dirty(st, true);
    return NULL;
}

/* ---- the schema registrar ------------------------------------------------------------------- */

void rt_schema_wake(fp_rt *rt)
{
    struct rt_status *st = rt ? rt->status : NULL;

    if (!st)
        return;
    pthread_mutex_lock(&st->smu);
    st->swake = true;
    st->swake_ms = fp_mono_ms();
    pthread_cond_signal(&st->scv);
    pthread_mutex_unlock(&st->smu);
}

static void *registrar_main(void *arg)
{
    struct rt_status *st = arg;
    int64_t retry_at = 0;

    pthread_mutex_lock(&st->smu);
    while (!st->sstop) {
        int64_t now = fp_mono_ms();

        if (st->swake && now - st->swake_ms >= SCHEMA_QUIET_MS) {
            st->swake = false;
        } else if (retry_at && now >= retry_at) {
            retry_at = 0;
        } else {
            int64_t wait = st->swake  ? SCHEMA_QUIET_MS - (now - st->swake_ms)
                           : retry_at ? retry_at - now
                                      : 1000;
            fp_cond_wait_ms(&st->scv, &st->smu, wait > 0 ? (uint64_t)wait : 1);
            continue;
        }
        pthread_mutex_unlock(&st->smu);
        if (rt_schema_flush_count(st->rt) > 0)
            retry_at = fp_mono_ms() + SCHEMA_RETRY_MS;
        /* Registrations come in rounds (the first messages of every dataset after a start
         * or a reconfiguration): what the round and the start-up before it left free goes
         * back to the system. */
        rt_heap_trim();
        pthread_mutex_lock(&st->smu);
    }
    pthread_mutex_unlock(&st->smu);
    return NULL;
}

/* ---- start and stop ------------------------------------------------------------------------- */

int rt_status_start(fp_rt *rt)
{
    struct rt_status *st = fp_calloc(1, sizeof *st);

    if (!st)
        return -1;
    st->rt = rt;
    pthread_mutex_init(&st->mu, NULL);
    fp_cond_init(&st->cv);
    fp_cond_init(&st->done_cv);
    pthread_mutex_init(&st->smu, NULL);
    fp_cond_init(&st->scv);
    if (rt->mqtt) {
        fpc_mqtt_stats s;
        fpc_mqtt_get_stats(rt->mqtt, &s);
        st->last_dropped = s.dropped;
    }
    rt->status = st;
    if (pthread_create(&st->writer, NULL, writer_main, st) != 0) {
        fp_log_error(MOD, "cannot start the status writer thread");
        goto fail;
    }
    st->writer_started = true;
    if (pthread_create(&st->registrar, NULL, registrar_main, st) != 0) {
        fp_log_error(MOD, "cannot start the schema registrar thread");
        goto fail;
    }
    st->registrar_started = true;
    return 0;
fail:
    rt_status_stop(rt);
    return -1;
}

void rt_status_stop(fp_rt *rt)
{
    struct rt_status *st = rt ? rt->status : NULL;

    if (!st)
        return;
    /* The registrar first: its last registrations mark assets dirty for the writer. */
    if (st->registrar_started) {
        pthread_mutex_lock(&st->smu);
        st->sstop = true;
        pthread_cond_signal(&st->scv);
        pthread_mutex_unlock(&st->smu);
        pthread_join(st->registrar, NULL);
    }
    if (st->writer_started) {
        pthread_mutex_lock(&st->mu);
        st->stop = true;
        pthread_cond_signal(&st->cv);
        pthread_mutex_unlock(&st->mu);
        pthread_join(st->writer, NULL);
    }
    rt->status = NULL;
    for (size_t b = 0; b < N_BUCKETS; b++) {
        while (st->buckets[b]) {
            written *w = st->buckets[b];
            st->buckets[b] = w->next;
            fp_free(w->key);
            fp_free(w->body);
            fp_free(w);
        }
    }
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
    pthread_cond_destroy(&st->done_cv);
    pthread_mutex_destroy(&st->smu);
    pthread_cond_destroy(&st->scv);
    fp_free(st);
}
