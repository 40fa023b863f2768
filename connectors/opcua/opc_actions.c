/*
 * opc_actions.c - management actions of the OPC UA connector: Call, Read and Write.
 *
 * A request arrives on the endpoint's strand; what it needs from the fp_action (target,
 * object, type) is copied, and the rest runs as a chain of asynchronous service calls
 * (TranslateBrowsePaths -> Read -> Call, Read, or Read -> Write), each answered in the
 * client's callback during a later pass of the endpoint's loop (on the same strand). The
 * strand is never held by an action, so data and events keep flowing while a slow method
 * runs; each step is bounded by the client's request timeout, and the runtime answers the
 * action's own timeout itself. A request still in flight when the session goes is answered
 * from its callback, which the client calls with BadShutdown.
 *
 * Request and response shapes: docs/connector-opcua-events.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <fieldplane/fp_alloc.h>
#include <fieldplane/fp_json.h>
#include <fieldplane/fp_log.h>
#include "opc_internal.h"
#include "opcua/ua_nodeid.h"
#include "opcua/ua_nodeids.h"

#define OPC_ACT_LOG "opcua-actions"
#define OPC_ACT_MAX_ANSWER (16u << 20)

typedef enum opc_act_kind { OPC_ACT_CALL = 0, OPC_ACT_READ, OPC_ACT_WRITE } opc_act_kind;

/* One request in flight. */
typedef struct opc_act {
    opc_ep *ep;
    fp_action_req *req;
    opc_act_kind kind;
    char *name;      /* <asset>/<group>/<action>, for messages */
    char *target;    /* targetUri: the method or the node */
    char *object;    /* Call: the object the method is called on */
    json_t *payload; /* the request (NULL when empty) */
    ua_node_id node; /* target */
    ua_node_id object_id;
    /* Call: node ids of the InputArguments / OutputArguments properties, then their values */
    ua_node_id arg_prop[2];
    bool has_arg_prop[2];
    ua_variant args[2];
} opc_act;

static void act_free(opc_act *a)
{
    if (!a)
        return;
    fp_free(a->name);
    fp_free(a->target);
    fp_free(a->object);
    json_decref(a->payload);
    ua_node_id_clear(&a->node);
    ua_node_id_clear(&a->object_id);
    for (int i = 0; i < 2; i++) {
        ua_node_id_clear(&a->arg_prop[i]);
        ua_variant_clear(&a->args[i]);
    }
    fp_free(a);
}

/* The HTTP status that tells a caller what kind of failure an OPC UA status is. */
static int status_http(ua_status s)
{
    switch (s & 0xFFFF0000u) {
    case UA_STATUS_BAD_TYPE_MISMATCH:
    case UA_STATUS_BAD_ARGUMENTS_MISSING:
    case UA_STATUS_BAD_INVALID_ARGUMENT:
    case UA_STATUS_BAD_TOO_MANY_ARGUMENTS:
    case UA_STATUS_BAD_NODE_ID_INVALID:
    case UA_STATUS_BAD_OUT_OF_RANGE:
    case UA_STATUS_BAD_NOT_SUPPORTED:
    case UA_STATUS_BAD_DECODING_ERROR:
        return 400;
    case UA_STATUS_BAD_NODE_ID_UNKNOWN:
    case UA_STATUS_BAD_METHOD_INVALID:
    case UA_STATUS_BAD_NO_MATCH:
    case UA_STATUS_BAD_ATTRIBUTE_ID_INVALID:
        return 404;
    case UA_STATUS_BAD_USER_ACCESS_DENIED:
    case UA_STATUS_BAD_NOT_WRITABLE:
    case UA_STATUS_BAD_NOT_READABLE:
    case UA_STATUS_BAD_NOT_EXECUTABLE:
        return 403;
    case UA_STATUS_BAD_NOT_CONNECTED:
    case UA_STATUS_BAD_SERVER_NOT_CONNECTED:
    case UA_STATUS_BAD_SESSION_CLOSED:
    case UA_STATUS_BAD_CONNECTION_CLOSED:
    case UA_STATUS_BAD_SECURE_CHANNEL_CLOSED:
    case UA_STATUS_BAD_COMMUNICATION_ERROR:
    case UA_STATUS_BAD_SHUTDOWN:
        return 503;
    case UA_STATUS_BAD_TIMEOUT:
    case UA_STATUS_BAD_REQUEST_TIMEOUT:
        return 504;
    default:
        return 500;
    }
}

