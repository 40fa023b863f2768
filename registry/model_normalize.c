/*
 * model_normalize.c - bringing incoming documents into the stored shape, and
 * comparing a new document with the stored one.
 *
 * Normalisation runs before validation on every write. It maps the older
 * 2025-07-01-preview asset shape (a flat properties.events[] whose entries
 * name their notifier in eventNotifier) onto eventGroups, applies the
 * defaults of the resource model, and drops the fields only the server
 * writes. The comparisons decide what a replace may do: create-only fields
 * must keep their value, and only a change of the spec (not of the
 * server-set fields) raises properties.version.
 */
#include <stdio.h>
#include <string.h>

#include "fp_model_doc.h"
#include "model.h"
#include "model_internal.h"

/* Properties the server writes; a client's values are dropped. */
static const char *const k_server_props[] = {
    "uuid", "version", "lastTransitionTime", "provisioningState", "status", NULL};

static bool is_server_prop(fp_kind kind, const char *key)
{
    for (size_t i = 0; k_server_props[i]; i++) {
        if (strcmp(key, k_server_props[i]) == 0)
            return !(strcmp(key, "version") == 0 && fp_model_kind_client_version(kind));
    }
    return kind == FP_KIND_SCHEMA_VERSION && strcmp(key, "hash") == 0;
}

static bool has_assets_shape(fp_kind kind)
{
    return kind == FP_KIND_ASSET || kind == FP_KIND_DISCOVERED_ASSET;
}

static fp_status nomem(fp_verr *err)
{
    return fp_verr_set(err, FP_ERR_NOMEM, "OutOfMemory", "", "Out of memory.");
}

/* The older flat events[] moved into eventGroups[] by lib/model, as the CLI does too. */
static fp_status map_legacy_events(json_t *props, fp_verr *err)
{
    fp_model_err e = {"", "", ""};
    fp_status rc = fp_model_legacy_events(props, &e);

    return rc ? fp_verr_set(err, rc, e.code, e.target, "%s", e.message) : FP_OK;
}

/* True when obj has no usable value under key (absent or null). */
static bool lacks(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return !v || json_is_null(v);
}

/* Set key to value (a new reference, taken) in obj; the value is only built
 * by the caller once lacks() said it is needed. */
static fp_status set_default(json_t *obj, const char *key, json_t *value, fp_verr *err)
{
    if (!value || json_object_set_new(obj, key, value))
        return nomem(err);
    return FP_OK;
}

/* actionType Call and defaultTimeoutInSeconds 100 in management groups. */
static fp_status default_management_groups(json_t *props, fp_verr *err)
{
    json_t *groups = json_object_get(props, "managementGroups");
    size_t i, j;
    json_t *g, *a;
    fp_status rc;

    if (!json_is_array(groups))
        return FP_OK;
    json_array_foreach(groups, i, g)
    {
        json_t *actions;
        if (!json_is_object(g))
            continue;
        if (lacks(g, "defaultTimeoutInSeconds")) {
            rc = set_default(g, "defaultTimeoutInSeconds",
                             json_integer(FP_MODEL_ACTION_TIMEOUT_DEFAULT_S), err);
            if (rc)
                return rc;
        }
        actions = json_object_get(g, "actions");
        if (!json_is_array(actions))
            continue;
        json_array_foreach(actions, j, a)
        {
            if (!json_is_object(a) || !lacks(a, "actionType"))
                continue;
            rc = set_default(a, "actionType", json_string("Call"), err);
            if (rc)
                return rc;
        }
    }
    return FP_OK;
}

/* Change doc in place into the stored shape (see model.h). On an error doc
 * may be half changed; the caller discards it. FP_ERR_INVALID for a body that
 * is not an object, a non-object properties or a malformed legacy events
 * list; FP_ERR_NOMEM when jansson cannot allocate. */
