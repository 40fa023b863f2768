/*
 * ua_sub.c - subscriptions, monitored items and the publish loop of a client.
 *
 * A session keeps a few Publish requests outstanding whenever it has a subscription
 * (OPC 10000-4 5.13.5), so the server always has one to answer with; each response is
 * acknowledged in the next request. A monitored item's client handle is its index in the
 * subscription's item array plus one, so a notification finds its item in O(1) without a
 * search, and a handle from the server that is out of range or unused is dropped, not
 * trusted. Sequence numbers are checked: a gap is filled with Republish; a keep-alive that
 * announces a later sequence number than we saw also reveals lost messages.
 */
#include <stdlib.h>
#include <string.h>

#include "opcua/ua_nodeid.h"
#include "opcua/ua_nodeids.h"
#include "fp_alloc.h"
#include "fp_log.h"
#include "ua_client_internal.h"

#define PUBLISH_TARGET 3u
#define MAX_ACKS 256u
#define MONITOR_BATCH 1000u

/* What an item was created with is kept to recreate it on a new session. Most items are a
 * node's Value without a filter: those keep a compact form (64 bytes instead of the 184 of a
 * whole request, which is 0.8 MB over 6,250 items); an item with a filter, an index range or a
 * data encoding keeps its whole request in `full`. */
typedef struct ua_sub_item {
    void *ctx;
    ua_monitored_item_create_request *full; /* NULL: the compact form below */
    ua_node_id node;
    double sampling_interval;
    uint32_t server_id;
    uint32_t attribute_id;
    uint32_t queue_size;
    uint8_t mode; /* ua_monitoring_mode */
    bool used;
    bool is_event;
    bool discard_oldest;
} ua_sub_item;

/* Move the request m (left zeroed) into it. 0, or BadOutOfMemory (m untouched). */
static ua_status item_keep(ua_sub_item *it, ua_monitored_item_create_request *m)
{
    const ua_read_value_id *r = &m->item_to_monitor;
    if (m->requested_parameters.filter.encoding != UA_EO_NONE || r->index_range.data ||
        r->data_encoding.name.data || r->data_encoding.ns) {
        it->full = fp_malloc(sizeof(*it->full));
        if (!it->full)
            return UA_STATUS_BAD_OUT_OF_MEMORY;
        *it->full = *m;
    } else {
        it->full = NULL;
        it->node = r->node_id;
        it->attribute_id = r->attribute_id;
        it->mode = (uint8_t)m->monitoring_mode;
        it->sampling_interval = m->requested_parameters.sampling_interval;
        it->queue_size = m->requested_parameters.queue_size;
        it->discard_oldest = m->requested_parameters.discard_oldest;
    }
    memset(m, 0, sizeof(*m));
    return UA_STATUS_GOOD;
}

/* A shallow request for item h as kept (borrowed for encoding: never cleared). */
static void item_request(const ua_sub_item *it, uint32_t h, ua_monitored_item_create_request *out)
{
    if (it->full) {
        *out = *it->full;
        return;
    }
    memset(out, 0, sizeof(*out));
    out->item_to_monitor.node_id = it->node;
    out->item_to_monitor.attribute_id = it->attribute_id;
    out->monitoring_mode = it->mode;
    out->requested_parameters.client_handle = h;
    out->requested_parameters.sampling_interval = it->sampling_interval;
    out->requested_parameters.queue_size = it->queue_size;
    out->requested_parameters.discard_oldest = it->discard_oldest;
}

static void item_clear(ua_sub_item *it)
{
    if (it->full) {
        ua_monitored_item_create_request_clear(it->full);
        fp_free(it->full);
        it->full = NULL;
    } else {
        ua_node_id_clear(&it->node);
    }
    memset(&it->node, 0, sizeof(it->node));
}

struct ua_subscription {
    ua_client *client;
    ua_subscription *next;
    uint32_t id;
    ua_subscription_params params;
    double interval_ms;
    uint32_t keepalive_count;
    ua_sub_item *items;
    size_t n_items;
    size_t cap_items;
    uint32_t last_seq;
    bool have_seq;
    size_t batch; /* items per CreateMonitoredItems: the server's limit, at most MONITOR_BATCH */
    ua_loop_timer keepalive_timer;
    ua_subscription_stats stats;
    /* False while a new session takes the subscription over (TransferSubscriptions, or
     * CreateSubscription when that failed): a call that names it then would reach the
     * server before it exists there (BadSubscriptionIdInvalid), so *_sync calls wait. */
    bool ready;
};

struct ua_sub_state {
    ua_subscription *list;
    uint32_t outstanding;
    uint32_t target;
    ua_subscription_acknowledgement acks[MAX_ACKS];
    size_t n_acks;
};

static void publish_send(ua_client *c);

/* Wait until s is usable on the current session (see ready); BadTimeout when the takeover
 * does not end within the request timeout. */
static ua_status wait_ready(ua_subscription *s)
{
    if (s->ready)
        return UA_STATUS_GOOD;
    uint64_t ms = (uint64_t)s->client->cfg.request_timeout_ms * 2 + 5000;
    if (ua_loop_run_until(s->client->loop, &s->ready, ms) < 0)
        return UA_STATUS_BAD_TIMEOUT;
    return UA_STATUS_GOOD;
}

ua_client *ua_subscription_client(const ua_subscription *s)
{
    return s->client;
}

void ua_subscription_get_stats(const ua_subscription *s, ua_subscription_stats *out)
{
    *out = s->stats;
    out->revised_publishing_interval_ms = s->interval_ms;
}

static ua_sub_state *sub_state(ua_client *c)
{
    if (!c->subs) {
        c->subs = fp_calloc(1, sizeof(*c->subs));
        if (c->subs)
            c->subs->target = PUBLISH_TARGET;
    }
    return c->subs;
}