/* Answer an OPC UA failure and free the request. */
static void act_fail_status(opc_act *a, ua_status s, const char *what)
{
    fp_action_fail(a->req, status_http(s), ua_status_name(s), "%s: %s (%s)", what,
                   ua_status_name(s), ua_status_description(s));
    a->req = NULL;
    act_free(a);
}

/* Answer bad input (400) with a message naming what was wrong, and free the request. */
static void act_fail_input(opc_act *a, ua_status s, const char *msg)
{
    fp_action_fail(a->req, 400, ua_status_name(s), "%s", msg);
    a->req = NULL;
    act_free(a);
}

static void act_reply(opc_act *a, fp_buf *b)
{
    if (b->err != FP_OK) {
        fp_action_fail(a->req, 500, "BadEncodingLimitsExceeded",
                       "the answer does not fit in a message (%zu bytes at most)",
                       (size_t)OPC_ACT_MAX_ANSWER);
    } else {
        fp_action_reply(a->req, b->data, b->len);
    }
    a->req = NULL;
    act_free(a);
}

static void json_append_value(fp_buf *b, const ua_variant *v)
{
    if (ua_variant_is_empty(v)) {
        fp_buf_append(b, "null", 4);
        return;
    }
    size_t mark = b->len;
    if (opc_json_variant(b, v) != FP_OK && b->err == FP_OK) {
        b->len = mark;
        fp_buf_append(b, "null", 4);
    }
}

/* ---------------------------------------------------------------- data types */

/* The built-in type (UA_KIND_*) that carries values of DataType dt: the built-in types
 * themselves, enumerations (Int32) and the specification's simple subtypes of built-in types.
 * 0 for abstract types (BaseDataType, Number, Integer, UInteger) and structures. */
static uint8_t builtin_kind(const ua_node_id *dt)
{
    if (dt->ns != 0 || dt->id_type != UA_NODEID_NUMERIC)
        return 0;
    uint32_t id = dt->id.numeric;
    if (id >= 1 && id <= 25)
        return (uint8_t)id;
    switch (id) {
    case 29: /* Enumeration */
        return UA_KIND_INT32;
    case 290: /* Duration */
        return UA_KIND_DOUBLE;
    case 292:   /* Time */
    case 291:   /* NumericRange */
    case 295:   /* LocaleId */
    case 12877: /* NormalizedString */
    case 12878: /* DecimalString */
    case 12879: /* DurationString */
    case 12880: /* TimeString */
    case 12881: /* DateString */
        return UA_KIND_STRING;
    case 293: /* Date */
    case 294: /* UtcTime */
        return UA_KIND_DATETIME;
    case 288:   /* IntegerId */
    case 289:   /* Counter */
    case 20998: /* VersionTime */
        return UA_KIND_UINT32;
    case 11737: /* BitFieldMaskDataType */
        return UA_KIND_UINT64;
    case 30:    /* Image */
    case 311:   /* ApplicationInstanceCertificate */
    case 2000:  /* ImageBMP */
    case 2001:  /* ImageGIF */
    case 2002:  /* ImageJPG */
    case 2003:  /* ImagePNG */
    case 16307: /* AudioDataType */
        return UA_KIND_BYTESTRING;
    default:
        break;
    }
    const ua_type *t = ua_find_type_by_type_id(id);
    if (t && t->kind == UA_KIND_ENUM)
        return UA_KIND_INT32;
    return 0;
}

/* ---------------------------------------------------------------- Read */

static void read_done(ua_client *c, ua_status status, void *response, void *ctx)
{
    (void)c;
    opc_act *a = ctx;
    ua_read_response *r = response;
    if (ua_status_is_bad(status)) {
        act_fail_status(a, status, a->target);
        return;
    }
    if (!r || r->results_count != 1) {
        act_fail_status(a, UA_STATUS_BAD_UNEXPECTED_ERROR, a->target);
        return;
    }
    const ua_data_value *dv = &r->results[0];
    if ((dv->has & UA_DV_STATUS) && ua_status_is_bad(dv->status) && !dv->value.type) {
        act_fail_status(a, dv->status, a->target);
        return;
    }
    fp_buf b;
    fp_buf_init(&b, OPC_ACT_MAX_ANSWER);
    if (opc_json_data_value(&b, dv) != FP_OK && b.err == FP_OK)
        b.err = FP_ERR_INVALID;
    act_reply(a, &b);
    fp_buf_clear(&b);
}

