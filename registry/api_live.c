/*
 * api_live.c - live data for the web UI: the latest messages of an asset's
 * datasets, events and streams, as server-sent events.
 *
 * GET /api/v1/namespaces/{ns}/assets/{name}/live subscribes (on demand, with a
 * reference count per topic) to the MQTT topics of the asset's destinations on
 * the broker given by --broker, and streams each message that arrives as
 *   data: {"topic", "source": "dataset/<name>" | "event/<group>/<name>" | ...,
 *          "payload": <JSON or string>, "receivedAt"}
 * The last message seen on each topic is replayed to a new viewer at once, so
 * a page shows the current state without waiting for the next sample. An idle
 * stream gets a comment line every 15 s.
 *
 * One libmosquitto client per registry, run by libmosquitto's own thread.
 */
#include "api.h"

#include <mosquitto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fp_alloc.h"
#include "fp_cond.h"
#include "fp_log.h"
#include "fp_time.h"

#define LIVE_MAX_TOPICS 64
#define LIVE_MAX_PAYLOAD (256 * 1024)
#define LIVE_MAX_QUEUE (4u << 20)

typedef struct live_topic {
    char *topic;      /* the subscription (may hold wildcards) */
    char *last_topic; /* the last message seen on it: topic, payload, time */
    char *last_payload;
    int last_len;
    bool last_retain;
    char last_time[40];
    int refs;
    struct live_topic *next;
} live_topic;

typedef struct live_viewer {
    struct live_state *ls;
    char *topics[LIVE_MAX_TOPICS];
    char *sources[LIVE_MAX_TOPICS];
    int n_topics;
    fp_buf queue;
    size_t off;
    unsigned long n_dropped; /* messages not queued because the viewer lagged */
    fp_token_hold hold;      /* the viewer's token, rechecked while the stream is open */
    bool revoked;            /* it was revoked: the error event is the last one */
    struct live_viewer *next;
} live_viewer;

typedef struct live_state {
    struct mosquitto *mosq;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    live_topic *topics;
    live_viewer *viewers;
    bool connected;
    bool stopping;
    char host[256];
    int port;
} live_state;

/* ---------------------------------------------------------------------------
 * MQTT side
 * ------------------------------------------------------------------------- */

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    live_state *ls = obj;
    if (rc != 0) {
        fp_log_warn("live", "broker %s:%d refused the connection: %s", ls->host, ls->port,
                    mosquitto_connack_string(rc));
        return;
    }
    pthread_mutex_lock(&ls->lock);
    ls->connected = true;
    /* Subscriptions do not survive a reconnect with a clean session. */
    for (live_topic *t = ls->topics; t; t = t->next)
        mosquitto_subscribe(mosq, NULL, t->topic, 0);
    pthread_mutex_unlock(&ls->lock);
    fp_log_info("live", "connected to broker %s:%d", ls->host, ls->port);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
    live_state *ls = obj;
    pthread_mutex_lock(&ls->lock);
    ls->connected = false;
    pthread_mutex_unlock(&ls->lock);
    if (!ls->stopping)
        fp_log_warn("live", "lost the broker %s:%d; reconnecting", ls->host, ls->port);
}

/* The SSE event for one message (new string, caller frees). */
static char *make_event(const char *topic, const void *data, int len, bool retain,
                        const char *source, const char *time)
{
    json_t *payload = NULL, *ev;
    char *text, *out;
    size_t n;

    if (len > 0 && len <= LIVE_MAX_PAYLOAD)
        payload = json_loadb(data, (size_t)len, JSON_DECODE_ANY, NULL);
    if (!payload && len <= LIVE_MAX_PAYLOAD)
        payload = json_stringn(data ? data : "", (size_t)(len > 0 ? len : 0));
    if (!payload) {
        char note[64];
        snprintf(note, sizeof note, "<%d bytes of binary data>", len);
        payload = json_string(note);
    }
    ev = json_pack("{s:s, s:s?, s:o, s:s, s:b}", "topic", topic, "source", source, "payload",
                   payload, "receivedAt", time, "retained", retain);
    text = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    if (!text)
        return NULL;
    n = strlen(text) + 16;
    out = fp_malloc(n);
    if (out)
        snprintf(out, n, "data: %s\n\n", text);
    free(text);
    return out;
}