static ua_subscription *find_sub(ua_client *c, uint32_t id)
{
    for (ua_subscription *s = c->subs ? c->subs->list : NULL; s; s = s->next) {
        if (s->id == id)
            return s;
    }
    return NULL;
}

static void add_ack(ua_client *c, uint32_t sub_id, uint32_t seq)
{
    ua_sub_state *st = c->subs;
    if (!st)
        return;
    if (st->n_acks == MAX_ACKS) {
        /* Drop the oldest: the server keeps it until its retransmission queue rolls over. */
        memmove(st->acks, st->acks + 1, (MAX_ACKS - 1) * sizeof(st->acks[0]));
        st->n_acks--;
    }
    st->acks[st->n_acks].subscription_id = sub_id;
    st->acks[st->n_acks].sequence_number = seq;
    st->n_acks++;
}

/* ------------------------------------------------------------- notification dispatch */

static void dispatch_data_change(ua_subscription *s, const ua_data_change_notification *dc)
{
    for (size_t i = 0; i < dc->monitored_items_count; i++) {
        const ua_monitored_item_notification *n = &dc->monitored_items[i];
        uint32_t h = n->client_handle;
        if (h == 0 || h > s->n_items || !s->items[h - 1].used || s->items[h - 1].is_event)
            continue;
        s->stats.data_changes++;
        if (s->params.on_data_change)
            s->params.on_data_change(s, h, s->items[h - 1].ctx, &n->value, s->params.ctx);
    }
}

static void dispatch_events(ua_subscription *s, const ua_event_notification_list *ev)
{
    for (size_t i = 0; i < ev->events_count; i++) {
        const ua_event_field_list *e = &ev->events[i];
        uint32_t h = e->client_handle;
        if (h == 0 || h > s->n_items || !s->items[h - 1].used || !s->items[h - 1].is_event)
            continue;
        s->stats.events++;
        if (s->params.on_event)
            s->params.on_event(s, h, s->items[h - 1].ctx, e->event_fields, e->event_fields_count,
                               s->params.ctx);
    }
}

static void dispatch_message(ua_subscription *s, const ua_notification_message *m)
{
    for (size_t i = 0; i < m->notification_data_count; i++) {
        const ua_extension_object *eo = &m->notification_data[i];
        if (eo->encoding != UA_EO_DECODED || !eo->data)
            continue;
        if (eo->type == UA_TYPE(DATA_CHANGE_NOTIFICATION))
            dispatch_data_change(s, eo->data);
        else if (eo->type == UA_TYPE(EVENT_NOTIFICATION_LIST))
            dispatch_events(s, eo->data);
        else if (eo->type == UA_TYPE(STATUS_CHANGE_NOTIFICATION))
            fp_log_info("opcua", "subscription %u status change: %s", s->id,
                        ua_status_name(((const ua_status_change_notification *)eo->data)->status));
    }
}

/* ------------------------------------------------------------------------ republish */

typedef struct republish_ctx {
    uint32_t sub_id;
    uint32_t seq;
} republish_ctx;

static void republish_cb(ua_client *c, ua_status status, void *response, void *ctx)
{
    republish_ctx *r = ctx;
    ua_subscription *s = find_sub(c, r->sub_id);
    if (s) {
        if (status || !response) {
            s->stats.lost++;
            fp_log_warn("opcua", "subscription %u: message %u lost (%s)", s->id, r->seq,
                        ua_status_name(status));
        } else {
            ua_republish_response *resp = response;
            s->stats.republished++;
            dispatch_message(s, &resp->notification_message);
            add_ack(c, s->id, r->seq);
        }
    }
    fp_free(r);
}

static void republish(ua_client *c, ua_subscription *s, uint32_t seq)
{
    republish_ctx *r = fp_calloc(1, sizeof(*r));
    if (!r) {
        s->stats.lost++;
        return;
    }
    r->sub_id = s->id;
    r->seq = seq;
    ua_republish_request req;
    ua_republish_request_init(&req);
    req.subscription_id = s->id;
    req.retransmit_sequence_number = seq;
    if (ua_client_service(c, &req, UA_TYPE(REPUBLISH_REQUEST), UA_TYPE(REPUBLISH_RESPONSE),
                          republish_cb, r)) {
        s->stats.lost++;
        fp_free(r);
    }
}

/* Fill the gap between the last sequence number seen and `upto` (exclusive). */
static void fill_gap(ua_client *c, ua_subscription *s, uint32_t upto)
{
    if (!s->have_seq)
        return;
    uint32_t missing = upto - s->last_seq - 1;
    if (upto <= s->last_seq + 1 || missing > 1000) {
        if (upto > s->last_seq + 1)
            s->stats.lost += missing;
        return;
    }
    for (uint32_t q = s->last_seq + 1; q < upto; q++)
        republish(c, s, q);
}

/* -------------------------------------------------------------------------- publish */

static void keepalive_timeout_cb(void *ctx)
{
    ua_subscription *s = ctx;
    fp_log_warn("opcua", "subscription %u: no publish response within the keep-alive time", s->id);
    /* A silent server is as good as a lost one: reconnect when the caller asked for it. */
    ua_client_connection_lost(s->client, UA_STATUS_BAD_TIMEOUT);
}

/* The server's keep-alive period: it answers a Publish at least once per (max keep-alive count
 * + 1) publishing intervals. Both factors come from the server, so the product is computed in
 * double and capped (a count of 4e9 times an interval of a day would be 3.7e17 ms). */
static uint64_t keepalive_period_ms(const ua_subscription *s)
{
    double ms = s->interval_ms * ((double)s->keepalive_count + 1);
    return ms < UA_CLIENT_MAX_SERVER_MS ? (uint64_t)ms : (uint64_t)UA_CLIENT_MAX_SERVER_MS;
}

