/*
 * rt_ops.c - the connector's operations endpoint: GET /healthz and GET /metrics.
 *
 * A small HTTP/1.x server of our own on --listen (ADDR:PORT with an IPv4 address, "localhost",
 * an empty ADDR for every IPv4 address, or [IPv6]:PORT; port 0 picks a free one, and the log
 * line says which). /healthz answers 200 "ok" while both the registry watch and the broker
 * connection are up, else 503 "degraded", so a supervisor can tell a connector that runs from
 * one that is stuck. /metrics is the Prometheus text format; every figure is read at request
 * time (the MQTT publisher's statistics and the endpoints' counters), so nothing is kept twice.
 *
 * Why not libmicrohttpd: two plain-HTTP GET answers do not justify a library that loads
 * gnutls, p11-kit, nettle, gmp and friends (about 2.3 MB of RSS) into every connector.
 *
 * Shape: one thread polls the listening socket, an eventfd (rt_ops_stop wakes it at once) and
 * up to OPS_MAX_CONN connections. Each connection carries one request and gets one answer
 * with "Connection: close": read the request head (at most OPS_MAX_HEAD bytes, within
 * OPS_READ_MS of the accept), answer, then half-close and discard what the client still sends
 * (at most OPS_DRAIN_MS), so that its unread bytes do not turn our close into a reset that
 * could destroy the answer before the client reads it. Writing has its own deadline
 * (OPS_WRITE_MS). Connections are multiplexed rather than served one after another so that a
 * client that connects and stays silent holds one slot for the read deadline instead of
 * delaying every scrape behind it; when all slots are busy, new connections wait in the listen
 * backlog until a slot frees (a deadline bounds how long that is). All sockets are
 * non-blocking, so a slow or hostile peer never blocks the thread.
 *
 * The request head is parsed by rt_ops_parse_request, a pure function over bytes (fuzzed by
 * tests/fuzz/fuzz_connector_ops.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "fp_alloc.h"
#include "fp_log.h"
#include "fp_time.h"
#include "rt_internal.h"

#define MOD "ops"
#define MAX_BODY (16u << 20)
#define OPS_MAX_CONN 16
#define OPS_MAX_HEAD RT_OPS_MAX_HEAD
#define OPS_READ_MS 5000
#define OPS_WRITE_MS 5000
#define OPS_DRAIN_MS 1000
#define OPS_DRAIN_MAX (64u << 10)
#define OPS_STACK (256u << 10)

enum conn_phase { PH_FREE, PH_READ, PH_WRITE, PH_DRAIN };

typedef struct ops_conn {
    int fd;
    enum conn_phase phase;
    int64_t deadline_ms; /* CLOCK_MONOTONIC */
    char *in;            /* OPS_MAX_HEAD bytes while reading */
    size_t in_len;
    char head[320]; /* status line and headers of the answer */
    size_t head_len;
    char *body; /* sent after head; json_dumps text (free) or fp_buf text (fp_free) */
    size_t body_len;
    bool body_jansson;
    size_t sent; /* bytes of head, then body */
    size_t drained;
} ops_conn;

struct rt_ops {
    fp_rt *rt;
    int lfd, wake_fd;
    int port;
    pthread_t thread;
    atomic_bool stop;
    int64_t accept_pause_until_ms; /* after EMFILE: stop accepting for a moment */
    ops_conn conns[OPS_MAX_CONN];
};

/* Prometheus label values escape backslash, double quote and newline. */
static void label_value(fp_buf *b, const char *v)
{
    for (; v && *v; v++) {
        if (*v == '\\')
            fp_buf_append_str(b, "\\\\");
        else if (*v == '"')
            fp_buf_append_str(b, "\\\"");
        else if (*v == '\n')
            fp_buf_append_str(b, "\\n");
        else
            fp_buf_append(b, v, 1);
    }
}

