/*
 * sse.c - the server-sent events connector (endpoint type Microsoft.SSEHttp).
 *
 * Each event group holds one stream open: GET <endpoint address>/<group dataSource>
 * with Accept: text/event-stream, in a task of its own (a stream never ends by itself,
 * so it cannot live on the strand). Each event of the stream goes to the group's event
 * whose name (or dataSource) equals the event type, else to the group's default
 * destinations. The payload is the event's data when that is a JSON document, else the
 * data as a JSON string. When the stream fails or ends, the task waits for the server's
 * `retry` time (default retryMilliseconds), doubled after each failed attempt up to
 * maxBackoffMilliseconds, and reconnects with Last-Event-ID. See docs/connector-sse.md.
 *
 * An attempt that has no complete block of response headers within the endpoint's
 * connectTimeoutMilliseconds is abandoned: curl's own connect timeout covers only the
 * connection, so on_progress, which curl calls at least once a second while it waits,
 * ends the wait once curl's count of time spent passes the limit. After the headers an
 * open stream may stay silent for as long as the server likes.
 *
 * Threads. The add, update and remove callbacks run on the endpoint's strand, one at a
 * time. Everything else (curl's callbacks, the parser's events) runs in a group's task,
 * which touches only its own sse_group, the endpoint's settings through a locked
 * snapshot (http_client.h), and the runtime's publish and health calls. Those are
 * thread-safe, so the task reports the endpoint's health itself, on eg->asset->endpoint:
 * that is the object endpoint_add got, changed in place by updates until endpoint_remove,
 * and it outlives the task, whose group is removed (the task stopped) before the
 * endpoint. Handing the report to the strand with fp_endpoint_post would add an
 * allocation and a rule for an item that runs after its task has stopped, and buy
 * nothing. An event group change stops the task (fp_task_stop waits for it) before the
 * old definition is freed, and starts it again with the new one, keeping the last
 * event id.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <fieldplane/connector.h>
#include <fieldplane/fp_alloc.h>
#include <fieldplane/fp_buf.h>
#include <fieldplane/fp_json.h>
#include <fieldplane/fp_log.h>
#include "http_client.h"
#include "jsonsel.h"
#include "sse_parse.h"

#define LOG_MOD "sse"
/* The shortest wait between two connection attempts, whatever the server asks. */
#define SSE_MIN_WAIT_MS 100

typedef struct sse_ep_conf {
    int64_t connect_timeout_ms;
    char *authentication;
} sse_ep_conf;

typedef struct sse_eg_conf {
    int64_t retry_ms;
    int64_t max_backoff_ms;
    int64_t max_event_bytes;
} sse_eg_conf;

static const fp_config_key k_config[] = {
    {FP_CFG_ENDPOINT, FP_CFG_INT, "connectTimeoutMilliseconds", "10000",
     offsetof(sse_ep_conf, connect_timeout_ms), 100, 600000,
     "Time allowed to connect and receive the response headers, in ms"},
    {FP_CFG_ENDPOINT, FP_CFG_STRING, "authentication", "auto",
     offsetof(sse_ep_conf, authentication), 0, 0,
     "With UsernamePassword: \"basic\", \"bearer\" (token in the password secret) or \"auto\" "
     "(bearer when the username is empty)",
     fp_httpc_auth_modes},
    {FP_CFG_EVENT_GROUP, FP_CFG_INT, "retryMilliseconds", "3000", offsetof(sse_eg_conf, retry_ms),
     100, 3600000, "Reconnection time until the server sends its own (retry:), in ms"},
    {FP_CFG_EVENT_GROUP, FP_CFG_INT, "maxBackoffMilliseconds", "60000",
     offsetof(sse_eg_conf, max_backoff_ms), 1000, 3600000,
     "Longest wait between reconnection attempts while the server fails, in ms"},
    {FP_CFG_EVENT_GROUP, FP_CFG_INT, "maxEventBytes", "4194304",
     offsetof(sse_eg_conf, max_event_bytes), 1024, 268435456,
     "Largest event (its data) accepted; a longer one drops the connection"},
    {0},
};

