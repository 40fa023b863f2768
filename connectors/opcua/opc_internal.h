/*
 * opc_internal.h - the OPC UA connector (fieldplane-connector-opcua): shared internals.
 *
 * The connector serves device endpoints of type Microsoft.OpcUa. Each endpoint owns a
 * ua_loop and one ua_client (one session) and has no thread of its own: everything that
 * touches them runs on the endpoint's strand, the runtime's guarantee that no two callbacks
 * of the endpoint and its assets run at once. The runtime watches the loop's descriptor and
 * runs a pass of the loop on the strand when it is readable (opc_ep.c); the dataset, event
 * group and action callbacks call into the client directly and end with opc_ep_settle. Data
 * changes and events arrive from the client during those passes (or nested in a *_sync call)
 * and are published with the fp_*_publish calls.
 *
 * Files:
 *   opcua.c          the connector table, configuration rows, endpoint callbacks, main()
 *   opc_ep.c         the endpoint: its loop on the strand, connect with back-off, security and
 *                    identity, trust list, subscriptions shared by publishing interval
 *   opc_data.c       datasets: monitored items, one message per publish, key frames, point errors
 *   opc_events.c     event groups: event items with EventFilters from select clauses
 *   opc_actions.c    management actions: Call, Read, Write
 *   opc_discovery.c  asset discovery by browsing; server discovery (FindServers, GetEndpoints)
 *   opc_json.c       OPC UA values <-> JSON (pure; library fpuaconn, fuzzed)
 *   opc_trust.c      `fieldplane-connector-opcua trust add|list|remove`
 *
 * Lifetimes: an fp_dataset / fp_event_group passed to the connector is valid until its
 * remove callback returns; the remove callbacks delete its items and drop every reference to
 * it before they return, and nothing of the endpoint runs between two strand callbacks.
 */
#ifndef OPC_INTERNAL_H
#define OPC_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <fieldplane/connector.h>

#include <fieldplane/fp_buf.h>
#include "opcua/ua_client.h"
#include "opcua/ua_pki.h"

/* ---- configuration structs (filled by the runtime from the rows in opcua.c) ---------- */

typedef struct opc_ep_cfg {
    char *application_name;        /* applicationName */
    int64_t keep_alive_ms;         /* keepAliveMilliseconds (10000) */
    int64_t def_publishing_ms;     /* defaults.publishingIntervalMilliseconds (1000) */
    int64_t def_sampling_ms;       /* defaults.samplingIntervalMilliseconds (1000) */
    int64_t def_queue_size;        /* defaults.queueSize (1) */
    int64_t def_key_frame_count;   /* defaults.keyFrameCount (0) */
    int64_t session_timeout_ms;    /* session.timeoutMilliseconds (60000) */
    int64_t session_keepalive_ms;  /* session.keepAliveIntervalMilliseconds (10000) */
    int64_t reconnect_period_ms;   /* session.reconnectPeriodMilliseconds (2000) */
    int64_t reconnect_backoff_ms;  /* session.reconnectExponentialBackOffMilliseconds (10000) */
    int64_t sub_max_items;         /* subscription.maxItems (1000) */
    int64_t sub_lifetime_ms;       /* subscription.lifeTimeMilliseconds (60000) */
    bool auto_accept;              /* security.autoAcceptUntrustedServerCertificates */
    char *security_policy;         /* security.securityPolicy (URI or short name; NULL None) */
    char *security_mode;           /* security.securityMode none|sign|signAndEncrypt */
    bool run_asset_discovery;      /* runAssetDiscovery */
    char *discovery_start_node;    /* discovery.startNode (i=85, the Objects folder) */
    int64_t discovery_max_depth;   /* discovery.maxDepth (4) */
    int64_t discovery_max_nodes;   /* discovery.maxNodes (2000) */
    int64_t discovery_interval_ms; /* discovery.intervalMilliseconds (300000) */
    char *discovery_url;           /* discovery.discoveryUrl: list servers there (NULL: none) */
} opc_ep_cfg;

typedef struct opc_ds_cfg {
    int64_t publishing_ms;   /* publishingInterval (-1: endpoint default) */
    int64_t sampling_ms;     /* samplingInterval */
    int64_t queue_size;      /* queueSize */
    int64_t key_frame_count; /* keyFrameCount (-1 endpoint default, 0 off, n) */
} opc_ds_cfg;

