/*
 * rt_internal.h - the private side of the connector runtime's objects.
 *
 * Internal to libfieldplane-connector. Every public object of connector.h is the first
 * member of a private wrapper (container_of with RT_OF), which holds what the runtime
 * needs beside it: the inputs it was built from (rt_canon, for diffs), the resolved
 * destinations and CloudEvents attributes (rt_out), error and health state.
 *
 * Split of the runtime into files:
 *   rt_main.c      fp_connector_main: flags, start, signals, shutdown
 *   rt_model.c     the objects' lifecycle: endpoints, assets, the child kinds' table, diffs,
 *                  retries, runtime-owned sampling
 *   rt_build.c     building the children from an asset document, schema names, destinations
 *   rt_config.c    configuration rows filled from the ...Configuration strings
 *   rt_secrets.c   secret references resolved through the registry
 *   rt_payload.c   the payload builder
 *   rt_sync.c      list + watch of the registry, resume, relist on 410
 *   rt_exec.c      strands, the worker pool that grows for blocked work, timers, descriptor
 *                  watches, endpoint posts, tasks
 *   rt_publish.c   destinations, CloudEvents, Storage, BrokerStateStore, schemas
 *   rt_status.c    errors and health, coalesced status writes
 *   rt_actions.c   management action requests and replies over MQTT 5
 *   rt_discovery.c discovered devices and assets
 *   rt_ops.c       /metrics and /healthz
 *
 * Locking. rt->lock guards the lists of endpoints and assets. Each rt_asset has its own
 * lock, held while its children arrays are changed (on its strand) and while the status
 * writer reads them. Each rt_out has a lock for its error/health/schema state, taken
 * briefly by publish and status calls from any thread. Never take rt->lock while holding
 * an asset or out lock.
 */
#ifndef RT_INTERNAL_H
#define RT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fieldplane/connector.h"
#include "fp_buf.h"
#include "fpc_mqtt.h"
#include "fpc_registry.h"
#include "fpc_schema.h"

#define RT_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ---- destinations and output state ---------------------------------------------------- */

typedef enum rt_dest_target { RT_DEST_MQTT = 0, RT_DEST_STORAGE, RT_DEST_BSS } rt_dest_target;

typedef struct rt_dest {
    rt_dest_target target;
    char *topic; /* Mqtt: topic; BrokerStateStore: fieldplane/state/<ns>/<key> */
    int qos;     /* 0 or 1 (Qos1 default) */
    bool retain; /* Keep = true; BrokerStateStore always true */
    uint32_t ttl_s;
    char *path; /* Storage: absolute path under the storage root */
    char *key;  /* BrokerStateStore: the key; topic is built per message from the namespace */
} rt_dest;

typedef struct rt_health {
    bool set; /* reported at least once */
    bool available;
    bool by_runtime; /* set by the runtime itself (publish failures), cleared by it on success */
    char reason[64];
    char message[512];
    char time[40];   /* lastUpdateTime, RFC 3339 */
    int64_t version; /* +1 on each change */
} rt_health;

typedef struct rt_error {
    bool set;
    char code[64];
    char message[512];
} rt_error;

/* What one publishing object (dataset, event, event group, stream) needs to publish. */
typedef struct rt_out {
    pthread_mutex_t lock;
    fp_rt *rt;
    size_t n_dests;
    rt_dest *dests;
    char *type;             /* CloudEvents type: "DataSet[/typeRef]", "Event[/typeRef]", "Stream" */
    char *source;           /* "ms-aio:<device source>[/<dataSource>]" */
    char *subject;          /* "<asset subject>/<dataset>" or "<asset>/<group>[/<event>]" */
    char *schema_name;      /* registry schema name for this message (NULL for streams) */
    fpc_schema *schema;     /* inference state (NULL for streams) */
    uint64_t n_seen;        /* messages published */
    int64_t schema_version; /* 0 until registered */
    char *dataschema;       /* "aio-sr://<ns>/<schema>:<version>" or NULL */
    bool schema_dirty;      /* schema text changed, registration pending */
    rt_error error;         /* configuration or runtime error */
    rt_health health;
    uint64_t published, failed; /* per object counters */
} rt_out;

