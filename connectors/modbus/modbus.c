/*
 * modbus.c - the Modbus connector (endpoint type Fieldplane.Modbus): Modbus TCP and RTU on
 * libmodbus.
 *
 * Each device inbound endpoint owns one libmodbus context (one TCP connection or one
 * serial line) that all assets on it share. A dataset's data points are parsed once, when
 * it is added (mb_point.c), and grouped into as few read requests as the protocol allows
 * (mb_plan.c); the runtime calls modbus_sample() every samplingIntervalInMilliseconds and
 * the connector sends the dataset's requests, decodes each point from the registers
 * (mb_codec.c) and fills one message in data point order. Management actions write (and
 * read) one point with the same type rules; discovery, when asked for, probes unit ids on
 * a timer, one id per tick, and reports the ones that answer as discovered devices.
 *
 * Threads. Everything of an endpoint (its assets' sample calls, actions and the discovery
 * timer) runs on the endpoint's strand, so the context is used by one thread at a time and
 * needs no lock, and requests to one device are naturally serialised, as Modbus wants. A
 * request blocks for at most timeoutMilliseconds per try: that holds one worker of the
 * runtime's pool, which grows when every worker is blocked, so a device that does not
 * answer delays only its own endpoint. Once a device has not answered a request (after its
 * retries), the rest of that sample is not sent, so a dead device costs one timeout per
 * sample, not one per request.
 *
 * Errors. A configuration error of a data point (address, type, order) is that point's
 * error in the dataset's status, naming it; the other points are read. An exception answer
 * is the error of the points of the request, by name (IllegalDataAddress); a request
 * bridging a gap that answers with an exception is split into one request per point from
 * then on, so one bad address costs its own point only. See docs/connector-modbus.md.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <modbus.h>

#include <fieldplane/connector.h>
#include <fieldplane/fp_alloc.h>
#include <fieldplane/fp_buf.h>
#include <fieldplane/fp_json.h>
#include <fieldplane/fp_log.h>
#include <fieldplane/fp_time.h>
#include "mb_codec.h"
#include "mb_plan.h"
#include "mb_point.h"

#define LOG_MOD "modbus"

/* ---- configuration rows ------------------------------------------------------------------ */

/* The FP_CFG_ENDPOINT struct. */
typedef struct mb_ep_conf {
    int64_t unit_id;
    int64_t timeout_ms;
    int64_t delay_ms;
    int64_t retries;
    int64_t max_regs;
    int64_t max_bits;
    int64_t gap_regs;
    int64_t gap_bits;
    bool scan;
    int64_t scan_first;
    int64_t scan_last;
    int64_t scan_rate;
    int64_t scan_timeout_ms;
} mb_ep_conf;

/* The FP_CFG_DATASET struct. */
typedef struct mb_ds_conf {
    int64_t sampling_ms;
    int64_t unit_id; /* 0: the endpoint's */
} mb_ds_conf;

/* The FP_CFG_DATAPOINT and FP_CFG_ACTION structs: the same point keys (one layout, so one
 * parser serves both), actions add a unit id. */
typedef struct mb_pt_conf {
    char *type;
    char *order;
    int64_t length;
    int64_t bit;
    double scale;
    double offset;
    bool raw;
    int64_t unit_id; /* actions only; 0: the endpoint's */
} mb_pt_conf;

#define POINT_ROWS(scope)                                                                          \
    {scope,                                                                                        \
     FP_CFG_STRING,                                                                                \
     "type",                                                                                       \
     NULL,                                                                                         \
     offsetof(mb_pt_conf, type),                                                                   \
     0,                                                                                            \
     0,                                                                                            \
     "How the registers are read (a string spans length registers, a bit is one bit of a "         \
     "register); unset: bool for coils and discrete inputs, uint16 for registers",                 \
     mb_type_names},                                                                               \
        {scope,                                                                                    \
         FP_CFG_STRING,                                                                            \
         "byteOrder",                                                                              \
         "ABCD",                                                                                   \
         offsetof(mb_pt_conf, order),                                                              \
         0,                                                                                        \
         0,                                                                                        \
         "Byte and word order of multi-register values: ABCD (big-endian), CDAB (words "           \
         "swapped), BADC (bytes swapped), DCBA (both)",                                            \
         mb_order_names},                                                                          \
        {scope,                                                                                    \
         FP_CFG_INT,                                                                               \
         "length",                                                                                 \
         "0",                                                                                      \
         offsetof(mb_pt_conf, length),                                                             \
         0,                                                                                        \
         MB_MAX_STRING_REGS,                                                                       \
         "Registers of a string (two characters each)"},                                           \
        {scope,                                                                                    \
         FP_CFG_INT,                                                                               \
         "bit",                                                                                    \
         "-1",                                                                                     \
         offsetof(mb_pt_conf, bit),                                                                \
         -1,                                                                                       \
         15,                                                                                       \
         "The bit of a register for type bit, 0 = least significant (or write hr:N.B)"},           \
        {scope,                                                                                    \
         FP_CFG_DOUBLE,                                                                            \
         "scale",                                                                                  \
         "1",                                                                                      \
         offsetof(mb_pt_conf, scale),                                                              \
         0,                                                                                        \
         0,                                                                                        \
         "Engineering value = raw * scale + offset"},                                              \
    {                                                                                              \
        scope, FP_CFG_DOUBLE, "offset", "0", offsetof(mb_pt_conf, offset), 0, 0,                   \
            "Added after scale"                                                                    \
    }

