/*
 * test_opcua_services.c - the client's service helpers against the scripted in-process server
 * of test_opcua_fake.h: requests split by small OperationLimits (Read, Browse, Call,
 * TranslateBrowsePaths, RegisterNodes) with results back in order, and the subscription
 * services ModifySubscription, ModifyMonitoredItems, SetMonitoringMode and the deletion of
 * single items, checked on the requests the server receives and on what reaches the caller;
 * and revised times a hostile server may send (NaN, infinite, negative, 5.8e234 ms), which the
 * client keeps bounded before it makes timers of them.
 *
 * The server allows 2 operations per call and answers a larger request with a ServiceFault
 * BadTooManyOperations, so an unsplit request fails the test.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "test_opcua_fake.h"

#define LIMIT 2u
#define MAX_HANDLES 16

typedef struct server_state {
    uint32_t calls[1024]; /* per request encoding id */
    uint32_t publish_ids[16];
    size_t n_publish;
    uint32_t publish_seq;
    double modify_interval;
    uint32_t modify_item_id;
    double modify_sampling;
    uint32_t modify_queue;
    int32_t mode;
    uint32_t mode_ids[MAX_HANDLES];
    size_t n_mode_ids;
    uint32_t deleted_ids[MAX_HANDLES];
    size_t n_deleted;
    uint32_t handle_of[MAX_HANDLES]; /* server id - 100 -> client handle */
    /* When set, CreateSubscription and ModifySubscription answer with these revised values. */
    bool revise;
    double revised_interval;
    uint32_t revised_keepalive;
} server_state;

static server_state srv;

static void fault(ua_fake *f, uint32_t request_id, ua_status st)
{
    ua_service_fault sf;
    ua_service_fault_init(&sf);
    sf.response_header.service_result = st;
    ua_fake_send_response(f, request_id, &sf, UA_TYPE(SERVICE_FAULT));
}

/* The numeric id of a node (0 for other forms). */
static uint32_t num(const ua_node_id *n)
{
    return n->id_type == UA_NODEID_NUMERIC ? n->id.numeric : 0;
}

static void answer_read(ua_fake *f, uint32_t rid, const ua_read_request *rq)
{
    ua_read_response r;
    ua_read_response_init(&r);
    r.results = ua_array_new(rq->nodes_to_read_count, UA_TYPE(DATA_VALUE));
    r.results_count = rq->nodes_to_read_count;
    for (size_t i = 0; i < r.results_count; i++) {
        const ua_node_id *n = &rq->nodes_to_read[i].node_id;
        r.results[i].has = UA_DV_VALUE;
        if (n->ns == 0) { /* the OperationLimits */
            uint32_t v = LIMIT;
            ua_variant_set_scalar_copy(&r.results[i].value, &v, UA_TYPE(UINT32));
        } else {
            double v = num(n) * 1.5;
            ua_variant_set_scalar_copy(&r.results[i].value, &v, UA_TYPE(DOUBLE));
        }
    }
    ua_fake_send_response(f, rid, &r, UA_TYPE(READ_RESPONSE));
    ua_read_response_clear(&r);
}

/* Results that echo the node each operation was about, so the order can be checked. */
static void answer_browse(ua_fake *f, uint32_t rid, const ua_browse_request *rq)
{
    ua_browse_response r;
    ua_browse_response_init(&r);
    r.results = ua_array_new(rq->nodes_to_browse_count, UA_TYPE(BROWSE_RESULT));
    r.results_count = rq->nodes_to_browse_count;
    for (size_t i = 0; i < r.results_count; i++) {
        r.results[i].references = ua_array_new(1, UA_TYPE(REFERENCE_DESCRIPTION));
        r.results[i].references_count = 1;
        r.results[i].references[0].node_id.node_id =
            ua_node_id_numeric(1, num(&rq->nodes_to_browse[i].node_id) + 1000);
    }
    ua_fake_send_response(f, rid, &r, UA_TYPE(BROWSE_RESPONSE));
    ua_browse_response_clear(&r);
}

