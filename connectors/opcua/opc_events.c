/*
 * opc_events.c - event groups of the OPC UA connector: one event monitored item per event.
 *
 * Each event of an event group becomes a monitored item on the EventNotifier attribute of
 * its dataSource (else the group's, else the Server object), with an EventFilter built from
 * the event's eventFilter (else the group's): the select clauses name the fields to report
 * and typeDefinitionId adds an OfType where clause. Every notification becomes one message,
 * {"<field>": <value>, ...}, published with the event's Time as its CloudEvents time.
 *
 * Everything runs on the endpoint's strand (opc_ep.c): the configuration is turned into
 * field names first (so that a mistake is reported at once, by name), then the items are
 * created; notifications arrive on the same strand. An opc_eg linked into ep->event_groups is
 * the endpoint's to create items for on every new session; a remove deletes the group's items
 * and unlinks it before it returns, so no notification can reach a freed event.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fieldplane/fp_alloc.h>
#include <fieldplane/fp_log.h>
#include "opc_internal.h"
#include "opcua/ua_nodeid.h"

#define OPC_EV_LOG "opcua-events"
#define OPC_EV_MAX_MESSAGE (4u << 20) /* one event message */
#define OPC_EV_SERVER_NODE "i=2253"   /* the Server object: every server's event notifier */
#define OPC_EV_BASE_EVENT_TYPE 2041u

/* The fields selected when an event filter has no selectClauses. */
static const char *const opc_ev_default_fields[] = {"EventId", "EventType", "SourceName",
                                                    "Time",    "Message",   "Severity"};

/* One event: its item on the server and how its notifications become a message. */
typedef struct opc_evitem {
    fp_event *ev;
    opc_item_ref ref;   /* the item's ctx: routes notifications here */
    char *source;       /* node id text of the event notifier */
    char *type_def;     /* OfType event type (node id text), NULL for none */
    char **fields;      /* select clause names for ua_monitor_item ("Message", "1:Sequence") */
    char **keys;        /* JSON member names, in the same order */
    char **field_types; /* a clause's own typeDefinitionId (node id text) or NULL: NULL as a
                           whole when no clause has one */
    size_t n_fields;
    long time_field;      /* index of BaseEventType's Time among the fields, -1 when not selected */
    double publishing_ms; /* resolved (never -1) */
    uint32_t queue_size;  /* resolved (never 0) */
    char cfg_error[320];  /* a configuration mistake: the item is never created */
    opc_sub *sub;         /* with handle: the item is on the server */
    uint32_t handle;
    bool was_available;
} opc_evitem;

typedef struct opc_eg {
    opc_ep *ep;
    fp_event_group *eg;
    struct opc_eg *next; /* in ep->event_groups */
    bool linked;
    size_t n;
    opc_evitem *items;
} opc_eg;

/* ---------------------------------------------------------------- configuration */

static opc_ep *eg_endpoint(const fp_event_group *eg)
{
    return eg->asset && eg->asset->endpoint ? eg->asset->endpoint->user : NULL;
}

static bool nonempty(const char *z)
{
    return z && *z;
}

static void evitem_clear(opc_evitem *it)
{
    for (size_t i = 0; i < it->n_fields; i++) {
        fp_free(it->fields ? it->fields[i] : NULL);
        fp_free(it->keys ? it->keys[i] : NULL);
        fp_free(it->field_types ? it->field_types[i] : NULL);
    }
    fp_free(it->field_types);
    fp_free(it->fields);
    fp_free(it->keys);
    fp_free(it->source);
    fp_free(it->type_def);
    memset(it, 0, sizeof(*it));
}

static void eg_state_free(opc_eg *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n; i++)
        evitem_clear(&st->items[i]);
    fp_free(st->items);
    fp_free(st);
}

