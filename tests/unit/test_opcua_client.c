/*
 * test_opcua_client.c - unit tests of the client transport of libfieldplane-opcua: the event
 * loop's timers and its descriptor for running it from another loop, the wire helpers over
 * truncated input, and the connection against a hostile fake server on a loopback socket (bad
 * sizes, unknown message types, ERR, truncated and forged OPN responses, wrong channel ids,
 * sequence gaps, random bytes). Each case must end in a clean close with a status that names the
 * problem; under ASan nothing may crash or leak.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../lib/opcua/ua_conn.h"
#include "opcua/ua_status.h"
#include "fp_alloc.h"

/* ------------------------------------------------------------------------ loop timers */

typedef struct tick {
    int order[8];
    int n;
} tick;

typedef struct tick_timer {
    ua_loop_timer t;
    tick *log;
    int id;
} tick_timer;

static void tick_cb(void *ctx)
{
    tick_timer *tt = ctx;
    tt->log->order[tt->log->n++] = tt->id;
}

static void test_loop_timers(void **state)
{
    (void)state;
    ua_loop *loop = ua_loop_new();
    assert_non_null(loop);
    tick log = {{0}, 0};
    tick_timer t[4];
    uint64_t delays[4] = {30, 10, 20, 5};
    for (int i = 0; i < 4; i++) {
        t[i].log = &log;
        t[i].id = i;
        ua_loop_timer_init(&t[i].t, tick_cb, &t[i]);
        assert_int_equal(ua_loop_timer_start(loop, &t[i].t, delays[i]), 0);
    }
    ua_loop_timer_stop(loop, &t[3].t); /* stopped: never fires */
    assert_false(ua_loop_timer_active(&t[3].t));
    ua_loop_timer_start(loop, &t[2].t, 1); /* re-armed earlier */
    uint64_t end = ua_loop_now_ms() + 1000;
    while (log.n < 3 && ua_loop_now_ms() < end)
        ua_loop_run_once(loop, 50);
    assert_int_equal(log.n, 3);
    assert_int_equal(log.order[0], 2);
    assert_int_equal(log.order[1], 1);
    assert_int_equal(log.order[2], 0);
    ua_loop_free(loop);
}

/* Is fd readable within wait_ms? */
static bool fd_readable(int fd, int wait_ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    return poll(&pfd, 1, wait_ms) == 1 && (pfd.revents & POLLIN);
}

typedef struct chain_timer {
    ua_loop_timer t;
    ua_loop *loop;
    int fired;
} chain_timer;

/* Fires twice: the first firing starts the timer again from inside run_timers. */
static void chain_cb(void *ctx)
{
    chain_timer *c = ctx;
    if (++c->fired == 1)
        ua_loop_timer_start(c->loop, &c->t, 20);
}

static void pipe_cb(void *ctx, uint32_t events)
{
    int *fds = ctx;
    char b[8];
    (void)events;
    assert_true(read(fds[0], b, sizeof b) > 0);
    fds[2]++;
}

/* The loop run from another event loop: its descriptor is readable exactly while a socket
 * is ready or a timer is due. */
