/*
 * client_doc.c - documents on the client side: dot paths into jansson values,
 * turning the flags of a command into fields of a document (the `target` of
 * each flag row), destinations from `--dest` specs, and the conversions between
 * the ARM shape the registry speaks and the Kubernetes custom resources
 * (apiVersion namespaces.deviceregistry.microsoft.com/v1) that `apply` and
 * `export` also accept and write.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client.h"
#include "fp_model_doc.h"
#include "fp_alloc.h"

#define K8S_API_VERSION "namespaces.deviceregistry.microsoft.com/v1"

/* ---------------------------------------------------------------------------
 * Paths
 * ------------------------------------------------------------------------- */

json_t *fp_json_get(const json_t *doc, const char *path)
{
    char key[256];
    const json_t *v = doc;

    while (v && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof key)
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        v = json_object_get(v, key);
        path += n + (dot ? 1 : 0);
    }
    return (json_t *)v;
}

const char *fp_json_str(const json_t *doc, const char *path)
{
    return json_string_value(fp_json_get(doc, path));
}

/* Set value (taken) at a plain dot path of obj, creating objects on the way. */
static int set_plain(json_t *obj, const char *path, json_t *value, char *err, size_t err_len)
{
    char key[256];

    for (;;) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n == 0 || n >= sizeof key || !json_is_object(obj)) {
            snprintf(err, err_len, "cannot set '%s'", path);
            json_decref(value);
            return -1;
        }
        memcpy(key, path, n);
        key[n] = '\0';
        if (!dot)
            return json_object_set_new(obj, key, value) ? -1 : 0;
        json_t *next = json_object_get(obj, key);
        if (!json_is_object(next)) {
            next = json_object();
            if (json_object_set_new(obj, key, next)) {
                json_decref(value);
                return -1;
            }
        }
        obj = next;
        path = dot + 1;
    }
}

int fp_json_set(json_t *doc, const char *path, json_t *value, char *err, size_t err_len)
{
    const char *hash = strchr(path, '#');
    char field[256];
    json_t *inner, *cur;
    const char *text;
    char *dumped;
    int rc;

    if (!value) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    if (!hash)
        return set_plain(doc, path, value, err, err_len);

    /* The field before '#' holds JSON as a string: decode, set, encode. */
    if ((size_t)(hash - path) >= sizeof field) {
        json_decref(value);
        return -1;
    }
    memcpy(field, path, (size_t)(hash - path));
    field[hash - path] = '\0';
    cur = fp_json_get(doc, field);
    text = json_string_value(cur);
    if (text && *text) {
        inner = json_loads(text, 0, NULL);
        if (!json_is_object(inner)) {
            json_decref(inner);
            json_decref(value);
            snprintf(err, err_len, "%s does not hold a JSON object", field);
            return -1;
        }
    } else {
        inner = json_object();
    }
    if (set_plain(inner, hash + 1, value, err, err_len)) {
        json_decref(inner);
        return -1;
    }
    dumped = json_dumps(inner, JSON_COMPACT);
    json_decref(inner);
    if (!dumped)
        return -1;
    rc = set_plain(doc, field, json_string(dumped), err, err_len);
    free(dumped);
    return rc;
}

int fp_json_find_named(const json_t *arr, const char *name)
{
    size_t i;
    const json_t *e;

    json_array_foreach(arr, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n && !strcmp(n, name))
            return (int)i;
    }
    return -1;
}

/* ---------------------------------------------------------------------------
 * Flags to fields
 * ------------------------------------------------------------------------- */

/* Split "k=v" into a new string value stored under k of the map at target. */
static int set_kv(json_t *doc, const char *target, const char *kv, char *err, size_t err_len)
{
    const char *eq = strchr(kv, '=');
    json_t *map = fp_json_get(doc, target);
    char *key;
    int rc;

    if (!json_is_object(map)) {
        if (fp_json_set(doc, target, json_object(), err, err_len))
            return -1;
        map = fp_json_get(doc, target);
    }
    key = fp_strndup(kv, (size_t)(eq - kv));
    if (!key)
        return -1;
    rc = json_object_set_new(map, key, json_string(eq + 1));
    fp_free(key);
    return rc;
}

