/*
 * test_connector_mqtt.c - the MQTT 5 publisher against a real mosquitto on a loopback
 * port chosen at run time: properties and order end to end, a broker restart in the
 * middle of 2,000 QoS 1 messages (nothing lost, order kept, duplicates only as a replayed
 * range), messages kept on disk by a stop with the broker down and delivered by the next
 * instance, drop counting when the queue is full, and the acked marker written in
 * batches: up to date once the publisher is quiet, and a crash right after PUBACKs sends
 * the messages it had not recorded again (nothing lost).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/connector/fpc_mqtt.h"
#include "test_time.h"

#define MOSQUITTO_BIN "/usr/sbin/mosquitto"

static char g_dir[256];
static int g_port;
static pid_t g_broker = -1;

/* ---- helpers: time, the broker ---------------------------------------------------------- */

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static bool port_open(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* Start mosquitto on g_port; persistence keeps the subscriber's session across a restart. */
static const char *g_broker_extra = "allow_anonymous true\n";

static void broker_start(void)
{
    char conf[300], log[300];
    snprintf(conf, sizeof conf, "%s/mosquitto.conf", g_dir);
    snprintf(log, sizeof log, "%s/mosquitto.log", g_dir);
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f,
            "listener %d 127.0.0.1\n%spersistence true\n"
            "persistence_location %s/\nmax_queued_messages 0\nautosave_interval 0\n",
            g_port, g_broker_extra, g_dir);
    fclose(f);
    g_broker = fork();
    assert_true(g_broker >= 0);
    if (g_broker == 0) {
        FILE *l = freopen(log, "a", stderr);
        (void)l;
        dup2(2, 1);
        execl(MOSQUITTO_BIN, "mosquitto", "-c", conf, (char *)NULL);
        _exit(127);
    }
    uint64_t until = fp_mono_ms() + 5000;
    while (!port_open(g_port)) {
        if (fp_mono_ms() > until)
            fail_msg("mosquitto did not start on port %d (see %s)", g_port, log);
        sleep_ms(20);
    }
}

