/*
 * ua_uacp.c - OPC UA Connection Protocol messages, secure conversation chunk headers,
 * size negotiation and chunk reassembly (see ua_uacp.h). Pure functions over byte
 * buffers; the strings inside messages are decoded through the codec of ua_types.h with
 * tight length limits, since these messages arrive before anything is authenticated.
 */
#include <string.h>

#include "fp_alloc.h"
#include "opcua/ua_uacp.h"

static const ua_decode_limits url_limits = {UA_UACP_MAX_URL_LENGTH, 1, 2, 65536};
static const ua_decode_limits cert_limits = {65536, 1, 2, 131072};

static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* ================================================================= message header */

ua_status ua_uacp_header_decode(const uint8_t *p, size_t len, ua_uacp_header *h)
{
    if (len < UA_UACP_HEADER_SIZE)
        return UA_STATUS_BAD_DECODING_ERROR;
    h->msg_type = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
    h->chunk_type = p[3];
    h->size = rd32(p + 4);
    switch (h->msg_type) {
    case UA_MSG_HEL:
    case UA_MSG_ACK:
    case UA_MSG_ERR:
    case UA_MSG_RHE:
        if (h->chunk_type != UA_CHUNK_FINAL)
            return UA_STATUS_BAD_TCP_MESSAGE_TYPE_INVALID;
        break;
    case UA_MSG_MSG:
    case UA_MSG_OPN:
    case UA_MSG_CLO:
        if (h->chunk_type != UA_CHUNK_FINAL && h->chunk_type != UA_CHUNK_INTERMEDIATE &&
            h->chunk_type != UA_CHUNK_ABORT)
            return UA_STATUS_BAD_TCP_MESSAGE_TYPE_INVALID;
        /* OPN and CLO are never split (6.7.2.1): only F is valid for them */
        if (h->msg_type != UA_MSG_MSG && h->chunk_type != UA_CHUNK_FINAL)
            return UA_STATUS_BAD_TCP_MESSAGE_TYPE_INVALID;
        break;
    default:
        return UA_STATUS_BAD_TCP_MESSAGE_TYPE_INVALID;
    }
    if (h->size < UA_UACP_HEADER_SIZE)
        return UA_STATUS_BAD_DECODING_ERROR;
    return UA_STATUS_GOOD;
}

ua_status ua_uacp_frame(const uint8_t *buf, size_t len, uint32_t max_chunk_size, size_t *chunk_len)
{
    ua_uacp_header h;
    *chunk_len = 0;
    if (len < UA_UACP_HEADER_SIZE)
        return UA_STATUS_GOOD;
    ua_status rc = ua_uacp_header_decode(buf, len, &h);
    if (rc != UA_STATUS_GOOD)
        return rc;
    if (max_chunk_size != 0 && h.size > max_chunk_size)
        return UA_STATUS_BAD_TCP_MESSAGE_TOO_LARGE;
    if (h.size <= len)
        *chunk_len = h.size;
    return UA_STATUS_GOOD;
}

void ua_uacp_header_encode(uint8_t *p, uint32_t msg_type, uint8_t chunk_type, uint32_t size)
{
    p[0] = (uint8_t)msg_type;
    p[1] = (uint8_t)(msg_type >> 8);
    p[2] = (uint8_t)(msg_type >> 16);
    p[3] = chunk_type;
    wr32(p + 4, size);
}

/* ======================================================== HEL / ACK / ERR / RHE */

/* Start a message of type t in buf: checks room for the header and `fixed` bytes. */
static ua_status begin(uint8_t *buf, size_t cap, size_t fixed)
{
    if (cap < UA_UACP_HEADER_SIZE + fixed)
        return UA_STATUS_BAD_ENCODING_LIMITS_EXCEEDED;
    return UA_STATUS_GOOD;
}

