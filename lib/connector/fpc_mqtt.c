/*
 * fpc_mqtt.c - the MQTT 5 publisher with a store-and-forward queue (see fpc_mqtt.h).
 *
 * One network thread owns the connection: it creates a fresh libmosquitto client for
 * every connection attempt (clean start, no session kept by the broker), runs
 * mosquitto_loop() until the CONNACK and backs off 0.5 s .. 10 s between attempts. A fresh
 * client per connection means libmosquitto never resends old in-flight messages by itself:
 * the disk queue is the only source of retries, which keeps the order simple to reason
 * about.
 *
 * Once connected, the thread runs its own poll() loop on the socket (mosquitto_loop_read,
 * _write, _misc) and the client is not in libmosquitto's threaded mode, so a publish made
 * on a connector thread writes its packet to the socket right there. In threaded mode
 * every publish wrote a byte to libmosquitto's internal socket pair to wake the network
 * thread, which then read it and wrote the packet: two more system calls and a thread
 * wake per message, a third of the connector's CPU. The network thread now wakes for what
 * the broker sends (PUBACKs), a packet a write left unfinished (it is woken through
 * wake_fd), keepalive, and the ack marker. It reads the socket at most every READ_GAP_MS:
 * the broker answers each PUBLISH within microseconds, so reading at once meant a wake,
 * a callback and lock traffic with the publishing thread per message; after a gap the
 * PUBACKs of several messages are handled in one turn (at 250 messages/s, 10 ms keeps
 * about 3 more in flight, far below the window).
 *
 * The `acked` marker of the queue is written at most every ACK_DELAY_MS while PUBACKs
 * come in (fpc_queue_set_ack_delay) and flushed by the network thread when it goes quiet:
 * a crash resends what was acknowledged in that last window (QoS 1 allows duplicates).
 *
 * Sending ("pumping") takes unacknowledged QoS 1 messages from the queue in sequence
 * order, at most FPC_WINDOW in flight, and remembers mid -> seq. PUBACK acks the queue
 * entry. On a disconnect the in-flight table is forgotten and the send cursor goes back
 * to the queue's head, so everything not acknowledged is sent again, oldest first.
 * The pump runs under m->mu from whichever thread has news: a publishing thread after
 * an append, the network thread after PUBACKs and in the CONNACK callback.
 *
 * The PUBACK callback only notes (mid, reason) in m->acks under its own small lock; the
 * network thread settles the noted acks under m->mu once per turn of its loop. Taking
 * m->mu in the callback, once per PUBACK, collided with the publishing thread on nearly
 * every message (a futex sleep and wake each time), and it could not be done at all
 * when a QoS 1 publish made under m->mu writes out a QoS 0 packet queued before it:
 * libmosquitto calls the publish callback for that one in the writing thread. The noted
 * acks belong to the current client: the list is emptied when a client is destroyed and
 * at CONNACK.
 *
 * Lock order: m->mu, then the queue's own lock. libmosquitto calls our callbacks with
 * its callback mutex held. A QoS 1 publish or a (un)subscribe never takes that mutex, so
 * calling into libmosquitto for them under m->mu cannot deadlock with a callback waiting
 * for m->mu. A QoS 0 PUBLISH written to the socket calls the publish callback at once,
 * under the callback mutex, in the writing thread: QoS 0 is therefore published without
 * m->mu, under m->send_mu, which keeps m->mosq alive meanwhile (the network thread takes
 * send_mu before it destroys a client, and no callback takes send_mu).
 */
#include "fpc_mqtt.h"

#include <errno.h>
#include <inttypes.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "fp_alloc.h"
#include "fp_cond.h"
#include "fp_log.h"
#include "fp_time.h"
#include "fpc_queue.h"

#define MOD "mqtt"
#define FPC_WINDOW 100
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 10000
#define CONNECT_TIMEOUT_MS 10000
#define FPC_MAX_PAYLOAD 268435455u
#define ACK_DELAY_MS 100 /* the acked marker is written at most this often */
#define IDLE_POLL_MS 1000
#define READ_GAP_MS 10 /* the socket is read at most this often while connected */

const double fpc_mqtt_latency_bounds[8] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5};

typedef struct sub {
    char *filter;
    fpc_mqtt_on_msg cb;
    void *arg;
} sub;

typedef struct pending_ack {
    int mid;
    int reason;
} pending_ack;

typedef struct inflight {
    int mid;
    uint64_t seq;
    uint64_t enq_ms;
    size_t len;
} inflight;

struct fpc_mqtt {
    pthread_mutex_t mu;
    pthread_mutex_t send_mu; /* QoS 0 publishes: keeps mosq alive (see the top) */
    pthread_mutex_t ack_mu;  /* acks, n_acks: PUBACKs noted by the callback */
    pending_ack *acks, *acks_spare;
    size_t n_acks, cap_acks, cap_spare;
    int wake_fd;       /* eventfd: wakes the network thread's poll */
    pthread_cond_t cv; /* CLOCK_MONOTONIC: acks, connection changes, stop */
    char *host, *client_id, *username, *password, *cafile, *certfile, *keyfile;
    int port, keepalive_s;
    bool tls;
    fpc_queue *q;

