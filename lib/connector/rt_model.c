/*
 * rt_model.c - the connector runtime's objects, built from device and asset documents.
 *
 * The sync thread (rt_sync.c) decides what exists; this file turns documents into the
 * objects of connector.h, fills the connector's configuration structs from its rows, and
 * applies changes as the smallest set of callbacks: a child whose inputs did not change
 * (equal JSON, rt_canon) is left alone, a changed one is updated (or removed and added),
 * and nothing else restarts. Every callback runs on the endpoint's strand; the sync
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
#define DEFAULT_ACTION_TIMEOUT_S 100

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

static const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* A non-empty string member, else def. */
static const char *jstr_or(const json_t *o, const char *key, const char *def)
{
    const char *s = jstr(o, key);
    return s && *s ? s : def;
}

static char *str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *str_printf(const char *fmt, ...)
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
static const char *json_kind(const json_t *v)
{
    return json_is_integer(v) ? "an integer" : fp_json_kind(v);
}

/* Canonical text of a JSON value for comparisons (NULL-safe; "" on failure). */
static char *canon_of(json_t *v)
{
    char *z = v ? json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    char *out = fp_strdup(z ? z : "");
    free(z);
    return out;
}

static json_t *jref(const json_t *v)
{
    return v ? json_incref((json_t *)v) : json_null();
}

/* ---- configuration rows -----------------------------------------------------------------------
 */

/* The value at a dotted key ("session.timeoutMilliseconds") of obj, or NULL. */
static const json_t *lookup_dotted(const json_t *obj, const char *key)
{
    const json_t *cur = obj;
    const char *p = key;
    char part[128];
    while (json_is_object(cur)) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof part)
            return NULL;
        memcpy(part, p, n);
        part[n] = '\0';
        cur = json_object_get(cur, part);
        if (!dot)
            return cur;
        p = dot + 1;
    }
    return NULL;
}

static size_t cfg_type_size(fp_cfg_type t)
{
    switch (t) {
    case FP_CFG_INT:
        return sizeof(int64_t);
    case FP_CFG_DOUBLE:
        return sizeof(double);
    case FP_CFG_BOOL:
        return sizeof(bool);
    case FP_CFG_STRING:
        return sizeof(char *);
    default:
        return sizeof(json_t *);
    }
}

/* Fill one row from v (NULL: from the default). `where` names the level for errors. */
static int fill_row(const fp_config_key *row, const json_t *v, const char *where, char *dst,
                    char *err, size_t err_len)
{
    switch (row->type) {
    case FP_CFG_INT: {
        int64_t x = 0;
        if (v) {
            if (!json_is_integer(v)) {
                snprintf(err, err_len, "%s: %s must be an integer, not %s", where, row->key,
                         json_kind(v));
                return -1;
            }
            x = (int64_t)json_integer_value(v);
        } else if (row->def) {
            char *end;
            errno = 0;
            long long ll = strtoll(row->def, &end, 10);
            if (errno || end == row->def || *end) {
                snprintf(err, err_len, "configuration row %s: bad default \"%s\"", row->key,
                         row->def);
                return -1;
            }
            x = ll;
        }
        if ((row->min || row->max) && (v || row->def) && (x < row->min || x > row->max)) {
            snprintf(err, err_len,
                     "%s: %s = %" PRId64 " is out of range [%" PRId64 ", %" PRId64 "]", where,
                     row->key, x, row->min, row->max);
            return -1;
        }
        memcpy(dst, &x, sizeof x);
        return 0;
    }
    case FP_CFG_DOUBLE: {
        double x = 0;
        if (v) {
            if (!json_is_number(v)) {
                snprintf(err, err_len, "%s: %s must be a number, not %s", where, row->key,
                         json_kind(v));
                return -1;
            }
            x = json_number_value(v);
        } else if (row->def) {
            char *end;
            x = strtod(row->def, &end);
            if (end == row->def || *end) {
                snprintf(err, err_len, "configuration row %s: bad default \"%s\"", row->key,
                         row->def);
                return -1;
            }
        }
        if ((row->min || row->max) && (v || row->def) &&
            (x < (double)row->min || x > (double)row->max)) {
            snprintf(err, err_len, "%s: %s = %g is out of range [%" PRId64 ", %" PRId64 "]", where,
                     row->key, x, row->min, row->max);
            return -1;
        }
        memcpy(dst, &x, sizeof x);
        return 0;
    }
    case FP_CFG_BOOL: {
        bool x = false;
        if (v) {
            if (!json_is_boolean(v)) {
                snprintf(err, err_len, "%s: %s must be true or false, not %s", where, row->key,
                         json_kind(v));
                return -1;
            }
            x = json_is_true(v);
        } else if (row->def) {
            if (!strcmp(row->def, "true"))
                x = true;
            else if (strcmp(row->def, "false") != 0) {
                snprintf(err, err_len, "configuration row %s: bad default \"%s\"", row->key,
                         row->def);
                return -1;
            }
        }
        memcpy(dst, &x, sizeof x);
        return 0;
    }
    case FP_CFG_STRING: {
        const char *s = NULL;
        if (v) {
            if (!json_is_string(v)) {
                snprintf(err, err_len, "%s: %s must be a string, not %s", where, row->key,
                         json_kind(v));
                return -1;
            }
            s = json_string_value(v);
        } else {
            s = row->def;
        }
        char *copy = NULL;
        if (s && !(copy = fp_strdup(s))) {
            snprintf(err, err_len, "%s: out of memory", row->key);
            return -1;
        }
        memcpy(dst, &copy, sizeof copy);
        return 0;
    }
    case FP_CFG_JSON: {
        /* Borrowed; a JSON row has no default (the connector sees NULL when unset). */
        const json_t *x = v;
        memcpy(dst, &x, sizeof x);
        return 0;
    }
    }
    snprintf(err, err_len, "configuration row %s: unknown type", row->key);
    return -1;
}

/* Free the strings of the config struct at cfg (not the struct itself). */
static void config_clear(const fp_connector *conn, fp_cfg_scope scope, char *cfg)
{
    if (!cfg)
        return;
    for (const fp_config_key *row = conn->config; row && row->key; row++) {
        if (row->scope != scope || row->type != FP_CFG_STRING)
            continue;
        char *s;
        memcpy(&s, cfg + row->offset, sizeof s);
        fp_free(s);
    }
}

void rt_config_free(const fp_connector *conn, fp_cfg_scope scope, void *cfg)
{
    config_clear(conn, scope, cfg);
    fp_free(cfg);
}

