/*
 * test_connector_publish.c - the runtime's output side without a broker or registry:
 * destination parsing and its error messages, CloudEvents properties, Storage appends,
 * the asset and endpoint status documents, discovery names and content comparison, and
 * the /metrics text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fp_alloc.h"
/* Internal headers of the library, not on its public include path. */
#include "../../lib/connector/rt_internal.h"

static fp_rt g_rt;

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("bad test JSON: %s", e.text);
    return j;
}

/* Init an out from a destinations list (borrowed, NULL for none); answers rt_out_init's
 * result. */
static int init_from_json(rt_out *out, const json_t *d)
{
    return rt_out_init(out, &g_rt, d, "DataSet", "ms-aio:dev1", "press/ds1", NULL, NULL, 0,
                       "plant/default");
}

/* The same from a destinations JSON text. */
static int init_from(rt_out *out, const char *dests)
{
    json_t *d = dests ? J(dests) : NULL;
    int rc = init_from_json(out, d);
    json_decref(d);
    return rc;
}

static void expect_error(const char *dests, const char *msg)
{
    rt_out out;
    assert_int_equal(init_from(&out, dests), -1);
    assert_true(out.error.set);
    assert_string_equal(out.error.code, "InvalidDestination");
    if (!strstr(out.error.message, msg))
        fail_msg("'%s' does not contain '%s'", out.error.message, msg);
    assert_int_equal(out.n_dests, 0);
    rt_out_clear(&out);
}

static void test_dest_default(void **state)
{
    rt_out out;

    assert_int_equal(init_from(&out, NULL), 0);
    assert_int_equal(out.n_dests, 1);
    assert_int_equal(out.dests[0].target, RT_DEST_MQTT);
    assert_string_equal(out.dests[0].topic, "plant/default");
    assert_int_equal(out.dests[0].qos, 1);
    assert_false(out.dests[0].retain);
    assert_false(out.error.set);
    rt_out_clear(&out);

    assert_int_equal(init_from(&out, "[]"), 0);
    assert_int_equal(out.n_dests, 1);
    assert_string_equal(out.dests[0].topic, "plant/default");
    rt_out_clear(&out);
}

static void test_dest_all_targets(void **state)
{
    rt_out out;

    assert_int_equal(
        init_from(&out, "[{\"target\":\"Mqtt\",\"configuration\":{\"topic\":\"a/b\",\"qos\":"
                        "\"Qos0\",\"retain\":\"Keep\",\"ttl\":30}},"
                        "{\"target\":\"Mqtt\",\"configuration\":{\"topic\":\"c\"}},"
                        "{\"target\":\"Storage\",\"configuration\":{\"path\":\"x/y.jsonl\"}},"
                        "{\"target\":\"BrokerStateStore\",\"configuration\":{\"key\":\"k1\"}}]"),
        0);
    assert_int_equal(out.n_dests, 4);
    assert_int_equal(out.dests[0].target, RT_DEST_MQTT);
    assert_string_equal(out.dests[0].topic, "a/b");
    assert_int_equal(out.dests[0].qos, 0);
    assert_true(out.dests[0].retain);
    assert_int_equal(out.dests[0].ttl_s, 30);
    assert_int_equal(out.dests[1].qos, 1); /* defaults: Qos1, Never, no expiry */
    assert_false(out.dests[1].retain);
    assert_int_equal(out.dests[1].ttl_s, 0);
    assert_int_equal(out.dests[2].target, RT_DEST_STORAGE);
    assert_string_equal(out.dests[2].path, "/tmp/fp-storage-root/x/y.jsonl");
    assert_int_equal(out.dests[3].target, RT_DEST_BSS);
    assert_string_equal(out.dests[3].key, "k1");
    assert_int_equal(out.dests[3].qos, 1);
    assert_true(out.dests[3].retain);
    rt_out_clear(&out);
}

