/*
 * ua_uacp.h - OPC UA Connection Protocol framing (OPC 10000-6 §7.1) and the secure
 * conversation chunk headers (§6.7), as pure functions over byte buffers.
 *
 * This is the part of the transport that needs no socket and no key: the Hello,
 * Acknowledge, Error and ReverseHello messages, the 8-byte message header of every
 * chunk (MSG/OPN/CLO with chunk type F, C or A), the security and sequence headers,
 * buffer and message size negotiation, the body size of a chunk, and a reassembler that
 * joins the bodies of the chunks of one message while enforcing the negotiated maximum
 * message size and chunk count. The connection layer reads from sockets, applies the
 * security policy and calls these.
 */
#ifndef UA_UACP_H
#define UA_UACP_H

#include <stddef.h>
#include <stdint.h>

#include "opcua/ua_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Message types: the three ASCII bytes as a little-endian number. */
#define UA_MSG_HEL 0x4C4548u /* "HEL" */
#define UA_MSG_ACK 0x4B4341u /* "ACK" */
#define UA_MSG_ERR 0x525245u /* "ERR" */
#define UA_MSG_RHE 0x454852u /* "RHE" */
#define UA_MSG_MSG 0x47534Du /* "MSG" */
#define UA_MSG_OPN 0x4E504Fu /* "OPN" */
#define UA_MSG_CLO 0x4F4C43u /* "CLO" */

#define UA_CHUNK_FINAL 'F'
#define UA_CHUNK_INTERMEDIATE 'C'
#define UA_CHUNK_ABORT 'A'

#define UA_UACP_HEADER_SIZE 8u          /* type(3) chunk(1) size(4) */
#define UA_UACP_SEQUENCE_HEADER_SIZE 8u /* sequence number(4) request id(4) */
#define UA_UACP_MIN_BUFFER_SIZE 8192u   /* smallest send/receive buffer a peer may offer */
#define UA_UACP_MAX_URL_LENGTH 4096u    /* EndpointUrl, ServerUri and Reason limits */
#define UA_UACP_PROTOCOL_VERSION 0u

typedef struct ua_uacp_header {
    uint32_t msg_type;  /* UA_MSG_* */
    uint8_t chunk_type; /* UA_CHUNK_*; 'F' for HEL/ACK/ERR/RHE */
    uint32_t size;      /* whole chunk including these 8 bytes */
} ua_uacp_header;

typedef struct ua_uacp_hello {
    uint32_t protocol_version;
    uint32_t receive_buffer_size;
    uint32_t send_buffer_size;
    uint32_t max_message_size; /* 0: no limit */
    uint32_t max_chunk_count;  /* 0: no limit */
    ua_string endpoint_url;
} ua_uacp_hello;

typedef struct ua_uacp_ack {
    uint32_t protocol_version;
    uint32_t receive_buffer_size;
    uint32_t send_buffer_size;
    uint32_t max_message_size;
    uint32_t max_chunk_count;
} ua_uacp_ack;

typedef struct ua_uacp_error {
    ua_status error;
    ua_string reason;
} ua_uacp_error;

typedef struct ua_uacp_reverse_hello {
    ua_string server_uri;
    ua_string endpoint_url;
} ua_uacp_reverse_hello;

/* The headers that follow the message header in an OPN, MSG or CLO chunk. */
typedef struct ua_uacp_secure_header {
    ua_uacp_header h;
    uint32_t secure_channel_id;
    /* OPN only: the asymmetric security header (owned copies) */
    ua_string security_policy_uri;
    ua_bytestring sender_certificate;
    ua_bytestring receiver_thumbprint;
    /* MSG and CLO only: the symmetric security header */
    uint32_t token_id;
} ua_uacp_secure_header;

/* ------------------------------------------------------------------ message header */

/* Decode the 8-byte message header from p (len bytes available). Checks the message type,
 * the chunk type (F for HEL/ACK/ERR/RHE; F, C or A for MSG/OPN/CLO) and that size >= 8.
 * Errors: UA_STATUS_BAD_DECODING_ERROR (fewer than 8 bytes),
 * UA_STATUS_BAD_TCP_MESSAGE_TYPE_INVALID. It does not check size against a limit: the
 * caller compares h->size with its receive buffer size (UA_STATUS_BAD_TCP_MESSAGE_TOO_LARGE). */
ua_status ua_uacp_header_decode(const uint8_t *p, size_t len, ua_uacp_header *h);

