/*
 * rt_actions.c - management action requests and replies over MQTT 5.
 *
 * A request arrives on the action's topic with a response topic and correlation data. It
 * is handed to the connector's action_call on the asset's strand (so it never races the
 * asset's other callbacks), and the connector answers with fp_action_reply/fp_action_fail
 * now or later, from any thread. The deadline (the action's timeoutInSeconds) is kept by
 * this file's own timer thread, not by the strand: a connector that never answers gets a
 * 504 sent for it, and a late answer is dropped. One slow action never holds up another.
 *
 * Several actions of a management group may share a topic (the group's defaultTopic). The
 * runtime subscribes once per topic; when more than one action listens on it, the request
 * names its action in the user property "action".
 *
 * A request is shared by the connector (until it answers) and the pending list (until
 * anyone answers), so it carries a reference count; the first answer wins.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fp_alloc.h"
#include "fp_cond.h"
#include "fp_log.h"
#include "fp_model.h"
#include "fp_time.h"
#include "rt_internal.h"

#define MOD "actions"

typedef struct topic_sub {
    char *topic;
    rt_action **acts;
    size_t n_acts, cap;
    bool subscribed;
    struct rt_actions *A;
    struct topic_sub *next;
} topic_sub;

struct fp_action_req {
    struct rt_actions *A;
    rt_action *ac; /* valid while !answered (unsubscribe answers every request first) */
    char name[256];
    char *payload;
    size_t len;
    char *resp_topic;
    void *corr;
    size_t corr_len;
    int64_t deadline_ms;
    bool answered;
    int refs;
    fp_action_req *next; /* pending list */
};

struct rt_actions {
    fp_rt *rt;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t timer;
    bool timer_started;
    bool stop;
    topic_sub *topics;
    fp_action_req *pending;
    int cb_inflight; /* on_request calls running (g_mu) */
};

/* The MQTT client may still run a callback it picked before an unsubscribe returned, so a
 * callback first checks, under g_mu, that the actions module still exists and counts
 * itself in; rt_actions_stop waits for those to finish before freeing anything. */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static struct rt_actions *g_A;

static void req_free(fp_action_req *r)
{
    fp_free(r->payload);
    fp_free(r->resp_topic);
    fp_free(r->corr);
    fp_free(r);
}

/* Drop one reference (caller does not hold A->mu). */
static void req_unref(fp_action_req *r)
{
    struct rt_actions *A = r->A;
    bool last;

    pthread_mutex_lock(&A->mu);
    last = --r->refs == 0;
    pthread_mutex_unlock(&A->mu);
    if (last)
        req_free(r);
}

/* Take r off the pending list (caller holds A->mu). */
static void pending_remove(struct rt_actions *A, fp_action_req *r)
{
    for (fp_action_req **pp = &A->pending; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            r->next = NULL;
            return;
        }
    }
}

/* Publish the response of r (answered already, so nothing else sends one). */
static void send_response(fp_action_req *r, int status, const char *status_msg, const char *payload,
                          size_t len)
{
    fp_rt *rt = r->A->rt;
    char id[37], now[40], st[16];
    fpc_prop props[4];
    fpc_msg m = {0};

    fp_uuid4(id);
    fp_time_now_rfc3339(now);
    snprintf(st, sizeof st, "%d", status);
    props[0] = (fpc_prop){"status", st};
    props[1] = (fpc_prop){"statusMessage", status_msg ? status_msg : ""};
    props[2] = (fpc_prop){"id", id};
    props[3] = (fpc_prop){"time", now};
    m.topic = r->resp_topic;
    m.payload = payload;
    m.len = len;
    m.qos = 1;
    m.content_type = "application/json";
    m.props = props;
    m.n_props = 4;
    m.correlation = r->corr;
    m.correlation_len = r->corr_len;
    if (!rt->mqtt || fpc_mqtt_publish(rt->mqtt, &m) != 0)
        fp_log_warn(MOD, "the response of action %s (status %d) to %s could not be queued", r->name,
                    status, r->resp_topic);
}