int fp_apply_flags(fp_ctx *ctx, json_t *doc)
{
    char err[256];

    /* Whole fields first, keys inside JSON-string fields second, so that
     * "--config '{...}' --queue-size 5" changes the given JSON whatever the order. */
    for (int k = 0; k < 2 * ctx->n_args; k++) {
        const fp_argval *a = &ctx->args[k % ctx->n_args];
        const fp_flag *f = a->flag;
        const char *last = a->vals[a->n_val - 1];
        json_t *v = NULL;
        long long n;
        int rc = 0;

        if (!f->target || f->target[0] == '?' || f->target[0] == '=')
            continue;
        if ((k < ctx->n_args) == (strchr(f->target, '#') != NULL))
            continue;
        err[0] = '\0';
        switch (f->type) {
        case FP_FLAG_STR:
            rc = fp_json_set(doc, f->target, json_string(last), err, sizeof err);
            break;
        case FP_FLAG_BOOL:
            rc = fp_json_set(doc, f->target, json_boolean(!(f->opts & FP_F_NEGATE)), err,
                             sizeof err);
            break;
        case FP_FLAG_TF:
            rc = fp_json_set(doc, f->target, json_boolean(!strcmp(last, "true")), err, sizeof err);
            break;
        case FP_FLAG_INT:
            fp_parse_long(last, &n);
            rc = fp_json_set(doc, f->target, json_integer(n), err, sizeof err);
            break;
        case FP_FLAG_JSON:
            /* The ...Configuration fields hold JSON as a string: keep the text compact. */
            v = json_loads(last, JSON_DECODE_ANY, NULL);
            {
                char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
                json_decref(v);
                rc = s ? fp_json_set(doc, f->target, json_string(s), err, sizeof err) : -1;
                free(s);
            }
            break;
        case FP_FLAG_LIST:
            v = json_array();
            for (int j = 0; j < a->n_val; j++)
                json_array_append_new(v, json_string(a->vals[j]));
            rc = fp_json_set(doc, f->target, v, err, sizeof err);
            break;
        case FP_FLAG_KV:
            for (int j = 0; j < a->n_val && !rc; j++)
                rc = set_kv(doc, f->target, a->vals[j], err, sizeof err);
            break;
        case FP_FLAG_UNSET:
            for (int j = 0; j < a->n_val; j++)
                json_object_del(fp_json_get(doc, f->target), a->vals[j]);
            break;
        case FP_FLAG_MSG_EP:
            /* Each endpoint replaces the one of that name; the others stay. */
            for (int j = 0; j < a->n_val && !rc; j++) {
                char *name = NULL;
                json_t *ep = fp_msg_endpoint_parse(a->vals[j], &name, err, sizeof err);
                json_t *map = fp_json_get(doc, f->target);
                if (ep && !json_is_object(map)) {
                    rc = fp_json_set(doc, f->target, json_object(), err, sizeof err);
                    map = fp_json_get(doc, f->target);
                }
                if (!ep || rc || json_object_set_new(map, name, ep)) {
                    if (!rc)
                        json_decref(ep);
                    rc = -1;
                }
                fp_free(name);
            }
            break;
        case FP_FLAG_DEST:
            v = json_array();
            for (int j = 0; j < a->n_val; j++)
                json_array_append_new(v, fp_dest_parse(a->vals[j], err, sizeof err));
            rc = fp_json_set(doc, f->target, v, err, sizeof err);
            break;
        }
        if (rc) {
            fp_errorf(ctx, "--%s: %s", f->name, err[0] ? err : "cannot set the field");
            return FP_EXIT_USAGE;
        }
    }
    return FP_EXIT_OK;
}

