/*
 * test_opcua_uacp.c - unit tests of the UACP framing (lib/opcua/ua_uacp.c): Hello,
 * Acknowledge, Error and ReverseHello with byte-exact encodings, chunk headers, size
 * negotiation, chunk body sizes and the reassembler's limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "opcua/ua_uacp.h"

static const uint8_t hello_bytes[] = {
    'H',  'E', 'L', 'F', 0x30, 0,   0,   0, /* header, 48 bytes */
    0,    0,   0,   0,                      /* protocol version */
    0,    0,   1,   0,                      /* receive buffer 65536 */
    0,    0,   1,   0,                      /* send buffer 65536 */
    0,    0,   0,   1,                      /* max message 16 MiB */
    0,    0,   0,   0,                      /* max chunks: no limit */
    0x10, 0,   0,   0,   'o',  'p', 'c', '.', 't', 'c',
    'p',  ':', '/', '/', 'h',  ':', '4', '8', '4', '0',
};

static void test_hello(void **state)
{
    (void)state;
    ua_uacp_hello h = {0, 65536, 65536, 16777216, 0, ua_string_view("opc.tcp://h:4840")};
    uint8_t buf[128];
    size_t n;
    assert_int_equal(ua_uacp_hello_encode(&h, buf, sizeof buf, &n), UA_STATUS_GOOD);
    assert_int_equal(n, sizeof hello_bytes);
    assert_memory_equal(buf, hello_bytes, n);
    assert_int_equal(ua_uacp_hello_encode(&h, buf, 30, &n), UA_STATUS_BAD_ENCODING_LIMITS_EXCEEDED);

    ua_uacp_hello d;
    assert_int_equal(ua_uacp_hello_decode(hello_bytes, sizeof hello_bytes, &d), UA_STATUS_GOOD);
    assert_int_equal(d.receive_buffer_size, 65536);
    assert_int_equal(d.max_message_size, 16777216);
    assert_true(ua_string_equal(&d.endpoint_url, &h.endpoint_url));
    ua_uacp_hello_clear(&d);
    for (size_t k = 0; k < sizeof hello_bytes; k++)
        assert_int_not_equal(ua_uacp_hello_decode(hello_bytes, k, &d), UA_STATUS_GOOD);

    /* an endpoint URL over 4096 bytes is refused both ways */
    static uint8_t big[5000];
    memset(big, 'a', sizeof big);
    h.endpoint_url.data = big;
    h.endpoint_url.length = 4097;
    static uint8_t out[6000];
    assert_int_equal(ua_uacp_hello_encode(&h, out, sizeof out, &n),
                     UA_STATUS_BAD_ENCODING_LIMITS_EXCEEDED);
    memcpy(out, hello_bytes, 28);
    out[28] = 0x01;
    out[29] = 0x10; /* 4097 */
    out[30] = out[31] = 0;
    memset(out + 32, 'a', 4097);
    ua_uacp_header_encode(out, UA_MSG_HEL, 'F', 32 + 4097);
    assert_int_equal(ua_uacp_hello_decode(out, 32 + 4097, &d),
                     UA_STATUS_BAD_ENCODING_LIMITS_EXCEEDED);
}

