/*
 * main.c - fieldplane-opcua, a command-line OPC UA client on libfieldplane-opcua.
 *
 * A debugging aid for users and a driver for the system tests: each command connects, does
 * one thing and prints plain lines that scripts can read. It uses only the library's public
 * headers, like curl's tool uses only libcurl.
 *
 *   fieldplane-opcua endpoints URL
 *   fieldplane-opcua read URL NODEID...          one value per line (arrays comma separated),
 *                                                or the status name (BadNodeIdUnknown)
 *   fieldplane-opcua browse URL [NODEID...]      one reference per line: nodeid browsename class
 *   fieldplane-opcua write URL NODEID VALUE      the status name of the write
 *   fieldplane-opcua call URL OBJECTID METHODID [ARG...]   the output arguments, one per line
 *   fieldplane-opcua subscribe URL NODEID...     one line per change: nodeid value
 *
 * Exit status: 0 when everything succeeded, 1 when an operation failed, 2 on usage errors,
 * 3 when the connection or session failed.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fp_alloc.h"
#include "fp_log.h"
#include "opcua/ua_crypto.h"
#include "opcua/ua_nodeid.h"
#include "opcua/ua_nodeids.h"
#include "tool.h"

#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_CONNECT 3

typedef struct tool_opts {
    ua_client_config cfg;
    const char *mode_name;
    tool_sub_opts sub;
    bool find_servers;
    uint32_t sessions;
    bool verbose;
} tool_opts;

/* The text up to the --security-policy line; the policies come from lib/opcua's table. */
static const char usage_head[] =
    "usage: fieldplane-opcua COMMAND URL [ARGS...] [OPTIONS]\n"
    "commands:\n"
    "  endpoints URL                       list the server's endpoints\n"
    "  read URL NODEID...                  print each value (arrays comma separated)\n"
    "  browse URL [NODEID...]              list references (default: the Objects folder)\n"
    "  write URL NODEID VALUE              write a value (type taken from the variable)\n"
    "  call URL OBJECTID METHODID [ARG...] call a method, print its output arguments\n"
    "  translate URL PATH...               resolve START/ns:Name/... browse paths to node ids\n"
    "  subscribe URL NODEID...             print one line per data change\n"
    "options:\n";

static const char usage_tail[] =
    "  --security-mode M     None|Sign|SignAndEncrypt\n"
    "  --user U --password P UserName identity\n"
    "  --cert F --key F      application instance certificate and key (DER/PEM)\n"
    "  --x509-user           also use --cert/--key as the X.509 user identity\n"
    "  --pki DIR             trust list folder\n"
    "  --auto-accept         trust the server's certificate if unknown\n"
    "  --sessions N          read: N concurrent sessions on one event loop\n"
    "  --find-servers        endpoints: list the servers (FindServers) instead\n"
    "  --timeout MS          request timeout (default 10000)\n"
    "  --interval MS         subscribe: sampling and publishing interval (default 250)\n"
    "  --sampling MS         subscribe: sampling interval (default: --interval; 0 fastest)\n"
    "  --queue-size N        subscribe: queue size per item (default 10)\n"
    "  --duration MS         subscribe: stop after MS milliseconds\n"
    "  --count N             subscribe: stop after N changes; browse: list at most N\n"
    "                        references per node (the rest is released on the server)\n"
    "  --trigger T           subscribe: Status|StatusValue|StatusValueTimestamp\n"
    "  --deadband abs:V|pct:V  subscribe: absolute or percent deadband\n"
    "  --event-fields F,...  subscribe: event items selecting these BaseEventType fields\n"
    "  --event-type NODEID   subscribe: only events of this type (OfType)\n"
    "  --stats               subscribe: print counters to stderr at the end\n"
    "  -v, --verbose         print the node id before each read value, log more\n";

static void usage(void)
{
    fputs(usage_head, stderr);
    fputs("  --security-policy P   ", stderr);
    for (int i = 0; ua_policy_uris[i]; i++)
        fprintf(stderr, "%s%s", i ? "|" : "", strrchr(ua_policy_uris[i], '#') + 1);
    fputs("\n", stderr);
    fputs(usage_tail, stderr);
}

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Flush a fp_buf line to stdout. */
static void emit(fp_buf *b)
{
    if (b->err) {
        puts("(value too large to print)");
    } else {
        fwrite(b->data ? b->data : "", 1, b->len, stdout);
        fputc('\n', stdout);
    }
    fflush(stdout);
    fp_buf_reset(b);
}