static void answer_call(ua_fake *f, uint32_t rid, const ua_call_request *rq)
{
    ua_call_response r;
    ua_call_response_init(&r);
    r.results = ua_array_new(rq->methods_to_call_count, UA_TYPE(CALL_METHOD_RESULT));
    r.results_count = rq->methods_to_call_count;
    for (size_t i = 0; i < r.results_count; i++) {
        int32_t v = (int32_t)num(&rq->methods_to_call[i].object_id) * 10;
        r.results[i].output_arguments = ua_array_new(1, UA_TYPE(VARIANT));
        r.results[i].output_arguments_count = 1;
        ua_variant_set_scalar_copy(&r.results[i].output_arguments[0], &v, UA_TYPE(INT32));
    }
    ua_fake_send_response(f, rid, &r, UA_TYPE(CALL_RESPONSE));
    ua_call_response_clear(&r);
}

static void answer_translate(ua_fake *f, uint32_t rid,
                             const ua_translate_browse_paths_to_node_ids_request *rq)
{
    ua_translate_browse_paths_to_node_ids_response r;
    ua_translate_browse_paths_to_node_ids_response_init(&r);
    r.results = ua_array_new(rq->browse_paths_count, UA_TYPE(BROWSE_PATH_RESULT));
    r.results_count = rq->browse_paths_count;
    for (size_t i = 0; i < r.results_count; i++) {
        r.results[i].targets = ua_array_new(1, UA_TYPE(BROWSE_PATH_TARGET));
        r.results[i].targets_count = 1;
        r.results[i].targets[0].target_id.node_id =
            ua_node_id_numeric(1, num(&rq->browse_paths[i].starting_node) + 2000);
    }
    ua_fake_send_response(f, rid, &r, UA_TYPE(TRANSLATE_BROWSE_PATHS_TO_NODE_IDS_RESPONSE));
    ua_translate_browse_paths_to_node_ids_response_clear(&r);
}

static void answer_register(ua_fake *f, uint32_t rid, const ua_register_nodes_request *rq)
{
    ua_register_nodes_response r;
    ua_register_nodes_response_init(&r);
    r.registered_node_ids = ua_array_new(rq->nodes_to_register_count, UA_TYPE(NODE_ID));
    r.registered_node_ids_count = rq->nodes_to_register_count;
    for (size_t i = 0; i < r.registered_node_ids_count; i++)
        r.registered_node_ids[i] = ua_node_id_numeric(2, num(&rq->nodes_to_register[i]) + 3000);
    ua_fake_send_response(f, rid, &r, UA_TYPE(REGISTER_NODES_RESPONSE));
    ua_register_nodes_response_clear(&r);
}