static void act_read(opc_ep *ep, opc_act *a)
{
    ua_read_request req;
    ua_read_value_id id;
    ua_read_request_init(&req);
    memset(&id, 0, sizeof(id));
    id.node_id = a->node;
    id.attribute_id = UA_ATTR_VALUE;
    req.nodes_to_read = &id;
    req.nodes_to_read_count = 1;
    req.timestamps_to_return = UA_TIMESTAMPS_TO_RETURN_BOTH;
    ua_status st = ua_client_service(ep->client, &req, UA_TYPE(READ_REQUEST),
                                     UA_TYPE(READ_RESPONSE), read_done, a);
    if (st)
        act_fail_status(a, st, a->target);
}

/* ---------------------------------------------------------------- Write */

static void write_done(ua_client *c, ua_status status, void *response, void *ctx)
{
    (void)c;
    opc_act *a = ctx;
    ua_write_response *r = response;
    if (!ua_status_is_bad(status) && (!r || r->results_count != 1))
        status = UA_STATUS_BAD_UNEXPECTED_ERROR;
    if (!ua_status_is_bad(status))
        status = r->results[0];
    if (ua_status_is_bad(status)) {
        act_fail_status(a, status, a->target);
        return;
    }
    fp_buf b;
    fp_buf_init(&b, 256);
    fp_buf_printf(&b, "{\"StatusCode\":\"%s\"}", ua_status_name(status));
    act_reply(a, &b);
    fp_buf_clear(&b);
}

/* The value a Write request carries: {"Value": v} or the whole payload. */
static const json_t *write_value(const json_t *payload)
{
    if (json_is_object(payload)) {
        const json_t *v = json_object_get(payload, "Value");
        if (v)
            return v;
    }
    return payload;
}

static void write_meta_done(ua_client *c, ua_status status, void *response, void *ctx)
{
    opc_act *a = ctx;
    ua_read_response *r = response;
    if (ua_status_is_bad(status)) {
        act_fail_status(a, status, a->target);
        return;
    }
    if (!r || r->results_count != 3) {
        act_fail_status(a, UA_STATUS_BAD_UNEXPECTED_ERROR, a->target);
        return;
    }
    const ua_data_value *dt_dv = &r->results[0], *rank_dv = &r->results[1], *cur = &r->results[2];
    /* A node that has no DataType attribute is not a variable. */
    if ((dt_dv->has & UA_DV_STATUS) && ua_status_is_bad(dt_dv->status)) {
        act_fail_status(a, dt_dv->status, a->target);
        return;
    }
    uint8_t kind = 0;
    const ua_node_id *dt = NULL;
    if (ua_variant_is_scalar(&dt_dv->value) && dt_dv->value.type->kind == UA_KIND_NODEID) {
        dt = ua_variant_data(&dt_dv->value);
        kind = builtin_kind(dt);
    }
    /* An abstract DataType (BaseDataType, Number ...): the type of the current value. */
    if (!kind && !ua_variant_is_empty(&cur->value) && cur->value.type->kind >= UA_KIND_BOOLEAN &&
        cur->value.type->kind <= UA_KIND_DIAGNOSTICINFO)
        kind = cur->value.type->kind;
    if (!kind) {
        char dts[128] = "?";
        if (dt)
            ua_node_id_print(dt, dts, sizeof(dts));
        fp_action_fail(a->req, 400, "BadTypeMismatch",
                       "%s: its DataType %s is not a built-in type (nor a simple subtype of one); "
                       "only built-in types can be written",
                       a->target, dts);
        a->req = NULL;
        act_free(a);
        return;
    }
    int32_t rank = -1;
    if (ua_variant_is_scalar(&rank_dv->value) && rank_dv->value.type->kind == UA_KIND_INT32)
        rank = *(const int32_t *)ua_variant_data(&rank_dv->value);
    const json_t *jv = write_value(a->payload);
    /* ValueRank: >= 0 or -3 (ScalarOrOneDimension), -2 (Any) and 0 allow an array. */
    bool array = rank >= 0 || rank == -2 || rank == -3;
    if (rank == -1 && cur->value.type && cur->value.is_array)
        array = true;
    ua_write_request req;
    ua_write_value wv;
    ua_write_request_init(&req);
    memset(&wv, 0, sizeof(wv));
    char err[256] = "";
    if (!jv || opc_json_to_variant(jv, kind, array, &wv.value.value, err, sizeof(err)) != 0) {
        const ua_type *t = ua_find_type_by_type_id(kind);
        char msg[512];
        snprintf(msg, sizeof(msg), "%s: the value does not fit the node's type %s%s: %s", a->target,
                 t ? t->name : "?", rank >= 1 ? " array" : "",
                 jv ? err : "the request has no value (send {\"Value\": ...})");
        ua_variant_clear(&wv.value.value);
        act_fail_input(a, UA_STATUS_BAD_TYPE_MISMATCH, msg);
        return;
    }
    wv.node_id = a->node;
    wv.attribute_id = UA_ATTR_VALUE;
    wv.value.has = UA_DV_VALUE;
    req.nodes_to_write = &wv;
    req.nodes_to_write_count = 1;
    ua_status st =
        ua_client_service(c, &req, UA_TYPE(WRITE_REQUEST), UA_TYPE(WRITE_RESPONSE), write_done, a);
    ua_variant_clear(&wv.value.value);
    if (st)
        act_fail_status(a, st, a->target);
}