/* The error body {"error":{"code","message"}} and its response. */
static void send_error(fp_action_req *r, int status, const char *code, const char *msg)
{
    json_t *e = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
    char *body = e ? json_dumps(e, JSON_COMPACT) : NULL;

    send_response(r, status, msg, body ? body : "", body ? strlen(body) : 0);
    free(body);
    json_decref(e);
}

/* Claim the right to answer r: false when someone answered already. On true the pending
 * list's reference moves to the caller, who drops it after sending. */
static bool claim(fp_action_req *r)
{
    struct rt_actions *A = r->A;
    bool ok;

    pthread_mutex_lock(&A->mu);
    ok = !r->answered;
    if (ok) {
        r->answered = true;
        pending_remove(A, r);
    }
    pthread_mutex_unlock(&A->mu);
    return ok;
}

const char *fp_action_req_payload(const fp_action_req *req, size_t *len)
{
    if (len)
        *len = req ? req->len : 0;
    return req && req->payload ? req->payload : "";
}

void fp_action_reply(fp_action_req *req, const char *payload, size_t len)
{
    if (!req)
        return;
    if (claim(req)) {
        send_response(req, 200, "OK", payload ? payload : "", payload ? len : 0);
        req_unref(req); /* the pending list's */
    } else {
        fp_log_info(MOD, "late reply to action %s dropped (answered already, e.g. timed out)",
                    req->name);
    }
    req_unref(req); /* the connector's */
}

void fp_action_fail(fp_action_req *req, int http_status, const char *code, const char *fmt, ...)
{
    char msg[512] = "";
    va_list ap;

    if (!req)
        return;
    if (fmt) {
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
    }
    if (http_status < 400 || http_status > 599)
        http_status = 500;
    if (claim(req)) {
        send_error(req, http_status, code && *code ? code : "ActionFailed", msg);
        req_unref(req);
    } else {
        fp_log_info(MOD, "late failure of action %s dropped (%s: %s)", req->name, code ? code : "",
                    msg);
    }
    req_unref(req);
}

/* On the asset's strand: hand the request to the connector unless it was answered. */
static void call_on_strand(void *arg)
{
    fp_action_req *r = arg;
    struct rt_actions *A = r->A;
    rt_action *ac = NULL;

    pthread_mutex_lock(&A->mu);
    if (!r->answered)
        ac = r->ac;
    pthread_mutex_unlock(&A->mu);
    /* Not answered means not unsubscribed: removal runs on this strand, after us. */
    if (ac && A->rt->conn->action_call) {
        A->rt->conn->action_call(&ac->pub, r);
        return; /* the connector now holds its reference */
    }
    req_unref(r);
}

static const char *msg_prop(const fpc_msg *m, const char *key)
{
    for (size_t i = 0; i < m->n_props; i++)
        if (m->props[i].key && !strcmp(m->props[i].key, key))
            return m->props[i].value;
    return NULL;
}

static void on_request_locked(struct rt_actions *A, topic_sub *ts, const fpc_msg *m);

/* A request on a subscribed topic (the MQTT thread). */
static void on_request(const fpc_msg *m, void *arg)
{
    struct rt_actions *A;

    pthread_mutex_lock(&g_mu);
    A = g_A;
    if (A)
        A->cb_inflight++;
    pthread_mutex_unlock(&g_mu);
    if (!A)
        return; /* stopped: arg may be gone */
    on_request_locked(A, arg, m);
    pthread_mutex_lock(&g_mu);
    if (--A->cb_inflight == 0)
        pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
}