static void answer_subscription(ua_fake *f, uint32_t rid, const ua_type *t, const void *msg)
{
    if (t == UA_TYPE(CREATE_SUBSCRIPTION_REQUEST)) {
        const ua_create_subscription_request *rq = msg;
        ua_create_subscription_response r;
        ua_create_subscription_response_init(&r);
        r.subscription_id = 42;
        r.revised_publishing_interval = rq->requested_publishing_interval;
        r.revised_lifetime_count = rq->requested_lifetime_count;
        r.revised_max_keep_alive_count = rq->requested_max_keep_alive_count;
        if (srv.revise) {
            r.revised_publishing_interval = srv.revised_interval;
            r.revised_max_keep_alive_count = srv.revised_keepalive;
        }
        ua_fake_send_response(f, rid, &r, UA_TYPE(CREATE_SUBSCRIPTION_RESPONSE));
    } else if (t == UA_TYPE(MODIFY_SUBSCRIPTION_REQUEST)) {
        const ua_modify_subscription_request *rq = msg;
        ua_modify_subscription_response r;
        ua_modify_subscription_response_init(&r);
        assert_int_equal(rq->subscription_id, 42);
        srv.modify_interval = rq->requested_publishing_interval;
        r.revised_publishing_interval = rq->requested_publishing_interval * 2;
        r.revised_max_keep_alive_count = rq->requested_max_keep_alive_count;
        if (srv.revise) {
            r.revised_publishing_interval = srv.revised_interval;
            r.revised_max_keep_alive_count = srv.revised_keepalive;
        }
        ua_fake_send_response(f, rid, &r, UA_TYPE(MODIFY_SUBSCRIPTION_RESPONSE));
    } else if (t == UA_TYPE(CREATE_MONITORED_ITEMS_REQUEST)) {
        const ua_create_monitored_items_request *rq = msg;
        ua_create_monitored_items_response r;
        ua_create_monitored_items_response_init(&r);
        r.results = ua_array_new(rq->items_to_create_count, UA_TYPE(MONITORED_ITEM_CREATE_RESULT));
        r.results_count = rq->items_to_create_count;
        for (size_t i = 0; i < r.results_count; i++) {
            uint32_t h = rq->items_to_create[i].requested_parameters.client_handle;
            assert_true(h < MAX_HANDLES);
            r.results[i].monitored_item_id = 100 + h;
            srv.handle_of[h] = h;
        }
        ua_fake_send_response(f, rid, &r, UA_TYPE(CREATE_MONITORED_ITEMS_RESPONSE));
        ua_create_monitored_items_response_clear(&r);
    } else if (t == UA_TYPE(MODIFY_MONITORED_ITEMS_REQUEST)) {
        const ua_modify_monitored_items_request *rq = msg;
        ua_modify_monitored_items_response r;
        ua_modify_monitored_items_response_init(&r);
        assert_int_equal(rq->items_to_modify_count, 1);
        srv.modify_item_id = rq->items_to_modify[0].monitored_item_id;
        srv.modify_sampling = rq->items_to_modify[0].requested_parameters.sampling_interval;
        srv.modify_queue = rq->items_to_modify[0].requested_parameters.queue_size;
        r.results = ua_array_new(1, UA_TYPE(MONITORED_ITEM_MODIFY_RESULT));
        r.results_count = 1;
        r.results[0].revised_sampling_interval = srv.modify_sampling;
        ua_fake_send_response(f, rid, &r, UA_TYPE(MODIFY_MONITORED_ITEMS_RESPONSE));
        ua_modify_monitored_items_response_clear(&r);
    } else if (t == UA_TYPE(SET_MONITORING_MODE_REQUEST)) {
        const ua_set_monitoring_mode_request *rq = msg;
        ua_set_monitoring_mode_response r;
        ua_set_monitoring_mode_response_init(&r);
        srv.mode = rq->monitoring_mode;
        for (size_t i = 0; i < rq->monitored_item_ids_count && srv.n_mode_ids < MAX_HANDLES; i++)
            srv.mode_ids[srv.n_mode_ids++] = rq->monitored_item_ids[i];
        r.results = ua_array_new(rq->monitored_item_ids_count, UA_TYPE(STATUS_CODE));
        r.results_count = rq->monitored_item_ids_count;
        ua_fake_send_response(f, rid, &r, UA_TYPE(SET_MONITORING_MODE_RESPONSE));
        ua_set_monitoring_mode_response_clear(&r);
    } else if (t == UA_TYPE(DELETE_MONITORED_ITEMS_REQUEST)) {
        const ua_delete_monitored_items_request *rq = msg;
        ua_delete_monitored_items_response r;
        ua_delete_monitored_items_response_init(&r);
        srv.n_deleted = rq->monitored_item_ids_count;
        memcpy(srv.deleted_ids, rq->monitored_item_ids, srv.n_deleted * sizeof(uint32_t));
        r.results = ua_array_new(srv.n_deleted, UA_TYPE(STATUS_CODE));
        r.results_count = srv.n_deleted;
        ua_fake_send_response(f, rid, &r, UA_TYPE(DELETE_MONITORED_ITEMS_RESPONSE));
        ua_delete_monitored_items_response_clear(&r);
    } else if (t == UA_TYPE(PUBLISH_REQUEST)) {
        if (srv.n_publish < 16)
            srv.publish_ids[srv.n_publish++] = rid;
    } else {
        fault(f, rid, UA_STATUS_BAD_SERVICE_UNSUPPORTED);
    }
}

