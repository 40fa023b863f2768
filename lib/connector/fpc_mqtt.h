/*
 * fpc_mqtt.h - the connector runtime's MQTT 5 publisher with a store-and-forward queue.
 *
 * Internal to libfieldplane-connector. Wraps libmosquitto (MQTT 5, TLS, username/password
 * or client certificate). Its own network thread connects and reconnects with back-off.
 *
 * QoS 1 messages are appended to a bounded on-disk queue (in opts.queue_dir) before
 * fpc_mqtt_publish() returns, and removed only when the broker acknowledged them (PUBACK).
 * They are sent in queue order; after a reconnect or a restart, every message not yet
 * acknowledged is sent again from the oldest, so per-topic order holds and nothing is lost
 * (duplicates are possible, as QoS 1 allows; after a crash also those acknowledged in the
 * last ~100 ms, whose acks the queue had not written yet). When the queue is full, opts.drop_newest
 * picks which message is dropped; drops are counted.
 *
 * QoS 0 messages go straight to the broker when connected, and are dropped (counted)
 * when not.
 */
#ifndef FPC_MQTT_H
#define FPC_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fpc_mqtt fpc_mqtt;

typedef struct fpc_mqtt_opts {
    const char *host; /* "127.0.0.1" */
    int port;         /* 1883 */
    const char *client_id;
    const char *username; /* NULL: none */
    const char *password;
    bool tls;
    const char *cafile;   /* PEM CA bundle (TLS) */
    const char *certfile; /* client certificate (TLS), NULL: none */
    const char *keyfile;
    int keepalive_s;          /* 0: 30 */
    const char *queue_dir;    /* directory for the disk queue (created if missing) */
    uint64_t queue_max_bytes; /* 0: 64 MiB */
    bool drop_newest;         /* when full: false drops the oldest queued, true the new one */
    bool queue_sync;          /* fsync each append (power loss); default off (process crash safe) */
} fpc_mqtt_opts;

/* One user property. */
typedef struct fpc_prop {
    const char *key;
    const char *value;
} fpc_prop;

typedef struct fpc_msg {
    const char *topic;
    const void *payload;
    size_t len;
    int qos; /* 0 or 1 */
    bool retain;
    uint32_t expiry_s;        /* message expiry interval; 0 = none */
    const char *content_type; /* NULL: none */
    const fpc_prop *props;    /* user properties, in order */
    size_t n_props;
    const char *response_topic; /* NULL: none */
    const void *correlation;    /* correlation data, NULL: none */
    size_t correlation_len;
} fpc_msg;

/* A received message (for management action requests). Everything is borrowed for the
 * duration of the callback. */
typedef void (*fpc_mqtt_on_msg)(const fpc_msg *msg, void *arg);

typedef struct fpc_mqtt_stats {
    uint64_t published;       /* acknowledged (QoS 1) or sent (QoS 0) */
    uint64_t failed;          /* publish calls that failed (QoS 0 while disconnected, errors) */
    uint64_t dropped;         /* dropped from a full queue */
    uint64_t queued;          /* messages in the disk queue now */
    uint64_t queued_bytes;    /* bytes of the disk queue now */
    uint64_t bytes_published; /* payload bytes */
    uint64_t received;        /* messages received on subscriptions */
    bool connected;
    /* Publish latency (enqueue -> PUBACK for QoS 1, enqueue -> sent for QoS 0), cumulative
     * histogram buckets in seconds: 0.001 0.005 0.01 0.05 0.1 0.5 1 5 +Inf. */
    uint64_t latency_buckets[9];
    double latency_sum_s;
    uint64_t latency_count;
    char last_error[256];  /* last connection error, "" when none */
    uint64_t expired;      /* QoS 1 messages whose expiry passed while queued (not sent) */
    uint64_t write_failed; /* messages the disk queue could not write (disk full, I/O) */
    int write_errno;       /* errno of the last of them, 0 once the queue is written again */
} fpc_mqtt_stats;

extern const double fpc_mqtt_latency_bounds[8];

/* Create and open the disk queue (recovering what a previous process left). NULL with err
 * filled on failure (bad directory, corrupt queue that cannot be recovered at all). */
fpc_mqtt *fpc_mqtt_new(const fpc_mqtt_opts *opts, char *err, size_t err_len);
/* Start the network thread (connects in the background, retries with back-off). */
int fpc_mqtt_start(fpc_mqtt *m);
/* Publish (copies everything). 0 on success (queued or sent), -1 when dropped/failed.
 * Thread-safe. */
int fpc_mqtt_publish(fpc_mqtt *m, const fpc_msg *msg);
/* Subscribe (QoS 1) to a topic filter; kept across reconnects. Thread-safe. */
int fpc_mqtt_subscribe(fpc_mqtt *m, const char *filter, fpc_mqtt_on_msg cb, void *arg);
int fpc_mqtt_unsubscribe(fpc_mqtt *m, const char *filter);
void fpc_mqtt_get_stats(fpc_mqtt *m, fpc_mqtt_stats *out);
/* Stop: wait up to flush_ms for the queue to drain while connected, then disconnect and
 * stop the thread; what is left stays in the disk queue for the next start. Frees m. */
void fpc_mqtt_free(fpc_mqtt *m, int flush_ms);

#endif