static void head(fp_buf *b, const char *name, const char *type, const char *help)
{
    fp_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{connector="c"[,endpoint="e"]} value */
static void sample(fp_buf *b, const char *name, const char *connector, const char *endpoint,
                   unsigned long long v)
{
    fp_buf_printf(b, "%s{connector=\"", name);
    label_value(b, connector);
    if (endpoint) {
        fp_buf_append_str(b, "\",endpoint=\"");
        label_value(b, endpoint);
    }
    fp_buf_printf(b, "\"} %llu\n", v);
}

/* A counter with its total and one sample per endpoint (the uint64_t at `off` in each
 * rt_ep_count): "; without the endpoint label, every endpoint's together." ends its help. */
static void per_endpoint(fp_buf *b, const char *name, const char *help, const char *connector,
                         uint64_t total, const rt_ep_count *eps, size_t n_eps, size_t off)
{
    fp_buf_printf(b, "# HELP %s %s; without the endpoint label, every endpoint's together.\n", name,
                  help);
    fp_buf_printf(b, "# TYPE %s counter\n", name);
    sample(b, name, connector, NULL, total);
    for (size_t i = 0; i < n_eps; i++) {
        uint64_t v;
        memcpy(&v, (const char *)&eps[i] + off, sizeof v);
        sample(b, name, connector, eps[i].label, v);
    }
}

void rt_ops_metrics_text(fp_buf *b, const char *connector, const fpc_mqtt_stats *st,
                         const rt_ep_count *eps, size_t n_eps, uint64_t published_total,
                         uint64_t failed_total, bool registry_ok)
{
    const char *h = "fieldplane_connector_publish_latency_seconds";

    head(b, "fieldplane_connector_messages_received_total", "counter",
         "Messages received on subscriptions (management action requests).");
    sample(b, "fieldplane_connector_messages_received_total", connector, NULL, st->received);

    per_endpoint(b, "fieldplane_connector_messages_published_total",
                 "Messages handed to a destination (queued for the broker or stored)", connector,
                 published_total, eps, n_eps, offsetof(rt_ep_count, published));
    per_endpoint(b, "fieldplane_connector_messages_failed_total",
                 "Messages that could not be handed to a destination", connector, failed_total, eps,
                 n_eps, offsetof(rt_ep_count, failed));

    head(b, "fieldplane_connector_messages_acknowledged_total", "counter",
         "Messages the broker acknowledged (QoS 1) or that were sent (QoS 0).");
    sample(b, "fieldplane_connector_messages_acknowledged_total", connector, NULL, st->published);

    head(b, "fieldplane_connector_messages_queued", "gauge",
         "Messages in the disk queue waiting for the broker.");
    sample(b, "fieldplane_connector_messages_queued", connector, NULL, st->queued);

    head(b, "fieldplane_connector_queue_bytes", "gauge", "Bytes of the disk queue.");
    sample(b, "fieldplane_connector_queue_bytes", connector, NULL, st->queued_bytes);

    head(b, "fieldplane_connector_messages_dropped_total", "counter",
         "Messages dropped from a full disk queue.");
    sample(b, "fieldplane_connector_messages_dropped_total", connector, NULL, st->dropped);

    head(b, "fieldplane_connector_published_bytes_total", "counter",
         "Payload bytes sent to the broker.");
    sample(b, "fieldplane_connector_published_bytes_total", connector, NULL, st->bytes_published);

    head(b, h, "histogram",
         "Time from queueing a message to the broker's acknowledgement (QoS 1) or its "
         "sending (QoS 0).");
    for (int i = 0; i < 9; i++) {
        fp_buf_printf(b, "%s_bucket{connector=\"", h);
        label_value(b, connector);
        if (i < 8)
            fp_buf_printf(b, "\",le=\"%g\"} %llu\n", fpc_mqtt_latency_bounds[i],
                          (unsigned long long)st->latency_buckets[i]);
        else
            fp_buf_printf(b, "\",le=\"+Inf\"} %llu\n", (unsigned long long)st->latency_count);
    }
    fp_buf_printf(b, "%s_sum{connector=\"", h);
    label_value(b, connector);
    fp_buf_printf(b, "\"} %.6f\n", st->latency_sum_s);
    sample(b, "fieldplane_connector_publish_latency_seconds_count", connector, NULL,
           st->latency_count);

    head(b, "fieldplane_connector_broker_connected", "gauge",
         "1 while connected to the MQTT broker.");
    sample(b, "fieldplane_connector_broker_connected", connector, NULL, st->connected ? 1 : 0);

    head(b, "fieldplane_connector_registry_connected", "gauge",
         "1 while the registry watch is up.");
    sample(b, "fieldplane_connector_registry_connected", connector, NULL, registry_ok ? 1 : 0);
}

void rt_ops_metrics_exec_text(fp_buf *b, const char *connector, const rt_exec_stats *x,
                              const rt_ep_count *eps, size_t n_eps)
{
    uint64_t samples = 0, skipped = 0;
    for (size_t i = 0; i < n_eps; i++) {
        samples += eps[i].samples;
        skipped += eps[i].samples_skipped;
    }
    per_endpoint(b, "fieldplane_connector_samples_total",
                 "Dataset samples the runtime asked for (dataset_sample calls)", connector, samples,
                 eps, n_eps, offsetof(rt_ep_count, samples));
    per_endpoint(b, "fieldplane_connector_samples_skipped_total",
                 "Sampling ticks skipped because the previous sample of the dataset had not "
                 "finished (a slow or hung device)",
                 connector, skipped, eps, n_eps, offsetof(rt_ep_count, samples_skipped));

    /* The pool's own figures: one row each. */
    const struct {
        const char *name, *type, *help;
        uint64_t v;
    } pool[] = {
        {"fieldplane_connector_worker_threads", "gauge",
         "Worker threads serving the endpoints' strands now (--workers kept, more while devices "
         "block workers).",
         x->threads},
        {"fieldplane_connector_worker_threads_peak", "gauge",
         "The most worker threads there were at once since the start.", x->peak_threads},
        {"fieldplane_connector_worker_threads_blocked", "gauge",
         "Workers whose current callback waits on a device (seen at the pool's last look).",
         x->blocked},
        {"fieldplane_connector_worker_threads_max", "gauge",
         "The most worker threads the pool may grow to (--max-threads).", x->max_threads},
        {"fieldplane_connector_worker_threads_added_total", "counter",
         "Worker threads added because every running worker was blocked by a device.", x->grown},
    };
    for (size_t i = 0; i < sizeof pool / sizeof pool[0]; i++) {
        head(b, pool[i].name, pool[i].type, pool[i].help);
        sample(b, pool[i].name, connector, NULL, pool[i].v);
    }
}

void rt_ops_metrics_counters_text(fp_buf *b, const char *connector, const fp_counter_def *defs,
                                  const rt_ep_count *eps, size_t n_eps)
{
    for (size_t c = 0; defs && c < FP_MAX_COUNTERS && defs[c].name; c++) {
        char name[128];
        uint64_t total = 0;
        snprintf(name, sizeof name, "fieldplane_connector_%s_total", defs[c].name);
        for (size_t i = 0; i < n_eps; i++)
            total += eps[i].counters[c];
        per_endpoint(b, name, defs[c].help, connector, total, eps, n_eps,
                     offsetof(rt_ep_count, counters) + c * sizeof(uint64_t));
    }
}

void fp_endpoint_count(fp_endpoint *ep, unsigned counter, uint64_t n)
{
    if (ep && counter < FP_MAX_COUNTERS)
        atomic_fetch_add(&RT_OF(ep, rt_endpoint, pub)->counters[counter], n);
}

/* Snapshot of the endpoints' counters (labels copied, so no lock is held while
 * formatting). */
static rt_ep_count *snapshot_endpoints(fp_rt *rt, size_t *n_out, char **labels_out)
{
    size_t n = 0, i = 0;
    rt_ep_count *eps;
    char *labels;

    pthread_mutex_lock(&rt->lock);
    for (rt_endpoint *ep = rt->endpoints; ep; ep = ep->next)
        n++;
    eps = fp_calloc(n ? n : 1, sizeof *eps);
    labels = fp_calloc(n ? n : 1, 768);
    if (!eps || !labels) {
        pthread_mutex_unlock(&rt->lock);
        fp_free(eps);
        fp_free(labels);
        *n_out = 0;
        *labels_out = NULL;
        return NULL;
    }
    for (rt_endpoint *ep = rt->endpoints; ep && i < n; ep = ep->next, i++) {
        char *l = labels + i * 768;
        snprintf(l, 768, "%s/%s/%s", ep->pub.ns ? ep->pub.ns : "",
                 ep->pub.device ? ep->pub.device : "", ep->pub.name ? ep->pub.name : "");
        eps[i].label = l;
        eps[i].published = __atomic_load_n(&ep->published, __ATOMIC_RELAXED);
        eps[i].failed = __atomic_load_n(&ep->failed, __ATOMIC_RELAXED);
        eps[i].samples = atomic_load(&ep->samples);
        eps[i].samples_skipped = atomic_load(&ep->samples_skipped);
        for (size_t c = 0; c < FP_MAX_COUNTERS; c++)
            eps[i].counters[c] = atomic_load(&ep->counters[c]);
    }
    pthread_mutex_unlock(&rt->lock);
    *n_out = i;
    *labels_out = labels;
    return eps;
}

/* ---- the request head ----------------------------------------------------------------------- */

/* RFC 9110 tchar: the bytes of a method or a header name. */
static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* The end of the line that starts at buf[pos] (the index of its '\n'), or lim when the line
 * is not complete within buf[0..lim). A '\r' is allowed only right before the '\n'. */
static size_t line_end(const char *buf, size_t pos, size_t lim, const char **why)
{
    for (size_t i = pos; i < lim; i++) {
        if (buf[i] == '\n')
            return i;
        if (buf[i] == '\r' && i + 1 < lim && buf[i + 1] != '\n') {
            *why = "a carriage return not followed by a line feed";
            return SIZE_MAX;
        }
    }
    return lim;
}

/* The request line buf[0..n) (without its line ending) into req; 0, or 400/505 with *why. */
static int parse_request_line(const char *buf, size_t n, rt_ops_request *req, const char **why)
{
    size_t i = 0, t0, t1;
    const char *v;

    while (i < n && is_tchar((unsigned char)buf[i]))
        i++;
    if (i == 0 || i > 32 || i == n || buf[i] != ' ') {
        *why = "the request line is not METHOD SP PATH SP HTTP/1.x (bad method)";
        return 400;
    }
    req->method = buf;
    req->method_len = i;
    t0 = ++i;
    while (i < n && buf[i] != ' ') {
        unsigned char c = (unsigned char)buf[i];
        if (c <= 0x20 || c >= 0x7f) {
            *why = "the request target holds a control, space or non-ASCII byte";
            return 400;
        }
        i++;
    }
    t1 = i;
    if (t1 == t0 || i == n) {
        *why = "the request line is not METHOD SP PATH SP HTTP/1.x (no target or version)";
        return 400;
    }
    /* absolute-form (http://host/path): the path is what follows the authority. */
    if (t1 - t0 >= 7 && !strncasecmp(buf + t0, "http://", 7)) {
        size_t p = t0 + 7;
        while (p < t1 && buf[p] != '/' && buf[p] != '?')
            p++;
        req->path = p < t1 && buf[p] == '/' ? buf + p : "/";
        req->path_len = p < t1 && buf[p] == '/' ? t1 - p : 1;
    } else if (buf[t0] == '/') {
        req->path = buf + t0;
        req->path_len = t1 - t0;
    } else {
        *why = "the request target is not a path starting with '/'";
        return 400;
    }
    for (size_t k = 0; k < req->path_len; k++)
        if (req->path[k] == '?' || req->path[k] == '#') {
            req->path_len = k;
            break;
        }
    v = buf + i + 1;
    if (n - i - 1 != 8 || strncmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
        v[7] < '0' || v[7] > '9') {
        *why = "the request line does not end in HTTP/1.0 or HTTP/1.1";
        return 400;
    }
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1')) {
        *why = "only HTTP/1.0 and HTTP/1.1 are served here";
        return 505;
    }
    req->minor = v[7] - '0';
    return 0;
}