/* Append field `name` (what the client sends) shown as `key` in messages. */
static int evitem_add_field(opc_evitem *it, const char *name, size_t name_len, const char *key,
                            size_t key_len)
{
    if (it->field_types) {
        char **t = fp_realloc(it->field_types, (it->n_fields + 1) * sizeof(*t));
        if (!t)
            return -1;
        it->field_types = t;
        t[it->n_fields] = NULL;
    }
    char **f = fp_realloc(it->fields, (it->n_fields + 1) * sizeof(*f));
    if (!f)
        return -1;
    it->fields = f;
    char **k = fp_realloc(it->keys, (it->n_fields + 1) * sizeof(*k));
    if (!k)
        return -1;
    it->keys = k;
    it->fields[it->n_fields] = fp_strndup(name, name_len);
    it->keys[it->n_fields] = fp_strndup(key, key_len);
    if (!it->fields[it->n_fields] || !it->keys[it->n_fields]) {
        fp_free(it->fields[it->n_fields]);
        fp_free(it->keys[it->n_fields]);
        return -1;
    }
    /* Time of BaseEventType (namespace 0) gives the message its CloudEvents time. */
    if (it->time_field < 0 && name_len == 4 && !memcmp(name, "Time", 4))
        it->time_field = (long)it->n_fields;
    it->n_fields++;
    return 0;
}

/* The last field added was selected from this event type (node id text). */
static int evitem_set_type(opc_evitem *it, const char *type)
{
    /* Made at the first typed field; evitem_add_field grows it from then on. */
    if (!it->field_types && !(it->field_types = fp_calloc(it->n_fields, sizeof(char *))))
        return -1;
    it->field_types[it->n_fields - 1] = fp_strdup(type);
    return it->field_types[it->n_fields - 1] ? 0 : -1;
}

/* A browse path as users write it ("/Message", "Message", "/1:Sequence", "1:Sequence",
 * "0:Severity") as one field name for the client ("Message", "1:Sequence"); the JSON key is
 * the name without its namespace index. A path of several elements ("/EnabledState/Id")
 * goes to the client as it is, keyed by its last element. */
static int evitem_add_path(opc_evitem *it, size_t idx, const char *path, const char *field_id)
{
    const char *p = path;
    while (*p == '/' || *p == '.')
        p++;
    size_t len = strlen(p);
    while (len && p[len - 1] == '/')
        len--;
    if (!len) {
        snprintf(it->cfg_error, sizeof(it->cfg_error),
                 "eventFilter.selectClauses[%zu].browsePath \"%s\" names no field", idx, path);
        return -1;
    }
    if (memchr(p, '/', len)) {
        /* Several elements ("/EnabledState/Id"): the client takes the path as it is; the
         * key is the last element without its namespace index. */
        for (size_t i = 0; i + 1 < len; i++) {
            if (p[i] == '/' && p[i + 1] == '/') {
                snprintf(it->cfg_error, sizeof(it->cfg_error),
                         "eventFilter.selectClauses[%zu].browsePath \"%s\" has an empty element",
                         idx, path);
                return -1;
            }
        }
        const char *last = p + len;
        while (last > p && last[-1] != '/')
            last--;
        size_t last_len = len - (size_t)(last - p);
        const char *colon = memchr(last, ':', last_len);
        if (colon && strspn(last, "0123456789") == (size_t)(colon - last) && colon != last) {
            last_len -= (size_t)(colon + 1 - last);
            last = colon + 1;
        }
        if (!last_len) {
            snprintf(it->cfg_error, sizeof(it->cfg_error),
                     "eventFilter.selectClauses[%zu].browsePath \"%s\" names no field", idx, path);
            return -1;
        }
        if (nonempty(field_id))
            return evitem_add_field(it, p, len, field_id, strlen(field_id));
        return evitem_add_field(it, p, len, last, last_len);
    }
    const char *name = p;
    size_t name_len = len;
    const char *colon = memchr(p, ':', len);
    size_t digits = strspn(p, "0123456789");
    if (colon && digits == (size_t)(colon - p) && digits > 0) {
        if (strtoul(p, NULL, 10) > UINT16_MAX) {
            snprintf(it->cfg_error, sizeof(it->cfg_error),
                     "eventFilter.selectClauses[%zu].browsePath \"%s\": namespace index out of "
                     "range",
                     idx, path);
            return -1;
        }
        const char *bare = colon + 1;
        size_t bare_len = len - (size_t)(bare - p);
        if (!bare_len) {
            snprintf(it->cfg_error, sizeof(it->cfg_error),
                     "eventFilter.selectClauses[%zu].browsePath \"%s\" names no field", idx, path);
            return -1;
        }
        if (digits == 1 && p[0] == '0') {
            /* Namespace 0 is what a name without an index means. */
            name = bare;
            name_len = bare_len;
        }
        if (nonempty(field_id))
            return evitem_add_field(it, name, name_len, field_id, strlen(field_id));
        return evitem_add_field(it, name, name_len, bare, bare_len);
    }
    if (nonempty(field_id))
        return evitem_add_field(it, name, name_len, field_id, strlen(field_id));
    return evitem_add_field(it, name, name_len, name, name_len);
}