static void on_request(ua_fake *f, uint32_t rid, uint32_t type, const uint8_t *body, size_t len)
{
    const ua_type *t = NULL;
    void *msg = NULL;
    assert_int_equal(ua_decode_message(body, len, &t, &msg, NULL), UA_STATUS_GOOD);
    if (type < 1024)
        srv.calls[type]++;
    size_t ops = SIZE_MAX;
    if (t == UA_TYPE(READ_REQUEST))
        ops = ((ua_read_request *)msg)->nodes_to_read_count;
    else if (t == UA_TYPE(BROWSE_REQUEST))
        ops = ((ua_browse_request *)msg)->nodes_to_browse_count;
    else if (t == UA_TYPE(CALL_REQUEST))
        ops = ((ua_call_request *)msg)->methods_to_call_count;
    else if (t == UA_TYPE(TRANSLATE_BROWSE_PATHS_TO_NODE_IDS_REQUEST))
        ops = ((ua_translate_browse_paths_to_node_ids_request *)msg)->browse_paths_count;
    else if (t == UA_TYPE(REGISTER_NODES_REQUEST))
        ops = ((ua_register_nodes_request *)msg)->nodes_to_register_count;
    if (ops != SIZE_MAX && ops > LIMIT)
        fault(f, rid, UA_STATUS_BAD_TOO_MANY_OPERATIONS);
    else if (t == UA_TYPE(READ_REQUEST))
        answer_read(f, rid, msg);
    else if (t == UA_TYPE(BROWSE_REQUEST))
        answer_browse(f, rid, msg);
    else if (t == UA_TYPE(CALL_REQUEST))
        answer_call(f, rid, msg);
    else if (t == UA_TYPE(TRANSLATE_BROWSE_PATHS_TO_NODE_IDS_REQUEST))
        answer_translate(f, rid, msg);
    else if (t == UA_TYPE(REGISTER_NODES_REQUEST))
        answer_register(f, rid, msg);
    else
        answer_subscription(f, rid, t, msg);
    ua_delete(msg, t);
}

/* A PublishResponse with one data change per handle, on an outstanding Publish. */
static void publish_data(ua_fake *f, const uint32_t *handles, size_t n)
{
    assert_true(srv.n_publish > 0);
    uint32_t rid = srv.publish_ids[0];
    memmove(srv.publish_ids, srv.publish_ids + 1, --srv.n_publish * sizeof(uint32_t));
    ua_data_change_notification dc;
    ua_data_change_notification_init(&dc);
    dc.monitored_items = ua_array_new(n, UA_TYPE(MONITORED_ITEM_NOTIFICATION));
    dc.monitored_items_count = n;
    for (size_t i = 0; i < n; i++) {
        double v = handles[i];
        dc.monitored_items[i].client_handle = handles[i];
        dc.monitored_items[i].value.has = UA_DV_VALUE;
        ua_variant_set_scalar_copy(&dc.monitored_items[i].value.value, &v, UA_TYPE(DOUBLE));
    }
    ua_publish_response r;
    ua_publish_response_init(&r);
    r.subscription_id = 42;
    r.notification_message.sequence_number = ++srv.publish_seq;
    r.notification_message.notification_data = ua_array_new(1, UA_TYPE(EXTENSION_OBJECT));
    r.notification_message.notification_data_count = 1;
    assert_int_equal(ua_extension_object_set_copy(&r.notification_message.notification_data[0], &dc,
                                                  UA_TYPE(DATA_CHANGE_NOTIFICATION)),
                     UA_STATUS_GOOD);
    ua_fake_send_response(f, rid, &r, UA_TYPE(PUBLISH_RESPONSE));
    ua_publish_response_clear(&r);
    ua_data_change_notification_clear(&dc);
}

typedef struct fixture {
    ua_loop *loop;
    ua_client *c;
    ua_fake f;
} fixture;

/* Connect to the fake server; with set_timeout, it answers CreateSession with a
 * RevisedSessionTimeout of session_timeout. */
