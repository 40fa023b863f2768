/*
 * mqtt_bench.c - messages per second into a local mosquitto through the connector SDK's
 * MQTT publisher (fpc_mqtt), next to the ceiling of the same broker fed without our queue.
 *
 * It starts its own mosquitto on a loopback port chosen at run time (with the CPU
 * affinity reset, so `taskset -c 0` pins only this process and what it runs as the
 * client), then measures, for N messages of P bytes on topic bench/<path>:
 *
 *   queue append      fpc_queue_append alone (the disk write of a QoS 1 publish)
 *   queue append+sync the same with fdatasync per append (N/20 messages)
 *   fpc_mqtt qos0     N publishes, then one QoS 1 marker whose PUBACK closes the clock
 *   fpc_mqtt qos1     N publishes through the disk queue until the queue is empty
 *   libmosquitto qos0 the raw library: N mosquitto_publish_v5 + the same marker
 *   libmosquitto qos1 N QoS 1 publishes (100 in flight) until the last PUBACK
 *   mosquitto_pub -l  the command-line client fed N lines from a file, qos 0 and 1
 *
 * The broker has no subscriber, so it acknowledges and drops: this is the publishing
 * path, not end-to-end delivery. CPU is this process's user+sys (children for
 * mosquitto_pub) per message.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fp_log.h"
#include "fp_time.h"
#include "../../lib/connector/fpc_mqtt.h"
#include "../../lib/connector/fpc_queue.h"

#define MOSQUITTO_BIN "/usr/sbin/mosquitto"
#define MOSQUITTO_PUB_BIN "/usr/bin/mosquitto_pub"

static int g_port;
static char g_dir[64];
static pid_t g_broker = -1;
static char *g_payload;
static size_t g_len = 200;

static double cpu_s(int who)
{
    struct rusage ru;
    getrusage(who, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void row(const char *path, long n, double secs, double cpu, const char *note)
{
    printf("| %-26s | %8ld | %7.3f | %9.0f | %6.1f | %7.2f | %s |\n", path, n, secs, n / secs,
           n * (double)g_len / secs / 1e6, n ? 1e6 * cpu / n : 0, note);
    fflush(stdout);
}

/* ---- the broker ---------------------------------------------------------------------------- */

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static int port_open(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)g_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* The children run on every CPU, whatever taskset gave the bench. */
static void unpin(void)
{
    cpu_set_t all;
    CPU_ZERO(&all);
    for (int i = 0; i < CPU_SETSIZE && i < 1024; i++)
        CPU_SET(i, &all);
    sched_setaffinity(0, sizeof all, &all);
}

