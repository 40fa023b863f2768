/*
 * test_connector_ops.c - the runtime's background parts without a registry or broker:
 * the /healthz and /metrics server on a loopback port chosen at run time, and the status
 * writer, schema registrar, discovery writer and action timer threads starting, failing
 * their writes (no registry) and stopping cleanly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Internal headers of the library, not on its public include path. */
#include "../../lib/connector/rt_internal.h"

static const fp_connector test_conn = {.abi = FP_CONNECTOR_ABI, .name = "test"};

static void rt_init(fp_rt *rt)
{
    memset(rt, 0, sizeof *rt);
    rt->conn = &test_conn;
    pthread_mutex_init(&rt->lock, NULL);
}

/* One HTTP/1.0 request; the answer (status line, headers, body) into buf. */
static int http(int port, const char *method, const char *path, char *buf, size_t n)
{
    struct sockaddr_in sa = {0};
    char req[256];
    size_t got = 0;
    ssize_t r;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    snprintf(req, sizeof req, "%s %s HTTP/1.0\r\nHost: x\r\n\r\n", method, path);
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
        close(fd);
        return -1;
    }
    while (got + 1 < n && (r = read(fd, buf + got, n - 1 - got)) > 0)
        got += (size_t)r;
    buf[got] = '\0';
    close(fd);
    return 0;
}

static void test_ops_server(void **state)
{
    fp_rt rt;
    char buf[16384];
    int port;

    rt_init(&rt);
    assert_int_equal(rt_ops_start(&rt, "nonsense"), -1);
    assert_int_equal(rt_ops_start(&rt, NULL), 0); /* none asked for */
    assert_int_equal(rt_ops_port(&rt), 0);
    assert_int_equal(rt_ops_start(&rt, "127.0.0.1:0"), 0);
    port = rt_ops_port(&rt);
    assert_true(port > 0);

    /* No registry, no broker: degraded. */
    assert_int_equal(http(port, "GET", "/healthz", buf, sizeof buf), 0);
    assert_non_null(strstr(buf, "HTTP/1.0 503") ? buf : strstr(buf, "HTTP/1.1 503"));
    assert_non_null(strstr(buf, "\"status\":\"degraded\""));
    assert_non_null(strstr(buf, "\"connector\":\"test\""));
    assert_non_null(strstr(buf, "\"registry\":false"));

    atomic_store(&rt.registry_ok, true);
    atomic_store(&rt.published_total, 42);
    assert_int_equal(http(port, "GET", "/metrics", buf, sizeof buf), 0);
    assert_non_null(strstr(buf, " 200 "));
    assert_non_null(strstr(buf, "text/plain; version=0.0.4"));
    assert_non_null(
        strstr(buf, "fieldplane_connector_messages_published_total{connector=\"test\"} 42\n"));
    assert_non_null(strstr(buf, "fieldplane_connector_registry_connected{connector=\"test\"} 1\n"));

    assert_int_equal(http(port, "GET", "/other", buf, sizeof buf), 0);
    assert_non_null(strstr(buf, " 404 "));
    assert_int_equal(http(port, "POST", "/metrics", buf, sizeof buf), 0);
    assert_non_null(strstr(buf, " 405 "));
    rt_ops_stop(&rt);
    assert_int_equal(rt_ops_port(&rt), 0);
    pthread_mutex_destroy(&rt.lock);
}

/* The writer tries to write a dirty endpoint with no registry, backs off, and stops. */
static void test_status_threads(void **state)
{
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

static void test_actions_thread(void **state)
{
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
        cmocka_unit_test(test_ops_server),
        cmocka_unit_test(test_status_threads),
        cmocka_unit_test(test_discovery_thread),
        cmocka_unit_test(test_actions_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
