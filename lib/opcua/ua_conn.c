/*
 * ua_conn.c - the TCP connection and secure channel of libfieldplane-opcua.
 *
 * The state machine runs entirely from ua_loop callbacks: a non-blocking connect, HEL sent
 * as soon as the socket is writable, the ACK's sizes checked and adopted, OpenSecureChannel
 * (Issue), then MSG chunks. Every byte from the server is untrusted: a chunk header is
 * checked for type, size against what we announced, channel id, token id and sequence
 * number before its body is touched, and reassembly stops at the size and chunk count
 * limits. Any violation closes the connection with a status that says why, never a crash.
 *
 * The token is renewed at 75 % of its revised lifetime (OPC 10000-4 5.5.2); the previous
 * token stays acceptable for received chunks until the server uses the new one.
 *
 * The framing itself (HEL/ACK/ERR, finding chunks in the byte stream, size negotiation,
 * sequence headers and the reassembly of multi-chunk messages) is the codec's ua_uacp.h;
 * this file adds the socket, the security and the channel state around it.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "fp_alloc.h"
#include "fp_log.h"
#include "opcua/ua_uacp.h"
#include "ua_conn.h"

#define ENC_OPN_REQUEST 446u
#define ENC_OPN_RESPONSE 449u
#define ENC_CLO_REQUEST 452u
#define ENC_SERVICE_FAULT 397u

#define SYM_HDR_LEN 24u /* header + channel id + token id + sequence header */
#define MIN_BUFFER UA_UACP_MIN_BUFFER_SIZE

struct ua_conn {
    ua_loop *loop;
    ua_loop_io io;
    ua_loop_timer connect_timer;
    ua_loop_timer renew_timer;
    ua_conn_handler h;
    ua_conn_limits lim;
    ua_conn_state state;
    char url[512];
    ua_conn_security sec;
    uint8_t local_thumbprint[UA_THUMBPRINT_LEN];
    uint8_t client_nonce[64];
    size_t client_nonce_len;
    ua_sym_keys send_keys;      /* ours, for the current token */
    ua_sym_keys recv_keys;      /* the server's, for the current token */
    ua_sym_keys prev_recv_keys; /* the server's, for the previous token during renewal */

    /* Negotiated in HEL/ACK: what the server receives and its message limits. */
    uint32_t send_buffer_size;
    uint32_t remote_max_message;
    uint32_t remote_max_chunks;

    /* Received bytes not yet consumed; outgoing bytes not yet written. */
    uint8_t *rx;
    size_t rx_len;
    size_t rx_cap;
    uint8_t *tx;
    size_t tx_len;
    size_t tx_off;
    size_t tx_cap;

    /* Secure channel. */
    uint32_t channel_id;
    uint32_t token_id;
    uint32_t prev_token_id;
    uint32_t revised_lifetime_ms;
    uint32_t send_seq;
    uint32_t recv_seq;
    bool recv_seq_known;
    uint32_t next_request_id;
    uint32_t opn_request_id;
    bool renewing;
    uint32_t renewals;

    int adopt_fd; /* ua_conn_use_socket: the next connect takes this socket */
    bool adopt;
    ua_uacp_hello hello; /* what we sent, for the negotiation */
    ua_uacp_reasm reasm; /* one multi-chunk response being joined */
};

static void conn_fail(ua_conn *c, uint32_t status);

/* ------------------------------------------------------------------------- life cycle */

ua_conn *ua_conn_new(ua_loop *loop, const ua_conn_handler *h, const ua_conn_limits *limits)
{
    ua_conn *c = fp_calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->loop = loop;
    c->h = *h;
    c->io.fd = -1;
    if (limits)
        c->lim = *limits;
    if (c->lim.recv_buffer_size < MIN_BUFFER)
        c->lim.recv_buffer_size = c->lim.recv_buffer_size ? MIN_BUFFER : 65536;
    if (!c->lim.max_message_size)
        c->lim.max_message_size = 16u * 1024 * 1024;
    if (!c->lim.max_chunk_count)
        c->lim.max_chunk_count = 1024;
    if (!c->lim.token_lifetime_ms)
        c->lim.token_lifetime_ms = 600000;
    if (!c->lim.connect_timeout_ms)
        c->lim.connect_timeout_ms = 10000;
    ua_loop_timer_init(&c->connect_timer, NULL, c);
    ua_loop_timer_init(&c->renew_timer, NULL, c);
    ua_uacp_reasm_init(&c->reasm, c->lim.max_message_size, c->lim.max_chunk_count);
    return c;
}