/* The eventFilter of an event: its own configuration (which the runtime has already merged
 * with the group's and the asset's defaults), else the group's eventGroupConfiguration. */
static const json_t *evitem_filter(const fp_event *ev)
{
    const opc_ev_cfg *cfg = ev->config;
    if (cfg && cfg->event_filter)
        return cfg->event_filter;
    const opc_ev_cfg *gcfg = ev->group ? ev->group->config : NULL;
    if (gcfg && gcfg->event_filter)
        return gcfg->event_filter;
    const json_t *f = ev->config_json ? json_object_get(ev->config_json, "eventFilter") : NULL;
    if (!f && ev->group && ev->group->config_json)
        f = json_object_get(ev->group->config_json, "eventFilter");
    return f && !json_is_null(f) ? f : NULL;
}

/* Fill it from ev's configuration; a mistake goes to it->cfg_error (return 0), -1 only on
 * no memory. */
static int evitem_configure(opc_evitem *it, fp_event *ev, const opc_ep *ep)
{
    const opc_ev_cfg *cfg = ev->config;
    it->ev = ev;
    it->time_field = -1;
    const char *src = nonempty(ev->data_source)          ? ev->data_source
                      : nonempty(ev->group->data_source) ? ev->group->data_source
                                                         : OPC_EV_SERVER_NODE;
    it->source = fp_strdup(src);
    if (!it->source)
        return -1;
    int64_t pub = cfg && cfg->publishing_ms >= 0 ? cfg->publishing_ms : -1;
    if (pub < 0)
        pub = ep->cfg ? ep->cfg->def_publishing_ms : 1000;
    it->publishing_ms = pub > 0 ? (double)pub : 0.0;
    int64_t q = cfg && cfg->queue_size > 0 ? cfg->queue_size : -1;
    if (q < 0)
        q = ep->cfg && ep->cfg->def_queue_size > 0 ? ep->cfg->def_queue_size : 1;
    it->queue_size = q > UINT32_MAX ? UINT32_MAX : (uint32_t)q;

    const json_t *filter = evitem_filter(ev);
    const json_t *clauses = NULL;
    if (filter) {
        if (!json_is_object(filter)) {
            snprintf(it->cfg_error, sizeof(it->cfg_error), "eventFilter is not an object");
            return 0;
        }
        const json_t *td = json_object_get(filter, "typeDefinitionId");
        if (td && !json_is_null(td)) {
            if (!json_is_string(td)) {
                snprintf(it->cfg_error, sizeof(it->cfg_error),
                         "eventFilter.typeDefinitionId is not a string (a node id such as "
                         "\"ns=1;s=MyEventType\")");
                return 0;
            }
            if (*json_string_value(td)) {
                it->type_def = fp_strdup(json_string_value(td));
                if (!it->type_def)
                    return -1;
            }
        }
        clauses = json_object_get(filter, "selectClauses");
        if (clauses && json_is_null(clauses))
            clauses = NULL;
        if (clauses && !json_is_array(clauses)) {
            snprintf(it->cfg_error, sizeof(it->cfg_error),
                     "eventFilter.selectClauses is not an array");
            return 0;
        }
    }
    if (!clauses || json_array_size(clauses) == 0) {
        for (size_t i = 0; i < sizeof(opc_ev_default_fields) / sizeof(*opc_ev_default_fields);
             i++) {
            const char *f = opc_ev_default_fields[i];
            if (evitem_add_field(it, f, strlen(f), f, strlen(f)))
                return -1;
        }
        return 0;
    }
    size_t i;
    json_t *c;
    json_array_foreach(clauses, i, c)
    {
        const json_t *bp = json_is_object(c) ? json_object_get(c, "browsePath") : NULL;
        if (!json_is_string(bp)) {
            snprintf(it->cfg_error, sizeof(it->cfg_error),
                     "eventFilter.selectClauses[%zu].browsePath is missing or not a string "
                     "(such as \"/Message\")",
                     i);
            return 0;
        }
        const json_t *fid = json_object_get(c, "fieldId");
        if (fid && !json_is_null(fid) && !json_is_string(fid)) {
            snprintf(it->cfg_error, sizeof(it->cfg_error),
                     "eventFilter.selectClauses[%zu].fieldId is not a string", i);
            return 0;
        }
        const json_t *ctd = json_object_get(c, "typeDefinitionId");
        if (ctd && !json_is_null(ctd) && !json_is_string(ctd)) {
            snprintf(it->cfg_error, sizeof(it->cfg_error),
                     "eventFilter.selectClauses[%zu].typeDefinitionId is not a string", i);
            return 0;
        }
        if (evitem_add_path(it, i, json_string_value(bp), json_string_value(fid)) < 0) {
            if (!it->cfg_error[0])
                return -1;
            return 0;
        }
        /* A clause's own typeDefinitionId goes into its SimpleAttributeOperand; without one
         * the field is named from BaseEventType. */
        if (ctd && json_is_string(ctd) && *json_string_value(ctd) &&
            evitem_set_type(it, json_string_value(ctd)) != 0)
            return -1;
    }
    /* Two clauses with the same key would overwrite each other in the message. */
    for (size_t a = 0; a < it->n_fields; a++)
        for (size_t b = a + 1; b < it->n_fields; b++)
            if (!strcmp(it->keys[a], it->keys[b])) {
                snprintf(it->cfg_error, sizeof(it->cfg_error),
                         "eventFilter.selectClauses[%zu] and [%zu] both give the field \"%s\"; "
                         "set fieldId to tell them apart",
                         a, b, it->keys[a]);
                return 0;
            }
    return 0;
}

