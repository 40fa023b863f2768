/*
 * fieldplane/connector.h - the connector SDK (libfieldplane-connector).
 *
 * A connector turns one device protocol into MQTT messages. Everything that is not
 * protocol lives in the runtime behind this header: the list + watch of the devices
 * and assets the connector serves, secret resolution, configuration with defaults
 * applied, MQTT 5 publishing with a store-and-forward disk queue, schema inference
 * and registration, status and health, discovery reports, management actions,
 * metrics and clean shutdown.
 *
 * A connector is one static table (fp_connector) and a main() that hands it to
 * fp_connector_main(). See docs/connector-sdk.md and examples/connector-counter/.
 *
 * Threads. The runtime owns every thread. Callbacks for one asset (its datasets,
 * event groups, streams and actions), its sample calls and timer ticks, and those of the
 * endpoint it is on run one at a time, never concurrently with each other: each endpoint
 * and its assets form one "strand" that a pool of worker threads serves in order.
 * Callbacks of different endpoints run in parallel. A callback may block for as long as
 * the device's own timeout (a request, a read, a connect): when every worker is held by a
 * blocked strand and another strand is ready, the pool grows by a thread (up to
 * --max-threads), so one device that hangs delays only its own endpoint, never another.
 * Anything that never ends by itself (a stream held open) belongs in a task
 * (fp_task_start), which runs on its own thread; a task hands work back to its endpoint's
 * strand with fp_endpoint_post(). Non-blocking I/O can instead watch a descriptor
 * (fp_fd_watch), whose readiness runs a callback on the strand. See docs/connector-sdk.md.
 *
 * Ownership. Every object handed to a callback is owned by the runtime and lives
 * until the matching remove callback returns. A connector keeps its own state in the
 * `user` field of each object; it is never touched by the runtime.
 *
 * Versioning. FP_CONNECTOR_ABI is checked by fp_connector_main(); structs grow only at
 * their end.
 */
#ifndef FIELDPLANE_CONNECTOR_H
#define FIELDPLANE_CONNECTOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 2: fp_config_key grew `choices`, so a table of rows built against version 1 has rows of
 * another size; fp_connector grew sampling_key and dataset_sample at its end.
 * 3: fp_connector grew `counters` at its end. */
#define FP_CONNECTOR_ABI 3

typedef struct fp_rt fp_rt; /* the runtime of one connector process */
typedef struct fp_endpoint fp_endpoint;
typedef struct fp_asset fp_asset;
typedef struct fp_dataset fp_dataset;
typedef struct fp_datapoint fp_datapoint;
typedef struct fp_event_group fp_event_group;
typedef struct fp_event fp_event;
typedef struct fp_stream fp_stream;
typedef struct fp_action fp_action;
typedef struct fp_action_req fp_action_req;
typedef struct fp_task fp_task;
typedef struct fp_timer fp_timer;
typedef struct fp_payload fp_payload;
typedef struct fp_fd_watch fp_fd_watch;
typedef struct fp_buf fp_buf; /* fieldplane/fp_buf.h */

/* ---------------------------------------------------------------------------------------
 * Configuration keys
 *
 * A connector describes the keys of the JSON held in the resource model's
 * `...Configuration` strings as rows (as Fluent Bit's config maps). The runtime parses
 * those strings and fills one struct per object, at `offset`, with defaults applied:
 *
 *   endpoint   additionalConfiguration                   -> row default
 *   dataset    datasetConfiguration -> asset defaultDatasetsConfiguration -> row default
 *   datapoint  dataPointConfiguration -> datasetConfiguration
 *              -> asset defaultDatasetsConfiguration -> row default
 *   event group eventGroupConfiguration -> asset defaultEventsConfiguration -> default
 *   event      eventConfiguration -> eventGroupConfiguration
 *              -> asset defaultEventsConfiguration -> row default
 *   stream     streamConfiguration -> asset defaultStreamsConfiguration -> default
 *   action     actionConfiguration -> managementGroupConfiguration
 *              -> asset defaultManagementGroupsConfiguration -> row default
 *
 * `key` may be a dotted path into nested objects ("session.timeoutMilliseconds").
 * An INT key set to -1 in a document means "not set" and falls through to the next
 * level, as in the resource model. A value of the wrong type or out of [min, max] is a
 * configuration error: the object is not started and the error, naming the key, is
 * written to its status. The same rows are the connector's documentation: `--help-config`
 * prints them as text and `--help-config --json` exports them for the web UI's forms and
 * for the check of the docs' key tables (docs/connector-sdk.md), so a key is described once.
 * ------------------------------------------------------------------------------------ */

