/*
 * rt_publish.c - where a connector's messages go: destinations, CloudEvents, schemas.
 *
 * Each publishing object (dataset, event, event group, stream) holds an rt_out built once
 * from its destination list when the object is made, so the publish path only walks a
 * ready array: no JSON is parsed on it except the payload itself while the schema is
 * still being learned (every payload until each defined member was seen, then one in 64).
 *
 * Destinations (the resource model's `destinations[]`, discriminated by `target`):
 *   Mqtt              configuration{topic, qos: Qos0|Qos1 (Qos1), retain: Keep|Never
 *                     (Never), ttl: seconds -> MQTT 5 message expiry}
 *   Storage           configuration{path}: one line (payload + "\n") appended to
 *                     <storage root>/<path>; the path must be relative and stay under the
 *                     root, directories are created as needed.
 *   BrokerStateStore  configuration{key}: the broker has no key-value store of its own, so
 *                     the state of a key is a retained QoS 1 message on the topic
 *                     fieldplane/state/<namespace>/<key>; a subscriber to that topic gets
 *                     the latest value at once, and a new value replaces it.
 * No destination at all means one Mqtt destination on the model's default topic, QoS 1.
 *
 * Schema registration never runs on the publish path: a changed schema only sets
 * schema_dirty and wakes the registrar thread (rt_status.c), which calls rt_schema_flush().
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fp_alloc.h"
#include "fp_log.h"
#include "fp_model.h"
#include "fp_time.h"
#include "rt_internal.h"

#define MOD "publish"

/* ---- destination parsing ------------------------------------------------------------------- */