static void test_loop_fd(void **state)
{
    (void)state;
    ua_loop *loop = ua_loop_new();
    assert_non_null(loop);
    chain_timer c = {.loop = loop};
    ua_loop_timer other;
    ua_loop_timer_init(&c.t, chain_cb, &c);
    ua_loop_timer_init(&other, chain_cb, &c);

    /* A timer started before the descriptor was asked for is armed when it is. */
    assert_int_equal(ua_loop_timer_start(loop, &c.t, 30), 0);
    int fd = ua_loop_fd(loop);
    assert_true(fd >= 0);
    assert_int_equal(ua_loop_fd(loop), fd);
    assert_false(fd_readable(fd, 0));
    uint64_t t0 = ua_loop_now_ms();
    assert_true(fd_readable(fd, 2000));
    assert_true(ua_loop_now_ms() - t0 >= 25);
    assert_true(ua_loop_run_once(loop, 0) >= 1);
    assert_int_equal(c.fired, 1);
    /* Re-armed from its own callback: quiet now, readable again when due. */
    assert_false(fd_readable(fd, 0));
    assert_true(fd_readable(fd, 2000));
    ua_loop_run_once(loop, 0);
    assert_int_equal(c.fired, 2);
    assert_false(ua_loop_timer_active(&c.t));
    assert_false(fd_readable(fd, 0));

    /* A stopped timer leaves the descriptor quiet; an earlier one moves the deadline. */
    assert_int_equal(ua_loop_timer_start(loop, &other, 40), 0);
    ua_loop_timer_stop(loop, &other);
    assert_false(fd_readable(fd, 80));
    assert_int_equal(ua_loop_timer_start(loop, &other, 5000), 0);
    assert_int_equal(ua_loop_timer_start(loop, &c.t, 10), 0);
    t0 = ua_loop_now_ms();
    assert_true(fd_readable(fd, 2000));
    assert_true(ua_loop_now_ms() - t0 < 1000);
    ua_loop_run_once(loop, 0);
    assert_int_equal(c.fired, 3);
    assert_false(fd_readable(fd, 0));
    ua_loop_timer_stop(loop, &c.t);
    ua_loop_timer_stop(loop, &other);

    /* A socket makes it readable by itself. */
    int fds[3] = {-1, -1, 0};
    assert_int_equal(pipe(fds), 0);
    ua_loop_io io;
    assert_int_equal(ua_loop_io_add(loop, &io, fds[0], EPOLLIN, pipe_cb, fds), 0);
    assert_false(fd_readable(fd, 0));
    assert_int_equal(write(fds[1], "x", 1), 1);
    assert_true(fd_readable(fd, 1000));
    assert_int_equal(ua_loop_run_once(loop, 0), 1);
    assert_int_equal(fds[2], 1);
    assert_false(fd_readable(fd, 0));
    ua_loop_io_remove(loop, &io);
    close(fds[0]);
    close(fds[1]);
    ua_loop_free(loop);
}

/* ------------------------------------------------------------------------ wire helpers */

static void test_rbuf_truncated(void **state)
{
    (void)state;
    const uint8_t bytes[] = {0x02, 0x01, 0x00, 0x10}; /* NodeId 4-byte form, cut short */
    ua_rbuf r = {bytes, bytes + sizeof(bytes), false};
    uint16_t ns;
    uint32_t id;
    ua_rbuf_nodeid(&r, &ns, &id);
    assert_true(r.err);
    assert_int_equal(ua_rbuf_u32(&r), 0); /* sticky */

    /* A string whose length runs past the end. */
    const uint8_t s[] = {0x10, 0x00, 0x00, 0x00, 'a', 'b'};
    ua_rbuf r2 = {s, s + sizeof(s), false};
    size_t len = 99;
    assert_null(ua_rbuf_string(&r2, &len));
    assert_true(r2.err);
    assert_int_equal(len, 0);

    /* DiagnosticInfo nested deeper than allowed. */
    uint8_t deep[64];
    memset(deep, 0x40, sizeof(deep));
    ua_rbuf r3 = {deep, deep + sizeof(deep), false};
    ua_rbuf_skip_diagnostic_info(&r3, 0);
    assert_true(r3.err);
}

static void test_wbuf_limit(void **state)
{
    (void)state;
    ua_wbuf w;
    ua_wbuf_init(&w, 6);
    ua_wbuf_u32(&w, 1);
    assert_int_equal(w.err, 0);
    ua_wbuf_u32(&w, 2);
    assert_int_equal(w.err, UAC_BAD_ENCODING_LIMITS_EXCEEDED);
    ua_wbuf_clear(&w);
    ua_wbuf_init(&w, 64);
    ua_wbuf_nodeid_num(&w, 0, 446);
    assert_int_equal(w.len, 4); /* four-byte form */
    ua_wbuf_clear(&w);
}

/* ------------------------------------------------------------------ hostile fake server */

typedef struct fake {
    ua_loop *loop;
    ua_conn *conn;
    int lfd;
    int sfd;
    bool opened;
    bool closed;
    uint32_t status;
    uint32_t messages;
} fake;

static void on_open(void *ctx)
{
    ((fake *)ctx)->opened = true;
}

static void on_message(void *ctx, uint32_t request_id, const uint8_t *body, size_t len)
{
    ((fake *)ctx)->messages++;
}

static void on_closed(void *ctx, uint32_t status)
{
    fake *f = ctx;
    f->closed = true;
    f->status = status;
}