/* Queue an event for a viewer, or count it as dropped when the viewer lags. */
static void queue_event(live_viewer *v, char *ev)
{
    if (!ev)
        return;
    if (v->revoked) {
        fp_free(ev);
        return;
    }
    if (v->queue.len + strlen(ev) > v->queue.max_len || fp_buf_append_str(&v->queue, ev) != FP_OK) {
        if (v->queue.err) /* the buffer freed itself: start it again, empty */
            fp_buf_init(&v->queue, LIVE_MAX_QUEUE), v->off = 0;
        v->n_dropped++;
    }
    fp_free(ev);
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
    live_state *ls = obj;
    char now[40];

    fp_time_now_rfc3339(now);
    pthread_mutex_lock(&ls->lock);
    for (live_topic *t = ls->topics; t; t = t->next) {
        bool match = false;
        if (mosquitto_topic_matches_sub(t->topic, msg->topic, &match) == MOSQ_ERR_SUCCESS &&
            match && msg->payloadlen <= LIVE_MAX_PAYLOAD) {
            char *topic = fp_strdup(msg->topic);
            char *payload = fp_malloc((size_t)msg->payloadlen + 1);
            if (topic && payload) {
                memcpy(payload, msg->payload ? msg->payload : "", (size_t)msg->payloadlen);
                fp_free(t->last_topic);
                fp_free(t->last_payload);
                t->last_topic = topic;
                t->last_payload = payload;
                t->last_len = msg->payloadlen;
                t->last_retain = msg->retain;
                snprintf(t->last_time, sizeof t->last_time, "%s", now);
            } else {
                fp_free(topic);
                fp_free(payload);
            }
        }
    }
    for (live_viewer *v = ls->viewers; v; v = v->next) {
        for (int i = 0; i < v->n_topics; i++) {
            bool match = false;
            if (mosquitto_topic_matches_sub(v->topics[i], msg->topic, &match) == MOSQ_ERR_SUCCESS &&
                match) {
                queue_event(v, make_event(msg->topic, msg->payload, msg->payloadlen, msg->retain,
                                          v->sources[i], now));
                break;
            }
        }
    }
    pthread_cond_broadcast(&ls->cond);
    pthread_mutex_unlock(&ls->lock);
}

/* Parse mqtt://host:port (1883 by default). */
static bool parse_broker(const char *url, char *host, size_t host_len, int *port)
{
    const char *p = url, *colon;
    if (strncmp(p, "mqtt://", 7) == 0)
        p += 7;
    else if (strncmp(p, "tcp://", 6) == 0)
        p += 6;
    colon = strrchr(p, ':');
    *port = 1883;
    if (colon) {
        *port = atoi(colon + 1);
        snprintf(host, host_len, "%.*s", (int)(colon - p), p);
    } else {
        snprintf(host, host_len, "%s", p);
    }
    host[strcspn(host, "/")] = '\0';
    return host[0] && *port > 0 && *port < 65536;
}

fp_status fp_live_start(fp_registry *reg)
{
    live_state *ls;

    if (!reg->opts.broker_url)
        return FP_OK;
    ls = fp_calloc(1, sizeof *ls);
    if (!ls)
        return FP_ERR_NOMEM;
    if (!parse_broker(reg->opts.broker_url, ls->host, sizeof ls->host, &ls->port)) {
        fp_log_error("live", "--broker '%s' is not mqtt://HOST:PORT; live data is off",
                     reg->opts.broker_url);
        fp_free(ls);
        return FP_ERR_INVALID;
    }
    pthread_mutex_init(&ls->lock, NULL);
    fp_cond_init(&ls->cond);
    mosquitto_lib_init();
    ls->mosq = mosquitto_new(NULL, true, ls);
    if (!ls->mosq) {
        fp_free(ls);
        return FP_ERR_NOMEM;
    }
    mosquitto_connect_callback_set(ls->mosq, on_connect);
    mosquitto_disconnect_callback_set(ls->mosq, on_disconnect);
    mosquitto_message_callback_set(ls->mosq, on_message);
    mosquitto_reconnect_delay_set(ls->mosq, 1, 30, true);
    if (mosquitto_connect_async(ls->mosq, ls->host, ls->port, 30) != MOSQ_ERR_SUCCESS)
        fp_log_warn("live", "broker %s:%d not reachable yet; retrying in the background", ls->host,
                    ls->port);
    mosquitto_loop_start(ls->mosq);
    reg->live = ls;
    return FP_OK;
}

