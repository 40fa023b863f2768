/*
 * rt_sync.c - keeps the connector's model in step with the registry: list, then watch.
 *
 * At start the runtime lists the devices of each served endpoint type and the assets of
 * every namespace (or only --namespace), keeps the documents in two maps, and reconciles
 * the model against them. It then watches from the list's revision; each event updates the
 * maps and reconciles only what the event touches (one device's endpoints, one asset, the
 * endpoints naming a secret). After a disconnect it resumes from the last revision it saw,
 * so nothing is missed and nothing is applied twice in effect (reconciling is idempotent).
 * When the registry answers that the revision was compacted away (410, or an ERROR line), or
 * that it is newer than the registry's own (410: its database was restored from a backup),
 * it lists again and reconciles everything against the fresh state.
 *
 * Our own status writes come back as MODIFIED events; the spec's `version` does not change
 * on them, so an endpoint or asset whose version is unchanged is left alone. Secret changes
 * do not bump a device's version: a Secret event re-resolves the endpoints naming it.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fp_alloc.h"
#include "fp_log.h"
#include "rt_internal.h"

#define BACKOFF_FIRST_MS 1000u
#define BACKOFF_MAX_MS 30000u

typedef struct sync_state {
    fp_rt *rt;
    json_t *devices; /* "<ns>\x1f<name>" -> device document */
    json_t *assets;  /* "<ns>\x1f<name>" -> asset document */
    int64_t revision;
    bool broken;    /* the registry failed mid-apply: list again */
    bool got_event; /* the watch delivered something: it is connected */
} sync_state;

static bool stopping(fp_rt *rt)
{
    return atomic_load(&rt->stop) != 0;
}