/* Fill the zeroed config struct at cfg (conn->config_size[scope] bytes) from the chain. On
 * failure its strings are freed again and err says why. */
static int config_fill_into(const fp_connector *conn, fp_cfg_scope scope, const rt_cfg_level *chain,
                            size_t n_chain, char *cfg, char *err, size_t err_len)
{
    size_t size = conn->config_size[scope];
    for (const fp_config_key *row = conn->config; row && row->key; row++) {
        if (row->scope != scope)
            continue;
        if (row->offset + cfg_type_size(row->type) > size) {
            snprintf(err, err_len, "configuration row %s: offset beyond the struct's size",
                     row->key);
            goto out_fail;
        }
        const json_t *v = NULL;
        const char *where = "default";
        for (size_t i = 0; i < n_chain; i++) {
            const json_t *x = chain[i].json ? lookup_dotted(chain[i].json, row->key) : NULL;
            if (!x || json_is_null(x))
                continue;
            if (row->type == FP_CFG_INT && json_is_integer(x) && json_integer_value(x) == -1)
                continue; /* -1: "not set" in the resource model */
            v = x;
            where = chain[i].label;
            break;
        }
        if (fill_row(row, v, where, cfg + row->offset, err, err_len) != 0)
            goto out_fail;
    }
    return 0;

out_fail:
    config_clear(conn, scope, cfg);
    memset(cfg, 0, size);
    return -1;
}

int rt_config_fill(const fp_connector *conn, fp_cfg_scope scope, const rt_cfg_level *chain,
                   size_t n_chain, void **cfg_out, char *err, size_t err_len)
{
    *cfg_out = NULL;
    size_t size = conn->config_size[scope];
    if (size == 0)
        return 0;
    char *cfg = fp_calloc(1, size);
    if (!cfg) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    if (config_fill_into(conn, scope, chain, n_chain, cfg, err, err_len) != 0) {
        fp_free(cfg);
        return -1;
    }
    *cfg_out = cfg;
    return 0;
}

/* Configurations that are absent or empty (the usual case for data points and the asset's
 * defaults) share one empty object, never modified (config_json is const to connectors),
 * rather than an empty object each: about 200 bytes each. A reference for the caller, or
 * NULL. */
static json_t *g_empty_cfg;
static pthread_once_t g_empty_once = PTHREAD_ONCE_INIT;

static void empty_cfg_init(void)
{
    g_empty_cfg = json_object();
}

static json_t *shared_empty(void)
{
    pthread_once(&g_empty_once, empty_cfg_init);
    return g_empty_cfg ? json_incref(g_empty_cfg) : json_object();
}

/* Append the reference cfg to a child's keep array. The shared empty object lives as long
 * as the process, so its reference is dropped instead of kept (a slot per data point). */
static void keep_add(json_t *keep, json_t *cfg)
{
    if (cfg && cfg == g_empty_cfg)
        json_decref(cfg);
    else
        json_array_append_new(keep, cfg);
}

json_t *rt_config_parse(const json_t *obj, const char *field, const char *label, char *err,
                        size_t err_len)
{
    const json_t *v = json_object_get(obj, field);
    if (!v || json_is_null(v))
        return shared_empty();
    if (json_is_object(v))
        return json_deep_copy(v); /* already parsed by whoever wrote the document */
    if (!json_is_string(v)) {
        snprintf(err, err_len, "%s is not a JSON object: it is %s", label, json_kind(v));
        return NULL;
    }
    const char *s = json_string_value(v);
    if (!*s)
        return shared_empty();
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    if (!j) {
        snprintf(err, err_len, "%s is not a JSON object: %s", label, je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        snprintf(err, err_len, "%s is not a JSON object: it is %s", label, json_kind(j));
        json_decref(j);
        return NULL;
    }
    return j;
}

/* ---- names, destinations ----------------------------------------------------------------------
 */

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

void rt_schema_name(const char *a, const char *b, const char *c, char out[65])
{
    char raw[1024];
    snprintf(raw, sizeof raw, "%s-%s%s%s", a ? a : "", b ? b : "", c ? "-" : "", c ? c : "");
    char buf[1024];
    size_t n = 0;
    for (const char *p = raw; *p && n < sizeof buf - 1; p++) {
        char ch = (char)tolower((unsigned char)*p);
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
        if (!ok)
            ch = '-';
        if (ch == '-' && (n == 0 || buf[n - 1] == '-'))
            continue; /* no leading or doubled dashes */
        buf[n++] = ch;
    }
    while (n > 0 && buf[n - 1] == '-')
        n--;
    buf[n] = '\0';
    if (n >= 3 && n <= 64) {
        memcpy(out, buf, n + 1);
        return;
    }
    /* Too long or too short: keep what fits and tell names apart by a hash of the input. */
    char hash[9];
    snprintf(hash, sizeof hash, "%08x", (unsigned)fnv1a(raw));
    if (n > 55)
        n = 55;
    while (n > 0 && buf[n - 1] == '-')
        n--;
    buf[n] = '\0';
    if (n)
        buf[n++] = '-';
    memcpy(buf + n, hash, sizeof hash);
    memcpy(out, buf, n + sizeof hash);
}

static const json_t *nonempty_array(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_array(v) && json_array_size(v) > 0 ? v : NULL;
}

const json_t *rt_dests_dataset(const json_t *asset_props, const json_t *ds)
{
    const json_t *d = nonempty_array(ds, "destinations");
    return d ? d : nonempty_array(asset_props, "defaultDatasetsDestinations");
}

const json_t *rt_dests_group(const json_t *asset_props, const json_t *group)
{
    const json_t *d = nonempty_array(group, "defaultDestinations");
    return d ? d : nonempty_array(asset_props, "defaultEventsDestinations");
}

const json_t *rt_dests_event(const json_t *asset_props, const json_t *group, const json_t *ev)
{
    const json_t *d = nonempty_array(ev, "destinations");
    return d ? d : rt_dests_group(asset_props, group);
}

const json_t *rt_dests_stream(const json_t *asset_props, const json_t *st)
{
    const json_t *d = nonempty_array(st, "destinations");
    return d ? d : nonempty_array(asset_props, "defaultStreamsDestinations");
}

/* ---- secrets ----------------------------------------------------------------------------------
 */

void rt_secrets_free(rt_secrets *sec)
{
    if (!sec)
        return;
    char **all[] = {&sec->username, &sec->password,     &sec->cert,
                    &sec->key,      &sec->intermediate, &sec->trust};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (*all[i]) {
            /* Secrets do not linger in freed memory. */
            volatile char *p = *all[i];
            while (*p)
                *p++ = 0;
            fp_free(*all[i]);
        }
    }
    fp_free(sec);
}