static ua_status put_string(const ua_string *s, uint8_t **pos, const uint8_t *end)
{
    if (s->data != NULL && s->length > UA_UACP_MAX_URL_LENGTH)
        return UA_STATUS_BAD_ENCODING_LIMITS_EXCEEDED;
    return ua_encode(s, UA_TYPE(STRING), pos, end);
}

static ua_status finish(uint32_t type, uint8_t *buf, uint8_t *pos, size_t *out_len)
{
    size_t n = (size_t)(pos - buf);
    ua_uacp_header_encode(buf, type, UA_CHUNK_FINAL, (uint32_t)n);
    *out_len = n;
    return UA_STATUS_GOOD;
}

ua_status ua_uacp_hello_encode(const ua_uacp_hello *m, uint8_t *buf, size_t cap, size_t *out_len)
{
    ua_status rc = begin(buf, cap, 20);
    if (rc != UA_STATUS_GOOD)
        return rc;
    uint8_t *pos = buf + UA_UACP_HEADER_SIZE;
    wr32(pos, m->protocol_version);
    wr32(pos + 4, m->receive_buffer_size);
    wr32(pos + 8, m->send_buffer_size);
    wr32(pos + 12, m->max_message_size);
    wr32(pos + 16, m->max_chunk_count);
    pos += 20;
    rc = put_string(&m->endpoint_url, &pos, buf + cap);
    return rc == UA_STATUS_GOOD ? finish(UA_MSG_HEL, buf, pos, out_len) : rc;
}

ua_status ua_uacp_ack_encode(const ua_uacp_ack *m, uint8_t *buf, size_t cap, size_t *out_len)
{
    ua_status rc = begin(buf, cap, 20);
    if (rc != UA_STATUS_GOOD)
        return rc;
    uint8_t *pos = buf + UA_UACP_HEADER_SIZE;
    wr32(pos, m->protocol_version);
    wr32(pos + 4, m->receive_buffer_size);
    wr32(pos + 8, m->send_buffer_size);
    wr32(pos + 12, m->max_message_size);
    wr32(pos + 16, m->max_chunk_count);
    return finish(UA_MSG_ACK, buf, pos + 20, out_len);
}

ua_status ua_uacp_error_encode(const ua_uacp_error *m, uint8_t *buf, size_t cap, size_t *out_len)
{
    ua_status rc = begin(buf, cap, 4);
    if (rc != UA_STATUS_GOOD)
        return rc;
    uint8_t *pos = buf + UA_UACP_HEADER_SIZE;
    wr32(pos, m->error);
    pos += 4;
    rc = put_string(&m->reason, &pos, buf + cap);
    return rc == UA_STATUS_GOOD ? finish(UA_MSG_ERR, buf, pos, out_len) : rc;
}

ua_status ua_uacp_reverse_hello_encode(const ua_uacp_reverse_hello *m, uint8_t *buf, size_t cap,
                                       size_t *out_len)
{
    ua_status rc = begin(buf, cap, 0);
    if (rc != UA_STATUS_GOOD)
        return rc;
    uint8_t *pos = buf + UA_UACP_HEADER_SIZE;
    rc = put_string(&m->server_uri, &pos, buf + cap);
    if (rc == UA_STATUS_GOOD)
        rc = put_string(&m->endpoint_url, &pos, buf + cap);
    return rc == UA_STATUS_GOOD ? finish(UA_MSG_RHE, buf, pos, out_len) : rc;
}

/* Check the header of a whole message of type `type` and return its body bounds. */
static ua_status open_msg(const uint8_t *msg, size_t len, uint32_t type, const uint8_t **pos,
                          const uint8_t **end)
{
    ua_uacp_header h;
    ua_status rc = ua_uacp_header_decode(msg, len, &h);
    if (rc != UA_STATUS_GOOD)
        return rc;
    if (h.msg_type != type)
        return UA_STATUS_BAD_TCP_MESSAGE_TYPE_INVALID;
    if (h.size != len)
        return UA_STATUS_BAD_DECODING_ERROR;
    *pos = msg + UA_UACP_HEADER_SIZE;
    *end = msg + len;
    return UA_STATUS_GOOD;
}