typedef enum fp_cfg_scope {
    FP_CFG_ENDPOINT = 0,
    FP_CFG_DATASET,
    FP_CFG_DATAPOINT,
    FP_CFG_EVENT_GROUP,
    FP_CFG_EVENT,
    FP_CFG_STREAM,
    FP_CFG_ACTION,
    FP_CFG_SCOPE_COUNT
} fp_cfg_scope;

typedef enum fp_cfg_type {
    FP_CFG_INT = 0, /* int64_t */
    FP_CFG_DOUBLE,  /* double */
    FP_CFG_BOOL,    /* bool */
    FP_CFG_STRING,  /* char * owned by the runtime (NULL when unset and no default) */
    FP_CFG_JSON,    /* json_t * borrowed from the parsed document (NULL when unset) */
} fp_cfg_type;

typedef struct fp_config_key {
    fp_cfg_scope scope;
    fp_cfg_type type;
    const char *key;         /* "samplingIntervalInMilliseconds", "session.timeoutMilliseconds" */
    const char *def;         /* default as text ("1000", "true", "none"); NULL = unset */
    size_t offset;           /* offsetof(your_struct, field) */
    int64_t min, max;        /* INT range; both 0 = unbounded */
    const char *description; /* one line, for --help-config and docs */
    /* The values a STRING key takes, NULL-terminated; NULL: any string. They are offered by
     * --help-config and the web UI. The runtime does not check them: the connector validates
     * the value with the same list, since it may accept more spellings (any case, a security
     * policy's URI); keep the list in one place that both the row and the check name. */
    const char *const *choices;
} fp_config_key;

/* ---------------------------------------------------------------------------------------
 * Counters of the connector's own
 *
 * A connector names the figures it counts per endpoint (requests that timed out, exceptions
 * a device answered) as rows, as it names its configuration keys; the runtime keeps one
 * atomic counter per row and endpoint and shows each in /metrics as
 * fieldplane_connector_<name>_total{connector,endpoint}, with every endpoint's together
 * without the endpoint label. fp_endpoint_count() adds to one, from any thread.
 * ------------------------------------------------------------------------------------ */

#define FP_MAX_COUNTERS 8

typedef struct fp_counter_def {
    const char *name; /* "modbus_timeouts": lowercase letters, digits and '_' */
    const char *help; /* one line, for the # HELP line */
} fp_counter_def;

/* ---------------------------------------------------------------------------------------
 * The objects the runtime hands to callbacks (read-only for the connector, except
 * `user`). Strings are never NULL unless said so.
 * ------------------------------------------------------------------------------------ */

typedef enum fp_auth_method {
    FP_AUTH_ANONYMOUS = 0,
    FP_AUTH_USERNAME_PASSWORD,
    FP_AUTH_CERTIFICATE,
} fp_auth_method;

