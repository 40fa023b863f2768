/*
 * opc_discovery.c - asset discovery by browsing, and server discovery (FindServers,
 * GetEndpoints), for endpoints with runAssetDiscovery or discovery.discoveryUrl.
 *
 * Asset discovery walks the server's address space from discovery.startNode (the Objects
 * folder) over hierarchical references, breadth first, bounded by discovery.maxDepth levels
 * of objects and discovery.maxNodes nodes, and reports every object with variables of its
 * own as a discovered asset: one dataset whose data points are those variables, their
 * node ids written with the namespace URI (nsu=) so that they survive a server that
 * reorders its namespace table. Names are built from the device and the object's browse
 * name and do not depend on the order of the walk, so a later walk updates the same
 * discovered assets (the runtime writes nothing when the content did not change).
 *
 * Server discovery asks a discovery URL (and the endpoint's own address) for its servers
 * (FindServers) and each server for its endpoints (GetEndpoints), over a secure channel
 * without a session, and reports one discovered device per server with one inbound
 * endpoint per security policy and mode it offers.
 *
 * Everything here runs on the endpoint's strand and never holds it: every service call is
 * asynchronous (ua_client_service with a callback) and at most one call of the walk is
 * outstanding at a time, so data changes and the runtime's callbacks keep flowing between
 * the pages of a large browse, and nothing here runs a nested loop inside another module's *_sync
 * call. A walk is restarted on every new session (opc_discovery_on_connected) and repeated every
 * discovery.intervalMilliseconds; answers of an older walk are recognised by a generation
 * number and dropped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <fieldplane/fp_alloc.h>
#include <fieldplane/fp_log.h>
#include "opc_internal.h"
#include "opcua/ua_nodeid.h"

#define MOD "opcua-discovery"

#define NS0_OBJECTS_FOLDER 85
#define NS0_HIERARCHICAL_REFERENCES 33
#define NS0_HAS_PROPERTY 46
#define NS0_SERVER 2253
#define NS0_SERVER_ARRAY 2254
#define NS0_NAMESPACE_ARRAY 2255
#define NS0_BUILD_PRODUCT_NAME 2261
#define NS0_BUILD_MANUFACTURER 2263
#define NS0_BUILD_SOFTWARE_VERSION 2264
#define ATTR_BROWSE_NAME 3
#define ATTR_DISPLAY_NAME 4
#define ATTR_VALUE 13

#define BROWSE_BATCH 100     /* nodes per Browse request (halved on BadTooManyOperations) */
#define BROWSE_NEXT_BATCH 50 /* continuation points per BrowseNext */
#define MAX_REFS_PER_NODE 1000
#define SERVER_RETRY_MS 30000 /* a failed server discovery is retried this soon */

/* ---- state ------------------------------------------------------------------------- */

typedef struct disc_var {
    char *name;   /* browse name (without namespace index) */
    char *source; /* node id, nsu= form */
} disc_var;

typedef struct disc_obj {
    ua_node_id id;
    char *browse_name;
    char *display_name;
    char *source;
    int depth;
    size_t n_vars, cap_vars;
    disc_var *vars;
} disc_obj;

typedef struct disc_cp {
    ua_bytestring cp;
    size_t owner; /* index of the object the page belongs to */
} disc_cp;

/* One step of server discovery: FindServers at url, or GetEndpoints of one server. */
typedef struct srv_job {
    char *url;
    bool find;
    ua_application_description app; /* with !find: the server (maybe empty) */
    struct srv_job *next;
} srv_job;

typedef struct srv_grave {
    ua_client *c;
    struct srv_grave *next;
} srv_grave;

struct opc_disc {
    opc_ep *ep;
    bool dead;       /* opc_discovery_free ran; the last pending answer frees this */
    int pending;     /* calls outstanding on ep->client that carry a disc_call */
    uint32_t gen;    /* bumped on every new walk */
    bool info_ready; /* namespace table and build info read in this session */
    ua_loop_timer walk_timer, srv_timer, reap_timer;

    /* the server, from the session */
    ua_string *ns;
    size_t n_ns;
    char *server_uri, *product_name, *manufacturer, *software_version;

    /* the walk */
    bool walking, truncated;
    size_t batch;
    disc_obj *objs;
    size_t n_objs, cap_objs, next_obj;
    disc_cp *cps;
    size_t n_cps, cap_cps;
    size_t n_nodes;
    char **seen; /* open addressing set of node id strings */
    size_t cap_seen, n_seen;

    /* server discovery */
    bool srv_running;
    srv_job *jobs;
    srv_job *job; /* the one in progress */
    ua_client *srv_client;
    char *srv_url; /* what srv_client is connected (or connecting) to */
    bool srv_connected;
    srv_grave *graves;
    char **reported; /* device names reported in this round */
    size_t n_reported;
    bool srv_failed;
};

typedef struct disc_call {
    struct opc_disc *d;
    uint32_t gen;
    int kind; /* CALL_* */
    size_t first, n;
    size_t *owners; /* BrowseNext: the object of each continuation point */
} disc_call;

enum { CALL_INFO = 1, CALL_START, CALL_BROWSE, CALL_NEXT, CALL_RELEASE };

typedef struct opc_disc opc_disc;

static void walk_step(opc_disc *d);
static void walk_start(opc_disc *d);
static void srv_start(opc_disc *d);
static void srv_next(opc_disc *d);

/* ---- small helpers ----------------------------------------------------------------- */

static char *dup_ua(const ua_string *s)
{
    if (!s || !s->data)
        return NULL;
    return ua_string_dup_cstr(s);
}

static uint32_t fnv1a(const char *z)
{
    uint32_t h = 2166136261u;
    for (; *z; z++) {
        h ^= (uint8_t)*z;
        h *= 16777619u;
    }
    return h;
}

/* The node id in its string form, with the namespace URI (nsu=) when the namespace is
 * known; a new heap string or NULL. */