static void start_with(fixture *x, bool set_timeout, double session_timeout)
{
    memset(&srv, 0, sizeof(srv));
    memset(x, 0, sizeof(*x));
    x->f.set_session_timeout = set_timeout;
    x->f.session_timeout = session_timeout;
    x->loop = ua_loop_new();
    assert_non_null(x->loop);
    ua_client_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.request_timeout_ms = 3000;
    x->c = ua_client_new(x->loop, &cfg);
    assert_non_null(x->c);
    x->f.on_request = on_request;
    assert_int_equal(ua_fake_start(&x->f, x->loop, x->c), 0);
    assert_int_equal(ua_client_connect_sync(x->c, "opc.tcp://fake.invalid:4840/"), UA_STATUS_GOOD);
}

static void start(fixture *x)
{
    start_with(x, false, 0);
}

static void stop(fixture *x)
{
    ua_fake_close(&x->f);
    ua_client_free(x->c);
    ua_loop_free(x->loop);
}

static void test_split_by_operation_limits(void **state)
{
    (void)state;
    fixture x;
    start(&x);

    /* Read: the 7 limits do not fit either, so the client reads them one at a time. */
    ua_read_value_id rv[5];
    ua_data_value dv[5];
    memset(rv, 0, sizeof(rv));
    for (size_t i = 0; i < 5; i++) {
        rv[i].node_id = ua_node_id_numeric(1, (uint32_t)i + 1);
        rv[i].attribute_id = 13;
    }
    assert_int_equal(ua_client_read_sync(x.c, rv, 5, dv), UA_STATUS_GOOD);
    for (size_t i = 0; i < 5; i++) {
        assert_ptr_equal(dv[i].value.type, UA_TYPE(DOUBLE));
        assert_true(*(double *)ua_variant_data(&dv[i].value) == (i + 1) * 1.5);
        ua_data_value_clear(&dv[i]);
    }
    ua_operation_limits lim;
    assert_int_equal(ua_client_operation_limits(x.c, &lim), UA_STATUS_GOOD);
    assert_int_equal(lim.max_nodes_per_browse, LIMIT);
    assert_int_equal(srv.calls[631], 1 + 7 + 3); /* refused, one by one, 2+2+1 */

    ua_browse_description bd[5];
    ua_browse_result br[5];
    memset(bd, 0, sizeof(bd));
    for (size_t i = 0; i < 5; i++)
        bd[i].node_id = ua_node_id_numeric(1, (uint32_t)i + 1);
    assert_int_equal(ua_client_browse_sync(x.c, bd, 5, 10, br), UA_STATUS_GOOD);
    assert_int_equal(srv.calls[527], 3);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(br[i].references_count, 1);
        assert_int_equal(br[i].references[0].node_id.node_id.id.numeric, 1001 + i);
        ua_browse_result_clear(&br[i]);
    }

    ua_call_method_request cm[5];
    ua_call_method_result cr[5];
    memset(cm, 0, sizeof(cm));
    for (size_t i = 0; i < 5; i++) {
        cm[i].object_id = ua_node_id_numeric(1, (uint32_t)i + 1);
        cm[i].method_id = ua_node_id_numeric(1, 99);
    }
    assert_int_equal(ua_client_call_sync(x.c, cm, 5, cr), UA_STATUS_GOOD);
    assert_int_equal(srv.calls[712], 3);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(cr[i].output_arguments_count, 1);
        assert_int_equal(*(int32_t *)ua_variant_data(&cr[i].output_arguments[0]), (i + 1) * 10);
        ua_call_method_result_clear(&cr[i]);
    }

    ua_browse_path bp[5];
    ua_browse_path_result bpr[5];
    memset(bp, 0, sizeof(bp));
    for (size_t i = 0; i < 5; i++)
        bp[i].starting_node = ua_node_id_numeric(1, (uint32_t)i + 1);
    assert_int_equal(ua_client_translate_sync(x.c, bp, 5, bpr), UA_STATUS_GOOD);
    assert_int_equal(srv.calls[554], 3);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(bpr[i].targets_count, 1);
        assert_int_equal(bpr[i].targets[0].target_id.node_id.id.numeric, 2001 + i);
        ua_browse_path_result_clear(&bpr[i]);
    }

    ua_node_id rn[5], reg[5];
    for (size_t i = 0; i < 5; i++)
        rn[i] = ua_node_id_numeric(1, (uint32_t)i + 1);
    assert_int_equal(ua_client_register_nodes_sync(x.c, rn, 5, reg), UA_STATUS_GOOD);
    assert_int_equal(srv.calls[560], 3);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(reg[i].ns, 2);
        assert_int_equal(reg[i].id.numeric, 3001 + i);
        ua_node_id_clear(&reg[i]);
    }

    /* No operations: no call at all. */
    assert_int_equal(ua_client_browse_sync(x.c, bd, 0, 0, br), UA_STATUS_GOOD);
    assert_int_equal(srv.calls[527], 3);
    stop(&x);
}