static ua_status get_u32s(const uint8_t **pos, const uint8_t *end, uint32_t *v, int n)
{
    if ((size_t)(end - *pos) < (size_t)n * 4)
        return UA_STATUS_BAD_DECODING_ERROR;
    for (int i = 0; i < n; i++)
        v[i] = rd32(*pos + 4 * i);
    *pos += 4 * n;
    return UA_STATUS_GOOD;
}

static ua_status get_string(const uint8_t **pos, const uint8_t *end, ua_string *s,
                            const ua_decode_limits *lim)
{
    return ua_decode(pos, end, s, UA_TYPE(STRING), lim);
}

ua_status ua_uacp_hello_decode(const uint8_t *msg, size_t len, ua_uacp_hello *m)
{
    const uint8_t *pos, *end;
    uint32_t v[5];
    memset(m, 0, sizeof *m);
    ua_status rc = open_msg(msg, len, UA_MSG_HEL, &pos, &end);
    if (rc == UA_STATUS_GOOD)
        rc = get_u32s(&pos, end, v, 5);
    if (rc == UA_STATUS_GOOD)
        rc = get_string(&pos, end, &m->endpoint_url, &url_limits);
    if (rc == UA_STATUS_GOOD && pos != end)
        rc = UA_STATUS_BAD_DECODING_ERROR;
    if (rc != UA_STATUS_GOOD) {
        ua_uacp_hello_clear(m);
        return rc;
    }
    m->protocol_version = v[0];
    m->receive_buffer_size = v[1];
    m->send_buffer_size = v[2];
    m->max_message_size = v[3];
    m->max_chunk_count = v[4];
    return UA_STATUS_GOOD;
}

ua_status ua_uacp_ack_decode(const uint8_t *msg, size_t len, ua_uacp_ack *m)
{
    const uint8_t *pos, *end;
    uint32_t v[5];
    memset(m, 0, sizeof *m);
    ua_status rc = open_msg(msg, len, UA_MSG_ACK, &pos, &end);
    if (rc == UA_STATUS_GOOD)
        rc = get_u32s(&pos, end, v, 5);
    if (rc == UA_STATUS_GOOD && pos != end)
        rc = UA_STATUS_BAD_DECODING_ERROR;
    if (rc != UA_STATUS_GOOD)
        return rc;
    m->protocol_version = v[0];
    m->receive_buffer_size = v[1];
    m->send_buffer_size = v[2];
    m->max_message_size = v[3];
    m->max_chunk_count = v[4];
    return UA_STATUS_GOOD;
}

static ua_status decode_error_body(const uint8_t *pos, const uint8_t *end, ua_uacp_error *m)
{
    uint32_t code;
    memset(m, 0, sizeof *m);
    ua_status rc = get_u32s(&pos, end, &code, 1);
    if (rc == UA_STATUS_GOOD)
        rc = get_string(&pos, end, &m->reason, &url_limits);
    if (rc == UA_STATUS_GOOD && pos != end)
        rc = UA_STATUS_BAD_DECODING_ERROR;
    if (rc != UA_STATUS_GOOD) {
        ua_uacp_error_clear(m);
        return rc;
    }
    m->error = code;
    return UA_STATUS_GOOD;
}

ua_status ua_uacp_error_decode(const uint8_t *msg, size_t len, ua_uacp_error *m)
{
    const uint8_t *pos, *end;
    memset(m, 0, sizeof *m);
    ua_status rc = open_msg(msg, len, UA_MSG_ERR, &pos, &end);
    return rc == UA_STATUS_GOOD ? decode_error_body(pos, end, m) : rc;
}

ua_status ua_uacp_abort_decode(const uint8_t *body, size_t len, ua_uacp_error *m)
{
    return decode_error_body(body, body + len, m);
}

