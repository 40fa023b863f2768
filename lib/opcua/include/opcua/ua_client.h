/*
 * ua_client.h - the OPC UA client of libfieldplane-opcua: event loop, sessions, services.
 *
 * Everything is non-blocking and runs on one ua_loop (epoll), so that one thread can hold
 * many sessions: a ua_client is one session over one secure channel to one server, and all
 * of a process's clients may share one loop. Service calls take a callback; the *_sync
 * helpers run the loop until their answer is in, for tools and tests.
 *
 * Sections: the event loop; the client (connect, sessions, generic service calls); operations
 * made easy (requests split by OperationLimits, namespace URIs); subscriptions.
 */
#ifndef UA_CLIENT_H
#define UA_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "opcua/ua_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ===================================================================== the event loop */

typedef struct ua_loop ua_loop;

/* A watched socket, embedded in its owner. */
typedef void (*ua_loop_io_cb)(void *ctx, uint32_t events);
typedef struct ua_loop_io {
    int fd;
    uint32_t events;
    ua_loop_io_cb cb;
    void *ctx;
} ua_loop_io;

/* A one-shot timer, embedded in its owner; ua_loop_timer_init before first use. */
typedef void (*ua_loop_timer_cb)(void *ctx);
typedef struct ua_loop_timer {
    uint64_t due_ms;
    size_t heap_index; /* 0: not armed */
    ua_loop_timer_cb cb;
    void *ctx;
} ua_loop_timer;

/* A new loop (NULL on no memory or no epoll); free with ua_loop_free, after every socket
 * and timer on it is gone. */
ua_loop *ua_loop_new(void);
void ua_loop_free(ua_loop *loop);

/* Watch fd for events (EPOLLIN, EPOLLOUT); cb runs on each readiness. 0 or -errno. */
int ua_loop_io_add(ua_loop *loop, ua_loop_io *io, int fd, uint32_t events, ua_loop_io_cb cb,
                   void *ctx);
int ua_loop_io_modify(ua_loop *loop, ua_loop_io *io, uint32_t events);
/* Stop watching (the caller closes the fd); safe from inside any callback. */
void ua_loop_io_remove(ua_loop *loop, ua_loop_io *io);

void ua_loop_timer_init(ua_loop_timer *t, ua_loop_timer_cb cb, void *ctx);
/* Arm (or re-arm) t to fire once after delay_ms. 0 or -ENOMEM. */
int ua_loop_timer_start(ua_loop *loop, ua_loop_timer *t, uint64_t delay_ms);
void ua_loop_timer_stop(ua_loop *loop, ua_loop_timer *t);
bool ua_loop_timer_active(const ua_loop_timer *t);

/* Monotonic milliseconds. */
uint64_t ua_loop_now_ms(void);

/* Wait up to max_wait_ms (-1: until something happens) and dispatch what is ready.
 * Returns the number of events and timers handled, or -errno. */
int ua_loop_run_once(ua_loop *loop, int max_wait_ms);
/* Run until ua_loop_stop (from a callback); 0 or -errno. */
int ua_loop_run(ua_loop *loop);
void ua_loop_stop(ua_loop *loop);
/* Run until *done becomes true; -ETIMEDOUT after timeout_ms. */
int ua_loop_run_until(ua_loop *loop, const bool *done, uint64_t timeout_ms);
/* For running the loop from another event loop: a descriptor (the loop's epoll descriptor,
 * owned by the loop) that is readable whenever ua_loop_run_once(loop, 0) has something to
 * do, a socket event or a due timer. Watch it for reading and call ua_loop_run_once(loop, 0)
 * when it is; nothing else is needed. From the first call on, the loop keeps a timerfd in
 * its epoll set armed at its earliest timer. The descriptor, or -errno when no timerfd can
 * be made. */
int ua_loop_fd(ua_loop *loop);

/* ========================================================================= the client */

typedef struct ua_client ua_client;

typedef enum ua_client_state {
    UA_CLIENT_DISCONNECTED = 0,
    UA_CLIENT_CONNECTING, /* channel, then CreateSession and ActivateSession */
    UA_CLIENT_CONNECTED,  /* session active (or channel open, with no_session) */
} ua_client_state;