static char *node_source(const opc_disc *d, const ua_node_id *id)
{
    ua_expanded_node_id x;
    char small[256];
    size_t n;
    char *z;

    memset(&x, 0, sizeof x);
    x.node_id = *id; /* shallow: printing only */
    if (id->ns > 0 && id->ns < d->n_ns && d->ns[id->ns].data)
        x.namespace_uri = d->ns[id->ns];
    n = ua_expanded_node_id_print(&x, small, sizeof small);
    if (n < sizeof small)
        return fp_strdup(small);
    z = fp_malloc(n + 1);
    if (z)
        ua_expanded_node_id_print(&x, z, n + 1);
    return z;
}

/* ---- the set of nodes seen in a walk ------------------------------------------------ */

static void seen_clear(opc_disc *d)
{
    for (size_t i = 0; i < d->cap_seen; i++)
        fp_free(d->seen[i]);
    fp_free(d->seen);
    d->seen = NULL;
    d->cap_seen = d->n_seen = 0;
}

/* Add key (copied); false when it was there already (or on no memory). */
static bool seen_add(opc_disc *d, const char *key)
{
    if (2 * (d->n_seen + 1) > d->cap_seen) {
        size_t cap = d->cap_seen ? d->cap_seen * 2 : 256;
        char **t = fp_calloc(cap, sizeof *t);
        if (!t)
            return false;
        for (size_t i = 0; i < d->cap_seen; i++) {
            if (!d->seen[i])
                continue;
            size_t k = fnv1a(d->seen[i]) & (cap - 1);
            while (t[k])
                k = (k + 1) & (cap - 1);
            t[k] = d->seen[i];
        }
        fp_free(d->seen);
        d->seen = t;
        d->cap_seen = cap;
    }
    size_t k = fnv1a(key) & (d->cap_seen - 1);
    while (d->seen[k]) {
        if (!strcmp(d->seen[k], key))
            return false;
        k = (k + 1) & (d->cap_seen - 1);
    }
    d->seen[k] = fp_strdup(key);
    if (!d->seen[k])
        return false;
    d->n_seen++;
    return true;
}

/* ---- the walk's memory -------------------------------------------------------------- */

static void obj_clear(disc_obj *o)
{
    ua_node_id_clear(&o->id);
    fp_free(o->browse_name);
    fp_free(o->display_name);
    fp_free(o->source);
    for (size_t i = 0; i < o->n_vars; i++) {
        fp_free(o->vars[i].name);
        fp_free(o->vars[i].source);
    }
    fp_free(o->vars);
    memset(o, 0, sizeof *o);
}

static void walk_reset(opc_disc *d)
{
    for (size_t i = 0; i < d->n_objs; i++)
        obj_clear(&d->objs[i]);
    fp_free(d->objs);
    d->objs = NULL;
    d->n_objs = d->cap_objs = d->next_obj = 0;
    for (size_t i = 0; i < d->n_cps; i++)
        ua_bytestring_clear(&d->cps[i].cp);
    fp_free(d->cps);
    d->cps = NULL;
    d->n_cps = d->cap_cps = 0;
    seen_clear(d);
    d->n_nodes = 0;
    d->truncated = false;
    d->walking = false;
}

static void info_reset(opc_disc *d)
{
    ua_array_free(d->ns, d->n_ns, UA_TYPE(STRING));
    d->ns = NULL;
    d->n_ns = 0;
    fp_free(d->server_uri);
    fp_free(d->product_name);
    fp_free(d->manufacturer);
    fp_free(d->software_version);
    d->server_uri = d->product_name = d->manufacturer = d->software_version = NULL;
    d->info_ready = false;
}

/* A new object to browse (takes nothing: id is copied). NULL on no memory. */
static disc_obj *obj_add(opc_disc *d, const ua_node_id *id, int depth)
{
    if (d->n_objs == d->cap_objs) {
        size_t cap = d->cap_objs ? d->cap_objs * 2 : 64;
        disc_obj *t = fp_realloc(d->objs, cap * sizeof *t);
        if (!t)
            return NULL;
        d->objs = t;
        d->cap_objs = cap;
    }
    disc_obj *o = &d->objs[d->n_objs];
    memset(o, 0, sizeof *o);
    if (ua_node_id_copy(id, &o->id) != UA_STATUS_GOOD)
        return NULL;
    o->depth = depth;
    o->source = node_source(d, id);
    if (!o->source) {
        ua_node_id_clear(&o->id);
        return NULL;
    }
    d->n_objs++;
    return o;
}

static int var_add(disc_obj *o, const char *name, char *source_take)
{
    if (o->n_vars == o->cap_vars) {
        size_t cap = o->cap_vars ? o->cap_vars * 2 : 8;
        disc_var *t = fp_realloc(o->vars, cap * sizeof *t);
        if (!t)
            goto fail;
        o->vars = t;
        o->cap_vars = cap;
    }
    o->vars[o->n_vars].name = fp_strdup(name);
    if (!o->vars[o->n_vars].name)
        goto fail;
    o->vars[o->n_vars].source = source_take;
    o->n_vars++;
    return 0;
fail:
    fp_free(source_take);
    return -1;
}

/* ---- calls on the session ----------------------------------------------------------- */

static void call_free(disc_call *call)
{
    fp_free(call->owners);
    fp_free(call);
}

static disc_call *call_new(opc_disc *d, int kind)
{
    disc_call *call = fp_calloc(1, sizeof *call);
    if (!call)
        return NULL;
    call->d = d;
    call->gen = d->gen;
    call->kind = kind;
    return call;
}

static void disc_destroy(opc_disc *d);

/* The common part of every answer: account for it, and say whether it still matters. */
static bool call_done(disc_call *call)
{
    opc_disc *d = call->d;
    d->pending--;
    if (d->dead) {
        if (d->pending == 0)
            disc_destroy(d);
        return false;
    }
    return call->gen == d->gen;
}

static void walk_fail(opc_disc *d, const char *what, ua_status st)
{
    fp_log_warn(MOD, "%s/%s: asset discovery stopped: %s: %s", d->ep->pub->device, d->ep->pub->name,
                what, ua_status_name(st));
    walk_reset(d);
    if (d->ep->cfg->discovery_interval_ms > 0)
        ua_loop_timer_start(d->ep->loop, &d->walk_timer,
                            (uint64_t)d->ep->cfg->discovery_interval_ms);
}