static int connect_client(ua_loop *loop, tool_opts *o, const char *url, bool no_session,
                          bool reconnect, ua_client **out)
{
    o->cfg.no_session = no_session;
    o->cfg.reconnect = reconnect;
    ua_client *c = ua_client_new(loop, &o->cfg);
    if (!c) {
        fprintf(stderr, "fieldplane-opcua: out of memory\n");
        return EXIT_CONNECT;
    }
    ua_status st = ua_client_connect_sync(c, url);
    if (st) {
        printf("%s\n", ua_status_name(st));
        fprintf(stderr, "fieldplane-opcua: cannot connect to %s: %s (%s)\n", url,
                ua_status_name(st), ua_status_description(st));
        ua_client_free(c);
        return EXIT_CONNECT;
    }
    *out = c;
    return 0;
}

/* ------------------------------------------------------------------------- endpoints */

static const char *mode_name(int mode)
{
    switch (mode) {
    case UA_MESSAGE_SECURITY_MODE_NONE:
        return "None";
    case UA_MESSAGE_SECURITY_MODE_SIGN:
        return "Sign";
    case UA_MESSAGE_SECURITY_MODE_SIGN_AND_ENCRYPT:
        return "SignAndEncrypt";
    default:
        return "Invalid";
    }
}

static const char *token_name(int type)
{
    switch (type) {
    case UA_USER_TOKEN_TYPE_ANONYMOUS:
        return "Anonymous";
    case UA_USER_TOKEN_TYPE_USER_NAME:
        return "UserName";
    case UA_USER_TOKEN_TYPE_CERTIFICATE:
        return "Certificate";
    case UA_USER_TOKEN_TYPE_ISSUED_TOKEN:
        return "IssuedToken";
    default:
        return "?";
    }
}

/* FindServers: one line per server: applicationUri type name discoveryUrl,... */
static int cmd_servers(ua_client *c)
{
    static const char *const types[] = {"Server", "Client", "ClientAndServer", "DiscoveryServer"};
    ua_find_servers_response resp;
    ua_status st = ua_client_find_servers_sync(c, &resp);
    if (st) {
        printf("%s\n", ua_status_name(st));
        ua_find_servers_response_clear(&resp);
        return EXIT_FAILED;
    }
    fp_buf b;
    fp_buf_init(&b, 1u << 20);
    for (size_t i = 0; i < resp.servers_count; i++) {
        const ua_application_description *d = &resp.servers[i];
        ua_print_append(&b, &d->application_uri, UA_TYPE(STRING));
        fp_buf_printf(&b, " %s ",
                      d->application_type >= 0 && d->application_type <= 3
                          ? types[d->application_type]
                          : "?");
        ua_print_append(&b, &d->application_name, UA_TYPE(LOCALIZED_TEXT));
        fp_buf_append_str(&b, " ");
        for (size_t k = 0; k < d->discovery_urls_count; k++) {
            if (k)
                fp_buf_append_str(&b, ",");
            ua_print_append(&b, &d->discovery_urls[k], UA_TYPE(STRING));
        }
        emit(&b);
    }
    fp_buf_clear(&b);
    ua_find_servers_response_clear(&resp);
    return 0;
}

static int cmd_endpoints(ua_client *c, const char *url)
{
    ua_get_endpoints_request req;
    ua_get_endpoints_response resp;
    ua_get_endpoints_request_init(&req);
    req.endpoint_url = ua_string_view(url);
    ua_status st = ua_client_service_sync(c, &req, UA_TYPE(GET_ENDPOINTS_REQUEST), &resp,
                                          UA_TYPE(GET_ENDPOINTS_RESPONSE));
    fp_buf b;
    fp_buf_init(&b, 1u << 20);
    if (st) {
        printf("%s\n", ua_status_name(st));
        ua_get_endpoints_response_clear(&resp);
        return EXIT_FAILED;
    }
    for (size_t i = 0; i < resp.endpoints_count; i++) {
        const ua_endpoint_description *e = &resp.endpoints[i];
        const char *uri = (const char *)e->security_policy_uri.data;
        size_t len = e->security_policy_uri.length;
        const char *hash = uri ? memchr(uri, '#', len) : NULL;
        fp_buf_append(&b, e->endpoint_url.data ? (const char *)e->endpoint_url.data : "",
                      e->endpoint_url.length);
        fp_buf_append_str(&b, " ");
        if (hash)
            fp_buf_append(&b, hash + 1, len - (size_t)(hash + 1 - uri));
        else
            fp_buf_append(&b, uri ? uri : "", len);
        fp_buf_printf(&b, " %s ", mode_name(e->security_mode));
        for (size_t k = 0; k < e->user_identity_tokens_count; k++)
            fp_buf_printf(&b, "%s%s", k ? "," : "",
                          token_name(e->user_identity_tokens[k].token_type));
        fp_buf_printf(&b, " level=%u", e->security_level);
        emit(&b);
    }
    fp_buf_clear(&b);
    ua_get_endpoints_response_clear(&resp);
    return 0;
}

/* ------------------------------------------------------------------------------ read */