    struct mosquitto *mosq; /* the current connection's client; NULL between attempts */
    bool connected;         /* CONNACK success seen on mosq */
    bool refused;           /* CONNACK failure seen on mosq */
    bool stop;
    bool started;
    pthread_t thread;

    uint64_t send_next; /* the pump sends the first unacked message with seq >= this */
    inflight infl[FPC_WINDOW];
    size_t n_infl;
    fpc_queue_item item;

    sub *subs;
    size_t n_subs, cap_subs;

    uint64_t published, failed, expired, bytes_published, received;
    uint64_t lat_buckets[9];
    double lat_sum_s;
    uint64_t lat_count;
    char last_error[256];
};

static pthread_once_t g_lib_once = PTHREAD_ONCE_INIT;

/* The client whose QoS 0 publish this thread is writing: its publish callback comes
 * synchronously and has nothing to do (only QoS 1 PUBACKs are tracked). */
static _Thread_local fpc_mqtt *tl_publishing;

static void lib_init(void)
{
    mosquitto_lib_init();
}

/* Make the network thread's poll return (a packet is waiting to be written). */
static void wake_net(fpc_mqtt *m)
{
    uint64_t one = 1;

    if (m->wake_fd >= 0 && write(m->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        fp_log_debug(MOD, "cannot wake the network thread: %s", strerror(errno));
}

static void observe_latency(fpc_mqtt *m, uint64_t enq_ms)
{
    uint64_t now = (uint64_t)fp_time_now_ms();
    double s = now > enq_ms ? (double)(now - enq_ms) / 1000.0 : 0.0;

    for (int i = 0; i < 8; i++) {
        if (s <= fpc_mqtt_latency_bounds[i])
            m->lat_buckets[i]++;
    }
    m->lat_buckets[8]++;
    m->lat_sum_s += s;
    m->lat_count++;
}

/* Build the PUBLISH properties of msg; expiry_s is the remaining expiry (0 = none). */
static int build_props(const fpc_msg *msg, uint32_t expiry_s, mosquitto_property **out)
{
    mosquitto_property *p = NULL;
    int rc = MOSQ_ERR_SUCCESS;

    if (expiry_s)
        rc = mosquitto_property_add_int32(&p, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, expiry_s);
    if (!rc && msg->content_type)
        rc = mosquitto_property_add_string(&p, MQTT_PROP_CONTENT_TYPE, msg->content_type);
    if (!rc && msg->response_topic)
        rc = mosquitto_property_add_string(&p, MQTT_PROP_RESPONSE_TOPIC, msg->response_topic);
    if (!rc && msg->correlation)
        rc = mosquitto_property_add_binary(&p, MQTT_PROP_CORRELATION_DATA, msg->correlation,
                                           (uint16_t)msg->correlation_len);
    for (size_t i = 0; !rc && i < msg->n_props; i++)
        rc = mosquitto_property_add_string_pair(&p, MQTT_PROP_USER_PROPERTY, msg->props[i].key,
                                                msg->props[i].value);
    if (rc) {
        mosquitto_property_free_all(&p);
        return rc;
    }
    *out = p;
    return 0;
}

/* Errors of mosquitto_publish_v5 that no retry can cure: the message itself is bad. */
static bool publish_error_is_permanent(int rc)
{
    return rc == MOSQ_ERR_INVAL || rc == MOSQ_ERR_PAYLOAD_SIZE || rc == MOSQ_ERR_MALFORMED_UTF8 ||
           rc == MOSQ_ERR_OVERSIZE_PACKET || rc == MOSQ_ERR_QOS_NOT_SUPPORTED ||
           rc == MOSQ_ERR_DUPLICATE_PROPERTY || rc == MOSQ_ERR_NOT_SUPPORTED;
}

/* Send queued QoS 1 messages while connected and the window has room (m->mu held). */
static void pump(fpc_mqtt *m)
{
    fpc_queue_item *it = &m->item;

    while (m->connected && m->mosq && m->n_infl < FPC_WINDOW) {
        if (fpc_queue_peek(m->q, m->send_next, it) != 1)
            break;
        uint32_t expiry = it->msg.expiry_s;
        if (expiry) {
            uint64_t now = (uint64_t)fp_time_now_ms();
            uint64_t age_s = now > it->enq_ms ? (now - it->enq_ms) / 1000 : 0;
            if (age_s >= expiry) {
                /* Expired while queued: the broker would discard it anyway. */
                m->expired++;
                fpc_queue_ack(m->q, it->seq);
                m->send_next = it->seq + 1;
                continue;
            }
            expiry -= (uint32_t)age_s;
        }
        mosquitto_property *props = NULL;
        int mid = 0;
        int rc = build_props(&it->msg, expiry, &props);
        if (!rc)
            rc = mosquitto_publish_v5(m->mosq, &mid, it->msg.topic, (int)it->msg.len,
                                      it->msg.payload, 1, it->msg.retain, props);
        mosquitto_property_free_all(&props);
        if (rc == MOSQ_ERR_SUCCESS) {
            m->infl[m->n_infl++] = (inflight){mid, it->seq, it->enq_ms, it->msg.len};
            m->send_next = it->seq + 1;
            continue;
        }
        if (publish_error_is_permanent(rc)) {
            fp_log_error(MOD, "cannot publish queued message %" PRIu64 " to %s: %s; dropped",
                         it->seq, it->msg.topic, mosquitto_strerror(rc));
            m->failed++;
            fpc_queue_ack(m->q, it->seq);
            m->send_next = it->seq + 1;
            continue;
        }
        /* Connection trouble: the reconnect rewinds and sends it again. */
        fp_log_debug(MOD, "publish of %" PRIu64 " deferred: %s", it->seq, mosquitto_strerror(rc));
        break;
    }
}

/* After a publish on a connector thread: a packet the socket did not take whole is left
 * to the network thread, which polls for POLLOUT only when it knows of one. */
static void after_send(fpc_mqtt *m, struct mosquitto *mosq)
{
    if (mosq && mosquitto_want_write(mosq))
        wake_net(m);
}

/* ---- libmosquitto callbacks (network thread) ---------------------------------------- */

/* Forget noted acks (the client they came from is gone, or a new one starts). */
static void drop_acks(fpc_mqtt *m)
{
    pthread_mutex_lock(&m->ack_mu);
    m->n_acks = 0;
    pthread_mutex_unlock(&m->ack_mu);
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc, int flags,
                       const mosquitto_property *props)
{
    fpc_mqtt *m = obj;

    (void)flags;
    (void)props;
    pthread_mutex_lock(&m->mu);
    if (rc == 0) {
        drop_acks(m);
        m->connected = true;
        m->last_error[0] = 0;
        m->send_next = 0;
        m->n_infl = 0;
        fp_log_info(MOD, "connected to %s:%d as %s", m->host, m->port,
                    m->client_id ? m->client_id : "(generated id)");
        for (size_t i = 0; i < m->n_subs; i++) {
            int src = mosquitto_subscribe_v5(mosq, NULL, m->subs[i].filter, 1, 0, NULL);
            if (src)
                fp_log_error(MOD, "cannot subscribe to %s: %s", m->subs[i].filter,
                             mosquitto_strerror(src));
        }
        pump(m);
    } else {
        m->refused = true;
        snprintf(m->last_error, sizeof m->last_error, "%s:%d refused the connection: %s", m->host,
                 m->port, mosquitto_reason_string(rc));
        /* net_main logs it with the retry delay */
    }
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc,
                          const mosquitto_property *props)
{
    fpc_mqtt *m = obj;

    (void)mosq;
    (void)props;
    pthread_mutex_lock(&m->mu);
    if (m->connected && rc != 0) {
        snprintf(m->last_error, sizeof m->last_error, "connection to %s:%d lost: %s", m->host,
                 m->port, mosquitto_strerror(rc));
        fp_log_warn(MOD, "%s", m->last_error);
    }
    m->connected = false;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid, int reason,
                       const mosquitto_property *props)
{
    fpc_mqtt *m = obj;

    (void)mosq;
    (void)props;
    if (tl_publishing == m)
        return; /* our own QoS 0 publish, written just now */
    pthread_mutex_lock(&m->ack_mu);
    if (m->n_acks == m->cap_acks) {
        size_t ncap = m->cap_acks ? m->cap_acks * 2 : 256;
        pending_ack *n = fp_realloc(m->acks, ncap * sizeof *n);
        if (!n) {
            /* The message stays queued and is sent again after the next reconnect. */
            pthread_mutex_unlock(&m->ack_mu);
            fp_log_error(MOD, "out of memory noting the PUBACK of message id %d", mid);
            return;
        }
        m->acks = n;
        m->cap_acks = ncap;
    }
    m->acks[m->n_acks++] = (pending_ack){mid, reason};
    pthread_mutex_unlock(&m->ack_mu);
}

/* Settle the PUBACKs noted since the last turn: ack their queue entries, count them,
 * and send what the freed window allows (m->mu held). */
static void settle_acks(fpc_mqtt *m)
{
    pending_ack *list;
    size_t n;

    pthread_mutex_lock(&m->ack_mu);
    list = m->acks;
    n = m->n_acks;
    /* Swap in the spare array, so the callback never waits for the settling. */
    m->acks = m->acks_spare;
    m->acks_spare = list;
    size_t cap = m->cap_acks;
    m->cap_acks = m->cap_spare;
    m->cap_spare = cap;
    m->n_acks = 0;
    pthread_mutex_unlock(&m->ack_mu);
    if (n == 0)
        return;
    for (size_t k = 0; k < n; k++) {
        for (size_t i = 0; i < m->n_infl; i++) {
            if (m->infl[i].mid != list[k].mid)
                continue;
            inflight f = m->infl[i];
            m->infl[i] = m->infl[--m->n_infl];
            if (list[k].reason >= 0x80) {
                /* Refused by the broker (not authorised, bad topic...): a resend gets the
                 * same answer. */
                fp_log_warn(MOD, "the broker refused queued message %" PRIu64 ": %s", f.seq,
                            mosquitto_reason_string(list[k].reason));
                m->failed++;
            } else {
                m->published++;
                m->bytes_published += f.len;
                observe_latency(m, f.enq_ms);
            }
            fpc_queue_ack(m->q, f.seq);
            break;
        }
    }
    pump(m);
    pthread_cond_broadcast(&m->cv);
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *mm,
                       const mosquitto_property *props)
{
    fpc_mqtt *m = obj;
    fpc_msg msg = {0};
    fpc_prop *uprops = NULL;
    size_t n_uprops = 0, n_match = 0;
    char *ctype = NULL, *rtopic = NULL;
    void *corr = NULL;
    uint16_t corr_len = 0;
    uint32_t expiry = 0;
    sub *match = NULL;

    (void)mosq;
    /* User properties, in order. */
    const mosquitto_property *p;
    char *k = NULL, *v = NULL;
    for (p = mosquitto_property_read_string_pair(props, MQTT_PROP_USER_PROPERTY, &k, &v, false); p;
         p = mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &k, &v, true)) {
        fpc_prop *np = fp_realloc(uprops, (n_uprops + 1) * sizeof *np);
        if (!np) {
            free(k);
            free(v);
            break;
        }
        uprops = np;
        uprops[n_uprops].key = k;
        uprops[n_uprops].value = v;
        n_uprops++;
        k = v = NULL;
    }
    mosquitto_property_read_string(props, MQTT_PROP_CONTENT_TYPE, &ctype, false);
    mosquitto_property_read_string(props, MQTT_PROP_RESPONSE_TOPIC, &rtopic, false);
    mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &corr, &corr_len, false);
    mosquitto_property_read_int32(props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, &expiry, false);

    msg.topic = mm->topic;
    msg.payload = mm->payload;
    msg.len = (size_t)mm->payloadlen;
    msg.qos = mm->qos;
    msg.retain = mm->retain;
    msg.expiry_s = expiry;
    msg.content_type = ctype;
    msg.props = uprops;
    msg.n_props = n_uprops;
    msg.response_topic = rtopic;
    msg.correlation = corr;
    msg.correlation_len = corr ? corr_len : 0;

    /* Callbacks run without m->mu: they may publish (action replies). */
    pthread_mutex_lock(&m->mu);
    m->received++;
    match = m->n_subs ? fp_malloc(m->n_subs * sizeof *match) : NULL;
    for (size_t i = 0; match && i < m->n_subs; i++) {
        bool hit = false;
        if (mosquitto_topic_matches_sub(m->subs[i].filter, mm->topic, &hit) == 0 && hit)
            match[n_match++] = m->subs[i];
    }
    pthread_mutex_unlock(&m->mu);
    for (size_t i = 0; i < n_match; i++)
        match[i].cb(&msg, match[i].arg);

    fp_free(match);
    for (size_t i = 0; i < n_uprops; i++) {
        free((char *)uprops[i].key);
        free((char *)uprops[i].value);
    }
    fp_free(uprops);
    free(ctype);
    free(rtopic);
    free(corr);
}