/* Set the interval and keep-alive count the server revised (CreateSubscription,
 * ModifySubscription), keeping the current ones for what it left at zero. Only bounded values
 * are kept: a server's interval of NaN, -1 or 5.8e234 ms would otherwise reach the integer
 * timers of arm_keepalive and publish_send (an undefined conversion, then a timer that fires at
 * once or never). */
static void set_revised(ua_subscription *s, double interval_ms, uint32_t keepalive_count)
{
    s->interval_ms = ua_client_server_ms(interval_ms, s->interval_ms, UA_CLIENT_MAX_SERVER_MS);
    if (keepalive_count)
        s->keepalive_count = keepalive_count;
}

static void arm_keepalive(ua_subscription *s)
{
    uint64_t ms = keepalive_period_ms(s) * 3 / 2 + 5000;
    ua_loop_timer_start(s->client->loop, &s->keepalive_timer, ms);
}

static void publish_cb(ua_client *c, ua_status status, void *response, void *ctx)
{
    ua_sub_state *st = c->subs;
    if (!st)
        return;
    if (st->outstanding > 0)
        st->outstanding--;
    if (status) {
        if (status == UA_STATUS_BAD_TOO_MANY_PUBLISH_REQUESTS) {
            st->target = st->outstanding > 0 ? st->outstanding : 1;
            return;
        }
        if (status == UA_STATUS_BAD_TIMEOUT && c->state == UA_CLIENT_CONNECTED)
            publish_send(c);
        else if (status != UA_STATUS_BAD_NO_SUBSCRIPTION)
            fp_log_debug("opcua", "publish ended: %s", ua_status_name(status));
        return;
    }
    ua_publish_response *r = response;
    ua_subscription *s = find_sub(c, r->subscription_id);
    if (s) {
        const ua_notification_message *m = &r->notification_message;
        s->stats.publish_responses++;
        arm_keepalive(s);
        if (m->notification_data_count == 0) {
            /* A keep-alive carries the next sequence number without using it. */
            s->stats.keepalives++;
            fill_gap(c, s, m->sequence_number);
            if (m->sequence_number > 0) {
                s->last_seq = m->sequence_number - 1;
                s->have_seq = true;
            }
        } else {
            fill_gap(c, s, m->sequence_number);
            dispatch_message(s, m);
            add_ack(c, s->id, m->sequence_number);
            if (!s->have_seq || m->sequence_number > s->last_seq)
                s->last_seq = m->sequence_number;
            s->have_seq = true;
        }
    }
    publish_send(c);
}

static void publish_send(ua_client *c)
{
    ua_sub_state *st = c->subs;
    if (!st || !st->list || c->state != UA_CLIENT_CONNECTED)
        return;
    uint32_t timeout_ms = c->cfg.request_timeout_ms;
    for (ua_subscription *s = st->list; s; s = s->next) {
        uint64_t ka = keepalive_period_ms(s) * 2 + 5000;
        if (ka > timeout_ms)
            timeout_ms = ka > 3600000 ? 3600000 : (uint32_t)ka;
    }
    while (st->outstanding < st->target) {
        ua_publish_request req;
        ua_publish_request_init(&req);
        req.subscription_acknowledgements = st->n_acks ? st->acks : NULL;
        req.subscription_acknowledgements_count = st->n_acks;
        ua_status rc =
            ua_client_service_ex(c, &req, UA_TYPE(PUBLISH_REQUEST), UA_TYPE(PUBLISH_RESPONSE),
                                 timeout_ms, publish_cb, NULL);
        if (rc) {
            fp_log_debug("opcua", "cannot send publish: %s", ua_status_name(rc));
            return;
        }
        st->n_acks = 0;
        st->outstanding++;
    }
}

/* --------------------------------------------------------------------- subscriptions */

ua_status ua_subscription_create_sync(ua_client *c, const ua_subscription_params *p,
                                      ua_subscription **out)
{
    *out = NULL;
    ua_sub_state *st = sub_state(c);
    ua_subscription *s = fp_calloc(1, sizeof(*s));
    if (!st || !s) {
        fp_free(s);
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    }
    s->client = c;
    s->ready = true;
    s->params = *p;
    if (!(s->params.publishing_interval_ms > 0)) /* NaN too */
        s->params.publishing_interval_ms = 500;
    if (!s->params.max_keepalive_count)
        s->params.max_keepalive_count = 10;
    if (!s->params.lifetime_count)
        s->params.lifetime_count = s->params.max_keepalive_count * 30;
    ua_create_subscription_request req;
    ua_create_subscription_response resp;
    ua_create_subscription_request_init(&req);
    req.requested_publishing_interval = s->params.publishing_interval_ms;
    req.requested_lifetime_count = s->params.lifetime_count;
    req.requested_max_keep_alive_count = s->params.max_keepalive_count;
    req.max_notifications_per_publish = s->params.max_notifications;
    req.publishing_enabled = true;
    ua_status rc = ua_client_service_sync(c, &req, UA_TYPE(CREATE_SUBSCRIPTION_REQUEST), &resp,
                                          UA_TYPE(CREATE_SUBSCRIPTION_RESPONSE));
    if (rc) {
        ua_create_subscription_response_clear(&resp);
        fp_free(s);
        return rc;
    }
    s->id = resp.subscription_id;
    s->interval_ms = s->params.publishing_interval_ms;
    s->keepalive_count = 10;
    set_revised(s, resp.revised_publishing_interval, resp.revised_max_keep_alive_count);
    ua_create_subscription_response_clear(&resp);
    ua_loop_timer_init(&s->keepalive_timer, keepalive_timeout_cb, s);
    s->next = st->list;
    st->list = s;
    arm_keepalive(s);
    publish_send(c);
    *out = s;
    return UA_STATUS_GOOD;
}