typedef struct opc_dp_cfg {
    int64_t sampling_ms; /* samplingInterval (-1: dataset's) */
    int64_t queue_size;  /* queueSize (-1: dataset's) */
} opc_dp_cfg;

typedef struct opc_ev_cfg {
    int64_t publishing_ms; /* publishingInterval */
    int64_t queue_size;    /* queueSize */
    json_t *event_filter;  /* eventFilter {typeDefinitionId, selectClauses[]} (borrowed) */
} opc_ev_cfg;

/* The values security.securityMode takes (NULL-terminated): the rows in opcua.c offer them and
 * settings_load in opc_ep.c accepts exactly these, in any case. They are in the order of OPC
 * UA's MessageSecurityMode: index + 1 is its value (1 None, 2 Sign, 3 SignAndEncrypt). The
 * policies are lib/opcua's own list, ua_policy_uris (URIs, as Azure IoT Operations writes
 * them; a policy is accepted by the name after '#' too). */
extern const char *const opc_security_modes[];

/* ---- the endpoint -------------------------------------------------------------------- */

typedef struct opc_ep opc_ep;
typedef struct opc_sub opc_sub;

/* What a monitored item's notifications are routed to (the item's ctx). */
typedef enum opc_item_kind { OPC_ITEM_DATA = 0, OPC_ITEM_EVENT } opc_item_kind;
typedef struct opc_item_ref {
    void *owner;    /* opc_data's dataset state or opc_events' event state */
    uint32_t index; /* data point index, or event index (16 bytes: one per monitored item) */
    uint8_t kind;   /* opc_item_kind */
} opc_item_ref;

struct opc_sub {
    opc_ep *ep;
    ua_subscription *sub; /* NULL until created on the server */
    double publishing_ms;
    size_t n_items; /* monitored items on it (<= max items) */
    opc_sub *next;
};

struct opc_ep {
    fp_endpoint *pub;
    const opc_ep_cfg *cfg;
    ua_loop *loop;
    fp_fd_watch *watch; /* the loop's descriptor, watched on the strand */
    ua_client *client;
    bool connected; /* session usable */
    bool ever_connected;
    char last_error[256];
    /* the model (on the strand, like everything here) */
    opc_sub *subs;
    struct opc_ds *datasets;     /* opc_data.c */
    struct opc_eg *event_groups; /* opc_events.c */
    struct opc_disc *disc;       /* opc_discovery.c */
    char pki_dir[512];
    uint64_t connects;        /* sessions established (first connect and reconnects) */
    char user_cert_file[600]; /* Certificate authentication: the secrets written 0600 */
    char user_key_file[600];
};

/* Act on what the loop recorded while the calling strand callback ran it (directly, or
 * nested in a *_sync call): a session that came up or went, a connect retry that is due, and
 * one message per changed dataset. Every strand callback that touches the client ends with
 * it; never call it from a client callback (it may run *_sync calls itself). */
void opc_ep_settle(opc_ep *ep);

/* A subscription at publishing_ms with room for n more items (creating one as needed,
 * bounded by subscription.maxItems); NULL when not connected or the server refused (err
 * says why). */
opc_sub *opc_sub_get(opc_ep *ep, double publishing_ms, size_t n, char *err, size_t err_len);
/* n items were removed from sub; an empty subscription is deleted. */
void opc_sub_release(opc_ep *ep, opc_sub *sub, size_t n);

/* Parse a node id in any string form users write (i=, s=, g=, b=, ns=, nsu=) through the
 * session (nsu= needs the server's namespace table). */
ua_status opc_parse_node_id(opc_ep *ep, const char *z, ua_node_id *out);

/* Hooks opc_ep.c calls on the strand (each module implements its own). */
void opc_data_on_connected(opc_ep *ep); /* (re)create items of datasets not yet on the server */
void opc_data_on_lost(opc_ep *ep, const char *why);
void opc_data_on_change(opc_ep *ep, opc_item_ref *ref, const ua_data_value *v);
void opc_data_flush(opc_ep *ep); /* in opc_ep_settle: one message per changed dataset */
void opc_data_free_all(opc_ep *ep);
void opc_events_on_connected(opc_ep *ep);
void opc_events_on_lost(opc_ep *ep, const char *why);
void opc_events_on_event(opc_ep *ep, opc_item_ref *ref, const ua_variant *fields, size_t n);
void opc_events_free_all(opc_ep *ep);
/* The client is being replaced (endpoint_update with new settings): every subscription
 * went with it, and each opc_sub left has sub == NULL. opc_data releases its items
 * (opc_sub_release frees such an opc_sub once nothing holds it); a module that keeps an
 * item whose opc_sub has sub == NULL in its on_connected creates the item anew. */
