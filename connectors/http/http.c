/*
 * http.c - the HTTP/REST connector (endpoint type Microsoft.Http).
 *
 * Each dataset polls GET <endpoint address>/<dataset dataSource> on a timer of its
 * asset's strand every samplingIntervalInMilliseconds. The response must be 2xx with a
 * JSON body; each data point selects its value from it by its dataSource (a JSON Pointer
 * or a "$.a.b[0]" path, see jsonsel.h) and the dataset publishes one object
 * {"<point>": <value>, ...} in data point order. A dataset without data points publishes
 * the whole document. Errors go to status: the endpoint's health says whether the device
 * answers at all, the dataset's health why its last poll gave nothing, and each data
 * point whose path is missing carries its own error. See docs/connector-http.md.
 *
 * The runtime owns the polling: it calls http_sample() on the asset's strand every
 * samplingIntervalInMilliseconds (the connector's sampling_key) and publishes the payload
 * it fills. A poll blocks for up to timeoutMilliseconds; that holds a worker of the
 * runtime's pool, which grows when every worker is blocked, so a device that never answers
 * delays only its own endpoint, and its skipped ticks show in /metrics.
 *
 * All callbacks and sample calls of an endpoint run on its strand, so a dataset's curl
 * handle and buffers are used by one thread at a time and need no lock. The endpoint's
 * connection settings live in a reference-counted snapshot (http_client.h); a changed
 * endpoint takes effect at each dataset's next poll.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fieldplane/connector.h>
#include <fieldplane/fp_alloc.h>
#include <fieldplane/fp_buf.h>
#include <fieldplane/fp_json.h>
#include <fieldplane/fp_log.h>
#include "http_client.h"
#include "jsonsel.h"

#define LOG_MOD "http"

/* The FP_CFG_ENDPOINT struct. */
typedef struct http_ep_conf {
    int64_t timeout_ms;
    char *authentication;
    int64_t max_response_bytes;
} http_ep_conf;

/* The FP_CFG_DATASET struct. */
typedef struct http_ds_conf {
    int64_t sampling_ms;
} http_ds_conf;

static const fp_config_key k_config[] = {
    {FP_CFG_ENDPOINT, FP_CFG_INT, "timeoutMilliseconds", "5000", offsetof(http_ep_conf, timeout_ms),
     100, 600000, "Time allowed for one request (connection, answer and body), in ms"},
    {FP_CFG_ENDPOINT, FP_CFG_STRING, "authentication", "auto",
     offsetof(http_ep_conf, authentication), 0, 0,
     "With UsernamePassword: \"basic\", \"bearer\" (token in the password secret) or \"auto\" "
     "(bearer when the username is empty)",
     fp_httpc_auth_modes},
    {FP_CFG_ENDPOINT, FP_CFG_INT, "maxResponseBytes", "16777216",
     offsetof(http_ep_conf, max_response_bytes), 1024, 1073741824,
     "Largest response body accepted, in bytes"},
    {FP_CFG_DATASET, FP_CFG_INT, "samplingIntervalInMilliseconds", "1000",
     offsetof(http_ds_conf, sampling_ms), 10, 86400000, "Time between two polls, in ms"},
    {0},
};

/* Per endpoint (fp_endpoint.user). */
typedef struct http_ep {
    fp_httpc_slot slot;
    int64_t max_response_bytes;
} http_ep;

/* Per dataset (fp_dataset.user). */
typedef struct http_ds {
    fp_dataset *ds;
    http_ep *ep;
    CURL *curl;
    struct curl_slist *headers;
    fp_httpc_cfg *cfg; /* the snapshot applied to curl (NULL: apply before the next poll) */
    char *url;
    fp_jsonsel **sel; /* per data point; NULL for a malformed selector */
    size_t n_sel;
    fp_buf body;
    char errbuf[CURL_ERROR_SIZE];
} http_ds;