static ua_status send_call(opc_disc *d, disc_call *call, const void *req, const ua_type *req_t,
                           const ua_type *resp_t, ua_client_service_cb cb)
{
    ua_status st;

    if (!call)
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    if (!d->ep->client || !d->ep->connected) {
        call_free(call);
        return UA_STATUS_BAD_NOT_CONNECTED;
    }
    st = ua_client_service(d->ep->client, req, req_t, resp_t, cb, call);
    if (st != UA_STATUS_GOOD) {
        call_free(call);
        return st;
    }
    d->pending++;
    return UA_STATUS_GOOD;
}

static const ua_variant *good_value(const ua_read_response *r, size_t i)
{
    if (i >= r->results_count || ua_status_is_bad(r->results[i].status))
        return NULL;
    return ua_variant_is_empty(&r->results[i].value) ? NULL : &r->results[i].value;
}

static char *string_value(const ua_read_response *r, size_t i)
{
    const ua_variant *v = good_value(r, i);
    if (!v || !ua_variant_is_scalar(v))
        return NULL;
    if (v->type == UA_TYPE(STRING))
        return dup_ua(ua_variant_data(v));
    if (v->type == UA_TYPE(LOCALIZED_TEXT))
        return dup_ua(&((const ua_localized_text *)ua_variant_data(v))->text);
    return NULL;
}

/* NamespaceArray, ServerArray and BuildInfo: read once per session. */
static void on_info(ua_client *c, ua_status st, void *response, void *ctx)
{
    disc_call *call = ctx;
    opc_disc *d = call->d;
    ua_read_response *r = response;

    (void)c;
    if (!call_done(call))
        goto out;
    if (st != UA_STATUS_GOOD || !r) {
        fp_log_warn(MOD, "%s/%s: reading the namespace table failed: %s", d->ep->pub->device,
                    d->ep->pub->name, ua_status_name(st));
        ua_loop_timer_start(d->ep->loop, &d->walk_timer, SERVER_RETRY_MS);
        goto out;
    }
    info_reset(d);
    const ua_variant *v = good_value(r, 0);
    if (v && v->is_array && v->type == UA_TYPE(STRING)) {
        if (ua_array_copy(ua_variant_data(v), v->array_length, (void **)&d->ns, UA_TYPE(STRING)) ==
            UA_STATUS_GOOD)
            d->n_ns = v->array_length;
    }
    v = good_value(r, 1);
    if (v && v->is_array && v->type == UA_TYPE(STRING) && v->array_length > 0)
        d->server_uri = dup_ua(&((const ua_string *)ua_variant_data(v))[0]);
    d->product_name = string_value(r, 2);
    d->manufacturer = string_value(r, 3);
    d->software_version = string_value(r, 4);
    d->info_ready = true;
    if (d->ep->cfg->run_asset_discovery)
        walk_start(d);
    srv_start(d);
out:
    call_free(call);
}

static void info_read(opc_disc *d)
{
    static const uint32_t ids[] = {NS0_NAMESPACE_ARRAY, NS0_SERVER_ARRAY, NS0_BUILD_PRODUCT_NAME,
                                   NS0_BUILD_MANUFACTURER, NS0_BUILD_SOFTWARE_VERSION};
    ua_read_value_id nodes[5];
    ua_read_request req;
    ua_status st;

    ua_read_request_init(&req);
    memset(nodes, 0, sizeof nodes);
    for (size_t i = 0; i < 5; i++) {
        nodes[i].node_id = ua_node_id_numeric(0, ids[i]);
        nodes[i].attribute_id = ATTR_VALUE;
    }
    req.timestamps_to_return = UA_TIMESTAMPS_TO_RETURN_NEITHER;
    req.nodes_to_read = nodes;
    req.nodes_to_read_count = 5;
    st = send_call(d, call_new(d, CALL_INFO), &req, UA_TYPE(READ_REQUEST), UA_TYPE(READ_RESPONSE),
                   on_info);
    if (st != UA_STATUS_GOOD)
        fp_log_warn(MOD, "%s/%s: cannot read the namespace table: %s", d->ep->pub->device,
                    d->ep->pub->name, ua_status_name(st));
}

/* ---- the walk ------------------------------------------------------------------------ */

/* The start node's names arrived: browse from it. */
static void on_start(ua_client *c, ua_status st, void *response, void *ctx)
{
    disc_call *call = ctx;
    opc_disc *d = call->d;
    ua_read_response *r = response;

    (void)c;
    if (!call_done(call))
        goto out;
    if (st != UA_STATUS_GOOD || !r) {
        walk_fail(d, "reading the start node", st);
        goto out;
    }
    if (r->results_count > 0 && r->results[0].status == UA_STATUS_BAD_NODE_ID_UNKNOWN) {
        walk_fail(d, "discovery.startNode", r->results[0].status);
        goto out;
    }
    disc_obj *o = &d->objs[0];
    const ua_variant *v = good_value(r, 0);
    if (v && ua_variant_is_scalar(v) && v->type == UA_TYPE(QUALIFIED_NAME))
        o->browse_name = dup_ua(&((const ua_qualified_name *)ua_variant_data(v))->name);
    o->display_name = string_value(r, 1);
    walk_step(d);
out:
    call_free(call);
}