/* Find the first whole chunk in bytes received from a stream: *chunk_len gets its size
 * when all of it is in [buf, buf+len), or 0 when more bytes are needed. A chunk larger
 * than max_chunk_size (our receive buffer size) is UA_STATUS_BAD_TCP_MESSAGE_TOO_LARGE;
 * other errors as ua_uacp_header_decode (once 8 bytes are there). */
ua_status ua_uacp_frame(const uint8_t *buf, size_t len, uint32_t max_chunk_size, size_t *chunk_len);

/* Write the 8-byte header to p. */
void ua_uacp_header_encode(uint8_t *p, uint32_t msg_type, uint8_t chunk_type, uint32_t size);

/* -------------------------------------------------- HEL / ACK / ERR / RHE messages */

/* Encode a whole message (header included) into buf (cap bytes); *out_len gets its
 * length. Errors: UA_STATUS_BAD_ENCODING_LIMITS_EXCEEDED (buf too small or a string over
 * UA_UACP_MAX_URL_LENGTH). */
ua_status ua_uacp_hello_encode(const ua_uacp_hello *m, uint8_t *buf, size_t cap, size_t *out_len);
ua_status ua_uacp_ack_encode(const ua_uacp_ack *m, uint8_t *buf, size_t cap, size_t *out_len);
ua_status ua_uacp_error_encode(const ua_uacp_error *m, uint8_t *buf, size_t cap, size_t *out_len);
ua_status ua_uacp_reverse_hello_encode(const ua_uacp_reverse_hello *m, uint8_t *buf, size_t cap,
                                       size_t *out_len);

/* Decode a whole message (header included, len = the header's size). The strings of *m
 * are owned copies; clear them with the matching _clear. Errors:
 * UA_STATUS_BAD_TCP_MESSAGE_TYPE_INVALID (another message type), UA_STATUS_BAD_DECODING_ERROR
 * (truncated, trailing bytes, size disagrees), UA_STATUS_BAD_ENCODING_LIMITS_EXCEEDED (a
 * string over UA_UACP_MAX_URL_LENGTH), UA_STATUS_BAD_OUT_OF_MEMORY. */
ua_status ua_uacp_hello_decode(const uint8_t *msg, size_t len, ua_uacp_hello *m);
ua_status ua_uacp_ack_decode(const uint8_t *msg, size_t len, ua_uacp_ack *m);
ua_status ua_uacp_error_decode(const uint8_t *msg, size_t len, ua_uacp_error *m);
ua_status ua_uacp_reverse_hello_decode(const uint8_t *msg, size_t len, ua_uacp_reverse_hello *m);
void ua_uacp_hello_clear(ua_uacp_hello *m);
void ua_uacp_error_clear(ua_uacp_error *m);
void ua_uacp_reverse_hello_clear(ua_uacp_reverse_hello *m);

/* ------------------------------------------------- secure conversation chunk headers */

/* Decode the message header, the secure channel id and the security header (asymmetric
 * for OPN, symmetric for MSG/CLO) at the start of chunk (len bytes); *consumed gets the
 * number of header bytes. What follows is the (possibly encrypted) sequence header and
 * body. Errors: those of ua_uacp_header_decode (HEL/ACK/ERR/RHE are
 * UA_STATUS_BAD_TCP_MESSAGE_TYPE_INVALID here), UA_STATUS_BAD_DECODING_ERROR,
 * UA_STATUS_BAD_ENCODING_LIMITS_EXCEEDED (a string over 64 KiB for the policy URI and
 * certificate chain limits), UA_STATUS_BAD_OUT_OF_MEMORY. Clear with
 * ua_uacp_secure_header_clear. */
ua_status ua_uacp_secure_header_decode(const uint8_t *chunk, size_t len, ua_uacp_secure_header *h,
                                       size_t *consumed);
void ua_uacp_secure_header_clear(ua_uacp_secure_header *h);

/* Encode the same headers; h->h.size is written as given (patch it with
 * ua_uacp_header_encode once the chunk size is known). */
ua_status ua_uacp_secure_header_encode(const ua_uacp_secure_header *h, uint8_t *buf, size_t cap,
                                       size_t *out_len);

/* The sequence header: 8 bytes at p. */
ua_status ua_uacp_sequence_header_decode(const uint8_t *p, size_t len, uint32_t *sequence_number,
                                         uint32_t *request_id);
void ua_uacp_sequence_header_encode(uint8_t *p, uint32_t sequence_number, uint32_t request_id);

/* The body of an abort chunk ('A'): Error (StatusCode) and Reason (String). */
ua_status ua_uacp_abort_decode(const uint8_t *body, size_t len, ua_uacp_error *m);