typedef struct seen {
    uint32_t handles[16];
    size_t n;
} seen;

static void on_data(ua_subscription *s, uint32_t handle, void *item_ctx, const ua_data_value *v,
                    void *ctx)
{
    seen *z = ctx;
    (void)s, (void)item_ctx, (void)v;
    if (z->n < 16)
        z->handles[z->n++] = handle;
}

static void test_subscription_services(void **state)
{
    (void)state;
    fixture x;
    start(&x);
    seen z = {{0}, 0};
    ua_subscription *s = NULL;
    ua_subscription_params sp = {100, 10, 0, 0, on_data, NULL, &z};
    assert_int_equal(ua_subscription_create_sync(x.c, &sp, &s), UA_STATUS_GOOD);
    ua_monitor_item items[3];
    uint32_t h[3];
    ua_status res[3];
    memset(items, 0, sizeof(items));
    for (size_t i = 0; i < 3; i++) {
        items[i].node_id = ua_node_id_numeric(1, (uint32_t)i + 1);
        items[i].sampling_interval_ms = 100;
        items[i].queue_size = 2;
    }
    assert_int_equal(ua_subscription_monitor_sync(s, items, 3, h, res), UA_STATUS_GOOD);
    assert_int_equal(h[0], 1);
    assert_int_equal(h[2], 3);

    /* ModifySubscription: the request carries the new interval, the revised one is kept. */
    assert_int_equal(ua_subscription_modify_sync(s, 250, 0), UA_STATUS_GOOD);
    assert_true(srv.modify_interval == 250);
    ua_subscription_stats st;
    ua_subscription_get_stats(s, &st);
    assert_true(st.revised_publishing_interval_ms == 500);

    /* ModifyMonitoredItems of one item. */
    uint32_t one = h[1];
    ua_status r1;
    assert_int_equal(ua_subscription_modify_items_sync(s, &one, 1, 50, 7, &r1), UA_STATUS_GOOD);
    assert_int_equal(r1, UA_STATUS_GOOD);
    assert_int_equal(srv.modify_item_id, 102);
    assert_true(srv.modify_sampling == 50);
    assert_int_equal(srv.modify_queue, 7);

    /* SetMonitoringMode on two items, in calls of at most 2 handles (MaxMonitoredItemsPerCall);
     * an unknown handle is refused without being sent. */
    uint32_t two[3] = {h[0], 99, h[2]};
    ua_status r3[3];
    assert_int_equal(
        ua_subscription_set_monitoring_mode_sync(s, two, 3, UA_MONITORING_MODE_DISABLED, r3),
        UA_STATUS_GOOD);
    assert_int_equal(srv.calls[769], 2);
    assert_int_equal(srv.mode, UA_MONITORING_MODE_DISABLED);
    assert_int_equal(srv.n_mode_ids, 2);
    assert_int_equal(srv.mode_ids[0], 101);
    assert_int_equal(srv.mode_ids[1], 103);
    assert_int_equal(r3[0], UA_STATUS_GOOD);
    assert_int_equal(r3[1], UA_STATUS_BAD_MONITORED_ITEM_ID_INVALID);
    assert_int_equal(ua_subscription_set_monitoring_mode_sync(s, two, 1, 7, NULL),
                     UA_STATUS_BAD_MONITORING_MODE_INVALID);

    /* Delete the middle item: only its id goes to the server, and its data no longer
     * reaches the caller while the others' does. */
    assert_int_equal(ua_subscription_unmonitor_sync(s, &one, 1, &r1), UA_STATUS_GOOD);
    assert_int_equal(r1, UA_STATUS_GOOD);
    assert_int_equal(srv.n_deleted, 1);
    assert_int_equal(srv.deleted_ids[0], 102);
    uint32_t all[3] = {1, 2, 3};
    uint64_t end = ua_loop_now_ms() + 3000;
    while (srv.n_publish == 0 && ua_loop_now_ms() < end)
        ua_loop_run_once(x.loop, 10);
    publish_data(&x.f, all, 3);
    while (z.n < 2 && ua_loop_now_ms() < end)
        ua_loop_run_once(x.loop, 10);
    assert_int_equal(z.n, 2);
    assert_int_equal(z.handles[0], 1);
    assert_int_equal(z.handles[1], 3);
    /* Deleting it again: nothing is sent, the handle is invalid. */
    srv.n_deleted = 0;
    assert_int_equal(ua_subscription_unmonitor_sync(s, &one, 1, &r1), UA_STATUS_GOOD);
    assert_int_equal(r1, UA_STATUS_BAD_MONITORED_ITEM_ID_INVALID);
    assert_int_equal(srv.n_deleted, 0);
    stop(&x);
}