/* Sleep up to ms, returning early when the runtime is stopping. */
static void sleep_ms(fp_rt *rt, unsigned ms)
{
    while (ms > 0 && !stopping(rt)) {
        unsigned step = ms < 100 ? ms : 100;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

static bool served(const fp_rt *rt, const char *type)
{
    if (!type)
        return false;
    for (const char *const *t = rt->conn->endpoint_types; t && *t; t++)
        if (!strcasecmp(*t, type))
            return true;
    return false;
}

static bool ns_wanted(const fp_rt *rt, const char *ns)
{
    return ns && (!rt->opt.namespace_only || !strcmp(rt->opt.namespace_only, ns));
}

static void doc_key(char *out, size_t len, const char *ns, const char *name)
{
    snprintf(out, len, "%s\x1f%s", ns, name);
}

static bool enabled(const json_t *doc)
{
    return !json_is_false(json_object_get(json_object_get(doc, "properties"), "enabled"));
}

/* ---- reconciling ------------------------------------------------------------------------------
 */

static void attach_assets(sync_state *s, rt_endpoint *ep);

/* Reconcile the endpoints of device (ns, name) with the stored document. force: also when
 * the device's version is unchanged (a secret changed). */
static void reconcile_device(sync_state *s, const char *ns, const char *name, bool force)
{
    fp_rt *rt = s->rt;
    char key[600];
    doc_key(key, sizeof key, ns, name);
    json_t *doc = json_object_get(s->devices, key);
    json_t *inbound = NULL;
    if (doc && enabled(doc))
        inbound = json_object_get(json_object_get(json_object_get(doc, "properties"), "endpoints"),
                                  "inbound");

    /* Endpoints that are no longer wanted (removed, type changed, device disabled). */
    for (;;) {
        rt_endpoint *gone = NULL;
        pthread_mutex_lock(&rt->lock);
        for (rt_endpoint *ep = rt->endpoints; ep && !gone; ep = ep->next) {
            if (strcmp(ep->ns, ns) || strcmp(ep->pub.device, name))
                continue;
            const json_t *e = json_object_get(inbound, ep->pub.name);
            if (!e || !served(rt, json_string_value(json_object_get(e, "endpointType"))))
                gone = ep;
        }
        pthread_mutex_unlock(&rt->lock);
        if (!gone)
            break;
        rt_model_endpoint_remove(gone);
    }

    const char *ep_name;
    json_t *ep_json;
    int64_t version =
        json_integer_value(json_object_get(json_object_get(doc, "properties"), "version"));
    json_object_foreach(inbound, ep_name, ep_json)
    {
        if (!served(rt, json_string_value(json_object_get(ep_json, "endpointType"))))
            continue;
        rt_endpoint *ep = rt_model_endpoint_find(rt, ns, name, ep_name);
        if (ep && !force && version > 0 && ep->device_version == version)
            continue; /* a status write of ours, or a repeat */
        rt_secrets *sec = NULL;
        fp_status st = rt_secrets_resolve(rt, ns, ep_json, &sec);
        if (st != FP_OK) {
            fp_log_warn("runtime",
                        "endpoint %s/%s/%s: cannot resolve its secrets (%s); "
                        "listing again",
                        ns, name, ep_name, fp_status_name(st));
            s->broken = true;
            return;
        }
        if (ep) {
            rt_model_endpoint_change(ep, doc, sec);
        } else {
            ep = rt_model_endpoint_add(rt, ns, doc, ep_name, sec);
            if (ep)
                attach_assets(s, ep);
        }
    }
}

/* Reconcile asset (ns, name) with the stored document. */
static void reconcile_asset(sync_state *s, const char *ns, const char *name)
{
    fp_rt *rt = s->rt;
    char key[600];
    doc_key(key, sizeof key, ns, name);
    json_t *doc = json_object_get(s->assets, key);
    rt_endpoint *want = NULL;
    if (doc && enabled(doc)) {
        const json_t *ref = json_object_get(json_object_get(doc, "properties"), "deviceRef");
        const char *dev = json_string_value(json_object_get(ref, "deviceName"));
        const char *epn = json_string_value(json_object_get(ref, "endpointName"));
        if (dev && epn)
            want = rt_model_endpoint_find(rt, ns, dev, epn);
    }
    rt_asset *cur = rt_model_asset_find(rt, ns, name);
    if (cur && cur->ep != want) {
        rt_model_asset_remove(cur);
        cur = NULL;
    }
    if (!want)
        return;
    if (cur) {
        int64_t version =
            json_integer_value(json_object_get(json_object_get(doc, "properties"), "version"));
        json_t *live = NULL;
        pthread_mutex_lock(&cur->lock);
        bool same = version > 0 && cur->version == version;
        /* The map keeps the document the model already holds when its spec is the same
         * version, rather than a second full copy per asset that differs only in status. */
        if (same && cur->doc && cur->doc != doc &&
            json_integer_value(
                json_object_get(json_object_get(cur->doc, "properties"), "version")) == version)
            live = json_incref(cur->doc);
        pthread_mutex_unlock(&cur->lock);
        if (live)
            json_object_set_new(s->assets, key, live); /* doc is freed here: not used below */
        if (same)
            return; /* a status write of ours, or a repeat */
    }
    rt_model_asset_set(want, doc);
}

/* Attach the stored assets that refer to a new endpoint. */
static void attach_assets(sync_state *s, rt_endpoint *ep)
{
    const char *key;
    json_t *doc;
    json_object_foreach(s->assets, key, doc)
    {
        const json_t *ref = json_object_get(json_object_get(doc, "properties"), "deviceRef");
        const char *dev = json_string_value(json_object_get(ref, "deviceName"));
        const char *epn = json_string_value(json_object_get(ref, "endpointName"));
        const char *sep = strchr(key, '\x1f');
        if (!sep || !dev || !epn || strncmp(key, ep->ns, (size_t)(sep - key)) ||
            ep->ns[sep - key] != '\0' || strcmp(dev, ep->pub.device) || strcmp(epn, ep->pub.name))
            continue;
        if (enabled(doc))
            rt_model_asset_set(ep, doc);
    }
}

/* Split a "<ns>\x1f<name>" key into ns and name (in buffers). */
static void split_key(const char *key, char *ns, size_t ns_len, char *name, size_t name_len)
{
    const char *sep = strchr(key, '\x1f');
    size_t n = sep ? (size_t)(sep - key) : strlen(key);
    snprintf(ns, ns_len, "%.*s", (int)n, key);
    snprintf(name, name_len, "%s", sep ? sep + 1 : "");
}

/* Everything against the stored documents (after a list). */
static void reconcile_all(sync_state *s)
{
    fp_rt *rt = s->rt;
    char ns[300], name[300];

    /* Endpoints and assets of the model whose documents are gone, first. */
    json_t *have_dev = json_object(), *have_as = json_object();
    pthread_mutex_lock(&rt->lock);
    for (rt_endpoint *ep = rt->endpoints; ep; ep = ep->next) {
        char key[600];
        doc_key(key, sizeof key, ep->ns, ep->pub.device);
        json_object_set_new(have_dev, key, json_true());
        for (rt_asset *as = ep->assets; as; as = as->next) {
            doc_key(key, sizeof key, as->ns, as->pub.name);
            json_object_set_new(have_as, key, json_true());
        }
    }
    pthread_mutex_unlock(&rt->lock);
    const char *key;
    json_t *v;
    json_object_foreach(have_as, key, v)
    {
        if (!json_object_get(s->assets, key)) {
            split_key(key, ns, sizeof ns, name, sizeof name);
            reconcile_asset(s, ns, name);
        }
    }
    json_object_foreach(have_dev, key, v)
    {
        if (!json_object_get(s->devices, key)) {
            split_key(key, ns, sizeof ns, name, sizeof name);
            reconcile_device(s, ns, name, true);
        }
    }
    json_decref(have_dev);
    json_decref(have_as);

    /* Then every stored document: adds and changes (secrets too: force). */
    json_object_foreach(s->devices, key, v)
    {
        split_key(key, ns, sizeof ns, name, sizeof name);
        reconcile_device(s, ns, name, true);
        if (s->broken || stopping(rt))
            return;
    }
    json_object_foreach(s->assets, key, v)
    {
        split_key(key, ns, sizeof ns, name, sizeof name);
        reconcile_asset(s, ns, name);
        if (stopping(rt))
            return;
    }
}

/* A Secret changed: re-resolve the endpoints in ns that name it. */
static void reconcile_secret(sync_state *s, const char *ns, const char *secret)
{
    const char *key;
    json_t *doc;
    char dns[300], dname[300];
    json_t *users = json_array(); /* names of the devices that use the secret */
    json_object_foreach(s->devices, key, doc)
    {
        split_key(key, dns, sizeof dns, dname, sizeof dname);
        if (strcmp(dns, ns))
            continue;
        const char *epn;
        json_t *ep_json;
        json_object_foreach(
            json_object_get(json_object_get(json_object_get(doc, "properties"), "endpoints"),
                            "inbound"),
            epn, ep_json)
        {
            if (rt_secrets_refer(ep_json, secret)) {
                json_array_append_new(users, json_string(dname));
                break;
            }
        }
    }
    size_t i;
    json_t *d;
    json_array_foreach(users, i, d)
    {
        reconcile_device(s, ns, json_string_value(d), true);
        if (s->broken)
            break;
    }
    json_decref(users);
}

/* ---- list and watch -----------------------------------------------------------------------------
 */

/* List the collection at path (every page) into map, keyed "<ns>/<name>"; *rev becomes the
 * lowest list revision seen, so a watch from it misses nothing. */
static fp_status list_into(fp_rt *rt, const char *path, const char *ns, json_t *map, int64_t *rev,
                           char *err, size_t err_len)
{
    json_t *items = NULL, *doc;
    int64_t r = 0;
    size_t j;
    char key[600];
    fp_status st = fpc_reg_list(rt->reg, path, &items, &r, err, err_len);

    if (st)
        return st;
    if (r < *rev)
        *rev = r;
    json_array_foreach(items, j, doc)
    {
        const char *name = json_string_value(json_object_get(doc, "name"));
        if (!name)
            continue;
        doc_key(key, sizeof key, ns, name);
        json_object_set(map, key, doc);
    }
    json_decref(items);
    return FP_OK;
}

/* "/api/v1/namespaces/NS/" + what + the query value arg, escaped, into path. */
static fp_status ns_path(fp_buf *path, const char *ns, const char *what, const char *arg, char *err,
                         size_t err_len)
{
    fp_buf_reset(path);
    fp_buf_append_str(path, "/api/v1/namespaces/");
    fp_buf_append_pct(path, ns);
    fp_buf_printf(path, "/%s", what);
    if (arg)
        fp_buf_append_pct(path, arg);
    if (path->err)
        snprintf(err, err_len, "the path for namespace %.64s: %s", ns, fp_status_name(path->err));
    return path->err;
}

/* List into fresh maps. On failure err says why. */
static fp_status list_all(sync_state *s, json_t **devices, json_t **assets, int64_t *revision,
                          char *err, size_t err_len)
{
    fp_rt *rt = s->rt;
    json_t *devs = json_object(), *ass = json_object(), *nss = NULL;
    int64_t rev = INT64_MAX, r = 0;
    fp_status st = FP_OK;
    fp_buf path;

    fp_buf_init(&path, 4096);
    if (rt->opt.namespace_only) {
        nss = json_pack("[{s:s}]", "name", rt->opt.namespace_only);
    } else {
        st = fpc_reg_list(rt->reg, "/api/v1/namespaces", &nss, &r, err, err_len);
        if (st)
            goto out_fail;
        rev = r;
    }
    size_t i;
    json_t *nsdoc;
    json_array_foreach(nss, i, nsdoc)
    {
        const char *ns = json_string_value(json_object_get(nsdoc, "name"));
        if (!ns)
            continue;
        for (const char *const *t = rt->conn->endpoint_types; t && *t; t++) {
            st = ns_path(&path, ns, "devices?endpointType=", *t, err, err_len);
            if (!st)
                st = list_into(rt, path.data, ns, devs, &rev, err, err_len);
            if (st == FP_ERR_NOT_FOUND)
                continue; /* --namespace names one that does not exist (yet) */
            if (st)
                goto out_fail;
        }
        st = ns_path(&path, ns, "assets", NULL, err, err_len);
        if (!st)
            st = list_into(rt, path.data, ns, ass, &rev, err, err_len);
        if (st == FP_ERR_NOT_FOUND)
            continue;
        if (st)
            goto out_fail;
    }
    json_decref(nss);
    fp_buf_clear(&path);
    if (rev == INT64_MAX)
        rev = 0; /* --namespace that does not exist: watch from now */
    *devices = devs;
    *assets = ass;
    *revision = rev;
    return FP_OK;

out_fail:
    fp_buf_clear(&path);
    json_decref(nss);
    json_decref(devs);
    json_decref(ass);
    return st ? st : FP_ERR_INTERNAL;
}

static int on_event(const json_t *ev, void *arg)
{
    sync_state *s = arg;
    fp_rt *rt = s->rt;
    s->got_event = true;
    atomic_store(&rt->registry_ok, true);
    const char *type = json_string_value(json_object_get(ev, "type"));
    const char *kind = json_string_value(json_object_get(ev, "kind"));
    const char *ns = json_string_value(json_object_get(ev, "namespace"));
    const char *name = json_string_value(json_object_get(ev, "name"));
    json_t *obj = json_object_get(ev, "object");
    json_int_t rev = json_integer_value(json_object_get(ev, "revision"));
    if (rev > s->revision) {
        s->revision = rev;
        atomic_store(&rt->revision, (long long)rev);
    }
    if (!type || !strcmp(type, "BOOKMARK") || !kind || !ns_wanted(rt, ns))
        return 0;
    bool deleted = !strcmp(type, "DELETED");
    char key[600];

    if (!strcmp(kind, "Device") && name) {
        doc_key(key, sizeof key, ns, name);
        if (deleted || !json_is_object(obj))
            json_object_del(s->devices, key);
        else
            json_object_set(s->devices, key, obj);
        reconcile_device(s, ns, name, false);
    } else if (!strcmp(kind, "Asset") && name) {
        doc_key(key, sizeof key, ns, name);
        if (deleted || !json_is_object(obj))
            json_object_del(s->assets, key);
        else
            json_object_set(s->assets, key, obj);
        reconcile_asset(s, ns, name);
    } else if (!strcmp(kind, "Secret") && name) {
        reconcile_secret(s, ns, name);
    } else if (!strcmp(kind, "Namespace") && deleted && name) {
        /* Everything in it went with it; the per-resource events may not come. */
        json_t *gone = json_array();
        const char *k;
        json_t *v;
        char kns[300], kname[300];
        json_object_foreach(s->assets, k, v)
        {
            split_key(k, kns, sizeof kns, kname, sizeof kname);
            if (!strcmp(kns, name))
                json_array_append_new(gone, json_string(k));
        }
        size_t i;
        json_array_foreach(gone, i, v)
        {
            json_object_del(s->assets, json_string_value(v));
            split_key(json_string_value(v), kns, sizeof kns, kname, sizeof kname);
            reconcile_asset(s, kns, kname);
        }
        json_array_clear(gone);
        json_object_foreach(s->devices, k, v)
        {
            split_key(k, kns, sizeof kns, kname, sizeof kname);
            if (!strcmp(kns, name))
                json_array_append_new(gone, json_string(k));
        }
        json_array_foreach(gone, i, v)
        {
            json_object_del(s->devices, json_string_value(v));
            split_key(json_string_value(v), kns, sizeof kns, kname, sizeof kname);
            reconcile_device(s, kns, kname, true);
        }
        json_decref(gone);
    }
    return s->broken ? 1 : 0;
}

static unsigned backoff_next(unsigned ms)
{
    ms *= 2;
    return ms > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ms;
}

void rt_sync_run(fp_rt *rt)
{
    sync_state s = {.rt = rt, .devices = json_object(), .assets = json_object()};
    unsigned backoff = BACKOFF_FIRST_MS;
    bool need_list = true;
    char err[512];

    while (!stopping(rt)) {
        if (need_list) {
            json_t *devs = NULL, *ass = NULL;
            int64_t rev = 0;
            err[0] = '\0';
            fp_status st = list_all(&s, &devs, &ass, &rev, err, sizeof err);
            if (st != FP_OK) {
                atomic_store(&rt->registry_ok, false);
                fp_log_warn("runtime", "cannot list from the registry %s: %s; retrying in %u s",
                            rt->opt.registry_url, err[0] ? err : fp_status_name(st),
                            backoff / 1000);
                sleep_ms(rt, backoff);
                backoff = backoff_next(backoff);
                continue;
            }
            json_decref(s.devices);
            json_decref(s.assets);
            s.devices = devs;
            s.assets = ass;
            s.broken = false;
            atomic_store(&rt->registry_ok, true);
            fp_log_info("runtime", "registry: %zu devices and %zu assets at revision %lld",
                        json_object_size(devs), json_object_size(ass), (long long)rev);
            reconcile_all(&s);
            if (s.broken) {
                sleep_ms(rt, backoff);
                backoff = backoff_next(backoff);
                continue;
            }
            s.revision = rev;
            atomic_store(&rt->revision, (long long)rev);
            need_list = false;
            rt_heap_trim(); /* the list's text and the build's garbage */
            backoff = BACKOFF_FIRST_MS;
        }

        int64_t last = s.revision;
        s.got_event = false;
        err[0] = '\0';
        fp_status st = fpc_reg_watch(rt->reg, s.revision, "Namespace,Device,Asset,Secret", on_event,
                                     &s, &rt->stop, &last, err, sizeof err);
        if (last > s.revision) {
            s.revision = last;
            atomic_store(&rt->revision, (long long)last);
        }
        if (stopping(rt))
            break;
        if (s.got_event)
            backoff = BACKOFF_FIRST_MS;
        if (st == FP_ERR_GONE) {
            fp_log_info("runtime",
                        "watch from revision %lld is gone (compacted, or the registry's "
                        "database was restored to an older revision); listing again",
                        (long long)s.revision);
            need_list = true;
            continue;
        }
        if (s.broken) {
            need_list = true;
            s.broken = false;
            sleep_ms(rt, backoff);
            backoff = backoff_next(backoff);
            continue;
        }
        atomic_store(&rt->registry_ok, false);
        fp_log_warn("runtime", "watch of %s ended: %s; resuming from revision %lld in %u s",
                    rt->opt.registry_url, err[0] ? err : fp_status_name(st), (long long)s.revision,
                    backoff / 1000);
        sleep_ms(rt, backoff);
        backoff = backoff_next(backoff);
    }
    json_decref(s.devices);
    json_decref(s.assets);
}