/* A slot for a new item; its handle is the index plus one. */
static uint32_t item_alloc(ua_subscription *s)
{
    if (s->n_items == s->cap_items) {
        size_t cap = s->cap_items ? s->cap_items * 2 : 64;
        if (cap > UINT32_MAX - 1)
            return 0;
        ua_sub_item *items = fp_realloc(s->items, cap * sizeof(*items));
        if (!items)
            return 0;
        memset(items + s->cap_items, 0, (cap - s->cap_items) * sizeof(*items));
        s->items = items;
        s->cap_items = cap;
    }
    s->items[s->n_items].used = true;
    return (uint32_t)++s->n_items;
}

/* The filter of one item (EventFilter or DataChangeFilter) into *eo. */
static ua_status item_filter(const ua_monitor_item *it, ua_extension_object *eo)
{
    static const ua_node_id null_id; /* ns 0, i=0 */
    ua_status rc = UA_STATUS_GOOD;
    if (it->event_fields) {
        ua_event_filter f;
        ua_literal_operand lit;
        ua_content_filter_element el;
        memset(&f, 0, sizeof(f));
        memset(&lit, 0, sizeof(lit));
        memset(&el, 0, sizeof(el));
        f.select_clauses = ua_array_new(it->n_event_fields, UA_TYPE(SIMPLE_ATTRIBUTE_OPERAND));
        if (!f.select_clauses)
            return UA_STATUS_BAD_OUT_OF_MEMORY;
        f.select_clauses_count = it->n_event_fields;
        for (size_t i = 0; i < it->n_event_fields && !rc; i++) {
            ua_simple_attribute_operand *op = &f.select_clauses[i];
            const char *pe = it->event_fields[i];
            size_t n_el = 1;
            for (const char *q = pe; *q; q++)
                n_el += *q == '/';
            const ua_node_id *ft = it->event_field_types ? &it->event_field_types[i] : NULL;
            if (ft && !ua_node_id_equal(ft, &null_id)) {
                rc = ua_node_id_copy(ft, &op->type_definition_id);
                if (rc)
                    break;
            } else {
                op->type_definition_id = ua_node_id_numeric(0, UA_NS0ID_BASE_EVENT_TYPE);
            }
            op->attribute_id = UA_ATTR_VALUE;
            op->browse_path = ua_array_new(n_el, UA_TYPE(QUALIFIED_NAME));
            if (!op->browse_path) {
                rc = UA_STATUS_BAD_OUT_OF_MEMORY;
                break;
            }
            op->browse_path_count = n_el;
            /* "EnabledState/Id", "1:Sequence": one element per '/', each with an
             * optional namespace index. */
            for (size_t k = 0; k < n_el && !rc; k++) {
                const char *end = strchr(pe, '/');
                size_t len = end ? (size_t)(end - pe) : strlen(pe);
                const char *colon = memchr(pe, ':', len);
                const char *name = pe;
                if (colon && colon != pe && strspn(pe, "0123456789") == (size_t)(colon - pe)) {
                    op->browse_path[k].ns = (uint16_t)strtoul(pe, NULL, 10);
                    name = colon + 1;
                    len -= (size_t)(name - pe);
                }
                char *z = fp_strndup(name, len);
                if (!z) {
                    rc = UA_STATUS_BAD_OUT_OF_MEMORY;
                    break;
                }
                rc = ua_string_from(&op->browse_path[k].name, z);
                fp_free(z);
                pe = end ? end + 1 : pe + len;
            }
        }
        if (!rc && it->event_type) {
            ua_extension_object *operand = ua_array_new(1, UA_TYPE(EXTENSION_OBJECT));
            f.where_clause.elements = ua_array_new(1, UA_TYPE(CONTENT_FILTER_ELEMENT));
            if (!operand || !f.where_clause.elements) {
                ua_array_free(operand, 1, UA_TYPE(EXTENSION_OBJECT));
                rc = UA_STATUS_BAD_OUT_OF_MEMORY;
            } else {
                f.where_clause.elements_count = 1;
                f.where_clause.elements[0].filter_operator = UA_FILTER_OPERATOR_OF_TYPE;
                f.where_clause.elements[0].filter_operands = operand;
                f.where_clause.elements[0].filter_operands_count = 1;
                rc = ua_variant_set_scalar_copy(&lit.value, it->event_type, UA_TYPE(NODE_ID));
                if (!rc)
                    rc = ua_extension_object_set_copy(operand, &lit, UA_TYPE(LITERAL_OPERAND));
                ua_variant_clear(&lit.value);
            }
        }
        if (!rc)
            rc = ua_extension_object_set_copy(eo, &f, UA_TYPE(EVENT_FILTER));
        ua_event_filter_clear(&f);
        return rc;
    }
    if (it->deadband_type == 0 && it->trigger == 0)
        return UA_STATUS_GOOD;
    ua_data_change_filter f;
    memset(&f, 0, sizeof(f));
    f.trigger = it->trigger ? it->trigger - 1 : UA_DATA_CHANGE_TRIGGER_STATUS_VALUE;
    f.deadband_type = (uint32_t)it->deadband_type;
    f.deadband_value = it->deadband_value;
    return ua_extension_object_set_copy(eo, &f, UA_TYPE(DATA_CHANGE_FILTER));
}

