/*
 * ua_conn.h - one OPC UA TCP connection and its secure channel (internal to the library).
 *
 * A ua_conn owns a socket on the caller's ua_loop and speaks UACP (OPC 10000-6 7.1): HEL/ACK/
 * ERR with buffer and size negotiation, then the secure conversation (6.7): OpenSecureChannel
 * with token renewal before the token expires, symmetric MSG chunks in both directions with
 * sequence number checks, and CloseSecureChannel. Service bodies are opaque here: the owner
 * hands in an encoded body (type NodeId + structure) and gets whole, reassembled response
 * bodies back with the request id they answer.
 *
 * The little-endian wire helpers (ua_wbuf, ua_rbuf) serve the secure conversation headers and
 * the OpenSecureChannel messages, which the connection encodes itself so that it does not
 * depend on the generated service types.
 */
#ifndef UA_CONN_H
#define UA_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "opcua/ua_client.h"
#include "opcua/ua_crypto.h"

/* ----------------------------------------------------------------- status code values */

/* The status codes the transport reports, numerically as in OPC 10000-4 7.39. */
#define UAC_GOOD 0x00000000u
#define UAC_BAD_UNEXPECTED_ERROR 0x80010000u
#define UAC_BAD_OUT_OF_MEMORY 0x80030000u
#define UAC_BAD_COMMUNICATION_ERROR 0x80050000u
#define UAC_BAD_ENCODING_ERROR 0x80060000u
#define UAC_BAD_DECODING_ERROR 0x80070000u
#define UAC_BAD_ENCODING_LIMITS_EXCEEDED 0x80080000u
#define UAC_BAD_TIMEOUT 0x800a0000u
#define UAC_BAD_SHUTDOWN 0x800c0000u
#define UAC_BAD_SECURITY_CHECKS_FAILED 0x80130000u
#define UAC_BAD_SECURE_CHANNEL_ID_INVALID 0x80220000u
#define UAC_BAD_NOT_SUPPORTED 0x803d0000u
#define UAC_BAD_SECURITY_POLICY_REJECTED 0x80550000u
#define UAC_BAD_TCP_MESSAGE_TYPE_INVALID 0x807e0000u
#define UAC_BAD_TCP_MESSAGE_TOO_LARGE 0x80800000u
#define UAC_BAD_TCP_INTERNAL_ERROR 0x80820000u
#define UAC_BAD_TCP_ENDPOINT_URL_INVALID 0x80830000u
#define UAC_BAD_SECURE_CHANNEL_CLOSED 0x80860000u
#define UAC_BAD_SECURE_CHANNEL_TOKEN_UNKNOWN 0x80870000u
#define UAC_BAD_SEQUENCE_NUMBER_INVALID 0x80880000u
#define UAC_BAD_NOT_CONNECTED 0x808a0000u
#define UAC_BAD_INVALID_ARGUMENT 0x80ab0000u
#define UAC_BAD_CONNECTION_REJECTED 0x80ac0000u
#define UAC_BAD_CONNECTION_CLOSED 0x80ae0000u
#define UAC_BAD_INVALID_STATE 0x80af0000u
#define UAC_BAD_REQUEST_TOO_LARGE 0x80b80000u
#define UAC_BAD_RESPONSE_TOO_LARGE 0x80b90000u

/* ------------------------------------------------------------------------ wire helpers */

/* A growable output buffer; the first failure sticks in `err` and later writes do nothing. */
typedef struct ua_wbuf {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t max; /* hard maximum of len */
    uint32_t err;
} ua_wbuf;

void ua_wbuf_init(ua_wbuf *w, size_t max);
void ua_wbuf_clear(ua_wbuf *w);
void ua_wbuf_bytes(ua_wbuf *w, const void *p, size_t n);
/* Grow by n bytes and return where they start (contents undefined), NULL on failure. */
uint8_t *ua_wbuf_extend(ua_wbuf *w, size_t n);
void ua_wbuf_u8(ua_wbuf *w, uint8_t v);
void ua_wbuf_u16(ua_wbuf *w, uint16_t v);
void ua_wbuf_u32(ua_wbuf *w, uint32_t v);
void ua_wbuf_i64(ua_wbuf *w, int64_t v);
/* A String or ByteString: length prefix, -1 for p == NULL. */
void ua_wbuf_string(ua_wbuf *w, const void *p, size_t n);
/* A numeric NodeId in its shortest encoding. */
void ua_wbuf_nodeid_num(ua_wbuf *w, uint16_t ns, uint32_t id);
/* Overwrite 4 bytes at off (which must already have been written). */
void ua_wbuf_put_u32_at(ua_wbuf *w, size_t off, uint32_t v);

/* A read cursor over untrusted bytes; any overrun sets err and later reads return zero. */
typedef struct ua_rbuf {
    const uint8_t *p;
    const uint8_t *end;
    bool err;
} ua_rbuf;

