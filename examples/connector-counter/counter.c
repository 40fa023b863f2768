/*
 * counter.c - a complete custom connector, the example of docs/connector-sdk.md.
 *
 * It serves device endpoints of the custom type "Example.Counter". The "device" is
 * simulated inside the connector: the runtime samples each dataset every
 * intervalMilliseconds (the table's sampling_key) by calling counter_sample(), which fills
 * the message with the payload builder (names escaped, values typed), and the runtime
 * publishes it. Data points are chosen by their dataSource:
 *
 *   counter   a number that grows by `step` on every tick (1..n, per dataset)
 *   time      milliseconds since the Unix epoch
 *   boot      an id of this process start (tells restarts apart)
 *
 * A management action "reset" (actionType Call) sets a dataset's counter back to zero; its
 * targetUri names the dataset. An endpoint whose additionalConfiguration sets
 * "discoverAssets": n reports n discovered assets (what a real connector finds by browsing
 * its device), which operators can onboard into real assets. Everything else - finding the assets,
 * configuration with defaults, MQTT, the disk queue, status, health, schemas, metrics - is the
 * runtime's.
 *
 * Build: it links libfieldplane-connector only (see CMakeLists.txt beside it).
 * Run:   fieldplane-connector-counter --registry URL --token-file F --broker mqtt://H:P
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fieldplane/connector.h>
#include <fieldplane/fp_time.h>

/* Configuration structs filled by the runtime from the rows below. */
typedef struct counter_ds_cfg {
    int64_t interval_ms;
    int64_t step;
} counter_ds_cfg;

typedef struct counter_ep_cfg {
    int64_t discover_assets;
} counter_ep_cfg;

typedef struct counter_ds {
    int64_t count;
} counter_ds;

static const fp_config_key counter_config[] = {
    {FP_CFG_ENDPOINT, FP_CFG_INT, "discoverAssets", "0", offsetof(counter_ep_cfg, discover_assets),
     0, 100, "How many counter assets the simulated device reports as discovered."},
    {FP_CFG_DATASET, FP_CFG_INT, "intervalMilliseconds", "1000",
     offsetof(counter_ds_cfg, interval_ms), 10, 3600000,
     "How often the dataset is sampled and published."},
    {FP_CFG_DATASET, FP_CFG_INT, "step", "1", offsetof(counter_ds_cfg, step), 1, 1000000,
     "How much the counter grows per tick."},
    {0},
};

static char boot_id[32];

/* One sample (the runtime calls it on the asset's strand every intervalMilliseconds): one
 * member per data point; returning 0 has the runtime publish p. */
static int counter_sample(fp_dataset *ds, fp_payload *p)
{
    counter_ds *st = ds->user;
    const counter_ds_cfg *cfg = ds->config;
    int64_t now_ms = fp_time_now_ms();

    st->count += cfg->step;
    for (size_t i = 0; i < ds->n_points; i++) {
        const fp_datapoint *dp = &ds->points[i];

        if (strcmp(dp->data_source, "counter") == 0)
            fp_payload_add_int(p, dp->name, st->count);
        else if (strcmp(dp->data_source, "time") == 0)
            fp_payload_add_int(p, dp->name, now_ms);
        else if (strcmp(dp->data_source, "boot") == 0)
            fp_payload_add_string(p, dp->name, boot_id, (size_t)-1);
        /* else: reported by dataset_add */
    }
    if (!fp_payload_text(p, NULL)) {
        fp_dataset_health(ds, false, "TooLarge", "the message does not fit the payload builder");
        return -1;
    }
    fp_dataset_health(ds, true, "Publishing", "sampling every %" PRId64 " ms", cfg->interval_ms);
    return 0;
}