static void test_dest_errors(void **state)
{
    expect_error("{}", "destinations must be an array");
    expect_error("[1]", "destinations[0] must be an object");
    expect_error("[{\"configuration\":{}}]", "destinations[0].target is required");
    expect_error("[{\"target\":\"Kafka\",\"configuration\":{}}]",
                 "destinations[0].target must be Mqtt, Storage or BrokerStateStore");
    expect_error("[{\"target\":\"Mqtt\"}]", "destinations[0].configuration is required");
    expect_error("[{\"target\":\"Mqtt\",\"configuration\":[]}]",
                 "destinations[0].configuration must be an object");
    expect_error("[{\"target\":\"Mqtt\",\"configuration\":{\"topic\":\"ok\"}},"
                 "{\"target\":\"Mqtt\",\"configuration\":{}}]",
                 "destinations[1].configuration.topic is required");
    expect_error("[{\"target\":\"Mqtt\",\"configuration\":{\"topic\":\"a/#\"}}]",
                 "destinations[0].configuration.topic must be");
    expect_error("[{\"target\":\"Mqtt\",\"configuration\":{\"topic\":\"\"}}]",
                 "destinations[0].configuration.topic must be");
    expect_error("[{\"target\":\"Mqtt\",\"configuration\":{\"topic\":\"t\",\"qos\":\"Qos2\"}}]",
                 "destinations[0].configuration.qos must be Qos0 or Qos1");
    expect_error("[{\"target\":\"Mqtt\",\"configuration\":{\"topic\":\"t\",\"retain\":true}}]",
                 "destinations[0].configuration.retain must be Keep or Never");
    expect_error("[{\"target\":\"Mqtt\",\"configuration\":{\"topic\":\"t\",\"ttl\":-1}}]",
                 "destinations[0].configuration.ttl must be");
    expect_error("[{\"target\":\"Mqtt\",\"configuration\":{\"topic\":\"t\",\"ttl\":\"5\"}}]",
                 "destinations[0].configuration.ttl must be");
    expect_error("[{\"target\":\"Storage\",\"configuration\":{}}]",
                 "destinations[0].configuration.path is required");
    expect_error("[{\"target\":\"Storage\",\"configuration\":{\"path\":\"/etc/passwd\"}}]",
                 "destinations[0].configuration.path must be a relative file path");
    expect_error("[{\"target\":\"Storage\",\"configuration\":{\"path\":\"a/../../b\"}}]",
                 "destinations[0].configuration.path must be a relative file path");
    expect_error("[{\"target\":\"Storage\",\"configuration\":{\"path\":\"..\"}}]",
                 "destinations[0].configuration.path must be a relative file path");
    expect_error("[{\"target\":\"BrokerStateStore\",\"configuration\":{}}]",
                 "destinations[0].configuration.key is required");
    expect_error("[{\"target\":\"BrokerStateStore\",\"configuration\":{\"key\":\"a+b\"}}]",
                 "destinations[0].configuration.key must be");

    /* Storage without a storage root names the field and the missing flag. */
    {
        const char *root = g_rt.opt.storage_root;
        g_rt.opt.storage_root = NULL;
        expect_error("[{\"target\":\"Storage\",\"configuration\":{\"path\":\"a.jsonl\"}}]",
                     "destinations[0].configuration.path: no storage root is configured");
        g_rt.opt.storage_root = root;
    }
}

/* Every allocation failing in turn: rt_out_init fails cleanly (ASan checks for leaks). The
 * list is parsed first: jansson allocates through fp_malloc too, so the injection would
 * otherwise hit the test's own parse. */
static void test_dest_alloc_failures(void **state)
{
    json_t *d = J("[{\"target\":\"Mqtt\",\"configuration\":{\"topic\":\"a\"}},"
                  "{\"target\":\"Storage\",\"configuration\":{\"path\":\"p\"}}]");
    bool done = false;

    for (long n = 0; n < 200 && !done; n++) {
        rt_out out;
        fp_alloc_fail_after(n);
        int rc = init_from_json(&out, d);
        fp_alloc_fail_after(-1);
        if (rc == 0) {
            assert_int_equal(out.n_dests, 2);
            done = true;
        }
        rt_out_clear(&out);
    }
    assert_true(done);
    json_decref(d);
}