/* ---- objects ---------------------------------------------------------------------------- */

typedef struct rt_asset rt_asset;
typedef struct rt_endpoint rt_endpoint;

/* The inputs of a child object, for diffs: equal inputs (json_equal, strcmp) mean the
 * object is left alone. References into the asset document; json null when absent. */
typedef struct rt_canon {
    json_t *self;      /* the child's element of the document */
    json_t *def_cfg;   /* the asset's default...Configuration of its kind */
    json_t *def_dests; /* the asset's default...Destinations, NULL for actions */
    json_t *extra;     /* actions: their group without its actions; else NULL */
    char names[];      /* the asset's subject, NUL, the endpoint's source, NUL */
} rt_canon;

typedef struct rt_dataset {
    fp_dataset pub;
    rt_canon *canon; /* the inputs (dataset + asset defaults) for diffs */
    rt_out out;
    /* n_points entries, by index of pub.points; each NULL until that point has an error
     * (an rt_error is 577 bytes, and most points never have one). */
    rt_error **point_errors;
    char *point_cfgs;       /* the points' config structs, one block (pub.points[i].config) */
    bool started;           /* dataset_add succeeded */
    fp_timer *sample_timer; /* the runtime's sampling (dataset_sample), or NULL */
    fp_payload *payload;    /* the builder handed to dataset_sample (on the strand) */
    bool cfg_bad;           /* configuration error: never started until it changes */
    json_t *json;           /* this dataset's element of the asset document (a reference) */
    json_t *keep;           /* references the parsed configurations and configs borrow */
} rt_dataset;

typedef struct rt_event_group {
    fp_event_group pub;
    rt_canon *canon;
    rt_out out;     /* the group's own output (fp_event_group_publish) */
    rt_out *ev_out; /* n_events entries, by index of pub.events */
    bool started;
    bool cfg_bad;
    json_t *json;
    json_t *keep;
} rt_event_group;

typedef struct rt_stream {
    fp_stream pub;
    rt_canon *canon;
    rt_out out;
    bool started;
    bool cfg_bad;
    json_t *json;
    json_t *keep;
} rt_stream;

typedef struct rt_action {
    fp_action pub;
    rt_canon *canon;
    rt_error error;
    rt_health health;
    pthread_mutex_t lock; /* error and health */
    bool started;
    bool subscribed;
    bool cfg_bad;
    json_t *json; /* the action's element of the asset document */
    json_t *keep; /* the management group and parsed configurations */
    char *key;    /* "<group>/<action>": identity for diffs */
} rt_action;

struct rt_asset {
    fp_asset pub;
    pthread_mutex_t lock; /* children arrays; held by the status writer while reading */
    rt_endpoint *ep;
    json_t *doc;           /* owned; pub.doc points here */
    int64_t version;       /* properties.version */
    rt_error config_error; /* status.config.error */
    atomic_bool status_dirty;
    bool status_forgotten; /* rt_status_asset_forget ran: the writer skips it (status lock) */
    bool status_inflight;  /* a status write of it is in progress (status lock) */
    rt_asset *next;
    char *ns;           /* owned; pub.ns */
    json_t *def_cfg[4]; /* parsed default{Datasets,Events,Streams,ManagementGroups}Configuration */
};