/* ---- the network thread -------------------------------------------------------------- */

/* A configured client for one connection attempt; NULL with err filled. */
static struct mosquitto *client_new(fpc_mqtt *m, char *err, size_t err_len)
{
    struct mosquitto *mosq = mosquitto_new(m->client_id, true, m);
    int rc;

    if (!mosq) {
        snprintf(err, err_len, "cannot create an MQTT client: %s", strerror(errno));
        return NULL;
    }
    mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_int_option(mosq, MOSQ_OPT_SEND_MAXIMUM, FPC_WINDOW);
    /* Not threaded mode: publishes from other threads write to the socket themselves
     * (libmosquitto serialises the writers), see the top of this file. */
    mosquitto_connect_v5_callback_set(mosq, on_connect);
    mosquitto_disconnect_v5_callback_set(mosq, on_disconnect);
    mosquitto_publish_v5_callback_set(mosq, on_publish);
    mosquitto_message_v5_callback_set(mosq, on_message);
    if (m->username) {
        rc = mosquitto_username_pw_set(mosq, m->username, m->password);
        if (rc) {
            snprintf(err, err_len, "invalid MQTT username: %s", mosquitto_strerror(rc));
            goto out_destroy;
        }
    }
    if (m->tls) {
        rc = mosquitto_tls_set(mosq, m->cafile, NULL, m->certfile, m->keyfile, NULL);
        if (rc) {
            snprintf(err, err_len, "cannot set up TLS (cafile %s, certfile %s, keyfile %s): %s",
                     m->cafile ? m->cafile : "-", m->certfile ? m->certfile : "-",
                     m->keyfile ? m->keyfile : "-", mosquitto_strerror(rc));
            goto out_destroy;
        }
    }
    return mosq;

out_destroy:
    mosquitto_destroy(mosq);
    return NULL;
}

