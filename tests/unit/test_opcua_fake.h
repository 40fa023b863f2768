/*
 * test_opcua_fake.h - a scripted OPC UA server inside the client's process, for the unit tests
 * and the fuzz_opcua_client harness (header only: each user is one translation unit).
 *
 * It sits on the other end of a socketpair handed to the client's connection
 * (ua_conn_use_socket) and runs on the client's own loop, so the *_sync calls of the client
 * work unchanged: HEL, OPN, CreateSession and ActivateSession are answered from a script
 * (security None, anonymous); every other request goes to the user's on_request with its
 * request id and encoding id, and on_turn runs on every loop turn (the socket is always
 * writable) for users that answer later.
 */
#ifndef TEST_OPCUA_FAKE_H
#define TEST_OPCUA_FAKE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../lib/opcua/ua_client_internal.h"
#include "../../lib/opcua/ua_conn.h"
#include "opcua/ua_client.h"
#include "opcua/ua_types.h"
#include "opcua/ua_uacp.h"

#define CHANNEL_ID 7u
#define TOKEN_ID 1u

typedef struct ua_fake ua_fake;
struct ua_fake {
    ua_loop *loop;
    ua_loop_io io;
    int fd;
    uint8_t rx[1 << 16];
    size_t rx_len;
    uint32_t seq;
    /* A request other than CreateSession/ActivateSession: body is the encoding NodeId and
     * the structure, valid during the call. */
    void (*on_request)(ua_fake *f, uint32_t request_id, uint32_t type, const uint8_t *body,
                       size_t len);
    void (*on_turn)(ua_fake *f);
    void *ctx;
    /* The RevisedSessionTimeout CreateSession answers with when set (a test of what the client
     * makes of a hostile one); else 60000. */
    bool set_session_timeout;
    double session_timeout;
};

static inline void fake_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t fake_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void ua_fake_close(ua_fake *s)
{
    if (s->fd < 0)
        return;
    ua_loop_io_remove(s->loop, &s->io);
    close(s->fd);
    s->fd = -1;
}

/* Write all of it; the socketpair is large enough for what one input holds. */
static void ua_fake_write(ua_fake *s, const uint8_t *p, size_t n)
{
    while (n > 0 && s->fd >= 0) {
        ssize_t k = send(s->fd, p, n, MSG_NOSIGNAL);
        if (k <= 0) {
            ua_fake_close(s);
            return;
        }
        p += k;
        n -= (size_t)k;
    }
}

/* One MSG chunk of type chunk_type around body for request_id. */
static void ua_fake_send_chunk(ua_fake *s, uint8_t chunk_type, uint32_t request_id,
                               const uint8_t *body, size_t len)
{
    uint8_t *m = malloc(24 + len);
    if (!m)
        abort();
    ua_uacp_header_encode(m, UA_MSG_MSG, chunk_type, (uint32_t)(24 + len));
    fake_put32(m + 8, CHANNEL_ID);
    fake_put32(m + 12, TOKEN_ID);
    ua_uacp_sequence_header_encode(m + 16, ++s->seq, request_id);
    if (len)
        memcpy(m + 24, body, len);
    ua_fake_write(s, m, 24 + len);
    free(m);
}

/* Encode a response and send it for request_id. */
static void ua_fake_send_response(ua_fake *s, uint32_t request_id, const void *resp,
                                  const ua_type *t)
{
    static uint8_t buf[1 << 16];
    uint8_t *pos = buf;
    if (ua_encode_message(resp, t, &pos, buf + sizeof(buf)) != UA_STATUS_GOOD)
        abort();
    ua_fake_send_chunk(s, UA_CHUNK_FINAL, request_id, buf, (size_t)(pos - buf));
}

static void answer_ack(ua_fake *s)
{
    ua_uacp_ack ack = {0, 65536, 65536, 0, 0};
    uint8_t buf[64];
    size_t n;
    if (ua_uacp_ack_encode(&ack, buf, sizeof(buf), &n) != UA_STATUS_GOOD)
        abort();
    ua_fake_write(s, buf, n);
}

static void answer_opn(ua_fake *s, uint32_t request_id)
{
    const char *uri = "http://opcfoundation.org/UA/SecurityPolicy#None";
    ua_wbuf w;
    ua_wbuf_init(&w, 4096);
    ua_wbuf_bytes(&w, "OPNF", 4);
    ua_wbuf_u32(&w, 0);
    ua_wbuf_u32(&w, CHANNEL_ID);
    ua_wbuf_string(&w, uri, strlen(uri));
    ua_wbuf_string(&w, NULL, 0);
    ua_wbuf_string(&w, NULL, 0);
    ua_wbuf_u32(&w, ++s->seq);
    ua_wbuf_u32(&w, request_id);
    ua_open_secure_channel_response r;
    ua_open_secure_channel_response_init(&r);
    r.security_token.channel_id = CHANNEL_ID;
    r.security_token.token_id = TOKEN_ID;
    r.security_token.revised_lifetime = 600000;
    uint8_t body[256];
    uint8_t *pos = body;
    if (ua_encode_message(&r, UA_TYPE(OPEN_SECURE_CHANNEL_RESPONSE), &pos, body + sizeof(body)))
        abort();
    ua_wbuf_bytes(&w, body, (size_t)(pos - body));
    ua_wbuf_put_u32_at(&w, 4, (uint32_t)w.len);
    if (w.err)
        abort();
    ua_fake_write(s, w.data, w.len);
    ua_wbuf_clear(&w);
}