/* A new state for eg, with every event configured (NULL on no memory). */
static opc_eg *eg_state_new(fp_event_group *eg, opc_ep *ep)
{
    opc_eg *st = fp_calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->ep = ep;
    st->eg = eg;
    st->n = eg->n_events;
    if (st->n) {
        st->items = fp_calloc(st->n, sizeof(*st->items));
        if (!st->items)
            goto out_free;
    }
    for (size_t i = 0; i < st->n; i++) {
        opc_evitem *it = &st->items[i];
        it->ref.kind = OPC_ITEM_EVENT;
        it->ref.owner = st;
        it->ref.index = (uint32_t)i;
        if (evitem_configure(it, &eg->events[i], ep))
            goto out_free;
    }
    return st;
out_free:
    eg_state_free(st);
    return NULL;
}

/* ---------------------------------------------------------------- items */

/* Create the item of one event if it is not on the server yet. */
static void evitem_create(opc_ep *ep, opc_evitem *it)
{
    if (it->handle || it->cfg_error[0] || !ep->connected)
        return;
    ua_node_id node, type, *ftypes = NULL;
    memset(&node, 0, sizeof(node));
    memset(&type, 0, sizeof(type));
    ua_status st = opc_parse_node_id(ep, it->source, &node);
    if (st) {
        fp_event_health(it->ev, false, ua_status_name(st), "dataSource \"%s\": %s", it->source,
                        ua_status_name(st));
        return;
    }
    if (it->type_def) {
        st = opc_parse_node_id(ep, it->type_def, &type);
        if (st) {
            fp_event_health(it->ev, false, ua_status_name(st),
                            "eventFilter.typeDefinitionId \"%s\": %s", it->type_def,
                            ua_status_name(st));
            goto out;
        }
    }
    if (it->field_types) {
        ftypes = fp_calloc(it->n_fields, sizeof(*ftypes));
        if (!ftypes) {
            fp_event_health(it->ev, false, "BadOutOfMemory", "no memory for the event filter");
            goto out;
        }
        for (size_t i = 0; i < it->n_fields; i++) {
            if (!it->field_types[i])
                continue;
            st = opc_parse_node_id(ep, it->field_types[i], &ftypes[i]);
            if (st) {
                fp_event_health(it->ev, false, ua_status_name(st),
                                "eventFilter.selectClauses[%zu].typeDefinitionId \"%s\": %s", i,
                                it->field_types[i], ua_status_name(st));
                goto out;
            }
        }
    }
    char err[256] = "";
    opc_sub *sub = opc_sub_get(ep, it->publishing_ms, 1, err, sizeof(err));
    if (!sub || !sub->sub) {
        if (sub)
            opc_sub_release(ep, sub, 1);
        fp_event_health(it->ev, false, "SubscriptionFailed", "no subscription for the event: %s",
                        err[0] ? err : "not connected");
        goto out;
    }
    ua_monitor_item mi;
    memset(&mi, 0, sizeof(mi));
    mi.node_id = node;
    mi.attribute_id = UA_ATTR_EVENT_NOTIFIER;
    mi.sampling_interval_ms = 0;
    mi.queue_size = it->queue_size;
    mi.discard_oldest = true;
    mi.event_fields = (const char *const *)it->fields;
    mi.n_event_fields = it->n_fields;
    mi.event_type = it->type_def ? &type : NULL;
    mi.event_field_types = ftypes;
    mi.ctx = &it->ref;
    uint32_t handle = 0;
    ua_status result = UA_STATUS_GOOD;
    st = ua_subscription_monitor_sync(sub->sub, &mi, 1, &handle, &result);
    if (!st)
        st = result;
    if (ua_status_is_bad(st) || !handle) {
        opc_sub_release(ep, sub, 1);
        fp_event_health(it->ev, false, ua_status_name(st), "event item on %s: %s (%s)", it->source,
                        ua_status_name(st), ua_status_description(st));
        fp_log_warn(OPC_EV_LOG, "%s/%s/%s: event item on %s: %s", it->ev->group->asset->name,
                    it->ev->group->name, it->ev->name, it->source, ua_status_name(st));
        goto out;
    }
    it->sub = sub;
    it->handle = handle;
    it->was_available = true;
    fp_event_health(it->ev, true, "Good", "monitoring events of %s", it->source);
out:
    ua_node_id_clear(&node);
    ua_node_id_clear(&type);
    for (size_t i = 0; ftypes && i < it->n_fields; i++)
        ua_node_id_clear(&ftypes[i]);
    fp_free(ftypes);
}

