/*
 * model_patch.c - JSON merge patch (RFC 7396) over jansson values.
 *
 * PATCH requests carry a merge patch: objects merge key by key, null removes
 * a key, anything else replaces. The target is modified in place where the
 * caller's reference is the only one; a subtree that is shared with another
 * document (its reference count says so) is copied before it is changed, so
 * patching never alters a document the caller did not hand over.
 */
#include "model.h"

/* A copy of obj that may be changed without touching anyone else's
 * document: shallow, so its children stay shared and are copied in turn only
 * if they are changed. Takes the caller's reference to obj. */
static json_t *unshare(json_t *obj)
{
    json_t *copy;

    if (obj->refcount <= 1)
        return obj;
    copy = json_copy(obj);
    json_decref(obj);
    return copy;
}

/* Merge the object patch into obj, an object no one else holds. Keys keep
 * their place; new keys go last. Returns false when allocation fails. */
static bool merge_in_place(json_t *obj, const json_t *patch)
{
    const char *key;
    json_t *value;

    json_object_foreach((json_t *)patch, key, value)
    {
        json_t *child, *merged;

        if (json_is_null(value)) {
            json_object_del(obj, key);
            continue;
        }
        child = json_object_get(obj, key);
        if (json_is_object(value) && json_is_object(child)) {
            if (child->refcount > 1) {
                child = json_copy(child);
                if (!child || json_object_set_new(obj, key, child))
                    return false;
            }
            if (!merge_in_place(child, value))
                return false;
            continue;
        }
        if (json_is_object(value)) {
            /* MergePatch({}, value): the patch minus its nulls. */
            merged = json_object();
            if (!merged || !merge_in_place(merged, value)) {
                json_decref(merged);
                return false;
            }
        } else {
            merged = json_deep_copy(value);
        }
        if (!merged || json_object_set_new(obj, key, merged))
            return false;
    }
    return true;
}

/* RFC 7396 MergePatch(target, patch). Takes the caller's reference to
 * target (NULL allowed: no document), borrows patch, returns a new
 * reference or NULL when allocation fails (target is released then too). */
json_t *fp_json_merge_patch(json_t *target, const json_t *patch)
{
    if (!json_is_object(patch)) {
        json_decref(target);
        return json_deep_copy(patch);
    }
    if (!json_is_object(target)) {
        json_decref(target);
        target = json_object();
    } else {
        target = unshare(target);
    }
    if (!target)
        return NULL;
    if (!merge_in_place(target, patch)) {
        json_decref(target);
        return NULL;
    }
    return target;
}