/* Drop the socket, the timers and the buffers; the conn is closed and reusable. */
static void conn_reset(ua_conn *c)
{
    if (c->io.fd >= 0) {
        int fd = c->io.fd;
        ua_loop_io_remove(c->loop, &c->io);
        close(fd);
    }
    ua_loop_timer_stop(c->loop, &c->connect_timer);
    ua_loop_timer_stop(c->loop, &c->renew_timer);
    fp_free(c->rx);
    fp_free(c->tx);
    c->rx = c->tx = NULL;
    c->rx_len = c->rx_cap = c->tx_len = c->tx_off = c->tx_cap = 0;
    ua_uacp_reasm_clear(&c->reasm);
    c->state = UA_CONN_CLOSED;
    c->channel_id = c->token_id = c->prev_token_id = 0;
    c->recv_seq_known = false;
    c->renewing = false;
}

void ua_conn_free(ua_conn *c)
{
    if (!c)
        return;
    if (c->adopt)
        close(c->adopt_fd);
    conn_reset(c);
    fp_free(c);
}

ua_conn_state ua_conn_get_state(const ua_conn *c)
{
    return c->state;
}

const char *ua_conn_url(const ua_conn *c)
{
    return c->url;
}

uint32_t ua_conn_token_renewals(const ua_conn *c)
{
    return c->renewals;
}

/* Close with a reason and tell the owner (which may free c from inside the callback). */
static void conn_fail(ua_conn *c, uint32_t status)
{
    if (c->state == UA_CONN_CLOSED)
        return;
    fp_log_debug("opcua", "connection to %s closed: 0x%08x", c->url, status);
    conn_reset(c);
    if (c->h.on_closed)
        c->h.on_closed(c->h.ctx, status);
}

/* -------------------------------------------------------------------------- sending */

static void conn_update_events(ua_conn *c)
{
    uint32_t ev = EPOLLIN;
    if (c->tx_len > c->tx_off || c->state == UA_CONN_CONNECTING)
        ev |= EPOLLOUT;
    ua_loop_io_modify(c->loop, &c->io, ev);
}

/* Write as much of the queue as the socket takes. Returns false when the conn failed. */
static bool conn_flush(ua_conn *c)
{
    while (c->tx_off < c->tx_len) {
        ssize_t n = send(c->io.fd, c->tx + c->tx_off, c->tx_len - c->tx_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            conn_fail(c, UAC_BAD_CONNECTION_CLOSED);
            return false;
        }
        c->tx_off += (size_t)n;
    }
    if (c->tx_off == c->tx_len)
        c->tx_off = c->tx_len = 0;
    conn_update_events(c);
    return true;
}

/* Append bytes to the outgoing queue (flushed by the caller). */
static uint32_t conn_queue(ua_conn *c, const uint8_t *p, size_t n)
{
    if (c->tx_off > 0 && c->tx_off == c->tx_len)
        c->tx_off = c->tx_len = 0;
    if (c->tx_len + n > c->tx_cap) {
        size_t cap = c->tx_cap ? c->tx_cap : 4096;
        while (cap < c->tx_len + n)
            cap *= 2;
        uint8_t *t = fp_realloc(c->tx, cap);
        if (!t)
            return UAC_BAD_OUT_OF_MEMORY;
        c->tx = t;
        c->tx_cap = cap;
    }
    memcpy(c->tx + c->tx_len, p, n);
    c->tx_len += n;
    return UAC_GOOD;
}

static uint32_t next_seq(ua_conn *c)
{
    /* Wrap before UInt32 max - 1024 to a value below 1024 (OPC 10000-6 6.7.2.4). */
    if (c->send_seq >= UINT32_MAX - 1024u)
        c->send_seq = 0;
    return ++c->send_seq;
}

static uint32_t next_request_id(ua_conn *c)
{
    if (++c->next_request_id == 0)
        c->next_request_id = 1;
    return c->next_request_id;
}

/* Send body as symmetric chunks of type msg_type (UA_MSG_MSG or UA_MSG_CLO), signed and
 * encrypted as the channel's security says. */