static void fake_start(fake *f)
{
    memset(f, 0, sizeof(*f));
    f->loop = ua_loop_new();
    assert_non_null(f->loop);
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(f->lfd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(f->lfd, 1), 0);
    socklen_t alen = sizeof(a);
    assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&a, &alen), 0);
    char url[64];
    snprintf(url, sizeof(url), "opc.tcp://127.0.0.1:%u/x", ntohs(a.sin_port));
    ua_conn_handler h = {on_open, on_message, on_closed, f};
    ua_conn_limits lim;
    memset(&lim, 0, sizeof(lim));
    lim.connect_timeout_ms = 3000;
    f->conn = ua_conn_new(f->loop, &h, &lim);
    assert_non_null(f->conn);
    ua_conn_security sec;
    memset(&sec, 0, sizeof(sec));
    sec.policy = ua_policy_by_id(UA_POLICY_NONE);
    sec.mode = UA_SECURITY_MODE_NONE;
    assert_int_equal(ua_conn_connect(f->conn, url, &sec), UAC_GOOD);
    f->sfd = accept(f->lfd, NULL, NULL);
    assert_true(f->sfd >= 0);
}

static void fake_stop(fake *f)
{
    ua_conn_free(f->conn);
    close(f->sfd);
    close(f->lfd);
    ua_loop_free(f->loop);
}

/* Run the client's loop until the server side has n bytes (or the conn closed). */
static size_t fake_read(fake *f, uint8_t *buf, size_t cap, size_t want)
{
    size_t got = 0;
    uint64_t end = ua_loop_now_ms() + 3000;
    while (got < want && !f->closed && ua_loop_now_ms() < end) {
        ua_loop_run_once(f->loop, 10);
        ssize_t n = recv(f->sfd, buf + got, cap - got, MSG_DONTWAIT);
        if (n > 0)
            got += (size_t)n;
    }
    return got;
}