static ua_status parse_node_ids(ua_client *c, char **args, size_t n, ua_node_id *ids)
{
    for (size_t i = 0; i < n; i++) {
        ua_status st = ua_client_parse_node_id(c, args[i], &ids[i]);
        if (st) {
            printf("%s\n", ua_status_name(st));
            fprintf(stderr, "fieldplane-opcua: '%s' is not a node id (%s)\n", args[i],
                    ua_status_name(st));
            for (size_t k = 0; k <= i; k++)
                ua_node_id_clear(&ids[k]);
            return st;
        }
    }
    return UA_STATUS_GOOD;
}

/* Read attribute attr of n nodes; *resp is the caller's to clear. */
static ua_status read_nodes(ua_client *c, const ua_node_id *ids, size_t n, uint32_t attr,
                            ua_read_response *resp)
{
    ua_read_request req;
    ua_read_request_init(&req);
    req.timestamps_to_return = UA_TIMESTAMPS_TO_RETURN_NEITHER;
    req.nodes_to_read = ua_array_new(n, UA_TYPE(READ_VALUE_ID));
    if (!req.nodes_to_read)
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    req.nodes_to_read_count = n;
    for (size_t i = 0; i < n; i++) {
        req.nodes_to_read[i].node_id = ids[i]; /* borrowed; detached before clearing */
        req.nodes_to_read[i].attribute_id = attr;
    }
    ua_status st =
        ua_client_service_sync(c, &req, UA_TYPE(READ_REQUEST), resp, UA_TYPE(READ_RESPONSE));
    for (size_t i = 0; i < n; i++)
        memset(&req.nodes_to_read[i].node_id, 0, sizeof(ua_node_id));
    ua_read_request_clear(&req);
    if (!st && resp->results_count != n)
        st = UA_STATUS_BAD_UNEXPECTED_ERROR;
    return st;
}

static int cmd_read(ua_client *c, tool_opts *o, char **args, size_t n)
{
    if (n == 0) {
        usage();
        return EXIT_USAGE;
    }
    ua_node_id *ids = fp_calloc(n, sizeof(*ids));
    ua_status pst = ids ? parse_node_ids(c, args, n, ids) : UA_STATUS_BAD_OUT_OF_MEMORY;
    if (pst) {
        fp_free(ids);
        return pst == UA_STATUS_BAD_NODE_ID_INVALID ? EXIT_USAGE : EXIT_FAILED;
    }
    ua_read_value_id *nodes = fp_calloc(n, sizeof(*nodes));
    ua_data_value *values = fp_calloc(n, sizeof(*values));
    int rc = 0;
    ua_status st = nodes && values ? UA_STATUS_GOOD : UA_STATUS_BAD_OUT_OF_MEMORY;
    for (size_t i = 0; !st && i < n; i++) {
        nodes[i].node_id = ids[i]; /* borrowed */
        nodes[i].attribute_id = UA_ATTR_VALUE;
    }
    if (!st)
        st = ua_client_read_sync(c, nodes, n, values);
    fp_buf b;
    fp_buf_init(&b, 64u << 20);
    if (st) {
        printf("%s\n", ua_status_name(st));
        rc = EXIT_FAILED;
    } else {
        for (size_t i = 0; i < n; i++) {
            const ua_data_value *dv = &values[i];
            if (o->verbose)
                fp_buf_printf(&b, "%s ", args[i]);
            if ((dv->has & UA_DV_STATUS) && ua_status_is_bad(dv->status)) {
                fp_buf_append_str(&b, ua_status_name(dv->status));
                rc = EXIT_FAILED;
            } else {
                ua_print_append(&b, &dv->value, UA_TYPE(VARIANT));
            }
            emit(&b);
        }
    }
    fp_buf_clear(&b);
    for (size_t i = 0; values && i < n; i++)
        ua_data_value_clear(&values[i]);
    fp_free(values);
    fp_free(nodes);
    for (size_t i = 0; i < n; i++)
        ua_node_id_clear(&ids[i]);
    fp_free(ids);
    return rc;
}

/* ---------------------------------------------------------------------------- browse */

static const char *node_class_name(int32_t nc)
{
    switch (nc) {
    case UA_NODE_CLASS_OBJECT:
        return "Object";
    case UA_NODE_CLASS_VARIABLE:
        return "Variable";
    case UA_NODE_CLASS_METHOD:
        return "Method";
    case UA_NODE_CLASS_OBJECT_TYPE:
        return "ObjectType";
    case UA_NODE_CLASS_VARIABLE_TYPE:
        return "VariableType";
    case UA_NODE_CLASS_REFERENCE_TYPE:
        return "ReferenceType";
    case UA_NODE_CLASS_DATA_TYPE:
        return "DataType";
    case UA_NODE_CLASS_VIEW:
        return "View";
    default:
        return "Unspecified";
    }
}