static void on_request_locked(struct rt_actions *A, topic_sub *ts, const fpc_msg *m)
{
    const char *want = msg_prop(m, "action");
    fp_action_req *r;
    rt_action *ac = NULL;
    int err_status = 0;
    char err_code[64] = "", err_msg[512] = "";

    if (!m->response_topic || !*m->response_topic) {
        fp_log_warn(MOD, "request on %s without a response topic dropped", m->topic);
        return;
    }
    r = fp_calloc(1, sizeof *r);
    if (!r)
        return;
    r->A = A;
    r->refs = 2; /* the connector's and the pending list's */
    r->resp_topic = fp_strdup(m->response_topic);
    r->payload = fp_malloc(m->len + 1);
    if (m->correlation_len) {
        r->corr = fp_malloc(m->correlation_len);
        if (r->corr)
            memcpy(r->corr, m->correlation, m->correlation_len);
        r->corr_len = m->correlation_len;
    }
    if (!r->resp_topic || !r->payload || (m->correlation_len && !r->corr)) {
        req_free(r);
        return;
    }
    if (m->len) /* an empty request has no payload pointer */
        memcpy(r->payload, m->payload, m->len);
    r->payload[m->len] = '\0';
    r->len = m->len;

    pthread_mutex_lock(&A->mu);
    if (ts->n_acts == 1 && (!want || !strcmp(want, ts->acts[0]->pub.name))) {
        ac = ts->acts[0];
    } else {
        for (size_t i = 0; want && i < ts->n_acts; i++)
            if (!strcmp(ts->acts[i]->pub.name, want))
                ac = ts->acts[i];
    }
    if (!ac) {
        if (ts->n_acts == 0) {
            err_status = 503;
            snprintf(err_code, sizeof err_code, "ActionRemoved");
            snprintf(err_msg, sizeof err_msg, "no action listens on %s any more", ts->topic);
        } else if (want) {
            err_status = 404;
            snprintf(err_code, sizeof err_code, "ActionNotFound");
            snprintf(err_msg, sizeof err_msg, "no action named '%s' listens on %s", want,
                     ts->topic);
        } else {
            err_status = 400;
            snprintf(err_code, sizeof err_code, "AmbiguousAction");
            snprintf(err_msg, sizeof err_msg,
                     "%zu actions listen on %s: name one in the user property 'action'", ts->n_acts,
                     ts->topic);
        }
        snprintf(r->name, sizeof r->name, "%s", want ? want : ts->topic);
    } else {
        snprintf(r->name, sizeof r->name, "%s/%s", ac->pub.group ? ac->pub.group : "",
                 ac->pub.name);
        if (!A->rt->conn->action_call) {
            err_status = 400;
            snprintf(err_code, sizeof err_code, "ActionNotSupported");
            snprintf(err_msg, sizeof err_msg, "the %s connector does not run management actions",
                     A->rt->conn->name ? A->rt->conn->name : "");
        } else {
            rt_strand *s = RT_OF(ac->pub.asset, rt_asset, pub)->ep
                               ? RT_OF(ac->pub.asset, rt_asset, pub)->ep->strand
                               : NULL;
            r->ac = ac;
            r->deadline_ms =
                fp_mono_ms() + 1000LL * (ac->pub.timeout_s > 0 ? ac->pub.timeout_s
                                                               : FP_MODEL_ACTION_TIMEOUT_DEFAULT_S);
            r->next = A->pending;
            A->pending = r;
            /* Posted under the lock so unsubscribe (which takes it) cannot slip between. */
            if (!s || rt_strand_post(s, call_on_strand, r) != 0) {
                pending_remove(A, r);
                r->ac = NULL;
                err_status = 503;
                snprintf(err_code, sizeof err_code, "ShuttingDown");
                snprintf(err_msg, sizeof err_msg, "the connector is shutting down");
            }
        }
    }
    if (err_status)
        r->answered = true;
    pthread_cond_signal(&A->cv);
    pthread_mutex_unlock(&A->mu);

    if (err_status) {
        send_error(r, err_status, err_code, err_msg);
        req_free(r);
    }
}

