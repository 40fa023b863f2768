/*
 * bench_doc.c - the documents the registry benchmark writes.
 *
 * The asset is shaped like a real one from a bottling line: ARM envelope with
 * tags, a deviceRef to a PLC's OPC UA endpoint, one dataset of ten data points
 * whose dataSource are OPC UA node ids, per-point sampling settings and an MQTT
 * destination. About 2 KB as sent; the registry adds its own fields on top.
 * The raw SQLite peer stores the same text so both sides move the same bytes.
 *
 * Documents are stamped from a template: the numbers that vary (asset index,
 * line, device) have fixed widths, so a document is one copy plus a few digit
 * patches. Formatting each one with printf would cost the client more CPU than
 * the SQLite peer spends on a commit, and the client must stay out of the way.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Markers in the template source: where the asset index (6 digits), the line
 * (2 digits) and the device index (3 digits) go. */
#define M_ASSET "\x01"
#define M_LINE "\x02"
#define M_DEV "\x03"

/* clang-format off */
#define POINT(n)                                                                           \
    "{\"name\":\"" n "\",\"dataSource\":\"ns=3;s=Line" M_LINE ".asset-" M_ASSET "." n "\"," \
    "\"dataPointConfiguration\":\"{\\\"samplingInterval\\\":100,\\\"queueSize\\\":5}\"}"

static const char k_asset_src[] =
    "{\"tags\":{\"line\":\"line-" M_LINE "\",\"site\":\"plant-3\"},"
    "\"properties\":{\"enabled\":true,\"externalAssetId\":\"FM-" M_ASSET "\","
    "\"displayName\":\"Filling machine " M_ASSET "\","
    "\"description\":\"Bottle filling machine on line " M_LINE "\","
    "\"deviceRef\":{\"deviceName\":\"plc-" M_DEV "\",\"endpointName\":\"plc\"},"
    "\"manufacturer\":\"Example Machines\",\"model\":\"FM-200\","
    "\"serialNumber\":\"FM200-" M_ASSET "\","
    "\"attributes\":{\"hall\":\"B\",\"cell\":\"C-" M_LINE "\"},"
    "\"defaultDatasetsConfiguration\":"
    "\"{\\\"publishingInterval\\\":1000,\\\"samplingInterval\\\":500,\\\"queueSize\\\":1}\","
    "\"datasets\":[{\"name\":\"telemetry\","
    "\"datasetConfiguration\":\"{\\\"keyFrameCount\\\":10}\","
    "\"dataPoints\":["
    POINT("pressure") "," POINT("temperature") "," POINT("flowRate") ","
    POINT("fillLevel") "," POINT("motorSpeed") "," POINT("motorCurrent") ","
    POINT("vibration") "," POINT("bottleCount") "," POINT("rejectCount") ","
    POINT("state") "],"
    "\"destinations\":[{\"target\":\"Mqtt\",\"configuration\":{"
    "\"topic\":\"plant3/line-" M_LINE "/asset-" M_ASSET "/telemetry\","
    "\"qos\":\"Qos1\",\"retain\":\"Never\",\"ttl\":600}}]}]}}";
/* clang-format on */

enum { MAX_SLOTS = 64 };

typedef struct slot {
    size_t offset;
    int width; /* 6: asset, 2: line, 3: device */
} slot;

static char g_tmpl[sizeof k_asset_src * 2];
static size_t g_tmpl_len;
static slot g_slots[MAX_SLOTS];
static int g_n_slots;

/* Expand the markers into zero digits and remember where they are. */
static void build_template(void)
{
    for (const char *p = k_asset_src; *p; p++) {
        int width = *p == 1 ? 6 : *p == 2 ? 2 : *p == 3 ? 3 : 0;
        if (!width) {
            g_tmpl[g_tmpl_len++] = *p;
            continue;
        }
        if (g_n_slots == MAX_SLOTS) {
            fprintf(stderr, "bench: too many fields in the asset template\n");
            exit(1);
        }
        g_slots[g_n_slots++] = (slot){g_tmpl_len, width};
        memset(g_tmpl + g_tmpl_len, '0', (size_t)width);
        g_tmpl_len += (size_t)width;
    }
}

static void put_digits(char *out, int width, long v)
{
    for (int k = width - 1; k >= 0; k--) {
        out[k] = (char)('0' + v % 10);
        v /= 10;
    }
}

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
    long device = n_devices > 0 ? i % n_devices : 0, line = i % 40;
    size_t at = b->len;

    if (!g_tmpl_len)
        build_template();
    if (fp_buf_append(b, g_tmpl, g_tmpl_len))
        return;
    for (int k = 0; k < g_n_slots; k++) {
        int w = g_slots[k].width;
        put_digits(b->data + at + g_slots[k].offset, w, w == 6 ? i : w == 2 ? line : device);
    }
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
