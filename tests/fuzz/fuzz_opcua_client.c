/*
 * fuzz_opcua_client.c - libFuzzer harness for the client's response handling: arbitrary bytes
 * as server messages into a ua_client whose session is up.
 *
 * The harness plays the server on the other end of a socketpair handed to the connection
 * (ua_conn_use_socket), on the client's own loop: it answers HEL, OPN, CreateSession and
 * ActivateSession from a script (security None, anonymous), then the client creates a
 * subscription, monitors two data items and an event item, reads two values and runs its
 * publish loop, and every answer it waits for comes from the fuzz input. When the input is
 * used up the server end is closed, so every outstanding call ends at once.
 *
 * Input: records [flags u8][length u16 LE][length bytes]. Without flags the bytes are a service
 * response body (encoding NodeId + structure) sent as one MSG chunk to the outstanding request
 * whose response type it names (else, after a few loop turns, the oldest). Flags: 1 the bytes go to
 * the socket as they are (framing, chunk headers, ERR, OPN); 2 the body is split into an
 * intermediate and a final chunk; 4 it goes to the oldest outstanding request whatever its type.
 * The seed corpus (tests/fuzz/corpus/fuzz_opcua_client/) is made of responses recorded from the
 * test peer (tests/peers/opcua/record.mjs).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fp_log.h"
#include "opcua/ua_client.h"
#include "opcua/ua_types.h"
#include "opcua/ua_uacp.h"
#include "../../lib/opcua/ua_client_internal.h"
#include "../../lib/opcua/ua_conn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OUTSTANDING 64
#define CHANNEL_ID 7u
#define TOKEN_ID 1u

typedef struct server {
    ua_loop *loop;
    ua_loop_io io;
    int fd;
    uint8_t rx[1 << 16];
    size_t rx_len;
    uint32_t seq;
    bool fuzzing; /* the scripted part is over: answers come from the input */
    uint32_t req_ids[MAX_OUTSTANDING];
    uint32_t req_types[MAX_OUTSTANDING];
    size_t n_req;
    const uint8_t *in;
    size_t in_len;
    int stalled; /* loop turns the next record has waited for its request */
} server;

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void server_close(server *s)
{
    if (s->fd < 0)
        return;
    ua_loop_io_remove(s->loop, &s->io);
    close(s->fd);
    s->fd = -1;
}

/* Write all of it; the socketpair is large enough for what one input holds. */
static void server_write(server *s, const uint8_t *p, size_t n)
{
    while (n > 0 && s->fd >= 0) {
        ssize_t k = send(s->fd, p, n, MSG_NOSIGNAL);
        if (k <= 0) {
            server_close(s);
            return;
        }
        p += k;
        n -= (size_t)k;
    }
}

/* One MSG chunk of type chunk_type around body for request_id. */
static void send_chunk(server *s, uint8_t chunk_type, uint32_t request_id, const uint8_t *body,
                       size_t len)
{
    uint8_t *m = malloc(24 + len);
    if (!m)
        abort();
    ua_uacp_header_encode(m, UA_MSG_MSG, chunk_type, (uint32_t)(24 + len));
    put32(m + 8, CHANNEL_ID);
    put32(m + 12, TOKEN_ID);
    ua_uacp_sequence_header_encode(m + 16, ++s->seq, request_id);
    if (len)
        memcpy(m + 24, body, len);
    server_write(s, m, 24 + len);
    free(m);
}

/* Encode a response and send it for request_id. */
static void send_response(server *s, uint32_t request_id, const void *resp, const ua_type *t)
{
    uint8_t buf[4096];
    uint8_t *pos = buf;
    if (ua_encode_message(resp, t, &pos, buf + sizeof(buf)) != UA_STATUS_GOOD)
        abort();
    send_chunk(s, UA_CHUNK_FINAL, request_id, buf, (size_t)(pos - buf));
}

static void answer_ack(server *s)
{
    ua_uacp_ack ack = {0, 65536, 65536, 0, 0};
    uint8_t buf[64];
    size_t n;
    if (ua_uacp_ack_encode(&ack, buf, sizeof(buf), &n) != UA_STATUS_GOOD)
        abort();
    server_write(s, buf, n);
}

static void answer_opn(server *s, uint32_t request_id)
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
    server_write(s, w.data, w.len);
    ua_wbuf_clear(&w);
}