static void test_ce_props(void **state)
{
    fpc_prop p[8];
    size_t n = rt_ce_props(p, "id-1", "2026-01-02T03:04:05.678Z", "DataSet/press", "ms-aio:dev1",
                           "press/ds1", "aio-sr://ns/s:3", "application/json");
    static const char *keys[] = {"specversion", "id",      "time",       "type",
                                 "source",      "subject", "dataschema", "datacontenttype"};
    static const char *vals[] = {
        "1.0",         "id-1",      "2026-01-02T03:04:05.678Z", "DataSet/press",
        "ms-aio:dev1", "press/ds1", "aio-sr://ns/s:3",          "application/json"};

    assert_int_equal(n, 8);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(p[i].key, keys[i]);
        assert_string_equal(p[i].value, vals[i]);
    }
    /* No registered schema: no dataschema, content type from the stream. */
    n = rt_ce_props(p, "id-2", "t", "Stream", "ms-aio:d", "a/s", NULL, "image/jpeg");
    assert_int_equal(n, 7);
    assert_string_equal(p[5].key, "subject");
    assert_string_equal(p[6].key, "datacontenttype");
    assert_string_equal(p[6].value, "image/jpeg");
}

/* Publishing to a Storage destination appends lines; a file that cannot be written sets
 * health Unavailable StorageError, and the next good write clears it. */
static void test_storage_publish(void **state)
{
    char root[] = "/tmp/fp-test-storage-XXXXXX";
    char path[256], line[64];
    rt_out out;
    FILE *f;
    const char *saved = g_rt.opt.storage_root;

    assert_non_null(mkdtemp(root));
    g_rt.opt.storage_root = root;
    assert_int_equal(
        init_from(&out,
                  "[{\"target\":\"Storage\",\"configuration\":{\"path\":\"d/e/out.jsonl\"}}]"),
        0);
    assert_int_equal(rt_out_publish(&out, NULL, "{\"a\":1}", 7, NULL, NULL), 0);
    assert_int_equal(rt_out_publish(&out, NULL, "{\"a\":2}", 7, NULL, NULL), 0);
    snprintf(path, sizeof path, "%s/d/e/out.jsonl", root);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "{\"a\":1}\n");
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "{\"a\":2}\n");
    fclose(f);
    assert_int_equal(out.published, 2);
    assert_false(out.health.set);

    /* A directory where the file should be: the append fails. */
    unlink(path);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(rt_out_publish(&out, NULL, "{}", 2, NULL, NULL), -1);
    assert_true(out.health.set);
    assert_false(out.health.available);
    assert_string_equal(out.health.reason, "StorageError");
    assert_int_equal(out.failed, 1);
    rmdir(path);
    assert_int_equal(rt_out_publish(&out, NULL, "{}", 2, NULL, NULL), 0);
    assert_true(out.health.available);
    rt_out_clear(&out);
    unlink(path);
    snprintf(path, sizeof path, "%s/d/e", root);
    rmdir(path);
    snprintf(path, sizeof path, "%s/d", root);
    rmdir(path);
    rmdir(root);
    g_rt.opt.storage_root = saved;
}

/* An Mqtt destination with no broker configured fails and says so in health. */
static void test_mqtt_without_broker(void **state)
{
    rt_out out;

    assert_int_equal(init_from(&out, NULL), 0);
    assert_int_equal(rt_out_publish(&out, NULL, "{}", 2, NULL, NULL), -1);
    assert_string_equal(out.health.reason, "PublishFailed");
    assert_non_null(strstr(out.health.message, "plant/default"));
    rt_out_clear(&out);
}

/* ---- status documents ----------------------------------------------------------------------- */

