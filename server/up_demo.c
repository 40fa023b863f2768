/*
 * up_demo.c - `fieldplane up --demo`: the simulated device and its two assets.
 *
 * The simulator (`fieldplane simulate`) runs as one more child of up; this file picks its
 * port (the last run's while it is free, so the registered device keeps its address) and
 * registers namespace demo, device demo-sim and the assets oven (HTTP) and line (SSE)
 * through the REST API with the CLI's own HTTP client, like any other client of the API.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <arpa/inet.h>
#include <libgen.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fp_buf.h"
#include "fp_log.h"
#include "fp_model.h"
#include "client.h"
#include "up.h"

/* PUT (create-only) or PATCH one demo resource through the CLI's client; takes body.
 * Returns the HTTP status (412 on a create means it is there), -1 when unreachable. */
static long demo_request(fp_client *c, const char *method, const char *path, json_t *body)
{
    fp_resp r;
    bool put = strcmp(method, "PUT") == 0;

    memset(&r, 0, sizeof r);
    fp_client_send(c, method, path, body, NULL, put ? "*" : NULL, &r);
    json_decref(body);
    long http = r.status;
    if (http == 0) {
        fprintf(stderr, "fieldplane up: demo: %s %s%s: %s\n", method, fp_client_url(c), path,
                r.transport_error);
        http = -1;
    } else if ((http < 200 || http >= 300) && http != 412) {
        fprintf(stderr, "fieldplane up: demo: %s %s%s: %ld %s\n", method, fp_client_url(c), path,
                http, r.raw.data ? r.raw.data : "");
    }
    fp_resp_clear(&r);
    return http;
}

static json_t *mqtt_destination(const char *topic)
{
    return json_pack("[{s:s,s:{s:s,s:s}}]", "target", "Mqtt", "configuration", "topic", topic,
                     "qos", "Qos1");
}

/* Register namespace demo, device demo-sim and the assets oven and line. Resources that
 * exist are left as they are, except the device's addresses when the simulator had to
 * move to another port (moved). Returns 0 when everything is in place. */
int up_demo_setup(const char *registry_url, const char *admin_token, int sim_port, bool moved)
{
    char addr[64];
    fp_client_config cfg;
    json_t *endpoints;
    long http;
    int rc = -1;

    snprintf(cfg.url, sizeof cfg.url, "%s", registry_url);
    snprintf(cfg.token, sizeof cfg.token, "%s", admin_token);
    fp_client *client = fp_client_new(&cfg);
    if (!client)
        return -1;
    snprintf(addr, sizeof addr, "http://127.0.0.1:%d", sim_port);

    http = demo_request(
        client, "PUT", "/api/v1/namespaces/demo",
        json_pack("{s:s,s:{s:s}}", "location", "demo", "tags", "purpose", "fieldplane up --demo"));
    if (http != 412 && (http < 200 || http >= 300))
        goto out;
    endpoints = json_pack("{s:{s:s,s:s,s:{s:s}},s:{s:s,s:s,s:{s:s}}}", "rest", "endpointType",
                          FP_ENDPOINT_HTTP, "address", addr, "authentication", "method",
                          "Anonymous", "events", "endpointType", FP_ENDPOINT_SSE, "address", addr,
                          "authentication", "method", "Anonymous");
    http = demo_request(client, "PUT", "/api/v1/namespaces/demo/devices/demo-sim",
                        json_pack("{s:{s:b,s:s,s:s,s:{s:O}}}", "properties", "enabled", 1,
                                  "manufacturer", "Fieldplane", "model", "simulator", "endpoints",
                                  "inbound", endpoints));
    if (http == 412 && moved)
        http =
            demo_request(client, "PATCH", "/api/v1/namespaces/demo/devices/demo-sim",
                         json_pack("{s:{s:{s:{s:{s:s},s:{s:s}}}}}", "properties", "endpoints",
                                   "inbound", "rest", "address", addr, "events", "address", addr));
    json_decref(endpoints);
    if (http != 412 && (http < 200 || http >= 300))
        goto out;

    http = demo_request(
        client, "PUT", "/api/v1/namespaces/demo/assets/oven",
        json_pack("{s:{s:s,s:{s:s,s:s},s:[{s:s,s:s,s:s,s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}],s:o}]}}",
                  "properties", "displayName", "Demo oven (simulated, HTTP)", "deviceRef",
                  "deviceName", "demo-sim", "endpointName", "rest", "datasets", "name", "telemetry",
                  "dataSource", "/api/oven", "datasetConfiguration",
                  "{\"samplingIntervalInMilliseconds\":1000}", "dataPoints", "name", "temperature",
                  "dataSource", "$.temperature", "name", "pressure", "dataSource", "/pressure",
                  "name", "running", "dataSource", "$.status.running", "destinations",
                  mqtt_destination("demo/oven/telemetry")));
    if (http != 412 && (http < 200 || http >= 300))
        goto out;
    http = demo_request(client, "PUT", "/api/v1/namespaces/demo/assets/line",
                        json_pack("{s:{s:s,s:{s:s,s:s},s:[{s:s,s:s,s:[{s:s,s:s},{s:s,s:s}],s:o}]}}",
                                  "properties", "displayName", "Demo line (simulated, SSE)",
                                  "deviceRef", "deviceName", "demo-sim", "endpointName", "events",
                                  "eventGroups", "name", "alarms", "dataSource", "/events",
                                  "events", "name", "alarm", "dataSource", "alarm", "name", "cycle",
                                  "dataSource", "cycle", "defaultDestinations",
                                  mqtt_destination("demo/line/events")));
    if (http != 412 && (http < 200 || http >= 300))
        goto out;
    rc = 0;
out:
    fp_client_free(client);
    return rc;
}

/* The simulator's port: the one of the last run (DATA/simulator.port) while it is free, so
 * the registered device keeps its address; else a new one (*moved). */
int up_demo_port(const char *data, bool *moved)
{
    char path[1200], line[32];
    int port = 0;

    *moved = false;
    snprintf(path, sizeof path, "%s/simulator.port", data);
    if (up_read_line_file(path, line, sizeof line))
        port = atoi(line);
    if (port > 0 && port < 65536 && !up_port_in_use("127.0.0.1", port))
        return port;
    *moved = port > 0;
    port = up_free_port("127.0.0.1");
    if (port > 0) {
        FILE *f = fopen(path, "w");
        if (f) {
            fprintf(f, "%d\n", port);
            fclose(f);
        }
    }
    return port;
}