static uint32_t conn_send_sym(ua_conn *c, uint32_t msg_type, const uint8_t *body, size_t len,
                              uint32_t request_id)
{
    size_t max_body = 0;
    const ua_security_policy *pol = c->sec.policy;
    uint32_t st = ua_sym_chunk_max_body(pol, c->sec.mode, c->send_buffer_size, &max_body);
    if (st || max_body == 0)
        return st ? st : UAC_BAD_TCP_INTERNAL_ERROR;
    size_t n_chunks = len == 0 ? 1 : (len + max_body - 1) / max_body;
    if ((c->remote_max_message && len > c->remote_max_message) ||
        (c->remote_max_chunks && n_chunks > c->remote_max_chunks))
        return UAC_BAD_REQUEST_TOO_LARGE;
    uint8_t *chunk = fp_malloc(c->send_buffer_size);
    if (!chunk)
        return UAC_BAD_OUT_OF_MEMORY;
    size_t off = 0;
    for (size_t i = 0; i < n_chunks && !st; i++) {
        size_t n = len - off < max_body ? len - off : max_body;
        ua_uacp_secure_header sh;
        size_t hdr_len = 0;
        memset(&sh, 0, sizeof(sh));
        sh.h.msg_type = msg_type;
        sh.h.chunk_type = i + 1 == n_chunks ? UA_CHUNK_FINAL : UA_CHUNK_INTERMEDIATE;
        sh.h.size = 0; /* set when the chunk is secured */
        sh.secure_channel_id = c->channel_id;
        sh.token_id = c->token_id;
        st = ua_uacp_secure_header_encode(&sh, chunk, UA_SYM_SEC_HDR_END, &hdr_len);
        if (!st && hdr_len != UA_SYM_SEC_HDR_END)
            st = UAC_BAD_TCP_INTERNAL_ERROR;
        ua_uacp_sequence_header_encode(chunk + UA_SYM_SEC_HDR_END, next_seq(c), request_id);
        if (n)
            memcpy(chunk + SYM_HDR_LEN, body + off, n);
        size_t chunk_len = 0;
        if (!st)
            st = ua_sym_chunk_secure(pol, c->sec.mode, &c->send_keys, chunk, c->send_buffer_size,
                                     SYM_HDR_LEN + n, &chunk_len);
        if (!st)
            st = conn_queue(c, chunk, chunk_len);
        off += n;
    }
    fp_free(chunk);
    return st;
}

uint32_t ua_conn_send(ua_conn *c, const uint8_t *body, size_t len, uint32_t *request_id)
{
    if (c->state != UA_CONN_OPEN)
        return UAC_BAD_NOT_CONNECTED;
    uint32_t id = next_request_id(c);
    uint32_t st = conn_send_sym(c, UA_MSG_MSG, body, len, id);
    if (st)
        return st;
    *request_id = id;
    conn_flush(c);
    return UAC_GOOD;
}

/* The RequestHeader of the channel's own requests: no session, no diagnostics. */
static void write_request_header(ua_wbuf *w, uint32_t handle, uint32_t timeout_ms)
{
    ua_wbuf_nodeid_num(w, 0, 0); /* AuthenticationToken */
    ua_wbuf_i64(w, ua_conn_datetime_now());
    ua_wbuf_u32(w, handle);
    ua_wbuf_u32(w, 0);           /* ReturnDiagnostics */
    ua_wbuf_string(w, NULL, 0);  /* AuditEntryId */
    ua_wbuf_u32(w, timeout_ms);  /* TimeoutHint */
    ua_wbuf_nodeid_num(w, 0, 0); /* AdditionalHeader: no body */
    ua_wbuf_u8(w, 0);
}