ua_status ua_uacp_reverse_hello_decode(const uint8_t *msg, size_t len, ua_uacp_reverse_hello *m)
{
    const uint8_t *pos, *end;
    memset(m, 0, sizeof *m);
    ua_status rc = open_msg(msg, len, UA_MSG_RHE, &pos, &end);
    if (rc == UA_STATUS_GOOD)
        rc = get_string(&pos, end, &m->server_uri, &url_limits);
    if (rc == UA_STATUS_GOOD)
        rc = get_string(&pos, end, &m->endpoint_url, &url_limits);
    if (rc == UA_STATUS_GOOD && pos != end)
        rc = UA_STATUS_BAD_DECODING_ERROR;
    if (rc != UA_STATUS_GOOD)
        ua_uacp_reverse_hello_clear(m);
    return rc;
}

void ua_uacp_hello_clear(ua_uacp_hello *m)
{
    ua_clear(&m->endpoint_url, UA_TYPE(STRING));
}

void ua_uacp_error_clear(ua_uacp_error *m)
{
    ua_clear(&m->reason, UA_TYPE(STRING));
}

void ua_uacp_reverse_hello_clear(ua_uacp_reverse_hello *m)
{
    ua_clear(&m->server_uri, UA_TYPE(STRING));
    ua_clear(&m->endpoint_url, UA_TYPE(STRING));
}

/* ============================================================ secure chunk headers */

ua_status ua_uacp_secure_header_decode(const uint8_t *chunk, size_t len, ua_uacp_secure_header *h,
                                       size_t *consumed)
{
    memset(h, 0, sizeof *h);
    ua_status rc = ua_uacp_header_decode(chunk, len, &h->h);
    if (rc != UA_STATUS_GOOD)
        return rc;
    if (h->h.msg_type != UA_MSG_MSG && h->h.msg_type != UA_MSG_OPN && h->h.msg_type != UA_MSG_CLO)
        return UA_STATUS_BAD_TCP_MESSAGE_TYPE_INVALID;
    const uint8_t *pos = chunk + UA_UACP_HEADER_SIZE;
    const uint8_t *end = chunk + (len < h->h.size ? len : h->h.size);
    rc = get_u32s(&pos, end, &h->secure_channel_id, 1);
    if (rc != UA_STATUS_GOOD)
        return rc;
    if (h->h.msg_type == UA_MSG_OPN) {
        rc = get_string(&pos, end, &h->security_policy_uri, &url_limits);
        if (rc == UA_STATUS_GOOD)
            rc = get_string(&pos, end, &h->sender_certificate, &cert_limits);
        if (rc == UA_STATUS_GOOD)
            rc = get_string(&pos, end, &h->receiver_thumbprint, &url_limits);
    } else {
        rc = get_u32s(&pos, end, &h->token_id, 1);
    }
    if (rc != UA_STATUS_GOOD) {
        ua_uacp_secure_header_clear(h);
        return rc;
    }
    *consumed = (size_t)(pos - chunk);
    return UA_STATUS_GOOD;
}

void ua_uacp_secure_header_clear(ua_uacp_secure_header *h)
{
    ua_clear(&h->security_policy_uri, UA_TYPE(STRING));
    ua_clear(&h->sender_certificate, UA_TYPE(BYTESTRING));
    ua_clear(&h->receiver_thumbprint, UA_TYPE(BYTESTRING));
}