/* What a client connects with. Strings are copied by ua_client_new. */
typedef struct ua_client_config {
    /* "None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss" or a full
     * policy URI; NULL means None. */
    const char *security_policy;
    /* 1 None, 2 Sign, 3 SignAndEncrypt (ua_message_security_mode); 0 means None for the None
     * policy and SignAndEncrypt otherwise. */
    int security_mode;
    const char *user;      /* UserName identity when set */
    const char *password;  /* with user */
    const char *cert_file; /* application instance certificate (or X.509 user, see below) */
    const char *key_file;
    bool x509_user;              /* use cert_file/key_file also as the X.509 user identity */
    const char *pki_dir;         /* trust list folder; NULL: a folder under $HOME/.fieldplane/pki */
    bool auto_accept;            /* trust an unknown server certificate (and store it) */
    const char *application_uri; /* NULL: urn:fieldplane:opcua-client */
    const char *application_name; /* NULL: Fieldplane OPC UA client */
    const char *session_name;     /* NULL: the application name */
    uint32_t request_timeout_ms;  /* 0: 10000 */
    uint32_t session_timeout_ms;  /* 0: 60000 */
    uint32_t token_lifetime_ms;   /* 0: 600000 */
    bool no_session;              /* open the secure channel only (discovery services) */
    /* When an established connection is lost: reconnect with backoff, reactivate the session
     * or create a new one and recreate the subscriptions (OPC 10000-4 6.7). The state
     * callback sees the loss and then Good once reconnected. */
    bool reconnect;
    /* The waits between reconnect attempts: the first, doubling up to the longest
     * (0: 250 ms and 10 s). */
    uint32_t reconnect_min_ms;
    uint32_t reconnect_max_ms;
} ua_client_config;

/* Called when a connect attempt ends (status GOOD: usable) and when an established
 * connection is lost (status says why). */
typedef void (*ua_client_state_cb)(ua_client *c, ua_status status, void *ctx);

/* Called once per service call with its outcome: status is the transport error, the
 * ServiceFault's result or the ResponseHeader's serviceResult when it is bad, else Good.
 * response (of the resp_type given, NULL on transport errors) is owned by the client and valid
 * during the call; to keep it, move it out (memcpy, then ua_init the source). */
typedef void (*ua_client_service_cb)(ua_client *c, ua_status status, void *response, void *ctx);

/* A new client on loop; cfg may be NULL for all defaults. NULL on no memory. */
ua_client *ua_client_new(ua_loop *loop, const ua_client_config *cfg);
/* Close the connection (without CloseSession) and free, failing pending calls with
 * BadShutdown. NULL is a no-op. Not from inside the client's own callbacks. */
void ua_client_free(ua_client *c);

/* Start connecting to url; cb reports the outcome (and later a lost connection). Returns
 * Good, BadInvalidState (not disconnected), BadTcpEndpointUrlInvalid, BadOutOfMemory,
 * BadSecurityPolicyRejected, BadNotConnected. */
ua_status ua_client_connect(ua_client *c, const char *url, ua_client_state_cb cb, void *ctx);
/* Connect and wait; the status of the attempt (e.g. BadUserAccessDenied, BadTimeout). */
ua_status ua_client_connect_sync(ua_client *c, const char *url);
/* CloseSession (if any) and close the channel, waiting at most the request timeout. */
void ua_client_disconnect_sync(ua_client *c);

ua_client_state ua_client_get_state(const ua_client *c);
ua_loop *ua_client_loop(const ua_client *c);

/* Send a service request (borrowed: encoded before this returns; its RequestHeader is filled
 * in: token, handle, timestamp, timeout) and call cb with the decoded response of resp_type.
 * Returns Good (cb will be called exactly once), BadNotConnected, BadRequestTooLarge,
 * BadEncodingError, BadOutOfMemory, BadTooManyOperations (4096 calls outstanding already)
 * (cb is not called). */
ua_status ua_client_service(ua_client *c, const void *request, const ua_type *req_type,
                            const ua_type *resp_type, ua_client_service_cb cb, void *ctx);
/* The same, waiting: *response (of resp_type, initialised here) is owned by the caller, who
 * clears it with ua_clear even on failure. */
ua_status ua_client_service_sync(ua_client *c, const void *request, const ua_type *req_type,
                                 void *response, const ua_type *resp_type);

/* Counters for tests and figures. */
typedef struct ua_client_stats {
    uint64_t requests;
    uint64_t responses;
    uint64_t timeouts;
    uint32_t token_renewals;
    uint32_t reconnects;
} ua_client_stats;
void ua_client_get_stats(const ua_client *c, ua_client_stats *out);

/* ============================================================ operations made easy */

/* The server's OperationLimits (0: no limit), read once per session. */
typedef struct ua_operation_limits {
    uint32_t max_nodes_per_read;
    uint32_t max_nodes_per_write;
    uint32_t max_nodes_per_method_call;
    uint32_t max_nodes_per_browse;
    uint32_t max_nodes_per_register_nodes;
    uint32_t max_nodes_per_translate;
    uint32_t max_monitored_items_per_call;
} ua_operation_limits;