struct fp_endpoint {
    const char *ns;      /* namespace */
    const char *device;  /* device name */
    const char *name;    /* inbound endpoint name */
    const char *type;    /* endpointType as written ("Microsoft.Http") */
    const char *address; /* address as written */
    const char *source;  /* externalDeviceId, else the device name (CloudEvents source) */
    fp_auth_method auth;
    /* Resolved secrets (NULL when not configured). */
    const char *username;
    const char *password;
    const char *cert_pem;         /* x509Credentials.certificateSecretName */
    const char *key_pem;          /* x509Credentials.keySecretName */
    const char *intermediate_pem; /* x509Credentials.intermediateCertificatesSecretName */
    const char *trust_list_pem;   /* trustSettings.trustList (a secret holding PEM) */
    const json_t *device_doc;     /* the whole device document */
    const json_t *config_json;    /* parsed additionalConfiguration (an object, maybe empty) */
    void *config;                 /* the FP_CFG_ENDPOINT struct, filled from the rows */
    void *user;                   /* the connector's own */
};

struct fp_datapoint {
    fp_dataset *dataset;
    const char *name;
    const char *data_source;
    const char *type_ref; /* NULL when unset */
    const json_t *config_json;
    void *config; /* FP_CFG_DATAPOINT struct */
    void *user;
};

struct fp_dataset {
    fp_asset *asset;
    const char *name;
    const char *data_source; /* "" when unset */
    const char *type_ref;    /* NULL when unset */
    const json_t *config_json;
    void *config; /* FP_CFG_DATASET struct */
    size_t n_points;
    fp_datapoint *points;
    void *user;
};

struct fp_event {
    fp_event_group *group;
    const char *name;
    const char *data_source; /* "" when unset */
    const char *type_ref;
    const json_t *config_json;
    void *config; /* FP_CFG_EVENT struct */
    void *user;
};

struct fp_event_group {
    fp_asset *asset;
    const char *name;
    const char *data_source;
    const char *type_ref;
    const json_t *config_json;
    void *config; /* FP_CFG_EVENT_GROUP struct */
    size_t n_events;
    fp_event *events;
    void *user;
};

struct fp_stream {
    fp_asset *asset;
    const char *name;
    const char *type_ref;
    const json_t *config_json;
    void *config; /* FP_CFG_STREAM struct */
    void *user;
};

struct fp_action {
    fp_asset *asset;
    const char *group; /* management group name */
    const char *name;
    const char *target_uri;  /* targetUri */
    const char *action_type; /* "Call" | "Read" | "Write" */
    const char *topic;       /* request topic (action topic, else the group's defaultTopic) */
    int timeout_s;           /* timeoutInSeconds, else the group's default (100) */
    const json_t *config_json;
    void *config; /* FP_CFG_ACTION struct */
    void *user;
};

struct fp_asset {
    fp_endpoint *endpoint;
    const char *ns;
    const char *name;
    const char *subject; /* externalAssetId, else the asset name (CloudEvents subject) */
    const json_t *doc;   /* the whole asset document */
    /* Arrays of pointers: each child is its own object, so a pointer to it stays valid
     * until its remove (or update) callback returns, whatever happens to its siblings. */
    size_t n_datasets;
    fp_dataset **datasets;
    size_t n_event_groups;
    fp_event_group **event_groups;
    size_t n_streams;
    fp_stream **streams;
    size_t n_actions;
    fp_action **actions;
    void *user;
};

/* ---------------------------------------------------------------------------------------
 * The connector table
 *
 * Updates. An `*_update(new, old)` callback gets a new object that already carries
 * old->user; `old` is freed when the callback returns, so the connector must not keep
 * pointers to it (re-point timers and tasks at `new`). The fp_endpoint and fp_asset
 * objects themselves stay the same across changes of their children. An endpoint's own
 * change is made in place: endpoint_update's `new` is the object endpoint_add got (`old`
 * is a copy of its previous fields), so a pointer to the fp_endpoint (asset->endpoint, as
 * a task holds it for fp_endpoint_post or a health call) stays valid until
 * endpoint_remove returns.
 *
 * Every callback is optional. A callback that returns non-zero has failed: the runtime
 * marks the object Unavailable (with the message set through fp_*_error if any) and
 * retries the add after a back-off. A failed endpoint_update is followed by the removes of
 * the endpoint's children and by endpoint_remove, so the connector's state is released
 * once before that add. When an `*_update` callback is NULL, a change is
 * applied as remove + add of that object only; nothing else restarts.
 *
 * Order: endpoint_add before any of its assets' callbacks; the children of an asset
 * (datasets, then event groups, streams, actions) are added after the endpoint and
 * removed before it. On shutdown everything is removed in reverse order.
 * ------------------------------------------------------------------------------------ */