typedef struct hand_asset {
    rt_asset as;
    rt_dataset ds;
    fp_datapoint pts[2];
    rt_error *perr[2];
    fp_dataset *dsp[1];
    rt_event_group eg;
    fp_event evs[1];
    rt_out ev_out[1];
    fp_event_group *egp[1];
    rt_stream st;
    fp_stream *stp[1];
    rt_action ac[2];
    fp_action *acp[2];
} hand_asset;

static void hand_asset_init(hand_asset *h)
{
    memset(h, 0, sizeof *h);
    pthread_mutex_init(&h->as.lock, NULL);
    h->as.pub.ns = "plant";
    h->as.pub.name = "press";
    h->as.version = 7;

    h->ds.pub.name = "ds1";
    h->ds.pub.asset = &h->as.pub;
    h->pts[0].name = "temp";
    h->pts[1].name = "pressure";
    h->pts[0].dataset = h->pts[1].dataset = &h->ds.pub;
    h->ds.pub.points = h->pts;
    h->ds.pub.n_points = 2;
    h->ds.point_errors = h->perr;
    assert_int_equal(init_from(&h->ds.out, NULL), 0);
    h->ds.out.schema_name = fp_strdup("press-ds1");
    h->ds.out.schema_version = 3;
    h->dsp[0] = &h->ds.pub;
    h->as.pub.datasets = h->dsp;
    h->as.pub.n_datasets = 1;

    h->eg.pub.name = "alarms";
    h->eg.pub.asset = &h->as.pub;
    h->evs[0].name = "overheat";
    h->evs[0].group = &h->eg.pub;
    h->eg.pub.events = h->evs;
    h->eg.pub.n_events = 1;
    h->eg.ev_out = h->ev_out;
    assert_int_equal(init_from(&h->eg.out, NULL), 0);
    assert_int_equal(init_from(&h->ev_out[0], NULL), 0);
    h->egp[0] = &h->eg.pub;
    h->as.pub.event_groups = h->egp;
    h->as.pub.n_event_groups = 1;

    h->st.pub.name = "cam";
    h->st.pub.asset = &h->as.pub;
    assert_int_equal(init_from(&h->st.out, "[{\"target\":\"Mqtt\"}]"), -1); /* config error */
    h->stp[0] = &h->st.pub;
    h->as.pub.streams = h->stp;
    h->as.pub.n_streams = 1;

    for (int i = 0; i < 2; i++) {
        pthread_mutex_init(&h->ac[i].lock, NULL);
        h->ac[i].pub.group = "mg";
        h->ac[i].pub.name = i ? "stop" : "start";
        h->ac[i].pub.asset = &h->as.pub;
        h->acp[i] = &h->ac[i].pub;
    }
    h->as.pub.actions = h->acp;
    h->as.pub.n_actions = 2;
}

static void hand_asset_clear(hand_asset *h)
{
    rt_out_clear(&h->ds.out);
    rt_out_clear(&h->eg.out);
    rt_out_clear(&h->ev_out[0]);
    rt_out_clear(&h->st.out);
    for (int i = 0; i < 2; i++)
        pthread_mutex_destroy(&h->ac[i].lock);
    pthread_mutex_destroy(&h->as.lock);
}

/* Times come from the clock: every lastUpdateTime reads "T" for the comparison. */
static void mask_times(json_t *j)
{
    const char *k;
    json_t *v;
    size_t i;

    if (json_is_object(j)) {
        json_object_foreach(j, k, v)
        {
            if (!strcmp(k, "lastUpdateTime") && json_is_string(v))
                json_string_set(v, "T");
            else
                mask_times(v);
        }
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v) mask_times(v);
    }
}

static void assert_json(json_t *got, const char *want_text)
{
    json_t *want = J(want_text);
    mask_times(got);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
        char *w = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
        fprintf(stderr, "got  %s\nwant %s\n", g, w);
        free(g);
        free(w);
        fail();
    }
    json_decref(want);
}