static void walk_start(opc_disc *d)
{
    const opc_ep_cfg *cfg = d->ep->cfg;
    const char *start = cfg->discovery_start_node && *cfg->discovery_start_node
                            ? cfg->discovery_start_node
                            : "i=85";
    ua_node_id id;
    ua_status st;

    ua_loop_timer_stop(d->ep->loop, &d->walk_timer);
    walk_reset(d);
    d->gen++;
    d->batch = BROWSE_BATCH;
    st = ua_node_id_parse(&id, start, d->ns, d->n_ns);
    if (st != UA_STATUS_GOOD) {
        fp_log_warn(MOD, "%s/%s: discovery.startNode '%s' is not a node id on this server: %s",
                    d->ep->pub->device, d->ep->pub->name, start, ua_status_name(st));
        return;
    }
    d->walking = true;
    if (!obj_add(d, &id, 0) || !seen_add(d, d->objs[0].source)) {
        ua_node_id_clear(&id);
        walk_fail(d, "start", UA_STATUS_BAD_OUT_OF_MEMORY);
        return;
    }
    d->n_nodes = 1;
    fp_log_info(MOD, "%s/%s: asset discovery from %s (depth %lld, at most %lld nodes)",
                d->ep->pub->device, d->ep->pub->name, start, (long long)cfg->discovery_max_depth,
                (long long)cfg->discovery_max_nodes);

    ua_read_value_id nodes[2];
    ua_read_request req;
    ua_read_request_init(&req);
    memset(nodes, 0, sizeof nodes);
    nodes[0].node_id = id;
    nodes[0].attribute_id = ATTR_BROWSE_NAME;
    nodes[1].node_id = id;
    nodes[1].attribute_id = ATTR_DISPLAY_NAME;
    req.timestamps_to_return = UA_TIMESTAMPS_TO_RETURN_NEITHER;
    req.nodes_to_read = nodes;
    req.nodes_to_read_count = 2;
    st = send_call(d, call_new(d, CALL_START), &req, UA_TYPE(READ_REQUEST), UA_TYPE(READ_RESPONSE),
                   on_start);
    ua_node_id_clear(&id);
    if (st != UA_STATUS_GOOD)
        walk_fail(d, "reading the start node", st);
}

/* The references of one object: variables become its data points, objects are browsed
 * next (within the depth and node bounds). */
static void take_references(opc_disc *d, size_t owner, ua_browse_result *res)
{
    const opc_ep_cfg *cfg = d->ep->cfg;
    int64_t max_nodes = cfg->discovery_max_nodes > 0 ? cfg->discovery_max_nodes : 2000;
    int64_t max_depth = cfg->discovery_max_depth >= 0 ? cfg->discovery_max_depth : 4;

    for (size_t k = 0; k < res->references_count; k++) {
        ua_reference_description *ref = &res->references[k];
        ua_node_id id;
        char *source;
        bool variable = ref->node_class == UA_NODE_CLASS_VARIABLE;

        if (!ref->is_forward || ref->node_id.server_index != 0)
            continue;
        if (ref->node_class != UA_NODE_CLASS_OBJECT && !variable)
            continue;
        /* Properties describe their object (a unit, a range), they do not measure. */
        if (variable && ref->reference_type_id.ns == 0 &&
            ref->reference_type_id.id_type == UA_NODEID_NUMERIC &&
            ref->reference_type_id.id.numeric == NS0_HAS_PROPERTY)
            continue;
        if (ref->node_id.namespace_uri.data) {
            if (ua_expanded_node_id_resolve(&ref->node_id, d->ns, d->n_ns, &id) != UA_STATUS_GOOD)
                continue;
        } else if (ua_node_id_copy(&ref->node_id.node_id, &id) != UA_STATUS_GOOD) {
            continue;
        }
        if (id.ns == 0 && id.id_type == UA_NODEID_NUMERIC && id.id.numeric == NS0_SERVER) {
            ua_node_id_clear(&id);
            continue;
        }
        if ((int64_t)d->n_nodes >= max_nodes) {
            d->truncated = true;
            ua_node_id_clear(&id);
            return;
        }
        source = node_source(d, &id);
        if (!source) {
            ua_node_id_clear(&id);
            continue;
        }
        if (variable) {
            char *name = dup_ua(&ref->browse_name.name);
            if (name && *name && var_add(&d->objs[owner], name, source) == 0)
                d->n_nodes++;
            else if (!name || !*name)
                fp_free(source);
            fp_free(name);
        } else if (d->objs[owner].depth < max_depth && seen_add(d, source)) {
            int depth = d->objs[owner].depth + 1;
            disc_obj *o = obj_add(d, &id, depth);
            if (o) {
                o->browse_name = dup_ua(&ref->browse_name.name);
                o->display_name = dup_ua(&ref->display_name.text);
                d->n_nodes++;
            }
            fp_free(source);
        } else {
            fp_free(source);
        }
        ua_node_id_clear(&id);
    }
}

/* Keep a result's continuation point to follow (or to release when the walk is full). */
static void keep_cp(opc_disc *d, size_t owner, ua_browse_result *res)
{
    if (!res->continuation_point.data || res->continuation_point.length == 0)
        return;
    if (d->n_cps == d->cap_cps) {
        size_t cap = d->cap_cps ? d->cap_cps * 2 : 16;
        disc_cp *t = fp_realloc(d->cps, cap * sizeof *t);
        if (!t)
            return; /* the server frees it with the session */
        d->cps = t;
        d->cap_cps = cap;
    }
    d->cps[d->n_cps].cp = res->continuation_point;
    d->cps[d->n_cps].owner = owner;
    memset(&res->continuation_point, 0, sizeof res->continuation_point);
    d->n_cps++;
}

static void on_browse(ua_client *c, ua_status st, void *response, void *ctx)
{
    disc_call *call = ctx;
    opc_disc *d = call->d;

    (void)c;
    if (!call_done(call))
        goto out;
    if (call->kind == CALL_RELEASE) {
        walk_step(d);
        goto out;
    }
    if (st == UA_STATUS_BAD_TOO_MANY_OPERATIONS && call->kind == CALL_BROWSE && d->batch > 1) {
        d->batch /= 2;
        d->next_obj = call->first;
        walk_step(d);
        goto out;
    }
    if (st != UA_STATUS_GOOD || !response) {
        walk_fail(d, call->kind == CALL_BROWSE ? "Browse" : "BrowseNext", st);
        goto out;
    }
    size_t count;
    ua_browse_result *results;
    if (call->kind == CALL_BROWSE) {
        ua_browse_response *r = response;
        count = r->results_count;
        results = r->results;
    } else {
        ua_browse_next_response *r = response;
        count = r->results_count;
        results = r->results;
    }
    for (size_t i = 0; i < count && i < call->n; i++) {
        size_t owner = call->kind == CALL_BROWSE ? call->first + i : call->owners[i];
        if (ua_status_is_bad(results[i].status_code)) {
            fp_log_debug(MOD, "browsing %s: %s", d->objs[owner].source,
                         ua_status_name(results[i].status_code));
            continue;
        }
        take_references(d, owner, &results[i]);
        keep_cp(d, owner, &results[i]);
    }
    walk_step(d);
out:
    call_free(call);
}