struct rt_endpoint {
    fp_endpoint pub;
    char *canon; /* canonical JSON of the endpoint + resolved secret digests */
    json_t *device_doc;
    json_t *config_doc;
    int64_t device_version;
    pthread_mutex_t lock; /* error and health */
    rt_error error;
    rt_health health;         /* as the connector reported it */
    rt_health runtime_health; /* set by the runtime (queue full) and shown instead when set */
    atomic_bool status_dirty;
    bool status_forgotten; /* rt_status_endpoint_forget ran (status lock) */
    bool status_inflight;  /* a status write of it is in progress (status lock) */
    bool started;
    struct rt_strand *strand; /* the endpoint and its assets' callbacks run here */
    rt_asset *assets;
    rt_endpoint *next;
    uint64_t published, failed; /* counters for /metrics */
    fp_rt *rt;
    char *ns;                    /* owned; pub.ns */
    struct rt_secrets *sec;      /* owned resolved secrets; pub's secret strings point here */
    fp_timer *retry_timer;       /* pending retry of failed adds (on the strand), or NULL */
    atomic_bool closing;         /* being removed: fp_endpoint_post refuses */
    struct fp_fd_watch *watches; /* its descriptor watches (the exec's wlock) */
    atomic_ullong samples, samples_skipped;  /* its datasets' sample calls, skipped ticks */
    atomic_ullong counters[FP_MAX_COUNTERS]; /* the connector's own (fp_endpoint_count) */
    uint64_t retry_ms;                       /* back-off of the next retry: 5 s doubling to 60 s */
};

/* ---- the runtime -------------------------------------------------------------------------- */

typedef struct rt_options {
    const char *registry_url;
    const char *registry_cafile; /* CA bundle for an https registry (NULL: the system's) */
    char *token;
    const char *broker_url; /* mqtt://host:port or mqtts://host:port */
    fpc_mqtt_opts mqtt;
    const char *data_dir;
    const char *storage_root;
    const char *listen;         /* ADDR:PORT for /metrics and /healthz, NULL: none */
    const char *namespace_only; /* NULL: every namespace */
    const char *instance;       /* instance id (client id, discoveryId) */
    int workers;
    int max_threads; /* most worker threads the pool grows to for blocked work (0: default) */
} rt_options;

/* The default of --max-threads: a thread per endpoint blocked at once, for a thousand. */
#define RT_MAX_THREADS_DEFAULT 1024

struct fp_rt {
    const fp_connector *conn;
    rt_options opt;
    fpc_reg *reg;
    fpc_mqtt *mqtt;
    void *user;
    atomic_int stop;
    pthread_mutex_t lock; /* endpoints list */
    rt_endpoint *endpoints;
    atomic_llong revision;
    atomic_bool registry_ok;
    struct rt_exec *exec;
    struct rt_status *status;
    struct rt_discovery *discovery;
    struct rt_ops *ops;
    struct rt_actions *actions;
    /* Totals for /metrics (every destination of every object, removed ones included). */
    atomic_ullong published_total, failed_total;
};

/* The process runtime (fp_rt_get); set by fp_connector_main, or by tests. */
void rt_set_current(fp_rt *rt);
/* Give the free pages of the heap back to the system (rt_main.c), after a burst of work:
 * a list and its reconcile, a round of schema registrations. */
void rt_heap_trim(void);

/* ---- rt_exec.c ------------------------------------------------------------------------------ */
typedef struct rt_strand rt_strand;
int rt_exec_start(fp_rt *rt, int workers);
void rt_exec_stop(fp_rt *rt); /* after every strand is drained */
rt_strand *rt_strand_new(fp_rt *rt);
/* Queue fn(arg) on the strand; runs after everything queued before it. */
int rt_strand_post(rt_strand *s, void (*fn)(void *arg), void *arg);
/* Queue and wait until it ran (never from the strand itself). */
void rt_strand_run(rt_strand *s, void (*fn)(void *arg), void *arg);
/* Cancel the asset's timers (waits for running ones) */
void rt_timers_cancel_asset(fp_asset *as);
void rt_strand_free(rt_strand *s); /* drains first */
/* True when the calling thread is running an item of s. */
bool rt_strand_current(const rt_strand *s);
/* A one-shot timer: fn(arg) on strand s after ms (not tied to an asset). Cancel it with
 * fp_timer_cancel(), also from fn itself (it is not freed before that). */