static int broker_start(void)
{
    char conf[128], log[128];
    snprintf(conf, sizeof conf, "%s/mosquitto.conf", g_dir);
    snprintf(log, sizeof log, "%s/mosquitto.log", g_dir);
    FILE *f = fopen(conf, "w");
    if (!f)
        return -1;
    fprintf(f, "listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n", g_port);
    fclose(f);
    g_broker = fork();
    if (g_broker < 0)
        return -1;
    if (g_broker == 0) {
        unpin();
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(MOSQUITTO_BIN, "mosquitto", "-c", conf, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500 && !port_open(); i++)
        sleep_ms(10);
    return port_open() ? 0 : -1;
}

static void broker_stop(void)
{
    if (g_broker > 0) {
        kill(g_broker, SIGTERM);
        waitpid(g_broker, NULL, 0);
        g_broker = -1;
    }
}

/* ---- the queue alone ------------------------------------------------------------------ */

static void bench_queue(long n, bool sync)
{
    char dir[128], err[256], cmd[200];
    snprintf(dir, sizeof dir, "%s/q-append%s", g_dir, sync ? "-sync" : "");
    fpc_queue *q = fpc_queue_open(dir, 1ull << 32, sync, false, err, sizeof err);
    if (!q) {
        fprintf(stderr, "queue: %s\n", err);
        exit(1);
    }
    fpc_prop props[2] = {{"specversion", "1.0"}, {"type", "DataSet"}};
    fpc_msg m = {.topic = "bench/queue",
                 .payload = g_payload,
                 .len = g_len,
                 .qos = 1,
                 .content_type = "application/json",
                 .props = props,
                 .n_props = 2};
    double c0 = cpu_s(RUSAGE_SELF), t0 = fp_mono_s();
    for (long i = 0; i < n; i++) {
        if (fpc_queue_append(q, &m, 0, NULL) != 0) {
            fprintf(stderr, "queue append failed\n");
            exit(1);
        }
    }
    double t1 = fp_mono_s(), c1 = cpu_s(RUSAGE_SELF);
    fpc_queue_close(q);
    row(sync ? "queue append + fdatasync" : "queue append", n, t1 - t0, c1 - c0,
        sync ? "disk write + fdatasync per message" : "one write() per message");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

/* ---- fpc_mqtt ------------------------------------------------------------------------ */

static void wait_drained(fpc_mqtt *m)
{
    fpc_mqtt_stats st;
    for (;;) {
        fpc_mqtt_get_stats(m, &st);
        if (st.queued == 0)
            return;
        sched_yield();
        sleep_ms(1);
    }
}

static void bench_fpc(long n, int qos)
{
    char dir[128], err[256];
    snprintf(dir, sizeof dir, "%s/q-fpc%d", g_dir, qos);
    fpc_mqtt_opts o = {.host = "127.0.0.1",
                       .port = g_port,
                       .client_id = "bench-fpc",
                       .queue_dir = dir,
                       .queue_max_bytes = 1ull << 32};
    fpc_mqtt *m = fpc_mqtt_new(&o, err, sizeof err);
    if (!m || fpc_mqtt_start(m) != 0) {
        fprintf(stderr, "fpc_mqtt: %s\n", err);
        exit(1);
    }
    fpc_mqtt_stats st;
    for (int i = 0; i < 500; i++) {
        fpc_mqtt_get_stats(m, &st);
        if (st.connected)
            break;
        sleep_ms(10);
    }
    fpc_prop props[2] = {{"specversion", "1.0"}, {"type", "DataSet"}};
    fpc_msg msg = {.topic = qos ? "bench/fpc1" : "bench/fpc0",
                   .payload = g_payload,
                   .len = g_len,
                   .qos = qos,
                   .content_type = "application/json",
                   .props = props,
                   .n_props = 2};
    long fails = 0;
    double c0 = cpu_s(RUSAGE_SELF), t0 = fp_mono_s();
    for (long i = 0; i < n; i++)
        fails += fpc_mqtt_publish(m, &msg) != 0;
    double t_pub = fp_mono_s();
    fpc_msg marker = {.topic = "bench/marker", .payload = "end", .len = 3, .qos = 1};
    fpc_mqtt_publish(m, &marker);
    wait_drained(m);
    double t1 = fp_mono_s(), c1 = cpu_s(RUSAGE_SELF);
    fpc_mqtt_get_stats(m, &st);
    char note[200];
    if (qos)
        snprintf(note, sizeof note,
                 "publish calls %.0f/s; mean enqueue->PUBACK %.1f ms; %ld failed", n / (t_pub - t0),
                 st.latency_count ? 1e3 * st.latency_sum_s / st.latency_count : 0, fails);
    else
        snprintf(note, sizeof note,
                 "until the PUBACK of a QoS 1 marker sent after them; %ld failed", fails);
    row(qos ? "fpc_mqtt qos1 (disk queue)" : "fpc_mqtt qos0", n, t1 - t0, c1 - c0, note);
    fpc_mqtt_free(m, 1000);
}

/* ---- raw libmosquitto ---------------------------------------------------------------- */

typedef struct raw {
    pthread_mutex_t mu;
    long acked;
    int marker_mid;
    int marker_done;
    int connected;
} raw;

static void raw_on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    raw *r = obj;
    (void)mosq;
    pthread_mutex_lock(&r->mu);
    r->connected = rc == 0;
    pthread_mutex_unlock(&r->mu);
}

static void raw_on_publish(struct mosquitto *mosq, void *obj, int mid)
{
    raw *r = obj;
    (void)mosq;
    pthread_mutex_lock(&r->mu);
    r->acked++;
    if (mid == r->marker_mid)
        r->marker_done = 1;
    pthread_mutex_unlock(&r->mu);
}

static void bench_raw(long n, int qos)
{
    raw r = {.mu = PTHREAD_MUTEX_INITIALIZER, .marker_mid = -1};
    struct mosquitto *mosq = mosquitto_new("bench-raw", true, &r);
    mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_int_option(mosq, MOSQ_OPT_SEND_MAXIMUM, 100);
    mosquitto_connect_callback_set(mosq, raw_on_connect);
    mosquitto_publish_callback_set(mosq, raw_on_publish);
    if (mosquitto_connect(mosq, "127.0.0.1", g_port, 30) != 0 || mosquitto_loop_start(mosq) != 0) {
        fprintf(stderr, "libmosquitto: cannot connect\n");
        exit(1);
    }
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&r.mu);
        int c = r.connected;
        pthread_mutex_unlock(&r.mu);
        if (c)
            break;
        sleep_ms(10);
    }
    mosquitto_property *props = NULL;
    mosquitto_property_add_string(&props, MQTT_PROP_CONTENT_TYPE, "application/json");
    mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "specversion", "1.0");
    mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "type", "DataSet");
    double c0 = cpu_s(RUSAGE_SELF), t0 = fp_mono_s();
    for (long i = 0; i < n; i++)
        mosquitto_publish_v5(mosq, NULL, qos ? "bench/raw1" : "bench/raw0", (int)g_len, g_payload,
                             qos, false, props);
    int mid;
    pthread_mutex_lock(&r.mu);
    mosquitto_publish_v5(mosq, &mid, "bench/marker", 3, "end", 1, false, NULL);
    r.marker_mid = mid;
    pthread_mutex_unlock(&r.mu);
    for (;;) {
        pthread_mutex_lock(&r.mu);
        int done = r.marker_done && (qos == 0 || r.acked >= n + 1);
        pthread_mutex_unlock(&r.mu);
        if (done)
            break;
        sleep_ms(1);
    }
    double t1 = fp_mono_s(), c1 = cpu_s(RUSAGE_SELF);
    mosquitto_property_free_all(&props);
    row(qos ? "libmosquitto qos1" : "libmosquitto qos0", n, t1 - t0, c1 - c0,
        qos ? "no queue, 100 in flight, until the last PUBACK" : "no queue, + QoS 1 marker");
    mosquitto_disconnect(mosq);
    mosquitto_loop_stop(mosq, false);
    mosquitto_destroy(mosq);
}

