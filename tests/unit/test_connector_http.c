/*
 * test_connector_http.c - the SDK's HTTP/1.1 client (fpc_http) against a scripted server
 * on a loopback port chosen at run time: Content-Length, chunked (extensions, trailers)
 * and until-close bodies, the streaming callback and the stop flag, keep-alive reuse
 * and the one retry when the server closed the kept connection, timeouts, and bad
 * answers (no status line, bad chunk size, oversized header, truncated body, body over
 * the limit) each with an error that says what was wrong. The parser is also fed byte
 * by byte, without sockets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

/* An internal header of the library, not on its public include path. */
#include "../../lib/connector/fpc_http.h"
#include "fp_time.h"

/* ---------------------------------------------------------------------------
 * The scripted server: one thread per connection; every request takes the next step.
 * ------------------------------------------------------------------------- */

enum after { KEEP, CLOSE, DROP, HANG, STREAM };

typedef struct step {
    const char *const *pieces; /* sent in order, piece_ms apart */
    int piece_ms;
    enum after after; /* DROP: close without answering; HANG: never answer */
} step;

#define MAX_STEPS 8
#define MAX_REQS 16

static struct {
    int lfd;
    int port;
    char base[64];
    pthread_mutex_t mu;
    step steps[MAX_STEPS];
    int n_steps, next_step;
    int n_conns;
    char *reqs[MAX_REQS];
    int n_reqs;
    int req_conn[MAX_REQS]; /* which connection carried each request */
} g;

static void reset(void)
{
    pthread_mutex_lock(&g.mu);
    for (int i = 0; i < g.n_reqs; i++)
        free(g.reqs[i]);
    g.n_reqs = 0;
    g.n_steps = g.next_step = 0;
    g.n_conns = 0;
    pthread_mutex_unlock(&g.mu);
}

static void add_step(const char *const *pieces, int piece_ms, enum after after)
{
    pthread_mutex_lock(&g.mu);
    assert_true(g.n_steps < MAX_STEPS);
    g.steps[g.n_steps++] = (step){pieces, piece_ms, after};
    pthread_mutex_unlock(&g.mu);
}

