/*
 * ua_client_ops.c - service calls made easy: requests split by the server's OperationLimits,
 * and node ids with namespace URIs resolved through the server's NamespaceArray.
 *
 * A server may refuse a Read of 10,000 nodes with BadTooManyOperations; the client reads the
 * limits once per session (OPC 10000-5 6.3.11, Server.ServerCapabilities.OperationLimits) and
 * cuts every request into pieces that fit, so callers never see the limit.
 */
#include <stddef.h>
#include <string.h>

#include "fp_alloc.h"
#include "fp_log.h"
#include "opcua/ua_nodeid.h"
#include "opcua/ua_nodeids.h"
#include "ua_client_internal.h"

void ua_client_ops_clear(ua_client *c)
{
    c->limits_known = false;
    memset(&c->limits, 0, sizeof(c->limits));
    ua_array_free(c->ns_array, c->ns_count, UA_TYPE(STRING));
    c->ns_array = NULL;
    c->ns_count = 0;
}

/* One Read of n value attributes without any splitting; resp is the caller's. */
static ua_status read_plain(ua_client *c, const uint32_t *ids, size_t n, ua_read_response *resp)
{
    ua_read_value_id nodes[8];
    ua_read_request req;
    ua_read_request_init(&req);
    memset(nodes, 0, sizeof(nodes));
    for (size_t i = 0; i < n; i++) {
        nodes[i].node_id = ua_node_id_numeric(0, ids[i]);
        nodes[i].attribute_id = UA_ATTR_VALUE;
    }
    req.nodes_to_read = nodes;
    req.nodes_to_read_count = n;
    req.timestamps_to_return = UA_TIMESTAMPS_TO_RETURN_NEITHER;
    ua_status st =
        ua_client_service_sync(c, &req, UA_TYPE(READ_REQUEST), resp, UA_TYPE(READ_RESPONSE));
    if (!st && resp->results_count != n)
        st = UA_STATUS_BAD_UNEXPECTED_ERROR;
    return st;
}

/* A UInt32 (or other unsigned) value, 0 when absent or of another type. */
static uint32_t limit_value(const ua_data_value *dv)
{
    if (((dv->has & UA_DV_STATUS) && ua_status_is_bad(dv->status)) ||
        !ua_variant_is_scalar(&dv->value))
        return 0;
    const void *p = ua_variant_data(&dv->value);
    switch (dv->value.type->kind) {
    case UA_KIND_UINT32:
        return *(const uint32_t *)p;
    case UA_KIND_UINT16:
        return *(const uint16_t *)p;
    case UA_KIND_INT32:
        return *(const int32_t *)p > 0 ? (uint32_t) * (const int32_t *)p : 0;
    default:
        return 0;
    }
}

ua_status ua_client_operation_limits(ua_client *c, ua_operation_limits *out)
{
    static const uint32_t ids[7] = {
        UA_NS0ID_SERVER_SERVER_CAPABILITIES_OPERATION_LIMITS_MAX_NODES_PER_READ,
        UA_NS0ID_SERVER_SERVER_CAPABILITIES_OPERATION_LIMITS_MAX_NODES_PER_WRITE,
        UA_NS0ID_SERVER_SERVER_CAPABILITIES_OPERATION_LIMITS_MAX_NODES_PER_METHOD_CALL,
        UA_NS0ID_SERVER_SERVER_CAPABILITIES_OPERATION_LIMITS_MAX_NODES_PER_BROWSE,
        UA_NS0ID_SERVER_SERVER_CAPABILITIES_OPERATION_LIMITS_MAX_NODES_PER_REGISTER_NODES,
        UA_NS0ID_SERVER_SERVER_CAPABILITIES_OPERATION_LIMITS_MAX_NODES_PER_TRANSLATE_BROWSE_PATHS_TO_NODE_IDS,
        UA_NS0ID_SERVER_SERVER_CAPABILITIES_OPERATION_LIMITS_MAX_MONITORED_ITEMS_PER_CALL,
    };
    uint32_t values[7] = {0};
    if (!c->limits_known) {
        ua_read_response resp;
        ua_status st = read_plain(c, ids, 7, &resp);
        if (st == UA_STATUS_BAD_TOO_MANY_OPERATIONS) {
            /* A server that allows fewer than 7 nodes per Read: one at a time. */
            ua_read_response_clear(&resp);
            st = UA_STATUS_GOOD;
            for (size_t i = 0; i < 7 && !st; i++) {
                st = read_plain(c, &ids[i], 1, &resp);
                if (!st)
                    values[i] = limit_value(&resp.results[0]);
                ua_read_response_clear(&resp);
            }
        } else {
            for (size_t i = 0; !st && i < 7; i++)
                values[i] = limit_value(&resp.results[i]);
            ua_read_response_clear(&resp);
        }
        if (st)
            return st;
        c->limits.max_nodes_per_read = values[0];
        c->limits.max_nodes_per_write = values[1];
        c->limits.max_nodes_per_method_call = values[2];
        c->limits.max_nodes_per_browse = values[3];
        c->limits.max_nodes_per_register_nodes = values[4];
        c->limits.max_nodes_per_translate = values[5];
        c->limits.max_monitored_items_per_call = values[6];
        c->limits_known = true;
        fp_log_debug("opcua", "operation limits: read %u write %u call %u browse %u monitor %u",
                     values[0], values[1], values[2], values[3], values[6]);
    }
    *out = c->limits;
    return UA_STATUS_GOOD;
}