/* The secret references of an endpoint, by the slot they resolve into. */
typedef struct secret_ref {
    const char *ref;
    const char *field;
    char **slot;
} secret_ref;

static size_t secret_refs(const json_t *ep_json, rt_secrets *sec, secret_ref refs[6])
{
    const json_t *auth = json_object_get(ep_json, "authentication");
    const char *method = jstr(auth, "method");
    size_t n = 0;
    rt_secrets dummy;
    if (!sec)
        sec = &dummy;
    if (method && !strcasecmp(method, "UsernamePassword")) {
        const json_t *up = json_object_get(auth, "usernamePasswordCredentials");
        refs[n++] = (secret_ref){jstr(up, "usernameSecretName"),
                                 "usernamePasswordCredentials.usernameSecretName", &sec->username};
        refs[n++] = (secret_ref){jstr(up, "passwordSecretName"),
                                 "usernamePasswordCredentials.passwordSecretName", &sec->password};
    } else if (method && !strcasecmp(method, "Certificate")) {
        const json_t *x = json_object_get(auth, "x509Credentials");
        refs[n++] = (secret_ref){jstr(x, "certificateSecretName"),
                                 "x509Credentials.certificateSecretName", &sec->cert};
        refs[n++] =
            (secret_ref){jstr(x, "keySecretName"), "x509Credentials.keySecretName", &sec->key};
        refs[n++] =
            (secret_ref){jstr(x, "intermediateCertificatesSecretName"),
                         "x509Credentials.intermediateCertificatesSecretName", &sec->intermediate};
    }
    refs[n++] = (secret_ref){jstr(json_object_get(ep_json, "trustSettings"), "trustList"),
                             "trustSettings.trustList", &sec->trust};
    return n;
}

bool rt_secrets_refer(const json_t *ep_json, const char *name)
{
    secret_ref refs[6];
    size_t n = secret_refs(ep_json, NULL, refs);
    size_t len = strlen(name);
    for (size_t i = 0; i < n; i++) {
        const char *r = refs[i].ref;
        if (r && !strncmp(r, name, len) && (r[len] == '\0' || r[len] == '/'))
            return true;
    }
    return false;
}

fp_status rt_secrets_resolve(fp_rt *rt, const char *ns, const json_t *ep_json, rt_secrets **out)
{
    rt_secrets *sec = fp_calloc(1, sizeof *sec);
    if (!sec)
        return FP_ERR_NOMEM;
    secret_ref refs[6];
    size_t n = secret_refs(ep_json, sec, refs);
    for (size_t i = 0; i < n; i++) {
        if (!refs[i].ref || !*refs[i].ref)
            continue;
        char err[512] = "";
        fp_status st = fpc_reg_secret(rt->reg, ns, refs[i].ref, refs[i].slot, err, sizeof err);
        if (st == FP_OK)
            continue;
        if (st == FP_ERR_UNAVAILABLE || st == FP_ERR_NOMEM) {
            rt_secrets_free(sec);
            return st;
        }
        char msg[700];
        snprintf(msg, sizeof msg, "%s: secret \"%s\" %s (%s)", refs[i].field, refs[i].ref,
                 st == FP_ERR_NOT_FOUND ? "not found" : "cannot be read", err);
        rt_error_set(&sec->error, st == FP_ERR_NOT_FOUND ? "SecretNotFound" : "SecretError", msg);
        break;
    }
    *out = sec;
    return FP_OK;
}

/* A digest of the resolved values, so a changed secret changes the endpoint's canon
 * without the canon holding the secret itself. */
static void secrets_digest(const rt_secrets *sec, char hex[65])
{
    unsigned char md[32];
    fp_sha256_ctx ctx;
    fp_sha256_init(&ctx);
    const char *all[] = {sec->username, sec->password,     sec->cert,
                         sec->key,      sec->intermediate, sec->trust};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const char *v = all[i] ? all[i] : "";
        uint64_t len = all[i] ? strlen(v) + 1 : 0; /* NULL and "" differ */
        fp_sha256_update(&ctx, &len, sizeof len);
        fp_sha256_update(&ctx, v, strlen(v));
    }
    fp_sha256_final(&ctx, md);
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* ---- health and errors of the objects -----------------------------------------------------------
 */

static void out_error(rt_out *o, const char *code, const char *msg)
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

/* ---- building children --------------------------------------------------------------------------
 */

enum { K_DS = 0, K_EG, K_ST, K_AC, K_COUNT };

typedef struct kids {
    size_t n[K_COUNT];
    void **v[K_COUNT];
} kids;

/* What the children of one asset are built from. */
typedef struct build_ctx {
    fp_rt *rt;
    rt_asset *as;
    const json_t *doc;
    const json_t *props;
    const char *asset_name;
    const char *subject;
    const char *ep_source;
    json_t *const *def_cfg; /* [4] */
} build_ctx;

static void canon_free(rt_canon *c);

static void dataset_free(fp_rt *rt, rt_dataset *d)
{
    if (!d)
        return;
    fp_timer_cancel(d->sample_timer);
    fp_payload_free(d->payload);
    rt_out_clear(&d->out);
    for (size_t i = 0; i < d->pub.n_points; i++)
        config_clear(rt->conn, FP_CFG_DATAPOINT, d->pub.points[i].config);
    fp_free(d->point_cfgs);
    fp_free(d->pub.points);
    for (size_t i = 0; d->point_errors && i < d->pub.n_points; i++)
        fp_free(d->point_errors[i]);
    fp_free(d->point_errors);
    rt_config_free(rt->conn, FP_CFG_DATASET, d->pub.config);
    json_decref(d->json);
    json_decref(d->keep);
    canon_free(d->canon);
    fp_free(d);
}

static void group_free(fp_rt *rt, rt_event_group *g)
{
    if (!g)
        return;
    rt_out_clear(&g->out);
    for (size_t i = 0; i < g->pub.n_events; i++) {
        if (g->ev_out)
            rt_out_clear(&g->ev_out[i]);
        rt_config_free(rt->conn, FP_CFG_EVENT, g->pub.events[i].config);
    }
    fp_free(g->ev_out);
    fp_free(g->pub.events);
    rt_config_free(rt->conn, FP_CFG_EVENT_GROUP, g->pub.config);
    json_decref(g->json);
    json_decref(g->keep);
    canon_free(g->canon);
    fp_free(g);
}

