/*
 * decode_bench.c - throughput of the OPC UA decoder for DataChangeNotifications.
 *
 * Builds a PublishResponse whose NotificationMessage carries one DataChangeNotification
 * of N monitored item values (each a DataValue with a Variant, a status and a source
 * timestamp, as servers send them), encodes it once, then decodes and clears it over and
 * over for about two seconds per case on one thread and prints values per second.
 *
 * Usage: opcua_decode_bench [items per notification (default 1000)] [seconds (default 2)]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fp_time.h"
#include "opcua/ua_types.h"

/* Encode a PublishResponse with n values of the given kind into *out. */
static void build(size_t n, int kind, ua_bytestring *out)
{
    ua_monitored_item_notification *items = calloc(n, sizeof *items);
    if (items == NULL)
        exit(1);
    for (size_t i = 0; i < n; i++) {
        ua_data_value *dv = &items[i].value;
        items[i].client_handle = (uint32_t)i;
        if (kind == 0) {
            double d = (double)i * 0.25;
            ua_variant_set_scalar_copy(&dv->value, &d, UA_TYPE(DOUBLE));
        } else if (kind == 1) {
            int32_t v = (int32_t)i;
            ua_variant_set_scalar_copy(&dv->value, &v, UA_TYPE(INT32));
        } else {
            char buf[32];
            snprintf(buf, sizeof buf, "value-%zu", i);
            ua_string s = ua_string_view(buf);
            ua_variant_set_scalar_copy(&dv->value, &s, UA_TYPE(STRING));
        }
        dv->has = UA_DV_VALUE | UA_DV_SOURCE_TIMESTAMP | (i % 7 == 0 ? UA_DV_STATUS : 0);
        dv->status = 0x40000000u;
        dv->source_timestamp = UA_DATETIME_UNIX_EPOCH + (int64_t)i * 10000;
    }
    ua_data_change_notification dcn;
    ua_data_change_notification_init(&dcn);
    dcn.monitored_items = items;
    dcn.monitored_items_count = n;
    ua_extension_object eo;
    memset(&eo, 0, sizeof eo);
    eo.encoding = UA_EO_DECODED;
    eo.type = UA_TYPE(DATA_CHANGE_NOTIFICATION);
    eo.data = &dcn;
    ua_publish_response pr;
    ua_publish_response_init(&pr);
    pr.subscription_id = 1;
    pr.notification_message.sequence_number = 1;
    pr.notification_message.notification_data = &eo;
    pr.notification_message.notification_data_count = 1;
    if (ua_encode_alloc(&pr, UA_TYPE(PUBLISH_RESPONSE), out) != UA_STATUS_GOOD)
        exit(1);
    for (size_t i = 0; i < n; i++)
        ua_data_value_clear(&items[i].value);
    free(items);
}

static void run(const char *label, size_t n, int kind, double seconds)
{
    ua_bytestring msg;
    build(n, kind, &msg);
    ua_publish_response pr;
    size_t rounds = 0;
    double t0 = fp_mono_s(), t;
    do {
        for (int k = 0; k < 16; k++) {
            if (ua_decode_buf(msg.data, msg.length, &pr, UA_TYPE(PUBLISH_RESPONSE), NULL) !=
                UA_STATUS_GOOD) {
                fprintf(stderr, "decode failed\n");
                exit(1);
            }
            ua_publish_response_clear(&pr);
        }
        rounds += 16;
        t = fp_mono_s();
    } while (t - t0 < seconds);
    double values = (double)rounds * (double)n / (t - t0);
    printf("%-8s %6zu values/notification %8zu bytes  %6.2f M values/s  %6.1f MB/s\n", label, n,
           msg.length, values / 1e6, (double)rounds * (double)msg.length / (t - t0) / 1e6);
    ua_clear(&msg, UA_TYPE(BYTESTRING));
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 1000;
    double seconds = argc > 2 ? strtod(argv[2], NULL) : 2.0;
    if (n == 0)
        n = 1000;
    run("Double", n, 0, seconds);
    run("Int32", n, 1, seconds);
    run("String", n, 2, seconds);
    return 0;
}