static int counter_dataset_add(fp_dataset *ds)
{
    counter_ds *st = calloc(1, sizeof *st);

    if (!st)
        return -1;
    for (size_t i = 0; i < ds->n_points; i++) {
        fp_datapoint *dp = &ds->points[i];
        if (strcmp(dp->data_source, "counter") && strcmp(dp->data_source, "time") &&
            strcmp(dp->data_source, "boot"))
            fp_datapoint_error(dp, "UnknownSource",
                               "dataSource '%s' is not one of counter, time, boot",
                               dp->data_source);
    }
    ds->user = st;
    return 0;
}

/* The dataset changed (points, interval): the count is kept (ds->user carries it over), and
 * the runtime samples the new definition at its interval. Nothing else to do. */
static int counter_dataset_update(fp_dataset *ds, const fp_dataset *old)
{
    (void)ds, (void)old;
    return 0;
}

static void counter_dataset_remove(fp_dataset *ds)
{
    counter_ds *st = ds->user;

    if (!st)
        return;
    free(st);
    ds->user = NULL;
}

/* "reset": targetUri names a dataset of the same asset; answers the count it had. */
static void counter_action_call(fp_action *ac, fp_action_req *req)
{
    fp_asset *as = ac->asset;

    for (size_t i = 0; i < as->n_datasets; i++) {
        fp_dataset *ds = as->datasets[i];
        counter_ds *st = ds->user;
        char reply[128];

        if (strcmp(ds->name, ac->target_uri) != 0 || !st)
            continue;
        int n = snprintf(reply, sizeof reply, "{\"previous\":%" PRId64 "}", st->count);
        st->count = 0;
        fp_action_reply(req, reply, (size_t)n);
        return;
    }
    fp_action_fail(req, 404, "NotFound", "no running dataset '%s' in asset %s", ac->target_uri,
                   as->name);
}

/* Report the endpoint's "discovered" assets: one dataset with a counter each. The names are
 * stable, so a restart reports the same assets again and the registry keeps one of each. */
static void counter_discover(fp_endpoint *ep)
{
    const counter_ep_cfg *cfg = ep->config;

    for (int64_t i = 1; i <= cfg->discover_assets; i++) {
        char name[128];
        snprintf(name, sizeof name, "%s-counter-%" PRId64, ep->device, i);
        for (char *p = name; *p; p++)
            *p = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
        json_t *props = json_pack(
            "{s:{s:s,s:s},s:s,s:[{s:s,s:s,s:[{s:s,s:s},{s:s,s:s}]}]}", "deviceRef", "deviceName",
            ep->device, "endpointName", ep->name, "displayName", name, "datasets", "name", "ticks",
            "datasetConfiguration", "{\"intervalMilliseconds\":1000}", "dataPoints", "name", "n",
            "dataSource", "counter", "name", "b", "dataSource", "boot");
        if (props)
            fp_discovered_asset_report(fp_rt_get(), ep->ns, name, props);
        json_decref(props);
    }
}

static int counter_endpoint_add(fp_endpoint *ep)
{
    fp_endpoint_health(ep, true, "Simulated", "counter device simulated in the connector");
    counter_discover(ep);
    return 0;
}

static const char *const counter_types[] = {"Example.Counter", NULL};

static const fp_connector counter_connector = {
    .abi = FP_CONNECTOR_ABI,
    .name = "counter",
    .description = "Example connector: simulated counters, one message per dataset tick",
    .endpoint_types = counter_types,
    .config = counter_config,
    .config_size =
        {[FP_CFG_ENDPOINT] = sizeof(counter_ep_cfg), [FP_CFG_DATASET] = sizeof(counter_ds_cfg)},
    .endpoint_add = counter_endpoint_add,
    .dataset_add = counter_dataset_add,
    .dataset_update = counter_dataset_update,
    .dataset_remove = counter_dataset_remove,
    .action_call = counter_action_call,
    .sampling_key = "intervalMilliseconds",
    .dataset_sample = counter_sample,
};

int main(int argc, char **argv)
{
    snprintf(boot_id, sizeof boot_id, "%llx-%x", (long long)(fp_time_now_ms() / 1000),
             (unsigned)getpid());
    return fp_connector_main(&counter_connector, argc, argv);
}