/* The deadline keeper. */
static void *timer_main(void *arg)
{
    struct rt_actions *A = arg;

    pthread_mutex_lock(&A->mu);
    while (!A->stop) {
        int64_t now = fp_mono_ms(), next = now + 1000;
        fp_action_req *expired = NULL;

        for (fp_action_req **pp = &A->pending; *pp;) {
            fp_action_req *r = *pp;
            if (r->deadline_ms <= now) {
                *pp = r->next;
                r->answered = true;
                r->next = expired;
                expired = r;
            } else {
                if (r->deadline_ms < next)
                    next = r->deadline_ms;
                pp = &r->next;
            }
        }
        if (expired) {
            pthread_mutex_unlock(&A->mu);
            while (expired) {
                fp_action_req *r = expired;
                char msg[320];
                expired = r->next;
                snprintf(msg, sizeof msg, "action %s did not answer within its timeout", r->name);
                fp_log_warn(MOD, "%s", msg);
                send_error(r, 504, "Timeout", msg);
                req_unref(r);
            }
            pthread_mutex_lock(&A->mu);
            continue;
        }
        fp_cond_wait_until(&A->cv, &A->mu, (uint64_t)next);
    }
    pthread_mutex_unlock(&A->mu);
    return NULL;
}

int rt_action_subscribe(rt_action *ac)
{
    fp_rt *rt = fp_rt_get();
    struct rt_actions *A = rt ? rt->actions : NULL;
    const char *topic = ac->pub.topic;
    topic_sub *ts;
    bool need;

    if (!topic || !*topic) {
        pthread_mutex_lock(&ac->lock);
        rt_error_set(&ac->error, "MissingTopic",
                     "the action has no topic: set its topic or the management group's "
                     "defaultTopic");
        pthread_mutex_unlock(&ac->lock);
        return -1;
    }
    if (!A || !rt->mqtt) {
        pthread_mutex_lock(&ac->lock);
        rt_error_set(&ac->error, "Unavailable", "management actions are not running");
        pthread_mutex_unlock(&ac->lock);
        return -1;
    }
    pthread_mutex_lock(&A->mu);
    for (ts = A->topics; ts; ts = ts->next)
        if (!strcmp(ts->topic, topic))
            break;
    if (!ts) {
        ts = fp_calloc(1, sizeof *ts);
        if (!ts || !(ts->topic = fp_strdup(topic))) {
            fp_free(ts);
            pthread_mutex_unlock(&A->mu);
            return -1;
        }
        ts->A = A;
        ts->next = A->topics;
        A->topics = ts;
    }
    if (ts->n_acts == ts->cap) {
        size_t cap = ts->cap ? ts->cap * 2 : 2;
        rt_action **n = fp_realloc(ts->acts, cap * sizeof *n);
        if (!n) {
            pthread_mutex_unlock(&A->mu);
            return -1;
        }
        ts->acts = n;
        ts->cap = cap;
    }
    ts->acts[ts->n_acts++] = ac;
    need = !ts->subscribed;
    ts->subscribed = true;
    pthread_mutex_unlock(&A->mu);

    /* The topic_sub lives until rt_actions_stop, so the callback's arg stays valid. */
    if (need && fpc_mqtt_subscribe(rt->mqtt, topic, on_request, ts) != 0) {
        pthread_mutex_lock(&A->mu);
        ts->subscribed = false;
        for (size_t i = 0; i < ts->n_acts; i++)
            if (ts->acts[i] == ac)
                ts->acts[i] = ts->acts[--ts->n_acts];
        pthread_mutex_unlock(&A->mu);
        pthread_mutex_lock(&ac->lock);
        rt_error_set(&ac->error, "SubscribeFailed", "cannot subscribe to the action's topic");
        pthread_mutex_unlock(&ac->lock);
        return -1;
    }
    pthread_mutex_lock(&ac->lock);
    ac->subscribed = true;
    pthread_mutex_unlock(&ac->lock);
    fp_log_debug(MOD, "action %s/%s listens on %s", ac->pub.group ? ac->pub.group : "",
                 ac->pub.name, topic);
    return 0;
}