static void test_status_asset_doc(void **state)
{
    hand_asset h;
    json_t *doc;

    hand_asset_init(&h);
    /* Nothing reported yet: names, the schema reference and the config error only. */
    doc = rt_status_asset_doc(&h.as, "2026-01-01T00:00:00.000Z");
    assert_json(doc,
                "{\"config\":{\"version\":7,\"lastTransitionTime\":\"2026-01-01T00:00:00.000Z\"},"
                "\"datasets\":[{\"name\":\"ds1\",\"messageSchemaReference\":{"
                "\"schemaRegistryNamespace\":\"plant\",\"schemaName\":\"press-ds1\","
                "\"schemaVersion\":\"3\"}}],"
                "\"eventGroups\":[{\"name\":\"alarms\",\"events\":[{\"name\":\"overheat\"}]}],"
                "\"streams\":[{\"name\":\"cam\",\"error\":{\"code\":\"InvalidDestination\","
                "\"message\":\"destinations[0].configuration is required\"}}],"
                "\"managementGroups\":[{\"name\":\"mg\",\"actions\":[{\"name\":\"start\"},"
                "{\"name\":\"stop\"}]}]}");
    json_decref(doc);

    /* Health, a data point error and an action error. */
    fp_dataset_health(&h.ds.pub, false, "Unreachable", "GET %s: %s", "http://x", "refused");
    fp_datapoint_error(&h.pts[1], "MissingPath", "no member %s", "p");
    fp_event_health(&h.evs[0], true, NULL, NULL);
    fp_action_health(&h.ac[1].pub, false, "Busy", "later");
    rt_error_set(&h.as.config_error, "InvalidConfiguration", "bad");
    doc = rt_status_asset_doc(&h.as, NULL);
    assert_json(json_object_get(doc, "config"),
                "{\"version\":7,\"error\":{\"code\":\"InvalidConfiguration\",\"message\":"
                "\"bad\"}}");
    assert_json(json_array_get(json_object_get(doc, "datasets"), 0),
                "{\"name\":\"ds1\",\"messageSchemaReference\":{\"schemaRegistryNamespace\":"
                "\"plant\",\"schemaName\":\"press-ds1\",\"schemaVersion\":\"3\"},"
                "\"error\":{\"code\":\"DataPointError\",\"message\":\"1 of 2 data points have "
                "errors\",\"details\":[{\"code\":\"MissingPath\",\"message\":\"no member p\","
                "\"target\":\"pressure\"}]},"
                "\"health\":{\"version\":1,\"status\":\"Unavailable\",\"lastUpdateTime\":\"T\","
                "\"message\":\"GET http://x: refused\","
                "\"reasonCode\":\"Unreachable\"}}");
    assert_json(
        json_array_get(
            json_object_get(json_array_get(json_object_get(doc, "eventGroups"), 0), "events"), 0),
        "{\"name\":\"overheat\",\"health\":{\"version\":1,\"status\":\"Available\","
        "\"lastUpdateTime\":\"T\"}}");
    assert_json(
        json_object_get(json_array_get(json_object_get(doc, "managementGroups"), 0), "actions"),
        "[{\"name\":\"start\"},{\"name\":\"stop\",\"health\":{\"version\":1,\"status\":"
        "\"Unavailable\",\"lastUpdateTime\":\"T\",\"message\":"
        "\"later\",\"reasonCode\":\"Busy\"}}]");
    json_decref(doc);

    /* Same health again: no new version. Cleared point error: no error entry. */
    fp_dataset_health(&h.ds.pub, false, "Unreachable", "GET %s: %s", "http://x", "refused");
    assert_int_equal(h.ds.out.health.version, 1);
    fp_dataset_health(&h.ds.pub, true, NULL, NULL);
    assert_int_equal(h.ds.out.health.version, 2);
    fp_datapoint_error(&h.pts[1], NULL, NULL);
    doc = rt_status_asset_doc(&h.as, NULL);
    assert_null(json_object_get(json_array_get(json_object_get(doc, "datasets"), 0), "error"));
    json_decref(doc);
    assert_true(atomic_load(&h.as.status_dirty));
    hand_asset_clear(&h);
}

