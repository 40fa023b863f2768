/*
 * test_connector_model.c - the connector runtime's model: configuration rows with the
 * lookup chain, configuration strings, destination choice, schema names, and the diff of
 * an asset change as callbacks (unchanged, updated, added, removed, failed adds).
 *
 * The runtime is built by hand (no registry, no broker): an fp_rt with the worker pool
 * started, and endpoints and assets fed to the model as the sync thread would.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/connector/rt_internal.h"
#include "fp_alloc.h"
#include "fp_model.h"

/* ---- a test connector that records its callbacks ---------------------------------------- */

typedef struct ds_cfg {
    int64_t interval;
    char *mode;
    bool flag;
    double scale;
    const json_t *extra;
    int64_t timeout;
} ds_cfg;

typedef struct pt_cfg {
    int64_t interval;
    char *unit;
} pt_cfg;

typedef struct ep_cfg {
    int64_t retries;
} ep_cfg;

static const fp_config_key ROWS[] = {
    {FP_CFG_ENDPOINT, FP_CFG_INT, "retries", "3", offsetof(ep_cfg, retries), 0, 10, "retries"},
    {FP_CFG_DATASET, FP_CFG_INT, "samplingIntervalInMilliseconds", "1000",
     offsetof(ds_cfg, interval), 10, 60000, "poll period"},
    {FP_CFG_DATASET, FP_CFG_STRING, "mode", "poll", offsetof(ds_cfg, mode), 0, 0, "mode"},
    {FP_CFG_DATASET, FP_CFG_BOOL, "flag", "true", offsetof(ds_cfg, flag), 0, 0, "flag"},
    {FP_CFG_DATASET, FP_CFG_DOUBLE, "scale", "1.5", offsetof(ds_cfg, scale), 0, 0, "scale"},
    {FP_CFG_DATASET, FP_CFG_JSON, "extra", NULL, offsetof(ds_cfg, extra), 0, 0, "extra"},
    {FP_CFG_DATASET, FP_CFG_INT, "session.timeoutMilliseconds", "5", offsetof(ds_cfg, timeout), 0,
     0, "nested"},
    {FP_CFG_DATAPOINT, FP_CFG_INT, "samplingIntervalInMilliseconds", "1000",
     offsetof(pt_cfg, interval), 0, 0, "point period"},
    {FP_CFG_DATAPOINT, FP_CFG_STRING, "unit", NULL, offsetof(pt_cfg, unit), 0, 0, "unit"},
    {0, 0, NULL, NULL, 0, 0, 0, NULL},
};

static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_log[4096];
static int g_fail_add; /* dataset_add fails for a dataset named "flaky" while set */
static int g_user_seq;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    pthread_mutex_lock(&g_log_lock);
    size_t n = strlen(g_log);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_log + n, sizeof g_log - n, fmt, ap);
    va_end(ap);
    n = strlen(g_log);
    snprintf(g_log + n, sizeof g_log - n, ";");
    pthread_mutex_unlock(&g_log_lock);
}

static void log_reset(void)
{
    pthread_mutex_lock(&g_log_lock);
    g_log[0] = '\0';
    pthread_mutex_unlock(&g_log_lock);
}

static int t_ep_add(fp_endpoint *ep)
{
    logf_("+ep %s", ep->name);
    return 0;
}
static void t_ep_remove(fp_endpoint *ep)
{
    logf_("-ep %s", ep->name);
}
static int g_fail_update;
static int t_ep_update(fp_endpoint *ep, const fp_endpoint *old)
{
    logf_("~ep %s %s->%s user=%s", ep->name, old->address, ep->address,
          ep->user == old->user ? "kept" : "lost");
    return g_fail_update ? -1 : 0;
}
static int t_ds_add(fp_dataset *ds)
{
    if (g_fail_add && !strcmp(ds->name, "flaky")) {
        logf_("!ds %s", ds->name);
        return -1;
    }
    ds->user = (void *)(intptr_t)++g_user_seq;
    logf_("+ds %s", ds->name);
    return 0;
}
static int t_ds_update(fp_dataset *ds, const fp_dataset *old)
{
    /* The new object carries the old one's user pointer. */
    logf_("~ds %s user=%s", ds->name, ds->user == old->user && ds->user ? "kept" : "lost");
    return 0;
}
static void t_ds_remove(fp_dataset *ds)
{
    logf_("-ds %s", ds->name);
}
static int t_st_add(fp_stream *st)
{
    logf_("+st %s", st->name);
    return 0;
}
static void t_st_remove(fp_stream *st)
{
    logf_("-st %s", st->name);
}
static int t_ac_add(fp_action *ac)
{
    logf_("+ac %s/%s %s %d", ac->group, ac->name, ac->topic, ac->timeout_s);
    return 0;
}
static void t_ac_remove(fp_action *ac)
{
    logf_("-ac %s/%s", ac->group, ac->name);
}