json_t *fp_dest_parse(const char *spec, char *err, size_t err_len)
{
    json_t *cfg = json_object(), *dest = json_object();
    const char *target = NULL;
    char *copy = fp_strdup(spec), *save = NULL;

    if (!cfg || !dest || !copy)
        goto fail;
    for (char *tok = strtok_r(copy, " ,;", &save); tok; tok = strtok_r(NULL, " ,;", &save)) {
        char *eq = strchr(tok, '=');
        const char *key = tok, *val;
        long long n;
        if (!eq) {
            snprintf(err, err_len, "'%s' is not KEY=VALUE", tok);
            goto fail;
        }
        *eq = '\0';
        val = eq + 1;
        if (!strcmp(key, "topic")) {
            target = "Mqtt";
            json_object_set_new(cfg, "topic", json_string(val));
        } else if (!strcmp(key, "qos")) {
            if (!strcmp(val, "0") || !strcasecmp(val, "Qos0"))
                json_object_set_new(cfg, "qos", json_string("Qos0"));
            else if (!strcmp(val, "1") || !strcasecmp(val, "Qos1"))
                json_object_set_new(cfg, "qos", json_string("Qos1"));
            else {
                snprintf(err, err_len, "qos must be 0, 1, Qos0 or Qos1, not '%s'", val);
                goto fail;
            }
        } else if (!strcmp(key, "retain")) {
            if (!strcasecmp(val, "Keep") || !strcmp(val, "true"))
                json_object_set_new(cfg, "retain", json_string("Keep"));
            else if (!strcasecmp(val, "Never") || !strcmp(val, "false"))
                json_object_set_new(cfg, "retain", json_string("Never"));
            else {
                snprintf(err, err_len, "retain must be Keep or Never, not '%s'", val);
                goto fail;
            }
        } else if (!strcmp(key, "ttl")) {
            if (!fp_parse_long(val, &n) || n < 0) {
                snprintf(err, err_len, "ttl must be a number of seconds, not '%s'", val);
                goto fail;
            }
            json_object_set_new(cfg, "ttl", json_integer(n));
        } else if (!strcmp(key, "key")) {
            target = "BrokerStateStore";
            json_object_set_new(cfg, "key", json_string(val));
        } else if (!strcmp(key, "path")) {
            target = "Storage";
            json_object_set_new(cfg, "path", json_string(val));
        } else {
            snprintf(err, err_len,
                     "unknown destination key '%s' (topic, qos, retain, ttl, key, path)", key);
            goto fail;
        }
    }
    if (!target) {
        snprintf(err, err_len, "a destination needs topic=..., key=... or path=...");
        goto fail;
    }
    if (strcmp(target, "Mqtt") && (json_object_get(cfg, "qos") || json_object_get(cfg, "ttl") ||
                                   json_object_get(cfg, "retain") || json_object_size(cfg) > 1)) {
        snprintf(err, err_len, "qos, retain and ttl go with topic=... only, one target per --dest");
        goto fail;
    }
    json_object_set_new(dest, "target", json_string(target));
    json_object_set_new(dest, "configuration", cfg);
    fp_free(copy);
    return dest;
fail:
    json_decref(cfg);
    json_decref(dest);
    fp_free(copy);
    return NULL;
}

json_t *fp_msg_endpoint_parse(const char *spec, char **name_out, char *err, size_t err_len)
{
    const char *eq = strchr(spec, '=');
    const char *comma, *addr, *type = NULL;
    size_t type_len = 0;
    json_t *ep;

    *name_out = NULL;
    if (!eq || eq == spec) {
        snprintf(err, err_len, "'%s' is not NAME=TYPE,ADDRESS", spec);
        return NULL;
    }
    comma = strchr(eq + 1, ',');
    addr = eq + 1;
    /* A type is a word like Microsoft.Mqtt: what comes before the first comma
     * is the type only when it has no ':' or '/', so that an address with
     * commas and no type ("NAME=mqtt://a,b") stays whole. */
    if (comma && !memchr(eq + 1, ':', (size_t)(comma - eq - 1)) &&
        !memchr(eq + 1, '/', (size_t)(comma - eq - 1))) {
        type = eq + 1;
        type_len = (size_t)(comma - type);
        addr = comma + 1;
        if (!type_len) {
            snprintf(err, err_len, "the endpoint type in '%s' is empty", spec);
            return NULL;
        }
    }
    if (!*addr) {
        snprintf(err, err_len, "the address in '%s' is empty", spec);
        return NULL;
    }
    ep = json_pack("{s:s}", "address", addr);
    if (ep && type && json_object_set_new(ep, "endpointType", json_stringn(type, type_len))) {
        json_decref(ep);
        ep = NULL;
    }
    *name_out = ep ? fp_strndup(spec, (size_t)(eq - spec)) : NULL;
    if (!ep || !*name_out) {
        json_decref(ep);
        fp_free(*name_out);
        *name_out = NULL;
        snprintf(err, err_len, "out of memory (or not UTF-8): '%s'", spec);
        return NULL;
    }
    return ep;
}

