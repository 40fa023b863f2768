/*
 * rt_discovery.c - discovered devices and assets, written to the registry in the background.
 *
 * A connector may report what it finds as often as it scans (every few seconds), so a
 * report only queues a copy; repeats of a name waiting in the queue replace each other.
 * The writer thread keeps, per name, a hash of the properties it wrote and their
 * version: a report with the same content writes nothing, a changed one is written with
 * version + 1. On the first report of a name in this process it reads the stored document
 * to learn both, so a restart neither duplicates nor rewrites what is there.
 * Failed writes are retried with back-off (1 s doubling to 60 s).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fp_alloc.h"
#include "fp_cond.h"
#include "fp_log.h"
#include "fp_model.h"
#include "fp_sha256.h"
#include "fp_time.h"
#include "rt_internal.h"

#define MOD "discovery"
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000

typedef struct report {
    bool asset;
    char *ns, *name;
    json_t *props;
    int64_t next_try_ms, backoff_ms;
    struct report *next;
} report;

typedef struct known {
    char *key; /* "d/<ns>/<name>" or "a/<ns>/<name>" */
    char hash[65];
    int64_t version;
    struct known *next;
} known;

struct rt_discovery {
    fp_rt *rt;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool stop;
    report *queue;
    known *known; /* touched by the writer thread only */
};

/* The registry's own rules (lib/model): a name it would refuse is refused here, at the
 * call, with the same words, rather than retried in the background for ever. */
bool rt_discovery_name_ok(bool asset, const char *name, char *why, size_t why_len)
{
    return fp_model_name_check(asset ? FP_KIND_DISCOVERED_ASSET : FP_KIND_DISCOVERED_DEVICE, name,
                               why, why_len) == FP_OK;
}

/* The properties as compared: without what the server or the runtime sets. */
static json_t *content_of(const json_t *props)
{
    static const char *const drop[] = {"uuid", "provisioningState", "status", "discoveryId",
                                       "version"};
    json_t *c = json_is_object(props) ? json_deep_copy(props) : json_object();

    for (size_t i = 0; c && i < sizeof drop / sizeof drop[0]; i++)
        json_object_del(c, drop[i]);
    return c;
}

bool rt_discovery_same_content(const json_t *stored_props, const json_t *props)
{
    json_t *a = content_of(stored_props), *b = content_of(props);
    bool same = a && b && json_equal(a, b);

    json_decref(a);
    json_decref(b);
    return same;
}

/* SHA-256 (hex) of the canonical text of the content. */
static int content_hash(const json_t *props, char out[65])
{
    json_t *c = content_of(props);
    char *text = c ? json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    int rc = -1;

    if (text) {
        fp_sha256_hex(text, strlen(text), out);
        rc = 0;
    }
    free(text);
    json_decref(c);
    return rc;
}

static known *known_get(struct rt_discovery *D, const char *key)
{
    for (known *k = D->known; k; k = k->next)
        if (!strcmp(k->key, key))
            return k;
    return NULL;
}

static void known_set(struct rt_discovery *D, const char *key, const char *hash, int64_t version)
{
    known *k = known_get(D, key);

    if (!k) {
        k = fp_calloc(1, sizeof *k);
        if (!k || !(k->key = fp_strdup(key))) {
            fp_free(k);
            return;
        }
        k->next = D->known;
        D->known = k;
    }
    snprintf(k->hash, sizeof k->hash, "%s", hash);
    k->version = version;
}