static void act_write(opc_ep *ep, opc_act *a)
{
    if (!a->payload) {
        act_fail_input(a, UA_STATUS_BAD_ARGUMENTS_MISSING,
                       "a Write request needs a value: {\"Value\": ...}");
        return;
    }
    ua_read_request req;
    ua_read_value_id ids[3];
    ua_read_request_init(&req);
    memset(ids, 0, sizeof(ids));
    static const uint32_t attrs[3] = {UA_ATTR_DATA_TYPE, UA_ATTR_VALUE_RANK, UA_ATTR_VALUE};
    for (int i = 0; i < 3; i++) {
        ids[i].node_id = a->node;
        ids[i].attribute_id = attrs[i];
    }
    req.nodes_to_read = ids;
    req.nodes_to_read_count = 3;
    req.timestamps_to_return = UA_TIMESTAMPS_TO_RETURN_NEITHER;
    ua_status st = ua_client_service(ep->client, &req, UA_TYPE(READ_REQUEST),
                                     UA_TYPE(READ_RESPONSE), write_meta_done, a);
    if (st)
        act_fail_status(a, st, a->target);
}

/* ---------------------------------------------------------------- Call */

/* The Argument structures of a property value (borrowed), or NULL with *n = 0. */
static const ua_argument *arg_at(const ua_variant *v, size_t i)
{
    if (!v->type || !v->is_array || i >= v->array_length)
        return NULL;
    if (v->type == UA_TYPE(ARGUMENT))
        return (const ua_argument *)ua_variant_data(v) + i;
    if (v->type != UA_TYPE(EXTENSION_OBJECT))
        return NULL;
    const ua_extension_object *eo = (const ua_extension_object *)ua_variant_data(v) + i;
    return eo->encoding == UA_EO_DECODED && eo->type == UA_TYPE(ARGUMENT) ? eo->data : NULL;
}

static size_t arg_count(const ua_variant *v)
{
    return v->type && v->is_array ? v->array_length : 0;
}

static void call_done(ua_client *c, ua_status status, void *response, void *ctx)
{
    (void)c;
    opc_act *a = ctx;
    ua_call_response *r = response;
    if (!ua_status_is_bad(status) && (!r || r->results_count != 1))
        status = UA_STATUS_BAD_UNEXPECTED_ERROR;
    if (ua_status_is_bad(status)) {
        act_fail_status(a, status, a->target);
        return;
    }
    const ua_call_method_result *res = &r->results[0];
    if (ua_status_is_bad(res->status_code)) {
        /* Name the argument the server refused, when it says which. */
        for (size_t i = 0; i < res->input_argument_results_count; i++) {
            ua_status ar = res->input_argument_results[i];
            if (!ua_status_is_bad(ar))
                continue;
            const ua_argument *arg = arg_at(&a->args[0], i);
            char msg[512];
            snprintf(msg, sizeof(msg), "%s: argument %zu%s%.*s%s refused: %s", a->target, i,
                     arg ? " (\"" : "", arg ? (int)arg->name.length : 0,
                     arg && arg->name.length ? (const char *)arg->name.data : "", arg ? "\")" : "",
                     ua_status_name(ar));
            fp_action_fail(a->req, status_http(res->status_code), ua_status_name(res->status_code),
                           "%s", msg);
            a->req = NULL;
            act_free(a);
            return;
        }
        act_fail_status(a, res->status_code, a->target);
        return;
    }
    fp_buf b;
    fp_buf_init(&b, OPC_ACT_MAX_ANSWER);
    fp_buf_append(&b, "{", 1);
    for (size_t i = 0; i < res->output_arguments_count; i++) {
        const ua_argument *arg = arg_at(&a->args[1], i);
        if (i)
            fp_buf_append(&b, ",", 1);
        if (arg && arg->name.length && arg->name.data) {
            fp_json_quote_buf(&b, (const char *)arg->name.data, arg->name.length);
        } else {
            char key[32];
            int n = snprintf(key, sizeof(key), "output%zu", i);
            fp_json_quote_buf(&b, key, (size_t)n);
        }
        fp_buf_append(&b, ":", 1);
        json_append_value(&b, &res->output_arguments[i]);
    }
    fp_buf_append(&b, "}", 1);
    act_reply(a, &b);
    fp_buf_clear(&b);
}