/* ---------------------------------------------------------------------------
 * Kinds and conversions
 * ------------------------------------------------------------------------- */

const char *fp_rkind_name(fp_rkind k)
{
    return fp_kind_name((fp_kind)k);
}

const char *fp_rkind_collection(fp_rkind k)
{
    return fp_kind_collection((fp_kind)k);
}

const char *fp_rkind_arm_type(fp_rkind k)
{
    return fp_kind_arm_type((fp_kind)k);
}

/* The kind of a Kubernetes kind or ARM type string, among those the client writes. */
static fp_rkind kind_of(const char *z)
{
    if (!z)
        return FP_RK_UNKNOWN;
    for (int k = FP_RK_NAMESPACE; k <= FP_RK_ASSET; k++)
        if (!strcasecmp(z, fp_rkind_name((fp_rkind)k)) ||
            !strcasecmp(z, fp_rkind_arm_type((fp_rkind)k)))
            return (fp_rkind)k;
    return FP_RK_UNKNOWN;
}

json_t *fp_doc_spec(const json_t *doc)
{
    static const char *const envelope[] = {"etag", "systemData", "id", "type", NULL};
    static const char *const props[] = {
        "uuid", "version", "provisioningState", "lastTransitionTime", "status", NULL};
    json_t *c = json_deep_copy(doc);
    json_t *p;

    if (!c)
        return NULL;
    for (int i = 0; envelope[i]; i++)
        json_object_del(c, envelope[i]);
    p = json_object_get(c, "properties");
    for (int i = 0; p && props[i]; i++)
        json_object_del(p, props[i]);
    return c;
}

/* Take the namespace and name from an ARM id ".../namespaces/NS/devices/NAME". */
static void names_from_id(const char *id, char *ns, size_t ns_len)
{
    const char *p = id ? strstr(id, "/namespaces/") : NULL;
    const char *end;

    if (!p)
        return;
    p += strlen("/namespaces/");
    end = strchr(p, '/');
    if (end && (size_t)(end - p) < ns_len && !ns[0]) {
        memcpy(ns, p, (size_t)(end - p));
        ns[end - p] = '\0';
    }
}

/* An older (2025-07-01-preview) flat events[] moved into eventGroups[] exactly as the
 * registry stores it (lib/model), so that `apply` compares like with like. A malformed one is
 * left as it is: the registry's answer names what is wrong. */
static void map_old_events(json_t *props)
{
    fp_model_err e;
    json_t *copy = json_deep_copy(props);

    if (copy && fp_model_legacy_events(copy, &e) == FP_OK) {
        json_object_update(props, copy);
        json_object_del(props, "events");
    }
    json_decref(copy);
}

/* ARM envelope fields and the annotations that carry them in Kubernetes form. */
static const struct {
    const char *arm, *annotation;
    bool json;
} g_envelope[] = {
    {"id", "fieldplane.io/arm-id", false},
    {"location", "fieldplane.io/arm-location", false},
    {"extendedLocation", "fieldplane.io/arm-extended-location", true},
    {NULL, NULL, false},
};