/* Delete the item of one event on the server (when it is there) and drop it. */
static void evitem_delete(opc_ep *ep, opc_evitem *it)
{
    if (!it->handle)
        return;
    /* Dropped on the client even when the server cannot be told (not connected): no
     * notification reaches the item afterwards, nor does a reconnect recreate it. */
    if (it->sub && it->sub->sub)
        (void)ua_subscription_unmonitor_sync(it->sub->sub, &it->handle, 1, NULL);
    if (it->sub)
        opc_sub_release(ep, it->sub, 1);
    it->sub = NULL;
    it->handle = 0;
}

static void eg_create_all(opc_ep *ep, opc_eg *st)
{
    for (size_t i = 0; i < st->n; i++)
        evitem_create(ep, &st->items[i]);
}

static void eg_delete_all(opc_ep *ep, opc_eg *st)
{
    for (size_t i = 0; i < st->n; i++)
        evitem_delete(ep, &st->items[i]);
}

static void eg_link(opc_ep *ep, opc_eg *st)
{
    st->next = ep->event_groups;
    ep->event_groups = st;
    st->linked = true;
}

static void eg_unlink(opc_ep *ep, opc_eg *st)
{
    for (opc_eg **pp = &ep->event_groups; *pp; pp = &(*pp)->next)
        if (*pp == st) {
            *pp = st->next;
            break;
        }
    st->next = NULL;
    st->linked = false;
}