static ua_status monitor_batch(ua_subscription *s, const ua_monitor_item *items, size_t n,
                               uint32_t *handles, ua_status *results)
{
    ua_create_monitored_items_request req;
    ua_create_monitored_items_response resp;
    ua_create_monitored_items_request_init(&req);
    req.subscription_id = s->id;
    req.timestamps_to_return = UA_TIMESTAMPS_TO_RETURN_BOTH;
    req.items_to_create = ua_array_new(n, UA_TYPE(MONITORED_ITEM_CREATE_REQUEST));
    if (!req.items_to_create)
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    req.items_to_create_count = n;
    ua_status rc = UA_STATUS_GOOD;
    for (size_t i = 0; i < n && !rc; i++) {
        const ua_monitor_item *it = &items[i];
        ua_monitored_item_create_request *m = &req.items_to_create[i];
        rc = ua_node_id_copy(&it->node_id, &m->item_to_monitor.node_id);
        if (rc)
            break;
        m->item_to_monitor.attribute_id =
            it->attribute_id ? it->attribute_id : (it->event_fields ? 12u : 13u);
        m->monitoring_mode = UA_MONITORING_MODE_REPORTING;
        m->requested_parameters.sampling_interval =
            it->sampling_interval_ms >= 0 ? it->sampling_interval_ms : -1.0;
        m->requested_parameters.queue_size = it->queue_size ? it->queue_size : 1;
        m->requested_parameters.discard_oldest = it->discard_oldest;
        rc = item_filter(it, &m->requested_parameters.filter);
        if (rc)
            break;
        uint32_t h = item_alloc(s);
        if (!h) {
            rc = UA_STATUS_BAD_OUT_OF_MEMORY;
            break;
        }
        s->items[h - 1].ctx = it->ctx;
        s->items[h - 1].is_event = it->event_fields != NULL;
        m->requested_parameters.client_handle = h;
        handles[i] = h;
    }
    if (!rc)
        rc = ua_client_service_sync(s->client, &req, UA_TYPE(CREATE_MONITORED_ITEMS_REQUEST), &resp,
                                    UA_TYPE(CREATE_MONITORED_ITEMS_RESPONSE));
    else
        ua_create_monitored_items_response_init(&resp);
    if (!rc && resp.results_count != n)
        rc = UA_STATUS_BAD_UNEXPECTED_ERROR;
    for (size_t i = 0; i < n; i++) {
        ua_status item_rc = rc ? rc : resp.results[i].status_code;
        uint32_t h = req.items_to_create[i].requested_parameters.client_handle;
        if (h && h <= s->n_items) {
            if (ua_status_is_bad(item_rc)) {
                s->items[h - 1].used = false;
            } else {
                s->items[h - 1].server_id = resp.results[i].monitored_item_id;
                /* Move the request into the item, for a recreate after a reconnect. Out of
                 * memory here: the item is reported failed and its notifications dropped
                 * rather than kept without a way to recreate it. */
                if (item_keep(&s->items[h - 1], &req.items_to_create[i]) != UA_STATUS_GOOD) {
                    s->items[h - 1].used = false;
                    item_rc = UA_STATUS_BAD_OUT_OF_MEMORY;
                }
            }
        }
        if (results)
            results[i] = item_rc;
    }
    ua_create_monitored_items_response_clear(&resp);
    ua_create_monitored_items_request_clear(&req);
    return rc;
}

ua_status ua_subscription_monitor_sync(ua_subscription *s, const ua_monitor_item *items, size_t n,
                                       uint32_t *handles, ua_status *results)
{
    memset(handles, 0, n * sizeof(*handles));
    ua_status wr = wait_ready(s);
    if (wr)
        return wr;
    ua_operation_limits lim;
    size_t batch = MONITOR_BATCH;
    if (!ua_client_operation_limits(s->client, &lim) && lim.max_monitored_items_per_call &&
        lim.max_monitored_items_per_call < batch)
        batch = lim.max_monitored_items_per_call;
    s->batch = batch;
    for (size_t off = 0; off < n; off += batch) {
        size_t k = n - off < batch ? n - off : batch;
        ua_status rc =
            monitor_batch(s, items + off, k, handles + off, results ? results + off : NULL);
        if (rc)
            return rc;
    }
    return UA_STATUS_GOOD;
}

static void sub_unlink_free(ua_client *c, ua_subscription *s)
{
    if (c->subs) {
        ua_subscription **pp = &c->subs->list;
        while (*pp && *pp != s)
            pp = &(*pp)->next;
        if (*pp)
            *pp = s->next;
    }
    ua_loop_timer_stop(c->loop, &s->keepalive_timer);
    for (size_t i = 0; i < s->n_items; i++)
        item_clear(&s->items[i]);
    fp_free(s->items);
    fp_free(s);
}

ua_status ua_subscription_delete_sync(ua_subscription *s)
{
    ua_client *c = s->client;
    (void)wait_ready(s); /* deleted on our side whatever happens */
    ua_delete_subscriptions_request req;
    ua_delete_subscriptions_response resp;
    ua_delete_subscriptions_request_init(&req);
    uint32_t id = s->id;
    req.subscription_ids = &id;
    req.subscription_ids_count = 1;
    sub_unlink_free(c, s);
    ua_status rc = UA_STATUS_BAD_NOT_CONNECTED;
    if (c->state == UA_CLIENT_CONNECTED)
        rc = ua_client_service_sync(c, &req, UA_TYPE(DELETE_SUBSCRIPTIONS_REQUEST), &resp,
                                    UA_TYPE(DELETE_SUBSCRIPTIONS_RESPONSE));
    else
        ua_delete_subscriptions_response_init(&resp);
    ua_delete_subscriptions_response_clear(&resp);
    return rc;
}

void ua_sub_on_disconnect(ua_client *c)
{
    if (!c->subs)
        return;
    c->subs->outstanding = 0;
    c->subs->n_acks = 0;
    for (ua_subscription *s = c->subs->list; s; s = s->next)
        ua_loop_timer_stop(c->loop, &s->keepalive_timer);
}

/* ----------------------------------------------------------------------- reconnects */

void ua_sub_resume(ua_client *c)
{
    if (!c->subs)
        return;
    for (ua_subscription *s = c->subs->list; s; s = s->next)
        arm_keepalive(s);
    publish_send(c);
}