static void fake_send(fake *f, const void *p, size_t n)
{
    assert_int_equal(send(f->sfd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Run until the conn closes; returns its status (0 if it stayed open). */
static uint32_t fake_wait_close(fake *f)
{
    uint64_t end = ua_loop_now_ms() + 3000;
    while (!f->closed && ua_loop_now_ms() < end)
        ua_loop_run_once(f->loop, 10);
    return f->closed ? f->status : 0;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void send_ack(fake *f, uint32_t recv_buf, uint32_t send_buf)
{
    uint8_t ack[28] = {'A', 'C', 'K', 'F'};
    put_u32(ack + 4, sizeof(ack));
    put_u32(ack + 8, 0);
    put_u32(ack + 12, recv_buf);
    put_u32(ack + 16, send_buf);
    put_u32(ack + 20, 0);
    put_u32(ack + 24, 0);
    fake_send(f, ack, sizeof(ack));
}

/* Read the client's HEL; then its OPN after an ACK when ack is true. Returns the OPN's
 * request id (0 when not read). */
static uint32_t fake_handshake(fake *f, bool ack)
{
    uint8_t buf[4096];
    size_t n = fake_read(f, buf, sizeof(buf), 8);
    assert_true(n >= 8);
    assert_memory_equal(buf, "HELF", 4);
    if (!ack)
        return 0;
    send_ack(f, 65536, 65536);
    n = fake_read(f, buf, sizeof(buf), 8);
    assert_true(n >= 8);
    assert_memory_equal(buf, "OPNF", 4);
    /* header(8) channel(4) policy uri(4+n) cert(4) thumb(4) seq(4) request id(4) */
    uint32_t uri_len = buf[12] | buf[13] << 8;
    size_t off = 16 + uri_len + 8 + 4;
    return (uint32_t)buf[off] | (uint32_t)buf[off + 1] << 8 | (uint32_t)buf[off + 2] << 16 |
           (uint32_t)buf[off + 3] << 24;
}

/* A valid OPN response for policy None: channel 7, token 1, sequence seq. */
static void send_opn_response(fake *f, uint32_t request_id, uint32_t seq, uint32_t channel)
{
    const char *uri = "http://opcfoundation.org/UA/SecurityPolicy#None";
    ua_wbuf w;
    ua_wbuf_init(&w, 4096);
    ua_wbuf_bytes(&w, "OPNF", 4);
    ua_wbuf_u32(&w, 0);
    ua_wbuf_u32(&w, channel);
    ua_wbuf_string(&w, uri, strlen(uri));
    ua_wbuf_string(&w, NULL, 0);
    ua_wbuf_string(&w, NULL, 0);
    ua_wbuf_u32(&w, seq);
    ua_wbuf_u32(&w, request_id);
    ua_wbuf_nodeid_num(&w, 0, 449);
    ua_wbuf_i64(&w, 0); /* timestamp */
    ua_wbuf_u32(&w, 1); /* handle */
    ua_wbuf_u32(&w, 0); /* service result */
    ua_wbuf_u8(&w, 0);  /* diagnostics */
    ua_wbuf_u32(&w, 0); /* string table */
    ua_wbuf_nodeid_num(&w, 0, 0);
    ua_wbuf_u8(&w, 0);  /* additional header */
    ua_wbuf_u32(&w, 0); /* protocol version */
    ua_wbuf_u32(&w, channel);
    ua_wbuf_u32(&w, 1); /* token id */
    ua_wbuf_i64(&w, 0);
    ua_wbuf_u32(&w, 600000);
    ua_wbuf_string(&w, NULL, 0);
    ua_wbuf_put_u32_at(&w, 4, (uint32_t)w.len);
    assert_int_equal(w.err, 0);
    fake_send(f, w.data, w.len);
    ua_wbuf_clear(&w);
}

static void send_msg(fake *f, char chunk, uint32_t channel, uint32_t token, uint32_t seq,
                     uint32_t request_id, size_t body_len)
{
    size_t n = 24 + body_len;
    uint8_t *m = calloc(1, n);
    assert_non_null(m);
    memcpy(m, "MSG", 3);
    m[3] = (uint8_t)chunk;
    put_u32(m + 4, (uint32_t)n);
    put_u32(m + 8, channel);
    put_u32(m + 12, token);
    put_u32(m + 16, seq);
    put_u32(m + 20, request_id);
    fake_send(f, m, n);
    free(m);
}

static void test_ack_too_small(void **state)
{
    (void)state;
    fake f;
    fake_start(&f);
    fake_handshake(&f, false);
    send_ack(&f, 1024, 1024);
    assert_int_equal(fake_wait_close(&f), UAC_BAD_CONNECTION_REJECTED);
    fake_stop(&f);
}

static void test_chunk_too_large(void **state)
{
    (void)state;
    fake f;
    fake_start(&f);
    fake_handshake(&f, false);
    uint8_t h[8] = {'A', 'C', 'K', 'F', 0xff, 0xff, 0xff, 0xff};
    fake_send(&f, h, sizeof(h));
    assert_int_equal(fake_wait_close(&f), UAC_BAD_TCP_MESSAGE_TOO_LARGE);
    fake_stop(&f);
}

static void test_unknown_type(void **state)
{
    (void)state;
    fake f;
    fake_start(&f);
    fake_handshake(&f, false);
    uint8_t h[12] = {'X', 'Y', 'Z', 'F', 12, 0, 0, 0, 1, 2, 3, 4};
    fake_send(&f, h, sizeof(h));
    assert_int_equal(fake_wait_close(&f), UAC_BAD_TCP_MESSAGE_TYPE_INVALID);
    fake_stop(&f);
}

static void test_err_message(void **state)
{
    (void)state;
    fake f;
    fake_start(&f);
    fake_handshake(&f, false);
    /* ERR BadTcpServerTooBusy with a reason whose length lies. */
    uint8_t e[20] = {'E', 'R', 'R', 'F', 20, 0, 0, 0};
    put_u32(e + 8, 0x807D0000u);
    put_u32(e + 12, 1000);
    fake_send(&f, e, sizeof(e));
    assert_int_equal(fake_wait_close(&f), UAC_BAD_DECODING_ERROR);
    fake_stop(&f);

    fake_start(&f);
    fake_handshake(&f, false);
    put_u32(e + 12, 4);
    memcpy(e + 16, "busy", 4);
    fake_send(&f, e, sizeof(e));
    assert_int_equal(fake_wait_close(&f), 0x807D0000u);
    fake_stop(&f);
}

static void test_opn_truncated(void **state)
{
    (void)state;
    fake f;
    fake_start(&f);
    fake_handshake(&f, true);
    uint8_t o[16] = {'O', 'P', 'N', 'F', 16, 0, 0, 0, 7, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f};
    fake_send(&f, o, sizeof(o));
    assert_true(ua_status_is_bad(fake_wait_close(&f)));
    assert_false(f.opened);
    fake_stop(&f);
}

static void test_opn_wrong_request_id(void **state)
{
    (void)state;
    fake f;
    fake_start(&f);
    uint32_t rid = fake_handshake(&f, true);
    send_opn_response(&f, rid + 5, 1, 7);
    assert_int_equal(fake_wait_close(&f), UAC_BAD_TCP_MESSAGE_TYPE_INVALID);
    fake_stop(&f);
}

static void test_msg_checks(void **state)
{
    (void)state;
    fake f;
    /* Wrong secure channel id. */
    fake_start(&f);
    send_opn_response(&f, fake_handshake(&f, true), 1, 7);
    fake_read(&f, (uint8_t[16]){0}, 16, 0);
    uint64_t end = ua_loop_now_ms() + 2000;
    while (!f.opened && !f.closed && ua_loop_now_ms() < end)
        ua_loop_run_once(f.loop, 10);
    assert_true(f.opened);
    send_msg(&f, 'F', 8, 1, 2, 1, 4);
    assert_int_equal(fake_wait_close(&f), UAC_BAD_SECURE_CHANNEL_ID_INVALID);
    fake_stop(&f);

    /* A sequence number that skips. */
    fake_start(&f);
    send_opn_response(&f, fake_handshake(&f, true), 1, 7);
    send_msg(&f, 'F', 7, 1, 2, 1, 4);
    send_msg(&f, 'F', 7, 1, 4, 1, 4);
    assert_int_equal(fake_wait_close(&f), UAC_BAD_SEQUENCE_NUMBER_INVALID);
    assert_int_equal(f.messages, 1);
    fake_stop(&f);

    /* An unknown token. */
    fake_start(&f);
    send_opn_response(&f, fake_handshake(&f, true), 1, 7);
    send_msg(&f, 'F', 7, 99, 2, 1, 4);
    assert_int_equal(fake_wait_close(&f), UAC_BAD_SECURE_CHANNEL_TOKEN_UNKNOWN);
    fake_stop(&f);

    /* Intermediate chunks of two requests interleaved. */
    fake_start(&f);
    send_opn_response(&f, fake_handshake(&f, true), 1, 7);
    send_msg(&f, 'C', 7, 1, 2, 1, 100);
    send_msg(&f, 'C', 7, 1, 3, 2, 100);
    assert_int_equal(fake_wait_close(&f), UAC_BAD_DECODING_ERROR);
    fake_stop(&f);
}

static void test_too_many_chunks(void **state)
{
    (void)state;
    fake f;
    fake_start(&f);
    send_opn_response(&f, fake_handshake(&f, true), 1, 7);
    /* The default limit is 1024 chunks per message. */
    for (uint32_t i = 0; i < 1100 && !f.closed; i++) {
        send_msg(&f, 'C', 7, 1, 2 + i, 1, 16);
        if (i % 64 == 0)
            ua_loop_run_once(f.loop, 0);
    }
    assert_int_equal(fake_wait_close(&f), UAC_BAD_TCP_MESSAGE_TOO_LARGE);
    fake_stop(&f);
}

/* Random bytes after a valid ACK and OPN: any Bad status, no crash, no leak. */
static void test_random_bytes(void **state)
{
    (void)state;
    srand(12345);
    for (int round = 0; round < 40; round++) {
        fake f;
        fake_start(&f);
        send_opn_response(&f, fake_handshake(&f, true), 1, 7);
        uint8_t junk[512];
        size_t n = 8 + (size_t)(rand() % (int)(sizeof(junk) - 8));
        for (size_t i = 0; i < n; i++)
            junk[i] = (uint8_t)rand();
        /* Half the rounds keep a plausible header so the body parsers see the junk. */
        if (round % 2) {
            memcpy(junk, "MSGF", 4);
            put_u32(junk + 4, (uint32_t)n);
        }
        fake_send(&f, junk, n);
        close(f.sfd);
        f.sfd = -1;
        uint32_t st = fake_wait_close(&f);
        assert_true(ua_status_is_bad(st));
        ua_conn_free(f.conn);
        close(f.lfd);
        ua_loop_free(f.loop);
    }
}

/* ------------------------------------------------- client response handling, hostile */

typedef struct call_result {
    bool done;
    ua_status status;
    bool had_response;
} call_result;

static void call_cb(ua_client *c, ua_status status, void *response, void *ctx)
{
    call_result *r = ctx;
    r->done = true;
    r->status = status;
    r->had_response = response != NULL;
}

/* A client (channel only) connected to the fake server; returns the request id the client
 * used for a GetEndpoints call it has just sent. */
static ua_client *client_start(fake *f, call_result *res, uint32_t *request_id)
{
    memset(f, 0, sizeof(*f));
    f->loop = ua_loop_new();
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(f->lfd, 1), 0);
    socklen_t alen = sizeof(a);
    getsockname(f->lfd, (struct sockaddr *)&a, &alen);
    char url[64];
    snprintf(url, sizeof(url), "opc.tcp://127.0.0.1:%u/x", ntohs(a.sin_port));
    ua_client_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.no_session = true;
    cfg.request_timeout_ms = 2000;
    ua_client *c = ua_client_new(f->loop, &cfg);
    assert_non_null(c);
    call_result conn_res = {false, 0, false};
    (void)conn_res;
    assert_int_equal(ua_client_connect(c, url, NULL, NULL), UA_STATUS_GOOD);
    f->sfd = accept(f->lfd, NULL, NULL);
    assert_true(f->sfd >= 0);
    uint8_t buf[4096];
    size_t n = 0;
    uint64_t end = ua_loop_now_ms() + 3000;
    while (n < 8 && ua_loop_now_ms() < end) {
        ua_loop_run_once(f->loop, 10);
        ssize_t k = recv(f->sfd, buf + n, sizeof(buf) - n, MSG_DONTWAIT);
        if (k > 0)
            n += (size_t)k;
    }
    assert_memory_equal(buf, "HELF", 4);
    send_ack(f, 65536, 65536);
    n = 0;
    while (n < 8 && ua_loop_now_ms() < end) {
        ua_loop_run_once(f->loop, 10);
        ssize_t k = recv(f->sfd, buf + n, sizeof(buf) - n, MSG_DONTWAIT);
        if (k > 0)
            n += (size_t)k;
    }
    uint32_t uri_len = buf[12] | buf[13] << 8;
    size_t off = 16 + uri_len + 8 + 4;
    uint32_t rid = (uint32_t)buf[off] | (uint32_t)buf[off + 1] << 8 | (uint32_t)buf[off + 2] << 16 |
                   (uint32_t)buf[off + 3] << 24;
    send_opn_response(f, rid, 1, 7);
    while (ua_client_get_state(c) != UA_CLIENT_CONNECTED && ua_loop_now_ms() < end)
        ua_loop_run_once(f->loop, 10);
    assert_int_equal(ua_client_get_state(c), UA_CLIENT_CONNECTED);

    ua_get_endpoints_request req;
    ua_get_endpoints_request_init(&req);
    req.endpoint_url = ua_string_view(url);
    assert_int_equal(ua_client_service(c, &req, UA_TYPE(GET_ENDPOINTS_REQUEST),
                                       UA_TYPE(GET_ENDPOINTS_RESPONSE), call_cb, res),
                     UA_STATUS_GOOD);
    n = 0;
    while (n < 24 && ua_loop_now_ms() < end) {
        ua_loop_run_once(f->loop, 10);
        ssize_t k = recv(f->sfd, buf + n, sizeof(buf) - n, MSG_DONTWAIT);
        if (k > 0)
            n += (size_t)k;
    }
    assert_memory_equal(buf, "MSGF", 4);
    *request_id = (uint32_t)buf[20] | (uint32_t)buf[21] << 8 | (uint32_t)buf[22] << 16 |
                  (uint32_t)buf[23] << 24;
    return c;
}

static void client_stop(fake *f, ua_client *c)
{
    ua_client_free(c);
    if (f->sfd >= 0)
        close(f->sfd);
    close(f->lfd);
    ua_loop_free(f->loop);
}

/* Send a MSG whose body is the given bytes (after the sequence header). */
static void send_msg_body(fake *f, uint32_t seq, uint32_t request_id, const uint8_t *body,
                          size_t len)
{
    size_t n = 24 + len;
    uint8_t *m = calloc(1, n);
    assert_non_null(m);
    memcpy(m, "MSGF", 4);
    put_u32(m + 4, (uint32_t)n);
    put_u32(m + 8, 7);
    put_u32(m + 12, 1);
    put_u32(m + 16, seq);
    put_u32(m + 20, request_id);
    memcpy(m + 24, body, len);
    fake_send(f, m, n);
    free(m);
}

static void wait_call(fake *f, call_result *res)
{
    uint64_t end = ua_loop_now_ms() + 4000;
    while (!res->done && ua_loop_now_ms() < end)
        ua_loop_run_once(f->loop, 10);
}

static void test_client_hostile_responses(void **state)
{
    (void)state;
    /* GetEndpointsResponse (encoding id 431) whose endpoint array claims 2^30 entries. */
    const uint8_t huge_array[] = {0x01, 0x00, 0xaf, 0x01,                /* NodeId i=431 */
                                  0,    0,    0,    0,    0,    0, 0, 0, /* timestamp */
                                  1,    0,    0,    0,    0,    0, 0, 0, /* handle, result */
                                  0x00, 0xff, 0xff, 0xff, 0xff,          /* diag, string table */
                                  0x00, 0x00, 0x00,                      /* additional header */
                                  0x00, 0x00, 0x00, 0x40};               /* 2^30 endpoints */
    /* A response of another type (ReadResponse, 634) for a GetEndpoints call. */
    const uint8_t wrong_type[] = {0x01, 0x00, 0x7a, 0x02, 0, 0, 0, 0};
    /* A ServiceFault (397) with BadTooManyOperations. */
    const uint8_t fault[] = {0x01, 0x00, 0x8d, 0x01, 0,    0,    0,    0,    0,    0,
                             0,    0,    1,    0,    0,    0,    0x00, 0x00, 0x10, 0x80,
                             0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00};
    struct {
        const uint8_t *body;
        size_t len;
        ua_status want;
    } cases[] = {
        {huge_array, sizeof(huge_array), UA_STATUS_BAD_DECODING_ERROR},
        {wrong_type, sizeof(wrong_type), UA_STATUS_BAD_UNKNOWN_RESPONSE},
        {fault, sizeof(fault), UA_STATUS_BAD_TOO_MANY_OPERATIONS},
        {huge_array, 3, UA_STATUS_BAD_DECODING_ERROR}, /* truncated NodeId */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fake f;
        call_result res = {false, 0, false};
        uint32_t rid;
        ua_client *c = client_start(&f, &res, &rid);
        send_msg_body(&f, 2, rid, cases[i].body, cases[i].len);
        wait_call(&f, &res);
        assert_true(res.done);
        if (cases[i].want == UA_STATUS_BAD_DECODING_ERROR)
            assert_true(ua_status_is_bad(res.status));
        else
            assert_int_equal(res.status, cases[i].want);
        assert_false(res.had_response);
        client_stop(&f, c);
    }

    /* A response to a request id never sent is dropped; the real call then times out. */
    fake f;
    call_result res = {false, 0, false};
    uint32_t rid;
    ua_client *c = client_start(&f, &res, &rid);
    send_msg_body(&f, 2, rid + 1000, fault, sizeof(fault));
    wait_call(&f, &res);
    assert_true(res.done);
    assert_int_equal(res.status, UA_STATUS_BAD_TIMEOUT);
    client_stop(&f, c);

    /* Random bodies with the right request id: a Bad status, never a crash. */
    srand(777);
    for (int round = 0; round < 30; round++) {
        uint8_t body[300];
        size_t n = 1 + (size_t)(rand() % (int)sizeof(body));
        for (size_t i = 0; i < n; i++)
            body[i] = (uint8_t)rand();
        if (round % 2 && n >= 4) {
            body[0] = 0x01; /* the right type, random content */
            body[1] = 0x00;
            body[2] = 0xaf;
            body[3] = 0x01;
        }
        res = (call_result){false, 0, false};
        c = client_start(&f, &res, &rid);
        send_msg_body(&f, 2, rid, body, n);
        wait_call(&f, &res);
        assert_true(res.done);
        client_stop(&f, c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loop_timers),    cmocka_unit_test(test_loop_fd),
        cmocka_unit_test(test_rbuf_truncated), cmocka_unit_test(test_wbuf_limit),
        cmocka_unit_test(test_ack_too_small),  cmocka_unit_test(test_chunk_too_large),
        cmocka_unit_test(test_unknown_type),   cmocka_unit_test(test_err_message),
        cmocka_unit_test(test_opn_truncated),  cmocka_unit_test(test_opn_wrong_request_id),
        cmocka_unit_test(test_msg_checks),     cmocka_unit_test(test_too_many_chunks),
        cmocka_unit_test(test_random_bytes),   cmocka_unit_test(test_client_hostile_responses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