void opc_data_on_reset(opc_ep *ep);
void opc_discovery_on_connected(opc_ep *ep);
void opc_discovery_on_connect_failed(opc_ep *ep); /* servers listed without a session */
void opc_discovery_free(opc_ep *ep);

/* ---- the connector's callbacks (table in opcua.c) ------------------------------------- */
int opc_endpoint_add(fp_endpoint *ep); /* opc_ep.c */
int opc_endpoint_update(fp_endpoint *ep, const fp_endpoint *old);
void opc_endpoint_remove(fp_endpoint *ep);
int opc_dataset_add(fp_dataset *ds);
int opc_dataset_update(fp_dataset *ds, const fp_dataset *old);
void opc_dataset_remove(fp_dataset *ds);
int opc_event_group_add(fp_event_group *eg);
int opc_event_group_update(fp_event_group *eg, const fp_event_group *old);
void opc_event_group_remove(fp_event_group *eg);
void opc_action_call(fp_action *ac, fp_action_req *req);

/* ---- opc_trust.c: `fieldplane-connector-opcua trust add|list|remove [--data DIR] ...`;
 * main() in opcua.c calls it when argv[1] is "trust". Returns the exit code. */
int opc_trust_main(int argc, char **argv);
/* The connector's own application instance certificate in pki_dir/own, made when missing
 * (ApplicationUri urn:fieldplane:opcua-client, this host's name). The caller frees both. */
uint32_t opc_own_certificate(const char *pki_dir, ua_cert **cert, ua_key **key);

/* ---- opc_json.c: values <-> JSON (pure, no client) ------------------------------------ */

/* Nesting (arrays, objects, Variants, ExtensionObjects) opc_json_variant and
 * opc_json_data_value write at most; a deeper value fails with FP_ERR_TOO_LARGE and the
 * buffer is left as it was (also on FP_ERR_NOMEM). The mapping of every type, both ways,
 * is in docs/connector-opcua-values.md. */
#define OPC_JSON_MAX_DEPTH 32

/* Append v as JSON: numbers (Int64/UInt64 as numbers when exact in a double, else strings),
 * strings, booleans, DateTime as RFC 3339 UTC, ByteString as base64, Guid as text, NodeId
 * and ExpandedNodeId in string form, StatusCode as its name, QualifiedName "ns:name",
 * LocalizedText as its text, arrays (and matrices as nested arrays), decoded structures as
 * objects by member name, enumerations as their number, undecoded ExtensionObjects as
 * {"TypeId", "Body" (base64)}. Returns FP_OK or the fp_buf error. */
int opc_json_variant(fp_buf *b, const ua_variant *v);
/* {"SourceTimestamp": "...", "Value": ...} plus "StatusCode": {"Code", "Symbol"} when the
 * status is not Good. */
int opc_json_data_value(fp_buf *b, const ua_data_value *dv);
/* RFC 3339 with milliseconds, UTC; "" for 0. (Also "" for negative values; instants
 * after 9999-12-31T23:59:59Z, INT64_MAX included, print as that instant.) */
void opc_json_datetime(char out[40], ua_datetime t);
/* Convert a JSON value to a variant of the built-in type `kind` (UA_KIND_*; arrays when
 * the JSON is an array and value_rank allows it). err names what did not fit. 0 or -1. */
/* (out is overwritten, not cleared first, and is empty after -1; the caller clears it
 * with ua_clear(out, UA_TYPE(VARIANT)). Kinds Boolean to LocalizedText except
 * ExtensionObject-like ones, and UA_KIND_ENUM as its Int32. Array element errors start
 * "element <i>: ".) */
int opc_json_to_variant(const json_t *j, uint8_t kind, bool array, ua_variant *out, char *err,
                        size_t err_len);

#endif
