/*
 * opcua.c - the OPC UA connector's table: configuration rows, callbacks, main().
 *
 * The rows below are the keys of Azure IoT Operations' OPC UA connector (endpoint
 * additionalConfiguration, dataset, data point and event configuration) with its defaults,
 * so that its assets work here unchanged; the runtime fills the opc_*_cfg structs of
 * opc_internal.h from them and generates --help-config. The work is in opc_ep.c (sessions),
 * opc_data.c (datasets), opc_events.c / opc_actions.c (events, actions), opc_discovery.c and
 * opc_trust.c (`fieldplane-connector-opcua trust ...`).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#include <fieldplane/fp_log.h>
#include "opc_internal.h"
#include "opcua/ua_crypto.h"
#include "opcua/ua_pki.h"

#define LOG_MOD "opcua"
#define DAY_MS 86400000

const char *const opc_security_modes[] = {"none", "sign", "signAndEncrypt", NULL};

static const fp_config_key k_config[] = {
    /* endpoint: additionalConfiguration */
    {FP_CFG_ENDPOINT, FP_CFG_STRING, "applicationName", "Fieldplane OPC UA connector",
     offsetof(opc_ep_cfg, application_name), 0, 0,
     "Application name sent to the server in CreateSession"},
    {FP_CFG_ENDPOINT, FP_CFG_INT, "keepAliveMilliseconds", "10000",
     offsetof(opc_ep_cfg, keep_alive_ms), 100, DAY_MS,
     "Subscription keep-alive: the server sends at least this often when nothing changes"},
    {FP_CFG_ENDPOINT, FP_CFG_INT, "defaults.publishingIntervalMilliseconds", "1000",
     offsetof(opc_ep_cfg, def_publishing_ms), 0, DAY_MS,
     "Publishing interval of datasets and events that set none"},
    {FP_CFG_ENDPOINT, FP_CFG_INT, "defaults.samplingIntervalMilliseconds", "1000",
     offsetof(opc_ep_cfg, def_sampling_ms), 0, DAY_MS,
     "Sampling interval of data points that set none (0: as fast as practical)"},
    {FP_CFG_ENDPOINT, FP_CFG_INT, "defaults.queueSize", "1", offsetof(opc_ep_cfg, def_queue_size),
     0, 100000, "Server-side queue size of monitored items that set none"},
    {FP_CFG_ENDPOINT, FP_CFG_INT, "defaults.keyFrameCount", "0",
     offsetof(opc_ep_cfg, def_key_frame_count), 0, 1000000,
     "A full dataset message every n messages for datasets that set none (0: off)"},
    {FP_CFG_ENDPOINT, FP_CFG_INT, "session.timeoutMilliseconds", "60000",
     offsetof(opc_ep_cfg, session_timeout_ms), 1000, DAY_MS, "Session timeout asked of the server"},
    {FP_CFG_ENDPOINT, FP_CFG_INT, "session.keepAliveIntervalMilliseconds", "10000",
     offsetof(opc_ep_cfg, session_keepalive_ms), 100, DAY_MS,
     "How often an idle session (no subscription) is kept alive with a read"},
    {FP_CFG_ENDPOINT, FP_CFG_INT, "session.reconnectPeriodMilliseconds", "2000",
     offsetof(opc_ep_cfg, reconnect_period_ms), 10, DAY_MS,
     "First wait before retrying a failed connection"},
    {FP_CFG_ENDPOINT, FP_CFG_INT, "session.reconnectExponentialBackOffMilliseconds", "10000",
     offsetof(opc_ep_cfg, reconnect_backoff_ms), 10, DAY_MS,
     "Longest wait between connection attempts (the wait doubles up to it)"},
    {FP_CFG_ENDPOINT, FP_CFG_INT, "subscription.maxItems", "1000",
     offsetof(opc_ep_cfg, sub_max_items), 1, 1000000, "Most monitored items in one subscription"},
    {FP_CFG_ENDPOINT, FP_CFG_INT, "subscription.lifeTimeMilliseconds", "60000",
     offsetof(opc_ep_cfg, sub_lifetime_ms), 1000, DAY_MS,
     "Subscription lifetime: the server deletes it after this long without a Publish"},
    {FP_CFG_ENDPOINT, FP_CFG_BOOL, "security.autoAcceptUntrustedServerCertificates", "false",
     offsetof(opc_ep_cfg, auto_accept), 0, 0,
     "Trust an unknown server certificate (and store it in the trust list)"},
    {FP_CFG_ENDPOINT, FP_CFG_STRING, "security.securityPolicy", NULL,
     offsetof(opc_ep_cfg, security_policy), 0, 0,
     "Security policy: its URI or the name after '#', in any case (unset: None)", ua_policy_uris},
    {FP_CFG_ENDPOINT, FP_CFG_STRING, "security.securityMode", NULL,
     offsetof(opc_ep_cfg, security_mode), 0, 0,
     "Message security mode (unset: signAndEncrypt with a policy, else none)", opc_security_modes},
    {FP_CFG_ENDPOINT, FP_CFG_BOOL, "runAssetDiscovery", "false",
     offsetof(opc_ep_cfg, run_asset_discovery), 0, 0,
     "Browse the server and report discovered assets"},
    {FP_CFG_ENDPOINT, FP_CFG_STRING, "discovery.startNode", "i=85",
     offsetof(opc_ep_cfg, discovery_start_node), 0, 0, "Where asset discovery starts browsing"},
    {FP_CFG_ENDPOINT, FP_CFG_INT, "discovery.maxDepth", "4",
     offsetof(opc_ep_cfg, discovery_max_depth), 1, 64, "How deep asset discovery browses"},
    {FP_CFG_ENDPOINT, FP_CFG_INT, "discovery.maxNodes", "2000",
     offsetof(opc_ep_cfg, discovery_max_nodes), 1, 1000000, "Most nodes one discovery browses"},
    {FP_CFG_ENDPOINT, FP_CFG_INT, "discovery.intervalMilliseconds", "300000",
     offsetof(opc_ep_cfg, discovery_interval_ms), 1000, DAY_MS,
     "How often asset discovery runs again"},
    {FP_CFG_ENDPOINT, FP_CFG_STRING, "discovery.discoveryUrl", NULL,
     offsetof(opc_ep_cfg, discovery_url), 0, 0,
     "A discovery server or server URL to list servers and endpoints from"},

    /* dataset: datasetConfiguration (then the asset's defaultDatasetsConfiguration) */
    {FP_CFG_DATASET, FP_CFG_INT, "publishingInterval", "-1", offsetof(opc_ds_cfg, publishing_ms),
     -1, DAY_MS, "Publishing interval of the dataset's subscription, ms (-1: endpoint default)"},
    {FP_CFG_DATASET, FP_CFG_INT, "samplingInterval", "-1", offsetof(opc_ds_cfg, sampling_ms), -1,
     DAY_MS, "Sampling interval of its data points, ms (-1: endpoint default)"},
    {FP_CFG_DATASET, FP_CFG_INT, "queueSize", "-1", offsetof(opc_ds_cfg, queue_size), -1, 100000,
     "Queue size of its data points (-1: endpoint default)"},
    {FP_CFG_DATASET, FP_CFG_INT, "keyFrameCount", "-1", offsetof(opc_ds_cfg, key_frame_count), -1,
     1000000, "A full message every n messages (-1: endpoint default, 0: off)"},

    /* data point: dataPointConfiguration (then the dataset's, then the asset's) */
    {FP_CFG_DATAPOINT, FP_CFG_INT, "samplingInterval", "-1", offsetof(opc_dp_cfg, sampling_ms), -1,
     DAY_MS, "Sampling interval, ms (-1: the dataset's, else the endpoint default)"},
    {FP_CFG_DATAPOINT, FP_CFG_INT, "queueSize", "-1", offsetof(opc_dp_cfg, queue_size), -1, 100000,
     "Queue size (-1: the dataset's, else the endpoint default)"},

    /* event group and event: eventGroupConfiguration / eventConfiguration */
    {FP_CFG_EVENT_GROUP, FP_CFG_INT, "publishingInterval", "-1",
     offsetof(opc_ev_cfg, publishing_ms), -1, DAY_MS,
     "Publishing interval of the group's subscription, ms (-1: endpoint default)"},
    {FP_CFG_EVENT_GROUP, FP_CFG_INT, "queueSize", "-1", offsetof(opc_ev_cfg, queue_size), -1,
     100000, "Queue size of the event items (-1: endpoint default)"},
    {FP_CFG_EVENT_GROUP, FP_CFG_JSON, "eventFilter", NULL, offsetof(opc_ev_cfg, event_filter), 0, 0,
     "{typeDefinitionId, selectClauses[{browsePath, typeDefinitionId, fieldId}]}"},
    {FP_CFG_EVENT, FP_CFG_INT, "publishingInterval", "-1", offsetof(opc_ev_cfg, publishing_ms), -1,
     DAY_MS, "Publishing interval, ms (-1: the group's, else the endpoint default)"},
    {FP_CFG_EVENT, FP_CFG_INT, "queueSize", "-1", offsetof(opc_ev_cfg, queue_size), -1, 100000,
     "Queue size of the event item (-1: the group's, else the endpoint default)"},
    {FP_CFG_EVENT, FP_CFG_JSON, "eventFilter", NULL, offsetof(opc_ev_cfg, event_filter), 0, 0,
     "{typeDefinitionId, selectClauses[{browsePath, typeDefinitionId, fieldId}]}"},
    {0},
};