void fp_live_signal_stop(fp_registry *reg)
{
    live_state *ls = reg->live;
    if (!ls)
        return;
    pthread_mutex_lock(&ls->lock);
    ls->stopping = true;
    pthread_cond_broadcast(&ls->cond);
    pthread_mutex_unlock(&ls->lock);
}

void fp_live_stop(fp_registry *reg)
{
    live_state *ls = reg->live;
    if (!ls)
        return;
    fp_live_signal_stop(reg);
    mosquitto_disconnect(ls->mosq);
    mosquitto_loop_stop(ls->mosq, true);
    mosquitto_destroy(ls->mosq);
    mosquitto_lib_cleanup();
    reg->live = NULL;
    /* The HTTP server has stopped: no viewer is left. */
    for (live_topic *t = ls->topics, *next; t; t = next) {
        next = t->next;
        fp_free(t->topic);
        fp_free(t->last_topic);
        fp_free(t->last_payload);
        fp_free(t);
    }
    pthread_mutex_destroy(&ls->lock);
    pthread_cond_destroy(&ls->cond);
    fp_free(ls);
}

/* ---------------------------------------------------------------------------
 * Topics of an asset
 * ------------------------------------------------------------------------- */

/* A JSON string's text, or "?" for anything else. */
static const char *str_or(const json_t *j)
{
    return json_is_string(j) ? json_string_value(j) : "?";
}

/* Add the Mqtt topics of a destinations array, labelled with source. */
static void add_topics(live_viewer *v, const json_t *dests, const char *source)
{
    size_t i;
    json_t *d;

    json_array_foreach(dests, i, d)
    {
        const char *target = json_string_value(json_object_get(d, "target"));
        const char *topic =
            json_string_value(json_object_get(json_object_get(d, "configuration"), "topic"));
        bool dup = false;
        if (!target || strcmp(target, "Mqtt") != 0 || !topic || !*topic ||
            v->n_topics == LIVE_MAX_TOPICS)
            continue;
        for (int k = 0; k < v->n_topics; k++)
            dup = dup || strcmp(v->topics[k], topic) == 0;
        if (dup)
            continue;
        v->topics[v->n_topics] = fp_strdup(topic);
        v->sources[v->n_topics] = fp_strdup(source);
        if (v->topics[v->n_topics] && v->sources[v->n_topics])
            v->n_topics++;
    }
}

/* Collect every topic the asset publishes to, with defaults applied. */
static void asset_topics(live_viewer *v, const json_t *props)
{
    static const struct {
        const char *list, *dflt, *kind;
    } k_lists[] = {
        {"datasets", "defaultDatasetsDestinations", "dataset"},
        {"streams", "defaultStreamsDestinations", "stream"},
    };
    char source[300];
    size_t i, j;
    json_t *e, *ev;

    for (size_t l = 0; l < sizeof k_lists / sizeof k_lists[0]; l++) {
        json_array_foreach(json_object_get(props, k_lists[l].list), i, e)
        {
            const json_t *dests = json_object_get(e, "destinations");
            snprintf(source, sizeof source, "%s/%s", k_lists[l].kind,
                     str_or(json_object_get(e, "name")));
            add_topics(v, json_array_size(dests) ? dests : json_object_get(props, k_lists[l].dflt),
                       source);
        }
    }
    json_array_foreach(json_object_get(props, "eventGroups"), i, e)
    {
        const char *group = str_or(json_object_get(e, "name"));
        json_array_foreach(json_object_get(e, "events"), j, ev)
        {
            const json_t *dests = json_object_get(ev, "destinations");
            if (!json_array_size(dests))
                dests = json_object_get(e, "defaultDestinations");
            if (!json_array_size(dests))
                dests = json_object_get(props, "defaultEventsDestinations");
            snprintf(source, sizeof source, "event/%s/%s", group,
                     str_or(json_object_get(ev, "name")));
            add_topics(v, dests, source);
        }
    }
}