/* Print the references of r, at most *left of them when *left is not SIZE_MAX. */
static void print_references(fp_buf *b, const ua_browse_result *r, size_t *left)
{
    for (size_t k = 0; k<r->references_count && * left> 0; k++) {
        if (*left != SIZE_MAX)
            (*left)--;
        const ua_reference_description *ref = &r->references[k];
        ua_print_append(b, &ref->node_id, UA_TYPE(EXPANDED_NODE_ID));
        fp_buf_append_str(b, " ");
        ua_print_append(b, &ref->browse_name, UA_TYPE(QUALIFIED_NAME));
        fp_buf_printf(b, " %s", node_class_name(ref->node_class));
        emit(b);
    }
}

/* Browse one node forward over hierarchical references, following continuation points. */
/* Tell the server we are done with a continuation point (BrowseNext with release). */
static void release_continuation_point(ua_client *c, ua_bytestring *cp)
{
    ua_browse_next_request next;
    ua_browse_next_response nresp;
    ua_browse_next_request_init(&next);
    next.release_continuation_points = true;
    next.continuation_points = cp;
    next.continuation_points_count = 1;
    ua_client_service_sync(c, &next, UA_TYPE(BROWSE_NEXT_REQUEST), &nresp,
                           UA_TYPE(BROWSE_NEXT_RESPONSE));
    ua_browse_next_response_clear(&nresp);
}

/* Print the first page of one node's references (a result of ua_client_browse_sync, whose
 * continuation point is taken) and follow BrowseNext up to max references. */
static int browse_one(ua_client *c, ua_browse_result *first, fp_buf *b, size_t max)
{
    size_t left = max ? max : SIZE_MAX;
    ua_status st = UA_STATUS_GOOD;
    if (ua_status_is_bad(first->status_code)) {
        printf("%s\n", ua_status_name(first->status_code));
        return EXIT_FAILED;
    }
    print_references(b, first, &left);
    ua_bytestring cp = first->continuation_point;
    memset(&first->continuation_point, 0, sizeof(cp));
    int rounds = 0;
    while (cp.data && cp.length > 0 && rounds++ < 100000 && left > 0) {
        ua_browse_next_request next;
        ua_browse_next_response nresp;
        ua_browse_next_request_init(&next);
        next.continuation_points = &cp;
        next.continuation_points_count = 1;
        st = ua_client_service_sync(c, &next, UA_TYPE(BROWSE_NEXT_REQUEST), &nresp,
                                    UA_TYPE(BROWSE_NEXT_RESPONSE));
        ua_bytestring_clear(&cp);
        if (!st && nresp.results_count != 1)
            st = UA_STATUS_BAD_UNEXPECTED_ERROR;
        if (!st && ua_status_is_bad(nresp.results[0].status_code))
            st = nresp.results[0].status_code;
        if (st) {
            printf("%s\n", ua_status_name(st));
            ua_browse_next_response_clear(&nresp);
            return EXIT_FAILED;
        }
        print_references(b, &nresp.results[0], &left);
        cp = nresp.results[0].continuation_point;
        memset(&nresp.results[0].continuation_point, 0, sizeof(cp));
        ua_browse_next_response_clear(&nresp);
    }
    /* Stopped early: free the server's resources for the rest. */
    if (cp.data && cp.length > 0)
        release_continuation_point(c, &cp);
    ua_bytestring_clear(&cp);
    return 0;
}

static int cmd_browse(ua_client *c, char **args, size_t n, size_t max)
{
    char *objects = "i=85";
    if (n == 0) {
        args = &objects;
        n = 1;
    }
    ua_node_id *ids = fp_calloc(n, sizeof(*ids));
    ua_browse_description *descs = fp_calloc(n, sizeof(*descs));
    ua_browse_result *results = fp_calloc(n, sizeof(*results));
    int rc = 0;
    if (!ids || !descs || !results || parse_node_ids(c, args, n, ids)) {
        rc = EXIT_USAGE;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        descs[i].node_id = ids[i]; /* borrowed */
        descs[i].browse_direction = UA_BROWSE_DIRECTION_FORWARD;
        descs[i].reference_type_id = ua_node_id_numeric(0, UA_NS0ID_HIERARCHICAL_REFERENCES);
        descs[i].include_subtypes = true;
        descs[i].result_mask = UA_BROWSE_RESULT_MASK_ALL;
    }
    /* The first pages of all nodes in as few calls as the server's limits allow. */
    ua_status st = ua_client_browse_sync(c, descs, n, 100, results);
    if (st) {
        printf("%s\n", ua_status_name(st));
        rc = EXIT_FAILED;
    }
    fp_buf b;
    fp_buf_init(&b, 1u << 20);
    for (size_t i = 0; i < n && !st; i++) {
        if (browse_one(c, &results[i], &b, max))
            rc = EXIT_FAILED;
    }
    fp_buf_clear(&b);
    for (size_t i = 0; i < n; i++)
        ua_browse_result_clear(&results[i]);
out:
    for (size_t i = 0; ids && i < n; i++)
        ua_node_id_clear(&ids[i]);
    fp_free(results);
    fp_free(descs);
    fp_free(ids);
    return rc;
}