static const char *const TYPES[] = {"Microsoft.Http", NULL};

static fp_connector g_conn = {
    .abi = FP_CONNECTOR_ABI,
    .name = "test",
    .endpoint_types = TYPES,
    .config = ROWS,
    .config_size = {[FP_CFG_ENDPOINT] = sizeof(ep_cfg),
                    [FP_CFG_DATASET] = sizeof(ds_cfg),
                    [FP_CFG_DATAPOINT] = sizeof(pt_cfg)},
    .endpoint_add = t_ep_add,
    .endpoint_remove = t_ep_remove,
    .dataset_add = t_ds_add,
    .dataset_update = t_ds_update,
    .dataset_remove = t_ds_remove,
    .stream_add = t_st_add, /* no stream_update: a change is remove + add */
    .stream_remove = t_st_remove,
    .action_add = t_ac_add,
    .action_remove = t_ac_remove,
};

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("bad test JSON: %s: %s", e.text, text);
    return j;
}

/* ---- configuration rows --------------------------------------------------------------- */

static void test_config_defaults(void **state)
{
    char err[512] = "";
    void *cfg = NULL;
    json_t *empty = json_object();
    rt_cfg_level chain[2] = {{empty, "datasets[0].datasetConfiguration"},
                             {NULL, "defaultDatasetsConfiguration"}};
    assert_int_equal(rt_config_fill(&g_conn, FP_CFG_DATASET, chain, 2, &cfg, err, sizeof err), 0);
    ds_cfg *c = cfg;
    assert_int_equal(c->interval, 1000);
    assert_string_equal(c->mode, "poll");
    assert_true(c->flag);
    assert_true(c->scale == 1.5);
    assert_null(c->extra);
    assert_int_equal(c->timeout, 5);
    rt_config_free(&g_conn, FP_CFG_DATASET, cfg);

    /* A scope without a struct gets none. */
    assert_int_equal(rt_config_fill(&g_conn, FP_CFG_STREAM, chain, 1, &cfg, err, sizeof err), 0);
    assert_null(cfg);
    json_decref(empty);
}

static void test_config_chain(void **state)
{
    char err[512] = "";
    void *cfg = NULL;
    /* Most specific first: the point says -1 (not set), so the dataset's value wins; the
     * unit comes from the asset's defaults; nested keys and JSON values are found. */
    json_t *point = parse("{\"samplingIntervalInMilliseconds\": -1}");
    json_t *ds = parse("{\"samplingIntervalInMilliseconds\": 250, \"mode\": \"push\","
                       " \"session\": {\"timeoutMilliseconds\": 77}, \"extra\": [1, 2]}");
    json_t *asset = parse("{\"samplingIntervalInMilliseconds\": 500, \"unit\": \"degC\","
                          " \"flag\": false, \"scale\": 2, \"mode\": \"never-used\"}");
    rt_cfg_level pchain[3] = {{point, "p"}, {ds, "d"}, {asset, "a"}};
    assert_int_equal(rt_config_fill(&g_conn, FP_CFG_DATAPOINT, pchain, 3, &cfg, err, sizeof err),
                     0);
    pt_cfg *p = cfg;
    assert_int_equal(p->interval, 250);
    assert_string_equal(p->unit, "degC");
    rt_config_free(&g_conn, FP_CFG_DATAPOINT, cfg);

    rt_cfg_level dchain[2] = {{ds, "d"}, {asset, "a"}};
    assert_int_equal(rt_config_fill(&g_conn, FP_CFG_DATASET, dchain, 2, &cfg, err, sizeof err), 0);
    ds_cfg *d = cfg;
    assert_int_equal(d->interval, 250);
    assert_string_equal(d->mode, "push");
    assert_false(d->flag);      /* from the asset level */
    assert_true(d->scale == 2); /* an integer is a number */
    assert_int_equal(d->timeout, 77);
    assert_ptr_equal(d->extra, json_object_get(ds, "extra")); /* borrowed */
    rt_config_free(&g_conn, FP_CFG_DATASET, cfg);

    /* -1 at every level: the row default. */
    json_t *unset = parse("{\"samplingIntervalInMilliseconds\": -1}");
    rt_cfg_level uchain[2] = {{unset, "d"}, {unset, "a"}};
    assert_int_equal(rt_config_fill(&g_conn, FP_CFG_DATAPOINT, uchain, 2, &cfg, err, sizeof err),
                     0);
    assert_int_equal(((pt_cfg *)cfg)->interval, 1000);
    assert_null(((pt_cfg *)cfg)->unit);
    rt_config_free(&g_conn, FP_CFG_DATAPOINT, cfg);
    json_decref(unset);
    json_decref(point);
    json_decref(ds);
    json_decref(asset);
}