/* One header line buf[0..n) (without its line ending): a token, a colon, a value without
 * control bytes other than tab. */
static int check_header_line(const char *buf, size_t n, const char **why)
{
    size_t i = 0;

    if (n && (buf[0] == ' ' || buf[0] == '\t')) {
        *why = "a header line starts with white space (obsolete line folding)";
        return 400;
    }
    while (i < n && is_tchar((unsigned char)buf[i]))
        i++;
    if (i == 0 || i == n || buf[i] != ':') {
        *why = "a header line is not NAME: VALUE";
        return 400;
    }
    for (i++; i < n; i++) {
        unsigned char c = (unsigned char)buf[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            *why = "a header value holds a control byte";
            return 400;
        }
    }
    return 0;
}

int rt_ops_parse_request(const char *buf, size_t len, rt_ops_request *req, const char **why)
{
    size_t lim = len < RT_OPS_MAX_HEAD ? len : RT_OPS_MAX_HEAD;
    size_t eol, n, pos;
    int rc;

    memset(req, 0, sizeof *req);
    *why = NULL;
    eol = line_end(buf, 0, lim, why);
    if (eol == SIZE_MAX)
        return 400;
    /* Reject what cannot become a request line early (a TLS handshake, binary noise), so
     * such a client is told at once rather than at the deadline. */
    for (size_t i = 0; i < eol; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == ' ')
            break;
        if (!is_tchar(c) && !(c == '\r' && i + 1 == eol)) {
            *why = "the request line is not METHOD SP PATH SP HTTP/1.x (bad method)";
            return 400;
        }
    }
    if (eol == lim)
        goto incomplete;
    n = eol > 0 && buf[eol - 1] == '\r' ? eol - 1 : eol;
    rc = parse_request_line(buf, n, req, why);
    if (rc)
        return rc;
    pos = eol + 1;
    for (;;) {
        eol = line_end(buf, pos, lim, why);
        if (eol == SIZE_MAX)
            return 400;
        if (eol == lim)
            goto incomplete;
        n = eol > pos && buf[eol - 1] == '\r' ? eol - 1 - pos : eol - pos;
        if (n == 0) {
            req->head_len = eol + 1;
            return 0;
        }
        rc = check_header_line(buf + pos, n, why);
        if (rc)
            return rc;
        pos = eol + 1;
    }