/* ---- mosquitto_pub -l ---------------------------------------------------------------- */

static void bench_pub(long n, int qos)
{
    char file[128], port[16], q[4];
    snprintf(file, sizeof file, "%s/lines", g_dir);
    FILE *f = fopen(file, "w");
    if (!f)
        exit(1);
    for (long i = 0; i < n; i++) {
        fwrite(g_payload, 1, g_len, f);
        fputc('\n', f);
    }
    fclose(f);
    snprintf(port, sizeof port, "%d", g_port);
    snprintf(q, sizeof q, "%d", qos);
    double c0 = cpu_s(RUSAGE_CHILDREN), t0 = fp_mono_s();
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(file, O_RDONLY);
        dup2(fd, 0);
        execl(MOSQUITTO_PUB_BIN, "mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-t", "bench/pub",
              "-q", q, "-V", "5", "-l", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    double t1 = fp_mono_s(), c1 = cpu_s(RUSAGE_CHILDREN);
    row(qos ? "mosquitto_pub -l qos1" : "mosquitto_pub -l qos0", n, t1 - t0, c1 - c0,
        WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "the command-line client, one process"
                                                      : "mosquitto_pub FAILED");
    unlink(file);
}

int main(int argc, char **argv)
{
    long n = 100000;
    char cmd[128];

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
            n = atol(argv[++i]);
        else if (strcmp(argv[i], "--payload") == 0 && i + 1 < argc)
            g_len = (size_t)atol(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--count N (100000)] [--payload BYTES (200)]\n", argv[0]);
            return 2;
        }
    }
    if (n <= 0 || g_len == 0 || g_len > 1 << 20) {
        fprintf(stderr, "bad --count or --payload\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    fp_log_set_level(FP_LOG_WARN);
    mosquitto_lib_init();
    g_payload = malloc(g_len);
    /* A JSON-ish printable payload (mosquitto_pub -l sends lines). */
    memset(g_payload, 'a', g_len);
    g_payload[0] = '{';
    g_payload[g_len - 1] = '}';
    snprintf(g_dir, sizeof g_dir, "/tmp/fp-bench-mqtt-XXXXXX");
    if (!mkdtemp(g_dir) || (g_port = free_port()) < 0 || broker_start() != 0) {
        fprintf(stderr, "cannot start mosquitto (%s)\n", g_dir);
        broker_stop();
        return 1;
    }
    printf("%ld messages of %zu bytes, mosquitto on 127.0.0.1:%d\n\n", n, g_len, g_port);
    printf("| %-26s | %8s | %7s | %9s | %6s | %7s | %s |\n", "path", "messages", "seconds", "msg/s",
           "MB/s", "CPU us", "notes");
    printf("|%s|%s|%s|%s|%s|%s|%s|\n", "----------------------------", "----------", "---------",
           "-----------", "--------", "---------", "---");
    bench_queue(n, false);
    bench_queue(n / 20 > 0 ? n / 20 : 1, true);
    bench_fpc(n, 0);
    bench_fpc(n, 1);
    bench_raw(n, 0);
    bench_raw(n, 1);
    bench_pub(n, 0);
    bench_pub(n, 1);
    broker_stop();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", g_dir);
    free(g_payload);
    mosquitto_lib_cleanup();
    return 0;
}