/* ------------------------------------------------------------------------- translate */

/* One browse path of the form START/ns:Name/ns:Name... (START a node id without '/', empty
 * for the Root folder; a name without "ns:" is in namespace 0) into *p, followed along
 * hierarchical references. Strings of *p are owned (ua_browse_path_clear). */
static ua_status parse_browse_path(ua_client *c, const char *z, ua_browse_path *p)
{
    ua_browse_path_init(p);
    const char *slash = strchr(z, '/');
    if (!slash)
        return UA_STATUS_BAD_BROWSE_NAME_INVALID;
    ua_status st;
    if (slash == z) {
        p->starting_node = ua_node_id_numeric(0, UA_NS0ID_ROOT_FOLDER);
    } else {
        char start[512];
        if ((size_t)(slash - z) >= sizeof(start))
            return UA_STATUS_BAD_NODE_ID_INVALID;
        memcpy(start, z, (size_t)(slash - z));
        start[slash - z] = '\0';
        st = ua_client_parse_node_id(c, start, &p->starting_node);
        if (st)
            return st;
    }
    size_t n = 0;
    for (const char *q = slash; q; q = strchr(q + 1, '/'))
        n++;
    p->relative_path.elements = ua_array_new(n, UA_TYPE(RELATIVE_PATH_ELEMENT));
    if (!p->relative_path.elements)
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    p->relative_path.elements_count = n;
    const char *q = slash + 1;
    for (size_t i = 0; i < n; i++) {
        const char *end = strchr(q, '/');
        size_t len = end ? (size_t)(end - q) : strlen(q);
        ua_relative_path_element *el = &p->relative_path.elements[i];
        el->reference_type_id = ua_node_id_numeric(0, UA_NS0ID_HIERARCHICAL_REFERENCES);
        el->include_subtypes = true;
        const char *colon = memchr(q, ':', len);
        if (colon && colon > q && strspn(q, "0123456789") == (size_t)(colon - q)) {
            el->target_name.ns = (uint16_t)strtoul(q, NULL, 10);
            len -= (size_t)(colon + 1 - q);
            q = colon + 1;
        }
        if (len == 0)
            return UA_STATUS_BAD_BROWSE_NAME_INVALID;
        el->target_name.name.data = fp_malloc(len);
        if (!el->target_name.name.data)
            return UA_STATUS_BAD_OUT_OF_MEMORY;
        memcpy(el->target_name.name.data, q, len);
        el->target_name.name.length = len;
        q = end ? end + 1 : q + len;
    }
    return UA_STATUS_GOOD;
}

/* Resolve each browse path to a node id (all in as few calls as the server allows) and print
 * its first target, or the status of a path that does not resolve. */
static int cmd_translate(ua_client *c, char **args, size_t n)
{
    if (n == 0) {
        usage();
        return EXIT_USAGE;
    }
    ua_browse_path *paths = fp_calloc(n, sizeof(*paths));
    ua_browse_path_result *results = fp_calloc(n, sizeof(*results));
    int rc = 0;
    if (!paths || !results) {
        rc = EXIT_FAILED;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        ua_status st = parse_browse_path(c, args[i], &paths[i]);
        if (st) {
            fprintf(stderr, "fieldplane-opcua: '%s' is not a browse path (%s)\n", args[i],
                    ua_status_name(st));
            rc = EXIT_USAGE;
        }
    }
    if (rc)
        goto out;
    ua_status st = ua_client_translate_sync(c, paths, n, results);
    if (st) {
        printf("%s\n", ua_status_name(st));
        rc = EXIT_FAILED;
    }
    for (size_t i = 0; i < n && !st; i++) {
        const ua_browse_path_result *r = &results[i];
        char id[512];
        if (ua_status_is_bad(r->status_code) || r->targets_count == 0) {
            printf("%s\n",
                   ua_status_name(r->targets_count ? r->status_code : UA_STATUS_BAD_NO_MATCH));
            rc = EXIT_FAILED;
            continue;
        }
        ua_expanded_node_id_print(&r->targets[0].target_id, id, sizeof(id));
        printf("%s\n", id);
    }
out:
    for (size_t i = 0; i < n; i++) {
        if (paths)
            ua_browse_path_clear(&paths[i]);
        if (results)
            ua_browse_path_result_clear(&results[i]);
    }
    fp_free(paths);
    fp_free(results);
    return rc;
}

/* ----------------------------------------------------------------------------- write */

