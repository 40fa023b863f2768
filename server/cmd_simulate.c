/*
 * cmd_simulate.c - `fieldplane simulate`: a small demo device on HTTP and SSE.
 *
 * `fieldplane up --demo` registers a device served by this simulator so a new user sees
 * messages on the broker within seconds, without any hardware. It is also a handy peer for
 * trying the HTTP/REST and SSE connectors by hand:
 *
 *   GET /api/oven   JSON that changes on every call (temperature, pressure, status, ...)
 *   GET /api/press  the same for a press, with other members
 *   GET /events     text/event-stream: `retry: 2000` first, then every second an `alarm`
 *                   or `cycle` event with an id; Last-Event-ID continues the numbering.
 *                   Alarm data is pretty-printed JSON over several `data:` lines, so a
 *                   client's handling of multi-line data is exercised too.
 *
 * libmicrohttpd serves each connection on its own thread, so an event stream's content
 * callback may simply wait for its next event (checking the stop flag every 100 ms).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "fp_alloc.h"
#include "fp_buf.h"
#include "fp_log.h"
#include "fp_time.h"

#define SIM_EVENT_PERIOD_MS 1000
#define SIM_STOP_CHECK_MS 100

static atomic_int g_sim_stop;
static atomic_llong g_sim_calls; /* GETs of the JSON endpoints, drives the values */

static void sim_usage(FILE *f)
{
    fprintf(f, "Usage: fieldplane simulate [--listen ADDR:PORT] [--port-file FILE]\n\n"
               "Serve a small demo device over HTTP and server-sent events until Ctrl-C:\n"
               "  GET /api/oven    JSON readings of an oven, new values on every call\n"
               "  GET /api/press   JSON readings of a press\n"
               "  GET /events      an event stream: an alarm or a cycle event every second\n"
               "                   (ids continue from Last-Event-ID on reconnect)\n\n"
               "Options:\n"
               "  --listen ADDR:PORT  where to listen (default 127.0.0.1:0: a free port)\n"
               "  --port-file FILE    write the URL (http://ADDR:PORT) to FILE once serving\n"
               "  -h, --help          this help\n\n"
               "Example:\n"
               "  fieldplane simulate --listen 127.0.0.1:8099 &\n"
               "  curl http://127.0.0.1:8099/api/oven\n");
}

/* A value rounded to 2 decimals, so payloads read well. */
static double round2(double v)
{
    return round(v * 100.0) / 100.0;
}

/* Small deterministic noise from n (no shared random state between threads). */
static double jitter(long long n)
{
    unsigned long long x = (unsigned long long)n * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)((x >> 33) % 1000) / 1000.0 - 0.5;
}

static json_t *oven_reading(long long n)
{
    char t[FP_RFC3339_LEN];

    fp_time_now_rfc3339(t);
    return json_pack("{s:f,s:f,s:{s:b,s:s},s:[I,I],s:s}", "temperature",
                     round2(180.0 + 6.0 * sin((double)n / 6.0) + jitter(n)), "pressure",
                     round2(1.01 + 0.04 * cos((double)n / 9.0)), "status", "running", 1, "mode",
                     "auto", "counters", (json_int_t)n, (json_int_t)(n / 10), "time", t);
}

static json_t *press_reading(long long n)
{
    char t[FP_RFC3339_LEN];

    fp_time_now_rfc3339(t);
    return json_pack("{s:f,s:f,s:I,s:{s:f,s:f},s:s,s:s}", "force",
                     round2(240.0 + 15.0 * sin((double)n / 3.0)), "position",
                     round2(50.0 + 49.0 * sin((double)n / 2.0)), "strokes", (json_int_t)(n * 2),
                     "hydraulics", "pressureBar", round2(210.0 + 4.0 * jitter(n)), "oilTemperature",
                     round2(45.0 + 2.0 * cos((double)n / 20.0)), "state",
                     n % 20 < 17 ? "pressing" : "idle", "time", t);
}

/* Answer with a JSON body (takes doc). */
static enum MHD_Result answer_json(struct MHD_Connection *conn, unsigned code, json_t *doc)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
    struct MHD_Response *r;
    enum MHD_Result ret;

    json_decref(doc);
    if (!text)
        return MHD_NO;
    r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    ret = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result answer_error(struct MHD_Connection *conn, unsigned code, const char *ecode,
                                    const char *msg)
{
    return answer_json(conn, code,
                       json_pack("{s:{s:s,s:s}}", "error", "code", ecode, "message", msg));
}