/* The request's JSON for input argument i (borrowed), or NULL with msg set. */
static const json_t *call_input(opc_act *a, size_t i, size_t n, const ua_argument *arg, char *msg,
                                size_t msg_len, ua_status *why)
{
    const json_t *p = a->payload;
    if (json_is_array(p)) {
        if (json_array_size(p) != n) {
            *why = json_array_size(p) < n ? UA_STATUS_BAD_ARGUMENTS_MISSING
                                          : UA_STATUS_BAD_TOO_MANY_ARGUMENTS;
            snprintf(msg, msg_len, "%s takes %zu arguments, the request has %zu", a->target, n,
                     json_array_size(p));
            return NULL;
        }
        return json_array_get(p, i);
    }
    if (json_is_object(p)) {
        char *name = arg ? ua_string_dup_cstr(&arg->name) : NULL;
        const json_t *v = name ? json_object_get(p, name) : NULL;
        if (!v) {
            *why = UA_STATUS_BAD_ARGUMENTS_MISSING;
            snprintf(msg, msg_len, "%s: the request has no argument \"%s\"", a->target,
                     name ? name : "?");
        }
        fp_free(name);
        return v;
    }
    if (p && n == 1)
        return p; /* one argument given bare */
    *why = UA_STATUS_BAD_ARGUMENTS_MISSING;
    snprintf(msg, msg_len,
             "%s takes %zu arguments: send them as an object by name or an array in order",
             a->target, n);
    return NULL;
}