/* Send OpenSecureChannel: Issue (request_type 0) or Renew (1), with a fresh client nonce. */
static uint32_t conn_send_opn(ua_conn *c, uint32_t request_type)
{
    const ua_security_policy *pol = c->sec.policy;
    bool none = pol->id == UA_POLICY_NONE;
    const ua_key *remote_key = none ? NULL : ua_cert_key(c->sec.remote_cert);
    /* SenderCertificate: our certificate followed by the intermediates its file carried, so
     * that a server that trusts only a root CA can build the path. */
    size_t der_len = 0;
    uint8_t *der = NULL;
    if (!none && ua_cert_chain_der(c->sec.local_cert, &der, &der_len))
        return UAC_BAD_UNEXPECTED_ERROR;
    uint8_t thumb[UA_THUMBPRINT_LEN];
    c->client_nonce_len = none ? 0 : pol->nonce_len;
    if (c->client_nonce_len > sizeof(c->client_nonce)) {
        fp_free(der);
        return UAC_BAD_SECURITY_POLICY_REJECTED;
    }
    if (c->client_nonce_len && ua_random_bytes(c->client_nonce, c->client_nonce_len)) {
        fp_free(der);
        return UAC_BAD_UNEXPECTED_ERROR;
    }
    if (!none)
        ua_cert_thumbprint(c->sec.remote_cert, thumb);

    ua_wbuf w;
    ua_wbuf_init(&w, (size_t)c->send_buffer_size * 2);
    ua_wbuf_bytes(&w, "OPNF", 4);
    ua_wbuf_u32(&w, 0); /* size, set when secured */
    ua_wbuf_u32(&w, c->channel_id);
    ua_wbuf_string(&w, pol->uri, strlen(pol->uri));
    ua_wbuf_string(&w, der, der_len);                           /* SenderCertificate */
    ua_wbuf_string(&w, none ? NULL : thumb, UA_THUMBPRINT_LEN); /* ReceiverThumbprint */
    size_t sec_hdr_end = w.len;
    ua_wbuf_u32(&w, next_seq(c));
    c->opn_request_id = next_request_id(c);
    ua_wbuf_u32(&w, c->opn_request_id);
    ua_wbuf_nodeid_num(&w, 0, ENC_OPN_REQUEST);
    write_request_header(&w, c->opn_request_id, c->lim.connect_timeout_ms);
    ua_wbuf_u32(&w, 0); /* ClientProtocolVersion */
    ua_wbuf_u32(&w, request_type);
    ua_wbuf_u32(&w, (uint32_t)c->sec.mode);
    ua_wbuf_string(&w, c->client_nonce_len ? c->client_nonce : NULL, c->client_nonce_len);
    ua_wbuf_u32(&w, c->lim.token_lifetime_ms);
    size_t body_end = w.len;
    uint32_t st = w.err;
    ua_chunk_layout lay;
    if (!st)
        st = ua_asym_chunk_layout(pol, c->sec.local_key, remote_key, sec_hdr_end, body_end, &lay);
    if (!st && lay.chunk_len > c->send_buffer_size)
        st = UAC_BAD_REQUEST_TOO_LARGE;
    if (!st && lay.chunk_len > body_end && !ua_wbuf_extend(&w, lay.chunk_len - body_end))
        st = w.err;
    size_t chunk_len = 0;
    if (!st)
        st = ua_asym_chunk_secure(pol, c->sec.local_key, remote_key, w.data, w.len, sec_hdr_end,
                                  body_end, &chunk_len);
    if (!st)
        st = conn_queue(c, w.data, chunk_len);
    ua_wbuf_clear(&w);
    fp_free(der);
    if (!st)
        conn_flush(c);
    return st;
}

static void renew_timer_cb(void *ctx)
{
    ua_conn *c = ctx;
    if (c->state != UA_CONN_OPEN || c->renewing)
        return;
    c->renewing = true;
    uint32_t st = conn_send_opn(c, 1);
    if (st)
        conn_fail(c, st);
}

static void connect_timer_cb(void *ctx)
{
    conn_fail(ctx, UAC_BAD_TIMEOUT);
}

/* ------------------------------------------------------------------------- receiving */

/* Check and record the sequence number of a received chunk. */
static bool check_seq(ua_conn *c, uint32_t seq)
{
    if (c->recv_seq_known) {
        uint32_t expect = c->recv_seq + 1;
        /* After the wrap point the server restarts below 1024. */
        bool wrapped = c->recv_seq >= UINT32_MAX - 1024u && seq < 1024u;
        if (seq != expect && !wrapped)
            return false;
    }
    c->recv_seq = seq;
    c->recv_seq_known = true;
    return true;
}

/* An ACK message (the whole chunk, header included). */
static void on_ack(ua_conn *c, const uint8_t *msg, size_t n)
{
    ua_uacp_ack ack;
    ua_uacp_limits lim;
    if (c->state != UA_CONN_HELLO) {
        conn_fail(c, UAC_BAD_TCP_MESSAGE_TYPE_INVALID);
        return;
    }
    uint32_t st = ua_uacp_ack_decode(msg, n, &ack);
    if (!st)
        st = ua_uacp_negotiate(&c->hello, &ack, &lim);
    if (st) {
        conn_fail(c, st);
        return;
    }
    c->send_buffer_size = lim.send_buffer_size > 1u << 24 ? 1u << 24 : lim.send_buffer_size;
    c->remote_max_message = lim.max_send_message;
    c->remote_max_chunks = lim.max_send_chunks;
    c->state = UA_CONN_OPENING;
    st = conn_send_opn(c, 0);
    if (st)
        conn_fail(c, st);
}

/* An ERR message (the whole chunk): the server's status closes the connection. */
static void on_err(ua_conn *c, const uint8_t *msg, size_t n)
{
    ua_uacp_error e;
    uint32_t status = ua_uacp_error_decode(msg, n, &e);
    if (!status) {
        status = (e.error & 0x80000000u) ? e.error : UAC_BAD_TCP_INTERNAL_ERROR;
        size_t len = e.reason.length > 200 ? 200 : e.reason.length;
        fp_log_info("opcua", "server %s sent ERR 0x%08x: %.*s", c->url, status, (int)len,
                    e.reason.data ? (const char *)e.reason.data : "");
        ua_uacp_error_clear(&e);
    }
    conn_fail(c, status);
}