static void stream_free(fp_rt *rt, rt_stream *s)
{
    if (!s)
        return;
    rt_out_clear(&s->out);
    rt_config_free(rt->conn, FP_CFG_STREAM, s->pub.config);
    json_decref(s->json);
    json_decref(s->keep);
    canon_free(s->canon);
    fp_free(s);
}

static void action_free(fp_rt *rt, rt_action *a)
{
    if (!a)
        return;
    rt_config_free(rt->conn, FP_CFG_ACTION, a->pub.config);
    pthread_mutex_destroy(&a->lock);
    json_decref(a->json);
    json_decref(a->keep);
    fp_free(a->key);
    canon_free(a->canon);
    fp_free(a);
}

static char *out_type(const char *base, const char *type_ref)
{
    return type_ref && *type_ref ? str_printf("%s/%s", base, type_ref) : fp_strdup(base);
}

static char *out_source(const char *ep_source, const char *data_source)
{
    return data_source && *data_source ? str_printf("ms-aio:%s/%s", ep_source, data_source)
                                       : str_printf("ms-aio:%s", ep_source);
}

/* Canon of a child: its own JSON plus the asset-level inputs it depends on. The parts are
 * kept as references and compared with json_equal rather than serialized: a dataset's
 * text would be a few kB for each dataset, and the parts live in the document anyway.
 * NULL when out of memory. */
static rt_canon *child_canon(const build_ctx *b, const json_t *self, const char *def_cfg_key,
                             const char *def_dest_key, const json_t *extra)
{
    size_t n_subject = strlen(b->subject) + 1, n_source = strlen(b->ep_source) + 1;
    rt_canon *c = fp_malloc(sizeof *c + n_subject + n_source);
    if (!c)
        return NULL;
    c->self = jref(self);
    c->def_cfg = jref(json_object_get(b->props, def_cfg_key));
    c->def_dests = def_dest_key ? jref(json_object_get(b->props, def_dest_key)) : NULL;
    c->extra = extra ? jref(extra) : NULL;
    memcpy(c->names, b->subject, n_subject);
    memcpy(c->names + n_subject, b->ep_source, n_source);
    return c;
}

static void canon_free(rt_canon *c)
{
    if (!c)
        return;
    json_decref(c->self);
    json_decref(c->def_cfg);
    json_decref(c->def_dests);
    json_decref(c->extra);
    fp_free(c);
}

/* Both absent, or equal values (json_equal answers false for two NULLs). */
static bool jeq(const json_t *a, const json_t *b)
{
    return a == b || (a && b && json_equal(a, b));
}

static bool canon_equal(const rt_canon *a, const rt_canon *b)
{
    const char *src_a = a->names + strlen(a->names) + 1, *src_b = b->names + strlen(b->names) + 1;
    return !strcmp(a->names, b->names) && !strcmp(src_a, src_b) && jeq(a->self, b->self) &&
           jeq(a->def_cfg, b->def_cfg) && jeq(a->def_dests, b->def_dests) &&
           jeq(a->extra, b->extra);
}

static rt_dataset *dataset_build(const build_ctx *b, size_t idx, json_t *ds_json)
{
    fp_rt *rt = b->rt;
    rt_dataset *d = fp_calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->json = json_incref(ds_json);
    d->keep = json_array();
    d->pub.asset = &b->as->pub;
    d->pub.name = jstr_or(ds_json, "name", "");
    d->pub.data_source = jstr_or(ds_json, "dataSource", "");
    d->pub.type_ref = jstr_or(ds_json, "typeRef", NULL);
    d->canon = child_canon(b, ds_json, "defaultDatasetsConfiguration",
                           "defaultDatasetsDestinations", NULL);

    const json_t *points = json_object_get(ds_json, "dataPoints");
    size_t n_points = json_is_array(points) ? json_array_size(points) : 0;
    d->pub.points = fp_calloc(n_points ? n_points : 1, sizeof *d->pub.points);
    d->point_errors = fp_calloc(n_points ? n_points : 1, sizeof *d->point_errors);
    const char **names = fp_calloc(n_points ? n_points : 1, sizeof *names);
    char *type = out_type("DataSet", d->pub.type_ref);
    char *source = out_source(b->ep_source, d->pub.data_source);
    char *subject = str_printf("%s/%s", b->subject, d->pub.name);
    char *topic = str_printf("fieldplane/data/%s/%s/%s", b->as->ns, b->asset_name, d->pub.name);
    char schema[65];
    rt_schema_name(b->asset_name, d->pub.name, NULL, schema);
    if (!d->pub.points || !d->point_errors || !names || !type || !source || !subject || !topic ||
        !d->keep || !d->canon) {
        fp_free(names);
        fp_free(type);
        fp_free(source);
        fp_free(subject);
        fp_free(topic);
        json_decref(d->json);
        json_decref(d->keep);
        fp_free(d->pub.points);
        fp_free(d->point_errors);
        canon_free(d->canon);
        fp_free(d);
        return NULL;
    }
    d->pub.n_points = n_points;
    for (size_t j = 0; j < n_points; j++) {
        const json_t *p = json_array_get(points, j);
        fp_datapoint *dp = &d->pub.points[j];
        dp->dataset = &d->pub;
        dp->name = jstr_or(p, "name", "");
        dp->data_source = jstr_or(p, "dataSource", "");
        dp->type_ref = jstr_or(p, "typeRef", NULL);
        names[j] = dp->name;
    }
    if (rt_out_init(&d->out, rt, rt_dests_dataset(b->props, ds_json), type, source, subject, schema,
                    names, n_points, topic) != 0)
        d->cfg_bad = true;
    fp_free(names);
    fp_free(type);
    fp_free(source);
    fp_free(subject);
    fp_free(topic);

    char label[160], err[700];
    snprintf(label, sizeof label, "datasets[%zu].datasetConfiguration", idx);
    json_t *cfg = rt_config_parse(ds_json, "datasetConfiguration", label, err, sizeof err);
    if (!cfg) {
        out_error(&d->out, "InvalidConfiguration", err);
        d->cfg_bad = true;
        return d;
    }
    keep_add(d->keep, cfg);
    keep_add(d->keep, jref(b->def_cfg[0]));
    d->pub.config_json = cfg;
    rt_cfg_level chain[3] = {
        {cfg, label},
        {b->def_cfg[0], "defaultDatasetsConfiguration"},
    };
    if (rt_config_fill(rt->conn, FP_CFG_DATASET, chain, 2, &d->pub.config, err, sizeof err) != 0) {
        out_error(&d->out, "InvalidConfiguration", err);
        d->cfg_bad = true;
        return d;
    }
    /* The points' config structs in one block: one allocation instead of one per point. */
    size_t pt_size = rt->conn->config_size[FP_CFG_DATAPOINT];
    if (pt_size && n_points) {
        d->point_cfgs = fp_calloc(n_points, pt_size);
        if (!d->point_cfgs) {
            out_error(&d->out, "InvalidConfiguration", "out of memory");
            d->cfg_bad = true;
            return d;
        }
    }
    for (size_t j = 0; j < n_points; j++) {
        const json_t *p = json_array_get(points, j);
        fp_datapoint *dp = &d->pub.points[j];
        char plabel[200];
        snprintf(plabel, sizeof plabel, "datasets[%zu].dataPoints[%zu].dataPointConfiguration", idx,
                 j);
        const json_t *pv = json_object_get(p, "dataPointConfiguration");
        bool none = !pv || json_is_null(pv) || (json_is_string(pv) && !*json_string_value(pv));
        json_t *pcfg = none ? shared_empty() : NULL;
        if (!pcfg)
            pcfg = rt_config_parse(p, "dataPointConfiguration", plabel, err, sizeof err);
        if (pcfg) {
            keep_add(d->keep, pcfg);
            dp->config_json = pcfg;
            chain[0] = (rt_cfg_level){pcfg, plabel};
            chain[1] = (rt_cfg_level){cfg, label};
            chain[2] = (rt_cfg_level){b->def_cfg[0], "defaultDatasetsConfiguration"};
            char *slot = d->point_cfgs ? d->point_cfgs + j * pt_size : NULL;
            if (!slot || config_fill_into(rt->conn, FP_CFG_DATAPOINT, chain, 3, slot, err,
                                          sizeof err) == 0) {
                dp->config = slot;
                continue;
            }
        }
        /* A point's bad configuration stops its dataset: the connector never sees a point
         * without its config struct. */
        rt_error_set_alloc(&d->point_errors[j], "InvalidConfiguration", err);
        out_error(&d->out, "InvalidConfiguration", err);
        d->cfg_bad = true;
    }
    return d;
}