static void call_send(ua_client *c, opc_act *a)
{
    size_t n = arg_count(&a->args[0]);
    char msg[640] = "";
    ua_status why = UA_STATUS_BAD_INVALID_ARGUMENT;
    /* Names in the request that the method does not take are a mistake worth telling. */
    if (json_is_object(a->payload)) {
        const char *key;
        json_t *v;
        json_object_foreach(a->payload, key, v)
        {
            bool known = false;
            for (size_t i = 0; i < n && !known; i++) {
                const ua_argument *arg = arg_at(&a->args[0], i);
                known = arg && arg->name.length == strlen(key) &&
                        !memcmp(arg->name.data, key, arg->name.length);
            }
            if (!known) {
                fp_buf names;
                fp_buf_init(&names, 1024);
                for (size_t i = 0; i < n; i++) {
                    const ua_argument *arg = arg_at(&a->args[0], i);
                    if (i)
                        fp_buf_append(&names, ", ", 2);
                    if (arg)
                        fp_buf_append(&names, arg->name.data, arg->name.length);
                }
                snprintf(msg, sizeof(msg), "%s has no argument \"%s\" (it takes: %s)", a->target,
                         key, n ? (names.data ? names.data : "?") : "none");
                fp_buf_clear(&names);
                act_fail_input(a, UA_STATUS_BAD_INVALID_ARGUMENT, msg);
                return;
            }
        }
    } else if (n == 0 && a->payload && !json_is_array(a->payload)) {
        snprintf(msg, sizeof(msg), "%s takes no arguments", a->target);
        act_fail_input(a, UA_STATUS_BAD_TOO_MANY_ARGUMENTS, msg);
        return;
    }
    ua_call_method_request m;
    memset(&m, 0, sizeof(m));
    if (json_is_array(a->payload) && json_array_size(a->payload) != n) {
        snprintf(msg, sizeof(msg), "%s takes %zu arguments, the request has %zu", a->target, n,
                 json_array_size(a->payload));
        act_fail_input(a,
                       json_array_size(a->payload) < n ? UA_STATUS_BAD_ARGUMENTS_MISSING
                                                       : UA_STATUS_BAD_TOO_MANY_ARGUMENTS,
                       msg);
        return;
    }
    if (n) {
        m.input_arguments = ua_array_new(n, UA_TYPE(VARIANT));
        if (!m.input_arguments) {
            act_fail_status(a, UA_STATUS_BAD_OUT_OF_MEMORY, a->target);
            return;
        }
        m.input_arguments_count = n;
    }
    for (size_t i = 0; i < n; i++) {
        const ua_argument *arg = arg_at(&a->args[0], i);
        const json_t *jv = call_input(a, i, n, arg, msg, sizeof(msg), &why);
        if (!jv)
            goto out_bad;
        uint8_t kind = arg ? builtin_kind(&arg->data_type) : 0;
        if (!kind) {
            char dts[128] = "?";
            if (arg)
                ua_node_id_print(&arg->data_type, dts, sizeof(dts));
            char *name = arg ? ua_string_dup_cstr(&arg->name) : NULL;
            snprintf(msg, sizeof(msg),
                     "%s: argument \"%s\" has DataType %s, which is not a built-in type; only "
                     "arguments of built-in types can be sent",
                     a->target, name ? name : "?", dts);
            fp_free(name);
            why = UA_STATUS_BAD_TYPE_MISMATCH;
            goto out_bad;
        }
        bool array = arg->value_rank >= 0 || arg->value_rank == -2 || arg->value_rank == -3;
        char err[256] = "";
        if (opc_json_to_variant(jv, kind, array, &m.input_arguments[i], err, sizeof(err))) {
            char *name = ua_string_dup_cstr(&arg->name);
            const ua_type *t = ua_find_type_by_type_id(kind);
            snprintf(msg, sizeof(msg), "%s: argument \"%s\" (%s%s): %s", a->target,
                     name ? name : "?", t ? t->name : "?", arg->value_rank >= 1 ? " array" : "",
                     err);
            fp_free(name);
            why = UA_STATUS_BAD_TYPE_MISMATCH;
            goto out_bad;
        }
    }
    m.object_id = a->object_id;
    m.method_id = a->node;
    ua_call_request req;
    ua_call_request_init(&req);
    req.methods_to_call = &m;
    req.methods_to_call_count = 1;
    ua_status st =
        ua_client_service(c, &req, UA_TYPE(CALL_REQUEST), UA_TYPE(CALL_RESPONSE), call_done, a);
    ua_array_free(m.input_arguments, m.input_arguments_count, UA_TYPE(VARIANT));
    if (st)
        act_fail_status(a, st, a->target);
    return;
out_bad:
    ua_array_free(m.input_arguments, m.input_arguments_count, UA_TYPE(VARIANT));
    act_fail_input(a, why, msg);
}

static void call_args_done(ua_client *c, ua_status status, void *response, void *ctx)
{
    opc_act *a = ctx;
    ua_read_response *r = response;
    if (ua_status_is_bad(status)) {
        act_fail_status(a, status, a->target);
        return;
    }
    size_t k = 0;
    for (int i = 0; i < 2; i++) {
        if (!a->has_arg_prop[i])
            continue;
        if (!r || k >= r->results_count) {
            act_fail_status(a, UA_STATUS_BAD_UNEXPECTED_ERROR, a->target);
            return;
        }
        ua_data_value *dv = &r->results[k++];
        if ((dv->has & UA_DV_STATUS) && ua_status_is_bad(dv->status)) {
            act_fail_status(a, dv->status,
                            i == 0 ? "reading the method's InputArguments"
                                   : "reading the method's OutputArguments");
            return;
        }
        /* Move the value out of the response (the client frees the response). */
        a->args[i] = dv->value;
        memset(&dv->value, 0, sizeof(dv->value));
    }
    call_send(c, a);
}