static void walk_report(opc_disc *d);

/* Send the next request of the walk: continuation points first (released when the walk
 * is full), then the next batch of objects; report when nothing is left. */
static void walk_step(opc_disc *d)
{
    ua_status st;

    if (!d->walking)
        return;
    if (d->n_cps > 0) {
        ua_browse_next_request req;
        ua_bytestring cps[BROWSE_NEXT_BATCH];
        size_t n = d->n_cps < BROWSE_NEXT_BATCH ? d->n_cps : BROWSE_NEXT_BATCH;
        disc_call *call = call_new(d, d->truncated ? CALL_RELEASE : CALL_NEXT);

        if (call && !(call->owners = fp_calloc(n, sizeof *call->owners))) {
            call_free(call);
            call = NULL;
        }
        ua_browse_next_request_init(&req);
        for (size_t i = 0; i < n; i++) {
            cps[i] = d->cps[d->n_cps - n + i].cp;
            if (call)
                call->owners[i] = d->cps[d->n_cps - n + i].owner;
        }
        if (call)
            call->n = n;
        req.release_continuation_points = d->truncated;
        req.continuation_points = cps;
        req.continuation_points_count = n;
        st = send_call(d, call, &req, UA_TYPE(BROWSE_NEXT_REQUEST), UA_TYPE(BROWSE_NEXT_RESPONSE),
                       on_browse);
        for (size_t i = 0; i < n; i++)
            ua_bytestring_clear(&cps[i]);
        d->n_cps -= n;
        if (st != UA_STATUS_GOOD)
            walk_fail(d, "BrowseNext", st);
        return;
    }
    if (!d->truncated && d->next_obj < d->n_objs) {
        size_t n = d->n_objs - d->next_obj;
        ua_browse_description *descs;
        ua_browse_request req;
        disc_call *call;

        if (n > d->batch)
            n = d->batch;
        descs = fp_calloc(n, sizeof *descs);
        call = descs ? call_new(d, CALL_BROWSE) : NULL;
        if (!call) {
            fp_free(descs);
            walk_fail(d, "Browse", UA_STATUS_BAD_OUT_OF_MEMORY);
            return;
        }
        for (size_t i = 0; i < n; i++) {
            descs[i].node_id = d->objs[d->next_obj + i].id; /* borrowed */
            descs[i].browse_direction = UA_BROWSE_DIRECTION_FORWARD;
            descs[i].reference_type_id = ua_node_id_numeric(0, NS0_HIERARCHICAL_REFERENCES);
            descs[i].include_subtypes = true;
            descs[i].node_class_mask = UA_NODE_CLASS_OBJECT | UA_NODE_CLASS_VARIABLE;
            descs[i].result_mask = UA_BROWSE_RESULT_MASK_ALL;
        }
        ua_browse_request_init(&req);
        req.requested_max_references_per_node = MAX_REFS_PER_NODE;
        req.nodes_to_browse = descs;
        req.nodes_to_browse_count = n;
        call->first = d->next_obj;
        call->n = n;
        st = send_call(d, call, &req, UA_TYPE(BROWSE_REQUEST), UA_TYPE(BROWSE_RESPONSE), on_browse);
        fp_free(descs);
        if (st != UA_STATUS_GOOD) {
            walk_fail(d, "Browse", st);
            return;
        }
        d->next_obj += n;
        return;
    }
    walk_report(d);
}

/* ---- reporting assets ----------------------------------------------------------------- */

/* The dataset's data points; names made unique ("Value", "Value (2)"). */
static json_t *data_points(const disc_obj *o)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr && i < o->n_vars; i++) {
        char name[512];
        int dup = 1;
        snprintf(name, sizeof name, "%s", o->vars[i].name);
        for (;;) {
            bool clash = false;
            size_t k;
            json_t *p;
            json_array_foreach(arr, k, p)
            {
                if (!strcmp(json_string_value(json_object_get(p, "name")), name))
                    clash = true;
            }
            if (!clash)
                break;
            snprintf(name, sizeof name, "%s (%d)", o->vars[i].name, ++dup);
        }
        json_array_append_new(
            arr, json_pack("{s:s,s:s}", "name", name, "dataSource", o->vars[i].source));
    }
    return arr;
}

static void walk_report(opc_disc *d)
{
    fp_endpoint *pub = d->ep->pub;
    size_t n_assets = 0, n_failed = 0;
    char(*names)[FP_DISCOVERED_NAME_BUF] = NULL;

    d->walking = false;
    if (d->n_objs > 0)
        names = fp_calloc(d->n_objs, sizeof *names);
    /* Names from device and browse name; objects that share one all get a hash of their
     * node id, so that which one came first in the walk does not matter. */
    for (size_t i = 0; names && i < d->n_objs; i++)
        if (d->objs[i].n_vars > 0)
            fp_discovered_name(names[i], pub->device, d->objs[i].browse_name, d->objs[i].source,
                               false);
    for (size_t i = 0; names && i < d->n_objs; i++) {
        bool clash = false;
        if (d->objs[i].n_vars == 0)
            continue;
        for (size_t k = 0; k < d->n_objs && !clash; k++)
            clash = k != i && d->objs[k].n_vars > 0 && !strcmp(names[i], names[k]);
        if (clash)
            fp_discovered_name(names[i], pub->device, d->objs[i].browse_name, d->objs[i].source,
                               true);
    }
    for (size_t i = 0; names && i < d->n_objs; i++) {
        const disc_obj *o = &d->objs[i];
        if (o->n_vars == 0)
            continue;
        json_t *props = json_pack("{s:{s:s,s:s},s:s,s:[{s:s,s:s,s:o}]}", "deviceRef", "deviceName",
                                  pub->device, "endpointName", pub->name, "displayName",
                                  o->display_name  ? o->display_name
                                  : o->browse_name ? o->browse_name
                                                   : o->source,
                                  "datasets", "name", "default", "dataSource", o->source,
                                  "dataPoints", data_points(o));
        if (props && fp_discovered_asset_report(fp_rt_get(), pub->ns, names[i], props) == 0)
            n_assets++;
        else
            n_failed++;
        json_decref(props);
    }
    fp_log_info(MOD, "%s/%s: asset discovery browsed %zu nodes%s; %zu assets reported%s",
                pub->device, pub->name, d->n_nodes,
                d->truncated ? " (stopped at discovery.maxNodes)" : "", n_assets,
                n_failed ? " (some could not be reported, see above)" : "");
    fp_free(names);
    walk_reset(d);
    if (d->ep->cfg->discovery_interval_ms > 0)
        ua_loop_timer_start(d->ep->loop, &d->walk_timer,
                            (uint64_t)d->ep->cfg->discovery_interval_ms);
}