/* A service whose request carries an array of operations and whose response carries one result
 * per operation, as `size_t x_count; T *x;` at the given offsets of the generated structs. */
typedef struct split_service {
    const ua_type *req_type;
    size_t req_count_off, req_items_off;
    const ua_type *item_type;
    const ua_type *resp_type;
    size_t resp_count_off, resp_items_off;
    const ua_type *result_type;
    size_t limit_off; /* of the operation limit in ua_operation_limits */
} split_service;

#define SPLIT(REQ, req_t, req_field, RESP, resp_t, resp_field, ITEM, RESULT, LIMIT)                \
    {                                                                                              \
        UA_TYPE(REQ), offsetof(req_t, req_field##_count), offsetof(req_t, req_field),              \
            UA_TYPE(ITEM), UA_TYPE(RESP), offsetof(resp_t, resp_field##_count),                    \
            offsetof(resp_t, resp_field), UA_TYPE(RESULT), offsetof(ua_operation_limits, LIMIT)    \
    }

/* Send the n operations of items in calls of at most the server's limit for the service (0:
 * all in one) with the other fields of the request from tmpl (borrowed; its operation array
 * is set here and reset before returning). results (n of the result type) are initialised
 * here (status results to BadNothingToDo: not done) and get the results moved in; a call
 * that fails ends the loop and its status is returned, the results of the calls before it
 * are kept. */
static ua_status split_call(ua_client *c, const split_service *sv, void *tmpl, const void *items,
                            size_t n, void *results)
{
    for (size_t i = 0; i < n; i++) {
        void *r = (uint8_t *)results + i * sv->result_type->size;
        if (sv->result_type == UA_TYPE(STATUS_CODE))
            *(ua_status *)r = UA_STATUS_BAD_NOTHING_TO_DO;
        else
            ua_init(r, sv->result_type);
    }
    ua_operation_limits lim;
    ua_status lst = ua_client_operation_limits(c, &lim);
    if (lst)
        return lst;
    uint32_t limit = *(const uint32_t *)((const uint8_t *)&lim + sv->limit_off);
    size_t step = limit ? limit : n;
    size_t isz = sv->item_type->size, rsz = sv->result_type->size;
    size_t *req_count = (size_t *)((uint8_t *)tmpl + sv->req_count_off);
    void **req_items = (void **)((uint8_t *)tmpl + sv->req_items_off);
    void *resp = fp_calloc(1, sv->resp_type->size);
    if (!resp)
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    ua_status st = UA_STATUS_GOOD;
    for (size_t off = 0; off < n && !st; off += step) {
        size_t k = n - off < step ? n - off : step;
        *req_count = k;
        *req_items = (uint8_t *)items + off * isz; /* borrowed for encoding */
        st = ua_client_service_sync(c, tmpl, sv->req_type, resp, sv->resp_type);
        size_t got = *(size_t *)((uint8_t *)resp + sv->resp_count_off);
        uint8_t *res = *(uint8_t **)((uint8_t *)resp + sv->resp_items_off);
        if (!st && got != k)
            st = UA_STATUS_BAD_UNEXPECTED_ERROR;
        if (!st) {
            /* Move the results out; the emptied response clears to nothing. */
            memcpy((uint8_t *)results + off * rsz, res, k * rsz);
            memset(res, 0, k * rsz);
        }
        ua_clear(resp, sv->resp_type);
    }
    *req_count = 0;
    *req_items = NULL;
    fp_free(resp);
    return st;
}

ua_status ua_client_read_sync(ua_client *c, const ua_read_value_id *nodes, size_t n,
                              ua_data_value *results)
{
    static const split_service sv =
        SPLIT(READ_REQUEST, ua_read_request, nodes_to_read, READ_RESPONSE, ua_read_response,
              results, READ_VALUE_ID, DATA_VALUE, max_nodes_per_read);
    ua_read_request req;
    ua_read_request_init(&req);
    req.timestamps_to_return = UA_TIMESTAMPS_TO_RETURN_BOTH;
    return split_call(c, &sv, &req, nodes, n, results);
}

ua_status ua_client_write_sync(ua_client *c, const ua_write_value *nodes, size_t n,
                               ua_status *results)
{
    static const split_service sv =
        SPLIT(WRITE_REQUEST, ua_write_request, nodes_to_write, WRITE_RESPONSE, ua_write_response,
              results, WRITE_VALUE, STATUS_CODE, max_nodes_per_write);
    ua_write_request req;
    ua_write_request_init(&req);
    return split_call(c, &sv, &req, nodes, n, results);
}

ua_status ua_client_browse_sync(ua_client *c, const ua_browse_description *nodes, size_t n,
                                uint32_t max_references, ua_browse_result *results)
{
    static const split_service sv =
        SPLIT(BROWSE_REQUEST, ua_browse_request, nodes_to_browse, BROWSE_RESPONSE,
              ua_browse_response, results, BROWSE_DESCRIPTION, BROWSE_RESULT, max_nodes_per_browse);
    ua_browse_request req;
    ua_browse_request_init(&req);
    req.requested_max_references_per_node = max_references;
    return split_call(c, &sv, &req, nodes, n, results);
}

ua_status ua_client_call_sync(ua_client *c, const ua_call_method_request *methods, size_t n,
                              ua_call_method_result *results)
{
    static const split_service sv =
        SPLIT(CALL_REQUEST, ua_call_request, methods_to_call, CALL_RESPONSE, ua_call_response,
              results, CALL_METHOD_REQUEST, CALL_METHOD_RESULT, max_nodes_per_method_call);
    ua_call_request req;
    ua_call_request_init(&req);
    return split_call(c, &sv, &req, methods, n, results);
}

ua_status ua_client_translate_sync(ua_client *c, const ua_browse_path *paths, size_t n,
                                   ua_browse_path_result *results)
{
    static const split_service sv = SPLIT(TRANSLATE_BROWSE_PATHS_TO_NODE_IDS_REQUEST,
                                          ua_translate_browse_paths_to_node_ids_request,
                                          browse_paths, TRANSLATE_BROWSE_PATHS_TO_NODE_IDS_RESPONSE,
                                          ua_translate_browse_paths_to_node_ids_response, results,
                                          BROWSE_PATH, BROWSE_PATH_RESULT, max_nodes_per_translate);
    ua_translate_browse_paths_to_node_ids_request req;
    ua_translate_browse_paths_to_node_ids_request_init(&req);
    return split_call(c, &sv, &req, paths, n, results);
}

/* Read and cache the NamespaceArray. */
static ua_status namespace_array(ua_client *c)
{
    if (c->ns_array)
        return UA_STATUS_GOOD;
    ua_read_response resp;
    uint32_t id = UA_NS0ID_SERVER_NAMESPACE_ARRAY;
    ua_status st = read_plain(c, &id, 1, &resp);
    if (!st) {
        ua_data_value *dv = &resp.results[0];
        if (((dv->has & UA_DV_STATUS) && ua_status_is_bad(dv->status)) || !dv->value.is_array ||
            dv->value.type != UA_TYPE(STRING))
            st = UA_STATUS_BAD_UNEXPECTED_ERROR;
        else
            st = ua_array_copy(ua_variant_data(&dv->value), dv->value.array_length,
                               (void **)&c->ns_array, UA_TYPE(STRING));
        if (!st)
            c->ns_count = dv->value.array_length;
    }
    ua_read_response_clear(&resp);
    return st;
}

ua_status ua_client_parse_node_id(ua_client *c, const char *z, ua_node_id *out)
{
    ua_node_id_init(out);
    if (strncmp(z, "nsu=", 4) == 0) {
        ua_status st = namespace_array(c);
        if (st)
            return st;
        return ua_node_id_parse(out, z, c->ns_array, c->ns_count);
    }
    return ua_node_id_parse(out, z, NULL, 0);
}

ua_status ua_client_register_nodes_sync(ua_client *c, const ua_node_id *nodes, size_t n,
                                        ua_node_id *registered)
{
    static const split_service sv =
        SPLIT(REGISTER_NODES_REQUEST, ua_register_nodes_request, nodes_to_register,
              REGISTER_NODES_RESPONSE, ua_register_nodes_response, registered_node_ids, NODE_ID,
              NODE_ID, max_nodes_per_register_nodes);
    ua_register_nodes_request req;
    ua_register_nodes_request_init(&req);
    return split_call(c, &sv, &req, nodes, n, registered);
}

ua_status ua_client_find_servers_sync(ua_client *c, ua_find_servers_response *out)
{
    ua_find_servers_request req;
    ua_find_servers_request_init(&req);
    req.endpoint_url = ua_string_view(c->url ? c->url : "");
    return ua_client_service_sync(c, &req, UA_TYPE(FIND_SERVERS_REQUEST), out,
                                  UA_TYPE(FIND_SERVERS_RESPONSE));
}