/* What a server revises is untrusted: a publishing interval of 5.8e234 ms (found by
 * fuzz_opcua_client), infinite, NaN or negative, with a keep-alive count of 2^32 - 1, must
 * neither reach the integer timers unbounded (UBSan's float-cast-overflow aborts the test then)
 * nor be kept as the subscription's interval. NaN, zero and negative keep what the client asked
 * for; more than a day is a day (UA_CLIENT_MAX_SERVER_MS). The same for the session timeout. */
static void test_revised_times_bounded(void **state)
{
    static const struct {
        double revised;
        uint32_t keepalive;
        double want; /* the interval kept, asked for: 100 */
    } cases[] = {
        {5.81282e+234, 10, UA_CLIENT_MAX_SERVER_MS},
        {INFINITY, 10, UA_CLIENT_MAX_SERVER_MS},
        {1e300, UINT32_MAX, UA_CLIENT_MAX_SERVER_MS},
        {NAN, 10, 100},
        {-INFINITY, 10, 100},
        {-250, 10, 100},
        {0, 0, 100},
        {250, UINT32_MAX, 250},
        {1e-300, 10, 1e-300},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fixture x;
        start_with(&x, true, cases[i].revised);
        double session_ms = x.c->revised_session_timeout_ms;
        assert_true(session_ms > 0 && session_ms <= UA_CLIENT_MAX_SERVER_MS);
        if (!(cases[i].revised > 0))
            assert_true(session_ms == 60000); /* what the client asked for */

        srv.revise = true;
        srv.revised_interval = cases[i].revised;
        srv.revised_keepalive = cases[i].keepalive;
        seen z = {{0}, 0};
        ua_subscription *s = NULL;
        ua_subscription_params sp = {100, 10, 0, 0, on_data, NULL, &z};
        assert_int_equal(ua_subscription_create_sync(x.c, &sp, &s), UA_STATUS_GOOD);
        ua_subscription_stats st;
        ua_subscription_get_stats(s, &st);
        if (st.revised_publishing_interval_ms != cases[i].want)
            fail_msg("case %zu: revised %g kept as %g, want %g", i, cases[i].revised,
                     st.revised_publishing_interval_ms, cases[i].want);
        /* The publish loop runs with the timers made of it. */
        for (int turn = 0; turn < 20; turn++)
            ua_loop_run_once(x.loop, 1);
        /* ModifySubscription answered the same way keeps the bounded interval it had. */
        assert_int_equal(ua_subscription_modify_sync(s, 200, 0), UA_STATUS_GOOD);
        ua_subscription_get_stats(s, &st);
        if (st.revised_publishing_interval_ms != cases[i].want)
            fail_msg("case %zu after modify: kept as %g, want %g", i,
                     st.revised_publishing_interval_ms, cases[i].want);
        stop(&x);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_by_operation_limits),
        cmocka_unit_test(test_subscription_services),
        cmocka_unit_test(test_revised_times_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