static void on_walk_timer(void *ctx)
{
    opc_disc *d = ctx;
    if (!d->ep->connected || d->walking || !d->ep->cfg->run_asset_discovery)
        return;
    if (!d->info_ready)
        info_read(d); /* walks (and lists servers) when read */
    else
        walk_start(d);
}

/* ---- server discovery ---------------------------------------------------------------- */

static void srv_job_free(srv_job *j)
{
    if (!j)
        return;
    fp_free(j->url);
    ua_application_description_clear(&j->app);
    fp_free(j);
}

static void srv_job_push(opc_disc *d, const char *url, bool find,
                         const ua_application_description *app)
{
    srv_job *j = fp_calloc(1, sizeof *j), **pp;

    if (!j || !(j->url = fp_strdup(url)) ||
        (app && ua_application_description_copy(app, &j->app) != UA_STATUS_GOOD)) {
        srv_job_free(j);
        return;
    }
    j->find = find;
    for (pp = &d->jobs; *pp; pp = &(*pp)->next)
        ;
    *pp = j;
}

/* Free the clients that are done; a client is never freed inside its own callbacks. */
static void on_reap(void *ctx)
{
    opc_disc *d = ctx;
    while (d->graves) {
        srv_grave *g = d->graves;
        d->graves = g->next;
        ua_client_free(g->c);
        fp_free(g);
    }
}

static void srv_drop_client(opc_disc *d)
{
    if (!d->srv_client)
        return;
    srv_grave *g = fp_calloc(1, sizeof *g);
    if (g) {
        g->c = d->srv_client;
        g->next = d->graves;
        d->graves = g;
        if (!d->dead)
            ua_loop_timer_start(d->ep->loop, &d->reap_timer, 0);
    }
    /* else: leaked rather than freed inside a callback */
    d->srv_client = NULL;
    d->srv_connected = false;
    fp_free(d->srv_url);
    d->srv_url = NULL;
}

static void srv_round_end(opc_disc *d)
{
    int64_t every = d->ep->cfg->discovery_interval_ms;
    srv_drop_client(d);
    for (size_t i = 0; i < d->n_reported; i++)
        fp_free(d->reported[i]);
    fp_free(d->reported);
    d->reported = NULL;
    d->n_reported = 0;
    d->srv_running = false;
    if (d->srv_failed && (every <= 0 || every > SERVER_RETRY_MS))
        every = SERVER_RETRY_MS;
    if (every > 0)
        ua_loop_timer_start(d->ep->loop, &d->srv_timer, (uint64_t)every);
}

static const char *mode_name(int mode)
{
    switch (mode) {
    case UA_MESSAGE_SECURITY_MODE_NONE:
        return "none";
    case UA_MESSAGE_SECURITY_MODE_SIGN:
        return "sign";
    case UA_MESSAGE_SECURITY_MODE_SIGN_AND_ENCRYPT:
        return "signAndEncrypt";
    default:
        return NULL;
    }
}