static int cmd_write(ua_client *c, char **args, size_t n)
{
    if (n != 2) {
        usage();
        return EXIT_USAGE;
    }
    ua_node_id id;
    if (parse_node_ids(c, args, 1, &id))
        return EXIT_USAGE;
    /* The current value tells the built-in type and whether it is an array. */
    ua_read_response cur;
    ua_status st = read_nodes(c, &id, 1, 13, &cur);
    if (!st && (cur.results[0].has & UA_DV_STATUS) && ua_status_is_bad(cur.results[0].status))
        st = cur.results[0].status;
    if (!st && !cur.results[0].value.type)
        st = UA_STATUS_BAD_TYPE_MISMATCH;
    ua_write_request req;
    ua_write_response resp;
    ua_write_value wv;
    ua_write_request_init(&req);
    ua_write_response_init(&resp);
    memset(&wv, 0, sizeof(wv));
    if (!st)
        st = tool_parse_variant(&wv.value.value, args[1], cur.results[0].value.type,
                                cur.results[0].value.is_array);
    ua_read_response_clear(&cur);
    if (!st) {
        wv.node_id = id;
        wv.attribute_id = UA_ATTR_VALUE;
        wv.value.has = UA_DV_VALUE;
        req.nodes_to_write = &wv;
        req.nodes_to_write_count = 1;
        st =
            ua_client_service_sync(c, &req, UA_TYPE(WRITE_REQUEST), &resp, UA_TYPE(WRITE_RESPONSE));
        if (!st && resp.results_count != 1)
            st = UA_STATUS_BAD_UNEXPECTED_ERROR;
        if (!st)
            st = resp.results[0];
    }
    printf("%s\n", ua_status_name(st));
    ua_variant_clear(&wv.value.value);
    ua_write_response_clear(&resp);
    ua_node_id_clear(&id);
    return ua_status_is_bad(st) ? EXIT_FAILED : 0;
}

/* ------------------------------------------------------------------------------ call */

/* The InputArguments property of a method: its Argument array (caller clears *out). */
static ua_status method_arguments(ua_client *c, const ua_node_id *method, ua_read_response *out)
{
    ua_translate_browse_paths_to_node_ids_request req;
    ua_translate_browse_paths_to_node_ids_response resp;
    ua_relative_path_element el;
    ua_browse_path path;
    ua_translate_browse_paths_to_node_ids_request_init(&req);
    memset(&el, 0, sizeof(el));
    memset(&path, 0, sizeof(path));
    el.reference_type_id = ua_node_id_numeric(0, UA_NS0ID_HAS_PROPERTY);
    el.target_name.name = ua_string_view("InputArguments");
    path.starting_node = *method;
    path.relative_path.elements = &el;
    path.relative_path.elements_count = 1;
    req.browse_paths = &path;
    req.browse_paths_count = 1;
    ua_init(out, UA_TYPE(READ_RESPONSE));
    ua_status st =
        ua_client_service_sync(c, &req, UA_TYPE(TRANSLATE_BROWSE_PATHS_TO_NODE_IDS_REQUEST), &resp,
                               UA_TYPE(TRANSLATE_BROWSE_PATHS_TO_NODE_IDS_RESPONSE));
    if (!st && resp.results_count != 1)
        st = UA_STATUS_BAD_UNEXPECTED_ERROR;
    if (!st && resp.results[0].status_code == UA_STATUS_BAD_NO_MATCH) {
        /* A method without inputs has no InputArguments property. */
        ua_translate_browse_paths_to_node_ids_response_clear(&resp);
        return UA_STATUS_GOOD;
    }
    if (!st && ua_status_is_bad(resp.results[0].status_code))
        st = resp.results[0].status_code;
    if (!st && resp.results[0].targets_count < 1)
        st = UA_STATUS_BAD_NO_MATCH;
    if (!st)
        st = read_nodes(c, &resp.results[0].targets[0].target_id.node_id, 1, 13, out);
    ua_translate_browse_paths_to_node_ids_response_clear(&resp);
    return st;
}