/* Report configuration mistakes (on the strand, before anything touches the server). */
static void eg_report_config(opc_eg *st)
{
    for (size_t i = 0; i < st->n; i++) {
        opc_evitem *it = &st->items[i];
        if (it->cfg_error[0])
            fp_event_health(it->ev, false, "BadConfiguration", "%s", it->cfg_error);
    }
}

static void eg_start(opc_ep *ep, opc_eg *st)
{
    eg_link(ep, st);
    if (!ep->connected) {
        for (size_t i = 0; i < st->n; i++)
            if (!st->items[i].cfg_error[0])
                fp_event_health(st->items[i].ev, false, "NotConnected",
                                "waiting for the endpoint's session%s%s",
                                ep->last_error[0] ? ": " : "", ep->last_error);
        return;
    }
    eg_create_all(ep, st);
}

static void eg_stop(opc_ep *ep, opc_eg *st)
{
    if (st->linked) {
        eg_delete_all(ep, st);
        eg_unlink(ep, st);
    }
}

/* ---------------------------------------------------------------- the strand */

int opc_event_group_add(fp_event_group *eg)
{
    opc_ep *ep = eg_endpoint(eg);
    if (!ep) {
        fp_event_group_health(eg, false, "NoEndpoint", "the asset's endpoint is not served");
        return -1;
    }
    opc_eg *st = eg_state_new(eg, ep);
    if (!st) {
        fp_event_group_health(eg, false, "OutOfMemory", "out of memory");
        return -1;
    }
    eg_report_config(st);
    eg_start(ep, st);
    eg->user = st;
    opc_ep_settle(ep);
    return 0;
}

int opc_event_group_update(fp_event_group *eg, const fp_event_group *old)
{
    (void)old;
    opc_ep *ep = eg_endpoint(eg);
    opc_eg *old_st = eg->user;
    if (!ep)
        return -1;
    opc_eg *st = eg_state_new(eg, ep);
    if (!st) {
        fp_event_group_health(eg, false, "OutOfMemory", "out of memory");
        return -1;
    }
    eg_report_config(st);
    /* The items of the old configuration are replaced at once: the old fp_event objects are
     * freed when this returns. */
    if (old_st)
        eg_stop(ep, old_st);
    eg_state_free(old_st);
    eg_start(ep, st);
    eg->user = st;
    opc_ep_settle(ep);
    return 0;
}

void opc_event_group_remove(fp_event_group *eg)
{
    opc_eg *st = eg->user;
    if (!st)
        return;
    opc_ep *ep = eg_endpoint(eg);
    /* Without the endpoint (removed first), its client and every item went with it (see
     * opc_events_free_all): nothing can reach the state any more. */
    if (st->linked && ep) {
        eg_stop(ep, st);
        opc_ep_settle(ep);
    }
    eg_state_free(st);
    eg->user = NULL;
}