/* -------------------------------------------------------------------- negotiation */

/* What a client may use after its Hello was answered by ack. */
typedef struct ua_uacp_limits {
    uint32_t protocol_version;
    uint32_t send_buffer_size;    /* largest chunk we may send */
    uint32_t receive_buffer_size; /* largest chunk the server will send */
    uint32_t max_send_message;    /* largest message we may send, 0: no limit */
    uint32_t max_send_chunks;     /* most chunks per message we may send, 0: no limit */
    uint32_t max_recv_message;    /* largest message we accept (from the Hello) */
    uint32_t max_recv_chunks;     /* most chunks we accept (from the Hello) */
} ua_uacp_limits;

/* Check the server's Acknowledge against the client's Hello and compute the limits.
 * Errors: UA_STATUS_BAD_CONNECTION_REJECTED when the server offers buffers under 8192 bytes
 * or a send buffer larger than our receive buffer; UA_STATUS_BAD_PROTOCOL_VERSION_UNSUPPORTED
 * when the server's version is above ours. */
ua_status ua_uacp_negotiate(const ua_uacp_hello *hello, const ua_uacp_ack *ack,
                            ua_uacp_limits *out);

/* The largest body (service message bytes) one chunk of chunk_size bytes can carry, as in
 * OPC 10000-6 6.7.2.2: header_size = message + security header bytes; signature_size is 0
 * without signing; plain_block/cipher_block are the encryption block sizes, 0 (or 1) when
 * not encrypting. Returns 0 when nothing fits. */
size_t ua_uacp_max_body_size(uint32_t chunk_size, size_t header_size, size_t signature_size,
                             size_t plain_block, size_t cipher_block);

/* Number of chunks needed for a message body of body_len bytes with max_body bytes per
 * chunk (at least 1). */
size_t ua_uacp_chunk_count(size_t body_len, size_t max_body);

/* --------------------------------------------------------------------- reassembler */

typedef enum ua_reasm_event {
    UA_REASM_MORE = 0,     /* chunk taken, message not complete */
    UA_REASM_COMPLETE = 1, /* final chunk taken: ua_uacp_reasm_message() */
    UA_REASM_ABORTED = 2,  /* abort chunk: the partial message was dropped */
} ua_reasm_event;

typedef struct ua_uacp_reasm {
    uint32_t max_message_size; /* 0: no limit */
    uint32_t max_chunk_count;  /* 0: no limit */
    uint8_t *buf;
    size_t len;
    size_t cap;
    uint32_t chunks;
    uint32_t request_id;
    bool active;   /* a message is being collected */
    bool complete; /* buf holds a complete message */
} ua_uacp_reasm;

/* Set up r with the limits (from the Hello we sent). Owns no memory yet. */
void ua_uacp_reasm_init(ua_uacp_reasm *r, uint32_t max_message_size, uint32_t max_chunk_count);
/* Free r's buffer. */
void ua_uacp_reasm_clear(ua_uacp_reasm *r);

/* Add the decrypted body of one chunk (after the sequence header) of request request_id
 * with chunk type chunk_type ('C', 'F' or 'A'). *event says what happened. A complete
 * message stays readable through ua_uacp_reasm_message until the next call.
 * Errors (the partial message is dropped, r stays usable):
 * UA_STATUS_BAD_TCP_MESSAGE_TOO_LARGE (over max_message_size or max_chunk_count),
 * UA_STATUS_BAD_TCP_MESSAGE_TYPE_INVALID (unknown chunk type), UA_STATUS_BAD_DECODING_ERROR
 * (a chunk of another request before the final chunk), UA_STATUS_BAD_OUT_OF_MEMORY. */
ua_status ua_uacp_reasm_add(ua_uacp_reasm *r, uint8_t chunk_type, uint32_t request_id,
                            const uint8_t *body, size_t len, ua_reasm_event *event);

/* The complete message after UA_REASM_COMPLETE (borrowed; NULL otherwise). */
const uint8_t *ua_uacp_reasm_message(const ua_uacp_reasm *r, size_t *len);

/* Take the complete message out of r after UA_REASM_COMPLETE: the caller owns the returned
 * buffer (fp_free) and r starts afresh, so r may be cleared while the message is in use.
 * NULL (and *len 0) when no message is complete; a complete empty message is a 1-byte
 * allocation with *len 0. NULL with r->complete still set means no memory. */
uint8_t *ua_uacp_reasm_take(ua_uacp_reasm *r, size_t *len);

#ifdef __cplusplus
}
#endif

#endif