/* Read one request (header and Content-Length body); NULL when the client closed. */
static char *read_request(int fd)
{
    size_t cap = 1 << 16, len = 0;
    char *b = malloc(cap + 1);
    char *end;

    for (;;) {
        ssize_t n = recv(fd, b + len, cap - len, 0);
        if (n <= 0) {
            free(b);
            return NULL;
        }
        len += (size_t)n;
        b[len] = '\0';
        if ((end = strstr(b, "\r\n\r\n")))
            break;
        if (len == cap) {
            free(b);
            return NULL;
        }
    }
    const char *cl = strcasestr(b, "\r\nContent-Length:");
    size_t want = (size_t)(end + 4 - b) + (cl ? strtoul(cl + 17, NULL, 10) : 0);
    while (len < want && len < cap) {
        ssize_t n = recv(fd, b + len, cap - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    b[len] = '\0';
    return b;
}

static void *serve_conn(void *arg)
{
    int fd = (int)(intptr_t)arg, conn_no;
    char *req;

    pthread_mutex_lock(&g.mu);
    conn_no = ++g.n_conns;
    pthread_mutex_unlock(&g.mu);
    while ((req = read_request(fd)) != NULL) {
        step s = {NULL, 0, CLOSE};
        pthread_mutex_lock(&g.mu);
        if (g.n_reqs < MAX_REQS) {
            g.req_conn[g.n_reqs] = conn_no;
            g.reqs[g.n_reqs++] = req;
        } else {
            free(req);
        }
        if (g.next_step < g.n_steps)
            s = g.steps[g.next_step++];
        /* Copies: a test may return (and its pieces go out of scope) while we still send. */
        char *copy[8] = {NULL};
        for (int i = 0; s.pieces && s.pieces[i] && i < 7; i++)
            copy[i] = strdup(s.pieces[i]);
        pthread_mutex_unlock(&g.mu);
        if (s.after == DROP)
            break;
        for (int i = 0; copy[i]; i++) {
            if (i > 0 && s.piece_ms)
                usleep((useconds_t)s.piece_ms * 1000);
            if (send(fd, copy[i], strlen(copy[i]), MSG_NOSIGNAL) < 0)
                break;
        }
        for (int i = 0; copy[i]; i++)
            free(copy[i]);
        if (s.after == HANG) {
            char c;
            while (recv(fd, &c, 1, 0) > 0) {
            }
            break;
        }
        if (s.after == STREAM) {
            /* Keep the stream alive with empty chunks of one '\n' until the client leaves. */
            for (int i = 0; i < 200; i++) {
                usleep(25 * 1000);
                if (send(fd, "1\r\n\n\r\n", 6, MSG_NOSIGNAL) < 0)
                    break;
            }
            break;
        }
        if (s.after == CLOSE)
            break;
    }
    close(fd);
    return NULL;
}

static void *serve(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_t t;
        int fd = accept(g.lfd, NULL, NULL);
        if (fd < 0)
            return NULL;
        pthread_create(&t, NULL, serve_conn, (void *)(intptr_t)fd);
        pthread_detach(t);
    }
}

static int group_setup(void **state)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    pthread_t t;
    (void)state;

    pthread_mutex_init(&g.mu, NULL);
    g.lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (g.lfd < 0 || bind(g.lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(g.lfd, 16) ||
        getsockname(g.lfd, (struct sockaddr *)&a, &al))
        return -1;
    g.port = ntohs(a.sin_port);
    snprintf(g.base, sizeof g.base, "http://127.0.0.1:%d", g.port);
    pthread_create(&t, NULL, serve, NULL);
    pthread_detach(t);
    return 0;
}

static int test_setup(void **state)
{
    (void)state;
    reset();
    return 0;
}

/* ---------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------- */

typedef struct result {
    fp_status st;
    int status;
    fp_buf body;
    bool stopped;
    char err[512];
} result;

static void run(fpc_http *h, fpc_http_req *req, result *r)
{
    memset(r, 0, sizeof *r);
    r->st = fpc_http_do(h, req, &r->status, &r->body, &r->stopped, r->err, sizeof r->err);
}

static void get(fpc_http *h, const char *target, result *r)
{
    fpc_http_req req = {.method = "GET", .target = target, .total_timeout_ms = 5000};
    run(h, &req, r);
}

static fpc_http *client(void)
{
    char err[256] = "";
    fpc_http *h = fpc_http_new(g.base, NULL, err, sizeof err);
    assert_non_null(h);
    return h;
}

#define ONE(s) ((const char *const[]){s, NULL})

/* ---------------------------------------------------------------------------
 * Bodies
 * ------------------------------------------------------------------------- */

static void test_content_length(void **state)
{
    const char *headers[] = {"Authorization: Bearer tok", "Content-Type: application/json",
                             "If-Match: \"7\"", NULL};
    fpc_http_req req = {.method = "PUT",
                        .target = "/api/v1/x?y=1",
                        .headers = headers,
                        .body = "{\"a\":1}",
                        .body_len = 7,
                        .total_timeout_ms = 5000};
    fpc_http *h = client();
    result r;
    (void)state;

    add_step(ONE("HTTP/1.1 201 Created\r\ncontent-LENGTH: 5\r\nX-A: b\r\n\r\nhello"), 0, KEEP);
    run(h, &req, &r);
    assert_int_equal(r.st, FP_OK);
    assert_int_equal(r.status, 201);
    assert_int_equal(r.body.len, 5);
    assert_string_equal(r.body.data, "hello");
    pthread_mutex_lock(&g.mu);
    assert_int_equal(g.n_reqs, 1);
    assert_non_null(strstr(g.reqs[0], "PUT /api/v1/x?y=1 HTTP/1.1\r\n"));
    assert_non_null(strstr(g.reqs[0], "\r\nAuthorization: Bearer tok\r\n"));
    assert_non_null(strstr(g.reqs[0], "\r\nIf-Match: \"7\"\r\n"));
    assert_non_null(strstr(g.reqs[0], "\r\nContent-Length: 7\r\n"));
    assert_non_null(strstr(g.reqs[0], "\r\n\r\n{\"a\":1}"));
    char host[64];
    snprintf(host, sizeof host, "\r\nHost: 127.0.0.1:%d\r\n", g.port);
    assert_non_null(strstr(g.reqs[0], host));
    pthread_mutex_unlock(&g.mu);
    fp_buf_clear(&r.body);
    fpc_http_free(h);
}

static void test_chunked(void **state)
{
    static const char *const pieces[] = {
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5;ext=1;q=\"x\"\r\nhel",
        "lo\r\n1\r\n \r\nA  \r\n0123456789\r\n",
        "0\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n",
        NULL,
    };
    fpc_http *h = client();
    result r;
    (void)state;

    /* Also: prefix path of the base URL is put before the target. */
    add_step(pieces, 20, KEEP);
    get(h, "/c", &r);
    assert_int_equal(r.st, FP_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "hello 0123456789");
    fp_buf_clear(&r.body);
    fpc_http_free(h);
}

static void test_until_close(void **state)
{
    fpc_http *h = client();
    result r;
    (void)state;

    add_step(ONE("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"), 0, CLOSE);
    get(h, "/u", &r);
    assert_int_equal(r.st, FP_OK);
    assert_string_equal(r.body.data, "until the end");
    fp_buf_clear(&r.body);
    fpc_http_free(h);
}

static void test_prefix_and_empty(void **state)
{
    char base[96], err[256];
    fpc_http *h;
    result r;
    (void)state;

    snprintf(base, sizeof base, "%s/reg/", g.base);
    h = fpc_http_new(base, NULL, err, sizeof err);
    assert_non_null(h);
    add_step(ONE("HTTP/1.1 204 No Content\r\n\r\n"), 0, KEEP);
    get(h, "/api", &r);
    assert_int_equal(r.st, FP_OK);
    assert_int_equal(r.status, 204);
    assert_int_equal(r.body.len, 0);
    pthread_mutex_lock(&g.mu);
    assert_non_null(strstr(g.reqs[0], "GET /reg/api HTTP/1.1\r\n"));
    pthread_mutex_unlock(&g.mu);
    fp_buf_clear(&r.body);
    fpc_http_free(h);
}

/* ---------------------------------------------------------------------------
 * Streaming
 * ------------------------------------------------------------------------- */

typedef struct sink {
    char data[256];
    size_t len;
    atomic_int *stop;
    bool refuse;
} sink;

static fp_status on_body(int status, const char *p, size_t n, void *arg)
{
    sink *s = arg;
    assert_int_equal(status, 200);
    if (s->len + n < sizeof s->data) {
        memcpy(s->data + s->len, p, n);
        s->len += n;
    }
    if (memchr(p, 'X', n)) {
        if (s->refuse)
            return FP_ERR_CONFLICT;
        atomic_store(s->stop, 1);
    }
    return FP_OK;
}

static void *stop_later(void *arg)
{
    usleep(300 * 1000);
    atomic_store((atomic_int *)arg, 1);
    return NULL;
}

static void test_stream_stop(void **state)
{
    static const char *const pieces[] = {
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        "4\r\nab\n\n\r\n",
        "2\r\nX\n\r\n",
        NULL,
    };
    atomic_int stop;
    sink s = {.stop = &stop};
    fpc_http_req req = {.method = "GET",
                        .target = "/watch",
                        .idle_timeout_ms = 5000,
                        .on_body = on_body,
                        .arg = &s,
                        .stop = &stop,
                        .fresh_connection = true};
    fpc_http *h = client();
    result r;
    (void)state;

    atomic_init(&stop, 0);
    add_step(pieces, 30, STREAM);
    run(h, &req, &r);
    assert_int_equal(r.st, FP_OK);
    assert_true(r.stopped);
    s.data[s.len] = '\0';
    assert_non_null(strstr(s.data, "ab\n\nX\n"));

    /* A stop from outside while the stream is quiet ends it within the poll period. */
    static const char *const quiet[] = {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{", NULL};
    pthread_t t;
    uint64_t t0;
    atomic_store(&stop, 0);
    add_step(quiet, 0, HANG);
    s.len = 0;
    t0 = fp_mono_ms();
    pthread_create(&t, NULL, stop_later, &stop);
    run(h, &req, &r);
    pthread_join(t, NULL);
    assert_int_equal(r.st, FP_OK);
    assert_true(r.stopped);
    assert_true(fp_mono_ms() - t0 < 300 + 400);
    assert_int_equal(s.len, 1);

    /* The callback refusing ends the request with its status. */
    atomic_store(&stop, 0);
    s.len = 0;
    s.refuse = true;
    add_step(pieces, 10, STREAM);
    run(h, &req, &r);
    assert_int_equal(r.st, FP_ERR_CONFLICT);
    assert_false(r.stopped);
    fpc_http_free(h);
}

/* ---------------------------------------------------------------------------
 * Keep-alive
 * ------------------------------------------------------------------------- */

static void test_keep_alive(void **state)
{
    fpc_http *h = client();
    result r;
    (void)state;

    add_step(ONE("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"), 0, KEEP);
    add_step(ONE("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nb\r\n0\r\n\r\n"), 0,
             KEEP);
    add_step(ONE("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\nc"), 0, KEEP);
    add_step(ONE("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nd"), 0, KEEP);
    const char *want[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; i++) {
        get(h, "/k", &r);
        assert_int_equal(r.st, FP_OK);
        assert_string_equal(r.body.data, want[i]);
        fp_buf_clear(&r.body);
    }
    pthread_mutex_lock(&g.mu);
    assert_int_equal(g.n_reqs, 4);
    /* a, b, c on one connection; c said close, so d needed a new one */
    assert_int_equal(g.req_conn[0], g.req_conn[1]);
    assert_int_equal(g.req_conn[1], g.req_conn[2]);
    assert_int_not_equal(g.req_conn[2], g.req_conn[3]);
    pthread_mutex_unlock(&g.mu);
    fpc_http_free(h);
}

/* The server takes the second request on the kept connection and closes without an
 * answer (as a server does whose idle timer fired at that moment): the client sends it
 * once more on a new connection and the caller sees only the answer. */
static void test_retry_after_close(void **state)
{
    const char *headers[] = {"Content-Type: application/json", NULL};
    fpc_http_req put = {.method = "PUT",
                        .target = "/s",
                        .headers = headers,
                        .body = "{}",
                        .body_len = 2,
                        .total_timeout_ms = 5000};
    fpc_http *h = client();
    result r;
    (void)state;

    add_step(ONE("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), 0, KEEP);
    add_step(NULL, 0, DROP);
    add_step(ONE("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain"), 0, KEEP);
    get(h, "/first", &r);
    assert_int_equal(r.st, FP_OK);
    fp_buf_clear(&r.body);
    run(h, &put, &r);
    assert_int_equal(r.st, FP_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "again");
    fp_buf_clear(&r.body);
    pthread_mutex_lock(&g.mu);
    assert_int_equal(g.n_reqs, 3);
    assert_int_equal(g.req_conn[0], g.req_conn[1]);
    assert_int_not_equal(g.req_conn[1], g.req_conn[2]);
    assert_non_null(strstr(g.reqs[2], "\r\n\r\n{}"));
    pthread_mutex_unlock(&g.mu);

    /* A fresh connection that fails is not retried: one request, one error. */
    add_step(NULL, 0, DROP);
    fpc_http_free(h);
    h = client();
    get(h, "/once", &r);
    assert_int_equal(r.st, FP_ERR_UNAVAILABLE);
    assert_non_null(strstr(r.err, "closed the connection without an answer"));
    fp_buf_clear(&r.body);
    pthread_mutex_lock(&g.mu);
    assert_int_equal(g.n_reqs, 4);
    pthread_mutex_unlock(&g.mu);

    /* The server closed the kept connection while it was idle: seen before use. */
    add_step(ONE("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"), 0, CLOSE);
    add_step(ONE("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\ny"), 0, KEEP);
    get(h, "/a", &r);
    assert_int_equal(r.st, FP_OK);
    fp_buf_clear(&r.body);
    usleep(50 * 1000);
    get(h, "/b", &r);
    assert_int_equal(r.st, FP_OK);
    assert_string_equal(r.body.data, "y");
    fp_buf_clear(&r.body);
    fpc_http_free(h);
}

/* ---------------------------------------------------------------------------
 * Timeouts and failures
 * ------------------------------------------------------------------------- */

static void test_timeouts(void **state)
{
    fpc_http_req req = {.method = "GET", .target = "/t", .total_timeout_ms = 300};
    fpc_http *h = client();
    result r;
    uint64_t t0;
    (void)state;

    add_step(NULL, 0, HANG);
    t0 = fp_mono_ms();
    run(h, &req, &r);
    assert_int_equal(r.st, FP_ERR_UNAVAILABLE);
    assert_non_null(strstr(r.err, "timed out after 300 ms"));
    assert_true(fp_mono_ms() - t0 >= 290 && fp_mono_ms() - t0 < 2000);
    fp_buf_clear(&r.body);

    /* Silence on a stream: the idle timeout. */
    static const char *const slow[] = {"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab", NULL};
    fpc_http_req idle = {.method = "GET", .target = "/i", .idle_timeout_ms = 200};
    add_step(slow, 0, HANG);
    run(h, &idle, &r);
    assert_int_equal(r.st, FP_ERR_UNAVAILABLE);
    assert_non_null(strstr(r.err, "nothing received for 200 ms"));
    fp_buf_clear(&r.body);
    fpc_http_free(h);

    /* Nobody listening. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    char base[64], err[256];
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    snprintf(base, sizeof base, "http://127.0.0.1:%d", ntohs(a.sin_port));
    close(fd); /* bound, never listening, now closed: the port refuses */
    h = fpc_http_new(base, NULL, err, sizeof err);
    assert_non_null(h);
    get(h, "/", &r);
    assert_int_equal(r.st, FP_ERR_UNAVAILABLE);
    assert_non_null(strstr(r.err, "cannot connect to 127.0.0.1:"));
    assert_non_null(strstr(r.err, "refused"));
    fp_buf_clear(&r.body);
    fpc_http_free(h);
}

static void expect_bad(const char *const *pieces, enum after after, fp_status want_st,
                       const char *want_err, size_t max_body)
{
    fpc_http_req req = {
        .method = "GET", .target = "/bad", .total_timeout_ms = 5000, .max_body = max_body};
    fpc_http *h = client();
    result r;

    reset();
    add_step(pieces, 0, after);
    run(h, &req, &r);
    if (r.st != want_st || !strstr(r.err, want_err))
        fail_msg("want %d '%s', got %d '%s'", want_st, want_err, r.st, r.err);
    fp_buf_clear(&r.body);
    fpc_http_free(h);
}

static void test_bad_answers(void **state)
{
    static char big[12000];
    const char *const big_pieces[] = {"HTTP/1.1 200 OK\r\nX-Big: ", big, "\r\n\r\n", NULL};
    (void)state;

    memset(big, 'b', sizeof big - 1);
    expect_bad(ONE("SSH-2.0-OpenSSH\r\n\r\n"), CLOSE, FP_ERR_INVALID,
               "no HTTP/1.x status line in the response (got 'SSH-2.0-OpenSSH')", 0);
    expect_bad(ONE("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), CLOSE,
               FP_ERR_INVALID, "bad chunk size line 'zz'", 0);
    expect_bad(ONE("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5x\r\n"), CLOSE,
               FP_ERR_INVALID, "bad chunk size line '5x'", 0);
    expect_bad(ONE("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1234567890abcdef0\r\n"),
               CLOSE, FP_ERR_TOO_LARGE, "more than 15 hex digits", 0);
    expect_bad(ONE("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n"), CLOSE,
               FP_ERR_INVALID, "chunk data longer than its size", 0);
    expect_bad(big_pieces, CLOSE, FP_ERR_TOO_LARGE, "response header line longer than 8192 bytes",
               0);
    expect_bad(ONE("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"), CLOSE, FP_ERR_UNAVAILABLE,
               "after 3 of 10 body bytes (truncated)", 0);
    expect_bad(ONE("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"), CLOSE,
               FP_ERR_UNAVAILABLE, "inside the chunked body after 2 bytes", 0);
    expect_bad(ONE("HTTP/1.1 200 OK\r\nContent-Le"), CLOSE, FP_ERR_UNAVAILABLE,
               "ended inside the response header", 0);
    expect_bad(ONE("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n"), CLOSE, FP_ERR_INVALID,
               "Content-Length '1x' is not a number", 0);
    expect_bad(ONE("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"), CLOSE,
               FP_ERR_INVALID, "two different Content-Length headers", 0);
    expect_bad(ONE("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n"), CLOSE, FP_ERR_INVALID,
               "header line without a name and ':'", 0);
    expect_bad(ONE("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"), KEEP,
               FP_ERR_TOO_LARGE, "response body over 4 bytes", 4);
}

static void test_header_section_limit(void **state)
{
    /* Many short lines: each under the line limit, together over the section limit. */
    static char many[70000];
    const char *const pieces[] = {"HTTP/1.1 200 OK\r\n", many, "\r\n", NULL};
    size_t off = 0;
    (void)state;

    while (off + 12 < sizeof many - 1) {
        memcpy(many + off, "X-Aaaaa: b\r\n", 12);
        off += 12;
    }
    many[off] = '\0';
    expect_bad(pieces, CLOSE, FP_ERR_TOO_LARGE, "response header section longer than 65536 bytes",
               0);
}

/* ---------------------------------------------------------------------------
 * The parser alone, and URLs
 * ------------------------------------------------------------------------- */

static fp_status to_buf(int status, const char *p, size_t n, void *arg)
{
    (void)status;
    return fp_buf_append(arg, p, n);
}

static void test_parser_bytewise(void **state)
{
    static const char resp[] = "\r\nHTTP/1.1 100 Continue\r\n\r\n"
                               "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "3\r\nabc\r\n10;x\r\n0123456789abcdef\r\n0\r\nT: 1\r\n\r\n"
                               "HTTP/1.1 200 next";
    fpc_http_parser p;
    fp_buf b;
    size_t i, used = 0;
    (void)state;

    fp_buf_init(&b, 1024);
    fpc_http_parser_init(&p, false, to_buf, &b);
    for (i = 0; i < sizeof resp - 1 && !fpc_http_parser_done(&p); i++) {
        assert_int_equal(fpc_http_parser_feed(&p, resp + i, 1, &used), FP_OK);
        assert_int_equal(used, 1);
    }
    assert_true(fpc_http_parser_done(&p));
    assert_int_equal(p.status, 200);
    assert_false(p.close);
    assert_string_equal(b.data, "abc0123456789abcdef");
    assert_string_equal(resp + i, "HTTP/1.1 200 next");
    /* Fed at once: stops where the answer ends. */
    fp_buf_reset(&b);
    fpc_http_parser_init(&p, false, to_buf, &b);
    assert_int_equal(fpc_http_parser_feed(&p, resp, sizeof resp - 1, &used), FP_OK);
    assert_int_equal(used, i);
    fp_buf_clear(&b);

    /* HEAD: no body whatever Content-Length says; HTTP/1.0 closes. */
    fpc_http_parser_init(&p, true, NULL, NULL);
    assert_int_equal(
        fpc_http_parser_feed(&p, "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n", 39, &used), FP_OK);
    assert_true(fpc_http_parser_done(&p));
    assert_true(p.close);
}

static void test_urls(void **state)
{
    char err[256];
    fpc_http *h;
    (void)state;

    assert_null(fpc_http_new("ftp://x", NULL, err, sizeof err));
    assert_non_null(strstr(err, "is not http:// or https://"));
    assert_null(fpc_http_new("http://", NULL, err, sizeof err));
    assert_non_null(strstr(err, "no host name"));
    assert_null(fpc_http_new("http://h:99999", NULL, err, sizeof err));
    assert_non_null(strstr(err, "bad port"));
    assert_null(fpc_http_new("http://u:p@h", NULL, err, sizeof err));
    assert_non_null(strstr(err, "user info"));
    assert_null(fpc_http_new("http://[::1", NULL, err, sizeof err));
    assert_non_null(strstr(err, "']'"));
    h = fpc_http_new("http://[::1]:8080/x", NULL, err, sizeof err);
    assert_non_null(h);
    fpc_http_free(h);
    /* https: nothing of TLS is set up before the first connect. */
    h = fpc_http_new("https://registry.example:8443", "/nonexistent.pem", err, sizeof err);
    assert_non_null(h);
    fpc_http_free(h);
}

/* ---------------------------------------------------------------------------
 * https: a TLS server with a certificate made for the test (openssl req)
 * ------------------------------------------------------------------------- */

static struct {
    char dir[64];
    int lfd, port;
    SSL_CTX *ctx;
} tls;

static void *tls_serve(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept(tls.lfd, NULL, NULL);
        SSL *ssl;
        char buf[4096];
        size_t len = 0;
        if (fd < 0)
            return NULL;
        ssl = SSL_new(tls.ctx);
        SSL_set_fd(ssl, fd);
        if (SSL_accept(ssl) == 1) {
            int n;
            while (len < sizeof buf - 1 &&
                   (n = SSL_read(ssl, buf + len, (int)(sizeof buf - 1 - len))) > 0) {
                len += (size_t)n;
                buf[len] = '\0';
                if (strstr(buf, "\r\n\r\n"))
                    break;
            }
            /* Two requests on one connection: the second proves keep-alive over TLS. */
            const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecure";
            SSL_write(ssl, resp, (int)strlen(resp));
            len = 0;
            while (len < sizeof buf - 1 &&
                   (n = SSL_read(ssl, buf + len, (int)(sizeof buf - 1 - len))) > 0) {
                len += (size_t)n;
                buf[len] = '\0';
                if (strstr(buf, "\r\n\r\n"))
                    break;
            }
            if (len) {
                resp = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nagain";
                SSL_write(ssl, resp, (int)strlen(resp));
            }
        }
        SSL_free(ssl);
        close(fd);
    }
}

/* A self-signed certificate for DNS name localhost (not for the address 127.0.0.1). */
static bool make_cert(const char *name)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-subj /CN=localhost -addext subjectAltName=DNS:localhost -days 1 "
             "-keyout %s/%s.key -out %s/%s.pem >/dev/null 2>&1",
             tls.dir, name, tls.dir, name);
    return system(cmd) == 0;
}

static void test_https(void **state)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    char base[96], path[128], key[128], other[128], err[256];
    pthread_t t;
    fpc_http *h;
    result r;
    (void)state;

    snprintf(tls.dir, sizeof tls.dir, "/tmp/fpc-http-XXXXXX");
    assert_non_null(mkdtemp(tls.dir));
    /* Without the openssl tool there is no certificate: a failure that names it, not a skip. */
    if (!make_cert("server") || !make_cert("other"))
        fail_msg("openssl req could not make a certificate in %s (is the openssl tool installed?)",
                 tls.dir);
    snprintf(path, sizeof path, "%s/server.pem", tls.dir);
    snprintf(key, sizeof key, "%s/server.key", tls.dir);
    snprintf(other, sizeof other, "%s/other.pem", tls.dir);
    tls.ctx = SSL_CTX_new(TLS_server_method());
    assert_int_equal(SSL_CTX_use_certificate_file(tls.ctx, path, SSL_FILETYPE_PEM), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey_file(tls.ctx, key, SSL_FILETYPE_PEM), 1);
    tls.lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(bind(tls.lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(tls.lfd, 8), 0);
    assert_int_equal(getsockname(tls.lfd, (struct sockaddr *)&a, &al), 0);
    tls.port = ntohs(a.sin_port);
    pthread_create(&t, NULL, tls_serve, NULL);
    pthread_detach(t);

    /* The right CA and name: two answers over one TLS connection. */
    snprintf(base, sizeof base, "https://localhost:%d", tls.port);
    h = fpc_http_new(base, path, err, sizeof err);
    assert_non_null(h);
    get(h, "/s", &r);
    if (r.st)
        fail_msg("https: %s", r.err);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "secure");
    fp_buf_clear(&r.body);
    get(h, "/s", &r);
    assert_int_equal(r.st, FP_OK);
    assert_string_equal(r.body.data, "again");
    fp_buf_clear(&r.body);
    fpc_http_free(h);

    /* Another CA: the certificate is refused. */
    h = fpc_http_new(base, other, err, sizeof err);
    get(h, "/s", &r);
    assert_int_equal(r.st, FP_ERR_UNAVAILABLE);
    assert_non_null(strstr(r.err, "certificate"));
    fp_buf_clear(&r.body);
    fpc_http_free(h);

    /* The right CA, but the certificate does not name 127.0.0.1. */
    snprintf(base, sizeof base, "https://127.0.0.1:%d", tls.port);
    h = fpc_http_new(base, path, err, sizeof err);
    get(h, "/s", &r);
    assert_int_equal(r.st, FP_ERR_UNAVAILABLE);
    assert_non_null(strstr(r.err, "server certificate not accepted"));
    fp_buf_clear(&r.body);
    fpc_http_free(h);

    /* A CA file that does not exist: named in the error. */
    snprintf(base, sizeof base, "https://localhost:%d", tls.port);
    h = fpc_http_new(base, "/nonexistent/ca.pem", err, sizeof err);
    get(h, "/s", &r);
    assert_int_equal(r.st, FP_ERR_UNAVAILABLE);
    assert_non_null(strstr(r.err, "/nonexistent/ca.pem"));
    fp_buf_clear(&r.body);
    fpc_http_free(h);

    /* Plain http on a TLS port: not an HTTP answer, or the connection ends. */
    snprintf(base, sizeof base, "http://127.0.0.1:%d", tls.port);
    h = fpc_http_new(base, NULL, err, sizeof err);
    fpc_http_req req = {.method = "GET", .target = "/", .total_timeout_ms = 2000};
    run(h, &req, &r);
    assert_int_not_equal(r.st, FP_OK);
    fp_buf_clear(&r.body);
    fpc_http_free(h);

    snprintf(path, sizeof path, "rm -rf %s", tls.dir);
    assert_int_equal(system(path), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_content_length, test_setup),
        cmocka_unit_test_setup(test_chunked, test_setup),
        cmocka_unit_test_setup(test_until_close, test_setup),
        cmocka_unit_test_setup(test_prefix_and_empty, test_setup),
        cmocka_unit_test_setup(test_stream_stop, test_setup),
        cmocka_unit_test_setup(test_keep_alive, test_setup),
        cmocka_unit_test_setup(test_retry_after_close, test_setup),
        cmocka_unit_test_setup(test_timeouts, test_setup),
        cmocka_unit_test_setup(test_bad_answers, test_setup),
        cmocka_unit_test_setup(test_header_section_limit, test_setup),
        cmocka_unit_test_setup(test_parser_bytewise, test_setup),
        cmocka_unit_test_setup(test_urls, test_setup),
        cmocka_unit_test_setup(test_https, test_setup),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