/* An OPN response chunk (the whole chunk, header included; opened in place). */
static void on_opn(ua_conn *c, uint8_t *chunk, size_t chunk_len)
{
    const ua_security_policy *pol = c->sec.policy;
    bool none = pol->id == UA_POLICY_NONE;
    ua_asym_header ah;
    size_t len, body_end = 0;
    uint16_t ns;
    uint32_t type_id;
    if (ua_asym_header_parse(chunk, chunk_len, &ah)) {
        conn_fail(c, UAC_BAD_DECODING_ERROR);
        return;
    }
    uint32_t channel_id = (uint32_t)chunk[8] | ((uint32_t)chunk[9] << 8) |
                          ((uint32_t)chunk[10] << 16) | ((uint32_t)chunk[11] << 24);
    if (!ah.policy_uri || ah.policy_uri_len != strlen(pol->uri) ||
        memcmp(ah.policy_uri, pol->uri, ah.policy_uri_len)) {
        conn_fail(c, UAC_BAD_SECURITY_POLICY_REJECTED);
        return;
    }
    if (!none) {
        /* The sender must be the server we verified, and it must have encrypted for us. */
        size_t der_len;
        const uint8_t *der = ua_cert_der(c->sec.remote_cert, &der_len);
        if (!ah.sender_cert || ah.sender_cert_len < der_len ||
            memcmp(ah.sender_cert, der, der_len) != 0 ||
            ah.receiver_thumbprint_len != UA_THUMBPRINT_LEN ||
            memcmp(ah.receiver_thumbprint, c->local_thumbprint, UA_THUMBPRINT_LEN) != 0) {
            conn_fail(c, UAC_BAD_SECURITY_CHECKS_FAILED);
            return;
        }
    }
    uint32_t st =
        ua_asym_chunk_open(pol, c->sec.local_key, none ? NULL : ua_cert_key(c->sec.remote_cert),
                           chunk, chunk_len, ah.end, &body_end);
    if (st) {
        conn_fail(c, st);
        return;
    }
    uint32_t seq, request_id;
    if (body_end < ah.end ||
        ua_uacp_sequence_header_decode(chunk + ah.end, body_end - ah.end, &seq, &request_id)) {
        conn_fail(c, UAC_BAD_DECODING_ERROR);
        return;
    }
    ua_rbuf r = {chunk + ah.end + UA_UACP_SEQUENCE_HEADER_SIZE, chunk + body_end, false};
    if (!check_seq(c, seq)) {
        conn_fail(c, UAC_BAD_SEQUENCE_NUMBER_INVALID);
        return;
    }
    if (request_id != c->opn_request_id ||
        (c->state != UA_CONN_OPENING && !(c->state == UA_CONN_OPEN && c->renewing))) {
        conn_fail(c, UAC_BAD_TCP_MESSAGE_TYPE_INVALID);
        return;
    }
    ua_rbuf_nodeid(&r, &ns, &type_id);
    /* ResponseHeader */
    ua_rbuf_i64(&r);
    ua_rbuf_u32(&r);
    uint32_t service_result = ua_rbuf_u32(&r);
    ua_rbuf_skip_diagnostic_info(&r, 0);
    ua_rbuf_skip_string_array(&r);
    ua_rbuf_skip_extension_object(&r);
    if (r.err) {
        conn_fail(c, UAC_BAD_DECODING_ERROR);
        return;
    }
    if (ns != 0 || type_id == ENC_SERVICE_FAULT || (service_result & 0x80000000u)) {
        conn_fail(c,
                  (service_result & 0x80000000u) ? service_result : UAC_BAD_SECURITY_CHECKS_FAILED);
        return;
    }
    if (type_id != ENC_OPN_RESPONSE) {
        conn_fail(c, UAC_BAD_DECODING_ERROR);
        return;
    }
    ua_rbuf_u32(&r); /* ServerProtocolVersion */
    uint32_t tok_channel = ua_rbuf_u32(&r);
    uint32_t tok_id = ua_rbuf_u32(&r);
    ua_rbuf_i64(&r); /* CreatedAt */
    uint32_t lifetime = ua_rbuf_u32(&r);
    const uint8_t *server_nonce = ua_rbuf_string(&r, &len);
    if (r.err) {
        conn_fail(c, UAC_BAD_DECODING_ERROR);
        return;
    }
    if (tok_channel != channel_id || channel_id == 0 ||
        (c->state == UA_CONN_OPEN && channel_id != c->channel_id)) {
        conn_fail(c, UAC_BAD_SECURE_CHANNEL_ID_INVALID);
        return;
    }
    if (!none) {
        ua_sym_keys client_keys, server_keys;
        if (!server_nonce || len != pol->nonce_len ||
            ua_channel_keys_derive(pol, c->client_nonce, c->client_nonce_len, server_nonce, len,
                                   &client_keys, &server_keys)) {
            conn_fail(c, UAC_BAD_SECURITY_CHECKS_FAILED);
            return;
        }
        c->send_keys = client_keys;
        c->prev_recv_keys = c->state == UA_CONN_OPEN ? c->recv_keys : server_keys;
        c->recv_keys = server_keys;
    }
    c->channel_id = channel_id;
    c->prev_token_id = c->state == UA_CONN_OPEN ? c->token_id : tok_id;
    c->token_id = tok_id;
    /* A lifetime below one second would renew in a busy loop; the spec leaves it open. */
    c->revised_lifetime_ms = lifetime < 1000 ? 1000 : lifetime;
    ua_loop_timer_init(&c->renew_timer, renew_timer_cb, c);
    ua_loop_timer_start(c->loop, &c->renew_timer, (uint64_t)c->revised_lifetime_ms * 3 / 4);
    if (c->state == UA_CONN_OPEN) {
        c->renewing = false;
        c->renewals++;
        return;
    }
    ua_loop_timer_stop(c->loop, &c->connect_timer);
    c->state = UA_CONN_OPEN;
    if (c->h.on_open)
        c->h.on_open(c->h.ctx);
}