static int http_init(fp_rt *rt)
{
    (void)rt;
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static void http_exit(fp_rt *rt)
{
    (void)rt;
    curl_global_cleanup();
}

/* A new snapshot of ep's settings into slot; -1 with the endpoint's health set. */
static int load_endpoint(fp_endpoint *ep, http_ep *h)
{
    const http_ep_conf *conf = ep->config;
    char err[512];
    fp_httpc_cfg *cfg;

    cfg = fp_httpc_cfg_new(ep, conf->authentication, (long)conf->timeout_ms, (long)conf->timeout_ms,
                           err, sizeof err);
    if (!cfg) {
        fp_endpoint_health(ep, false, "BadConfiguration", "%s", err);
        fp_log_error(LOG_MOD, "endpoint %s/%s: %s", ep->device, ep->name, err);
        return -1;
    }
    h->max_response_bytes = conf->max_response_bytes;
    fp_httpc_slot_set(&h->slot, cfg);
    return 0;
}

static int http_endpoint_add(fp_endpoint *ep)
{
    http_ep *h = fp_calloc(1, sizeof *h);

    if (!h)
        return -1;
    fp_httpc_slot_init(&h->slot);
    if (load_endpoint(ep, h)) {
        fp_httpc_slot_clear(&h->slot);
        fp_free(h);
        return -1;
    }
    ep->user = h;
    return 0;
}

static int http_endpoint_update(fp_endpoint *ep, const fp_endpoint *old)
{
    (void)old;
    /* On failure the previous settings stay in use until a valid change arrives. */
    return load_endpoint(ep, ep->user);
}

static void http_endpoint_remove(fp_endpoint *ep)
{
    http_ep *h = ep->user;

    if (!h)
        return;
    fp_httpc_slot_clear(&h->slot);
    fp_free(h);
    ep->user = NULL;
}

/* Compile every data point's selector; a malformed one is reported on the point. */
static int compile_selectors(http_ds *d, fp_dataset *ds)
{
    d->sel = fp_calloc(ds->n_points ? ds->n_points : 1, sizeof *d->sel);
    if (!d->sel)
        return -1;
    d->n_sel = ds->n_points;
    for (size_t i = 0; i < ds->n_points; i++) {
        fp_datapoint *dp = &ds->points[i];
        char err[256];
        fp_status st = fp_jsonsel_compile(dp->data_source, &d->sel[i], err, sizeof err);
        if (st == FP_ERR_NOMEM)
            return -1;
        if (st)
            fp_datapoint_error(dp, "BadSelector", "dataSource \"%s\": %s", dp->data_source, err);
        else
            fp_datapoint_error(dp, NULL, NULL);
    }
    return 0;
}

static void free_selectors(http_ds *d)
{
    for (size_t i = 0; i < d->n_sel; i++)
        fp_jsonsel_free(d->sel[i]);
    fp_free(d->sel);
    d->sel = NULL;
    d->n_sel = 0;
}

/* Forget the applied settings so that the next poll sets the handle up again. */
static void drop_settings(http_ds *d)
{
    curl_slist_free_all(d->headers);
    d->headers = NULL;
    fp_httpc_cfg_unref(d->cfg);
    d->cfg = NULL;
    fp_free(d->url);
    d->url = NULL;
}

/* Set the handle up for cfg; -1 with the dataset's health set. */
static int apply_settings(http_ds *d, fp_httpc_cfg *cfg)
{
    const char *accept[] = {"Accept: application/json", NULL};
    char err[256];

    drop_settings(d);
    curl_easy_reset(d->curl);
    d->url = fp_httpc_join(cfg->address, d->ds->data_source);
    if (!d->url || fp_httpc_apply(d->curl, cfg, accept, &d->headers, err, sizeof err)) {
        fp_dataset_health(d->ds, false, "BadConfiguration", "%s", d->url ? err : "out of memory");
        fp_httpc_cfg_unref(cfg);
        return -1;
    }
    curl_easy_setopt(d->curl, CURLOPT_URL, d->url);
    curl_easy_setopt(d->curl, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(d->curl, CURLOPT_WRITEFUNCTION, fp_httpc_write_buf);
    curl_easy_setopt(d->curl, CURLOPT_WRITEDATA, &d->body);
    curl_easy_setopt(d->curl, CURLOPT_ERRORBUFFER, d->errbuf);
    curl_easy_setopt(d->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)d->ep->max_response_bytes);
    curl_easy_setopt(d->curl, CURLOPT_ACCEPT_ENCODING, "");
    d->cfg = cfg;
    return 0;
}

/* True for curl errors of the TLS layer (certificate, handshake). */
static bool is_tls_error(CURLcode rc)
{
    return rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION ||
           rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CIPHER ||
           rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_ISSUER_ERROR ||
           rc == CURLE_SSL_CRL_BADFILE || rc == CURLE_SSL_ENGINE_INITFAILED ||
           rc == CURLE_SSL_CLIENTCERT;
}

/* Select every data point from doc into p; report what was missing. Returns 0 when p is to
 * be published. A dataset without data points publishes the whole document itself. */
static int select_points(http_ds *d, json_t *doc, fp_payload *p)
{
    fp_dataset *ds = d->ds;
    size_t found = 0, usable = 0;

    if (ds->n_points == 0) {
        fp_buf whole;
        int rc;
        fp_buf_init(&whole, (size_t)d->ep->max_response_bytes * 2 + 1024);
        fp_json_dump_compact(&whole, doc);
        if (whole.err) {
            fp_dataset_health(ds, false, "PublishFailed", "GET %s: the message is too large (%s)",
                              d->url, fp_status_name(whole.err));
            fp_buf_clear(&whole);
            return -1;
        }
        rc = fp_dataset_publish(ds, whole.data, whole.len, NULL);
        fp_buf_clear(&whole);
        if (rc == 0)
            fp_dataset_health(ds, true, "Ok", "GET %s: the whole document", d->url);
        return -1; /* published here */
    }
    for (size_t i = 0; i < ds->n_points && i < d->n_sel; i++) {
        fp_datapoint *dp = &ds->points[i];
        char err[512];
        json_t *v;
        if (!d->sel[i])
            continue; /* malformed: its error was set when it was added */
        usable++;
        v = fp_jsonsel_eval(d->sel[i], doc, err, sizeof err);
        if (!v) {
            fp_datapoint_error(dp, "PathNotFound", "dataSource \"%s\": %s", dp->data_source, err);
            continue;
        }
        fp_datapoint_error(dp, NULL, NULL);
        found++;
        if (fp_payload_add_json(p, dp->name, v) != 0) {
            fp_dataset_health(ds, false, "PublishFailed",
                              "GET %s: the message is too large (at data point %s)", d->url,
                              dp->name);
            return -1;
        }
    }
    if (found == 0) {
        fp_dataset_health(ds, false, usable ? "PathNotFound" : "BadSelector",
                          "GET %s: none of the %zu data points could be selected from the response",
                          d->url, ds->n_points);
        return -1;
    }
    fp_dataset_health(ds, true, "Ok", "GET %s: %zu of %zu data points", d->url, found,
                      ds->n_points);
    return 0;
}

/* One poll (the runtime's sample call, on the asset's strand). */
static int http_sample(fp_dataset *ds, fp_payload *p)
{
    http_ds *d = ds->user;
    fp_endpoint *ep = ds->asset->endpoint;
    fp_httpc_cfg *cfg = fp_httpc_slot_get(&d->ep->slot);
    json_error_t jerr;
    json_t *doc;
    CURLcode rc;
    long code = 0;
    int out = -1;

    if (!cfg || !d)
        return -1;
    if (cfg != d->cfg) {
        if (apply_settings(d, cfg))
            return -1;
    } else {
        fp_httpc_cfg_unref(cfg);
    }
    fp_buf_init(&d->body, (size_t)d->ep->max_response_bytes);
    d->errbuf[0] = '\0';
    rc = curl_easy_perform(d->curl);
    if (rc == CURLE_WRITE_ERROR && d->body.err == FP_ERR_TOO_LARGE)
        rc = CURLE_FILESIZE_EXCEEDED;
    if (rc == CURLE_FILESIZE_EXCEEDED) {
        fp_endpoint_health(ep, true, "Ok", "%s answers", d->cfg->address);
        fp_dataset_health(ds, false, "ResponseTooLarge",
                          "GET %s: the response body is larger than %lld bytes (maxResponseBytes)",
                          d->url, (long long)d->ep->max_response_bytes);
        goto out;
    }
    if (rc != CURLE_OK) {
        const char *why = d->errbuf[0] ? d->errbuf : curl_easy_strerror(rc);
        const char *reason = is_tls_error(rc) ? "TlsError" : "Unreachable";
        fp_endpoint_health(ep, false, reason, "GET %s: %s", d->url, why);
        fp_dataset_health(ds, false, reason, "GET %s: %s", d->url, why);
        goto out;
    }
    fp_endpoint_health(ep, true, "Ok", "%s answers", d->cfg->address);
    curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &code);
    if (code < 200 || code > 299) {
        const char *text = fp_httpc_reason(code);
        fp_dataset_health(ds, false, "HttpStatus", "GET %s: %ld%s%s", d->url, code,
                          *text ? " " : "", text);
        goto out;
    }
    if (d->body.err) {
        fp_dataset_health(ds, false, "PublishFailed", "GET %s: out of memory reading the body",
                          d->url);
        goto out;
    }
    doc = json_loadb(d->body.data ? d->body.data : "", d->body.len,
                     JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!doc) {
        fp_dataset_health(ds, false, "BadJson", "GET %s: invalid JSON at line %d, column %d: %s",
                          d->url, jerr.line, jerr.column, jerr.text);
        goto out;
    }
    out = select_points(d, doc, p);
    json_decref(doc);
out:
    fp_buf_clear(&d->body);
    return out;
}

