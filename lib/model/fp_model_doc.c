/*
 * fp_model_doc.c - document transforms shared by the registry and the CLI (fp_model_doc.h).
 */
#include "fp_model_doc.h"

#include <stdarg.h>
#include <stdio.h>

static fp_status fail(fp_model_err *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* err->target is set by the caller; the message is formatted here. */
static fp_status fail(fp_model_err *err, const char *code, const char *fmt, ...)
{
    va_list ap;

    snprintf(err->code, sizeof err->code, "%s", code);
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return FP_ERR_INVALID;
}

static fp_status nomem(fp_model_err *err)
{
    snprintf(err->code, sizeof err->code, "OutOfMemory");
    err->target[0] = '\0';
    snprintf(err->message, sizeof err->message, "Out of memory.");
    return FP_ERR_NOMEM;
}

static fp_status move_event(const json_t *ev, size_t i, json_t *groups, fp_model_err *err)
{
    const json_t *name, *notifier;
    json_t *group, *event, *events;

    if (!json_is_object(ev)) {
        snprintf(err->target, sizeof err->target, "properties.events[%zu]", i);
        return fail(err, "InvalidField", "%s must be an object.", err->target);
    }
    name = json_object_get(ev, "name");
    if (!json_is_string(name)) {
        snprintf(err->target, sizeof err->target, "properties.events[%zu].name", i);
        return name ? fail(err, "InvalidField", "%s must be a string.", err->target)
                    : fail(err, "MissingField", "%s is required.", err->target);
    }
    notifier = json_object_get(ev, "eventNotifier");
    if (notifier && !json_is_null(notifier) && !json_is_string(notifier)) {
        snprintf(err->target, sizeof err->target, "properties.events[%zu].eventNotifier", i);
        return fail(err, "InvalidField", "%s must be a string.", err->target);
    }
    event = json_copy((json_t *)ev);
    group = json_object();
    events = json_array();
    if (!event || !group || !events)
        goto out_nomem;
    json_object_del(event, "eventNotifier");
    if (json_object_set(group, "name", (json_t *)name) ||
        (json_is_string(notifier) && json_object_set(group, "dataSource", (json_t *)notifier)) ||
        json_array_append(events, event) || json_object_set(group, "events", events) ||
        json_array_append(groups, group))
        goto out_nomem;
    json_decref(event);
    json_decref(events);
    json_decref(group);
    return FP_OK;

out_nomem:
    json_decref(event);
    json_decref(events);
    json_decref(group);
    return nomem(err);
}

fp_status fp_model_legacy_events(json_t *props, fp_model_err *err)
{
    json_t *events = json_object_get(props, "events");
    json_t *groups, *ev;
    size_t i;
    fp_status rc;

    if (!events)
        return FP_OK;
    if (json_is_null(events)) {
        json_object_del(props, "events");
        return FP_OK;
    }
    if (!json_is_array(events)) {
        snprintf(err->target, sizeof err->target, "properties.events");
        return fail(err, "InvalidField", "properties.events must be an array.");
    }
    groups = json_object_get(props, "eventGroups");
    if (!groups || json_is_null(groups)) {
        groups = json_array();
        if (!groups || json_object_set_new(props, "eventGroups", groups))
            return nomem(err);
    } else if (!json_is_array(groups)) {
        snprintf(err->target, sizeof err->target, "properties.eventGroups");
        return fail(err, "InvalidField", "properties.eventGroups must be an array.");
    }
    json_array_foreach(events, i, ev)
    {
        rc = move_event(ev, i, groups, err);
        if (rc)
            return rc;
    }
    json_object_del(props, "events");
    return FP_OK;
}