static const fp_config_key k_config[] = {
    {FP_CFG_ENDPOINT, FP_CFG_INT, "unitId", "1", offsetof(mb_ep_conf, unit_id), 1, 247,
     "Unit id (slave address) of the device; a dataset or action may name its own"},
    {FP_CFG_ENDPOINT, FP_CFG_INT, "timeoutMilliseconds", "1000", offsetof(mb_ep_conf, timeout_ms),
     10, 60000, "Time allowed for the answer to one request (and for connecting), in ms"},
    {FP_CFG_ENDPOINT, FP_CFG_INT, "interRequestDelayMilliseconds", "0",
     offsetof(mb_ep_conf, delay_ms), 0, 60000,
     "Pause between the end of one request and the start of the next on this endpoint, in ms"},
    {FP_CFG_ENDPOINT, FP_CFG_INT, "retries", "1", offsetof(mb_ep_conf, retries), 0, 10,
     "Tries after the first when a request gets no answer or a broken one"},
    {FP_CFG_ENDPOINT, FP_CFG_INT, "maxRegistersPerRequest", "125", offsetof(mb_ep_conf, max_regs),
     1, 125, "Most registers one read request asks for"},
    {FP_CFG_ENDPOINT, FP_CFG_INT, "maxBitsPerRequest", "2000", offsetof(mb_ep_conf, max_bits), 1,
     2000, "Most coils or discrete inputs one read request asks for"},
    {FP_CFG_ENDPOINT, FP_CFG_INT, "maxGapRegisters", "8", offsetof(mb_ep_conf, gap_regs), 0, 124,
     "Unused registers one request may read to join two points (0: only what points name)"},
    {FP_CFG_ENDPOINT, FP_CFG_INT, "maxGapBits", "64", offsetof(mb_ep_conf, gap_bits), 0, 1999,
     "Unused bits one request may read to join two points"},
    {FP_CFG_ENDPOINT, FP_CFG_BOOL, "discovery.scanUnitIds", "false", offsetof(mb_ep_conf, scan), 0,
     0,
     "Probe the unit ids below once (again after each change of the endpoint) and report "
     "those that answer as discovered devices"},
    {FP_CFG_ENDPOINT, FP_CFG_INT, "discovery.firstUnitId", "1", offsetof(mb_ep_conf, scan_first), 1,
     247, "First unit id probed"},
    {FP_CFG_ENDPOINT, FP_CFG_INT, "discovery.lastUnitId", "247", offsetof(mb_ep_conf, scan_last), 1,
     247, "Last unit id probed"},
    {FP_CFG_ENDPOINT, FP_CFG_INT, "discovery.requestsPerSecond", "10",
     offsetof(mb_ep_conf, scan_rate), 1, 100, "Probes per second at most"},
    {FP_CFG_ENDPOINT, FP_CFG_INT, "discovery.timeoutMilliseconds", "200",
     offsetof(mb_ep_conf, scan_timeout_ms), 10, 10000, "Time a unit id has to answer a probe"},
    {FP_CFG_DATASET, FP_CFG_INT, "samplingIntervalInMilliseconds", "1000",
     offsetof(mb_ds_conf, sampling_ms), 10, 86400000,
     "Time between two reads of the dataset, in ms"},
    {FP_CFG_DATASET, FP_CFG_INT, "unitId", NULL, offsetof(mb_ds_conf, unit_id), 1, 247,
     "Unit id of the dataset's points (as an asset's defaultDatasetsConfiguration: of the "
     "asset); unset: the endpoint's"},
    POINT_ROWS(FP_CFG_DATAPOINT),
    {FP_CFG_DATAPOINT, FP_CFG_BOOL, "includeRaw", "false", offsetof(mb_pt_conf, raw), 0, 0,
     "Publish the point as {\"Value\": v, \"Raw\": [registers]}"},
    POINT_ROWS(FP_CFG_ACTION),
    {FP_CFG_ACTION, FP_CFG_INT, "unitId", NULL, offsetof(mb_pt_conf, unit_id), 1, 247,
     "Unit id the action writes to; unset: the endpoint's"},
    {0},
};

/* ---- state ----------------------------------------------------------------------------- */

/* Per endpoint (fp_endpoint.user). */
typedef struct mb_ep {
    fp_endpoint *ep;
    mb_address addr;
    char where[300]; /* "modbus-tcp://host:port" for messages */
    modbus_t *ctx;
    bool connected;
    int unit_id;
    int64_t timeout_ms, delay_ms, retries;
    mb_limits limits;
    uint64_t next_request_ms; /* monotonic: the inter-request delay's end */
    char conn_error[128];     /* why the last connect failed */
    unsigned gen;             /* +1 on each change: datasets re-plan with the new settings */
    /* discovery */
    fp_timer *scan_timer;
    int scan_next, scan_last, scan_found;
    int64_t scan_timeout_ms;
} mb_ep;