/* Read (and cache for the session) the server's OperationLimits. A server that does not
 * expose them gets zeros (no limit). Errors: those of the Read service. */
ua_status ua_client_operation_limits(ua_client *c, ua_operation_limits *out);

/* Read n attributes, split into as many Read calls as the server's MaxNodesPerRead needs.
 * results (n values) are initialised here and owned by the caller (ua_data_value_clear each,
 * even on failure). Returns the first service-level failure; per-node failures are in the
 * results' status. */
ua_status ua_client_read_sync(ua_client *c, const ua_read_value_id *nodes, size_t n,
                              ua_data_value *results);

/* Write n values, split by MaxNodesPerWrite; results (n) receive each status. */
ua_status ua_client_write_sync(ua_client *c, const ua_write_value *nodes, size_t n,
                               ua_status *results);

/* RegisterNodes: the server may hand back faster aliases for nodes used often; split by
 * MaxNodesPerRegisterNodes. registered (n) receive the ids to use, owned by the caller
 * (ua_node_id_clear each). */
ua_status ua_client_register_nodes_sync(ua_client *c, const ua_node_id *nodes, size_t n,
                                        ua_node_id *registered);

/* Browse n nodes (first page of at most max_references each, 0: the server's choice), split
 * by MaxNodesPerBrowse. results (n) are initialised here and owned by the caller
 * (ua_browse_result_clear each, even on failure); a result's continuation point is for the
 * caller to follow with BrowseNext or release. Returns the first service-level failure. */
ua_status ua_client_browse_sync(ua_client *c, const ua_browse_description *nodes, size_t n,
                                uint32_t max_references, ua_browse_result *results);

/* Call n methods, split by MaxNodesPerMethodCall; results (n) as for ua_client_browse_sync
 * (ua_call_method_result_clear each). */
ua_status ua_client_call_sync(ua_client *c, const ua_call_method_request *methods, size_t n,
                              ua_call_method_result *results);

/* TranslateBrowsePathsToNodeIds for n paths, split by MaxNodesPerTranslateBrowsePathsToNodeIds;
 * results (n) as for ua_client_browse_sync (ua_browse_path_result_clear each). */
ua_status ua_client_translate_sync(ua_client *c, const ua_browse_path *paths, size_t n,
                                   ua_browse_path_result *results);

/* FindServers on the connected endpoint; *out is the caller's (ua_clear with
 * UA_TYPE(FIND_SERVERS_RESPONSE)), cleared on failure too. */
ua_status ua_client_find_servers_sync(ua_client *c, ua_find_servers_response *out);

/* Parse a NodeId in any string form; an `nsu=URI;` form is resolved through the server's
 * NamespaceArray (read once per session). *out is the caller's (ua_node_id_clear). Errors:
 * BadNodeIdInvalid, BadNodeIdUnknown (namespace not on the server), those of Read. */
ua_status ua_client_parse_node_id(ua_client *c, const char *z, ua_node_id *out);

/* ==================================================================== subscriptions */

typedef struct ua_subscription ua_subscription;

/* A data change of one monitored item: handle is what ua_subscription_monitor_sync returned
 * for it, item_ctx what the caller gave. value is borrowed for the call. */
typedef void (*ua_data_change_cb)(ua_subscription *s, uint32_t handle, void *item_ctx,
                                  const ua_data_value *value, void *ctx);
/* An event of an event item: fields in the order of the item's select clauses (borrowed). */
typedef void (*ua_event_cb)(ua_subscription *s, uint32_t handle, void *item_ctx,
                            const ua_variant *fields, size_t n_fields, void *ctx);

typedef struct ua_subscription_params {
    double publishing_interval_ms; /* 0: 500 */
    uint32_t max_keepalive_count;  /* 0: 10 */
    uint32_t lifetime_count;       /* 0: 3 x max_keepalive_count x 10 */
    uint32_t max_notifications;    /* per publish; 0: no limit */
    ua_data_change_cb on_data_change;
    ua_event_cb on_event;
    void *ctx;
} ua_subscription_params;

/* One item to monitor. For a data item leave event_fields NULL; for an event item
 * (attribute_id 12, EventNotifier) give the BaseEventType field names to select
 * ("EventType", "Message", "Severity", a namespace-qualified "1:Sequence", or a path of
 * several browse names joined by '/', "EnabledState/Id") and optionally the event type to
 * filter on (where clause OfType). */