typedef struct fp_connector {
    int abi;                                /* FP_CONNECTOR_ABI */
    const char *name;                       /* "http": the process is fieldplane-connector-<name> */
    const char *description;                /* one line */
    const char *const *endpoint_types;      /* NULL-terminated; compared case-insensitively */
    const fp_config_key *config;            /* rows, ended by a row with key == NULL */
    size_t config_size[FP_CFG_SCOPE_COUNT]; /* sizeof the struct per scope (0 = none) */

    /* Process-wide; ctx is what fp_rt_user() returns. */
    int (*init)(fp_rt *rt);
    void (*exit)(fp_rt *rt);

    int (*endpoint_add)(fp_endpoint *ep);
    int (*endpoint_update)(fp_endpoint *ep, const fp_endpoint *old);
    void (*endpoint_remove)(fp_endpoint *ep);

    int (*dataset_add)(fp_dataset *ds);
    int (*dataset_update)(fp_dataset *ds, const fp_dataset *old);
    void (*dataset_remove)(fp_dataset *ds);

    int (*event_group_add)(fp_event_group *eg);
    int (*event_group_update)(fp_event_group *eg, const fp_event_group *old);
    void (*event_group_remove)(fp_event_group *eg);

    int (*stream_add)(fp_stream *st);
    int (*stream_update)(fp_stream *st, const fp_stream *old);
    void (*stream_remove)(fp_stream *st);

    int (*action_add)(fp_action *ac);
    void (*action_remove)(fp_action *ac);
    /* A request arrived on the action's topic. Answer it, now or later and from any
     * thread, with fp_action_reply() or fp_action_fail(); the runtime answers a timeout
     * itself when neither came within the action's timeout. */
    void (*action_call)(fp_action *ac, fp_action_req *req);

    /* Sampling owned by the runtime. When both are set, each started dataset whose
     * FP_CFG_DATASET INT row `sampling_key` (milliseconds) is > 0 gets dataset_sample() on
     * its strand every that many ms, the first right after dataset_add (and again after
     * dataset_update, at the new interval). A tick that comes while the previous sample is
     * still running or queued is skipped, never queued, and counted in /metrics
     * (fieldplane_connector_samples_skipped_total). The callback fills `p` (an empty object,
     * see fp_payload_*) and returns 0 to publish it to the dataset's destinations, or
     * non-zero when there is nothing to publish (it set the dataset's health to say why).
     * It may block up to the device's timeout. */
    const char *sampling_key;
    int (*dataset_sample)(fp_dataset *ds, fp_payload *p);

    /* The connector's own per-endpoint counters (see fp_counter_def), ended by a row whose
     * name is NULL; at most FP_MAX_COUNTERS. NULL: none. */
    const fp_counter_def *counters;
} fp_connector;

/* Parse the command line (see --help), connect to the registry and the broker, run until
 * SIGINT/SIGTERM, shut down cleanly. Returns the process exit code. */
int fp_connector_main(const fp_connector *conn, int argc, char **argv);

/* The runtime of the calling process, and a place for the connector's global state. */
fp_rt *fp_rt_get(void);
void *fp_rt_user(fp_rt *rt);
void fp_rt_set_user(fp_rt *rt, void *user);
/* The connector's private data directory (exists; survives restarts). */
const char *fp_rt_data_dir(fp_rt *rt);