ua_status ua_uacp_secure_header_encode(const ua_uacp_secure_header *h, uint8_t *buf, size_t cap,
                                       size_t *out_len)
{
    if (cap < UA_UACP_HEADER_SIZE + 4)
        return UA_STATUS_BAD_ENCODING_LIMITS_EXCEEDED;
    ua_uacp_header_encode(buf, h->h.msg_type, h->h.chunk_type, h->h.size);
    wr32(buf + UA_UACP_HEADER_SIZE, h->secure_channel_id);
    uint8_t *pos = buf + UA_UACP_HEADER_SIZE + 4;
    const uint8_t *end = buf + cap;
    ua_status rc;
    if (h->h.msg_type == UA_MSG_OPN) {
        rc = ua_encode(&h->security_policy_uri, UA_TYPE(STRING), &pos, end);
        if (rc == UA_STATUS_GOOD)
            rc = ua_encode(&h->sender_certificate, UA_TYPE(BYTESTRING), &pos, end);
        if (rc == UA_STATUS_GOOD)
            rc = ua_encode(&h->receiver_thumbprint, UA_TYPE(BYTESTRING), &pos, end);
    } else {
        rc = ua_encode(&h->token_id, UA_TYPE(UINT32), &pos, end);
    }
    if (rc != UA_STATUS_GOOD)
        return rc;
    *out_len = (size_t)(pos - buf);
    return UA_STATUS_GOOD;
}

ua_status ua_uacp_sequence_header_decode(const uint8_t *p, size_t len, uint32_t *sequence_number,
                                         uint32_t *request_id)
{
    if (len < UA_UACP_SEQUENCE_HEADER_SIZE)
        return UA_STATUS_BAD_DECODING_ERROR;
    *sequence_number = rd32(p);
    *request_id = rd32(p + 4);
    return UA_STATUS_GOOD;
}

void ua_uacp_sequence_header_encode(uint8_t *p, uint32_t sequence_number, uint32_t request_id)
{
    wr32(p, sequence_number);
    wr32(p + 4, request_id);
}

/* ==================================================================== negotiation */

ua_status ua_uacp_negotiate(const ua_uacp_hello *hello, const ua_uacp_ack *ack, ua_uacp_limits *out)
{
    memset(out, 0, sizeof *out);
    if (ack->protocol_version > hello->protocol_version)
        return UA_STATUS_BAD_PROTOCOL_VERSION_UNSUPPORTED;
    if (ack->receive_buffer_size < UA_UACP_MIN_BUFFER_SIZE ||
        ack->send_buffer_size < UA_UACP_MIN_BUFFER_SIZE)
        return UA_STATUS_BAD_CONNECTION_REJECTED;
    /* The server may lower our buffers, never raise them (7.1.2.4). */
    if (ack->send_buffer_size > hello->receive_buffer_size)
        return UA_STATUS_BAD_CONNECTION_REJECTED;
    out->protocol_version = ack->protocol_version;
    out->send_buffer_size = ack->receive_buffer_size < hello->send_buffer_size
                                ? ack->receive_buffer_size
                                : hello->send_buffer_size;
    out->receive_buffer_size = ack->send_buffer_size;
    out->max_send_message = ack->max_message_size;
    out->max_send_chunks = ack->max_chunk_count;
    out->max_recv_message = hello->max_message_size;
    out->max_recv_chunks = hello->max_chunk_count;
    return UA_STATUS_GOOD;
}

size_t ua_uacp_max_body_size(uint32_t chunk_size, size_t header_size, size_t signature_size,
                             size_t plain_block, size_t cipher_block)
{
    size_t n = chunk_size;
    if (plain_block <= 1 || cipher_block <= 1) {
        size_t fixed = header_size + UA_UACP_SEQUENCE_HEADER_SIZE + signature_size;
        return n > fixed ? n - fixed : 0;
    }
    /* 6.7.2.2: MaxBodySize = PlainTextBlockSize * floor((MessageChunkSize - HeaderSize - 1) /
     * CipherTextBlockSize) - SequenceHeaderSize - SignatureSize; one more padding byte
     * for keys above 2048 bits (cipher blocks over 256 bytes). */
    size_t pad = cipher_block > 256 ? 2 : 1;
    if (n < header_size + pad)
        return 0;
    size_t plain = plain_block * ((n - header_size - pad) / cipher_block);
    size_t fixed = UA_UACP_SEQUENCE_HEADER_SIZE + signature_size;
    return plain > fixed ? plain - fixed : 0;
}