void rt_action_unsubscribe(rt_action *ac)
{
    fp_rt *rt = fp_rt_get();
    struct rt_actions *A = rt ? rt->actions : NULL;
    fp_action_req *gone = NULL;
    char *unsub = NULL;

    if (!A || !ac->subscribed)
        return;
    pthread_mutex_lock(&A->mu);
    for (topic_sub *ts = A->topics; ts; ts = ts->next) {
        for (size_t i = 0; i < ts->n_acts; i++) {
            if (ts->acts[i] != ac)
                continue;
            ts->acts[i] = ts->acts[--ts->n_acts];
            if (ts->n_acts == 0 && ts->subscribed) {
                ts->subscribed = false;
                unsub = fp_strdup(ts->topic);
            }
            break;
        }
    }
    for (fp_action_req **pp = &A->pending; *pp;) {
        fp_action_req *r = *pp;
        if (r->ac == ac) {
            *pp = r->next;
            r->answered = true;
            r->next = gone;
            gone = r;
        } else {
            pp = &r->next;
        }
    }
    pthread_mutex_unlock(&A->mu);
    ac->subscribed = false;

    if (unsub && rt->mqtt)
        fpc_mqtt_unsubscribe(rt->mqtt, unsub);
    fp_free(unsub);
    while (gone) {
        fp_action_req *r = gone;
        char msg[320];
        gone = r->next;
        snprintf(msg, sizeof msg, "action %s was removed before it answered", r->name);
        send_error(r, 503, "ActionRemoved", msg);
        req_unref(r);
    }
}

int rt_actions_start(fp_rt *rt)
{
    struct rt_actions *A = fp_calloc(1, sizeof *A);

    if (!A)
        return -1;
    A->rt = rt;
    pthread_mutex_init(&A->mu, NULL);
    fp_cond_init(&A->cv);
    if (pthread_create(&A->timer, NULL, timer_main, A) != 0) {
        pthread_mutex_destroy(&A->mu);
        pthread_cond_destroy(&A->cv);
        fp_free(A);
        return -1;
    }
    A->timer_started = true;
    rt->actions = A;
    pthread_mutex_lock(&g_mu);
    g_A = A;
    pthread_mutex_unlock(&g_mu);
    return 0;
}

void rt_actions_stop(fp_rt *rt)
{
    struct rt_actions *A = rt ? rt->actions : NULL;
    fp_action_req *left;

    if (!A)
        return;
    pthread_mutex_lock(&g_mu);
    g_A = NULL;
    while (A->cb_inflight)
        pthread_cond_wait(&g_cv, &g_mu);
    pthread_mutex_unlock(&g_mu);
    pthread_mutex_lock(&A->mu);
    A->stop = true;
    pthread_cond_signal(&A->cv);
    left = A->pending;
    A->pending = NULL;
    for (fp_action_req *r = left; r; r = r->next)
        r->answered = true;
    pthread_mutex_unlock(&A->mu);
    pthread_join(A->timer, NULL);
    while (left) {
        fp_action_req *r = left;
        left = r->next;
        send_error(r, 503, "ShuttingDown", "the connector is shutting down");
        req_unref(r);
    }
    /* No callback runs any more (g_A is NULL); unsubscribe for a clean session. */
    for (topic_sub *ts = A->topics; ts; ts = ts->next)
        if (ts->subscribed && rt->mqtt)
            fpc_mqtt_unsubscribe(rt->mqtt, ts->topic);
    while (A->topics) {
        topic_sub *ts = A->topics;
        A->topics = ts->next;
        fp_free(ts->topic);
        fp_free(ts->acts);
        fp_free(ts);
    }
    rt->actions = NULL;
    pthread_mutex_destroy(&A->mu);
    pthread_cond_destroy(&A->cv);
    fp_free(A);
}