int fp_doc_normalize(const json_t *in, const char *ns, fp_apply_doc *out, char *err, size_t err_len)
{
    const char *api = json_string_value(json_object_get(in, "apiVersion"));
    char nsbuf[128] = "";
    const char *name;
    json_t *doc;

    memset(out, 0, sizeof *out);
    if (!json_is_object(in)) {
        snprintf(err, err_len, "a document must be an object");
        return -1;
    }
    if (ns)
        snprintf(nsbuf, sizeof nsbuf, "%s", ns);

    /* ARM templates carry an apiVersion too (a date); a Kubernetes resource has
     * a group/version, a kind and metadata. */
    if (api && (strchr(api, '/') || json_object_get(in, "metadata"))) {
        /* Kubernetes custom resource. */
        const json_t *meta = json_object_get(in, "metadata");
        const json_t *spec = json_object_get(in, "spec");
        const json_t *labels = json_object_get(meta, "labels");
        if (strncmp(api, "namespaces.deviceregistry.microsoft.com/", 40)) {
            snprintf(err, err_len, "apiVersion '%s' is not %s", api, K8S_API_VERSION);
            return -1;
        }
        out->kind = kind_of(json_string_value(json_object_get(in, "kind")));
        if (out->kind != FP_RK_DEVICE && out->kind != FP_RK_ASSET) {
            snprintf(err, err_len, "kind must be Device or Asset");
            return -1;
        }
        name = json_string_value(json_object_get(meta, "name"));
        if (!name) {
            snprintf(err, err_len, "metadata.name is required");
            return -1;
        }
        if (!nsbuf[0]) {
            const char *mns = json_string_value(json_object_get(meta, "namespace"));
            if (mns)
                snprintf(nsbuf, sizeof nsbuf, "%s", mns);
        }
        doc = json_object();
        json_object_set_new(doc, "name", json_string(name));
        json_object_set_new(doc, "properties",
                            json_is_object(spec) ? json_deep_copy(spec) : json_object());
        if (json_is_object(labels) && json_object_size(labels))
            json_object_set_new(doc, "tags", json_deep_copy(labels));
        for (int i = 0; g_envelope[i].arm; i++) {
            const char *v = json_string_value(
                json_object_get(json_object_get(meta, "annotations"), g_envelope[i].annotation));
            json_t *val;
            if (!v)
                continue;
            val = g_envelope[i].json ? json_loads(v, 0, NULL) : json_string(v);
            if (val)
                json_object_set_new(doc, g_envelope[i].arm, val);
        }
    } else {
        const char *type = json_string_value(json_object_get(in, "type"));
        const char *slash;
        name = json_string_value(json_object_get(in, "name"));
        out->kind = kind_of(type);
        if (out->kind == FP_RK_UNKNOWN) {
            snprintf(err, err_len, "type '%s' is not a namespace, device or asset type",
                     type ? type : "(missing)");
            return -1;
        }
        if (!name) {
            snprintf(err, err_len, "name is required");
            return -1;
        }
        names_from_id(json_string_value(json_object_get(in, "id")), nsbuf, sizeof nsbuf);
        doc = json_deep_copy(in);
        /* ARM templates name a child "namespace/child". */
        slash = strrchr(name, '/');
        if (slash && out->kind != FP_RK_NAMESPACE) {
            if (!nsbuf[0] && (size_t)(slash - name) < sizeof nsbuf) {
                memcpy(nsbuf, name, (size_t)(slash - name));
                nsbuf[slash - name] = '\0';
            }
            name = slash + 1;
        }
        json_object_set_new(doc, "name", json_string(name));
        json_object_del(doc, "apiVersion");
        json_object_del(doc, "dependsOn");
    }
    if (!doc)
        return -1;
    if (out->kind == FP_RK_NAMESPACE) {
        snprintf(nsbuf, sizeof nsbuf, "%s", json_string_value(json_object_get(doc, "name")));
    } else if (!nsbuf[0]) {
        json_decref(doc);
        snprintf(err, err_len, "%s '%s' names no namespace: give --namespace",
                 fp_rkind_name(out->kind), name);
        return -1;
    }
    json_object_set_new(doc, "type", json_string(fp_rkind_arm_type(out->kind)));
    if (out->kind == FP_RK_ASSET)
        map_old_events(json_object_get(doc, "properties"));
    snprintf(out->ns, sizeof out->ns, "%s", nsbuf);
    snprintf(out->name, sizeof out->name, "%s", json_string_value(json_object_get(doc, "name")));
    out->doc = doc;
    return 0;
}