size_t ua_uacp_chunk_count(size_t body_len, size_t max_body)
{
    if (max_body == 0)
        return 0;
    if (body_len == 0)
        return 1;
    return (body_len + max_body - 1) / max_body;
}

/* ==================================================================== reassembler */

void ua_uacp_reasm_init(ua_uacp_reasm *r, uint32_t max_message_size, uint32_t max_chunk_count)
{
    memset(r, 0, sizeof *r);
    r->max_message_size = max_message_size;
    r->max_chunk_count = max_chunk_count;
}

void ua_uacp_reasm_clear(ua_uacp_reasm *r)
{
    fp_free(r->buf);
    r->buf = NULL;
    r->len = r->cap = 0;
    r->chunks = 0;
    r->active = r->complete = false;
}

static void reset(ua_uacp_reasm *r)
{
    r->len = 0;
    r->chunks = 0;
    r->active = false;
    r->complete = false;
}

ua_status ua_uacp_reasm_add(ua_uacp_reasm *r, uint8_t chunk_type, uint32_t request_id,
                            const uint8_t *body, size_t len, ua_reasm_event *event)
{
    *event = UA_REASM_MORE;
    if (r->complete)
        reset(r);
    if (chunk_type == UA_CHUNK_ABORT) {
        reset(r);
        *event = UA_REASM_ABORTED;
        return UA_STATUS_GOOD;
    }
    if (chunk_type != UA_CHUNK_FINAL && chunk_type != UA_CHUNK_INTERMEDIATE) {
        reset(r);
        return UA_STATUS_BAD_TCP_MESSAGE_TYPE_INVALID;
    }
    if (r->active && request_id != r->request_id) {
        reset(r);
        return UA_STATUS_BAD_DECODING_ERROR;
    }
    if (r->max_chunk_count != 0 && r->chunks + 1 > r->max_chunk_count) {
        reset(r);
        return UA_STATUS_BAD_TCP_MESSAGE_TOO_LARGE;
    }
    if (len > SIZE_MAX - r->len ||
        (r->max_message_size != 0 && r->len + len > r->max_message_size)) {
        reset(r);
        return UA_STATUS_BAD_TCP_MESSAGE_TOO_LARGE;
    }
    if (r->len + len > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + len)
            cap = cap > SIZE_MAX / 2 ? r->len + len : cap * 2;
        if (r->max_message_size != 0 && cap > r->max_message_size)
            cap = r->max_message_size;
        uint8_t *nb = fp_realloc(r->buf, cap);
        if (nb == NULL) {
            reset(r);
            return UA_STATUS_BAD_OUT_OF_MEMORY;
        }
        r->buf = nb;
        r->cap = cap;
    }
    if (len)
        memcpy(r->buf + r->len, body, len);
    r->len += len;
    r->chunks++;
    r->active = true;
    r->request_id = request_id;
    if (chunk_type == UA_CHUNK_FINAL) {
        r->active = false;
        r->complete = true;
        *event = UA_REASM_COMPLETE;
    }
    return UA_STATUS_GOOD;
}

const uint8_t *ua_uacp_reasm_message(const ua_uacp_reasm *r, size_t *len)
{
    if (!r->complete) {
        *len = 0;
        return NULL;
    }
    *len = r->len;
    return r->buf ? r->buf : (const uint8_t *)"";
}

uint8_t *ua_uacp_reasm_take(ua_uacp_reasm *r, size_t *len)
{
    *len = 0;
    if (!r->complete)
        return NULL;
    uint8_t *p = r->buf;
    if (p == NULL) {
        p = fp_malloc(1);
        if (p == NULL)
            return NULL;
    }
    *len = r->len;
    r->buf = NULL;
    r->cap = 0;
    reset(r);
    return p;
}