fp_timer *rt_timer_after(rt_strand *s, uint64_t ms, void (*fn)(void *arg), void *arg);
/* The runtime's sampling timer of a dataset: fn(arg) on the asset's strand now and every
 * interval_ms; a tick that finds the previous one not yet run is skipped and counted in
 * *skips. Belongs to the asset like fp_timer_every's. */
fp_timer *rt_timer_sample(fp_asset *as, uint64_t interval_ms, void (*fn)(void *arg), void *arg,
                          atomic_ullong *skips);
/* Cancel the endpoint's own timers (fp_endpoint_timer_every) and drop the descriptor watches
 * it left (on the strand, after endpoint_remove). */
void rt_timers_cancel_endpoint(fp_endpoint *ep);
void rt_watches_cancel_endpoint(fp_endpoint *ep);
/* The worker pool, for /metrics. */
typedef struct rt_exec_stats {
    uint64_t threads, peak_threads, idle, blocked, grown, base, max_threads;
} rt_exec_stats;
void rt_exec_stats_get(fp_rt *rt, rt_exec_stats *st);

/* ---- rt_publish.c ---------------------------------------------------------------------------- */
/* Build out from the destination list chosen by the model (JSON array of destinations,
 * borrowed), the type, source and subject. Returns 0, or -1 with out->error set naming
 * the bad field ("destinations[0].configuration.topic is required"). */
int rt_out_init(rt_out *out, fp_rt *rt, const json_t *dests, const char *type, const char *source,
                const char *subject, const char *schema_name, const char *const *names,
                size_t n_names, const char *default_topic);
void rt_out_clear(rt_out *out);
/* Move the schema state and counters of `from` into `to` (for an update). */
void rt_out_take_state(rt_out *to, rt_out *from);
int rt_out_publish(rt_out *out, rt_endpoint *ep, const char *payload, size_t len,
                   const char *content_type, const char *time_iso);
/* Register pending schemas (called by a background thread); sets the status dirty. */
void rt_schema_flush(fp_rt *rt);
/* The same, answering how many registrations failed (they stay pending for a retry). */
int rt_schema_flush_count(fp_rt *rt);
/* The CloudEvents user properties of one message, in their fixed order (specversion, id,
 * time, type, source, subject, dataschema when not NULL, datacontenttype). Borrows every
 * string; returns the number of entries written to props (at most 8). */
size_t rt_ce_props(fpc_prop props[8], const char *id, const char *time_iso, const char *type,
                   const char *source, const char *subject, const char *dataschema,
                   const char *content_type);

/* ---- rt_status.c ----------------------------------------------------------------------------- */
int rt_status_start(fp_rt *rt); /* the writer thread */
void rt_status_stop(fp_rt *rt); /* writes what is dirty, then stops */
void rt_status_asset_dirty(rt_asset *as);
void rt_status_endpoint_dirty(rt_endpoint *ep);
/* Every asset's status may have changed (an object whose asset is unknown): the writer
 * rebuilds them all and writes those that differ from what it wrote last. */
void rt_status_kick(fp_rt *rt);
/* The asset / endpoint is going away: nothing more is written for it. Waits for a write
 * of it in progress; after return the writer never touches it. Call before freeing it
 * (before or after unlinking it from the lists; never while holding its lock). */
void rt_status_asset_forget(rt_asset *as);
void rt_status_endpoint_forget(rt_endpoint *ep);
/* The asset status document (caller holds as->lock; takes the objects' locks).
 * transition_time: config.lastTransitionTime (NULL: omitted). New reference. */