/* A MSG chunk (the whole chunk, opened in place). Calls on_message once the final chunk is
 * in. */
static void on_msg(ua_conn *c, uint8_t chunk_type, uint8_t *chunk, size_t chunk_len)
{
    ua_rbuf r = {chunk + UA_UACP_HEADER_SIZE, chunk + chunk_len, false};
    uint32_t channel_id = ua_rbuf_u32(&r);
    uint32_t token_id = ua_rbuf_u32(&r);
    if (r.err) {
        conn_fail(c, UAC_BAD_DECODING_ERROR);
        return;
    }
    if (c->state != UA_CONN_OPEN || channel_id != c->channel_id) {
        conn_fail(c, UAC_BAD_SECURE_CHANNEL_ID_INVALID);
        return;
    }
    if (token_id != c->token_id && token_id != c->prev_token_id) {
        conn_fail(c, UAC_BAD_SECURE_CHANNEL_TOKEN_UNKNOWN);
        return;
    }
    const ua_sym_keys *keys = token_id == c->token_id ? &c->recv_keys : &c->prev_recv_keys;
    size_t body_end = 0;
    uint32_t st = ua_sym_chunk_open(c->sec.policy, c->sec.mode, keys, chunk, chunk_len, &body_end);
    if (st || body_end < SYM_HDR_LEN) {
        conn_fail(c, st ? st : UAC_BAD_DECODING_ERROR);
        return;
    }
    if (token_id == c->token_id) {
        c->prev_token_id = c->token_id; /* the server switched: the old token is done */
        c->prev_recv_keys = c->recv_keys;
    }
    uint32_t seq, request_id;
    ua_uacp_sequence_header_decode(chunk + UA_SYM_SEC_HDR_END, body_end - UA_SYM_SEC_HDR_END, &seq,
                                   &request_id);
    if (!check_seq(c, seq)) {
        conn_fail(c, UAC_BAD_SEQUENCE_NUMBER_INVALID);
        return;
    }
    const uint8_t *body = chunk + SYM_HDR_LEN;
    size_t len = body_end - SYM_HDR_LEN;
    /* The usual case, a response in one chunk, is handed over in place. */
    if (chunk_type == UA_CHUNK_FINAL && !c->reasm.active) {
        if (c->h.on_message)
            c->h.on_message(c->h.ctx, request_id, body, len);
        return;
    }
    ua_reasm_event ev;
    st = ua_uacp_reasm_add(&c->reasm, chunk_type, request_id, body, len, &ev);
    if (st) {
        conn_fail(c, st);
        return;
    }
    /* Abort: the server gives up on this response; the owner's timeout reports it. */
    if (ev != UA_REASM_COMPLETE)
        return;
    /* Take the message out first: the owner may close (and so reset) the conn. */
    size_t whole_len;
    uint8_t *whole = ua_uacp_reasm_take(&c->reasm, &whole_len);
    if (!whole) {
        conn_fail(c, UAC_BAD_OUT_OF_MEMORY);
        return;
    }
    if (c->h.on_message)
        c->h.on_message(c->h.ctx, request_id, whole, whole_len);
    fp_free(whole);
}