static void test_status_endpoint_doc(void **state)
{
    rt_endpoint ep;
    json_t *doc;

    memset(&ep, 0, sizeof ep);
    pthread_mutex_init(&ep.lock, NULL);
    ep.pub.ns = "plant";
    ep.pub.device = "dev1";
    ep.pub.name = "rest";
    ep.device_version = 4;
    doc = rt_status_endpoint_doc(&ep);
    assert_json(doc, "{\"config\":{\"version\":4},\"endpoints\":{\"inbound\":{\"rest\":{"
                     "\"error\":null}}}}");
    json_decref(doc);

    fp_endpoint_health(&ep.pub, false, "Unreachable", "connection refused");
    rt_error_set(&ep.error, "BadAddress", "no host");
    doc = rt_status_endpoint_doc(&ep);
    assert_json(doc, "{\"config\":{\"version\":4},\"endpoints\":{\"inbound\":{\"rest\":{"
                     "\"error\":{\"code\":\"BadAddress\",\"message\":\"no host\"},"
                     "\"health\":{\"version\":1,\"status\":\"Unavailable\",\"lastUpdateTime\":"
                     "\"T\",\"message\":\"connection refused\","
                     "\"reasonCode\":\"Unreachable\"}}}}}");
    json_decref(doc);
    assert_true(atomic_load(&ep.status_dirty));

    /* The runtime's own health (queue full) is shown instead while it is set. */
    rt_health_set(&ep.runtime_health, false, "QueueFull",
                  "disk queue full: 3 messages dropped (policy oldest)");
    doc = rt_status_endpoint_doc(&ep);
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(
                json_object_get(json_object_get(json_object_get(doc, "endpoints"), "inbound"),
                                "rest"),
                "health"),
            "reasonCode")),
        "QueueFull");
    json_decref(doc);
    pthread_mutex_destroy(&ep.lock);
}

/* ---- discovery --------------------------------------------------------------------------------
 */

static void test_discovery_names(void **state)
{
    /* The registry's rules for discovered names (lib/model), not a copy of them. */
    assert_true(rt_discovery_name_ok(true, "press-01", NULL, 0));
    assert_false(rt_discovery_name_ok(true, "Press", NULL, 0));
    assert_false(rt_discovery_name_ok(true, "ab", NULL, 0));
    assert_false(rt_discovery_name_ok(true, "-abc", NULL, 0));
    assert_false(rt_discovery_name_ok(true, "abc-", NULL, 0));
    assert_false(rt_discovery_name_ok(true, "a_bc", NULL, 0));
    assert_false(rt_discovery_name_ok(true, NULL, NULL, 0));
    assert_true(rt_discovery_name_ok(false, "dev-1", NULL, 0));
    /* Discovered devices are lowercase DNS labels like discovered assets; the runtime's
     * old rule let these three through and the registry refused them. */
    assert_false(rt_discovery_name_ok(false, "Dev-1", NULL, 0));
    assert_false(rt_discovery_name_ok(false, "-plc", NULL, 0));
    assert_false(rt_discovery_name_ok(false, "d1", NULL, 0));
    assert_false(rt_discovery_name_ok(false, "", NULL, 0));
    assert_false(rt_discovery_name_ok(false, "dev.1", NULL, 0));
    {
        char long_name[70], why[256];
        memset(long_name, 'a', 64);
        long_name[64] = '\0';
        assert_false(rt_discovery_name_ok(true, long_name, why, sizeof why));
        assert_non_null(strstr(why, "must be 3 to 63 characters long (it has 64)"));
        assert_false(rt_discovery_name_ok(false, long_name, NULL, 0));
        long_name[63] = '\0';
        assert_true(rt_discovery_name_ok(true, long_name, NULL, 0));
    }
    /* Reports with an invalid name are refused before anything is queued. */
    assert_int_equal(fp_discovered_asset_report(&g_rt, "plant", "Bad_Name", NULL), -1);
    assert_int_equal(fp_discovered_device_report(&g_rt, "X", "dev", NULL), -1);
}

