/*
 * fuzz_opcua_decode.c - libFuzzer harness for the binary decoder of every OPC UA type.
 *
 * The first two bytes (little-endian, modulo UA_TYPE_COUNT) choose the type from ua_types[],
 * so one harness covers every service request/response, notification and built-in type;
 * the rest is decoded with tight limits. A value that decodes must encode, decode again to
 * the same bytes (encoding is canonical after one round), copy, print and clear without
 * leaks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "opcua/ua_types.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    const ua_type *t = &ua_types[(data[0] | data[1] << 8) % UA_TYPE_COUNT];
    ua_decode_limits lim = {1 << 16, 1 << 16, 32, 64 << 20};
    void *v = ua_new(t);
    void *w = ua_new(t);
    void *c = ua_new(t);
    if (v == NULL || w == NULL || c == NULL)
        abort();
    /* the same bytes as a whole service message body (encoding NodeId first) */
    const ua_type *mt;
    void *msg;
    if (ua_decode_message(data + 2, size - 2, &mt, &msg, &lim) == UA_STATUS_GOOD)
        ua_delete(msg, mt);
    if (ua_decode_buf(data + 2, size - 2, v, t, &lim) != UA_STATUS_GOOD)
        goto out;
    ua_bytestring a = {0, NULL}, b = {0, NULL};
    if (ua_encode_alloc(v, t, &a) != UA_STATUS_GOOD)
        abort();
    if (ua_encoded_size(v, t) != a.length)
        abort();
    /* re-decoding may need more depth: the encoder adds no nesting, so the same limits do */
    if (ua_decode_buf(a.data, a.length, w, t, &lim) != UA_STATUS_GOOD)
        abort();
    if (ua_encode_alloc(w, t, &b) != UA_STATUS_GOOD)
        abort();
    if (a.length != b.length || memcmp(a.data, b.data, a.length) != 0)
        abort();
    if (ua_copy(v, c, t) != UA_STATUS_GOOD)
        abort();
    char text[256];
    size_t len = ua_print(c, t, text, sizeof text);
    if (len < sizeof text && strlen(text) > len)
        abort();
    ua_clear(&a, UA_TYPE(BYTESTRING));
    ua_clear(&b, UA_TYPE(BYTESTRING));
out:
    ua_delete(v, t);
    ua_delete(w, t);
    ua_delete(c, t);
    return 0;
}