static void test_config_errors(void **state)
{
    char err[512] = "";
    void *cfg = (void *)1;
    json_t *bad_type = parse("{\"mode\": 5}");
    rt_cfg_level chain[1] = {{bad_type, "datasets[2].datasetConfiguration"}};
    assert_int_equal(rt_config_fill(&g_conn, FP_CFG_DATASET, chain, 1, &cfg, err, sizeof err), -1);
    assert_null(cfg);
    assert_non_null(strstr(err, "datasets[2].datasetConfiguration"));
    assert_non_null(strstr(err, "mode must be a string"));

    json_t *low = parse("{\"samplingIntervalInMilliseconds\": 5}");
    chain[0] = (rt_cfg_level){low, "datasets[0].datasetConfiguration"};
    assert_int_equal(rt_config_fill(&g_conn, FP_CFG_DATASET, chain, 1, &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "samplingIntervalInMilliseconds = 5 is out of range [10, 60000]"));

    json_t *real = parse("{\"samplingIntervalInMilliseconds\": 100.5}");
    chain[0] = (rt_cfg_level){real, "x"};
    assert_int_equal(rt_config_fill(&g_conn, FP_CFG_DATASET, chain, 1, &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "samplingIntervalInMilliseconds must be an integer"));

    json_t *flag = parse("{\"flag\": \"yes\"}");
    chain[0] = (rt_cfg_level){flag, "x"};
    assert_int_equal(rt_config_fill(&g_conn, FP_CFG_DATASET, chain, 1, &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "flag must be true or false"));

    /* The error comes from the level where the value was found. */
    json_t *ok = parse("{}");
    json_t *bad_def = parse("{\"session\": {\"timeoutMilliseconds\": \"slow\"}}");
    rt_cfg_level two[2] = {{ok, "datasets[0].datasetConfiguration"},
                           {bad_def, "defaultDatasetsConfiguration"}};
    assert_int_equal(rt_config_fill(&g_conn, FP_CFG_DATASET, two, 2, &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "defaultDatasetsConfiguration: session.timeoutMilliseconds"));

    json_decref(bad_type);
    json_decref(low);
    json_decref(real);
    json_decref(flag);
    json_decref(ok);
    json_decref(bad_def);
}

static void test_config_parse(void **state)
{
    char err[512] = "";
    json_t *ds = parse("{\"a\": \"{\\\"x\\\": 1}\", \"b\": \"{oops\", \"c\": \"[1]\", \"d\": \"\","
                       " \"e\": 7}");
    json_t *j = rt_config_parse(ds, "a", "datasets[0].datasetConfiguration", err, sizeof err);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "x")), 1);
    json_decref(j);

    assert_null(rt_config_parse(ds, "b", "datasets[1].datasetConfiguration", err, sizeof err));
    assert_non_null(strstr(err, "datasets[1].datasetConfiguration is not a JSON object: "));
    assert_true(strlen(err) > strlen("datasets[1].datasetConfiguration is not a JSON object: "));

    assert_null(rt_config_parse(ds, "c", "L", err, sizeof err));
    assert_string_equal(err, "L is not a JSON object: it is an array");
    assert_null(rt_config_parse(ds, "e", "L", err, sizeof err));
    assert_string_equal(err, "L is not a JSON object: it is an integer");

    j = rt_config_parse(ds, "d", "L", err, sizeof err); /* "" */
    assert_true(json_is_object(j) && json_object_size(j) == 0);
    json_decref(j);
    j = rt_config_parse(ds, "missing", "L", err, sizeof err);
    assert_true(json_is_object(j) && json_object_size(j) == 0);
    json_decref(j);
    json_decref(ds);
}