incomplete:
    if (len >= RT_OPS_MAX_HEAD) {
        *why = "the request line and headers are longer than 8192 bytes";
        return 431;
    }
    return 1;
}

/* ---- answers -------------------------------------------------------------------------------- */

static const char *status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Internal Server Error";
    }
}

static void body_release(ops_conn *c)
{
    if (c->body_jansson)
        free(c->body); /* jansson allocates with malloc */
    else
        fp_free(c->body);
    c->body = NULL;
    c->body_len = 0;
}

/* The answer into c: the headers, and body (taken, also on failure; from_jansson says how
 * to free it) unless head_only. False when it cannot be built (the connection is closed). */
static bool set_answer(ops_conn *c, int status, const char *ctype, char *body, size_t body_len,
                       bool from_jansson, bool head_only)
{
    int n = snprintf(c->head, sizeof c->head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-store\r\n%sConnection: close\r\n\r\n",
                     status, status_text(status), ctype, body_len,
                     status == 405 ? "Allow: GET, HEAD\r\n" : "");

    body_release(c);
    c->body = body;
    c->body_len = body_len;
    c->body_jansson = from_jansson;
    c->sent = 0;
    if (head_only)
        body_release(c);
    if (n < 0 || (size_t)n >= sizeof c->head) {
        body_release(c);
        return false;
    }
    c->head_len = (size_t)n;
    return true;
}