/* Write one report; 0 when done (written or unchanged), -1 to retry. */
static int write_report(struct rt_discovery *D, report *r)
{
    fp_rt *rt = D->rt;
    const char *coll =
        fp_kind_collection(r->asset ? FP_KIND_DISCOVERED_ASSET : FP_KIND_DISCOVERED_DEVICE);
    char key[600], path[700], hash[65], err[512] = "";
    known *k;
    int64_t version;
    long http = 0;
    json_t *answer = NULL, *body;
    fp_status st;

    if (!rt->reg)
        return -1;
    snprintf(key, sizeof key, "%c/%s/%s", r->asset ? 'a' : 'd', r->ns, r->name);
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/%s/%s", r->ns, coll, r->name);
    if (content_hash(r->props, hash))
        return -1;
    k = known_get(D, key);
    if (k && !strcmp(k->hash, hash))
        return 0;
    if (k) {
        version = k->version;
    } else {
        st = fpc_reg_request(rt->reg, "GET", path, NULL, &http, &answer, err, sizeof err);
        if (st != FP_OK || (http != 200 && http != 404)) {
            fp_log_warn(MOD, "GET %s failed: %s (HTTP %ld)", path,
                        st != FP_OK ? err : "unexpected answer", http);
            json_decref(answer);
            return -1;
        }
        version = 0;
        if (http == 200) {
            const json_t *props = json_object_get(answer, "properties");
            json_t *v = json_object_get(props, "version");
            version = json_is_integer(v) ? json_integer_value(v) : 0;
            if (rt_discovery_same_content(props, r->props)) {
                known_set(D, key, hash, version);
                json_decref(answer);
                return 0;
            }
        }
        json_decref(answer);
        answer = NULL;
    }
    body = json_pack("{s:O}", "properties", r->props);
    if (!body)
        return -1;
    json_object_set_new(json_object_get(body, "properties"), "discoveryId",
                        json_string(rt->opt.instance             ? rt->opt.instance
                                    : rt->conn && rt->conn->name ? rt->conn->name
                                                                 : "connector"));
    json_object_set_new(json_object_get(body, "properties"), "version", json_integer(version + 1));
    http = 0;
    st = fpc_reg_request(rt->reg, "PUT", path, body, &http, &answer, err, sizeof err);
    json_decref(body);
    if (st != FP_OK || http < 200 || http >= 300) {
        char *ans = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
        fp_log_warn(MOD, "PUT %s failed: %s", path, st != FP_OK ? err : ans ? ans : "no body");
        free(ans);
        json_decref(answer);
        return -1;
    }
    json_decref(answer);
    known_set(D, key, hash, version + 1);
    fp_log_info(MOD, "%s %s/%s written (version %lld)", coll, r->ns, r->name,
                (long long)(version + 1));
    return 0;
}

static void report_free(report *r)
{
    fp_free(r->ns);
    fp_free(r->name);
    json_decref(r->props);
    fp_free(r);
}

static bool same_name(const report *a, const report *b)
{
    return a->asset == b->asset && !strcmp(a->ns, b->ns) && !strcmp(a->name, b->name);
}

static void *discovery_main(void *arg)
{
    struct rt_discovery *D = arg;

    pthread_mutex_lock(&D->mu);
    for (;;) {
        int64_t now = fp_mono_ms(), next = now + 1000;
        report *r = NULL;
        bool final = D->stop;

        for (report **pp = &D->queue; *pp; pp = &(*pp)->next) {
            if (final || (*pp)->next_try_ms <= now) {
                r = *pp;
                *pp = r->next;
                r->next = NULL;
                break;
            }
            if ((*pp)->next_try_ms < next)
                next = (*pp)->next_try_ms;
        }
        if (!r) {
            if (final)
                break;
            fp_cond_wait_until(&D->cv, &D->mu, (uint64_t)next);
            continue;
        }
        pthread_mutex_unlock(&D->mu);
        int rc = write_report(D, r);
        pthread_mutex_lock(&D->mu);
        if (rc == 0 || final) {
            if (rc)
                fp_log_warn(MOD, "discovered %s %s/%s not written before shutdown",
                            r->asset ? "asset" : "device", r->ns, r->name);
            report_free(r);
            continue;
        }
        /* Retry unless a newer report of the same name came in meanwhile. */
        bool newer = false;
        for (report *q = D->queue; q; q = q->next)
            newer |= same_name(q, r);
        if (newer) {
            report_free(r);
            continue;
        }
        r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : BACKOFF_MIN_MS;
        if (r->backoff_ms > BACKOFF_MAX_MS)
            r->backoff_ms = BACKOFF_MAX_MS;
        r->next_try_ms = fp_mono_ms() + r->backoff_ms;
        r->next = D->queue;
        D->queue = r;
    }
    pthread_mutex_unlock(&D->mu);
    return NULL;
}

static int report_queue(fp_rt *rt, bool asset, const char *ns, const char *name,
                        const json_t *properties)
{
    struct rt_discovery *D = rt ? rt->discovery : NULL;
    char why[256];
    report *r;

    if (fp_model_name_check(FP_KIND_NAMESPACE, ns, why, sizeof why) != FP_OK) {
        fp_log_warn(MOD, "%s; discovered %s not reported", why, asset ? "asset" : "device");
        return -1;
    }
    if (!rt_discovery_name_ok(asset, name, why, sizeof why)) {
        fp_log_warn(MOD, "%s; not reported", why);
        return -1;
    }
    if (properties && !json_is_object(properties)) {
        fp_log_warn(MOD, "discovered %s '%s': properties must be a JSON object",
                    asset ? "asset" : "device", name);
        return -1;
    }
    if (!D) {
        fp_log_warn(MOD, "discovered %s '%s' dropped: discovery reporting is not running",
                    asset ? "asset" : "device", name);
        return -1;
    }
    r = fp_calloc(1, sizeof *r);
    if (!r)
        return -1;
    r->asset = asset;
    r->ns = fp_strdup(ns);
    r->name = fp_strdup(name);
    r->props = properties ? json_deep_copy(properties) : json_object();
    if (!r->ns || !r->name || !r->props) {
        report_free(r);
        return -1;
    }
    pthread_mutex_lock(&D->mu);
    for (report **pp = &D->queue; *pp; pp = &(*pp)->next) {
        if (same_name(*pp, r)) {
            report *old = *pp;
            r->next = old->next;
            *pp = r;
            report_free(old);
            r = NULL;
            break;
        }
    }
    if (r) {
        r->next = D->queue;
        D->queue = r;
    }
    pthread_cond_signal(&D->cv);
    pthread_mutex_unlock(&D->mu);
    return 0;
}