json_t *rt_status_asset_doc(rt_asset *as, const char *transition_time);
/* The PATCH body of the endpoint's device status. New reference. */
json_t *rt_status_endpoint_doc(rt_endpoint *ep);
/* {version, status, lastUpdateTime, message, reasonCode}; NULL when never set. */
json_t *rt_health_json(const rt_health *h);
/* Wake the schema registrar (a schema changed). */
void rt_schema_wake(fp_rt *rt);
/* Set health/error helpers used by the model too. */
void rt_health_set(rt_health *h, bool available, const char *reason, const char *message);
void rt_error_set(rt_error *e, const char *code, const char *message); /* NULL code clears */
/* The same for an error allocated on first use: NULL code frees it and sets *slot NULL.
 * Returns -1 when out of memory (the error is then not recorded). */
int rt_error_set_alloc(rt_error **slot, const char *code, const char *message);

/* ---- rt_actions.c ---------------------------------------------------------------------------- */
int rt_actions_start(fp_rt *rt);
void rt_actions_stop(fp_rt *rt);
int rt_action_subscribe(rt_action *ac);    /* after action_add succeeded */
void rt_action_unsubscribe(rt_action *ac); /* before action_remove; pending requests fail */

/* ---- rt_discovery.c -------------------------------------------------------------------------- */
int rt_discovery_start(fp_rt *rt);
void rt_discovery_stop(fp_rt *rt); /* writes what is pending */
/* Whether the registry would take name for a discovered asset or device (the rules of
 * lib/model); if not, why (may be NULL) says what is wrong. */
bool rt_discovery_name_ok(bool asset, const char *name, char *why, size_t why_len);
/* Whether the stored properties (server-set uuid, provisioningState, status, discoveryId
 * and version ignored) hold the same content as the reported ones. */
bool rt_discovery_same_content(const json_t *stored_props, const json_t *props);

/* ---- rt_ops.c ---------------------------------------------------------------------------------
 */
int rt_ops_start(fp_rt *rt, const char *listen); /* NULL listen: nothing */
void rt_ops_stop(fp_rt *rt);
/* The bound port (for logs). */
int rt_ops_port(fp_rt *rt);
/* One endpoint's counters for /metrics. */
typedef struct rt_ep_count {
    const char *label; /* "<ns>/<device>/<endpoint>" */
    uint64_t published, failed;
    uint64_t samples, samples_skipped;  /* the runtime's sample calls, ticks skipped */
    uint64_t counters[FP_MAX_COUNTERS]; /* the connector's own rows */
} rt_ep_count;
/* The connector's own counters (conn->counters) into b, after the other parts. */
void rt_ops_metrics_counters_text(fp_buf *b, const char *connector, const fp_counter_def *defs,
                                  const rt_ep_count *eps, size_t n_eps);
/* The worker pool's part of /metrics into b (after rt_ops_metrics_text). */
void rt_ops_metrics_exec_text(fp_buf *b, const char *connector, const rt_exec_stats *x,
                              const rt_ep_count *eps, size_t n_eps);
/* The /metrics text (Prometheus exposition format 0.0.4) into b. */
void rt_ops_metrics_text(fp_buf *b, const char *connector, const fpc_mqtt_stats *st,
                         const rt_ep_count *eps, size_t n_eps, uint64_t published_total,
                         uint64_t failed_total, bool registry_ok);
/* The most bytes of a request line and headers the endpoint reads. */
#define RT_OPS_MAX_HEAD 8192
/* A parsed request head; the pointers point into the parsed bytes. */
typedef struct rt_ops_request {
    const char *method, *path; /* path without its query string */
    size_t method_len, path_len;
    int minor;       /* HTTP/1.<minor> */
    size_t head_len; /* bytes up to and with the blank line */
} rt_ops_request;
/* Parses the request head at the start of buf[0..len) (a pure function: no I/O, no
 * allocation). Returns 0 when it is complete and valid (req filled), 1 when more bytes are
 * needed, else the HTTP status to answer (400, 431, 505) with *why naming what was wrong. */
int rt_ops_parse_request(const char *buf, size_t len, rt_ops_request *req, const char **why);