/* ---------------------------------------------------------------------------------------
 * Publishing
 *
 * payload is a JSON text (the runtime copies it). The runtime sends it to every
 * destination of the object (its own, else the group's defaults, else the asset's
 * defaults): Mqtt (topic, QoS, retain, message expiry from ttl, CloudEvents user
 * properties), Storage (one line appended to <storage root>/<path>), or
 * BrokerStateStore (a retained message on fieldplane/state/<namespace>/<key>). A QoS 1
 * message is written to the disk queue before this returns and leaves it when the broker
 * acknowledged it. time_iso is the CloudEvents `time` (RFC 3339; NULL = now).
 * Returns 0, or -1 when the message could not be queued (counted and reported in health).
 * Thread-safe.
 * ------------------------------------------------------------------------------------ */
int fp_dataset_publish(fp_dataset *ds, const char *payload, size_t len, const char *time_iso);
int fp_event_publish(fp_event *ev, const char *payload, size_t len, const char *time_iso);
/* An event group whose events are not told apart by the device: to the group's default
 * destinations, subject <asset>/<group>. */
int fp_event_group_publish(fp_event_group *eg, const char *payload, size_t len,
                           const char *time_iso);
int fp_stream_publish(fp_stream *st, const char *payload, size_t len, const char *content_type,
                      const char *time_iso);

/* ---------------------------------------------------------------------------------------
 * The payload builder
 *
 * One JSON object, {"<name>": <value>, ...}, with every name and string value escaped
 * (names and values from the registry and from devices may hold any character; invalid
 * UTF-8 becomes U+FFFD, so the message is always valid JSON). Members keep the order they
 * were added in. The builder has a size limit; once a member does not fit, or memory runs
 * out, every later call fails and fp_payload_text() answers NULL, so a message is never
 * published cut short. Not thread-safe: one builder per thread or strand.
 * Adders return 0, or -1 when the member did not fit (the builder is then failed).
 * ------------------------------------------------------------------------------------ */

/* A new empty builder holding at most max_bytes of text (0: 16 MiB). NULL when out of
 * memory. */
fp_payload *fp_payload_new(size_t max_bytes);
void fp_payload_free(fp_payload *p); /* safe on NULL */
/* Empty it again (and clear a failure), keeping its memory. */
void fp_payload_reset(fp_payload *p);
int fp_payload_add_int(fp_payload *p, const char *name, int64_t v);
/* A non-finite double (NaN, infinity) has no JSON form and is written as null. */
int fp_payload_add_double(fp_payload *p, const char *name, double v);
int fp_payload_add_bool(fp_payload *p, const char *name, bool v);
int fp_payload_add_null(fp_payload *p, const char *name);
/* s[0..len) escaped as a JSON string; len (size_t)-1 means strlen(s). */
int fp_payload_add_string(fp_payload *p, const char *name, const char *s, size_t len);
/* Any jansson value, written compactly. */
int fp_payload_add_json(fp_payload *p, const char *name, const json_t *v);
/* A value that is already JSON text (the caller vouches for it: it is copied as is). */
int fp_payload_add_raw(fp_payload *p, const char *name, const char *json, size_t len);
/* A member whose value the connector writes itself (a protocol's own value encoder): the
 * builder's buffer, positioned after `"name":`, or NULL when the builder failed. Append
 * exactly one JSON value to it, then call fp_payload_member_end(), which checks the buffer
 * (a value that did not fit fails the builder) and returns 0 or -1. */
fp_buf *fp_payload_member_begin(fp_payload *p, const char *name);
int fp_payload_member_end(fp_payload *p);
/* The number of members added. */
size_t fp_payload_count(const fp_payload *p);
/* The finished text ("{...}", NUL-terminated, owned by p until its next change) and its
 * length; NULL when the builder failed (too large, out of memory). */
