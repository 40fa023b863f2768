/*
 * test_connector_ops.c - the runtime's background parts without a registry:
 * the /healthz and /metrics server on a loopback port chosen at run time (answers, errors,
 * deadlines, a broker for the healthy case), its request parser, and the status writer,
 * schema registrar, discovery writer and action timer threads starting, failing their
 * writes (no registry) and stopping cleanly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Internal headers of the library, not on its public include path. */
#include "fp_model.h"
#include "../../lib/connector/rt_internal.h"
#include "test_time.h"

#define MOSQUITTO_BIN "/usr/sbin/mosquitto"

static const fp_connector test_conn = {.abi = FP_CONNECTOR_ABI, .name = "test"};

static void rt_init(fp_rt *rt)
{
    memset(rt, 0, sizeof *rt);
    rt->conn = &test_conn;
    pthread_mutex_init(&rt->lock, NULL);
}

/* A connected socket to 127.0.0.1:port whose reads give up after 15 s (a test that hangs
 * fails instead). */
static int dial(int port)
{
    struct sockaddr_in sa = {0};
    struct timeval tv = {15, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* Everything until the server closes into buf; the status code of the answer, -1 if none. */
static int read_answer(int fd, char *buf, size_t n)
{
    size_t got = 0;
    ssize_t r;
    int status = -1;

    while (got + 1 < n && (r = read(fd, buf + got, n - 1 - got)) > 0)
        got += (size_t)r;
    buf[got] = '\0';
    close(fd);
    if (!strncmp(buf, "HTTP/1.", 7) && got >= 12)
        status = atoi(buf + 9);
    return status;
}

/* Raw bytes as the request; the status code of the answer (in buf). */
static int exchange(int port, const void *req, size_t len, char *buf, size_t n)
{
    int fd = dial(port);

    assert_int_equal(write(fd, req, len), (ssize_t)len);
    return read_answer(fd, buf, n);
}

/* One HTTP/1.0 request; the status code of the answer (status line, headers, body in buf). */
static int http(int port, const char *method, const char *path, char *buf, size_t n)
{
    char req[256];

    snprintf(req, sizeof req, "%s %s HTTP/1.0\r\nHost: x\r\n\r\n", method, path);
    return exchange(port, req, strlen(req), buf, n);
}

/* The body of an answer in buf (after the blank line). */
static const char *body_of(const char *buf)
{
    const char *b = strstr(buf, "\r\n\r\n");
    assert_non_null(b);
    return b + 4;
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    assert_non_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static void test_ops_server(void **state)
{
    (void)state;
    fp_rt rt;
    char buf[16384];
    int port;

    rt_init(&rt);
    assert_int_equal(rt_ops_start(&rt, "nonsense"), -1);
    assert_int_equal(rt_ops_start(&rt, "127.0.0.1:65536"), -1);
    assert_int_equal(rt_ops_start(&rt, "127.0.0.1:"), -1);
    assert_int_equal(rt_ops_start(&rt, "[::1:0"), -1);
    assert_int_equal(rt_ops_start(&rt, "999.0.0.1:0"), -1);
    assert_int_equal(rt_ops_start(&rt, NULL), 0); /* none asked for */
    assert_int_equal(rt_ops_port(&rt), 0);
    assert_int_equal(rt_ops_start(&rt, "127.0.0.1:0"), 0);
    port = rt_ops_port(&rt);
    assert_true(port > 0);

    /* No registry, no broker: degraded. */
    assert_int_equal(http(port, "GET", "/healthz", buf, sizeof buf), 503);
    assert_non_null(strstr(buf, "Content-Type: application/json\r\n"));
    assert_non_null(strstr(buf, "Connection: close\r\n"));
    assert_non_null(strstr(buf, "\"status\":\"degraded\""));
    assert_non_null(strstr(buf, "\"connector\":\"test\""));
    assert_non_null(strstr(buf, "\"registry\":false"));
    assert_non_null(strstr(buf, "\"broker\":false"));

    atomic_store(&rt.registry_ok, true);
    atomic_store(&rt.published_total, 42);
    assert_int_equal(http(port, "GET", "/metrics", buf, sizeof buf), 200);
    assert_non_null(strstr(buf, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    assert_non_null(strstr(buf, "Cache-Control: no-store\r\n"));
    assert_non_null(
        strstr(buf, "fieldplane_connector_messages_published_total{connector=\"test\"} 42\n"));
    assert_non_null(strstr(buf, "fieldplane_connector_registry_connected{connector=\"test\"} 1\n"));
    assert_non_null(strstr(buf, "fieldplane_connector_broker_connected{connector=\"test\"} 0\n"));
    {
        /* Content-Length says the length of the body. */
        const char *cl = strstr(buf, "Content-Length: ");
        assert_non_null(cl);
        assert_int_equal(strtoul(cl + 16, NULL, 10), strlen(body_of(buf)));
    }
    /* A query string is not part of the path; HTTP/1.1 and absolute-form are fine. */
    assert_int_equal(http(port, "GET", "/metrics?name[]=x", buf, sizeof buf), 200);
    {
        const char *r = "GET http://127.0.0.1/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        assert_int_equal(exchange(port, r, strlen(r), buf, sizeof buf), 503);
        assert_int_equal(strncmp(buf, "HTTP/1.1 503 Service Unavailable\r\n", 34), 0);
    }

    /* HEAD: the headers of GET, no body. */
    assert_int_equal(http(port, "HEAD", "/metrics", buf, sizeof buf), 200);
    assert_non_null(strstr(buf, "Content-Length: "));
    assert_true(strtoul(strstr(buf, "Content-Length: ") + 16, NULL, 10) > 100);
    assert_string_equal(body_of(buf), "");
    assert_int_equal(http(port, "HEAD", "/healthz", buf, sizeof buf), 503);
    assert_string_equal(body_of(buf), "");

    assert_int_equal(http(port, "GET", "/other", buf, sizeof buf), 404);
    assert_non_null(strstr(body_of(buf), "\"code\":\"NotFound\""));
    assert_int_equal(http(port, "GET", "/metricsx", buf, sizeof buf), 404);
    assert_int_equal(http(port, "POST", "/metrics", buf, sizeof buf), 405);
    assert_non_null(strstr(buf, "Allow: GET, HEAD\r\n"));
    assert_non_null(strstr(body_of(buf), "\"code\":\"MethodNotAllowed\""));
    {
        /* A body we do not read: the answer still arrives whole. */
        static char big[200000];
        int n = snprintf(big, sizeof big,
                         "PUT /healthz HTTP/1.1\r\nHost: x\r\n"
                         "Content-Length: 150000\r\n\r\n");
        memset(big + n, 'x', 150000);
        assert_int_equal(exchange(port, big, (size_t)n + 150000, buf, sizeof buf), 405);
    }

    /* Malformed requests: 400 naming what was wrong; other HTTP versions 505. */
    {
        static const struct {
            const char *req;
            int status;
            const char *why;
        } bad[] = {
            {"GARBAGE\r\n\r\n", 400, "METHOD SP PATH"},
            {"GET /metrics\r\n\r\n", 400, "METHOD SP PATH"},
            {"GET metrics HTTP/1.1\r\n\r\n", 400, "starting with '/'"},
            {"GET /metrics HTTP/1.1 x\r\n\r\n", 400, "HTTP/1.0 or HTTP/1.1"},
            {"GET /metrics HTTP/2.0\r\n\r\n", 505, "HTTP/1.0 and HTTP/1.1"},
            {"GET /metrics HTTP/1.1\r\nNo colon here\r\n\r\n", 400, "NAME: VALUE"},
            {"GET /metrics HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400, "folding"},
            {"GET /metrics HTTP/1.1\rHost: x\r\n\r\n", 400, "carriage return"},
            {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400, "METHOD SP PATH"}, /* TLS */
            {"GET /metrics HTTP/1.1\r\nHost: x", 400, "ended before the blank line"},
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            int fd = dial(port);
            size_t len = strlen(bad[i].req);
            assert_int_equal(write(fd, bad[i].req, len), (ssize_t)len);
            shutdown(fd, SHUT_WR); /* the last case ends early */
            assert_int_equal(read_answer(fd, buf, sizeof buf), bad[i].status);
            if (!strstr(buf, bad[i].why))
                fail_msg("request %zu: answer without '%s':\n%s", i, bad[i].why, buf);
        }
    }
    /* Bare line feeds are accepted as line endings. */
    {
        const char *r = "GET /healthz HTTP/1.0\nHost: x\n\n";
        assert_int_equal(exchange(port, r, strlen(r), buf, sizeof buf), 503);
    }

    /* Headers over 8 KiB: 431, even when the client keeps sending. */
    {
        static char big[20000];
        int n = snprintf(big, sizeof big, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ");
        memset(big + n, 'a', sizeof big - (size_t)n - 4);
        memcpy(big + sizeof big - 4, "\r\n\r\n", 4);
        assert_int_equal(exchange(port, big, sizeof big, buf, sizeof buf), 431);
        assert_non_null(strstr(buf, "longer than 8192 bytes"));
    }

    /* A request in several writes, a little apart. */
    {
        static const char *parts[] = {"GE", "T /metr", "ics HTTP/1.1\r", "\nHost: x\r\n", "\r\n"};
        int fd = dial(port);
        for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
            assert_int_equal(write(fd, parts[i], strlen(parts[i])), (ssize_t)strlen(parts[i]));
            sleep_ms(30);
        }
        assert_int_equal(read_answer(fd, buf, sizeof buf), 200);
        assert_non_null(strstr(buf, "fieldplane_connector_messages_published_total"));
    }

    /* A client that connects and sends nothing holds one slot only: the others are answered
     * at once; the silent one gets 408 after the read deadline (5 s). */
    {
        int silent = dial(port), half = dial(port);
        uint64_t t0 = fp_mono_ms();

        assert_int_equal(write(half, "GET /hea", 8), 8);
        for (int i = 0; i < 5; i++)
            assert_int_equal(http(port, "GET", "/healthz", buf, sizeof buf), 503);
        assert_true(fp_mono_ms() - t0 < 2000);
        assert_int_equal(read_answer(silent, buf, sizeof buf), 408);
        assert_true(fp_mono_ms() - t0 >= 4000);
        assert_int_equal(read_answer(half, buf, sizeof buf), 408);
        assert_int_equal(http(port, "GET", "/healthz", buf, sizeof buf), 503);
    }

    /* Many connections in a row leave no descriptor behind: answered ones, ones closed at
     * once, ones closed half-way. */
    {
        int before;
        sleep_ms(200); /* the server closes its side once it has read our close */
        before = count_fds();
        for (int i = 0; i < 100; i++) {
            assert_int_equal(http(port, "GET", "/metrics", buf, sizeof buf), 200);
            close(dial(port));
            {
                int fd = dial(port);
                assert_int_equal(write(fd, "GET /", 5), 5);
                close(fd);
            }
        }
        sleep_ms(300);
        assert_int_equal(http(port, "GET", "/healthz", buf, sizeof buf), 503);
        sleep_ms(100);
        assert_int_equal(count_fds(), before);
    }

    /* More clients than slots (16) at once, all silent: the endpoint stops promptly anyway. */
    {
        int fds[24];
        uint64_t t0;
        for (int i = 0; i < 24; i++)
            fds[i] = dial(port);
        sleep_ms(100);
        t0 = fp_mono_ms();
        rt_ops_stop(&rt);
        assert_true(fp_mono_ms() - t0 < 1000);
        for (int i = 0; i < 24; i++)
            close(fds[i]);
    }
    assert_int_equal(rt_ops_port(&rt), 0);
    rt_ops_stop(&rt); /* stopped: nothing to do */

    /* IPv6 literal, where the machine has ::1. */
    {
        struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
        int fd = socket(AF_INET6, SOCK_STREAM, 0);
        bool have_v6 = fd >= 0 && bind(fd, (struct sockaddr *)&s6, sizeof s6) == 0;
        if (fd >= 0)
            close(fd);
        if (have_v6) {
            assert_int_equal(rt_ops_start(&rt, "[::1]:0"), 0);
            port = rt_ops_port(&rt);
            assert_true(port > 0);
            fd = socket(AF_INET6, SOCK_STREAM, 0);
            s6.sin6_port = htons((uint16_t)port);
            assert_int_equal(connect(fd, (struct sockaddr *)&s6, sizeof s6), 0);
            assert_int_equal(write(fd, "GET /healthz HTTP/1.0\r\n\r\n", 25), 25);
            assert_int_equal(read_answer(fd, buf, sizeof buf), 503);
            rt_ops_stop(&rt);
        }
    }
    pthread_mutex_destroy(&rt.lock);
}

/* /healthz is 200 "ok" with the registry watch up and a broker connected. */
static void test_ops_healthz_ok(void **state)
{
    (void)state;
    char dir[] = "/tmp/fpc-ops-test-XXXXXX", conf[300], qdir[300], cmd[400], buf[16384];
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int fd, bport, port;
    pid_t broker;
    fpc_mqtt_opts o = {0};
    fpc_mqtt *m;
    fpc_mqtt_stats st;
    char err[256];
    uint64_t until;
    FILE *f;
    fp_rt rt;

    assert_non_null(mkdtemp(dir));
    assert_int_equal(chmod(dir, 0777), 0); /* mosquitto started as root drops its rights */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    close(fd);
    bport = ntohs(a.sin_port);
    snprintf(conf, sizeof conf, "%s/mosquitto.conf", dir);
    f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f, "listener %d 127.0.0.1\nallow_anonymous true\n", bport);
    fclose(f);
    broker = fork();
    assert_true(broker >= 0);
    if (broker == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl(MOSQUITTO_BIN, "mosquitto", "-c", conf, (char *)NULL);
        _exit(127);
    }

    snprintf(qdir, sizeof qdir, "%s/queue", dir);
    o.host = "127.0.0.1";
    o.port = bport;
    o.client_id = "ops-test";
    o.queue_dir = qdir;
    m = fpc_mqtt_new(&o, err, sizeof err);
    if (!m)
        fail_msg("fpc_mqtt_new: %s", err);
    assert_int_equal(fpc_mqtt_start(m), 0);
    until = fp_mono_ms() + 10000;
    do {
        sleep_ms(50);
        fpc_mqtt_get_stats(m, &st);
    } while (!st.connected && fp_mono_ms() < until);
    assert_true(st.connected);

    rt_init(&rt);
    rt.mqtt = m;
    assert_int_equal(rt_ops_start(&rt, "localhost:0"), 0);
    port = rt_ops_port(&rt);
    assert_int_equal(http(port, "GET", "/healthz", buf, sizeof buf), 503); /* no registry */
    assert_non_null(strstr(buf, "\"broker\":true"));
    atomic_store(&rt.registry_ok, true);
    assert_int_equal(http(port, "GET", "/healthz", buf, sizeof buf), 200);
    assert_int_equal(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17), 0);
    assert_non_null(strstr(buf, "\"status\":\"ok\""));
    assert_non_null(strstr(buf, "\"registry\":true"));
    assert_int_equal(http(port, "GET", "/metrics", buf, sizeof buf), 200);
    assert_non_null(strstr(buf, "fieldplane_connector_broker_connected{connector=\"test\"} 1\n"));
    rt_ops_stop(&rt);
    pthread_mutex_destroy(&rt.lock);

    fpc_mqtt_free(m, 0);
    kill(broker, SIGTERM);
    waitpid(broker, NULL, 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* The request parser: every prefix of a good request asks for more, the whole is parsed. */
static void test_ops_parse(void **state)
{
    (void)state;
    const char *req = "HEAD /healthz?verbose=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\nbody";
    size_t head = strlen(req) - 4;
    rt_ops_request r;
    const char *why;

    for (size_t i = 0; i < head; i++) {
        if (rt_ops_parse_request(req, i, &r, &why) != 1)
            fail_msg("prefix of %zu bytes: not 'more' (%s)", i, why ? why : "");
    }
    assert_int_equal(rt_ops_parse_request(req, strlen(req), &r, &why), 0);
    assert_int_equal(r.method_len, 4);
    assert_memory_equal(r.method, "HEAD", 4);
    assert_int_equal(r.path_len, 8);
    assert_memory_equal(r.path, "/healthz", 8);
    assert_int_equal(r.minor, 1);
    assert_int_equal(r.head_len, head);

    /* Early rejection before the line is complete. */
    assert_int_equal(rt_ops_parse_request("\x16\x03", 2, &r, &why), 400);
    assert_non_null(why);
    /* Incomplete at the limit: too large. */
    {
        static char big[RT_OPS_MAX_HEAD + 10];
        memcpy(big, "GET /", 5);
        memset(big + 5, 'a', sizeof big - 5);
        assert_int_equal(rt_ops_parse_request(big, RT_OPS_MAX_HEAD - 1, &r, &why), 1);
        assert_int_equal(rt_ops_parse_request(big, RT_OPS_MAX_HEAD, &r, &why), 431);
        assert_int_equal(rt_ops_parse_request(big, sizeof big, &r, &why), 431);
    }
    assert_int_equal(rt_ops_parse_request("GET / HTTP/1.0\r\n\r\n", 18, &r, &why), 0);
    assert_int_equal(r.minor, 0);
    assert_int_equal(rt_ops_parse_request("GET / HTTP/1.0\r\n\r", 17, &r, &why), 1);
    assert_int_equal(rt_ops_parse_request("GET /\0 HTTP/1.0\r\n\r\n", 20, &r, &why), 400);
    assert_int_equal(rt_ops_parse_request("GET / HTTP/1.0\r\nA:\0\r\n\r\n", 23, &r, &why), 400);
    assert_int_equal(rt_ops_parse_request("", 0, &r, &why), 1);
}

/* The writer tries to write a dirty endpoint with no registry, backs off, and stops. */
static void test_status_threads(void **state)
{
    (void)state;
    fp_rt rt;
    rt_endpoint ep;

    rt_init(&rt);
    memset(&ep, 0, sizeof ep);
    pthread_mutex_init(&ep.lock, NULL);
    ep.pub.ns = "plant";
    ep.pub.device = "dev1";
    ep.pub.name = "rest";
    rt.endpoints = &ep;
    assert_int_equal(rt_status_start(&rt), 0);
    fp_endpoint_health(&ep.pub, false, "Unreachable", "down");
    rt_schema_wake(&rt);
    usleep(300 * 1000);
    /* Not written (no registry): still dirty for a retry. */
    assert_true(atomic_load(&ep.status_dirty));
    rt_status_stop(&rt);
    assert_null(rt.status);
    pthread_mutex_destroy(&ep.lock);
    pthread_mutex_destroy(&rt.lock);
}

static void test_discovery_thread(void **state)
{
    (void)state;
    fp_rt rt;
    json_t *props = json_pack("{s:s}", "manufacturer", "Acme");

    rt_init(&rt);
    assert_int_equal(fp_discovered_device_report(&rt, "plant", "dev-1", props), -1); /* not run */
    assert_int_equal(rt_discovery_start(&rt), 0);
    assert_int_equal(fp_discovered_device_report(&rt, "plant", "dev-1", props), 0);
    assert_int_equal(fp_discovered_device_report(&rt, "plant", "dev-1", props), 0); /* replaces */
    assert_int_equal(fp_discovered_asset_report(&rt, "plant", "press-1", NULL), 0);
    assert_int_equal(fp_discovered_asset_report(&rt, "plant", "press-1", props), 0);
    {
        json_t *bad = json_array();
        assert_int_equal(fp_discovered_asset_report(&rt, "plant", "press-1", bad), -1);
        json_decref(bad);
    }
    usleep(50 * 1000);
    rt_discovery_stop(&rt); /* one last try each, then gone */
    assert_null(rt.discovery);
    json_decref(props);
    pthread_mutex_destroy(&rt.lock);
}

/* The words the registry answers a PUT of discoveredDevices/-plc with (registry_api.test.mjs
 * checks the same string there): the runtime must refuse the report with them. */
#define PLC_REFUSED "discovered device name \"-plc\" must start with a lowercase letter or digit"

/* Regression: the runtime kept its own name rules and queued "-plc", "PLC-1" and "ab", which
 * the registry refuses, to retry them for ever. Now a report the registry would refuse
 * returns -1 at once and the log says why, in the registry's words. */
static void test_discovery_refuses_registry_invalid_names(void **state)
{
    (void)state;
    fp_rt rt;
    char path[] = "/tmp/fp-disc-log-XXXXXX";
    int fd = mkstemp(path), saved;
    char logged[4096] = "";
    ssize_t n;

    assert_true(fd >= 0);
    unlink(path);
    rt_init(&rt);
    assert_int_equal(rt_discovery_start(&rt), 0);

    saved = dup(STDERR_FILENO);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    int plc = fp_discovered_device_report(&rt, "plant", "-plc", NULL);
    dup2(saved, STDERR_FILENO);
    close(saved);
    n = pread(fd, logged, sizeof logged - 1, 0);
    close(fd);
    assert_int_equal(plc, -1);
    assert_true(n > 0);
    logged[n] = '\0';
    /* The log line escapes the quotes of the message: look for it as written there. */
    if (!strstr(logged, "discovered device name \\\"-plc\\\" must start with a lowercase "
                        "letter or digit; not reported"))
        fail_msg("log line without the reason: %s", logged);

    {
        char why[256];
        assert_false(rt_discovery_name_ok(false, "-plc", why, sizeof why));
        assert_string_equal(why, PLC_REFUSED);
    }
    assert_int_equal(fp_discovered_device_report(&rt, "plant", "PLC-1", NULL), -1);
    assert_int_equal(fp_discovered_device_report(&rt, "plant", "ab", NULL), -1);
    assert_int_equal(fp_discovered_device_report(&rt, "plant", "plc-", NULL), -1);
    assert_int_equal(fp_discovered_device_report(&rt, "Plant", "plc-1", NULL), -1);
    assert_int_equal(fp_discovered_asset_report(&rt, "plant", "-press", NULL), -1);
    /* What the registry takes is queued. */
    assert_int_equal(fp_discovered_device_report(&rt, "plant", "plc-1", NULL), 0);
    assert_int_equal(fp_discovered_device_report(&rt, "plant", "plc", NULL), 0);
    rt_discovery_stop(&rt);
    pthread_mutex_destroy(&rt.lock);
}

/* fp_discovered_name: whatever a protocol calls a thing, the name passes the registry's rule;
 * a hash of the key keeps apart things whose text folds to the same name, and is stable. */
static void test_discovered_names(void **state)
{
    (void)state;
    char out[FP_DISCOVERED_NAME_BUF], again[FP_DISCOVERED_NAME_BUF], why[160];
    const char *texts[] = {"Temperature Sensor #2",
                           "--",
                           "",
                           "x",
                           "ÄÖÜ über",
                           "A very long browse name that goes on and on past any limit a name has",
                           "plc-1"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        for (int h = 0; h < 2; h++) {
            fp_discovered_name(out, i % 2 ? "press-1" : "", texts[i], texts[i], h);
            assert_int_equal(fp_model_name_check(FP_KIND_DISCOVERED_ASSET, out, why, sizeof why),
                             FP_OK);
            assert_int_equal(fp_model_name_check(FP_KIND_DISCOVERED_DEVICE, out, why, sizeof why),
                             FP_OK);
        }
    }
    fp_discovered_name(out, "press-1", "Temperature Sensor #2", "ns=2;s=T2", false);
    assert_string_equal(out, "press-1-temperature-sensor-2");
    fp_discovered_name(out, "press-1", "Temperature Sensor #2", "ns=2;s=T2", true);
    fp_discovered_name(again, "press-1", "Temperature Sensor #2", "ns=2;s=T2", true);
    assert_string_equal(out, again);
    assert_int_equal(strlen(out), strlen("press-1-temperature-sensor-2") + 7);
    fp_discovered_name(again, "press-1", "Temperature Sensor #2", "ns=2;s=T3", true);
    assert_string_not_equal(out, again);
}

static void test_actions_thread(void **state)
{
    (void)state;
    fp_rt rt;
    rt_action ac;

    rt_init(&rt);
    memset(&ac, 0, sizeof ac);
    pthread_mutex_init(&ac.lock, NULL);
    ac.pub.name = "start";
    ac.pub.group = "mg";
    assert_int_equal(rt_actions_start(&rt), 0);
    /* No topic: a configuration error naming what to set. */
    assert_int_equal(rt_action_subscribe(&ac), -1);
    assert_true(ac.error.set);
    assert_non_null(strstr(ac.error.message, "defaultTopic"));
    rt_action_unsubscribe(&ac); /* not subscribed: nothing to do */
    rt_actions_stop(&rt);
    assert_null(rt.actions);
    pthread_mutex_destroy(&ac.lock);
    pthread_mutex_destroy(&rt.lock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ops_parse),
        cmocka_unit_test(test_ops_server),
        cmocka_unit_test(test_ops_healthz_ok),
        cmocka_unit_test(test_status_threads),
        cmocka_unit_test(test_discovery_thread),
        cmocka_unit_test(test_discovery_refuses_registry_invalid_names),
        cmocka_unit_test(test_discovered_names),
        cmocka_unit_test(test_actions_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