static rt_event_group *group_build(const build_ctx *b, size_t idx, json_t *g_json)
{
    fp_rt *rt = b->rt;
    rt_event_group *g = fp_calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->json = json_incref(g_json);
    g->keep = json_array();
    g->pub.asset = &b->as->pub;
    g->pub.name = jstr_or(g_json, "name", "");
    g->pub.data_source = jstr_or(g_json, "dataSource", "");
    g->pub.type_ref = jstr_or(g_json, "typeRef", NULL);
    g->canon =
        child_canon(b, g_json, "defaultEventsConfiguration", "defaultEventsDestinations", NULL);
    const json_t *events = json_object_get(g_json, "events");
    size_t n_ev = json_is_array(events) ? json_array_size(events) : 0;
    g->pub.events = fp_calloc(n_ev ? n_ev : 1, sizeof *g->pub.events);
    g->ev_out = fp_calloc(n_ev ? n_ev : 1, sizeof *g->ev_out);
    if (!g->pub.events || !g->ev_out || !g->keep || !g->canon) {
        json_decref(g->json);
        json_decref(g->keep);
        fp_free(g->pub.events);
        fp_free(g->ev_out);
        canon_free(g->canon);
        fp_free(g);
        return NULL;
    }
    g->pub.n_events = n_ev;

    char err[700], label[160];
    char schema[65];
    bool oom = false;
    {
        char *type = out_type("Event", g->pub.type_ref);
        char *source = out_source(b->ep_source, g->pub.data_source);
        char *subject = str_printf("%s/%s", b->subject, g->pub.name);
        char *topic = str_printf("fieldplane/data/%s/%s/%s", b->as->ns, b->asset_name, g->pub.name);
        rt_schema_name(b->asset_name, g->pub.name, NULL, schema);
        oom = !type || !source || !subject || !topic;
        if (rt_out_init(&g->out, rt, rt_dests_group(b->props, g_json), type ? type : "",
                        source ? source : "", subject ? subject : "", schema, NULL, 0,
                        topic ? topic : "") != 0)
            g->cfg_bad = true;
        fp_free(type);
        fp_free(source);
        fp_free(subject);
        fp_free(topic);
    }
    for (size_t j = 0; j < n_ev; j++) {
        const json_t *e = json_array_get(events, j);
        fp_event *ev = &g->pub.events[j];
        ev->group = &g->pub;
        ev->name = jstr_or(e, "name", "");
        ev->data_source = jstr_or(e, "dataSource", "");
        ev->type_ref = jstr_or(e, "typeRef", NULL);
        char *type = out_type("Event", ev->type_ref);
        /* An event without a data source of its own comes from the group's. */
        char *source =
            out_source(b->ep_source, *ev->data_source ? ev->data_source : g->pub.data_source);
        char *subject = str_printf("%s/%s/%s", b->subject, g->pub.name, ev->name);
        char *topic = str_printf("fieldplane/data/%s/%s/%s/%s", b->as->ns, b->asset_name,
                                 g->pub.name, ev->name);
        rt_schema_name(b->asset_name, g->pub.name, ev->name, schema);
        oom = oom || !type || !source || !subject || !topic;
        if (rt_out_init(&g->ev_out[j], rt, rt_dests_event(b->props, g_json, e), type ? type : "",
                        source ? source : "", subject ? subject : "", schema, NULL, 0,
                        topic ? topic : "") != 0) {
            out_error(&g->out, "InvalidConfiguration", g->ev_out[j].error.message);
            g->cfg_bad = true;
        }
        fp_free(type);
        fp_free(source);
        fp_free(subject);
        fp_free(topic);
    }
    if (oom) {
        out_error(&g->out, "OutOfMemory", "out of memory building the event group");
        g->cfg_bad = true;
        return g;
    }

    snprintf(label, sizeof label, "eventGroups[%zu].eventGroupConfiguration", idx);
    json_t *cfg = rt_config_parse(g_json, "eventGroupConfiguration", label, err, sizeof err);
    if (!cfg) {
        out_error(&g->out, "InvalidConfiguration", err);
        g->cfg_bad = true;
        return g;
    }
    keep_add(g->keep, cfg);
    keep_add(g->keep, jref(b->def_cfg[1]));
    g->pub.config_json = cfg;
    rt_cfg_level chain[3] = {
        {cfg, label},
        {b->def_cfg[1], "defaultEventsConfiguration"},
    };
    if (rt_config_fill(rt->conn, FP_CFG_EVENT_GROUP, chain, 2, &g->pub.config, err, sizeof err) !=
        0) {
        out_error(&g->out, "InvalidConfiguration", err);
        g->cfg_bad = true;
        return g;
    }
    for (size_t j = 0; j < n_ev; j++) {
        const json_t *e = json_array_get(events, j);
        fp_event *ev = &g->pub.events[j];
        char elabel[200];
        snprintf(elabel, sizeof elabel, "eventGroups[%zu].events[%zu].eventConfiguration", idx, j);
        json_t *ecfg = rt_config_parse(e, "eventConfiguration", elabel, err, sizeof err);
        if (ecfg) {
            keep_add(g->keep, ecfg);
            ev->config_json = ecfg;
            chain[0] = (rt_cfg_level){ecfg, elabel};
            chain[1] = (rt_cfg_level){cfg, label};
            chain[2] = (rt_cfg_level){b->def_cfg[1], "defaultEventsConfiguration"};
            if (rt_config_fill(rt->conn, FP_CFG_EVENT, chain, 3, &ev->config, err, sizeof err) == 0)
                continue;
        }
        out_error(&g->ev_out[j], "InvalidConfiguration", err);
        out_error(&g->out, "InvalidConfiguration", err);
        g->cfg_bad = true;
    }
    return g;
}