/* doc (taken) as the JSON body. */
static bool set_answer_json(ops_conn *c, int status, json_t *doc, bool head_only)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

    json_decref(doc);
    if (!text)
        return false;
    return set_answer(c, status, "application/json", text, strlen(text), true, head_only);
}

static bool set_error(ops_conn *c, int status, const char *code, const char *message,
                      bool head_only)
{
    return set_answer_json(c, status,
                           json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message),
                           head_only);
}

static bool path_is(const rt_ops_request *req, const char *path)
{
    return req->path_len == strlen(path) && !memcmp(req->path, path, req->path_len);
}

static bool method_is(const rt_ops_request *req, const char *m)
{
    return req->method_len == strlen(m) && !memcmp(req->method, m, req->method_len);
}

static bool answer_request(struct rt_ops *ops, ops_conn *c, const rt_ops_request *req)
{
    fp_rt *rt = ops->rt;
    const char *name = rt->conn && rt->conn->name ? rt->conn->name : "";
    bool head = method_is(req, "HEAD");
    fpc_mqtt_stats st;

    if (!path_is(req, "/healthz") && !path_is(req, "/metrics"))
        return set_error(c, 404, "NotFound", "only /healthz and /metrics are served here", head);
    if (!head && !method_is(req, "GET"))
        return set_error(c, 405, "MethodNotAllowed", "only GET is served here", false);

    memset(&st, 0, sizeof st);
    if (rt->mqtt)
        fpc_mqtt_get_stats(rt->mqtt, &st);
    if (path_is(req, "/healthz")) {
        bool reg_ok = atomic_load(&rt->registry_ok);
        bool ok = reg_ok && st.connected;
        return set_answer_json(c, ok ? 200 : 503,
                               json_pack("{s:s, s:s, s:b, s:b, s:I, s:I, s:I}", "status",
                                         ok ? "ok" : "degraded", "connector", name, "registry",
                                         reg_ok, "broker", st.connected, "revision",
                                         (json_int_t)atomic_load(&rt->revision), "queued",
                                         (json_int_t)st.queued, "dropped", (json_int_t)st.dropped),
                               head);
    }
    {
        fp_buf b;
        size_t n_eps = 0;
        char *labels = NULL;
        rt_ep_count *eps = snapshot_endpoints(rt, &n_eps, &labels);
        char *text;
        size_t len = 0;

        fp_buf_init(&b, MAX_BODY);
        rt_ops_metrics_text(&b, name, &st, eps, n_eps, atomic_load(&rt->published_total),
                            atomic_load(&rt->failed_total), atomic_load(&rt->registry_ok));
        rt_exec_stats xs;
        rt_exec_stats_get(rt, &xs);
        rt_ops_metrics_exec_text(&b, name, &xs, eps, n_eps);
        rt_ops_metrics_counters_text(&b, name, rt->conn ? rt->conn->counters : NULL, eps, n_eps);
        fp_free(eps);
        fp_free(labels);
        if (b.err) {
            fp_buf_clear(&b);
            return set_error(c, 500, "Internal", "the metrics text could not be built", head);
        }
        text = fp_buf_take(&b, &len);
        if (!text)
            return false;
        return set_answer(c, 200, "text/plain; version=0.0.4; charset=utf-8", text, len, false,
                          head);
    }
}

