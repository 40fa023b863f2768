/*
 * model_ref.c - what a document refers to, and the values the store indexes
 * for list filters.
 *
 * The model itself never looks at the store. It lists the references of a
 * document (an asset's device endpoint, a device's secrets) through a
 * callback, and the API layer checks each one against the store. The index
 * values (a device's endpoint types, an asset's device) are derived here so
 * that the store does not need to know the shape of documents.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "model_internal.h"

/* Report the secret named by ref ("name" or "name/key") at target. */
static fp_status secret_ref(const json_t *v, const char *target, fp_ref_cb cb, void *ctx,
                            fp_verr *err)
{
    char name[256];
    const char *z = json_string_value(v);
    const char *slash;
    size_t n;
    fp_ref ref;

    if (!z)
        return FP_OK;
    slash = strchr(z, '/');
    n = slash ? (size_t)(slash - z) : strlen(z);
    if (n >= sizeof name)
        n = sizeof name - 1;
    memcpy(name, z, n);
    name[n] = '\0';
    ref.type = FP_REF_SECRET;
    ref.name = name;
    ref.endpoint = NULL;
    ref.target = target;
    return cb(ctx, &ref, err);
}

/* The secret fields of one inbound endpoint, in document order of the model. */
static fp_status endpoint_refs(const char *ep_name, const json_t *ep, fp_ref_cb cb, void *ctx,
                               fp_verr *err)
{
    static const struct {
        const char *obj;
        const char *key;
    } k_secret_fields[] = {
        {"usernamePasswordCredentials", "usernameSecretName"},
        {"usernamePasswordCredentials", "passwordSecretName"},
        {"x509Credentials", "certificateSecretName"},
        {"x509Credentials", "intermediateCertificatesSecretName"},
        {"x509Credentials", "keySecretName"},
    };
    const json_t *auth = json_object_get(ep, "authentication");
    const json_t *trust = json_object_get(json_object_get(ep, "trustSettings"), "trustList");
    fp_mpath path;
    char target[256];
    fp_status rc;

    fp_mpath_init(&path);
    fp_mpath_push_key(&path, "properties");
    fp_mpath_push_key(&path, "endpoints");
    fp_mpath_push_key(&path, "inbound");
    fp_mpath_push_key(&path, ep_name);
    fp_mpath_push_key(&path, "authentication");
    for (size_t i = 0; i < sizeof k_secret_fields / sizeof k_secret_fields[0]; i++) {
        const json_t *v =
            json_object_get(json_object_get(auth, k_secret_fields[i].obj), k_secret_fields[i].key);
        if (!json_is_string(v))
            continue;
        fp_mpath_push_key(&path, k_secret_fields[i].obj);
        fp_mpath_render(&path, k_secret_fields[i].key, target, sizeof target);
        fp_mpath_pop(&path);
        rc = secret_ref(v, target, cb, ctx, err);
        if (rc)
            return rc;
    }
    fp_mpath_pop(&path);
    if (json_is_string(trust)) {
        fp_mpath_push_key(&path, "trustSettings");
        fp_mpath_render(&path, "trustList", target, sizeof target);
        rc = secret_ref(trust, target, cb, ctx, err);
        if (rc)
            return rc;
    }
    return FP_OK;
}

/* Call cb for each reference of doc (borrowed). The strings in the fp_ref
 * point into doc or into this function's stack: they are valid during the
 * call only. Stops at, and returns, the first error cb returns. */
fp_status fp_model_each_ref(fp_kind kind, const json_t *doc, fp_ref_cb cb, void *ctx, fp_verr *err)
{
    const json_t *props = json_object_get(doc, "properties");

    if (kind == FP_KIND_ASSET) {
        const json_t *dref = json_object_get(props, "deviceRef");
        const char *device = json_string_value(json_object_get(dref, "deviceName"));
        const char *endpoint = json_string_value(json_object_get(dref, "endpointName"));
        fp_ref ref;

        if (!device || !endpoint)
            return FP_OK;
        ref.type = FP_REF_DEVICE_ENDPOINT;
        ref.name = device;
        ref.endpoint = endpoint;
        ref.target = "properties.deviceRef";
        return cb(ctx, &ref, err);
    }
    if (kind == FP_KIND_DEVICE) {
        const json_t *inbound = json_object_get(json_object_get(props, "endpoints"), "inbound");
        const char *name;
        json_t *ep;

        json_object_foreach((json_t *)inbound, name, ep)
        {
            fp_status rc = endpoint_refs(name, ep, cb, ctx, err);
            if (rc)
                return rc;
        }
    }
    return FP_OK;
}

/* See model.h: " a b " of lowercased distinct types, "" when none. */
bool fp_model_endpoint_types(fp_kind kind, const json_t *doc, char *out, size_t out_len)
{
    const json_t *inbound;
    const char *name;
    json_t *ep;
    size_t pos = 0;

    if (out_len == 0)
        return false;
    out[0] = '\0';
    if (kind != FP_KIND_DEVICE && kind != FP_KIND_DISCOVERED_DEVICE)
        return true;
    inbound = json_object_get(json_object_get(json_object_get(doc, "properties"), "endpoints"),
                              "inbound");
    json_object_foreach((json_t *)inbound, name, ep)
    {
        const char *type = json_string_value(json_object_get(ep, "endpointType"));
        char word[260];
        size_t n;

        if (!type || !*type)
            continue;
        n = strlen(type);
        if (n + 2 >= sizeof word)
            continue; /* validation refuses such a type; never index half of one */
        word[0] = ' ';
        for (size_t i = 0; i < n; i++)
            word[i + 1] = (char)tolower((unsigned char)type[i]);
        word[n + 1] = ' ';
        word[n + 2] = '\0';
        /* Each type once; out holds " a b " so " t " finds a whole word. */
        if (pos > 0 && strstr(out, word))
            continue;
        if (pos == 0) {
            if (n + 2 >= out_len)
                return false;
            memcpy(out, word, n + 3);
            pos = n + 2;
        } else {
            if (pos + n + 1 >= out_len)
                return false;
            memcpy(out + pos, word + 1, n + 2);
            pos += n + 1;
        }
    }
    return true;
}

/* See model.h; the string belongs to doc. */
const char *fp_model_device_ref(fp_kind kind, const json_t *doc)
{
    if (kind != FP_KIND_ASSET && kind != FP_KIND_DISCOVERED_ASSET)
        return NULL;
    return json_string_value(json_object_get(
        json_object_get(json_object_get(doc, "properties"), "deviceRef"), "deviceName"));
}