typedef struct ua_monitor_item {
    ua_node_id node_id;          /* borrowed */
    uint32_t attribute_id;       /* 0: Value (13) */
    double sampling_interval_ms; /* 0: as fast as the server can; negative: the publishing
                                    interval */
    uint32_t queue_size;         /* 0: 1 */
    bool discard_oldest;
    /* DataChangeFilter: trigger is the wire value plus one (1 Status, 2 StatusValue,
     * 3 StatusValueTimestamp; 0 the default StatusValue), deadband_type 0 None, 1 Absolute,
     * 2 Percent (of the EURange) with deadband_value. With neither a trigger nor a deadband no
     * filter is sent. */
    int trigger;
    int deadband_type;
    double deadband_value;
    const char *const *event_fields;
    size_t n_event_fields;
    const ua_node_id *event_type; /* OfType filter; NULL: none */
    /* The event type each field is selected from (n_event_fields entries); NULL, or an entry
     * that is the null node id (ns 0, i=0), names the field from BaseEventType. */
    const ua_node_id *event_field_types;
    void *ctx;
} ua_monitor_item;

/* Create a subscription and start the publish loop (a few Publish requests are kept
 * outstanding per session). *out is owned by the client: delete it with
 * ua_subscription_delete_sync, or it goes with ua_client_free. Errors: BadNotConnected,
 * the service result, BadOutOfMemory. */
ua_status ua_subscription_create_sync(ua_client *c, const ua_subscription_params *p,
                                      ua_subscription **out);
/* Create n monitored items (split into calls the server accepts); handles[i] receives the
 * handle of item i, results[i] its status (both arrays of n, results may be NULL). Dispatch
 * from a notification to its item is O(1) through the handle. Returns the service status;
 * per-item failures are only in results. */
ua_status ua_subscription_monitor_sync(ua_subscription *s, const ua_monitor_item *items, size_t n,
                                       uint32_t *handles, ua_status *results);
/* Delete on the server and free. */
ua_status ua_subscription_delete_sync(ua_subscription *s);
/* Change the publishing interval and keep-alive count (0 keeps the current value). */
ua_status ua_subscription_modify_sync(ua_subscription *s, double publishing_interval_ms,
                                      uint32_t max_keepalive_count);
/* Delete n monitored items by handle; results (n, may be NULL) get each status
 * (BadMonitoredItemIdInvalid for a handle that is not an item). No data change reaches the
 * callback for them afterwards. */
ua_status ua_subscription_unmonitor_sync(ua_subscription *s, const uint32_t *handles, size_t n,
                                         ua_status *results);
/* ModifyMonitoredItems: give n items (by handle) a new sampling interval (negative: the
 * publishing interval) and, when queue_size is not 0, a new queue size; filters and discard
 * policy stay. results (n, may be NULL) get each status (BadMonitoredItemIdInvalid for a
 * handle that is not an item). What the server accepts is also what a recreated item asks
 * for after a reconnect. Split by MaxMonitoredItemsPerCall. */
ua_status ua_subscription_modify_items_sync(ua_subscription *s, const uint32_t *handles, size_t n,
                                            double sampling_interval_ms, uint32_t queue_size,
                                            ua_status *results);
/* SetMonitoringMode: Disabled (no sampling), Sampling (sampled, not reported) or Reporting
 * for n items by handle; results as for ua_subscription_modify_items_sync. Errors:
 * BadMonitoringModeInvalid, those of the service. */
ua_status ua_subscription_set_monitoring_mode_sync(ua_subscription *s, const uint32_t *handles,
                                                   size_t n, ua_monitoring_mode mode,
                                                   ua_status *results);
ua_client *ua_subscription_client(const ua_subscription *s);

typedef struct ua_subscription_stats {
    uint64_t publish_responses;
    uint64_t keepalives;
    uint64_t data_changes;
    uint64_t events;
    uint64_t republished; /* notification messages recovered with Republish */
    uint64_t lost;        /* sequence numbers the server could no longer republish */
    uint32_t recreated;   /* times recreated on a new session after a reconnect */
    uint32_t transferred; /* times moved to a new session with TransferSubscriptions */
    /* As the server revised it, bounded: NaN, zero or negative keeps what was asked, more than
     * a day (infinity too) counts as a day. */
    double revised_publishing_interval_ms;
} ua_subscription_stats;
void ua_subscription_get_stats(const ua_subscription *s, ua_subscription_stats *out);

#ifdef __cplusplus
}
#endif

#endif