/* ---- connections ---------------------------------------------------------------------------- */

static void conn_close(ops_conn *c)
{
    close(c->fd);
    fp_free(c->in);
    body_release(c);
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->phase = PH_FREE;
}

static void conn_write(ops_conn *c);

/* The answer is in c (or could not be built): start writing it. */
static void conn_answer(ops_conn *c, bool built)
{
    if (!built) {
        conn_close(c);
        return;
    }
    fp_free(c->in);
    c->in = NULL;
    c->phase = PH_WRITE;
    c->deadline_ms = fp_mono_ms() + OPS_WRITE_MS;
    conn_write(c); /* usually all of it fits in the socket buffer at once */
}

static void conn_write(ops_conn *c)
{
    while (c->sent < c->head_len + c->body_len) {
        struct iovec iov[2];
        struct msghdr mh = {.msg_iov = iov};
        ssize_t r;

        if (c->sent < c->head_len) {
            iov[mh.msg_iovlen].iov_base = c->head + c->sent;
            iov[mh.msg_iovlen++].iov_len = c->head_len - c->sent;
        }
        if (c->body_len) {
            size_t boff = c->sent > c->head_len ? c->sent - c->head_len : 0;
            iov[mh.msg_iovlen].iov_base = c->body + boff;
            iov[mh.msg_iovlen++].iov_len = c->body_len - boff;
        }
        r = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r <= 0) {
            conn_close(c);
            return;
        }
        c->sent += (size_t)r;
    }
    /* All sent: half-close, then read what the client still sends until it closes (see
     * the file comment). */
    body_release(c);
    shutdown(c->fd, SHUT_WR);
    c->phase = PH_DRAIN;
    c->deadline_ms = fp_mono_ms() + OPS_DRAIN_MS;
}

static void conn_drain(ops_conn *c)
{
    char sink[2048];

    for (;;) {
        ssize_t r = recv(c->fd, sink, sizeof sink, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r <= 0 || (c->drained += (size_t)r) > OPS_DRAIN_MAX) {
            conn_close(c);
            return;
        }
    }
}

static void conn_read(struct rt_ops *ops, ops_conn *c)
{
    rt_ops_request req;
    const char *why;
    ssize_t r;
    int rc;

    do
        r = recv(c->fd, c->in + c->in_len, OPS_MAX_HEAD - c->in_len, 0);
    while (r < 0 && errno == EINTR);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (r < 0 || (r == 0 && c->in_len == 0)) { /* an error, or a bare connect (a port probe) */
        conn_close(c);
        return;
    }
    if (r == 0) {
        conn_answer(c,
                    set_error(c, 400, "BadRequest",
                              "the request ended before the blank line after its headers", false));
        return;
    }
    c->in_len += (size_t)r;
    rc = rt_ops_parse_request(c->in, c->in_len, &req, &why);
    if (rc == 1)
        return; /* more to come; c->in_len < OPS_MAX_HEAD, else it would be 431 */
    if (rc == 0)
        conn_answer(c, answer_request(ops, c, &req));
    else
        conn_answer(c, set_error(c, rc,
                                 rc == 431   ? "RequestHeaderFieldsTooLarge"
                                 : rc == 505 ? "HTTPVersionNotSupported"
                                             : "BadRequest",
                                 why, false));
}

/* A deadline passed: a request that did not arrive in time gets 408, everything else ends. */
static void conn_expire(ops_conn *c)
{
    if (c->phase == PH_READ)
        conn_answer(c, set_error(c, 408, "RequestTimeout",
                                 "the request did not arrive within 5 seconds", false));
    else
        conn_close(c);
}

