/*
 * bench_doc.c - the documents the registry benchmark writes.
 *
 * The asset is shaped like a real one from a bottling line: ARM envelope with
 * tags, a deviceRef to a PLC's OPC UA endpoint, one dataset of ten data points
 * whose dataSource are OPC UA node ids, per-point sampling settings and an MQTT
 * destination. About 2 KB as sent; the registry adds its own fields on top.
 * The raw SQLite peer stores the same text so both sides move the same bytes.
 */
#include "bench.h"

#include <stdio.h>

static const char *const k_points[10] = {
    "pressure",     "temperature", "flowRate",    "fillLevel",   "motorSpeed",
    "motorCurrent", "vibration",   "bottleCount", "rejectCount", "state",
};

void bench_asset_name(char *out, size_t out_len, long i)
{
    snprintf(out, out_len, "asset-%06ld", i);
}

void bench_device_name(char *out, size_t out_len, long i)
{
    snprintf(out, out_len, "plc-%03ld", i);
}

void bench_asset_doc(fp_buf *b, long i, long n_devices)
{
    char name[32], device[32];
    long line = i % 40;

    bench_asset_name(name, sizeof name, i);
    bench_device_name(device, sizeof device, n_devices > 0 ? i % n_devices : 0);
    fp_buf_printf(b,
                  "{\"tags\":{\"line\":\"line-%02ld\",\"site\":\"plant-3\"},"
                  "\"properties\":{\"enabled\":true,\"externalAssetId\":\"FM-%06ld\","
                  "\"displayName\":\"Filling machine %ld\","
                  "\"description\":\"Bottle filling machine on line %02ld\","
                  "\"deviceRef\":{\"deviceName\":\"%s\",\"endpointName\":\"plc\"},"
                  "\"manufacturer\":\"Example Machines\",\"model\":\"FM-200\","
                  "\"serialNumber\":\"FM200-%06ld\",\"attributes\":{\"hall\":\"B\",\"cell\":"
                  "\"C-%02ld\"},\"defaultDatasetsConfiguration\":\"{\\\"publishingInterval\\\":"
                  "1000,\\\"samplingInterval\\\":500,\\\"queueSize\\\":1}\","
                  "\"datasets\":[{\"name\":\"telemetry\",\"datasetConfiguration\":"
                  "\"{\\\"keyFrameCount\\\":10}\",\"dataPoints\":[",
                  line, i, i, line, device, i, line);
    for (int k = 0; k < 10; k++)
        fp_buf_printf(b,
                      "%s{\"name\":\"%s\",\"dataSource\":\"ns=3;s=Line%02ld.%s.%s\","
                      "\"dataPointConfiguration\":\"{\\\"samplingInterval\\\":100,"
                      "\\\"queueSize\\\":5}\"}",
                      k ? "," : "", k_points[k], line, name, k_points[k]);
    fp_buf_printf(b,
                  "],\"destinations\":[{\"target\":\"Mqtt\",\"configuration\":{\"topic\":"
                  "\"plant3/line-%02ld/%s/telemetry\",\"qos\":\"Qos1\",\"retain\":\"Never\","
                  "\"ttl\":600}}]}]}}",
                  line, name);
}

void bench_device_doc(fp_buf *b, long i)
{
    char device[32];

    bench_device_name(device, sizeof device, i);
    fp_buf_printf(b,
                  "{\"tags\":{\"hall\":\"B\"},\"properties\":{\"enabled\":true,"
                  "\"externalDeviceId\":\"PLC-%03ld\",\"manufacturer\":\"Example Automation\","
                  "\"model\":\"PLC-1500\",\"endpoints\":{\"inbound\":{\"plc\":{\"endpointType\":"
                  "\"Microsoft.OpcUa\",\"address\":\"opc.tcp://%s.plant3.local:4840\","
                  "\"authentication\":{\"method\":\"Anonymous\"}}}}}}",
                  i, device);
}