static void answer_create_session(server *s, uint32_t request_id)
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
    r.revised_session_timeout = 60000;
    r.server_endpoints = &ep;
    r.server_endpoints_count = 1;
    send_response(s, request_id, &r, UA_TYPE(CREATE_SESSION_RESPONSE));
}

static void answer_activate_session(server *s, uint32_t request_id)
{
    ua_activate_session_response r;
    ua_activate_session_response_init(&r);
    send_response(s, request_id, &r, UA_TYPE(ACTIVATE_SESSION_RESPONSE));
}

/* The encoding id of a message body in its four-byte or numeric NodeId form (0 otherwise). */
static uint32_t body_type(const uint8_t *b, size_t n)
{
    if (n >= 4 && b[0] == 0x01 && b[1] == 0)
        return (uint32_t)b[2] | (uint32_t)b[3] << 8;
    if (n >= 7 && b[0] == 0x02 && b[1] == 0 && b[2] == 0)
        return get32(b + 3);
    return 0;
}

/* A whole chunk from the client. */
static void on_client_chunk(server *s, const uint8_t *p, size_t n)
{
    ua_uacp_header h;
    if (ua_uacp_header_decode(p, n, &h) != UA_STATUS_GOOD)
        abort(); /* the client always frames correctly */
    if (h.msg_type == UA_MSG_HEL) {
        answer_ack(s);
    } else if (h.msg_type == UA_MSG_OPN) {
        /* header(8) channel(4) uri(4+n) cert(4) thumbprint(4) seq(4) request id(4) */
        uint32_t uri_len = get32(p + 12);
        answer_opn(s, get32(p + 16 + uri_len + 12));
    } else if (h.msg_type == UA_MSG_MSG && n >= 24 && h.chunk_type == UA_CHUNK_FINAL) {
        uint32_t request_id = get32(p + 20);
        uint32_t type = body_type(p + 24, n - 24);
        if (type == 461) /* CreateSessionRequest */
            answer_create_session(s, request_id);
        else if (type == 467) /* ActivateSessionRequest */
            answer_activate_session(s, request_id);
        else if (s->n_req < MAX_OUTSTANDING) {
            s->req_ids[s->n_req] = request_id;
            s->req_types[s->n_req] = type;
            s->n_req++;
        }
    }
}

/* Send the next input record to an outstanding request; close when the input is used up. */
static void feed(server *s)
{
    if (s->in_len < 3) {
        server_close(s);
        return;
    }
    uint8_t flags = s->in[0];
    size_t len = (size_t)s->in[1] | (size_t)s->in[2] << 8;
    if (len > s->in_len - 3)
        len = s->in_len - 3;
    const uint8_t *body = s->in + 3;
    if (flags & 1) {
        s->in += 3 + len;
        s->in_len -= 3 + len;
        server_write(s, body, len);
        return;
    }
    if (s->n_req == 0) {
        /* Nothing to answer: the client has given up asking, the rest cannot go anywhere. */
        if (++s->stalled >= 20)
            server_close(s);
        return;
    }
    /* A response waits a few loop turns for the request of its type (the client may not have
     * sent it yet), then goes to the oldest one. */
    size_t k = 0;
    uint32_t type = body_type(body, len);
    bool found = false;
    for (size_t i = 0; i < s->n_req && !(flags & 4); i++) {
        if (s->req_types[i] + 3 == type) {
            k = i;
            found = true;
            break;
        }
    }
    if (!found && !(flags & 4) && type != 397 && ++s->stalled < 20)
        return;
    s->stalled = 0;
    s->in += 3 + len;
    s->in_len -= 3 + len;
    uint32_t request_id = s->req_ids[k];
    memmove(s->req_ids + k, s->req_ids + k + 1, (s->n_req - k - 1) * sizeof(uint32_t));
    memmove(s->req_types + k, s->req_types + k + 1, (s->n_req - k - 1) * sizeof(uint32_t));
    s->n_req--;
    if ((flags & 2) && len > 1) {
        send_chunk(s, UA_CHUNK_INTERMEDIATE, request_id, body, len / 2);
        send_chunk(s, UA_CHUNK_FINAL, request_id, body + len / 2, len - len / 2);
    } else {
        send_chunk(s, UA_CHUNK_FINAL, request_id, body, len);
    }
}

/* Called on every loop turn (the socket is always writable): read what the client sent,
 * answer the script, and in the fuzzing phase send one record. */