static void broker_stop(void)
{
    if (g_broker > 0) {
        kill(g_broker, SIGTERM);
        waitpid(g_broker, NULL, 0);
        g_broker = -1;
    }
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/fpc-mqtt-test-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    /* mosquitto started as root drops to its own user, which must write its persistence
     * file here. */
    assert_int_equal(chmod(g_dir, 0777), 0);
    g_port = free_port();
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];
    (void)state;
    broker_stop();
    g_broker_extra = "allow_anonymous true\n";
    if (getenv("FPC_TEST_SHOW_BROKER_LOG")) {
        snprintf(cmd, sizeof cmd, "cat '%s/mosquitto.log' >&2", g_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "no broker log\n");
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static fpc_mqtt *new_client(const char *id, const char *qdir, uint64_t max_bytes, bool drop_newest)
{
    char dir[400], err[256] = "";
    snprintf(dir, sizeof dir, "%s/%s", g_dir, qdir);
    fpc_mqtt_opts o = {.host = "127.0.0.1",
                       .port = g_port,
                       .client_id = id,
                       .queue_dir = dir,
                       .queue_max_bytes = max_bytes,
                       .drop_newest = drop_newest};
    fpc_mqtt *m = fpc_mqtt_new(&o, err, sizeof err);
    if (!m)
        fail_msg("fpc_mqtt_new: %s", err);
    return m;
}

static bool wait_connected(fpc_mqtt *m, int ms)
{
    fpc_mqtt_stats st;
    uint64_t until = fp_mono_ms() + (uint64_t)ms;
    do {
        fpc_mqtt_get_stats(m, &st);
        if (st.connected)
            return true;
        sleep_ms(10);
    } while (fp_mono_ms() < until);
    return false;
}

/* ---- what a subscriber received ---------------------------------------------------------- */

typedef struct rec {
    char topic[64];
    char payload[256];
    bool retain;
    uint32_t expiry;
    char ctype[64];
    char rtopic[64];
    char corr[16];
    size_t corr_len;
    size_t n_props;
    char props[4][2][32];
} rec;

typedef struct inbox {
    pthread_mutex_t mu;
    rec *recs;
    size_t n, cap;
    int probes;
} inbox;

static void inbox_init(inbox *b)
{
    memset(b, 0, sizeof *b);
    pthread_mutex_init(&b->mu, NULL);
}

static void inbox_clear(inbox *b)
{
    free(b->recs);
    pthread_mutex_destroy(&b->mu);
}

static size_t inbox_count(inbox *b)
{
    pthread_mutex_lock(&b->mu);
    size_t n = b->n;
    pthread_mutex_unlock(&b->mu);
    return n;
}

static bool inbox_wait(inbox *b, size_t n, int ms)
{
    uint64_t until = fp_mono_ms() + (uint64_t)ms;
    while (inbox_count(b) < n) {
        if (fp_mono_ms() > until)
            return false;
        sleep_ms(10);
    }
    return true;
}

static void on_msg(const fpc_msg *msg, void *arg)
{
    inbox *b = arg;
    pthread_mutex_lock(&b->mu);
    if (strcmp(msg->topic, "probe") == 0) {
        b->probes++;
        pthread_mutex_unlock(&b->mu);
        return;
    }
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 256;
        b->recs = realloc(b->recs, b->cap * sizeof *b->recs);
        assert_non_null(b->recs);
    }
    rec *r = &b->recs[b->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->topic, sizeof r->topic, "%s", msg->topic);
    snprintf(r->payload, sizeof r->payload, "%.*s", (int)msg->len, (const char *)msg->payload);
    r->retain = msg->retain;
    r->expiry = msg->expiry_s;
    snprintf(r->ctype, sizeof r->ctype, "%s", msg->content_type ? msg->content_type : "");
    snprintf(r->rtopic, sizeof r->rtopic, "%s", msg->response_topic ? msg->response_topic : "");
    r->corr_len = msg->correlation_len < sizeof r->corr ? msg->correlation_len : sizeof r->corr;
    if (msg->correlation)
        memcpy(r->corr, msg->correlation, r->corr_len);
    r->n_props = msg->n_props;
    for (size_t i = 0; i < msg->n_props && i < 4; i++) {
        snprintf(r->props[i][0], 32, "%s", msg->props[i].key);
        snprintf(r->props[i][1], 32, "%s", msg->props[i].value);
    }
    pthread_mutex_unlock(&b->mu);
}