/* ---------------------------------------------------------------- hooks of the endpoint */

void opc_events_on_connected(opc_ep *ep)
{
    for (opc_eg *st = ep->event_groups; st; st = st->next)
        for (size_t i = 0; i < st->n; i++) {
            opc_evitem *it = &st->items[i];
            if (it->cfg_error[0])
                continue;
            if (it->handle && it->sub && it->sub->sub) {
                /* The client carried the item over to the new session. */
                fp_event_health(it->ev, true, "Good", "monitoring events of %s", it->source);
                continue;
            }
            if (it->sub) {
                /* The client was replaced and its subscription went with it (sub->sub is
                 * NULL): let go of the old opc_sub and create the item anew. */
                opc_sub_release(ep, it->sub, 1);
                it->handle = 0;
                it->sub = NULL;
            }
            evitem_create(ep, it);
        }
}

void opc_events_on_lost(opc_ep *ep, const char *why)
{
    for (opc_eg *st = ep->event_groups; st; st = st->next)
        for (size_t i = 0; i < st->n; i++) {
            opc_evitem *it = &st->items[i];
            if (!it->cfg_error[0])
                fp_event_health(it->ev, false, "NotConnected", "the session is lost: %s",
                                why ? why : "unknown");
        }
}

void opc_events_on_event(opc_ep *ep, opc_item_ref *ref, const ua_variant *fields, size_t n)
{
    (void)ep;
    if (!ref || ref->kind != OPC_ITEM_EVENT || !ref->owner)
        return;
    opc_eg *st = ref->owner;
    if (ref->index >= st->n)
        return;
    opc_evitem *it = &st->items[ref->index];
    if (!it->handle)
        return;
    fp_payload *p = fp_payload_new(OPC_EV_MAX_MESSAGE);
    if (!p)
        return;
    size_t k = n < it->n_fields ? n : it->n_fields;
    for (size_t i = 0; i < k; i++) {
        if (ua_variant_is_empty(&fields[i])) {
            fp_payload_add_null(p, it->keys[i]);
            continue;
        }
        fp_buf *b = fp_payload_member_begin(p, it->keys[i]);
        if (!b)
            break;
        size_t mark = b->len;
        if (opc_json_variant(b, &fields[i]) != FP_OK && b->err == FP_OK) {
            /* A value the converter refuses: null rather than a broken message. */
            b->len = mark;
            fp_buf_append(b, "null", 4);
        }
        fp_payload_member_end(p);
    }
    char time_iso[40] = "";
    if (it->time_field >= 0 && (size_t)it->time_field < k) {
        const ua_variant *t = &fields[it->time_field];
        if (ua_variant_is_scalar(t) && t->type->kind == UA_KIND_DATETIME)
            opc_json_datetime(time_iso, *(const ua_datetime *)ua_variant_data(t));
    }
    if (!fp_payload_text(p, NULL)) {
        fp_event_health(it->ev, false, "MessageTooLarge",
                        "an event of %s did not fit in a message (%zu bytes at most)", it->source,
                        (size_t)OPC_EV_MAX_MESSAGE);
    } else if (fp_event_publish_payload(it->ev, p, time_iso[0] ? time_iso : NULL) < 0) {
        fp_log_debug(OPC_EV_LOG, "event %s: publish refused", it->ev->name);
    }
    fp_payload_free(p);
}

void opc_events_free_all(opc_ep *ep)
{
    /* The client is going away with every item on it: only forget them. The states stay with
     * their fp_event_group (eg->user) and are freed by opc_event_group_remove. */
    opc_eg *st = ep->event_groups;
    while (st) {
        opc_eg *next = st->next;
        for (size_t i = 0; i < st->n; i++) {
            st->items[i].handle = 0;
            st->items[i].sub = NULL;
        }
        st->next = NULL;
        st->linked = false;
        st = next;
    }
    ep->event_groups = NULL;
}