static void http_ds_free(http_ds *d)
{
    if (!d)
        return;
    drop_settings(d);
    if (d->curl)
        curl_easy_cleanup(d->curl);
    free_selectors(d);
    fp_buf_clear(&d->body);
    fp_free(d);
}

static int http_dataset_add(fp_dataset *ds)
{
    http_ep *ep = ds->asset->endpoint->user;
    http_ds *d;

    if (!ep)
        return -1;
    d = fp_calloc(1, sizeof *d);
    if (!d)
        return -1;
    d->ds = ds;
    d->ep = ep;
    d->curl = curl_easy_init();
    if (!d->curl || compile_selectors(d, ds))
        goto out_free;
    ds->user = d;
    return 0;

out_free:
    http_ds_free(d);
    return -1;
}

static int http_dataset_update(fp_dataset *ds, const fp_dataset *old)
{
    http_ds *d = ds->user;

    (void)old;
    /* On the strand, so no poll runs; the runtime restarts the sampling at the new interval
     * when this returns. */
    free_selectors(d);
    drop_settings(d);
    d->ds = ds;
    return compile_selectors(d, ds);
}

static void http_dataset_remove(fp_dataset *ds)
{
    http_ds_free(ds->user);
    ds->user = NULL;
}

static const char *const k_types[] = {"Microsoft.Http", NULL};

static const fp_connector k_http = {
    .abi = FP_CONNECTOR_ABI,
    .name = "http",
    .description = "Polls HTTP/REST devices for JSON and publishes selected values",
    .endpoint_types = k_types,
    .config = k_config,
    .config_size =
        {[FP_CFG_ENDPOINT] = sizeof(http_ep_conf), [FP_CFG_DATASET] = sizeof(http_ds_conf)},
    .init = http_init,
    .exit = http_exit,
    .endpoint_add = http_endpoint_add,
    .endpoint_update = http_endpoint_update,
    .endpoint_remove = http_endpoint_remove,
    .dataset_add = http_dataset_add,
    .dataset_update = http_dataset_update,
    .dataset_remove = http_dataset_remove,
    .sampling_key = "samplingIntervalInMilliseconds",
    .dataset_sample = http_sample,
};

int main(int argc, char **argv)
{
    return fp_connector_main(&k_http, argc, argv);
}