static void accept_some(struct rt_ops *ops)
{
    for (int i = 0; i < OPS_MAX_CONN; i++) {
        ops_conn *c = &ops->conns[i];
        int fd;

        if (c->phase != PH_FREE)
            continue;
        fd = accept4(ops->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO || errno == EPERM) {
                i--; /* this one is gone (or refused by a firewall): the next, same slot */
                continue;
            }
            /* Out of descriptors or memory: the connection stays in the backlog, and polling
             * the listening socket again at once would spin. */
            fp_log_warn(MOD, "cannot accept a connection: %s; pausing for 200 ms", strerror(errno));
            ops->accept_pause_until_ms = fp_mono_ms() + 200;
            return;
        }
        c->in = fp_malloc(OPS_MAX_HEAD);
        if (!c->in) {
            close(fd);
            return;
        }
        c->fd = fd;
        c->in_len = 0;
        c->phase = PH_READ;
        c->deadline_ms = fp_mono_ms() + OPS_READ_MS;
    }
}

static void *ops_main(void *arg)
{
    struct rt_ops *ops = arg;
    struct pollfd pfd[2 + OPS_MAX_CONN];
    int slot[2 + OPS_MAX_CONN];

    while (!atomic_load(&ops->stop)) {
        int64_t now = fp_mono_ms();
        int n = 0, busy = 0, lidx = -1, timeout = -1, r;

        for (int i = 0; i < OPS_MAX_CONN; i++)
            if (ops->conns[i].phase != PH_FREE && ops->conns[i].deadline_ms <= now)
                conn_expire(&ops->conns[i]);
        pfd[n].fd = ops->wake_fd;
        pfd[n].events = POLLIN;
        slot[n++] = -1;
        for (int i = 0; i < OPS_MAX_CONN; i++) {
            ops_conn *c = &ops->conns[i];
            int64_t left;

            if (c->phase == PH_FREE)
                continue;
            busy++;
            pfd[n].fd = c->fd;
            pfd[n].events = c->phase == PH_WRITE ? POLLOUT : POLLIN;
            slot[n++] = i;
            left = c->deadline_ms - now;
            if (left < 0)
                left = 0;
            if (timeout < 0 || left < timeout)
                timeout = (int)left;
        }
        if (busy < OPS_MAX_CONN) {
            if (now >= ops->accept_pause_until_ms) {
                lidx = n;
                pfd[n].fd = ops->lfd;
                pfd[n].events = POLLIN;
                slot[n++] = -1;
            } else if (timeout < 0 || ops->accept_pause_until_ms - now < timeout) {
                timeout = (int)(ops->accept_pause_until_ms - now);
            }
        }
        r = poll(pfd, (nfds_t)n, timeout);
        if (r < 0) {
            if (errno != EINTR) {
                fp_log_warn(MOD, "poll: %s", strerror(errno));
                usleep(100 * 1000);
            }
            continue;
        }
        if (pfd[0].revents)
            break; /* rt_ops_stop */
        for (int k = 1; k < n; k++) {
            ops_conn *c;

            if (!pfd[k].revents || k == lidx)
                continue;
            c = &ops->conns[slot[k]];
            if (c->phase == PH_READ)
                conn_read(ops, c);
            else if (c->phase == PH_WRITE)
                conn_write(c);
            else if (c->phase == PH_DRAIN)
                conn_drain(c);
        }
        if (lidx >= 0 && pfd[lidx].revents)
            accept_some(ops);
    }
    for (int i = 0; i < OPS_MAX_CONN; i++)
        if (ops->conns[i].phase != PH_FREE)
            conn_close(&ops->conns[i]);
    return NULL;
}

/* ---- start and stop ------------------------------------------------------------------------- */

/* "ADDR:PORT" (IPv4 address, "localhost" or empty) or "[IPv6]:PORT" into sa. */
static int parse_listen(const char *where, struct sockaddr_storage *ss, socklen_t *ss_len)
{
    char host[64];
    const char *colon = strrchr(where, ':');
    const char *h = where;
    size_t hlen;
    char *end;
    long port;

    if (!colon)
        return -1;
    hlen = (size_t)(colon - where);
    if (hlen >= 2 && where[0] == '[' && colon[-1] == ']') {
        h++;
        hlen -= 2;
    }
    if (hlen >= sizeof host)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end || errno || port > 65535)
        return -1;
    memset(ss, 0, sizeof *ss);
    if (h != where) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        *ss_len = sizeof *s6;
        return inet_pton(AF_INET6, host, &s6->sin6_addr) == 1 ? 0 : -1;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        *ss_len = sizeof *s4;
        if (!host[0])
            return inet_pton(AF_INET, "0.0.0.0", &s4->sin_addr) == 1 ? 0 : -1;
        if (!strcmp(host, "localhost"))
            return inet_pton(AF_INET, "127.0.0.1", &s4->sin_addr) == 1 ? 0 : -1;
        return inet_pton(AF_INET, host, &s4->sin_addr) == 1 ? 0 : -1;
    }
}