/* One turn of the loop on a connected client: wait for the socket (or wake_fd), read
 * what came, write what waits, keepalive. A MOSQ_ERR_ code like mosquitto_loop's. */
static int loop_step(fpc_mqtt *m, struct mosquitto *mosq, int timeout_ms, uint64_t *next_read)
{
    struct pollfd pf[2] = {{.fd = mosquitto_socket(mosq), .events = POLLIN},
                           {.fd = m->wake_fd, .events = POLLIN}};
    int rc = MOSQ_ERR_SUCCESS;
    uint64_t now = fp_mono_ms();

    if (pf[0].fd < 0)
        return MOSQ_ERR_NO_CONN;
    if (now < *next_read) {
        /* Too soon after the last read: wait for the gap (or a write to do) first. */
        pf[0].events = 0;
        if ((uint64_t)timeout_ms > *next_read - now)
            timeout_ms = (int)(*next_read - now);
    }
    if (mosquitto_want_write(mosq))
        pf[0].events |= POLLOUT;
    int n = poll(pf, m->wake_fd >= 0 ? 2 : 1, timeout_ms);
    if (n < 0)
        return errno == EINTR ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ERRNO;
    if (n > 0 && (pf[1].revents & POLLIN)) {
        uint64_t v;
        if (read(m->wake_fd, &v, sizeof v) < 0 && errno != EAGAIN)
            fp_log_debug(MOD, "cannot read the wake event: %s", strerror(errno));
    }
    if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        *next_read = fp_mono_ms() + READ_GAP_MS;
        /* mosquitto_loop_read stops early when errno says EAGAIN, and a PUBACK callback
         * that publishes leaves exactly that behind (libmosquitto's wake-up write to its
         * full socket pair): read on while the socket holds bytes, or the gap would let
         * one PUBACK through per turn. */
        for (int round = 0; round < 64; round++) {
            int avail = 0;
            errno = 0;
            rc = mosquitto_loop_read(mosq, 1);
            if (rc || mosquitto_socket(mosq) < 0)
                return rc ? rc : MOSQ_ERR_CONN_LOST;
            if (ioctl(mosquitto_socket(mosq), FIONREAD, &avail) != 0 || avail <= 0)
                break;
        }
    }
    /* Callbacks (PUBACK -> pump, CONNACK -> subscribe) queue packets without writing. */
    if (mosquitto_want_write(mosq)) {
        rc = mosquitto_loop_write(mosq, 1);
        if (rc || mosquitto_socket(mosq) < 0)
            return rc ? rc : MOSQ_ERR_CONN_LOST;
    }
    return mosquitto_loop_misc(mosq);
}