static rt_stream *stream_build(const build_ctx *b, size_t idx, json_t *s_json)
{
    fp_rt *rt = b->rt;
    rt_stream *s = fp_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->json = json_incref(s_json);
    s->keep = json_array();
    s->pub.asset = &b->as->pub;
    s->pub.name = jstr_or(s_json, "name", "");
    s->pub.type_ref = jstr_or(s_json, "typeRef", NULL);
    s->canon =
        child_canon(b, s_json, "defaultStreamsConfiguration", "defaultStreamsDestinations", NULL);
    char *source = out_source(b->ep_source, NULL);
    char *subject = str_printf("%s/%s", b->subject, s->pub.name);
    char *topic = str_printf("fieldplane/data/%s/%s/%s", b->as->ns, b->asset_name, s->pub.name);
    if (!s->keep || !s->canon || !source || !subject || !topic) {
        fp_free(source);
        fp_free(subject);
        fp_free(topic);
        json_decref(s->json);
        json_decref(s->keep);
        canon_free(s->canon);
        fp_free(s);
        return NULL;
    }
    if (rt_out_init(&s->out, rt, rt_dests_stream(b->props, s_json), "Stream", source, subject, NULL,
                    NULL, 0, topic) != 0)
        s->cfg_bad = true;
    fp_free(source);
    fp_free(subject);
    fp_free(topic);

    char label[160], err[700];
    snprintf(label, sizeof label, "streams[%zu].streamConfiguration", idx);
    json_t *cfg = rt_config_parse(s_json, "streamConfiguration", label, err, sizeof err);
    if (!cfg) {
        out_error(&s->out, "InvalidConfiguration", err);
        s->cfg_bad = true;
        return s;
    }
    keep_add(s->keep, cfg);
    keep_add(s->keep, jref(b->def_cfg[2]));
    s->pub.config_json = cfg;
    rt_cfg_level chain[2] = {{cfg, label}, {b->def_cfg[2], "defaultStreamsConfiguration"}};
    if (rt_config_fill(rt->conn, FP_CFG_STREAM, chain, 2, &s->pub.config, err, sizeof err) != 0) {
        out_error(&s->out, "InvalidConfiguration", err);
        s->cfg_bad = true;
    }
    return s;
}

static void action_error(rt_action *a, const char *code, const char *msg)
{
    pthread_mutex_lock(&a->lock);
    if (!a->error.set)
        rt_error_set(&a->error, code, msg);
    pthread_mutex_unlock(&a->lock);
    a->cfg_bad = true;
}

static rt_action *action_build(const build_ctx *b, size_t gi, json_t *g_json, size_t ai,
                               json_t *a_json)
{
    fp_rt *rt = b->rt;
    rt_action *a = fp_calloc(1, sizeof *a);
    if (!a)
        return NULL;
    pthread_mutex_init(&a->lock, NULL);
    a->json = json_incref(a_json);
    a->keep = json_array();
    json_array_append(a->keep, g_json); /* group name and defaultTopic are borrowed */
    a->pub.asset = &b->as->pub;
    a->pub.group = jstr_or(g_json, "name", "");
    a->pub.name = jstr_or(a_json, "name", "");
    a->pub.target_uri = jstr_or(a_json, "targetUri", "");
    a->pub.action_type = jstr_or(a_json, "actionType", "Call");
    a->key = str_printf("%s/%s", a->pub.group, a->pub.name);
    /* The group without its actions: a sibling's change does not touch this action. */
    json_t *group = json_deep_copy(g_json);
    json_object_del(group, "actions");
    a->canon = child_canon(b, a_json, "defaultManagementGroupsConfiguration", NULL, group);
    json_decref(group);
    if (!a->keep || !a->key || !a->canon) {
        action_free(rt, a);
        return NULL;
    }
    char prefix[160], err[700];
    snprintf(prefix, sizeof prefix, "managementGroups[%zu].actions[%zu]", gi, ai);
    a->pub.topic = jstr_or(a_json, "topic", jstr_or(g_json, "defaultTopic", NULL));
    const json_t *to = json_object_get(a_json, "timeoutInSeconds");
    if (!json_is_integer(to) || json_integer_value(to) <= 0)
        to = json_object_get(g_json, "defaultTimeoutInSeconds");
    a->pub.timeout_s =
        json_is_integer(to) && json_integer_value(to) > 0 && json_integer_value(to) <= 86400
            ? (int)json_integer_value(to)
            : DEFAULT_ACTION_TIMEOUT_S;
    if (!a->pub.topic) {
        a->pub.topic = "";
        snprintf(err, sizeof err,
                 "%s: no request topic (set topic, or defaultTopic on managementGroups[%zu])",
                 prefix, gi);
        action_error(a, "MissingTopic", err);
        return a;
    }
    char label[200], glabel[200];
    snprintf(label, sizeof label, "%s.actionConfiguration", prefix);
    snprintf(glabel, sizeof glabel, "managementGroups[%zu].managementGroupConfiguration", gi);
    json_t *cfg = rt_config_parse(a_json, "actionConfiguration", label, err, sizeof err);
    json_t *gcfg =
        cfg ? rt_config_parse(g_json, "managementGroupConfiguration", glabel, err, sizeof err)
            : NULL;
    if (!cfg || !gcfg) {
        json_decref(cfg);
        action_error(a, "InvalidConfiguration", err);
        return a;
    }
    keep_add(a->keep, cfg);
    keep_add(a->keep, gcfg);
    keep_add(a->keep, jref(b->def_cfg[3]));
    a->pub.config_json = cfg;
    rt_cfg_level chain[3] = {
        {cfg, label},
        {gcfg, glabel},
        {b->def_cfg[3], "defaultManagementGroupsConfiguration"},
    };
    if (rt_config_fill(rt->conn, FP_CFG_ACTION, chain, 3, &a->pub.config, err, sizeof err) != 0)
        action_error(a, "InvalidConfiguration", err);
    return a;
}