static void test_destinations(void **state)
{
    json_t *props =
        parse("{\"defaultDatasetsDestinations\": [{\"target\": \"Mqtt\", \"n\": \"A\"}],"
              " \"defaultEventsDestinations\": [{\"n\": \"E\"}],"
              " \"defaultStreamsDestinations\": [{\"n\": \"S\"}]}");
    json_t *ds_own = parse("{\"destinations\": [{\"n\": \"own\"}]}");
    json_t *ds_none = parse("{\"destinations\": []}");
    json_t *grp = parse("{\"defaultDestinations\": [{\"n\": \"G\"}]}");
    json_t *grp_none = parse("{}");
    json_t *ev_own = parse("{\"destinations\": [{\"n\": \"ev\"}]}");
    json_t *ev_none = parse("{}");
    json_t *bare = parse("{}");

#define N(arr) json_string_value(json_object_get(json_array_get((arr), 0), "n"))
    assert_string_equal(N(rt_dests_dataset(props, ds_own)), "own");
    assert_string_equal(N(rt_dests_dataset(props, ds_none)), "A"); /* empty: not set */
    assert_string_equal(N(rt_dests_event(props, grp, ev_own)), "ev");
    assert_string_equal(N(rt_dests_event(props, grp, ev_none)), "G");
    assert_string_equal(N(rt_dests_event(props, grp_none, ev_none)), "E");
    assert_string_equal(N(rt_dests_group(props, grp)), "G");
    assert_string_equal(N(rt_dests_group(props, grp_none)), "E");
    assert_string_equal(N(rt_dests_stream(props, ds_own)), "own");
    assert_string_equal(N(rt_dests_stream(props, bare)), "S");
    assert_null(rt_dests_dataset(bare, bare));
#undef N
    json_decref(props);
    json_decref(ds_own);
    json_decref(ds_none);
    json_decref(grp);
    json_decref(grp_none);
    json_decref(ev_own);
    json_decref(ev_none);
    json_decref(bare);
}