/* Subscribe sub to filter and wait until it really receives (a probe from pub). */
static void subscribe_ready(fpc_mqtt *sub, fpc_mqtt *pub, const char *filter, inbox *b)
{
    assert_int_equal(fpc_mqtt_subscribe(sub, filter, on_msg, b), 0);
    assert_int_equal(fpc_mqtt_subscribe(sub, "probe", on_msg, b), 0);
    assert_true(wait_connected(sub, 5000));
    assert_true(wait_connected(pub, 5000));
    uint64_t until = fp_mono_ms() + 5000;
    for (;;) {
        fpc_msg p = {.topic = "probe", .payload = "p", .len = 1, .qos = 0};
        fpc_mqtt_publish(pub, &p);
        sleep_ms(20);
        pthread_mutex_lock(&b->mu);
        int got = b->probes;
        pthread_mutex_unlock(&b->mu);
        if (got)
            break;
        if (fp_mono_ms() > until)
            fail_msg("the subscription never received a probe");
    }
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_properties_and_order(void **state)
{
    inbox b;
    (void)state;
    broker_start();
    inbox_init(&b);
    fpc_mqtt *sub = new_client("fpc-test-sub", "qsub", 0, false);
    fpc_mqtt *pub = new_client("fpc-test-pub", "qpub", 0, false);
    assert_int_equal(fpc_mqtt_start(sub), 0);
    assert_int_equal(fpc_mqtt_start(pub), 0);
    subscribe_ready(sub, pub, "plant/#", &b);

    for (int i = 0; i < 50; i++) {
        char payload[64], idx[16];
        snprintf(payload, sizeof payload, "{\"i\":%d}", i);
        snprintf(idx, sizeof idx, "%d", i);
        fpc_prop props[3] = {{"specversion", "1.0"}, {"idx", idx}, {"type", "DataSet"}};
        fpc_msg m = {.topic = "plant/line1/temp",
                     .payload = payload,
                     .len = strlen(payload),
                     .qos = 1,
                     .expiry_s = 300,
                     .content_type = "application/json",
                     .props = props,
                     .n_props = 3,
                     .response_topic = "plant/reply",
                     .correlation = "\x07\x00\x09",
                     .correlation_len = 3};
        assert_int_equal(fpc_mqtt_publish(pub, &m), 0);
    }
    assert_true(inbox_wait(&b, 50, 10000));
    for (int i = 0; i < 50; i++) {
        rec *r = &b.recs[i];
        char want[64], idx[16];
        snprintf(want, sizeof want, "{\"i\":%d}", i);
        snprintf(idx, sizeof idx, "%d", i);
        assert_string_equal(r->topic, "plant/line1/temp");
        assert_string_equal(r->payload, want);
        assert_string_equal(r->ctype, "application/json");
        assert_true(r->expiry > 290 && r->expiry <= 300);
        assert_string_equal(r->rtopic, "plant/reply");
        assert_int_equal(r->corr_len, 3);
        assert_memory_equal(r->corr, "\x07\x00\x09", 3);
        assert_int_equal(r->n_props, 3);
        assert_string_equal(r->props[0][0], "specversion");
        assert_string_equal(r->props[0][1], "1.0");
        assert_string_equal(r->props[1][0], "idx");
        assert_string_equal(r->props[1][1], idx);
        assert_string_equal(r->props[2][1], "DataSet");
        assert_false(r->retain);
    }

    /* Retained: a later subscription gets it with the retain flag. */
    fpc_msg keep = {.topic = "state/kept", .payload = "on", .len = 2, .qos = 1, .retain = true};
    assert_int_equal(fpc_mqtt_publish(pub, &keep), 0);
    fpc_mqtt_stats st;
    uint64_t until = fp_mono_ms() + 5000;
    do {
        sleep_ms(10);
        fpc_mqtt_get_stats(pub, &st);
    } while (st.queued > 0 && fp_mono_ms() < until);
    assert_int_equal(st.queued, 0);
    size_t before = inbox_count(&b);
    assert_int_equal(fpc_mqtt_subscribe(sub, "state/#", on_msg, &b), 0);
    assert_true(inbox_wait(&b, before + 1, 5000));
    assert_string_equal(b.recs[before].topic, "state/kept");
    assert_string_equal(b.recs[before].payload, "on");
    assert_true(b.recs[before].retain);

    /* QoS 0 goes straight out. */
    fpc_msg q0 = {.topic = "plant/q0", .payload = "zero", .len = 4, .qos = 0};
    assert_int_equal(fpc_mqtt_publish(pub, &q0), 0);
    assert_true(inbox_wait(&b, before + 2, 5000));
    assert_string_equal(b.recs[before + 1].payload, "zero");

    /* Bad input is refused with a count, not sent. */
    fpc_msg bad = {.topic = "plant/#", .payload = "x", .len = 1, .qos = 1};
    assert_int_equal(fpc_mqtt_publish(pub, &bad), -1);
    fpc_mqtt_get_stats(pub, &st);
    assert_int_equal(st.failed, 1);
    assert_true(st.published >= 52);
    assert_true(st.latency_count >= 52);
    assert_int_equal(st.latency_buckets[8], st.latency_count);
    assert_true(st.bytes_published > 0);
    fpc_mqtt_get_stats(sub, &st);
    assert_true(st.received >= 52);

    fpc_mqtt_free(pub, 1000);
    fpc_mqtt_free(sub, 0);
    inbox_clear(&b);
}

/* A libmosquitto subscriber with a persistent session (so the broker keeps its QoS 1
 * messages while it is away during the restart). Received payloads are integers. */
typedef struct raw_sub {
    pthread_mutex_t mu;
    int *vals;
    size_t n, cap;
} raw_sub;

static void raw_on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *m,
                           const mosquitto_property *props)
{
    raw_sub *s = obj;
    char buf[32];
    (void)mosq;
    (void)props;
    snprintf(buf, sizeof buf, "%.*s", m->payloadlen, (const char *)m->payload);
    pthread_mutex_lock(&s->mu);
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->vals = realloc(s->vals, s->cap * sizeof *s->vals);
    }
    s->vals[s->n++] = atoi(buf);
    pthread_mutex_unlock(&s->mu);
}