static int dest_fail(rt_out *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int dest_fail(rt_out *out, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rt_error_set(&out->error, "InvalidDestination", msg);
    return -1;
}

/* A topic name we publish to: not empty, no wildcards, no NUL, at most
 * FP_MODEL_TOPIC_MAX bytes (the registry's limit too). */
static bool topic_ok(const char *t)
{
    size_t n = strlen(t);
    return n > 0 && n <= FP_MODEL_TOPIC_MAX && !strpbrk(t, "+#");
}

/* A relative path that stays below the root: no leading '/', no ".." component. */
static bool rel_path_ok(const char *p)
{
    const char *c = p;

    if (!*p || *p == '/')
        return false;
    while (*c) {
        const char *e = strchr(c, '/');
        size_t n = e ? (size_t)(e - c) : strlen(c);
        if (n == 2 && c[0] == '.' && c[1] == '.')
            return false;
        if (!e)
            break;
        c = e + 1;
    }
    return p[strlen(p) - 1] != '/';
}

static int parse_mqtt(rt_out *out, rt_dest *d, const json_t *cfg, size_t i)
{
    const json_t *topic = json_object_get(cfg, "topic");
    const json_t *qos = json_object_get(cfg, "qos");
    const json_t *retain = json_object_get(cfg, "retain");
    const json_t *ttl = json_object_get(cfg, "ttl");

    if (!topic || json_is_null(topic))
        return dest_fail(out, "destinations[%zu].configuration.topic is required", i);
    if (!json_is_string(topic) || !topic_ok(json_string_value(topic)))
        return dest_fail(out,
                         "destinations[%zu].configuration.topic must be a non-empty topic "
                         "name without wildcards (+ or #)",
                         i);
    d->qos = 1;
    if (qos && !json_is_null(qos)) {
        const char *q = json_is_string(qos) ? json_string_value(qos) : "";
        if (!strcmp(q, "Qos0"))
            d->qos = 0;
        else if (strcmp(q, "Qos1") != 0)
            return dest_fail(out, "destinations[%zu].configuration.qos must be Qos0 or Qos1", i);
    }
    if (retain && !json_is_null(retain)) {
        const char *r = json_is_string(retain) ? json_string_value(retain) : "";
        if (!strcmp(r, "Keep"))
            d->retain = true;
        else if (strcmp(r, "Never") != 0)
            return dest_fail(out, "destinations[%zu].configuration.retain must be Keep or Never",
                             i);
    }
    if (ttl && !json_is_null(ttl)) {
        if (!json_is_integer(ttl) || json_integer_value(ttl) < 0 ||
            json_integer_value(ttl) > (json_int_t)UINT32_MAX)
            return dest_fail(out,
                             "destinations[%zu].configuration.ttl must be a whole number of "
                             "seconds from 0 to 4294967295",
                             i);
        d->ttl_s = (uint32_t)json_integer_value(ttl);
    }
    d->target = RT_DEST_MQTT;
    d->topic = fp_strdup(json_string_value(topic));
    return d->topic ? 0 : dest_fail(out, "out of memory");
}

static int parse_storage(rt_out *out, rt_dest *d, const json_t *cfg, size_t i)
{
    const json_t *path = json_object_get(cfg, "path");
    const char *root = out->rt ? out->rt->opt.storage_root : NULL;
    const char *p;
    size_t n;

    if (!path || json_is_null(path))
        return dest_fail(out, "destinations[%zu].configuration.path is required", i);
    p = json_is_string(path) ? json_string_value(path) : "";
    if (!rel_path_ok(p))
        return dest_fail(out,
                         "destinations[%zu].configuration.path must be a relative file path "
                         "without '..' (it is placed under the storage root)",
                         i);
    if (!root || !*root)
        return dest_fail(out,
                         "destinations[%zu].configuration.path: no storage root is configured "
                         "(--storage-root)",
                         i);
    n = strlen(root) + 1 + strlen(p) + 1;
    if (n > PATH_MAX)
        return dest_fail(out, "destinations[%zu].configuration.path is too long", i);
    d->path = fp_malloc(n);
    if (!d->path)
        return dest_fail(out, "out of memory");
    snprintf(d->path, n, "%s%s%s", root, root[strlen(root) - 1] == '/' ? "" : "/", p);
    d->target = RT_DEST_STORAGE;
    return 0;
}

static int parse_bss(rt_out *out, rt_dest *d, const json_t *cfg, size_t i)
{
    const json_t *key = json_object_get(cfg, "key");

    if (!key || json_is_null(key))
        return dest_fail(out, "destinations[%zu].configuration.key is required", i);
    if (!json_is_string(key) || !topic_ok(json_string_value(key)) ||
        strlen(json_string_value(key)) > 1024)
        return dest_fail(out,
                         "destinations[%zu].configuration.key must be a non-empty string of at "
                         "most 1024 bytes without + or #",
                         i);
    d->target = RT_DEST_BSS;
    d->qos = 1;
    d->retain = true;
    d->key = fp_strdup(json_string_value(key));
    return d->key ? 0 : dest_fail(out, "out of memory");
}

static int parse_dests(rt_out *out, const json_t *dests, const char *default_topic)
{
    size_t i, n;

    if (!dests || json_is_null(dests) || (json_is_array(dests) && json_array_size(dests) == 0)) {
        if (!default_topic || !topic_ok(default_topic))
            return dest_fail(out, "destinations: none given and no valid default topic");
        out->dests = fp_calloc(1, sizeof *out->dests);
        if (!out->dests)
            return dest_fail(out, "out of memory");
        out->dests[0].target = RT_DEST_MQTT;
        out->dests[0].qos = 1;
        out->dests[0].topic = fp_strdup(default_topic);
        out->n_dests = 1;
        return out->dests[0].topic ? 0 : dest_fail(out, "out of memory");
    }
    if (!json_is_array(dests))
        return dest_fail(out, "destinations must be an array");
    n = json_array_size(dests);
    out->dests = fp_calloc(n, sizeof *out->dests);
    if (!out->dests)
        return dest_fail(out, "out of memory");
    for (i = 0; i < n; i++) {
        const json_t *e = json_array_get(dests, i);
        const json_t *target = json_object_get(e, "target");
        const json_t *cfg = json_object_get(e, "configuration");
        const char *t;
        int rc;

        out->n_dests = i + 1; /* so rt_out_clear frees what was parsed */
        if (!json_is_object(e))
            return dest_fail(out, "destinations[%zu] must be an object", i);
        if (!target || json_is_null(target))
            return dest_fail(out, "destinations[%zu].target is required", i);
        t = json_is_string(target) ? json_string_value(target) : "";
        if (!cfg || json_is_null(cfg))
            return dest_fail(out, "destinations[%zu].configuration is required", i);
        if (!json_is_object(cfg))
            return dest_fail(out, "destinations[%zu].configuration must be an object", i);
        if (!strcmp(t, "Mqtt"))
            rc = parse_mqtt(out, &out->dests[i], cfg, i);
        else if (!strcmp(t, "Storage"))
            rc = parse_storage(out, &out->dests[i], cfg, i);
        else if (!strcmp(t, "BrokerStateStore"))
            rc = parse_bss(out, &out->dests[i], cfg, i);
        else
            return dest_fail(out,
                             "destinations[%zu].target must be Mqtt, Storage or "
                             "BrokerStateStore",
                             i);
        if (rc)
            return rc;
    }
    return 0;
}

int rt_out_init(rt_out *out, fp_rt *rt, const json_t *dests, const char *type, const char *source,
                const char *subject, const char *schema_name, const char *const *names,
                size_t n_names, const char *default_topic)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_init(&out->lock, NULL);
    out->rt = rt;
    out->type = fp_strdup(type ? type : "");
    out->source = fp_strdup(source ? source : "");
    out->subject = fp_strdup(subject ? subject : "");
    if (!out->type || !out->source || !out->subject)
        return dest_fail(out, "out of memory");
    if (schema_name) {
        out->schema_name = fp_strdup(schema_name);
        out->schema = fpc_schema_new(out->subject, names, n_names);
        if (!out->schema_name || !out->schema)
            return dest_fail(out, "out of memory");
    }
    if (parse_dests(out, dests, default_topic)) {
        /* Keep nothing half-built: a failed out publishes nowhere. */
        for (size_t i = 0; i < out->n_dests; i++) {
            fp_free(out->dests[i].topic);
            fp_free(out->dests[i].path);
            fp_free(out->dests[i].key);
        }
        fp_free(out->dests);
        out->dests = NULL;
        out->n_dests = 0;
        return -1;
    }
    return 0;
}