uint8_t ua_rbuf_u8(ua_rbuf *r);
uint16_t ua_rbuf_u16(ua_rbuf *r);
uint32_t ua_rbuf_u32(ua_rbuf *r);
int64_t ua_rbuf_i64(ua_rbuf *r);
/* A String/ByteString: *len and a pointer into the buffer (NULL for a null string). */
const uint8_t *ua_rbuf_string(ua_rbuf *r, size_t *len);
/* A NodeId of any encoding; numeric ones give ns and id, others set *id to UINT32_MAX. */
void ua_rbuf_nodeid(ua_rbuf *r, uint16_t *ns, uint32_t *id);
/* Skip a DiagnosticInfo (bounded nesting), an array of Strings, an ExtensionObject. */
void ua_rbuf_skip_diagnostic_info(ua_rbuf *r, int depth);
void ua_rbuf_skip_string_array(ua_rbuf *r);
void ua_rbuf_skip_extension_object(ua_rbuf *r);

/* The current time as an OPC UA DateTime (100 ns since 1601). */
int64_t ua_conn_datetime_now(void);

/* --------------------------------------------------------------------- the connection */

typedef enum ua_conn_state {
    UA_CONN_CLOSED = 0,
    UA_CONN_CONNECTING, /* TCP connect in progress */
    UA_CONN_HELLO,      /* HEL sent, waiting for ACK */
    UA_CONN_OPENING,    /* OpenSecureChannel sent */
    UA_CONN_OPEN,       /* secure channel open: MSG may be sent */
} ua_conn_state;

typedef struct ua_conn ua_conn;

/* Callbacks to the owner. on_open: the channel is usable. on_message: a whole response body
 * (type NodeId + structure) for request_id, valid only during the call. on_closed: the
 * connection is gone (status says why). The owner must not free the conn from inside a
 * callback (defer it); closing it and connecting again is fine. */
typedef struct ua_conn_handler {
    void (*on_open)(void *ctx);
    void (*on_message)(void *ctx, uint32_t request_id, const uint8_t *body, size_t len);
    void (*on_closed)(void *ctx, uint32_t status);
    void *ctx;
} ua_conn_handler;

typedef struct ua_conn_limits {
    uint32_t recv_buffer_size;   /* largest chunk we accept; default 65536 */
    uint32_t max_message_size;   /* largest reassembled response; default 16 MiB */
    uint32_t max_chunk_count;    /* chunks of one response; default 1024 */
    uint32_t token_lifetime_ms;  /* requested; default 600000 */
    uint32_t connect_timeout_ms; /* TCP + HEL + OPN; default 10000 */
} ua_conn_limits;

/* A new, closed connection on loop (limits may be NULL for the defaults). The handler is
 * copied. NULL on no memory. */
ua_conn *ua_conn_new(ua_loop *loop, const ua_conn_handler *h, const ua_conn_limits *limits);
/* Close (without callback) and free; NULL is a no-op. Not from inside one of its own
 * callbacks. */
void ua_conn_free(ua_conn *c);

/* The security of a channel. Everything is borrowed and must outlive the connection. For the
 * None policy the certificates and keys are NULL. */
typedef struct ua_conn_security {
    const ua_security_policy *policy;
    ua_security_mode mode;
    const ua_cert *local_cert;  /* our application instance certificate */
    const ua_key *local_key;    /* its private key */
    const ua_cert *remote_cert; /* the server's certificate, already verified */
} ua_conn_security;

/* Start connecting to url (opc.tcp://host:port/path) with the given security (copied; what
 * it points to is borrowed). Progress is reported through the handler. Returns UAC_GOOD,
 * UAC_BAD_TCP_ENDPOINT_URL_INVALID, UAC_BAD_SECURITY_POLICY_REJECTED (incomplete security),
 * UAC_BAD_INVALID_STATE if not closed, UAC_BAD_NOT_CONNECTED when the host does not resolve
 * or the socket cannot be created. */
uint32_t ua_conn_connect(ua_conn *c, const char *url, const ua_conn_security *sec);

/* Send one message body (type NodeId + structure, owned by the caller) as MSG chunks; the
 * request id used is stored in *request_id. Returns UAC_GOOD, UAC_BAD_NOT_CONNECTED,
 * UAC_BAD_REQUEST_TOO_LARGE (over the server's limits) or UAC_BAD_OUT_OF_MEMORY. */
uint32_t ua_conn_send(ua_conn *c, const uint8_t *body, size_t len, uint32_t *request_id);

/* Make the next ua_conn_connect use fd, a connected non-blocking stream socket (one end of a
 * socketpair), instead of resolving and connecting the URL: the injection point for tests and
 * the fuzzer, which play the server on the other end. The conn owns fd from now on. */
void ua_conn_use_socket(ua_conn *c, int fd);

/* Send CloseSecureChannel when open, then close the socket; on_closed is not called. */
void ua_conn_close(ua_conn *c);

ua_conn_state ua_conn_get_state(const ua_conn *c);
/* The endpoint URL connected to (NUL-terminated, owned by the conn), or "". */
const char *ua_conn_url(const ua_conn *c);
/* Counters for tests and figures. */
uint32_t ua_conn_token_renewals(const ua_conn *c);

#endif