json_t *fp_doc_to_k8s(const json_t *arm, fp_rkind kind, const char *ns)
{
    json_t *spec = json_deep_copy(json_object_get(arm, "properties"));
    json_t *status = NULL, *meta, *out;
    const json_t *tags = json_object_get(arm, "tags");

    if (!spec)
        spec = json_object();
    status = json_object_get(spec, "status");
    if (status)
        json_incref(status);
    json_object_del(spec, "status");
    /* What the server sets has no place in a spec a user applies. */
    json_object_del(spec, "uuid");
    json_object_del(spec, "version");
    json_object_del(spec, "provisioningState");
    json_object_del(spec, "lastTransitionTime");
    meta = json_pack("{s:s?}", "name", json_string_value(json_object_get(arm, "name")));
    if (ns)
        json_object_set_new(meta, "namespace", json_string(ns));
    if (json_is_object(tags) && json_object_size(tags))
        json_object_set_new(meta, "labels", json_deep_copy(tags));
    /* ARM envelope fields have no Kubernetes place: keep them as annotations so
     * that a document survives ARM -> Kubernetes -> ARM. */
    for (int i = 0; g_envelope[i].arm; i++) {
        const json_t *v = json_object_get(arm, g_envelope[i].arm);
        char *text;
        if (!v || json_is_null(v))
            continue;
        text = json_is_string(v) ? NULL : json_dumps(v, JSON_COMPACT);
        if (!json_object_get(meta, "annotations"))
            json_object_set_new(meta, "annotations", json_object());
        json_object_set_new(json_object_get(meta, "annotations"), g_envelope[i].annotation,
                            text ? json_string(text) : json_copy((json_t *)v));
        free(text);
    }
    out = json_pack("{s:s,s:s,s:o,s:o}", "apiVersion", K8S_API_VERSION, "kind", fp_rkind_name(kind),
                    "metadata", meta, "spec", spec);
    if (out && status)
        json_object_set_new(out, "status", status);
    else
        json_decref(status);
    return out;
}

json_t *fp_doc_expand(const json_t *v)
{
    json_t *out = json_array();
    const json_t *list = NULL;
    size_t i;
    const json_t *e;

    if (json_is_array(v))
        list = v;
    else if (json_is_array(json_object_get(v, "value")))
        list = json_object_get(v, "value");
    else if (json_is_array(json_object_get(v, "resources")))
        list = json_object_get(v, "resources");
    if (!list) {
        json_array_append(out, (json_t *)v);
        return out;
    }
    json_array_foreach(list, i, e)
    {
        /* Nested lists (a List kind of Kubernetes) are flattened. */
        if (json_is_array(json_object_get(e, "items"))) {
            size_t j;
            const json_t *x;
            json_array_foreach(json_object_get(e, "items"), j, x)
                json_array_append(out, (json_t *)x);
        } else {
            json_array_append(out, (json_t *)e);
        }
    }
    return out;
}

/* Remove key from every object of the array at arr[*].sub (sub may be NULL). */
static void strip_key(json_t *arr, const char *key)
{
    size_t i;
    json_t *e;

    json_array_foreach(arr, i, e) json_object_del(e, key);
}

json_t *fp_doc_from_discovered(const json_t *disc, fp_rkind kind, const char *disc_name,
                               const char *name)
{
    json_t *props = json_deep_copy(json_object_get(disc, "properties"));
    json_t *doc;

    if (!props)
        props = json_object();
    json_object_del(props, "discoveryId");
    json_object_del(props, "version");
    json_object_del(props, "status");
    json_object_del(props, "provisioningState");
    json_object_del(props, "uuid");
    json_object_del(props, "lastUpdatedOn");
    if (kind == FP_RK_ASSET) {
        size_t i;
        json_t *ds;
        json_array_foreach(json_object_get(props, "datasets"), i, ds)
        {
            json_object_del(ds, "lastUpdatedOn");
            strip_key(json_object_get(ds, "dataPoints"), "lastUpdatedOn");
        }
        map_old_events(props);
        json_array_foreach(json_object_get(props, "eventGroups"), i, ds)
        {
            json_object_del(ds, "lastUpdatedOn");
            strip_key(json_object_get(ds, "events"), "lastUpdatedOn");
        }
        json_object_set_new(props, "discoveredAssetRefs", json_pack("[s]", disc_name));
    } else {
        const char *key;
        json_t *ep;
        json_object_foreach(json_object_get(fp_json_get(props, "endpoints"), "inbound"), key, ep)
        {
            json_object_del(ep, "supportedAuthenticationMethods");
            json_object_del(ep, "lastUpdatedOn");
            if (!json_object_get(ep, "authentication"))
                json_object_set_new(ep, "authentication",
                                    json_pack("{s:s}", "method", "Anonymous"));
        }
        json_object_set_new(props, "discoveredDeviceRef", json_string(disc_name));
    }
    doc = json_pack("{s:s,s:o}", "name", name, "properties", props);
    if (doc && json_object_get(disc, "tags"))
        json_object_set(doc, "tags", json_object_get(disc, "tags"));
    return doc;
}