static void test_discovery_content(void **state)
{
    json_t *stored = J("{\"discoveryId\":\"http-1\",\"version\":3,\"uuid\":\"u\","
                       "\"provisioningState\":\"Succeeded\",\"manufacturer\":\"Acme\","
                       "\"attributes\":{\"b\":1,\"a\":2}}");
    json_t *same = J("{\"attributes\":{\"a\":2,\"b\":1},\"manufacturer\":\"Acme\"}");
    json_t *changed = J("{\"attributes\":{\"a\":2,\"b\":1},\"manufacturer\":\"Acme Inc\"}");
    json_t *more =
        J("{\"attributes\":{\"a\":2,\"b\":1},\"manufacturer\":\"Acme\",\"model\":\"X\"}");

    assert_true(rt_discovery_same_content(stored, same));
    assert_false(rt_discovery_same_content(stored, changed));
    assert_false(rt_discovery_same_content(stored, more));
    json_decref(stored);
    json_decref(same);
    json_decref(changed);
    json_decref(more);
}

/* ---- metrics ----------------------------------------------------------------------------------
 */

static void test_metrics_text(void **state)
{
    fpc_mqtt_stats st;
    rt_ep_count eps[2] = {{"plant/dev1/rest", 10, 1}, {"plant/dev\"2/sse", 5, 0}};
    fp_buf b;
    const char *t;

    memset(&st, 0, sizeof st);
    st.received = 3;
    st.published = 14;
    st.queued = 2;
    st.queued_bytes = 300;
    st.dropped = 1;
    st.bytes_published = 1000;
    st.connected = true;
    for (int i = 0; i < 9; i++)
        st.latency_buckets[i] = (uint64_t)(i + 1);
    st.latency_count = 9;
    st.latency_sum_s = 0.25;

    fp_buf_init(&b, 1 << 20);
    rt_ops_metrics_text(&b, "http", &st, eps, 2, 15, 1, false);
    assert_int_equal(b.err, FP_OK);
    t = b.data;
    assert_non_null(strstr(t, "# HELP fieldplane_connector_messages_received_total "));
    assert_non_null(strstr(t, "# TYPE fieldplane_connector_messages_received_total counter\n"));
    assert_non_null(
        strstr(t, "fieldplane_connector_messages_received_total{connector=\"http\"} 3\n"));
    assert_non_null(
        strstr(t, "fieldplane_connector_messages_published_total{connector=\"http\"} 15\n"));
    assert_non_null(strstr(t, "fieldplane_connector_messages_published_total{connector=\"http\","
                              "endpoint=\"plant/dev1/rest\"} 10\n"));
    assert_non_null(strstr(t, "fieldplane_connector_messages_published_total{connector=\"http\","
                              "endpoint=\"plant/dev\\\"2/sse\"} 5\n"));
    assert_non_null(strstr(t, "fieldplane_connector_messages_failed_total{connector=\"http\","
                              "endpoint=\"plant/dev1/rest\"} 1\n"));
    assert_non_null(strstr(t, "# TYPE fieldplane_connector_messages_queued gauge\n"));
    assert_non_null(strstr(t, "fieldplane_connector_messages_queued{connector=\"http\"} 2\n"));
    assert_non_null(strstr(t, "fieldplane_connector_queue_bytes{connector=\"http\"} 300\n"));
    assert_non_null(
        strstr(t, "fieldplane_connector_messages_dropped_total{connector=\"http\"} 1\n"));
    assert_non_null(
        strstr(t, "fieldplane_connector_published_bytes_total{connector=\"http\"} 1000\n"));
    assert_non_null(strstr(t, "# TYPE fieldplane_connector_publish_latency_seconds histogram\n"));
    assert_non_null(strstr(t, "fieldplane_connector_publish_latency_seconds_bucket{connector="
                              "\"http\",le=\"0.001\"} 1\n"));
    assert_non_null(strstr(t, "fieldplane_connector_publish_latency_seconds_bucket{connector="
                              "\"http\",le=\"5\"} 8\n"));
    assert_non_null(strstr(t, "fieldplane_connector_publish_latency_seconds_bucket{connector="
                              "\"http\",le=\"+Inf\"} 9\n"));
    assert_non_null(strstr(t, "fieldplane_connector_publish_latency_seconds_sum{connector="
                              "\"http\"} 0.250000\n"));
    assert_non_null(strstr(t, "fieldplane_connector_publish_latency_seconds_count{connector="
                              "\"http\"} 9\n"));
    assert_non_null(strstr(t, "fieldplane_connector_broker_connected{connector=\"http\"} 1\n"));
    assert_non_null(strstr(t, "fieldplane_connector_registry_connected{connector=\"http\"} 0\n"));
    /* Every line is a comment or "name{labels} value". */
    for (const char *l = t; *l;) {
        const char *e = strchr(l, '\n');
        assert_non_null(e);
        if (*l != '#') {
            const char *sp = memchr(l, ' ', (size_t)(e - l));
            assert_non_null(sp);
            assert_true(memchr(l, '{', (size_t)(sp - l)) != NULL);
            assert_true(sp[-1] == '}');
        }
        l = e + 1;
    }
    fp_buf_clear(&b);

    /* The connector's own counters: one family per row, summed and per endpoint; rows end at
     * the NULL name. */
    static const fp_counter_def defs[] = {{"modbus_timeouts", "Requests without an answer"},
                                          {"modbus_exceptions", "Exception answers"},
                                          {NULL, NULL}};
    eps[0].counters[0] = 4;
    eps[1].counters[0] = 3;
    eps[1].counters[1] = 2;
    eps[0].counters[2] = 99; /* no row: not shown */
    fp_buf_init(&b, 1 << 20);
    rt_ops_metrics_counters_text(&b, "modbus", defs, eps, 2);
    assert_int_equal(b.err, FP_OK);
    t = b.data;
    assert_non_null(strstr(t, "# HELP fieldplane_connector_modbus_timeouts_total Requests without "
                              "an answer; without the endpoint label, every endpoint's together.\n"
                              "# TYPE fieldplane_connector_modbus_timeouts_total counter\n"));
    assert_non_null(
        strstr(t, "fieldplane_connector_modbus_timeouts_total{connector=\"modbus\"} 7\n"));
    assert_non_null(strstr(t, "fieldplane_connector_modbus_timeouts_total{connector=\"modbus\","
                              "endpoint=\"plant/dev1/rest\"} 4\n"));
    assert_non_null(strstr(t, "fieldplane_connector_modbus_exceptions_total{connector=\"modbus\","
                              "endpoint=\"plant/dev\\\"2/sse\"} 2\n"));
    assert_null(strstr(t, "99"));
    fp_buf_clear(&b);
    fp_buf_init(&b, 1 << 20);
    rt_ops_metrics_counters_text(&b, "modbus", NULL, eps, 2);
    assert_int_equal(b.len, 0);
    fp_buf_clear(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dest_default),
        cmocka_unit_test(test_dest_all_targets),
        cmocka_unit_test(test_dest_errors),
        cmocka_unit_test(test_dest_alloc_failures),
        cmocka_unit_test(test_ce_props),
        cmocka_unit_test(test_storage_publish),
        cmocka_unit_test(test_mqtt_without_broker),
        cmocka_unit_test(test_status_asset_doc),
        cmocka_unit_test(test_status_endpoint_doc),
        cmocka_unit_test(test_discovery_names),
        cmocka_unit_test(test_discovery_content),
        cmocka_unit_test(test_metrics_text),
    };

    pthread_mutex_init(&g_rt.lock, NULL);
    g_rt.opt.storage_root = "/tmp/fp-storage-root";
    return cmocka_run_group_tests(tests, NULL, NULL);
}