/* One discovered device for a server and its endpoints. */
static void srv_report(opc_disc *d, const ua_application_description *app_in,
                       const ua_get_endpoints_response *r)
{
    const ua_application_description *app = app_in;
    char name[FP_DISCOVERED_NAME_BUF], *uri, *app_name, *product_uri;
    json_t *inbound = json_object(), *props, *attrs = json_object();
    size_t n_endpoints = 0;

    if ((!app || !app->application_uri.data) && r->endpoints_count > 0)
        app = &r->endpoints[0].server;
    if (!app || !inbound || !attrs)
        goto out_json;
    uri = dup_ua(&app->application_uri);
    app_name = dup_ua(&app->application_name.text);
    product_uri = dup_ua(&app->product_uri);
    {
        const char *key = uri ? uri : app_name ? app_name : "";
        const char *base = key;
        if (!strncmp(base, "urn:", 4))
            base += 4;
        fp_discovered_name(name, "", base, key, false);
    }
    for (size_t i = 0; i < d->n_reported; i++)
        if (!strcmp(d->reported[i], name))
            goto out; /* found through two discovery URLs: once is enough */

    for (size_t i = 0; i < r->endpoints_count; i++) {
        const ua_endpoint_description *e = &r->endpoints[i];
        const char *mode = mode_name(e->security_mode);
        char *policy = dup_ua(&e->security_policy_uri), *url = dup_ua(&e->endpoint_url);
        const char *shortp;
        char ep_name[FP_DISCOVERED_NAME_BUF], key[FP_DISCOVERED_NAME_BUF + 16];
        json_t *auth = json_array(), *cfg;
        char *cfg_text;

        if (!mode || !policy || !url || !auth) {
            fp_free(policy);
            fp_free(url);
            json_decref(auth);
            continue;
        }
        shortp = strchr(policy, '#') ? strchr(policy, '#') + 1 : policy;
        /* "none", "basic256sha256-signandencrypt": the name folded as resource names are. */
        fp_discovered_name(ep_name, shortp,
                           strcmp(mode, "none") || strcasecmp(shortp, "None") ? mode : NULL, shortp,
                           false);
        snprintf(key, sizeof key, "%s", ep_name);
        for (int k = 2; json_object_get(inbound, key); k++)
            snprintf(key, sizeof key, "%.60s-%d", ep_name, k % 1000);
        for (size_t t = 0; t < e->user_identity_tokens_count; t++) {
            const char *m = NULL;
            switch (e->user_identity_tokens[t].token_type) {
            case UA_USER_TOKEN_TYPE_ANONYMOUS:
                m = "Anonymous";
                break;
            case UA_USER_TOKEN_TYPE_USER_NAME:
                m = "UsernamePassword";
                break;
            case UA_USER_TOKEN_TYPE_CERTIFICATE:
                m = "Certificate";
                break;
            default:
                break;
            }
            bool have = false;
            size_t ai;
            json_t *av;
            json_array_foreach(auth, ai, av) have |= m && !strcmp(json_string_value(av), m);
            if (m && !have)
                json_array_append_new(auth, json_string(m));
        }
        cfg =
            json_pack("{s:{s:s,s:s}}", "security", "securityPolicy", policy, "securityMode", mode);
        cfg_text = cfg ? json_dumps(cfg, JSON_COMPACT) : NULL;
        json_decref(cfg);
        if (cfg_text)
            json_object_set_new(inbound, key,
                                json_pack("{s:s,s:s,s:s,s:o}", "endpointType", "Microsoft.OpcUa",
                                          "address", url, "additionalConfiguration", cfg_text,
                                          "supportedAuthenticationMethods", auth));
        else
            json_decref(auth);
        free(cfg_text);
        fp_free(policy);
        fp_free(url);
        n_endpoints++;
    }

    props = json_pack("{s:{s:O}}", "endpoints", "inbound", inbound);
    if (!props)
        goto out;
    if (uri)
        json_object_set_new(attrs, "applicationUri", json_string(uri));
    if (product_uri)
        json_object_set_new(attrs, "productUri", json_string(product_uri));
    if (app_name)
        json_object_set_new(attrs, "applicationName", json_string(app_name));
    /* BuildInfo is only readable through a session: known for our own server. */
    bool own = uri && d->server_uri && !strcmp(uri, d->server_uri);
    if (own && d->manufacturer && *d->manufacturer)
        json_object_set_new(props, "manufacturer", json_string(d->manufacturer));
    if (own && d->product_name && *d->product_name)
        json_object_set_new(props, "model", json_string(d->product_name));
    else if (app_name && *app_name)
        json_object_set_new(props, "model", json_string(app_name));
    if (own && d->software_version && *d->software_version)
        json_object_set_new(attrs, "softwareVersion", json_string(d->software_version));
    json_object_set(props, "attributes", attrs);
    if (fp_discovered_device_report(fp_rt_get(), d->ep->pub->ns, name, props) == 0) {
        char **t = fp_realloc(d->reported, (d->n_reported + 1) * sizeof *t);
        if (t) {
            d->reported = t;
            if ((t[d->n_reported] = fp_strdup(name)))
                d->n_reported++;
        }
        fp_log_info(MOD, "%s/%s: server %s reported as discovered device %s (%zu endpoints)",
                    d->ep->pub->device, d->ep->pub->name, uri ? uri : "?", name, n_endpoints);
    }
    json_decref(props);
out:
    fp_free(uri);
    fp_free(app_name);
    fp_free(product_uri);
out_json:
    json_decref(inbound);
    json_decref(attrs);
}

static bool url_listed(const ua_application_description *app, const char *url)
{
    for (size_t k = 0; k < app->discovery_urls_count; k++) {
        ua_string u = ua_string_view(url);
        if (ua_string_equal(&app->discovery_urls[k], &u))
            return true;
    }
    return false;
}

static void srv_job_done(opc_disc *d)
{
    srv_job_free(d->job);
    d->job = NULL;
    srv_next(d);
}

static void on_find_servers(ua_client *c, ua_status st, void *response, void *ctx)
{
    opc_disc *d = ctx;
    ua_find_servers_response *r = response;

    if (d->dead || c != d->srv_client || !d->job)
        return;
    if (st != UA_STATUS_GOOD || !r) {
        /* A server without FindServers still answers GetEndpoints. */
        fp_log_warn(MOD, "%s/%s: FindServers at %s: %s", d->ep->pub->device, d->ep->pub->name,
                    d->job->url, ua_status_name(st));
        srv_job_push(d, d->job->url, false, NULL);
        srv_job_done(d);
        return;
    }
    for (size_t i = 0; i < r->servers_count; i++) {
        const ua_application_description *app = &r->servers[i];
        const char *url = NULL;
        char *first = NULL;
        /* Clients and discovery servers are not devices. */
        if (app->application_type == UA_APPLICATION_TYPE_CLIENT ||
            app->application_type == UA_APPLICATION_TYPE_DISCOVERY_SERVER)
            continue;
        if (r->servers_count == 1 || url_listed(app, d->job->url)) {
            url = d->job->url;
        } else {
            for (size_t k = 0; k < app->discovery_urls_count && !first; k++)
                if (app->discovery_urls[k].length > 10 &&
                    !memcmp(app->discovery_urls[k].data, "opc.tcp://", 10))
                    first = dup_ua(&app->discovery_urls[k]);
            url = first;
        }
        if (url)
            srv_job_push(d, url, false, app);
        fp_free(first);
    }
    srv_job_done(d);
}

static void on_get_endpoints(ua_client *c, ua_status st, void *response, void *ctx)
{
    opc_disc *d = ctx;
    ua_get_endpoints_response *r = response;

    if (d->dead || c != d->srv_client || !d->job)
        return;
    if (st != UA_STATUS_GOOD || !r) {
        fp_log_warn(MOD, "%s/%s: GetEndpoints at %s: %s", d->ep->pub->device, d->ep->pub->name,
                    d->job->url, ua_status_name(st));
        d->srv_failed = true;
    } else {
        srv_report(d, &d->job->app, r);
    }
    srv_job_done(d);
}

/* Send the current job's request on the connected discovery client. */
static void srv_send(opc_disc *d)
{
    ua_status st;
    srv_job *j = d->job;

    if (j->find) {
        ua_find_servers_request req;
        ua_find_servers_request_init(&req);
        req.endpoint_url = ua_string_view(j->url);
        st = ua_client_service(d->srv_client, &req, UA_TYPE(FIND_SERVERS_REQUEST),
                               UA_TYPE(FIND_SERVERS_RESPONSE), on_find_servers, d);
    } else {
        ua_get_endpoints_request req;
        ua_get_endpoints_request_init(&req);
        req.endpoint_url = ua_string_view(j->url);
        st = ua_client_service(d->srv_client, &req, UA_TYPE(GET_ENDPOINTS_REQUEST),
                               UA_TYPE(GET_ENDPOINTS_RESPONSE), on_get_endpoints, d);
    }
    if (st != UA_STATUS_GOOD) {
        fp_log_warn(MOD, "%s/%s: %s at %s: %s", d->ep->pub->device, d->ep->pub->name,
                    j->find ? "FindServers" : "GetEndpoints", j->url, ua_status_name(st));
        d->srv_failed = true;
        srv_drop_client(d);
        srv_job_done(d);
    }
}