static bool sub_alive(ua_client *c, const ua_subscription *s)
{
    for (ua_subscription *q = c->subs ? c->subs->list : NULL; q; q = q->next) {
        if (q == s)
            return true;
    }
    return false;
}

typedef struct recreate_batch {
    ua_subscription *sub;
    size_t n;
    uint32_t handles[];
} recreate_batch;

static void recreate_items_cb(ua_client *c, ua_status status, void *response, void *ctx)
{
    recreate_batch *b = ctx;
    ua_create_monitored_items_response *r = response;
    if (sub_alive(c, b->sub)) {
        ua_subscription *s = b->sub;
        if (status || r->results_count != b->n) {
            fp_log_warn("opcua", "subscription %u: items not recreated: %s", s->id,
                        ua_status_name(status ? status : UA_STATUS_BAD_UNEXPECTED_ERROR));
        } else {
            size_t failed = 0;
            for (size_t i = 0; i < b->n; i++) {
                ua_sub_item *it = &s->items[b->handles[i] - 1];
                if (ua_status_is_bad(r->results[i].status_code))
                    failed++;
                else
                    it->server_id = r->results[i].monitored_item_id;
            }
            if (failed)
                fp_log_warn("opcua", "subscription %u: %zu items failed on recreate", s->id,
                            failed);
        }
    }
    fp_free(b);
}

/* Send CreateMonitoredItems for every live item of s, in batches. */
static void recreate_items(ua_client *c, ua_subscription *s)
{
    size_t i = 0;
    while (i < s->n_items) {
        size_t cap = s->batch ? s->batch : MONITOR_BATCH;
        recreate_batch *b = fp_calloc(1, sizeof(*b) + cap * sizeof(uint32_t));
        ua_monitored_item_create_request *reqs = fp_calloc(cap, sizeof(*reqs));
        if (!b || !reqs) {
            fp_free(b);
            fp_free(reqs);
            return;
        }
        b->sub = s;
        for (; i < s->n_items && b->n < cap; i++) {
            if (!s->items[i].used)
                continue;
            item_request(&s->items[i], (uint32_t)i + 1, &reqs[b->n]); /* borrowed for encoding */
            b->handles[b->n++] = (uint32_t)i + 1;
        }
        if (b->n == 0) {
            fp_free(b);
            fp_free(reqs);
            return;
        }
        ua_create_monitored_items_request req;
        ua_create_monitored_items_request_init(&req);
        req.subscription_id = s->id;
        req.timestamps_to_return = UA_TIMESTAMPS_TO_RETURN_BOTH;
        req.items_to_create = reqs;
        req.items_to_create_count = b->n;
        ua_status st =
            ua_client_service(c, &req, UA_TYPE(CREATE_MONITORED_ITEMS_REQUEST),
                              UA_TYPE(CREATE_MONITORED_ITEMS_RESPONSE), recreate_items_cb, b);
        fp_free(reqs);
        if (st) {
            fp_free(b);
            return;
        }
    }
}

static void recreate_sub_cb(ua_client *c, ua_status status, void *response, void *ctx)
{
    ua_subscription *s = ctx;
    ua_create_subscription_response *r = response;
    if (!sub_alive(c, s))
        return;
    s->ready = true;
    if (status) {
        fp_log_warn("opcua", "subscription not recreated: %s", ua_status_name(status));
        return;
    }
    s->id = r->subscription_id;
    s->interval_ms = s->params.publishing_interval_ms;
    s->keepalive_count = 10;
    set_revised(s, r->revised_publishing_interval, r->revised_max_keep_alive_count);
    s->have_seq = false;
    s->stats.recreated++;
    arm_keepalive(s);
    recreate_items(c, s);
    publish_send(c);
}

static void recreate_sub(ua_client *c, ua_subscription *s)
{
    ua_create_subscription_request req;
    ua_create_subscription_request_init(&req);
    req.requested_publishing_interval = s->params.publishing_interval_ms;
    req.requested_lifetime_count = s->params.lifetime_count;
    req.requested_max_keep_alive_count = s->params.max_keepalive_count;
    req.max_notifications_per_publish = s->params.max_notifications;
    req.publishing_enabled = true;
    if (ua_client_service(c, &req, UA_TYPE(CREATE_SUBSCRIPTION_REQUEST),
                          UA_TYPE(CREATE_SUBSCRIPTION_RESPONSE), recreate_sub_cb, s)) {
        fp_log_warn("opcua", "subscription %u: cannot send its recreation", s->id);
        s->ready = true;
    }
}

/* The subscriptions the transfer could not take over are recreated. */
static void transfer_cb(ua_client *c, ua_status status, void *response, void *ctx)
{
    ua_transfer_subscriptions_response *r = response;
    uint32_t *ids = ctx;
    size_t n = 0;
    for (ua_subscription *s = c->subs ? c->subs->list : NULL; s; s = s->next)
        n++;
    size_t i = 0;
    for (ua_subscription *s = c->subs ? c->subs->list : NULL; s; s = s->next, i++) {
        bool moved = !status && r && r->results_count == n && s->id == ids[i] &&
                     !ua_status_is_bad(r->results[i].status_code);
        if (moved) {
            s->ready = true;
            s->stats.transferred++;
            s->have_seq = false; /* the new session restarts the numbering we see */
            arm_keepalive(s);
        } else {
            recreate_sub(c, s);
        }
    }
    fp_free(ids);
    publish_send(c);
}