static int cmd_call(ua_client *c, char **args, size_t n)
{
    if (n < 2) {
        usage();
        return EXIT_USAGE;
    }
    ua_node_id ids[2];
    if (parse_node_ids(c, args, 2, ids))
        return EXIT_USAGE;
    size_t n_in = n - 2;
    ua_read_response argdesc;
    ua_status st = method_arguments(c, &ids[1], &argdesc);
    const ua_variant *av = argdesc.results_count ? &argdesc.results[0].value : NULL;
    size_t n_desc =
        av && av->is_array && av->type == UA_TYPE(EXTENSION_OBJECT) ? av->array_length : 0;
    if (!st && n_desc != n_in) {
        fprintf(stderr, "fieldplane-opcua: the method takes %zu arguments, %zu given\n", n_desc,
                n_in);
        st = UA_STATUS_BAD_ARGUMENTS_MISSING;
    }
    ua_call_method_request m;
    memset(&m, 0, sizeof(m));
    m.object_id = ids[0];
    m.method_id = ids[1];
    if (!st && n_in) {
        m.input_arguments = ua_array_new(n_in, UA_TYPE(VARIANT));
        if (!m.input_arguments)
            st = UA_STATUS_BAD_OUT_OF_MEMORY;
        else
            m.input_arguments_count = n_in;
    }
    const ua_extension_object *eos = av ? ua_variant_data(av) : NULL;
    for (size_t i = 0; !st && i < n_in; i++) {
        const ua_extension_object *eo = &eos[i];
        const ua_argument *a =
            eo->encoding == UA_EO_DECODED && eo->type == UA_TYPE(ARGUMENT) ? eo->data : NULL;
        const ua_type *t = NULL;
        if (a && a->data_type.ns == 0 && a->data_type.id_type == UA_NODEID_NUMERIC)
            t = ua_find_type_by_type_id(a->data_type.id.numeric);
        if (!t || t->kind > UA_KIND_DIAGNOSTICINFO) {
            st = UA_STATUS_BAD_NOT_SUPPORTED;
            break;
        }
        st = tool_parse_variant(&m.input_arguments[i], args[2 + i], t, a->value_rank >= 1);
        if (st)
            fprintf(stderr, "fieldplane-opcua: argument %zu '%s' is not a %s\n", i + 1, args[2 + i],
                    t->name);
    }
    ua_read_response_clear(&argdesc);
    int rc = 0;
    if (!st) {
        ua_call_request req;
        ua_call_response resp;
        ua_call_request_init(&req);
        req.methods_to_call = &m;
        req.methods_to_call_count = 1;
        st = ua_client_service_sync(c, &req, UA_TYPE(CALL_REQUEST), &resp, UA_TYPE(CALL_RESPONSE));
        if (!st && resp.results_count != 1)
            st = UA_STATUS_BAD_UNEXPECTED_ERROR;
        if (!st)
            st = resp.results[0].status_code;
        if (!ua_status_is_bad(st)) {
            fp_buf b;
            fp_buf_init(&b, 64u << 20);
            for (size_t i = 0; i < resp.results[0].output_arguments_count; i++) {
                ua_print_append(&b, &resp.results[0].output_arguments[i], UA_TYPE(VARIANT));
                emit(&b);
            }
            fp_buf_clear(&b);
        }
        ua_call_response_clear(&resp);
    }
    if (ua_status_is_bad(st)) {
        printf("%s\n", ua_status_name(st));
        rc = EXIT_FAILED;
    }
    ua_array_free(m.input_arguments, m.input_arguments_count, UA_TYPE(VARIANT));
    ua_node_id_clear(&ids[0]);
    ua_node_id_clear(&ids[1]);
    return rc;
}

/* ------------------------------------------------------------------------------ main */

static int parse_mode(const char *z)
{
    if (!strcmp(z, "None"))
        return UA_MESSAGE_SECURITY_MODE_NONE;
    if (!strcmp(z, "Sign"))
        return UA_MESSAGE_SECURITY_MODE_SIGN;
    if (!strcmp(z, "SignAndEncrypt"))
        return UA_MESSAGE_SECURITY_MODE_SIGN_AND_ENCRYPT;
    return -1;
}