static void raw_on_connect(struct mosquitto *mosq, void *obj, int rc, int flags,
                           const mosquitto_property *props)
{
    (void)obj;
    (void)flags;
    (void)props;
    if (rc == 0)
        mosquitto_subscribe_v5(mosq, NULL, "seq/t", 1, 0, NULL);
}

static struct mosquitto *raw_sub_start(raw_sub *s)
{
    mosquitto_lib_init();
    struct mosquitto *mosq = mosquitto_new("fpc-test-raw-sub", false, s);
    mosquitto_property *cp = NULL;
    assert_non_null(mosq);
    mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_connect_v5_callback_set(mosq, raw_on_connect);
    mosquitto_message_v5_callback_set(mosq, raw_on_message);
    mosquitto_reconnect_delay_set(mosq, 0, 1, false);
    mosquitto_property_add_int32(&cp, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 3600);
    assert_int_equal(mosquitto_connect_bind_v5(mosq, "127.0.0.1", g_port, 30, NULL, cp), 0);
    mosquitto_property_free_all(&cp);
    assert_int_equal(mosquitto_loop_start(mosq), 0);
    return mosq;
}

static size_t raw_count(raw_sub *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->n;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* Every value 0..n-1 arrives in order; a repeat is only a contiguous replayed range. */
static void check_sequence(const int *v, size_t len, int n, int *dups)
{
    int expect = 0, last = -1;
    *dups = 0;
    for (size_t i = 0; i < len; i++) {
        int r = v[i];
        if (r > expect)
            fail_msg("message %d lost: got %d at position %zu", expect, r, i);
        if (r != last + 1 && r > last)
            fail_msg("gap after %d: got %d at position %zu", last, r, i);
        if (r < expect)
            (*dups)++;
        if (r == expect)
            expect++;
        last = r;
    }
    assert_int_equal(expect, n);
}

static void test_broker_restart(void **state)
{
    raw_sub s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    const int n = 2000;
    (void)state;
    broker_start();
    struct mosquitto *sub = raw_sub_start(&s);
    fpc_mqtt *pub = new_client("fpc-test-pub", "qpub", 0, false);
    assert_int_equal(fpc_mqtt_start(pub), 0);
    assert_true(wait_connected(pub, 5000));
    sleep_ms(200); /* the raw subscriber's SUBACK */

    uint64_t t0 = fp_mono_ms();
    fpc_mqtt_stats st;
    for (int i = 0; i < n; i++) {
        char payload[16];
        snprintf(payload, sizeof payload, "%d", i);
        fpc_msg m = {.topic = "seq/t", .payload = payload, .len = strlen(payload), .qos = 1};
        assert_int_equal(fpc_mqtt_publish(pub, &m), 0);
        if (i == 600) {
            fpc_mqtt_get_stats(pub, &st);
            print_message("queued when the broker stops: %llu\n", (unsigned long long)st.queued);
            broker_stop();
            t0 = fp_mono_ms();
        }
        if (i > 600 && g_broker < 0 && fp_mono_ms() - t0 >= 2000)
            broker_start(); /* same port, same persistence file */
        /* A burst first, so that many are in flight when the broker goes. */
        if (i >= 600)
            sleep_ms(1);
    }
    if (g_broker < 0) {
        while (fp_mono_ms() - t0 < 2000)
            sleep_ms(10);
        broker_start();
    }
    uint64_t until = fp_mono_ms() + 15000;
    do {
        sleep_ms(50);
        fpc_mqtt_get_stats(pub, &st);
    } while ((st.queued > 0 || raw_count(&s) < (size_t)n) && fp_mono_ms() < until);
    sleep_ms(300); /* late duplicates */
    mosquitto_disconnect(sub);
    mosquitto_loop_stop(sub, false);
    mosquitto_destroy(sub);

    int dups;
    print_message("received %zu messages for %d published, queue %llu, published %llu\n", s.n, n,
                  (unsigned long long)st.queued, (unsigned long long)st.published);
    check_sequence(s.vals, s.n, n, &dups);
    print_message("duplicates: %d\n", dups);
    assert_int_equal(st.queued, 0);
    assert_true(st.published >= (uint64_t)n);
    fpc_mqtt_free(pub, 0);
    free(s.vals);
}

static void test_free_keeps_queue(void **state)
{
    inbox b;
    fpc_mqtt_stats st;
    (void)state;
    inbox_init(&b);

    /* No broker: everything stays queued, and stays on disk through free. */
    fpc_mqtt *pub = new_client("fpc-test-pub", "qpub", 0, false);
    assert_int_equal(fpc_mqtt_start(pub), 0);
    for (int i = 0; i < 50; i++) {
        char payload[16];
        snprintf(payload, sizeof payload, "%d", i);
        fpc_msg m = {.topic = "keep/t", .payload = payload, .len = strlen(payload), .qos = 1};
        assert_int_equal(fpc_mqtt_publish(pub, &m), 0);
    }
    fpc_msg q0 = {.topic = "keep/q0", .payload = "x", .len = 1, .qos = 0};
    assert_int_equal(fpc_mqtt_publish(pub, &q0), -1);
    fpc_mqtt_get_stats(pub, &st);
    assert_int_equal(st.queued, 50);
    assert_int_equal(st.failed, 1);
    assert_false(st.connected);
    assert_true(st.last_error[0] != 0 || true); /* may not have tried yet */
    fpc_mqtt_free(pub, 500);

    broker_start();
    fpc_mqtt *sub = new_client("fpc-test-sub", "qsub", 0, false);
    pub = new_client("fpc-test-pub", "qpub", 0, false);
    fpc_mqtt_get_stats(pub, &st);
    assert_int_equal(st.queued, 50);
    /* Subscribe first (through a probe from a third client) so nothing passes unseen. */
    fpc_mqtt *probe = new_client("fpc-test-probe", "qprobe", 0, false);
    assert_int_equal(fpc_mqtt_start(sub), 0);
    assert_int_equal(fpc_mqtt_start(probe), 0);
    subscribe_ready(sub, probe, "keep/#", &b);
    assert_int_equal(fpc_mqtt_start(pub), 0);
    assert_true(inbox_wait(&b, 50, 10000));
    for (int i = 0; i < 50; i++) {
        char want[16];
        snprintf(want, sizeof want, "%d", i);
        assert_string_equal(b.recs[i].payload, want);
    }
    fpc_mqtt_free(pub, 2000);
    fpc_mqtt_free(probe, 0);
    fpc_mqtt_free(sub, 0);
    inbox_clear(&b);
}

/* The head held by the queue's `acked` marker (the slot with the highest generation), 0
 * when there is none. */
static uint64_t marker_head(const char *qdir)
{
    char path[512];
    unsigned char buf[64];
    uint64_t best_gen = 0, head = 0;

    snprintf(path, sizeof path, "%s/%s/acked", g_dir, qdir);
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    for (size_t i = 0; i + 32 <= n; i += 32) {
        uint64_t gen = 0, h = 0;
        if (buf[i] != 'F' || buf[i + 1] != 'P' || buf[i + 2] != 'A' || buf[i + 3] != 'K')
            continue;
        for (int k = 7; k >= 0; k--) {
            gen = gen << 8 | buf[i + 4 + k];
            h = h << 8 | buf[i + 12 + k];
        }
        if (gen >= best_gen) {
            best_gen = gen;
            head = h;
        }
    }
    return head;
}

/* Child of test_acks_batched_crash: publish 300, wait for their PUBACKs and the quiet
 * flush of the marker, publish 100 more and "crash" (_exit, no free) right after their
 * PUBACKs. Exit status says which step failed. */
static void crash_child(int go_fd)
{
    char go;
    fpc_mqtt_stats st;

    if (read(go_fd, &go, 1) != 1)
        _exit(2);
    fpc_mqtt *pub = new_client("fpc-test-crash", "qcrash", 0, false);
    if (fpc_mqtt_start(pub) != 0)
        _exit(3);
    for (int i = 0; i < 400; i++) {
        char payload[16];
        snprintf(payload, sizeof payload, "c%d", i);
        fpc_msg m = {.topic = "crash/t", .payload = payload, .len = strlen(payload), .qos = 1};
        if (fpc_mqtt_publish(pub, &m) != 0)
            _exit(4);
        if (i != 299)
            continue;
        uint64_t until = fp_mono_ms() + 10000;
        do {
            sleep_ms(5);
            fpc_mqtt_get_stats(pub, &st);
        } while (st.published < 300 && fp_mono_ms() < until);
        if (st.published < 300)
            _exit(5);
        sleep_ms(600); /* quiet: the network thread writes the marker */
        if (marker_head("qcrash") != 301)
            _exit(6);
    }
    uint64_t until = fp_mono_ms() + 10000;
    do {
        sleep_ms(1);
        fpc_mqtt_get_stats(pub, &st);
    } while (st.published < 400 && fp_mono_ms() < until);
    if (st.published < 400)
        _exit(7);
    _exit(0);
}

static void test_acks_batched_crash(void **state)
{
    inbox b;
    fpc_mqtt_stats st;
    int go[2];
    (void)state;

    assert_int_equal(pipe(go), 0);
    pid_t pid = fork(); /* before any thread of ours exists */
    assert_true(pid >= 0);
    if (pid == 0) {
        close(go[1]);
        crash_child(go[0]);
    }
    close(go[0]);
    broker_start();
    inbox_init(&b);
    fpc_mqtt *sub = new_client("fpc-test-sub", "qsub", 0, false);
    fpc_mqtt *probe = new_client("fpc-test-probe", "qprobe", 0, false);
    assert_int_equal(fpc_mqtt_start(sub), 0);
    assert_int_equal(fpc_mqtt_start(probe), 0);
    subscribe_ready(sub, probe, "crash/#", &b);
    assert_int_equal(write(go[1], "g", 1), 1);
    close(go[1]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(inbox_wait(&b, 400, 10000));

    /* The restart sends again what the marker did not hold (at most the last 100), then
     * the queue is empty: every message arrived at least once. */
    fpc_mqtt *pub = new_client("fpc-test-crash", "qcrash", 0, false);
    fpc_mqtt_get_stats(pub, &st);
    size_t resent = (size_t)st.queued;
    assert_true(resent <= 100);
    assert_int_equal(fpc_mqtt_start(pub), 0);
    assert_true(inbox_wait(&b, 400 + resent, 10000));
    fpc_mqtt_free(pub, 2000);
    pub = new_client("fpc-test-crash", "qcrash", 0, false);
    fpc_mqtt_get_stats(pub, &st);
    assert_int_equal(st.queued, 0);
    fpc_mqtt_free(pub, 0);
    pthread_mutex_lock(&b.mu);
    for (int i = 0; i < 400; i++) {
        char want[16];
        snprintf(want, sizeof want, "c%d", i);
        assert_string_equal(b.recs[i].payload, want);
    }
    for (size_t i = 400; i < b.n; i++) /* the resent tail, in order */
        assert_string_equal(b.recs[i].payload, b.recs[i - b.n + 400].payload);
    pthread_mutex_unlock(&b.mu);
    fpc_mqtt_free(probe, 0);
    fpc_mqtt_free(sub, 0);
    inbox_clear(&b);
}

static void test_queue_full(void **state)
{
    fpc_mqtt_stats st;
    char payload[200];
    (void)state;
    memset(payload, 'v', sizeof payload);
    fpc_msg m = {.topic = "full/t", .payload = payload, .len = sizeof payload, .qos = 1};

    /* drop_newest: the refused publish returns -1 and counts. */
    fpc_mqtt *pub = new_client("fpc-test-full", "qnew", 4096, true);
    int refused = 0;
    for (int i = 0; i < 100; i++)
        refused += fpc_mqtt_publish(pub, &m) != 0;
    fpc_mqtt_get_stats(pub, &st);
    assert_true(refused > 0);
    assert_int_equal(st.dropped, refused);
    assert_int_equal(st.queued, 100 - refused);
    assert_true(st.queued_bytes <= 4096);
    fpc_mqtt_free(pub, 0);

    /* drop oldest: every publish succeeds, the oldest go. */
    pub = new_client("fpc-test-full", "qold", 4096, false);
    for (int i = 0; i < 100; i++)
        assert_int_equal(fpc_mqtt_publish(pub, &m), 0);
    fpc_mqtt_get_stats(pub, &st);
    assert_true(st.dropped > 0);
    assert_int_equal(st.dropped + st.queued, 100);
    fpc_mqtt_free(pub, 0);

    /* Bad options are refused with a message naming the option. */
    char err[256];
    fpc_mqtt_opts o = {.host = "127.0.0.1", .port = 0, .queue_dir = g_dir};
    assert_null(fpc_mqtt_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "port"));
    o.port = 1883;
    o.queue_dir = NULL;
    assert_null(fpc_mqtt_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "queue directory"));
}