void ua_sub_recreate(ua_client *c)
{
    if (!c->subs || !c->subs->list)
        return;
    /* First ask the server to move the subscriptions to the new session (they survive a lost
     * session on a server that did not restart); what it refuses is created again. */
    size_t n = 0;
    for (ua_subscription *s = c->subs->list; s; s = s->next) {
        s->ready = false;
        n++;
    }
    uint32_t *ids = fp_calloc(n, sizeof(*ids));
    if (!ids) {
        for (ua_subscription *s = c->subs->list; s; s = s->next)
            recreate_sub(c, s);
        return;
    }
    size_t i = 0;
    for (ua_subscription *s = c->subs->list; s; s = s->next)
        ids[i++] = s->id;
    ua_transfer_subscriptions_request req;
    ua_transfer_subscriptions_request_init(&req);
    req.subscription_ids = ids;
    req.subscription_ids_count = n;
    req.send_initial_values = true;
    if (ua_client_service(c, &req, UA_TYPE(TRANSFER_SUBSCRIPTIONS_REQUEST),
                          UA_TYPE(TRANSFER_SUBSCRIPTIONS_RESPONSE), transfer_cb, ids)) {
        fp_free(ids);
        for (ua_subscription *s = c->subs->list; s; s = s->next)
            recreate_sub(c, s);
    }
}

/* ------------------------------------------------------------ modify and delete */

ua_status ua_subscription_modify_sync(ua_subscription *s, double publishing_interval_ms,
                                      uint32_t max_keepalive_count)
{
    ua_modify_subscription_request req;
    ua_modify_subscription_response resp;
    ua_modify_subscription_request_init(&req);
    ua_status wr = wait_ready(s);
    if (wr)
        return wr;
    req.subscription_id = s->id;
    req.requested_publishing_interval =
        publishing_interval_ms > 0 ? publishing_interval_ms : s->params.publishing_interval_ms;
    req.requested_max_keep_alive_count =
        max_keepalive_count ? max_keepalive_count : s->params.max_keepalive_count;
    req.requested_lifetime_count = req.requested_max_keep_alive_count * 30;
    req.max_notifications_per_publish = s->params.max_notifications;
    ua_status st = ua_client_service_sync(s->client, &req, UA_TYPE(MODIFY_SUBSCRIPTION_REQUEST),
                                          &resp, UA_TYPE(MODIFY_SUBSCRIPTION_RESPONSE));
    if (!st) {
        s->params.publishing_interval_ms = req.requested_publishing_interval;
        s->params.max_keepalive_count = req.requested_max_keep_alive_count;
        s->params.lifetime_count = req.requested_lifetime_count;
        set_revised(s, resp.revised_publishing_interval, resp.revised_max_keep_alive_count);
        arm_keepalive(s);
    }
    ua_modify_subscription_response_clear(&resp);
    return st;
}

/* The item of a handle the caller got from ua_subscription_monitor_sync, or NULL. */
static ua_sub_item *item_of(ua_subscription *s, uint32_t h)
{
    return h && h <= s->n_items && s->items[h - 1].used ? &s->items[h - 1] : NULL;
}

/* The server ids of the live items among handles (*ids, fp_free it; *k of them); every
 * result starts as BadMonitoredItemIdInvalid. */
static ua_status item_ids(ua_subscription *s, const uint32_t *handles, size_t n, ua_status *results,
                          uint32_t **ids, size_t *k)
{
    *k = 0;
    *ids = fp_calloc(n ? n : 1, sizeof(**ids));
    if (!*ids)
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    for (size_t i = 0; i < n; i++) {
        ua_sub_item *it = item_of(s, handles[i]);
        if (results)
            results[i] = UA_STATUS_BAD_MONITORED_ITEM_ID_INVALID;
        if (it)
            (*ids)[(*k)++] = it->server_id;
    }
    return UA_STATUS_GOOD;
}

/* Calls of at most s->batch items (the server's MaxMonitoredItemsPerCall) for the handle-based
 * item services: fn handles one slice. */
typedef ua_status (*items_slice_fn)(ua_subscription *s, const uint32_t *handles, size_t n,
                                    ua_status *results, const void *arg);

static ua_status items_in_slices(ua_subscription *s, const uint32_t *handles, size_t n,
                                 ua_status *results, items_slice_fn fn, const void *arg)
{
    size_t batch = s->batch ? s->batch : MONITOR_BATCH;
    ua_status st = wait_ready(s);
    for (size_t off = 0; off < n && !st; off += batch) {
        size_t k = n - off < batch ? n - off : batch;
        st = fn(s, handles + off, k, results ? results + off : NULL, arg);
    }
    return st;
}

typedef struct item_change {
    double sampling_interval_ms;
    uint32_t queue_size;
} item_change;

static ua_status modify_slice(ua_subscription *s, const uint32_t *handles, size_t n,
                              ua_status *results, const void *arg)
{
    const item_change *ch = arg;
    ua_modify_monitored_items_request req;
    ua_modify_monitored_items_response resp;
    ua_modify_monitored_items_request_init(&req);
    ua_modify_monitored_items_response_init(&resp);
    uint32_t *ids;
    size_t k;
    ua_status st = item_ids(s, handles, n, results, &ids, &k);
    if (st || k == 0)
        goto out_ids;
    req.items_to_modify = ua_array_new(k, UA_TYPE(MONITORED_ITEM_MODIFY_REQUEST));
    if (!req.items_to_modify) {
        st = UA_STATUS_BAD_OUT_OF_MEMORY;
        goto out_ids;
    }
    req.items_to_modify_count = k;
    req.subscription_id = s->id;
    req.timestamps_to_return = UA_TIMESTAMPS_TO_RETURN_BOTH;
    for (size_t i = 0, j = 0; i < n && !st; i++) {
        ua_sub_item *it = item_of(s, handles[i]);
        if (!it)
            continue;
        ua_monitored_item_modify_request *m = &req.items_to_modify[j++];
        m->monitored_item_id = it->server_id;
        /* The handle, filter and discard policy stay as created. */
        ua_monitored_item_create_request kept;
        item_request(it, handles[i], &kept);
        st = ua_monitoring_parameters_copy(&kept.requested_parameters, &m->requested_parameters);
        m->requested_parameters.sampling_interval = ch->sampling_interval_ms;
        if (ch->queue_size)
            m->requested_parameters.queue_size = ch->queue_size;
    }
    if (!st)
        st = ua_client_service_sync(s->client, &req, UA_TYPE(MODIFY_MONITORED_ITEMS_REQUEST), &resp,
                                    UA_TYPE(MODIFY_MONITORED_ITEMS_RESPONSE));
    if (!st && resp.results_count != k)
        st = UA_STATUS_BAD_UNEXPECTED_ERROR;
    for (size_t i = 0, j = 0; i < n && !st; i++) {
        ua_sub_item *it = item_of(s, handles[i]);
        if (!it)
            continue;
        ua_status item_rc = resp.results[j].status_code;
        if (results)
            results[i] = item_rc;
        /* Keep what was asked, so that a recreated item gets it too. */
        if (!ua_status_is_bad(item_rc)) {
            const ua_monitoring_parameters *p = &req.items_to_modify[j].requested_parameters;
            if (it->full) {
                it->full->requested_parameters.sampling_interval = p->sampling_interval;
                it->full->requested_parameters.queue_size = p->queue_size;
            } else {
                it->sampling_interval = p->sampling_interval;
                it->queue_size = p->queue_size;
            }
        }
        j++;
    }
    ua_modify_monitored_items_response_clear(&resp);
    ua_modify_monitored_items_request_clear(&req);
out_ids:
    fp_free(ids);
    return st;
}