int fp_discovered_device_report(fp_rt *rt, const char *ns, const char *name,
                                const json_t *properties)
{
    return report_queue(rt, false, ns, name, properties);
}

int fp_discovered_asset_report(fp_rt *rt, const char *ns, const char *name,
                               const json_t *properties)
{
    return report_queue(rt, true, ns, name, properties);
}

/* ---- names ----------------------------------------------------------------------------------- */

/* Append z to out as part of a name: lowercase letters and digits, any other run one '-'. */
static void name_append(char *out, size_t cap, const char *z)
{
    size_t len = strlen(out);
    for (; z && *z && len + 1 < cap; z++) {
        unsigned char c = (unsigned char)*z;
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            out[len++] = (char)c;
        else if (len > 0 && out[len - 1] != '-')
            out[len++] = '-';
    }
    out[len] = '\0';
}

/* FNV-1a: a stable hash of a thing's identity, the same in every release. */
static uint32_t name_hash(const char *z)
{
    uint32_t h = 2166136261u;
    for (; z && *z; z++)
        h = (h ^ (unsigned char)*z) * 16777619u;
    return h;
}

void fp_discovered_name(char out[FP_DISCOVERED_NAME_BUF], const char *prefix, const char *text,
                        const char *key, bool with_hash)
{
    /* Discovered devices and assets share one rule; a name that fits both fits either. */
    const fp_name_rule *a = fp_model_name_rule(FP_KIND_DISCOVERED_ASSET);
    const fp_name_rule *d = fp_model_name_rule(FP_KIND_DISCOVERED_DEVICE);
    size_t max = a->max_len < d->max_len ? a->max_len : d->max_len;
    size_t min = a->min_len > d->min_len ? a->min_len : d->min_len;
    char buf[512] = "";
    size_t len;

    if (max > FP_DISCOVERED_NAME_BUF - 1)
        max = FP_DISCOVERED_NAME_BUF - 1;
    name_append(buf, sizeof buf, prefix);
    if (text && *text) {
        if (buf[0])
            name_append(buf, sizeof buf, "-");
        name_append(buf, sizeof buf, text);
    }
    len = strlen(buf);
    while (len > 0 && buf[len - 1] == '-')
        buf[--len] = '\0';
    if (len < min || len > max)
        with_hash = true;
    if (with_hash) {
        char hash[8];
        snprintf(hash, sizeof hash, "%06x", (unsigned)(name_hash(key) & 0xffffffu));
        if (len > max - 7)
            len = max - 7;
        buf[len] = '\0';
        while (len > 0 && buf[len - 1] == '-')
            buf[--len] = '\0';
        if (len > 0)
            buf[len++] = '-';
        memcpy(buf + len, hash, 7);
    }
    const char *p = buf;
    while (*p == '-')
        p++;
    len = strnlen(p, max);
    memcpy(out, p, len);
    out[len] = '\0';
}

int rt_discovery_start(fp_rt *rt)
{
    struct rt_discovery *D = fp_calloc(1, sizeof *D);

    if (!D)
        return -1;
    D->rt = rt;
    pthread_mutex_init(&D->mu, NULL);
    fp_cond_init(&D->cv);
    if (pthread_create(&D->thread, NULL, discovery_main, D) != 0) {
        pthread_mutex_destroy(&D->mu);
        pthread_cond_destroy(&D->cv);
        fp_free(D);
        return -1;
    }
    rt->discovery = D;
    return 0;
}

void rt_discovery_stop(fp_rt *rt)
{
    struct rt_discovery *D = rt ? rt->discovery : NULL;

    if (!D)
        return;
    pthread_mutex_lock(&D->mu);
    D->stop = true;
    pthread_cond_signal(&D->cv);
    pthread_mutex_unlock(&D->mu);
    pthread_join(D->thread, NULL);
    rt->discovery = NULL;
    while (D->known) {
        known *k = D->known;
        D->known = k->next;
        fp_free(k->key);
        fp_free(k);
    }
    while (D->queue) {
        report *r = D->queue;
        D->queue = r->next;
        report_free(r);
    }
    pthread_mutex_destroy(&D->mu);
    pthread_cond_destroy(&D->cv);
    fp_free(D);
}