static void answer_create_session(ua_fake *s, uint32_t request_id)
{
    ua_create_session_response r;
    ua_endpoint_description ep;
    ua_user_token_policy tp;
    ua_create_session_response_init(&r);
    ua_endpoint_description_init(&ep);
    ua_user_token_policy_init(&tp);
    tp.policy_id = ua_string_view("anonymous");
    tp.token_type = UA_USER_TOKEN_TYPE_ANONYMOUS;
    ep.endpoint_url = ua_string_view("opc.tcp://fuzz.invalid:4840/");
    ep.security_mode = UA_MESSAGE_SECURITY_MODE_NONE;
    ep.security_policy_uri = ua_string_view("http://opcfoundation.org/UA/SecurityPolicy#None");
    ep.user_identity_tokens = &tp;
    ep.user_identity_tokens_count = 1;
    r.session_id = ua_node_id_numeric(1, 1001);
    r.authentication_token = ua_node_id_numeric(1, 2002);
    r.revised_session_timeout = s->set_session_timeout ? s->session_timeout : 60000;
    r.server_endpoints = &ep;
    r.server_endpoints_count = 1;
    ua_fake_send_response(s, request_id, &r, UA_TYPE(CREATE_SESSION_RESPONSE));
}

static void answer_activate_session(ua_fake *s, uint32_t request_id)
{
    ua_activate_session_response r;
    ua_activate_session_response_init(&r);
    ua_fake_send_response(s, request_id, &r, UA_TYPE(ACTIVATE_SESSION_RESPONSE));
}

/* The encoding id of a message body in its four-byte or numeric NodeId form (0 otherwise). */
static uint32_t ua_fake_body_type(const uint8_t *b, size_t n)
{
    if (n >= 4 && b[0] == 0x01 && b[1] == 0)
        return (uint32_t)b[2] | (uint32_t)b[3] << 8;
    if (n >= 7 && b[0] == 0x02 && b[1] == 0 && b[2] == 0)
        return fake_get32(b + 3);
    return 0;
}

/* A whole chunk from the client. */
static void on_client_chunk(ua_fake *s, const uint8_t *p, size_t n)
{
    ua_uacp_header h;
    if (ua_uacp_header_decode(p, n, &h) != UA_STATUS_GOOD)
        abort(); /* the client always frames correctly */
    if (h.msg_type == UA_MSG_HEL) {
        answer_ack(s);
    } else if (h.msg_type == UA_MSG_OPN) {
        /* header(8) channel(4) uri(4+n) cert(4) thumbprint(4) seq(4) request id(4) */
        uint32_t uri_len = fake_get32(p + 12);
        answer_opn(s, fake_get32(p + 16 + uri_len + 12));
    } else if (h.msg_type == UA_MSG_MSG && n >= 24 && h.chunk_type == UA_CHUNK_FINAL) {
        uint32_t request_id = fake_get32(p + 20);
        uint32_t type = ua_fake_body_type(p + 24, n - 24);
        if (type == 461) /* CreateSessionRequest */
            answer_create_session(s, request_id);
        else if (type == 467) /* ActivateSessionRequest */
            answer_activate_session(s, request_id);
        else if (s->on_request)
            s->on_request(s, request_id, type, p + 24, n - 24);
    }
}

static void fake_io_cb(void *ctx, uint32_t events)
{
    ua_fake *s = ctx;
    (void)events;
    for (;;) {
        ssize_t k = recv(s->fd, s->rx + s->rx_len, sizeof(s->rx) - s->rx_len, MSG_DONTWAIT);
        if (k <= 0)
            break;
        s->rx_len += (size_t)k;
        size_t off = 0, n;
        while (ua_uacp_frame(s->rx + off, s->rx_len - off, sizeof(s->rx), &n) == UA_STATUS_GOOD &&
               n > 0) {
            on_client_chunk(s, s->rx + off, n);
            if (s->fd < 0)
                return;
            off += n;
        }
        memmove(s->rx, s->rx + off, s->rx_len - off);
        s->rx_len -= off;
    }
    if (s->on_turn && s->fd >= 0)
        s->on_turn(s);
}

/* Put the fake server (zeroed by the caller, callbacks set) on loop and make c's next
 * connect reach it. Returns 0, or -1 when the socketpair cannot be made. */
static int ua_fake_start(ua_fake *s, ua_loop *loop, ua_client *c)
{
    int fds[2];
    s->loop = loop;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0)
        return -1;
    s->fd = fds[1];
    if (ua_loop_io_add(loop, &s->io, s->fd, EPOLLIN | EPOLLOUT, fake_io_cb, s) < 0) {
        close(fds[0]);
        close(fds[1]);
        s->fd = -1;
        return -1;
    }
    ua_conn_use_socket(c->conn, fds[0]);
    return 0;
}

#endif