/* The connector's own counters in /metrics (fp_endpoint_count), per endpoint. */
enum { CNT_REQUESTS = 0, CNT_TIMEOUTS, CNT_EXCEPTIONS, CNT_CONNECT_FAILURES };
static const fp_counter_def k_counters[] = {
    [CNT_REQUESTS] = {"modbus_requests", "Modbus requests sent (reads, writes, probes, retries)"},
    [CNT_TIMEOUTS] = {"modbus_timeouts", "Modbus requests that got no answer within the timeout"},
    [CNT_EXCEPTIONS] = {"modbus_exceptions", "Modbus requests answered with an exception code"},
    [CNT_CONNECT_FAILURES] = {"modbus_connect_failures",
                              "Connections (TCP or serial line) that could not be opened"},
    {NULL, NULL},
};

/* What one read request of a sample found out. */
enum read_result { READ_OK = 0, READ_EXCEPTION, READ_TIMEOUT, READ_FAILED };

/* Per data point of a dataset. */
typedef struct mb_dp {
    bool usable; /* parsed; false: its configuration error is in status */
    bool raw;
    mb_point pt;
    size_t slot; /* index of its first register (or bit) in the dataset's value area */
    enum read_result res;
    int exc;
} mb_dp;

/* Per dataset (fp_dataset.user). */
typedef struct mb_ds {
    fp_dataset *ds;
    mb_ep *ep;
    unsigned gen; /* the endpoint's gen the plan was made with */
    int unit_id;
    mb_dp *dps;
    size_t n_dps;
    mb_span *spans; /* of the usable points; span_dp[i] is the point of spans[i] */
    size_t *span_dp;
    size_t n_spans;
    mb_plan plan;
    bool *split;    /* per request: read its points one by one (an exception answered it) */
    uint16_t *regs; /* value area: every point's registers (or bits, one per uint16_t) */
    size_t n_regs;
    int64_t last_ok_ms; /* wall clock of the last sample that read a point; 0: none yet */
} mb_ds;

/* Per action (fp_action.user). */
typedef struct mb_ac {
    bool usable;
    char error[768];
    mb_point pt;
    int unit_id; /* 0: the endpoint's (as it is when a request comes) */
} mb_ac;

/* ---- the connection -------------------------------------------------------------------- */

static void ep_close(mb_ep *e)
{
    if (e->ctx) {
        modbus_close(e->ctx);
        modbus_free(e->ctx);
        e->ctx = NULL;
    }
    e->connected = false;
}

static void set_timeout(mb_ep *e, int64_t ms)
{
    modbus_set_response_timeout(e->ctx, (uint32_t)(ms / 1000), (uint32_t)(ms % 1000) * 1000);
}

/* Connect when not connected; -1 with the endpoint's health set. */
static int ep_connect(mb_ep *e)
{
    char port[16];

    if (e->connected)
        return 0;
    if (!e->ctx) {
        if (e->addr.rtu) {
            e->ctx = modbus_new_rtu(e->addr.device, e->addr.baud, e->addr.parity, e->addr.data_bits,
                                    e->addr.stop_bits);
        } else {
            snprintf(port, sizeof port, "%d", e->addr.port);
            e->ctx = modbus_new_tcp_pi(e->addr.host, port);
        }
        if (!e->ctx) {
            fp_endpoint_health(e->ep, false, "BadConfiguration", "%s: %s", e->where,
                               modbus_strerror(errno));
            return -1;
        }
    }
    set_timeout(e, e->timeout_ms);
    if (modbus_connect(e->ctx) != 0) {
        int err = errno;
        snprintf(e->conn_error, sizeof e->conn_error, "%s", modbus_strerror(err));
        fp_endpoint_count(e->ep, CNT_CONNECT_FAILURES, 1);
        fp_endpoint_health(e->ep, false, "Unreachable", "cannot connect to %s: %s", e->where,
                           e->conn_error);
        ep_close(e);
        return -1;
    }
    e->connected = true;
    fp_log_info(LOG_MOD, "endpoint %s/%s: connected to %s", e->ep->device, e->ep->name, e->where);
    return 0;
}