/* ---- rt_sync.c ---------------------------------------------------------------------------------
 */
/* List, watch and apply until rt->stop (on the calling thread). */
void rt_sync_run(fp_rt *rt);

/* ---- rt_model.c: the model the sync thread drives ----------------------------------------------
 */

/* Resolved secrets of one endpoint (values owned). error is set when a secret is missing. */
typedef struct rt_secrets {
    char *username, *password, *cert, *key, *intermediate, *trust;
    rt_error error;
} rt_secrets;
void rt_secrets_free(rt_secrets *sec);
/* Resolve the secret references of the inbound endpoint `ep_json` of a device in ns.
 * FP_OK with *out (possibly carrying error "SecretNotFound"); FP_ERR_UNAVAILABLE when
 * the registry could not answer (nothing decided). */
fp_status rt_secrets_resolve(fp_rt *rt, const char *ns, const json_t *ep_json, rt_secrets **out);
/* True when the endpoint references secret `name` (as "name" or "name/key"). */
bool rt_secrets_refer(const json_t *ep_json, const char *name);

/* One level of the configuration lookup chain (most specific first). */
typedef struct rt_cfg_level {
    const json_t *json; /* an object, or NULL (skipped) */
    const char *label;  /* "datasets[1].datasetConfiguration", for errors */
} rt_cfg_level;
/* Allocate conn->config_size[scope] bytes at *cfg_out (NULL when 0) and fill every row of
 * that scope from the chain, else the row's default. STRING values are copies; JSON values
 * are borrowed from the chain (the caller keeps the chain alive). -1 or null for a key
 * falls through. Returns 0, or -1 with err naming the key and level (nothing allocated). */
int rt_config_fill(const fp_connector *conn, fp_cfg_scope scope, const rt_cfg_level *chain,
                   size_t n_chain, void **cfg_out, char *err, size_t err_len);
void rt_config_free(const fp_connector *conn, fp_cfg_scope scope, void *cfg);
/* Parse the string member `field` of obj (a "...Configuration") as a JSON object. Absent,
 * null or "" give an empty object. NULL with err ("<label> is not a JSON object: ...")
 * otherwise. */
json_t *rt_config_parse(const json_t *obj, const char *field, const char *label, char *err,
                        size_t err_len);
/* The registry schema name for "<a>-<b>[-<c>]": [a-z0-9-], 3..64 characters. */
void rt_schema_name(const char *a, const char *b, const char *c, char out[65]);
/* The destination arrays the objects use (borrowed; NULL when none). */
const json_t *rt_dests_dataset(const json_t *asset_props, const json_t *ds);
const json_t *rt_dests_group(const json_t *asset_props, const json_t *group);
const json_t *rt_dests_event(const json_t *asset_props, const json_t *group, const json_t *ev);
const json_t *rt_dests_stream(const json_t *asset_props, const json_t *st);

/* Endpoints (called from the sync thread; callbacks run on the endpoint's strand). */
rt_endpoint *rt_model_endpoint_find(fp_rt *rt, const char *ns, const char *device,
                                    const char *name);
/* Create the endpoint for inbound endpoint `name` of device_doc (a reference is taken),
 * link it and start it (unless sec or its configuration carries an error). Takes sec. */
rt_endpoint *rt_model_endpoint_add(fp_rt *rt, const char *ns, json_t *device_doc, const char *name,
                                   rt_secrets *sec);
/* Apply a new device document / secrets to ep: nothing when equal, else endpoint_update or
 * remove + add, and the children follow. Takes sec. */
void rt_model_endpoint_change(rt_endpoint *ep, json_t *device_doc, rt_secrets *sec);
/* Remove the endpoint and everything below it, unlink and free it. */
void rt_model_endpoint_remove(rt_endpoint *ep);
rt_asset *rt_model_asset_find(fp_rt *rt, const char *ns, const char *name);
/* Add or change the asset `doc` (a reference is taken) on ep. */
rt_asset *rt_model_asset_set(rt_endpoint *ep, json_t *doc);
void rt_model_asset_remove(rt_asset *as);
/* Remove every endpoint (reverse order). */
void rt_model_shutdown(fp_rt *rt);