void rt_out_clear(rt_out *out)
{
    for (size_t i = 0; i < out->n_dests; i++) {
        fp_free(out->dests[i].topic);
        fp_free(out->dests[i].path);
        fp_free(out->dests[i].key);
    }
    fp_free(out->dests);
    fp_free(out->type);
    fp_free(out->source);
    fp_free(out->subject);
    fp_free(out->schema_name);
    fpc_schema_free(out->schema);
    fp_free(out->dataschema);
    pthread_mutex_destroy(&out->lock);
    memset(out, 0, sizeof *out);
}

void rt_out_take_state(rt_out *to, rt_out *from)
{
    pthread_mutex_lock(&from->lock);
    pthread_mutex_lock(&to->lock);
    to->published += from->published;
    to->failed += from->failed;
    /* The health the connector reported is about the object, which lives on. */
    if (!to->health.set)
        to->health = from->health;
    /* The learned schema goes with the message only when it is still the same kind of
     * message (same schema name); the new one is registered again when its text
     * differs, and the registry answers the same version for the same content. */
    if (to->schema_name && from->schema_name && !strcmp(to->schema_name, from->schema_name)) {
        to->schema_version = from->schema_version;
        fp_free(to->dataschema);
        to->dataschema = from->dataschema;
        from->dataschema = NULL;
    }
    pthread_mutex_unlock(&to->lock);
    pthread_mutex_unlock(&from->lock);
}

