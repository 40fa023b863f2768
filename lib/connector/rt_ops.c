/*
 * rt_ops.c - the connector's operations endpoint: GET /healthz and GET /metrics.
 *
 * A small libmicrohttpd server on --listen (ADDR:PORT; port 0 picks a free one, and the
 * log line says which). /healthz answers 200 "ok" while both the registry watch and the
 * broker connection are up, else 503 "degraded", so a supervisor can tell a connector
 * that runs from one that is stuck. /metrics is the Prometheus text format; every figure
 * is read at request time (the MQTT publisher's statistics and the endpoints' counters),
 * so nothing is kept twice.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fp_alloc.h"
#include "fp_log.h"
#include "rt_internal.h"

#define MOD "ops"
#define MAX_BODY (16u << 20)

struct rt_ops {
    fp_rt *rt;
    struct MHD_Daemon *mhd;
    int port;
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

void rt_ops_metrics_text(fp_buf *b, const char *connector, const fpc_mqtt_stats *st,
                         const rt_ep_count *eps, size_t n_eps, uint64_t published_total,
                         uint64_t failed_total, bool registry_ok)
{
    const char *h = "fieldplane_connector_publish_latency_seconds";

    head(b, "fieldplane_connector_messages_received_total", "counter",
         "Messages received on subscriptions (management action requests).");
    sample(b, "fieldplane_connector_messages_received_total", connector, NULL, st->received);

    head(b, "fieldplane_connector_messages_published_total", "counter",
         "Messages handed to a destination (queued for the broker or stored); without the "
         "endpoint label, every endpoint's together.");
    sample(b, "fieldplane_connector_messages_published_total", connector, NULL, published_total);
    for (size_t i = 0; i < n_eps; i++)
        sample(b, "fieldplane_connector_messages_published_total", connector, eps[i].label,
               eps[i].published);

    head(b, "fieldplane_connector_messages_failed_total", "counter",
         "Messages that could not be handed to a destination; without the endpoint label, "
         "every endpoint's together.");
    sample(b, "fieldplane_connector_messages_failed_total", connector, NULL, failed_total);
    for (size_t i = 0; i < n_eps; i++)
        sample(b, "fieldplane_connector_messages_failed_total", connector, eps[i].label,
               eps[i].failed);

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
    }
    pthread_mutex_unlock(&rt->lock);
    *n_out = i;
    *labels_out = labels;
    return eps;
}

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *ctype,
                              char *body, size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result ret;

    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* A body MHD may free with free(): a copy made with malloc. */
static char *heap_copy(const char *z, size_t len)
{
    char *c = malloc(len + 1);
    if (c) {
        memcpy(c, z, len);
        c[len] = '\0';
    }
    return c;
}