/* Sleep until the inter-request delay since the last request has passed. */
static void pace(mb_ep *e)
{
    uint64_t now = fp_mono_ms();
    if (e->next_request_ms > now) {
        uint64_t ms = e->next_request_ms - now;
        struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
}

/* One Modbus exchange, with the endpoint's retries. `op` runs it on the connected context
 * and returns libmodbus' result (< 0 with errno). Returns READ_OK, READ_EXCEPTION (*exc
 * set), READ_TIMEOUT or READ_FAILED; *why says what happened otherwise. */
static enum read_result exchange(mb_ep *e, int unit, int (*op)(modbus_t *, void *), void *arg,
                                 int *exc, char *why, size_t why_len)
{
    enum read_result res = READ_FAILED;
    bool resent = false;

    *exc = 0;
    snprintf(why, why_len, "not sent");
    for (int64_t attempt = 0; attempt <= e->retries; attempt++) {
        bool was_connected = e->connected;
        if (ep_connect(e)) {
            snprintf(why, why_len, "cannot connect: %s", e->conn_error);
            return READ_FAILED;
        }
        pace(e);
        modbus_set_slave(e->ctx, unit);
        fp_endpoint_count(e->ep, CNT_REQUESTS, 1);
        int rc = op(e->ctx, arg);
        int err = errno;
        e->next_request_ms = fp_mono_ms() + (uint64_t)e->delay_ms;
        if (rc >= 0)
            return READ_OK;
        if (err > MODBUS_ENOBASE && err <= EMBXGTAR) {
            /* The device answered: the connection is fine, the request is not. */
            *exc = err - MODBUS_ENOBASE;
            fp_endpoint_count(e->ep, CNT_EXCEPTIONS, 1);
            return READ_EXCEPTION;
        }
        if (err == ETIMEDOUT) {
            fp_endpoint_count(e->ep, CNT_TIMEOUTS, 1);
            snprintf(why, why_len, "unit %d did not answer within %lld ms", unit,
                     (long long)e->timeout_ms);
            res = READ_TIMEOUT;
            /* A late answer would be taken for the next request's: start clean. */
            if (e->addr.rtu)
                modbus_flush(e->ctx);
            else
                ep_close(e);
        } else {
            snprintf(why, why_len, "%s", modbus_strerror(err));
            res = READ_FAILED;
            ep_close(e);
            /* A device (or a gateway) that closed the connection while it was idle fails the
             * first request on it, which it never saw: that one is sent again at once on a
             * new connection, without counting as a retry. The function codes used are
             * idempotent, so a request that did arrive does no harm sent twice. */
            if (was_connected && !resent) {
                resent = true;
                attempt--;
            }
        }
    }
    return res;
}

typedef struct read_op {
    mb_table table;
    int address, count;
    uint16_t *regs;
    uint8_t *bits;
} read_op;

static int do_read(modbus_t *ctx, void *arg)
{
    read_op *r = arg;
    switch (r->table) {
    case MB_COILS:
        return modbus_read_bits(ctx, r->address, r->count, r->bits);
    case MB_DISCRETE_INPUTS:
        return modbus_read_input_bits(ctx, r->address, r->count, r->bits);
    case MB_INPUT_REGISTERS:
        return modbus_read_input_registers(ctx, r->address, r->count, r->regs);
    default:
        return modbus_read_registers(ctx, r->address, r->count, r->regs);
    }
}

/* Text of an exception for messages: "exception 2 (IllegalDataAddress)". */
static const char *exc_name(int code)
{
    const char *n = mb_exception_name(code);
    return n ? n : "UnknownException";
}

/* ---- endpoints ------------------------------------------------------------------------- */

static void scan_tick(void *arg);

/* Apply ep's configuration to e; -1 with the endpoint's health set. */
static int load_endpoint(fp_endpoint *ep, mb_ep *e)
{
    const mb_ep_conf *c = ep->config;
    char err[384];
    mb_address a;

    if (mb_address_parse(ep->address, &a, err, sizeof err)) {
        fp_endpoint_health(ep, false, "BadConfiguration", "%s", err);
        fp_log_error(LOG_MOD, "endpoint %s/%s: %s", ep->device, ep->name, err);
        return -1;
    }
    ep_close(e);
    e->addr = a;
    if (a.rtu)
        snprintf(e->where, sizeof e->where, "modbus-rtu://%s", a.device);
    else
        snprintf(e->where, sizeof e->where, "modbus-tcp://%s%s%s:%d",
                 strchr(a.host, ':') ? "[" : "", a.host, strchr(a.host, ':') ? "]" : "", a.port);
    e->unit_id = (int)c->unit_id;
    e->timeout_ms = c->timeout_ms;
    e->delay_ms = c->delay_ms;
    e->retries = c->retries;
    e->limits.max_regs = (uint16_t)c->max_regs;
    e->limits.max_bits = (uint16_t)c->max_bits;
    e->limits.gap_regs = (uint16_t)c->gap_regs;
    e->limits.gap_bits = (uint16_t)c->gap_bits;
    e->gen++;
    fp_timer_cancel(e->scan_timer);
    e->scan_timer = NULL;
    if (c->scan) {
        uint64_t every = (uint64_t)(1000 / c->scan_rate);
        e->scan_next = (int)c->scan_first;
        e->scan_last = (int)c->scan_last;
        e->scan_found = 0;
        e->scan_timeout_ms = c->scan_timeout_ms;
        e->scan_timer = fp_endpoint_timer_every(ep, 0, every ? every : 1, scan_tick, e);
        fp_log_info(LOG_MOD, "endpoint %s/%s: scanning unit ids %d..%d of %s", ep->device, ep->name,
                    e->scan_next, e->scan_last, e->where);
    }
    return 0;
}

static int modbus_endpoint_add(fp_endpoint *ep)
{
    mb_ep *e = fp_calloc(1, sizeof *e);

    if (!e)
        return -1;
    e->ep = ep;
    ep->user = e;
    if (load_endpoint(ep, e)) {
        ep->user = NULL;
        fp_free(e);
        return -1;
    }
    /* Connect now, so the endpoint's health says at once whether the device is there. */
    if (ep_connect(e) == 0)
        fp_endpoint_health(ep, true, "Ok", "connected to %s", e->where);
    return 0;
}

static int modbus_endpoint_update(fp_endpoint *ep, const fp_endpoint *old)
{
    (void)old;
    return load_endpoint(ep, ep->user);
}

static void modbus_endpoint_remove(fp_endpoint *ep)
{
    mb_ep *e = ep->user;

    if (!e)
        return;
    fp_timer_cancel(e->scan_timer);
    ep_close(e);
    fp_free(e);
    ep->user = NULL;
}

/* ---- discovery ------------------------------------------------------------------------- */

/* Report unit `unit` of e's endpoint as a discovered device. */
static void report_unit(mb_ep *e, int unit)
{
    fp_endpoint *ep = e->ep;
    char name[FP_DISCOVERED_NAME_BUF], text[24], key[600], cfg[32], unit_text[12];
    json_t *props;

    /* <device>-unit-<id> on the registry's rule; a device name too long for it ends in a
     * hash of the endpoint and the unit id, so each unit keeps its own name. */
    snprintf(text, sizeof text, "unit-%d", unit);
    snprintf(key, sizeof key, "%s/%s/%s#%d", ep->ns, ep->device, ep->name, unit);
    fp_discovered_name(name, ep->device, text, key, false);
    snprintf(cfg, sizeof cfg, "{\"unitId\": %d}", unit);
    snprintf(unit_text, sizeof unit_text, "%d", unit);
    props = json_pack("{s:{s:{s:{s:s,s:s,s:s}}},s:{s:s,s:s,s:s}}", "endpoints", "inbound", ep->name,
                      "endpointType", "Fieldplane.Modbus", "address", ep->address,
                      "additionalConfiguration", cfg, "attributes", "unitId", unit_text,
                      "scannedDevice", ep->device, "scannedEndpoint", ep->name);
    if (!props)
        return;
    if (fp_discovered_device_report(fp_rt_get(), ep->ns, name, props) == 0)
        e->scan_found++;
    json_decref(props);
}

static int probe(modbus_t *ctx, void *arg)
{
    uint16_t r;
    (void)arg;
    return modbus_read_registers(ctx, 0, 1, &r);
}

/* One probe per tick, on the endpoint's strand between samples: a unit id answers with data
 * or with an exception (a device is there either way; a gateway's "target failed to
 * respond" is no device). */
static void scan_tick(void *arg)
{
    mb_ep *e = arg;
    int unit = e->scan_next, exc;
    int64_t retries = e->retries;
    char why[256];

    if (unit > e->scan_last || unit < 1)
        return;
    if (ep_connect(e))
        return; /* the same unit again on the next tick */
    e->scan_next++;
    set_timeout(e, e->scan_timeout_ms);
    e->retries = 0;
    enum read_result res = exchange(e, unit, probe, NULL, &exc, why, sizeof why);
    e->retries = retries;
    if (e->ctx)
        set_timeout(e, e->timeout_ms);
    if (res == READ_OK || (res == READ_EXCEPTION && exc != 10 && exc != 11))
        report_unit(e, unit);
    if (e->scan_next > e->scan_last)
        fp_log_info(LOG_MOD, "endpoint %s/%s: scan of %s done, %d unit ids answered", e->ep->device,
                    e->ep->name, e->where, e->scan_found);
}

/* ---- datasets -------------------------------------------------------------------------- */

/* Free what ds_build made, keeping d. */
static void ds_reset(mb_ds *d)
{
    mb_plan_clear(&d->plan);
    fp_free(d->dps);
    fp_free(d->spans);
    fp_free(d->span_dp);
    fp_free(d->split);
    fp_free(d->regs);
    mb_ep *e = d->ep;
    int64_t last_ok_ms = d->last_ok_ms;
    memset(d, 0, sizeof *d);
    d->ep = e;
    d->last_ok_ms = last_ok_ms;
}

static void ds_free(mb_ds *d)
{
    if (!d)
        return;
    ds_reset(d);
    fp_free(d);
}

/* Parse one point's configuration; false with err when it is unusable. */
static bool parse_point(const char *src, const mb_pt_conf *c, mb_point *pt, char *err,
                        size_t err_len)
{
    return mb_point_parse(src, c->type, c->order, c->length, c->bit, c->scale, c->offset, pt, err,
                          err_len) == 0;
}

/* Build d's points, spans and plan from ds. -1 when out of memory. */
static int ds_build(mb_ds *d, fp_dataset *ds)
{
    const mb_ds_conf *dc = ds->config;
    size_t n = ds->n_points;

    d->ds = ds;
    d->gen = d->ep->gen;
    d->unit_id = dc && dc->unit_id ? (int)dc->unit_id : d->ep->unit_id;
    d->dps = fp_calloc(n ? n : 1, sizeof *d->dps);
    d->spans = fp_calloc(n ? n : 1, sizeof *d->spans);
    d->span_dp = fp_calloc(n ? n : 1, sizeof *d->span_dp);
    if (!d->dps || !d->spans || !d->span_dp)
        return -1;
    d->n_dps = n;
    for (size_t i = 0; i < n; i++) {
        fp_datapoint *dp = &ds->points[i];
        const mb_pt_conf *c = dp->config;
        mb_dp *m = &d->dps[i];
        char err[384];
        if (!c || !parse_point(dp->data_source, c, &m->pt, err, sizeof err)) {
            fp_datapoint_error(dp, "BadConfiguration", "data point \"%s\": %s", dp->name,
                               c ? err : "no configuration");
            continue;
        }
        m->usable = true;
        m->raw = c->raw;
        m->slot = d->n_regs;
        d->n_regs += mb_table_is_bits(m->pt.table) ? 1 : m->pt.count;
        d->spans[d->n_spans] =
            (mb_span){(uint8_t)d->unit_id, m->pt.table, m->pt.address, m->pt.count};
        d->span_dp[d->n_spans++] = i;
        fp_datapoint_error(dp, NULL, NULL);
    }
    d->regs = fp_calloc(d->n_regs ? d->n_regs : 1, sizeof *d->regs);
    if (!d->regs || mb_plan_build(d->spans, d->n_spans, &d->ep->limits, &d->plan))
        return -1;
    d->split = fp_calloc(d->plan.n_reqs ? d->plan.n_reqs : 1, sizeof *d->split);
    if (!d->split)
        return -1;
    fp_log_debug(LOG_MOD, "dataset %s/%s: %zu of %zu points in %zu requests", ds->asset->name,
                 ds->name, d->n_spans, n, d->plan.n_reqs);
    return 0;
}

static int modbus_dataset_add(fp_dataset *ds)
{
    mb_ep *e = ds->asset->endpoint->user;
    mb_ds *d;

    if (!e)
        return -1;
    d = fp_calloc(1, sizeof *d);
    if (!d)
        return -1;
    d->ep = e;
    if (ds_build(d, ds)) {
        ds_free(d);
        return -1;
    }
    ds->user = d;
    return 0;
}

static int modbus_dataset_update(fp_dataset *ds, const fp_dataset *old)
{
    (void)old;
    ds_free(ds->user);
    ds->user = NULL;
    return modbus_dataset_add(ds);
}

static void modbus_dataset_remove(fp_dataset *ds)
{
    ds_free(ds->user);
    ds->user = NULL;
}

/* Read `count` registers (or bits) from `address` into the points of spans
 * members[first .. first + n) of d's plan. */
static enum read_result read_range(mb_ds *d, mb_table table, int address, int count,
                                   const size_t *members, size_t n, char *why, size_t why_len)
{
    uint16_t regs[MB_MAX_READ_REGS];
    uint8_t bits[MB_MAX_READ_BITS];
    read_op op = {table, address, count, regs, bits};
    int exc;
    enum read_result res = exchange(d->ep, d->unit_id, do_read, &op, &exc, why, why_len);

    for (size_t k = 0; k < n; k++) {
        mb_dp *m = &d->dps[d->span_dp[members[k]]];
        m->res = res;
        m->exc = exc;
        if (res != READ_OK)
            continue;
        int off = m->pt.address - address;
        if (mb_table_is_bits(table))
            d->regs[m->slot] = bits[off];
        else
            memcpy(&d->regs[m->slot], &regs[off], m->pt.count * sizeof *regs);
    }
    return res;
}

/* Send the dataset's requests. Returns the number of requests sent; *dead when the device
 * stopped answering (the rest was not sent). */
static size_t read_all(mb_ds *d, enum read_result *dead, char *why, size_t why_len)
{
    size_t sent = 0;

    *dead = READ_OK;
    for (size_t i = 0; i < d->n_dps; i++)
        d->dps[i].res = READ_FAILED;
    for (size_t r = 0; r < d->plan.n_reqs && !*dead; r++) {
        const mb_request *q = &d->plan.reqs[r];
        const size_t *members = &d->plan.members[q->first];
        enum read_result res;
        if (!d->split[r]) {
            res = read_range(d, q->table, q->address, q->count, members, q->n, why, why_len);
            sent++;
            if (res == READ_EXCEPTION && q->n > 1) {
                /* Which point's address was refused is unknown: ask for each alone, now and
                 * from now on. */
                d->split[r] = true;
                fp_log_info(LOG_MOD,
                            "dataset %s/%s: %s:%u+%u answered %s; reading its %zu points one "
                            "by one",
                            d->ds->asset->name, d->ds->name, mb_table_short(q->table),
                            (unsigned)q->address, (unsigned)q->count,
                            exc_name(d->dps[d->span_dp[members[0]]].exc), q->n);
            } else {
                if (res == READ_TIMEOUT || res == READ_FAILED)
                    *dead = res;
                continue;
            }
        }
        for (size_t k = 0; k < q->n && !*dead; k++) {
            const mb_span *s = &d->spans[members[k]];
            res = read_range(d, s->table, s->address, s->count, &members[k], 1, why, why_len);
            sent++;
            if (res == READ_TIMEOUT || res == READ_FAILED)
                *dead = res;
        }
    }
    return sent;
}

/* One sample (the runtime's call, on the endpoint's strand). */
static int modbus_sample(fp_dataset *ds, fp_payload *p)
{
    mb_ds *d = ds->user;
    char why[256] = "";
    size_t ok = 0, sent;
    enum read_result dead;
    int first_exc = 0;

    if (!d)
        return -1;
    if (d->gen != d->ep->gen) {
        /* The endpoint changed (unit id, limits): plan again on the strand, before reading. */
        ds_reset(d);
        if (ds_build(d, ds)) {
            fp_dataset_health(ds, false, "OutOfMemory", "out of memory planning the requests");
            return -1;
        }
    }
    if (d->n_spans == 0) {
        fp_dataset_health(ds, false, "BadConfiguration",
                          "none of the %zu data points has a usable configuration", ds->n_points);
        return -1;
    }
    sent = read_all(d, &dead, why, sizeof why);
    for (size_t i = 0; i < d->n_dps; i++) {
        mb_dp *m = &d->dps[i];
        fp_datapoint *dp = &ds->points[i];
        if (!m->usable)
            continue;
        if (m->res == READ_EXCEPTION) {
            if (!first_exc)
                first_exc = m->exc;
            fp_datapoint_error(dp, exc_name(m->exc), "%s:%u: unit %d answered exception %d (%s)",
                               mb_table_short(m->pt.table), (unsigned)m->pt.address, d->unit_id,
                               m->exc, exc_name(m->exc));
            continue;
        }
        if (m->res != READ_OK)
            continue; /* the dataset's health says why */
        fp_buf *b = fp_payload_member_begin(p, dp->name);
        if (!b)
            break;
        mb_value_json(&m->pt, &d->regs[m->slot], (const uint8_t[]){(uint8_t)d->regs[m->slot]},
                      m->raw, b);
        if (fp_payload_member_end(p))
            break;
        fp_datapoint_error(dp, NULL, NULL);
        ok++;
    }
    const char *dead_reason = dead == READ_TIMEOUT ? "Timeout" : "Unreachable";
    /* A failure says since when: health's own time is that of the failure. */
    char since[FP_RFC3339_LEN + 32] = "";
    if (d->last_ok_ms) {
        char t[FP_RFC3339_LEN];
        fp_time_rfc3339(t, d->last_ok_ms);
        snprintf(since, sizeof since, "; last successful read %s", t);
    }
    if (dead) {
        fp_endpoint_health(ds->asset->endpoint, false, dead_reason, "%s: %s", d->ep->where, why);
    } else {
        fp_endpoint_health(ds->asset->endpoint, true, "Ok", "connected to %s", d->ep->where);
    }
    if (!fp_payload_text(p, NULL)) {
        fp_dataset_health(ds, false, "PublishFailed", "the message is too large");
        return -1;
    }
    if (ok == 0) {
        if (dead)
            fp_dataset_health(ds, false, dead_reason, "%s: %s%s", d->ep->where, why, since);
        else
            fp_dataset_health(ds, false, first_exc ? exc_name(first_exc) : "NoData",
                              "none of the %zu data points could be read%s", d->n_spans, since);
        return -1;
    }
    d->last_ok_ms = fp_time_now_ms();
    fp_dataset_health(ds, true, "Ok", "%zu of %zu data points in %zu requests", ok, ds->n_points,
                      sent);
    return 0;
}

/* ---- management actions ---------------------------------------------------------------- */

static int modbus_action_add(fp_action *ac)
{
    mb_ac *a = fp_calloc(1, sizeof *a);
    const mb_pt_conf *c = ac->config;
    mb_ep *e = ac->asset->endpoint->user;

    if (!a)
        return -1;
    ac->user = a;
    a->unit_id = c ? (int)c->unit_id : 0;
    char err[300];
    if (strcasecmp(ac->action_type, "Write") && strcasecmp(ac->action_type, "Read"))
        snprintf(a->error, sizeof a->error,
                 "action \"%s\": actionType %s is not supported (Write or Read)", ac->name,
                 ac->action_type);
    else if (!c || !parse_point(ac->target_uri, c, &a->pt, err, sizeof err))
        snprintf(a->error, sizeof a->error, "action \"%.64s\": targetUri \"%.64s\": %s", ac->name,
                 ac->target_uri, c ? err : "no configuration");
    else if (!strcasecmp(ac->action_type, "Write") && a->pt.count > MB_MAX_WRITE_REGS)
        snprintf(a->error, sizeof a->error,
                 "action \"%.64s\": a write carries at most %d registers, the %s is %u", ac->name,
                 MB_MAX_WRITE_REGS, mb_type_name(a->pt.type), (unsigned)a->pt.count);
    else
        a->usable = true;
    if (!a->usable)
        fp_action_health(ac, false, "BadConfiguration", "%s", a->error);
    else
        fp_action_health(ac, true, "Ok", "%s %s:%u (%s) of unit %d", ac->action_type,
                         mb_table_short(a->pt.table), (unsigned)a->pt.address,
                         mb_type_name(a->pt.type),
                         a->unit_id ? a->unit_id
                         : e        ? e->unit_id
                                    : 1);
    return 0;
}

static void modbus_action_remove(fp_action *ac)
{
    fp_free(ac->user);
    ac->user = NULL;
}

typedef struct write_op {
    const mb_point *pt;
    uint16_t *regs;
    uint8_t bit;
} write_op;

static int do_write(modbus_t *ctx, void *arg)
{
    write_op *w = arg;
    const mb_point *pt = w->pt;
    if (pt->table == MB_COILS)
        return modbus_write_bit(ctx, pt->address, w->bit);
    if (pt->type == MB_T_BIT) /* function 22: only the one bit changes, atomically */
        return modbus_mask_write_register(ctx, pt->address, (uint16_t) ~(1u << pt->bit),
                                          (uint16_t)((unsigned)w->bit << pt->bit));
    if (pt->count == 1)
        return modbus_write_register(ctx, pt->address, w->regs[0]);
    return modbus_write_registers(ctx, pt->address, pt->count, w->regs);
}

/* The HTTP-like status of a failed exchange. */
static int fail_status(enum read_result res, int exc)
{
    if (res == READ_TIMEOUT)
        return 504;
    if (res == READ_FAILED)
        return 503;
    switch (exc) {
    case 1:
    case 3:
        return 400;
    case 2:
        return 404;
    case 5:
    case 6:
        return 503;
    case 10:
    case 11:
        return 502;
    default:
        return 500;
    }
}

static void act_fail(fp_action_req *req, enum read_result res, int exc, const char *why)
{
    if (res == READ_EXCEPTION)
        fp_action_fail(req, fail_status(res, exc), exc_name(exc),
                       "the device answered exception %d (%s)", exc, exc_name(exc));
    else
        fp_action_fail(req, fail_status(res, exc), res == READ_TIMEOUT ? "Timeout" : "Unreachable",
                       "%s", why);
}

/* Answer {"Value": v, "Raw": [...]} of the point's registers (or bit). */
static void act_answer(fp_action_req *req, const mb_point *pt, const uint16_t *regs, uint8_t bit)
{
    fp_buf b;
    fp_buf_init(&b, 1u << 16);
    mb_value_json(pt, regs, &bit, true, &b);
    if (b.err)
        fp_action_fail(req, 500, "InternalError", "the answer does not fit");
    else
        fp_action_reply(req, b.data, b.len);
    fp_buf_clear(&b);
}

static void modbus_action_call(fp_action *ac, fp_action_req *req)
{
    mb_ac *a = ac->user;
    mb_ep *e = ac->asset->endpoint->user;
    uint16_t regs[MB_MAX_READ_REGS] = {0};
    uint8_t bits[1] = {0};
    char why[256];
    int exc;
    enum read_result res;

    if (!a || !e) {
        fp_action_fail(req, 503, "Unavailable", "the action's endpoint is not served");
        return;
    }
    if (!a->usable) {
        fp_action_fail(req, 400, "BadConfiguration", "%s", a->error);
        return;
    }
    int unit = a->unit_id ? a->unit_id : e->unit_id;
    if (!strcasecmp(ac->action_type, "Read")) {
        read_op op = {a->pt.table, a->pt.address, a->pt.count, regs, bits};
        res = exchange(e, unit, do_read, &op, &exc, why, sizeof why);
        if (res != READ_OK)
            act_fail(req, res, exc, why);
        else
            act_answer(req, &a->pt, regs, bits[0]);
        return;
    }
    if (!mb_table_is_writable(a->pt.table)) {
        fp_action_fail(req, 400, "IllegalFunction", "%s:%u: a %s is read-only",
                       mb_table_short(a->pt.table), (unsigned)a->pt.address,
                       mb_table_name(a->pt.table));
        return;
    }
    size_t len;
    const char *text = fp_action_req_payload(req, &len);
    json_error_t jerr;
    json_t *doc = json_loadb(text ? text : "", len, JSON_DECODE_ANY, &jerr);
    if (!doc) {
        fp_action_fail(req, 400, "BadRequest", "the request is not JSON: %s", jerr.text);
        return;
    }
    /* {"Value": v}, or the value itself. */
    const json_t *v =
        json_is_object(doc) && json_object_get(doc, "Value") ? json_object_get(doc, "Value") : doc;
    write_op w = {&a->pt, regs, 0};
    char err[256];
    if (mb_value_encode(&a->pt, v, regs, &w.bit, err, sizeof err)) {
        fp_action_fail(req, 400, "IllegalDataValue", "%s", err);
        json_decref(doc);
        return;
    }
    json_decref(doc);
    res = exchange(e, unit, do_write, &w, &exc, why, sizeof why);
    if (res != READ_OK) {
        act_fail(req, res, exc, why);
        return;
    }
    if (a->pt.type == MB_T_BIT) /* the register as it is now is unknown: answer the bit */
        regs[0] = (uint16_t)((unsigned)w.bit << a->pt.bit);
    act_answer(req, &a->pt, regs, w.bit);
}

/* ---- the table ------------------------------------------------------------------------- */

static const char *const k_types[] = {"Fieldplane.Modbus", NULL};

static const fp_connector k_modbus = {
    .abi = FP_CONNECTOR_ABI,
    .name = "modbus",
    .description = "Reads and writes Modbus TCP and RTU devices (libmodbus)",
    .endpoint_types = k_types,
    .config = k_config,
    .config_size = {[FP_CFG_ENDPOINT] = sizeof(mb_ep_conf),
                    [FP_CFG_DATASET] = sizeof(mb_ds_conf),
                    [FP_CFG_DATAPOINT] = sizeof(mb_pt_conf),
                    [FP_CFG_ACTION] = sizeof(mb_pt_conf)},
    .endpoint_add = modbus_endpoint_add,
    .endpoint_update = modbus_endpoint_update,
    .endpoint_remove = modbus_endpoint_remove,
    .dataset_add = modbus_dataset_add,
    .dataset_update = modbus_dataset_update,
    .dataset_remove = modbus_dataset_remove,
    .action_add = modbus_action_add,
    .action_remove = modbus_action_remove,
    .action_call = modbus_action_call,
    .sampling_key = "samplingIntervalInMilliseconds",
    .dataset_sample = modbus_sample,
    .counters = k_counters,
};

int main(int argc, char **argv)
{
    return fp_connector_main(&k_modbus, argc, argv);
}
