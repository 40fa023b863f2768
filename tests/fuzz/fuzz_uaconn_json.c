/*
 * fuzz_uaconn_json.c - libFuzzer harness for the OPC UA connector's values <-> JSON mapping
 * (connectors/opcua/opc_json.c).
 *
 * Both directions take untrusted input: the writer gets whatever a server sends, the
 * reader whatever an MQTT client sends. The first byte steers: bit 0 decodes the rest as
 * a Variant (0) or a DataValue (1) with the codec's limits (deeper than the writer's own
 * bound, so that bound is hit too), and the writer's output must be valid JSON, or on a
 * depth failure the buffer must be untouched. The same rest is also parsed as JSON and
 * converted to the kind chosen by the first byte's upper bits and to a few fixed kinds; a
 * value that converts must write valid JSON, and converting that JSON again must settle:
 * the second and third trips give the same text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fp_alloc.h"
#include "opc_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Valid JSON or abort. */
static void check_json(const fp_buf *b)
{
    json_t *j = json_loadb(b->data, b->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (j == NULL)
        abort();
    json_decref(j);
}

/* Write v; returns the text (fp_free) or NULL when the writer refused (depth). */
static char *write_variant(const ua_variant *v, size_t *len)
{
    fp_buf b;
    fp_buf_init(&b, 64u << 20);
    int rc = opc_json_variant(&b, v);
    if (rc == FP_ERR_TOO_LARGE && b.err == FP_OK) {
        if (b.len != 0)
            abort(); /* a refused value leaves the buffer as it was */
        fp_buf_clear(&b);
        return NULL;
    }
    if (rc != FP_OK)
        abort();
    check_json(&b);
    return fp_buf_take(&b, len);
}

/* Convert the JSON text z to kind and write it back; NULL when it does not convert. */
static char *trip(const char *z, size_t n, uint8_t kind, size_t *len)
{
    char err[256];
    ua_variant v;
    json_t *j = json_loadb(z, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (j == NULL)
        abort(); /* only called on the writer's output */
    if (opc_json_to_variant(j, kind, true, &v, err, sizeof err) != 0) {
        json_decref(j);
        return NULL;
    }
    json_decref(j);
    char *out = write_variant(&v, len);
    ua_clear(&v, UA_TYPE(VARIANT));
    return out;
}

static void fuzz_reader(const json_t *j, uint8_t kind)
{
    char err[256];
    ua_variant v;
    if (opc_json_to_variant(j, kind, true, &v, err, sizeof err) != 0) {
        if (v.type != NULL || err[0] == '\0')
            abort(); /* a failure is empty and says why */
        return;
    }
    size_t n1, n2, n3;
    char *t1 = write_variant(&v, &n1);
    ua_clear(&v, UA_TYPE(VARIANT));
    if (t1 == NULL)
        abort(); /* what the reader makes is never too deep */
    char *t2 = trip(t1, n1, kind, &n2);
    char *t3 = t2 ? trip(t2, n2, kind, &n3) : NULL;
    /* the writer's output converts back, and the mapping settles after one trip (dates
     * lose their sub-millisecond part, LocalizedText its locale, and so on) */
    if (t2 == NULL || t3 == NULL || n2 != n3 || memcmp(t2, t3, n2) != 0)
        abort();
    fp_free(t1);
    fp_free(t2);
    fp_free(t3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t fixed[] = {UA_KIND_INT64, UA_KIND_DOUBLE, UA_KIND_DATETIME,
                                    UA_KIND_NODEID};
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    data++;
    size--;

    ua_decode_limits lim = {1 << 16, 1 << 16, 64, 64 << 20};
    const ua_type *t = (sel & 1) ? UA_TYPE(DATA_VALUE) : UA_TYPE(VARIANT);
    void *v = ua_new(t);
    if (v == NULL)
        abort();
    if (ua_decode_buf(data, size, v, t, &lim) == UA_STATUS_GOOD) {
        fp_buf b;
        fp_buf_init(&b, 64u << 20);
        int rc = (sel & 1) ? opc_json_data_value(&b, v) : opc_json_variant(&b, v);
        if (rc == FP_OK)
            check_json(&b);
        else if (rc != FP_ERR_TOO_LARGE || b.len != 0)
            abort();
        fp_buf_clear(&b);
    }
    ua_delete(v, t);

    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (j != NULL) {
        fuzz_reader(j, (uint8_t)(sel >> 1) % 32);
        for (size_t i = 0; i < sizeof fixed; i++)
            fuzz_reader(j, fixed[i]);
        json_decref(j);
    }
    return 0;
}