static void test_ack_err_rhe(void **state)
{
    (void)state;
    ua_uacp_ack a = {0, 8192, 8192, 0, 0};
    uint8_t buf[128];
    size_t n;
    assert_int_equal(ua_uacp_ack_encode(&a, buf, sizeof buf, &n), UA_STATUS_GOOD);
    static const uint8_t want[] = {'A', 'C', 'K', 'F',  28, 0, 0, 0, 0, 0, 0, 0, 0, 0x20,
                                   0,   0,   0,   0x20, 0,  0, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(n, sizeof want);
    assert_memory_equal(buf, want, n);
    ua_uacp_ack d;
    assert_int_equal(ua_uacp_ack_decode(buf, n, &d), UA_STATUS_GOOD);
    assert_int_equal(d.send_buffer_size, 8192);
    /* trailing byte */
    buf[4] = 29;
    assert_int_equal(ua_uacp_ack_decode(buf, 29, &d), UA_STATUS_BAD_DECODING_ERROR);
    /* size field disagreeing with the buffer */
    assert_int_equal(ua_uacp_ack_decode(buf, 28, &d), UA_STATUS_BAD_DECODING_ERROR);
    /* wrong type */
    assert_int_equal(ua_uacp_ack_decode(hello_bytes, sizeof hello_bytes, &d),
                     UA_STATUS_BAD_TCP_MESSAGE_TYPE_INVALID);

    ua_uacp_error e = {UA_STATUS_BAD_TCP_MESSAGE_TOO_LARGE, ua_string_view("too big")};
    assert_int_equal(ua_uacp_error_encode(&e, buf, sizeof buf, &n), UA_STATUS_GOOD);
    static const uint8_t want_e[] = {'E', 'R', 'R', 'F', 23,  0,   0,   0,   0,   0,   0x80, 0x80,
                                     7,   0,   0,   0,   't', 'o', 'o', ' ', 'b', 'i', 'g'};
    assert_int_equal(n, sizeof want_e);
    assert_memory_equal(buf, want_e, n);
    ua_uacp_error de;
    assert_int_equal(ua_uacp_error_decode(buf, n, &de), UA_STATUS_GOOD);
    assert_int_equal(de.error, UA_STATUS_BAD_TCP_MESSAGE_TOO_LARGE);
    assert_true(ua_string_equal(&de.reason, &e.reason));
    ua_uacp_error_clear(&de);

    ua_uacp_reverse_hello r = {ua_string_view("urn:s"), ua_string_view("opc.tcp://s")};
    assert_int_equal(ua_uacp_reverse_hello_encode(&r, buf, sizeof buf, &n), UA_STATUS_GOOD);
    assert_int_equal(n, 8 + 4 + 5 + 4 + 11);
    ua_uacp_reverse_hello dr;
    assert_int_equal(ua_uacp_reverse_hello_decode(buf, n, &dr), UA_STATUS_GOOD);
    assert_true(ua_string_equal(&dr.endpoint_url, &r.endpoint_url));
    ua_uacp_reverse_hello_clear(&dr);
}

static void test_headers(void **state)
{
    (void)state;
    ua_uacp_header h;
    uint8_t b[8] = {'M', 'S', 'G', 'C', 0x10, 0, 0, 0};
    assert_int_equal(ua_uacp_header_decode(b, 8, &h), UA_STATUS_GOOD);
    assert_int_equal(h.msg_type, UA_MSG_MSG);
    assert_int_equal(h.chunk_type, 'C');
    assert_int_equal(h.size, 16);
    assert_int_equal(ua_uacp_header_decode(b, 7, &h), UA_STATUS_BAD_DECODING_ERROR);
    b[3] = 'X';
    assert_int_equal(ua_uacp_header_decode(b, 8, &h), UA_STATUS_BAD_TCP_MESSAGE_TYPE_INVALID);
    memcpy(b, "OPNC", 4); /* OPN is never split */
    assert_int_equal(ua_uacp_header_decode(b, 8, &h), UA_STATUS_BAD_TCP_MESSAGE_TYPE_INVALID);
    memcpy(b, "HELC", 4);
    assert_int_equal(ua_uacp_header_decode(b, 8, &h), UA_STATUS_BAD_TCP_MESSAGE_TYPE_INVALID);
    memcpy(b, "XYZF", 4);
    assert_int_equal(ua_uacp_header_decode(b, 8, &h), UA_STATUS_BAD_TCP_MESSAGE_TYPE_INVALID);
    memcpy(b, "MSGF", 4);
    b[4] = 7;
    assert_int_equal(ua_uacp_header_decode(b, 8, &h), UA_STATUS_BAD_DECODING_ERROR);

    /* OPN with the asymmetric security header, policy None */
    ua_uacp_secure_header sh;
    memset(&sh, 0, sizeof sh);
    sh.h.msg_type = UA_MSG_OPN;
    sh.h.chunk_type = 'F';
    sh.secure_channel_id = 0;
    sh.security_policy_uri = ua_string_view("http://opcfoundation.org/UA/SecurityPolicy#None");
    uint8_t buf[256];
    size_t n, used;
    assert_int_equal(ua_uacp_secure_header_encode(&sh, buf, sizeof buf, &n), UA_STATUS_GOOD);
    assert_int_equal(n, 8 + 4 + 4 + 47 + 4 + 4);
    ua_uacp_header_encode(buf, UA_MSG_OPN, 'F', (uint32_t)n);
    ua_uacp_secure_header d;
    assert_int_equal(ua_uacp_secure_header_decode(buf, n, &d, &used), UA_STATUS_GOOD);
    assert_int_equal(used, n);
    assert_true(ua_string_equal(&d.security_policy_uri, &sh.security_policy_uri));
    assert_null(d.sender_certificate.data);
    ua_uacp_secure_header_clear(&d);
    for (size_t k = 0; k < n; k++)
        assert_int_not_equal(ua_uacp_secure_header_decode(buf, k, &d, &used), UA_STATUS_GOOD);

    /* MSG with the symmetric header */
    sh.h.msg_type = UA_MSG_MSG;
    sh.secure_channel_id = 7;
    sh.token_id = 3;
    assert_int_equal(ua_uacp_secure_header_encode(&sh, buf, sizeof buf, &n), UA_STATUS_GOOD);
    assert_int_equal(n, 16);
    ua_uacp_sequence_header_encode(buf + n, 51, 2);
    ua_uacp_header_encode(buf, UA_MSG_MSG, 'F', (uint32_t)n + 8);
    assert_int_equal(ua_uacp_secure_header_decode(buf, n + 8, &d, &used), UA_STATUS_GOOD);
    assert_int_equal(d.token_id, 3);
    assert_int_equal(d.secure_channel_id, 7);
    uint32_t seq, req;
    assert_int_equal(ua_uacp_sequence_header_decode(buf + used, 8, &seq, &req), UA_STATUS_GOOD);
    assert_int_equal(seq, 51);
    assert_int_equal(req, 2);
    ua_uacp_secure_header_clear(&d);
}

static void test_negotiate(void **state)
{
    (void)state;
    ua_uacp_hello h = {0, 65536, 65536, 0, 0, {0, NULL}};
    ua_uacp_ack a = {0, 16384, 32768, 1 << 20, 10};
    ua_uacp_limits l;
    assert_int_equal(ua_uacp_negotiate(&h, &a, &l), UA_STATUS_GOOD);
    assert_int_equal(l.send_buffer_size, 16384);
    assert_int_equal(l.receive_buffer_size, 32768);
    assert_int_equal(l.max_send_message, 1 << 20);
    assert_int_equal(l.max_send_chunks, 10);
    a.send_buffer_size = 100000; /* larger than our receive buffer */
    assert_int_equal(ua_uacp_negotiate(&h, &a, &l), UA_STATUS_BAD_CONNECTION_REJECTED);
    a.send_buffer_size = 4096;
    assert_int_equal(ua_uacp_negotiate(&h, &a, &l), UA_STATUS_BAD_CONNECTION_REJECTED);
    a.send_buffer_size = 8192;
    a.protocol_version = 1;
    assert_int_equal(ua_uacp_negotiate(&h, &a, &l), UA_STATUS_BAD_PROTOCOL_VERSION_UNSUPPORTED);

    /* body sizes: None = chunk - 8 - 4 - 4 (token) - 8 (sequence) */
    assert_int_equal(ua_uacp_max_body_size(8192, 16, 0, 0, 0), 8192 - 24);
    /* Basic256Sha256 sign+encrypt, symmetric: AES blocks of 16, HMAC-SHA256 signature of 32 */
    assert_int_equal(ua_uacp_max_body_size(8192, 16, 32, 16, 16),
                     16 * ((8192 - 16 - 1) / 16) - 8 - 32);
    assert_int_equal(ua_uacp_max_body_size(10, 16, 0, 0, 0), 0);
    assert_int_equal(ua_uacp_chunk_count(0, 100), 1);
    assert_int_equal(ua_uacp_chunk_count(100, 100), 1);
    assert_int_equal(ua_uacp_chunk_count(101, 100), 2);
}

static void test_reassembler(void **state)
{
    (void)state;
    ua_uacp_reasm r;
    ua_reasm_event ev;
    size_t len;
    ua_uacp_reasm_init(&r, 10, 3);
    assert_int_equal(ua_uacp_reasm_add(&r, 'C', 1, (const uint8_t *)"abc", 3, &ev), UA_STATUS_GOOD);
    assert_int_equal(ev, UA_REASM_MORE);
    assert_null(ua_uacp_reasm_message(&r, &len));
    assert_int_equal(ua_uacp_reasm_add(&r, 'F', 1, (const uint8_t *)"de", 2, &ev), UA_STATUS_GOOD);
    assert_int_equal(ev, UA_REASM_COMPLETE);
    const uint8_t *m = ua_uacp_reasm_message(&r, &len);
    assert_int_equal(len, 5);
    assert_memory_equal(m, "abcde", 5);

    /* too many chunks */
    for (int i = 0; i < 3; i++)
        assert_int_equal(ua_uacp_reasm_add(&r, 'C', 2, (const uint8_t *)"x", 1, &ev),
                         UA_STATUS_GOOD);
    assert_int_equal(ua_uacp_reasm_add(&r, 'F', 2, (const uint8_t *)"x", 1, &ev),
                     UA_STATUS_BAD_TCP_MESSAGE_TOO_LARGE);
    /* too large */
    assert_int_equal(ua_uacp_reasm_add(&r, 'C', 3, (const uint8_t *)"123456", 6, &ev),
                     UA_STATUS_GOOD);
    assert_int_equal(ua_uacp_reasm_add(&r, 'F', 3, (const uint8_t *)"12345", 5, &ev),
                     UA_STATUS_BAD_TCP_MESSAGE_TOO_LARGE);
    /* abort drops the partial message */
    assert_int_equal(ua_uacp_reasm_add(&r, 'C', 4, (const uint8_t *)"12", 2, &ev), UA_STATUS_GOOD);
    assert_int_equal(ua_uacp_reasm_add(&r, 'A', 4, NULL, 0, &ev), UA_STATUS_GOOD);
    assert_int_equal(ev, UA_REASM_ABORTED);
    /* a chunk of another request in the middle */
    assert_int_equal(ua_uacp_reasm_add(&r, 'C', 5, (const uint8_t *)"12", 2, &ev), UA_STATUS_GOOD);
    assert_int_equal(ua_uacp_reasm_add(&r, 'F', 6, (const uint8_t *)"12", 2, &ev),
                     UA_STATUS_BAD_DECODING_ERROR);
    /* unknown chunk type */
    assert_int_equal(ua_uacp_reasm_add(&r, 'Z', 6, (const uint8_t *)"12", 2, &ev),
                     UA_STATUS_BAD_TCP_MESSAGE_TYPE_INVALID);
    /* usable after errors */
    assert_int_equal(ua_uacp_reasm_add(&r, 'F', 7, (const uint8_t *)"ok", 2, &ev), UA_STATUS_GOOD);
    m = ua_uacp_reasm_message(&r, &len);
    assert_int_equal(len, 2);
    assert_memory_equal(m, "ok", 2);
    ua_uacp_reasm_clear(&r);

    /* the abort body */
    uint8_t ab[] = {0, 0, 0x80, 0x80, 2, 0, 0, 0, 'n', 'o'};
    ua_uacp_error e;
    assert_int_equal(ua_uacp_abort_decode(ab, sizeof ab, &e), UA_STATUS_GOOD);
    assert_int_equal(e.error, UA_STATUS_BAD_TCP_MESSAGE_TOO_LARGE);
    ua_uacp_error_clear(&e);
    assert_int_equal(ua_uacp_abort_decode(ab, 9, &e), UA_STATUS_BAD_DECODING_ERROR);
}

static void test_frame(void **state)
{
    (void)state;
    size_t n;
    assert_int_equal(ua_uacp_frame(hello_bytes, 5, 8192, &n), UA_STATUS_GOOD);
    assert_int_equal(n, 0);
    assert_int_equal(ua_uacp_frame(hello_bytes, sizeof hello_bytes - 1, 8192, &n), UA_STATUS_GOOD);
    assert_int_equal(n, 0);
    assert_int_equal(ua_uacp_frame(hello_bytes, sizeof hello_bytes, 8192, &n), UA_STATUS_GOOD);
    assert_int_equal(n, sizeof hello_bytes);
    assert_int_equal(ua_uacp_frame(hello_bytes, sizeof hello_bytes, 40, &n),
                     UA_STATUS_BAD_TCP_MESSAGE_TOO_LARGE);
    uint8_t junk[8] = {'G', 'E', 'T', ' ', '/', ' ', 'H', 'T'};
    assert_int_equal(ua_uacp_frame(junk, 8, 8192, &n), UA_STATUS_BAD_TCP_MESSAGE_TYPE_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello),       cmocka_unit_test(test_ack_err_rhe),
        cmocka_unit_test(test_headers),     cmocka_unit_test(test_negotiate),
        cmocka_unit_test(test_reassembler), cmocka_unit_test(test_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