static void kids_free(fp_rt *rt, kids *k);

static int kids_push(kids *k, int kind, void *o)
{
    void **v = fp_realloc(k->v[kind], (k->n[kind] + 1) * sizeof *v);
    if (!v)
        return -1;
    v[k->n[kind]++] = o;
    k->v[kind] = v;
    return 0;
}

/* Build every child of the asset document. On allocation failure what could not be built
 * is left out (and logged); the next change tries again. */
static void kids_build(const build_ctx *b, kids *k)
{
    memset(k, 0, sizeof *k);
    const json_t *arr;
    size_t i;
    json_t *x;

    arr = json_object_get(b->props, "datasets");
    json_array_foreach(arr, i, x)
    {
        rt_dataset *d = dataset_build(b, i, x);
        if (!d || kids_push(k, K_DS, d) != 0) {
            dataset_free(b->rt, d);
            fp_log_error("runtime", "asset %s: out of memory building datasets[%zu]", b->asset_name,
                         i);
        }
    }
    arr = json_object_get(b->props, "eventGroups");
    json_array_foreach(arr, i, x)
    {
        rt_event_group *g = group_build(b, i, x);
        if (!g || kids_push(k, K_EG, g) != 0) {
            group_free(b->rt, g);
            fp_log_error("runtime", "asset %s: out of memory building eventGroups[%zu]",
                         b->asset_name, i);
        }
    }
    arr = json_object_get(b->props, "streams");
    json_array_foreach(arr, i, x)
    {
        rt_stream *s = stream_build(b, i, x);
        if (!s || kids_push(k, K_ST, s) != 0) {
            stream_free(b->rt, s);
            fp_log_error("runtime", "asset %s: out of memory building streams[%zu]", b->asset_name,
                         i);
        }
    }
    arr = json_object_get(b->props, "managementGroups");
    json_array_foreach(arr, i, x)
    {
        size_t j;
        json_t *a_json;
        json_array_foreach(json_object_get(x, "actions"), j, a_json)
        {
            rt_action *a = action_build(b, i, x, j, a_json);
            if (!a || kids_push(k, K_AC, a) != 0) {
                action_free(b->rt, a);
                fp_log_error("runtime",
                             "asset %s: out of memory building managementGroups[%zu].actions[%zu]",
                             b->asset_name, i, j);
            }
        }
    }
}

/* ---- the children, generically -----------------------------------------------------------------
 */

static const char *kid_key(int kind, void *o)
{
    switch (kind) {
    case K_DS:
        return ((rt_dataset *)o)->pub.name;
    case K_EG:
        return ((rt_event_group *)o)->pub.name;
    case K_ST:
        return ((rt_stream *)o)->pub.name;
    default:
        return ((rt_action *)o)->key;
    }
}

static const rt_canon *kid_canon(int kind, void *o)
{
    switch (kind) {
    case K_DS:
        return ((rt_dataset *)o)->canon;
    case K_EG:
        return ((rt_event_group *)o)->canon;
    case K_ST:
        return ((rt_stream *)o)->canon;
    default:
        return ((rt_action *)o)->canon;
    }
}

static bool *kid_started(int kind, void *o)
{
    switch (kind) {
    case K_DS:
        return &((rt_dataset *)o)->started;
    case K_EG:
        return &((rt_event_group *)o)->started;
    case K_ST:
        return &((rt_stream *)o)->started;
    default:
        return &((rt_action *)o)->started;
    }
}

static bool kid_cfg_bad(int kind, void *o)
{
    switch (kind) {
    case K_DS:
        return ((rt_dataset *)o)->cfg_bad;
    case K_EG:
        return ((rt_event_group *)o)->cfg_bad;
    case K_ST:
        return ((rt_stream *)o)->cfg_bad;
    default:
        return ((rt_action *)o)->cfg_bad;
    }
}

static void kid_free(fp_rt *rt, int kind, void *o)
{
    switch (kind) {
    case K_DS:
        dataset_free(rt, o);
        break;
    case K_EG:
        group_free(rt, o);
        break;
    case K_ST:
        stream_free(rt, o);
        break;
    default:
        action_free(rt, o);
        break;
    }
}

static void kids_free(fp_rt *rt, kids *k)
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
    switch (kind) {
    case K_DS: {
        rt_dataset *d = o;
        health_failed(&d->out.lock, &d->out.health, "dataset_add");
        break;
    }
    case K_EG: {
        rt_event_group *g = o;
        health_failed(&g->out.lock, &g->out.health, "event_group_add");
        for (size_t j = 0; j < g->pub.n_events; j++)
            health_failed(&g->ev_out[j].lock, &g->ev_out[j].health, "event_group_add");
        break;
    }
    case K_ST: {
        rt_stream *s = o;
        health_failed(&s->out.lock, &s->out.health, "stream_add");
        break;
    }
    default: {
        rt_action *a = o;
        health_failed(&a->lock, &a->health, "action_add");
        break;
    }
    }
}