/* Per endpoint (fp_endpoint.user), shared with its groups: each holds a reference, so
 * that an endpoint whose update failed can let go of it while the tasks still run. */
typedef struct sse_ep {
    int refs;           /* changed on the strand only */
    fp_httpc_slot slot; /* the current settings, read by the tasks at each attempt */
} sse_ep;

/* Per event group (fp_event_group.user). */
typedef struct sse_group {
    fp_event_group *eg;
    sse_ep *ep;
    fp_task *task;
    int64_t retry_ms, max_backoff_ms;
    fp_sse_parser parser; /* lives across reconnects and updates: keeps the last id */
    bool parser_ready;
    fp_buf payload;
    /* The current connection (task thread only). */
    CURL *curl;
    fp_task *running;
    const char *url;
    curl_off_t header_timeout_us; /* connectTimeoutMilliseconds of this attempt */
    bool connected;               /* the response was 200 text/event-stream */
    bool timed_out;               /* on_progress gave up waiting for the headers */
    char reason[32];              /* why the response was refused ("" when it was not) */
    char message[512];
    char errbuf[CURL_ERROR_SIZE];
} sse_group;

static int sse_init(fp_rt *rt)
{
    (void)rt;
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static void sse_exit(fp_rt *rt)
{
    (void)rt;
    curl_global_cleanup();
}

static void sse_ep_unref(sse_ep *e)
{
    if (!e || --e->refs > 0)
        return;
    fp_httpc_slot_clear(&e->slot);
    fp_free(e);
}

static int load_endpoint(fp_endpoint *ep, sse_ep *e)
{
    const sse_ep_conf *conf = ep->config;
    char err[512];
    /* No overall timeout: a stream is open for as long as the server keeps it. */
    fp_httpc_cfg *cfg = fp_httpc_cfg_new(ep, conf->authentication, 0,
                                         (long)conf->connect_timeout_ms, err, sizeof err);

    if (!cfg) {
        fp_endpoint_health(ep, false, "BadConfiguration", "%s", err);
        fp_log_error(LOG_MOD, "endpoint %s/%s: %s", ep->device, ep->name, err);
        return -1;
    }
    fp_httpc_slot_set(&e->slot, cfg);
    return 0;
}

static int sse_endpoint_add(fp_endpoint *ep)
{
    sse_ep *e = fp_calloc(1, sizeof *e);

    if (!e)
        return -1;
    e->refs = 1;
    fp_httpc_slot_init(&e->slot);
    if (load_endpoint(ep, e)) {
        sse_ep_unref(e);
        return -1;
    }
    ep->user = e;
    return 0;
}

static int sse_endpoint_update(fp_endpoint *ep, const fp_endpoint *old)
{
    sse_ep *e = ep->user;

    (void)old;
    if (!e)
        return sse_endpoint_add(ep);
    /* Streams use the new settings when they reconnect. */
    if (!load_endpoint(ep, e))
        return 0;
    /* Refused: the runtime removes the groups, then the endpoint (endpoint_remove lets go
     * of it), and adds it again later from nothing. */
    return -1;
}

static void sse_endpoint_remove(fp_endpoint *ep)
{
    sse_ep *e = ep->user;

    ep->user = NULL;
    sse_ep_unref(e);
}

/* True when the n bytes at z equal the C string name. */
static bool same(const char *z, size_t n, const char *name)
{
    return name && name[0] && strlen(name) == n && memcmp(z, name, n) == 0;
}

/* One parsed event: to its event, else to the group. */
static void on_event(void *arg, const fp_sse_event *sev)
{
    sse_group *g = arg;
    fp_event_group *eg = g->eg;
    fp_event *target = NULL;
    json_t *doc;

    for (size_t i = 0; i < eg->n_events && !target; i++)
        if (same(sev->type, sev->type_len, eg->events[i].name) ||
            same(sev->type, sev->type_len, eg->events[i].data_source))
            target = &eg->events[i];

    fp_buf_reset(&g->payload);
    doc = json_loadb(sev->data, sev->data_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (doc) {
        fp_json_dump_compact(&g->payload, doc);
        json_decref(doc);
    } else {
        /* Not JSON: the data as a JSON string, through the one escaper (a byte that is not
         * UTF-8 becomes U+FFFD; jansson would refuse the whole event). */
        fp_json_quote_buf(&g->payload, sev->data, sev->data_len);
    }
    if (g->payload.err || !g->payload.data) {
        fp_log_warn(LOG_MOD, "%s/%s: event \"%s\" (id \"%s\") dropped: out of memory",
                    eg->asset->name, eg->name, sev->type, sev->id);
        return;
    }
    if (target)
        fp_event_publish(target, g->payload.data, g->payload.len, NULL);
    else
        fp_event_group_publish(eg, g->payload.data, g->payload.len, NULL);
}

/* Headers of the response: accept the stream only as 200 text/event-stream. */
static size_t on_header(char *buf, size_t size, size_t n, void *arg)
{
    sse_group *g = arg;
    size_t len = size * n;
    long code = 0;
    char *type = NULL;

    if (!(len == 2 && buf[0] == '\r') && !(len == 1 && buf[0] == '\n'))
        return len; /* not the end of the headers yet */
    curl_easy_getinfo(g->curl, CURLINFO_RESPONSE_CODE, &code);
    if (code < 200)
        return len; /* an interim response; the final one follows */
    if (code != 200) {
        const char *text = fp_httpc_reason(code);
        snprintf(g->reason, sizeof g->reason, "HttpStatus");
        snprintf(g->message, sizeof g->message, "GET %s: %ld%s%s", g->url, code, *text ? " " : "",
                 text);
        return 0;
    }
    curl_easy_getinfo(g->curl, CURLINFO_CONTENT_TYPE, &type);
    if (!type || strncasecmp(type, "text/event-stream", 17) ||
        (type[17] && type[17] != ';' && type[17] != ' ')) {
        snprintf(g->reason, sizeof g->reason, "BadContentType");
        snprintf(g->message, sizeof g->message,
                 "GET %s: Content-Type is \"%s\", expected text/event-stream", g->url,
                 type ? type : "(none)");
        return 0;
    }
    g->connected = true;
    snprintf(g->message, sizeof g->message, "GET %s: streaming", g->url);
    fp_event_group_health(g->eg, true, "Ok", "%s", g->message);
    fp_endpoint_health(g->eg->asset->endpoint, true, "Ok", "%s", g->message);
    return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *arg)
{
    sse_group *g = arg;

    if (!g->connected)
        return 0;
    if (fp_sse_feed(&g->parser, buf, size * n))
        return 0;
    return size * n;
}

/* Abort a transfer (connecting, or idle on an open stream) when the task is stopped, and
 * one whose headers have not all come within the connect timeout. curl calls this at least
 * once a second while it waits (its poll never sleeps longer), so the wait ends within a
 * second of the limit; curl also wakes when the connect timeout it armed expires, which
 * makes it end at the limit in practice. The time is curl's own, counted from the start
 * of the transfer as its connect timeout is. */
static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    sse_group *g = arg;
    curl_off_t spent_us = 0;

    (void)dt, (void)dn, (void)ut, (void)un;
    if (fp_task_stopping(g->running))
        return 1;
    if (g->connected)
        return 0; /* the headers are in: an open stream has no time limit */
    if (curl_easy_getinfo(g->curl, CURLINFO_TOTAL_TIME_T, &spent_us) == CURLE_OK &&
        spent_us >= g->header_timeout_us) {
        g->timed_out = true;
        return 1;
    }
    return 0;
}

/* One connection: open the stream and read it until it ends. Returns true when the
 * server accepted the stream (the next wait is the plain retry time). */
static bool run_stream(sse_group *g, fp_task *t)
{
    fp_httpc_cfg *cfg = fp_httpc_slot_get(&g->ep->slot);
    const char *last_id = fp_sse_last_id(&g->parser);
    char *url = NULL, *id_header = NULL;
    const char *headers[4] = {"Accept: text/event-stream", "Cache-Control: no-cache", NULL, NULL};
    struct curl_slist *hl = NULL;
    char err[256];
    CURLcode rc;
    bool connected = false;

    if (!cfg)
        return false;
    g->curl = curl_easy_init();
    url = fp_httpc_join(cfg->address, g->eg->data_source);
    if (last_id[0]) {
        size_t n = strlen(last_id) + 16;
        id_header = fp_malloc(n);
        if (id_header) {
            snprintf(id_header, n, "Last-Event-ID: %s", last_id);
            headers[2] = id_header;
        }
    }
    if (!g->curl || !url || (last_id[0] && !id_header)) {
        fp_event_group_health(g->eg, false, "BadConfiguration", "out of memory");
        goto out;
    }
    if (fp_httpc_apply(g->curl, cfg, headers, &hl, err, sizeof err)) {
        fp_event_group_health(g->eg, false, "BadConfiguration", "%s", err);
        goto out;
    }
    g->url = url;
    g->header_timeout_us = (curl_off_t)cfg->connect_timeout_ms * 1000;
    g->connected = false;
    g->timed_out = false;
    g->reason[0] = g->message[0] = g->errbuf[0] = '\0';
    g->running = t;
    fp_sse_new_stream(&g->parser);
    curl_easy_setopt(g->curl, CURLOPT_URL, url);
    curl_easy_setopt(g->curl, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(g->curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(g->curl, CURLOPT_HEADERDATA, g);
    curl_easy_setopt(g->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(g->curl, CURLOPT_WRITEDATA, g);
    curl_easy_setopt(g->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(g->curl, CURLOPT_XFERINFODATA, g);
    curl_easy_setopt(g->curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(g->curl, CURLOPT_ERRORBUFFER, g->errbuf);
    curl_easy_setopt(g->curl, CURLOPT_TCP_KEEPALIVE, 1L);
    fp_log_info(LOG_MOD, "%s/%s: connecting to %s%s%s", g->eg->asset->name, g->eg->name, url,
                last_id[0] ? " from id " : "", last_id);
    rc = curl_easy_perform(g->curl);
    connected = g->connected;
    if (fp_task_stopping(t))
        goto out;
    if (g->reason[0]) {
        fp_event_group_health(g->eg, false, g->reason, "%s", g->message);
        /* The device answered. */
        fp_endpoint_health(g->eg->asset->endpoint, true, "Ok", "%s", g->message);
    } else if (fp_sse_error(&g->parser)[0]) {
        fp_event_group_health(g->eg, false, "BadStream", "GET %s: %s", url,
                              fp_sse_error(&g->parser));
    } else if (!connected) {
        char msg[CURL_ERROR_SIZE + 600];
        if (g->timed_out)
            snprintf(msg, sizeof msg,
                     "GET %s: timed out: no response headers within %ld ms "
                     "(connectTimeoutMilliseconds)",
                     url, cfg->connect_timeout_ms);
        else
            snprintf(msg, sizeof msg, "GET %s: %s", url,
                     g->errbuf[0] ? g->errbuf : curl_easy_strerror(rc));
        fp_event_group_health(g->eg, false, "Unreachable", "%s", msg);
        fp_endpoint_health(g->eg->asset->endpoint, false, "Unreachable", "%s", msg);
    } else {
        /* The stream ended or broke after it was accepted: reconnect after the retry time,
         * and say so only if that fails. */
        fp_log_info(LOG_MOD, "%s/%s: stream %s ended: %s", g->eg->asset->name, g->eg->name, url,
                    rc == CURLE_OK ? "closed by the server"
                                   : (g->errbuf[0] ? g->errbuf : curl_easy_strerror(rc)));
    }
out:
    g->url = NULL;
    curl_slist_free_all(hl);
    if (g->curl)
        curl_easy_cleanup(g->curl);
    g->curl = NULL;
    fp_free(url);
    fp_free(id_header);
    fp_httpc_cfg_unref(cfg);
    return connected;
}

/* The task: connect, read, wait, reconnect until stopped. */
static void stream_task(fp_task *t, void *arg)
{
    sse_group *g = arg;
    unsigned failures = 0;

    while (!fp_task_stopping(t)) {
        int64_t wait_ms =
            fp_sse_retry_ms(&g->parser) >= 0 ? fp_sse_retry_ms(&g->parser) : g->retry_ms;
        /* A server may ask for retry: 0; still leave a moment between attempts. */
        if (wait_ms < SSE_MIN_WAIT_MS)
            wait_ms = SSE_MIN_WAIT_MS;
        if (run_stream(g, t))
            failures = 0;
        else
            failures++;
        /* Exponential back-off after failed attempts, from the retry time. */
        for (unsigned i = 1; i < failures && wait_ms < g->max_backoff_ms; i++)
            wait_ms *= 2;
        if (wait_ms > g->max_backoff_ms)
            wait_ms = g->max_backoff_ms;
        if (fp_task_sleep(t, (uint64_t)wait_ms))
            break;
    }
}

/* Read the group's configuration and start its task. */
static int start_group(sse_group *g, fp_event_group *eg)
{
    const sse_eg_conf *conf = eg->config;
    char name[128];

    g->eg = eg;
    g->retry_ms = conf ? conf->retry_ms : 3000;
    g->max_backoff_ms = conf ? conf->max_backoff_ms : 60000;
    if (!g->parser_ready) {
        fp_sse_init(&g->parser, 0, conf ? (size_t)conf->max_event_bytes : 0, on_event, g);
        fp_buf_init(&g->payload, 3 * g->parser.max_event + 1024);
        g->parser_ready = true;
    }
    snprintf(name, sizeof name, "sse:%s/%s", eg->asset->name, eg->name);
    g->task = fp_task_start(name, stream_task, g);
    return g->task ? 0 : -1;
}

static int sse_event_group_add(fp_event_group *eg)
{
    sse_ep *e = eg->asset->endpoint->user;
    sse_group *g;

    if (!e)
        return -1;
    g = fp_calloc(1, sizeof *g);
    if (!g)
        return -1;
    g->ep = e;
    eg->user = g;
    if (start_group(g, eg)) {
        fp_sse_clear(&g->parser);
        fp_buf_clear(&g->payload);
        fp_free(g);
        eg->user = NULL;
        return -1;
    }
    e->refs++;
    return 0;
}

static int sse_event_group_update(fp_event_group *eg, const fp_event_group *old)
{
    sse_group *g = eg->user;
    const sse_eg_conf *conf = eg->config;

    /* Stop the stream before `old` is freed; the parser keeps the last event id, unless
     * the group now reads another path (a different stream, whose ids mean nothing here). */
    fp_task_stop(g->task);
    g->task = NULL;
    if (strcmp(eg->data_source, old->data_source))
        fp_sse_reset_id(&g->parser);
    if (conf && (size_t)conf->max_event_bytes != g->parser.max_event) {
        fp_sse_clear(&g->parser);
        fp_buf_clear(&g->payload);
        g->parser_ready = false;
    }
    return start_group(g, eg);
}

static void sse_event_group_remove(fp_event_group *eg)
{
    sse_group *g = eg->user;

    if (!g)
        return;
    fp_task_stop(g->task);
    sse_ep_unref(g->ep);
    fp_sse_clear(&g->parser);
    fp_buf_clear(&g->payload);
    fp_free(g);
    eg->user = NULL;
}

static const char *const k_types[] = {"Microsoft.SSEHttp", NULL};

static const fp_connector k_sse = {
    .abi = FP_CONNECTOR_ABI,
    .name = "sse",
    .description = "Holds server-sent events streams open and publishes their events",
    .endpoint_types = k_types,
    .config = k_config,
    .config_size =
        {[FP_CFG_ENDPOINT] = sizeof(sse_ep_conf), [FP_CFG_EVENT_GROUP] = sizeof(sse_eg_conf)},
    .init = sse_init,
    .exit = sse_exit,
    .endpoint_add = sse_endpoint_add,
    .endpoint_update = sse_endpoint_update,
    .endpoint_remove = sse_endpoint_remove,
    .event_group_add = sse_event_group_add,
    .event_group_update = sse_event_group_update,
    .event_group_remove = sse_event_group_remove,
};

int main(int argc, char **argv)
{
    return fp_connector_main(&k_sse, argc, argv);
}