static bool wait_published(fpc_mqtt *m, uint64_t n, int ms)
{
    fpc_mqtt_stats st;
    uint64_t until = fp_mono_ms() + (uint64_t)ms;
    do {
        fpc_mqtt_get_stats(m, &st);
        if (st.published >= n)
            return true;
        sleep_ms(10);
    } while (fp_mono_ms() < until);
    return false;
}

/* TLS with a CA of our own and username/password: a wrong password is refused (and said
 * so in last_error), the right one publishes. */
static void test_auth_and_tls(void **state)
{
    char cmd[1500], extra[1400], ca[300], qdir[300], err[256];
    fpc_mqtt_stats st;
    (void)state;
    snprintf(cmd, sizeof cmd,
             "cd '%s' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
             "-nodes -keyout ca.key -out ca.crt -days 1 -subj /CN=fpc-test-ca 2>/dev/null "
             "&& openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout srv.key -out srv.csr -subj /CN=127.0.0.1 2>/dev/null "
             "&& printf 'subjectAltName=IP:127.0.0.1\\n' > ext "
             "&& openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
             "-out srv.crt -days 1 -extfile ext 2>/dev/null && chmod 644 srv.key "
             "&& mosquitto_passwd -c -b pw fpc s3cret && chmod 644 pw",
             g_dir);
    if (system(cmd) != 0)
        fail_msg("cannot make the test certificates and password file: %s", cmd);
    snprintf(extra, sizeof extra,
             "cafile %s/ca.crt\ncertfile %s/srv.crt\nkeyfile %s/srv.key\n"
             "allow_anonymous false\npassword_file %s/pw\n",
             g_dir, g_dir, g_dir, g_dir);
    g_broker_extra = extra;
    broker_start();
    snprintf(ca, sizeof ca, "%s/ca.crt", g_dir);
    snprintf(qdir, sizeof qdir, "%s/qtls", g_dir);
    fpc_mqtt_opts o = {.host = "127.0.0.1",
                       .port = g_port,
                       .client_id = "fpc-test-tls",
                       .username = "fpc",
                       .password = "wrong",
                       .tls = true,
                       .cafile = ca,
                       .queue_dir = qdir};

    fpc_mqtt *m = fpc_mqtt_new(&o, err, sizeof err);
    assert_non_null(m);
    assert_int_equal(fpc_mqtt_start(m), 0);
    uint64_t until = fp_mono_ms() + 5000;
    do {
        sleep_ms(20);
        fpc_mqtt_get_stats(m, &st);
    } while (!strstr(st.last_error, "refused") && fp_mono_ms() < until);
    print_message("wrong password: %s\n", st.last_error);
    assert_non_null(strstr(st.last_error, "refused"));
    assert_false(st.connected);
    fpc_mqtt_free(m, 0);

    o.password = "s3cret";
    m = fpc_mqtt_new(&o, err, sizeof err);
    assert_non_null(m);
    assert_int_equal(fpc_mqtt_start(m), 0);
    assert_true(wait_connected(m, 5000));
    fpc_msg msg = {.topic = "tls/t", .payload = "secure", .len = 6, .qos = 1};
    assert_int_equal(fpc_mqtt_publish(m, &msg), 0);
    assert_true(wait_published(m, 1, 5000));
    fpc_mqtt_get_stats(m, &st);
    assert_string_equal(st.last_error, "");
    fpc_mqtt_free(m, 1000);

    /* TLS without a CA file is refused up front. */
    o.cafile = NULL;
    assert_null(fpc_mqtt_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "CA file"));
}

