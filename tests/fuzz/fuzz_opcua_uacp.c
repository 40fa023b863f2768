/*
 * fuzz_opcua_uacp.c - libFuzzer harness for UACP framing: the HEL/ACK/ERR/RHE decoders,
 * the secure chunk headers, and the chunk reassembler fed a stream of chunks.
 *
 * Input: the whole buffer goes to each message decoder; then it is read as records
 * [chunk type][request id][length][length bytes] fed to a reassembler with small limits,
 * checking that a completed message is never larger than the limit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "opcua/ua_uacp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ua_uacp_hello h;
    ua_uacp_ack a;
    ua_uacp_error e;
    ua_uacp_reverse_hello r;
    ua_uacp_secure_header sh;
    size_t used;
    if (ua_uacp_hello_decode(data, size, &h) == UA_STATUS_GOOD)
        ua_uacp_hello_clear(&h);
    (void)ua_uacp_ack_decode(data, size, &a);
    if (ua_uacp_error_decode(data, size, &e) == UA_STATUS_GOOD)
        ua_uacp_error_clear(&e);
    if (ua_uacp_abort_decode(data, size, &e) == UA_STATUS_GOOD)
        ua_uacp_error_clear(&e);
    if (ua_uacp_reverse_hello_decode(data, size, &r) == UA_STATUS_GOOD)
        ua_uacp_reverse_hello_clear(&r);
    if (ua_uacp_secure_header_decode(data, size, &sh, &used) == UA_STATUS_GOOD) {
        if (used > size)
            abort();
        ua_uacp_secure_header_clear(&sh);
    }

    size_t at = 0, clen;
    while (ua_uacp_frame(data + at, size - at, 1024, &clen) == UA_STATUS_GOOD && clen > 0) {
        if (clen > size - at || clen < UA_UACP_HEADER_SIZE)
            abort();
        at += clen;
    }

    ua_uacp_reasm rs;
    ua_uacp_reasm_init(&rs, 300, 4);
    size_t i = 0;
    while (i + 3 <= size) {
        uint8_t type = data[i];
        uint32_t req = data[i + 1];
        size_t len = data[i + 2];
        i += 3;
        if (len > size - i)
            len = size - i;
        ua_reasm_event ev;
        ua_status rc = ua_uacp_reasm_add(&rs, type, req, data + i, len, &ev);
        if (rc == UA_STATUS_GOOD && ev == UA_REASM_COMPLETE) {
            size_t mlen;
            const uint8_t *m = ua_uacp_reasm_message(&rs, &mlen);
            if (m == NULL || mlen > 300)
                abort();
            volatile uint8_t sink = 0;
            for (size_t k = 0; k < mlen; k++)
                sink ^= m[k];
            (void)sink;
        }
        i += len;
    }
    ua_uacp_reasm_clear(&rs);
    return 0;
}