/* Consume whole chunks from rx. Returns false when the conn failed or was closed. */
static bool conn_process_rx(ua_conn *c)
{
    size_t off = 0;
    for (;;) {
        size_t size = 0;
        uint32_t st = ua_uacp_frame(c->rx + off, c->rx_len - off, c->lim.recv_buffer_size, &size);
        if (st) {
            conn_fail(c, st);
            return false;
        }
        if (size == 0)
            break;
        uint8_t *h = c->rx + off;
        ua_uacp_header hdr;
        ua_uacp_header_decode(h, size, &hdr); /* checked by ua_uacp_frame */
        ua_conn_state before = c->state;
        switch (hdr.msg_type) {
        case UA_MSG_ACK:
            on_ack(c, h, size);
            break;
        case UA_MSG_ERR:
            on_err(c, h, size);
            break;
        case UA_MSG_OPN:
            on_opn(c, h, size);
            break;
        case UA_MSG_MSG:
            on_msg(c, hdr.chunk_type, h, size);
            break;
        default: /* HEL, RHE and CLO are never sent to a client */
            conn_fail(c, UAC_BAD_TCP_MESSAGE_TYPE_INVALID);
            return false;
        }
        /* A callback may have closed the conn (rx is gone) or even reconnected it. */
        if (c->state == UA_CONN_CLOSED || c->rx == NULL ||
            (before != UA_CONN_CLOSED && c->state == UA_CONN_CONNECTING))
            return false;
        off += size;
    }
    if (off > 0) {
        memmove(c->rx, c->rx + off, c->rx_len - off);
        c->rx_len -= off;
    }
    return true;
}

static void conn_read(ua_conn *c)
{
    for (;;) {
        if (c->rx_cap - c->rx_len < 4096) {
            size_t cap = c->rx_cap ? c->rx_cap * 2 : 16384;
            /* Never hold more than one maximal chunk plus one read. */
            if (cap > (size_t)c->lim.recv_buffer_size * 2 + 65536)
                cap = (size_t)c->lim.recv_buffer_size * 2 + 65536;
            if (cap > c->rx_cap) {
                uint8_t *p = fp_realloc(c->rx, cap);
                if (!p) {
                    conn_fail(c, UAC_BAD_OUT_OF_MEMORY);
                    return;
                }
                c->rx = p;
                c->rx_cap = cap;
            }
        }
        ssize_t n = recv(c->io.fd, c->rx + c->rx_len, c->rx_cap - c->rx_len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            conn_fail(c, UAC_BAD_CONNECTION_CLOSED);
            return;
        }
        if (n == 0) {
            conn_fail(c, UAC_BAD_CONNECTION_CLOSED);
            return;
        }
        c->rx_len += (size_t)n;
        if (!conn_process_rx(c))
            return;
    }
}

/* ---------------------------------------------------------------------- connecting */

static uint32_t conn_send_hel(ua_conn *c)
{
    uint8_t buf[64 + sizeof(c->url)];
    size_t n = 0;
    memset(&c->hello, 0, sizeof(c->hello));
    c->hello.protocol_version = UA_UACP_PROTOCOL_VERSION;
    c->hello.receive_buffer_size = c->lim.recv_buffer_size;
    c->hello.send_buffer_size = c->lim.recv_buffer_size; /* what we may send */
    c->hello.max_message_size = c->lim.max_message_size;
    c->hello.max_chunk_count = c->lim.max_chunk_count;
    c->hello.endpoint_url = ua_string_view(c->url);
    uint32_t st = ua_uacp_hello_encode(&c->hello, buf, sizeof(buf), &n);
    c->hello.endpoint_url = ua_string_view(""); /* c->url is borrowed only for encoding */
    if (!st)
        st = conn_queue(c, buf, n);
    return st;
}