/* Every endpoint shares one application instance certificate in <data>/pki/own; it is made
 * here, before the endpoints (served in parallel) could race to make it. It is made by a child
 * process
 * (`trust own`): generating a key initialises OpenSSL's providers, about 2.4 MB that a
 * connector whose sessions are all without security would otherwise keep for nothing. A
 * session with security loads the certificate when it connects. */
static int opcua_init(fp_rt *rt)
{
    const char *data = fp_rt_data_dir(rt);
    char dir[600], cert[700], key[700], self[PATH_MAX];
    struct stat sb;
    uint32_t st = UA_STATUS_GOOD;

    if (!data)
        return 0;
    snprintf(dir, sizeof dir, "%s/pki", data);
    snprintf(cert, sizeof cert, "%s/own/certs/cert.der", dir);
    snprintf(key, sizeof key, "%s/own/private/key.pem", dir);
    if (stat(cert, &sb) == 0 && stat(key, &sb) == 0)
        return 0; /* checked when a secure session loads it */
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    pid_t pid = -1;
    if (n > 0) {
        self[n] = '\0';
        char *argv[] = {self, "trust", "own", "--pki", dir, NULL};
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        if (posix_spawn(&pid, self, &fa, NULL, argv, environ) != 0)
            pid = -1;
        posix_spawn_file_actions_destroy(&fa);
    }
    if (pid > 0) {
        int ws;
        while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
            ;
        if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
            fp_log_error(LOG_MOD,
                         "application instance certificate in %s/own: not made (see above)", dir);
            return -1;
        }
        return 0;
    }
    /* No child could be started: made here. */
    ua_cert *own_cert;
    ua_key *own_key;
    st = opc_own_certificate(dir, &own_cert, &own_key);
    ua_cert_free(own_cert);
    ua_key_free(own_key);
    if (st) {
        fp_log_error(LOG_MOD, "application instance certificate in %s: %s", dir,
                     ua_status_name(st));
        return -1;
    }
    return 0;
}