ua_status ua_subscription_modify_items_sync(ua_subscription *s, const uint32_t *handles, size_t n,
                                            double sampling_interval_ms, uint32_t queue_size,
                                            ua_status *results)
{
    item_change ch = {sampling_interval_ms >= 0 ? sampling_interval_ms : -1.0, queue_size};
    return items_in_slices(s, handles, n, results, modify_slice, &ch);
}

static ua_status mode_slice(ua_subscription *s, const uint32_t *handles, size_t n,
                            ua_status *results, const void *arg)
{
    ua_monitoring_mode mode = *(const ua_monitoring_mode *)arg;
    ua_set_monitoring_mode_request req;
    ua_set_monitoring_mode_response resp;
    ua_set_monitoring_mode_request_init(&req);
    ua_set_monitoring_mode_response_init(&resp);
    uint32_t *ids;
    size_t k;
    ua_status st = item_ids(s, handles, n, results, &ids, &k);
    if (st || k == 0)
        goto out_ids;
    req.subscription_id = s->id;
    req.monitoring_mode = mode;
    req.monitored_item_ids = ids; /* borrowed for encoding */
    req.monitored_item_ids_count = k;
    st = ua_client_service_sync(s->client, &req, UA_TYPE(SET_MONITORING_MODE_REQUEST), &resp,
                                UA_TYPE(SET_MONITORING_MODE_RESPONSE));
    if (!st && resp.results_count != k)
        st = UA_STATUS_BAD_UNEXPECTED_ERROR;
    for (size_t i = 0, j = 0; i < n && !st; i++) {
        ua_sub_item *it = item_of(s, handles[i]);
        if (!it)
            continue;
        if (results)
            results[i] = resp.results[j];
        if (!ua_status_is_bad(resp.results[j])) { /* a recreated item keeps its mode */
            if (it->full)
                it->full->monitoring_mode = mode;
            else
                it->mode = (uint8_t)mode;
        }
        j++;
    }
    ua_set_monitoring_mode_response_clear(&resp);
out_ids:
    fp_free(ids);
    return st;
}

ua_status ua_subscription_set_monitoring_mode_sync(ua_subscription *s, const uint32_t *handles,
                                                   size_t n, ua_monitoring_mode mode,
                                                   ua_status *results)
{
    if (mode < UA_MONITORING_MODE_DISABLED || mode > UA_MONITORING_MODE_REPORTING)
        return UA_STATUS_BAD_MONITORING_MODE_INVALID;
    return items_in_slices(s, handles, n, results, mode_slice, &mode);
}

static ua_status unmonitor_slice(ua_subscription *s, const uint32_t *handles, size_t n,
                                 ua_status *results, const void *arg)
{
    ua_delete_monitored_items_request req;
    ua_delete_monitored_items_response resp;
    (void)arg;
    ua_delete_monitored_items_request_init(&req);
    uint32_t *ids;
    size_t k;
    if (item_ids(s, handles, n, results, &ids, &k))
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    ua_status st = UA_STATUS_GOOD;
    if (k) {
        req.subscription_id = s->id;
        req.monitored_item_ids = ids;
        req.monitored_item_ids_count = k;
        st = ua_client_service_sync(s->client, &req, UA_TYPE(DELETE_MONITORED_ITEMS_REQUEST), &resp,
                                    UA_TYPE(DELETE_MONITORED_ITEMS_RESPONSE));
        if (!st && resp.results_count != k)
            st = UA_STATUS_BAD_UNEXPECTED_ERROR;
        /* Whatever the server says, the items are gone for us: no more dispatch to them. */
        size_t j = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t h = handles[i];
            if (!(h && h <= s->n_items && s->items[h - 1].used))
                continue;
            if (results)
                results[i] = st ? st : resp.results[j];
            j++;
            s->items[h - 1].used = false;
            item_clear(&s->items[h - 1]);
        }
        ua_delete_monitored_items_response_clear(&resp);
    }
    fp_free(ids);
    return st;
}

ua_status ua_subscription_unmonitor_sync(ua_subscription *s, const uint32_t *handles, size_t n,
                                         ua_status *results)
{
    return items_in_slices(s, handles, n, results, unmonitor_slice, NULL);
}

void ua_sub_free_all(ua_client *c)
{
    if (!c->subs)
        return;
    while (c->subs->list)
        sub_unlink_free(c, c->subs->list);
    fp_free(c->subs);
    c->subs = NULL;
}