static void server_io_cb(void *ctx, uint32_t events)
{
    server *s = ctx;
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
    if (s->fuzzing && s->fd >= 0)
        feed(s);
}

static void on_data_change(ua_subscription *sub, uint32_t handle, void *item_ctx,
                           const ua_data_value *value, void *ctx)
{
    char buf[256];
    (void)sub, (void)handle, (void)item_ctx, (void)ctx;
    ua_print(value, UA_TYPE(DATA_VALUE), buf, sizeof(buf));
}

static void on_event(ua_subscription *sub, uint32_t handle, void *item_ctx,
                     const ua_variant *fields, size_t n_fields, void *ctx)
{
    char buf[256];
    (void)sub, (void)handle, (void)item_ctx, (void)ctx;
    for (size_t i = 0; i < n_fields; i++)
        ua_print(&fields[i], UA_TYPE(VARIANT), buf, sizeof(buf));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static server s; /* 64 KiB of receive buffer: not on the stack */
    int fds[2];
    fp_log_set_level(FP_LOG_ERROR);
    memset(&s, 0, sizeof(s));
    s.in = data;
    s.in_len = size;
    s.loop = ua_loop_new();
    if (!s.loop || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0)
        abort();
    s.fd = fds[1];
    if (ua_loop_io_add(s.loop, &s.io, s.fd, EPOLLIN | EPOLLOUT, server_io_cb, &s) < 0)
        abort();

    ua_client_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.request_timeout_ms = 2000;
    ua_client *c = ua_client_new(s.loop, &cfg);
    if (!c)
        abort();
    ua_conn_use_socket(c->conn, fds[0]);
    if (ua_client_connect_sync(c, "opc.tcp://fuzz.invalid:4840/") != UA_STATUS_GOOD)
        abort(); /* the scripted part never fails */
    s.fuzzing = true;

    ua_subscription *sub = NULL;
    ua_subscription_params sp = {100, 10, 0, 0, on_data_change, on_event, NULL};
    if (ua_subscription_create_sync(c, &sp, &sub) == UA_STATUS_GOOD) {
        static const char *const fields[] = {"EventType", "Message", "Severity"};
        ua_monitor_item items[3];
        uint32_t handles[3];
        ua_status results[3];
        memset(items, 0, sizeof(items));
        items[0].node_id = ua_node_id_numeric(1, 1001);
        items[1].node_id = ua_node_id_numeric(1, 1002);
        items[2].node_id = ua_node_id_numeric(0, 2253);
        items[2].attribute_id = 12;
        items[2].event_fields = fields;
        items[2].n_event_fields = 3;
        ua_status st = ua_subscription_monitor_sync(sub, items, 3, handles, results);
        if (getenv("FUZZ_OPCUA_VERBOSE"))
            fprintf(stderr, "monitor: %s\n", ua_status_name(st));
    }
    if (ua_client_get_state(c) == UA_CLIENT_CONNECTED) {
        ua_read_value_id nodes[2];
        ua_data_value values[2];
        memset(nodes, 0, sizeof(nodes));
        nodes[0].node_id = ua_node_id_numeric(1, 1001);
        nodes[0].attribute_id = 13;
        nodes[1].node_id = ua_node_id_numeric(0, 2258);
        nodes[1].attribute_id = 13;
        (void)ua_client_read_sync(c, nodes, 2, values);
        ua_data_value_clear(&values[0]);
        ua_data_value_clear(&values[1]);
    }
    /* The rest of the input goes to the publish loop; then the server end closes. */
    for (int i = 0; i < 100000 && s.fd >= 0; i++)
        ua_loop_run_once(s.loop, 0);
    if (sub && getenv("FUZZ_OPCUA_VERBOSE")) {
        ua_subscription_stats st;
        ua_subscription_get_stats(sub, &st);
        fprintf(stderr, "publish responses %llu, data changes %llu, events %llu\n",
                (unsigned long long)st.publish_responses, (unsigned long long)st.data_changes,
                (unsigned long long)st.events);
    }
    server_close(&s);
    for (int i = 0; i < 100 && ua_client_get_state(c) == UA_CLIENT_CONNECTED; i++)
        ua_loop_run_once(s.loop, 0);
    ua_client_free(c);
    ua_loop_free(s.loop);
    return 0;
}