fp_status fp_model_normalize(fp_kind kind, json_t *doc, fp_verr *err)
{
    json_t *props;
    fp_status rc;
    const char *key;
    void *tmp;
    json_t *v;

    if ((unsigned)kind >= FP_KIND_COUNT)
        return fp_verr_set(err, FP_ERR_INVALID, "InvalidField", "",
                           "The resource kind is unknown.");
    if (!json_is_object(doc))
        return fp_verr_set(err, FP_ERR_INVALID, "InvalidField", "",
                           "The document must be a JSON object.");
    props = json_object_get(doc, "properties");
    if (!props || json_is_null(props)) {
        props = json_object();
        if (!props || json_object_set_new(doc, "properties", props))
            return nomem(err);
    } else if (!json_is_object(props)) {
        return fp_verr_set(err, FP_ERR_INVALID, "InvalidField", "properties",
                           "properties must be an object.");
    }
    json_object_foreach_safe(props, tmp, key, v)
    {
        if (is_server_prop(kind, key))
            json_object_del(props, key);
    }
    if (has_assets_shape(kind)) {
        rc = map_legacy_events(props, err);
        if (rc)
            return rc;
        rc = default_management_groups(props, err);
        if (rc)
            return rc;
    }
    if ((kind == FP_KIND_DEVICE || kind == FP_KIND_ASSET) && lacks(props, "enabled")) {
        rc = set_default(props, "enabled", json_true(), err);
        if (rc)
            return rc;
    }
    return FP_OK;
}

/* ---------------------------------------------------------------------------
 * Comparisons
 * ------------------------------------------------------------------------- */

/* JSON null and absence are the same thing to the model. */
static const json_t *value_or_null(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

static bool same_value(const json_t *a, const json_t *b)
{
    if (!a || !b)
        return a == b;
    return json_equal((json_t *)a, (json_t *)b) != 0;
}

static const char *const k_create_only_device[] = {"externalDeviceId", "discoveredDeviceRef",
                                                   "operatingSystem", NULL};
static const char *const k_create_only_asset[] = {"externalAssetId", "deviceRef",
                                                  "discoveredAssetRefs", NULL};
static const char *const k_create_only_schema[] = {"format", "schemaType", NULL};

/* Compare the create-only fields of kind; null equals absent. Returns
 * FP_ERR_INVALID (CreateOnlyField) on the first change. Both docs borrowed.
 * A schema version's content is not checked here: any change of it is a 409
 * Conflict that the API layer answers itself. */
fp_status fp_model_check_create_only(fp_kind kind, const json_t *old_doc, const json_t *new_doc,
                                     fp_verr *err)
{
    const char *const *keys;
    const json_t *old_props = json_object_get(old_doc, "properties");
    const json_t *new_props = json_object_get(new_doc, "properties");

    switch (kind) {
    case FP_KIND_DEVICE:
        keys = k_create_only_device;
        break;
    case FP_KIND_ASSET:
        keys = k_create_only_asset;
        break;
    case FP_KIND_SCHEMA:
        keys = k_create_only_schema;
        break;
    default:
        return FP_OK;
    }
    for (size_t i = 0; keys[i]; i++) {
        char target[96];
        if (same_value(value_or_null(old_props, keys[i]), value_or_null(new_props, keys[i])))
            continue;
        snprintf(target, sizeof target, "properties.%s", keys[i]);
        return fp_verr_set(err, FP_ERR_INVALID, "CreateOnlyField", target,
                           "%s is set at creation and cannot change.", target);
    }
    return FP_OK;
}

/* Every key of a that is part of the spec has an equal value in b. */
static bool spec_props_within(fp_kind kind, const json_t *a, const json_t *b)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)a, key, v)
    {
        if (is_server_prop(kind, key) || json_is_null(v))
            continue;
        if (!same_value(v, value_or_null(b, key)))
            return false;
    }
    return true;
}

/* Tags: absent, null and {} all mean "no tags". */
static bool same_tags(const json_t *a, const json_t *b)
{
    if (a && (json_is_null(a) || (json_is_object(a) && json_object_size(a) == 0)))
        a = NULL;
    if (b && (json_is_null(b) || (json_is_object(b) && json_object_size(b) == 0)))
        b = NULL;
    return same_value(a, b);
}

/* True when tags or a spec property differ (see model.h); borrowed docs. */
bool fp_model_spec_changed(fp_kind kind, const json_t *old_doc, const json_t *new_doc)
{
    const json_t *old_props = json_object_get(old_doc, "properties");
    const json_t *new_props = json_object_get(new_doc, "properties");

    if (!same_tags(json_object_get(old_doc, "tags"), json_object_get(new_doc, "tags")))
        return true;
    return !spec_props_within(kind, old_props, new_props) ||
           !spec_props_within(kind, new_props, old_props);
}