static void kid_mark_started(int kind, void *o)
{
    switch (kind) {
    case K_DS:
        health_started(&((rt_dataset *)o)->out.lock, &((rt_dataset *)o)->out.health);
        break;
    case K_EG: {
        rt_event_group *g = o;
        health_started(&g->out.lock, &g->out.health);
        for (size_t j = 0; j < g->pub.n_events; j++)
            health_started(&g->ev_out[j].lock, &g->ev_out[j].health);
        break;
    }
    case K_ST:
        health_started(&((rt_stream *)o)->out.lock, &((rt_stream *)o)->out.health);
        break;
    default: {
        /* Added and subscribed: an error left by an earlier failed subscribe is over. */
        rt_action *a = o;
        pthread_mutex_lock(&a->lock);
        rt_error_set(&a->error, NULL, NULL);
        pthread_mutex_unlock(&a->lock);
        health_started(&a->lock, &a->health);
        break;
    }
    }
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

/* The add callback (a missing callback succeeds). */
static int kid_add(fp_rt *rt, int kind, void *o)
{
    const fp_connector *c = rt->conn;
    int rc = 0;
    switch (kind) {
    case K_DS:
        rc = c->dataset_add ? c->dataset_add(&((rt_dataset *)o)->pub) : 0;
        if (rc == 0 && sample_start(rt, o) != 0) {
            if (c->dataset_remove)
                c->dataset_remove(&((rt_dataset *)o)->pub);
            rc = -1;
        }
        break;
    case K_EG:
        rc = c->event_group_add ? c->event_group_add(&((rt_event_group *)o)->pub) : 0;
        break;
    case K_ST:
        rc = c->stream_add ? c->stream_add(&((rt_stream *)o)->pub) : 0;
        break;
    default: {
        rt_action *a = o;
        rc = c->action_add ? c->action_add(&a->pub) : 0;
        if (rc == 0 && rt_action_subscribe(a) != 0) {
            if (c->action_remove)
                c->action_remove(&a->pub);
            rc = -1;
        }
        break;
    }
    }
    return rc;
}

static void kid_remove(fp_rt *rt, int kind, void *o)
{
    const fp_connector *c = rt->conn;
    bool *started = kid_started(kind, o);
    if (!*started)
        return;
    switch (kind) {
    case K_DS:
        sample_stop(o);
        if (c->dataset_remove)
            c->dataset_remove(&((rt_dataset *)o)->pub);
        break;
    case K_EG:
        if (c->event_group_remove)
            c->event_group_remove(&((rt_event_group *)o)->pub);
        break;
    case K_ST:
        if (c->stream_remove)
            c->stream_remove(&((rt_stream *)o)->pub);
        break;
    default:
        rt_action_unsubscribe(o);
        if (c->action_remove)
            c->action_remove(&((rt_action *)o)->pub);
        break;
    }
    *started = false;
}

static bool kid_has_update(fp_rt *rt, int kind)
{
    const fp_connector *c = rt->conn;
    switch (kind) {
    case K_DS:
        return c->dataset_update != NULL;
    case K_EG:
        return c->event_group_update != NULL;
    case K_ST:
        return c->stream_update != NULL;
    default:
        return false; /* actions have no update: remove + add */
    }
}

/* Hand old's connector state and output state to nw, then call the update callback. */
static int kid_update(fp_rt *rt, int kind, void *nw, void *old)
{
    const fp_connector *c = rt->conn;
    switch (kind) {
    case K_DS: {
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
    case K_EG: {
        rt_event_group *n = nw, *o = old;
        n->pub.user = o->pub.user;
        rt_out_take_state(&n->out, &o->out);
        for (size_t i = 0; i < n->pub.n_events; i++)
            for (size_t j = 0; j < o->pub.n_events; j++)
                if (!strcmp(n->pub.events[i].name, o->pub.events[j].name)) {
                    n->pub.events[i].user = o->pub.events[j].user;
                    rt_out_take_state(&n->ev_out[i], &o->ev_out[j]);
                }
        return c->event_group_update(&n->pub, &o->pub);
    }
    case K_ST: {
        rt_stream *n = nw, *o = old;
        n->pub.user = o->pub.user;
        rt_out_take_state(&n->out, &o->out);
        return c->stream_update(&n->pub, &o->pub);
    }
    default:
        return -1;
    }
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
                kids_push(&dead, kind, o);
            }
        }
    /* 2. same: keep the old object; changed: update, or remove (the add comes later). */
    for (int kind = 0; kind < K_COUNT; kind++)
        for (size_t i = 0; i < nk->n[kind]; i++) {
            void *nw = nk->v[kind][i];
            void *old = kid_find(&cur, kind, kid_key(kind, nw), NULL);
            if (!old)
                continue;
            if (canon_equal(kid_canon(kind, old), kid_canon(kind, nw))) {
                nk->v[kind][i] = old;
                kids_push(&dead, kind, nw);
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
            kids_push(&dead, kind, old);
        }
    /* 3. the new arrays go live; then what they replaced is freed. */
    asset_publish_kids(as, nk); /* frees the old arrays (cur) under the lock */
    kids_free(rt, &dead);
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
    ep->pub.device = jstr_or(device_doc, "name", "");
    ep->pub.name = it ? json_object_iter_key(it) : "";
    ep->pub.type = jstr_or(ep_json, "endpointType", "");
    ep->pub.address = jstr_or(ep_json, "address", "");
    ep->pub.source = jstr_or(props, "externalDeviceId", ep->pub.device);
    ep->pub.device_doc = device_doc;
    ep->pub.username = ep->sec->username;
    ep->pub.password = ep->sec->password;
    ep->pub.cert_pem = ep->sec->cert;
    ep->pub.key_pem = ep->sec->key;
    ep->pub.intermediate_pem = ep->sec->intermediate;
    ep->pub.trust_list_pem = ep->sec->trust;
    ep->device_version = json_integer_value(json_object_get(props, "version"));

    char digest[65];
    secrets_digest(ep->sec, digest);
    json_t *c = json_object();
    json_object_set_new(c, "endpoint", jref(ep_json));
    json_object_set_new(c, "device", json_string(ep->pub.device));
    json_object_set_new(c, "source", json_string(ep->pub.source));
    json_object_set_new(c, "secrets", json_string(digest));
    ep->canon = canon_of(c);
    json_decref(c);

    char label[300], err[700];
    if (!ep_json) {
        snprintf(err, sizeof err, "device %s has no inbound endpoint %s", ep->pub.device, name);
        ep_error_set(ep, "InvalidConfiguration", err);
    }
    const char *method = jstr(json_object_get(ep_json, "authentication"), "method");
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
    const char *name = jstr_or(doc, "name", "");
    build_ctx b = {
        .rt = rt,
        .as = as,
        .doc = doc,
        .props = props,
        .asset_name = name,
        .subject = jstr_or(props, "externalAssetId", name),
        .ep_source = as->ep->pub.source,
        .def_cfg = def_cfg,
    };
    if (!bad)
        kids_build(&b, &nk);
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
    kids_free(rt, &cur);
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
            ep_stop_all_kids(ep);
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
    const char *name = jstr_or(doc, "name", "");
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
        as->pub.subject = jstr_or(json_object_get(doc, "properties"), "externalAssetId", name);
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