static enum MHD_Result answer_json(struct MHD_Connection *conn, unsigned status, json_t *doc)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

    json_decref(doc);
    if (!text)
        return MHD_NO;
    return answer(conn, status, "application/json", text, strlen(text));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **ctx)
{
    struct rt_ops *ops = cls;
    fp_rt *rt = ops->rt;
    fpc_mqtt_stats st;
    bool known = !strcmp(url, "/healthz") || !strcmp(url, "/metrics");

    (void)version;
    (void)upload_data;
    if (!*ctx) { /* first call: headers only */
        *ctx = (void *)1;
        return MHD_YES;
    }
    if (*upload_data_size) { /* a body we do not want */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!known)
        return answer_json(conn, MHD_HTTP_NOT_FOUND,
                           json_pack("{s:{s:s, s:s}}", "error", "code", "NotFound", "message",
                                     "only /healthz and /metrics are served here"));
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return answer_json(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                           json_pack("{s:{s:s, s:s}}", "error", "code", "MethodNotAllowed",
                                     "message", "only GET is served here"));

    memset(&st, 0, sizeof st);
    if (rt->mqtt)
        fpc_mqtt_get_stats(rt->mqtt, &st);
    if (!strcmp(url, "/healthz")) {
        bool reg_ok = atomic_load(&rt->registry_ok);
        bool ok = reg_ok && st.connected;
        return answer_json(conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
                           json_pack("{s:s, s:s, s:b, s:b, s:I, s:I, s:I}", "status",
                                     ok ? "ok" : "degraded", "connector",
                                     rt->conn && rt->conn->name ? rt->conn->name : "", "registry",
                                     reg_ok, "broker", st.connected, "revision",
                                     (json_int_t)atomic_load(&rt->revision), "queued",
                                     (json_int_t)st.queued, "dropped", (json_int_t)st.dropped));
    }
    {
        fp_buf b;
        size_t n_eps = 0, len = 0;
        char *labels = NULL, *text, *body;
        rt_ep_count *eps = snapshot_endpoints(rt, &n_eps, &labels);

        fp_buf_init(&b, MAX_BODY);
        rt_ops_metrics_text(&b, rt->conn && rt->conn->name ? rt->conn->name : "", &st, eps, n_eps,
                            atomic_load(&rt->published_total), atomic_load(&rt->failed_total),
                            atomic_load(&rt->registry_ok));
        fp_free(eps);
        fp_free(labels);
        if (b.err) {
            fp_buf_clear(&b);
            return answer_json(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                               json_pack("{s:{s:s, s:s}}", "error", "code", "Internal", "message",
                                         "the metrics text could not be built"));
        }
        text = fp_buf_take(&b, &len);
        body = heap_copy(text ? text : "", text ? len : 0);
        fp_free(text);
        if (!body)
            return MHD_NO;
        return answer(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len);
    }
}

/* "ADDR:PORT" (IPv4) into sa. */
static int parse_listen(const char *listen, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(listen, ':');
    char *end;
    long port;

    if (!colon || (size_t)(colon - listen) >= sizeof host)
        return -1;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || port < 0 || port > 65535)
        return -1;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (!host[0])
        return inet_pton(AF_INET, "0.0.0.0", &sa->sin_addr) == 1 ? 0 : -1;
    if (!strcmp(host, "localhost"))
        return inet_pton(AF_INET, "127.0.0.1", &sa->sin_addr) == 1 ? 0 : -1;
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

int rt_ops_start(fp_rt *rt, const char *listen)
{
    struct rt_ops *ops;
    struct sockaddr_in sa;
    const union MHD_DaemonInfo *info;

    if (!listen || !*listen)
        return 0;
    if (parse_listen(listen, &sa) != 0) {
        fp_log_error(MOD, "--listen '%s' is not ADDR:PORT with an IPv4 address", listen);
        return -1;
    }
    ops = fp_calloc(1, sizeof *ops);
    if (!ops)
        return -1;
    ops->rt = rt;
    ops->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                                on_request, ops, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
                                MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64, MHD_OPTION_END);
    if (!ops->mhd) {
        fp_log_error(MOD,
                     "cannot listen on %s (address in use, or not an address of this "
                     "machine)",
                     listen);
        fp_free(ops);
        return -1;
    }
    info = MHD_get_daemon_info(ops->mhd, MHD_DAEMON_INFO_BIND_PORT);
    ops->port = info ? info->port : ntohs(sa.sin_port);
    rt->ops = ops;
    {
        char host[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &sa.sin_addr, host, sizeof host);
        fp_log_info(MOD, "serving http://%s:%d/metrics and /healthz", host, ops->port);
    }
    return 0;
}

void rt_ops_stop(fp_rt *rt)
{
    struct rt_ops *ops = rt ? rt->ops : NULL;

    if (!ops)
        return;
    MHD_stop_daemon(ops->mhd);
    rt->ops = NULL;
    fp_free(ops);
}

int rt_ops_port(fp_rt *rt)
{
    return rt && rt->ops ? rt->ops->port : 0;
}