static void call_translate_done(ua_client *c, ua_status status, void *response, void *ctx)
{
    opc_act *a = ctx;
    ua_translate_browse_paths_to_node_ids_response *r = response;
    if (!ua_status_is_bad(status) && (!r || r->results_count != 2))
        status = UA_STATUS_BAD_UNEXPECTED_ERROR;
    if (ua_status_is_bad(status)) {
        act_fail_status(a, status, a->target);
        return;
    }
    for (int i = 0; i < 2; i++) {
        const ua_browse_path_result *p = &r->results[i];
        if ((p->status_code & 0xFFFF0000u) == UA_STATUS_BAD_NO_MATCH)
            continue; /* a method without inputs (outputs) has no such property */
        if (ua_status_is_bad(p->status_code)) {
            /* The method node itself is unknown (BadNodeIdUnknown) or unusable. */
            act_fail_status(a, p->status_code, a->target);
            return;
        }
        if (p->targets_count < 1)
            continue;
        if (ua_node_id_copy(&p->targets[0].target_id.node_id, &a->arg_prop[i])) {
            act_fail_status(a, UA_STATUS_BAD_OUT_OF_MEMORY, a->target);
            return;
        }
        a->has_arg_prop[i] = true;
    }
    if (!a->has_arg_prop[0] && !a->has_arg_prop[1]) {
        call_send(c, a);
        return;
    }
    ua_read_request req;
    ua_read_value_id ids[2];
    ua_read_request_init(&req);
    memset(ids, 0, sizeof(ids));
    size_t n = 0;
    for (int i = 0; i < 2; i++)
        if (a->has_arg_prop[i]) {
            ids[n].node_id = a->arg_prop[i];
            ids[n].attribute_id = UA_ATTR_VALUE;
            n++;
        }
    req.nodes_to_read = ids;
    req.nodes_to_read_count = n;
    req.timestamps_to_return = UA_TIMESTAMPS_TO_RETURN_NEITHER;
    ua_status st = ua_client_service(c, &req, UA_TYPE(READ_REQUEST), UA_TYPE(READ_RESPONSE),
                                     call_args_done, a);
    if (st)
        act_fail_status(a, st, a->target);
}

static void act_call(opc_ep *ep, opc_act *a)
{
    ua_translate_browse_paths_to_node_ids_request req;
    ua_relative_path_element el[2];
    ua_browse_path paths[2];
    static const char *const props[2] = {"InputArguments", "OutputArguments"};
    ua_translate_browse_paths_to_node_ids_request_init(&req);
    memset(el, 0, sizeof(el));
    memset(paths, 0, sizeof(paths));
    for (int i = 0; i < 2; i++) {
        el[i].reference_type_id = ua_node_id_numeric(0, UA_NS0ID_HAS_PROPERTY);
        el[i].target_name.name = ua_string_view(props[i]);
        paths[i].starting_node = a->node;
        paths[i].relative_path.elements = &el[i];
        paths[i].relative_path.elements_count = 1;
    }
    req.browse_paths = paths;
    req.browse_paths_count = 2;
    ua_status st = ua_client_service(
        ep->client, &req, UA_TYPE(TRANSLATE_BROWSE_PATHS_TO_NODE_IDS_REQUEST),
        UA_TYPE(TRANSLATE_BROWSE_PATHS_TO_NODE_IDS_RESPONSE), call_translate_done, a);
    if (st)
        act_fail_status(a, st, a->target);
}

/* ---------------------------------------------------------------- dispatch */

static void act_parse_fail(opc_act *a, ua_status st, const char *what, const char *id)
{
    char msg[512];
    snprintf(msg, sizeof(msg), "%s \"%s\": %s", what, id, ua_status_name(st));
    fp_action_fail(a->req, st == UA_STATUS_BAD_NODE_ID_INVALID ? 400 : status_http(st),
                   ua_status_name(st), "%s", msg);
    a->req = NULL;
    act_free(a);
}

/* The first step (or the answer when there is no session). */
static void act_start(opc_ep *ep, opc_act *a)
{
    if (!ep->connected || !ep->client) {
        fp_action_fail(a->req, 503, "BadNotConnected", "%s: the endpoint is not connected%s%s",
                       a->name, ep->last_error[0] ? ": " : "", ep->last_error);
        a->req = NULL;
        act_free(a);
        return;
    }
    ua_status st = opc_parse_node_id(ep, a->target, &a->node);
    if (st) {
        act_parse_fail(a, st, "targetUri", a->target);
        return;
    }
    switch (a->kind) {
    case OPC_ACT_READ:
        act_read(ep, a);
        break;
    case OPC_ACT_WRITE:
        act_write(ep, a);
        break;
    case OPC_ACT_CALL:
        st = opc_parse_node_id(ep, a->object, &a->object_id);
        if (st) {
            act_parse_fail(a, st, "the object of the method", a->object);
            return;
        }
        act_call(ep, a);
        break;
    }
}