const char *fp_payload_text(fp_payload *p, size_t *len);
/* fp_dataset_publish of the finished text; -1 when the builder failed. */
int fp_dataset_publish_payload(fp_dataset *ds, fp_payload *p, const char *time_iso);
int fp_event_publish_payload(fp_event *ev, fp_payload *p, const char *time_iso);
/* One JSON string, quotes included, of s[0..len) escaped as above into out (out_size
 * bytes). Returns the length it needs (without the NUL); when that is >= out_size, out
 * holds a truncated, unterminated prefix: call again with more room. */
size_t fp_json_quote(char *out, size_t out_size, const char *s, size_t len);

/* ---------------------------------------------------------------------------------------
 * Status and health
 *
 * Errors are configuration or runtime errors written to `status` by name; health is
 * `{status: Available|Unavailable, reasonCode, message, lastUpdateTime, version}` beside
 * them. The runtime keeps both, writes them to the registry coalesced (at most a few
 * writes per second per resource) and only when they changed. Thread-safe.
 * reason_code is a short stable token such as "Unreachable", "BadJson", "HttpStatus".
 * ------------------------------------------------------------------------------------ */
void fp_endpoint_health(fp_endpoint *ep, bool available, const char *reason_code, const char *fmt,
                        ...) __attribute__((format(printf, 4, 5)));