/* ---------------------------------------------------------------------------
 * The event stream
 * ------------------------------------------------------------------------- */

typedef struct sse_state {
    long long next_id;
    uint64_t next_at_ms; /* fp_mono_ms() of the next event */
    fp_buf out;          /* text produced but not yet handed to MHD */
    size_t off;
    bool sent_retry;
} sse_state;

/* Append event id to s->out: an alarm every third event, a cycle otherwise. */
static void sse_event(sse_state *s, long long id)
{
    bool alarm = id % 3 == 0;
    char t[FP_RFC3339_LEN];
    json_t *doc;
    char *text;

    fp_time_now_rfc3339(t);
    if (alarm)
        doc = json_pack("{s:s,s:s,s:s,s:f,s:s}", "severity", id % 2 ? "warning" : "critical",
                        "code", id % 2 ? "TEMP_HIGH" : "DOOR_OPEN", "message",
                        id % 2 ? "oven temperature above 185 C" : "oven door opened while running",
                        "value", round2(185.0 + jitter(id) * 4.0), "time", t);
    else
        doc = json_pack("{s:I,s:I,s:I,s:I,s:s}", "cycle", (json_int_t)id, "durationMs",
                        (json_int_t)(950 + (id * 37) % 120), "partsOk", (json_int_t)(id * 4),
                        "partsRejected", (json_int_t)(id / 7), "time", t);
    /* Alarms go out pretty-printed over several data: lines (joined by "\n" on the client
     * side, which gives back the same JSON). */
    text = doc ? json_dumps(doc, (alarm ? JSON_INDENT(2) : JSON_COMPACT) | JSON_REAL_PRECISION(12))
               : NULL;
    json_decref(doc);
    if (!text)
        return;
    fp_buf_printf(&s->out, "id: %lld\nevent: %s\n", id, alarm ? "alarm" : "cycle");
    for (char *line = text, *nl; line; line = nl) {
        nl = strchr(line, '\n');
        if (nl)
            *nl++ = '\0';
        fp_buf_printf(&s->out, "data: %s\n", line);
    }
    fp_buf_append_str(&s->out, "\n");
    free(text);
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    sse_state *s = cls;
    size_t n;

    (void)pos;
    while (s->off >= s->out.len) {
        long wait;
        fp_buf_reset(&s->out);
        s->off = 0;
        if (atomic_load(&g_sim_stop))
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (!s->sent_retry) {
            /* The reconnect delay the client should use, before any event. */
            fp_buf_append_str(&s->out, "retry: 2000\n\n");
            s->sent_retry = true;
            break;
        }
        wait = (long)((int64_t)s->next_at_ms - (int64_t)fp_mono_ms());
        if (wait > 0) {
            struct timespec nap = {0, (wait < SIM_STOP_CHECK_MS ? wait : SIM_STOP_CHECK_MS) *
                                          1000000L};
            nanosleep(&nap, NULL);
            continue;
        }
        sse_event(s, s->next_id++);
        s->next_at_ms += SIM_EVENT_PERIOD_MS;
        if (s->out.err)
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    n = s->out.len - s->off;
    if (n > max)
        n = max;
    memcpy(buf, s->out.data + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

static void sse_free(void *cls)
{
    sse_state *s = cls;
    fp_buf_clear(&s->out);
    fp_free(s);
}

static enum MHD_Result answer_events(struct MHD_Connection *conn)
{
    const char *last = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Last-Event-ID");
    struct MHD_Response *r;
    enum MHD_Result ret;
    sse_state *s;

    s = fp_calloc(1, sizeof *s);
    if (!s)
        return MHD_NO;
    fp_buf_init(&s->out, 64u << 10);
    s->next_id = 1;
    if (last && *last) {
        char *end;
        long long v = strtoll(last, &end, 10);
        if (*end == '\0' && v >= 0)
            s->next_id = v + 1;
    }
    /* The first event goes out at once, the next ones every period. */
    s->next_at_ms = fp_mono_ms();
    r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, s, sse_free);
    if (!r) {
        sse_free(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result sim_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **req_cls)
{
    (void)cls;
    (void)version;
    (void)upload_data;
    if (*req_cls == NULL) {
        /* The first call only announces the request; answer on the second. */
        *req_cls = (void *)1;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0; /* a body is not used; drain it */
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return answer_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "MethodNotAllowed",
                            "the simulator answers GET only");
    if (strcmp(url, "/api/oven") == 0)
        return answer_json(conn, MHD_HTTP_OK, oven_reading(atomic_fetch_add(&g_sim_calls, 1)));
    if (strcmp(url, "/api/press") == 0)
        return answer_json(conn, MHD_HTTP_OK, press_reading(atomic_fetch_add(&g_sim_calls, 1)));
    if (strcmp(url, "/events") == 0)
        return answer_events(conn);
    if (strcmp(url, "/") == 0)
        return answer_json(conn, MHD_HTTP_OK,
                           json_pack("{s:s,s:[s,s,s]}", "device", "fieldplane simulator", "paths",
                                     "/api/oven", "/api/press", "/events"));
    return answer_error(conn, MHD_HTTP_NOT_FOUND, "NotFound",
                        "no such path; try /api/oven, /api/press or /events");
}

/* Write text to path through a temporary file and a rename, so a reader never sees half. */
static int write_file_atomic(const char *path, const char *text)
{
    char tmp[4200];
    FILE *f;
    int n = snprintf(tmp, sizeof tmp, "%s.tmp", path);

    if (n < 0 || (size_t)n >= sizeof tmp)
        return -1;
    f = fopen(tmp, "w");
    if (!f)
        return -1;
    if (fputs(text, f) < 0 || fclose(f) != 0) {
        unlink(tmp);
        return -1;
    }
    return rename(tmp, path);
}

int fp_cmd_simulate(int argc, char **argv)
{
    static const struct option k_opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"port-file", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *listen_addr = "127.0.0.1:0", *port_file = NULL, *colon;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *info;
    char host[64], url[128];
    sigset_t set;
    long port;
    char *end;
    int c, sig = 0;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", k_opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            listen_addr = optarg;
            break;
        case 'p':
            port_file = optarg;
            break;
        case 'h':
            sim_usage(stdout);
            return FP_EXIT_OK;
        default:
            fprintf(stderr, "fieldplane simulate: unknown or incomplete option '%s'\n",
                    argv[optind - 1]);
            sim_usage(stderr);
            return FP_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fieldplane simulate: unexpected argument '%s'\n", argv[optind]);
        return FP_EXIT_USAGE;
    }
    colon = strrchr(listen_addr, ':');
    if (!colon || colon == listen_addr || (size_t)(colon - listen_addr) >= sizeof host) {
        fprintf(stderr,
                "fieldplane simulate: --listen must be ADDR:PORT (an IPv4 address), "
                "not '%s'\n",
                listen_addr);
        return FP_EXIT_USAGE;
    }
    memcpy(host, listen_addr, (size_t)(colon - listen_addr));
    host[colon - listen_addr] = '\0';
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || port < 0 || port > 65535 ||
        inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr,
                "fieldplane simulate: --listen must be ADDR:PORT (an IPv4 address), "
                "not '%s'\n",
                listen_addr);
        return FP_EXIT_USAGE;
    }
    sa.sin_port = htons((uint16_t)port);

    /* The signals are taken by sigwait below, on this thread only: block them before
     * MHD's threads start so that they inherit the mask. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    atomic_store(&g_sim_stop, 0);
    d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                             MHD_USE_ERROR_LOG,
                         0, NULL, NULL, sim_handler, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)0, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "fieldplane simulate: cannot listen on %s: %s\n", listen_addr,
                errno ? strerror(errno) : "address in use or not available");
        return FP_EXIT_ERROR;
    }
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    if (info && info->port)
        port = info->port;
    snprintf(url, sizeof url, "http://%s:%ld", host, port);
    if (port_file) {
        char line[140];
        snprintf(line, sizeof line, "%s\n", url);
        if (write_file_atomic(port_file, line) != 0) {
            fprintf(stderr, "fieldplane simulate: cannot write %s: %s\n", port_file,
                    strerror(errno));
            MHD_stop_daemon(d);
            return FP_EXIT_ERROR;
        }
    }
    printf("simulator listening on %s\n", url);
    fflush(stdout);

    while (sig != SIGINT && sig != SIGTERM) {
        if (sigwait(&set, &sig) != 0)
            break;
    }
    fp_log_info("simulate", "received %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    atomic_store(&g_sim_stop, 1);
    MHD_stop_daemon(d);
    return FP_EXIT_OK;
}