/* The management group's dataSource: fp_action carries only the group's name. */
static const char *group_data_source(const fp_action *ac)
{
    const json_t *groups =
        ac->asset && ac->asset->doc ? json_object_get(ac->asset->doc, "managementGroups") : NULL;
    if (!groups) {
        const json_t *props =
            ac->asset && ac->asset->doc ? json_object_get(ac->asset->doc, "properties") : NULL;
        groups = props ? json_object_get(props, "managementGroups") : NULL;
    }
    size_t i;
    json_t *g;
    json_array_foreach(groups, i, g)
    {
        const char *name = json_string_value(json_object_get(g, "name"));
        if (name && ac->group && !strcmp(name, ac->group)) {
            const char *ds = json_string_value(json_object_get(g, "dataSource"));
            return ds && *ds ? ds : NULL;
        }
    }
    return NULL;
}

void opc_action_call(fp_action *ac, fp_action_req *req)
{
    opc_ep *ep = ac->asset && ac->asset->endpoint ? ac->asset->endpoint->user : NULL;
    if (!ep) {
        fp_action_fail(req, 503, "BadNotConnected", "the asset's endpoint is not served");
        return;
    }
    opc_act *a = fp_calloc(1, sizeof(*a));
    if (!a) {
        fp_action_fail(req, 500, "BadOutOfMemory", "out of memory");
        return;
    }
    a->ep = ep;
    a->req = req;
    if (asprintf(&a->name, "%s/%s/%s", ac->asset->name, ac->group ? ac->group : "", ac->name) < 0) {
        a->name = NULL;
        goto out_nomem;
    }
    const char *type = ac->action_type && *ac->action_type ? ac->action_type : "Call";
    if (!strcasecmp(type, "Call")) {
        a->kind = OPC_ACT_CALL;
    } else if (!strcasecmp(type, "Read")) {
        a->kind = OPC_ACT_READ;
    } else if (!strcasecmp(type, "Write")) {
        a->kind = OPC_ACT_WRITE;
    } else {
        fp_action_fail(req, 400, "BadNotSupported",
                       "%s: actionType \"%s\" is not Call, Read or Write", a->name, type);
        a->req = NULL;
        act_free(a);
        return;
    }
    if (!ac->target_uri || !*ac->target_uri) {
        fp_action_fail(req, 400, "BadNodeIdInvalid", "%s: the action has no targetUri", a->name);
        a->req = NULL;
        act_free(a);
        return;
    }
    a->target = fp_strdup(ac->target_uri);
    if (!a->target)
        goto out_nomem;
    if (a->kind == OPC_ACT_CALL) {
        const char *obj = group_data_source(ac);
        if (!obj && json_is_object(ac->config_json))
            obj = json_string_value(json_object_get(ac->config_json, "objectId"));
        if (!obj || !*obj) {
            fp_action_fail(req, 400, "BadNodeIdInvalid",
                           "%s: a Call needs the object the method belongs to: set the "
                           "management group's dataSource or the action's "
                           "actionConfiguration {\"objectId\": \"<node id>\"}",
                           a->name);
            a->req = NULL;
            act_free(a);
            return;
        }
        a->object = fp_strdup(obj);
        if (!a->object)
            goto out_nomem;
    }
    size_t len = 0;
    const char *payload = fp_action_req_payload(req, &len);
    size_t sp = 0;
    while (payload && sp < len && strchr(" \t\r\n", payload[sp]))
        sp++;
    if (payload && sp < len && a->kind != OPC_ACT_READ) { /* a Read takes no input */
        json_error_t jerr;
        a->payload = json_loadb(payload, len, JSON_DECODE_ANY, &jerr);
        if (!a->payload) {
            fp_action_fail(req, 400, "BadDecodingError",
                           "%s: the request is not JSON (%s at position %d)", a->name, jerr.text,
                           jerr.position);
            a->req = NULL;
            act_free(a);
            return;
        }
    }
    act_start(ep, a);
    opc_ep_settle(ep);
    return;
out_nomem:
    fp_action_fail(req, 500, "BadOutOfMemory", "out of memory");
    a->req = NULL;
    act_free(a);
}