void fp_dataset_health(fp_dataset *ds, bool available, const char *reason_code, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));
void fp_event_health(fp_event *ev, bool available, const char *reason_code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void fp_event_group_health(fp_event_group *eg, bool available, const char *reason_code,
                           const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void fp_stream_health(fp_stream *st, bool available, const char *reason_code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void fp_action_health(fp_action *ac, bool available, const char *reason_code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A data point's own problem (its node does not exist, its path is missing), shown in
 * the dataset's status by the point's name; NULL fmt clears it. */
void fp_datapoint_error(fp_datapoint *dp, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Add n to the endpoint's counter `counter` (an index into the connector's counters rows;
 * FP_MAX_COUNTERS or more is ignored). Thread-safe, lock-free. */
void fp_endpoint_count(fp_endpoint *ep, unsigned counter, uint64_t n);

/* ---------------------------------------------------------------------------------------
 * Timers and tasks
 * ------------------------------------------------------------------------------------ */

/* Call fn(arg) on the asset's strand every interval_ms (first after first_ms). The timer
 * belongs to the asset: it is cancelled by fp_timer_cancel() or when the asset goes away.
 * A timer that falls behind skips ticks rather than queueing them. */
fp_timer *fp_timer_every(fp_asset *as, uint64_t first_ms, uint64_t interval_ms,
                         void (*fn)(void *arg), void *arg);
/* Cancel; when this returns fn is not running and will not run again. Safe on NULL. */
void fp_timer_cancel(fp_timer *t);

/* The same for endpoint-level work (a keep-alive, a reconnect): fn(arg) on the endpoint's
 * strand. Cancelled by fp_timer_cancel() or when the endpoint goes away. */
fp_timer *fp_endpoint_timer_every(fp_endpoint *ep, uint64_t first_ms, uint64_t interval_ms,
                                  void (*fn)(void *arg), void *arg);
/* Queue fn(arg) on the endpoint's strand, from any thread (a task handing a result back):
 * it runs after what is queued before it, never at the same time as the endpoint's and its
 * assets' callbacks. Returns 0, or -1 when the endpoint is being removed or out of memory
 * (fn will not run). Posting from a task is safe as long as the task is stopped before the
 * endpoint_remove / *_remove callback that owns it returns. */
int fp_endpoint_post(fp_endpoint *ep, void (*fn)(void *arg), void *arg);

/* Watch a descriptor for connectors that do non-blocking I/O: when fd is ready for
 * `events` (FP_FD_READ, FP_FD_WRITE), cb(arg, revents) runs on the endpoint's strand.
 * The watch is one-shot until cb returns: a descriptor that stays ready does not queue a
 * second call behind the first. revents may carry FP_FD_ERROR (error or hang-up). The
 * descriptor stays the connector's; fp_fd_unwatch before closing it. NULL on failure. */
#define FP_FD_READ 0x1u
#define FP_FD_WRITE 0x4u
#define FP_FD_ERROR 0x8u
fp_fd_watch *fp_fd_watch_add(fp_endpoint *ep, int fd, uint32_t events,
                             void (*cb)(void *arg, uint32_t revents), void *arg);
/* Change the events watched. 0, or -1 on failure. */
int fp_fd_watch_modify(fp_fd_watch *w, uint32_t events);
/* Stop watching; when it returns cb is not running (unless called from cb itself) and will
 * not run again. Safe on NULL. */
void fp_fd_unwatch(fp_fd_watch *w);

/* Run fn(task, arg) on a thread of its own (for a stream held open, a blocking read).
 * fn should return soon after fp_task_stopping() becomes true. */
fp_task *fp_task_start(const char *name, void (*fn)(fp_task *t, void *arg), void *arg);
bool fp_task_stopping(const fp_task *t);
/* Sleep up to ms; returns early (true) when the task is being stopped. */
bool fp_task_sleep(fp_task *t, uint64_t ms);
/* Ask the task to stop, wait for fn to return, free it. Safe on NULL. */
void fp_task_stop(fp_task *t);

/* ---------------------------------------------------------------------------------------
 * Management actions
 * ------------------------------------------------------------------------------------ */

/* The request's payload (JSON text, may be empty) and its length. */
const char *fp_action_req_payload(const fp_action_req *req, size_t *len);
/* Answer with a JSON payload (status 200). Frees req; req must not be used after. */
void fp_action_reply(fp_action_req *req, const char *payload, size_t len);
/* Answer an error: http_status (400, 404, 500, 504 ...), a code ("BadNodeIdUnknown") and
 * a message. Frees req. */
void fp_action_fail(fp_action_req *req, int http_status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---------------------------------------------------------------------------------------
 * Discovery
 *
 * Report a discovered device or asset. `properties` is the `properties` object of a
 * DiscoveredDevice / DiscoveredAsset (without discoveryId and version, which the runtime
 * sets). The runtime writes it to the registry under `name` in `ns`; a repeat report with
 * the same content changes nothing, a changed one bumps `version`. Thread-safe; the
 * write happens in the background. Returns 0, or -1 (with a log line saying why) for a
 * name or namespace the registry would refuse (the rules of docs/resource-model.md:
 * discovered names are 3 to 63 lowercase letters, digits and '-', starting and ending
 * with a letter or digit) or properties that are not an object.
 * ------------------------------------------------------------------------------------ */
int fp_discovered_device_report(fp_rt *rt, const char *ns, const char *name,
                                const json_t *properties);
int fp_discovered_asset_report(fp_rt *rt, const char *ns, const char *name,
                               const json_t *properties);

/* A buffer of FP_DISCOVERED_NAME_BUF bytes holds any name fp_discovered_name makes. */
#define FP_DISCOVERED_NAME_BUF 64

/*
 * Make a discovered device or asset name that the registry accepts from what a protocol
 * calls the thing: prefix and text ("press-1", "Temperature Sensor #2") lowercased, every
 * run of other characters one '-', no '-' at either end. With with_hash, or when the result
 * would be too short or too long for the rule, it ends in '-' and 6 hex digits of a hash of
 * key (the thing's stable identity: a node id, a unit id, a serial number), so that two
 * things whose text folds to the same name stay apart. Writes a NUL-terminated name into out
 * (FP_DISCOVERED_NAME_BUF bytes). The rule is the registry's (lib/model), not a copy.
 */
void fp_discovered_name(char out[FP_DISCOVERED_NAME_BUF], const char *prefix, const char *text,
                        const char *key, bool with_hash);

#ifdef __cplusplus
}
#endif
#endif