static bool parse_u32(const char *z, uint32_t *out)
{
    char *end;
    unsigned long v = strtoul(z, &end, 10);
    if (end == z || *end || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"security-policy", required_argument, NULL, 'P'},
        {"security-mode", required_argument, NULL, 'M'},
        {"user", required_argument, NULL, 'u'},
        {"password", required_argument, NULL, 'p'},
        {"cert", required_argument, NULL, 'c'},
        {"key", required_argument, NULL, 'k'},
        {"x509-user", no_argument, NULL, 'X'},
        {"pki", required_argument, NULL, 'K'},
        {"auto-accept", no_argument, NULL, 'A'},
        {"timeout", required_argument, NULL, 't'},
        {"interval", required_argument, NULL, 'i'},
        {"queue-size", required_argument, NULL, 'q'},
        {"sampling", required_argument, NULL, 's'},
        {"duration", required_argument, NULL, 'd'},
        {"count", required_argument, NULL, 'n'},
        {"trigger", required_argument, NULL, 'T'},
        {"deadband", required_argument, NULL, 'D'},
        {"event-fields", required_argument, NULL, 'E'},
        {"event-type", required_argument, NULL, 'Y'},
        {"stats", no_argument, NULL, 'S'},
        {"find-servers", no_argument, NULL, 'F'},
        {"sessions", required_argument, NULL, 'N'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    tool_opts o;
    memset(&o, 0, sizeof(o));
    o.sub.interval_ms = 250;
    o.sub.queue_size = 10;
    o.sub.sampling_ms = -1;
    int ch;
    while ((ch = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'P':
            o.cfg.security_policy = optarg;
            break;
        case 'M':
            o.cfg.security_mode = parse_mode(optarg);
            if (o.cfg.security_mode < 0) {
                fprintf(stderr, "fieldplane-opcua: unknown security mode '%s'\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'u':
            o.cfg.user = optarg;
            break;
        case 'p':
            o.cfg.password = optarg;
            break;
        case 'c':
            o.cfg.cert_file = optarg;
            break;
        case 'k':
            o.cfg.key_file = optarg;
            break;
        case 'X':
            o.cfg.x509_user = true;
            break;
        case 'K':
            o.cfg.pki_dir = optarg;
            break;
        case 'A':
            o.cfg.auto_accept = true;
            break;
        case 't':
        case 'i':
        case 'q':
        case 's':
        case 'd':
        case 'n':
        case 'N': {
            uint32_t v;
            if (!parse_u32(optarg, &v)) {
                fprintf(stderr, "fieldplane-opcua: '%s' is not a number\n", optarg);
                return EXIT_USAGE;
            }
            if (ch == 't')
                o.cfg.request_timeout_ms = v;
            else if (ch == 'i')
                o.sub.interval_ms = v;
            else if (ch == 'q')
                o.sub.queue_size = v;
            else if (ch == 's')
                o.sub.sampling_ms = v;
            else if (ch == 'd')
                o.sub.duration_ms = v;
            else if (ch == 'N')
                o.sessions = v;
            else
                o.sub.count = v;
            break;
        }
        case 'T':
            o.sub.trigger = !strcmp(optarg, "Status")                 ? 1
                            : !strcmp(optarg, "StatusValue")          ? 2
                            : !strcmp(optarg, "StatusValueTimestamp") ? 3
                                                                      : -1;
            if (o.sub.trigger < 0) {
                fprintf(stderr, "fieldplane-opcua: unknown trigger '%s'\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'D': {
            /* abs:VALUE or pct:VALUE */
            char *end;
            if (!strncmp(optarg, "abs:", 4))
                o.sub.deadband_type = 1;
            else if (!strncmp(optarg, "pct:", 4))
                o.sub.deadband_type = 2;
            o.sub.deadband_value = o.sub.deadband_type ? strtod(optarg + 4, &end) : 0;
            if (!o.sub.deadband_type || end == optarg + 4 || *end) {
                fprintf(stderr, "fieldplane-opcua: --deadband takes abs:VALUE or pct:VALUE\n");
                return EXIT_USAGE;
            }
            break;
        }
        case 'E':
            o.sub.event_fields = optarg;
            break;
        case 'Y':
            o.sub.event_type = optarg;
            break;
        case 'S':
            o.sub.stats = true;
            break;
        case 'F':
            o.find_servers = true;
            break;
        case 'v':
            o.verbose = true;
            fp_log_set_level(FP_LOG_DEBUG);
            break;
        case 'h':
            usage();
            return 0;
        default:
            usage();
            return EXIT_USAGE;
        }
    }
    if (argc - optind < 2) {
        usage();
        return EXIT_USAGE;
    }
    const char *cmd = argv[optind];
    const char *url = argv[optind + 1];
    char **args = argv + optind + 2;
    size_t n_args = (size_t)(argc - optind - 2);
    if (strcmp(cmd, "endpoints") && strcmp(cmd, "read") && strcmp(cmd, "browse") &&
        strcmp(cmd, "write") && strcmp(cmd, "call") && strcmp(cmd, "subscribe") &&
        strcmp(cmd, "translate")) {
        fprintf(stderr, "fieldplane-opcua: unknown command '%s'\n", cmd);
        usage();
        return EXIT_USAGE;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    ua_loop *loop = ua_loop_new();
    if (!loop) {
        fprintf(stderr, "fieldplane-opcua: cannot create the event loop\n");
        return EXIT_CONNECT;
    }
    if (o.sessions > 1 && !strcmp(cmd, "read")) {
        int src = tool_cmd_read_sessions(loop, &o.cfg, url, args, n_args, o.sessions);
        ua_loop_free(loop);
        return src;
    }
    ua_client *c = NULL;
    int rc =
        connect_client(loop, &o, url, !strcmp(cmd, "endpoints"), !strcmp(cmd, "subscribe"), &c);
    if (rc) {
        ua_loop_free(loop);
        return rc;
    }
    if (!strcmp(cmd, "endpoints"))
        rc = o.find_servers ? cmd_servers(c) : cmd_endpoints(c, url);
    else if (!strcmp(cmd, "read"))
        rc = cmd_read(c, &o, args, n_args);
    else if (!strcmp(cmd, "browse"))
        rc = cmd_browse(c, args, n_args, o.sub.count);
    else if (!strcmp(cmd, "write"))
        rc = cmd_write(c, args, n_args);
    else if (!strcmp(cmd, "call"))
        rc = cmd_call(c, args, n_args);
    else if (!strcmp(cmd, "translate"))
        rc = cmd_translate(c, args, n_args);
    else
        rc = tool_cmd_subscribe(c, args, n_args, &o.sub, &stop_requested);
    ua_client_disconnect_sync(c);
    ua_client_free(c);
    ua_loop_free(loop);
    return rc;
}