static void *net_main(void *arg)
{
    fpc_mqtt *m = arg;
    uint64_t backoff = BACKOFF_MIN_MS, next_flush = 0;

    pthread_mutex_lock(&m->mu);
    while (!m->stop) {
        pthread_mutex_unlock(&m->mu);
        char err[256] = "";
        struct mosquitto *mosq = client_new(m, err, sizeof err);
        int rc = MOSQ_ERR_UNKNOWN;
        bool was_connected = false;
        if (!mosq) {
            pthread_mutex_lock(&m->mu);
            snprintf(m->last_error, sizeof m->last_error, "%s", err);
            pthread_mutex_unlock(&m->mu);
        } else {
            /* Asynchronous, so that a stop never waits for a TCP connect to time out (no
             * CONNECT properties needed: the protocol version is an option of the client). */
            rc = mosquitto_connect_bind_async(mosq, m->host, m->port, m->keepalive_s, NULL);
            if (rc) {
                pthread_mutex_lock(&m->mu);
                snprintf(m->last_error, sizeof m->last_error, "cannot connect to %s:%d: %s",
                         m->host, m->port,
                         rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
                pthread_mutex_unlock(&m->mu);
            }
        }
        if (mosq && rc == MOSQ_ERR_SUCCESS) {
            pthread_mutex_lock(&m->mu);
            m->mosq = mosq;
            m->refused = false;
            pthread_mutex_unlock(&m->mu);
            uint64_t next_pump = 0, connect_deadline = fp_mono_ms() + CONNECT_TIMEOUT_MS;
            bool own = false;     /* connected: our own poll loop */
            int timeout_ms = 100; /* of the next loop_step */
            uint64_t next_read = 0;
            for (;;) {
                rc =
                    own ? loop_step(m, mosq, timeout_ms, &next_read) : mosquitto_loop(mosq, 100, 1);
                pthread_mutex_lock(&m->mu);
                bool stop = m->stop, refused = m->refused;
                own = m->connected;
                was_connected = was_connected || m->connected;
                if (!was_connected && !refused && rc != MOSQ_ERR_SUCCESS)
                    snprintf(m->last_error, sizeof m->last_error, "cannot connect to %s:%d: %s",
                             m->host, m->port,
                             rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
                if (!was_connected && !refused && rc == MOSQ_ERR_SUCCESS &&
                    fp_mono_ms() > connect_deadline) {
                    snprintf(m->last_error, sizeof m->last_error,
                             "cannot connect to %s:%d: no CONNACK within %d s", m->host, m->port,
                             CONNECT_TIMEOUT_MS / 1000);
                    refused = true; /* give this attempt up */
                }
                settle_acks(m);
                /* Acks and publishes pump by themselves; this catches a deferred publish
                 * now and then without taking the lock on every packet. */
                if (rc == MOSQ_ERR_SUCCESS && !stop && !refused && fp_mono_ms() >= next_pump) {
                    pump(m);
                    next_pump = fp_mono_ms() + 100;
                }
                /* Acks the marker does not hold yet: written within about ACK_DELAY_MS. */
                timeout_ms = IDLE_POLL_MS;
                if (fpc_queue_flush_due(m->q)) {
                    uint64_t now = fp_mono_ms();
                    if (now >= next_flush) {
                        fpc_queue_flush(m->q);
                        next_flush = now + ACK_DELAY_MS;
                    } else {
                        timeout_ms = (int)(next_flush - now) + 1;
                    }
                }
                pthread_mutex_unlock(&m->mu);
                if (rc != MOSQ_ERR_SUCCESS || stop || refused)
                    break;
            }
            if (rc == MOSQ_ERR_SUCCESS && was_connected) {
                /* Stopping: say goodbye so the broker does not publish a will. */
                mosquitto_disconnect_v5(mosq, 0, NULL);
                for (int i = 0; i < 5 && mosquitto_loop(mosq, 50, 1) == MOSQ_ERR_SUCCESS; i++)
                    ;
            } /* a lost connection was logged by on_disconnect */
        }
        pthread_mutex_lock(&m->mu);
        if (m->connected || m->mosq) {
            m->connected = false;
            m->mosq = NULL;
            /* Forget what was in flight: the next connection starts from the head. */
            m->n_infl = 0;
            m->send_next = 0;
            pthread_cond_broadcast(&m->cv);
        }
        if (mosq) {
            /* Not under m->mu: destroying must never wait for a callback that takes it.
             * Under send_mu: a QoS 0 publish may still be using the client. */
            pthread_mutex_unlock(&m->mu);
            pthread_mutex_lock(&m->send_mu);
            mosquitto_destroy(mosq);
            pthread_mutex_unlock(&m->send_mu);
            drop_acks(m);
            pthread_mutex_lock(&m->mu);
        }
        fpc_queue_flush(m->q);
        if (m->stop)
            break;
        if (was_connected)
            backoff = BACKOFF_MIN_MS;
        else
            fp_log_warn(MOD, "%s; retrying in %" PRIu64 " ms", m->last_error, backoff);
        uint64_t until = fp_mono_ms() + backoff;
        while (!m->stop && fp_mono_ms() < until)
            fp_cond_wait_until(&m->cv, &m->mu, until);
        if (!was_connected)
            backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

/* ---- public API ---------------------------------------------------------------------- */

static int dup_opt(char **dst, const char *src)
{
    if (!src)
        return 0;
    *dst = fp_strdup(src);
    return *dst ? 0 : -1;
}

fpc_mqtt *fpc_mqtt_new(const fpc_mqtt_opts *opts, char *err, size_t err_len)
{
    fpc_mqtt *m = NULL;

    if (!opts || !opts->host || !*opts->host) {
        snprintf(err, err_len, "MQTT broker host is missing");
        return NULL;
    }
    if (opts->port <= 0 || opts->port > 65535) {
        snprintf(err, err_len, "MQTT broker port %d is out of range 1..65535", opts->port);
        return NULL;
    }
    if (opts->keepalive_s != 0 && (opts->keepalive_s < 5 || opts->keepalive_s > 65535)) {
        snprintf(err, err_len, "MQTT keepalive %d s is out of range 5..65535", opts->keepalive_s);
        return NULL;
    }
    if (opts->tls && !opts->cafile) {
        snprintf(err, err_len, "MQTT TLS needs a CA file (cafile)");
        return NULL;
    }
    if (!opts->queue_dir || !*opts->queue_dir) {
        snprintf(err, err_len, "MQTT queue directory is missing");
        return NULL;
    }
    pthread_once(&g_lib_once, lib_init);
    m = fp_calloc(1, sizeof *m);
    if (!m)
        goto out_nomem;
    m->wake_fd = -1;
    pthread_mutex_init(&m->mu, NULL);
    pthread_mutex_init(&m->send_mu, NULL);
    pthread_mutex_init(&m->ack_mu, NULL);
    m->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (m->wake_fd < 0) {
        snprintf(err, err_len, "cannot create an eventfd for the MQTT thread: %s", strerror(errno));
        goto out_free;
    }
    fp_cond_init(&m->cv);
    fpc_queue_item_init(&m->item);
    m->port = opts->port;
    m->keepalive_s = opts->keepalive_s ? opts->keepalive_s : 30;
    m->tls = opts->tls;
    if (dup_opt(&m->host, opts->host) || dup_opt(&m->client_id, opts->client_id) ||
        dup_opt(&m->username, opts->username) || dup_opt(&m->password, opts->password) ||
        dup_opt(&m->cafile, opts->cafile) || dup_opt(&m->certfile, opts->certfile) ||
        dup_opt(&m->keyfile, opts->keyfile))
        goto out_nomem;
    m->q = fpc_queue_open(opts->queue_dir, opts->queue_max_bytes, opts->queue_sync,
                          opts->drop_newest, err, err_len);
    if (!m->q)
        goto out_free;
    fpc_queue_set_ack_delay(m->q, ACK_DELAY_MS);
    return m;

out_nomem:
    snprintf(err, err_len, "out of memory creating the MQTT publisher");
out_free:
    fpc_mqtt_free(m, 0);
    return NULL;
}

int fpc_mqtt_start(fpc_mqtt *m)
{
    int rc;

    pthread_mutex_lock(&m->mu);
    if (m->started) {
        pthread_mutex_unlock(&m->mu);
        return 0;
    }
    rc = pthread_create(&m->thread, NULL, net_main, m);
    if (rc) {
        snprintf(m->last_error, sizeof m->last_error, "cannot start the MQTT thread: %s",
                 strerror(rc));
        fp_log_error(MOD, "%s", m->last_error);
        pthread_mutex_unlock(&m->mu);
        return -1;
    }
    m->started = true;
    pthread_mutex_unlock(&m->mu);
    return 0;
}

/* Reject what the broker would reject anyway, before it reaches the queue. */
static const char *check_msg(const fpc_msg *msg)
{
    if (!msg || !msg->topic || !*msg->topic)
        return "the topic is empty";
    if (msg->qos != 0 && msg->qos != 1)
        return "the QoS is not 0 or 1";
    if (mosquitto_pub_topic_check(msg->topic) != MOSQ_ERR_SUCCESS)
        return "the topic is not a valid publish topic (wildcards, or too long)";
    if (mosquitto_validate_utf8(msg->topic, (int)strlen(msg->topic)) != MOSQ_ERR_SUCCESS)
        return "the topic is not valid UTF-8";
    if (msg->len > FPC_MAX_PAYLOAD || (msg->len && !msg->payload))
        return "the payload is too large or missing";
    if (msg->correlation_len > 65535)
        return "the correlation data is longer than 65535 bytes";
    if (msg->n_props && !msg->props)
        return "user properties are missing";
    for (size_t i = 0; i < msg->n_props; i++) {
        if (!msg->props[i].key || !msg->props[i].value)
            return "a user property has no key or value";
    }
    return NULL;
}

int fpc_mqtt_publish(fpc_mqtt *m, const fpc_msg *msg)
{
    const char *bad = check_msg(msg);
    int rc;

    if (bad) {
        fp_log_error(MOD, "cannot publish to %s: %s", msg && msg->topic ? msg->topic : "(none)",
                     bad);
        pthread_mutex_lock(&m->mu);
        m->failed++;
        pthread_mutex_unlock(&m->mu);
        return -1;
    }
    if (msg->qos == 0) {
        mosquitto_property *props = NULL;
        int mrc = MOSQ_ERR_NO_CONN;
        pthread_mutex_lock(&m->send_mu);
        pthread_mutex_lock(&m->mu);
        struct mosquitto *mosq = m->connected ? m->mosq : NULL;
        pthread_mutex_unlock(&m->mu);
        if (mosq && build_props(msg, msg->expiry_s, &props) == 0) {
            tl_publishing = m;
            mrc = mosquitto_publish_v5(mosq, NULL, msg->topic, (int)msg->len, msg->payload, 0,
                                       msg->retain, props);
            tl_publishing = NULL;
            mosquitto_property_free_all(&props);
            after_send(m, mosq);
        }
        pthread_mutex_unlock(&m->send_mu);
        pthread_mutex_lock(&m->mu);
        if (mrc == MOSQ_ERR_SUCCESS) {
            m->published++;
            m->bytes_published += msg->len;
            observe_latency(m, (uint64_t)fp_time_now_ms());
            rc = 0;
        } else {
            m->failed++;
            rc = -1;
        }
        pthread_mutex_unlock(&m->mu);
        return rc;
    }

    uint64_t seq;
    rc = fpc_queue_append(m->q, msg, (uint64_t)fp_time_now_ms(), &seq);
    pthread_mutex_lock(&m->mu);
    if (rc == 0) {
        pump(m);
        after_send(m, m->connected ? m->mosq : NULL);
    } else if (rc < 0)
        m->failed++; /* FPC_QUEUE_FULL is counted by the queue as dropped */
    pthread_mutex_unlock(&m->mu);
    return rc == 0 ? 0 : -1;
}

int fpc_mqtt_subscribe(fpc_mqtt *m, const char *filter, fpc_mqtt_on_msg cb, void *arg)
{
    int rc = -1;

    if (!filter || !cb || mosquitto_sub_topic_check(filter) != MOSQ_ERR_SUCCESS) {
        fp_log_error(MOD, "cannot subscribe to %s: not a valid topic filter",
                     filter ? filter : "(none)");
        return -1;
    }
    pthread_mutex_lock(&m->mu);
    size_t i;
    for (i = 0; i < m->n_subs; i++) {
        if (strcmp(m->subs[i].filter, filter) == 0)
            break;
    }
    if (i == m->n_subs) {
        if (m->n_subs == m->cap_subs) {
            size_t ncap = m->cap_subs ? m->cap_subs * 2 : 8;
            sub *n = fp_realloc(m->subs, ncap * sizeof *n);
            if (!n)
                goto out;
            m->subs = n;
            m->cap_subs = ncap;
        }
        m->subs[i].filter = fp_strdup(filter);
        if (!m->subs[i].filter)
            goto out;
        m->n_subs++;
    }
    m->subs[i].cb = cb;
    m->subs[i].arg = arg;
    if (m->connected && m->mosq) {
        int src = mosquitto_subscribe_v5(m->mosq, NULL, filter, 1, 0, NULL);
        if (src)
            fp_log_error(MOD, "cannot subscribe to %s: %s (retried on reconnect)", filter,
                         mosquitto_strerror(src));
        after_send(m, m->mosq);
    }
    rc = 0;
out:
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int fpc_mqtt_unsubscribe(fpc_mqtt *m, const char *filter)
{
    int rc = -1;

    if (!filter)
        return -1;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n_subs; i++) {
        if (strcmp(m->subs[i].filter, filter) != 0)
            continue;
        if (m->connected && m->mosq) {
            mosquitto_unsubscribe_v5(m->mosq, NULL, filter, NULL);
            after_send(m, m->mosq);
        }
        fp_free(m->subs[i].filter);
        m->subs[i] = m->subs[--m->n_subs];
        rc = 0;
        break;
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

void fpc_mqtt_get_stats(fpc_mqtt *m, fpc_mqtt_stats *out)
{
    fpc_queue_stats qs;

    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&m->mu);
    fpc_queue_get_stats(m->q, &qs);
    out->published = m->published;
    out->failed = m->failed;
    out->dropped = qs.dropped;
    out->write_failed = qs.write_failed;
    out->write_errno = qs.write_errno;
    out->expired = m->expired;
    out->queued = qs.count;
    out->queued_bytes = qs.bytes;
    out->bytes_published = m->bytes_published;
    out->received = m->received;
    out->connected = m->connected;
    memcpy(out->latency_buckets, m->lat_buckets, sizeof out->latency_buckets);
    out->latency_sum_s = m->lat_sum_s;
    out->latency_count = m->lat_count;
    snprintf(out->last_error, sizeof out->last_error, "%s", m->last_error);
    pthread_mutex_unlock(&m->mu);
}

void fpc_mqtt_free(fpc_mqtt *m, int flush_ms)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    if (m->started) {
        uint64_t deadline = fp_mono_ms() + (flush_ms > 0 ? (uint64_t)flush_ms : 0);
        fpc_queue_stats qs;
        for (;;) {
            fpc_queue_get_stats(m->q, &qs);
            uint64_t now = fp_mono_ms();
            if (!m->connected || qs.count == 0 || now >= deadline)
                break;
            fp_cond_wait_ms(&m->cv, &m->mu, deadline - now < 50 ? deadline - now : 50);
        }
        if (qs.count)
            fp_log_info(MOD, "%" PRIu64 " messages stay queued in the disk queue", qs.count);
        m->stop = true;
        pthread_cond_broadcast(&m->cv);
        wake_net(m);
        pthread_mutex_unlock(&m->mu);
        pthread_join(m->thread, NULL);
        pthread_mutex_lock(&m->mu);
    }
    pthread_mutex_unlock(&m->mu);
    fpc_queue_close(m->q);
    if (m->wake_fd >= 0)
        close(m->wake_fd);
    fpc_queue_item_clear(&m->item);
    for (size_t i = 0; i < m->n_subs; i++)
        fp_free(m->subs[i].filter);
    fp_free(m->subs);
    fp_free(m->host);
    fp_free(m->client_id);
    fp_free(m->username);
    fp_free(m->password);
    fp_free(m->cafile);
    fp_free(m->certfile);
    fp_free(m->keyfile);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->send_mu);
    pthread_mutex_destroy(&m->ack_mu);
    fp_free(m->acks);
    fp_free(m->acks_spare);
    pthread_mutex_destroy(&m->mu);
    fp_free(m);
}