static void ops_free(struct rt_ops *ops)
{
    if (ops->lfd >= 0)
        close(ops->lfd);
    if (ops->wake_fd >= 0)
        close(ops->wake_fd);
    fp_free(ops);
}

/* DATA/ops.url: where this instance serves /metrics and /healthz, for `fieldplane up` (which
 * lists it) and scripts, since --listen 127.0.0.1:0 picks the port at start. Written to a
 * temporary name and renamed, so a reader never sees half a line. Failure only costs the file. */
static void write_url_file(fp_rt *rt, const char *url)
{
    char path[4096], tmp[4112];
    FILE *f;

    if (!rt->opt.data_dir ||
        (size_t)snprintf(path, sizeof path, "%s/ops.url", rt->opt.data_dir) >= sizeof path)
        return;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    f = fopen(tmp, "w");
    if (!f) {
        fp_log_warn(MOD, "cannot write %s: %s", tmp, strerror(errno));
        return;
    }
    fprintf(f, "%s\n", url);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        fp_log_warn(MOD, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
}

int rt_ops_start(fp_rt *rt, const char *where)
{
    struct rt_ops *ops;
    struct sockaddr_storage ss;
    socklen_t ss_len = 0;
    char host[INET6_ADDRSTRLEN];
    int one = 1;

    if (!where || !*where)
        return 0;
    if (parse_listen(where, &ss, &ss_len) != 0) {
        fp_log_error(MOD,
                     "--listen '%s' is not ADDR:PORT with an IPv4 address or [IPv6]:PORT "
                     "with a port of 0..65535",
                     where);
        return -1;
    }
    ops = fp_calloc(1, sizeof *ops);
    if (!ops)
        return -1;
    ops->rt = rt;
    ops->lfd = ops->wake_fd = -1;
    for (int i = 0; i < OPS_MAX_CONN; i++)
        ops->conns[i].fd = -1;
    ops->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ops->wake_fd < 0) {
        fp_log_error(MOD, "eventfd: %s", strerror(errno));
        goto out_free;
    }
    ops->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (ops->lfd < 0) {
        fp_log_error(MOD, "cannot listen on %s: socket: %s", where, strerror(errno));
        goto out_free;
    }
    /* A restarted connector gets its port back while old connections sit in TIME_WAIT. */
    setsockopt(ops->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(ops->lfd, (struct sockaddr *)&ss, ss_len) != 0 ||
        listen(ops->lfd, OPS_MAX_CONN) != 0) {
        fp_log_error(MOD, "cannot listen on %s: %s", where, strerror(errno));
        goto out_free;
    }
    ss_len = sizeof ss;
    if (getsockname(ops->lfd, (struct sockaddr *)&ss, &ss_len) != 0) {
        fp_log_error(MOD, "cannot listen on %s: getsockname: %s", where, strerror(errno));
        goto out_free;
    }
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        ops->port = ntohs(s6->sin6_port);
        inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        ops->port = ntohs(s4->sin_port);
        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
    }
    if (pthread_create(&ops->thread, NULL, ops_main, ops) != 0) {
        fp_log_error(MOD, "cannot start the operations endpoint's thread");
        goto out_free;
    }
    rt->ops = ops;
    char url[INET6_ADDRSTRLEN + 32];
    snprintf(url, sizeof url, ss.ss_family == AF_INET6 ? "http://[%s]:%d" : "http://%s:%d", host,
             ops->port);
    fp_log_info(MOD, "serving %s/metrics and /healthz", url);
    write_url_file(rt, url);
    return 0;

out_free:
    ops_free(ops);
    return -1;
}

void rt_ops_stop(fp_rt *rt)
{
    struct rt_ops *ops = rt ? rt->ops : NULL;
    uint64_t one = 1;

    if (!ops)
        return;
    atomic_store(&ops->stop, true);
    if (write(ops->wake_fd, &one, sizeof one) < 0)
        fp_log_warn(MOD, "cannot wake the operations thread: %s", strerror(errno));
    pthread_join(ops->thread, NULL);
    rt->ops = NULL;
    ops_free(ops);
}

int rt_ops_port(fp_rt *rt)
{
    return rt && rt->ops ? rt->ops->port : 0;
}