/* ---------------------------------------------------------------------------
 * The stream
 * ------------------------------------------------------------------------- */

/* End the viewer's stream with an error event: its token was revoked. Under ls->lock. */
static void live_revoke(live_viewer *v)
{
    fp_buf_reset(&v->queue);
    v->off = 0;
    v->n_dropped = 0;
    fp_buf_append_str(&v->queue,
                      "event: error\ndata: {\"code\":\"Unauthorized\",\"message\":\"the token "
                      "of this stream was revoked\"}\n\n");
    v->revoked = true;
}

/*
 * Wait for something to send, a keep-alive at most 15 s on. The wait is cut into
 * FP_TOKEN_RECHECK_MS slices to recheck the viewer's token (outside ls->lock, as the
 * store has its own), so a revoked token's stream ends within a second.
 */
static ssize_t live_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    live_viewer *v = cls;
    live_state *ls = v->ls;
    uint64_t keepalive_at = fp_mono_ms() + 15000;
    ssize_t n = 0;

    pthread_mutex_lock(&ls->lock);
    for (;;) {
        uint64_t now, until;
        if (!v->revoked) {
            bool revoked;
            pthread_mutex_unlock(&ls->lock);
            revoked = fp_token_hold_revoked(&v->hold);
            pthread_mutex_lock(&ls->lock);
            if (revoked)
                live_revoke(v);
        }
        if (v->off < v->queue.len || ls->stopping || v->revoked)
            break;
        now = fp_mono_ms();
        if (now >= keepalive_at)
            break;
        until = now + FP_TOKEN_RECHECK_MS < keepalive_at ? now + FP_TOKEN_RECHECK_MS : keepalive_at;
        fp_cond_wait_until(&ls->cond, &ls->lock, until);
    }
    if (v->n_dropped && v->off >= v->queue.len && !ls->stopping) {
        /* Tell the page it missed messages because it read too slowly. */
        fp_buf_reset(&v->queue);
        v->off = 0;
        fp_buf_printf(&v->queue, "event: dropped\ndata: {\"count\":%lu}\n\n", v->n_dropped);
        v->n_dropped = 0;
    }
    if (ls->stopping || (v->revoked && v->off >= v->queue.len)) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else if (v->off < v->queue.len) {
        size_t len = v->queue.len - v->off;
        if (len > max)
            len = max;
        memcpy(buf, v->queue.data + v->off, len);
        v->off += len;
        if (v->off == v->queue.len) {
            fp_buf_reset(&v->queue);
            v->off = 0;
        }
        n = (ssize_t)len;
    } else {
        static const char k_ping[] = ": keep-alive\n\n";
        n = (ssize_t)(sizeof k_ping - 1 < max ? sizeof k_ping - 1 : max);
        memcpy(buf, k_ping, (size_t)n);
    }
    pthread_mutex_unlock(&ls->lock);
    return n;
}