static void test_schema_name(void **state)
{
    char a[65], b[65];
    rt_schema_name("Oven 1", "Temps", NULL, a);
    assert_string_equal(a, "oven-1-temps");
    rt_schema_name("oven", "alarms", "Over_Temp!", a);
    assert_string_equal(a, "oven-alarms-over-temp");
    rt_schema_name("", "", NULL, a); /* nothing usable: a hash alone */
    assert_int_equal(strlen(a), 8);

    char long1[100], long2[100];
    memset(long1, 'x', 80);
    long1[80] = '\0';
    memcpy(long2, long1, sizeof long1);
    long2[79] = 'y';
    rt_schema_name(long1, "ds", NULL, a);
    rt_schema_name(long2, "ds", NULL, b);
    assert_true(strlen(a) <= 64 && strlen(a) >= 3);
    assert_string_not_equal(a, b); /* cut, but told apart by the hash */
    for (const char *p = a; *p; p++)
        assert_true((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-');

    /* Whatever goes in, the registry takes the name (its rule is lib/model's). */
    static const char *const k_inputs[] = {"", "-", "--x--", "A", "Oven 1", "ü-ß", "a_b.c/d"};
    for (size_t i = 0; i < sizeof k_inputs / sizeof k_inputs[0]; i++) {
        char why[256];
        rt_schema_name(k_inputs[i], k_inputs[i], NULL, a);
        if (fp_model_name_check(FP_KIND_SCHEMA, a, why, sizeof why) != FP_OK)
            fail_msg("input \"%s\": %s", k_inputs[i], why);
        rt_schema_name(long1, k_inputs[i], long2, a);
        if (fp_model_name_check(FP_KIND_SCHEMA, a, why, sizeof why) != FP_OK)
            fail_msg("long input with \"%s\": %s", k_inputs[i], why);
    }
}

/* ---- the model: add, diff, remove ------------------------------------------------------ */

static fp_rt g_rt;
static char g_dir[64];

/* The runtime by hand: workers, and an MQTT publisher (towards a port where no broker
 * listens: it retries in the background) so that actions can subscribe. */
static int model_setup(void **state)
{
    memset(&g_rt, 0, sizeof g_rt);
    g_rt.conn = &g_conn;
    pthread_mutex_init(&g_rt.lock, NULL);
    rt_set_current(&g_rt);
    log_reset();
    g_fail_add = 0;
    snprintf(g_dir, sizeof g_dir, "/tmp/fp-test-model-XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    char err[256];
    fpc_mqtt_opts mo = {.host = "127.0.0.1", .port = 1, .client_id = "test", .queue_dir = g_dir};
    g_rt.mqtt = fpc_mqtt_new(&mo, err, sizeof err);
    if (!g_rt.mqtt || fpc_mqtt_start(g_rt.mqtt) != 0 || rt_actions_start(&g_rt) != 0)
        return -1;
    return rt_exec_start(&g_rt, 2);
}

static int model_teardown(void **state)
{
    rt_model_shutdown(&g_rt);
    rt_actions_stop(&g_rt);
    rt_exec_stop(&g_rt);
    fpc_mqtt_free(g_rt.mqtt, 0);
    pthread_mutex_destroy(&g_rt.lock);
    rt_set_current(NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *DEVICE =
    "{\"name\": \"dev1\", \"properties\": {\"version\": 1, \"externalDeviceId\": \"ext-dev\","
    " \"endpoints\": {\"inbound\": {\"ep1\": {\"endpointType\": \"microsoft.http\","
    " \"address\": \"http://127.0.0.1:1\", \"additionalConfiguration\": \"{\\\"retries\\\": "
    "2}\"}}}}}";

static json_t *asset_doc(int version, const char *defaults, const char *datasets, const char *extra)
{
    char buf[4096];
    snprintf(buf, sizeof buf,
             "{\"name\": \"oven\", \"properties\": {\"version\": %d,"
             " \"deviceRef\": {\"deviceName\": \"dev1\", \"endpointName\": \"ep1\"},"
             " \"defaultDatasetsConfiguration\": \"%s\", \"datasets\": [%s]%s%s}}",
             version, defaults, datasets, extra ? ", " : "", extra ? extra : "");
    return parse(buf);
}

static rt_dataset *find_ds(rt_asset *as, const char *name)
{
    for (size_t i = 0; i < as->pub.n_datasets; i++)
        if (!strcmp(as->pub.datasets[i]->name, name))
            return RT_OF(as->pub.datasets[i], rt_dataset, pub);
    return NULL;
}

static void test_model_asset_diff(void **state)
{
    json_t *dev = parse(DEVICE);
    rt_endpoint *ep = rt_model_endpoint_add(&g_rt, "ns1", dev, "ep1", NULL);
    assert_non_null(ep);
    assert_true(ep->started);
    assert_string_equal(ep->pub.source, "ext-dev");
    assert_int_equal(((ep_cfg *)ep->pub.config)->retries, 2);
    assert_string_equal(g_log, "+ep ep1;");

    log_reset();
    json_t *a1 = asset_doc(1, "{\\\"samplingIntervalInMilliseconds\\\": 200}",
                           "{\"name\": \"same\", \"typeRef\": \"T\", \"dataPoints\": ["
                           "{\"name\": \"p1\", \"dataSource\": \"/a\"}]},"
                           "{\"name\": \"changes\"}, {\"name\": \"goes\"},"
                           "{\"name\": \"bad\", \"datasetConfiguration\": \"{nope\"}",
                           NULL);
    rt_asset *as = rt_model_asset_set(ep, a1);
    assert_non_null(as);
    assert_string_equal(g_log, "+ds same;+ds changes;+ds goes;");
    rt_dataset *same = find_ds(as, "same");
    rt_dataset *changes = find_ds(as, "changes");
    rt_dataset *bad = find_ds(as, "bad");
    assert_non_null(same);
    assert_int_equal(((ds_cfg *)same->pub.config)->interval, 200); /* asset default */
    assert_int_equal(((pt_cfg *)same->pub.points[0].config)->interval, 200);
    assert_string_equal(same->out.type, "DataSet/T");
    assert_string_equal(same->out.source, "ms-aio:ext-dev");
    assert_string_equal(same->out.subject, "oven/same");
    assert_string_equal(same->out.schema_name, "oven-same");
    /* A configuration string that is not JSON: an error naming it, never added. */
    assert_false(bad->started);
    assert_true(bad->out.error.set);
    assert_string_equal(bad->out.error.code, "InvalidConfiguration");
    assert_non_null(
        strstr(bad->out.error.message, "datasets[3].datasetConfiguration is not a JSON object: "));
    void *same_user = same->pub.user, *changes_user = changes->pub.user;

    /* The change: "same" untouched, "changes" updated, "goes" removed, "new" added, "bad"
     * still bad (its canon did not change: no callback). */
    log_reset();
    json_t *a2 = asset_doc(2, "{\\\"samplingIntervalInMilliseconds\\\": 200}",
                           "{\"name\": \"same\", \"typeRef\": \"T\", \"dataPoints\": ["
                           "{\"name\": \"p1\", \"dataSource\": \"/a\"}]},"
                           "{\"name\": \"changes\", \"dataSource\": \"/v2\"},"
                           "{\"name\": \"bad\", \"datasetConfiguration\": \"{nope\"},"
                           "{\"name\": \"new\"}",
                           NULL);
    assert_ptr_equal(rt_model_asset_set(ep, a2), as);
    assert_string_equal(g_log, "-ds goes;~ds changes user=kept;+ds new;");
    assert_ptr_equal(find_ds(as, "same"), same); /* the same object */
    assert_ptr_equal(same->pub.user, same_user);
    rt_dataset *changed = find_ds(as, "changes");
    assert_ptr_not_equal(changed, changes);
    assert_ptr_equal(changed->pub.user, changes_user);
    assert_true(changed->started);
    assert_string_equal(changed->out.source, "ms-aio:ext-dev//v2");
    assert_null(find_ds(as, "goes"));
    assert_int_equal(as->pub.n_datasets, 4);
    assert_string_equal(as->pub.datasets[3]->name, "new");

    /* An asset default that changes reaches every dataset that inherits it. */
    log_reset();
    json_t *a3 = asset_doc(3, "{\\\"samplingIntervalInMilliseconds\\\": 300}",
                           "{\"name\": \"same\", \"typeRef\": \"T\", \"dataPoints\": ["
                           "{\"name\": \"p1\", \"dataSource\": \"/a\"}]},"
                           "{\"name\": \"changes\", \"dataSource\": \"/v2\"},"
                           "{\"name\": \"bad\", \"datasetConfiguration\": \"{nope\"},"
                           "{\"name\": \"new\"}",
                           NULL);
    rt_model_asset_set(ep, a3);
    assert_string_equal(g_log, "~ds same user=kept;~ds changes user=kept;~ds new user=kept;");
    assert_int_equal(((ds_cfg *)find_ds(as, "same")->pub.config)->interval, 300);

    /* Removing the asset removes its children in reverse order. */
    log_reset();
    rt_model_asset_remove(as);
    assert_string_equal(g_log, "-ds new;-ds changes;-ds same;");
    assert_null(rt_model_asset_find(&g_rt, "ns1", "oven"));

    log_reset();
    rt_model_endpoint_remove(ep);
    assert_string_equal(g_log, "-ep ep1;");
    assert_null(g_rt.endpoints);
    json_decref(dev);
    json_decref(a1);
    json_decref(a2);
    json_decref(a3);
}

/* What counts as a change of a dataset's inputs: its own JSON (member order aside, down to
 * a data point's field) and the asset-level values it depends on (the subject). */
static void test_model_diff_inputs(void **state)
{
    json_t *dev = parse(DEVICE);
    rt_endpoint *ep = rt_model_endpoint_add(&g_rt, "ns1", dev, "ep1", NULL);
    assert_non_null(ep);
    json_t *a1 =
        asset_doc(1, "",
                  "{\"name\": \"a\", \"dataPoints\": [{\"name\": \"p1\", \"dataSource\": "
                  "\"/a\"}, {\"name\": \"p2\", \"dataSource\": \"/b\"}]},"
                  "{\"name\": \"b\", \"dataPoints\": [{\"name\": \"q\", \"dataSource\": \"/q\"}]}",
                  NULL);
    rt_asset *as = rt_model_asset_set(ep, a1);
    assert_non_null(as);

    /* The same content, members in another order: nothing to do. */
    log_reset();
    json_t *a2 =
        asset_doc(2, "",
                  "{\"dataPoints\": [{\"dataSource\": \"/a\", \"name\": \"p1\"}, "
                  "{\"dataSource\": \"/b\", \"name\": \"p2\"}], \"name\": \"a\"},"
                  "{\"name\": \"b\", \"dataPoints\": [{\"name\": \"q\", \"dataSource\": \"/q\"}]}",
                  NULL);
    rt_model_asset_set(ep, a2);
    assert_string_equal(g_log, "");

    /* One data point's source: only its dataset. */
    log_reset();
    json_t *a3 =
        asset_doc(3, "",
                  "{\"name\": \"a\", \"dataPoints\": [{\"name\": \"p1\", \"dataSource\": "
                  "\"/a\"}, {\"name\": \"p2\", \"dataSource\": \"/c\"}]},"
                  "{\"name\": \"b\", \"dataPoints\": [{\"name\": \"q\", \"dataSource\": \"/q\"}]}",
                  NULL);
    rt_model_asset_set(ep, a3);
    assert_string_equal(g_log, "~ds a user=kept;");
    assert_string_equal(find_ds(as, "a")->pub.points[1].data_source, "/c");

    /* The subject (externalAssetId) is an input of every dataset. */
    log_reset();
    json_t *a4 =
        asset_doc(4, "",
                  "{\"name\": \"a\", \"dataPoints\": [{\"name\": \"p1\", \"dataSource\": "
                  "\"/a\"}, {\"name\": \"p2\", \"dataSource\": \"/c\"}]},"
                  "{\"name\": \"b\", \"dataPoints\": [{\"name\": \"q\", \"dataSource\": \"/q\"}]}",
                  "\"externalAssetId\": \"ext-oven\"");
    rt_model_asset_set(ep, a4);
    assert_string_equal(g_log, "~ds a user=kept;~ds b user=kept;");
    assert_string_equal(find_ds(as, "b")->out.subject, "ext-oven/b");

    log_reset();
    rt_model_endpoint_remove(ep);
    assert_string_equal(g_log, "-ds b;-ds a;-ep ep1;");
    json_decref(dev);
    json_decref(a1);
    json_decref(a2);
    json_decref(a3);
    json_decref(a4);
}

static void test_model_streams_actions(void **state)
{
    json_t *dev = parse(DEVICE);
    rt_endpoint *ep = rt_model_endpoint_add(&g_rt, "ns1", dev, "ep1", NULL);
    log_reset();
    json_t *a1 =
        asset_doc(1, "", "",
                  "\"streams\": [{\"name\": \"s1\"}, {\"name\": \"s2\"}],"
                  " \"managementGroups\": [{\"name\": \"g\", \"defaultTopic\": \"t/g\","
                  " \"defaultTimeoutInSeconds\": 7, \"actions\": ["
                  "{\"name\": \"a\", \"targetUri\": \"/x\"},"
                  "{\"name\": \"b\", \"targetUri\": \"/y\", \"topic\": \"t/b\","
                  " \"timeoutInSeconds\": 3}]},"
                  " {\"name\": \"h\", \"actions\": [{\"name\": \"c\", \"targetUri\": \"/z\"}]}]");
    rt_asset *as = rt_model_asset_set(ep, a1);
    assert_string_equal(g_log, "+st s1;+st s2;+ac g/a t/g 7;+ac g/b t/b 3;");
    rt_action *c = RT_OF(as->pub.actions[2], rt_action, pub);
    assert_false(c->started);
    assert_string_equal(c->error.code, "MissingTopic");
    assert_non_null(strstr(c->error.message, "managementGroups[1].actions[0]"));
    assert_true(RT_OF(as->pub.actions[0], rt_action, pub)->subscribed);

    /* No stream_update: a changed stream is removed and added; the other one untouched.
     * An action whose group default changes is removed (unsubscribed) and added again. */
    log_reset();
    json_t *a2 =
        asset_doc(2, "", "",
                  "\"streams\": [{\"name\": \"s1\", \"typeRef\": \"new\"}, {\"name\": \"s2\"}],"
                  " \"managementGroups\": [{\"name\": \"g\", \"defaultTopic\": \"t/g2\","
                  " \"defaultTimeoutInSeconds\": 7, \"actions\": ["
                  "{\"name\": \"a\", \"targetUri\": \"/x\"},"
                  "{\"name\": \"b\", \"targetUri\": \"/y\", \"topic\": \"t/b\","
                  " \"timeoutInSeconds\": 3}]},"
                  " {\"name\": \"h\", \"actions\": [{\"name\": \"c\", \"targetUri\": \"/z\"}]}]");
    rt_model_asset_set(ep, a2);
    /* b's own fields did not change, but its group did (the canon holds the group). */
    assert_string_equal(g_log, "-st s1;-ac g/a;-ac g/b;+st s1;+ac g/a t/g2 7;+ac g/b t/b 3;");
    json_decref(dev);
    json_decref(a1);
    json_decref(a2);
}

static void test_model_failed_add_retries(void **state)
{
    json_t *dev = parse(DEVICE);
    rt_endpoint *ep = rt_model_endpoint_add(&g_rt, "ns1", dev, "ep1", NULL);
    log_reset();
    g_fail_add = 1;
    json_t *a1 = asset_doc(1, "", "{\"name\": \"flaky\"}, {\"name\": \"fine\"}", NULL);
    rt_asset *as = rt_model_asset_set(ep, a1);
    assert_string_equal(g_log, "!ds flaky;+ds fine;");
    rt_dataset *flaky = find_ds(as, "flaky");
    assert_false(flaky->started);
    assert_true(flaky->out.health.set);
    assert_false(flaky->out.health.available);
    assert_string_equal(flaky->out.health.reason, "StartFailed");
    assert_non_null(ep->retry_timer);
    assert_int_equal(ep->retry_ms, 5000);
    assert_true(atomic_load(&as->status_dirty));
    g_fail_add = 0;
    json_decref(dev);
    json_decref(a1);
}

static void test_model_endpoint_error(void **state)
{
    /* A missing secret: the endpoint is there with its error, and nothing below it starts
     * until a change brings the secret. */
    json_t *dev = parse(DEVICE);
    rt_secrets *sec = fp_calloc(1, sizeof *sec);
    rt_error_set(&sec->error, "SecretNotFound", "trustSettings.trustList: secret \"ca\" not found");
    log_reset();
    rt_endpoint *ep = rt_model_endpoint_add(&g_rt, "ns1", dev, "ep1", sec);
    assert_non_null(ep);
    assert_false(ep->started);
    assert_string_equal(ep->error.code, "SecretNotFound");
    json_t *a1 = asset_doc(1, "", "{\"name\": \"d\"}", NULL);
    rt_model_asset_set(ep, a1);
    assert_string_equal(g_log, "");

    rt_secrets *ok = fp_calloc(1, sizeof *ok);
    ok->trust = fp_strdup("PEM");
    rt_model_endpoint_change(ep, dev, ok);
    assert_true(ep->started);
    assert_false(ep->error.set);
    assert_string_equal(ep->pub.trust_list_pem, "PEM");
    assert_string_equal(g_log, "+ep ep1;+ds d;");

    /* The same input again: nothing. */
    log_reset();
    rt_secrets *again = fp_calloc(1, sizeof *again);
    again->trust = fp_strdup("PEM");
    rt_model_endpoint_change(ep, dev, again);
    assert_string_equal(g_log, "");

    /* A bad additionalConfiguration (no endpoint_update: remove + add, children follow). */
    json_t *bad = json_deep_copy(dev);
    json_object_set_new(
        json_object_get(
            json_object_get(json_object_get(json_object_get(bad, "properties"), "endpoints"),
                            "inbound"),
            "ep1"),
        "additionalConfiguration", json_string("{\"retries\": 99}"));
    rt_model_endpoint_change(ep, bad, NULL);
    assert_string_equal(g_log, "-ds d;-ep ep1;");
    assert_false(ep->started);
    assert_non_null(strstr(ep->error.message, "retries = 99 is out of range [0, 10]"));
    json_decref(bad);
    json_decref(dev);
    json_decref(a1);
}

static void set_address(json_t *dev, const char *address)
{
    json_object_set_new(
        json_object_get(
            json_object_get(json_object_get(json_object_get(dev, "properties"), "endpoints"),
                            "inbound"),
            "ep1"),
        "address", json_string(address));
}

static void test_model_endpoint_update(void **state)
{
    g_conn.endpoint_update = t_ep_update;
    json_t *dev = parse(DEVICE);
    rt_endpoint *ep = rt_model_endpoint_add(&g_rt, "ns1", dev, "ep1", NULL);
    ep->pub.user = &g_rt;
    json_t *a1 = asset_doc(1, "", "{\"name\": \"d\"}", NULL);
    rt_asset *as = rt_model_asset_set(ep, a1);
    rt_dataset *d = find_ds(as, "d");

    /* The endpoint is updated in place; its children (same inputs) are untouched. */
    log_reset();
    json_t *dev2 = json_deep_copy(dev);
    set_address(dev2, "http://127.0.0.1:2");
    rt_model_endpoint_change(ep, dev2, NULL);
    assert_string_equal(g_log, "~ep ep1 http://127.0.0.1:1->http://127.0.0.1:2 user=kept;");
    assert_string_equal(ep->pub.address, "http://127.0.0.1:2");
    assert_ptr_equal(as->pub.endpoint, &ep->pub);
    assert_ptr_equal(find_ds(as, "d"), d);
    assert_true(d->started);

    /* A failed update: the children go, then the endpoint (so the connector lets go of its
     * state once), and it is added again from nothing after the back-off. */
    log_reset();
    g_fail_update = 1;
    json_t *dev3 = json_deep_copy(dev);
    set_address(dev3, "http://127.0.0.1:3");
    rt_model_endpoint_change(ep, dev3, NULL);
    assert_string_equal(g_log,
                        "~ep ep1 http://127.0.0.1:2->http://127.0.0.1:3 user=kept;-ds d;-ep ep1;");
    assert_null(ep->pub.user);
    assert_false(ep->started);
    assert_false(ep->health.available);
    assert_non_null(ep->retry_timer);
    g_fail_update = 0;
    g_conn.endpoint_update = NULL;
    json_decref(dev);
    json_decref(dev2);
    json_decref(dev3);
    json_decref(a1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_chain),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_config_parse),
        cmocka_unit_test(test_destinations),
        cmocka_unit_test(test_schema_name),
        cmocka_unit_test_setup_teardown(test_model_asset_diff, model_setup, model_teardown),
        cmocka_unit_test_setup_teardown(test_model_diff_inputs, model_setup, model_teardown),
        cmocka_unit_test_setup_teardown(test_model_streams_actions, model_setup, model_teardown),
        cmocka_unit_test_setup_teardown(test_model_failed_add_retries, model_setup, model_teardown),
        cmocka_unit_test_setup_teardown(test_model_endpoint_error, model_setup, model_teardown),
        cmocka_unit_test_setup_teardown(test_model_endpoint_update, model_setup, model_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