static void on_srv_state(ua_client *c, ua_status st, void *ctx)
{
    opc_disc *d = ctx;

    if (d->dead || c != d->srv_client)
        return;
    if (st == UA_STATUS_GOOD && !d->srv_connected) {
        d->srv_connected = true;
        if (d->job)
            srv_send(d);
        return;
    }
    /* The attempt failed, or the channel went away (an answer still pending fails too). */
    bool was_connecting = !d->srv_connected;
    srv_drop_client(d);
    if (was_connecting && d->job) {
        fp_log_warn(MOD, "%s/%s: cannot reach discovery URL %s: %s", d->ep->pub->device,
                    d->ep->pub->name, d->job->url, ua_status_name(st));
        d->srv_failed = true;
        srv_job_done(d);
    }
}

static void srv_next(opc_disc *d)
{
    for (;;) {
        ua_client_config cfg;
        ua_status st;

        if (d->dead)
            return;
        d->job = d->jobs;
        if (!d->job) {
            srv_round_end(d);
            return;
        }
        d->jobs = d->job->next;
        d->job->next = NULL;
        if (d->srv_client && d->srv_connected && d->srv_url && !strcmp(d->srv_url, d->job->url)) {
            srv_send(d);
            return;
        }
        srv_drop_client(d);
        memset(&cfg, 0, sizeof cfg);
        cfg.no_session = true;
        cfg.application_name = d->ep->cfg->application_name;
        cfg.request_timeout_ms = 10000;
        d->srv_client = ua_client_new(d->ep->loop, &cfg);
        d->srv_url = fp_strdup(d->job->url);
        if (!d->srv_client || !d->srv_url) {
            st = UA_STATUS_BAD_OUT_OF_MEMORY;
        } else {
            st = ua_client_connect(d->srv_client, d->job->url, on_srv_state, d);
        }
        if (st == UA_STATUS_GOOD)
            return;
        fp_log_warn(MOD, "%s/%s: cannot connect to discovery URL %s: %s", d->ep->pub->device,
                    d->ep->pub->name, d->job->url, ua_status_name(st));
        d->srv_failed = true;
        srv_drop_client(d);
        srv_job_free(d->job);
        d->job = NULL;
    }
}

static void srv_start(opc_disc *d)
{
    const opc_ep_cfg *cfg = d->ep->cfg;
    const char *own = d->ep->pub->address;
    const char *url = cfg->discovery_url && *cfg->discovery_url ? cfg->discovery_url : NULL;

    if (d->srv_running || (!url && !cfg->run_asset_discovery))
        return;
    ua_loop_timer_stop(d->ep->loop, &d->srv_timer);
    d->srv_running = true;
    d->srv_failed = false;
    if (url)
        srv_job_push(d, url, true, NULL);
    if (cfg->run_asset_discovery && own && *own && (!url || strcmp(url, own)))
        srv_job_push(d, own, true, NULL);
    srv_next(d);
}

static void on_srv_timer(void *ctx)
{
    srv_start(ctx);
}

/* ---- the hooks ------------------------------------------------------------------------ */

static opc_disc *disc_get(opc_ep *ep)
{
    opc_disc *d = ep->disc;
    if (d)
        return d;
    d = fp_calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->ep = ep;
    d->batch = BROWSE_BATCH;
    ua_loop_timer_init(&d->walk_timer, on_walk_timer, d);
    ua_loop_timer_init(&d->srv_timer, on_srv_timer, d);
    ua_loop_timer_init(&d->reap_timer, on_reap, d);
    ep->disc = d;
    return d;
}

void opc_discovery_on_connected(opc_ep *ep)
{
    const opc_ep_cfg *cfg = ep->cfg;
    opc_disc *d;

    if (!cfg->run_asset_discovery && !(cfg->discovery_url && *cfg->discovery_url))
        return;
    d = disc_get(ep);
    if (!d)
        return;
    /* A new session: what an older walk asked is of no use now. */
    walk_reset(d);
    d->gen++;
    info_reset(d);
    info_read(d);
}

/* A connect attempt failed (an untrusted certificate, refused credentials...): the
 * servers can still be listed, on a channel without security, which is what an operator
 * needs to see then. One round, then the usual interval. */
void opc_discovery_on_connect_failed(opc_ep *ep)
{
    const opc_ep_cfg *cfg = ep->cfg;
    opc_disc *d;

    if (!cfg || (!cfg->run_asset_discovery && !(cfg->discovery_url && *cfg->discovery_url)))
        return;
    d = disc_get(ep);
    if (!d || d->srv_running || ua_loop_timer_active(&d->srv_timer))
        return;
    srv_start(d);
}

static void disc_destroy(opc_disc *d)
{
    walk_reset(d);
    info_reset(d);
    fp_free(d);
}

void opc_discovery_free(opc_ep *ep)
{
    opc_disc *d = ep->disc;

    if (!d)
        return;
    ep->disc = NULL;
    ua_loop_timer_stop(ep->loop, &d->walk_timer);
    ua_loop_timer_stop(ep->loop, &d->srv_timer);
    ua_loop_timer_stop(ep->loop, &d->reap_timer);
    d->dead = true;
    srv_drop_client(d);
    on_reap(d); /* the callbacks of those clients see d->dead */
    srv_job_free(d->job);
    d->job = NULL;
    while (d->jobs) {
        srv_job *j = d->jobs;
        d->jobs = j->next;
        srv_job_free(j);
    }
    for (size_t i = 0; i < d->n_reported; i++)
        fp_free(d->reported[i]);
    fp_free(d->reported);
    d->reported = NULL;
    d->n_reported = 0;
    /* Answers still due on the endpoint's client free d when the last one arrives. */
    if (d->pending == 0)
        disc_destroy(d);
}