static void live_free(void *cls)
{
    live_viewer *v = cls;
    live_state *ls = v->ls;

    pthread_mutex_lock(&ls->lock);
    for (live_viewer **pp = &ls->viewers; *pp; pp = &(*pp)->next)
        if (*pp == v) {
            *pp = v->next;
            break;
        }
    for (int i = 0; i < v->n_topics; i++) {
        for (live_topic **pp = &ls->topics; *pp; pp = &(*pp)->next) {
            live_topic *t = *pp;
            if (strcmp(t->topic, v->topics[i]) != 0)
                continue;
            if (--t->refs == 0) {
                if (!ls->stopping)
                    mosquitto_unsubscribe(ls->mosq, NULL, t->topic);
                *pp = t->next;
                fp_free(t->topic);
                fp_free(t->last_topic);
                fp_free(t->last_payload);
                fp_free(t);
            }
            break;
        }
        fp_free(v->topics[i]);
        fp_free(v->sources[i]);
    }
    pthread_mutex_unlock(&ls->lock);
    fp_buf_clear(&v->queue);
    fp_free(v);
}

void fp_api_live(fp_req *q, fp_resp *r)
{
    live_state *ls = q->reg->live;
    const char *ns = q->seg[3], *name = q->seg[5];
    live_viewer *v;
    fp_rec rec;
    json_t *doc;

    if (strcmp(q->method, "GET") != 0) {
        fp_resp_error(r, 405, "MethodNotAllowed", NULL, NULL, "live data is GET only");
        return;
    }
    if (!fp_req_can(q, "read", ns, r))
        return;
    if (!ls) {
        fp_resp_error(r, 503, "Unavailable", NULL, NULL,
                      "live data needs the registry to know the broker: start it with --broker "
                      "mqtt://HOST:PORT (fieldplane up does)");
        return;
    }
    if (fp_store_get(q->reg->store, FP_KIND_ASSET, ns, name, &rec) != FP_OK) {
        fp_resp_error(r, 404, "NotFound", NULL, NULL, "asset '%s' not found in namespace '%s'",
                      name, ns);
        return;
    }
    doc = json_loadb(rec.doc, rec.doc_len, 0, NULL);
    fp_rec_clear(&rec);
    v = fp_calloc(1, sizeof *v);
    if (!v || !doc) {
        fp_free(v);
        json_decref(doc);
        fp_resp_status(r, FP_ERR_NOMEM, "out of memory");
        return;
    }
    v->ls = ls;
    fp_token_hold_init(&v->hold, q);
    fp_buf_init(&v->queue, LIVE_MAX_QUEUE);
    asset_topics(v, json_object_get(doc, "properties"));
    json_decref(doc);

    pthread_mutex_lock(&ls->lock);
    /* Tell the page what it is watching, then replay the last known messages. */
    {
        json_t *hello = json_pack("{s:s, s:[]}", "type", "topics", "topics");
        char *text;
        for (int i = 0; i < v->n_topics; i++)
            json_array_append_new(
                json_object_get(hello, "topics"),
                json_pack("{s:s, s:s}", "topic", v->topics[i], "source", v->sources[i]));
        json_object_set_new(hello, "brokerConnected", json_boolean(ls->connected));
        text = json_dumps(hello, JSON_COMPACT);
        fp_buf_printf(&v->queue, "event: topics\ndata: %s\n\n", text ? text : "{}");
        free(text);
        json_decref(hello);
    }
    for (int i = 0; i < v->n_topics; i++) {
        live_topic *t;
        for (t = ls->topics; t && strcmp(t->topic, v->topics[i]) != 0; t = t->next)
            ;
        if (!t) {
            t = fp_calloc(1, sizeof *t);
            if (!t || !(t->topic = fp_strdup(v->topics[i]))) {
                fp_free(t);
                continue;
            }
            t->next = ls->topics;
            ls->topics = t;
            mosquitto_subscribe(ls->mosq, NULL, t->topic, 0);
        }
        t->refs++;
        if (t->last_topic)
            queue_event(v, make_event(t->last_topic, t->last_payload, t->last_len, t->last_retain,
                                      v->sources[i], t->last_time));
    }
    v->next = ls->viewers;
    ls->viewers = v;
    pthread_mutex_unlock(&ls->lock);

    r->stream =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, live_read, v, live_free);
    if (!r->stream) {
        live_free(v);
        fp_resp_status(r, FP_ERR_NOMEM, "out of memory");
        return;
    }
    MHD_add_response_header(r->stream, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    r->status = 200;
}