static void conn_io_cb(void *ctx, uint32_t events)
{
    ua_conn *c = ctx;
    if (c->state == UA_CONN_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(c->io.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0 ||
            (events & (EPOLLERR | EPOLLHUP))) {
            conn_fail(c, UAC_BAD_NOT_CONNECTED);
            return;
        }
        if (!(events & EPOLLOUT))
            return;
        c->state = UA_CONN_HELLO;
        uint32_t st = conn_send_hel(c);
        if (st) {
            conn_fail(c, st);
            return;
        }
        conn_flush(c);
        return;
    }
    if (events & EPOLLOUT) {
        if (!conn_flush(c))
            return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        conn_read(c);
}

/* Split opc.tcp://host:port/path into host and port (IPv6 literals in brackets). */
static bool parse_url(const char *url, char *host, size_t host_len, char *port, size_t port_len)
{
    const char *prefix = "opc.tcp://";
    if (strncmp(url, prefix, strlen(prefix)) != 0)
        return false;
    const char *p = url + strlen(prefix);
    const char *h_start = p, *h_end;
    if (*p == '[') {
        h_start = p + 1;
        h_end = strchr(h_start, ']');
        if (!h_end)
            return false;
        p = h_end + 1;
    } else {
        h_end = p + strcspn(p, ":/");
        p = h_end;
    }
    size_t hl = (size_t)(h_end - h_start);
    if (hl == 0 || hl >= host_len)
        return false;
    memcpy(host, h_start, hl);
    host[hl] = '\0';
    if (*p == ':') {
        p++;
        size_t pl = strspn(p, "0123456789");
        if (pl == 0 || pl >= port_len || (p[pl] != '\0' && p[pl] != '/'))
            return false;
        memcpy(port, p, pl);
        port[pl] = '\0';
    } else if (*p == '\0' || *p == '/') {
        snprintf(port, port_len, "4840");
    } else {
        return false;
    }
    return true;
}

/* Resolve host and port and start a non-blocking connect; *fd gets the socket. */
static uint32_t open_socket(const char *host, const char *port, int *out_fd)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    /* Blocking resolution: instant for the numeric addresses plants mostly use. */
    if (getaddrinfo(host, port, &hints, &res) != 0 || !res)
        return UAC_BAD_NOT_CONNECTED;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(res);
        return UAC_BAD_NOT_CONNECTED;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int rc = connect(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (rc < 0 && errno != EINPROGRESS) {
        close(fd);
        return UAC_BAD_NOT_CONNECTED;
    }
    *out_fd = fd;
    return UAC_GOOD;
}

uint32_t ua_conn_connect(ua_conn *c, const char *url, const ua_conn_security *sec)
{
    char host[256], port[8];
    if (c->state != UA_CONN_CLOSED)
        return UAC_BAD_INVALID_STATE;
    if (strlen(url) >= sizeof(c->url) || !parse_url(url, host, sizeof(host), port, sizeof(port)))
        return UAC_BAD_TCP_ENDPOINT_URL_INVALID;
    if (!sec->policy || (sec->policy->id == UA_POLICY_NONE) != (sec->mode == UA_SECURITY_MODE_NONE))
        return UAC_BAD_SECURITY_POLICY_REJECTED;
    if (sec->policy->id != UA_POLICY_NONE &&
        (!sec->local_cert || !sec->local_key || !sec->remote_cert))
        return UAC_BAD_SECURITY_POLICY_REJECTED;
    snprintf(c->url, sizeof(c->url), "%s", url);
    c->sec = *sec;
    if (sec->local_cert)
        ua_cert_thumbprint(sec->local_cert, c->local_thumbprint);

    int fd = -1;
    if (c->adopt) {
        c->adopt = false;
        fd = c->adopt_fd;
    } else {
        uint32_t st = open_socket(host, port, &fd);
        if (st)
            return st;
    }
    if (ua_loop_io_add(c->loop, &c->io, fd, EPOLLIN | EPOLLOUT, conn_io_cb, c) < 0) {
        close(fd);
        return UAC_BAD_OUT_OF_MEMORY;
    }
    c->state = UA_CONN_CONNECTING;
    c->send_seq = 0;
    c->next_request_id = 0;
    c->renewals = 0;
    ua_loop_timer_init(&c->connect_timer, connect_timer_cb, c);
    ua_loop_timer_start(c->loop, &c->connect_timer, c->lim.connect_timeout_ms);
    return UAC_GOOD;
}

void ua_conn_use_socket(ua_conn *c, int fd)
{
    if (c->adopt)
        close(c->adopt_fd);
    c->adopt_fd = fd;
    c->adopt = true;
}

void ua_conn_close(ua_conn *c)
{
    if (!c)
        return;
    if (c->state == UA_CONN_OPEN) {
        ua_wbuf w;
        ua_wbuf_init(&w, 1024);
        uint32_t id = next_request_id(c);
        ua_wbuf_nodeid_num(&w, 0, ENC_CLO_REQUEST);
        write_request_header(&w, id, 1000);
        if (!w.err && !conn_send_sym(c, UA_MSG_CLO, w.data, w.len, id))
            (void)send(c->io.fd, c->tx + c->tx_off, c->tx_len - c->tx_off,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
        ua_wbuf_clear(&w);
    }
    conn_reset(c);
}