/* ---- rt_config.c and rt_secrets.c: what rt_model.c uses of them --------------------------------
 */
/* Free the STRING values of a filled struct (not the struct). */
void rt_config_clear(const fp_connector *conn, fp_cfg_scope scope, char *cfg);
/* rt_config_fill into a struct the caller allocated (conn->config_size[scope] bytes). */
int rt_config_fill_into(const fp_connector *conn, fp_cfg_scope scope, const rt_cfg_level *chain,
                        size_t n_chain, char *cfg, char *err, size_t err_len);
/* The one shared empty object that stands for absent or empty configurations. */
json_t *rt_config_empty(void);
/* Keep a reference to cfg in the array keep (what a config struct borrows from). */
void rt_keep_add(json_t *keep, json_t *cfg);
/* What kind of value v is for messages: "an integer", else fp_json_kind's words. */
const char *rt_json_kind(const json_t *v);
/* The SHA-256 of the resolved secret values (hex), for the endpoint's diff inputs. */
void rt_secrets_digest(const rt_secrets *sec, char hex[65]);
/* A string member of o, or NULL. */
static inline const char *rt_jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* ---- rt_build.c: the children of an asset built from its document --------------------------- */
/* The kinds of children, in the order they are added (and removed in reverse). */
enum { K_DS = 0, K_EG, K_ST, K_AC, K_COUNT };

/* The children of one asset by kind (arrays of rt_dataset *, rt_event_group *, ...). */
typedef struct kids {
    size_t n[K_COUNT];
    void **v[K_COUNT];
} kids;

/* What the children of one asset are built from. */
typedef struct build_ctx {
    fp_rt *rt;
    rt_asset *as;
    const json_t *doc;
    const json_t *props;
    const char *asset_name;
    const char *subject;
    const char *ep_source;
    json_t *const *def_cfg; /* [4] */
} build_ctx;

/* Build every child of the asset document into k (zeroed first). What could not be built for
 * want of memory is left out and logged; the next change tries again. */
void rt_kids_build(const build_ctx *b, kids *k);
/* Append o to k's array of kind; -1 when out of memory. */
int rt_kids_push(kids *k, int kind, void *o);
/* Free every child in k and its arrays (rt_model.c: through the kind table). */
void rt_kids_free(fp_rt *rt, kids *k);
void rt_dataset_free(fp_rt *rt, rt_dataset *d);
void rt_group_free(fp_rt *rt, rt_event_group *g);
void rt_stream_free(fp_rt *rt, rt_stream *s);
void rt_action_free(fp_rt *rt, rt_action *a);
void rt_canon_free(rt_canon *c);
/* Whether two children were built from the same inputs (nothing to do on a change). */
bool rt_canon_equal(const rt_canon *a, const rt_canon *b);
/* Set the configuration or runtime error of a publishing object. */
void rt_out_error(rt_out *o, const char *code, const char *msg);
/* Small helpers of the model files: a non-empty string member else def; a formatted heap
 * string (NULL when out of memory); canonical JSON text (caller frees; "" on failure); a new
 * reference (NULL-safe). */
const char *rt_jstr_or(const json_t *o, const char *key, const char *def);
char *rt_str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *rt_canon_of(json_t *v);
json_t *rt_jref(const json_t *v);
/* The default timeout of an action without one, in seconds (the resource model's). */
#define RT_DEFAULT_ACTION_TIMEOUT_S 100

/* ---- helpers shared by the files (rt_model.c) ------------------------------------------------ */
/* Endpoint and asset of any object. */
rt_endpoint *rt_endpoint_of(fp_endpoint *ep);
rt_asset *rt_asset_of(fp_asset *as);

#endif