static const char *const k_types[] = {"Microsoft.OpcUa", NULL};

static const fp_connector k_opcua = {
    .abi = FP_CONNECTOR_ABI,
    .name = "opcua",
    .description = "OPC UA: datasets as subscriptions, events, method calls, discovery",
    .endpoint_types = k_types,
    .config = k_config,
    .config_size =
        {
            [FP_CFG_ENDPOINT] = sizeof(opc_ep_cfg),
            [FP_CFG_DATASET] = sizeof(opc_ds_cfg),
            [FP_CFG_DATAPOINT] = sizeof(opc_dp_cfg),
            [FP_CFG_EVENT_GROUP] = sizeof(opc_ev_cfg),
            [FP_CFG_EVENT] = sizeof(opc_ev_cfg),
        },
    .init = opcua_init,
    .endpoint_add = opc_endpoint_add,
    .endpoint_update = opc_endpoint_update,
    .endpoint_remove = opc_endpoint_remove,
    .dataset_add = opc_dataset_add,
    .dataset_update = opc_dataset_update,
    .dataset_remove = opc_dataset_remove,
    .event_group_add = opc_event_group_add,
    .event_group_update = opc_event_group_update,
    .event_group_remove = opc_event_group_remove,
    .action_call = opc_action_call,
};

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "trust") == 0)
        return opc_trust_main(argc - 1, argv + 1);
    return fp_connector_main(&k_opcua, argc, argv);
}