/* TLS with a client certificate: a broker that requires one refuses a client without it,
 * and takes the one signed by its CA (the certificate's CN is the user). */
static void test_client_certificate(void **state)
{
    char cmd[2000], extra[1400], ca[300], cert[300], key[300], qdir[300], err[256];
    fpc_mqtt_stats st;
    (void)state;
    snprintf(cmd, sizeof cmd,
             "cd '%s' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
             "-nodes -keyout ca.key -out ca.crt -days 1 -subj /CN=fpc-test-ca 2>/dev/null "
             "&& openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout srv.key -out srv.csr -subj /CN=127.0.0.1 2>/dev/null "
             "&& printf 'subjectAltName=IP:127.0.0.1\\n' > ext "
             "&& openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
             "-out srv.crt -days 1 -extfile ext 2>/dev/null && chmod 644 srv.key "
             "&& openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout cli.key -out cli.csr -subj /CN=fpc-connector 2>/dev/null "
             "&& openssl x509 -req -in cli.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
             "-out cli.crt -days 1 2>/dev/null",
             g_dir);
    if (system(cmd) != 0)
        fail_msg("cannot make the test certificates: %s", cmd);
    snprintf(extra, sizeof extra,
             "cafile %s/ca.crt\ncertfile %s/srv.crt\nkeyfile %s/srv.key\n"
             "require_certificate true\nuse_identity_as_username true\n"
             "allow_anonymous false\n",
             g_dir, g_dir, g_dir);
    g_broker_extra = extra;
    broker_start();
    snprintf(ca, sizeof ca, "%s/ca.crt", g_dir);
    snprintf(cert, sizeof cert, "%s/cli.crt", g_dir);
    snprintf(key, sizeof key, "%s/cli.key", g_dir);
    snprintf(qdir, sizeof qdir, "%s/qcert", g_dir);
    fpc_mqtt_opts o = {.host = "127.0.0.1",
                       .port = g_port,
                       .client_id = "fpc-test-cert",
                       .tls = true,
                       .cafile = ca,
                       .queue_dir = qdir};

    /* No client certificate: the handshake is refused, the message stays queued. */
    fpc_mqtt *m = fpc_mqtt_new(&o, err, sizeof err);
    assert_non_null(m);
    assert_int_equal(fpc_mqtt_start(m), 0);
    fpc_msg msg = {.topic = "tls/cert", .payload = "by certificate", .len = 14, .qos = 1};
    assert_int_equal(fpc_mqtt_publish(m, &msg), 0);
    sleep_ms(1500);
    fpc_mqtt_get_stats(m, &st);
    assert_false(st.connected);
    assert_int_equal(st.published, 0);
    fpc_mqtt_free(m, 0);

    /* With it, the queued message goes out. */
    o.certfile = cert;
    o.keyfile = key;
    m = fpc_mqtt_new(&o, err, sizeof err);
    assert_non_null(m);
    assert_int_equal(fpc_mqtt_start(m), 0);
    assert_true(wait_connected(m, 5000));
    assert_true(wait_published(m, 1, 5000));
    fpc_mqtt_free(m, 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_properties_and_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_keeps_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acks_batched_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_and_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_certificate, setup, teardown),
    };
    /* The broker is what these tests talk to: without it they fail, naming it, rather than
     * pass having checked nothing. */
    if (access(MOSQUITTO_BIN, X_OK) != 0) {
        fprintf(stderr,
                "FAIL: %s is not installed (Debian package mosquitto; "
                "scripts/bootstrap installs it)\n",
                MOSQUITTO_BIN);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