/* ---- CloudEvents ---------------------------------------------------------------------------- */

size_t rt_ce_props(fpc_prop props[8], const char *id, const char *time_iso, const char *type,
                   const char *source, const char *subject, const char *dataschema,
                   const char *content_type)
{
    size_t n = 0;

    props[n++] = (fpc_prop){"specversion", "1.0"};
    props[n++] = (fpc_prop){"id", id};
    props[n++] = (fpc_prop){"time", time_iso};
    props[n++] = (fpc_prop){"type", type};
    props[n++] = (fpc_prop){"source", source};
    props[n++] = (fpc_prop){"subject", subject};
    if (dataschema)
        props[n++] = (fpc_prop){"dataschema", dataschema};
    props[n++] = (fpc_prop){"datacontenttype", content_type ? content_type : "application/json"};
    return n;
}

/* ---- Storage -------------------------------------------------------------------------------- */

/* mkdir -p of the directory part of path. */
static int make_parent_dirs(const char *path)
{
    char tmp[PATH_MAX];
    char *s;

    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return -1;
    s = strrchr(tmp, '/');
    if (!s || s == tmp)
        return 0;
    *s = '\0';
    for (char *c = tmp + 1; *c; c++) {
        if (*c != '/')
            continue;
        *c = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *c = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* Append payload + "\n" with one write on an O_APPEND descriptor, so lines of concurrent
 * publishers to the same file never interleave. */
static int storage_append(const char *path, const char *payload, size_t len, char *err,
                          size_t err_len)
{
    struct iovec iov[2] = {{(void *)payload, len}, {(void *)"\n", 1}};
    ssize_t w;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

    if (fd < 0 && errno == ENOENT && make_parent_dirs(path) == 0)
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, err_len, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    w = writev(fd, iov, 2);
    if (w != (ssize_t)(len + 1)) {
        snprintf(err, err_len, "cannot append to %s: %s", path,
                 w < 0 ? strerror(errno) : "short write");
        close(fd);
        return -1;
    }
    if (close(fd) != 0) {
        snprintf(err, err_len, "cannot append to %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- publishing ----------------------------------------------------------------------------- */

static void count(uint64_t *c)
{
    __atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

static void mark_dirty(fp_rt *rt, rt_asset *as)
{
    if (as)
        rt_status_asset_dirty(as);
    else if (rt)
        rt_status_kick(rt);
}

/* Learn the schema from this payload when it is still being learned, or for one payload
 * in 64 after that (new members and widened types still show up, at a small cost). */
static void schema_learn(rt_out *out, const char *payload, size_t len)
{
    bool parse, changed = false;
    json_t *doc;

    pthread_mutex_lock(&out->lock);
    out->n_seen++;
    parse = out->schema && (!fpc_schema_complete(out->schema) || out->n_seen % 64 == 0);
    pthread_mutex_unlock(&out->lock);
    if (!parse)
        return;
    doc = json_loadb(payload, len, 0, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return;
    }
    pthread_mutex_lock(&out->lock);
    if (out->schema && fpc_schema_observe(out->schema, doc)) {
        out->schema_dirty = true;
        changed = true;
    }
    pthread_mutex_unlock(&out->lock);
    json_decref(doc);
    if (changed && out->rt)
        rt_schema_wake(out->rt);
}

static int out_publish(rt_out *out, rt_asset *as, rt_endpoint *ep, const char *payload, size_t len,
                       const char *content_type, const char *time_iso)
{
    fp_rt *rt = out->rt;
    char id[37], now[40], ds_buf[512], err[512] = "";
    const char *dataschema = NULL;
    const char *ns = ep ? ep->pub.ns : (as ? as->pub.ns : "");
    fpc_prop props[8];
    size_t n_props;
    int failed = 0, storage_failed = 0;
    bool health_changed = false;

    if (!payload)
        payload = "";
    if (!content_type)
        content_type = "application/json";
    if (out->n_dests == 0) {
        /* Its destinations were invalid: the error is in the status already. */
        pthread_mutex_lock(&out->lock);
        out->failed++;
        pthread_mutex_unlock(&out->lock);
        if (ep)
            count(&ep->failed);
        if (rt)
            atomic_fetch_add(&rt->failed_total, 1);
        return -1;
    }
    schema_learn(out, payload, len);

    fp_uuid4(id);
    if (!time_iso || !*time_iso) {
        fp_time_now_rfc3339(now);
        time_iso = now;
    }
    pthread_mutex_lock(&out->lock);
    if (out->dataschema) {
        snprintf(ds_buf, sizeof ds_buf, "%s", out->dataschema);
        dataschema = ds_buf;
    }
    pthread_mutex_unlock(&out->lock);
    /* type, source and subject never change after rt_out_init: read without the lock. */
    n_props = rt_ce_props(props, id, time_iso, out->type, out->source, out->subject, dataschema,
                          content_type);

    for (size_t i = 0; i < out->n_dests; i++) {
        const rt_dest *d = &out->dests[i];
        int rc;

        if (d->target == RT_DEST_STORAGE) {
            rc = storage_append(d->path, payload, len, err, sizeof err);
            if (rc)
                storage_failed = 1;
        } else {
            char bss_topic[1200];
            fpc_msg m = {.topic = d->topic,
                         .payload = payload,
                         .len = len,
                         .qos = d->qos,
                         .retain = d->retain,
                         .expiry_s = d->ttl_s,
                         .content_type = content_type,
                         .props = props,
                         .n_props = n_props};
            if (d->target == RT_DEST_BSS) {
                snprintf(bss_topic, sizeof bss_topic, "fieldplane/state/%s/%s", ns, d->key);
                m.topic = bss_topic;
            }
            rc = rt && rt->mqtt ? fpc_mqtt_publish(rt->mqtt, &m) : -1;
            if (rc) {
                if (!storage_failed)
                    snprintf(err, sizeof err, "the message to %s could not be queued%s", m.topic,
                             rt && rt->mqtt ? "" : " (no broker connection configured)");
            }
        }
        if (ep)
            count(rc ? &ep->failed : &ep->published);
        if (rt)
            atomic_fetch_add(rc ? &rt->failed_total : &rt->published_total, 1);
        pthread_mutex_lock(&out->lock);
        if (rc)
            out->failed++;
        else
            out->published++;
        pthread_mutex_unlock(&out->lock);
        failed |= rc != 0;
    }

    /* Health the runtime set because of a publish failure is its own to clear; health the
     * connector reported stays as it is. */
    pthread_mutex_lock(&out->lock);
    if (failed) {
        const char *reason = storage_failed ? "StorageError" : "PublishFailed";
        if (!out->health.set || out->health.available || out->health.by_runtime) {
            int64_t v = out->health.version;
            rt_health_set(&out->health, false, reason, err);
            out->health.by_runtime = true;
            health_changed = out->health.version != v;
        }
    } else if (out->health.set && out->health.by_runtime && !out->health.available) {
        rt_health_set(&out->health, true, "", "");
        out->health.by_runtime = true;
        health_changed = true;
    }
    pthread_mutex_unlock(&out->lock);
    if (failed)
        fp_log_debug(MOD, "publish of %s failed: %s", out->subject, err);
    if (health_changed)
        mark_dirty(rt, as);
    return failed ? -1 : 0;
}

int rt_out_publish(rt_out *out, rt_endpoint *ep, const char *payload, size_t len,
                   const char *content_type, const char *time_iso)
{
    return out_publish(out, NULL, ep, payload, len, content_type, time_iso);
}

static rt_asset *asset_of(fp_asset *as)
{
    return as ? RT_OF(as, rt_asset, pub) : NULL;
}

static rt_endpoint *endpoint_of(rt_asset *as)
{
    if (!as)
        return NULL;
    if (as->ep)
        return as->ep;
    return as->pub.endpoint ? RT_OF(as->pub.endpoint, rt_endpoint, pub) : NULL;
}

int fp_dataset_publish(fp_dataset *ds, const char *payload, size_t len, const char *time_iso)
{
    rt_dataset *d;
    rt_asset *as;

    if (!ds)
        return -1;
    d = RT_OF(ds, rt_dataset, pub);
    as = asset_of(ds->asset);
    return out_publish(&d->out, as, endpoint_of(as), payload, len, "application/json", time_iso);
}

int fp_event_publish(fp_event *ev, const char *payload, size_t len, const char *time_iso)
{
    rt_event_group *g;
    rt_asset *as;
    size_t idx;

    if (!ev || !ev->group)
        return -1;
    g = RT_OF(ev->group, rt_event_group, pub);
    idx = (size_t)(ev - g->pub.events);
    if (idx >= g->pub.n_events || !g->ev_out)
        return -1;
    as = asset_of(g->pub.asset);
    return out_publish(&g->ev_out[idx], as, endpoint_of(as), payload, len, "application/json",
                       time_iso);
}

int fp_event_group_publish(fp_event_group *eg, const char *payload, size_t len,
                           const char *time_iso)
{
    rt_event_group *g;
    rt_asset *as;

    if (!eg)
        return -1;
    g = RT_OF(eg, rt_event_group, pub);
    as = asset_of(eg->asset);
    return out_publish(&g->out, as, endpoint_of(as), payload, len, "application/json", time_iso);
}

int fp_stream_publish(fp_stream *st, const char *payload, size_t len, const char *content_type,
                      const char *time_iso)
{
    rt_stream *s;
    rt_asset *as;

    if (!st)
        return -1;
    s = RT_OF(st, rt_stream, pub);
    as = asset_of(st->asset);
    return out_publish(&s->out, as, endpoint_of(as), payload, len,
                       content_type && *content_type ? content_type : "application/json", time_iso);
}

/* ---- schema registration -------------------------------------------------------------------- */

/* One schema waiting for the registry, copied out of its rt_out so the registry call runs
 * with no lock held and no pointer into objects that may go away meanwhile. */
typedef struct pending_schema {
    char *ns, *name, *text;
    struct pending_schema *next;
} pending_schema;

static void collect_out(rt_out *out, const char *ns, pending_schema **list)
{
    pending_schema *p;

    pthread_mutex_lock(&out->lock);
    if (out->schema_dirty && out->schema && out->schema_name) {
        p = fp_calloc(1, sizeof *p);
        if (p) {
            p->ns = fp_strdup(ns);
            p->name = fp_strdup(out->schema_name);
            p->text = fp_strdup(fpc_schema_text(out->schema));
            if (p->ns && p->name && p->text) {
                p->next = *list;
                *list = p;
                out->schema_dirty = false;
            } else {
                fp_free(p->ns);
                fp_free(p->name);
                fp_free(p->text);
                fp_free(p);
            }
        }
    }
    pthread_mutex_unlock(&out->lock);
}

/* Set version and dataschema on every out whose schema text is the registered one (the
 * object that asked may have been replaced by an update meanwhile; its successor is
 * found the same way). Returns whether any out changed. */
static bool apply_out(rt_out *out, const pending_schema *p, int64_t version)
{
    bool changed = false;
    char ds[1024];

    pthread_mutex_lock(&out->lock);
    const char *text = NULL;
    if (out->schema && out->schema_name && !strcmp(out->schema_name, p->name)) {
        text = fpc_schema_text(out->schema);
        if (!text)
            out->schema_dirty = true; /* rendered on demand: out of memory, retried later */
    }
    if (text && !strcmp(text, p->text) && out->schema_version != version) {
        snprintf(ds, sizeof ds, "aio-sr://%s/%s:%lld", p->ns, p->name, (long long)version);
        char *dup = fp_strdup(ds);
        if (dup) {
            fp_free(out->dataschema);
            out->dataschema = dup;
            out->schema_version = version;
            changed = true;
        }
    }
    pthread_mutex_unlock(&out->lock);
    return changed;
}

/* Call fn on every out of every asset (under rt->lock, the asset's lock); an asset whose
 * fn answered true for some out gets its status marked dirty. */
static void for_each_out(fp_rt *rt, bool (*fn)(rt_out *out, const char *ns, void *ctx), void *ctx)
{
    pthread_mutex_lock(&rt->lock);
    for (rt_endpoint *ep = rt->endpoints; ep; ep = ep->next) {
        for (rt_asset *as = ep->assets; as; as = as->next) {
            bool changed = false;
            pthread_mutex_lock(&as->lock);
            for (size_t i = 0; i < as->pub.n_datasets; i++)
                changed |= fn(&RT_OF(as->pub.datasets[i], rt_dataset, pub)->out, as->pub.ns, ctx);
            for (size_t i = 0; i < as->pub.n_event_groups; i++) {
                rt_event_group *g = RT_OF(as->pub.event_groups[i], rt_event_group, pub);
                changed |= fn(&g->out, as->pub.ns, ctx);
                for (size_t j = 0; g->ev_out && j < g->pub.n_events; j++)
                    changed |= fn(&g->ev_out[j], as->pub.ns, ctx);
            }
            pthread_mutex_unlock(&as->lock);
            if (changed)
                rt_status_asset_dirty(as);
        }
    }
    pthread_mutex_unlock(&rt->lock);
}

static bool visit_collect(rt_out *out, const char *ns, void *ctx)
{
    collect_out(out, ns, ctx);
    return false;
}

typedef struct apply_ctx {
    const pending_schema *p;
    int64_t version;
} apply_ctx;

static bool visit_apply(rt_out *out, const char *ns, void *ctx)
{
    apply_ctx *a = ctx;
    (void)ns;
    return apply_out(out, a->p, a->version);
}

/* The registry call failed: mark the outs with that schema pending again. */
static bool visit_retry(rt_out *out, const char *ns, void *ctx)
{
    const pending_schema *p = ctx;

    pthread_mutex_lock(&out->lock);
    if (out->schema && out->schema_name && !strcmp(out->schema_name, p->name) && !strcmp(ns, p->ns))
        out->schema_dirty = true;
    pthread_mutex_unlock(&out->lock);
    return false;
}

int rt_schema_flush_count(fp_rt *rt)
{
    pending_schema *list = NULL, *p;
    int n_failed = 0;

    for_each_out(rt, visit_collect, &list);
    while ((p = list)) {
        char err[512] = "";
        int64_t version = 0;
        fp_status st = rt->reg ? fpc_reg_schema_register(rt->reg, p->ns, p->name, p->text,
                                                         "Derived by the connector runtime from "
                                                         "the definition and the messages seen",
                                                         &version, err, sizeof err)
                               : FP_ERR_UNAVAILABLE;
        list = p->next;
        if (st == FP_OK && version > 0) {
            apply_ctx a = {p, version};
            fp_log_info(MOD, "schema %s/%s is version %lld", p->ns, p->name, (long long)version);
            for_each_out(rt, visit_apply, &a);
        } else {
            fp_log_warn(MOD, "registering schema %s/%s failed (retried later): %s", p->ns, p->name,
                        err[0] ? err : fp_status_name(st));
            for_each_out(rt, visit_retry, p);
            n_failed++;
        }
        fp_free(p->ns);
        fp_free(p->name);
        fp_free(p->text);
        fp_free(p);
    }
    return n_failed;
}

void rt_schema_flush(fp_rt *rt)
{
    (void)rt_schema_flush_count(rt);
}
